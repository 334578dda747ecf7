//! `docker-api`: the Docker Engine API answers at `vm.ip:docker.port`: `GET /_ping` is `OK`,
//! `GET /version` is a Linux engine. Anything else that listens there (another HTTP server,
//! a non-HTTP service, a server that accepts and never answers, an endless answer) fails within
//! the deadline, saying what was seen. A healthy engine over plain TCP is a `warn`; a TLS
//! port on a plain spec is named as such.

use super::port::classify;
use super::{Ctx, human};
use crate::finding::{CheckId, Finding, Status};
use dockvm_engine::{Endpoint, EngineError, Facts, HttpError, Response, show_bytes};
use std::net::SocketAddr;
use std::time::Instant;

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let addr = ctx.api_addr();
    let deadline = Instant::now() + ctx.timeout;
    let api = match ctx.endpoint(CheckId::DockerApi) {
        Ok(a) => a,
        Err(f) => return *f,
    };
    let expected = format!("the Docker Engine API of a Linux engine at {}", api.url());
    let fail = |reason: String, actual: String| not_docker(&expected, addr, reason, actual);
    let sent = std::time::SystemTime::now();
    let ping = api.ping(deadline);
    if let Ok(p) = &ping {
        let _ = ctx.pinged.set(super::clock::Pinged {
            sent,
            answered: std::time::SystemTime::now(),
            date: p.header("date").map(str::to_owned),
        });
    }
    let ping = match ping {
        Ok(r) => r,
        Err(HttpError::Connect(e)) => {
            return classify(CheckId::DockerApi, addr, &e, ctx.timeout).expected(expected);
        }
        Err(HttpError::Silent(_)) => {
            return fail(
                format!(
                    "{addr} accepted the connection but sent nothing within {}: not the Docker API, or a hung dockerd",
                    human(ctx.timeout)
                ),
                "no answer".into(),
            );
        }
        Err(
            e @ (HttpError::NotHttp(_) | HttpError::TooLong { .. } | HttpError::Stalled { .. }),
        ) => {
            return fail(
                format!("GET /_ping on {addr}: {e}: not the Docker API"),
                e.to_string(),
            );
        }
        Err(e) => return fail(format!("GET /_ping on {addr}: {e}"), e.to_string()),
    };
    if let Some(other) = other_than_docker(api, &ping, &expected, addr) {
        return other;
    }
    // `/_ping`'s headers say what `/version` would (`Server: Docker/20.10.24 (linux)`,
    // `Api-Version`, `Ostype`) at a tenth of its cost; `/version` only when one is missing.
    let facts = match Facts::from_ping(&ping) {
        Some(v) => v,
        None => match api.version(deadline) {
            Ok(v) => v,
            Err(EngineError::Status { status_line, .. }) => {
                return fail(
                    format!("GET /version on {addr} gave {status_line}"),
                    status_line,
                );
            }
            Err(EngineError::NotJson { error, .. }) => {
                return fail(
                    format!("GET /version on {addr} is {error}"),
                    "not JSON".into(),
                );
            }
            Err(e) => return fail(format!("GET /version on {addr}: {e}"), e.to_string()),
        },
    };
    verdict(api, addr, facts, expected)
}

/// Something answers that is not the Docker API: the failure, with how to find what owns the
/// port.
fn not_docker(expected: &str, addr: SocketAddr, reason: String, actual: String) -> Finding {
    Finding::new(CheckId::DockerApi, Status::Fail, reason)
        .expected(expected.to_owned())
        .actual(actual)
        .hint(format!(
            "something other than dockerd owns {addr}: in the VM, `ss -ltnp | grep :{}` names it; stop it or \
             change docker.port",
            addr.port()
        ))
}

/// `/_ping` answered, but not as dockerd does: a TLS port asked in plain HTTP, or another
/// HTTP server. `None` when it is dockerd's `OK`.
fn other_than_docker(
    api: &Endpoint,
    ping: &Response,
    expected: &str,
    addr: SocketAddr,
) -> Option<Finding> {
    let server = ping
        .header("server")
        .map(|s| format!(", Server: {s}"))
        .unwrap_or_default();
    if ping.status == 400
        && api.tls.is_none()
        && ping.body_text().contains("HTTP request to an HTTPS server")
    {
        return Some(Finding::new(
            CheckId::DockerApi,
            Status::Fail,
            format!("{addr} speaks TLS; set docker.tls = true in the spec (dockerd runs with TLS flags, the spec says plain TCP)"),
        )
        .expected(expected.to_owned())
        .actual(format!("{}: {}", ping.status_line, ping.body_text().trim()))
        .hint("`tls = true` under [docker], `dockvm certs`, `dockvm gen` and `dockvm install --certs DIR`; or remove the --tls flags from dockerd in the VM"));
    }
    if ping.status != 200 || ping.body != b"OK" {
        let body = show_bytes(&ping.body);
        return Some(not_docker(
            expected,
            addr,
            format!(
                "an HTTP server that is not the Docker API answers on {addr}: GET /_ping gave {} {body}{server}",
                ping.status
            ),
            format!("{}{server}", ping.status_line),
        ));
    }
    None
}

/// A Docker engine answers: a Linux one over TLS passes, over plain TCP warns; another OS fails.
fn verdict(api: &Endpoint, addr: SocketAddr, facts: Facts, expected: String) -> Finding {
    let Facts {
        version: engine,
        api_version,
        os,
    } = facts;
    let actual = format!("Docker Engine {engine}, API {api_version}, {os}");
    let facts = |f: Finding| {
        f.fact("engine_version", engine.clone())
            .fact("api_version", api_version.clone())
            .fact("os", os.clone())
    };
    if os != "linux" {
        return facts(
            Finding::new(
                CheckId::DockerApi,
                Status::Fail,
                format!("a {os} Docker engine answers at {addr}; WSL paths need a Linux engine"),
            )
            .expected(expected)
            .actual(actual)
            .hint("switch the VM's engine to Linux containers"),
        );
    }
    if api.tls.is_some() {
        return facts(
            Finding::new(
                CheckId::DockerApi,
                Status::Pass,
                format!("{actual} answers at {}, over mutual TLS", api.url()),
            )
            .expected(expected)
            .actual(actual.clone()),
        );
    }
    facts(Finding::new(
        CheckId::DockerApi,
        Status::Warn,
        format!(
            "{actual} answers at {addr}, over plain TCP without TLS: anyone who can reach {addr} controls \
             dockerd, which is root in the VM"
        ),
    )
    .expected(expected)
    .actual(actual)
    .hint("keep the VM on a host-only or NAT VMware network that only this PC reaches, or set tls = true under [docker] (README, \"Mutual TLS\")"))
}

//! `docker-api`: the Docker Engine API answers at `vm.ip:docker.port`: `GET /_ping` is `OK`,
//! `GET /version` is a Linux engine. Anything else that listens there (another HTTP server,
//! a non-HTTP service, a server that accepts and never answers, an endless answer) fails within
//! the deadline, saying what was seen. A healthy engine over plain TCP is a `warn`; a TLS
//! port on a plain spec is named as such.

use super::port::classify;
use super::{Ctx, human};
use crate::finding::{CheckId, Finding, Status};
use crate::http::{self, HttpError};
use std::time::Instant;

/// The most any answer here may be: `/version` is about 1 KiB.
const LIMIT: usize = 64 * 1024;

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let addr = ctx.api_addr();
    let deadline = Instant::now() + ctx.timeout;
    let api = match ctx.endpoint(CheckId::DockerApi) {
        Ok(a) => a,
        Err(f) => return *f,
    };
    let expected = format!("the Docker Engine API of a Linux engine at {}", api.url());
    let fail = |reason: String, actual: String| {
        Finding::new(CheckId::DockerApi, Status::Fail, reason).expected(expected.clone()).actual(actual).hint(format!(
            "something other than dockerd owns {addr}: in the VM, `ss -ltnp | grep :{}` names it; stop it or \
             change docker.port",
            addr.port()
        ))
    };
    let ping = match http::request(api, "GET", "/_ping", None, deadline, LIMIT) {
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
    let server = ping
        .header("server")
        .map(|s| format!(", Server: {s}"))
        .unwrap_or_default();
    if ping.status == 400
        && api.tls.is_none()
        && ping.body_text().contains("HTTP request to an HTTPS server")
    {
        return Finding::new(
            CheckId::DockerApi,
            Status::Fail,
            format!("{addr} speaks TLS; set docker.tls = true in the spec (dockerd runs with TLS flags, the spec says plain TCP)"),
        )
        .expected(expected)
        .actual(format!("{}: {}", ping.status_line, ping.body_text().trim()))
        .hint("`tls = true` under [docker], `dockvm certs`, `dockvm gen` and `dockvm install --certs DIR`; or remove the --tls flags from dockerd in the VM");
    }
    if ping.status != 200 || ping.body != b"OK" {
        let body = http::show_bytes(&ping.body);
        return fail(
            format!(
                "an HTTP server that is not the Docker API answers on {addr}: GET /_ping gave {} {body}{server}",
                ping.status
            ),
            format!("{}{server}", ping.status_line),
        );
    }
    // `/_ping`'s headers say what `/version` would (`Server: Docker/20.10.24 (linux)`,
    // `Api-Version`, `Ostype`) at a tenth of its cost; `/version` only when one is missing.
    let (engine, api_version, os) = match from_ping(&ping) {
        Some(v) => v,
        None => {
            let version = match http::request(api, "GET", "/version", None, deadline, LIMIT) {
                Ok(r) if r.status == 200 => r,
                Ok(r) => {
                    return fail(
                        format!("GET /version on {addr} gave {}", r.status_line),
                        r.status_line,
                    );
                }
                Err(e) => return fail(format!("GET /version on {addr}: {e}"), e.to_string()),
            };
            let v: serde_json::Value = match serde_json::from_slice(&version.body) {
                Ok(v) => v,
                Err(_) => {
                    return fail(
                        format!(
                            "GET /version on {addr} is not JSON: {}",
                            http::show_bytes(&version.body)
                        ),
                        "not JSON".into(),
                    );
                }
            };
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_owned();
            (field("Version"), field("ApiVersion"), field("Os"))
        }
    };
    let actual = format!("Docker Engine {engine}, API {api_version}, {os}");
    if os != "linux" {
        return Finding::new(
            CheckId::DockerApi,
            Status::Fail,
            format!("a {os} Docker engine answers at {addr}; WSL paths need a Linux engine"),
        )
        .expected(expected)
        .actual(actual)
        .hint("switch the VM's engine to Linux containers");
    }
    if api.tls.is_some() {
        return Finding::new(
            CheckId::DockerApi,
            Status::Pass,
            format!("{actual} answers at {}, over mutual TLS", api.url()),
        )
        .expected(expected)
        .actual(actual);
    }
    Finding::new(
        CheckId::DockerApi,
        Status::Warn,
        format!(
            "{actual} answers at {addr}, over plain TCP without TLS: anyone who can reach {addr} controls \
             dockerd, which is root in the VM"
        ),
    )
    .expected(expected)
    .actual(actual)
    .hint("keep the VM on a host-only or NAT VMware network that only this PC reaches, or set tls = true under [docker] (README, \"Mutual TLS\")")
}

/// Engine version, API version and OS from `/_ping`'s headers, when all three are there.
fn from_ping(ping: &http::Response) -> Option<(String, String, String)> {
    let server = ping.header("server")?;
    let engine = server
        .strip_prefix("Docker/")?
        .split(' ')
        .next()?
        .to_owned();
    let api = ping.header("api-version")?.to_owned();
    let os = ping.header("ostype")?.to_owned();
    (!engine.is_empty() && !api.is_empty() && !os.is_empty()).then_some((engine, api, os))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(headers: &[(&str, &str)]) -> http::Response {
        http::Response {
            status: 200,
            status_line: "HTTP/1.1 200 OK".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: b"OK".to_vec(),
        }
    }

    #[test]
    fn ping_headers_say_engine_api_and_os_or_nothing() {
        let full = ping(&[
            ("server", "Docker/20.10.24+dfsg1 (linux)"),
            ("api-version", "1.41"),
            ("ostype", "linux"),
        ]);
        assert_eq!(
            from_ping(&full),
            Some(("20.10.24+dfsg1".into(), "1.41".into(), "linux".into()))
        );
        // Any header missing or not Docker's: `/version` is asked instead.
        assert_eq!(
            from_ping(&ping(&[("api-version", "1.41"), ("ostype", "linux")])),
            None
        );
        assert_eq!(
            from_ping(&ping(&[
                ("server", "nginx"),
                ("api-version", "1.41"),
                ("ostype", "linux")
            ])),
            None
        );
        assert_eq!(
            from_ping(&ping(&[
                ("server", "Docker/27.3.1 (linux)"),
                ("api-version", "1.47")
            ])),
            None
        );
    }
}

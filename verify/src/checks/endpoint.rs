//! `endpoint` (with `windows.endpoint = "pipe"`, on Windows; needs `docker-api`): docker in cmd
//! and PowerShell reaches the engine through `dockvm proxy` on Docker's named pipe. The pipe must
//! answer `/_ping` as this VM's proxy (not Docker Desktop's engine, not another VM's proxy), and
//! a probe container created through it with the first share's Windows folder as its bind
//! source (`D:\...`, as the Windows CLI sends it) must see a file written here: a translation
//! fault is found like a stale share.

use super::share::{self, Created};
use super::{Ctx, human};
use crate::cleanup::{Item, Stage};
use crate::finding::{CheckId, Finding, Status};
use dockvm_engine::{Endpoint, HttpError};
use dockvm_spec::WindowsEndpoint;
use std::time::Instant;

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let pipe = format!(r"\\.\pipe\{}", WindowsEndpoint::PIPE);
    let expected = format!(
        "dockvm proxy for VM {} answers on {pipe}, and a bind of a share's Windows folder through it reaches the share",
        ctx.spec.vm.name
    );
    let f = |status, reason: String| {
        Finding::new(CheckId::Endpoint, status, reason).expected(expected.clone())
    };
    if ctx.env.windows.is_none() {
        return f(
            Status::Skip,
            format!("{pipe} is the Windows side's endpoint: `dockvm.exe verify` checks it"),
        );
    }
    let deadline = Instant::now() + ctx.timeout;
    let via = Endpoint::pipe(WindowsEndpoint::PIPE);
    let start_hint = "`dockvm.exe up` starts the proxy (or run `dockvm.exe proxy` in a terminal)";
    let ping = match via.ping(deadline) {
        Ok(r) => r,
        Err(HttpError::Connect(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return f(
                Status::Fail,
                format!("nothing serves {pipe}: the proxy is not running"),
            )
            .actual(e.to_string())
            .hint(start_hint);
        }
        Err(e @ (HttpError::Silent(_) | HttpError::Stalled { .. })) => {
            return f(
                Status::Fail,
                format!("{pipe} did not answer within {}", human(ctx.timeout)),
            )
            .actual(e.to_string())
            .hint("restart the proxy: `dockvm.exe down`, then `dockvm.exe up`");
        }
        Err(e) => {
            return f(Status::Fail, format!("{pipe}: {e}"))
                .actual(e.to_string())
                .hint(start_hint);
        }
    };
    match ping.header(&dockvm_proxy_header()) {
        None => {
            return f(
                Status::Fail,
                format!("{pipe} is served by another program, not dockvm's proxy (Docker Desktop, or a dockerd for Windows): docker in cmd reaches that engine, not VM {}", ctx.spec.vm.name),
            )
            .actual(format!("{} without a {} header", ping.status_line, dockvm_proxy_header()))
            .hint("quit Docker Desktop (or stop that dockerd), then `dockvm.exe up`");
        }
        Some(vm) if vm != ctx.spec.vm.name.as_str() => {
            return f(
                Status::Fail,
                format!(
                    "{pipe} is served by the proxy of VM {vm}, not VM {}",
                    ctx.spec.vm.name
                ),
            )
            .actual(format!("{}: {vm}", dockvm_proxy_header()))
            .hint(format!(
                "`dockvm.exe down --spec` with VM {vm}'s spec, then `dockvm.exe up` with this one"
            ));
        }
        Some(_) => {}
    }
    if ping.status != 200 {
        let body = ping.body_text();
        let said = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return f(
            Status::Fail,
            format!("the proxy answers, but not the engine behind it: {said}"),
        )
        .actual(ping.status_line.clone());
    }
    let answered = format!("dockvm proxy for VM {} answers on {pipe}", ctx.spec.vm.name);
    match canary(ctx, &via, deadline) {
        Ok(None) => f(Status::Pass, answered).actual(ping.status_line.clone()),
        Ok(Some(host)) => f(
            Status::Pass,
            format!("{answered}, and a bind of {host} through it reaches the share"),
        )
        .actual("probe file seen through a container created through the pipe"),
        Err(finding) => *finding,
    }
}

fn dockvm_proxy_header() -> String {
    dockvm_engine::PROXY_HEADER.to_ascii_lowercase()
}

/// The first share's canary through the pipe: the bind source is its Windows folder, so the
/// proxy's translation decides what the container sees. `None` without a share on this side.
fn canary(
    ctx: &Ctx<'_>,
    via: &Endpoint,
    deadline: Instant,
) -> Result<Option<String>, Box<Finding>> {
    let Some(s) = ctx.spec.shares.first() else {
        return Ok(None);
    };
    let here = ctx.local_path(s);
    if !here.is_dir() {
        // The share check names a missing folder.
        return Ok(None);
    }
    let host = s.host_path.to_string();
    let fail = |status, reason: String| {
        Box::new(Finding::new(CheckId::Endpoint, status, reason).expected(format!(
            "a container created through the proxy with {host} as its bind source sees the share"
        )))
    };
    let hinted = |f: Box<Finding>, hint: &str| Box::new(f.hint(hint));
    let Ok(direct) = ctx.api.as_ref() else {
        return Ok(None);
    };
    share::ensure_image(ctx, direct, deadline).map_err(|e| {
        fail(
            Status::Error,
            format!("cannot prepare the probe image: {e}"),
        )
    })?;
    let token = share::random_hex();
    let file_name = format!(".{}{token}", share::PROBE_PREFIX);
    let path = here.join(&file_name);
    let file = ctx.cleanup.guard(Item::File(path.clone()));
    match file.create(Stage::Created, || std::fs::write(&path, token.as_bytes())) {
        Err(_) => return Err(fail(Status::Error, "interrupted".into())),
        Ok(Err(e)) => {
            return Err(fail(
                Status::Error,
                format!("cannot write the probe file {path}: {e}"),
            ));
        }
        Ok(Ok(())) => {}
    }
    let name = format!("{}{}", share::PROBE_PREFIX, share::random_hex());
    // Removed through the VM's own endpoint: that works whatever the proxy does next.
    let guard = ctx.cleanup.guard(Item::Container {
        api: direct.clone(),
        name: name.clone(),
    });
    let mounts = [(host.clone(), "/probe")];
    match share::create(ctx, via, &guard, &name, &mounts, deadline) {
        Ok(()) => {}
        Err(Created::SourceMissing(p)) => {
            return Err(hinted(
                fail(
                    Status::Fail,
                    format!(
                        "the proxy sent {host} to the daemon as {p}, which does not exist in the VM"
                    ),
                ),
                "see the share check of this share; the VM's link for it may be missing",
            ));
        }
        Err(Created::Other(e)) => {
            return Err(fail(
                Status::Fail,
                format!("the proxy or the daemon refused a bind of {host}: {e}"),
            ));
        }
    }
    match direct.stat(&name, &format!("/probe/{file_name}"), deadline) {
        Ok(Some(st)) if st.name == file_name && st.size == token.len() as u64 => Ok(Some(host)),
        Ok(_) => Err(hinted(
            fail(
                Status::Fail,
                format!(
                    "a container created through the proxy with {host} as its bind source does not see the file written there"
                ),
            ),
            "the share check of this share says whether the share itself is stale",
        )),
        Err(e) => Err(fail(
            Status::Error,
            format!("looking for the probe: {}", share::engine_text(&e, ctx)),
        )),
    }
}

//! `up`'s proxy stage and `down`'s: `dockvm proxy` on Docker's named pipe, found running for
//! this VM, or started in the background (its output in `proxy.log` beside `up.log`); stopped by
//! the pid the pipe gives. Another program on the pipe (Docker Desktop) is named, never stopped.

use crate::{Log, Stage};
use dockvm_proxy::running::{self, OnPipe};
use dockvm_spec::{Spec, WindowsEndpoint};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How `up` starts the proxy: this program and its arguments (`proxy --spec ...`), and the log.
#[derive(Debug, Clone)]
pub struct ProxyLaunch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub log: PathBuf,
}

const ASK: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(50);
/// How long a started proxy has to answer on its pipe.
const START_WITHIN: Duration = Duration::from_secs(15);

fn pipe() -> String {
    format!(r"\\.\pipe\{}", WindowsEndpoint::PIPE)
}

fn pid_text(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// Who holds the pipe when it is not this VM's proxy, as a refusal.
fn refusal(spec: &Spec, on: &OnPipe) -> (String, String) {
    match on {
        OnPipe::Proxy { vm, pid } => (
            format!("{} is served by the proxy of VM {vm}{}", pipe(), pid_text(*pid)),
            format!("`dockvm.exe down` with VM {vm}'s spec stops it; then `dockvm.exe up` again"),
        ),
        OnPipe::Other { pid } => (
            format!(
                "{} is served by another program{} (Docker Desktop, or a dockerd for Windows): docker in cmd would reach that engine, not VM {}",
                pipe(),
                pid_text(*pid),
                spec.vm.name
            ),
            "quit Docker Desktop (its tray icon: Quit), or stop that dockerd; then `dockvm.exe up` again".to_owned(),
        ),
        OnPipe::OtherUser { users } => {
            let whose = match users.as_slice() {
                [] => "a program of another user (another signed-in user's dockvm proxy, or Docker Desktop for a user outside docker-users)".to_owned(),
                users => format!("dockvm of another signed-in user ({})", users.join(", ")),
            };
            (
                format!(
                    "{} is served by {whose}: its pipe admits that user only, so docker in cmd cannot reach VM {} through it",
                    pipe(),
                    spec.vm.name
                ),
                "Docker's pipe has one server per machine: that user stops it (`dockvm.exe down` in their session, or Docker Desktop's Quit) or signs out; then `dockvm.exe up` again".to_owned(),
            )
        }
        OnPipe::Unclear(e) => (
            format!("{} does not answer as a Docker API: {e}", pipe()),
            "`dockvm.exe down` stops a proxy that hangs; then `dockvm.exe up` again".to_owned(),
        ),
        OnPipe::Nobody => (format!("nothing serves {}", pipe()), String::new()),
    }
}

/// Finds this VM's proxy on the pipe, or starts it and waits until it answers.
pub(crate) fn ensure(
    log: &mut Log<'_>,
    spec: &Spec,
    launch: &ProxyLaunch,
    deadline: Instant,
) -> Result<(), (String, String)> {
    let vm = spec.vm.name.as_str();
    log.running(Stage::Proxy, format!("asking {}", pipe()));
    match running::on_pipe(WindowsEndpoint::PIPE, ASK) {
        OnPipe::Proxy { vm: v, pid } if v == vm => {
            log.ok(
                Stage::Proxy,
                format!("running{}, serving {}", pid_text(pid), pipe()),
            );
            return Ok(());
        }
        OnPipe::Nobody => {}
        other => return Err(refusal(spec, &other)),
    }
    log.running(Stage::Proxy, format!("starting dockvm proxy on {}", pipe()));
    let child =
        running::spawn_detached(&launch.program, &launch.args, &launch.log).map_err(|e| {
            (
                format!("cannot start {}: {e}", launch.program.display()),
                String::new(),
            )
        })?;
    let until = (Instant::now() + START_WITHIN).min(deadline.max(Instant::now() + ASK));
    loop {
        match running::on_pipe(WindowsEndpoint::PIPE, ASK) {
            OnPipe::Proxy { vm: v, pid } if v == vm => {
                log.ok(
                    Stage::Proxy,
                    format!(
                        "started{}, serving {}; its log: {}",
                        pid_text(pid.or(Some(child))),
                        pipe(),
                        launch.log.display()
                    ),
                );
                return Ok(());
            }
            OnPipe::Nobody | OnPipe::Unclear(_) if Instant::now() < until => {
                std::thread::sleep(POLL)
            }
            OnPipe::Nobody | OnPipe::Unclear(_) => {
                let tail = std::fs::read_to_string(&launch.log)
                    .ok()
                    .and_then(|t| {
                        t.lines()
                            .rev()
                            .find(|l| !l.trim().is_empty())
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                return Err((
                    format!(
                        "dockvm proxy (pid {child}) did not answer on {} in time: {tail}",
                        pipe()
                    ),
                    format!("its log: {}", launch.log.display()),
                ));
            }
            other => return Err(refusal(spec, &other)),
        }
    }
}

/// `down`'s first step: this VM's proxy stopped; another program on the pipe is left alone.
pub(crate) fn stop(log: &mut Log<'_>, spec: &Spec) {
    match running::on_pipe(WindowsEndpoint::PIPE, ASK) {
        OnPipe::Proxy { vm, pid: Some(pid) } if vm == spec.vm.name.as_str() => {
            match running::terminate(pid) {
                Ok(()) => log.ok(Stage::Proxy, format!("stopped (pid {pid})")),
                Err(e) => log.ok(
                    Stage::Proxy,
                    format!("could not stop the proxy (pid {pid}): {e}"),
                ),
            }
        }
        OnPipe::Nobody => log.ok(Stage::Proxy, "not running"),
        other => log.ok(
            Stage::Proxy,
            format!("left alone: {}", refusal(spec, &other).0),
        ),
    }
}

/// `status`'s line: who serves the pipe.
pub fn describe(spec: &Spec) -> (bool, String) {
    match running::on_pipe(WindowsEndpoint::PIPE, ASK) {
        OnPipe::Proxy { vm, pid } if vm == spec.vm.name.as_str() => (
            true,
            format!("running{}, serving {}", pid_text(pid), pipe()),
        ),
        OnPipe::Nobody => (
            false,
            format!(
                "not running: nothing serves {} (`dockvm.exe up` starts it)",
                pipe()
            ),
        ),
        other => (false, refusal(spec, &other).0),
    }
}

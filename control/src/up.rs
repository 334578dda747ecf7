//! `dockvm up`: from any state to a passing verify.
//!
//! 1. power: the engine answering proves the VM runs (no vmrun call); otherwise `vmrun list`,
//!    and `vmrun start <vmx> nogui` when it is not running, each refusal named.
//! 2. address: what the guest publishes (`guestinfo.dockvm.ip`, read with `readVariable`), else
//!    what VMware Tools report (`getGuestIPAddress`), polled; Docker's own bridges
//!    (172.16.0.0/12) are never taken for the VM's address. Another address than vm.ip fails.
//! 3. engine: `/_ping` every 100 ms until it answers; no fixed sleeps. Not answering within the
//!    wait: verify's `port` and `docker-api` name the root cause.
//! 4. shares and 5. verify: one whole verify. When a share's canary fails, the shared folders are
//!    enabled again (`enableSharedFolders`, which also has VMware Tools mount them in the
//!    guest) and verify runs again for a few seconds; when that is not enough, each share is
//!    pointed at its folder (`setSharedFolderState`, or `addSharedFolder` when the VM lacks
//!    it), and verify runs again until it passes or the wait is over.

use crate::{Ended, Log, Stage, root_cause};
use camino::Utf8PathBuf;
use dockvm_spec::Spec;
use dockvm_verify::checks::{self, Env};
use dockvm_verify::cleanup::Registry;
use dockvm_verify::{CheckId, Finding, Options, Selection, Status};
use dockvm_vmware::address::{Found, is_docker_bridge};
use dockvm_vmware::{Vmrun, VmrunError, human};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct UpOptions {
    /// How long `up` may take in all.
    pub wait: Duration,
    /// Each check's deadline in verify.
    pub timeout: Duration,
    /// With `tls = true`: the client certificate folder.
    pub certs: Option<Utf8PathBuf>,
    /// Probe leftovers older than this are removed (verify's sweep).
    pub leftover_age: Duration,
    /// How to start `dockvm proxy` (dockvm.exe with `windows.endpoint = "pipe"`).
    pub proxy: Option<crate::ProxyLaunch>,
}

/// Polling intervals: the engine at 100 ms (a ping costs a millisecond), VMware at 500 ms
/// (each vmrun call is slow).
const ENGINE_POLL: Duration = Duration::from_millis(100);
const VMRUN_POLL: Duration = Duration::from_millis(500);
/// How long verify re-runs a failing canary after the shares were enabled, before the shares
/// are pointed at their folders too.
const SHARES_SETTLE: Duration = Duration::from_secs(3);
/// The longest one vmrun call may take (vmrun hangs at times; the wait bounds it too).
const VMRUN_CALL: Duration = Duration::from_secs(60);

pub fn up(
    spec: &Spec,
    env: &Env,
    opts: &UpOptions,
    cleanup: &Registry,
    emit: &dyn Fn(&crate::Event),
) -> Ended {
    let mut log = Log::new(emit);
    let deadline = Instant::now() + opts.wait;
    let left = || deadline.saturating_duration_since(Instant::now());
    let tls = spec
        .docker
        .tls
        .then(|| checks::tls::TlsSetup::load(spec, env, opts.certs.as_deref()));
    let api = checks::endpoint(spec, tls.as_ref());
    let vmx = spec.vm.vmx.as_str();
    let addr = std::net::SocketAddr::from((spec.vm.ip, spec.docker.port));

    if let Some(facts) = answers(&api, opts.timeout.min(Duration::from_secs(1))) {
        log.ok(
            Stage::Power,
            format!("running: the engine answers at {addr} (vmrun not asked)"),
        );
        log.ok(
            Stage::Address,
            format!("{} ({})", spec.vm.ip, spec.vm.hostname),
        );
        log.ok(Stage::Engine, facts);
    } else {
        let vmrun = Vmrun::for_spec(spec);
        if let Err((why, hint)) = power(&mut log, &vmrun, vmx, left()) {
            return log.fail(Stage::Power, why, &hint);
        }
        if let Err((why, hint)) = address(&mut log, &vmrun, spec, deadline) {
            return log.fail(Stage::Address, why, &hint);
        }
        if let Err(e) = &api {
            // This side's client files, not the VM: waiting would not mend them.
            return log.fail(
                Stage::Engine,
                format!("cannot talk TLS to the Docker API: {e}"),
                "`dockvm verify --only tls` names what is wrong with the client files",
            );
        }
        log.running(
            Stage::Engine,
            format!("waiting for the Docker API at {addr}"),
        );
        loop {
            // Each ping may take the check's deadline (a busy engine, a TLS handshake); a
            // refused one comes back at once, and then the next is 100 ms later.
            let t = Instant::now();
            if let Some(facts) = answers(&api, opts.timeout.min(left().max(ENGINE_POLL))) {
                log.ok(Stage::Engine, facts);
                break;
            }
            if left().is_zero() {
                let (why, hint) = engine_cause(spec, env, opts, cleanup);
                return log.fail(
                    Stage::Engine,
                    format!("no answer within {}: {why}", human(opts.wait)),
                    &hint,
                );
            }
            std::thread::sleep(ENGINE_POLL.saturating_sub(t.elapsed()).min(left()));
        }
    }
    if let Some(launch) = &opts.proxy
        && env.windows.is_some()
        && spec.windows.endpoint == dockvm_spec::WindowsEndpoint::Pipe
        && let Err((why, hint)) = crate::proxy::ensure(&mut log, spec, launch, deadline)
    {
        return log.fail(Stage::Proxy, why, &hint);
    }
    shares_and_verify(log, spec, env, opts, cleanup, deadline)
}

/// The engine's `/_ping`, within `within`: its facts in words when it answers as dockerd.
fn answers(api: &Result<dockvm_engine::Endpoint, String>, within: Duration) -> Option<String> {
    let api = api.as_ref().ok()?;
    let ping = api.ping(Instant::now() + within).ok()?;
    if ping.status != 200 || ping.body != b"OK" {
        return None;
    }
    Some(match dockvm_engine::Facts::from_ping(&ping) {
        Some(f) => format!(
            "Docker Engine {}, API {}, {} at {}",
            f.version,
            f.api_version,
            f.os,
            api.url()
        ),
        None => format!("the Docker API answers at {}", api.url()),
    })
}

/// Stage 1: the VM running, started when it is not.
fn power(
    log: &mut Log<'_>,
    vmrun: &Vmrun,
    vmx: &str,
    left: Duration,
) -> Result<(), (String, String)> {
    log.running(Stage::Power, "asking vmrun whether the VM runs");
    let explain = |e: VmrunError| match e.start_refusal() {
        Some(r) => (format!("{e}"), r.explain(vmx)),
        None => (e.to_string(), String::new()),
    };
    match vmrun.is_running(vmx, VMRUN_CALL.min(left)) {
        Ok((true, _)) => {
            log.ok(Stage::Power, "running (vmrun lists it)");
            return Ok(());
        }
        Ok((false, _)) => {}
        Err(e) => return Err(explain(e)),
    }
    log.running(Stage::Power, format!("vmrun start {vmx} nogui"));
    match vmrun.start(vmx, VMRUN_CALL.min(left)) {
        Ok(()) => {
            log.ok(Stage::Power, "powered on (vmrun start nogui)");
            Ok(())
        }
        Err(e) => Err(explain(e)),
    }
}

/// Stage 2: the guest's address, polled; vm.ip passes, another fails.
fn address(
    log: &mut Log<'_>,
    vmrun: &Vmrun,
    spec: &Spec,
    deadline: Instant,
) -> Result<(), (String, String)> {
    let vmx = spec.vm.vmx.as_str();
    log.running(
        Stage::Address,
        "waiting for the guest to report its address",
    );
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let call = VMRUN_CALL.min(left);
        let reported = match vmrun.guest_address(vmx, spec.vm.ip, call) {
            Found::Address(ip, _) => Ok(ip),
            Found::Unknown(why) => Err(why),
        };
        let last = match reported {
            Ok(ip) if ip == spec.vm.ip => {
                log.ok(Stage::Address, format!("{ip} ({})", spec.vm.hostname));
                return Ok(());
            }
            Ok(ip) if is_docker_bridge(ip, spec.vm.ip) => {
                format!("VMware Tools report {ip}, a Docker bridge's address, not the VM's")
            }
            Ok(ip) => {
                return Err((
                    format!("the VM came up at {ip}, not at vm.ip {}", spec.vm.ip),
                    format!(
                        "pin the VM's address: a DHCP reservation for its MAC in VMware's vmnetdhcp.conf (fixed-address {}), or a static address in the guest; or set vm.ip = \"{ip}\" and run dockvm gen and install again",
                        spec.vm.ip
                    ),
                ));
            }
            Err(e) => e,
        };
        if left <= VMRUN_POLL {
            return Err((
                format!("no address within the wait: {last}"),
                "is VMware Tools (open-vm-tools) running in the guest? `systemctl status open-vm-tools` in the VM".to_owned(),
            ));
        }
        std::thread::sleep(VMRUN_POLL);
    }
}

/// Why the engine does not answer, as verify's `port` and `docker-api` say it.
fn engine_cause(spec: &Spec, env: &Env, opts: &UpOptions, cleanup: &Registry) -> (String, String) {
    let o = dockvm_verify::run(
        spec,
        env,
        &verify_options(opts, vec!["docker-api".into()], None),
        cleanup,
        &|_| {},
    );
    root_cause(&o.findings).unwrap_or_else(|| ("the engine did not answer".into(), String::new()))
}

fn verify_options(opts: &UpOptions, only: Vec<String>, wait: Option<Duration>) -> Options {
    Options {
        timeout: opts.timeout,
        wait,
        selection: Selection {
            only,
            skip: Vec::new(),
        },
        certs: opts.certs.clone(),
        leftover_age: opts.leftover_age,
    }
}

/// Stages 4 and 5: one verify; when a share fails, the shares enabled and verify again.
fn shares_and_verify(
    mut log: Log<'_>,
    spec: &Spec,
    env: &Env,
    opts: &UpOptions,
    cleanup: &Registry,
    deadline: Instant,
) -> Ended {
    log.running(Stage::Shares, "the share canary (with the whole verify)");
    let mut outcome = dockvm_verify::run(
        spec,
        env,
        &verify_options(opts, vec![], None),
        cleanup,
        &|_| {},
    );
    let failing = |f: &[Finding]| -> Vec<Finding> {
        f.iter()
            .filter(|f| {
                matches!(f.id, CheckId::Share(_))
                    && matches!(f.status, Status::Fail | Status::Error)
            })
            .cloned()
            .collect()
    };
    let shares = failing(&outcome.findings);
    if shares.is_empty() {
        let n = spec.shares.len();
        log.ok(
            Stage::Shares,
            if all_passed(&outcome.findings, |id| matches!(id, CheckId::Share(_))) {
                format!(
                    "the canary passes through {n} share{}",
                    if n == 1 { "" } else { "s" }
                )
            } else {
                "not checked: verify names what stops it".to_owned()
            },
        );
    } else {
        let first = &shares[0];
        log.running(
            Stage::Shares,
            format!(
                "{}: {}; enabling the shared folders again",
                first.id, first.reason
            ),
        );
        let vmrun = Vmrun::for_spec(spec);
        let vmx = spec.vm.vmx.as_str();
        let call = || VMRUN_CALL.min(deadline.saturating_duration_since(Instant::now()));
        let mut problems = Vec::new();
        // First only enabled (the usual case: off since a VMware power-on); the guest mounts the
        // shares then (VMware Tools), so verify again, re-running what fails for a moment.
        if let Err(e) = vmrun.enable_shared_folders(vmx, call()) {
            problems.push(e.to_string());
        }
        let again = |wait: Duration| {
            dockvm_verify::run(
                spec,
                env,
                &verify_options(opts, vec![], Some(wait)),
                cleanup,
                &|_| {},
            )
        };
        outcome = again(SHARES_SETTLE.min(deadline.saturating_duration_since(Instant::now())));
        if !failing(&outcome.findings).is_empty() {
            // Still not: each share pointed at its folder (added when the VM lacks it), as
            // reset-shared-folders.bat does, then verify until it passes or the wait is over.
            log.running(
                Stage::Shares,
                "pointing each share at its folder (setSharedFolderState, addSharedFolder)",
            );
            for s in &spec.shares {
                let (name, path) = (s.name.as_str(), s.host_path.as_str());
                if vmrun.set_shared_folder(vmx, name, path, call()).is_err()
                    && let Err(e) = vmrun.add_shared_folder(vmx, name, path, call())
                {
                    problems.push(e.to_string());
                }
            }
            outcome = again(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_secs(1)),
            );
        }
        let still = failing(&outcome.findings);
        if let Some(f) = still.first() {
            let mut why = format!("{}: {}", f.id, f.reason);
            if !problems.is_empty() {
                why.push_str(&format!(" (enabling them: {})", problems.join("; ")));
            }
            return log.fail(Stage::Shares, why, &f.hint);
        }
        log.ok(
            Stage::Shares,
            "enabled again (vmrun enableSharedFolders); the canary passes",
        );
    }
    let counts = counts(&outcome.findings);
    match outcome.exit_code() {
        0 => {
            log.ok(Stage::Verify, counts);
            log.done()
        }
        _ => {
            let (why, hint) = root_cause(&outcome.findings).unwrap_or_default();
            log.fail(Stage::Verify, format!("{counts}; {why}"), &hint)
        }
    }
}

fn all_passed(findings: &[Finding], which: impl Fn(&CheckId) -> bool) -> bool {
    findings
        .iter()
        .filter(|f| which(&f.id))
        .all(|f| matches!(f.status, Status::Pass | Status::Warn))
}

/// "8 checks: 7 passed, 1 warned".
fn counts(findings: &[Finding]) -> String {
    let n = |s: Status| findings.iter().filter(|f| f.status == s).count();
    let mut parts = vec![format!("{} passed", n(Status::Pass))];
    for (s, word) in [
        (Status::Warn, "warned"),
        (Status::Fail, "failed"),
        (Status::Error, "could not be evaluated"),
        (Status::Skip, "skipped"),
    ] {
        if n(s) > 0 {
            parts.push(format!("{} {word}", n(s)));
        }
    }
    format!("{} checks: {}", findings.len(), parts.join(", "))
}

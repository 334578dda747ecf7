//! `dockvm down`: `vmrun stop <vmx> soft` (the guest shuts down), then wait until `vmrun list`
//! no longer names the VM; with `--hard`, power it off when the soft stop does not finish in
//! time (and say so). A note when docker in this terminal points at the VM.

use crate::{Ended, Log, Stage};
use dockvm_spec::Spec;
use dockvm_verify::checks::Env;
use dockvm_vmware::{Vmrun, human};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct DownOptions {
    /// How long the soft stop may take.
    pub wait: Duration,
    /// Power off when the soft stop does not finish within `wait`.
    pub hard: bool,
}

const LIST_POLL: Duration = Duration::from_millis(300);

pub fn down(spec: &Spec, env: &Env, opts: &DownOptions, emit: &dyn Fn(&crate::Event)) -> Ended {
    let mut log = Log::new(emit);
    // The proxy first: with the VM gone it could only answer errors.
    if env.windows.is_some() && spec.windows.endpoint == dockvm_spec::WindowsEndpoint::Pipe {
        crate::proxy::stop(&mut log, spec);
    }
    let vmx = spec.vm.vmx.as_str();
    let vmrun = Vmrun::for_spec(spec);
    let deadline = Instant::now() + opts.wait;
    let left = || deadline.saturating_duration_since(Instant::now());
    // Of start's refusals, only a missing vmrun means the same for a stop.
    let explain = |e: dockvm_vmware::VmrunError| {
        let hint = match e.start_refusal() {
            Some(r @ dockvm_vmware::StartRefusal::NoVmrun) => r.explain(vmx),
            _ => String::new(),
        };
        (e.to_string(), hint)
    };
    log.running(Stage::Stop, "asking vmrun whether the VM runs");
    match vmrun.is_running(vmx, left()) {
        Ok((false, _)) => {
            log.ok(Stage::Stop, "not running (vmrun does not list it)");
            return with_note(log.done(), spec, env);
        }
        Ok((true, _)) => {}
        Err(e) => {
            let (why, hint) = explain(e);
            return log.fail(Stage::Stop, why, &hint);
        }
    }
    log.running(Stage::Stop, format!("vmrun stop {vmx} soft"));
    let soft = vmrun.stop(vmx, false, left());
    let gone = |left: Duration| -> bool {
        let until = Instant::now() + left;
        loop {
            if let Ok((false, _)) =
                vmrun.is_running(vmx, until.saturating_duration_since(Instant::now()))
            {
                return true;
            }
            if Instant::now() + LIST_POLL >= until {
                return false;
            }
            std::thread::sleep(LIST_POLL);
        }
    };
    if soft.is_ok() && gone(left()) {
        log.ok(Stage::Stop, "powered off (the guest shut down)");
        return with_note(log.done(), spec, env);
    }
    let why = match soft {
        Err(e) => e.to_string(),
        Ok(()) => format!("still listed {} after the soft stop", human(opts.wait)),
    };
    if !opts.hard {
        return log.fail(
            Stage::Stop,
            format!("the soft stop did not finish within {}: {why}", human(opts.wait)),
            "dockvm down --hard powers it off (like pulling the plug: unsaved data in the guest is lost)",
        );
    }
    log.running(
        Stage::Stop,
        format!(
            "the soft stop did not finish within {} ({why}): vmrun stop {vmx} hard",
            human(opts.wait)
        ),
    );
    match vmrun.stop(vmx, true, Duration::from_secs(60)) {
        Ok(()) if gone(Duration::from_secs(30)) => {
            log.ok(
                Stage::Stop,
                format!(
                    "powered off hard: the soft stop did not finish within {}",
                    human(opts.wait)
                ),
            );
            with_note(log.done(), spec, env)
        }
        Ok(()) => log.fail(
            Stage::Stop,
            "vmrun stop hard returned, but the VM is still listed",
            "",
        ),
        Err(e) => {
            let (why, hint) = explain(e);
            log.fail(Stage::Stop, why, &hint)
        }
    }
}

/// The note when docker in this terminal points at the VM that is now off.
fn with_note(mut ended: Ended, spec: &Spec, env: &Env) -> Ended {
    let (uses, here) = dockvm_verify::checks::env::in_use(spec, env);
    if here {
        ended.notes.push(format!(
            "docker in this terminal uses {uses}, the VM now off: docker commands fail until `dockvm up`"
        ));
    }
    ended
}

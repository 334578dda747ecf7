//! `vm`: is the VM running, with the spec's address? Asked of VMware itself, through the vmrun
//! driver (`dockvm-vmware`): `vmrun list` must name `vm.vmx`, then the address the guest
//! publishes (`readVariable guestVar dockvm.ip`), else `getGuestIPAddress`, should be
//! `vm.ip`; with `pin_ip`, VMware's DHCP reservation should still match the .vmx. When vmrun
//! is not there or does not answer, the check is skipped with what it saw, and the others go
//! on. vmrun is slow (it talks to the VMware service first; through WSL
//! interop each start costs more), so the runner asks it beside `port` and only waits for it
//! when the port does not answer: a port that answers proves the VM runs at vm.ip.

use super::Ctx;
use crate::finding::{CheckId, Finding, Status};
use dockvm_vmware::address::{Found, Source, is_docker_bridge};
use dockvm_vmware::{Vmrun, VmrunError};
use std::net::Ipv4Addr;
use std::time::Instant;

pub fn check(ctx: &Ctx<'_>) -> Finding {
    ask(ctx, Vmrun::for_spec(ctx.spec))
}

/// The check, with vmrun calls that stop when `cancel` is set (the runner sets it when the
/// port answers: then the VM runs, and vmrun's slow answer is not wanted).
pub fn check_cancellable(
    ctx: &Ctx<'_>,
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Finding {
    ask(ctx, Vmrun::for_spec(ctx.spec).cancelled_by(cancel))
}

/// The finding of `vm` when the port answered: the VM runs, vmrun not asked (or its call
/// stopped). The same words whichever finished first, so a report does not depend on timing.
pub fn running_because_port_answers(ctx: &Ctx<'_>) -> Finding {
    let vmx = ctx.spec.vm.vmx.as_str();
    let f = Finding::new(
        CheckId::Vm,
        Status::Pass,
        format!(
            "the VM is running: the Docker API port at {} answers (vmrun not asked)",
            ctx.api_addr()
        ),
    )
    .expected(format!("{vmx} running"))
    .actual(format!("{} accepts connections", ctx.api_addr()))
    .fact("state", "running")
    .fact("address", ctx.spec.vm.ip.to_string());
    with_reservation(ctx, f)
}

fn ask(ctx: &Ctx<'_>, vmrun: Vmrun) -> Finding {
    let start = Instant::now();
    let vmx = ctx.spec.vm.vmx.as_str();
    let skip = |why: String| {
        Finding::new(CheckId::Vm, Status::Skip, why)
            .expected(format!("{vmx} running"))
            .fact("state", "unknown")
    };
    let (found, running) = match vmrun.is_running(vmx, ctx.timeout) {
        Ok(r) => r,
        Err(VmrunError::NotFound(path)) => {
            return skip(format!(
                "vmrun not found at {path}: cannot ask VMware whether the VM runs (vmware.vmrun names it; from WSL it is reached through interop under the automount root)"
            ));
        }
        Err(VmrunError::Failed {
            status, first_line, ..
        }) => {
            return skip(format!("vmrun list failed ({status}): {first_line:?}"));
        }
        Err(e) => return skip(format!("{e}: cannot tell whether the VM runs")),
    };
    if !found {
        return not_running(vmx, &running).fact("state", "stopped");
    }
    let left = ctx.timeout.saturating_sub(start.elapsed());
    with_reservation(ctx, address(ctx, &vmrun, left)).fact("state", "running")
}

/// The one root cause of a dead VM: vmrun does not list it.
fn not_running(vmx: &str, running: &[String]) -> Finding {
    Finding::new(
        CheckId::Vm,
        Status::Fail,
        "the VM is not running: `dockvm up` starts it",
    )
    .expected(format!("{vmx} running"))
    .actual(if running.is_empty() {
        "vmrun list: no VM is running".to_owned()
    } else {
        format!("vmrun list: {}", running.join(", "))
    })
    .hint(format!(
        "`dockvm up` (dockvm.exe up on Windows) starts it, waits for the engine, re-enables the shared folders and checks; by hand: windows\\start-vm.bat, or `vmrun -T ws start \"{vmx}\" nogui`"
    ))
}

/// The VM runs: the address VMware Tools report, against vm.ip.
fn address(ctx: &Ctx<'_>, vmrun: &Vmrun, left: std::time::Duration) -> Finding {
    let vmx = ctx.spec.vm.vmx.as_str();
    let expected = format!("{vmx} running at {}", ctx.spec.vm.ip);
    let unknown = |why: String| {
        Finding::new(
            CheckId::Vm,
            Status::Pass,
            format!("the VM is running (its address is unknown: {why})"),
        )
        .expected(expected.clone())
    };
    let (ip, source) = match vmrun.guest_address(vmx, ctx.spec.vm.ip, left) {
        Found::Address(ip, source) => (ip, source),
        Found::Unknown(why) => return unknown(why),
    };
    let from = source.words();
    match classify(ip, ctx.spec.vm.ip) {
        Address::Spec => Finding::new(
            CheckId::Vm,
            Status::Pass,
            format!("the VM is running at {ip}, {from}"),
        )
        .expected(expected)
        .actual(format!("running at {ip}"))
        .fact("address", ip.to_string())
        .fact("address_source", if source == Source::Published { "guest" } else { "vmware-tools" }),
        Address::Docker0 => unknown(format!(
            "VMware Tools report {ip}, a Docker bridge's address once Docker runs in the guest (open-vm-tools#93), not the VMware network's, and the guest publishes none (dockvm-address.service, installed with the VM side)"
        ))
        .actual(format!("running, getGuestIPAddress {ip}")),
        Address::Other => Finding::new(
            CheckId::Vm,
            Status::Fail,
            format!("the VM runs at {ip} ({from}), not at vm.ip {}", ctx.spec.vm.ip),
        )
        .expected(expected)
        .actual(format!("running at {ip}"))
        .hint(format!(
            "pin the VM's address: a DHCP reservation for the VM's MAC in VMware's vmnetdhcp.conf (fixed-address {}), or a static address in the guest; or set vm.ip = \"{ip}\" in the spec and run dockvm gen and install again",
            ctx.spec.vm.ip
        )),
    }
}

/// With `vmware.pin_ip`, when VMware's DHCP configuration is there (read where this side
/// sees it): a reservation that is gone or no longer matches the .vmx's MAC (the VM copied or
/// moved), as (reason, hint). The address still answers until the lease ends; then it moves.
fn reservation_problem(ctx: &Ctx<'_>) -> Option<(String, String)> {
    use dockvm_vmware::{dhcp, vmx::Vmx};
    let spec = ctx.spec;
    if !spec.vmware.pin_ip {
        return None;
    }
    let here = |p| super::local(spec, ctx.env, p);
    let conf_path = here(&spec.vmware.dhcp_conf);
    let conf = std::fs::read(&conf_path).ok()?;
    let vmx = Vmx::parse(&std::fs::read(here(&spec.vm.vmx)).ok()?).ok()?;
    let conf = dhcp::parse(&String::from_utf8_lossy(&conf));
    let vm = spec.vm.name.as_str();
    let again =
        "run `dockvm.exe install` on Windows again: it reserves vm.ip for the MAC the .vmx has now"
            .to_owned();
    match dhcp::pinned(vm, spec.vm.ip, &vmx, &conf)? {
        dhcp::Pinned::Matches => None,
        dhcp::Pinned::Missing => Some((
            format!(
                "vm.ip is not reserved in VMware's DHCP ({conf_path} has no host {}): the VM's address can move at its next lease",
                dhcp::host_name(vm)
            ),
            again,
        )),
        dhcp::Pinned::Stale { reserved, now } => Some((
            format!(
                "the reservation {} in {conf_path} is {reserved}, but the VM needs {now} (copied or moved, or vm.ip changed): its address can move at its next lease",
                dhcp::host_name(vm)
            ),
            again,
        )),
    }
}

/// A passing `vm` finding made a warning by a reservation problem; a failing one gets it as
/// its hint's first step (it is why the address moved).
fn with_reservation(ctx: &Ctx<'_>, f: Finding) -> Finding {
    let Some((why, hint)) = reservation_problem(ctx) else {
        return f;
    };
    match f.status {
        Status::Pass => {
            let reason = format!("{}; but {why}", f.reason);
            Finding {
                status: Status::Warn,
                reason,
                ..f
            }
            .hint(hint)
        }
        Status::Fail => {
            let reason = format!("{}; {why}", f.reason);
            Finding { reason, ..f }.hint(hint)
        }
        _ => f,
    }
}

/// What an address vmrun gives means.
#[derive(Debug, PartialEq, Eq)]
enum Address {
    Spec,
    /// A Docker bridge's (the rule `up` uses too), which VMware Tools may report instead.
    Docker0,
    Other,
}

fn classify(ip: Ipv4Addr, spec: Ipv4Addr) -> Address {
    if ip == spec {
        Address::Spec
    } else if is_docker_bridge(ip, spec) {
        Address::Docker0
    } else {
        Address::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker0_is_unknown_not_another_address() {
        let spec: Ipv4Addr = "192.168.130.2".parse().unwrap();
        assert_eq!(classify(spec, spec), Address::Spec);
        assert_eq!(
            classify("172.17.0.1".parse().unwrap(), spec),
            Address::Docker0
        );
        assert_eq!(
            classify("172.18.0.1".parse().unwrap(), spec),
            Address::Docker0
        );
        assert_eq!(
            classify("192.168.130.3".parse().unwrap(), spec),
            Address::Other
        );
    }
}

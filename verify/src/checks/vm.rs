//! `vm`: is the VM running, with the spec's address? Asked of VMware itself: `vmrun list` must
//! name `vm.vmx`, then `vmrun getGuestIPAddress` should give `vm.ip`. From WSL, vmrun.exe is
//! reached through interop at its path under the automount root. When vmrun is not there or
//! does not answer, the check is skipped with what it saw, and the others go on.

use super::Ctx;
use crate::command;
use crate::finding::{CheckId, Finding, Status};
use camino::Utf8PathBuf;
use std::net::Ipv4Addr;
use std::time::Instant;

/// Where this process reaches vmrun: the spec's Windows path on Windows, the same path under
/// the automount root elsewhere (WSL).
pub fn vmrun_path(ctx: &Ctx<'_>) -> Utf8PathBuf {
    if cfg!(windows) {
        Utf8PathBuf::from(ctx.spec.vmware.vmrun.as_str())
    } else {
        ctx.spec.vmware.vmrun.wsl_path(&ctx.spec.wsl.automount_root)
    }
}

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let start = Instant::now();
    let vmx = ctx.spec.vm.vmx.as_str();
    let vmrun = vmrun_path(ctx);
    let skip = |why: String| {
        Finding::new(CheckId::Vm, Status::Skip, why).expected(format!("{vmx} running"))
    };
    if !vmrun.is_file() {
        return skip(format!(
            "vmrun not found at {vmrun}: cannot ask VMware whether the VM runs (vmware.vmrun names it; from WSL it is reached through interop under the automount root)"
        ));
    }
    let list = match command::run(&vmrun, &["-T", "ws", "list"], ctx.timeout) {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            return skip(format!(
                "vmrun list failed ({}): {}",
                o.status,
                said(&o.stdout, &o.stderr)
            ));
        }
        Err(e) => return skip(format!("{e}: cannot tell whether the VM runs")),
    };
    let running = running_vmx(&list);
    if !running.iter().any(|p| same_path(p, vmx)) {
        return Finding::new(
            CheckId::Vm,
            Status::Fail,
            "the VM is not running: windows\\start-vm.bat",
        )
        .expected(format!("{vmx} running"))
        .actual(if running.is_empty() {
            "vmrun list: no VM is running".to_owned()
        } else {
            format!("vmrun list: {}", running.join(", "))
        })
        .hint(format!(
            "start it with windows\\start-vm.bat (or `vmrun -T ws start \"{vmx}\" nogui`); it also re-enables the shared folders"
        ));
    }
    let left = ctx.timeout.saturating_sub(start.elapsed());
    let expected = format!("{vmx} running at {}", ctx.spec.vm.ip);
    let unknown = |why: String| {
        Finding::new(
            CheckId::Vm,
            Status::Pass,
            format!("the VM is running (its address is unknown: {why})"),
        )
        .expected(expected.clone())
    };
    let out = match command::run(&vmrun, &["-T", "ws", "getGuestIPAddress", vmx], left) {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            return unknown(format!(
                "vmrun getGuestIPAddress said {}",
                said(&o.stdout, &o.stderr)
            ));
        }
        Err(e) => return unknown(e.to_string()),
    };
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let Ok(ip) = text.parse::<Ipv4Addr>() else {
        return unknown(format!("vmrun getGuestIPAddress said {text:?}"));
    };
    match classify(ip, ctx.spec.vm.ip) {
        Address::Spec => Finding::new(
            CheckId::Vm,
            Status::Pass,
            format!("the VM is running at {ip}"),
        )
        .expected(expected)
        .actual(format!("running at {ip}")),
        Address::Docker0 => unknown(format!(
            "VMware Tools report {ip}, the docker0 bridge's address once Docker runs in the guest (open-vm-tools#93), not the VMware network's"
        ))
        .actual(format!("running, getGuestIPAddress {ip}")),
        Address::Other => Finding::new(
            CheckId::Vm,
            Status::Fail,
            format!("the VM runs at {ip}, not at vm.ip {}", ctx.spec.vm.ip),
        )
        .expected(expected)
        .actual(format!("running at {ip}"))
        .hint(format!(
            "pin the VM's address: a DHCP reservation for the VM's MAC in VMware's vmnetdhcp.conf (fixed-address {}), or a static address in the guest; or set vm.ip = \"{ip}\" in the spec and run dockvm gen and install again",
            ctx.spec.vm.ip
        )),
    }
}

/// What an address vmrun gives means.
#[derive(Debug, PartialEq, Eq)]
enum Address {
    Spec,
    /// 172.17.0.0/16: Docker's default bridge, which VMware Tools may report instead.
    Docker0,
    Other,
}

fn classify(ip: Ipv4Addr, spec: Ipv4Addr) -> Address {
    if ip == spec {
        Address::Spec
    } else if ip.octets()[..2] == [172, 17] {
        Address::Docker0
    } else {
        Address::Other
    }
}

/// The .vmx paths in `vmrun list` output (after its `Total running VMs: N` line).
fn running_vmx(list: &str) -> Vec<String> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Total running VMs"))
        .map(str::to_owned)
        .collect()
}

/// Windows compares paths without regard to case.
fn same_path(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// vmrun's first line of output (it prints errors on stdout), for a reason.
fn said(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    );
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("nothing");
    format!("{first:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_output_is_read_and_compared_without_case() {
        let out = "Total running VMs: 2\r\nD:\\VMware\\Dev\\dev.vmx\r\nC:\\other\\x.vmx\r\n";
        let r = running_vmx(out);
        assert_eq!(r, ["D:\\VMware\\Dev\\dev.vmx", "C:\\other\\x.vmx"]);
        assert!(same_path(&r[0], "d:\\vmware\\dev\\DEV.vmx"));
        assert!(running_vmx("Total running VMs: 0\r\n").is_empty());
    }

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
            Address::Other
        );
        assert_eq!(
            classify("192.168.130.3".parse().unwrap(), spec),
            Address::Other
        );
    }
}

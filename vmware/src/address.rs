//! The guest's address as the host learns it: what the guest publishes itself
//! (`guestinfo.dockvm.ip`, set by the generated `dockvm-address.service` through
//! vmware-rpctool), else what VMware Tools report (`getGuestIPAddress`, which can be docker0's
//! 172.17.0.1 once Docker runs: open-vm-tools#93). One rule for verify's `vm` check, `up` and
//! `status`.

use crate::{VarKind, Vmrun, VmrunError};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// The guest variable the guest publishes its addresses in.
pub const GUEST_VAR: &str = "dockvm.ip";

/// Where an address came from, in the words a report uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The guest's own `guestinfo.dockvm.ip`.
    Published,
    /// VMware Tools' `getGuestIPAddress`.
    Reported,
}

impl Source {
    pub fn words(self) -> &'static str {
        match self {
            Source::Published => "published by the guest as guestinfo.dockvm.ip",
            Source::Reported => "reported by VMware Tools' getGuestIPAddress",
        }
    }
}

/// Docker's own networks: the default bridge (172.17.0.0/16) and user bridges (`br-*`, from
/// 172.18.0.0/16 on), all within 172.16.0.0/12. An address in vm.ip's own /24 is the VMware
/// network's, even there.
pub fn is_docker_bridge(ip: Ipv4Addr, vm_ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let same_net = ip.octets()[..3] == vm_ip.octets()[..3];
    a == 172 && (16..=31).contains(&b) && !same_net
}

/// The addresses in the published value (space-separated IPv4; anything else is skipped).
pub fn published(text: &str) -> Vec<Ipv4Addr> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// The one address that stands for the guest among those it published: vm.ip when it is
/// among them, else the first that is not a Docker bridge's.
pub fn pick(addrs: &[Ipv4Addr], vm_ip: Ipv4Addr) -> Option<Ipv4Addr> {
    if addrs.contains(&vm_ip) {
        return Some(vm_ip);
    }
    addrs.iter().copied().find(|a| !is_docker_bridge(*a, vm_ip))
}

/// What the host learned of the guest's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// An address, and where it came from.
    Address(Ipv4Addr, Source),
    /// VMware Tools' answer, which is not an address (a message), or what went wrong.
    Unknown(String),
}

impl Vmrun {
    /// The guest's address: what it published (see [`pick`]), else `getGuestIPAddress`; both
    /// calls within `timeout`.
    pub fn guest_address(&self, vmx: &str, vm_ip: Ipv4Addr, timeout: Duration) -> Found {
        let start = Instant::now();
        if let Ok(text) = self.read_variable(vmx, VarKind::GuestVar, GUEST_VAR, timeout)
            && let Some(ip) = pick(&published(&text), vm_ip)
        {
            return Found::Address(ip, Source::Published);
        }
        let left = timeout.saturating_sub(start.elapsed());
        match self.guest_ip(vmx, false, left) {
            Ok(t) => match t.parse::<Ipv4Addr>() {
                Ok(ip) => Found::Address(ip, Source::Reported),
                Err(_) => Found::Unknown(format!("vmrun getGuestIPAddress said {t:?}")),
            },
            Err(VmrunError::Failed { first_line, .. }) => {
                Found::Unknown(format!("vmrun getGuestIPAddress said {first_line:?}"))
            }
            Err(e) => Found::Unknown(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_s_bridges_are_never_the_vm_s_address() {
        let vm: Ipv4Addr = "192.168.130.2".parse().unwrap();
        for (ip, bridge) in [
            ("172.17.0.1", true),
            ("172.18.0.1", true),
            ("172.31.255.1", true),
            ("172.15.0.1", false),
            ("172.32.0.1", false),
            ("192.168.130.3", false),
        ] {
            assert_eq!(is_docker_bridge(ip.parse().unwrap(), vm), bridge, "{ip}");
        }
        // A VMware network inside 172.16.0.0/12 is the VM's own.
        let vm: Ipv4Addr = "172.17.5.2".parse().unwrap();
        assert!(!is_docker_bridge("172.17.5.9".parse().unwrap(), vm));
        assert!(is_docker_bridge("172.17.0.1".parse().unwrap(), vm));
    }

    #[test]
    fn the_published_value_stands_for_the_guest_by_vm_ip_first() {
        let vm: Ipv4Addr = "198.18.0.2".parse().unwrap();
        let table: &[(&str, Option<&str>)] = &[
            ("198.18.0.2", Some("198.18.0.2")),
            ("10.0.0.5 198.18.0.2", Some("198.18.0.2")),
            ("172.17.0.1 198.18.0.3", Some("198.18.0.3")),
            ("172.17.0.1", None),
            ("", None),
            ("No value found", None),
        ];
        for (text, want) in table {
            assert_eq!(
                pick(&published(text), vm),
                want.map(|w| w.parse().unwrap()),
                "{text:?}"
            );
        }
    }
}

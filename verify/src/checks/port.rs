//! `port`: a TCP connection to `vm.ip:docker.port` within the deadline, each way of failing
//! named with its usual cause.

use super::{Ctx, human};
use crate::finding::{CheckId, Finding, Status};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub fn check(ctx: &Ctx<'_>) -> Finding {
    probe(ctx.api_addr(), ctx.timeout)
}

/// The check on its own inputs (the runner runs it on a thread of its own, beside `vm`).
pub fn probe(addr: SocketAddr, timeout: Duration) -> Finding {
    let expected = format!("a TCP listener at {addr}");
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Finding::new(
            CheckId::Port,
            Status::Pass,
            format!("{addr} accepts TCP connections"),
        )
        .expected(expected)
        .actual("connected"),
        Err(e) => classify(CheckId::Port, addr, &e, timeout).expected(expected),
    }
}

/// A failed connect as a finding: refused, timed out, unreachable, or the OS's own words.
pub fn classify(id: CheckId, addr: SocketAddr, e: &io::Error, timeout: Duration) -> Finding {
    let (reason, hint) = match e.kind() {
        io::ErrorKind::ConnectionRefused => (
            format!("connection to {addr} refused: the VM is up, but nothing listens on port {}", addr.port()),
            "dockerd is stopped, or listens on another address: in the VM, `systemctl status docker` and \
             `ss -ltnp | grep dockerd`; install vm/etc/systemd/system/docker.service.d/dockvm.conf and \
             `systemctl daemon-reload && systemctl restart docker`"
                .to_owned(),
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            format!("connection to {addr} timed out after {}: no answer at all", human(timeout)),
            "the VM is off or still booting (`dockvm up` starts it and waits), its IP is not the spec's vm.ip, or a firewall \
             drops the packets: `vmrun list`, then in the VM `ip -4 addr` and the firewall rules"
                .to_owned(),
        ),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => (
            format!("{addr} is unreachable: {e}"),
            "no route to the VM's network: is the VMware network adapter (VMnet) enabled, and is vm.ip on \
             its subnet? `ip route get` the address"
                .to_owned(),
        ),
        _ => (format!("cannot connect to {addr}: {e}"), String::new()),
    };
    Finding::new(id, Status::Fail, reason)
        .actual(e.to_string())
        .hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(kind: io::ErrorKind) -> (Status, String, String) {
        let addr: SocketAddr = "192.0.2.1:2375".parse().unwrap();
        let f = classify(
            CheckId::Port,
            addr,
            &io::Error::from(kind),
            Duration::from_secs(2),
        );
        (f.status, f.reason, f.hint)
    }

    #[test]
    fn each_connect_error_is_named_with_its_cause() {
        let (s, r, h) = reason(io::ErrorKind::ConnectionRefused);
        assert_eq!(s, Status::Fail);
        assert!(
            r.contains("refused") && h.contains("systemctl status docker"),
            "{r} / {h}"
        );
        let (_, r, h) = reason(io::ErrorKind::TimedOut);
        assert!(
            r.contains("timed out after 2 s") && h.contains("firewall"),
            "{r} / {h}"
        );
        let (_, r, h) = reason(io::ErrorKind::HostUnreachable);
        assert!(
            r.contains("unreachable") && h.contains("no route"),
            "{r} / {h}"
        );
        let (_, r, h) = reason(io::ErrorKind::NetworkUnreachable);
        assert!(
            r.contains("unreachable") && h.contains("VMnet"),
            "{r} / {h}"
        );
        let (_, r, h) = reason(io::ErrorKind::PermissionDenied);
        assert!(
            r.starts_with("cannot connect to 192.0.2.1:2375") && h.is_empty(),
            "{r} / {h}"
        );
    }
}

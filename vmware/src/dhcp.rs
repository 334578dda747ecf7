//! VMware's DHCP configuration on Windows (`C:\ProgramData\VMware\vmnetdhcp.conf`), the ISC
//! dhcpd 2.0 format: per virtual network a section VMware writes and rewrites, from
//! `# Virtual ethernet segment N` to `# End`, holding the `subnet` declaration (its dynamic
//! `range`, `option routers` on the NAT network) and a `host VMnetN` entry for the host's own
//! adapter. The Virtual Network Editor regenerates those sections; VMware's guide says manual
//! changes "might be lost" when it is used, and to copy them back after. So dockvm's
//! reservation goes after the last section, in a marked block of its own, and `verify` names
//! it when it is gone or no longer matches.

use std::net::Ipv4Addr;

/// A `subnet` declaration and what VMware wrote around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// `VMnetN` from the section's `# Virtual ethernet segment N` comment, if there is one.
    pub vmnet: Option<String>,
    pub network: Ipv4Addr,
    pub netmask: Ipv4Addr,
    /// The dynamic range, inclusive.
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// `option routers` (the NAT device on VMnet8).
    pub routers: Vec<Ipv4Addr>,
}

impl Subnet {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & u32::from(self.netmask) == u32::from(self.network)
    }

    fn in_range(&self, ip: Ipv4Addr) -> bool {
        self.range
            .is_some_and(|(a, b)| (u32::from(a)..=u32::from(b)).contains(&u32::from(ip)))
    }
}

/// A `host NAME { hardware ethernet MAC; fixed-address IP; }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub mac: Option<String>,
    pub fixed: Option<Ipv4Addr>,
}

/// What the file declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conf {
    pub subnets: Vec<Subnet>,
    pub hosts: Vec<Host>,
}

/// The file's statements, comments dropped: `# Virtual ethernet segment N` kept as a marker.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let (code, comment) = match line.find('#') {
            Some(i) => (&line[..i], Some(line[i + 1..].trim())),
            None => (line, None),
        };
        let mut cur = String::new();
        let mut quoted = false;
        for c in code.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    cur.push(c);
                }
                '{' | '}' | ';' if !quoted => {
                    if !cur.trim().is_empty() {
                        out.push(cur.trim().to_owned());
                    }
                    cur.clear();
                    out.push(c.to_string());
                }
                _ => cur.push(c),
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_owned());
        }
        if let Some(n) = comment.and_then(|c| c.strip_prefix("Virtual ethernet segment ")) {
            out.push(format!("#segment {}", n.trim()));
        }
    }
    out
}

/// Reads the subnets and hosts (other statements are skipped).
pub fn parse(text: &str) -> Conf {
    let t = tokens(text);
    let mut conf = Conf::default();
    let mut segment: Option<String> = None;
    let mut i = 0;
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    while i < t.len() {
        let w = words(&t[i]);
        if let Some(n) = t[i].strip_prefix("#segment ") {
            segment = Some(format!("VMnet{n}"));
            i += 1;
            continue;
        }
        let block = t.get(i + 1).map(String::as_str) == Some("{");
        match (w.first().map(String::as_str), block) {
            (Some("subnet"), true) if w.len() >= 4 => {
                let (Ok(network), Ok(netmask)) = (w[1].parse(), w[3].parse()) else {
                    i += 1;
                    continue;
                };
                let mut s = Subnet {
                    vmnet: segment.take(),
                    network,
                    netmask,
                    range: None,
                    routers: Vec::new(),
                };
                i += 2;
                while i < t.len() && t[i] != "}" {
                    let w = words(&t[i]);
                    match w.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                        ["range", a, b] => {
                            if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                                s.range = Some((a, b));
                            }
                        }
                        ["option", "routers", ref rest @ ..] => {
                            s.routers = rest
                                .join(" ")
                                .split(',')
                                .filter_map(|r| r.trim().parse().ok())
                                .collect();
                        }
                        _ => {}
                    }
                    i += 1;
                }
                conf.subnets.push(s);
            }
            (Some("host"), true) if w.len() >= 2 => {
                let mut h = Host {
                    name: w[1].clone(),
                    mac: None,
                    fixed: None,
                };
                i += 2;
                while i < t.len() && t[i] != "}" {
                    let w = words(&t[i]);
                    match w.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                        ["hardware", "ethernet", mac] => h.mac = Some(mac.to_lowercase()),
                        ["fixed-address", ip] => h.fixed = ip.parse().ok(),
                        _ => {}
                    }
                    i += 1;
                }
                conf.hosts.push(h);
            }
            _ => {}
        }
        i += 1;
    }
    conf
}

/// Whether `mac` is a MAC address as the file takes it: six pairs of hex digits, colons between.
pub fn is_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The name of dockvm's reservation for a VM.
pub fn host_name(vm: &str) -> String {
    format!("dockvm-{vm}")
}

/// dockvm's reservation, as the lines of its marked block (without the markers).
pub fn reservation(vm: &str, mac: &str, ip: Ipv4Addr, eol: &str) -> String {
    format!(
        "host {} {{{eol}    hardware ethernet {mac};{eol}    fixed-address {ip};{eol}}}{eol}",
        host_name(vm)
    )
}

/// Why `ip` cannot be reserved on `vmnet` in this file, or the subnet it can be reserved in.
pub fn check_address<'c>(
    conf: &'c Conf,
    vmnet: &str,
    ip: Ipv4Addr,
    vm: &str,
    mac: &str,
) -> Result<&'c Subnet, String> {
    let Some(s) = conf
        .subnets
        .iter()
        .find(|s| {
            s.vmnet
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case(vmnet))
        })
        .or_else(|| {
            conf.subnets
                .iter()
                .find(|s| s.vmnet.is_none() && s.contains(ip))
        })
    else {
        let known: Vec<String> = conf
            .subnets
            .iter()
            .map(|s| {
                format!(
                    "{} {}/{}",
                    s.vmnet.as_deref().unwrap_or("?"),
                    s.network,
                    s.netmask
                )
            })
            .collect();
        return Err(format!(
            "has no subnet for {vmnet}, the network the VM's adapter is on (it has: {}); is DHCP enabled for {vmnet} in VMware's Virtual Network Editor?",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ));
    };
    let net = format!("{} netmask {}", s.network, s.netmask);
    if !s.contains(ip) {
        return Err(format!(
            "vm.ip {ip} is outside {vmnet}'s subnet {net}: set vm.ip to an address in it, outside its dynamic range{}",
            s.range
                .map(|(a, b)| format!(" {a}-{b}"))
                .unwrap_or_default()
        ));
    }
    if let Some((a, b)) = s.range.filter(|_| s.in_range(ip)) {
        return Err(format!(
            "vm.ip {ip} is inside {vmnet}'s dynamic range {a}-{b}: DHCP may give it to another VM; set vm.ip to an address of {net} outside that range"
        ));
    }
    let last = u32::from(s.network) | !u32::from(s.netmask);
    if ip == s.network || u32::from(ip) == last {
        return Err(format!(
            "vm.ip {ip} is {net}'s network or broadcast address"
        ));
    }
    if s.routers.contains(&ip) {
        return Err(format!(
            "vm.ip {ip} is the NAT gateway's address on {vmnet} (option routers): pick another address of {net}"
        ));
    }
    let ours = host_name(vm);
    if let Some(h) = conf
        .hosts
        .iter()
        .find(|h| h.fixed == Some(ip) && h.name != ours)
    {
        let whose = if h.name.eq_ignore_ascii_case(vmnet) {
            "the host's own adapter".to_owned()
        } else if h.mac.as_deref() == Some(mac) {
            "this VM's MAC already, under another name".to_owned()
        } else {
            format!("host {}", h.name)
        };
        return Err(format!(
            "vm.ip {ip} is reserved already, for {whose} (host {} in the file)",
            h.name
        ));
    }
    Ok(s)
}

/// dockvm's reservation for a VM, against the MAC its .vmx gives now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinned {
    /// `host dockvm-<vm>` reserves vm.ip for the MAC of one of the VM's adapters.
    Matches,
    /// No `host dockvm-<vm>` (never installed, or the Virtual Network Editor rewrote the file).
    Missing,
    /// The reservation's MAC or address is not the VM's now (the VM was copied or moved, or
    /// vm.ip changed since install).
    Stale { reserved: String, now: String },
}

/// What the file holds for `vm`; `None` when the .vmx does not say (no MAC yet).
pub fn pinned(vm: &str, ip: Ipv4Addr, vmx: &crate::vmx::Vmx, conf: &Conf) -> Option<Pinned> {
    let macs: Vec<String> = vmx.adapters().into_iter().filter_map(|a| a.mac).collect();
    if macs.is_empty() {
        return None;
    }
    let name = host_name(vm);
    let Some(h) = conf.hosts.iter().find(|h| h.name == name) else {
        return Some(Pinned::Missing);
    };
    let mac = h.mac.clone().unwrap_or_default();
    if macs.contains(&mac) && h.fixed == Some(ip) {
        return Some(Pinned::Matches);
    }
    Some(Pinned::Stale {
        reserved: format!(
            "{} for {mac}",
            h.fixed
                .map(|f| f.to_string())
                .unwrap_or_else(|| "no address".into())
        ),
        now: format!("{ip} for {}", macs.join(" or ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VMware Workstation's own file, as it writes it (CRLF on Windows).
    pub const VMWARE: &str = "# Configuration file for ISC 2.0 vmnet-dhcpd operating on NAT.\r\n#\r\n# This file was automatically generated by the VMware configuration program.\r\n# See Instructions below if you want to modify it.\r\n#\r\nallow unknown-clients;\r\ndefault-lease-time 1800;                # default is 30 minutes\r\nmax-lease-time 7200;                    # default is 2 hours\r\n\r\n# Virtual ethernet segment 1\r\n# Added at 12/02/26 10:00:00\r\nsubnet 192.168.47.0 netmask 255.255.255.0 {\r\nrange 192.168.47.128 192.168.47.254;            # default allows up to 125 VM's\r\noption broadcast-address 192.168.47.255;\r\noption domain-name-servers 192.168.47.1;\r\noption domain-name \"localdomain\";\r\ndefault-lease-time 1800;\r\nmax-lease-time 7200;\r\n}\r\nhost VMnet1 {\r\n    hardware ethernet 00:50:56:C0:00:01;\r\n    fixed-address 192.168.47.1;\r\n    option domain-name-servers 0.0.0.0;\r\n    option domain-name \"\";\r\n}\r\n# End\r\n\r\n# Virtual ethernet segment 8\r\n# Added at 12/02/26 10:00:01\r\nsubnet 192.168.130.0 netmask 255.255.255.0 {\r\nrange 192.168.130.128 192.168.130.254;            # default allows up to 125 VM's\r\noption broadcast-address 192.168.130.255;\r\noption domain-name-servers 192.168.130.2;\r\noption domain-name \"localdomain\";\r\noption netbios-name-servers 192.168.130.2;\r\noption routers 192.168.130.2;\r\ndefault-lease-time 1800;\r\nmax-lease-time 7200;\r\n}\r\nhost VMnet8 {\r\n    hardware ethernet 00:50:56:C0:00:08;\r\n    fixed-address 192.168.130.1;\r\n    option domain-name-servers 0.0.0.0;\r\n    option domain-name \"\";\r\n    option routers 0.0.0.0;\r\n}\r\n# End\r\n";

    #[test]
    fn vmware_s_own_file_is_read_by_segment() {
        let c = parse(VMWARE);
        assert_eq!(c.subnets.len(), 2);
        let nat = &c.subnets[1];
        assert_eq!(nat.vmnet.as_deref(), Some("VMnet8"));
        assert_eq!(nat.network, Ipv4Addr::new(192, 168, 130, 0));
        assert_eq!(
            nat.range,
            Some((
                Ipv4Addr::new(192, 168, 130, 128),
                Ipv4Addr::new(192, 168, 130, 254)
            ))
        );
        assert_eq!(nat.routers, [Ipv4Addr::new(192, 168, 130, 2)]);
        assert_eq!(c.hosts[1].name, "VMnet8");
        assert_eq!(c.hosts[1].fixed, Some(Ipv4Addr::new(192, 168, 130, 1)));
    }

    #[test]
    fn only_a_mac_is_a_mac() {
        assert!(is_mac("00:0c:29:5a:3b:7c") && is_mac("00:0C:29:5A:3B:7C"));
        for bad in [
            "",
            "00:0c:29:5a:3b",
            "00:0c:29:5a:3b:7c; }",
            "00-0c-29-5a-3b-7c",
            "00:0c:29:5a:3b:7g",
        ] {
            assert!(!is_mac(bad), "{bad}");
        }
    }

    #[test]
    fn each_address_that_cannot_be_reserved_is_refused_with_what_would_do() {
        let c = parse(VMWARE);
        let mac = "00:0c:29:ab:cd:ef";
        let ok = |ip: &str| check_address(&c, "VMnet8", ip.parse().unwrap(), "dev", mac);
        assert!(ok("192.168.130.50").is_ok());
        for (ip, says) in [
            (
                "192.168.131.5",
                "outside VMnet8's subnet 192.168.130.0 netmask 255.255.255.0",
            ),
            (
                "192.168.130.200",
                "inside VMnet8's dynamic range 192.168.130.128-192.168.130.254",
            ),
            ("192.168.130.2", "the NAT gateway's address"),
            ("192.168.130.1", "for the host's own adapter"),
            ("192.168.130.0", "network or broadcast"),
        ] {
            let e = ok(ip).unwrap_err();
            assert!(e.contains(says), "{ip}: {e}");
        }
        let e =
            check_address(&c, "VMnet3", "192.168.130.50".parse().unwrap(), "dev", mac).unwrap_err();
        assert!(
            e.contains("has no subnet for VMnet3") && e.contains("VMnet8 192.168.130.0"),
            "{e}"
        );
    }
}

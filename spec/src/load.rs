//! Phase two: from the raw, spanned spec to a [`Spec`], collecting every problem at once.

use crate::defaults;
use crate::diag::{Diagnostic, SpecError, line_of};
use crate::raw::{RawDocker, RawShare, RawSpec, RawVm, RawVmware, RawWindows, RawWsl, S};
use crate::types::*;
use std::net::Ipv4Addr;
use std::ops::Range;
use toml::Spanned;

/// A loaded spec with the warnings it deserves (valid, but risky).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub spec: Spec,
    pub warnings: Vec<Diagnostic>,
}

/// Loads a spec from its text; `file` is how diagnostics name it.
///
/// Structural problems (TOML syntax, an unknown key, a value of the wrong TOML type) stop
/// the parse at the first one, as the TOML parser does; every value problem after that is
/// collected, so a spec with five bad values gets five diagnostics in one run.
pub fn load_str(file: &str, text: &str) -> Result<Loaded, SpecError> {
    // Notepad may save with a UTF-8 BOM; it carries no meaning, so it is not an error.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: RawSpec = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            return Err(SpecError {
                diagnostics: vec![structural(file, text, &e)],
            });
        }
    };
    let mut v = Validator {
        file,
        text,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let spec = v.spec(raw);
    match spec {
        Some(spec) if v.errors.is_empty() => Ok(Loaded {
            spec,
            warnings: v.warnings,
        }),
        _ => {
            v.errors.sort_by_key(|d| d.line);
            Err(SpecError {
                diagnostics: v.errors,
            })
        }
    }
}

/// A TOML parser error as a diagnostic: the line from its span, the key from the text there.
fn structural(file: &str, text: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let message = e.message().trim().trim_end_matches('.').replace('\n', "; ");
    // serde speaks of fields; the spec has keys.
    let message = message
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("expected i64", "expected an integer");
    Diagnostic {
        file: file.to_owned(),
        line: line_of(text, span.start),
        key: key_at(text, span.start),
        value: None,
        message: if message.is_empty() {
            "invalid TOML".into()
        } else {
            message
        },
    }
}

/// Best-effort dotted key for a byte offset: the last table header before it plus the key
/// written at the start of its line. Used only for parser errors, which carry a span but no key.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let this = line.trim();
    if this.starts_with('[') {
        return this
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_owned();
    }
    let key = this
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .to_owned();
    match (header, key.is_empty()) {
        (Some(h), false) => format!("{h}.{key}"),
        (Some(h), true) => h,
        (None, false) => key,
        (None, true) => "(document)".to_owned(),
    }
}

/// What an absent key means.
enum Absent<'a> {
    /// The key defaults to this value (itself valid).
    Default(&'a str),
    /// The key is required; the example shows a valid line.
    Required(&'a str),
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn diag(
        &self,
        span: Range<usize>,
        key: &str,
        value: Option<String>,
        message: String,
    ) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            line: line_of(self.text, span.start),
            key: key.to_owned(),
            value,
            message,
        }
    }

    fn error(&mut self, span: Range<usize>, key: &str, value: Option<String>, message: String) {
        let d = self.diag(span, key, value, message);
        self.errors.push(d);
    }

    fn warn(&mut self, span: Range<usize>, key: &str, value: Option<String>, message: String) {
        let d = self.diag(span, key, value, message);
        self.warnings.push(d);
    }

    /// A string field: its parsed value, the default when absent, or `None` after recording
    /// the problem. `table` locates a missing required key.
    fn field<T>(
        &mut self,
        key: &str,
        raw: &S<String>,
        absent: Absent<'_>,
        table: &Range<usize>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        match (raw, absent) {
            (Some(v), _) => match parse(v.get_ref()) {
                Ok(t) => Some(t),
                Err(msg) => {
                    self.error(v.span(), key, Some(format!("{:?}", v.get_ref())), msg);
                    None
                }
            },
            (None, Absent::Default(d)) => Some(parse(d).expect("built-in defaults are valid")),
            (None, Absent::Required(example)) => {
                let msg = format!("missing, and it has no default; add it, like {example}");
                self.error(table.clone(), key, None, msg);
                None
            }
        }
    }

    fn spec(&mut self, raw: RawSpec) -> Option<Spec> {
        let whole = 0..0;
        let vm = self.vm(raw.vm, &whole);
        let docker = self.docker(raw.docker, vm.as_ref().map(|v| v.ip), &whole);
        let vmware = self.vmware(raw.vmware, &whole);
        let windows = self.windows(raw.windows, &whole);
        let wsl = self.wsl(raw.wsl, &whole);
        let shares = self.shares(raw.shares, &whole);
        Some(Spec {
            vm: vm?,
            docker: docker?,
            vmware: vmware?,
            windows: windows?,
            wsl: wsl?,
            shares: shares?,
        })
    }

    fn vm(&mut self, raw: Option<Spanned<RawVm>>, whole: &Range<usize>) -> Option<Vm> {
        let (span, r) = split(
            raw,
            whole,
            RawVm {
                name: None,
                vmx: None,
                ip: None,
                hostname: None,
            },
        );
        let name = self.field(
            "vm.name",
            &r.name,
            Absent::Default(defaults::VM_NAME),
            &span,
            VmName::parse,
        );
        let vmx = self.field(
            "vm.vmx",
            &r.vmx,
            Absent::Required(r"vmx = 'D:\vmware\dev\dev.vmx'"),
            &span,
            |s| {
                let p = WindowsPath::parse(s)?;
                if p.file_name().to_ascii_lowercase().ends_with(".vmx") && !p.is_drive_root() {
                    Ok(p)
                } else {
                    Err(
                        r"expected the path of the VM's .vmx file, like D:\vmware\dev\dev.vmx"
                            .into(),
                    )
                }
            },
        );
        let ip = self.field(
            "vm.ip",
            &r.ip,
            Absent::Required(r#"ip = "192.168.130.2""#),
            &span,
            parse_vm_ip,
        );
        let hostname = self.field(
            "vm.hostname",
            &r.hostname,
            Absent::Default(defaults::HOSTNAME),
            &span,
            Hostname::parse,
        );
        Some(Vm {
            name: name?,
            vmx: vmx?,
            ip: ip?,
            hostname: hostname?,
        })
    }

    fn docker(
        &mut self,
        raw: Option<Spanned<RawDocker>>,
        ip: Option<Ipv4Addr>,
        whole: &Range<usize>,
    ) -> Option<Docker> {
        let (span, r) = split(
            raw,
            whole,
            RawDocker {
                port: None,
                listen: None,
                package: None,
                tls: None,
            },
        );
        let tls = r.tls.as_ref().is_some_and(|t| *t.get_ref());
        let port = match &r.port {
            // Docker's own convention: 2375 plain, 2376 with TLS.
            None => Some(if tls {
                defaults::TLS_PORT
            } else {
                defaults::PORT
            }),
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    self.error(
                        p.span(),
                        "docker.port",
                        Some(p.get_ref().to_string()),
                        "expected a TCP port from 1 to 65535, like 2375".into(),
                    );
                    None
                }
            },
        };
        let listen = match (&r.listen, ip) {
            (None, ip) => ip,
            (Some(l), ip) => match l.get_ref().parse::<Ipv4Addr>() {
                Ok(a) if a.is_unspecified() => {
                    let what = if tls { "TLS" } else { "plain-TCP" };
                    self.warn(l.span(), "docker.listen", Some(format!("{:?}", l.get_ref())),
                        format!("dockerd will accept {what} connections on every interface of the VM, not only the VMware network; prefer vm.ip"));
                    Some(a)
                }
                Ok(a) if Some(a) == ip => Some(a),
                Ok(_) => {
                    self.error(l.span(), "docker.listen", Some(format!("{:?}", l.get_ref())),
                        "clients reach dockerd at vm.ip, so it must listen there; expected vm.ip (the default) or \"0.0.0.0\"".into());
                    None
                }
                Err(_) => {
                    self.error(
                        l.span(),
                        "docker.listen",
                        Some(format!("{:?}", l.get_ref())),
                        "not an IPv4 address; expected vm.ip (the default) or \"0.0.0.0\"".into(),
                    );
                    None
                }
            },
        };
        let package = self.field(
            "docker.package",
            &r.package,
            Absent::Default(defaults::PACKAGE),
            &span,
            Package::parse,
        );
        Some(Docker {
            port: port?,
            listen: listen?,
            package: package?,
            tls,
        })
    }

    fn vmware(&mut self, raw: Option<Spanned<RawVmware>>, whole: &Range<usize>) -> Option<Vmware> {
        let (span, r) = split(
            raw,
            whole,
            RawVmware {
                vmrun: None,
                pin_ip: None,
                dhcp_conf: None,
            },
        );
        let vmrun = self.field(
            "vmware.vmrun",
            &r.vmrun,
            Absent::Default(defaults::VMRUN),
            &span,
            |s| {
                let p = WindowsPath::parse(s)?;
                if p.file_name().to_ascii_lowercase().ends_with(".exe") {
                    Ok(p)
                } else {
                    Err(format!(
                        "expected the path of vmrun.exe, like {}",
                        defaults::VMRUN
                    ))
                }
            },
        );
        let dhcp_conf = self.field(
            "vmware.dhcp_conf",
            &r.dhcp_conf,
            Absent::Default(defaults::DHCP_CONF),
            &span,
            WindowsPath::parse,
        );
        Some(Vmware {
            vmrun: vmrun?,
            pin_ip: r.pin_ip.map(|b| *b.get_ref()).unwrap_or(true),
            dhcp_conf: dhcp_conf?,
        })
    }

    fn windows(
        &mut self,
        raw: Option<Spanned<RawWindows>>,
        whole: &Range<usize>,
    ) -> Option<Windows> {
        let (span, r) = split(
            raw,
            whole,
            RawWindows {
                docker_dir: None,
                autostart: None,
                compose_paths: None,
                endpoint: None,
            },
        );
        let docker_dir = self.field("windows.docker_dir", &r.docker_dir, Absent::Default(defaults::DOCKER_DIR), &span, |s| {
            if s.contains(';') {
                return Err(r"contains ';', the Path separator, which would add a second entry to Path; expected one folder, like C:\Program Files\Docker".into());
            }
            WindowsPath::parse(s)
        });
        let endpoint = self.field(
            "windows.endpoint",
            &r.endpoint,
            Absent::Default(defaults::ENDPOINT),
            &span,
            WindowsEndpoint::parse,
        );
        Some(Windows {
            docker_dir: docker_dir?,
            autostart: r.autostart.map(|b| *b.get_ref()).unwrap_or(false),
            compose_paths: r.compose_paths.map(|b| *b.get_ref()).unwrap_or(true),
            endpoint: endpoint?,
        })
    }

    fn wsl(&mut self, raw: Option<Spanned<RawWsl>>, whole: &Range<usize>) -> Option<Wsl> {
        let (span, r) = split(
            raw,
            whole,
            RawWsl {
                automount_root: None,
                profile: None,
            },
        );
        let root = self.field(
            "wsl.automount_root",
            &r.automount_root,
            Absent::Default(defaults::AUTOMOUNT_ROOT),
            &span,
            PosixDir::parse,
        );
        let profile = self.field(
            "wsl.profile",
            &r.profile,
            Absent::Default(defaults::PROFILE),
            &span,
            ProfilePath::parse,
        );
        Some(Wsl {
            automount_root: root?,
            profile: profile?,
        })
    }

    fn shares(
        &mut self,
        raw: Option<Spanned<Vec<Spanned<RawShare>>>>,
        whole: &Range<usize>,
    ) -> Option<Vec<Share>> {
        let Some(list) = raw else {
            self.error(whole.clone(), "shares", None,
                "missing; add at least one [[shares]] table with name and host_path, like name = \"d\", host_path = 'D:\\'".into());
            return None;
        };
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                "shares",
                None,
                "empty; expected at least one [[shares]] table".into(),
            );
            return None;
        }
        let mut out: Vec<(Range<usize>, Share)> = Vec::new();
        let mut all_ok = true;
        for (i, item) in list.into_inner().into_iter().enumerate() {
            let span = item.span();
            let r = item.into_inner();
            let name = self.field(
                &format!("shares[{i}].name"),
                &r.name,
                Absent::Required(r#"name = "d""#),
                &span,
                ShareName::parse,
            );
            let host_path = self.field(
                &format!("shares[{i}].host_path"),
                &r.host_path,
                Absent::Required(r"host_path = 'D:\'"),
                &span,
                WindowsPath::parse,
            );
            let (Some(name), Some(host_path)) = (name, host_path) else {
                all_ok = false;
                continue;
            };
            for (_, prev) in &out {
                if prev.name.as_str().eq_ignore_ascii_case(name.as_str()) {
                    let at = r.name.as_ref().map_or(span.clone(), Spanned::span);
                    self.error(at, &format!("shares[{i}].name"), Some(format!("{:?}", name.as_str())),
                        format!("a share named {:?} is already defined; expected a unique name (compared ignoring case)", prev.name.as_str()));
                    all_ok = false;
                } else if host_path.starts_with(&prev.host_path)
                    || prev.host_path.starts_with(&host_path)
                {
                    let at = r.host_path.as_ref().map_or(span.clone(), Spanned::span);
                    self.error(at, &format!("shares[{i}].host_path"), Some(format!("{:?}", host_path.as_str())),
                        format!("overlaps share {:?} ({}); one folder would be reachable at two paths in the VM. Expected folders that do not contain each other", prev.name.as_str(), prev.host_path));
                    all_ok = false;
                }
            }
            out.push((span, Share { name, host_path }));
        }
        all_ok.then(|| out.into_iter().map(|(_, s)| s).collect())
    }
}

/// The default vmrun.exe location (Workstation up to 17.x).
fn parse_vm_ip(s: &str) -> Result<Ipv4Addr, String> {
    const VALID: &str = "expected the VM's fixed IPv4 address, like \"192.168.130.2\"";
    match s.parse::<Ipv4Addr>() {
        Ok(a) if a.is_unspecified() || a.is_broadcast() || a.is_multicast() => {
            Err(format!("not a host address; {VALID}"))
        }
        Ok(a) => Ok(a),
        Err(_) => Err(format!("not an IPv4 address; {VALID}")),
    }
}

/// A table and its span, or an empty table located at `whole` when it is absent.
fn split<T>(raw: Option<Spanned<T>>, whole: &Range<usize>, empty: T) -> (Range<usize>, T) {
    match raw {
        Some(s) => (s.span(), s.into_inner()),
        None => (whole.clone(), empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_spec_loads_without_warnings() {
        let l = load_str("default", crate::DEFAULT_SPEC).unwrap();
        assert!(l.warnings.is_empty());
        assert_eq!(l.spec.docker_host(), "tcp://local.test:2375");
        assert_eq!(l.spec.listen_url(), "tcp://192.168.130.2:2375");
        assert_eq!(l.spec.wsl_path(&l.spec.shares[0]), "/mnt/d");
    }

    #[test]
    fn omitted_keys_take_their_defaults_and_listen_follows_the_ip() {
        let l = load_str("min", "[vm]\nvmx = 'C:\\v\\v.vmx'\nip = \"10.1.2.3\"\n[[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n").unwrap();
        assert_eq!(l.spec.docker.listen, Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(l.spec.docker.port, 2375);
        assert_eq!(l.spec.docker.package, Package::DockerCe);
        assert_eq!(l.spec.vm.hostname.as_str(), "local.test");
    }

    #[test]
    fn a_utf8_bom_and_crlf_line_endings_are_accepted() {
        let text = format!("\u{feff}{}", crate::DEFAULT_SPEC.replace('\n', "\r\n"));
        let l = load_str("notepad.toml", &text).unwrap();
        assert_eq!(
            l.spec,
            load_str("default", crate::DEFAULT_SPEC).unwrap().spec
        );
    }

    #[test]
    fn tls_defaults_to_off_and_moves_the_default_port_to_2376() {
        let plain = load_str("d", crate::DEFAULT_SPEC).unwrap().spec;
        assert!(!plain.docker.tls);
        assert_eq!(plain.docker.port, 2375);
        let text = crate::DEFAULT_SPEC.replace("tls = false", "tls = true");
        let tls = load_str("t", &text).unwrap().spec;
        assert!(tls.docker.tls);
        assert_eq!(tls.docker_host(), "tcp://local.test:2376");
        assert_eq!(tls.windows_cert_path(), r"%USERPROFILE%\.docker\dockvm-dev");
        let explicit = text.replace("# port = 2375", "port = 2375");
        assert_eq!(load_str("e", &explicit).unwrap().spec.docker.port, 2375);
        let bad = crate::DEFAULT_SPEC.replace("tls = false", "tls = \"yes\"");
        let e = load_str("b.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("docker.tls") && e.contains("b.toml:13"), "{e}");
    }

    #[test]
    fn listen_on_all_interfaces_is_a_warning_with_its_line() {
        let text =
            crate::DEFAULT_SPEC.replace(r#"listen = "192.168.130.2""#, r#"listen = "0.0.0.0""#);
        let l = load_str("all.toml", &text).unwrap();
        assert_eq!(l.warnings.len(), 1);
        assert_eq!(l.warnings[0].key, "docker.listen");
        assert_eq!(l.warnings[0].line, 15);
    }

    #[test]
    fn key_at_names_the_table_and_key_of_a_parser_error() {
        let text = "[vm]\nname = 1\n\n[[shares]]\nname = \"d\"\nbad = 2\n";
        assert_eq!(key_at(text, text.find("bad").unwrap()), "shares.bad");
        assert_eq!(key_at(text, text.find("name = 1").unwrap()), "vm.name");
        assert_eq!(key_at(text, 0), "vm");
    }
}

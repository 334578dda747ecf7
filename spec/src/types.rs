//! Phase two's target: spec types that cannot hold a bad value.
//!
//! Each newtype has a `parse` that returns the message for a bad value (lower-case, saying
//! what would be valid); the fields are private, so a value of the type has been checked.

use camino::{Utf8Path, Utf8PathBuf};
use std::fmt;
use std::net::Ipv4Addr;

/// A validated spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub vm: Vm,
    pub docker: Docker,
    pub vmware: Vmware,
    pub windows: Windows,
    pub wsl: Wsl,
    /// One or more, no two with the same name or overlapping folders.
    pub shares: Vec<Share>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vm {
    pub name: VmName,
    pub vmx: WindowsPath,
    pub ip: Ipv4Addr,
    pub hostname: Hostname,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docker {
    /// 1..=65535.
    pub port: u16,
    /// The address dockerd binds in the VM: `vm.ip` or `0.0.0.0`.
    pub listen: Ipv4Addr,
    pub package: Package,
    /// Mutual TLS on the TCP listener (`--tlsverify`): clients need a certificate of the CA.
    pub tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmware {
    pub vmrun: WindowsPath,
    /// Whether install reserves vm.ip for the VM's MAC in VMware's DHCP.
    pub pin_ip: bool,
    /// VMware's DHCP configuration (`vmnetdhcp.conf`).
    pub dhcp_conf: WindowsPath,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    /// Folder holding docker.exe; never contains `;` (the Path separator).
    pub docker_dir: WindowsPath,
    /// Whether `dockvm install` adds a `Run` value that starts the VM at sign-in.
    pub autostart: bool,
    /// Whether the Windows environment sets `COMPOSE_CONVERT_WINDOWS_PATHS=1` and the VM links
    /// each share's compose path ([`Spec::compose_path`]) to it.
    pub compose_paths: bool,
    /// How the Windows docker CLI reaches the engine.
    pub endpoint: WindowsEndpoint,
}

/// How docker in cmd and PowerShell reaches the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowsEndpoint {
    /// `DOCKER_HOST=tcp://<hostname>:<port>` (and the TLS variables).
    Tcp,
    /// `dockvm proxy` on Docker's named pipe, [`WindowsEndpoint::PIPE`]: no DOCKER_HOST.
    Pipe,
}

impl WindowsEndpoint {
    pub const VALID: &'static str = r#""tcp" or "pipe""#;
    /// The pipe the proxy serves: Docker's own, the Windows CLI's default endpoint.
    pub const PIPE: &'static str = "docker_engine";

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(Self::Tcp),
            "pipe" => Ok(Self::Pipe),
            _ => Err(format!("unknown endpoint; expected {}", Self::VALID)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Pipe => "pipe",
        }
    }

    /// `npipe:////./pipe/docker_engine`: the pipe as the docker CLI names it.
    pub fn pipe_url() -> String {
        format!("npipe:////./pipe/{}", Self::PIPE)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wsl {
    pub automount_root: PosixDir,
    pub profile: ProfilePath,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub name: ShareName,
    pub host_path: WindowsPath,
}

impl Spec {
    /// `tcp://<hostname>:<port>`: what DOCKER_HOST must be on Windows and in WSL.
    pub fn docker_host(&self) -> String {
        format!("tcp://{}:{}", self.vm.hostname, self.docker.port)
    }

    /// `tcp://<listen>:<port>`: the TCP listener dockerd gets in the VM.
    pub fn listen_url(&self) -> String {
        format!("tcp://{}:{}", self.docker.listen, self.docker.port)
    }

    /// [`crate::tls::client_dir_name`] of this VM.
    pub fn cert_dir_name(&self) -> String {
        crate::tls::client_dir_name(self.vm.name.as_str())
    }

    /// [`crate::tls::windows_cert_path`] of this VM.
    pub fn windows_cert_path(&self) -> String {
        crate::tls::windows_cert_path(self.vm.name.as_str())
    }

    /// The path at which WSL sees a share's Windows folder (drvfs automount).
    pub fn wsl_path(&self, share: &Share) -> Utf8PathBuf {
        share.host_path.wsl_path(&self.wsl.automount_root)
    }

    /// The path `docker compose` sends for a share's folder from Windows
    /// ([`crate::translate::compose_convert`]: `D:\projects` is `/d/projects`), when the spec
    /// wants it linked in the VM and it is not the WSL path already (automount root `/`).
    pub fn compose_path(&self, share: &Share) -> Option<Utf8PathBuf> {
        if !self.windows.compose_paths {
            return None;
        }
        let p = share.host_path.compose_path();
        (p != self.wsl_path(share)).then_some(p)
    }

    /// Every path the VM links to a share: its WSL path, then its compose path if any.
    pub fn vm_paths(&self, share: &Share) -> Vec<Utf8PathBuf> {
        let mut v = vec![self.wsl_path(share)];
        v.extend(self.compose_path(share));
        v
    }
}

impl Share {
    /// Where open-vm-tools' vmhgfs-fuse shows the share in the VM.
    pub fn vm_mount(&self) -> Utf8PathBuf {
        Utf8PathBuf::from(format!("{}/{}", HGFS_ROOT, self.name))
    }
}

/// Where vmhgfs-fuse mounts all shared folders in the VM.
pub const HGFS_ROOT: &str = "/mnt/hgfs";

/// Which Docker package the VM runs; it decides the stock `ExecStart` the drop-in replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    /// Docker's own packages (get.docker.com): `/usr/bin/dockerd`.
    DockerCe,
    /// Debian/Ubuntu's `docker.io`: `/usr/sbin/dockerd` with `$DOCKER_OPTS`.
    DockerIo,
}

impl Package {
    pub const VALID: &'static str = r#""docker-ce" or "docker.io""#;

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "docker-ce" => Ok(Self::DockerCe),
            "docker.io" => Ok(Self::DockerIo),
            _ => Err(format!("unknown package; expected {}", Self::VALID)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DockerCe => "docker-ce",
            Self::DockerIo => "docker.io",
        }
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

/// `[a-z0-9-]`, 1 to 32 characters, starting with a letter or digit: it names files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmName(String);
string_newtype!(VmName);

impl VmName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("expected 1 to 32 of a-z, 0-9 and -, not starting with -, like \"dev\"".into())
        }
    }
}

/// A DNS host name (RFC 1123): labels of letters, digits and `-`, joined by dots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(String);
string_newtype!(Hostname);

impl Hostname {
    pub fn parse(s: &str) -> Result<Self, String> {
        const VALID: &str = "expected a host name of letters, digits, - and dots (no _ or spaces, \
                             labels of 1 to 63 characters not starting or ending with -), like \"local.test\"";
        if s.is_empty() || s.len() > 253 {
            return Err(VALID.into());
        }
        let labels: Vec<&str> = s.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !labels.iter().all(label_ok) {
            return Err(VALID.into());
        }
        if labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(
                "a host name must not end in an all-digit label (it reads as an address); \
                        use a name like \"local.test\""
                    .into(),
            );
        }
        Ok(Self(s.to_owned()))
    }
}

/// A VMware shared-folder name: it appears in the VM as `/mnt/hgfs/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareName(String);
string_newtype!(ShareName);

impl ShareName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric();
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(
                "expected 1 to 64 of A-Z, a-z, 0-9, _, - and ., starting with a letter or digit, \
                 like \"d\""
                    .into(),
            )
        }
    }
}

/// An absolute Windows path on a drive (`D:\...`), safe to put in a .bat, .reg or .ps1 after
/// encoding: no double quote, no control character, no character Windows forbids in a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsPath(String);
string_newtype!(WindowsPath);

/// Names Windows reserves for devices, with or without an extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

impl WindowsPath {
    /// Longest path accepted: MAX_PATH less the terminating NUL; vmrun and cmd use the
    /// classic API and do not take long paths.
    pub const MAX_LEN: usize = 259;

    pub fn parse(s: &str) -> Result<Self, String> {
        const EXAMPLE: &str = r"an absolute path on a drive, like D:\vmware\dev\dev.vmx";
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(format!(
                "contains the control character {c:?}; expected {EXAMPLE} on one line"
            ));
        }
        if s.contains('"') {
            return Err(format!(
                "contains a double quote, which no Windows path can hold; expected {EXAMPLE}, without quotes"
            ));
        }
        if s.starts_with(r"\\") {
            return Err(format!(
                "UNC and device paths are not supported; expected {EXAMPLE}"
            ));
        }
        let b = s.as_bytes();
        if b.len() < 3 || !b[0].is_ascii_alphabetic() || b[1] != b':' || b[2] != b'\\' {
            let hint = if s.contains('/') {
                " (with backslashes)"
            } else {
                ""
            };
            return Err(format!(
                "not an absolute Windows path; expected {EXAMPLE}{hint}"
            ));
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!(
                "longer than {} characters (MAX_PATH)",
                Self::MAX_LEN
            ));
        }
        let rest = &s[3..];
        if rest.is_empty() {
            return Ok(Self(s.to_owned()));
        }
        if rest.ends_with('\\') {
            return Err(r"ends with a backslash; write folders without one (D:\work), except a drive root (D:\)".into());
        }
        for comp in rest.split('\\') {
            if comp.is_empty() {
                return Err(
                    r"has an empty component (\\); expected single backslashes between names"
                        .into(),
                );
            }
            if comp == "." || comp == ".." {
                return Err("has a . or .. component; expected a path without them".into());
            }
            if let Some(c) = comp
                .chars()
                .find(|c| matches!(c, '<' | '>' | ':' | '/' | '|' | '?' | '*'))
            {
                return Err(format!(
                    "the name {comp:?} contains {c:?}, which Windows forbids in file names (< > : / | ? *)"
                ));
            }
            if comp.ends_with(' ') || comp.ends_with('.') {
                return Err(format!(
                    "the name {comp:?} ends with a space or a dot, which Windows strips"
                ));
            }
            let stem = comp.split('.').next().unwrap_or(comp).trim_end();
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
                return Err(format!(
                    "the name {comp:?} is reserved for a device in Windows"
                ));
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The drive letter, lower-case (what WSL's automount uses).
    pub fn drive(&self) -> char {
        self.0.as_bytes()[0].to_ascii_lowercase() as char
    }

    /// The components after the drive root.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0[3..].split('\\').filter(|c| !c.is_empty())
    }

    pub fn is_drive_root(&self) -> bool {
        self.0.len() == 3
    }

    /// The final component (file name), or the drive root itself.
    pub fn file_name(&self) -> &str {
        self.components().last().unwrap_or(&self.0)
    }

    /// Whether `self` is `other` or a folder inside it (Windows compares case-insensitively).
    pub fn starts_with(&self, other: &WindowsPath) -> bool {
        let (a, b) = (self.0.to_lowercase(), other.0.to_lowercase());
        if other.is_drive_root() {
            return a.starts_with(&b);
        }
        a == b || a.starts_with(&format!("{b}\\"))
    }

    /// The path `docker compose` gives this folder from Windows
    /// ([`crate::translate::compose_convert`]), without the drive root's final `/`.
    pub fn compose_path(&self) -> Utf8PathBuf {
        let c = crate::translate::compose_convert(&self.0).expect("a Windows path has a drive");
        Utf8PathBuf::from(match c.trim_end_matches('/') {
            "" => c.as_str(),
            t => t,
        })
    }

    /// Where WSL's drvfs automount shows this path: `<root><drive>/<components>`.
    pub fn wsl_path(&self, root: &PosixDir) -> Utf8PathBuf {
        let mut p = format!("{}{}", root.as_str(), self.drive());
        for c in self.components() {
            p.push('/');
            p.push_str(c);
        }
        Utf8PathBuf::from(p)
    }
}

/// An absolute POSIX folder ending in `/`, of plain characters: `/mnt/` or `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixDir(String);
string_newtype!(PosixDir);

impl PosixDir {
    pub fn parse(s: &str) -> Result<Self, String> {
        let plain = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
        let comps_ok = s[..].split('/').skip(1).all(|c| c != "." && c != "..") && !s.contains("//");
        if s.starts_with('/') && s.ends_with('/') && plain && comps_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("expected an absolute folder of a-z, 0-9, _, -, . and /, ending in /, like \"/mnt/\"".into())
        }
    }
}

/// The shell profile that gets the DOCKER_HOST export: `~/...` or an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfilePath(String);
string_newtype!(ProfilePath);

impl ProfilePath {
    pub fn parse(s: &str) -> Result<Self, String> {
        let plain = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.' | b'~'));
        let anchored = (s.starts_with("~/") && s.len() > 2 && !s[1..].contains('~'))
            || (s.starts_with('/') && !s.contains('~'));
        if plain && anchored && !s.ends_with('/') {
            Ok(Self(s.to_owned()))
        } else {
            Err("expected ~/FILE or an absolute file path of a-z, 0-9, _, -, . and /, like \"~/.profile\"".into())
        }
    }

    /// The path with `~/` resolved against `home`.
    pub fn resolve(&self, home: &Utf8Path) -> Utf8PathBuf {
        match self.0.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => Utf8PathBuf::from(&self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, accepted?) for Windows paths.
    const WINDOWS_PATHS: &[(&str, bool)] = &[
        (r"D:\", true),
        (r"d:\work", true),
        (r"C:\Users\张伟\项目 (2024) & 50% ^x^!", true),
        (r"C:\a'b’c\d.vmx", true),
        (r"D:", false),
        (r"D:work", false),
        (r"\\server\share\x", false),
        (r"\\?\C:\x", false),
        (r"D:/work", false),
        (r"D:\work\", false),
        (r"D:\a\\b", false),
        (r"D:\a\..\b", false),
        (r"D:\a\.\b", false),
        (r#"D:\a"b"#, false),
        ("D:\\a\nb", false),
        ("D:\\a\rb", false),
        ("D:\\a\tb", false),
        (r"D:\a|b", false),
        (r"D:\a*b", false),
        (r"D:\a?b", false),
        (r"D:\a<b", false),
        (r"D:\a:b", false),
        (r"D:\trailing ", false),
        (r"D:\trailing.", false),
        (r"D:\NUL", false),
        (r"D:\com1.txt", false),
        (r"D:\lpt9\x", false),
        (r"D:\console", true),
        ("", false),
    ];

    #[test]
    fn windows_paths_are_accepted_or_refused_as_windows_would() {
        for (input, ok) in WINDOWS_PATHS {
            assert_eq!(
                WindowsPath::parse(input).is_ok(),
                *ok,
                "{input:?}: {:?}",
                WindowsPath::parse(input)
            );
        }
    }

    #[test]
    fn windows_paths_longer_than_max_path_are_refused() {
        let long = format!(r"C:\{}", "a".repeat(WindowsPath::MAX_LEN));
        assert!(WindowsPath::parse(&long).is_err());
        let fits = format!(r"C:\{}", "a".repeat(WindowsPath::MAX_LEN - 3));
        assert!(WindowsPath::parse(&fits).is_ok());
    }

    #[test]
    fn wsl_paths_follow_the_automount_root_with_a_lower_case_drive() {
        let root = PosixDir::parse("/mnt/").unwrap();
        let p = |s: &str| WindowsPath::parse(s).unwrap().wsl_path(&root);
        assert_eq!(p(r"D:\"), "/mnt/d");
        assert_eq!(p(r"D:\Work\项目 1"), "/mnt/d/Work/项目 1");
        let c = |s: &str| WindowsPath::parse(s).unwrap().compose_path();
        assert_eq!(c(r"D:\"), "/d");
        assert_eq!(c(r"D:\Work\项目 1"), "/d/Work/项目 1");
        let slash = PosixDir::parse("/").unwrap();
        assert_eq!(
            WindowsPath::parse(r"E:\x").unwrap().wsl_path(&slash),
            "/e/x"
        );
    }

    #[test]
    fn containment_compares_whole_names_ignoring_case() {
        let p = |s: &str| WindowsPath::parse(s).unwrap();
        assert!(p(r"D:\Work\x").starts_with(&p(r"d:\work")));
        assert!(p(r"D:\work").starts_with(&p(r"D:\")));
        assert!(!p(r"D:\workshop").starts_with(&p(r"D:\work")));
        assert!(!p(r"E:\work").starts_with(&p(r"D:\")));
    }

    #[test]
    fn host_names_follow_rfc_1123() {
        for ok in ["local.test", "a", "docker-vm.internal", "x1.y2", "A.B"] {
            assert!(Hostname::parse(ok).is_ok(), "{ok}");
        }
        let long_label = "a".repeat(64);
        for bad in [
            "",
            "local test",
            "local_test",
            "-a.test",
            "a-.test",
            "a..b",
            ".a",
            "a.",
            "1.2.3.4",
            "a.123",
            &long_label,
        ] {
            assert!(Hostname::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_paths_and_roots() {
        assert!(VmName::parse("dev-1").is_ok());
        for bad in ["", "Dev", "-dev", "dev_1", "dév"] {
            assert!(VmName::parse(bad).is_err(), "{bad:?}");
        }
        for ok in ["d", "D", "my.share-1_x"] {
            assert!(ShareName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "d/x", "d x", ".d", "d\\x", "工作"] {
            assert!(ShareName::parse(bad).is_err(), "{bad:?}");
        }
        for ok in ["/mnt/", "/", "/win/drives/"] {
            assert!(PosixDir::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["mnt/", "/mnt", "/mnt//", "/../", "/m nt/"] {
            assert!(PosixDir::parse(bad).is_err(), "{bad:?}");
        }
        for ok in [
            "~/.profile",
            "~/.config/sh/docker.sh",
            "/etc/profile.d/dockvm.sh",
        ] {
            assert!(ProfilePath::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "~",
            "~/",
            "$HOME/.profile",
            ".profile",
            "~user/.profile",
            "/etc/x y",
        ] {
            assert!(ProfilePath::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ProfilePath::parse("~/.profile")
                .unwrap()
                .resolve("/home/u".into()),
            "/home/u/.profile"
        );
    }
}

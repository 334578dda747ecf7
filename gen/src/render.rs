//! Spec in, artifacts out: pure, deterministic, no file system.
//!
//! Every value reaches a template through an encoder of [`crate::encode`] for that file's
//! format (the templates use `escape = "none"`, so nothing else stands between a value and
//! the file). Templates are LF text; `finish` gives each its final newline and then its
//! consumer's line endings and encoding.

use crate::artifact::{Artifact, Encoding, LineEndings, Side};
use crate::encode::{self, EncodeError};
use askama::Template;
use camino::Utf8PathBuf;
use dockvm_spec::{Package, Spec, WindowsEndpoint, context, tls};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Why rendering failed: a value no encoder could carry, or a template error. A validated
/// spec never causes either; they exist so no code path can paste a value unchecked.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("template {0}: {1}")]
    Template(&'static str, askama::Error),
}

type Result<T> = std::result::Result<T, RenderError>;

/// Renders every artifact of the spec, in a fixed order, `INSTALL.md` and `manifest.json` last.
pub fn render(spec: &Spec) -> Result<Vec<Artifact>> {
    let links = links(spec)?;
    let vm_name = spec.vm.name.to_string();
    let mut out = vec![
        linux(
            "vm/etc/systemd/system/docker.service.d/dockvm.conf",
            Side::Vm,
            "/etc/systemd/system/docker.service.d/dockvm.conf",
            DropIn {
                vm_name: &vm_name,
                listen_url: spec.listen_url(),
                exec_start: exec_start(spec),
                tls: spec.docker.tls,
                tls_dir: tls::VM_DIR,
                listen_any: spec.docker.listen.is_unspecified(),
            }
            .render_to("drop-in")?,
        ),
        linux(
            "vm/etc/systemd/system/mnt-hgfs.mount",
            Side::Vm,
            "/etc/systemd/system/mnt-hgfs.mount",
            MountUnit { vm_name: &vm_name }.render_to("mount unit")?,
        ),
        linux(
            "vm/etc/systemd/system/dockvm-address.service",
            Side::Vm,
            "/etc/systemd/system/dockvm-address.service",
            AddressUnit { vm_name: &vm_name }.render_to("address unit")?,
        ),
        linux(
            "vm/etc/tmpfiles.d/dockvm.conf",
            Side::Vm,
            "/etc/tmpfiles.d/dockvm.conf",
            Tmpfiles {
                vm_name: &vm_name,
                links: &links,
                compose: links.iter().any(|l| l.compose),
            }
            .render_to("tmpfiles")?,
        ),
        windows(
            "windows/hosts.txt",
            Some(r"C:\Windows\System32\drivers\etc\hosts"),
            Encoding::Ascii,
            HostsBlock {
                vm_name: &vm_name,
                ip: encode::ascii(&spec.vm.ip.to_string())?,
                hostname: encode::ascii(spec.vm.hostname.as_str())?,
            }
            .render_to("hosts")?,
        ),
        windows(
            "windows/dockvm-env.reg",
            Some(r"HKEY_CURRENT_USER\Environment"),
            Encoding::Utf16LeBom,
            EnvReg {
                vm_name: &vm_name,
                names: env_names(spec),
                pipe: spec.windows.endpoint == WindowsEndpoint::Pipe,
                compose: spec.windows.compose_paths,
                docker_host: encode::reg_sz(&spec.docker_host())?,
                tls: spec.docker.tls,
                cert_dir_name: spec.cert_dir_name(),
                cert_path_line: encode::reg_expand_sz_line(
                    "DOCKER_CERT_PATH",
                    &spec.windows_cert_path(),
                )?,
            }
            .render_to("env reg")?,
        ),
        windows(
            "windows/dockvm-env-remove.reg",
            Some(r"HKEY_CURRENT_USER\Environment"),
            Encoding::Utf16LeBom,
            EnvRemoveReg {
                vm_name: &vm_name,
                names: env_names(spec),
                tls: spec.docker.tls,
                compose: spec.windows.compose_paths,
            }
            .render_to("env remove reg")?,
        ),
        windows(
            "windows/add-docker-to-path.ps1",
            None,
            Encoding::Utf8Bom,
            AddToPath {
                vm_name: &vm_name,
                docker_dir: encode::ps_single(spec.windows.docker_dir.as_str())?,
            }
            .render_to("path script")?,
        ),
    ];
    let bat = BatValues::new(spec)?;
    out.push(windows(
        "windows/start-vm.bat",
        None,
        Encoding::Utf8,
        StartVm { b: &bat }.render_to("start-vm")?,
    ));
    out.push(windows(
        "windows/stop-vm.bat",
        None,
        Encoding::Utf8,
        StopVm { b: &bat }.render_to("stop-vm")?,
    ));
    out.push(windows(
        "windows/reset-shared-folders.bat",
        None,
        Encoding::Utf8,
        ResetShares { b: &bat }.render_to("reset-shared-folders")?,
    ));
    out.push(windows(
        "windows/dockvm.toml",
        None,
        Encoding::Utf8,
        SpecCopy {
            vm_name: &vm_name,
            s: SpecValues::new(spec)?,
        }
        .render_to("spec copy")?,
    ));
    out.push(linux(
        "wsl/profile.sh",
        Side::Wsl,
        spec.wsl.profile.as_str(),
        Profile {
            vm_name: &vm_name,
            docker_host: encode::sh_word(&spec.docker_host())?,
            tls: spec.docker.tls,
            cert_dir_name: spec.cert_dir_name(),
        }
        .render_to("profile")?,
    ));
    out.push(linux(
        "wsl/wsl.conf",
        Side::Wsl,
        "/etc/wsl.conf",
        WslConf {
            vm_name: &vm_name,
            root: spec.wsl.automount_root.to_string(),
        }
        .render_to("wsl.conf")?,
    ));
    // The docker context, for the CLI's store on each side: the same bytes, the CLI's one line
    // and a final newline (its reader skips it), no secrets (`install --certs` adds the TLS
    // files).
    // With `windows.endpoint = "pipe"`, the Windows side's context names the proxy's pipe (TLS
    // stays inside the proxy).
    let meta_of = |host: &str| {
        finish(
            &context::meta_json(&vm_name, host),
            LineEndings::Lf,
            Encoding::Utf8,
        )
    };
    let meta_rel = context::meta_rel(&vm_name);
    for (side, dir, target, meta) in [
        (
            Side::Wsl,
            "wsl/docker",
            format!("~/.docker/{meta_rel}"),
            meta_of(&spec.docker_host()),
        ),
        (
            Side::Windows,
            "windows/docker",
            format!(r"%USERPROFILE%\.docker\{}", meta_rel.replace('/', "\\")),
            meta_of(&windows_host(spec)),
        ),
    ] {
        out.push(Artifact {
            path: Utf8PathBuf::from(format!("{dir}/{meta_rel}")),
            side,
            target: Some(target),
            mode: 0o644,
            encoding: Encoding::Utf8,
            line_endings: LineEndings::Lf,
            bytes: meta,
        });
    }
    let install = Install {
        vm_name: &vm_name,
        listen_url: spec.listen_url(),
        listen_sock: format!("{}:{}", spec.docker.listen, spec.docker.port),
        listen_all: spec.docker.listen.is_unspecified(),
        docker_host: spec.docker_host(),
        profile: spec.wsl.profile.to_string(),
        root: spec.wsl.automount_root.to_string(),
        first_link: links[0].sh.clone(),
        links: &links,
        compose: spec.windows.compose_paths,
        context_name: context::name(&vm_name),
        context_id: context::id(&vm_name),
        context_meta: context::meta_rel(&vm_name),
        tls: spec.docker.tls,
        tls_dir: tls::VM_DIR,
        cert_dir_name: spec.cert_dir_name(),
        pin_ip: spec.vmware.pin_ip,
        pipe: spec.windows.endpoint == WindowsEndpoint::Pipe,
        ip: spec.vm.ip,
    };
    out.push(Artifact {
        path: "INSTALL.md".into(),
        side: Side::Tree,
        target: None,
        mode: 0o644,
        encoding: Encoding::Utf8,
        line_endings: LineEndings::Lf,
        bytes: finish(
            &install.render_to("INSTALL.md")?,
            LineEndings::Lf,
            Encoding::Utf8,
        ),
    });
    let manifest = manifest(&vm_name, &install_values(spec), &out);
    out.push(Artifact {
        path: MANIFEST.into(),
        side: Side::Tree,
        target: None,
        mode: 0o644,
        encoding: Encoding::Utf8,
        line_endings: LineEndings::Lf,
        bytes: manifest,
    });
    Ok(out)
}

/// The variables the spec puts under `HKCU\Environment`, as prose: "A, B and C".
fn env_names(spec: &Spec) -> String {
    let mut v = vec!["DOCKER_HOST"];
    if spec.docker.tls {
        v.extend(["DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]);
    }
    if spec.windows.compose_paths {
        v.push("COMPOSE_CONVERT_WINDOWS_PATHS");
    }
    match v.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => unreachable!("DOCKER_HOST is always set"),
    }
}

/// The name of the manifest in the output tree; `write` reads it to know what it owns.
pub const MANIFEST: &str = "manifest.json";

/// The dockerd command line for the drop-in: the stock one of the package, plus the TCP
/// listener, either with mutual TLS (`--tlsverify` and the files in [`tls::VM_DIR`]) or with TLS
/// explicitly off (dockerd 27+ otherwise waits 15 s at start, later versions refuse to start).
pub fn exec_start(spec: &Spec) -> String {
    let stock = match spec.docker.package {
        Package::DockerCe => {
            "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"
        }
        // Debian's unit reads EnvironmentFile=-/etc/default/docker; keep $DOCKER_OPTS working.
        Package::DockerIo => {
            "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"
        }
    };
    // Both values are typed (an Ipv4Addr and a u16), the paths constants: nothing to encode.
    if spec.docker.tls {
        let dir = tls::VM_DIR;
        format!(
            "{stock} -H {} --tlsverify --tlscacert={dir}/{} --tlscert={dir}/{} --tlskey={dir}/{}",
            spec.listen_url(),
            tls::CA,
            tls::SERVER_CERT,
            tls::SERVER_KEY
        )
    } else {
        format!("{stock} -H {} --tls=false", spec.listen_url())
    }
}

/// What `dockvm install` needs besides the files, in the manifest: install reads the tree that
/// was generated and reviewed, never the spec, so every value it applies is written down here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InstallValues {
    /// `DOCKER_HOST` for `HKCU\Environment`.
    pub docker_host: String,
    /// The folder appended to the user `Path`.
    pub docker_dir: String,
    /// Whether a `Run` value starts the VM at sign-in.
    pub autostart: bool,
    /// `[automount] root` in `/etc/wsl.conf`.
    pub automount_root: String,
    /// The path-equivalence links the tmpfiles file makes in the VM: each share's WSL path,
    /// then (with `compose_paths`) its compose path.
    pub links: Vec<LinkValue>,
    /// Whether `COMPOSE_CONVERT_WINDOWS_PATHS=1` goes under `HKCU\Environment`. Absent in a
    /// tree generated before `compose_paths` existed: false, as that tree did not set it.
    #[serde(default)]
    pub compose_convert_windows_paths: bool,
    /// With `docker.tls`: where the certificates go and what points clients at them. Absent
    /// for a plain spec, so that its manifest stays as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsValues>,
    /// With `vmware.pin_ip`: the reservation install makes in VMware's DHCP. Absent without it
    /// (and in a tree generated before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_ip: Option<PinValues>,
    /// With `windows.endpoint = "pipe"`: the proxy's pipe (`npipe:////./pipe/docker_engine`).
    /// Install on Windows then sets no DOCKER_HOST (one there is removed, and given back on
    /// uninstall) and no TLS variables. Absent with "tcp".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_pipe: Option<String>,
}

/// vm.ip reserved for the VM's MAC in VMware's DHCP: where install reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PinValues {
    /// The VM's .vmx, read for its adapter's network and MAC.
    pub vmx: String,
    pub ip: String,
    /// VMware's DHCP configuration.
    pub dhcp_conf: String,
}

/// Where `dockvm install --certs` puts the TLS files, and the variables that point at them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TlsValues {
    /// The VM's folder for the CA and server files (`/etc/docker/dockvm`).
    pub vm_dir: String,
    /// The client folder under the home folder, on Windows and in WSL: `.docker/dockvm-<vm>`.
    pub client_dir: String,
    /// `DOCKER_CERT_PATH` for `HKCU\Environment` (REG_EXPAND_SZ, unexpanded).
    pub windows_cert_path: String,
}

/// One link of the tmpfiles file: `path` -> `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LinkValue {
    pub path: String,
    pub target: String,
}

/// Where docker in cmd and PowerShell reaches the engine: DOCKER_HOST's `tcp://`, or the
/// proxy's pipe.
fn windows_host(spec: &Spec) -> String {
    match spec.windows.endpoint {
        WindowsEndpoint::Tcp => spec.docker_host(),
        WindowsEndpoint::Pipe => WindowsEndpoint::pipe_url(),
    }
}

fn install_values(spec: &Spec) -> InstallValues {
    InstallValues {
        windows_pipe: (spec.windows.endpoint == WindowsEndpoint::Pipe)
            .then(WindowsEndpoint::pipe_url),
        docker_host: spec.docker_host(),
        docker_dir: spec.windows.docker_dir.to_string(),
        autostart: spec.windows.autostart,
        automount_root: spec.wsl.automount_root.to_string(),
        links: spec
            .shares
            .iter()
            .flat_map(|s| {
                spec.vm_paths(s).into_iter().map(|p| LinkValue {
                    path: p.into_string(),
                    target: s.vm_mount().into_string(),
                })
            })
            .collect(),
        compose_convert_windows_paths: spec.windows.compose_paths,
        pin_ip: spec.vmware.pin_ip.then(|| PinValues {
            vmx: spec.vm.vmx.to_string(),
            ip: spec.vm.ip.to_string(),
            dhcp_conf: spec.vmware.dhcp_conf.to_string(),
        }),
        tls: spec.docker.tls.then(|| TlsValues {
            vm_dir: tls::VM_DIR.to_owned(),
            client_dir: tls::client_dir(spec.vm.name.as_str()),
            windows_cert_path: spec.windows_cert_path(),
        }),
    }
}

/// The manifest: every artifact but itself, with where it goes and its checksum, and the
/// values `dockvm install` applies.
fn manifest(vm_name: &str, install: &InstallValues, artifacts: &[Artifact]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Entry<'a> {
        path: &'a str,
        side: Side,
        target: Option<&'a str>,
        mode: String,
        encoding: Encoding,
        line_endings: LineEndings,
        sha256: String,
    }
    #[derive(Serialize)]
    struct Manifest<'a> {
        schema: u32,
        generator: &'static str,
        vm: &'a str,
        install: &'a InstallValues,
        artifacts: Vec<Entry<'a>>,
    }
    let m = Manifest {
        schema: 1,
        generator: "dockvm",
        vm: vm_name,
        install,
        artifacts: artifacts
            .iter()
            .map(|a| Entry {
                path: a.path.as_str(),
                side: a.side,
                target: a.target.as_deref(),
                mode: format!("{:04o}", a.mode),
                encoding: a.encoding,
                line_endings: a.line_endings,
                sha256: encode::hex(&Sha256::digest(&a.bytes)),
            })
            .collect(),
    };
    let mut json = serde_json::to_string_pretty(&m).expect("the manifest serializes");
    json.push('\n');
    json.into_bytes()
}

/// One path-equivalence link, encoded for each place it appears.
#[derive(Debug)]
struct Link {
    /// The link path for tmpfiles (quoted, `%` doubled as needed).
    link: String,
    /// The link target (`/mnt/hgfs/<share>`) for tmpfiles.
    target: String,
    /// The link path as a POSIX shell word.
    sh: String,
    /// The link path (the WSL path, or compose's) and the Windows folder, for Markdown code spans.
    wsl: String,
    windows: String,
    /// Whether this is a share's compose path (`/d/...`), not its WSL path.
    compose: bool,
}

fn links(spec: &Spec) -> Result<Vec<Link>> {
    let mut out = Vec::new();
    for s in &spec.shares {
        let target = s.vm_mount();
        for (i, path) in spec.vm_paths(s).into_iter().enumerate() {
            out.push(Link {
                link: encode::tmpfiles_path(path.as_str())?,
                target: encode::tmpfiles_arg(target.as_str())?,
                sh: encode::sh_word(path.as_str())?,
                wsl: encode::md_code(path.as_str()),
                windows: encode::md_code(s.host_path.as_str()),
                compose: i > 0,
            });
        }
    }
    Ok(out)
}

/// The values every .bat needs, encoded for cmd and the C runtime.
struct BatValues {
    vm_name: String,
    vmrun: String,
    vmx: String,
    shares: Vec<BatShare>,
}

struct BatShare {
    name: String,
    host_path: String,
}

impl BatValues {
    fn new(spec: &Spec) -> Result<Self> {
        Ok(Self {
            vm_name: spec.vm.name.to_string(),
            vmrun: encode::bat_program(spec.vmware.vmrun.as_str())?,
            vmx: encode::bat_arg(spec.vm.vmx.as_str())?,
            shares: spec
                .shares
                .iter()
                .map(|s| {
                    Ok(BatShare {
                        name: encode::bat_arg(s.name.as_str())?,
                        host_path: encode::bat_arg(s.host_path.as_str())?,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}

/// Rendered LF text to the consumer's bytes. askama drops the template file's final newline,
/// so this is where every generated text file gets exactly one.
fn finish(text: &str, endings: LineEndings, encoding: Encoding) -> Vec<u8> {
    let mut text = text.trim_end_matches('\n').to_owned();
    text.push('\n');
    let text = match endings {
        LineEndings::Lf => text,
        LineEndings::Crlf => encode::crlf(&text),
    };
    match encoding {
        Encoding::Ascii | Encoding::Utf8 => text.into_bytes(),
        Encoding::Utf8Bom => encode::utf8_bom(&text),
        Encoding::Utf16LeBom => encode::utf16le_bom(&text),
    }
}

fn linux(path: &str, side: Side, target: &str, text: String) -> Artifact {
    Artifact {
        path: Utf8PathBuf::from(path),
        side,
        target: Some(target.to_owned()),
        mode: 0o644,
        encoding: Encoding::Utf8,
        line_endings: LineEndings::Lf,
        bytes: finish(&text, LineEndings::Lf, Encoding::Utf8),
    }
}

fn windows(path: &str, target: Option<&str>, encoding: Encoding, text: String) -> Artifact {
    Artifact {
        path: Utf8PathBuf::from(path),
        side: Side::Windows,
        target: target.map(str::to_owned),
        mode: 0o644,
        encoding,
        line_endings: LineEndings::Crlf,
        bytes: finish(&text, LineEndings::Crlf, encoding),
    }
}

trait RenderTo {
    fn render_to(&self, name: &'static str) -> Result<String>;
}

impl<T: Template> RenderTo for T {
    fn render_to(&self, name: &'static str) -> Result<String> {
        self.render().map_err(|e| RenderError::Template(name, e))
    }
}

#[derive(Template)]
#[template(
    path = "vm/etc/systemd/system/docker.service.d/dockvm.conf",
    escape = "none"
)]
struct DropIn<'a> {
    vm_name: &'a str,
    listen_url: String,
    exec_start: String,
    tls: bool,
    tls_dir: &'static str,
    /// `listen = "0.0.0.0"`: every address, so no bind waits for one.
    listen_any: bool,
}

#[derive(Template)]
#[template(path = "vm/etc/systemd/system/mnt-hgfs.mount", escape = "none")]
struct MountUnit<'a> {
    vm_name: &'a str,
}

#[derive(Template)]
#[template(path = "vm/etc/systemd/system/dockvm-address.service", escape = "none")]
struct AddressUnit<'a> {
    vm_name: &'a str,
}

#[derive(Template)]
#[template(path = "vm/etc/tmpfiles.d/dockvm.conf", escape = "none")]
struct Tmpfiles<'a> {
    vm_name: &'a str,
    links: &'a [Link],
    compose: bool,
}

#[derive(Template)]
#[template(path = "windows/hosts.txt", escape = "none")]
struct HostsBlock<'a> {
    vm_name: &'a str,
    ip: String,
    hostname: String,
}

#[derive(Template)]
#[template(path = "windows/dockvm-env.reg", escape = "none")]
struct EnvReg<'a> {
    vm_name: &'a str,
    names: String,
    pipe: bool,
    compose: bool,
    docker_host: String,
    tls: bool,
    cert_dir_name: String,
    cert_path_line: String,
}

#[derive(Template)]
#[template(path = "windows/dockvm-env-remove.reg", escape = "none")]
struct EnvRemoveReg<'a> {
    vm_name: &'a str,
    names: String,
    tls: bool,
    compose: bool,
}

#[derive(Template)]
#[template(path = "windows/add-docker-to-path.ps1", escape = "none")]
struct AddToPath<'a> {
    vm_name: &'a str,
    docker_dir: String,
}

#[derive(Template)]
#[template(path = "windows/start-vm.bat", escape = "none")]
struct StartVm<'a> {
    b: &'a BatValues,
}

#[derive(Template)]
#[template(path = "windows/stop-vm.bat", escape = "none")]
struct StopVm<'a> {
    b: &'a BatValues,
}

#[derive(Template)]
#[template(path = "windows/reset-shared-folders.bat", escape = "none")]
struct ResetShares<'a> {
    b: &'a BatValues,
}

#[derive(Template)]
#[template(path = "windows/dockvm.toml", escape = "none")]
struct SpecCopy<'a> {
    vm_name: &'a str,
    s: SpecValues,
}

/// Every value of the spec, encoded as a TOML value.
struct SpecValues {
    name: String,
    vmx: String,
    ip: std::net::Ipv4Addr,
    hostname: String,
    port: u16,
    listen: std::net::Ipv4Addr,
    package: String,
    tls: bool,
    vmrun: String,
    pin_ip: bool,
    dhcp_conf: String,
    docker_dir: String,
    autostart: bool,
    compose_paths: bool,
    endpoint: String,
    automount_root: String,
    profile: String,
    shares: Vec<(String, String)>,
}

impl SpecValues {
    fn new(spec: &Spec) -> Result<SpecValues> {
        let t = encode::toml_str;
        Ok(SpecValues {
            name: t(spec.vm.name.as_str())?,
            vmx: t(spec.vm.vmx.as_str())?,
            ip: spec.vm.ip,
            hostname: t(spec.vm.hostname.as_str())?,
            port: spec.docker.port,
            listen: spec.docker.listen,
            package: t(match spec.docker.package {
                dockvm_spec::Package::DockerCe => "docker-ce",
                dockvm_spec::Package::DockerIo => "docker.io",
            })?,
            tls: spec.docker.tls,
            vmrun: t(spec.vmware.vmrun.as_str())?,
            pin_ip: spec.vmware.pin_ip,
            dhcp_conf: t(spec.vmware.dhcp_conf.as_str())?,
            docker_dir: t(spec.windows.docker_dir.as_str())?,
            autostart: spec.windows.autostart,
            compose_paths: spec.windows.compose_paths,
            endpoint: t(spec.windows.endpoint.as_str())?,
            automount_root: t(spec.wsl.automount_root.as_str())?,
            profile: t(spec.wsl.profile.as_str())?,
            shares: spec
                .shares
                .iter()
                .map(|s| Ok((t(s.name.as_str())?, t(s.host_path.as_str())?)))
                .collect::<Result<_>>()?,
        })
    }
}

#[derive(Template)]
#[template(path = "wsl/profile.sh", escape = "none")]
struct Profile<'a> {
    vm_name: &'a str,
    docker_host: String,
    tls: bool,
    cert_dir_name: String,
}

#[derive(Template)]
#[template(path = "wsl/wsl.conf", escape = "none")]
struct WslConf<'a> {
    vm_name: &'a str,
    root: String,
}

#[derive(Template)]
#[template(path = "INSTALL.md", escape = "none")]
struct Install<'a> {
    vm_name: &'a str,
    listen_url: String,
    listen_sock: String,
    listen_all: bool,
    docker_host: String,
    profile: String,
    root: String,
    first_link: String,
    links: &'a [Link],
    compose: bool,
    context_name: String,
    context_id: String,
    context_meta: String,
    tls: bool,
    tls_dir: &'static str,
    cert_dir_name: String,
    pin_ip: bool,
    pipe: bool,
    ip: std::net::Ipv4Addr,
}

//! Phase one: the spec as written, every value with its span, unknown keys refused.
//!
//! Scalars that need checking (addresses, ports, paths) stay strings or wide integers here,
//! so that a bad value becomes a located diagnostic in phase two rather than a serde error
//! that stops at the first problem.
//!
//! The same types give the spec's JSON Schema (`dockvm schema`, for editors): each field's
//! doc comment is its description, its default and constraints are attributes beside it, and
//! the defaults are the constants the loader applies ([`crate::defaults`]).

use crate::defaults as d;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Option<Spanned<T>>;

/// A dockvm spec: one file describes Docker in a VMware VM used from Windows and WSL.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dockvm spec")]
pub(crate) struct RawSpec {
    /// The VM that runs the Docker Engine.
    #[schemars(with = "RawVm", required)]
    pub vm: Option<Spanned<RawVm>>,
    /// The Docker Engine in the VM.
    #[serde(default)]
    #[schemars(with = "RawDocker")]
    pub docker: Option<Spanned<RawDocker>>,
    /// VMware Workstation on Windows.
    #[serde(default)]
    #[schemars(with = "RawVmware")]
    pub vmware: Option<Spanned<RawVmware>>,
    /// The Windows side.
    #[serde(default)]
    #[schemars(with = "RawWindows")]
    pub windows: Option<Spanned<RawWindows>>,
    /// The WSL side.
    #[serde(default)]
    #[schemars(with = "RawWsl")]
    pub wsl: Option<Spanned<RawWsl>>,
    /// Windows folders shared into the VM, each at the same path in WSL and in the VM.
    #[schemars(with = "Vec<RawShare>", required, length(min = 1))]
    pub shares: Option<Spanned<Vec<Spanned<RawShare>>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVm {
    /// Names the generated files: 1 to 32 of a-z, 0-9 and -, not starting with -.
    #[serde(default)]
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9][a-z0-9-]{0,31}$"), extend("default" = d::VM_NAME))]
    pub name: S<String>,
    /// The absolute Windows path of the VM's .vmx file.
    #[schemars(
        with = "String",
        required,
        regex(pattern = r"^[A-Za-z]:\\.*\.[vV][mM][xX]$")
    )]
    pub vmx: S<String>,
    /// The VM's fixed IPv4 address on the VMware network.
    #[schemars(
        with = "String",
        required,
        regex(pattern = r"^(25[0-5]|24[0-9]|22[0-3]|2[01][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$"),
        // "not" "\n": python-jsonschema matches with re.search, whose `$` also matches before
        // a final newline; the loader takes no newline.
        extend("format" = "ipv4", "not" = {"anyOf": [{"enum": ["0.0.0.0", "255.255.255.255"]}, {"pattern": "\n"}]})
    )]
    pub ip: S<String>,
    /// The name Windows and WSL use for the VM (a hosts-file line maps it to vm.ip).
    #[serde(default)]
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"), extend("default" = d::HOSTNAME))]
    pub hostname: S<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDocker {
    /// dockerd's TCP port; the default is 2375, or 2376 with tls = true.
    #[serde(default)]
    #[schemars(with = "u16", range(min = 1), extend("default" = d::PORT))]
    pub port: S<i64>,
    /// The address dockerd binds in the VM: vm.ip (the default) or "0.0.0.0".
    #[serde(default)]
    #[schemars(
        with = "String",
        regex(pattern = r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$"),
        extend("format" = "ipv4", "not" = {"pattern": "\n"})
    )]
    pub listen: S<String>,
    /// Which Docker package the VM runs: it decides the stock ExecStart the drop-in replaces.
    #[serde(default)]
    #[schemars(with = "String", extend("enum" = ["docker-ce", "docker.io"], "default" = d::PACKAGE))]
    pub package: S<String>,
    /// Mutual TLS on the port: clients need a certificate of the setup's CA (`dockvm certs`).
    #[serde(default)]
    #[schemars(with = "bool", extend("default" = false))]
    pub tls: S<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVmware {
    /// The path of vmrun.exe.
    #[serde(default)]
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z]:\\.*\.[eE][xX][eE]$"), extend("default" = d::VMRUN))]
    pub vmrun: S<String>,
    /// Whether `dockvm install --side windows` reserves vm.ip for the VM's MAC in VMware's DHCP
    /// (dhcp_conf), so the VM's address never moves; the VM must have been powered on once.
    #[serde(default)]
    #[schemars(with = "bool", extend("default" = true))]
    pub pin_ip: S<bool>,
    /// VMware's DHCP configuration on the Windows host.
    #[serde(default)]
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z]:\\.*$"), extend("default" = d::DHCP_CONF))]
    pub dhcp_conf: S<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWindows {
    /// The folder that holds docker.exe, added to the user Path (one folder: no ;).
    #[serde(default)]
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z]:\\[^;]*$"), extend("default" = d::DOCKER_DIR))]
    pub docker_dir: S<String>,
    /// Whether `dockvm install` adds a Run value running `dockvm.exe up` at sign-in (the VM
    /// started, the shares enabled again, everything checked; a log beside it).
    #[serde(default)]
    #[schemars(with = "bool", extend("default" = false))]
    pub autostart: S<bool>,
    /// Whether `docker compose` from cmd and PowerShell converts Windows bind sources
    /// (COMPOSE_CONVERT_WINDOWS_PATHS=1 sends D:\projects\app as /d/projects/app) and the VM
    /// links each share's /d/... path to it.
    #[serde(default)]
    #[schemars(with = "bool", extend("default" = true))]
    pub compose_paths: S<bool>,
    /// How docker in cmd and PowerShell reaches the engine: "tcp" sets DOCKER_HOST to the VM's
    /// port; "pipe" has `dockvm proxy` serve Docker's named pipe \\.\pipe\docker_engine (no
    /// DOCKER_HOST, TLS kept inside the proxy, Windows bind sources like D:\x translated through
    /// the shares), started by `dockvm up`.
    #[serde(default)]
    #[schemars(with = "String", extend("enum" = ["tcp", "pipe"], "default" = d::ENDPOINT))]
    pub endpoint: S<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWsl {
    /// WSL's automount root; must match [automount] root in /etc/wsl.conf.
    #[serde(default)]
    #[schemars(with = "String", regex(pattern = r"^/([^/]+/)*$"), extend("default" = d::AUTOMOUNT_ROOT))]
    pub automount_root: S<String>,
    /// The shell profile that exports DOCKER_HOST, under the home folder.
    #[serde(default)]
    #[schemars(with = "String", regex(pattern = r"^~/[^$`]+$"), extend("default" = d::PROFILE))]
    pub profile: S<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShare {
    /// The VMware shared folder's name: /mnt/hgfs/<name> in the VM.
    #[schemars(
        with = "String",
        required,
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    )]
    pub name: S<String>,
    /// The Windows folder shared; WSL sees it at its automount path, which the VM links.
    #[schemars(with = "String", required, regex(pattern = r"^[A-Za-z]:\\"))]
    pub host_path: S<String>,
}

/// The spec's JSON Schema (draft 2020-12), pretty-printed with a final newline.
pub fn schema() -> String {
    let mut v = schemars::schema_for!(RawSpec).to_value();
    drop_null_defaults(&mut v);
    let mut s = serde_json::to_string_pretty(&v).expect("a schema serializes");
    s.push('\n');
    s
}

/// `#[serde(default)]` on an optional key makes schemars state `"default": null`; TOML has no
/// null, and the key's real default (where it has one) is stated beside it.
fn drop_null_defaults(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("default").is_some_and(serde_json::Value::is_null) {
                m.remove("default");
            }
            m.values_mut().for_each(drop_null_defaults);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_null_defaults),
        _ => {}
    }
}

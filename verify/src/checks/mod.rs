//! The checks, one module each, and what they share: the spec, the deadline, the captured
//! environment and the clean-up registry.

pub mod api;
pub mod cli;
pub mod clock;
pub mod endpoint;
pub mod env;
pub mod name;
pub mod port;
pub mod profile;
pub mod share;
pub mod startup;
pub mod tls;
pub mod vm;

use crate::cleanup::Registry;
use crate::finding::{CheckId, Finding};
use camino::Utf8PathBuf;
use dockvm_spec::Spec;
use std::net::SocketAddr;
use std::time::Duration;

/// What the checks read from the process environment, captured once so that checks are
/// plain functions of their inputs (and tests can give them any environment).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub docker_host: Option<String>,
    pub docker_tls_verify: Option<String>,
    pub docker_cert_path: Option<String>,
    /// `COMPOSE_CONVERT_WINDOWS_PATHS` (read on Windows only, where compose converts paths).
    pub compose_convert: Option<String>,
    pub docker_context: Option<String>,
    pub docker_config: Option<Utf8PathBuf>,
    pub home: Option<Utf8PathBuf>,
    /// `PATH`, where the user's shell finds `docker`.
    pub path: Option<String>,
    /// `/etc/hosts`, or another file for tests.
    pub etc_hosts: Utf8PathBuf,
    /// Whether this is WSL (Microsoft's kernel).
    pub is_wsl: bool,
    /// The user's login shell (`$SHELL`, else `/etc/passwd`): which start-up files a new
    /// terminal reads. `None` on Windows.
    pub login_shell: Option<String>,
    /// What only Windows has; `Some` exactly when verify runs as dockvm.exe.
    pub windows: Option<WindowsEnv>,
}

/// The Windows side's view, captured once like the rest of [`Env`].
#[derive(Debug, Clone, Default)]
pub struct WindowsEnv {
    /// `%SystemRoot%\System32\drivers\etc\hosts`.
    pub hosts: Utf8PathBuf,
    /// `DOCKER_HOST` as new terminals get it: under `HKCU\Environment`...
    pub user_docker_host: Option<String>,
    /// ... and the system-wide one under `HKLM\...\Session Manager\Environment`.
    pub system_docker_host: Option<String>,
    /// The Path new terminals get: the system Path, then the user's, `%VARS%` expanded.
    pub registry_path: String,
    /// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` under `HKCU\Environment`, as stored.
    pub user_tls_verify: Option<String>,
    pub user_cert_path: Option<String>,
    /// `COMPOSE_CONVERT_WINDOWS_PATHS` under `HKCU\Environment`.
    pub user_compose_convert: Option<String>,
}

impl WindowsEnv {
    fn capture() -> WindowsEnv {
        use dockvm_platform::registry::{self, ENVIRONMENT, Hive, SYSTEM_ENVIRONMENT};
        let get = |hive, key, name| {
            registry::get(hive, key, name)
                .ok()
                .flatten()
                .and_then(|v| v.text())
        };
        let root = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\Windows".into());
        let system = get(Hive::LocalMachine, SYSTEM_ENVIRONMENT, "Path").unwrap_or_default();
        let user = get(Hive::CurrentUser, ENVIRONMENT, "Path").unwrap_or_default();
        WindowsEnv {
            hosts: Utf8PathBuf::from(format!(r"{root}\System32\drivers\etc\hosts")),
            user_docker_host: get(Hive::CurrentUser, ENVIRONMENT, "DOCKER_HOST"),
            system_docker_host: get(Hive::LocalMachine, SYSTEM_ENVIRONMENT, "DOCKER_HOST"),
            registry_path: expand(&format!("{system};{user}")),
            user_tls_verify: get(Hive::CurrentUser, ENVIRONMENT, "DOCKER_TLS_VERIFY"),
            user_cert_path: get(Hive::CurrentUser, ENVIRONMENT, "DOCKER_CERT_PATH"),
            user_compose_convert: get(
                Hive::CurrentUser,
                ENVIRONMENT,
                "COMPOSE_CONVERT_WINDOWS_PATHS",
            ),
        }
    }
}

/// `%NAME%` replaced by this process's variable, as Windows expands REG_EXPAND_SZ values (the
/// platform's one rule, which install uses too).
pub use dockvm_platform::registry::expand_vars as expand;

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let version = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Env {
            docker_host: std::env::var("DOCKER_HOST").ok(),
            docker_tls_verify: std::env::var("DOCKER_TLS_VERIFY").ok(),
            docker_cert_path: std::env::var("DOCKER_CERT_PATH").ok(),
            compose_convert: std::env::var("COMPOSE_CONVERT_WINDOWS_PATHS").ok(),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: var("DOCKER_CONFIG").map(Utf8PathBuf::from),
            // Windows has no HOME; the docker CLI's config lives under %USERPROFILE% there.
            home: var("HOME")
                .or_else(|| var("USERPROFILE"))
                .map(Utf8PathBuf::from),
            path: var("PATH"),
            etc_hosts: Utf8PathBuf::from("/etc/hosts"),
            is_wsl: version.to_ascii_lowercase().contains("microsoft")
                || std::path::Path::new("/proc/sys/fs/binfmt_misc/WSLInterop").exists(),
            login_shell: if cfg!(windows) {
                None
            } else {
                startup::login_shell()
            },
            windows: cfg!(windows).then(WindowsEnv::capture),
        }
    }
}

/// Everything a check may use.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub env: &'a Env,
    /// Each check's deadline, from its start.
    pub timeout: Duration,
    pub cleanup: &'a Registry,
    /// Whether the probe image is known to exist; the lock also serializes its creation
    /// between concurrent share checks.
    pub image_ready: &'a std::sync::Mutex<bool>,
    /// With `docker.tls`: the client's certificate folder, loaded once.
    pub tls: Option<&'a tls::TlsSetup>,
    /// How to reach the Docker API (over TLS with `docker.tls`), or why it cannot be reached.
    pub api: &'a Result<dockvm_engine::Endpoint, String>,
    /// Earlier runs' leftovers, removed by the share checks.
    pub sweep: &'a crate::sweep::Sweep,
    /// `docker-api`'s `/_ping`: when it was sent and answered (this clock) and its `Date`
    /// header, which `clock` judges without a request of its own.
    pub pinged: &'a std::sync::OnceLock<clock::Pinged>,
}

impl Ctx<'_> {
    /// Where this process sees a share's folder: its Windows path on Windows, the path WSL's
    /// automount gives it elsewhere.
    pub fn local_path(&self, share: &dockvm_spec::Share) -> Utf8PathBuf {
        local_path(self.spec, self.env, share)
    }

    /// The Docker Engine API as clients reach it: the VM's address and the spec's port.
    pub fn api_addr(&self) -> SocketAddr {
        SocketAddr::from((self.spec.vm.ip, self.spec.docker.port))
    }

    /// The endpoint of the Docker API, or the `error` finding of check `id` that cannot use it
    /// (the client files of TLS are unusable, which `tls` reports as the root cause).
    pub fn endpoint(&self, id: CheckId) -> Result<&dockvm_engine::Endpoint, Box<Finding>> {
        self.api.as_ref().map_err(|e| {
            Box::new(
                Finding::new(
                    id,
                    crate::finding::Status::Error,
                    format!("cannot talk TLS to the Docker API: {e}"),
                )
                .hint("see the tls check"),
            )
        })
    }
}

/// Where this process sees a share's folder: its Windows path on Windows, the path WSL's
/// automount gives it elsewhere.
pub fn local_path(spec: &Spec, env: &Env, share: &dockvm_spec::Share) -> Utf8PathBuf {
    local(spec, env, &share.host_path)
}

/// Where this process sees a Windows path of the spec (a share's folder, the .vmx, VMware's
/// DHCP configuration): as it is on Windows, under WSL's automount root elsewhere.
pub fn local(spec: &Spec, env: &Env, path: &dockvm_spec::WindowsPath) -> Utf8PathBuf {
    if env.windows.is_some() {
        Utf8PathBuf::from(path.as_str())
    } else {
        path.wsl_path(&spec.wsl.automount_root)
    }
}

/// How the checks reach the Docker API: over TLS with the client files of `tls` (when the spec
/// has `docker.tls`), else plain TCP.
pub fn endpoint(
    spec: &Spec,
    tls: Option<&tls::TlsSetup>,
) -> Result<dockvm_engine::Endpoint, String> {
    match tls {
        Some(t) => t.endpoint(spec),
        None => Ok(dockvm_engine::Endpoint::plain(SocketAddr::from((
            spec.vm.ip,
            spec.docker.port,
        )))),
    }
}

/// Every check of a spec, in report order.
pub fn all(spec: &Spec) -> Vec<CheckId> {
    let mut ids = vec![CheckId::Vm, CheckId::Name, CheckId::Port];
    if spec.docker.tls {
        ids.push(CheckId::Tls);
    }
    ids.extend([CheckId::DockerApi, CheckId::Clock, CheckId::Env]);
    if spec.windows.endpoint == dockvm_spec::WindowsEndpoint::Pipe {
        ids.push(CheckId::Endpoint);
    }
    ids.extend([CheckId::DockerCli, CheckId::Profile]);
    ids.extend(
        spec.shares
            .iter()
            .map(|s| CheckId::Share(s.name.to_string())),
    );
    ids
}

/// Runs one check.
pub fn run(id: &CheckId, ctx: &Ctx<'_>) -> Finding {
    match id {
        CheckId::Vm => vm::check(ctx),
        CheckId::Name => name::check(ctx),
        CheckId::Port => port::check(ctx),
        CheckId::Tls => tls::check(ctx),
        CheckId::DockerApi => api::check(ctx),
        CheckId::Clock => clock::check(ctx),
        CheckId::Env => env::check(ctx),
        CheckId::Endpoint => endpoint::check(ctx),
        CheckId::DockerCli => cli::check(ctx),
        CheckId::Profile => profile::check(ctx),
        CheckId::Share(n) => {
            let share = ctx
                .spec
                .shares
                .iter()
                .find(|s| s.name.as_str() == n)
                .expect("ids come from the spec");
            share::check(ctx, share)
        }
    }
}

/// A duration as people read it in a message: `2 s`, `500 ms`. One rule for every message,
/// the vmrun driver's timeouts included.
pub use dockvm_vmware::human;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_replaces_known_variables_and_keeps_the_rest_as_written() {
        let path = std::env::var("PATH").expect("PATH is set in tests");
        assert_eq!(expand("%PATH%;C:\\x"), format!("{path};C:\\x"));
        assert_eq!(
            expand("%DOCKVM_NO_SUCH_VAR%\\bin;100%;%%"),
            "%DOCKVM_NO_SUCH_VAR%\\bin;100%;%%"
        );
        assert_eq!(expand("a%PATH%b"), format!("a{path}b"));
    }
}

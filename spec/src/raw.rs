//! Phase one: the spec as written, every value with its span, unknown keys refused.
//!
//! Scalars that need checking (addresses, ports, paths) stay strings or wide integers here,
//! so that a bad value becomes a located diagnostic in phase two rather than a serde error
//! that stops at the first problem.

use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Option<Spanned<T>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpec {
    pub vm: Option<Spanned<RawVm>>,
    pub docker: Option<Spanned<RawDocker>>,
    pub vmware: Option<Spanned<RawVmware>>,
    pub windows: Option<Spanned<RawWindows>>,
    pub wsl: Option<Spanned<RawWsl>>,
    pub shares: Option<Spanned<Vec<Spanned<RawShare>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVm {
    pub name: S<String>,
    pub vmx: S<String>,
    pub ip: S<String>,
    pub hostname: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDocker {
    pub port: S<i64>,
    pub listen: S<String>,
    pub package: S<String>,
    pub tls: S<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVmware {
    pub vmrun: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWindows {
    pub docker_dir: S<String>,
    pub autostart: S<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWsl {
    pub automount_root: S<String>,
    pub profile: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShare {
    pub name: S<String>,
    pub host_path: S<String>,
}

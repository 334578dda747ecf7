//! The record of what install changed besides the files it owns outright: folders it created,
//! links it had made, and the registry values as they were before. Written before the changes
//! it records, read by uninstall, removed by it.

use crate::registry::RegValue;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema: u32,
    pub vm: String,
    /// Folders install created, so uninstall removes them (when empty again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<String>,
    /// Links systemd-tmpfiles made for install (the vm side).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links_created: Vec<LinkRecord>,
    /// `DOCKER_HOST` under `HKCU\Environment` before install.
    #[serde(default, skip_serializing_if = "is_default")]
    pub docker_host: Recorded,
    /// The user `Path`: the entry install added, and the value before and right after.
    #[serde(default, skip_serializing_if = "is_default")]
    pub path: PathRecord,
    /// The `Run` value before install.
    #[serde(default, skip_serializing_if = "is_default")]
    pub run: Recorded,
    /// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` under `HKCU\Environment` before install.
    #[serde(default, skip_serializing_if = "is_default")]
    pub tls_verify: Recorded,
    #[serde(default, skip_serializing_if = "is_default")]
    pub cert_path: Recorded,
    /// `COMPOSE_CONVERT_WINDOWS_PATHS` under `HKCU\Environment` before install.
    #[serde(default, skip_serializing_if = "is_default")]
    pub compose: Recorded,
    /// The files install placed outside the tree's own targets: the TLS files (`--certs`) and
    /// the docker context, each with the SHA-256 of what it wrote: uninstall removes a file
    /// only while it is still that. (Named for the first of them, kept for older states.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certs: Vec<FileRecord>,
    /// `currentContext` in the docker CLI's `config.json` before install made this VM's
    /// context current (the WSL side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<ContextRecord>,
}

/// What `currentContext` was before install set it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextRecord {
    /// Its value as JSON text (`None`: the key was absent).
    pub before: Option<String>,
    /// Install created `config.json` (it did not exist).
    pub created: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRecord {
    pub path: String,
    pub target: String,
}

/// A registry value as it was before install first set it (`before: None`: absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub recorded: bool,
    pub before: Option<RegValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRecord {
    pub entry: Option<String>,
    pub before: Option<RegValue>,
    pub after: Option<RegValue>,
}

impl State {
    pub fn new(vm: &str) -> State {
        State {
            schema: 1,
            vm: vm.to_owned(),
            ..State::default()
        }
    }

    pub fn parse(bytes: &[u8], vm: &str) -> Result<State, String> {
        let s: State = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a dockvm install state ({e})"))?;
        if s.schema != 1 {
            return Err(format!("state schema {} is not 1", s.schema));
        }
        if s.vm != vm {
            return Err(format!("records VM {}, not {vm}", s.vm));
        }
        Ok(s)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = serde_json::to_string_pretty(self).expect("the state serializes");
        s.push('\n');
        s.into_bytes()
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

//! The Engine API requests that carry a host path, and those paths translated through the
//! spec's shares: a Windows path (`D:\projects\app`, `d:/projects/app`) becomes the path the
//! VM sees (`/mnt/d/projects/app`, the share's link), a Windows path in no share is refused
//! before the daemon sees it (dockerd would create an empty folder and mount that), and
//! anything else (a Linux path, a volume name) passes unchanged.
//!
//! The requests, from the Engine API (v1.41) and the CLI's use of it:
//! - `POST /containers/create`: `HostConfig.Binds[]` (`SRC:DST[:OPTS]`) and
//!   `HostConfig.Mounts[]` of `Type` `bind` (`Source`);
//! - `POST /services/create` and `POST /services/{id}/update`:
//!   `TaskTemplate.ContainerSpec.Mounts[]` of `Type` `bind`;
//! - `POST /volumes/create` with the `local` driver: `DriverOpts.device` (a bind volume:
//!   `--opt type=none --opt o=bind --opt device=D:\data`).
//!
//! Nothing else the CLI sends names a host path: `build` and `load` send their context and
//! images as bodies, `cp` sends a tar and names only container paths, and
//! `HostConfig.Devices[].PathOnHost` names Linux devices.

use dockvm_spec::Spec;
use dockvm_spec::translate::{PathError, To, translate};
use serde_json::Value;

/// What the proxy does with a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// Forward the body as it came.
    Unchanged,
    /// Forward this body instead.
    Changed(Vec<u8>),
    /// Answer 400 with this message; the daemon never sees the request.
    Refused(String),
}

/// The kinds of request that carry host paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ContainerCreate,
    Service,
    VolumeCreate,
}

/// The API path of a request target: the query and the `/v1.41` version prefix removed.
pub fn api_path(target: &str) -> &str {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if let Some(rest) = path.strip_prefix("/v")
        && let Some(i) = rest.find('/')
        && !rest[..i].is_empty()
        && rest[..i].chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return &rest[i..];
    }
    path
}

/// Which kind of host-path request this is, if any.
pub fn kind(method: &str, target: &str) -> Option<Kind> {
    if method != "POST" {
        return None;
    }
    let p = api_path(target).trim_end_matches('/');
    let parts: Vec<&str> = p.split('/').skip(1).collect();
    match parts.as_slice() {
        ["containers", "create"] => Some(Kind::ContainerCreate),
        ["services", "create"] | ["services", _, "update"] => Some(Kind::Service),
        ["volumes", "create"] => Some(Kind::VolumeCreate),
        _ => None,
    }
}

/// A host path as the Windows CLI may send it.
#[derive(Debug, PartialEq, Eq)]
enum HostPath {
    /// `D:\x` or `D:/x`: absolute on a drive.
    Drive,
    /// `D:` or `D:x`: relative to a drive's current folder, which the VM cannot know.
    DriveRelative,
    /// `\\server\share\x` or `//server/share/x`, `\\?\...`: never inside a share.
    Unc,
    /// A Linux path, a volume name: not the proxy's business.
    Other,
}

fn host_path(s: &str) -> HostPath {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return match b.get(2) {
            Some(b'\\' | b'/') => HostPath::Drive,
            _ => HostPath::DriveRelative,
        };
    }
    if s.starts_with("\\\\") || s.starts_with("//") {
        return HostPath::Unc;
    }
    HostPath::Other
}

/// The path the VM sees for a Windows host path, or why there is none.
fn to_vm(spec: &Spec, src: &str) -> Result<Option<String>, String> {
    // `\\?\D:\x` is D:\x.
    let plain = src
        .strip_prefix("\\\\?\\")
        .or_else(|| src.strip_prefix("//?/"))
        .filter(|p| host_path(p) == HostPath::Drive)
        .unwrap_or(src);
    match host_path(plain) {
        HostPath::Other => Ok(None),
        HostPath::DriveRelative => Err(format!(
            "dockvm proxy: {src:?} is relative to a drive's current folder; give the whole path (D:\\...)"
        )),
        HostPath::Unc => Err(format!(
            "dockvm proxy: {src} is a network path; the VM sees only the spec's shares: {}",
            shares(spec)
        )),
        HostPath::Drive => match translate(spec, plain, Some(To::Wsl)) {
            Ok(p) => Ok(Some(p)),
            Err(PathError::NotInShare { path, shares }) => Err(format!(
                "dockvm proxy: {path} is not inside a share of VM {}, so the VM cannot see it (the daemon would mount an empty folder). The shares: {shares}. Use a folder inside one, add a share to the spec, or use a named volume",
                spec.vm.name
            )),
            Err(e) => Err(format!("dockvm proxy: {e}")),
        },
    }
}

fn shares(spec: &Spec) -> String {
    spec.shares
        .iter()
        .map(|s| s.host_path.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One `Binds` entry (`SRC:DST[:OPTS]`) with a Windows source translated.
fn bind(spec: &Spec, entry: &str) -> Result<Option<String>, String> {
    let split = match host_path(entry) {
        // The drive's colon is not the separator: the source ends at the next one.
        HostPath::Drive | HostPath::DriveRelative => entry[2..].find(':').map(|i| i + 2),
        HostPath::Unc => entry.find(':'),
        HostPath::Other => return Ok(None),
    };
    // `\\?\D:\x:/dst`: the source ends after the drive's colon.
    let split = match entry.strip_prefix("\\\\?\\") {
        Some(rest) if host_path(rest) == HostPath::Drive => rest[2..].find(':').map(|i| i + 6),
        _ => split,
    };
    let Some(i) = split else {
        return Ok(None);
    };
    let (src, rest) = entry.split_at(i);
    Ok(to_vm(spec, src)?.map(|p| format!("{p}{rest}")))
}

/// Translates the bind sources of a `Mounts` array.
fn mounts(spec: &Spec, v: Option<&mut Value>, changed: &mut bool) -> Result<(), String> {
    let Some(Value::Array(list)) = v else {
        return Ok(());
    };
    for m in list {
        if m.get("Type").and_then(Value::as_str) != Some("bind") {
            continue;
        }
        if let Some(Value::String(src)) = m.get_mut("Source")
            && let Some(p) = to_vm(spec, src)?
        {
            *src = p;
            *changed = true;
        }
    }
    Ok(())
}

/// The body of a request of `kind`, with its host paths translated.
pub fn rewrite(spec: &Spec, kind: Kind, body: &[u8]) -> Rewrite {
    // A body that is not JSON goes on: the daemon's own error says what is wrong.
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return Rewrite::Unchanged;
    };
    let mut changed = false;
    let r = (|| -> Result<(), String> {
        match kind {
            Kind::ContainerCreate => {
                let Some(hc) = v.get_mut("HostConfig") else {
                    return Ok(());
                };
                if let Some(Value::Array(binds)) = hc.get_mut("Binds") {
                    for b in binds {
                        if let Value::String(s) = b
                            && let Some(t) = bind(spec, s)?
                        {
                            *s = t;
                            changed = true;
                        }
                    }
                }
                mounts(spec, hc.get_mut("Mounts"), &mut changed)
            }
            Kind::Service => mounts(
                spec,
                v.pointer_mut("/TaskTemplate/ContainerSpec/Mounts"),
                &mut changed,
            ),
            Kind::VolumeCreate => {
                let driver = v.get("Driver").and_then(Value::as_str).unwrap_or("");
                if !(driver.is_empty() || driver == "local") {
                    return Ok(());
                }
                if let Some(Value::String(dev)) = v.pointer_mut("/DriverOpts/device")
                    && let Some(p) = to_vm(spec, dev)?
                {
                    *dev = p;
                    changed = true;
                }
                Ok(())
            }
        }
    })();
    match r {
        Err(m) => Rewrite::Refused(m),
        Ok(()) if changed => Rewrite::Changed(serde_json::to_vec(&v).expect("a JSON value")),
        Ok(()) => Rewrite::Unchanged,
    }
}

/// A Docker-style error answer (`{"message": ...}`), which the CLI prints as
/// "Error response from daemon: ...".
pub fn error_response(status: u16, reason: &str, message: &str) -> Vec<u8> {
    let body =
        serde_json::to_vec(&serde_json::json!({ "message": message })).expect("a JSON value");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

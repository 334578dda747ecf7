//! Writing an output tree: the only part of `gen` that touches the file system.
//!
//! Each file is written atomically (a temporary file in the same folder, synced, renamed over
//! the old one), and only when its bytes change. The previous `manifest.json` says which files
//! this tool wrote before: of those, the ones it no longer generates are removed; nothing else
//! in the folder is touched. [`check_tree`] compares without writing anything.

use crate::artifact::Artifact;
use crate::render::MANIFEST;
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write as _};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: {source}")]
    Io {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Utf8Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What [`write_tree`] did, each list in artifact order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    pub written: Vec<Utf8PathBuf>,
    pub unchanged: Vec<Utf8PathBuf>,
    pub removed: Vec<Utf8PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// The file does not exist.
    Missing,
    /// The file exists with other bytes.
    Stale,
    /// A file generated before that the spec no longer produces.
    Obsolete,
}

/// One way in which an output tree differs from what the spec renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub path: Utf8PathBuf,
    pub kind: DriftKind,
}

/// Compares the tree under `out` with `artifacts`, writing nothing.
pub fn check_tree(out: &Utf8Path, artifacts: &[Artifact]) -> Result<Vec<Drift>, WriteError> {
    let mut drift = Vec::new();
    for a in artifacts {
        let path = out.join(&a.path);
        match read_if_exists(&path)? {
            None => drift.push(Drift {
                path: a.path.clone(),
                kind: DriftKind::Missing,
            }),
            Some(old) if old != a.bytes => drift.push(Drift {
                path: a.path.clone(),
                kind: DriftKind::Stale,
            }),
            Some(_) => {}
        }
    }
    for rel in obsolete(out, artifacts)? {
        drift.push(Drift {
            path: rel,
            kind: DriftKind::Obsolete,
        });
    }
    Ok(drift)
}

/// Writes `artifacts` under `out` (created if needed) and removes files generated before that
/// are no longer generated. The manifest comes last in `artifacts`, so it is written last: a
/// run interrupted half-way still has the old manifest, which lists every file it owned.
pub fn write_tree(out: &Utf8Path, artifacts: &[Artifact]) -> Result<WriteReport, WriteError> {
    let stale_owned = obsolete(out, artifacts)?;
    let mut report = WriteReport::default();
    for a in artifacts {
        let path = out.join(&a.path);
        if read_if_exists(&path)?.as_deref() == Some(&a.bytes[..]) {
            report.unchanged.push(a.path.clone());
            continue;
        }
        write_atomic(&path, &a.bytes, a.mode)?;
        report.written.push(a.path.clone());
    }
    for rel in stale_owned {
        let path = out.join(&rel);
        fs::remove_file(&path).map_err(io_err(&path))?;
        report.removed.push(rel);
    }
    Ok(report)
}

/// Files listed in the existing manifest, still present as regular files, that `artifacts`
/// no longer contains. Paths that could leave `out` (absolute, `..`) are never trusted.
fn obsolete(out: &Utf8Path, artifacts: &[Artifact]) -> Result<Vec<Utf8PathBuf>, WriteError> {
    let current: BTreeSet<&Utf8Path> = artifacts.iter().map(|a| a.path.as_path()).collect();
    let mut found = Vec::new();
    for rel in previously_owned(out)? {
        if current.contains(rel.as_path()) {
            continue;
        }
        let path = out.join(&rel);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => found.push(rel),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Ok(found)
}

/// The relative paths the manifest under `out` lists; none when there is no readable manifest.
fn previously_owned(out: &Utf8Path) -> Result<Vec<Utf8PathBuf>, WriteError> {
    let path = out.join(MANIFEST);
    let Some(bytes) = read_if_exists(&path)? else {
        return Ok(Vec::new());
    };
    // A manifest this tool did not write (or a damaged one) owns nothing: removing files on
    // its word could delete the user's.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Ok(Vec::new());
    };
    if value.get("generator").and_then(|g| g.as_str()) != Some("dockvm") {
        return Ok(Vec::new());
    }
    let listed = value
        .get("artifacts")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(listed
        .iter()
        .filter_map(|e| e.get("path")?.as_str())
        .map(Utf8PathBuf::from)
        .filter(|p| is_contained(p))
        .collect())
}

/// Whether a relative path stays inside the folder it is joined to.
fn is_contained(p: &Utf8Path) -> bool {
    !p.as_str().is_empty()
        && p.components()
            .all(|c| matches!(c, Utf8Component::Normal(_)))
}

fn read_if_exists(path: &Utf8Path) -> Result<Option<Vec<u8>>, WriteError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a part.
fn write_atomic(path: &Utf8Path, bytes: &[u8], mode: u32) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".dockvm-")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    // tempfile creates 0600; the files are meant to be read and committed.
    set_mode(tmp.path(), mode).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| io_err(path)(e.error))?;
    Ok(())
}

/// Gives a file its Unix mode; Windows has no modes (its files inherit the folder's ACL).
#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &std::path::Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

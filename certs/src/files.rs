//! The certificate folder on disk: created whole or not at all, keys 0600 in a 0700 folder,
//! renewed file by file (each replaced atomically, all written before any is replaced).

use crate::CertError;
use camino::{Utf8Path, Utf8PathBuf};
use dockvm_spec::tls;
use std::io::Write as _;

/// The mode of a file of the set: 0600 for private keys, 0644 for certificates.
pub fn mode(file: &str) -> u32 {
    if tls::is_key(file) { 0o600 } else { 0o644 }
}

/// Writes a new folder holding `files`; `dir` must not exist. The files are written into a
/// temporary sibling that is renamed to `dir` at the end, so `dir` appears complete or not at
/// all. Missing parents are created 0700 (they are `~/.dockvm/VM` by default).
pub fn create(dir: &Utf8Path, files: &[(&'static str, String)]) -> Result<(), CertError> {
    if dir.exists() {
        return Err(CertError::Exists(dir.to_owned()));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_str().is_empty() => p.to_owned(),
        _ => Utf8PathBuf::from("."),
    };
    create_private_dirs(&parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".dockvm-certs-")
        .tempdir_in(&parent)
        .map_err(|e| CertError::io(&parent, e))?;
    let tmp_path = Utf8Path::from_path(tmp.path()).expect("a UTF-8 parent gives a UTF-8 child");
    for (name, text) in files {
        write_new_file(&tmp_path.join(name), text, mode(name))?;
    }
    set_mode(tmp_path, 0o700)?;
    // rename(2) of a folder does not replace an existing non-empty one: a `dir` that appeared
    // meanwhile makes this fail rather than be overwritten.
    std::fs::rename(tmp_path, dir).map_err(|e| CertError::io(dir, e))?;
    // The temporary folder is now `dir`; TempDir's own removal finds nothing.
    drop(tmp);
    Ok(())
}

/// Replaces `files` in the existing `dir`: all are written to temporary files first, then each
/// is renamed over its old one.
pub fn replace(dir: &Utf8Path, files: &[(&'static str, String)]) -> Result<(), CertError> {
    let mut staged = Vec::new();
    for (name, text) in files {
        let mut t = tempfile::Builder::new()
            .prefix(".dockvm-certs-")
            .tempfile_in(dir)
            .map_err(|e| CertError::io(dir, e))?;
        t.write_all(text.as_bytes())
            .and_then(|()| t.as_file().sync_all())
            .map_err(|e| CertError::io(dir, e))?;
        let p = Utf8Path::from_path(t.path()).expect("UTF-8").to_owned();
        set_mode(&p, mode(name))?;
        staged.push((t, dir.join(name)));
    }
    for (t, target) in staged {
        t.persist(&target)
            .map_err(|e| CertError::io(&target, e.error))?;
    }
    Ok(())
}

fn write_new_file(path: &Utf8Path, text: &str, mode: u32) -> Result<(), CertError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(mode);
    }
    let mut f = o.open(path).map_err(|e| CertError::io(path, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| CertError::io(path, e))?;
    set_mode(path, mode)
}

fn create_private_dirs(dir: &Utf8Path) -> Result<(), CertError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(p) = dir.parent()
        && !p.as_str().is_empty()
    {
        create_private_dirs(p)?;
    }
    std::fs::create_dir(dir).map_err(|e| CertError::io(dir, e))?;
    set_mode(dir, 0o700)
}

/// Sets a Unix mode (the umask does not apply); nothing on Windows, where a folder under the
/// user's profile is private to the user already.
#[allow(unused_variables)]
pub fn set_mode(path: &Utf8Path, mode: u32) -> Result<(), CertError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| CertError::io(path, e))?;
    }
    Ok(())
}

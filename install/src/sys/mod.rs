//! The one place where install touches the system, with a Unix half and a Windows half behind
//! one interface: reading (for the plan), writing files atomically, commands; the registry
//! through `dockvm-platform`.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

use crate::plan::Look;
use camino::{Utf8Path, Utf8PathBuf};
use dockvm_platform::registry::{self, Hive, RegValue};
use std::fs;
use std::io;

/// The real system, read.
pub struct Host;

impl Look for Host {
    fn read(&self, path: &Utf8Path) -> io::Result<Option<Vec<u8>>> {
        match fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, path: &Utf8Path) -> bool {
        fs::symlink_metadata(path).is_ok()
    }

    fn is_dir(&self, path: &Utf8Path) -> bool {
        path.is_dir()
    }

    fn link_target(&self, path: &Utf8Path) -> Option<Utf8PathBuf> {
        let m = fs::symlink_metadata(path).ok()?;
        if !m.file_type().is_symlink() {
            return None;
        }
        Utf8PathBuf::from_path_buf(fs::read_link(path).ok()?).ok()
    }

    fn list(&self, path: &Utf8Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    fn reg(&self, key: &str, name: &str) -> io::Result<Option<RegValue>> {
        registry::get(Hive::CurrentUser, key, name)
    }

    fn running(&self, program: &Utf8Path) -> Vec<u32> {
        dockvm_platform::process::running_from(program.as_std_path())
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a part: a
/// temporary file in the same folder, synced, renamed over. A replaced file keeps its mode and
/// owner (a private `mode`, such as a key's 0600, is applied to it all the same); a new one
/// gets `mode`, and the owner of its folder.
pub fn write_atomic(path: &Utf8Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    // A key's 0600 stays private even where the file it replaces was not.
    let private = mode & 0o077 == 0;
    write_like(path, bytes, fs::metadata(path).ok(), mode, private)
}

#[allow(unused_variables)]
fn set_mode(path: &std::path::Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Makes a folder only its owner may enter (0700); nothing on Windows, where a folder under
/// the user's profile is private to the user already.
pub fn make_private(dir: &Utf8Path) -> io::Result<()> {
    set_mode(dir.as_std_path(), 0o700)
}

/// Copies `path` to `to` with its mode and owner, atomically: restoring the copy by renaming it
/// back gives the file exactly as it was.
pub fn backup(path: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
    let bytes = fs::read(path)?;
    write_like(to, &bytes, Some(fs::metadata(path)?), 0o600, false)
}

fn write_like(
    path: &Utf8Path,
    bytes: &[u8],
    old: Option<fs::Metadata>,
    mode: u32,
    force_mode: bool,
) -> io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".dockvm-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    imp::give_attributes(tmp.path(), old.as_ref(), dir.as_std_path(), mode)?;
    if force_mode {
        // Before the rename: the new bytes are never readable under the old mode.
        set_mode(tmp.path(), mode)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub use dockvm_platform::registry::{broadcast_environment, delete as reg_delete, set as reg_set};

/// Why commands such as systemctl cannot run here, or `None` (systemd is PID 1).
pub fn no_systemd() -> Option<String> {
    imp::no_systemd()
}

/// Whether this process runs inside WSL.
pub fn is_wsl() -> bool {
    std::env::var_os("WSL_DISTRO_NAME").is_some()
        || fs::read_to_string("/proc/sys/kernel/osrelease")
            .is_ok_and(|r| r.to_lowercase().contains("microsoft"))
}

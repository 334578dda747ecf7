//! The Unix half of [`crate::sys`]: file modes and owners, systemd.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

pub fn give_attributes(
    tmp: &Path,
    old: Option<&Metadata>,
    dir: &Path,
    mode: u32,
) -> io::Result<()> {
    let (mode, uid, gid) = match old {
        Some(m) => (m.mode() & 0o7777, m.uid(), m.gid()),
        None => {
            let d = fs::metadata(dir)?;
            (mode, d.uid(), d.gid())
        }
    };
    fs::set_permissions(tmp, fs::Permissions::from_mode(mode))?;
    // Root replacing a user's profile gives it back to the user; anyone else cannot chown, and
    // then the file is theirs already.
    match std::os::unix::fs::chown(tmp, Some(uid), Some(gid)) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        r => r,
    }
}

pub fn no_systemd() -> Option<String> {
    // sd_booted(3)'s test: this folder exists only when systemd is the init system.
    if Path::new("/run/systemd/system").is_dir() {
        None
    } else {
        Some("systemd is not running here (run it yourself)".into())
    }
}

//! The Windows half of [`crate::sys`]: no modes, owners or systemd (the registry is
//! `dockvm-platform`'s).

use std::fs::Metadata;
use std::io;
use std::path::Path;

pub fn give_attributes(
    _tmp: &Path,
    _old: Option<&Metadata>,
    _dir: &Path,
    _mode: u32,
) -> io::Result<()> {
    // The renamed file takes the folder's inherited ACL, as a file written in place would.
    Ok(())
}

pub fn no_systemd() -> Option<String> {
    Some("not on Linux".into())
}

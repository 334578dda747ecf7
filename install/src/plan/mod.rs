//! Install and uninstall as data: each side's changes are computed from the tree and from what
//! is on the system now (reads only), as a list of [`Action`]s that is then printed (`--dry-run`)
//! or applied ([`crate::apply()`]). Nothing here writes.
//!
//! Ownership without guessing: a whole file is dockvm's when its first line says it was
//! generated for this VM; a shared file (hosts, profile, wsl.conf) is edited only in dockvm's
//! marked block or key. Before the first change to a file dockvm did not write, a copy is kept
//! beside it (`<file>.dockvm-backup`, written once). What install created or replaced elsewhere
//! (folders, links, registry values) is recorded in a state file before it is changed, so that
//! uninstall undoes exactly that and nothing else.

use crate::edit;
use crate::registry::{self, ENVIRONMENT, REG_EXPAND_SZ, REG_SZ, RUN, RegValue};
use crate::state::{ContextRecord, FileRecord, LinkRecord, Recorded, State};
use crate::tree::{CertSource, Tree, TreeError};
use camino::{Utf8Path, Utf8PathBuf};
use std::io;

mod own;
mod vm;
mod windows;
mod wsl;

use vm::*;
use windows::*;
use wsl::*;

/// Which system install acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Vm,
    Wsl,
    Windows,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Vm => "vm",
            Side::Wsl => "wsl",
            Side::Windows => "windows",
        }
    }
}

/// Reads of the system the plan depends on; [`crate::sys::Host`] is the real one.
pub trait Look {
    /// A file's bytes, or `None` when it does not exist. Follows symlinks.
    fn read(&self, path: &Utf8Path) -> io::Result<Option<Vec<u8>>>;
    /// Whether anything (file, folder, link, even a dangling one) is at `path`.
    fn exists(&self, path: &Utf8Path) -> bool;
    fn is_dir(&self, path: &Utf8Path) -> bool;
    /// The target of the symlink at `path`, if it is one.
    fn link_target(&self, path: &Utf8Path) -> Option<Utf8PathBuf>;
    /// The names in a folder (empty when it does not exist).
    fn list(&self, path: &Utf8Path) -> Vec<String>;
    /// A value under `HKEY_CURRENT_USER\<key>`.
    fn reg(&self, key: &str, name: &str) -> io::Result<Option<RegValue>>;
    /// The processes running `program` (Windows: a running program cannot be replaced or
    /// removed). None by default.
    fn running(&self, program: &Utf8Path) -> Vec<u32> {
        let _ = program;
        Vec::new()
    }
}

/// Where the side's files live; decided once by the caller.
#[derive(Debug, Clone)]
pub struct Places {
    /// `/`, or `--root DIR`: every absolute system path of the vm and wsl sides is under it.
    pub root: Utf8PathBuf,
    /// `$HOME` (wsl: the profile's `~`).
    pub home: Option<Utf8PathBuf>,
    /// Why commands (systemctl, systemd-tmpfiles) cannot run here, or `None` when they can.
    pub no_commands: Option<String>,
    /// Windows: `%SystemRoot%` and `%LOCALAPPDATA%`.
    pub system_root: Option<Utf8PathBuf>,
    pub local_app_data: Option<Utf8PathBuf>,
    /// Windows: `%USERPROFILE%`, which holds `.docker` (the client certificates of TLS).
    pub user_profile: Option<Utf8PathBuf>,
    /// Windows: this dockvm.exe; its windowless twin `dockvmw.exe` beside it is copied beside
    /// the spec for the sign-in `dockvmw.exe up` (`[windows] autostart`).
    pub self_exe: Option<Utf8PathBuf>,
}

impl Places {
    /// A system path (`/etc/...`) under the root.
    pub fn sys(&self, abs: &str) -> Utf8PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// A path as the state records it: without the root on the vm and wsl sides, so a staged
    /// image keeps a state that is right once it boots; a path under `$HOME` (outside the
    /// root) as `~/...`, since the root does not apply to it.
    pub fn logical(&self, path: &Utf8Path) -> String {
        if self.root != Utf8Path::new("/")
            && let Ok(rest) = path.strip_prefix(&self.root)
        {
            return format!("/{rest}");
        }
        if let Some(home) = &self.home
            && home != Utf8Path::new("/")
            && let Ok(rest) = path.strip_prefix(home)
        {
            return format!("~/{rest}");
        }
        path.to_string()
    }

    /// The system path of a path the state recorded.
    pub fn real(&self, recorded: &str) -> Utf8PathBuf {
        if let (Some(rest), Some(home)) = (recorded.strip_prefix("~/"), &self.home) {
            home.join(rest)
        } else if recorded.starts_with('/') {
            self.sys(recorded)
        } else {
            Utf8PathBuf::from(recorded)
        }
    }
}

/// One change (or the statement that none is needed) on the side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already as wanted.
    Unchanged(String),
    /// Something dockvm leaves alone, and why.
    Kept(String),
    MakeDir(Utf8PathBuf),
    /// A folder only its owner may enter (0700): where private keys go.
    MakePrivateDir(Utf8PathBuf),
    /// Removed only if empty when it comes to it.
    RemoveDir(Utf8PathBuf),
    /// Copies the file as it is now to `to` (done once, before the first change).
    Backup {
        path: Utf8PathBuf,
        to: Utf8PathBuf,
    },
    /// Creates or replaces a whole file.
    Write {
        path: Utf8PathBuf,
        old: Option<Vec<u8>>,
        new: Vec<u8>,
        mode: u32,
    },
    Remove {
        path: Utf8PathBuf,
        old: Vec<u8>,
    },
    /// Writes the state file, creating its missing folders first, as one step (an interrupt
    /// is taken only between steps, so no folder exists that the state does not record).
    WriteState {
        path: Utf8PathBuf,
        dirs: Vec<Utf8PathBuf>,
        old: Option<Vec<u8>>,
        new: Vec<u8>,
    },
    /// Removes the state file and then its folders that install created (each if empty), as
    /// one step: the last of an uninstall, so an interrupt before it leaves the record whole.
    RemoveState {
        path: Utf8PathBuf,
        old: Vec<u8>,
        dirs: Vec<Utf8PathBuf>,
    },
    /// Renames the backup over the file: the file is again what it was before install.
    Restore {
        path: Utf8PathBuf,
        backup: Utf8PathBuf,
        old: Vec<u8>,
        new: Vec<u8>,
    },
    RemoveLink {
        path: Utf8PathBuf,
        target: Utf8PathBuf,
    },
    SetReg {
        key: &'static str,
        name: String,
        old: Option<RegValue>,
        new: RegValue,
    },
    DeleteReg {
        key: &'static str,
        name: String,
        old: RegValue,
    },
    /// A command; `skip` says why it does not run here.
    Run {
        argv: Vec<String>,
        skip: Option<String>,
    },
    /// `WM_SETTINGCHANGE` "Environment" to every top-level window, with a timeout.
    Broadcast,
    /// A Windows service stopped and started again (it rereads its configuration).
    RestartService {
        name: String,
    },
    /// dockvm's own processes running `program` (the proxy, a sign-in `up`) ended, so that the
    /// program can be replaced or removed: Windows refuses both while it runs.
    Stop {
        program: Utf8PathBuf,
        pids: Vec<u32>,
    },
    /// Something the user must do, said once the rest is done.
    Advice(String),
}

impl Action {
    /// Whether the action changes the system (what `--dry-run`'s exit code counts).
    pub fn changes(&self) -> bool {
        match self {
            Action::Unchanged(_) | Action::Kept(_) | Action::Advice(_) => false,
            Action::Run { skip, .. } => skip.is_none(),
            _ => true,
        }
    }
}

/// Why a side cannot be planned. Nothing has changed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The system is in a state install must not touch; the message says what and why.
    #[error("{0}")]
    Refused(String),
    /// Said once: the path and what the OS said (not its error again as a cause).
    #[error("cannot read {path}: {error}")]
    Io { path: Utf8PathBuf, error: io::Error },
    /// Another program holds the file open without sharing it (Windows' sharing violation).
    #[error(
        "{path} is open in another program that does not let others read it (an editor with it open, a backup tool, or an antivirus scan): close that program and run the command again. Nothing was changed; a second run is safe. ({error})"
    )]
    Held { path: Utf8PathBuf, error: io::Error },
}

/// Windows' "the process cannot access the file because another process has it open"
/// (ERROR_SHARING_VIOLATION) or a locked range of it (ERROR_LOCK_VIOLATION).
pub fn is_held(e: &io::Error) -> bool {
    cfg!(windows) && matches!(e.raw_os_error(), Some(32 | 33))
}

type Result<T> = std::result::Result<T, PlanError>;

/// Where the backup of `path` lives.
pub fn backup_of(path: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{path}.dockvm-backup"))
}

fn read(look: &dyn Look, path: &Utf8Path) -> Result<Option<Vec<u8>>> {
    look.read(path).map_err(|error| {
        if is_held(&error) {
            PlanError::Held {
                path: path.to_owned(),
                error,
            }
        } else {
            PlanError::Io {
                path: path.to_owned(),
                error,
            }
        }
    })
}

fn reg(look: &dyn Look, key: &str, name: &str) -> Result<Option<RegValue>> {
    look.reg(key, name).map_err(|error| PlanError::Io {
        path: format!(r"HKEY_CURRENT_USER\{key}\{name}").into(),
        error,
    })
}

fn load_state(look: &dyn Look, path: &Utf8Path, vm: &str) -> Result<Option<State>> {
    match read(look, path)? {
        None => Ok(None),
        Some(b) => State::parse(&b, vm).map(Some).map_err(|why| {
            PlanError::Refused(format!(
                "{path}: {why}; it records what install changed, so uninstall needs it: restore it, or remove it to start over"
            ))
        }),
    }
}

/// Folders missing on the way to `path`'s parent, outermost first.
fn missing_dirs(look: &dyn Look, path: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut out: Vec<Utf8PathBuf> = path
        .ancestors()
        .skip(1)
        .take_while(|d| !d.as_str().is_empty() && !look.exists(d))
        .map(Utf8Path::to_owned)
        .collect();
    out.reverse();
    out
}

/// Plans `dockvm install` of one side.
pub fn install(side: Side, tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    match side {
        Side::Vm => install_vm(tree, p, look),
        Side::Wsl => install_wsl(tree, p, look),
        Side::Windows => install_windows(tree, p, look),
    }
}

/// Plans `dockvm uninstall` of one side.
pub fn uninstall(side: Side, tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    match side {
        Side::Vm => uninstall_vm(tree, p, look),
        Side::Wsl => uninstall_wsl(tree, p, look),
        Side::Windows => uninstall_windows(tree, p, look),
    }
}

/// Writes the state first (so an interruption still leaves the record of what install may
/// have changed), with the folders it needs, which it records too.
fn with_state(
    look: &dyn Look,
    p: &Places,
    state_file: &Utf8Path,
    mut state: State,
    old: Option<Vec<u8>>,
    mut body: Vec<Action>,
) -> Vec<Action> {
    if !body.iter().any(Action::changes) {
        return body;
    }
    let dirs = missing_dirs(look, state_file);
    let mut created = dirs.iter().map(|d| p.logical(d)).collect::<Vec<_>>();
    created.append(&mut state.created_dirs);
    state.created_dirs = created;
    let new = state.to_bytes();
    if old.as_deref() == Some(&new[..]) {
        return body;
    }
    let mut out = vec![Action::WriteState {
        path: state_file.to_owned(),
        dirs,
        old,
        new,
    }];
    out.append(&mut body);
    out
}

#[cfg(test)]
mod tests;

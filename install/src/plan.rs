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
use crate::state::{FileRecord, LinkRecord, Recorded, State};
use crate::tree::{CertSource, Tree, TreeError};
use camino::{Utf8Path, Utf8PathBuf};
use std::io;

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
    #[error("{path}: {source}")]
    Io {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
}

type Result<T> = std::result::Result<T, PlanError>;

/// Where the backup of `path` lives.
pub fn backup_of(path: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{path}.dockvm-backup"))
}

fn read(look: &dyn Look, path: &Utf8Path) -> Result<Option<Vec<u8>>> {
    look.read(path).map_err(|source| PlanError::Io {
        path: path.to_owned(),
        source,
    })
}

fn reg(look: &dyn Look, key: &str, name: &str) -> Result<Option<RegValue>> {
    look.reg(key, name).map_err(|source| PlanError::Io {
        path: format!(r"HKEY_CURRENT_USER\{key}\{name}").into(),
        source,
    })
}

/// The VM named by the first line of a whole file dockvm generated (`# Generated by dockvm for
/// VM <vm>`), if `bytes` starts with one.
fn marked_vm(bytes: &[u8]) -> Option<String> {
    let first = bytes.split(|b| *b == b'\n').next()?;
    let rest = first.strip_prefix(b"# Generated by dockvm for VM ")?;
    let name: Vec<u8> = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .copied()
        .collect();
    String::from_utf8(name).ok()
}

/// The VM files, as (tree path, system path).
const VM_FILES: [&str; 3] = [
    "vm/etc/systemd/system/docker.service.d/dockvm.conf",
    "vm/etc/systemd/system/mnt-hgfs.mount",
    "vm/etc/tmpfiles.d/dockvm.conf",
];

/// Where a VM file goes: its tree path without `vm/` (`vm/etc/x` -> `/etc/x`), the layout
/// dockvm gen writes. The manifest must say the same: its targets are not trusted to name
/// other system files (its checksums protect the files' bytes, not where they go).
fn vm_target(tree: &Tree, rel: &str) -> Result<String> {
    let want = format!("/{}", rel.trim_start_matches("vm/"));
    let f = tree.file(rel)?;
    if f.target.as_deref() != Some(want.as_str()) {
        return Err(PlanError::Refused(format!(
            "{}: the target of {rel} is {:?}, not {want:?}: run `dockvm gen` again to rewrite the tree",
            tree.dir.join("manifest.json"),
            f.target.as_deref().unwrap_or("none")
        )));
    }
    Ok(want)
}

/// The vm side's state file (the wsl side keeps none; Windows keeps it in [`app_dir`]).
fn vm_state_path(p: &Places, vm: &str) -> Utf8PathBuf {
    p.sys(&format!("/var/lib/dockvm/{vm}/install-state.json"))
}

fn app_dir(p: &Places, vm: &str) -> Result<Utf8PathBuf> {
    let base = p.local_app_data.as_ref().ok_or_else(|| {
        PlanError::Refused("%LOCALAPPDATA% is not set: dockvm keeps its Windows files there".into())
    })?;
    Ok(base.join("dockvm").join(vm))
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

fn install_vm(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let daemon_json = p.sys("/etc/docker/daemon.json");
    if let Some(bytes) = read(look, &daemon_json)?
        && let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(&bytes)
        && m.contains_key("hosts")
    {
        return Err(PlanError::Refused(format!(
            "{daemon_json}: sets \"hosts\": dockerd refuses to start when hosts are given both there and as -H flags, which the drop-in does (moby#25471); remove the \"hosts\" key (the drop-in gives dockerd fd:// and its TCP listener) and run install again"
        )));
    }
    let state_file = vm_state_path(p, vm);
    let old_state = read(look, &state_file)?;
    let mut state = load_state(look, &state_file, vm)?.unwrap_or_else(|| State::new(vm));
    let mut body = Vec::new();
    let mut changed = [false; 3];
    for (i, rel) in VM_FILES.iter().enumerate() {
        let f = tree.file(rel)?;
        let path = p.sys(&vm_target(tree, rel)?);
        let cur = read(look, &path)?;
        if cur.as_deref() == Some(&f.bytes[..]) {
            body.push(Action::Unchanged(path.to_string()));
            continue;
        }
        if let Some(c) = &cur
            && let Some(other) = marked_vm(c)
            && &other != vm
        {
            return Err(PlanError::Refused(format!(
                "{path}: installed for VM {other}, not {vm}: a VM runs one dockerd; run `dockvm uninstall --side vm` with VM {other}'s tree first"
            )));
        }
        for d in missing_dirs(look, &path) {
            if !body.contains(&Action::MakeDir(d.clone())) {
                state.created_dirs.push(p.logical(&d));
                body.push(Action::MakeDir(d));
            }
        }
        let theirs = cur.as_ref().is_some_and(|c| marked_vm(c).is_none());
        replace(look, &mut body, path, cur, f.bytes.clone(), f.mode, theirs);
        changed[i] = true;
    }
    let certs_changed = match tls_dir(tree, p, Side::Vm)? {
        Some(dir) => {
            if tree.certs.is_none()
                && let Some(missing) = dockvm_spec::tls::VM_FILES
                    .iter()
                    .find(|f| !look.exists(&dir.join(f)))
            {
                return Err(PlanError::Refused(format!(
                    "{}: missing, and the drop-in has dockerd read it (tls = true): dockerd would not start; pass --certs DIR, the folder `dockvm certs` wrote",
                    dir.join(missing)
                )));
            }
            match &tree.certs {
                Some(src) => place_certs(look, p, src, &dir, &mut state, &mut body)?,
                None => false,
            }
        }
        None => false,
    };
    let [drop_in, mount, tmpfiles] = changed;
    let run = |argv: &[&str]| Action::Run {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        skip: p.no_commands.clone(),
    };
    if drop_in || mount || tmpfiles {
        body.push(run(&["systemctl", "daemon-reload"]));
    }
    if mount {
        body.push(run(&["systemctl", "enable", "--now", "mnt-hgfs.mount"]));
    }
    if tmpfiles {
        if p.no_commands.is_none() {
            // The links systemd-tmpfiles is about to make: uninstall removes these, and only these.
            for l in &tree.values.links {
                let at = Utf8Path::new(&l.path);
                if !look.exists(at) && !state.links_created.iter().any(|r| r.path == l.path) {
                    state.links_created.push(LinkRecord {
                        path: l.path.clone(),
                        target: l.target.clone(),
                    });
                    // And the folders tmpfiles creates to hold it (compose's /d, WSL's
                    // /mnt/d): uninstall removes them when empty again.
                    for d in missing_dirs(look, at) {
                        let d = p.logical(&d);
                        if !state.created_dirs.contains(&d) {
                            state.created_dirs.push(d);
                        }
                    }
                }
            }
        }
        body.push(run(&[
            "systemd-tmpfiles",
            "--create",
            "/etc/tmpfiles.d/dockvm.conf",
        ]));
    }
    // dockerd reads its certificates when it starts.
    if drop_in || mount || certs_changed {
        body.push(run(&["systemctl", "restart", "docker"]));
    }
    Ok(with_state(look, p, &state_file, state, old_state, body))
}

fn uninstall_vm(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let state_file = vm_state_path(p, vm);
    let state = load_state(look, &state_file, vm)?;
    let mut files = Vec::new();
    let mut removed = Vec::new();
    let mut touched = [false; 3];
    for (i, rel) in VM_FILES.iter().enumerate() {
        let path = p.sys(&vm_target(tree, rel)?);
        let backup = backup_of(&path);
        match (read(look, &path)?, read(look, &backup)?) {
            (cur, Some(orig)) => {
                files.push(Action::Restore {
                    path: path.clone(),
                    backup,
                    old: cur.unwrap_or_default(),
                    new: orig,
                });
                touched[i] = true;
            }
            (Some(cur), None) if marked_vm(&cur).as_deref() == Some(vm) => {
                removed.push(path.clone());
                files.push(Action::Remove { path, old: cur });
                touched[i] = true;
            }
            (Some(_), None) => files.push(Action::Kept(format!(
                "{path}: not written by dockvm for VM {vm}"
            ))),
            (None, None) => files.push(Action::Unchanged(format!("{path} (absent)"))),
        }
    }
    let certs_removed = match &state {
        Some(s) => remove_certs(look, p, s, &mut files)?,
        None => false,
    };
    let [drop_in, mount, _] = touched;
    let run = |argv: &[&str]| Action::Run {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        skip: p.no_commands.clone(),
    };
    let mut out = Vec::new();
    let mount_path = p.sys("/etc/systemd/system/mnt-hgfs.mount");
    if removed.contains(&mount_path) {
        // Before the unit file goes: disable needs it to find the links enable made.
        out.push(run(&["systemctl", "disable", "--now", "mnt-hgfs.mount"]));
    }
    out.append(&mut files);
    for l in state.iter().flat_map(|s| &s.links_created) {
        let at = p.sys(&l.path);
        if look.link_target(&at).as_deref() == Some(Utf8Path::new(&l.target)) {
            out.push(Action::RemoveLink {
                path: at,
                target: l.target.clone().into(),
            });
        }
    }
    if touched.iter().any(|t| *t) {
        out.push(run(&["systemctl", "daemon-reload"]));
    }
    if drop_in || mount || certs_removed {
        out.push(run(&["systemctl", "restart", "docker"]));
    }
    if let Some(s) = &state {
        out.append(&mut remove_state(p, &state_file, s, s.to_bytes()));
    }
    Ok(out)
}

/// Where the side's TLS files go, for a tree generated with `tls = true`: the VM's
/// `/etc/docker/dockvm`, or `.docker/dockvm-<vm>` under the home folder (WSL) or
/// `%USERPROFILE%` (Windows). The manifest's values must be exactly those, so an edited
/// manifest cannot aim install at another folder.
fn tls_dir(tree: &Tree, p: &Places, side: Side) -> Result<Option<Utf8PathBuf>> {
    let Some(t) = &tree.values.tls else {
        return Ok(None);
    };
    let name = dockvm_spec::tls::client_dir_name(&tree.vm);
    let want = (
        dockvm_spec::tls::VM_DIR.to_owned(),
        dockvm_spec::tls::client_dir(&tree.vm),
        dockvm_spec::tls::windows_cert_path(&tree.vm),
    );
    if (&t.vm_dir, &t.client_dir, &t.windows_cert_path) != (&want.0, &want.1, &want.2) {
        return Err(PlanError::Refused(format!(
            "{}: its tls values are not the ones `dockvm gen` writes for VM {}: run `dockvm gen` again to rewrite the tree",
            tree.dir.join("manifest.json"),
            tree.vm
        )));
    }
    Ok(Some(match side {
        Side::Vm => p.sys(dockvm_spec::tls::VM_DIR),
        Side::Wsl => home(p)?.join(".docker").join(&name),
        Side::Windows => p
            .user_profile
            .as_ref()
            .ok_or_else(|| {
                PlanError::Refused(
                    "%USERPROFILE% is not set: the client certificates go under it".into(),
                )
            })?
            .join(".docker")
            .join(&name),
    }))
}

fn home(p: &Places) -> Result<&Utf8Path> {
    p.home
        .as_deref()
        .ok_or_else(|| PlanError::Refused("$HOME is not set".into()))
}

fn sha256(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Writes `new` over a whole file; a file that is someone else's (`theirs`) is backed up first,
/// once.
fn replace(
    look: &dyn Look,
    body: &mut Vec<Action>,
    path: Utf8PathBuf,
    cur: Option<Vec<u8>>,
    new: Vec<u8>,
    mode: u32,
    theirs: bool,
) {
    if theirs && !look.exists(&backup_of(&path)) {
        body.push(Action::Backup {
            path: path.clone(),
            to: backup_of(&path),
        });
    }
    body.push(Action::Write {
        path,
        old: cur,
        new,
        mode,
    });
}

/// Plans the `--certs` files into `dir` (created 0700 with its missing parents, recorded):
/// keys 0600, certificates 0644; a file of someone else's is backed up first. Each file
/// written is recorded with its SHA-256. Returns whether anything changes.
fn place_certs(
    look: &dyn Look,
    p: &Places,
    src: &CertSource,
    dir: &Utf8Path,
    state: &mut State,
    body: &mut Vec<Action>,
) -> Result<bool> {
    plan_dirs(look, p, &dir.join("x"), true, state, body);
    let mut changed = false;
    for (name, bytes) in &src.files {
        let mode = if dockvm_spec::tls::is_key(name) {
            0o600
        } else {
            0o644
        };
        changed |= place_file(look, p, &dir.join(name), bytes, mode, state, body)?;
    }
    Ok(changed)
}

/// Places one file install owns outside the tree's own targets (a TLS file, the docker
/// context), recorded with the SHA-256 of what it wrote: a file already there that install did
/// not write is backed up first. Returns whether it changes.
fn place_file(
    look: &dyn Look,
    p: &Places,
    path: &Utf8Path,
    bytes: &[u8],
    mode: u32,
    state: &mut State,
    body: &mut Vec<Action>,
) -> Result<bool> {
    let logical = p.logical(path);
    let cur = read(look, path)?;
    if cur.as_deref() == Some(bytes) {
        body.push(Action::Unchanged(path.to_string()));
        return Ok(false);
    }
    let ours = cur.as_ref().is_some_and(|c| {
        state
            .certs
            .iter()
            .any(|r| r.path == logical && r.sha256 == sha256(c))
    });
    let theirs = cur.is_some() && !ours;
    replace(
        look,
        body,
        path.to_owned(),
        cur,
        bytes.to_vec(),
        mode,
        theirs,
    );
    state.certs.retain(|r| r.path != logical);
    state.certs.push(FileRecord {
        path: logical,
        sha256: sha256(bytes),
    });
    Ok(true)
}

/// The docker CLI's config folder of the side: `~/.docker` (WSL), `%USERPROFILE%\.docker`.
fn docker_config_dir(p: &Places, side: Side) -> Result<Utf8PathBuf> {
    Ok(match side {
        Side::Wsl => home(p)?.join(".docker"),
        _ => p
            .user_profile
            .as_ref()
            .ok_or_else(|| {
                PlanError::Refused(
                    "%USERPROFILE% is not set: the docker context goes under it".into(),
                )
            })?
            .join(".docker"),
    })
}

/// Plans the folders missing above `path` (0700 when `private`), but those an earlier step
/// of the plan already makes, and records them for uninstall.
fn plan_dirs(
    look: &dyn Look,
    p: &Places,
    path: &Utf8Path,
    private: bool,
    state: &mut State,
    body: &mut Vec<Action>,
) {
    for d in missing_dirs(look, path) {
        let planned = body
            .iter()
            .any(|a| matches!(a, Action::MakeDir(x) | Action::MakePrivateDir(x) if *x == d));
        if !planned {
            state.created_dirs.push(p.logical(&d));
            body.push(if private {
                Action::MakePrivateDir(d)
            } else {
                Action::MakeDir(d)
            });
        }
    }
}

/// `base` joined with a `/`-separated relative path, one component at a time (so a Windows
/// build joins with `\`).
fn join_rel(base: &Utf8Path, rel: &str) -> Utf8PathBuf {
    rel.split('/').fold(base.to_owned(), |p, c| p.join(c))
}

/// Places the side's docker context (`dockvm-<vm>`, the tree's `<side>/docker/` files) in the
/// CLI's context store, and with TLS and `--certs` the client files in the store's TLS folder
/// of the context, so `docker --context dockvm-<vm>` needs no variables. Returns whether any
/// changes. A tree from before contexts has none: nothing to do.
fn context_step(
    look: &dyn Look,
    p: &Places,
    tree: &Tree,
    side: Side,
    state: &mut State,
    body: &mut Vec<Action>,
) -> Result<bool> {
    let prefix = match side {
        Side::Wsl => "wsl/docker/",
        Side::Windows => "windows/docker/",
        Side::Vm => return Ok(false),
    };
    let files: Vec<_> = tree
        .files
        .iter()
        .filter(|f| f.rel.starts_with(prefix))
        .collect();
    if files.is_empty() {
        return Ok(false);
    }
    let want = dockvm_spec::context::meta_rel(&tree.vm);
    let base = docker_config_dir(p, side)?;
    let mut changed = false;
    for f in files {
        let rel = &f.rel[prefix.len()..];
        if rel != want {
            return Err(PlanError::Refused(format!(
                "{}: lists {}, not the docker context of VM {} ({prefix}{want}): run `dockvm gen` again to rewrite the tree",
                tree.dir.join("manifest.json"),
                f.rel,
                tree.vm
            )));
        }
        let path = join_rel(&base, rel);
        plan_dirs(look, p, &path, false, state, body);
        changed |= place_file(look, p, &path, &f.bytes, 0o644, state, body)?;
    }
    if let (Some(_), Some(src)) = (&tree.values.tls, &tree.certs) {
        let dir = join_rel(&base, &dockvm_spec::context::tls_rel(&tree.vm));
        changed |= place_certs(look, p, src, &dir, state, body)?;
    }
    Ok(changed)
}

/// Plans the removal of the TLS files install placed: each goes while it is what install
/// wrote (a backup is restored instead); one changed since is kept. Returns whether any goes.
fn remove_certs(look: &dyn Look, p: &Places, s: &State, out: &mut Vec<Action>) -> Result<bool> {
    let mut any = false;
    for r in &s.certs {
        let path = p.real(&r.path);
        let backup = backup_of(&path);
        match (read(look, &path)?, read(look, &backup)?) {
            (cur, Some(orig)) => {
                out.push(Action::Restore {
                    path,
                    backup,
                    old: cur.unwrap_or_default(),
                    new: orig,
                });
                any = true;
            }
            (Some(cur), None) if sha256(&cur) == r.sha256 => {
                out.push(Action::Remove { path, old: cur });
                any = true;
            }
            (Some(_), None) => out.push(Action::Kept(format!(
                "{path}: changed since install (not the file it placed)"
            ))),
            (None, None) => out.push(Action::Unchanged(format!("{path} (absent)"))),
        }
    }
    Ok(any)
}

/// A registry value install owns: what it was before the first install is recorded once.
fn own_value(
    look: &dyn Look,
    body: &mut Vec<Action>,
    rec: &mut Recorded,
    name: &str,
    want: RegValue,
    changed: &mut bool,
) -> Result<()> {
    let cur = reg(look, ENVIRONMENT, name)?;
    if !rec.recorded {
        rec.recorded = true;
        rec.before = cur.clone();
    }
    set_value(body, ENVIRONMENT, name, cur, want, changed);
    Ok(())
}

/// Gives a value install set back as it was before (deleted if it did not exist), unless it
/// was changed since.
fn give_back(
    look: &dyn Look,
    out: &mut Vec<Action>,
    before: Option<RegValue>,
    name: &str,
    ours: &RegValue,
    changed: &mut bool,
) -> Result<()> {
    match reg(look, ENVIRONMENT, name)? {
        Some(cur) if &cur == ours && before.as_ref() == Some(&cur) => out.push(Action::Unchanged(
            format!(r"HKEY_CURRENT_USER\Environment\{name} (it was so before install)"),
        )),
        Some(cur) if &cur == ours => {
            *changed = true;
            match before {
                Some(before) => out.push(Action::SetReg {
                    key: ENVIRONMENT,
                    name: name.into(),
                    old: Some(cur),
                    new: before,
                }),
                None => out.push(Action::DeleteReg {
                    key: ENVIRONMENT,
                    name: name.into(),
                    old: cur,
                }),
            }
        }
        Some(cur) => out.push(Action::Kept(format!(
            r"HKEY_CURRENT_USER\Environment\{name} = {}: not the value install set",
            cur.show()
        ))),
        None => out.push(Action::Unchanged(format!(
            r"HKEY_CURRENT_USER\Environment\{name} (absent)"
        ))),
    }
    Ok(())
}

/// docker compose converts Windows bind sources (`D:\x` to `/d/x`) while this is `1`.
const COMPOSE_VAR: &str = "COMPOSE_CONVERT_WINDOWS_PATHS";

/// The TLS values of `HKCU\Environment`: `DOCKER_TLS_VERIFY` (REG_SZ) and `DOCKER_CERT_PATH`
/// (REG_EXPAND_SZ, `%USERPROFILE%` kept unexpanded).
/// ([`tls_dir`] holds the manifest's value to this one.)
fn tls_reg_values(vm: &str) -> [(&'static str, RegValue); 2] {
    [
        ("DOCKER_TLS_VERIFY", RegValue::string(REG_SZ, "1")),
        (
            "DOCKER_CERT_PATH",
            RegValue::string(REG_EXPAND_SZ, &dockvm_spec::tls::windows_cert_path(vm)),
        ),
    ]
}

/// The wsl side's state file, kept only once install has placed TLS files (the profile block
/// and wsl.conf carry their own ownership).
fn wsl_state_path(p: &Places, vm: &str) -> Result<Utf8PathBuf> {
    Ok(home(p)?
        .join(".local/state/dockvm")
        .join(vm)
        .join("install-state.json"))
}

/// Places the side's TLS files, or says where they are missing.
fn certs_step(
    look: &dyn Look,
    p: &Places,
    tree: &Tree,
    side: Side,
    state: &mut State,
    body: &mut Vec<Action>,
) -> Result<bool> {
    let Some(dir) = tls_dir(tree, p, side)? else {
        return Ok(false);
    };
    if let Some(src) = &tree.certs {
        return place_certs(look, p, src, &dir, state, body);
    }
    if !look.exists(&dir.join(dockvm_spec::tls::CA)) {
        body.push(Action::Advice(format!(
            "DOCKER_CERT_PATH points at {dir}, which has no {}: run install again with --certs DIR (the folder `dockvm certs` wrote)",
            dockvm_spec::tls::CA
        )));
    }
    Ok(false)
}

/// The folders install created are removed (innermost first) before the state that records
/// them; the state file and the folders that hold it go in one last step.
fn remove_state(p: &Places, state_file: &Utf8Path, s: &State, old: Vec<u8>) -> Vec<Action> {
    let (own, others): (Vec<Utf8PathBuf>, Vec<Utf8PathBuf>) = state_dirs(p, s)
        .into_iter()
        .partition(|d| state_file.starts_with(d));
    let mut out: Vec<Action> = others.into_iter().map(Action::RemoveDir).collect();
    out.push(Action::RemoveState {
        path: state_file.to_owned(),
        old,
        dirs: own,
    });
    out
}

/// The folders to remove after the state file, innermost first: those install created.
fn state_dirs(p: &Places, s: &State) -> Vec<Utf8PathBuf> {
    let mut dirs: Vec<Utf8PathBuf> = s.created_dirs.iter().map(|d| p.real(d)).collect();
    dirs.sort();
    dirs.dedup();
    dirs.reverse();
    dirs
}

/// The block's new bytes for a shared file, and whether a backup is due first: only when the
/// file exists and has no block of this VM yet (it is as its owner left it). A file it
/// creates is 0644; one it replaces keeps its mode ([`crate::sys::write_atomic`]).
fn block_edit(
    look: &dyn Look,
    path: &Utf8Path,
    vm: &str,
    block: &[u8],
    out: &mut Vec<Action>,
) -> Result<()> {
    let cur = read(look, path)?;
    let new = edit::put_block(cur.as_deref().unwrap_or_default(), vm, block);
    if cur.as_deref() == Some(&new[..]) {
        out.push(Action::Unchanged(path.to_string()));
        return Ok(());
    }
    if let Some(c) = &cur
        && edit::find_block(c, vm).is_none()
        && !look.exists(&backup_of(path))
    {
        out.push(Action::Backup {
            path: path.to_owned(),
            to: backup_of(path),
        });
    }
    out.push(Action::Write {
        path: path.to_owned(),
        old: cur,
        new,
        mode: 0o644,
    });
    Ok(())
}

/// Undoes [`block_edit`]: the block goes, every other byte stays (later edits included). When
/// the rest is exactly the backup (plus the line ending install had to add), the backup's
/// bytes are the result; a file install created and that holds nothing else goes.
fn block_undo(look: &dyn Look, path: &Utf8Path, vm: &str, out: &mut Vec<Action>) -> Result<()> {
    let backup = backup_of(path);
    let orig = read(look, &backup)?;
    let Some(cur) = read(look, path)? else {
        out.push(Action::Unchanged(format!("{path} (absent)")));
        return Ok(());
    };
    if edit::find_block(&cur, vm).is_none() {
        out.push(Action::Unchanged(format!("{path} (no dockvm {vm} block)")));
    } else {
        let mut rest = edit::remove_block(&cur, vm);
        if let Some(o) = &orig
            && !o.ends_with(b"\n")
            && (rest == [&o[..], b"\n"].concat() || rest == [&o[..], b"\r\n"].concat())
        {
            rest = o.clone();
        }
        if rest.is_empty() && orig.is_none() {
            out.push(Action::Remove {
                path: path.to_owned(),
                old: cur,
            });
            return Ok(());
        }
        out.push(Action::Write {
            path: path.to_owned(),
            old: Some(cur.clone()),
            new: rest.clone(),
            mode: 0o644,
        });
        backup_cleanup(path, orig, &rest, out);
        return Ok(());
    }
    backup_cleanup(path, orig, &cur, out);
    Ok(())
}

/// The backup goes once the file is again exactly what it holds; otherwise it stays, said.
fn backup_cleanup(path: &Utf8Path, orig: Option<Vec<u8>>, now: &[u8], out: &mut Vec<Action>) {
    let Some(o) = orig else { return };
    let backup = backup_of(path);
    if o == now {
        out.push(Action::Remove {
            path: backup,
            old: o,
        });
    } else {
        out.push(Action::Kept(format!(
            "{backup}: {path} was edited since install, so it differs from the copy made before install"
        )));
    }
}

fn profile_path(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Utf8PathBuf> {
    let f = tree.file("wsl/profile.sh")?;
    let target = f.target.clone().unwrap_or_default();
    // The profile's target comes from the spec through the manifest: hold it to the spec's
    // own rule (`~/FILE` or an absolute path, no `..`), so an edited manifest cannot aim the
    // block at another file's place.
    if let Err(why) = dockvm_spec::ProfilePath::parse(&target)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            if target.split('/').any(|c| c == "..") {
                Err("it contains ..".to_owned())
            } else {
                Ok(())
            }
        })
    {
        return Err(PlanError::Refused(format!(
            "{}: the profile target {target:?} is not a profile path ({why}): run `dockvm gen` again",
            tree.dir.join("manifest.json")
        )));
    }
    let path = match target.strip_prefix("~/") {
        Some(rest) => p
            .home
            .as_ref()
            .ok_or_else(|| {
                PlanError::Refused(format!("HOME is not set: the profile {target} is under it"))
            })?
            .join(rest),
        None => Utf8PathBuf::from(&target),
    };
    // A profile that is a link (a dotfiles manager's) is edited where it points, so the link stays.
    let path = match look.link_target(&path) {
        Some(t) if t.is_absolute() => t,
        Some(t) => path.parent().unwrap_or(Utf8Path::new("/")).join(t),
        None => path,
    };
    if let Some(dir) = path.parent()
        && !look.is_dir(dir)
    {
        return Err(PlanError::Refused(format!(
            "{dir}: the folder of the profile {target} does not exist; create it, or set wsl.profile in the spec to a file your shell reads"
        )));
    }
    Ok(path)
}

const WSL_CONF: &str = "/etc/wsl.conf";

fn install_wsl(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let mut out = Vec::new();
    let profile = profile_path(tree, p, look)?;
    if let Some(cur) = read(look, &profile)? {
        let others = edit::other_blocks(&cur, vm);
        if !others.is_empty() {
            return Err(PlanError::Refused(format!(
                "{profile}: holds the dockvm block of VM {}: both would export DOCKER_HOST and the later would win; run `dockvm uninstall --side wsl` with that VM's tree first",
                others.join(", ")
            )));
        }
    }
    block_edit(
        look,
        &profile,
        vm,
        &tree.file("wsl/profile.sh")?.bytes,
        &mut out,
    )?;
    let conf = p.sys(WSL_CONF);
    let root = &tree.values.automount_root;
    let conf_changed = match read(look, &conf)? {
        None => {
            out.push(Action::Write {
                path: conf.clone(),
                old: None,
                new: tree.file("wsl/wsl.conf")?.bytes.clone(),
                mode: 0o644,
            });
            true
        }
        Some(cur) => match edit::find_key(&cur, "automount", "root") {
            Some((_, v)) if edit::same_root(v, root.as_bytes()) => {
                out.push(Action::Unchanged(format!(
                    "{conf} ([automount] root = {root})"
                )));
                false
            }
            _ => {
                if !look.exists(&backup_of(&conf)) {
                    out.push(Action::Backup {
                        path: conf.clone(),
                        to: backup_of(&conf),
                    });
                }
                out.push(Action::Write {
                    new: edit::set_key(&cur, "automount", "root", root),
                    path: conf.clone(),
                    old: Some(cur),
                    mode: 0o644,
                });
                true
            }
        },
    };
    if conf_changed {
        out.push(Action::Advice(format!(
            "{WSL_CONF} changed: run `wsl --shutdown` in Windows, then open WSL again (WSL reads it only when it starts)"
        )));
    }
    let has_context = tree.files.iter().any(|f| f.rel.starts_with("wsl/docker/"));
    if tree.values.tls.is_none() && !has_context {
        return Ok(out);
    }
    let state_file = wsl_state_path(p, vm)?;
    let old_state = read(look, &state_file)?;
    let mut state = load_state(look, &state_file, vm)?.unwrap_or_else(|| State::new(vm));
    certs_step(look, p, tree, Side::Wsl, &mut state, &mut out)?;
    context_step(look, p, tree, Side::Wsl, &mut state, &mut out)?;
    if tree.certs.is_none() && old_state.is_none() && !has_context {
        return Ok(out);
    }
    Ok(with_state(look, p, &state_file, state, old_state, out))
}

fn uninstall_wsl(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let mut out = Vec::new();
    let profile = profile_path(tree, p, look)?;
    block_undo(look, &profile, vm, &mut out)?;
    let conf = p.sys(WSL_CONF);
    let backup = backup_of(&conf);
    let generated = &tree.file("wsl/wsl.conf")?.bytes;
    let root = &tree.values.automount_root;
    match (read(look, &conf)?, read(look, &backup)?) {
        (None, _) => out.push(Action::Unchanged(format!("{conf} (absent)"))),
        (Some(cur), None) if &cur == generated => out.push(Action::Remove {
            path: conf,
            old: cur,
        }),
        (Some(_), None) => out.push(Action::Unchanged(format!(
            "{conf} (install did not change it)"
        ))),
        (Some(cur), Some(orig)) => {
            let new = if cur == edit::set_key(&orig, "automount", "root", root) {
                orig.clone()
            } else {
                edit::restore_key(&cur, &orig, "automount", "root")
            };
            if new != cur {
                out.push(Action::Write {
                    path: conf.clone(),
                    old: Some(cur),
                    new: new.clone(),
                    mode: 0o644,
                });
                out.push(Action::Advice(format!(
                    "{WSL_CONF} changed: run `wsl --shutdown` in Windows for WSL to read it"
                )));
            }
            backup_cleanup(&conf, Some(orig), &new, &mut out);
        }
    }
    let state_file = wsl_state_path(p, vm)?;
    if let Some(s) = load_state(look, &state_file, vm)? {
        remove_certs(look, p, &s, &mut out)?;
        let old = read(look, &state_file)?.unwrap_or_default();
        out.append(&mut remove_state(p, &state_file, &s, old));
    }
    Ok(out)
}

const BATS: [&str; 3] = [
    "windows/start-vm.bat",
    "windows/stop-vm.bat",
    "windows/reset-shared-folders.bat",
];

fn hosts_path(p: &Places) -> Result<Utf8PathBuf> {
    let root = p.system_root.as_ref().ok_or_else(|| {
        PlanError::Refused("%SystemRoot% is not set: it holds the hosts file".into())
    })?;
    Ok(root.join(r"System32\drivers\etc\hosts"))
}

/// The `Run` value's data: the copied start-vm.bat, quoted (the path may hold spaces).
fn run_command(app: &Utf8Path) -> String {
    format!("\"{}\"", app.join("start-vm.bat"))
}

fn install_windows(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let app = app_dir(p, vm)?;
    let state_file = app.join("install-state.json");
    let base = app.parent().unwrap_or(&app).to_owned();
    if let Some(other) = look
        .list(&base)
        .into_iter()
        .find(|n| n != vm && look.exists(&base.join(n).join("install-state.json")))
    {
        return Err(PlanError::Refused(format!(
            "{}: VM {other} is installed on this side, and DOCKER_HOST can name only one VM; run `dockvm uninstall` with VM {other}'s tree first",
            base.join(&other).join("install-state.json")
        )));
    }
    let old_state = read(look, &state_file)?;
    let mut state = load_state(look, &state_file, vm)?.unwrap_or_else(|| State::new(vm));
    let mut body = Vec::new();
    // The app folder is the state file's: `with_state` creates and records it.
    for rel in BATS {
        let f = tree.file(rel)?;
        let path = app.join(rel.trim_start_matches("windows/"));
        let cur = read(look, &path)?;
        if cur.as_deref() == Some(&f.bytes[..]) {
            body.push(Action::Unchanged(path.to_string()));
        } else {
            body.push(Action::Write {
                path,
                old: cur,
                new: f.bytes.clone(),
                mode: f.mode,
            });
        }
    }
    let mut env_changed = false;
    // DOCKER_HOST, REG_SZ; what it was before the first install is recorded once.
    let want = RegValue::string(REG_SZ, &tree.values.docker_host);
    let cur = reg(look, ENVIRONMENT, "DOCKER_HOST")?;
    if !state.docker_host.recorded {
        state.docker_host.recorded = true;
        state.docker_host.before = cur.clone();
    }
    set_value(
        &mut body,
        ENVIRONMENT,
        "DOCKER_HOST",
        cur,
        want,
        &mut env_changed,
    );
    // With TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH too; a tree without TLS after one with
    // gives them back (the docker CLI fails against a plain port with DOCKER_TLS_VERIFY set).
    let [(verify_name, verify), (path_name, path)] = tls_reg_values(vm);
    if tree.values.tls.is_some() {
        own_value(
            look,
            &mut body,
            &mut state.tls_verify,
            verify_name,
            verify,
            &mut env_changed,
        )?;
        own_value(
            look,
            &mut body,
            &mut state.cert_path,
            path_name,
            path,
            &mut env_changed,
        )?;
    } else {
        for (rec, name, ours) in [
            (&mut state.tls_verify, verify_name, &verify),
            (&mut state.cert_path, path_name, &path),
        ] {
            if rec.recorded {
                give_back(
                    look,
                    &mut body,
                    rec.before.clone(),
                    name,
                    ours,
                    &mut env_changed,
                )?;
                *rec = Recorded::default();
            }
        }
    }
    // COMPOSE_CONVERT_WINDOWS_PATHS=1 with compose_paths; a tree without after one with gives
    // the user's value back.
    let compose = RegValue::string(REG_SZ, "1");
    if tree.values.compose_convert_windows_paths {
        own_value(
            look,
            &mut body,
            &mut state.compose,
            COMPOSE_VAR,
            compose,
            &mut env_changed,
        )?;
    } else if state.compose.recorded {
        give_back(
            look,
            &mut body,
            state.compose.before.clone(),
            COMPOSE_VAR,
            &compose,
            &mut env_changed,
        )?;
        state.compose = Recorded::default();
    }
    // Path: docker_dir appended once, the value's type kept (REG_EXPAND_SZ stays so). An entry
    // an earlier install added for another docker_dir goes; the value before the first install
    // stays recorded.
    let dir = &tree.values.docker_dir;
    let cur = reg(look, ENVIRONMENT, "Path")?;
    let text = cur.as_ref().and_then(RegValue::text).unwrap_or_default();
    let base = match &state.path.entry {
        Some(old) if !registry::same_dir(old, dir) => registry::path_without(&text, old),
        _ => text.clone(),
    };
    let has = base.split(';').any(|e| registry::same_dir(e, dir));
    if has && base == text {
        body.push(Action::Unchanged(format!(
            r"HKEY_CURRENT_USER\Environment\Path (has {dir})"
        )));
    } else {
        let kind = cur.as_ref().map_or(REG_EXPAND_SZ, |v| v.kind);
        let value = if has {
            base
        } else {
            registry::path_with(&base, dir)
        };
        let new = RegValue::string(kind, &value);
        if state.path.entry.is_none() {
            state.path.before = cur.clone();
        }
        state.path.entry = Some(dir.clone());
        state.path.after = Some(new.clone());
        set_value(&mut body, ENVIRONMENT, "Path", cur, new, &mut env_changed);
    }
    // The Run value starts the copied start-vm.bat at sign-in, when the spec asks for it.
    let name = format!("dockvm-{vm}");
    let cur = reg(look, RUN, &name)?;
    if tree.values.autostart {
        if !state.run.recorded {
            state.run.recorded = true;
            state.run.before = cur.clone();
        }
        let want = RegValue::string(REG_SZ, &run_command(&app));
        set_value(&mut body, RUN, &name, cur, want, &mut false);
    } else if let Some(c) = cur {
        if state.run.recorded && c == RegValue::string(REG_SZ, &run_command(&app)) {
            match state.run.before.take() {
                Some(b) => body.push(Action::SetReg {
                    key: RUN,
                    name: name.clone(),
                    old: Some(c),
                    new: b,
                }),
                None => body.push(Action::DeleteReg {
                    key: RUN,
                    name: name.clone(),
                    old: c,
                }),
            }
            state.run.recorded = false;
        } else {
            body.push(Action::Kept(format!(
                r"HKEY_CURRENT_USER\{RUN}\{name}: not set by dockvm install (autostart is off in the spec)"
            )));
        }
    }
    if env_changed {
        body.push(Action::Broadcast);
    }
    certs_step(look, p, tree, Side::Windows, &mut state, &mut body)?;
    context_step(look, p, tree, Side::Windows, &mut state, &mut body)?;
    // The hosts file last: it needs an administrator, and everything else is done without one.
    let hosts = hosts_path(p)?;
    block_edit(
        look,
        &hosts,
        vm,
        &tree.file("windows/hosts.txt")?.bytes,
        &mut body,
    )?;
    Ok(with_state(look, p, &state_file, state, old_state, body))
}

fn set_value(
    out: &mut Vec<Action>,
    key: &'static str,
    name: &str,
    cur: Option<RegValue>,
    want: RegValue,
    changed: &mut bool,
) {
    if cur.as_ref() == Some(&want) {
        out.push(Action::Unchanged(format!(
            r"HKEY_CURRENT_USER\{key}\{name}"
        )));
    } else {
        *changed = true;
        out.push(Action::SetReg {
            key,
            name: name.to_owned(),
            old: cur,
            new: want,
        });
    }
}

fn uninstall_windows(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let app = app_dir(p, vm)?;
    let state_file = app.join("install-state.json");
    let state = load_state(look, &state_file, vm)?;
    let mut out = Vec::new();
    let mut env_changed = false;
    let ours = RegValue::string(REG_SZ, &tree.values.docker_host);
    let before = state.as_ref().and_then(|s| s.docker_host.before.clone());
    match reg(look, ENVIRONMENT, "DOCKER_HOST")? {
        Some(cur) if cur == ours && before.as_ref() == Some(&cur) => out.push(Action::Unchanged(
            r"HKEY_CURRENT_USER\Environment\DOCKER_HOST (it was so before install)".into(),
        )),
        Some(cur) if cur == ours => {
            env_changed = true;
            match before {
                Some(before) => out.push(Action::SetReg {
                    key: ENVIRONMENT,
                    name: "DOCKER_HOST".into(),
                    old: Some(cur),
                    new: before,
                }),
                None => out.push(Action::DeleteReg {
                    key: ENVIRONMENT,
                    name: "DOCKER_HOST".into(),
                    old: cur,
                }),
            }
        }
        Some(cur) => out.push(Action::Kept(format!(
            r"HKEY_CURRENT_USER\Environment\DOCKER_HOST = {}: not the value install set",
            cur.show()
        ))),
        None => out.push(Action::Unchanged(
            r"HKEY_CURRENT_USER\Environment\DOCKER_HOST (absent)".into(),
        )),
    }
    if let Some(s) = &state
        && let Some(entry) = &s.path.entry
    {
        let cur = reg(look, ENVIRONMENT, "Path")?;
        let restore = if cur == s.path.after {
            // Untouched since install: the exact bytes from before.
            s.path.before.clone().map(Ok).unwrap_or(Err(()))
        } else {
            let text = cur.as_ref().and_then(RegValue::text).unwrap_or_default();
            let kind = cur.as_ref().map_or(REG_EXPAND_SZ, |v| v.kind);
            Ok(RegValue::string(
                kind,
                &registry::path_without(&text, entry),
            ))
        };
        match (cur, restore) {
            (Some(c), Ok(new)) if c != new => {
                env_changed = true;
                out.push(Action::SetReg {
                    key: ENVIRONMENT,
                    name: "Path".into(),
                    old: Some(c),
                    new,
                });
            }
            (Some(c), Err(())) => {
                env_changed = true;
                out.push(Action::DeleteReg {
                    key: ENVIRONMENT,
                    name: "Path".into(),
                    old: c,
                });
            }
            _ => out.push(Action::Unchanged(format!(
                r"HKEY_CURRENT_USER\Environment\Path (no {entry})"
            ))),
        }
    }
    let name = format!("dockvm-{vm}");
    if let Some(s) = &state
        && s.run.recorded
        && let Some(cur) = reg(look, RUN, &name)?
    {
        if cur == RegValue::string(REG_SZ, &run_command(&app)) {
            match s.run.before.clone() {
                Some(b) => out.push(Action::SetReg {
                    key: RUN,
                    name,
                    old: Some(cur),
                    new: b,
                }),
                None => out.push(Action::DeleteReg {
                    key: RUN,
                    name,
                    old: cur,
                }),
            }
        } else {
            out.push(Action::Kept(format!(
                r"HKEY_CURRENT_USER\{RUN}\{name}: changed since install"
            )));
        }
    }
    if let Some(s) = &state {
        let [(verify_name, verify), (path_name, path)] = tls_reg_values(vm);
        let compose = RegValue::string(REG_SZ, "1");
        for (rec, name, ours) in [
            (&s.tls_verify, verify_name, &verify),
            (&s.cert_path, path_name, &path),
            (&s.compose, COMPOSE_VAR, &compose),
        ] {
            if rec.recorded {
                give_back(
                    look,
                    &mut out,
                    rec.before.clone(),
                    name,
                    ours,
                    &mut env_changed,
                )?;
            }
        }
        remove_certs(look, p, s, &mut out)?;
    }
    if env_changed {
        out.push(Action::Broadcast);
    }
    for rel in BATS {
        let path = app.join(rel.trim_start_matches("windows/"));
        if let Some(old) = read(look, &path)? {
            out.push(Action::Remove { path, old });
        }
    }
    block_undo(look, &hosts_path(p)?, vm, &mut out)?;
    if let Some(s) = &state {
        let old = read(look, &state_file)?.unwrap_or_default();
        out.append(&mut remove_state(p, &state_file, s, old));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A system in memory for the planner's unit tests: files and `HKCU` values. The real
    /// system is exercised by the integration tests (Linux, and Windows under Wine).
    #[derive(Default)]
    struct Mem {
        files: BTreeMap<Utf8PathBuf, Vec<u8>>,
        reg: RefCell<BTreeMap<(String, String), RegValue>>,
    }

    impl Look for Mem {
        fn read(&self, path: &Utf8Path) -> io::Result<Option<Vec<u8>>> {
            Ok(self.files.get(path).cloned())
        }
        fn exists(&self, path: &Utf8Path) -> bool {
            self.files.keys().any(|f| f.starts_with(path))
        }
        fn is_dir(&self, path: &Utf8Path) -> bool {
            self.files.keys().any(|f| f.starts_with(path) && f != path)
        }
        fn link_target(&self, _: &Utf8Path) -> Option<Utf8PathBuf> {
            None
        }
        fn list(&self, _: &Utf8Path) -> Vec<String> {
            Vec::new()
        }
        fn reg(&self, key: &str, name: &str) -> io::Result<Option<RegValue>> {
            Ok(self.reg.borrow().get(&(key.into(), name.into())).cloned())
        }
    }

    impl Mem {
        /// Applies the plan's registry and file actions to the memory system.
        fn apply(&mut self, plan: &[Action]) {
            for a in plan {
                match a {
                    Action::SetReg { key, name, new, .. } => {
                        self.reg
                            .borrow_mut()
                            .insert((key.to_string(), name.clone()), new.clone());
                    }
                    Action::DeleteReg { key, name, .. } => {
                        self.reg
                            .borrow_mut()
                            .remove(&(key.to_string(), name.clone()));
                    }
                    Action::Write { path, new, .. } | Action::WriteState { path, new, .. } => {
                        self.files.insert(path.clone(), new.clone());
                    }
                    Action::Remove { path, .. } | Action::RemoveState { path, .. } => {
                        self.files.remove(path);
                    }
                    Action::Backup { path, to } => {
                        let b = self.files[path].clone();
                        self.files.insert(to.clone(), b);
                    }
                    Action::Restore { path, backup, .. } => {
                        let b = self.files.remove(backup).unwrap();
                        self.files.insert(path.clone(), b);
                    }
                    _ => {}
                }
            }
        }

        fn path(&self) -> Option<String> {
            self.reg
                .borrow()
                .get(&(ENVIRONMENT.into(), "Path".into()))
                .and_then(RegValue::text)
        }
    }

    fn tree(docker_dir: &str) -> Tree {
        use crate::tree::TreeFile;
        let file = |rel: &str, bytes: &[u8]| TreeFile {
            rel: rel.into(),
            target: None,
            mode: 0o644,
            bytes: bytes.to_vec(),
        };
        Tree {
            dir: "gen".into(),
            vm: "dev".into(),
            values: dockvm_gen::InstallValues {
                docker_host: "tcp://local.test:2375".into(),
                docker_dir: docker_dir.into(),
                autostart: false,
                automount_root: "/mnt/".into(),
                links: Vec::new(),
                compose_convert_windows_paths: true,
                tls: None,
            },
            certs: None,
            files: vec![
                file("windows/start-vm.bat", b"@echo off\r\n"),
                file("windows/stop-vm.bat", b"@echo off\r\n"),
                file("windows/reset-shared-folders.bat", b"@echo off\r\n"),
                file(
                    "windows/hosts.txt",
                    b"# BEGIN dockvm dev\r\n1.2.3.4 local.test\r\n# END dockvm dev\r\n",
                ),
            ],
        }
    }

    fn places() -> Places {
        Places {
            root: "/".into(),
            home: None,
            no_commands: None,
            system_root: Some(r"C:\Windows".into()),
            local_app_data: Some(r"C:\Users\me\AppData\Local".into()),
            user_profile: Some(r"C:\Users\me".into()),
        }
    }

    #[test]
    fn a_changed_docker_dir_moves_the_path_entry_and_uninstall_still_gives_back_the_original() {
        let mut m = Mem::default();
        let original = RegValue::string(REG_EXPAND_SZ, r"%USERPROFILE%\bin");
        m.reg
            .borrow_mut()
            .insert((ENVIRONMENT.into(), "Path".into()), original.clone());
        let p = places();
        let plan = install(Side::Windows, &tree(r"C:\Docker"), &p, &m).unwrap();
        m.apply(&plan);
        assert_eq!(m.path().unwrap(), r"%USERPROFILE%\bin;C:\Docker");
        let plan = install(Side::Windows, &tree(r"D:\Docker 2"), &p, &m).unwrap();
        m.apply(&plan);
        assert_eq!(m.path().unwrap(), r"%USERPROFILE%\bin;D:\Docker 2");
        let plan = uninstall(Side::Windows, &tree(r"D:\Docker 2"), &p, &m).unwrap();
        m.apply(&plan);
        assert_eq!(
            m.reg.borrow().get(&(ENVIRONMENT.into(), "Path".into())),
            Some(&original)
        );
        assert!(m.files.is_empty(), "{:?}", m.files.keys());
    }

    #[test]
    fn a_docker_host_that_was_already_ours_is_left_as_it_was() {
        let mut m = Mem::default();
        let ours = RegValue::string(REG_SZ, "tcp://local.test:2375");
        m.reg
            .borrow_mut()
            .insert((ENVIRONMENT.into(), "DOCKER_HOST".into()), ours.clone());
        let p = places();
        let plan = install(Side::Windows, &tree(r"C:\Docker"), &p, &m).unwrap();
        m.apply(&plan);
        let plan = uninstall(Side::Windows, &tree(r"C:\Docker"), &p, &m).unwrap();
        assert!(
            !plan.iter().any(|a| matches!(a, Action::SetReg { name, .. } | Action::DeleteReg { name, .. } if name == "DOCKER_HOST")),
            "{plan:?}"
        );
        m.apply(&plan);
        assert_eq!(
            m.reg
                .borrow()
                .get(&(ENVIRONMENT.into(), "DOCKER_HOST".into())),
            Some(&ours)
        );
    }

    /// compose_paths on, then a tree with it off: the user's value comes back at once, and an
    /// uninstall after that has nothing of it to undo.
    #[test]
    fn a_tree_without_compose_paths_gives_the_user_s_value_back() {
        let mut m = Mem::default();
        let key = (ENVIRONMENT.to_owned(), COMPOSE_VAR.to_owned());
        let theirs = RegValue::string(REG_SZ, "0");
        m.reg.borrow_mut().insert(key.clone(), theirs.clone());
        let p = places();
        let on = tree(r"C:\Docker");
        let plan = install(Side::Windows, &on, &p, &m).unwrap();
        m.apply(&plan);
        assert_eq!(
            m.reg.borrow().get(&key),
            Some(&RegValue::string(REG_SZ, "1"))
        );
        let mut off = tree(r"C:\Docker");
        off.values.compose_convert_windows_paths = false;
        let plan = install(Side::Windows, &off, &p, &m).unwrap();
        m.apply(&plan);
        assert_eq!(m.reg.borrow().get(&key), Some(&theirs));
        let plan = uninstall(Side::Windows, &off, &p, &m).unwrap();
        assert!(
            !plan.iter().any(|a| matches!(a, Action::SetReg { name, .. } | Action::DeleteReg { name, .. } if name == COMPOSE_VAR)),
            "{plan:?}"
        );
        m.apply(&plan);
        assert_eq!(m.reg.borrow().get(&key), Some(&theirs));
    }

    /// With commands (systemd here, root `/`), install records the links tmpfiles will make and
    /// the folders it makes to hold them (compose's `/d`, WSL's `/mnt/d`), and uninstall
    /// removes those folders (when empty) and nothing it did not make (`/mnt`).
    #[test]
    fn the_folders_tmpfiles_makes_for_the_links_are_recorded_and_removed() {
        use crate::tree::TreeFile;
        let mut m = Mem::default();
        m.files.insert("/mnt/hgfs/.keep".into(), Vec::new());
        let mut t = tree(r"C:\Docker");
        t.files = VM_FILES
            .iter()
            .map(|rel| TreeFile {
                rel: (*rel).into(),
                target: Some(format!("/{}", rel.trim_start_matches("vm/"))),
                mode: 0o644,
                bytes: format!("# dockvm dev {rel}\n").into_bytes(),
            })
            .collect();
        t.values.links = ["/mnt/d/projects", "/d/projects"]
            .map(|p| dockvm_gen::LinkValue {
                path: p.into(),
                target: "/mnt/hgfs/d".into(),
            })
            .into();
        let p = places();
        let plan = install(Side::Vm, &t, &p, &m).unwrap();
        let Some(Action::WriteState { new, .. }) = plan.first() else {
            panic!("{plan:?}")
        };
        let state: State = serde_json::from_slice(new).unwrap();
        let links: Vec<&str> = state
            .links_created
            .iter()
            .map(|l| l.path.as_str())
            .collect();
        assert_eq!(links, ["/mnt/d/projects", "/d/projects"]);
        for d in ["/mnt/d", "/d"] {
            assert!(state.created_dirs.iter().any(|c| c == d), "{d}: {state:?}");
        }
        assert!(!state.created_dirs.iter().any(|c| c == "/mnt"), "{state:?}");
        m.apply(&plan);
        let plan = uninstall(Side::Vm, &t, &p, &m).unwrap();
        let removed: Vec<&str> = plan
            .iter()
            .filter_map(|a| match a {
                Action::RemoveDir(d) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        for d in ["/mnt/d", "/d"] {
            assert!(removed.contains(&d), "{d}: {plan:?}");
        }
        assert!(!removed.contains(&"/mnt"), "{plan:?}");
    }

    #[test]
    fn markers_name_their_vm() {
        assert_eq!(
            marked_vm(b"# Generated by dockvm for VM dev\n").as_deref(),
            Some("dev")
        );
        assert_eq!(
            marked_vm(b"# Generated by dockvm for VM lab-2; `dockvm gen` overwrites edits.\n")
                .as_deref(),
            Some("lab-2")
        );
        assert_eq!(marked_vm(b"[Unit]\n"), None);
    }
}

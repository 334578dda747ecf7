//! The ownership rules every side's plan shares: whole files replaced with a backup kept
//! once, files placed and owned by their SHA-256 (TLS files, the docker context), marked blocks
//! edited and undone, registry values owned and given back, the state file and its folders.

use super::*;

/// Where the side's TLS files go, for a tree generated with `tls = true`: the VM's
/// `/etc/docker/dockvm`, or `.docker/dockvm-<vm>` under the home folder (WSL) or
/// `%USERPROFILE%` (Windows). The manifest's values must be exactly those, so an edited
/// manifest cannot aim install at another folder.
pub(super) fn tls_dir(tree: &Tree, p: &Places, side: Side) -> Result<Option<Utf8PathBuf>> {
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

pub(super) fn home(p: &Places) -> Result<&Utf8Path> {
    p.home
        .as_deref()
        .ok_or_else(|| PlanError::Refused("$HOME is not set".into()))
}

pub(super) fn sha256(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Writes `new` over a whole file; a file that is someone else's (`theirs`) is backed up first,
/// once.
pub(super) fn replace(
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
pub(super) fn place_certs(
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
pub(super) fn place_file(
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
pub(super) fn docker_config_dir(p: &Places, side: Side) -> Result<Utf8PathBuf> {
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
pub(super) fn plan_dirs(
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
pub(super) fn join_rel(base: &Utf8Path, rel: &str) -> Utf8PathBuf {
    rel.split('/').fold(base.to_owned(), |p, c| p.join(c))
}

/// Places the side's docker context (`dockvm-<vm>`, the tree's `<side>/docker/` files) in the
/// CLI's context store, and with TLS and `--certs` the client files in the store's TLS folder
/// of the context, so `docker --context dockvm-<vm>` needs no variables. Returns whether any
/// changes. A tree from before contexts has none: nothing to do.
pub(super) fn context_step(
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
    // With the proxy's pipe the Windows context has no TLS: the proxy holds it, and the CLI
    // would try it on the pipe.
    let pipe = matches!(side, Side::Windows) && tree.values.windows_pipe.is_some();
    if let (Some(_), Some(src), false) = (&tree.values.tls, &tree.certs, pipe) {
        let dir = join_rel(&base, &dockvm_spec::context::tls_rel(&tree.vm));
        changed |= place_certs(look, p, src, &dir, state, body)?;
    }
    Ok(changed)
}

/// Plans the removal of the TLS files install placed: each goes while it is what install
/// wrote (a backup is restored instead); one changed since is kept. Returns whether any goes.
pub(super) fn remove_certs(
    look: &dyn Look,
    p: &Places,
    s: &State,
    out: &mut Vec<Action>,
) -> Result<bool> {
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
pub(super) fn own_value(
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
pub(super) fn give_back(
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

/// Places the side's TLS files, or says where they are missing.
pub(super) fn certs_step(
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
        let who = if matches!(side, Side::Windows) && tree.values.windows_pipe.is_some() {
            "`dockvm.exe proxy` reads its client files from"
        } else {
            "DOCKER_CERT_PATH points at"
        };
        body.push(Action::Advice(format!(
            "{who} {dir}, which has no {}: run install again with --certs DIR (the folder `dockvm certs` wrote)",
            dockvm_spec::tls::CA
        )));
    }
    Ok(false)
}

/// The folders install created are removed (innermost first) before the state that records
/// them; the state file and the folders that hold it go in one last step.
pub(super) fn remove_state(
    p: &Places,
    state_file: &Utf8Path,
    s: &State,
    old: Vec<u8>,
) -> Vec<Action> {
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
pub(super) fn state_dirs(p: &Places, s: &State) -> Vec<Utf8PathBuf> {
    let mut dirs: Vec<Utf8PathBuf> = s.created_dirs.iter().map(|d| p.real(d)).collect();
    dirs.sort();
    dirs.dedup();
    dirs.reverse();
    dirs
}

/// The block's new bytes for a shared file, and whether a backup is due first: only when the
/// file exists and has no block of this VM yet (it is as its owner left it). A file it
/// creates is 0644; one it replaces keeps its mode ([`crate::sys::write_atomic`]).
pub(super) fn block_edit(
    look: &dyn Look,
    path: &Utf8Path,
    vm: &str,
    block: &[u8],
    out: &mut Vec<Action>,
) -> Result<()> {
    let cur = read(look, path)?;
    if let Some(c) = &cur {
        crate::encoding::editable(path, c, reader_of(path)).map_err(PlanError::Refused)?;
    }
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
pub(super) fn block_undo(
    look: &dyn Look,
    path: &Utf8Path,
    vm: &str,
    out: &mut Vec<Action>,
) -> Result<()> {
    let backup = backup_of(path);
    let orig = read(look, &backup)?;
    let Some(cur) = read(look, path)? else {
        out.push(Action::Unchanged(format!("{path} (absent)")));
        return Ok(());
    };
    crate::encoding::editable(path, &cur, reader_of(path)).map_err(PlanError::Refused)?;
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
pub(super) fn backup_cleanup(
    path: &Utf8Path,
    orig: Option<Vec<u8>>,
    now: &[u8],
    out: &mut Vec<Action>,
) {
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

/// Who reads a file install edits, for its refusals: the hosts file's resolver, else a shell.
pub(super) fn reader_of(path: &Utf8Path) -> &'static str {
    if path.as_str().to_lowercase().ends_with("hosts") {
        "the resolver (Windows' or glibc's)"
    } else if path.file_name() == Some("wsl.conf") {
        "WSL"
    } else {
        "the shell"
    }
}

/// One INI key install sets in a file it shares (wsl.conf's `[automount] root`, tools.conf's
/// `[guestinfo] exclude-nics`): a missing file is created as `whole`; otherwise the key is set,
/// every other line kept, after a backup of the file as it was (taken once). `same` says
/// whether the value there already does. Returns whether the file changes.
#[allow(clippy::too_many_arguments)]
pub(super) fn key_step(
    look: &dyn Look,
    path: &Utf8Path,
    whole: &[u8],
    section: &str,
    key: &str,
    value: &str,
    same: impl Fn(&[u8]) -> bool,
    out: &mut Vec<Action>,
) -> Result<bool> {
    match read(look, path)? {
        None => {
            out.push(Action::Write {
                path: path.to_owned(),
                old: None,
                new: whole.to_vec(),
                mode: 0o644,
            });
            Ok(true)
        }
        Some(cur) if let Err(e) = crate::encoding::editable(path, &cur, reader_of(path)) => {
            Err(PlanError::Refused(e))
        }
        Some(cur) => match edit::find_key(&cur, section, key) {
            Some((_, v)) if same(v) => {
                out.push(Action::Unchanged(format!(
                    "{path} ([{section}] {key} = {value})"
                )));
                Ok(false)
            }
            _ => {
                if !look.exists(&backup_of(path)) {
                    out.push(Action::Backup {
                        path: path.to_owned(),
                        to: backup_of(path),
                    });
                }
                out.push(Action::Write {
                    new: edit::set_key(&cur, section, key, value),
                    path: path.to_owned(),
                    old: Some(cur),
                    mode: 0o644,
                });
                Ok(true)
            }
        },
    }
}

/// Undoes [`key_step`]: the file install created (still `whole`) removed; the file as it was
/// before install when untouched since, else only the key given back its old value (or
/// removed); the backup removed when it is what the file is again. Returns whether the file
/// changes.
pub(super) fn key_undo(
    look: &dyn Look,
    path: &Utf8Path,
    whole: &[u8],
    section: &str,
    key: &str,
    value: &str,
    out: &mut Vec<Action>,
) -> Result<bool> {
    let backup = backup_of(path);
    match (read(look, path)?, read(look, &backup)?) {
        (None, _) => {
            out.push(Action::Unchanged(format!("{path} (absent)")));
            Ok(false)
        }
        (Some(cur), None) if cur == whole => {
            out.push(Action::Remove {
                path: path.to_owned(),
                old: cur,
            });
            Ok(true)
        }
        (Some(_), None) => {
            out.push(Action::Unchanged(format!(
                "{path} (install did not change it)"
            )));
            Ok(false)
        }
        (Some(cur), Some(orig)) => {
            let new = if cur == edit::set_key(&orig, section, key, value) {
                orig.clone()
            } else {
                edit::restore_key(&cur, &orig, section, key)
            };
            let changed = new != cur;
            if changed {
                out.push(Action::Write {
                    path: path.to_owned(),
                    old: Some(cur),
                    new: new.clone(),
                    mode: 0o644,
                });
            }
            backup_cleanup(path, Some(orig), &new, out);
            Ok(changed)
        }
    }
}

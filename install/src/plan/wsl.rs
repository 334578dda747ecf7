//! The WSL side: the marked block in the profile (followed through a link), `root` under
//! `[automount]` in /etc/wsl.conf, the docker context and the client's TLS files; install and
//! uninstall beside each other.

use super::own::*;
use super::*;

/// The wsl side's state file, kept only once install has placed TLS files (the profile block
/// and wsl.conf carry their own ownership).
pub(super) fn wsl_state_path(p: &Places, vm: &str) -> Result<Utf8PathBuf> {
    Ok(home(p)?
        .join(".local/state/dockvm")
        .join(vm)
        .join("install-state.json"))
}

pub(super) fn profile_path(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Utf8PathBuf> {
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

pub(super) const WSL_CONF: &str = "/etc/wsl.conf";

pub(super) fn install_wsl(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
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
    let conf_changed = key_step(
        look,
        &conf,
        &tree.file("wsl/wsl.conf")?.bytes,
        "automount",
        "root",
        root,
        |v| edit::same_root(v, root.as_bytes()),
        &mut out,
    )?;
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
    if has_context {
        current_context(look, p, tree, &mut state, &mut out)?;
    }
    if tree.certs.is_none() && old_state.is_none() && !has_context {
        return Ok(out);
    }
    Ok(with_state(look, p, &state_file, state, old_state, out))
}

pub(super) fn uninstall_wsl(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let mut out = Vec::new();
    let profile = profile_path(tree, p, look)?;
    block_undo(look, &profile, vm, &mut out)?;
    let conf = p.sys(WSL_CONF);
    let generated = &tree.file("wsl/wsl.conf")?.bytes;
    let root = &tree.values.automount_root;
    if key_undo(look, &conf, generated, "automount", "root", root, &mut out)? {
        out.push(Action::Advice(format!(
            "{WSL_CONF} changed: run `wsl --shutdown` in Windows for WSL to read it"
        )));
    }
    let state_file = wsl_state_path(p, vm)?;
    if let Some(s) = load_state(look, &state_file, vm)? {
        undo_current_context(look, p, tree, &s, &mut out)?;
        remove_certs(look, p, &s, &mut out)?;
        let old = read(look, &state_file)?.unwrap_or_default();
        out.append(&mut remove_state(p, &state_file, &s, old));
    }
    Ok(out)
}

/// The docker CLI's setting that picks a context for every process, shells or none: `VS Code`,
/// `wsl docker ...` from cmd, `bash -c`, zsh and fish alike.
const CURRENT_CONTEXT: &str = "currentContext";

fn docker_config_json(p: &Places) -> Result<Utf8PathBuf> {
    Ok(docker_config_dir(p, Side::Wsl)?.join("config.json"))
}

/// The `config.json` install writes where there was none: the docker CLI's own layout.
fn created_config(value: &str) -> Vec<u8> {
    format!("{{\n\t\"{CURRENT_CONTEXT}\": {value}\n}}\n").into_bytes()
}

/// Makes this VM's context current in `~/.docker/config.json`: that one key set (or added),
/// every other byte kept; what it was is recorded once, for uninstall. A file the docker CLI
/// could not read either is refused before anything changes.
fn current_context(
    look: &dyn Look,
    p: &Places,
    tree: &Tree,
    state: &mut State,
    out: &mut Vec<Action>,
) -> Result<()> {
    let path = docker_config_json(p)?;
    let name = dockvm_spec::context::name(&tree.vm);
    let value = serde_json::to_string(&name).expect("a string serializes");
    let Some(bytes) = read(look, &path)? else {
        out.push(Action::Write {
            path,
            old: None,
            new: created_config(&value),
            // The docker CLI's own mode for the file (it may hold credentials).
            mode: 0o600,
        });
        state.current_context.get_or_insert(ContextRecord {
            before: None,
            created: true,
        });
        return Ok(());
    };
    let refuse = |why: String| {
        PlanError::Refused(format!(
            "{path}: {why}: the docker CLI cannot read it either. Fix it, or move it away, and run install again (nothing was changed)"
        ))
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| refuse(format!("is not UTF-8 ({e})")))?;
    let obj = crate::json::Object::parse(text).map_err(refuse)?;
    if obj.count(CURRENT_CONTEXT) > 1 {
        return Err(refuse(format!("holds {CURRENT_CONTEXT} more than once")));
    }
    let was = obj.get(text, CURRENT_CONTEXT);
    if was.and_then(|v| serde_json::from_str::<String>(v).ok()) == Some(name.clone()) {
        out.push(Action::Unchanged(format!(
            "{path} ({CURRENT_CONTEXT}: {name})"
        )));
        return Ok(());
    }
    let new = crate::json::set(text, CURRENT_CONTEXT, &value).map_err(refuse)?;
    state.current_context.get_or_insert(ContextRecord {
        before: was.map(str::to_owned),
        created: false,
    });
    out.push(Action::Write {
        path,
        old: Some(bytes),
        new: new.into_bytes(),
        // An existing file keeps its own mode.
        mode: 0o644,
    });
    Ok(())
}

/// Gives `currentContext` back what it was, while it still names this VM's context (one the
/// user has changed since is theirs); removes `config.json` when install created it and it is
/// still exactly that.
fn undo_current_context(
    look: &dyn Look,
    p: &Places,
    tree: &Tree,
    s: &State,
    out: &mut Vec<Action>,
) -> Result<()> {
    let Some(rec) = &s.current_context else {
        return Ok(());
    };
    let path = docker_config_json(p)?;
    let name = dockvm_spec::context::name(&tree.vm);
    let Some(bytes) = read(look, &path)? else {
        out.push(Action::Unchanged(format!("{path} (absent)")));
        return Ok(());
    };
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|t| crate::json::Object::parse(t).map(|o| (t, o)));
    let (text, obj) = match parsed {
        Ok(v) => v,
        Err(e) => {
            out.push(Action::Kept(format!(
                "{path}: {e}; {CURRENT_CONTEXT} left as it is"
            )));
            return Ok(());
        }
    };
    let now = obj.get(text, CURRENT_CONTEXT);
    if now.and_then(|v| serde_json::from_str::<String>(v).ok()) != Some(name.clone()) {
        out.push(Action::Kept(format!(
            "{path}: {CURRENT_CONTEXT} is {} now, not {name} (changed since install)",
            now.unwrap_or("absent")
        )));
        return Ok(());
    }
    let value = serde_json::to_string(&name).expect("a string serializes");
    if rec.created && bytes == created_config(&value) {
        out.push(Action::Remove { path, old: bytes });
        return Ok(());
    }
    let new = match &rec.before {
        Some(v) => crate::json::set(text, CURRENT_CONTEXT, v),
        None => crate::json::remove(text, CURRENT_CONTEXT),
    }
    .map_err(|e| PlanError::Refused(format!("{path}: {e}")))?;
    out.push(Action::Write {
        path,
        old: Some(bytes),
        new: new.into_bytes(),
        mode: 0o644,
    });
    Ok(())
}

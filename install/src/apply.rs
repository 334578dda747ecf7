//! Applying a plan, and showing one: the only part of install that changes the system. One
//! line per action as it happens; the first failure stops the run (each file is then either
//! old or new, never cut, since every write is atomic).

use crate::plan::Action;
use crate::sys;
use camino::{Utf8Path, Utf8PathBuf};
use std::fs;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How a run went: lines said and counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub changed: usize,
    pub unchanged: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn line(&self) -> String {
        let mut s = format!("{} changed, {} unchanged", self.changed, self.unchanged);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}

/// The action that failed, and why. What came before it is done.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct ApplyError {
    pub what: String,
    /// The file or value it was about.
    pub path: Utf8PathBuf,
    #[source]
    pub source: io::Error,
}

fn reg_name(key: &str, name: &str) -> String {
    format!(r"HKEY_CURRENT_USER\{key}\{name}")
}

/// Removes a file; one already gone is fine (an earlier, interrupted run removed it).
fn remove_file(path: &Utf8Path) -> Result<(), ApplyError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(fail(format!("cannot remove {path}"), path)(e))
        }
        _ => Ok(()),
    }
}

fn pids_text(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error of `what`, about `path`.
fn fail(what: String, path: &Utf8Path) -> impl FnOnce(io::Error) -> ApplyError {
    let path = path.to_owned();
    move |source| ApplyError { what, path, source }
}

fn argv_line(argv: &[String]) -> String {
    argv.join(" ")
}

/// Applies `actions` in order, saying each through `say`. `stop` is checked before each
/// action: an interrupt (the CLI sets it on Ctrl-C, SIGINT or SIGTERM) ends the run between two
/// actions, never inside one, and is reported as an error of kind `Interrupted`.
pub fn apply(
    actions: &[Action],
    stop: &AtomicBool,
    say: &mut dyn FnMut(&str),
) -> Result<Summary, ApplyError> {
    let mut sum = Summary::default();
    for a in actions {
        if stop.load(Ordering::SeqCst) {
            return Err(ApplyError {
                what: format!(
                    "interrupted after {} changes; every file is whole: run the same command again to finish, or uninstall to undo",
                    sum.changed
                ),
                path: Utf8PathBuf::new(),
                source: io::Error::from(io::ErrorKind::Interrupted),
            });
        }
        match a {
            Action::WriteState {
                path,
                dirs,
                old,
                new,
            } => {
                for d in dirs {
                    make_dir(d, &mut sum, say)?;
                }
                write_file(path, old.is_some(), new, 0o644, &mut sum, say)?;
            }
            Action::Unchanged(w) => {
                sum.unchanged += 1;
                say(&format!("unchanged {w}"));
            }
            Action::Kept(w) => {
                sum.unchanged += 1;
                say(&format!("kept {w}"));
            }
            Action::Advice(w) => say(&format!("note: {w}")),
            Action::MakeDir(p) => make_dir(p, &mut sum, say)?,
            Action::MakePrivateDir(p) => {
                make_dir(p, &mut sum, say)?;
                sys::make_private(p).map_err(fail(format!("cannot make {p} private"), p))?;
            }
            Action::RemoveDir(p) => match fs::remove_dir(p) {
                Ok(()) => {
                    sum.changed += 1;
                    say(&format!("removed folder {p}"));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(_) => {
                    sum.unchanged += 1;
                    say(&format!("kept folder {p}: not empty"));
                }
            },
            Action::Backup { path, to } => {
                sys::backup(path, to)
                    .map_err(fail(format!("cannot back up {path} to {to}"), to))?;
                say(&format!("backed up {path} to {to}"));
            }
            Action::Write {
                path,
                old,
                new,
                mode,
            } => write_file(path, old.is_some(), new, *mode, &mut sum, say)?,
            Action::Remove { path, .. } => {
                remove_file(path)?;
                sum.changed += 1;
                say(&format!("removed {path}"));
            }
            Action::RemoveState { path, dirs, .. } => {
                remove_file(path)?;
                sum.changed += 1;
                say(&format!("removed {path}"));
                for d in dirs {
                    match fs::remove_dir(d) {
                        Ok(()) => {
                            sum.changed += 1;
                            say(&format!("removed folder {d}"));
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(_) => say(&format!("kept folder {d}: not empty")),
                    }
                }
            }
            Action::Restore { path, backup, .. } => {
                fs::rename(backup, path)
                    .map_err(fail(format!("cannot restore {path} from {backup}"), path))?;
                sum.changed += 1;
                say(&format!("restored {path} from {backup}"));
            }
            Action::RemoveLink { path, target } => {
                fs::remove_file(path).map_err(fail(format!("cannot remove link {path}"), path))?;
                sum.changed += 1;
                say(&format!("removed link {path} -> {target}"));
            }
            Action::SetReg { key, name, new, .. } => {
                let n = reg_name(key, name);
                sys::reg_set(key, name, new)
                    .map_err(fail(format!("cannot set {n}"), Utf8Path::new(&n)))?;
                sum.changed += 1;
                say(&format!("set {n} = {}", new.show()));
            }
            Action::DeleteReg { key, name, .. } => {
                let n = reg_name(key, name);
                sys::reg_delete(key, name)
                    .map_err(fail(format!("cannot delete {n}"), Utf8Path::new(&n)))?;
                sum.changed += 1;
                say(&format!("deleted {n}"));
            }
            Action::Run {
                argv,
                skip: Some(why),
            } => {
                sum.skipped += 1;
                say(&format!("skipped {}: {why}", argv_line(argv)));
            }
            Action::Run { argv, skip: None } => {
                let line = argv_line(argv);
                let out = std::process::Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(fail(format!("cannot run {line}"), Utf8Path::new(&argv[0])))?;
                if !out.status.success() {
                    let err = String::from_utf8_lossy(&out.stderr);
                    return Err(ApplyError {
                        what: format!("{line} failed ({})", out.status),
                        path: argv[0].clone().into(),
                        source: io::Error::other(err.trim().to_owned()),
                    });
                }
                sum.changed += 1;
                say(&format!("ran {line}"));
            }
            Action::RestartService { name } => {
                match dockvm_platform::service::restart(name, Duration::from_secs(30)) {
                    Ok(()) => {
                        sum.changed += 1;
                        say(&format!("restarted service {name}"));
                    }
                    Err(dockvm_platform::service::ServiceError::NotInstalled) => {
                        sum.skipped += 1;
                        say(&format!(
                            "skipped restarting service {name}: it is not installed (it reads its configuration when it starts)"
                        ));
                    }
                    Err(e) => {
                        return Err(ApplyError {
                            what: format!(
                                "cannot restart service {name} ({e}); as an administrator: `net stop {name}` then `net start {name}`"
                            ),
                            path: name.clone().into(),
                            source: io::Error::other(e.to_string()),
                        });
                    }
                }
            }
            Action::Stop { program, pids } => {
                for &pid in pids {
                    dockvm_platform::process::terminate(pid, Some(program.as_std_path()))
                        .map_err(fail(
                            format!(
                                "cannot stop dockvm (pid {pid}), which runs {program}: end it in Task Manager (Details, dockvmw.exe) and run the command again"
                            ),
                            program,
                        ))?;
                }
                sum.changed += 1;
                say(&format!(
                    "stopped {program} (pid {}): Windows replaces or removes no running program",
                    pids_text(pids)
                ));
            }
            Action::Broadcast => match sys::broadcast_environment() {
                Ok(()) => say(
                    "ran WM_SETTINGCHANGE \"Environment\" broadcast (new terminals see the values)",
                ),
                Err(why) => {
                    sum.skipped += 1;
                    say(&format!("skipped WM_SETTINGCHANGE broadcast: {why}"));
                }
            },
        }
    }
    Ok(sum)
}

/// What `--dry-run` prints: each action as it would be, with a unified diff of every file it
/// would change and the registry values before and after. Returns the text and whether
/// anything would change.
pub fn show(actions: &[Action]) -> (String, bool) {
    let mut out = String::new();
    let mut n = Summary::default();
    for a in actions {
        let line = match a {
            Action::Unchanged(w) => {
                n.unchanged += 1;
                format!("unchanged {w}")
            }
            Action::Kept(w) => {
                n.unchanged += 1;
                format!("kept {w}")
            }
            Action::Advice(w) => format!("note: {w}"),
            Action::MakeDir(p) => would_make_dir(p),
            Action::MakePrivateDir(p) => format!("{} (0700)", would_make_dir(p)),
            Action::RemoveDir(p) => format!("would remove folder {p} (if empty)"),
            Action::Backup { path, to } => format!("would back up {path} to {to}"),
            Action::Write { path, old, new, .. } => would_write(path, old.as_deref(), new),
            Action::Remove { path, old } => {
                format!("would remove {path} ({} bytes)", old.len())
            }
            Action::WriteState {
                path,
                dirs,
                old,
                new,
            } => {
                let mut l: Vec<String> = dirs.iter().map(|d| would_make_dir(d)).collect();
                l.push(would_write(path, old.as_deref(), new));
                l.join("\n")
            }
            Action::Restore {
                path,
                backup,
                old,
                new,
            } => format!(
                "would restore {path} from {backup}\n{}",
                diff(path, old, new)
            ),
            Action::RemoveLink { path, target } => {
                format!("would remove link {path} -> {target}")
            }
            Action::RemoveState { path, dirs, .. } => {
                let mut l = vec![format!("would remove {path}")];
                l.extend(
                    dirs.iter()
                        .map(|d| format!("would remove folder {d} (if empty)")),
                );
                l.join("\n")
            }
            Action::SetReg {
                key,
                name,
                old,
                new,
            } => format!(
                "would set {}\n- {}\n+ {}",
                reg_name(key, name),
                old.as_ref().map_or("(absent)".into(), |v| v.show()),
                new.show()
            ),
            Action::DeleteReg { key, name, old } => {
                format!("would delete {}\n- {}", reg_name(key, name), old.show())
            }
            Action::Run { argv, skip: None } => format!("would run {}", argv_line(argv)),
            Action::RestartService { name } => format!("would restart service {name}"),
            Action::Run {
                argv,
                skip: Some(why),
            } => {
                n.skipped += 1;
                format!("would skip {}: {why}", argv_line(argv))
            }
            Action::Stop { program, pids } => {
                format!("would stop {program} (pid {})", pids_text(pids))
            }
            Action::Broadcast => "would broadcast WM_SETTINGCHANGE \"Environment\"".into(),
        };
        if a.changes() {
            n.changed += 1;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let changes = n.changed > 0;
    out.push_str(&format!(
        "dry run: {} to change, {} unchanged{}\n",
        n.changed,
        n.unchanged,
        if n.skipped > 0 {
            format!(", {} skipped", n.skipped)
        } else {
            String::new()
        }
    ));
    (out, changes)
}

fn make_dir(d: &Utf8Path, sum: &mut Summary, say: &mut dyn FnMut(&str)) -> Result<(), ApplyError> {
    fs::create_dir(d).map_err(fail(format!("cannot create folder {d}"), d))?;
    sum.changed += 1;
    say(&format!("created folder {d}"));
    Ok(())
}

fn write_file(
    path: &Utf8Path,
    existed: bool,
    new: &[u8],
    mode: u32,
    sum: &mut Summary,
    say: &mut dyn FnMut(&str),
) -> Result<(), ApplyError> {
    sys::write_atomic(path, new, mode).map_err(fail(format!("cannot write {path}"), path))?;
    sum.changed += 1;
    say(&format!(
        "{} {path}",
        if existed { "changed" } else { "created" }
    ));
    Ok(())
}

fn would_make_dir(d: &Utf8Path) -> String {
    format!("would create folder {d}")
}

fn would_write(path: &Utf8Path, old: Option<&[u8]>, new: &[u8]) -> String {
    let verb = if old.is_some() { "change" } else { "create" };
    format!(
        "would {verb} {path}\n{}",
        diff(path, old.unwrap_or_default(), new)
    )
}

/// A unified diff of a file's bytes (shown as UTF-8, lossily, with CRs made visible); a
/// binary file (one holding a NUL: dockvm.exe's copy for autostart) only by its sizes.
fn diff(path: &Utf8Path, old: &[u8], new: &[u8]) -> String {
    if old.contains(&0) || new.contains(&0) {
        return format!(
            "--- {path}\n+++ {path}\nbinary: {} bytes, then {} bytes\n",
            old.len(),
            new.len()
        );
    }
    let show = |b: &[u8]| String::from_utf8_lossy(b).replace('\r', "\\r");
    let (o, n) = (show(old), show(new));
    similar::TextDiff::from_lines(&o, &n)
        .unified_diff()
        .context_radius(2)
        .header(path.as_str(), path.as_str())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(argv: &[&str]) -> (Result<Summary, ApplyError>, Vec<String>) {
        let mut said = Vec::new();
        let plan = [
            Action::Run {
                argv: argv.iter().map(|a| (*a).to_owned()).collect(),
                skip: None,
            },
            Action::Unchanged("after".into()),
        ];
        let r = apply(&plan, &AtomicBool::new(false), &mut |l| {
            said.push(l.to_owned())
        });
        (r, said)
    }

    #[test]
    fn a_binary_file_is_shown_by_its_sizes_not_as_text() {
        let d = diff(Utf8Path::new("C:/a/dockvm.exe"), b"", b"MZ\x90\x00\x03rest");
        assert_eq!(
            d,
            "--- C:/a/dockvm.exe\n+++ C:/a/dockvm.exe\nbinary: 0 bytes, then 9 bytes\n"
        );
    }

    #[test]
    fn a_command_runs_is_said_and_its_failure_stops_the_run() {
        let (r, said) = run(&["true"]);
        assert_eq!(r.unwrap().changed, 1);
        assert_eq!(said, ["ran true", "unchanged after"]);
        let (r, said) = run(&["sh", "-c", "echo nope >&2; exit 3"]);
        let e = r.unwrap_err();
        assert!(
            e.what.starts_with("sh -c echo nope >&2; exit 3 failed"),
            "{}",
            e.what
        );
        assert_eq!(e.source.to_string(), "nope");
        assert!(said.is_empty(), "nothing after a failed command: {said:?}");
    }

    #[test]
    fn an_interrupt_stops_the_run_before_the_next_action() {
        let mut said = Vec::new();
        let plan = [Action::Unchanged("a".into())];
        let e = apply(&plan, &AtomicBool::new(true), &mut |l| {
            said.push(l.to_owned())
        })
        .unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::Interrupted);
        assert!(said.is_empty());
    }
}

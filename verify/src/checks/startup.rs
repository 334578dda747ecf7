//! Which start-up files the user's login shell reads, and whether the file holding dockvm's
//! export is among them (directly, or sourced from one that is). `profile` and `env` both ask
//! here, so they say the same thing.
//!
//! - bash, as a login shell, reads the first of `~/.bash_profile`, `~/.bash_login` and
//!   `~/.profile` that exists, and only that one;
//! - zsh reads `~/.zshenv`, `~/.zprofile`, `~/.zshrc` and `~/.zlogin`, never `~/.profile`;
//! - sh, dash, ksh and mksh read `~/.profile`;
//! - fish reads none of these (its own `config.fish` and `conf.d`).
//!
//! WSL starts the user's shell (from `/etc/passwd`) as a login shell for a new terminal. A
//! non-login shell (VS Code's terminal, tmux, `bash -c`, `wsl docker ...` from cmd) reads none
//! of the login files: only a docker context reaches it.

use camino::{Utf8Path, Utf8PathBuf};

/// What the login shell makes of the file holding the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// It reads it: `chain` is each file along the way with the line that sources the next
    /// (empty when the shell reads the file itself).
    Read {
        shell: String,
        chain: Vec<(Utf8PathBuf, usize)>,
    },
    /// It never does: why, and the one step that makes it.
    Unread {
        shell: String,
        why: String,
        fix: String,
    },
    /// A shell whose start-up files dockvm does not know.
    Unknown { shell: String },
}

/// `file` written with `~` for the home folder, as the user types it.
pub fn tilde(home: &Utf8Path, file: &Utf8Path) -> String {
    match file.strip_prefix(home) {
        Ok(rest) => format!("~/{rest}"),
        Err(_) => file.to_string(),
    }
}

/// How `shell` (a path from `$SHELL` or `/etc/passwd`), started as a login shell with this
/// home, reaches `file`. `docker_host` is for fish's fix, which needs the value itself.
pub fn login_reading(home: &Utf8Path, shell: &str, file: &Utf8Path, docker_host: &str) -> Reading {
    let name = shell.rsplit('/').next().unwrap_or(shell).to_owned();
    let t = |f: &Utf8Path| tilde(home, f);
    let at = |names: &[&str]| -> Vec<Utf8PathBuf> { names.iter().map(|n| home.join(n)).collect() };
    let (starts, reads_all) = match name.as_str() {
        "bash" => (at(&[".bash_profile", ".bash_login", ".profile"]), false),
        "zsh" => (at(&[".zshenv", ".zprofile", ".zshrc", ".zlogin"]), true),
        "sh" | "dash" | "ksh" | "ksh93" | "mksh" | "ash" => (at(&[".profile"]), true),
        "fish" => {
            return Reading::Unread {
                why: format!(
                    "fish, your login shell, reads no POSIX start-up file: the export in {} is never read",
                    t(file)
                ),
                fix: format!(
                    "`set -gx DOCKER_HOST {docker_host}` in ~/.config/fish/conf.d/dockvm.fish"
                ),
                shell: name,
            };
        }
        _ => return Reading::Unknown { shell: name },
    };
    let existing: Vec<Utf8PathBuf> = starts.into_iter().filter(|f| f.is_file()).collect();
    // bash reads only the first that exists.
    let read: Vec<Utf8PathBuf> = if reads_all {
        existing
    } else {
        existing.into_iter().take(1).collect()
    };
    for start in &read {
        if let Some(chain) = reaches(home, start, file, 4) {
            return Reading::Read { shell: name, chain };
        }
    }
    let (why, fix) = match (name.as_str(), read.first()) {
        ("zsh", _) => (
            format!(
                "zsh, your login shell, never reads {} itself, and none of ~/.zshenv, ~/.zprofile, ~/.zshrc, ~/.zlogin sources it: the export there is never read",
                t(file)
            ),
            format!("add `emulate sh -c '. {}'` to ~/.zprofile", t(file)),
        ),
        (_, Some(first)) => (
            format!(
                "{name}, your login shell, reads {}, which does not source {}: the export there is never read",
                t(first),
                t(file)
            ),
            format!("add `. {}` to {}", t(file), t(first)),
        ),
        (_, None) => (
            format!(
                "{name}, your login shell, finds none of its start-up files, so the export in {} is never read",
                t(file)
            ),
            format!("add `. {}` to ~/.profile", t(file)),
        ),
    };
    Reading::Unread {
        shell: name,
        why,
        fix,
    }
}

/// Whether `from` is `target` or sources it (following what it sources, `depth` files deep):
/// the files along the way with the line of each `.`/`source`.
fn reaches(
    home: &Utf8Path,
    from: &Utf8Path,
    target: &Utf8Path,
    depth: usize,
) -> Option<Vec<(Utf8PathBuf, usize)>> {
    if from == target {
        return Some(Vec::new());
    }
    if depth == 0 {
        return None;
    }
    let text = std::fs::read_to_string(from).ok()?;
    for (i, line) in text.lines().enumerate() {
        for p in sourced(home, line) {
            if let Some(mut rest) = reaches(home, &p, target, depth - 1) {
                rest.insert(0, (from.to_owned(), i + 1));
                return Some(rest);
            }
        }
    }
    None
}

/// The files a shell line sources (`. FILE`, `source FILE`), with `~`, `$HOME` and `${HOME}`
/// expanded; in `[ -f F ] && . F`, `if ...; then . F; fi` and zsh's `emulate sh -c '. F'` too.
/// A comment line sources nothing.
pub fn sourced(home: &Utf8Path, line: &str) -> Vec<Utf8PathBuf> {
    let code = line.trim_start();
    if code.starts_with('#') {
        return Vec::new();
    }
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0
            || matches!(
                b[i - 1],
                b' ' | b'\t' | b';' | b'&' | b'|' | b'\'' | b'"' | b'(' | b'{'
            );
        let word = if code[i..].starts_with(". ") || code[i..].starts_with(".\t") {
            Some(1)
        } else if code[i..].starts_with("source ") || code[i..].starts_with("source\t") {
            Some(6)
        } else {
            None
        };
        if let (true, Some(len)) = (boundary, word) {
            let rest = code[i + len..].trim_start();
            let arg: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '&' | '|' | ')'))
                .collect();
            let arg = arg.trim_matches(['"', '\'']);
            let expanded = if let Some(r) = arg.strip_prefix("~/") {
                Some(home.join(r))
            } else if let Some(r) = arg
                .strip_prefix("$HOME/")
                .or_else(|| arg.strip_prefix("${HOME}/"))
            {
                Some(home.join(r))
            } else if arg.starts_with('/') {
                Some(Utf8PathBuf::from(arg))
            } else {
                None
            };
            out.extend(expanded);
            i += len;
        } else {
            i += 1;
        }
        while i < b.len() && !code.is_char_boundary(i) {
            i += 1;
        }
    }
    out
}

/// The user's login shell: `$SHELL` (which login sets to it, and which starting another shell
/// does not change), else their `/etc/passwd` entry (what WSL starts for a new terminal).
pub fn login_shell() -> Option<String> {
    if let Some(s) = std::env::var("SHELL").ok().filter(|s| !s.is_empty()) {
        return Some(s);
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 7 && f[2] == uid)
                .map(|f| f[6].to_owned())
        })
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lines_as_users_write_them() {
        let home = Utf8Path::new("/home/u");
        let p = Utf8PathBuf::from("/home/u/.profile");
        for line in [
            ". ~/.profile",
            "source ~/.profile",
            "  . \"$HOME/.profile\"",
            "[ -f ~/.profile ] && . ~/.profile",
            "if [ -f \"${HOME}/.profile\" ]; then . \"${HOME}/.profile\"; fi",
            "emulate sh -c '. ~/.profile'",
            "test -r /home/u/.profile && source /home/u/.profile",
        ] {
            assert!(sourced(home, line).contains(&p), "{line}");
        }
        for line in [
            "# . ~/.profile",
            "cd ..",
            "./profile",
            "echo ~/.profile",
            "export PATH=.:$PATH",
            ". ./relative",
        ] {
            assert!(!sourced(home, line).contains(&p), "{line}");
        }
    }

    /// Each shell against a home holding the export in ~/.profile: which files exist decides.
    #[test]
    fn each_login_shell_reads_what_its_manual_says() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).unwrap();
        let profile = home.join(".profile");
        let put = |f: &str, text: &str| std::fs::write(home.join(f), text).unwrap();
        let clear = || {
            for f in [".bash_profile", ".bash_login", ".zprofile", ".zshrc"] {
                let _ = std::fs::remove_file(home.join(f));
            }
        };
        put(".profile", "export DOCKER_HOST=tcp://local.test:2375\n");
        let read = |shell: &str| login_reading(&home, shell, &profile, "tcp://local.test:2375");
        // (shell, files besides ~/.profile, read through (file, line) or unread with that fix)
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            Result<&'a [(&'a str, usize)], &'a str>,
        );
        let cases: &[Case] = &[
            ("/bin/bash", &[], Ok(&[])),
            (
                "/bin/bash",
                &[(".bash_profile", "")],
                Err("add `. ~/.profile` to ~/.bash_profile"),
            ),
            (
                "/bin/bash",
                &[(
                    ".bash_profile",
                    "PATH=x\n[ -f ~/.profile ] && . ~/.profile\n",
                )],
                Ok(&[(".bash_profile", 2)]),
            ),
            (
                "/usr/bin/bash",
                &[(".bash_login", "alias l=ls\n")],
                Err("add `. ~/.profile` to ~/.bash_login"),
            ),
            // Only the first that exists: a ~/.bash_login that sources it does not count.
            (
                "/bin/bash",
                &[(".bash_profile", ""), (".bash_login", ". ~/.profile\n")],
                Err("to ~/.bash_profile"),
            ),
            ("/usr/bin/zsh", &[], Err("emulate sh -c '. ~/.profile'")),
            (
                "/usr/bin/zsh",
                &[(".zshrc", "source ~/.oh-my-zsh/oh-my-zsh.sh\n")],
                Err("to ~/.zprofile"),
            ),
            (
                "/bin/zsh",
                &[(".zprofile", "emulate sh -c '. ~/.profile'\n")],
                Ok(&[(".zprofile", 1)]),
            ),
            ("/bin/sh", &[], Ok(&[])),
            ("/bin/dash", &[(".bash_profile", "")], Ok(&[])),
            (
                "/usr/bin/fish",
                &[],
                Err("set -gx DOCKER_HOST tcp://local.test:2375"),
            ),
        ];
        for (shell, files, want) in cases {
            clear();
            for (f, text) in *files {
                put(f, text);
            }
            match (read(shell), want) {
                (Reading::Read { chain, .. }, Ok(w)) => {
                    let w: Vec<_> = w.iter().map(|(f, n)| (home.join(f), *n)).collect();
                    assert_eq!(chain, w, "{shell} {files:?}");
                }
                (Reading::Unread { fix, why, .. }, Err(w)) => {
                    assert!(fix.contains(w), "{shell} {files:?}: {fix}");
                    assert!(why.contains("never read"), "{why}");
                }
                (got, _) => panic!("{shell} {files:?}: {got:?}, want {want:?}"),
            }
        }
        assert_eq!(read("/usr/bin/nu"), Reading::Unknown { shell: "nu".into() });
        // The export in ~/.bash_profile itself (wsl.profile = "~/.bash_profile").
        put(".bash_profile", "export DOCKER_HOST=x\n");
        assert!(matches!(
            login_reading(&home, "/bin/bash", &home.join(".bash_profile"), ""),
            Reading::Read { .. }
        ));
    }
}

//! `dockvm env`: the commands that set (or unset) the spec's environment in one shell, each
//! value quoted for that shell, and the comment that says how to apply them (docker-machine's
//! convention). Pure: the home folder is an argument.

use crate::encode::{self, EncodeError};
use dockvm_spec::Spec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Cmd,
    Powershell,
}

impl Shell {
    /// Whether the shell is a Windows one (values are the Windows side's).
    pub fn is_windows(self) -> bool {
        matches!(self, Shell::Cmd | Shell::Powershell)
    }

    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Cmd => "cmd",
            Shell::Powershell => "powershell",
        }
    }
}

/// The variables of the spec, as (name, value) with `None` for "unset it": `DOCKER_HOST`, and
/// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` (set with `docker.tls`, unset without: the CLI
/// would try TLS against a plain port). A Windows shell also gets
/// `COMPOSE_CONVERT_WINDOWS_PATHS=1` with `windows.compose_paths` (compose in WSL sends WSL
/// paths, which need no conversion). `home` is `$HOME`, or `%USERPROFILE%` for a Windows shell.
pub fn variables(spec: &Spec, shell: Shell, home: &str) -> Vec<(&'static str, Option<String>)> {
    let cert_path = if shell.is_windows() {
        format!(
            "{}\\.docker\\{}",
            home.trim_end_matches('\\'),
            spec.cert_dir_name()
        )
    } else {
        format!(
            "{}/.docker/{}",
            home.trim_end_matches('/'),
            spec.cert_dir_name()
        )
    };
    let tls = spec.docker.tls;
    let mut v = vec![
        ("DOCKER_HOST", Some(spec.docker_host())),
        ("DOCKER_TLS_VERIFY", tls.then(|| "1".to_owned())),
        ("DOCKER_CERT_PATH", tls.then_some(cert_path)),
    ];
    if shell.is_windows() {
        v.push((
            "COMPOSE_CONVERT_WINDOWS_PATHS",
            spec.windows.compose_paths.then(|| "1".to_owned()),
        ));
    }
    v
}

/// The script for `shell`: each variable set (or, with `unset`, every one unset), then how to
/// apply it. `invocation` is how the user ran it, but `--unset`, for that line (`dockvm env`,
/// `dockvm.exe env --spec x.toml --shell cmd`).
pub fn script(
    spec: &Spec,
    shell: Shell,
    home: &str,
    unset: bool,
    invocation: &str,
) -> Result<String, EncodeError> {
    let mut out = String::new();
    for (name, value) in variables(spec, shell, home) {
        let value = if unset { None } else { value };
        out.push_str(&line(shell, name, value.as_deref())?);
        out.push('\n');
    }
    let mut again = invocation.to_owned();
    if unset {
        again.push_str(" --unset");
    }
    let how = match shell {
        Shell::Bash | Shell::Zsh => {
            format!("# Run this command to configure your shell:\n# eval \"$({again})\"")
        }
        Shell::Fish => format!("# Run this command to configure your shell:\n# {again} | source"),
        Shell::Cmd => format!(
            "REM Run this command to configure your shell:\nREM @FOR /f \"tokens=*\" %i IN ('{again}') DO @%i"
        ),
        Shell::Powershell => {
            format!("# Run this command to configure your shell:\n# & {again} | Invoke-Expression")
        }
    };
    out.push_str(&how);
    out.push('\n');
    Ok(out)
}

/// The shell `env` speaks without `--shell`: PowerShell on Windows, bash elsewhere.
pub fn default_shell(windows: bool) -> Shell {
    if windows {
        Shell::Powershell
    } else {
        Shell::Bash
    }
}

fn line(shell: Shell, name: &str, value: Option<&str>) -> Result<String, EncodeError> {
    Ok(match (shell, value) {
        (Shell::Bash | Shell::Zsh, Some(v)) => format!("export {name}={}", encode::sh_word(v)?),
        (Shell::Bash | Shell::Zsh, None) => format!("unset {name}"),
        // `;` ends each: `eval (dockvm env --shell fish)` joins the lines into one.
        (Shell::Fish, Some(v)) => format!("set -gx {name} {};", encode::fish_single(v)?),
        (Shell::Fish, None) => format!("set -e {name};"),
        (Shell::Cmd, Some(v)) => format!("SET \"{name}={}\"", encode::cmd_set_value(v)?),
        (Shell::Cmd, None) => format!("SET {name}="),
        (Shell::Powershell, Some(v)) => format!("$Env:{name} = {}", encode::ps_single(v)?),
        (Shell::Powershell, None) => {
            format!("Remove-Item Env:{name} -ErrorAction SilentlyContinue")
        }
    })
}

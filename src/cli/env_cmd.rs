//! `dockvm env`: the commands that point this shell at the VM's dockerd (or, with `--unset`,
//! away from it), for `eval`.

use super::{Failure, Outcome, load_spec};
use anyhow::anyhow;
use camino::Utf8PathBuf;
use dockvm_gen::shell_env::{self, Shell};

#[derive(Clone, Copy, clap::ValueEnum)]
enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Cmd,
    Powershell,
}

#[derive(clap::Args)]
#[command(after_help = r#"Examples:
  eval "$(dockvm env)"                                  # bash, zsh, dash
  eval (dockvm env --shell fish)
  dockvm.exe env | Invoke-Expression                    # PowerShell
  @FOR /f "tokens=*" %i IN ('dockvm.exe env --shell cmd') DO @%i"#)]
pub struct Args {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// The shell to write for (default: powershell on Windows, bash elsewhere).
    #[arg(long, value_enum)]
    shell: Option<ShellArg>,
    /// Unset the variables instead.
    #[arg(long)]
    unset: bool,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let shell = match args.shell {
        None => shell_env::default_shell(cfg!(windows)),
        Some(ShellArg::Bash) => Shell::Bash,
        Some(ShellArg::Zsh) => Shell::Zsh,
        Some(ShellArg::Fish) => Shell::Fish,
        Some(ShellArg::Cmd) => Shell::Cmd,
        Some(ShellArg::Powershell) => Shell::Powershell,
    };
    // The certificate folder is under the home folder of the side the shell runs on.
    let home_var = if shell.is_windows() {
        "USERPROFILE"
    } else {
        "HOME"
    };
    let home = std::env::var(home_var).unwrap_or_default();
    if home.is_empty() && loaded.spec.docker.tls {
        return Err(Failure::Input(anyhow!(
            "{home_var} is not set: DOCKER_CERT_PATH lives under it"
        )));
    }
    let mut invocation = format!(
        "{} env",
        if cfg!(windows) {
            "dockvm.exe"
        } else {
            "dockvm"
        }
    );
    if let Some(s) = &args.spec {
        invocation.push_str(&format!(" --spec {s}"));
    }
    if shell != shell_env::default_shell(cfg!(windows)) {
        invocation.push_str(&format!(" --shell {}", shell.name()));
    }
    let text = shell_env::script(&loaded.spec, shell, &home, args.unset, &invocation)
        .map_err(|e| Failure::Input(anyhow!("{home_var}: {e}")))?;
    print!("{text}");
    Ok(Outcome::Ok)
}

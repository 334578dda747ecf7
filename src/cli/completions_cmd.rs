//! `dockvm completions SHELL`: the shell's completion script for dockvm, on stdout.

use super::{Cli, Failure, Outcome};
use clap::CommandFactory as _;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  dockvm completions bash > ~/.local/share/bash-completion/completions/dockvm
  dockvm completions zsh > ~/.zfunc/_dockvm
  dockvm completions fish > ~/.config/fish/completions/dockvm.fish
  dockvm.exe completions powershell | Out-String | Invoke-Expression")]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "dockvm", &mut std::io::stdout());
    Ok(Outcome::Ok)
}

//! `dockvm man --out DIR`: a man page for dockvm and one for each command (`dockvm-verify.1`,
//! ...), rendered from the command line's own definitions, so they never disagree with
//! `--help`. The .deb ships them (`ci/package`); a user of the static binary or the zip writes
//! them where man looks (`dockvm man --out ~/.local/share/man/man1`).

use super::{Cli, Failure, Outcome};
use anyhow::Context as _;
use camino::Utf8PathBuf;
use clap::CommandFactory as _;

#[derive(clap::Args)]
#[command(after_help = "Example:
  mkdir -p ~/.local/share/man/man1 && dockvm man --out ~/.local/share/man/man1 && man dockvm-verify")]
pub struct Args {
    /// The folder to write the pages (section 1, roff) into; it must exist.
    #[arg(long)]
    out: Utf8PathBuf,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    clap_mangen::generate_to(Cli::command(), &args.out)
        .with_context(|| format!("cannot write the man pages into {}", args.out))
        .map_err(Failure::Io)?;
    Ok(Outcome::Ok)
}

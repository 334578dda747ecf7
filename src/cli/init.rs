//! `dockvm init`: write the default spec, commented; never overwrite.

use super::{Failure, Outcome};
use anyhow::anyhow;
use camino::Utf8PathBuf;
use std::io::Write as _;

#[derive(clap::Args)]
#[command(after_help = "Example:
  dockvm init && $EDITOR dockvm.toml && dockvm gen")]
pub struct Args {
    /// Where to write the spec.
    #[arg(value_name = "PATH", default_value = "dockvm.toml")]
    path: Utf8PathBuf,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    // create_new fails if anything exists at the path, so there is no window in which a file
    // created by someone else between a check and the write could be clobbered.
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::Input(anyhow!(
                "{} already exists; not overwriting it (choose another PATH)",
                args.path
            )));
        }
        Err(e) => return Err(Failure::Io(anyhow!("cannot create {}: {e}", args.path))),
    };
    f.write_all(dockvm_spec::DEFAULT_SPEC.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::Io(anyhow!("cannot write {}: {e}", args.path)))?;
    eprintln!(
        "dockvm: wrote {}; edit it, then run `dockvm gen --spec {}`",
        args.path, args.path
    );
    Ok(Outcome::Ok)
}

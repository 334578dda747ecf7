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

/// The schema file `dockvm init` writes beside the spec, as the spec's first line names it.
const SCHEMA_FILE: &str = "dockvm.schema.json";

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
    // The schema its first line names (`#:schema ./dockvm.schema.json`), beside it, for
    // editors; one already there is left as it is.
    let schema = args
        .path
        .parent()
        .map(|d| d.join(SCHEMA_FILE))
        .unwrap_or_else(|| Utf8PathBuf::from(SCHEMA_FILE));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&schema)
    {
        Ok(mut f) => {
            f.write_all(dockvm_spec::schema().as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| Failure::Io(anyhow!("cannot write {schema}: {e}")))?;
            eprintln!("dockvm: wrote {schema}, the spec's JSON Schema for editors");
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("dockvm: kept {schema} (`dockvm schema > {schema}` renews it)");
        }
        Err(e) => return Err(Failure::Io(anyhow!("cannot create {schema}: {e}"))),
    }
    Ok(Outcome::Ok)
}

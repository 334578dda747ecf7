//! `dockvm schema`: the spec's JSON Schema, for editors (Taplo, Even Better TOML).

use super::{Failure, Outcome};

#[derive(clap::Args)]
#[command(after_help = "Example:
  dockvm schema > dockvm.schema.json   # then `#:schema ./dockvm.schema.json` atop dockvm.toml
  (`dockvm init` writes both)")]
pub struct Args {}

pub fn run(_: Args) -> Result<Outcome, Failure> {
    print!("{}", dockvm_spec::schema());
    Ok(Outcome::Ok)
}

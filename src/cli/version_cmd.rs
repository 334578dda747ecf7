//! `dockvm version`: what this binary is, as `--version` says it, or as data.
//! The facts come from the build (build.rs): the package version, the git commit the source
//! was at, and the target triple it was built for.

use super::{Failure, Outcome};

/// The package version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from (40 hex digits), or `unknown`.
pub const COMMIT: &str = env!("DOCKVM_COMMIT");
/// The target triple it was built for.
pub const TARGET: &str = env!("DOCKVM_TARGET");

/// What `dockvm --version` prints after the name.
pub fn long() -> &'static str {
    static LONG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LONG.get_or_init(|| format!("{VERSION} (commit {}, {TARGET})", short_commit()))
}

fn short_commit() -> &'static str {
    COMMIT.get(..12).unwrap_or(COMMIT)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  dockvm version                  # as dockvm --version
  dockvm version --format json    # {\"name\":\"dockvm\",\"version\":...,\"commit\":...,\"target\":...}")]
pub struct Args {
    /// human: one line, as --version; json: the same as an object.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    match args.format {
        Format::Human => println!("dockvm {}", long()),
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "name": "dockvm",
                "version": VERSION,
                "commit": COMMIT,
                "target": TARGET,
            })
        ),
    }
    Ok(Outcome::Ok)
}

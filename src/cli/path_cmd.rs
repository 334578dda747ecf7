//! `dockvm path`: a path between its Windows form and its WSL (and VM) form, through the shares.

use super::{Failure, Outcome, load_spec};
use anyhow::anyhow;
use camino::Utf8PathBuf;
use dockvm_spec::translate::{self, To};

#[derive(Clone, Copy, clap::ValueEnum)]
enum ToArg {
    Windows,
    Wsl,
    Compose,
}

#[derive(clap::Args)]
#[command(after_help = r#"Examples:
  dockvm path 'D:\projects\a b'          # /mnt/d/projects/a b
  dockvm path /mnt/d/projects/x          # D:\projects\x
  docker run -v "$(dockvm path .)":/src alpine ls /src
  dockvm path --to compose 'D:\projects\app'   # /d/projects/app, as docker compose converts it"#)]
pub struct Args {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// The form to print (default: a Windows path becomes its WSL path, any other its Windows
    /// path). compose: what `docker compose` makes of a Windows bind source.
    #[arg(long, value_enum)]
    to: Option<ToArg>,
    /// Paths inside a share; a relative one is taken from the current folder.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let to = args.to.map(|t| match t {
        ToArg::Windows => To::Windows,
        ToArg::Wsl => To::Wsl,
        ToArg::Compose => To::Compose,
    });
    let mut out = Vec::new();
    for p in &args.paths {
        let abs = absolute(p)?;
        out.push(
            translate::translate(&loaded.spec, &abs, to).map_err(|e| Failure::Input(e.into()))?,
        );
    }
    for line in out {
        println!("{line}");
    }
    Ok(Outcome::Ok)
}

/// `p` as given when absolute (a Windows or POSIX path), else joined to the current folder.
fn absolute(p: &str) -> Result<String, Failure> {
    let b = p.as_bytes();
    let windows_abs = b.len() >= 3 && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/');
    if windows_abs || p.starts_with('/') {
        return Ok(p.to_owned());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Io(anyhow!("cannot read the current folder: {e}")))?;
    let cwd = cwd
        .to_str()
        .ok_or_else(|| Failure::Input(anyhow!("the current folder is not UTF-8")))?
        .to_owned();
    let sep = if cwd.starts_with('/') { '/' } else { '\\' };
    Ok(format!("{}{sep}{p}", cwd.trim_end_matches(sep)))
}

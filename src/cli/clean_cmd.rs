//! `dockvm clean`: remove verify's probe containers, its probe image and probe files.

use super::{Failure, Outcome, load_spec};
use camino::Utf8PathBuf;
use dockvm_verify::checks::Env;
use std::time::Duration;

#[derive(clap::Args)]
#[command(
    after_help = "verify keeps one stopped probe container per share (dockvm-probe-<vm>-<share>)
and the 0-byte image dockvm-probe:empty between runs, so that a run costs about 2 ms per share.
clean removes them, any probe container or file a killed run left, and says what it removed.

Example:
  dockvm clean --spec dockvm.toml"
)]
pub struct Args {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// With `tls = true`: the client certificate folder (default: DOCKER_CERT_PATH, else
    /// ~/.docker/dockvm-VM).
    #[arg(long, value_name = "DIR")]
    certs: Option<Utf8PathBuf>,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let c = dockvm_verify::clean::clean(
        &loaded.spec,
        &Env::from_process(),
        args.certs.as_deref(),
        Duration::from_secs(10),
    );
    for n in &c.containers {
        println!("removed container {n}");
    }
    if c.image {
        println!(
            "removed image {}",
            dockvm_verify::checks::share::PROBE_IMAGE
        );
    }
    for f in &c.files {
        println!("removed {f}");
    }
    for p in &c.problems {
        eprintln!("dockvm: {p}");
    }
    println!(
        "{} container(s), {} image, {} file(s) removed",
        c.containers.len(),
        usize::from(c.image),
        c.files.len()
    );
    Ok(if c.problems.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Code(3)
    })
}

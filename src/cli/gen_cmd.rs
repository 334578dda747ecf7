//! `dockvm gen`: render the spec and write (or `--check`) the output tree.

use super::{Failure, Outcome, load_spec};
use camino::Utf8PathBuf;
use dockvm_gen::DriftKind;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  dockvm gen --spec dockvm.toml --out generated   # every file, into ./generated
  dockvm gen --check                               # in CI: exit 1 when the tree is stale")]
pub struct Args {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// The output folder.
    #[arg(long, value_name = "DIR", default_value = "generated")]
    out: Utf8PathBuf,
    /// Write nothing; exit 1 listing each missing, stale or obsolete file, 0 when current.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let artifacts = dockvm_gen::render(&loaded.spec).map_err(|e| Failure::Input(e.into()))?;
    if !loaded.spec.docker.tls {
        eprintln!(
            "dockvm: warning: dockerd will listen on {} with plain TCP and no TLS: anyone who can reach it is root in the VM; \
             set `tls = true` under [docker] and run `dockvm certs` (README, \"Mutual TLS\")",
            loaded.spec.listen_url()
        );
    }
    if args.check {
        let drift =
            dockvm_gen::check_tree(&args.out, &artifacts).map_err(|e| Failure::Io(e.into()))?;
        for d in &drift {
            let what = match d.kind {
                DriftKind::Missing => "missing",
                DriftKind::Stale => "stale",
                DriftKind::Obsolete => "obsolete",
            };
            println!("{what}\t{}", args.out.join(&d.path));
        }
        if drift.is_empty() {
            eprintln!(
                "dockvm: {} is current ({} files)",
                args.out,
                artifacts.len()
            );
            return Ok(Outcome::Ok);
        }
        return Ok(Outcome::No);
    }
    let report =
        dockvm_gen::write_tree(&args.out, &artifacts).map_err(|e| Failure::Io(e.into()))?;
    for p in &report.written {
        println!("wrote\t{}", args.out.join(p));
    }
    for p in &report.removed {
        println!("removed\t{}", args.out.join(p));
    }
    eprintln!(
        "dockvm: {}: {} written, {} unchanged, {} removed; see {}",
        args.out,
        report.written.len(),
        report.unchanged.len(),
        report.removed.len(),
        args.out.join("INSTALL.md")
    );
    Ok(Outcome::Ok)
}

//! `dockvm certs`: the CA, server and client certificates of mutual TLS, in a private folder.

use super::{Failure, Outcome, load_spec};
use anyhow::anyhow;
use camino::Utf8PathBuf;
use dockvm_certs::{CertError, DEFAULT_DAYS, read::CertInfo};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  dockvm certs                       # ~/.dockvm/<vm>/tls: ca, server and client files
  dockvm certs --renew               # after vm.ip or vm.hostname changed: same CA, new certificates
  dockvm install --certs ~/.dockvm/<vm>/tls   # put each side's files in place")]
pub struct Args {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// The folder to write (default: ~/.dockvm/VM/tls). Never inside the `gen` output tree:
    /// it holds private keys.
    #[arg(long, value_name = "DIR")]
    out: Option<Utf8PathBuf>,
    /// Reissue the server and client certificates from the CA already in DIR (after vm.ip or
    /// vm.hostname changed, or before they expire); the CA stays, so clients keep trusting it.
    #[arg(long)]
    renew: bool,
    /// Validity of the server and client certificates, in days (the CA: 10 years).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DAYS)]
    days: u32,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let spec = loaded.spec;
    let dir = match args.out {
        Some(d) => d,
        None => {
            let home = std::env::var("HOME")
                .ok()
                .filter(|h| !h.is_empty())
                .or_else(|| std::env::var("USERPROFILE").ok())
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    Failure::Input(anyhow!(
                        "neither HOME nor USERPROFILE is set; pass --out DIR"
                    ))
                })?;
            dockvm_certs::default_dir(&Utf8PathBuf::from(home), &spec)
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let result = if args.renew {
        dockvm_certs::renew(&spec, &dir, args.days, now)
    } else {
        dockvm_certs::create(&spec, &dir, args.days, now)
    };
    let report = result.map_err(|e| match e {
        CertError::Io { .. } => Failure::Io(e.into()),
        _ => Failure::Input(e.into()),
    })?;
    let sans: Vec<String> = report.sans.iter().map(ToString::to_string).collect();
    eprintln!(
        "dockvm: {} {} in {}",
        if args.renew { "reissued" } else { "wrote" },
        report.written.join(", "),
        report.dir
    );
    eprintln!("dockvm: CA fingerprint (SHA-256) {}", report.ca_fingerprint);
    eprintln!(
        "dockvm: server certificate for {}, valid until {}",
        sans.join(", "),
        CertInfo::date(report.not_after)
    );
    if !spec.docker.tls {
        eprintln!(
            "dockvm: warning: the spec has no `tls = true` under [docker]: dockerd will not use these until it does (then `dockvm gen`)"
        );
    }
    eprintln!(
        "dockvm: next: `dockvm install --certs {}` on each side{}",
        report.dir,
        if args.renew {
            ", then restart docker in the VM"
        } else {
            ""
        }
    );
    Ok(Outcome::Ok)
}

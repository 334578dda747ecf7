//! `dockvm verify`: check the live setup against the spec and report.

use super::{Failure, Outcome, load_spec};
use anyhow::anyhow;
use camino::Utf8PathBuf;
use dockvm_verify::checks::Env;
use dockvm_verify::cleanup::{self, Registry};
use dockvm_verify::{Options, Selection, parse_duration, report};
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  dockvm verify                                  # every check, a table
  dockvm verify --wait 60s --format junit > verify.xml   # in CI, while the VM boots
  dockvm verify --only share:d                   # one share (and what it needs)")]
pub struct Args {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// Report format, on stdout.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Each check's deadline.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// Re-run failing checks until they pass or DUR has passed (for a VM that is booting).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    wait: Option<Duration>,
    /// Run only these checks (and their prerequisites): vm, name, port, tls, docker-api, env,
    /// docker-cli, profile, share:NAME, or share for every share. Repeat or separate with commas.
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    only: Vec<String>,
    /// Do not run these checks.
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    skip: Vec<String>,
    /// With `tls = true`: the folder holding ca.pem, cert.pem and key.pem (default:
    /// DOCKER_CERT_PATH, else ~/.docker/dockvm-VM).
    #[arg(long, value_name = "DIR")]
    certs: Option<Utf8PathBuf>,
}

/// `DOCKVM_LEFTOVER_AGE_SECS`, for tests only: the age in seconds above which probe files and
/// containers are other runs' leftovers (default 600).
pub(crate) fn leftover_age() -> Result<Duration, Failure> {
    match std::env::var("DOCKVM_LEFTOVER_AGE_SECS") {
        Err(_) => Ok(dockvm_verify::sweep::DEFAULT_AGE),
        Ok(v) => v.parse::<u64>().map(Duration::from_secs).map_err(|_| {
            Failure::Input(anyhow!(
                "DOCKVM_LEFTOVER_AGE_SECS={v:?}: expected whole seconds (it is for tests; unset it)"
            ))
        }),
    }
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let (label, loaded) = load_spec(args.spec.as_deref())?;
    let spec = loaded.spec;
    let selection = Selection {
        only: args.only,
        skip: args.skip,
    };
    let unknown = selection.unknown(&spec);
    if !unknown.is_empty() {
        let known: Vec<String> = dockvm_verify::checks::all(&spec)
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(Failure::Input(anyhow!(
            "unknown check {}; expected one of {}, or share",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    if args.certs.is_some() && !spec.docker.tls {
        eprintln!(
            "dockvm: warning: --certs is ignored: the spec has no `tls = true` under [docker]"
        );
    }
    let registry = Arc::new(Registry::default());
    cleanup::install_interrupt_handler(registry.clone())
        .map_err(|e| Failure::Io(anyhow!("cannot handle interrupts: {e}")))?;
    let opts = Options {
        timeout: args.timeout,
        wait: args.wait,
        selection,
        certs: args.certs,
        leftover_age: leftover_age()?,
    };
    let show_progress = std::io::stderr().is_terminal() || args.wait.is_some();
    let progress = |m: &str| {
        if show_progress {
            eprintln!("dockvm: {m}");
        }
    };
    let outcome = dockvm_verify::run(&spec, &Env::from_process(), &opts, &registry, &progress);
    cleanup::wait_if_interrupted();
    let vm = spec.vm.name.as_str();
    let text = match args.format {
        Format::Human => report::human(vm, &outcome),
        Format::Json => report::json(vm, &label, &outcome),
        Format::Junit => report::junit(vm, &outcome),
    };
    print!("{text}");
    Ok(match outcome.exit_code() {
        0 => Outcome::Ok,
        1 => Outcome::No,
        c => Outcome::Code(c),
    })
}

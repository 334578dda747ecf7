//! `dockvm up`, `dockvm down` and `dockvm status`: the daily loop (`dockvm-control`), with the
//! output each has: a line a stage (a live line with the elapsed time on a terminal), JSON
//! events a line, or quiet with a log for the sign-in start.

use super::{Failure, Outcome, load_spec};
use anyhow::{Context as _, anyhow};
use camino::{Utf8Path, Utf8PathBuf};
use dockvm_control::{DownOptions, Event, State, UpOptions};
use dockvm_verify::checks::Env;
use dockvm_verify::cleanup::{self, Registry};
use dockvm_verify::parse_duration;
use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(clap::Args)]
#[command(
    after_help = "Stages: power (vmrun start when the VM is off), address (what the guest reports), \
engine (/_ping every 100 ms), shares (the canary; shared folders enabled again when it fails), \
verify (everything). On a running, healthy VM it makes no vmrun call.

Examples:
  dockvm up                       # after booting Windows, or when docker hangs
  dockvm up --wait 5m --format json
  dockvmw.exe up --quiet --log    # what the sign-in start runs ([windows] autostart): no window"
)]
pub struct UpArgs {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// How long up may take in all (a cold VM boots in it).
    #[arg(long, value_name = "DUR", default_value = "3m", value_parser = parse_duration)]
    wait: Duration,
    /// Each verify check's deadline.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// human: a line a stage; json: one JSON event a line.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Print nothing but a failure.
    #[arg(long)]
    quiet: bool,
    /// Also append each stage's line to FILE (default: up.log in dockvm's folder for the VM:
    /// %LOCALAPPDATA%\dockvm\VM on Windows, ~/.local/state/dockvm/VM elsewhere).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    log: Option<Utf8PathBuf>,
    /// With `tls = true`: the client certificate folder (default: DOCKER_CERT_PATH, else
    /// ~/.docker/dockvm-VM).
    #[arg(long, value_name = "DIR")]
    certs: Option<Utf8PathBuf>,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  dockvm down                 # the guest shuts down (vmrun stop soft)
  dockvm down --hard          # ... and is powered off if that takes longer than --wait")]
pub struct DownArgs {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// How long the soft stop may take.
    #[arg(long, value_name = "DUR", default_value = "1m", value_parser = parse_duration)]
    wait: Duration,
    /// Power the VM off when the soft stop does not finish within --wait.
    #[arg(long)]
    hard: bool,
    /// human or json.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(clap::Args)]
#[command(
    after_help = "Exit code 0 when the engine answers, 1 when it does not. Nothing is stored: each \
run asks again. When the engine answers, vmrun is not asked."
)]
pub struct StatusArgs {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// human or json.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Each check's deadline.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// With `tls = true`: the client certificate folder.
    #[arg(long, value_name = "DIR")]
    certs: Option<Utf8PathBuf>,
}

/// How `up` starts `dockvm proxy`: this program, with the spec `up` loaded (its absolute path;
/// nothing for the embedded default) and `--certs`; its log beside `up.log`.
fn proxy_launch(
    spec: &dockvm_spec::Spec,
    label: &str,
    certs: Option<&camino::Utf8Path>,
) -> Option<dockvm_control::ProxyLaunch> {
    let program = std::env::current_exe().ok()?;
    let mut args = vec!["proxy".to_owned()];
    if label != dockvm_spec::DEFAULT_SPEC_LABEL {
        let abs = std::path::absolute(label).ok()?;
        args.extend(["--spec".to_owned(), abs.to_string_lossy().into_owned()]);
    }
    if let Some(c) = certs {
        let abs = std::path::absolute(c.as_std_path()).ok()?;
        args.extend(["--certs".to_owned(), abs.to_string_lossy().into_owned()]);
    }
    let log = default_log(spec.vm.name.as_str())?.with_file_name("proxy.log");
    Some(dockvm_control::ProxyLaunch {
        program,
        args,
        log: log.into_std_path_buf(),
    })
}

/// Where up's log goes by default: dockvm's folder for the VM.
fn default_log(vm: &str) -> Option<Utf8PathBuf> {
    let base = if cfg!(windows) {
        std::env::var("LOCALAPPDATA").ok().map(Utf8PathBuf::from)
    } else {
        std::env::var("XDG_STATE_HOME")
            .ok()
            .filter(|v| !v.is_empty())
            .map(Utf8PathBuf::from)
            .or_else(|| {
                std::env::var("HOME")
                    .ok()
                    .map(|h| Utf8PathBuf::from(h).join(".local/state"))
            })
    }?;
    Some(base.join("dockvm").join(vm).join("up.log"))
}

fn open_log(path: &Utf8Path) -> Result<std::fs::File, Failure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot make {dir} for the log"))
            .map_err(Failure::Io)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the log {path}"))
        .map_err(Failure::Io)
}

/// Prints events: JSON lines, or human lines (a live line with a spinner on a terminal).
struct Printer {
    format: Format,
    quiet: bool,
    live: bool,
    log: Option<Mutex<std::fs::File>>,
    /// The running stage on a terminal: its event and when it began, redrawn by a ticker.
    current: Arc<Mutex<Option<(Event, Instant)>>>,
}

impl Printer {
    fn new(format: Format, quiet: bool, log: Option<std::fs::File>) -> Printer {
        let live = format == Format::Human && !quiet && std::io::stdout().is_terminal();
        let p = Printer {
            format,
            quiet,
            live,
            log: log.map(Mutex::new),
            current: Arc::new(Mutex::new(None)),
        };
        if live {
            let current = p.current.clone();
            std::thread::spawn(move || {
                let frames = ['|', '/', '-', '\\'];
                for i in 0.. {
                    std::thread::sleep(Duration::from_millis(100));
                    if let Some((e, since)) = current.lock().expect("printer").as_ref() {
                        let mut e = e.clone();
                        e.elapsed_ms += since.elapsed().as_millis() as u64;
                        let line = dockvm_control::human_line(&e).replacen(
                            "..",
                            &format!("{} ", frames[i % 4]),
                            1,
                        );
                        print!("\r\x1b[2K{line}");
                        let _ = std::io::stdout().flush();
                    }
                }
            });
        }
        p
    }

    fn event(&self, e: &Event) {
        if let Some(f) = &self.log {
            let mut f = f.lock().expect("log");
            let _ = writeln!(
                f,
                "{}",
                serde_json::to_string(e).expect("an event serializes")
            );
        }
        match self.format {
            Format::Json if !self.quiet || e.state == State::Fail => {
                println!("{}", serde_json::to_string(e).expect("an event serializes"));
            }
            Format::Human if self.live => {
                let mut cur = self.current.lock().expect("printer");
                if e.state == State::Running {
                    *cur = Some((e.clone(), Instant::now()));
                    print!("\r\x1b[2K{}", dockvm_control::human_line(e));
                } else {
                    *cur = None;
                    println!("\r\x1b[2K{}", dockvm_control::human_line(e));
                }
                let _ = std::io::stdout().flush();
            }
            Format::Human
                if e.state != State::Running && (!self.quiet || e.state == State::Fail) =>
            {
                println!("{}", dockvm_control::human_line(e));
            }
            _ => {}
        }
    }
}

pub fn up(args: UpArgs) -> Result<Outcome, Failure> {
    let (label, loaded) = load_spec(args.spec.as_deref())?;
    let spec = loaded.spec;
    let proxy = proxy_launch(&spec, &label, args.certs.as_deref());
    let log_path = match &args.log {
        None => None,
        Some(p) if p.as_str().is_empty() => {
            Some(default_log(spec.vm.name.as_str()).ok_or_else(|| {
                Failure::Input(anyhow!(
                    "--log without a file needs LOCALAPPDATA (Windows) or HOME"
                ))
            })?)
        }
        Some(p) => Some(p.clone()),
    };
    let log = log_path.as_deref().map(open_log).transpose()?;
    let registry = Arc::new(Registry::default());
    cleanup::install_interrupt_handler(registry.clone())
        .map_err(|e| Failure::Io(anyhow!("cannot handle interrupts: {e}")))?;
    let printer = Printer::new(args.format, args.quiet, log);
    let opts = UpOptions {
        wait: args.wait,
        timeout: args.timeout,
        certs: args.certs,
        leftover_age: super::verify_cmd::leftover_age()?,
        proxy,
    };
    let ended = dockvm_control::up(&spec, &Env::from_process(), &opts, &registry, &|e| {
        printer.event(e)
    });
    cleanup::wait_if_interrupted();
    // The outcome, for `status` (a sign-in `up` has no console to say it in).
    if let Some(dir) = default_log(spec.vm.name.as_str())
        .as_deref()
        .and_then(Utf8Path::parent)
    {
        let now = time::OffsetDateTime::now_utc();
        let at = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let record = dockvm_control::LastUp::of(
            &ended,
            at,
            now.unix_timestamp().max(0) as u64,
            log_path.map(|p| {
                std::path::absolute(p.as_std_path())
                    .map_or(p.to_string(), |a| a.display().to_string())
            }),
        );
        if let Err(e) = record.write(dir.as_std_path()) {
            eprintln!("dockvm: cannot record the outcome in {dir}: {e}");
        }
    }
    Ok(if ended.exit_code() == 0 {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

pub fn down(args: DownArgs) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let printer = Printer::new(args.format, false, None);
    let opts = DownOptions {
        wait: args.wait,
        hard: args.hard,
    };
    let ended = dockvm_control::down(&loaded.spec, &Env::from_process(), &opts, &|e| {
        printer.event(e)
    });
    for n in &ended.notes {
        match args.format {
            Format::Human => eprintln!("dockvm: note: {n}"),
            Format::Json => println!("{}", serde_json::json!({ "note": n })),
        }
    }
    Ok(if ended.exit_code() == 0 {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

pub fn status(args: StatusArgs) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let registry = Registry::default();
    let mut s = dockvm_control::status(
        &loaded.spec,
        &Env::from_process(),
        args.timeout,
        args.certs,
        &registry,
    );
    s.last_up = default_log(loaded.spec.vm.name.as_str())
        .as_deref()
        .and_then(Utf8Path::parent)
        .and_then(|d| dockvm_control::LastUp::read(d.as_std_path()));
    match args.format {
        Format::Human => print!("{}", s.human()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&s).expect("status serializes")
        ),
    }
    Ok(if s.exit_code == 0 {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

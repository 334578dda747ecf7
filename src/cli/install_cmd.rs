//! `dockvm install` and `dockvm uninstall`: one side of a generated tree, planned, then
//! printed (`--dry-run`) or applied.

use super::{Failure, Outcome};
use anyhow::anyhow;
use camino::{Utf8Path, Utf8PathBuf};
use dockvm_install::{Places, PlanError, Side, sys};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  dockvm install --from generated --dry-run          # WSL: the diff, nothing changed
  sudo ./dockvm-x86_64-linux install --side vm --from .   # in the VM
  dockvm.exe install --from generated --certs %USERPROFILE%\\.dockvm\\dev\\tls
  dockvm uninstall --from generated                  # undoes install exactly")]
pub struct Args {
    /// The side to act on: the VM (Linux, as root), WSL, or Windows (dockvm.exe). Default:
    /// windows for dockvm.exe, wsl inside WSL; any other Linux must say --side vm.
    #[arg(long, value_enum)]
    side: Option<SideArg>,
    /// A folder written by `dockvm gen` (its manifest.json checks every file).
    #[arg(long, value_name = "DIR", default_value = "generated")]
    from: Utf8PathBuf,
    /// Put every absolute system path under DIR (DIR/etc/...), for tests and for staging an
    /// image; commands (systemctl ...) are then listed as skipped. The profile follows $HOME.
    #[arg(long, value_name = "DIR")]
    root: Option<Utf8PathBuf>,
    /// Change nothing: print a unified diff of each file and each command, exit 1 if anything
    /// would change, 0 if the side is as the tree wants it.
    #[arg(long)]
    dry_run: bool,
    /// With `tls = true`: the folder `dockvm certs` wrote. Install places the side's files from
    /// it (the VM: ca.pem, server-cert.pem, server-key.pem in /etc/docker/dockvm; Windows and
    /// WSL: ca.pem, cert.pem, key.pem in .docker/dockvm-VM under the home folder); uninstall
    /// removes what install placed, with or without it.
    #[arg(long, value_name = "DIR")]
    certs: Option<Utf8PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SideArg {
    Vm,
    Wsl,
    Windows,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Install,
    Uninstall,
}

fn input(msg: String) -> Failure {
    Failure::Input(anyhow!(msg))
}

fn side(arg: Option<SideArg>) -> Result<Side, Failure> {
    if cfg!(windows) {
        return match arg {
            None | Some(SideArg::Windows) => Ok(Side::Windows),
            Some(_) => Err(input(
                "dockvm.exe installs the windows side; run the Linux dockvm in the VM (--side vm) and in WSL".into(),
            )),
        };
    }
    match arg {
        Some(SideArg::Windows) => Err(input(
            "the windows side is installed by dockvm.exe on Windows (`ci/dist` builds it; see the README)".into(),
        )),
        Some(SideArg::Vm) => Ok(Side::Vm),
        Some(SideArg::Wsl) => Ok(Side::Wsl),
        None if sys::is_wsl() => Ok(Side::Wsl),
        None => Err(input(
            "this is Linux but not WSL: say --side vm to install into this machine's /etc (dockvm never edits /etc by guess), or --side wsl".into(),
        )),
    }
}

fn env_path(name: &str) -> Option<Utf8PathBuf> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Utf8PathBuf::from)
}

pub fn run(args: Args, mode: Mode) -> Result<Outcome, Failure> {
    let side = side(args.side)?;
    let root = match &args.root {
        Some(_) if side == Side::Windows => {
            return Err(input(
                "--root applies to the vm and wsl sides; the windows side changes the registry, which has no root".into(),
            ));
        }
        Some(r) if !r.is_dir() => {
            return Err(input(format!("--root {r}: not a folder")));
        }
        Some(r) => r.clone(),
        None => Utf8PathBuf::from("/"),
    };
    let no_commands = if root != Utf8Path::new("/") {
        Some(format!(
            "--root is {root}, not / (run it in the target system yourself)"
        ))
    } else {
        sys::no_systemd()
    };
    let places = Places {
        root,
        home: env_path("HOME"),
        no_commands,
        system_root: env_path("SystemRoot"),
        local_app_data: env_path("LOCALAPPDATA"),
        user_profile: env_path("USERPROFILE"),
        self_exe: std::env::current_exe()
            .ok()
            .and_then(|p| Utf8PathBuf::from_path_buf(p).ok()),
    };
    let mut tree = dockvm_install::Tree::load(&args.from, side.as_str())
        .map_err(|e| Failure::Input(e.into()))?;
    if let Some(dir) = &args.certs
        && mode == Mode::Install
    {
        tree = tree
            .with_certs(dir, side.as_str())
            .map_err(|e| Failure::Input(e.into()))?;
    }
    let host = sys::Host;
    let plan = match mode {
        Mode::Install => dockvm_install::install(side, &tree, &places, &host),
        Mode::Uninstall => dockvm_install::uninstall(side, &tree, &places, &host),
    }
    .map_err(|e| match e {
        PlanError::Io { .. } | PlanError::Held { .. } => Failure::Io(e.into()),
        _ => Failure::Input(e.into()),
    })?;
    if args.dry_run {
        let (text, changes) = dockvm_install::show(&plan);
        print!("{text}");
        return Ok(if changes { Outcome::No } else { Outcome::Ok });
    }
    // Ctrl-C, SIGINT and SIGTERM (and on Windows the console closed, logoff, shutdown) end the
    // run between two actions, never inside one; a closed console waits (bounded) for `done`.
    static STOP: AtomicBool = AtomicBool::new(false);
    let _ = dockvm_platform::interrupt::set_handler(|| STOP.store(true, Ordering::SeqCst));
    let mut say = |l: &str| println!("{l}");
    let applied = dockvm_install::apply(&plan, &STOP, &mut say);
    dockvm_platform::interrupt::done();
    match applied {
        Ok(sum) => {
            println!("{}", sum.line());
            Ok(Outcome::Ok)
        }
        Err(e) if e.source.kind() == std::io::ErrorKind::Interrupted => {
            eprintln!("dockvm: {}", e.what);
            Ok(Outcome::Code(130))
        }
        Err(e) => {
            let hint = hint(&e, side, mode, &args.from);
            Err(Failure::Io(anyhow!("{e}{hint}")))
        }
    }
}

/// What to do about a failed action: mostly, run with the rights the file needs.
fn hint(e: &dockvm_install::ApplyError, side: Side, mode: Mode, from: &Utf8Path) -> String {
    let verb = match mode {
        Mode::Install => "install",
        Mode::Uninstall => "uninstall",
    };
    // Held open by another program: everything before it is done; the same command again
    // once it is closed finishes the rest.
    if dockvm_install::plan::is_held(&e.source) {
        return format!(
            "\n  {} is open in another program that does not share it (an editor with it open, a backup tool, or an antivirus scan). Everything before this step is done, nothing after it: close that program and run `dockvm {verb}` again (a second run is safe and does only the rest).",
            e.path
        );
    }
    // On Windows the hosts file (and VMware's DHCP configuration after it) needs an
    // administrator; for the hosts file whatever error Windows gives (access denied, or a
    // read-only attribute).
    let hosts_step =
        side == Side::Windows && e.path.as_str().to_lowercase().ends_with(r"\etc\hosts");
    if hosts_step && std::fs::metadata(&e.path).is_ok_and(|m| m.permissions().readonly()) {
        return format!(
            "\n  {} is read-only (attrib +r): as administrator, `attrib -r \"{}\"`, then run `dockvm {verb}` again (everything before this step is done; a second run does only the rest).",
            e.path, e.path
        );
    }
    // A program (dockvm's copy for the sign-in start): Windows refuses to replace or remove
    // it while it runs. install stopped dockvm's own processes first; what holds it now is
    // another one, which rights do not mend.
    if side == Side::Windows
        && e.path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("exe"))
        && (e.source.kind() == std::io::ErrorKind::PermissionDenied
            || dockvm_install::plan::is_held(&e.source))
    {
        let running = dockvm_platform::process::running_from(e.path.as_std_path());
        let who = if running.is_empty() {
            "another program holds it open (an antivirus scan, Explorer's preview, a debugger)"
                .to_owned()
        } else {
            format!(
                "it is running (pid {}): end it in Task Manager (Details)",
                running
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return format!(
            "\n  everything before it is done; Windows replaces or removes no program in use, and {who}; then run `dockvm {verb}` again (a second run does only the rest)."
        );
    }
    if e.source.kind() != std::io::ErrorKind::PermissionDenied && !hosts_step {
        return String::new();
    }
    // Absolute paths, this binary's own included: sudo's secure_path and an elevated
    // terminal's Path need not hold the folder dockvm was run from.
    let abs = |p: &Utf8Path| {
        p.canonicalize_utf8()
            .map(|p| p.to_string())
            .unwrap_or_else(|_| p.to_string())
            .trim_start_matches(r"\\?\")
            .to_owned()
    };
    let from = abs(from);
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
        .map(|p| abs(&p))
        .unwrap_or_else(|| "dockvm".into());
    match side {
        Side::Windows => format!(
            "\n  everything before it is done; {} needs an administrator: open a terminal with \"Run as administrator\" and run\n    \"{exe}\" {verb} --from \"{from}\"",
            if hosts_step {
                "the hosts file".to_owned()
            } else {
                e.path.to_string()
            }
        ),
        Side::Vm => format!("\n  run as root: sudo '{exe}' {verb} --side vm --from '{from}'"),
        Side::Wsl => format!(
            "\n  /etc/wsl.conf needs root: sudo --preserve-env=HOME '{exe}' {verb} --side wsl --from '{from}'"
        ),
    }
}

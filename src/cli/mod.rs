//! The command line: argument parsing, loading the spec, exit codes.
//!
//! Exit codes, for every command: 0 success; 1 the command's own "no" (`gen --check` found a
//! stale tree, `verify` found a failing check); 2 bad spec or usage; 3 an I/O failure, or for
//! `verify` a check that could not be evaluated.

mod certs_cmd;
mod clean_cmd;
mod completions_cmd;
mod env_cmd;
mod gen_cmd;
mod init;
mod install_cmd;
mod man_cmd;
mod path_cmd;
mod proxy_cmd;
mod schema_cmd;
mod up_cmd;
mod verify_cmd;
pub(crate) mod version_cmd;

use anyhow::Context as _;
use camino::{Utf8Path, Utf8PathBuf};
use clap::{Parser, Subcommand};
use dockvm_spec::{DEFAULT_SPEC, DEFAULT_SPEC_LABEL, Loaded};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dockvm",
    version = version_cmd::long(),
    about = "Docker in a VMware VM, used from Windows and WSL: one spec, every file, one check"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

// In the order of a user's day, which is how clap lists them (as declared): set up (init, gen,
// certs, install, uninstall), the daily loop (up, status, down), checks (verify, clean), helpers
// (env, path, proxy, completions, man, schema, version).
#[derive(Subcommand)]
enum Command {
    // Set up.
    /// Write the default spec, commented, to PATH (default ./dockvm.toml); never overwrites.
    Init(init::Args),
    /// Render every file of the setup from the spec into an output folder.
    Gen(gen_cmd::Args),
    /// Issue the CA, server and client certificates for `tls = true` (or renew them).
    Certs(certs_cmd::Args),
    /// Install one side of a generated tree (VM, WSL or Windows); a second run changes nothing.
    Install(install_cmd::Args),
    /// Undo `dockvm install` on one side exactly: only what install added goes.
    Uninstall(install_cmd::Args),
    // The daily loop.
    /// Bring the setup up from any state: power on, address, engine, shares, verify.
    Up(up_cmd::UpArgs),
    /// What is true now: the VM, its address, the engine, TLS, the clock, this terminal's endpoint.
    Status(up_cmd::StatusArgs),
    /// Power the VM off (the guest shuts down; --hard when it does not in time).
    Down(up_cmd::DownArgs),
    // Checks.
    /// Check the live setup against the spec: name, port, Docker API, DOCKER_HOST, profile, shares.
    Verify(verify_cmd::Args),
    /// Remove verify's kept probe containers, its probe image and any probe files left.
    Clean(clean_cmd::Args),
    // Helpers.
    /// Print the commands that set DOCKER_HOST (and the TLS variables) in a shell, for eval.
    Env(env_cmd::Args),
    /// Translate a path between Windows (D:\x) and WSL/VM (/mnt/d/x) through the shares.
    Path(path_cmd::Args),
    /// Serve the Docker API on Docker's named pipe, forwarded to the VM, Windows paths translated.
    Proxy(proxy_cmd::Args),
    /// Print the completion script of a shell (bash, zsh, fish, powershell, elvish).
    Completions(completions_cmd::Args),
    /// Write a man page for dockvm and one for each command into a folder.
    Man(man_cmd::Args),
    /// Print the spec's JSON Schema (for editors).
    Schema(schema_cmd::Args),
    /// Print dockvm's version, the git commit it was built from and its target.
    Version(version_cmd::Args),
}

/// How a command ended, mapped to the documented exit codes.
pub(crate) enum Outcome {
    Ok,
    /// The command's answer is "no" (exit 1).
    No,
    /// Any other documented exit code (verify's 3: could not evaluate).
    Code(u8),
}

/// A failure with its exit code.
pub(crate) enum Failure {
    /// Bad spec or usage: exit 2.
    Input(anyhow::Error),
    /// Could not read or write: exit 3.
    Io(anyhow::Error),
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version on stdout (exit 0) and usage errors on stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Gen(a) => gen_cmd::run(a),
        Command::Init(a) => init::run(a),
        Command::Verify(a) => verify_cmd::run(a),
        Command::Install(a) => install_cmd::run(a, install_cmd::Mode::Install),
        Command::Uninstall(a) => install_cmd::run(a, install_cmd::Mode::Uninstall),
        Command::Certs(a) => certs_cmd::run(a),
        Command::Clean(a) => clean_cmd::run(a),
        Command::Path(a) => path_cmd::run(a),
        Command::Completions(a) => completions_cmd::run(a),
        Command::Env(a) => env_cmd::run(a),
        Command::Schema(a) => schema_cmd::run(a),
        Command::Version(a) => version_cmd::run(a),
        Command::Up(a) => up_cmd::up(a),
        Command::Down(a) => up_cmd::down(a),
        Command::Status(a) => up_cmd::status(a),
        Command::Man(a) => man_cmd::run(a),
        Command::Proxy(a) => proxy_cmd::run(a),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::No) => ExitCode::from(1),
        Ok(Outcome::Code(c)) => ExitCode::from(c),
        Err(Failure::Input(e)) => {
            eprintln!("dockvm: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Io(e)) => {
            eprintln!("dockvm: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// The spec beside this program: where install puts the spec's copy next to the sign-in
/// `dockvmw.exe`, which Windows starts in no folder of the user's.
fn beside_program() -> Option<Utf8PathBuf> {
    let exe = Utf8PathBuf::from_path_buf(std::env::current_exe().ok()?).ok()?;
    Some(exe.with_file_name("dockvm.toml")).filter(|p| p.is_file())
}

/// Loads the spec: `--spec FILE`, else `./dockvm.toml`, else `dockvm.toml` beside this program,
/// else the embedded default (said on stderr). Warnings go to stderr; any error means nothing
/// else happens.
pub(crate) fn load_spec(spec: Option<&Utf8Path>) -> Result<(String, Loaded), Failure> {
    let (label, text) = match spec {
        Some(path) => (path.to_string(), read_spec(path)?),
        None => {
            let local = Utf8PathBuf::from("dockvm.toml");
            if local.exists() {
                (local.to_string(), read_spec(&local)?)
            } else if let Some(beside) = beside_program() {
                (beside.to_string(), read_spec(&beside)?)
            } else {
                eprintln!(
                    "dockvm: no --spec and no ./dockvm.toml: using the embedded default spec (`dockvm init` writes it)"
                );
                (DEFAULT_SPEC_LABEL.to_owned(), DEFAULT_SPEC.to_owned())
            }
        }
    };
    let loaded = dockvm_spec::load_str(&label, &text).map_err(|e| Failure::Input(e.into()))?;
    for w in &loaded.warnings {
        eprintln!("dockvm: warning: {w}");
    }
    Ok((label, loaded))
}

fn read_spec(path: &Utf8Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read spec {path}"))
        .map_err(Failure::Input)?;
    String::from_utf8(bytes)
        .map_err(|e| {
            anyhow::anyhow!(
                "{path}: not UTF-8 (byte {}); save the spec as UTF-8",
                e.utf8_error().valid_up_to()
            )
        })
        .map_err(Failure::Input)
}

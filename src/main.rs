//! dockvm: one TOML spec for Docker in a VMware VM used from Windows and WSL.
//!
//! The binary only parses the command line and glues the library crates together:
//! `dockvm-spec` loads the spec, `dockvm-gen` renders and writes the files, `dockvm-install`
//! puts a side of them in place (and takes it off), `dockvm-verify` checks the live setup.

use std::process::ExitCode;

fn main() -> ExitCode {
    dockvm::cli::run()
}

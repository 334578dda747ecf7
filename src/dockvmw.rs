//! `dockvmw.exe`: dockvm.exe's commands as a Windows GUI-subsystem program, which Windows starts
//! with no console window (as pythonw.exe is python.exe's twin). The Run value starts
//! `dockvmw.exe up` at sign-in, and `up` started from it starts the proxy from it too: a console
//! program there would get a window for its whole run (Windows Terminal's on Windows 11), and
//! closing that window would end it mid-work. Output goes to the log (`up --log`), since there
//! is no console to print to; a console program it runs (vmrun) gets `CREATE_NO_WINDOW`.
//!
//! Elsewhere it is the same program as `dockvm`, built only because cargo builds every binary
//! of a package for every target.
#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    dockvm::cli::run()
}

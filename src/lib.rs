//! dockvm's command line, shared by its two Windows programs: `dockvm.exe` (a console program,
//! for cmd, PowerShell and WSL) and `dockvmw.exe` (the same commands as a GUI-subsystem program
//! with no window, for what runs with no console: the sign-in start and the proxy it starts).
//! On Linux and in WSL there is one program, `dockvm`.

pub mod cli;

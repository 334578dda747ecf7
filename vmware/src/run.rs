//! Running vmrun with a deadline: its output is captured through files, not pipes, so a helper
//! it leaves behind (a Windows program reached through WSL interop may) cannot hold the call
//! past its deadline; at the deadline it is killed.

use crate::VmrunError;
use camino::Utf8Path;
use std::io::{Read as _, Seek as _};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Runs `program args` with no input, waiting at most `deadline` (and only while `cancel` is
/// unset); `what` names it in errors.
pub fn run(
    program: &Utf8Path,
    args: &[&str],
    deadline: Duration,
    what: &str,
    cancel: Option<&AtomicBool>,
) -> Result<Output, VmrunError> {
    let io = |e| VmrunError::Io(what.to_owned(), e);
    let out = tempfile::tempfile().map_err(io)?;
    let err = tempfile::tempfile().map_err(io)?;
    let start = Instant::now();
    // No window: vmrun is a console program, and dockvmw.exe (the sign-in start) has no
    // console to lend it.
    let mut child = dockvm_platform::process::no_window(&mut Command::new(program))
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(io)?)
        .stderr(err.try_clone().map_err(io)?)
        .spawn()
        .map_err(|e| VmrunError::Start(program.to_string(), e))?;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(io)? {
            break s;
        }
        if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(VmrunError::Cancelled(what.to_owned()));
        }
        if start.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(VmrunError::Timeout {
                what: what.to_owned(),
                after: deadline,
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let read = |mut f: std::fs::File| -> std::io::Result<Vec<u8>> {
        let mut b = Vec::new();
        f.seek(std::io::SeekFrom::Start(0))?;
        f.read_to_end(&mut b)?;
        Ok(b)
    };
    Ok(Output {
        status,
        stdout: read(out).map_err(io)?,
        stderr: read(err).map_err(io)?,
    })
}

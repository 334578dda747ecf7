//! Running a program with a deadline (vmrun can block while a VM boots): its output is
//! captured through files, not pipes, so a helper it leaves behind (a Windows program reached
//! through WSL interop may) cannot hold the check past its deadline; at the deadline the
//! program is killed.

use camino::Utf8Path;
use std::io::{Read as _, Seek as _};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {0}: {1}")]
    Start(String, std::io::Error),
    #[error("{0} did not answer within {1}")]
    Timeout(String, String),
    #[error("cannot read the output of {0}: {1}")]
    Io(String, std::io::Error),
}

/// Runs `program args` with no input, waiting at most `deadline`.
pub fn run(program: &Utf8Path, args: &[&str], deadline: Duration) -> Result<Output, RunError> {
    let what = format!(
        "{} {}",
        program.file_name().unwrap_or(program.as_str()),
        args.join(" ")
    );
    let io = |e| RunError::Io(what.clone(), e);
    let out = tempfile::tempfile().map_err(io)?;
    let err = tempfile::tempfile().map_err(io)?;
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(io)?)
        .stderr(err.try_clone().map_err(io)?)
        .spawn()
        .map_err(|e| RunError::Start(program.to_string(), e))?;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(io)? {
            break s;
        }
        if start.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::Timeout(what, crate::checks::human(deadline)));
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

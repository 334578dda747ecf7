//! The proxy as `up`, `down` and `status` see it: who answers on the pipe (this VM's proxy,
//! another VM's, another program such as Docker Desktop, or no one), started in the background
//! and stopped by its pid, which the pipe itself gives (`GetNamedPipeServerProcessId`): no pid
//! file to go stale.

use dockvm_engine::Endpoint;
use std::time::{Duration, Instant};

/// Who serves the pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnPipe {
    /// Nothing: the pipe does not exist.
    Nobody,
    /// dockvm's proxy for the VM named, with its process.
    Proxy { vm: String, pid: Option<u32> },
    /// Another server (Docker Desktop, a dockerd for Windows).
    Other { pid: Option<u32> },
    /// A server whose pipe this user may not open (its DACL admits someone else): another
    /// signed-in user's proxy, or Docker Desktop for a user outside `docker-users`. `users`:
    /// the other sessions' users running dockvm, when Windows says.
    OtherUser { users: Vec<String> },
    /// Something is there but did not answer in time, or answered garbage.
    Unclear(String),
}

/// Asks `\\.\pipe\<name>` for `/_ping` within `within`.
pub fn on_pipe(name: &str, within: Duration) -> OnPipe {
    let ep = Endpoint::pipe(name);
    match ep.ping(Instant::now() + within) {
        Ok(r) => match r.header(&crate::PROXY_HEADER.to_ascii_lowercase()) {
            Some(vm) => OnPipe::Proxy {
                vm: vm.to_owned(),
                pid: server_pid(name),
            },
            None => OnPipe::Other {
                pid: server_pid(name),
            },
        },
        Err(dockvm_engine::HttpError::Connect(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            OnPipe::Nobody
        }
        Err(dockvm_engine::HttpError::Connect(e))
            if e.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            OnPipe::OtherUser {
                users: dockvm_platform::process::users_running_elsewhere(&[
                    "dockvm.exe",
                    "dockvmw.exe",
                ]),
            }
        }
        Err(e) => OnPipe::Unclear(e.to_string()),
    }
}

#[cfg(windows)]
pub use crate::pipe::{server_pid, terminate};

#[cfg(not(windows))]
pub fn server_pid(_name: &str) -> Option<u32> {
    None
}

#[cfg(not(windows))]
pub fn terminate(_pid: u32) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Starts `program args` in the background, out of this console (a Ctrl-C here does not reach
/// it), its output appended to `log`, inheriting no other handle of this process (the caller's
/// stdout pipe would otherwise stay open as long as the proxy lives).
pub use dockvm_platform::process::spawn_detached;

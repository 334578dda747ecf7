//! The proxy on a Windows named pipe, as Docker's own Windows endpoint is: message mode (go-winio
//! closes its write side with an empty message: stdin's end for `run -i`), overlapped I/O (a
//! read and a write in flight on one handle at once, which synchronous handles serialize), a
//! DACL that admits the signed-in user and SYSTEM only, remote clients rejected, and the first
//! instance created with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so a name another server holds is
//! refused with that server's program named.

use crate::halves::{Reader, WriteHalf, Writer};
use std::io::{self, Read, Write};
use std::ptr::null_mut;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_BROKEN_PIPE,
    ERROR_FILE_NOT_FOUND, ERROR_IO_PENDING, ERROR_MORE_DATA, ERROR_NO_DATA, ERROR_PIPE_BUSY,
    ERROR_PIPE_CONNECTED, ERROR_PIPE_NOT_CONNECTED, GENERIC_READ, GetLastError, HANDLE, HLOCAL,
    INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
    TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, FILE_READ_ATTRIBUTES, PIPE_ACCESS_DUPLEX,
    ReadFile, WriteFile,
};
use windows_sys::Win32::System::IO::{GetOverlappedResult, OVERLAPPED};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, DisconnectNamedPipe, GetNamedPipeServerProcessId,
    PIPE_READMODE_MESSAGE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_MESSAGE, PIPE_UNLIMITED_INSTANCES,
    PIPE_WAIT,
};
use windows_sys::Win32::System::Threading::{CreateEventW, GetCurrentProcess, OpenProcessToken};

/// Docker's own pipe: the Windows CLI's endpoint when neither DOCKER_HOST nor a context says
/// otherwise.
pub const DOCKER_ENGINE: &str = "docker_engine";

/// `\\.\pipe\<name>`.
pub fn path(name: &str) -> String {
    format!(r"\\.\pipe\{name}")
}

/// The `npipe://` URL the docker CLI takes for a pipe (`DOCKER_HOST`, a context's endpoint).
pub fn url(name: &str) -> String {
    format!("npipe:////./pipe/{name}")
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn last_error() -> u32 {
    unsafe { GetLastError() }
}

struct Handle(HANDLE);
// SAFETY: a kernel handle may be used from any thread; overlapped operations on it each have
// their own OVERLAPPED and event.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}
impl Drop for Handle {
    fn drop(&mut self) {
        unsafe { CloseHandle(self.0) };
    }
}

/// An OVERLAPPED with its own event, kept at one address while an operation runs.
struct Op {
    ov: Box<OVERLAPPED>,
    _event: Handle,
}
// SAFETY: an Op is used by one thread at a time (its owner's); its pointers are the event handle
// and the kernel's own fields.
unsafe impl Send for Op {}

impl Op {
    fn new() -> io::Result<Op> {
        let ev = unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) };
        if ev.is_null() {
            return Err(io::Error::last_os_error());
        }
        let mut ov: Box<OVERLAPPED> = Box::new(unsafe { std::mem::zeroed() });
        ov.hEvent = ev;
        Ok(Op {
            ov,
            _event: Handle(ev),
        })
    }

    /// Waits for the operation `started` began (its BOOL) and gives the bytes moved;
    /// `ERROR_MORE_DATA` (a message larger than the buffer) is a success.
    fn finish(&mut self, h: HANDLE, started: i32) -> Result<u32, u32> {
        if started == 0 {
            let e = last_error();
            if e != ERROR_IO_PENDING && e != ERROR_MORE_DATA {
                return Err(e);
            }
        }
        let mut n = 0u32;
        if unsafe { GetOverlappedResult(h, &*self.ov, &mut n, 1) } == 0 {
            let e = last_error();
            if e != ERROR_MORE_DATA {
                return Err(e);
            }
        }
        Ok(n)
    }
}

/// The security descriptor of the pipe: full access for SYSTEM and the user this process runs
/// as, no one else (`P`: not inherited from any parent).
pub struct Security {
    sddl: String,
    sd: PSECURITY_DESCRIPTOR,
}

impl Drop for Security {
    fn drop(&mut self) {
        unsafe { LocalFree(self.sd as HLOCAL) };
    }
}

impl Security {
    pub fn for_current_user() -> io::Result<Security> {
        let sid = current_user_sid()?;
        let sddl = format!("D:P(A;;GA;;;SY)(A;;GA;;;{sid})");
        let mut sd: PSECURITY_DESCRIPTOR = null_mut();
        let w = wide(&sddl);
        if unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                w.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                null_mut(),
            )
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(Security { sddl, sd })
    }

    /// The descriptor in SDDL, as set.
    pub fn sddl(&self) -> &str {
        &self.sddl
    }
}

/// The SID of the user this process runs as (`S-1-5-21-...`).
pub fn current_user_sid() -> io::Result<String> {
    unsafe {
        let mut tok: HANDLE = null_mut();
        if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut tok) == 0 {
            return Err(io::Error::last_os_error());
        }
        let tok = Handle(tok);
        let mut need = 0u32;
        GetTokenInformation(tok.0, TokenUser, null_mut(), 0, &mut need);
        let mut buf = vec![0u64; (need as usize).div_ceil(8).max(8)];
        if GetTokenInformation(
            tok.0,
            TokenUser,
            buf.as_mut_ptr().cast(),
            (buf.len() * 8) as u32,
            &mut need,
        ) == 0
        {
            return Err(io::Error::last_os_error());
        }
        let user = &*(buf.as_ptr() as *const TOKEN_USER);
        let mut s: *mut u16 = null_mut();
        if ConvertSidToStringSidW(user.User.Sid, &mut s) == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut len = 0;
        while *s.add(len) != 0 {
            len += 1;
        }
        let out = String::from_utf16_lossy(std::slice::from_raw_parts(s, len));
        LocalFree(s as HLOCAL);
        Ok(out)
    }
}

/// Why the pipe could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("{pipe} is already served by {holder}")]
    Held { pipe: String, holder: String },
    #[error("{pipe}: {source}")]
    Io { pipe: String, source: io::Error },
}

/// A named pipe server: one instance always waiting for the next client.
pub struct Listener {
    name: Vec<u16>,
    security: Security,
    next: Handle,
}

impl Listener {
    /// Creates the pipe's first instance; refuses when another server already has the name.
    pub fn bind(name: &str) -> Result<Listener, BindError> {
        let pipe = path(name);
        let io_err = |source| BindError::Io {
            pipe: pipe.clone(),
            source,
        };
        let security = Security::for_current_user().map_err(io_err)?;
        let wname = wide(&pipe);
        // A server already there: opening the name as a client finds it (Wine 8 does not
        // refuse FILE_FLAG_FIRST_PIPE_INSTANCE; Windows does, which closes the gap between
        // this look and the creation).
        if let Some(holder) = holder(name) {
            return Err(BindError::Held { pipe, holder });
        }
        match instance(&wname, &security, true) {
            Ok(next) => Ok(Listener {
                name: wname,
                security,
                next,
            }),
            Err(e)
                if e == ERROR_ACCESS_DENIED
                    || e == ERROR_ALREADY_EXISTS
                    || e == ERROR_PIPE_BUSY =>
            {
                Err(BindError::Held {
                    holder: holder(name).unwrap_or_else(|| "another program".into()),
                    pipe,
                })
            }
            Err(e) => Err(io_err(io::Error::from_raw_os_error(e as i32))),
        }
    }

    /// The descriptor the pipe's instances are created with.
    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Waits for a client; a new instance waits for the next one before this one is served.
    ///
    /// A client that opened the waiting instance and closed it before `ConnectNamedPipe` was
    /// called (a probe, a health check, Go's `os.Stat` of the pipe) makes the call fail with
    /// `ERROR_NO_DATA`: the instance is disconnected and waits again, as go-winio's listener
    /// does. Any other failure is the caller's to log; the instance is made anew first, so the
    /// next call does not meet the same state.
    pub fn accept(&mut self) -> io::Result<(Reader, Writer)> {
        let mut op = Op::new()?;
        loop {
            let h = self.next.0;
            let started = unsafe { ConnectNamedPipe(h, &mut *op.ov) };
            let outcome = if started == 0 && last_error() == ERROR_PIPE_CONNECTED {
                // The client came between the instance's creation and this call.
                Ok(0)
            } else {
                op.finish(h, started)
            };
            match connected(outcome) {
                Connected::Client => break,
                Connected::Gone => {
                    unsafe { DisconnectNamedPipe(h) };
                    STRAYS.fetch_add(1, Ordering::Relaxed);
                }
                Connected::Failed(e) => {
                    if let Ok(fresh) = instance(&self.name, &self.security, false) {
                        self.next = fresh;
                    }
                    return Err(io::Error::from_raw_os_error(e as i32));
                }
            }
        }
        let next = instance(&self.name, &self.security, false)
            .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
        let conn = Arc::new(std::mem::replace(&mut self.next, next));
        let r = PipeRead {
            h: conn.clone(),
            op: Op::new()?,
            eof: false,
        };
        let w = PipeWrite {
            h: conn,
            op: Op::new()?,
        };
        Ok((Box::new(r), Box::new(w)))
    }
}

/// Clients that hung up before their instance was connected, since the process started (the
/// proxy's `--verbose` log counts them).
static STRAYS: AtomicU64 = AtomicU64::new(0);

/// How `ConnectNamedPipe` ended, as the accept loop acts on it.
#[derive(Debug, PartialEq, Eq)]
enum Connected {
    /// A client is there: serve it.
    Client,
    /// A client came and went before the call (`ERROR_NO_DATA`): disconnect, wait again.
    Gone,
    /// Anything else.
    Failed(u32),
}

fn connected(outcome: Result<u32, u32>) -> Connected {
    match outcome {
        Ok(_) => Connected::Client,
        Err(ERROR_NO_DATA) => Connected::Gone,
        Err(e) => Connected::Failed(e),
    }
}

fn instance(name: &[u16], sec: &Security, first: bool) -> Result<Handle, u32> {
    let sa = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: sec.sd,
        bInheritHandle: 0,
    };
    let open = PIPE_ACCESS_DUPLEX
        | FILE_FLAG_OVERLAPPED
        | if first {
            FILE_FLAG_FIRST_PIPE_INSTANCE
        } else {
            0
        };
    let mode = PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
    let h = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            open,
            mode,
            PIPE_UNLIMITED_INSTANCES,
            crate::http::CHUNK as u32,
            crate::http::CHUNK as u32,
            0,
            &sa,
        )
    };
    if h == INVALID_HANDLE_VALUE {
        return Err(last_error());
    }
    Ok(Handle(h))
}

/// The program serving a pipe, `C:\...\program.exe (pid N)` (from a client handle's
/// `GetNamedPipeServerProcessId`); `None` when no server has the name.
fn holder(name: &str) -> Option<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let h = match dockvm_engine::pipe::open(
        name,
        GENERIC_READ | FILE_READ_ATTRIBUTES,
        false,
        deadline,
    ) {
        Ok(h) => h,
        Err(ERROR_FILE_NOT_FOUND) => return None,
        Err(ERROR_PIPE_BUSY) => {
            return Some("another program (every instance of the pipe busy)".into());
        }
        Err(ERROR_ACCESS_DENIED) => {
            return Some(
                "a program of another user (the pipe admits someone else: another signed-in user's dockvm proxy, or Docker Desktop)"
                    .into(),
            );
        }
        Err(e) => {
            return Some(format!(
                "another program (opening the pipe: {})",
                io::Error::from_raw_os_error(e as i32)
            ));
        }
    };
    let mut pid = 0u32;
    if unsafe { GetNamedPipeServerProcessId(h.0, &mut pid) } == 0 {
        return Some("another program".into());
    }
    Some(match image_of(pid) {
        Some(image) => format!("{image} (pid {pid})"),
        None => format!("the process with pid {pid}"),
    })
}

pub use dockvm_platform::process::image_of;

struct PipeRead {
    h: Arc<Handle>,
    op: Op,
    eof: bool,
}

impl Read for PipeRead {
    /// A zero-byte message is the client's half-close (go-winio's `CloseWrite`): EOF from then
    /// on, as go-winio reads it; a client gone is EOF too.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof || buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len().min(u32::MAX as usize) as u32;
        let h = self.h.0;
        let started = unsafe { ReadFile(h, buf.as_mut_ptr(), len, null_mut(), &mut *self.op.ov) };
        match self.op.finish(h, started) {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => Ok(n as usize),
            Err(e)
                if e == ERROR_BROKEN_PIPE
                    || e == ERROR_PIPE_NOT_CONNECTED
                    || e == ERROR_NO_DATA =>
            {
                self.eof = true;
                Ok(0)
            }
            Err(e) => Err(io::Error::from_raw_os_error(e as i32)),
        }
    }
}

struct PipeWrite {
    h: Arc<Handle>,
    op: Op,
}

impl PipeWrite {
    fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = buf.len().min(u32::MAX as usize) as u32;
        let h = self.h.0;
        let started = unsafe { WriteFile(h, buf.as_ptr(), len, null_mut(), &mut *self.op.ov) };
        match self.op.finish(h, started) {
            Ok(n) => Ok(n as usize),
            Err(e)
                if e == ERROR_BROKEN_PIPE
                    || e == ERROR_PIPE_NOT_CONNECTED
                    || e == ERROR_NO_DATA =>
            {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            Err(e) => Err(io::Error::from_raw_os_error(e as i32)),
        }
    }
}

impl Write for PipeWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // An empty message would be read as the end: never send one for an empty write.
        if buf.is_empty() {
            return Ok(0);
        }
        self.send(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteHalf for PipeWrite {
    /// An empty message: go-winio's reader returns EOF for it and from then on.
    fn close_write(&mut self) -> io::Result<()> {
        self.send(&[]).map(|_| ())
    }
}

/// Serves every client on its own threads, forever: a failed accept is logged and retried
/// after a back-off, never the end of the proxy.
pub fn serve(mut listener: Listener, proxy: Arc<crate::Proxy>) -> io::Result<()> {
    let mut backoff = crate::Backoff::default();
    let mut strays = 0;
    loop {
        match listener.accept() {
            Ok((r, w)) => {
                backoff.reset();
                let now = STRAYS.load(Ordering::Relaxed);
                if proxy.verbose && now != strays {
                    crate::log(&format!(
                        "{} client(s) hung up before they were served (probes), {now} in all",
                        now - strays
                    ));
                }
                strays = now;
                let p = proxy.clone();
                std::thread::spawn(move || p.serve_connection(r, w));
            }
            Err(e) => {
                let wait = backoff.wait();
                crate::log(&format!(
                    "waiting for a client failed: {e}; serving on in {} ms",
                    wait.as_millis()
                ));
                std::thread::sleep(wait);
            }
        }
    }
}

/// The process serving the pipe `name`, by a client handle's `GetNamedPipeServerProcessId`;
/// while every instance is busy (the server between two accepts), waits for one, up to 2 s.
pub fn server_pid(name: &str) -> Option<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let h = dockvm_engine::pipe::open(name, GENERIC_READ | FILE_READ_ATTRIBUTES, false, deadline)
        .ok()?;
    let mut pid = 0u32;
    (unsafe { GetNamedPipeServerProcessId(h.0, &mut pid) } != 0).then_some(pid)
}

/// Ends the process `pid`, waiting until it is gone (at most 10 s).
pub fn terminate(pid: u32) -> io::Result<()> {
    dockvm_platform::process::terminate(pid, None)
}

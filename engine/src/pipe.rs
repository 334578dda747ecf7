//! A Windows named pipe as a [`Conn`](crate::transport::Conn): the Docker API as `dockvm proxy`
//! (or Docker Desktop) serves it on `\\.\pipe\<name>`. Overlapped I/O, so every read and write
//! has the exchange's deadline (a wait, then `CancelIoEx`). Elsewhere every connect fails.

#[cfg(not(windows))]
pub fn connect(
    name: &str,
    _deadline: std::time::Instant,
) -> Result<std::net::TcpStream, crate::HttpError> {
    Err(crate::HttpError::Connect(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!(r"\\.\pipe\{name}: named pipes are Windows'"),
    )))
}

#[cfg(windows)]
pub use imp::{CLIENT_FLAGS, ClientHandle, connect, open};

#[cfg(windows)]
mod imp {
    use crate::HttpError;
    use std::cell::Cell;
    use std::io::{self, Read, Write};
    use std::ptr::{null, null_mut};
    use std::time::{Duration, Instant};
    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_BROKEN_PIPE, ERROR_FILE_NOT_FOUND, ERROR_IO_PENDING, ERROR_MORE_DATA,
        ERROR_NO_DATA, ERROR_PIPE_BUSY, ERROR_PIPE_NOT_CONNECTED, GENERIC_READ, GENERIC_WRITE,
        GetLastError, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        CreateFileW, FILE_FLAG_OVERLAPPED, OPEN_EXISTING, ReadFile, SECURITY_ANONYMOUS,
        SECURITY_SQOS_PRESENT, WriteFile,
    };
    use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};
    use windows_sys::Win32::System::Pipes::WaitNamedPipeW;
    use windows_sys::Win32::System::Threading::{CreateEventW, INFINITE, WaitForSingleObject};

    pub struct PipeConn {
        h: HANDLE,
        ev: HANDLE,
        read_t: Cell<Option<Duration>>,
        write_t: Cell<Option<Duration>>,
    }

    impl Drop for PipeConn {
        fn drop(&mut self) {
            unsafe {
                CloseHandle(self.h);
                CloseHandle(self.ev);
            }
        }
    }

    fn ms(d: Duration) -> u32 {
        d.as_millis().clamp(1, u32::MAX as u128 - 1) as u32
    }

    /// How every dockvm pipe client opens a pipe: with `SECURITY_SQOS_PRESENT |
    /// SECURITY_ANONYMOUS`, as go-winio does, so whichever program holds the name cannot
    /// impersonate this user (the default, without SQOS, allows the server full impersonation).
    pub const CLIENT_FLAGS: u32 = SECURITY_SQOS_PRESENT | SECURITY_ANONYMOUS;

    /// A pipe client's handle, closed on drop.
    pub struct ClientHandle(pub HANDLE);

    impl Drop for ClientHandle {
        fn drop(&mut self) {
            unsafe { CloseHandle(self.0) };
        }
    }

    /// Opens `\\.\pipe\<name>` as a client with `access` (and `FILE_FLAG_OVERLAPPED` when
    /// `overlapped`) before `deadline`, waiting (`WaitNamedPipeW`) while every instance is busy.
    /// The error is the last one Windows gave: `ERROR_FILE_NOT_FOUND` (no server),
    /// `ERROR_PIPE_BUSY` (still busy at the deadline), `ERROR_ACCESS_DENIED` (the pipe's DACL
    /// keeps this user out: another user's server).
    pub fn open(
        name: &str,
        access: u32,
        overlapped: bool,
        deadline: Instant,
    ) -> Result<ClientHandle, u32> {
        let path = format!(r"\\.\pipe\{name}");
        let w: Vec<u16> = path.encode_utf16().chain(Some(0)).collect();
        let flags = CLIENT_FLAGS | if overlapped { FILE_FLAG_OVERLAPPED } else { 0 };
        loop {
            let h = unsafe {
                CreateFileW(
                    w.as_ptr(),
                    access,
                    0,
                    null(),
                    OPEN_EXISTING,
                    flags,
                    null_mut(),
                )
            };
            if h != INVALID_HANDLE_VALUE {
                return Ok(ClientHandle(h));
            }
            let e = unsafe { GetLastError() };
            let left = deadline.saturating_duration_since(Instant::now());
            if e != ERROR_PIPE_BUSY || left.is_zero() {
                return Err(e);
            }
            // Every instance is taken: wait for one (a server between two accepts).
            unsafe { WaitNamedPipeW(w.as_ptr(), ms(left)) };
        }
    }

    /// Opens `\\.\pipe\<name>` as a client before `deadline`, waiting while every instance is
    /// busy.
    pub fn connect(name: &str, deadline: Instant) -> Result<PipeConn, HttpError> {
        let path = format!(r"\\.\pipe\{name}");
        match open(name, GENERIC_READ | GENERIC_WRITE, true, deadline) {
            Ok(h) => {
                let ev = unsafe { CreateEventW(null(), 1, 0, null()) };
                if ev.is_null() {
                    return Err(HttpError::Connect(io::Error::last_os_error()));
                }
                let h = std::mem::ManuallyDrop::new(h).0;
                Ok(PipeConn {
                    h,
                    ev,
                    read_t: Cell::new(None),
                    write_t: Cell::new(None),
                })
            }
            Err(ERROR_FILE_NOT_FOUND) => Err(HttpError::Connect(io::Error::new(
                io::ErrorKind::NotFound,
                format!("nothing serves {path}"),
            ))),
            Err(ERROR_PIPE_BUSY) => Err(HttpError::Connect(io::ErrorKind::TimedOut.into())),
            Err(e) => Err(HttpError::Connect(io::Error::from_raw_os_error(e as i32))),
        }
    }

    impl PipeConn {
        /// Runs one overlapped operation to its end or `timeout` (then cancelled: TimedOut).
        fn op(
            &self,
            timeout: Option<Duration>,
            start: impl FnOnce(*mut OVERLAPPED) -> i32,
        ) -> io::Result<u32> {
            let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
            ov.hEvent = self.ev;
            let ok = start(&mut ov);
            if ok == 0 {
                let e = unsafe { GetLastError() };
                if e != ERROR_IO_PENDING && e != ERROR_MORE_DATA {
                    return Err(io::Error::from_raw_os_error(e as i32));
                }
                if e == ERROR_IO_PENDING {
                    let wait = timeout.map_or(INFINITE, ms);
                    if unsafe { WaitForSingleObject(self.ev, wait) } != WAIT_OBJECT_0 {
                        unsafe { CancelIoEx(self.h, &ov) };
                        let mut n = 0;
                        unsafe { GetOverlappedResult(self.h, &ov, &mut n, 1) };
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
            }
            let mut n = 0u32;
            if unsafe { GetOverlappedResult(self.h, &ov, &mut n, 1) } == 0 {
                let e = unsafe { GetLastError() };
                if e != ERROR_MORE_DATA {
                    return Err(io::Error::from_raw_os_error(e as i32));
                }
            }
            Ok(n)
        }
    }

    fn gone(e: &io::Error) -> bool {
        e.raw_os_error().is_some_and(|c| {
            let c = c as u32;
            c == ERROR_BROKEN_PIPE || c == ERROR_PIPE_NOT_CONNECTED || c == ERROR_NO_DATA
        })
    }

    impl Read for PipeConn {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            let len = buf.len().min(1 << 20) as u32;
            let h = self.h;
            match self.op(self.read_t.get(), |ov| unsafe {
                ReadFile(h, buf.as_mut_ptr(), len, null_mut(), ov)
            }) {
                Ok(n) => Ok(n as usize),
                Err(e) if gone(&e) => Ok(0),
                Err(e) => Err(e),
            }
        }
    }

    impl Write for PipeConn {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            let len = buf.len().min(1 << 20) as u32;
            let h = self.h;
            self.op(self.write_t.get(), |ov| unsafe {
                WriteFile(h, buf.as_ptr(), len, null_mut(), ov)
            })
            .map(|n| n as usize)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl crate::transport::Conn for PipeConn {
        fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
            self.read_t.set(t);
            Ok(())
        }
        fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
            self.write_t.set(t);
            Ok(())
        }
    }
}

//! A connection as two halves that two threads use at once: a reader, and a writer that can
//! close its direction alone (half-close), so stdin's end reaches a container while its output
//! still flows back. Implemented for TCP, for TLS over TCP (one rustls connection shared under a
//! lock that is never held while waiting on the socket), and for a Unix socket; the Windows
//! named pipe is in `pipe.rs`.

use dockvm_engine::Endpoint;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The writing half of a connection.
pub trait WriteHalf: Write + Send {
    /// Ends this direction; the peer reads EOF and may still send.
    fn close_write(&mut self) -> io::Result<()>;
}

pub type Reader = Box<dyn Read + Send>;
pub type Writer = Box<dyn WriteHalf>;

impl WriteHalf for TcpStream {
    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl WriteHalf for std::os::unix::net::UnixStream {
    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// How long a connection to the VM may take, TLS handshake included.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// A connection to the VM's endpoint: its halves, and its socket, to end both directions at
/// once when the client is gone.
pub struct Upstream {
    pub reader: Reader,
    pub writer: Writer,
    pub socket: TcpStream,
}

/// Opens a connection to the Engine endpoint: TCP, or TLS with the endpoint's client files.
pub fn connect(ep: &Endpoint) -> io::Result<Upstream> {
    let deadline = Instant::now() + CONNECT_WITHIN;
    let tcp = dockvm_engine::transport::connect(ep.addr, deadline).map_err(|e| match e {
        dockvm_engine::HttpError::Connect(e) => e,
        e => io::Error::other(e.to_string()),
    })?;
    let socket = tcp.try_clone()?;
    let Some(tls) = &ep.tls else {
        let r = tcp.try_clone()?;
        return Ok(Upstream {
            reader: Box::new(r),
            writer: Box::new(tcp),
            socket,
        });
    };
    let mut conn = rustls::ClientConnection::new(tls.config.clone(), tls.server_name.clone())
        .map_err(io::Error::other)?;
    tcp.set_read_timeout(Some(CONNECT_WITHIN))?;
    tcp.set_write_timeout(Some(CONNECT_WITHIN))?;
    let mut sock = tcp;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    sock.set_read_timeout(None)?;
    sock.set_write_timeout(None)?;
    let shared = Arc::new(Mutex::new(conn));
    let r = TlsRead {
        conn: shared.clone(),
        sock: sock.try_clone()?,
        buf: vec![0; crate::http::CHUNK],
        start: 0,
        end: 0,
        eof: false,
    };
    let w = TlsWrite { conn: shared, sock };
    Ok(Upstream {
        reader: Box::new(r),
        writer: Box::new(w),
        socket,
    })
}

type Shared = Arc<Mutex<rustls::ClientConnection>>;

fn lock(c: &Shared) -> std::sync::MutexGuard<'_, rustls::ClientConnection> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reading half of a TLS connection: the socket is read without the lock; its bytes are
/// handed to rustls under it, only once the plaintext before them has been taken (rustls keeps
/// a bounded plaintext buffer).
struct TlsRead {
    conn: Shared,
    sock: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl Read for TlsRead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut c = lock(&self.conn);
                match c.reader().read(out) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The server closed without close_notify: the stream's end all the same.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                if self.start < self.end {
                    let n = c.read_tls(&mut &self.buf[self.start..self.end])?;
                    self.start += n;
                    c.process_new_packets().map_err(io::Error::other)?;
                    // What processing produced (a key update's answer, an alert) goes out now.
                    while c.wants_write() {
                        c.write_tls(&mut &self.sock)?;
                    }
                    continue;
                }
                if self.eof {
                    return Ok(0);
                }
            }
            let n = self.sock.read(&mut self.buf)?;
            (self.start, self.end) = (0, n);
            if n == 0 {
                self.eof = true;
                let mut c = lock(&self.conn);
                c.read_tls(&mut &[][..])?;
                c.process_new_packets().map_err(io::Error::other)?;
            }
        }
    }
}

struct TlsWrite {
    conn: Shared,
    sock: TcpStream,
}

impl Write for TlsWrite {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut c = lock(&self.conn);
        let n = c.writer().write(data)?;
        while c.wants_write() {
            c.write_tls(&mut &self.sock)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteHalf for TlsWrite {
    /// As the docker CLI half-closes a TLS connection (its `tlsClientCon.CloseWrite`): the TCP
    /// write side only. Go's TLS server reads that as EOF and can still answer.
    fn close_write(&mut self) -> io::Result<()> {
        self.sock.shutdown(Shutdown::Write)
    }
}

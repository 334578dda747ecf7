//! A small HTTP/1.0 client for the Docker Engine API over plain TCP or TLS (rustls), with a
//! hard deadline and a size limit on every exchange, and errors that say what was seen: a
//! server that accepts and never answers, one that answers garbage, one that never stops
//! sending, a TLS alert.
//!
//! HTTP/1.0 with `Connection: close` keeps it simple: dockerd (Go's net/http) then answers
//! without chunking and closes the connection, so a response ends at EOF or Content-Length.
//! Over TLS, where a handshake costs more than a request, small requests use HTTP/1.1
//! keep-alive instead and the connection is kept for the next one (ended by Content-Length, a
//! HEAD's headers, or the last chunk).

use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the Docker Engine API is, and how to talk to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `None`: plain TCP.
    pub tls: Option<Tls>,
    /// A Windows named pipe's name under `\\.\pipe\` (`dockvm proxy`'s, Docker's own
    /// `docker_engine`): when set, requests go there instead of `addr`.
    pub pipe: Option<String>,
}

/// A TLS client: its configuration (roots, client certificate) and the name it verifies.
#[derive(Debug, Clone)]
pub struct Tls {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: ServerName<'static>,
    /// Connections kept open between requests (keep-alive), shared by every clone.
    pub idle: Arc<std::sync::Mutex<Vec<TlsStream>>>,
}

/// A TLS connection to the Docker API.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

impl Tls {
    pub fn new(config: Arc<rustls::ClientConfig>, server_name: ServerName<'static>) -> Tls {
        Tls {
            config,
            server_name,
            idle: Arc::default(),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<TlsStream>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a request's answer is small and framed (Content-Length, or none for HEAD and 204),
/// so its connection can serve the next one: not the image import, whose answer streams.
fn keep_alive(path: &str) -> bool {
    !path.starts_with("/images/create")
}

impl Endpoint {
    pub fn plain(addr: SocketAddr) -> Endpoint {
        Endpoint {
            addr,
            tls: None,
            pipe: None,
        }
    }

    /// The named pipe `\\.\pipe\<name>` (Windows; elsewhere every request fails to connect).
    pub fn pipe(name: &str) -> Endpoint {
        Endpoint {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            tls: None,
            pipe: Some(name.to_owned()),
        }
    }

    /// `https://` or `http://` and the address, or `npipe:////./pipe/<name>`, for messages.
    pub fn url(&self) -> String {
        if let Some(p) = &self.pipe {
            return format!("npipe:////./pipe/{p}");
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

/// A connection an exchange runs over: plain TCP, TLS over it, or a Windows named pipe; each
/// read and write bounded by the timeouts last set.
pub trait Conn: Read + Write {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()>;
}

impl Conn for TcpStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, t)
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, t)
    }
}

impl Conn for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(t)
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(t)
    }
}

/// A response: status, headers (names lower-cased), body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connect: {0}")]
    Connect(io::Error),
    #[error("connected, but no answer within {0:?}")]
    Silent(Duration),
    #[error("the answer stopped after {got} bytes and did not finish within the deadline")]
    Stalled { got: usize },
    #[error("the answer is longer than {limit} bytes")]
    TooLong { limit: usize },
    #[error("not HTTP: the answer starts with {}", show_bytes(.0))]
    NotHttp(Vec<u8>),
    /// The TLS layer failed: an alert from the server, a certificate refused, not TLS at all.
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    #[error("{0}")]
    Io(io::Error),
}

/// The first bytes of an answer, printable.
pub fn show_bytes(b: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&b[..b.len().min(40)])
        .chars()
        .collect();
    format!("{s:?}")
}

/// Connects within the deadline.
pub fn connect(addr: SocketAddr, deadline: Instant) -> Result<TcpStream, HttpError> {
    let left = remaining(deadline).ok_or(HttpError::Connect(io::ErrorKind::TimedOut.into()))?;
    let s = TcpStream::connect_timeout(&addr, left).map_err(HttpError::Connect)?;
    s.set_nodelay(true).map_err(HttpError::Io)?;
    Ok(s)
}

/// Sends one request and reads the whole response before `deadline`, at most `limit` bytes.
pub fn request(
    ep: &Endpoint,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
    deadline: Instant,
    limit: usize,
) -> Result<Response, HttpError> {
    let budget = remaining(deadline).unwrap_or_default();
    if let Some(name) = &ep.pipe {
        let mut p = crate::pipe::connect(name, deadline)?;
        return exchange(&mut p, method, path, body, deadline, limit, budget);
    }
    let Some(t) = &ep.tls else {
        let tcp = connect(ep.addr, deadline)?;
        return exchange(&mut { tcp }, method, path, body, deadline, limit, budget);
    };
    let keep = keep_alive(path);
    // A kept connection first; one the server has closed meanwhile fails before any answer,
    // and the request goes on a new one. Never a POST: it is not safe to send twice.
    if keep && method != "POST" {
        let pooled = t.idle().pop();
        if let Some(mut s) = pooled
            && let Ok((r, again)) =
                exchange_framed(&mut s, method, path, body, deadline, limit, budget, true)
        {
            if again {
                t.idle().push(s);
            }
            return Ok(r);
        }
    }
    let tcp = connect(ep.addr, deadline)?;
    let conn = rustls::ClientConnection::new(t.config.clone(), t.server_name.clone())
        .map_err(HttpError::Tls)?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let (r, again) = exchange_framed(&mut s, method, path, body, deadline, limit, budget, keep)?;
    if again {
        t.idle().push(s);
    }
    Ok(r)
}

/// One request and its response over an open connection (a TLS one handshakes on the first
/// write, within the same deadline).
pub fn exchange<C: Conn>(
    s: &mut C,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
    deadline: Instant,
    limit: usize,
    budget: Duration,
) -> Result<Response, HttpError> {
    exchange_framed(s, method, path, body, deadline, limit, budget, false).map(|(r, _)| r)
}

/// [`exchange`], with HTTP/1.1 keep-alive when `keep`: the answer, and whether the
/// connection may serve another request.
#[allow(clippy::too_many_arguments)]
fn exchange_framed<C: Conn>(
    s: &mut C,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
    deadline: Instant,
    limit: usize,
    budget: Duration,
    keep: bool,
) -> Result<(Response, bool), HttpError> {
    let mut req = if keep {
        format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockvm\r\n")
    } else {
        format!(
            "{method} {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: dockvm\r\nConnection: close\r\n"
        )
    };
    if let Some((ctype, b)) = body {
        req.push_str(&format!(
            "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    if let Some((_, b)) = body {
        out.extend_from_slice(b);
    }
    s.set_write_timeout(remaining(deadline))
        .map_err(HttpError::Io)?;
    // The handshake reads too: it needs the read deadline before the first write.
    s.set_read_timeout(remaining(deadline))
        .map_err(HttpError::Io)?;
    s.write_all(&out)
        .and_then(|()| s.flush())
        .map_err(|e| classify(e, HttpError::Silent(budget)))?;
    let r = read_response(s, deadline, limit, budget, method == "HEAD")?;
    let again = keep
        && r.status_line.starts_with("HTTP/1.1")
        && !r
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        && framed(&r, method == "HEAD") == Some(r.body.len());
    Ok((r, again))
}

/// An I/O error as an [`HttpError`]: a timeout as `timeout`, a TLS failure as [`HttpError::Tls`].
fn classify(e: io::Error, timeout: HttpError) -> HttpError {
    if let Some(t) = tls_error(&e) {
        return HttpError::Tls(t);
    }
    timeout_or(e, timeout)
}

/// The rustls error inside an I/O error, if that is what it is.
pub fn tls_error(e: &io::Error) -> Option<rustls::Error> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .cloned()
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let d = deadline.saturating_duration_since(Instant::now());
    (!d.is_zero()).then_some(d)
}

fn timeout_or(e: io::Error, timeout: HttpError) -> HttpError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timeout,
        _ => HttpError::Io(e),
    }
}

fn read_response<C: Conn>(
    s: &mut C,
    deadline: Instant,
    limit: usize,
    budget: Duration,
    head: bool,
) -> Result<Response, HttpError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Some(left) = remaining(deadline) else {
            return Err(if buf.is_empty() {
                HttpError::Silent(budget)
            } else {
                HttpError::Stalled { got: buf.len() }
            });
        };
        s.set_read_timeout(Some(left)).map_err(HttpError::Io)?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > limit {
                    return Err(HttpError::TooLong { limit });
                }
                if buf.len() >= 5 && !buf.starts_with(b"HTTP/") {
                    return Err(HttpError::NotHttp(buf));
                }
                if let Some(mut r) = parse(&buf)?
                    && let Some(n) = framed(&r, head)
                    && r.body.len() >= n
                {
                    if chunked(&r) {
                        r.body = unchunk(&r.body);
                    }
                    return Ok(r);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(if buf.is_empty() {
                    HttpError::Silent(budget)
                } else {
                    HttpError::Stalled { got: buf.len() }
                });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A TLS peer that closes without close_notify: the end of the answer all the same
            // (HTTP/1.0 ends at EOF); an empty answer stays an error below.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !buf.is_empty() => break,
            Err(e) => return Err(classify(e, HttpError::Io(io::ErrorKind::TimedOut.into()))),
        }
    }
    if buf.is_empty() {
        return Err(HttpError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed without answering",
        )));
    }
    match parse(&buf)? {
        Some(r) => Ok(r),
        None => Err(HttpError::NotHttp(buf)),
    }
}

/// The response once its head is complete (the body as far as it has arrived), else `None`.
fn parse(buf: &[u8]) -> Result<Option<Response>, HttpError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_owned();
    let mut parts = status_line.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let status: u16 = match (proto.starts_with("HTTP/1."), code.parse()) {
        (true, Ok(c)) => c,
        _ => return Err(HttpError::NotHttp(buf.to_vec())),
    };
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Some(Response {
        status,
        status_line,
        headers,
        body: buf[end + 4..].to_vec(),
    }))
}

/// How many body bytes the response has, when its head says so: none for a HEAD or a 204 or
/// 304, Content-Length, or (chunked) up to the last chunk once it has arrived. `None`: the
/// body ends at EOF (or has not all arrived).
fn framed(r: &Response, head: bool) -> Option<usize> {
    if head || matches!(r.status, 204 | 304) {
        return Some(0);
    }
    if chunked(r) {
        return chunked_len(&r.body);
    }
    r.header("content-length")?.parse().ok()
}

fn chunked(r: &Response) -> bool {
    r.header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
}

/// The length of a chunked body up to and with its last (0-size) chunk, once all of it has
/// arrived (no trailers: Go sends none).
fn chunked_len(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line_end = at + b.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        let next = line_end + 2 + size + 2;
        if b.len() < next {
            return None;
        }
        if size == 0 {
            return Some(next);
        }
        at = next;
    }
}

/// A complete chunked body's data.
fn unchunk(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(rel) = b
        .get(at..)
        .and_then(|r| r.windows(2).position(|w| w == b"\r\n"))
    {
        let line_end = at + rel;
        let size = std::str::from_utf8(&b[at..line_end])
            .ok()
            .and_then(|t| usize::from_str_radix(t.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < line_end + 2 + size {
            break;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
        at = line_end + 2 + size + 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_framed_and_decoded() {
        let body = b"4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n";
        assert_eq!(chunked_len(body), Some(body.len()));
        assert_eq!(unchunk(body), b"Wikipedia ");
        assert_eq!(
            chunked_len(&body[..body.len() - 1]),
            None,
            "the end has not arrived"
        );
        assert_eq!(chunked_len(b"4\r\nWi"), None);
        assert_eq!(chunked_len(b"zz\r\n"), None);
    }
}

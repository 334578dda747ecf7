//! A small HTTP/1.0 client for the Docker Engine API over plain TCP, with a hard deadline and
//! a size limit on every exchange, and errors that say what was seen: a server that accepts and
//! never answers, one that answers garbage, one that never stops sending.
//!
//! HTTP/1.0 with `Connection: close` keeps it simple: dockerd (Go's net/http) then answers
//! without chunking and closes the connection, so a response ends at EOF or Content-Length.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

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

/// Sends one request and reads the whole response before `deadline`, at most `limit` bytes.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
    deadline: Instant,
    limit: usize,
) -> Result<Response, HttpError> {
    let left = remaining(deadline).ok_or(HttpError::Connect(io::ErrorKind::TimedOut.into()))?;
    let mut s = TcpStream::connect_timeout(&addr, left).map_err(HttpError::Connect)?;
    s.set_nodelay(true).map_err(HttpError::Io)?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: dockvm\r\nConnection: close\r\n"
    );
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
    s.write_all(&out)
        .map_err(|e| timeout_or(e, HttpError::Silent(left)))?;
    read_response(&mut s, deadline, limit, left)
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

fn read_response(
    s: &mut TcpStream,
    deadline: Instant,
    limit: usize,
    budget: Duration,
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
                if let Some(r) = parse(&buf)?
                    && complete(&r)
                {
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
            Err(e) => return Err(HttpError::Io(e)),
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

/// Whether a Content-Length response has all its body (without one, the end is EOF).
fn complete(r: &Response) -> bool {
    r.header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        .is_some_and(|l| r.body.len() >= l)
}

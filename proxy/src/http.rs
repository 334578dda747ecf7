//! The HTTP/1.1 framing the proxy needs, and no more: a message head read whole (bounded), its
//! headers as written, and a body relayed as its framing says (Content-Length, chunked, until
//! EOF), every byte as it came. Bodies are never buffered except the few the proxy rewrites.

use std::io::{self, BufRead, Read, Write};

/// A head larger than this is refused (dockerd's own limit is 1 MB; the CLI's heads are small).
pub const HEAD_LIMIT: usize = 256 * 1024;

/// A message head: its first line and its header lines, as written.
#[derive(Debug, Clone)]
pub struct Head {
    pub first: String,
    pub headers: Vec<(String, String)>,
}

/// How a body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    /// A response without a length: the body ends when the connection does.
    UntilEof,
}

impl Head {
    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header holds `token` (any case).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The body's framing by RFC 9112 section 6: chunked wins over a length; a request has no body
    /// without either; `None` is a Content-Length that is not one number.
    pub fn framing(&self, request: bool) -> Option<Framing> {
        if self.has_token("transfer-encoding", "chunked") {
            return Some(Framing::Chunked);
        }
        let lengths: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.trim())
            .collect();
        match lengths.as_slice() {
            [] if request => Some(Framing::None),
            [] => Some(Framing::UntilEof),
            [first, rest @ ..] if rest.iter().all(|l| l == first) => {
                first.parse().ok().map(Framing::Length)
            }
            _ => None,
        }
    }

    /// The head as bytes, with `drop` headers left out and `add` added.
    pub fn to_bytes(&self, drop: &[&str], add: &[(&str, String)]) -> Vec<u8> {
        let mut s = String::with_capacity(256);
        s.push_str(&self.first);
        s.push_str("\r\n");
        for (n, v) in &self.headers {
            if drop.iter().any(|d| n.eq_ignore_ascii_case(d)) {
                continue;
            }
            s.push_str(n);
            s.push_str(": ");
            s.push_str(v);
            s.push_str("\r\n");
        }
        for (n, v) in add {
            s.push_str(n);
            s.push_str(": ");
            s.push_str(v);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

/// Why a head could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The connection ended before any byte of a new message: the normal end.
    #[error("closed")]
    Closed,
    #[error("the message head is larger than {HEAD_LIMIT} bytes")]
    TooLarge,
    #[error("not HTTP: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads one message head (up to and including the empty line).
pub fn read_head(r: &mut impl BufRead) -> Result<Head, HeadError> {
    let mut lines: Vec<String> = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = Vec::new();
        let n = r
            .take((HEAD_LIMIT - total + 1) as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return if lines.is_empty() && total == 0 {
                Err(HeadError::Closed)
            } else {
                Err(HeadError::Malformed(
                    "the connection ended inside a message head".into(),
                ))
            };
        }
        total += n;
        if total > HEAD_LIMIT {
            return Err(HeadError::TooLarge);
        }
        if line.last() != Some(&b'\n') {
            return Err(HeadError::Malformed(
                "the connection ended inside a message head".into(),
            ));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let line = String::from_utf8(line)
            .map_err(|_| HeadError::Malformed("a head line is not UTF-8".into()))?;
        if line.is_empty() {
            // Blank lines before a request line are allowed (RFC 9112 section 2.2).
            if lines.is_empty() {
                continue;
            }
            break;
        }
        lines.push(line);
    }
    let mut it = lines.into_iter();
    let first = it.next().unwrap_or_default();
    let mut headers = Vec::new();
    for l in it {
        let Some((n, v)) = l.split_once(':') else {
            return Err(HeadError::Malformed(format!(
                "a header line without ':': {l:?}"
            )));
        };
        if n.is_empty() || n.contains(|c: char| c.is_ascii_whitespace() || c.is_control()) {
            return Err(HeadError::Malformed(format!("a bad header name: {n:?}")));
        }
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    Ok(Head { first, headers })
}

/// The size of the relay buffer: one pipe message at most.
pub const CHUNK: usize = 64 * 1024;

/// Copies `n` bytes, writing each read as it comes (a stream is never held back).
pub fn copy_len(r: &mut impl Read, w: &mut impl Write, mut n: u64) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    while n > 0 {
        let want = (buf.len() as u64).min(n) as usize;
        let got = r.read(&mut buf[..want])?;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        w.write_all(&buf[..got])?;
        w.flush()?;
        n -= got as u64;
    }
    Ok(())
}

/// Copies until EOF, writing each read as it comes; the bytes copied.
pub fn copy_all(r: &mut impl Read, w: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let got = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..got])?;
        w.flush()?;
        total += got as u64;
    }
}

/// Relays a chunked body as it was written (sizes, extensions, trailers), to its last chunk.
pub fn copy_chunked(r: &mut impl BufRead, w: &mut impl Write) -> io::Result<()> {
    loop {
        let line = read_line(r)?;
        let size = chunk_size(&line)?;
        w.write_all(&line)?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let t = read_line(r)?;
                w.write_all(&t)?;
                if t == b"\r\n" || t == b"\n" {
                    w.flush()?;
                    return Ok(());
                }
            }
        }
        copy_len(r, w, size)?;
        let end = read_line(r)?;
        if end != b"\r\n" && end != b"\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a chunk does not end with CRLF",
            ));
        }
        w.write_all(&end)?;
        w.flush()?;
    }
}

/// Reads a chunked body whole, at most `limit` bytes of data.
pub fn read_chunked(r: &mut impl BufRead, limit: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let size = chunk_size(&read_line(r)?)?;
        if size == 0 {
            while !matches!(read_line(r)?.as_slice(), b"\r\n" | b"\n") {}
            return Ok(out);
        }
        if out.len() as u64 + size > limit as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        let start = out.len();
        out.resize(start + size as usize, 0);
        r.read_exact(&mut out[start..])?;
        read_line(r)?;
    }
}

fn read_line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.take(4096).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "a chunk line was cut",
        ));
    }
    Ok(line)
}

fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let text = std::str::from_utf8(line).unwrap_or("");
    let hex = text.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(hex, 16).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a chunk size: {text:?}"),
        )
    })
}

//! `dockvm proxy`: the Docker Engine API served where a Windows docker CLI looks first (the
//! named pipe `\\.\pipe\docker_engine`, or a Unix socket on Linux), every request forwarded to
//! the VM's endpoint (TCP, or mutual TLS with the client files), and the host paths of the
//! requests that carry them translated through the spec's shares (`rewrite.rs`).
//!
//! One client connection is served by two threads: one reads requests and writes them to the
//! VM (rewriting the few that carry host paths, and answering itself a request it refuses), the
//! other writes the VM's answers back in order, each body relayed as its framing says. An
//! upgraded connection (`101 Switching Protocols`: attach, exec, `run -i`, BuildKit's session)
//! becomes two raw copies, each direction closed on its own (half-close), so stdin's end
//! reaches the container while its output still flows back.

pub mod halves;
pub mod http;
#[cfg(windows)]
pub mod pipe;
pub mod rewrite;
pub mod running;
#[cfg(unix)]
pub mod unix;

use dockvm_engine::Endpoint;
use dockvm_spec::Spec;
use halves::{Reader, Writer};
use http::{Framing, HeadError};
use rewrite::Rewrite;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;

pub use dockvm_engine::PROXY_HEADER;

/// A body the proxy reads whole to rewrite is at most this large (a create request is a few KB).
pub const REWRITE_LIMIT: usize = 16 * 1024 * 1024;

/// What the proxy serves: the spec (its shares, the VM's name) and the VM's endpoint.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub spec: Spec,
    pub upstream: Endpoint,
    /// Log each request's method and target as it arrives (`--verbose`).
    pub verbose: bool,
}

/// A line for the proxy's log (stderr): refusals and the VM not answering.
pub(crate) fn log(msg: &str) {
    eprintln!("dockvm proxy: {msg}");
}

/// The wait before a listener's next try after a failure: 50 ms, doubling to 2 s, back to
/// 50 ms after a success. A listener that fails again and again neither spins nor gives up.
#[derive(Debug)]
pub struct Backoff {
    next: std::time::Duration,
}

impl Backoff {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(50);
    const MOST: std::time::Duration = std::time::Duration::from_secs(2);

    /// The wait for this failure; the next one waits twice as long, up to 2 s.
    pub fn wait(&mut self) -> std::time::Duration {
        let now = self.next;
        self.next = (self.next * 2).min(Self::MOST);
        now
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next: Self::FIRST }
    }
}

/// What the request side hands the response side, in the order the answers are due.
enum Pending {
    /// The connection to the VM was opened: its reading half and its socket.
    Upstream(Reader, TcpStream),
    /// A request went to the VM; its answer comes next. `head_only`: a HEAD's answer has no
    /// body; `close`: the client asked to end the connection after it.
    Forwarded { head_only: bool, close: bool },
    /// The proxy's own answer; `close`: then end the connection.
    Answer(Vec<u8>, bool),
}

impl Proxy {
    /// Serves one client connection until both sides are done.
    pub fn serve_connection(&self, client: Reader, client_w: Writer) {
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(move || responses(rx, client_w, self.spec.vm.name.as_str()));
            self.requests(client, tx);
        });
    }

    /// The request side: reads requests, rewrites or refuses those carrying host paths, writes
    /// them to the VM; after an upgrade, copies the client's bytes raw.
    fn requests(&self, client: Reader, tx: mpsc::Sender<Pending>) {
        let mut cr = BufReader::with_capacity(http::CHUNK, client);
        let mut up: Option<Writer> = None;
        // The VM side's socket, ended when the client is gone (see below).
        let mut sock: Option<TcpStream> = None;
        let answer = |status: u16, reason: &str, msg: &str, close: bool| {
            Pending::Answer(rewrite::error_response(status, reason, msg), close)
        };
        loop {
            let head = match http::read_head(&mut cr) {
                Ok(h) => h,
                Err(e @ (HeadError::Closed | HeadError::Io(_))) => {
                    if let HeadError::Io(e) = &e {
                        log(&format!("the client's connection failed: {e}"));
                    }
                    // The client is gone between requests: an answer still streaming (`logs
                    // -f`, `events`, `wait`) is for no one, and the VM's side ends now rather
                    // than when the daemon next writes.
                    if let Some(s) = &sock {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    break;
                }
                Err(e @ HeadError::TooLarge) => {
                    let _ = tx.send(answer(
                        431,
                        "Request Header Fields Too Large",
                        &e.to_string(),
                        true,
                    ));
                    break;
                }
                Err(e @ HeadError::Malformed(_)) => {
                    let _ = tx.send(answer(400, "Bad Request", &e.to_string(), true));
                    break;
                }
            };
            if self.verbose {
                log(&format!("request {}", head.first));
            }
            let mut first = head.first.split(' ');
            let (method, target, version) = (
                first.next().unwrap_or(""),
                first.next().unwrap_or(""),
                first.next().unwrap_or(""),
            );
            let Some(framing) = head
                .framing(true)
                .filter(|_| version.starts_with("HTTP/1."))
            else {
                let msg = format!("dockvm proxy: not an HTTP/1 request: {:?}", head.first);
                let _ = tx.send(answer(400, "Bad Request", &msg, true));
                break;
            };
            let upgrade =
                head.has_token("connection", "upgrade") && head.header("upgrade").is_some();

            // A request carrying host paths is read whole and rewritten, or refused.
            let mut body: Option<(Vec<u8>, bool)> = None;
            if let Some(kind) = rewrite::kind(method, target) {
                let read = match framing {
                    Framing::None | Framing::UntilEof => Ok(Vec::new()),
                    Framing::Length(n) if n as usize > REWRITE_LIMIT => {
                        let _ = tx.send(answer(
                            413,
                            "Payload Too Large",
                            "dockvm proxy: body too large",
                            true,
                        ));
                        break;
                    }
                    Framing::Length(n) => {
                        let mut b = vec![0; n as usize];
                        cr.read_exact(&mut b).map(|()| b)
                    }
                    Framing::Chunked => http::read_chunked(&mut cr, REWRITE_LIMIT),
                };
                let Ok(b) = read else { break };
                body = match rewrite::rewrite(&self.spec, kind, &b) {
                    Rewrite::Unchanged => Some((b, framing == Framing::Chunked)),
                    Rewrite::Changed(nb) => Some((nb, true)),
                    Rewrite::Refused(msg) => {
                        log(&format!("refused {method} {target}: {msg}"));
                        if tx.send(answer(400, "Bad Request", &msg, false)).is_err() {
                            break;
                        }
                        continue;
                    }
                };
            }

            if up.is_none() {
                match halves::connect(&self.upstream) {
                    Ok(u) => {
                        sock = u.socket.try_clone().ok();
                        if tx.send(Pending::Upstream(u.reader, u.socket)).is_err() {
                            break;
                        }
                        up = Some(u.writer);
                    }
                    Err(e) => {
                        let msg = format!(
                            "dockvm proxy: cannot reach the Docker Engine of VM {} at {}: {e}. Is the VM running? `dockvm up` starts it",
                            self.spec.vm.name,
                            self.upstream.url()
                        );
                        log(&msg);
                        // The body is read and dropped, so the connection stays usable.
                        let drained = match (&body, framing) {
                            (Some(_), _) | (None, Framing::None | Framing::UntilEof) => Ok(()),
                            (None, Framing::Length(n)) => {
                                http::copy_len(&mut cr, &mut io::sink(), n)
                            }
                            (None, Framing::Chunked) => {
                                http::copy_chunked(&mut cr, &mut io::sink())
                            }
                        };
                        let close = drained.is_err() || upgrade;
                        if tx.send(answer(502, "Bad Gateway", &msg, close)).is_err() || close {
                            break;
                        }
                        continue;
                    }
                }
            }
            let w = up.as_mut().expect("connected above");
            let close = head.has_token("connection", "close")
                || (version == "HTTP/1.0" && !head.has_token("connection", "keep-alive"));
            let forwarded = Pending::Forwarded {
                head_only: method == "HEAD",
                close,
            };
            if tx.send(forwarded).is_err() {
                break;
            }
            let sent = (|| -> io::Result<()> {
                match &body {
                    Some((b, reframe)) => {
                        let h = if *reframe {
                            head.to_bytes(
                                &["content-length", "transfer-encoding"],
                                &[("Content-Length", b.len().to_string())],
                            )
                        } else {
                            head.to_bytes(&[], &[])
                        };
                        w.write_all(&h)?;
                        w.write_all(b)?;
                    }
                    None => {
                        w.write_all(&head.to_bytes(&[], &[]))?;
                        match framing {
                            Framing::None | Framing::UntilEof => {}
                            Framing::Length(n) => http::copy_len(&mut cr, w, n)?,
                            Framing::Chunked => http::copy_chunked(&mut cr, w)?,
                        }
                    }
                }
                w.flush()
            })();
            if sent.is_err() || close {
                break;
            }
            if upgrade {
                // From here the client's bytes are the stream (stdin); its end is the VM's EOF.
                let _ = http::copy_all(&mut cr, w);
                let _ = w.close_write();
                break;
            }
        }
    }
}

/// Which side failed while a response was relayed.
enum Gone {
    Client,
    Upstream,
}

/// A writer that remembers whether a write failed, to tell the two sides' failures apart.
struct Track<'a> {
    w: &'a mut Writer,
    failed: bool,
}

impl Write for Track<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.w.write(b).inspect_err(|_| self.failed = true)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush().inspect_err(|_| self.failed = true)
    }
}

/// What comes after a relayed response.
enum After {
    Next,
    /// `101`: the connection is now a raw stream.
    Raw,
    /// The body ended with the connection.
    Closed,
}

/// The response side: the VM's answers (and the proxy's own) written to the client in order.
fn responses(rx: mpsc::Receiver<Pending>, mut cw: Writer, vm: &str) {
    let mut up: Option<(BufReader<Reader>, TcpStream)> = None;
    while let Ok(item) = rx.recv() {
        match item {
            Pending::Upstream(r, sock) => {
                up = Some((BufReader::with_capacity(http::CHUNK, r), sock))
            }
            Pending::Answer(bytes, close) => {
                if cw.write_all(&bytes).and_then(|()| cw.flush()).is_err() {
                    break;
                }
                if close {
                    let _ = cw.close_write();
                    break;
                }
            }
            Pending::Forwarded { head_only, close } => {
                let Some((ur, sock)) = up.as_mut() else { break };
                let mut t = Track {
                    w: &mut cw,
                    failed: false,
                };
                let r = relay_response(ur, &mut t, head_only, vm).map(|a| match a {
                    After::Next if close => After::Closed,
                    a => a,
                });
                let gone = |t: &Track| {
                    if t.failed {
                        Gone::Client
                    } else {
                        Gone::Upstream
                    }
                };
                match r {
                    Ok(After::Next) => {}
                    Ok(After::Raw) => {
                        let copied = http::copy_all(ur, &mut t);
                        if copied.is_err() && matches!(gone(&t), Gone::Client) {
                            let _ = sock.shutdown(Shutdown::Both);
                        }
                        let _ = cw.close_write();
                        break;
                    }
                    Ok(After::Closed) => {
                        let _ = cw.close_write();
                        break;
                    }
                    Err(e) => {
                        let side = match gone(&t) {
                            Gone::Client => "writing to the client",
                            Gone::Upstream => "reading the VM's answer",
                        };
                        log(&format!("an answer was cut short, {side}: {e}"));
                        // The client gone: the VM's side is ended too (a `logs -f` must not
                        // stream on for no one). The VM gone: the client sees the end and
                        // opens a new connection.
                        let _ = sock.shutdown(Shutdown::Both);
                        if matches!(gone(&t), Gone::Upstream) {
                            let _ = cw.close_write();
                        }
                        break;
                    }
                }
            }
        }
    }
    if let Some((_, sock)) = &up {
        let _ = sock.shutdown(Shutdown::Both);
    }
}

/// One response from the VM to the client: its head (and any `100 Continue` before it), then
/// its body as framed.
fn relay_response(
    ur: &mut BufReader<Reader>,
    w: &mut Track<'_>,
    head_only: bool,
    vm: &str,
) -> io::Result<After> {
    loop {
        let head = http::read_head(ur).map_err(|e| match e {
            HeadError::Io(e) => e,
            e => io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
        })?;
        let status: u16 = head
            .first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status"))?;
        // A final answer says who relayed it (verify tells the proxy from another server on
        // the pipe by it); an interim one goes as it came.
        let add: &[(&str, String)] = if (100..200).contains(&status) {
            &[]
        } else {
            &[(PROXY_HEADER, vm.to_owned())]
        };
        w.write_all(&head.to_bytes(&[PROXY_HEADER], add))?;
        w.flush()?;
        if status == 101 {
            return Ok(After::Raw);
        }
        if (100..200).contains(&status) {
            continue;
        }
        let next = if head.has_token("connection", "close") {
            After::Closed
        } else {
            After::Next
        };
        if head_only || status == 204 || status == 304 {
            return Ok(next);
        }
        return match head.framing(false) {
            Some(Framing::None) => Ok(next),
            Some(Framing::Length(n)) => http::copy_len(ur, w, n).map(|()| next),
            Some(Framing::Chunked) => http::copy_chunked(ur, w).map(|()| next),
            Some(Framing::UntilEof) => http::copy_all(ur, w).map(|_| After::Closed),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad Content-Length",
            )),
        };
    }
}

#[cfg(test)]
mod tests;

//! dockvm-engine: the Docker Engine API, in one place. [`transport`] speaks HTTP to dockerd over
//! plain TCP or mutual TLS (chosen once, when the [`Endpoint`] is made), with a deadline and a
//! size limit on every read and errors that say what was seen. The typed calls below are the
//! only place an Engine API path is written; each decodes its answer and Docker's error
//! message itself, so a caller reads as a story: `api.stat(&kept, &probe, deadline)?`.
//!
//! The transport is dockvm's own, not hyper's or reqwest's: every read must end at a deadline
//! and a size limit, and every failure must say what came (silence, garbage, an endless
//! answer, a TLS alert), for verify to name the root cause.

pub mod pipe;
pub mod transport;

pub use transport::{Conn, Endpoint, HttpError, Response, Tls, TlsStream, show_bytes, tls_error};

/// The header `dockvm proxy` adds to each final answer, holding the VM's name: how a client
/// tells the proxy from another server on the same pipe (Docker Desktop). [`Response::header`]
/// takes it in lower case.
pub const PROXY_HEADER: &str = "Dockvm-Proxy";

use std::time::Instant;

/// The most a small answer may be (`/version` is about 1 KiB, errors less).
const SMALL: usize = 64 * 1024;
/// The most a container list may be.
const LIST: usize = 4 * 1024 * 1024;

/// A call that did not get what it asked for.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No answer, or not an HTTP one (what the transport saw).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The engine answered with an error status: its status line and Docker's message (the
    /// `message` of its JSON error body, else the body as text).
    #[error("{status_line} {message}")]
    Status {
        status: u16,
        status_line: String,
        message: String,
    },
    /// An answer that should be JSON is not: what it is about, and the parser's complaint.
    #[error("{what}: {error}")]
    NotJson { what: &'static str, error: String },
    /// An archive stat whose `X-Docker-Container-Path-Stat` header cannot be read.
    #[error("the daemon's stat is unreadable: {0}")]
    BadStat(String),
}

/// What the engine says it is: version, API version, OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub version: String,
    pub api_version: String,
    pub os: String,
}

impl Facts {
    /// From `/_ping`'s headers (`Server: Docker/20.10.24 (linux)`, `Api-Version`, `Ostype`),
    /// when all three are there: what `/version` would say, at a tenth of its cost.
    pub fn from_ping(ping: &Response) -> Option<Facts> {
        let server = ping.header("server")?;
        let version = server
            .strip_prefix("Docker/")?
            .split(' ')
            .next()?
            .to_owned();
        let api_version = ping.header("api-version")?.to_owned();
        let os = ping.header("ostype")?.to_owned();
        (!version.is_empty() && !api_version.is_empty() && !os.is_empty()).then_some(Facts {
            version,
            api_version,
            os,
        })
    }
}

/// A path's stat as the daemon sees it inside a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: u64,
}

/// A container that never runs, made only to look through its bind mounts: an image, a
/// label, and each source bound read-only at its target (as `Mounts`, not `Binds`: a missing
/// source is an error, never a folder the daemon creates).
pub struct ProbeContainer<'a> {
    pub image: &'a str,
    pub label: (&'a str, &'a str),
    /// (source in the VM, target in the container).
    pub mounts: &'a [(String, &'a str)],
}

/// A container as the daemon lists it.
#[derive(Debug, Clone)]
pub struct ContainerSummary {
    /// Without the leading `/`.
    pub name: String,
    /// The value of the label the list was filtered by.
    pub label: Option<String>,
    /// Unix seconds, on the daemon's clock.
    pub created: i64,
}

/// The containers carrying a label, and the daemon's clock (its `Date` header) when it said so.
#[derive(Debug)]
pub struct ContainerList {
    pub date: Option<String>,
    pub containers: Vec<ContainerSummary>,
}

/// Whether a DELETE found what it removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Removed,
    /// 404: it was not there.
    Missing,
}

impl Endpoint {
    /// `GET /_ping`, the answer as it came: verify judges what answered there (dockerd, another
    /// HTTP server, a TLS port), so the status, headers and body are all the caller's.
    pub fn ping(&self, deadline: Instant) -> Result<Response, HttpError> {
        transport::request(self, "GET", "/_ping", None, deadline, SMALL)
    }

    /// `GET /version`: the engine's version, API version and OS.
    pub fn version(&self, deadline: Instant) -> Result<Facts, EngineError> {
        let r = ok(transport::request(
            self, "GET", "/version", None, deadline, SMALL,
        )?)?;
        let v: serde_json::Value =
            serde_json::from_slice(&r.body).map_err(|_| EngineError::NotJson {
                what: "GET /version",
                error: format!("not JSON: {}", show_bytes(&r.body)),
            })?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_owned();
        Ok(Facts {
            version: field("Version"),
            api_version: field("ApiVersion"),
            os: field("Os"),
        })
    }

    /// `GET /images/{name}/json`: whether the image is there.
    pub fn image_exists(&self, name: &str, deadline: Instant) -> Result<bool, EngineError> {
        let r = transport::request(
            self,
            "GET",
            &format!("/images/{name}/json"),
            None,
            deadline,
            SMALL,
        )?;
        Ok(r.status == 200)
    }

    /// `POST /images/create?fromSrc=-`: imports an empty tar archive (two zero blocks) as the
    /// image `name:tag`, an image with no files.
    pub fn import_empty(&self, name_tag: &str, deadline: Instant) -> Result<(), EngineError> {
        let empty_tar = [0u8; 1024];
        let (repo, tag) = name_tag.split_once(':').unwrap_or((name_tag, "latest"));
        let r = transport::request(
            self,
            "POST",
            &format!("/images/create?fromSrc=-&repo={repo}&tag={tag}"),
            Some(("application/x-tar", &empty_tar)),
            deadline,
            SMALL,
        )?;
        // The import streams JSON progress; an error arrives as {"errorDetail": ...} with 200.
        if r.status != 200 || r.body_text().contains("\"errorDetail\"") {
            return Err(EngineError::Status {
                status: r.status,
                message: r.body_text().trim().to_owned(),
                status_line: r.status_line,
            });
        }
        Ok(())
    }

    /// `DELETE /images/{name}`.
    pub fn remove_image(&self, name: &str, deadline: Instant) -> Result<Removed, EngineError> {
        removed(transport::request(
            self,
            "DELETE",
            &format!("/images/{name}"),
            None,
            deadline,
            SMALL,
        )?)
    }

    /// `POST /containers/create?name=`: a [`ProbeContainer`] named `name`. A refusal keeps
    /// Docker's message (a missing bind source is "bind source path does not exist: PATH").
    pub fn create_probe(
        &self,
        name: &str,
        probe: &ProbeContainer<'_>,
        deadline: Instant,
    ) -> Result<(), EngineError> {
        let mounts: Vec<_> = probe
            .mounts
            .iter()
            .map(|(source, target)| {
                serde_json::json!({ "Type": "bind", "Source": source, "Target": target, "ReadOnly": true })
            })
            .collect();
        let body = serde_json::json!({
            "Image": probe.image,
            "Cmd": ["/dockvm-probe-never-runs"],
            "Labels": { probe.label.0: probe.label.1 },
            "NetworkDisabled": true,
            "HostConfig": {
                "NetworkMode": "none",
                "Mounts": mounts,
            },
        });
        let body = serde_json::to_vec(&body).expect("JSON");
        let r = transport::request(
            self,
            "POST",
            &format!("/containers/create?name={name}"),
            Some(("application/json", &body)),
            deadline,
            SMALL,
        )?;
        match r.status {
            201 => Ok(()),
            _ => Err(status_error(&r)),
        }
    }

    /// `HEAD /containers/{container}/archive?path=`: the stat of `path` as the daemon sees it
    /// in the container (about 2 ms; a GET starts a helper process, about 55 ms), `None` when
    /// it is not there.
    pub fn stat(
        &self,
        container: &str,
        path: &str,
        deadline: Instant,
    ) -> Result<Option<PathStat>, EngineError> {
        let r = transport::request(
            self,
            "HEAD",
            &format!("/containers/{container}/archive?path={path}"),
            None,
            deadline,
            SMALL,
        )?;
        match r.status {
            200 => path_stat(&r).map(Some).ok_or_else(|| {
                EngineError::BadStat(
                    r.header("x-docker-container-path-stat")
                        .unwrap_or("no stat header")
                        .to_owned(),
                )
            }),
            404 => Ok(None),
            _ => Err(status_error(&r)),
        }
    }

    /// `DELETE /containers/{name}?force=1&v=1`: gone in any state, with its anonymous volumes.
    pub fn remove(&self, name: &str, deadline: Instant) -> Result<Removed, EngineError> {
        removed(transport::request(
            self,
            "DELETE",
            &format!("/containers/{name}?force=1&v=1"),
            None,
            deadline,
            SMALL,
        )?)
    }

    /// `GET /containers/json?all=1&filters=`: every container carrying `label`, and the
    /// daemon's `Date` header.
    pub fn list(&self, label: &str, deadline: Instant) -> Result<ContainerList, EngineError> {
        let filter = format!("{{\"label\":[\"{label}\"]}}");
        let r = ok(transport::request(
            self,
            "GET",
            &format!("/containers/json?all=1&filters={}", percent(&filter)),
            None,
            deadline,
            LIST,
        )?)?;
        let list: Vec<serde_json::Value> =
            serde_json::from_slice(&r.body).map_err(|e| EngineError::NotJson {
                what: "the container list",
                error: e.to_string(),
            })?;
        let containers = list
            .iter()
            .map(|c| ContainerSummary {
                name: c["Names"][0]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches('/')
                    .to_owned(),
                label: c["Labels"][label].as_str().map(str::to_owned),
                created: c["Created"].as_i64().unwrap_or(i64::MAX),
            })
            .collect();
        Ok(ContainerList {
            date: r.header("date").map(str::to_owned),
            containers,
        })
    }
}

/// `GET /_ping` over a connection the caller made (verify's TLS check makes its own
/// handshakes to judge them).
pub fn ping_over<C: Conn>(
    conn: &mut C,
    deadline: Instant,
    budget: std::time::Duration,
) -> Result<Response, HttpError> {
    transport::exchange(conn, "GET", "/_ping", None, deadline, SMALL, budget)
}

/// A 2xx answer, or the engine's error.
fn ok(r: Response) -> Result<Response, EngineError> {
    if (200..300).contains(&r.status) {
        Ok(r)
    } else {
        Err(status_error(&r))
    }
}

fn removed(r: Response) -> Result<Removed, EngineError> {
    match r.status {
        200 | 204 => Ok(Removed::Removed),
        404 => Ok(Removed::Missing),
        _ => Err(status_error(&r)),
    }
}

fn status_error(r: &Response) -> EngineError {
    EngineError::Status {
        status: r.status,
        status_line: r.status_line.clone(),
        message: docker_message(r),
    }
}

/// Docker's error message: the `message` of its JSON body, else the body as text.
fn docker_message(r: &Response) -> String {
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| r.body_text().trim().to_owned())
}

/// Name and size from the daemon's `X-Docker-Container-Path-Stat` header (base64 JSON).
fn path_stat(r: &Response) -> Option<PathStat> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(r.header("x-docker-container-path-stat")?)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    Some(PathStat {
        name: v.get("name")?.as_str()?.to_owned(),
        size: v.get("size")?.as_u64()?,
    })
}

/// Percent-encoding of a query value (everything but unreserved characters).
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;

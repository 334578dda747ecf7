//! Findings: what a check found, as data that every report format renders.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A check's stable id: `vm`, `name`, `port`, `tls`, `docker-api`, `clock`, `env`,
/// `docker-cli`, `profile`, `share:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum CheckId {
    Vm,
    Name,
    Port,
    Tls,
    DockerApi,
    Clock,
    Env,
    Endpoint,
    DockerCli,
    Profile,
    Share(String),
}

impl CheckId {
    /// Parses an id as given to `--only` / `--skip`; `share` alone means every share.
    pub fn matches(&self, pattern: &str) -> bool {
        match self {
            CheckId::Share(_) if pattern == "share" || pattern == "share:*" => true,
            _ => self.to_string() == pattern,
        }
    }

    /// The checks whose failure makes this one meaningless.
    pub fn prerequisites(&self) -> &'static [CheckId] {
        match self {
            CheckId::Tls => &[CheckId::Port],
            // `tls` exists only for a spec with docker.tls; without it, this is `port` alone.
            CheckId::DockerApi => &[CheckId::Port, CheckId::Tls],
            CheckId::Share(_) | CheckId::Clock | CheckId::Endpoint => &[CheckId::DockerApi],
            _ => &[],
        }
    }

    /// The checks that explain this one's failure without gating its success: `vm` (vmrun,
    /// slow) runs beside `port` and is wanted only when the port does not answer; then a VM
    /// that is not running is the one root cause, and the port's failure is skipped for it.
    pub fn explained_by(&self) -> &'static [CheckId] {
        match self {
            CheckId::Port => &[CheckId::Vm],
            _ => &[],
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckId::Vm => f.write_str("vm"),
            CheckId::Name => f.write_str("name"),
            CheckId::Port => f.write_str("port"),
            CheckId::Tls => f.write_str("tls"),
            CheckId::DockerApi => f.write_str("docker-api"),
            CheckId::Clock => f.write_str("clock"),
            CheckId::Env => f.write_str("env"),
            CheckId::Endpoint => f.write_str("endpoint"),
            CheckId::DockerCli => f.write_str("docker-cli"),
            CheckId::Profile => f.write_str("profile"),
            CheckId::Share(n) => write!(f, "share:{n}"),
        }
    }
}

impl From<CheckId> for String {
    fn from(id: CheckId) -> String {
        id.to_string()
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Works, with a risk worth saying (plain TCP, a context that DOCKER_HOST overrides).
    Warn,
    /// Does not apply here, was not selected, or its prerequisite failed.
    Skip,
    /// The setup is broken at this link.
    Fail,
    /// The check could not find out (for example, it could not write its probe file).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Skip => "skip",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }

    /// Whether `--wait` should try this check again.
    pub fn retryable(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

/// One run of one check, as kept in the JSON report's `attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub status: Status,
    pub duration_ms: u64,
    pub reason: String,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: CheckId,
    pub status: Status,
    #[serde(serialize_with = "ms")]
    #[serde(rename = "duration_ms")]
    pub duration: Duration,
    /// What the spec says should be there.
    pub expected: String,
    /// What the check saw.
    pub actual: String,
    /// One line: what is wrong (or right), said as the root cause.
    pub reason: String,
    /// How to mend it; empty on a pass.
    pub hint: String,
    /// Every run of the check (more than one with `--wait`).
    pub attempts: Vec<Attempt>,
    /// What the check measured, as values (the engine's version, the clock's skew, the days a
    /// certificate has left), for `dockvm status` and scripts; absent from JSON when empty.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Finding {
    pub fn new(id: CheckId, status: Status, reason: impl Into<String>) -> Finding {
        Finding {
            id,
            status,
            duration: Duration::ZERO,
            expected: String::new(),
            actual: String::new(),
            reason: reason.into(),
            hint: String::new(),
            attempts: Vec::new(),
            facts: serde_json::Map::new(),
        }
    }

    /// A measured value (see [`Finding::facts`]).
    pub fn fact(mut self, name: &str, value: impl Into<serde_json::Value>) -> Finding {
        self.facts.insert(name.to_owned(), value.into());
        self
    }

    pub fn expected(mut self, e: impl Into<String>) -> Finding {
        self.expected = e.into();
        self
    }

    pub fn actual(mut self, a: impl Into<String>) -> Finding {
        self.actual = a.into();
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Finding {
        self.hint = h.into();
        self
    }
}

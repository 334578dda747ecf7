//! dockvm-control: the daily loop. `up` brings the setup from any state to a passing verify in
//! named stages (power, address, engine, shares, verify), each with its deadline and what it
//! did; `down` powers the VM off; `status` says what is true now, derived each time and never
//! stored.
//!
//! It drives VMware only through the vmrun driver (`dockvm-vmware`) and judges only through
//! verify (`dockvm-verify`): the engine answering is the proof that the VM runs, so a healthy
//! `up` or `status` makes no vmrun call; vmrun is asked when something is missing.

mod down;
pub mod last_up;
mod proxy;
mod status;
mod up;

pub use down::{DownOptions, down};
pub use last_up::LastUp;
pub use proxy::ProxyLaunch;
pub use status::{Status, status};
pub use up::{UpOptions, up};

use dockvm_verify::{Finding, Status as CheckStatus};
use serde::Serialize;

/// The root cause among verify's findings: the first failure (findings come in dependency
/// order; a skip "needs ..." is not one), as `"<id>: <reason>"` with its hint.
pub(crate) fn root_cause(findings: &[Finding]) -> Option<(String, String)> {
    findings
        .iter()
        .find(|f| matches!(f.status, CheckStatus::Fail | CheckStatus::Error))
        .map(|f| (format!("{}: {}", f.id, f.reason), f.hint.clone()))
}

/// A stage of `up` (and `down`'s one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The VM powered on (`vmrun start`), or found running.
    Power,
    /// The guest's address, as the guest or VMware Tools report it.
    Address,
    /// The Docker API answering `/_ping` (over TLS with `docker.tls`).
    Engine,
    /// The share canary; shared folders enabled again when it fails.
    Shares,
    /// `dockvm proxy` on Docker's named pipe (Windows, `windows.endpoint = "pipe"`): found
    /// running for this VM, or started in the background; `down` stops it.
    Proxy,
    /// The whole verify.
    Verify,
    /// `down`: the VM powered off.
    Stop,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Power => "power",
            Stage::Address => "address",
            Stage::Engine => "engine",
            Stage::Shares => "shares",
            Stage::Proxy => "proxy",
            Stage::Verify => "verify",
            Stage::Stop => "stop",
        }
    }
}

/// Where a stage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Started, with what it is doing (an event; a stage ends in one of the others).
    Running,
    /// Done, or nothing to do.
    Ok,
    /// It failed: `up` stops here.
    Fail,
}

/// What a stage did, as it happens: `up --format json` prints one a line.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub stage: Stage,
    pub state: State,
    /// Since the command began.
    pub elapsed_ms: u64,
    /// What it is doing, or what it found (a fail: the root cause).
    pub detail: String,
    /// With a fail: how to mend it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

/// How a command ended.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Each stage's last event, in order.
    pub stages: Vec<Event>,
    /// The stage that failed, if one did.
    pub failed: Option<Stage>,
    /// A note for the user, beside the result (`down`: docker in this terminal points at the
    /// VM that is now off).
    pub notes: Vec<String>,
}

impl Ended {
    /// 0 done, 1 a stage failed.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed.is_some())
    }
}

/// Emits events and keeps each stage's last one.
struct Log<'a> {
    start: std::time::Instant,
    emit: &'a dyn Fn(&Event),
    stages: Vec<Event>,
}

impl<'a> Log<'a> {
    fn new(emit: &'a dyn Fn(&Event)) -> Log<'a> {
        Log {
            start: std::time::Instant::now(),
            emit,
            stages: Vec::new(),
        }
    }

    fn event(&mut self, stage: Stage, state: State, detail: impl Into<String>, hint: &str) {
        let e = Event {
            stage,
            state,
            elapsed_ms: self.start.elapsed().as_millis() as u64,
            detail: detail.into(),
            hint: hint.to_owned(),
        };
        (self.emit)(&e);
        self.stages.retain(|s| s.stage != stage);
        self.stages.push(e);
    }

    fn running(&mut self, stage: Stage, detail: impl Into<String>) {
        self.event(stage, State::Running, detail, "");
    }

    fn ok(&mut self, stage: Stage, detail: impl Into<String>) {
        self.event(stage, State::Ok, detail, "");
    }

    fn fail(mut self, stage: Stage, detail: impl Into<String>, hint: &str) -> Ended {
        self.event(stage, State::Fail, detail, hint);
        Ended {
            stages: self.stages,
            failed: Some(stage),
            notes: Vec::new(),
        }
    }

    fn done(self) -> Ended {
        Ended {
            stages: self.stages,
            failed: None,
            notes: Vec::new(),
        }
    }
}

/// One line of `up`'s or `down`'s human output for an event.
pub fn human_line(e: &Event) -> String {
    let mark = match e.state {
        State::Running => "..",
        State::Ok => "ok",
        State::Fail => "FAIL",
    };
    let mut line = format!(
        "{:<8} {:<4} {:>6}  {}",
        e.stage.name(),
        mark,
        format!("{:.1} s", e.elapsed_ms as f64 / 1000.0),
        e.detail
    );
    if !e.hint.is_empty() {
        line.push_str(&format!("\n{:21}hint: {}", "", e.hint));
    }
    line
}

//! The last `up`'s outcome, kept beside its log (`last-up.json` in dockvm's folder for the VM),
//! so that a sign-in `up` that failed with no console to say it in leaves a trace `status`
//! shows: when it ended, the stage that failed, its root cause and hint, and the log's path.
//! This is a record of the past, not a state: `status` still derives everything else anew.

use crate::{Ended, State};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The record's file name, in the folder of `up.log`.
pub const FILE: &str = "last-up.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastUp {
    /// When it ended, RFC 3339 in UTC.
    pub at: String,
    /// The same moment in seconds since the Unix epoch (for "how long ago").
    pub unix: u64,
    /// Whether it brought the setup up.
    pub ok: bool,
    /// The stage that failed, its root cause and hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_stage: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub detail: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub hint: String,
    /// Where its stages were logged (`--log`), if they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl LastUp {
    /// The record of a run that ended as `ended`.
    pub fn of(ended: &Ended, at: String, unix: u64, log: Option<String>) -> LastUp {
        let failed = ended.stages.iter().rev().find(|e| e.state == State::Fail);
        LastUp {
            at,
            unix,
            ok: ended.failed.is_none(),
            failed_stage: ended.failed.map(|s| s.name().to_owned()),
            detail: failed.map(|e| e.detail.clone()).unwrap_or_default(),
            hint: failed.map(|e| e.hint.clone()).unwrap_or_default(),
            log,
        }
    }

    /// Written whole (a temporary file renamed over the old one), so a reader never sees a
    /// part.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{FILE}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).expect("serializes"))?;
        std::fs::rename(&tmp, dir.join(FILE))
    }

    /// The record in `dir`, if there is a readable one.
    pub fn read(dir: &Path) -> Option<LastUp> {
        serde_json::from_slice(&std::fs::read(dir.join(FILE)).ok()?).ok()
    }

    /// One line for `status`: `now` in seconds since the epoch says how long ago.
    pub fn line(&self, now: u64) -> String {
        let ago = now.saturating_sub(self.unix);
        let ago = match ago {
            0..=119 => format!("{ago} s ago"),
            120..=7199 => format!("{} min ago", ago / 60),
            _ => format!("{} h ago", ago / 3600),
        };
        let mut line = match &self.failed_stage {
            None => format!("{} ({ago}): done", self.at),
            Some(stage) => format!("{} ({ago}): failed at {stage}: {}", self.at, self.detail),
        };
        if !self.ok && !self.hint.is_empty() {
            line.push_str(&format!("; hint: {}", self.hint));
        }
        if let Some(log) = &self.log {
            line.push_str(&format!("; its log: {log}"));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Stage};

    fn ended(fail: bool) -> Ended {
        let ev = |stage, state, detail: &str, hint: &str| Event {
            stage,
            state,
            elapsed_ms: 10,
            detail: detail.into(),
            hint: hint.into(),
        };
        let mut stages = vec![ev(Stage::Power, State::Ok, "running", "")];
        if fail {
            stages.push(ev(
                Stage::Engine,
                State::Fail,
                "192.168.130.2:2375 refuses connections",
                "start docker in the VM",
            ));
        }
        Ended {
            stages,
            failed: fail.then_some(Stage::Engine),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_failed_up_is_read_back_with_its_stage_cause_hint_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let r = LastUp::of(
            &ended(true),
            "2026-12-08T03:20:00Z".into(),
            1_000,
            Some(r"C:\Users\李雷\AppData\Local\dockvm\dev\up.log".into()),
        );
        r.write(dir.path()).unwrap();
        let back = LastUp::read(dir.path()).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            back.line(1_000 + 300),
            r"2026-12-08T03:20:00Z (5 min ago): failed at engine: 192.168.130.2:2375 refuses connections; hint: start docker in the VM; its log: C:\Users\李雷\AppData\Local\dockvm\dev\up.log"
        );
    }

    #[test]
    fn a_good_up_says_done_and_a_missing_or_torn_record_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(LastUp::read(dir.path()), None);
        std::fs::write(dir.path().join(FILE), b"{\"at\":").unwrap();
        assert_eq!(LastUp::read(dir.path()), None);
        let r = LastUp::of(&ended(false), "2026-12-08T03:20:00Z".into(), 1_000, None);
        r.write(dir.path()).unwrap();
        assert_eq!(
            LastUp::read(dir.path()).unwrap().line(1_010),
            "2026-12-08T03:20:00Z (10 s ago): done"
        );
    }
}

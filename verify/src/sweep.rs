//! Leftovers of runs that could not clean up (a SIGKILL, a power cut): at the start of each
//! run, probe files in the shares and fresh probe containers (label `dockvm.probe`, not the kept
//! ones) older than a threshold (10 minutes) are removed and counted. A younger one is never
//! touched: another verify may be running. The age of a container is taken on the daemon's
//! clock (its `Date` header against the container's `Created`), so a VM clock that differs from
//! this machine's does not matter.

use crate::checks::share::{KEPT, PROBE_LABEL, PROBE_PREFIX};
use crate::cleanup::Registry;
use camino::Utf8Path;
use dockvm_engine::{Endpoint, EngineError, Removed};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The default age above which a probe file or container is another run's leftover.
pub const DEFAULT_AGE: Duration = Duration::from_secs(600);

/// What a run removed of earlier runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    pub containers: u64,
    pub files: u64,
}

/// One run's sweep: the threshold, and what it removed.
#[derive(Debug)]
pub struct Sweep {
    age: Duration,
    files: AtomicU64,
    containers: AtomicU64,
    claimed: AtomicBool,
}

impl Sweep {
    pub fn new(age: Duration) -> Sweep {
        Sweep {
            age,
            files: AtomicU64::new(0),
            containers: AtomicU64::new(0),
            claimed: AtomicBool::new(false),
        }
    }

    /// True for the first caller only: the containers are swept once per run.
    pub fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::SeqCst)
    }

    /// Removes probe files in `dir` older than the threshold, except `own`.
    pub fn files(&self, dir: &Utf8Path, own: &str) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let prefix = format!(".{PROBE_PREFIX}");
        let now = SystemTime::now();
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(&prefix) || name == own {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= self.age);
            if old && std::fs::remove_file(e.path()).is_ok() {
                self.files.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Removes fresh probe containers older than the threshold that this run does not hold.
    pub fn containers(&self, api: &Endpoint, registry: &Registry, deadline: Instant) {
        let Ok(probes) = list(api, deadline) else {
            return;
        };
        let Some(now) = probes.now else { return };
        for Probe {
            name,
            kept,
            created,
        } in probes.containers
        {
            let old = now.saturating_sub(created) >= self.age.as_secs() as i64;
            if kept || !old || registry.holds_container(&name) {
                continue;
            }
            if let Ok(Removed::Removed) = api.remove(&name, deadline) {
                self.containers.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn removed(&self) -> Leftovers {
        Leftovers {
            containers: self.containers.load(Ordering::Relaxed),
            files: self.files.load(Ordering::Relaxed),
        }
    }
}

/// A probe container, as the daemon lists it.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    /// One of the kept ones (label `dockvm.probe=kept`).
    pub kept: bool,
    /// Unix seconds, on the daemon's clock.
    pub created: i64,
}

/// The daemon's probe containers (label `dockvm.probe`, a `dockvm-probe-` name), and its
/// clock (the `Date` header) when it said it.
pub struct Probes {
    pub now: Option<i64>,
    pub containers: Vec<Probe>,
}

/// Lists the probe containers, or says why it could not.
pub fn list(api: &Endpoint, deadline: Instant) -> Result<Probes, String> {
    let list = api.list(PROBE_LABEL, deadline).map_err(|e| match e {
        EngineError::Status { status_line, .. } => format!("listing containers gave {status_line}"),
        e => e.to_string(),
    })?;
    let containers = list
        .containers
        .into_iter()
        .map(|c| Probe {
            kept: c.label.as_deref() == Some(KEPT),
            name: c.name,
            created: c.created,
        })
        .filter(|p| p.name.starts_with(PROBE_PREFIX))
        .collect();
    Ok(Probes {
        now: list.date.as_deref().and_then(http_date),
        containers,
    })
}

/// An HTTP date (`Sat, 28 Nov 2026 12:10:00 GMT`, RFC 9110's IMF-fixdate) as Unix seconds.
pub fn http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| *x == month)? as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, sec] = hms[..] else { return None };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_unix_seconds() {
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Sat, 28 Nov 2026 12:10:05 GMT"),
            Some(1_795_867_805)
        );
        assert_eq!(
            http_date("Tue, 29 Feb 2000 23:59:59 GMT"),
            Some(951_868_799)
        );
        for bad in [
            "",
            "Sat, 28 Nov 2026 12:10:05 UTC",
            "Sat, 28 Foo 2026 12:10:05 GMT",
            "Sat, 28 Nov 2026 12:10 GMT",
        ] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_old_probe_files_but_our_own_go() {
        let t = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(t.path()).unwrap();
        for n in [
            ".dockvm-probe-old",
            ".dockvm-probe-own",
            "keep.txt",
            ".dockvm-probex",
        ] {
            std::fs::write(dir.join(n), "x").unwrap();
        }
        let young = Sweep::new(Duration::from_secs(600));
        young.files(dir, ".dockvm-probe-own");
        assert_eq!(young.removed().files, 0, "nothing is 10 minutes old");
        let now = Sweep::new(Duration::ZERO);
        now.files(dir, ".dockvm-probe-own");
        assert_eq!(
            now.removed(),
            Leftovers {
                containers: 0,
                files: 1
            }
        );
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".dockvm-probe-own", ".dockvm-probex", "keep.txt"]);
    }
}

//! `clock`: the VM's clock against this machine's. dockerd's answers carry an HTTP `Date`
//! header (its clock, whole seconds); a VM resumed after the laptop slept keeps the time it
//! slept at until something sets it, and then TLS certificates look not yet valid or expired,
//! and builds see files from the future. Warn over 2 s, fail over 60 s. The `/_ping` judged is
//! the one `docker-api` made (no request of its own, unless that check did not run).
//!
//! The header's second is truncated and the request takes time, so the skew is known only
//! within an interval: `[date - t1, date + 1 s - t0]` for a request sent at `t0` and answered
//! at `t1` (local clock). The check judges the smallest skew in it, so a round trip or the
//! truncation never makes a warning.

use super::{Ctx, human};
use crate::finding::{CheckId, Finding, Status};
use std::time::{Duration, Instant, SystemTime};

/// Over this, a warning.
pub const WARN_OVER: Duration = Duration::from_secs(2);
/// Over this, a failure.
pub const FAIL_OVER: Duration = Duration::from_secs(60);

/// A `/_ping` as `docker-api` made it: sent and answered by this clock, and its `Date`.
#[derive(Debug, Clone)]
pub struct Pinged {
    pub sent: SystemTime,
    pub answered: SystemTime,
    pub date: Option<String>,
}

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let expected = format!("the VM's clock within {} of this one", human(WARN_OVER));
    let unknown =
        |why: String| Finding::new(CheckId::Clock, Status::Skip, why).expected(expected.clone());
    // docker-api's ping when it ran (it is the prerequisite), else a ping of its own.
    let pinged = match ctx.pinged.get() {
        Some(p) => p.clone(),
        None => {
            let api = match ctx.endpoint(CheckId::Clock) {
                Ok(a) => a,
                Err(f) => return *f,
            };
            let sent = SystemTime::now();
            match api.ping(Instant::now() + ctx.timeout) {
                Ok(p) => Pinged {
                    sent,
                    answered: SystemTime::now(),
                    date: p.header("date").map(str::to_owned),
                },
                Err(e) => return unknown(format!("cannot ask the engine for its time: {e}")),
            }
        }
    };
    let Some(date) = pinged.date.as_deref() else {
        return unknown("the engine's answer has no Date header".into());
    };
    let Ok(server) = httpdate::parse_http_date(date) else {
        return unknown(format!(
            "the engine's Date header {date:?} is not an HTTP date"
        ));
    };
    let skew = skew(server, pinged.sent, pinged.answered);
    verdict(skew, date)
        .expected(expected)
        .fact("skew_s", (skew * 10.0).round() / 10.0)
}

/// The smallest skew (the VM's clock minus this one, in seconds) consistent with a `Date` of
/// `server` (truncated to its second) for a request sent at `t0` and answered at `t1`.
pub fn skew(server: SystemTime, t0: SystemTime, t1: SystemTime) -> f64 {
    let secs = |t: SystemTime| match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    let (s, t0, t1) = (secs(server), secs(t0), secs(t1));
    let low = s - t1;
    let high = s + 1.0 - t0;
    if low > 0.0 {
        low
    } else if high < 0.0 {
        high
    } else {
        0.0
    }
}

/// The finding for a skew (seconds, the VM ahead when positive).
pub fn verdict(skew: f64, date: &str) -> Finding {
    let abs = Duration::from_secs_f64(skew.abs());
    let way = if skew > 0.0 { "ahead of" } else { "behind" };
    let actual = format!("Date: {date}; {:.1} s {way} this machine", skew.abs());
    let status = if abs > FAIL_OVER {
        Status::Fail
    } else if abs > WARN_OVER {
        Status::Warn
    } else {
        return Finding::new(
            CheckId::Clock,
            Status::Pass,
            format!(
                "the VM's clock agrees with this one (within {})",
                human(WARN_OVER)
            ),
        )
        .actual(actual);
    };
    Finding::new(
        CheckId::Clock,
        status,
        format!(
            "the VM's clock is {} {way} this machine's: TLS certificates can look not yet valid or expired, and builds see wrong file times",
            human(abs)
        ),
    )
    .actual(actual)
    .hint(
        "in the VM: VMware Tools' time sync (`vmware-toolbox-cmd timesync enable`; open-vm-tools sets the clock after a resume), or `sudo hwclock --hctosys` after a resume, or systemd-timesyncd (`timedatectl set-ntp true`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: f64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(1_800_000_000.0 + secs)
    }

    #[test]
    fn the_skew_is_the_smallest_the_header_and_the_round_trip_allow() {
        // (server's truncated second, sent, answered) -> skew
        for (s, t0, t1, want) in [
            (0.0, 0.2, 0.4, 0.0),   // the same second: no skew
            (0.0, 0.9, 1.3, 0.0),   // the answer's second began before it came
            (5.0, 0.2, 0.4, 4.6),   // 5 s ahead, at least 4.6
            (-3.0, 0.2, 0.4, -2.2), // behind: -3 + 1 - 0.2
            (90.0, 0.0, 0.1, 89.9),
            (0.0, 0.0, 3.0, 0.0), // a slow answer is not skew
        ] {
            let got = skew(at(s), at(t0), at(t1));
            assert!((got - want).abs() < 1e-6, "{s} {t0} {t1}: {got} != {want}");
        }
    }

    #[test]
    fn over_2_s_warns_and_over_60_s_fails() {
        for (skew, want) in [
            (0.0, Status::Pass),
            (1.9, Status::Pass),
            (-2.0, Status::Pass),
            (2.5, Status::Warn),
            (-59.0, Status::Warn),
            (61.0, Status::Fail),
            (-3600.0, Status::Fail),
        ] {
            let f = verdict(skew, "Wed, 02 Dec 2026 12:00:00 GMT");
            assert_eq!(f.status, want, "{skew}");
            if want != Status::Pass {
                assert!(f.hint.contains("hwclock --hctosys"), "{}", f.hint);
                let way = if skew > 0.0 { "ahead" } else { "behind" };
                assert!(f.reason.contains(way), "{}", f.reason);
            }
        }
    }
}

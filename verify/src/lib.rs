//! dockvm verify: checks a live setup against the spec.
//!
//! Each check ([`checks`]) has a stable id, prerequisites and a deadline, and returns a
//! [`Finding`] (data, not an error): pass, warn, fail, skip or error, with expected and actual
//! values, the reason and a hint. [`run`] runs independent checks concurrently, gates
//! dependents on their prerequisites ("needs `<id>`"), and with `wait` re-runs only what still
//! fails. [`report`] renders the findings as a human table, JSON or JUnit. The share canary
//! cleans up its file and container on every path, including an interrupt ([`cleanup`]).

pub mod checks;
pub mod clean;
pub mod cleanup;
pub mod finding;
pub mod report;
pub mod runner;
pub mod sweep;

pub use finding::{Attempt, CheckId, Finding, Status};
pub use runner::{Options, Outcome, Selection, run};

/// Parses a duration like `2s`, `500ms`, `1.5s`, `1m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 2s, 500ms or 1m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; expected ms, s or m")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{s:?}: expected a duration above 0 and at most a day"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        for bad in ["", "s", "0s", "-1s", "2h", "1e9s", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}

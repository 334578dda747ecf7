//! The daily loop's tests (`lab_up.rs` from WSL, `up_windows.rs` under Wine): the vmrun calls a
//! stand-in recorded, and the stages `up` reported.

use std::path::Path;

/// The calls recorded in `calls` (in a vmrun stand-in's folder) since the last time, each as
/// its command word; the record is emptied.
pub fn take_calls(vmrun_dir: impl AsRef<Path>) -> Vec<String> {
    let path = vmrun_dir.as_ref().join("calls");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    text.lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
        .collect()
}

/// Each stage's last state in `up`'s (or `down`'s) JSON events, in order; notes and running
/// events left out.
pub fn final_states(events: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.get("stage").is_some() && e["state"] != "running")
    {
        let stage = e["stage"].as_str().unwrap_or("").to_owned();
        out.retain(|(s, _)| *s != stage);
        out.push((stage, e["state"].as_str().unwrap_or("").to_owned()));
    }
    out
}

/// Whether every stage of `up` ended ok, in order.
pub fn all_ok(events: &[serde_json::Value]) -> bool {
    final_states(events)
        == ["power", "address", "engine", "shares", "verify"]
            .iter()
            .map(|s| ((*s).to_owned(), "ok".to_owned()))
            .collect::<Vec<_>>()
}

//! Reports: the same findings as a human table, one JSON document, or JUnit XML.

use crate::finding::{Finding, Status};
use crate::runner::Outcome;
use serde::Serialize;
use std::fmt::Write as _;

/// JSON report format version; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

fn counts(findings: &[Finding]) -> [(Status, usize); 5] {
    [
        Status::Pass,
        Status::Warn,
        Status::Fail,
        Status::Error,
        Status::Skip,
    ]
    .map(|s| (s, findings.iter().filter(|f| f.status == s).count()))
}

fn summary(o: &Outcome) -> String {
    let words = ["passed", "warned", "failed", "errored", "skipped"];
    let parts: Vec<String> = counts(&o.findings)
        .iter()
        .zip(words)
        .filter(|((_, n), _)| *n > 0)
        .map(|((_, n), w)| format!("{n} {w}"))
        .collect();
    format!("{} in {:.2} s", parts.join(", "), o.duration.as_secs_f64())
}

/// A table of status, check and detail, in spec order, with the hint under each problem.
pub fn human(vm: &str, o: &Outcome) -> String {
    let width = o
        .findings
        .iter()
        .map(|f| f.id.to_string().len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "dockvm verify: VM {vm}\n{:<6}  {:<width$}  DETAIL\n",
        "STATUS", "CHECK"
    );
    for f in &o.findings {
        let _ = writeln!(
            out,
            "{:<6}  {:<width$}  {}",
            f.status.as_str(),
            f.id.to_string(),
            f.reason
        );
        if matches!(f.status, Status::Fail | Status::Error | Status::Warn) && !f.hint.is_empty() {
            let _ = writeln!(out, "{:<6}  {:<width$}  hint: {}", "", "", f.hint);
        }
        if f.attempts.len() > 1 {
            let _ = writeln!(
                out,
                "{:<6}  {:<width$}  ({} attempts)",
                "",
                "",
                f.attempts.len()
            );
        }
    }
    let l = o.leftovers;
    if l.containers + l.files > 0 {
        let _ = writeln!(
            out,
            "removed what earlier runs left (killed before they could clean up): {} probe container(s), {} probe file(s)",
            l.containers, l.files
        );
    }
    let _ = writeln!(out, "{}", summary(o));
    out
}

/// One JSON document: schema version, overall status, and per check its id, status,
/// duration, expected, actual, reason, hint and attempts.
pub fn json(vm: &str, spec_label: &str, o: &Outcome) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        schema_version: u32,
        vm: &'a str,
        spec: &'a str,
        status: &'static str,
        exit_code: u8,
        duration_ms: u64,
        /// Probe containers and files of earlier, killed runs that this run removed.
        leftovers_removed: crate::sweep::Leftovers,
        checks: &'a [Finding],
    }
    let status = match o.exit_code() {
        0 => "pass",
        1 => "fail",
        _ => "error",
    };
    let doc = Doc {
        schema_version: SCHEMA_VERSION,
        vm,
        spec: spec_label,
        status,
        exit_code: o.exit_code(),
        duration_ms: o.duration.as_millis() as u64,
        leftovers_removed: o.leftovers,
        checks: &o.findings,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("the report serializes");
    s.push('\n');
    s
}

/// JUnit XML: one test case per check, the suite named after the VM.
pub fn junit(vm: &str, o: &Outcome) -> String {
    let c = counts(&o.findings);
    let n = |s: Status| c.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n);
    let secs = |d: std::time::Duration| format!("{:.3}", d.as_secs_f64());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"dockvm verify\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        o.findings.len(),
        n(Status::Fail),
        n(Status::Error),
        n(Status::Skip),
        secs(o.duration)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        xml(vm),
        o.findings.len(),
        n(Status::Fail),
        n(Status::Error),
        n(Status::Skip),
        secs(o.duration)
    );
    for f in &o.findings {
        testcase(&mut out, vm, f);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// One check as a JUnit `<testcase>`: a failure, an error, a skip, or a warning on stdout.
fn testcase(out: &mut String, vm: &str, f: &Finding) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"dockvm.{}\" time=\"{:.3}\"",
        xml(&f.id.to_string()),
        xml(vm),
        f.duration.as_secs_f64()
    );
    let detail = format!(
        "expected: {}\nactual: {}\nhint: {}",
        f.expected, f.actual, f.hint
    );
    match f.status {
        Status::Pass => out.push_str("/>\n"),
        Status::Warn => {
            let _ = writeln!(
                out,
                ">\n      <system-out>warning: {}</system-out>\n    </testcase>",
                xml(&f.reason)
            );
        }
        Status::Skip => {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                xml(&f.reason)
            );
        }
        Status::Fail => {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"fail\">{}</failure>\n    </testcase>",
                xml(&f.reason),
                xml(&detail)
            );
        }
        Status::Error => {
            let _ = writeln!(
                out,
                ">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                xml(&f.reason),
                xml(&detail)
            );
        }
    }
}

/// Text for XML attributes and content: the five entities, and no control character that
/// XML 1.0 forbids.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

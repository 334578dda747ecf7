//! The three report formats of `dockvm verify`, as snapshots of fixed findings (durations
//! fixed, so the snapshots are stable), plus the properties parsers rely on.

use dockvm_verify::report;
use dockvm_verify::{Attempt, CheckId, Finding, Outcome, Status};
use std::time::Duration;

fn outcome() -> Outcome {
    let f = |id, status, reason: &str, expected: &str, actual: &str, hint: &str, ms: u64| Finding {
        id,
        status,
        duration: Duration::from_millis(ms),
        expected: expected.into(),
        actual: actual.into(),
        reason: reason.into(),
        hint: hint.into(),
        attempts: vec![Attempt {
            status,
            duration_ms: ms,
            reason: reason.into(),
        }],
        facts: Default::default(),
    };
    let mut port = f(
        CheckId::Port,
        Status::Pass,
        "192.168.130.2:2375 accepts TCP connections",
        "a TCP listener at 192.168.130.2:2375",
        "connected",
        "",
        1,
    );
    port.attempts.insert(
        0,
        Attempt {
            status: Status::Fail,
            duration_ms: 2000,
            reason: "connection to 192.168.130.2:2375 timed out after 2 s: no answer at all".into(),
        },
    );
    Outcome {
        findings: vec![
            f(
                CheckId::Name,
                Status::Pass,
                "local.test resolves to 192.168.130.2",
                "local.test -> 192.168.130.2",
                "192.168.130.2 (/etc/hosts line 3: 192.168.130.2)",
                "",
                2,
            ),
            port,
            f(
                CheckId::DockerApi,
                Status::Warn,
                "Docker Engine 27.3.1, API 1.47, linux answers at 192.168.130.2:2375, over plain TCP without TLS: anyone who can reach 192.168.130.2:2375 controls dockerd, which is root in the VM",
                "the Docker Engine API of a Linux engine at http://192.168.130.2:2375",
                "Docker Engine 27.3.1, API 1.47, linux",
                "keep the VM on a host-only or NAT VMware network that only this PC reaches",
                3,
            ),
            f(
                CheckId::Env,
                Status::Fail,
                "DOCKER_HOST is \"tcp://local.test:2375\\r\", with a <CR> & more",
                "DOCKER_HOST=tcp://local.test:2375",
                "\"tcp://local.test:2375\\r\"",
                "convert ~/.profile to LF",
                0,
            ),
            f(
                CheckId::Profile,
                Status::Skip,
                "not on WSL, and /home/u/.profile does not exist here",
                "",
                "",
                "",
                0,
            ),
            f(
                CheckId::Share("d".into()),
                Status::Error,
                "cannot write the probe file /mnt/d/.dockvm-probe-x: Read-only file system (os error 30)",
                "D:\\ is the same folder at /mnt/d in WSL and in the VM",
                "Read-only file system (os error 30)",
                "give it write access",
                1,
            ),
            f(
                CheckId::Share("e".into()),
                Status::Skip,
                "needs docker-api",
                "",
                "",
                "",
                0,
            ),
        ],
        duration: Duration::from_millis(2104),
        leftovers: dockvm_verify::sweep::Leftovers {
            containers: 1,
            files: 2,
        },
    }
}

#[test]
fn human_report() {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("verify-report-human", report::human("dev", &outcome()));
    });
}

#[test]
fn json_report() {
    let text = report::json("dev", "dockvm.toml", &outcome());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The number itself, as README documents it: a change of the schema is a change here.
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["checks"][1]["attempts"].as_array().unwrap().len(), 2);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("verify-report-json", text);
    });
}

#[test]
fn junit_report() {
    let text = report::junit("dev", &outcome());
    // One testcase per check; the counts add up; the special characters are escaped.
    assert_eq!(text.matches("<testcase ").count(), 7);
    assert!(text.contains("tests=\"7\" failures=\"1\" errors=\"1\" skipped=\"2\""));
    assert!(text.contains("&lt;CR&gt; &amp; more") && !text.contains("<CR>"));
    // A real XML parser reads it, and finds the same counts.
    let mut py = std::process::Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.stdin).getroot(); print(len(list(r.iter('testcase'))), len(list(r.iter('failure'))), len(list(r.iter('skipped'))))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(py.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "7 1 2\n");
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("verify-report-junit", text);
    });
}

#[test]
fn exit_codes_follow_the_worst_status() {
    let mut o = outcome();
    assert_eq!(o.exit_code(), 1);
    o.findings.retain(|f| f.status != Status::Fail);
    assert_eq!(
        o.exit_code(),
        3,
        "an error and no failure: could not evaluate"
    );
    o.findings.retain(|f| f.status != Status::Error);
    assert_eq!(o.exit_code(), 0, "warnings and skips pass");
}

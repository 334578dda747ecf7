//! The table of bad specs (`tests/bad-specs/*.toml`, each saying on its second line which
//! keys at which lines must be reported): every one exits 2, names file, line and key,
//! says what would be valid, and writes nothing.

mod support;

use std::fs;
use support::*;

#[test]
fn every_bad_spec_exits_2_names_file_line_and_key_and_writes_nothing() {
    let mut cases = 0;
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::glob!("bad-specs/*.toml", |path| {
            cases += 1;
            let rel = path.strip_prefix(std::env::current_dir().unwrap()).unwrap().to_str().unwrap().to_owned();
            let text = fs::read_to_string(path).unwrap();
            let expect: Vec<&str> = text
                .lines()
                .find_map(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{rel}: no '# expect:' line"))
                .split_whitespace()
                .collect();
            let tmp = tempfile::tempdir().unwrap();
            let out_dir = utf8_dir(&tmp).join("out");
            let out = run(dockvm().args(["gen", "--spec", &rel, "--out", out_dir.as_str()]));
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert_eq!(out.status.code(), Some(2), "{rel}: {stderr}");
            assert!(!out_dir.exists(), "{rel}: wrote {out_dir}");
            assert!(out.stdout.is_empty(), "{rel}: printed {:?}", String::from_utf8_lossy(&out.stdout));
            for e in &expect {
                let (key, line) = e.rsplit_once(':').unwrap();
                let at = format!("{rel}:{line}: {key}");
                assert!(stderr.contains(&at), "{rel}: expected {at:?} in:\n{stderr}");
            }
            let reported = stderr.lines().filter(|l| l.starts_with(&format!("  {rel}:"))).count();
            assert_eq!(reported, expect.len(), "{rel}: exactly the expected problems:\n{stderr}");
            // The messages themselves, reviewed as snapshots: each says what would be valid.
            insta::assert_snapshot!("bad-spec", stderr);
        });
    });
    assert!(cases >= 15, "the table has {cases} cases");
}

#[test]
fn a_spec_that_is_not_utf8_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = utf8_dir(&tmp).join("latin1.toml");
    fs::write(&spec, b"[vm]\nname = \"d\xe9v\"\n").unwrap();
    let out = run(dockvm()
        .args(["gen", "--spec", spec.as_str(), "--out"])
        .arg(utf8_dir(&tmp).join("out").as_str()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains(&format!("{spec}: not UTF-8")), "{stderr}");
}

#[test]
fn a_missing_spec_file_exits_2() {
    let out = run(dockvm().args(["gen", "--spec", "no/such/dockvm.toml", "--check"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dockvm.toml"));
}

#[test]
fn bad_usage_exits_2() {
    let out = run(dockvm().args(["gen", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2));
}

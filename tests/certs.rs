//! `dockvm certs` through its real consumer, `openssl`: the chain verifies, the SANs and
//! extended key usages are what the issue says, keys are 0600 in a 0700 folder, an existing
//! folder is refused, and `--renew` keeps the CA.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use std::os::unix::fs::PermissionsExt as _;
use support::*;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tls.toml");

fn certs(args: &[&str]) -> std::process::Output {
    run(dockvm().arg("certs").args(args))
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = run(std::process::Command::new("openssl").args(args));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `openssl x509 -in <pem> -noout <args>`: its output (it must succeed).
fn x509(pem: &Utf8Path, args: &[&str]) -> String {
    let mut all = vec!["x509", "-in", pem.as_str(), "-noout"];
    all.extend_from_slice(args);
    let (ok, out) = openssl(&all);
    assert!(ok, "openssl {all:?}: {out}");
    out
}

/// Whether the certificate expires within `days` days (`openssl x509 -checkend`).
fn expires_within(pem: &Utf8Path, days: u64) -> bool {
    let (_, out) = openssl(&[
        "x509",
        "-in",
        pem.as_str(),
        "-noout",
        "-checkend",
        &(days * 86400).to_string(),
    ]);
    out.contains("will expire")
}

fn mode(p: &Utf8Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn fingerprint(pem: &Utf8Path) -> String {
    let out = x509(pem, &["-fingerprint", "-sha256"]);
    out.trim().rsplit('=').next().unwrap().to_owned()
}

fn snapshot(dir: &Utf8Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn certificates_verify_with_openssl_and_carry_the_sans_usages_and_modes() {
    if !require(have("openssl"), "needs openssl") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&t).join("home/.dockvm/secure/tls");
    let out = certs(&["--spec", SPEC, "--out", dir.as_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let p = |f: &str| dir.join(f);
    for f in ["server-cert.pem", "cert.pem"] {
        let (ok, text) = openssl(&["verify", "-CAfile", p("ca.pem").as_str(), p(f).as_str()]);
        assert!(ok && text.contains(": OK"), "{f}: {text}");
    }
    let server = x509(
        &p("server-cert.pem"),
        &["-ext", "subjectAltName,extendedKeyUsage"],
    );
    assert!(
        server.contains("DNS:docker.local.test, IP Address:192.168.56.20")
            && server.contains("TLS Web Server Authentication")
            && !server.contains("Client Authentication"),
        "{server}"
    );
    let client = x509(&p("cert.pem"), &["-ext", "extendedKeyUsage"]);
    assert!(client.contains("TLS Web Client Authentication"), "{client}");
    // ECDSA P-256 keys, each the key of its certificate.
    for (cert, key) in [
        ("ca.pem", "ca-key.pem"),
        ("server-cert.pem", "server-key.pem"),
        ("cert.pem", "key.pem"),
    ] {
        let (ok, k) = openssl(&["pkey", "-in", p(key).as_str(), "-pubout"]);
        assert!(ok, "{k}");
        let (ok, c) = openssl(&["x509", "-in", p(cert).as_str(), "-noout", "-pubkey"]);
        assert!(ok, "{c}");
        assert_eq!(k, c, "{key} is the key of {cert}");
        let (_, text) = openssl(&["pkey", "-in", p(key).as_str(), "-noout", "-text"]);
        assert!(text.contains("prime256v1"), "{key}: {text}");
    }
    // The CA: 10 years, CA:TRUE; the leaves: 825 days by default.
    assert!(x509(&p("ca.pem"), &["-ext", "basicConstraints"]).contains("CA:TRUE"));
    assert!(!expires_within(&p("ca.pem"), 9 * 365));
    assert!(!expires_within(&p("server-cert.pem"), 824));
    assert!(expires_within(&p("server-cert.pem"), 826));
    // Modes: keys 0600, certificates 0644, the folder and the parents it made 0700.
    for f in ["ca-key.pem", "server-key.pem", "key.pem"] {
        assert_eq!(mode(&p(f)), 0o600, "{f}");
    }
    for f in ["ca.pem", "server-cert.pem", "cert.pem"] {
        assert_eq!(mode(&p(f)), 0o644, "{f}");
    }
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(dir.parent().unwrap()), 0o700);
    assert_eq!(mode(&utf8_dir(&t).join("home/.dockvm")), 0o700);
    // Nothing else in the folder (no temporary left), and the fingerprint it printed is openssl's.
    assert_eq!(snapshot(&dir).len(), 6);
    assert!(stderr.contains(&fingerprint(&p("ca.pem"))), "{stderr}");
}

#[test]
fn an_existing_folder_is_refused_and_renew_keeps_the_ca() {
    if !require(have("openssl"), "needs openssl") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&t).join("tls");
    assert!(
        certs(&["--spec", SPEC, "--out", dir.as_str()])
            .status
            .success()
    );
    let before = snapshot(&dir);
    let ca_before = fingerprint(&dir.join("ca.pem"));
    let old_client = std::fs::read(dir.join("cert.pem")).unwrap();

    let again = certs(&["--spec", SPEC, "--out", dir.as_str()]);
    assert_eq!(again.status.code(), Some(2));
    let e = String::from_utf8_lossy(&again.stderr);
    assert!(
        e.contains(dir.as_str()) && e.contains("exists") && e.contains("--renew"),
        "{e}"
    );
    assert_eq!(snapshot(&dir), before, "a refused run changes nothing");

    // The VM moved: another address and name. --renew issues for them from the same CA.
    let moved = std::fs::read_to_string(SPEC)
        .unwrap()
        .replace("192.168.56.20", "192.168.56.99")
        .replace("docker.local.test", "moved.local.test");
    let moved_spec = utf8_dir(&t).join("moved.toml");
    std::fs::write(&moved_spec, moved).unwrap();
    let renew = certs(&[
        "--spec",
        moved_spec.as_str(),
        "--out",
        dir.as_str(),
        "--renew",
        "--days",
        "30",
    ]);
    assert!(
        renew.status.success(),
        "{}",
        String::from_utf8_lossy(&renew.stderr)
    );
    let after = snapshot(&dir);
    let changed: Vec<&str> = after
        .iter()
        .zip(&before)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.as_str())
        .collect();
    assert_eq!(
        changed,
        ["cert.pem", "key.pem", "server-cert.pem", "server-key.pem"]
    );
    assert_eq!(fingerprint(&dir.join("ca.pem")), ca_before, "the CA stays");
    let sans = x509(&dir.join("server-cert.pem"), &["-ext", "subjectAltName"]);
    assert!(
        sans.contains("DNS:moved.local.test, IP Address:192.168.56.99"),
        "{sans}"
    );
    assert!(
        expires_within(&dir.join("server-cert.pem"), 31),
        "--days 30"
    );
    // The old client certificate still verifies against the (same) CA; so do the new ones.
    let old = utf8_dir(&t).join("old-cert.pem");
    std::fs::write(&old, old_client).unwrap();
    for f in [old, dir.join("cert.pem"), dir.join("server-cert.pem")] {
        let (ok, text) = openssl(&["verify", "-CAfile", dir.join("ca.pem").as_str(), f.as_str()]);
        assert!(ok, "{f}: {text}");
    }
    for f in ["server-key.pem", "key.pem"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f} after --renew");
    }
    assert_eq!(after.len(), 6, "no temporary left");
}

#[test]
fn bad_requests_write_nothing_and_say_why() {
    let t = tempfile::tempdir().unwrap();
    let root = utf8_dir(&t);
    // --renew without a CA in the folder.
    let empty = root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = certs(&["--spec", SPEC, "--out", empty.as_str(), "--renew"]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("ca.pem missing"), "{e}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // --days out of range.
    for days in ["0", "3651"] {
        let out = certs(&[
            "--spec",
            SPEC,
            "--out",
            root.join("d").as_str(),
            "--days",
            days,
        ]);
        assert_eq!(out.status.code(), Some(2), "--days {days}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("expected 1 to 3650"));
        assert!(!root.join("d").exists());
    }
    // Inside a tree `dockvm gen` wrote: private keys must not land in a dotfiles repository.
    let tree = root.join("dotfiles/generated");
    let g = run(dockvm().args(["gen", "--spec", SPEC, "--out", tree.as_str()]));
    assert!(g.status.success());
    let inside: Utf8PathBuf = tree.join("windows/tls");
    let out = certs(&["--spec", SPEC, "--out", inside.as_str()]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("output tree of `dockvm gen`") && e.contains(tree.as_str()),
        "{e}"
    );
    assert!(!inside.exists());
    // And `gen --check` still finds the tree current: nothing was added to it.
    assert!(
        run(dockvm().args(["gen", "--check", "--spec", SPEC, "--out", tree.as_str()]))
            .status
            .success()
    );
}

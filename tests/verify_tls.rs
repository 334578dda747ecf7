//! `dockvm verify` with `docker.tls = true` against a real dockerd (Debian's docker.io) on
//! loopback, started with the TLS flags of the generated drop-in and certificates from
//! `dockvm certs`: the healthy case, and every fault of the issue, each asserted on the `tls`
//! check's reason (or `docker-api`'s, for a TLS daemon against a plain spec). Where the docker
//! CLI meets the same fault, its own error is printed beside verify's.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

/// A spec with the VM on loopback at `port`, `tls` as given.
fn spec(dir: &Utf8Path, port: u16, tls: bool, hostname: &str, ip: &str) -> Utf8PathBuf {
    let p = dir.join(format!("spec-{hostname}-{tls}.toml"));
    std::fs::write(
        &p,
        format!(
            "[vm]\nname = \"lab\"\nvmx = 'D:\\lab\\lab.vmx'\nip = \"{ip}\"\nhostname = \"{hostname}\"\n\
             [docker]\nport = {port}\ntls = {tls}\npackage = \"docker.io\"\n\
             [windows]\ncompose_paths = false\n[[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n"
        ),
    )
    .unwrap();
    p
}

fn certs(args: &[&str]) {
    let out = run(dockvm().arg("certs").args(args));
    assert!(
        out.status.success(),
        "dockvm certs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A dockerd on 127.0.0.1:`port` with `tcp_flags` after its `-H tcp://...`, ready when its
/// unix socket answers `/_ping`.
fn dockerd(port: u16, tcp_flags: &[String]) -> Dockerd {
    let dir = tempfile::Builder::new()
        .prefix("dvmt")
        .tempdir_in("/tmp")
        .unwrap();
    let sock = utf8_dir(&dir).join("d.sock");
    let mut argv: Vec<String> = vec![
        "/usr/sbin/dockerd".into(),
        "-H".into(),
        format!("unix://{sock}"),
        "-H".into(),
        format!("tcp://127.0.0.1:{port}"),
    ];
    argv.extend_from_slice(tcp_flags);
    let d = Dockerd::start(&argv);
    let start = Instant::now();
    loop {
        let ok = UnixStream::connect(&sock)
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.write_all(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")?;
                let mut b = String::new();
                s.read_to_string(&mut b)?;
                Ok(b.ends_with("OK"))
            })
            .unwrap_or(false);
        if ok {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "dockerd did not come up: {}",
            d.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut d = d;
    d.keep.push(dir);
    d
}

/// The drop-in's TLS flags, with the files of `dir`.
fn tlsverify(dir: &Utf8Path) -> Vec<String> {
    vec![
        "--tlsverify".into(),
        format!("--tlscacert={dir}/ca.pem"),
        format!("--tlscert={dir}/server-cert.pem"),
        format!("--tlskey={dir}/server-key.pem"),
    ]
}

/// `verify --only tls,docker-api,env` with the environment a TLS client has.
fn verify(
    spec: &Utf8Path,
    client: &Utf8Path,
    port: u16,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let host = format!("tcp://local.test:{port}");
    let mut env = vec![
        ("DOCKER_HOST", host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", client.as_str()),
    ];
    env.extend_from_slice(extra);
    let (_, report, stderr) = verify_json(
        None,
        &["--spec", spec.as_str(), "--only", "tls,docker-api,env"],
        &env,
    );
    eprintln!("{stderr}");
    report
}

/// What the docker CLI says with the same client files, against the same port by address.
fn docker_cli(client: &Utf8Path, port: u16) -> (bool, String) {
    let out = run(Command::new("docker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", client.as_str())
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", client.as_str())
        .args(["version", "--format", "{{.Server.Os}}"]));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Setup {
    _t: tempfile::TempDir,
    root: Utf8PathBuf,
    port: u16,
    spec: Utf8PathBuf,
    /// The `dockvm certs` folder.
    certs: Utf8PathBuf,
}

fn setup() -> Option<Setup> {
    if !require_root_and(&["/usr/sbin/dockerd", "openssl", "docker"]) {
        return None;
    }
    let t = tempfile::tempdir().unwrap();
    let root = utf8_dir(&t);
    let port = free_port();
    let spec = spec(&root, port, true, "local.test", "127.0.0.1");
    let certs_dir = root.join("certs");
    certs(&["--spec", spec.as_str(), "--out", certs_dir.as_str()]);
    Some(Setup {
        _t: t,
        root,
        port,
        spec,
        certs: certs_dir,
    })
}

fn copy_dir(from: &Utf8Path, to: &Utf8Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name().to_str().unwrap())).unwrap();
    }
}

#[test]
fn healthy_mutual_tls_passes_and_the_docker_cli_agrees() {
    let Some(s) = setup() else { return };
    let _d = dockerd(s.port, &tlsverify(&s.certs));
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    for id in ["tls", "docker-api", "env"] {
        let (status, reason) = status_reason(&report, id);
        assert_eq!(status, "pass", "{id}: {reason}");
    }
    let (_, reason) = status_reason(&report, "tls");
    assert!(reason.contains("a client without one refused"), "{reason}");
    let (ok, out) = docker_cli(&s.certs, s.port);
    assert!(ok && out.trim() == "linux", "{out}");
    // Without the client environment, env names what is missing.
    let (_, report, _) = verify_json(
        None,
        &[
            "--spec",
            s.spec.as_str(),
            "--only",
            "env",
            "--certs",
            s.certs.as_str(),
        ],
        &[("DOCKER_HOST", &format!("tcp://local.test:{}", s.port))],
    );
    let (status, reason) = status_reason(&report, "env");
    assert_eq!(status, "fail");
    assert!(
        reason.starts_with("DOCKER_TLS_VERIFY is not set"),
        "{reason}"
    );
}

#[test]
fn a_server_certificate_for_another_address_and_name_is_named_with_its_sans() {
    let Some(s) = setup() else { return };
    // The same CA, a server certificate issued for where the VM used to be.
    let moved = s.root.join("moved");
    copy_dir(&s.certs, &moved);
    let old_spec = spec(&s.root, s.port, true, "old.test", "10.9.9.9");
    certs(&[
        "--spec",
        old_spec.as_str(),
        "--out",
        moved.as_str(),
        "--renew",
    ]);
    let _d = dockerd(s.port, &tlsverify(&moved));
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    let hint = finding(&report, "tls")["hint"].as_str().unwrap().to_owned();
    assert_eq!(status, "fail", "{reason}");
    assert!(
        reason.contains("is for DNS:old.test, IP:10.9.9.9, not DNS:local.test"),
        "{reason}"
    );
    assert!(hint.contains("dockvm certs --renew"), "{hint}");
    assert_eq!(status_reason(&report, "docker-api").1, "needs tls");
    let (ok, cli) = docker_cli(&s.certs, s.port);
    assert!(!ok && cli.contains("x509"), "{cli}");
    eprintln!("verify:     {reason}\ndocker CLI: {}", cli.trim());
}

#[test]
fn an_expired_server_certificate_is_named_with_its_dates() {
    let Some(s) = setup() else { return };
    let expired = s.root.join("expired");
    copy_dir(&s.certs, &expired);
    // openssl signs a server certificate with the real CA whose validity ended yesterday.
    let ext = s.root.join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:local.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let csr = s.root.join("server.csr");
    let e = |f: &str| expired.join(f).into_string();
    for args in [
        vec![
            "req",
            "-new",
            "-key",
            &e("server-key.pem"),
            "-subj",
            "/CN=local.test",
            "-out",
            csr.as_str(),
        ],
        vec![
            "x509",
            "-req",
            "-in",
            csr.as_str(),
            "-CA",
            &e("ca.pem"),
            "-CAkey",
            &e("ca-key.pem"),
            "-days",
            "-1",
            "-extfile",
            ext.as_str(),
            "-out",
            &e("server-cert.pem"),
        ],
    ] {
        let out = run(Command::new("openssl").args(&args));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _d = dockerd(s.port, &tlsverify(&expired));
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "fail", "{reason}");
    assert!(
        reason.starts_with("the server's certificate expired "),
        "{reason}"
    );
    let (ok, cli) = docker_cli(&s.certs, s.port);
    assert!(!ok, "{cli}");
    eprintln!("verify:     {reason}\ndocker CLI: {}", cli.trim());
}

#[test]
fn a_client_of_another_ca_is_told_the_chain_does_not_lead_to_its_ca() {
    let Some(s) = setup() else { return };
    let other = s.root.join("other");
    certs(&["--spec", s.spec.as_str(), "--out", other.as_str()]);
    let _d = dockerd(s.port, &tlsverify(&s.certs));
    let report = verify(&s.spec, &other, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "fail", "{reason}");
    let ca = |dir: &Utf8Path| {
        let (_, text) = (
            (),
            String::from_utf8_lossy(
                &run(Command::new("openssl").args([
                    "x509",
                    "-noout",
                    "-subject",
                    "-nameopt",
                    "RFC2253",
                    "-in",
                    dir.join("ca.pem").as_str(),
                ]))
                .stdout,
            )
            .into_owned(),
        );
        text.trim().trim_start_matches("subject=").to_owned()
    };
    // Both subjects named: the server's issuer (this setup's CA) and the client's CA.
    let (mine, theirs) = (ca(&s.certs), ca(&other));
    assert_ne!(mine, theirs);
    let has = |subject: &str| subject.split(',').all(|part| reason.contains(part));
    assert!(reason.contains("does not lead to the CA in"), "{reason}");
    assert!(has(&mine) && has(&theirs), "{reason}\n{mine}\n{theirs}");
    let (ok, cli) = docker_cli(&other, s.port);
    assert!(!ok, "{cli}");
    eprintln!("verify:     {reason}\ndocker CLI: {}", cli.trim());
}

#[test]
fn dockerd_with_tls_but_not_tlsverify_lets_strangers_in_and_fails() {
    let Some(s) = setup() else { return };
    // dockerd 20.10 still asks for a client certificate with `--tls` when it has a CA file
    // (--tlscacert, or ~/.docker/ca.pem by default); `--tlsverify=false` is what lets anyone in.
    let mut flags = tlsverify(&s.certs);
    flags[0] = "--tls".into();
    flags.push("--tlsverify=false".into());
    let _d = dockerd(s.port, &flags);
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "fail", "{reason}");
    assert_eq!(
        reason,
        "dockerd accepts clients without a certificate: it runs with --tls, not --tlsverify"
    );
}

#[test]
fn a_daemon_that_trusts_another_ca_refuses_the_client_certificate() {
    let Some(s) = setup() else { return };
    let other = s.root.join("other");
    certs(&["--spec", s.spec.as_str(), "--out", other.as_str()]);
    let mut flags = tlsverify(&s.certs);
    flags[1] = format!("--tlscacert={other}/ca.pem");
    let _d = dockerd(s.port, &flags);
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "fail", "{reason}");
    assert!(
        reason.starts_with("dockerd refused the client certificate"),
        "{reason}"
    );
}

#[test]
fn a_missing_client_key_is_named_with_its_path() {
    let Some(s) = setup() else { return };
    let client = s.root.join("client");
    copy_dir(&s.certs, &client);
    std::fs::remove_file(client.join("key.pem")).unwrap();
    let _d = dockerd(s.port, &tlsverify(&s.certs));
    let report = verify(&s.spec, &client, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "fail", "{reason}");
    assert_eq!(
        reason,
        format!("the client files cannot be used: key.pem missing in {client}")
    );
    // docker-api does not add a second red line: it is gated.
    assert_eq!(
        status_reason(&report, "docker-api"),
        ("skip".into(), "needs tls".into())
    );
}

#[test]
fn a_plain_dockerd_on_the_tls_port_is_named() {
    let Some(s) = setup() else { return };
    let _d = dockerd(s.port, &["--tls=false".into()]);
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "fail", "{reason}");
    assert!(
        reason.ends_with(
            "speaks plain HTTP, not TLS: dockerd has no --tlsverify/--tls flags on this port"
        ),
        "{reason}"
    );
}

#[test]
fn a_tls_dockerd_against_a_plain_spec_says_set_tls() {
    let Some(s) = setup() else { return };
    let _d = dockerd(s.port, &tlsverify(&s.certs));
    let plain = spec(&s.root, s.port, false, "local.test", "127.0.0.1");
    let (_, report, _) = verify_json(
        None,
        &["--spec", plain.as_str(), "--only", "docker-api,env"],
        &[
            ("DOCKER_HOST", &format!("tcp://local.test:{}", s.port)),
            ("DOCKER_TLS_VERIFY", "1"),
        ],
    );
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"tls"),
        "no tls check on a plain spec: {ids:?}"
    );
    let (status, reason) = status_reason(&report, "docker-api");
    assert_eq!(status, "fail", "{reason}");
    assert!(
        reason.contains("speaks TLS; set docker.tls = true"),
        "{reason}"
    );
    // And DOCKER_TLS_VERIFY against a plain spec is named too.
    let (status, reason) = status_reason(&report, "env");
    assert_eq!(status, "fail");
    assert!(reason.starts_with("DOCKER_TLS_VERIFY is set"), "{reason}");
}

#[test]
fn a_certificate_close_to_expiry_is_a_warning_with_its_date() {
    let Some(s) = setup() else { return };
    certs(&[
        "--spec",
        s.spec.as_str(),
        "--out",
        s.certs.as_str(),
        "--renew",
        "--days",
        "10",
    ]);
    let _d = dockerd(s.port, &tlsverify(&s.certs));
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "warn", "{reason}");
    assert!(
        reason.contains("the server certificate expires")
            && reason.contains("the client certificate expires"),
        "{reason}"
    );
    assert_eq!(status_reason(&report, "docker-api").0, "pass");
}

#[test]
fn a_server_certificate_not_valid_yet_is_named_with_its_start() {
    let Some(s) = setup() else { return };
    // The same CA issues a server certificate that starts in two days (a clock ahead).
    let future = s.root.join("future");
    copy_dir(&s.certs, &future);
    let read = |f: &str| std::fs::read_to_string(future.join(f)).unwrap();
    let ca = dockvm_certs::Ca::load(&read("ca.pem"), &read("ca-key.pem")).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let pair = ca
        .server(
            "local.test",
            "127.0.0.1".parse().unwrap(),
            dockvm_certs::Validity {
                not_before: now + time::Duration::days(2),
                not_after: now + time::Duration::days(30),
            },
        )
        .unwrap();
    std::fs::write(future.join("server-cert.pem"), pair.cert).unwrap();
    std::fs::write(future.join("server-key.pem"), pair.key).unwrap();
    let _d = dockerd(s.port, &tlsverify(&future));
    let report = verify(&s.spec, &s.certs, s.port, &[]);
    let (status, reason) = status_reason(&report, "tls");
    assert_eq!(status, "fail", "{reason}");
    assert!(
        reason.starts_with("the server's certificate is not valid yet: valid from "),
        "{reason}"
    );
}

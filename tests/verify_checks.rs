//! `dockvm verify`'s checks one by one, each failure mode asserted on its status and reason:
//! `port` and `docker-api` against real loopback servers that misbehave on purpose (nothing
//! listening, a full accept queue that drops SYNs, silence, plain HTTP, garbage, an endless
//! answer) and a network namespace without routes; `name` with a private /etc/hosts; `env`
//! and `profile` with the environment and HOME the test gives. Also gating, `--wait`,
//! selection and exit codes. No address but loopback is ever contacted.

mod support;

use camino::Utf8PathBuf;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::*;

/// A spec with the VM at `ip`:`port` and the given extra TOML; written to a temp folder.
fn spec(ip: &str, port: u16, extra: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let p = utf8_dir(&tmp).join("dockvm.toml");
    fs::write(
        &p,
        format!(
            "[vm]\nname = \"t\"\nvmx = 'D:\\t\\t.vmx'\nip = \"{ip}\"\nhostname = \"local.test\"\n[docker]\nport = {port}\n{extra}\n\
             [windows]\ncompose_paths = false\n[[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n"
        ),
    )
    .unwrap();
    (tmp, p)
}

/// A loopback server that handles each connection with `handler`, for the test's lifetime.
fn server(handler: fn(std::net::TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().take(32).flatten() {
            std::thread::spawn(move || handler(s));
        }
    });
    port
}

fn read_request(s: &mut std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf);
}

fn api_only(port: u16, timeout: &str) -> (i32, serde_json::Value, Duration) {
    let (_t, p) = spec("127.0.0.1", port, "");
    let start = Instant::now();
    let (code, report, _) = verify_json(
        None,
        &[
            "--spec",
            p.as_str(),
            "--only",
            "docker-api,share",
            "--timeout",
            timeout,
        ],
        &[],
    );
    (code, report, start.elapsed())
}

#[test]
fn port_refused_is_named_and_dependents_are_skipped_not_failed() {
    let port = free_port();
    let (code, report, _) = api_only(port, "2s");
    assert_eq!(code, 1);
    let (s, r) = status_reason(&report, "port");
    assert_eq!(s, "fail");
    assert!(
        r.contains("refused: the VM is up, but nothing listens"),
        "{r}"
    );
    assert!(
        finding(&report, "port")["hint"]
            .as_str()
            .unwrap()
            .contains("systemctl status docker")
    );
    assert_eq!(
        status_reason(&report, "docker-api"),
        ("skip".into(), "needs port".into())
    );
    assert_eq!(
        status_reason(&report, "share:d"),
        ("skip".into(), "needs docker-api".into())
    );
    assert_eq!(report["exit_code"], 1);
}

/// A listener whose accept queue is full drops further SYNs, like a firewall that drops
/// packets: the connect must time out at verify's deadline, not the OS's minute.
#[test]
fn port_that_drops_packets_times_out_at_the_deadline() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // Fill the queue (the kernel completes backlog + 1 handshakes without accept()).
    let _fill: Vec<_> = (0..5000)
        .map_while(|_| socket_connect_quick(port))
        .collect();
    let (_t, p) = spec("127.0.0.1", port, "");
    let start = Instant::now();
    let (code, report, _) = verify_json(
        None,
        &["--spec", p.as_str(), "--only", "port", "--timeout", "1s"],
        &[],
    );
    let took = start.elapsed();
    assert_eq!(code, 1);
    let (s, r) = status_reason(&report, "port");
    assert_eq!(s, "fail");
    assert!(r.contains("timed out after 1 s"), "{r}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    drop(l);
}

/// Connects with a short timeout; `None` once the listener's queue is full.
fn socket_connect_quick(port: u16) -> Option<std::net::TcpStream> {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
        .ok()
}

#[test]
fn unreachable_network_is_named() {
    if !require_root_and(&["unshare"]) {
        return;
    }
    // A new network namespace has only a loopback that is down: nothing is reachable, and no
    // packet can leave it.
    let (_t, p) = spec("127.0.0.1", 2375, "");
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "-n",
        env!("CARGO_BIN_EXE_dockvm"),
        "verify",
        "--format",
        "json",
        "--spec",
        p.as_str(),
        "--only",
        "port",
    ]);
    let out = run(&mut cmd);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (s, r) = status_reason(&report, "port");
    assert_eq!(s, "fail");
    assert!(r.contains("is unreachable"), "{r}");
    assert!(
        finding(&report, "port")["hint"]
            .as_str()
            .unwrap()
            .contains("no route")
    );
}

#[test]
fn a_server_that_accepts_and_never_answers_fails_docker_api_within_the_deadline() {
    let port = server(|s| {
        std::thread::sleep(Duration::from_secs(30));
        drop(s);
    });
    let (code, report, took) = api_only(port, "1s");
    assert_eq!(code, 1);
    assert_eq!(status_reason(&report, "port").0, "pass");
    let (s, r) = status_reason(&report, "docker-api");
    assert_eq!(s, "fail");
    assert!(
        r.contains("accepted the connection but sent nothing within 1 s"),
        "{r}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        status_reason(&report, "share:d"),
        ("skip".into(), "needs docker-api".into())
    );
}

#[test]
fn a_plain_http_server_is_not_the_docker_api() {
    let port = server(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(
            b"HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\nContent-Length: 9\r\n\r\nnot found",
        );
    });
    let (_, report, _) = api_only(port, "2s");
    let (s, r) = status_reason(&report, "docker-api");
    assert_eq!(s, "fail");
    assert!(
        r.contains("an HTTP server that is not the Docker API answers")
            && r.contains("404")
            && r.contains("Server: nginx/1.22.1"),
        "{r}"
    );
}

#[test]
fn a_service_that_does_not_speak_http_is_named_with_what_it_sent() {
    let port = server(|mut s| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        std::thread::sleep(Duration::from_secs(5));
    });
    let (_, report, _) = api_only(port, "2s");
    let (s, r) = status_reason(&report, "docker-api");
    assert_eq!(s, "fail");
    assert!(
        r.contains("not HTTP") && r.contains("SSH-2.0-OpenSSH"),
        "{r}"
    );
}

#[test]
fn an_endless_answer_is_cut_off() {
    let port = server(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
        let chunk = [b'A'; 8192];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) && s.write_all(&chunk).is_ok() {}
    });
    let (_, report, took) = api_only(port, "2s");
    let (s, r) = status_reason(&report, "docker-api");
    assert_eq!(s, "fail");
    assert!(r.contains("longer than 65536 bytes"), "{r}");
    assert!(took < Duration::from_secs(10));
}

#[test]
fn a_trickling_answer_fails_at_the_deadline() {
    let port = server(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        std::thread::sleep(Duration::from_secs(20));
    });
    let (_, report, took) = api_only(port, "1s");
    let (s, r) = status_reason(&report, "docker-api");
    assert_eq!(s, "fail");
    assert!(r.contains("did not finish within the deadline"), "{r}");
    assert!(took < Duration::from_secs(10));
}

#[test]
fn a_real_dockerd_answers_and_plain_tcp_is_a_warning_that_says_what_it_exposes() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    let (_d, port) = loopback_dockerd(None);
    let (_t, p) = spec("127.0.0.1", port, "");
    let (code, report, _) = verify_json(None, &["--spec", p.as_str(), "--only", "docker-api"], &[]);
    assert_eq!(code, 0, "{report:#}");
    let f = finding(&report, "docker-api");
    assert_eq!(f["status"], "warn");
    let reason = f["reason"].as_str().unwrap();
    assert!(
        reason.contains("over plain TCP without TLS") && reason.contains("root in the VM"),
        "{reason}"
    );
    assert!(
        f["actual"]
            .as_str()
            .unwrap()
            .starts_with("Docker Engine 20.10"),
        "{f}"
    );
    assert!(f["actual"].as_str().unwrap().ends_with("linux"));
}

/// Runs `--only name` with `hosts` as /etc/hosts (private mount namespace) and, when given,
/// a Windows hosts file under the spec's automount root.
fn name_check(ip: &str, hosts: &str, windows_hosts: Option<&str>) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let d = utf8_dir(&tmp);
    fs::write(d.join("hosts"), hosts).unwrap();
    if let Some(w) = windows_hosts {
        let etc = d.join("root/c/Windows/System32/drivers/etc");
        fs::create_dir_all(&etc).unwrap();
        fs::write(etc.join("hosts"), w).unwrap();
    }
    let (_t, p) = spec(ip, 2375, &format!("[wsl]\nautomount_root = \"{d}/root/\""));
    let setup = format!("mount --bind {d}/hosts /etc/hosts");
    let (_, report, _) = verify_json(Some(&setup), &["--spec", p.as_str(), "--only", "name"], &[]);
    finding(&report, "name").clone()
}

/// One case of a check: its input, and the status and the phrases of the finding's fields.
struct Case {
    what: &'static str,
    status: &'static str,
    /// (field, phrase): `reason`, `actual` or `hint` must contain the phrase.
    says: &'static [(&'static str, &'static str)],
}

fn assert_case(c: &Case, f: &serde_json::Value) {
    assert_eq!(f["status"], c.status, "{}: {f:#}", c.what);
    for (field, phrase) in c.says {
        let text = f[*field].as_str().unwrap_or("");
        assert!(
            text.contains(phrase),
            "{}: {field} {text:?} lacks {phrase:?}",
            c.what
        );
    }
}

#[test]
fn name_resolution_cases() {
    if !require_root_and(&["unshare", "mount"]) {
        return;
    }
    // (vm.ip, /etc/hosts, Windows hosts file, expectation)
    let cases: &[(&str, &str, Option<&str>, Case)] = &[
        (
            "127.0.0.7",
            "127.0.0.1 localhost\n127.0.0.7 local.test\n",
            None,
            Case {
                what: "right",
                status: "pass",
                says: &[
                    ("reason", "local.test resolves to 127.0.0.7"),
                    ("actual", "/etc/hosts line 2: 127.0.0.7"),
                ],
            },
        ),
        (
            "127.0.0.7",
            "127.0.0.9 local.test\n",
            None,
            Case {
                what: "wrong address",
                status: "fail",
                says: &[(
                    "reason",
                    "local.test resolves to 127.0.0.9, not to vm.ip 127.0.0.7",
                )],
            },
        ),
        // nsswitch falls through to DNS, which has no server here.
        (
            "127.0.0.7",
            "127.0.0.1 localhost\n",
            None,
            Case {
                what: "no answer",
                status: "fail",
                says: &[
                    ("reason", "local.test does not resolve"),
                    ("hint", "wsl --shutdown"),
                ],
            },
        ),
        (
            "127.0.0.7",
            "127.0.0.7 local.test\n10.99.0.1 local.test\n",
            None,
            Case {
                what: "extra address after vm.ip",
                status: "warn",
                says: &[("reason", "to 127.0.0.7 first, and also to 10.99.0.1")],
            },
        ),
        (
            "10.99.0.1",
            "127.0.0.7 local.test\n10.99.0.1 local.test\n",
            None,
            Case {
                what: "another address first",
                status: "fail",
                says: &[("reason", "127.0.0.7 comes before vm.ip 10.99.0.1")],
            },
        ),
        // WSL's /etc/hosts is an old copy of the Windows file: both mappings said, and why.
        (
            "127.0.0.8",
            "127.0.0.7 local.test\n",
            Some("# BEGIN dockvm t\r\n127.0.0.8 local.test\r\n# END dockvm t\r\n"),
            Case {
                what: "stale WSL copy",
                status: "fail",
                says: &[
                    ("actual", "/etc/hosts line 1: 127.0.0.7"),
                    (
                        "actual",
                        "c/Windows/System32/drivers/etc/hosts line 2: 127.0.0.8",
                    ),
                    (
                        "hint",
                        "WSL copies the Windows file only when the distribution starts",
                    ),
                ],
            },
        ),
    ];
    for (ip, hosts, windows, case) in cases {
        assert_case(case, &name_check(ip, hosts, *windows));
    }
}

fn env_check(vars: &[(&str, &str)]) -> serde_json::Value {
    let (_t, p) = spec("127.0.0.1", 2375, "");
    let (_, report, _) = verify_json(None, &["--spec", p.as_str(), "--only", "env"], vars);
    finding(&report, "env").clone()
}

#[test]
fn env_cases() {
    let cfg = tempfile::tempdir().unwrap();
    fs::write(
        cfg.path().join("config.json"),
        r#"{"auths":{},"currentContext":"vmware"}"#,
    )
    .unwrap();
    let cfg_dir = utf8_dir(&cfg);
    let want = "tcp://local.test:2375";
    let cases: &[(&[(&str, &str)], Case)] = &[
        (
            &[("DOCKER_HOST", want)],
            Case {
                what: "right",
                status: "pass",
                says: &[("reason", "DOCKER_HOST=tcp://local.test:2375")],
            },
        ),
        (
            &[],
            Case {
                what: "unset",
                status: "fail",
                says: &[
                    ("reason", "DOCKER_HOST is not set"),
                    ("actual", "unset"),
                    ("hint", "wsl/profile.sh"),
                ],
            },
        ),
        (
            &[("DOCKER_HOST", "tcp://192.168.99.100:2376")],
            Case {
                what: "elsewhere",
                status: "fail",
                says: &[(
                    "reason",
                    "DOCKER_HOST is \"tcp://192.168.99.100:2376\", not \"tcp://local.test:2375\"",
                )],
            },
        ),
        (
            &[("DOCKER_HOST", "tcp://local.test:2375\r")],
            Case {
                what: "trailing CR",
                status: "fail",
                says: &[("reason", "carriage return"), ("reason", "CRLF")],
            },
        ),
        (
            &[("DOCKER_HOST", want), ("DOCKER_CONTEXT", "colima")],
            Case {
                what: "context overridden",
                status: "warn",
                says: &[(
                    "reason",
                    "silently overrides docker context \"colima\" (DOCKER_CONTEXT)",
                )],
            },
        ),
        (
            &[("DOCKER_CONFIG", cfg_dir.as_str())],
            Case {
                what: "unset, a context instead",
                status: "fail",
                says: &[(
                    "reason",
                    "the docker CLI uses context \"vmware\" (currentContext in",
                )],
            },
        ),
    ];
    for (vars, case) in cases {
        assert_case(case, &env_check(vars));
    }
}

/// This VM's docker context (`dockvm-t`), made and selected by the real docker CLI in its own
/// store: without DOCKER_HOST it passes when its endpoint is the spec's, fails when it points
/// elsewhere; with DOCKER_HOST as well, the same endpoint is no conflict.
#[test]
fn env_accepts_this_vm_s_context_instead_of_docker_host() {
    if !require(have("docker"), "needs the docker CLI (docker.io)") {
        return;
    }
    let want = "tcp://local.test:2375";
    let store = |host: &str| {
        let t = tempfile::tempdir().unwrap();
        let d = utf8_dir(&t);
        for args in [
            vec!["context", "create", "dockvm-t", "--docker"],
            vec!["context", "use", "dockvm-t"],
        ] {
            let mut args = args.clone();
            let h = format!("host={host}");
            if args[1] == "create" {
                args.push(&h);
            }
            let o = run(std::process::Command::new("docker")
                .env("DOCKER_CONFIG", &d)
                .args(&args));
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        (t, d)
    };
    let (_ours, ours) = store(want);
    let (_old, old) = store("tcp://old-vm:2375");
    let cases: &[(&[(&str, &str)], Case)] = &[
        (
            &[("DOCKER_CONFIG", ours.as_str())],
            Case {
                what: "this VM's context",
                status: "pass",
                says: &[(
                    "reason",
                    "DOCKER_HOST is unset, and the docker CLI uses context \"dockvm-t\" (currentContext in",
                )],
            },
        ),
        (
            &[("DOCKER_CONFIG", ours.as_str()), ("DOCKER_HOST", want)],
            Case {
                what: "this VM's context and DOCKER_HOST",
                status: "pass",
                says: &[("reason", "DOCKER_HOST=tcp://local.test:2375")],
            },
        ),
        (
            &[("DOCKER_CONFIG", old.as_str())],
            Case {
                what: "this VM's context, an old endpoint",
                status: "fail",
                says: &[(
                    "reason",
                    "which points at tcp://old-vm:2375, not tcp://local.test:2375",
                )],
            },
        ),
    ];
    for (vars, case) in cases {
        assert_case(case, &env_check(vars));
    }
}

fn profile_check(content: Option<&[u8]>) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    let h = utf8_dir(&home);
    if let Some(c) = content {
        fs::write(h.join(".profile"), c).unwrap();
    }
    let (_t, p) = spec("127.0.0.1", 2375, "");
    let (_, report, _) = verify_json(
        None,
        &["--spec", p.as_str(), "--only", "profile"],
        &[("HOME", h.as_str())],
    );
    finding(&report, "profile").clone()
}

#[test]
fn profile_cases() {
    let block = "# BEGIN dockvm t\nexport DOCKER_HOST=tcp://local.test:2375\n# END dockvm t\n";
    let right = format!("PATH=$PATH:~/bin\n{block}");
    let crlf = block.replace('\n', "\r\n");
    let overridden = format!("{block}export DOCKER_HOST=tcp://old-vm:2375\n");
    let cases: Vec<(Option<&[u8]>, Case)> = vec![
        (
            Some(right.as_bytes()),
            Case {
                what: "right",
                status: "pass",
                says: &[("reason", ".profile line 3 exports DOCKER_HOST")],
            },
        ),
        (
            Some(crlf.as_bytes()),
            Case {
                what: "CRLF",
                status: "fail",
                says: &[("reason", "has CRLF line endings")],
            },
        ),
        (
            Some(overridden.as_bytes()),
            Case {
                what: "overridden",
                status: "fail",
                says: &[
                    ("reason", "line 4 of"),
                    ("reason", "overrides the export on line 2"),
                ],
            },
        ),
        (
            Some(b"export DOCKER_HOST=tcp://elsewhere:2375\n"),
            Case {
                what: "another value",
                status: "fail",
                says: &[("actual", "line 1: export DOCKER_HOST=tcp://elsewhere:2375")],
            },
        ),
        // Not on WSL (this machine) and no profile: the check does not apply, and says why.
        (
            None,
            Case {
                what: "no profile off WSL",
                status: "skip",
                says: &[("reason", "not on WSL, and")],
            },
        ),
    ];
    for (content, case) in &cases {
        assert_case(case, &profile_check(*content));
    }
}

#[test]
fn wait_reruns_what_fails_until_it_passes_and_lists_the_attempts() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    // The "VM" comes up after about a second.
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_secs(8));
        drop(l);
    });
    let (_t, p) = spec("127.0.0.1", port, "");
    let (code, report, stderr) = verify_json(
        None,
        &["--spec", p.as_str(), "--only", "port", "--wait", "6s"],
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    let f = finding(&report, "port");
    assert_eq!(f["status"], "pass");
    let attempts = f["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2, "{f}");
    assert_eq!(attempts[0]["status"], "fail");
    assert_eq!(attempts.last().unwrap()["status"], "pass");
    assert!(stderr.contains("still failing: port"), "{stderr}");
    // Checks that passed are not run again.
    assert_eq!(
        finding(&report, "name")["attempts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    opener.join().unwrap();
}

#[test]
fn wait_gives_up_at_its_deadline_with_exit_1() {
    let port = free_port();
    let (_t, p) = spec("127.0.0.1", port, "");
    let start = Instant::now();
    let (code, report, _) = verify_json(
        None,
        &["--spec", p.as_str(), "--only", "port", "--wait", "1500ms"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        finding(&report, "port")["attempts"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
}

#[test]
fn unknown_check_ids_and_bad_durations_are_usage_errors() {
    let (_t, p) = spec("127.0.0.1", 2375, "");
    for args in [
        vec!["--only", "dns"],
        vec!["--skip", "share:nosuch"],
        vec!["--timeout", "0s"],
        vec!["--wait", "forever"],
        vec!["--format", "yaml"],
    ] {
        let out = run(dockvm().args(["verify", "--spec", p.as_str()]).args(&args));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn skip_and_only_select_checks_and_say_so() {
    let (_t, p) = spec("127.0.0.1", 2375, "");
    let (_, report, _) = verify_json(
        None,
        &["--spec", p.as_str(), "--only", "env", "--skip", "profile"],
        &[("DOCKER_HOST", "tcp://local.test:2375")],
    );
    assert_eq!(
        status_reason(&report, "name"),
        ("skip".into(), "not selected by --only".into())
    );
    assert_eq!(
        status_reason(&report, "profile"),
        ("skip".into(), "skipped by --skip".into())
    );
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["schema_version"], 1);
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, support::lab::LAB_CHECKS, "spec order");
}

/// A loopback stand-in for the Docker API that answers just the calls the share canary makes:
/// ping, version, the probe image, container create (after `create_delay`), the stat of the
/// probe (found with `stat_size` bytes, or 404 when `None`), and removal.
fn fake_docker(mut s: std::net::TcpStream, create_delay: Duration, stat_size: Option<u64>) {
    let mut buf = [0u8; 8192];
    let n = s.read(&mut buf).unwrap_or(0);
    let line = String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    let reply: Vec<u8> = if line.starts_with("GET /_ping") {
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK".to_vec()
    } else if line.starts_with("GET /version") {
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"Version\":\"x\",\"ApiVersion\":\"1.41\",\"Os\":\"linux\"}  ".to_vec()
    } else if line.starts_with("GET /images/") {
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec()
    } else if line.starts_with("POST /containers/create") {
        std::thread::sleep(create_delay);
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}".to_vec()
    } else if let (true, Some(size)) = (line.starts_with("HEAD /containers/"), stat_size) {
        // The probe's own name, with another size than the 32-byte token written.
        let name = line
            .split("/probe/")
            .nth(1)
            .unwrap_or("")
            .split(' ')
            .next()
            .unwrap_or("")
            .to_owned();
        let stat = format!(
            "{{\"name\":\"{name}\",\"size\":{size},\"mode\":420,\"mtime\":\"2026-01-01T00:00:00Z\",\"linkTarget\":\"\"}}"
        );
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(stat);
        format!(
            "HTTP/1.1 200 OK\r\nX-Docker-Container-Path-Stat: {b64}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    } else if line.starts_with("DELETE ") {
        b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()
    } else {
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}".to_vec()
    };
    let _ = s.write_all(&reply);
}

/// Independent checks run concurrently: two share checks against a daemon that takes 900 ms
/// to create each container finish in about 900 ms, not 1.8 s.
#[test]
fn independent_checks_run_concurrently() {
    let port = server(|s| fake_docker(s, Duration::from_millis(900), None));
    let tmp = tempfile::tempdir().unwrap();
    let root = utf8_dir(&tmp);
    fs::create_dir_all(root.join("d")).unwrap();
    fs::create_dir_all(root.join("e")).unwrap();
    let (_t, p) = spec(
        "127.0.0.1",
        port,
        &format!(
            "[wsl]\nautomount_root = \"{root}/\"\n[[shares]]\nname = \"e\"\nhost_path = 'E:\\'"
        ),
    );
    let (_, report, _) = verify_json(
        None,
        &["--spec", p.as_str(), "--only", "share", "--timeout", "5s"],
        &[],
    );
    for id in ["share:d", "share:e"] {
        let f = finding(&report, id);
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .starts_with("the VM sees a different folder"),
            "{f}"
        );
        assert!(f["duration_ms"].as_u64().unwrap() >= 900, "{f}");
    }
    let total = report["duration_ms"].as_u64().unwrap();
    assert!(
        total < 1700,
        "two 900 ms checks took {total} ms: not concurrent"
    );
    assert!(
        fs::read_dir(root.join("d")).unwrap().next().is_none(),
        "probe file left"
    );
}

/// A resolver that never answers: the name check gives up at its deadline and says so. Inside
/// a network namespace of its own, /etc/resolv.conf points at a loopback DNS port where a
/// server reads queries and never replies.
#[test]
fn a_resolver_that_never_answers_is_reported_at_the_deadline() {
    if !require_root_and(&["unshare", "mount", "ip", "python3"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = utf8_dir(&tmp);
    fs::write(d.join("hosts"), "127.0.0.1 localhost\n").unwrap();
    fs::write(
        d.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n",
    )
    .unwrap();
    fs::write(d.join("nsswitch.conf"), "hosts: files dns\n").unwrap();
    let (_t, p) = spec("127.0.0.1", 2375, "");
    let script = format!(
        "ip link set lo up\n\
         mount --bind {d}/hosts /etc/hosts\n\
         mount --bind {d}/resolv.conf /etc/resolv.conf\n\
         mount --bind {d}/nsswitch.conf /etc/nsswitch.conf\n\
         python3 -c 'import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"127.0.0.1\", 53)); time.sleep(5)' >/dev/null 2>&1 &\n\
         sleep 0.5\n\
         exec \"$@\""
    );
    let start = Instant::now();
    let out = run(std::process::Command::new("unshare")
        .args([
            "-n",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-ec",
            &script,
            "sh",
            env!("CARGO_BIN_EXE_dockvm"),
        ])
        .args([
            "verify",
            "--format",
            "json",
            "--spec",
            p.as_str(),
            "--only",
            "name",
            "--timeout",
            "1s",
        ]));
    let took = start.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let (s, r) = status_reason(&report, "name");
    assert_eq!(s, "fail");
    assert_eq!(
        r,
        "the system resolver gave no answer for local.test within 1 s"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// The daemon finds a file at the probe's path, but not the one written (another size): the
/// VM's folder is not the WSL one.
#[test]
fn a_probe_the_daemon_sees_with_other_content_is_a_failure() {
    let port = server(|s| fake_docker(s, Duration::ZERO, Some(3)));
    let tmp = tempfile::tempdir().unwrap();
    let root = utf8_dir(&tmp);
    fs::create_dir_all(root.join("d")).unwrap();
    let (_t, p) = spec(
        "127.0.0.1",
        port,
        &format!("[wsl]\nautomount_root = \"{root}/\""),
    );
    let (code, report, _) = verify_json(None, &["--spec", p.as_str(), "--only", "share"], &[]);
    assert_eq!(code, 1);
    let f = finding(&report, "share:d");
    assert_eq!(f["status"], "fail");
    assert!(
        f["reason"].as_str().unwrap().starts_with(&format!(
            "the VM sees other content at {root}/d/.dockvm-probe-"
        )),
        "{f}"
    );
    assert!(
        f["actual"]
            .as_str()
            .unwrap()
            .ends_with("3 bytes, not the 32-byte probe"),
        "{f}"
    );
    assert!(
        fs::read_dir(root.join("d")).unwrap().next().is_none(),
        "probe file left"
    );
}

/// A loopback Docker API stand-in whose `Date` header is `skew` seconds off this clock.
fn skewed_docker(skew: i64) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().take(16).flatten() {
            read_request(&mut s);
            let now = std::time::SystemTime::now();
            let at = if skew >= 0 {
                now + Duration::from_secs(skew as u64)
            } else {
                now - Duration::from_secs(skew.unsigned_abs())
            };
            let reply = format!(
                "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nOstype: linux\r\nDate: {}\r\nContent-Length: 2\r\n\r\nOK",
                httpdate::fmt_http_date(at)
            );
            let _ = s.write_all(reply.as_bytes());
        }
    });
    port
}

/// `clock` against a server whose Date header is off by a known amount: within 2 s passes (the
/// header's truncated second and the round trip never make a warning), 3 s warns, 90 s either
/// way fails, each saying which way and how to set the VM's clock.
#[test]
fn clock_compares_the_engine_s_date_header_with_this_clock() {
    for (skew, want, phrase) in [
        (0, "pass", "agrees"),
        (2, "pass", "agrees"),
        (-1, "pass", "agrees"),
        (3, "warn", "ahead of"),
        (-3, "warn", "behind"),
        (90, "fail", "ahead of"),
        (-90, "fail", "behind"),
    ] {
        let port = skewed_docker(skew);
        let (_t, p) = spec("127.0.0.1", port, "");
        let (_, report, stderr) = verify_json(
            None,
            &["--spec", p.as_str(), "--only", "clock", "--timeout", "2s"],
            &[],
        );
        let (s, reason) = status_reason(&report, "clock");
        assert_eq!(s, want, "{skew}: {reason}\n{stderr}");
        assert!(reason.contains(phrase), "{skew}: {reason}");
        if want != "pass" {
            let hint = finding(&report, "clock")["hint"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(hint.contains("hwclock --hctosys"), "{hint}");
        }
        assert_eq!(
            report["exit_code"],
            if want == "fail" { 1 } else { 0 },
            "{skew}"
        );
    }
}

/// `profile` and `env` for each login shell, in a home whose `~/.profile` holds the export,
/// from a shell that did not read it (DOCKER_HOST unset): both name the same cause, and each
/// hint is a step that changes the outcome. With this VM's context current (made by the real
/// docker CLI), docker reaches the engine anyway: `env` passes on the context, and an unread
/// profile is only a warning.
#[test]
fn profile_and_env_name_the_same_cause_for_each_login_shell() {
    let (_t, p) = spec("127.0.0.1", 2375, "");
    let export = "export DOCKER_HOST=tcp://local.test:2375\n";
    // (case, login shell, files in the home, context current, profile's, env's)
    type Row = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
        bool,
        Case,
        Case,
    );
    const NOT_SOURCE: &str = "bash, your login shell, reads ~/.bash_profile, which does not source ~/.profile: the export there is never read";
    let rows: &[Row] = &[
        (
            "bash, an empty ~/.bash_profile",
            "/bin/bash",
            &[(".bash_profile", "")],
            false,
            Case {
                what: "profile",
                status: "fail",
                says: &[
                    ("reason", NOT_SOURCE),
                    ("hint", "add `. ~/.profile` to ~/.bash_profile"),
                    ("hint", "docker context use dockvm-t"),
                ],
            },
            Case {
                what: "env",
                status: "fail",
                says: &[
                    ("reason", "DOCKER_HOST is not set: "),
                    ("reason", NOT_SOURCE),
                    ("hint", "docker context use dockvm-t"),
                    ("hint", "add `. ~/.profile` to ~/.bash_profile"),
                ],
            },
        ),
        (
            "bash, ~/.bash_login",
            "/usr/bin/bash",
            &[(".bash_login", "alias ll='ls -l'\n")],
            false,
            Case {
                what: "profile",
                status: "fail",
                says: &[(
                    "reason",
                    "reads ~/.bash_login, which does not source ~/.profile",
                )],
            },
            Case {
                what: "env",
                status: "fail",
                says: &[(
                    "reason",
                    "reads ~/.bash_login, which does not source ~/.profile",
                )],
            },
        ),
        (
            "bash, ~/.bash_profile sourcing it",
            "/bin/bash",
            &[(".bash_profile", "[ -f ~/.profile ] && . ~/.profile\n")],
            false,
            Case {
                what: "profile",
                status: "pass",
                says: &[(
                    "reason",
                    "and bash, your login shell, reads it (sourced from ~/.bash_profile line 1)",
                )],
            },
            Case {
                what: "env",
                status: "fail",
                says: &[
                    ("reason", "this shell did not: it is not a login shell"),
                    ("hint", "exec bash -l"),
                    ("hint", "docker context use dockvm-t"),
                ],
            },
        ),
        (
            "zsh",
            "/usr/bin/zsh",
            &[(".zshrc", "source $ZSH/oh-my-zsh.sh\n")],
            false,
            Case {
                what: "profile",
                status: "fail",
                says: &[
                    (
                        "reason",
                        "zsh, your login shell, never reads ~/.profile itself",
                    ),
                    ("hint", "emulate sh -c '. ~/.profile'"),
                ],
            },
            Case {
                what: "env",
                status: "fail",
                says: &[("reason", "zsh, your login shell, never reads ~/.profile")],
            },
        ),
        (
            "fish",
            "/usr/bin/fish",
            &[],
            false,
            Case {
                what: "profile",
                status: "fail",
                says: &[
                    (
                        "reason",
                        "fish, your login shell, reads no POSIX start-up file",
                    ),
                    ("hint", "set -gx DOCKER_HOST tcp://local.test:2375"),
                ],
            },
            Case {
                what: "env",
                status: "fail",
                says: &[("reason", "fish, your login shell")],
            },
        ),
        (
            "bash, an empty ~/.bash_profile, the context current",
            "/bin/bash",
            &[(".bash_profile", "")],
            true,
            Case {
                what: "profile",
                status: "warn",
                says: &[
                    ("reason", NOT_SOURCE),
                    (
                        "reason",
                        "docker still reaches the engine through context dockvm-t (currentContext in",
                    ),
                    ("hint", "add `. ~/.profile` to ~/.bash_profile"),
                ],
            },
            Case {
                what: "env",
                status: "pass",
                says: &[(
                    "reason",
                    "DOCKER_HOST is unset, and the docker CLI uses context \"dockvm-t\"",
                )],
            },
        ),
    ];
    for (what, shell, files, context, profile, env) in rows {
        if *context && !require(have("docker"), "needs the docker CLI (docker.io)") {
            continue;
        }
        let home = tempfile::tempdir().unwrap();
        let h = utf8_dir(&home);
        fs::write(
            h.join(".profile"),
            format!("PATH=\"$HOME/bin:$PATH\"\n{export}"),
        )
        .unwrap();
        for (f, text) in *files {
            fs::write(h.join(f), text).unwrap();
        }
        if *context {
            for args in [
                &[
                    "context",
                    "create",
                    "dockvm-t",
                    "--docker",
                    "host=tcp://local.test:2375",
                ][..],
                &["context", "use", "dockvm-t"],
            ] {
                let o = run(std::process::Command::new("docker")
                    .env("HOME", &h)
                    .args(args));
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
        }
        let (_, report, _) = verify_json(
            None,
            &["--spec", p.as_str(), "--only", "profile,env"],
            &[("HOME", h.as_str()), ("SHELL", shell)],
        );
        eprintln!("{what}");
        assert_case(profile, finding(&report, "profile"));
        assert_case(env, finding(&report, "env"));
    }
}

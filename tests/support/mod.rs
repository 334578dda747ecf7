//! Test support shared by the integration tests: gating on root and installed programs
//! (skip with a reason locally, fail under `CI=true`), running the CLI, and starting a real
//! dockerd on a private socket and a loopback port.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod daily;
pub mod lab;
pub mod wine;
pub mod winside;

use camino::{Utf8Path, Utf8PathBuf};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether this run is CI's, where nothing may be skipped.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `true` when the test can run. Otherwise says why it skips, or, under `CI=true`, fails.
#[must_use]
pub fn require(ok: bool, why: &str) -> bool {
    if ok {
        return true;
    }
    assert!(!is_ci(), "CI=true, and this test cannot run: {why}");
    eprintln!("SKIP: {why}");
    record_skip(why);
    false
}

/// Appends `<test binary> <test name>\t<why>` to the file `DOCKVM_SKIP_LOG` names (ci/test
/// sets it and counts the skipped tests from it: libtest captures a passing test's stderr and
/// counts a test that returned early as passed). One `O_APPEND` write a line, so concurrent
/// tests never interleave.
fn record_skip(why: &str) {
    let Some(log) = std::env::var_os("DOCKVM_SKIP_LOG") else {
        return;
    };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| {
            s.rsplit_once('-')
                .map_or(s.clone(), |(name, _hash)| name.to_owned())
        })
        .unwrap_or_default();
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed)")
        .to_owned();
    let line = format!("{binary} {test}\t{}\n", why.replace(['\n', '\t'], " "));
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("cannot record the skip in {log:?}: {e}");
    }
}

pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

/// Whether `prog` is an executable on PATH (or an absolute path that exists).
pub fn have(prog: &str) -> bool {
    if prog.starts_with('/') {
        return Utf8Path::new(prog).exists();
    }
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Utf8Path::new(d).join(prog).exists())
}

/// Needs root and every program listed; says which is missing.
#[must_use]
pub fn require_root_and(progs: &[&str]) -> bool {
    if !require(
        is_root(),
        "needs root (namespaces, mounts or dockerd); run the tests as root",
    ) {
        return false;
    }
    progs
        .iter()
        .all(|p| require(have(p), &format!("needs {p}; ci/install-deps installs it")))
}

/// `program`, run directly, or in a private mount namespace prepared by the shell commands
/// `setup` (unshare and sh exec into it, so the child's pid stays the program's).
pub fn in_mount_ns(setup: Option<&str>, program: &str) -> Command {
    match setup {
        None => Command::new(program),
        Some(setup) => {
            let mut c = Command::new("unshare");
            c.args([
                "-m",
                "--propagation",
                "private",
                "sh",
                "-ec",
                &format!("{setup}\nexec \"$@\""),
                "sh",
                program,
            ]);
            c
        }
    }
}

/// The dockvm binary under test.
pub fn dockvm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dockvm"))
}

/// `dockvm gen --spec SPEC --out OUT`, which must succeed.
pub fn gen_tree(spec: &Utf8Path, out: &Utf8Path) {
    let o = run(dockvm().args(["gen", "--spec", spec.as_str(), "--out", out.as_str()]));
    assert!(
        o.status.success(),
        "dockvm gen --spec {spec}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Random moments for the interrupt soaks: xorshift64 from the clock, its first seed kept so a
/// failure can say it.
pub struct Moments {
    state: u64,
    pub seed: u64,
}

impl Moments {
    pub fn new() -> Moments {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        Moments { state: seed, seed }
    }

    pub fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
}

/// Each thread of a process with its name, its state letter (`R`, `S`, `Z`, ...), what it
/// waits on (`/proc`) and ` sigint-blocked` when it blocks SIGINT, `; `-separated, for a
/// message.
pub fn threads_of(pid: u32) -> String {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return format!("process {pid} is gone");
    };
    tasks
        .flatten()
        .map(|t| {
            let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
            // The state letter follows the command name's closing parenthesis in `stat`.
            let stat = read("stat");
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, r)| r.chars().next())
                .unwrap_or('?');
            // SIGINT (signal 2, bit 1 of SigBlk) blocked: the thread is inside a signal
            // handler or one of Wine's uninterruptible sections, not in the program's code.
            let sigint_blocked = read("status")
                .lines()
                .find_map(|l| l.strip_prefix("SigBlk:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
                .is_some_and(|m| m & 0b10 != 0);
            format!(
                "{} {} {state} {}{}",
                t.file_name().to_string_lossy(),
                read("comm").trim(),
                read("wchan"),
                if sigint_blocked {
                    " sigint-blocked"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits for `child` at most `limit`; past that, kills it and returns its threads as they were
/// (a test must fail, saying where, not hang, when a process does not end).
pub fn wait_at_most(
    child: &mut Child,
    limit: Duration,
) -> Result<std::process::ExitStatus, String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Ok(s);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let threads = threads_of(child.id());
    // Where each thread stands, for the record, when gdb is there (a Wine process's unix
    // side has symbols enough to tell a signal handler's frame).
    if std::path::Path::new("/usr/bin/gdb").exists() {
        let bt = Command::new("timeout")
            .args(["30", "gdb", "-p", &child.id().to_string(), "-batch", "-nx"])
            .args(["-ex", "thread apply all bt 25"])
            .stdin(Stdio::null())
            .output();
        if let Ok(bt) = bt {
            eprintln!(
                "wait_at_most: pid {} still running after {limit:?}; its threads ({}):\n{}{}",
                child.id(),
                threads,
                String::from_utf8_lossy(&bt.stdout),
                String::from_utf8_lossy(&bt.stderr)
            );
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(threads)
}

/// Sends `sig` (`INT`, `TERM`) to `pid` at a moment the soak can see: the process is stopped
/// (SIGSTOP) first, `landed` looks at what exists then (a probe file, an install's output)
/// while nothing moves, and only then is the signal sent and the process continued. Returns
/// what `landed` said: whether the interrupt came inside the work under test. A process that
/// already ended (or never stops) gives `false` without a look.
pub fn interrupt_seen(pid: u32, sig: &str, landed: impl FnOnce() -> bool) -> bool {
    let kill = |s: &str| {
        let _ = Command::new("kill")
            .args([&format!("-{s}"), &pid.to_string()])
            .status();
    };
    kill("STOP");
    // Stopped when every thread is (state T); a zombie or a gone process is not looked at.
    let state = |t: &std::fs::DirEntry| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.chars().next()))
            .flatten()
    };
    let start = Instant::now();
    let stopped = loop {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            break false;
        };
        let states: Vec<_> = tasks.flatten().map(|t| state(&t)).collect();
        if states.iter().any(|s| *s == Some('Z') || s.is_none()) || states.is_empty() {
            break false;
        }
        if states.iter().all(|s| *s == Some('T')) {
            break true;
        }
        if start.elapsed() > Duration::from_secs(2) {
            break false;
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let seen = stopped && landed();
    kill(sig);
    kill("CONT");
    seen
}

/// Names in `dir` that start with `.dockvm-probe-`: a verify run's probe files.
pub fn probe_files(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the share folder {dir}: {e}"))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dockvm-probe-"))
        .collect()
}

/// DOCKER_HOST as a spec's TOML text says it, read by a model independent of dockvm's loader:
/// `tcp://<[vm] hostname>:<[docker] port>`, the hostname `local.test` and the port 2375 (2376
/// with `tls = true`) when absent. Takes the simple `key = value` lines the examples use.
pub fn docker_host_of(toml_text: &str) -> String {
    let (mut table, mut hostname, mut port, mut tls) = (String::new(), None, None, false);
    for line in toml_text.lines().map(str::trim) {
        if line.starts_with('[') {
            table = line.trim_matches(['[', ']']).to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .split('#')
            .next()
            .unwrap()
            .trim()
            .trim_matches(['"', '\'']);
        match (table.as_str(), key.trim()) {
            ("vm", "hostname") => hostname = Some(value.to_owned()),
            ("docker", "port") => port = Some(value.to_owned()),
            ("docker", "tls") => tls = value == "true",
            _ => {}
        }
    }
    let port = port.unwrap_or_else(|| if tls { "2376" } else { "2375" }.to_owned());
    format!(
        "tcp://{}:{port}",
        hostname.as_deref().unwrap_or("local.test")
    )
}

/// How many runs a soak makes: `DOCKVM_SOAK_RUNS`, else `default`.
pub fn soak_runs(default: u64) -> u64 {
    std::env::var("DOCKVM_SOAK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs a command with no standard input; its output is captured through files, so only the
/// command itself is waited for, not a daemon it leaves holding its stdout (Wine's services).
pub fn output_via_files(cmd: &mut Command) -> Output {
    use std::io::Seek as _;
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .expect("the command starts");
    let read = |mut f: std::fs::File| {
        let mut b = Vec::new();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut b).unwrap();
        b
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

/// Runs a command with no standard input and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .expect("the command starts")
}

pub fn utf8_dir(t: &tempfile::TempDir) -> Utf8PathBuf {
    Utf8PathBuf::from_path_buf(t.path().to_owned()).expect("temp dirs are UTF-8 here")
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for a test's own daemon).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A valid spec whose VM is this machine's loopback, on `port`.
pub fn loopback_spec(port: u16, package: &str) -> String {
    format!(
        r#"[vm]
name = "lab"
vmx = 'D:\vmware\lab\lab.vmx'
ip = "127.0.0.1"
hostname = "local.test"

[docker]
port = {port}
package = "{package}"

[[shares]]
name = "d"
host_path = 'D:\'
"#
    )
}

/// One HTTP/1.0 GET over plain TCP: (status line, body). For tests only.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    ))
}

/// A real dockerd (Debian's docker.io) with its own data, exec root and socket, stopped on drop.
pub struct Dockerd {
    child: Child,
    /// Folders that must live as long as the daemon (its socket's).
    pub keep: Vec<tempfile::TempDir>,
    pub dir: tempfile::TempDir,
    pub socket: Utf8PathBuf,
    pub log: Utf8PathBuf,
}

impl Dockerd {
    /// Starts `argv` (a dockerd command line) with private state added; `argv` must not name
    /// the data root, exec root or pid file.
    pub fn start(argv: &[String]) -> Dockerd {
        Dockerd::start_in(None, argv)
    }

    /// Like [`Dockerd::start`], in a private mount namespace prepared by the shell commands
    /// `setup` (the "VM" view of the files); the host's mounts are untouched.
    pub fn start_in(setup: Option<&str>, argv: &[String]) -> Dockerd {
        // Short path: a unix socket path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("dvm")
            .tempdir_in("/tmp")
            .unwrap();
        let d = utf8_dir(&dir);
        let log = d.join("dockerd.log");
        let mut cmd = in_mount_ns(setup, &argv[0]);
        cmd.args(&argv[1..])
            .arg(format!("--data-root={d}/data"))
            .arg(format!("--exec-root={d}/exec"))
            .arg(format!("--pidfile={d}/dockerd.pid"))
            // This machine's network must stay as it is: no iptables rules, no bridge.
            .arg("--iptables=false")
            .arg("--bridge=none")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(d.join("dockerd.err")).unwrap());
        let child = cmd.spawn().expect("dockerd starts");
        Dockerd {
            keep: Vec::new(),
            child,
            socket: d.join("docker.sock"),
            log,
            dir,
        }
    }

    /// Waits until `GET /_ping` on `addr` answers `OK`; panics with the daemon's log if not.
    pub fn wait_ping(&mut self, addr: SocketAddr, within: Duration) {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "dockerd exited ({status}) before answering:\n{}",
                    self.stderr()
                );
            }
            if let Ok((status, body)) = http_get(addr, "/_ping", Duration::from_secs(2))
                && status.contains(" 200 ")
                && body == "OK"
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "dockerd did not answer /_ping on {addr} within {within:?}:\n{}",
            self.stderr()
        );
    }

    /// The daemon's pid (in the mount namespace `start_in` prepared: unshare and sh exec into it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(utf8_dir(&self.dir).join("dockerd.err")).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop the containerd it started; SIGKILL if it takes too long.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real dockerd for verify's tests, listening on 127.0.0.1:`port` (and a private unix
/// socket), in a private mount namespace prepared by `setup` when given.
pub fn loopback_dockerd(setup: Option<&str>) -> (Dockerd, u16) {
    let port = free_port();
    let dir = tempfile::Builder::new()
        .prefix("dvms")
        .tempdir_in("/tmp")
        .unwrap();
    let sock = utf8_dir(&dir).join("d.sock");
    let argv: Vec<String> = [
        "/usr/sbin/dockerd".to_owned(),
        "-H".to_owned(),
        format!("unix://{sock}"),
        "-H".to_owned(),
        format!("tcp://127.0.0.1:{port}"),
        "--tls=false".to_owned(),
    ]
    .into();
    let mut d = Dockerd::start_in(setup, &argv);
    d.wait_ping(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(60),
    );
    d.keep.push(dir);
    (d, port)
}

/// Runs `dockvm verify --format json` with `args`, in a private mount namespace prepared by
/// `setup` when given (the "WSL" view), with exactly the environment `env` (plus PATH).
/// Returns the exit code and the JSON report.
pub fn verify_json(
    setup: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, serde_json::Value, String) {
    let bin = env!("CARGO_BIN_EXE_dockvm");
    let mut cmd = in_mount_ns(setup, bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(["verify", "--format", "json"]).args(args);
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// The finding of check `id` in a JSON report.
pub fn finding<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// Status and reason of check `id`.
pub fn status_reason(report: &serde_json::Value, id: &str) -> (String, String) {
    let f = finding(report, id);
    (
        f["status"].as_str().unwrap().to_owned(),
        f["reason"].as_str().unwrap().to_owned(),
    )
}

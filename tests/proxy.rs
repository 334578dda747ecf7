//! `dockvm proxy` with the real docker CLI and a real dockerd: the proxy on a Unix socket (the
//! same service as the Windows pipe, whose tests are in `proxy_windows.rs`), the CLI's
//! `DOCKER_HOST` pointing at it, the daemon on loopback TCP. Windows bind sources go through the
//! spec's shares (the share's WSL path lives under a temporary automount root here, which the
//! daemon sees directly), a path in no share is refused before the daemon sees it, and every
//! stream the CLI uses (stdin's end, logs, cp, build, save and load, parallel clients) passes
//! byte for byte.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// A dockerd on loopback, a spec whose share `D:\projects` is `ROOT/d/projects`, and an image.
struct Bench {
    dockerd: Option<Dockerd>,
    port: u16,
    tmp: tempfile::TempDir,
    /// The share's folder as the daemon sees it (its WSL path).
    share: Utf8PathBuf,
    spec: Utf8PathBuf,
}

fn setup() -> Option<Bench> {
    if !require_root_and(&["dockerd", "docker", "busybox"]) {
        return None;
    }
    let (dockerd, port) = loopback_dockerd(None);
    let tmp = tempfile::Builder::new()
        .prefix("dvmpx")
        .tempdir_in("/tmp")
        .unwrap();
    let root = utf8_dir(&tmp);
    let share = root.join("d/projects");
    fs::create_dir_all(share.join("a b/项目")).unwrap();
    let spec = root.join("dockvm.toml");
    fs::write(
        &spec,
        format!(
            r#"[vm]
name = "lab"
vmx = 'D:\vmware\lab\lab.vmx'
ip = "127.0.0.1"
hostname = "local.test"

[docker]
port = {port}

[wsl]
automount_root = "{root}/"

[[shares]]
name = "projects"
host_path = 'D:\projects'
"#
        ),
    )
    .unwrap();
    let b = Bench {
        dockerd: Some(dockerd),
        port,
        tmp,
        share,
        spec,
    };
    // The image, straight to the daemon.
    let bb = utf8_dir(&b.tmp).join("bb");
    fs::create_dir_all(bb.join("bin")).unwrap();
    let which = run(Command::new("sh").args(["-c", "command -v busybox"]));
    fs::copy(
        String::from_utf8_lossy(&which.stdout).trim(),
        bb.join("bin/busybox"),
    )
    .unwrap();
    for l in [
        "sh",
        "cat",
        "sleep",
        "echo",
        "sha256sum",
        "head",
        "true",
        "ls",
        "wc",
    ] {
        std::os::unix::fs::symlink("busybox", bb.join("bin").join(l)).unwrap();
    }
    let tar = utf8_dir(&b.tmp).join("bb.tar");
    assert!(
        run(Command::new("tar").args(["-C", bb.as_str(), "-cf", tar.as_str(), "."]))
            .status
            .success()
    );
    let out = b.docker_direct(&["import", tar.as_str(), "bb"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(b)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running `dockvm proxy --unix`, killed on drop.
struct Proxy {
    child: Child,
    sock: Utf8PathBuf,
    err: Utf8PathBuf,
}

impl Proxy {
    fn start(b: &Bench, sock: &Utf8Path) -> Proxy {
        let err = Utf8PathBuf::from(format!("{sock}.log"));
        let child = dockvm()
            .args(["proxy", "--spec", b.spec.as_str(), "--unix", sock.as_str()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let p = Proxy {
            child,
            sock: sock.to_owned(),
            err,
        };
        let start = Instant::now();
        while UnixStream::connect(&p.sock).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the proxy did not listen: {}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bench {
    fn docker_with(&self, host: &str, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", utf8_dir(&self.tmp).as_str())
            .env(
                "DOCKER_CONFIG",
                utf8_dir(&self.tmp).join("docker-config").as_str(),
            )
            .env("DOCKER_HOST", host)
            .env("DOCKER_BUILDKIT", "0")
            .args(args);
        c
    }

    fn docker_direct(&self, args: &[&str]) -> Output {
        run(&mut self.docker_with(&format!("tcp://127.0.0.1:{}", self.port), args))
    }

    fn docker(&self, p: &Proxy, args: &[&str]) -> Output {
        run(&mut self.docker_with(&format!("unix://{}", p.sock), args))
    }

    fn docker_stdin(&self, p: &Proxy, args: &[&str], input: &Utf8Path) -> Output {
        self.docker_with(&format!("unix://{}", p.sock), args)
            .stdin(fs::File::open(input).unwrap())
            .output()
            .unwrap()
    }

    fn containers(&self) -> Vec<String> {
        let out = self.docker_direct(&["ps", "-aq", "--no-trunc"]);
        text(&out.stdout).lines().map(str::to_owned).collect()
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn sha(p: &Utf8Path) -> String {
    let mut h = Sha256::new();
    h.update(fs::read(p).unwrap());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` bytes that are not a repeating pattern (xorshift).
fn random_file(p: &Utf8Path, n: usize) {
    let mut f = std::io::BufWriter::new(fs::File::create(p).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    let mut left = n;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        let k = left.min(8);
        f.write_all(&b[..k]).unwrap();
        left -= k;
    }
}

#[test]
fn windows_bind_sources_reach_the_share_and_others_are_refused() {
    let Some(b) = setup() else { return };
    let p = Proxy::start(&b, &utf8_dir(&b.tmp).join("p.sock"));
    fs::write(b.share.join("file"), "in the share\n").unwrap();
    fs::write(b.share.join("a b/项目/file"), "deep\n").unwrap();
    assert_eq!(
        ok(&b.docker(&p, &["version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
    for (args, want) in [
        (vec!["-v", r"D:\projects:/p"], "in the share\n"),
        (vec!["-v", "d:/projects:/p:ro"], "in the share\n"),
        (vec!["-v", r"d:\PROJECTS\\:/p"], "in the share\n"),
        (vec!["-v", r"\\?\D:\projects:/p"], "in the share\n"),
        (
            vec!["--mount", r"type=bind,source=D:\projects,target=/p"],
            "in the share\n",
        ),
        (
            vec![
                "--mount",
                r#"type=bind,"source=D:\projects\a b\项目",target=/p"#,
            ],
            "deep\n",
        ),
        (vec!["-v", r"D:\projects\a b\项目:/p"], "deep\n"),
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend(&args);
        a.extend(["bb", "cat", "/p/file"]);
        assert_eq!(ok(&b.docker(&p, &a)), want, "{args:?}");
    }
    // A Linux path and a named volume pass unchanged.
    let linux = b.share.join("file");
    let src = format!("{}:/p/file", linux);
    assert_eq!(
        ok(&b.docker(&p, &["run", "--rm", "-v", &src, "bb", "cat", "/p/file"])),
        "in the share\n"
    );
    assert_eq!(
        ok(&b.docker(&p, &["run", "--rm", "-v", "dvmpx-vol:/v", "bb", "ls", "/v"])),
        ""
    );
    ok(&b.docker(&p, &["volume", "rm", "dvmpx-vol"]));
    // A bind volume on a Windows folder: its device is translated too.
    ok(&b.docker(
        &p,
        &[
            "volume",
            "create",
            "--opt",
            "type=none",
            "--opt",
            "o=bind",
            "--opt",
            r"device=D:\projects\a b",
            "dvmpx-bind",
        ],
    ));
    let out = b.docker_direct(&[
        "volume",
        "inspect",
        "--format",
        "{{.Options.device}}",
        "dvmpx-bind",
    ]);
    assert_eq!(ok(&out), format!("{}/a b\n", b.share));
    assert_eq!(
        ok(&b.docker(
            &p,
            &[
                "run",
                "--rm",
                "-v",
                "dvmpx-bind:/p",
                "bb",
                "cat",
                "/p/项目/file"
            ]
        )),
        "deep\n"
    );
    ok(&b.docker(&p, &["volume", "rm", "dvmpx-bind"]));

    // Outside every share: refused with the shares named, and no container is created.
    let before = b.containers();
    for args in [
        vec!["-v", r"E:\elsewhere:/p"],
        vec!["-v", r"D:\other:/p"],
        vec!["--mount", r"type=bind,source=C:\Users\me,target=/p"],
        vec!["-v", r"\\server\share:/p"],
        vec!["-v", r"D:relative:/p"],
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend(&args);
        a.extend(["bb", "true"]);
        let out = b.docker(&p, &a);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert!(
            err.contains("Error response from daemon: dockvm proxy: "),
            "{args:?}: {err}"
        );
        if !args[1].contains("relative") {
            assert!(
                err.contains(r"D:\projects"),
                "{args:?}: the shares are named: {err}"
            );
        }
    }
    assert_eq!(b.containers(), before, "a refused create made a container");
    assert!(p.log().contains("refused POST"), "{}", p.log());
}

#[test]
fn streams_pass_byte_for_byte() {
    let Some(b) = setup() else { return };
    let dir = utf8_dir(&b.tmp);
    let p = Proxy::start(&b, &dir.join("p.sock"));

    // stdin's end reaches the container (run -i), 10 MB both ways.
    let ten = dir.join("ten");
    random_file(&ten, 10 << 20);
    let out = b.docker_stdin(&p, &["run", "--rm", "-i", "bb", "cat"], &ten);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), 10 << 20);
    assert!(
        out.stdout == fs::read(&ten).unwrap(),
        "run -i cat changed the bytes"
    );

    // exec -i, into a running container.
    ok(&b.docker(
        &p,
        &["run", "-d", "--name", "dvmpx-long", "bb", "sleep", "300"],
    ));
    let out = b.docker_stdin(&p, &["exec", "-i", "dvmpx-long", "sha256sum"], &ten);
    assert_eq!(ok(&out).split_whitespace().next().unwrap(), sha(&ten));

    // docker cp, 200 MB each way.
    let big = dir.join("big");
    random_file(&big, 200 << 20);
    ok(&b.docker(&p, &["cp", big.as_str(), "dvmpx-long:/big"]));
    let back = dir.join("back");
    ok(&b.docker(&p, &["cp", "dvmpx-long:/big", back.as_str()]));
    assert_eq!(
        sha(&back),
        sha(&big),
        "cp through the proxy changed the bytes"
    );
    ok(&b.docker(&p, &["rm", "-f", "dvmpx-long"]));

    // logs -f of a container that ends: the stream ends with it.
    let id = ok(&b.docker(
        &p,
        &[
            "run",
            "-d",
            "bb",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 0.2; done",
        ],
    ));
    let out = b.docker(&p, &["logs", "-f", id.trim()]);
    assert_eq!(ok(&out), "1\n2\n3\n");
    ok(&b.docker(&p, &["rm", id.trim()]));

    // build with a context in the share (a chunked request body), then save and load.
    fs::create_dir_all(b.share.join("ctx")).unwrap();
    fs::write(b.share.join("ctx/Dockerfile"), "FROM bb\nCOPY ten /ten\n").unwrap();
    fs::copy(&ten, b.share.join("ctx/ten")).unwrap();
    ok(&b.docker(
        &p,
        &[
            "build",
            "-q",
            "-t",
            "dvmpx-built",
            b.share.join("ctx").as_str(),
        ],
    ));
    let out = b.docker(&p, &["run", "--rm", "dvmpx-built", "sha256sum", "/ten"]);
    assert_eq!(ok(&out).split_whitespace().next().unwrap(), sha(&ten));
    let saved = dir.join("saved.tar");
    ok(&b.docker(&p, &["save", "-o", saved.as_str(), "dvmpx-built"]));
    ok(&b.docker(&p, &["rmi", "dvmpx-built"]));
    ok(&b.docker(&p, &["load", "-i", saved.as_str()]));
    let out = b.docker(&p, &["run", "--rm", "dvmpx-built", "sha256sum", "/ten"]);
    assert_eq!(ok(&out).split_whitespace().next().unwrap(), sha(&ten));
    ok(&b.docker(&p, &["rmi", "dvmpx-built"]));
}

#[test]
fn sixteen_parallel_clients() {
    let Some(b) = setup() else { return };
    let p = Proxy::start(&b, &utf8_dir(&b.tmp).join("p.sock"));
    fs::write(b.share.join("file"), "shared\n").unwrap();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let (b, p) = (&b, &p);
                s.spawn(move || {
                    let out = b.docker(
                        p,
                        &[
                            "run",
                            "--rm",
                            "-v",
                            r"D:\projects:/p",
                            "bb",
                            "sh",
                            "-c",
                            &format!("echo {i}; cat /p/file"),
                        ],
                    );
                    (i, out)
                })
            })
            .collect();
        for h in hs {
            let (i, out) = h.join().unwrap();
            assert_eq!(ok(&out), format!("{i}\nshared\n"));
        }
    });
}

/// The number of TCP connections the process `pid` has to `port`.
fn connections_to(pid: u32, port: u16) -> usize {
    let out = run(Command::new("ss").args([
        "-Htnp",
        "state",
        "established",
        "dport",
        "=",
        &format!(":{port}"),
    ]));
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("pid={pid},")))
        .count()
}

#[test]
fn a_client_killed_mid_stream_ends_its_vm_side_and_the_proxy_serves_on() {
    let Some(b) = setup() else { return };
    if !require(have("ss"), "needs ss (iproute2)") {
        return;
    }
    let p = Proxy::start(&b, &utf8_dir(&b.tmp).join("p.sock"));
    ok(&b.docker(
        &p,
        &[
            "run",
            "-d",
            "--name",
            "dvmpx-talker",
            "bb",
            "sh",
            "-c",
            "while true; do echo tick; sleep 0.1; done",
        ],
    ));
    let mut follower = b
        .docker_with(
            &format!("unix://{}", p.sock),
            &["logs", "-f", "dvmpx-talker"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = p.child.id();
    let start = Instant::now();
    while connections_to(pid, b.port) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no VM connection for logs -f"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    follower.kill().unwrap();
    follower.wait().unwrap();
    let start = Instant::now();
    while connections_to(pid, b.port) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the proxy kept streaming logs to a client that is gone"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        ok(&b.docker(&p, &["version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
    ok(&b.docker(&p, &["rm", "-f", "dvmpx-talker"]));
}

#[test]
fn the_vm_s_dockerd_restarted_under_a_running_proxy() {
    let Some(mut b) = setup() else { return };
    let p = Proxy::start(&b, &utf8_dir(&b.tmp).join("p.sock"));
    assert_eq!(
        ok(&b.docker(&p, &["version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
    // The daemon gone: the proxy tells the CLI why, in the daemon's error format.
    b.dockerd = None;
    let out = b.docker(&p, &["version", "--format", "{{.Server.Os}}"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("dockvm proxy: cannot reach the Docker Engine of VM lab at http://127.0.0.1:")
            && err.contains("dockvm up"),
        "{err}"
    );
    // Back again: the next request works through the same proxy.
    b.dockerd = Some(loopback_dockerd_on(b.port));
    assert_eq!(
        ok(&b.docker(&p, &["version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
}

/// Another dockerd on loopback `port` (the one a test's spec names).
fn loopback_dockerd_on(port: u16) -> Dockerd {
    let dir = tempfile::Builder::new()
        .prefix("dvms")
        .tempdir_in("/tmp")
        .unwrap();
    let sock = utf8_dir(&dir).join("d.sock");
    let argv: Vec<String> = vec![
        "/usr/sbin/dockerd".into(),
        "-H".into(),
        format!("unix://{sock}"),
        "-H".into(),
        format!("tcp://127.0.0.1:{port}"),
        "--tls=false".into(),
    ];
    let mut d = Dockerd::start(&argv);
    d.wait_ping(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(60),
    );
    d.keep.push(dir);
    d
}

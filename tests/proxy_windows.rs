//! `dockvm.exe proxy` with the real docker.exe (built with the real go-winio), both under Wine
//! on the lab's WSL side, against the lab VM's dockerd, plain and TLS, with no DOCKER_HOST: the
//! Windows CLI's default endpoint, `\\.\pipe\docker_engine`, is the proxy's. `dockvm.exe up`
//! starts the proxy (its lifecycle), `down` stops it. Each docker.exe runs in a new cmd.
//!
//! What Wine cannot show: a second user refused by the pipe's DACL (every Wine process runs as
//! one user), so the descriptor is read back instead (`tests/fixtures/pipe-info.c`).

mod support;

use camino::Utf8PathBuf;
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::lab::*;
use support::wine::*;
use support::winside::*;
use support::*;

const PIPE: &str = r"\\.\pipe\docker_engine";

/// One of these tests at a time: each runs dozens of Wine processes against its own lab, and
/// three at once on two cores starved Wine's process start in CI (a proxy not up in 30 s, a
/// cmd that could not start dockvm.exe).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn spec_arg(spec: &str) -> String {
    Wine::win(&Utf8PathBuf::from(format!(
        "{}/{spec}",
        env!("CARGO_MANIFEST_DIR")
    )))
}

/// A lab with the pipe spec, its Windows side as install leaves it (no DOCKER_HOST), and the
/// busybox image imported straight into the VM's dockerd.
fn side(name: &'static str, spec: &'static str) -> Option<WinSide> {
    if !windows_side_can_run() {
        return None;
    }
    let w = WinSide::up_with(name, &[], spec);
    let sock = format!("{}/vm/docker.sock", w.lab.dir());
    let out = run(Command::new("docker").args([
        "-H",
        &format!("unix://{sock}"),
        "import",
        &w.lab.busybox_tar(),
        "lab-busybox",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(w)
}

/// `dockvm.exe up` (it starts the proxy): exit code and its JSON events.
fn up(w: &WinSide, spec: &str) -> (i32, Vec<serde_json::Value>, String) {
    let exe = Wine::win(&w.exe);
    let s = spec_arg(spec);
    let out = w.wine(&[
        &exe,
        "up",
        "--spec",
        &s,
        "--format",
        "json",
        "--wait",
        "60s",
        "--timeout",
        "10s",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let events = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        events,
        format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn stage<'a>(events: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["stage"] == name).collect()
}

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

/// The VM's containers, straight from its daemon: (name, binds).
fn containers(w: &WinSide) -> Vec<(String, Vec<String>)> {
    let sock = format!("{}/vm/docker.sock", w.lab.dir());
    let ps = run(Command::new("curl").args([
        "-s",
        "--unix-socket",
        &sock,
        "http://docker/containers/json?all=1",
    ]));
    let list: serde_json::Value = serde_json::from_slice(&ps.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["Labels"]["dockvm.probe"].is_null())
        .map(|c| {
            let id = c["Id"].as_str().unwrap();
            let i = run(Command::new("curl").args([
                "-s",
                "--unix-socket",
                &sock,
                &format!("http://docker/containers/{id}/json"),
            ]));
            let v: serde_json::Value = serde_json::from_slice(&i.stdout).unwrap_or_else(|e| {
                panic!(
                    "container {id} cannot be inspected ({e}): {}",
                    String::from_utf8_lossy(&i.stdout)
                )
            });
            let binds = v["HostConfig"]["Binds"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .map(|x| x.as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (c["Names"][0].as_str().unwrap_or("").to_owned(), binds)
        })
        .collect()
}

/// The bodies of the `POST /containers/create` requests the lab VM's dockerd received, in
/// order, from its `--debug` log ("Calling POST ..." then "form data: {json}", logrus-quoted).
fn daemon_creates(w: &WinSide) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(format!("{}/vm/dockerd.log", w.lab.dir())).unwrap();
    let msg = |l: &str| -> Option<String> {
        let q = l.split_once(" msg=\"")?.1;
        let q = q.strip_suffix('"').unwrap_or(q);
        let mut out = String::new();
        let mut chars = q.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                out.extend(chars.next());
            } else {
                out.push(c);
            }
        }
        Some(out)
    };
    let mut bodies = Vec::new();
    let mut create = false;
    for m in text.lines().filter_map(msg) {
        if let Some(call) = m.strip_prefix("Calling ") {
            create = call.starts_with("POST ") && call.ends_with("/containers/create");
        } else if let Some(json) = m.strip_prefix("form data: ")
            && std::mem::take(&mut create)
        {
            bodies.push(serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}")));
        }
    }
    bodies
}

fn sha(p: &str) -> String {
    let out = run(Command::new("sha256sum").arg(p));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned()
}

fn random_file(p: &str, mb: usize) {
    let out =
        run(Command::new("sh").args(["-c", &format!("head -c {}M /dev/urandom > '{p}'", mb)]));
    assert!(out.status.success());
}

#[test]
fn docker_exe_through_the_proxy_on_docker_s_pipe() {
    let _one = one_at_a_time();
    let Some(w) = side("pxw", PIPE_SPEC) else {
        return;
    };
    let share = format!("{}/windows-d/projects", w.lab.dir());
    fs::write(format!("{share}/hello.txt"), "written on Windows\n").unwrap();
    fs::create_dir_all(format!("{share}/a b/项目")).unwrap();
    fs::write(format!("{share}/a b/项目/deep.txt"), "deep\n").unwrap();

    // Nothing on the pipe yet: docker.exe says so, in its own words.
    let (code, _, err) = w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"]);
    assert_ne!(code, 0);
    assert!(err.contains("docker_engine"), "{err}");

    // `up` starts the proxy; its verify passes, the endpoint check with it.
    let (code, events, all) = up(&w, PIPE_SPEC);
    assert_eq!(code, 0, "{all}");
    let proxy = stage(&events, "proxy");
    let last = proxy.last().expect("a proxy stage");
    assert_eq!(last["state"], "ok", "{all}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .starts_with("started (pid "),
        "{all}"
    );
    // A second up finds it running.
    let (code, events, all) = up(&w, PIPE_SPEC);
    assert_eq!(code, 0, "{all}");
    let again = stage(&events, "proxy");
    assert!(
        again.last().unwrap()["detail"]
            .as_str()
            .unwrap()
            .starts_with("running (pid "),
        "{all}"
    );
    let (_, report) = w.verify(&[]);
    let e = finding(&report, "endpoint");
    assert_eq!(e["status"], "pass", "{e}");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains(r"a bind of D:\projects through it reaches the share"),
        "{e}"
    );
    assert_eq!(
        finding(&report, "env")["status"],
        "pass",
        "{}",
        finding(&report, "env")
    );

    // No DOCKER_HOST anywhere: docker.exe's default endpoint is the proxy.
    assert_eq!(
        ok(w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
    assert_eq!(
        ok(w.cmd(&["docker", "info", "--format", "{{.OSType}}"])),
        "linux\n"
    );

    // Each bind form from cmd.
    for (args, want) in [
        (vec!["-v", r"D:\projects:/p"], "written on Windows\n"),
        (vec!["-v", "d:/projects:/p"], "written on Windows\n"),
        (vec!["-v", r"D:\Projects\:/p:ro"], "written on Windows\n"),
        (
            vec!["--mount", r"type=bind,source=D:\projects,target=/p"],
            "written on Windows\n",
        ),
    ] {
        let mut words = vec!["docker", "run", "--rm"];
        words.extend(&args);
        words.extend(["lab-busybox", "cat", "/p/hello.txt"]);
        assert_eq!(ok(w.cmd(&words)), want, "{args:?}");
    }
    // A Chinese folder with a space, each way (as argv words: Wine 8's cmd reads a batch file
    // in the ANSI code page whatever `chcp` says), and %CD% from a folder in the share.
    for args in [
        vec![
            "--mount",
            r"type=bind,source=D:\projects\a b\项目,target=/p",
        ],
        vec!["-v", r"D:\projects\a b\项目:/p"],
    ] {
        let mut words = vec!["docker", "run", "--rm"];
        words.extend(&args);
        words.extend(["lab-busybox", "cat", "/p/deep.txt"]);
        assert_eq!(ok(w.cmd(&words)), "deep\n", "{args:?}");
    }
    let (code, out, err) = w.batch(
        "cd",
        &[
            r"@cd /d D:\projects",
            "@docker run --rm -v %CD%:/p lab-busybox cat /p/hello.txt",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "written on Windows\n"), "{err}");

    // A folder in no share: refused before the daemon sees it; no container is made.
    let before = containers(&w);
    let (code, _, err) = w.cmd(&[
        "docker",
        "run",
        "--rm",
        "-v",
        r"D:\elsewhere:/p",
        "lab-busybox",
        "true",
    ]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains(r"Error response from daemon: dockvm proxy: D:\elsewhere is not inside a share of VM lab")
            && err.contains(r"D:\projects (/mnt/d/projects)"),
        "{err}"
    );
    assert_eq!(containers(&w), before);

    // Streams: stdin's end (run -i), 10 MB each way, byte for byte.
    random_file(&format!("{share}/ten"), 10);
    ok(w.batch(
        "runi",
        &[r"@docker run --rm -i lab-busybox cat < D:\projects\ten > D:\projects\ten.out"],
    ));
    assert_eq!(
        sha(&format!("{share}/ten.out")),
        sha(&format!("{share}/ten")),
        "run -i"
    );
    // exec -i into a running container, and docker cp of 200 MB both ways.
    ok(w.cmd(&[
        "docker",
        "run",
        "-d",
        "--name",
        "long",
        "lab-busybox",
        "sleep",
        "600",
    ]));
    ok(w.batch(
        "execi",
        &[
            r#"@docker exec -i long sh -c "cat > /ten" < D:\projects\ten"#,
            r"@docker exec long busybox sha256sum /ten > D:\projects\ten.sum",
        ],
    ));
    let sum = fs::read_to_string(format!("{share}/ten.sum")).unwrap();
    assert_eq!(
        sum.split_whitespace().next().unwrap(),
        sha(&format!("{share}/ten")),
        "exec -i"
    );
    random_file(&format!("{share}/big"), 200);
    ok(w.cmd(&["docker", "cp", r"D:\projects\big", "long:/big"]));
    ok(w.cmd(&["docker", "cp", "long:/big", r"D:\projects\big.back"]));
    assert_eq!(
        sha(&format!("{share}/big.back")),
        sha(&format!("{share}/big")),
        "docker cp"
    );
    for f in ["big", "big.back"] {
        fs::remove_file(format!("{share}/{f}")).unwrap();
    }
    ok(w.cmd(&["docker", "rm", "-f", "long"]));
    // logs -f of a container that ends: the stream ends with it.
    let id = ok(w.cmd(&[
        "docker",
        "run",
        "-d",
        "lab-busybox",
        "sh",
        "-c",
        "echo 1; sleep 1; echo 2",
    ]));
    assert_eq!(ok(w.cmd(&["docker", "logs", "-f", id.trim()])), "1\n2\n");
    ok(w.cmd(&["docker", "rm", id.trim()]));
    // build with a context under D:\ (a chunked body), then save and load.
    fs::create_dir_all(format!("{share}/ctx")).unwrap();
    fs::write(
        format!("{share}/ctx/Dockerfile"),
        "FROM lab-busybox\nCOPY hello.txt /h\n",
    )
    .unwrap();
    fs::copy(
        format!("{share}/hello.txt"),
        format!("{share}/ctx/hello.txt"),
    )
    .unwrap();
    ok(w.batch(
        "build",
        &[
            "@set DOCKER_BUILDKIT=0",
            r"@docker build -q -t built D:\projects\ctx",
        ],
    ));
    assert_eq!(
        ok(w.cmd(&["docker", "run", "--rm", "built", "cat", "/h"])),
        "written on Windows\n"
    );
    ok(w.cmd(&["docker", "save", "-o", r"D:\projects\built.tar", "built"]));
    ok(w.cmd(&["docker", "rmi", "built"]));
    ok(w.cmd(&["docker", "load", "-i", r"D:\projects\built.tar"]));
    assert_eq!(
        ok(w.cmd(&["docker", "run", "--rm", "built", "cat", "/h"])),
        "written on Windows\n"
    );

    // 16 docker.exe at once.
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let w = &w;
                s.spawn(move || {
                    let r = w.cmd(&[
                        "docker",
                        "run",
                        "--rm",
                        "-v",
                        r"D:\projects:/p",
                        "lab-busybox",
                        "sh",
                        "-c",
                        &format!("echo {i}; cat /p/hello.txt"),
                    ]);
                    (i, r)
                })
            })
            .collect();
        for h in hs {
            let (i, r) = h.join().unwrap();
            assert_eq!(ok(r), format!("{i}\nwritten on Windows\n"));
        }
    });

    // The pipe as a client reads it: message mode, a DACL of SYSTEM and this user only.
    let info_exe = w.fixture_exe("pipe-info", &["-ladvapi32"]);
    let info = ok(w.cmd(&[&info_exe, PIPE]));
    let user = info
        .lines()
        .find_map(|l| l.strip_prefix("user "))
        .expect(&info)
        .to_owned();
    assert!(info.contains("type message\n"), "{info}");
    assert!(
        info.contains(&format!("sddl D:P(A;;GA;;;SY)(A;;GA;;;{user})\n")),
        "the DACL admits only SYSTEM and {user}: {info}"
    );
    // A second proxy refuses, naming the first.
    let exe = Wine::win(&w.exe);
    let s = spec_arg(PIPE_SPEC);
    let (code, _, err) = w.cmd(&[&exe, "proxy", "--spec", &s]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{PIPE} is already served by ")) && err.contains("dockvm.exe (pid "),
        "{err}"
    );

    // status says who serves the pipe; down stops the proxy (the VM is already off here).
    let st = ok(w.cmd(&[&exe, "status", "--spec", &s]));
    assert!(st.contains("proxy     running (pid "), "{st}");
    assert!(
        st.contains(
            "npipe:////./pipe/docker_engine: dockvm proxy (no DOCKER_HOST, no context) (this VM)"
        ),
        "{st}"
    );
    w.vmrun_says(&[], "");
    let (code, out, err) = w.cmd(&[&exe, "down", "--spec", &s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("stopped (pid "), "{out}");
    let (code, _, err) = w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"]);
    assert_ne!(code, 0, "the pipe outlived down");
    assert!(err.contains("docker_engine"), "{err}");
}

#[test]
fn docker_exe_through_the_proxy_over_tls() {
    let _one = one_at_a_time();
    let Some(w) = side("pxt", PIPE_TLS_SPEC) else {
        return;
    };
    let share = format!("{}/windows-d/projects", w.lab.dir());
    fs::write(format!("{share}/hello.txt"), "over TLS\n").unwrap();
    let (code, events, all) = up(&w, PIPE_TLS_SPEC);
    assert_eq!(code, 0, "{all}");
    assert_eq!(stage(&events, "proxy").last().unwrap()["state"], "ok");
    // No DOCKER_HOST, no DOCKER_TLS_VERIFY: TLS is the proxy's.
    assert_eq!(
        ok(w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
    assert_eq!(
        ok(w.cmd(&[
            "docker",
            "run",
            "--rm",
            "-v",
            r"D:\projects:/p",
            "lab-busybox",
            "cat",
            "/p/hello.txt"
        ])),
        "over TLS\n"
    );
    random_file(&format!("{share}/ten"), 10);
    ok(w.batch(
        "runi",
        &[r"@docker run --rm -i lab-busybox cat < D:\projects\ten > D:\projects\ten.out"],
    ));
    assert_eq!(
        sha(&format!("{share}/ten.out")),
        sha(&format!("{share}/ten")),
        "run -i over TLS"
    );
    let (code, _, err) = w.cmd(&[
        "docker",
        "run",
        "--rm",
        "-v",
        r"C:\Users:/p",
        "lab-busybox",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(err.contains("not inside a share"), "{err}");
    let (_, report) = w.verify(&[]);
    assert_eq!(
        finding(&report, "endpoint")["status"],
        "pass",
        "{}",
        finding(&report, "endpoint")
    );
}

/// A background command, killed and waited for on drop (a proxy's Wine process itself goes
/// with `kill_proxies`, or with the lab).
struct Bg(std::process::Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Wine program on the lab's WSL side, not waited for: `args` after `wine`, no DOCKER_HOST,
/// no standard streams (the caller may give stderr).
fn wine_bg(w: &WinSide, args: &[&str]) -> Command {
    let mut c = Command::new("ci/lab/lab");
    c.args(["wsl", w.lab.name, "env", "-u", "DOCKER_HOST"])
        .arg(format!("WINEPREFIX={}", w.prefix))
        .args(["WINEDEBUG=-all", WINE])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Starts `dockvm.exe proxy` under Wine in the background, its stderr in `log`, and waits
/// until it says it serves.
///
/// A start that prints nothing at all in 30 s is Wine's, not dockvm's: the first thing
/// dockvm.exe does is bind the pipe and say so, or say why not. Seen once in 400 starts of the
/// kill soak in CI (an empty log); it is killed, said, and started once more, and a second
/// such start fails the test.
fn start_proxy(w: &WinSide, log: &str) -> Bg {
    let exe = Wine::win(&w.exe);
    let s = spec_arg(PIPE_SPEC);
    for attempt in 0..2 {
        let _ = fs::remove_file(log);
        let bg = wine_bg(w, &[&exe, "proxy", "--verbose", "--spec", &s])
            .stderr(fs::File::create(log).unwrap())
            .spawn()
            .map(Bg)
            .unwrap();
        let start = Instant::now();
        loop {
            let said = fs::read_to_string(log).unwrap_or_default();
            if said.contains("serving") {
                return bg;
            }
            let waited = start.elapsed();
            if !said.is_empty() && waited > Duration::from_secs(60) {
                panic!("the proxy did not start in 60 s: {said}");
            }
            if said.is_empty() && waited > Duration::from_secs(30) {
                assert_eq!(
                    attempt, 0,
                    "Wine started no dockvm.exe proxy twice: nothing in its log for 30 s"
                );
                eprintln!("Wine's start of dockvm.exe proxy said nothing in 30 s: started again");
                kill_proxies(w);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    unreachable!("the second start returned or failed above")
}

/// The processes of this lab's WSL side (its network namespace: the labs share one pid
/// namespace, so a `pkill` would reach the other tests' labs) whose command line holds
/// `pattern`.
fn lab_pids(w: &WinSide, pattern: &str) -> Vec<String> {
    let ns = format!("dvm-{}-wsl", w.lab.name);
    let out = run(Command::new("ip").args(["netns", "pids", &ns]));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(pattern)
                })
                .unwrap_or(false)
        })
        .map(str::to_owned)
        .collect()
}

/// Kills this lab's processes matching `pattern` and waits until they are gone.
fn kill_in_lab(w: &WinSide, pattern: &str) {
    let start = Instant::now();
    loop {
        let pids = lab_pids(w, pattern);
        if pids.is_empty() {
            return;
        }
        let _ = run(Command::new("kill").arg("-KILL").args(&pids));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{pattern} outlived SIGKILL: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills this lab's proxies (their Wine processes).
fn kill_proxies(w: &WinSide) {
    kill_in_lab(w, "dockvm.exe proxy");
}

/// Connections to the VM's port from the lab's WSL side: the proxy's alone here (docker.exe
/// talks to the pipe; Wine names the process after its thread, so not by name).
fn vm_connections(w: &WinSide) -> usize {
    let out = w
        .lab
        .wsl(&["ss", "-Htnp", "state", "established", "dport", "=", ":2375"]);
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn the_proxy_survives_the_vm_s_restarts_its_clients_deaths_and_its_own() {
    let _one = one_at_a_time();
    let Some(w) = side("pxf", PIPE_SPEC) else {
        return;
    };
    let log = format!("{}/proxy.err", w.lab.dir());
    let _proxy = start_proxy(&w, &log);
    assert_eq!(
        ok(w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );

    // The VM's dockerd restarted under the running proxy: the next request works.
    w.lab.restart_dockerd();
    assert_eq!(
        ok(w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );

    // A client killed mid-stream: the proxy ends its VM side and serves on.
    ok(w.cmd(&[
        "docker",
        "run",
        "-d",
        "--name",
        "talker",
        "lab-busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.1; done",
    ]));
    let idle = vm_connections(&w);
    let mut follower = wine_bg(&w, &["cmd", "/c", "docker", "logs", "-f", "talker"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    while vm_connections(&w) <= idle {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no VM connection for logs -f: {}",
            String::from_utf8_lossy(&w.lab.wsl(&["ss", "-Htnp"]).stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    kill_in_lab(&w, "docker logs -f talker");
    let _ = follower.wait();
    let start = Instant::now();
    while vm_connections(&w) > idle {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the proxy streams logs to a client that is gone"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        ok(w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
    ok(w.cmd(&["docker", "rm", "-f", "talker"]));

    // The proxy killed at random moments of a create: what the daemon has is whole (its create
    // is atomic) and carries the translated bind, never the Windows path; the next proxy starts.
    // Every moment is tied to what the proxy's --verbose log shows, never to a window timed
    // beforehand (on a busier machine such moments all fell after the create): a quarter within
    // 20 ms of the create reaching the proxy, a quarter within 1 ms of it (the proxy reading,
    // rewriting, forwarding it), half within 2 ms of docker.exe's first request, its ping
    // (before the create is sent; on a loaded machine some of these come after it).
    kill_proxies(&w);
    let create_cmd = |w: &WinSide| {
        let words = [
            "cmd",
            "/c",
            "docker",
            "create",
            "-v",
            r"D:\projects:/p",
            "lab-busybox",
            "true",
        ];
        wine_bg(w, &words).spawn().unwrap()
    };
    let logged = |what: &str| fs::read_to_string(&log).unwrap_or_default().contains(what);
    let before = containers(&w).len();
    let seen_before = daemon_creates(&w).len();
    let runs = soak_runs(100);
    let mut moments = Moments::new();
    let mut count = before;
    for i in 0..runs {
        kill_proxies(&w);
        let _p = start_proxy(&w, &log);
        let mut create = create_cmd(&w);
        let (event, within_us) = match i % 4 {
            0 => ("/containers/create", 20_000),
            1 => ("/containers/create", 1_000),
            _ => ("/_ping", 2_000),
        };
        let start = Instant::now();
        while !logged(event) && create.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "run {i}: no {event} request reached the proxy in 60 s"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        std::thread::sleep(Duration::from_micros(moments.next() % within_us));
        kill_proxies(&w);
        let status = create.wait().unwrap();
        let now = containers(&w);
        for (name, binds) in &now {
            assert!(
                !binds.is_empty() && binds.iter().all(|b| b.starts_with("/mnt/d/projects:")),
                "run {i} (seed {}): container {name} has {binds:?}",
                moments.seed
            );
        }
        // docker.exe's word agrees with the daemon: a create it says was made is there (a
        // failed one may be there too, when the proxy died after the daemon made it).
        assert!(
            now.len() == count || now.len() == count + 1,
            "run {i}: {} containers after {count}",
            now.len()
        );
        if status.success() {
            assert_eq!(
                now.len(),
                count + 1,
                "run {i} (seed {}): docker create succeeded but the daemon has no new container",
                moments.seed
            );
        }
        count = now.len();
    }
    let made = containers(&w).len() - before;
    // The independent record: every create the VM's dockerd itself received (its --debug log),
    // not what the proxy or docker.exe say. Each carries the translated bind and nothing else
    // (the daemon would refuse an untranslated `D:\projects:/p` by itself, so containers alone
    // could not tell), and each made one container (a create is atomic).
    let seen = daemon_creates(&w).split_off(seen_before);
    for body in &seen {
        assert_eq!(
            body["HostConfig"]["Binds"],
            serde_json::json!(["/mnt/d/projects:/p"]),
            "a create reached the daemon with {body} (seed {})",
            moments.seed
        );
    }
    assert_eq!(
        seen.len(),
        made,
        "the daemon received {} creates and made {made} containers (seed {})",
        seen.len(),
        moments.seed
    );
    eprintln!(
        "{runs} proxies killed during a create: {made} creates were made whole, {} never reached the daemon",
        runs as usize - made
    );
    // Both sides of the moment were hit, or the soak proved little.
    assert!(
        made * 10 >= runs as usize && (runs as usize - made) * 10 >= runs as usize,
        "{made} of {runs} creates reached the daemon (seed {}): the moments missed the create",
        moments.seed
    );
    let _p = start_proxy(&w, &log);
    assert_eq!(
        ok(w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"])),
        "linux\n"
    );
    kill_proxies(&w);
}

/// Regression: a client that opened the waiting instance and closed it before the proxy's
/// `ConnectNamedPipe` made that call fail with `ERROR_NO_DATA`, which ended the proxy (dockvm's
/// own probes, health checkers and Go's `os.Stat` of the pipe all open and close at once).
#[test]
fn a_thousand_clients_that_hang_up_at_once_do_not_end_the_proxy() {
    let _one = one_at_a_time();
    let Some(w) = side("pxs", PIPE_SPEC) else {
        return;
    };
    let strays = w.fixture_exe("pipe-strays", &[]);
    let log = format!("{}/proxy.err", w.lab.dir());
    let _proxy = start_proxy(&w, &log);
    let version = || ok(w.cmd(&["docker", "version", "--format", "{{.Server.Os}}"]));
    assert_eq!(version(), "linux\n");
    // Four rounds of 250 stray clients on 4 threads each, with real docker.exe commands made
    // while they run: each command works, and the pipe never goes away.
    for round in 0..4 {
        let out_file = format!("{}/strays-{round}.out", w.lab.dir());
        let mut bg = wine_bg(&w, &["cmd", "/c", &strays, PIPE, "250", "4"])
            .stdout(fs::File::create(&out_file).unwrap())
            .spawn()
            .unwrap();
        assert_eq!(version(), "linux\n", "round {round}");
        assert_eq!(
            ok(w.cmd(&[
                "docker",
                "run",
                "--rm",
                "lab-busybox",
                "sh",
                "-c",
                "echo served"
            ])),
            "served\n",
            "round {round}"
        );
        let status = bg.wait().unwrap();
        let said = fs::read_to_string(&out_file).unwrap_or_default();
        assert!(
            status.success() && said.starts_with("opened 250 "),
            "round {round}: the stray clients said {said:?} ({status}); the proxy's log:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }
    assert_eq!(version(), "linux\n");
    assert!(
        !lab_pids(&w, "dockvm.exe proxy").is_empty(),
        "the proxy exited: {}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    // The race was hit (the proxy counts each ERROR_NO_DATA), or the test showed nothing.
    let logged = fs::read_to_string(&log).unwrap_or_default();
    let gone: u64 = logged
        .lines()
        .rev()
        .find_map(|l| l.strip_suffix(" in all")?.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    eprintln!("{gone} of 1000 stray clients hung up before the proxy's ConnectNamedPipe");
    assert!(
        gone > 0,
        "no stray client came between two instances: the test did not reach ERROR_NO_DATA"
    );
    kill_proxies(&w);
}

/// Regression: Rust's std gave the detached proxy every inheritable handle of `up`, its stdout
/// among them, so a caller reading `up`'s output through a pipe (PowerShell's
/// `$r = dockvm.exe up`, a CI runner, an IDE task) never saw its end while the proxy lived.
/// Wine's own programs (wineserver, services.exe) are started first with their output in
/// files, so nothing but dockvm's processes can hold this pipe.
#[test]
fn up_s_output_read_through_a_pipe_ends_when_up_does_while_the_proxy_runs() {
    let _one = one_at_a_time();
    let Some(w) = side("pxo", PIPE_SPEC) else {
        return;
    };
    let wineserver = |arg: &str| {
        w.lab.wsl_files(&[
            "env",
            &format!("WINEPREFIX={}", w.prefix),
            "/usr/lib/wine/wineserver",
            arg,
        ])
    };
    // The prefix's wineserver started again, persistent, with no pipe of the test's.
    let _ = wineserver("-k");
    let _ = wineserver("-w");
    let server = wineserver("-p");
    assert!(server.status.success(), "wineserver -p: {server:?}");
    ok(w.cmd(&["ver"]));
    assert!(lab_pids(&w, "dockvm.exe proxy").is_empty());

    let exe = Wine::win(&w.exe);
    let s = spec_arg(PIPE_SPEC);
    let err = format!("{}/up.err", w.lab.dir());
    let mut up = wine_bg(
        &w,
        &[
            &exe, "up", "--spec", &s, "--format", "json", "--wait", "60s",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(fs::File::create(&err).unwrap())
    .spawn()
    .unwrap();
    let mut stdout = up.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut all);
        let _ = tx.send(all);
    });
    let status = up.wait().unwrap();
    // up has exited: its output ends now, not when the proxy does.
    let said = rx.recv_timeout(Duration::from_secs(15));
    let proxies = lab_pids(&w, "dockvm.exe proxy");
    kill_proxies(&w);
    let said = String::from_utf8_lossy(&said.unwrap_or_else(|_| {
        panic!(
            "up exited ({status}) but reading its stdout did not end within 15 s: the proxy (pids {proxies:?}) holds the pipe. stderr: {}",
            fs::read_to_string(&err).unwrap_or_default()
        )
    }))
    .into_owned();
    assert!(
        status.success(),
        "{said}{}",
        fs::read_to_string(&err).unwrap_or_default()
    );
    assert!(
        !proxies.is_empty(),
        "the proxy was not running when up's output ended: {said}"
    );
    assert!(said.contains(r#""stage":"proxy","state":"ok""#), "{said}");
}

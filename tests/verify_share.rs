//! `dockvm verify`'s share canary against a real dockerd (Debian's docker.io). The daemon runs
//! in a private mount namespace, the "VM" view: a tmpfs over `/mnt`, host folders bound at
//! `/mnt/hgfs/<share>` standing in for vmhgfs, and the links made by the generated tmpfiles
//! file through the real systemd-tmpfiles. verify runs in another, the "WSL" view: host
//! folders bound at `/mnt/<drive>`. Each share is broken a different way, and every probe
//! file and container must be gone afterwards, also when verify is interrupted.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use support::*;

fn api(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The probe containers the daemon has: (name, label value, mount source).
fn all_probes(port: u16) -> Vec<(String, String, String)> {
    let (_, body) = http_get(api(port), "/containers/json?all=1", Duration::from_secs(5)).unwrap();
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let label = c["Labels"].get("dockvm.probe")?.as_str()?.to_owned();
            Some((
                c["Names"][0].as_str().unwrap_or("").to_owned(),
                label,
                c["Mounts"]
                    .as_array()?
                    .iter()
                    .find(|m| m["Destination"] == "/probe")
                    .and_then(|m| m["Source"].as_str())
                    .unwrap_or("")
                    .to_owned(),
            ))
        })
        .collect()
}

/// A run's own probe containers the daemon still has (not the kept ones).
fn probe_containers(port: u16) -> Vec<String> {
    all_probes(port)
        .into_iter()
        .filter(|(_, label, _)| label != "kept")
        .map(|(n, _, _)| n)
        .collect()
}

/// The kept probe containers: (name, mount source).
fn kept_containers(port: u16) -> Vec<(String, String)> {
    all_probes(port)
        .into_iter()
        .filter(|(_, label, _)| label == "kept")
        .map(|(n, _, s)| (n, s))
        .collect()
}

/// Probe files left in a folder.
fn probe_files(dir: &Utf8Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".dockvm-probe-"))
        .collect()
}

fn probe_image_id(port: u16) -> Option<String> {
    let (status, body) = http_get(
        api(port),
        "/images/dockvm-probe:empty/json",
        Duration::from_secs(5),
    )
    .unwrap();
    if !status.contains(" 200 ") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Size"], 0, "the probe image is empty");
    Some(v["Id"].as_str().unwrap().to_owned())
}

struct Lab {
    _tmp: tempfile::TempDir,
    dir: Utf8PathBuf,
    spec: Utf8PathBuf,
}

impl Lab {
    fn folder(&self, name: &str) -> Utf8PathBuf {
        let p = self.dir.join(name);
        fs::create_dir_all(&p).unwrap();
        p
    }
}

/// The "VM": a dockerd on the spec's port, in a mount namespace with a root of its own
/// (`ci/lab/private-root`: compose's links at `/d/...` stay in it), prepared by `vm_setup`.
fn vm_dockerd(lab: &Lab, port: u16, vm_setup: &str) -> Dockerd {
    let vm_setup = format!(
        "{}/ci/lab/private-root {}/vm-root\n{vm_setup}",
        env!("CARGO_MANIFEST_DIR"),
        lab.dir
    );
    let argv: Vec<String> = [
        "/usr/sbin/dockerd",
        "-H",
        &format!("unix://{}/d.sock", lab.dir),
        "-H",
        &format!("tcp://127.0.0.1:{port}"),
        "--tls=false",
    ]
    .map(str::to_owned)
    .into();
    let mut d = Dockerd::start_in(Some(&vm_setup), &argv);
    d.wait_ping(api(port), Duration::from_secs(60));
    d
}

/// A spec on 127.0.0.1:`port` with these shares, and its generated tmpfiles file.
fn lab(port: u16, shares: &[(&str, &str)]) -> (Lab, Utf8PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    let mut text = format!(
        "[vm]\nname = \"lab\"\nvmx = 'D:\\lab\\lab.vmx'\nip = \"127.0.0.1\"\n[docker]\nport = {port}\n"
    );
    for (name, host) in shares {
        text.push_str(&format!(
            "[[shares]]\nname = \"{name}\"\nhost_path = '{host}'\n"
        ));
    }
    let spec = dir.join("dockvm.toml");
    fs::write(&spec, &text).unwrap();
    let loaded = dockvm_spec::load_str("lab", &text).unwrap();
    let arts = dockvm_gen::render(&loaded.spec).unwrap();
    let tmpfiles = dir.join("tmpfiles.conf");
    fs::write(
        &tmpfiles,
        &arts
            .iter()
            .find(|a| a.path == "vm/etc/tmpfiles.d/dockvm.conf")
            .unwrap()
            .bytes,
    )
    .unwrap();
    (
        Lab {
            _tmp: tmp,
            dir,
            spec,
        },
        tmpfiles,
    )
}

#[test]
fn share_canary_names_each_broken_link_and_leaves_nothing_behind() {
    if !require_root_and(&["/usr/sbin/dockerd", "unshare", "mount", "systemd-tmpfiles"]) {
        return;
    }
    let port = free_port();
    let shares = [
        ("good", r"D:\"),
        ("nolink", r"E:\"),
        ("unmounted", r"F:\"),
        ("stale", r"G:\"),
        ("nowsl", r"H:\proj"),
        ("nocompose", r"I:\"),
        ("composeaway", r"J:\"),
    ];
    let (lab, tmpfiles) = lab(port, &shares);
    let (good, nolink, unmounted, stale_wsl, stale_vm, h, i, j) = (
        lab.folder("good"),
        lab.folder("nolink"),
        lab.folder("unmounted"),
        lab.folder("stale-wsl"),
        lab.folder("stale-vm"),
        lab.folder("h"),
        lab.folder("i"),
        lab.folder("j"),
    );
    let vm = format!(
        "mount -t tmpfs dockvm-vm /mnt\n\
         mkdir -p /mnt/hgfs/good /mnt/hgfs/nolink /mnt/hgfs/stale\n\
         mount --bind {good} /mnt/hgfs/good\n\
         mount --bind {nolink} /mnt/hgfs/nolink\n\
         mount --bind {stale_vm} /mnt/hgfs/stale\n\
         mkdir -p /mnt/hgfs/nocompose /mnt/hgfs/composeaway\n\
         mount --bind {i} /mnt/hgfs/nocompose\n\
         mount --bind {j} /mnt/hgfs/composeaway\n\
         systemd-tmpfiles --create {tmpfiles}\n\
         rm /mnt/e\n\
         rm /i\n\
         rm /j && ln -s /mnt/hgfs/good /j"
    );
    let _dockerd = vm_dockerd(&lab, port, &vm);
    let wsl = format!(
        "mount -t tmpfs dockvm-wsl /mnt\n\
         mkdir -p /mnt/d /mnt/e /mnt/f /mnt/g /mnt/h /mnt/i /mnt/j\n\
         mount --bind {good} /mnt/d\n\
         mount --bind {nolink} /mnt/e\n\
         mount --bind {unmounted} /mnt/f\n\
         mount --bind {stale_wsl} /mnt/g\n\
         mount --bind {h} /mnt/h\n\
         mount --bind {i} /mnt/i\n\
         mount --bind {j} /mnt/j"
    );
    let args = [
        "--spec",
        lab.spec.as_str(),
        "--skip",
        "name,env,profile",
        "--timeout",
        "10s",
    ];
    let (code, report, stderr) = verify_json(Some(&wsl), &args, &[]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");

    // (check, status, phrases its reason must contain)
    let expect: &[(&str, &str, &[&str])] = &[
        (
            "share:good",
            "pass",
            &[
                "D:\\ is the same folder in WSL and in the VM (/mnt/d)",
                "and at /d for docker compose from Windows",
            ],
        ),
        (
            "share:nocompose",
            "fail",
            &[
                "docker compose's path /i is missing in the VM, though /mnt/i works: the link for compose is missing",
            ],
        ),
        (
            "share:composeaway",
            "fail",
            &["docker compose's path /j leads to another folder in the VM than /mnt/j"],
        ),
        (
            "share:nolink",
            "fail",
            &[
                "path missing in the VM: /mnt/e does not exist there",
                "the link is missing",
            ],
        ),
        (
            "share:unmounted",
            "fail",
            &[
                "path missing in the VM: /mnt/f",
                "is not mounted at /mnt/hgfs/unmounted",
            ],
        ),
        (
            "share:stale",
            "fail",
            &["the VM sees a different folder at /mnt/g"],
        ),
        (
            "share:nowsl",
            "fail",
            &["path missing in WSL: /mnt/h/proj does not exist"],
        ),
    ];
    for (id, status, phrases) in expect {
        let (s, r) = status_reason(&report, id);
        assert_eq!(&s, status, "{id}: {r}");
        for p in *phrases {
            assert!(r.contains(p), "{id}: {p:?} not in {r:?}");
        }
    }
    assert!(
        finding(&report, "share:stale")["hint"]
            .as_str()
            .unwrap()
            .contains("reset-shared-folders.bat")
    );

    for d in [
        &good, &nolink, &unmounted, &stale_wsl, &stale_vm, &h, &i, &j,
    ] {
        assert_eq!(
            probe_files(d),
            Vec::<String>::new(),
            "probe file left in {d}"
        );
    }
    assert_eq!(probe_containers(port), Vec::<String>::new());
    // The healthy share's container is kept for the next run; none for the broken ones.
    assert_eq!(
        kept_containers(port),
        [("/dockvm-probe-lab-good".to_owned(), "/mnt/d".to_owned())]
    );
    let image = probe_image_id(port).expect("the probe image is kept");

    // A second run reuses the image, and a read-only WSL folder is "could not evaluate" (3).
    let ro = format!("{wsl}\nmount -o remount,bind,ro /mnt/d");
    let (code, report, _) = verify_json(
        Some(&ro),
        &["--spec", lab.spec.as_str(), "--only", "share:good"],
        &[],
    );
    let (s, r) = status_reason(&report, "share:good");
    assert_eq!((code, s.as_str()), (3, "error"), "{r}");
    assert!(
        r.starts_with("cannot write the probe file /mnt/d/.dockvm-probe-"),
        "{r}"
    );
    let (code, report, _) = verify_json(
        Some(&wsl),
        &["--spec", lab.spec.as_str(), "--only", "share:good"],
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    let actual = finding(&report, "share:good")["actual"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        actual,
        "probe file seen through the kept probe container dockvm-probe-lab-good"
    );
    assert_eq!(probe_image_id(port), Some(image));
    assert_eq!(probe_containers(port), Vec::<String>::new());
    assert_eq!(probe_files(&good), Vec::<String>::new());
}

/// What the proxy in front of dockerd does to requests for `/archive` or `/containers/create`.
#[derive(Clone, Copy, PartialEq)]
enum Stall {
    /// Never forward a request for `/archive`: the check waits with its probe in place.
    Archive,
    /// Forward `/containers/create` only after 1.5 s: the container appears after an
    /// interrupt that came while its creation was under way.
    CreateLate,
    /// Never forward `/archive` of a run's own container (`dockvm-probe-<token>`): the slow
    /// path waits with its container created; the kept container's requests go through.
    TokenArchive,
}

/// Whether a request line asks for the archive of a run's own container (a 32-hex token name).
fn token_archive(line: &str) -> bool {
    line.split("/containers/dockvm-probe-")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        && line.contains("/archive")
}

/// A proxy in front of dockerd; `seen` turns true when a stalled request arrives, `answered`
/// when a late create's answer has gone back (the container exists by then).
fn stalling_proxy(
    upstream: SocketAddr,
    stall: Stall,
    seen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    answered: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming().take(64) {
            let Ok(mut client) = client else { continue };
            let seen = seen.clone();
            let answered = answered.clone();
            std::thread::spawn(move || {
                let mut head = [0u8; 4096];
                let n = client.read(&mut head).unwrap_or(0);
                let line = String::from_utf8_lossy(&head[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let late =
                    matches!(stall, Stall::CreateLate) && line.contains("/containers/create");
                match stall {
                    Stall::TokenArchive if token_archive(&line) => {
                        seen.store(true, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(Duration::from_secs(60));
                        return;
                    }
                    Stall::Archive if line.contains("/archive") => {
                        seen.store(true, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(Duration::from_secs(60));
                        return;
                    }
                    Stall::CreateLate if line.contains("/containers/create") => {
                        seen.store(true, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1500));
                    }
                    _ => {}
                }
                let Ok(mut up) = TcpStream::connect(upstream) else {
                    return;
                };
                let _ = up.write_all(&head[..n]);
                let (mut c2, mut u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut c2, &mut u2));
                let _ = std::io::copy(&mut up, &mut client);
                // The other thread holds a clone of the client socket: end the answer explicitly.
                let _ = client.shutdown(std::net::Shutdown::Write);
                if late {
                    answered.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    port
}

/// What a finished child wrote to its piped stderr.
fn stderr_of(child: &mut std::process::Child) -> String {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

/// Runs verify on share "d" through a proxy that stalls as `stall` says, interrupts it once
/// the stalled request arrived, and checks that no probe file or container outlives it.
fn interrupt_through(stall: Stall) {
    let (_dockerd, port) = loopback_dockerd(None);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let late = matches!(stall, Stall::CreateLate);
    let proxy = stalling_proxy(api(port), stall, seen.clone(), answered.clone());
    // verify and dockerd share this mount namespace: the share's WSL path is a plain folder.
    let tmp = tempfile::tempdir().unwrap();
    let root = utf8_dir(&tmp);
    let share = root.join("d");
    fs::create_dir(&share).unwrap();
    let spec = root.join("dockvm.toml");
    fs::write(
        &spec,
        format!(
            "[vm]\nvmx = 'D:\\l.vmx'\nip = \"127.0.0.1\"\n[docker]\nport = {proxy}\n[wsl]\nautomount_root = \"{root}/\"\n[windows]\ncompose_paths = false\n\
             [[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dockvm"))
        .args([
            "verify",
            "--spec",
            spec.as_str(),
            "--only",
            "share:d",
            "--timeout",
            "30s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !seen.load(std::sync::atomic::Ordering::SeqCst) || probe_files(&share).is_empty() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "verify ended ({st}) before the stalled request: {}",
                stderr_of(&mut child)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the stalled request never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted; removing probe files and containers"),
        "{err}"
    );
    assert_eq!(probe_files(&share), Vec::<String>::new());
    // A late create: only once dockerd answered it does the container exist, so wait for
    // that (the proxy says so), not for a time.
    if late {
        let start = Instant::now();
        while !answered.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the late create was never answered"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(probe_containers(port), Vec::<String>::new());
}

#[test]
fn an_interrupted_share_check_removes_its_file_and_container() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    // Stalled on the slow path, with the run's own container created.
    interrupt_through(Stall::TokenArchive);
}

/// Interrupted on the fast path, before any container of its own exists.
#[test]
fn an_interrupt_on_the_fast_path_removes_the_probe_file() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    interrupt_through(Stall::Archive);
}

/// Regression: an interrupt while the create request was under way left the container
/// behind (the handler's DELETE came before the container existed).
#[test]
fn an_interrupt_during_container_creation_still_removes_the_container() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    interrupt_through(Stall::CreateLate);
}

/// One request to the daemon at 127.0.0.1:`port`: the status line.
fn api_request(port: u16, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(api(port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: docker\r\n\r\n").unwrap();
    let mut b = String::new();
    let _ = s.read_to_string(&mut b);
    b.lines().next().unwrap_or("").to_owned()
}

/// A spec whose VM is the loopback daemon at `port` and whose one share `d` is `host` under
/// the automount root `root/`.
fn loopback_share_spec(root: &Utf8Path, port: u16, host: &str) -> Utf8PathBuf {
    let spec = root.join(format!("spec-{port}-{}.toml", host.len()));
    fs::write(
        &spec,
        format!(
            "[vm]\nname = \"lab\"\nvmx = 'D:\\l.vmx'\nip = \"127.0.0.1\"\n[docker]\nport = {port}\n[wsl]\nautomount_root = \"{root}/\"\n[windows]\ncompose_paths = false\n\
             [[shares]]\nname = \"d\"\nhost_path = '{host}'\n"
        ),
    )
    .unwrap();
    spec
}

/// How the share check saw the probe: through the kept container or a fresh one.
fn seen_through(report: &serde_json::Value) -> &'static str {
    let (status, reason) = status_reason(report, "share:d");
    assert_eq!(status, "pass", "{reason}\n{report:#}");
    match finding(report, "share:d")["actual"].as_str().unwrap() {
        a if a.contains("kept probe container") => "kept",
        a if a.contains("fresh probe container") => "fresh",
        a => panic!("{a}"),
    }
}

/// The kept container is made on the first run, used after, and made anew when it was
/// removed, when the image went with it, and when the share's path changed; `dockvm clean`
/// then leaves no probe container, image or file.
#[test]
fn the_kept_container_is_made_anew_when_needed_and_clean_removes_everything() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    let (_dockerd, port) = loopback_dockerd(None);
    let tmp = tempfile::tempdir().unwrap();
    let root = utf8_dir(&tmp);
    fs::create_dir_all(root.join("d/sub")).unwrap();
    let spec = loopback_share_spec(&root, port, r"D:\");
    let run = |spec: &Utf8Path| {
        let (code, report, err) =
            verify_json(None, &["--spec", spec.as_str(), "--only", "share"], &[]);
        assert_eq!(code, 0, "{report:#}\n{err}");
        seen_through(&report)
    };
    let kept = |source: &Utf8Path| vec![("/dockvm-probe-lab-d".to_owned(), source.to_string())];
    assert_eq!(run(&spec), "fresh");
    assert_eq!(kept_containers(port), kept(&root.join("d")));
    assert_eq!(run(&spec), "kept");

    // docker rm of the kept container.
    assert!(
        api_request(port, "DELETE", "/containers/dockvm-probe-lab-d?force=1").contains(" 204 ")
    );
    assert_eq!(run(&spec), "fresh");
    assert_eq!(kept_containers(port), kept(&root.join("d")));
    assert_eq!(run(&spec), "kept");

    // The container and the image gone (what `docker system prune -a` does).
    assert!(
        api_request(port, "DELETE", "/containers/dockvm-probe-lab-d?force=1").contains(" 204 ")
    );
    assert!(api_request(port, "DELETE", "/images/dockvm-probe:empty").contains(" 200 "));
    assert_eq!(run(&spec), "fresh");
    assert!(probe_image_id(port).is_some());
    assert_eq!(run(&spec), "kept");

    // The share's path changed in the spec: the kept container looks at the old one.
    let moved = loopback_share_spec(&root, port, r"D:\sub");
    assert_eq!(run(&moved), "fresh");
    assert_eq!(kept_containers(port), kept(&root.join("d/sub")));
    assert_eq!(run(&moved), "kept");
    assert_eq!(probe_containers(port), Vec::<String>::new());
    assert_eq!(probe_files(&root.join("d/sub")), Vec::<String>::new());

    // clean: every probe container (kept, and one a killed run left), the image, probe files.
    fs::write(root.join("d/sub/.dockvm-probe-0123"), "left").unwrap();
    let out = run_clean(&moved);
    assert!(
        out.contains("removed container dockvm-probe-lab-d"),
        "{out}"
    );
    assert!(out.contains("removed image dockvm-probe:empty"), "{out}");
    assert!(out.contains(".dockvm-probe-0123"), "{out}");
    assert_eq!(all_probes(port), Vec::new());
    assert_eq!(probe_image_id(port), None);
    assert_eq!(probe_files(&root.join("d/sub")), Vec::<String>::new());
    // Again: nothing left to remove, and it says so.
    assert!(run_clean(&moved).ends_with("0 container(s), 0 image, 0 file(s) removed\n"));
}

fn run_clean(spec: &Utf8Path) -> String {
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_dockvm"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["clean", "--spec", spec.as_str()]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A verify killed (SIGKILL: no handler runs) on the slow path leaves its probe file and its
/// container. The next run leaves them while they are younger than the threshold (another run
/// may own them), and removes and counts them once they are older
/// (`DOCKVM_LEFTOVER_AGE_SECS`, for tests only, stands in for the 10 minutes).
#[test]
fn a_killed_runs_leftovers_are_removed_by_a_later_run_once_old_enough() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    let (_dockerd, port) = loopback_dockerd(None);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let unused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let proxy = stalling_proxy(api(port), Stall::TokenArchive, seen.clone(), unused);
    let tmp = tempfile::tempdir().unwrap();
    let root = utf8_dir(&tmp);
    let share = root.join("d");
    fs::create_dir(&share).unwrap();
    let through_proxy = loopback_share_spec(&root, proxy, r"D:\");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dockvm"))
        .args([
            "verify",
            "--spec",
            through_proxy.as_str(),
            "--only",
            "share:d",
            "--timeout",
            "30s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !seen.load(std::sync::atomic::Ordering::SeqCst) || probe_containers(port).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the slow path never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(probe_files(&share).len(), 1);
    assert_eq!(probe_containers(port).len(), 1);

    let direct = loopback_share_spec(&root, port, r"D:\");
    let args = ["--spec", direct.as_str(), "--only", "share"];
    // Younger than the default 10 minutes: left alone.
    let (code, report, _) = verify_json(None, &args, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["leftovers_removed"],
        serde_json::json!({"containers": 0, "files": 0})
    );
    assert_eq!(probe_files(&share).len(), 1);
    assert_eq!(probe_containers(port).len(), 1);
    // Older than the threshold: removed and counted; the run's own probe is not touched.
    let (code, report, _) = verify_json(None, &args, &[("DOCKVM_LEFTOVER_AGE_SECS", "0")]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["leftovers_removed"],
        serde_json::json!({"containers": 1, "files": 1})
    );
    assert_eq!(probe_files(&share), Vec::<String>::new());
    assert_eq!(probe_containers(port), Vec::<String>::new());
    assert_eq!(kept_containers(port).len(), 1, "the kept container stays");
}

/// Each share fault is diagnosed as before when a kept container from an earlier healthy run
/// is in place: the VM's share is another folder, the link is gone, the share is unmounted.
#[test]
fn faults_after_a_healthy_run_are_diagnosed_past_the_kept_container() {
    if !require_root_and(&[
        "/usr/sbin/dockerd",
        "unshare",
        "mount",
        "nsenter",
        "systemd-tmpfiles",
    ]) {
        return;
    }
    let port = free_port();
    let (lab, tmpfiles) = lab(port, &[("d", r"D:\")]);
    let (good, other) = (lab.folder("good"), lab.folder("other"));
    let vm = format!(
        "mount -t tmpfs dockvm-vm /mnt\nmkdir -p /mnt/hgfs/d\nmount --bind {good} /mnt/hgfs/d\nsystemd-tmpfiles --create {tmpfiles}"
    );
    let d = vm_dockerd(&lab, port, &vm);
    let in_vm = |script: &str| {
        let out = run(std::process::Command::new("nsenter").args([
            "-t",
            &d.pid().to_string(),
            "-m",
            "sh",
            "-ec",
            script,
        ]));
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let wsl =
        format!("mount -t tmpfs dockvm-wsl /mnt\nmkdir -p /mnt/d\nmount --bind {good} /mnt/d");
    let check = || {
        let (_, report, _) = verify_json(
            Some(&wsl),
            &[
                "--spec",
                lab.spec.as_str(),
                "--only",
                "share",
                "--timeout",
                "10s",
            ],
            &[],
        );
        report
    };
    assert_eq!(seen_through(&check()), "fresh");
    assert_eq!(seen_through(&check()), "kept");
    let fails_with = |phrase: &str| {
        let report = check();
        let (status, reason) = status_reason(&report, "share:d");
        assert_eq!(status, "fail", "{reason}");
        assert!(reason.contains(phrase), "{phrase:?} not in {reason:?}");
        assert_eq!(
            kept_containers(port).len(),
            1,
            "the kept container is still there"
        );
    };
    // The share now shows another folder in the VM.
    in_vm(&format!(
        "umount /mnt/hgfs/d; mount --bind {other} /mnt/hgfs/d"
    ));
    fails_with("the VM sees a different folder at /mnt/d");
    in_vm(&format!(
        "umount /mnt/hgfs/d; mount --bind {good} /mnt/hgfs/d"
    ));
    assert_eq!(seen_through(&check()), "kept");
    // The link is gone.
    in_vm("rm /mnt/d");
    fails_with("the link is missing");
    in_vm("ln -s /mnt/hgfs/d /mnt/d");
    assert_eq!(seen_through(&check()), "kept");
    // Compose's link is gone, then leads to another folder.
    in_vm("rm /d");
    fails_with("docker compose's path /d is missing in the VM, though /mnt/d works");
    in_vm(&format!("mkdir /d && mount --bind {other} /d"));
    fails_with("docker compose's path /d leads to another folder in the VM than /mnt/d");
    in_vm("umount /d && rmdir /d && ln -s /mnt/hgfs/d /d");
    assert_eq!(seen_through(&check()), "kept");
    // The share is not mounted (after a reboot without the mount unit).
    in_vm("umount /mnt/hgfs/d; rmdir /mnt/hgfs/d");
    fails_with("is not mounted at /mnt/hgfs/d");
    assert_eq!(probe_containers(port), Vec::<String>::new());
    assert_eq!(probe_files(&good), Vec::<String>::new());
}

/// The leftover sweep (age 0: every fresh probe container is old enough) removes another run's
/// container but never one this run holds, nor a kept one.
#[test]
fn the_sweep_spares_the_run_s_own_container_and_the_kept_ones() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    use dockvm_verify::cleanup::{Item, Registry, Stage};
    let (_dockerd, port) = loopback_dockerd(None);
    let tmp = tempfile::tempdir().unwrap();
    let root = utf8_dir(&tmp);
    fs::create_dir(root.join("d")).unwrap();
    // A healthy run first: the probe image and the kept container exist.
    let spec = loopback_share_spec(&root, port, r"D:\");
    let (code, report, _) = verify_json(None, &["--spec", spec.as_str(), "--only", "share"], &[]);
    assert_eq!(code, 0, "{report:#}");
    let create = |name: &str| {
        let mut s = TcpStream::connect(api(port)).unwrap();
        let body = format!(
            r#"{{"Image":"dockvm-probe:empty","Cmd":["/x"],"Labels":{{"dockvm.probe":"true"}},"HostConfig":{{"Mounts":[{{"Type":"bind","Source":"{}","Target":"/probe","ReadOnly":true}}]}}}}"#,
            root.join("d")
        );
        write!(
            s,
            "POST /containers/create?name={name} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.0 201"), "{answer}");
    };
    let (ours, theirs) = (
        format!("dockvm-probe-{}", "a".repeat(32)),
        format!("dockvm-probe-{}", "b".repeat(32)),
    );
    create(&ours);
    create(&theirs);
    let ep = dockvm_engine::Endpoint::plain(api(port));
    let registry = Registry::default();
    let guard = registry.guard(Item::Container {
        api: ep.clone(),
        name: ours.clone(),
    });
    guard.set_stage(Stage::Created);
    let sweep = dockvm_verify::sweep::Sweep::new(Duration::ZERO);
    sweep.containers(&ep, &registry, Instant::now() + Duration::from_secs(10));
    assert_eq!(sweep.removed().containers, 1);
    assert_eq!(probe_containers(port), [format!("/{ours}")]);
    assert_eq!(kept_containers(port).len(), 1, "the kept container stays");
    drop(guard);
    assert_eq!(probe_containers(port), Vec::<String>::new());
}

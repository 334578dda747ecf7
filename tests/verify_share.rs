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

/// Probe containers the daemon still has.
fn probe_containers(port: u16) -> Vec<String> {
    let (_, body) = http_get(api(port), "/containers/json?all=1", Duration::from_secs(5)).unwrap();
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["Labels"].get("dockvm.probe").is_some())
        .map(|c| c["Names"][0].as_str().unwrap_or("").to_owned())
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
    ];
    let (lab, tmpfiles) = lab(port, &shares);
    let (good, nolink, unmounted, stale_wsl, stale_vm, h) = (
        lab.folder("good"),
        lab.folder("nolink"),
        lab.folder("unmounted"),
        lab.folder("stale-wsl"),
        lab.folder("stale-vm"),
        lab.folder("h"),
    );
    let vm = format!(
        "mount -t tmpfs dockvm-vm /mnt\n\
         mkdir -p /mnt/hgfs/good /mnt/hgfs/nolink /mnt/hgfs/stale\n\
         mount --bind {good} /mnt/hgfs/good\n\
         mount --bind {nolink} /mnt/hgfs/nolink\n\
         mount --bind {stale_vm} /mnt/hgfs/stale\n\
         systemd-tmpfiles --create {tmpfiles}\n\
         rm /mnt/e"
    );
    let (_dockerd, _) = {
        // The daemon listens on the spec's port.
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
        let mut d = Dockerd::start_in(Some(&vm), &argv);
        d.wait_ping(api(port), Duration::from_secs(60));
        (d, port)
    };
    let wsl = format!(
        "mount -t tmpfs dockvm-wsl /mnt\n\
         mkdir -p /mnt/d /mnt/e /mnt/f /mnt/g /mnt/h\n\
         mount --bind {good} /mnt/d\n\
         mount --bind {nolink} /mnt/e\n\
         mount --bind {unmounted} /mnt/f\n\
         mount --bind {stale_wsl} /mnt/g\n\
         mount --bind {h} /mnt/h"
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
            &["D:\\ is the same folder in WSL and in the VM"],
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

    for d in [&good, &nolink, &unmounted, &stale_wsl, &stale_vm, &h] {
        assert_eq!(
            probe_files(d),
            Vec::<String>::new(),
            "probe file left in {d}"
        );
    }
    assert_eq!(probe_containers(port), Vec::<String>::new());
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
}

/// A proxy in front of dockerd; `seen` turns true when a stalled request arrives.
fn stalling_proxy(
    upstream: SocketAddr,
    stall: Stall,
    seen: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming().take(64) {
            let Ok(mut client) = client else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut head = [0u8; 4096];
                let n = client.read(&mut head).unwrap_or(0);
                let line = String::from_utf8_lossy(&head[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                match stall {
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
    let proxy = stalling_proxy(api(port), stall, seen.clone());
    // verify and dockerd share this mount namespace: the share's WSL path is a plain folder.
    let tmp = tempfile::tempdir().unwrap();
    let root = utf8_dir(&tmp);
    let share = root.join("d");
    fs::create_dir(&share).unwrap();
    let spec = root.join("dockvm.toml");
    fs::write(
        &spec,
        format!(
            "[vm]\nvmx = 'D:\\l.vmx'\nip = \"127.0.0.1\"\n[docker]\nport = {proxy}\n[wsl]\nautomount_root = \"{root}/\"\n\
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
    // Past the moment a late create lands.
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(probe_containers(port), Vec::<String>::new());
}

#[test]
fn an_interrupted_share_check_removes_its_file_and_container() {
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

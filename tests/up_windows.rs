//! `dockvm.exe up`, `down` and `status` under Wine on the lab's Windows side, with the mingw
//! vmrun.exe stand-in recording its calls (`tests/fixtures/vmrun-answers.c`): the same
//! decisions as from WSL. Where VMware would change the VM (power it on, have the guest mount
//! the shares), the test does it in the lab VM when it sees the call.

mod support;

use std::time::{Duration, Instant};
use support::daily::*;
use support::wine::*;
use support::winside::*;

/// `ci/lab/lab ARGS`, asserting success: what VMware would do in the lab VM.
fn lab(args: &[&str]) {
    let out = std::process::Command::new(support::lab::LAB)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `dockvm.exe CMD --format json ARGS`: exit code, JSON lines, all output.
fn exe_json(w: &WinSide, cmd: &str, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let spec = Wine::win(&camino::Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join(w.lab.spec));
    let exe = Wine::win(&w.exe);
    let mut all = vec![
        exe.as_str(),
        cmd,
        "--spec",
        &spec,
        "--format",
        "json",
        "--timeout",
        "5s",
    ];
    if cmd == "down" {
        all.truncate(all.len() - 2);
    }
    all.extend_from_slice(args);
    let out = w.wine(&all);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// Waits in a thread for `call` among vmrun's calls, then does `then` (what VMware would do).
fn when_called(
    w: &WinSide,
    call: &'static str,
    then: impl FnOnce() + Send + 'static,
) -> std::thread::JoinHandle<bool> {
    let path = w.drive_c(VMRUN).join("calls");
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text
                .lines()
                .any(|l| l.split_whitespace().next() == Some(call))
            {
                then();
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    })
}

/// Healthy: no vmrun call from up or status. Shares not mounted: up enables them (the test
/// mounts the share in the VM when it sees the call, as VMware Tools would) and passes.
#[test]
fn dockvm_exe_up_and_status_decide_as_from_wsl() {
    if !windows_side_can_run() {
        return;
    }
    let w = WinSide::up("upwin", &[]);
    take_calls(w.drive_c(VMRUN));
    let (code, events, out) = exe_json(&w, "up", &["--wait", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert!(all_ok(&events), "{out}");
    let (code, status, out) = exe_json(&w, "status", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(status.len(), 0, "status prints one pretty object: {out}");
    let s: serde_json::Value =
        serde_json::from_str(&out[out.find('{').unwrap()..out.rfind('}').unwrap() + 1]).unwrap();
    assert_eq!(s["vm"]["state"], "running", "{s:#}");
    assert_eq!(s["engine"]["answers"], true, "{s:#}");
    assert_eq!(
        take_calls(w.drive_c(VMRUN)),
        Vec::<String>::new(),
        "healthy: no vmrun call"
    );

    // The share unmounted in the VM: up enables the shared folders, the VM gets its share back.
    lab(&["vm", "upwin", "sh", "-c", "umount -l /mnt/hgfs/d"]);
    let mount = format!(
        "mount --bind {}/windows-d/projects /mnt/hgfs/d",
        w.lab.dir()
    );
    let watcher = when_called(&w, "enableSharedFolders", move || {
        lab(&["vm", "upwin", "sh", "-c", &mount]);
    });
    let (code, events, out) = exe_json(&w, "up", &["--wait", "60s"]);
    assert!(watcher.join().unwrap(), "no enableSharedFolders: {out}");
    assert_eq!(code, 0, "{out}");
    assert!(all_ok(&events), "{out}");
    assert_eq!(
        take_calls(w.drive_c(VMRUN)),
        ["enableSharedFolders"],
        "{out}"
    );
}

/// Off: up starts the VM (the test starts its dockerd when it sees `start`, as a boot would)
/// and ends with verify passing; down stops it; status then says stopped and exits 1.
#[test]
fn dockvm_exe_up_from_off_and_down() {
    if !windows_side_can_run() {
        return;
    }
    let w = WinSide::up("upwinoff", &["vm-stopped"]);
    w.vmrun_says(&[], "198.18.0.2");
    // The .vmx open in the Workstation window: vmrun refuses, up names it and what to do.
    std::fs::write(
        w.drive_c(VMRUN).join("start-refusal"),
        "The file is already in use",
    )
    .unwrap();
    let (code, events, out) = exe_json(&w, "up", &["--wait", "30s"]);
    assert_eq!(code, 1, "{out}");
    let last = events.last().unwrap();
    assert_eq!(
        (&last["stage"], &last["state"]),
        (&"power".into(), &"fail".into()),
        "{out}"
    );
    assert!(
        last["hint"]
            .as_str()
            .unwrap()
            .contains("Workstation window"),
        "{out}"
    );
    take_calls(w.drive_c(VMRUN));
    let watcher = when_called(&w, "start", || {
        lab(&["restart", "upwinoff"]);
    });
    let (code, events, out) = exe_json(&w, "up", &["--wait", "90s"]);
    assert!(watcher.join().unwrap(), "no start: {out}");
    assert_eq!(code, 0, "{out}");
    assert!(all_ok(&events), "{out}");
    let calls = take_calls(w.drive_c(VMRUN));
    assert_eq!(calls[..2], ["list", "start"], "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|c| c == "getGuestIPAddress" || c == "readVariable"),
        "{calls:?}"
    );
    // A second up: healthy, no call.
    let (code, _, out) = exe_json(&w, "up", &["--wait", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(take_calls(w.drive_c(VMRUN)), Vec::<String>::new());

    let (code, events, out) = exe_json(&w, "down", &["--wait", "30s"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        final_states(&events),
        [("stop".to_owned(), "ok".to_owned())],
        "{out}"
    );
    assert_eq!(take_calls(w.drive_c(VMRUN))[..2], ["list", "stop"]);
    // New Windows terminals get DOCKER_HOST from the registry: it names the VM now off.
    assert!(
        events.iter().any(|e| e["note"]
            .as_str()
            .is_some_and(|n| n.contains("fail until `dockvm up`"))),
        "{out}"
    );
    // Stopped as VMware says, and (the test stops its dockerd, as a shut-down guest would)
    // status says so and exits 1.
    let pid = std::fs::read_to_string(format!("{}/vm/dockerd.pid", w.lab.dir())).unwrap();
    let out = std::process::Command::new("kill")
        .arg(pid.trim())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
        && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _, out) = exe_json(&w, "status", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"state\": \"stopped\""), "{out}");
}

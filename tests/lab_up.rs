//! `dockvm up`, `down` and `status` on the WSL side of the booted lab, whose vmrun stand-in
//! drives the guest as VMware would (`ci/lab/vmrun-stand-in`: `start` boots it with its shares
//! off until enabled, `stop soft` shuts it down, `enableSharedFolders` has the guest mount
//! them as VMware Tools do), recording every call. Each scenario asserts the exit code, the
//! stages and the vmrun calls; `up` interrupted at random moments never leaves anything but a
//! VM that is started or not, and the next `up` completes.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::daily::*;
use support::lab::*;
use support::*;

fn booted_lab_can_run() -> bool {
    if !require_root_and(&["ip", "nsenter", "systemd-nspawn", "mmdebstrap", "busybox"]) {
        return false;
    }
    let bin = format!("{}/dist/dockvm-x86_64-linux", env!("CARGO_MANIFEST_DIR"));
    require(
        std::path::Path::new(&bin).exists(),
        &format!("needs {bin}, the static binary the VM runs: ci/dist builds it"),
    )
}

/// The lab's vmrun stand-in folder.
fn vmrun_dir(lab: &Lab) -> String {
    format!(
        "{}/windows-c/Program Files (x86)/VMware/VMware Workstation",
        lab.dir()
    )
}

/// `dockvm CMD ARGS --format json` on the WSL side: exit code and the JSON lines.
fn dockvm_json(lab: &Lab, cmd: &str, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    dockvm_json_env(lab, &[], cmd, args)
}

/// [`dockvm_json`] with `env` (KEY=VALUE) set.
fn dockvm_json_env(
    lab: &Lab,
    env: &[&str],
    cmd: &str,
    args: &[&str],
) -> (i32, Vec<serde_json::Value>, String) {
    let spec = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), lab.spec);
    let mut all = vec!["env"];
    all.extend_from_slice(env);
    all.extend_from_slice(&[
        env!("CARGO_BIN_EXE_dockvm"),
        cmd,
        "--spec",
        &spec,
        "--format",
        "json",
    ]);
    all.extend_from_slice(args);
    let out = lab.wsl(&all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn status_json(lab: &Lab) -> (i32, serde_json::Value) {
    let spec = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), lab.spec);
    let out = lab.wsl(&[
        env!("CARGO_BIN_EXE_dockvm"),
        "status",
        "--spec",
        &spec,
        "--format",
        "json",
    ]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// Waits (at most 5 s: systemd follows the mount table a moment later) until `unit` is active
/// in the guest, or is not; asserts it then.
fn wait_unit(lab: &Lab, unit: &str, active: bool) {
    let t = Instant::now();
    while (guest_active(lab, unit) == "active") != active && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(guest_active(lab, unit) == "active", active, "{unit}");
}

fn guest_active(lab: &Lab, unit: &str) -> String {
    let out = lab.lab("vm", &["systemctl", "is-active", unit]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The daily loop's scenarios, one booted VM in turn: healthy, shares off, engine stopped,
/// `down` and a later `status`, off then `up`.
#[test]
fn up_down_and_status_drive_the_booted_vm() {
    if !booted_lab_can_run() {
        return;
    }
    let lab = Lab::up_booted("updown", SPEC, true);
    take_calls(vmrun_dir(&lab));

    // Healthy: up makes no vmrun call and changes nothing; status neither.
    let (code, events, out) = dockvm_json(&lab, "up", &["--wait", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert!(all_ok(&events), "{out}");
    assert!(
        events[0]["detail"]
            .as_str()
            .unwrap()
            .contains("vmrun not asked"),
        "{out}"
    );
    let (code, s) = status_json(&lab);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["vm"]["state"], "running", "{s:#}");
    assert_eq!(s["address"], "198.18.0.2");
    assert_eq!(s["engine"]["os"], "linux");
    assert!(
        s["engine"]["version"]
            .as_str()
            .unwrap()
            .starts_with("20.10"),
        "{s:#}"
    );
    assert!(s["clock_skew_s"].as_f64().unwrap().abs() < 2.0, "{s:#}");
    assert_eq!(s["endpoint"]["this_vm"], true, "{s:#}");
    assert_eq!(
        take_calls(vmrun_dir(&lab)),
        Vec::<String>::new(),
        "healthy: no vmrun call"
    );

    // What the guest publishes (vmware-rpctool) is what `readVariable guestVar` reads.
    lab.lab_ok(
        "vm",
        &["vmware-rpctool", "info-set guestinfo.dockvm.ip 198.18.0.2"],
    );
    let exe = "/mnt/c/Program Files (x86)/VMware/VMware Workstation/vmrun.exe";
    let read = lab.wsl(&[
        exe,
        "-T",
        "ws",
        "readVariable",
        r"D:\vmware\lab\lab.vmx",
        "guestVar",
        "dockvm.ip",
    ]);
    assert_eq!(String::from_utf8_lossy(&read.stdout), "198.18.0.2\r\n");
    take_calls(vmrun_dir(&lab));

    // Shares disabled (VMware's runtime switch): up enables them, the guest mounts them, the
    // canary passes.
    run_ok(&lab, "disableSharedFolders");
    take_calls(vmrun_dir(&lab));
    wait_unit(&lab, "mnt-hgfs.mount", false);
    let (code, events, out) = dockvm_json(&lab, "up", &["--wait", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert!(all_ok(&events), "{out}");
    let shares: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["stage"] == "shares").collect();
    assert!(
        shares.iter().any(|e| e["detail"]
            .as_str()
            .unwrap()
            .contains("enabling the shared folders")),
        "{out}"
    );
    assert_eq!(
        take_calls(vmrun_dir(&lab)),
        ["enableSharedFolders"],
        "{out}"
    );
    wait_unit(&lab, "mnt-hgfs.mount", true);

    // The engine stopped in the guest: up fails at "engine" with verify's root cause.
    lab.lab_ok(
        "vm",
        &["systemctl", "stop", "docker.socket", "docker.service"],
    );
    let t = Instant::now();
    let (code, events, out) = dockvm_json(&lab, "up", &["--wait", "3s"]);
    assert_eq!(code, 1, "{out}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let last = events.last().unwrap();
    assert_eq!(last["stage"], "engine", "{out}");
    assert_eq!(last["state"], "fail", "{out}");
    assert!(
        last["detail"].as_str().unwrap().contains("refused"),
        "{out}"
    );
    assert!(
        last["hint"]
            .as_str()
            .unwrap()
            .contains("systemctl status docker"),
        "{out}"
    );
    let calls = take_calls(vmrun_dir(&lab));
    assert_eq!(calls.first().map(String::as_str), Some("list"), "{calls:?}");
    assert!(
        !calls.iter().any(|c| c == "start"),
        "running: never started again: {calls:?}"
    );
    let (code, s) = status_json(&lab);
    assert_eq!(code, 1, "{s:#}");
    assert_eq!(s["vm"]["state"], "running", "vmrun says it runs: {s:#}");
    assert!(
        s["engine"]["why"].as_str().unwrap().contains("refused"),
        "{s:#}"
    );
    lab.lab_ok(
        "vm",
        &["systemctl", "start", "docker.socket", "docker.service"],
    );

    // down: the guest shuts down; status then says stopped; the note names this terminal's
    // DOCKER_HOST.
    let (code, events, out) = dockvm_json(&lab, "down", &["--wait", "60s"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        final_states(&events),
        [("stop".to_owned(), "ok".to_owned())],
        "{out}"
    );
    assert!(
        out.contains("docker commands fail until `dockvm up`"),
        "{out}"
    );
    assert!(std::path::Path::new(&format!("{}/guest/exit", lab.dir())).exists());
    let (code, s) = status_json(&lab);
    assert_eq!(code, 1, "{s:#}");
    assert_eq!(s["vm"]["state"], "stopped", "{s:#}");
    take_calls(vmrun_dir(&lab));

    // Off: up powers it on (its shares off, as after a VMware power-on), enables the shares
    // and ends with verify passing.
    let (code, events, out) = dockvm_json(&lab, "up", &["--wait", "90s"]);
    assert_eq!(code, 0, "{out}");
    assert!(all_ok(&events), "{out}");
    let calls = take_calls(vmrun_dir(&lab));
    for want in ["list", "start", "enableSharedFolders"] {
        assert!(calls.iter().any(|c| c == want), "{want} not in {calls:?}");
    }
    wait_unit(&lab, "mnt-hgfs.mount", true);
    assert_eq!(guest_active(&lab, "docker"), "active");
}

/// A vmrun call on the lab's stand-in, as the WSL side makes it.
fn run_ok(lab: &Lab, cmd: &str) {
    let exe = "/mnt/c/Program Files (x86)/VMware/VMware Workstation/vmrun.exe";
    let out = lab.wsl(&[exe, "-T", "ws", cmd, r"D:\vmware\lab\lab.vmx"]);
    assert!(
        out.status.success(),
        "vmrun {cmd}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `up` interrupted at random moments (SIGTERM and SIGKILL), from power-off and from shares
/// off, on the fast path and the slow one (no kept container: verify creates a probe
/// container): the VM is started or not, a handled interrupt leaves nothing (no probe file, no
/// probe container but the kept ones, looked at before the next `up` sweeps), and the next
/// `up` completes. Three moments in four are tied to this run's probe file appearing in the
/// share, the others fall anywhere over `up`'s run; a run counts as landed only when its probe
/// (file or container) existed at the signal.
#[test]
fn up_interrupted_at_random_moments_leaves_a_vm_started_or_not() {
    if !booted_lab_can_run() {
        return;
    }
    let lab = Lab::up_booted("upsoak", SPEC, true);
    let spec = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), lab.spec);
    let share = format!("{}/windows-d/projects", lab.dir());
    let runs = soak_runs(100);
    let mut moments = Moments::new();
    let mut landed = 0;
    let mut slow_landed = 0;
    for i in 0..runs {
        let from_off = i % 5 == 0;
        let slow = i % 3 == 1;
        // Three runs in four tied to the probe (its life is a few ms), the fourth anywhere.
        let tied = (i / 2) % 4 != 3;
        let sig = if i % 2 == 0 { "TERM" } else { "KILL" };
        if slow {
            lab.remove_kept();
        }
        if from_off {
            let (code, _, out) = dockvm_json(&lab, "down", &["--wait", "60s"]);
            assert_eq!(code, 0, "run {i}: {out}");
        } else {
            run_ok(&lab, "disableSharedFolders");
        }
        let mut child = Command::new(LAB)
            .args([
                "wsl",
                lab.name,
                env!("CARGO_BIN_EXE_dockvm"),
                "up",
                "--spec",
                &spec,
                "--quiet",
                "--wait",
                "90s",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The dockvm process itself: `lab wsl` runs nsenter, which (through env and sh) execs
        // into it, as the lab script's child.
        let start = Instant::now();
        let pid = loop {
            let out = run(Command::new("pgrep").args(["-P", &child.id().to_string()]));
            if let Some(p) = String::from_utf8_lossy(&out.stdout).lines().next() {
                let p: u32 = p.trim().parse().unwrap();
                let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                if comm.trim() == "dockvm" {
                    break Some(p);
                }
            }
            if start.elapsed() > Duration::from_secs(5) || child.try_wait().unwrap().is_some() {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let moment = if tied {
            // Up to 5 ms after the probe file appears (the canary at work), whatever the
            // machine's speed.
            let waited = Instant::now();
            while probe_files(&share).is_empty()
                && child.try_wait().unwrap().is_none()
                && waited.elapsed() < Duration::from_secs(90)
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            let us = moments.next() % 5_000;
            std::thread::sleep(Duration::from_micros(us));
            format!("{} ms after the probe file", us / 1000)
        } else {
            // Anywhere over up's run: about 2 s from off, about 150 ms from shares off.
            let ms = moments.next() % if from_off { 2000 } else { 150 };
            std::thread::sleep(Duration::from_millis(ms));
            format!("{ms} ms after the start")
        };
        let seen = pid.is_some_and(|pid| {
            interrupt_seen(pid, sig, || {
                !probe_files(&share).is_empty() || !lab.fresh_probes().is_empty()
            })
        });
        landed += u64::from(seen);
        slow_landed += u64::from(seen && slow);
        let what = format!(
            "run {i}: from {}, {} path, SIG{sig} {moment} (seed {})",
            if from_off { "off" } else { "shares off" },
            if slow { "slow" } else { "fast" },
            moments.seed
        );
        eprintln!("{what}: landed while a probe existed: {seen}");
        let _ = child.wait();
        // Started or not; never half. A handled interrupt leaves nothing, seen now, before the
        // next up's sweep could remove it; a killed run may leave its probe, which the next
        // up's sweep removes once it is old (at once here).
        if sig == "TERM" {
            let probes = probe_files(&share);
            assert!(probes.is_empty(), "{what}: probe files left: {probes:?}");
            let fresh = lab.fresh_probes();
            assert!(fresh.is_empty(), "{what}: probe containers left: {fresh:?}");
        }
        let (code, events, out) = dockvm_json_env(
            &lab,
            &["DOCKVM_LEFTOVER_AGE_SECS=0"],
            "up",
            &["--wait", "90s"],
        );
        assert_eq!(code, 0, "{what}: the next up: {out}");
        assert!(all_ok(&events), "{what}: {out}");
    }
    let (containers, files) = lab.leftovers();
    assert!(containers.is_empty(), "containers left: {containers:?}");
    let probes = probe_files(&format!("{}/windows-d/projects", lab.dir()));
    assert!(
        probes.is_empty(),
        "probe files left: {probes:?} of {files:?}"
    );
    eprintln!(
        "up interrupted {landed} of {runs} times while a probe existed ({slow_landed} on the slow path)"
    );
    assert!(
        landed * 5 >= runs && slow_landed > 0,
        "only {landed} of {runs} interrupts landed while a probe existed ({slow_landed} on the slow path): the moments missed the work"
    );
}

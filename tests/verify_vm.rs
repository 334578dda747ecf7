//! The `vm` and `docker-cli` checks against real programs: a vmrun stand-in (a shell script at
//! vmrun.exe's path under a private automount root, as WSL interop reaches the real one) that
//! hangs, fails or answers; and `docker` files along a private PATH. No root needed; the
//! port is a loopback port where nothing listens.

mod support;

use camino::Utf8Path;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};
use support::*;

/// A spec whose automount root is `root`, so vmrun.exe is looked for under it.
fn spec(dir: &Utf8Path, root: &Utf8Path) -> String {
    let text = format!(
        "{}\n[wsl]\nautomount_root = \"{root}/\"\n[windows]\ncompose_paths = false\n",
        loopback_spec(free_port(), "docker.io")
    );
    let path = dir.join("dockvm.toml");
    fs::write(&path, text).unwrap();
    path.to_string()
}

fn executable(path: &Utf8Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// (what, the stand-in's script, vm's status, a phrase of its reason, port's status)
const VMRUN: &[(&str, &str, &str, &str, &str)] = &[
    (
        "list hangs",
        "sleep 30",
        "skip",
        "vmrun.exe -T ws list did not answer within 1 s: cannot tell whether the VM runs",
        "fail",
    ),
    (
        "list fails as vmrun does",
        r"printf 'Error: Cannot connect to VMware Workstation\r\n'; exit 255",
        "skip",
        r#"vmrun list failed (exit status: 255): "Error: Cannot connect to VMware Workstation""#,
        "fail",
    ),
    (
        "another VM runs",
        r"printf 'Total running VMs: 1\r\nC:\\VMs\\other.vmx\r\n'",
        "fail",
        r"the VM is not running: `dockvm up` starts it",
        "skip",
    ),
    (
        "running (other case), address query hangs",
        r#"case "$3" in list) printf 'Total running VMs: 1\r\nd:\\VMWARE\\lab\\LAB.vmx\r\n';; *) sleep 30;; esac"#,
        "pass",
        "the VM is running (its address is unknown: vmrun.exe -T ws getGuestIPAddress",
        "fail",
    ),
    (
        "running, tools not up",
        r#"case "$3" in list) printf 'Total running VMs: 1\r\nD:\\vmware\\lab\\lab.vmx\r\n';; *) printf 'Error: The VMware Tools are not running in the virtual machine\r\n'; exit 255;; esac"#,
        "pass",
        "The VMware Tools are not running",
        "fail",
    ),
];

#[test]
fn vm_check_reports_what_vmrun_says_within_the_deadline() {
    for (what, script, status, phrase, port) in VMRUN {
        let tmp = tempfile::tempdir().unwrap();
        let dir = utf8_dir(&tmp);
        let root = dir.join("mnt");
        executable(
            &root.join("c/Program Files (x86)/VMware/VMware Workstation/vmrun.exe"),
            &format!("#!/bin/sh\n{script}\n"),
        );
        let spec = spec(&dir, &root);
        let t = Instant::now();
        let (_, report, stderr) = verify_json(None, &["--spec", &spec, "--timeout", "1s"], &[]);
        let took = t.elapsed();
        let (s, reason) = status_reason(&report, "vm");
        assert_eq!(&s, status, "{what}: {reason}\n{stderr}");
        assert!(reason.contains(phrase), "{what}: {reason}");
        let (p, preason) = status_reason(&report, "port");
        assert_eq!(&p, port, "{what}: port {preason}");
        if *port == "skip" {
            assert_eq!(preason, "needs vm", "{what}");
        }
        // Two vmrun calls at most, each within what is left of the 1 s deadline.
        assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
    }
}

/// The healthy path never waits for vmrun: with the port answering, a vmrun that would take
/// 30 s is stopped as soon as the port has answered, `vm` passes saying vmrun was not asked,
/// and the stopped vmrun is gone when verify exits. With vmrun saying the VM is not running,
/// the port (whose connection would hang) is not waited for either.
#[test]
fn vm_runs_beside_port_and_is_waited_for_only_when_the_port_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    let root = dir.join("mnt");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = dir.join("dockvm.toml");
    fs::write(
        &path,
        format!(
            "{}\n[wsl]\nautomount_root = \"{root}/\"\n",
            loopback_spec(port, "docker.io")
        ),
    )
    .unwrap();
    let pidfile = dir.join("vmrun.pid");
    executable(
        &root.join("c/Program Files (x86)/VMware/VMware Workstation/vmrun.exe"),
        &format!("#!/bin/sh\necho $$ >'{pidfile}'\nexec sleep 30\n"),
    );
    let t = Instant::now();
    let (_, report, stderr) = verify_json(
        None,
        &[
            "--spec",
            path.as_str(),
            "--only",
            "port",
            "--timeout",
            "20s",
        ],
        &[],
    );
    let took = t.elapsed();
    let (s, reason) = status_reason(&report, "vm");
    assert_eq!(s, "pass", "{reason}\n{stderr}");
    assert!(reason.contains("vmrun not asked"), "{reason}");
    assert_eq!(status_reason(&report, "port").0, "pass");
    assert!(took < Duration::from_secs(5), "waited for vmrun: {took:?}");
    // The vmrun it started (if it got as far as writing its pid) was stopped, not left running.
    if let Ok(pid) = fs::read_to_string(&pidfile) {
        let stat = fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
        assert!(
            stat.as_ref()
                .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z")),
            "vmrun {pid} still runs: {stat:?}"
        );
    }
    drop(listener);

    // A dead VM: vmrun says so, and that is the one root cause; the port is skipped for it.
    executable(
        &root.join("c/Program Files (x86)/VMware/VMware Workstation/vmrun.exe"),
        "#!/bin/sh\nprintf 'Total running VMs: 0\\r\\n'\n",
    );
    let (_, report, _) = verify_json(None, &["--spec", path.as_str(), "--only", "port"], &[]);
    let (s, reason) = status_reason(&report, "vm");
    assert_eq!(s, "fail", "{reason}");
    assert!(reason.contains("not running"), "{reason}");
    assert_eq!(
        status_reason(&report, "port"),
        ("skip".into(), "needs vm".into())
    );
}

#[test]
fn docker_cli_is_found_along_path_and_a_windows_one_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    let spec = spec(&dir, &dir.join("no-mnt"));
    let linux = dir.join("linux-bin/docker");
    executable(&linux, "#!/bin/sh\nexit 0\n");
    let exe = dir.join("c/Program Files/Docker/docker.exe");
    executable(&exe, "#!/bin/sh\nexit 0\n");
    let link_dir = dir.join("link-bin");
    fs::create_dir_all(&link_dir).unwrap();
    std::os::unix::fs::symlink(&exe, link_dir.join("docker")).unwrap();
    let mz_dir = dir.join("mz-bin");
    executable(
        &mz_dir.join("docker"),
        "MZ\u{90}\0 a Windows program, copied without its .exe\n",
    );
    let empty = dir.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let cases = [
        (
            format!("{empty}:{}", linux.parent().unwrap()),
            "pass",
            format!("docker is {linux}"),
        ),
        (
            format!("{link_dir}:{}", linux.parent().unwrap()),
            "warn",
            format!("{}/docker -> {exe}, Windows' docker.exe", link_dir),
        ),
        (
            format!("{mz_dir}"),
            "warn",
            "Windows' docker.exe through interop".to_owned(),
        ),
        (empty.to_string(), "fail", "no docker on PATH".to_owned()),
    ];
    for (path, status, phrase) in cases {
        let (_, report, _) = verify_json(
            None,
            &["--spec", &spec, "--only", "docker-cli"],
            &[("PATH", &path)],
        );
        let (s, reason) = status_reason(&report, "docker-cli");
        assert_eq!(
            (s.as_str(), reason.contains(&phrase)),
            (status, true),
            "PATH={path}: {reason}"
        );
    }
}

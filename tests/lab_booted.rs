//! The lab with a booted VM (`ci/lab/lab up NAME --boot`): a Debian 12 guest with systemd as
//! PID 1 and the stock docker.service of Debian's docker.io, under systemd-nspawn in the lab's
//! VM network namespace. In it, `dockvm install --side vm` runs as the README tells the user
//! (the static binary and the tree read through the share), its systemctl steps for real; the
//! generated mount unit mounts the share at boot through the share stand-in; the guest reboots
//! for real. The seed's case end to end (a web server on a share, reached by name from WSL,
//! again after a reboot), a late address, faults a real systemd makes real, and an uninstall
//! that gives `/etc` back byte for byte. Every lab is removed, also when a test fails.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::lab::*;
use support::*;

/// What a booted lab needs on this machine.
fn booted_lab_can_run() -> bool {
    if !require_root_and(&[
        "ip",
        "nsenter",
        "unshare",
        "curl",
        "docker",
        "systemd-nspawn",
        "mmdebstrap",
        "busybox",
    ]) {
        return false;
    }
    let bin = format!("{}/dist/dockvm-x86_64-linux", env!("CARGO_MANIFEST_DIR"));
    require(
        std::path::Path::new(&bin).exists(),
        &format!(
            "needs {bin}, the static binary the VM runs: ci/dist builds it (ci/test runs it first)"
        ),
    )
}

/// Every file and link under the guest's `/etc`: kind, mode, owner, link target, SHA-256.
fn etc_listing(lab: &Lab) -> String {
    lab.lab_ok(
        "vm",
        &[
            "sh",
            "-c",
            r#"cd /etc && find . -xdev -printf '%y %m %u:%g %p %l\n' | LC_ALL=C sort
               find . -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"#,
        ],
    )
}

/// `systemctl show -p NAME --value UNIT` in the guest.
fn unit_property(lab: &Lab, unit: &str, property: &str) -> String {
    lab.lab_ok(
        "vm",
        &["systemctl", "show", "-p", property, "--value", unit],
    )
    .trim()
    .to_owned()
}

/// verify on the WSL side: exactly the spec's checks, each passing (docker-api may warn over
/// plain TCP).
fn assert_verify_passes(lab: &Lab, when: &str) {
    let (code, report, _) = lab.verify(&[]);
    if let Err(why) = report_passes(lab.spec, code, &report) {
        panic!("{when}: {why}\n{report:#}");
    }
}

/// verify on the WSL side, and the one check expected to fail with a phrase of its reason.
fn assert_verify_fails(lab: &Lab, id: &str, phrase: &str, when: &str) {
    let (code, report, _) = lab.verify(&[]);
    assert_eq!(code, 1, "{when}: {report:#}");
    let (status, reason) = status_reason(&report, id);
    assert!(
        status == "fail" && reason.contains(phrase),
        "{when}: {id} is {status}: {reason}\n{report:#}"
    );
}

/// Waits until verify passes as [`assert_verify_passes`] judges it (dockerd starting after a
/// boot), at most `within`.
fn wait_verify_passes(lab: &Lab, within: Duration, when: &str) {
    let start = Instant::now();
    loop {
        let (code, report, _) = lab.verify(&[]);
        let judged = report_passes(lab.spec, code, &report);
        if judged.is_ok() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{when}: verify does not pass after {within:?}: {}\n{report:#}",
            judged.unwrap_err()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A busybox image without a registry, imported by the WSL side's docker CLI.
fn import_busybox(lab: &Lab) {
    let tar = lab.busybox_tar();
    let out = lab.wsl(&["sh", "-c", &format!("docker import - lab-busybox < {tar}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lines of an install's output that say it ran or skipped a command.
fn commands(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| l.starts_with("ran ") || l.starts_with("skipped "))
        .collect()
}

/// `curl http://local.test:88/` on the WSL side (the name through WSL's hosts block), retried
/// for a container that is still starting.
fn fetch_page(lab: &Lab) -> String {
    let out = lab.wsl(&[
        "curl",
        "-s",
        "-m",
        "5",
        "--retry",
        "20",
        "--retry-all-errors",
        "--retry-delay",
        "1",
        "http://local.test:88/",
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The VM side for real: install runs every systemctl step in the booted guest, the stock
/// dockerd merged with the drop-in answers on vm.ip, a second install changes nothing; the
/// seed's web server on a share with a Chinese name is reached from WSL, and again after a
/// reboot with nothing typed in the guest (the share mounted by the generated unit before
/// docker starts the container); dockerd comes up when the address arrives 8 s into the boot;
/// uninstall runs its steps and, after a reboot, the guest has the stock dockerd, no mount unit
/// and the very `/etc` it had before install.
/// What the guest publishes as guestinfo.dockvm.ip (the lab's vmware-rpctool stand-in keeps
/// it where vmrun's stand-in answers `readVariable` from).
fn published(lab: &Lab) -> String {
    let out = lab.lab("vm", &["cat", "/var/lib/dockvm-lab/guestinfo/dockvm.ip"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dockvm verify --only vm` on the WSL side: the `vm` check alone, so it asks vmrun for the
/// address (beside a port that answers it would not).
fn vm_finding(lab: &Lab) -> serde_json::Value {
    let spec = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), lab.spec);
    let out = lab.wsl(&[
        env!("CARGO_BIN_EXE_dockvm"),
        "verify",
        "--format",
        "json",
        "--only",
        "vm",
        "--spec",
        &spec,
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    support::finding(&report, "vm").clone()
}

/// The installed dockvm-address.service publishes vm.ip, and only it, while Docker's bridges
/// exist (docker0, a compose network's br-*) and after one comes; with VMware Tools reporting
/// docker0's 172.17.0.1, verify still finds the VM at vm.ip and says where that came from.
/// Without the unit, the same report is "address unknown", naming the missing publisher.
fn assert_guest_says_its_own_address(lab: &Lab) {
    let wait_published = |want: &str, when: &str| {
        let start = Instant::now();
        while published(lab) != want {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{when}: published {:?}, not {want:?}; the guest's addresses: {}",
                published(lab),
                lab.lab_ok("vm", &["ip", "-4", "-o", "addr"])
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_published("198.18.0.2", "after install");
    let out = lab.wsl(&["docker", "network", "create", "dvm-compose"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its bridge (br-<id>) has its gateway address from the start, like docker0.
    let addrs = lab.lab_ok("vm", &["ip", "-4", "-o", "addr"]);
    assert!(
        addrs.contains("br-") && addrs.contains("docker0"),
        "{addrs}"
    );
    wait_published("198.18.0.2", "with Docker's bridges");
    let out = lab.wsl(&["docker", "network", "rm", "dvm-compose"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // VMware Tools report docker0's address; the guest's own word wins.
    let ip_file = format!(
        "{}/windows-c/Program Files (x86)/VMware/VMware Workstation/ip",
        lab.dir()
    );
    let reported = std::fs::read_to_string(&ip_file).unwrap();
    std::fs::write(&ip_file, "172.17.0.1\n").unwrap();
    let f = vm_finding(lab);
    assert_eq!(f["status"], "pass", "{f:#}");
    assert!(
        f["reason"].as_str().unwrap().contains(
            "the VM is running at 198.18.0.2, published by the guest as guestinfo.dockvm.ip"
        ),
        "{f:#}"
    );
    // Without the publisher: VMware Tools' answer is not taken for the VM's address.
    lab.lab_ok("vm", &["systemctl", "stop", "dockvm-address.service"]);
    lab.lab_ok(
        "vm",
        &["rm", "-f", "/var/lib/dockvm-lab/guestinfo/dockvm.ip"],
    );
    let f = vm_finding(lab);
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("address is unknown: VMware Tools report 172.17.0.1")
            && f["reason"]
                .as_str()
                .unwrap()
                .contains("the guest publishes none"),
        "{f:#}"
    );
    std::fs::write(&ip_file, reported).unwrap();
    lab.lab_ok("vm", &["systemctl", "start", "dockvm-address.service"]);
    wait_published("198.18.0.2", "started again");
}

#[test]
fn booted_vm_install_reboot_seed_case_late_address_and_exact_uninstall() {
    if !booted_lab_can_run() {
        return;
    }
    {
        let lab = Lab::up_booted("boot", SPEC, false);
        // The stock guest: docker.service runs with -H fd:// and nothing on TCP.
        assert_eq!(
            unit_property(&lab, "docker.service", "ActiveState"),
            "active"
        );
        let before = etc_listing(&lab);

        // Install, as the README says, with systemd as PID 1: every step runs.
        let out = lab.lab_ok("vm-install", &[]);
        assert_eq!(
            commands(&out),
            [
                "ran systemctl daemon-reload",
                "ran systemctl enable --now mnt-hgfs.mount",
                "ran systemctl enable dockvm-address.service",
                "ran systemctl restart dockvm-address.service",
                "ran systemd-tmpfiles --create /etc/tmpfiles.d/dockvm.conf",
                "ran systemctl restart docker",
            ],
            "{out}"
        );
        // systemd merged the drop-in with the stock unit: fd:// kept, TCP on vm.ip added.
        let exec = unit_property(&lab, "docker.service", "ExecStart");
        assert!(
            exec.contains("-H fd://") && exec.contains("-H tcp://198.18.0.2:2375"),
            "{exec}"
        );
        assert_eq!(
            unit_property(&lab, "mnt-hgfs.mount", "ActiveState"),
            "active"
        );
        assert_eq!(
            lab.lab_ok("vm", &["readlink", "/mnt/d/projects"]),
            "/mnt/hgfs/d\n"
        );
        // A second install changes nothing and restarts nothing.
        let again = lab.lab_ok("vm-install", &[]);
        assert!(commands(&again).is_empty(), "{again}");
        assert!(again.contains("0 changed"), "{again}");
        assert_verify_passes(&lab, "after install");
        assert_guest_says_its_own_address(&lab);

        // The seed's case: a web server whose root is a share folder named in Chinese with a
        // space, started from WSL in that folder, reached by name from WSL.
        let site = format!("{}/windows-d/projects/网站 demo", lab.dir());
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(format!("{site}/index.html"), "written on Windows 你好\n").unwrap();
        import_busybox(&lab);
        let out = lab.wsl(&[
            "sh",
            "-ec",
            r#"cd "/mnt/d/projects/网站 demo"
               docker run -d --name web --restart unless-stopped -p 88:80 -v "$PWD":/www lab-busybox httpd -f -p 80 -h /www >/dev/null"#,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(fetch_page(&lab), "written on Windows 你好\n");

        // Reboot, with a share that takes 2 s to mount: nothing is typed in the guest, and the
        // share, the links, dockerd and the container all come back, the container after the
        // mount (the drop-in's After=mnt-hgfs.mount).
        lab.lab_ok(
            "vm",
            &["sh", "-c", "echo 2 > /var/lib/dockvm-lab/mount-delay"],
        );
        lab.lab_ok("reboot", &[]);
        assert_eq!(
            unit_property(&lab, "mnt-hgfs.mount", "ActiveState"),
            "active"
        );
        assert_eq!(
            lab.lab_ok("vm", &["readlink", "/mnt/d/projects"]),
            "/mnt/hgfs/d\n"
        );
        let mounted: u64 = unit_property(&lab, "mnt-hgfs.mount", "ActiveEnterTimestampMonotonic")
            .parse()
            .unwrap();
        let docker: u64 = unit_property(&lab, "docker.service", "ExecMainStartTimestampMonotonic")
            .parse()
            .unwrap();
        assert!(
            mounted > 0 && mounted <= docker,
            "dockerd started at {docker} µs, before the share was mounted at {mounted} µs"
        );
        assert_eq!(
            fetch_page(&lab),
            "written on Windows 你好\n",
            "after the reboot"
        );
        wait_verify_passes(&lab, Duration::from_secs(20), "after the reboot");
        lab.lab_ok("vm", &["rm", "/var/lib/dockvm-lab/mount-delay"]);

        // A late address (DHCP answering 8 s into the boot, past docker.service's three
        // restarts): dockerd still comes up, and answers once the address is there.
        lab.lab_ok("reboot", &["--address-after", "8"]);
        assert_eq!(
            unit_property(&lab, "docker.service", "ActiveState"),
            "active"
        );
        // docker.service was up before the address came (dockerd bound vm.ip without it,
        // ip_nonlocal_bind): its start against the moment the lab added the address, both on
        // the one monotonic clock the guest shares with this machine.
        let active_us: u64 = unit_property(&lab, "docker.service", "ActiveEnterTimestampMonotonic")
            .parse()
            .unwrap();
        let added = std::fs::read_to_string(format!("{}/vm/address-added", lab.dir())).unwrap();
        let added_us = (added.trim().parse::<f64>().unwrap() * 1e6) as u64;
        eprintln!(
            "docker.service active {:.1} s before the late address",
            (added_us as f64 - active_us as f64) / 1e6
        );
        assert!(
            active_us + 1_000_000 < added_us,
            "docker.service became active at {active_us} us, not before the address ({added_us} us): the late address tried nothing"
        );
        wait_verify_passes(&lab, Duration::from_secs(20), "after a late address");

        // Uninstall: its steps run; after a reboot the guest is stock again.
        let out = lab.wsl(&["docker", "rm", "-f", "web"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = lab.lab_ok("vm-install", &["uninstall"]);
        assert_eq!(
            commands(&out),
            [
                "ran systemctl disable --now mnt-hgfs.mount",
                "ran systemctl disable --now dockvm-address.service",
                "ran systemctl daemon-reload",
                "ran systemctl restart docker",
            ],
            "{out}"
        );
        lab.lab_ok("reboot", &[]);
        let exec = unit_property(&lab, "docker.service", "ExecStart");
        assert!(
            exec.contains("-H fd://") && !exec.contains("tcp://"),
            "{exec}"
        );
        let listening = lab.lab_ok("vm", &["ss", "-Hltn"]);
        assert!(!listening.contains(":2375"), "{listening}");
        assert_eq!(
            unit_property(&lab, "mnt-hgfs.mount", "LoadState"),
            "not-found"
        );
        let gone = lab.lab(
            "vm",
            &[
                "sh",
                "-c",
                "mountpoint -q /mnt/hgfs || test -e /mnt/d || test -e /d",
            ],
        );
        assert!(
            !gone.status.success(),
            "the share, /mnt/d or /d is still there"
        );
        assert_eq!(etc_listing(&lab), before, "/etc after uninstall");
    }
    assert!(lab_gone("boot"), "the lab was not removed");
}

/// Faults a real systemd makes real, each named by verify on the WSL side: docker stopped,
/// the share unmounted, a link removed (and made again by the next boot), a daemon.json with
/// "hosts" (refused by install; dockerd indeed fails with it), the VM powered off (and booted
/// again).
#[test]
fn booted_vm_faults_are_named_by_verify() {
    if !booted_lab_can_run() {
        return;
    }
    {
        let lab = Lab::up_booted("bootfault", SPEC, true);
        assert_verify_passes(&lab, "healthy");

        lab.lab_ok(
            "vm",
            &["systemctl", "stop", "docker.socket", "docker.service"],
        );
        assert_verify_fails(&lab, "port", "refused", "docker stopped");
        lab.lab_ok(
            "vm",
            &["systemctl", "start", "docker.socket", "docker.service"],
        );
        assert_verify_passes(&lab, "docker started again");

        lab.lab_ok("vm", &["systemctl", "stop", "mnt-hgfs.mount"]);
        assert_verify_fails(
            &lab,
            "share:d",
            "is not mounted at /mnt/hgfs/d",
            "share unmounted",
        );
        lab.lab_ok("vm", &["systemctl", "start", "mnt-hgfs.mount"]);
        assert_verify_passes(&lab, "share mounted again");

        lab.lab_ok("vm", &["rm", "/mnt/d/projects"]);
        assert_verify_fails(&lab, "share:d", "the link is missing", "link removed");
        lab.lab_ok("reboot", &[]);
        wait_verify_passes(&lab, Duration::from_secs(20), "link made again at boot");

        // "hosts" in daemon.json beside the drop-in's -H flags: install refuses it first, and
        // dockerd indeed does not start with it.
        lab.lab_ok(
            "vm",
            &[
                "sh",
                "-c",
                r#"printf '{"hosts": ["unix:///var/run/docker.sock"]}\n' > /etc/docker/daemon.json"#,
            ],
        );
        let refused = lab.lab("vm-install", &[]);
        let said = String::from_utf8_lossy(&refused.stderr).into_owned()
            + &String::from_utf8_lossy(&refused.stdout);
        assert_eq!(refused.status.code(), Some(2), "{said}");
        assert!(
            said.contains("daemon.json") && said.contains("hosts"),
            "{said}"
        );
        let restart = lab.lab("vm", &["systemctl", "restart", "docker"]);
        assert!(
            !restart.status.success(),
            "dockerd started with hosts in daemon.json"
        );
        let journal = lab.lab_ok(
            "vm",
            &["journalctl", "-u", "docker", "--no-pager", "-n", "50"],
        );
        assert!(
            journal.contains("specified both as a flag and in the configuration file"),
            "{journal}"
        );
        assert_verify_fails(&lab, "port", "refused", "dockerd failed on daemon.json");
        lab.lab_ok("vm", &["rm", "/etc/docker/daemon.json"]);
        lab.lab_ok(
            "vm",
            &[
                "systemctl",
                "reset-failed",
                "docker.service",
                "docker.socket",
            ],
        );
        lab.lab_ok(
            "vm",
            &["systemctl", "start", "docker.socket", "docker.service"],
        );
        assert_verify_passes(&lab, "daemon.json removed");

        lab.lab_ok("poweroff", &[]);
        assert_verify_fails(&lab, "vm", "the VM is not running", "powered off");
        lab.lab_ok("start", &[]);
        wait_verify_passes(&lab, Duration::from_secs(20), "booted again");
    }
    assert!(lab_gone("bootfault"), "the lab was not removed");
}

/// The TLS spec in a booted guest: install with `--certs` (read through the share) runs its
/// steps, the stock dockerd merged with the TLS drop-in answers on 2376, the docker CLI in WSL
/// gets in with the profile's variables, verify passes every check, and a second install
/// changes nothing.
#[test]
fn booted_vm_with_tls_answers_on_2376() {
    if !booted_lab_can_run() || !require(have("openssl"), "needs openssl") {
        return;
    }
    {
        let lab = Lab::up_booted("boottls", TLS_SPEC, true);
        let exec = unit_property(&lab, "docker.service", "ExecStart");
        assert!(
            exec.contains("-H tcp://198.18.0.2:2376") && exec.contains("--tlsverify"),
            "{exec}"
        );
        assert_verify_passes(&lab, "with TLS");
        let out = lab.wsl(&["docker", "version", "--format", "{{.Server.Os}}"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "linux\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let again = lab.lab_ok("vm-install", &[]);
        assert!(commands(&again).is_empty(), "{again}");
    }
    assert!(lab_gone("boottls"), "the lab was not removed");
}

/// A booted lab's `up` stopped at random moments (SIGTERM: up cleans up itself; SIGKILL: it
/// cannot, and `ci/lab/lab down` must): afterwards no guest, nspawn or supervisor runs, and
/// nothing of the lab is left.
#[test]
fn an_interrupted_booted_up_leaves_nothing_after_down() {
    if !booted_lab_can_run() {
        return;
    }
    // The root is built (or found) first, so the moments fall into the lab's own work.
    let out = run(&mut Command::new("ci/lab/guest-root"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut moments = Moments::new();
    let seed = moments.seed;
    let runs = soak_runs(8);
    let mut interrupted = 0;
    for i in 0..runs {
        let m = moments.next();
        let mut up = Command::new(LAB)
            .args(["up", "bootintr", "--boot"])
            .env("DOCKVM_BIN", env!("CARGO_BIN_EXE_dockvm"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // up takes about 3.5 s here (gen, network, overlay, boot, install in the guest, the WSL
        // side): its moments are spread over its first 4.
        let at = (m >> 8) % 4_000;
        std::thread::sleep(Duration::from_millis(at));
        let sig = if i % 2 == 0 { "-TERM" } else { "-KILL" };
        // Interrupted only when up was still running at the signal and ended by it (the
        // script's TERM trap exits 130; a KILL is the signal itself), not on any failure.
        let running = up.try_wait().unwrap().is_none();
        let _ = Command::new("kill")
            .args([sig, &up.id().to_string()])
            .status();
        let status = wait_at_most(&mut up, Duration::from_secs(120))
            .unwrap_or_else(|t| panic!("up did not end after {sig} (seed {seed}): {t}"));
        {
            use std::os::unix::process::ExitStatusExt as _;
            let by_signal = match sig {
                "-KILL" => status.signal() == Some(9),
                _ => status.code() == Some(130) || status.signal() == Some(15),
            };
            if running && by_signal {
                interrupted += 1;
            }
        }
        let out = run(Command::new(LAB).args(["down", "bootintr"]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ps = run(Command::new("pgrep").args(["-f", "/tmp/dockvm-lab/bootintr"]));
        assert!(
            ps.stdout.is_empty(),
            "after {sig} at {at} ms ({status:?}), still running: {} (seed {seed})",
            String::from_utf8_lossy(&ps.stdout)
        );
        assert!(lab_gone("bootintr"), "lab left after {sig} (seed {seed})");
        assert!(
            !std::path::Path::new("/sys/fs/cgroup/unified/dockvm-lab-bootintr").exists(),
            "cgroup left (seed {seed})"
        );
    }
    // Most moments fall inside up (the rest after it, when down removes a whole lab).
    assert!(
        interrupted >= runs / 2,
        "only {interrupted} of {runs} ups were stopped mid-way (seed {seed})"
    );
}

fn lab_gone(name: &str) -> bool {
    let netns = String::from_utf8(run(Command::new("ip").args(["netns", "list"])).stdout).unwrap();
    !netns.contains(&format!("dvm-{name}-"))
        && !std::path::Path::new(&format!("/tmp/dockvm-lab/{name}")).exists()
}

/// The guest's global IPv4 addresses.
fn guest_addresses(lab: &Lab) -> String {
    lab.lab_ok("vm", &["ip", "-4", "-o", "addr", "show", "scope", "global"])
}

/// VMware's DHCP, played by ISC dhcpd reading the lab's vmnetdhcp.conf: without a reservation
/// the guest's own DHCP client gets an address from the dynamic range, and verify and `up`
/// name that as the root cause (and the missing reservation); `dockvm.exe install` (Wine, the
/// lab's C:\ProgramData\VMware and D:\vmware\lab\lab.vmx) reserves vm.ip for the .vmx's MAC,
/// and after the DHCP service's restart (the lab restarts dhcpd: the real VMnetDHCP does not
/// run under Wine, so install says it skipped it) the guest gets vm.ip and verify passes.
/// Uninstall gives VMware's file back byte for byte.
#[test]
fn booted_vm_gets_vm_ip_from_vmware_s_dhcp_through_the_reservation() {
    if !booted_lab_can_run()
        || !require(
            have("dhcpd") && have(support::wine::WINE) && have(support::wine::MINGW),
            "needs dhcpd (isc-dhcp-server), wine64 and mingw-w64 (ci/install-deps installs them)",
        )
    {
        return;
    }
    {
        let lab = Lab::up_booted_dhcp("bootdhcp");
        let conf = format!("{}/windows-c/ProgramData/VMware/vmnetdhcp.conf", lab.dir());
        let vmware_s = std::fs::read(&conf).unwrap();
        // An address from the dynamic range, published by the guest.
        let start = Instant::now();
        while !published(&lab).starts_with("198.18.0.1") || published(&lab) == "198.18.0.1" {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no address from the range: {} (published {:?})",
                guest_addresses(&lab),
                published(&lab)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let got = published(&lab);
        assert!(!guest_addresses(&lab).contains("198.18.0.2/"));
        let (code, report, _) = lab.verify(&[]);
        assert_eq!(code, 1, "{report:#}");
        let (status, reason) = status_reason(&report, "vm");
        assert!(
            status == "fail"
                && reason.contains(&format!(
                    "the VM runs at {got} (published by the guest as guestinfo.dockvm.ip), not at vm.ip 198.18.0.2"
                ))
                && reason.contains("vm.ip is not reserved in VMware's DHCP"),
            "{status}: {reason}\n{report:#}"
        );
        let spec = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), lab.spec);
        let up = lab.wsl(&[
            env!("CARGO_BIN_EXE_dockvm"),
            "up",
            "--spec",
            &spec,
            "--wait",
            "20s",
        ]);
        let said =
            String::from_utf8_lossy(&up.stdout).into_owned() + &String::from_utf8_lossy(&up.stderr);
        assert!(
            !up.status.success()
                && said.contains(&format!("the VM came up at {got}, not at vm.ip 198.18.0.2")),
            "{said}"
        );

        // dockvm.exe install on the lab's Windows files: D: is the lab's, and so is
        // C:\ProgramData\VMware.
        let wine = support::wine::Wine::new();
        std::os::unix::fs::symlink(
            format!("{}/windows-d", lab.dir()),
            wine.prefix().join("dosdevices/d:"),
        )
        .unwrap();
        let programdata = wine.drive_c(r"C:\ProgramData");
        std::fs::create_dir_all(&programdata).unwrap();
        std::os::unix::fs::symlink(
            format!("{}/windows-c/ProgramData/VMware", lab.dir()),
            programdata.join("VMware"),
        )
        .unwrap();
        let exe = support::wine::dockvm_exe();
        let from =
            support::wine::Wine::win(camino::Utf8Path::new(&format!("{}/generated", lab.dir())));
        let dockvm = |verb: &str| {
            let out = wine.output(wine.cmd().arg(exe.as_str()).args([verb, "--from", &from]));
            let said = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{verb}: {said}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            said
        };
        let said = dockvm("install");
        assert!(
            said.contains("skipped restarting service VMnetDHCP: it is not installed"),
            "{said}"
        );
        let edited = std::fs::read_to_string(&conf).unwrap();
        assert!(
            edited.ends_with(
                "# BEGIN dockvm lab\r\nhost dockvm-lab {\r\n    hardware ethernet 00:0c:29:5a:3b:7c;\r\n    fixed-address 198.18.0.2;\r\n}\r\n# END dockvm lab\r\n"
            ),
            "{edited}"
        );
        // The service's restart, as VMware's DHCP service rereads its file; the guest asks again.
        lab.lab_ok("dhcpd", &["restart"]);
        lab.lab_ok("vm", &["networkctl", "reconfigure", "dvbootdhcpv"]);
        let start = Instant::now();
        while !guest_addresses(&lab).contains("198.18.0.2/24") {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the guest did not get vm.ip: {}",
                guest_addresses(&lab)
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        wait_verify_passes(&lab, Duration::from_secs(30), "with the reservation");
        let (_, report, _) = lab.verify(&[]);
        let (status, reason) = status_reason(&report, "vm");
        assert_eq!(status, "pass", "{reason}");

        // The VM copied: VMware generates a new MAC. The address still answers until the
        // lease ends, so verify warns, naming the reservation that no longer matches, and so
        // does `status`.
        let vmx = format!("{}/windows-d/vmware/lab/lab.vmx", lab.dir());
        let original = std::fs::read_to_string(&vmx).unwrap();
        std::fs::write(
            &vmx,
            original.replace("00:0c:29:5a:3b:7c", "00:0c:29:00:00:99"),
        )
        .unwrap();
        let (code, report, _) = lab.verify(&[]);
        let (status, reason) = status_reason(&report, "vm");
        let stale = "the reservation dockvm-lab in /mnt/c/ProgramData/VMware/vmnetdhcp.conf is 198.18.0.2 for 00:0c:29:5a:3b:7c, but the VM needs 198.18.0.2 for 00:0c:29:00:00:99";
        assert!(
            code == 0 && status == "warn" && reason.contains(stale),
            "{code} {status}: {reason}"
        );
        let out = lab.wsl(&[env!("CARGO_BIN_EXE_dockvm"), "status", "--spec", &spec]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(stale), "{said}");
        std::fs::write(&vmx, original).unwrap();

        dockvm("uninstall");
        assert_eq!(
            std::fs::read(&conf).unwrap(),
            vmware_s,
            "vmnetdhcp.conf after uninstall"
        );
    }
    assert!(lab_gone("bootdhcp"), "the lab was not removed");
}

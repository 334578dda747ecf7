//! The lab (`ci/lab/lab`) for the tests: a running lab, removed on drop.

use super::{output_via_files, run};
use std::process::Command;
use std::time::{Duration, Instant};

pub const LAB: &str = "ci/lab/lab";
pub const SPEC: &str = "ci/lab/lab.toml";

/// The checks of `ci/lab/lab.toml` (plain TCP, one share) on the WSL side, in the report's
/// order.
pub const LAB_CHECKS: &[&str] = &[
    "vm",
    "name",
    "port",
    "docker-api",
    "clock",
    "env",
    "docker-cli",
    "profile",
    "share:d",
];

/// The checks a lab's spec gives on the WSL side, in the report's order: [`LAB_CHECKS`], with
/// `tls` after `port` for the TLS specs.
pub fn lab_checks(spec: &str) -> Vec<&'static str> {
    let mut ids = LAB_CHECKS.to_vec();
    if spec.contains("tls") {
        ids.insert(3, "tls");
    }
    ids
}

/// Whether a WSL-side verify report of `spec` passes whole: exactly its checks, in order, each
/// passing (docker-api may warn over plain TCP). The problem, said, if not.
pub fn report_passes(spec: &str, code: i32, report: &serde_json::Value) -> Result<(), String> {
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    let want = lab_checks(spec);
    if ids != want {
        return Err(format!("checks {ids:?}, expected {want:?}"));
    }
    let plain = !spec.contains("tls");
    if let Some(c) = checks.iter().find(|c| {
        let s = c["status"].as_str().unwrap_or("");
        !(s == "pass" || (plain && s == "warn" && c["id"] == "docker-api"))
    }) {
        return Err(format!("not a pass: {c}"));
    }
    if code != 0 {
        return Err(format!("exit {code} with every check passing"));
    }
    Ok(())
}
/// The lab with `tls = true`.
pub const TLS_SPEC: &str = "ci/lab/lab-tls.toml";
/// lab.toml and lab-tls.toml with `[windows] endpoint = "pipe"`.
pub const PIPE_SPEC: &str = "ci/lab/lab-pipe.toml";
pub const PIPE_TLS_SPEC: &str = "ci/lab/lab-pipe-tls.toml";

/// A running lab, removed on drop.
pub struct Lab {
    pub name: &'static str,
    /// The spec the lab was built from (relative to the repository).
    pub spec: &'static str,
}

impl Lab {
    pub fn up(name: &'static str, faults: &[&str]) -> Lab {
        Lab::up_with(name, faults, SPEC)
    }

    /// A lab built from another spec ([`TLS_SPEC`]).
    pub fn up_with(name: &'static str, faults: &[&str], spec: &'static str) -> Lab {
        let mut cmd = Command::new(LAB);
        cmd.args(["up", name])
            .env("DOCKVM_BIN", env!("CARGO_BIN_EXE_dockvm"))
            .env("LAB_SPEC", spec);
        for f in faults {
            cmd.args(["--fault", f]);
        }
        let out = run(&mut cmd);
        // Constructed before the assertion, so a failed `up` is still taken down.
        let lab = Lab { name, spec };
        assert!(
            out.status.success(),
            "lab up {name} {faults:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab
    }

    /// A lab whose VM is a booted guest (`ci/lab/lab up NAME --boot`): systemd as PID 1, the
    /// stock docker.service; `dockvm install --side vm` ran in it unless `install_vm` is false.
    pub fn up_booted(name: &'static str, spec: &'static str, install_vm: bool) -> Lab {
        let mut cmd = Command::new(LAB);
        cmd.args(["up", name, "--boot"])
            .env("DOCKVM_BIN", env!("CARGO_BIN_EXE_dockvm"))
            .env("LAB_SPEC", spec);
        if !install_vm {
            cmd.arg("--no-vm-install");
        }
        let out = run(&mut cmd);
        let lab = Lab { name, spec };
        assert!(
            out.status.success(),
            "lab up {name} --boot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab
    }

    /// A booted lab whose VM gets its address from ISC dhcpd reading the lab's
    /// vmnetdhcp.conf (`ci/lab/lab up NAME --boot --dhcp`), `dockvm install --side vm` done.
    pub fn up_booted_dhcp(name: &'static str) -> Lab {
        let mut cmd = Command::new(LAB);
        cmd.args(["up", name, "--boot", "--dhcp"])
            .env("DOCKVM_BIN", env!("CARGO_BIN_EXE_dockvm"))
            .env("LAB_SPEC", SPEC);
        let out = run(&mut cmd);
        let lab = Lab { name, spec: SPEC };
        assert!(
            out.status.success(),
            "lab up {name} --boot --dhcp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab
    }

    /// `ci/lab/lab CMD NAME ARGS...` (vm, vm-install, reboot, poweroff, start, restart).
    pub fn lab(&self, cmd: &str, args: &[&str]) -> std::process::Output {
        run(Command::new(LAB).args([cmd, self.name]).args(args))
    }

    /// Like [`Lab::lab`], asserting success; returns standard output.
    pub fn lab_ok(&self, cmd: &str, args: &[&str]) -> String {
        let out = self.lab(cmd, args);
        assert!(
            out.status.success(),
            "lab {cmd} {} {args:?}: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command on the WSL side, after its profile.
    pub fn wsl(&self, args: &[&str]) -> std::process::Output {
        run(Command::new(LAB).args(["wsl", self.name]).args(args))
    }

    /// Runs a command on the WSL side with no shell before it (only PATH, HOME and LANG set):
    /// a shell it starts reads its own start-up files.
    pub fn wsl_bare(&self, args: &[&str]) -> std::process::Output {
        run(Command::new(LAB).args(["wsl-bare", self.name]).args(args))
    }

    /// Like [`Lab::wsl`], output captured through files (for Wine, whose services inherit
    /// pipes and outlive the call).
    pub fn wsl_files(&self, args: &[&str]) -> std::process::Output {
        output_via_files(Command::new(LAB).args(["wsl", self.name]).args(args))
    }

    /// `dockvm verify --format json` on the WSL side, with `env` (KEY=VALUE or -u KEY) applied.
    pub fn verify(&self, env: &[&str]) -> (i32, serde_json::Value, Duration) {
        let mut args = vec!["env"];
        args.extend_from_slice(env);
        let spec = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), self.spec);
        args.extend_from_slice(&[
            env!("CARGO_BIN_EXE_dockvm"),
            "verify",
            "--format",
            "json",
            "--spec",
            &spec,
        ]);
        let start = Instant::now();
        let out = self.wsl(&args);
        let took = start.elapsed();
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: no JSON ({e}): {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report, took)
    }

    /// Restarts the VM's dockerd (it rereads its certificates), waiting until it answers.
    pub fn restart_dockerd(&self) {
        let out = run(Command::new(LAB).args(["restart", self.name]));
        assert!(
            out.status.success(),
            "lab restart {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A tar of a busybox root for `docker import` (no registry here): Debian's
    /// busybox-static as /bin/busybox, with links for sh, httpd, cat and sleep. Written in the
    /// lab's folder; returns its path.
    pub fn busybox_tar(&self) -> String {
        let root = format!("{}/busybox-root", self.dir());
        std::fs::create_dir_all(format!("{root}/bin")).unwrap();
        let which = run(Command::new("sh").args(["-c", "command -v busybox"]));
        let busybox = String::from_utf8_lossy(&which.stdout).trim().to_owned();
        assert!(!busybox.is_empty(), "busybox (busybox-static) is missing");
        std::fs::copy(&busybox, format!("{root}/bin/busybox")).unwrap();
        for l in ["sh", "httpd", "cat", "sleep"] {
            let _ = std::os::unix::fs::symlink("busybox", format!("{root}/bin/{l}"));
        }
        let tar = format!("{}/busybox.tar", self.dir());
        let out = run(Command::new("tar").args(["-C", &root, "-cf", &tar, "."]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tar
    }

    pub fn dir(&self) -> String {
        format!("/tmp/dockvm-lab/{}", self.name)
    }

    /// What verify may have left: the VM's containers but the kept probe containers (their
    /// names, empty when none) and the names in the shared folder.
    pub fn leftovers(&self) -> (Vec<String>, Vec<std::ffi::OsString>) {
        (self.containers(false), self.share_files())
    }

    /// The names in the shared folder. A share folder that is missing or moved fails, rather
    /// than reading as "nothing left".
    pub fn share_files(&self) -> Vec<std::ffi::OsString> {
        let share = format!("{}/windows-d/projects", self.dir());
        std::fs::read_dir(&share)
            .unwrap_or_else(|e| panic!("{}: the share folder {share}: {e}", self.name))
            .map(|e| e.expect("a folder entry").file_name())
            .collect()
    }

    /// Removes the share's kept probe container, so that the next verify takes the slow path.
    pub fn remove_kept(&self) {
        if std::path::Path::new(&format!("{}/booted", self.dir())).exists() {
            self.lab_ok("vm", &["docker", "rm", "-f", "dockvm-probe-lab-d"]);
            return;
        }
        let out = run(Command::new("curl").args([
            "-s",
            "-X",
            "DELETE",
            "--unix-socket",
            &format!("{}/vm/docker.sock", self.dir()),
            "http://docker/containers/dockvm-probe-lab-d?force=1",
        ]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A verify run's own probe containers (`dockvm-probe-<token>`), not the kept ones. A
    /// daemon that does not answer (the VM still booting) has none.
    pub fn fresh_probes(&self) -> Vec<String> {
        let out = if std::path::Path::new(&format!("{}/booted", self.dir())).exists() {
            self.lab(
                "vm",
                &["docker", "ps", "-a", "--format", "{{.Names}} {{.Labels}}"],
            )
        } else {
            run(Command::new("docker")
                .args(["-H", &format!("unix://{}/vm/docker.sock", self.dir())])
                .args(["ps", "-a", "--format", "{{.Names}} {{.Labels}}"]))
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("dockvm-probe-") && !l.contains("dockvm.probe=kept"))
            .map(|l| format!("/{}", l.split(' ').next().unwrap_or("")))
            .collect()
    }

    /// The VM's containers, by name: the kept probe containers (`kept`), or all the others.
    pub fn containers(&self, kept: bool) -> Vec<String> {
        // A booted VM: its own docker CLI, in the guest.
        if std::path::Path::new(&format!("{}/booted", self.dir())).exists() {
            let names = |filter: &[&str]| -> Vec<String> {
                let mut args = vec!["docker", "ps", "-a", "--format", "{{.Names}}"];
                args.extend_from_slice(filter);
                self.lab_ok("vm", &args)
                    .lines()
                    .map(|l| format!("/{l}"))
                    .collect()
            };
            let kept_names = names(&["--filter", "label=dockvm.probe=kept"]);
            return if kept {
                kept_names
            } else {
                names(&[])
                    .into_iter()
                    .filter(|n| !kept_names.contains(n))
                    .collect()
            };
        }
        let ps = run(Command::new("curl").args([
            "-s",
            "--unix-socket",
            &format!("{}/vm/docker.sock", self.dir()),
            "http://docker/containers/json?all=1",
        ]));
        let list: serde_json::Value = serde_json::from_slice(&ps.stdout)
            .unwrap_or_else(|e| panic!("{}: the daemon's list ({e})", self.name));
        list.as_array()
            .unwrap()
            .iter()
            .filter(|c| (c["Labels"]["dockvm.probe"] == "kept") == kept)
            .map(|c| c["Names"][0].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// A soak's verdict: no probe container in the VM and no probe file in the share.
    pub fn assert_nothing_left(&self, seed: u64) {
        let (containers, files) = self.leftovers();
        assert!(
            containers.is_empty(),
            "probe containers left: {containers:?} (seed {seed})"
        );
        assert!(
            files.is_empty(),
            "probe files left: {files:?} (seed {seed})"
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = run(Command::new(LAB).args(["down", self.name]));
        if !out.status.success() {
            eprintln!(
                "lab down {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

//! The Windows side of a lab for the tests: a Wine prefix on the lab's WSL side (its network
//! and mount namespaces, so Wine's sockets reach the lab VM), whose `D:` is the lab's shared
//! folder, with a mingw-built vmrun.exe answering from files and `dockvm.exe` cross-compiled.

use super::lab::*;
use super::wine::*;
use super::*;
use camino::{Utf8Path, Utf8PathBuf};
use std::fs;
use std::process::Command;

/// A lab with a Windows side: a Wine prefix set up as a user's Windows with the setup done.
pub struct WinSide {
    pub lab: Lab,
    pub prefix: Utf8PathBuf,
    pub exe: Utf8PathBuf,
}

/// What these tests need: the lab's programs, Wine and mingw-w64.
pub const NEEDS: &[&str] = &[
    "ip",
    "nsenter",
    "unshare",
    "systemd-tmpfiles",
    "curl",
    WINE,
    MINGW,
];

/// The real Windows docker CLI, built once per machine by `ci/docker-exe/build` (which
/// ci/install-deps runs), or `None` with the reason said (a failure under `CI=true`).
pub fn real_docker_exe() -> Option<Utf8PathBuf> {
    let script = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/docker-exe/build");
    let out = run(&mut Command::new(script.as_str()));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ok = out.status.success() && Utf8Path::new(&path).exists();
    require(
        ok,
        &format!(
            "needs the real docker.exe, which ci/docker-exe/build makes (ci/install-deps runs it): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    )
    .then(|| Utf8PathBuf::from(path))
}

/// Whether the Windows-side tests can run here: root, the lab's programs, Wine, mingw-w64 and
/// the real docker.exe.
pub fn windows_side_can_run() -> bool {
    require_root_and(NEEDS) && real_docker_exe().is_some()
}

pub const VMRUN: &str = r"C:\Program Files (x86)\VMware\VMware Workstation";
pub const DOCKER_DIR: &str = r"C:\Program Files\Docker";

impl WinSide {
    pub fn up(name: &'static str, faults: &[&str]) -> WinSide {
        WinSide::up_with(name, faults, SPEC)
    }

    pub fn up_with(name: &'static str, faults: &[&str], spec: &'static str) -> WinSide {
        let w = WinSide::bare(Lab::up_with(name, faults, spec));
        // The real docker.exe where docker_dir says.
        let docker = w.drive_c(DOCKER_DIR);
        fs::create_dir_all(&docker).unwrap();
        let real = real_docker_exe().expect("the caller checked windows_side_can_run");
        fs::copy(real, docker.join("docker.exe")).unwrap();
        // The Windows hosts file with the generated block, as `dockvm install` leaves it.
        let block = fs::read(format!("{}/generated/windows/hosts.txt", w.lab.dir())).unwrap();
        fs::write(
            w.drive_c(r"C:\windows\system32\drivers\etc\hosts"),
            [b"127.0.0.1 localhost\r\n" as &[u8], &block].concat(),
        )
        .unwrap();
        w.reg_add("Path", "REG_EXPAND_SZ", DOCKER_DIR);
        w.reg_add("COMPOSE_CONVERT_WINDOWS_PATHS", "REG_SZ", "1");
        if spec == PIPE_SPEC || spec == PIPE_TLS_SPEC {
            // As `dockvm.exe install` leaves it with the pipe: no DOCKER_HOST, no TLS variable,
            // the client files (TLS) where the proxy reads them.
            if spec == PIPE_TLS_SPEC {
                let dir = w.drive_c(r"C:\users\root\.docker\dockvm-lab");
                fs::create_dir_all(&dir).unwrap();
                for f in ["ca.pem", "cert.pem", "key.pem"] {
                    fs::copy(format!("{}/certs/{f}", w.lab.dir()), dir.join(f)).unwrap();
                }
            }
        } else if spec == TLS_SPEC {
            // As `dockvm.exe install --certs` leaves it: the client files under %USERPROFILE%
            // and the three variables.
            w.reg_add("DOCKER_HOST", "REG_SZ", "tcp://local.test:2376");
            w.reg_add("DOCKER_TLS_VERIFY", "REG_SZ", "1");
            w.reg_add(
                "DOCKER_CERT_PATH",
                "REG_EXPAND_SZ",
                r"%USERPROFILE%\.docker\dockvm-lab",
            );
            let dir = w.drive_c(r"C:\users\root\.docker\dockvm-lab");
            fs::create_dir_all(&dir).unwrap();
            for f in ["ca.pem", "cert.pem", "key.pem"] {
                fs::copy(format!("{}/certs/{f}", w.lab.dir()), dir.join(f)).unwrap();
            }
        } else {
            w.reg_add("DOCKER_HOST", "REG_SZ", "tcp://local.test:2375");
        }
        w
    }

    /// The Windows side of `lab` as a fresh Windows with VMware: a new prefix (its wineserver
    /// started inside the lab's WSL network namespace), `D:` the lab's shared folder, vmrun.exe
    /// answering that the lab VM runs. Nothing of the setup: no registry values, no docker.exe.
    pub fn bare(lab: Lab) -> WinSide {
        let exe = dockvm_exe();
        let prefix = Utf8PathBuf::from(format!("{}/wine", lab.dir()));
        fs::create_dir_all(&prefix).unwrap();
        let w = WinSide { lab, prefix, exe };
        let boot = w.wine(&["wineboot", "-i"]);
        assert!(
            boot.status.success(),
            "wineboot: {}",
            String::from_utf8_lossy(&boot.stderr)
        );
        // D: is the folder the lab shares with its VM.
        let d = w.prefix.join("dosdevices/d:");
        let _ = fs::remove_file(&d);
        std::os::unix::fs::symlink(format!("{}/windows-d", w.lab.dir()), &d).unwrap();
        // vmrun.exe answering from files; a docker.exe where docker_dir says.
        let vmrun_dir = w.drive_c(VMRUN);
        fs::create_dir_all(&vmrun_dir).unwrap();
        let cc = run(Command::new(MINGW).args([
            "-municode",
            "-O2",
            "-o",
            vmrun_dir.join("vmrun.exe").as_str(),
            "tests/fixtures/vmrun-answers.c",
        ]));
        assert!(
            cc.status.success(),
            "{}",
            String::from_utf8_lossy(&cc.stderr)
        );
        w.vmrun_says(&[r"D:\vmware\lab\lab.vmx"], "198.18.0.2");
        w
    }

    pub fn drive_c(&self, windows_path: &str) -> Utf8PathBuf {
        self.prefix
            .join("drive_c")
            .join(windows_path.trim_start_matches(r"C:\").replace('\\', "/"))
    }

    /// `tests/fixtures/<name>.c` built with mingw-w64 into `C:\<name>.exe` of this prefix; its
    /// Windows path.
    pub fn fixture_exe(&self, name: &str, libs: &[&str]) -> String {
        let win = format!(r"C:\{name}.exe");
        let cc = run(Command::new(MINGW)
            .args(["-municode", "-O2", "-o", self.drive_c(&win).as_str()])
            .arg(format!("tests/fixtures/{name}.c"))
            .args(libs));
        assert!(
            cc.status.success(),
            "{}",
            String::from_utf8_lossy(&cc.stderr)
        );
        win
    }

    /// What vmrun answers: the running .vmx files, and the guest's address.
    pub fn vmrun_says(&self, running: &[&str], ip: &str) {
        let dir = self.drive_c(VMRUN);
        fs::write(dir.join("running"), running.join("\r\n")).unwrap();
        fs::write(dir.join("ip"), ip).unwrap();
    }

    /// A Wine program on the lab's WSL side, with this prefix.
    pub fn wine(&self, args: &[&str]) -> std::process::Output {
        // The lab's WSL profile exports DOCKER_HOST; a Windows terminal gets its environment
        // from the registry, never from WSL, and Wine would pass the Unix one on.
        let mut all = vec![
            "env".to_owned(),
            "-u".to_owned(),
            "DOCKER_HOST".to_owned(),
            "-u".to_owned(),
            "DOCKER_TLS_VERIFY".to_owned(),
            "-u".to_owned(),
            "DOCKER_CERT_PATH".to_owned(),
            "-u".to_owned(),
            "COMPOSE_CONVERT_WINDOWS_PATHS".to_owned(),
            format!("WINEPREFIX={}", self.prefix),
            "WINEDEBUG=-all".to_owned(),
            "WINEDLLOVERRIDES=mscoree,mshtml=".to_owned(),
            WINE.to_owned(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = self.lab.wsl_files(&all);
        // A failure without a word on either stream is Wine starting nothing (seen in CI runs
        // here after a test had SIGKILLed Wine processes: a `docker rm -f` and a `reg add` that
        // exited 1 silently). dockvm, docker.exe, reg and cmd all say why they fail. Said, and
        // run once more; a second such failure is the caller's to judge.
        if !out.status.success() && out.stdout.is_empty() && out.stderr.is_empty() {
            eprintln!(
                "Wine ran {args:?} and it failed without a word ({}): run once more",
                out.status
            );
            return self.lab.wsl_files(&all);
        }
        out
    }

    /// `cmd /c WORDS...` in a new Windows process: (exit code, stdout, stderr), CRs dropped.
    pub fn cmd(&self, words: &[&str]) -> (i32, String, String) {
        let mut args = vec!["cmd", "/c"];
        args.extend_from_slice(words);
        let out = self.wine(&args);
        let text = |b: &[u8]| String::from_utf8_lossy(b).replace('\r', "");
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// A batch file (CRLF) run by a new cmd, in a folder of drive C:.
    pub fn batch(&self, name: &str, lines: &[&str]) -> (i32, String, String) {
        let file = self.drive_c(&format!(r"C:\{name}.bat"));
        fs::write(&file, lines.join("\r\n") + "\r\n").unwrap();
        self.cmd(&[&format!(r"C:\{name}.bat")])
    }

    /// A value under `HKCU\Environment`, through Wine's reg.
    pub fn reg_add(&self, name: &str, kind: &str, data: &str) {
        let o = self.wine(&[
            "reg",
            "add",
            r"HKCU\Environment",
            "/v",
            name,
            "/t",
            kind,
            "/d",
            data,
            "/f",
        ]);
        assert!(
            o.status.success(),
            "reg add {name} ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    pub fn reg_delete(&self, name: &str) {
        let o = self.wine(&["reg", "delete", r"HKCU\Environment", "/v", name, "/f"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// `dockvm.exe verify --format json`, through `cmd /c` with the words `before` run first in
    /// the same cmd (so a `reg add` there reaches new terminals but not this one). The words
    /// go to cmd one by one (Wine quotes each that needs it); `&` among them chains.
    pub fn verify(&self, before: &[&str]) -> (i32, serde_json::Value) {
        let spec = Wine::win(&Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join(self.lab.spec));
        let exe = Wine::win(&self.exe);
        let mut args = vec!["cmd", "/c"];
        args.extend_from_slice(before);
        args.extend_from_slice(&[
            &exe,
            "verify",
            "--format",
            "json",
            // Not the default 2 s: two Wine prefixes booting beside a first run (the probe
            // image imported, a container created) on this 2-core machine can take longer.
            "--timeout",
            "5s",
            "--spec",
            &spec,
        ]);
        let out = self.wine(&args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let json = text.find('{').map(|i| &text[i..]).unwrap_or("");
        let report = serde_json::from_str(json).unwrap_or_else(|e| {
            panic!(
                "no JSON ({e}):\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }
}

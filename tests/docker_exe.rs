//! The real Windows docker CLI: docker.exe 20.10.24, built from Debian's own docker.io source by
//! `ci/docker-exe/build` (with the real go-winio, and a stand-in for
//! hcsshim/osversion), run under Wine 8 on the lab's Windows side against a booted lab VM,
//! after `dockvm.exe install` did the setup in a fresh prefix. Each docker.exe runs in a new
//! `cmd`, whose environment Wine builds from the registry as a new Windows terminal gets it.
//!
//! What Wine cannot stand in for: the Windows resolver (Wine resolves through glibc, so the name
//! comes from the lab's WSL-side /etc/hosts, which holds the same generated block), PowerShell
//! (its forms are tested through what they run: `dockvm.exe path .`'s output). Docker's named
//! pipe, served by `dockvm.exe proxy`, is `proxy_windows.rs`'s.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use std::fs;
use support::lab::*;
use support::wine::*;
use support::winside::*;
use support::*;

/// The real docker.exe, with what the booted lab VM needs too, or a skip with the reason.
fn booted_windows_side() -> Option<Utf8PathBuf> {
    if !windows_side_can_run() || !require_root_and(&["systemd-nspawn", "mmdebstrap", "busybox"]) {
        return None;
    }
    let bin = format!("{}/dist/dockvm-x86_64-linux", env!("CARGO_MANIFEST_DIR"));
    if !require(
        Utf8Path::new(&bin).exists(),
        &format!("needs {bin} for the booted lab VM: ci/dist builds it"),
    ) {
        return None;
    }
    real_docker_exe()
}

/// A booted lab whose Windows side got the real docker.exe in `docker_dir` and then
/// `dockvm.exe install` (with `--certs` for the TLS spec).
fn installed(name: &'static str, spec: &'static str, docker: &Utf8Path) -> WinSide {
    let w = WinSide::bare(Lab::up_booted(name, spec, true));
    let dir = w.drive_c(DOCKER_DIR);
    fs::create_dir_all(&dir).unwrap();
    fs::copy(docker, dir.join("docker.exe")).unwrap();
    let from = Wine::win(&Utf8PathBuf::from(format!("{}/generated", w.lab.dir())));
    let exe = Wine::win(&w.exe);
    let mut args = vec![exe.as_str(), "install", "--from", from.as_str()];
    let certs = Wine::win(&Utf8PathBuf::from(format!("{}/certs", w.lab.dir())));
    if spec == TLS_SPEC {
        args.extend(["--certs", certs.as_str()]);
    }
    let out = w.wine(&args);
    assert!(
        out.status.success(),
        "dockvm.exe install: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    w
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace('\r', "")
}

/// `cmd /c WORDS...` in a new Windows process: (exit code, stdout, stderr).
fn cmd(w: &WinSide, words: &[&str]) -> (i32, String, String) {
    w.cmd(words)
}

/// A batch file (CRLF) run by a new cmd, in a folder of drive C:.
fn batch(w: &WinSide, name: &str, lines: &[&str]) -> (i32, String, String) {
    w.batch(name, lines)
}

/// `docker version --format {{.Server.Os}}` in a new cmd: "linux" when it reaches the VM.
fn server_os(w: &WinSide, extra: &[&str]) -> (i32, String, String) {
    let mut words = vec!["docker"];
    words.extend_from_slice(extra);
    words.extend(["version", "--format", "{{.Server.Os}}"]);
    cmd(w, &words)
}

#[test]
fn the_real_docker_exe_works_after_dockvm_exe_install() {
    let Some(docker) = booted_windows_side() else {
        return;
    };
    let w = installed("dexe", SPEC, &docker);

    // A new terminal: DOCKER_HOST from HKCU\Environment, docker.exe through the user Path.
    let (code, out, err) = server_os(&w, &[]);
    assert_eq!((code, out.as_str()), (0, "linux\n"), "{err}");
    let (code, out, err) = cmd(&w, &["docker", "info", "--format", "{{.OSType}}"]);
    assert_eq!((code, out.as_str()), (0, "linux\n"), "{err}");
    // The context install placed under %USERPROFILE%\.docker, with no variable at all.
    let (code, out, err) = batch(
        &w,
        "ctx",
        &[
            "@set DOCKER_HOST=",
            "@docker --context dockvm-lab version --format {{.Server.Os}}",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "linux\n"), "{err}");
    // The CLI's notice that DOCKER_HOST outranks contexts: the cost of the variable, which
    // README explains (both name the same engine here).
    let (code, out, err) = cmd(&w, &["docker", "context", "ls"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dockvm-lab"), "{out}");
    assert!(
        err.contains("DOCKER_HOST environment variable overrides the active context"),
        "{err}"
    );

    // Bind mounts from cmd: a file written on the Windows side of the share, read in a
    // container through each form the README shows.
    fs::write(
        format!("{}/windows-d/projects/hello.txt", w.lab.dir()),
        "written on Windows\n",
    )
    .unwrap();
    let tar = Wine::win(&Utf8PathBuf::from(w.lab.busybox_tar()));
    let (code, _, err) = cmd(&w, &["docker", "import", &tar, "lab-busybox"]);
    assert_eq!(code, 0, "docker import: {err}");
    for form in ["/d/projects", "/mnt/d/projects"] {
        let (code, out, err) = cmd(
            &w,
            &[
                "docker",
                "run",
                "--rm",
                "-v",
                &format!("{form}:/p"),
                "lab-busybox",
                "cat",
                "/p/hello.txt",
            ],
        );
        assert_eq!(
            (code, out.as_str()),
            (0, "written on Windows\n"),
            "{form}: {err}"
        );
    }
    // `dockvm.exe path .` in the share (what PowerShell's $(dockvm.exe path .) and cmd's
    // FOR /f give docker), from D:\projects.
    let exe = Wine::win(&w.exe);
    let spec = Wine::win(&Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC));
    let (code, out, err) = batch(
        &w,
        "pathform",
        &[
            "@cd /d D:\\projects",
            &format!(
                "@for /f \"delims=\" %%p in ('{exe} path --spec {spec} .') do @docker run --rm -v %%p:/p lab-busybox cat /p/hello.txt"
            ),
        ],
    );
    assert_eq!((code, out.as_str()), (0, "written on Windows\n"), "{err}");
    // The seed's limitation, as measured: a Windows path reaches the Linux daemon as it is.
    let (code, _, err) = cmd(
        &w,
        &[
            "docker",
            "run",
            "--rm",
            "-v",
            r"D:\projects:/p",
            "lab-busybox",
            "true",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("invalid mode: /p"), "{err}");
    let (code, _, err) = batch(
        &w,
        "cdform",
        &[
            "@cd /d D:\\projects",
            "@docker run --rm -v %CD%:/p lab-busybox true",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("invalid mode: /p"), "{err}");

    // verify's docker-cli check finds the real docker.exe on Path, and warns for another one
    // found first (C:\windows comes before the user Path).
    let (_, report) = w.verify(&[]);
    let (status, reason) = status_reason(&report, "docker-cli");
    assert_eq!(status, "pass", "{reason}");
    assert!(
        reason.contains(r"C:\Program Files\Docker\docker.exe"),
        "{reason}"
    );
    let other = w.drive_c(r"C:\windows\docker.exe");
    fs::copy(&docker, &other).unwrap();
    let (_, report) = w.verify(&[]);
    let (status, reason) = status_reason(&report, "docker-cli");
    assert_eq!(status, "warn", "{reason}");
    assert!(reason.contains(r"C:\windows\docker.exe"), "{reason}");
    fs::remove_file(&other).unwrap();

    // Uninstall: a new cmd has no DOCKER_HOST and no docker_dir on Path, and docker.exe (by its
    // full path) falls back to its default endpoint, Docker Desktop's named pipe.
    let generated = Wine::win(&Utf8PathBuf::from(format!("{}/generated", w.lab.dir())));
    let out = w.wine(&[exe.as_str(), "uninstall", "--from", &generated]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, out, _) = cmd(&w, &["set", "DOCKER"]);
    assert!(!out.contains("DOCKER_HOST="), "{out}");
    // cmd itself does not find docker (Wine's cmd: "Can't recognize 'docker ...' as an internal
    // or external command"; Windows': "'docker' is not recognized ..."); a docker.exe still on
    // Path would fail too, but saying "docker_engine", as below.
    let (code, out, err) = cmd(&w, &["docker", "version"]);
    assert_ne!(code, 0);
    let said = format!("{out}{err}");
    assert!(
        said.contains("recognize") && !said.contains("docker_engine"),
        "docker is still found on Path: {said}"
    );
    let full = format!(r"{DOCKER_DIR}\docker.exe");
    let (code, out, err) = cmd(&w, &[&full, "version", "--format", "{{.Server.Os}}"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("docker_engine"), "{err}");
    eprintln!("after uninstall, docker.exe says: {}", err.trim());

    // `dockvm.exe env --shell cmd`'s lines, run in a terminal, and docker.exe in that same one.
    let env = w.wine(&[exe.as_str(), "env", "--shell", "cmd", "--spec", &spec]);
    assert!(env.status.success(), "{}", text(&env.stderr));
    let mut lines: Vec<String> = text(&env.stdout).lines().map(|l| format!("@{l}")).collect();
    // Path lost docker_dir with the uninstall: docker.exe by its full path.
    lines.push(format!(
        "@\"{DOCKER_DIR}\\docker.exe\" version --format {{{{.Server.Os}}}}"
    ));
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (code, out, err) = batch(&w, "envlines", &lines);
    assert_eq!((code, out.as_str()), (0, "linux\n"), "{err}");
}

#[test]
fn the_real_docker_exe_over_mutual_tls() {
    let Some(docker) = booted_windows_side() else {
        return;
    };
    if !require(have("openssl"), "needs openssl") {
        return;
    }
    let w = installed("dexetls", TLS_SPEC, &docker);
    // DOCKER_CERT_PATH is REG_EXPAND_SZ (%USERPROFILE%\.docker\dockvm-lab), expanded by the
    // new process; the handshake with the client files passes.
    let (code, out, err) = server_os(&w, &[]);
    assert_eq!((code, out.as_str()), (0, "linux\n"), "{err}");
    // The context's own copy of the client files, with no variable at all.
    let (code, out, err) = batch(
        &w,
        "ctx",
        &[
            "@set DOCKER_HOST=",
            "@set DOCKER_TLS_VERIFY=",
            "@set DOCKER_CERT_PATH=",
            "@docker --context dockvm-lab version --format {{.Server.Os}}",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "linux\n"), "{err}");
    // Without the client files: docker.exe is refused, and verify says why, side by side.
    let dir = w.drive_c(r"C:\users\root\.docker\dockvm-lab");
    let aside = w.drive_c(r"C:\users\root\.docker\aside");
    fs::rename(&dir, &aside).unwrap();
    let (code, _, cli_says) = server_os(&w, &[]);
    assert_ne!(code, 0);
    let (_, report) = w.verify(&[]);
    let (status, verify_says) = status_reason(&report, "tls");
    eprintln!("docker.exe: {}\nverify tls: {verify_says}", cli_says.trim());
    assert!(cli_says.contains("dockvm-lab"), "{cli_says}");
    assert_eq!(status, "fail", "{verify_says}");
    assert!(verify_says.contains("dockvm-lab"), "{verify_says}");
    fs::rename(&aside, &dir).unwrap();
    let (code, out, err) = server_os(&w, &[]);
    assert_eq!((code, out.as_str()), (0, "linux\n"), "{err}");
}

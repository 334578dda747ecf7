//! `dockvm.exe install` / `uninstall` on the windows side, cross-compiled and run under Wine 8
//! in a fresh prefix: the hosts file, `HKCU\Environment` (`DOCKER_HOST`, `Path`), the `Run`
//! value and the copied scripts, each checked through its consumer (`reg export` and
//! `reg query` for the registry; bytes for the hosts file, which glibc never reads here).
//!
//! What Wine cannot stand in for (see shared/reference/windows.md): the hosts file's
//! admin-only ACL and UAC (every Wine process may write it; the test makes it unwritable with a
//! read-only mount instead), Explorer receiving `WM_SETTINGCHANGE` (the broadcast is sent and
//! returns, nobody acts on it), and a real user's registry hives.

mod support;

use camino::Utf8Path;
use std::fs;
use std::process::Output;
use std::process::Stdio;
use std::time::Duration;
use support::wine::*;
use support::*;

/// Non-ASCII, `&` and a space in docker_dir; autostart on.
const SPEC: &str = r#"
[vm]
name = "win"
vmx = 'D:\虚拟机\win\win.vmx'
ip = "192.168.130.2"

[windows]
docker_dir = 'C:\Users\张伟\Docker & Co'
autostart = true

[[shares]]
name = "d"
host_path = 'D:\'
"#;

/// A GBK comment (bytes that are not UTF-8), an LF line among CRLF ones, no final newline.
const HOSTS: &[u8] = b"127.0.0.1 localhost\r\n# \xd5\xc5\xce\xb0 \xb5\xc4 hosts\n::1 localhost";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn dockvm(wine: &Wine, exe: &Utf8Path, args: &[&str]) -> Output {
    wine.output(wine.cmd().arg(exe.as_str()).args(args))
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// dockvm.exe, a fresh prefix, and the tree of [`SPEC`] in `<dir>/gen` (the TempDir keeps it).
fn setup() -> (
    camino::Utf8PathBuf,
    Wine,
    tempfile::TempDir,
    camino::Utf8PathBuf,
) {
    let exe = dockvm_exe();
    let wine = Wine::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    fs::write(dir.join("dockvm.toml"), SPEC).unwrap();
    let generated = run(support::dockvm()
        .args(["gen", "--spec"])
        .arg(dir.join("dockvm.toml"))
        .arg("--out")
        .arg(dir.join("gen")));
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    (exe, wine, tmp, dir)
}

/// The data of the Run value `name`, as `reg query` prints it.
fn run_value(wine: &Wine, name: &str) -> String {
    let q = text(&wine.run(&["reg", "query", RUN, "/v", name]).stdout);
    q.lines()
        .find_map(|l| {
            l.split_once("REG_SZ    ")
                .map(|(_, d)| d.trim_end().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} Run value: {q}"))
}

/// The program a command line starts: its first word, quoted.
fn run_value_program(data: &str) -> &str {
    data.strip_prefix('"')
        .and_then(|d| d.split('"').next())
        .unwrap_or_else(|| panic!("not a quoted program: {data}"))
}

/// A folder with no spec in it, for a process that must find its spec elsewhere.
fn tmp_cwd() -> std::path::PathBuf {
    let d = std::env::temp_dir().join("dockvm-no-spec-here");
    fs::create_dir_all(&d).unwrap();
    d
}

const ENV: &str = r"HKCU\Environment";
const RUN: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

#[test]
fn windows_side_under_wine_installs_once_and_uninstalls_to_the_originals() {
    if !require(
        have(WINE) && have(MINGW) && have("unshare"),
        "needs wine64 and mingw-w64 (ci/install-deps installs them)",
    ) {
        return;
    }
    let (exe, wine, _tmp, dir) = setup();
    let from = Wine::win(&dir.join("gen"));

    // The user's system before install: hosts lines, a REG_EXPAND_SZ Path holding
    // %USERPROFILE%, a DOCKER_HOST of their own, another Run value.
    fs::write(wine.hosts(), HOSTS).unwrap();
    for (key, name, kind, data) in [
        (ENV, "Path", "REG_EXPAND_SZ", r"%USERPROFILE%\bin;C:\Tools"),
        (ENV, "DOCKER_HOST", "REG_SZ", "tcp://old-vm:2375"),
        (ENV, "COMPOSE_CONVERT_WINDOWS_PATHS", "REG_SZ", "0"),
        (RUN, "OneDrive", "REG_SZ", r"C:\OneDrive.exe /background"),
    ] {
        let o = wine.run(&["reg", "add", key, "/v", name, "/t", kind, "/d", data, "/f"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let env_before = wine.export(ENV);
    let run_before = wine.export(RUN);
    assert!(
        env_before.contains("\"DOCKER_HOST\"=\"tcp://old-vm:2375\""),
        "{env_before}"
    );

    // Dry run: exit 1, nothing changed.
    let dry = dockvm(&wine, &exe, &["install", "--from", &from, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(1), "{}", text(&dry.stderr));
    let shown = text(&dry.stdout);
    assert!(
        shown.contains(r"would set HKEY_CURRENT_USER\Environment\Path"),
        "{shown}"
    );
    assert!(shown.contains("+# BEGIN dockvm win"), "{shown}");
    assert_eq!(fs::read(wine.hosts()).unwrap(), HOSTS);
    assert_eq!(wine.export(ENV), env_before);

    let out = ok(&dockvm(&wine, &exe, &["install", "--from", &from]));
    // The registry, through reg: DOCKER_HOST REG_SZ; Path kept REG_EXPAND_SZ with
    // %USERPROFILE% unexpanded and docker_dir appended once; the Run value.
    let q = text(&wine.run(&["reg", "query", ENV, "/v", "DOCKER_HOST"]).stdout);
    assert!(
        q.contains("DOCKER_HOST    REG_SZ    tcp://local.test:2375"),
        "{q}"
    );
    let env = wine.export(ENV);
    let path_hex = hex2(r"%USERPROFILE%\bin;C:\Tools;C:\Users\张伟\Docker & Co");
    assert!(
        env.contains(&path_hex),
        "Path is not as wanted:\n{env}\nwant {path_hex}"
    );
    let local = format!(r"{}\AppData\Local", user_profile());
    let runs = wine.export(RUN);
    assert!(runs.contains("OneDrive"), "{runs}");
    // The Run value starts the copied dockvmw.exe's `up`, quietly, logging: the spec beside it
    // and the log in the app folder by default, so the folder is named once.
    let app_win = format!(r"{local}\dockvm\win");
    let data = run_value(&wine, "dockvm-win");
    // The program the Run value names is a GUI-subsystem one (no console window at sign-in),
    // as binutils reads its PE header.
    let program = wine.drive_c(run_value_program(&data));
    assert_eq!(pe_subsystem(&program), 2, "{program}");
    assert_eq!(pe_subsystem(&exe), 3, "dockvm.exe stays a console program");
    assert_eq!(data, format!(r#""{app_win}\dockvmw.exe" up --quiet --log"#));
    let app = wine.drive_c(&app_win);
    assert_eq!(
        fs::read(app.join("dockvmw.exe")).unwrap(),
        fs::read(exe.with_file_name("dockvmw.exe")).unwrap()
    );
    assert_eq!(
        fs::read(app.join("dockvm.toml")).unwrap(),
        fs::read(dir.join("gen/windows/dockvm.toml")).unwrap()
    );
    // The command line runs as sign-in runs it (here from a .bat line, as cmd parses it), in a
    // network namespace of its own (no route anywhere), from a folder with no spec: `up` finds
    // the spec beside it, no engine and no vmrun, logs each stage and records its outcome,
    // which `status` shows.
    if is_root() {
        fs::write(app.join("signin.bat"), format!("@{data}\r\n")).unwrap();
        // Wine 8 lacks bcryptprimitives.dll: its stand-in beside the copy, for this run only.
        let dll = exe.with_file_name("bcryptprimitives.dll");
        fs::copy(&dll, app.join("bcryptprimitives.dll")).unwrap();
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["-n", WINE, "cmd", "/c"])
            .arg(format!(r"{app_win}\signin.bat"))
            .current_dir(tmp_cwd())
            .env("WINEPREFIX", wine.prefix())
            .env("LC_ALL", "C.UTF-8")
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        let o = wine.output(&mut cmd);
        fs::remove_file(app.join("signin.bat")).unwrap();
        fs::remove_file(app.join("bcryptprimitives.dll")).unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let log = fs::read_to_string(app.join("up.log")).unwrap();
        assert!(
            log.contains("\"stage\":\"power\",\"state\":\"fail\""),
            "{log}"
        );
        let last: serde_json::Value =
            serde_json::from_slice(&fs::read(app.join("last-up.json")).unwrap()).unwrap();
        assert_eq!(last["ok"], false, "{last}");
        assert_eq!(last["failed_stage"], "power", "{last}");
        assert!(
            last["log"]
                .as_str()
                .unwrap_or("")
                .ends_with(r"dockvm\win\up.log"),
            "{last}"
        );
        let status = dockvm(
            &wine,
            &exe,
            &["status", "--spec", &Wine::win(&dir.join("dockvm.toml"))],
        );
        let said = text(&status.stdout);
        assert!(
            said.contains("last up") && said.contains("failed at power") && said.contains("up.log"),
            "{said}"
        );
    }
    // The hosts file: the user's bytes, then the block (CRLF, ASCII).
    let hosts = fs::read(wine.hosts()).unwrap();
    let block = fs::read(dir.join("gen/windows/hosts.txt")).unwrap();
    assert_eq!(hosts, [HOSTS, b"\r\n", &block[..]].concat());
    // The scripts, copied; a new process started by Wine gets DOCKER_HOST from the registry,
    // as a new terminal does.
    for b in ["start-vm.bat", "stop-vm.bat", "reset-shared-folders.bat"] {
        assert_eq!(
            fs::read(app.join(b)).unwrap(),
            fs::read(dir.join("gen/windows").join(b)).unwrap()
        );
    }
    let echo = wine.run(&["cmd", "/c", "echo %DOCKER_HOST%"]);
    assert_eq!(text(&echo.stdout).trim(), "tcp://local.test:2375");
    // compose_paths (the default): docker compose converts D:\ paths in new terminals; the
    // user's "0" comes back on uninstall (the export comparison below).
    let echo = wine.run(&["cmd", "/c", "echo %COMPOSE_CONVERT_WINDOWS_PATHS%"]);
    assert_eq!(text(&echo.stdout).trim(), "1");
    // The docker context, in the CLI's store under %USERPROFILE%\.docker, as generated.
    let meta_rel = dockvm_spec::context::meta_rel("win");
    let meta = wine.drive_c(&format!(
        r"{}\.docker\{}",
        user_profile(),
        meta_rel.replace('/', "\\")
    ));
    assert_eq!(
        fs::read(&meta).unwrap(),
        fs::read(dir.join("gen/windows/docker").join(&meta_rel)).unwrap()
    );
    // Sent and returned (Wine has no Explorer to act on it); a skipped broadcast would fail here.
    assert!(
        out.contains("ran WM_SETTINGCHANGE \"Environment\" broadcast"),
        "{out}"
    );

    // A second run changes nothing.
    let mtime = fs::metadata(wine.hosts()).unwrap().modified().unwrap();
    let env_installed = wine.export(ENV);
    std::thread::sleep(Duration::from_millis(20));
    let again = ok(&dockvm(&wine, &exe, &["install", "--from", &from]));
    assert!(again.contains("0 changed, "), "{again}");
    assert_eq!(
        fs::metadata(wine.hosts()).unwrap().modified().unwrap(),
        mtime
    );
    assert_eq!(wine.export(ENV), env_installed);
    let dry = dockvm(&wine, &exe, &["install", "--from", &from, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stdout));

    // Uninstall: the registry and the hosts file are exactly as before, the folder is gone.
    ok(&dockvm(&wine, &exe, &["uninstall", "--from", &from]));
    assert_eq!(wine.export(ENV), env_before);
    assert_eq!(wine.export(RUN), run_before);
    assert_eq!(fs::read(wine.hosts()).unwrap(), HOSTS);
    assert!(!wine.drive_c(&format!(r"{local}\dockvm")).exists());
    assert!(
        !wine
            .drive_c(&format!(r"{}\.docker", user_profile()))
            .exists(),
        "the context store install created is gone"
    );
    assert!(!wine.hosts().with_file_name("hosts.dockvm-backup").exists());

    // A later edit of Path by the user survives uninstall; only dockvm's entry goes.
    ok(&dockvm(&wine, &exe, &["install", "--from", &from]));
    let edited = r"%USERPROFILE%\bin;C:\Tools;C:\Users\张伟\Docker & Co;D:\later";
    let o = wine.run(&[
        "reg",
        "add",
        ENV,
        "/v",
        "Path",
        "/t",
        "REG_EXPAND_SZ",
        "/d",
        edited,
        "/f",
    ]);
    assert!(o.status.success());
    ok(&dockvm(&wine, &exe, &["uninstall", "--from", &from]));
    let env = wine.export(ENV);
    assert!(
        env.contains(&hex2(r"%USERPROFILE%\bin;C:\Tools;D:\later")),
        "{env}"
    );
}

#[test]
fn windows_side_without_rights_on_the_hosts_file_does_the_rest_and_says_how() {
    if !require(
        have(WINE) && have(MINGW) && is_root() && have("unshare"),
        "needs wine64, mingw-w64 and root (a read-only mount stands in for the hosts file's ACL)",
    ) {
        return;
    }
    let (exe, wine, _tmp, dir) = setup();
    fs::write(wine.hosts(), HOSTS).unwrap();
    // Wine's server does renames: stop it, so the one started inside the namespace sees the
    // read-only etc folder.
    drop(run(std::process::Command::new("/usr/lib/wine/wineserver")
        .env("WINEPREFIX", wine.prefix())
        .arg("-k")));
    let etc = wine.hosts().parent().unwrap().to_owned();
    let setup = format!("mount --bind '{etc}' '{etc}'; mount -o remount,bind,ro '{etc}'");
    let mut c = in_mount_ns(Some(&setup), WINE);
    c.env("WINEPREFIX", wine.prefix())
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .args([
            exe.as_str(),
            "install",
            "--from",
            &Wine::win(&dir.join("gen")),
        ]);
    let out = wine.output(&mut c);
    drop(run(std::process::Command::new("/usr/lib/wine/wineserver")
        .env("WINEPREFIX", wine.prefix())
        .arg("-k")));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}\n{}", text(&out.stdout));
    assert!(
        err.contains("needs an administrator") && err.contains("Run as administrator"),
        "{err}"
    );
    // The exact command: this dockvm.exe by its full path (Z: is / under Wine), and the tree.
    assert!(
        err.contains(&format!(
            "\"{}\" install --from \"{}\"",
            Wine::win(&exe),
            Wine::win(&dir.join("gen"))
        )),
        "{err}"
    );
    // Everything before the hosts step is done; the hosts file is untouched.
    let q = text(&wine.run(&["reg", "query", ENV, "/v", "DOCKER_HOST"]).stdout);
    assert!(q.contains("tcp://local.test:2375"), "{q}");
    assert_eq!(fs::read(wine.hosts()).unwrap(), HOSTS);
}

/// How `reg export` writes a REG_EXPAND_SZ value: `hex(2):` and its UTF-16LE bytes with the
/// terminating NUL, lowercase, comma-separated, wrapped with `,\` + CRLF + two spaces.
fn hex2(value: &str) -> String {
    let bytes: Vec<String> = value
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .map(|b| format!("{b:02x}"))
        .collect();
    // Compare without the wrapping: unwrap the export instead.
    bytes.join(",")
}

const TLS_SPEC: &str = r#"
[vm]
name = "wintls"
vmx = 'D:\vm\wintls.vmx'
ip = "192.168.130.2"

[docker]
tls = true

[[shares]]
name = "d"
host_path = 'D:\'
"#;

/// With `tls = true` and `--certs`: DOCKER_TLS_VERIFY (REG_SZ) and DOCKER_CERT_PATH
/// (REG_EXPAND_SZ, `%USERPROFILE%` unexpanded) beside DOCKER_HOST, the client files under
/// `%USERPROFILE%\.docker\dockvm-<vm>`, and uninstall gives back the values the user had. A
/// tree without TLS installed over it gives the TLS values back too.
#[test]
fn windows_side_with_tls_sets_the_variables_and_places_the_client_files() {
    if !wine_here() {
        return;
    }
    let exe = dockvm_exe();
    let wine = Wine::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    let gen_tree = |spec: &str, out: &str| {
        fs::write(dir.join("spec.toml"), spec).unwrap();
        let o = run(support::dockvm()
            .args(["gen", "--spec"])
            .arg(dir.join("spec.toml"))
            .arg("--out")
            .arg(dir.join(out)));
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    gen_tree(TLS_SPEC, "gen");
    gen_tree(&TLS_SPEC.replace("tls = true", "tls = false"), "gen-plain");
    let certs = dir.join("certs");
    let o = run(support::dockvm()
        .args(["certs", "--spec"])
        .arg(dir.join("spec.toml"))
        .args(["--out", certs.as_str()]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    fs::write(wine.hosts(), HOSTS).unwrap();
    // The user had a DOCKER_CERT_PATH of their own (docker-machine's, say).
    let o = wine.run(&[
        "reg",
        "add",
        ENV,
        "/v",
        "DOCKER_CERT_PATH",
        "/t",
        "REG_SZ",
        "/d",
        r"C:\machine\certs",
        "/f",
    ]);
    assert!(o.status.success());
    let env_before = wine.export(ENV);
    let from = Wine::win(&dir.join("gen"));
    let certs_win = Wine::win(&certs);

    let out = ok(&dockvm(
        &wine,
        &exe,
        &["install", "--from", &from, "--certs", &certs_win],
    ));
    let q = |name: &str| text(&wine.run(&["reg", "query", ENV, "/v", name]).stdout);
    assert!(
        q("DOCKER_TLS_VERIFY").contains("DOCKER_TLS_VERIFY    REG_SZ    1"),
        "{out}"
    );
    let env = wine.export(ENV);
    assert!(
        env.contains(&format!(
            "\"DOCKER_CERT_PATH\"=hex(2):{}",
            hex2(r"%USERPROFILE%\.docker\dockvm-wintls")
        )),
        "{env}"
    );
    let folder = wine.drive_c(&format!(r"{}\.docker\dockvm-wintls", user_profile()));
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        assert_eq!(
            fs::read(folder.join(f)).unwrap(),
            fs::read(certs.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(!folder.join("ca-key.pem").exists() && !folder.join("server-key.pem").exists());
    // A new process expands DOCKER_CERT_PATH to the folder that holds the files.
    let echo = wine.run(&["cmd", "/c", "echo %DOCKER_CERT_PATH%"]);
    assert_eq!(
        text(&echo.stdout).trim(),
        format!(r"{}\.docker\dockvm-wintls", user_profile())
    );
    let again = ok(&dockvm(
        &wine,
        &exe,
        &["install", "--from", &from, "--certs", &certs_win],
    ));
    assert!(again.contains("0 changed, "), "{again}");

    // The plain tree of the same VM over it: the TLS values go back to the user's.
    ok(&dockvm(
        &wine,
        &exe,
        &["install", "--from", &Wine::win(&dir.join("gen-plain"))],
    ));
    assert!(
        !q("DOCKER_TLS_VERIFY").contains("REG_SZ"),
        "{}",
        q("DOCKER_TLS_VERIFY")
    );
    assert!(q("DOCKER_CERT_PATH").contains(r"C:\machine\certs"));
    ok(&dockvm(
        &wine,
        &exe,
        &["install", "--from", &from, "--certs", &certs_win],
    ));

    ok(&dockvm(&wine, &exe, &["uninstall", "--from", &from]));
    assert_eq!(wine.export(ENV), env_before);
    assert!(
        !wine
            .drive_c(&format!(r"{}\.docker", user_profile()))
            .exists(),
        "the folders install made are gone"
    );
    assert_eq!(fs::read(wine.hosts()).unwrap(), HOSTS);
}

/// With `windows.endpoint = "pipe"` (and TLS): no DOCKER_HOST (the user's goes, and comes back
/// with uninstall) and no TLS variable, the client files where the proxy reads them, the
/// context naming the pipe with no TLS files of its own; a second install changes nothing, and
/// uninstall gives back the registry byte for byte.
#[test]
fn windows_side_with_the_pipe_sets_no_docker_host_and_gives_the_user_s_back() {
    if !wine_here() {
        return;
    }
    let exe = dockvm_exe();
    let wine = Wine::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    let spec = format!("{TLS_SPEC}\n[windows]\nendpoint = \"pipe\"\n");
    fs::write(dir.join("spec.toml"), &spec).unwrap();
    let o = run(support::dockvm()
        .args(["gen", "--spec"])
        .arg(dir.join("spec.toml"))
        .arg("--out")
        .arg(dir.join("gen")));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let certs = dir.join("certs");
    let o = run(support::dockvm()
        .args(["certs", "--spec"])
        .arg(dir.join("spec.toml"))
        .args(["--out", certs.as_str()]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    fs::write(wine.hosts(), HOSTS).unwrap();
    // The user's own DOCKER_HOST (an old VM's), which would win over the pipe.
    let o = wine.run(&[
        "reg",
        "add",
        ENV,
        "/v",
        "DOCKER_HOST",
        "/t",
        "REG_EXPAND_SZ",
        "/d",
        "tcp://%OLDVM%:2375",
        "/f",
    ]);
    assert!(o.status.success());
    let env_before = wine.export(ENV);
    let from = Wine::win(&dir.join("gen"));
    let certs_win = Wine::win(&certs);

    let out = ok(&dockvm(
        &wine,
        &exe,
        &["install", "--from", &from, "--certs", &certs_win],
    ));
    let q = |name: &str| text(&wine.run(&["reg", "query", ENV, "/v", name]).stdout);
    for name in ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
        assert!(
            !q(name).contains("REG_"),
            "{name} is set: {}\n{out}",
            q(name)
        );
    }
    let echo = wine.run(&["cmd", "/c", "echo [%DOCKER_HOST%]"]);
    assert_eq!(
        text(&echo.stdout).trim(),
        "[%DOCKER_HOST%]",
        "a new terminal has no DOCKER_HOST"
    );
    let docker = wine.drive_c(&format!(r"{}\.docker", user_profile()));
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        assert_eq!(
            fs::read(docker.join("dockvm-wintls").join(f)).unwrap(),
            fs::read(certs.join(f)).unwrap(),
            "{f}"
        );
    }
    let id = dockvm_spec::context::id("wintls");
    let meta = fs::read_to_string(docker.join(format!("contexts/meta/{id}/meta.json"))).unwrap();
    assert!(
        meta.contains(r#""Host":"npipe:////./pipe/docker_engine""#),
        "{meta}"
    );
    assert!(
        !docker.join("contexts/tls").exists(),
        "the pipe's context has no TLS files"
    );
    let again = ok(&dockvm(
        &wine,
        &exe,
        &["install", "--from", &from, "--certs", &certs_win],
    ));
    assert!(again.contains("0 changed, "), "{again}");

    ok(&dockvm(&wine, &exe, &["uninstall", "--from", &from]));
    assert_eq!(wine.export(ENV), env_before);
    assert!(
        q("DOCKER_HOST").contains("REG_EXPAND_SZ    tcp://%OLDVM%:2375"),
        "{}",
        q("DOCKER_HOST")
    );
    assert!(!docker.exists(), "the folders install made are gone");
    assert_eq!(fs::read(wine.hosts()).unwrap(), HOSTS);
}

/// Regression: the proxy (and a sign-in `up`) runs from the app folder's copy, a mapped image
/// Windows will neither overwrite nor delete, so install after an upgrade and uninstall failed
/// with access denied. They stop it first now. Wine refuses both too (a sharing violation).
#[test]
fn an_upgrade_while_the_proxy_runs_from_the_copy_replaces_it_and_uninstall_removes_it() {
    if !wine_here() {
        return;
    }
    let exe = dockvm_exe();
    let wine = Wine::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    // SPEC with the proxy's pipe.
    let spec = SPEC.replace(
        "autostart = true\n",
        "autostart = true\nendpoint = \"pipe\"\n",
    );
    fs::write(dir.join("spec.toml"), spec).unwrap();
    gen_tree(&dir.join("spec.toml"), &dir.join("gen"));
    let from = Wine::win(&dir.join("gen"));
    fs::write(wine.hosts(), HOSTS).unwrap();
    // Any program of the prefix finds Wine's missing DLL's stand-in (real Windows has it).
    fs::copy(
        exe.with_file_name("bcryptprimitives.dll"),
        wine.drive_c(r"C:\windows\system32\bcryptprimitives.dll"),
    )
    .unwrap();
    let env_before = wine.export(ENV);
    let run_before = wine.export(RUN);

    ok(&dockvm(&wine, &exe, &["install", "--from", &from]));
    // The proxy, started from the program the Run value names, as the sign-in `up` starts it.
    let copy_win = run_value_program(&run_value(&wine, "dockvm-win")).to_owned();
    let copy = wine.drive_c(&copy_win);
    let log = dir.join("proxy.log");
    // `proxy` from the copy, as `up` there starts it, serving once its log says so.
    let serve = || {
        let mut proxy = wine
            .cmd()
            .arg(&copy_win)
            .args(["proxy", "--spec", &Wine::win(&dir.join("spec.toml"))])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("serving")
        {
            assert!(
                start.elapsed() < Duration::from_secs(60) && proxy.try_wait().unwrap().is_none(),
                "the proxy did not start: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    };
    let mut proxy = serve();

    // A newer build: the same programs with a few bytes more (a PE ignores what follows it).
    let newer = dir.join("newer");
    fs::create_dir_all(&newer).unwrap();
    for f in ["dockvm.exe", "dockvmw.exe", "bcryptprimitives.dll"] {
        let Ok(mut b) = fs::read(exe.with_file_name(f)) else {
            continue; // no twin (a build from before it): the Run value names dockvm.exe
        };
        if f.ends_with(".exe") {
            b.extend_from_slice(b"a newer build");
        }
        fs::write(newer.join(f), b).unwrap();
    }
    let newer_exe = newer.join("dockvm.exe");
    let out = ok(&dockvm(&wine, &newer_exe, &["install", "--from", &from]));
    assert!(out.contains("stopped "), "{out}");
    assert_eq!(
        fs::read(&copy).unwrap(),
        fs::read(newer.join(copy.file_name().unwrap())).unwrap(),
        "the copy is the newer build"
    );
    let gone = std::time::Instant::now();
    while proxy.try_wait().unwrap().is_none() {
        assert!(
            gone.elapsed() < Duration::from_secs(20),
            "the old proxy still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The new copy serving again, then uninstall: stopped, removed, everything as before.
    let mut proxy = serve();
    ok(&dockvm(&wine, &newer_exe, &["uninstall", "--from", &from]));
    assert!(!copy.exists());
    let _ = proxy.wait();
    assert_eq!(wine.export(ENV), env_before);
    assert_eq!(wine.export(RUN), run_before);
    assert_eq!(fs::read(wine.hosts()).unwrap(), HOSTS);
    assert!(
        !wine
            .drive_c(&format!(r"{}\AppData\Local\dockvm", user_profile()))
            .exists()
    );
}

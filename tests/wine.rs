//! The Windows files, fed to Wine (Debian's wine64 8.0), the real-consumer approximation of
//! Windows that runs here: regedit imports each .reg and `reg query` reads the value back;
//! Wine's cmd runs each .bat, calling a stand-in vmrun.exe (built with mingw-w64) that records
//! the argv the Windows C runtime gave it, so cmd's `%`, quote and operator rules and the C
//! runtime's backslash rules are both exercised, and so is the exit-code flow.
//!
//! Not covered here: non-ASCII paths in .bat files. The scripts switch the console to UTF-8
//! (`chcp 65001`) before any such line, which Windows' cmd honours line by line; Wine 8.0's
//! cmd decodes every line with the code page it started with (newer Wine reads each line in
//! the current console code page, as Windows does). `tests/properties.rs` parses those lines
//! with cmd's and the C runtime's rules instead.

mod support;

use camino::Utf8Path;
use std::fs;
use std::process::Command;
use support::wine::*;
use support::*;

fn render(spec: &str) -> (dockvm_spec::Spec, Vec<dockvm_gen::Artifact>) {
    let spec = dockvm_spec::load_str("wine.toml", spec).unwrap().spec;
    let arts = dockvm_gen::render(&spec).unwrap();
    (spec, arts)
}

/// Every value holds what cmd or the C runtime treat specially: `%`, `&`, `(`, `)`, `^`,
/// `!`, `'`, spaces, and a drive root whose quoted form must not end in `\"`.
const SPEC: &str = r#"
[vm]
name = "wine"
vmx = '''C:\VMs\dev & test (1)\100% ^dev^! it's.vmx'''
ip = "192.168.130.2"

[vmware]
vmrun = 'C:\Program Files (x86)\VMware 100%\vm&run (x)\vmrun.exe'

[[shares]]
name = "d"
host_path = 'D:\'

[[shares]]
name = "work"
host_path = '''E:\work dir\a&b (2) 50% it's ^x^!'''
"#;

#[test]
fn reg_files_import_with_wine_regedit_and_read_back() {
    if !require(have(WINE), "needs wine64 (ci/install-deps installs it)") {
        return;
    }
    let wine = Wine::new();
    let (_, arts) = render(SPEC);
    let dir = wine.dir.join("out");
    fs::create_dir_all(&dir).unwrap();
    for a in &arts {
        if a.path.as_str().ends_with(".reg") {
            fs::write(dir.join(a.path.file_name().unwrap()), &a.bytes).unwrap();
        }
    }
    let query = || wine.run(&["reg", "query", r"HKCU\Environment", "/v", "DOCKER_HOST"]);
    assert!(
        !query().status.success(),
        "a fresh prefix has no DOCKER_HOST"
    );
    let import = wine.run(&["regedit", "/S", &Wine::win(&dir.join("dockvm-env.reg"))]);
    assert!(import.status.success());
    let got = String::from_utf8_lossy(&query().stdout).into_owned();
    let line = got
        .lines()
        .find(|l| l.contains("DOCKER_HOST"))
        .unwrap_or_else(|| panic!("not imported:\n{got}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields, ["DOCKER_HOST", "REG_SZ", &docker_host_of(SPEC)]);
    let remove = wine.run(&[
        "regedit",
        "/S",
        &Wine::win(&dir.join("dockvm-env-remove.reg")),
    ]);
    assert!(remove.status.success());
    assert!(
        !query().status.success(),
        "dockvm-env-remove.reg removes DOCKER_HOST"
    );
}

/// The argv of each vmrun call, as the stand-in recorded them.
fn calls(log: &Utf8Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.split("\n\n")
        .filter(|c| !c.is_empty())
        .map(|c| c.lines().map(str::to_owned).collect())
        .collect()
}

#[test]
fn bat_files_run_by_wine_cmd_pass_the_spec_paths_to_vmrun() {
    if !wine_here() {
        return;
    }
    let wine = Wine::new();
    let (spec, arts) = render(SPEC);
    let vmrun = spec.vmware.vmrun.to_string();
    let exe = wine.drive_c(&vmrun);
    fs::create_dir_all(exe.parent().unwrap()).unwrap();
    let out = run(Command::new(MINGW).args([
        "-municode",
        "-O2",
        "-o",
        exe.as_str(),
        "tests/fixtures/vmrun-stand-in.c",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scripts = wine.dir.join("windows");
    fs::create_dir_all(&scripts).unwrap();
    for a in arts.iter().filter(|a| a.path.as_str().ends_with(".bat")) {
        fs::write(scripts.join(a.path.file_name().unwrap()), &a.bytes).unwrap();
    }
    let log = wine.dir.join("argv.log");
    let bat = |name: &str, fail: &str| {
        let _ = fs::remove_file(&log);
        let out = wine.output(
            wine.cmd()
                .env("DOCKVM_ARGV_LOG", Wine::win(&log))
                .env("DOCKVM_ARGV_FAIL", fail)
                .args(["cmd", "/c", &Wine::win(&scripts.join(name))]),
        );
        (out.status.code(), calls(&log))
    };
    let vmx = spec.vm.vmx.to_string();
    let call = |rest: &[&str]| -> Vec<String> {
        let mut v = vec![vmrun.clone(), "-T".into(), "ws".into()];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    let mut reset = vec![call(&["enableSharedFolders", &vmx])];
    for s in &spec.shares {
        let (n, p) = (s.name.to_string(), s.host_path.to_string());
        // The VM does not have the share yet: set… fails, so add… runs.
        reset.push(call(&["setSharedFolderState", &vmx, &n, &p, "writable"]));
        reset.push(call(&["addSharedFolder", &vmx, &n, &p]));
    }

    // start-vm.bat starts the VM, waits for its tools, then calls reset-shared-folders.bat.
    let (code, got) = bat("start-vm.bat", "setSharedFolderState=1");
    let mut want = vec![
        call(&["start", &vmx, "nogui"]),
        call(&["getGuestIPAddress", &vmx, "-wait"]),
    ];
    want.extend(reset.clone());
    assert_eq!(got, want);
    assert_eq!(code, Some(0));

    let (code, got) = bat("stop-vm.bat", "");
    assert_eq!((code, got), (Some(0), vec![call(&["stop", &vmx, "soft"])]));

    // A share the VM has already: set… succeeds and add… is not called.
    let (code, got) = bat("reset-shared-folders.bat", "");
    let want: Vec<_> = reset
        .iter()
        .filter(|c| c[3] != "addSharedFolder")
        .cloned()
        .collect();
    assert_eq!((code, got), (Some(0), want));

    // vmrun's failure is the script's: its exit code, and nothing after it runs.
    let (code, got) = bat("start-vm.bat", "start=255");
    assert_eq!(
        (code, got),
        (Some(255), vec![call(&["start", &vmx, "nogui"])])
    );
    let (code, got) = bat(
        "reset-shared-folders.bat",
        "setSharedFolderState=1,addSharedFolder=2",
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        got.len(),
        3,
        "stops at the first share that cannot be added: {got:?}"
    );
}

/// With `tls = true`: regedit imports the three variables, DOCKER_CERT_PATH as REG_EXPAND_SZ
/// (the `hex(2):` lines, continuations included) holding `%USERPROFILE%` unexpanded, and the
/// remove file deletes all three.
#[test]
fn tls_reg_files_set_and_remove_the_three_variables() {
    if !require(have(WINE), "needs wine64 (ci/install-deps installs it)") {
        return;
    }
    let wine = Wine::new();
    let text =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tls.toml")).unwrap();
    let (_, arts) = render(&text);
    let dir = wine.dir.join("out");
    fs::create_dir_all(&dir).unwrap();
    for a in &arts {
        if a.path.as_str().ends_with(".reg") {
            fs::write(dir.join(a.path.file_name().unwrap()), &a.bytes).unwrap();
        }
    }
    // The value's fields, or what reg.exe said when it has none.
    let query = |name: &str| -> Result<Vec<String>, String> {
        let out = wine.run(&["reg", "query", r"HKCU\Environment", "/v", name]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .ok_or_else(|| {
                format!(
                    "reg query {name}: {}, stdout {text:?}, stderr {:?}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    // As in the test above: the fresh prefix has none of them (and reg.exe has run once).
    for name in ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
        assert!(query(name).is_err(), "a fresh prefix has no {name}");
    }
    let import = wine.run(&["regedit", "/S", &Wine::win(&dir.join("dockvm-env.reg"))]);
    assert!(
        import.status.success(),
        "regedit: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert_eq!(
        query("DOCKER_HOST").unwrap(),
        ["DOCKER_HOST", "REG_SZ", &docker_host_of(&text)]
    );
    assert_eq!(
        query("DOCKER_TLS_VERIFY").unwrap(),
        ["DOCKER_TLS_VERIFY", "REG_SZ", "1"]
    );
    assert_eq!(
        query("DOCKER_CERT_PATH").unwrap(),
        [
            "DOCKER_CERT_PATH",
            "REG_EXPAND_SZ",
            r"%USERPROFILE%\.docker\dockvm-secure"
        ]
    );
    let remove = wine.run(&[
        "regedit",
        "/S",
        &Wine::win(&dir.join("dockvm-env-remove.reg")),
    ]);
    assert!(remove.status.success());
    for name in ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
        assert!(query(name).is_err(), "{name} removed");
    }
}

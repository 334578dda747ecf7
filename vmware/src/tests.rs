//! The driver against a vmrun stand-in: the lab's (`ci/lab/vmrun-stand-in`, answering `list`
//! and `getGuestIPAddress` from files, its errors as vmrun prints them), and small scripts for
//! what it cannot do (a hang, other error lines, output in GBK and Shift_JIS).

use super::*;
use camino::Utf8PathBuf;
use std::time::{Duration, Instant};

const LAB_STAND_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ci/lab/vmrun-stand-in");

/// A folder holding `vmrun.exe`: the lab's stand-in, with what it answers.
fn lab_vmrun(running: &[&str], ip: &str) -> (tempfile::TempDir, Vmrun) {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("vmrun.exe");
    std::fs::copy(LAB_STAND_IN, &exe).unwrap();
    std::fs::write(dir.path().join("running"), running.join("\n")).unwrap();
    std::fs::write(dir.path().join("ip"), ip).unwrap();
    (dir, Vmrun::at(Utf8PathBuf::from_path_buf(exe).unwrap()))
}

/// A `vmrun.exe` that is a shell script doing `body`.
fn script(body: &str) -> (tempfile::TempDir, Vmrun) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("vmrun.exe");
    std::fs::write(&exe, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, Vmrun::at(Utf8PathBuf::from_path_buf(exe).unwrap()))
}

const T: Duration = Duration::from_secs(5);

#[test]
fn list_and_guest_ip_are_read_from_the_stand_in() {
    let (_d, v) = lab_vmrun(
        &[r"D:\VMware\Dev\dev.vmx", r"C:\other\x.vmx"],
        "192.168.130.2",
    );
    assert_eq!(
        v.list(T).unwrap(),
        [r"D:\VMware\Dev\dev.vmx", r"C:\other\x.vmx"]
    );
    let (running, _) = v.is_running(r"d:/vmware/dev/DEV.vmx", T).unwrap();
    assert!(running, "compared as Windows compares paths");
    assert_eq!(
        v.guest_ip(r"D:\VMware\Dev\dev.vmx", false, T).unwrap(),
        "192.168.130.2"
    );
    let (_d, none) = lab_vmrun(&[], "");
    assert_eq!(none.list(T).unwrap(), Vec::<String>::new());
}

#[test]
fn vmrun_s_error_line_and_exit_255_are_a_refusal_with_its_message() {
    let (_d, v) = lab_vmrun(&[], "");
    match v.guest_ip(r"D:\vm\dev.vmx", false, T) {
        Err(VmrunError::Failed {
            status,
            message,
            first_line,
            ..
        }) => {
            assert_eq!(status, "exit status: 255");
            assert_eq!(
                message,
                r"The virtual machine is not powered on: D:\vm\dev.vmx"
            );
            assert!(
                first_line.starts_with("Error: The virtual machine"),
                "{first_line}"
            );
        }
        other => panic!("{other:?}"),
    }
    let (_d, v) = script(
        r#"printf 'Error: The VMware Tools are not running in the virtual machine: x\r\n'; exit 255"#,
    );
    let e = v
        .read_variable("x", VarKind::GuestVar, "dockvm.ip", T)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "vmrun.exe -T ws readVariable x guestVar dockvm.ip failed (exit status: 255): The VMware Tools are not running in the virtual machine: x"
    );
    // Without an Error: line, its first line stands.
    let (_d, v) = script("echo 'something else' >&2; exit 1");
    match v.start("x", T) {
        Err(VmrunError::Failed { message, .. }) => assert_eq!(message, "something else"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_hang_ends_at_the_deadline() {
    let (_d, v) = script("sleep 30");
    let start = Instant::now();
    let e = v.list(Duration::from_millis(300)).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        e.to_string(),
        "vmrun.exe -T ws list did not answer within 300 ms"
    );
}

#[test]
fn a_missing_vmrun_is_named() {
    let v = Vmrun::at("/nonexistent/vmrun.exe");
    assert_eq!(
        v.list(T).unwrap_err().to_string(),
        "vmrun not found at /nonexistent/vmrun.exe"
    );
}

#[test]
fn each_call_sends_vmrun_s_own_arguments() {
    let (d, v) = script(r#"printf '%s\n' "$@" > "$(dirname "$0")/argv""#);
    let argv = || std::fs::read_to_string(d.path().join("argv")).unwrap();
    v.start(r"D:\vm\dev.vmx", T).unwrap();
    assert_eq!(argv(), "-T\nws\nstart\nD:\\vm\\dev.vmx\nnogui\n");
    v.stop(r"D:\vm\dev.vmx", true, T).unwrap();
    assert_eq!(argv(), "-T\nws\nstop\nD:\\vm\\dev.vmx\nhard\n");
    v.guest_ip("x", true, T).unwrap();
    assert_eq!(argv(), "-T\nws\ngetGuestIPAddress\nx\n-wait\n");
    v.enable_shared_folders("x", T).unwrap();
    assert_eq!(argv(), "-T\nws\nenableSharedFolders\nx\n");
    v.disable_shared_folders("x", T).unwrap();
    assert_eq!(argv(), "-T\nws\ndisableSharedFolders\nx\n");
}

/// A VM under a CJK folder, listed by vmrun in UTF-8, in GBK (a Chinese Windows' ANSI code
/// page) and in Shift_JIS (a Japanese one): each is running, and listed as the path reads.
#[test]
fn a_list_with_a_cjk_path_matches_in_utf8_gbk_and_shift_jis() {
    for (vmx, enc) in [
        (r"D:\虚拟机\开发\dev.vmx", encoding_rs::UTF_8),
        (r"D:\虚拟机\开发\dev.vmx", encoding_rs::GBK),
        (r"D:\仮想マシン\開発\dev.vmx", encoding_rs::SHIFT_JIS),
    ] {
        let text = format!("Total running VMs: 1\r\n{vmx}\r\n");
        let (bytes, _, bad) = enc.encode(&text);
        assert!(!bad);
        let octal: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
        let (_d, v) = script(&format!("printf '{octal}'"));
        let (running, list) = v.is_running(&vmx.to_uppercase(), T).unwrap();
        assert!(running, "{} {list:?}", enc.name());
        assert_eq!(list, [vmx], "{}", enc.name());
    }
}

#[test]
fn decoding_prefers_utf8_then_what_holds_the_hint() {
    assert_eq!(decode("ok é".as_bytes(), ""), "ok é");
    let (gbk, _, _) = encoding_rs::GBK.encode("开发");
    assert_eq!(decode(&gbk, "开发"), "开发");
    assert!(same_path(r"C:\A/b", r"c:\a\B"));
    assert!(!same_path(r"C:\a", r"C:\a\b"));
}

#[test]
fn a_cancelled_call_kills_vmrun_at_once() {
    let (_d, v) = script("sleep 30");
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let v = v.cancelled_by(flag.clone());
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let t = Instant::now();
    let r = v.list(Duration::from_secs(20));
    setter.join().unwrap();
    assert!(matches!(r, Err(VmrunError::Cancelled(_))), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn shared_folder_calls_pass_name_and_host_path_as_vmrun_takes_them() {
    let (d, v) =
        script(r#"printf '%s|' "$@" >>"$(dirname "$0")/argv"; echo >>"$(dirname "$0")/argv""#);
    v.set_shared_folder(r"D:\vm\dev.vmx", "d", r"D:\projects 项目", T)
        .unwrap();
    v.add_shared_folder(r"D:\vm\dev.vmx", "e", r"E:\", T)
        .unwrap();
    v.enable_shared_folders(r"D:\vm\dev.vmx", T).unwrap();
    let argv = std::fs::read_to_string(d.path().join("argv")).unwrap();
    assert_eq!(
        argv,
        "-T|ws|setSharedFolderState|D:\\vm\\dev.vmx|d|D:\\projects 项目|writable|\n\
         -T|ws|addSharedFolder|D:\\vm\\dev.vmx|e|E:\\|\n\
         -T|ws|enableSharedFolders|D:\\vm\\dev.vmx|\n"
    );
}

#[test]
fn start_refusals_are_named_from_vmrun_s_words() {
    let refused = |message: &str| VmrunError::Failed {
        what: "vmrun start".into(),
        status: "exit status: 255".into(),
        message: message.into(),
        first_line: format!("Error: {message}"),
    };
    for (said, want) in [
        ("The file is already in use", Some(StartRefusal::InUse)),
        (
            "Cannot open VM: D:\\vm\\dev.vmx, The virtual machine appears to be in use",
            Some(StartRefusal::InUse),
        ),
        (
            "The operation is not supported for the specified parameters",
            Some(StartRefusal::PlayerOnly),
        ),
        ("Unable to connect to host.", Some(StartRefusal::PlayerOnly)),
        ("The virtual machine is not powered on", None),
    ] {
        assert_eq!(refused(said).start_refusal(), want, "{said}");
    }
    assert_eq!(
        VmrunError::NotFound("C:/x/vmrun.exe".into()).start_refusal(),
        Some(StartRefusal::NoVmrun)
    );
    assert!(
        StartRefusal::InUse
            .explain("D:\\vm\\dev.vmx")
            .contains("window")
    );
}

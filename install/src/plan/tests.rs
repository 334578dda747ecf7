//! The plans of every side, computed against a system read through a test `Look`.

use super::*;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A system in memory for the planner's unit tests: files and `HKCU` values. The real
/// system is exercised by the integration tests (Linux, and Windows under Wine).
#[derive(Default)]
struct Mem {
    files: BTreeMap<Utf8PathBuf, Vec<u8>>,
    reg: RefCell<BTreeMap<(String, String), RegValue>>,
    /// The pids running each program.
    running: BTreeMap<Utf8PathBuf, Vec<u32>>,
}

impl Look for Mem {
    fn read(&self, path: &Utf8Path) -> io::Result<Option<Vec<u8>>> {
        Ok(self.files.get(path).cloned())
    }
    fn exists(&self, path: &Utf8Path) -> bool {
        self.files.keys().any(|f| f.starts_with(path))
    }
    fn is_dir(&self, path: &Utf8Path) -> bool {
        self.files.keys().any(|f| f.starts_with(path) && f != path)
    }
    fn link_target(&self, _: &Utf8Path) -> Option<Utf8PathBuf> {
        None
    }
    fn list(&self, _: &Utf8Path) -> Vec<String> {
        Vec::new()
    }
    fn reg(&self, key: &str, name: &str) -> io::Result<Option<RegValue>> {
        Ok(self.reg.borrow().get(&(key.into(), name.into())).cloned())
    }
    fn running(&self, program: &Utf8Path) -> Vec<u32> {
        self.running.get(program).cloned().unwrap_or_default()
    }
}

impl Mem {
    /// Applies the plan's registry and file actions to the memory system.
    fn apply(&mut self, plan: &[Action]) {
        for a in plan {
            match a {
                Action::SetReg { key, name, new, .. } => {
                    self.reg
                        .borrow_mut()
                        .insert((key.to_string(), name.clone()), new.clone());
                }
                Action::DeleteReg { key, name, .. } => {
                    self.reg
                        .borrow_mut()
                        .remove(&(key.to_string(), name.clone()));
                }
                Action::Write { path, new, .. } | Action::WriteState { path, new, .. } => {
                    self.files.insert(path.clone(), new.clone());
                }
                Action::Remove { path, .. } | Action::RemoveState { path, .. } => {
                    self.files.remove(path);
                }
                Action::Backup { path, to } => {
                    let b = self.files[path].clone();
                    self.files.insert(to.clone(), b);
                }
                Action::Restore { path, backup, .. } => {
                    let b = self.files.remove(backup).unwrap();
                    self.files.insert(path.clone(), b);
                }
                _ => {}
            }
        }
    }

    fn path(&self) -> Option<String> {
        self.reg
            .borrow()
            .get(&(ENVIRONMENT.into(), "Path".into()))
            .and_then(RegValue::text)
    }
}

fn tree(docker_dir: &str) -> Tree {
    use crate::tree::TreeFile;
    let file = |rel: &str, bytes: &[u8]| TreeFile {
        rel: rel.into(),
        target: None,
        mode: 0o644,
        bytes: bytes.to_vec(),
    };
    Tree {
        dir: "gen".into(),
        vm: "dev".into(),
        values: dockvm_gen::InstallValues {
            docker_host: "tcp://local.test:2375".into(),
            docker_dir: docker_dir.into(),
            autostart: false,
            automount_root: "/mnt/".into(),
            links: Vec::new(),
            compose_convert_windows_paths: true,
            tls: None,
            pin_ip: None,
            windows_pipe: None,
        },
        certs: None,
        files: vec![
            file("windows/start-vm.bat", b"@echo off\r\n"),
            file("windows/stop-vm.bat", b"@echo off\r\n"),
            file("windows/reset-shared-folders.bat", b"@echo off\r\n"),
            file("windows/dockvm.toml", b"[vm]\r\n"),
            file(
                "windows/hosts.txt",
                b"# BEGIN dockvm dev\r\n1.2.3.4 local.test\r\n# END dockvm dev\r\n",
            ),
        ],
    }
}

fn places() -> Places {
    Places {
        root: "/".into(),
        home: None,
        no_commands: None,
        system_root: Some(r"C:\Windows".into()),
        local_app_data: Some(r"C:\Users\me\AppData\Local".into()),
        user_profile: Some(r"C:\Users\me".into()),
        self_exe: None,
    }
}

#[test]
fn a_changed_docker_dir_moves_the_path_entry_and_uninstall_still_gives_back_the_original() {
    let mut m = Mem::default();
    let original = RegValue::string(REG_EXPAND_SZ, r"%USERPROFILE%\bin");
    m.reg
        .borrow_mut()
        .insert((ENVIRONMENT.into(), "Path".into()), original.clone());
    let p = places();
    let plan = install(Side::Windows, &tree(r"C:\Docker"), &p, &m).unwrap();
    m.apply(&plan);
    assert_eq!(m.path().unwrap(), r"%USERPROFILE%\bin;C:\Docker");
    let plan = install(Side::Windows, &tree(r"D:\Docker 2"), &p, &m).unwrap();
    m.apply(&plan);
    assert_eq!(m.path().unwrap(), r"%USERPROFILE%\bin;D:\Docker 2");
    let plan = uninstall(Side::Windows, &tree(r"D:\Docker 2"), &p, &m).unwrap();
    m.apply(&plan);
    assert_eq!(
        m.reg.borrow().get(&(ENVIRONMENT.into(), "Path".into())),
        Some(&original)
    );
    assert!(m.files.is_empty(), "{:?}", m.files.keys());
}

#[test]
fn a_docker_host_that_was_already_ours_is_left_as_it_was() {
    let mut m = Mem::default();
    let ours = RegValue::string(REG_SZ, "tcp://local.test:2375");
    m.reg
        .borrow_mut()
        .insert((ENVIRONMENT.into(), "DOCKER_HOST".into()), ours.clone());
    let p = places();
    let plan = install(Side::Windows, &tree(r"C:\Docker"), &p, &m).unwrap();
    m.apply(&plan);
    let plan = uninstall(Side::Windows, &tree(r"C:\Docker"), &p, &m).unwrap();
    assert!(
        !plan.iter().any(|a| matches!(a, Action::SetReg { name, .. } | Action::DeleteReg { name, .. } if name == "DOCKER_HOST")),
        "{plan:?}"
    );
    m.apply(&plan);
    assert_eq!(
        m.reg
            .borrow()
            .get(&(ENVIRONMENT.into(), "DOCKER_HOST".into())),
        Some(&ours)
    );
}

/// compose_paths on, then a tree with it off: the user's value comes back at once, and an
/// uninstall after that has nothing of it to undo.
#[test]
fn a_tree_without_compose_paths_gives_the_user_s_value_back() {
    let mut m = Mem::default();
    let key = (ENVIRONMENT.to_owned(), COMPOSE_VAR.to_owned());
    let theirs = RegValue::string(REG_SZ, "0");
    m.reg.borrow_mut().insert(key.clone(), theirs.clone());
    let p = places();
    let on = tree(r"C:\Docker");
    let plan = install(Side::Windows, &on, &p, &m).unwrap();
    m.apply(&plan);
    assert_eq!(
        m.reg.borrow().get(&key),
        Some(&RegValue::string(REG_SZ, "1"))
    );
    let mut off = tree(r"C:\Docker");
    off.values.compose_convert_windows_paths = false;
    let plan = install(Side::Windows, &off, &p, &m).unwrap();
    m.apply(&plan);
    assert_eq!(m.reg.borrow().get(&key), Some(&theirs));
    let plan = uninstall(Side::Windows, &off, &p, &m).unwrap();
    assert!(
        !plan.iter().any(|a| matches!(a, Action::SetReg { name, .. } | Action::DeleteReg { name, .. } if name == COMPOSE_VAR)),
        "{plan:?}"
    );
    m.apply(&plan);
    assert_eq!(m.reg.borrow().get(&key), Some(&theirs));
}

/// With commands (systemd here, root `/`), install records the links tmpfiles will make and
/// the folders it makes to hold them (compose's `/d`, WSL's `/mnt/d`), and uninstall
/// removes those folders (when empty) and nothing it did not make (`/mnt`).
#[test]
fn the_folders_tmpfiles_makes_for_the_links_are_recorded_and_removed() {
    use crate::tree::TreeFile;
    let mut m = Mem::default();
    m.files.insert("/mnt/hgfs/.keep".into(), Vec::new());
    let mut t = tree(r"C:\Docker");
    t.files = VM_FILES
        .iter()
        .map(|rel| TreeFile {
            rel: (*rel).into(),
            target: Some(format!("/{}", rel.trim_start_matches("vm/"))),
            mode: 0o644,
            bytes: format!("# dockvm dev {rel}\n").into_bytes(),
        })
        .collect();
    t.values.links = ["/mnt/d/projects", "/d/projects"]
        .map(|p| dockvm_gen::LinkValue {
            path: p.into(),
            target: "/mnt/hgfs/d".into(),
        })
        .into();
    let p = places();
    let plan = install(Side::Vm, &t, &p, &m).unwrap();
    let Some(Action::WriteState { new, .. }) = plan.first() else {
        panic!("{plan:?}")
    };
    let state: State = serde_json::from_slice(new).unwrap();
    let links: Vec<&str> = state
        .links_created
        .iter()
        .map(|l| l.path.as_str())
        .collect();
    assert_eq!(links, ["/mnt/d/projects", "/d/projects"]);
    for d in ["/mnt/d", "/d"] {
        assert!(state.created_dirs.iter().any(|c| c == d), "{d}: {state:?}");
    }
    assert!(!state.created_dirs.iter().any(|c| c == "/mnt"), "{state:?}");
    m.apply(&plan);
    let plan = uninstall(Side::Vm, &t, &p, &m).unwrap();
    let removed: Vec<&str> = plan
        .iter()
        .filter_map(|a| match a {
            Action::RemoveDir(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    for d in ["/mnt/d", "/d"] {
        assert!(removed.contains(&d), "{d}: {plan:?}");
    }
    assert!(!removed.contains(&"/mnt"), "{plan:?}");
}

#[test]
fn markers_name_their_vm() {
    assert_eq!(
        marked_vm(b"# Generated by dockvm for VM dev\n").as_deref(),
        Some("dev")
    );
    assert_eq!(
        marked_vm(b"# Generated by dockvm for VM lab-2; `dockvm gen` overwrites edits.\n")
            .as_deref(),
        Some("lab-2")
    );
    assert_eq!(marked_vm(b"[Unit]\n"), None);
}

fn pipe_tree() -> Tree {
    let mut t = tree(r"C:\Docker");
    t.values.windows_pipe = Some("npipe:////./pipe/docker_engine".into());
    // TLS in the spec: with the pipe the proxy holds it, so no TLS variable is set.
    t.values.tls = Some(dockvm_gen::TlsValues {
        vm_dir: "/etc/docker/dockvm".into(),
        client_dir: ".docker/dockvm-dev".into(),
        windows_cert_path: r"%USERPROFILE%\.docker\dockvm-dev".into(),
    });
    t
}

fn changes(plan: &[Action]) -> usize {
    plan.iter()
        .filter(|a| {
            !matches!(
                a,
                Action::Unchanged(_) | Action::Kept(_) | Action::Advice(_)
            )
        })
        .count()
}

/// With the proxy's pipe a DOCKER_HOST (the user's, or an earlier tcp install's) would win over
/// it: install deletes it, a second run changes nothing, uninstall gives back the user's bytes.
#[test]
fn with_the_pipe_install_removes_docker_host_and_uninstall_gives_the_user_s_back() {
    for earlier_tcp in [false, true] {
        let mut m = Mem::default();
        let theirs = RegValue::string(REG_EXPAND_SZ, "tcp://%MYHOST%:2375");
        m.reg
            .borrow_mut()
            .insert((ENVIRONMENT.into(), "DOCKER_HOST".into()), theirs.clone());
        let before = m.reg.borrow().clone();
        let p = places();
        if earlier_tcp {
            let plan = install(Side::Windows, &tree(r"C:\Docker"), &p, &m).unwrap();
            m.apply(&plan);
        }
        let t = pipe_tree();
        let plan = install(Side::Windows, &t, &p, &m).unwrap();
        m.apply(&plan);
        let reg = m.reg.borrow().clone();
        for name in ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
            assert!(
                !reg.contains_key(&(ENVIRONMENT.into(), name.into())),
                "{name} set with the pipe: {plan:?}"
            );
        }
        let again = install(Side::Windows, &t, &p, &m).unwrap();
        assert_eq!(changes(&again), 0, "a second install changes: {again:?}");
        let plan = uninstall(Side::Windows, &t, &p, &m).unwrap();
        m.apply(&plan);
        assert_eq!(
            *m.reg.borrow(),
            before,
            "earlier tcp install: {earlier_tcp}"
        );
        assert!(m.files.is_empty(), "{:?}", m.files.keys());
    }
}

/// A DOCKER_HOST the user sets after a pipe install is theirs: uninstall keeps it.
#[test]
fn a_docker_host_set_after_a_pipe_install_is_kept() {
    let mut m = Mem::default();
    let p = places();
    let t = pipe_tree();
    m.apply(&install(Side::Windows, &t, &p, &m).unwrap());
    let later = RegValue::string(REG_SZ, "tcp://elsewhere:2375");
    m.reg
        .borrow_mut()
        .insert((ENVIRONMENT.into(), "DOCKER_HOST".into()), later.clone());
    let plan = uninstall(Side::Windows, &t, &p, &m).unwrap();
    assert!(
        plan.iter()
            .any(|a| matches!(a, Action::Kept(k) if k.contains("DOCKER_HOST"))),
        "{plan:?}"
    );
    m.apply(&plan);
    assert_eq!(
        m.reg
            .borrow()
            .get(&(ENVIRONMENT.into(), "DOCKER_HOST".into())),
        Some(&later)
    );
}

/// A PE image's first bytes with `subsystem` in its optional header (2 GUI, 3 console), then
/// `tail` (a "build" told apart by it).
fn pe(subsystem: u16, tail: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 0x200];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    b[0x80 + 24 + 68..0x80 + 24 + 70].copy_from_slice(&subsystem.to_le_bytes());
    b.extend_from_slice(tail);
    b
}

#[test]
fn pe_subsystem_reads_the_optional_header_and_nothing_else() {
    assert_eq!(windows::pe_subsystem(&pe(2, b"")), Some(2));
    assert_eq!(windows::pe_subsystem(&pe(3, b"")), Some(3));
    assert_eq!(windows::pe_subsystem(b"MZ"), None);
    assert_eq!(windows::pe_subsystem(b"#!/bin/sh\n"), None);
    let mut bad = pe(2, b"");
    bad[0x3c..0x40].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert_eq!(windows::pe_subsystem(&bad), None);
}

/// Autostart's system: this dockvm.exe and its twin dockvmw.exe in the zip's folder.
fn autostart(twin: Vec<u8>) -> (Mem, Tree, Places) {
    let mut m = Mem::default();
    m.files
        .insert(r"C:\dockvm\dockvm.exe".into(), pe(3, b"console"));
    m.files.insert(r"C:\dockvm\dockvmw.exe".into(), twin);
    let mut t = tree(r"C:\Docker");
    t.values.autostart = true;
    let mut p = places();
    p.self_exe = Some(r"C:\dockvm\dockvm.exe".into());
    (m, t, p)
}

/// The app folder as the planner joins it (on Linux `/` joins the parts).
fn app() -> String {
    places()
        .local_app_data
        .unwrap()
        .join("dockvm")
        .join("dev")
        .to_string()
}

#[test]
fn autostart_runs_the_windowless_twin_and_refuses_a_console_one() {
    let (mut m, t, p) = autostart(pe(2, b"v1"));
    let plan = install(Side::Windows, &t, &p, &m).unwrap();
    let copy = Utf8PathBuf::from(app()).join("dockvmw.exe");
    assert!(
        plan.iter()
            .any(|a| matches!(a, Action::Write { path, new, .. } if *path == copy && *new == pe(2, b"v1"))),
        "{plan:#?}"
    );
    assert!(plan.iter().any(|a| matches!(a,
        Action::SetReg { name, new, .. } if name == "dockvm-dev"
            && *new == RegValue::string(REG_SZ, &format!(r#""{copy}" up --quiet --log"#)))));
    m.apply(&plan);

    // A console program where the twin should be: refused, nothing planned.
    let (m2, t, p) = autostart(pe(3, b""));
    let e = install(Side::Windows, &t, &p, &m2).unwrap_err().to_string();
    assert!(
        e.contains("not a Windows GUI program") && e.contains("Nothing was changed"),
        "{e}"
    );
    // No twin at all (a lone dockvm.exe copied out of the zip): refused, saying where it goes.
    let (mut m3, t, p) = autostart(Vec::new());
    m3.files.remove(Utf8Path::new(r"C:\dockvm\dockvmw.exe"));
    let e = install(Side::Windows, &t, &p, &m3).unwrap_err().to_string();
    assert!(e.contains(r"C:\dockvm\dockvmw.exe: missing"), "{e}");
    let _ = m;
}

#[test]
fn a_running_copy_is_stopped_before_it_is_replaced_or_removed() {
    let (mut m, t, p) = autostart(pe(2, b"v1"));
    let plan = install(Side::Windows, &t, &p, &m).unwrap();
    m.apply(&plan);
    let copy = Utf8PathBuf::from(app()).join("dockvmw.exe");
    // The proxy (pid 41) and a sign-in up (pid 42) run from the copy; a newer build arrives.
    m.running.insert(copy.clone(), vec![41, 42]);
    m.files
        .insert(r"C:\dockvm\dockvmw.exe".into(), pe(2, b"v2"));
    let plan = install(Side::Windows, &t, &p, &m).unwrap();
    let stop = plan
        .iter()
        .position(|a| matches!(a, Action::Stop { program, pids } if *program == copy && *pids == [41, 42]))
        .unwrap_or_else(|| panic!("no stop: {plan:#?}"));
    let write = plan
        .iter()
        .position(|a| matches!(a, Action::Write { path, .. } if *path == copy))
        .unwrap();
    assert!(stop < write, "{plan:#?}");
    assert!(
        plan.iter()
            .any(|a| matches!(a, Action::Advice(s) if s.contains("dockvm.exe up")))
    );
    m.apply(&plan);
    // The same build again: nothing to stop, nothing to write.
    let plan = install(Side::Windows, &t, &p, &m).unwrap();
    assert!(
        !plan.iter().any(|a| matches!(a, Action::Stop { .. })),
        "{plan:#?}"
    );
    // Uninstall stops it before removing it.
    let plan = uninstall(Side::Windows, &t, &p, &m).unwrap();
    let stop = plan
        .iter()
        .position(|a| matches!(a, Action::Stop { .. }))
        .unwrap();
    let remove = plan
        .iter()
        .position(|a| matches!(a, Action::Remove { path, .. } if *path == copy))
        .unwrap();
    assert!(stop < remove, "{plan:#?}");
}

#[test]
fn an_earlier_version_s_copy_and_run_value_are_taken_over() {
    // What versions before dockvmw.exe left: the console copy and the long Run value.
    let (mut m, t, p) = autostart(pe(2, b"v1"));
    let app = Utf8PathBuf::from(app());
    let old = format!(
        r#""{}" up --spec "{}" --quiet --log "{}""#,
        app.join("dockvm.exe"),
        app.join("dockvm.toml"),
        app.join("up.log")
    );
    m.files.insert(app.join("dockvm.exe"), pe(3, b"old"));
    m.reg.borrow_mut().insert(
        (RUN.into(), "dockvm-dev".into()),
        RegValue::string(REG_SZ, &old),
    );
    let plan = install(Side::Windows, &t, &p, &m).unwrap();
    assert!(
        plan.iter()
            .any(|a| matches!(a, Action::Remove { path, .. } if *path == app.join("dockvm.exe"))),
        "{plan:#?}"
    );
    m.apply(&plan);
    // Uninstall, and with autostart off the same: the old value counts as dockvm's.
    m.reg.borrow_mut().insert(
        (RUN.into(), "dockvm-dev".into()),
        RegValue::string(REG_SZ, &old),
    );
    let plan = uninstall(Side::Windows, &t, &p, &m).unwrap();
    assert!(
        plan.iter().any(|a| matches!(a, Action::DeleteReg { name, .. } | Action::SetReg { name, .. } if name == "dockvm-dev")),
        "{plan:#?}"
    );
}

#[test]
fn the_run_value_stays_under_260_characters_for_the_longest_vm_name() {
    // The longest VM name the spec allows (32), under a long profile folder: a 20-character
    // user name (Windows' limit), CJK, with a domain suffix, as Windows makes on a collision.
    let vm = "a".repeat(32);
    assert!(dockvm_spec::VmName::parse(&vm).is_ok());
    assert!(dockvm_spec::VmName::parse(&"a".repeat(33)).is_err());
    let profile = format!(r"C:\Users\{}.CORP-DOMAIN-01", "张".repeat(20));
    let app = Utf8PathBuf::from(format!(r"{profile}\AppData\Local\dockvm\{vm}"));
    let line = windows::run_command(&app);
    assert!(
        line.chars().count() < 260,
        "{} characters: {line}",
        line.chars().count()
    );
    assert_eq!(line.matches(app.as_str()).count(), 1, "{line}");
}

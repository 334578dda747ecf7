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

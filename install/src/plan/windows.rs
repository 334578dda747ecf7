//! The Windows side: the scripts in %LOCALAPPDATA%, the registry values (DOCKER_HOST, the TLS
//! and compose variables, the user Path, the Run value) owned and given back, the docker context
//! and client files, and last the marked block in the hosts file; install and uninstall beside
//! each other.

use super::own::*;
use super::*;

pub(super) fn app_dir(p: &Places, vm: &str) -> Result<Utf8PathBuf> {
    let base = p.local_app_data.as_ref().ok_or_else(|| {
        PlanError::Refused("%LOCALAPPDATA% is not set: dockvm keeps its Windows files there".into())
    })?;
    Ok(base.join("dockvm").join(vm))
}

/// docker compose converts Windows bind sources (`D:\x` to `/d/x`) while this is `1`.
pub(super) const COMPOSE_VAR: &str = "COMPOSE_CONVERT_WINDOWS_PATHS";

/// The TLS values of `HKCU\Environment`: `DOCKER_TLS_VERIFY` (REG_SZ) and `DOCKER_CERT_PATH`
/// (REG_EXPAND_SZ, `%USERPROFILE%` kept unexpanded).
/// ([`tls_dir`] holds the manifest's value to this one.)
pub(super) fn tls_reg_values(vm: &str) -> [(&'static str, RegValue); 2] {
    [
        ("DOCKER_TLS_VERIFY", RegValue::string(REG_SZ, "1")),
        (
            "DOCKER_CERT_PATH",
            RegValue::string(REG_EXPAND_SZ, &dockvm_spec::tls::windows_cert_path(vm)),
        ),
    ]
}

/// The tree's files copied into the app folder: the vmrun scripts and the spec's copy (which
/// the sign-in `dockvm.exe up` reads).
pub(super) const COPIED: [&str; 4] = [
    "windows/start-vm.bat",
    "windows/stop-vm.bat",
    "windows/reset-shared-folders.bat",
    "windows/dockvm.toml",
];

/// What dockvm itself writes in the app folder besides the tree's files: the windowless twin
/// of dockvm.exe that the sign-in start runs, the sign-in `up`'s log, the proxy's beside it,
/// and the last `up`'s outcome (dockvm-control's `last-up.json`). All go with uninstall.
pub(super) const EXE: &str = "dockvmw.exe";
const LOGS: [&str; 3] = ["up.log", "proxy.log", "last-up.json"];
/// The copy earlier versions made (the console dockvm.exe): removed when found.
const OLD_EXE: &str = "dockvm.exe";

/// PE's `Subsystem` for a Windows GUI program: Windows starts it with no console window.
const GUI: u16 = 2;

/// The `Subsystem` field of a PE image's optional header (2 GUI, 3 console), or `None` when
/// the bytes are not a PE image.
pub fn pe_subsystem(image: &[u8]) -> Option<u16> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(image.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(image.get(at..at + 4)?.try_into().ok()?));
    if image.get(..2)? != b"MZ" {
        return None;
    }
    let pe = u32_at(0x3c)? as usize;
    if image.get(pe..pe + 4)? != b"PE\0\0" {
        return None;
    }
    // The optional header follows the 4-byte signature and the 20-byte COFF header; its
    // Subsystem is at offset 68 in both PE32 and PE32+.
    u16_at(pe + 24 + 68)
}

pub(super) fn hosts_path(p: &Places) -> Result<Utf8PathBuf> {
    let root = p.system_root.as_ref().ok_or_else(|| {
        PlanError::Refused("%SystemRoot% is not set: it holds the hosts file".into())
    })?;
    Ok(root.join(r"System32\drivers\etc\hosts"))
}

/// The `Run` value's data: the copied dockvmw.exe bringing the setup up at sign-in with no
/// window, quietly, logging. Its spec is the copy beside it and its log goes to the app folder,
/// both by default, so the app folder is named once: Microsoft documents 260 characters for a
/// Run value, and a long VM name under a long profile path passed that with three.
pub(super) fn run_command(app: &Utf8Path) -> String {
    format!("\"{}\" up --quiet --log", app.join(EXE))
}

/// The Run value as versions before dockvmw.exe wrote it: still dockvm's own, replaced by
/// install and removed by uninstall.
fn old_run_command(app: &Utf8Path) -> String {
    format!(
        "\"{}\" up --spec \"{}\" --quiet --log \"{}\"",
        app.join(OLD_EXE),
        app.join("dockvm.toml"),
        app.join("up.log")
    )
}

/// Whether the Run value is one dockvm install wrote for this app folder.
fn run_value_is_ours(v: &RegValue, app: &Utf8Path) -> bool {
    *v == RegValue::string(REG_SZ, &run_command(app))
        || *v == RegValue::string(REG_SZ, &old_run_command(app))
}

/// Before the copy at `path` is replaced or removed: dockvm's processes running from it (the
/// proxy, a sign-in `up` still at work) are stopped, since Windows refuses both while they run.
/// `again`: the copy is replaced (install), so `dockvm.exe up` can start the proxy again.
fn stop_running(look: &dyn Look, path: &Utf8Path, again: bool, out: &mut Vec<Action>) {
    let pids = look.running(path);
    if !pids.is_empty() {
        out.push(Action::Stop {
            program: path.to_owned(),
            pids,
        });
        if again {
            out.push(Action::Advice(format!(
                "{path} was running (the proxy, or a sign-in `up`) and was stopped to change it: `dockvm.exe up` starts the proxy again"
            )));
        }
    }
}

pub(super) fn install_windows(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let app = app_dir(p, vm)?;
    let state_file = app.join("install-state.json");
    let base = app.parent().unwrap_or(&app).to_owned();
    if let Some(other) = look
        .list(&base)
        .into_iter()
        .find(|n| n != vm && look.exists(&base.join(n).join("install-state.json")))
    {
        return Err(PlanError::Refused(format!(
            "{}: VM {other} is installed on this side, and DOCKER_HOST can name only one VM; run `dockvm uninstall` with VM {other}'s tree first",
            base.join(&other).join("install-state.json")
        )));
    }
    let old_state = read(look, &state_file)?;
    let mut state = load_state(look, &state_file, vm)?.unwrap_or_else(|| State::new(vm));
    let mut body = Vec::new();
    // The app folder is the state file's: `with_state` creates and records it.
    for rel in COPIED {
        let f = tree.file(rel)?;
        let path = app.join(rel.trim_start_matches("windows/"));
        let cur = read(look, &path)?;
        if cur.as_deref() == Some(&f.bytes[..]) {
            body.push(Action::Unchanged(path.to_string()));
        } else {
            body.push(Action::Write {
                path,
                old: cur,
                new: f.bytes.clone(),
                mode: f.mode,
            });
        }
    }
    let mut env_changed = false;
    // DOCKER_HOST, REG_SZ; what it was before the first install is recorded once. With the
    // proxy's pipe, none: one there (the user's, or an earlier tcp install's) would win over the
    // pipe, so it goes, and uninstall gives back the one from before.
    let cur = reg(look, ENVIRONMENT, "DOCKER_HOST")?;
    if !state.docker_host.recorded {
        state.docker_host.recorded = true;
        state.docker_host.before = cur.clone();
    }
    let pipe = tree.values.windows_pipe.is_some();
    if pipe {
        match cur {
            Some(old) => {
                env_changed = true;
                body.push(Action::DeleteReg {
                    key: ENVIRONMENT,
                    name: "DOCKER_HOST".into(),
                    old,
                });
            }
            None => body.push(Action::Unchanged(
                r"HKEY_CURRENT_USER\Environment\DOCKER_HOST (absent: the docker CLI uses the proxy's pipe)"
                    .into(),
            )),
        }
    } else {
        let want = RegValue::string(REG_SZ, &tree.values.docker_host);
        set_value(
            &mut body,
            ENVIRONMENT,
            "DOCKER_HOST",
            cur,
            want,
            &mut env_changed,
        );
    }
    // With TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH too; a tree without TLS after one with
    // gives them back (the docker CLI fails against a plain port with DOCKER_TLS_VERIFY set).
    // With the pipe, TLS is the proxy's: the CLI must not try it on the pipe.
    let [(verify_name, verify), (path_name, path)] = tls_reg_values(vm);
    if tree.values.tls.is_some() && !pipe {
        own_value(
            look,
            &mut body,
            &mut state.tls_verify,
            verify_name,
            verify,
            &mut env_changed,
        )?;
        own_value(
            look,
            &mut body,
            &mut state.cert_path,
            path_name,
            path,
            &mut env_changed,
        )?;
    } else {
        for (rec, name, ours) in [
            (&mut state.tls_verify, verify_name, &verify),
            (&mut state.cert_path, path_name, &path),
        ] {
            if rec.recorded {
                give_back(
                    look,
                    &mut body,
                    rec.before.clone(),
                    name,
                    ours,
                    &mut env_changed,
                )?;
                *rec = Recorded::default();
            }
        }
    }
    // COMPOSE_CONVERT_WINDOWS_PATHS=1 with compose_paths; a tree without after one with gives
    // the user's value back.
    let compose = RegValue::string(REG_SZ, "1");
    if tree.values.compose_convert_windows_paths {
        own_value(
            look,
            &mut body,
            &mut state.compose,
            COMPOSE_VAR,
            compose,
            &mut env_changed,
        )?;
    } else if state.compose.recorded {
        give_back(
            look,
            &mut body,
            state.compose.before.clone(),
            COMPOSE_VAR,
            &compose,
            &mut env_changed,
        )?;
        state.compose = Recorded::default();
    }
    // Path: docker_dir appended once, the value's type kept (REG_EXPAND_SZ stays so). An entry
    // an earlier install added for another docker_dir goes; the value before the first install
    // stays recorded.
    let dir = &tree.values.docker_dir;
    let cur = reg(look, ENVIRONMENT, "Path")?;
    let text = cur.as_ref().and_then(RegValue::text).unwrap_or_default();
    let base = match &state.path.entry {
        Some(old) if !registry::same_dir(old, dir) => registry::path_without(&text, old),
        _ => text.clone(),
    };
    // Compared as Windows resolves each entry: `%ProgramFiles%\Docker` (in REG_EXPAND_SZ), a
    // quoted entry, another case or trailing `\`, `.` and `..`, 8.3 names all name docker_dir.
    let expands = cur.as_ref().is_some_and(|v| v.kind == REG_EXPAND_SZ);
    let has = registry::path_has(&base, expands, dir);
    if has && base == text {
        body.push(Action::Unchanged(format!(
            r"HKEY_CURRENT_USER\Environment\Path (has {dir})"
        )));
    } else {
        let kind = cur.as_ref().map_or(REG_EXPAND_SZ, |v| v.kind);
        let value = if has {
            base
        } else {
            registry::path_with(&base, dir)
        };
        let new = RegValue::string(kind, &value);
        if state.path.entry.is_none() {
            state.path.before = cur.clone();
        }
        state.path.entry = Some(dir.clone());
        state.path.after = Some(new.clone());
        set_value(&mut body, ENVIRONMENT, "Path", cur, new, &mut env_changed);
    }
    // The Run value starts the copied dockvm.exe's `up` at sign-in, when the spec asks for it.
    let name = format!("dockvm-{vm}");
    let cur = reg(look, RUN, &name)?;
    if tree.values.autostart {
        let exe = p.self_exe.as_ref().ok_or_else(|| {
            PlanError::Refused(
                "autostart needs dockvm.exe's own path, which Windows did not give".into(),
            )
        })?;
        // Beside it, whichever separator the path uses (a Windows path read on Linux in tests).
        let dir = exe
            .as_str()
            .rfind(['\\', '/'])
            .map_or("", |i| &exe.as_str()[..=i]);
        let twin = Utf8PathBuf::from(format!("{dir}{EXE}"));
        let bytes = read(look, &twin)?.ok_or_else(|| {
            PlanError::Refused(format!(
                "{twin}: missing. Autostart runs dockvmw.exe, dockvm.exe's twin without a console window, which dockvm's zip has beside dockvm.exe: unpack the whole zip (or set autostart = false under [windows] in the spec). Nothing was changed"
            ))
        })?;
        if pe_subsystem(&bytes) != Some(GUI) {
            return Err(PlanError::Refused(format!(
                "{twin}: not a Windows GUI program (PE subsystem {:?}, want 2): at sign-in it would open a console window for its whole run. Use the dockvmw.exe from dockvm's zip. Nothing was changed",
                pe_subsystem(&bytes)
            )));
        }
        let path = app.join(EXE);
        let cur_exe = read(look, &path)?;
        if cur_exe.as_deref() == Some(&bytes[..]) {
            body.push(Action::Unchanged(path.to_string()));
        } else {
            if cur_exe.is_some() {
                stop_running(look, &path, true, &mut body);
            }
            body.push(Action::Write {
                path,
                old: cur_exe,
                new: bytes,
                mode: 0o755,
            });
        }
        remove_old_copy(look, &app, &mut body)?;
        if !state.run.recorded {
            state.run.recorded = true;
            state.run.before = cur.clone();
        }
        let want = RegValue::string(REG_SZ, &run_command(&app));
        set_value(&mut body, RUN, &name, cur, want, &mut false);
    } else {
        // Autostart off after it was on: its copy goes too.
        if let Some(old) = read(look, &app.join(EXE))? {
            stop_running(look, &app.join(EXE), false, &mut body);
            body.push(Action::Remove {
                path: app.join(EXE),
                old,
            });
        }
        remove_old_copy(look, &app, &mut body)?;
        off_run_value(&mut body, &mut state, &name, cur, &app);
    }
    if env_changed {
        body.push(Action::Broadcast);
    }
    certs_step(look, p, tree, Side::Windows, &mut state, &mut body)?;
    context_step(look, p, tree, Side::Windows, &mut state, &mut body)?;
    // The hosts file last: it needs an administrator, and everything else is done without one.
    let hosts = hosts_path(p)?;
    block_edit(
        look,
        &hosts,
        vm,
        &tree.file("windows/hosts.txt")?.bytes,
        &mut body,
    )?;
    if let Some(pin) = &tree.values.pin_ip {
        pin_step(look, vm, pin, &mut body)?;
    }
    Ok(with_state(look, p, &state_file, state, old_state, body))
}

/// The console dockvm.exe that versions before dockvmw.exe copied into the app folder: gone
/// (stopped first if it runs), since the Run value no longer names it.
fn remove_old_copy(look: &dyn Look, app: &Utf8Path, out: &mut Vec<Action>) -> Result<()> {
    let path = app.join(OLD_EXE);
    if let Some(old) = read(look, &path)? {
        stop_running(look, &path, false, out);
        out.push(Action::Remove { path, old });
    }
    Ok(())
}

/// VMware's DHCP service, which reads vmnetdhcp.conf when it starts.
pub(super) const DHCP_SERVICE: &str = "VMnetDHCP";

/// vm.ip reserved for the VM's MAC in VMware's DHCP (`[vmware] pin_ip`): the .vmx names the
/// adapter's virtual network and MAC, vmnetdhcp.conf that network's subnet; a marked block
/// `host dockvm-<vm>` goes after VMware's own sections, then the DHCP service restarts. Every
/// refusal comes before any change.
fn pin_step(
    look: &dyn Look,
    vm: &str,
    pin: &dockvm_gen::PinValues,
    out: &mut Vec<Action>,
) -> Result<()> {
    use dockvm_vmware::{dhcp, vmx};
    let refuse = |why: String| {
        PlanError::Refused(format!(
            "{why}. Nothing was changed (to leave the address to the guest, set pin_ip = false under [vmware] in the spec)"
        ))
    };
    let vmx_path = Utf8PathBuf::from(&pin.vmx);
    let conf_path = Utf8PathBuf::from(&pin.dhcp_conf);
    let ip: std::net::Ipv4Addr = pin.ip.parse().map_err(|_| {
        refuse(format!(
            "the manifest's vm.ip {:?} is not an address",
            pin.ip
        ))
    })?;
    // Without VMware's files (another machine, VMware elsewhere) nothing can be reserved: said
    // at the end, and verify names the missing reservation.
    let Some(vmx_bytes) = read(look, &vmx_path)? else {
        out.push(Action::Advice(format!(
            "vm.ip is not reserved in VMware's DHCP: the VM's .vmx is not at {vmx_path} (vm.vmx), so its adapter's MAC is unknown"
        )));
        return Ok(());
    };
    let parsed = vmx::Vmx::parse(&vmx_bytes).map_err(|e| refuse(format!("{vmx_path}: {e}")))?;
    let adapters = parsed.adapters();
    let on_vmnet: Vec<(&vmx::Adapter, &str)> = adapters
        .iter()
        .filter_map(|a| match &a.network {
            vmx::Network::Vmnet(v) => Some((a, v.as_str())),
            _ => None,
        })
        .collect();
    if on_vmnet.is_empty() {
        return Err(refuse(format!(
            "{vmx_path}: {}: VMware's DHCP serves NAT and host-only networks only; connect the VM's adapter to NAT or host-only",
            if adapters.is_empty() {
                "the VM has no network adapter".to_owned()
            } else {
                format!(
                    "its adapters are {}",
                    adapters
                        .iter()
                        .map(|a| format!("{} ({:?})", a.name, a.network))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )));
    }
    let Some(conf_bytes) = read(look, &conf_path)? else {
        out.push(Action::Advice(format!(
            "vm.ip is not reserved in VMware's DHCP: its configuration is not at {conf_path} (vmware.dhcp_conf names it)"
        )));
        return Ok(());
    };
    crate::encoding::editable(&conf_path, &conf_bytes, "VMware's DHCP service")
        .map_err(PlanError::Refused)?;
    let text = String::from_utf8_lossy(&conf_bytes);
    let conf = dhcp::parse(&text);
    // The adapter on the network whose subnet holds vm.ip; else the first, for its refusal.
    let (adapter, vmnet) = on_vmnet
        .iter()
        .find(|(_, v)| {
            conf.subnets
                .iter()
                .any(|s| s.vmnet.as_deref() == Some(*v) && s.contains(ip))
        })
        .unwrap_or(&on_vmnet[0]);
    let mac = adapter.mac.clone().ok_or_else(|| {
        refuse(format!(
            "{vmx_path}: {} has no MAC address yet (a VM never powered on): power it on once, then run install again",
            adapter.name
        ))
    })?;
    // The MAC goes into VMware's DHCP configuration: six hex pairs, nothing else.
    if !dhcp::is_mac(&mac) {
        return Err(refuse(format!(
            "{vmx_path}: {}'s MAC {mac:?} is not a MAC address (six hex pairs separated by colons, like 00:0c:29:5a:3b:7c)",
            adapter.name
        )));
    }
    dhcp::check_address(&conf, vmnet, ip, vm, &mac)
        .map_err(|e| refuse(format!("{conf_path}: {e}")))?;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let block = format!(
        "# BEGIN dockvm {vm}{eol}{}# END dockvm {vm}{eol}",
        dhcp::reservation(vm, &mac, ip, eol)
    );
    let before = out.len();
    block_edit(look, &conf_path, vm, block.as_bytes(), out)?;
    if out[before..]
        .iter()
        .any(|a| matches!(a, Action::Write { .. }))
    {
        out.push(Action::RestartService {
            name: DHCP_SERVICE.into(),
        });
        if adapter.generated {
            out.push(Action::Advice(format!(
                "{ip} is reserved for {mac}, the MAC VMware generated for {}: when VMware is told the VM was copied it generates a new one, and the reservation no longer matches (`dockvm verify` says so); run install again then",
                adapter.name
            )));
        }
    }
    Ok(())
}

pub(super) fn set_value(
    out: &mut Vec<Action>,
    key: &'static str,
    name: &str,
    cur: Option<RegValue>,
    want: RegValue,
    changed: &mut bool,
) {
    if cur.as_ref() == Some(&want) {
        out.push(Action::Unchanged(format!(
            r"HKEY_CURRENT_USER\{key}\{name}"
        )));
    } else {
        *changed = true;
        out.push(Action::SetReg {
            key,
            name: name.to_owned(),
            old: cur,
            new: want,
        });
    }
}

pub(super) fn uninstall_windows(tree: &Tree, p: &Places, look: &dyn Look) -> Result<Vec<Action>> {
    let vm = &tree.vm;
    let app = app_dir(p, vm)?;
    let state_file = app.join("install-state.json");
    let state = load_state(look, &state_file, vm)?;
    let mut out = Vec::new();
    let mut env_changed = false;
    let ours = RegValue::string(REG_SZ, &tree.values.docker_host);
    let before = state.as_ref().and_then(|s| s.docker_host.before.clone());
    let cur = reg(look, ENVIRONMENT, "DOCKER_HOST")?;
    if tree.values.windows_pipe.is_some() {
        // Install removed any DOCKER_HOST; the one from before comes back while none was set
        // since.
        match (cur, before) {
            (None, Some(before)) => {
                env_changed = true;
                out.push(Action::SetReg {
                    key: ENVIRONMENT,
                    name: "DOCKER_HOST".into(),
                    old: None,
                    new: before,
                });
            }
            (None, None) => out.push(Action::Unchanged(
                r"HKEY_CURRENT_USER\Environment\DOCKER_HOST (absent, as before install)".into(),
            )),
            (Some(cur), _) => out.push(Action::Kept(format!(
                r"HKEY_CURRENT_USER\Environment\DOCKER_HOST = {}: set since install",
                cur.show()
            ))),
        }
    } else {
        match cur {
            Some(cur) if cur == ours && before.as_ref() == Some(&cur) => {
                out.push(Action::Unchanged(
                    r"HKEY_CURRENT_USER\Environment\DOCKER_HOST (it was so before install)".into(),
                ))
            }
            Some(cur) if cur == ours => {
                env_changed = true;
                match before {
                    Some(before) => out.push(Action::SetReg {
                        key: ENVIRONMENT,
                        name: "DOCKER_HOST".into(),
                        old: Some(cur),
                        new: before,
                    }),
                    None => out.push(Action::DeleteReg {
                        key: ENVIRONMENT,
                        name: "DOCKER_HOST".into(),
                        old: cur,
                    }),
                }
            }
            Some(cur) => out.push(Action::Kept(format!(
                r"HKEY_CURRENT_USER\Environment\DOCKER_HOST = {}: not the value install set",
                cur.show()
            ))),
            None => out.push(Action::Unchanged(
                r"HKEY_CURRENT_USER\Environment\DOCKER_HOST (absent)".into(),
            )),
        }
    }
    if let Some(s) = &state
        && let Some(entry) = &s.path.entry
    {
        let cur = reg(look, ENVIRONMENT, "Path")?;
        let restore = if cur == s.path.after {
            // Untouched since install: the exact bytes from before.
            s.path.before.clone().map(Ok).unwrap_or(Err(()))
        } else {
            let text = cur.as_ref().and_then(RegValue::text).unwrap_or_default();
            let kind = cur.as_ref().map_or(REG_EXPAND_SZ, |v| v.kind);
            Ok(RegValue::string(
                kind,
                &registry::path_without(&text, entry),
            ))
        };
        match (cur, restore) {
            (Some(c), Ok(new)) if c != new => {
                env_changed = true;
                out.push(Action::SetReg {
                    key: ENVIRONMENT,
                    name: "Path".into(),
                    old: Some(c),
                    new,
                });
            }
            (Some(c), Err(())) => {
                env_changed = true;
                out.push(Action::DeleteReg {
                    key: ENVIRONMENT,
                    name: "Path".into(),
                    old: c,
                });
            }
            _ => out.push(Action::Unchanged(format!(
                r"HKEY_CURRENT_USER\Environment\Path (no {entry})"
            ))),
        }
    }
    let name = format!("dockvm-{vm}");
    if let Some(s) = &state
        && s.run.recorded
        && let Some(cur) = reg(look, RUN, &name)?
    {
        if run_value_is_ours(&cur, &app) {
            match s.run.before.clone() {
                Some(b) => out.push(Action::SetReg {
                    key: RUN,
                    name,
                    old: Some(cur),
                    new: b,
                }),
                None => out.push(Action::DeleteReg {
                    key: RUN,
                    name,
                    old: cur,
                }),
            }
        } else {
            out.push(Action::Kept(format!(
                r"HKEY_CURRENT_USER\{RUN}\{name}: changed since install"
            )));
        }
    }
    if let Some(s) = &state {
        let [(verify_name, verify), (path_name, path)] = tls_reg_values(vm);
        let compose = RegValue::string(REG_SZ, "1");
        for (rec, name, ours) in [
            (&s.tls_verify, verify_name, &verify),
            (&s.cert_path, path_name, &path),
            (&s.compose, COMPOSE_VAR, &compose),
        ] {
            if rec.recorded {
                give_back(
                    look,
                    &mut out,
                    rec.before.clone(),
                    name,
                    ours,
                    &mut env_changed,
                )?;
            }
        }
        remove_certs(look, p, s, &mut out)?;
    }
    if env_changed {
        out.push(Action::Broadcast);
    }
    let copies = COPIED.map(|rel| rel.trim_start_matches("windows/"));
    for name in copies.iter().chain(&[EXE, OLD_EXE]).chain(&LOGS) {
        let path = app.join(name);
        if let Some(old) = read(look, &path)? {
            if path.extension() == Some("exe") {
                stop_running(look, &path, false, &mut out);
            }
            out.push(Action::Remove { path, old });
        }
    }
    block_undo(look, &hosts_path(p)?, vm, &mut out)?;
    if let Some(pin) = &tree.values.pin_ip {
        let before = out.len();
        block_undo(look, Utf8Path::new(&pin.dhcp_conf), vm, &mut out)?;
        if out[before..].iter().any(|a| {
            matches!(
                a,
                Action::Write { .. } | Action::Remove { .. } | Action::Restore { .. }
            )
        }) {
            out.push(Action::RestartService {
                name: DHCP_SERVICE.into(),
            });
        }
    }
    if let Some(s) = &state {
        let old = read(look, &state_file)?.unwrap_or_default();
        out.append(&mut remove_state(p, &state_file, s, old));
    }
    Ok(out)
}

/// Autostart off: the Run value install set goes back to what it was; another one is kept.
fn off_run_value(
    body: &mut Vec<Action>,
    state: &mut State,
    name: &str,
    cur: Option<RegValue>,
    app: &Utf8Path,
) {
    let Some(c) = cur else { return };
    let name = name.to_owned();
    if state.run.recorded && run_value_is_ours(&c, app) {
        match state.run.before.take() {
            Some(b) => body.push(Action::SetReg {
                key: RUN,
                name: name.clone(),
                old: Some(c),
                new: b,
            }),
            None => body.push(Action::DeleteReg {
                key: RUN,
                name: name.clone(),
                old: c,
            }),
        }
        state.run.recorded = false;
    } else {
        body.push(Action::Kept(format!(
            r"HKEY_CURRENT_USER\{RUN}\{name}: not set by dockvm install (autostart is off in the spec)"
        )));
    }
}

//! The generated files, fed to their real consumers on this machine: systemd-analyze and
//! systemd-tmpfiles for the VM's files, glibc's getent for the hosts block, bash and dash for
//! the profile, and a real dockerd for the daemon flags of the drop-in.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use dockvm_gen::{Artifact, render};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;
use support::*;

fn artifacts(spec_text: &str) -> (dockvm_spec::Spec, Vec<Artifact>) {
    let spec = dockvm_spec::load_str("test.toml", spec_text).unwrap().spec;
    let arts = render(&spec).unwrap();
    (spec, arts)
}

fn example(name: &str) -> (dockvm_spec::Spec, Vec<Artifact>) {
    artifacts(&toml_of(name))
}

fn toml_of(name: &str) -> String {
    fs::read_to_string(format!("examples/{name}.toml")).unwrap()
}

fn bytes<'a>(arts: &'a [Artifact], path: &str) -> &'a [u8] {
    &arts
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .bytes
}

fn text<'a>(arts: &'a [Artifact], path: &str) -> &'a str {
    std::str::from_utf8(bytes(arts, path)).unwrap()
}

const DROP_IN: &str = "vm/etc/systemd/system/docker.service.d/dockvm.conf";
const MOUNT: &str = "vm/etc/systemd/system/mnt-hgfs.mount";
const TMPFILES: &str = "vm/etc/tmpfiles.d/dockvm.conf";
const ADDRESS: &str = "vm/etc/systemd/system/dockvm-address.service";

/// A scratch root for `systemd-analyze verify --root`: the system's unit files, the stock
/// docker.service of the package, the generated drop-in and mount unit, and empty executables
/// where the units name programs this machine may not have.
fn unit_root(stock_unit: &str, drop_in: &[u8], mount: &[u8]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = utf8_dir(&root);
    let units = r.join("usr/lib/systemd/system");
    fs::create_dir_all(&units).unwrap();
    for e in fs::read_dir("/usr/lib/systemd/system").unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), units.join(e.file_name().to_str().unwrap())).unwrap();
        }
    }
    let etc = r.join("etc/systemd/system");
    fs::create_dir_all(etc.join("docker.service.d")).unwrap();
    fs::copy(
        format!("tests/fixtures/{stock_unit}"),
        etc.join("docker.service"),
    )
    .unwrap();
    fs::copy("tests/fixtures/docker.socket", etc.join("docker.socket")).unwrap();
    fs::write(etc.join("docker.service.d/dockvm.conf"), drop_in).unwrap();
    fs::write(etc.join("mnt-hgfs.mount"), mount).unwrap();
    for prog in ["usr/bin/dockerd", "usr/sbin/dockerd", "bin/kill", "bin/sh"] {
        let p = r.join(prog);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

fn analyze(root: &Utf8Path, units: &[&str]) -> std::process::Output {
    run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={root}"))
        .args(units))
}

#[test]
fn drop_in_mount_and_address_units_pass_systemd_analyze_verify_with_the_stock_units() {
    if !require(have("systemd-analyze"), "needs systemd-analyze (systemd)") {
        return;
    }
    for (example_name, stock) in [
        ("default", "docker-ce.service"),
        ("docker-io", "docker.io.service"),
    ] {
        let (_, arts) = example(example_name);
        let root = unit_root(stock, bytes(&arts, DROP_IN), bytes(&arts, MOUNT));
        fs::write(
            utf8_dir(&root).join("etc/systemd/system/dockvm-address.service"),
            bytes(&arts, ADDRESS),
        )
        .unwrap();
        let out = analyze(
            &utf8_dir(&root),
            &["docker.service", "mnt-hgfs.mount", "dockvm-address.service"],
        );
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{example_name}: systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Guards the empty `ExecStart=` reset: the same check must fail without it, or the test
/// above proves nothing.
#[test]
fn systemd_analyze_refuses_the_drop_in_without_its_execstart_reset() {
    if !require(have("systemd-analyze"), "needs systemd-analyze (systemd)") {
        return;
    }
    let (_, arts) = example("default");
    let broken = text(&arts, DROP_IN).replace("ExecStart=\n", "");
    let root = unit_root("docker-ce.service", broken.as_bytes(), bytes(&arts, MOUNT));
    let out = analyze(&utf8_dir(&root), &["docker.service"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("more than one ExecStart="),
        "{err}"
    );
}

#[test]
fn tmpfiles_creates_each_share_link_at_its_wsl_and_compose_paths() {
    if !require(have("systemd-tmpfiles"), "needs systemd-tmpfiles (systemd)") {
        return;
    }
    for name in ["default", "docker-io", "non-ascii", "tls"] {
        let (spec, arts) = example(name);
        let root = tempfile::tempdir().unwrap();
        let conf = utf8_dir(&root).join("dockvm.conf");
        fs::write(&conf, bytes(&arts, TMPFILES)).unwrap();
        let scratch = utf8_dir(&root).join("root");
        fs::create_dir(&scratch).unwrap();
        let out = run(Command::new("systemd-tmpfiles")
            .arg("--create")
            .arg(format!("--root={scratch}"))
            .arg(&conf));
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut want = 0;
        for share in &spec.shares {
            // The WSL path, and compose's form of the Windows folder as compose-go converts it
            // (the same path with automount root `/`, as docker-io.toml has: one link then).
            let compose = dockvm_spec::translate::compose_convert(share.host_path.as_str())
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
            let mut paths = vec![spec.wsl_path(share).into_string()];
            if compose != paths[0] {
                paths.push(compose);
            }
            for p in paths {
                want += 1;
                let link = scratch.join(p.strip_prefix('/').unwrap());
                let target = fs::read_link(&link).unwrap_or_else(|e| panic!("{name}: {link}: {e}"));
                assert_eq!(
                    target.to_str().unwrap(),
                    share.vm_mount().as_str(),
                    "{name}: {link}"
                );
            }
        }
        // Nothing else: those links, plus the folders above them.
        let links = walkdir::WalkDir::new(&scratch)
            .into_iter()
            .filter(|e| e.as_ref().unwrap().path_is_symlink())
            .count();
        assert_eq!(links, want, "{name}");
    }
}

/// `L`, not `L+`: a VM that already has a non-empty folder at the link path keeps it.
#[test]
fn tmpfiles_never_replaces_an_existing_folder() {
    if !require(have("systemd-tmpfiles"), "needs systemd-tmpfiles (systemd)") {
        return;
    }
    let (_, arts) = example("default");
    let root = tempfile::tempdir().unwrap();
    let r = utf8_dir(&root);
    fs::write(r.join("dockvm.conf"), bytes(&arts, TMPFILES)).unwrap();
    fs::create_dir_all(r.join("root/mnt/d")).unwrap();
    fs::write(r.join("root/mnt/d/keep"), "mine").unwrap();
    let out = run(Command::new("systemd-tmpfiles")
        .arg("--create")
        .arg(format!("--root={r}/root"))
        .arg(r.join("dockvm.conf")));
    // systemd-tmpfiles 252 leaves the folder and exits 0: it read the file and chose to keep
    // the folder (a parse error or a refused line would be non-zero).
    assert!(
        out.status.success(),
        "systemd-tmpfiles: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(r.join("root/mnt/d/keep")).unwrap(),
        "mine"
    );
    assert!(r.join("root/mnt/d").is_dir() && !r.join("root/mnt/d").is_symlink());
}

/// Resolves `name` with getent (glibc) in a private mount namespace whose /etc/hosts is `hosts`.
fn getent_with_hosts(hosts: &Utf8Path, name: &str) -> String {
    let script = format!("mount --bind {hosts} /etc/hosts && exec getent ahostsv4 {name}");
    let out =
        run(Command::new("unshare").args(["-m", "--propagation", "private", "sh", "-c", &script]));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_hosts_block_resolves_through_glibc() {
    if !require_root_and(&["unshare", "getent", "mount"]) {
        return;
    }
    for name in ["default", "docker-io", "non-ascii"] {
        let (spec, arts) = example(name);
        let dir = tempfile::tempdir().unwrap();
        let hosts = utf8_dir(&dir).join("hosts");
        // As WSL copies it: the Windows file (CRLF) with the block appended.
        let mut content = b"127.0.0.1\tlocalhost\r\n".to_vec();
        content.extend_from_slice(bytes(&arts, "windows/hosts.txt"));
        fs::write(&hosts, &content).unwrap();
        let got = getent_with_hosts(&hosts, spec.vm.hostname.as_str());
        let addrs: std::collections::BTreeSet<&str> = got
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            addrs.into_iter().collect::<Vec<_>>(),
            [spec.vm.ip.to_string()],
            "{name}: {got}"
        );
        // The CR that ends each line must not become part of the name.
        let first = got.lines().next().unwrap_or("");
        assert!(
            first.ends_with(spec.vm.hostname.as_str()),
            "{name}: {first:?}"
        );
    }
}

#[test]
fn bash_and_dash_sourcing_the_profile_get_exactly_docker_host() {
    for shell in ["bash", "dash"] {
        if !require(have(shell), &format!("needs {shell}")) {
            return;
        }
    }
    for name in ["default", "docker-io", "non-ascii"] {
        let (_, arts) = example(name);
        let want = docker_host_of(&toml_of(name));
        let dir = tempfile::tempdir().unwrap();
        let profile = utf8_dir(&dir).join("profile.sh");
        fs::write(&profile, bytes(&arts, "wsl/profile.sh")).unwrap();
        for shell in ["bash", "dash"] {
            let out = run(Command::new(shell).env_remove("DOCKER_HOST").args([
                "-c",
                r#". "$1" && printf '%s' "$DOCKER_HOST" && env | grep '^DOCKER_HOST=' >&2"#,
                "sh",
                profile.as_str(),
            ]));
            assert!(
                out.status.success(),
                "{shell} {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                want,
                "{shell} {name}"
            );
            // Exported, not only set: the docker CLI is a child process.
            assert_eq!(
                String::from_utf8(out.stderr).unwrap(),
                format!("DOCKER_HOST={want}\n")
            );
        }
    }
}

/// The ExecStart the drop-in gives dockerd, split as systemd splits it (no quotes are used).
fn exec_start(drop_in: &str) -> Vec<String> {
    let line = drop_in
        .lines()
        .rfind(|l| l.starts_with("ExecStart="))
        .unwrap();
    line["ExecStart=".len()..]
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The daemon flags of the drop-in start a real dockerd that answers on the spec's address.
/// The changes a unit-less test must make, and only those: `-H fd://` (a socket that systemd
/// would hand over) becomes a private unix socket; `--containerd=` is dropped (no system
/// containerd runs here, so dockerd starts its own); `$DOCKER_OPTS` is dropped, as systemd
/// drops an unset variable; private data, exec root, pid file and no iptables or bridge are
/// added so this machine's own state is untouched.
#[test]
fn the_drop_in_flags_start_a_real_dockerd_answering_on_the_spec_address() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    let port = free_port();
    let (spec, arts) = artifacts(&loopback_spec(port, "docker.io"));
    let argv = exec_start(text(&arts, DROP_IN));
    assert_eq!(argv[0], "/usr/sbin/dockerd");
    assert!(
        argv.contains(&format!("tcp://127.0.0.1:{port}"))
            && argv.contains(&"--tls=false".to_owned()),
        "{argv:?}"
    );
    let dir = tempfile::Builder::new()
        .prefix("dvmsock")
        .tempdir_in("/tmp")
        .unwrap();
    let sock: Utf8PathBuf = utf8_dir(&dir).join("docker.sock");
    let mut adapted = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-H" => {
                let v = it.next().unwrap();
                adapted.push("-H".to_owned());
                adapted.push(if v == "fd://" {
                    format!("unix://{sock}")
                } else {
                    v.clone()
                });
            }
            "$DOCKER_OPTS" => {}
            _ if a.starts_with("--containerd=") => {}
            _ => adapted.push(a.clone()),
        }
    }
    let mut d = Dockerd::start(&adapted);
    let addr = format!("{}:{}", spec.vm.ip, spec.docker.port)
        .parse()
        .unwrap();
    d.wait_ping(addr, Duration::from_secs(60));
    let (status, body) = http_get(addr, "/version", Duration::from_secs(5)).unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Os"], "linux");
}

/// The docker CLI reads the generated context store as it is in the tree (`DOCKER_CONFIG`
/// pointing at `wsl/docker`, then `windows/docker`): the context `dockvm-<vm>` with the
/// spec's endpoint.
#[test]
fn the_docker_cli_lists_the_generated_context() {
    if !require(have("docker"), "needs the docker CLI (docker.io)") {
        return;
    }
    for name in ["default", "docker-io", "non-ascii", "tls"] {
        let (spec, arts) = example(name);
        for side in ["wsl", "windows"] {
            let tmp = tempfile::tempdir().unwrap();
            let store = utf8_dir(&tmp);
            let prefix = format!("{side}/docker/");
            for a in arts.iter().filter(|a| a.path.as_str().starts_with(&prefix)) {
                let to = store.join(&a.path.as_str()[prefix.len()..]);
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                fs::write(&to, &a.bytes).unwrap();
            }
            let out = run(Command::new("docker").env("DOCKER_CONFIG", &store).args([
                "context",
                "ls",
                "--format",
                "{{.Name}} {{.DockerEndpoint}}",
            ]));
            let want = format!(
                "dockvm-{} {}\n",
                spec.vm.name,
                docker_host_of(&toml_of(name))
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(&want),
                "{name} {side}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

//! `dockvm install` / `uninstall` on the vm and wsl sides, under `--root` and a private `$HOME`:
//! the real binary on real files. Every round trip ends with a byte-for-byte comparison of the
//! whole root and home (contents, modes, links) with the state before install.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};
use support::*;

/// One entry of a folder as a byte-for-byte comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(String),
}

/// Everything under `dir`: relative path -> node.
fn tree_of(dir: &Utf8Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let m = e.path().symlink_metadata().unwrap();
        let node = if m.file_type().is_symlink() {
            Node::Link(
                fs::read_link(e.path())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned(),
            )
        } else if m.is_dir() {
            Node::Dir(m.mode() & 0o7777)
        } else {
            Node::File(m.mode() & 0o7777, fs::read(e.path()).unwrap())
        };
        out.insert(rel, node);
    }
    out
}

fn mtimes(dir: &Utf8Path) -> BTreeMap<String, SystemTime> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().to_str().unwrap().to_owned(),
                e.path().symlink_metadata().unwrap().modified().unwrap(),
            )
        })
        .collect()
}

/// A test's folders: the generated tree, a root, a home.
struct Setup {
    _tmp: tempfile::TempDir,
    dir: Utf8PathBuf,
}

impl Setup {
    fn new(spec: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let dir = utf8_dir(&tmp);
        let out = run(dockvm()
            .args(["gen", "--spec", spec, "--out"])
            .arg(dir.join("gen")));
        assert!(out.status.success(), "{}", text(&out.stderr));
        for d in ["root/etc", "home"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        Setup { _tmp: tmp, dir }
    }

    fn root(&self) -> Utf8PathBuf {
        self.dir.join("root")
    }

    fn home(&self) -> Utf8PathBuf {
        self.dir.join("home")
    }

    fn put(&self, rel: &str, bytes: &[u8]) {
        let p = self.dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }

    /// `dockvm <verb> --side <side> --from gen --root root` with HOME=home.
    fn cmd(&self, verb: &str, side: &str, extra: &[&str]) -> Command {
        let mut c = dockvm();
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .args([verb, "--side", side, "--from"])
            .arg(self.dir.join("gen"))
            .arg("--root")
            .arg(self.root())
            .args(extra);
        c
    }

    fn run(&self, verb: &str, side: &str, extra: &[&str]) -> Output {
        run(&mut self.cmd(verb, side, extra))
    }

    fn both(&self) -> (BTreeMap<String, Node>, BTreeMap<String, Node>) {
        (tree_of(&self.root()), tree_of(&self.home()))
    }

    fn gen_file(&self, rel: &str) -> Vec<u8> {
        fs::read(self.dir.join("gen").join(rel)).unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn ok(o: &Output) -> String {
    assert_eq!(
        code(o),
        0,
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

const DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/default.toml");
const OTHER_VM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/non-ascii.toml");

/// VMware's own mount unit, as open-vm-tools ships it: a file dockvm did not write.
const VMWARE_UNIT: &[u8] = b"[Unit]\nDescription=VMware mount for hgfs\n\n[Mount]\nWhat=vmhgfs-fuse\nWhere=/mnt/hgfs\nType=fuse\nOptions=default_permissions,allow_other\n";

#[test]
fn vm_side_installs_once_and_uninstalls_to_the_same_bytes() {
    let s = Setup::new(DEFAULT);
    s.put("root/etc/systemd/system/mnt-hgfs.mount", VMWARE_UNIT);
    s.put(
        "root/etc/docker/daemon.json",
        br#"{"log-driver": "journald"}"#,
    );
    s.put(
        "root/etc/tmpfiles.d/other.conf",
        b"d /run/other 0755 root root -\n",
    );
    // open-vm-tools, installed: its unit, and its configuration with the user's settings and
    // an exclude-nics of theirs.
    s.put(
        "root/lib/systemd/system/open-vm-tools.service",
        b"[Unit]\nDescription=Service for virtual machines hosted on VMware\n",
    );
    s.put(
        "root/etc/vmware-tools/tools.conf",
        b"# my tools.conf\n[logging]\nlog = true\n\n[guestinfo]\nexclude-nics = eth9*\npoll-interval = 30\n",
    );
    fs::create_dir_all(s.dir.join("root/var/lib")).unwrap();
    let before = s.both();

    // Dry run: exit 1, a diff of every file, each command, nothing written.
    let dry = s.run("install", "vm", &["--dry-run"]);
    assert_eq!(code(&dry), 1, "{}", text(&dry.stderr));
    let out = text(&dry.stdout);
    for want in [
        "would create folder ",
        "would change ",
        "+ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock -H tcp://192.168.130.2:2375 --tls=false",
        "-What=vmhgfs-fuse",
        "would back up ",
        "would skip systemctl daemon-reload: --root is ",
    ] {
        assert!(out.contains(want), "{want:?} missing in:\n{out}");
    }
    assert_eq!(s.both(), before, "--dry-run wrote something");

    let out = ok(&s.run("install", "vm", &[]));
    assert!(out.contains("skipped systemctl restart docker"), "{out}");
    let root = s.root();
    for (rel, target) in [
        (
            "vm/etc/systemd/system/docker.service.d/dockvm.conf",
            "etc/systemd/system/docker.service.d/dockvm.conf",
        ),
        (
            "vm/etc/systemd/system/mnt-hgfs.mount",
            "etc/systemd/system/mnt-hgfs.mount",
        ),
        (
            "vm/etc/systemd/system/dockvm-address.service",
            "etc/systemd/system/dockvm-address.service",
        ),
        (
            "vm/etc/tmpfiles.d/dockvm.conf",
            "etc/tmpfiles.d/dockvm.conf",
        ),
    ] {
        assert_eq!(
            fs::read(root.join(target)).unwrap(),
            s.gen_file(rel),
            "{target}"
        );
        assert_eq!(
            fs::metadata(root.join(target)).unwrap().mode() & 0o777,
            0o644
        );
    }
    assert_eq!(
        fs::read(root.join("etc/systemd/system/mnt-hgfs.mount.dockvm-backup")).unwrap(),
        VMWARE_UNIT
    );
    // tools.conf: only exclude-nics changed, the user's pattern kept first.
    assert_eq!(
        text(&fs::read(root.join("etc/vmware-tools/tools.conf")).unwrap()),
        "# my tools.conf\n[logging]\nlog = true\n\n[guestinfo]\nexclude-nics = eth9*,docker*,veth*,br-*,virbr*\npoll-interval = 30\n"
    );
    // VMware Tools reread it when restarted (not here: --root).
    assert!(
        out.contains("skipped systemctl try-restart open-vm-tools.service"),
        "{out}"
    );

    // A second run changes nothing: no write, no command, no mtime.
    let times = mtimes(&root);
    std::thread::sleep(Duration::from_millis(20));
    let out = ok(&s.run("install", "vm", &[]));
    assert!(out.ends_with("0 changed, 5 unchanged\n"), "{out}");
    assert!(!out.contains("systemctl"), "{out}");
    assert_eq!(mtimes(&root), times);
    assert_eq!(code(&s.run("install", "vm", &["--dry-run"])), 0);

    let out = ok(&s.run("uninstall", "vm", &[]));
    assert!(out.contains("restored "), "{out}");
    assert_eq!(
        s.both(),
        before,
        "uninstall did not give back the bytes\n{out}"
    );
    // Uninstalling again finds nothing to do.
    let out = ok(&s.run("uninstall", "vm", &[]));
    assert!(out.contains("0 changed"), "{out}");
}

#[test]
fn vm_side_refuses_a_daemon_json_with_hosts_before_changing_anything() {
    let s = Setup::new(DEFAULT);
    s.put(
        "root/etc/docker/daemon.json",
        br#"{"hosts": ["unix:///var/run/docker.sock"]}"#,
    );
    let before = s.both();
    let out = s.run("install", "vm", &[]);
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("etc/docker/daemon.json: sets \"hosts\"") && err.contains("moby#25471"),
        "{err}"
    );
    assert_eq!(s.both(), before);
}

#[test]
fn vm_side_refuses_a_tree_of_another_vm_over_an_installed_one() {
    let s = Setup::new(DEFAULT);
    ok(&s.run("install", "vm", &[]));
    let installed = s.both();
    let other = run(dockvm()
        .args(["gen", "--spec", OTHER_VM, "--out"])
        .arg(s.dir.join("gen2")));
    assert!(other.status.success());
    let out = run(dockvm()
        .args(["install", "--side", "vm", "--from"])
        .arg(s.dir.join("gen2"))
        .arg("--root")
        .arg(s.root()));
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(err.contains("installed for VM dev, not zhang-wei"), "{err}");
    assert_eq!(s.both(), installed);
}

/// A case: what it is, the profile before install, `/etc/wsl.conf` before install.
type WslCase = (&'static str, Option<&'static [u8]>, Option<&'static [u8]>);

/// Profiles as users have them; each with the wsl.conf of the same row.
const WSL_CASES: &[WslCase] = &[
    (
        "CRLF profile with a Chinese comment, wsl.conf with other sections",
        Some("# 张伟的 profile\r\nexport PATH=\"$HOME/bin:$PATH\"\r\n".as_bytes()),
        Some(b"[boot]\r\nsystemd=true\r\n"),
    ),
    (
        "no final newline, GBK bytes; wsl.conf with another root and a comment",
        Some(b"# \xd5\xc5\xce\xb0\nalias ll='ls -l'"),
        Some("[automount]\r\nroot = /windir/\r\noptions = \"metadata\"\r\n# 注释\r\n".as_bytes()),
    ),
    ("no profile and no wsl.conf", None, None),
    (
        "wsl.conf already right",
        Some(b"umask 022\n"),
        Some(b"[automount]\nroot=/mnt\n"),
    ),
];

#[test]
fn wsl_side_keeps_every_byte_it_does_not_own() {
    for (case, profile, conf) in WSL_CASES {
        let s = Setup::new(DEFAULT);
        if let Some(p) = profile {
            s.put("home/.profile", p);
        }
        if let Some(c) = conf {
            s.put("root/etc/wsl.conf", c);
        }
        let before = s.both();
        assert_eq!(code(&s.run("install", "wsl", &["--dry-run"])), 1, "{case}");
        let out = ok(&s.run("install", "wsl", &[]));
        let prof = fs::read(s.home().join(".profile")).unwrap();
        let block = s.gen_file("wsl/profile.sh");
        assert!(prof.ends_with(&block), "{case}: {}", text(&prof));
        if let Some(p) = profile {
            assert!(prof.starts_with(p), "{case}: the user's lines moved");
        }
        // The profile does what it says: dash and bash read DOCKER_HOST from it.
        for sh in ["dash", "bash"] {
            let o = run(Command::new(sh).args([
                "-c",
                ". \"$0\" >/dev/null 2>&1; printf %s \"$DOCKER_HOST\"",
                s.home().join(".profile").as_str(),
            ]));
            assert_eq!(text(&o.stdout), "tcp://local.test:2375", "{case} {sh}");
        }
        let conf_after = fs::read(s.root().join("etc/wsl.conf")).unwrap();
        assert!(
            text(&conf_after).contains("root = /mnt/") || text(&conf_after).contains("root=/mnt"),
            "{case}: {}",
            text(&conf_after)
        );
        if let Some(c) = conf
            && !text(c).contains("/mnt")
        {
            assert!(out.contains("wsl --shutdown"), "{case}: {out}");
            for line in text(c).lines().filter(|l| !l.starts_with("root")) {
                assert!(text(&conf_after).contains(line), "{case}: lost {line:?}");
            }
        } else if conf.is_some() {
            assert!(!out.contains("wsl --shutdown"), "{case}: {out}");
        }
        // The docker context, where the real docker CLI finds it.
        let ctx = run(Command::new("docker")
            .env_clear()
            .env("DOCKER_CONFIG", s.home().join(".docker"))
            .args(["context", "ls", "--format", "{{.Name}} {{.DockerEndpoint}}"]));
        assert!(
            text(&ctx.stdout).contains("dockvm-dev tcp://local.test:2375\n"),
            "{case}: {}{}",
            text(&ctx.stdout),
            text(&ctx.stderr)
        );
        let snapshot = s.both();
        let out = ok(&s.run("install", "wsl", &[]));
        assert!(out.ends_with("0 changed, 4 unchanged\n"), "{case}: {out}");
        assert_eq!(s.both(), snapshot, "{case}");
        assert_eq!(code(&s.run("install", "wsl", &["--dry-run"])), 0, "{case}");
        let out = ok(&s.run("uninstall", "wsl", &[]));
        assert_eq!(
            s.both(),
            before,
            "{case}: not the same bytes after uninstall\n{out}"
        );
    }
}

/// The context the real docker CLI uses with no DOCKER_HOST and no DOCKER_CONTEXT, reading
/// `~/.docker/config.json` under `home` as every process there would.
fn current_context(home: &Utf8Path) -> String {
    let out = run(Command::new("docker").env_clear().env("HOME", home).args([
        "context",
        "ls",
        "--format",
        "{{if .Current}}{{.Name}}{{end}}",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// `config.json` as users have it: the docker CLI's own tab-indented layout with credentials,
/// a credential store, proxies and non-ASCII; another context current; compact JSON; none.
/// install makes `dockvm-dev` current for every process (the real docker CLI says so), a
/// second install changes nothing, and uninstall gives back the bytes and the mode.
#[test]
fn wsl_side_makes_its_context_current_in_config_json_and_gives_it_back() {
    if !require(have("docker"), "needs the docker CLI (docker.io)") {
        return;
    }
    let docker_style: &[u8] = "{\n\t\"auths\": {\n\t\t\"registry.example.test\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n\t\t}\n\t},\n\t\"credsStore\": \"desktop.exe\",\n\t\"proxies\": {\n\t\t\"default\": {\n\t\t\t\"noProxy\": \"本地.test,*.公司\"\n\t\t}\n\t}\n}".as_bytes();
    // (case, the file and its mode, the context current before)
    type Row<'a> = (&'a str, Option<(&'a [u8], u32)>, &'a str);
    let cases: &[Row] = &[
        ("none", None, ""),
        ("docker's own", Some((docker_style, 0o600)), ""),
        (
            "another current",
            Some((b"{\"currentContext\":\"colima\",\"auths\":{}}\r\n", 0o644)),
            "colima",
        ),
        ("empty object", Some((b"{}", 0o640)), ""),
    ];
    for (case, file, was) in cases {
        let s = Setup::new(DEFAULT);
        let cfg = s.home().join(".docker/config.json");
        if !was.is_empty() {
            // The context it names, in the store (the CLI refuses a current one that is not).
            let out = run(Command::new("docker")
                .env_clear()
                .env("HOME", s.home())
                .args([
                    "context",
                    "create",
                    was,
                    "--docker",
                    "host=unix:///run/other.sock",
                ]));
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        if let Some((bytes, mode)) = file {
            s.put("home/.docker/config.json", bytes);
            fs::set_permissions(&cfg, fs::Permissions::from_mode(*mode)).unwrap();
        }
        assert_eq!(
            current_context(&s.home()),
            if was.is_empty() { "default" } else { was },
            "{case}"
        );
        let before = s.both();
        ok(&s.run("install", "wsl", &[]));
        assert_eq!(current_context(&s.home()), "dockvm-dev", "{case}");
        let after = fs::read(&cfg).unwrap();
        match file {
            None => {
                assert_eq!(
                    text(&after),
                    "{\n\t\"currentContext\": \"dockvm-dev\"\n}\n",
                    "{case}"
                );
                assert_eq!(mode_of(&cfg), 0o600, "{case}: the docker CLI's own mode");
            }
            Some((bytes, mode)) => {
                // Only the one member differs; the rest of the file is the user's, as it was.
                let mut got: serde_json::Value = serde_json::from_slice(&after).unwrap();
                let mut want: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                got.as_object_mut().unwrap().remove("currentContext");
                want.as_object_mut().unwrap().remove("currentContext");
                assert_eq!(got, want, "{case}");
                assert_eq!(mode_of(&cfg), *mode, "{case}: the file's own mode");
            }
        }
        let snapshot = s.both();
        ok(&s.run("install", "wsl", &[]));
        assert_eq!(
            s.both(),
            snapshot,
            "{case}: a second install changed something"
        );
        ok(&s.run("uninstall", "wsl", &[]));
        assert_eq!(
            s.both(),
            before,
            "{case}: not the same bytes after uninstall"
        );
    }
}

/// A `config.json` the docker CLI could not read is refused, naming the file and where, and
/// nothing is written; one the user has since pointed at another context keeps it.
#[test]
fn wsl_side_refuses_a_config_json_that_does_not_parse_and_keeps_a_context_changed_since() {
    for (bytes, says) in [
        (
            &b"{\"auths\": {},}\n"[..],
            "does not parse as JSON: trailing comma at line 1 column 14",
        ),
        (b"[]", "holds a JSON array, not an object"),
        (b"\xef\xbb\xbf{}", "does not parse as JSON"),
        (
            b"{\"currentContext\":\"a\",\"currentContext\":\"b\"}",
            "more than once",
        ),
    ] {
        let s = Setup::new(DEFAULT);
        s.put("home/.docker/config.json", bytes);
        let before = s.both();
        let out = s.run("install", "wsl", &[]);
        assert_eq!(code(&out), 2, "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(".docker/config.json: ")
                && err.contains(says)
                && err.contains("nothing was changed"),
            "{err}"
        );
        assert_eq!(s.both(), before);
    }
    if !require(have("docker"), "needs the docker CLI (docker.io)") {
        return;
    }
    let s = Setup::new(DEFAULT);
    ok(&s.run("install", "wsl", &[]));
    // The user picks another context with the CLI itself, which rewrites the file its own way.
    let out = run(Command::new("docker")
        .env_clear()
        .env("HOME", s.home())
        .args(["context", "use", "default"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let theirs = fs::read(s.home().join(".docker/config.json")).unwrap();
    let out = ok(&s.run("uninstall", "wsl", &[]));
    assert!(out.contains("changed since install"), "{out}");
    assert_eq!(
        fs::read(s.home().join(".docker/config.json")).unwrap(),
        theirs
    );
}

#[test]
fn wsl_side_replaces_an_old_block_where_it_stands_and_keeps_later_edits_on_uninstall() {
    let s = Setup::new(DEFAULT);
    s.put(
        "home/.profile",
        b"a\n# BEGIN dockvm dev\nexport DOCKER_HOST=tcp://old:1\n# END dockvm dev\nb\n",
    );
    ok(&s.run("install", "wsl", &[]));
    let block = text(&s.gen_file("wsl/profile.sh"));
    assert_eq!(
        text(&fs::read(s.home().join(".profile")).unwrap()),
        format!("a\n{block}b\n")
    );
    // The user adds a line after install: uninstall takes only the block.
    let mut p = fs::read(s.home().join(".profile")).unwrap();
    p.extend_from_slice(b"c\n");
    fs::write(s.home().join(".profile"), &p).unwrap();
    ok(&s.run("uninstall", "wsl", &[]));
    assert_eq!(fs::read(s.home().join(".profile")).unwrap(), b"a\nb\nc\n");
}

#[test]
fn wsl_side_edits_a_linked_profile_where_it_points() {
    let s = Setup::new(DEFAULT);
    s.put("dotfiles/profile", b"export EDITOR=vi\n");
    std::os::unix::fs::symlink(s.dir.join("dotfiles/profile"), s.home().join(".profile")).unwrap();
    ok(&s.run("install", "wsl", &[]));
    assert!(
        s.home().join(".profile").is_symlink(),
        "the dotfiles link was replaced"
    );
    let linked = fs::read(s.dir.join("dotfiles/profile")).unwrap();
    assert!(text(&linked).contains("export DOCKER_HOST="));
    ok(&s.run("uninstall", "wsl", &[]));
    assert_eq!(
        fs::read(s.dir.join("dotfiles/profile")).unwrap(),
        b"export EDITOR=vi\n"
    );
}

#[test]
fn wsl_side_refuses_another_vms_block() {
    let s = Setup::new(DEFAULT);
    s.put(
        "home/.profile",
        b"# BEGIN dockvm prod\nexport DOCKER_HOST=tcp://prod:2375\n# END dockvm prod\n",
    );
    let before = s.both();
    let out = s.run("install", "wsl", &[]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("holds the dockvm block of VM prod"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.both(), before);
}

#[test]
fn bad_trees_are_refused_before_anything_changes() {
    // (what is wrong, how it is made, the side, exit code, what the message must say)
    type Break = fn(&Utf8Path);
    let cases: &[(&str, Break, &str, i32, &str)] = &[
        (
            "a file edited after gen",
            |g| {
                fs::write(
                    g.join("wsl/profile.sh"),
                    b"export DOCKER_HOST=tcp://evil:1\n",
                )
                .unwrap()
            },
            "wsl",
            2,
            "wsl/profile.sh: its sha256 is ",
        ),
        (
            "no manifest",
            |g| fs::remove_file(g.join("manifest.json")).unwrap(),
            "wsl",
            2,
            "no manifest.json",
        ),
        (
            "an unreadable file",
            |g| {
                fs::remove_file(g.join("wsl/wsl.conf")).unwrap();
                fs::create_dir(g.join("wsl/wsl.conf")).unwrap();
            },
            "wsl",
            2,
            "wsl/wsl.conf: cannot read it",
        ),
        (
            "a manifest aiming a VM file at another system file",
            |g| {
                let m = fs::read_to_string(g.join("manifest.json")).unwrap();
                let m = m.replace("\"/etc/tmpfiles.d/dockvm.conf\"", "\"/etc/shadow\"");
                fs::write(g.join("manifest.json"), m).unwrap();
            },
            "vm",
            2,
            "the target of vm/etc/tmpfiles.d/dockvm.conf is \"/etc/shadow\"",
        ),
        (
            "a manifest aiming the profile block elsewhere",
            |g| {
                let m = fs::read_to_string(g.join("manifest.json")).unwrap();
                let m = m.replace("\"~/.profile\"", "\"~/../../etc/passwd\"");
                fs::write(g.join("manifest.json"), m).unwrap();
            },
            "wsl",
            2,
            "is not a profile path",
        ),
        (
            "a manifest from elsewhere",
            |g| {
                fs::write(
                    g.join("manifest.json"),
                    br#"{"generator":"other","vm":"x","artifacts":[]}"#,
                )
                .unwrap()
            },
            "wsl",
            2,
            "not by dockvm",
        ),
    ];
    for (case, make, side, want_code, want) in cases {
        let s = Setup::new(DEFAULT);
        s.put("home/.profile", b"x\n");
        make(&s.dir.join("gen"));
        let before = s.both();
        let out = s.run("install", side, &[]);
        assert_eq!(code(&out), *want_code, "{case}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(want),
            "{case}: {}",
            text(&out.stderr)
        );
        assert_eq!(s.both(), before, "{case}");
    }
}

#[test]
fn the_side_is_never_guessed_outside_wsl() {
    let s = Setup::new(DEFAULT);
    let out = run(dockvm()
        .env_remove("WSL_DISTRO_NAME")
        .args(["install", "--from"])
        .arg(s.dir.join("gen")));
    let on_wsl = fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .to_lowercase()
        .contains("microsoft");
    if !require(
        !on_wsl,
        "this machine is WSL, where install knows the side: run it on plain Linux",
    ) {
        return;
    }
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("say --side vm"),
        "{}",
        text(&out.stderr)
    );
    let before = s.both();
    let out = s.run("install", "windows", &[]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("dockvm.exe"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.both(), before, "the refusal changed something");
}

#[test]
fn a_read_only_target_is_exit_3_with_the_hint_and_nothing_cut() {
    if !require_root_and(&["unshare", "mount"]) {
        return;
    }
    let s = Setup::new(DEFAULT);
    s.put("home/.profile", b"x\n");
    let before = s.both();
    // Root ignores modes: a read-only bind mount of the root makes /etc/wsl.conf unwritable.
    let setup = format!(
        "mount --bind {r} {r}; mount -o remount,bind,ro {r}",
        r = s.root()
    );
    let mut c = in_mount_ns(Some(&setup), env!("CARGO_BIN_EXE_dockvm"));
    c.env("HOME", s.home())
        .args(["install", "--side", "wsl", "--from"])
        .arg(s.dir.join("gen"))
        .arg("--root")
        .arg(s.root());
    let out = run(&mut c);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot write ") && err.contains("wsl.conf"),
        "{err}"
    );
    // The profile came first and is whole; wsl.conf was not cut.
    let (root_after, _) = s.both();
    assert_eq!(root_after, before.0);
    ok(&s.run("uninstall", "wsl", &[]));
    assert_eq!(s.both(), before);
}

#[test]
fn a_profile_replaced_by_root_keeps_its_owner_and_mode() {
    if !require(is_root(), "needs root to chown") {
        return;
    }
    let s = Setup::new(DEFAULT);
    s.put("home/.profile", b"x\n");
    let p = s.home().join(".profile");
    std::os::unix::fs::chown(&p, Some(1000), Some(1000)).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    ok(&s.run("install", "wsl", &[]));
    let m = fs::metadata(&p).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (1000, 1000, 0o600));
    let b = fs::metadata(s.home().join(".profile.dockvm-backup")).unwrap();
    assert_eq!(b.mode() & 0o777, 0o600, "the backup is the user's too");
}

/// Interrupts at random moments, hundreds of times: whatever moment SIGINT or SIGTERM comes,
/// every file is whole (old or new, no temporary file left), and install run again to the end
/// followed by uninstall gives back the original bytes.
#[test]
fn interrupted_at_random_moments_install_leaves_whole_files_and_undoes_exactly() {
    let runs = soak_runs(200);
    let s = Setup::new(DEFAULT);
    s.put("root/etc/systemd/system/mnt-hgfs.mount", VMWARE_UNIT);
    s.put("home/.profile", b"# mine\r\nexport A=1");
    s.put("root/etc/wsl.conf", b"[boot]\nsystemd=true\n");
    let before = s.both();
    // Each target may be seen only as it was before install or as install leaves it.
    let targets = [
        "root/etc/systemd/system/mnt-hgfs.mount",
        "root/etc/systemd/system/docker.service.d/dockvm.conf",
        "root/etc/tmpfiles.d/dockvm.conf",
        "root/etc/wsl.conf",
        "home/.profile",
    ];
    let read = |rel: &str| fs::read(s.dir.join(rel)).ok();
    let originals: Vec<Option<Vec<u8>>> = targets.iter().map(|t| read(t)).collect();
    for side in ["vm", "wsl"] {
        ok(&s.run("install", side, &[]));
    }
    let installed: Vec<Option<Vec<u8>>> = targets.iter().map(|t| read(t)).collect();
    for side in ["vm", "wsl"] {
        ok(&s.run("uninstall", side, &[]));
    }
    assert_eq!(s.both(), before);
    // The moments differ between runs, and a failure prints the seed.
    let mut moments = Moments::new();
    let first_seed = moments.seed;
    let (mut interrupted, mut landed) = (0, 0);
    for i in 0..runs {
        let seed = moments.next();
        let side = if i % 2 == 0 { "vm" } else { "wsl" };
        let verb = if i % 3 == 2 { "uninstall" } else { "install" };
        let delay = Duration::from_micros(seed % 6000);
        let sig = if seed.is_multiple_of(2) {
            "INT"
        } else {
            "TERM"
        };
        // What the run has said so far: one line an action, as apply does it, then a count.
        let said = s.dir.join("said");
        let mut child = s
            .cmd(verb, side, &[])
            .stdout(fs::File::create(&said).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // Inside apply: at least one action done and the closing count not yet said, seen
        // while the process stands still.
        let inside = interrupt_seen(child.id(), sig, || {
            let text = fs::read_to_string(&said).unwrap_or_default();
            let done = text
                .lines()
                .any(|l| l.contains(" changed, ") && l.contains(" unchanged"));
            !text.is_empty() && !done
        });
        let status = child.wait().unwrap();
        if status.code() == Some(130) {
            interrupted += 1;
            landed += u32::from(inside);
        }
        let ctx = format!("run {i} ({verb} {side}, SIG{sig} after {delay:?}, seed {first_seed})");
        let leftovers: Vec<String> = walkdir::WalkDir::new(&s.dir)
            .into_iter()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".dockvm-"))
            .map(|e| e.path().display().to_string())
            .collect();
        assert!(
            leftovers.is_empty(),
            "{ctx}: temporary files left: {leftovers:?}"
        );
        for (k, t) in targets.iter().enumerate() {
            let now = read(t);
            assert!(
                now == originals[k] || now == installed[k],
                "{ctx}: {t} is neither as before nor as installed"
            );
        }
        // Finish, then undo: the original bytes come back after any interruption.
        if i % 10 == 9 {
            for side in ["vm", "wsl"] {
                ok(&s.run("install", side, &[]));
                ok(&s.run("uninstall", side, &[]));
            }
            assert_eq!(
                s.both(),
                before,
                "{ctx}: install then uninstall after the interrupts"
            );
        }
    }
    for side in ["vm", "wsl"] {
        ok(&s.run("install", side, &[]));
        ok(&s.run("uninstall", side, &[]));
    }
    assert_eq!(s.both(), before);
    eprintln!(
        "{runs} runs, {interrupted} ended by the handler (exit 130), {landed} of them inside apply (seed {first_seed})"
    );
    // Only an interrupt inside apply tests the promise (before it, the plan changes nothing;
    // before the handler is set, the signal kills the process): see LANDED_BAR.
    assert!(
        u64::from(landed) * 100 >= runs * LANDED_BAR,
        "too few interrupts landed inside apply: {landed} of {runs} (seed {first_seed})"
    );
}

const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tls.toml");

impl Setup {
    /// `dockvm certs` for the spec, into `<dir>/certs`; returns the folder.
    fn certs(&self, spec: &str, extra: &[&str]) -> Utf8PathBuf {
        let dir = self.dir.join("certs");
        let out = run(dockvm()
            .args(["certs", "--spec", spec, "--out", dir.as_str()])
            .args(extra));
        assert!(out.status.success(), "{}", text(&out.stderr));
        dir
    }
}

fn mode_of(p: &Utf8Path) -> u32 {
    fs::metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn tls_vm_side_places_the_server_files_and_undoes_exactly() {
    let s = Setup::new(TLS);
    fs::create_dir_all(s.dir.join("root/var/lib")).unwrap();
    s.put(
        "root/etc/docker/daemon.json",
        br#"{"log-driver": "journald"}"#,
    );
    let certs = s.certs(TLS, &[]);
    let before = s.both();

    // Without --certs the drop-in would have dockerd read files that are not there: refused.
    let out = s.run("install", "vm", &[]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let e = text(&out.stderr);
    assert!(
        e.contains("etc/docker/dockvm/ca.pem: missing") && e.contains("--certs DIR"),
        "{e}"
    );
    assert_eq!(s.both(), before, "a refused install wrote something");

    let out = ok(&s.run("install", "vm", &["--certs", certs.as_str()]));
    let dir = s.root().join("etc/docker/dockvm");
    for (f, mode) in [
        ("ca.pem", 0o644),
        ("server-cert.pem", 0o644),
        ("server-key.pem", 0o600),
    ] {
        assert_eq!(
            fs::read(dir.join(f)).unwrap(),
            fs::read(certs.join(f)).unwrap(),
            "{f}"
        );
        assert_eq!(mode_of(&dir.join(f)), mode, "{f}");
    }
    assert_eq!(mode_of(&dir), 0o700);
    for f in ["ca-key.pem", "cert.pem", "key.pem"] {
        assert!(!dir.join(f).exists(), "{f} does not belong in the VM");
    }
    assert!(out.contains("skipped systemctl restart docker"), "{out}");

    // Again: nothing changes. Then a renewal changes the server files only, keys still 0600.
    let out = ok(&s.run("install", "vm", &["--certs", certs.as_str()]));
    assert!(out.ends_with("0 changed, 8 unchanged\n"), "{out}");
    s.certs(TLS, &["--renew"]);
    let out = ok(&s.run("install", "vm", &["--certs", certs.as_str()]));
    assert!(
        out.contains("changed ") && out.contains("server-cert.pem"),
        "{out}"
    );
    assert!(out.contains("skipped systemctl restart docker"), "{out}");
    assert_eq!(
        fs::read(dir.join("server-key.pem")).unwrap(),
        fs::read(certs.join("server-key.pem")).unwrap()
    );
    assert_eq!(mode_of(&dir.join("server-key.pem")), 0o600);

    let out = ok(&s.run("uninstall", "vm", &[]));
    assert_eq!(
        s.both(),
        before,
        "uninstall did not give back the bytes\n{out}"
    );
}

#[test]
fn tls_wsl_side_places_the_client_files_privately_and_undoes_exactly() {
    let s = Setup::new(TLS);
    s.put("home/.profile", b"# mine\n");
    s.put("home/.docker/config.json", b"{\"auths\": {}}\n");
    // A file of the user's where install puts one: backed up, and given back on uninstall.
    s.put(
        "home/.docker/dockvm-secure/cert.pem",
        b"my own old certificate\n",
    );
    let certs = s.certs(TLS, &[]);
    let before = s.both();

    ok(&s.run("install", "wsl", &["--certs", certs.as_str()]));
    let dir = s.home().join(".docker/dockvm-secure");
    for (f, mode) in [("ca.pem", 0o644), ("key.pem", 0o600)] {
        assert_eq!(
            fs::read(dir.join(f)).unwrap(),
            fs::read(certs.join(f)).unwrap(),
            "{f}"
        );
        assert_eq!(mode_of(&dir.join(f)), mode, "{f}");
    }
    assert_eq!(
        fs::read(dir.join("cert.pem")).unwrap(),
        fs::read(certs.join("cert.pem")).unwrap()
    );
    assert_eq!(
        fs::read(dir.join("cert.pem.dockvm-backup")).unwrap(),
        b"my own old certificate\n"
    );
    for f in ["ca-key.pem", "server-key.pem", "server-cert.pem"] {
        assert!(!dir.join(f).exists(), "{f} does not belong on a client");
    }
    let profile = fs::read_to_string(s.home().join(".profile")).unwrap();
    assert!(
        profile.contains("export DOCKER_CERT_PATH=\"$HOME/.docker/dockvm-secure\""),
        "{profile}"
    );
    // The folder's files are what DOCKER_CERT_PATH leads the shell to.
    let sh = run(Command::new("sh").env_clear().env("HOME", s.home()).args([
        "-c",
        ". \"$HOME/.profile\"; cat \"$DOCKER_CERT_PATH/ca.pem\"",
    ]));
    assert_eq!(sh.stdout, fs::read(certs.join("ca.pem")).unwrap());
    // The docker context's store has the same client files: the real docker CLI lists the
    // context with its endpoint, and takes its TLS material from the store (no variables).
    let ctx = run(Command::new("docker")
        .env_clear()
        .env("DOCKER_CONFIG", s.home().join(".docker"))
        .args([
            "context",
            "inspect",
            "dockvm-secure",
            "--format",
            "{{.Endpoints.docker.Host}} {{.TLSMaterial.docker}}",
        ]));
    assert_eq!(
        text(&ctx.stdout),
        "tcp://docker.local.test:2376 [ca.pem cert.pem key.pem]\n",
        "{}",
        text(&ctx.stderr)
    );
    let out2 = ok(&s.run("install", "wsl", &["--certs", certs.as_str()]));
    assert!(out2.ends_with("0 changed, 10 unchanged\n"), "{out2}");

    let out = ok(&s.run("uninstall", "wsl", &[]));
    assert_eq!(
        s.both(),
        before,
        "uninstall did not give back the bytes\n{out}"
    );
}

#[test]
fn tls_wsl_side_keeps_a_file_changed_since_install_and_says_where_files_are_missing() {
    let s = Setup::new(TLS);
    s.put("home/.profile", b"# mine\n");
    let certs = s.certs(TLS, &[]);
    // Without --certs: the profile points at a folder that has no files, and install says so.
    let out = ok(&s.run("install", "wsl", &[]));
    assert!(
        out.contains("has no ca.pem") && out.contains("--certs DIR"),
        "{out}"
    );
    ok(&s.run("install", "wsl", &["--certs", certs.as_str()]));
    let key = s.home().join(".docker/dockvm-secure/key.pem");
    fs::write(&key, b"edited by hand\n").unwrap();
    let out = ok(&s.run("uninstall", "wsl", &[]));
    assert!(out.contains("changed since install"), "{out}");
    assert_eq!(fs::read(&key).unwrap(), b"edited by hand\n");
    assert!(!s.home().join(".docker/dockvm-secure/ca.pem").exists());
    assert!(
        !s.home().join(".local").exists(),
        "the state and its folders are gone"
    );
}

#[test]
fn certs_are_refused_for_a_plain_tree_or_an_incomplete_folder() {
    let plain = Setup::new(DEFAULT);
    let certs = plain.certs(TLS, &[]);
    let before = plain.both();
    let out = plain.run("install", "vm", &["--certs", certs.as_str()]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("generated without `tls = true`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(plain.both(), before);

    let s = Setup::new(TLS);
    let certs = s.certs(TLS, &[]);
    fs::remove_file(certs.join("server-key.pem")).unwrap();
    let before = s.both();
    let out = s.run("install", "vm", &["--certs", certs.as_str()]);
    assert_eq!(code(&out), 2);
    let e = text(&out.stderr);
    assert!(
        e.contains(&format!("server-key.pem missing in {certs}")),
        "{e}"
    );
    assert_eq!(
        s.both(),
        before,
        "the refusal of a missing server key changed something"
    );
    // The client side does not need the server key.
    ok(&s.run("install", "wsl", &["--certs", certs.as_str()]));
    let installed = s.both();
    fs::write(
        certs.join("key.pem"),
        fs::read(certs.join("ca-key.pem")).unwrap(),
    )
    .unwrap();
    let out = s.run("install", "wsl", &["--certs", certs.as_str()]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("key.pem is not the key of"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        s.both(),
        installed,
        "the refusal of a wrong key.pem changed something"
    );
    ok(&s.run("uninstall", "wsl", &[]));
    assert_eq!(s.both().1, before.1);
}

/// The soak's bar, in percent of the runs that must be interrupted inside apply: measured
/// 20 to 25 % here (40, 40 and 49 of 200 runs), the bar a third of that.
const LANDED_BAR: u64 = 7;

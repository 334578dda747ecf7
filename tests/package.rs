//! What `ci/dist` ships (through `ci/package`), read by its consumers: the .deb by `dpkg-deb`,
//! then installed with apt in the booted lab VM, read through the share as the README says,
//! where man, bash-completion and `dockvm install --side vm` use it, and `apt remove` takes
//! it away; the Windows zip by Python's zipfile and its dockvm.exe under Wine; `SHA256SUMS` by
//! `sha256sum -c`.

mod support;

use camino::{Utf8Path, Utf8PathBuf};
use std::process::Command;
use support::lab::*;
use support::*;

fn dist() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("dist")
}

/// The one file of dist/ whose name starts with `prefix` and ends with `suffix`, or a skip.
fn dist_file(prefix: &str, suffix: &str) -> Option<Utf8PathBuf> {
    let found: Vec<Utf8PathBuf> = std::fs::read_dir(dist())
        .into_iter()
        .flatten()
        .filter_map(|e| Utf8PathBuf::from_path_buf(e.ok()?.path()).ok())
        .filter(|p| {
            let n = p.file_name().unwrap_or("");
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect();
    require(
        found.len() == 1,
        &format!("needs one dist/{prefix}*{suffix}: ci/dist makes it (ci/test runs it first); found {found:?}"),
    )
    .then(|| found[0].clone())
}

/// The version and commit the packaged binaries must say, from their sources rather than from
/// this test's own build: `Cargo.toml`'s `[package] version`, and the checkout's `git rev-parse
/// HEAD`.
fn built_facts() -> serde_json::Value {
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let version = manifest
        .split("\n[")
        .next()
        .and_then(|package| {
            package
                .lines()
                .find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"'))
        })
        .expect("Cargo.toml's [package] has a version")
        .to_owned();
    let head = run(Command::new("git").args(["-C", root.as_str(), "rev-parse", "HEAD"]));
    assert!(head.status.success(), "git rev-parse HEAD: {head:?}");
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    serde_json::json!({ "version": version, "commit": commit })
}

const DEB_FILES: &[&str] = &[
    "./usr/bin/dockvm",
    "./usr/share/man/man1/dockvm.1.gz",
    "./usr/share/man/man1/dockvm-gen.1.gz",
    "./usr/share/man/man1/dockvm-verify.1.gz",
    "./usr/share/man/man1/dockvm-install.1.gz",
    "./usr/share/man/man1/dockvm-uninstall.1.gz",
    "./usr/share/man/man1/dockvm-version.1.gz",
    "./usr/share/bash-completion/completions/dockvm",
    "./usr/share/zsh/vendor-completions/_dockvm",
    "./usr/share/fish/vendor_completions.d/dockvm.fish",
    "./usr/share/doc/dockvm/README.md",
    "./usr/share/doc/dockvm/LICENSE-MIT",
    "./usr/share/doc/dockvm/LICENSE-APACHE",
    "./usr/share/doc/dockvm/copyright",
    "./usr/share/doc/dockvm/changelog.gz",
];

#[test]
fn the_deb_holds_the_binary_man_pages_completions_and_licenses() {
    if !require(have("dpkg-deb"), "needs dpkg-deb") {
        return;
    }
    let facts = built_facts();
    let version = facts["version"].as_str().unwrap();
    let Some(deb) = dist_file("dockvm_", "_amd64.deb") else {
        return;
    };
    assert_eq!(
        deb.file_name().unwrap(),
        format!("dockvm_{version}_amd64.deb")
    );
    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.status.success());
    let info = String::from_utf8_lossy(&info.stdout);
    for field in [
        "Package: dockvm".to_owned(),
        format!("Version: {version}"),
        "Architecture: amd64".to_owned(),
        "Section: utils".to_owned(),
    ] {
        assert!(info.contains(&field), "no {field:?} in:\n{info}");
    }
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    assert!(contents.status.success());
    let contents = String::from_utf8_lossy(&contents.stdout);
    let listed: Vec<(&str, &str)> = contents
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0], *f.last().unwrap())
        })
        .collect();
    for want in DEB_FILES {
        assert!(
            listed.iter().any(|(_, p)| p == want),
            "{want} not in the .deb:\n{contents}"
        );
    }
    // One man page for each command the binary has (as `dockvm man` writes them), and nothing
    // owned by anyone but root.
    let t = tempfile::tempdir().unwrap();
    let out = run(dockvm().args(["man", "--out"]).arg(t.path()));
    assert!(out.status.success());
    let mut want: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| {
            format!(
                "./usr/share/man/man1/{}.gz",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    want.sort();
    let mut pages: Vec<String> = listed
        .iter()
        .filter(|(_, p)| p.starts_with("./usr/share/man/man1/") && p.ends_with(".gz"))
        .map(|(_, p)| p.to_string())
        .collect();
    pages.sort();
    assert_eq!(pages, want);
    assert!(pages.len() >= 14, "{pages:?}");
    assert!(
        contents.lines().all(|l| l.contains(" root/root ")),
        "{contents}"
    );
    let bin = listed
        .iter()
        .find(|(_, p)| *p == "./usr/bin/dockvm")
        .unwrap();
    assert_eq!(bin.0, "-rwxr-xr-x");
}

#[test]
fn sha256sums_names_every_dist_file_and_sha256sum_accepts_it() {
    if !require(have("sha256sum"), "needs sha256sum") {
        return;
    }
    let Some(sums) = dist_file("SHA256SUMS", "") else {
        return;
    };
    let text = std::fs::read_to_string(&sums).unwrap();
    let names: Vec<&str> = text.lines().map(|l| &l[66..]).collect();
    let version = built_facts()["version"].as_str().unwrap().to_owned();
    for want in [
        "dockvm-x86_64-linux".to_owned(),
        "dockvm.exe".to_owned(),
        "dockvmw.exe".to_owned(),
        format!("dockvm_{version}_amd64.deb"),
        format!("dockvm-{version}-x86_64-pc-windows-gnu.zip"),
    ] {
        assert!(names.contains(&want.as_str()), "{want} not in:\n{text}");
    }
    let out = run(Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(dist()));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A changed byte is caught: the check is real.
    let t = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&t);
    std::fs::copy(&sums, dir.join("SHA256SUMS")).unwrap();
    for n in &names {
        std::fs::copy(dist().join(n), dir.join(n)).unwrap();
    }
    let mut bytes = std::fs::read(dir.join("dockvm.exe")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(dir.join("dockvm.exe"), bytes).unwrap();
    let out = run(Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(&dir));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("dockvm.exe: FAILED"));
}

/// The zip's files, its text files' CRLF line endings, and its dockvm.exe and dockvmw.exe
/// under Wine.
#[test]
fn the_windows_zip_holds_dockvm_exe_completion_readme_and_licenses() {
    let version = built_facts()["version"].as_str().unwrap().to_owned();
    let Some(zip) = dist_file("dockvm-", "-x86_64-pc-windows-gnu.zip") else {
        return;
    };
    if !require(have("python3"), "needs python3 (its zipfile reads the zip)") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&t);
    let out = run(Command::new("python3").args([
        "-c",
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint('\\n'.join(z.namelist()))\nz.extractall(sys.argv[2])",
        zip.as_str(),
        dir.as_str(),
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top = format!("dockvm-{version}-x86_64-pc-windows-gnu");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    let want: Vec<String> = [
        "LICENSE-APACHE.txt",
        "LICENSE-MIT.txt",
        "README.txt",
        "dockvm.exe",
        "dockvm.ps1",
        "dockvmw.exe",
    ]
    .iter()
    .map(|f| format!("{top}/{f}"))
    .collect();
    assert_eq!(names, want);
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    for (f, source) in [
        ("README.txt", Some("README.md")),
        ("LICENSE-MIT.txt", Some("LICENSE-MIT")),
        ("LICENSE-APACHE.txt", Some("LICENSE-APACHE")),
        ("dockvm.ps1", None),
    ] {
        let text = std::fs::read_to_string(dir.join(&top).join(f)).unwrap();
        let lines = text.split_inclusive('\n').count();
        assert!(lines > 5, "{f}");
        assert!(
            text.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
            "{f}: a line without CRLF"
        );
        if let Some(s) = source {
            let original = std::fs::read_to_string(root.join(s)).unwrap();
            assert_eq!(text.replace("\r\n", "\n"), original, "{f} is {s} with CRLF");
        }
    }
    // The PowerShell completion is the one `dockvm completions powershell` prints.
    let ps = run(dockvm().args(["completions", "powershell"]));
    let zipped = std::fs::read_to_string(dir.join(&top).join("dockvm.ps1")).unwrap();
    assert_eq!(
        zipped.replace("\r\n", "\n"),
        String::from_utf8_lossy(&ps.stdout)
    );
    // dockvm.exe from the zip runs and says what it is.
    use support::wine::{dockvm_exe, wine_here};
    if !wine_here() {
        return;
    }
    // Beside it, the bcryptprimitives.dll stand-in Wine 8 lacks (tests/support/wine.rs).
    let exe_dir = dir.join(&top);
    let dll = dockvm_exe().with_file_name("bcryptprimitives.dll");
    std::fs::copy(dll, exe_dir.join("bcryptprimitives.dll")).unwrap();
    let w = support::wine::Wine::new();
    let facts = built_facts();
    let short = &facts["commit"].as_str().unwrap()[..12];
    // What the Run value needs from the zip: dockvmw.exe, a GUI-subsystem program (binutils
    // reads its header), the same build as dockvm.exe, a console one.
    for (exe, subsystem) in [("dockvm.exe", 3), ("dockvmw.exe", 2)] {
        assert_eq!(
            support::wine::pe_subsystem(&exe_dir.join(exe)),
            subsystem,
            "{exe}"
        );
        let out = w.run(&[exe_dir.join(exe).as_str(), "--version"]);
        assert!(out.status.success(), "{exe}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            format!("dockvm {version} (commit {short}, x86_64-pc-windows-gnu)"),
            "{exe}"
        );
    }
}

/// The .deb in the booted lab VM, as the README says: installed with apt from the share, its
/// man pages read by man, its bash completion loaded by bash-completion, its binary installing
/// the VM side, and `apt remove` leaving none of its files.
#[test]
fn the_deb_installs_works_and_goes_in_the_booted_vm() {
    if !require_root_and(&["ip", "nsenter", "systemd-nspawn", "mmdebstrap", "busybox"]) {
        return;
    }
    let Some(deb) = dist_file("dockvm_", "_amd64.deb") else {
        return;
    };
    let facts = built_facts();
    let lab = Lab::up_booted("pkg", SPEC, false);
    let pkgdir = format!("{}/windows-d/projects/dotfiles/pkg", lab.dir());
    std::fs::create_dir_all(&pkgdir).unwrap();
    std::fs::copy(&deb, format!("{pkgdir}/{}", deb.file_name().unwrap())).unwrap();
    let name = deb.file_name().unwrap().to_owned();
    // The share mounted by hand the first time, as the README's VM row says.
    let script = format!(
        r#"set -e
mkdir -p /run/s && vmhgfs-fuse .host:/d /run/s
apt-get install -y -q /run/s/dotfiles/pkg/{name} >/tmp/apt.log 2>&1 || {{ cat /tmp/apt.log; exit 1; }}
cp /run/s/dotfiles/pkg/{name} /root/
"#
    );
    lab.lab_ok("vm", &["sh", "-c", &script]);
    let version = lab.lab_ok("vm", &["dockvm", "--version"]);
    assert_eq!(
        version.trim(),
        format!(
            "dockvm {} (commit {}, x86_64-unknown-linux-musl)",
            facts["version"].as_str().unwrap(),
            &facts["commit"].as_str().unwrap()[..12]
        )
    );
    let json = lab.lab_ok("vm", &["dockvm", "version", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["commit"], facts["commit"]);
    // man finds the pages by name and renders each without a warning.
    let man = lab.lab_ok(
        "vm",
        &[
            "sh",
            "-c",
            r#"set -e
for p in /usr/share/man/man1/dockvm*.1.gz; do
  w=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
  [ -z "$w" ] || { echo "WARN $p: $w"; exit 1; }
done
MANWIDTH=80 man dockvm-verify | head -5"#,
        ],
    );
    assert!(man.contains("dockvm-verify"), "{man}");
    // bash-completion's loader finds the file by the command's name; `dockvm ver<TAB>`.
    let completion = lab.lab_ok(
        "vm",
        &[
            "bash",
            "-c",
            r#". /usr/share/bash-completion/bash_completion
__load_completion dockvm || exit 1
f=$(complete -p dockvm | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
COMP_WORDS=(dockvm ver); COMP_CWORD=1; COMP_LINE="dockvm ver"; COMP_POINT=${#COMP_LINE}
"$f" dockvm ver dockvm
printf '%s\n' "${COMPREPLY[@]}""#,
        ],
    );
    let words: Vec<&str> = completion.lines().collect();
    assert!(
        words.contains(&"version") && words.contains(&"verify"),
        "{completion}"
    );
    // The packaged binary installs the VM side (and takes it off again).
    let install = lab.lab_ok(
        "vm",
        &[
            "sh",
            "-c",
            "cd / && dockvm install --side vm --from /run/s/dotfiles/generated",
        ],
    );
    assert!(
        install.contains("ran systemctl daemon-reload") && install.contains("restart docker"),
        "{install}"
    );
    assert_eq!(
        lab.lab_ok("vm", &["systemctl", "is-active", "docker"])
            .trim(),
        "active"
    );
    lab.lab_ok(
        "vm",
        &[
            "sh",
            "-c",
            "cd / && dockvm uninstall --side vm --from /run/s/dotfiles/generated && umount -l /run/s",
        ],
    );
    // apt remove: every file dpkg listed is gone, and dpkg knows the package no more.
    let listed = lab.lab_ok("vm", &["dpkg", "-L", "dockvm"]);
    assert!(listed.lines().any(|l| l == "/usr/bin/dockvm"), "{listed}");
    lab.lab_ok(
        "vm",
        &[
            "sh",
            "-c",
            "apt-get remove -y -q dockvm >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }",
        ],
    );
    let left = lab.lab_ok(
        "vm",
        &[
            "sh",
            "-c",
            r#"dpkg -L dockvm 2>/dev/null; for f in "$@"; do [ -f "$f" ] || [ -L "$f" ] && echo "LEFT $f"; done; [ -d /usr/share/doc/dockvm ] && echo "LEFT /usr/share/doc/dockvm"; true"#,
            "sh",
        ]
        .into_iter()
        .chain(listed.lines())
        .collect::<Vec<&str>>(),
    );
    assert!(!left.contains("LEFT"), "after apt remove:\n{left}");
    assert!(
        !lab.lab("vm", &["dpkg", "-s", "dockvm"]).status.success(),
        "dpkg still knows dockvm"
    );
}

//! `dockvm.exe install` (under Wine 8, a fresh prefix) on the Windows files users really have:
//! hosts files in each encoding Windows users meet, Path values naming docker_dir in another
//! spelling, and a hosts file held open by another program. Every round trip is byte for byte.

mod support;

use camino::Utf8PathBuf;
use std::fs;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::wine::*;
use support::*;

const SPEC: &str = r#"
[vm]
name = "files"
vmx = 'D:\vm\files.vmx'
ip = "192.168.130.2"

[windows]
docker_dir = 'C:\Program Files\Docker'

[[shares]]
name = "d"
host_path = 'D:\'
"#;

const ENV: &str = r"HKCU\Environment";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn can_run() -> bool {
    require(
        have(WINE) && have(MINGW) && have("python3"),
        "needs wine64, mingw-w64 and python3 (ci/install-deps installs them)",
    )
}

/// dockvm.exe, a fresh prefix and the generated tree (kept by the TempDir).
fn setup() -> (Utf8PathBuf, Wine, tempfile::TempDir, String) {
    let exe = dockvm_exe();
    let wine = Wine::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    fs::write(dir.join("dockvm.toml"), SPEC).unwrap();
    let out = run(support::dockvm()
        .args(["gen", "--spec"])
        .arg(dir.join("dockvm.toml"))
        .arg("--out")
        .arg(dir.join("gen")));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from = Wine::win(&dir.join("gen"));
    (exe, wine, tmp, from)
}

fn dockvm(wine: &Wine, exe: &Utf8PathBuf, args: &[&str]) -> Output {
    wine.output(wine.cmd().arg(exe.as_str()).args(args))
}

/// Python's decoding of `bytes` with `codec`.
fn decode(bytes: &[u8], codec: &str) -> String {
    let t = tempfile::NamedTempFile::new().unwrap();
    fs::write(t.path(), bytes).unwrap();
    let out = run(Command::new("python3").args([
        "-c",
        "import sys; sys.stdout.write(open(sys.argv[1], 'rb').read().decode(sys.argv[2]))",
        t.path().to_str().unwrap(),
        codec,
    ]));
    assert!(out.status.success(), "{codec}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn encode(s: &str, codec: &str) -> Vec<u8> {
    let out = run(Command::new("python3").args([
        "-c",
        "import sys; sys.stdout.buffer.write(sys.argv[1].encode(sys.argv[2]))",
        s,
        codec,
    ]));
    assert!(out.status.success(), "{codec}: {}", text(&out.stderr));
    out.stdout
}

/// hosts as UTF-16 (LE and BE, with a BOM, CRLF, a Chinese comment) is refused with nothing
/// changed; UTF-8 with a BOM and GBK get the block, which their own decoder reads back, and
/// uninstall gives the bytes back.
#[test]
fn hosts_in_each_encoding_is_edited_in_it_or_refused_unchanged() {
    if !can_run() {
        return;
    }
    let (exe, wine, _tmp, from) = setup();
    let lines = "127.0.0.1 localhost\r\n# 张伟的开发机 hosts\r\n10.0.0.5 nas.home\r\n";
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "UTF-16 LE",
            [&[0xFF, 0xFE][..], &encode(lines, "utf-16-le")].concat(),
            None,
        ),
        (
            "UTF-16 BE",
            [&[0xFE, 0xFF][..], &encode(lines, "utf-16-be")].concat(),
            None,
        ),
        (
            "UTF-8 with a BOM",
            encode(lines, "utf-8-sig"),
            Some("utf-8-sig"),
        ),
        ("GBK", encode(lines, "gbk"), Some("gbk")),
    ];
    for (what, bytes, codec) in cases {
        fs::write(wine.hosts(), &bytes).unwrap();
        let env_before = wine.export(ENV);
        let out = dockvm(&wine, &exe, &["install", "--from", &from]);
        match codec {
            None => {
                assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out.stdout));
                let err = text(&out.stderr);
                assert!(
                    err.contains(what)
                        && err.contains("Save it as UTF-8")
                        && err.contains("Nothing was changed"),
                    "{what}: {err}"
                );
                assert_eq!(
                    fs::read(wine.hosts()).unwrap(),
                    bytes,
                    "{what}: hosts changed"
                );
                assert_eq!(wine.export(ENV), env_before, "{what}: the registry changed");
                let app = wine.drive_c(&format!(r"{}\AppData\Local\dockvm", user_profile()));
                assert!(!app.exists(), "{what}: {app} was made");
            }
            Some(codec) => {
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{what}: {}{}",
                    text(&out.stdout),
                    text(&out.stderr)
                );
                let after = fs::read(wine.hosts()).unwrap();
                assert!(
                    after.starts_with(&bytes),
                    "{what}: the user's bytes are kept"
                );
                let read = decode(&after, codec);
                assert!(read.starts_with(lines), "{what}: {read}");
                assert!(
                    read.contains("# BEGIN dockvm files\r\n192.168.130.2 local.test")
                        && read.contains("# END dockvm files\r\n"),
                    "{what}: {read}"
                );
                let out = dockvm(&wine, &exe, &["uninstall", "--from", &from]);
                assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
                assert_eq!(
                    fs::read(wine.hosts()).unwrap(),
                    bytes,
                    "{what}: not given back"
                );
                assert_eq!(wine.export(ENV), env_before, "{what}");
            }
        }
    }
}

/// Path values that already name docker_dir in another spelling get no second entry, and
/// uninstall gives each value back exactly; a `%...%` entry in REG_SZ names nothing, so the
/// real folder is added once.
#[test]
fn path_entries_in_other_spellings_are_found_and_the_value_kept() {
    if !can_run() {
        return;
    }
    let (exe, wine, _tmp, from) = setup();
    fs::create_dir_all(wine.drive_c(r"C:\Program Files\Docker")).unwrap();
    // Does Wine resolve 8.3 names? (it makes them for existing folders, as Windows does)
    let short = text(
        &wine
            .run(&["cmd", "/c", r"for %I in (C:\PROGRA~1\Docker) do @echo %~fI"])
            .stdout,
    );
    let wine_has_short_names = short
        .trim()
        .eq_ignore_ascii_case(r"C:\Program Files\Docker");
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("REG_EXPAND_SZ", r"%ProgramFiles%\Docker;C:\x", None),
        ("REG_EXPAND_SZ", r#""C:\Program Files\Docker";C:\x;;"#, None),
        ("REG_SZ", r#""C:\Program Files\Docker";C:\x;;"#, None),
        ("REG_EXPAND_SZ", r"C:\x;C:\Program Files\.\Docker\", None),
        ("REG_EXPAND_SZ", r"C:\x;C:\PROGRA~1\Docker", None),
        (
            "REG_SZ",
            r"C:\x;%ProgramFiles%\Docker",
            Some(r"C:\x;%ProgramFiles%\Docker;C:\Program Files\Docker"),
        ),
    ];
    for (kind, value, added) in cases {
        if value.contains('~') && !wine_has_short_names {
            // Wine 8 resolves no 8.3 name: the comparison rule for this entry is
            // dockvm-platform's unit test an_8_3_entry_names_the_long_folder_it_resolves_to,
            // with a resolver standing in for GetLongPathNameW. Here it runs only where Wine can.
            eprintln!(
                "Wine does not resolve 8.3 names here ({short:?}): {value} is the unit test's"
            );
            continue;
        }
        let o = wine.run(&[
            "reg", "add", ENV, "/v", "Path", "/t", kind, "/d", value, "/f",
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let before = wine.export(ENV);
        let out = dockvm(&wine, &exe, &["install", "--from", &from]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{value}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let q = text(&wine.run(&["reg", "query", ENV, "/v", "Path"]).stdout);
        let got = q
            .lines()
            .find_map(|l| {
                l.split_once(&format!("{kind}    "))
                    .map(|(_, v)| v.trim_end().to_owned())
            })
            .unwrap_or_else(|| panic!("{value}: no {kind} Path: {q}"));
        assert_eq!(got, added.unwrap_or(value), "{kind} {value}");
        // A second install adds nothing more.
        let again = dockvm(&wine, &exe, &["install", "--from", &from]);
        assert!(
            text(&again.stdout).contains("0 changed"),
            "{value}: {}",
            text(&again.stdout)
        );
        let out = dockvm(&wine, &exe, &["uninstall", "--from", &from]);
        assert_eq!(out.status.code(), Some(0), "{value}: {}", text(&out.stderr));
        assert_eq!(wine.export(ENV), before, "{kind} {value}: not given back");
    }
}

/// A hosts file held open without sharing: install exits 3 saying which file, who may hold
/// it and that nothing changed; once the holder is gone, install completes.
#[test]
fn a_hosts_file_held_open_is_named_and_nothing_changes() {
    if !can_run() {
        return;
    }
    let (exe, wine, tmp, from) = setup();
    let dir = utf8_dir(&tmp);
    let holder = dir.join("hold-file.exe");
    let cc = run(Command::new(MINGW).args([
        "-municode",
        "-O2",
        "-o",
        holder.as_str(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hold-file.c"),
    ]));
    assert!(cc.status.success(), "{}", text(&cc.stderr));
    let hosts_before = b"127.0.0.1 localhost\r\n".to_vec();
    fs::write(wine.hosts(), &hosts_before).unwrap();
    let env_before = wine.export(ENV);
    let (ready, release) = (dir.join("ready"), dir.join("release"));
    let mut held = wine
        .cmd()
        .args([
            holder.as_str(),
            r"C:\windows\system32\drivers\etc\hosts",
            &Wine::win(&ready),
            &Wine::win(&release),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !ready.exists() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready.exists(), "the holder did not open hosts");
    let out = dockvm(&wine, &exe, &["install", "--from", &from]);
    let err = text(&out.stderr);
    fs::write(&release, "").unwrap();
    let _ = held.wait();
    assert_eq!(out.status.code(), Some(3), "{}{err}", text(&out.stdout));
    assert!(
        err.contains("hosts is open in another program")
            && err.contains("antivirus")
            && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(
        err.matches("os error 32").count(),
        1,
        "the OS error once: {err}"
    );
    assert_eq!(fs::read(wine.hosts()).unwrap(), hosts_before);
    assert_eq!(wine.export(ENV), env_before);
    // The holder gone, the same command completes.
    let out = dockvm(&wine, &exe, &["install", "--from", &from]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&fs::read(wine.hosts()).unwrap()).contains("# BEGIN dockvm files"));
}

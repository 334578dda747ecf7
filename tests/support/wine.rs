//! Wine (Debian's wine64 8.0) for the tests: a prefix of the test's own, and `dockvm.exe`
//! cross-compiled for it.

use super::{have, run, utf8_dir};
use camino::{Utf8Path, Utf8PathBuf};
use std::process::Command;

pub const WINE: &str = "/usr/lib/wine/wine64";
pub const MINGW: &str = "x86_64-w64-mingw32-gcc";

/// `%USERPROFILE%` in a Wine prefix: `C:\users\<the Unix user>` (root in CI; a developer's own
/// name when the tests run without root).
pub fn user_profile() -> String {
    let out = run(Command::new("id").arg("-un"));
    format!(r"C:\users\{}", String::from_utf8_lossy(&out.stdout).trim())
}

/// A Wine prefix of the test's own, removed (and its wineserver stopped) on drop.
pub struct Wine {
    _tmp: tempfile::TempDir,
    pub dir: Utf8PathBuf,
}

impl Wine {
    pub fn new() -> Wine {
        let tmp = tempfile::tempdir().unwrap();
        let dir = utf8_dir(&tmp);
        let w = Wine { _tmp: tmp, dir };
        // One wineserver for the prefix, kept until drop.
        std::fs::create_dir_all(w.prefix()).unwrap();
        let server = Command::new("/usr/lib/wine/wineserver")
            .env("WINEPREFIX", w.prefix())
            .arg("-p")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("wineserver starts");
        assert!(server.success(), "wineserver -p: {server}");
        // Wine 8's prefix creation has failed once in CI (wineboot exiting non-zero after
        // "configuration ... has been updated", with four prefixes being made on two cores);
        // a second wineboot of the same prefix finishes it. What the first said is kept.
        let mut out = w.run(&["wineboot", "-i"]);
        if !out.status.success() {
            eprintln!(
                "wineboot failed ({}), once more: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            out = w.run(&["wineboot", "-i"]);
        }
        assert!(
            out.status.success(),
            "wineboot ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        w
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(WINE);
        c.env("WINEPREFIX", self.prefix())
            // Wine turns argv into UTF-16 by the Unix locale: non-ASCII values (a Chinese folder
            // in `reg add`) need a UTF-8 one, whatever the caller's is.
            .env("LC_ALL", "C.UTF-8")
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko downloads: there is no network, and nothing here needs them.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        c
    }

    pub fn prefix(&self) -> Utf8PathBuf {
        self.dir.join("prefix")
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.output(self.cmd().args(args))
    }

    /// Runs a command of this prefix and returns its output, captured through files: the
    /// Wine services a call starts (winedevice.exe, ...) inherit its stdout and outlive it, so
    /// waiting for a pipe's end would wait for them (seconds each, or for ever with a
    /// persistent wineserver). Only the `wine` process itself is waited for.
    pub fn output(&self, cmd: &mut Command) -> std::process::Output {
        super::output_via_files(cmd)
    }

    /// The Windows path (drive Z: is /) of a host path.
    pub fn win(p: &Utf8Path) -> String {
        format!("Z:{}", p.as_str().replace('/', "\\"))
    }

    /// The host folder behind a path in the prefix's drive C:.
    pub fn drive_c(&self, windows_path: &str) -> Utf8PathBuf {
        let rest = windows_path
            .strip_prefix(r"C:\")
            .or_else(|| windows_path.strip_prefix(r"c:\"))
            .expect("a C: path");
        self.dir
            .join("prefix/drive_c")
            .join(rest.replace('\\', "/"))
    }

    /// The prefix's hosts file (`%SystemRoot%\System32\drivers\etc\hosts`).
    pub fn hosts(&self) -> Utf8PathBuf {
        self.drive_c(r"C:\windows\system32\drivers\etc\hosts")
    }

    /// `reg export KEY` as the .reg text regedit writes (UTF-16LE decoded): every value with
    /// its exact type and bytes, for comparing the registry before and after. A key that does
    /// not exist is `(no key)`, told apart from an empty one; any other failure of reg fails
    /// the test, so that no comparison built on it compares nothing.
    pub fn export(&self, key: &str) -> String {
        let file = self.dir.join("export.reg");
        let _ = std::fs::remove_file(&file);
        let out = self.run(&["reg", "export", key, &Wine::win(&file), "/y"]);
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            let missing = self.run(&["reg", "query", key]);
            assert!(
                !missing.status.success()
                    && String::from_utf8_lossy(&missing.stderr).contains("Unable to find"),
                "reg export {key} failed ({}): {said}",
                out.status
            );
            return "(no key)".into();
        }
        let bytes = std::fs::read(&file).unwrap();
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        // Long hex values are wrapped (`,\` CRLF and two spaces): joined again, so a value's
        // bytes read as one run.
        String::from_utf16(&units)
            .unwrap()
            .replace(",\\\r\n  ", ",")
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let _ = run(Command::new("/usr/lib/wine/wineserver")
            .env("WINEPREFIX", self.prefix())
            .arg("-k"));
    }
}

/// Whether Wine and mingw-w64 are here (ci/install-deps installs them); a skip, said, if not.
pub fn wine_here() -> bool {
    super::require(
        have(WINE) && have(MINGW),
        "needs wine64 and mingw-w64 (ci/install-deps installs them)",
    )
}

/// `dockvm.exe` (and `dockvmw.exe` beside it), cross-compiled from this checkout (x86_64-pc-windows-gnu, mingw-w64 linker),
/// in a folder beside the stand-in `bcryptprimitives.dll` that Wine 8.0 lacks (see
/// `tests/fixtures/bcryptprimitives.c`; real Windows 10+ has the DLL). Built once per test
/// binary; cargo makes it incremental.
pub fn dockvm_exe() -> Utf8PathBuf {
    static EXE: std::sync::OnceLock<Utf8PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = run(Command::new(cargo).current_dir(root).args([
            "build",
            "--quiet",
            "--locked",
            "--bins",
            "--target",
            "x86_64-pc-windows-gnu",
        ]));
        assert!(
            out.status.success(),
            "cargo build --target x86_64-pc-windows-gnu: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(Utf8PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        let built = target.join("x86_64-pc-windows-gnu/debug/dockvm.exe");
        let dir = target.join("wine-bin");
        std::fs::create_dir_all(&dir).unwrap();
        let dll = run(Command::new(MINGW).args([
            "-shared",
            "-o",
            dir.join("bcryptprimitives.dll").as_str(),
            root.join("tests/fixtures/bcryptprimitives.c").as_str(),
            root.join("tests/fixtures/bcryptprimitives.def").as_str(),
            "-ladvapi32",
        ]));
        assert!(
            dll.status.success(),
            "{}",
            String::from_utf8_lossy(&dll.stderr)
        );
        std::fs::copy(&built, dir.join("dockvm.exe")).unwrap();
        // Its windowless twin beside it, as the zip has it (autostart copies it from there).
        let twin = built.with_file_name("dockvmw.exe");
        if twin.exists() {
            std::fs::copy(&twin, dir.join("dockvmw.exe")).unwrap();
        }
        dir.join("dockvm.exe")
    })
    .clone()
}

/// The `Subsystem` of a PE image's optional header as binutils reads it (2 Windows GUI, 3
/// console): an oracle independent of dockvm's own reader.
pub fn pe_subsystem(image: &Utf8Path) -> u32 {
    let out = run(Command::new("x86_64-w64-mingw32-objdump")
        .arg("-p")
        .arg(image));
    assert!(
        out.status.success(),
        "objdump -p {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("Subsystem"))
                .then(|| w.next().and_then(|v| u32::from_str_radix(v, 16).ok()))?
        })
        .unwrap_or_else(|| panic!("objdump found no Subsystem in {image}"))
}

//! INSTALL.md's by-hand PowerShell snippet for the Windows hosts file, run through its .NET
//! calls under Mono's C# shell (Debian's mono-csharp-shell; PowerShell is not packaged for
//! Debian, and the snippet is a thin layer over these calls). The regular expression is taken
//! from the generated INSTALL.md as it is, so the pattern tested is the pattern shipped.

mod support;

use camino::Utf8Path;
use std::fs;
use std::process::Command;
use support::*;

/// A user's hosts file: a UTF-8 BOM, a GBK comment, a UTF-8 comment, no final newline.
const HOSTS: &[u8] = b"\xef\xbb\xbf127.0.0.1 localhost\r\n# \xd5\xc5\xce\xb0\r\n# \xe5\xbc\xa0\xe4\xbc\x9f\r\n::1 localhost";

fn install_md() -> String {
    let spec = dockvm_spec::load_str("default", dockvm_spec::DEFAULT_SPEC)
        .unwrap()
        .spec;
    let arts = dockvm_gen::render(&spec).unwrap();
    let md = arts.iter().find(|a| a.path == "INSTALL.md").unwrap();
    String::from_utf8(md.bytes.clone()).unwrap()
}

/// The snippet's lines, checked to use exactly the calls the C# below makes.
fn pattern_from(md: &str) -> String {
    let start = md.find("$hosts = ").expect("the hosts snippet");
    let snippet = &md[start..start + md[start..].find("```").unwrap()];
    for call in [
        "[Text.Encoding]::GetEncoding(28591)",
        "$latin1.GetString([IO.File]::ReadAllBytes($hosts))",
        "[regex]::Replace($old, '",
        "if ($kept.Length -gt 0 -and -not $kept.EndsWith(\"`n\")) { $kept += \"`r`n\" }",
        "[IO.File]::WriteAllBytes($hosts, [byte[]]($latin1.GetBytes($kept) + [IO.File]::ReadAllBytes(",
    ] {
        assert!(
            snippet.contains(call),
            "the snippet no longer has {call}:\n{snippet}"
        );
    }
    assert!(
        !snippet.contains("ReadAllText"),
        "ReadAllText detects and drops a BOM"
    );
    let from = snippet.find("[regex]::Replace($old, '").unwrap() + "[regex]::Replace($old, '".len();
    snippet[from..from + snippet[from..].find('\'').unwrap()].to_owned()
}

/// Runs C# statements with Mono's `csharp` shell.
fn csharp(code: &str, dir: &Utf8Path) -> std::process::Output {
    let file = dir.join("snippet.cs");
    fs::write(&file, code).unwrap();
    run(Command::new("csharp").arg(file.as_str()))
}

/// The snippet's install (`with_block`) or undo, as C#: PowerShell's single-quoted pattern is a
/// C# verbatim string as it is (it holds no `"`).
fn snippet(hosts: &Utf8Path, block: &Utf8Path, pattern: &str, with_block: bool) -> String {
    let add = if with_block {
        format!(
            r#"var b = File.ReadAllBytes(@"{block}"); var all = new byte[k.Length + b.Length]; k.CopyTo(all, 0); b.CopyTo(all, k.Length); File.WriteAllBytes(hosts, all);"#
        )
    } else {
        "File.WriteAllBytes(hosts, k);".to_owned()
    };
    format!(
        r#"using System; using System.IO; using System.Text; using System.Text.RegularExpressions;
var hosts = @"{hosts}";
var latin1 = Encoding.GetEncoding(28591);
var old = latin1.GetString(File.ReadAllBytes(hosts));
var kept = Regex.Replace(old, @"{pattern}", "");
if (kept.Length > 0 && !kept.EndsWith("\n")) {{ kept += "\r\n"; }}
var k = latin1.GetBytes(kept);
{add}
"#
    )
}

#[test]
fn the_hosts_snippet_keeps_every_byte_of_the_other_lines() {
    if !require(
        have("csharp"),
        "needs Mono's csharp (ci/install-deps installs mono-csharp-shell)",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    let pattern = pattern_from(&install_md());
    let hosts = dir.join("hosts");
    let block = dir.join("hosts.txt");
    let block_bytes = b"# BEGIN dockvm dev\r\n192.168.130.2 local.test\r\n# END dockvm dev\r\n";
    fs::write(&block, block_bytes).unwrap();
    fs::write(&hosts, HOSTS).unwrap();
    let want = [HOSTS, b"\r\n", block_bytes].concat();
    for round in 0..2 {
        let out = csharp(&snippet(&hosts, &block, &pattern, true), &dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read(&hosts).unwrap(),
            want,
            "round {round}: bytes changed"
        );
    }
    let out = csharp(&snippet(&hosts, &block, &pattern, false), &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read(&hosts).unwrap(), [HOSTS, b"\r\n"].concat());
}

/// Regression: the snippet before this one read with ReadAllText (UTF-8, BOM dropped) and wrote
/// with ASCII, turning every non-ASCII byte of every other line into `?`.
#[test]
fn the_old_hosts_snippet_destroyed_non_ascii_lines() {
    if !require(
        have("csharp"),
        "needs Mono's csharp (ci/install-deps installs mono-csharp-shell)",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&tmp);
    let hosts = dir.join("hosts");
    fs::write(&hosts, HOSTS).unwrap();
    let out = csharp(
        &format!(
            r#"using System.IO; using System.Text;
var h = @"{hosts}";
File.WriteAllText(h, File.ReadAllText(h), Encoding.ASCII);
"#
        ),
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = fs::read(&hosts).unwrap();
    assert_ne!(after, HOSTS);
    assert!(
        !after.windows(2).any(|w| w == b"\xd5\xc5"),
        "the GBK comment survived"
    );
}

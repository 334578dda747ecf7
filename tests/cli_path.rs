//! `dockvm path` as a shell uses it: `"$(dockvm path ...)"` in bash, from a folder inside a
//! share and from one outside, with a space and Chinese characters in the names.

mod support;

use std::process::Command;
use support::*;

#[test]
fn paths_translate_both_ways_in_a_shell_and_outside_a_share_is_exit_2() {
    if !require(have("bash"), "needs bash") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = utf8_dir(&t);
    let folder = root.join("d/项目/a b");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    let spec = root.join("dockvm.toml");
    std::fs::write(
        &spec,
        format!(
            "[vm]\nvmx = 'D:\\v.vmx'\nip = \"192.168.130.2\"\n[wsl]\nautomount_root = \"{root}/\"\n\
             [[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n"
        ),
    )
    .unwrap();
    let bash = |dir: &camino::Utf8Path, script: &str| {
        run(Command::new("bash")
            .current_dir(dir)
            .env("DOCKVM", env!("CARGO_BIN_EXE_dockvm"))
            .env("SPEC", spec.as_str())
            .args(["-c", script]))
    };
    // From inside the share: `.` is the Windows folder; its WSL form is this folder again.
    let out = bash(
        &folder,
        r#"w=$("$DOCKVM" path --spec "$SPEC" .) && echo "$w" && test "$("$DOCKVM" path --spec "$SPEC" "$w")" = "$PWD" && "$DOCKVM" path --spec "$SPEC" --to compose "$w""#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "D:\\项目\\a b\n/d/项目/a b\n"
    );
    // Outside every share: exit 2, naming the shares, nothing on stdout.
    let out = bash(&root.join("outside"), r#""$DOCKVM" path --spec "$SPEC" ."#);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("not inside a share of the spec; the shares are D:\\ (") && e.contains("/d)"),
        "{e}"
    );
}

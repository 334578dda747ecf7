//! The command line as users meet it: every command's `--help` has an example, and the
//! completion scripts work in their shell (bash here: `bash -n`, then real completions).

mod support;

use std::process::Command;
use support::*;

const COMMANDS: &[&str] = &[
    "init",
    "gen",
    "install",
    "uninstall",
    "verify",
    "certs",
    "clean",
    "path",
    "env",
    "schema",
    "completions",
];

#[test]
fn every_command_s_help_has_an_example() {
    for c in COMMANDS {
        let out = run(dockvm().args([c, "--help"]));
        assert!(out.status.success(), "{c}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("\nExample:\n") || text.contains("\nExamples:\n"),
            "{c} --help has no example:\n{text}"
        );
    }
    // And the list of commands names them all.
    let out = run(dockvm().arg("--help"));
    let text = String::from_utf8_lossy(&out.stdout);
    for c in COMMANDS {
        assert!(
            text.contains(&format!("\n  {c} ")),
            "{c} missing from --help:\n{text}"
        );
    }
}

/// `dockvm --help` lists the commands as a user's day goes: set up, the daily loop, checks,
/// helpers (they came in no evident order: `gen` before `init`, `up` after `schema`).
#[test]
fn help_lists_the_commands_in_the_order_of_a_user_s_day() {
    let out = run(dockvm().arg("--help"));
    let text = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = text
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands: section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        listed,
        [
            "init",
            "gen",
            "certs",
            "install",
            "uninstall", // set up
            "up",
            "status",
            "down", // the daily loop
            "verify",
            "clean", // checks
            "env",
            "path",
            "proxy",
            "completions",
            "man",
            "schema",
            "version", // helpers
            "help",
        ],
        "{text}"
    );
}

#[test]
fn completion_scripts_are_made_and_bash_completes_commands_and_options() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(dockvm().args(["completions", shell]));
        assert!(out.status.success() && out.stdout.len() > 500, "{shell}");
    }
    if !require(have("bash"), "needs bash") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let script = utf8_dir(&t).join("dockvm.bash");
    std::fs::write(&script, run(dockvm().args(["completions", "bash"])).stdout).unwrap();
    let syntax = run(Command::new("bash").args(["-n", script.as_str()]));
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // What bash offers for a partial word, as it calls the completion function.
    let complete = |words: &[&str]| {
        let cword = words.len() - 1;
        let script_text = format!(
            "source '{script}'; COMP_WORDS=({}); COMP_CWORD={cword}; _dockvm dockvm '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words[cword],
            words[cword - 1],
        );
        let out = run(Command::new("bash").args(["-c", &script_text]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(complete(&["dockvm", "ver"]), "verify\nversion\n");
    assert_eq!(complete(&["dockvm", "vers"]), "version\n");
    assert_eq!(complete(&["dockvm", "ma"]), "man\n");
    assert_eq!(complete(&["dockvm", "cer"]), "certs\n");
    assert_eq!(complete(&["dockvm", "verify", "--for"]), "--format\n");
    assert!(complete(&["dockvm", "install", "--si"]).contains("--side"));
}

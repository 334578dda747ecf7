//! `dockvm env` read back by the shells that apply it: bash and dash (`eval "$(...)"`), fish
//! (`eval (...)`), and Wine's cmd (the `FOR /f` form, with dockvm.exe). Each reads back values
//! with characters its quoting must carry: a home folder with a quote, `$`, spaces, `&`, `%`,
//! parentheses. PowerShell does not run here (Debian has no package): its lines are the same
//! single-quote encoder as the generated .ps1, tested there.

mod support;

use std::process::Command;
use support::wine::*;
use support::*;

const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tls.toml");
const PLAIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/default.toml");

/// Runs `script` in `shell` with `HOME`, dockvm as `$D`.
fn sh(shell: &str, home: &str, script: &str) -> String {
    let out = run(Command::new(shell)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("D", env!("CARGO_BIN_EXE_dockvm"))
        .env("TLS", TLS)
        .env("PLAIN", PLAIN)
        .args(["-c", script]));
    assert!(
        out.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const HOME: &str = "/tmp/it's a $HOME \"dir\" 张";

#[test]
fn bash_and_dash_eval_the_variables_and_unset_them() {
    for shell in ["bash", "dash"] {
        if !require(have(shell), &format!("needs {shell}")) {
            continue;
        }
        let set = sh(
            shell,
            HOME,
            r#"eval "$("$D" env --spec "$TLS")"; printf '%s|' "$DOCKER_HOST" "$DOCKER_TLS_VERIFY" "$DOCKER_CERT_PATH""#,
        );
        assert_eq!(
            set,
            format!("tcp://docker.local.test:2376|1|{HOME}/.docker/dockvm-secure|"),
            "{shell}"
        );
        // --unset, and a plain spec clears the TLS variables a TLS setup left.
        let unset = sh(
            shell,
            HOME,
            r#"eval "$("$D" env --spec "$TLS")"; eval "$("$D" env --spec "$TLS" --unset)"; printf '%s|' "${DOCKER_HOST-unset}" "${DOCKER_TLS_VERIFY-unset}""#,
        );
        assert_eq!(unset, "unset|unset|", "{shell}");
        let plain = sh(
            shell,
            HOME,
            r#"eval "$("$D" env --spec "$TLS")"; eval "$("$D" env --spec "$PLAIN")"; printf '%s|' "$DOCKER_HOST" "${DOCKER_TLS_VERIFY-unset}" "${DOCKER_CERT_PATH-unset}""#,
        );
        assert_eq!(plain, "tcp://local.test:2375|unset|unset|", "{shell}");
    }
}

#[test]
fn fish_evals_the_variables() {
    if !require(have("fish"), "needs fish (ci/install-deps installs it)") {
        return;
    }
    let out = sh(
        "fish",
        HOME,
        r#"eval ($D env --spec $TLS --shell fish); printf '%s|' $DOCKER_HOST $DOCKER_TLS_VERIFY $DOCKER_CERT_PATH; eval ($D env --spec $TLS --shell fish --unset); set -q DOCKER_HOST; or printf 'unset'"#,
    );
    assert_eq!(
        out,
        format!("tcp://docker.local.test:2376|1|{HOME}/.docker/dockvm-secure|unset")
    );
}

/// cmd applies the lines `dockvm.exe env --shell cmd` prints. Wine 8's cmd cannot run a
/// builtin through `FOR /f ... DO @%i` (it answers "Can't recognize 'SET ...' as an internal or
/// external command"), so the lines go to cmd's prompt instead (its stdin): the same parser of
/// one command line, where `&`, parentheses and a lone `%` inside the quotes stay as written.
#[test]
fn cmd_under_wine_applies_the_lines() {
    if !wine_here() {
        return;
    }
    let exe = dockvm_exe();
    let wine = Wine::new();
    let dir = wine.dir.join("env");
    std::fs::create_dir_all(&dir).unwrap();
    let at_prompt = |name: &str, lines: &str| {
        let input = dir.join(name);
        std::fs::write(&input, format!("{lines}exit\r\n")).unwrap();
        // Output through a file (Wine's services inherit a pipe and outlive the call).
        let out = dir.join(format!("{name}.out"));
        let status = wine
            .cmd()
            .arg("cmd")
            .stdin(std::fs::File::open(&input).unwrap())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{name}");
        std::fs::read_to_string(&out).unwrap().replace('\r', "")
    };
    // dockvm.exe for a user whose profile folder is `C:\Users\a & b 100% (x) it's`.
    let script = dir.join("env.txt");
    at_prompt(
        "make.txt",
        &format!(
            "SET \"USERPROFILE=C:\\Users\\a & b 100% (x) it's\"\r\n{} env --shell cmd --spec {} > {}\r\n",
            Wine::win(&exe),
            Wine::win(camino::Utf8Path::new(TLS)),
            Wine::win(&script),
        ),
    );
    let printed = std::fs::read_to_string(&script).unwrap();
    assert!(printed.contains("REM @FOR /f"), "{printed}");
    let text = at_prompt(
        "apply.txt",
        &format!(
            "{}SET DOCKER_\r\nSET COMPOSE_\r\n",
            printed.replace('\n', "\r\n")
        ),
    );
    let mut lines: Vec<&str> = text
        .lines()
        .map(|l| l.rsplit('>').next().unwrap_or(l))
        .filter(|l| l.starts_with("DOCKER_") || l.starts_with("COMPOSE_"))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            // compose_paths (the default): compose converts D:\ bind sources in this terminal.
            "COMPOSE_CONVERT_WINDOWS_PATHS=1",
            r"DOCKER_CERT_PATH=C:\Users\a & b 100% (x) it's\.docker\dockvm-secure",
            "DOCKER_HOST=tcp://docker.local.test:2376",
            "DOCKER_TLS_VERIFY=1",
        ],
        "{text}"
    );
}

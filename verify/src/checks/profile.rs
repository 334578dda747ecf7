//! `profile`: the shell profile holds the generated export exactly, with LF line endings, and
//! no later line overrides it.

use super::Ctx;
use crate::finding::{CheckId, Finding, Status};

pub fn check(ctx: &Ctx<'_>) -> Finding {
    if ctx.env.windows.is_some() {
        return Finding::new(
            CheckId::Profile,
            Status::Skip,
            "not on WSL: the profile is WSL's (run dockvm verify there for it)",
        );
    }
    let line = format!("export DOCKER_HOST={}", ctx.spec.docker_host());
    let Some(home) = ctx.env.home.as_deref() else {
        return Finding::new(
            CheckId::Profile,
            Status::Skip,
            "HOME is not set, so there is no profile to read",
        );
    };
    let path = ctx.spec.wsl.profile.resolve(home);
    let f = |status, reason: String| {
        Finding::new(CheckId::Profile, status, reason)
            .expected(format!("{path} holds `{line}` (LF)"))
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !ctx.env.is_wsl => {
            return f(
                Status::Skip,
                format!("not on WSL, and {path} does not exist here"),
            );
        }
        Err(e) => {
            return f(Status::Fail, format!("cannot read {path}: {e}"))
                .actual(e.to_string())
                .hint(format!(
                    "append wsl/profile.sh: `cat wsl/profile.sh >> {}`",
                    ctx.spec.wsl.profile
                ));
        }
    };
    judge(ctx, &path, &line, &String::from_utf8_lossy(&bytes))
}

/// The profile's text: the export there, with LF, and nothing later overriding it.
fn judge(ctx: &Ctx<'_>, path: &camino::Utf8Path, line: &str, text: &str) -> Finding {
    let f = |status, reason: String| {
        Finding::new(CheckId::Profile, status, reason)
            .expected(format!("{path} holds `{line}` (LF)"))
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let Some(at) = lines.iter().position(|l| l.trim_end_matches('\r') == line) else {
        return f(Status::Fail, format!("{path} does not export DOCKER_HOST as the spec says"))
            .actual(match lines.iter().position(|l| l.contains("DOCKER_HOST")) {
                Some(i) => format!("line {}: {}", i + 1, lines[i].trim_end_matches('\r')),
                None => "no DOCKER_HOST line".to_owned(),
            })
            .hint(format!(
                "replace the dockvm block: `sed -i '/^# BEGIN dockvm {0}$/,/^# END dockvm {0}$/d' {1} && cat wsl/profile.sh >> {1}`",
                ctx.spec.vm.name, ctx.spec.wsl.profile
            ));
    };
    if lines[at].ends_with('\r') {
        return f(Status::Fail, format!("{path} has CRLF line endings: line {} would set DOCKER_HOST with a carriage return at its end", at + 1))
            .actual("CRLF")
            .hint(format!("`sed -i 's/\\r$//' {path}` (an editor on Windows saved it with CRLF)"));
    }
    let later = lines[at + 1..].iter().position(|l| overrides(l));
    if let Some(i) = later {
        let n = at + 1 + i + 1;
        return f(
            Status::Fail,
            format!(
                "line {n} of {path} overrides the export on line {}: {}",
                at + 1,
                lines[n - 1].trim()
            ),
        )
        .actual(format!("line {n}: {}", lines[n - 1].trim()))
        .hint(format!(
            "remove line {n}, or move the dockvm block to the end of {path}"
        ));
    }
    login_reads(ctx, path, at + 1).expected(format!("{path} holds `{line}` (LF)"))
}

/// The export is right: whether the user's login shell reads the file that holds it (see
/// [`super::startup`]). Unread is a failure, or a warning while this VM's context is current
/// (docker still reaches the engine; tools that read only DOCKER_HOST do not).
fn login_reads(ctx: &Ctx<'_>, path: &camino::Utf8Path, n: usize) -> Finding {
    use super::startup::{Reading, login_reading, tilde};
    let f = |status, reason: String| {
        Finding::new(CheckId::Profile, status, reason).actual(format!("line {n}"))
    };
    let exports = format!("{path} line {n} exports DOCKER_HOST");
    let (Some(home), Some(shell)) = (ctx.env.home.as_deref(), ctx.env.login_shell.as_deref())
    else {
        return f(Status::Pass, exports);
    };
    match login_reading(home, shell, path, &ctx.spec.docker_host()) {
        Reading::Read { shell, chain } => {
            let via = chain
                .iter()
                .map(|(file, line)| format!("{} line {line}", tilde(home, file)))
                .collect::<Vec<_>>();
            let via = if via.is_empty() {
                String::new()
            } else {
                format!(" (sourced from {})", via.join(", then "))
            };
            f(
                Status::Pass,
                format!("{exports}, and {shell}, your login shell, reads it{via}"),
            )
        }
        Reading::Unread { why, fix, .. } => match super::env::our_context_current(ctx) {
            Some((c, from)) => f(
                Status::Warn,
                format!("{why}; docker still reaches the engine through context {c} ({from}), but tools that read only DOCKER_HOST (docker-py, Testcontainers) do not"),
            )
            .hint(fix),
            None => f(Status::Fail, why).hint(format!(
                "{fix}; or `docker context use {}` (every process, with no shell involved; `dockvm install` does it)",
                dockvm_spec::context::name(ctx.spec.vm.name.as_str())
            )),
        },
        Reading::Unknown { shell } => f(
            Status::Pass,
            format!("{exports} (dockvm does not know which start-up files {shell}, your login shell, reads)"),
        ),
    }
}

/// Whether a shell line sets or unsets DOCKER_HOST (outside a comment).
fn overrides(line: &str) -> bool {
    let code = line.split('#').next().unwrap_or("").trim();
    code.split([';', '&', '|']).map(str::trim).any(|c| {
        let c = c.strip_prefix("export ").unwrap_or(c).trim_start();
        c.starts_with("DOCKER_HOST=")
            || c.starts_with("unset DOCKER_HOST")
            || c.starts_with("unset -v DOCKER_HOST")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn overriding_lines() {
        for l in [
            "DOCKER_HOST=x",
            "export DOCKER_HOST=y",
            "unset DOCKER_HOST",
            "  export DOCKER_HOST=\"z\"",
            "true; export DOCKER_HOST=q",
        ] {
            assert!(super::overrides(l), "{l}");
        }
        for l in [
            "# export DOCKER_HOST=x",
            "echo $DOCKER_HOST",
            "export DOCKER_HOSTNAME=1",
            "",
        ] {
            assert!(!super::overrides(l), "{l}");
        }
    }
}

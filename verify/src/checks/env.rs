//! `env`: `DOCKER_HOST` in this environment is `tcp://<hostname>:<port>`, and with
//! `docker.tls` `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` are set (unset without); a warning when a
//! docker context is also set, since DOCKER_HOST silently wins over it (docker/cli#1809). On
//! Windows also as new terminals get it (the registry), which is where a terminal opened
//! before it was set differs from the next one.

use super::{Ctx, WindowsEnv};
use crate::finding::{CheckId, Finding, Status};
use camino::Utf8PathBuf;

pub fn check(ctx: &Ctx<'_>) -> Finding {
    // With the proxy's pipe, the TLS variables must be absent: pipe_variables says so.
    let (host, tls) = match &ctx.env.windows {
        Some(w) if ctx.spec.windows.endpoint == dockvm_spec::WindowsEndpoint::Pipe => {
            (pipe_variables(ctx, w), None)
        }
        _ => (docker_host(ctx), tls_variables(ctx)),
    };
    if !matches!(host.status, Status::Pass | Status::Warn) {
        return host;
    }
    [tls, compose_variable(ctx)]
        .into_iter()
        .flatten()
        .fold(
            host,
            |worst, f| if f.status > worst.status { f } else { worst },
        )
}

/// On Windows with `windows.endpoint = "pipe"`: no `DOCKER_HOST` (in this terminal, or for new
/// ones through the registry) and no `DOCKER_TLS_VERIFY`, so the docker CLI takes its default
/// endpoint, the proxy's pipe, without TLS (the proxy holds it).
fn pipe_variables(ctx: &Ctx<'_>, w: &WindowsEnv) -> Finding {
    let url = dockvm_spec::WindowsEndpoint::pipe_url();
    let expected = format!(
        "DOCKER_HOST unset (or {url}) and DOCKER_TLS_VERIFY unset: the docker CLI uses the proxy's pipe"
    );
    let f = |status, reason: String| {
        Finding::new(CheckId::Env, status, reason).expected(expected.clone())
    };
    fn set<'v>(v: &'v Option<String>, url: &str) -> Option<&'v str> {
        v.as_deref().filter(|v| !v.is_empty() && *v != url)
    }
    if let Some(h) = set(&ctx.env.docker_host, &url) {
        let new = set(&w.user_docker_host, &url).or(set(&w.system_docker_host, &url));
        return f(
            Status::Fail,
            format!("DOCKER_HOST={h} in this terminal wins over the proxy's pipe: docker here does not go through the proxy"),
        )
        .actual(format!("DOCKER_HOST={h}"))
        .hint(match new {
            None => "open a new terminal (new ones get no DOCKER_HOST), or `set DOCKER_HOST=` here".to_owned(),
            Some(_) => "`dockvm.exe install` removes it for new terminals; then open one".to_owned(),
        });
    }
    for (v, place) in [
        (&w.user_docker_host, r"HKEY_CURRENT_USER\Environment"),
        (
            &w.system_docker_host,
            r"HKEY_LOCAL_MACHINE\...\Session Manager\Environment",
        ),
    ] {
        if let Some(h) = set(v, &url) {
            return f(
                Status::Fail,
                format!("new terminals get DOCKER_HOST={h} from {place}, which wins over the proxy's pipe"),
            )
            .actual(format!("{place}: DOCKER_HOST={h}"))
            .hint("`dockvm.exe install` removes the user's; a system-wide one needs an administrator (System Properties > Environment Variables)");
        }
    }
    let tls = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    if tls(&ctx.env.docker_tls_verify) || tls(&w.user_tls_verify) {
        return f(
            Status::Fail,
            "DOCKER_TLS_VERIFY is set: the docker CLI would speak TLS to the proxy's pipe, which is plain (the proxy holds TLS to the VM)".to_owned(),
        )
        .actual("DOCKER_TLS_VERIFY set")
        .hint("`dockvm.exe install` removes it; then open a new terminal");
    }
    f(
        Status::Pass,
        format!("no DOCKER_HOST: the docker CLI uses {url}, the proxy's pipe"),
    )
    .actual("DOCKER_HOST unset")
}

/// On Windows with `windows.compose_paths`: `COMPOSE_CONVERT_WINDOWS_PATHS=1` for new
/// terminals (the registry) and in this one. A warning, since only `docker compose` needs it.
fn compose_variable(ctx: &Ctx<'_>) -> Option<Finding> {
    let w = ctx.env.windows.as_ref()?;
    if !ctx.spec.windows.compose_paths {
        return None;
    }
    let f = |reason: String, actual: String, hint: &str| {
        Some(
            Finding::new(CheckId::Env, Status::Warn, reason)
                .expected(format!(
                    "DOCKER_HOST={} and COMPOSE_CONVERT_WINDOWS_PATHS=1",
                    ctx.spec.docker_host()
                ))
                .actual(actual)
                .hint(hint.to_owned()),
        )
    };
    let lost = "docker compose in cmd and PowerShell sends a bind source like ./dist as a Windows path (D:\\...\\dist), which the Linux daemon in the VM cannot mount";
    match (
        w.user_compose_convert.as_deref(),
        ctx.env.compose_convert.as_deref(),
    ) {
        (Some("1"), Some("1")) => None,
        (Some("1"), v) => f(
            format!(
                "this terminal was opened before COMPOSE_CONVERT_WINDOWS_PATHS was set (new terminals get 1, this one {}): {lost}",
                v.map_or("has none".to_owned(), |v| format!("has {v:?}"))
            ),
            format!("this process: {}", v.unwrap_or("unset")),
            "open a new terminal",
        ),
        (u, _) => f(
            format!(
                "COMPOSE_CONVERT_WINDOWS_PATHS is {} under HKEY_CURRENT_USER\\Environment, not 1: {lost}",
                u.map_or("not set".to_owned(), |u| format!("{u:?}"))
            ),
            format!("registry: {}", u.unwrap_or("unset")),
            "`dockvm install` (or `reg import windows\\dockvm-env.reg`), then open a new terminal; or set compose_paths = false under [windows] in the spec",
        ),
    }
}

/// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`: set with `docker.tls`, unset without. A finding
/// when something is wrong, `None` when all is well.
fn tls_variables(ctx: &Ctx<'_>) -> Option<Finding> {
    let e = ctx.env;
    // Without DOCKER_HOST, this VM's context carries the connection and its TLS files
    // (docker_host judges them); the variables do not apply.
    if e.docker_host.as_deref().is_none_or(str::is_empty)
        && current_context(ctx.env).is_some_and(|(c, _)| our_context(ctx, &c).is_some())
    {
        return None;
    }
    if ctx.spec.docker.tls {
        tls_missing(ctx)
    } else {
        tls_left_over(ctx)
    }
}

fn set(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty())
}

fn env_finding(status: Status, reason: String, expected: &str) -> Finding {
    Finding::new(CheckId::Env, status, reason).expected(expected.to_owned())
}

/// `tls = true`: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH must be set (on Windows also for new
/// terminals).
fn tls_missing(ctx: &Ctx<'_>) -> Option<Finding> {
    let e = ctx.env;
    let f = env_finding;
    let profile = ctx.spec.wsl.profile.to_string();
    let where_ = if e.windows.is_some() {
        "this terminal".to_owned()
    } else {
        format!("this shell (the block of wsl/profile.sh in {profile} sets them)")
    };
    let expected = format!(
        "DOCKER_HOST={}, DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH set",
        ctx.spec.docker_host()
    );
    if let Some(w) = &e.windows {
        let missing: Vec<&str> = [
            ("DOCKER_TLS_VERIFY", &w.user_tls_verify),
            ("DOCKER_CERT_PATH", &w.user_cert_path),
        ]
        .into_iter()
        .filter(|(_, v)| !set(v))
        .map(|(n, _)| n)
        .collect();
        if !missing.is_empty() {
            return Some(
                f(Status::Fail, format!("{} not set under HKEY_CURRENT_USER\\Environment: new terminals talk to a TLS port without TLS", missing.join(" and ")), &expected)
                    .actual("unset in the registry")
                    .hint("`dockvm install --certs DIR` (or `reg import windows\\dockvm-env.reg`), then open a new terminal"),
            );
        }
    }
    if !set(&e.docker_tls_verify) {
        return Some(
            f(Status::Fail, format!("DOCKER_TLS_VERIFY is not set in {where_}: the docker CLI speaks plain HTTP to dockerd's TLS port and gets no answer it understands"), &expected)
                .actual("DOCKER_TLS_VERIFY unset")
                .hint("add the block of wsl/profile.sh (it exports DOCKER_TLS_VERIFY=1) and open a new shell; on Windows, `dockvm install`"),
        );
    }
    if !set(&e.docker_cert_path) {
        return Some(
            f(Status::Fail, format!("DOCKER_CERT_PATH is not set in {where_}: the docker CLI looks for ca.pem, cert.pem and key.pem in ~/.docker instead of ~/.docker/{}", ctx.spec.cert_dir_name()), &expected)
                .actual("DOCKER_CERT_PATH unset")
                .hint("add the block of wsl/profile.sh (it exports DOCKER_CERT_PATH) and open a new shell; on Windows, `dockvm install`"),
        );
    }
    None
}

/// A plain spec: DOCKER_TLS_VERIFY set is a failure, DOCKER_CERT_PATH alone a left-over.
fn tls_left_over(ctx: &Ctx<'_>) -> Option<Finding> {
    let e = ctx.env;
    let f = env_finding;
    let expected = format!(
        "DOCKER_HOST={}, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH unset",
        ctx.spec.docker_host()
    );
    let registry_tls = e.windows.as_ref().is_some_and(|w| set(&w.user_tls_verify));
    if set(&e.docker_tls_verify) || registry_tls {
        let v = e.docker_tls_verify.clone().unwrap_or_default();
        return Some(
            f(Status::Fail, format!("DOCKER_TLS_VERIFY is set ({v:?}{}), but dockerd speaks plain TCP: the docker CLI will try TLS and fail", if registry_tls { ", and under HKEY_CURRENT_USER\\Environment" } else { "" }), &expected)
                .actual(format!("DOCKER_TLS_VERIFY={v}"))
                .hint("unset it (a left-over of docker-machine or of a TLS setup): remove it from the profile, or on Windows `reg delete HKCU\\Environment /v DOCKER_TLS_VERIFY`; or set tls = true in the spec"),
        );
    }
    if set(&e.docker_cert_path) {
        let v = e.docker_cert_path.clone().unwrap_or_default();
        return Some(
            f(Status::Warn, format!("DOCKER_CERT_PATH is set ({v:?}), but dockerd speaks plain TCP: harmless without DOCKER_TLS_VERIFY, but a left-over"), &expected)
                .actual(format!("DOCKER_CERT_PATH={v}"))
                .hint("unset it, or set tls = true in the spec"),
        );
    }
    None
}

fn docker_host(ctx: &Ctx<'_>) -> Finding {
    if let Some(w) = &ctx.env.windows
        && let Some(f) = registry(ctx, w)
    {
        return f;
    }
    let want = ctx.spec.docker_host();
    let profile = ctx.spec.wsl.profile.to_string();
    let context = current_context(ctx.env);
    let f = |status, reason: String| {
        Finding::new(CheckId::Env, status, reason).expected(format!("DOCKER_HOST={want}"))
    };
    let ours = context.as_ref().and_then(|(c, from)| {
        our_context(ctx, c).map(|(host, tls)| (c.clone(), from.clone(), host, tls))
    });
    match ctx.env.docker_host.as_deref() {
        None | Some("") if let Some((c, from, host, tls)) = ours.clone() => {
            by_context(ctx, &c, &from, host, tls)
        }
        None | Some("") => {
            let elsewhere = context.as_ref().map(|(c, from)| format!("; the docker CLI uses context {c:?} ({from}) instead")).unwrap_or_default();
            let (why, hint) = unset_cause(ctx);
            f(Status::Fail, format!("DOCKER_HOST is not set{elsewhere}{why}"))
                .actual("unset")
                .hint(hint)
        }
        Some(v) if v == want => match context {
            // This VM's context with the same endpoint: DOCKER_HOST overriding it changes nothing.
            Some(_) if ours.as_ref().is_some_and(|o| o.2.as_deref() == Some(want.as_str())) => {
                f(Status::Pass, format!("DOCKER_HOST={want}")).actual(v)
            }
            Some((c, from)) => f(
                Status::Warn,
                format!("DOCKER_HOST={want}, and it silently overrides docker context {c:?} ({from})"),
            )
            .actual(v)
            .hint("unset DOCKER_CONTEXT or `docker context use default`, so there is one source of truth"),
            None => f(Status::Pass, format!("DOCKER_HOST={want}")).actual(v),
        },
        Some(v) if v.trim_end_matches(['\r', '\n']) == want => f(
            Status::Fail,
            format!("DOCKER_HOST ends with a carriage return ({v:?}): the profile that sets it has CRLF line endings"),
        )
        .actual(format!("{v:?}"))
        .hint(format!("convert {profile} to LF line endings (`sed -i 's/\\r$//' {profile}`) and open a new shell")),
        Some(v) => f(Status::Fail, format!("DOCKER_HOST is {v:?}, not {want:?}"))
            .actual(v)
            .hint(format!("a later line of {profile} or another startup file sets it: `grep -n DOCKER_HOST ~/.bashrc ~/.profile /etc/profile /etc/profile.d/*`")),
    }
}

/// Why DOCKER_HOST is unset here, as the profile check sees the file that should set it (so
/// the two agree), and the step that changes it: `docker context use` reaches every process
/// with no shell involved; otherwise the step the start-up files need.
fn unset_cause(ctx: &Ctx<'_>) -> (String, String) {
    use super::startup::{Reading, login_reading, tilde};
    let use_context = format!(
        "`docker context use {}` (every process, with no shell involved; `dockvm install` does it)",
        dockvm_spec::context::name(ctx.spec.vm.name.as_str())
    );
    let profile = ctx.spec.wsl.profile.to_string();
    let generic = (
        String::new(),
        format!(
            "{use_context}; or add the block of wsl/profile.sh to {profile} and open a new shell"
        ),
    );
    let (Some(home), None) = (ctx.env.home.as_deref(), &ctx.env.windows) else {
        return generic;
    };
    let path = ctx.spec.wsl.profile.resolve(home);
    let line = format!("export DOCKER_HOST={}", ctx.spec.docker_host());
    let holds = std::fs::read_to_string(&path)
        .is_ok_and(|t| t.lines().any(|l| l.trim_end_matches('\r') == line));
    let Some(shell) = ctx.env.login_shell.as_deref().filter(|_| holds) else {
        return generic;
    };
    match login_reading(home, shell, &path, &ctx.spec.docker_host()) {
        Reading::Unread { why, fix, .. } => {
            (format!(": {why}"), format!("{use_context}; or {fix}"))
        }
        Reading::Read { shell, .. } => (
            format!(
                ": {shell}, your login shell, reads {} at login, but this shell did not: it is not a login shell (VS Code's terminal, tmux, `bash -c`, `wsl docker ...` from cmd), or it was opened before install",
                tilde(home, &path)
            ),
            format!("{use_context}; or open a new login shell (`exec {shell} -l`)"),
        ),
        Reading::Unknown { .. } => generic,
    }
}

/// This VM's context, when the docker CLI uses it without DOCKER_HOST (DOCKER_CONTEXT or
/// `currentContext`) and it points at the spec's endpoint: its name and where it is set.
pub(super) fn our_context_current(ctx: &Ctx<'_>) -> Option<(String, String)> {
    let (c, from) = current_context(ctx.env)?;
    let (host, _) = our_context(ctx, &c)?;
    (host.as_deref() == Some(ctx.spec.docker_host().as_str())).then_some((c, from))
}

/// DOCKER_HOST unset and this VM's context in use: its endpoint (and with TLS its files) decide.
fn by_context(ctx: &Ctx<'_>, c: &str, from: &str, host: Option<String>, tls: bool) -> Finding {
    let want = ctx.spec.docker_host();
    let f = |status, reason: String| {
        Finding::new(CheckId::Env, status, reason).expected(format!("DOCKER_HOST={want}"))
    };
    match host {
        Some(h) if h == want && (tls || !ctx.spec.docker.tls) => f(
            Status::Pass,
            format!("DOCKER_HOST is unset, and the docker CLI uses context {c:?} ({from}), this VM's: {want}"),
        )
        .actual(format!("context {c} -> {h}")),
        Some(h) if h == want => f(
            Status::Fail,
            format!("the docker CLI uses context {c:?} ({from}), but its TLS files are missing from the context store: it would talk to a TLS port without a certificate"),
        )
        .actual(format!("context {c}: no ca.pem, cert.pem, key.pem"))
        .hint("`dockvm install --certs DIR` places them (the folder `dockvm certs` wrote)"),
        Some(h) => f(
            Status::Fail,
            format!("the docker CLI uses context {c:?} ({from}), which points at {h}, not {want}"),
        )
        .actual(format!("context {c} -> {h}"))
        .hint("`dockvm install` again with the tree `dockvm gen` writes now (it replaces the context's meta.json)"),
        None => f(
            Status::Fail,
            format!("the docker CLI uses context {c:?} ({from}), which is not in the context store"),
        )
        .actual(format!("context {c} missing"))
        .hint("`dockvm install` places it; or set DOCKER_HOST (the profile block)"),
    }
}

/// The Windows registry's side of `DOCKER_HOST`: a finding when it is wrong, or when it is
/// right and this terminal's is not; `None` when both agree (the process check follows).
fn registry(ctx: &Ctx<'_>, w: &WindowsEnv) -> Option<Finding> {
    const USER: &str = r"HKEY_CURRENT_USER\Environment";
    const SYSTEM: &str =
        r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager\Environment";
    let want = ctx.spec.docker_host();
    let f = |status, reason: String| {
        Finding::new(CheckId::Env, status, reason)
            .expected(format!("DOCKER_HOST={want} in {USER} and in this terminal"))
    };
    let set_it =
        "`dockvm install` (or `reg import windows\\dockvm-env.reg`), then open a new terminal";
    let new_terminals = match (
        w.user_docker_host.as_deref(),
        w.system_docker_host.as_deref(),
    ) {
        (Some(u), _) if u == want => u,
        (Some(u), _) => {
            return Some(
                f(
                    Status::Fail,
                    format!(
                        "DOCKER_HOST under {USER} is {u:?}, not {want:?}: new terminals get that"
                    ),
                )
                .actual(format!("{USER}: {u}"))
                .hint(set_it),
            );
        }
        (None, Some(s)) if s == want => s,
        (None, Some(s)) => {
            return Some(
                f(Status::Fail, format!("{USER} has no DOCKER_HOST, and the system-wide one under {SYSTEM} is {s:?}, not {want:?}"))
                    .actual(format!("{SYSTEM}: {s}"))
                    .hint(set_it),
            );
        }
        (None, None) => {
            return Some(
                f(
                    Status::Fail,
                    format!("DOCKER_HOST is not set for new terminals: {USER} has none"),
                )
                .actual("unset in the registry")
                .hint(set_it),
            );
        }
    };
    match ctx.env.docker_host.as_deref() {
        Some(p) if p == new_terminals => None,
        None | Some("") => Some(
            f(
                Status::Fail,
                format!("this terminal was opened before DOCKER_HOST was set: open a new one (new terminals get {want}, this one has none)"),
            )
            .actual("this process: unset")
            .hint("close this terminal and open a new one (or sign out and in)"),
        ),
        Some(p) => Some(
            f(
                Status::Fail,
                format!("this terminal has DOCKER_HOST={p:?}, new terminals get {want}: it was set in this terminal (set, $env:), or the terminal predates the change"),
            )
            .actual(format!("this process: {p}"))
            .hint("open a new terminal, or clear it here: `set DOCKER_HOST=` (cmd), `Remove-Item Env:DOCKER_HOST` (PowerShell)"),
        ),
    }
}

/// The docker CLI's config folder: DOCKER_CONFIG, else `.docker` in the home folder.
fn config_dir(env: &super::Env) -> Option<Utf8PathBuf> {
    match (&env.docker_config, &env.home) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(h)) => Some(h.join(".docker")),
        (None, None) => None,
    }
}

/// When `context` is this VM's (`dockvm-<vm>`): the docker endpoint its metadata in the store
/// names (`None` when the file is missing or unreadable), and whether the store has its TLS
/// files. `None` for any other context.
fn our_context(ctx: &Ctx<'_>, context: &str) -> Option<(Option<String>, bool)> {
    let vm = ctx.spec.vm.name.as_str();
    if context != dockvm_spec::context::name(vm) {
        return None;
    }
    let Some(dir) = config_dir(ctx.env) else {
        return Some((None, false));
    };
    let meta = dir.join(dockvm_spec::context::meta_rel(vm));
    let host = std::fs::read(&meta)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["Endpoints"]["docker"]["Host"].as_str().map(str::to_owned));
    let tls = dir.join(dockvm_spec::context::tls_rel(vm));
    let has_tls = dockvm_spec::tls::CLIENT_FILES
        .iter()
        .all(|f| tls.join(f).is_file());
    Some((host, has_tls))
}

/// The context the docker CLI would use without DOCKER_HOST, if it is not the default one:
/// DOCKER_CONTEXT, else `currentContext` in the CLI's config.json.
fn current_context(env: &super::Env) -> Option<(String, String)> {
    // DOCKER_CONTEXT wins over config.json, `default` included (the CLI's order).
    if let Some(c) = env.docker_context.as_deref() {
        return (c != "default").then(|| (c.to_owned(), "DOCKER_CONTEXT".to_owned()));
    }
    let file: Utf8PathBuf = config_dir(env)?.join("config.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    let c = v.get("currentContext")?.as_str()?;
    (!c.is_empty() && c != "default").then(|| (c.to_owned(), format!("currentContext in {file}")))
}

/// Which Docker endpoint a docker command in this terminal reaches, in words (`DOCKER_HOST=...`,
/// `context NAME (from ...)`, or the default), and whether that is this spec's VM (its
/// hostname or address in DOCKER_HOST, or its `dockvm-<vm>` context). For `dockvm status` and
/// `down`'s note.
pub fn in_use(spec: &dockvm_spec::Spec, env: &super::Env) -> (String, bool) {
    // With the proxy's pipe on Windows, the pipe (the CLI's default) is this VM.
    let pipe = env.windows.is_some() && spec.windows.endpoint == dockvm_spec::WindowsEndpoint::Pipe;
    let url = dockvm_spec::WindowsEndpoint::pipe_url();
    let ours = |host: &str| {
        host.contains(&format!("//{}:", spec.vm.hostname))
            || host.contains(&format!("//{}:", spec.vm.ip))
            || (pipe && host == url)
    };
    if let Some(h) = env.docker_host.as_deref().filter(|h| !h.is_empty()) {
        return (format!("DOCKER_HOST={h}"), ours(h));
    }
    if let Some((c, from)) = current_context(env) {
        let here = c == dockvm_spec::context::name(spec.vm.name.as_str());
        return (format!("context {c} ({from})"), here);
    }
    if pipe {
        return (
            format!("the default endpoint, {url}: dockvm proxy (no DOCKER_HOST, no context)"),
            true,
        );
    }
    (
        "the default endpoint (no DOCKER_HOST, no context)".to_owned(),
        false,
    )
}

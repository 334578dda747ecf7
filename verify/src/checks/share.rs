//! `share:<name>`: the path-equivalence canary. A file with a fresh random token in its name
//! and content is written under the share's WSL path; the daemon must find it, with the size
//! written, through a read-only bind mount of that same path, in a container that is created
//! but never runs (from a 0-byte image, `dockvm-probe:empty`, imported once and kept). The
//! daemon's view is a stat through the archive endpoint (HEAD).
//!
//! With `windows.compose_paths`, the same probe container also binds the share's compose path
//! (`/d/projects`, what `docker compose` sends from Windows) at `/probe-compose`: the daemon
//! must find the probe there too, and a compose path that is missing or leads elsewhere while
//! the WSL path works is a failure of its own.
//!
//! The fast path: one container per share is kept between runs (`dockvm-probe-<vm>-<share>`,
//! label `dockvm.probe=kept`). A container that never started resolves its bind mount at each
//! archive call, so a stat through it (about 2 ms) sees the folder the VM's path leads to now.
//! Any answer but the probe as written falls back to a fresh container for this run (the
//! slow path, about 20 ms), which tells a missing link, an unmounted share and a stale share
//! apart; when that passes, the kept container is made anew (it was missing, or mounts another
//! path). The probe file and a fresh container are removed on every path (see
//! [`crate::cleanup`]); probe files and fresh containers older than [`crate::sweep::Sweep`]'s
//! threshold, left by a killed run, are removed too.

use super::{Ctx, human};
use crate::cleanup::{Guard, Item, Stage};
use crate::finding::{CheckId, Finding, Status};
use crate::http::{self, Endpoint, HttpError, Response};
use camino::Utf8Path;
use dockvm_spec::Share;
use std::time::Instant;

pub const PROBE_IMAGE: &str = "dockvm-probe:empty";
/// The label of every probe container: `kept` on the kept ones, `true` on a run's fresh ones.
pub const PROBE_LABEL: &str = "dockvm.probe";
pub const KEPT: &str = "kept";
/// The prefix of probe files and of probe containers' names.
pub const PROBE_PREFIX: &str = "dockvm-probe-";

/// The name of the container kept for a share.
pub fn kept_name(spec: &dockvm_spec::Spec, share: &Share) -> String {
    format!("{PROBE_PREFIX}{}-{}", spec.vm.name, share.name)
}
const LIMIT: usize = 1024 * 1024;
/// Where a probe container binds the share's WSL path, and its compose path.
const TARGET: &str = "/probe";
const COMPOSE_TARGET: &str = "/probe-compose";

/// A probe container's bind mounts, (VM path, target): the WSL path, then the compose path.
fn mounts(spec: &dockvm_spec::Spec, share: &Share) -> Vec<(String, &'static str)> {
    let mut v = vec![(spec.wsl_path(share).into_string(), TARGET)];
    v.extend(
        spec.compose_path(share)
            .map(|c| (c.into_string(), COMPOSE_TARGET)),
    );
    v
}

pub fn check(ctx: &Ctx<'_>, share: &Share) -> Finding {
    let id = CheckId::Share(share.name.to_string());
    let wsl = ctx.local_path(share);
    let deadline = Instant::now() + ctx.timeout;
    let vm_path = ctx.spec.wsl_path(share);
    let compose = ctx.spec.compose_path(share);
    let all_mounts = mounts(ctx.spec, share);
    let and_compose = compose
        .as_ref()
        .map(|c| format!(", and at {c} for docker compose from Windows"))
        .unwrap_or_default();
    let here_name = if ctx.env.windows.is_some() {
        "on Windows"
    } else {
        "in WSL"
    };
    let expected = if ctx.env.windows.is_some() {
        format!(
            "{} is the same folder at {vm_path} in the VM{and_compose}",
            share.host_path
        )
    } else {
        format!(
            "{} is the same folder at {wsl} in WSL and in the VM{and_compose}",
            share.host_path
        )
    };
    let f = |status, reason: String| {
        Finding::new(id.clone(), status, reason).expected(expected.clone())
    };

    // This side first: without the folder here there is nothing to compare.
    if ctx.env.windows.is_some() && !wsl.is_dir() {
        return f(
            Status::Fail,
            format!("path missing on Windows: {wsl} does not exist"),
        )
        .actual(format!("{wsl} missing"))
        .hint("fix shares.host_path in the spec, or create the folder");
    }
    if !wsl.is_dir() {
        let drive = format!("{}{}", ctx.spec.wsl.automount_root, share.host_path.drive());
        if !Utf8Path::new(&drive).is_dir() {
            if !ctx.env.is_wsl {
                return f(
                    Status::Skip,
                    format!(
                        "not on WSL, and {drive} (drive {}:) does not exist here",
                        share.host_path.drive().to_ascii_uppercase()
                    ),
                );
            }
            return f(Status::Fail, format!("drive {}: is not mounted at {drive} in WSL", share.host_path.drive().to_ascii_uppercase()))
                .actual(format!("{drive} missing"))
                .hint(format!("set `root = {}` under [automount] in /etc/wsl.conf (wsl/wsl.conf), then `wsl --shutdown`", ctx.spec.wsl.automount_root));
        }
        return f(
            Status::Fail,
            format!("path missing in WSL: {wsl} does not exist"),
        )
        .actual(format!("{wsl} missing"))
        .hint(format!(
            "does {} exist on Windows? fix shares.host_path in the spec if not",
            share.host_path
        ));
    }

    let api = match ctx.endpoint(id.clone()) {
        Ok(a) => a,
        Err(e) => return e.expected(expected.clone()),
    };
    let token = random_hex();
    let file_name = format!(".{PROBE_PREFIX}{token}");
    let probe = wsl.join(&file_name);
    let file_guard = ctx.cleanup.guard(Item::File(probe.clone()));
    let written = file_guard.create(Stage::Created, || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .and_then(|mut w| std::io::Write::write_all(&mut w, token.as_bytes()))
    });
    let Ok(written) = written else {
        return f(Status::Error, "interrupted".to_owned());
    };
    if let Err(e) = written {
        return f(
            Status::Error,
            format!("cannot write the probe file {probe}: {e}"),
        )
        .actual(e.to_string())
        .hint("verify writes (and removes) one small file in each share; give it write access");
    }

    // The fast path: the kept container's stat of the probe. Beside it, other runs' old probe
    // files in this share go, and (in the first share check of a run) their old containers.
    let kept = kept_name(ctx.spec, share);
    let is_probe = |r: &Response| {
        r.status == 200
            && path_stat(r).is_some_and(|(n, size)| n == file_name && size == token.len() as u64)
    };
    let head = |container: &str, target: &str| {
        http::request(
            api,
            "HEAD",
            &format!("/containers/{container}/archive?path={target}/{file_name}"),
            None,
            deadline,
            LIMIT,
        )
    };
    let seen = std::thread::scope(|s| {
        s.spawn(|| ctx.sweep.files(&wsl, &file_name));
        if ctx.sweep.claim() {
            s.spawn(|| ctx.sweep.containers(api, ctx.cleanup, deadline));
        }
        let others: Vec<_> = all_mounts[1..]
            .iter()
            .map(|(_, target)| s.spawn(|| head(&kept, target).is_ok_and(|r| is_probe(&r))))
            .collect();
        let first = head(&kept, TARGET).is_ok_and(|r| is_probe(&r));
        others
            .into_iter()
            .fold(first, |all, h| h.join().unwrap_or(false) && all)
    });
    let pass_reason = format!(
        "{} is the same folder {} and in the VM ({vm_path}){and_compose}: the daemon sees the file written here",
        share.host_path, here_name
    );
    if seen {
        return f(Status::Pass, pass_reason).actual(format!(
            "probe file seen through the kept probe container {kept}"
        ));
    }

    if let Err(e) = ensure_image(ctx, api, deadline) {
        return f(
            Status::Error,
            format!("cannot prepare the probe image {PROBE_IMAGE}: {e}"),
        )
        .actual(e);
    }
    let name = format!("{PROBE_PREFIX}{token}");
    let container_guard = ctx.cleanup.guard(Item::Container {
        api: api.clone(),
        name: name.clone(),
    });
    // The bind sources are the paths as the VM has them (the links tmpfiles made), on either
    // side. A missing compose path alone leaves the WSL path to probe, and is reported after.
    let mut compose_missing = false;
    let mut result = create(ctx, api, &container_guard, &name, &all_mounts, deadline);
    if let (Err(Created::SourceMissing(missing)), Some(c)) = (&result, &compose)
        && missing == c.as_str()
    {
        compose_missing = true;
        result = create(
            ctx,
            api,
            &container_guard,
            &name,
            &all_mounts[..1],
            deadline,
        );
    }
    match result {
        Ok(()) => {}
        Err(Created::SourceMissing(_)) => {
            return missing_in_vm(
                ctx,
                api,
                share,
                &vm_path,
                deadline,
                f(Status::Fail, String::new()),
            );
        }
        Err(Created::Other(e)) => {
            return f(
                Status::Error,
                format!("the daemon refused the probe container: {e}"),
            )
            .actual(e);
        }
    }
    // HEAD on the archive endpoint is a stat of the path as the daemon sees it (about 2 ms;
    // a GET starts a helper process, about 55 ms). The file's name holds a fresh 128-bit
    // token, so finding it, with the size written, proves the same folder as reading it would.
    let path = format!("/containers/{name}/archive?path=/probe/{file_name}");
    let found = match http::request(api, "HEAD", &path, None, deadline, LIMIT) {
        Ok(r) if r.status == 200 => match path_stat(&r) {
            Some((n, size)) if n == file_name && size == token.len() as u64 => f(
                Status::Pass,
                format!("{} is the same folder {} and in the VM ({vm_path}): the daemon sees the file written here", share.host_path, here_name),
            )
            .actual("probe file seen through a fresh probe container"),
            Some((n, size)) => f(Status::Fail, format!("the VM sees other content at {} than was written {here_name}", vm_path.join(&file_name)))
                .actual(format!("{n}, {size} bytes, not the {}-byte probe", token.len()))
                .hint(stale_hint(ctx, share)),
            None => f(Status::Error, "the daemon's stat of the probe file is unreadable".to_owned())
                .actual(r.header("x-docker-container-path-stat").unwrap_or("no stat header").to_owned()),
        },
        Ok(r) if r.status == 404 => f(
            Status::Fail,
            format!("the VM sees a different folder at {vm_path}: the file written {here_name} is not in it (a stale share, or a link to another folder)"),
        )
        .actual("probe file not found by the daemon")
        .hint(stale_hint(ctx, share)),
        Ok(r) => f(Status::Error, format!("looking for the probe: {}", r.status_line)).actual(r.status_line),
        Err(e) => f(Status::Error, format!("looking for the probe: {}", timeout_text(&e, ctx))).actual(e.to_string()),
    };
    // The WSL path first: when it fails, that is the root cause, whatever compose's path does.
    if found.status != Status::Pass {
        return found;
    }
    let found = match &compose {
        None => found,
        Some(c) if compose_missing => f(
            Status::Fail,
            format!("docker compose's path {c} is missing in the VM, though {vm_path} works: the link for compose is missing"),
        )
        .actual(format!("{c} missing in the VM"))
        .hint(format!(
            "in the VM: install vm/etc/tmpfiles.d/dockvm.conf and `systemd-tmpfiles --create /etc/tmpfiles.d/dockvm.conf` ({c} -> {}); or set compose_paths = false under [windows]",
            share.vm_mount()
        )),
        Some(c) => match head(&name, COMPOSE_TARGET) {
            Ok(r) if is_probe(&r) => Finding {
                reason: pass_reason,
                ..found
            },
            Ok(r) if matches!(r.status, 200 | 404) => f(
                Status::Fail,
                format!("docker compose's path {c} leads to another folder in the VM than {vm_path}: the file written {here_name} is not in it"),
            )
            .actual(format!("probe file not found at {c} by the daemon"))
            .hint(format!("in the VM, `ls -ld {c}` must show a link to {}; remove what is there and run `systemd-tmpfiles --create /etc/tmpfiles.d/dockvm.conf`", share.vm_mount())),
            Ok(r) => f(Status::Error, format!("looking for the probe at {c}: {}", r.status_line)).actual(r.status_line),
            Err(e) => f(Status::Error, format!("looking for the probe at {c}: {}", timeout_text(&e, ctx))).actual(e.to_string()),
        },
    };
    if found.status == Status::Pass {
        // The kept container was missing or looks elsewhere: make it anew for the next run.
        // A failure here costs only the fast path of the next run.
        let _ = renew_kept(api, &kept, &all_mounts, deadline);
    }
    found
}

/// Removes the kept container of a share if it exists, and creates it anew on `source`. A
/// concurrent run that created it first (409) is as good.
fn renew_kept(
    api: &Endpoint,
    kept: &str,
    mounts: &[(String, &str)],
    deadline: Instant,
) -> Result<(), String> {
    let gone = http::request(
        api,
        "DELETE",
        &format!("/containers/{kept}?force=1&v=1"),
        None,
        deadline,
        LIMIT,
    )
    .map_err(|e| e.to_string())?;
    if !matches!(gone.status, 200 | 204 | 404) {
        return Err(gone.status_line);
    }
    let body = container_body(mounts, KEPT);
    let r = http::request(
        api,
        "POST",
        &format!("/containers/create?name={kept}"),
        Some(("application/json", &body)),
        deadline,
        LIMIT,
    )
    .map_err(|e| e.to_string())?;
    match r.status {
        201 | 409 => Ok(()),
        _ => Err(format!("{} {}", r.status_line, docker_message(&r))),
    }
}

/// A probe container's create body: the 0-byte image, a command that never runs, no network,
/// each source bound read-only at its target (Mounts, not Binds: a missing source is an error,
/// never a folder the daemon creates).
fn container_body(mounts: &[(String, &str)], label: &str) -> Vec<u8> {
    let mounts: Vec<_> = mounts
        .iter()
        .map(|(source, target)| {
            serde_json::json!({ "Type": "bind", "Source": source, "Target": target, "ReadOnly": true })
        })
        .collect();
    let body = serde_json::json!({
        "Image": PROBE_IMAGE,
        "Cmd": ["/dockvm-probe-never-runs"],
        "Labels": { PROBE_LABEL: label },
        "NetworkDisabled": true,
        "HostConfig": {
            "NetworkMode": "none",
            "Mounts": mounts,
        },
    });
    serde_json::to_vec(&body).expect("JSON")
}

/// Name and size from the daemon's `X-Docker-Container-Path-Stat` header (base64 JSON).
fn path_stat(r: &Response) -> Option<(String, u64)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(r.header("x-docker-container-path-stat")?)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    Some((
        v.get("name")?.as_str()?.to_owned(),
        v.get("size")?.as_u64()?,
    ))
}

fn stale_hint(ctx: &Ctx<'_>, share: &Share) -> String {
    format!(
        "run windows\\reset-shared-folders.bat (it points share {:?} at {}); in the VM, `ls -l {}` must link to {}",
        share.name.as_str(),
        share.host_path,
        ctx.spec.wsl_path(share),
        share.vm_mount()
    )
}

/// The bind source is missing as the daemon sees it: tell "link missing" from "share not
/// mounted" by trying the share's own mount point.
fn missing_in_vm(
    ctx: &Ctx<'_>,
    api: &Endpoint,
    share: &Share,
    wsl: &Utf8Path,
    deadline: Instant,
    base: Finding,
) -> Finding {
    let mount = share.vm_mount();
    let name = format!("{PROBE_PREFIX}{}", random_hex());
    let guard = ctx.cleanup.guard(Item::Container {
        api: api.clone(),
        name: name.clone(),
    });
    let mounted = create(
        ctx,
        api,
        &guard,
        &name,
        &[(mount.to_string(), TARGET)],
        deadline,
    );
    let (reason, hint) = match mounted {
        Ok(()) => (
            format!("path missing in the VM: {wsl} does not exist there, though the share is mounted at {mount}: the link is missing"),
            format!("in the VM: install vm/etc/tmpfiles.d/dockvm.conf and `systemd-tmpfiles --create /etc/tmpfiles.d/dockvm.conf` ({wsl} -> {mount})"),
        ),
        Err(_) => (
            format!("path missing in the VM: {wsl} does not exist there, and share {:?} is not mounted at {mount}", share.name.as_str()),
            "run windows\\reset-shared-folders.bat (shared folders are disabled after a VM reboot), then in the VM \
             `systemctl restart mnt-hgfs.mount` and `ls /mnt/hgfs`"
                .to_owned(),
        ),
    };
    Finding {
        reason,
        hint,
        actual: format!("{wsl} missing in the VM"),
        ..base
    }
}

enum Created {
    /// The daemon's "bind source path does not exist", with the path it names.
    SourceMissing(String),
    Other(String),
}

/// dockerd's words for a bind source that does not exist, followed by `: <path>`.
const SOURCE_MISSING: &str = "bind source path does not exist";

/// Creates the probe container `name`, keeping `guard` told how far it got.
fn create(
    ctx: &Ctx<'_>,
    api: &Endpoint,
    guard: &Guard<'_>,
    name: &str,
    mounts: &[(String, &str)],
    deadline: Instant,
) -> Result<(), Created> {
    let body = container_body(mounts, "true");
    // From here until the answer, the container may exist: if no answer comes (a timeout),
    // the guard stays "in flight" and removal keeps trying. After an interrupt, nothing is sent.
    guard
        .create(Stage::InFlight, || ())
        .map_err(|_| Created::Other("interrupted".to_owned()))?;
    let r = http::request(
        api,
        "POST",
        &format!("/containers/create?name={name}"),
        Some(("application/json", &body)),
        deadline,
        LIMIT,
    )
    .map_err(|e| Created::Other(timeout_text(&e, ctx)))?;
    guard.set_stage(if r.status == 201 {
        Stage::Created
    } else {
        Stage::NotRequested
    });
    match r.status {
        201 => Ok(()),
        _ if docker_message(&r).contains(SOURCE_MISSING) => {
            let m = docker_message(&r);
            let path = m
                .split_once(SOURCE_MISSING)
                .map_or("", |(_, p)| p.trim_start_matches(':').trim());
            Err(Created::SourceMissing(path.to_owned()))
        }
        _ => Err(Created::Other(format!(
            "{} {}",
            r.status_line,
            docker_message(&r)
        ))),
    }
}

/// Imports the 0-byte probe image once; later runs find and reuse it, and within a run only
/// the first share check asks.
fn ensure_image(ctx: &Ctx<'_>, api: &Endpoint, deadline: Instant) -> Result<(), String> {
    let mut ready = ctx.image_ready.lock().unwrap_or_else(|e| e.into_inner());
    if *ready {
        return Ok(());
    }
    let r = http::request(
        api,
        "GET",
        &format!("/images/{PROBE_IMAGE}/json"),
        None,
        deadline,
        LIMIT,
    )
    .map_err(|e| timeout_text(&e, ctx))?;
    if r.status == 200 {
        *ready = true;
        return Ok(());
    }
    // An empty tar archive (two zero blocks) imports as an image with no files.
    let empty_tar = [0u8; 1024];
    let (repo, tag) = PROBE_IMAGE.split_once(':').expect("name:tag");
    let r = http::request(
        api,
        "POST",
        &format!("/images/create?fromSrc=-&repo={repo}&tag={tag}"),
        Some(("application/x-tar", &empty_tar)),
        deadline,
        LIMIT,
    )
    .map_err(|e| timeout_text(&e, ctx))?;
    // The import streams JSON progress; an error arrives as {"errorDetail": ...} with 200.
    if r.status != 200 || r.body_text().contains("\"errorDetail\"") {
        return Err(format!("{} {}", r.status_line, r.body_text().trim()));
    }
    *ready = true;
    Ok(())
}

fn docker_message(r: &Response) -> String {
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| r.body_text().trim().to_owned())
}

fn timeout_text(e: &HttpError, ctx: &Ctx<'_>) -> String {
    match e {
        HttpError::Silent(_) | HttpError::Stalled { .. } => format!(
            "the daemon did not answer within the {} deadline",
            human(ctx.timeout)
        ),
        e => e.to_string(),
    }
}

/// 128 random bits as hex, from the operating system.
fn random_hex() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system gives random bytes");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

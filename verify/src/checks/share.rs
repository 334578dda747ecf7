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
use camino::{Utf8Path, Utf8PathBuf};
use dockvm_engine::{Endpoint, EngineError, HttpError, PathStat, ProbeContainer};
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

/// One share's canary run: what it compares, and the words its findings use.
struct Canary<'a> {
    ctx: &'a Ctx<'a>,
    share: &'a Share,
    id: CheckId,
    deadline: Instant,
    /// The share's folder as this side sees it (WSL path, or the Windows folder).
    here: Utf8PathBuf,
    /// The same folder's path in the VM (its WSL path), and compose's, if linked.
    vm_path: Utf8PathBuf,
    compose: Option<Utf8PathBuf>,
    all_mounts: Vec<(String, &'static str)>,
    /// "in WSL" or "on Windows".
    here_name: &'static str,
    expected: String,
    pass_reason: String,
}

/// The probe file: its name (with the token) and its size.
struct Probe {
    file_name: String,
    size: u64,
}

impl Probe {
    fn is(&self, stat: &PathStat) -> bool {
        stat.name == self.file_name && stat.size == self.size
    }
}

pub fn check(ctx: &Ctx<'_>, share: &Share) -> Finding {
    let c = Canary::new(ctx, share);
    if let Some(missing) = c.missing_here() {
        return missing;
    }
    let api = match ctx.endpoint(c.id.clone()) {
        Ok(a) => a,
        Err(e) => return e.expected(c.expected.clone()),
    };
    let token = random_hex();
    let probe = Probe {
        file_name: format!(".{PROBE_PREFIX}{token}"),
        size: token.len() as u64,
    };
    let _file = match c.write_probe(&probe, &token) {
        Ok(guard) => guard,
        Err(f) => return *f,
    };
    if c.fast_path(api, &probe) {
        let kept = kept_name(ctx.spec, share);
        return c.f(Status::Pass, c.pass_reason.clone()).actual(format!(
            "probe file seen through the kept probe container {kept}"
        ));
    }
    let found = c.fallback(api, &probe);
    if found.status == Status::Pass {
        // The kept container was missing or looks elsewhere: make it anew for the next run.
        // A failure here costs only the fast path of the next run.
        let _ = renew_kept(api, &kept_name(ctx.spec, share), &c.all_mounts, c.deadline);
    }
    found
}

impl<'a> Canary<'a> {
    fn new(ctx: &'a Ctx<'a>, share: &'a Share) -> Canary<'a> {
        let here = ctx.local_path(share);
        let vm_path = ctx.spec.wsl_path(share);
        let compose = ctx.spec.compose_path(share);
        let and_compose = compose
            .as_ref()
            .map(|c| format!(", and at {c} for docker compose from Windows"))
            .unwrap_or_default();
        let windows = ctx.env.windows.is_some();
        let here_name = if windows { "on Windows" } else { "in WSL" };
        let expected = if windows {
            format!(
                "{} is the same folder at {vm_path} in the VM{and_compose}",
                share.host_path
            )
        } else {
            format!(
                "{} is the same folder at {here} in WSL and in the VM{and_compose}",
                share.host_path
            )
        };
        let pass_reason = format!(
            "{} is the same folder {here_name} and in the VM ({vm_path}){and_compose}: the daemon sees the file written here",
            share.host_path
        );
        Canary {
            ctx,
            share,
            id: CheckId::Share(share.name.to_string()),
            deadline: Instant::now() + ctx.timeout,
            all_mounts: mounts(ctx.spec, share),
            here,
            vm_path,
            compose,
            here_name,
            expected,
            pass_reason,
        }
    }

    fn f(&self, status: Status, reason: String) -> Finding {
        Finding::new(self.id.clone(), status, reason).expected(self.expected.clone())
    }

    /// This side first: without the folder here there is nothing to compare.
    fn missing_here(&self) -> Option<Finding> {
        let (ctx, share, here) = (self.ctx, self.share, &self.here);
        if here.is_dir() {
            return None;
        }
        if ctx.env.windows.is_some() {
            return Some(
                self.f(
                    Status::Fail,
                    format!("path missing on Windows: {here} does not exist"),
                )
                .actual(format!("{here} missing"))
                .hint("fix shares.host_path in the spec, or create the folder"),
            );
        }
        let drive = format!("{}{}", ctx.spec.wsl.automount_root, share.host_path.drive());
        let letter = share.host_path.drive().to_ascii_uppercase();
        Some(if Utf8Path::new(&drive).is_dir() {
            self.f(
                Status::Fail,
                format!("path missing in WSL: {here} does not exist"),
            )
            .actual(format!("{here} missing"))
            .hint(format!(
                "does {} exist on Windows? fix shares.host_path in the spec if not",
                share.host_path
            ))
        } else if !ctx.env.is_wsl {
            self.f(
                Status::Skip,
                format!("not on WSL, and {drive} (drive {letter}:) does not exist here"),
            )
        } else {
            self.f(Status::Fail, format!("drive {letter}: is not mounted at {drive} in WSL"))
                .actual(format!("{drive} missing"))
                .hint(format!(
                    "set `root = {}` under [automount] in /etc/wsl.conf (wsl/wsl.conf), then `wsl --shutdown`",
                    ctx.spec.wsl.automount_root
                ))
        })
    }

    /// Writes the probe file here (guarded: removed on every path, an interrupt included).
    fn write_probe(&self, probe: &Probe, token: &str) -> Result<Guard<'a>, Box<Finding>> {
        let path = self.here.join(&probe.file_name);
        let guard = self.ctx.cleanup.guard(Item::File(path.clone()));
        let written = guard.create(Stage::Created, || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut w| std::io::Write::write_all(&mut w, token.as_bytes()))
        });
        match written {
            Err(_) => Err(Box::new(self.f(Status::Error, "interrupted".to_owned()))),
            Ok(Err(e)) => Err(Box::new(
                self.f(Status::Error, format!("cannot write the probe file {path}: {e}"))
                    .actual(e.to_string())
                    .hint("verify writes (and removes) one small file in each share; give it write access"),
            )),
            Ok(Ok(())) => Ok(guard),
        }
    }

    /// The fast path: the kept container's stat of the probe at every bound path. Beside it,
    /// other runs' old probe files in this share go, and (in the first share check of a run)
    /// their old containers.
    fn fast_path(&self, api: &Endpoint, probe: &Probe) -> bool {
        let (ctx, deadline) = (self.ctx, self.deadline);
        let kept = kept_name(ctx.spec, self.share);
        let seen = |target: &str| {
            api.stat(&kept, &format!("{target}/{}", probe.file_name), deadline)
                .is_ok_and(|s| s.is_some_and(|s| probe.is(&s)))
        };
        std::thread::scope(|s| {
            s.spawn(|| ctx.sweep.files(&self.here, &probe.file_name));
            if ctx.sweep.claim() {
                s.spawn(|| ctx.sweep.containers(api, ctx.cleanup, deadline));
            }
            let others: Vec<_> = self.all_mounts[1..]
                .iter()
                .map(|(_, target)| s.spawn(|| seen(target)))
                .collect();
            let first = seen(TARGET);
            others
                .into_iter()
                .fold(first, |all, h| h.join().unwrap_or(false) && all)
        })
    }

    /// The slow path: a fresh container of this run's own (guarded), which tells a missing
    /// link, an unmounted share and a stale one apart; the WSL path judged first, compose's
    /// after.
    fn fallback(&self, api: &Endpoint, probe: &Probe) -> Finding {
        let (ctx, deadline) = (self.ctx, self.deadline);
        if let Err(e) = ensure_image(ctx, api, deadline) {
            return self
                .f(
                    Status::Error,
                    format!("cannot prepare the probe image {PROBE_IMAGE}: {e}"),
                )
                .actual(e);
        }
        let name = format!("{PROBE_PREFIX}{}", random_hex());
        let guard = ctx.cleanup.guard(Item::Container {
            api: api.clone(),
            name: name.clone(),
        });
        // The bind sources are the paths as the VM has them (the links tmpfiles made), on
        // either side. A missing compose path alone leaves the WSL path to probe, and is
        // reported after.
        let mut compose_missing = false;
        let mut result = create(ctx, api, &guard, &name, &self.all_mounts, deadline);
        if let (Err(Created::SourceMissing(missing)), Some(c)) = (&result, &self.compose)
            && missing == c.as_str()
        {
            compose_missing = true;
            result = create(ctx, api, &guard, &name, &self.all_mounts[..1], deadline);
        }
        match result {
            Ok(()) => {}
            Err(Created::SourceMissing(_)) => {
                let base = self.f(Status::Fail, String::new());
                return missing_in_vm(ctx, api, self.share, &self.vm_path, deadline, base);
            }
            Err(Created::Other(e)) => {
                return self
                    .f(
                        Status::Error,
                        format!("the daemon refused the probe container: {e}"),
                    )
                    .actual(e);
            }
        }
        let found = self.judge_wsl_path(api, &name, probe);
        // The WSL path first: when it fails, that is the root cause, whatever compose's does.
        if found.status != Status::Pass {
            return found;
        }
        self.judge_compose_path(api, &name, probe, compose_missing, found)
    }

    /// The fresh container's stat of the probe at the WSL path. The file's name holds a fresh
    /// 128-bit token, so finding it, with the size written, proves the same folder as reading
    /// it would.
    fn judge_wsl_path(&self, api: &Endpoint, name: &str, probe: &Probe) -> Finding {
        let (vm_path, here_name) = (&self.vm_path, self.here_name);
        let host_path = &self.share.host_path;
        let stale = || stale_hint(self.ctx, self.share);
        match api.stat(name, &format!("{TARGET}/{}", probe.file_name), self.deadline) {
            Ok(Some(s)) if probe.is(&s) => self
                .f(Status::Pass, format!("{host_path} is the same folder {here_name} and in the VM ({vm_path}): the daemon sees the file written here"))
                .actual("probe file seen through a fresh probe container"),
            Ok(Some(s)) => self
                .f(Status::Fail, format!("the VM sees other content at {} than was written {here_name}", vm_path.join(&probe.file_name)))
                .actual(format!("{}, {} bytes, not the {}-byte probe", s.name, s.size, probe.size))
                .hint(stale()),
            Ok(None) => self
                .f(Status::Fail, format!("the VM sees a different folder at {vm_path}: the file written {here_name} is not in it (a stale share, or a link to another folder)"))
                .actual("probe file not found by the daemon")
                .hint(stale()),
            Err(EngineError::BadStat(header)) => self
                .f(Status::Error, "the daemon's stat of the probe file is unreadable".to_owned())
                .actual(header),
            Err(EngineError::Status { status_line, .. }) => self
                .f(Status::Error, format!("looking for the probe: {status_line}"))
                .actual(status_line),
            Err(e) => self
                .f(Status::Error, format!("looking for the probe: {}", engine_text(&e, self.ctx)))
                .actual(e.to_string()),
        }
    }

    /// With compose's path linked: the same probe through it, once the WSL path passed.
    fn judge_compose_path(
        &self,
        api: &Endpoint,
        name: &str,
        probe: &Probe,
        missing: bool,
        found: Finding,
    ) -> Finding {
        let Some(c) = &self.compose else {
            return found;
        };
        let (vm_path, here_name, mount) = (&self.vm_path, self.here_name, self.share.vm_mount());
        if missing {
            return self
                .f(Status::Fail, format!("docker compose's path {c} is missing in the VM, though {vm_path} works: the link for compose is missing"))
                .actual(format!("{c} missing in the VM"))
                .hint(format!(
                    "in the VM: install vm/etc/tmpfiles.d/dockvm.conf and `systemd-tmpfiles --create /etc/tmpfiles.d/dockvm.conf` ({c} -> {mount}); or set compose_paths = false under [windows]"
                ));
        }
        match api.stat(name, &format!("{COMPOSE_TARGET}/{}", probe.file_name), self.deadline) {
            Ok(Some(s)) if probe.is(&s) => Finding {
                reason: self.pass_reason.clone(),
                ..found
            },
            Ok(_) | Err(EngineError::BadStat(_)) => self
                .f(Status::Fail, format!("docker compose's path {c} leads to another folder in the VM than {vm_path}: the file written {here_name} is not in it"))
                .actual(format!("probe file not found at {c} by the daemon"))
                .hint(format!("in the VM, `ls -ld {c}` must show a link to {mount}; remove what is there and run `systemd-tmpfiles --create /etc/tmpfiles.d/dockvm.conf`")),
            Err(EngineError::Status { status_line, .. }) => self
                .f(Status::Error, format!("looking for the probe at {c}: {status_line}"))
                .actual(status_line),
            Err(e) => self
                .f(Status::Error, format!("looking for the probe at {c}: {}", engine_text(&e, self.ctx)))
                .actual(e.to_string()),
        }
    }
}

/// Removes the kept container of a share if it exists, and creates it anew on `source`. A
/// concurrent run that created it first (409) is as good.
fn renew_kept(
    api: &Endpoint,
    kept: &str,
    mounts: &[(String, &str)],
    deadline: Instant,
) -> Result<(), String> {
    match api.remove(kept, deadline) {
        Ok(_) => {}
        Err(EngineError::Status { status_line, .. }) => return Err(status_line),
        Err(e) => return Err(e.to_string()),
    }
    match api.create_probe(kept, &probe_container(mounts, KEPT), deadline) {
        Ok(()) | Err(EngineError::Status { status: 409, .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// A probe container: the 0-byte image, the probe label, each mount read-only.
pub(super) fn probe_container<'a>(
    mounts: &'a [(String, &'a str)],
    label: &'a str,
) -> ProbeContainer<'a> {
    ProbeContainer {
        image: PROBE_IMAGE,
        label: (PROBE_LABEL, label),
        mounts,
    }
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

pub(super) enum Created {
    /// The daemon's "bind source path does not exist", with the path it names.
    SourceMissing(String),
    Other(String),
}

/// dockerd's words for a bind source that does not exist, followed by `: <path>`.
const SOURCE_MISSING: &str = "bind source path does not exist";

/// Creates the probe container `name`, keeping `guard` told how far it got.
pub(super) fn create(
    ctx: &Ctx<'_>,
    api: &Endpoint,
    guard: &Guard<'_>,
    name: &str,
    mounts: &[(String, &str)],
    deadline: Instant,
) -> Result<(), Created> {
    // From here until the answer, the container may exist: if no answer comes (a timeout),
    // the guard stays "in flight" and removal keeps trying. After an interrupt, nothing is sent.
    guard
        .create(Stage::InFlight, || ())
        .map_err(|_| Created::Other("interrupted".to_owned()))?;
    let r = api.create_probe(name, &probe_container(mounts, "true"), deadline);
    if let Err(EngineError::Http(e)) = &r {
        return Err(Created::Other(timeout_text(e, ctx)));
    }
    guard.set_stage(if r.is_ok() {
        Stage::Created
    } else {
        Stage::NotRequested
    });
    match r {
        Ok(()) => Ok(()),
        Err(EngineError::Status { message, .. }) if message.contains(SOURCE_MISSING) => {
            let path = message
                .split_once(SOURCE_MISSING)
                .map_or("", |(_, p)| p.trim_start_matches(':').trim());
            Err(Created::SourceMissing(path.to_owned()))
        }
        Err(e) => Err(Created::Other(e.to_string())),
    }
}

/// Imports the 0-byte probe image once; later runs find and reuse it, and within a run only
/// the first share check asks.
pub(super) fn ensure_image(ctx: &Ctx<'_>, api: &Endpoint, deadline: Instant) -> Result<(), String> {
    let mut ready = ctx.image_ready.lock().unwrap_or_else(|e| e.into_inner());
    if *ready {
        return Ok(());
    }
    if !api
        .image_exists(PROBE_IMAGE, deadline)
        .map_err(|e| engine_text(&e, ctx))?
    {
        api.import_empty(PROBE_IMAGE, deadline)
            .map_err(|e| engine_text(&e, ctx))?;
    }
    *ready = true;
    Ok(())
}

/// An engine error as a reason: no answer in time said as the deadline.
pub(super) fn engine_text(e: &EngineError, ctx: &Ctx<'_>) -> String {
    match e {
        EngineError::Http(e) => timeout_text(e, ctx),
        e => e.to_string(),
    }
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
pub(super) fn random_hex() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system gives random bytes");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

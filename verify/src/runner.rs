//! The runner: selects checks, runs each dependency level's checks concurrently (one thread
//! per check), gates dependents on their prerequisites, and with `wait` re-runs only what still
//! fails (and what was skipped for it) until everything passes or the time is up.

use crate::checks::{self, Ctx, Env};
use crate::cleanup::Registry;
use crate::finding::{Attempt, CheckId, Finding, Status};
use dockvm_spec::Spec;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which checks to run: `only` (empty: all) and `skip`, as ids or `share` for every share.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

impl Selection {
    /// The patterns that match no check of this spec.
    pub fn unknown(&self, spec: &Spec) -> Vec<String> {
        let ids = checks::all(spec);
        self.only
            .iter()
            .chain(&self.skip)
            .filter(|p| !ids.iter().any(|id| id.matches(p)))
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Each check's deadline.
    pub timeout: Duration,
    /// Keep re-running failing checks for this long.
    pub wait: Option<Duration>,
    pub selection: Selection,
    /// With `docker.tls`: the client certificate folder, instead of `DOCKER_CERT_PATH`.
    pub certs: Option<camino::Utf8PathBuf>,
    /// Probe files and containers older than this are other runs' leftovers
    /// ([`crate::sweep::DEFAULT_AGE`]).
    pub leftover_age: Duration,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    /// One per check, in spec order.
    pub findings: Vec<Finding>,
    pub duration: Duration,
    /// What this run removed of earlier runs that were killed.
    pub leftovers: crate::sweep::Leftovers,
}

impl Outcome {
    /// 0 all passed (warnings and skips allowed), 1 a check failed, 3 a check could not be
    /// evaluated (and none failed).
    pub fn exit_code(&self) -> u8 {
        if self.findings.iter().any(|f| f.status == Status::Fail) {
            1
        } else if self.findings.iter().any(|f| f.status == Status::Error) {
            3
        } else {
            0
        }
    }
}

/// Runs the selected checks of `spec`; `progress` hears about each attempt round (stderr).
pub fn run(
    spec: &Spec,
    env: &Env,
    opts: &Options,
    cleanup: &Registry,
    progress: &dyn Fn(&str),
) -> Outcome {
    let start = Instant::now();
    let image_ready = Mutex::new(false);
    let pinged = std::sync::OnceLock::new();
    let tls = spec
        .docker
        .tls
        .then(|| checks::tls::TlsSetup::load(spec, env, opts.certs.as_deref()));
    let api = checks::endpoint(spec, tls.as_ref());
    let sweep = crate::sweep::Sweep::new(opts.leftover_age);
    let ctx = Ctx {
        spec,
        env,
        timeout: opts.timeout,
        cleanup,
        image_ready: &image_ready,
        pinged: &pinged,
        tls: tls.as_ref(),
        api: &api,
        sweep: &sweep,
    };
    let all = checks::all(spec);
    let (selected, mut results) = select(&all, &opts.selection);
    run_with_retries(&ctx, opts, &selected, &mut results, start, progress);
    let findings = all
        .iter()
        .map(|id| results.remove(id).expect("every check has a finding"))
        .collect();
    Outcome {
        findings,
        duration: start.elapsed(),
        leftovers: sweep.removed(),
    }
}

/// The checks to run (the selected ones and their prerequisites, less `--skip`), and a
/// finding for each of the others saying why it did not run.
fn select(all: &[CheckId], sel: &Selection) -> (Vec<CheckId>, BTreeMap<CheckId, Finding>) {
    let wanted = |id: &CheckId| sel.only.is_empty() || sel.only.iter().any(|p| id.matches(p));
    // A selected check brings its prerequisites (and what explains it) along, and theirs:
    // they explain its failure.
    let mut brought: Vec<CheckId> = all.iter().filter(|id| wanted(id)).cloned().collect();
    loop {
        let more: Vec<CheckId> = all
            .iter()
            .filter(|id| !brought.contains(id))
            .filter(|id| {
                brought
                    .iter()
                    .any(|d| d.prerequisites().contains(id) || d.explained_by().contains(id))
            })
            .cloned()
            .collect();
        if more.is_empty() {
            break;
        }
        brought.extend(more);
    }
    let selected: Vec<CheckId> = all
        .iter()
        .filter(|id| brought.contains(id))
        .filter(|id| !sel.skip.iter().any(|p| id.matches(p)))
        .cloned()
        .collect();
    let mut results: BTreeMap<CheckId, Finding> = BTreeMap::new();
    for id in all.iter().filter(|id| !selected.contains(id)) {
        let why = if sel.skip.iter().any(|p| id.matches(p)) {
            "skipped by --skip"
        } else {
            "not selected by --only"
        };
        results.insert(id.clone(), Finding::new(id.clone(), Status::Skip, why));
    }
    (selected, results)
}

/// Runs the selected checks, and with `--wait` again what still fails (and what it skipped)
/// until it passes or the wait is over.
fn run_with_retries(
    ctx: &Ctx<'_>,
    opts: &Options,
    selected: &[CheckId],
    results: &mut BTreeMap<CheckId, Finding>,
    start: Instant,
    progress: &dyn Fn(&str),
) {
    let mut to_run = selected.to_vec();
    let mut round = 1;
    loop {
        run_round(ctx, &to_run, results);
        let failing: Vec<CheckId> = selected
            .iter()
            .filter(|id| results[*id].status.retryable())
            .cloned()
            .collect();
        let Some(wait) = opts.wait else { break };
        if failing.is_empty() || start.elapsed() >= wait {
            break;
        }
        let names: Vec<String> = failing.iter().map(ToString::to_string).collect();
        progress(&format!(
            "attempt {round}: still failing: {}; retrying",
            names.join(", ")
        ));
        std::thread::sleep(Duration::from_millis(500).min(wait.saturating_sub(start.elapsed())));
        // Again: what failed, and what was skipped because of it.
        to_run = selected
            .iter()
            .filter(|id| failing.contains(id) || results[*id].reason.starts_with("needs "))
            .cloned()
            .collect();
        round += 1;
    }
}

/// Runs `ids` level by level: a check starts once its prerequisites that run in this round
/// have finished; a level's checks run concurrently, one thread each. A check whose
/// prerequisite failed (or was itself skipped for that) is skipped with "needs `<id>`".
fn run_round(ctx: &Ctx<'_>, ids: &[CheckId], results: &mut BTreeMap<CheckId, Finding>) {
    let mut done: Vec<CheckId> = Vec::new();
    let mut pending: Vec<CheckId> = ids.to_vec();
    while !pending.is_empty() {
        let ready_now = |id: &CheckId| {
            id.prerequisites()
                .iter()
                .all(|p| !ids.contains(p) || done.contains(p))
        };
        let (mut ready, later): (Vec<CheckId>, Vec<CheckId>) =
            pending.into_iter().partition(ready_now);
        assert!(!ready.is_empty(), "prerequisites form no cycle");
        pending = later;
        // `vm` beside `port`, when both run now: their own pair (below).
        let pair = ready.contains(&CheckId::Vm) && ready.contains(&CheckId::Port);
        if pair {
            ready.retain(|id| *id != CheckId::Vm && *id != CheckId::Port);
        }
        let jobs: Vec<(CheckId, Option<Finding>)> = ready
            .into_iter()
            .map(|id| {
                let blocked = id
                    .prerequisites()
                    .iter()
                    .find(|p| results.get(*p).is_some_and(blocks));
                let gated =
                    blocked.map(|p| Finding::new(id.clone(), Status::Skip, format!("needs {p}")));
                (id, gated)
            })
            .collect();
        let finished: Vec<Finding> = std::thread::scope(|s| {
            let paired = pair.then(|| s.spawn(|| vm_beside_port(ctx)));
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|(id, gated)| {
                    s.spawn(move || {
                        gated.unwrap_or_else(|| {
                            let t = Instant::now();
                            let mut f = checks::run(&id, ctx);
                            f.duration = t.elapsed();
                            f
                        })
                    })
                })
                .collect();
            let mut all: Vec<Finding> = handles
                .into_iter()
                .map(|h| h.join().expect("a check panicked"))
                .collect();
            if let Some(p) = paired {
                let (vm, port) = p.join().expect("a check panicked");
                all.extend([vm, port]);
            }
            all
        });
        for mut f in finished {
            let mut attempts = results
                .remove(&f.id)
                .map(|old| old.attempts)
                .unwrap_or_default();
            attempts.push(Attempt {
                status: f.status,
                duration_ms: f.duration.as_millis() as u64,
                reason: f.reason.clone(),
            });
            f.attempts = attempts;
            done.push(f.id.clone());
            results.insert(f.id.clone(), f);
        }
    }
}

/// `vm` and `port` side by side (vmrun after the port's head start); whichever answer decides
/// first ends the pair. The port answers:
/// the VM runs at vm.ip, and vmrun's call is stopped (its finding says so, whatever it had
/// got). vmrun says the VM is not running (or fails otherwise): the one root cause, and the
/// port, still waiting for its connection on a thread of its own, is skipped for it ("needs
/// vm") without waiting. Otherwise both findings as they are. So the healthy path never waits
/// for vmrun, and a dead VM is named as soon as vmrun answers.
/// How long `vm` waits for `port` before it asks vmrun.
const PORT_HEAD_START: Duration = Duration::from_millis(100);

fn vm_beside_port(ctx: &Ctx<'_>) -> (Finding, Finding) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    enum Done {
        Vm(Finding),
        Port(Finding),
    }
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    // The port on a thread of its own, not scoped: a connect cannot be interrupted, and the
    // pair must not wait for one it no longer needs (it ends within the check's deadline).
    let (addr, timeout, port_tx) = (ctx.api_addr(), ctx.timeout, tx.clone());
    std::thread::spawn(move || {
        let mut f = checks::port::probe(addr, timeout);
        f.duration = start.elapsed();
        let _ = port_tx.send(Done::Port(f));
    });
    let cancel = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let vm_cancel = cancel.clone();
        s.spawn(move || {
            // A head start for the port: a VM that answers does so in a few milliseconds, and
            // then vmrun is not even started (each start is costly, more so through interop).
            while start.elapsed() < PORT_HEAD_START && !vm_cancel.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            if vm_cancel.load(Ordering::SeqCst) {
                return; // the port answered: vmrun is not wanted, not even started
            }
            let mut f = checks::vm::check_cancellable(ctx, vm_cancel);
            f.duration = start.elapsed();
            let _ = tx.send(Done::Vm(f));
        });
        let (mut vm, mut port) = (None, None);
        while let Ok(done) = rx.recv() {
            match done {
                Done::Port(f) => {
                    if matches!(f.status, Status::Pass | Status::Warn) {
                        cancel.store(true, Ordering::SeqCst);
                        let mut v = checks::vm::running_because_port_answers(ctx);
                        v.duration = start.elapsed();
                        return (v, f);
                    }
                    port = Some(f);
                }
                Done::Vm(f) => {
                    if blocks(&f) {
                        let mut p = Finding::new(CheckId::Port, Status::Skip, "needs vm");
                        p.duration = start.elapsed();
                        return (f, p);
                    }
                    vm = Some(f);
                }
            }
            if let (Some(v), Some(p)) = (&vm, &port) {
                return (v.clone(), p.clone());
            }
        }
        unreachable!("both threads send")
    })
}

/// Whether a prerequisite's finding makes its dependents meaningless.
fn blocks(f: &Finding) -> bool {
    matches!(f.status, Status::Fail | Status::Error)
        || (f.status == Status::Skip && f.reason.starts_with("needs "))
}

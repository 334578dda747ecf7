//! `dockvm clean`: removes everything verify leaves on purpose or by accident: every probe
//! container (label `dockvm.probe`: the kept ones and any a killed run left), the probe image,
//! and probe files in the shares. Says what it removed, and what it could not reach.

use crate::checks::share::{PROBE_IMAGE, PROBE_PREFIX};
use crate::checks::{self, Env};
use camino::{Utf8Path, Utf8PathBuf};
use dockvm_engine::{Endpoint, EngineError, Removed};
use dockvm_spec::Spec;
use std::time::{Duration, Instant};

/// What `clean` removed, and what it could not do.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub containers: Vec<String>,
    pub image: bool,
    pub files: Vec<Utf8PathBuf>,
    /// Each problem in one sentence (the daemon unreachable, a file that would not go).
    pub problems: Vec<String>,
}

/// Cleans the VM's daemon (over TLS with `docker.tls`, with the client files of `certs`,
/// `DOCKER_CERT_PATH` or the default folder) and this side's shares, each request within
/// `timeout`.
pub fn clean(spec: &Spec, env: &Env, certs: Option<&Utf8Path>, timeout: Duration) -> Cleaned {
    let mut out = Cleaned::default();
    let tls = spec
        .docker
        .tls
        .then(|| checks::tls::TlsSetup::load(spec, env, certs));
    match checks::endpoint(spec, tls.as_ref()) {
        Ok(api) => daemon(&api, timeout, &mut out),
        Err(e) => out.problems.push(format!(
            "cannot talk TLS to the Docker API: {e}; containers and image left"
        )),
    }
    for share in &spec.shares {
        let dir = checks::local_path(spec, env, share);
        files(&dir, &mut out);
    }
    out
}

fn daemon(api: &Endpoint, timeout: Duration, out: &mut Cleaned) {
    let probes = match crate::sweep::list(api, Instant::now() + timeout) {
        Ok(p) => p,
        Err(e) => {
            out.problems.push(format!(
                "cannot list the probe containers at {} ({e}): probe containers and image left",
                api.url()
            ));
            return;
        }
    };
    for name in probes.containers.into_iter().map(|p| p.name) {
        match api.remove(&name, Instant::now() + timeout) {
            Ok(Removed::Removed) => out.containers.push(name),
            Ok(Removed::Missing) => {}
            Err(EngineError::Status { status_line, .. }) => out
                .problems
                .push(format!("removing container {name} gave {status_line}")),
            Err(e) => out.problems.push(format!("removing container {name}: {e}")),
        }
    }
    match api.remove_image(PROBE_IMAGE, Instant::now() + timeout) {
        Ok(Removed::Removed) => out.image = true,
        Ok(Removed::Missing) => {}
        Err(EngineError::Status { status_line, .. }) => out
            .problems
            .push(format!("removing image {PROBE_IMAGE} gave {status_line}")),
        Err(e) => out
            .problems
            .push(format!("removing image {PROBE_IMAGE}: {e}")),
    }
}

fn files(dir: &Utf8Path, out: &mut Cleaned) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{PROBE_PREFIX}");
    for e in entries.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if !name.starts_with(&prefix) {
            continue;
        }
        let path = dir.join(&name);
        match std::fs::remove_file(&path) {
            Ok(()) => out.files.push(path),
            Err(e) => out.problems.push(format!("cannot remove {path}: {e}")),
        }
    }
}

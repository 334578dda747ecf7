//! `dockvm proxy`: the Docker Engine API on Docker's named pipe (Windows) or a Unix socket,
//! forwarded to the VM, Windows bind sources translated through the shares.

use super::{Failure, Outcome, load_spec};
use anyhow::anyhow;
use camino::Utf8PathBuf;
use dockvm_verify::checks::{self, Env};
use std::sync::Arc;

#[derive(clap::Args)]
#[command(after_help = r#"Examples (Windows, in cmd or PowerShell):
  dockvm proxy                              # serves \\.\pipe\docker_engine; DOCKER_HOST unset
  docker run --rm -v D:\projects\app:/src alpine ls /src
  docker run --rm -v %CD%:/src alpine ls /src
A Windows path in no share is refused before the daemon sees it (it would mount an empty folder)."#)]
pub struct Args {
    /// The spec (default: ./dockvm.toml, else dockvm.toml beside this program, else the embedded default).
    #[arg(long, value_name = "FILE")]
    spec: Option<Utf8PathBuf>,
    /// The client TLS files (with docker.tls; default DOCKER_CERT_PATH, else `~/.docker/dockvm-<vm>`).
    #[arg(long, value_name = "DIR")]
    certs: Option<Utf8PathBuf>,
    /// The pipe's name under \\.\pipe\ (Windows).
    #[arg(long, value_name = "NAME", default_value = "docker_engine")]
    pipe: String,
    /// Serve on this Unix socket instead (Linux and WSL).
    #[arg(long, value_name = "PATH")]
    unix: Option<Utf8PathBuf>,
    /// Log each request's method and path as it arrives (stderr).
    #[arg(long)]
    verbose: bool,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let (_, loaded) = load_spec(args.spec.as_deref())?;
    let spec = loaded.spec;
    let env = Env::from_process();
    let tls = spec
        .docker
        .tls
        .then(|| checks::tls::TlsSetup::load(&spec, &env, args.certs.as_deref()));
    let upstream = checks::endpoint(&spec, tls.as_ref())
        .map_err(|e| Failure::Input(anyhow!("cannot talk TLS to the Docker API: {e}")))?;
    let target = format!(
        "{}{}",
        upstream.url(),
        tls.as_ref()
            .map(|t| format!(" (client files {})", t.dir))
            .unwrap_or_default()
    );
    let proxy = Arc::new(dockvm_proxy::Proxy {
        spec,
        upstream,
        verbose: args.verbose,
    });
    if let Some(path) = &args.unix {
        return serve_unix(path, proxy, &target);
    }
    serve_pipe(&args.pipe, proxy, &target)
}

#[cfg(unix)]
fn serve_unix(
    path: &camino::Utf8Path,
    proxy: Arc<dockvm_proxy::Proxy>,
    target: &str,
) -> Result<Outcome, Failure> {
    let l = dockvm_proxy::unix::bind(path.as_std_path())
        .map_err(|e| Failure::Io(anyhow!("{path}: {e}")))?;
    eprintln!(
        "dockvm proxy: serving unix://{path} for VM {} -> {target}",
        proxy.spec.vm.name
    );
    dockvm_proxy::unix::serve(l, proxy).map_err(|e| Failure::Io(anyhow!("{path}: {e}")))?;
    Ok(Outcome::Ok)
}

#[cfg(not(unix))]
fn serve_unix(
    _: &camino::Utf8Path,
    _: Arc<dockvm_proxy::Proxy>,
    _: &str,
) -> Result<Outcome, Failure> {
    Err(Failure::Input(anyhow!(
        "--unix: Unix sockets are served on Linux; on Windows the proxy serves a named pipe (--pipe)"
    )))
}

#[cfg(windows)]
fn serve_pipe(
    name: &str,
    proxy: Arc<dockvm_proxy::Proxy>,
    target: &str,
) -> Result<Outcome, Failure> {
    use dockvm_proxy::pipe;
    if name.is_empty() || name.contains(['\\', '/']) {
        return Err(Failure::Input(anyhow!(
            "--pipe {name:?}: a pipe name is one name under \\\\.\\pipe\\ (no \\ or /), like docker_engine"
        )));
    }
    let l = pipe::Listener::bind(name).map_err(|e| match e {
        pipe::BindError::Held { .. } => Failure::Input(anyhow!(
            "{e}: stop it (Docker Desktop: quit it from its tray icon) or give this proxy another pipe with --pipe NAME (then DOCKER_HOST={})",
            pipe::url(&format!("dockvm-{}", proxy.spec.vm.name))
        )),
        e => Failure::Io(e.into()),
    })?;
    eprintln!(
        "dockvm proxy: serving {} for VM {} -> {target}",
        pipe::path(name),
        proxy.spec.vm.name
    );
    pipe::serve(l, proxy).map_err(|e| Failure::Io(anyhow!("{}: {e}", pipe::path(name))))?;
    Ok(Outcome::Ok)
}

#[cfg(not(windows))]
fn serve_pipe(_: &str, _: Arc<dockvm_proxy::Proxy>, _: &str) -> Result<Outcome, Failure> {
    Err(Failure::Input(anyhow!(
        "named pipes are Windows': on Linux give --unix PATH"
    )))
}

//! `docker-cli`: the `docker` the user's shell would run, found along `PATH` and never run. A
//! Windows `docker.exe` reached through WSL interop (a link to it, or a copy) gets Windows paths
//! and the Windows environment, so `-v $PWD:/x` and the profile's DOCKER_HOST do not reach it.

use super::Ctx;
use crate::finding::{CheckId, Finding, Status};
use camino::{Utf8Path, Utf8PathBuf};
use std::io::Read as _;

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let path = ctx.env.path.clone().unwrap_or_default();
    if let Some(w) = &ctx.env.windows {
        return windows(ctx, &path, &w.registry_path);
    }
    let Some(found) = first_on_path(&path, ':', "docker") else {
        return Finding::new(
            CheckId::DockerCli,
            Status::Fail,
            "no docker on PATH: the shell cannot run the Docker CLI",
        )
        .expected("a docker on PATH")
        .actual(format!("PATH={path}"))
        .hint("install the Linux Docker CLI here (Debian/Ubuntu: apt install docker.io, or docker-ce-cli from Docker's repository); Windows' docker.exe does not count");
    };
    let target = found.canonicalize_utf8().unwrap_or_else(|_| found.clone());
    let shown = if target == found {
        found.to_string()
    } else {
        format!("{found} -> {target}")
    };
    if is_windows_program(&target) {
        return Finding::new(
            CheckId::DockerCli,
            Status::Warn,
            format!(
                "docker on PATH is {shown}, Windows' docker.exe through interop: it gets Windows paths and the Windows environment, not this shell's DOCKER_HOST"
            ),
        )
        .expected("the Linux Docker CLI first on PATH")
        .actual(shown)
        .hint("install the Linux Docker CLI (apt install docker.io) and put it before the Windows one on PATH");
    }
    Finding::new(
        CheckId::DockerCli,
        Status::Pass,
        format!("docker is {shown}"),
    )
    .expected("a docker on PATH")
    .actual(shown)
}

/// On Windows: the first `docker.exe` along this terminal's PATH, and along the Path new
/// terminals get (the registry's), compared with `windows.docker_dir`.
fn windows(ctx: &Ctx<'_>, path: &str, registry_path: &str) -> Finding {
    let dir = ctx.spec.windows.docker_dir.as_str();
    let expected = format!("{dir}\\docker.exe first on PATH");
    let f = |status, reason: String| {
        Finding::new(CheckId::DockerCli, status, reason).expected(expected.clone())
    };
    let add = "add docker_dir to Path: windows\\add-docker-to-path.ps1 or `dockvm install`, then open a new terminal";
    match (
        first_on_path(path, ';', "docker.exe"),
        first_on_path(registry_path, ';', "docker.exe"),
    ) {
        (None, None) => f(Status::Fail, "no docker.exe on PATH: cmd and PowerShell cannot run docker".into())
            .actual(format!("PATH={path}"))
            .hint(add),
        (None, Some(r)) => f(
            Status::Fail,
            format!("this terminal's PATH has no docker.exe, new terminals find {r}: open a new one"),
        )
        .actual(format!("PATH={path}"))
        .hint("close this terminal and open a new one"),
        (Some(p), _)
            if p
                .parent()
                .is_some_and(|d| dockvm_platform::registry::same_dir(d.as_str(), dir)) =>
        {
            f(Status::Pass, format!("docker is {p}")).actual(p.to_string())
        }
        (Some(p), _) => f(
            Status::Warn,
            format!("the first docker.exe on PATH is {p}, not the one in windows.docker_dir {dir} (a Docker Desktop leftover?)"),
        )
        .actual(p.to_string())
        .hint(format!("remove {} from Path, or put {dir} before it", p.parent().map_or("its folder".into(), |d| d.to_string()))),
    }
}

/// The first `dir/name` along a PATH (entries split at `sep`, quotes around one dropped) that
/// is a file.
fn first_on_path(path: &str, sep: char, name: &str) -> Option<Utf8PathBuf> {
    path.split(sep)
        .map(|d| d.trim().trim_matches('"'))
        .filter(|d| !d.is_empty())
        .map(|d| Utf8Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A `.exe` name, or a file that starts as Windows programs do (`MZ`).
fn is_windows_program(p: &Utf8Path) -> bool {
    if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("exe")) {
        return true;
    }
    let mut magic = [0u8; 2];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"MZ")
}

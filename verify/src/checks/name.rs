//! `name`: `vm.hostname` resolves through the system resolver (getaddrinfo, as the docker CLI
//! does) to exactly `vm.ip`. Where the hosts files are readable, it says which file maps the
//! name to what, and when WSL's `/etc/hosts` disagrees with the Windows file it was copied from.

use super::{Ctx, human};
use crate::finding::{CheckId, Finding, Status};
use camino::{Utf8Path, Utf8PathBuf};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc;

/// The Windows hosts file as WSL sees it.
pub fn windows_hosts(ctx: &Ctx<'_>) -> Utf8PathBuf {
    Utf8PathBuf::from(format!(
        "{}c/Windows/System32/drivers/etc/hosts",
        ctx.spec.wsl.automount_root
    ))
}

/// A line of a hosts file that maps the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub file: Utf8PathBuf,
    pub line: usize,
    pub ip: String,
}

/// The mappings of `name` in a hosts file (case-insensitive, comments ignored); `None` when
/// the file cannot be read.
pub fn mappings(file: &Utf8Path, name: &str) -> Option<Vec<Mapping>> {
    let text = std::fs::read(file).ok()?;
    let text = String::from_utf8_lossy(&text);
    Some(
        text.lines()
            .enumerate()
            .filter_map(|(i, l)| {
                let l = l.split('#').next().unwrap_or("");
                let mut words = l.split_whitespace();
                let ip = words.next()?;
                words
                    .any(|w| w.eq_ignore_ascii_case(name))
                    .then(|| Mapping {
                        file: file.to_owned(),
                        line: i + 1,
                        ip: ip.to_owned(),
                    })
            })
            .collect(),
    )
}

pub fn check(ctx: &Ctx<'_>) -> Finding {
    let host = ctx.spec.vm.hostname.to_string();
    let want = IpAddr::V4(ctx.spec.vm.ip);
    let expected = format!("{host} -> {want}");
    let (tx, rx) = mpsc::channel();
    let q = host.clone();
    // getaddrinfo has no timeout of its own: ask in a thread, wait for it until the deadline.
    // A resolver that never answers leaves the thread behind; the process ends without it.
    std::thread::spawn(move || {
        let r = (q.as_str(), 0)
            .to_socket_addrs()
            .map(|it| it.map(|a| a.ip()).collect::<Vec<_>>());
        let _ = tx.send(r);
    });
    let sources = sources(ctx, &host);
    let (status, reason, actual) = match rx.recv_timeout(ctx.timeout) {
        Err(_) => (
            Status::Fail,
            format!(
                "the system resolver gave no answer for {host} within {}",
                human(ctx.timeout)
            ),
            "no answer".to_owned(),
        ),
        Ok(Err(e)) => (
            Status::Fail,
            format!("{host} does not resolve: {e}"),
            "no address".to_owned(),
        ),
        Ok(Ok(addrs)) => judge(&host, want, addrs),
    };
    let hint = hint(ctx, status, &host, want, sources.disagreement.as_deref());
    let actual = if sources.summary.is_empty() {
        actual
    } else {
        format!("{actual} ({})", sources.summary)
    };
    Finding::new(CheckId::Name, status, reason)
        .expected(expected)
        .actual(actual)
        .hint(hint)
}

/// The resolver's addresses for `host` against `want`: (status, reason, the addresses shown).
fn judge(host: &str, want: IpAddr, addrs: Vec<IpAddr>) -> (Status, String, String) {
    let mut unique: Vec<IpAddr> = Vec::new();
    for a in addrs {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    let shown = unique
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if unique == [want] {
        (Status::Pass, format!("{host} resolves to {want}"), shown)
    } else if !unique.contains(&want) {
        (
            Status::Fail,
            format!("{host} resolves to {shown}, not to vm.ip {want}"),
            shown,
        )
    } else if unique[0] == want {
        (
            Status::Warn,
            format!(
                "{host} resolves to {want} first, and also to {}",
                others(&unique, want)
            ),
            shown,
        )
    } else {
        (
            Status::Fail,
            format!(
                "{host} resolves to {shown}: {} comes before vm.ip {want}, so clients try it first",
                others(&unique, want)
            ),
            shown,
        )
    }
}

/// How to map the name on this side, and where the hosts files disagree.
fn hint(
    ctx: &Ctx<'_>,
    status: Status,
    host: &str,
    want: IpAddr,
    disagreement: Option<&str>,
) -> String {
    let mut hint = String::new();
    if status != Status::Pass
        && let Some(w) = &ctx.env.windows
    {
        hint = format!(
            "map it in {} as administrator (`dockvm install` in an elevated terminal, or the block of windows\\hosts.txt), then `ipconfig /flushdns`",
            w.hosts
        );
    } else if status != Status::Pass {
        hint = format!(
            "map it in the Windows hosts file (as administrator, the block of windows/hosts.txt) and run \
             `wsl --shutdown`, or add `{want} {host}` to {}",
            ctx.env.etc_hosts
        );
    }
    match disagreement {
        Some(note) if hint.is_empty() => note.to_owned(),
        Some(note) => format!("{note}; {hint}"),
        None => hint,
    }
}

fn others(all: &[IpAddr], want: IpAddr) -> String {
    all.iter()
        .filter(|a| **a != want)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

struct Sources {
    /// "… maps it to …" for each readable hosts file.
    summary: String,
    disagreement: Option<String>,
}

fn sources(ctx: &Ctx<'_>, host: &str) -> Sources {
    if let Some(w) = &ctx.env.windows {
        // Windows resolves through its own hosts file (and DNS): say which line maps the name.
        let summary = match mappings(&w.hosts, host) {
            None => format!("{} is not readable", w.hosts),
            Some(m) if m.is_empty() => format!("no line of {} maps it", w.hosts),
            Some(m) => format!(
                "{} {}",
                w.hosts,
                m.iter()
                    .map(|m| format!("line {}: {}", m.line, m.ip))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Sources {
            summary,
            disagreement: None,
        };
    }
    let linux = mappings(&ctx.env.etc_hosts, host);
    let win_path = windows_hosts(ctx);
    let windows = mappings(&win_path, host);
    let describe = |file: &Utf8Path, m: &Option<Vec<Mapping>>| -> Option<String> {
        let m = m.as_ref()?;
        Some(if m.is_empty() {
            format!("{file} does not map it")
        } else {
            let each: Vec<String> = m
                .iter()
                .map(|m| format!("line {}: {}", m.line, m.ip))
                .collect();
            format!("{file} {}", each.join(", "))
        })
    };
    let summary = [
        describe(&ctx.env.etc_hosts, &linux),
        describe(&win_path, &windows),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("; ");
    let ips = |m: &Option<Vec<Mapping>>| {
        m.as_ref()
            .map(|m| m.iter().map(|m| m.ip.clone()).collect::<Vec<_>>())
    };
    let disagreement = match (ips(&linux), ips(&windows)) {
        (Some(l), Some(w)) if l != w => Some(format!(
            "{} and the Windows hosts file disagree: WSL copies the Windows file only when the distribution \
             starts, so run `wsl --shutdown` and open a new terminal",
            ctx.env.etc_hosts
        )),
        _ => None,
    };
    Sources {
        summary,
        disagreement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Windows hosts file as Windows keeps it: CRLF, tabs, comments (one non-ASCII, in
    /// GBK), aliases, other case, a commented-out mapping, and the name twice.
    #[test]
    fn windows_hosts_lines_that_map_the_name_are_found_with_their_numbers() {
        let tmp = tempfile::tempdir().unwrap();
        let file = Utf8PathBuf::from_path_buf(tmp.path().join("hosts")).unwrap();
        std::fs::write(
            &file,
            b"# Copyright (c) 1993-2009 Microsoft Corp.\r\n\
              #\t192.168.130.9\tlocal.test\r\n\
              127.0.0.1\tlocalhost\r\n\
              # \xd5\xc5\xce\xb0\r\n\
              # BEGIN dockvm dev\r\n\
              192.168.130.2 LOCAL.Test  # the VM\r\n\
              # END dockvm dev\r\n\
              10.0.0.5\tother local.test.example local.test\r\n",
        )
        .unwrap();
        let m = mappings(&file, "local.test").unwrap();
        let got: Vec<(usize, &str)> = m.iter().map(|m| (m.line, m.ip.as_str())).collect();
        assert_eq!(got, [(6, "192.168.130.2"), (8, "10.0.0.5")]);
        assert_eq!(mappings(&file, "nowhere.test").unwrap(), []);
        assert!(mappings(&file.with_file_name("missing"), "local.test").is_none());
    }
}

//! Paths through the shares: a Windows path inside a share and the path WSL (and, through the
//! links, the VM) gives it, both ways, and the form `docker compose` gives a Windows bind
//! source (`COMPOSE_CONVERT_WINDOWS_PATHS=1`: compose-go's `convertVolumePath` lower-cases the
//! drive and turns `D:\projects\app` into `/d/projects/app`). Pure: `.` and `..` are resolved
//! as text, links are not followed.

use crate::{Share, Spec};

/// Which form to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Windows,
    Wsl,
    Compose,
}

/// Why a path cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("{path}: not inside a share of the spec; the shares are {shares}")]
    NotInShare { path: String, shares: String },
    #[error("{0}: not an absolute path (a Windows path like D:\\x, or a POSIX path like /mnt/d/x)")]
    NotAbsolute(String),
}

/// compose-go's `convertVolumePath`, as `docker compose` applies it to a bind source with
/// `COMPOSE_CONVERT_WINDOWS_PATHS=1` (after making a relative source absolute from the project
/// folder). A source whose volume name is a drive (`D:`) becomes `/`, the drive letter in lower
/// case, then the rest with every `\` turned to `/`. The rest keeps its case, so the VM's link
/// must be spelled as compose sends it. Anything else (a UNC path, a POSIX path) is left
/// alone: `None`.
pub fn compose_convert(source: &str) -> Option<String> {
    // Go's filepath.VolumeName on Windows: two bytes, an ASCII letter and ':'.
    let b = source.as_bytes();
    if b.len() < 2 || !b[0].is_ascii_alphabetic() || b[1] != b':' {
        return None;
    }
    Some(format!(
        "/{}{}",
        (b[0] as char).to_ascii_lowercase(),
        source[2..].replace('\\', "/")
    ))
}

/// Translates `path` (absolute: `D:\x` or `D:/x`, or `/mnt/d/x`, or compose's `/d/x`) to the
/// form `to`; without `to`, a Windows path becomes its WSL path and a POSIX path its Windows
/// path.
pub fn translate(spec: &Spec, path: &str, to: Option<To>) -> Result<String, PathError> {
    let (share, rest, windows_input) = locate(spec, path)?;
    let to = to.unwrap_or(if windows_input { To::Wsl } else { To::Windows });
    Ok(match to {
        To::Wsl => join(spec.wsl_path(share).as_str(), &rest, '/'),
        To::Windows => join(share.host_path.as_str(), &rest, '\\'),
        To::Compose => join(share.host_path.compose_path().as_str(), &rest, '/'),
    })
}

/// The share holding `path`, the components below it, and whether `path` was a Windows path.
fn locate<'a>(spec: &'a Spec, path: &str) -> Result<(&'a Share, Vec<String>, bool), PathError> {
    let b = path.as_bytes();
    let windows = b.len() >= 3
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b[2] == b'\\' || b[2] == b'/');
    let found = if windows {
        let drive = (b[0] as char).to_ascii_lowercase();
        let comps = normalize(&path[3..], &['\\', '/']);
        spec.shares.iter().find_map(|s| {
            (s.host_path.drive() == drive)
                .then(|| strip(&comps, s.host_path.components(), true))
                .flatten()
                .map(|rest| (s, rest))
        })
    } else if path.starts_with('/') {
        let comps = normalize(path, &['/']);
        // The WSL path first; then compose's `/<drive>/...` (the same with automount root `/`).
        spec.shares
            .iter()
            .find_map(|s| {
                let wsl = spec.wsl_path(s);
                strip(
                    &comps,
                    wsl.as_str().split('/').filter(|c| !c.is_empty()),
                    false,
                )
                .map(|rest| (s, rest))
            })
            .or_else(|| {
                spec.shares.iter().find_map(|s| {
                    let drive = s.host_path.drive().to_string();
                    let compose = std::iter::once(drive.as_str()).chain(s.host_path.components());
                    strip(&comps, compose, true).map(|rest| (s, rest))
                })
            })
    } else {
        return Err(PathError::NotAbsolute(path.to_owned()));
    };
    match found {
        Some((s, rest)) => Ok((s, rest, windows)),
        None => Err(PathError::NotInShare {
            path: path.to_owned(),
            shares: spec
                .shares
                .iter()
                .map(|s| format!("{} ({})", s.host_path, spec.wsl_path(s)))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The components of a path, `.` dropped and `..` taking one back (never above the root).
fn normalize(p: &str, seps: &[char]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.split(seps) {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_owned()),
        }
    }
    out
}

/// `comps` below `prefix`, compared without case for Windows names (`nocase`).
fn strip<'p>(
    comps: &[String],
    prefix: impl Iterator<Item = &'p str>,
    nocase: bool,
) -> Option<Vec<String>> {
    let prefix: Vec<&str> = prefix.collect();
    if comps.len() < prefix.len() {
        return None;
    }
    let same = |a: &str, b: &str| {
        if nocase {
            a.to_lowercase() == b.to_lowercase()
        } else {
            a == b
        }
    };
    prefix
        .iter()
        .zip(comps)
        .all(|(p, c)| same(p, c))
        .then(|| comps[prefix.len()..].to_vec())
}

fn join(base: &str, rest: &[String], sep: char) -> String {
    let mut p = base.trim_end_matches(sep).to_owned();
    if p.is_empty() || (sep == '\\' && p.ends_with(':')) {
        p.push(sep);
    }
    for c in rest {
        if !p.ends_with(sep) {
            p.push(sep);
        }
        p.push_str(c);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(root: &str) -> Spec {
        let text = format!(
            "[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.2\"\n[wsl]\nautomount_root = \"{root}\"\n\
             [[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n\
             [[shares]]\nname = \"work\"\nhost_path = 'E:\\工作\\a b'\n"
        );
        crate::load_str("t", &text).unwrap().spec
    }

    #[test]
    fn windows_and_wsl_and_compose_forms_of_share_paths() {
        let s = spec("/mnt/");
        let t = |p: &str, to| translate(&s, p, to);
        let table: &[(&str, Option<To>, &str)] = &[
            (r"D:\projects\a b", None, "/mnt/d/projects/a b"),
            (r"d:/projects/x/../y/./z", None, "/mnt/d/projects/y/z"),
            (r"D:\", None, "/mnt/d"),
            ("/mnt/d/projects/x", None, r"D:\projects\x"),
            ("/mnt/d", None, r"D:\"),
            (r"e:\工作\A B\src", None, "/mnt/e/工作/a b/src"),
            ("/mnt/e/工作/a b/src", None, r"E:\工作\a b\src"),
            (r"D:\projects\app", Some(To::Compose), "/d/projects/app"),
            ("/mnt/e/工作/a b", Some(To::Compose), "/e/工作/a b"),
            ("/d/projects/app", None, r"D:\projects\app"),
            ("/d/projects/app", Some(To::Wsl), "/mnt/d/projects/app"),
            (r"D:\x", Some(To::Windows), r"D:\x"),
        ];
        for (input, to, want) in table {
            assert_eq!(t(input, *to).as_deref(), Ok(*want), "{input} {to:?}");
        }
        let e = t(r"F:\elsewhere", None).unwrap_err().to_string();
        assert_eq!(
            e,
            r"F:\elsewhere: not inside a share of the spec; the shares are D:\ (/mnt/d), E:\工作\a b (/mnt/e/工作/a b)"
        );
        assert!(matches!(
            t("/home/me", None),
            Err(PathError::NotInShare { .. })
        ));
        assert!(matches!(
            t(r"E:\工作\a", None),
            Err(PathError::NotInShare { .. })
        ));
        assert_eq!(
            t("relative", None),
            Err(PathError::NotAbsolute("relative".into()))
        );
    }

    /// compose-go's rule, row by row as its code reads (`convertVolumePath`): the drive
    /// lower-cased, the rest as it was with `/` for `\`, anything without a drive untouched.
    #[test]
    fn compose_converts_a_bind_source_as_compose_go_does() {
        let table: &[(&str, Option<&str>)] = &[
            (r"D:\projects\app", Some("/d/projects/app")),
            (r"d:\projects\app", Some("/d/projects/app")),
            (r"D:\Projects\App", Some("/d/Projects/App")),
            (r"C:\Users\张三\代码\a b", Some("/c/Users/张三/代码/a b")),
            (r"D:/projects/app", Some("/d/projects/app")),
            (r"D:\projects/mixed\x", Some("/d/projects/mixed/x")),
            (r"D:\", Some("/d/")),
            (r"D:", Some("/d")),
            (r"D:\a\\b\", Some("/d/a//b/")),
            (r"\\server\share\x", None),
            (r"/home/me/app", None),
            (r"./dist", None),
            (r"1:\x", None),
            (r"", None),
        ];
        for (source, want) in table {
            assert_eq!(compose_convert(source).as_deref(), *want, "{source:?}");
        }
    }

    #[test]
    fn with_automount_root_slash_wsl_and_compose_forms_coincide() {
        let s = spec("/");
        assert_eq!(translate(&s, r"D:\p", None).as_deref(), Ok("/d/p"));
        assert_eq!(translate(&s, "/d/p", None).as_deref(), Ok(r"D:\p"));
        assert_eq!(
            translate(&s, "/d/p", Some(To::Compose)).as_deref(),
            Ok("/d/p")
        );
    }

    #[test]
    fn a_windows_path_goes_there_and_back() {
        let s = spec("/mnt/");
        for p in [
            r"D:\a\b c\d",
            r"D:\",
            r"E:\工作\a b",
            r"E:\工作\a b\深\x.txt",
        ] {
            let wsl = translate(&s, p, None).unwrap();
            assert_eq!(translate(&s, &wsl, None).unwrap(), *p, "{p} -> {wsl}");
            let compose = translate(&s, p, Some(To::Compose)).unwrap();
            assert_eq!(translate(&s, &compose, Some(To::Windows)).unwrap(), *p);
        }
    }
}

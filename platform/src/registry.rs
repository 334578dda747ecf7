//! Registry values as data: what install reads, sets and restores, and verify reads, kept as
//! raw type and bytes so that a restore gives back exactly what was there.

use serde::{Deserialize, Serialize};
use std::io;

/// Where a key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hive {
    /// `HKEY_CURRENT_USER`: the user's own values.
    CurrentUser,
    /// `HKEY_LOCAL_MACHINE`: system-wide values (read only, here).
    LocalMachine,
}

impl Hive {
    pub fn name(self) -> &'static str {
        match self {
            Hive::CurrentUser => "HKEY_CURRENT_USER",
            Hive::LocalMachine => "HKEY_LOCAL_MACHINE",
        }
    }
}

/// The system-wide environment, under `HKEY_LOCAL_MACHINE`.
pub const SYSTEM_ENVIRONMENT: &str =
    r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment";

/// A value, or `None` when it (or its key) does not exist. Elsewhere than on Windows, `None`.
pub fn get(hive: Hive, key: &str, name: &str) -> io::Result<Option<RegValue>> {
    #[cfg(windows)]
    return crate::windows::get(hive, key, name);
    #[cfg(not(windows))]
    {
        let _ = (hive, key, name);
        Ok(None)
    }
}

/// Sets a value under `HKEY_CURRENT_USER`, creating its key if needed.
pub fn set(key: &str, name: &str, value: &RegValue) -> io::Result<()> {
    #[cfg(windows)]
    return crate::windows::set(key, name, value);
    #[cfg(not(windows))]
    {
        let _ = (key, name, value);
        Err(no_registry())
    }
}

/// Deletes a value under `HKEY_CURRENT_USER`; one that does not exist is fine.
pub fn delete(key: &str, name: &str) -> io::Result<()> {
    #[cfg(windows)]
    return crate::windows::delete(key, name);
    #[cfg(not(windows))]
    {
        let _ = (key, name);
        Err(no_registry())
    }
}

/// Tells every top-level window that the environment changed, waiting at most 5 s for each.
pub fn broadcast_environment() -> Result<(), String> {
    #[cfg(windows)]
    return crate::windows::broadcast_environment();
    #[cfg(not(windows))]
    Err("not on Windows".into())
}

#[cfg(not(windows))]
fn no_registry() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "no registry on this system")
}

/// `HKCU\Environment`: the user's environment, read by every new process.
pub const ENVIRONMENT: &str = r"Environment";
/// `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`: programs started at sign-in.
pub const RUN: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";

pub const REG_SZ: u32 = 1;
pub const REG_EXPAND_SZ: u32 = 2;

/// A value's type and its bytes as the registry holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegValue {
    pub kind: u32,
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

impl RegValue {
    /// A string value of `kind` (REG_SZ or REG_EXPAND_SZ): UTF-16LE with its terminating NUL,
    /// as `RegSetValueExW` stores it.
    pub fn string(kind: u32, s: &str) -> RegValue {
        let mut data: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        data.extend_from_slice(&[0, 0]);
        RegValue { kind, data }
    }

    /// The text of a string value, without its terminating NULs; `None` for other types.
    pub fn text(&self) -> Option<String> {
        if self.kind != REG_SZ && self.kind != REG_EXPAND_SZ {
            return None;
        }
        let units: Vec<u16> = self
            .data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let end = units.iter().rposition(|u| *u != 0).map_or(0, |i| i + 1);
        Some(String::from_utf16_lossy(&units[..end]))
    }

    /// How a report shows it: the text, and the type when it is not REG_SZ.
    pub fn show(&self) -> String {
        match (self.kind, self.text()) {
            (REG_SZ, Some(t)) => t,
            (REG_EXPAND_SZ, Some(t)) => format!("{t} (REG_EXPAND_SZ)"),
            (k, _) => format!("<type {k}, {} bytes>", self.data.len()),
        }
    }
}

/// Whether two `Path` entries name the same folder, as Windows resolves them ([`dir_key`],
/// neither expanded).
pub fn same_dir(a: &str, b: &str) -> bool {
    dir_key(a, false) == dir_key(b, false)
}

/// Whether a `Path` value holds an entry naming `dir`: each entry as Windows resolves it,
/// `%VAR%` expanded when the value is REG_EXPAND_SZ (`expand`; in REG_SZ it is literal).
/// install (is docker_dir there already?) and verify share this one comparison.
pub fn path_has(path: &str, expand: bool, dir: &str) -> bool {
    let want = dir_key(dir, false);
    path.split(';')
        .any(|e| !e.trim().is_empty() && dir_key(e, expand) == want)
}

/// A `Path` entry as Windows resolves it, for comparison: surrounding quotes removed (cmd's
/// search accepts them), `%VAR%` expanded from this process's environment when `expand`, `/` as
/// `\`, `.` and `..` resolved, trailing separators dropped, case folded; on Windows, 8.3 short
/// names (`PROGRA~1`) made long when the folder exists. The value itself is never rewritten.
pub fn dir_key(entry: &str, expand: bool) -> String {
    dir_key_with(entry, expand, long_name)
}

/// [`dir_key`] with the 8.3 resolver given (Windows' `GetLongPathNameW` in dockvm; a table in
/// the tests, since Wine resolves no 8.3 name).
fn dir_key_with(entry: &str, expand: bool, long: impl Fn(&str) -> String) -> String {
    let e = entry.trim();
    let e = e
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(e);
    let e = if expand { expand_vars(e) } else { e.to_owned() };
    let e = long(&e.replace('/', "\\"));
    let mut parts: Vec<&str> = Vec::new();
    for (i, c) in e.split('\\').enumerate() {
        match c {
            "" | "." if i > 0 => {}
            ".." if parts.len() > 1 => {
                parts.pop();
            }
            ".." if i > 0 => {}
            c => parts.push(c),
        }
    }
    parts.join("\\").to_lowercase()
}

/// `%NAME%` replaced by this process's variable, as Windows expands REG_EXPAND_SZ values; an
/// unknown name stays as written.
pub fn expand_vars(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('%') {
            Some(j) if j > 0 => match std::env::var(&after[..j]) {
                Ok(v) => {
                    out.push_str(&v);
                    rest = &after[j + 1..];
                }
                Err(_) => {
                    out.push('%');
                    out.push_str(&after[..j]);
                    rest = &after[j..];
                }
            },
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A path with its 8.3 short names made long (GetLongPathNameW), when it has a `~` and exists.
fn long_name(p: &str) -> String {
    if p.contains('~') {
        long_path(p).unwrap_or_else(|| p.to_owned())
    } else {
        p.to_owned()
    }
}

#[cfg(windows)]
fn long_path(p: &str) -> Option<String> {
    crate::windows::long_path(p)
}

#[cfg(not(windows))]
fn long_path(_: &str) -> Option<String> {
    None
}

/// `path` with `dir` appended as one more `;`-separated entry.
pub fn path_with(path: &str, dir: &str) -> String {
    if path.is_empty() {
        dir.to_owned()
    } else if path.ends_with(';') {
        format!("{path}{dir}")
    } else {
        format!("{path};{dir}")
    }
}

/// `path` without its first entry equal to `dir` (the one install added); other entries, and
/// their order and separators, stay.
pub fn path_without(path: &str, dir: &str) -> String {
    let parts: Vec<&str> = path.split(';').collect();
    match parts.iter().rposition(|p| same_dir(p, dir)) {
        Some(i) => {
            let mut kept = parts.clone();
            kept.remove(i);
            kept.join(";")
        }
        None => path.to_owned(),
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b.iter().map(|x| format!("{x:02x}")).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        (0..s.len())
            .step_by(2)
            .map(|i| {
                s.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("not hex"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 8.3 case that Wine cannot show (it resolves no short name): a `Path` entry
    /// `C:\PROGRA~1\Docker` names docker_dir `C:\Program Files\Docker` once Windows' resolver
    /// (here a table, case-insensitive as GetLongPathNameW is) makes it long.
    #[test]
    fn an_8_3_entry_names_the_long_folder_it_resolves_to() {
        let long = |p: &str| p.to_lowercase().replace(r"\progra~1\", r"\program files\");
        let key = |e: &str| dir_key_with(e, false, long);
        assert_eq!(key(r"C:\PROGRA~1\Docker"), key(r"C:\Program Files\Docker"));
        assert_eq!(key(r"c:\progra~1\docker\"), key(r"C:\Program Files\Docker"));
        assert_ne!(key(r"C:\PROGRA~2\Docker"), key(r"C:\Program Files\Docker"));
        // Without the resolver (Linux), a short name stays as written.
        assert_ne!(
            dir_key(r"C:\PROGRA~1\Docker", false),
            dir_key(r"C:\Program Files\Docker", false)
        );
    }

    #[test]
    fn path_entries_are_added_once_and_removed_exactly() {
        let p = r"%USERPROFILE%\bin;C:\Tools\";
        let with = path_with(p, r"C:\Program Files\Docker");
        assert_eq!(with, r"%USERPROFILE%\bin;C:\Tools\;C:\Program Files\Docker");
        assert_eq!(path_without(&with, r"c:\program files\docker\"), p);
        assert_eq!(path_with("", "C:\\D"), "C:\\D");
        assert_eq!(path_without("C:\\D", "C:\\D"), "");
        assert_eq!(path_with("a;", "C:\\D"), "a;C:\\D");
        assert_eq!(path_without("a;C:\\D", "C:\\D"), "a");
    }

    #[test]
    fn string_values_round_trip_with_their_nul() {
        let v = RegValue::string(REG_EXPAND_SZ, "%USERPROFILE%\\中文");
        assert_eq!(&v.data[v.data.len() - 2..], &[0, 0]);
        assert_eq!(v.text().unwrap(), "%USERPROFILE%\\中文");
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<RegValue>(&json).unwrap(), v);
    }
}

//! Encoders: each turns a validated value into text its consumer reads back as that value,
//! and turns rendered text into the bytes (encoding, line endings) its consumer needs.
//!
//! The spec crate already refuses control characters and double quotes in every value; the
//! encoders still refuse what their format cannot carry, so no future caller can paste a
//! value that escapes its field.

use std::fmt::Write as _;

/// A value that this format cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format} cannot carry {value:?}: {why}")]
pub struct EncodeError {
    pub format: &'static str,
    pub value: String,
    pub why: &'static str,
}

fn refuse(format: &'static str, value: &str, why: &'static str) -> EncodeError {
    EncodeError {
        format,
        value: value.to_owned(),
        why,
    }
}

fn check_line(format: &'static str, s: &str) -> Result<(), EncodeError> {
    if s.chars().any(char::is_control) {
        return Err(refuse(format, s, "a control character would end the line"));
    }
    Ok(())
}

/// One argument of a command line in a .bat file, double-quoted.
///
/// Two parsers read it: cmd.exe expands `%` before it looks at quotes (so `%` is written
/// `%%`), and inside double quotes takes `& | < > ( ) ^` literally (`!` too, since every script
/// starts with `DisableDelayedExpansion`). Then the program's C runtime splits its command
/// line: backslashes are literal unless a run of them precedes a `"`, where each pair means one
/// backslash; so a trailing run is doubled (`D:\` is written `"D:\\"`).
pub fn bat_arg(s: &str) -> Result<String, EncodeError> {
    check_line("a .bat argument", s)?;
    if s.contains('"') {
        return Err(refuse(
            "a .bat argument",
            s,
            "a double quote cannot be passed through cmd reliably",
        ));
    }
    let trailing = s.len() - s.trim_end_matches('\\').len();
    let mut out = String::with_capacity(s.len() + 4);
    out.push('"');
    out.push_str(&s.replace('%', "%%"));
    out.push_str(&"\\".repeat(trailing));
    out.push('"');
    Ok(out)
}

/// A program path as the first word of a .bat command line: quoted, `%` doubled. The C
/// runtime reads `argv[0]` up to the closing quote without backslash rules, and cmd needs no
/// trailing-backslash care because a program path ends in a file name.
pub fn bat_program(s: &str) -> Result<String, EncodeError> {
    check_line("a .bat program path", s)?;
    if s.contains('"') || s.ends_with('\\') {
        return Err(refuse(
            "a .bat program path",
            s,
            "it must be a file path without quotes",
        ));
    }
    Ok(format!("\"{}\"", s.replace('%', "%%")))
}

/// A path field of a systemd-tmpfiles line: double-quoted when it holds anything but plain
/// characters, with `\` and `"` backslash-escaped (tmpfiles unquotes them) and `%` written `%%`
/// (tmpfiles expands `%` specifiers in paths).
pub fn tmpfiles_path(s: &str) -> Result<String, EncodeError> {
    check_line("a tmpfiles path", s)?;
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-.+,:@".contains(&b));
    let s = s.replace('%', "%%");
    if plain {
        return Ok(s);
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// The argument field of a tmpfiles line (the rest of the line, a link target here): only
/// plain characters are accepted, since its unquoting rules differ between line types.
pub fn tmpfiles_arg(s: &str) -> Result<String, EncodeError> {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b))
        && !s.is_empty()
    {
        Ok(s.to_owned())
    } else {
        Err(refuse(
            "a tmpfiles argument",
            s,
            "only a-z, 0-9, /, _, - and . are written there",
        ))
    }
}

/// A REG_SZ value in a .reg file, quoted: `\` written `\\` and `"` written `\"`.
pub fn reg_sz(s: &str) -> Result<String, EncodeError> {
    check_line("a .reg string", s)?;
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// A REG_EXPAND_SZ value line of a .reg file: `"NAME"=hex(2):` and the value's UTF-16LE
/// bytes with the terminating NUL, as regedit writes it (lines wrapped before 80 columns, a
/// `\` at the end of each but the last, continuation lines indented by two spaces). A .reg
/// file has no other way to say REG_EXPAND_SZ, the type that keeps `%USERPROFILE%` unexpanded.
pub fn reg_expand_sz_line(name: &str, value: &str) -> Result<String, EncodeError> {
    check_line("a .reg value name", name)?;
    check_line("a .reg string", value)?;
    let mut bytes: Vec<u8> = value.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bytes.extend_from_slice(&[0, 0]);
    let mut out = format!(
        "\"{}\"=hex(2):",
        name.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let mut line_start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let piece = if i + 1 < bytes.len() {
            format!("{b:02x},")
        } else {
            format!("{b:02x}")
        };
        if out.len() - line_start + piece.len() > 78 {
            out.push_str("\\\n  ");
            line_start = out.len() - 2;
        }
        out.push_str(&piece);
    }
    Ok(out)
}

/// A PowerShell single-quoted string. PowerShell treats the typographic single quotes
/// (U+2018..U+201B) as quotes too, and doubling is the escape for each of them.
pub fn ps_single(s: &str) -> Result<String, EncodeError> {
    check_line("a PowerShell string", s)?;
    let mut out = String::from("'");
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    Ok(out)
}

/// A POSIX shell word, single-quoted when it holds anything but plain characters
/// (`'` written `'\''`). For the commands in INSTALL.md.
pub fn sh_word(s: &str) -> Result<String, EncodeError> {
    check_line("a shell word", s)?;
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-.+,:@=".contains(&b))
    {
        return Ok(s.to_owned());
    }
    Ok(format!("'{}'", s.replace('\'', r"'\''")))
}

/// A fish single-quoted string: inside, only `\\` and `\'` are escapes.
pub fn fish_single(s: &str) -> Result<String, EncodeError> {
    check_line("a fish string", s)?;
    Ok(format!(
        "'{}'",
        s.replace('\\', "\\\\").replace('\'', "\\'")
    ))
}

/// The value of cmd's `SET "NAME=value"`: taken literally up to the last `"` of the line, so
/// only a `"` of its own could end it early.
pub fn cmd_set_value(s: &str) -> Result<String, EncodeError> {
    check_line("a cmd SET value", s)?;
    if s.contains('"') {
        return Err(refuse("a cmd SET value", s, "a double quote would end it"));
    }
    Ok(s.to_owned())
}

/// A TOML string: a literal string (`'D:\x'`, as people write Windows paths) when the value
/// has no `'`, else a basic string with `"` and `\` escaped; control characters refused (the
/// spec has none).
pub fn toml_str(s: &str) -> Result<String, EncodeError> {
    check_line("a TOML string", s)?;
    if !s.contains('\'') {
        return Ok(format!("'{s}'"));
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// A text that must stay ASCII (the Windows hosts file: a non-ASCII byte can disable a line).
pub fn ascii(s: &str) -> Result<String, EncodeError> {
    check_line("an ASCII field", s)?;
    if s.is_ascii() {
        Ok(s.to_owned())
    } else {
        Err(refuse("an ASCII field", s, "it must be ASCII"))
    }
}

/// LF text as CRLF (the text never holds a CR: every value was refused one).
pub fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// Text as UTF-16LE with a byte-order mark, what regedit writes and reads.
pub fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// Text as UTF-8 with a byte-order mark: Windows PowerShell 5.1 reads a .ps1 without one in
/// the ANSI code page, which would mangle non-ASCII paths.
pub fn utf8_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    out.extend_from_slice(text.as_bytes());
    out
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A Markdown code span that shows `s` verbatim, whatever backticks it holds.
pub fn md_code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if longest == 0 {
        format!("{fence}{s}{fence}")
    } else {
        format!("{fence} {s} {fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bat_args_double_percent_and_a_trailing_backslash_run() {
        assert_eq!(bat_arg(r"D:\").unwrap(), r#""D:\\""#);
        assert_eq!(bat_arg(r"D:\a\b").unwrap(), r#""D:\a\b""#);
        assert_eq!(bat_arg("100% & (x) ^!").unwrap(), r#""100%% & (x) ^!""#);
        assert!(bat_arg("a\"b").is_err());
        assert!(bat_arg("a\r\nb").is_err());
        assert_eq!(
            bat_program(r"C:\v 100%\vmrun.exe").unwrap(),
            r#""C:\v 100%%\vmrun.exe""#
        );
    }

    #[test]
    fn tmpfiles_paths_are_quoted_only_when_needed() {
        assert_eq!(tmpfiles_path("/mnt/d").unwrap(), "/mnt/d");
        assert_eq!(tmpfiles_path("/mnt/d/a b").unwrap(), r#""/mnt/d/a b""#);
        assert_eq!(tmpfiles_path("/mnt/d/50%").unwrap(), r#""/mnt/d/50%%""#);
        assert_eq!(tmpfiles_path("/mnt/d/x'y").unwrap(), r#""/mnt/d/x'y""#);
        assert!(tmpfiles_path("/a\nb").is_err());
        assert!(tmpfiles_arg("/mnt/hgfs/a b").is_err());
    }

    #[test]
    fn reg_ps_and_shell_strings_escape_their_quotes() {
        assert_eq!(reg_sz(r#"a\b"c"#).unwrap(), r#""a\\b\"c""#);
        assert_eq!(ps_single("it's ’24").unwrap(), "'it''s ’’24'");
        assert_eq!(sh_word("/mnt/d").unwrap(), "/mnt/d");
        assert_eq!(sh_word("/mnt/d/it's").unwrap(), r"'/mnt/d/it'\''s'");
        assert_eq!(md_code("a"), "`a`");
        assert_eq!(md_code("a`b"), "`` a`b ``");
    }

    #[test]
    fn toml_strings_read_back_as_written() {
        for v in [r"D:\x", "it's", r#"a "b" \ 'c'"#, "张伟 & 50%"] {
            let line = format!("k = {}", toml_str(v).unwrap());
            let t: toml::Table = line.parse().unwrap();
            assert_eq!(t["k"].as_str(), Some(v), "{line}");
        }
        assert!(toml_str("a\nb").is_err());
    }

    #[test]
    fn byte_encodings() {
        assert_eq!(crlf("a\nb\n"), "a\r\nb\r\n");
        assert_eq!(utf16le_bom("A工"), vec![0xFF, 0xFE, 0x41, 0x00, 0xE5, 0x5D]);
        assert_eq!(utf8_bom("A"), vec![0xEF, 0xBB, 0xBF, 0x41]);
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
    }
}

//! Edits of files that dockvm shares with their owner: a marked block (`# BEGIN dockvm <vm>` …
//! `# END dockvm <vm>`) in the hosts file or a shell profile, and one key of an INI file
//! (`root` under `[automount]` in `/etc/wsl.conf`). Everything works on bytes: a hosts file may
//! hold GBK comments, and every byte outside dockvm's part is kept, line endings included.

use std::ops::Range;

/// The lines of `text`, each with its line ending (the last may have none).
fn lines(text: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in text.iter().enumerate() {
        if *b == b'\n' {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// A line without its `\n` or `\r\n`.
fn content(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn begin(vm: &str) -> String {
    format!("# BEGIN dockvm {vm}")
}

fn end(vm: &str) -> String {
    format!("# END dockvm {vm}")
}

/// The byte range of VM `vm`'s block, from its BEGIN line to its END line's line ending. A
/// BEGIN without its END is no block: nothing after it is taken for dockvm's.
pub fn find_block(text: &[u8], vm: &str) -> Option<Range<usize>> {
    let (b, e) = (begin(vm), end(vm));
    let ls = lines(text);
    let first = ls
        .iter()
        .position(|l| content(&text[l.clone()]) == b.as_bytes())?;
    let last = ls[first..]
        .iter()
        .position(|l| content(&text[l.clone()]) == e.as_bytes())?;
    Some(ls[first].start..ls[first + last].end)
}

/// The VM names of the dockvm blocks in `text` other than `vm`'s.
pub fn other_blocks(text: &[u8], vm: &str) -> Vec<String> {
    lines(text)
        .into_iter()
        .filter_map(|l| {
            let c = content(&text[l]);
            let name = c.strip_prefix(b"# BEGIN dockvm ")?;
            let name = String::from_utf8_lossy(name).into_owned();
            (name != vm).then_some(name)
        })
        .collect()
}

/// `text` with VM `vm`'s block replaced by `block` where it stands, or `block` appended (after a
/// line ending if the last line has none: the file's own, CRLF if it uses CRLF).
pub fn put_block(text: &[u8], vm: &str, block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + block.len() + 2);
    match find_block(text, vm) {
        Some(r) => {
            out.extend_from_slice(&text[..r.start]);
            out.extend_from_slice(block);
            // The old END line had no line ending (end of file): neither gets the new one's.
            if !text[..r.end].ends_with(b"\n") && out.ends_with(b"\n") {
                out.pop();
                if out.ends_with(b"\r") {
                    out.pop();
                }
            }
            out.extend_from_slice(&text[r.end..]);
        }
        None => {
            out.extend_from_slice(text);
            if !text.is_empty() && !text.ends_with(b"\n") {
                out.extend_from_slice(line_ending(text));
            }
            out.extend_from_slice(block);
        }
    }
    out
}

/// `text` without VM `vm`'s block; unchanged when it has none.
pub fn remove_block(text: &[u8], vm: &str) -> Vec<u8> {
    match find_block(text, vm) {
        Some(r) => [&text[..r.start], &text[r.end..]].concat(),
        None => text.to_vec(),
    }
}

/// The line ending `text` uses: CRLF if any line ends so, else LF.
fn line_ending(text: &[u8]) -> &'static [u8] {
    if text.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// An INI section header's name (`[automount]` -> `automount`), if `line` is one.
fn section_name(line: &[u8]) -> Option<&[u8]> {
    let t = line.trim_ascii();
    t.strip_prefix(b"[")?
        .strip_suffix(b"]")
        .map(|n| n.trim_ascii())
}

/// The value of `key` in `line` (`key = value`), if the line sets that key.
fn key_value<'a>(line: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let t = line.trim_ascii();
    if t.starts_with(b"#") || t.starts_with(b";") {
        return None;
    }
    let eq = t.iter().position(|b| *b == b'=')?;
    (t[..eq].trim_ascii() == key.as_bytes()).then(|| t[eq + 1..].trim_ascii())
}

/// Where `key` of `[section]` stands: the line's range and its value.
pub fn find_key<'a>(text: &'a [u8], section: &str, key: &str) -> Option<(Range<usize>, &'a [u8])> {
    let mut inside = false;
    for l in lines(text) {
        let c = content(&text[l.clone()]);
        if let Some(name) = section_name(c) {
            inside = name == section.as_bytes();
        } else if inside && let Some(v) = key_value(c, key) {
            return Some((l, v));
        }
    }
    None
}

/// Whether two WSL automount roots mean the same folder (`/mnt` and `/mnt/`, quoted or not).
pub fn same_root(a: &[u8], b: &[u8]) -> bool {
    let norm = |v: &[u8]| {
        let v = v.trim_ascii();
        let v = v
            .strip_prefix(b"\"")
            .and_then(|x| x.strip_suffix(b"\""))
            .unwrap_or(v);
        let mut v = v.to_vec();
        while v.len() > 1 && v.ends_with(b"/") {
            v.pop();
        }
        v
    };
    norm(a) == norm(b)
}

/// `text` with `key = value` under `[section]`: the key's line replaced where it stands (its
/// line ending kept), or added right after the section's header, or the section appended.
/// Every other line, comment and section is kept.
pub fn set_key(text: &[u8], section: &str, key: &str, value: &str) -> Vec<u8> {
    let eol = line_ending(text);
    let new_line = |ending: &[u8]| [format!("{key} = {value}").as_bytes(), ending].concat();
    if let Some((r, _)) = find_key(text, section, key) {
        let ending: &[u8] = if text[..r.end].ends_with(b"\r\n") {
            b"\r\n"
        } else if text[..r.end].ends_with(b"\n") {
            b"\n"
        } else {
            b""
        };
        return [&text[..r.start], &new_line(ending), &text[r.end..]].concat();
    }
    for l in lines(text) {
        if section_name(content(&text[l.clone()])) == Some(section.as_bytes()) {
            let mut head = text[..l.end].to_vec();
            if !head.ends_with(b"\n") {
                head.extend_from_slice(eol);
            }
            return [&head[..], &new_line(eol), &text[l.end..]].concat();
        }
    }
    let mut out = text.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(format!("[{section}]").as_bytes());
    out.extend_from_slice(eol);
    out.extend_from_slice(&new_line(eol));
    out
}

/// `text` with `key` under `[section]` set back to `before` (its value in the original file),
/// or its line removed when the original had none; a section left without any line is removed
/// too when the original did not have it.
pub fn restore_key(text: &[u8], original: &[u8], section: &str, key: &str) -> Vec<u8> {
    match find_key(original, section, key) {
        Some((_, v)) => set_key(text, section, key, &String::from_utf8_lossy(v)),
        None => {
            let Some((r, _)) = find_key(text, section, key) else {
                return text.to_vec();
            };
            let mut out = [&text[..r.start], &text[r.end..]].concat();
            let had_section = lines(original)
                .into_iter()
                .any(|l| section_name(content(&original[l])) == Some(section.as_bytes()));
            if !had_section {
                out = remove_empty_section(&out, section);
            }
            out
        }
    }
}

/// Removes `[section]`'s header if no line but blank ones follows it before the next section.
fn remove_empty_section(text: &[u8], section: &str) -> Vec<u8> {
    let ls = lines(text);
    let Some(i) = ls
        .iter()
        .position(|l| section_name(content(&text[l.clone()])) == Some(section.as_bytes()))
    else {
        return text.to_vec();
    };
    let empty = ls[i + 1..]
        .iter()
        .take_while(|l| section_name(content(&text[(*l).clone()])).is_none())
        .all(|l| content(&text[l.clone()]).trim_ascii().is_empty());
    if !empty {
        return text.to_vec();
    }
    [&text[..ls[i].start], &text[ls[i].end..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &[u8] = b"# BEGIN dockvm dev\r\n1.2.3.4 local.test\r\n# END dockvm dev\r\n";

    #[test]
    fn blocks_are_appended_replaced_in_place_and_removed_keeping_other_bytes() {
        // A GBK comment (not UTF-8), an LF line among CRLF ones, no final newline.
        let old = b"127.0.0.1 localhost\r\n# \xd6\xd0\xce\xc4\n10.0.0.1 a";
        let added = put_block(old, "dev", BLOCK);
        assert_eq!(added, [&old[..], b"\r\n", BLOCK].concat());
        assert_eq!(put_block(&added, "dev", BLOCK), added);
        let moved = [b"x\n" as &[u8], BLOCK, b"y\n"].concat();
        let other = b"# BEGIN dockvm dev\r\n9.9.9.9 local.test\r\n# END dockvm dev\r\n";
        assert_eq!(
            put_block(&moved, "dev", other),
            [b"x\n" as &[u8], other, b"y\n"].concat()
        );
        assert_eq!(remove_block(&moved, "dev"), b"x\ny\n");
        assert_eq!(other_blocks(&moved, "prod"), vec!["dev".to_owned()]);
    }

    #[test]
    fn a_begin_without_end_is_not_a_block() {
        let t = b"# BEGIN dockvm dev\nuser line\n";
        assert_eq!(find_block(t, "dev"), None);
        assert_eq!(remove_block(t, "dev"), t);
    }

    #[test]
    fn set_key_keeps_every_other_line_and_restore_key_undoes_it() {
        let cases: &[&[u8]] = &[
            b"",
            b"# mine\r\n[boot]\r\nsystemd=true\r\n",
            b"[automount]\noptions = \"metadata\"\n[network]\nx=1\n",
            b"[automount]\nroot = /windir/\n",
        ];
        for old in cases {
            let new = set_key(old, "automount", "root", "/mnt/");
            let (_, v) = find_key(&new, "automount", "root").unwrap();
            assert!(same_root(v, b"/mnt/"), "{}", String::from_utf8_lossy(&new));
            assert_eq!(
                restore_key(&new, old, "automount", "root"),
                old.to_vec(),
                "{}",
                String::from_utf8_lossy(&new)
            );
        }
    }
}

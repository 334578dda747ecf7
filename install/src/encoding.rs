//! The one rule for the text encoding of every file install edits in place (the hosts file,
//! the shell profile, wsl.conf; tools.conf and vmnetdhcp.conf when they come): install edits
//! bytes, keeping every byte it does not own, so a file it edits must be one whose consumer
//! reads single-byte text (ASCII, UTF-8 with or without a BOM, an ANSI code page such as GBK):
//! dockvm's lines are ASCII, the same bytes in all of them.
//!
//! A UTF-16 file (Notepad's "Unicode", some hosts tools) is refused before anything changes.
//! Writing the block in UTF-16 would keep the file in one encoding, but its consumers do not
//! read UTF-16: Windows' resolver reads hosts as single-byte text, so none of the user's lines
//! there work today, and dockvm's would not either; bash and WSL read bytes. Appending single
//! bytes would leave a file in two encodings, which an editor then shows as garbage. So the
//! user re-saves it as UTF-8 (which keeps every character) and runs install again.

use camino::Utf8Path;

/// How a file's text is encoded, as far as install cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-16, little endian: a `FF FE` BOM, or (without one) NULs at odd offsets.
    Utf16Le,
    /// UTF-16, big endian: a `FE FF` BOM, or NULs at even offsets.
    Utf16Be,
    /// UTF-8 with a BOM (`EF BB BF`): kept, and dockvm's ASCII lines are UTF-8.
    Utf8Bom,
    /// Single-byte text as consumers read it: ASCII, UTF-8, or an ANSI code page.
    Bytes,
}

impl TextEncoding {
    pub fn of(bytes: &[u8]) -> TextEncoding {
        if bytes.starts_with(&[0xFF, 0xFE]) {
            return TextEncoding::Utf16Le;
        }
        if bytes.starts_with(&[0xFE, 0xFF]) {
            return TextEncoding::Utf16Be;
        }
        if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            return TextEncoding::Utf8Bom;
        }
        // UTF-16 without a BOM: ASCII text in it has a NUL beside every character. Text
        // files otherwise hold no NUL at all.
        let pairs = bytes.len() / 2;
        if pairs >= 2 {
            let odd = bytes.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
            let even = bytes.iter().step_by(2).filter(|b| **b == 0).count();
            if odd * 2 > pairs {
                return TextEncoding::Utf16Le;
            }
            if even * 2 > pairs {
                return TextEncoding::Utf16Be;
            }
        }
        TextEncoding::Bytes
    }

    fn utf16(self) -> Option<&'static str> {
        match self {
            TextEncoding::Utf16Le => Some("UTF-16 LE"),
            TextEncoding::Utf16Be => Some("UTF-16 BE"),
            _ => None,
        }
    }
}

/// `Ok` when install may edit `bytes` (the file at `path`, which `reader` reads) in place;
/// else the refusal, saying what the file is, why, and what to do.
pub fn editable(path: &Utf8Path, bytes: &[u8], reader: &str) -> Result<(), String> {
    let Some(name) = TextEncoding::of(bytes).utf16() else {
        return Ok(());
    };
    Err(format!(
        "{path} is saved as {name} (what Notepad calls \"Unicode\"): {reader} reads it as single-byte text, so its lines do not work now and dockvm's would not either, and adding them in single bytes would leave the file in two encodings. Save it as UTF-8 (Notepad: File > Save as > Encoding: UTF-8; every character is kept), check that its lines are as you want them, and run the command again. Nothing was changed."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut b = if bom { vec![0xFF, 0xFE] } else { vec![] };
        b.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        b
    }

    fn utf16be(s: &str, bom: bool) -> Vec<u8> {
        let mut b = if bom { vec![0xFE, 0xFF] } else { vec![] };
        b.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
        b
    }

    #[test]
    fn each_encoding_users_have_is_told_apart() {
        let text = "127.0.0.1 localhost\r\n# 张伟的 hosts\r\n";
        for (bytes, want) in [
            (utf16le(text, true), TextEncoding::Utf16Le),
            (utf16le(text, false), TextEncoding::Utf16Le),
            (utf16be(text, true), TextEncoding::Utf16Be),
            (utf16be(text, false), TextEncoding::Utf16Be),
            (
                [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
                TextEncoding::Utf8Bom,
            ),
            (text.as_bytes().to_vec(), TextEncoding::Bytes),
            (
                b"# \xd5\xc5\xce\xb0\r\n127.0.0.1 localhost".to_vec(),
                TextEncoding::Bytes,
            ),
            (Vec::new(), TextEncoding::Bytes),
            (b"x".to_vec(), TextEncoding::Bytes),
        ] {
            assert_eq!(TextEncoding::of(&bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn utf16_is_refused_with_the_way_out_and_the_rest_is_editable() {
        let p = Utf8Path::new(r"C:\Windows\System32\drivers\etc\hosts");
        let e = editable(p, &utf16le("127.0.0.1 x\r\n", true), "Windows' resolver").unwrap_err();
        assert!(
            e.contains("UTF-16 LE")
                && e.contains("Save it as UTF-8")
                && e.contains("Nothing was changed"),
            "{e}"
        );
        assert!(editable(p, b"127.0.0.1 x\r\n", "Windows' resolver").is_ok());
        assert!(editable(p, b"\xEF\xBB\xBF127.0.0.1 x\r\n", "Windows' resolver").is_ok());
    }
}

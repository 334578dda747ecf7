//! What vmrun prints, as text. vmrun writes narrow strings: UTF-8 on some hosts, the system's
//! ANSI code page on others (GBK, code page 936, on a Chinese Windows; Shift_JIS, 932, on a
//! Japanese one), so a path like `D:\虚拟机\dev.vmx` may come back in GBK. Valid UTF-8 is taken
//! as it is; otherwise the bytes are decoded with the ANSI code page when this process can ask
//! for it (dockvm.exe), then with the CJK code pages and Windows-1252, preferring the first that
//! decodes without error and, when the caller knows what the text should hold (a .vmx path),
//! one whose text holds it.

use encoding_rs::{BIG5, EUC_KR, Encoding, GBK, SHIFT_JIS, WINDOWS_1252};

/// The bytes as text; `hint`, when not empty, is text they should contain (compared as
/// Windows compares paths).
pub fn decode(bytes: &[u8], hint: &str) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let mut candidates: Vec<&'static Encoding> = ansi_code_page().into_iter().collect();
    candidates.extend([GBK, SHIFT_JIS, BIG5, EUC_KR, WINDOWS_1252]);
    let clean: Vec<String> = candidates
        .iter()
        .filter_map(|e| {
            let (text, had_errors) = e.decode_without_bom_handling(bytes);
            (!had_errors).then(|| text.into_owned())
        })
        .collect();
    if !hint.is_empty()
        && let Some(t) = clean.iter().find(|t| contains_path(t, hint))
    {
        return t.clone();
    }
    clean
        .into_iter()
        .next()
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Two Windows paths name the same file: case ignored, `/` and `\` alike.
pub fn same_path(a: &str, b: &str) -> bool {
    fold(a) == fold(b)
}

fn contains_path(text: &str, path: &str) -> bool {
    text.lines().any(|l| same_path(l.trim(), path))
}

fn fold(p: &str) -> String {
    p.replace('/', "\\").to_lowercase()
}

/// The system's ANSI code page as an encoding, in dockvm.exe; `None` elsewhere (from WSL, the
/// Windows side cannot be asked without starting a Windows program).
fn ansi_code_page() -> Option<&'static Encoding> {
    #[cfg(windows)]
    {
        // SAFETY: GetACP takes no arguments and only reads the system's setting.
        let cp = unsafe { windows_sys::Win32::Globalization::GetACP() };
        code_page(cp)
    }
    #[cfg(not(windows))]
    {
        None
    }
}

/// The encoding of a Windows code page number, for the ones vmrun's users have.
#[cfg_attr(not(windows), allow(dead_code))]
fn code_page(cp: u32) -> Option<&'static Encoding> {
    match cp {
        65001 => Some(encoding_rs::UTF_8),
        936 => Some(GBK),
        932 => Some(SHIFT_JIS),
        950 => Some(BIG5),
        949 => Some(EUC_KR),
        1250..=1258 => Encoding::for_label(format!("windows-{cp}").as_bytes()),
        _ => None,
    }
}

//! Diagnostics: what is wrong with a spec, where, and what would be valid.

use std::fmt;

/// One problem (or, as a warning, one risk) in a spec, located by file, line and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it (or the embedded default's label).
    pub file: String,
    /// 1-based line of the value (or of the table, for a missing key).
    pub line: usize,
    /// Dotted key path, e.g. `vm.ip` or `shares[1].host_path`.
    pub key: String,
    /// The offending value, as a TOML-like literal (strings quoted and escaped, so a control
    /// character in it shows as an escape and cannot break the message), when there is one.
    pub value: Option<String>,
    /// What is wrong and what would be valid; lower-case, no final period.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.key)?;
        if let Some(v) = &self.value {
            write!(f, " = {v}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A spec that could not be loaded: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        write!(
            f,
            "invalid spec ({n} problem{})",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

/// 1-based line number of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

//! What `gen` produces: artifacts with their bytes and what their consumer needs.

use camino::Utf8PathBuf;
use serde::Serialize;

/// Which system a file is installed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Vm,
    Windows,
    Wsl,
    /// Files that stay in the output tree (INSTALL.md, manifest.json).
    Tree,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    #[serde(rename = "ascii")]
    Ascii,
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    #[serde(rename = "utf-16le-bom")]
    Utf16LeBom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineEndings {
    Lf,
    Crlf,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Relative to the output folder, `/`-separated; one of the documented names.
    pub path: Utf8PathBuf,
    pub side: Side,
    /// Where it is installed on its side, if it is installed as a file.
    pub target: Option<String>,
    /// Mode to install it with.
    pub mode: u32,
    pub encoding: Encoding,
    pub line_endings: LineEndings,
    pub bytes: Vec<u8>,
}

//! dockvm gen: every artifact of the setup from a validated spec.
//!
//! [`render()`] is pure (spec in, artifacts out, byte-for-byte deterministic); [`write_tree`] is the
//! one small step that touches the file system: it writes an output tree atomically, removes
//! only files it generated before, and checks a tree without writing.

pub mod artifact;
pub mod encode;
pub mod render;
pub mod shell_env;
pub mod write;

pub use artifact::{Artifact, Encoding, LineEndings, Side};
pub use render::{
    InstallValues, LinkValue, MANIFEST, PinValues, RenderError, TlsValues, exec_start, render,
};
pub use write::{Drift, DriftKind, WriteError, WriteReport, check_tree, write_tree};

//! dockvm install / uninstall: put a tree written by `dockvm gen` onto one side (the VM, WSL
//! or Windows), and take it off again, exactly.
//!
//! The work is planned as data first ([`plan`]: reads only), then printed ([`apply::show`],
//! `--dry-run`) or applied ([`apply::apply`]). [`tree`] checks the generated tree against its
//! manifest; [`edit`] edits shared files (marked blocks, one INI key) byte for byte;
//! [`registry`] holds registry values as data; [`sys`] is the one place that touches the
//! system, with a Unix and a Windows half.

pub mod apply;
pub mod edit;
pub mod encoding;
pub mod json;
pub mod plan;
/// Registry values as data (in `dockvm-platform`, shared with verify).
pub use dockvm_platform::registry;
pub mod state;
pub mod sys;
pub mod tree;

pub use apply::{ApplyError, Summary, apply, show};
pub use plan::{Action, Look, Places, PlanError, Side, install, uninstall};
pub use tree::{Tree, TreeError};

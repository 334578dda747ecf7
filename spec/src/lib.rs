//! The dockvm spec: one TOML file (`dockvm.toml`) that describes the whole setup.
//!
//! Loading has two phases. The private `raw` module deserializes the TOML into types that keep every value's
//! span and refuse unknown keys; [`load_str`] then validates those into [`Spec`], whose types
//! cannot hold a bad value (an [`std::net::Ipv4Addr`], a [`WindowsPath`] known to be absolute
//! and free of quotes and control characters, ...). Validation collects every problem at once,
//! each as a [`Diagnostic`] naming the file, line, key, bad value and what would be valid.

pub mod context;
pub mod defaults;
mod diag;
mod load;
mod raw;
pub mod tls;
pub mod translate;
mod types;

pub use diag::{Diagnostic, SpecError};
pub use load::{Loaded, load_str};
pub use raw::schema;
pub use types::{
    Docker, Hostname, Package, PosixDir, ProfilePath, Share, ShareName, Spec, Vm, VmName, Vmware,
    Windows, WindowsEndpoint, WindowsPath, Wsl,
};

/// The embedded default spec: the seed setup, commented, as `dockvm init` writes it.
pub const DEFAULT_SPEC: &str = include_str!("../../examples/default.toml");

/// The label under which the embedded default spec appears in diagnostics.
pub const DEFAULT_SPEC_LABEL: &str = "<embedded default spec>";

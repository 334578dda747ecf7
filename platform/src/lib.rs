//! What dockvm needs of Windows itself, for install and verify alike: registry values under
//! `HKEY_CURRENT_USER` (read, set, delete) and `HKEY_LOCAL_MACHINE` (read), kept as raw type
//! and bytes, the `WM_SETTINGCHANGE` broadcast, and restarting a service. On other systems there is no registry: reads
//! find nothing and writes fail.

pub mod registry;
pub mod service;
#[cfg(windows)]
mod windows;

pub use registry::{Hive, RegValue};

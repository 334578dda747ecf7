//! What dockvm needs of Windows itself, for install and verify alike: registry values under
//! `HKEY_CURRENT_USER` (read, set, delete) and `HKEY_LOCAL_MACHINE` (read), kept as raw type
//! and bytes, the `WM_SETTINGCHANGE` broadcast, restarting a service, starting programs that
//! inherit only what they are given and open no window (`process`), and interrupts: signals on
//! Unix, the console's control events on Windows, close included (`interrupt`). On other systems there is no registry: reads
//! find nothing and writes fail.

pub mod interrupt;
pub mod process;
pub mod registry;
pub mod service;
#[cfg(windows)]
mod windows;

pub use registry::{Hive, RegValue};

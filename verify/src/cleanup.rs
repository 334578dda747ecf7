//! What verify creates, it removes: a registry of the probe files and containers that exist
//! right now. Each is registered before it is created and released (removed) when its check
//! is done, on every path, by a guard; on SIGINT or SIGTERM, [`install_interrupt_handler`]
//! removes whatever is still registered before the process exits.

use crate::http;
use camino::Utf8PathBuf;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Something verify created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A probe file under a share's WSL path.
    File(Utf8PathBuf),
    /// A probe container, by name (registered before the create request, so an interrupt
    /// during that request still removes it).
    Container { api: SocketAddr, name: String },
}

#[derive(Debug, Default)]
pub struct Registry {
    items: Mutex<BTreeMap<u64, Item>>,
    next: AtomicU64,
}

impl Registry {
    /// Registers an item; the guard removes it when dropped.
    pub fn guard(&self, item: Item) -> Guard<'_> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, item);
        Guard {
            registry: self,
            key,
        }
    }

    /// Removes every registered item (the interrupt path).
    pub fn remove_all(&self) {
        let items: Vec<Item> =
            std::mem::take(&mut *self.items.lock().unwrap_or_else(|e| e.into_inner()))
                .into_values()
                .collect();
        for item in items {
            remove(&item);
        }
    }

    /// What is registered now (for tests).
    pub fn pending(&self) -> Vec<Item> {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// Removes its item when dropped, unless the interrupt handler already did.
pub struct Guard<'a> {
    registry: &'a Registry,
    key: u64,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let item = self
            .registry
            .items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
        if let Some(item) = item {
            remove(&item);
        }
    }
}

fn remove(item: &Item) {
    match item {
        Item::File(p) => {
            let _ = std::fs::remove_file(p);
        }
        Item::Container { api, name } => {
            // force: the container never runs, but a half-created one must go too.
            let path = format!("/containers/{name}?force=1&v=1");
            let _ = http::request(
                *api,
                "DELETE",
                &path,
                None,
                Instant::now() + Duration::from_secs(5),
                64 * 1024,
            );
        }
    }
}

/// On SIGINT or SIGTERM, removes what is registered, then exits with 130.
pub fn install_interrupt_handler(registry: std::sync::Arc<Registry>) -> Result<(), String> {
    ctrlc::set_handler(move || {
        eprintln!("dockvm: interrupted; removing probe files and containers");
        registry.remove_all();
        std::process::exit(130);
    })
    .map_err(|e| e.to_string())
}

//! What verify creates, it removes: a registry of the probe files and containers that exist
//! right now. Each is registered before it is created and removed when its check is done, on
//! every path, by a guard; on SIGINT or SIGTERM, [`install_interrupt_handler`] removes whatever
//! is still registered before the process exits.

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

/// Where a container's creation stands, which decides how it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not asked for yet, or the daemon refused it: nothing to remove.
    NotRequested,
    /// The create request is under way: the container may appear at any moment.
    InFlight,
    /// The daemon created it.
    Created,
}

#[derive(Debug, Default)]
pub struct Registry {
    items: Mutex<BTreeMap<u64, (Item, Stage)>>,
    next: AtomicU64,
}

impl Registry {
    /// Registers an item; the guard removes it when dropped. A file counts as created at once
    /// (removing a file that is not there is harmless); a container starts not requested.
    pub fn guard(&self, item: Item) -> Guard<'_> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let stage = match item {
            Item::File(_) => Stage::Created,
            Item::Container { .. } => Stage::NotRequested,
        };
        self.lock().insert(key, (item, stage));
        Guard {
            registry: self,
            key,
        }
    }

    /// Removes every registered item (the interrupt path).
    pub fn remove_all(&self) {
        let items = std::mem::take(&mut *self.lock());
        for (item, stage) in items.into_values() {
            remove(&item, stage);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (Item, Stage)>> {
        // A panicking check must not keep the interrupt handler from cleaning up.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes its item when dropped, unless the interrupt handler already did.
pub struct Guard<'a> {
    registry: &'a Registry,
    key: u64,
}

impl Guard<'_> {
    /// Records how far the creation of the guarded container got.
    pub fn set_stage(&self, stage: Stage) {
        if let Some(entry) = self.registry.lock().get_mut(&self.key) {
            entry.1 = stage;
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let entry = self.registry.lock().remove(&self.key);
        if let Some((item, stage)) = entry {
            remove(&item, stage);
        }
    }
}

fn remove(item: &Item, stage: Stage) {
    match (item, stage) {
        (Item::File(p), _) => {
            let _ = std::fs::remove_file(p);
        }
        (Item::Container { .. }, Stage::NotRequested) => {}
        (Item::Container { api, name }, stage) => {
            // A create still under way can finish after a first DELETE found nothing (404),
            // or be refused while it runs (409): keep asking until the daemon has removed it,
            // within a bound. `force`: the container never runs, but must go in any state.
            let give_up =
                Instant::now() + Duration::from_secs(if stage == Stage::InFlight { 10 } else { 5 });
            let path = format!("/containers/{name}?force=1&v=1");
            while Instant::now() < give_up {
                let deadline = (Instant::now() + Duration::from_secs(5)).min(give_up);
                match http::request(*api, "DELETE", &path, None, deadline, 64 * 1024) {
                    Ok(r) if r.status == 204 || r.status == 200 => return,
                    Ok(r) if r.status == 404 && stage == Stage::Created => return,
                    _ => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
    }
}

/// Set once an interrupt is being handled: from then on the handler owns the exit.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// On SIGINT or SIGTERM, removes what is registered, then exits with 130.
pub fn install_interrupt_handler(registry: std::sync::Arc<Registry>) -> Result<(), String> {
    ctrlc::set_handler(move || {
        INTERRUPTED.store(true, Ordering::SeqCst);
        eprintln!("dockvm: interrupted; removing probe files and containers");
        registry.remove_all();
        std::process::exit(130);
    })
    .map_err(|e| e.to_string())
}

/// Called when a run is over: if an interrupt is being handled, waits for the handler to
/// finish its clean-up and exit, so the process neither reports nor exits before it.
pub fn wait_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

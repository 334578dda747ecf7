//! What verify creates, it removes: a registry of the probe files and containers that exist
//! right now. Each is registered before it is created and removed when its check is done, on
//! every path, by a guard; on SIGINT or SIGTERM, [`install_interrupt_handler`] removes whatever
//! is still registered before the process exits.

use camino::Utf8PathBuf;
use dockvm_engine::{Endpoint, Removed};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Something verify created.
#[derive(Debug, Clone)]
pub enum Item {
    /// A probe file under a share's WSL path.
    File(Utf8PathBuf),
    /// A probe container, by name (registered before the create request, so an interrupt
    /// during that request still removes it).
    Container { api: Endpoint, name: String },
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
    inner: Mutex<Inner>,
    next: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    items: BTreeMap<u64, (Item, Stage)>,
    /// Set by the interrupt handler when it takes the items: nothing may be created after.
    closed: bool,
}

/// The interrupt handler has taken over: the item must not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl Registry {
    /// Registers an item; the guard removes it when dropped. A file counts as created at once
    /// (removing a file that is not there is harmless); a container starts not requested.
    pub fn guard(&self, item: Item) -> Guard<'_> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let stage = match item {
            Item::File(_) => Stage::Created,
            Item::Container { .. } => Stage::NotRequested,
        };
        self.lock().items.insert(key, (item, stage));
        Guard {
            registry: self,
            key,
        }
    }

    /// Whether this run holds a container of that name (created, or being created).
    pub fn holds_container(&self, name: &str) -> bool {
        self.lock()
            .items
            .values()
            .any(|(i, _)| matches!(i, Item::Container { name: n, .. } if n == name))
    }

    /// Removes every registered item (the interrupt path), and closes the registry: a check
    /// that comes to create something after this is refused ([`Guard::create`]), so nothing
    /// appears that this removal did not see.
    pub fn remove_all(&self) {
        let items = {
            let mut inner = self.lock();
            inner.closed = true;
            std::mem::take(&mut inner.items)
        };
        for (item, stage) in items.into_values() {
            remove(&item, stage);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking check must not keep the interrupt handler from cleaning up.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes its item when dropped, unless the interrupt handler already did.
pub struct Guard<'a> {
    registry: &'a Registry,
    key: u64,
}

impl Guard<'_> {
    /// Creates the guarded item: runs `make` (which writes the file, or marks the start of a
    /// container's creation) holding the registry's lock, with the stage set to `stage`, or
    /// refuses when the interrupt handler has taken over. So the handler either runs before
    /// (and nothing is created) or after (and finds the item with its stage).
    pub fn create<T>(&self, stage: Stage, make: impl FnOnce() -> T) -> Result<T, Closed> {
        let mut inner = self.registry.lock();
        if inner.closed {
            return Err(Closed);
        }
        let Some(entry) = inner.items.get_mut(&self.key) else {
            return Err(Closed);
        };
        entry.1 = stage;
        Ok(make())
    }

    /// Records how far the creation of the guarded container got.
    pub fn set_stage(&self, stage: Stage) {
        if let Some(entry) = self.registry.lock().items.get_mut(&self.key) {
            entry.1 = stage;
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // Remove first, unregister after: an interrupt handler running in between still finds
        // the item and removes it too (a second removal is harmless), where unregistering
        // first let the handler exit while this removal was not yet sent.
        let entry = self.registry.lock().items.get(&self.key).cloned();
        if let Some((item, stage)) = entry {
            remove(&item, stage);
        }
        self.registry.lock().items.remove(&self.key);
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
            while Instant::now() < give_up {
                let deadline = (Instant::now() + Duration::from_secs(5)).min(give_up);
                match api.remove(name, deadline) {
                    Ok(Removed::Removed) => return,
                    Ok(Removed::Missing) if stage == Stage::Created => return,
                    _ => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
    }
}

/// Set once an interrupt is being handled: from then on the handler owns the exit.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// On SIGINT or SIGTERM (on Windows Ctrl-C, Ctrl-Break, the console closed, logoff or
/// shutdown), removes what is registered, then exits with 130. The exit comes from the handler
/// itself, so a closed console's wait ends only when the clean-up has.
pub fn install_interrupt_handler(registry: std::sync::Arc<Registry>) -> Result<(), String> {
    dockvm_platform::interrupt::set_handler(move || {
        INTERRUPTED.store(true, Ordering::SeqCst);
        eprintln!("dockvm: interrupted; removing probe files and containers");
        registry.remove_all();
        std::process::exit(130);
    })
}

/// Called when a run is over: if an interrupt is being handled, waits for the handler to
/// finish its clean-up and exit, so the process neither reports nor exits before it.
pub fn wait_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

//! Interrupts, one interface on both systems: SIGINT, SIGTERM and SIGHUP on Unix (through the
//! ctrlc crate), the console's control events on Windows (a handler of dockvm's own).
//!
//! Why not the ctrlc crate on Windows: its handler returns TRUE at once for every event. For
//! Ctrl-C and Ctrl-Break that is right, but for `CTRL_CLOSE_EVENT` (the console window closed),
//! `CTRL_LOGOFF_EVENT` and `CTRL_SHUTDOWN_EVENT` Windows ends the process as soon as the handler
//! returns, so install's promise (an interrupt lands between two actions) and verify's and
//! up's clean-up (no probe left) would hold for Ctrl-C only. Here, for those three, the handler
//! starts the same work as for Ctrl-C and then waits, bounded by [`CLOSE_GRACE`] (Windows
//! allows about 5 s), until the program says its clean-up is [`done`].

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a close, logoff or shutdown event waits for the clean-up: under the 5 s Windows
/// gives a console process before it ends it anyway.
pub const CLOSE_GRACE: Duration = Duration::from_millis(4_500);

/// The console control events (`wincon.h`).
pub const CTRL_C_EVENT: u32 = 0;
pub const CTRL_BREAK_EVENT: u32 = 1;
pub const CTRL_CLOSE_EVENT: u32 = 2;
pub const CTRL_LOGOFF_EVENT: u32 = 5;
pub const CTRL_SHUTDOWN_EVENT: u32 = 6;

type Handler = Box<dyn Fn() + Send + Sync>;

/// The handler and the clean-up's end, shared by the event threads and [`done`].
pub struct State {
    handler: Mutex<Handler>,
    finished: Mutex<bool>,
    ended: Condvar,
}

impl State {
    pub fn new(handler: impl Fn() + Send + Sync + 'static) -> State {
        State {
            handler: Mutex::new(Box::new(handler)),
            finished: Mutex::new(false),
            ended: Condvar::new(),
        }
    }

    /// The clean-up is over: a close event waiting in [`State::on_event`] returns.
    pub fn done(&self) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.ended.notify_all();
    }

    /// What the console control handler does with `event`, and what it returns (TRUE: handled).
    /// Ctrl-C and Ctrl-Break run the handler (one at a time) and return. Close, logoff and
    /// shutdown run it too, then wait until [`State::done`] or `grace` has passed, since Windows
    /// ends the process when this returns. Any other event is not dockvm's (FALSE).
    pub fn on_event(&self, event: u32, grace: Duration) -> bool {
        match event {
            CTRL_C_EVENT | CTRL_BREAK_EVENT => {
                self.run();
                true
            }
            CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT => {
                let until = Instant::now() + grace;
                self.run();
                let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
                while !*finished {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    finished = self
                        .ended
                        .wait_timeout(finished, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                true
            }
            _ => false,
        }
    }

    fn run(&self) {
        let handler = self.handler.lock().unwrap_or_else(|e| e.into_inner());
        handler();
    }
}

static STATE: OnceLock<State> = OnceLock::new();

/// Runs `handler` on each interrupt, on a thread of its own: Ctrl-C, Ctrl-Break, the console
/// closed, logoff and shutdown on Windows; SIGINT, SIGTERM and SIGHUP on Unix. Once per
/// process.
pub fn set_handler(handler: impl Fn() + Send + Sync + 'static) -> Result<(), String> {
    if STATE.set(State::new(handler)).is_err() {
        return Err("an interrupt handler is already set".into());
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
        unsafe extern "system" fn routine(event: u32) -> windows_sys::core::BOOL {
            match STATE.get() {
                Some(s) => s.on_event(event, CLOSE_GRACE) as windows_sys::core::BOOL,
                None => 0,
            }
        }
        // SAFETY: the routine is a plain function that lives as long as the process.
        if unsafe { SetConsoleCtrlHandler(Some(routine), 1) } == 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(())
    }
    #[cfg(unix)]
    {
        ctrlc::set_handler(|| {
            if let Some(s) = STATE.get() {
                s.run();
            }
        })
        .map_err(|e| e.to_string())
    }
}

/// The clean-up an interrupt started is over: on Windows, a close, logoff or shutdown event
/// waiting for it returns (and Windows ends the process). Harmless when no interrupt came.
pub fn done() {
    if let Some(s) = STATE.get() {
        s.done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn counting() -> (Arc<State>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let state = Arc::new(State::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }));
        (state, calls)
    }

    #[test]
    fn ctrl_c_and_break_run_the_handler_and_return_at_once() {
        let (state, calls) = counting();
        for event in [CTRL_C_EVENT, CTRL_BREAK_EVENT] {
            let t = Instant::now();
            assert!(state.on_event(event, Duration::from_secs(30)));
            assert!(t.elapsed() < Duration::from_secs(5), "{event} waited");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_closed_console_returns_only_once_the_clean_up_is_done() {
        for event in [CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT] {
            // The handler sets the interrupt flag, as install's does; the "main thread" sees it,
            // finishes its action, and says done. Windows would end the process when on_event
            // returns: it must not return before.
            let flag = Arc::new(AtomicBool::new(false));
            let cleaned = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let state = Arc::new(State::new(move || f.store(true, Ordering::SeqCst)));
            let main = {
                let (flag, cleaned, state) = (flag.clone(), cleaned.clone(), state.clone());
                std::thread::spawn(move || {
                    while !flag.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    std::thread::sleep(Duration::from_millis(300));
                    cleaned.store(true, Ordering::SeqCst);
                    state.done();
                })
            };
            let t = Instant::now();
            assert!(state.on_event(event, Duration::from_secs(30)));
            assert!(flag.load(Ordering::SeqCst), "{event}: the flag is not set");
            assert!(
                cleaned.load(Ordering::SeqCst),
                "{event}: returned before the clean-up was done"
            );
            assert!(t.elapsed() >= Duration::from_millis(300));
            assert!(t.elapsed() < Duration::from_secs(10));
            main.join().unwrap();
        }
    }

    #[test]
    fn a_clean_up_that_never_ends_is_waited_for_within_the_grace_only() {
        let (state, calls) = counting();
        let t = Instant::now();
        assert!(state.on_event(CTRL_CLOSE_EVENT, Duration::from_millis(200)));
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Done before the event (the run was over already): no wait at all.
        state.done();
        let t = Instant::now();
        assert!(state.on_event(CTRL_CLOSE_EVENT, Duration::from_secs(30)));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn other_events_are_not_dockvm_s() {
        let (state, calls) = counting();
        assert!(!state.on_event(3, Duration::from_secs(1)));
        assert!(!state.on_event(7, Duration::from_secs(1)));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

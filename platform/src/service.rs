//! Windows services, through the service control manager: the one dockvm drives is VMware's
//! DHCP service (`VMnetDHCP`), which reads `vmnetdhcp.conf` only when it starts.

use std::time::Duration;

/// Why a service could not be restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// No service of that name is installed.
    NotInstalled,
    /// The service manager refused or the service did not come back in time.
    Failed(String),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::NotInstalled => f.write_str("the service is not installed"),
            ServiceError::Failed(why) => f.write_str(why),
        }
    }
}

/// Stops the service (if it runs) and starts it again, waiting at most `timeout` for each.
pub fn restart(name: &str, timeout: Duration) -> Result<(), ServiceError> {
    #[cfg(windows)]
    return imp::restart(name, timeout);
    #[cfg(not(windows))]
    {
        let _ = (name, timeout);
        Err(ServiceError::Failed("not on Windows".into()))
    }
}

/// The stop half of a restart as data (used on Windows, tested everywhere).
#[cfg_attr(not(windows), allow(dead_code))]
mod pending {
    /// Service states (`winsvc.h`).
    pub const STOPPED: u32 = 1;
    pub const START_PENDING: u32 = 2;
    pub const STOP_PENDING: u32 = 3;
    pub const CONTINUE_PENDING: u32 = 5;
    pub const PAUSE_PENDING: u32 = 6;

    /// What the stop half of a restart does next, given the service's state: a service in any
    /// `*_PENDING` state refuses controls (error 1061, `ERROR_SERVICE_CANNOT_ACCEPT_CTRL`), so that
    /// state is waited out; a stopped one is done; any other (running, paused) is sent the stop.
    #[derive(Debug, PartialEq, Eq)]
    pub enum StopStep {
        Done,
        Wait,
        Send,
    }

    pub fn stop_step(state: u32) -> StopStep {
        match state {
            STOPPED => StopStep::Done,
            START_PENDING | STOP_PENDING | CONTINUE_PENDING | PAUSE_PENDING => StopStep::Wait,
            _ => StopStep::Send,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pending::*;

    #[test]
    fn a_pending_service_is_waited_out_before_it_is_stopped() {
        assert_eq!(stop_step(STOPPED), StopStep::Done);
        for pending in [START_PENDING, STOP_PENDING, CONTINUE_PENDING, PAUSE_PENDING] {
            assert_eq!(stop_step(pending), StopStep::Wait, "{pending}");
        }
        for sendable in [4, 7] {
            assert_eq!(stop_step(sendable), StopStep::Send, "{sendable}");
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::ServiceError;
    use std::time::{Duration, Instant};
    use windows_sys::Win32::Foundation::{
        ERROR_SERVICE_ALREADY_RUNNING, ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
        ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SERVICE_NOT_ACTIVE, GetLastError,
    };
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, ControlService, OpenSCManagerW, OpenServiceW, QueryServiceStatus,
        SC_HANDLE, SC_MANAGER_CONNECT, SERVICE_CONTROL_STOP, SERVICE_QUERY_STATUS, SERVICE_RUNNING,
        SERVICE_START, SERVICE_STATUS, SERVICE_STOP, StartServiceW,
    };

    struct Handle(SC_HANDLE);
    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: the handle came from OpenSCManagerW/OpenServiceW and is closed once.
            unsafe { CloseServiceHandle(self.0) };
        }
    }

    fn failed(what: &str) -> ServiceError {
        // SAFETY: reads this thread's last error.
        let e = unsafe { GetLastError() };
        ServiceError::Failed(format!(
            "{what}: {}",
            std::io::Error::from_raw_os_error(e as i32)
        ))
    }

    fn wait_for(
        svc: &Handle,
        state: u32,
        timeout: Duration,
        what: &str,
    ) -> Result<(), ServiceError> {
        let deadline = Instant::now() + timeout;
        loop {
            // SAFETY: a zeroed SERVICE_STATUS is valid; the handle is open.
            let mut st: SERVICE_STATUS = unsafe { std::mem::zeroed() };
            if unsafe { QueryServiceStatus(svc.0, &mut st) } == 0 {
                return Err(failed("cannot ask the service's state"));
            }
            if st.dwCurrentState == state {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::Failed(format!(
                    "it did not {what} within {timeout:?} (state {})",
                    st.dwCurrentState
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn restart(name: &str, timeout: Duration) -> Result<(), ServiceError> {
        let wname: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
        // SAFETY: null machine and database names mean this machine's active database.
        let scm = unsafe { OpenSCManagerW(std::ptr::null(), std::ptr::null(), SC_MANAGER_CONNECT) };
        if scm.is_null() {
            return Err(failed("cannot open the service manager"));
        }
        let scm = Handle(scm);
        // SAFETY: wname is NUL-terminated and outlives the call.
        let svc = unsafe {
            OpenServiceW(
                scm.0,
                wname.as_ptr(),
                SERVICE_STOP | SERVICE_START | SERVICE_QUERY_STATUS,
            )
        };
        if svc.is_null() {
            // SAFETY: reads this thread's last error.
            if unsafe { GetLastError() } == ERROR_SERVICE_DOES_NOT_EXIST {
                return Err(ServiceError::NotInstalled);
            }
            return Err(failed("cannot open the service (an administrator may)"));
        }
        let svc = Handle(svc);
        // Stop: a *_PENDING state is waited out (controls are refused then), a refused control
        // (1061: it went pending in between) tried again, until it is stopped or the time is up.
        let deadline = Instant::now() + timeout;
        loop {
            // SAFETY: a zeroed SERVICE_STATUS is valid; the handle is open.
            let mut st: SERVICE_STATUS = unsafe { std::mem::zeroed() };
            if unsafe { QueryServiceStatus(svc.0, &mut st) } == 0 {
                return Err(failed("cannot ask the service's state"));
            }
            match super::pending::stop_step(st.dwCurrentState) {
                super::pending::StopStep::Done => break,
                super::pending::StopStep::Send => {
                    // SAFETY: as above.
                    if unsafe { ControlService(svc.0, SERVICE_CONTROL_STOP, &mut st) } == 0 {
                        // SAFETY: reads this thread's last error.
                        let e = unsafe { GetLastError() };
                        if e != ERROR_SERVICE_NOT_ACTIVE && e != ERROR_SERVICE_CANNOT_ACCEPT_CTRL {
                            return Err(failed("cannot stop it"));
                        }
                    }
                }
                super::pending::StopStep::Wait => {}
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::Failed(format!(
                    "it did not stop within {timeout:?} (state {})",
                    st.dwCurrentState
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: no arguments.
        if unsafe { StartServiceW(svc.0, 0, std::ptr::null()) } == 0
            && unsafe { GetLastError() } != ERROR_SERVICE_ALREADY_RUNNING
        {
            return Err(failed("cannot start it"));
        }
        wait_for(&svc, SERVICE_RUNNING, timeout, "start")
    }
}

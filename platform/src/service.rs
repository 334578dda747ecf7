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

#[cfg(windows)]
mod imp {
    use super::ServiceError;
    use std::time::{Duration, Instant};
    use windows_sys::Win32::Foundation::{
        ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SERVICE_NOT_ACTIVE, GetLastError,
    };
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, ControlService, OpenSCManagerW, OpenServiceW, QueryServiceStatus,
        SC_HANDLE, SC_MANAGER_CONNECT, SERVICE_CONTROL_STOP, SERVICE_QUERY_STATUS, SERVICE_RUNNING,
        SERVICE_START, SERVICE_STATUS, SERVICE_STOP, SERVICE_STOPPED, StartServiceW,
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
        // SAFETY: as above.
        let mut st: SERVICE_STATUS = unsafe { std::mem::zeroed() };
        if unsafe { ControlService(svc.0, SERVICE_CONTROL_STOP, &mut st) } == 0
            && unsafe { GetLastError() } != ERROR_SERVICE_NOT_ACTIVE
        {
            return Err(failed("cannot stop it"));
        }
        wait_for(&svc, SERVICE_STOPPED, timeout, "stop")?;
        // SAFETY: no arguments.
        if unsafe { StartServiceW(svc.0, 0, std::ptr::null()) } == 0 {
            return Err(failed("cannot start it"));
        }
        wait_for(&svc, SERVICE_RUNNING, timeout, "start")
    }
}

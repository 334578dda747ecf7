//! Starting other programs as a Windows program must: a long-lived child started in the
//! background (the proxy) inherits no handle but the ones it is given, and a console child
//! (vmrun) of a program with no console opens no window.
//!
//! Rust's std starts Windows children with `bInheritHandles = TRUE` and no handle list, so every
//! inheritable handle of this process goes along: the caller's stdout pipe among them
//! (PowerShell's `$r = dockvm.exe up`, a CI runner, an IDE task), which a proxy living for hours
//! would keep open, and the caller would never read its end. CPython's subprocess passes a
//! `PROC_THREAD_ATTRIBUTE_HANDLE_LIST`; so does [`spawn_detached`].

use std::io;
use std::path::Path;

/// Windows' `CREATE_NO_WINDOW`: a console program started with it gets a console without a
/// window (from a program with no console, such as `dockvmw.exe`, it would get a new window).
pub const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// Makes `cmd` open no window on Windows (`CREATE_NO_WINDOW`); nothing elsewhere. For the
/// console programs dockvm runs with their output captured (vmrun).
pub fn no_window(cmd: &mut std::process::Command) -> &mut std::process::Command {
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        cmd.creation_flags(CREATE_NO_WINDOW);
    }
    cmd
}

/// Starts `program args` in the background, out of this console and its Ctrl-C (its own
/// process group; on Windows `DETACHED_PROCESS`), in the folder of `log`, its output appended
/// to `log`, its input empty. On Windows it inherits exactly those two handles. Gives its pid.
pub fn spawn_detached(program: &Path, args: &[String], log: &Path) -> io::Result<u32> {
    let dir = log.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    #[cfg(windows)]
    return imp::spawn(program, args, dir, out);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        Ok(cmd.spawn()?.id())
    }
}

/// The processes whose program is `program` (compared as Windows compares paths: without case,
/// `\\?\` ignored), this one excluded; none elsewhere. A running program is a mapped image
/// that Windows will not let anyone replace or delete: install asks this before it replaces
/// its copy of dockvmw.exe.
pub fn running_from(program: &Path) -> Vec<u32> {
    #[cfg(windows)]
    return imp::running_from(program);
    #[cfg(not(windows))]
    {
        let _ = program;
        Vec::new()
    }
}

/// The users of the other sign-in sessions running one of `programs` (file names such as
/// `dockvmw.exe`, compared without case): who else may hold Docker's pipe when its DACL keeps
/// this user out. Empty elsewhere, and when Windows does not say.
pub fn users_running_elsewhere(programs: &[&str]) -> Vec<String> {
    #[cfg(windows)]
    return imp::users_running_elsewhere(programs);
    #[cfg(not(windows))]
    {
        let _ = programs;
        Vec::new()
    }
}

/// The full path of process `pid`'s program, when this user may ask (Windows).
pub fn image_of(pid: u32) -> Option<String> {
    #[cfg(windows)]
    return imp::image_of(pid);
    #[cfg(not(windows))]
    {
        let _ = pid;
        None
    }
}

/// Whether two Windows paths name the same file as Windows compares them: without case, and
/// with or without the `\\?\` prefix.
pub fn same_program(a: &str, b: &str) -> bool {
    let plain = |s: &str| s.trim_start_matches(r"\\?\").to_lowercase();
    plain(a) == plain(b)
}

/// Ends process `pid` (`TerminateProcess`) and waits until it is gone (at most 10 s). With
/// `expect`, only while its program is still that one: a pid found earlier may since have gone
/// to another process.
pub fn terminate(pid: u32, expect: Option<&Path>) -> io::Result<()> {
    #[cfg(windows)]
    return imp::terminate(pid, expect);
    #[cfg(not(windows))]
    {
        let _ = (pid, expect);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// One argument as the Microsoft C runtime (and Rust's, and Go's) splits a command line back:
/// quoted when it is empty or holds a space, tab, newline or quote; a quote escaped with a
/// backslash, and the backslashes before a quote (or before the closing quote) doubled.
pub fn quote_arg(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '\n', '\x0b', '"']) {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    let mut slashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => slashes += 1,
            '"' => {
                out.extend(std::iter::repeat_n('\\', slashes * 2 + 1));
                out.push('"');
                slashes = 0;
            }
            c => {
                out.extend(std::iter::repeat_n('\\', slashes));
                out.push(c);
                slashes = 0;
            }
        }
    }
    out.extend(std::iter::repeat_n('\\', slashes * 2));
    out.push('"');
    out
}

/// The command line of `program args`: the program always quoted (its path may hold spaces; a
/// Windows path holds no quote), each argument by [`quote_arg`].
pub fn command_line(program: &str, args: &[String]) -> String {
    let mut line = format!("\"{program}\"");
    for a in args {
        line.push(' ');
        line.push_str(&quote_arg(a));
    }
    line
}

#[cfg(windows)]
mod imp {
    use std::io;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use std::ptr::{null, null_mut};
    use windows_sys::Win32::Foundation::{
        CloseHandle, HANDLE, HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, SetHandleInformation,
    };
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW,
        TH32CS_SNAPPROCESS,
    };
    use windows_sys::Win32::System::Threading::{
        CREATE_NEW_PROCESS_GROUP, CREATE_UNICODE_ENVIRONMENT, CreateProcessW, DETACHED_PROCESS,
        DeleteProcThreadAttributeList, EXTENDED_STARTUPINFO_PRESENT,
        InitializeProcThreadAttributeList, LPPROC_THREAD_ATTRIBUTE_LIST, OpenProcess,
        PROC_THREAD_ATTRIBUTE_HANDLE_LIST, PROCESS_INFORMATION, PROCESS_NAME_WIN32,
        PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE,
        QueryFullProcessImageNameW, STARTF_USESTDHANDLES, STARTUPINFOEXW, TerminateProcess,
        UpdateProcThreadAttribute, WaitForSingleObject,
    };

    fn wide(s: &std::ffi::OsStr) -> Vec<u16> {
        use std::os::windows::ffi::OsStrExt;
        s.encode_wide().chain(Some(0)).collect()
    }

    /// A process/thread attribute list, deleted on drop.
    struct Attributes(Vec<u8>);

    impl Attributes {
        fn ptr(&mut self) -> LPPROC_THREAD_ATTRIBUTE_LIST {
            self.0.as_mut_ptr().cast()
        }
    }

    impl Drop for Attributes {
        fn drop(&mut self) {
            unsafe { DeleteProcThreadAttributeList(self.ptr()) };
        }
    }

    struct Owned(HANDLE);

    impl Drop for Owned {
        fn drop(&mut self) {
            unsafe { CloseHandle(self.0) };
        }
    }

    pub fn image_of(pid: u32) -> Option<String> {
        unsafe {
            let p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if p.is_null() {
                return None;
            }
            let p = Owned(p);
            let mut buf = vec![0u16; 32_768];
            let mut len = buf.len() as u32;
            if QueryFullProcessImageNameW(p.0, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len) == 0
            {
                return None;
            }
            Some(String::from_utf16_lossy(&buf[..len as usize]))
        }
    }

    pub fn running_from(program: &Path) -> Vec<u32> {
        let want = program.to_string_lossy();
        let me = std::process::id();
        let mut pids = Vec::new();
        unsafe {
            let snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
            if snap == INVALID_HANDLE_VALUE {
                return pids;
            }
            let snap = Owned(snap);
            let mut e: PROCESSENTRY32W = std::mem::zeroed();
            e.dwSize = size_of::<PROCESSENTRY32W>() as u32;
            let mut more = Process32FirstW(snap.0, &mut e) != 0;
            while more {
                let pid = e.th32ProcessID;
                if pid != me
                    && image_of(pid).is_some_and(|image| super::same_program(&image, &want))
                {
                    pids.push(pid);
                }
                more = Process32NextW(snap.0, &mut e) != 0;
            }
        }
        pids
    }

    fn session_user(session: u32) -> Option<String> {
        use windows_sys::Win32::System::RemoteDesktop::{
            WTS_CURRENT_SERVER_HANDLE, WTSFreeMemory, WTSQuerySessionInformationW, WTSUserName,
        };
        let mut buf: *mut u16 = std::ptr::null_mut();
        let mut bytes = 0u32;
        unsafe {
            if WTSQuerySessionInformationW(
                WTS_CURRENT_SERVER_HANDLE,
                session,
                WTSUserName,
                &mut buf,
                &mut bytes,
            ) == 0
                || buf.is_null()
            {
                return None;
            }
            let units = std::slice::from_raw_parts(buf, (bytes as usize / 2).saturating_sub(1));
            let name = String::from_utf16_lossy(units);
            WTSFreeMemory(buf.cast());
            Some(name).filter(|n| !n.is_empty())
        }
    }

    pub fn users_running_elsewhere(programs: &[&str]) -> Vec<String> {
        use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
        let session_of = |pid: u32| {
            let mut s = 0u32;
            (unsafe { ProcessIdToSessionId(pid, &mut s) } != 0).then_some(s)
        };
        let Some(mine) = session_of(std::process::id()) else {
            return Vec::new();
        };
        let mut users = Vec::new();
        unsafe {
            let snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
            if snap == INVALID_HANDLE_VALUE {
                return users;
            }
            let snap = Owned(snap);
            let mut e: PROCESSENTRY32W = std::mem::zeroed();
            e.dwSize = size_of::<PROCESSENTRY32W>() as u32;
            let mut more = Process32FirstW(snap.0, &mut e) != 0;
            while more {
                let len = e
                    .szExeFile
                    .iter()
                    .position(|&c| c == 0)
                    .unwrap_or(e.szExeFile.len());
                let exe = String::from_utf16_lossy(&e.szExeFile[..len]);
                if programs.iter().any(|p| p.eq_ignore_ascii_case(&exe))
                    && let Some(s) = session_of(e.th32ProcessID).filter(|&s| s != mine)
                    && let Some(user) = session_user(s)
                    && !users.contains(&user)
                {
                    users.push(user);
                }
                more = Process32NextW(snap.0, &mut e) != 0;
            }
        }
        users
    }

    pub fn terminate(pid: u32, expect: Option<&Path>) -> io::Result<()> {
        if let Some(program) = expect
            && !image_of(pid)
                .is_some_and(|image| super::same_program(&image, &program.to_string_lossy()))
        {
            // Gone already, or the pid is another program's now.
            return Ok(());
        }
        unsafe {
            let p = OpenProcess(PROCESS_TERMINATE | PROCESS_SYNCHRONIZE, 0, pid);
            if p.is_null() {
                return Err(io::Error::last_os_error());
            }
            let p = Owned(p);
            if TerminateProcess(p.0, 1) == 0 {
                return Err(io::Error::last_os_error());
            }
            WaitForSingleObject(p.0, 10_000);
        }
        Ok(())
    }

    pub fn spawn(
        program: &Path,
        args: &[String],
        dir: Option<&Path>,
        out: std::fs::File,
    ) -> io::Result<u32> {
        let nul = std::fs::OpenOptions::new().read(true).open("NUL")?;
        let err = out.try_clone()?;
        // The handle list names each handle the child gets; each must be inheritable. These
        // three are this call's own, closed when it returns.
        let handles: [HANDLE; 3] = [
            nul.as_raw_handle() as HANDLE,
            out.as_raw_handle() as HANDLE,
            err.as_raw_handle() as HANDLE,
        ];
        for h in handles {
            if unsafe { SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) } == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let mut size = 0usize;
        unsafe { InitializeProcThreadAttributeList(null_mut(), 1, 0, &mut size) };
        let mut attrs = Attributes(vec![0u8; size]);
        if unsafe { InitializeProcThreadAttributeList(attrs.ptr(), 1, 0, &mut size) } == 0 {
            // Nothing to delete: the list was never made.
            std::mem::forget(attrs);
            return Err(io::Error::last_os_error());
        }
        if unsafe {
            UpdateProcThreadAttribute(
                attrs.ptr(),
                0,
                PROC_THREAD_ATTRIBUTE_HANDLE_LIST as usize,
                handles.as_ptr().cast(),
                size_of_val(&handles),
                null_mut(),
                null(),
            )
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        let mut si: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
        si.StartupInfo.cb = size_of::<STARTUPINFOEXW>() as u32;
        si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
        si.StartupInfo.hStdInput = handles[0];
        si.StartupInfo.hStdOutput = handles[1];
        si.StartupInfo.hStdError = handles[2];
        si.lpAttributeList = attrs.ptr();
        let app = wide(program.as_os_str());
        let mut line = wide(super::command_line(&program.to_string_lossy(), args).as_ref());
        let cwd = dir.map(|d| wide(d.as_os_str()));
        let mut pi: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
        let ok = unsafe {
            CreateProcessW(
                app.as_ptr(),
                line.as_mut_ptr(),
                null(),
                null(),
                1,
                EXTENDED_STARTUPINFO_PRESENT
                    | DETACHED_PROCESS
                    | CREATE_NEW_PROCESS_GROUP
                    | CREATE_UNICODE_ENVIRONMENT,
                null(),
                cwd.as_ref().map_or(null(), |c| c.as_ptr()),
                &si.StartupInfo,
                &mut pi,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        unsafe {
            CloseHandle(pi.hThread);
            CloseHandle(pi.hProcess);
        }
        Ok(pi.dwProcessId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The Microsoft C runtime's split of a command line (its documented rules, as
    /// `CommandLineToArgvW` applies them to every argument after the program): the oracle
    /// [`quote_arg`] is held to.
    fn split(line: &str) -> Vec<String> {
        let mut args = Vec::new();
        let mut cur = String::new();
        let mut in_arg = false;
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let mut n = 1;
                    while chars.peek() == Some(&'\\') {
                        chars.next();
                        n += 1;
                    }
                    if chars.peek() == Some(&'"') {
                        cur.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            chars.next();
                            cur.push('"');
                        }
                    } else {
                        cur.extend(std::iter::repeat_n('\\', n));
                    }
                    in_arg = true;
                }
                '"' => {
                    if quoted && chars.peek() == Some(&'"') {
                        chars.next();
                        cur.push('"');
                    } else {
                        quoted = !quoted;
                    }
                    in_arg = true;
                }
                ' ' | '\t' if !quoted => {
                    if in_arg {
                        args.push(std::mem::take(&mut cur));
                        in_arg = false;
                    }
                }
                c => {
                    cur.push(c);
                    in_arg = true;
                }
            }
        }
        if in_arg {
            args.push(cur);
        }
        args
    }

    #[test]
    fn programs_are_the_same_without_case_or_the_long_path_prefix() {
        let a = r"C:\Users\李雷\AppData\Local\dockvm\dev\dockvmw.exe";
        assert!(same_program(a, &a.to_uppercase()));
        assert!(same_program(&format!(r"\\?\{a}"), a));
        assert!(!same_program(a, &a.replace("dockvmw", "dockvm")));
    }

    #[test]
    fn arguments_are_quoted_as_the_c_runtime_splits_them() {
        for (arg, want) in [
            ("up", "up"),
            ("", "\"\""),
            (
                r"C:\Users\李雷\AppData\Local\dockvm\dev",
                r"C:\Users\李雷\AppData\Local\dockvm\dev",
            ),
            (
                r"D:\虚拟机\dev 1\dockvm.toml",
                r#""D:\虚拟机\dev 1\dockvm.toml""#,
            ),
            (r"C:\a b\", r#""C:\a b\\""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r#"a\"b"#, r#""a\\\"b""#),
        ] {
            assert_eq!(quote_arg(arg), want, "{arg:?}");
            assert_eq!(split(&quote_arg(arg)), [arg], "{arg:?}");
        }
    }

    proptest! {
        #[test]
        fn every_argument_list_splits_back_as_it_was(
            args in proptest::collection::vec("[a-z \\\\\"\t李]{0,12}", 0..6)
        ) {
            let line = args.iter().map(|a| quote_arg(a)).collect::<Vec<_>>().join(" ");
            prop_assert_eq!(split(&line), args);
        }
    }
}

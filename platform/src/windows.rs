//! The registry and the broadcast through windows-sys.

use crate::registry::{Hive, RegValue};
use std::io;
use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_SUCCESS};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_QUERY_VALUE, KEY_SET_VALUE,
    REG_OPTION_NON_VOLATILE, RegCloseKey, RegCreateKeyExW, RegDeleteValueW, RegOpenKeyExW,
    RegQueryValueExW, RegSetValueExW,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    HWND_BROADCAST, SMTO_ABORTIFHUNG, SendMessageTimeoutW, WM_SETTINGCHANGE,
};

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn check(rc: u32) -> io::Result<()> {
    if rc == ERROR_SUCCESS {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc as i32))
    }
}

/// An open key, closed on drop.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        unsafe { RegCloseKey(self.0) };
    }
}

fn open(hive: Hive, key: &str, access: u32) -> io::Result<Option<Key>> {
    let root = match hive {
        Hive::CurrentUser => HKEY_CURRENT_USER,
        Hive::LocalMachine => HKEY_LOCAL_MACHINE,
    };
    let mut h: HKEY = std::ptr::null_mut();
    let rc = unsafe { RegOpenKeyExW(root, wide(key).as_ptr(), 0, access, &mut h) };
    if rc == ERROR_FILE_NOT_FOUND {
        return Ok(None);
    }
    check(rc)?;
    Ok(Some(Key(h)))
}

pub fn get(hive: Hive, key: &str, name: &str) -> io::Result<Option<RegValue>> {
    let Some(k) = open(hive, key, KEY_QUERY_VALUE)? else {
        return Ok(None);
    };
    let name = wide(name);
    let mut kind = 0u32;
    let mut len = 0u32;
    // RegQueryValueExW returns the stored bytes as they are: REG_EXPAND_SZ stays unexpanded.
    let rc = unsafe {
        RegQueryValueExW(
            k.0,
            name.as_ptr(),
            std::ptr::null(),
            &mut kind,
            std::ptr::null_mut(),
            &mut len,
        )
    };
    if rc == ERROR_FILE_NOT_FOUND {
        return Ok(None);
    }
    check(rc)?;
    let mut data = vec![0u8; len as usize];
    let rc = unsafe {
        RegQueryValueExW(
            k.0,
            name.as_ptr(),
            std::ptr::null(),
            &mut kind,
            data.as_mut_ptr(),
            &mut len,
        )
    };
    check(rc)?;
    data.truncate(len as usize);
    Ok(Some(RegValue { kind, data }))
}

pub fn set(key: &str, name: &str, value: &RegValue) -> io::Result<()> {
    let mut h: HKEY = std::ptr::null_mut();
    let rc = unsafe {
        RegCreateKeyExW(
            HKEY_CURRENT_USER,
            wide(key).as_ptr(),
            0,
            std::ptr::null(),
            REG_OPTION_NON_VOLATILE,
            KEY_SET_VALUE,
            std::ptr::null(),
            &mut h,
            std::ptr::null_mut(),
        )
    };
    check(rc)?;
    let k = Key(h);
    let rc = unsafe {
        RegSetValueExW(
            k.0,
            wide(name).as_ptr(),
            0,
            value.kind,
            value.data.as_ptr(),
            value.data.len() as u32,
        )
    };
    check(rc)
}

pub fn delete(key: &str, name: &str) -> io::Result<()> {
    let Some(k) = open(Hive::CurrentUser, key, KEY_SET_VALUE)? else {
        return Ok(());
    };
    let rc = unsafe { RegDeleteValueW(k.0, wide(name).as_ptr()) };
    if rc == ERROR_FILE_NOT_FOUND {
        return Ok(());
    }
    check(rc)
}

pub fn broadcast_environment() -> Result<(), String> {
    let env = wide("Environment");
    let mut result = 0usize;
    let rc = unsafe {
        SendMessageTimeoutW(
            HWND_BROADCAST,
            WM_SETTINGCHANGE,
            0,
            env.as_ptr() as isize,
            SMTO_ABORTIFHUNG,
            5000,
            &mut result,
        )
    };
    if rc == 0 {
        Err(format!(
            "SendMessageTimeout failed ({}): sign out and in again for Explorer to hand the new values to new terminals",
            io::Error::last_os_error()
        ))
    } else {
        Ok(())
    }
}

/// The long form of a path holding 8.3 short names, when it exists.
pub fn long_path(p: &str) -> Option<String> {
    use windows_sys::Win32::Storage::FileSystem::GetLongPathNameW;
    let w = wide(p);
    let mut buf = vec![0u16; 1024];
    // SAFETY: `w` is NUL-terminated; `buf` has room for its length in u16s.
    let n = unsafe { GetLongPathNameW(w.as_ptr(), buf.as_mut_ptr(), buf.len() as u32) } as usize;
    (n > 0 && n < buf.len()).then(|| String::from_utf16_lossy(&buf[..n]))
}

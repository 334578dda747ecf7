//! The proxy on a Unix socket: the same service as the Windows pipe, for Linux clients (and
//! for testing the proxy with the Linux docker CLI and a real dockerd).

use crate::Proxy;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

/// Binds `path`, refusing when another server answers there (a stale socket file is replaced).
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{}: another server is listening there", path.display()),
        ));
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_socket()
    }) {
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

/// Serves every connection on its own threads, forever: a failed accept (out of file
/// descriptors, say) is logged and retried after a back-off, never the end of the proxy.
pub fn serve(listener: UnixListener, proxy: Arc<Proxy>) -> io::Result<()> {
    let mut backoff = crate::Backoff::default();
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => {
                backoff.reset();
                c
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let wait = backoff.wait();
                crate::log(&format!(
                    "accepting a connection failed: {e}; serving on in {} ms",
                    wait.as_millis()
                ));
                std::thread::sleep(wait);
                continue;
            }
        };
        let p = proxy.clone();
        std::thread::spawn(move || {
            if let Ok(r) = conn.try_clone() {
                p.serve_connection(Box::new(r), Box::new(conn));
            }
        });
    }
    Ok(())
}

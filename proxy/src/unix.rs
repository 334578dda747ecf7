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

/// Serves every connection on its own threads, forever.
pub fn serve(listener: UnixListener, proxy: Arc<Proxy>) -> io::Result<()> {
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
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

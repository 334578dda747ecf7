//! Where the TLS files of `[docker] tls = true` live, with Docker's own file names: every
//! crate that writes, installs or reads them takes the names from here.

/// The CA certificate: on every side.
pub const CA: &str = "ca.pem";
/// The CA's private key: only in the folder `dockvm certs` writes, never installed.
pub const CA_KEY: &str = "ca-key.pem";
/// The server's certificate and key: in the VM, for dockerd.
pub const SERVER_CERT: &str = "server-cert.pem";
pub const SERVER_KEY: &str = "server-key.pem";
/// The client's certificate and key: on Windows and in WSL, where `DOCKER_CERT_PATH` points.
pub const CLIENT_CERT: &str = "cert.pem";
pub const CLIENT_KEY: &str = "key.pem";

/// The folder in the VM that holds the CA and the server files dockerd reads.
pub const VM_DIR: &str = "/etc/docker/dockvm";

/// The files the VM gets.
pub const VM_FILES: [&str; 3] = [CA, SERVER_CERT, SERVER_KEY];
/// The files a client (Windows, WSL) gets.
pub const CLIENT_FILES: [&str; 3] = [CA, CLIENT_CERT, CLIENT_KEY];

/// The client folder's name, under `.docker` in the home folder on Windows and in WSL:
/// `dockvm-<vm>`, so that two VMs' certificates never share a folder.
pub fn client_dir_name(vm: &str) -> String {
    format!("dockvm-{vm}")
}

/// The client folder relative to the home folder, `/`-separated: `.docker/dockvm-<vm>`.
pub fn client_dir(vm: &str) -> String {
    format!(".docker/{}", client_dir_name(vm))
}

/// `DOCKER_CERT_PATH` as the Windows registry holds it (REG_EXPAND_SZ, unexpanded).
pub fn windows_cert_path(vm: &str) -> String {
    format!(r"%USERPROFILE%\.docker\{}", client_dir_name(vm))
}

/// Whether a file of the set is a private key (mode 0600).
pub fn is_key(file: &str) -> bool {
    file.ends_with("key.pem")
}

//! The values the loader gives an absent key, which the JSON Schema states as `default`.

pub const VM_NAME: &str = "dev";
pub const HOSTNAME: &str = "local.test";
/// Without `tls`; with it, 2376.
pub const PORT: u16 = 2375;
pub const TLS_PORT: u16 = 2376;
pub const PACKAGE: &str = "docker-ce";
/// `windows.endpoint`: DOCKER_HOST to the VM's port, which needs nothing running on Windows.
pub const ENDPOINT: &str = "tcp";
pub const VMRUN: &str = r"C:\Program Files (x86)\VMware\VMware Workstation\vmrun.exe";
/// VMware Workstation's DHCP configuration (all its virtual networks).
pub const DHCP_CONF: &str = r"C:\ProgramData\VMware\vmnetdhcp.conf";
pub const DOCKER_DIR: &str = r"C:\Program Files\Docker";
pub const AUTOMOUNT_ROOT: &str = "/mnt/";
pub const PROFILE: &str = "~/.profile";

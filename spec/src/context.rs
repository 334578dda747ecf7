//! The docker context of a VM, in the docker CLI's context store: `dockvm-<vm>`, so that
//! `docker context use dockvm-dev` works and several VMs live side by side. The store keeps a
//! context's metadata at `contexts/meta/<sha256 of the name, hex>/meta.json` and its TLS files
//! at `contexts/tls/<same>/docker/` (docker/cli `store.contextdirOf`), under the CLI's config
//! folder (`~/.docker`, `%USERPROFILE%\.docker`, or `DOCKER_CONFIG`).

use sha2::{Digest, Sha256};

/// The context's name: `dockvm-<vm>`.
pub fn name(vm: &str) -> String {
    format!("dockvm-{vm}")
}

/// The store's folder name for the context: the SHA-256 of its name, lower-case hex.
pub fn id(vm: &str) -> String {
    Sha256::digest(name(vm).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The metadata file, relative to the config folder, `/`-separated.
pub fn meta_rel(vm: &str) -> String {
    format!("contexts/meta/{}/meta.json", id(vm))
}

/// The folder of the docker endpoint's TLS files (ca.pem, cert.pem, key.pem), relative to the
/// config folder, `/`-separated.
pub fn tls_rel(vm: &str) -> String {
    format!("contexts/tls/{}/docker", id(vm))
}

/// The metadata as the docker CLI writes it (one line, Go's field order, no final newline):
/// the context's name, a description, and the docker endpoint's host. The CLI takes the TLS
/// files from [`tls_rel`] when they are there; none are needed for a plain port.
pub fn meta_json(vm: &str, docker_host: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
    format!(
        r#"{{"Name":{},"Metadata":{{"Description":{}}},"Endpoints":{{"docker":{{"Host":{},"SkipTLSVerify":false}}}}}}"#,
        q(&name(vm)),
        q(&format!("dockvm: the Docker Engine in VM {vm}")),
        q(docker_host)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_path_is_the_sha256_of_the_name() {
        // As `printf dockvm-dev | sha256sum` gives it.
        assert_eq!(
            meta_rel("dev"),
            "contexts/meta/d4cf472baf799bde3af1cfacac9a36e0eeac52b9222c8a02e3982d80b89dad4a/meta.json"
        );
        assert_eq!(
            meta_json("dev", "tcp://local.test:2375"),
            r#"{"Name":"dockvm-dev","Metadata":{"Description":"dockvm: the Docker Engine in VM dev"},"Endpoints":{"docker":{"Host":"tcp://local.test:2375","SkipTLSVerify":false}}}"#
        );
    }
}

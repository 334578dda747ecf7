//! Reading certificates back (x509-parser), and a client's three files as rustls needs them,
//! each problem naming the file.

use crate::CertError;
use camino::{Utf8Path, Utf8PathBuf};
use dockvm_spec::tls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
    Other(String),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(d) => write!(f, "DNS:{d}"),
            San::Ip(i) => write!(f, "IP:{i}"),
            San::Other(o) => f.write_str(o),
        }
    }
}

/// What a message about a certificate needs.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<San>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
    pub server_auth: bool,
    pub client_auth: bool,
    /// The DER of the SubjectPublicKeyInfo, to match a key against.
    pub spki: Vec<u8>,
    /// SHA-256 of the DER, lower-case hex with colons, as `openssl x509 -fingerprint` prints it.
    pub fingerprint: String,
}

impl CertInfo {
    /// The validity as people read it: `2026-11-28 10:00 UTC`.
    pub fn date(unix: i64) -> String {
        time::OffsetDateTime::from_unix_timestamp(unix)
            .map(|t| {
                format!(
                    "{}-{:02}-{:02} {:02}:{:02} UTC",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute()
                )
            })
            .unwrap_or_else(|_| unix.to_string())
    }
}

/// Reads one DER certificate.
pub fn info(der: &[u8]) -> Result<CertInfo, CertError> {
    let (_, c) = X509Certificate::from_der(der).map_err(|e| CertError::Bad {
        what: "a certificate",
        why: e.to_string(),
    })?;
    let sans = match c.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => San::Dns((*d).to_owned()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => San::Ip(IpAddr::from(<[u8; 4]>::try_from(*b).expect("4 bytes"))),
                    16 => San::Ip(IpAddr::from(<[u8; 16]>::try_from(*b).expect("16 bytes"))),
                    _ => San::Other(format!("IP:{b:?}")),
                },
                other => San::Other(other.to_string()),
            })
            .collect(),
        _ => Vec::new(),
    };
    let (server_auth, client_auth) = match c.extended_key_usage() {
        Ok(Some(e)) => (
            e.value.server_auth || e.value.any,
            e.value.client_auth || e.value.any,
        ),
        // No extension: any use.
        _ => (true, true),
    };
    Ok(CertInfo {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        sans,
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        is_ca: c.is_ca(),
        server_auth,
        client_auth,
        spki: c.public_key().raw.to_vec(),
        fingerprint: fingerprint(der),
    })
}

/// Reads the first certificate of a PEM text.
pub fn info_pem(pem: &str) -> Result<CertInfo, CertError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| CertError::Bad {
        what: "a certificate",
        why: format!("not a PEM certificate: {e}"),
    })?;
    info(&der)
}

/// SHA-256 of DER bytes, `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One side's files of mutual TLS, read from one folder: the CA and a certificate with its key
/// (the client's, from `DOCKER_CERT_PATH`; or the server's, for the VM).
#[derive(Debug, Clone)]
pub struct ClientFiles {
    pub dir: Utf8PathBuf,
    /// The CA certificates of `ca.pem`, to verify the server with.
    pub ca: Vec<CertificateDer<'static>>,
    /// `cert.pem` (the client certificate and any intermediates) with `key.pem`'s key.
    pub identity: Arc<rustls::sign::CertifiedKey>,
    /// The files read, `ca.pem` first, with their bytes.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Why a client folder cannot be used, with the file named.
#[derive(Debug, thiserror::Error)]
pub enum ClientFilesError {
    #[error("{} missing in {dir}", names(.missing))]
    Missing {
        dir: Utf8PathBuf,
        missing: Vec<&'static str>,
    },
    #[error("{path}: {why}")]
    Bad { path: Utf8PathBuf, why: String },
    #[error("{key} is not the key of {cert}")]
    Mismatch { cert: Utf8PathBuf, key: Utf8PathBuf },
}

fn names(v: &[&str]) -> String {
    v.join(", ")
}

impl ClientFiles {
    /// Reads `ca.pem`, `cert.pem` and `key.pem` from `dir` and checks that the key is the
    /// certificate's.
    pub fn load(dir: &Utf8Path) -> Result<ClientFiles, ClientFilesError> {
        Self::load_as(dir, tls::CLIENT_CERT, tls::CLIENT_KEY)
    }

    /// Like [`ClientFiles::load`], with other names for the certificate and key (the VM's
    /// `server-cert.pem` and `server-key.pem`).
    pub fn load_as(
        dir: &Utf8Path,
        cert_name: &'static str,
        key_name: &'static str,
    ) -> Result<ClientFiles, ClientFilesError> {
        let path = |f: &str| dir.join(f);
        let names = [tls::CA, cert_name, key_name];
        let missing: Vec<&'static str> = names.into_iter().filter(|f| !path(f).is_file()).collect();
        if !missing.is_empty() {
            return Err(ClientFilesError::Missing {
                dir: dir.to_owned(),
                missing,
            });
        }
        let certs = |f: &str| -> Result<Vec<CertificateDer<'static>>, ClientFilesError> {
            let p = path(f);
            let bytes = std::fs::read(&p).map_err(|e| ClientFilesError::Bad {
                path: p.clone(),
                why: e.to_string(),
            })?;
            let v: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<_, _>>()
                .map_err(|e| ClientFilesError::Bad {
                    path: p.clone(),
                    why: format!("not PEM certificates: {e}"),
                })?;
            if v.is_empty() {
                return Err(ClientFilesError::Bad {
                    path: p,
                    why: "holds no certificate".into(),
                });
            }
            Ok(v)
        };
        let ca = certs(tls::CA)?;
        let chain = certs(cert_name)?;
        let key_path = path(key_name);
        let key = std::fs::read(&key_path)
            .map_err(|e| e.to_string())
            .and_then(|b| PrivateKeyDer::from_pem_slice(&b).map_err(|e| e.to_string()))
            .map_err(|why| ClientFilesError::Bad {
                path: key_path.clone(),
                why: format!("not a PEM private key: {why}"),
            })?;
        let provider = rustls::crypto::ring::default_provider();
        let signing =
            provider
                .key_provider
                .load_private_key(key)
                .map_err(|e| ClientFilesError::Bad {
                    path: key_path.clone(),
                    why: e.to_string(),
                })?;
        let identity = rustls::sign::CertifiedKey::new(chain, signing);
        if identity.keys_match().is_err() {
            return Err(ClientFilesError::Mismatch {
                cert: path(cert_name),
                key: key_path,
            });
        }
        let files = names
            .into_iter()
            .map(|n| {
                std::fs::read(path(n))
                    .map(|b| (n, b))
                    .map_err(|e| ClientFilesError::Bad {
                        path: path(n),
                        why: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(ClientFiles {
            dir: dir.to_owned(),
            ca,
            identity: Arc::new(identity),
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::{Ca, Validity};

    fn spec() -> dockvm_spec::Spec {
        let text = dockvm_spec::DEFAULT_SPEC.replace("tls = false", "tls = true");
        dockvm_spec::load_str("t", &text).unwrap().spec
    }

    fn write(dir: &Utf8Path, files: &[(&str, &str)]) {
        for (n, t) in files {
            std::fs::write(dir.join(n), t).unwrap();
        }
    }

    #[test]
    fn a_client_folder_is_loaded_or_its_problem_named_with_the_file() {
        let now = time::OffsetDateTime::now_utc();
        let ca = Ca::new(&spec(), now).unwrap();
        let (_, client) = crate::issue::leaves(&ca, &spec(), 30, now).unwrap();
        let other = ca.client("other", Validity::days_from(now, 30)).unwrap();
        let t = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(t.path()).unwrap();

        let e = ClientFiles::load(dir).unwrap_err().to_string();
        assert_eq!(e, format!("ca.pem, cert.pem, key.pem missing in {dir}"));

        write(
            dir,
            &[("ca.pem", &ca.pair.cert), ("cert.pem", &client.cert)],
        );
        let e = ClientFiles::load(dir).unwrap_err().to_string();
        assert_eq!(e, format!("key.pem missing in {dir}"));

        write(dir, &[("key.pem", &other.key)]);
        let e = ClientFiles::load(dir).unwrap_err().to_string();
        assert_eq!(e, format!("{dir}/key.pem is not the key of {dir}/cert.pem"));

        write(dir, &[("key.pem", "not a key")]);
        let e = ClientFiles::load(dir).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{dir}/key.pem: not a PEM private key")),
            "{e}"
        );

        write(dir, &[("key.pem", &client.key), ("ca.pem", "")]);
        let e = ClientFiles::load(dir).unwrap_err().to_string();
        assert_eq!(e, format!("{dir}/ca.pem: holds no certificate"));

        write(dir, &[("ca.pem", &ca.pair.cert)]);
        let f = ClientFiles::load(dir).unwrap();
        assert_eq!(f.ca.len(), 1);
        assert_eq!(
            info(&f.ca[0]).unwrap().fingerprint,
            info_pem(&ca.pair.cert).unwrap().fingerprint
        );
    }

    #[test]
    fn a_ca_reloads_only_with_its_own_key() {
        let now = time::OffsetDateTime::now_utc();
        let a = Ca::new(&spec(), now).unwrap();
        let b = Ca::new(&spec(), now).unwrap();
        assert!(Ca::load(&a.pair.cert, &a.pair.key).is_ok());
        let e = Ca::load(&a.pair.cert, &b.pair.key)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("ca-key.pem is not the key of ca.pem"), "{e}");
        let (server, _) = crate::issue::leaves(&a, &spec(), 30, now).unwrap();
        let e = Ca::load(&server.cert, &server.key)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a CA certificate"), "{e}");
        // Two CAs of one VM have subjects that differ (the random tag), for messages.
        assert_ne!(
            info_pem(&a.pair.cert).unwrap().subject,
            info_pem(&b.pair.cert).unwrap().subject
        );
        let s = info_pem(&server.cert).unwrap();
        assert_eq!(
            s.sans,
            [
                San::Dns("local.test".into()),
                San::Ip("192.168.130.2".parse().unwrap())
            ]
        );
        assert!(s.server_auth && !s.client_auth && !s.is_ca);
    }
}

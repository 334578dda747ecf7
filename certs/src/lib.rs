//! dockvm certs: the files of mutual TLS on dockerd's TCP port.
//!
//! [`issue`] makes a CA and from it the server certificate (SANs `DNS:<vm.hostname>` and
//! `IP:<vm.ip>`, serverAuth) and the client certificate (clientAuth), ECDSA P-256, with rcgen.
//! [`create`] writes a new folder with Docker's file names ([`dockvm_spec::tls`]), keys 0600
//! in a 0700 folder; [`renew`] reissues the server and client certificates from the folder's
//! CA. [`read`] reads certificates back (x509-parser) and loads a client's folder for rustls,
//! as `dockvm verify` needs them.

pub mod files;
pub mod issue;
pub mod read;

use camino::{Utf8Path, Utf8PathBuf};
use dockvm_spec::{Spec, tls};
pub use issue::{CA_DAYS, Ca, DEFAULT_DAYS, MAX_DAYS, Pair, Validity};
use time::OffsetDateTime;

/// Why certificates could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error(
        "{0} exists; pass --renew to reissue the server and client certificates from its CA, or choose another --out"
    )]
    Exists(Utf8PathBuf),
    #[error(
        "{0}: {1} missing; --renew needs the folder `dockvm certs` wrote (ca.pem and ca-key.pem)"
    )]
    NoCa(Utf8PathBuf, &'static str),
    #[error(
        "{0} is inside the output tree of `dockvm gen` ({1}): private keys must not go into a dotfiles repository; choose another --out"
    )]
    InTree(Utf8PathBuf, Utf8PathBuf),
    #[error("--days {0}: expected 1 to {MAX_DAYS}")]
    Days(u32),
    #[error("{what}: {why}")]
    Bad { what: &'static str, why: String },
    #[error("{path}: {source}")]
    Io {
        path: Utf8PathBuf,
        source: std::io::Error,
    },
    #[error("issuing a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}

impl CertError {
    fn io(path: &Utf8Path, source: std::io::Error) -> CertError {
        CertError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// What was written, for the command to report.
#[derive(Debug, Clone)]
pub struct Report {
    pub dir: Utf8PathBuf,
    /// The files written, in order.
    pub written: Vec<&'static str>,
    /// The CA's SHA-256 fingerprint: the same before and after `--renew`.
    pub ca_fingerprint: String,
    /// The server certificate's SANs.
    pub sans: Vec<read::San>,
    /// When the server and client certificates expire (Unix seconds).
    pub not_after: i64,
}

/// A new CA with server and client certificates for `spec`, written to the new folder `dir`.
pub fn create(
    spec: &Spec,
    dir: &Utf8Path,
    days: u32,
    now: OffsetDateTime,
) -> Result<Report, CertError> {
    check_days(days)?;
    check_outside_tree(dir)?;
    let ca = Ca::new(spec, now)?;
    let (server, client) = issue::leaves(&ca, spec, days, now)?;
    let files = vec![
        (tls::CA, ca.pair.cert.clone()),
        (tls::CA_KEY, ca.pair.key.clone()),
        (tls::SERVER_CERT, server.cert.clone()),
        (tls::SERVER_KEY, server.key),
        (tls::CLIENT_CERT, client.cert),
        (tls::CLIENT_KEY, client.key),
    ];
    files::create(dir, &files)?;
    report(dir, &files, &ca, &server.cert)
}

/// New server and client certificates for `spec` from the CA in `dir` (which stays as it is):
/// after a change of `vm.ip` or `vm.hostname`, or before the old ones expire.
pub fn renew(
    spec: &Spec,
    dir: &Utf8Path,
    days: u32,
    now: OffsetDateTime,
) -> Result<Report, CertError> {
    check_days(days)?;
    let read = |f: &'static str| {
        std::fs::read_to_string(dir.join(f)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CertError::NoCa(dir.to_owned(), f),
            _ => CertError::io(&dir.join(f), e),
        })
    };
    let ca = Ca::load(&read(tls::CA)?, &read(tls::CA_KEY)?)?;
    let (server, client) = issue::leaves(&ca, spec, days, now)?;
    let files = vec![
        (tls::SERVER_CERT, server.cert.clone()),
        (tls::SERVER_KEY, server.key),
        (tls::CLIENT_CERT, client.cert),
        (tls::CLIENT_KEY, client.key),
    ];
    files::replace(dir, &files)?;
    report(dir, &files, &ca, &server.cert)
}

fn report(
    dir: &Utf8Path,
    files: &[(&'static str, String)],
    ca: &Ca,
    server_cert: &str,
) -> Result<Report, CertError> {
    let ca_info = read::info_pem(&ca.pair.cert)?;
    let server = read::info_pem(server_cert)?;
    Ok(Report {
        dir: dir.to_owned(),
        written: files.iter().map(|(n, _)| *n).collect(),
        ca_fingerprint: ca_info.fingerprint,
        sans: server.sans,
        not_after: server.not_after,
    })
}

fn check_days(days: u32) -> Result<(), CertError> {
    if (1..=MAX_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(CertError::Days(days))
    }
}

/// Refuses a folder inside a tree that `dockvm gen` wrote (one of its ancestors holds a
/// `manifest.json` of dockvm's).
fn check_outside_tree(dir: &Utf8Path) -> Result<(), CertError> {
    let abs = if dir.is_absolute() {
        dir.to_owned()
    } else {
        let cwd = std::env::current_dir().map_err(|e| CertError::io(dir, e))?;
        Utf8PathBuf::from_path_buf(cwd)
            .map_err(|p| CertError::Bad {
                what: "the current folder",
                why: format!("{} is not UTF-8", p.display()),
            })?
            .join(dir)
    };
    for a in abs.ancestors().skip(1) {
        let m = a.join(dockvm_gen::MANIFEST);
        if let Ok(text) = std::fs::read_to_string(&m)
            && text.contains("\"generator\": \"dockvm\"")
        {
            return Err(CertError::InTree(dir.to_owned(), a.to_owned()));
        }
    }
    Ok(())
}

/// The default folder: `HOME/.dockvm/VM/tls`.
pub fn default_dir(home: &Utf8Path, spec: &Spec) -> Utf8PathBuf {
    home.join(".dockvm").join(spec.vm.name.as_str()).join("tls")
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

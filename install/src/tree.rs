//! The generated tree that `install` reads: `manifest.json` and the files it lists, each checked
//! against its sha256, so what gets installed is exactly what was generated and reviewed.

use camino::{Utf8Path, Utf8PathBuf};
use dockvm_certs::read::ClientFiles;
use dockvm_gen::InstallValues;
use dockvm_spec::tls;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Why a tree cannot be installed. Every variant names the file; nothing has changed yet.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(
        "{0}: no manifest.json: --from must name a folder written by `dockvm gen` (default ./generated)"
    )]
    NoManifest(Utf8PathBuf),
    #[error("{path}: {why}; run `dockvm gen` again to rewrite the tree")]
    BadManifest { path: Utf8PathBuf, why: String },
    #[error("{path}: cannot read it: {source}")]
    Unreadable {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--certs {0}")]
    Certs(String),
    #[error(
        "{path}: its sha256 is {actual}, manifest.json says {expected}: the file was changed after `dockvm gen`; run `dockvm gen` (or restore it) and review the diff"
    )]
    Checksum {
        path: Utf8PathBuf,
        expected: String,
        actual: String,
    },
}

#[derive(Debug, Deserialize)]
struct Manifest {
    generator: String,
    vm: String,
    install: Option<InstallValues>,
    artifacts: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    path: String,
    side: String,
    target: Option<String>,
    mode: String,
    sha256: String,
}

/// One file of the tree, read and checked.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// Relative to the tree, `/`-separated, as in the manifest.
    pub rel: String,
    /// Where it goes on its side, as the manifest says (`~/` for the profile).
    pub target: Option<String>,
    pub mode: u32,
    pub bytes: Vec<u8>,
}

/// A checked tree: the VM name, the values install applies, and the files of one side.
#[derive(Debug, Clone)]
pub struct Tree {
    pub dir: Utf8PathBuf,
    pub vm: String,
    pub values: InstallValues,
    pub files: Vec<TreeFile>,
    /// The TLS files of the side, from `--certs DIR`.
    pub certs: Option<CertSource>,
}

/// The TLS files one side gets (`--certs DIR`), read and checked: the VM's `ca.pem`,
/// `server-cert.pem` and `server-key.pem`, or a client's `ca.pem`, `cert.pem` and `key.pem`,
/// each key the key of its certificate.
#[derive(Debug, Clone)]
pub struct CertSource {
    pub dir: Utf8PathBuf,
    pub files: Vec<(&'static str, Vec<u8>)>,
}

impl Tree {
    /// Reads `dir/manifest.json` and every file of `side` (`vm`, `wsl` or `windows`) it lists,
    /// refusing the tree if any is missing, unreadable or not what the manifest says.
    pub fn load(dir: &Utf8Path, side: &str) -> Result<Tree, TreeError> {
        let mpath = dir.join("manifest.json");
        let bytes = match std::fs::read(&mpath) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TreeError::NoManifest(dir.to_owned()));
            }
            Err(source) => {
                return Err(TreeError::Unreadable {
                    path: mpath,
                    source,
                });
            }
        };
        let bad = |why: String| TreeError::BadManifest {
            path: mpath.clone(),
            why,
        };
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a dockvm manifest ({e})")))?;
        if m.generator != "dockvm" {
            return Err(bad(format!("written by {:?}, not by dockvm", m.generator)));
        }
        let values = m.install.ok_or_else(|| {
            bad("has no \"install\" section (written by an older dockvm gen)".into())
        })?;
        let mut files = Vec::new();
        for e in m.artifacts.into_iter().filter(|e| e.side == side) {
            if !is_contained(&e.path) {
                return Err(bad(format!("lists {:?}, which leaves the tree", e.path)));
            }
            let path = dir.join(&e.path);
            let bytes = std::fs::read(&path).map_err(|source| TreeError::Unreadable {
                path: path.clone(),
                source,
            })?;
            let actual = hex(&Sha256::digest(&bytes));
            if actual != e.sha256 {
                return Err(TreeError::Checksum {
                    path,
                    expected: e.sha256,
                    actual,
                });
            }
            let mode = u32::from_str_radix(&e.mode, 8)
                .map_err(|_| bad(format!("{}: mode {:?} is not octal", e.path, e.mode)))?;
            files.push(TreeFile {
                rel: e.path,
                target: e.target,
                mode,
                bytes,
            });
        }
        Ok(Tree {
            dir: dir.to_owned(),
            vm: m.vm,
            values,
            files,
            certs: None,
        })
    }

    /// Adds the TLS files of `side` from `dir` (what `dockvm certs` wrote); refused for a tree
    /// generated without `tls = true`, or when a file is missing or a key is not its
    /// certificate's.
    pub fn with_certs(mut self, dir: &Utf8Path, side: &str) -> Result<Tree, TreeError> {
        if self.values.tls.is_none() {
            return Err(TreeError::Certs(format!(
                "{dir}: {} was generated without `tls = true` under [docker]: set it, run `dockvm gen`, and install again",
                self.dir
            )));
        }
        let loaded = if side == "vm" {
            ClientFiles::load_as(dir, tls::SERVER_CERT, tls::SERVER_KEY)
        } else {
            ClientFiles::load(dir)
        }
        .map_err(|e| {
            TreeError::Certs(format!(
                "{dir}: {e}; pass the folder `dockvm certs` wrote (default ~/.dockvm/{}/tls)",
                self.vm
            ))
        })?;
        self.certs = Some(CertSource {
            dir: dir.to_owned(),
            files: loaded.files,
        });
        Ok(self)
    }

    /// The file at `rel`; a checked tree of the side has every file gen writes for it.
    pub fn file(&self, rel: &str) -> Result<&TreeFile, TreeError> {
        self.files
            .iter()
            .find(|f| f.rel == rel)
            .ok_or_else(|| TreeError::BadManifest {
                path: self.dir.join("manifest.json"),
                why: format!("does not list {rel}"),
            })
    }
}

fn is_contained(p: &str) -> bool {
    !p.is_empty()
        && Utf8Path::new(p)
            .components()
            .all(|c| matches!(c, camino::Utf8Component::Normal(_)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

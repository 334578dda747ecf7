//! Every artifact of every example spec: insta snapshots (in the repository's `snapshots/`),
//! and the bytes each consumer needs (encoding, BOM, line endings), checked byte by byte.

use dockvm_gen::{Artifact, Encoding, LineEndings, render};
use std::fs;

fn load(path: &std::path::Path) -> Vec<Artifact> {
    let text = fs::read_to_string(path).unwrap();
    let loaded = dockvm_spec::load_str(&path.display().to_string(), &text).unwrap();
    render(&loaded.spec).unwrap()
}

/// The artifact as reviewable text: a header with what the consumer gets, then the decoded
/// text (CRs dropped; [`bytes_match_their_declared_format`] checks them).
fn show(a: &Artifact) -> String {
    let text = match a.encoding {
        Encoding::Utf16LeBom => {
            let units: Vec<u16> = a.bytes[2..]
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).unwrap()
        }
        Encoding::Utf8Bom => String::from_utf8(a.bytes[3..].to_vec()).unwrap(),
        Encoding::Ascii | Encoding::Utf8 => String::from_utf8(a.bytes.clone()).unwrap(),
    };
    format!(
        "# {:?} {:?}, installed on {:?} at {}\n{}",
        a.encoding,
        a.line_endings,
        a.side,
        a.target.as_deref().unwrap_or("-"),
        text.replace("\r\n", "\n")
    )
}

/// A snapshot's name: the artifact's path with `__` for `/`, and the docker context store's
/// folder (the SHA-256 of the context's name, 64 hex digits) as `ID`, so names stay readable.
fn snap_name(path: &str) -> String {
    path.split('/')
        .map(|c| {
            if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
                "ID"
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join("__")
}

#[test]
fn every_artifact_of_every_example_matches_its_snapshot() {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::glob!("../examples", "*.toml", |path| {
            for a in load(path) {
                insta::assert_snapshot!(snap_name(a.path.as_str()), show(&a));
            }
        });
    });
}

/// The spec's copy in the tree (`windows/dockvm.toml`, which the sign-in `dockvm.exe up`
/// reads) loads back as the very spec it was generated from, for every example.
#[test]
fn the_spec_s_copy_loads_back_as_the_same_spec() {
    for e in std::fs::read_dir("examples").unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let spec = dockvm_spec::load_str("example", &text).unwrap().spec;
        let arts = load(&path);
        let copy = arts
            .iter()
            .find(|a| a.path == "windows/dockvm.toml")
            .expect("the copy is generated");
        let copy_text = String::from_utf8(copy.bytes.clone()).unwrap();
        assert!(copy_text.contains("\r\n"), "CRLF, as the Windows files");
        let again = dockvm_spec::load_str("copy", &copy_text)
            .unwrap_or_else(|e| panic!("{}: {e}\n{copy_text}", path.display()))
            .spec;
        assert_eq!(again, spec, "{}", path.display());
    }
}

/// The file names are the interface (INSTALL.md, users' dotfiles and scripts name them).
#[test]
fn the_output_tree_has_exactly_the_documented_files() {
    let arts = load("examples/default.toml".as_ref());
    let names: Vec<&str> = arts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        names,
        [
            "vm/etc/systemd/system/docker.service.d/dockvm.conf",
            "vm/etc/systemd/system/mnt-hgfs.mount",
            "vm/etc/systemd/system/dockvm-address.service",
            "vm/etc/tmpfiles.d/dockvm.conf",
            "windows/hosts.txt",
            "windows/dockvm-env.reg",
            "windows/dockvm-env-remove.reg",
            "windows/add-docker-to-path.ps1",
            "windows/start-vm.bat",
            "windows/stop-vm.bat",
            "windows/reset-shared-folders.bat",
            "windows/dockvm.toml",
            "wsl/profile.sh",
            "wsl/wsl.conf",
            // sha256("dockvm-dev"): the docker CLI's store layout.
            "wsl/docker/contexts/meta/d4cf472baf799bde3af1cfacac9a36e0eeac52b9222c8a02e3982d80b89dad4a/meta.json",
            "windows/docker/contexts/meta/d4cf472baf799bde3af1cfacac9a36e0eeac52b9222c8a02e3982d80b89dad4a/meta.json",
            "INSTALL.md",
            "manifest.json",
        ]
    );
}

#[test]
fn bytes_match_their_declared_format() {
    for entry in fs::read_dir("examples").unwrap() {
        let path = entry.unwrap().path();
        for a in load(&path) {
            let what = format!("{} of {}", a.path, path.display());
            let body: &[u8] = match a.encoding {
                Encoding::Utf16LeBom => {
                    assert_eq!(&a.bytes[..2], b"\xFF\xFE", "{what}: UTF-16LE BOM");
                    assert_eq!(a.bytes.len() % 2, 0, "{what}: whole UTF-16 units");
                    &a.bytes[2..]
                }
                Encoding::Utf8Bom => {
                    assert_eq!(&a.bytes[..3], b"\xEF\xBB\xBF", "{what}: UTF-8 BOM");
                    &a.bytes[3..]
                }
                Encoding::Ascii => {
                    assert!(a.bytes.is_ascii(), "{what}: ASCII only");
                    &a.bytes
                }
                Encoding::Utf8 => {
                    assert!(!a.bytes.starts_with(b"\xEF\xBB\xBF"), "{what}: no BOM");
                    &a.bytes
                }
            };
            let text = if a.encoding == Encoding::Utf16LeBom {
                let units: Vec<u16> = body
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).unwrap_or_else(|_| panic!("{what}: valid UTF-16"))
            } else {
                String::from_utf8(body.to_vec()).unwrap_or_else(|_| panic!("{what}: valid UTF-8"))
            };
            assert!(
                text.ends_with('\n') && !text.ends_with("\n\n") && !text.ends_with("\n\r\n"),
                "{what}: one final newline"
            );
            match a.line_endings {
                LineEndings::Lf => assert!(!text.contains('\r'), "{what}: LF only"),
                LineEndings::Crlf => {
                    assert_eq!(
                        text.matches('\r').count(),
                        text.matches('\n').count(),
                        "{what}: CRLF only"
                    );
                    assert_eq!(
                        text.matches("\r\n").count(),
                        text.matches('\n').count(),
                        "{what}: CRLF only"
                    );
                }
            }
        }
    }
}

#[test]
fn the_manifest_lists_every_other_artifact_with_its_sha256() {
    use sha2::Digest as _;
    let arts = load("examples/non-ascii.toml".as_ref());
    let (manifest, rest) = arts.split_last().unwrap();
    let m: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let listed = m["artifacts"].as_array().unwrap();
    assert_eq!(listed.len(), rest.len());
    for (entry, a) in listed.iter().zip(rest) {
        assert_eq!(entry["path"], a.path.as_str());
        let sum: String = sha2::Sha256::digest(&a.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(entry["sha256"], sum, "{}", a.path);
        assert_eq!(entry["mode"], "0644");
    }
    assert_eq!(m["vm"], "zhang-wei");
}

#[test]
fn rendering_the_same_spec_twice_gives_the_same_bytes() {
    for entry in fs::read_dir("examples").unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(load(&path), load(&path), "{}", path.display());
    }
}

#[test]
fn the_embedded_default_spec_is_examples_default_toml() {
    assert_eq!(
        dockvm_spec::DEFAULT_SPEC,
        fs::read_to_string("examples/default.toml").unwrap()
    );
}

/// Every snapshot file belongs to a test input that still exists: a renamed example or
/// artifact must not leave a stale snapshot behind (cargo-insta's `--unreferenced=reject`,
/// without needing cargo-insta).
#[test]
fn no_snapshot_is_orphaned() {
    let arts = load("examples/default.toml".as_ref());
    let names: Vec<String> = arts.iter().map(|a| snap_name(a.path.as_str())).collect();
    for e in fs::read_dir("snapshots").unwrap() {
        let file = e.unwrap().file_name().into_string().unwrap();
        let stem = file
            .strip_suffix(".snap")
            .unwrap_or_else(|| panic!("snapshots/{file}: not a .snap"));
        let (name, input) = stem.split_once('@').unwrap_or((stem, ""));
        let exists = if name.starts_with("verify-report-") {
            input.is_empty()
        } else if name == "bad-spec" {
            fs::metadata(format!("tests/bad-specs/{input}")).is_ok()
        } else {
            names.contains(&name.to_owned()) && fs::metadata(format!("examples/{input}")).is_ok()
        };
        assert!(exists, "snapshots/{file} belongs to no test input");
    }
}

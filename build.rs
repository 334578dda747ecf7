//! Build facts for `dockvm --version`: the git commit the source was at and the target triple.
//! Read from the checkout with git (local; no network, no clock), or from `DOCKVM_COMMIT` when
//! the source is not a git checkout (an unpacked source archive); `unknown` otherwise.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-env-changed=DOCKVM_COMMIT");
    let commit = match std::env::var("DOCKVM_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => {
            // Built again when HEAD moves: HEAD itself, the branch it names, packed refs. Only
            // files that exist: cargo reruns a build script on every build for a missing one.
            if let Some(git_dir) = git(root, &["rev-parse", "--absolute-git-dir"]) {
                let git_dir = Path::new(&git_dir);
                let mut watch = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
                if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
                    watch.push(git_dir.join(branch));
                }
                for f in watch.iter().filter(|f| f.exists()) {
                    println!("cargo:rerun-if-changed={}", f.display());
                }
            }
            git(root, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    let commit: String = commit
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(64)
        .collect();
    println!("cargo:rustc-env=DOCKVM_COMMIT={commit}");
    println!(
        "cargo:rustc-env=DOCKVM_TARGET={}",
        std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned())
    );
}

//! Build script: the commit that `tinysup --version` names.
//!
//! dockerd runs `<init-path> --version` for `docker info` and reads the commit from
//! `… - git.<commit>`, the shape of tini's line (see `cli::version`). The commit is taken at
//! build time, from, in order:
//!
//! 1. `TINYSUP_BUILD_COMMIT`, for builds without the repository (a source tarball, a Docker
//!    build context without `.git`): letters and digits only, or it is ignored;
//! 2. `git rev-parse --short HEAD` in the crate's directory;
//! 3. `unknown`: honest, and still the shape dockerd reads (`docker info` shows "unknown").
//!
//! It reruns when HEAD moves (a commit, a checkout): cargo watches the files git keeps HEAD
//! and the current branch in. A tree with uncommitted changes still shows HEAD's commit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TINYSUP_BUILD_COMMIT");
    let commit = from_environment()
        .or_else(from_git)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=TINYSUP_COMMIT={commit}");
}

/// A commit that dockerd reads as one: not empty, letters and digits only (a `.` or a
/// space would break its split).
fn usable(commit: &str) -> bool {
    !commit.is_empty() && commit.len() <= 40 && commit.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn from_environment() -> Option<String> {
    let commit = std::env::var("TINYSUP_BUILD_COMMIT").ok()?;
    let commit = commit.trim();
    usable(commit).then(|| commit.to_string())
}

fn from_git() -> Option<String> {
    let directory = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .arg("-C")
            .arg(&directory)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    // What to watch: HEAD (in a worktree, the worktree's own), and the branch it points to,
    // loose or packed (in the common directory).
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        watch(&Path::new(&git_dir).join("HEAD"));
    }
    let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]);
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    if let Some(common) = common {
        let common = Path::new(&common);
        if let Some(branch) = branch {
            watch(&common.join(branch));
        }
        watch(&common.join("packed-refs"));
    }
    usable(&commit).then_some(commit)
}

/// Reruns this script when `path` changes. Only existing files: cargo reruns a script on
/// every build while a watched file is missing.
fn watch(path: &Path) {
    if path.is_file() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

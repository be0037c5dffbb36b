//! The release image under a real Docker engine: docker/Dockerfile.release (FROM scratch,
//! only /tinysup) is built once per architecture as `release/build.sh --image` builds it; it
//! holds the artefact and nothing else; it runs; and `COPY --from=tinysup:VERSION /tinysup
//! /sbin/tinysup` puts tinysup into another image, where it is PID 1.
//!
//! With `TINYSUP_RELEASE_DIR` (release/build.sh's output folder; .ci/run sets it) the
//! binaries are the release artefacts, checked against their SHA256SUMS, and the arm64 one
//! runs under qemu-user through binfmt_misc. Without it, the host-built static binary stands
//! in, for amd64 only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::docker::{exit_code, logs, logs_contain, start, stop};
use crate::engines::{Docker, TempDir, available, busybox, repo, run_ok, static_tinysup};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One binary to ship, for one architecture (Docker's name for it).
struct Artefact {
    arch: String,
    path: PathBuf,
    sha256: String,
}

impl Artefact {
    /// The tag release/build.sh gives its image.
    fn tag(&self) -> String {
        if self.arch == "amd64" {
            format!("tinysup:{VERSION}")
        } else {
            format!("tinysup:{VERSION}-{}", self.arch)
        }
    }
}

fn sha256(path: &Path) -> String {
    let out = run_ok(Command::new("sha256sum").arg(path));
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The binaries to test: the release folder's, checked against SHA256SUMS, or the static one.
fn artefacts() -> Vec<Artefact> {
    let Ok(dir) = std::env::var("TINYSUP_RELEASE_DIR") else {
        let path = static_tinysup().to_path_buf();
        let sha256 = sha256(&path);
        return vec![Artefact {
            arch: "amd64".to_string(),
            path,
            sha256,
        }];
    };
    let dir = fs::canonicalize(&dir).unwrap_or_else(|e| panic!("TINYSUP_RELEASE_DIR={dir}: {e}"));
    // What a user does after downloading: every file listed matches.
    run_ok(
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(&dir),
    );
    let sums = fs::read_to_string(dir.join("SHA256SUMS")).expect("SHA256SUMS");
    let found: Vec<Artefact> = sums
        .lines()
        .filter_map(|line| {
            let (sha256, name) = line.split_once("  ")?;
            let arch = name.strip_prefix("tinysup-")?;
            Some(Artefact {
                arch: arch.to_string(),
                path: dir.join(name),
                sha256: sha256.to_string(),
            })
        })
        .collect();
    assert!(
        found.iter().any(|a| a.arch == "amd64"),
        "{}: no tinysup-amd64 in SHA256SUMS:\n{sums}",
        dir.display()
    );
    found
}

/// True if this machine runs `arch` binaries: natively, or arm64 through qemu-user registered
/// in binfmt_misc with the F flag (the interpreter is opened at registration, so it also works
/// inside containers). Missing with CI=true fails the test; otherwise SKIPPED, loudly.
fn runs_here(arch: &str) -> bool {
    if arch == "amd64" {
        return true;
    }
    let entry = fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64").unwrap_or_default();
    let flags = entry
        .lines()
        .find_map(|l| l.strip_prefix("flags: "))
        .unwrap_or("");
    if arch == "arm64" && entry.starts_with("enabled") && flags.contains('F') {
        return true;
    }
    let what = format!(
        "running the {arch} image needs qemu-user-static registered in binfmt_misc with the F flag \
         (see .ci/run)"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true, but {what}");
    }
    eprintln!("SKIPPED: {what}. With CI=true this is a failure.");
    false
}

#[test]
fn release_image_end_to_end() {
    if !available(&["dockerd", "docker", "sha256sum", "tar"]) {
        return;
    }
    let artefacts = artefacts();
    let docker = Docker::start_named("docker-release", &artefacts[0].path);
    for artefact in &artefacts {
        eprintln!("release: the {} image holds only /tinysup", artefact.arch);
        build_release_image(&docker, artefact);
        if !runs_here(&artefact.arch) {
            continue;
        }
        eprintln!("release: the {} image runs, as PID 1", artefact.arch);
        release_image_runs(&docker, artefact);
        if artefact.arch == "amd64" {
            // Docker 20.10's classic builder cannot build a multi-step image for another
            // platform (it records each step under the host's), so COPY --from is checked
            // for the host's architecture.
            eprintln!("release: COPY --from={} into another image", artefact.tag());
            copy_from_release_image(&docker, artefact);
        }
    }
}

fn build_release_image(docker: &Docker, artefact: &Artefact) {
    let context = TempDir::new(&format!("release-{}", artefact.arch));
    fs::copy(
        repo().join("docker/Dockerfile.release"),
        context.0.join("Dockerfile"),
    )
    .unwrap();
    fs::copy(&artefact.path, context.0.join("tinysup")).unwrap();
    let tag = artefact.tag();
    docker.ok(&[
        "build",
        "-q",
        "--platform",
        &format!("linux/{}", artefact.arch),
        "-t",
        &tag,
        &context.0.display().to_string(),
    ]);
    let facts = docker.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}} {{json .Config.Entrypoint}}",
        &tag,
    ]);
    assert_eq!(
        facts.trim(),
        format!("linux/{} 1 [\"/tinysup\"]", artefact.arch),
        "{tag}"
    );
    // Its one layer holds one file, the artefact itself.
    let saved = TempDir::new(&format!("release-saved-{}", artefact.arch));
    let archive = saved.0.join("image.tar");
    docker.ok(&["save", "-o", &archive.display().to_string(), &tag]);
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&saved.0),
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(saved.0.join("manifest.json")).unwrap()).unwrap();
    let layers = manifest[0]["Layers"]
        .as_array()
        .expect("the image's layers");
    assert_eq!(layers.len(), 1, "{manifest}");
    let layer = saved.0.join(layers[0].as_str().unwrap());
    let listing = run_ok(Command::new("tar").arg("-tf").arg(&layer));
    assert_eq!(listing.trim(), "tinysup", "{tag} holds:\n{listing}");
    let unpacked = saved.0.join("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(&layer)
            .arg("-C")
            .arg(&unpacked),
    );
    assert_eq!(
        sha256(&unpacked.join("tinysup")),
        artefact.sha256,
        "{tag}: /tinysup is the artefact"
    );
}

fn release_image_runs(docker: &Docker, artefact: &Artefact) {
    let tag = artefact.tag();
    let platform = format!("linux/{}", artefact.arch);
    let version = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--platform",
        &platform,
        &tag,
        "--version",
    ]);
    // tini's shape, which dockerd's `docker info` reads: `… version X - git.COMMIT`.
    assert!(
        version
            .trim()
            .starts_with(&format!("tinysup version {VERSION} - git.")),
        "{tag}: {version}"
    );
    // PID 1 of a container, with a program (busybox, lent by the host) that stops on TERM.
    let id = start(
        docker,
        &[
            "--platform",
            &platform,
            "-v",
            &format!("{}:/bin/busybox:ro", busybox().display()),
            &tag,
            "--",
            "/bin/busybox",
            "sh",
            "-c",
            "trap 'echo bye; exit 0' TERM; echo up; /bin/busybox sleep 1000 & wait",
        ],
    );
    logs_contain(docker, &id, "up");
    let comm = docker.ok(&["exec", &id, "/bin/busybox", "cat", "/proc/1/comm"]);
    assert_eq!(comm.trim(), "tinysup", "{tag}: PID 1");
    let took = stop(docker, &id, 10);
    assert!(
        took < Duration::from_secs(5),
        "{tag}: docker stop took {took:?}"
    );
    assert_eq!(exit_code(docker, &id), 0, "{}", logs(docker, &id));
    assert!(logs(docker, &id).contains("bye"), "{}", logs(docker, &id));
    docker.ok(&["rm", "-f", &id]);
}

fn copy_from_release_image(docker: &Docker, artefact: &Artefact) {
    let context = TempDir::new("release-app");
    fs::copy(busybox(), context.0.join("busybox")).unwrap();
    // The README's line, as a user writes it.
    fs::write(
        context.0.join("Dockerfile"),
        format!(
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             COPY --from={} /tinysup /sbin/tinysup\n\
             ENV PATH=/bin:/sbin\n\
             ENTRYPOINT [\"/sbin/tinysup\"]\n",
            artefact.tag()
        ),
    )
    .unwrap();
    let app = "tinysup-release-app:latest";
    docker.ok(&["build", "-q", "-t", app, &context.0.display().to_string()]);

    // Like tini: one program, its status, a graceful docker stop.
    let id = start(
        docker,
        &[
            app,
            "--",
            "sh",
            "-c",
            "trap 'echo bye; exit 0' TERM; echo up; sleep 1000 & wait",
        ],
    );
    logs_contain(docker, &id, "up");
    let copied = docker.ok(&["exec", &id, "sha256sum", "/sbin/tinysup"]);
    assert!(
        copied.starts_with(&artefact.sha256),
        "/sbin/tinysup is the artefact: {copied}"
    );
    let comm = docker.ok(&["exec", &id, "cat", "/proc/1/comm"]);
    assert_eq!(comm.trim(), "tinysup", "PID 1");
    let took = stop(docker, &id, 10);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert_eq!(exit_code(docker, &id), 0, "{}", logs(docker, &id));
    assert!(logs(docker, &id).contains("bye"), "{}", logs(docker, &id));

    // Supervising: a program from an ENV line, its output prefixed.
    let id = start(
        docker,
        &[
            "-e",
            "TINYSUP_PROGRAM_HELLO=sh -c 'echo hello from the release image; exec sleep 1000'",
            app,
        ],
    );
    logs_contain(docker, &id, "| hello from the release image");
    let took = stop(docker, &id, 10);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    // A requested shutdown that stopped everything gracefully.
    assert_eq!(exit_code(docker, &id), 0, "{}", logs(docker, &id));
    docker.ok(&["rm", "-f", &id]);
}

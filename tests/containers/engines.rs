//! The container engines the end-to-end tests use, each under a temporary folder of its own:
//! a dockerd started here (no bridge, no iptables, tinysup as its `--init` binary) and
//! stopped by its pid; Podman with runc and explicit limits (see ../shared/CONTAINERS.md).
//! Also: the static tinysup, and the build context for docker/Dockerfile.test.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the end-to-end tests need from this machine. Missing pieces with CI=true fail the
/// test; otherwise the test says SKIPPED (loudly) and returns.
pub fn available(tools: &[&str]) -> bool {
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|tool| tool.to_string())
        .collect();
    if !nix::unistd::Uid::effective().is_root() {
        missing.push("root".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let what = format!(
        "the container tests need {} (see .ci/run for the packages)",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true, but {what}");
    }
    eprintln!("SKIPPED: {what}. With CI=true this is a failure.");
    false
}

/// The static tinysup: `TINYSUP_TEST_BIN` if set, else built here (release, musl) once.
pub fn static_tinysup() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Ok(path) = std::env::var("TINYSUP_TEST_BIN") {
            return fs::canonicalize(&path)
                .unwrap_or_else(|e| panic!("TINYSUP_TEST_BIN={path}: {e}"));
        }
        let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("static-build");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--target",
                "x86_64-unknown-linux-musl",
                "--target-dir",
            ])
            .arg(&target_dir)
            .current_dir(repo())
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the static tinysup failed");
        target_dir.join("x86_64-unknown-linux-musl/release/tinysup")
    })
}

/// A temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("tinysup-e2e-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temporary folder");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The build context of docker/Dockerfile.test: its files, the static tinysup, busybox.
pub fn test_image_context(dir: &Path) {
    let docker = repo().join("docker");
    fs::copy(docker.join("Dockerfile.test"), dir.join("Dockerfile")).unwrap();
    copy_tree(&docker.join("rootfs"), &dir.join("rootfs"));
    copy_tree(&docker.join("examples"), &dir.join("examples"));
    fs::copy(static_tinysup(), dir.join("tinysup")).unwrap();
    fs::copy(busybox(), dir.join("busybox")).unwrap();
}

/// A statically linked busybox (Debian's busybox-static) for the images' shell and servers.
pub fn busybox() -> PathBuf {
    PathBuf::from("/bin/busybox")
}

/// Runs `command`, returning its output; panics with everything it printed if it fails.
pub fn run_ok(command: &mut Command) -> String {
    let out = run(command);
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"))
}

/// Waits until `condition` returns Some, checking every 100 ms, for at most `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut condition: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// A dockerd of the test's own, stopped (by its pid) when dropped.
pub struct Docker {
    daemon: Child,
    socket: String,
    pub root: TempDir,
}

impl Docker {
    /// Starts dockerd with `init` as its `docker run --init` binary, and waits until it answers.
    pub fn start(init: &Path) -> Docker {
        Docker::start_named("docker", init)
    }

    /// The same, with its folder named after `label`: one test process may run several.
    pub fn start_named(label: &str, init: &Path) -> Docker {
        let root = TempDir::new(label);
        let dir = root.0.display().to_string();
        let log = fs::File::create(root.0.join("dockerd.log")).unwrap();
        let daemon = Command::new("dockerd")
            .args([
                "--data-root",
                &format!("{dir}/data"),
                "--exec-root",
                &format!("{dir}/exec"),
            ])
            .args([
                "--pidfile",
                &format!("{dir}/pid"),
                "-H",
                &format!("unix://{dir}/docker.sock"),
            ])
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-forward=false",
                "--ip-masq=false",
            ])
            .arg("--init-path")
            .arg(init)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let docker = Docker {
            daemon,
            socket: format!("unix://{dir}/docker.sock"),
            root,
        };
        wait_for("dockerd answers", Duration::from_secs(60), || {
            docker
                .cli()
                .arg("info")
                .output()
                .ok()
                .filter(|o| o.status.success())
        });
        docker
    }

    /// A `docker` command talking to this daemon.
    pub fn cli(&self) -> Command {
        let mut command = Command::new("docker");
        command.env("DOCKER_HOST", &self.socket);
        command
    }

    /// `docker ARGS`, which must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        run_ok(self.cli().args(args))
    }

    /// The daemon's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.0.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // Containers first, so dockerd can unmount everything before it goes.
        if let Ok(out) = self.cli().args(["ps", "-aq"]).output() {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let _ = self.cli().args(["rm", "-f"]).args(&ids).output();
            }
        }
        let pid = self.daemon.id() as i32;
        // SAFETY: kill(2) touches no memory.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Podman with its storage under a temporary folder, runc and explicit limits.
pub struct Podman {
    pub root: TempDir,
}

impl Podman {
    pub fn new() -> Podman {
        let root = TempDir::new("podman");
        fs::write(
            root.0.join("containers.conf"),
            "[containers]\n\
             default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             netns = \"none\"\n\
             [engine]\n\
             runtime = \"runc\"\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n",
        )
        .unwrap();
        Podman { root }
    }

    /// A `podman` command with this storage.
    pub fn cli(&self) -> Command {
        let mut command = Command::new("podman");
        let dir = &self.root.0;
        command.env("CONTAINERS_CONF", dir.join("containers.conf"));
        command
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--runroot")
            .arg(dir.join("run"));
        command
    }

    pub fn ok(&self, args: &[&str]) -> String {
        run_ok(self.cli().args(args))
    }

    /// Podman's version as (major, minor).
    pub fn version(&self) -> (u32, u32) {
        let text = self.ok(&["version", "--format", "{{.Client.Version}}"]);
        let mut parts = text.trim().split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cli().args(["pod", "rm", "-af", "-t", "0"]).output();
        let _ = self.cli().args(["rm", "-af", "-t", "0"]).output();
        // Overlay mounts under the storage folder go with podman's own reset.
        let _ = self.cli().args(["system", "reset", "-f"]).output();
    }
}

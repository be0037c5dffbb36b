//! tinysup under a real Docker engine: docker stop, docker kill, programs from `-e`,
//! docker logs, reaping inside the container, an essential failure and the restart policy,
//! `docker run --init`, the example configurations and Dockerfile.example's three stages.

use std::fs;
use std::time::{Duration, Instant};

use crate::engines::{
    Docker, TempDir, available, busybox, repo, static_tinysup, test_image_context, wait_for,
};

/// The image of docker/Dockerfile.test.
const IMAGE: &str = "tinysup-e2e:latest";
/// The same without tinysup (busybox and the root filesystem only).
const BASE: &str = "tinysup-e2e-base:latest";

/// A named check.
type Step = (&'static str, fn(&Docker));

#[test]
fn docker_end_to_end() {
    if !available(&["dockerd", "docker"]) {
        return;
    }
    let docker = Docker::start(static_tinysup());
    build_images(&docker);
    let steps: [Step; 9] = [
        (
            "docker stop is graceful, prompt, with the right exit code",
            docker_stop,
        ),
        ("docker kill -s HUP is forwarded", docker_kill_hup),
        (
            "programs from docker run -e, prefixed in docker logs",
            programs_from_env,
        ),
        ("zombies are reaped inside the container", zombies_reaped),
        (
            "an essential failure ends the container; the restart policy acts",
            essential_failure_and_restart_policy,
        ),
        ("tinysup as docker run --init", as_init_binary),
        ("the CI example: a database and a test runner", ci_example),
        ("the app plus migration example", app_migrate_example),
        ("Dockerfile.example's three stages", dockerfile_example),
    ];
    for (name, step) in steps {
        eprintln!("docker: {name}");
        step(&docker);
    }
}

fn build_images(docker: &Docker) {
    let context = TempDir::new("docker-context");
    test_image_context(&context.0);
    docker.ok(&["build", "-q", "-t", IMAGE, &context.0.display().to_string()]);
    let base = TempDir::new("docker-base");
    fs::copy(busybox(), base.0.join("busybox")).unwrap();
    fs::write(
        base.0.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n",
    )
    .unwrap();
    docker.ok(&["build", "-q", "-t", BASE, &base.0.display().to_string()]);
}

/// `docker run -d --network none ARGS`; returns the container id.
pub(crate) fn start(docker: &Docker, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--network", "none"];
    all.extend_from_slice(args);
    docker.ok(&all).trim().to_string()
}

/// Waits until the container's logs contain `text`; returns them (panics with them).
pub(crate) fn logs_contain(docker: &Docker, id: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = logs(docker, id);
        if logs.contains(text) {
            return logs;
        }
        assert!(
            Instant::now() < deadline,
            "the logs of {id} never showed {text:?}:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn logs(docker: &Docker, id: &str) -> String {
    let out = docker.cli().args(["logs", id]).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn exit_code(docker: &Docker, id: &str) -> i32 {
    docker
        .ok(&["inspect", "-f", "{{.State.ExitCode}}", id])
        .trim()
        .parse()
        .unwrap()
}

/// `docker stop` (Docker's SIGKILL only after `grace` seconds); returns how long it took.
pub(crate) fn stop(docker: &Docker, id: &str, grace: u32) -> Duration {
    let asked = Instant::now();
    docker.ok(&["stop", "-t", &grace.to_string(), id]);
    asked.elapsed()
}

fn docker_stop(docker: &Docker) {
    // The web-worker example: docker stop stops the worker (it depends on web), then web.
    let id = start(docker, &[IMAGE, "-c", "/etc/tinysup/web-worker.json"]);
    logs_contain(docker, &id, "worker  | processed a job");
    let took = stop(docker, &id, 10);
    let text = logs(docker, &id);
    // tinysup's messages are all on stderr, in order: the worker (a dependent) stops first.
    let worker = text.find("worker: stopping with SIGTERM").expect(&text);
    let web = text.find("web: stopping with SIGTERM").expect(&text);
    assert!(worker < web, "reverse dependency order:\n{text}");
    assert!(
        text.contains("worker  | finishing the current job"),
        "a graceful stop:\n{text}"
    );
    // Promptly: far from Docker's 10 s SIGKILL.
    assert!(
        took < Duration::from_secs(5),
        "docker stop took {took:?}:\n{text}"
    );
    // web is essential and died of the TERM it was sent: 128 + 15.
    assert_eq!(exit_code(docker, &id), 143, "{text}");

    // The tini-style use: the program's own status.
    let id = start(
        docker,
        &[
            IMAGE,
            "--",
            "sh",
            "-c",
            "trap 'echo bye; exit 0' TERM; echo up; sleep 1000 & wait",
        ],
    );
    logs_contain(docker, &id, "up");
    let took = stop(docker, &id, 10);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert_eq!(exit_code(docker, &id), 0);
    assert!(logs(docker, &id).contains("bye"));
}

fn docker_kill_hup(docker: &Docker) {
    let id = start(
        docker,
        &[
            IMAGE,
            "--",
            "sh",
            "-c",
            "trap 'echo got HUP' HUP; echo ready; while :; do sleep 1 & wait $!; done",
        ],
    );
    logs_contain(docker, &id, "ready");
    docker.ok(&["kill", "-s", "HUP", &id]);
    logs_contain(docker, &id, "got HUP");
    docker.ok(&["rm", "-f", &id]);
}

fn programs_from_env(docker: &Docker) {
    let id = start(
        docker,
        &[
            "-e",
            "TINYSUP_PROGRAM_HELLO={\"command\": \"echo hello from an env line\", \"type\": \"oneshot\"}",
            "-e",
            "TINYSUP_PROGRAM_REPORT={\"command\": [\"sh\", \"-c\", \"echo report ready >&2\"], \"type\": \"oneshot\", \"depends_on\": [\"hello\"]}",
            IMAGE,
        ],
    );
    docker.ok(&["wait", &id]);
    let out = docker.cli().args(["logs", &id]).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("hello   | hello from an env line"),
        "docker logs' stdout:\n{stdout}"
    );
    assert!(
        stderr.contains("report  | report ready"),
        "stderr stays stderr:\n{stderr}"
    );
    assert!(stderr.contains("tinysup | hello: started"), "{stderr}");
    assert_eq!(exit_code(docker, &id), 0);
}

/// The zombies in the container, from busybox ps (state Z).
fn zombies(docker: &Docker, id: &str) -> usize {
    let out = docker
        .cli()
        .args(["exec", id, "ps", "-o", "stat"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with('Z'))
        .count()
}

fn zombies_reaped(docker: &Docker) {
    let script =
        "for i in 1 2 3 4 5; do sh -c 'sleep 0.2 &'; done; echo orphans made; exec sleep 1000";
    // Negative first: with a PID 1 that never waits, the same orphans stay zombies, so the
    // check below can fail.
    let id = start(
        docker,
        &[
            "--entrypoint",
            "/bin/sh",
            BASE,
            "-c",
            &format!("({script}) & exec sleep 1000"),
        ],
    );
    logs_contain(docker, &id, "orphans made");
    wait_for(
        "zombies under a PID 1 that does not reap",
        Duration::from_secs(10),
        || (zombies(docker, &id) >= 5).then_some(()),
    );
    docker.ok(&["rm", "-f", &id]);

    let id = start(docker, &[IMAGE, "--", "sh", "-c", script]);
    logs_contain(docker, &id, "orphans made");
    wait_for(
        "no zombie left under tinysup",
        Duration::from_secs(10),
        || {
            let out = docker
                .cli()
                .args(["exec", &id, "ps", "-o", "stat,comm"])
                .output()
                .ok()?;
            let ps = String::from_utf8_lossy(&out.stdout).into_owned();
            (!ps.lines().any(|l| l.trim_start().starts_with('Z')) && !ps.contains("sleep 0.2"))
                .then_some(())
        },
    );
    docker.ok(&["rm", "-f", &id]);
}

fn essential_failure_and_restart_policy(docker: &Docker) {
    let id = start(
        docker,
        &[
            "--restart",
            "on-failure:2",
            "-e",
            "TINYSUP_PROGRAM_APP={\"command\": \"sh -c 'echo app failing; exit 3'\", \"essential\": true, \"restart\": \"no\"}",
            "-e",
            "TINYSUP_PROGRAM_SIDECAR=sh -c 'trap \"exit 0\" TERM; while :; do sleep 1; done'",
            IMAGE,
        ],
    );
    let restarts = wait_for(
        "the restart policy gives up",
        Duration::from_secs(30),
        || {
            let state = docker.ok(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", &id]);
            let (status, count) = state.trim().split_once(' ')?;
            (status == "exited" && count == "2").then_some(count.to_string())
        },
    );
    assert_eq!(restarts, "2");
    assert_eq!(
        exit_code(docker, &id),
        3,
        "the essential program's code:\n{}",
        logs(docker, &id)
    );
    assert!(logs(docker, &id).contains("app is essential and has ended (exit code 3)"));
    docker.ok(&["rm", "-f", &id]);
}

fn as_init_binary(docker: &Docker) {
    // dockerd runs with --init-path pointing at tinysup: `--init` puts it in as PID 1.
    let out = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--init",
        BASE,
        "sh",
        "-c",
        "tr '\\0' ' ' < /proc/1/cmdline",
    ]);
    assert!(
        out.starts_with("/sbin/docker-init -- sh -c"),
        "PID 1 is the init binary: {out}"
    );
    let version = docker.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--init",
        "--entrypoint",
        "/sbin/docker-init",
        BASE,
        "--version",
    ]);
    // tini's shape, which dockerd reads for `docker info` (not "N/A" and a warning).
    let commit = version
        .trim()
        .strip_prefix(&format!(
            "tinysup version {} - git.",
            env!("CARGO_PKG_VERSION")
        ))
        .unwrap_or_else(|| panic!("--version: {version}"))
        .to_string();
    let init = docker.ok(&["info", "--format", "{{.InitCommit.ID}}"]);
    assert_eq!(init.trim(), commit, "docker info's init version");
    // `sleep` ignores SIGTERM as PID 1 (no handler); under tinysup it gets it and dies.
    let id = start(docker, &["--init", BASE, "sleep", "1000"]);
    let took = stop(docker, &id, 10);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert_eq!(exit_code(docker, &id), 143);
}

fn ci_example(docker: &Docker) {
    let out = docker
        .cli()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            IMAGE,
            "-c",
            "/etc/tinysup/ci.json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| all tests passed"), "{stdout}");
    assert_eq!(out.status.code(), Some(0));
    // A failing test run fails the container with the runner's status.
    let failing =
        "TINYSUP_PROGRAM_TESTS={\"command\": [\"sh\", \"-c\", \"echo 2 tests failed; exit 1\"]}";
    let out = docker
        .cli()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "-e",
            failing,
            IMAGE,
            "-c",
            "/etc/tinysup/ci.json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn app_migrate_example(docker: &Docker) {
    let id = start(docker, &[IMAGE, "-c", "/etc/tinysup/app-migrate.json"]);
    let logs = logs_contain(docker, &id, "app: started");
    let migrated = logs.find("schema is at version 42").expect(&logs);
    assert!(
        migrated < logs.find("app: started").unwrap(),
        "the app waits for the migration:\n{logs}"
    );
    let page = wait_for("the app serves", Duration::from_secs(10), || {
        let out = docker
            .cli()
            .args([
                "exec",
                &id,
                "wget",
                "-q",
                "-O",
                "-",
                "http://127.0.0.1:8080/",
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(page.contains("supervised by tinysup"));
    let ps = docker.ok(&["exec", &id, "ps", "-o", "user,comm"]);
    assert!(
        ps.lines()
            .any(|l| l.contains("nobody") && l.contains("httpd")),
        "httpd runs as nobody:\n{ps}"
    );
    docker.ok(&["rm", "-f", &id]);
}

fn dockerfile_example(docker: &Docker) {
    // The builder stage needs an image from a registry, which these machines do not reach:
    // it is replaced by a stage holding the host-built binary at the same path. The three
    // final stages are built and run as they are.
    let text = fs::read_to_string(repo().join("Dockerfile.example")).unwrap();
    let build_start = text.find("FROM rust:").expect("a builder stage");
    let build_end = build_start
        + text[build_start..]
            .find("\n# ---- 1.")
            .expect("the stages after it");
    let replaced = format!(
        "{}FROM scratch AS build\nCOPY tinysup /src/target/x86_64-unknown-linux-musl/release/tinysup\n{}",
        &text[..build_start],
        &text[build_end..]
    );
    let context = TempDir::new("dockerfile-example");
    fs::write(context.0.join("Dockerfile"), replaced).unwrap();
    fs::copy(static_tinysup(), context.0.join("tinysup")).unwrap();
    fs::create_dir_all(context.0.join("docker/examples")).unwrap();
    // The json-file stage copies this example.
    let example = "docker/examples/web-worker.json";
    fs::copy(repo().join(example), context.0.join(example)).unwrap();
    let dir = context.0.display().to_string();
    for (target, shows) in [
        ("tini-style", "hello from a program under tinysup"),
        ("json-file", "worker  | processed a job"),
        ("env-lines", "heartbeat | alive"),
    ] {
        let tag = format!("tinysup-example-{target}:latest");
        docker.ok(&[
            "build",
            "-q",
            "--build-arg",
            &format!("BASE_IMAGE={BASE}"),
            "--target",
            target,
            "-t",
            &tag,
            &dir,
        ]);
        let id = start(docker, &[&tag]);
        logs_contain(docker, &id, shows);
        let took = stop(docker, &id, 10);
        assert!(
            took < Duration::from_secs(5),
            "{target}: docker stop took {took:?}"
        );
        let code = exit_code(docker, &id);
        assert!(
            code == 143 || code == 0,
            "{target}: exit {code}:\n{}",
            logs(docker, &id)
        );
    }
}

//! tinysup in a Kubernetes pod, run by `podman kube play` from docker/k8s/pod.yaml: it
//! starts, logs, passes its probe, and stops gracefully; and the same with
//! `shareProcessNamespace: true`, where the pod's pause process is PID 1 and tinysup runs as
//! a subreaper.

use std::fs;
use std::time::{Duration, Instant};

use crate::engines::{Podman, TempDir, available, repo, test_image_context, wait_for};

/// The image docker/k8s/pod.yaml names.
const IMAGE: &str = "localhost/tinysup-e2e:latest";
const POD: &str = "tinysup-example";
const CONTAINER: &str = "tinysup-example-app";

#[test]
fn podman_kube_play_end_to_end() {
    // podman builds the pod's pause image from catatonit.
    if !available(&["podman", "runc", "catatonit"]) {
        return;
    }
    let podman = Podman::new();
    let context = TempDir::new("podman-context");
    test_image_context(&context.0);
    podman.ok(&["build", "-q", "-t", IMAGE, &context.0.display().to_string()]);

    let manifest = repo().join("docker/k8s/pod.yaml");
    eprintln!("kube: the pod starts, logs, passes its probe, stops gracefully");
    play_and_check(&podman, &manifest.display().to_string(), false);

    eprintln!("kube: the same with shareProcessNamespace (tinysup as a subreaper)");
    let shared = TempDir::new("podman-shared");
    let text = fs::read_to_string(&manifest).unwrap();
    let text = text.replacen("spec:\n", "spec:\n  shareProcessNamespace: true\n", 1);
    let path = shared.0.join("pod.yaml");
    fs::write(&path, text).unwrap();
    play_and_check(&podman, &path.display().to_string(), true);
}

fn logs(podman: &Podman) -> String {
    let out = podman.cli().args(["logs", CONTAINER]).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn play_and_check(podman: &Podman, manifest: &str, shared_pid_namespace: bool) {
    podman.ok(&["kube", "play", "--network", "none", manifest]);
    // It starts and logs: every program, prefixed.
    let logs_now = wait_for("every program logged", Duration::from_secs(30), || {
        let logs = logs(podman);
        [
            "web: started",
            "worker  | processed a job",
            "metrics | exported metrics",
        ]
        .iter()
        .all(|line| logs.contains(line))
        .then_some(logs)
    });
    assert!(logs_now.contains("tinysup | worker: started"), "{logs_now}");

    // Its liveness probe (an exec probe asking the web server) passes.
    wait_for("the probe passes", Duration::from_secs(20), || {
        podman
            .cli()
            .args(["healthcheck", "run", CONTAINER])
            .output()
            .ok()
            .filter(|o| o.status.success())
    });

    let pid1 = podman
        .ok(&["exec", CONTAINER, "cat", "/proc/1/cmdline"])
        .replace('\0', " ");
    if shared_pid_namespace {
        assert!(
            !pid1.contains("tinysup"),
            "with a shared PID namespace the pause process is PID 1: {pid1}"
        );
        let ps = podman.ok(&["exec", CONTAINER, "ps", "-o", "pid,comm"]);
        assert!(
            ps.lines().any(|l| l.contains("tinysup")),
            "tinysup runs, as a subreaper:\n{ps}"
        );
    } else {
        assert!(
            pid1.starts_with("/sbin/tinysup"),
            "tinysup is the container's PID 1: {pid1}"
        );
    }

    // A graceful stop, the way the kubelet does it: the app container first, then the pod.
    // (Podman before 5.1 has `kube down` SIGKILL every container at once, whatever its stop
    // timeout: podman#22397. And with a shared PID namespace, stopping the pause container,
    // PID 1 of everyone, makes the kernel SIGKILL the whole namespace: `podman pod stop`
    // stops it alongside the app.)
    let asked = Instant::now();
    podman.ok(&["stop", "-t", "15", CONTAINER]);
    let took = asked.elapsed();
    let stopped = logs(podman);
    let position = |text: &str| {
        stopped
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} in:\n{stopped}"))
    };
    assert!(
        position("received SIGTERM: shutting down") < position("metrics: stopping with SIGTERM")
    );
    assert!(
        position("worker: stopping with SIGTERM") < position("web: stopping with SIGTERM"),
        "{stopped}"
    );
    assert!(
        took < Duration::from_secs(10),
        "the pod took {took:?} to stop:\n{stopped}"
    );
    let code = podman.ok(&["inspect", "-f", "{{.State.ExitCode}}", CONTAINER]);
    // web (essential) died of the SIGTERM it was sent: 128 + 15.
    assert_eq!(code.trim(), "143", "{stopped}");
    podman.ok(&["pod", "stop", POD]);
    podman.ok(&["kube", "down", manifest]);
}

//! A restart starts from a clean slate: what a run leaves behind (workers in its process
//! group, processes that left the group with `setsid`) is stopped before the next run
//! starts, and when a program ends for good. The final sweep, as PID 1 and as a
//! subreaper; a shutdown that ends even when a process cannot die.

use std::net::TcpListener;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::util::{
    Exit, KillOnDrop, Mode, Running, Stream, Tinysup, body, children, fixture,
    pid_namespaces_available, tinysup,
};

fn with_config(config: Value) -> Tinysup {
    tinysup(Vec::<String>::new()).env("TINYSUP_CONFIG_JSON", &config.to_string())
}

fn start(run: Tinysup, mode: Mode) -> Option<Running> {
    (mode == Mode::Subreaper || pid_namespaces_available()).then(|| run.start(mode))
}

/// A TCP port nothing listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// A pre-forking server whose master is killed with SIGKILL (php-fpm's master, postgres'
/// postmaster): its workers hold the listening socket. The next master must be able to
/// bind it, so the workers of the dead run must be gone before it starts.
fn restart_after_the_master_is_killed(mode: Mode, options: &[&str]) {
    let port = free_port();
    let mut command = vec![fixture("prefork.py"), port.to_string(), "3".to_string()];
    command.extend(options.iter().map(|o| o.to_string()));
    let config = json!({"programs": {"app": {
        "command": command, "restart_delay": "50ms", "stop_timeout": "300ms"
    }}});
    let Some(mut run) = start(with_config(config), mode) else {
        return;
    };
    run.expect_on(Stream::Stdout, "bound");
    for _ in 0..3 {
        run.expect_on(Stream::Stdout, "worker");
    }
    let master = children(run.pid())[0];
    crate::util::kill(master, libc::SIGKILL);
    run.expect_on(
        Stream::Stderr,
        "app: other processes of its run are still running: stopping them with SIGTERM",
    );
    if options.contains(&"ignore-term") {
        run.expect_on(
            Stream::Stderr,
            "app: processes of its last run still running 300ms after their stop signal: SIGKILL",
        );
    }
    // The new master binds: nothing of the old run holds the port.
    run.expect_line(
        Some(Stream::Stdout),
        |line| line.contains("bound") || line.contains("cannot bind"),
        "the next master's bind",
    );
    let out = run.lines(Stream::Stdout).join("\n");
    assert!(
        !out.contains("cannot bind"),
        "{mode:?} {options:?}: a worker of the dead run still held the port:\n{}",
        run.transcript()
    );
    // The new run's workers are up (and, with ignore-term, ignore SIGTERM) before the stop.
    for _ in 0..3 {
        run.expect_on(Stream::Stdout, "worker");
    }
    run.signal(libc::SIGTERM);
    // Workers that ignore TERM are killed at the shutdown too: a requested shutdown that
    // had to kill something.
    let expected = if options.contains(&"ignore-term") {
        1
    } else {
        0
    };
    assert_eq!(run.wait(), Exit::Code(expected), "{}", run.transcript());
}

#[test]
fn workers_left_in_the_group_are_stopped_before_the_restart() {
    for mode in [Mode::Pid1, Mode::Subreaper] {
        restart_after_the_master_is_killed(mode, &[]);
    }
}

#[test]
fn workers_that_left_the_group_are_stopped_before_the_restart() {
    for mode in [Mode::Pid1, Mode::Subreaper] {
        restart_after_the_master_is_killed(mode, &["setsid"]);
    }
}

#[test]
fn workers_that_ignore_the_stop_signal_are_killed_at_stop_timeout() {
    restart_after_the_master_is_killed(Mode::Pid1, &["setsid", "ignore-term"]);
}

#[test]
fn what_left_the_group_gets_the_sigkill_too() {
    // The master ignores its stop signal and is SIGKILLed at stop_timeout; its workers left
    // its group and come to tinysup only as it dies, after that SIGKILL: they get one of
    // their own, at once, not a "stuck" verdict and the sweep seconds later.
    let config = json!({
        "programs": {"app": {
            "command": [fixture("prefork.py"), free_port().to_string(), "2", "setsid", "ignore-term"],
            "stop_signal": "WINCH", "stop_timeout": "300ms"
        }},
        "shutdown_timeout": "5s"
    });
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect_on(Stream::Stdout, "bound");
    for _ in 0..2 {
        run.expect_on(Stream::Stdout, "worker");
    }
    run.signal(libc::SIGTERM);
    run.expect_on(
        Stream::Stderr,
        "app: still running 300ms after its stop signal: SIGKILL",
    );
    assert_eq!(run.wait(), Exit::Code(1), "{}", run.transcript());
    let transcript = run.transcript();
    for wrong in ["after SIGKILL (", "giving up", "sweep: processes left"] {
        assert!(!transcript.contains(wrong), "{wrong:?} in:\n{transcript}");
    }
}

/// A program that leaves two daemons in its process group and ends: one stops on TERM,
/// one ignores it.
fn leaves_daemons() -> Value {
    json!([
        "sh",
        "-c",
        "(trap 'echo polite daemon got TERM; exit 0' TERM; echo polite up; while :; do sleep 0.05; done) & \
         (trap '' TERM; echo stubborn up; exec sleep 1000) & \
         sleep 0.2; echo program done"
    ])
}

#[test]
fn what_a_program_leaves_behind_is_stopped_when_it_ends_for_good() {
    for mode in [Mode::Pid1, Mode::Subreaper] {
        let config = json!({"programs": {"app": {
            "command": leaves_daemons(), "restart": "no", "stop_timeout": "300ms"
        }}});
        let Some(mut run) = start(with_config(config), mode) else {
            return;
        };
        let group = run.program_group("app");
        run.expect_on(Stream::Stdout, "program done");
        run.expect_on(Stream::Stdout, "polite daemon got TERM");
        run.expect_on(
            Stream::Stderr,
            "app: processes of its last run still running 300ms after their stop signal: SIGKILL",
        );
        assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
        if mode == Mode::Subreaper {
            // The pid is the host's here: nothing of the group survives tinysup.
            assert!(!crate::util::group_exists(group), "{mode:?}");
        }
    }
}

/// A program that starts two daemons that escape (a new session, and their parent exits
/// at once), then keeps running: tinysup cannot tell where they came from, so only the
/// final sweep stops them.
fn escapes() -> Value {
    json!([
        "sh",
        "-c",
        "(setsid sh -c \"trap 'echo escaped daemon got TERM; exit 0' TERM; echo escaped up; while :; do sleep 0.05; done\" &); \
         (setsid sh -c \"trap '' TERM; echo stubborn escaped up; exec sleep 1000\" &); \
         echo program up; exec sleep 1000"
    ])
}

#[test]
fn the_sweep_stops_what_nobody_else_did_as_pid1_and_as_a_subreaper() {
    for mode in [Mode::Pid1, Mode::Subreaper] {
        let config = json!({"programs": {"app": {"command": escapes()}}});
        let Some(mut run) = start(with_config(config).env("TINYSUP_LOG", "debug"), mode) else {
            return;
        };
        run.expect_on(Stream::Stdout, "program up");
        for daemon in ["escaped up", "stubborn escaped up"] {
            run.expect_line(Some(Stream::Stdout), |l| body(l) == daemon, daemon);
        }
        run.signal(libc::SIGTERM);
        run.expect_on(Stream::Stdout, "escaped daemon got TERM");
        run.expect_on(Stream::Stderr, "sweep: processes left after 500ms: SIGKILL");
        assert_eq!(run.wait(), Exit::Code(0), "{mode:?}: {}", run.transcript());
    }
}

#[test]
fn as_a_subreaper_the_sweep_touches_only_descendants() {
    // tinysup and a sibling in one process group, as a shell script would start them: the
    // sibling is not tinysup's to stop.
    let mut sibling = Command::new("sleep")
        .arg("1000")
        .stdout(Stdio::null())
        .spawn()
        .expect("start a sibling");
    let _cleanup = KillOnDrop(vec![sibling.id() as i32]);
    let config = json!({"programs": {"app": {"command": escapes()}}});
    let mut run = with_config(config).subreaper();
    run.expect_on(Stream::Stdout, "stubborn escaped up");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
    assert!(
        sibling.try_wait().expect("check the sibling").is_none(),
        "the sweep reached a process that is not tinysup's descendant"
    );
}

/// A freezer cgroup (cgroup v1) holding one process: a frozen process does not die of
/// SIGKILL until it is thawed, like one in uninterruptible sleep. Thawed and removed on drop.
struct Frozen {
    dir: std::path::PathBuf,
}

impl Frozen {
    /// Freezes `pid` (a host pid). `None`, after a loud message, where the freezer is not
    /// available (with CI=true that is a failure).
    fn freeze(pid: i32) -> Option<Frozen> {
        let dir = std::path::PathBuf::from(format!(
            "/sys/fs/cgroup/freezer/tinysup-test-{}-{pid}",
            std::process::id()
        ));
        let made = std::fs::create_dir(&dir)
            .and_then(|()| std::fs::write(dir.join("cgroup.procs"), pid.to_string()))
            .and_then(|()| std::fs::write(dir.join("freezer.state"), "FROZEN"));
        if let Err(error) = made {
            let _ = std::fs::remove_dir(&dir);
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true, but the cgroup v1 freezer is not usable here: {error}"
            );
            eprintln!("SKIPPED: this test needs the cgroup v1 freezer (root): {error}");
            return None;
        }
        Some(Frozen { dir })
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("freezer.state"), "THAWED");
        // The process dies of its pending SIGKILL once thawed; then the group can go.
        for _ in 0..500 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[test]
fn a_shutdown_ends_even_when_a_process_cannot_die() {
    for mode in [Mode::Subreaper, Mode::Pid1] {
        let config = json!({
            "programs": {"stuck": {"command": ["sh", "-c", "echo ready; exec sleep 1000"], "stop_timeout": "200ms"}},
            "shutdown_timeout": "400ms"
        });
        let Some(mut run) = start(with_config(config), mode) else {
            return;
        };
        run.expect_on(Stream::Stdout, "ready");
        let program = children(run.pid())[0];
        let Some(frozen) = Frozen::freeze(program) else {
            return;
        };
        run.signal(libc::SIGTERM);
        run.expect_on(Stream::Stderr, "stuck: still running after SIGKILL (pid ");
        if mode == Mode::Pid1 {
            // PID 1's exit waits in the kernel until everything in the namespace is gone:
            // tinysup has given up and flushed; let the process go so unshare can report.
            drop(frozen);
            assert_eq!(run.wait(), Exit::Code(1), "{}", run.transcript());
        } else {
            // Something had to be killed at a deadline (and still could not die): 1.
            assert_eq!(run.wait(), Exit::Code(1), "{}", run.transcript());
            drop(frozen);
        }
    }
}

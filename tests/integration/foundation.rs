//! The tini-compatible PID 1: reaping, signal forwarding, exit status, the program's start
//! state, tini's flags and variables.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::thread;

use std::time::{Duration, Instant};

use crate::util::{
    Exit, KillOnDrop, Mode, Running, Stream, TIMEOUT, Tinysup, children, clean_command,
    descendants, fixture, kill, pid_namespaces_available, stat_field, tinysup, tinysup_path,
    wait_until, zombies_under,
};

fn sh(script: &str) -> Vec<String> {
    vec!["sh".to_string(), "-c".to_string(), script.to_string()]
}

/// `tinysup [flags] -- sh -c SCRIPT`.
fn with_flags(flags: &[&str], script: &str) -> Vec<String> {
    let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    args.push("--".to_string());
    args.extend(sh(script));
    args
}

// ---- exit status ----------------------------------------------------------------------------

#[test]
fn exit_code_and_death_by_signal_are_propagated() {
    for (script, expected) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("kill -USR1 $$", 128 + 10),
        ("kill -KILL $$", 137),
    ] {
        let (exit, _, _) = tinysup(sh(script)).output();
        assert_eq!(exit, Exit::Code(expected), "{script}");
    }
}

#[test]
fn exit_status_as_pid1() {
    let Some(run) = tinysup(sh("exit 42")).pid1() else {
        return;
    };
    assert_eq!(run.finish().0, Exit::Code(42));
}

#[test]
fn exec_failures_are_127_and_126_with_a_one_line_message() {
    let (exit, stdout, stderr) = tinysup(["--", "no-such-program-xyz"]).output();
    assert_eq!(exit, Exit::Code(127));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "tinysup: error: main: cannot run \"no-such-program-xyz\": No such file or directory\n"
    );

    let (exit, _, stderr) = tinysup(["/etc/passwd"]).output();
    assert_eq!(exit, Exit::Code(126));
    assert_eq!(
        stderr,
        "tinysup: error: main: cannot run \"/etc/passwd\": Permission denied\n"
    );
}

#[test]
fn silent_on_success() {
    let (exit, stdout, stderr) = tinysup(sh("echo out; echo err >&2")).output();
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(stdout, "out\n");
    assert_eq!(stderr, "err\n", "tinysup itself must print nothing");
}

#[test]
fn success_remap_with_e() {
    let (exit, _, _) = tinysup(with_flags(&["-e", "143", "-e", "3"], "exit 3")).output();
    assert_eq!(exit, Exit::Code(0));
    let (exit, _, _) = tinysup(with_flags(&["-e", "143"], "kill -TERM $$")).output();
    assert_eq!(exit, Exit::Code(0), "-e applies to 128+N too, as in tini");
    let (exit, _, _) = tinysup(with_flags(&["-e", "4"], "exit 3")).output();
    assert_eq!(exit, Exit::Code(3));
}

// ---- signals ----------------------------------------------------------------------------------

#[test]
fn forwards_every_catchable_signal_as_pid1() {
    let Some(mut run) = tinysup([fixture("traps.sh")]).pid1() else {
        return;
    };
    run.expect("ready");
    let signals = [
        (libc::SIGHUP, "HUP"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGALRM, "ALRM"),
        (libc::SIGWINCH, "WINCH"),
        (libc::SIGCONT, "CONT"),
        (libc::SIGTSTP, "TSTP"),
        (libc::SIGURG, "URG"),
        (libc::SIGPWR, "PWR"),
        (libc::SIGPIPE, "PIPE"),
        (40, "40"),
        (64, "64"),
    ];
    for (number, name) in signals {
        run.signal(number);
        run.expect_on(Stream::Stdout, &format!("got {name}"));
    }
    run.signal(libc::SIGTERM);
    run.expect("got TERM");
    assert_eq!(run.wait(), Exit::Code(0));
}

#[test]
fn term_reaches_the_program_as_term() {
    let Some(mut run) = tinysup([fixture("traps.sh")]).env("TERM_EXIT", "7").pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(libc::SIGTERM);
    run.expect("got TERM");
    assert_eq!(run.wait(), Exit::Code(7));
}

#[test]
fn int_reaches_the_program_as_int() {
    let script = "trap 'echo got INT; exit 5' INT; trap 'echo got TERM; exit 6' TERM; echo ready; sleep 1000 & wait";
    let Some(mut run) = tinysup(sh(script)).pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(libc::SIGINT);
    run.expect("got INT");
    assert_eq!(run.wait(), Exit::Code(5));
}

#[test]
fn docker_stop_gives_143() {
    let Some(mut run) = tinysup(sh("echo ready; exec sleep 1000")).pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), Exit::Code(143));
}

#[test]
fn ttin_and_ttou_are_ignored_not_forwarded() {
    let Some(mut run) = tinysup([fixture("traps.sh")])
        .env("TRAPS", "HUP TTIN TTOU")
        .pid1()
    else {
        return;
    };
    run.expect("ready");
    let pid = run.pid();
    run.signal(libc::SIGTTIN);
    run.signal(libc::SIGTTOU);
    // A HUP after them comes through: tinysup was neither stopped nor busy with them.
    run.signal(libc::SIGHUP);
    run.expect("got HUP");
    assert_ne!(
        stat_field(pid, 3).as_deref(),
        Some("T"),
        "tinysup must not be stopped"
    );
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), Exit::Code(0));
    let out = run.lines(Stream::Stdout).join("\n");
    assert!(
        !out.contains("got TTIN") && !out.contains("got TTOU"),
        "{out}"
    );
}

/// A program with a helper in its process group: `main` (traps HUP and USR1) and `helper`
/// (traps HUP), both printing their label.
fn group_script() -> String {
    let traps = fixture("traps.sh");
    format!("LABEL='helper ' TRAPS=HUP {traps} & LABEL='main ' TRAPS='HUP USR1' exec {traps}")
}

#[test]
fn g_sends_signals_to_the_process_group() {
    let Some(mut run) = tinysup(with_flags(&["-g"], &group_script())).pid1() else {
        return;
    };
    run.expect("helper ready");
    run.expect("main ready");
    run.signal(libc::SIGHUP);
    run.expect("main got HUP");
    run.expect("helper got HUP");
}

#[test]
fn tini_kill_process_group_variable_is_g() {
    let script = group_script();
    let Some(mut run) = tinysup(sh(&script))
        .env("TINI_KILL_PROCESS_GROUP", "1")
        .pid1()
    else {
        return;
    };
    run.expect("helper ready");
    run.expect("main ready");
    run.signal(libc::SIGHUP);
    run.expect("main got HUP");
    run.expect("helper got HUP");
}

#[test]
fn without_g_signals_go_to_the_program_only() {
    let Some(mut run) = tinysup(sh(&group_script())).pid1() else {
        return;
    };
    run.expect("helper ready");
    run.expect("main ready");
    run.signal(libc::SIGHUP);
    run.expect("main got HUP");
    // A full round trip through tinysup: a HUP to the helper would have shown by now.
    run.signal(libc::SIGUSR1);
    run.expect("main got USR1");
    let out = run.lines(Stream::Stdout).join("\n");
    assert!(!out.contains("helper got HUP"), "{out}");
}

#[test]
fn a_storm_of_signals_neither_kills_pid1_nor_loses_the_exit_status() {
    let Some(mut run) = tinysup([fixture("traps.sh")])
        .env("TRAPS", "USR1")
        .env("TERM_EXIT", "42")
        .pid1()
    else {
        return;
    };
    run.expect("ready");
    let pid = run.pid();
    for _ in 0..5000 {
        kill(pid, libc::SIGUSR1);
        kill(pid, libc::SIGCHLD);
    }
    run.expect("got USR1");
    run.signal(libc::SIGTERM);
    run.expect("got TERM");
    assert_eq!(run.wait(), Exit::Code(42));
}

#[test]
fn a_program_ending_during_a_storm_keeps_its_exit_status() {
    // The program ignores USR1 itself and ends on its own while the storm goes on.
    let script = "trap '' USR1; echo ready; sleep 0.3; exit 7";
    let Some(mut run) = tinysup(sh(script)).pid1() else {
        return;
    };
    run.expect("ready");
    let pid = run.pid();
    let mut sent = 0;
    while !run.has_exited() && sent < 1_000_000 {
        kill(pid, libc::SIGUSR1);
        kill(pid, libc::SIGWINCH);
        sent += 1;
    }
    assert_eq!(run.wait(), Exit::Code(7), "after {sent} signals");
}

/// Starts `run` in `mode`; `None` where PID namespaces are unavailable (after a loud
/// message; with CI=true that fails the test).
fn start(run: Tinysup, mode: Mode) -> Option<Running> {
    (mode == Mode::Subreaper || pid_namespaces_available()).then(|| run.start(mode))
}

#[test]
fn signals_libc_keeps_and_fault_signals_sent_with_kill_are_forwarded() {
    // 32–34 belong to the C libraries, which refuse to handle them, but the kernel delivers
    // them: `docker kill -s RTMIN` is 34. ILL, BUS, FPE and SEGV sent with kill are not
    // faults of tinysup's (dumb-init forwards them; tini and catatonit die of them when not
    // PID 1). The fixture waits for each with the raw system calls.
    let numbers = [
        32,
        33,
        34,
        libc::SIGILL,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGSEGV,
    ];
    for mode in [Mode::Subreaper, Mode::Pid1] {
        let mut args = vec![fixture("sigwait.py")];
        args.extend(numbers.iter().map(|n| n.to_string()));
        let Some(mut run) = start(tinysup(args), mode) else {
            return;
        };
        run.expect("ready");
        for number in numbers {
            run.signal(number);
            run.expect_on(Stream::Stdout, &format!("got {number}"));
        }
        run.signal(libc::SIGTERM);
        assert_eq!(run.wait(), Exit::Code(0), "{mode:?}: {}", run.transcript());
    }
}

#[test]
fn realtime_signals_are_numbered_as_docker_and_bash_number_them() {
    // RTMIN is 34 whatever C library tinysup is linked with (musl's own SIGRTMIN is 35).
    let Some(mut run) = tinysup([fixture("traps.sh")]).env("TRAPS", "34 37").pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(34);
    run.expect_on(Stream::Stdout, "got 34");
    run.signal(37);
    run.expect_on(Stream::Stdout, "got 37");

    // RTMIN+3 is 37, and 34 is a valid stop signal.
    for (stop_signal, number) in [("RTMIN+3", 37), ("34", 34)] {
        let script = format!(
            "trap 'echo got {number}; exit 0' {number}; echo ready; while :; do sleep 0.05; done"
        );
        let config = serde_json::json!({"programs": {"app": {
            "command": ["sh", "-c", script], "stop_signal": stop_signal
        }}});
        let Some(mut run) = tinysup(Vec::<String>::new())
            .env("TINYSUP_CONFIG_JSON", &config.to_string())
            .pid1()
        else {
            return;
        };
        run.expect("ready");
        run.signal(libc::SIGTERM);
        run.expect_on(Stream::Stdout, &format!("got {number}"));
        assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
    }
}

#[test]
fn a_backlog_of_queued_realtime_signals_does_not_make_pid1_deaf() {
    // `kill` in a loop queues every instance of a real-time signal: 2,000 of each of 30
    // signals, queued while tinysup is stopped, then a TERM. Each is forwarded in time (the
    // program ignores them), but the TERM must be acted on at once: with a signal handler,
    // each queued signal ran the handler before the loop got a turn, and this took seconds.
    let ignored: Vec<String> = (35..=64).map(|n| n.to_string()).collect();
    let script = format!("trap '' {}; echo ready; exec sleep 1000", ignored.join(" "));
    let Some(mut run) = tinysup(sh(&script)).sigpending(100_000).pid1() else {
        return;
    };
    run.expect("ready");
    let pid = run.pid();
    kill(pid, libc::SIGSTOP);
    wait_until("tinysup is stopped", || {
        stat_field(pid, 3).as_deref() == Some("T")
    });
    for _ in 0..2000 {
        for number in 35..=64 {
            kill(pid, number);
        }
    }
    kill(pid, libc::SIGTERM);
    let resumed = Instant::now();
    kill(pid, libc::SIGCONT);
    assert_eq!(run.wait(), Exit::Code(143), "{}", run.transcript());
    // A bound 100 times what it takes (about 20 ms here), far below the seconds it took.
    assert!(
        resumed.elapsed() < Duration::from_secs(2),
        "the TERM took {:?} behind the backlog",
        resumed.elapsed()
    );
}

#[test]
fn a_stopped_program_still_gets_its_stop_signal() {
    // A forwarded TSTP stops the tini-style program; `docker stop` must still end it, so the
    // stop signal is followed by SIGCONT (as systemd and s6 do).
    let Some(mut run) = tinysup(sh("echo ready; exec sleep 1000")).pid1() else {
        return;
    };
    run.expect("ready");
    let program = children(run.pid())[0];
    run.signal(libc::SIGTSTP);
    wait_until("the program is stopped", || {
        stat_field(program, 3).as_deref() == Some("T")
    });
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), Exit::Code(143), "{}", run.transcript());

    // A supervised program someone stopped with SIGSTOP: stopped at once, not at its
    // stop_timeout.
    let config = serde_json::json!({"programs": {"app": {
        "command": ["sh", "-c", "echo ready; exec sleep 1000"], "stop_timeout": 60
    }}});
    let Some(mut run) = tinysup(Vec::<String>::new())
        .env("TINYSUP_CONFIG_JSON", &config.to_string())
        .pid1()
    else {
        return;
    };
    run.expect("ready");
    let program = children(run.pid())[0];
    kill(program, libc::SIGSTOP);
    wait_until("the program is stopped", || {
        stat_field(program, 3).as_deref() == Some("T")
    });
    run.signal(libc::SIGTERM);
    // A requested shutdown where nothing had to be killed.
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
}

#[test]
fn with_only_a_command_every_term_and_int_is_forwarded_as_tini_does() {
    // dumb-init's test suite sends TERM, QUIT, CONT and INT in turn and expects each to
    // arrive: a second shutdown signal is forwarded like the first, not turned into SIGKILL.
    let Some(mut run) = tinysup([fixture("traps.sh")])
        .env("IGNORE_TERM", "1")
        .env("TRAPS", "QUIT CONT INT")
        .pid1()
    else {
        return;
    };
    run.expect("ready");
    for (number, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGCONT, "CONT"),
        (libc::SIGINT, "INT"),
        (libc::SIGTERM, "TERM"),
    ] {
        run.signal(number);
        run.expect_on(Stream::Stdout, &format!("got {name}"));
    }
    assert!(!run.has_exited(), "{}", run.transcript());
}

#[test]
fn with_only_a_command_nothing_is_killed_unless_a_stop_timeout_is_set() {
    // `docker stop -t 60` for a database: the grace period is the orchestrator's, so no
    // SIGKILL at the 5 s a supervised program gets. This one takes 5.5 s to stop.
    let script =
        "trap 'sleep 5.5; echo stopped cleanly; exit 0' TERM; echo ready; sleep 1000 & wait";
    let Some(mut run) = tinysup(sh(script)).pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stdout, "stopped cleanly");
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
}

// ---- the program's start state ------------------------------------------------------------------

/// The `Sig*` lines of /proc/self/status as the program sees them.
fn signal_state(output: &str) -> Vec<(String, u64)> {
    output
        .lines()
        .filter_map(|l| l.split_once(":\t"))
        .filter(|(k, _)| ["SigBlk", "SigIgn", "SigCgt"].contains(k))
        .map(|(k, v)| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap()))
        .collect()
}

fn bit(signal: i32) -> u64 {
    1 << (signal - 1)
}

/// Signals 32..=34 belong to the C library (thread cancellation, setxid broadcast): glibc
/// installs its own handlers for some of them at start-up and both glibc and musl refuse
/// `sigaction` on them, so no program can pass them on. They are left out of comparisons.
const LIBC_RESERVED: u64 = (1 << 31) | (1 << 32) | (1 << 33);

/// The `Sig*` state of `cat /proc/self/status` started by `command` (the baseline a test
/// environment gives any child, which may already ignore some signals).
fn baseline(command: &mut Command) -> std::collections::HashMap<String, u64> {
    let out = command
        .arg("cat")
        .arg("/proc/self/status")
        .output()
        .unwrap();
    signal_state(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .collect()
}

#[test]
fn the_program_starts_with_the_signal_state_pid1_was_started_with() {
    let Some(run) = tinysup(["cat", "/proc/self/status"]).pid1() else {
        return;
    };
    let (exit, stdout, _) = run.finish();
    assert_eq!(exit, Exit::Code(0));
    let state: std::collections::HashMap<_, _> = signal_state(&stdout).into_iter().collect();
    let expected = baseline(Command::new("unshare").args(["--pid", "--fork", "--mount-proc"]));
    assert_eq!(state.len(), 3, "{stdout}");
    // tinysup's own handlers and its ignored TTIN/TTOU must not leak into the program.
    assert_eq!(
        state["SigIgn"] & !LIBC_RESERVED,
        expected["SigIgn"] & !LIBC_RESERVED
    );
    assert_eq!(state["SigCgt"], 0);
    assert_eq!(state["SigBlk"], 0);
}

#[test]
fn the_program_gets_the_signal_state_tinysup_was_started_with() {
    // `cat` itself reads its status: a shell in between would reset the mask.
    let (exit, stdout, _) = tinysup(["cat", "/proc/self/status"])
        .started_with(
            &[libc::SIGHUP, libc::SIGPIPE, libc::SIGTTOU],
            &[libc::SIGUSR1, libc::SIGTERM],
        )
        .output();
    assert_eq!(exit, Exit::Code(0));
    let state: std::collections::HashMap<_, _> = signal_state(&stdout).into_iter().collect();
    let plain = baseline(&mut Command::new("env"));
    assert_eq!(
        state["SigIgn"] & !LIBC_RESERVED,
        (plain["SigIgn"] & !LIBC_RESERVED)
            | bit(libc::SIGHUP)
            | bit(libc::SIGPIPE)
            | bit(libc::SIGTTOU)
    );
    assert_eq!(state["SigBlk"], bit(libc::SIGUSR1) | bit(libc::SIGTERM));
    assert_eq!(state["SigCgt"], 0);
}

#[test]
fn tinysup_reads_every_signal_from_a_signalfd_whatever_it_was_started_with() {
    // Started with TERM blocked and HUP ignored, tinysup still gets TERM. Its program keeps
    // TERM blocked (it inherited that), so only the stop_timeout configured here ends it.
    let mut run = tinysup(with_flags(&["-v"], "echo ready; exec sleep 1000"))
        .started_with(&[libc::SIGHUP], &[libc::SIGTERM])
        .env("TINYSUP_PROGRAM_MAIN", r#"{"stop_timeout": "200ms"}"#)
        .subreaper();
    run.expect("ready");
    let own = std::fs::read_to_string(format!("/proc/{}/status", run.pid())).unwrap();
    let own: std::collections::HashMap<_, _> = signal_state(&own).into_iter().collect();
    // Every signal blocked (KILL and STOP cannot be), none caught: no handler at all.
    let all_but_kill_and_stop = !(bit(libc::SIGKILL) | bit(libc::SIGSTOP));
    assert_eq!(own["SigBlk"], all_but_kill_and_stop, "{own:x?}");
    assert_eq!(own["SigCgt"], 0, "{own:x?}");
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "received SIGTERM: shutting down");
    run.expect_on(
        Stream::Stderr,
        "main: still running 200ms after its stop signal: SIGKILL",
    );
    assert_eq!(run.wait(), Exit::Code(137));
}

#[test]
fn the_program_has_its_own_process_group() {
    let Some(run) = tinysup(sh("echo $$ $(cut -d' ' -f5 /proc/$$/stat)")).pid1() else {
        return;
    };
    let (_, stdout, _) = run.finish();
    let ids: Vec<i32> = stdout
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(ids[0], ids[1], "pgid == pid: its own process group");
    assert_ne!(ids[1], 1, "not tinysup's group");
}

#[test]
fn stdin_is_inherited() {
    let (exit, stdout, _) = tinysup(["cat"]).stdin(b"hello\nworld\n").output();
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(stdout, "hello\nworld\n");
}

#[test]
fn on_a_terminal_the_program_is_the_foreground_group_and_gets_ctrl_c() {
    let script = "trap 'echo got INT; exit 9' INT; \
                  set -- $(cut -d' ' -f5,8 /proc/$$/stat); echo \"pgrp $1 tpgid $2\"; \
                  echo ready; while :; do sleep 1; done";
    let (exit, stdout, _) = tinysup([
        "python3",
        &fixture("pty_run.py"),
        "ready",
        "\\x03",
        tinysup_path(),
        "-v",
        "--",
        "sh",
        "-c",
        script,
    ])
    .output();
    let line = stdout
        .lines()
        .find(|l| l.contains("pgrp"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let ids: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        ids[1], ids[3],
        "the program's group is the terminal's foreground: {line}"
    );
    assert!(
        stdout.contains("got INT"),
        "Ctrl-C reached the program: {stdout}"
    );
    assert!(
        !stdout.contains("received SIGINT"),
        "Ctrl-C must not reach tinysup itself: {stdout}"
    );
    assert_eq!(exit, Exit::Code(9));
}

// ---- reaping ------------------------------------------------------------------------------------

/// Checks that every orphan orphans.sh made under tinysup in `run` is reaped (call it once
/// "orphans made" has been seen).
fn check_orphans_are_reaped(run: &mut crate::util::Running) {
    let pid = run.pid();
    wait_until("the orphans are gone and no zombie is left", || {
        let left = descendants(pid);
        // What should remain: orphans.sh (now `sleep 1000`) only.
        left.len() == 1 && zombies_under(pid).is_empty()
    });
}

#[test]
fn reaps_orphans_as_pid1() {
    let Some(mut run) = tinysup([fixture("orphans.sh"), "20".to_string()]).pid1() else {
        return;
    };
    run.expect("orphans made");
    check_orphans_are_reaped(&mut run);
}

#[test]
fn reaps_orphans_as_a_subreaper() {
    let mut run = tinysup([fixture("orphans.sh"), "20".to_string()]).subreaper();
    run.expect("orphans made");
    // The orphans were reparented to tinysup, not to the machine's init.
    let pid = run.pid();
    let orphans: Vec<i32> = children(pid)
        .into_iter()
        .filter(|&c| stat_field(c, 4).as_deref() == Some(&pid.to_string()))
        .collect();
    assert!(!orphans.is_empty());
    check_orphans_are_reaped(&mut run);
}

#[test]
fn negative_the_reaping_check_fails_when_nothing_reaps() {
    if !crate::util::pid_namespaces_available() {
        return;
    }
    // PID 1 is `sleep`, which never calls wait: the orphans must show up as zombies.
    let script = format!("{} 5 & exec sleep 1000", fixture("orphans.sh"));
    let mut child = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let unshare = child.id() as i32;
    // Killing unshare kills its child (--kill-child), and with PID 1 the whole namespace.
    let cleanup = KillOnDrop(vec![unshare]);
    wait_until("zombies appear under a PID 1 that does not reap", || {
        let pid1 = children(unshare).first().copied().unwrap_or(0);
        pid1 != 0 && zombies_under(pid1).len() >= 5
    });
    drop(cleanup);
    let _ = child.wait();
}

#[test]
fn w_warns_about_each_orphan_reaped() {
    let mut run = tinysup(["-w".to_string(), fixture("orphans.sh"), "3".to_string()]).subreaper();
    run.expect("orphans made");
    for _ in 0..3 {
        run.expect_on(Stream::Stderr, "reaped zombie process");
    }
}

// ---- flags and variables --------------------------------------------------------------------

#[test]
fn v_and_tini_verbosity_show_more() {
    let (_, _, stderr) = tinysup(["-v", "true"]).output();
    assert!(stderr.contains("tinysup: main: started (pid "), "{stderr}");
    let (_, _, stderr) = tinysup(["true"]).env("TINI_VERBOSITY", "2").output();
    assert!(stderr.contains("tinysup: main: started (pid "), "{stderr}");
    let (_, _, stderr) = tinysup(["-vv", "true"]).output();
    assert!(
        stderr.contains("running") || stderr.contains("exited"),
        "{stderr}"
    );
}

#[test]
fn s_and_tini_subreaper_are_accepted() {
    let (exit, _, stderr) = tinysup(["-s", "true"]).output();
    assert_eq!((exit, stderr.as_str()), (Exit::Code(0), ""));
    let (exit, _, stderr) = tinysup(["true"]).env("TINI_SUBREAPER", "1").output();
    assert_eq!((exit, stderr.as_str()), (Exit::Code(0), ""));
}

#[test]
fn help_version_license() {
    let (exit, stdout, _) = tinysup(["-h"]).output();
    assert_eq!(exit, Exit::Code(0));
    assert!(
        stdout.contains("Usage:") && stdout.contains("-g"),
        "{stdout}"
    );
    let (_, stdout, _) = tinysup(["--version"]).output();
    assert!(
        stdout.starts_with(&format!(
            "tinysup version {} - git.",
            env!("CARGO_PKG_VERSION")
        )),
        "{stdout}"
    );
    let (_, stdout, _) = tinysup(["-l"]).output();
    assert!(stdout.starts_with("MIT License"), "{stdout}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["-x"][..],
        &["-e", "nope", "true"],
        &["-p", "SIGNOPE", "true"],
        &[],
    ] {
        let (exit, stdout, stderr) = tinysup(args.iter().copied()).output();
        assert_eq!(exit, Exit::Code(2), "{args:?}");
        assert_eq!(stdout, "");
        assert!(
            !stderr.is_empty() && stderr.lines().all(|l| l.starts_with("tinysup: ")),
            "{args:?}: {stderr}"
        );
    }
    let (_, _, stderr) = tinysup(Vec::<String>::new()).output();
    assert!(stderr.contains("nothing to run"), "{stderr}");
}

#[test]
fn p_sets_the_parent_death_signal() {
    // sh starts tinysup in the background, then becomes `sleep`: killing it orphans tinysup,
    // which must then get SIGTERM and stop its program with it.
    let mut parent = clean_command("sh")
        .args([
            "-c",
            "\"$0\" -p SIGTERM -- \"$1\" & exec sleep 1000",
            tinysup_path(),
            &fixture("traps.sh"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Whatever happens, nothing outlives the test (the parent's group holds them all).
    let mut cleanup = KillOnDrop(vec![parent.id() as i32]);
    let (sender, lines) = channel();
    let stdout = parent.stdout.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let next = |what: &str| loop {
        let line = lines
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no line with {what:?}"));
        if line.contains(what) {
            return;
        }
    };
    next("ready");
    cleanup.0.extend(descendants(parent.id() as i32));
    kill(parent.id() as i32, libc::SIGKILL);
    let _ = parent.wait();
    next("got TERM");
}

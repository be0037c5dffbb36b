//! Supervising programs from JSON and environment variables: every program setting, the
//! configuration sources, ordering, restarts, shutdown, the sweep and the exit-code table.
//! As PID 1 of a fresh namespace wherever that is what a container would do.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{Exit, Stream, TempFile, Tinysup, bodies, fixture, tinysup};

/// tinysup with this configuration given inline (`TINYSUP_CONFIG_JSON`).
fn with_config(config: Value) -> Tinysup {
    tinysup(Vec::<String>::new()).env("TINYSUP_CONFIG_JSON", &config.to_string())
}

/// Sets traps.sh to ignore SIGTERM (it prints "got TERM" and goes on) and trap only HUP.
fn ignoring_term(tinysup: Tinysup) -> Tinysup {
    tinysup.env("IGNORE_TERM", "1").env("TRAPS", "HUP")
}

/// `sh -c SCRIPT` as an argv array.
fn sh(script: &str) -> Value {
    json!(["sh", "-c", script])
}

/// A longrun that prints `start NAME`, and `stop NAME` when it gets SIGTERM. It waits in
/// short foreground sleeps, not `sleep 1000 &`: a background child that is between its fork
/// and its exec when the signal comes still has the shell's trap and loses the signal, and
/// would be left behind.
fn service(name: &str) -> Value {
    sh(&format!(
        "trap 'echo stop {name}; exit 0' TERM; echo start {name}; while :; do sleep 0.05; done"
    ))
}

/// The stdout lines that start with `prefix`, in order.
fn lines_starting(lines: &[String], prefix: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with(prefix))
        .cloned()
        .collect()
}

// ---- restarts ---------------------------------------------------------------------------------

#[test]
fn a_crash_loop_backs_off_exponentially_then_goes_fatal() {
    let config = json!({"programs": {"worker": {
        "command": sh("echo run $(date +%s%N); exit 3"),
        "restart_delay": "100ms", "restart_delay_max": "400ms", "max_restarts": 4
    }}});
    let Some(run) = with_config(config).pid1() else {
        return;
    };
    let (exit, stdout, stderr) = run.finish();
    let delays: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split("restarting in ").nth(1))
        .collect();
    assert_eq!(delays, ["100ms", "200ms", "400ms", "400ms"], "{stderr}");
    assert!(stderr.contains(
        "worker: exited with exit code 3; giving up after 5 failed starts in a row (FATAL)"
    ));
    // Each run started at least its delay after the previous one.
    let starts: Vec<u128> = bodies(&stdout)
        .iter()
        .map(|l| l[4..].parse().unwrap())
        .collect();
    assert_eq!(starts.len(), 5);
    for (gap, minimum) in starts
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .zip([100, 200, 400, 400])
    {
        assert!(
            gap >= minimum,
            "restarted after {gap}ms, before its {minimum}ms delay"
        );
    }
    // Every program ended on its own and one failed: its status.
    assert_eq!(exit, Exit::Code(3));
}

#[test]
fn start_secs_decides_what_counts_as_a_successful_start() {
    // Each run lasts about 300ms. With start_secs 0.1 that is a successful start, so the
    // delay never doubles; with start_secs 1 it is a failed start, so it does.
    for (start_secs, expected) in [
        (0.1, ["100ms", "100ms", "100ms"]),
        (1.0, ["100ms", "200ms", "400ms"]),
    ] {
        let config = json!({"programs": {"w": {
            "command": sh("sleep 0.3; exit 1"),
            "start_secs": start_secs, "restart_delay": 0.1, "max_restarts": 5
        }}});
        let mut run = with_config(config).subreaper();
        let mut delays = Vec::new();
        for _ in 0..3 {
            let line = run.expect_on(Stream::Stderr, "restarting in ");
            delays.push(line.split("restarting in ").nth(1).unwrap().to_string());
        }
        assert_eq!(delays, expected, "start_secs {start_secs}");
    }
}

#[test]
fn restart_policies_and_success_codes() {
    // always: restarted even after exit 0.
    let config =
        json!({"programs": {"a": {"command": sh("echo ran; exit 0"), "restart_delay": 0.05}}});
    let mut run = with_config(config).subreaper();
    for _ in 0..3 {
        run.expect_on(Stream::Stdout, "ran");
    }
    drop(run);

    // on-failure: exit 3 is a success here, so it is not restarted; the run ends with 0.
    let config = json!({"programs": {"a": {
        "command": sh("echo ran; exit 3"), "restart": "on-failure", "success_codes": [0, 3]
    }}});
    let (exit, stdout, stderr) = with_config(config).output();
    assert_eq!(
        (exit, bodies(&stdout)),
        (Exit::Code(0), vec!["ran".to_string()]),
        "{stderr}"
    );

    // on-failure: exit 4 is a failure, so it is restarted (here once, then FATAL).
    let config = json!({"programs": {"a": {
        "command": sh("echo ran; exit 4"), "restart": "on-failure", "success_codes": [0, 3],
        "restart_delay": 0.05, "max_restarts": 1
    }}});
    let (exit, stdout, _) = with_config(config).output();
    assert_eq!(
        (exit, bodies(&stdout).join(",")),
        (Exit::Code(4), "ran,ran".to_string())
    );

    // no: never restarted.
    let config = json!({"programs": {"a": {"command": sh("echo ran; exit 1"), "restart": "no"}}});
    let (exit, stdout, _) = with_config(config).output();
    assert_eq!(
        (exit, bodies(&stdout).join(",")),
        (Exit::Code(1), "ran".to_string())
    );
}

// ---- ordering, oneshots, essential programs -----------------------------------------------------

#[test]
fn start_in_dependency_order_and_stop_in_reverse() {
    let config = json!({"programs": {
        "c": {"command": service("c"), "depends_on": ["b"], "start_secs": 0.2},
        "a": {"command": service("a"), "start_secs": 0.2},
        "b": {"command": service("b"), "depends_on": ["a"], "start_secs": 0.2}
    }});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect("start c");
    run.signal(libc::SIGTERM);
    let (exit, stdout, _) = run.finish();
    let lines = bodies(&stdout);
    assert_eq!(
        lines_starting(&lines, "start"),
        ["start a", "start b", "start c"]
    );
    assert_eq!(
        lines_starting(&lines, "stop"),
        ["stop c", "stop b", "stop a"]
    );
    // A requested shutdown, nothing essential, everything stopped in time.
    assert_eq!(exit, Exit::Code(0));
}

#[test]
fn a_oneshot_runs_first_and_its_dependents_start_after_it_succeeds() {
    let config = json!({"programs": {
        "web": {"command": service("web"), "depends_on": ["setup"]},
        "setup": {"type": "oneshot", "command": sh("sleep 0.2; echo setup done")}
    }});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect("start web");
    run.signal(libc::SIGTERM);
    let (exit, stdout, stderr) = run.finish();
    // The prefix format, names padded to the longest (here "tinysup").
    assert_eq!(
        stdout,
        "setup   | setup done\nweb     | start web\nweb     | stop web\n"
    );
    assert_eq!(exit, Exit::Code(0), "{stderr}");
}

#[test]
fn a_failing_oneshot_ends_the_run_with_its_status() {
    let config = json!({"programs": {
        "setup": {"type": "oneshot", "command": sh("sleep 0.3; echo setup failed; exit 3")},
        "web": {"command": service("web"), "depends_on": ["setup"]},
        "other": {"command": service("other")}
    }});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect("start other");
    let (exit, stdout, stderr) = run.finish();
    assert!(
        !stdout.contains("start web"),
        "a dependent of a failed oneshot must not start: {stdout}"
    );
    assert!(
        stdout.contains("stop other"),
        "the rest is stopped: {stdout}"
    );
    assert!(stderr.contains("never started"), "{stderr}");
    assert_eq!(exit, Exit::Code(3));
}

#[test]
fn an_essential_program_ends_the_run_with_its_status() {
    let config = json!({"programs": {
        "app": {"command": sh("sleep 0.3; echo app done; exit 4"), "essential": true, "restart": "no"},
        "sidecar": {"command": service("sidecar")}
    }});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect("start sidecar");
    let (exit, stdout, stderr) = run.finish();
    assert!(stdout.contains("stop sidecar"), "{stdout}");
    assert!(
        stderr.contains("app is essential and has ended (exit code 4): shutting down"),
        "{stderr}"
    );
    assert_eq!(exit, Exit::Code(4));
}

#[test]
fn an_essential_program_stopped_by_docker_stop_gives_its_status() {
    let config = json!({"programs": {
        "app": {"command": sh("echo ready; exec sleep 1000"), "essential": true},
        "sidecar": {"command": service("sidecar")}
    }});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect("ready");
    run.expect("start sidecar");
    run.signal(libc::SIGTERM);
    assert_eq!(
        run.wait(),
        Exit::Code(143),
        "sleep died of the TERM it was sent"
    );
}

#[test]
fn when_every_program_ends_on_its_own_the_first_failure_decides() {
    let config = json!({"programs": {
        "late": {"command": sh("sleep 0.4; exit 6"), "restart": "no"},
        "early": {"command": sh("sleep 0.1; exit 5"), "restart": "no"},
        "fine": {"command": sh("exit 0"), "restart": "no"}
    }});
    let Some(run) = with_config(config).pid1() else {
        return;
    };
    assert_eq!(run.finish().0, Exit::Code(5));

    let config = json!({"programs": {"a": {"command": sh("exit 0"), "type": "oneshot"}}});
    let Some(run) = with_config(config).pid1() else {
        return;
    };
    assert_eq!(run.finish().0, Exit::Code(0));
}

#[test]
fn the_command_line_program_beside_configured_ones() {
    // main is essential: when it ends, the configured programs are stopped. (It waits for
    // the sidecar to be up, so that the sidecar's trap is set when its TERM comes.)
    let config = json!({"programs": {
        "sidecar": {"command": service("sidecar"), "start_secs": 0.3},
        "main": {"depends_on": ["sidecar"]}
    }});
    let run = tinysup(["--", "sh", "-c", "echo main ran; exit 7"])
        .env("TINYSUP_CONFIG_JSON", &config.to_string());
    let Some(run) = run.pid1() else { return };
    let (exit, stdout, _) = run.finish();
    assert!(
        stdout.contains("main ran") && stdout.contains("stop sidecar"),
        "{stdout}"
    );
    assert_eq!(exit, Exit::Code(7));
}

// ---- stopping ----------------------------------------------------------------------------------

#[test]
fn a_program_ignoring_sigterm_is_killed_at_its_stop_timeout() {
    let config = json!({"programs": {"stubborn": {"command": [fixture("traps.sh")], "stop_timeout": "300ms"}}});
    let Some(mut run) = ignoring_term(with_config(config)).pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(libc::SIGTERM);
    run.expect("got TERM");
    run.expect_on(
        Stream::Stderr,
        "stubborn: still running 300ms after its stop signal: SIGKILL",
    );
    // A requested shutdown that had to kill something.
    assert_eq!(run.wait(), Exit::Code(1));
}

#[test]
fn shutdown_timeout_bounds_the_whole_shutdown() {
    let config = json!({"programs": {
        "a": {"command": [fixture("traps.sh")], "stop_timeout": 60},
        "b": {"command": [fixture("traps.sh")], "stop_timeout": 60, "depends_on": ["a"]}
    }});
    let run = ignoring_term(with_config(config)).env("TINYSUP_SHUTDOWN_TIMEOUT", "0.4");
    let Some(mut run) = run.pid1() else { return };
    run.expect("ready");
    run.expect("ready");
    run.signal(libc::SIGTERM);
    run.expect_on(
        Stream::Stderr,
        "shutdown_timeout (400ms) passed: killing what is left",
    );
    assert_eq!(run.wait(), Exit::Code(1));
}

#[test]
fn a_second_term_forces_the_shutdown() {
    let config =
        json!({"programs": {"stubborn": {"command": [fixture("traps.sh")], "stop_timeout": 60}}});
    let Some(mut run) = ignoring_term(with_config(config)).pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(libc::SIGTERM);
    run.expect("got TERM");
    run.signal(libc::SIGINT);
    run.expect_on(
        Stream::Stderr,
        "received SIGINT again: killing everything now",
    );
    assert_eq!(run.wait(), Exit::Code(1));
}

#[test]
fn with_the_defaults_a_stubborn_program_is_killed_inside_dockers_grace() {
    let config = json!({"programs": {"stubborn": {"command": [fixture("traps.sh")]}}});
    let Some(mut run) = ignoring_term(with_config(config)).pid1() else {
        return;
    };
    run.expect("ready");
    let asked = Instant::now();
    run.signal(libc::SIGTERM);
    run.expect_on(
        Stream::Stderr,
        "stubborn: still running 5s after its stop signal: SIGKILL",
    );
    assert_eq!(run.wait(), Exit::Code(1));
    // Docker SIGKILLs the container 10 s after SIGTERM.
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "took {:?}",
        asked.elapsed()
    );
}

#[test]
fn stop_signal_is_sent_on_shutdown() {
    let script = "trap 'echo got INT; exit 0' INT; trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done";
    let config = json!({"programs": {"app": {"command": sh(script), "stop_signal": "SIGINT"}}});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect("ready");
    run.signal(libc::SIGTERM);
    run.expect("got INT");
    assert_eq!(run.wait(), Exit::Code(0));
    assert!(
        !run.lines(Stream::Stdout)
            .iter()
            .any(|l| l.contains("got TERM"))
    );
}

#[test]
fn signal_group_decides_who_gets_signals() {
    let traps = fixture("traps.sh");
    let script =
        format!("LABEL='helper ' TRAPS=HUP {traps} & LABEL='main ' TRAPS='HUP USR1' exec {traps}");
    for signal_group in [true, false] {
        let config =
            json!({"programs": {"app": {"command": sh(&script), "signal_group": signal_group}}});
        let Some(mut run) = with_config(config).pid1() else {
            return;
        };
        run.expect("helper ready");
        run.expect("main ready");
        run.signal(libc::SIGHUP);
        run.expect("main got HUP");
        if signal_group {
            run.expect("helper got HUP");
        } else {
            run.signal(libc::SIGUSR1);
            run.expect("main got USR1");
            let out = run.lines(Stream::Stdout).join("\n");
            assert!(!out.contains("helper got HUP"), "signal_group false: {out}");
        }
    }
}

// The sweep and what runs leave behind: cleanup.rs.

// ---- configuration sources -------------------------------------------------------------------------

#[test]
fn env_layering_and_removal() {
    let file = TempFile::new(
        "layers.json",
        &json!({"programs": {
            "a": {"command": sh("echo a $WHO"), "type": "oneshot", "env": {"WHO": "file"}},
            "b-job": {"command": sh("echo b"), "type": "oneshot"},
            "c": {"command": sh("echo c $WHO"), "type": "oneshot"}
        }})
        .to_string(),
    );
    let (exit, stdout, stderr) = tinysup(Vec::<String>::new())
        .env("TINYSUP_CONFIG", file.path())
        .env(
            "TINYSUP_CONFIG_JSON",
            &json!({"programs": {"a": {"env": {"WHO": "inline"}}, "d": {"type": "oneshot"}}})
                .to_string(),
        )
        .env("TINYSUP_PROGRAM_B_JOB", "")
        .env("TINYSUP_PROGRAM_C", r#"{"env": {"WHO": "variable"}}"#)
        .env("TINYSUP_PROGRAM_D", "printf '%s|%s\\n' 'd one' two")
        .output();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    let mut lines = bodies(&stdout);
    lines.sort();
    assert_eq!(lines, ["a inline", "c variable", "d one|two"]);
}

#[test]
fn a_config_file_from_the_command_line() {
    let file = TempFile::new(
        "c.json",
        &json!({"programs": {"x": {"command": sh("echo from file"), "type": "oneshot"}}})
            .to_string(),
    );
    let (exit, stdout, _) = tinysup(["-c", file.path()]).output();
    assert_eq!(
        (exit, stdout.as_str()),
        (Exit::Code(0), "x       | from file\n")
    );
    let (exit, stdout, _) = tinysup([format!("--config={}", file.path())]).output();
    assert_eq!(
        (exit, stdout.as_str()),
        (Exit::Code(0), "x       | from file\n")
    );
}

#[test]
fn nothing_from_the_tinysup_namespace_reaches_programs() {
    let config = json!({"programs": {"show": {"command": ["env"], "type": "oneshot", "env": {"MINE": "yes"}}}});
    let (exit, stdout, _) = with_config(config)
        .env("TINYSUP_LOG", "warn")
        .env("OTHER", "kept")
        .output();
    assert_eq!(exit, Exit::Code(0));
    assert!(!stdout.contains("TINYSUP_"), "{stdout}");
    assert!(
        stdout.contains("OTHER=kept") && stdout.contains("MINE=yes"),
        "{stdout}"
    );
}

#[test]
fn command_cwd_and_env_settings() {
    let config = json!({"programs": {
        "argv": {"command": ["printf", "%s|", "a b", "c"], "type": "oneshot"},
        "words": {"command": "printf '%s|' 'x y' \"z\"", "type": "oneshot", "depends_on": ["argv"]},
        "dir": {"command": "pwd", "cwd": "/tmp", "type": "oneshot", "depends_on": ["words"]},
        "vars": {"command": sh("echo \"$GREETING $PATH\""), "type": "oneshot", "depends_on": ["dir"],
                 "env": {"GREETING": "hi", "PATH": "/bin:/usr/bin"}}
    }});
    let (exit, stdout, stderr) = with_config(config).output();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    // printf writes no newline: a partial line, released on its own.
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "argv    | a b|c|",
            "dir     | /tmp",
            "vars    | hi /bin:/usr/bin",
            "words   | x y|z|"
        ]
    );
}

#[test]
fn a_missing_working_directory_is_a_failed_start() {
    let config =
        json!({"programs": {"dir": {"command": "pwd", "cwd": "/no/such/dir", "type": "oneshot"}}});
    let (exit, _, stderr) = with_config(config).output();
    assert!(
        stderr.contains(
            "dir: cannot change directory to \"/no/such/dir\": No such file or directory"
        ),
        "{stderr}"
    );
    assert_eq!(exit, Exit::Code(127));
}

/// (uid, gid, HOME) of `user` in /etc/passwd.
fn passwd_entry(user: &str) -> (String, String, String) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .unwrap();
    let fields: Vec<&str> = line.split(':').collect();
    (
        fields[2].to_string(),
        fields[3].to_string(),
        fields[5].to_string(),
    )
}

#[test]
fn user_switching() {
    let script = "echo $(id -u) $(id -g) $HOME $USER $LOGNAME; id -G";
    let config = json!({"programs": {
        "named": {"command": sh(script), "type": "oneshot", "user": "nobody"},
        "numeric": {"command": sh(script), "type": "oneshot", "user": 4242, "depends_on": ["named"]},
        "grouped": {"command": sh(script), "type": "oneshot", "user": "nobody", "group": "daemon", "depends_on": ["numeric"]}
    }});
    let Some(run) = with_config(config).pid1() else {
        return;
    };
    let (exit, stdout, stderr) = run.finish();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    let (uid, gid, home) = passwd_entry("nobody");
    let daemon_gid = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("daemon:"))
        .unwrap()
        .split(':')
        .nth(2)
        .unwrap()
        .to_string();
    let lines = bodies(&stdout);
    assert_eq!(lines[0], format!("{uid} {gid} {home} nobody nobody"));
    assert_eq!(
        lines[1], gid,
        "supplementary groups: the primary group (nobody is in no other)"
    );
    assert_eq!(
        lines[2], "4242 0 / 4242 4242",
        "an id absent from /etc/passwd: gid 0, HOME /"
    );
    assert_eq!(lines[3], "0");
    assert_eq!(lines[4], format!("{uid} {daemon_gid} {home} nobody nobody"));
}

// ---- configuration errors and `tinysup config` ---------------------------------------------------

#[test]
fn a_typo_in_a_variable_stops_everything_before_it_starts() {
    let config = json!({"programs": {"app": {"command": sh("echo started")}}});
    let (exit, stdout, stderr) = with_config(config)
        .env("TINYSUP_SHUTDOWN_TIMOUT", "5")
        .output();
    assert_eq!(exit, Exit::Code(2));
    assert_eq!(stdout, "", "nothing may start");
    assert_eq!(
        stderr,
        "tinysup: error: TINYSUP_SHUTDOWN_TIMOUT: unknown variable TINYSUP_SHUTDOWN_TIMOUT \
         (did you mean TINYSUP_SHUTDOWN_TIMEOUT?)\n\
         tinysup: 1 configuration problem: nothing was started\n"
    );
}

#[test]
fn every_configuration_problem_is_reported_at_once() {
    let file = TempFile::new(
        "bad.json",
        &json!({"programs": {"web": {"command": "web", "restrat": "no"}}}).to_string(),
    );
    let (exit, _, stderr) = tinysup(["-c", file.path()])
        .env(
            "TINYSUP_PROGRAM_DB",
            r#"{"command": "db", "stop_signal": "TREM"}"#,
        )
        .env("TINYSUP_OUTPUT", "jsn")
        .env("TINYSUP_LOG", "tinysup=loud")
        .output();
    assert_eq!(exit, Exit::Code(2));
    for expected in [
        "TINYSUP_LOG: invalid filter",
        &format!(
            "{}: programs.web.restrat: unknown setting (did you mean restart?)",
            file.path()
        ),
        "TINYSUP_PROGRAM_DB: programs.db.stop_signal: unknown signal \"TREM\"",
        "TINYSUP_OUTPUT: output: unknown value \"jsn\" (did you mean json?)",
        "4 configuration problems: nothing was started",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn config_prints_the_effective_configuration() {
    let config = json!({"programs": {"web": {"command": "nginx -g 'daemon off;'", "depends_on": ["setup"]},
                                     "setup": {"command": "migrate", "type": "oneshot"}}});
    let (exit, stdout, stderr) = tinysup(["config"])
        .env("TINYSUP_CONFIG_JSON", &config.to_string())
        .env("TINYSUP_SHUTDOWN_TIMEOUT", "500ms")
        .env("TINYSUP_PROGRAM_WEB", r#"{"env": {"PORT": 8080}}"#)
        .output();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["shutdown_timeout"], json!(0.5));
    let names: Vec<&String> = printed["programs"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["setup", "web"], "start order");
    let web = &printed["programs"]["web"];
    assert_eq!(web["command"], json!(["nginx", "-g", "daemon off;"]));
    assert_eq!(web["env"], json!({"PORT": "8080"}));
    assert_eq!(web["restart"], json!("always"));
    assert_eq!(printed["programs"]["setup"]["restart"], json!("no"));
    assert_eq!(
        web.as_object().unwrap().len(),
        18,
        "every setting, defaults filled in"
    );

    // Its output is a valid configuration.
    let file = TempFile::new("printed.json", &stdout);
    let (exit, again, _) = tinysup(["config", "-c", file.path()]).output();
    assert_eq!((exit, again), (Exit::Code(0), stdout));

    // And with problems: exit 2, nothing on stdout.
    let (exit, stdout, stderr) = tinysup(["config"])
        .env("TINYSUP_PROGRAM_X", "echo 'oops")
        .output();
    assert_eq!((exit, stdout.as_str()), (Exit::Code(2), ""));
    assert!(
        stderr.contains("TINYSUP_PROGRAM_X: programs.x.command: unterminated single quote"),
        "{stderr}"
    );
}

//! Programs' output: prefix, json, raw and null; unbuffered, lossless, bounded, with
//! backpressure; a stalled or closed stdout; tinysup's own messages.

use serde_json::{Value, json};

use crate::util::{
    Exit, StdoutReader, Stream, Tinysup, body, peak_memory_kib, tinysup, wait_until,
};

fn with_config(config: Value) -> Tinysup {
    tinysup(Vec::<String>::new()).env("TINYSUP_CONFIG_JSON", &config.to_string())
}

fn sh(script: &str) -> Value {
    json!(["sh", "-c", script])
}

fn oneshot(script: &str) -> Value {
    json!({"command": sh(script), "type": "oneshot"})
}

// ---- formats ------------------------------------------------------------------------------------

#[test]
fn prefix_keeps_stdout_and_stderr_apart() {
    let config = json!({"programs": {
        "web": oneshot("echo to out; echo to err >&2"),
        "a-long-name": oneshot("echo hi")
    }});
    let (exit, stdout, stderr) = with_config(config).env("TINYSUP_LOG", "off").output();
    assert_eq!(exit, Exit::Code(0));
    let mut out: Vec<&str> = stdout.lines().collect();
    out.sort();
    assert_eq!(out, ["a-long-name | hi", "web         | to out"]);
    assert_eq!(stderr, "web         | to err\n");
}

#[test]
fn json_lines() {
    let config = json!({"output": "json", "programs": {"app": oneshot("echo 'say \"hi\"'; printf 'bad \\377\\376 bytes\\n' >&2")}});
    let (exit, stdout, stderr) = with_config(config).env("TINYSUP_LOG", "info").output();
    assert_eq!(exit, Exit::Code(0));
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["program"], "app");
    assert_eq!(line["stream"], "stdout");
    assert_eq!(line["line"], "say \"hi\"");
    let ts = line["ts"].as_str().unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
        "RFC 3339 with ms: {ts}"
    );
    // Invalid UTF-8 is replaced, never dropped; tinysup's own messages are json too.
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bad = lines.iter().find(|l| l["program"] == "app").unwrap();
    assert_eq!(
        (bad["stream"].as_str(), bad["line"].as_str()),
        (Some("stderr"), Some("bad \u{fffd}\u{fffd} bytes"))
    );
    let own = lines.iter().find(|l| l["program"] == "tinysup").unwrap();
    assert_eq!(own["level"], "info");
    assert!(
        own["line"].as_str().unwrap().contains("app: started"),
        "{own}"
    );
}

#[test]
fn raw_is_untouched_and_null_is_discarded() {
    let config = json!({"programs": {
        "raw": {"command": sh("printf 'exact\\tbytes\\nno newline'"), "type": "oneshot", "output": "raw"},
        "quiet": {"command": sh("echo nobody sees this; echo nor this >&2"), "type": "oneshot", "output": "null", "depends_on": ["raw"]}
    }});
    // Byte for byte: read tinysup's output directly, not line by line.
    let out = crate::util::clean_command(crate::util::tinysup_path())
        .env("TINYSUP_CONFIG_JSON", config.to_string())
        .env("TINYSUP_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"exact\tbytes\nno newline");
    assert_eq!(out.stderr, b"");
}

#[test]
fn output_setting_per_program_and_from_a_variable() {
    let config = json!({"programs": {"a": oneshot("echo A"), "b": {"command": sh("echo B"), "type": "oneshot", "output": "prefix"}}});
    let (_, stdout, _) = with_config(config)
        .env("TINYSUP_OUTPUT", "json")
        .env("TINYSUP_LOG", "off")
        .output();
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    assert!(lines[0].starts_with("b       | B"), "{stdout}");
    assert!(lines[1].starts_with("{\"ts\":"), "{stdout}");
}

#[test]
fn timestamps() {
    let config = json!({"timestamps": true, "programs": {"app": oneshot("echo stamped")}});
    let (_, stdout, _) = with_config(config).env("TINYSUP_LOG", "off").output();
    let (ts, rest) = stdout.split_once(' ').unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && ts.starts_with("20"),
        "{stdout}"
    );
    assert_eq!(rest, "app     | stamped\n");
    let (_, stdout, _) = with_config(json!({"programs": {"app": oneshot("echo x")}}))
        .env("TINYSUP_TIMESTAMPS", "true")
        .env("TINYSUP_LOG", "off")
        .output();
    assert!(stdout.split_once(' ').unwrap().0.ends_with('Z'), "{stdout}");
}

#[test]
fn color_always_never_and_auto() {
    let config = |color: &str| json!({"color": color, "programs": {"app": oneshot("echo x")}});
    let (_, stdout, _) = with_config(config("always"))
        .env("TINYSUP_LOG", "off")
        .output();
    assert_eq!(stdout, "\x1b[36mapp     |\x1b[0m x\n");
    for color in ["never", "auto"] {
        // A pipe is not a terminal: auto means no colour here.
        let (_, stdout, _) = with_config(config(color))
            .env("TINYSUP_LOG", "off")
            .output();
        assert_eq!(stdout, "app     | x\n", "{color}");
    }
    // On a terminal, auto colours. (Run directly: a tinysup in between would rightly keep
    // its TINYSUP_* variables from the inner one, so the configuration is a file.)
    let file = crate::util::TempFile::new("color.json", &config("auto").to_string());
    let out = crate::util::clean_command("python3")
        .args([
            &crate::util::fixture("pty_run.py"),
            "never-printed",
            "",
            crate::util::tinysup_path(),
            "-c",
            file.path(),
        ])
        .env("TINYSUP_LOG", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\x1b[36mapp     |\x1b[0m x"), "{stdout:?}");
}

#[test]
fn own_messages_follow_the_format_and_tinysup_log() {
    let config = json!({"programs": {"app": oneshot("exit 0")}});
    let (_, _, stderr) = with_config(config.clone()).output();
    assert!(stderr.contains("tinysup | app: started (pid "), "{stderr}");
    let (_, _, stderr) = with_config(config.clone())
        .env("TINYSUP_LOG", "warn")
        .output();
    assert_eq!(stderr, "", "info filtered out");
    let (_, _, stderr) = with_config(config)
        .env("TINYSUP_LOG", "tinysup::supervisor=debug,warn")
        .output();
    assert!(
        stderr.contains("app: up for") || stderr.contains("started"),
        "{stderr}"
    );
}

// ---- unbuffered ---------------------------------------------------------------------------------

#[test]
fn a_line_is_written_as_soon_as_its_newline_arrives() {
    // The program waits after its first line: the line must show up while it waits.
    let config = json!({"programs": {"app": {"command": sh("echo first; exec sleep 1000")}}});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect_on(Stream::Stdout, "app     | first");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), Exit::Code(0));
}

#[test]
fn a_prompt_without_newline_appears() {
    let config =
        json!({"programs": {"app": {"command": sh("printf 'Password: '; exec sleep 1000")}}});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect_on(Stream::Stdout, "app     | Password: ");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), Exit::Code(0));
}

#[test]
fn long_lines_are_split_not_cut() {
    // 40,000 bytes without a newline, then one.
    let config =
        json!({"programs": {"app": oneshot("head -c 40000 /dev/zero | tr '\\0' x; echo")}});
    let (exit, stdout, _) = with_config(config).env("TINYSUP_LOG", "off").output();
    assert_eq!(exit, Exit::Code(0));
    let lengths: Vec<usize> = stdout.lines().map(|l| body(l).len()).collect();
    assert_eq!(lengths, [16384, 16384, 7232]);
    assert!(stdout.lines().all(|l| body(l).bytes().all(|b| b == b'x')));
}

// ---- lossless -----------------------------------------------------------------------------------

/// A program that writes `count` numbered lines of about 100 bytes, as fast as it can.
fn flood(name: &str, count: u32) -> String {
    format!(
        "seq -f '{name} %06g abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ' 1 {count}"
    )
}

/// Checks that `lines` hold exactly lines 1..=count of `flood(name)`, whole, in order.
fn check_flood(lines: &[&str], name: &str, count: u32) {
    let mine: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("{name} ")))
        .copied()
        .collect();
    assert_eq!(mine.len(), count as usize, "{name}: lines lost or torn");
    for (i, line) in mine.iter().enumerate() {
        let expected = format!(
            "{name} {:06} abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
            i + 1
        );
        assert_eq!(
            *line,
            expected,
            "{name}: line {} torn or out of order",
            i + 1
        );
    }
}

#[test]
fn a_flood_from_several_programs_loses_and_tears_nothing() {
    let names = ["alpha", "beta", "gamma", "delta"];
    let programs: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                json!({"command": sh(&flood(n, 20_000)), "type": "oneshot"}),
            )
        })
        .collect();
    let config = json!({"programs": programs});
    let Some(run) = with_config(config).env("TINYSUP_LOG", "off").pid1() else {
        return;
    };
    let (exit, stdout, _) = run.finish();
    assert_eq!(exit, Exit::Code(0));
    let lines: Vec<&str> = stdout.lines().map(body).collect();
    assert_eq!(lines.len(), 80_000);
    for name in names {
        check_flood(&lines, name, 20_000);
    }
    // Every line carries its own program's prefix.
    for line in stdout.lines() {
        let (prefix, text) = line.split_once(" | ").unwrap();
        assert!(text.starts_with(prefix.trim_end()), "{line}");
    }
}

#[test]
fn everything_written_before_an_exit_or_a_kill_arrives() {
    let config = json!({"programs": {
        "exits": oneshot(&format!("{}; exit 0", flood("exits", 50_000))),
        "killed": {"command": sh(&format!("{}; kill -KILL $$", flood("killed", 50_000))), "restart": "no"}
    }});
    let Some(run) = with_config(config).env("TINYSUP_LOG", "off").pid1() else {
        return;
    };
    let (exit, stdout, _) = run.finish();
    assert_eq!(
        exit,
        Exit::Code(137),
        "the killed program is the first failure"
    );
    let lines: Vec<&str> = stdout.lines().map(body).collect();
    check_flood(&lines, "exits", 50_000);
    check_flood(&lines, "killed", 50_000);
}

#[test]
fn output_across_restarts_is_kept() {
    let config = json!({"programs": {"app": {
        "command": sh("echo run; printf 'half a line'; exit 1"),
        "restart_delay": 0.02, "max_restarts": 4
    }}});
    let Some(run) = with_config(config).env("TINYSUP_LOG", "off").pid1() else {
        return;
    };
    let (exit, stdout, _) = run.finish();
    assert_eq!(exit, Exit::Code(1));
    let text: String = stdout.lines().map(body).collect::<Vec<_>>().join("\n");
    assert_eq!(text.matches("run").count(), 5, "{text}");
    assert_eq!(text.matches("half a line").count(), 5, "{text}");
}

#[test]
fn a_grandchild_holding_the_pipe_delays_nothing() {
    // The program leaves a background process holding its stdout and exits. tinysup must
    // see the exit at once and shut down (as PID 1, the sweep ends the grandchild).
    let config = json!({"programs": {"app": {"command": sh("sleep 1000 & echo parent done; exit 3"), "restart": "no"}}});
    let Some(mut run) = with_config(config).pid1() else {
        return;
    };
    run.expect_on(Stream::Stderr, "app: exited with exit code 3");
    assert_eq!(run.wait(), Exit::Code(3));
    assert!(
        run.lines(Stream::Stdout)
            .iter()
            .any(|l| l.ends_with("parent done"))
    );
    // The same as a subreaper, where nothing kills the grandchild: tinysup still exits.
    let config = json!({"programs": {"app": {"command": sh("sleep 1000 & echo parent done; exit 3"), "restart": "no"}}});
    let mut run = with_config(config).subreaper();
    let group = run.program_group("app");
    run.expect_on(Stream::Stderr, "app: exited with exit code 3");
    assert_eq!(run.wait(), Exit::Code(3));
    crate::util::kill(-group, libc::SIGKILL);
}

// ---- bounded, backpressure, closed stdout ----------------------------------------------------------

#[test]
fn a_stalled_stdout_slows_the_program_but_not_tinysup() {
    // Nobody reads tinysup's stdout. The program floods it from a background process and
    // reports each USR1 on stderr: signals, stderr and the shutdown keep working, and
    // memory stays bounded.
    let script =
        "trap 'echo got USR1 >&2' USR1; yes flood & echo ready >&2; while :; do wait; done";
    let config = json!({"programs": {"app": {"command": sh(script)}}});
    let Some(mut run) = with_config(config).stdout(StdoutReader::Stalled).pid1() else {
        return;
    };
    run.expect_on(Stream::Stderr, "app     | ready");
    let pid = run.pid();
    // tinysup writes until its stdout pipe is full (then its queue fills to its bound, then
    // the program's pipe, then `yes` blocks).
    wait_until("tinysup's stdout pipe is full", || {
        run.stalled_pipe_bytes() >= 60_000
    });
    for _ in 0..3 {
        run.signal(libc::SIGUSR1);
        run.expect_on(Stream::Stderr, "app     | got USR1");
    }
    let peak = peak_memory_kib(pid);
    assert!(
        peak < 16 * 1024,
        "tinysup's memory must stay bounded: {peak} KiB"
    );
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "app: stopping with SIGTERM");
    // It exits after at most the final flush's wait, not never.
    assert_eq!(run.wait(), Exit::Code(0));
}

#[test]
fn a_stalled_stdout_splits_no_line() {
    // While nobody reads tinysup's stdout, tinysup stops reading the program: the rest of a
    // line it has begun may then wait in the program's pipe far longer than the 100 ms a
    // partial line waits. When the reader comes back, every line must still be whole.
    // (`seq` writes 4 KiB blocks, so tinysup's last read before the stall almost always
    // ends inside a line.)
    let config = json!({"programs": {"app": oneshot(&flood("app", 30_000))}});
    let Some(mut run) = with_config(config)
        .env("TINYSUP_LOG", "off")
        .stdout(StdoutReader::Stalled)
        .pid1()
    else {
        return;
    };
    wait_until("tinysup writes to its stdout", || {
        run.stalled_pipe_bytes() >= 32_000
    });
    // What is tested is time passing while tinysup cannot write: a pipe is full for poll
    // before its last page is, so wait for 300 ms in which nothing was written.
    let mut level = run.stalled_pipe_bytes();
    wait_until("tinysup's stdout stays full for 300 ms", || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let before = std::mem::replace(&mut level, run.stalled_pipe_bytes());
        before == level
    });
    run.resume_stdout();
    let (exit, stdout, _) = run.finish();
    assert_eq!(exit, Exit::Code(0));
    let lines: Vec<&str> = stdout.lines().map(body).collect();
    check_flood(&lines, "app", 30_000);
}

#[test]
fn a_closed_stdout_does_not_kill_tinysup() {
    let script =
        "for i in 1 2 3; do echo line $i; done; echo still supervised >&2; exec sleep 1000";
    let config = json!({"programs": {"app": {"command": sh(script)}}});
    let Some(mut run) = with_config(config).stdout(StdoutReader::Closed).pid1() else {
        return;
    };
    run.expect_on(
        Stream::Stderr,
        "stdout was closed (Broken pipe): what programs write to it is discarded",
    );
    run.expect_on(Stream::Stderr, "app     | still supervised");
    run.signal(libc::SIGHUP);
    run.expect_on(Stream::Stderr, "app: exited with signal 1 (SIGHUP)");
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait(), Exit::Code(0));
    let stderr = run.lines(Stream::Stderr).join("\n");
    assert!(
        !stderr.contains("SIGPIPE"),
        "tinysup's own SIGPIPE must not be forwarded: {stderr}"
    );
}

#[test]
fn the_flood_check_fails_when_lines_are_lost() {
    // The negative of check_flood: a gap must be caught.
    let mut lines: Vec<String> = (1..=10)
        .map(|i| format!("x {i:06} abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"))
        .collect();
    lines.remove(4);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert!(
        std::panic::catch_unwind(|| check_flood(&refs, "x", 10)).is_err(),
        "a lost line"
    );
    let mut torn = lines.clone();
    torn.insert(4, "x 000005 abcdefghijklmnop".to_string());
    let refs: Vec<&str> = torn.iter().map(String::as_str).collect();
    assert!(
        std::panic::catch_unwind(|| check_flood(&refs, "x", 10)).is_err(),
        "a torn line"
    );
}

// ---- bounds that hold to the end, and UTF-8 ---------------------------------------------------

#[test]
fn tinysups_own_messages_wait_in_a_bounded_queue_while_stderr_is_stalled() {
    // Nobody reads tinysup's stderr, and tinysup has a lot to say: every real-time signal
    // forwarded to ten programs is eleven debug lines. 20,000 of them would be about 9 MB.
    let programs: serde_json::Map<String, Value> = (0..10)
        .map(|i| {
            let script = "trap '' 35; trap 'echo marker' 64; echo ready; \
                          while :; do sleep 1000 & wait $!; done";
            (format!("p{i}"), json!({"command": sh(script)}))
        })
        .collect();
    let config = json!({"programs": programs});
    let Some(mut run) = with_config(config)
        .env("TINYSUP_LOG", "debug")
        .stderr_stalled()
        .sigpending(100_000)
        .pid1()
    else {
        return;
    };
    for _ in 0..10 {
        run.expect_on(Stream::Stdout, "ready");
    }
    let pid = run.pid();
    let before = peak_memory_kib(pid);
    for _ in 0..20_000 {
        crate::util::kill(pid, 35);
    }
    // The kernel hands out the lowest signal first: once 64 arrives, every 35 was taken.
    crate::util::kill(pid, 64);
    run.expect_on(Stream::Stdout, "marker");
    let after = peak_memory_kib(pid);
    assert!(
        after < before + 3 * 1024,
        "tinysup's memory grew from {before} KiB to {after} KiB"
    );
}

/// A program that enlarges its stdout pipe to 1 MiB, fills it, and exits.
fn fills_a_big_pipe() -> Value {
    json!([
        "python3",
        "-c",
        "import fcntl, os; fcntl.fcntl(1, 1031, 1 << 20); os.write(1, (b'x' * 99 + b'\\n') * 10000)"
    ])
}

#[test]
fn the_final_drain_keeps_the_memory_bound_and_counts_what_it_drops() {
    // Twenty programs leave 1 MB each in their pipes and end, while nobody reads stdout:
    // the last drain must not read it all into memory (20 MB).
    let programs: serde_json::Map<String, Value> = (0..20)
        .map(|i| {
            (
                format!("p{i}"),
                json!({"command": fills_a_big_pipe(), "type": "oneshot"}),
            )
        })
        .collect();
    let config = json!({"programs": programs, "shutdown_timeout": "1s"});
    let Some(mut run) = with_config(config).stdout(StdoutReader::Stalled).pid1() else {
        return;
    };
    let pid = run.pid();
    let peak = crate::util::peak_memory_until_exit(pid);
    assert!(peak < 12 * 1024, "tinysup's memory went up to {peak} KiB");
    let line = run.expect_on(
        Stream::Stderr,
        "bytes of output dropped at exit: stdout was not read",
    );
    let dropped: usize = line
        .split_whitespace()
        .find_map(|word| word.parse().ok())
        .expect("a count");
    // 20 MB were written; at most the pipes and the queues got out.
    assert!(dropped > 15_000_000, "{line}");
    assert_eq!(run.wait(), Exit::Code(0));
}

#[test]
fn json_lines_are_split_between_characters() {
    // A line of 40,000 bytes of 'é' after one ASCII byte (so each 16 KiB cut falls inside a
    // character), and a partial line whose 'é' is split across two writes 300 ms apart.
    let script = "python3 -c \"import sys; sys.stdout.write('a' + 'é' * 20000 + '\\n')\"; \
                  printf 'abc\\303'; sleep 0.3; printf '\\251 def\\n'";
    let config = json!({"output": "json", "programs": {"app": oneshot(script)}});
    let (exit, stdout, _) = with_config(config).env("TINYSUP_LOG", "off").output();
    assert_eq!(exit, Exit::Code(0));
    let lines: Vec<String> = stdout
        .lines()
        .map(|l| {
            let value: Value = serde_json::from_str(l).unwrap();
            value["line"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        lines.iter().all(|l| !l.contains('\u{fffd}')),
        "a character was cut in two: {:?}",
        lines.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    let long: String = lines[..lines.len() - 2].concat();
    assert_eq!(long, format!("a{}", "é".repeat(20_000)));
    assert_eq!(lines[lines.len() - 2..], ["abc", "é def"]);
}

#[test]
fn a_full_disk_under_stdout_is_survived_and_recovered_from() {
    // stdout is a file on a full filesystem, which gets room again: writes fail (ENOSPC),
    // output is dropped meanwhile, and once a write succeeds again output flows on.
    if !crate::util::pid_namespaces_available() {
        return;
    }
    let out = crate::util::clean_command("unshare")
        .args(["--mount", "--propagation", "private", "sh"])
        .arg(crate::util::fixture("enospc.sh"))
        .arg(crate::util::tinysup_path())
        .output()
        .expect("run the fixture");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (log, tail) = stdout.split_once("---\n").expect("the fixture's separator");
    assert!(
        log.contains("cannot write to stdout (No space left on device)"),
        "{log}"
    );
    assert!(log.contains("writes to stdout succeed again"), "{log}");
    assert!(!log.contains("was closed"), "{log}");
    assert_eq!(tail.lines().count(), 3, "lines after the recovery: {tail}");
}

//! The configuration's answers at load time, through the real binary: every error and warning
//! on one line of its own, bounded; what tinysup says about the user database, byte order
//! marks, duplicate keys and unusable ids; warnings that still let it start; and the
//! Kubernetes service variables it leaves alone.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::util::{Exit, TempFile, clean_command, pid_namespaces_available, tinysup, tinysup_path};

/// Every line of `stderr` is one of tinysup's own (`tinysup: …`): none was forged by text a
/// user wrote. Returns the lines.
fn own_lines(stderr: &str) -> Vec<&str> {
    let lines: Vec<&str> = stderr.lines().collect();
    for line in &lines {
        assert!(
            line.starts_with("tinysup: "),
            "a line not tinysup's own: {line:?}"
        );
    }
    lines
}

// ---- one line per error ----------------------------------------------------------------------

#[test]
fn user_written_text_cannot_forge_an_error_line() {
    let forged = "x\ntinysup: error: forged\r\u{1b}[2K";
    let file = TempFile::new(
        "forge.json",
        &json!({"programs": {
            forged: {"command": "x"},
            "web": {"command": "web", forged: 1, "output": forged, "depends_on": [forged]}
        }})
        .to_string(),
    );
    let (exit, stdout, stderr) = tinysup(["config", "-c", file.path()])
        .env(&format!("TINYSUP_{forged}"), "1")
        .env(
            "TINYSUP_PROGRAM_X",
            &json!({"command": "x", forged: 1}).to_string(),
        )
        .output();
    assert_eq!((exit, stdout.as_str()), (Exit::Code(2), ""));
    let lines = own_lines(&stderr);
    // Each problem on its line, then the summary: nothing split and nothing forged.
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with("tinysup: error: forged")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains('\r') && !l.contains('\u{1b}')),
        "{stderr}"
    );
    let summary = lines.last().copied().unwrap_or_default();
    let count: usize = summary
        .trim_start_matches("tinysup: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    assert_eq!(lines.len(), count + 1, "one line per problem:\n{stderr}");
    assert!(
        stderr.contains(r"programs.x\ntinysup: error: forged\r\u{1b}[2K: "),
        "the name is shown escaped:\n{stderr}"
    );
}

#[test]
fn a_command_line_error_is_one_line() {
    let (exit, _, stderr) = tinysup(["-e", "1\ntinysup: error: forged", "true"]).output();
    assert_eq!(exit, Exit::Code(2));
    assert_eq!(own_lines(&stderr).len(), 1, "{stderr}");
}

#[test]
fn a_huge_key_is_not_echoed_whole() {
    let key = "k".repeat(10 * 1024 * 1024);
    let file = TempFile::new(
        "huge.json",
        &json!({"programs": {"web": {"command": "web"}}, key.as_str(): 1}).to_string(),
    );
    let (exit, _, stderr) = tinysup(["config", "-c", file.path()]).output();
    assert_eq!(exit, Exit::Code(2));
    let lines = own_lines(&stderr);
    assert_eq!(lines.len(), 2, "{}", &stderr[..stderr.len().min(2000)]);
    assert!(stderr.len() < 2000, "{} bytes of errors", stderr.len());
    assert!(
        lines[0].contains("kkkk") && lines[0].contains("(10485760 bytes)"),
        "a prefix and the length: {}",
        lines[0]
    );
}

// ---- the user database -------------------------------------------------------------------------

/// A folder standing in for /etc, removed when dropped.
struct FakeEtc(PathBuf);

impl FakeEtc {
    fn new(files: &[(&str, &[u8])]) -> FakeEtc {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tinysup-etc-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make a folder");
        for (name, contents) in files {
            std::fs::write(dir.join(name), contents).expect("write a file");
        }
        FakeEtc(dir)
    }
}

impl Drop for FakeEtc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs tinysup with `args` and `env` in a mount namespace of its own whose /etc holds only
/// `files`: the user database the test wants, without touching the machine's. `None` where
/// namespaces cannot be made (see `pid_namespaces_available`).
fn with_etc(
    files: &[(&str, &[u8])],
    args: &[&str],
    env: &[(&str, &str)],
) -> Option<(Exit, String, String)> {
    if !pid_namespaces_available() {
        return None;
    }
    let etc = FakeEtc::new(files);
    let mut command = clean_command("timeout");
    command
        .args(["15", "unshare", "--mount", "--propagation", "private", "--"])
        .args([
            "sh",
            "-c",
            "mount --bind \"$1\" /etc && shift && exec \"$@\"",
            "sh",
        ])
        .arg(&etc.0)
        .arg(tinysup_path())
        .args(args)
        .envs(env.iter().copied());
    let output = command.output().expect("run unshare");
    let exit = match output.status.code() {
        Some(code) => Exit::Code(code),
        None => {
            Exit::Signal(std::os::unix::process::ExitStatusExt::signal(&output.status).unwrap_or(0))
        }
    };
    Some((
        exit,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

const GROUP: &[u8] = b"root:x:0:\napp:x:1000:\nstaff:x:50:app\n";

/// `tinysup config` with one program run as `user` (and `group`).
fn config_as(
    files: &[(&str, &[u8])],
    user: Value,
    group: Option<&str>,
) -> Option<(Exit, String, String)> {
    let mut program = json!({"command": "true", "user": user});
    if let Some(group) = group {
        program["group"] = json!(group);
    }
    let config = json!({"programs": {"p": program}}).to_string();
    with_etc(files, &["config"], &[("TINYSUP_CONFIG_JSON", &config)])
}

#[test]
fn a_byte_that_is_not_utf8_in_another_users_line_changes_nothing() {
    let passwd = b"root:x:0:0:root:/root:/bin/sh\nother:x:7:7:Ren\xe9:/home/ren\xe9:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
    let Some((exit, stdout, stderr)) = config_as(
        &[("passwd", passwd), ("group", GROUP)],
        json!("app"),
        Some("staff"),
    ) else {
        return;
    };
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["programs"]["p"]["user"], json!("app"));
}

#[test]
fn home_and_names_need_not_be_utf8() {
    // The user found by number has a name and a HOME that are not UTF-8: the program gets
    // them byte for byte.
    let passwd = b"root:x:0:0:root:/root:/bin/sh\nren\xe9:x:1000:1000::/home/ren\xe9:/bin/sh\n";
    let config = json!({"programs": {"show": {
        "command": ["sh", "-c", "printf '%s|%s' \"$HOME\" \"$USER\" | od -An -tx1"],
        "type": "oneshot", "user": 1000
    }}})
    .to_string();
    let Some((exit, stdout, stderr)) = with_etc(
        &[("passwd", passwd), ("group", GROUP)],
        &[],
        &[("TINYSUP_CONFIG_JSON", &config)],
    ) else {
        return;
    };
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    let hex: String = stdout
        .lines()
        .map(|l| l.split_once(" | ").map_or(l, |(_, b)| b))
        .collect::<Vec<_>>()
        .join(" ");
    let expected: Vec<String> = b"/home/ren\xe9|ren\xe9"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex.split_whitespace().collect::<Vec<_>>(),
        expected,
        "{stdout}"
    );
}

#[test]
fn an_absent_user_database_is_named() {
    let Some((exit, _, stderr)) = config_as(&[("group", GROUP)], json!("app"), None) else {
        return;
    };
    assert_eq!(exit, Exit::Code(2));
    assert!(
        stderr.contains("programs.p.user: cannot read /etc/passwd: No such file or directory"),
        "{stderr}"
    );
    let passwd: &[u8] = b"app:x:1000:1000::/home/app:/bin/sh\n";
    let Some((exit, _, stderr)) = config_as(&[("passwd", passwd)], json!("app"), Some("staff"))
    else {
        return;
    };
    assert_eq!(exit, Exit::Code(2));
    assert!(
        stderr.contains("programs.p.group: cannot read /etc/group: No such file or directory"),
        "{stderr}"
    );
    // A numeric id needs neither, as with docker run --user.
    let Some((exit, stdout, stderr)) = config_as(&[], json!(4242), Some("5000")) else {
        return;
    };
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    assert!(stdout.contains("\"user\": \"4242\""), "{stdout}");
}

// ---- answers at load time ------------------------------------------------------------------------

#[test]
fn a_byte_order_mark_is_skipped() {
    let file = TempFile::new(
        "bom.json",
        "\u{feff}{\"programs\": {\"web\": {\"command\": \"web\"}}}",
    );
    let (exit, stdout, stderr) = tinysup(["config", "-c", file.path()]).output();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    assert!(stdout.contains("\"web\""), "{stdout}");
}

#[test]
fn a_program_defined_twice_in_one_object_is_an_error() {
    let file = TempFile::new(
        "twice.json",
        r#"{"programs": {"web": {"command": "nginx"}, "web": {"command": "caddy"}}}"#,
    );
    let (exit, stdout, stderr) = tinysup(["config", "-c", file.path()]).output();
    assert_eq!((exit, stdout.as_str()), (Exit::Code(2), ""));
    assert_eq!(
        own_lines(&stderr),
        [
            format!(
                "tinysup: error: {}: programs.web: defined twice in one object (the second would silently replace the first)",
                file.path()
            )
            .as_str(),
            "tinysup: 1 configuration problem: nothing was started"
        ]
    );
}

#[test]
fn the_id_minus_one_is_refused() {
    let (exit, _, stderr) = tinysup(["config"])
        .env(
            "TINYSUP_CONFIG_JSON",
            &json!({"programs": {"p": {"command": "true", "user": 4294967295u64}}}).to_string(),
        )
        .output();
    assert_eq!(exit, Exit::Code(2));
    assert!(
        stderr.contains("programs.p.user: uid 4294967295 is (uid_t) -1"),
        "{stderr}"
    );
    // From /etc/passwd too.
    let passwd: &[u8] = b"ghost:x:4294967295:0::/:/bin/sh\n";
    let Some((exit, _, stderr)) = config_as(
        &[("passwd", passwd), ("group", GROUP)],
        json!("ghost"),
        None,
    ) else {
        return;
    };
    assert_eq!(exit, Exit::Code(2));
    assert!(
        stderr.contains(
            "programs.p.user: user \"ghost\" has uid 4294967295 in /etc/passwd, which is (uid_t) -1"
        ),
        "{stderr}"
    );
}

// ---- warnings ------------------------------------------------------------------------------------

/// A program whose stop_timeout (10 s) is above the default shutdown_timeout (7 s).
fn slow_stopper() -> String {
    json!({"programs": {"db": {"command": "true", "type": "oneshot", "stop_timeout": 10}}})
        .to_string()
}

#[test]
fn config_warns_of_a_stop_timeout_above_the_shutdown_timeout_and_exits_0() {
    let (exit, stdout, stderr) = tinysup(["config"])
        .env("TINYSUP_CONFIG_JSON", &slow_stopper())
        .output();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    assert!(serde_json::from_str::<Value>(&stdout).is_ok(), "{stdout}");
    let lines = own_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(
            "tinysup: warning: TINYSUP_CONFIG_JSON: programs.db.stop_timeout: 10s is longer than shutdown_timeout (7s)"
        ),
        "{stderr}"
    );
    for what in ["raise shutdown_timeout", "stop grace"] {
        assert!(lines[0].contains(what), "says {what:?}: {stderr}");
    }
    // Raised: no warning.
    let (exit, _, stderr) = tinysup(["config"])
        .env("TINYSUP_CONFIG_JSON", &slow_stopper())
        .env("TINYSUP_SHUTDOWN_TIMEOUT", "12")
        .output();
    assert_eq!((exit, stderr.as_str()), (Exit::Code(0), ""));
}

#[test]
fn an_unbounded_shutdown_never_warns() {
    // Only a command: tini's mode, no shutdown bound.
    let (exit, _, stderr) = tinysup(["config", "--", "true"])
        .env("TINYSUP_PROGRAM_MAIN", r#"{"stop_timeout": "1h"}"#)
        .output();
    assert_eq!((exit, stderr.as_str()), (Exit::Code(0), ""));
}

#[test]
fn start_up_logs_the_warning_and_runs() {
    let (exit, _, stderr) = tinysup(Vec::<String>::new())
        .env("TINYSUP_CONFIG_JSON", &slow_stopper())
        .output();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("programs.db.stop_timeout: 10s is longer than shutdown_timeout"))
        .unwrap_or_else(|| panic!("no warning in:\n{stderr}"));
    assert!(stderr.contains("db: started"), "it ran: {stderr}");
    assert!(!warning.contains("error"), "{warning}");
}

// ---- Kubernetes service variables -----------------------------------------------------------------

/// What the kubelet injects for a Service named `tinysup` (two named ports, one IPv6) and
/// one named `tinysup-db` (one unnamed port).
const SERVICE_VARIABLES: [(&str, &str); 17] = [
    ("TINYSUP_SERVICE_HOST", "10.96.0.10"),
    ("TINYSUP_SERVICE_PORT", "80"),
    ("TINYSUP_SERVICE_PORT_HTTP", "80"),
    ("TINYSUP_SERVICE_PORT_METRICS", "9090"),
    ("TINYSUP_PORT", "tcp://10.96.0.10:80"),
    ("TINYSUP_PORT_80_TCP", "tcp://10.96.0.10:80"),
    ("TINYSUP_PORT_80_TCP_PROTO", "tcp"),
    ("TINYSUP_PORT_80_TCP_PORT", "80"),
    ("TINYSUP_PORT_80_TCP_ADDR", "10.96.0.10"),
    ("TINYSUP_PORT_9090_UDP", "udp://10.96.0.10:9090"),
    ("TINYSUP_DB_SERVICE_HOST", "fd00:10:96::5"),
    ("TINYSUP_DB_SERVICE_PORT", "5432"),
    ("TINYSUP_DB_PORT", "tcp://[fd00:10:96::5]:5432"),
    ("TINYSUP_DB_PORT_5432_TCP", "tcp://[fd00:10:96::5]:5432"),
    ("TINYSUP_DB_PORT_5432_TCP_PROTO", "tcp"),
    ("TINYSUP_DB_PORT_5432_TCP_PORT", "5432"),
    ("TINYSUP_DB_PORT_5432_TCP_ADDR", "fd00:10:96::5"),
];

#[test]
fn kubernetes_service_variables_are_not_settings_and_reach_programs() {
    let config = json!({"programs": {"show": {"command": ["env"], "type": "oneshot"}}});
    let mut run = tinysup(Vec::<String>::new())
        .env("TINYSUP_CONFIG_JSON", &config.to_string())
        .env("TINYSUP_LOG", "debug");
    for (key, value) in SERVICE_VARIABLES {
        run = run.env(key, value);
    }
    let (exit, stdout, stderr) = run.output();
    assert_eq!(exit, Exit::Code(0), "{stderr}");
    // They are the Service's: programs get them, for service discovery.
    for (key, value) in SERVICE_VARIABLES {
        assert!(
            stdout.contains(&format!("{key}={value}\n")),
            "{key} in:\n{stdout}"
        );
        assert!(
            stderr.contains(&format!("{key}: a Kubernetes service variable")),
            "{key} noted at debug level:\n{stderr}"
        );
    }
    assert!(!stdout.contains("TINYSUP_CONFIG_JSON") && !stdout.contains("TINYSUP_LOG"));

    // And tinysup config accepts them too, quietly.
    let mut run = tinysup(["config"]).env("TINYSUP_CONFIG_JSON", &config.to_string());
    for (key, value) in SERVICE_VARIABLES {
        run = run.env(key, value);
    }
    let (exit, _, stderr) = run.output();
    assert_eq!((exit, stderr.as_str()), (Exit::Code(0), ""));
}

#[test]
fn a_near_miss_of_a_service_variable_is_still_an_error() {
    for (key, value) in [
        ("TINYSUP_SERVICE_PORT", "http"),
        ("TINYSUP_SERVICE_HOST", "tinysup.default.svc"),
        ("TINYSUP_SERVCE_HOST", "10.96.0.10"),
        ("TINYSUP_PORT_80_TCP", "udp://10.96.0.10:80"),
        ("TINYSUP_PORT_80_TCP", "tcp://10.96.0.10:8080"),
        ("TINYSUP_PORT_80_TCP_PORT", "81"),
        ("TINYSUP_PORT_80_HTTP", "tcp://10.96.0.10:80"),
        ("TINYSUP_PORT", "10.96.0.10:80"),
        ("TINYSUP_db_SERVICE_HOST", "10.96.0.11"),
    ] {
        let (exit, _, stderr) = tinysup(["config", "--", "true"]).env(key, value).output();
        assert_eq!(exit, Exit::Code(2), "{key}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("{key}: unknown variable {key}")),
            "{key}={value}: {stderr}"
        );
    }
}

//! The configuration's answers at load time, through the real binary: every error and warning
//! on one line of its own, bounded; what tinysup says about the user database, byte order
//! marks, duplicate keys and unusable ids; warnings that still let it start; and the
//! Kubernetes service variables it leaves alone.

use serde_json::json;

use crate::util::{Exit, TempFile, tinysup};

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

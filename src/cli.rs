//! The command line: tini's flags with tini's meaning, tinysup's own options, subcommands.
//!
//! ```text
//! tinysup [OPTIONS] [--] CMD [ARG...]   run CMD as the essential program "main" (tini-style)
//! tinysup [OPTIONS]                     run the configured programs
//! tinysup config [OPTIONS] [-- CMD...]  validate and print the effective configuration
//! ```
//!
//! Like tini (getopt with `+`), options end at the first word that is not one: everything
//! after it is the command and its arguments, untouched.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use crate::config::shown;
use crate::signal::Signal;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Supervise (the normal case).
    Run(Options),
    /// `tinysup config`: print the effective configuration.
    PrintConfig(Options),
    /// `-h`, `--help`.
    Help,
    /// `--version`.
    Version,
    /// `-l`: the license.
    License,
}

/// Options of a run (or of `tinysup config`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-c/--config PATH`.
    pub config_path: Option<PathBuf>,
    /// `-g` / `TINI_KILL_PROCESS_GROUP`: signals to the tini-style program's process group.
    pub signal_group: bool,
    /// `-e CODE` (repeatable): these exit codes become 0.
    pub success_remap: Vec<i32>,
    /// `-p SIGNAL`: the signal tinysup gets when its parent dies.
    pub parent_death_signal: Option<Signal>,
    /// `-v` count, plus `TINI_VERBOSITY` above its default of 1.
    pub verbosity: u8,
    /// `-w`: warn about each orphan reaped.
    pub warn_on_reap: bool,
    /// `CMD ARG...`: the tini-style program.
    pub command: Vec<OsString>,
}

/// Subcommands of the planned control socket (SPEC section 9). Their names are reserved
/// now, so that `tinysup status` never silently runs a program called `status`.
const CONTROL_SUBCOMMANDS: [&str; 6] = ["status", "start", "stop", "restart", "signal", "check"];

/// Parses the arguments after `argv[0]`. `env` reads tini's variables.
///
/// An error is one line, bounded: it may quote an argument, which can hold a newline.
pub fn parse(args: &[OsString], env: impl Fn(&str) -> Option<OsString>) -> Result<Request, String> {
    parse_words(args, env).map_err(|error| shown::line(&error, 512).into_owned())
}

fn parse_words(
    args: &[OsString],
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Request, String> {
    let mut options = Options::default();
    if env("TINI_KILL_PROCESS_GROUP").is_some() {
        options.signal_group = true;
    }
    if let Some(level) = env("TINI_VERBOSITY") {
        let level: u8 = level
            .to_str()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("TINI_VERBOSITY={level:?} is not a number"))?;
        // tini's default verbosity is 1; each level above it is one -v.
        options.verbosity = level.saturating_sub(1);
    }
    // TINI_SUBREAPER and -s are accepted: tinysup is a subreaper whenever it is not PID 1.
    let mut print_config = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_encoded_bytes();
        i += 1;
        if arg == b"--" {
            options.command = args[i..].to_vec();
            break;
        }
        if let Some(long) = arg.strip_prefix(b"--") {
            let long = String::from_utf8_lossy(long);
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(OsString::from(value))),
                None => (long.to_string(), None),
            };
            match name.as_str() {
                "help" => return Ok(Request::Help),
                "version" => return Ok(Request::Version),
                "config" => {
                    let value = inline.map_or_else(|| take_value(args, &mut i, "--config"), Ok)?;
                    options.config_path = Some(PathBuf::from(value));
                }
                _ => return Err(format!("unknown option --{name}")),
            }
            continue;
        }
        if arg.len() > 1 && arg[0] == b'-' {
            let mut flags = arg[1..].iter();
            while let Some(&flag) = flags.next() {
                match flag {
                    b'h' => return Ok(Request::Help),
                    b'l' => return Ok(Request::License),
                    b's' => {}
                    b'g' => options.signal_group = true,
                    b'v' => options.verbosity = options.verbosity.saturating_add(1),
                    b'w' => options.warn_on_reap = true,
                    b'e' | b'p' | b'c' => {
                        let rest = flags.as_slice();
                        let value = if rest.is_empty() {
                            take_value(args, &mut i, &format!("-{}", flag as char))?
                        } else {
                            os_string_from_suffix(rest)
                        };
                        apply_value(&mut options, flag, value)?;
                        break;
                    }
                    other => return Err(format!("unknown option -{}", other as char)),
                }
            }
            continue;
        }
        // The first word that is not an option.
        let word = &args[i - 1];
        if options.command.is_empty() && !print_config {
            if word == "config" {
                print_config = true;
                continue;
            }
            if let Some(name) = CONTROL_SUBCOMMANDS.iter().find(|n| word == **n) {
                return Err(format!(
                    "\"tinysup {name}\" needs the control socket, which is not built yet; \
                     to run a program named {name:?}, write \"tinysup -- {name}\""
                ));
            }
        }
        options.command = args[i - 1..].to_vec();
        break;
    }
    Ok(if print_config {
        Request::PrintConfig(options)
    } else {
        Request::Run(options)
    })
}

fn take_value(args: &[OsString], i: &mut usize, option: &str) -> Result<OsString, String> {
    let value = args
        .get(*i)
        .cloned()
        .ok_or_else(|| format!("option {option} needs a value"))?;
    *i += 1;
    Ok(value)
}

fn os_string_from_suffix(bytes: &[u8]) -> OsString {
    // Splitting an OsStr's bytes right after an ASCII byte keeps them valid: on Unix any
    // byte sequence is a valid OsStr.
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes).to_os_string()
}

fn apply_value(options: &mut Options, flag: u8, value: OsString) -> Result<(), String> {
    let text = value.to_string_lossy();
    match flag {
        b'e' => {
            let code: i32 = text
                .trim()
                .parse()
                .ok()
                .filter(|c| (0..=255).contains(c))
                .ok_or_else(|| format!("-e {text}: an exit code is a number from 0 to 255"))?;
            options.success_remap.push(code);
        }
        b'p' => {
            options.parent_death_signal =
                Some(Signal::parse(&text).map_err(|e| format!("-p: {e}"))?)
        }
        _ => options.config_path = Some(PathBuf::from(value)),
    }
    Ok(())
}

/// The `--version` text: `tinysup version 0.1.0 - git.1a2b3c4`.
///
/// The shape is tini's (`tini version 0.19.0 - git.de40ad0`) because dockerd reads it when
/// tinysup is its `--init-path`: `docker info` takes the commit from `git.<commit>` after
/// " - ", and warns and shows "N/A" for any other shape. The commit comes from `build.rs`
/// (`unknown` when the build had no repository).
pub fn version() -> String {
    format!(
        "tinysup version {} - git.{}\n",
        env!("CARGO_PKG_VERSION"),
        env!("TINYSUP_COMMIT")
    )
}

/// The `--help` text.
pub const HELP: &str = "\
tinysup: a tiny PID 1 for containers. It reaps zombies, forwards signals, supervises
programs from JSON or environment variables, and streams their output.

Usage:
  tinysup [OPTIONS] [--] CMD [ARG...]   run CMD as the essential program \"main\" (like tini)
  tinysup [OPTIONS]                     run the configured programs
  tinysup [OPTIONS] -- CMD [ARG...]     both: the configured programs plus CMD as \"main\"
  tinysup config [OPTIONS] [-- CMD...]  validate and print the effective configuration

Options:
  -c, --config PATH  read programs and settings from this JSON file (also TINYSUP_CONFIG)
  -g                 send signals to the process group of CMD (also TINI_KILL_PROCESS_GROUP)
  -e CODE            exit with 0 when tinysup would exit with CODE (repeatable)
  -p SIGNAL          get SIGNAL when tinysup's parent dies (e.g. -p SIGKILL)
  -s                 register as a child subreaper (automatic whenever not PID 1)
  -v                 more messages (repeatable; also TINI_VERBOSITY, TINYSUP_LOG)
  -w                 warn about every orphaned process reaped
  -l                 show the license and exit
  -h, --help         show this help and exit
      --version      show the version and exit

Configuration: TINYSUP_CONFIG, TINYSUP_CONFIG_JSON, TINYSUP_PROGRAM_<NAME>, TINYSUP_<SETTING>.
See the README for every setting, the signal table and the exit codes.
";

/// The `-l` text.
pub const LICENSE: &str = "\
MIT License

Copyright (c) 2026 the tinysup authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the \"Software\"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    fn run(list: &[&str]) -> Options {
        match parse(&args(list), no_env) {
            Ok(Request::Run(options)) => options,
            other => panic!("{list:?}: {other:?}"),
        }
    }

    #[test]
    fn tini_flags() {
        let o = run(&[
            "-s", "-g", "-e", "143", "-e3", "-p", "SIGKILL", "-vv", "-w", "--", "sleep", "1",
        ]);
        assert!(o.signal_group && o.warn_on_reap);
        assert_eq!(o.success_remap, vec![143, 3]);
        assert_eq!(o.parent_death_signal, Some(Signal::KILL));
        assert_eq!(o.verbosity, 2);
        assert_eq!(o.command, args(&["sleep", "1"]));
    }

    #[test]
    fn combined_flags_and_attached_values() {
        let o = run(&["-sgv", "-cconf.json", "true"]);
        assert!(o.signal_group);
        assert_eq!(o.verbosity, 1);
        assert_eq!(o.config_path, Some(PathBuf::from("conf.json")));
        assert_eq!(
            run(&["--config=a.json"]).config_path,
            Some(PathBuf::from("a.json"))
        );
        assert_eq!(
            run(&["--config", "b.json"]).config_path,
            Some(PathBuf::from("b.json"))
        );
    }

    #[test]
    fn options_end_at_the_command() {
        let o = run(&["sh", "-c", "exit 3", "-v"]);
        assert_eq!(o.command, args(&["sh", "-c", "exit 3", "-v"]));
        assert_eq!(o.verbosity, 0);
        assert_eq!(run(&["--", "-v"]).command, args(&["-v"]));
        assert!(run(&[]).command.is_empty());
    }

    #[test]
    fn subcommands() {
        match parse(&args(&["config", "-c", "x.json"]), no_env) {
            Ok(Request::PrintConfig(o)) => assert_eq!(o.config_path, Some(PathBuf::from("x.json"))),
            other => panic!("{other:?}"),
        }
        match parse(
            &args(&["-c", "x.json", "config", "--", "sleep", "9"]),
            no_env,
        ) {
            Ok(Request::PrintConfig(o)) => assert_eq!(o.command, args(&["sleep", "9"])),
            other => panic!("{other:?}"),
        }
        // `--` before a program named like a subcommand runs it.
        assert_eq!(run(&["--", "config"]).command, args(&["config"]));
        assert_eq!(run(&["--", "status"]).command, args(&["status"]));
        let error = parse(&args(&["status"]), no_env).unwrap_err();
        assert!(error.contains("tinysup -- status"), "{error}");
        // Only the first word is a subcommand.
        assert_eq!(run(&["echo", "config"]).command, args(&["echo", "config"]));
    }

    #[test]
    fn help_version_license() {
        assert_eq!(parse(&args(&["-h"]), no_env), Ok(Request::Help));
        assert_eq!(parse(&args(&["--help"]), no_env), Ok(Request::Help));
        assert_eq!(parse(&args(&["--version"]), no_env), Ok(Request::Version));
        assert_eq!(parse(&args(&["-l"]), no_env), Ok(Request::License));
    }

    /// dockerd's reading of `<init> --version` (moby's `parseInitVersion`, written again here):
    /// split on " - "; the second part, trimmed, must be exactly `git.<commit>`; a version
    /// is taken only after the prefix "tini version ". It fails when it finds neither, and
    /// `docker info` then logs a warning and shows "N/A". Older dockerd trimmed the whole
    /// output first and not the second part; both readings are checked.
    fn dockerd_reads(output: &str, trim_first: bool) -> Result<(String, String), String> {
        let text = if trim_first { output.trim() } else { output };
        let parts: Vec<&str> = text.split(" - ").collect();
        let mut commit = String::new();
        if parts.len() >= 2 {
            let second = if trim_first {
                parts[1]
            } else {
                parts[1].trim()
            };
            let git: Vec<&str> = second.split('.').collect();
            if git.len() == 2 && git[0] == "git" {
                commit = git[1].to_string();
            }
        }
        let version = parts[0]
            .trim()
            .strip_prefix("tini version ")
            .unwrap_or_default()
            .to_string();
        if version.is_empty() && commit.is_empty() {
            return Err(format!("unknown output format: {output}"));
        }
        Ok((version, commit))
    }

    #[test]
    fn dockerd_parses_the_version() {
        let output = version();
        assert!(
            output.ends_with('\n') && output.lines().count() == 1,
            "{output:?}"
        );
        for trim_first in [false, true] {
            let (_, commit) = dockerd_reads(&output, trim_first).unwrap();
            assert!(
                !commit.is_empty() && commit.bytes().all(|b| b.is_ascii_alphanumeric()),
                "{output:?} gives commit {commit:?}"
            );
        }
        assert!(output.starts_with(&format!(
            "tinysup version {} - git.",
            env!("CARGO_PKG_VERSION")
        )));
        // The reading itself: tini's own line parses, and an unknown shape does not.
        assert_eq!(
            dockerd_reads("tini version 0.19.0 - git.de40ad0\n", false),
            Ok(("0.19.0".to_string(), "de40ad0".to_string()))
        );
        assert!(dockerd_reads("tinysup 0.1.0\n", false).is_err());
    }

    #[test]
    fn usage_errors() {
        for (list, expected) in [
            (&["-x"][..], "unknown option -x"),
            (&["--frobnicate"], "unknown option --frobnicate"),
            (&["-e"], "option -e needs a value"),
            (
                &["-e", "300"],
                "-e 300: an exit code is a number from 0 to 255",
            ),
            (&["-p", "SIGNOPE"], "-p: unknown signal"),
        ] {
            let error = parse(&args(list), no_env).unwrap_err();
            assert!(error.starts_with(expected), "{list:?}: {error}");
        }
    }

    #[test]
    fn tini_variables() {
        let env = |name: &str| match name {
            "TINI_KILL_PROCESS_GROUP" => Some(OsString::from("1")),
            "TINI_VERBOSITY" => Some(OsString::from("3")),
            _ => None,
        };
        match parse(&args(&["true"]), env) {
            Ok(Request::Run(o)) => {
                assert!(o.signal_group);
                assert_eq!(o.verbosity, 2);
            }
            other => panic!("{other:?}"),
        }
        let bad = |name: &str| (name == "TINI_VERBOSITY").then(|| OsString::from("loud"));
        assert!(parse(&args(&["true"]), bad).is_err());
    }
}

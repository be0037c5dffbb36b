//! Exit status vocabulary: how a program ended, and the exit code tinysup itself returns.
//!
//! Pure: no syscalls. The table in [`exit_code`] is the one in the README ("Exit status").

use std::fmt;

use crate::signal::Signal;

/// Exit code for a configuration or usage error: nothing was started.
pub const EXIT_USAGE: i32 = 2;
/// Exit code when a requested shutdown had to SIGKILL something at a deadline.
pub const EXIT_KILLED_AT_DEADLINE: i32 = 1;
/// Exit code tinysup returns when it cannot set itself up (signals, pipes) after parsing.
pub const EXIT_INTERNAL: i32 = 1;
/// Shell convention: the program could not be found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Shell convention: the program was found but could not be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;

/// How a process ended, as `waitpid` reported it (or as a failed `exec` is counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code (0..=255).
    Code(i32),
    /// It was killed by this signal.
    Signal(Signal),
}

impl ExitStatus {
    /// The status a shell would report: the code, or 128 + N for death by signal N.
    pub fn exit_code(self) -> i32 {
        match self {
            ExitStatus::Code(code) => code,
            ExitStatus::Signal(signal) => 128 + signal.number(),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Signal(signal) => write!(f, "signal {} ({signal})", signal.number()),
        }
    }
}

/// What happened during a run, as far as tinysup's own exit code is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The status of the essential program that ended the run, if one did. An essential
    /// program stopped during a requested shutdown counts too (as with tini, `docker stop`
    /// gives 143).
    pub essential: Option<ExitStatus>,
    /// A shutdown was requested by SIGTERM/SIGINT.
    pub requested: bool,
    /// Something had to be SIGKILLed at a deadline (a `stop_timeout`, the
    /// `shutdown_timeout`, or a forced second signal).
    pub killed: bool,
    /// The first program that ended for good with a failure.
    pub first_failure: Option<ExitStatus>,
}

/// tinysup's exit code, from the table in SPEC section 6:
///
/// | exit status | when |
/// | --- | --- |
/// | the essential program's status | an essential program ended the run |
/// | 0 | a requested shutdown, everything stopped within its timeout |
/// | 1 | a requested shutdown where something was killed at a deadline |
/// | the first failure's status | every program ended on its own and one failed |
///
/// `success_remap` is tini's `-e CODE`: those exit codes become 0.
pub fn exit_code(outcome: &Outcome, success_remap: &[i32]) -> i32 {
    let code = if let Some(status) = outcome.essential {
        status.exit_code()
    } else if outcome.requested {
        if outcome.killed {
            EXIT_KILLED_AT_DEADLINE
        } else {
            0
        }
    } else {
        outcome.first_failure.map_or(0, ExitStatus::exit_code)
    };
    if success_remap.contains(&code) {
        0
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERM: ExitStatus = ExitStatus::Signal(Signal::TERM);

    #[test]
    fn shell_conventions() {
        assert_eq!(ExitStatus::Code(3).exit_code(), 3);
        assert_eq!(TERM.exit_code(), 143);
        assert_eq!(ExitStatus::Signal(Signal::KILL).exit_code(), 137);
        assert_eq!(TERM.to_string(), "signal 15 (SIGTERM)");
    }

    #[test]
    fn exit_code_table() {
        let rows: &[(Outcome, &[i32], i32)] = &[
            // An essential program's status wins, also during a requested shutdown.
            (
                Outcome {
                    essential: Some(TERM),
                    requested: true,
                    ..Default::default()
                },
                &[],
                143,
            ),
            (
                Outcome {
                    essential: Some(ExitStatus::Code(7)),
                    ..Default::default()
                },
                &[],
                7,
            ),
            (
                Outcome {
                    essential: Some(ExitStatus::Code(0)),
                    first_failure: Some(ExitStatus::Code(9)),
                    ..Default::default()
                },
                &[],
                0,
            ),
            // Requested shutdown without an essential program: 0, or 1 when something was killed.
            (
                Outcome {
                    requested: true,
                    ..Default::default()
                },
                &[],
                0,
            ),
            (
                Outcome {
                    requested: true,
                    killed: true,
                    ..Default::default()
                },
                &[],
                1,
            ),
            (
                Outcome {
                    requested: true,
                    first_failure: Some(ExitStatus::Code(3)),
                    ..Default::default()
                },
                &[],
                0,
            ),
            // Everything ended on its own: the first failure, or 0.
            (Outcome::default(), &[], 0),
            (
                Outcome {
                    first_failure: Some(ExitStatus::Code(3)),
                    ..Default::default()
                },
                &[],
                3,
            ),
            // tini's -e remaps.
            (
                Outcome {
                    essential: Some(TERM),
                    ..Default::default()
                },
                &[143],
                0,
            ),
            (
                Outcome {
                    essential: Some(ExitStatus::Code(5)),
                    ..Default::default()
                },
                &[4],
                5,
            ),
        ];
        for (outcome, remap, expected) in rows {
            assert_eq!(
                exit_code(outcome, remap),
                *expected,
                "{outcome:?} remap {remap:?}"
            );
        }
    }
}

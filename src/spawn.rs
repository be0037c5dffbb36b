//! Builds and starts one program's process; never waits for it (the reaper does).
//!
//! std's `Command` does the fork/exec (tinysup is single-threaded, so that is safe) and
//! reports an exec failure back through its close-on-exec pipe. One `pre_exec` step then
//! does, in the child, in this order: its own process group; the terminal's foreground
//! (tini-style program on a TTY only, while SIGTTOU is still ignored); the user's groups,
//! gid and uid; and last, the signal mask and ignored signals tinysup was started with.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::unistd::{Pid, getpgrp, isatty, setpgid, tcgetpgrp, tcsetpgrp};

use crate::config::ProgramSpec;
use crate::config::sources::is_tinysup_variable;
use crate::os_signals::InheritedSignals;
use crate::status::{EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, ExitStatus};
use crate::users::Credentials;

/// Where a program's stdout or stderr goes.
#[derive(Debug)]
pub enum ChildOutput {
    /// tinysup's own stdout/stderr (`raw`).
    Inherit,
    /// /dev/null (`null`).
    Null,
    /// The write end of a pipe tinysup reads (`prefix`, `json`). tinysup keeps it open
    /// across restarts, so nothing is lost between runs; each run gets a duplicate.
    Pipe(OwnedFd),
}

impl ChildOutput {
    fn to_stdio(&self) -> io::Result<Stdio> {
        Ok(match self {
            ChildOutput::Inherit => Stdio::inherit(),
            ChildOutput::Null => Stdio::null(),
            ChildOutput::Pipe(fd) => Stdio::from(fd.try_clone()?),
        })
    }
}

/// A program that could not be started: its status (126/127, as shells count it) and a
/// one-line reason.
#[derive(Debug)]
pub struct SpawnError {
    pub status: ExitStatus,
    pub message: String,
}

/// What every spawn shares: the environment and signal state tinysup was started with.
pub struct Spawner {
    /// tinysup's environment without `TINYSUP_*`.
    base_env: Vec<(OsString, OsString)>,
    inherited: InheritedSignals,
    /// tinysup is the foreground process group of the terminal on stdin, so the program
    /// that inherits stdin can take it over.
    owns_terminal: bool,
}

impl Spawner {
    pub fn new(
        environment: impl Iterator<Item = (OsString, OsString)>,
        inherited: InheritedSignals,
    ) -> Spawner {
        let base_env = environment
            .filter(|(key, value)| !is_tinysup_variable(key, value))
            .collect();
        let stdin = io::stdin();
        let owns_terminal = isatty(stdin.as_fd()).unwrap_or(false)
            && tcgetpgrp(stdin.as_fd()).is_ok_and(|foreground| foreground == getpgrp());
        Spawner {
            base_env,
            inherited,
            owns_terminal,
        }
    }

    /// Starts `spec` with its stdout and stderr going to `stdout` / `stderr`.
    pub fn spawn(
        &self,
        spec: &ProgramSpec,
        stdout: &ChildOutput,
        stderr: &ChildOutput,
    ) -> Result<Pid, SpawnError> {
        let program = spec
            .command
            .first()
            .map(OsString::as_os_str)
            .unwrap_or_default();
        let fail = |errno: Errno, what: String| SpawnError {
            status: ExitStatus::Code(if errno == Errno::ENOENT {
                EXIT_NOT_FOUND
            } else {
                EXIT_NOT_EXECUTABLE
            }),
            message: format!("{}: {what}: {}", spec.name, errno.desc()),
        };
        // Checked here because in the child a missing directory fails chdir with ENOENT,
        // indistinguishable from a missing program.
        if let Some(cwd) = &spec.cwd {
            let problem = match std::fs::metadata(cwd) {
                Ok(metadata) if metadata.is_dir() => None,
                Ok(_) => Some(Errno::ENOTDIR),
                Err(error) => Some(errno_of(&error)),
            };
            if let Some(errno) = problem {
                return Err(fail(
                    errno,
                    format!("cannot change directory to {:?}", Path::new(cwd)),
                ));
            }
        }

        let mut command = Command::new(program);
        command.args(&spec.command[1..]);
        command.env_clear();
        command.envs(self.base_env.iter().map(|(k, v)| (k, v)));
        if let Some(run_as) = &spec.user {
            command.envs(run_as.credentials.environment());
        }
        command.envs(spec.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let io_error = |error: io::Error| {
            fail(
                errno_of(&error),
                format!("cannot set up output for {program:?}"),
            )
        };
        command.stdin(if spec.inherit_stdin {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        command.stdout(stdout.to_stdio().map_err(io_error)?);
        command.stderr(stderr.to_stdio().map_err(io_error)?);

        let in_child = InChild {
            // The handle is made here: std's first `stdin()` allocates, which a forked child
            // must not do.
            terminal: (spec.inherit_stdin && self.owns_terminal).then(io::stdin),
            credentials: spec.user.as_ref().map(|run_as| run_as.credentials.clone()),
            inherited: self.inherited,
        };
        // SAFETY: the closure runs between fork and exec in a copy of this single-threaded
        // process; it only makes async-signal-safe system calls (setpgid, tcsetpgrp,
        // setgroups, setgid, setuid, sigaction, pthread_sigmask) and allocates nothing.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || in_child.run());
        }
        match command.spawn() {
            // std's spawn returns once the child has exec'd, so the process group exists.
            // The Child handle is dropped without waiting: the reaper owns waitpid.
            Ok(child) => Ok(Pid::from_raw(child.id() as i32)),
            Err(error) => Err(fail(errno_of(&error), format!("cannot run {program:?}"))),
        }
    }
}

/// What runs in the child between fork and exec.
struct InChild {
    /// stdin, when the program takes over the terminal's foreground.
    terminal: Option<io::Stdin>,
    credentials: Option<Credentials>,
    inherited: InheritedSignals,
}

impl InChild {
    fn run(&self) -> io::Result<()> {
        setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
        if let Some(stdin) = &self.terminal {
            // Best effort, as in tini: the program still runs if the terminal went away.
            let _ = tcsetpgrp(stdin.as_fd(), getpgrp());
        }
        if let Some(credentials) = &self.credentials {
            credentials.apply_in_child()?;
        }
        self.inherited.restore_in_child()
    }
}

fn errno_of(error: &io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

//! Builds and starts one program's process; never waits for it (the reaper does), but for a
//! child whose exec failed (see [`reap_failed`]).
//!
//! The fork and exec are written out here rather than left to std's `Command`, whose
//! machinery (an environment map, its own stdio types) is a sizeable part of a small static
//! binary. Everything the child needs is built before `fork`: argv and envp as C strings
//! with their pointer arrays, the paths to try for the program (execvp's search, done in
//! advance on the program's own PATH), the working directory, the descriptors for 0, 1 and
//! 2. After `fork` the child allocates nothing and makes only async-signal-safe system
//! calls, in this order: its stdin/stdout/stderr; its own process group; the terminal's
//! foreground (the tini-style program on a TTY only, while SIGTTOU is still blocked); the
//! working directory; the user's groups, gid and uid; the signal mask and ignored signals
//! tinysup was started with; and `execve` on each path in turn.
//!
//! A failure in the child travels back through a close-on-exec pipe: the errno and the step
//! that failed, then the child exits with 127. End of file without them means the exec
//! succeeded, so when `spawn` returns the program runs in its own process group.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr, OsString, c_char};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
use nix::sys::stat::Mode;
use nix::unistd::{
    Pid, chdir, dup2_stderr, dup2_stdin, dup2_stdout, getpgrp, getpid, isatty, pipe2, setpgid,
    tcgetpgrp, tcsetpgrp,
};

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
    /// across restarts, so nothing is lost between runs; each run gets it as its 1 or 2.
    Pipe(OwnedFd),
}

/// A program that could not be started: its status (126/127, as shells count it) and a
/// one-line reason.
#[derive(Debug)]
pub struct SpawnError {
    pub status: ExitStatus,
    pub message: String,
}

/// Extra environment and per-child settings for one spawn.
#[derive(Default)]
pub struct Extra {
    /// Set after every other variable (replaces any earlier value of the same key):
    /// NOTIFY_SOCKET, WATCHDOG_USEC.
    pub env: Vec<(OsString, OsString)>,
    /// Set WATCHDOG_PID to the child's own pid (computed in the child after fork, written
    /// into a buffer reserved before fork: no allocation in the child).
    pub watchdog_pid: bool,
}

/// Dropped from tinysup's environment: the socket of tinysup's own service manager is not
/// the programs' (tinysup gives them its own when it wants their readiness).
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// The variable [`Extra::watchdog_pid`] sets.
const WATCHDOG_PID: &str = "WATCHDOG_PID";

/// The search path when the program's environment has no PATH (glibc's and busybox's).
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What every spawn shares: the environment and signal state tinysup was started with.
pub struct Spawner {
    /// tinysup's environment without `TINYSUP_*` and `NOTIFY_SOCKET`.
    base_env: Vec<(OsString, OsString)>,
    inherited: InheritedSignals,
    /// tinysup is the foreground process group of the terminal on stdin, so the program
    /// that inherits stdin can take it over.
    owns_terminal: bool,
}

/// Where one spawn's stdin, stdout and stderr come from.
struct Streams<'a> {
    /// stdin is tinysup's own (else /dev/null).
    inherit_stdin: bool,
    stdout: &'a ChildOutput,
    stderr: &'a ChildOutput,
}

impl Spawner {
    pub fn new(
        environment: impl Iterator<Item = (OsString, OsString)>,
        inherited: InheritedSignals,
    ) -> Spawner {
        let base_env = environment
            .filter(|(key, value)| !is_tinysup_variable(key, value) && key != NOTIFY_SOCKET)
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
        extra: &Extra,
    ) -> Result<Pid, SpawnError> {
        let streams = Streams {
            inherit_stdin: spec.inherit_stdin,
            stdout,
            stderr,
        };
        self.start(spec, &spec.command, streams, extra)
    }

    /// A probe command of `spec` (readiness/health): `argv` instead of spec.command, the
    /// program's env/cwd/user/signal state, its own process group, stdin /dev/null, stdout
    /// AND stderr both to `output`, never the terminal, no Extra.
    pub fn spawn_check(
        &self,
        spec: &ProgramSpec,
        argv: &[OsString],
        output: &ChildOutput,
    ) -> Result<Pid, SpawnError> {
        let streams = Streams {
            inherit_stdin: false,
            stdout: output,
            stderr: output,
        };
        self.start(spec, argv, streams, &Extra::default())
    }

    /// The program's environment, each variable once, in order: tinysup's, the user's
    /// (HOME, USER, LOGNAME), the program's `env`, then `extra`'s.
    fn environment<'a>(
        &'a self,
        spec: &'a ProgramSpec,
        extra: &'a Extra,
    ) -> Vec<(&'a OsStr, &'a OsStr)> {
        let pairs = |list: &'a [(OsString, OsString)]| {
            list.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str()))
        };
        let user = spec.user.iter().flat_map(|run_as| {
            run_as
                .credentials
                .environment()
                .map(|(k, v)| (OsStr::new(k), v))
        });
        // WATCHDOG_PID is a placeholder here: the child writes its value (see `Watchdog`).
        let watchdog = extra
            .watchdog_pid
            .then(|| (OsStr::new(WATCHDOG_PID), OsStr::new("")));
        merge(
            pairs(&self.base_env)
                .chain(user)
                .chain(pairs(&spec.env))
                .chain(pairs(&extra.env))
                .chain(watchdog),
        )
    }

    fn start(
        &self,
        spec: &ProgramSpec,
        argv: &[OsString],
        streams: Streams<'_>,
        extra: &Extra,
    ) -> Result<Pid, SpawnError> {
        let program = argv.first().map(OsString::as_os_str).unwrap_or_default();
        let fail = |errno: Errno, what: String| SpawnError {
            status: ExitStatus::Code(if errno == Errno::ENOENT {
                EXIT_NOT_FOUND
            } else {
                EXIT_NOT_EXECUTABLE
            }),
            message: format!("{}: {what}: {}", spec.name, errno.desc()),
        };
        let cannot_run = |errno: Errno| fail(errno, format!("cannot run {program:?}"));
        let cannot_set_up_output =
            |errno: Errno| fail(errno, format!("cannot set up output for {program:?}"));
        let cwd_shown = || {
            let cwd = spec.cwd.as_deref().unwrap_or_default();
            format!("cannot change directory to {:?}", Path::new(cwd))
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
                return Err(fail(errno, cwd_shown()));
            }
        }

        // What the child will use, all of it made now.
        let env = self.environment(spec, extra);
        let path = env
            .iter()
            .find(|(key, _)| *key == "PATH")
            .map(|(_, value)| value.as_bytes());
        let candidates = c_strings(candidates(program.as_bytes(), path)).map_err(cannot_run)?;
        let argv =
            CStrings::new(argv.iter().map(|arg| arg.as_bytes().to_vec())).map_err(cannot_run)?;
        let envp = CStrings::new(env.iter().map(|(key, value)| {
            let mut entry = key.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            entry
        }))
        .map_err(cannot_run)?;
        let watchdog = extra.watchdog_pid.then(|| Watchdog {
            slot: env
                .iter()
                .position(|(key, _)| *key == WATCHDOG_PID)
                .unwrap_or_default(),
            text: Watchdog::reserve(),
        });
        let cwd = match &spec.cwd {
            Some(cwd) => Some(CString::new(cwd.as_bytes()).map_err(|_| cannot_run(Errno::EINVAL))?),
            None => None,
        };
        let wants_null = !streams.inherit_stdin
            || matches!(streams.stdout, ChildOutput::Null)
            || matches!(streams.stderr, ChildOutput::Null);
        let null = if wants_null {
            Some(open_null().map_err(cannot_set_up_output)?)
        } else {
            None
        };
        let stdio = [
            match (&null, streams.inherit_stdin) {
                (Some(fd), false) => Some(Source::Borrowed(fd.as_fd())),
                _ => None,
            },
            Source::of(streams.stdout, null.as_ref()).map_err(cannot_set_up_output)?,
            Source::of(streams.stderr, null.as_ref()).map_err(cannot_set_up_output)?,
        ];
        let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC).map_err(cannot_run)?;
        // Above 2 too, so that no dup2 onto 0, 1 or 2 replaces it.
        let report_write = owned_above_stdio(report_write).map_err(cannot_run)?;
        let mut child = InChild {
            stdio,
            // The handle is made here: std's first `stdin()` allocates, which a forked child
            // must not do.
            terminal: (streams.inherit_stdin && self.owns_terminal).then(io::stdin),
            cwd,
            credentials: spec.user.as_ref().map(|run_as| &run_as.credentials),
            inherited: self.inherited,
            candidates,
            argv,
            envp,
            watchdog,
            report: report_write.as_fd(),
        };

        let pid = fork().map_err(cannot_run)?;
        if pid.as_raw() == 0 {
            child.run();
        }
        drop(child);
        // Only the child holds the write end now: its exec or its exit ends the report.
        drop(report_write);
        let Some((errno, step)) = read_report(report_read.as_fd()) else {
            return Ok(pid);
        };
        reap_failed(pid);
        Err(match step {
            Step::Output => cannot_set_up_output(errno),
            Step::Chdir => fail(errno, cwd_shown()),
            Step::Start | Step::Exec => cannot_run(errno),
        })
    }
}

/// `layers` in order, each variable once: a later value replaces an earlier one of the same
/// name, where that one was.
fn merge<'a>(
    layers: impl IntoIterator<Item = (&'a OsStr, &'a OsStr)>,
) -> Vec<(&'a OsStr, &'a OsStr)> {
    let mut merged: Vec<(&OsStr, &OsStr)> = Vec::new();
    let mut index: HashMap<&OsStr, usize> = HashMap::new();
    for (key, value) in layers {
        match index.get(key) {
            Some(&at) => merged[at].1 = value,
            None => {
                index.insert(key, merged.len());
                merged.push((key, value));
            }
        }
    }
    merged
}

/// The paths execvp tries for `program`, in order: `program` itself when it holds a '/';
/// else `program` in each directory of `path` (the program's PATH, or [`DEFAULT_PATH`]), an
/// empty entry meaning the current directory. None for an empty name.
fn candidates(program: &[u8], path: Option<&[u8]>) -> Vec<Vec<u8>> {
    if program.is_empty() {
        return Vec::new();
    }
    if program.contains(&b'/') {
        return vec![program.to_vec()];
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(|&b| b == b':')
        .map(|dir| {
            let mut candidate = dir.to_vec();
            if !dir.is_empty() && !dir.ends_with(b"/") {
                candidate.push(b'/');
            }
            candidate.extend_from_slice(program);
            candidate
        })
        .collect()
}

fn c_strings(items: impl IntoIterator<Item = Vec<u8>>) -> Result<Vec<CString>, Errno> {
    items
        .into_iter()
        .map(|bytes| CString::new(bytes).map_err(|_| Errno::EINVAL))
        .collect()
}

/// C strings and the NULL-terminated array of pointers to them that `execve` takes.
struct CStrings {
    /// Owns what `pointers` points to (a CString's bytes do not move with it).
    _strings: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl CStrings {
    fn new(items: impl IntoIterator<Item = Vec<u8>>) -> Result<CStrings, Errno> {
        let strings = c_strings(items)?;
        let pointers = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(CStrings {
            _strings: strings,
            pointers,
        })
    }
}

/// `WATCHDOG_PID=<pid>`: a buffer reserved before fork, filled in by the child, which then
/// points its envp slot at it.
struct Watchdog {
    /// Where WATCHDOG_PID is in envp.
    slot: usize,
    text: Vec<u8>,
}

impl Watchdog {
    /// `WATCHDOG_PID=`, then room for any pid (10 digits) and the NUL.
    fn reserve() -> Vec<u8> {
        let mut text = format!("{WATCHDOG_PID}=").into_bytes();
        text.resize(text.len() + 11, 0);
        text
    }

    /// Writes `pid` after the `=`. In the child: no allocation, no panic.
    fn fill(&mut self, pid: u32) -> bool {
        match self.text.get_mut(WATCHDOG_PID.len() + 1..) {
            Some(digits) => write_decimal(digits, pid),
            None => false,
        }
    }
}

/// Writes `n` in decimal, then a NUL, at the start of `buffer`. False (nothing written) if it
/// does not fit. Runs in the forked child: no allocation, no panic.
fn write_decimal(buffer: &mut [u8], n: u32) -> bool {
    let mut len = 1;
    let mut rest = n / 10;
    while rest > 0 {
        len += 1;
        rest /= 10;
    }
    let Some((digits, after)) = buffer.split_at_mut_checked(len) else {
        return false;
    };
    let Some(nul) = after.first_mut() else {
        return false;
    };
    let mut rest = n;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    *nul = 0;
    true
}

/// A descriptor the child moves to 0, 1 or 2. Always above 2: the moves happen one after the
/// other, so a source below 3 could be replaced by an earlier move, and a dup2 of a
/// descriptor onto itself would leave its close-on-exec flag set.
enum Source<'a> {
    Borrowed(BorrowedFd<'a>),
    /// A close-on-exec copy of a descriptor that was 0, 1 or 2.
    Owned(OwnedFd),
}

impl<'a> Source<'a> {
    /// What becomes the child's stdout or stderr: `None` for tinysup's own.
    fn of(output: &'a ChildOutput, null: Option<&'a OwnedFd>) -> Result<Option<Source<'a>>, Errno> {
        Ok(match output {
            ChildOutput::Inherit => None,
            ChildOutput::Null => null.map(|fd| Source::Borrowed(fd.as_fd())),
            ChildOutput::Pipe(fd) => Some(Source::above_stdio(fd.as_fd())?),
        })
    }

    fn above_stdio(fd: BorrowedFd<'a>) -> Result<Source<'a>, Errno> {
        if fd.as_raw_fd() > 2 {
            return Ok(Source::Borrowed(fd));
        }
        copy_above_stdio(fd).map(Source::Owned)
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Source::Borrowed(fd) => *fd,
            Source::Owned(fd) => fd.as_fd(),
        }
    }
}

/// `fd` if it is above 2, else a close-on-exec copy of it that is (and `fd` is closed).
fn owned_above_stdio(fd: OwnedFd) -> Result<OwnedFd, Errno> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    copy_above_stdio(fd.as_fd())
}

/// A close-on-exec copy of `fd`, numbered 3 or more.
#[allow(unsafe_code)]
fn copy_above_stdio(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let copy = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// /dev/null, read-write (stdin, stdout and stderr can share it), close-on-exec, above 2.
fn open_null() -> Result<OwnedFd, Errno> {
    owned_above_stdio(open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Which step failed in the child: the byte after the errno in its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Step {
    /// Moving stdin/stdout/stderr into place.
    Output = 1,
    /// The working directory.
    Chdir = 2,
    /// The process group, the credentials or the signal state.
    Start = 3,
    /// Every candidate path.
    Exec = 4,
}

impl Step {
    fn from_byte(byte: u8) -> Step {
        match byte {
            1 => Step::Output,
            2 => Step::Chdir,
            3 => Step::Start,
            _ => Step::Exec,
        }
    }
}

/// Everything the forked child uses, made before fork.
struct InChild<'a> {
    /// What becomes 0, 1 and 2; `None` leaves tinysup's.
    stdio: [Option<Source<'a>>; 3],
    /// stdin, when the program takes over the terminal's foreground.
    terminal: Option<io::Stdin>,
    cwd: Option<CString>,
    credentials: Option<&'a Credentials>,
    inherited: InheritedSignals,
    /// The paths to execve, in order.
    candidates: Vec<CString>,
    argv: CStrings,
    envp: CStrings,
    watchdog: Option<Watchdog>,
    /// The write end of the report pipe.
    report: BorrowedFd<'a>,
}

impl InChild<'_> {
    /// The child's side: never returns. After fork only async-signal-safe system calls, no
    /// allocation, no panic.
    fn run(&mut self) -> ! {
        let (step, errno) = match self.steps() {
            Ok(never) => match never {},
            Err(failure) => failure,
        };
        let e = (errno as i32).to_ne_bytes();
        // Best effort: a parent that cannot read it sees end of file and a child exiting 127.
        let _ = nix::unistd::write(self.report, &[e[0], e[1], e[2], e[3], step as u8]);
        exit_now(127)
    }

    /// The steps up to and including exec; returns only on failure.
    fn steps(&mut self) -> Result<std::convert::Infallible, (Step, Errno)> {
        let at = |step: Step| move |errno: Errno| (step, errno);
        let io_at = |step: Step| move |error: io::Error| (step, errno_of(&error));
        let [stdin, stdout, stderr] = &self.stdio;
        // Every source is above 2 (see `Source`): each dup2 makes a new descriptor, without
        // close-on-exec.
        if let Some(source) = stdin {
            dup2_stdin(source.as_fd()).map_err(at(Step::Output))?;
        }
        if let Some(source) = stdout {
            dup2_stdout(source.as_fd()).map_err(at(Step::Output))?;
        }
        if let Some(source) = stderr {
            dup2_stderr(source.as_fd()).map_err(at(Step::Output))?;
        }
        setpgid(Pid::from_raw(0), Pid::from_raw(0)).map_err(at(Step::Start))?;
        if let Some(stdin) = &self.terminal {
            // Best effort, as in tini: the program still runs if the terminal went away.
            let _ = tcsetpgrp(stdin.as_fd(), getpgrp());
        }
        if let Some(cwd) = &self.cwd {
            chdir(cwd.as_c_str()).map_err(at(Step::Chdir))?;
        }
        if let Some(credentials) = self.credentials {
            credentials.apply_in_child().map_err(io_at(Step::Start))?;
        }
        self.inherited
            .restore_in_child()
            .map_err(io_at(Step::Start))?;
        if let Some(watchdog) = &mut self.watchdog {
            if watchdog.fill(getpid().as_raw() as u32) {
                if let Some(slot) = self.envp.pointers.get_mut(watchdog.slot) {
                    *slot = watchdog.text.as_ptr().cast();
                }
            }
        }
        // execvp's search: a missing file or directory moves on to the next path; EACCES is
        // remembered and said if nothing else worked; anything else stops. No fallback to
        // /bin/sh on ENOEXEC (std's and musl's execvp have none either).
        let mut last = Errno::ENOENT;
        let mut denied = false;
        for path in &self.candidates {
            match execve(path, &self.argv, &self.envp) {
                missing @ (Errno::ENOENT | Errno::ENOTDIR) => last = missing,
                Errno::EACCES => denied = true,
                other => return Err((Step::Exec, other)),
            }
        }
        Err((Step::Exec, if denied { Errno::EACCES } else { last }))
    }
}

/// execve(2); returns only on failure, with its errno.
#[allow(unsafe_code)]
fn execve(path: &CStr, argv: &CStrings, envp: &CStrings) -> Errno {
    // SAFETY: `path` is a NUL-terminated string; both arrays are NULL-terminated arrays of
    // pointers to NUL-terminated strings, all alive in this process until exec replaces it.
    unsafe {
        libc::execve(
            path.as_ptr(),
            argv.pointers.as_ptr(),
            envp.pointers.as_ptr(),
        )
    };
    Errno::last()
}

/// fork(2). The child gets `Pid` 0.
#[allow(unsafe_code)]
fn fork() -> Result<Pid, Errno> {
    // SAFETY: the child only runs `InChild::run`, which allocates nothing, makes only
    // async-signal-safe system calls, and ends in exec or `_exit`: it never returns into
    // code that assumes the parent's threads or locks.
    Errno::result(unsafe { libc::fork() }).map(Pid::from_raw)
}

/// _exit(2): the child ends without running destructors or exit handlers that belong to
/// tinysup's own state (buffered output would be written twice).
#[allow(unsafe_code)]
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes an integer and does not return.
    unsafe { libc::_exit(code) }
}

/// Reads the child's report: `None` (end of file, nothing said) once its exec succeeded, else
/// the errno and the step that failed.
fn read_report(fd: BorrowedFd<'_>) -> Option<(Errno, Step)> {
    let mut report = [0u8; 5];
    let mut filled = 0;
    while filled < report.len() {
        match nix::unistd::read(fd, &mut report[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::EINTR) => {}
            // Not expected of a pipe; taken as nothing said, like end of file.
            Err(_) => break,
        }
    }
    if filled < report.len() {
        // A child that dies before it can report (killed at once) is the reaper's, as any.
        return None;
    }
    let errno = i32::from_ne_bytes([report[0], report[1], report[2], report[3]]);
    Some((Errno::from_raw(errno), Step::from_byte(report[4])))
}

/// Reaps a child that reported an exec failure.
///
/// The one `waitpid` outside the reaper: it waits for this exact pid, a child that has
/// already written its report and is exiting with 127, so it cannot block for long nor take
/// anyone else's status. The reaper never sees this pid.
fn reap_failed(pid: Pid) {
    while nix::sys::wait::waitpid(pid, None) == Err(Errno::EINTR) {}
}

fn errno_of(error: &io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&'static str, &'static str)]) -> Vec<(&'static OsStr, &'static OsStr)> {
        pairs
            .iter()
            .map(|(k, v)| (OsStr::new(*k), OsStr::new(*v)))
            .collect()
    }

    #[test]
    fn a_later_variable_replaces_an_earlier_one_where_it_was() {
        let merged = merge(os(&[
            ("PATH", "/bin"),
            ("HOME", "/root"),
            ("A", "1"),
            ("HOME", "/home/app"),
            ("B", "2"),
            ("A", "3"),
        ]));
        assert_eq!(
            merged,
            os(&[
                ("PATH", "/bin"),
                ("HOME", "/home/app"),
                ("A", "3"),
                ("B", "2")
            ])
        );
    }

    fn spec_with_env(env: &[(&str, &str)]) -> ProgramSpec {
        let mut spec = ProgramSpec::new("p", vec!["true".into()]);
        spec.env = env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        spec
    }

    fn spawner(env: &[(&str, &str)]) -> Spawner {
        Spawner::new(
            env.iter().map(|(k, v)| (k.into(), v.into())),
            InheritedSignals::capture().unwrap(),
        )
    }

    #[test]
    fn the_environment_in_layers() {
        let spawner = spawner(&[
            ("PATH", "/bin"),
            ("NOTIFY_SOCKET", "/run/systemd/notify"),
            ("TINYSUP_LOG", "debug"),
            ("WATCHDOG_USEC", "1"),
            ("KEEP", "base"),
        ]);
        let spec = spec_with_env(&[("KEEP", "spec"), ("NEW", "spec")]);
        let extra = Extra {
            env: vec![
                ("NOTIFY_SOCKET".into(), "/run/tinysup/p".into()),
                ("WATCHDOG_USEC".into(), "5000000".into()),
            ],
            watchdog_pid: true,
        };
        assert_eq!(
            spawner.environment(&spec, &extra),
            os(&[
                ("PATH", "/bin"),
                ("WATCHDOG_USEC", "5000000"),
                ("KEEP", "spec"),
                ("NEW", "spec"),
                ("NOTIFY_SOCKET", "/run/tinysup/p"),
                ("WATCHDOG_PID", ""),
            ]),
            "tinysup's own NOTIFY_SOCKET and TINYSUP_* are never passed on"
        );
        assert_eq!(
            spawner.environment(&spec, &Extra::default()),
            os(&[
                ("PATH", "/bin"),
                ("WATCHDOG_USEC", "1"),
                ("KEEP", "spec"),
                ("NEW", "spec"),
            ])
        );
    }

    fn strings(list: Vec<Vec<u8>>) -> Vec<String> {
        list.into_iter()
            .map(|c| String::from_utf8(c).unwrap())
            .collect()
    }

    #[test]
    fn the_paths_tried_for_a_program() {
        assert_eq!(
            strings(candidates(b"ls", Some(b"/a:/b/::c"))),
            ["/a/ls", "/b/ls", "ls", "c/ls"]
        );
        assert_eq!(strings(candidates(b"./x", Some(b"/a"))), ["./x"]);
        assert_eq!(strings(candidates(b"/bin/sh", None)), ["/bin/sh"]);
        assert_eq!(strings(candidates(b"d/x", None)), ["d/x"]);
        assert_eq!(
            strings(candidates(b"ls", None)),
            [
                "/usr/local/sbin/ls",
                "/usr/local/bin/ls",
                "/usr/sbin/ls",
                "/usr/bin/ls",
                "/sbin/ls",
                "/bin/ls"
            ]
        );
        assert_eq!(strings(candidates(b"ls", Some(b""))), ["ls"]);
        assert!(candidates(b"", None).is_empty());
    }

    #[test]
    fn decimal_without_allocation() {
        let mut buffer = [b'x'; 11];
        assert!(write_decimal(&mut buffer, 4_294_967_295));
        assert_eq!(&buffer, b"4294967295\0");
        let mut buffer = [b'x'; 4];
        assert!(write_decimal(&mut buffer, 0));
        assert_eq!(&buffer, b"0\0xx");
        assert!(write_decimal(&mut buffer, 123));
        assert_eq!(&buffer, b"123\0");
        assert!(!write_decimal(&mut buffer, 1234), "no room for the NUL");
        assert_eq!(&buffer, b"123\0");

        let mut watchdog = Watchdog {
            slot: 0,
            text: Watchdog::reserve(),
        };
        assert!(watchdog.fill(u32::MAX));
        assert_eq!(watchdog.text, b"WATCHDOG_PID=4294967295\0");
    }

    /// Waits for `pid` (a child of this test process) and returns its exit code.
    fn exit_code(pid: Pid) -> i32 {
        match nix::sys::wait::waitpid(pid, None).unwrap() {
            nix::sys::wait::WaitStatus::Exited(_, code) => code,
            other => panic!("{other:?}"),
        }
    }

    fn read_all(fd: OwnedFd) -> String {
        let mut text = String::new();
        io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text).unwrap();
        text
    }

    #[test]
    fn a_program_gets_its_pid_in_watchdog_pid_and_its_own_group() {
        let spawner = spawner(&[("PATH", "/usr/bin:/bin")]);
        let mut spec = spec_with_env(&[]);
        spec.command = vec![
            "sh".into(),
            "-c".into(),
            r#"test "$WATCHDOG_PID" = $$ && test "$(cut -d' ' -f5 /proc/$$/stat)" = $$ && test "$NOTIFY_SOCKET" = /n"#
                .into(),
        ];
        let extra = Extra {
            env: vec![("NOTIFY_SOCKET".into(), "/n".into())],
            watchdog_pid: true,
        };
        let out = ChildOutput::Null;
        let pid = spawner.spawn(&spec, &out, &out, &extra).unwrap();
        assert_eq!(exit_code(pid), 0);
    }

    #[test]
    fn a_check_writes_both_streams_to_its_output() {
        let spawner = spawner(&[("PATH", "/usr/bin:/bin"), ("WHO", "base")]);
        let mut spec = spec_with_env(&[("WHO", "program")]);
        spec.cwd = Some("/tmp".into());
        let (read, write) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let output = ChildOutput::Pipe(write);
        let argv: Vec<OsString> = ["sh", "-c", "echo out $WHO $(pwd); echo err >&2; cat"]
            .iter()
            .map(OsString::from)
            .collect();
        let pid = spawner.spawn_check(&spec, &argv, &output).unwrap();
        drop(output);
        assert_eq!(exit_code(pid), 0, "stdin is /dev/null: cat ends at once");
        assert_eq!(read_all(read), "out program /tmp\nerr\n");
    }

    #[test]
    fn exec_failures_are_reported_and_reaped() {
        let spawner = spawner(&[("PATH", "/nonexistent:/etc")]);
        let out = ChildOutput::Null;
        let run = |command: &str| {
            let mut spec = spec_with_env(&[]);
            spec.command = vec![command.into()];
            spawner.spawn(&spec, &out, &out, &Extra::default())
        };
        let error = run("no-such-program-xyz").unwrap_err();
        assert_eq!(error.status, ExitStatus::Code(127));
        assert_eq!(
            error.message,
            "p: cannot run \"no-such-program-xyz\": No such file or directory"
        );
        // In the PATH but not executable: EACCES, said once nothing else worked.
        let error = run("passwd").unwrap_err();
        assert_eq!(error.status, ExitStatus::Code(126));
        assert_eq!(error.message, "p: cannot run \"passwd\": Permission denied");
        let error = run("").unwrap_err();
        assert_eq!(error.status, ExitStatus::Code(127));
    }
}

//! Drives the real tinysup binary as a separate process: as PID 1 of a fresh PID namespace
//! (`unshare --pid --fork --mount-proc`, signalled from outside it the way `docker stop`
//! does) or as a subreaper. Tests synchronise on lines the fixtures print; every wait has a
//! timeout; dropping a run SIGKILLs everything it started.

#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The binary under test: `TINYSUP_TEST_BIN` if set (CI points it at the static release
/// build), else the one cargo built for the tests.
pub fn tinysup_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::var("TINYSUP_TEST_BIN")
            .map(|p| {
                std::fs::canonicalize(&p).unwrap_or_else(|e| panic!("TINYSUP_TEST_BIN={p}: {e}"))
            })
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tinysup").to_string())
    })
}

/// A file in tests/fixtures.
pub fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    path.to_string_lossy().into_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PID 1 of a new PID namespace.
    Pid1,
    /// A plain child of the test, registered as a subreaper by tinysup itself.
    Subreaper,
}

/// True if PID namespaces can be made here. When they cannot: with CI=true this panics (the
/// test fails); otherwise it says so loudly on stderr and the caller skips.
pub fn pid_namespaces_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = AVAILABLE.get_or_init(|| {
        match Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .output()
        {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
            Err(error) => Err(error.to_string()),
        }
    });
    match result {
        Ok(()) => true,
        Err(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "CI=true, but a PID namespace cannot be made (unshare --pid --fork --mount-proc: {reason})"
            )
        }
        Err(reason) => {
            eprintln!(
                "SKIPPED: this test needs a PID namespace (run as root); unshare said: {reason}. \
                 With CI=true this is a failure."
            );
            false
        }
    }
}

/// A command for `program` with none of the test's own `TINYSUP_*` and `TINI_*` variables
/// (CI sets `TINYSUP_TEST_BIN`; tinysup rightly rejects variables it does not know).
pub fn clean_command(program: &str) -> Command {
    let mut command = Command::new(program);
    without_tinysup_variables(&mut command);
    command
}

fn without_tinysup_variables(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let bytes = key.as_encoded_bytes();
        if bytes.starts_with(b"TINYSUP_") || bytes.starts_with(b"TINI_") {
            command.env_remove(key);
        }
    }
}

/// Kills these processes when dropped: cleanup that also happens when a test fails.
pub struct KillOnDrop(pub Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            kill(pid, libc::SIGKILL);
        }
    }
}

/// A tinysup command line being prepared.
pub struct Tinysup {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    current_dir: Option<PathBuf>,
    /// Signals tinysup is started with (ignored, blocked).
    signal_state: Option<(Vec<i32>, Vec<i32>)>,
    /// RLIMIT_SIGPENDING for tinysup: how many signals may queue for it.
    sigpending: Option<u64>,
    stdout: StdoutReader,
    /// Nobody reads tinysup's stderr: the pipe fills and stays full.
    stderr_stalled: bool,
}

/// Who reads tinysup's stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdoutReader {
    /// The test, line by line.
    Test,
    /// Nobody: the pipe fills up and stays full (a stalled log consumer).
    Stalled,
    /// Nobody: the read end is closed at once (writes get EPIPE).
    Closed,
}

/// Starts building a tinysup run with these arguments.
pub fn tinysup<I, S>(args: I) -> Tinysup
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    Tinysup {
        args: args.into_iter().map(Into::into).collect(),
        env: Vec::new(),
        stdin: None,
        current_dir: None,
        signal_state: None,
        sigpending: None,
        stdout: StdoutReader::Test,
        stderr_stalled: false,
    }
}

impl Tinysup {
    pub fn env(mut self, key: &str, value: &str) -> Tinysup {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Feeds these bytes on stdin (then closes it). Default: /dev/null.
    pub fn stdin(mut self, bytes: &[u8]) -> Tinysup {
        self.stdin = Some(bytes.to_vec());
        self
    }

    /// Sets who reads tinysup's stdout.
    pub fn stdout(mut self, reader: StdoutReader) -> Tinysup {
        self.stdout = reader;
        self
    }

    /// Nobody reads tinysup's stderr: its pipe fills and stays full (a stalled log reader).
    pub fn stderr_stalled(mut self) -> Tinysup {
        self.stderr_stalled = true;
        self
    }

    /// Starts tinysup with these signals ignored and these blocked, as a parent may.
    pub fn started_with(mut self, ignored: &[i32], blocked: &[i32]) -> Tinysup {
        self.signal_state = Some((ignored.to_vec(), blocked.to_vec()));
        self
    }

    /// Lets up to `limit` signals queue for tinysup (RLIMIT_SIGPENDING; capped at the hard
    /// limit).
    pub fn sigpending(mut self, limit: u64) -> Tinysup {
        self.sigpending = Some(limit);
        self
    }

    pub fn current_dir(mut self, dir: &str) -> Tinysup {
        self.current_dir = Some(PathBuf::from(dir));
        self
    }

    /// Runs as PID 1 of a new PID namespace; `None` (after a loud message) where that is
    /// impossible and CI is not set.
    pub fn pid1(self) -> Option<Running> {
        pid_namespaces_available().then(|| self.start(Mode::Pid1))
    }

    /// Runs as a subreaper (a plain child of the test).
    pub fn subreaper(self) -> Running {
        self.start(Mode::Subreaper)
    }

    /// Runs in `mode`.
    pub fn start(self, mode: Mode) -> Running {
        let mut command = match mode {
            Mode::Pid1 => {
                let mut c = Command::new("unshare");
                c.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
                    .arg(tinysup_path());
                c
            }
            Mode::Subreaper => Command::new(tinysup_path()),
        };
        command.args(&self.args);
        without_tinysup_variables(&mut command);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some((ignored, blocked)) = self.signal_state {
            set_signal_state(&mut command, ignored, blocked);
        }
        if let Some(limit) = self.sigpending {
            set_sigpending(&mut command, limit);
        }
        let mut child = command.spawn().expect("start tinysup");
        let pid = child.id() as i32;
        let (sender, events) = channel();
        if let Some(bytes) = self.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let mut stalled = None;
        match self.stdout {
            StdoutReader::Test => read_lines(stdout, Stream::Stdout, sender.clone()),
            StdoutReader::Stalled => {
                stalled = Some(stdout);
                let _ = sender.send(Output::Closed);
            }
            StdoutReader::Closed => {
                drop(stdout);
                let _ = sender.send(Output::Closed);
            }
        }
        let stderr = child.stderr.take().expect("stderr");
        let mut stalled_stderr = None;
        if self.stderr_stalled {
            stalled_stderr = Some(stderr);
            let _ = sender.send(Output::Closed);
        } else {
            read_lines(stderr, Stream::Stderr, sender.clone());
        }
        let sender_for_resume = sender.clone();
        thread::spawn(move || {
            let status = child.wait().expect("wait for tinysup");
            let _ = sender.send(Output::Exited(status));
        });
        Running {
            pid,
            mode,
            events,
            transcript: Vec::new(),
            consumed: Vec::new(),
            exit: None,
            closed: 0,
            streams_to_close: 2,
            resume_sender: stalled.is_some().then(|| sender_for_resume.clone()),
            _stalled: stalled,
            _stalled_stderr: stalled_stderr,
        }
    }

    /// Runs as a subreaper to completion and returns (exit, stdout, stderr).
    pub fn output(self) -> (Exit, String, String) {
        self.subreaper().finish()
    }
}

/// Makes `command` start with `ignored` ignored and `blocked` blocked.
#[allow(unsafe_code)]
fn set_signal_state(command: &mut Command, ignored: Vec<i32>, blocked: Vec<i32>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the forked child before exec; signal, sigemptyset, sigaddset and
    // sigprocmask are async-signal-safe and the set is a local.
    unsafe {
        command.pre_exec(move || {
            for &signal in &ignored {
                libc::signal(signal, libc::SIG_IGN);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in &blocked {
                libc::sigaddset(&mut set, signal);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
}

/// Makes `command` start with RLIMIT_SIGPENDING at `limit` (at most the hard limit).
#[allow(unsafe_code)]
fn set_sigpending(command: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the forked child before exec; getrlimit and setrlimit are
    // async-signal-safe system calls on a local struct.
    unsafe {
        command.pre_exec(move || {
            let mut current: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_SIGPENDING, &mut current);
            current.rlim_cur = limit.min(current.rlim_max);
            libc::setrlimit(libc::RLIMIT_SIGPENDING, &current);
            Ok(())
        });
    }
}

enum Output {
    Line(Stream, String),
    Closed,
    Exited(ExitStatus),
}

fn read_lines(pipe: impl Read + Send + 'static, stream: Stream, sender: Sender<Output>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line)
                        .trim_end_matches('\n')
                        .to_string();
                    if sender.send(Output::Line(stream, text)).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sender.send(Output::Closed);
    });
}

/// How the tinysup process (or, as PID 1, `unshare`, which passes it on) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Exit {
        match status.code() {
            Some(code) => Exit::Code(code),
            None => Exit::Signal(status.signal().unwrap_or(0)),
        }
    }
}

/// A tinysup that is running (or has ended).
pub struct Running {
    /// The process the test started: `unshare` (PID 1 mode) or tinysup.
    pid: i32,
    mode: Mode,
    events: Receiver<Output>,
    transcript: Vec<(Stream, String)>,
    /// Which lines of `transcript` a wait has matched: a line satisfies at most one wait.
    consumed: Vec<bool>,
    exit: Option<Exit>,
    /// Output streams that reached end of file.
    closed: u8,
    /// Output streams that must reach end of file (or be given up) before [`Running::wait`]
    /// is done: one more when the test resumes reading a stalled stdout.
    streams_to_close: u8,
    /// For the reader of a stalled stdout the test resumes.
    resume_sender: Option<Sender<Output>>,
    /// tinysup's stdout, held open and never read (`StdoutReader::Stalled`).
    _stalled: Option<std::process::ChildStdout>,
    /// tinysup's stderr, held open and never read (`Tinysup::stderr_stalled`).
    _stalled_stderr: Option<std::process::ChildStderr>,
}

impl Running {
    /// tinysup's pid, as seen from the test (outside the namespace).
    pub fn pid(&self) -> i32 {
        match self.mode {
            Mode::Subreaper => self.pid,
            Mode::Pid1 => {
                let deadline = Instant::now() + TIMEOUT;
                loop {
                    if let Some(&child) = children(self.pid).first() {
                        return child;
                    }
                    assert!(Instant::now() < deadline, "unshare has not started tinysup");
                    thread::yield_now();
                }
            }
        }
    }

    /// Sends `signal` to tinysup from outside.
    pub fn signal(&self, signal: i32) {
        kill(self.pid(), signal);
    }

    /// The process group of program `name`, from tinysup's "NAME: started (pid N)" message
    /// (the pid of a program is its group id). Waits for that message.
    pub fn program_group(&mut self, name: &str) -> i32 {
        let line = self.expect_on(Stream::Stderr, &format!("{name}: started (pid "));
        line.rsplit("(pid ")
            .next()
            .and_then(|p| p.trim_end_matches(')').parse().ok())
            .expect("a pid")
    }

    /// Bytes waiting in the stalled stdout pipe (`StdoutReader::Stalled`).
    pub fn stalled_pipe_bytes(&self) -> usize {
        let Some(pipe) = &self._stalled else { return 0 };
        let mut bytes: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int, to `bytes`, which outlives the call.
        #[allow(unsafe_code)]
        unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(pipe),
                libc::FIONREAD,
                &mut bytes,
            );
        }
        bytes as usize
    }

    /// The log consumer comes back: the test reads the stalled stdout from now on.
    pub fn resume_stdout(&mut self) {
        if let (Some(pipe), Some(sender)) = (self._stalled.take(), &self.resume_sender) {
            self.streams_to_close += 1;
            read_lines(pipe, Stream::Stdout, sender.clone());
        }
    }

    /// Everything seen so far, one line each, as `stdout: text` / `stderr: text`.
    pub fn transcript(&self) -> String {
        self.transcript
            .iter()
            .map(|(stream, line)| {
                format!(
                    "{}: {line}\n",
                    if *stream == Stream::Stdout {
                        "stdout"
                    } else {
                        "stderr"
                    }
                )
            })
            .collect()
    }

    /// Lines seen so far on `stream`.
    pub fn lines(&self, stream: Stream) -> Vec<String> {
        self.transcript
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.clone())
            .collect()
    }

    fn receive(&mut self, deadline: Instant) -> Result<(), RecvTimeoutError> {
        let output = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        match output {
            Output::Line(stream, text) => self.transcript.push((stream, text)),
            Output::Closed => self.closed += 1,
            Output::Exited(status) => self.exit = Some(status.into()),
        }
        Ok(())
    }

    /// Waits for a line on either stream containing `text`; returns it.
    pub fn expect(&mut self, text: &str) -> String {
        self.expect_line(None, |line| line.contains(text), text)
    }

    /// Waits for a line on `stream` containing `text`.
    pub fn expect_on(&mut self, stream: Stream, text: &str) -> String {
        self.expect_line(Some(stream), |line| line.contains(text), text)
    }

    /// Waits for a line (on `stream`, or either) that satisfies `wanted`. Lines already
    /// seen count, each at most once.
    pub fn expect_line(
        &mut self,
        stream: Option<Stream>,
        wanted: impl Fn(&str) -> bool,
        what: &str,
    ) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut checked = 0;
        loop {
            self.consumed.resize(self.transcript.len(), false);
            while checked < self.transcript.len() {
                let (s, line) = &self.transcript[checked];
                if !self.consumed[checked] && stream.is_none_or(|want| want == *s) && wanted(line) {
                    // Consumed: the same line does not satisfy the next wait.
                    self.consumed[checked] = true;
                    return line.clone();
                }
                checked += 1;
            }
            if let Err(error) = self.receive(deadline) {
                panic!(
                    "no line with {what:?} ({error:?}); tinysup printed:\n{}",
                    self.transcript()
                );
            }
        }
    }

    /// Waits until tinysup has exited and both its output streams are closed; returns how
    /// it ended.
    pub fn wait(&mut self) -> Exit {
        let deadline = Instant::now() + TIMEOUT;
        while self.exit.is_none() || self.closed < self.streams_to_close {
            if let Err(error) = self.receive(deadline) {
                if self.exit.is_some() {
                    // A process tinysup left behind (as a subreaper) still holds the pipes.
                    break;
                }
                panic!(
                    "tinysup did not exit ({error:?}); it printed:\n{}",
                    self.transcript()
                );
            }
        }
        self.exit.expect("exit status")
    }

    /// True if tinysup is still running after everything received so far.
    pub fn has_exited(&mut self) -> bool {
        while let Ok(output) = self.events.try_recv() {
            match output {
                Output::Line(stream, text) => self.transcript.push((stream, text)),
                Output::Closed => self.closed += 1,
                Output::Exited(status) => self.exit = Some(status.into()),
            }
        }
        self.exit.is_some()
    }

    /// Waits for the end and returns (exit, stdout, stderr), each stream as lines joined by \n.
    pub fn finish(mut self) -> (Exit, String, String) {
        let exit = self.wait();
        let join = |stream| {
            self.lines(stream)
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        };
        (exit, join(Stream::Stdout), join(Stream::Stderr))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.exit.is_some() && self.mode == Mode::Pid1 {
            return;
        }
        // Kill from the leaves up, so nothing is left running after a failed test.
        let mut all = descendants(self.pid);
        all.push(self.pid);
        for pid in all {
            kill(pid, libc::SIGKILL);
        }
    }
}

/// Sends a signal to a host pid; a process already gone is fine.
pub fn kill(pid: i32, signal: i32) {
    // SAFETY: kill(2) touches no memory.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, signal);
    }
}

/// True if any process is left in process group `pgid`.
pub fn group_exists(pgid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks; it touches no memory.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-pgid, 0) == 0
    }
}

/// The direct children of `pid`, from /proc.
pub fn children(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let path = task.path().join("children");
            if let Ok(text) = std::fs::read_to_string(path) {
                found.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
        }
    }
    found
}

/// Every descendant of `pid`, deepest last.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for child in children(p) {
            if seen.insert(child) {
                all.push(child);
                queue.push(child);
            }
        }
    }
    all
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat.
pub fn stat_field(pid: i32, n: usize) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after_name = &text[text.rfind(')')? + 2..];
    after_name.split_whitespace().nth(n - 3).map(str::to_string)
}

/// The peak resident memory in KiB (VmHWM) of `pid` when it ends: read until the process is
/// gone (a high-water mark only grows, so the last reading is the peak).
pub fn peak_memory_until_exit(pid: i32) -> u64 {
    let mut peak = 0;
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        let now = peak_memory_kib(pid);
        if now == 0 {
            break;
        }
        peak = peak.max(now);
        thread::sleep(Duration::from_millis(2));
    }
    peak
}

/// The peak resident memory of `pid` in KiB (VmHWM).
pub fn peak_memory_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The zombies among the descendants of `pid`.
pub fn zombies_under(pid: i32) -> Vec<i32> {
    descendants(pid)
        .into_iter()
        .filter(|&p| stat_field(p, 3).as_deref() == Some("Z"))
        .collect()
}

/// The text of a `prefix` line, without `name | `.
pub fn body(line: &str) -> &str {
    line.split_once(" | ").map_or(line, |(_, text)| text)
}

/// The bodies of the lines of `text`.
pub fn bodies(text: &str) -> Vec<String> {
    text.lines().map(|l| body(l).to_string()).collect()
}

/// A file in the system's temporary directory, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn new(name: &str, contents: &str) -> TempFile {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tinysup-test-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Waits until `condition` holds, checking as often as the scheduler lets us; panics with
/// `what` after [`TIMEOUT`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

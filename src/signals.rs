//! Signals: the [`Signal`] type and its names, what each signal means to tinysup
//! ([`classify`]), the self-pipe they arrive on ([`SignalPipe`]), sending them ([`send`]),
//! and the signal state tinysup was started with ([`InheritedSignals`]), which every program
//! gets back before `exec`.
//!
//! The handler only records: it sets a flag for its signal and writes one byte to a
//! self-pipe. The event loop drains the pipe first, then acts. (It is installed with one
//! `sigaction` per signal rather than through signal-hook: its registry copies its table for
//! each of the ~60 signals, which tripled tinysup's start-up time, and its iterator drains
//! the pipe until empty, which a sustained signal storm never allows.) Nothing here decides what to do about a
//! signal beyond its classification.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{Pid, pipe2};

/// A signal number, including the real-time signals (which `nix::sys::signal::Signal`
/// cannot represent).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

impl Signal {
    pub const HUP: Signal = Signal(libc::SIGHUP);
    pub const INT: Signal = Signal(libc::SIGINT);
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    pub const KILL: Signal = Signal(libc::SIGKILL);
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    pub const PIPE: Signal = Signal(libc::SIGPIPE);
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const CHLD: Signal = Signal(libc::SIGCHLD);
    pub const TTIN: Signal = Signal(libc::SIGTTIN);
    pub const TTOU: Signal = Signal(libc::SIGTTOU);

    /// The signal with this number, if it is one a process can be sent on Linux: 1..=31 and
    /// the real-time range libc leaves to applications (SIGRTMIN..=SIGRTMAX).
    pub fn from_number(number: i32) -> Option<Signal> {
        let valid = (1..=31).contains(&number) || (rt_min()..=rt_max()).contains(&number);
        valid.then_some(Signal(number))
    }

    /// The signal number.
    pub const fn number(self) -> i32 {
        self.0
    }

    /// Parses a name with or without `SIG` (any case), `RTMIN+N` / `RTMAX-N`, or a number.
    pub fn parse(text: &str) -> Result<Signal, String> {
        let trimmed = text.trim();
        if let Ok(number) = trimmed.parse::<i32>() {
            return Signal::from_number(number)
                .ok_or_else(|| format!("{number} is not a valid signal number"));
        }
        let upper = trimmed.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        let found = if let Some(offset) = bare.strip_prefix("RTMIN") {
            rt_offset(offset, '+').map(|k| rt_min() + k)
        } else if let Some(offset) = bare.strip_prefix("RTMAX") {
            rt_offset(offset, '-').map(|k| rt_max() - k)
        } else {
            (1..=31).find(|&n| Signal(n).standard_name() == Some(bare))
        };
        found.and_then(Signal::from_number).ok_or_else(|| {
            format!("unknown signal {text:?} (use a name like TERM or SIGHUP, or a number)")
        })
    }

    /// The name without `SIG` for signals 1..=31 ("TERM"), `None` for the others.
    fn standard_name(self) -> Option<&'static str> {
        let signal = nix::sys::signal::Signal::try_from(self.0).ok()?;
        signal.as_str().strip_prefix("SIG")
    }
}

/// Parses the `+N` / `-N` after RTMIN / RTMAX (an empty offset is 0).
fn rt_offset(text: &str, sign: char) -> Option<i32> {
    if text.is_empty() {
        return Some(0);
    }
    text.strip_prefix(sign)?
        .parse::<i32>()
        .ok()
        .filter(|k| *k >= 0)
}

fn rt_min() -> i32 {
    libc::SIGRTMIN()
}

fn rt_max() -> i32 {
    libc::SIGRTMAX()
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.standard_name() {
            Some(name) => write!(f, "SIG{name}"),
            None if self.0 >= rt_min() => write!(f, "SIGRTMIN+{}", self.0 - rt_min()),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a signal received by tinysup means (the signal table in the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// TERM, INT: graceful shutdown; a second one forces it.
    Shutdown,
    /// Every other catchable signal: passed on to the running programs.
    Forward,
    /// CHLD: something is ready to be reaped.
    Reap,
}

/// Classifies a signal tinysup caught.
pub fn classify(signal: Signal) -> Disposition {
    match signal {
        Signal::TERM | Signal::INT => Disposition::Shutdown,
        Signal::CHLD => Disposition::Reap,
        _ => Disposition::Forward,
    }
}

/// Signals tinysup sets to "ignored" for itself: a background process group reading or
/// writing the terminal must not stop PID 1.
const IGNORED: [Signal; 2] = [Signal::TTIN, Signal::TTOU];

/// Signals tinysup leaves alone. KILL and STOP cannot be caught. ILL, FPE, SEGV and BUS
/// report a fault in tinysup itself: a handler that returns would re-run the faulting
/// instruction forever, so they keep their default action (as in tini).
const UNCAUGHT: [i32; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGBUS,
];

/// Every signal tinysup installs a handler for.
fn caught_signals() -> Vec<i32> {
    (1..=31)
        .chain(rt_min()..=rt_max())
        .filter(|n| !UNCAUGHT.contains(n) && !IGNORED.iter().any(|s| s.0 == *n))
        .collect()
}

/// What the signal handler records, in statics: a handler cannot be handed anything else.
/// One flag per signal number (1..=64), set by the handler, cleared by [`SignalPipe::drain`].
static ARRIVED: [AtomicBool; 65] = [const { AtomicBool::new(false) }; 65];
/// The write end of the self-pipe (non-blocking): one byte per signal wakes the loop.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// tinysup's own pid, to tell the SIGPIPEs it causes itself.
static OWN_PID: AtomicI32 = AtomicI32::new(0);
/// Set once [`SignalPipe::install`] has run: there is one self-pipe per process.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// How many bytes one [`SignalPipe::drain`] takes from the self-pipe at most. The pipe need
/// not be emptied: bytes left behind only wake the loop once more. A bounded read keeps a
/// storm of signals from holding the loop in the drain forever (signal-hook's iterator reads
/// until the pipe is empty, which a sustained storm never lets happen).
const DRAIN_CHUNK: usize = 512;

/// The self-pipe signals arrive on: poll [`SignalPipe::fd`], then call [`SignalPipe::drain`].
pub struct SignalPipe {
    read: OwnedFd,
    /// Kept open for the handler, which writes to it by number ([`WAKE_FD`]).
    _wake: OwnedFd,
}

impl SignalPipe {
    /// Ignores TTIN and TTOU, installs the handler for every other catchable signal, and
    /// unblocks them all (a parent may have started tinysup with signals blocked; programs
    /// get that mask back from [`InheritedSignals`]). Must run before the first spawn, once.
    pub fn install() -> io::Result<SignalPipe> {
        if INSTALLED.swap(true, Ordering::AcqRel) {
            return Err(io::Error::other("the signal pipe is already installed"));
        }
        for signal in IGNORED {
            set_disposition(signal.0, libc::SIG_IGN)?;
        }
        let (read, wake) = pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        WAKE_FD.store(wake.as_raw_fd(), Ordering::Release);
        OWN_PID.store(std::process::id() as i32, Ordering::Release);
        for number in caught_signals() {
            install_handler(number)?;
        }
        set_mask(&empty_sigset()?)?;
        Ok(SignalPipe { read, _wake: wake })
    }

    /// The read end of the self-pipe, for poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Takes a bounded chunk from the pipe, then returns the signals that arrived since the
    /// last call, each once, lowest number first.
    pub fn drain(&mut self) -> Vec<Signal> {
        let mut chunk = [0u8; DRAIN_CHUNK];
        // Errors (EAGAIN: empty) do not matter: the flags are the record.
        let _ = nix::unistd::read(&self.read, &mut chunk);
        (1..ARRIVED.len())
            .filter(|&n| ARRIVED[n].swap(false, Ordering::AcqRel))
            .map(|n| Signal(n as i32))
            .collect()
    }
}

/// Installs [`on_signal`] for `number`: with the siginfo, restarting interrupted system
/// calls, and every signal blocked while it runs (so it never nests).
#[allow(unsafe_code)]
fn install_handler(number: i32) -> io::Result<()> {
    // SAFETY: the struct is zeroed and then filled in completely (handler, flags, a full
    // mask); `on_signal` has the SA_SIGINFO signature and is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            on_signal;
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigfillset(&mut action.sa_mask);
        Errno::result(libc::sigaction(number, &action, std::ptr::null_mut()))?;
    }
    Ok(())
}

/// The signal handler: record, wake, nothing else. Async-signal-safe: atomics and write(2),
/// no allocation, no lock, errno preserved.
#[allow(unsafe_code)]
extern "C" fn on_signal(
    number: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid siginfo_t (or null).
    let info = unsafe { info.as_ref() };
    // A SIGPIPE tinysup caused itself (by writing to a closed stdout) is a fact about
    // tinysup's output, not a signal for the programs.
    let own_pid = OWN_PID.load(Ordering::Relaxed);
    if number == libc::SIGPIPE && info.is_some_and(|info| sent_by(info) == Some(own_pid)) {
        return;
    }
    if let Some(flag) = usize::try_from(number).ok().and_then(|n| ARRIVED.get(n)) {
        flag.store(true, Ordering::Release);
    }
    // The flag is set before the byte is written and read after the byte is taken, so no
    // signal can be missed. A full pipe (EAGAIN) will wake the loop anyway.
    let saved = Errno::last_raw();
    // SAFETY: write(2) of one byte from a static, to a descriptor this process owns.
    unsafe {
        libc::write(WAKE_FD.load(Ordering::Relaxed), b"s".as_ptr().cast(), 1);
    }
    Errno::set_raw(saved);
}

/// The pid that sent a signal with kill(2), if that is how it came. The kernel reports a
/// broken pipe the same way, with the writer's own pid.
#[allow(unsafe_code)]
fn sent_by(info: &libc::siginfo_t) -> Option<i32> {
    // SAFETY: for si_code SI_USER the kernel fills the si_pid field of the union, which is
    // what `si_pid()` reads.
    (info.si_code == libc::SI_USER).then(|| unsafe { info.si_pid() })
}

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One process.
    Process(Pid),
    /// A whole process group.
    Group(Pid),
    /// Every process tinysup may signal but itself: as PID 1, everything left in the
    /// namespace (the final sweep).
    Everyone,
}

/// Sends `signal` to `target`.
#[allow(unsafe_code)]
pub fn send(target: Target, signal: Signal) -> Result<(), Errno> {
    let pid = match target {
        Target::Process(pid) => pid.as_raw(),
        Target::Group(pgid) => -pgid.as_raw(),
        Target::Everyone => -1,
    };
    // SAFETY: kill(2) takes two integers and touches no memory of ours. It is called directly
    // because nix's `kill` cannot express real-time signals.
    Errno::result(unsafe { libc::kill(pid, signal.0) }).map(drop)
}

/// The signal mask and ignored signals tinysup was started with (in a container: none).
///
/// Captured before tinysup changes anything, and put back in each program between fork and
/// exec, so a program starts exactly as it would have without tinysup (as tini does).
/// Handlers need no restoring: `exec` resets caught signals to their default.
#[derive(Clone)]
pub struct InheritedSignals {
    mask: libc::sigset_t,
    /// Signals that were SIG_IGN at start: they stay ignored in programs.
    ignored: Vec<i32>,
}

impl InheritedSignals {
    /// Reads the current mask and the signals currently ignored.
    #[allow(unsafe_code)]
    pub fn capture() -> io::Result<InheritedSignals> {
        let mut mask = empty_sigset()?;
        // SAFETY: with a null `set`, pthread_sigmask only writes the current mask into `mask`,
        // a valid sigset_t we own.
        Errno::result(unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut mask)
        })?;
        let mut ignored = Vec::new();
        for number in (1..=31).chain(rt_min()..=rt_max()) {
            // SAFETY: sigaction with a null new action only reads the current one into
            // `current`, a zeroed sigaction struct we own.
            let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
            let rc = unsafe { libc::sigaction(number, std::ptr::null(), &mut current) };
            if rc == 0 && current.sa_sigaction == libc::SIG_IGN {
                ignored.push(number);
            }
        }
        Ok(InheritedSignals { mask, ignored })
    }

    /// Puts back the inherited dispositions and mask. Runs in the forked child before exec:
    /// async-signal-safe, no allocation.
    pub fn restore_in_child(&self) -> io::Result<()> {
        for signal in IGNORED {
            if !self.ignored.contains(&signal.0) {
                set_disposition(signal.0, libc::SIG_DFL)?;
            }
        }
        for &number in &self.ignored {
            set_disposition(number, libc::SIG_IGN)?;
        }
        set_mask(&self.mask)
    }
}

fn empty_sigset() -> io::Result<libc::sigset_t> {
    // SAFETY: a zeroed sigset_t is valid storage, and sigemptyset initialises it fully.
    #[allow(unsafe_code)]
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        Errno::result(libc::sigemptyset(&mut set))?;
        Ok(set)
    }
}

#[allow(unsafe_code)]
fn set_mask(mask: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: `mask` is an initialised sigset_t; the old mask is not requested.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
    // pthread_sigmask returns the error number instead of setting errno.
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Sets `number` to SIG_DFL or SIG_IGN (never a handler: those belong to signal-hook).
#[allow(unsafe_code)]
fn set_disposition(number: i32, disposition: libc::sighandler_t) -> io::Result<()> {
    debug_assert!(disposition == libc::SIG_DFL || disposition == libc::SIG_IGN);
    // SAFETY: installing SIG_DFL or SIG_IGN runs no code of ours in signal context; the
    // struct is zeroed (empty sa_mask, no flags) and owned by us for the call.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = disposition;
        Errno::result(libc::sigaction(number, &action, std::ptr::null_mut()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_realtime() {
        let rows = [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("sigterm", 15),
            ("hup", 1),
            ("9", 9),
            ("SIGPWR", 30),
            ("RTMIN", rt_min()),
            ("SIGRTMIN+2", rt_min() + 2),
            ("RTMAX-1", rt_max() - 1),
        ];
        for (text, number) in rows {
            assert_eq!(
                Signal::parse(text).map(Signal::number),
                Ok(number),
                "{text}"
            );
        }
        for bad in ["", "TERMX", "0", "32", "99", "RTMIN+x", "RTMIN-1"] {
            assert!(Signal::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn names_round_trip() {
        for number in caught_signals() {
            let signal = Signal(number);
            assert_eq!(Signal::parse(&signal.to_string()), Ok(signal), "{signal}");
        }
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
    }

    #[test]
    fn classification() {
        assert_eq!(classify(Signal::TERM), Disposition::Shutdown);
        assert_eq!(classify(Signal::INT), Disposition::Shutdown);
        assert_eq!(classify(Signal::CHLD), Disposition::Reap);
        for forwarded in [Signal::HUP, Signal::QUIT, Signal::USR1, Signal::PIPE] {
            assert_eq!(classify(forwarded), Disposition::Forward);
        }
    }

    #[test]
    fn catches_everything_but_faults_and_tty_stops() {
        let caught = caught_signals();
        for never in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ] {
            assert!(!caught.contains(&never));
        }
        for always in [
            libc::SIGHUP,
            libc::SIGWINCH,
            libc::SIGCONT,
            libc::SIGTSTP,
            rt_max(),
        ] {
            assert!(caught.contains(&always));
        }
    }
}

//! The operating-system side of signals: taking them in through a `signalfd`
//! ([`SignalIntake`]), sending them ([`send`]), and the signal state tinysup was started with
//! ([`InheritedSignals`]), which every program gets back before `exec`.
//!
//! tinysup installs no handler (catatonit's design). Every signal the kernel lets a process
//! block (all but KILL and STOP) is blocked in tinysup and read from a `signalfd` that sits
//! in the one poll, a bounded number per turn. Nothing runs in signal context, so there is
//! nothing async-signal-unsafe to get wrong, and a backlog of thousands of queued real-time
//! signals cannot make the loop deaf: the kernel hands out the lowest-numbered pending
//! signal first, so a TERM behind them is read on the next turn.
//!
//! A real fault in tinysup itself (SIGSEGV, SIGBUS, …) still ends it: the kernel unblocks a
//! synchronous fault signal and delivers it with its default action. The same signals sent
//! with `kill` are read here and forwarded, as dumb-init does.
//!
//! The C libraries keep signals 32–34 for themselves and refuse to put them in a `sigset_t`
//! (`sigaddset`, `sigaction`), yet the kernel delivers them like any other. So the masks here
//! are the kernel's own 64-bit sets, set with the raw system calls: tinysup takes every
//! signal, whichever C library it is linked with. Only this file talks to the kernel about
//! signals; what a signal means is [`crate::signal`]'s business.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::signal::{Signal, Target};

/// The most signals one [`SignalIntake::take`] reads. The rest wait in the kernel for the
/// next turn, so reaping, output and deadlines keep their latency whatever arrives.
pub const TAKE_PER_TURN: usize = 64;

/// The size of one `struct signalfd_siginfo`.
const SIGINFO_SIZE: usize = 128;

/// The kernel's signal set: bit N-1 for signal N.
type KernelSet = u64;

/// Every signal, as a kernel set (KILL and STOP cannot be blocked; the kernel ignores them).
const ALL: KernelSet = u64::MAX;

fn bit(signal: Signal) -> KernelSet {
    1 << (signal.number() - 1)
}

/// A signal tinysup received, with who sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub signal: Signal,
    /// The sender's pid for a signal sent with kill(2) (0 from outside the PID namespace).
    pub sender: i32,
    /// `si_code`: SI_USER (0) for kill(2), which is also how the kernel reports a broken pipe.
    pub code: i32,
}

/// Where signals arrive: poll [`SignalIntake::fd`], then call [`SignalIntake::take`].
pub struct SignalIntake {
    fd: OwnedFd,
    own_pid: i32,
}

impl SignalIntake {
    /// Blocks every signal and opens the `signalfd` that reads them. SIGCHLD is set to its
    /// default action first: inherited as "ignored", it would make the kernel reap children
    /// itself and lose their exit statuses. Must run before the first spawn (programs get
    /// the inherited state back from [`InheritedSignals`]).
    pub fn install() -> io::Result<SignalIntake> {
        set_disposition(Signal::CHLD, Disposition::Default)?;
        set_blocked(ALL)?;
        let fd = open_signalfd(ALL)?;
        Ok(SignalIntake {
            fd,
            own_pid: std::process::id() as i32,
        })
    }

    /// The signalfd, for poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads at most [`TAKE_PER_TURN`] pending signals, lowest number first (the kernel's
    /// order). A SIGPIPE tinysup caused itself, by writing to a closed stdout, is left out:
    /// it is a fact about tinysup's output, not a signal for the programs.
    pub fn take(&mut self) -> Vec<Received> {
        let mut buffer = [0u8; TAKE_PER_TURN * SIGINFO_SIZE];
        let n = match nix::unistd::read(&self.fd, &mut buffer) {
            Ok(n) => n,
            // EAGAIN: nothing pending (another reader of the same signals cannot exist).
            Err(_) => return Vec::new(),
        };
        buffer[..n]
            .chunks_exact(SIGINFO_SIZE)
            .filter_map(|info| {
                let field = |at: usize| {
                    let bytes: [u8; 4] = info[at..at + 4].try_into().unwrap_or_default();
                    i32::from_ne_bytes(bytes)
                };
                // struct signalfd_siginfo: ssi_signo, ssi_errno, ssi_code, ssi_pid, …
                let received = Received {
                    signal: Signal::from_number(field(0))?,
                    code: field(8),
                    sender: field(12),
                };
                let own_pipe = received.signal == Signal::PIPE
                    && received.code == libc::SI_USER
                    && received.sender == self.own_pid;
                (!own_pipe).then_some(received)
            })
            .collect()
    }
}

/// Sends `signal` to `target`.
pub fn send(target: Target, signal: Signal) -> Result<(), Errno> {
    match target {
        Target::Process(pid) => kill(pid.as_raw(), signal),
        // A whole run is its group and the groups attributed to it, which only the
        // supervisor knows: here it is the group alone.
        Target::Group(pgid) | Target::Run(pgid) => kill(-pgid.as_raw(), signal),
    }
}

/// Sends `signal` to every process tinysup may signal but itself: as PID 1, everything left
/// in the namespace (the final sweep).
pub fn send_to_everyone(signal: Signal) -> Result<(), Errno> {
    kill(-1, signal)
}

/// True if any process is left in process group `pgid`.
pub fn group_exists(pgid: Pid) -> bool {
    // Signal 0 only checks. EPERM still means something is there.
    kill_raw(-pgid.as_raw(), 0) != Err(Errno::ESRCH)
}

fn kill(pid: i32, signal: Signal) -> Result<(), Errno> {
    kill_raw(pid, signal.number())
}

#[allow(unsafe_code)]
fn kill_raw(pid: i32, number: i32) -> Result<(), Errno> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours. It is called directly
    // because nix's `kill` cannot express real-time signals.
    Errno::result(unsafe { libc::kill(pid, number) }).map(drop)
}

/// The signal mask and ignored signals tinysup was started with (in a container: none).
///
/// Captured before tinysup changes anything, and put back in each program between fork and
/// exec, so a program starts exactly as it would have without tinysup (as tini does).
#[derive(Clone, Copy, Debug)]
pub struct InheritedSignals {
    mask: KernelSet,
    /// Signals that were SIG_IGN at start: they stay ignored in programs.
    ignored: KernelSet,
}

impl InheritedSignals {
    /// Reads the current mask and the signals currently ignored.
    pub fn capture() -> io::Result<InheritedSignals> {
        let mask = blocked()?;
        let mut ignored = 0;
        for signal in Signal::all() {
            if signal != Signal::KILL
                && signal != Signal::STOP
                && disposition(signal)? == Disposition::Ignore
            {
                ignored |= bit(signal);
            }
        }
        Ok(InheritedSignals { mask, ignored })
    }

    /// Puts back the inherited dispositions and mask. Runs in the forked child before exec:
    /// system calls only, no allocation. (tinysup installs no handler, so the only
    /// dispositions to put back are the ignored ones: std resets SIGPIPE in the child, and
    /// tinysup resets SIGCHLD in itself.)
    pub fn restore_in_child(&self) -> io::Result<()> {
        for signal in Signal::all() {
            if self.ignored & bit(signal) != 0 {
                set_disposition(signal, Disposition::Ignore)?;
            }
        }
        set_blocked(self.mask)
    }
}

/// A disposition tinysup reads or sets (never a handler).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Disposition {
    Default,
    Ignore,
    /// A handler someone else installed (only ever read).
    Handler,
}

/// The kernel's `struct sigaction` (x86_64 and aarch64 share this layout).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: KernelSet,
}

/// The disposition of `signal`, from the kernel (libc refuses to tell for 32–34).
fn disposition(signal: Signal) -> io::Result<Disposition> {
    let current = sigaction(signal, None)?;
    Ok(match current.handler {
        h if h == libc::SIG_DFL => Disposition::Default,
        h if h == libc::SIG_IGN => Disposition::Ignore,
        _ => Disposition::Handler,
    })
}

/// Sets `signal` to SIG_DFL or SIG_IGN.
fn set_disposition(signal: Signal, to: Disposition) -> io::Result<()> {
    let handler = match to {
        Disposition::Ignore => libc::SIG_IGN,
        _ => libc::SIG_DFL,
    };
    sigaction(signal, Some(handler)).map(drop)
}

/// rt_sigaction(2): sets the handler to `new` (SIG_DFL or SIG_IGN, no flags, empty mask)
/// when given, and returns the previous action.
#[allow(unsafe_code)]
fn sigaction(signal: Signal, new: Option<usize>) -> io::Result<KernelSigaction> {
    debug_assert!(new.is_none_or(|h| h == libc::SIG_DFL || h == libc::SIG_IGN));
    let action = new.map(|handler| KernelSigaction {
        handler,
        flags: 0,
        restorer: 0,
        mask: 0,
    });
    let mut old = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    let action_ptr = action
        .as_ref()
        .map_or(std::ptr::null(), |a| a as *const KernelSigaction);
    // SAFETY: both pointers are to live `KernelSigaction`s laid out as the kernel's struct
    // (or null for "do not change"); the size argument is the kernel set's, 8 bytes. Setting
    // SIG_DFL or SIG_IGN runs no code of ours in signal context.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal.number(),
            action_ptr,
            &mut old as *mut KernelSigaction,
            std::mem::size_of::<KernelSet>(),
        )
    };
    Errno::result(rc)?;
    Ok(old)
}

/// The current signal mask, from the kernel.
fn blocked() -> io::Result<KernelSet> {
    sigprocmask(None)
}

/// Sets the signal mask.
fn set_blocked(mask: KernelSet) -> io::Result<()> {
    sigprocmask(Some(mask)).map(drop)
}

/// rt_sigprocmask(2) with SIG_SETMASK; returns the previous mask.
#[allow(unsafe_code)]
fn sigprocmask(new: Option<KernelSet>) -> io::Result<KernelSet> {
    let mut old: KernelSet = 0;
    let new_ptr = new
        .as_ref()
        .map_or(std::ptr::null(), |m| m as *const KernelSet);
    // SAFETY: `new_ptr` is null or points to a live u64, `old` is a writable u64, and the
    // size given is 8 bytes: the kernel's signal set. Only the mask of this thread (the only
    // one) changes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            new_ptr,
            &mut old as *mut KernelSet,
            std::mem::size_of::<KernelSet>(),
        )
    };
    Errno::result(rc)?;
    Ok(old)
}

/// signalfd4(2) for `mask`, non-blocking and close-on-exec.
#[allow(unsafe_code)]
fn open_signalfd(mask: KernelSet) -> io::Result<OwnedFd> {
    // SAFETY: `mask` is a live u64 and its size, 8 bytes, is passed; fd -1 asks for a new
    // descriptor, which on success is ours alone to own.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &mask as *const KernelSet,
            std::mem::size_of::<KernelSet>(),
            libc::SFD_NONBLOCK | libc::SFD_CLOEXEC,
        )
    };
    let fd = Errno::result(rc)?;
    let fd = i32::try_from(fd).map_err(|_| io::Error::from(Errno::EBADF))?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_set_holds_every_signal() {
        assert_eq!(bit(Signal::HUP), 1);
        assert_eq!(bit(Signal::from_number(64).unwrap()), 1 << 63);
        assert_eq!(
            Signal::all().fold(0, |set, s| set | bit(s)),
            ALL,
            "64 signals, 64 bits"
        );
    }

    #[test]
    fn captures_the_current_state() {
        let inherited = InheritedSignals::capture().unwrap();
        // The test harness never blocks KILL; the kernel could not anyway.
        assert_eq!(inherited.mask & bit(Signal::KILL), 0);
        assert_eq!(inherited.ignored & bit(Signal::KILL), 0);
    }
}

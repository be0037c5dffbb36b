//! The signal vocabulary: the [`Signal`] type, its names and numbers, what each signal means
//! to tinysup ([`classify`]) and where one is sent ([`Target`]). Pure: no system calls, so
//! the configuration, the state machine and the exit-status table import words, not plumbing
//! (that lives in [`crate::os_signals`]).
//!
//! Names and numbers follow the kernel and the convention Docker, bash and glibc share,
//! whatever C library tinysup is linked with: signals 1–31 by name, and the real-time range
//! with `RTMIN` = 34 and `RTMAX` = 64 (musl's own `SIGRTMIN()` is 35, glibc's 34; both keep
//! 32 and 33, and musl 34, for themselves, but the kernel delivers all of them, so tinysup
//! takes and passes on every one). 32 and 33 have no name: they are `SIG32` and `SIG33`.

use std::fmt;

use nix::unistd::Pid;

/// A signal number, 1..=64 (standard and real-time signals alike).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// The first real-time signal by the convention users write (`RTMIN`, `RTMIN+3` = 37).
pub const RTMIN: i32 = 34;
/// The last signal the kernel has (`_NSIG` = 64 on Linux).
pub const RTMAX: i32 = 64;

/// The standard signals by number (index + 1), without `SIG`. Linux's numbering on x86_64
/// and aarch64 (both use the generic table).
const NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// Other names of standard signals, as `kill -l` and Docker accept them.
const ALIASES: [(&str, i32); 4] = [("IOT", 6), ("CLD", 17), ("POLL", 29), ("UNUSED", 31)];

impl Signal {
    pub const HUP: Signal = Signal(1);
    pub const INT: Signal = Signal(2);
    pub const QUIT: Signal = Signal(3);
    pub const ABRT: Signal = Signal(6);
    pub const KILL: Signal = Signal(9);
    pub const USR1: Signal = Signal(10);
    pub const USR2: Signal = Signal(12);
    pub const PIPE: Signal = Signal(13);
    pub const TERM: Signal = Signal(15);
    pub const CHLD: Signal = Signal(17);
    pub const CONT: Signal = Signal(18);
    pub const STOP: Signal = Signal(19);
    pub const TSTP: Signal = Signal(20);
    pub const TTIN: Signal = Signal(21);
    pub const TTOU: Signal = Signal(22);

    /// The signal with this number, if the kernel has one: 1..=64.
    pub const fn from_number(number: i32) -> Option<Signal> {
        if number >= 1 && number <= RTMAX {
            Some(Signal(number))
        } else {
            None
        }
    }

    /// Every signal the kernel has, lowest first.
    pub fn all() -> impl Iterator<Item = Signal> {
        (1..=RTMAX).map(Signal)
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
                .ok_or_else(|| format!("{number} is not a signal number (1 to {RTMAX})"));
        }
        let upper = trimmed.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        let found = if let Some(offset) = bare.strip_prefix("RTMIN") {
            rt_offset(offset, '+').map(|k| RTMIN + k)
        } else if let Some(offset) = bare.strip_prefix("RTMAX") {
            rt_offset(offset, '-').map(|k| RTMAX - k)
        } else if let Some(position) = NAMES.iter().position(|name| *name == bare) {
            Some(position as i32 + 1)
        } else if let Some((_, number)) = ALIASES.iter().find(|(name, _)| *name == bare) {
            Some(*number)
        } else {
            // SIG32, SIG33: the two signals without a name.
            bare.parse::<i32>().ok().filter(|n| (32..RTMIN).contains(n))
        };
        found
            .filter(|n| (1..=RTMAX).contains(n))
            .and_then(Signal::from_number)
            .ok_or_else(|| {
                format!(
                    "unknown signal {text:?} (use a name like TERM or SIGHUP, RTMIN+N, or a number)"
                )
            })
    }

    /// The name without `SIG` for signals 1..=31 ("TERM"), `None` for the others.
    pub fn standard_name(self) -> Option<&'static str> {
        usize::try_from(self.0 - 1)
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
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
        .filter(|k| (0..=RTMAX - RTMIN).contains(k))
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.standard_name() {
            Some(name) => write!(f, "SIG{name}"),
            None if self.0 == RTMIN => write!(f, "SIGRTMIN"),
            None if self.0 >= RTMIN => write!(f, "SIGRTMIN+{}", self.0 - RTMIN),
            None => write!(f, "SIG{}", self.0),
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
    /// TERM, INT: graceful shutdown.
    Shutdown,
    /// Every other signal the kernel lets through: passed on to the running programs.
    Forward,
    /// CHLD: something is ready to be reaped.
    Reap,
    /// TTIN, TTOU: a background process group touching the terminal must not stop PID 1.
    Ignore,
}

/// Classifies a signal tinysup received.
pub fn classify(signal: Signal) -> Disposition {
    match signal {
        Signal::TERM | Signal::INT => Disposition::Shutdown,
        Signal::CHLD => Disposition::Reap,
        Signal::TTIN | Signal::TTOU => Disposition::Ignore,
        _ => Disposition::Forward,
    }
}

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One process.
    Process(Pid),
    /// A whole process group.
    Group(Pid),
    /// Everything of the run whose main process is this pid: its process group, and the
    /// process groups of the processes that left it and were attributed to the run
    /// ([`crate::runs`]).
    Run(Pid),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_realtime_as_docker_and_bash_do() {
        let rows = [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("sigterm", 15),
            ("hup", 1),
            ("9", 9),
            ("SIGPWR", 30),
            ("IOT", 6),
            ("SIGPOLL", 29),
            ("32", 32),
            ("SIG33", 33),
            ("34", 34),
            ("RTMIN", 34),
            ("SIGRTMIN+3", 37),
            ("RTMIN+30", 64),
            ("RTMAX", 64),
            ("RTMAX-1", 63),
            ("64", 64),
        ];
        for (text, number) in rows {
            assert_eq!(
                Signal::parse(text).map(Signal::number),
                Ok(number),
                "{text}"
            );
        }
        for bad in [
            "", "TERMX", "0", "65", "99", "RTMIN+x", "RTMIN-1", "RTMIN+31", "SIG34", "SIG5",
        ] {
            assert!(Signal::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn names_round_trip() {
        for signal in Signal::all() {
            assert_eq!(Signal::parse(&signal.to_string()), Ok(signal), "{signal}");
        }
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        assert_eq!(Signal(34).to_string(), "SIGRTMIN");
        assert_eq!(Signal(37).to_string(), "SIGRTMIN+3");
        assert_eq!(Signal(32).to_string(), "SIG32");
    }

    #[test]
    fn the_standard_names_are_the_kernels_numbers() {
        // The table against the C library's constants (which are the kernel's).
        for (number, constant) in [
            (libc::SIGHUP, "HUP"),
            (libc::SIGBUS, "BUS"),
            (libc::SIGUSR1, "USR1"),
            (libc::SIGSTKFLT, "STKFLT"),
            (libc::SIGCHLD, "CHLD"),
            (libc::SIGTSTP, "TSTP"),
            (libc::SIGWINCH, "WINCH"),
            (libc::SIGIO, "IO"),
            (libc::SIGSYS, "SYS"),
        ] {
            assert_eq!(Signal(number).standard_name(), Some(constant));
        }
        assert_eq!(Signal::TTOU.number(), libc::SIGTTOU);
        assert_eq!(Signal::CONT.number(), libc::SIGCONT);
    }

    #[test]
    fn classification() {
        assert_eq!(classify(Signal::TERM), Disposition::Shutdown);
        assert_eq!(classify(Signal::INT), Disposition::Shutdown);
        assert_eq!(classify(Signal::CHLD), Disposition::Reap);
        assert_eq!(classify(Signal::TTIN), Disposition::Ignore);
        for forwarded in [1, 3, 4, 7, 8, 10, 11, 13, 32, 33, 34, 64] {
            assert_eq!(
                classify(Signal(forwarded)),
                Disposition::Forward,
                "{forwarded}"
            );
        }
    }
}

//! The one loop: one thread, one `poll`, no ticks.
//!
//! Each turn waits until a file descriptor is ready or the earliest deadline passes (none:
//! wait forever), then, in this fixed order:
//!
//! 1. drain the signal self-pipe and hand each signal to the supervisor;
//! 2. reap every ended child (the reaper is the only caller of `waitpid`);
//! 3. let the supervisor act on time passing (deadlines, starts, shutdown);
//! 4. write tinysup's own queued messages.
//!
//! It returns when the supervisor is done.

use std::io::Write;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::time::TimeSpec;

use crate::logger;
use crate::reaper;
use crate::signals::SignalPipe;
use crate::supervisor::Supervisor;

/// Runs until the supervisor is done.
pub fn run(supervisor: &mut Supervisor, signals: &mut SignalPipe) {
    supervisor.step(Instant::now());
    write_messages();
    while !supervisor.is_done() {
        wait(signals, supervisor.next_deadline());
        let now = Instant::now();
        for signal in signals.drain() {
            supervisor.signal_received(signal, now);
        }
        let children = reaper::reap(|pid, status| supervisor.reaped(pid, status, now));
        supervisor.children_left(children);
        supervisor.step(now);
        write_messages();
    }
}

/// Blocks until the signal pipe is readable or `deadline` passes.
fn wait(signals: &SignalPipe, deadline: Option<Instant>) {
    let timeout =
        deadline.map(|at| TimeSpec::from_duration(at.saturating_duration_since(Instant::now())));
    let mut fds = [PollFd::new(signals.fd(), PollFlags::POLLIN)];
    match ppoll(&mut fds, timeout, None) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(error) => log::error!("poll failed: {}", error.desc()),
    }
}

/// Writes tinysup's queued messages to stderr as `tinysup: [level: ]text`.
pub fn write_messages() {
    let messages = logger::take();
    if messages.is_empty() {
        return;
    }
    let mut text = String::new();
    for message in messages {
        let level = match message.level {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        text.push_str(&format!("tinysup: {level}{}\n", message.text));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}

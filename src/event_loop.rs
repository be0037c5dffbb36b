//! The one loop: one thread, one `poll`, no ticks.
//!
//! Each turn waits until a file descriptor is ready (the signalfd, a program's output
//! pipe, a destination that can take more) or the earliest deadline passes (none: wait
//! forever), then, in this fixed order:
//!
//! 1. if the signalfd is readable, take a bounded number of signals and hand each to the
//!    supervisor;
//! 2. read the programs' output that is ready (before reaping, so a program's last lines
//!    come before the message that it exited);
//! 3. after a SIGCHLD, reap every ended child (the reaper is the only caller of `waitpid`);
//! 4. let the supervisor act on time passing (deadlines, starts, shutdown);
//! 5. release partial lines that waited long enough, queue tinysup's own messages, and
//!    write what can be written without blocking.
//!
//! When the supervisor is done, the output hub reads what is left in the pipes and writes
//! it out, waiting for a slow reader until what is left of the shutdown budget at most.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::time::TimeSpec;

use crate::logger;
use crate::os_signals::SignalIntake;
use crate::output::{Hub, Token};
use crate::reaper;
use crate::signal::{Disposition, classify};
use crate::supervisor::Supervisor;

/// The final output flush waits at least this long for a slow reader (more if the shutdown
/// finished early: the rest of `shutdown_timeout`).
pub const FINAL_FLUSH: Duration = Duration::from_secs(1);

/// Runs until the supervisor is done, then flushes the output.
pub fn run(supervisor: &mut Supervisor, signals: &mut SignalIntake, hub: &mut Hub) {
    supervisor.step(Instant::now());
    hub.log(logger::take(hub.log_room()));
    hub.flush();
    while !supervisor.is_done() {
        let deadline = [supervisor.next_deadline(), hub.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        let ready = wait(signals, hub, deadline);
        let now = Instant::now();
        let mut child_ended = false;
        if ready.signals {
            for received in signals.take() {
                child_ended |= classify(received.signal) == Disposition::Reap;
                supervisor.signal_received(received.signal, now);
            }
        }
        for token in ready.output {
            hub.ready(token, now);
        }
        if child_ended || supervisor.wants_reap() {
            let children = reaper::reap(|pid, status| supervisor.reaped(pid, status));
            supervisor.reaped_all(children, now);
        }
        supervisor.step(now);
        hub.tick(now);
        hub.log(logger::take(hub.log_room()));
        hub.flush();
        // What writing itself had to say (a destination failing or closing) goes out in
        // this turn too: nothing else may wake the loop for a while.
        hub.log(logger::take(hub.log_room()));
        hub.flush();
    }
    let now = Instant::now();
    let flush_deadline = supervisor
        .shutdown_deadline()
        .unwrap_or(now)
        .max(now + FINAL_FLUSH);
    hub.finish(flush_deadline, logger::take);
}

/// What poll found ready.
struct Ready {
    /// The signalfd is readable: signals arrived.
    signals: bool,
    /// The hub's descriptors that are ready.
    output: Vec<Token>,
}

/// Blocks until the signalfd or one of the hub's descriptors is ready, or `deadline`
/// passes.
fn wait(signals: &SignalIntake, hub: &Hub, deadline: Option<Instant>) -> Ready {
    let timeout =
        deadline.map(|at| TimeSpec::from_duration(at.saturating_duration_since(Instant::now())));
    let interest = hub.interest();
    let mut fds = Vec::with_capacity(interest.len() + 1);
    fds.push(PollFd::new(signals.fd(), PollFlags::POLLIN));
    fds.extend(
        interest
            .iter()
            .map(|(fd, events, _)| PollFd::new(*fd, *events)),
    );
    match ppoll(&mut fds, timeout, None) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(error) => log::error!("poll failed: {}", error.desc()),
    }
    let is_ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
    Ready {
        signals: is_ready(&fds[0]),
        output: fds[1..]
            .iter()
            .zip(&interest)
            .filter(|(fd, _)| is_ready(fd))
            .map(|(_, (_, _, token))| *token)
            .collect(),
    }
}

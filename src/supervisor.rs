//! The supervisor: owns the programs, turns OS facts (signals received, processes reaped,
//! time) into state-machine events, performs the machines' actions (spawn, signal), runs the
//! shutdown, and keeps the [`Outcome`] that decides tinysup's exit code.
//!
//! It never blocks and never waits: the event loop calls it with facts and asks it for its
//! next deadline.
//!
//! Phases: RUNNING (programs start as their dependencies become ready) → SHUTTING DOWN
//! (programs stop in reverse dependency order; everything left is SIGKILLed at
//! `shutdown_timeout`, and what still cannot die a moment later is given up on) → SWEEPING
//! (what tinysup inherited and nobody stopped: as PID 1 everything left in the namespace, as
//! a subreaper its own descendants, gets SIGTERM, then SIGKILL) → DONE.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::config::{Config, Kind, ProgramSpec};
use crate::duration;
use crate::os_signals;
use crate::procfs;
use crate::program::{
    Action, Event, KILL_WAIT, LEFTOVER_GRACE, LEFTOVER_SIGNAL, Leftovers, Program, State,
};
use crate::reaper::Children;
use crate::runs::Runs;
use crate::signal::{Disposition, Signal, Target, classify};
use crate::spawn::{ChildOutput, Spawner};
use crate::status::{ExitStatus, Outcome};

/// How long leftover processes get between the sweep's SIGTERM and its SIGKILL.
pub const SWEEP_GRACE: Duration = Duration::from_millis(500);
/// How long reaping may take after the sweep's SIGKILL before tinysup exits anyway (as
/// PID 1, its exit makes the kernel kill whatever is left).
const SWEEP_KILL_WAIT: Duration = Duration::from_millis(200);

/// One supervised program: its settings, its state machine, where its output goes.
pub struct Supervised {
    pub spec: ProgramSpec,
    pub machine: Program,
    pub stdout: ChildOutput,
    pub stderr: ChildOutput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Programs are started as their dependencies become ready.
    Running,
    /// Programs are stopped in reverse dependency order with `signal` (or their own stop
    /// signal); at `deadline` everything left is SIGKILLed, and at `give_up_at` (a moment
    /// after any SIGKILL of everything) what still has not died is given up on.
    ShuttingDown {
        signal: Signal,
        /// `None` once passed and acted on (or with no `shutdown_timeout`): a deadline is
        /// acted on once, and a passed one must not keep the loop from sleeping.
        deadline: Option<Instant>,
        give_up_at: Option<Instant>,
    },
    /// What is left that nobody stopped got SIGTERM (then SIGKILL once `killed`); finished
    /// at `deadline` or when no child is left. `checked`: children were counted since.
    Sweeping {
        deadline: Instant,
        killed: bool,
        checked: bool,
    },
    /// Nothing left to do.
    Done,
}

/// Options that are not part of the configuration file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// tinysup is PID 1 of its namespace: the sweep covers everything left in it.
    pub is_pid1: bool,
    /// tini's `-w`: warn about every orphan reaped.
    pub warn_on_reap: bool,
    /// Only the command line's program runs (tini's mode): a second TERM or INT is
    /// forwarded like the first instead of forcing the shutdown, as tini does.
    pub tini_style: bool,
}

pub struct Supervisor {
    /// In start order.
    programs: Vec<Supervised>,
    /// `dependencies[i]`: indexes of the programs `i` depends on.
    dependencies: Vec<Vec<usize>>,
    /// `dependents[i]`: indexes of the programs that depend on `i`.
    dependents: Vec<Vec<usize>>,
    /// Which processes belong to which program's run.
    runs: Runs,
    /// Main processes reaped in the current batch, applied once the batch is complete.
    exits: Vec<(usize, ExitStatus)>,
    phase: Phase,
    outcome: Outcome,
    spawner: Spawner,
    shutdown_timeout: Option<Duration>,
    /// When the shutdown began, plus `shutdown_timeout` (if bounded).
    shutdown_deadline: Option<Instant>,
    options: Options,
    own_pid: Pid,
}

impl Supervisor {
    /// `outputs[i]` is where program `i` of `config` writes (stdout, stderr).
    pub fn new(
        config: Config,
        outputs: Vec<(ChildOutput, ChildOutput)>,
        spawner: Spawner,
        options: Options,
    ) -> Supervisor {
        let index: HashMap<&str, usize> = config
            .programs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let dependencies: Vec<Vec<usize>> = config
            .programs
            .iter()
            .map(|p| {
                p.depends_on
                    .iter()
                    .filter_map(|name| index.get(name.as_str()).copied())
                    .collect()
            })
            .collect();
        let mut dependents = vec![Vec::new(); dependencies.len()];
        for (i, deps) in dependencies.iter().enumerate() {
            for &d in deps {
                dependents[d].push(i);
            }
        }
        let runs = Runs::new(config.programs.len());
        let programs = config
            .programs
            .into_iter()
            .zip(outputs)
            .map(|(spec, (stdout, stderr))| Supervised {
                spec,
                machine: Program::new(),
                stdout,
                stderr,
            })
            .collect();
        Supervisor {
            programs,
            dependencies,
            dependents,
            runs,
            exits: Vec::new(),
            phase: Phase::Running,
            outcome: Outcome::default(),
            spawner,
            shutdown_timeout: config.shutdown_timeout,
            shutdown_deadline: None,
            options,
            own_pid: Pid::this(),
        }
    }

    /// The outcome so far; final once [`Supervisor::is_done`].
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// True when everything has stopped (and what was left has been swept).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The end of the shutdown's `shutdown_timeout`, once a shutdown has begun.
    pub fn shutdown_deadline(&self) -> Option<Instant> {
        self.shutdown_deadline
    }

    /// True once a shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.phase != Phase::Running
    }

    /// The earliest time [`Supervisor::step`] has something to do, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        let phase = match self.phase {
            Phase::Running | Phase::Done => None,
            Phase::ShuttingDown {
                deadline,
                give_up_at,
                ..
            } => deadline.into_iter().chain(give_up_at).min(),
            // Not yet checked: step again at once, after a reap.
            Phase::Sweeping { checked: false, .. } => Some(Instant::now()),
            Phase::Sweeping { deadline, .. } => Some(deadline),
        };
        self.programs
            .iter()
            .filter_map(|p| p.machine.deadline(&p.spec))
            .chain(phase)
            .min()
    }

    /// A signal tinysup received.
    pub fn signal_received(&mut self, signal: Signal, now: Instant) {
        match classify(signal) {
            Disposition::Reap | Disposition::Ignore => {}
            Disposition::Forward => {
                log::debug!("received {signal}: forwarding it");
                self.forward(signal, now);
            }
            Disposition::Shutdown => {
                self.outcome.requested = true;
                match self.phase {
                    Phase::Running => {
                        log::info!("received {signal}: shutting down");
                        self.begin_shutdown(signal, now);
                    }
                    Phase::ShuttingDown { .. } if self.options.tini_style => {
                        log::debug!("received {signal} again: forwarding it");
                        self.forward(signal, now);
                    }
                    Phase::ShuttingDown { .. } => {
                        log::warn!("received {signal} again: killing everything now");
                        self.kill_all(now);
                    }
                    Phase::Sweeping { killed: false, .. } => self.sweep_kill(now),
                    Phase::Sweeping { .. } | Phase::Done => {}
                }
            }
        }
    }

    fn forward(&mut self, signal: Signal, now: Instant) {
        for i in 0..self.programs.len() {
            self.apply(i, Event::ForwardWanted { signal }, now);
        }
    }

    /// A child was reaped: a program's main process, or an orphan. Main processes are
    /// applied by [`Supervisor::reaped_all`], once the whole batch is known.
    pub fn reaped(&mut self, pid: Pid, status: ExitStatus) {
        match self
            .programs
            .iter()
            .position(|p| p.machine.pid() == Some(pid))
        {
            Some(i) => {
                self.runs.main_reaped(i);
                self.exits.push((i, status));
            }
            None => {
                let program = self.runs.orphan_reaped(pid);
                let of = program.map_or_else(String::new, |i| {
                    format!(", of {}", self.programs[i].spec.name)
                });
                if self.options.warn_on_reap {
                    log::warn!("reaped zombie process {pid} ({status}{of})")
                } else {
                    log::debug!("reaped orphan {pid} ({status}{of})")
                }
            }
        }
    }

    /// True when the supervisor needs to know whether any child is left (the sweep has just
    /// begun), even without a SIGCHLD.
    pub fn wants_reap(&self) -> bool {
        matches!(self.phase, Phase::Sweeping { checked: false, .. })
    }

    /// A batch of reaping is complete (`children`: whether any child is left). Attributes
    /// the children that came to tinysup with it, applies the main processes' ends, and
    /// notices runs of which nothing is left.
    pub fn reaped_all(&mut self, children: Children, now: Instant) {
        if self.runs.wants_scan() {
            self.scan();
        }
        for (i, status) in std::mem::take(&mut self.exits) {
            let leftovers = !self.runs.is_gone(i);
            self.apply(i, Event::Exited { status, leftovers }, now);
        }
        for i in 0..self.programs.len() {
            let machine = &self.programs[i].machine;
            if machine.leftovers().is_some() && self.runs.is_gone(i) {
                self.apply(i, Event::LeftoversGone, now);
            }
            if !self.programs[i].machine.is_active() {
                self.runs.finished(i);
            }
        }
        if let Phase::Sweeping { checked, .. } = &mut self.phase {
            *checked = true;
            if children == Children::None {
                log::debug!("sweep: no process left");
                self.phase = Phase::Done;
            }
        }
    }

    /// Attributes tinysup's new children to the runs they came from.
    fn scan(&mut self) {
        let mains: Vec<Option<Pid>> = self.programs.iter().map(|p| p.machine.pid()).collect();
        self.runs.scan(&mains);
    }

    /// Acts on time passing: program deadlines, starts, shutdown progress.
    pub fn step(&mut self, now: Instant) {
        for i in 0..self.programs.len() {
            let program = &self.programs[i];
            if program
                .machine
                .deadline(&program.spec)
                .is_some_and(|at| at <= now)
            {
                self.apply(i, Event::DeadlinePassed, now);
            }
        }
        if self.phase == Phase::Running {
            self.start_ready_programs(now);
        }
        if self.phase == Phase::Running && !self.any_can_still_run() {
            log::info!("every program has ended: shutting down");
            self.begin_shutdown(Signal::TERM, now);
        }
        if let Phase::ShuttingDown {
            signal,
            deadline,
            give_up_at,
        } = self.phase
        {
            if deadline.is_some_and(|at| now >= at) {
                self.phase = Phase::ShuttingDown {
                    signal,
                    deadline: None,
                    give_up_at,
                };
                log::warn!(
                    "shutdown_timeout ({}) passed: killing what is left",
                    duration::format(self.shutdown_timeout.unwrap_or_default())
                );
                self.kill_all(now);
            }
            if give_up_at.is_some_and(|at| now >= at) {
                self.give_up();
                self.programs_stopped(now);
                return;
            }
            self.stop_in_reverse_order(signal, now);
            if self.programs.iter().all(|p| !p.machine.is_active()) {
                self.programs_stopped(now);
            }
        }
        if let Phase::Sweeping {
            deadline, killed, ..
        } = self.phase
        {
            if now >= deadline {
                if killed {
                    self.phase = Phase::Done;
                } else {
                    self.sweep_kill(now);
                }
            }
        }
    }

    /// Starts every program whose dependencies are ready, in start order.
    fn start_ready_programs(&mut self, now: Instant) {
        for i in 0..self.programs.len() {
            if self.phase != Phase::Running {
                return;
            }
            let ready = self.dependencies[i]
                .iter()
                .all(|&d| self.programs[d].machine.is_ready(&self.programs[d].spec));
            if ready && self.programs[i].machine.state() == State::Stopped {
                self.apply(i, Event::StartWanted, now);
            }
        }
    }

    /// True if some program is running, or could still run: scheduled, or waiting for
    /// dependencies that could still become ready. Programs are in start order, so each
    /// one's dependencies are decided before it: one pass, no recursion.
    fn any_can_still_run(&self) -> bool {
        // The common case, without allocating: something is running or scheduled.
        if self.programs.iter().any(|p| {
            !matches!(
                p.machine.state(),
                State::Stopped | State::Exited { .. } | State::Fatal { .. }
            )
        }) {
            return true;
        }
        let mut can = vec![false; self.programs.len()];
        for i in 0..self.programs.len() {
            let program = &self.programs[i];
            can[i] = match program.machine.state() {
                State::Exited { .. } | State::Fatal { .. } => {
                    // A oneshot's dependents wait for what is left of its run.
                    program.machine.leftovers().is_some() && program.spec.kind == Kind::Oneshot
                }
                State::Stopped => self.dependencies[i].iter().all(|&d| {
                    let dep = &self.programs[d];
                    dep.machine.is_ready(&dep.spec) || can[d]
                }),
                _ => true,
            };
        }
        can.contains(&true)
    }

    fn begin_shutdown(&mut self, signal: Signal, now: Instant) {
        let deadline = self.shutdown_timeout.map(|timeout| now + timeout);
        self.shutdown_deadline = deadline;
        self.phase = Phase::ShuttingDown {
            signal,
            deadline,
            give_up_at: None,
        };
        // Pending restarts are cancelled at once; running programs wait for their dependents.
        for i in 0..self.programs.len() {
            if matches!(self.programs[i].machine.state(), State::Backoff { .. }) {
                self.apply(i, Event::StopWanted { signal }, now);
            }
        }
    }

    /// Sends the stop signal to every running program whose dependents have all stopped.
    fn stop_in_reverse_order(&mut self, signal: Signal, now: Instant) {
        for i in (0..self.programs.len()).rev() {
            let running = matches!(
                self.programs[i].machine.state(),
                State::Starting { .. } | State::Running { .. }
            );
            let dependents_gone = self.dependents[i]
                .iter()
                .all(|&d| !self.programs[d].machine.is_active());
            if running && dependents_gone {
                let stop_signal = self.programs[i].spec.stop_signal.unwrap_or(signal);
                self.apply(
                    i,
                    Event::StopWanted {
                        signal: stop_signal,
                    },
                    now,
                );
            }
        }
    }

    /// SIGKILL to everything of every program; what has not died [`KILL_WAIT`] later is
    /// given up on.
    fn kill_all(&mut self, now: Instant) {
        if let Phase::ShuttingDown { give_up_at, .. } = &mut self.phase {
            give_up_at.get_or_insert(now + KILL_WAIT);
        }
        for i in 0..self.programs.len() {
            self.apply(i, Event::KillWanted, now);
        }
    }

    /// Processes that did not die of SIGKILL (uninterruptible sleep, a frozen cgroup): the
    /// shutdown goes on without them, so that the output and the exit status get out before
    /// the orchestrator's own SIGKILL.
    fn give_up(&mut self) {
        self.outcome.killed = true;
        for program in &self.programs {
            let name = &program.spec.name;
            if let Some(pid) = program.machine.pid() {
                log::error!("{name}: still running after SIGKILL (pid {pid}): giving up on it");
            } else if let Some(left) = program.machine.leftovers() {
                log::error!(
                    "{name}: processes of its last run (group {}) still running after SIGKILL: giving up on them",
                    left.group
                );
            }
        }
    }

    /// Every program has stopped: sweep what is left, then finish.
    fn programs_stopped(&mut self, now: Instant) {
        for program in &self.programs {
            if program.machine.state() == State::Stopped && program.machine.last_exit().is_none() {
                log::warn!(
                    "{}: never started: its dependencies did not become ready",
                    program.spec.name
                );
            }
        }
        self.sweep_send(Signal::TERM);
        self.phase = Phase::Sweeping {
            deadline: now + SWEEP_GRACE,
            killed: false,
            checked: false,
        };
    }

    fn sweep_kill(&mut self, now: Instant) {
        if self.sweep_send(Signal::KILL) {
            log::warn!(
                "sweep: processes left after {}: SIGKILL",
                duration::format(SWEEP_GRACE)
            );
        }
        self.phase = Phase::Sweeping {
            deadline: now + SWEEP_KILL_WAIT,
            killed: true,
            checked: false,
        };
    }

    /// Sends `signal` (then SIGCONT, so that stopped processes act on it) to what the sweep
    /// covers: as PID 1 every process left in the namespace, as a subreaper every
    /// descendant of tinysup (nothing else: what is not its descendant is not its to stop).
    /// Returns whether there was anything to signal.
    fn sweep_send(&self, signal: Signal) -> bool {
        let signals = [signal, Signal::CONT];
        let signals = if signal == Signal::KILL {
            &signals[..1]
        } else {
            &signals[..]
        };
        if self.options.is_pid1 {
            let mut any = false;
            for &signal in signals {
                match os_signals::send_to_everyone(signal) {
                    Ok(()) => any = true,
                    Err(Errno::ESRCH) => {}
                    Err(error) => {
                        log::warn!(
                            "sweep: cannot send {signal} to what is left: {}",
                            error.desc()
                        )
                    }
                }
            }
            if any {
                log::debug!("sweep: sent {signal} to every process left");
            }
            return any;
        }
        let descendants = procfs::descendants(self.own_pid);
        for &pid in &descendants {
            for &signal in signals {
                let _ = os_signals::send(Target::Process(pid), signal);
            }
        }
        if !descendants.is_empty() {
            log::debug!("sweep: sent {signal} to {} descendants", descendants.len());
        }
        !descendants.is_empty()
    }

    /// Feeds `event` to program `i`, performs the resulting action, and notes what changed.
    fn apply(&mut self, i: usize, event: Event, now: Instant) {
        let program = &mut self.programs[i];
        let before = (program.machine.state(), program.machine.leftovers());
        let action = program.machine.handle(&program.spec, event, now);
        self.report(i, before, event, now);
        match action {
            Some(Action::Spawn) => self.spawn(i, now),
            Some(Action::Signal { target, signal }) => self.send(i, target, signal),
            Some(Action::Stop { target, signal }) => {
                self.send(i, target, signal);
                if signal != Signal::KILL && signal != Signal::CONT {
                    self.send(i, target, Signal::CONT);
                }
            }
            None => {}
        }
        self.observe(i, before.0, now);
    }

    /// Sends `signal` for program `i`. A whole run is its process group plus the groups of
    /// the processes attributed to it (looked for first: some may have just come).
    fn send(&mut self, i: usize, target: Target, signal: Signal) {
        if signal == Signal::KILL && self.is_shutting_down() {
            self.outcome.killed = true;
        }
        let targets = match target {
            Target::Run(pid) => {
                self.scan();
                let mut groups = self.runs.groups(i);
                if !groups.contains(&pid) {
                    groups.push(pid);
                }
                groups.into_iter().map(Target::Group).collect()
            }
            other => vec![other],
        };
        for target in targets {
            // ESRCH: it died already; the reaper will report it.
            if let Err(error) = os_signals::send(target, signal) {
                if error != Errno::ESRCH {
                    log::warn!(
                        "{}: cannot send {signal}: {}",
                        self.programs[i].spec.name,
                        error.desc()
                    );
                }
            }
        }
    }

    fn spawn(&mut self, i: usize, now: Instant) {
        let program = &self.programs[i];
        let event = match self
            .spawner
            .spawn(&program.spec, &program.stdout, &program.stderr)
        {
            Ok(pid) => {
                self.runs.started(i, pid);
                Event::Spawned { pid }
            }
            Err(error) => {
                log::error!("{}", error.message);
                Event::SpawnFailed {
                    status: error.status,
                }
            }
        };
        self.apply(i, event, now);
    }

    /// Records what a transition of program `i` means for the run: its failure, an
    /// essential program ending, a crash during shutdown.
    fn observe(&mut self, i: usize, before: State, now: Instant) {
        let program = &self.programs[i];
        let after = program.machine.state();
        if after == before {
            return;
        }
        let ended = program.machine.has_ended();
        let stopped_in_shutdown = matches!(before, State::Stopping { .. })
            && after == State::Stopped
            && self.is_shutting_down();
        if ended || stopped_in_shutdown {
            let status = program.machine.last_exit();
            let failed = ended && program.machine.has_failed(&program.spec);
            if failed && self.outcome.first_failure.is_none() {
                self.outcome.first_failure = status;
            }
            // A oneshot that fails for good ends the run like an essential program.
            let essential =
                program.spec.essential || (failed && program.spec.kind == Kind::Oneshot);
            if essential && self.outcome.essential.is_none() {
                if let Some(status) = status {
                    self.outcome.essential = Some(status);
                    if self.phase == Phase::Running {
                        log::info!(
                            "{} is essential and has ended ({status}): shutting down",
                            program.spec.name
                        );
                        self.begin_shutdown(Signal::TERM, now);
                    }
                }
            }
        }
        // A program that crashed during the shutdown is not restarted.
        if matches!(after, State::Backoff { .. }) && self.is_shutting_down() {
            self.apply(
                i,
                Event::StopWanted {
                    signal: Signal::TERM,
                },
                now,
            );
        }
    }

    /// Logs a transition of program `i` in words. `before`: its state and leftovers then.
    fn report(&self, i: usize, before: (State, Option<Leftovers>), event: Event, now: Instant) {
        let program = &self.programs[i];
        let name = &program.spec.name;
        let after = program.machine.state();
        let left = program.machine.leftovers();
        match (event, after) {
            (Event::Spawned { pid }, _) => log::info!("{name}: started (pid {pid})"),
            (
                Event::Exited { status, .. } | Event::SpawnFailed { status },
                State::Backoff { .. },
            ) => {
                let delay =
                    crate::program::backoff_delay(&program.spec, program.machine.failed_starts());
                log::warn!(
                    "{name}: exited with {status}; restarting in {}",
                    duration::format(delay)
                )
            }
            (Event::Exited { status, .. } | Event::SpawnFailed { status }, State::Fatal { .. }) => {
                log::error!(
                    "{name}: exited with {status}; giving up after {} failed starts in a row (FATAL)",
                    program.machine.failed_starts()
                )
            }
            (Event::Exited { status, .. }, State::Exited { .. }) => {
                log::info!("{name}: exited with {status}")
            }
            (Event::Exited { status, .. }, State::Stopped) => {
                log::info!("{name}: stopped ({status})")
            }
            (Event::DeadlinePassed, State::Running { .. })
                if matches!(before.0, State::Starting { .. }) =>
            {
                log::debug!(
                    "{name}: up for {}: running",
                    duration::format(program.spec.start_secs)
                )
            }
            (Event::DeadlinePassed, State::Stopping { kill_at: None, .. }) if before.0 != after => {
                log::warn!(
                    "{name}: still running {} after its stop signal: SIGKILL",
                    duration::format(program.spec.stop_timeout.unwrap_or_default())
                )
            }
            (Event::StopWanted { .. }, State::Stopped)
                if matches!(before.0, State::Backoff { .. }) =>
            {
                log::info!("{name}: not restarted: shutting down")
            }
            (Event::StopWanted { signal }, State::Stopping { .. }) if before.0 != after => {
                log::info!("{name}: stopping with {signal}")
            }
            (Event::ForwardWanted { signal }, _) if program.machine.pid().is_some() => {
                log::debug!("{name}: forwarded {signal}")
            }
            (Event::LeftoversGone, _) => {
                log::debug!("{name}: nothing of its last run is left")
            }
            _ => {}
        }
        // What is left of a run, in words.
        match (before.1, left) {
            (
                None,
                Some(Leftovers {
                    kill_at: Some(at), ..
                }),
            ) => {
                let grace = at.saturating_duration_since(now);
                log::warn!(
                    "{name}: other processes of its run are still running: stopping them with {LEFTOVER_SIGNAL} (SIGKILL in {})",
                    duration::format(grace)
                )
            }
            (None, Some(_)) => {
                log::warn!("{name}: other processes of its run are still running after SIGKILL")
            }
            (Some(was), Some(now)) if was.kill_at.is_some() && now.kill_at.is_none() => {
                log::warn!(
                    "{name}: processes of its last run still running {} after their stop signal: SIGKILL",
                    duration::format(program.spec.stop_timeout.unwrap_or(LEFTOVER_GRACE))
                )
            }
            (Some(was), Some(now)) if !was.stuck && now.stuck => {
                log::error!(
                    "{name}: processes of its last run (group {}) are still there {} after SIGKILL \
                     (uninterruptible sleep?); it starts again only when they are gone",
                    now.group,
                    duration::format(KILL_WAIT)
                )
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProgramSpec;
    use crate::os_signals::InheritedSignals;

    /// A supervisor of one real `sleep` that does not get to stop on its own (a long
    /// stop_timeout), with `shutdown_timeout` zero.
    fn supervising_sleep() -> (Supervisor, Instant) {
        let mut spec = ProgramSpec::new("sleeper", vec!["/bin/sleep".into(), "30".into()]);
        spec.stop_timeout = Some(Duration::from_secs(60));
        let mut config = Config::new(vec![spec]);
        config.shutdown_timeout = Some(Duration::ZERO);
        let spawner = Spawner::new(std::iter::empty(), InheritedSignals::capture().unwrap());
        let outputs = vec![(ChildOutput::Null, ChildOutput::Null)];
        let mut supervisor = Supervisor::new(config, outputs, spawner, Options::default());
        let now = Instant::now();
        supervisor.step(now);
        (supervisor, now)
    }

    #[test]
    fn a_passed_shutdown_deadline_is_acted_on_once() {
        let (mut supervisor, now) = supervising_sleep();
        let pid = supervisor.programs[0].machine.pid().expect("started");
        supervisor.signal_received(Signal::TERM, now);
        // The deadline is now: everything left gets SIGKILL...
        supervisor.step(now);
        assert_eq!(
            supervisor.programs[0].machine.state(),
            State::Stopping { pid, kill_at: None }
        );
        // ...and the passed deadline no longer wakes the loop (it would spin until the
        // process is reaped: forever for one stuck in uninterruptible sleep). What wakes it
        // is the moment to give up on what SIGKILL could not end.
        assert_eq!(supervisor.next_deadline(), Some(now + KILL_WAIT));
        // Reap it (this test process is its parent).
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

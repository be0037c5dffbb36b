//! The per-program state machine: pure, no syscalls, time passed in.
//!
//! ```text
//!              StartWanted          start_secs passed
//!   STOPPED ──────────────▶ STARTING ─────────────────▶ RUNNING
//!      ▲                      │  ▲                        │
//!      │        exited, will  │  │ backoff passed,       │ exited, will restart
//!      │        restart       ▼  │ nothing of the run left▼
//!      │                     BACKOFF ◀────────────────────┘
//!      │                      │ too many failed starts
//!      │                      ▼
//!      │                    FATAL        exited, will not restart:  EXITED
//!      │
//!      └── exited ── STOPPING ◀── StopWanted (from STARTING/RUNNING; BACKOFF goes to STOPPED)
//!                      │ stop_timeout passed: SIGKILL to the run, stay STOPPING
//! ```
//!
//! A run is not over when its main process is: the rest of its process group (workers, a
//! daemon it started) may live on, holding a port or a lock. When the main process exits
//! and [`Event::Exited`] says processes of the run are left, they are the program's
//! [`Leftovers`]: they get SIGTERM and, after `stop_timeout`, SIGKILL. The state
//! moves on as usual (BACKOFF, EXITED, FATAL, STOPPED), but a new run starts only after
//! [`Event::LeftoversGone`], and until then the program still counts as active.
//!
//! Events are facts (`Spawned`, `Exited`, `LeftoversGone`, `DeadlinePassed`) or the
//! supervisor's wishes (`StartWanted`, `StopWanted`); actions are commands the supervisor
//! performs (`Spawn`, `Signal`, `Stop`). The result of a `Spawn` comes back as `Spawned` or
//! `SpawnFailed`. An impossible combination is logged and ignored: PID 1 must not die.

use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::config::{Kind, ProgramSpec, Restart};
use crate::signal::{Signal, Target};
use crate::status::ExitStatus;

/// How long the leftovers of a run get after their stop signal when the program has no
/// `stop_timeout` (the tini-style program): as long as the final sweep gives.
pub const LEFTOVER_GRACE: Duration = Duration::from_millis(500);

/// The signal what is left of a run gets once its main process has ended: SIGTERM, not the
/// program's stop signal, which is meant for its main process (postgres' SIGINT only
/// cancels a backend's query; without its postmaster the backend must end).
pub const LEFTOVER_SIGNAL: Signal = Signal::TERM;

/// How long processes get to disappear after SIGKILL before tinysup says they are stuck
/// (uninterruptible sleep, a frozen cgroup).
pub const KILL_WAIT: Duration = Duration::from_secs(1);

/// Where a program is. The data each state needs lives in its variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not running and not scheduled: not started yet (waiting for its dependencies), or
    /// stopped on request.
    Stopped,
    /// Spawned, not yet up for `start_secs`.
    Starting { pid: Pid, since: Instant },
    /// Up for at least `start_secs`: a successful start.
    Running { pid: Pid, since: Instant },
    /// Ended and will be spawned again at `until` (once nothing of the run is left).
    Backoff { until: Instant },
    /// The stop signal was sent; SIGKILL goes to the run at `kill_at` (`None` once sent, or
    /// with no `stop_timeout`).
    Stopping { pid: Pid, kill_at: Option<Instant> },
    /// Ended and will not be restarted.
    Exited { status: ExitStatus },
    /// Gave up after too many consecutive failed starts.
    Fatal { status: ExitStatus },
}

impl State {
    /// The name users see (supervisord's vocabulary).
    pub fn name(&self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting { .. } => "STARTING",
            State::Running { .. } => "RUNNING",
            State::Backoff { .. } => "BACKOFF",
            State::Stopping { .. } => "STOPPING",
            State::Exited { .. } => "EXITED",
            State::Fatal { .. } => "FATAL",
        }
    }
}

/// Processes of a run whose main process has ended, being stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leftovers {
    /// The run's process group (its main process's pid).
    pub group: Pid,
    /// When they get SIGKILL; `None` once it was sent.
    pub kill_at: Option<Instant>,
    /// When SIGKILL was sent.
    pub killed_at: Option<Instant>,
    /// Still there [`KILL_WAIT`] after SIGKILL: reported once.
    pub stuck: bool,
}

/// Something that happened to a program, or that the supervisor wants of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Its dependencies are ready and tinysup is not shutting down: start it.
    StartWanted,
    /// A `Spawn` succeeded.
    Spawned { pid: Pid },
    /// A `Spawn` failed (the program could not be executed: 126 or 127).
    SpawnFailed { status: ExitStatus },
    /// Its main process was reaped; `leftovers`: other processes of the run are still there.
    Exited { status: ExitStatus, leftovers: bool },
    /// Nothing of its last run is left.
    LeftoversGone,
    /// Time passed; `now` may be at or past the state's deadline.
    DeadlinePassed,
    /// Pass this signal on to it (tinysup received it).
    ForwardWanted { signal: Signal },
    /// Stop it gracefully with this signal.
    StopWanted { signal: Signal },
    /// SIGKILL it now (forced shutdown, or the shutdown deadline).
    KillWanted,
}

/// What the supervisor must do for a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start its process, then report `Spawned` or `SpawnFailed`.
    Spawn,
    /// Send this signal.
    Signal { target: Target, signal: Signal },
    /// Send the stop signal, then SIGCONT to the same target: a stopped process (SIGSTOP,
    /// a forwarded TSTP) only acts on its stop signal once it runs again.
    Stop { target: Target, signal: Signal },
}

/// One program's supervision state: the [`State`] plus what spans runs.
#[derive(Clone, Debug)]
pub struct Program {
    state: State,
    /// What is left of the last run once its main process ended, until it is gone.
    leftovers: Option<Leftovers>,
    /// Consecutive failed starts (runs shorter than `start_secs`, exec failures).
    failed_starts: u32,
    /// Restarts so far (for status displays).
    restarts: u32,
    /// How its last run ended.
    last_exit: Option<ExitStatus>,
    /// Signals tinysup sent to the current run, as a bit set: dying of one of them is not a
    /// failure for `restart: on-failure`.
    signals_sent: u128,
}

impl Default for Program {
    fn default() -> Self {
        Program::new()
    }
}

impl Program {
    pub fn new() -> Program {
        Program {
            state: State::Stopped,
            leftovers: None,
            failed_starts: 0,
            restarts: 0,
            last_exit: None,
            signals_sent: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn leftovers(&self) -> Option<Leftovers> {
        self.leftovers
    }

    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    pub fn failed_starts(&self) -> u32 {
        self.failed_starts
    }

    pub fn last_exit(&self) -> Option<ExitStatus> {
        self.last_exit
    }

    /// The pid of its running main process, if it has one.
    pub fn pid(&self) -> Option<Pid> {
        match self.state {
            State::Starting { pid, .. }
            | State::Running { pid, .. }
            | State::Stopping { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// Something of it is still running: its main process, or leftovers of its last run.
    pub fn is_active(&self) -> bool {
        self.pid().is_some() || self.leftovers.is_some()
    }

    /// Ended for good: it will not run again (EXITED or FATAL).
    pub fn has_ended(&self) -> bool {
        matches!(self.state, State::Exited { .. } | State::Fatal { .. })
    }

    /// Ready for its dependents: a longrun is RUNNING, a oneshot exited successfully and
    /// nothing of its run is left.
    pub fn is_ready(&self, spec: &ProgramSpec) -> bool {
        match (spec.kind, self.state) {
            (Kind::Longrun, State::Running { .. }) => true,
            (Kind::Oneshot, State::Exited { status }) => {
                is_success(spec, status, 0) && self.leftovers.is_none()
            }
            _ => false,
        }
    }

    /// True if it ended for good with a failure: FATAL, or EXITED with a status that is not
    /// a success.
    pub fn has_failed(&self, spec: &ProgramSpec) -> bool {
        match self.state {
            State::Fatal { .. } => true,
            State::Exited { status } => !is_success(spec, status, self.signals_sent),
            _ => false,
        }
    }

    /// When this program next needs [`Event::DeadlinePassed`], if ever.
    pub fn deadline(&self, spec: &ProgramSpec) -> Option<Instant> {
        let state = match self.state {
            State::Starting { since, .. } => Some(since + spec.start_secs),
            // Once passed, the restart waits for the leftovers, not for time.
            State::Backoff { until } if self.leftovers.is_none() => Some(until),
            State::Stopping { kill_at, .. } => kill_at,
            _ => None,
        };
        let leftovers = self.leftovers.and_then(|left| match left {
            Leftovers {
                kill_at: Some(at), ..
            } => Some(at),
            Leftovers {
                killed_at: Some(at),
                stuck: false,
                ..
            } => Some(at + KILL_WAIT),
            _ => None,
        });
        state.into_iter().chain(leftovers).min()
    }

    /// Applies `event` at time `now` and returns what the supervisor must do.
    pub fn handle(&mut self, spec: &ProgramSpec, event: Event, now: Instant) -> Option<Action> {
        match (self.state, event) {
            // STOPPED → (spawn): its dependencies are ready and nothing of its last run is left.
            (State::Stopped, Event::StartWanted) => {
                self.leftovers.is_none().then_some(Action::Spawn)
            }
            // Anything else is already started, scheduled or finished.
            (_, Event::StartWanted) => None,

            // STOPPED/BACKOFF → STARTING: the process exists; a new run begins.
            (State::Stopped | State::Backoff { .. }, Event::Spawned { pid }) => {
                self.state = State::Starting { pid, since: now };
                self.signals_sent = 0;
                None
            }
            // STOPPED/BACKOFF → BACKOFF/FATAL/EXITED: exec failed; a failed start.
            (State::Stopped | State::Backoff { .. }, Event::SpawnFailed { status }) => {
                self.signals_sent = 0;
                self.ended(spec, status, false, now);
                None
            }
            (_, Event::Spawned { .. } | Event::SpawnFailed { .. }) => {
                log::warn!(
                    "{}: spawn reported in state {}; ignored",
                    spec.name,
                    self.state.name()
                );
                None
            }

            // The leftovers' deadlines come first: they hold up whatever comes next.
            (_, Event::DeadlinePassed) if self.leftovers_due(now) => self.leftovers_deadline(now),
            // STARTING → RUNNING: up for start_secs, a successful start (resets the backoff).
            (State::Starting { pid, since }, Event::DeadlinePassed) => {
                if now >= since + spec.start_secs {
                    self.state = State::Running { pid, since };
                    if spec.kind == Kind::Longrun {
                        self.failed_starts = 0;
                    }
                }
                None
            }
            // BACKOFF → (spawn): the delay is over and nothing of the last run is left.
            (State::Backoff { until }, Event::DeadlinePassed) => {
                (now >= until && self.leftovers.is_none()).then_some(Action::Spawn)
            }
            // STOPPING → STOPPING: stop_timeout passed; SIGKILL to the whole run.
            (
                State::Stopping {
                    pid,
                    kill_at: Some(at),
                },
                Event::DeadlinePassed,
            ) => {
                if now >= at {
                    Some(self.kill(pid))
                } else {
                    None
                }
            }
            (_, Event::DeadlinePassed) => None,

            // STARTING → BACKOFF/FATAL/EXITED: ended before start_secs, a failed start.
            (State::Starting { pid, .. }, Event::Exited { status, leftovers }) => {
                self.ended(spec, status, false, now);
                self.left_behind(spec, pid, leftovers, now)
            }
            // RUNNING → BACKOFF/EXITED: ended after a successful start.
            (State::Running { pid, .. }, Event::Exited { status, leftovers }) => {
                self.ended(spec, status, true, now);
                self.left_behind(spec, pid, leftovers, now)
            }
            // STOPPING → STOPPED: stopped as asked. What is left of the run gets the stop
            // signal again (it may have started after the first one, or missed it in a fork)
            // and keeps the deadline, or the short grace without a stop_timeout; after a
            // SIGKILL it only has to disappear.
            (State::Stopping { pid, kill_at }, Event::Exited { status, leftovers }) => {
                self.last_exit = Some(status);
                self.state = State::Stopped;
                if !leftovers {
                    return None;
                }
                let killed = self.signals_sent & signal_bit(Signal::KILL) != 0;
                self.leftovers = Some(Leftovers {
                    group: pid,
                    kill_at: (!killed).then(|| kill_at.unwrap_or(now + LEFTOVER_GRACE)),
                    killed_at: killed.then_some(now),
                    stuck: false,
                });
                // After a SIGKILL, once more: processes that had left the group came to
                // tinysup only as the main process died, after the first one.
                let target = Target::Run(pid);
                Some(if killed {
                    Action::Signal {
                        target,
                        signal: Signal::KILL,
                    }
                } else {
                    Action::Stop {
                        target,
                        signal: LEFTOVER_SIGNAL,
                    }
                })
            }
            (_, Event::Exited { status, .. }) => {
                log::warn!(
                    "{}: exit ({status}) reported in state {}; ignored",
                    spec.name,
                    self.state.name()
                );
                None
            }

            // Nothing of the last run is left: a restart that was due happens now.
            (state, Event::LeftoversGone) => {
                self.leftovers = None;
                match state {
                    State::Backoff { until } if now >= until => Some(Action::Spawn),
                    _ => None,
                }
            }

            // Forwarding does not change the state; the signal is remembered for this run.
            (
                State::Starting { pid, .. }
                | State::Running { pid, .. }
                | State::Stopping { pid, .. },
                Event::ForwardWanted { signal },
            ) => Some(self.signal(spec, pid, signal)),
            (_, Event::ForwardWanted { .. }) => None,

            // STARTING/RUNNING → STOPPING: stop signal sent, SIGKILL due at stop_timeout.
            (
                State::Starting { pid, .. } | State::Running { pid, .. },
                Event::StopWanted { signal },
            ) => {
                self.state = State::Stopping {
                    pid,
                    kill_at: spec.stop_timeout.map(|timeout| now + timeout),
                };
                self.remember(signal);
                let target = if spec.signal_group {
                    Target::Run(pid)
                } else {
                    Target::Process(pid)
                };
                Some(Action::Stop { target, signal })
            }
            // BACKOFF → STOPPED: the pending restart is cancelled (leftovers keep stopping).
            (State::Backoff { .. }, Event::StopWanted { .. }) => {
                self.state = State::Stopped;
                None
            }
            (State::Backoff { .. }, Event::KillWanted) => {
                self.state = State::Stopped;
                self.kill_leftovers(now)
            }
            (_, Event::StopWanted { .. }) => None,

            // STARTING/RUNNING/STOPPING → STOPPING: SIGKILL now.
            (
                State::Starting { pid, .. }
                | State::Running { pid, .. }
                | State::Stopping { pid, .. },
                Event::KillWanted,
            ) => Some(self.kill(pid)),
            (_, Event::KillWanted) => self.kill_leftovers(now),
        }
    }

    /// Signals the program (its group when `signal_group`) and remembers the signal.
    fn signal(&mut self, spec: &ProgramSpec, pid: Pid, signal: Signal) -> Action {
        self.remember(signal);
        let target = if spec.signal_group {
            Target::Group(pid)
        } else {
            Target::Process(pid)
        };
        Action::Signal { target, signal }
    }

    /// SIGKILL to the whole run, whatever `signal_group` says: nothing it started survives.
    fn kill(&mut self, pid: Pid) -> Action {
        self.remember(Signal::KILL);
        self.state = State::Stopping { pid, kill_at: None };
        Action::Signal {
            target: Target::Run(pid),
            signal: Signal::KILL,
        }
    }

    /// The main process of the run led by `pid` has ended; `leftovers`: processes of the run
    /// are still there. They get the stop signal now, and SIGKILL after `stop_timeout`.
    fn left_behind(
        &mut self,
        spec: &ProgramSpec,
        pid: Pid,
        leftovers: bool,
        now: Instant,
    ) -> Option<Action> {
        if !leftovers {
            return None;
        }
        let grace = spec.stop_timeout.unwrap_or(LEFTOVER_GRACE);
        self.leftovers = Some(Leftovers {
            group: pid,
            kill_at: Some(now + grace),
            killed_at: None,
            stuck: false,
        });
        Some(Action::Stop {
            target: Target::Run(pid),
            signal: LEFTOVER_SIGNAL,
        })
    }

    /// True if a deadline of the leftovers has come.
    fn leftovers_due(&self, now: Instant) -> bool {
        self.leftovers.is_some_and(|left| match left {
            Leftovers {
                kill_at: Some(at), ..
            } => now >= at,
            Leftovers {
                killed_at: Some(at),
                stuck: false,
                ..
            } => now >= at + KILL_WAIT,
            _ => false,
        })
    }

    /// The leftovers' deadline passed: SIGKILL them, or (after that) call them stuck.
    fn leftovers_deadline(&mut self, now: Instant) -> Option<Action> {
        let left = self.leftovers.as_mut()?;
        if left.kill_at.is_some() {
            return self.kill_leftovers(now);
        }
        left.stuck = true;
        None
    }

    /// SIGKILL to the leftovers now, unless it was sent already.
    fn kill_leftovers(&mut self, now: Instant) -> Option<Action> {
        let left = self.leftovers.as_mut()?;
        left.kill_at.take()?;
        left.killed_at = Some(now);
        Some(Action::Signal {
            target: Target::Run(left.group),
            signal: Signal::KILL,
        })
    }

    fn remember(&mut self, signal: Signal) {
        self.signals_sent |= signal_bit(signal);
    }

    /// A run ended on its own (`was_up`: it had reached RUNNING). Decides between
    /// EXITED, BACKOFF and FATAL.
    fn ended(&mut self, spec: &ProgramSpec, status: ExitStatus, was_up: bool, now: Instant) {
        self.last_exit = Some(status);
        let failed = !is_success(spec, status, self.signals_sent);
        let restart = match spec.restart {
            Restart::Always => true,
            Restart::OnFailure => failed,
            Restart::No => false,
        };
        if !restart {
            self.state = State::Exited { status };
            return;
        }
        // A oneshot has not "started" until it completes, so every failed run counts.
        if was_up && spec.kind == Kind::Longrun {
            self.failed_starts = 0;
        } else {
            self.failed_starts = self.failed_starts.saturating_add(1);
            if spec
                .max_restarts
                .is_some_and(|max| self.failed_starts > max)
            {
                self.state = State::Fatal { status };
                return;
            }
        }
        self.restarts = self.restarts.saturating_add(1);
        self.state = State::Backoff {
            until: now + backoff_delay(spec, self.failed_starts),
        };
    }
}

/// True if `status` is a success for `spec`: an exit code in `success_codes`, or death by a
/// signal tinysup sent (`signals_sent` bit set).
fn is_success(spec: &ProgramSpec, status: ExitStatus, signals_sent: u128) -> bool {
    match status {
        ExitStatus::Code(code) => spec.success_codes.contains(&code),
        ExitStatus::Signal(signal) => signals_sent & signal_bit(signal) != 0,
    }
}

/// `signal`'s bit in a set of signals held as a `u128` (signal numbers are 1..=64).
fn signal_bit(signal: Signal) -> u128 {
    u32::try_from(signal.number())
        .ok()
        .and_then(|n| 1u128.checked_shl(n))
        .unwrap_or(0)
}

/// The delay before the next start after `failed_starts` consecutive failed starts:
/// `restart_delay` doubling with each failed start, at most `restart_delay_max`.
pub fn backoff_delay(spec: &ProgramSpec, failed_starts: u32) -> Duration {
    let doublings = failed_starts.saturating_sub(1).min(62) as i32;
    let seconds = spec.restart_delay.as_secs_f64() * 2f64.powi(doublings);
    Duration::from_secs_f64(seconds.min(spec.restart_delay_max.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ProgramSpec {
        ProgramSpec::new("web", vec!["web".into()])
    }

    fn pid(n: i32) -> Pid {
        Pid::from_raw(n)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs `events` (time offset in ms, event) from a fresh program and returns the
    /// actions and the final program.
    fn run(spec: &ProgramSpec, events: &[(u64, Event)]) -> (Vec<Option<Action>>, Program, Instant) {
        let t0 = Instant::now();
        let mut program = Program::new();
        let actions = events
            .iter()
            .map(|(at, event)| program.handle(spec, *event, t0 + ms(*at)))
            .collect();
        (actions, program, t0)
    }

    const CRASH: Event = Event::Exited {
        status: ExitStatus::Code(1),
        leftovers: false,
    };
    const CLEAN: Event = Event::Exited {
        status: ExitStatus::Code(0),
        leftovers: false,
    };

    #[test]
    fn start_then_running_after_start_secs() {
        let (actions, program, t0) = run(
            &spec(),
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(10) }),
                (999, Event::DeadlinePassed),
            ],
        );
        assert_eq!(actions, vec![Some(Action::Spawn), None, None]);
        assert_eq!(
            program.state(),
            State::Starting {
                pid: pid(10),
                since: t0
            }
        );
        assert_eq!(program.deadline(&spec()), Some(t0 + ms(1000)));

        let (_, program, t0) = run(
            &spec(),
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(10) }),
                (1000, Event::DeadlinePassed),
            ],
        );
        assert_eq!(
            program.state(),
            State::Running {
                pid: pid(10),
                since: t0
            }
        );
        assert_eq!(program.deadline(&spec()), None);
    }

    #[test]
    fn crash_loop_backs_off_exponentially_to_the_maximum() {
        let mut spec = spec();
        spec.restart_delay = ms(100);
        spec.restart_delay_max = ms(500);
        let t0 = Instant::now();
        let mut program = Program::new();
        let mut now = t0;
        let mut delays = Vec::new();
        program.handle(&spec, Event::StartWanted, now);
        for n in 0..6 {
            program.handle(&spec, Event::Spawned { pid: pid(100 + n) }, now);
            now += ms(10);
            program.handle(&spec, CRASH, now);
            let State::Backoff { until } = program.state() else {
                panic!("{:?}", program.state())
            };
            delays.push(until - now);
            // Not yet: no spawn before the delay is over.
            assert_eq!(
                program.handle(&spec, Event::DeadlinePassed, until - ms(1)),
                None
            );
            assert_eq!(
                program.handle(&spec, Event::DeadlinePassed, until),
                Some(Action::Spawn)
            );
            now = until;
        }
        assert_eq!(
            delays,
            vec![ms(100), ms(200), ms(400), ms(500), ms(500), ms(500)]
        );
        assert_eq!(program.restarts(), 6);
        assert_eq!(program.failed_starts(), 6);
    }

    #[test]
    fn a_successful_start_resets_the_backoff() {
        let mut spec = spec();
        spec.restart_delay = ms(100);
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (10, CRASH), // failed start 1
                (110, Event::Spawned { pid: pid(2) }),
                (120, CRASH), // failed start 2
                (320, Event::Spawned { pid: pid(3) }),
                (1320, Event::DeadlinePassed), // up for start_secs: RUNNING, reset
            ],
        );
        assert_eq!(program.failed_starts(), 0);
        let mut program = program;
        let t = Instant::now();
        program.handle(&spec, CRASH, t);
        assert_eq!(program.state(), State::Backoff { until: t + ms(100) });
    }

    #[test]
    fn max_restarts_consecutive_failed_starts_then_fatal() {
        let mut spec = spec();
        spec.max_restarts = Some(2);
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (1, CRASH), // 1st failed start: restart 1
                (200, Event::Spawned { pid: pid(2) }),
                (201, CRASH), // 2nd: restart 2
                (600, Event::Spawned { pid: pid(3) }),
                (601, CRASH), // 3rd: more than 2 restarts would be needed
            ],
        );
        assert_eq!(
            program.state(),
            State::Fatal {
                status: ExitStatus::Code(1)
            }
        );
        assert_eq!(program.restarts(), 2);
        assert!(program.has_ended());
        assert!(program.has_failed(&spec));

        spec.max_restarts = Some(0);
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (1, CRASH),
            ],
        );
        assert_eq!(
            program.state(),
            State::Fatal {
                status: ExitStatus::Code(1)
            }
        );
    }

    #[test]
    fn restart_policies() {
        let status = |s| Event::Exited {
            status: s,
            leftovers: false,
        };
        let term = ExitStatus::Signal(Signal::TERM);
        // (restart, how it ended, forwarded TERM first?, expected state name)
        let rows = [
            (
                Restart::Always,
                status(ExitStatus::Code(0)),
                false,
                "BACKOFF",
            ),
            (
                Restart::Always,
                status(ExitStatus::Code(1)),
                false,
                "BACKOFF",
            ),
            (
                Restart::OnFailure,
                status(ExitStatus::Code(0)),
                false,
                "EXITED",
            ),
            (
                Restart::OnFailure,
                status(ExitStatus::Code(3)),
                false,
                "BACKOFF",
            ),
            (Restart::OnFailure, status(term), false, "BACKOFF"), // a signal nobody here sent
            (Restart::OnFailure, status(term), true, "EXITED"),   // the TERM tinysup forwarded
            (Restart::No, status(ExitStatus::Code(1)), false, "EXITED"),
            (Restart::No, status(ExitStatus::Code(0)), false, "EXITED"),
        ];
        for (restart, ended, forwarded, expected) in rows {
            let mut spec = spec();
            spec.restart = restart;
            let mut events = vec![(0, Event::StartWanted), (0, Event::Spawned { pid: pid(1) })];
            if forwarded {
                events.push((
                    1,
                    Event::ForwardWanted {
                        signal: Signal::TERM,
                    },
                ));
            }
            events.push((2, ended));
            let (_, program, _) = run(&spec, &events);
            assert_eq!(
                program.state().name(),
                expected,
                "{restart:?} {ended:?} forwarded={forwarded}"
            );
        }
    }

    #[test]
    fn success_codes_decide_what_a_failure_is() {
        let mut spec = spec();
        spec.restart = Restart::OnFailure;
        spec.success_codes = vec![0, 3];
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (
                    5,
                    Event::Exited {
                        status: ExitStatus::Code(3),
                        leftovers: false,
                    },
                ),
            ],
        );
        assert_eq!(
            program.state(),
            State::Exited {
                status: ExitStatus::Code(3)
            }
        );
        assert!(!program.has_failed(&spec));
    }

    #[test]
    fn exec_failure_is_a_failed_start() {
        let mut spec = spec();
        spec.restart = Restart::No;
        let failed = ExitStatus::Code(127);
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::SpawnFailed { status: failed }),
            ],
        );
        assert_eq!(program.state(), State::Exited { status: failed });
        assert!(program.has_failed(&spec));
        assert_eq!(program.last_exit(), Some(failed));

        spec.restart = Restart::Always;
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::SpawnFailed { status: failed }),
            ],
        );
        assert_eq!(program.state().name(), "BACKOFF");
        assert_eq!(program.failed_starts(), 1);
    }

    #[test]
    fn oneshot_readiness_and_failures() {
        let mut spec = spec();
        spec.kind = Kind::Oneshot;
        spec.restart = Restart::No;
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (5000, CLEAN),
            ],
        );
        assert!(program.is_ready(&spec));
        assert!(!program.has_failed(&spec));

        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (5, CRASH),
            ],
        );
        assert!(!program.is_ready(&spec));
        assert!(program.has_failed(&spec));

        // A oneshot retried on failure counts every failed run, however long it ran.
        spec.restart = Restart::OnFailure;
        spec.max_restarts = Some(1);
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (1500, Event::DeadlinePassed),
                (3000, CRASH),
                (3100, Event::Spawned { pid: pid(2) }),
                (4600, Event::DeadlinePassed),
                (6000, CRASH),
            ],
        );
        assert_eq!(program.state().name(), "FATAL");
    }

    #[test]
    fn longrun_readiness() {
        let spec = spec();
        let (_, program, _) = run(
            &spec,
            &[(0, Event::StartWanted), (0, Event::Spawned { pid: pid(1) })],
        );
        assert!(!program.is_ready(&spec));
        let (_, program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (1000, Event::DeadlinePassed),
            ],
        );
        assert!(program.is_ready(&spec));
    }

    #[test]
    fn graceful_stop_then_kill_at_stop_timeout() {
        let mut spec = spec();
        spec.stop_timeout = Some(ms(3000));
        let (actions, program, t0) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(7) }),
                (
                    2000,
                    Event::StopWanted {
                        signal: Signal::TERM,
                    },
                ),
                (4999, Event::DeadlinePassed),
            ],
        );
        assert_eq!(
            actions[2],
            Some(Action::Stop {
                target: Target::Run(pid(7)),
                signal: Signal::TERM
            })
        );
        assert_eq!(actions[3], None);
        assert_eq!(
            program.state(),
            State::Stopping {
                pid: pid(7),
                kill_at: Some(t0 + ms(5000))
            }
        );

        let mut program = program;
        let action = program.handle(&spec, Event::DeadlinePassed, t0 + ms(5000));
        assert_eq!(
            action,
            Some(Action::Signal {
                target: Target::Run(pid(7)),
                signal: Signal::KILL
            })
        );
        assert_eq!(
            program.state(),
            State::Stopping {
                pid: pid(7),
                kill_at: None
            }
        );
        assert_eq!(program.deadline(&spec), None);

        let status = ExitStatus::Signal(Signal::KILL);
        program.handle(
            &spec,
            Event::Exited {
                status,
                leftovers: false,
            },
            t0 + ms(5001),
        );
        assert_eq!(program.state(), State::Stopped);
        assert_eq!(program.last_exit(), Some(status));
    }

    #[test]
    fn a_stop_that_works_in_time_kills_nothing() {
        let (_, program, _) = run(
            &spec(),
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(7) }),
                (
                    100,
                    Event::StopWanted {
                        signal: Signal::INT,
                    },
                ),
                (
                    200,
                    Event::Exited {
                        status: ExitStatus::Signal(Signal::INT),
                        leftovers: false,
                    },
                ),
                (9000, Event::DeadlinePassed),
            ],
        );
        assert_eq!(program.state(), State::Stopped);
    }

    #[test]
    fn signal_group_decides_the_target_but_sigkill_always_hits_the_group() {
        let mut spec = spec();
        spec.signal_group = false;
        let (actions, _, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(9) }),
                (
                    1,
                    Event::ForwardWanted {
                        signal: Signal::HUP,
                    },
                ),
                (
                    2,
                    Event::StopWanted {
                        signal: Signal::TERM,
                    },
                ),
                (3, Event::KillWanted),
            ],
        );
        assert_eq!(
            actions[2],
            Some(Action::Signal {
                target: Target::Process(pid(9)),
                signal: Signal::HUP
            })
        );
        assert_eq!(
            actions[3],
            Some(Action::Stop {
                target: Target::Process(pid(9)),
                signal: Signal::TERM
            })
        );
        assert_eq!(
            actions[4],
            Some(Action::Signal {
                target: Target::Run(pid(9)),
                signal: Signal::KILL
            })
        );
    }

    #[test]
    fn stopping_cancels_a_pending_restart() {
        let (actions, program, _) = run(
            &spec(),
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (1, CRASH),
                (
                    2,
                    Event::StopWanted {
                        signal: Signal::TERM,
                    },
                ),
                (5000, Event::DeadlinePassed),
            ],
        );
        assert_eq!(program.state(), State::Stopped);
        assert_eq!(actions[4], None);
    }

    #[test]
    fn nothing_to_signal_when_not_running() {
        for event in [
            Event::ForwardWanted {
                signal: Signal::HUP,
            },
            Event::StopWanted {
                signal: Signal::TERM,
            },
            Event::KillWanted,
        ] {
            let (actions, program, _) = run(&spec(), &[(0, event)]);
            assert_eq!(actions, vec![None]);
            assert_eq!(program.state(), State::Stopped);
        }
    }

    #[test]
    fn impossible_events_are_ignored_not_fatal() {
        let (actions, program, _) = run(
            &spec(),
            &[
                (0, CRASH),
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (1, Event::Spawned { pid: pid(2) }),
            ],
        );
        assert_eq!(actions, vec![None, Some(Action::Spawn), None, None]);
        assert_eq!(program.pid(), Some(pid(1)));
    }

    #[test]
    fn start_wanted_only_from_stopped() {
        let (actions, _, _) = run(
            &spec(),
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(1) }),
                (1, Event::StartWanted),
            ],
        );
        assert_eq!(actions[2], None);
    }

    fn exited(code: i32, leftovers: bool) -> Event {
        Event::Exited {
            status: ExitStatus::Code(code),
            leftovers,
        }
    }

    #[test]
    fn leftovers_of_a_run_are_stopped_before_the_restart() {
        let mut spec = spec();
        spec.restart_delay = ms(100);
        spec.stop_timeout = Some(ms(2000));
        let t0 = Instant::now();
        let at = |n| t0 + ms(n);
        let mut program = Program::new();
        program.handle(&spec, Event::StartWanted, at(0));
        program.handle(&spec, Event::Spawned { pid: pid(40) }, at(0));
        // The main process dies; its workers live on: they get the stop signal, and SIGCONT.
        assert_eq!(
            program.handle(&spec, exited(1, true), at(10)),
            Some(Action::Stop {
                target: Target::Run(pid(40)),
                signal: Signal::TERM
            })
        );
        assert_eq!(program.state(), State::Backoff { until: at(110) });
        assert!(program.is_active() && program.pid().is_none());
        // While they are there, the deadline is theirs, not the backoff's (a passed one would
        // make the loop spin), and nothing starts when the backoff is over.
        assert_eq!(program.deadline(&spec), Some(at(2010)));
        assert_eq!(program.handle(&spec, Event::DeadlinePassed, at(110)), None);
        // At stop_timeout: SIGKILL to the whole run.
        assert_eq!(
            program.handle(&spec, Event::DeadlinePassed, at(2010)),
            Some(Action::Signal {
                target: Target::Run(pid(40)),
                signal: Signal::KILL
            })
        );
        // Once they are gone, the restart that was due happens at once.
        assert_eq!(
            program.handle(&spec, Event::LeftoversGone, at(2020)),
            Some(Action::Spawn)
        );
        assert!(!program.is_active());
    }

    #[test]
    fn leftovers_gone_before_the_backoff_ends() {
        let mut spec = spec();
        spec.restart_delay = ms(500);
        let t0 = Instant::now();
        let mut program = Program::new();
        program.handle(&spec, Event::StartWanted, t0);
        program.handle(&spec, Event::Spawned { pid: pid(40) }, t0);
        program.handle(&spec, exited(1, true), t0 + ms(10));
        assert_eq!(
            program.handle(&spec, Event::LeftoversGone, t0 + ms(20)),
            None
        );
        assert_eq!(program.deadline(&spec), Some(t0 + ms(510)));
        assert_eq!(
            program.handle(&spec, Event::DeadlinePassed, t0 + ms(510)),
            Some(Action::Spawn)
        );
    }

    #[test]
    fn leftovers_that_survive_sigkill_are_reported_once_and_hold_the_restart() {
        let mut spec = spec();
        spec.stop_timeout = None; // the tini-style program: leftovers get a short grace
        let t0 = Instant::now();
        let mut program = Program::new();
        program.handle(&spec, Event::StartWanted, t0);
        program.handle(&spec, Event::Spawned { pid: pid(40) }, t0);
        program.handle(&spec, exited(1, true), t0);
        let kill_at = t0 + LEFTOVER_GRACE;
        assert_eq!(program.deadline(&spec), Some(kill_at));
        assert!(
            program
                .handle(&spec, Event::DeadlinePassed, kill_at)
                .is_some()
        );
        assert_eq!(program.deadline(&spec), Some(kill_at + KILL_WAIT));
        assert_eq!(
            program.handle(&spec, Event::DeadlinePassed, kill_at + KILL_WAIT),
            None
        );
        assert!(program.leftovers().is_some_and(|left| left.stuck));
        assert_eq!(
            program.deadline(&spec),
            None,
            "nothing more to wait for but them"
        );
        assert_eq!(program.state().name(), "BACKOFF");
    }

    #[test]
    fn leftovers_after_a_requested_stop() {
        // They get the stop signal again (one that started after the first, or missed it
        // in a fork, must not wait for SIGKILL) and keep the stop's deadline.
        let mut spec = spec();
        let t0 = Instant::now();
        let (_, mut program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(40) }),
                (
                    100,
                    Event::StopWanted {
                        signal: Signal::TERM,
                    },
                ),
            ],
        );
        let State::Stopping { kill_at, .. } = program.state() else {
            panic!("{:?}", program.state())
        };
        assert_eq!(
            program.handle(&spec, exited(0, true), t0 + ms(200)),
            Some(Action::Stop {
                target: Target::Run(pid(40)),
                signal: Signal::TERM
            })
        );
        assert_eq!(program.state(), State::Stopped);
        assert_eq!(program.leftovers().map(|left| left.kill_at), Some(kill_at));
        // A start waits until they are gone.
        assert_eq!(
            program.handle(&spec, Event::StartWanted, t0 + ms(300)),
            None
        );
        program.handle(&spec, Event::LeftoversGone, t0 + ms(400));
        assert_eq!(
            program.handle(&spec, Event::StartWanted, t0 + ms(400)),
            Some(Action::Spawn)
        );

        // After a SIGKILL, SIGKILL once more (what left the group came to tinysup only as
        // the main process died), and then they only have to disappear.
        spec.signal_group = false;
        let (_, mut program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(41) }),
                (100, Event::KillWanted),
            ],
        );
        assert_eq!(
            program.handle(&spec, exited(0, true), t0 + ms(200)),
            Some(Action::Signal {
                target: Target::Run(pid(41)),
                signal: Signal::KILL
            })
        );
        assert!(
            program
                .leftovers()
                .is_some_and(|left| left.kill_at.is_none())
        );
        assert_eq!(program.handle(&spec, Event::KillWanted, t0 + ms(300)), None);
    }

    #[test]
    fn a_oneshot_is_ready_only_once_nothing_of_its_run_is_left() {
        let mut spec = spec();
        spec.kind = Kind::Oneshot;
        spec.restart = Restart::No;
        let t0 = Instant::now();
        let (_, mut program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(50) }),
            ],
        );
        program.handle(&spec, exited(0, true), t0);
        assert!(program.has_ended() && !program.has_failed(&spec));
        assert!(!program.is_ready(&spec));
        program.handle(&spec, Event::LeftoversGone, t0);
        assert!(program.is_ready(&spec));
    }

    #[test]
    fn a_kill_reaches_leftovers_too() {
        let spec = spec();
        let t0 = Instant::now();
        let (_, mut program, _) = run(
            &spec,
            &[
                (0, Event::StartWanted),
                (0, Event::Spawned { pid: pid(60) }),
            ],
        );
        program.handle(&spec, exited(1, true), t0);
        assert_eq!(
            program.handle(&spec, Event::KillWanted, t0),
            Some(Action::Signal {
                target: Target::Run(pid(60)),
                signal: Signal::KILL
            })
        );
        assert_eq!(program.state(), State::Stopped, "the restart is cancelled");
        assert_eq!(program.handle(&spec, Event::KillWanted, t0), None, "once");
    }
}

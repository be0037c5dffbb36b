//! Which processes belong to which program's run, so that everything a run leaves behind is
//! that run's to clean up before the next one starts.
//!
//! A run is one start of a program: its main process (a child of tinysup) and everything it
//! starts. Most of it stays in the run's process group (the main process's pid), and a
//! signal to that group reaches all of it, also after the main process has died. Processes
//! that left the group (`setsid`, as postgres backends and double-forking daemons do) are
//! reached only if tinysup can tell where they came from. When their parent dies they are
//! reparented to tinysup (PID 1 or subreaper), and tinysup attributes each new child it
//! finds, in this order:
//!
//! 1. by process group: a group tinysup already attributes to a run (the run's own, or one
//!    an escaped process leads) means that run;
//! 2. by timing: a child that appeared as processes of exactly one program's run were
//!    reaped (the kernel reparents a process's children as it dies) belongs to that run.
//!
//! Anything else stays unattributed: it is only stopped by the final sweep. What this
//! cannot see: an escaped process whose parent is still alive (its parent is the run's, and
//! dies first), and an unrelated orphan (from `docker exec`, say) that arrives at the very
//! moment a program's main process dies, which is taken for that run's.
//!
//! This module keeps the records and makes the decisions; reading `/proc` is [`procfs`]'s.

use std::collections::HashMap;

use nix::unistd::Pid;

use crate::os_signals;
use crate::procfs;

/// The processes of one run that tinysup knows about.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tracked {
    /// The run's process group: its main process's pid.
    group: Pid,
    /// Process groups led by processes that left the run's group and were attributed to it.
    escaped_groups: Vec<Pid>,
}

/// Every program's current run (by program index) and tinysup's children that are not a
/// program's main process.
#[derive(Debug, Default)]
pub struct Runs {
    tracked: Vec<Option<Tracked>>,
    /// Children of tinysup that are not a main process, with the program whose run they
    /// belong to, if known.
    orphans: HashMap<Pid, Option<usize>>,
    /// Programs whose processes were reaped since the last scan (for rule 2).
    reaped: Vec<usize>,
}

impl Runs {
    pub fn new(programs: usize) -> Runs {
        Runs {
            tracked: vec![None; programs],
            ..Runs::default()
        }
    }

    /// Program `program` started a run whose main process is `pid`.
    pub fn started(&mut self, program: usize, pid: Pid) {
        if let Some(slot) = self.tracked.get_mut(program) {
            *slot = Some(Tracked {
                group: pid,
                escaped_groups: Vec::new(),
            });
        }
    }

    /// The main process of `program`'s run was reaped.
    pub fn main_reaped(&mut self, program: usize) {
        self.reaped.push(program);
    }

    /// A child that is not a main process was reaped. Returns the program whose run it
    /// belonged to, if it was attributed to one.
    pub fn orphan_reaped(&mut self, pid: Pid) -> Option<usize> {
        let program = self.orphans.remove(&pid).flatten();
        if let Some(program) = program {
            self.reaped.push(program);
        }
        program
    }

    /// True if processes of a run were reaped since the last scan: their children may have
    /// come to tinysup.
    pub fn wants_scan(&self) -> bool {
        !self.reaped.is_empty()
    }

    /// Looks at tinysup's children (`mains`: the main process of each program, if running)
    /// and attributes the ones not seen before.
    pub fn scan(&mut self, mains: &[Option<Pid>]) {
        let reaped = std::mem::take(&mut self.reaped);
        let children = match procfs::own_children() {
            Ok(children) => children,
            Err(error) => {
                log::debug!("cannot list tinysup's children: {error}");
                return;
            }
        };
        for child in children {
            if self.orphans.contains_key(&child) || mains.contains(&Some(child)) {
                continue;
            }
            // Gone already, or a zombie about to be reaped: nothing to attribute.
            let Ok(stat) = procfs::stat(child) else {
                continue;
            };
            if stat.state == b'Z' {
                continue;
            }
            let program = attribute(&self.tracked, stat.pgid, &reaped);
            if let Some(program) = program {
                if let Some(Some(run)) = self.tracked.get_mut(program) {
                    if stat.pgid != run.group && !run.escaped_groups.contains(&stat.pgid) {
                        run.escaped_groups.push(stat.pgid);
                    }
                }
                log::debug!(
                    "process {child} (group {}) is taken as program {program}'s",
                    stat.pgid
                );
            }
            self.orphans.insert(child, program);
        }
    }

    /// The process groups to signal to reach all of `program`'s run.
    pub fn groups(&self, program: usize) -> Vec<Pid> {
        match self.tracked.get(program) {
            Some(Some(run)) => std::iter::once(run.group)
                .chain(run.escaped_groups.iter().copied())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// True when nothing of `program`'s run is left: no process in its groups, and every
    /// child attributed to it reaped.
    pub fn is_gone(&self, program: usize) -> bool {
        let attributed_alive = self.orphans.values().any(|p| *p == Some(program));
        !attributed_alive
            && self
                .groups(program)
                .into_iter()
                .all(|g| !os_signals::group_exists(g))
    }

    /// `program`'s run is over: forget it.
    pub fn finished(&mut self, program: usize) {
        if let Some(slot) = self.tracked.get_mut(program) {
            *slot = None;
        }
        self.orphans.retain(|_, p| *p != Some(program));
    }
}

/// The run a new child with process group `pgid` belongs to, by the rules in the module
/// header: its group, else the one program whose processes were just reaped.
fn attribute(tracked: &[Option<Tracked>], pgid: Pid, reaped: &[usize]) -> Option<usize> {
    let by_group = tracked.iter().position(|run| {
        run.as_ref()
            .is_some_and(|run| run.group == pgid || run.escaped_groups.contains(&pgid))
    });
    if by_group.is_some() {
        return by_group;
    }
    let mut candidates = reaped
        .iter()
        .copied()
        .filter(|&p| tracked.get(p).is_some_and(Option::is_some));
    let first = candidates.next()?;
    candidates.all(|p| p == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: i32) -> Pid {
        Pid::from_raw(n)
    }

    fn run(group: i32, escaped: &[i32]) -> Option<Tracked> {
        Some(Tracked {
            group: pid(group),
            escaped_groups: escaped.iter().map(|&g| pid(g)).collect(),
        })
    }

    #[test]
    fn attribution_rules() {
        let tracked = [run(100, &[150]), run(200, &[]), None];
        // 1. By group: the run's own group, or one of its escaped groups, whatever was reaped.
        assert_eq!(attribute(&tracked, pid(100), &[]), Some(0));
        assert_eq!(attribute(&tracked, pid(150), &[1]), Some(0));
        assert_eq!(attribute(&tracked, pid(200), &[0]), Some(1));
        // 2. A new group: the one program whose processes were just reaped.
        assert_eq!(attribute(&tracked, pid(300), &[1]), Some(1));
        assert_eq!(attribute(&tracked, pid(300), &[1, 1]), Some(1));
        // Nothing reaped, several programs reaped, or one no longer tracked: unknown.
        assert_eq!(attribute(&tracked, pid(300), &[]), None);
        assert_eq!(attribute(&tracked, pid(300), &[0, 1]), None);
        assert_eq!(attribute(&tracked, pid(300), &[2]), None);
    }

    #[test]
    fn records_groups_and_forgets_finished_runs() {
        let mut runs = Runs::new(2);
        runs.started(1, pid(500));
        assert_eq!(runs.groups(1), [pid(500)]);
        assert!(runs.groups(0).is_empty());
        runs.orphans.insert(pid(510), Some(1));
        runs.orphans.insert(pid(520), None);
        assert!(!runs.is_gone(1), "an attributed child is still alive");
        assert_eq!(runs.orphan_reaped(pid(510)), Some(1));
        assert!(runs.wants_scan());
        assert_eq!(runs.orphan_reaped(pid(520)), None);
        runs.finished(1);
        assert!(runs.groups(1).is_empty());
    }
}

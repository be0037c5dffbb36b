//! What `/proc` says about processes: the children of a process, a process's group, state
//! and start time, and every descendant of a process.
//!
//! Read only when something happens (a program's process ended, a run is signalled, the
//! final sweep), never on a timer. A process can end between two reads: every function
//! here treats a vanished process as "not there", never as an error worth more than a
//! debug line.

use std::io;

use nix::unistd::Pid;

/// The children of `pid`, from `/proc/PID/task/*/children` (every thread's).
pub fn children(pid: Pid) -> io::Result<Vec<Pid>> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("children");
        // A thread that just ended has no file any more.
        if let Ok(text) = std::fs::read_to_string(path) {
            found.extend(
                text.split_ascii_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .map(Pid::from_raw),
            );
        }
    }
    Ok(found)
}

/// tinysup's own children. tinysup has one thread, so one file lists them all (a process's
/// children are listed under the thread that forked them).
pub fn own_children() -> io::Result<Vec<Pid>> {
    let text = std::fs::read_to_string("/proc/thread-self/children")?;
    Ok(text
        .split_ascii_whitespace()
        .filter_map(|p| p.parse().ok())
        .map(Pid::from_raw)
        .collect())
}

/// Every descendant of `pid` (not `pid` itself), parents before their children.
pub fn descendants(pid: Pid) -> Vec<Pid> {
    let mut all = Vec::new();
    let mut next = 0;
    let mut parent = pid;
    loop {
        all.extend(children(parent).unwrap_or_default());
        match all.get(next) {
            Some(&child) => {
                parent = child;
                next += 1;
            }
            None => return all,
        }
    }
}

/// A few fields of `/proc/PID/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z`, `T`, …
    pub state: u8,
    pub pgid: Pid,
}

/// Reads `/proc/PID/stat`.
pub fn stat(pid: Pid) -> io::Result<Stat> {
    let text = std::fs::read(format!("/proc/{pid}/stat"))?;
    parse_stat(&text).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
}

/// Parses the fields after the command name, which is in parentheses and may itself hold
/// spaces and parentheses: the last `)` ends it.
fn parse_stat(text: &[u8]) -> Option<Stat> {
    let end = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(end + 2..)?).ok()?;
    // Fields 3 (state), 4 (ppid), 5 (pgrp), …
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let _ppid = fields.next()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(Stat {
        state,
        pgid: Pid::from_raw(pgid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_whatever_the_command_name() {
        let line = b"4242 (a (weird) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: b'S',
                pgid: Pid::from_raw(4240)
            })
        );
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        let own = Pid::this();
        let stat = stat(own).unwrap();
        assert_eq!(stat.pgid, nix::unistd::getpgrp());
        assert!(children(own).is_ok());
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        // The test harness has threads: the child is in the file of the thread that forked it.
        assert!(own_children().unwrap().contains(&pid));
        assert!(descendants(own).contains(&pid));
        let _ = child.kill();
        let _ = child.wait();
    }
}

//! The reaper: the only caller of `waitpid` in tinysup.
//!
//! An init must reap every child, supervised or not; a second waiter (std's `Child::wait`,
//! a helper thread) would race it and steal exit statuses. So nothing else waits.

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::signal::Signal;
use crate::status::ExitStatus;

/// Whether tinysup still has children after a [`reap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Children {
    /// Some children are still alive.
    Remaining,
    /// No children at all (`ECHILD`).
    None,
}

/// Reaps every child that has ended, without blocking, calling `reaped` for each one.
pub fn reap(mut reaped: impl FnMut(Pid, ExitStatus)) -> Children {
    loop {
        match wait_any() {
            Ok(Some((pid, status))) => reaped(pid, status),
            Ok(None) => return Children::Remaining,
            Err(Errno::ECHILD) => return Children::None,
            Err(Errno::EINTR) => continue,
            Err(error) => {
                // waitpid(-1, WNOHANG) has no other documented failure; do not spin on one.
                log::error!("waitpid failed: {error}");
                return Children::Remaining;
            }
        }
    }
}

/// One `waitpid(-1, WNOHANG)`. `Ok(None)`: children exist but none has ended.
///
/// Calls libc directly: nix's `waitpid` turns the status into its `Signal` enum, which has
/// no real-time signals, so a child killed by SIGRTMIN+N would be reaped and then reported
/// as EINVAL, its status lost.
#[allow(unsafe_code)]
fn wait_any() -> Result<Option<(Pid, ExitStatus)>, Errno> {
    let mut raw: libc::c_int = 0;
    // SAFETY: `raw` is a valid, writable c_int for the duration of the call.
    let pid = Errno::result(unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) })?;
    if pid == 0 {
        return Ok(None);
    }
    let status = if libc::WIFEXITED(raw) {
        ExitStatus::Code(libc::WEXITSTATUS(raw))
    } else if libc::WIFSIGNALED(raw) {
        match Signal::from_number(libc::WTERMSIG(raw)) {
            Some(signal) => ExitStatus::Signal(signal),
            // A signal number outside the usable range: keep the shell's 128+N meaning.
            None => ExitStatus::Code(128 + libc::WTERMSIG(raw)),
        }
    } else {
        // Stopped/continued are only reported with WUNTRACED/WCONTINUED, never asked for.
        log::debug!("waitpid: unexpected status {raw:#x} for pid {pid}");
        return Ok(None);
    };
    Ok(Some((Pid::from_raw(pid), status)))
}

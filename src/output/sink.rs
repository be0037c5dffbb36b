//! One of tinysup's own output destinations (its stdout or its stderr): a bounded queue of
//! formatted lines, and a writer that never blocks the loop.
//!
//! tinysup's stdout is shared with `raw` programs, so it cannot be made non-blocking (they
//! would get EAGAIN). Instead, for a pipe, FIFO or terminal tinysup opens its own file
//! description of the same file, non-blocking, through `/proc/self/fd/N`. A socket is
//! written with `MSG_DONTWAIT`. A regular file never blocks. Only if none of that works (no
//! /proc) does it fall back to writing at most `PIPE_BUF` bytes after poll says writable.
//!
//! A closed reader (EPIPE) closes the destination for good: what it would have received is
//! dropped, and tinysup goes on supervising. Any other write error (a full disk: ENOSPC,
//! EDQUOT; EIO) is taken as passing: what could not be written is dropped and counted rather
//! than held (holding it would block every program on a full disk), and the next bytes to
//! write are the next attempt (no retry timer). When a write succeeds again, that is said
//! with the count.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, send};
use nix::sys::stat::SFlag;

/// Above this many queued bytes a destination has no room: the streams that feed it are not
/// read until it drains, so their programs block on their pipes (backpressure).
pub const HIGH_WATER: usize = 256 * 1024;

/// The most a guarded write (no private non-blocking description) writes after a poll: a
/// pipe takes up to PIPE_BUF bytes at once whenever poll reports it writable.
const GUARDED_CHUNK: usize = 4096;

/// How bytes reach the file without blocking.
#[derive(Debug)]
enum Writer {
    /// tinysup's own non-blocking description of the same pipe or terminal.
    Private(OwnedFd),
    /// A socket: `send` with `MSG_DONTWAIT`.
    Socket(OwnedFd),
    /// A regular file (writes do not block) or, without /proc, a guarded pipe.
    Plain { fd: OwnedFd, guarded: bool },
}

/// What a flush achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flushed {
    /// Everything queued is written.
    All,
    /// Some is left; wait until the file is writable.
    WouldBlock,
    /// The reader is gone (EPIPE, EBADF): the destination is closed for good.
    Closed(Errno),
    /// A write failed with an error that may pass (ENOSPC): what was queued is dropped.
    /// Reported once, when the failures begin.
    Failing(Errno),
    /// A write failed again (already reported): what was queued is dropped and counted.
    Dropped,
    /// Writes succeed again after failing with `errno`; `dropped` bytes were lost meanwhile.
    Recovered { errno: Errno, dropped: usize },
}

#[derive(Debug)]
pub struct Destination {
    /// "stdout" or "stderr".
    pub label: &'static str,
    writer: Option<Writer>,
    /// The bytes being written, from `written` on. A partial write leaves the rest where it
    /// is: new lines go to `filling`, and the two swap when `sending` is done, so queued
    /// bytes are never moved.
    sending: Vec<u8>,
    written: usize,
    filling: Vec<u8>,
    /// The file is a terminal (for `color: auto`).
    pub terminal: bool,
    /// The last flush stopped at EAGAIN: worth polling for POLLOUT.
    blocked: bool,
    /// Writes fail with this error (one that may pass); bytes dropped since.
    failing: Option<(Errno, usize)>,
}

impl Destination {
    /// Sets up writing to `fd` (tinysup's stdout or stderr), which is `number` (1 or 2).
    pub fn open(fd: BorrowedFd<'_>, number: i32, label: &'static str) -> Destination {
        let terminal = nix::unistd::isatty(fd).unwrap_or(false);
        let writer = match fd.try_clone_to_owned() {
            Ok(own) => Some(choose_writer(own, number)),
            // Closed before tinysup started: nothing can be written there.
            Err(_) => None,
        };
        Destination {
            label,
            writer,
            sending: Vec::new(),
            filling: Vec::new(),
            written: 0,
            terminal,
            blocked: false,
            failing: None,
        }
    }

    /// The buffer to append formatted lines to (dropped at once if the destination is closed).
    pub fn queue(&mut self) -> &mut Vec<u8> {
        &mut self.filling
    }

    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.sending.len() - self.written + self.filling.len()
    }

    /// Room for more: below [`HIGH_WATER`], or closed (everything is dropped anyway).
    pub fn has_room(&self) -> bool {
        self.pending() < HIGH_WATER || self.writer.is_none()
    }

    pub fn is_closed(&self) -> bool {
        self.writer.is_none()
    }

    /// The file to poll for POLLOUT, when queued bytes wait for it.
    pub fn wants_writable(&self) -> Option<BorrowedFd<'_>> {
        let guarded = matches!(self.writer, Some(Writer::Plain { guarded: true, .. }));
        if self.pending() == 0 || !(self.blocked || guarded) {
            return None;
        }
        self.writer.as_ref().map(Writer::fd)
    }

    /// Writes as much as can be written now without blocking. `writable`: poll just said
    /// so (the only time a guarded writer writes).
    pub fn flush(&mut self, writable: bool) -> Flushed {
        let Some(writer) = &self.writer else {
            self.discard();
            return Flushed::All;
        };
        let mut guarded_turn = writable;
        let mut recovered = None;
        let result = loop {
            if self.written == self.sending.len() {
                self.sending.clear();
                self.written = 0;
                std::mem::swap(&mut self.sending, &mut self.filling);
                if self.sending.is_empty() {
                    break Flushed::All;
                }
            }
            let rest = &self.sending[self.written..];
            let attempt = match writer {
                Writer::Private(fd) | Writer::Plain { fd, guarded: false } => {
                    nix::unistd::write(fd, rest)
                }
                Writer::Socket(fd) => send(
                    fd.as_raw_fd(),
                    rest,
                    MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                ),
                Writer::Plain { fd, guarded: true } => {
                    if !guarded_turn {
                        break Flushed::WouldBlock;
                    }
                    guarded_turn = false;
                    nix::unistd::write(fd, &rest[..rest.len().min(GUARDED_CHUNK)])
                }
            };
            match attempt {
                Ok(n) => {
                    self.written += n;
                    if let Some((errno, dropped)) = self.failing.take() {
                        recovered = Some(Flushed::Recovered { errno, dropped });
                    }
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break Flushed::WouldBlock,
                Err(error) if is_final(error) => break Flushed::Closed(error),
                Err(error) => break Flushed::Failing(error),
            }
        };
        self.blocked = result == Flushed::WouldBlock;
        match result {
            Flushed::Closed(_) => {
                self.writer = None;
                self.discard();
            }
            Flushed::Failing(errno) => {
                let dropped = self.pending();
                self.discard();
                match &mut self.failing {
                    // Said once, when the failures begin.
                    Some((_, count)) => {
                        *count += dropped;
                        return Flushed::Dropped;
                    }
                    None => self.failing = Some((errno, dropped)),
                }
            }
            // A write went through: if writes were failing, that is news.
            Flushed::All | Flushed::WouldBlock => {
                if let Some(recovered) = recovered {
                    return recovered;
                }
            }
            Flushed::Dropped | Flushed::Recovered { .. } => {}
        }
        result
    }

    /// Drops everything queued and not yet written (at the end, for a stalled reader).
    pub fn drop_pending(&mut self) {
        self.discard();
    }

    /// Drops everything queued (the destination is closed).
    fn discard(&mut self) {
        self.sending = Vec::new();
        self.filling = Vec::new();
        self.written = 0;
    }
}

/// True for a write error after which the file cannot take more: its reader is gone.
fn is_final(error: Errno) -> bool {
    matches!(
        error,
        Errno::EPIPE | Errno::EBADF | Errno::ECONNRESET | Errno::ENOTCONN | Errno::EINVAL
    )
}

impl Writer {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Writer::Private(fd) | Writer::Socket(fd) | Writer::Plain { fd, .. } => fd.as_fd(),
        }
    }
}

/// Picks how to write to `fd` (a duplicate of tinysup's descriptor `number`).
fn choose_writer(fd: OwnedFd, number: i32) -> Writer {
    let kind = match nix::sys::stat::fstat(&fd) {
        Ok(stat) => SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT,
        Err(_) => return Writer::Plain { fd, guarded: true },
    };
    if kind == SFlag::S_IFSOCK {
        return Writer::Socket(fd);
    }
    if kind == SFlag::S_IFREG {
        return Writer::Plain { fd, guarded: false };
    }
    if kind == SFlag::S_IFIFO || kind == SFlag::S_IFCHR {
        let private = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(format!("/proc/self/fd/{number}"));
        if let Ok(file) = private {
            return Writer::Private(file.into());
        }
    }
    Writer::Plain { fd, guarded: true }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
    }

    fn destination(writer: Writer) -> Destination {
        Destination {
            label: "test",
            writer: Some(writer),
            sending: Vec::new(),
            written: 0,
            filling: Vec::new(),
            terminal: false,
            blocked: false,
            failing: None,
        }
    }

    #[test]
    fn writes_everything_then_reports_all() {
        let (read, write) = pipe();
        let mut destination = destination(Writer::Plain {
            fd: write,
            guarded: false,
        });
        destination.queue().extend_from_slice(b"one\ntwo\n");
        assert_eq!(destination.flush(false), Flushed::All);
        assert_eq!(destination.pending(), 0);
        drop(destination);
        let mut text = String::new();
        std::fs::File::from(read).read_to_string(&mut text).unwrap();
        assert_eq!(text, "one\ntwo\n");
    }

    #[test]
    fn a_full_pipe_would_block_and_a_closed_one_closes() {
        let (read, write) = pipe();
        nix::fcntl::fcntl(
            &write,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut destination = destination(Writer::Private(write));
        destination.queue().resize(1024 * 1024, b'x');
        assert_eq!(destination.flush(false), Flushed::WouldBlock);
        assert!(destination.pending() > 0 && destination.wants_writable().is_some());
        assert!(!destination.has_room());
        drop(read);
        assert_eq!(destination.flush(true), Flushed::Closed(Errno::EPIPE));
        assert!(destination.is_closed() && destination.has_room());
        destination.queue().extend_from_slice(b"dropped\n");
        assert_eq!(destination.flush(false), Flushed::All);
        assert_eq!(destination.pending(), 0);
    }

    #[test]
    fn a_guarded_writer_writes_one_chunk_per_poll() {
        let (read, write) = pipe();
        let mut destination = destination(Writer::Plain {
            fd: write,
            guarded: true,
        });
        destination.queue().resize(10_000, b'y');
        assert_eq!(
            destination.flush(false),
            Flushed::WouldBlock,
            "not without poll's word"
        );
        assert_eq!(destination.pending(), 10_000);
        assert_eq!(destination.flush(true), Flushed::WouldBlock);
        assert_eq!(destination.pending(), 10_000 - GUARDED_CHUNK);
        drop(read);
    }
}

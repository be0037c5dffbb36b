//! Line framing for one output stream: bytes in, whole lines out. Pure, time passed in.
//!
//! - A line is released as soon as its newline arrives.
//! - A partial line (a prompt, a progress bar) is released [`PARTIAL_WAIT`] after its first
//!   byte arrived, so it is never held longer than that.
//! - A line longer than [`MAX_LINE`] is split into several, never cut.
//!
//! Memory per stream is bounded by [`MAX_LINE`].

use std::time::{Duration, Instant};

/// The longest line released whole; longer ones are split (as Docker splits at 16 KiB).
pub const MAX_LINE: usize = 16 * 1024;

/// How long a partial line waits for the rest of itself.
pub const PARTIAL_WAIT: Duration = Duration::from_millis(100);

/// The unfinished line of one stream.
#[derive(Debug, Default)]
pub struct Framer {
    partial: Vec<u8>,
    /// When the first byte of `partial` arrived.
    since: Option<Instant>,
}

impl Framer {
    /// Takes `data` read at `now` and calls `emit` with every complete line (without its
    /// newline), in order.
    pub fn push(&mut self, mut data: &[u8], now: Instant, mut emit: impl FnMut(&[u8])) {
        // Finish the line already started.
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(end) => {
                    self.extend_partial(&data[..end], &mut emit);
                    // Empty only if the line just filled a whole piece, already released.
                    if !self.partial.is_empty() {
                        emit(&self.partial);
                    }
                    self.partial.clear();
                    self.since = None;
                    data = &data[end + 1..];
                }
                None => {
                    self.extend_partial(data, &mut emit);
                    return;
                }
            }
        }
        // Whole lines straight from `data`, without copying.
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            emit_split(&data[start..end], &mut emit);
            start = end + 1;
        }
        let rest = &data[start..];
        if !rest.is_empty() {
            self.extend_partial(rest, &mut emit);
            if self.since.is_none() && !self.partial.is_empty() {
                self.since = Some(now);
            }
        }
    }

    /// When the partial line must be released, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.since.map(|since| since + PARTIAL_WAIT)
    }

    /// Releases the partial line if its time has come (or, with `force`, at once).
    pub fn release(&mut self, now: Instant, force: bool, mut emit: impl FnMut(&[u8])) {
        let due = self.deadline().is_some_and(|at| now >= at);
        if !self.partial.is_empty() && (force || due) {
            emit(&self.partial);
            self.partial.clear();
            self.since = None;
        }
    }

    /// Appends to the partial line, releasing full `MAX_LINE` pieces as it grows.
    fn extend_partial(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8])) {
        while self.partial.len() + data.len() >= MAX_LINE {
            let take = MAX_LINE - self.partial.len();
            self.partial.extend_from_slice(&data[..take]);
            emit(&self.partial);
            self.partial.clear();
            data = &data[take..];
        }
        if self.partial.is_empty() && data.is_empty() {
            self.since = None;
        }
        self.partial.extend_from_slice(data);
    }
}

/// Emits `line`, in `MAX_LINE` pieces if it is longer.
fn emit_split(line: &[u8], emit: &mut impl FnMut(&[u8])) {
    if line.is_empty() {
        emit(line);
        return;
    }
    for piece in line.chunks(MAX_LINE) {
        emit(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(framer: &mut Framer, data: &[u8], now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        framer.push(data, now, |line| {
            out.push(String::from_utf8_lossy(line).into_owned())
        });
        out
    }

    #[test]
    fn whole_lines_at_once() {
        let mut framer = Framer::default();
        let now = Instant::now();
        assert_eq!(
            lines(&mut framer, b"a\nbb\n\nccc\n", now),
            ["a", "bb", "", "ccc"]
        );
        assert_eq!(framer.deadline(), None);
    }

    #[test]
    fn a_line_in_pieces_is_joined() {
        let mut framer = Framer::default();
        let now = Instant::now();
        assert!(lines(&mut framer, b"hel", now).is_empty());
        assert_eq!(framer.deadline(), Some(now + PARTIAL_WAIT));
        assert!(lines(&mut framer, b"lo wor", now + Duration::from_millis(50)).is_empty());
        // The deadline counts from the first byte.
        assert_eq!(framer.deadline(), Some(now + PARTIAL_WAIT));
        assert_eq!(
            lines(&mut framer, b"ld\nnext\npart", now),
            ["hello world", "next"]
        );
        assert_eq!(framer.deadline(), Some(now + PARTIAL_WAIT));
    }

    #[test]
    fn a_partial_line_is_released_after_the_wait() {
        let mut framer = Framer::default();
        let now = Instant::now();
        lines(&mut framer, b"Password: ", now);
        let mut out = Vec::new();
        framer.release(now + Duration::from_millis(99), false, |l| {
            out.push(l.to_vec())
        });
        assert!(out.is_empty());
        framer.release(now + PARTIAL_WAIT, false, |l| out.push(l.to_vec()));
        assert_eq!(out, [b"Password: ".to_vec()]);
        assert_eq!(framer.deadline(), None);
        // What follows is a line of its own.
        assert_eq!(lines(&mut framer, b"secret\n", now), ["secret"]);
    }

    #[test]
    fn forced_release_and_nothing_to_release() {
        let mut framer = Framer::default();
        let now = Instant::now();
        let mut out = Vec::new();
        framer.release(now, true, |l| out.push(l.to_vec()));
        assert!(out.is_empty());
        lines(&mut framer, b"tail", now);
        framer.release(now, true, |l| out.push(l.to_vec()));
        assert_eq!(out, [b"tail".to_vec()]);
    }

    #[test]
    fn long_lines_are_split_not_cut() {
        let mut framer = Framer::default();
        let now = Instant::now();
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut data = long.clone();
        data.push(b'\n');
        let out = lines(&mut framer, &data, now);
        assert_eq!(
            out.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE, MAX_LINE, 10]
        );
        // The same in small reads, through the partial buffer.
        let mut out = Vec::new();
        for piece in data.chunks(1000) {
            out.extend(lines(&mut framer, piece, now));
        }
        assert_eq!(
            out.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE, MAX_LINE, 10]
        );
        assert_eq!(out.concat().len(), long.len(), "every byte kept");
    }

    #[test]
    fn a_partial_line_that_fills_up_is_released_whole() {
        let mut framer = Framer::default();
        let now = Instant::now();
        assert!(lines(&mut framer, &vec![b'y'; MAX_LINE - 1], now).is_empty());
        assert_eq!(lines(&mut framer, b"y", now).len(), 1);
        assert_eq!(framer.deadline(), None, "nothing is pending any more");
        // Exactly MAX_LINE, then its newline: one line, no empty one after it.
        assert!(lines(&mut framer, &vec![b'z'; MAX_LINE - 1], now).is_empty());
        assert_eq!(
            lines(&mut framer, b"z\nnext\n", now)
                .iter()
                .map(String::len)
                .collect::<Vec<_>>(),
            [MAX_LINE, 4]
        );
    }
}

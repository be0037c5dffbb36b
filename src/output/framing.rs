//! Line framing for one output stream: bytes in, whole lines out. Pure, time passed in.
//!
//! - A line is released as soon as its newline arrives.
//! - A partial line (a prompt, a progress bar) is released [`PARTIAL_WAIT`] after its first
//!   byte arrived, so it is never held longer than that.
//! - A line longer than [`MAX_LINE`] is split into several, never cut.
//! - Neither split cuts a UTF-8 character in two (both halves would become U+FFFD in
//!   `json`): a long line is split before a character that would straddle the cut, and a
//!   partial line released on time keeps back an incomplete character at its end (at most
//!   3 bytes) until the rest of it comes (or the final release, at the end); bytes that are
//!   not valid UTF-8 are split anywhere. What is kept back waits without a deadline.
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
    /// When the first byte of `partial` arrived (`None` for an incomplete character kept
    /// back: it waits for the rest, not for time).
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
                    // A character kept back waited without a deadline; more of the line
                    // starts the wait.
                    if self.since.is_none() && !self.partial.is_empty() {
                        self.since = Some(now);
                    }
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

    /// Releases the partial line if its time has come (or, with `force`, at once). An
    /// incomplete character at its end stays for the rest of it, unless forced.
    pub fn release(&mut self, now: Instant, force: bool, mut emit: impl FnMut(&[u8])) {
        let due = self.deadline().is_some_and(|at| now >= at);
        if self.partial.is_empty() || !(force || due) {
            return;
        }
        let keep = if force {
            0
        } else {
            incomplete_tail(&self.partial)
        };
        let release = self.partial.len() - keep;
        if release > 0 {
            emit(&self.partial[..release]);
        }
        self.partial.drain(..release);
        self.since = None;
    }

    /// Appends to the partial line, releasing `MAX_LINE` pieces (cut on a character
    /// boundary) as it grows.
    fn extend_partial(&mut self, data: &[u8], emit: &mut impl FnMut(&[u8])) {
        self.partial.extend_from_slice(data);
        if self.partial.len() < MAX_LINE {
            return;
        }
        let mut start = 0;
        while self.partial.len() - start >= MAX_LINE {
            let cut = start + char_boundary(&self.partial[start..], MAX_LINE);
            emit(&self.partial[start..cut]);
            start = cut;
        }
        self.partial.drain(..start);
        if self.partial.is_empty() {
            self.since = None;
        }
    }
}

/// Emits `line`, in pieces of at most `MAX_LINE` bytes cut on character boundaries.
fn emit_split(mut line: &[u8], emit: &mut impl FnMut(&[u8])) {
    if line.len() <= MAX_LINE {
        emit(line);
        return;
    }
    while line.len() > MAX_LINE {
        let cut = char_boundary(line, MAX_LINE);
        emit(&line[..cut]);
        line = &line[cut..];
    }
    if !line.is_empty() {
        emit(line);
    }
}

/// Where to cut `bytes` (at least `at` bytes long) at most `at` bytes in: at `at`, or a little
/// before it when a valid multi-byte character (or the valid beginning of one, at the end of
/// a partial line) would straddle the cut. Invalid bytes are cut anywhere.
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    let is_continuation = |b: u8| b & 0xC0 == 0x80;
    if at >= bytes.len() {
        // Exactly `at` bytes (a partial line): the last character may not be complete yet.
        let tail = incomplete_tail(&bytes[..at.min(bytes.len())]);
        return if tail < at { at - tail } else { at };
    }
    if !is_continuation(bytes[at]) {
        return at;
    }
    // The lead byte of the character the cut falls in: at most 3 bytes back.
    let Some(lead) = (1..=3.min(at))
        .map(|back| at - back)
        .find(|&p| !is_continuation(bytes[p]))
    else {
        return at;
    };
    let end = (lead + utf8_length(bytes[lead])).min(bytes.len());
    if lead > 0 && end > at && valid_start(&bytes[lead..end]) {
        lead
    } else {
        at
    }
}

/// True if `bytes` is one valid UTF-8 character, or the valid beginning of one.
fn valid_start(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(error) => error.valid_up_to() == 0 && error.error_len().is_none(),
    }
}

/// How many bytes at the end of `bytes` are the valid beginning of a character that is not
/// complete yet (0 to 3).
fn incomplete_tail(bytes: &[u8]) -> usize {
    let Some(lead) = (1..=3.min(bytes.len()))
        .map(|back| bytes.len() - back)
        .find(|&p| bytes[p] & 0xC0 != 0x80)
    else {
        return 0;
    };
    let tail = &bytes[lead..];
    if utf8_length(bytes[lead]) > tail.len() && valid_start(tail) {
        tail.len()
    } else {
        0
    }
}

/// The length a UTF-8 character starting with `lead` has (1 for ASCII and invalid bytes).
fn utf8_length(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
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

    /// Every line `framer` emits for `data` pushed in `pieces`, then released by force.
    fn framed(data: &[u8], pieces: usize) -> Vec<Vec<u8>> {
        let mut framer = Framer::default();
        let now = Instant::now();
        let mut out = Vec::new();
        for piece in data.chunks(pieces) {
            framer.push(piece, now, |l| out.push(l.to_vec()));
        }
        framer.release(now, true, |l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn long_lines_are_split_between_characters() {
        for character in ["é", "€", "😀"] {
            // An odd number of ASCII bytes first, so the cut falls inside a character.
            let mut text = "a".repeat(3);
            while text.len() < MAX_LINE * 2 + 100 {
                text.push_str(character);
            }
            let mut data = text.clone().into_bytes();
            data.push(b'\n');
            for pieces in [data.len(), 1000, 7] {
                let out = framed(&data, pieces);
                assert!(out.len() >= 3, "{character} in pieces of {pieces}");
                for line in &out {
                    assert!(line.len() <= MAX_LINE);
                    assert!(
                        std::str::from_utf8(line).is_ok(),
                        "{character} in pieces of {pieces}: a piece of {} bytes is cut inside a character",
                        line.len()
                    );
                }
                assert_eq!(out.concat(), text.as_bytes(), "every byte kept");
            }
        }
        // Bytes that are not UTF-8 are split at the limit, as before.
        let mut data = vec![0x80u8; MAX_LINE + 10];
        data.push(b'\n');
        let out = framed(&data, data.len());
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), [MAX_LINE, 10]);
    }

    #[test]
    fn a_partial_line_keeps_back_an_incomplete_character() {
        let mut framer = Framer::default();
        let now = Instant::now();
        let mut out = Vec::new();
        // "abc" then the first byte of "é": at the release, "abc" goes, the byte stays, and
        // waits for the rest without a deadline (no wake-up for it).
        framer.push(b"abc\xc3", now, |l| out.push(l.to_vec()));
        framer.release(now + PARTIAL_WAIT, false, |l| out.push(l.to_vec()));
        assert_eq!(out, [b"abc".to_vec()]);
        assert_eq!(framer.deadline(), None);
        // The rest of the character comes, however late: it joins.
        framer.push(b"\xa9 def\n", now + PARTIAL_WAIT * 30, |l| {
            out.push(l.to_vec())
        });
        assert_eq!(out[1], "é def".as_bytes());
        // A partial that is only an incomplete character is not released on time...
        let mut out = Vec::new();
        framer.push(b"\xe2\x82", now, |l| out.push(l.to_vec()));
        framer.release(now + PARTIAL_WAIT, false, |l| out.push(l.to_vec()));
        assert!(out.is_empty());
        assert_eq!(framer.deadline(), None);
        // ...and more of the line starts the wait again.
        framer.push(b"\xac and more", now + PARTIAL_WAIT * 2, |l| {
            out.push(l.to_vec())
        });
        assert_eq!(framer.deadline(), Some(now + PARTIAL_WAIT * 3));
        framer.release(now + PARTIAL_WAIT * 3, false, |l| out.push(l.to_vec()));
        assert_eq!(out, ["€ and more".as_bytes().to_vec()]);
        // An invalid byte at the end is not kept back; a forced release keeps nothing.
        let mut out = Vec::new();
        framer.push(b"x\xff", now, |l| out.push(l.to_vec()));
        framer.release(now + PARTIAL_WAIT, false, |l| out.push(l.to_vec()));
        assert_eq!(out, [b"x\xff".to_vec()]);
        framer.push(b"y\xc3", now, |l| out.push(l.to_vec()));
        framer.release(now, true, |l| out.push(l.to_vec()));
        assert_eq!(out[1], b"y\xc3");
    }

    #[test]
    fn utf8_helpers() {
        assert_eq!(incomplete_tail(b"abc"), 0);
        assert_eq!(incomplete_tail(b"ab\xc3"), 1);
        assert_eq!(incomplete_tail("é".as_bytes()), 0);
        assert_eq!(incomplete_tail(b"a\xf0\x9f\x98"), 3);
        assert_eq!(incomplete_tail(b"a\xe2\x28"), 0, "invalid continuation");
        assert_eq!(incomplete_tail(b"\x80\x80\x80"), 0);
        let text = "aé".as_bytes(); // a, c3, a9
        assert_eq!(char_boundary(text, 2), 1);
        assert_eq!(char_boundary(b"abcd", 2), 2);
    }
}

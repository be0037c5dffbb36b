//! The output path: programs' pipes → line framing → formatting → tinysup's stdout/stderr.
//!
//! - [`framing`]: bytes to lines (partial lines after 100 ms, long lines split);
//! - [`format`]: `prefix`, `json`, and tinysup's own messages;
//! - [`sink`]: each destination's bounded queue and its never-blocking writer.
//!
//! The [`Hub`] owns the read ends of the programs' pipes. The write ends belong to the
//! supervisor, which keeps them open across restarts: nothing written between two runs is
//! lost, and end of file never has to be waited for, so a grandchild holding a pipe open
//! delays nothing. A stream is read only while its destination has room; a stalled reader
//! of tinysup's stdout therefore fills the pipes and blocks the programs (backpressure),
//! while the loop goes on handling signals, reaping and deadlines.

pub mod format;
pub mod framing;
pub mod sink;

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::stat::fstat;

use self::format::{Clock, Formatter, StreamKind};
use self::framing::Framer;
use self::sink::{Destination, Flushed};
use crate::config::{ColorMode, Config, OutputMode};
use crate::logger::Message;
use crate::spawn::ChildOutput;

/// One read takes at most this much from a pipe.
const READ_CHUNK: usize = 64 * 1024;
/// A stream is read at most this many times per turn of the loop, so one noisy program
/// cannot starve the others (or the loop).
const READS_PER_TURN: usize = 4;
/// The final drain reads at most this much per stream: a grandchild still writing after
/// the end must not keep tinysup from exiting.
const FINAL_READ_LIMIT: usize = 1024 * 1024;

/// One program's stdout or stderr, as tinysup reads it.
struct ProgramStream {
    program: usize,
    kind: StreamKind,
    read: OwnedFd,
    framer: Framer,
}

/// Why [`Hub::read_stream`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadStop {
    /// The pipe is empty.
    Empty,
    /// The destination has no room.
    Full,
    /// The budget is used up.
    Budget,
    /// A read returned less than asked: probably empty.
    Short,
}

/// What poll reported about, for [`Hub::ready`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// A program stream has data.
    Stream(usize),
    /// A destination can take more.
    Destination(usize),
}

pub struct Hub {
    streams: Vec<ProgramStream>,
    /// tinysup's stdout and stderr; one entry when both are the same file.
    destinations: Vec<Destination>,
    /// Destination index for [stdout, stderr].
    route: [usize; 2],
    formatter: Formatter,
    scratch: Vec<u8>,
}

impl Hub {
    /// Creates a pipe for each `prefix`/`json` stream of `config`'s programs. Returns the
    /// hub and, for each program by index, where its stdout and stderr go.
    pub fn new(config: &Config) -> io::Result<(Hub, Vec<(ChildOutput, ChildOutput)>)> {
        let stdout = io::stdout();
        let stderr = io::stderr();
        let mut destinations = vec![Destination::open(stdout.as_fd(), 1, "stdout")];
        let route = if same_file(stdout.as_fd(), stderr.as_fd()) {
            [0, 0]
        } else {
            destinations.push(Destination::open(stderr.as_fd(), 2, "stderr"));
            [0, 1]
        };
        let color = route.map(|d| match config.color {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => destinations[d].terminal,
        });
        let programs: Vec<(String, OutputMode)> = config
            .programs
            .iter()
            .map(|p| (p.name.clone(), p.output))
            .collect();
        let formatter = Formatter::new(&programs, config.output, config.timestamps, color);

        let mut streams = Vec::new();
        let mut outputs = Vec::new();
        for (index, program) in config.programs.iter().enumerate() {
            let mut target = |kind: StreamKind| -> io::Result<ChildOutput> {
                Ok(match program.output {
                    OutputMode::Raw => ChildOutput::Inherit,
                    OutputMode::Null => ChildOutput::Null,
                    OutputMode::Prefix | OutputMode::Json => {
                        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
                        // Only tinysup's end is non-blocking: the program's writes must block
                        // when the pipe is full (backpressure).
                        fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
                        streams.push(ProgramStream {
                            program: index,
                            kind,
                            read,
                            framer: Framer::default(),
                        });
                        ChildOutput::Pipe(write)
                    }
                })
            };
            let stdout = target(StreamKind::Stdout)?;
            let stderr = target(StreamKind::Stderr)?;
            outputs.push((stdout, stderr));
        }
        let hub = Hub {
            streams,
            destinations,
            route,
            formatter,
            scratch: vec![0; READ_CHUNK],
        };
        Ok((hub, outputs))
    }

    /// The file descriptors to poll, and for what.
    pub fn interest(&self) -> Vec<(BorrowedFd<'_>, PollFlags, Token)> {
        let mut interest = Vec::new();
        for (i, stream) in self.streams.iter().enumerate() {
            if self.destinations[self.route[stream.kind as usize]].has_room() {
                interest.push((stream.read.as_fd(), PollFlags::POLLIN, Token::Stream(i)));
            }
        }
        for (j, destination) in self.destinations.iter().enumerate() {
            if let Some(fd) = destination.wants_writable() {
                interest.push((fd, PollFlags::POLLOUT, Token::Destination(j)));
            }
        }
        interest
    }

    /// Handles what poll reported for `token` at `now`.
    pub fn ready(&mut self, token: Token, now: Instant) {
        match token {
            Token::Stream(i) => {
                self.read_stream(i, now, READS_PER_TURN * READ_CHUNK, true);
            }
            Token::Destination(j) => self.flush_destination(j, true),
        }
    }

    /// When a partial line must be released, if any is waiting. A stream whose destination
    /// is full does not count: it waits for the destination (POLLOUT), not for time.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.streams
            .iter()
            .filter(|s| self.destinations[self.route[s.kind as usize]].has_room())
            .filter_map(|s| s.framer.deadline())
            .min()
    }

    /// Releases the partial lines whose time has come.
    ///
    /// While a destination is full its streams are not read, so the rest of a partial line
    /// may be waiting, unread, in the program's pipe: the line is released only when the
    /// destination has room again, and after one more read of its stream. A stalled log
    /// reader must not split lines the program wrote whole.
    pub fn tick(&mut self, now: Instant) {
        for i in 0..self.streams.len() {
            let stream = &self.streams[i];
            let due = stream.framer.deadline().is_some_and(|at| now >= at);
            if !due || !self.destinations[self.route[stream.kind as usize]].has_room() {
                continue;
            }
            self.read_stream(i, now, READ_CHUNK, true);
            self.release_partial(i, now, false);
        }
    }

    /// How many bytes of tinysup's own messages stderr has room for now: they wait in the
    /// logger's bounded queue while it has none.
    pub fn log_room(&self) -> usize {
        let destination = &self.destinations[self.route[StreamKind::Stderr as usize]];
        if destination.is_closed() {
            // Dropped anyway: take them, so the logger's queue does not fill.
            usize::MAX
        } else {
            sink::HIGH_WATER.saturating_sub(destination.pending())
        }
    }

    /// Queues tinysup's own messages (on stderr).
    pub fn log(&mut self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let destination = &mut self.destinations[self.route[StreamKind::Stderr as usize]];
        let mut clock = Clock::default();
        for message in messages {
            self.formatter.own_line(
                destination.queue(),
                message.level,
                &message.text,
                &mut clock,
            );
        }
    }

    /// Writes what can be written now, without blocking.
    pub fn flush(&mut self) {
        for j in 0..self.destinations.len() {
            self.flush_destination(j, false);
        }
    }

    /// The last act: reads what the programs left in their pipes and writes it out, waiting
    /// for a slow reader until `deadline` at most. A pipe is read only while its destination
    /// has room, so the memory bound holds to the end, and at most [`FINAL_READ_LIMIT`] per
    /// stream (a grandchild still writing must not keep tinysup from exiting). What a
    /// destination still stalled at the deadline would have received (what is queued for
    /// it, and what is left in its pipes) is dropped, counted, and said in one line where a
    /// line can still go.
    pub fn finish(&mut self, deadline: Instant, take_messages: impl Fn(usize) -> Vec<Message>) {
        let mut budget = vec![FINAL_READ_LIMIT; self.streams.len()];
        let mut emptied = vec![false; self.streams.len()];
        loop {
            let now = Instant::now();
            for i in 0..self.streams.len() {
                if emptied[i] {
                    continue;
                }
                let (taken, stop) = self.read_stream(i, now, budget[i], true);
                budget[i] -= taken;
                if stop == ReadStop::Empty || budget[i] == 0 {
                    emptied[i] = true;
                    self.release_partial(i, now, true);
                }
            }
            self.log(take_messages(self.log_room()));
            self.flush();
            let waiting: Vec<usize> = (0..self.destinations.len())
                .filter(|&j| self.destinations[j].pending() > 0)
                .collect();
            if waiting.is_empty() && emptied.iter().all(|&e| e) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if waiting.is_empty() {
                // Room again: read on.
                continue;
            }
            let mut fds: Vec<PollFd> = waiting
                .iter()
                .filter_map(|&j| self.destinations[j].wants_writable())
                .map(|fd| PollFd::new(fd, PollFlags::POLLOUT))
                .collect();
            if fds.is_empty() {
                break;
            }
            let millis = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            match poll(&mut fds, millis) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => break,
            }
            drop(fds);
            for j in waiting {
                self.flush_destination(j, true);
            }
        }
        self.report_dropped(&budget, &emptied);
    }

    /// At the deadline: counts what each stalled destination would still have received,
    /// drops it, and says so in one line on stderr, or on stdout when stderr is the stalled
    /// one and stdout is another file that can take it. One last write, without waiting.
    fn report_dropped(&mut self, budget: &[usize], emptied: &[bool]) {
        let mut dropped = vec![0usize; self.destinations.len()];
        for (j, count) in dropped.iter_mut().enumerate() {
            *count = self.destinations[j].pending();
        }
        for i in 0..self.streams.len() {
            if !emptied[i] {
                let j = self.route[self.streams[i].kind as usize];
                dropped[j] += self.discard_stream(i, budget[i]);
            }
        }
        for (j, &bytes) in dropped.iter().enumerate() {
            if bytes == 0 {
                continue;
            }
            self.destinations[j].drop_pending();
            let label = self.destinations[j].label;
            let text = format!(
                "{bytes} bytes of output dropped at exit: {label} was not read until the end                  (raise shutdown_timeout, or read it faster)"
            );
            let stderr = self.route[StreamKind::Stderr as usize];
            let to = if j == stderr {
                self.route[StreamKind::Stdout as usize]
            } else {
                stderr
            };
            if to != j {
                let mut clock = Clock::default();
                let out = self.destinations[to].queue();
                self.formatter
                    .own_line(out, log::Level::Warn, &text, &mut clock);
                self.flush_destination(to, true);
            }
        }
    }

    /// Reads and discards what stream `i` holds, at most `limit` bytes; returns how many.
    fn discard_stream(&mut self, i: usize, limit: usize) -> usize {
        let mut discarded = 0;
        while discarded < limit {
            match nix::unistd::read(&self.streams[i].read, &mut self.scratch) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => discarded += n,
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        discarded.min(limit)
    }

    /// Reads stream `i` until it is empty, `budget` bytes were read, or (with `respect_room`)
    /// its destination is full, queueing every complete line. Returns how much it read and
    /// why it stopped.
    fn read_stream(
        &mut self,
        i: usize,
        now: Instant,
        budget: usize,
        respect_room: bool,
    ) -> (usize, ReadStop) {
        let destination_index = self.route[self.streams[i].kind as usize];
        let mut taken = 0;
        while taken < budget {
            if respect_room && !self.destinations[destination_index].has_room() {
                return (taken, ReadStop::Full);
            }
            let n = match nix::unistd::read(&self.streams[i].read, &mut self.scratch) {
                Ok(0) | Err(Errno::EAGAIN) => return (taken, ReadStop::Empty),
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(error) => {
                    log::warn!("reading program output: {}", error.desc());
                    return (taken, ReadStop::Empty);
                }
            };
            taken += n;
            let destination = &mut self.destinations[destination_index];
            if destination.is_closed() {
                // Read anyway, so the program does not block; there is nowhere to write.
                continue;
            }
            let stream = &mut self.streams[i];
            let (program, kind, formatter) = (stream.program, stream.kind, &self.formatter);
            let out = destination.queue();
            let mut clock = Clock::default();
            stream.framer.push(&self.scratch[..n], now, |line| {
                formatter.program_line(out, program, kind, line, &mut clock)
            });
            if n < self.scratch.len() {
                // Probably empty now; the next turn will tell.
                return (taken, ReadStop::Short);
            }
        }
        (taken, ReadStop::Budget)
    }

    fn release_partial(&mut self, i: usize, now: Instant, force: bool) {
        let stream = &mut self.streams[i];
        let destination = &mut self.destinations[self.route[stream.kind as usize]];
        let (program, kind, formatter) = (stream.program, stream.kind, &self.formatter);
        let out = destination.queue();
        let mut clock = Clock::default();
        stream.framer.release(now, force, |line| {
            formatter.program_line(out, program, kind, line, &mut clock)
        });
    }

    fn flush_destination(&mut self, j: usize, writable: bool) {
        let label = self.destinations[j].label;
        match self.destinations[j].flush(writable) {
            Flushed::Closed(error) => log::warn!(
                "{label} was closed ({}): what programs write to it is discarded",
                error.desc()
            ),
            Flushed::Failing(error) => log::warn!(
                "cannot write to {label} ({}): its output is dropped until writes succeed again",
                error.desc()
            ),
            Flushed::Recovered { errno, dropped } => log::warn!(
                "writes to {label} succeed again; {dropped} bytes were dropped meanwhile ({})",
                errno.desc()
            ),
            Flushed::All | Flushed::WouldBlock | Flushed::Dropped => {}
        }
    }
}

/// True if both descriptors are the same open file (as with `2>&1` or one terminal).
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    match (fstat(a), fstat(b)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

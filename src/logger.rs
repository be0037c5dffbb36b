//! tinysup's own messages: a `log::Log` filtered by `TINYSUP_LOG` (env_logger's syntax,
//! parsed by env_filter) or by `-v`, that queues each message instead of writing it.
//!
//! Messages are queued, bounded, because stderr may be a pipe nobody reads: a blocking write
//! there must never stop PID 1. The event loop takes them with [`take`], only as many as the
//! destination has room for, and writes them with the programs' output, in the same format,
//! under the name `tinysup`. While the destination is stalled they wait here; beyond
//! [`QUEUE_BYTES`] new ones are counted and dropped, and the count is said first when writing
//! resumes.

use std::collections::VecDeque;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// At most this many bytes of messages wait in the queue; beyond it new ones are counted and
/// dropped.
pub const QUEUE_BYTES: usize = 64 * 1024;

/// A longer message is cut to this many bytes (then "…"): one message must not fill the
/// queue.
const MESSAGE_LIMIT: usize = 4096;

/// One queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

struct Queue {
    messages: VecDeque<Message>,
    /// The bytes of text queued.
    bytes: usize,
    dropped: usize,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    messages: VecDeque::new(),
    bytes: 0,
    dropped: 0,
});

struct Logger {
    filter: env_filter::Filter,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.filter.matches(record) {
            return;
        }
        let mut text = record.args().to_string();
        if text.len() > MESSAGE_LIMIT {
            let mut end = MESSAGE_LIMIT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        let mut queue = QUEUE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if queue.bytes + text.len() <= QUEUE_BYTES {
            queue.bytes += text.len();
            queue.messages.push_back(Message {
                level: record.level(),
                text,
            });
        } else {
            queue.dropped += 1;
        }
    }

    fn flush(&self) {}
}

/// The filter used when `TINYSUP_LOG` is not set: `warn` in the tini-style mode ("quiet
/// unless something goes wrong"), `info` when supervising, each `-v` one level more.
pub fn default_level(supervising: bool, verbosity: u8) -> LevelFilter {
    const LEVELS: [LevelFilter; 5] = [
        LevelFilter::Error,
        LevelFilter::Warn,
        LevelFilter::Info,
        LevelFilter::Debug,
        LevelFilter::Trace,
    ];
    let base = if supervising { 2 } else { 1 };
    LEVELS[(base + usize::from(verbosity)).min(LEVELS.len() - 1)]
}

/// Parses a `TINYSUP_LOG` value (e.g. `debug`, `tinysup::output=trace`).
pub fn parse_filter(spec: &str) -> Result<env_filter::Filter, String> {
    let mut builder = env_filter::Builder::new();
    builder.try_parse(spec).map_err(|e| e.to_string())?;
    Ok(builder.build())
}

/// A filter that lets everything at `level` and above through.
pub fn level_filter(level: LevelFilter) -> env_filter::Filter {
    env_filter::Builder::new().filter_level(level).build()
}

/// Installs the logger. Called once, in setup.
pub fn init(filter: env_filter::Filter) {
    log::set_max_level(filter.filter());
    // Leaked on purpose: the logger lives as long as the process.
    if log::set_logger(Box::leak(Box::new(Logger { filter }))).is_err() {
        // Only possible if called twice; the first logger stays.
        log::warn!("logger already installed");
    }
}

/// Takes queued messages, in order, up to `room` bytes of text (the first one whatever its
/// size, if there is any room). A note about dropped messages comes first. With no room,
/// nothing is taken: the messages wait, bounded.
pub fn take(room: usize) -> Vec<Message> {
    let mut queue = QUEUE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Called on every turn of the loop: nothing queued (or no room), nothing allocated.
    if (queue.messages.is_empty() && queue.dropped == 0) || room == 0 {
        return Vec::new();
    }
    let mut messages = Vec::new();
    let mut taken = 0;
    if queue.dropped > 0 {
        let text = format!(
            "{} messages dropped: the output was not read fast enough",
            queue.dropped
        );
        taken += text.len();
        messages.push(Message {
            level: Level::Warn,
            text,
        });
        queue.dropped = 0;
    }
    while let Some(next) = queue.messages.front() {
        if taken > 0 && taken + next.text.len() > room {
            break;
        }
        taken += next.text.len();
        let Some(message) = queue.messages.pop_front() else {
            break;
        };
        queue.bytes -= message.text.len();
        messages.push(message);
    }
    messages
}

/// Takes every queued message (setup errors, before the output path exists).
pub fn take_all() -> Vec<Message> {
    take(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_levels() {
        assert_eq!(default_level(false, 0), LevelFilter::Warn);
        assert_eq!(default_level(true, 0), LevelFilter::Info);
        assert_eq!(default_level(false, 1), LevelFilter::Info);
        assert_eq!(default_level(false, 2), LevelFilter::Debug);
        assert_eq!(default_level(true, 9), LevelFilter::Trace);
    }

    #[test]
    fn the_queue_is_bounded_and_taken_as_room_allows() {
        let logger = Logger {
            filter: level_filter(LevelFilter::Info),
        };
        let record = |text: &str| {
            let args = format_args!("{text}");
            logger.log(&Record::builder().level(Level::Info).args(args).build());
        };
        let _ = take_all();
        // Over the bound, messages are counted and dropped.
        let line = "x".repeat(1000);
        for _ in 0..100 {
            record(&line);
        }
        // With no room nothing is taken; with a little, a little.
        assert!(take(0).is_empty());
        let some = take(2500);
        assert_eq!(
            some[0].text,
            "35 messages dropped: the output was not read fast enough"
        );
        assert_eq!(some.len(), 3, "the note and two messages");
        let rest = take_all();
        assert_eq!(rest.len(), QUEUE_BYTES / 1000 - 2);
        // A huge message is cut.
        record(&"y".repeat(10_000));
        let cut = take_all();
        assert!(cut[0].text.len() <= MESSAGE_LIMIT + '…'.len_utf8());
        assert!(cut[0].text.ends_with('…'));
    }

    #[test]
    fn filters_parse_or_fail() {
        assert_eq!(parse_filter("debug").unwrap().filter(), LevelFilter::Debug);
        assert!(parse_filter("tinysup=trace,warn").is_ok());
        assert!(parse_filter("tinysup=loud").is_err());
    }
}

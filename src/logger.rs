//! tinysup's own messages: a `log::Log` filtered by `TINYSUP_LOG` (env_logger's syntax,
//! parsed by env_filter) or by `-v`, that queues each message instead of writing it.
//!
//! Messages are queued, bounded, because stderr may be a pipe nobody reads: a blocking write
//! there must never stop PID 1. The event loop takes them with [`take`] and writes them with
//! the programs' output, in the same format, under the name `tinysup`.

use std::collections::VecDeque;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// At most this many messages wait in the queue; beyond it new ones are counted and dropped.
const QUEUE_LIMIT: usize = 1000;

/// One queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

struct Queue {
    messages: VecDeque<Message>,
    dropped: usize,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    messages: VecDeque::new(),
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
        let message = Message {
            level: record.level(),
            text: record.args().to_string(),
        };
        let mut queue = QUEUE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if queue.messages.len() < QUEUE_LIMIT {
            queue.messages.push_back(message);
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

/// Takes every queued message, in order. A note about dropped messages comes first.
pub fn take() -> Vec<Message> {
    let mut queue = QUEUE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Called on every turn of the loop: nothing queued, nothing allocated.
    if queue.messages.is_empty() && queue.dropped == 0 {
        return Vec::new();
    }
    let mut messages = Vec::with_capacity(queue.messages.len() + 1);
    if queue.dropped > 0 {
        let text = format!(
            "{} messages dropped: the output was not read fast enough",
            queue.dropped
        );
        messages.push(Message {
            level: Level::Warn,
            text,
        });
        queue.dropped = 0;
    }
    messages.extend(queue.messages.drain(..));
    messages
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
    fn filters_parse_or_fail() {
        assert_eq!(parse_filter("debug").unwrap().filter(), LevelFilter::Debug);
        assert!(parse_filter("tinysup=trace,warn").is_ok());
        assert!(parse_filter("tinysup=loud").is_err());
    }
}

//! How a line looks on tinysup's stdout or stderr. Pure: bytes in, bytes appended.
//!
//! - `prefix`: `web    | text`, names padded to the longest (at least `tinysup`), the
//!   `name |` part coloured per program on a terminal, an RFC 3339 UTC timestamp with
//!   milliseconds first when `timestamps` is on;
//! - `json`: `{"ts":"…","program":"web","stream":"stdout","line":"…"}`, invalid UTF-8
//!   replaced (U+FFFD), never dropped;
//! - tinysup's own messages use the global format under the name `tinysup` (raw:
//!   `tinysup: text`).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::OutputMode;

/// Which of a program's streams a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    fn name(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }
}

/// The name tinysup's own messages appear under.
pub const OWN_NAME: &str = "tinysup";

/// ANSI colours for the programs' prefixes, in turn: cyan, yellow, green, magenta, blue, red.
const PALETTE: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// The current time as RFC 3339 UTC with milliseconds, computed at most once per batch of
/// lines (one read), since every line of a batch arrived at the same moment.
#[derive(Debug, Default)]
pub struct Clock {
    text: Option<String>,
}

impl Clock {
    fn now(&mut self) -> &str {
        self.text
            .get_or_insert_with(|| rfc3339_millis(SystemTime::now()))
    }
}

/// Formats lines for every program and for tinysup itself.
#[derive(Debug)]
pub struct Formatter {
    names: Vec<String>,
    modes: Vec<OutputMode>,
    /// The format of tinysup's own messages (the global `output`; `null` reads as `raw`:
    /// tinysup's own errors are never discarded).
    own_mode: OutputMode,
    width: usize,
    timestamps: bool,
    /// Whether prefixes are coloured, for [stdout, stderr].
    color: [bool; 2],
}

impl Formatter {
    /// `programs`: (name, output mode) of each program, by index.
    pub fn new(
        programs: &[(String, OutputMode)],
        own_mode: OutputMode,
        timestamps: bool,
        color: [bool; 2],
    ) -> Formatter {
        let width = programs
            .iter()
            .map(|(name, _)| name.len())
            .chain([OWN_NAME.len()])
            .max()
            .unwrap_or(0);
        Formatter {
            names: programs.iter().map(|(name, _)| name.clone()).collect(),
            modes: programs.iter().map(|(_, mode)| *mode).collect(),
            own_mode: if own_mode == OutputMode::Null {
                OutputMode::Raw
            } else {
                own_mode
            },
            width,
            timestamps,
            color,
        }
    }

    /// Appends one line of program `program`'s `stream` to `out`.
    pub fn program_line(
        &self,
        out: &mut Vec<u8>,
        program: usize,
        stream: StreamKind,
        line: &[u8],
        clock: &mut Clock,
    ) {
        let name = &self.names[program];
        match self.modes[program] {
            OutputMode::Json => json_line(out, clock.now(), name, stream, line, None),
            // Raw and null programs never reach the formatter; prefix is the rest.
            _ => {
                let color = self.color[stream as usize].then(|| PALETTE[program % PALETTE.len()]);
                self.prefix_line(out, name, color, line, clock);
            }
        }
    }

    /// Appends one of tinysup's own messages (always on stderr).
    pub fn own_line(&self, out: &mut Vec<u8>, level: log::Level, text: &str, clock: &mut Clock) {
        let level_word = match level {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        match self.own_mode {
            OutputMode::Json => {
                let level_name = level.as_str().to_ascii_lowercase();
                json_line(
                    out,
                    clock.now(),
                    OWN_NAME,
                    StreamKind::Stderr,
                    text.as_bytes(),
                    Some(&level_name),
                );
            }
            OutputMode::Prefix => {
                let line = format!("{level_word}{text}");
                let color = self.color[StreamKind::Stderr as usize].then_some("1");
                self.prefix_line(out, OWN_NAME, color, line.as_bytes(), clock);
            }
            _ => {
                out.extend_from_slice(format!("{OWN_NAME}: {level_word}{text}\n").as_bytes());
            }
        }
    }

    fn prefix_line(
        &self,
        out: &mut Vec<u8>,
        name: &str,
        color: Option<&str>,
        line: &[u8],
        clock: &mut Clock,
    ) {
        if self.timestamps {
            out.extend_from_slice(clock.now().as_bytes());
            out.push(b' ');
        }
        if let Some(code) = color {
            out.extend_from_slice(b"\x1b[");
            out.extend_from_slice(code.as_bytes());
            out.push(b'm');
        }
        out.extend_from_slice(name.as_bytes());
        out.resize(out.len() + self.width.saturating_sub(name.len()), b' ');
        out.extend_from_slice(b" |");
        if color.is_some() {
            out.extend_from_slice(b"\x1b[0m");
        }
        out.push(b' ');
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

fn json_line(
    out: &mut Vec<u8>,
    ts: &str,
    program: &str,
    stream: StreamKind,
    line: &[u8],
    level: Option<&str>,
) {
    let text = String::from_utf8_lossy(line);
    // Writing to a Vec cannot fail, and serde_json escapes every string it writes.
    let _ = write!(out, "{{\"ts\":\"{ts}\",\"program\":");
    let _ = serde_json::to_writer(&mut *out, program);
    let _ = write!(out, ",\"stream\":\"{}\"", stream.name());
    if let Some(level) = level {
        let _ = write!(out, ",\"level\":\"{level}\"");
    }
    out.extend_from_slice(b",\"line\":");
    let _ = serde_json::to_writer(&mut *out, text.as_ref());
    out.extend_from_slice(b"}\n");
}

/// `2026-11-21T14:20:00.123Z`.
pub fn rfc3339_millis(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn formatter(timestamps: bool, color: bool) -> Formatter {
        let programs = [
            ("web".to_string(), OutputMode::Prefix),
            ("jobs".to_string(), OutputMode::Json),
        ];
        Formatter::new(&programs, OutputMode::Prefix, timestamps, [color, color])
    }

    fn fixed_clock() -> Clock {
        Clock {
            text: Some("2026-11-21T14:20:00.123Z".to_string()),
        }
    }

    fn text(out: &[u8]) -> String {
        String::from_utf8_lossy(out).into_owned()
    }

    #[test]
    fn prefix_lines_padded_to_the_longest_name() {
        let mut out = Vec::new();
        formatter(false, false).program_line(
            &mut out,
            0,
            StreamKind::Stdout,
            b"hello",
            &mut fixed_clock(),
        );
        assert_eq!(text(&out), "web     | hello\n");
        let long = [
            ("a-long-name".to_string(), OutputMode::Prefix),
            ("b".to_string(), OutputMode::Prefix),
        ];
        let mut out = Vec::new();
        Formatter::new(&long, OutputMode::Prefix, false, [false; 2]).program_line(
            &mut out,
            1,
            StreamKind::Stderr,
            b"x",
            &mut fixed_clock(),
        );
        assert_eq!(text(&out), "b           | x\n");
    }

    #[test]
    fn timestamps_and_colours() {
        let mut out = Vec::new();
        formatter(true, true).program_line(
            &mut out,
            0,
            StreamKind::Stdout,
            b"hi",
            &mut fixed_clock(),
        );
        assert_eq!(
            text(&out),
            "2026-11-21T14:20:00.123Z \x1b[36mweb     |\x1b[0m hi\n"
        );
    }

    #[test]
    fn json_lines_escape_and_replace() {
        let mut out = Vec::new();
        let line = b"say \"hi\"\t\xff\xfe end";
        formatter(false, false).program_line(
            &mut out,
            1,
            StreamKind::Stderr,
            line,
            &mut fixed_clock(),
        );
        assert_eq!(
            text(&out),
            "{\"ts\":\"2026-11-21T14:20:00.123Z\",\"program\":\"jobs\",\"stream\":\"stderr\",\
             \"line\":\"say \\\"hi\\\"\\t\u{fffd}\u{fffd} end\"}\n"
        );
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed["line"], "say \"hi\"\t\u{fffd}\u{fffd} end");
    }

    #[test]
    fn own_messages_in_each_format() {
        let rows = [
            (OutputMode::Raw, "tinysup: warning: web: exited\n"),
            (OutputMode::Null, "tinysup: warning: web: exited\n"),
            (OutputMode::Prefix, "tinysup | warning: web: exited\n"),
            (
                OutputMode::Json,
                "{\"ts\":\"2026-11-21T14:20:00.123Z\",\"program\":\"tinysup\",\"stream\":\"stderr\",\
                 \"level\":\"warn\",\"line\":\"web: exited\"}\n",
            ),
        ];
        for (mode, expected) in rows {
            let mut out = Vec::new();
            Formatter::new(&[], mode, false, [false; 2]).own_line(
                &mut out,
                log::Level::Warn,
                "web: exited",
                &mut fixed_clock(),
            );
            assert_eq!(text(&out), expected, "{mode:?}");
        }
    }

    #[test]
    fn dates() {
        let at = |secs: u64, millis: u64| {
            rfc3339_millis(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_795_184_399, 999), "2026-11-20T14:19:59.999Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }
}

//! How a line looks on tinysup's stdout or stderr. Pure: bytes in, bytes appended.
//!
//! - `prefix`: `web    | text`, names padded to the longest (at least `tinysup`), the
//!   `name |` part coloured per program on a terminal, an RFC 3339 UTC timestamp with
//!   milliseconds first when `timestamps` is on;
//! - `json`: `{"ts":"…","program":"web","stream":"stdout","line":"…"}`, invalid UTF-8
//!   replaced (U+FFFD), never dropped;
//! - tinysup's own messages use the global format under the name `tinysup` (raw:
//!   `tinysup: text`).

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
///
/// Everything that is the same for every line of a program's stream (the padded, coloured
/// name; the JSON fields after `ts`) is built once here, so a line costs a few copies.
#[derive(Debug)]
pub struct Formatter {
    modes: Vec<OutputMode>,
    /// For each program, for [stdout, stderr]: the bytes before the line (prefix mode:
    /// `name   | `; json mode: `","program":"web","stream":"stdout","line":`).
    heads: Vec<[Vec<u8>; 2]>,
    /// The format of tinysup's own messages (the global `output`; `null` reads as `raw`:
    /// tinysup's own errors are never discarded).
    own_mode: OutputMode,
    /// tinysup's own prefix head (on stderr).
    own_head: Vec<u8>,
    timestamps: bool,
}

impl Formatter {
    /// `programs`: (name, output mode) of each program, by index. `color`: whether prefixes
    /// are coloured on [stdout, stderr].
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
        let heads = programs
            .iter()
            .enumerate()
            .map(|(i, (name, mode))| {
                let head = |stream: StreamKind| match mode {
                    OutputMode::Json => {
                        let mut head = b"\",\"program\":".to_vec();
                        json_string(&mut head, name.as_bytes());
                        head.extend_from_slice(
                            format!(",\"stream\":\"{}\",\"line\":", stream.name()).as_bytes(),
                        );
                        head
                    }
                    _ => prefix_head(
                        name,
                        width,
                        color[stream as usize].then(|| PALETTE[i % PALETTE.len()]),
                    ),
                };
                [head(StreamKind::Stdout), head(StreamKind::Stderr)]
            })
            .collect();
        Formatter {
            modes: programs.iter().map(|(_, mode)| *mode).collect(),
            heads,
            own_mode: if own_mode == OutputMode::Null {
                OutputMode::Raw
            } else {
                own_mode
            },
            own_head: prefix_head(
                OWN_NAME,
                width,
                color[StreamKind::Stderr as usize].then_some("1"),
            ),
            timestamps,
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
        let head = &self.heads[program][stream as usize];
        match self.modes[program] {
            OutputMode::Json => {
                append_short(out, b"{\"ts\":\"");
                append_short(out, clock.now().as_bytes());
                append_short(out, head);
                json_string(out, line);
                append_short(out, b"}\n");
            }
            // Raw and null programs never reach the formatter; prefix is the rest.
            _ => {
                if self.timestamps {
                    out.extend_from_slice(clock.now().as_bytes());
                    out.push(b' ');
                }
                append_short(out, head);
                append_short(out, line);
                out.push(b'\n');
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
                out.extend_from_slice(b"{\"ts\":\"");
                out.extend_from_slice(clock.now().as_bytes());
                out.extend_from_slice(
                    b"\",\"program\":\"tinysup\",\"stream\":\"stderr\",\"level\":\"",
                );
                out.extend_from_slice(level.as_str().to_ascii_lowercase().as_bytes());
                out.extend_from_slice(b"\",\"line\":");
                json_string(out, text.as_bytes());
                out.extend_from_slice(b"}\n");
            }
            OutputMode::Prefix => {
                if self.timestamps {
                    out.extend_from_slice(clock.now().as_bytes());
                    out.push(b' ');
                }
                out.extend_from_slice(&self.own_head);
                out.extend_from_slice(level_word.as_bytes());
                push_one_line(out, text);
                out.push(b'\n');
            }
            _ => {
                out.extend_from_slice(format!("{OWN_NAME}: {level_word}").as_bytes());
                push_one_line(out, text);
                out.push(b'\n');
            }
        }
    }
}

/// Appends `bytes` (a prefix, or a line) to `out` with fixed-size block copies that compile
/// to plain moves.
///
/// `extend_from_slice` calls the C library's `memcpy`, and musl's copies the unaligned edges
/// of every call one byte at a time: with a prefix and a line to copy for each line of
/// output, it took 40% of tinysup's time in prefix mode (`perf`, 100-byte lines), and the
/// throughput was half of `cat`'s. Long slices still go to `memcpy`, where its bulk copy
/// pays off.
#[allow(unsafe_code)]
#[inline]
fn append_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if !(4..=256).contains(&n) {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(n);
    let src = bytes.as_ptr();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // SAFETY: `reserve` made room for `n` more bytes, so `dst..dst + n` is writable. Every
    // block read lies inside `bytes`: blocks start at `i` with `i + B <= n`, and the last
    // block of each size starts at `n - B` (it may overlap the previous one, which is fine:
    // same bytes, same places). `bytes` cannot overlap `out`'s spare capacity (it is borrowed
    // while `out` is borrowed mutably). The `n` bytes are initialised before `set_len`.
    unsafe {
        use std::ptr::copy_nonoverlapping as copy;
        if n >= 16 {
            let mut i = 0;
            while i + 16 <= n {
                copy(src.add(i), dst.add(i), 16);
                i += 16;
            }
            copy(src.add(n - 16), dst.add(n - 16), 16);
        } else if n >= 8 {
            copy(src, dst, 8);
            copy(src.add(n - 8), dst.add(n - 8), 8);
        } else {
            copy(src, dst, 4);
            copy(src.add(n - 4), dst.add(n - 4), 4);
        }
        out.set_len(out.len() + n);
    }
}

/// True if every byte is printable ASCII other than `"` and `\\`: a JSON string needs
/// no escaping. Checks 8 bytes per step (the bit tricks are from "Bit Twiddling Hacks").
fn is_plain_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Some byte of `word` is zero.
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let has_byte = |word: u64, byte: u8| has_zero(word ^ (ONES * u64::from(byte)));
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        // A byte below 0x20 (a control character): subtracting 0x20 from it borrows.
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
        // A byte of 0x80 or more (not ASCII), DEL, '"' or '\\'.
        if control
            || word & HIGHS != 0
            || has_byte(word, 0x7f)
            || has_byte(word, b'"')
            || has_byte(word, b'\\')
        {
            return false;
        }
    }
    words
        .remainder()
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// Appends `text` as one line: control characters (a newline, a carriage return, an escape
/// sequence) are written escaped (`\n`, `\x1b`), so a message holding what a user wrote
/// cannot forge a line of its own or move the terminal's cursor. A tab stays a tab.
fn push_one_line(out: &mut Vec<u8>, text: &str) {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for c in text.chars() {
        match c {
            '\t' => out.push(b'\t'),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if c.is_control() && (c as u32) < 0x100 => {
                out.extend_from_slice(format!("\\x{:02x}", c as u32).as_bytes())
            }
            c if c.is_control() => {
                out.extend_from_slice(format!("\\u{{{:x}}}", c as u32).as_bytes())
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
        }
    }
}

/// `name   | `, padded to `width`, the `name |` part in `color` (an ANSI code).
fn prefix_head(name: &str, width: usize, color: Option<&str>) -> Vec<u8> {
    let mut head = Vec::new();
    if let Some(code) = color {
        head.extend_from_slice(format!("\x1b[{code}m").as_bytes());
    }
    head.extend_from_slice(format!("{name:<width$} |").as_bytes());
    if color.is_some() {
        head.extend_from_slice(b"\x1b[0m");
    }
    head.push(b' ');
    head
}

/// Appends `bytes` as a JSON string: quoted, escaped, invalid UTF-8 replaced by U+FFFD.
fn json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    // Fast path: printable ASCII with nothing to escape is copied as it is.
    if is_plain_ascii(bytes) {
        append_short(out, bytes);
    } else {
        for c in String::from_utf8_lossy(bytes).chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            }
        }
    }
    out.push(b'"');
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
    fn own_messages_are_one_line_whatever_they_hold() {
        for mode in [OutputMode::Raw, OutputMode::Prefix, OutputMode::Json] {
            let mut out = Vec::new();
            Formatter::new(&[], mode, false, [false; 2]).own_line(
                &mut out,
                log::Level::Error,
                "bad name \"a\nb\": x\r\x1b[2J\u{85}\tend",
                &mut fixed_clock(),
            );
            let text = text(&out);
            assert_eq!(text.matches('\n').count(), 1, "{mode:?}: {text:?}");
            assert!(
                !text.contains('\x1b') && !text.contains('\r'),
                "{mode:?}: {text:?}"
            );
            if mode != OutputMode::Json {
                assert!(
                    text.ends_with("bad name \"a\\nb\": x\\r\\x1b[2J\\x85\tend\n"),
                    "{mode:?}: {text:?}"
                );
            }
        }
    }

    #[test]
    fn append_short_copies_every_length_exactly() {
        let source: Vec<u8> = (0..=255u8).collect();
        for n in 0..=300 {
            let bytes: Vec<u8> = source.iter().cycle().take(n).copied().collect();
            let mut out = b"head".to_vec();
            append_short(&mut out, &bytes);
            assert_eq!(&out[..4], b"head");
            assert_eq!(&out[4..], &bytes[..], "length {n}");
        }
    }

    #[test]
    fn plain_ascii_check_agrees_with_the_byte_by_byte_one() {
        let slow = |bytes: &[u8]| {
            bytes
                .iter()
                .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        };
        for special in 0..=255u8 {
            for position in 0..17 {
                let mut bytes = vec![b'a'; 17];
                bytes[position] = special;
                assert_eq!(
                    is_plain_ascii(&bytes),
                    slow(&bytes),
                    "byte {special:#x} at {position}"
                );
            }
        }
        assert!(is_plain_ascii(b""));
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

//! User-written text inside tinysup's messages: on one line, and bounded.
//!
//! A program name, a key, a variable name or a value can hold a newline or another control
//! character (JSON's `\n`, or any byte in a variable's name). Printed raw, a crafted file
//! could forge a whole `tinysup: error: …` line, or move the cursor on a terminal. And a
//! 10 MB key must not come back as a 10 MB message. So:
//!
//! - [`line`] escapes control characters (as `\n`, `\r`, `\t`, `\u{1b}`), line and paragraph
//!   separators, and bidirectional overrides, and bounds the total length. It is applied to
//!   every part of every configuration error and warning when it is displayed, so no message
//!   can span two lines whatever built it;
//! - [`name`] and [`quoted`] bound one piece of user text where a message embeds it, keeping
//!   a prefix and saying how long the whole was.

use std::borrow::Cow;
use std::fmt::Write;

/// A piece of user text longer than this (in bytes) is shown as a prefix and its length.
/// Names are at most 63 characters, and every key tinysup knows is shorter.
pub const PIECE_LIMIT: usize = 64;
/// How much of a long piece is kept.
const PIECE_PREFIX: usize = 32;

/// `text` escaped onto one line, and cut after about `limit` bytes with the whole length.
pub fn line(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit && !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len().min(limit) + 32);
    for c in text.chars() {
        if shown.len() >= limit {
            let _ = write!(shown, "… ({} bytes in all)", text.len());
            return Cow::Owned(shown);
        }
        if needs_escape(c) {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A name or key as written, for a message: escaped, and a long one as `prefix… (N bytes)`.
pub fn name(text: &str) -> Cow<'_, str> {
    if text.len() <= PIECE_LIMIT {
        return line(text, PIECE_LIMIT);
    }
    let prefix = line(
        &text[..floor_char_boundary(text, PIECE_PREFIX)],
        PIECE_LIMIT,
    );
    Cow::Owned(format!("{prefix}… ({} bytes)", text.len()))
}

/// A value as written, in quotes (`"jsn"`), escaped; a long one as `"prefix…" (N bytes)`.
pub fn quoted(text: &str) -> String {
    if text.len() <= PIECE_LIMIT {
        return format!("{text:?}");
    }
    let prefix = &text[..floor_char_boundary(text, PIECE_PREFIX)];
    format!("{:?} ({} bytes)", format!("{prefix}…"), text.len())
}

/// Up to `most` items joined with ", ", then how many more there are.
pub fn list<'a>(items: impl ExactSizeIterator<Item = &'a str>, most: usize) -> String {
    let total = items.len();
    let mut shown: Vec<Cow<str>> = items.take(most).map(name).collect();
    if total > most {
        shown.push(Cow::Owned(format!("and {} more", total - most)));
    }
    shown.join(", ")
}

/// Characters that would break a message's line or change how a terminal shows it: control
/// characters (C0, DEL, C1), the Unicode line and paragraph separators, and the
/// bidirectional formatting characters (which can make text read in another order).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// The largest char boundary of `text` at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_break_the_line() {
        assert_eq!(line("plain → text", 100), "plain → text");
        assert_eq!(
            line("a\nb\rc\td\u{1b}[2K\u{7f}\u{85}\u{2028}\u{202e}", 100),
            r"a\nb\rc\td\u{1b}[2K\u{7f}\u{85}\u{2028}\u{202e}"
        );
        assert!(!line("x\u{0}y", 100).contains('\0'));
    }

    #[test]
    fn bounds_long_text() {
        let long = "é".repeat(1000);
        let shown = line(&long, 100);
        assert!(shown.len() < 140, "{shown}");
        assert!(shown.ends_with("… (2000 bytes in all)"), "{shown}");

        assert_eq!(name("web"), "web");
        assert_eq!(name("a\nb"), r"a\nb");
        let key = "k".repeat(10_485_760);
        assert_eq!(name(&key), format!("{}… (10485760 bytes)", "k".repeat(32)));
        assert_eq!(
            name(&"é".repeat(40)),
            format!("{}… (80 bytes)", "é".repeat(16))
        );

        assert_eq!(quoted("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(
            quoted(&"v".repeat(100)),
            format!("\"{}…\" (100 bytes)", "v".repeat(32))
        );
    }

    #[test]
    fn lists_are_bounded() {
        let names = ["a", "b", "c", "d"];
        assert_eq!(list(names.iter().copied(), 5), "a, b, c, d");
        assert_eq!(list(names.iter().copied(), 2), "a, b, and 2 more");
    }
}

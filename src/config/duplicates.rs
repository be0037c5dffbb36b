//! Keys written twice in one JSON object.
//!
//! JSON leaves duplicate keys to the reader, and serde_json keeps the last: a program
//! defined twice in a file silently loses its first definition. tinysup reports each
//! duplicate with its path instead.
//!
//! serde_json does not say what it dropped, and its visitor traits live in the `serde`
//! crate, which tinysup does not depend on directly. So this is a second pass over a text
//! serde_json has already accepted: a small scanner that follows only the structure
//! (objects, arrays, strings) and decodes a key only when it holds an escape (`"w\u0065b"`
//! is `web`), with serde_json itself. It is linear in the text, keeps one set of keys per
//! open object, and does not recurse (serde_json refuses nesting deeper than 128 anyway).

use std::borrow::Cow;
use std::collections::HashSet;

/// Where the scanner is, one entry per open object or array.
enum Frame<'a> {
    Object {
        keys: HashSet<Cow<'a, str>>,
        /// The key whose value comes next, or is being read.
        current: Option<Cow<'a, str>>,
        /// The next string is a key (after `{` or `,`), not a value.
        expect_key: bool,
    },
    Array {
        index: usize,
    },
}

/// The path of every key that appears a second (or further) time in the same object of
/// `text`, in the order of those appearances: the keys of the enclosing objects, the
/// positions in enclosing arrays, then the key itself. `text` must be JSON that serde_json
/// accepted; anything else gives an incomplete answer, never a panic.
pub fn find(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut duplicates = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Frame::Object {
                keys: HashSet::new(),
                current: None,
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b'"' => {
                let end = string_end(bytes, i);
                let is_key = matches!(
                    stack.last(),
                    Some(Frame::Object {
                        expect_key: true,
                        ..
                    })
                );
                if is_key {
                    let key = decode(&text[i..end.min(text.len())]);
                    let repeated = match stack.last() {
                        Some(Frame::Object { keys, .. }) => keys.contains(&key),
                        _ => false,
                    };
                    if repeated {
                        let mut path = path_of(&stack);
                        path.push(key.to_string());
                        duplicates.push(path);
                    }
                    if let Some(Frame::Object {
                        keys,
                        current,
                        expect_key,
                    }) = stack.last_mut()
                    {
                        keys.insert(key.clone());
                        *current = Some(key);
                        *expect_key = false;
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    duplicates
}

/// The index just past the string that starts with the quote at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// A string token (quotes included) as the key it means.
fn decode(token: &str) -> Cow<'_, str> {
    let inner = token
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(token);
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    // Parsed as a Value, which tinysup parses anyway: no second parser for strings alone.
    match serde_json::from_str::<serde_json::Value>(token) {
        Ok(serde_json::Value::String(key)) => Cow::Owned(key),
        _ => Cow::Borrowed(inner),
    }
}

/// The path to where the scanner is: each open object's current key, each open array's
/// position. The innermost object's own key is not included.
fn path_of(stack: &[Frame]) -> Vec<String> {
    let outer = stack.len().saturating_sub(1);
    stack[..outer]
        .iter()
        .map(|frame| match frame {
            Frame::Object { current, .. } => current.as_deref().unwrap_or_default().to_string(),
            Frame::Array { index } => index.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<String> {
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_ok(),
            "{text}"
        );
        find(text).iter().map(|p| p.join(".")).collect()
    }

    #[test]
    fn finds_each_repeat_with_its_path() {
        assert_eq!(paths(r#"{"a": 1, "b": 2}"#), Vec::<String>::new());
        assert_eq!(paths(r#"{"a": 1, "a": 2, "a": 3}"#), ["a", "a"]);
        assert_eq!(
            paths(r#"{"p": {"x": {"k": 1}, "y": [{"k": 1, "k": 2}], "x": {}}}"#),
            ["p.y.0.k", "p.x"]
        );
        // The same key in different objects is no repeat.
        assert_eq!(paths(r#"[{"a": 1}, {"a": 2}]"#), Vec::<String>::new());
        assert_eq!(paths(r#"[1, [2, {"a": 0, "a": 0}]]"#), ["1.1.a"]);
    }

    #[test]
    fn strings_are_read_as_json_reads_them() {
        // Escapes mean the same key; quotes, braces and commas inside strings are text.
        assert_eq!(paths(r#"{"web": 1, "w\u0065b": 2}"#), ["web"]);
        assert_eq!(
            paths(r#"{"a\"b": "}, {\"a\"b\": ,", "a\"b": 1}"#),
            [r#"a"b"#]
        );
        assert_eq!(
            paths(r#"{"k": "\\", "v": "\\\"", "k2": 1}"#),
            Vec::<String>::new()
        );
        assert_eq!(paths(r#"{"": 1, "": 2}"#), [""]);
        // Values that are strings are not keys.
        assert_eq!(paths(r#"{"a": "a", "b": "a"}"#), Vec::<String>::new());
    }

    #[test]
    fn broken_text_is_no_panic() {
        for text in ["{\"a", "{\"a\": [", "]]}}", "\"\\", "{,,\"a\"", ""] {
            let _ = find(text);
        }
    }
}

//! Splits a command string into words the way a POSIX shell does (quotes and backslashes),
//! without anything else a shell does: no expansion, no globbing, no operators.
//!
//! Characters a shell would treat as operators or expansions (`| & ; < > ( ) $ \``) are
//! refused when unquoted, so `"command": "app > log"` is an error rather than a silent
//! `app` with two odd arguments. Write `sh -c '…'` for those.

/// Characters with a shell meaning tinysup does not implement.
const SHELL_ONLY: &[char] = &['|', '&', ';', '<', '>', '(', ')', '$', '`'];

/// Splits `text` into words.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word has started, even if empty so far (as after `''`).
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash only escapes these.
                        Some('\\') => match chars.next() {
                            Some(c @ ('\\' | '"' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".to_string()),
                        },
                        Some('$' | '`') => {
                            return Err(
                                "\"$\" or \"`\" inside double quotes: tinysup does not expand; \
                                        use single quotes, or [\"sh\", \"-c\", \"…\"]"
                                    .to_string(),
                            );
                        }
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".to_string()),
                    }
                }
            }
            '\\' => match chars.next() {
                // A backslash-newline joins lines.
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err("ends with a backslash".to_string()),
            },
            c if SHELL_ONLY.contains(&c) => {
                return Err(format!(
                    "unquoted {c:?}: tinysup runs commands without a shell; quote it, or write [\"sh\", \"-c\", \"…\"]"
                ));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_like_a_shell() {
        let rows: &[(&str, &[&str])] = &[
            ("nginx -g 'daemon off;'", &["nginx", "-g", "daemon off;"]),
            ("  a\tb\nc  ", &["a", "b", "c"]),
            (
                r#"echo "a \"quoted\" word" x"#,
                &["echo", "a \"quoted\" word", "x"],
            ),
            (r"echo a\ b", &["echo", "a b"]),
            (r#"echo 'single \ stays'"#, &["echo", "single \\ stays"]),
            (r#"echo "back\slash""#, &["echo", "back\\slash"]),
            ("echo '' \"\"", &["echo", "", ""]),
            ("pre'fix'\"ed\"", &["prefixed"]),
            ("a \\\nb", &["a", "b"]),
            (
                "sh -c 'echo $HOME > /tmp/x'",
                &["sh", "-c", "echo $HOME > /tmp/x"],
            ),
            (r"echo \$HOME \| \>", &["echo", "$HOME", "|", ">"]),
            ("ls *.log ~/x", &["ls", "*.log", "~/x"]),
            ("", &[]),
        ];
        for (text, expected) in rows {
            assert_eq!(split(text), Ok(words(expected)), "{text}");
        }
    }

    #[test]
    fn refuses_what_needs_a_shell() {
        let rows = [
            ("echo 'unterminated", "unterminated single quote"),
            ("echo \"unterminated", "unterminated double quote"),
            ("echo trailing\\", "ends with a backslash"),
            ("app > log", "unquoted '>'"),
            ("a | b", "unquoted '|'"),
            ("a && b", "unquoted '&'"),
            ("echo $HOME", "unquoted '$'"),
            ("echo \"$HOME\"", "tinysup does not expand"),
        ];
        for (text, expected) in rows {
            let error = split(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}

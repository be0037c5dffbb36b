//! The configuration document as layers of JSON merge patches (RFC 7386), remembering which
//! source set each value, so that every error can say where it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::PathBuf;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::shown;

/// Where a piece of configuration came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A JSON file (`-c`, `--config` or `TINYSUP_CONFIG`).
    File(PathBuf),
    /// An environment variable (`TINYSUP_CONFIG_JSON`, `TINYSUP_PROGRAM_<NAME>`, …).
    Variable(String),
    /// The command line (`-- CMD`).
    CommandLine,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Variable(name) => write!(f, "{name}"),
            Source::CommandLine => write!(f, "command line"),
        }
    }
}

/// One configuration problem: where it came from, the setting, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub source: Option<Source>,
    /// The setting, as a dotted path (`programs.web.restart`); empty for the whole source.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(source: Option<Source>, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            source,
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// How much of each part of a problem is shown: a file path or a variable name, the setting's
/// path, the message. Longer parts are cut, with their length (see [`shown::line`]).
const SOURCE_LIMIT: usize = 256;
const PATH_LIMIT: usize = 256;
const MESSAGE_LIMIT: usize = 4096;

/// One line, whatever the source, the path and the message hold: each part is escaped and
/// bounded here, where every error and warning is displayed, so no text a user wrote (a
/// key, a name, a variable) can start a line of its own or fill the terminal.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(source) = &self.source {
            write!(f, "{}: ", shown::line(&source.to_string(), SOURCE_LIMIT))?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", shown::line(&self.path, PATH_LIMIT))?;
        }
        write!(f, "{}", shown::line(&self.message, MESSAGE_LIMIT))
    }
}

/// A setting that is valid but will not do what it seems to say: where it came from, the
/// setting, what will happen and what to change. Shown like an error, but nothing stops.
pub type ConfigWarning = ConfigError;

/// A JSON object built by applying merge patches, with the source of each value.
#[derive(Clone, Debug)]
pub struct Layered {
    document: Value,
    /// Path → the source that last set the value there (or created the object there).
    /// Shared: one source sets many values (a file, every value in it).
    origins: BTreeMap<Vec<String>, Rc<Source>>,
}

impl Default for Layered {
    fn default() -> Self {
        Layered {
            document: Value::Object(Map::new()),
            origins: BTreeMap::new(),
        }
    }
}

impl Layered {
    /// The merged document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Applies `patch` as an RFC 7386 merge patch from `source`: objects merge key by key,
    /// `null` removes a key, anything else replaces.
    pub fn apply(&mut self, patch: &Value, source: &Source) {
        let mut path = Vec::new();
        let source = Rc::new(source.clone());
        merge(
            &mut self.document,
            patch,
            &mut path,
            &source,
            &mut self.origins,
            false,
        );
    }

    /// The source of the value at `path`, or of its nearest ancestor that has one.
    pub fn source_of(&self, path: &[&str]) -> Option<Source> {
        (0..=path.len()).rev().find_map(|n| {
            let key: Vec<String> = path[..n].iter().map(|s| s.to_string()).collect();
            self.origins.get(&key).map(|source| Source::clone(source))
        })
    }
}

/// Merges `patch` into `target` at `path`. `fresh`: `target` was just created, so no
/// origin is recorded at or below `path` (nothing to forget, and no range to look up for
/// every value of a first document).
fn merge(
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
    source: &Rc<Source>,
    origins: &mut BTreeMap<Vec<String>, Rc<Source>>,
    fresh: bool,
) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        if !fresh {
            forget_below(origins, path);
        }
        origins.insert(path.clone(), Rc::clone(source));
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
        if !fresh {
            forget_below(origins, path);
        }
        origins.insert(path.clone(), Rc::clone(source));
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        path.push(key.clone());
        if value.is_null() {
            // shift_remove keeps the order of the other keys: programs start in the order written.
            target.shift_remove(key);
            forget_below(origins, path);
        } else {
            let fresh = !target.contains_key(key);
            merge(
                target.entry(key.clone()).or_insert(Value::Null),
                value,
                path,
                source,
                origins,
                fresh,
            );
        }
        path.pop();
    }
}

/// Forgets the origins at and below `path`. Paths sort component by component, so those
/// under `path` are the ones from `path` on that start with it: a range, not a scan of
/// every origin (called for every value a patch sets).
fn forget_below(origins: &mut BTreeMap<Vec<String>, Rc<Source>>, path: &[String]) {
    let below: Vec<Vec<String>> = origins
        .range::<[String], _>((Bound::Included(path), Bound::Unbounded))
        .map(|(key, _)| key)
        .take_while(|key| key.starts_with(path))
        .cloned()
        .collect();
    for key in below {
        origins.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn file() -> Source {
        Source::File("/etc/app.json".into())
    }

    fn var(name: &str) -> Source {
        Source::Variable(name.to_string())
    }

    #[test]
    fn rfc7386_examples() {
        // The examples of RFC 7386 section 3.
        let rows = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (original, patch, expected) in rows {
            let mut layered = Layered {
                document: original.clone(),
                origins: BTreeMap::new(),
            };
            layered.apply(&patch, &file());
            assert_eq!(layered.document(), &expected, "{original} + {patch}");
        }
    }

    #[test]
    fn keeps_key_order_across_patches_and_removals() {
        let mut layered = Layered::default();
        layered.apply(&json!({"programs": {"c": {}, "a": {}, "b": {}}}), &file());
        layered.apply(&json!({"programs": {"a": null, "d": {}}}), &var("X"));
        let names: Vec<&String> = layered.document()["programs"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(names, ["c", "b", "d"]);
    }

    #[test]
    fn remembers_the_source_of_each_value() {
        let mut layered = Layered::default();
        layered.apply(
            &json!({"programs": {"web": {"command": "web", "restart": "always"}}}),
            &file(),
        );
        layered.apply(
            &json!({"programs": {"web": {"restart": "no"}}}),
            &var("TINYSUP_PROGRAM_WEB"),
        );
        layered.apply(
            &json!({"programs": {"jobs": {"command": "jobs"}}}),
            &var("TINYSUP_PROGRAM_JOBS"),
        );
        assert_eq!(
            layered.source_of(&["programs", "web", "restart"]),
            Some(var("TINYSUP_PROGRAM_WEB"))
        );
        assert_eq!(
            layered.source_of(&["programs", "web", "command"]),
            Some(file())
        );
        assert_eq!(layered.source_of(&["programs", "web"]), Some(file()));
        assert_eq!(
            layered.source_of(&["programs", "jobs", "type"]),
            Some(var("TINYSUP_PROGRAM_JOBS"))
        );
        assert_eq!(layered.source_of(&["nothing"]), None);
        // Replacing an object forgets what was under it.
        layered.apply(&json!({"programs": {"web": {"env": {"A": "1"}}}}), &file());
        layered.apply(&json!({"programs": {"web": {"env": "oops"}}}), &var("V"));
        assert_eq!(
            layered.source_of(&["programs", "web", "env", "A"]),
            Some(var("V"))
        );
    }

    #[test]
    fn forgetting_a_path_keeps_its_neighbours() {
        let mut layered = Layered::default();
        layered.apply(
            &json!({"programs": {"web": {"command": "w", "env": {"A": "1"}}, "web2": {"command": "x"}, "wea": {}}}),
            &file(),
        );
        layered.apply(&json!({"programs": {"web": null}}), &var("V"));
        let keys: Vec<String> = layered.origins.keys().map(|k| k.join(".")).collect();
        assert_eq!(
            keys,
            [
                "programs",
                "programs.wea",
                "programs.web2",
                "programs.web2.command"
            ]
        );
    }

    #[test]
    fn errors_name_their_source_and_setting() {
        let error = ConfigError::new(
            Some(var("TINYSUP_OUTPUT")),
            "output",
            "unknown mode \"jsn\"",
        );
        assert_eq!(
            error.to_string(),
            "TINYSUP_OUTPUT: output: unknown mode \"jsn\""
        );
        assert_eq!(
            ConfigError::new(None, "", "nothing to run").to_string(),
            "nothing to run"
        );
    }

    #[test]
    fn every_error_is_one_bounded_line() {
        let forged = "x\ntinysup: error: forged\r";
        let error = ConfigError::new(
            Some(var(&format!("TINYSUP_{forged}"))),
            &format!("programs.{forged}"),
            format!("unknown value {forged}"),
        );
        assert_eq!(
            error.to_string(),
            r"TINYSUP_x\ntinysup: error: forged\r: programs.x\ntinysup: error: forged\r: unknown value x\ntinysup: error: forged\r"
        );
        let huge = "k".repeat(1 << 20);
        let error = ConfigError::new(Some(var(&huge)), &huge, huge.clone());
        let text = error.to_string();
        assert!(
            !text.contains('\n') && text.len() < 5000,
            "{} bytes",
            text.len()
        );
        assert!(text.contains("(1048576 bytes in all)"), "{text}");
    }
}

//! The configuration sources, applied in this order as merge patches:
//!
//! 1. `-c/--config PATH`, or else `TINYSUP_CONFIG=PATH`: a JSON file;
//! 2. `TINYSUP_CONFIG_JSON`: a whole JSON document inline;
//! 3. `TINYSUP_PROGRAM_<NAME>`, in the order of the environment: a command string, a JSON
//!    argv array, a JSON object patching that program, or empty / `null` to remove it;
//! 4. `TINYSUP_<SETTING>` for each top-level setting (`TINYSUP_SHUTDOWN_TIMEOUT=25`);
//! 5. the command line: `-- CMD` becomes the program `main`.
//!
//! Any other `TINYSUP_*` variable (but `TINYSUP_LOG`) is an error naming the nearest valid
//! one: a typo is never silently ignored. The one exception is the variables Kubernetes
//! makes for a Service named `tinysup` or `tinysup-…` (see [`kubernetes`]): they are noted
//! and left alone.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::layers::{ConfigError, Layered, Source};
use super::shown;
use super::{MAIN_PROGRAM, duplicates, kubernetes, validate};
use crate::suggest;

/// How a `TINYSUP_<SETTING>` value becomes JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SettingKind {
    /// Kept as a string: durations (`"25"`, `"500ms"`) and names (`"json"`).
    Text,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Boolean,
}

/// The top-level settings a `TINYSUP_<SETTING>` variable may set.
const SETTINGS: [(&str, SettingKind); 4] = [
    ("shutdown_timeout", SettingKind::Text),
    ("output", SettingKind::Text),
    ("timestamps", SettingKind::Boolean),
    ("color", SettingKind::Text),
];

const PREFIX: &str = "TINYSUP_";
const PROGRAM_PREFIX: &str = "TINYSUP_PROGRAM_";
const CONFIG_VAR: &str = "TINYSUP_CONFIG";
const CONFIG_JSON_VAR: &str = "TINYSUP_CONFIG_JSON";
/// The filter for tinysup's own messages (read by `main`, not part of the document).
pub const LOG_VAR: &str = "TINYSUP_LOG";

/// Everything the sources gave.
#[derive(Debug, Default)]
pub struct Gathered {
    pub layered: Layered,
    /// `-- CMD`, byte for byte (the document holds it as lossy UTF-8, for display).
    pub command: Option<Vec<OsString>>,
    /// `TINYSUP_LOG`.
    pub log_filter: Option<String>,
    /// Variables in `TINYSUP_*` that are not tinysup's (Kubernetes service variables),
    /// each with a note saying so, for the debug log.
    pub skipped: Vec<String>,
}

/// Reads the sources. Problems are collected, not returned early: every one is reported.
pub fn gather(
    config_path: Option<&Path>,
    command: &[OsString],
    vars: &[(OsString, OsString)],
    read_file: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
    errors: &mut Vec<ConfigError>,
) -> Gathered {
    let mut gathered = Gathered::default();
    let mut file_from_env = None;
    let mut inline = None;
    let mut program_vars = Vec::new();
    let mut setting_vars = Vec::new();
    let mut suggestions = suggest::Budget::default();
    for (key, value) in vars {
        let Some(key) = key.to_str() else {
            if key.as_encoded_bytes().starts_with(PREFIX.as_bytes()) {
                errors.push(ConfigError::new(
                    None,
                    "",
                    format!(
                        "variable {}: the name is not valid UTF-8",
                        shown::quoted(&key.to_string_lossy())
                    ),
                ));
            }
            continue;
        };
        if !key.starts_with(PREFIX) {
            continue;
        }
        let source = Source::Variable(key.to_string());
        let Some(value) = value.to_str() else {
            errors.push(ConfigError::new(
                Some(source),
                "",
                "the value is not valid UTF-8",
            ));
            continue;
        };
        // A Service named tinysup or tinysup-…: the kubelet's, not a setting.
        if let Some(service) = kubernetes::service_of(key, value) {
            gathered.skipped.push(format!(
                "{key}: a Kubernetes service variable (of the Service {service:?}), \
                 not a tinysup setting: ignored, and passed on to programs"
            ));
            continue;
        }
        match key {
            CONFIG_VAR => file_from_env = Some(PathBuf::from(value)),
            CONFIG_JSON_VAR => inline = Some((source, value.to_string())),
            LOG_VAR => gathered.log_filter = Some(value.to_string()),
            _ if key.starts_with(PROGRAM_PREFIX) => program_vars.push((
                source,
                key[PROGRAM_PREFIX.len()..].to_string(),
                value.to_string(),
            )),
            _ => match SETTINGS
                .iter()
                .find(|(name, _)| key[PREFIX.len()..].eq_ignore_ascii_case(name))
            {
                Some(&(name, kind)) if key[PREFIX.len()..] == name.to_ascii_uppercase() => {
                    setting_vars.push((source, name, kind, value.to_string()))
                }
                _ => errors.push(ConfigError::new(
                    Some(source),
                    "",
                    unknown_variable(key, &mut suggestions),
                )),
            },
        }
    }

    // 1. The file.
    if let Some(path) = config_path.map(Path::to_path_buf).or(file_from_env) {
        let source = Source::File(path.clone());
        match read_file(&path).map(String::from_utf8) {
            Ok(Ok(text)) => apply_document(&mut gathered.layered, &text, source, errors),
            Ok(Err(error)) => errors.push(ConfigError::new(
                Some(source),
                "",
                format!(
                    "not valid UTF-8 (at byte {}): JSON is UTF-8",
                    error.utf8_error().valid_up_to()
                ),
            )),
            Err(error) => errors.push(ConfigError::new(
                Some(source),
                "",
                format!("cannot read: {}", describe(&error)),
            )),
        }
    }
    // 2. The inline document.
    if let Some((source, text)) = inline {
        apply_document(&mut gathered.layered, &text, source, errors);
    }
    // 3. Programs from variables.
    let mut names = ProgramNames::of(&gathered.layered);
    for (source, name, value) in program_vars {
        match program_patch(&gathered.layered, &names, &name, &value) {
            Ok((target, patch)) => {
                if value.trim_start().starts_with('{') {
                    for path in duplicates::find(&value) {
                        errors.push(defined_twice(&source, &["programs", &target], &path));
                    }
                }
                gathered.layered.apply(&patch, &source);
                names.update(&gathered.layered, target);
            }
            Err(message) => errors.push(ConfigError::new(Some(source), "", message)),
        }
    }
    // 4. Top-level settings from variables.
    for (source, name, kind, value) in setting_vars {
        let json_value = match kind {
            SettingKind::Text => Value::String(value),
            SettingKind::Boolean => match parse_bool(&value) {
                Some(b) => Value::Bool(b),
                None => {
                    let value = shown::quoted(&value);
                    let message = format!("{value} is not a boolean (use true or false)");
                    errors.push(ConfigError::new(Some(source), "", message));
                    continue;
                }
            },
        };
        gathered
            .layered
            .apply(&json!({ name: json_value }), &source);
    }
    // 5. The command line.
    if !command.is_empty() {
        let lossy: Vec<Value> = command
            .iter()
            .map(|a| Value::String(a.to_string_lossy().into_owned()))
            .collect();
        gathered.layered.apply(
            &json!({"programs": {MAIN_PROGRAM: {"command": lossy}}}),
            &Source::CommandLine,
        );
        gathered.command = Some(command.to_vec());
    }
    gathered
}

/// Parses `text` as a JSON object and applies it.
fn apply_document(
    layered: &mut Layered,
    text: &str,
    source: Source,
    errors: &mut Vec<ConfigError>,
) {
    // RFC 8259 lets a parser ignore a byte order mark, which some editors write.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<Value>(text) {
        Ok(document @ Value::Object(_)) => {
            for path in duplicates::find(text) {
                errors.push(defined_twice(&source, &[], &path));
            }
            layered.apply(&document, &source)
        }
        Ok(_) => errors.push(ConfigError::new(
            Some(source),
            "",
            "the configuration must be a JSON object",
        )),
        Err(error) => errors.push(ConfigError::new(
            Some(source),
            "",
            format!("invalid JSON: {error}"),
        )),
    }
}

/// A key written twice in one object: serde_json keeps the second, so the first would be
/// lost without a word.
fn defined_twice(source: &Source, prefix: &[&str], path: &[String]) -> ConfigError {
    let path: Vec<_> = prefix
        .iter()
        .copied()
        .chain(path.iter().map(String::as_str))
        .map(shown::name)
        .collect();
    ConfigError::new(
        Some(source.clone()),
        &path.join("."),
        "defined twice in one object (the second would silently replace the first)",
    )
}

/// The programs defined so far, by how a variable spells their name: lower case, `-` as
/// `_`. Kept up to date as the variables apply, so that each variable finds its program in
/// constant time (with 10,000 variables, a scan of every name for each was quadratic).
struct ProgramNames {
    by_spelling: HashMap<String, Vec<String>>,
}

impl ProgramNames {
    fn of(layered: &Layered) -> ProgramNames {
        let mut names = ProgramNames {
            by_spelling: HashMap::new(),
        };
        for name in defined(layered).into_iter().flatten() {
            names.insert(name.clone());
        }
        names
    }

    fn insert(&mut self, name: String) {
        self.by_spelling
            .entry(spelling(&name))
            .or_default()
            .push(name);
    }

    /// The defined programs that `TINYSUP_PROGRAM_<var_name>` designates.
    fn matching(&self, var_name: &str) -> Vec<&str> {
        self.by_spelling
            .get(&spelling(var_name))
            .map_or_else(Vec::new, |names| {
                names
                    .iter()
                    .map(String::as_str)
                    .filter(|defined| name_matches(var_name, defined))
                    .collect()
            })
    }

    /// After a variable patched `target`: it is defined now, or it was removed.
    fn update(&mut self, layered: &Layered, target: String) {
        let now_defined = layered.document()["programs"].get(&target).is_some();
        let key = spelling(&target);
        let names = self.by_spelling.entry(key).or_default();
        let known = names.iter().position(|n| *n == target);
        match (now_defined, known) {
            (true, None) => names.push(target),
            (false, Some(i)) => {
                names.remove(i);
            }
            _ => {}
        }
    }
}

/// A name as a variable spells it: ASCII lower case, `-` as `_`.
fn spelling(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The names of the programs the document defines, in order.
fn defined(layered: &Layered) -> Option<serde_json::map::Keys<'_>> {
    layered.document()["programs"].as_object().map(Map::keys)
}

/// The program `TINYSUP_PROGRAM_<name>=<value>` is about, and the patch.
fn program_patch(
    layered: &Layered,
    names: &ProgramNames,
    name: &str,
    value: &str,
) -> Result<(String, Value), String> {
    if name.is_empty() {
        return Err("the program name is missing (TINYSUP_PROGRAM_<NAME>)".to_string());
    }
    if let Err(problem) = validate::check_name(name) {
        return Err(format!("program name {}: {problem}", shown::quoted(name)));
    }
    let matching = names.matching(name);
    let target = match matching.as_slice() {
        [] => name.to_ascii_lowercase(),
        [one] => one.to_string(),
        several => {
            return Err(format!(
                "matches several programs: {}; rename one of them",
                shown::list(several.iter().copied(), 10)
            ));
        }
    };
    let trimmed = value.trim();
    let program = if trimmed.is_empty() || trimmed == "null" {
        if matching.is_empty() {
            let defined = match defined(layered) {
                Some(names) if names.len() > 0 => shown::list(names.map(String::as_str), 10),
                _ => "none".to_string(),
            };
            return Err(format!(
                "removes program {}, which no earlier source defines (defined: {defined})",
                shown::quoted(&target),
            ));
        }
        Value::Null
    } else if trimmed.starts_with('{') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(object @ Value::Object(_)) => object,
            Ok(_) => return Err("must be a JSON object".to_string()),
            Err(error) => return Err(format!("invalid JSON: {error}")),
        }
    } else if trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(argv @ Value::Array(_)) => json!({ "command": argv }),
            Ok(_) => return Err("must be a JSON array".to_string()),
            Err(error) => return Err(format!("invalid JSON: {error}")),
        }
    } else {
        json!({ "command": value })
    };
    let mut programs = Map::new();
    programs.insert(target.clone(), program);
    Ok((target, json!({ "programs": programs })))
}

/// `<NAME>` of `TINYSUP_PROGRAM_<NAME>` matches a defined name case-insensitively, with `_`
/// also matching `-` (environment variable names cannot hold `-`).
fn name_matches(var_name: &str, defined: &str) -> bool {
    var_name.len() == defined.len()
        && var_name
            .bytes()
            .zip(defined.bytes())
            .all(|(v, d)| v.eq_ignore_ascii_case(&d) || (v == b'_' && d == b'-'))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The error for an unknown `TINYSUP_*` variable, with the nearest valid name. Names are
/// compared without the shared `TINYSUP_`, which would make every name look close.
fn unknown_variable(key: &str, suggestions: &mut suggest::Budget) -> String {
    let suffix = &key[PREFIX.len()..];
    let key = shown::name(key);
    let mut candidates: Vec<String> = ["CONFIG", "CONFIG_JSON", "LOG"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    candidates.extend(SETTINGS.iter().map(|(name, _)| name.to_ascii_uppercase()));
    // TINYSUP_PROGRAMS_WEB and the like: suggest TINYSUP_PROGRAM_WEB.
    if let Some((_, rest)) = suffix.split_once('_') {
        candidates.push(format!("PROGRAM_{rest}"));
    }
    match suggestions.nearest(suffix, candidates.iter().map(String::as_str)) {
        Some(nearest) => format!("unknown variable {key} (did you mean {PREFIX}{nearest}?)"),
        None => format!(
            "unknown variable {key}: tinysup knows TINYSUP_CONFIG, TINYSUP_CONFIG_JSON, \
             TINYSUP_PROGRAM_<NAME>, TINYSUP_LOG and TINYSUP_<SETTING> for {}",
            SETTINGS
                .iter()
                .map(|(name, _)| name.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An I/O error without Rust's "(os error N)" suffix.
fn describe(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    }
}

/// True for a variable in tinysup's namespace, never passed to programs. A Kubernetes
/// service variable only looks like one: it is the Service's, and programs may use it to
/// find the Service, so it is passed on like any other variable.
pub fn is_tinysup_variable(key: &OsStr, value: &OsStr) -> bool {
    if !key.as_encoded_bytes().starts_with(PREFIX.as_bytes()) {
        return false;
    }
    match (key.to_str(), value.to_str()) {
        (Some(key), Some(value)) => kubernetes::service_of(key, value).is_none(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        list.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn files(path: &Path) -> io::Result<Vec<u8>> {
        match path.to_str() {
            Some("/app.json") => Ok(
                r#"{"programs": {"web": {"command": "web"}, "my-worker": {"command": "w"}}}"#
                    .into(),
            ),
            Some("/broken.json") => Ok("{\"programs\": ".into()),
            Some("/list.json") => Ok("[1]".into()),
            Some("/latin1.json") => Ok(b"{\"a\": \"caf\xe9\"}".to_vec()),
            Some("/bom.json") => Ok(b"\xef\xbb\xbf{\"output\": \"json\"}".to_vec()),
            Some("/twice.json") => Ok(br#"{
                "programs": {
                    "web": {"command": "a", "env": {"A": "1", "B": "2", "A": "3"}},
                    "db": {"command": "d"},
                    "w\u0065b": {"command": "b"}
                },
                "output": "raw", "list": [{"x": 1, "x": 2}], "output": "json"
            }"#
            .to_vec()),
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn run(path: Option<&str>, command: &[&str], list: &[(&str, &str)]) -> (Gathered, Vec<String>) {
        let mut errors = Vec::new();
        let command: Vec<OsString> = command.iter().map(OsString::from).collect();
        let gathered = gather(
            path.map(Path::new),
            &command,
            &vars(list),
            &files,
            &mut errors,
        );
        (gathered, errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn layers_apply_in_order() {
        let (gathered, errors) = run(
            None,
            &["sleep", "5"],
            &[
                ("TINYSUP_CONFIG", "/app.json"),
                (
                    "TINYSUP_CONFIG_JSON",
                    r#"{"programs": {"web": {"restart": "no"}}, "output": "json"}"#,
                ),
                ("TINYSUP_PROGRAM_WEB", r#"{"restart": "on-failure"}"#),
                ("TINYSUP_PROGRAM_MY_WORKER", ""),
                ("TINYSUP_PROGRAM_CRON", "cron -f"),
                ("TINYSUP_OUTPUT", "prefix"),
                ("TINYSUP_TIMESTAMPS", "yes"),
                ("TINYSUP_LOG", "debug"),
                ("PATH", "/bin"),
            ],
        );
        assert_eq!(errors, Vec::<String>::new());
        let document = gathered.layered.document();
        assert_eq!(
            document,
            &json!({
                "programs": {
                    "web": {"command": "web", "restart": "on-failure"},
                    "cron": {"command": "cron -f"},
                    "main": {"command": ["sleep", "5"]}
                },
                "output": "prefix",
                "timestamps": true
            })
        );
        assert_eq!(gathered.log_filter.as_deref(), Some("debug"));
        assert_eq!(
            gathered.command,
            Some(vec![OsString::from("sleep"), OsString::from("5")])
        );
        let source = gathered.layered.source_of(&["programs", "web", "restart"]);
        assert_eq!(source, Some(Source::Variable("TINYSUP_PROGRAM_WEB".into())));
    }

    #[test]
    fn the_command_line_file_wins_over_the_variable() {
        let (gathered, errors) = run(
            Some("/app.json"),
            &[],
            &[("TINYSUP_CONFIG", "/missing.json")],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(gathered.layered.document()["programs"]["web"].is_object());
    }

    #[test]
    fn program_variables_match_names_and_take_every_form() {
        let (gathered, errors) = run(
            Some("/app.json"),
            &[],
            &[
                ("TINYSUP_PROGRAM_My_Worker", r#"["worker", "--fast"]"#),
                ("TINYSUP_PROGRAM_NEW_ONE", "new --x"),
                ("TINYSUP_PROGRAM_WEB", "null"),
            ],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            gathered.layered.document()["programs"],
            json!({"my-worker": {"command": ["worker", "--fast"]}, "new_one": {"command": "new --x"}})
        );
    }

    #[test]
    fn a_program_a_variable_defines_is_found_by_the_next_ones() {
        let (gathered, errors) = run(
            None,
            &[],
            &[
                ("TINYSUP_PROGRAM_NEW_ONE", "new"),
                ("TINYSUP_PROGRAM_new_one", r#"{"restart": "no"}"#),
                ("TINYSUP_PROGRAM_GONE", "gone"),
                ("TINYSUP_PROGRAM_Gone", ""),
                ("TINYSUP_PROGRAM_GONE", r#"{"restart": "no"}"#),
            ],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            gathered.layered.document()["programs"],
            json!({"new_one": {"command": "new", "restart": "no"}, "gone": {"restart": "no"}})
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_source() {
        let (_, errors) = run(
            Some("/broken.json"),
            &[],
            &[
                ("TINYSUP_SHUTDOWN_TIMOUT", "5"),
                ("TINYSUP_PROGRAMS_WEB", "web"),
                ("TINYSUP_FROB", "1"),
                ("TINYSUP_TIMESTAMPS", "maybe"),
                ("TINYSUP_PROGRAM_GHOST", ""),
                ("TINYSUP_PROGRAM_BAD", "{not json"),
                ("TINYSUP_PROGRAM_", "x"),
                ("TINYSUP_PROGRAM_a/b", "x"),
                ("TINYSUP_CONFIG_JSON", "[]"),
                ("TINYSUP_output", "json"),
            ],
        );
        let expected = [
            "TINYSUP_SHUTDOWN_TIMOUT: unknown variable TINYSUP_SHUTDOWN_TIMOUT (did you mean TINYSUP_SHUTDOWN_TIMEOUT?)",
            "TINYSUP_PROGRAMS_WEB: unknown variable TINYSUP_PROGRAMS_WEB (did you mean TINYSUP_PROGRAM_WEB?)",
            "TINYSUP_FROB: unknown variable TINYSUP_FROB: tinysup knows",
            "TINYSUP_output: unknown variable TINYSUP_output (did you mean TINYSUP_OUTPUT?)",
            "/broken.json: invalid JSON: EOF while parsing a value at line 1 column 13",
            "TINYSUP_CONFIG_JSON: the configuration must be a JSON object",
            "TINYSUP_PROGRAM_GHOST: removes program \"ghost\", which no earlier source defines (defined: none)",
            "TINYSUP_PROGRAM_BAD: invalid JSON: key must be a string at line 1 column 2",
            "TINYSUP_PROGRAM_: the program name is missing",
            "TINYSUP_PROGRAM_a/b: program name \"a/b\": ",
            "TINYSUP_TIMESTAMPS: \"maybe\" is not a boolean (use true or false)",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, expected) in errors.iter().zip(expected) {
            assert!(
                error.starts_with(expected),
                "{error}\n  expected: {expected}"
            );
        }
    }

    #[test]
    fn unreadable_and_wrong_shaped_files() {
        let (_, errors) = run(Some("/missing.json"), &[], &[]);
        assert_eq!(
            errors,
            vec!["/missing.json: cannot read: No such file or directory"]
        );
        let (_, errors) = run(Some("/latin1.json"), &[], &[]);
        assert_eq!(
            errors,
            vec!["/latin1.json: not valid UTF-8 (at byte 10): JSON is UTF-8"]
        );
        let (_, errors) = run(Some("/list.json"), &[], &[]);
        assert_eq!(
            errors,
            vec!["/list.json: the configuration must be a JSON object"]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let (gathered, errors) = run(Some("/bom.json"), &[], &[]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(gathered.layered.document(), &json!({"output": "json"}));
        let (gathered, errors) = run(None, &[], &[("TINYSUP_CONFIG_JSON", "\u{feff}{}")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(gathered.layered.document(), &json!({}));
    }

    #[test]
    fn a_key_written_twice_in_one_object_is_an_error() {
        let (_, errors) = run(
            Some("/twice.json"),
            &[],
            &[
                (
                    "TINYSUP_CONFIG_JSON",
                    r#"{"color": "auto", "color": "never"}"#,
                ),
                (
                    "TINYSUP_PROGRAM_DB",
                    r#"{"restart": "no", "restart": "always"}"#,
                ),
            ],
        );
        let twice = "defined twice in one object (the second would silently replace the first)";
        assert_eq!(
            errors,
            [
                format!("/twice.json: programs.web.env.A: {twice}"),
                format!("/twice.json: programs.web: {twice}"),
                format!("/twice.json: list.0.x: {twice}"),
                format!("/twice.json: output: {twice}"),
                format!("TINYSUP_CONFIG_JSON: color: {twice}"),
                format!("TINYSUP_PROGRAM_DB: programs.db.restart: {twice}"),
            ]
        );
    }

    #[test]
    fn ambiguous_program_variable() {
        let mut layered = Layered::default();
        layered.apply(
            &json!({"programs": {"a-b": {}, "a_b": {}}}),
            &Source::CommandLine,
        );
        let names = ProgramNames::of(&layered);
        let error = program_patch(&layered, &names, "A_B", "x").unwrap_err();
        assert_eq!(
            error,
            "matches several programs: a-b, a_b; rename one of them"
        );
    }
}

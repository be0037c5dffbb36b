//! The merged configuration document to a validated [`Config`]. Every problem is collected
//! with the source that set the value, and all are reported together.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::layers::{ConfigError, ConfigWarning, Layered};
use super::sources::Gathered;
use super::{ColorMode, Config, Kind, MAIN_PROGRAM, OutputMode, ProgramSpec, Restart, RunAs};
use super::{order, shown};
use crate::signal::Signal;
use crate::users::{Credentials, Setting, UserDatabase};
use crate::{duration, shell_words, suggest};

/// The top-level settings.
pub const TOP_LEVEL_KEYS: [&str; 5] = [
    "programs",
    "shutdown_timeout",
    "output",
    "timestamps",
    "color",
];

/// The settings of one program.
pub const PROGRAM_KEYS: [&str; 18] = [
    "command",
    "type",
    "env",
    "cwd",
    "user",
    "group",
    "restart",
    "success_codes",
    "start_secs",
    "restart_delay",
    "restart_delay_max",
    "max_restarts",
    "essential",
    "depends_on",
    "stop_signal",
    "stop_timeout",
    "signal_group",
    "output",
];

/// Settings the specification plans but tinysup does not have yet: refused with a clear word.
const PLANNED: [(&str, &str); 6] = [
    ("ready", "readiness probes (SPEC section 8)"),
    ("healthcheck", "health checks (SPEC section 8)"),
    ("watchdog_sec", "the sd_notify watchdog (SPEC section 8)"),
    ("max_memory", "memory limits (SPEC section 8)"),
    ("control_socket", "the control socket (SPEC section 9)"),
    ("socket", "the control socket (SPEC section 9)"),
];

/// What validation needs besides the document.
pub struct Context<'a> {
    /// `-g`: the tini-style program's signals go to its process group.
    pub signal_group: bool,
    /// Reads /etc/passwd and /etc/group (a test can give others).
    pub read_file: &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
}

/// Checks a program name: 1–63 characters of `[A-Za-z0-9_.-]`, not `tinysup`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err("a name has 1 to 63 characters".to_string());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "{bad:?} is not allowed in a name (use letters, digits, _ . -)"
        ));
    }
    if name == "tinysup" {
        return Err("the name tinysup is reserved for tinysup's own messages".to_string());
    }
    Ok(())
}

/// Validates the gathered document. On success the programs are in start order.
/// Validates the gathered document. On success the programs are in start order, and the
/// warnings (settings that are valid but will not do what they say) come with them.
pub fn validate(
    gathered: &Gathered,
    context: &Context,
) -> Result<(Config, Vec<ConfigWarning>), Vec<ConfigError>> {
    let mut checker = Checker {
        layered: &gathered.layered,
        errors: Vec::new(),
        warnings: Vec::new(),
        users: None,
        suggestions: suggest::Budget::default(),
        context,
    };
    let config = checker.config(gathered.command.as_deref());
    if checker.errors.is_empty() {
        checker.stop_timeouts_within_the_shutdown(&config);
        Ok((config, checker.warnings))
    } else {
        Err(checker.errors)
    }
}

struct Checker<'a> {
    layered: &'a Layered,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
    /// /etc/passwd and /etc/group, read once when first needed.
    users: Option<UserDatabase>,
    /// Shared by every "did you mean" of this validation.
    suggestions: suggest::Budget,
    context: &'a Context<'a>,
}

impl Checker<'_> {
    fn error(&mut self, path: &[&str], message: impl Into<String>) {
        let source = self.layered.source_of(path);
        // Each key as written, but a huge one as a prefix and its length.
        let shown: Vec<_> = path.iter().map(|key| shown::name(key)).collect();
        self.errors
            .push(ConfigError::new(source, &shown.join("."), message));
    }

    fn config(&mut self, command: Option<&[OsString]>) -> Config {
        let empty = Map::new();
        let document = self.layered.document().as_object().unwrap_or(&empty);
        self.unknown_keys(document, &[], &TOP_LEVEL_KEYS);

        let programs = match document.get("programs") {
            None => &empty,
            Some(Value::Object(programs)) => programs,
            Some(_) => {
                self.error(&["programs"], "must be an object of programs by name");
                &empty
            }
        };
        let tini_style = command.is_some() && programs.keys().all(|name| name == MAIN_PROGRAM);
        let mut config = Config::new(Vec::new());
        if tini_style {
            // As tini: raw output, and the orchestrator owns the grace period.
            config.output = OutputMode::Raw;
            config.shutdown_timeout = None;
        }
        if let Some(value) = document.get("shutdown_timeout") {
            if let Some(timeout) = self.duration(value, &["shutdown_timeout"]) {
                config.shutdown_timeout = Some(timeout);
            }
        }
        if let Some(value) = document.get("output") {
            config.output = self
                .output_mode(value, &["output"])
                .unwrap_or(config.output);
        }
        if let Some(value) = document.get("timestamps") {
            config.timestamps = self.boolean(value, &["timestamps"]).unwrap_or(false);
        }
        if let Some(value) = document.get("color") {
            let choices = [
                ("auto", ColorMode::Auto),
                ("always", ColorMode::Always),
                ("never", ColorMode::Never),
            ];
            config.color = self
                .choice(value, &["color"], &choices)
                .unwrap_or(ColorMode::Auto);
        }

        let mut specs = Vec::new();
        for (name, value) in programs {
            if let Err(problem) = check_name(name) {
                self.error(&["programs", name], problem);
                continue;
            }
            let from_command_line = name == MAIN_PROGRAM && command.is_some();
            let base = match command {
                Some(argv) if from_command_line => {
                    ProgramSpec::main_program(argv.to_vec(), self.context.signal_group, tini_style)
                }
                _ => ProgramSpec::new(name, Vec::new()),
            };
            if let Some(spec) = self.program(base, value, config.output, from_command_line) {
                specs.push(spec);
            }
        }
        if programs.is_empty() && self.errors.is_empty() {
            self.errors.push(ConfigError::new(
                None,
                "",
                "nothing to run: no programs are configured and no command was given (see tinysup --help)",
            ));
        }
        let names: Vec<&str> = programs.keys().map(String::as_str).collect();
        self.check_dependencies(&specs, &names);
        config.programs = if self.errors.is_empty() {
            start_order(specs)
        } else {
            specs
        };
        config
    }

    /// One program: `base` holds its defaults; `value` is what the document says.
    fn program(
        &mut self,
        mut spec: ProgramSpec,
        value: &Value,
        output: OutputMode,
        from_command_line: bool,
    ) -> Option<ProgramSpec> {
        let name = spec.name.clone();
        let at = |key: &'static str| ["programs", name.as_str(), key];
        let Value::Object(settings) = value else {
            self.error(
                &["programs", &name],
                "must be an object of settings (or, in a variable, a command)",
            );
            return None;
        };
        let errors_before = self.errors.len();
        self.unknown_keys(settings, &["programs", &name], &PROGRAM_KEYS);
        spec.output = output;

        // The command line's program runs the argv exactly as given (not the lossy copy).
        if !from_command_line {
            match settings.get("command") {
                None => self.error(&["programs", &name], "command is required"),
                Some(value) => {
                    spec.command = self.command(value, &at("command")).unwrap_or_default()
                }
            }
        }
        if let Some(value) = settings.get("type") {
            let choices = [("longrun", Kind::Longrun), ("oneshot", Kind::Oneshot)];
            spec.kind = self
                .choice(value, &at("type"), &choices)
                .unwrap_or(Kind::Longrun);
        }
        spec.restart = match settings.get("restart") {
            Some(value) => {
                let choices = [
                    ("always", Restart::Always),
                    ("on-failure", Restart::OnFailure),
                    ("no", Restart::No),
                ];
                self.choice(value, &at("restart"), &choices)
                    .unwrap_or(Restart::No)
            }
            None if spec.kind == Kind::Oneshot => Restart::No,
            None => spec.restart,
        };
        if spec.kind == Kind::Oneshot && spec.restart == Restart::Always {
            self.error(
                &at("restart"),
                "a oneshot runs to completion: restart must be \"no\" or \"on-failure\" (or make it a longrun)",
            );
        }
        if let Some(value) = settings.get("env") {
            spec.env = self.environment(value, &at("env"));
        }
        if let Some(value) = settings.get("cwd") {
            spec.cwd = self.text(value, &at("cwd")).map(OsString::from);
        }
        spec.user = self.run_as(settings, &name);
        if let Some(value) = settings.get("success_codes") {
            spec.success_codes = self.success_codes(value, &at("success_codes"));
        }
        for (key, slot) in [
            ("start_secs", &mut spec.start_secs),
            ("restart_delay", &mut spec.restart_delay),
            ("restart_delay_max", &mut spec.restart_delay_max),
        ] {
            if let Some(value) = settings.get(key) {
                if let Some(duration) = self.duration(value, &["programs", &name, key]) {
                    *slot = duration;
                }
            }
        }
        if let Some(value) = settings.get("stop_timeout") {
            if let Some(duration) = self.duration(value, &at("stop_timeout")) {
                spec.stop_timeout = Some(duration);
            }
        }
        if spec.restart_delay_max < spec.restart_delay {
            self.error(
                &at("restart_delay_max"),
                "must not be shorter than restart_delay",
            );
        }
        if let Some(value) = settings.get("max_restarts") {
            match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => spec.max_restarts = Some(n),
                None => self.error(
                    &at("max_restarts"),
                    "must be a whole number of restarts, 0 or more, or null",
                ),
            }
        }
        if let Some(value) = settings.get("essential") {
            spec.essential = self
                .boolean(value, &at("essential"))
                .unwrap_or(spec.essential);
        }
        if let Some(value) = settings.get("signal_group") {
            spec.signal_group = self
                .boolean(value, &at("signal_group"))
                .unwrap_or(spec.signal_group);
        }
        if let Some(value) = settings.get("depends_on") {
            spec.depends_on = self.names(value, &at("depends_on"));
        }
        if let Some(value) = settings.get("stop_signal") {
            let text = match value {
                Value::String(text) => Some(text.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            match text.map(|t| Signal::parse(&t)) {
                Some(Ok(signal)) => spec.stop_signal = Some(signal),
                Some(Err(problem)) => self.error(&at("stop_signal"), problem),
                None => self.error(
                    &at("stop_signal"),
                    "must be a signal name (\"TERM\") or number",
                ),
            }
        }
        if let Some(value) = settings.get("output") {
            spec.output = self.output_mode(value, &at("output")).unwrap_or(output);
        }
        (self.errors.len() == errors_before).then_some(spec)
    }

    fn unknown_keys(&mut self, object: &Map<String, Value>, path: &[&str], known: &[&str]) {
        for key in object.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let mut at = path.to_vec();
            at.push(key);
            match PLANNED.iter().find(|(planned, _)| planned == key) {
                Some((_, what)) => self.error(&at, format!("{what} are planned but not built yet")),
                None => {
                    let hint = self.suggestions.did_you_mean(key, known.iter().copied());
                    let message = if hint.is_empty() {
                        format!("unknown setting (known: {})", known.join(", "))
                    } else {
                        format!("unknown setting{hint}")
                    };
                    self.error(&at, message);
                }
            }
        }
    }

    fn command(&mut self, value: &Value, at: &[&str]) -> Option<Vec<OsString>> {
        let words = match value {
            Value::String(text) => match shell_words::split(text) {
                Ok(words) => words,
                Err(problem) => {
                    self.error(at, problem);
                    return None;
                }
            },
            Value::Array(items) => {
                let words: Option<Vec<String>> = items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect();
                match words {
                    Some(words) => words,
                    None => {
                        self.error(at, "an argv array holds strings only");
                        return None;
                    }
                }
            }
            _ => {
                self.error(at, "must be a command string or an argv array of strings");
                return None;
            }
        };
        if words.first().is_none_or(|program| program.is_empty()) {
            self.error(at, "is empty: name the program to run");
            return None;
        }
        Some(words.into_iter().map(OsString::from).collect())
    }

    fn environment(&mut self, value: &Value, at: &[&str]) -> Vec<(OsString, OsString)> {
        let Value::Object(variables) = value else {
            self.error(at, "must be an object of variables: {\"NAME\": \"value\"}");
            return Vec::new();
        };
        let mut env = Vec::new();
        for (key, value) in variables {
            let mut path = at.to_vec();
            path.push(key);
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                self.error(
                    &path,
                    "a variable name is not empty and holds no '=' or NUL",
                );
                continue;
            }
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    self.error(&path, "must be a string, number or boolean");
                    continue;
                }
            };
            if text.contains('\0') {
                self.error(&path, "holds a NUL byte");
                continue;
            }
            env.push((OsString::from(key), OsString::from(text)));
        }
        env
    }

    fn run_as(&mut self, settings: &Map<String, Value>, name: &str) -> Option<RunAs> {
        let id = |value: &Value| match value {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) if n.is_u64() => Some(n.to_string()),
            _ => None,
        };
        let user = settings.get("user");
        let group = settings.get("group");
        let user_text = match user.map(id) {
            None => None,
            Some(Some(text)) => Some(text),
            Some(None) => {
                self.error(
                    &["programs", name, "user"],
                    "must be a user name or a numeric id",
                );
                return None;
            }
        };
        let group_text = match group.map(id) {
            None => None,
            Some(Some(text)) => Some(text),
            Some(None) => {
                self.error(
                    &["programs", name, "group"],
                    "must be a group name or a numeric id",
                );
                return None;
            }
        };
        let Some(user_text) = user_text else {
            if group_text.is_some() {
                self.error(&["programs", name, "group"], "needs user as well");
            }
            return None;
        };
        let resolved = Credentials::resolve(&user_text, group_text.as_deref(), self.users());
        match resolved {
            Ok(credentials) => Some(RunAs {
                user: user_text,
                group: group_text,
                credentials,
            }),
            Err(problem) => {
                let key = match problem.setting {
                    Setting::User => "user",
                    Setting::Group => "group",
                };
                self.error(&["programs", name, key], problem.message);
                None
            }
        }
    }

    /// /etc/passwd and /etc/group, read when first needed.
    fn users(&mut self) -> &UserDatabase {
        let read = self.context.read_file;
        self.users.get_or_insert_with(|| UserDatabase::read(read))
    }

    fn success_codes(&mut self, value: &Value, at: &[&str]) -> Vec<i32> {
        let codes: Option<Vec<i32>> = value.as_array().and_then(|items| {
            items
                .iter()
                .map(|i| {
                    i.as_i64()
                        .filter(|c| (0..=255).contains(c))
                        .map(|c| c as i32)
                })
                .collect()
        });
        match codes {
            Some(codes) if !codes.is_empty() => codes,
            _ => {
                self.error(at, "must be a non-empty array of exit codes from 0 to 255");
                vec![0]
            }
        }
    }

    fn names(&mut self, value: &Value, at: &[&str]) -> Vec<String> {
        let names: Option<Vec<String>> = value.as_array().and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect()
        });
        match names {
            Some(mut names) => {
                names.dedup();
                names
            }
            None => {
                self.error(at, "must be an array of program names");
                Vec::new()
            }
        }
    }

    fn duration(&mut self, value: &Value, at: &[&str]) -> Option<Duration> {
        let result = match value {
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| "is not a number".to_string())
                .and_then(duration::from_seconds),
            Value::String(text) => duration::parse(text),
            _ => Err(
                "must be seconds (2.5) or a string with a unit (\"500ms\", \"10s\", \"2m\")"
                    .to_string(),
            ),
        };
        result.map_err(|problem| self.error(at, problem)).ok()
    }

    fn boolean(&mut self, value: &Value, at: &[&str]) -> Option<bool> {
        let result = value.as_bool();
        if result.is_none() {
            self.error(at, "must be true or false");
        }
        result
    }

    fn text(&mut self, value: &Value, at: &[&str]) -> Option<String> {
        match value.as_str() {
            Some(text) if !text.is_empty() => Some(text.to_string()),
            _ => {
                self.error(at, "must be a non-empty string");
                None
            }
        }
    }

    fn output_mode(&mut self, value: &Value, at: &[&str]) -> Option<OutputMode> {
        let choices = [
            ("raw", OutputMode::Raw),
            ("prefix", OutputMode::Prefix),
            ("json", OutputMode::Json),
            ("null", OutputMode::Null),
        ];
        self.choice(value, at, &choices)
    }

    fn choice<T: Copy>(&mut self, value: &Value, at: &[&str], choices: &[(&str, T)]) -> Option<T> {
        let names = || choices.iter().map(|(n, _)| *n);
        let Some(text) = value.as_str() else {
            self.error(
                at,
                format!("must be one of {}", names().collect::<Vec<_>>().join(", ")),
            );
            return None;
        };
        match choices.iter().find(|(name, _)| *name == text) {
            Some((_, choice)) => Some(*choice),
            None => {
                let hint = self.suggestions.did_you_mean(text, names());
                let list = names().collect::<Vec<_>>().join(", ");
                let text = shown::quoted(text);
                self.error(at, format!("unknown value {text}{hint}; one of {list}"));
                None
            }
        }
    }

    /// A warning for each program whose `stop_timeout` is longer than `shutdown_timeout`:
    /// the shutdown deadline cuts it short, and a migrated `stopwaitsecs=10` would silently
    /// become a kill at 7 s. An unbounded shutdown (`None`) never cuts anything short.
    fn stop_timeouts_within_the_shutdown(&mut self, config: &Config) {
        let Some(shutdown) = config.shutdown_timeout else {
            return;
        };
        for spec in &config.programs {
            let Some(stop) = spec.stop_timeout.filter(|stop| *stop > shutdown) else {
                continue;
            };
            let path = ["programs", spec.name.as_str(), "stop_timeout"];
            let settings = &self.layered.document()["programs"][&spec.name];
            let written = if settings.get("stop_timeout").is_some() {
                ""
            } else {
                " (the default)"
            };
            let (stop, shutdown) = (duration::format(stop), duration::format(shutdown));
            let message = format!(
                "{stop}{written} is longer than shutdown_timeout ({shutdown}): {name} gets SIGKILL \
                 at the shutdown deadline, {shutdown} after a shutdown starts, before its \
                 stop_timeout ends; raise shutdown_timeout to {stop} or more, and docker's stop \
                 grace (docker stop -t, stop_grace_period) about 2s above it",
                name = spec.name,
            );
            let source = self.layered.source_of(&path);
            self.warnings
                .push(ConfigWarning::new(source, &path.join("."), message));
        }
    }

    /// Every `depends_on` names a program; there is no cycle.
    fn check_dependencies(&mut self, specs: &[ProgramSpec], names: &[&str]) {
        let known: HashSet<&str> = names.iter().copied().collect();
        for spec in specs {
            for dependency in &spec.depends_on {
                if !known.contains(dependency.as_str()) {
                    let hint = self
                        .suggestions
                        .did_you_mean(dependency, names.iter().copied());
                    self.error(
                        &["programs", &spec.name, "depends_on"],
                        format!("unknown program {}{hint}", shown::quoted(dependency)),
                    );
                }
            }
        }
        if let Some(cycle) = order::find_cycle(&order::dependency_indices(specs)) {
            let names: Vec<&str> = cycle.iter().map(|&i| specs[i].name.as_str()).collect();
            let first = names.first().copied().unwrap_or_default();
            self.error(
                &["programs", first, "depends_on"],
                order::describe_cycle(&names),
            );
        }
    }
}

/// The programs in start order: dependency order, ties in the order written. (The graph is
/// known to be acyclic.)
fn start_order(specs: Vec<ProgramSpec>) -> Vec<ProgramSpec> {
    let order = order::start_order(&order::dependency_indices(&specs));
    let mut slots: Vec<Option<ProgramSpec>> = specs.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Source;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nstaff:x:50:app\n";

    fn files(path: &Path) -> std::io::Result<Vec<u8>> {
        match path.to_str() {
            Some("/etc/passwd") => Ok(PASSWD.into()),
            Some("/etc/group") => Ok(GROUP.into()),
            _ => Err(std::io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn check(document: Value, command: &[&str]) -> Result<Config, Vec<String>> {
        checked(document, command).map(|(config, _)| config)
    }

    /// The configuration and its warnings, or the errors, as text.
    fn checked(document: Value, command: &[&str]) -> Result<(Config, Vec<String>), Vec<String>> {
        let mut gathered = Gathered::default();
        gathered
            .layered
            .apply(&document, &Source::File("/c.json".into()));
        if !command.is_empty() {
            gathered.command = Some(command.iter().map(OsString::from).collect());
            gathered.layered.apply(
                &json!({"programs": {"main": {"command": command}}}),
                &Source::CommandLine,
            );
        }
        let context = Context {
            signal_group: false,
            read_file: &files,
        };
        let text = |list: Vec<ConfigError>| list.iter().map(ToString::to_string).collect();
        validate(&gathered, &context)
            .map(|(config, warnings)| (config, text(warnings)))
            .map_err(text)
    }

    fn names(config: &Config) -> Vec<&str> {
        config.programs.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn every_setting() {
        let config = check(
            json!({
                "programs": {
                    "web": {
                        "command": ["nginx", "-g", "daemon off;"],
                        "type": "longrun",
                        "env": {"KEY": "value", "PORT": 8080, "DEBUG": false},
                        "cwd": "/srv",
                        "user": "app", "group": "staff",
                        "restart": "on-failure",
                        "success_codes": [0, 3],
                        "start_secs": 2,
                        "restart_delay": "250ms", "restart_delay_max": "1m",
                        "max_restarts": 4,
                        "essential": true,
                        "depends_on": ["db"],
                        "stop_signal": "QUIT", "stop_timeout": 1.5, "signal_group": false,
                        "output": "json"
                    },
                    "db": {"command": "postgres -D '/var/lib/my db'"}
                },
                "shutdown_timeout": "9s", "output": "null", "timestamps": true, "color": "never"
            }),
            &[],
        )
        .unwrap();
        assert_eq!(names(&config), ["db", "web"]);
        assert_eq!(config.shutdown_timeout, Some(Duration::from_secs(9)));
        assert_eq!(
            (config.output, config.timestamps, config.color),
            (OutputMode::Null, true, ColorMode::Never)
        );
        let db = &config.programs[0];
        assert_eq!(db.command, ["postgres", "-D", "/var/lib/my db"]);
        assert_eq!(db.output, OutputMode::Null, "the global default");
        assert_eq!(db.restart, Restart::Always);
        let web = &config.programs[1];
        assert_eq!(web.command, ["nginx", "-g", "daemon off;"]);
        assert_eq!(
            web.env,
            [
                ("KEY".into(), "value".into()),
                ("PORT".into(), "8080".into()),
                ("DEBUG".into(), "false".into())
            ]
        );
        assert_eq!(web.cwd.as_deref(), Some("/srv".as_ref()));
        let run_as = web.user.as_ref().unwrap();
        assert_eq!(
            (
                run_as.credentials.uid.as_raw(),
                run_as.credentials.gid.as_raw()
            ),
            (1000, 50)
        );
        assert_eq!(
            (web.restart, web.success_codes.as_slice()),
            (Restart::OnFailure, &[0, 3][..])
        );
        assert_eq!(web.start_secs, Duration::from_secs(2));
        assert_eq!(
            (web.restart_delay, web.restart_delay_max),
            (Duration::from_millis(250), Duration::from_secs(60))
        );
        assert_eq!((web.max_restarts, web.essential), (Some(4), true));
        assert_eq!(web.depends_on, ["db"]);
        assert_eq!(
            (web.stop_signal, web.stop_timeout),
            (Some(Signal::QUIT), Some(Duration::from_millis(1500)))
        );
        assert!(!web.signal_group);
        assert_eq!(web.output, OutputMode::Json);
    }

    #[test]
    fn defaults() {
        let config = check(
            json!({"programs": {"a": {"command": "a"}, "b": {"command": "b", "type": "oneshot"}}}),
            &[],
        )
        .unwrap();
        let a = &config.programs[0];
        assert_eq!(
            (a.kind, a.restart, a.output),
            (Kind::Longrun, Restart::Always, OutputMode::Prefix)
        );
        assert_eq!(a.stop_signal, Some(Signal::TERM));
        assert!(a.signal_group && !a.essential && !a.inherit_stdin);
        let b = &config.programs[1];
        assert_eq!((b.kind, b.restart), (Kind::Oneshot, Restart::No));
        assert_eq!(
            config.shutdown_timeout,
            Some(super::super::DEFAULT_SHUTDOWN_TIMEOUT)
        );
        assert_eq!(a.stop_timeout, Some(super::super::DEFAULT_STOP_TIMEOUT));
    }

    #[test]
    fn the_command_line_program() {
        // Alone: the tini-style mode, raw output.
        let config = check(json!({}), &["sleep", "1"]).unwrap();
        let main = &config.programs[0];
        assert_eq!((main.name.as_str(), main.output), ("main", OutputMode::Raw));
        assert!(main.essential && main.inherit_stdin && main.stop_signal.is_none());
        assert_eq!(main.restart, Restart::No);
        // As tini: no SIGKILL escalation and no shutdown bound, unless configured.
        assert_eq!((main.stop_timeout, config.shutdown_timeout), (None, None));
        let config = check(
            json!({"programs": {"main": {"stop_timeout": "2s"}}, "shutdown_timeout": 3}),
            &["sleep", "1"],
        )
        .unwrap();
        assert_eq!(
            (config.programs[0].stop_timeout, config.shutdown_timeout),
            (Some(Duration::from_secs(2)), Some(Duration::from_secs(3)))
        );
        // Beside configured programs: prefixed, and settings from a file still apply to it.
        let config = check(
            json!({"programs": {"web": {"command": "web"}, "main": {"env": {"A": "1"}, "depends_on": ["web"]}}}),
            &["sleep", "1"],
        )
        .unwrap();
        assert_eq!(names(&config), ["web", "main"]);
        let main = &config.programs[1];
        assert_eq!((main.output, main.env.len()), (OutputMode::Prefix, 1));
        assert_eq!(main.command, ["sleep", "1"]);
        // Supervising keeps the supervisor's rules.
        assert_eq!(main.stop_timeout, Some(super::super::DEFAULT_STOP_TIMEOUT));
        assert!(config.shutdown_timeout.is_some());
    }

    #[test]
    fn start_order_is_dependency_order_with_ties_as_written() {
        let config = check(
            json!({"programs": {
                "e": {"command": "e", "depends_on": ["d"]},
                "a": {"command": "a"},
                "d": {"command": "d", "depends_on": ["b", "c"]},
                "c": {"command": "c"},
                "b": {"command": "b", "depends_on": ["a"]}
            }}),
            &[],
        )
        .unwrap();
        assert_eq!(names(&config), ["a", "c", "b", "d", "e"]);
    }

    #[test]
    fn every_problem_at_once_with_its_source() {
        let errors = check(
            json!({
                "programs": {
                    "web": {"command": "web", "restrat": "always", "stop_signal": "TREM", "output": "jsn"},
                    "db": {"command": "echo $HOME", "start_secs": -1, "depends_on": ["cache"]},
                    "job": {"type": "oneshot", "restart": "always", "command": []},
                    "who": {"command": "x", "user": "nobody-here", "success_codes": [300]},
                    "bad name": {"command": "x"},
                    "tinysup": {"command": "x"},
                    "probe": {"command": "x", "ready": {"tcp": "127.0.0.1:1"}},
                    "grp": {"command": "x", "group": "staff", "restart_delay": 5, "restart_delay_max": 1},
                    "odd": "text"
                },
                "shutdown_timout": 3,
                "color": "sometimes",
                "timestamps": "yes"
            }),
            &[],
        )
        .unwrap_err();
        let expected = [
            "/c.json: shutdown_timout: unknown setting (did you mean shutdown_timeout?)",
            "/c.json: timestamps: must be true or false",
            "/c.json: color: unknown value \"sometimes\"; one of auto, always, never",
            "/c.json: programs.web.restrat: unknown setting (did you mean restart?)",
            "/c.json: programs.web.stop_signal: unknown signal \"TREM\"",
            "/c.json: programs.web.output: unknown value \"jsn\" (did you mean json?); one of raw, prefix, json, null",
            "/c.json: programs.db.command: unquoted '$'",
            "/c.json: programs.db.start_secs: must be a non-negative number of seconds",
            "/c.json: programs.job.command: is empty",
            "/c.json: programs.job.restart: a oneshot runs to completion",
            "/c.json: programs.who.user: unknown user \"nobody-here\" (not in /etc/passwd)",
            "/c.json: programs.who.success_codes: must be a non-empty array of exit codes from 0 to 255",
            "/c.json: programs.bad name: ' ' is not allowed in a name",
            "/c.json: programs.tinysup: the name tinysup is reserved",
            "/c.json: programs.probe.ready: readiness probes (SPEC section 8) are planned but not built yet",
            "/c.json: programs.grp.group: needs user as well",
            "/c.json: programs.grp.restart_delay_max: must not be shorter than restart_delay",
            "/c.json: programs.odd: must be an object of settings",
        ];
        for (error, expected) in errors.iter().zip(&expected) {
            assert!(
                error.starts_with(expected),
                "{error}\n  expected: {expected}"
            );
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    }

    #[test]
    fn dependency_problems() {
        let errors = check(json!({"programs": {"web": {"command": "w", "depends_on": ["dbb"]}, "db": {"command": "d"}}}), &[])
            .unwrap_err();
        assert_eq!(
            errors,
            ["/c.json: programs.web.depends_on: unknown program \"dbb\" (did you mean db?)"]
        );
        let errors = check(
            json!({"programs": {
                "a": {"command": "a", "depends_on": ["b"]},
                "b": {"command": "b", "depends_on": ["c"]},
                "c": {"command": "c", "depends_on": ["a"]}
            }}),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            ["/c.json: programs.a.depends_on: dependency cycle: a → b → c → a"]
        );
        let errors = check(
            json!({"programs": {"a": {"command": "a", "depends_on": ["a"]}}}),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            errors,
            ["/c.json: programs.a.depends_on: dependency cycle: a → a"]
        );
    }

    /// `n` programs `p0` … where `p{i}` depends on `p{i+1}`: the chain written backwards.
    fn reverse_chain(n: usize) -> Map<String, Value> {
        (0..n)
            .map(|i| {
                let depends_on: Vec<String> = (i + 1 < n)
                    .then(|| format!("p{}", i + 1))
                    .into_iter()
                    .collect();
                (
                    format!("p{i}"),
                    json!({"command": "x", "depends_on": depends_on}),
                )
            })
            .collect()
    }

    #[test]
    fn a_long_chain_is_ordered_and_its_cycle_found_without_deep_recursion() {
        // On a small stack: the depth of the search must not grow with the chain (one frame
        // per program would overflow it here, and a 100,000-long chain on any stack).
        let on_small_stack = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let n = 5_000;
                let config = check(json!({"programs": reverse_chain(n)}), &[]).unwrap();
                assert_eq!(config.programs.len(), n);
                assert_eq!(config.programs[0].name, format!("p{}", n - 1));
                assert_eq!(config.programs[n - 1].name, "p0");

                let mut programs = reverse_chain(n);
                programs[&format!("p{}", n - 1)]["depends_on"] = json!(["p0"]);
                check(json!({"programs": programs}), &[]).unwrap_err()
            })
            .unwrap();
        let errors = on_small_stack.join().unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "/c.json: programs.p0.depends_on: dependency cycle of 5000 programs: \
                 p0 → p1 → p2 → p3 → p4 → … → p4999 → p0"
            ),
            "{}",
            &errors[0][..errors[0].len().min(300)]
        );
        assert!(errors[0].len() < 300, "the cycle is not listed whole");
    }

    #[test]
    fn a_stop_timeout_the_shutdown_would_cut_short_is_a_warning() {
        let (_, warnings) = checked(
            json!({"programs": {
                "db": {"command": "d", "stop_timeout": "10s"},
                "web": {"command": "w", "stop_timeout": 7},
                "job": {"command": "j"}
            }}),
            &[],
        )
        .unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            warnings[0],
            "/c.json: programs.db.stop_timeout: 10s is longer than shutdown_timeout (7s): db gets \
             SIGKILL at the shutdown deadline, 7s after a shutdown starts, before its stop_timeout \
             ends; raise shutdown_timeout to 10s or more, and docker's stop grace (docker stop -t, \
             stop_grace_period) about 2s above it"
        );
        // The default stop_timeout under a short shutdown_timeout.
        let (_, warnings) = checked(
            json!({"programs": {"db": {"command": "d"}}, "shutdown_timeout": 2}),
            &[],
        )
        .unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("/c.json: programs.db.stop_timeout: 5s (the default) is longer than shutdown_timeout (2s)"),
            "{}",
            warnings[0]
        );
        // No bound, no warning: the command alone (tini's mode), whatever its stop_timeout.
        let (_, warnings) = checked(
            json!({"programs": {"main": {"stop_timeout": "1h"}}}),
            &["sleep", "1"],
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn nothing_to_run() {
        assert_eq!(
            check(json!({}), &[]).unwrap_err(),
            [
                "nothing to run: no programs are configured and no command was given (see tinysup --help)"
            ]
        );
    }

    #[test]
    fn name_rules() {
        assert!(check_name("web-1.prod_x").is_ok());
        assert!(check_name(&"a".repeat(63)).is_ok());
        assert!(check_name(&"a".repeat(64)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
    }
}

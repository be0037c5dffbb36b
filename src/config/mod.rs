//! The configuration: layered sources, then validated once into [`Config`].
//!
//! - [`duplicates`]: keys written twice in one JSON object, which JSON parsers drop;
//! - [`kubernetes`]: the variables of a Service named `tinysup…`, which are not settings;
//! - [`layers`]: RFC 7386 merge patches that remember which source set each value;
//! - [`sources`]: the layers, in order: the file, `TINYSUP_CONFIG_JSON`,
//!   `TINYSUP_PROGRAM_<NAME>`, `TINYSUP_<SETTING>`, the command line;
//! - [`validate`]: the merged document to a [`Config`], every problem reported at once;
//! - [`order`]: the dependency graph: cycles, and the start order;
//! - [`print`]: a [`Config`] back to JSON, for `tinysup config`;
//! - [`shown`]: user-written text in messages, escaped onto one line and bounded.
//!
//! Everything in [`Config`] has been checked; the rest of tinysup trusts it. Defaults live in
//! [`ProgramSpec::new`] and [`Config::new`], and the README's settings table repeats them.

pub mod duplicates;
pub mod kubernetes;
pub mod layers;
pub mod order;
pub mod print;
pub mod shown;
pub mod sources;
pub mod validate;

use std::ffi::OsString;
use std::time::Duration;

pub use layers::{ConfigError, ConfigWarning, Source};

use std::path::Path;

use crate::signal::Signal;
use crate::users::Credentials;
use crate::{cli, logger};

/// A loaded configuration, with what `main` needs besides it.
pub struct Loaded {
    pub config: Config,
    /// The parsed `TINYSUP_LOG`, if set.
    pub log_filter: Option<env_filter::Filter>,
    /// Only the command line's program runs: tini's mode (quiet, raw output).
    pub tini_style: bool,
    /// Settings that will not do what they say: printed by `tinysup config`, logged at
    /// start-up (once the logger is installed), never a reason not to start.
    pub warnings: Vec<ConfigWarning>,
    /// Notes on `TINYSUP_*` variables that are not tinysup's (Kubernetes service
    /// variables), for the debug log once the logger is installed.
    pub skipped: Vec<String>,
}

/// Reads every source (`vars` is the environment; `read_file` reads the JSON file and
/// /etc/passwd, /etc/group) and validates the result, or returns every problem found.
pub fn load(
    options: &cli::Options,
    vars: &[(OsString, OsString)],
    read_file: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Loaded, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let gathered = sources::gather(
        options.config_path.as_deref(),
        &options.command,
        vars,
        read_file,
        &mut errors,
    );
    let log_filter = match gathered.log_filter.as_deref().map(logger::parse_filter) {
        Some(Ok(filter)) => Some(filter),
        Some(Err(problem)) => {
            let source = Source::Variable(sources::LOG_VAR.to_string());
            errors.push(ConfigError::new(
                Some(source),
                "",
                format!("invalid filter: {problem}"),
            ));
            None
        }
        None => None,
    };
    let context = validate::Context {
        signal_group: options.signal_group,
        read_file,
    };
    let (config, warnings) = match validate::validate(&gathered, &context) {
        Ok(validated) => validated,
        Err(more) => {
            errors.extend(more);
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let tini_style = gathered.command.is_some() && config.programs.len() == 1;
    Ok(Loaded {
        config,
        log_filter,
        tini_style,
        warnings,
        skipped: gathered.skipped,
    })
}

/// `type`: a service that should stay up, or a step that runs to completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Longrun,
    Oneshot,
}

/// `restart`: when an ended program is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    Always,
    OnFailure,
    No,
}

/// `output`: where a program's stdout and stderr go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// Straight to tinysup's own stdout/stderr, untouched.
    Raw,
    /// Line by line, as `name | line`.
    Prefix,
    /// Line by line, one JSON object per line.
    Json,
    /// Discarded.
    Null,
}

/// `color`: whether prefixes are coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMode {
    Auto,
    Always,
    Never,
}

/// One supervised program, validated.
#[derive(Clone, Debug)]
pub struct ProgramSpec {
    pub name: String,
    /// argv; `command[0]` is searched in `PATH`.
    pub command: Vec<OsString>,
    pub kind: Kind,
    /// Added to (or replacing in) the environment tinysup received.
    pub env: Vec<(OsString, OsString)>,
    pub cwd: Option<OsString>,
    /// Run as this user (resolved from /etc/passwd and /etc/group when validated).
    pub user: Option<RunAs>,
    pub restart: Restart,
    pub success_codes: Vec<i32>,
    pub start_secs: Duration,
    pub restart_delay: Duration,
    pub restart_delay_max: Duration,
    /// Consecutive failed starts allowed before FATAL; `None`: never give up.
    pub max_restarts: Option<u32>,
    pub essential: bool,
    pub depends_on: Vec<String>,
    /// `None`: the signal that started the shutdown (TERM or INT), as tini forwards it.
    pub stop_signal: Option<Signal>,
    /// After the stop signal, SIGKILL this much later; `None`: never (the tini-style
    /// program's default, where the orchestrator owns the grace period).
    pub stop_timeout: Option<Duration>,
    pub signal_group: bool,
    pub output: OutputMode,
    /// Inherit tinysup's stdin and take the terminal's foreground (the tini-style program);
    /// otherwise stdin is /dev/null.
    pub inherit_stdin: bool,
}

/// `user` and `group` as written, and what they resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
    pub credentials: Credentials,
}

/// Default `stop_timeout`: a program gets this long after its stop signal before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `shutdown_timeout`. With the sweep grace and the final output flush it keeps a
/// whole shutdown inside Docker's default 10 s stop grace.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(7);

impl ProgramSpec {
    /// A longrun with every setting at its default.
    pub fn new(name: &str, command: Vec<OsString>) -> ProgramSpec {
        ProgramSpec {
            name: name.to_string(),
            command,
            kind: Kind::Longrun,
            env: Vec::new(),
            cwd: None,
            user: None,
            restart: Restart::Always,
            success_codes: vec![0],
            start_secs: Duration::from_secs(1),
            restart_delay: Duration::from_millis(100),
            restart_delay_max: Duration::from_secs(30),
            max_restarts: None,
            essential: false,
            depends_on: Vec::new(),
            stop_signal: Some(Signal::TERM),
            stop_timeout: Some(DEFAULT_STOP_TIMEOUT),
            signal_group: true,
            output: OutputMode::Prefix,
            inherit_stdin: false,
        }
    }

    /// The program "main" given as `-- CMD`: essential, never restarted, stdin inherited,
    /// stopped with the signal tinysup received, signals to the process only unless `-g`
    /// (tini's defaults). `alone` (the tini-style mode, no other program): no SIGKILL
    /// escalation, as with tini, since `docker stop -t` or the kubelet owns the grace period.
    pub fn main_program(command: Vec<OsString>, signal_group: bool, alone: bool) -> ProgramSpec {
        let defaults = ProgramSpec::new(MAIN_PROGRAM, command);
        ProgramSpec {
            restart: Restart::No,
            essential: true,
            stop_signal: None,
            stop_timeout: if alone { None } else { defaults.stop_timeout },
            signal_group,
            inherit_stdin: true,
            ..defaults
        }
    }
}

/// The name of the program given on the command line after the options.
pub const MAIN_PROGRAM: &str = "main";

/// The whole validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// In start order: dependency order, ties in the order written.
    pub programs: Vec<ProgramSpec>,
    /// Bounds the whole shutdown; `None`: no bound (the tini-style default).
    pub shutdown_timeout: Option<Duration>,
    /// The global default `output` (each program has its own resolved value).
    pub output: OutputMode,
    pub timestamps: bool,
    pub color: ColorMode,
}

impl Config {
    /// A configuration of these programs with the global defaults.
    pub fn new(programs: Vec<ProgramSpec>) -> Config {
        Config {
            programs,
            shutdown_timeout: Some(DEFAULT_SHUTDOWN_TIMEOUT),
            output: OutputMode::Prefix,
            timestamps: false,
            color: ColorMode::Auto,
        }
    }
}

//! tinysup's entry point: a straight list of setup steps, then the loop, then the exit code.
//!
//! `#![no_main]`: Rust's runtime start-up would set SIGPIPE to "ignored" before `main`, and
//! tinysup must see, and pass on to its programs, the signal state it was really started
//! with. So the C `main` below is the entry point, and the arguments come from `argv`.

#![no_main]
#![deny(unsafe_code)]

use std::ffi::{CStr, OsString, c_char, c_int};
use std::io::Write;
use std::os::unix::ffi::OsStringExt;

use tinysup::cli::{self, Request};
use tinysup::config;
use tinysup::os_signals::{InheritedSignals, SignalIntake};
use tinysup::output::Hub;
use tinysup::spawn::Spawner;
use tinysup::status::{self, EXIT_INTERNAL, EXIT_USAGE};
use tinysup::supervisor::{self, Supervisor};
use tinysup::{event_loop, logger};

/// The process entry point, called by the C runtime.
#[unsafe(no_mangle)]
#[allow(unsafe_code)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let count = usize::try_from(argc).unwrap_or(0);
    let args = (0..count)
        .map(|i| {
            // SAFETY: the C runtime passes `argc` valid, NUL-terminated strings in `argv`,
            // alive for the whole run; they are copied out at once.
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            OsString::from_vec(arg.to_bytes().to_vec())
        })
        .collect();
    run(args)
}

fn run(args: Vec<OsString>) -> i32 {
    // 1. Before anything changes it: the signal state every program gets back.
    let inherited = match InheritedSignals::capture() {
        Ok(inherited) => inherited,
        Err(error) => {
            return fail(
                EXIT_INTERNAL,
                &format!("cannot read the signal state: {error}"),
            );
        }
    };

    // 2. The command line.
    let args = args.get(1..).unwrap_or_default();
    let (options, print_config) = match cli::parse(args, |name| std::env::var_os(name)) {
        Ok(Request::Run(options)) => (options, false),
        Ok(Request::PrintConfig(options)) => (options, true),
        Ok(Request::Help) => return print(cli::HELP),
        Ok(Request::Version) => return print(&cli::version()),
        Ok(Request::License) => return print(cli::LICENSE),
        Err(error) => return fail(EXIT_USAGE, &format!("{error} (see tinysup --help)")),
    };

    // 3. The configuration: every source, validated once; every problem reported together.
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let loaded = match config::load(&options, &vars, &|path| std::fs::read(path)) {
        Ok(loaded) => loaded,
        Err(errors) => return fail(EXIT_USAGE, &config_problems(&errors)),
    };
    if print_config {
        // Warnings on stderr, one line each; the configuration is still valid: exit 0.
        let mut stderr = std::io::stderr();
        for warning in &loaded.warnings {
            let _ = writeln!(stderr, "tinysup: warning: {warning}");
        }
        let json = config::print::to_json(&loaded.config);
        return print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        ));
    }
    let config = loaded.config;

    // 4. tinysup's own messages: TINYSUP_LOG, else -v above a quiet default (tini-style)
    //    or an informative one (supervising).
    let level = logger::default_level(!loaded.tini_style, options.verbosity);
    logger::init(
        loaded
            .log_filter
            .unwrap_or_else(|| logger::level_filter(level)),
    );
    for warning in &loaded.warnings {
        log::warn!("{warning}");
    }
    for note in &loaded.skipped {
        log::debug!("{note}");
    }

    // 5. Process-wide duties: reap orphans even when not PID 1; die with the parent on -p.
    let is_pid1 = std::process::id() == 1;
    if !is_pid1 {
        if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
            log::warn!(
                "cannot become a child subreaper: {}; orphans will not be reaped",
                error.desc()
            );
        }
    }
    if let Some(signal) = options.parent_death_signal {
        let result = nix::sys::signal::Signal::try_from(signal.number())
            .map_err(|_| nix::errno::Errno::EINVAL)
            .and_then(nix::sys::prctl::set_pdeathsig);
        if let Err(error) = result {
            return fail(EXIT_USAGE, &format!("-p {signal}: {}", error.desc()));
        }
    }

    // 6. Signals: all blocked and read from a signalfd, from before the first spawn.
    let mut signals = match SignalIntake::install() {
        Ok(signals) => signals,
        Err(error) => {
            return fail(
                EXIT_INTERNAL,
                &format!("cannot set up signal intake: {error}"),
            );
        }
    };

    // 7. The output path: a pipe per prefixed or json stream, and tinysup's own writers.
    let (mut hub, outputs) = match Hub::new(&config) {
        Ok(hub) => hub,
        Err(error) => return fail(EXIT_INTERNAL, &format!("cannot set up output: {error}")),
    };

    // 8. Supervise until done.
    let spawner = Spawner::new(vars.into_iter(), inherited);
    let supervisor_options = supervisor::Options {
        is_pid1,
        warn_on_reap: options.warn_on_reap,
        tini_style: loaded.tini_style,
    };
    let mut supervisor = Supervisor::new(config, outputs, spawner, supervisor_options);
    event_loop::run(&mut supervisor, &mut signals, &mut hub);

    // 9. The exit code.
    status::exit_code(supervisor.outcome(), &options.success_remap)
}

/// Every configuration problem on its own line, then a summary.
fn config_problems(errors: &[config::ConfigError]) -> String {
    let mut text: String = errors
        .iter()
        .map(|e| format!("error: {e}\ntinysup: "))
        .collect();
    let plural = if errors.len() == 1 { "" } else { "s" };
    text.push_str(&format!(
        "{} configuration problem{plural}: nothing was started",
        errors.len()
    ));
    text
}

/// Prints `text` on stdout and returns 0.
fn print(text: &str) -> i32 {
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    0
}

/// Prints `tinysup: message` on stderr (after any queued messages) and returns `code`.
/// Only for setup, before the output path exists.
fn fail(code: i32, message: &str) -> i32 {
    let mut stderr = std::io::stderr();
    for queued in logger::take_all() {
        let _ = writeln!(stderr, "tinysup: {}", queued.text);
    }
    let _ = writeln!(stderr, "tinysup: {message}");
    code
}

//! tinysup: a tiny PID 1 for containers. It reaps zombies, forwards signals, supervises
//! programs and streams their output.
//!
//! Where things are:
//! - the per-program state machine: [`program`] (pure, tested as tables);
//! - the one loop: [`event_loop`]; what it drives: [`supervisor`];
//! - the OS edges: [`os_signals`] (the signalfd), [`reaper`] (the only `waitpid`), [`spawn`],
//!   [`notify`] (sd_notify sockets: programs' readiness, and tinysup's own);
//! - the output path: [`output`] (pipes, framing, formats, non-blocking writes);
//! - tcp and http probes: [`net_check`] (non-blocking connect, request, status line);
//! - configuration: [`cli`], [`config`] (sources, merge, validation), [`users`],
//!   [`shell_words`], [`suggest`]; vocabulary: [`signal`], [`status`], [`duration`].
//!
//! `src/main.rs` is the entry point: a list of setup steps that ends in the loop.

#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod duration;
pub mod event_loop;
pub mod logger;
pub mod net_check;
pub mod notify;
pub mod os_signals;
pub mod output;
pub mod procfs;
pub mod program;
pub mod reaper;
pub mod runs;
pub mod shell_words;
pub mod signal;
pub mod spawn;
pub mod status;
pub mod suggest;
pub mod supervisor;
pub mod users;

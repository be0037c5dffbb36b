//! Integration tests: the real tinysup binary, as PID 1 of a fresh PID namespace and as a
//! subreaper. One test binary; helpers in `util`.

mod cleanup;
mod config;
mod daemons;
mod foundation;
mod output;
mod supervision;
mod util;

//! A validated [`Config`] as JSON, every default filled in: what `tinysup config` prints.
//! The output is itself a valid configuration.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{ColorMode, Config, Kind, OutputMode, ProgramSpec, Restart};

/// The effective configuration, programs in start order.
pub fn to_json(config: &Config) -> Value {
    let programs: Map<String, Value> = config
        .programs
        .iter()
        .map(|p| (p.name.clone(), program(p)))
        .collect();
    json!({
        "programs": programs,
        // null: no bound (only commands alone, as with tini).
        "shutdown_timeout": config.shutdown_timeout.map(seconds),
        "output": output(config.output),
        "timestamps": config.timestamps,
        "color": match config.color {
            ColorMode::Auto => "auto",
            ColorMode::Always => "always",
            ColorMode::Never => "never",
        },
    })
}

fn program(spec: &ProgramSpec) -> Value {
    let lossy = |s: &std::ffi::OsStr| Value::String(s.to_string_lossy().into_owned());
    let env: Map<String, Value> = spec
        .env
        .iter()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), lossy(v)))
        .collect();
    json!({
        "command": spec.command.iter().map(|a| lossy(a)).collect::<Vec<_>>(),
        "type": match spec.kind {
            Kind::Longrun => "longrun",
            Kind::Oneshot => "oneshot",
        },
        "env": env,
        "cwd": spec.cwd.as_deref().map(lossy),
        "user": spec.user.as_ref().map(|u| u.user.clone()),
        "group": spec.user.as_ref().and_then(|u| u.group.clone()),
        "restart": match spec.restart {
            Restart::Always => "always",
            Restart::OnFailure => "on-failure",
            Restart::No => "no",
        },
        "success_codes": spec.success_codes,
        "start_secs": seconds(spec.start_secs),
        "restart_delay": seconds(spec.restart_delay),
        "restart_delay_max": seconds(spec.restart_delay_max),
        "max_restarts": spec.max_restarts,
        "essential": spec.essential,
        "depends_on": spec.depends_on,
        // null: the signal that started the shutdown (the command line's program).
        "stop_signal": spec.stop_signal.map(|s| s.to_string()),
        // null: never SIGKILL (the command line's program alone, as with tini).
        "stop_timeout": spec.stop_timeout.map(seconds),
        "signal_group": spec.signal_group,
        "output": output(spec.output),
    })
}

fn output(mode: OutputMode) -> &'static str {
    match mode {
        OutputMode::Raw => "raw",
        OutputMode::Prefix => "prefix",
        OutputMode::Json => "json",
        OutputMode::Null => "null",
    }
}

fn seconds(duration: Duration) -> Value {
    json!(duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProgramSpec;

    #[test]
    fn prints_every_setting_with_defaults() {
        let config = Config::new(vec![ProgramSpec::new(
            "web",
            vec!["nginx".into(), "-g".into()],
        )]);
        let printed = to_json(&config);
        assert_eq!(
            printed,
            json!({
                "programs": {"web": {
                    "command": ["nginx", "-g"], "type": "longrun", "env": {}, "cwd": null,
                    "user": null, "group": null, "restart": "always", "success_codes": [0],
                    "start_secs": 1.0, "restart_delay": 0.1, "restart_delay_max": 30.0,
                    "max_restarts": null, "essential": false, "depends_on": [],
                    "stop_signal": "SIGTERM", "stop_timeout": 5.0, "signal_group": true,
                    "output": "prefix"
                }},
                "shutdown_timeout": 7.0, "output": "prefix", "timestamps": false, "color": "auto"
            })
        );
    }
}

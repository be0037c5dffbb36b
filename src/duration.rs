//! Durations as users write them (`1.5`, `"500ms"`, `"10s"`, `"2m"`) and as tinysup prints them.

use std::time::Duration;

/// The longest duration accepted: a day. Anything longer is almost certainly a unit mistake
/// (milliseconds written as seconds), and it keeps arithmetic on `Instant`s far from overflow.
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses seconds (`"2"`, `"0.5"`) or a number with a unit: `ms`, `s`, `m`, `h`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit {unit:?} (use ms, s, m or h)"
            ));
        }
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        format!(
            "{text:?} is not a duration (write seconds like 2.5, or \"500ms\", \"10s\", \"2m\")"
        )
    })?;
    from_seconds(value * scale).map_err(|e| format!("{text:?} {e}"))
}

/// Converts a number of seconds, rejecting negative, non-finite and too-large values.
pub fn from_seconds(seconds: f64) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err("must be a non-negative number of seconds".to_string());
    }
    if seconds > MAX.as_secs_f64() {
        return Err("is longer than a day".to_string());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Prints a duration compactly: `250ms`, `1.5s`, `30s`.
pub fn format(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        let seconds = duration.as_secs_f64();
        let text = format!("{seconds:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        format!("{text}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let rows = [
            ("2", 2000),
            ("0.25", 250),
            ("500ms", 500),
            ("10s", 10_000),
            ("1.5s", 1500),
            ("2m", 120_000),
            ("1h", 3_600_000),
            (" 3 ", 3000),
        ];
        for (text, ms) in rows {
            assert_eq!(parse(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        for bad in ["", "abc", "10x", "-1", "ms", "25h", "nan", "inf"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_secs(30)), "30s");
    }
}

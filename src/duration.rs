//! Durations as users write them (`1.5`, `"500ms"`, `"10s"`, `"2m"`) and as tinysup prints them.

use std::time::Duration;

/// The longest duration accepted: a day. Anything longer is almost certainly a unit mistake
/// (milliseconds written as seconds), and it keeps arithmetic on `Instant`s far from overflow.
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses seconds (`"2"`, `"0.5"`) or a number with a unit: `ms`, `s`, `m`, `h`.
///
/// Decimal digits are read as integers (to the nanosecond), without the float parser:
/// that keeps tinysup's binary smaller.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    // As written, for messages (a long one as a prefix and its length).
    let shown = crate::config::shown::quoted(text);
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    // Nanoseconds per unit.
    let scale: u128 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(format!(
                "{shown} has an unknown unit {} (use ms, s, m or h)",
                crate::config::shown::quoted(unit)
            ));
        }
    };
    let invalid = || {
        format!("{shown} is not a duration (write seconds like 2.5, or \"500ms\", \"10s\", \"2m\")")
    };
    let number = number.trim();
    if number.starts_with('-') {
        return Err(format!("{shown} must be a non-negative number of seconds"));
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(whole) || digits(fraction))
        || !(whole.is_empty() || digits(whole))
        || !(fraction.is_empty() || digits(fraction))
    {
        return Err(invalid());
    }
    // The value in units of 10^-18, enough for nine decimals of any unit down to ms.
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    let mut fraction_e18: u128 = 0;
    for (i, digit) in fraction.bytes().take(18).enumerate() {
        fraction_e18 += u128::from(digit - b'0') * 10u128.pow(17 - i as u32);
    }
    let nanos = whole
        .checked_mul(scale)
        .and_then(|n| n.checked_add(fraction_e18 * scale / 1_000_000_000_000_000_000))
        .ok_or_else(|| format!("{shown} is longer than a day"))?;
    if nanos > MAX.as_nanos() {
        return Err(format!("{shown} is longer than a day"));
    }
    Ok(Duration::from_nanos(nanos as u64))
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

/// Prints a duration compactly: `250ms`, `1.5s`, `30s` (integer arithmetic only).
pub fn format(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let (seconds, rest) = (millis / 1000, millis % 1000);
    if rest == 0 {
        return format!("{seconds}s");
    }
    let fraction = format!("{rest:03}");
    format!("{seconds}.{}s", fraction.trim_end_matches('0'))
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
            (".5", 500),
            ("1.", 1000),
            ("24h", 86_400_000),
        ];
        for (text, ms) in rows {
            assert_eq!(parse(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        assert_eq!(parse("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse("0.0001"), Ok(Duration::from_micros(100)));
        assert_eq!(parse("0.000000001"), Ok(Duration::from_nanos(1)));
        for bad in [
            "", "abc", "10x", "-1", "ms", "25h", "nan", "inf", ".", "1.2.3", "1e3", "+1", "1 000",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_secs(30)), "30s");
        assert_eq!(format(Duration::from_millis(1050)), "1.05s");
    }
}

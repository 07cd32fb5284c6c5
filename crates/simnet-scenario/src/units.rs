//! The units scenario files are written in.
//!
//! Durations: `10ms`, `1.5s`, `250us`, `2m`, `1h` (a unit is required).
//! Probabilities: `1%`, `0.5%`, or a fraction `0.01`.
//! Sizes: `1500`, `64KiB`, `1MiB`, `10KB` (bytes).
//! Bit rates: `10Mbps`, `1.5Gbps`, `64kbps`, `9600bps`.
//!
//! Each type deserializes from TOML with an error that says what would have
//! been valid; toml attaches the position.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use simnet_core::{Probability, SimDuration};
use std::fmt;

/// Parses a duration such as `10ms` or `1.5s`.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .ok_or_else(|| format!("`{t}` has no unit: write e.g. `{t}ms` or `{t}s`"))?;
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        other => {
            return Err(format!(
                "unknown time unit `{other}` in `{t}`: use ns, us, ms, s, m or h"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a duration: write e.g. `10ms` or `1.5s`"))?;
    if value < 0.0 || !value.is_finite() {
        return Err(format!("`{t}`: a duration cannot be negative"));
    }
    let nanos = (value * scale).round();
    if nanos > u64::MAX as f64 / 2.0 {
        return Err(format!("`{t}` is too long"));
    }
    Ok(SimDuration::from_nanos(nanos as u64))
}

/// Parses a probability: `1%`, `0.5%`, or a fraction between 0 and 1.
pub fn parse_probability(text: &str) -> Result<Probability, String> {
    let t = text.trim();
    let (value, percent) = match t.strip_suffix('%') {
        Some(p) => (p.trim().parse::<f64>(), true),
        None => (t.parse::<f64>(), false),
    };
    let value =
        value.map_err(|_| format!("`{t}` is not a probability: write e.g. `1%` or `0.01`"))?;
    let percent_value = if percent { value } else { value * 100.0 };
    if !(0.0..=100.0).contains(&percent_value) || !value.is_finite() {
        return Err(format!("`{t}` is outside 0%..100%"));
    }
    Ok(Probability::from_percent(percent_value))
}

/// Parses a size in bytes: `1500`, `64KiB`, `1MiB`, `10KB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{t}`: use B, KB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a size: write e.g. `1500`, `64KiB` or `1MiB`"))?;
    Ok((value * scale).round() as u64)
}

/// Parses a bit rate: `10Mbps`, `1.5Gbps`, `64kbps`, `9600bps`.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim() {
        "bps" => 1.0,
        "kbps" | "Kbps" => 1e3,
        "Mbps" => 1e6,
        "Gbps" => 1e9,
        "" => return Err(format!("`{t}` has no unit: write e.g. `{t}Mbps`")),
        other => {
            return Err(format!(
                "unknown rate unit `{other}` in `{t}`: use bps, kbps, Mbps or Gbps"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a bit rate: write e.g. `10Mbps`"))?;
    let bps = (value * scale).round();
    if bps < 1.0 {
        return Err(format!("`{t}`: a bandwidth must be at least 1bps"));
    }
    Ok(bps as u64)
}

macro_rules! string_or_number_type {
    ($name:ident, $inner:ty, $parse:ident, $expecting:literal, $from_int:expr, $from_float:expr) => {
        #[doc = concat!("A value written as ", $expecting, ".")]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $parse(v).map($name).map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        #[allow(clippy::redundant_closure_call)]
                        ($from_int)(v).map($name).map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$name, E> {
                        #[allow(clippy::redundant_closure_call)]
                        ($from_float)(v).map($name).map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

string_or_number_type!(
    Dur,
    SimDuration,
    parse_duration,
    "a duration such as \"10ms\" or \"1.5s\"",
    |v: i64| Err::<SimDuration, String>(format!(
        "`{v}` has no unit: write e.g. \"{v}ms\" or \"{v}s\""
    )),
    |v: f64| Err::<SimDuration, String>(format!("`{v}` has no unit: write e.g. \"{v}s\""))
);

string_or_number_type!(
    Prob,
    Probability,
    parse_probability,
    "a probability such as \"1%\" or 0.01",
    |v: i64| parse_probability(&v.to_string()),
    |v: f64| parse_probability(&v.to_string())
);

string_or_number_type!(
    Size,
    u64,
    parse_size,
    "a size such as 1500, \"64KiB\" or \"1MiB\"",
    |v: i64| u64::try_from(v).map_err(|_| format!("`{v}`: a size cannot be negative")),
    |v: f64| Err::<u64, String>(format!("`{v}`: write a whole number of bytes"))
);

string_or_number_type!(
    Rate,
    u64,
    parse_bandwidth,
    "a bit rate such as \"10Mbps\"",
    |v: i64| Err::<u64, String>(format!("`{v}` has no unit: write e.g. \"{v}Mbps\"")),
    |v: f64| Err::<u64, String>(format!("`{v}` has no unit: write e.g. \"{v}Mbps\""))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Ok(SimDuration::from_millis(10)));
        assert_eq!(parse_duration("1.5s"), Ok(SimDuration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(SimDuration::from_micros(250)));
        assert_eq!(parse_duration("2m"), Ok(SimDuration::from_secs(120)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("-5ms").unwrap_err().contains("negative"));
        assert!(
            parse_duration("5 parsecs")
                .unwrap_err()
                .contains("unknown time unit")
        );
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("1%"), Ok(Probability::from_percent(1.0)));
        assert_eq!(
            parse_probability("0.01"),
            Ok(Probability::from_percent(1.0))
        );
        assert_eq!(parse_probability("100%"), Ok(Probability::ONE));
        assert!(parse_probability("101%").unwrap_err().contains("outside"));
        assert!(parse_probability("1.5").unwrap_err().contains("outside"));
        assert!(parse_probability("-1%").is_err());
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert!(parse_size("5 bananas").is_err());
        assert_eq!(parse_bandwidth("10Mbps"), Ok(10_000_000));
        assert_eq!(parse_bandwidth("1.5Gbps"), Ok(1_500_000_000));
        assert!(parse_bandwidth("10").unwrap_err().contains("no unit"));
    }
}

//! The units scenario files are written in.
//!
//! Durations: `10ms`, `1.5s`, `250us`, `2m`, `1h` (a unit is required).
//! Probabilities: `1%`, `0.5%`, or a fraction `0.01`.
//! Sizes: `1500`, `64KiB`, `1MiB`, `10KB` (bytes).
//! Bit rates: `10Mbps`, `1.5Gbps`, `64kbps`, `9600bps`.
//!
//! Every unit type reads the same number grammar: digits, optionally a
//! decimal point and more digits, then the unit (a space between them is
//! allowed). Signs, exponents (`1e3`), `NaN`, `inf`, digit separators and a
//! bare decimal point (`.5`, `5.`) are refused, each with its own message
//! and an example of what is valid. Numbers are read exactly, never through
//! floating point, and the result must be a whole number of the type's
//! smallest step: nanoseconds for durations, bytes for sizes, bits per
//! second for rates, parts per million for probabilities. So `1.5KiB` is
//! 1536 bytes and valid, while `0.4` (bytes) is refused rather than silently
//! becoming 0. Each type has a documented maximum ([`MAX_DURATION`],
//! [`MAX_SIZE`], [`MAX_BANDWIDTH`]), and durations used as intervals or
//! timeouts a minimum ([`MIN_INTERVAL`], checked by [`check_interval`]).
//!
//! Each type deserializes from TOML with an error that says what would have
//! been valid; toml attaches the position. A bare TOML number where a unit
//! is needed (`latency = 10`, `bandwidth = 0`) gets an error that suggests
//! the same number with a unit, but only when that suggestion is itself
//! valid.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use simnet_core::{Probability, SimDuration};
use std::fmt;

/// The longest duration a scenario may write: 100 years (of 365 days),
/// `876000h`. Far beyond any useful run, and far enough below the clock's
/// limit (about 584 years of nanoseconds) that adding two such durations
/// to a time cannot overflow it.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(100 * 365 * 24 * 3600);

/// The shortest interval or timeout (a keepalive, a ping interval, an idle
/// timeout): one microsecond. smoltcp counts time in whole microseconds, so
/// anything shorter becomes zero there, and a zero interval fires again at
/// the same instant for ever. Durations that are delays rather than
/// intervals (a latency, a jitter, a start time) may be zero.
pub const MIN_INTERVAL: SimDuration = SimDuration::MIN_INTERVAL;

/// The largest size a scenario may write: 1 TiB (`1TiB`, 2^40 bytes). This
/// bounds payload streams, which are generated as the socket accepts them
/// and so cost no memory up front; sizes of things allocated up front (TCP
/// buffers, WebSocket messages) have tighter limits of their own.
pub const MAX_SIZE: u64 = 1 << 40;

/// The largest TCP buffer (`rx_buffer`, `tx_buffer` of `[host.tcp]`): 16 MiB.
/// Both buffers are allocated, zeroed, for every socket of the host, so
/// they are bounded far below [`MAX_SIZE`]; 16 MiB is what a tuned Linux
/// host allows (`net.core.rmem_max`) and covers a 1 Gbps path with a 100 ms
/// round trip.
pub const MAX_TCP_BUFFER: u64 = 16 << 20;

/// The largest bit rate a scenario may write: 1 Tbps (`1000Gbps`).
pub const MAX_BANDWIDTH: u64 = 1_000_000_000_000;

/// What one unit type is called and how it is written, for messages.
struct Kind {
    /// "a duration", "a size", ...
    noun: &'static str,
    /// An example of a valid value, e.g. `10ms`.
    example: &'static str,
    /// The largest valid value, as written.
    max: &'static str,
}

const DURATION: Kind = Kind {
    noun: "a duration",
    example: "`10ms` or `1.5s`",
    max: "876000h (100 years)",
};
const SIZE: Kind = Kind {
    noun: "a size",
    example: "`1500`, `64KiB` or `1.5MiB`",
    max: "1TiB",
};
const BANDWIDTH: Kind = Kind {
    noun: "a bit rate",
    example: "`10Mbps` or `1.5Gbps`",
    max: "1000Gbps",
};
const PROBABILITY: Kind = Kind {
    noun: "a probability",
    example: "`1%`, `0.5%` or `0.01`",
    max: "100%",
};

/// A decimal number read exactly: `int + frac / 10^frac_digits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    int: u128,
    frac: u128,
    frac_digits: u32,
}

/// More integer digits than any valid value needs (the largest, 1TiB in
/// bytes, has 13); longer numbers are refused as too large before they can
/// overflow anything.
const MAX_INT_DIGITS: usize = 24;

/// More decimal places than any valid value needs: the finest steps are a
/// nanosecond of an hour and a byte of a TiB (both well under 18 places).
const MAX_FRAC_DIGITS: usize = 18;

/// Splits `t` (already trimmed) into a number and the unit after it, or says
/// exactly what is wrong with the number.
fn split_number<'t>(t: &'t str, kind: &Kind) -> Result<(Decimal, &'t str), String> {
    let (noun, example, max) = (kind.noun, kind.example, kind.max);
    if t.is_empty() {
        return Err(format!("an empty text is not {noun}: write e.g. {example}"));
    }
    if t.starts_with('-') {
        return Err(format!(
            "`{t}`: {noun} cannot be negative: write e.g. {example}"
        ));
    }
    if t.starts_with('+') {
        return Err(format!(
            "`{t}`: write the number without a sign, e.g. {example}"
        ));
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("nan") || lower.starts_with("inf") {
        return Err(format!(
            "`{t}` is not a number: write {noun} such as {example}"
        ));
    }
    let int_len = t.bytes().take_while(u8::is_ascii_digit).count();
    if int_len == 0 {
        let hint = if t.starts_with('.') {
            " (write a digit before the decimal point, e.g. `0.5`)"
        } else {
            ""
        };
        return Err(format!(
            "`{t}` does not start with a number{hint}: write {noun} such as {example}"
        ));
    }
    let (int_text, rest) = t.split_at(int_len);
    let (frac_text, rest) = match rest.strip_prefix('.') {
        Some(after) => {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return Err(format!(
                    "`{t}`: write digits after the decimal point, or none, e.g. {example}"
                ));
            }
            after.split_at(n)
        }
        None => ("", rest),
    };
    let mut after = rest.bytes();
    if let (Some(b'e' | b'E'), Some(b'0'..=b'9' | b'+' | b'-')) = (after.next(), after.next()) {
        return Err(format!(
            "`{t}`: exponent notation is not accepted: write the number out, e.g. {example}"
        ));
    }
    if rest.starts_with(['.', ',', '_']) {
        return Err(format!(
            "`{t}` is not one number followed by a unit: write e.g. {example}"
        ));
    }
    let int_digits = int_text.trim_start_matches('0');
    if int_digits.len() > MAX_INT_DIGITS {
        return Err(format!("`{t}` is too large: {noun} is at most {max}"));
    }
    let frac_text = frac_text.trim_end_matches('0');
    if frac_text.len() > MAX_FRAC_DIGITS {
        return Err(format!(
            "`{t}` has more decimal places than {noun} can hold: write e.g. {example}"
        ));
    }
    // Both fit: at most 24 and 18 decimal digits, and u128 holds 38.
    let int = int_digits
        .bytes()
        .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
    let frac = frac_text
        .bytes()
        .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
    let decimal = Decimal {
        int,
        frac,
        frac_digits: frac_text.len() as u32,
    };
    Ok((decimal, rest.trim_start()))
}

/// `number * scale`, exactly: `Ok(whole)` when the product is a whole
/// number, `Err(())` when it has a fractional part. `None` on overflow
/// (which only a value far above every maximum can reach).
fn scaled(n: Decimal, scale: u128) -> Option<Result<u128, ()>> {
    let whole = n.int.checked_mul(scale)?;
    let frac = n.frac.checked_mul(scale)?;
    let denominator = 10u128.pow(n.frac_digits);
    if frac % denominator != 0 {
        return Some(Err(()));
    }
    Some(Ok(whole.checked_add(frac / denominator)?))
}

/// Parses a duration such as `10ms` or `1.5s`: at most [`MAX_DURATION`], a
/// whole number of nanoseconds. Zero is allowed here; intervals and
/// timeouts also go through [`check_interval`].
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let t = text.trim();
    let (number, unit) = split_number(t, &DURATION)?;
    let scale: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => return Err(format!("`{t}` has no unit: write e.g. `{t}ms` or `{t}s`")),
        other => {
            return Err(format!(
                "unknown time unit `{other}` in `{t}`: use ns, us, ms, s, m or h, e.g. `10ms`"
            ));
        }
    };
    match scaled(number, scale) {
        Some(Ok(nanos)) if nanos <= u128::from(MAX_DURATION.as_nanos()) => {
            Ok(SimDuration::from_nanos(nanos as u64))
        }
        Some(Err(())) => Err(format!(
            "`{t}` is not a whole number of nanoseconds, the clock's resolution: write e.g. `1.5us`"
        )),
        _ => Err(format!(
            "`{t}` is too long: a duration is at most 876000h (100 years)"
        )),
    }
}

/// Checks the rule for every interval and timeout: at least
/// [`MIN_INTERVAL`] (one microsecond). `what` names the value in the
/// message, e.g. "`keepalive`".
pub fn check_interval(what: &str, d: SimDuration) -> Result<SimDuration, String> {
    if d < MIN_INTERVAL {
        return Err(format!(
            "{what} is {d}, shorter than 1us: an interval or timeout must be at least 1us \
             (smoltcp counts whole microseconds), e.g. `10ms`"
        ));
    }
    Ok(d)
}

/// Parses a probability: `1%`, `0.5%`, or a fraction between 0 and 1; a
/// whole number of parts per million (`0.0001%` is the finest).
pub fn parse_probability(text: &str) -> Result<Probability, String> {
    let t = text.trim();
    let (number, unit) = split_number(t, &PROBABILITY)?;
    let scale: u128 = match unit {
        "%" => 10_000,
        "" => 1_000_000,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{t}`: a probability is a percentage such as `1%` \
                 or a fraction such as `0.01`"
            ));
        }
    };
    match scaled(number, scale) {
        Some(Ok(ppm)) if ppm <= 1_000_000 => Ok(Probability::from_ppm(ppm as u32)),
        Some(Err(())) => Err(format!(
            "`{t}` is finer than one in a million: the finest probability is `0.0001%`"
        )),
        _ => Err(format!(
            "`{t}` is outside 0%..100%: write e.g. {}",
            PROBABILITY.example
        )),
    }
}

/// Parses a size in bytes: `1500`, `64KiB`, `1MiB`, `10KB`, `1.5KiB`. At
/// most [`MAX_SIZE`], and a whole number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit) = split_number(t, &SIZE)?;
    let scale: u128 = match unit {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{t}`: use B, KB, KiB, MB, MiB, GB, GiB, TB or \
                 TiB, e.g. `64KiB`"
            ));
        }
    };
    match scaled(number, scale) {
        Some(Ok(bytes)) if bytes <= u128::from(MAX_SIZE) => Ok(bytes as u64),
        Some(Err(())) => Err(format!(
            "`{t}` is not a whole number of bytes: a size is a whole number of bytes, e.g. \
             `1500` or `1.5KiB` (1536 bytes)"
        )),
        _ => Err(format!("`{t}` is too large: a size is at most 1TiB")),
    }
}

/// Parses a bit rate: `10Mbps`, `1.5Gbps`, `64kbps`, `9600bps`. Between
/// 1bps and [`MAX_BANDWIDTH`], a whole number of bits per second.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit) = split_number(t, &BANDWIDTH)?;
    let scale: u128 = match unit {
        "bps" => 1,
        "kbps" | "Kbps" => 1_000,
        "Mbps" => 1_000_000,
        "Gbps" => 1_000_000_000,
        "" => {
            let example = suggest(t, &["Mbps"], |c| parse_bandwidth(c).is_ok())
                .unwrap_or_else(|| "`10Mbps`".to_string());
            return Err(format!("`{t}` has no unit: write e.g. {example}"));
        }
        other => {
            return Err(format!(
                "unknown rate unit `{other}` in `{t}`: use bps, kbps, Mbps or Gbps, e.g. `10Mbps`"
            ));
        }
    };
    match scaled(number, scale) {
        Some(Ok(0)) => Err(format!(
            "`{t}`: a bit rate must be at least 1bps: write e.g. {}",
            BANDWIDTH.example
        )),
        Some(Ok(bps)) if bps <= u128::from(MAX_BANDWIDTH) => Ok(bps as u64),
        Some(Err(())) => Err(format!(
            "`{t}` is not a whole number of bits per second: write e.g. `1.5kbps` (1500bps)"
        )),
        _ => Err(format!(
            "`{t}` is too large: a bit rate is at most 1000Gbps"
        )),
    }
}

/// `number` followed by the first of `units` that makes a valid value, as
/// an example for a message; `None` when no such suggestion is valid.
fn suggest(number: &str, units: &[&str], valid: impl Fn(&str) -> bool) -> Option<String> {
    units
        .iter()
        .map(|u| format!("{number}{u}"))
        .find(|c| valid(c))
        .map(|c| format!("`{c}`"))
}

/// The message for a TOML number (`latency = 10`) where a string with a
/// unit is needed: the same number with a unit, if that is valid, else the
/// type's own example. Negative numbers, NaN and infinities get the
/// messages their strings would.
fn number_without_unit(
    number: &str,
    kind: &Kind,
    units: &[&str],
    valid: impl Fn(&str) -> bool,
) -> String {
    if let Err(e) = split_number(number, kind) {
        return e;
    }
    match suggest(number, units, &valid) {
        Some(example) => format!(
            "`{number}` has no unit: write {} as a string with a unit, e.g. {}",
            kind.noun,
            example.replace('`', "\"")
        ),
        None => format!(
            "`{number}` is not {}: write a string with a unit, e.g. {}",
            kind.noun,
            kind.example.replace('`', "\"")
        ),
    }
}

/// A TOML float as its shortest decimal text (Rust never writes floats
/// with an exponent), or, for a float far beyond every maximum (`1e30`),
/// the message saying so with the number as it was probably written.
fn float_text(v: f64, kind: &Kind) -> Result<String, String> {
    if v.is_finite() && v.abs() >= 1e15 {
        let sign = if v < 0.0 {
            "cannot be negative"
        } else {
            "is too large"
        };
        return Err(if v < 0.0 {
            format!("`{v:e}`: {} {sign}: write e.g. {}", kind.noun, kind.example)
        } else {
            format!("`{v:e}` {sign}: {} is at most {}", kind.noun, kind.max)
        });
    }
    Ok(v.to_string())
}

/// The error for a TOML number given where a bit rate (a string with a
/// unit) is needed, e.g. `bandwidth = 0`.
pub fn bandwidth_number_error(number: &str) -> String {
    number_without_unit(number, &BANDWIDTH, &["Mbps"], |c| {
        parse_bandwidth(c).is_ok()
    })
}

/// The error for a TOML float given where a bit rate is needed, e.g.
/// `bandwidth = 1.5` or `bandwidth = 1e30`.
pub fn bandwidth_float_error(v: f64) -> String {
    match float_text(v, &BANDWIDTH) {
        Ok(text) => bandwidth_number_error(&text),
        Err(e) => e,
    }
}

/// The error for a TOML float given where a duration is needed.
pub fn duration_float_error(v: f64) -> String {
    match float_text(v, &DURATION) {
        Ok(text) => duration_number_error(&text),
        Err(e) => e,
    }
}

/// A size written as a TOML float: valid when it is a whole number of
/// bytes within the maximum (`1500.0`), like the same text.
pub fn size_from_float(v: f64) -> Result<u64, String> {
    float_text(v, &SIZE).and_then(|t| parse_size(&t))
}

/// A probability written as a TOML float (`0.01`).
pub fn probability_from_float(v: f64) -> Result<Probability, String> {
    float_text(v, &PROBABILITY).and_then(|t| parse_probability(&t))
}

/// The error for a TOML number given where a duration (a string with a
/// unit) is needed, e.g. `latency = 10`.
pub fn duration_number_error(number: &str) -> String {
    number_without_unit(number, &DURATION, &["ms", "s"], |c| {
        parse_duration(c).is_ok()
    })
}

macro_rules! string_or_number_type {
    ($name:ident, $inner:ty, $kind:ident, $parse:ident, $expecting:literal, $from_number:expr) => {
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
                        ($from_number)(v.to_string()).map($name).map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        #[allow(clippy::redundant_closure_call)]
                        ($from_number)(v.to_string()).map($name).map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$name, E> {
                        #[allow(clippy::redundant_closure_call)]
                        float_text(v, &$kind)
                            .and_then($from_number)
                            .map($name)
                            .map_err(E::custom)
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
    DURATION,
    parse_duration,
    "a duration such as \"10ms\" or \"1.5s\"",
    |v: String| Err::<SimDuration, String>(duration_number_error(&v))
);

string_or_number_type!(
    Prob,
    Probability,
    PROBABILITY,
    parse_probability,
    "a probability such as \"1%\" or 0.01",
    |v: String| parse_probability(&v)
);

string_or_number_type!(
    Size,
    u64,
    SIZE,
    parse_size,
    "a size such as 1500, \"64KiB\" or \"1MiB\"",
    |v: String| parse_size(&v)
);

string_or_number_type!(
    Rate,
    u64,
    BANDWIDTH,
    parse_bandwidth,
    "a bit rate such as \"10Mbps\"",
    |v: String| Err::<u64, String>(bandwidth_number_error(&v))
);

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: fmt::Debug>(r: Result<T, String>) -> String {
        r.expect_err("should be refused")
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Ok(SimDuration::from_millis(10)));
        assert_eq!(parse_duration("1.5s"), Ok(SimDuration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(SimDuration::from_micros(250)));
        assert_eq!(parse_duration("250 µs"), Ok(SimDuration::from_micros(250)));
        assert_eq!(parse_duration("2m"), Ok(SimDuration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(SimDuration::ZERO));
        assert_eq!(parse_duration("1.5us"), Ok(SimDuration::from_nanos(1500)));
        assert_eq!(parse_duration("876000h"), Ok(MAX_DURATION));
        assert!(err(parse_duration("876001h")).contains("too long"));
        assert!(err(parse_duration("99999999999999999999999999999999h")).contains("at most"));
        assert!(err(parse_duration("10")).contains("no unit"));
        assert!(err(parse_duration("-5ms")).contains("cannot be negative"));
        assert!(err(parse_duration("5 parsecs")).contains("unknown time unit"));
        assert!(err(parse_duration("0.5ns")).contains("whole number of nanoseconds"));
        assert!(err(parse_duration("abc")).contains("does not start with a number"));
    }

    /// The cases issue 16 names, and their relatives: every unit type
    /// gives the same message for the same mistake.
    #[test]
    fn every_type_refuses_the_same_numbers_the_same_way() {
        type Check = fn(&str) -> Option<String>;
        let parsers: [(&str, Check); 4] = [
            ("s", |t| parse_duration(t).err()),
            ("%", |t| parse_probability(t).err()),
            ("KiB", |t| parse_size(t).err()),
            ("Mbps", |t| parse_bandwidth(t).err()),
        ];
        for (unit, parse) in parsers {
            let e = |n: &str| parse(&format!("{n}{unit}")).unwrap_or_default();
            assert!(
                e("1e30").contains("exponent notation is not accepted"),
                "{unit}"
            );
            assert!(
                e("1E-3").contains("exponent notation is not accepted"),
                "{unit}"
            );
            assert!(e("-5").contains("cannot be negative"), "{unit}");
            assert!(e("+5").contains("without a sign"), "{unit}");
            assert!(e("NaN").contains("is not a number"), "{unit}");
            assert!(e("inf").contains("is not a number"), "{unit}");
            assert!(e(".5").contains("digit before the decimal point"), "{unit}");
            assert!(e("5.").contains("digits after the decimal point"), "{unit}");
            assert!(e("1,5").contains("not one number"), "{unit}");
            assert!(e("1_000").contains("not one number"), "{unit}");
            assert!(e("1.2.3").contains("not one number"), "{unit}");
            assert!(parse("").unwrap_or_default().contains("empty"), "{unit}");
            // Every message shows an example of a valid value.
            for bad in ["1e30", "-5", "NaN", ".5", "1,5"] {
                assert!(
                    e(bad).contains("e.g.") || e(bad).contains("such as"),
                    "{bad}{unit}"
                );
            }
            // And a valid number with this unit is accepted.
            assert_eq!(parse(&format!("0.5{unit}")), None, "0.5{unit}");
        }
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("1%"), Ok(Probability::from_percent(1.0)));
        assert_eq!(
            parse_probability("0.01"),
            Ok(Probability::from_percent(1.0))
        );
        assert_eq!(parse_probability("100%"), Ok(Probability::ONE));
        assert_eq!(parse_probability("1"), Ok(Probability::ONE));
        assert_eq!(parse_probability("0.0001%"), Ok(Probability::from_ppm(1)));
        assert!(err(parse_probability("101%")).contains("outside"));
        assert!(err(parse_probability("1.5")).contains("outside"));
        assert!(err(parse_probability("-1%")).contains("negative"));
        assert!(err(parse_probability("0.00001%")).contains("one in a million"));
        assert!(err(parse_probability("5 pct")).contains("unknown unit"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("1500 B"), Ok(1500));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("1TiB"), Ok(MAX_SIZE));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("007"), Ok(7));
        // Read exactly, not through f64.
        assert_eq!(parse_size("0.3MB"), Ok(300_000));
        assert_eq!(parse_size("1099511627775"), Ok(MAX_SIZE - 1));
        assert!(err(parse_size("1099511627777")).contains("at most 1TiB"));
        assert!(err(parse_size("99999999999GiB")).contains("too large"));
        assert!(
            err(parse_size("999999999999999999999999999999999999999999GiB")).contains("too large")
        );
        assert!(err(parse_size("0.4")).contains("whole number of bytes"));
        assert!(err(parse_size("1.5")).contains("whole number of bytes"));
        assert!(err(parse_size("1.0001KiB")).contains("whole number of bytes"));
        assert!(err(parse_size("5 bananas")).contains("unknown size unit"));
    }

    #[test]
    fn rates() {
        assert_eq!(parse_bandwidth("10Mbps"), Ok(10_000_000));
        assert_eq!(parse_bandwidth("1.5Gbps"), Ok(1_500_000_000));
        assert_eq!(parse_bandwidth("1000Gbps"), Ok(MAX_BANDWIDTH));
        assert!(err(parse_bandwidth("1001Gbps")).contains("at most 1000Gbps"));
        assert!(err(parse_bandwidth("10")).contains("no unit"));
        assert!(err(parse_bandwidth("10")).contains("`10Mbps`"));
        // The suggestion is only ever a valid value.
        assert!(err(parse_bandwidth("0")).contains("`10Mbps`"));
        assert!(err(parse_bandwidth("0Mbps")).contains("at least 1bps"));
        assert!(err(parse_bandwidth("0.5bps")).contains("whole number"));
    }

    #[test]
    fn intervals() {
        assert_eq!(check_interval("`x`", MIN_INTERVAL), Ok(MIN_INTERVAL));
        let e = err(check_interval("`keepalive`", SimDuration::from_nanos(999)));
        assert!(e.contains("at least 1us"), "{e}");
        assert!(err(check_interval("`x`", SimDuration::ZERO)).contains("`x` is 0"));
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // The fields are read through the errors they give.
    struct Doc {
        d: Option<Dur>,
        s: Option<Size>,
        r: Option<Rate>,
        p: Option<Prob>,
    }

    fn toml_err(text: &str) -> String {
        toml::from_str::<Doc>(text)
            .unwrap_err()
            .message()
            .to_string()
    }

    #[test]
    fn toml_numbers_get_suggestions_that_are_valid() {
        assert_eq!(
            toml_err("d = 10"),
            "`10` has no unit: write a duration as a string with a unit, e.g. \"10ms\""
        );
        assert!(toml_err("d = 1.5").contains("\"1.5ms\""));
        // 1e30 seconds is too long: the message says so rather than
        // suggesting "1e30s".
        let e = toml_err("d = 1e30");
        assert_eq!(
            e,
            "`1e30` is too large: a duration is at most 876000h (100 years)"
        );
        assert!(toml_err("d = -1e30").contains("cannot be negative"));
        assert!(toml_err("d = -5").contains("cannot be negative"));
        assert!(toml_err("d = nan").contains("not a number"));
        assert!(toml_err("d = inf").contains("not a number"));
        // A rate of 0 shows a valid rate.
        let e = toml_err("r = 0");
        assert!(e.contains("\"10Mbps\""), "{e}");
        assert!(toml_err("r = 10").contains("\"10Mbps\""));
        // Sizes and probabilities take numbers with the same rules as text.
        let doc: Doc = toml::from_str("s = 1500\np = 0.01").unwrap();
        assert_eq!(doc.s, Some(Size(1500)));
        assert_eq!(doc.p, Some(Prob(Probability::from_ppm(10_000))));
        assert!(toml_err("s = 1.5").contains("whole number of bytes"));
        assert!(toml_err("s = -1").contains("cannot be negative"));
        assert!(toml_err("s = 2000000000000").contains("at most 1TiB"));
        assert!(toml_err("p = 2").contains("outside"));
        assert!(toml_err("p = 1e-7").contains("one in a million"));
    }
}

//! Virtual time.
//!
//! Simulated time is an integer number of nanoseconds since the start of a
//! run. Nothing in simnet reads a wall clock: time only moves when the world
//! loop jumps to the next scheduled event. smoltcp counts in microseconds;
//! that conversion happens in exactly one place, `host::smol_instant`.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable time; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// A time `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(nanos)
    }
    /// A time `micros` microseconds after the start.
    pub const fn from_micros(micros: u64) -> SimTime {
        SimTime(micros.saturating_mul(1_000))
    }
    /// A time `millis` milliseconds after the start.
    pub const fn from_millis(millis: u64) -> SimTime {
        SimTime(millis.saturating_mul(1_000_000))
    }
    /// A time `secs` seconds after the start.
    pub const fn from_secs(secs: u64) -> SimTime {
        SimTime(secs.saturating_mul(1_000_000_000))
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Whole microseconds since the start (rounded down).
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }
    /// The span from the start to this time.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }
    /// `self - earlier`, or zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// `self + d`, saturating at [`SimTime::MAX`].
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The largest representable span.
    pub const MAX: SimDuration = SimDuration(u64::MAX);
    /// The shortest interval or timeout: one microsecond. smoltcp counts
    /// whole microseconds, so a shorter interval would become zero there,
    /// and a zero interval fires again at the same instant for ever.
    /// Scenario files refuse shorter intervals; the Rust API raises them
    /// to this (see [`SimDuration::as_interval`]).
    pub const MIN_INTERVAL: SimDuration = SimDuration(1_000);

    /// A span of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> SimDuration {
        SimDuration(nanos)
    }
    /// A span of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> SimDuration {
        SimDuration(micros.saturating_mul(1_000))
    }
    /// A span of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> SimDuration {
        SimDuration(millis.saturating_mul(1_000_000))
    }
    /// A span of `secs` seconds.
    pub const fn from_secs(secs: u64) -> SimDuration {
        SimDuration(secs.saturating_mul(1_000_000_000))
    }
    /// This span used as an interval or timeout: raised to
    /// [`SimDuration::MIN_INTERVAL`] if shorter, so that a periodic timer
    /// always moves time forward. Every interval and timeout the Rust API
    /// takes (keepalive, user timeout, publish and ping schedules, a slow
    /// reader's interval) goes through this.
    pub const fn as_interval(self) -> SimDuration {
        if self.0 < Self::MIN_INTERVAL.0 {
            Self::MIN_INTERVAL
        } else {
            self
        }
    }
    /// The span in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The span in whole microseconds (rounded down).
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }
    /// The span in whole milliseconds (rounded down).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// The span in seconds, as a float, for reports only (never for scheduling).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// `self * n`, saturating.
    pub const fn saturating_mul(self, n: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(n))
    }
    /// `self + other`, saturating.
    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
    /// Whether this span is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        self.saturating_add(d)
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.saturating_since(earlier)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, other: SimDuration) -> SimDuration {
        self.saturating_add(other)
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
}

/// Writes a time as milliseconds with microsecond precision, e.g. `20.000ms`.
///
/// This is the one format every renderer uses, so traces line up.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0 / 1_000;
        let text = format!("{}.{:03}ms", micros / 1_000, micros % 1_000);
        f.pad(&text)
    }
}

/// Writes a span in the largest unit that keeps it exact enough to read:
/// `1.5s`, `10ms`, `250us`, `12ns`.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        let text = if ns == 0 {
            "0s".to_string()
        } else if ns.is_multiple_of(1_000_000_000) {
            format!("{}s", ns / 1_000_000_000)
        } else if ns >= 1_000_000_000 {
            trim_decimal(ns as f64 / 1e9, "s")
        } else if ns.is_multiple_of(1_000_000) {
            format!("{}ms", ns / 1_000_000)
        } else if ns >= 1_000_000 {
            trim_decimal(ns as f64 / 1e6, "ms")
        } else if ns.is_multiple_of(1_000) {
            format!("{}us", ns / 1_000)
        } else if ns >= 1_000 {
            trim_decimal(ns as f64 / 1e3, "us")
        } else {
            format!("{ns}ns")
        };
        f.pad(&text)
    }
}

fn trim_decimal(value: f64, unit: &str) -> String {
    let s = format!("{value:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_displays_as_milliseconds_with_microseconds() {
        assert_eq!(SimTime::from_micros(20_000).to_string(), "20.000ms");
        assert_eq!(
            SimTime::from_nanos(10_060_000_999).to_string(),
            "10060.000ms"
        );
        assert_eq!(format!("{:>12}", SimTime::from_micros(1)), "     0.001ms");
    }

    #[test]
    fn durations_display_in_a_readable_unit() {
        assert_eq!(SimDuration::from_secs(10).to_string(), "10s");
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_millis(10).to_string(), "10ms");
        assert_eq!(SimDuration::from_micros(250).to_string(), "250us");
        assert_eq!(SimDuration::from_nanos(1_200).to_string(), "1.2us");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime::ZERO - SimTime::from_secs(1), SimDuration::ZERO);
    }
}

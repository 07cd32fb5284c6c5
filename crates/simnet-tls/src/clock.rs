//! Simulated time as the wall-clock time TLS needs.
//!
//! simnet's clock starts at zero; certificates and session tickets speak of
//! calendar time (seconds since 1970). An [`Epoch`] says which calendar
//! instant simulated time zero stands for, so `SimTime` maps to
//! [`UnixTime`] and to the `OffsetDateTime` rcgen writes into a
//! certificate. Nothing here reads a clock.

use rustls::pki_types::UnixTime;
use simnet_core::SimTime;
use std::time::Duration;

/// The calendar time that simulated time zero stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Epoch {
    unix_secs: u64,
}

impl Epoch {
    /// 2026-01-01T00:00:00Z, the epoch every run uses unless told otherwise.
    pub const DEFAULT: Epoch = Epoch::from_unix_secs(1_767_225_600);

    /// The epoch `unix_secs` seconds after 1970-01-01T00:00:00Z.
    pub const fn from_unix_secs(unix_secs: u64) -> Epoch {
        Epoch { unix_secs }
    }

    /// Seconds since 1970 at simulated time zero.
    pub const fn unix_secs(self) -> u64 {
        self.unix_secs
    }

    /// The calendar time at simulated time `now`.
    pub fn unix_time(self, now: SimTime) -> UnixTime {
        let nanos = u128::from(self.unix_secs) * 1_000_000_000 + u128::from(now.as_nanos());
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        // `nanos % 1e9` is below 1e9, so it fits in u32.
        let subsec = (nanos % 1_000_000_000) as u32;
        UnixTime::since_unix_epoch(Duration::new(secs, subsec))
    }

    /// The calendar time at simulated time `at`, as rcgen wants it, to the
    /// second (X.509 times have no fractions).
    pub fn date_time(self, at: SimTime) -> time::OffsetDateTime {
        let secs = self.unix_time(at).as_secs();
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
    }
}

impl Default for Epoch {
    fn default() -> Epoch {
        Epoch::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_is_offset_from_the_epoch() {
        let epoch = Epoch::from_unix_secs(1_000);
        assert_eq!(epoch.unix_time(SimTime::ZERO).as_secs(), 1_000);
        assert_eq!(
            epoch.unix_time(SimTime::from_millis(2_500)).as_secs(),
            1_002
        );
        assert_eq!(
            epoch.date_time(SimTime::from_secs(5)).unix_timestamp(),
            1_005
        );
    }
}

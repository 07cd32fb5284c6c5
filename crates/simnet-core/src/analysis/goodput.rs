//! Goodput over time: per flow, the bytes of data acknowledged in each
//! interval of the run.
//!
//! A flow's goodput counts each byte of its payload once, when the receiver
//! first acknowledges it (the time the receiver sent the cumulative ACK that
//! covered it: it had the byte and every byte before it, in order, so the
//! receiving application could read them). Retransmitted bytes are never
//! counted twice (the cumulative ACK passes each byte once), a SYN or FIN's
//! sequence number is not payload, and an ACK of bytes never sent counts
//! only up to what was sent.
//!
//! The run is cut into buckets of [`GOODPUT_BUCKET`] (100 ms) from time 0;
//! when the run grows past [`MAX_BUCKETS`] of them, every bucket doubles
//! (two neighbours merge, exactly: they are sums), so a long run has at
//! most [`MAX_BUCKETS`] buckets of 100 ms × 2^k and a chart of it a few
//! hundred points. A flow keeps only its buckets that count bytes, so its
//! memory is bounded by [`MAX_BUCKETS`] whatever the run's length and is a
//! few entries for a short connection; both modes of the
//! [`Analyzer`](super::Analyzer) keep them.

use crate::time::{SimDuration, SimTime};

/// The width of the goodput buckets of a run shorter than
/// [`MAX_BUCKETS`] × 100 ms.
pub const GOODPUT_BUCKET: SimDuration = SimDuration::from_millis(100);

/// The most buckets a run's goodput series has: past it, the bucket width
/// doubles.
pub const MAX_BUCKETS: u64 = 400;

/// The run's bucket width, as it grows with the run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    /// The current width, in nanoseconds.
    width: u64,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            width: GOODPUT_BUCKET.as_nanos(),
        }
    }
}

impl Clock {
    /// The current bucket width.
    pub(super) fn width(self) -> SimDuration {
        SimDuration::from_nanos(self.width)
    }

    /// The first time that no longer fits in [`MAX_BUCKETS`] buckets.
    pub(super) fn limit(self) -> SimTime {
        SimTime::from_nanos(self.width.saturating_mul(MAX_BUCKETS))
    }

    /// Doubles the width (the caller merges every flow's buckets with
    /// [`Buckets::coarsen`]).
    pub(super) fn double(&mut self) {
        self.width = self.width.saturating_mul(2);
    }

    /// The bucket `time` falls in.
    pub(super) fn index(self, time: SimTime) -> u32 {
        u32::try_from(time.as_nanos() / self.width).unwrap_or(u32::MAX)
    }

    /// When bucket `index` starts.
    pub(super) fn start(self, index: u32) -> SimTime {
        SimTime::from_nanos(u64::from(index).saturating_mul(self.width))
    }
}

/// One flow's non-empty buckets, `(index, bytes)` in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Buckets(Vec<(u32, u64)>);

impl Buckets {
    /// Counts `bytes` in bucket `index` (never before the latest bucket:
    /// time does not go back).
    pub(super) fn add(&mut self, index: u32, bytes: u64) {
        match self.0.last_mut() {
            Some((last, n)) if *last == index => *n += bytes,
            _ => self.0.push((index, bytes)),
        }
    }

    /// The buckets after the width doubled: bucket `i` becomes `i / 2`.
    pub(super) fn coarsen(&mut self) {
        let mut merged: Vec<(u32, u64)> = Vec::with_capacity(self.0.len());
        for &(i, n) in &self.0 {
            match merged.last_mut() {
                Some((last, m)) if *last == i / 2 => *m += n,
                _ => merged.push((i / 2, n)),
            }
        }
        self.0 = merged;
    }

    /// The bytes of buckets `first..=last`.
    pub(super) fn sum(&self, first: u32, last: u32) -> u64 {
        self.0
            .iter()
            .filter(|(i, _)| (first..=last).contains(i))
            .map(|(_, n)| n)
            .sum()
    }

    /// The buckets as `(start, bytes)`.
    pub(super) fn series(&self, clock: Clock) -> Vec<(SimTime, u64)> {
        self.0.iter().map(|&(i, n)| (clock.start(i), n)).collect()
    }
}

//! The seeded stream and the simulated time of the call in progress.
//!
//! rustls asks its provider for random bytes through a `&'static dyn
//! SecureRandom` and for the time through the configuration's
//! `TimeProvider`, shared by every connection made from that
//! configuration. A connection's own seeded stream cannot be reached from
//! a static, so each session *lends* its stream and the current simulated
//! time to this thread for exactly the duration of one call into rustls
//! ([`enter`]); the provider's pieces read them from here. Outside such a
//! call there is no stream and no time: a draw fails (rustls turns that
//! into an error, never a silent fallback to the OS), and that failure is
//! what proves nothing draws randomness behind the session's back.
//!
//! A simulation is single-threaded per world, and tests on other threads
//! each have their own slot, so a thread-local is exactly the right scope.
//! No `unsafe`: the stream is moved into the slot and moved back out.

use rand::RngCore;
use rustls::pki_types::UnixTime;
use simnet_core::rng::SimRng;
use std::cell::RefCell;

struct Lent {
    rng: SimRng,
    now: UnixTime,
    /// Random bytes drawn during this call.
    drawn_bytes: u64,
}

thread_local! {
    static CURRENT: RefCell<Option<Lent>> = const { RefCell::new(None) };
}

/// Runs `f` with `rng` and `now` lent to the provider, then takes the stream
/// back (advanced by whatever `f` drew). Returns `f`'s result and the number
/// of random bytes drawn.
///
/// # Panics
///
/// If called from inside another `enter` on the same thread: one session
/// calls into rustls at a time, and a nested call would hide which stream a
/// draw came from.
pub(crate) fn enter<R>(rng: &mut SimRng, now: UnixTime, f: impl FnOnce() -> R) -> (R, u64) {
    let placeholder = <SimRng as rand::SeedableRng>::from_seed([0; 32]);
    let lent = std::mem::replace(rng, placeholder);
    CURRENT.with(|slot| {
        let mut slot = slot.borrow_mut();
        assert!(slot.is_none(), "simnet-tls: nested call into rustls");
        *slot = Some(Lent {
            rng: lent,
            now,
            drawn_bytes: 0,
        });
    });
    // The guard gives the stream back even if `f` panics, so a caught panic
    // cannot leave a stale stream on the thread.
    let mut guard = Guard {
        home: rng,
        drawn_bytes: 0,
    };
    let result = f();
    guard.restore();
    (result, guard.drawn_bytes)
}

struct Guard<'a> {
    home: &'a mut SimRng,
    drawn_bytes: u64,
}

impl Guard<'_> {
    fn restore(&mut self) {
        if let Some(lent) = CURRENT.with(|slot| slot.borrow_mut().take()) {
            *self.home = lent.rng;
            self.drawn_bytes = lent.drawn_bytes;
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Fills `buf` from the lent stream; `false` when no session is calling.
pub(crate) fn fill(buf: &mut [u8]) -> bool {
    CURRENT.with(|slot| match slot.borrow_mut().as_mut() {
        Some(lent) => {
            lent.rng.fill_bytes(buf);
            lent.drawn_bytes += buf.len() as u64;
            true
        }
        None => false,
    })
}

/// The simulated time of the call in progress; `None` outside one.
pub(crate) fn now() -> Option<UnixTime> {
    CURRENT.with(|slot| slot.borrow().as_ref().map(|lent| lent.now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn draws_come_from_the_lent_stream_and_advance_it() {
        let mut rng = SimRng::seed_from_u64(1);
        let mut expected = SimRng::seed_from_u64(1);
        let mut want = [0u8; 8];
        expected.fill_bytes(&mut want);

        let mut got = [0u8; 8];
        let (ok, drawn) = enter(
            &mut rng,
            UnixTime::since_unix_epoch(Default::default()),
            || fill(&mut got),
        );
        assert!(ok);
        assert_eq!(drawn, 8);
        assert_eq!(got, want);
        // The stream came back advanced past the draw.
        assert_eq!(rng.next_u64(), expected.next_u64());
    }

    #[test]
    fn outside_a_call_there_is_no_randomness_and_no_time() {
        let mut buf = [0u8; 4];
        assert!(!fill(&mut buf));
        assert_eq!(now(), None);
    }
}

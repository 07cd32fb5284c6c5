//! Session tickets sealed under a seeded key with seeded nonces.
//!
//! A ticket is the server's session state encrypted to itself (RFC 5077 for
//! TLS 1.2; in TLS 1.3 the NewSessionTicket's `ticket` field). rustls's
//! ring `Ticketer` draws its key and every nonce from the OS and rotates
//! keys on the wall clock, so the same run would give different tickets.
//! This one draws its key once from the caller's stream when the server
//! configuration is made, and each nonce from the stream of the session
//! issuing the ticket. It never rotates: a simulated run is short, and a
//! rotation would have to be scheduled in simulated time (left for later).
//!
//! Format: 12-byte nonce, then ChaCha20-Poly1305 ciphertext and tag.

use super::scope;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::server::ProducesTickets;
use std::fmt;

/// A `ProducesTickets` with a key and nonces from seeded streams.
pub struct SeededTicketer {
    key: LessSafeKey,
    lifetime_secs: u32,
}

impl SeededTicketer {
    /// A ticketer whose tickets are valid for `lifetime_secs` seconds of
    /// simulated time, sealed under `key` (draw it from a seeded stream).
    pub fn new(key: [u8; 32], lifetime_secs: u32) -> SeededTicketer {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key)
            .expect("a 32-byte key is the right length for ChaCha20-Poly1305");
        SeededTicketer {
            key: LessSafeKey::new(unbound),
            lifetime_secs,
        }
    }
}

impl fmt::Debug for SeededTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededTicketer")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

impl ProducesTickets for SeededTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime_secs
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        // No stream, no ticket: rustls then simply sends none.
        if !scope::fill(&mut nonce) {
            return None;
        }
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .ok()?;
        let mut ticket = nonce.to_vec();
        ticket.extend_from_slice(&sealed);
        Some(ticket)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = cipher.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rustls::pki_types::UnixTime;
    use simnet_core::rng::SimRng;

    fn seal(ticketer: &SeededTicketer, seed: u64, plain: &[u8]) -> Option<Vec<u8>> {
        let mut rng = SimRng::seed_from_u64(seed);
        let now = UnixTime::since_unix_epoch(Default::default());
        scope::enter(&mut rng, now, || ticketer.encrypt(plain)).0
    }

    #[test]
    fn tickets_are_deterministic_and_open_again() {
        let t = SeededTicketer::new([7; 32], 3600);
        let a = seal(&t, 1, b"state").unwrap();
        assert_eq!(Some(a.clone()), seal(&t, 1, b"state"));
        assert_ne!(Some(a.clone()), seal(&t, 2, b"state"));
        assert_eq!(t.decrypt(&a).as_deref(), Some(&b"state"[..]));
        let mut tampered = a;
        tampered[14] ^= 1;
        assert_eq!(t.decrypt(&tampered), None);
        assert_eq!(t.decrypt(&[1, 2, 3]), None);
        assert_eq!(
            SeededTicketer::new([8; 32], 1).decrypt(&seal(&t, 1, b"x").unwrap()),
            None
        );
    }

    #[test]
    fn no_ticket_without_a_stream() {
        assert_eq!(SeededTicketer::new([7; 32], 60).encrypt(b"state"), None);
    }
}

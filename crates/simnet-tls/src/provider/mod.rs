//! A rustls `CryptoProvider` in which every random byte and every reading
//! of the time comes from the session that is calling.
//!
//! rustls's own providers are not deterministic: ring's and aws-lc's
//! `SecureRandom` read the OS, their key exchanges generate ephemeral keys
//! from the OS whatever the caller's generator, ECDSA and RSA-PSS signing
//! draw OS randomness for each signature, and ring's session-ticket
//! `Ticketer` draws its keys and nonces from the OS and rotates them on the
//! wall clock. This provider keeps ring for what is a pure function (AEADs,
//! hashes, HMAC, HKDF, signature verification, Ed25519 signing) and
//! replaces the rest:
//!
//! | rustls asks for | answered by |
//! |---|---|
//! | `SecureRandom` (client and server randoms, session ids, ClientHello extension order, ticket ids, `ticket_age_add`) | [`SeededRandom`]: the calling session's ChaCha8 stream (`scope`) |
//! | key exchange | [`X25519`]: x25519-dalek, ephemeral secret = 32 bytes of that stream |
//! | signing keys | [`Ed25519Only`]: ring's Ed25519 (deterministic by construction, RFC 8032); any other key type is refused |
//! | session tickets | [`SeededTicketer`]: ChaCha20-Poly1305 under a key drawn once from the caller's stream, nonce from the session's stream, never rotated |
//! | time | [`SimClock`]: the simulated time the session was handed for this call |
//!
//! Outside a call from a session there is no stream and no time: a draw or
//! a reading fails, and rustls reports an error instead of falling back to
//! the OS.

pub(crate) mod kx;
pub(crate) mod scope;
pub(crate) mod ticketer;

pub use kx::X25519;
pub use ticketer::SeededTicketer;

use rustls::crypto::{CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom};
use rustls::pki_types::{PrivateKeyDer, UnixTime};
use rustls::sign::SigningKey;
use rustls::time_provider::TimeProvider;
use std::sync::Arc;

/// The deterministic provider: ring's cipher suites and verification
/// algorithms, X25519 only, the seeded random source and Ed25519 keys only.
pub fn provider() -> CryptoProvider {
    let ring = rustls::crypto::ring::default_provider();
    CryptoProvider {
        cipher_suites: ring.cipher_suites,
        kx_groups: vec![&X25519],
        signature_verification_algorithms: ring.signature_verification_algorithms,
        secure_random: &SeededRandom,
        key_provider: &Ed25519Only,
    }
}

/// rustls's `SecureRandom` over the calling session's seeded stream.
#[derive(Debug)]
pub struct SeededRandom;

impl SecureRandom for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        if scope::fill(buf) {
            Ok(())
        } else {
            Err(GetRandomFailed)
        }
    }
}

/// Loads Ed25519 private keys with ring and refuses every other kind, whose
/// signatures would draw OS randomness (ECDSA's nonce, RSA-PSS's salt).
#[derive(Debug)]
pub struct Ed25519Only;

impl KeyProvider for Ed25519Only {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        let refused = || {
            rustls::Error::General(
                "simnet-tls signs with Ed25519 keys only (ECDSA and RSA-PSS signatures draw OS randomness)"
                    .into(),
            )
        };
        match &key_der {
            PrivateKeyDer::Pkcs8(pkcs8) => {
                rustls::crypto::ring::sign::any_eddsa_type(pkcs8).map_err(|_| refused())
            }
            _ => Err(refused()),
        }
    }
}

/// rustls's `TimeProvider` over the simulated time of the call in progress.
#[derive(Debug, Default)]
pub struct SimClock;

impl TimeProvider for SimClock {
    fn current_time(&self) -> Option<UnixTime> {
        scope::now()
    }
}

//! X25519 key exchange with ephemeral secrets from the seeded stream.
//!
//! ring's and aws-lc's X25519 generate the ephemeral private key inside the
//! library from the OS, so the same seed would give a different key share
//! on every run. x25519-dalek accepts the 32 secret bytes from outside
//! (`StaticSecret`, used here once per handshake, so it is as ephemeral as
//! rustls expects), and those bytes come from the calling session's stream.

use super::scope;
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};
use x25519_dalek::{PublicKey, StaticSecret};

/// The X25519 group (RFC 7748), seeded.
#[derive(Debug)]
pub struct X25519;

impl SupportedKxGroup for X25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut secret = [0u8; 32];
        if !scope::fill(&mut secret) {
            return Err(Error::FailedToGetRandomBytes);
        }
        let secret = StaticSecret::from(secret);
        let public = PublicKey::from(&secret);
        Ok(Box::new(ActiveX25519 { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct ActiveX25519 {
    secret: StaticSecret,
    public: PublicKey,
}

impl ActiveKeyExchange for ActiveX25519 {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer_pub_key
            .try_into()
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer));
        // A low-order peer point gives an all-zero secret (RFC 7748 section
        // 6.1 says to refuse it; ring does the same).
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rustls::pki_types::UnixTime;
    use simnet_core::rng::SimRng;

    fn start_with(seed: u64) -> Box<dyn ActiveKeyExchange> {
        let mut rng = SimRng::seed_from_u64(seed);
        let now = UnixTime::since_unix_epoch(Default::default());
        scope::enter(&mut rng, now, || X25519.start()).0.unwrap()
    }

    #[test]
    fn the_key_share_is_a_function_of_the_stream() {
        assert_eq!(start_with(1).pub_key(), start_with(1).pub_key());
        assert_ne!(start_with(1).pub_key(), start_with(2).pub_key());
    }

    #[test]
    fn both_sides_agree_and_bad_points_are_refused() {
        let a = start_with(1);
        let b = start_with(2);
        let (a_pub, b_pub) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        let s1 = a.complete(&b_pub).unwrap();
        let s2 = b.complete(&a_pub).unwrap();
        assert_eq!(s1.secret_bytes(), s2.secret_bytes());

        assert!(start_with(3).complete(&[0u8; 32]).is_err(), "low order");
        assert!(start_with(3).complete(&[9u8; 31]).is_err(), "short");
    }

    #[test]
    fn no_key_share_without_a_stream() {
        assert!(X25519.start().is_err());
    }
}

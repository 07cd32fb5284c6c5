//! Test certificates made from a seed: a CA and the server certificates it
//! signs, all Ed25519, valid for a window of simulated time.
//!
//! Nothing is checked in and nothing is random: a key is the PKCS#8 wrapping
//! of 32 bytes drawn from the caller's stream (an Ed25519 private key *is*
//! 32 arbitrary bytes, RFC 8032 section 5.1.5), a serial number is 16 more
//! bytes, and Ed25519 signatures are deterministic, so the same stream gives
//! the same DER to the byte. The validity window is given in simulated time
//! and written as calendar time through an [`Epoch`].
//!
//! Deliberately not here: ECDSA and RSA keys (their signatures draw OS
//! randomness in ring), intermediate CAs, revocation.

use crate::clock::Epoch;
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ED25519, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use simnet_core::SimTime;
use simnet_core::rng::SimRng;

/// Why a certificate could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters (for example a name that is neither a
    /// DNS name nor an IP address).
    #[error("cannot make the certificate: {0}")]
    Rcgen(String),
    /// The window ends before it starts.
    #[error("the validity window ends before it starts")]
    EmptyValidity,
}

impl From<rcgen::Error> for CertError {
    fn from(e: rcgen::Error) -> CertError {
        CertError::Rcgen(e.to_string())
    }
}

/// When a certificate is valid, in simulated time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// The first instant it is valid.
    pub not_before: SimTime,
    /// The last instant it is valid.
    pub not_after: SimTime,
    /// The calendar time simulated time zero stands for.
    pub epoch: Epoch,
}

impl Validity {
    /// Valid from simulated time zero for `days` days, from [`Epoch::DEFAULT`].
    pub fn days_from_start(days: u64) -> Validity {
        Validity {
            not_before: SimTime::ZERO,
            not_after: SimTime::from_secs(days.saturating_mul(86_400)),
            epoch: Epoch::DEFAULT,
        }
    }

    /// Valid from day `from_day` to day `to_day` counted from simulated
    /// time zero, either of which may be before it: `days(-366, -1)` is
    /// a year-long certificate that expired the day before the run
    /// began, `days(1, 366)` one that is not valid until the day after.
    /// The window is expressed from an [`Epoch`] early enough to hold it
    /// (simulated time has no negative instants). A window that ends
    /// before it starts is empty (refused when the certificate is made).
    pub fn days(from_day: i64, to_day: i64) -> Validity {
        const DAY: u64 = 86_400;
        let back_days = from_day.min(to_day).min(0).unsigned_abs();
        let epoch = Epoch::from_unix_secs(
            Epoch::DEFAULT
                .unix_secs()
                .saturating_sub(back_days.saturating_mul(DAY)),
        );
        let at = |day: i64| {
            let shifted = day.saturating_add_unsigned(back_days).max(0).unsigned_abs();
            SimTime::from_secs(shifted.saturating_mul(DAY))
        };
        Validity {
            not_before: at(from_day),
            not_after: at(to_day),
            epoch,
        }
    }

    fn apply(&self, params: &mut CertificateParams) -> Result<(), CertError> {
        if self.not_after < self.not_before {
            return Err(CertError::EmptyValidity);
        }
        params.not_before = self.epoch.date_time(self.not_before);
        params.not_after = self.epoch.date_time(self.not_after);
        Ok(())
    }
}

/// The PKCS#8 v1 header of an Ed25519 private key (RFC 8410 section 7):
/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING {
/// OCTET STRING (32 bytes) } }`; the key follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// An Ed25519 private key from the next 32 bytes of `rng`, as PKCS#8.
fn ed25519_pkcs8(rng: &mut SimRng) -> PrivatePkcs8KeyDer<'static> {
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    der.extend_from_slice(&secret);
    PrivatePkcs8KeyDer::from(der)
}

fn key_pair(pkcs8: &PrivatePkcs8KeyDer<'static>) -> Result<KeyPair, CertError> {
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(pkcs8, &PKCS_ED25519)?)
}

fn serial(rng: &mut SimRng) -> SerialNumber {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    // Positive and without a leading zero byte, as RFC 5280 wants.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from(bytes.to_vec())
}

/// A certificate authority for tests: a self-signed Ed25519 CA certificate
/// and its key.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    cert: CertificateDer<'static>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("cert_bytes", &self.cert.len())
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// A CA named `common_name`, its key and serial drawn from `rng`.
    pub fn generate(
        rng: &mut SimRng,
        common_name: &str,
        validity: Validity,
    ) -> Result<TestCa, CertError> {
        let key = key_pair(&ed25519_pkcs8(rng))?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(serial(rng));
        validity.apply(&mut params)?;
        let cert = params.self_signed(&key)?.der().clone();
        Ok(TestCa { params, key, cert })
    }

    /// The CA certificate (DER), for a client's trust store.
    pub fn cert(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    /// A server certificate for `names` (DNS names or IP addresses; the
    /// first is also the common name), signed by this CA, its key and
    /// serial drawn from `rng`.
    pub fn issue(
        &self,
        rng: &mut SimRng,
        names: &[&str],
        validity: Validity,
    ) -> Result<ServerCert, CertError> {
        let pkcs8 = ed25519_pkcs8(rng);
        let key = key_pair(&pkcs8)?;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone())?;
        let mut dn = DistinguishedName::new();
        if let Some(first) = names.first() {
            dn.push(DnType::CommonName, first.as_str());
        }
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(serial(rng));
        validity.apply(&mut params)?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?.der().clone();
        Ok(ServerCert {
            chain: vec![cert],
            key: pkcs8,
        })
    }
}

/// A server's certificate chain (leaf first, without the CA) and its key.
#[derive(Debug)]
pub struct ServerCert {
    /// The chain the server sends in its Certificate message.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8 Ed25519).
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl Clone for ServerCert {
    fn clone(&self) -> ServerCert {
        ServerCert {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ServerCert {
    /// The private key as rustls loads it.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn pki(seed: u64) -> (Vec<u8>, Vec<u8>) {
        let mut rng = SimRng::seed_from_u64(seed);
        let ca =
            TestCa::generate(&mut rng, "simnet test CA", Validity::days_from_start(365)).unwrap();
        let leaf = ca
            .issue(
                &mut rng,
                &["server.test", "10.0.0.2"],
                Validity::days_from_start(30),
            )
            .unwrap();
        (ca.cert().to_vec(), leaf.chain[0].to_vec())
    }

    #[test]
    fn the_same_seed_gives_the_same_der() {
        assert_eq!(pki(1), pki(1));
        assert_ne!(pki(1), pki(2));
    }

    #[test]
    fn windows_in_days_may_start_before_simulated_time_zero() {
        let zero = Epoch::DEFAULT.unix_secs();
        let calendar = |v: Validity| {
            (
                v.epoch.unix_time(v.not_before).as_secs(),
                v.epoch.unix_time(v.not_after).as_secs(),
            )
        };
        assert_eq!(
            calendar(Validity::days(-366, -1)),
            (zero - 366 * 86_400, zero - 86_400)
        );
        assert_eq!(
            calendar(Validity::days(1, 366)),
            (zero + 86_400, zero + 366 * 86_400)
        );
        assert_eq!(Validity::days(0, 30), Validity::days_from_start(30));
        let mut rng = SimRng::seed_from_u64(1);
        assert_eq!(
            TestCa::generate(&mut rng, "ca", Validity::days(-1, -2)).unwrap_err(),
            CertError::EmptyValidity
        );
    }

    #[test]
    fn an_empty_window_is_refused() {
        let mut rng = SimRng::seed_from_u64(1);
        let backwards = Validity {
            not_before: SimTime::from_secs(10),
            not_after: SimTime::from_secs(5),
            epoch: Epoch::DEFAULT,
        };
        assert_eq!(
            TestCa::generate(&mut rng, "ca", backwards).unwrap_err(),
            CertError::EmptyValidity
        );
    }
}

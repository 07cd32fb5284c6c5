//! TLS 1.3 record decryption from logged traffic secrets, so the observer
//! can show what travels encrypted (EncryptedExtensions, Certificate,
//! CertificateVerify, Finished, NewSessionTicket, EndOfEarlyData, and the
//! application's bytes) when the key log is at hand, as Wireshark does.
//!
//! RFC 8446 section 7.3: a record key and IV are `HKDF-Expand-Label` of
//! the traffic secret; section 5.3: the nonce is the IV XOR the record's
//! sequence number; section 5.2: the plaintext ends with the real content
//! type and zero padding. The cipher suite is found by trial: a secret's
//! length gives its hash, and of the suites with that hash, the one that
//! opens the first record is kept.
//!
//! Not done: TLS 1.2 decryption (it needs the 1.2 PRF's key expansion from
//! the master secret) and KeyUpdate (records after one stay encrypted).

use ring::aead::{
    AES_128_GCM, AES_256_GCM, Aad, Algorithm, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey,
};
use ring::hkdf;
use rustls::ContentType;

/// The AEADs TLS 1.3's suites use, by the hash length of their secrets.
fn candidates(secret_len: usize) -> &'static [(&'static Algorithm, hkdf::Algorithm)] {
    const SHA256: &[(&Algorithm, hkdf::Algorithm)] = &[
        (&AES_128_GCM, hkdf::HKDF_SHA256),
        (&CHACHA20_POLY1305, hkdf::HKDF_SHA256),
    ];
    const SHA384: &[(&Algorithm, hkdf::Algorithm)] = &[(&AES_256_GCM, hkdf::HKDF_SHA384)];
    match secret_len {
        32 => SHA256,
        48 => SHA384,
        _ => &[],
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", len) (RFC 8446 section 7.1).
fn expand_label(alg: hkdf::Algorithm, secret: &[u8], label: &[u8], len: usize) -> Option<Vec<u8>> {
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    let full_label = [b"tls13 ", label].concat();
    let length = u16::try_from(len).ok()?.to_be_bytes();
    let label_len = [u8::try_from(full_label.len()).ok()?];
    let info: [&[u8]; 5] = [&length, &label_len, &full_label, &[0], &[]];
    let okm = prk.expand(&info, Len(len)).ok()?;
    let mut out = vec![0u8; len];
    okm.fill(&mut out).ok()?;
    Some(out)
}

struct Keys {
    key: LessSafeKey,
    iv: [u8; 12],
}

/// The keys of one direction at one stage, and its record counter.
pub(crate) struct RecordKeys {
    /// One per candidate suite until a record opens; then the one.
    keys: Vec<Keys>,
    seq: u64,
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKeys")
            .field("candidates", &self.keys.len())
            .field("seq", &self.seq)
            .finish()
    }
}

impl RecordKeys {
    pub(crate) fn from_secret(secret: &[u8]) -> Option<RecordKeys> {
        let mut keys = Vec::new();
        for (aead, hash) in candidates(secret.len()) {
            let key = expand_label(*hash, secret, b"key", aead.key_len())?;
            let iv = expand_label(*hash, secret, b"iv", 12)?;
            let key = LessSafeKey::new(UnboundKey::new(aead, &key).ok()?);
            keys.push(Keys {
                key,
                iv: iv.try_into().ok()?,
            });
        }
        (!keys.is_empty()).then_some(RecordKeys { keys, seq: 0 })
    }

    /// Opens one record (`header` is its five bytes, the additional data).
    /// On success the counter moves on and the inner content type and the
    /// content are returned; on failure nothing changes.
    pub(crate) fn open(
        &mut self,
        header: &[u8],
        fragment: &[u8],
    ) -> Option<(ContentType, Vec<u8>)> {
        for i in 0..self.keys.len() {
            let keys = &self.keys[i];
            let mut nonce = keys.iv;
            for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                *n ^= s;
            }
            let mut buf = fragment.to_vec();
            let Ok(plain) = keys.key.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut buf,
            ) else {
                continue;
            };
            let end = plain.iter().rposition(|b| *b != 0)?;
            let inner = ContentType::from(plain[end]);
            let content = plain[..end].to_vec();
            // This suite it is.
            let chosen = self.keys.swap_remove(i);
            self.keys = vec![chosen];
            self.seq += 1;
            return Some((inner, content));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_label_matches_rfc8448() {
        // RFC 8448 section 3, "derive write traffic keys for handshake
        // data": the server handshake traffic secret and its key and IV
        // (TLS_AES_128_GCM_SHA256).
        let secret = hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        assert_eq!(
            expand_label(hkdf::HKDF_SHA256, &secret, b"key", 16).unwrap(),
            hex("3fce516009c21727d0f2e4e86ee403bc")
        );
        assert_eq!(
            expand_label(hkdf::HKDF_SHA256, &secret, b"iv", 12).unwrap(),
            hex("5d313eb2671276ee13000b30")
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

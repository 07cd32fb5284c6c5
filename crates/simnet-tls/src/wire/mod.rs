//! Reading TLS off the wire: records and handshake messages decoded from
//! the raw bytes of each direction of a TCP connection, for the trace.
//!
//! This is simnet's own small parser, not rustls's: rustls keeps its
//! message types internal, and showing the protocol is the point here. It
//! reads what anyone on the path can read: the record layer (type, version,
//! length), the plaintext handshake (ClientHello, ServerHello, and in TLS
//! 1.2 everything up to ChangeCipherSpec), ChangeCipherSpec and plaintext
//! alerts. What is encrypted is shown as such with its size ("application
//! data (encrypted, 517 bytes)").
//!
//! Given the key log ([`TlsObserver::with_key_log`]), it also opens TLS
//! 1.3 records, as Wireshark does with an SSLKEYLOGFILE, and shows what
//! travels inside: EncryptedExtensions, Certificate, CertificateVerify,
//! Finished, NewSessionTicket, EndOfEarlyData, alerts, and the length of
//! the application's data (`decrypt`). TLS 1.2's encrypted records (its
//! Finished and the data) stay opaque for now.
//!
//! It is incremental (feed bytes as TCP delivers them; a record or a
//! handshake message split across segments is put together) and bounded:
//! a record may be at most [`MAX_RECORD_LEN`] bytes and a handshake message
//! at most [`MAX_HANDSHAKE_LEN`], so a hostile length field is refused
//! before anything is allocated for it. A refused length ends that
//! direction: TLS has no way to find the next record.

mod cursor;
mod decrypt;
pub mod handshake;
mod record;

pub use handshake::{ClientHello, Handshake, HandshakeBody, ServerHello};
pub use record::{AlertLevel, Record, RecordContent};

use crate::keylog::KeyLogLines;
use std::sync::Arc;

/// The largest record accepted: RFC 5246 section 6.2.3 allows a TLS 1.2
/// ciphertext of 2^14 + 2048 bytes (TLS 1.3 allows 2^14 + 256).
pub const MAX_RECORD_LEN: usize = 16_384 + 2_048;

/// The largest handshake message accepted (rustls's own limit is the same
/// order); a certificate chain longer than this is refused.
pub const MAX_HANDSHAKE_LEN: usize = 65_535;

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    /// From the client (the side that sent the ClientHello).
    ClientToServer,
    /// From the server.
    ServerToClient,
}

/// Why a direction stopped being decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A record header announced more than [`MAX_RECORD_LEN`] bytes.
    #[error("record of {length} bytes announced (at most {MAX_RECORD_LEN})")]
    RecordTooLong {
        /// The announced length.
        length: usize,
    },
    /// A handshake header announced more than [`MAX_HANDSHAKE_LEN`] bytes.
    #[error("handshake message of {length} bytes announced (at most {MAX_HANDSHAKE_LEN})")]
    HandshakeTooLong {
        /// The announced length.
        length: usize,
    },
}

/// Decodes both directions of one TLS connection.
///
/// The directions share what the ServerHello said (the version), since
/// some messages (Certificate, NewSessionTicket) differ between 1.2 and
/// 1.3.
#[derive(Debug, Default)]
pub struct TlsObserver {
    client: record::DirectionDecoder,
    server: record::DirectionDecoder,
    shared: record::Shared,
}

impl TlsObserver {
    /// An observer that has seen nothing.
    pub fn new() -> TlsObserver {
        TlsObserver::default()
    }

    /// An observer that decrypts TLS 1.3 records with the secrets in
    /// `key_log` (the log of either end's configuration), as Wireshark does
    /// with an SSLKEYLOGFILE. Secrets are looked up when first needed, so
    /// the log may still be filling while the connection runs.
    pub fn with_key_log(key_log: Arc<KeyLogLines>) -> TlsObserver {
        let mut observer = TlsObserver::default();
        observer.shared.key_log = Some(key_log);
        observer
    }

    /// Feeds bytes seen travelling in `direction` and returns the records
    /// they complete, in order. An error is the last item; that direction
    /// then ignores further bytes.
    pub fn feed(&mut self, direction: Direction, bytes: &[u8]) -> Vec<Result<Record, WireError>> {
        match direction {
            Direction::ClientToServer => self.client.feed(bytes, &mut self.shared, true),
            Direction::ServerToClient => self.server.feed(bytes, &mut self.shared, false),
        }
    }

    /// The client random of the ClientHello, once seen: what names the
    /// connection in a key log.
    pub fn client_random(&self) -> Option<[u8; 32]> {
        self.shared.client_random
    }

    /// Whether the ServerHello chose TLS 1.3.
    pub fn is_tls13(&self) -> bool {
        self.shared.tls13
    }

    /// Bytes held for a record not yet complete, per direction (at most
    /// 5 + [`MAX_RECORD_LEN`] each).
    pub fn buffered_bytes(&self) -> (usize, usize) {
        (self.client.buffered_bytes(), self.server.buffered_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A record: type, version 0x0303, the fragment.
    fn record(content_type: u8, fragment: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        r.extend_from_slice(fragment);
        r
    }

    /// A handshake message: type, 24-bit length, body.
    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut m = vec![kind, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        m.extend_from_slice(body);
        m
    }

    fn strings(results: Vec<Result<Record, WireError>>) -> Vec<String> {
        results
            .into_iter()
            .map(|r| match r {
                Ok(r) => r.to_string(),
                Err(e) => format!("error: {e}"),
            })
            .collect()
    }

    #[test]
    fn alerts_ccs_and_encrypted_records() {
        let mut o = TlsObserver::new();
        let mut bytes = record(21, &[2, 45]);
        bytes.extend(record(20, &[1]));
        bytes.extend(record(22, &[0; 40]));
        bytes.extend(record(23, &[0; 17]));
        bytes.extend(record(21, &[1]));
        assert_eq!(
            strings(o.feed(Direction::ServerToClient, &bytes)),
            [
                "Alert fatal CertificateExpired",
                "ChangeCipherSpec",
                "handshake (encrypted, 40 bytes)",
                "application data (encrypted, 17 bytes)",
                "alert (encrypted, 1 bytes)",
            ]
        );
        // The other direction is still in plaintext.
        assert_eq!(
            strings(o.feed(Direction::ClientToServer, &record(21, &[1, 0]))),
            ["Alert warning CloseNotify"]
        );
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_records() {
        // Two handshake messages, the second split across two records.
        let finished = handshake(20, &[7; 12]);
        let done = handshake(14, &[]);
        let mut stream = record(22, &[done.clone(), finished[..5].to_vec()].concat());
        stream.extend(record(22, &finished[5..]));
        let whole = strings(TlsObserver::new().feed(Direction::ServerToClient, &stream));
        assert_eq!(
            whole,
            ["ServerHelloDone", "Finished 12B"],
            "the first record completes ServerHelloDone, the second Finished"
        );
        let mut o = TlsObserver::new();
        let mut drip = Vec::new();
        for b in &stream {
            drip.extend(strings(o.feed(Direction::ServerToClient, &[*b])));
        }
        assert_eq!(drip, whole);
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocating() {
        let mut o = TlsObserver::new();
        let out = o.feed(Direction::ClientToServer, &[22, 3, 3, 0xff, 0xff]);
        assert_eq!(out, [Err(WireError::RecordTooLong { length: 65_535 })]);
        assert_eq!(o.buffered_bytes(), (0, 0));
        // The direction is over; the other one still works.
        assert!(
            o.feed(Direction::ClientToServer, &record(21, &[1, 0]))
                .is_empty()
        );
        let hs = record(22, &[1, 0xff, 0xff, 0xff]);
        assert_eq!(
            o.feed(Direction::ServerToClient, &hs),
            [Err(WireError::HandshakeTooLong { length: 0xff_ffff })]
        );
    }

    #[test]
    fn a_truncated_body_is_malformed_not_fatal() {
        let mut o = TlsObserver::new();
        let bytes = record(22, &handshake(1, &[3, 3, 1, 2]));
        assert_eq!(
            strings(o.feed(Direction::ClientToServer, &bytes)),
            ["ClientHello (malformed: truncated or inconsistent lengths)"]
        );
        assert_eq!(
            strings(o.feed(Direction::ClientToServer, &record(21, &[2, 40]))),
            ["Alert fatal HandshakeFailure"]
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            server in any::<bool>(),
        ) {
            let mut o = TlsObserver::new();
            let dir = if server { Direction::ServerToClient } else { Direction::ClientToServer };
            for chunk in &chunks {
                for r in o.feed(dir, chunk).into_iter().flatten() {
                    let _ = r.to_string();
                }
                let (c, s) = o.buffered_bytes();
                prop_assert!(c.max(s) <= 5 + MAX_RECORD_LEN + 4 + MAX_HANDSHAKE_LEN);
            }
        }

        #[test]
        fn arbitrary_handshake_bodies_never_panic(
            kind in any::<u8>(),
            body in proptest::collection::vec(any::<u8>(), 0..400),
            tls13 in any::<bool>(),
        ) {
            let _ = Handshake::parse(kind, &body, tls13).to_string();
        }

        #[test]
        fn splitting_never_changes_the_records(
            fragments in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 1..6),
            cut in 1usize..40,
        ) {
            let mut stream = Vec::new();
            for f in &fragments {
                stream.extend(record(22, &handshake(20, f)));
            }
            let whole = strings(TlsObserver::new().feed(Direction::ServerToClient, &stream));
            let mut o = TlsObserver::new();
            let mut pieces = Vec::new();
            for piece in stream.chunks(cut) {
                pieces.extend(strings(o.feed(Direction::ServerToClient, piece)));
            }
            prop_assert_eq!(pieces, whole);
        }
    }
}

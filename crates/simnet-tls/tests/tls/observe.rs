//! The observer reads real handshakes: the message order of RFC 8448's
//! traces where they apply, what each ClientHello offers, and the same
//! records however TCP splits the bytes.

use crate::harness::{Exchange, Setup, run};
use simnet_core::SimTime;
use simnet_tls::config::{ClientOptions, ServerOptions, ServerResumption, TlsVersion};
use simnet_tls::keylog::KeyLogLines;
use simnet_tls::wire::{Direction, TlsObserver};
use std::sync::Arc;

/// Each flight as "C: record | record" or "S: ...".
pub fn transcript(ex: &Exchange) -> Vec<String> {
    transcript_with(ex, TlsObserver::new())
}

/// The same, read by `observer` (one with a key log decrypts).
pub fn transcript_with(ex: &Exchange, mut observer: TlsObserver) -> Vec<String> {
    ex.flights
        .iter()
        .map(|(from_client, bytes)| {
            let dir = if *from_client {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            let records: Vec<String> = observer
                .feed(dir, bytes)
                .into_iter()
                .map(|r| r.expect("well-formed").to_string())
                .collect();
            format!(
                "{}: {}",
                if *from_client { "C" } else { "S" },
                records.join(" | ")
            )
        })
        .collect()
}

fn exchanges(
    version: TlsVersion,
    resumption: ServerResumption,
    early: bool,
) -> (Exchange, Exchange) {
    exchanges_logged(version, resumption, early, None)
}

fn exchanges_logged(
    version: TlsVersion,
    resumption: ServerResumption,
    early: bool,
    key_log: Option<Arc<KeyLogLines>>,
) -> (Exchange, Exchange) {
    let mut setup = Setup::new(
        11,
        &ClientOptions {
            version,
            alpn: vec![b"http/1.1".to_vec()],
            early_data: early,
            key_log,
            ..ClientOptions::default()
        },
        &ServerOptions {
            version,
            alpn: vec![b"http/1.1".to_vec()],
            resumption,
            max_early_data_bytes: if early { 4096 } else { 0 },
            ..ServerOptions::default()
        },
    );
    let (mut c, mut s) = setup.pair(SimTime::ZERO);
    c.write(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let full = run(&mut c, &mut s, SimTime::ZERO, b"HTTP/1.1 200 OK\r\n\r\n");
    let (mut c, mut s) = setup.pair(full.end);
    if early {
        c.write_early(b"GET / HTTP/1.1\r\n\r\n");
    } else {
        c.write(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    }
    let resumed = run(&mut c, &mut s, full.end, b"HTTP/1.1 200 OK\r\n\r\n");
    (full, resumed)
}

/// A transcript reduced to message names: "C: ClientHello", "S:
/// ServerHello | ChangeCipherSpec | AppData*" (`*`: encrypted).
fn shape(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let (who, records) = line.split_at(3);
            let records: Vec<String> = records
                .split(" | ")
                .map(|r| {
                    if r.starts_with("application data (encrypted") {
                        "AppData*".to_string()
                    } else if r.starts_with("handshake (encrypted") {
                        "Handshake*".to_string()
                    } else {
                        let names: Vec<&str> = r
                            .split("; ")
                            .map(|m| m.split(' ').next().unwrap_or(""))
                            .collect();
                        names.join("+")
                    }
                })
                .collect();
            format!("{who}{}", records.join(" | "))
        })
        .collect()
}

#[test]
fn tls13_full_and_resumed_follow_rfc8448() {
    let (full, resumed) = exchanges(TlsVersion::Tls13, ServerResumption::Tickets, false);
    let t = transcript(&full);
    // RFC 8448 section 3: ClientHello; ServerHello, then {EncryptedExtensions,
    // Certificate, CertificateVerify, Finished} encrypted; the client's
    // {Finished}, then application data. rustls adds middlebox-compatibility
    // ChangeCipherSpecs (RFC 8446 appendix D.4) and a request rides with the
    // client's Finished; the server's NewSessionTickets ride with its answer.
    assert_eq!(
        shape(&t),
        [
            "C: ClientHello",
            "S: ServerHello | ChangeCipherSpec | AppData*",
            "C: ChangeCipherSpec | AppData* | AppData*",
            "S: AppData* | AppData*",
        ]
    );
    assert!(t[0].contains("SNI=server.test"), "{}", t[0]);
    assert!(t[0].contains("ALPN=[http/1.1]"));
    assert!(t[0].contains("versions=[TLS 1.3]"));
    assert!(t[0].contains("key_share=[X25519]"));
    assert!(!t[0].contains("psk="), "a first connection offers no PSK");
    assert!(
        t[0].contains("suites=[TLS13_AES_256_GCM_SHA384, TLS13_AES_128_GCM_SHA256, TLS13_CHACHA20_POLY1305_SHA256]"),
        "a 1.3-only client offers only 1.3 suites: {}",
        t[0]
    );
    assert!(t[1].starts_with("S: ServerHello TLS 1.3 TLS13_AES_256_GCM_SHA384 key_share=X25519 |"));

    // RFC 8448 section 4: the resumed ClientHello offers the ticket as a PSK
    // (with a fresh key share, psk_dhe_ke); the ServerHello accepts
    // identity 0 and no Certificate follows, so its encrypted flight is
    // much smaller.
    let r = transcript(&resumed);
    assert_eq!(shape(&r), shape(&t));
    assert!(
        r[0].contains("psk=1") && r[0].contains("key_share=[X25519]"),
        "{}",
        r[0]
    );
    assert!(r[1].contains("psk=0"));
    let encrypted_len = |line: &str| -> usize {
        line.split("encrypted, ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        encrypted_len(&r[1]) * 3 < encrypted_len(&t[1]),
        "{} vs {}",
        r[1],
        t[1]
    );
}

#[test]
fn tls13_zero_rtt_sends_data_with_the_client_hello() {
    let (_, resumed) = exchanges(TlsVersion::Tls13, ServerResumption::Stateful, true);
    let t = transcript(&resumed);
    // RFC 8448 section 4 (0-RTT): ClientHello with early_data and a PSK,
    // then the early data in the same flight; after the server's flight
    // the client sends {EndOfEarlyData} and {Finished}.
    assert_eq!(
        shape(&t),
        [
            "C: ClientHello | ChangeCipherSpec | AppData*",
            "S: ServerHello | ChangeCipherSpec | AppData*",
            "C: AppData* | AppData*",
            "S: AppData* | AppData*",
        ]
    );
    assert!(
        t[0].contains("early_data") && t[0].contains("psk=1"),
        "{}",
        t[0]
    );
}

#[test]
fn tls12_full_and_resumed_show_every_plaintext_message() {
    let (full, resumed) = exchanges(TlsVersion::Tls12, ServerResumption::Tickets, false);
    let t = transcript(&full);
    // RFC 5246 section 7.3 (with RFC 5077's ticket): two round trips.
    assert_eq!(
        shape(&t),
        [
            "C: ClientHello",
            "S: ServerHello+Certificate+ServerKeyExchange+ServerHelloDone",
            "C: ClientKeyExchange | ChangeCipherSpec | Handshake*",
            "S: NewSessionTicket | ChangeCipherSpec | Handshake*",
            "C: AppData*",
            "S: AppData*",
        ]
    );
    assert!(
        t[1].contains("ServerKeyExchange X25519 ED25519"),
        "{}",
        t[1]
    );
    assert!(
        t[0].contains("suites=[TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        "{}",
        t[0]
    );
    // RFC 5077 section 3.1: the abbreviated handshake, server Finished first.
    let r = transcript(&resumed);
    assert_eq!(
        shape(&r),
        [
            "C: ClientHello",
            "S: ServerHello | NewSessionTicket | ChangeCipherSpec | Handshake*",
            "C: ChangeCipherSpec | Handshake* | AppData*",
            "S: AppData*",
        ]
    );
    assert!(
        r[0].contains("ticket="),
        "the ClientHello carries the ticket: {}",
        r[0]
    );
}

#[test]
fn tls12_session_id_resumption() {
    let (_, resumed) = exchanges(TlsVersion::Tls12, ServerResumption::Stateful, false);
    assert_eq!(
        shape(&transcript(&resumed)),
        [
            "C: ClientHello",
            "S: ServerHello | ChangeCipherSpec | Handshake*",
            "C: ChangeCipherSpec | Handshake* | AppData*",
            "S: AppData*",
        ]
    );
}

#[test]
fn any_tcp_segmentation_gives_the_same_records() {
    let (full, _) = exchanges(TlsVersion::Tls12, ServerResumption::Tickets, false);
    let whole = transcript(&full);
    for cut in [1, 2, 3, 7, 100, 1400] {
        let mut observer = TlsObserver::new();
        let lines: Vec<String> = full
            .flights
            .iter()
            .map(|(from_client, bytes)| {
                let dir = if *from_client {
                    Direction::ClientToServer
                } else {
                    Direction::ServerToClient
                };
                let mut records = Vec::new();
                for segment in bytes.chunks(cut) {
                    records.extend(
                        observer
                            .feed(dir, segment)
                            .into_iter()
                            .map(|r| r.unwrap().to_string()),
                    );
                }
                format!(
                    "{}: {}",
                    if *from_client { "C" } else { "S" },
                    records.join(" | ")
                )
            })
            .collect();
        assert_eq!(lines, whole, "segments of {cut} bytes");
    }
}

/// Every handshake message name in a transcript, in order, as
/// "C ClientHello", "S Finished" (decrypted ones included).
fn messages(lines: &[String]) -> Vec<String> {
    let known = [
        "ClientHello",
        "ServerHello",
        "HelloRetryRequest",
        "EncryptedExtensions",
        // Before "Certificate", which is its prefix.
        "CertificateVerify",
        "Certificate",
        "Finished",
        "NewSessionTicket",
        "EndOfEarlyData",
        "application data",
    ];
    let mut out = Vec::new();
    for line in lines {
        let (who, records) = line.split_at(3);
        for record in records.split(" | ") {
            let record = record.trim_start_matches("[decrypted] ");
            for m in record.split("; ") {
                if let Some(name) = known
                    .iter()
                    .find(|k| m.starts_with(*k) && !m.contains("encrypted"))
                {
                    let name = if *name == "application data" {
                        "Data"
                    } else {
                        name
                    };
                    out.push(format!("{} {name}", &who[..1]));
                }
            }
        }
    }
    out
}

#[test]
fn with_the_key_log_the_encrypted_handshake_reads_like_rfc8448() {
    let log = Arc::new(KeyLogLines::new());
    let (full, resumed) = exchanges_logged(
        TlsVersion::Tls13,
        ServerResumption::Tickets,
        false,
        Some(log.clone()),
    );
    // RFC 8448 section 3 (simple 1-RTT handshake), then section 4's
    // NewSessionTicket, with our request and response.
    assert_eq!(
        messages(&transcript_with(
            &full,
            TlsObserver::with_key_log(log.clone())
        )),
        [
            "C ClientHello",
            "S ServerHello",
            "S EncryptedExtensions",
            "S Certificate",
            "S CertificateVerify",
            "S Finished",
            "C Finished",
            "C Data",
            "S NewSessionTicket",
            "S NewSessionTicket",
            "S Data",
        ]
    );
    // RFC 8448 section 4 (resumed 1-RTT with PSK): no Certificate and no
    // CertificateVerify.
    assert_eq!(
        messages(&transcript_with(
            &resumed,
            TlsObserver::with_key_log(log.clone())
        )),
        [
            "C ClientHello",
            "S ServerHello",
            "S EncryptedExtensions",
            "S Finished",
            "C Finished",
            "C Data",
            "S NewSessionTicket",
            "S NewSessionTicket",
            "S Data",
        ]
    );
}

#[test]
fn with_the_key_log_zero_rtt_shows_early_data_and_end_of_early_data() {
    let log = Arc::new(KeyLogLines::new());
    let (_, resumed) = exchanges_logged(
        TlsVersion::Tls13,
        ServerResumption::Stateful,
        true,
        Some(log.clone()),
    );
    let t = transcript_with(&resumed, TlsObserver::with_key_log(log.clone()));
    // RFC 8448 section 4 (0-RTT): the early data follows the ClientHello in
    // the first flight; EncryptedExtensions says it was accepted; the
    // client ends it with EndOfEarlyData before its Finished.
    assert_eq!(
        messages(&t),
        [
            "C ClientHello",
            "C Data",
            "S ServerHello",
            "S EncryptedExtensions",
            "S Finished",
            "C EndOfEarlyData",
            "C Finished",
            "S NewSessionTicket",
            "S NewSessionTicket",
            "S Data",
        ]
    );
    assert!(
        t[1].contains("EncryptedExtensions ALPN=http/1.1 early_data"),
        "{}",
        t[1]
    );
    assert!(t[0].contains("application data (18 bytes)"), "{}", t[0]);
}

#[test]
fn the_key_log_is_in_nss_format_and_deterministic() {
    let run_logged = || {
        let log = Arc::new(KeyLogLines::new());
        exchanges_logged(
            TlsVersion::Tls13,
            ServerResumption::Stateful,
            true,
            Some(log.clone()),
        );
        log.to_file_contents()
    };
    let contents = run_logged();
    assert_eq!(contents, run_logged());
    let labels: Vec<&str> = contents
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
            "EXPORTER_SECRET",
            "CLIENT_EARLY_TRAFFIC_SECRET",
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
            "EXPORTER_SECRET",
        ]
    );
    for line in contents.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].len(), 64, "a client random is 32 bytes");
        assert_eq!(
            parts[2].len(),
            96,
            "TLS13_AES_256_GCM_SHA384 secrets are 48 bytes"
        );
    }
}

#[test]
fn without_the_right_keys_records_stay_encrypted() {
    let log = Arc::new(KeyLogLines::new());
    let (full, _) = exchanges_logged(
        TlsVersion::Tls13,
        ServerResumption::Tickets,
        false,
        Some(log.clone()),
    );
    let other = Arc::new(KeyLogLines::new());
    assert_eq!(
        transcript_with(&full, TlsObserver::with_key_log(other)),
        transcript(&full)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A real 0-RTT flight with its key log, cut short anywhere and
    /// followed by arbitrary bytes: the decrypting path never panics.
    #[test]
    fn decrypting_hostile_bytes_never_panics(
        keep in 0usize..800,
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        flip in 0usize..800,
    ) {
        let log = Arc::new(KeyLogLines::new());
        let (_, resumed) =
            exchanges_logged(TlsVersion::Tls13, ServerResumption::Stateful, true, Some(log.clone()));
        let mut observer = TlsObserver::with_key_log(log);
        for (from_client, bytes) in &resumed.flights {
            let dir = if *from_client { Direction::ClientToServer } else { Direction::ServerToClient };
            let mut bytes = bytes[..keep.min(bytes.len())].to_vec();
            if let Some(b) = bytes.get_mut(flip) {
                *b ^= 0x40;
            }
            bytes.extend_from_slice(&tail);
            for r in observer.feed(dir, &bytes).into_iter().flatten() {
                let _ = r.to_string();
            }
        }
    }
}

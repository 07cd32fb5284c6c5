//! The same seed gives the same bytes on the wire, in both directions, for
//! full and resumed handshakes and tickets; another seed gives others.

use crate::harness::{Setup, run};
use simnet_core::SimTime;
use simnet_tls::config::{ClientOptions, ServerOptions, ServerResumption, TlsVersion};

/// Three connections in a row (a full handshake, then two resumptions) and
/// every byte of each.
fn three_connections(seed: u64, version: TlsVersion, resumption: ServerResumption) -> Vec<Vec<u8>> {
    let mut setup = Setup::new(
        seed,
        &ClientOptions {
            version,
            alpn: vec![b"http/1.1".to_vec()],
            ..ClientOptions::default()
        },
        &ServerOptions {
            version,
            alpn: vec![b"http/1.1".to_vec()],
            resumption,
            ..ServerOptions::default()
        },
    );
    let mut all = Vec::new();
    let mut start = SimTime::ZERO;
    for i in 0..3 {
        let (mut c, mut s) = setup.pair(start);
        c.write(format!("request {i}").as_bytes()).unwrap();
        let ex = run(&mut c, &mut s, start, b"response");
        assert_eq!(ex.client_error, None);
        assert_eq!(ex.server_error, None);
        assert_eq!(ex.client_got, b"response");
        assert_eq!(
            c.summary().unwrap().resumed,
            i > 0 && resumption != ServerResumption::Off
        );
        all.push(ex.client_bytes());
        all.push(ex.server_bytes());
        start = ex.end;
    }
    all
}

#[test]
fn same_seed_same_bytes_every_version_and_resumption() {
    for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
        for resumption in [
            ServerResumption::Off,
            ServerResumption::Tickets,
            ServerResumption::Stateful,
        ] {
            let a = three_connections(7, version, resumption);
            let b = three_connections(7, version, resumption);
            assert_eq!(a, b, "{version:?} {resumption:?}: a rerun differs");
            let c = three_connections(8, version, resumption);
            for (x, y) in a.iter().zip(&c) {
                assert_ne!(x, y, "{version:?} {resumption:?}: another seed, same bytes");
            }
        }
    }
}

#[test]
fn nothing_outside_a_session_call_can_draw_or_read_the_time() {
    // The provider's pieces used directly, with no session lending them a
    // stream, fail instead of falling back to the OS.
    use rustls::time_provider::TimeProvider;
    let provider = simnet_tls::provider::provider();
    assert!(provider.secure_random.fill(&mut [0u8; 8]).is_err());
    assert!(provider.kx_groups.iter().all(|g| g.start().is_err()));
    assert_eq!(simnet_tls::provider::SimClock.current_time(), None);
}

/// Every random byte of a handshake, accounted for. If rustls started to
/// draw for something new, this says so; if it drew from anywhere but the
/// session's stream, the reruns above would differ.
#[test]
fn every_random_byte_is_accounted_for() {
    use crate::harness::{Setup, run};
    // (version, resumption, connection: client bytes at construction,
    // client bytes at the end, server bytes at the end)
    let expected = [
        // 1.2 client: random 32 + extension-order seed 2; then its X25519
        // share 32 after the ServerKeyExchange. Server: random 32 + X25519
        // share 32.
        (
            TlsVersion::Tls12,
            ServerResumption::Off,
            [(34, 66, 64), (34, 66, 64)],
        ),
        // A ticket costs the server its 12-byte seal nonce; a ticket
        // offered makes the client send a fresh 32-byte session id (RFC
        // 5077 section 3.4); the abbreviated handshake has no key exchange.
        (
            TlsVersion::Tls12,
            ServerResumption::Tickets,
            [(34, 66, 76), (66, 66, 44)],
        ),
        // A stateful session costs the server a 32-byte session id.
        (
            TlsVersion::Tls12,
            ServerResumption::Stateful,
            [(34, 66, 96), (34, 34, 32)],
        ),
        // 1.3 client: random 32 + compatibility session id 32 + seed 2 +
        // X25519 share 32, all in the ClientHello; resumption is
        // psk_dhe_ke, so a new share every time. Server: random + share.
        (
            TlsVersion::Tls13,
            ServerResumption::Off,
            [(98, 98, 64), (98, 98, 64)],
        ),
        // Two tickets, each: nonce 32 + ticket_age_add 4 + seal nonce 12.
        (
            TlsVersion::Tls13,
            ServerResumption::Tickets,
            [(98, 98, 160), (98, 98, 160)],
        ),
        // Two stateful tickets, each: nonce 32 + age_add 4 + id 32.
        (
            TlsVersion::Tls13,
            ServerResumption::Stateful,
            [(98, 98, 200), (98, 98, 200)],
        ),
    ];
    for (version, resumption, connections) in expected {
        let mut setup = Setup::new(
            1,
            &ClientOptions {
                version,
                ..ClientOptions::default()
            },
            &ServerOptions {
                version,
                resumption,
                ..ServerOptions::default()
            },
        );
        let mut t = SimTime::ZERO;
        for (i, want) in connections.into_iter().enumerate() {
            let (mut c, mut s) = setup.pair(t);
            let at_start = c.random_bytes_drawn();
            assert_eq!(s.random_bytes_drawn(), 0);
            c.write(b"x").unwrap();
            let ex = run(&mut c, &mut s, t, b"y");
            assert_eq!(ex.client_got, b"y");
            t = ex.end;
            assert_eq!(
                (at_start, c.random_bytes_drawn(), s.random_bytes_drawn()),
                want,
                "{version:?} {resumption:?} connection {i}"
            );
        }
    }
}

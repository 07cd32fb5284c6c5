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

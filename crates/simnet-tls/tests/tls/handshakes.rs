//! Handshakes that must succeed, resume, carry early data, or fail with a
//! clear error.

use crate::harness::{Setup, pki, run};
use simnet_core::SimTime;
use simnet_core::rng::Seed;
use simnet_tls::Epoch;
use simnet_tls::certs::Validity;
use simnet_tls::config::{
    ClientOptions, ServerOptions, ServerResumption, TlsClientConfig, TlsServerConfig, TlsVersion,
};
use simnet_tls::session::{TlsClient, TlsError, TlsServer};

fn opts(version: TlsVersion, resumption: ServerResumption) -> (ClientOptions, ServerOptions) {
    (
        ClientOptions {
            version,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            ..ClientOptions::default()
        },
        ServerOptions {
            version,
            alpn: vec![b"http/1.1".to_vec()],
            resumption,
            ..ServerOptions::default()
        },
    )
}

#[test]
fn full_handshakes_agree_on_version_suite_and_alpn() {
    for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let (c, s) = opts(version, ServerResumption::Off);
        let mut setup = Setup::new(1, &c, &s);
        let (mut client, mut server) = setup.pair(SimTime::ZERO);
        client.write(b"hello").unwrap();
        let ex = run(&mut client, &mut server, SimTime::ZERO, b"world");
        assert_eq!(ex.server_got, b"hello");
        assert_eq!(ex.client_got, b"world");
        let summary = client.summary().unwrap();
        assert_eq!(summary.version, version);
        assert_eq!(summary.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert!(!summary.resumed);
        assert_eq!(server.summary(), Some(summary));
        assert_eq!(server.server_name(), Some("server.test"));
    }
}

#[test]
fn round_trips_before_the_first_application_byte() {
    // (version, resumption, early data, RTTs full, RTTs resumed)
    let cases = [
        (TlsVersion::Tls13, ServerResumption::Tickets, false, 1, 1),
        (TlsVersion::Tls12, ServerResumption::Tickets, false, 2, 1),
        (TlsVersion::Tls12, ServerResumption::Stateful, false, 2, 1),
        (TlsVersion::Tls13, ServerResumption::Stateful, true, 1, 0),
    ];
    for (version, resumption, early, full_rtt, resumed_rtt) in cases {
        let (mut c, mut s) = opts(version, resumption);
        c.early_data = early;
        if early {
            s.max_early_data_bytes = 1024;
        }
        let mut setup = Setup::new(2, &c, &s);
        let (mut client, mut server) = setup.pair(SimTime::ZERO);
        client.write(b"GET /").unwrap();
        let ex = run(&mut client, &mut server, SimTime::ZERO, b"200");
        assert_eq!(
            ex.first_byte_rtt,
            Some(full_rtt),
            "{version:?} {resumption:?} full"
        );

        let (mut client, mut server) = setup.pair(ex.end);
        if early {
            assert_eq!(client.write_early(b"GET /"), 5);
        } else {
            client.write(b"GET /").unwrap();
        }
        let ex2 = run(&mut client, &mut server, ex.end, b"200");
        assert_eq!(
            ex2.first_byte_rtt,
            Some(resumed_rtt),
            "{version:?} {resumption:?} resumed"
        );
        assert!(client.summary().unwrap().resumed);
        if early {
            assert!(client.is_early_data_accepted());
            assert_eq!(ex2.server_got_early, b"GET /");
        } else {
            assert_eq!(ex2.server_got, b"GET /");
        }
        assert_eq!(ex2.client_got, b"200");
    }
}

#[test]
fn early_data_needs_tls13_and_stateful_resumption() {
    let (_, cert) = pki(1);
    let bad = ServerOptions {
        max_early_data_bytes: 10,
        resumption: ServerResumption::Tickets,
        ..ServerOptions::default()
    };
    let err = TlsServerConfig::new(&cert, &bad, &mut Seed(1).stream("x")).unwrap_err();
    assert!(matches!(err, TlsError::Config(_)), "{err}");
}

fn handshake_with(
    epoch: Epoch,
    cert_validity: Validity,
    name: &str,
    at: SimTime,
) -> (Option<TlsError>, Option<TlsError>) {
    let mut rng = Seed(3).stream("pki");
    let ca = simnet_tls::certs::TestCa::generate(&mut rng, "CA", Validity::days_from_start(3650))
        .unwrap();
    let cert = ca.issue(&mut rng, &["server.test"], cert_validity).unwrap();
    let client = TlsClientConfig::new(
        &[ca.cert()],
        &ClientOptions {
            epoch,
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let server = TlsServerConfig::new(
        &cert,
        &ServerOptions {
            epoch,
            ..ServerOptions::default()
        },
        &mut Seed(3).stream("s"),
    )
    .unwrap();
    let mut c = TlsClient::new(&client, name, Seed(3).stream("c"), at).unwrap();
    let mut s = TlsServer::new(&server, Seed(3).stream("sv"), at).unwrap();
    let ex = run(&mut c, &mut s, at, b"");
    (ex.client_error, ex.server_error)
}

#[test]
fn certificates_are_checked_against_simulated_time_and_name() {
    use rustls::{AlertDescription, CertificateError, Error};
    let validity = Validity {
        not_before: SimTime::from_secs(100),
        not_after: SimTime::from_secs(1_000),
        epoch: Epoch::DEFAULT,
    };
    // Inside the window: fine.
    let (c, s) = handshake_with(
        Epoch::DEFAULT,
        validity,
        "server.test",
        SimTime::from_secs(500),
    );
    assert_eq!((c, s), (None, None));

    // After it: expired, in the client's words; the server hears the alert.
    let (c, s) = handshake_with(
        Epoch::DEFAULT,
        validity,
        "server.test",
        SimTime::from_secs(2_000),
    );
    let c = c.expect("an expired certificate must fail");
    assert!(
        matches!(
            c,
            TlsError::Tls(Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ))
        ),
        "{c:?}"
    );
    assert!(c.to_string().contains("expired"), "{c}");
    assert_eq!(
        s,
        Some(TlsError::Tls(Error::AlertReceived(
            AlertDescription::CertificateExpired
        )))
    );

    // Before it: not yet valid.
    let (c, _) = handshake_with(
        Epoch::DEFAULT,
        validity,
        "server.test",
        SimTime::from_secs(50),
    );
    assert!(c.unwrap().to_string().contains("not valid yet"));

    // A name the certificate does not carry.
    let (c, _) = handshake_with(
        Epoch::DEFAULT,
        validity,
        "other.test",
        SimTime::from_secs(500),
    );
    let c = c.expect("a wrong name must fail");
    assert!(
        matches!(
            c,
            TlsError::Tls(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{c:?}"
    );
}

#[test]
fn a_version_mismatch_fails_on_both_sides() {
    let (c, _) = opts(TlsVersion::Tls12, ServerResumption::Off);
    let (_, s) = opts(TlsVersion::Tls13, ServerResumption::Off);
    let mut setup = Setup::new(4, &c, &s);
    let (mut client, mut server) = setup.pair(SimTime::ZERO);
    let ex = run(&mut client, &mut server, SimTime::ZERO, b"");
    assert!(ex.server_error.is_some());
    assert!(ex.client_error.is_some());
    assert_eq!(client.feed(SimTime::ZERO, b"x"), Err(TlsError::Failed));
}

#[test]
fn close_notify_reaches_the_peer() {
    let (c, s) = opts(TlsVersion::Tls13, ServerResumption::Off);
    let mut setup = Setup::new(5, &c, &s);
    let (mut client, mut server) = setup.pair(SimTime::ZERO);
    let ex = run(&mut client, &mut server, SimTime::ZERO, b"");
    assert!(!client.is_handshaking() && !server.is_handshaking());
    client.close_notify();
    let bytes = client.take_outgoing();
    assert!(!bytes.is_empty());
    server.feed(ex.end, &bytes).unwrap();
    assert!(server.is_peer_closed());
    assert!(!client.is_peer_closed());
}

#[test]
fn a_second_client_config_has_its_own_session_cache() {
    let (c, s) = opts(TlsVersion::Tls13, ServerResumption::Tickets);
    let mut setup = Setup::new(6, &c, &s);
    let (mut client, mut server) = setup.pair(SimTime::ZERO);
    client.write(b"x").unwrap();
    let ex = run(&mut client, &mut server, SimTime::ZERO, b"y");
    // A fresh configuration (another application) knows no session.
    let (ca, _) = pki(6);
    let other = TlsClientConfig::new(&[ca.cert()], &c).unwrap();
    let mut client = TlsClient::new(&other, "server.test", Seed(6).stream("o"), ex.end).unwrap();
    let (_, mut server) = setup.pair(ex.end);
    client.write(b"x").unwrap();
    run(&mut client, &mut server, ex.end, b"y");
    assert!(!client.summary().unwrap().resumed);
}

#[test]
fn write_takes_what_fits_like_a_socket() {
    let (c, s) = opts(TlsVersion::Tls13, ServerResumption::Off);
    let mut setup = Setup::new(7, &c, &s);
    let (mut client, mut server) = setup.pair(SimTime::ZERO);
    let big = vec![b'a'; 200_000];
    // Before the handshake rustls holds plaintext up to its 64 KiB limit.
    let taken = client.write(&big).unwrap();
    assert!(taken > 0 && taken <= 64 * 1024, "{taken}");
    let ex = run(&mut client, &mut server, SimTime::ZERO, b"");
    assert_eq!(ex.server_got.len(), taken);
    // After it, the rest goes through in pieces.
    let mut sent = taken;
    let mut received = ex.server_got.len();
    while sent < big.len() {
        sent += client.write(&big[sent..]).unwrap();
        server.feed(ex.end, &client.take_outgoing()).unwrap();
        received += server.read().len();
    }
    assert_eq!(received, big.len());
}

//! What a `TlsLayer` reports over simulated TCP: `tls.handshake` for full,
//! resumed and 0-RTT handshakes, `tls.failed` and the alert for a refused
//! certificate; and that 0-RTT data reaches the server with the
//! ClientHello, or again after the handshake when the server turns it
//! down.
//!
//! One client application makes connections one after another (the next
//! 100 ms after the previous echo came back), each to the next server in
//! its list, with one configuration, so its session cache carries over.

use crate::harness::pki;
use rand::SeedableRng;
use simnet_core::rng::{Seed, SimRng};
use simnet_core::{
    App, AppContext, AppEvent, FieldValue, LinkParams, Recv, SimDuration, SimTime, SocketError,
    SocketEvent, SocketId, TimerId, World, WorldBuilder,
};
use simnet_tls::certs::Validity;
use simnet_tls::config::{
    ClientOptions, ServerOptions, ServerResumption, TlsClientConfig, TlsServerConfig, TlsVersion,
};
use simnet_tls::session::{TlsClient, TlsServer};
use simnet_tls::{KeyLogLines, TlsLayer};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: server.test\r\n\r\n";

fn stream(cx: &mut AppContext<'_>) -> SimRng {
    SimRng::seed_from_u64(cx.rng().next_u64())
}

struct Client {
    config: TlsClientConfig,
    log: Arc<KeyLogLines>,
    servers: Vec<SocketAddrV4>,
    next: usize,
    sid: Option<SocketId>,
    got: Vec<u8>,
    /// When each connection was made, and when its echo was complete.
    connected: Vec<SimTime>,
    echoed: Vec<SimTime>,
    errors: Vec<SocketError>,
}

impl Client {
    fn connect_next(&mut self, cx: &mut AppContext<'_>) {
        if let Some(server) = self.servers.get(self.next) {
            self.next += 1;
            self.got.clear();
            self.sid = cx.connect(*server).ok();
        }
    }
}

impl App for Client {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.connect_next(cx);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let Some(sid) = self.sid else { return };
        match event {
            SocketEvent::Connected(s) if s == sid => {
                self.connected.push(cx.now());
                let session =
                    TlsClient::new(&self.config, "server.test", stream(cx), cx.now()).unwrap();
                let layer = TlsLayer::client(session).with_key_log(self.log.clone());
                cx.set_nagle(sid, false).unwrap();
                cx.set_layer(sid, Box::new(layer)).unwrap();
                // Written at once: 0-RTT data when the session allows it.
                assert_eq!(cx.send(sid, REQUEST), Ok(REQUEST.len()));
            }
            SocketEvent::Readable(s) if s == sid => loop {
                match cx.recv(sid, 65536) {
                    Ok(Recv::Data(d)) => {
                        self.got.extend(d);
                        if self.got.len() == REQUEST.len() {
                            assert_eq!(self.got, REQUEST);
                            self.echoed.push(cx.now());
                            let _ = cx.close(sid);
                            self.sid = None;
                            cx.set_timer(SimDuration::from_millis(100));
                            return;
                        }
                    }
                    Ok(Recv::Eof) => {
                        let _ = cx.close(sid);
                        self.sid = None;
                        return;
                    }
                    Ok(Recv::WouldBlock) => return,
                    Err(e) => {
                        self.errors.push(e);
                        let _ = cx.close(sid);
                        self.sid = None;
                        return;
                    }
                }
            },
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, _timer: TimerId) {
        self.connect_next(cx);
    }
}

/// Echoes every connection; 0-RTT data comes out of `recv` first.
struct Server {
    config: TlsServerConfig,
    log: Arc<KeyLogLines>,
    conns: BTreeMap<SocketId, ()>,
    errors: Vec<SocketError>,
}

impl App for Server {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen(443).unwrap();
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let sid = match event {
            SocketEvent::Incoming { .. } => {
                let sid = cx.accept(443).unwrap();
                let session = TlsServer::new(&self.config, stream(cx), cx.now()).unwrap();
                let layer = TlsLayer::server(session).with_key_log(self.log.clone());
                cx.set_layer(sid, Box::new(layer)).unwrap();
                cx.set_nagle(sid, false).unwrap();
                self.conns.insert(sid, ());
                sid
            }
            SocketEvent::Readable(sid) => sid,
            _ => return,
        };
        if !self.conns.contains_key(&sid) {
            return;
        }
        loop {
            match cx.recv(sid, 65536) {
                Ok(Recv::Data(d)) => {
                    let _ = cx.send(sid, &d);
                }
                Ok(Recv::WouldBlock) => break,
                Ok(Recv::Eof) | Err(_) => {
                    if let Err(e) = cx.recv(sid, 1) {
                        self.errors.push(e);
                    }
                    let _ = cx.close(sid);
                    self.conns.remove(&sid);
                    break;
                }
            }
        }
    }
}

/// A server: its host's last address byte and its configuration.
struct ServerSpec {
    last_byte: u8,
    options: ServerOptions,
    /// The certificate's validity and name (default: `server.test`, 90
    /// days from time zero).
    cert: Option<(Validity, &'static str)>,
}

struct Run {
    world: World,
    client: simnet_core::AppId,
    servers: Vec<simnet_core::AppId>,
}

/// A client at 10.0.0.1 connecting once to each server in `order` (by
/// index into `servers`), 10 ms away from each.
fn run(client_options: ClientOptions, servers: Vec<ServerSpec>, order: &[usize]) -> Run {
    let (ca, default_cert) = pki(11);
    let log = Arc::new(KeyLogLines::new());
    let client_config = TlsClientConfig::new(
        &[ca.cert()],
        &ClientOptions {
            key_log: Some(log.clone()),
            ..client_options
        },
    )
    .unwrap();
    let mut b = WorldBuilder::new(5);
    let client = b.host("client", [10, 0, 0, 1].into());
    let addresses: Vec<SocketAddrV4> = servers
        .iter()
        .map(|s| SocketAddrV4::new([10, 0, 0, s.last_byte].into(), 443))
        .collect();
    let mut server_apps = Vec::new();
    for (i, spec) in servers.into_iter().enumerate() {
        let host = b.host(&format!("server{i}"), [10, 0, 0, spec.last_byte].into());
        b.link(client, host, LinkParams::with_latency(ms(10)));
        let cert = match spec.cert {
            Some((validity, name)) => ca
                .issue(&mut Seed(99).stream("leaf"), &[name], validity)
                .unwrap(),
            None => default_cert.clone(),
        };
        let server_log = Arc::new(KeyLogLines::new());
        let options = ServerOptions {
            key_log: Some(server_log.clone()),
            ..spec.options
        };
        let config =
            TlsServerConfig::new(&cert, &options, &mut Seed(i as u64).stream("server")).unwrap();
        server_apps.push(b.app(host, "tls-echo", move || Server {
            config: config.clone(),
            log: server_log.clone(),
            conns: BTreeMap::new(),
            errors: Vec::new(),
        }));
    }
    let order: Vec<SocketAddrV4> = order.iter().map(|i| addresses[*i]).collect();
    let client = b.app(client, "tls-client", move || Client {
        config: client_config.clone(),
        log: log.clone(),
        servers: order.clone(),
        next: 0,
        sid: None,
        got: Vec::new(),
        connected: Vec::new(),
        echoed: Vec::new(),
        errors: Vec::new(),
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(2));
    Run {
        world,
        client,
        servers: server_apps,
    }
}

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

/// The events of `kind` reported by application `app`.
fn events(run: &Run, app: simnet_core::AppId, kind: &str) -> Vec<(SimTime, AppEvent)> {
    run.world
        .trace()
        .records
        .iter()
        .filter_map(|r| match &r.event {
            simnet_core::TraceEvent::App {
                app: a, event: e, ..
            } if *a == app && e.kind == kind => Some((r.time, (**e).clone())),
            _ => None,
        })
        .collect()
}

fn field(e: &AppEvent, name: &str) -> FieldValue {
    e.field(name)
        .unwrap_or_else(|| panic!("{} has no {name}: {e:?}", e.kind))
        .clone()
}

fn int(e: &AppEvent, name: &str) -> i64 {
    match field(e, name) {
        FieldValue::Int(n) => n,
        other => panic!("{name} is {other:?}"),
    }
}

fn text(e: &AppEvent, name: &str) -> String {
    field(e, name).to_string()
}

fn client_app(run: &Run) -> &Client {
    run.world.app::<Client>(run.client).expect("the client")
}

fn server(version: TlsVersion, resumption: ServerResumption) -> ServerOptions {
    ServerOptions {
        version,
        resumption,
        ..ServerOptions::default()
    }
}

fn one_server(options: ServerOptions) -> Vec<ServerSpec> {
    vec![ServerSpec {
        last_byte: 2,
        options,
        cert: None,
    }]
}

#[test]
fn a_resumed_handshake_is_reported_lighter_and_without_a_certificate() {
    // (version, round trips full, round trips resumed)
    for (version, full_rtts, resumed_rtts) in [(TlsVersion::Tls13, 1, 1), (TlsVersion::Tls12, 2, 1)]
    {
        for resumption in [ServerResumption::Tickets, ServerResumption::Stateful] {
            let client = ClientOptions {
                version,
                ..ClientOptions::default()
            };
            let r = run(client, one_server(server(version, resumption)), &[0, 0]);
            let hs = events(&r, r.client, "tls.handshake");
            assert_eq!(hs.len(), 2, "{version:?} {resumption:?}: {hs:?}");
            let (full, resumed) = (&hs[0].1, &hs[1].1);
            let case = format!("{version:?} {resumption:?}");
            assert_eq!(field(full, "resumed"), FieldValue::Bool(false), "{case}");
            assert_eq!(field(full, "certificate"), FieldValue::Bool(true), "{case}");
            assert_eq!(field(resumed, "resumed"), FieldValue::Bool(true), "{case}");
            assert_eq!(
                field(resumed, "certificate"),
                FieldValue::Bool(false),
                "{case}"
            );
            assert_eq!(int(full, "round_trips"), full_rtts, "{case}");
            assert_eq!(int(resumed, "round_trips"), resumed_rtts, "{case}");
            assert_eq!(
                field(full, "duration"),
                FieldValue::Duration(ms(20 * full_rtts as u64)),
                "{case}"
            );
            // Without the certificate the server's part shrinks to a third.
            assert!(
                int(resumed, "bytes_received") * 2 < int(full, "bytes_received"),
                "{case}: {full:?} {resumed:?}"
            );
            assert_eq!(text(resumed, "early_data"), "none");
            // The server reports the same handshakes, from its side.
            let srv = events(&r, r.servers[0], "tls.handshake");
            assert_eq!(srv.len(), 2, "{case}");
            assert_eq!(field(&srv[1].1, "resumed"), FieldValue::Bool(true));
            assert_eq!(
                int(&srv[0].1, "bytes_sent"),
                int(full, "bytes_received"),
                "{case}: both ends count the same bytes"
            );
            // And the echo comes back a round trip sooner over a resumed 1.2.
            let c = client_app(&r);
            let took: Vec<SimDuration> = c
                .connected
                .iter()
                .zip(&c.echoed)
                .map(|(a, b)| b.saturating_since(*a))
                .collect();
            assert_eq!(
                took,
                [
                    ms(20 * full_rtts as u64 + 20),
                    ms(20 * resumed_rtts as u64 + 20)
                ],
                "{case}"
            );
        }
    }
}

#[test]
fn without_a_session_cache_every_handshake_is_full() {
    let client = ClientOptions {
        session_cache_entries: 0,
        ..ClientOptions::default()
    };
    let r = run(
        client,
        one_server(server(TlsVersion::Tls13, ServerResumption::Tickets)),
        &[0, 0],
    );
    let hs = events(&r, r.client, "tls.handshake");
    assert_eq!(hs.len(), 2);
    assert!(
        hs.iter()
            .all(|(_, e)| field(e, "resumed") == FieldValue::Bool(false))
    );
}

fn zero_rtt_server() -> ServerOptions {
    ServerOptions {
        max_early_data_bytes: 16 * 1024,
        half_rtt_data: true,
        ..server(TlsVersion::Tls13, ServerResumption::Stateful)
    }
}

#[test]
fn zero_rtt_data_reaches_the_server_with_the_client_hello() {
    let client = ClientOptions {
        early_data: true,
        ..ClientOptions::default()
    };
    let r = run(client, one_server(zero_rtt_server()), &[0, 0]);
    let hs = events(&r, r.client, "tls.handshake");
    assert_eq!(hs.len(), 2);
    assert_eq!(text(&hs[0].1, "early_data"), "none");
    assert_eq!(text(&hs[1].1, "early_data"), "accepted");
    let srv = events(&r, r.servers[0], "tls.handshake");
    assert_eq!(text(&srv[1].1, "early_data"), "accepted");
    // The full handshake: the echo after two round trips from the
    // ClientHello; 0-RTT: after one, answered in the server's first
    // flight.
    let c = client_app(&r);
    let took: Vec<SimDuration> = c
        .connected
        .iter()
        .zip(&c.echoed)
        .map(|(a, b)| b.saturating_since(*a))
        .collect();
    assert_eq!(took, [ms(40), ms(20)]);
    // The record with the request left at the ClientHello's instant.
    let sent: Vec<SimTime> = events(&r, r.client, "tls.record")
        .into_iter()
        .filter(|(_, e)| {
            e.summary
                .text()
                .starts_with("TLS sent: [decrypted] application data")
        })
        .map(|(t, _)| t)
        .collect();
    assert_eq!(sent[1], c.connected[1]);
}

#[test]
fn turned_down_early_data_is_sent_again_after_the_handshake() {
    // The session is from server 0; server 1 has the same certificate but
    // its own session store, so it knows no ticket: a full handshake, the
    // early data refused, and the request must still arrive once.
    let client = ClientOptions {
        early_data: true,
        ..ClientOptions::default()
    };
    let servers = vec![
        ServerSpec {
            last_byte: 2,
            options: zero_rtt_server(),
            cert: None,
        },
        ServerSpec {
            last_byte: 3,
            options: zero_rtt_server(),
            cert: None,
        },
    ];
    let r = run(client, servers, &[0, 1]);
    let hs = events(&r, r.client, "tls.handshake");
    assert_eq!(hs.len(), 2);
    assert_eq!(text(&hs[1].1, "early_data"), "rejected");
    assert_eq!(field(&hs[1].1, "resumed"), FieldValue::Bool(false));
    let c = client_app(&r);
    // Both echoes came back whole (the client asserts the bytes), the
    // second as late as a full handshake makes it.
    assert_eq!(c.echoed.len(), 2);
    assert_eq!(c.echoed[1].saturating_since(c.connected[1]), ms(40));
    assert!(c.errors.is_empty(), "{:?}", c.errors);
}

#[test]
fn a_refused_certificate_is_an_alert_and_a_failure_on_both_sides() {
    // (validity, name, version, the alert the client sends)
    let cases = [
        (
            Validity::days(-30, -1),
            "server.test",
            TlsVersion::Tls13,
            "CertificateExpired",
        ),
        (
            Validity::days(-30, -1),
            "server.test",
            TlsVersion::Tls12,
            "CertificateExpired",
        ),
        (
            Validity::days(2, 30),
            "server.test",
            TlsVersion::Tls13,
            "CertificateExpired",
        ),
        (
            Validity::days(0, 30),
            "other.test",
            TlsVersion::Tls13,
            "BadCertificate",
        ),
        (
            Validity::days(0, 30),
            "other.test",
            TlsVersion::Tls12,
            "BadCertificate",
        ),
    ];
    for (validity, name, version, alert) in cases {
        let client = ClientOptions {
            version,
            ..ClientOptions::default()
        };
        let servers = vec![ServerSpec {
            last_byte: 2,
            options: server(version, ServerResumption::Tickets),
            cert: Some((validity, name)),
        }];
        let r = run(client, servers, &[0]);
        let case = format!("{validity:?} {name} {version:?}");
        let alerts: Vec<(String, String)> = events(&r, r.client, "tls.record")
            .into_iter()
            .filter(|(_, e)| e.field("alert").is_some())
            .map(|(_, e)| (text(&e, "alert"), text(&e, "direction")))
            .collect();
        assert_eq!(alerts, [(alert.to_string(), "sent".to_string())], "{case}");
        let failed = events(&r, r.client, "tls.failed");
        assert_eq!(failed.len(), 1, "{case}");
        assert_eq!(text(&failed[0].1, "alert"), alert);
        assert!(text(&failed[0].1, "reason").contains("certificate"));
        let heard = events(&r, r.servers[0], "tls.failed");
        assert_eq!(heard.len(), 1, "{case}");
        assert_eq!(text(&heard[0].1, "direction"), "received");
        assert!(events(&r, r.client, "tls.handshake").is_empty());
        // The client's read says the layer failed; no echo ever came.
        let c = client_app(&r);
        assert_eq!(c.errors, [SocketError::LayerFailed], "{case}");
        assert!(c.echoed.is_empty());
    }
}

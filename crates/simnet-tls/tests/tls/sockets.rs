//! TLS over simulated TCP: sessions installed on sockets as stream layers
//! (`AppContext::set_layer`), between two hosts of a world. The
//! applications read and write plaintext; the packets carry records.

use crate::harness::pki;
use rand::SeedableRng;
use simnet_core::rng::SimRng;
use simnet_core::{
    App, AppContext, AppEvent, LinkParams, Recv, SimDuration, SimTime, SocketEvent, SocketId,
    TraceEvent, WorldBuilder,
};
use simnet_tls::config::{ClientOptions, ServerOptions, TlsClientConfig, TlsServerConfig};
use simnet_tls::session::{TlsClient, TlsServer};
use simnet_tls::{KeyLogLines, TlsLayer, TlsVersion};
use std::sync::Arc;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: server.test\r\n\r\n";

/// A connection's own stream, drawn from the application's.
fn stream(cx: &mut AppContext<'_>) -> SimRng {
    SimRng::seed_from_u64(cx.rng().next_u64())
}

struct Client {
    config: TlsClientConfig,
    log: Arc<KeyLogLines>,
    sid: Option<SocketId>,
    got: Vec<u8>,
}

impl App for Client {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.sid = cx.connect("10.0.0.2:443".parse().unwrap()).ok();
    }
    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let sid = self.sid.unwrap();
        match event {
            SocketEvent::Connected(_) => {
                let rng = stream(cx);
                let session = TlsClient::new(&self.config, "server.test", rng, cx.now()).unwrap();
                let layer = TlsLayer::client(session).with_key_log(self.log.clone());
                // Without TCP_NODELAY the server's echo, written right after
                // its session tickets, waits for their ACK (Nagle meeting a
                // delayed ACK): TLS servers set it, and so do these.
                cx.set_nagle(sid, false).unwrap();
                cx.set_layer(sid, Box::new(layer)).unwrap();
                // Written before the handshake is over: TLS holds it.
                assert_eq!(cx.send(sid, REQUEST), Ok(REQUEST.len()));
            }
            SocketEvent::Readable(_) => {
                while let Ok(Recv::Data(d)) = cx.recv(sid, 65536) {
                    self.got.extend(d);
                }
                if self.got.len() == REQUEST.len() {
                    cx.emit(AppEvent::new(
                        "echo.done",
                        String::from_utf8_lossy(&self.got),
                    ));
                    let _ = cx.close(sid);
                }
            }
            _ => {}
        }
    }
}

struct Server {
    config: TlsServerConfig,
    sid: Option<SocketId>,
}

impl App for Server {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen(443).unwrap();
    }
    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        if let SocketEvent::Incoming { .. } = event {
            let sid = cx.accept(443).unwrap();
            let session = TlsServer::new(&self.config, stream(cx), cx.now()).unwrap();
            cx.set_layer(sid, Box::new(TlsLayer::server(session)))
                .unwrap();
            cx.set_nagle(sid, false).unwrap();
            self.sid = Some(sid);
        }
        let Some(sid) = self.sid else { return };
        loop {
            match cx.recv(sid, 65536) {
                Ok(Recv::Data(d)) => {
                    let _ = cx.send(sid, &d);
                }
                Ok(Recv::Eof) => {
                    let _ = cx.close(sid);
                    self.sid = None;
                    break;
                }
                _ => break,
            }
        }
    }
}

fn run(version: TlsVersion) -> (simnet_core::World, Arc<KeyLogLines>) {
    let (ca, cert) = pki(3);
    let log = Arc::new(KeyLogLines::new());
    let client_options = ClientOptions {
        version,
        key_log: Some(log.clone()),
        ..ClientOptions::default()
    };
    let server_options = ServerOptions {
        version,
        ..ServerOptions::default()
    };
    let client_config = TlsClientConfig::new(&[ca.cert()], &client_options).unwrap();
    let mut rng = simnet_core::rng::Seed(3).stream("server-config");
    let server_config = TlsServerConfig::new(&cert, &server_options, &mut rng).unwrap();

    let mut b = WorldBuilder::new(7);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    b.app(server, "tls-echo", move || Server {
        config: server_config.clone(),
        sid: None,
    });
    let shared = log.clone();
    b.app(client, "tls-client", move || Client {
        config: client_config.clone(),
        log: shared.clone(),
        sid: None,
        got: Vec::new(),
    });
    let mut w = b.build().unwrap();
    w.run_until(SimTime::from_secs(1));
    (w, log)
}

fn records(w: &simnet_core::World) -> Vec<(SimTime, String)> {
    w.trace()
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::App { event, .. } if event.kind == "tls.record" => {
                Some((r.time, event.summary.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// TLS 1.3 over a 10 ms link: the request written at connect time is held
/// until the handshake ends and reaches the server one round trip after
/// the ClientHello, encrypted (the plaintext never appears in a packet);
/// the echo comes back whole; the records are reported in order, the
/// encrypted handshake opened with the key log; and a second run is
/// identical to the byte.
#[test]
fn tls13_over_simulated_tcp_carries_the_request_encrypted() {
    let (w, log) = run(TlsVersion::Tls13);
    let done: Vec<String> = w
        .trace()
        .app_events("echo.done")
        .map(|e| e.2.summary.to_string())
        .collect();
    assert_eq!(done, [String::from_utf8_lossy(REQUEST).to_string()]);
    // No packet carries the request in the clear (the SNI does say the
    // name, so look for the request line).
    let mut packets = 0;
    for r in &w.trace().records {
        if let TraceEvent::PacketSent { bytes, .. } = &r.event {
            packets += 1;
            assert!(!bytes.windows(14).any(|b| b == b"GET / HTTP/1.1"));
        }
    }
    assert!(packets > 10);
    let records = records(&w);
    let texts: Vec<&str> = records.iter().map(|(_, t)| t.as_str()).collect();
    let first = |needle: &str| {
        records
            .iter()
            .find(|(_, t)| t.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {texts:#?}"))
            .0
    };
    // The ClientHello leaves at 20 ms (the TCP handshake's round trip);
    // the server's flight answers at 30 ms; the client's Finished and its
    // request at 40 ms.
    assert_eq!(first("TLS sent: ClientHello"), SimTime::from_millis(20));
    assert_eq!(first("TLS sent: ServerHello"), SimTime::from_millis(30));
    assert!(
        texts.iter().any(|t| t.contains("Certificate")),
        "{texts:#?}"
    );
    assert!(!log.lines().is_empty());
    let (again, _) = run(TlsVersion::Tls13);
    let text = |w: &simnet_core::World| format!("{:?}", w.trace().records);
    assert_eq!(text(&w), text(&again));
}

/// TLS 1.2 takes one more round trip before the request can go: the echo
/// is back at 60 ms over 1.3 and at 80 ms over 1.2.
#[test]
fn tls12_over_simulated_tcp_takes_one_more_round_trip() {
    let (w13, _) = run(TlsVersion::Tls13);
    let (w12, _) = run(TlsVersion::Tls12);
    let done = |w: &simnet_core::World| {
        w.trace()
            .records
            .iter()
            .find(
                |r| matches!(&r.event, TraceEvent::App { event, .. } if event.kind == "echo.done"),
            )
            .map(|r| r.time)
            .expect("the echo came back")
    };
    assert_eq!(done(&w13), SimTime::from_millis(60));
    assert_eq!(done(&w12), SimTime::from_millis(80));
}

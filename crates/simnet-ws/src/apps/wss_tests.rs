//! `wss`: the WebSocket, STOMP and Socket.IO-style applications over TLS
//! 1.3 and 1.2, on a small simulated network. Checked through the
//! applications' own records, their trace events, and the bytes of every
//! packet.

use super::*;
use simnet_core::{
    AppId, FieldValue, LinkParams, TcpState, Trace, TraceEvent, World, WorldBuilder,
};
use simnet_tls::TlsVersion;
use std::net::Ipv4Addr;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const BOTH: [TlsVersion; 2] = [TlsVersion::Tls13, TlsVersion::Tls12];

fn link() -> LinkParams {
    LinkParams::with_latency(SimDuration::from_millis(10))
}

fn at(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(SERVER, port)
}

/// The application events of `kind` with their times, in order.
fn events<'a>(trace: &'a Trace, kind: &'a str) -> impl Iterator<Item = (SimTime, &'a AppEvent)> {
    trace.records.iter().filter_map(move |r| match &r.event {
        TraceEvent::App { event, .. } if event.kind == kind => Some((r.time, &**event)),
        _ => None,
    })
}

fn is(event: &AppEvent, field: &str, value: FieldValue) -> bool {
    event.field(field) == Some(&value)
}

/// Every TCP payload byte of the run, packet by packet.
fn payloads(trace: &Trace) -> Vec<Vec<u8>> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketSent { bytes, .. } => r
                .event
                .packet_info()
                .map(|info| info.payload(bytes).to_vec()),
            _ => None,
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether `needle` appears in some packet's payload, in any case.
fn on_the_wire(trace: &Trace, needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    payloads(trace).iter().any(|p| {
        p.to_ascii_lowercase()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    })
}

/// A `wss` echo server and a client sending two messages over `version`.
fn echo_world(version: TlsVersion) -> (World, AppId) {
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", SERVER);
    b.link(c, s, link());
    b.app(s, "ws-server", move || {
        WsServer::new(443, ServerMode::Echo).tls(ServerTls::new(version, "server"))
    });
    let id = b.app(c, "ws-client", move || {
        WsClient::new(at(443), "server", "/chat")
            .send(vec!["hello".into(), "world".into()])
            .tls(ClientTls::new(version, "server"))
    });
    (b.build().expect("a valid world"), id)
}

#[test]
fn wss_upgrades_echoes_and_closes_over_both_versions() {
    for version in BOTH {
        let (mut world, client) = echo_world(version);
        world.run_until(SimTime::from_secs(1));
        let c = world.app::<WsClient>(client).expect("the client runs");
        assert_eq!(
            c.received,
            vec![Message::Text("hello".into()), Message::Text("world".into())],
            "{version:?}"
        );
        let trace = world.trace();
        // TCP takes one round trip (20 ms), TLS 1.3 one more and TLS 1.2
        // two, and the upgrade one: the 101 reaches the client at 60 ms
        // or 80 ms.
        let upgraded: Vec<SimTime> = events(trace, "ws.upgrade")
            .filter(|(_, e)| is(e, "ok", FieldValue::Bool(true)))
            .filter(|(_, e)| e.summary.text().contains("Sec-WebSocket-Accept ok"))
            .map(|(t, _)| t)
            .collect();
        let expected = match version {
            TlsVersion::Tls13 => 60,
            TlsVersion::Tls12 => 80,
        };
        assert_eq!(
            upgraded,
            vec![SimTime::from_millis(expected)],
            "{version:?}"
        );
        // Both ends complete the closing handshake; the server closes TCP
        // first and holds TIME-WAIT, as over plain TCP.
        let closed: Vec<bool> = events(trace, "ws.closed")
            .map(|(_, e)| is(e, "closes_tcp", FieldValue::Bool(true)))
            .collect();
        assert_eq!(closed.len(), 2, "{version:?}: {closed:?}");
        assert!(closed.contains(&true) && closed.contains(&false));
        let server = world.host_id("server").unwrap();
        let client_host = world.host_id("client").unwrap();
        assert_eq!(world.count_sockets(server, TcpState::TimeWait), 1);
        assert_eq!(world.count_sockets(client_host, TcpState::TimeWait), 0);
        // Records went both ways, and nothing failed.
        let records = events(trace, "tls.record").count();
        assert!(records >= 10, "{version:?}: {records} records");
        assert_eq!(events(trace, "tls.failed").count(), 0);
        assert_eq!(events(trace, "layer.failed").count(), 0);
        assert_eq!(events(trace, "ws.lost").count(), 0);
        // No socket call failed: in particular, nobody read the socket
        // after closing it (the close_notify and the FIN behind it each
        // make it readable).
        let failed = trace
            .records
            .iter()
            .filter(|r| {
                matches!(
                    &r.event,
                    TraceEvent::SocketCall {
                        call: simnet_core::SocketCall::Failed { .. },
                        ..
                    }
                )
            })
            .count();
        assert_eq!(failed, 0, "{version:?}");
    }
}

#[test]
fn no_byte_of_the_upgrade_or_the_messages_crosses_in_the_clear() {
    for version in BOTH {
        let (mut world, _) = echo_world(version);
        world.run_until(SimTime::from_secs(1));
        let trace = world.trace();
        assert!(!payloads(trace).is_empty());
        for plain in [
            "Upgrade: websocket",
            "Sec-WebSocket",
            "HTTP/1.1 101",
            "GET /chat",
            "hello",
        ] {
            assert!(
                !on_the_wire(trace, plain),
                "{version:?}: {plain:?} in the clear"
            );
        }
        // The server's name does cross in the clear (SNI, and its
        // certificate under TLS 1.2), and so does the protocol offered by
        // ALPN: the search above can find things.
        assert!(on_the_wire(trace, "server"));
        assert!(on_the_wire(trace, "http/1.1"));
    }
    // The same exchange without TLS shows the upgrade on the wire.
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", SERVER);
    b.link(c, s, link());
    b.app(s, "ws-server", || WsServer::new(80, ServerMode::Echo));
    b.app(c, "ws-client", || {
        WsClient::new(at(80), "server", "/chat").send(vec!["hello".into()])
    });
    let mut plain = b.build().unwrap();
    plain.run_until(SimTime::from_secs(1));
    assert!(on_the_wire(plain.trace(), "Upgrade: websocket"));
}

#[test]
fn a_wss_run_is_the_same_every_time() {
    for version in BOTH {
        let runs: Vec<String> = (0..2)
            .map(|_| {
                let (mut world, _) = echo_world(version);
                world.run_until(SimTime::from_secs(1));
                format!("{:?}", world.trace().records)
            })
            .collect();
        assert_eq!(runs[0], runs[1], "{version:?}");
    }
}

#[test]
fn a_wss_client_meeting_a_plain_server_is_refused_not_upgraded() {
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", SERVER);
    b.link(c, s, link());
    b.app(s, "ws-server", || WsServer::new(80, ServerMode::Echo));
    let id = b.app(c, "ws-client", || {
        WsClient::new(at(80), "server", "/chat")
            .send(vec!["hello".into()])
            .tls(ClientTls::new(TlsVersion::Tls13, "server"))
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(1));
    assert!(world.app::<WsClient>(id).unwrap().received.is_empty());
    let trace = world.trace();
    // The server reads a ClientHello as HTTP and refuses it; the client's
    // TLS cannot read the plain answer and fails the connection.
    assert_eq!(events(trace, "ws.bad-request").count(), 1);
    assert_eq!(events(trace, "layer.failed").count(), 1);
    let outcomes: Vec<bool> = events(trace, "ws.upgrade")
        .map(|(_, e)| is(e, "ok", FieldValue::Bool(true)))
        .collect();
    assert_eq!(outcomes, vec![false]);
}

#[test]
fn stomp_chats_over_wss() {
    let mut b = WorldBuilder::new(7);
    let s = b.host("broker", SERVER);
    b.app(s, "stomp-broker", || {
        WsServer::new(443, ServerMode::Stomp).tls(ServerTls::new(TlsVersion::Tls13, "broker"))
    });
    let mut clients = Vec::new();
    for (i, line) in ["hi", "hello"].into_iter().enumerate() {
        let h = b.host(&format!("c{i}"), [10, 0, 0, 10 + i as u8].into());
        b.link(h, s, link());
        clients.push(b.app(h, "stomp-client", move || {
            StompClient::new(at(443), "broker", "/stomp", "/topic/chat")
                .send(
                    vec![line.to_string()],
                    SimDuration::from_millis(200 + 100 * i as u64),
                )
                .disconnect_after(SimDuration::from_secs(1))
                .tls(ClientTls::new(TlsVersion::Tls13, "broker"))
        }));
    }
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(3));
    for id in clients {
        let c = world.app::<StompClient>(id).unwrap();
        assert_eq!(c.received, vec!["hi".to_string(), "hello".to_string()]);
        assert!(c.receipt, "DISCONNECT is confirmed");
    }
    let broker = world.host_id("broker").unwrap();
    assert_eq!(world.count_sockets(broker, TcpState::TimeWait), 2);
    assert!(!on_the_wire(world.trace(), "SUBSCRIBE"));
    assert!(!on_the_wire(world.trace(), "v12.stomp"));
}

#[test]
fn the_socket_io_style_session_polls_over_https_and_upgrades_to_wss() {
    for version in BOTH {
        let mut b = WorldBuilder::new(7);
        let c = b.host("client", [10, 0, 0, 1].into());
        let s = b.host("server", SERVER);
        b.link(c, s, link());
        b.app(s, "sio-server", move || {
            SioServer::new(443, "/sio")
                .push_schedule(SimDuration::from_millis(500), 3)
                .tls(ServerTls::new(version, "server"))
        });
        let id = b.app(c, "sio-client", move || {
            SioClient::new(at(443), "server", "/sio", 3).tls(ClientTls::new(version, "server"))
        });
        let mut world = b.build().unwrap();
        world.run_until(SimTime::from_secs(3));
        let client = world.app::<SioClient>(id).unwrap();
        assert!(client.upgraded, "{version:?}");
        let ids: Vec<u64> = client.learned.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(ids, vec![1, 2, 3], "{version:?}");
        let trace = world.trace();
        assert!(!on_the_wire(trace, "transport=polling"));
        assert!(!on_the_wire(trace, "Upgrade: websocket"));
        assert_eq!(events(trace, "layer.failed").count(), 0);
        // Two connections, each with its own TLS session: two ClientHellos.
        let hellos = events(trace, "tls.record")
            .filter(|(_, e)| {
                e.summary.text().starts_with("TLS sent: ")
                    && e.summary.text().contains("ClientHello")
            })
            .count();
        assert_eq!(hellos, 2, "{version:?}");
    }
}

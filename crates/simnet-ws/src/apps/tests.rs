//! The applications talking to each other over a small simulated network,
//! checked through the applications' own records and the trace.

use super::*;
use simnet_core::{
    AppId, FieldValue, LinkParams, TcpState, Trace, TraceEvent, World, WorldBuilder,
};
use simnet_http::apps::HttpProxy;
use simnet_http::proto::ServerConfig;
use std::net::Ipv4Addr;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn link() -> LinkParams {
    LinkParams::with_latency(SimDuration::from_millis(10))
}

fn at(addr: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(addr, port)
}

/// The application events of `kind`, in order.
fn events<'a>(trace: &'a Trace, kind: &'a str) -> impl Iterator<Item = &'a AppEvent> + 'a {
    trace.records.iter().filter_map(move |r| match &r.event {
        TraceEvent::App { event, .. } if event.kind == kind => Some(&**event),
        _ => None,
    })
}

fn int(event: &AppEvent, field: &str) -> Option<i64> {
    match event.field(field) {
        Some(FieldValue::Int(i)) => Some(*i),
        _ => None,
    }
}

/// A client and a server on one link; returns the world and the client's id.
fn pair(
    server: impl Fn() -> WsServer + 'static,
    client: impl Fn() -> WsClient + 'static,
) -> (World, AppId) {
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", SERVER);
    b.link(c, s, link());
    b.app(s, "ws-server", server);
    let id = b.app(c, "ws-client", client);
    (b.build().expect("a valid world"), id)
}

#[test]
fn echo_round_trips_and_the_server_holds_time_wait() {
    let (mut world, client) = pair(
        || WsServer::new(80, ServerMode::Echo),
        || {
            WsClient::new(at(SERVER, 80), "server", "/chat")
                .send(vec!["hello".into(), "world".into()])
        },
    );
    world.run_until(SimTime::from_millis(500));
    let c = world.app::<WsClient>(client).expect("the client runs");
    assert_eq!(
        c.received,
        vec![Message::Text("hello".into()), Message::Text("world".into())]
    );
    let server = world.host_id("server").unwrap();
    let client_host = world.host_id("client").unwrap();
    assert_eq!(world.count_sockets(server, TcpState::TimeWait), 1);
    assert_eq!(world.count_sockets(client_host, TcpState::TimeWait), 0);
    // Every client frame is masked, with a different key each time; no
    // server frame is masked (RFC 6455 section 5.1). The keys are read from
    // the bytes on the wire, not from the applications' own reports.
    let client_frames = frames_on_the_wire(world.trace(), client_host);
    let server_frames = frames_on_the_wire(world.trace(), server);
    let sent_by = |host| {
        world
            .trace()
            .records
            .iter()
            .filter(|r| {
                matches!(&r.event, TraceEvent::App { host: h, event, .. }
                    if *h == host && event.kind == "ws.frame-sent")
            })
            .count()
    };
    // Two messages and a Close from the client; two echoes and a Close back.
    assert_eq!(client_frames.len(), 3);
    assert_eq!(client_frames.len(), sent_by(client_host));
    assert_eq!(server_frames.len(), sent_by(server));
    let keys: Vec<[u8; 4]> = client_frames
        .iter()
        .map(|h| h.mask.expect("a client frame is masked"))
        .collect();
    let distinct: std::collections::BTreeSet<[u8; 4]> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len(), "masking keys repeat: {keys:?}");
    assert!(server_frames.iter().all(|h| h.mask.is_none()));
}

/// The WebSocket frame headers `host` sent, decoded from its TCP payload
/// bytes after the HTTP upgrade (the link loses nothing, so each byte is
/// sent once and in order).
fn frames_on_the_wire(
    trace: &Trace,
    host: simnet_core::HostId,
) -> Vec<crate::proto::frame::FrameHeader> {
    use crate::proto::frame::{FrameHeader, Status};
    let mut stream = Vec::new();
    for r in trace.records.iter() {
        if let TraceEvent::PacketSent { from, bytes, .. } = &r.event
            && *from == host
            && let Some(info) = r.event.packet_info()
        {
            stream.extend_from_slice(info.payload(bytes));
        }
    }
    let start = stream
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP upgrade")
        + 4;
    let mut rest = &stream[start..];
    let mut headers = Vec::new();
    while !rest.is_empty() {
        let Ok(Status::Complete((h, n))) = FrameHeader::decode(rest) else {
            panic!("a whole frame header");
        };
        headers.push(h);
        rest = &rest[n + h.payload_len as usize..];
    }
    headers
}

#[test]
fn a_subprotocol_is_chosen_only_if_both_sides_know_it() {
    let (mut world, client) = pair(
        || WsServer::new(80, ServerMode::Echo).subprotocols(vec!["v12.stomp".into()]),
        || {
            WsClient::new(at(SERVER, 80), "server", "/")
                .subprotocols(vec!["mqtt".into(), "v12.stomp".into()])
                .close_after(CloseAfter::After(SimDuration::from_millis(100)))
        },
    );
    world.run_until(SimTime::from_millis(500));
    let c = world.app::<WsClient>(client).unwrap();
    assert_eq!(c.protocol.as_deref(), Some("v12.stomp"));
}

#[test]
fn an_oversized_message_is_refused_with_1009() {
    let (mut world, client) = pair(
        || WsServer::new(80, ServerMode::Echo).max_message_bytes(100),
        || WsClient::new(at(SERVER, 80), "server", "/").binary_message(101),
    );
    world.run_until(SimTime::from_secs(1));
    assert!(world.app::<WsClient>(client).unwrap().received.is_empty());
    let codes: Vec<i64> = events(world.trace(), "ws.close")
        .filter_map(|e| int(e, "code"))
        .collect();
    assert_eq!(codes, vec![1009]);
    let errors: Vec<i64> = events(world.trace(), "ws.error")
        .filter_map(|e| int(e, "code"))
        .collect();
    assert_eq!(errors, vec![1009]);
}

#[test]
fn a_plain_get_on_a_websocket_endpoint_gets_426() {
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", SERVER);
    b.link(c, s, link());
    b.app(s, "ws-server", || WsServer::new(80, ServerMode::Echo));
    b.app(c, "http-client", || {
        simnet_http::apps::HttpClient::new(at(SERVER, 80), "server", "/", 1)
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(1));
    let statuses: Vec<i64> = events(world.trace(), "http.response")
        .filter_map(|e| int(e, "status"))
        .collect();
    assert_eq!(statuses, vec![426]);
}

#[test]
fn pushes_reach_every_client_with_their_delay() {
    let mut b = WorldBuilder::new(7);
    let s = b.host("server", SERVER);
    b.app(s, "ws-server", || {
        WsServer::new(80, ServerMode::Broadcast).push_schedule(SimDuration::from_millis(300), 3)
    });
    let mut clients = Vec::new();
    for i in 0..2u8 {
        let h = b.host(&format!("c{i}"), [10, 0, 0, 10 + i].into());
        b.link(h, s, link());
        clients.push(b.app(h, "ws-client", || {
            WsClient::new(at(SERVER, 80), "server", "/").stop_after_events(3)
        }));
    }
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(2));
    for id in clients {
        let c = world.app::<WsClient>(id).unwrap();
        let delays: Vec<(u64, SimDuration)> = c.events.clone();
        assert_eq!(
            delays,
            (1..=3)
                .map(|id| (id, SimDuration::from_millis(10)))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn stomp_clients_chat_through_the_broker() {
    let mut b = WorldBuilder::new(7);
    let s = b.host("broker", SERVER);
    b.app(s, "stomp-broker", || WsServer::new(80, ServerMode::Stomp));
    let mut clients = Vec::new();
    for (i, line) in ["hi", "hello"].into_iter().enumerate() {
        let h = b.host(&format!("c{i}"), [10, 0, 0, 10 + i as u8].into());
        b.link(h, s, link());
        clients.push(b.app(h, "stomp-client", move || {
            StompClient::new(at(SERVER, 80), "broker", "/stomp", "/topic/chat")
                .send(
                    vec![line.to_string()],
                    SimDuration::from_millis(200 + 100 * i as u64),
                )
                .disconnect_after(SimDuration::from_secs(1))
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
}

#[test]
fn the_fallback_stays_on_polling_behind_a_proxy_that_strips_upgrade() {
    let mut b = WorldBuilder::new(7);
    let s = b.host("server", SERVER);
    let p = b.host("proxy", [10, 0, 0, 3].into());
    let behind = b.host("behind", [10, 0, 0, 11].into());
    let direct = b.host("direct", [10, 0, 0, 12].into());
    b.link(behind, p, link());
    b.link(p, s, link());
    b.link(direct, s, link());
    b.app(s, "sio-server", || {
        SioServer::new(80, "/sio").push_schedule(SimDuration::from_millis(500), 4)
    });
    b.app(p, "http-proxy", || {
        HttpProxy::new(80, at(SERVER, 80), ServerConfig::default()).strip_upgrade(true)
    });
    let behind_id = b.app(behind, "sio-client", || {
        SioClient::new(at([10, 0, 0, 3].into(), 80), "proxy", "/sio", 4)
    });
    let direct_id = b.app(direct, "sio-client", || {
        SioClient::new(at(SERVER, 80), "server", "/sio", 4)
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(5));

    let behind = world.app::<SioClient>(behind_id).unwrap();
    assert!(!behind.upgraded);
    let modes: Vec<&str> = behind.learned.iter().map(|(_, _, m)| *m).collect();
    assert_eq!(modes, vec!["long polling"; 4]);

    let direct = world.app::<SioClient>(direct_id).unwrap();
    assert!(direct.upgraded);
    let modes: Vec<&str> = direct.learned.iter().map(|(_, _, m)| *m).collect();
    assert_eq!(modes, vec!["websocket"; 4]);
}

/// The server flushes only the connections an event concerns: with 40
/// clients pinging every second, it flushes about once per ping (and per
/// ACK), not 40 times per event; and once the run is quiet, no connection
/// is left waiting to be flushed.
#[test]
fn a_server_flushes_only_the_connections_an_event_concerns() {
    const CLIENTS: usize = 40;
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", SERVER);
    b.link(c, s, link());
    let server = b.app(s, "ws-server", || WsServer::new(80, ServerMode::Echo));
    let clients: Vec<AppId> = (0..CLIENTS)
        .map(|_| {
            b.app(c, "ws-client", || {
                WsClient::new(at(SERVER, 80), "server", "/chat")
                    .ping_every(SimDuration::from_secs(1))
                    .close_after(CloseAfter::Never)
            })
        })
        .collect();
    let mut world = b.build().expect("a valid world");
    world.run_until(SimTime::from_millis(30_500));
    let pongs = events(world.trace(), "ws.pong").count();
    assert!(pongs >= CLIENTS * 10, "the pings are answered ({pongs})");
    for id in clients {
        assert!(world.app::<WsClient>(id).is_some(), "the client runs");
    }
    let (flushes, dirty) = world
        .app::<WsServer>(server)
        .expect("the server runs")
        .flush_counts();
    assert!(
        flushes < 4 * pongs as u64,
        "{flushes} flushes for {pongs} pings: the server visits connections no event concerns"
    );
    assert_eq!(dirty, 0, "nothing waits to be written");
}

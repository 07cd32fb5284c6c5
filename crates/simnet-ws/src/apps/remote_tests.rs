//! WebSocket clients that connect by name ([`Remote::named`]): the lookup
//! before the SYN, the cache for a second connection, a lost query sent
//! again, NXDOMAIN, and a Socket.IO-style client that gives up on a server
//! it cannot talk to instead of reconnecting forever.

use super::*;
use simnet_core::{
    App, AppId, FaultAction, LinkParams, PacketFilter, Protocol, TargetedFault, TcpFlags, Trace,
    TraceEvent, World, WorldBuilder,
};
use simnet_dns::apps::DnsServer;
use simnet_dns::proto::{DnsName, Zone, ZoneRecord};
use simnet_tls::TlsVersion;
use std::net::Ipv4Addr;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 53);

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

/// `name` on `port`, looked up through the DNS server.
fn named(name: &str, port: u16) -> Remote {
    let name = DnsName::parse(name).expect("a valid name");
    Remote::named(name, port, SocketAddrV4::new(DNS, 53))
}

/// The application events of `kind`, with their times.
fn events<'a>(trace: &'a Trace, kind: &'a str) -> Vec<(SimTime, &'a AppEvent)> {
    trace
        .records
        .iter()
        .filter_map(move |r| match &r.event {
            TraceEvent::App { event, .. } if event.kind == kind => Some((r.time, &**event)),
            _ => None,
        })
        .collect()
}

/// When each SYN (without ACK) left for the server.
fn syns(trace: &Trace) -> Vec<SimTime> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketSent { .. } => {
                let info = r.event.packet_info()?;
                let flags = info.tcp()?.flags.0;
                let syn = flags & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN;
                (syn && info.dst == SERVER).then_some(r.time)
            }
            _ => None,
        })
        .collect()
}

/// A client, a server (`server` on it) and a DNS server declaring
/// chat.example with a 300 s TTL; 10 ms to the server, 5 ms to the DNS
/// server. `lose_first_query` drops the first UDP packet to the DNS server.
fn world<S: App + 'static, C: App + 'static>(
    server: impl Fn() -> S + 'static,
    client: impl Fn() -> C + 'static,
    lose_first_query: bool,
) -> (World, AppId) {
    let mut b = WorldBuilder::new(11);
    let c = b.host("client", CLIENT);
    let s = b.host("chat", SERVER);
    let d = b.host("dns", DNS);
    b.link(c, s, LinkParams::with_latency(ms(10)));
    b.link(c, d, LinkParams::with_latency(ms(5)));
    b.app(s, "server", server);
    b.app(d, "dns-server", || {
        let mut zone = Zone::new(DnsName::parse("example").ok(), 5);
        zone.insert(
            DnsName::parse("chat.example").unwrap(),
            ZoneRecord {
                address: SERVER,
                ttl_secs: 300,
            },
        );
        DnsServer::new(zone, 53, SimDuration::ZERO)
    });
    if lose_first_query {
        b.fault(TargetedFault {
            filter: PacketFilter {
                to: Some(d),
                protocol: Some(Protocol::Udp),
                ..PacketFilter::default()
            },
            nth: 1,
            count: 1,
            action: FaultAction::Drop,
        });
    }
    let id = b.app(c, "client", client);
    (b.build().expect("a valid world"), id)
}

fn echo_server() -> WsServer {
    WsServer::new(443, ServerMode::Echo).tls(ServerTls::new(TlsVersion::Tls13, "chat.example"))
}

fn echo_client() -> WsClient {
    WsClient::new(named("chat.example", 443), "chat.example", "/")
        .send(vec!["hello".into()])
        .tls(ClientTls::new(TlsVersion::Tls13, "chat.example"))
}

#[test]
fn a_ws_client_by_name_looks_the_name_up_before_its_syn() {
    let (mut w, id) = world(echo_server, echo_client, false);
    w.run_until(SimTime::from_secs(2));
    // The query leaves at 0, the answer is back at 10 ms, the SYN leaves
    // then: not before.
    let queries = events(w.trace(), "dns.query");
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].0, SimTime::ZERO);
    assert_eq!(syns(w.trace()), vec![SimTime::from_millis(10)]);
    // DNS 10 ms, TCP 20 ms, TLS 1.3 20 ms, the upgrade 20 ms.
    let upgrades = events(w.trace(), "ws.upgrade");
    let client_upgrade = upgrades
        .iter()
        .find(|(_, e)| e.summary.text().contains("ok:"))
        .unwrap();
    assert_eq!(client_upgrade.0, SimTime::from_millis(70));
    let client = w.app::<WsClient>(id).unwrap();
    assert_eq!(client.received.len(), 1, "the echo came back");
}

#[test]
fn a_lost_query_is_sent_again_after_its_timeout_and_the_client_connects() {
    let (mut w, id) = world(echo_server, echo_client, true);
    w.run_until(SimTime::from_secs(5));
    let retries = events(w.trace(), "dns.retry");
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].0, SimTime::from_secs(1), "after the 1 s timeout");
    // The second send's answer is back 10 ms later; then the SYN.
    assert_eq!(syns(w.trace()), vec![SimTime::from_millis(1010)]);
    assert_eq!(w.app::<WsClient>(id).unwrap().received.len(), 1);
}

#[test]
fn a_name_the_zone_lacks_is_reported_and_no_syn_leaves() {
    let (mut w, id) = world(
        || WsServer::new(80, ServerMode::Echo),
        || {
            StompClient::new(
                named("caht.example", 80),
                "caht.example",
                "/stomp",
                "/topic/chat",
            )
        },
        false,
    );
    w.run_until(SimTime::from_secs(2));
    let failed = events(w.trace(), "ws.connect-failed");
    assert_eq!(failed.len(), 1);
    let (at, event) = failed[0];
    assert_eq!(at, SimTime::from_millis(10));
    assert_eq!(
        event.field("lookup"),
        Some(&simnet_core::FieldValue::Text("nxdomain".into()))
    );
    assert!(
        event.summary.text().contains("caht.example:80"),
        "{}",
        event.summary
    );
    assert!(syns(w.trace()).is_empty());
    assert!(w.app::<StompClient>(id).unwrap().received.is_empty());
}

#[test]
fn sio_finds_the_name_cached_and_resumes_tls_on_its_upgrade_connection() {
    let (mut w, id) = world(
        || {
            SioServer::new(443, "/sio")
                .push_schedule(ms(200), 2)
                .tls(ServerTls::new(TlsVersion::Tls12, "chat.example"))
        },
        || {
            SioClient::new(named("chat.example", 443), "chat.example", "/sio", 2)
                .tls(ClientTls::new(TlsVersion::Tls12, "chat.example"))
        },
        false,
    );
    w.run_until(SimTime::from_secs(2));
    // Two connections, one query: the second found the name in the cache.
    assert_eq!(syns(w.trace()).len(), 2);
    assert_eq!(events(w.trace(), "dns.query").len(), 1);
    let answers = events(w.trace(), "dns.answer");
    let cached: Vec<bool> = answers
        .iter()
        .map(|(_, e)| e.field("cached") == Some(&simnet_core::FieldValue::Bool(true)))
        .collect();
    assert_eq!(cached, vec![false, true]);
    // The client's handshakes: full (two round trips), then resumed (one).
    let resumed: Vec<(bool, i64)> = events(w.trace(), "tls.handshake")
        .iter()
        .filter(|(_, e)| e.socket.is_some() && e.summary.text().contains("TLS 1.2"))
        .filter_map(|(_, e)| {
            let resumed = e.field("resumed")? == &simnet_core::FieldValue::Bool(true);
            match e.field("round_trips")? {
                simnet_core::FieldValue::Int(n) => Some((resumed, *n)),
                _ => None,
            }
        })
        .collect();
    assert!(resumed.contains(&(false, 2)), "{resumed:?}");
    assert!(resumed.contains(&(true, 1)), "{resumed:?}");
    let client = w.app::<SioClient>(id).unwrap();
    assert!(client.upgraded);
    assert_eq!(client.learned.len(), 2);
}

#[test]
fn sio_gives_up_on_a_server_whose_connections_close_before_any_answer() {
    // The server's certificate is for another name: every polling
    // connection fails in its TLS handshake. The client retries after
    // 1 s and 2 s, then gives up, rather than reconnecting as fast as
    // the failures come.
    let (mut w, id) = world(
        || SioServer::new(443, "/sio").tls(ServerTls::new(TlsVersion::Tls13, "other.example")),
        || {
            SioClient::new(named("chat.example", 443), "chat.example", "/sio", 1)
                .tls(ClientTls::new(TlsVersion::Tls13, "chat.example"))
        },
        false,
    );
    w.run_until(SimTime::from_secs(60));
    let syns = syns(w.trace());
    assert_eq!(
        syns,
        vec![
            SimTime::from_millis(10),
            SimTime::from_millis(1050),
            SimTime::from_millis(3090),
        ]
    );
    let gave_up: Vec<_> = events(w.trace(), "sio.error")
        .into_iter()
        .filter(|(_, e)| e.summary.text().starts_with("giving up"))
        .collect();
    assert_eq!(gave_up.len(), 1);
    assert!(w.app::<SioClient>(id).unwrap().learned.is_empty());
    // One lookup, then the cache for the retries.
    assert_eq!(events(w.trace(), "dns.query").len(), 1);
}

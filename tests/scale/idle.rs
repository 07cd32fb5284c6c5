//! Idle connections cost nothing between their timers.
//!
//! The loop jumps from event to event, and each socket hands the scheduler
//! only its own next deadline, so an idle hour is a handful of events per
//! connection: its keepalive probes and their ACKs. Counting events (not
//! wall-clock time) makes this a behaviour a test can check exactly.

use simnet::apps::{IdleConnections, Reply, ServerClose, TcpClient, TcpEcho, TcpServer};
use simnet::{
    EndReason, HostConfig, LinkParams, SimDuration, SimTime, TcpConfig, TcpState, TraceEvent,
    WorldBuilder,
};
use std::net::SocketAddrV4;

#[test]
fn an_idle_hour_costs_only_the_keepalive_probes() {
    // The figure: an hour, 1,000 connections, keepalive every 75 s.
    const CONNECTIONS: usize = 1000;
    const KEEPALIVE_S: u64 = 75;
    const HOUR_S: u64 = 3600;
    let config = HostConfig {
        tcp: TcpConfig {
            keep_alive: Some(SimDuration::from_secs(KEEPALIVE_S)),
            // Nothing is sent but probes; small buffers keep 2,000 sockets light.
            ..TcpConfig::with_buffers(1024)
        },
        backlog: CONNECTIONS,
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let c = b.host_with("client", [10, 0, 0, 1].into(), config.clone());
    let s = b.host_with("server", [10, 0, 0, 2].into(), config);
    b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(1)));
    b.app(s, "server", || {
        TcpServer::new(80, Reply::Nothing, ServerClose::Never)
    });
    b.app(c, "idle", || {
        IdleConnections::new(SocketAddrV4::new([10, 0, 0, 2].into(), 80), CONNECTIONS)
    });
    let mut world = b.build().unwrap();
    let end = world.run_until(SimTime::from_secs(HOUR_S));
    assert_eq!(end, EndReason::Until(SimTime::from_secs(HOUR_S)));

    // Every connection is still up on both sides.
    assert_eq!(world.count_sockets(c, TcpState::Established), CONNECTIONS);
    let server_established = world.count_sockets(s, TcpState::Established);
    assert_eq!(server_established, CONNECTIONS);

    // Each side probes every 75 s on every connection (a probe that draws
    // an ACK does not rewind the prober's peer's timer in smoltcp: the probe
    // sits outside the window and only earns a challenge ACK).
    let packets = world
        .trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .count() as u64;
    let probes_per_side = (HOUR_S / KEEPALIVE_S) * CONNECTIONS as u64;
    assert!(
        packets >= 2 * probes_per_side && packets <= 4 * probes_per_side + 10 * CONNECTIONS as u64,
        "{packets} packets for {probes_per_side} probes per side"
    );

    // Events: each packet costs at most two (its arrival, and the poll of
    // the socket that sent it or answers it), plus a few per connection
    // for the handshake. What must not appear is anything proportional to
    // the idle time itself: polls of sockets with nothing due. An hour at
    // a 1 ms tick would be 3.6 million events per connection.
    let events = world.events_processed();
    let handshake_events = 20 * CONNECTIONS as u64;
    assert!(
        events <= 2 * packets + handshake_events,
        "{events} events for {packets} packets"
    );
}

/// What a busy connection costs beside `extra` idle sockets on the server
/// (`extra / 2` established connections and, through the backlog their
/// accepts re-arm, `extra / 2` listening sockets): the events the loop
/// processes and the packets sent while a client makes 20 short
/// connections, one after another, once the idle ones are up, and how many
/// of them completed.
fn busy_beside_idle(extra: usize) -> (u64, usize, u64) {
    let half = extra / 2;
    // Small buffers: 10,000 sockets at the default 128 KiB would take 1.3 GB.
    let config = HostConfig {
        tcp: TcpConfig::with_buffers(1024),
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let c = b.host_with("client", [10, 0, 0, 1].into(), config.clone());
    let s = b.host_with("server", [10, 0, 0, 2].into(), config);
    b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(1)));
    b.app(s, "echo", || TcpEcho::new(80));
    b.app(s, "idle-server", move || {
        TcpServer::new(82, Reply::Nothing, ServerClose::Never).with_backlog(half)
    });
    b.app(c, "idle", move || {
        IdleConnections::new(SocketAddrV4::new([10, 0, 0, 2].into(), 82), half)
    });
    let busy_from = SimTime::from_secs(10);
    let busy = b.app_at(c, "busy", busy_from, || {
        TcpClient::new(SocketAddrV4::new([10, 0, 0, 2].into(), 80), &[7; 100], 100).connections(20)
    });
    let mut world = b.build().unwrap();
    world.run_until(busy_from);
    assert_eq!(world.count_sockets(s, TcpState::Established), half);
    assert!(world.count_sockets(s, TcpState::Listen) >= half);
    let (events, records) = (world.events_processed(), world.trace().records.len());
    assert_eq!(world.run(), EndReason::Idle);
    let packets_sent = world
        .trace()
        .records
        .iter()
        .skip(records)
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .count();
    let completed = world.app::<TcpClient>(busy).unwrap().completed;
    (world.events_processed() - events, packets_sent, completed)
}

/// Idle sockets add no work to a busy connection beside them: with 10 or
/// with 10,000 extra idle sockets on the server, the same short connections
/// take exactly the same events and packets. Each event polls one socket
/// (see ARCHITECTURE.md, "Hosts and smoltcp"), so the cost per packet stays
/// flat; `benches/scale.rs` (`idle_sockets`) times it.
#[test]
fn idle_sockets_add_no_events_to_a_busy_connection() {
    let few = busy_beside_idle(10);
    assert_eq!(few.2, 20, "{few:?}: every short connection completed");
    assert!(
        few.1 >= 20 * 7,
        "{few:?}: at least 7 packets per connection"
    );
    assert_eq!(busy_beside_idle(10_000), few);
}

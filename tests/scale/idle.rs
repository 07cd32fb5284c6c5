//! Idle connections cost nothing between their timers.
//!
//! The loop jumps from event to event, and each socket hands the scheduler
//! only its own next deadline, so an idle hour is a handful of events per
//! connection: its keepalive probes and their ACKs. Counting events (not
//! wall-clock time) makes this a behaviour a test can check exactly.

use simnet::apps::{IdleConnections, Reply, ServerClose, TcpServer};
use simnet::{
    EndReason, HostConfig, LinkParams, SimDuration, SimTime, TcpConfig, TcpState, TraceEvent,
    WorldBuilder,
};
use std::net::SocketAddrV4;

#[test]
fn an_idle_hour_costs_only_the_keepalive_probes() {
    const CONNECTIONS: usize = 200;
    const KEEPALIVE_S: u64 = 75;
    const HOUR_S: u64 = 3600;
    let config = HostConfig {
        tcp: TcpConfig {
            keep_alive: Some(SimDuration::from_secs(KEEPALIVE_S)),
            ..TcpConfig::default()
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

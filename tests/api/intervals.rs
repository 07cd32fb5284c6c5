//! Zero intervals given through the Rust API are raised to one microsecond
//! (`SimDuration::MIN_INTERVAL`): time moves, and a run ends at its time
//! limit instead of spinning at one instant until its event limit.

use simnet::apps::{BulkSender, IdleConnections, Reply, ServerClose, Sink, TcpServer};
use simnet::host::{HostConfig, TcpConfig};
use simnet::{EndReason, LinkParams, RunLimits, SimDuration, SimTime, WorldBuilder};
use std::net::SocketAddrV4;

/// A run that would spin at one instant hits this long before its end.
const EVENT_LIMIT: u64 = 200_000;

fn limited(b: &mut WorldBuilder) {
    b.limits(RunLimits {
        max_time: SimTime::from_secs(1),
        max_events: EVENT_LIMIT,
        ..RunLimits::default()
    });
}

#[test]
fn a_zero_keepalive_probes_once_a_microsecond_not_without_end() {
    let config = HostConfig {
        tcp: TcpConfig {
            keep_alive: Some(SimDuration::ZERO),
            ..TcpConfig::with_buffers(1024)
        },
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    limited(&mut b);
    let c = b.host_with("client", [10, 0, 0, 1].into(), config.clone());
    let s = b.host_with("server", [10, 0, 0, 2].into(), config);
    b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(1)));
    b.app(s, "server", || {
        TcpServer::new(80, Reply::Nothing, ServerClose::Never)
    });
    b.app(c, "idle", || {
        IdleConnections::new(SocketAddrV4::new([10, 0, 0, 2].into(), 80), 1)
    });
    let mut w = b.build().unwrap();
    let until = SimTime::from_millis(5);
    assert_eq!(w.run_until(until), EndReason::Until(until));
}

#[test]
fn a_slow_reader_with_a_zero_interval_reads_once_a_microsecond() {
    let mut b = WorldBuilder::new(1);
    limited(&mut b);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", [10, 0, 0, 2].into());
    b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(1)));
    b.app(s, "sink", || Sink::slow(80, 100, SimDuration::ZERO));
    b.app(c, "bulk", || {
        BulkSender::new(SocketAddrV4::new([10, 0, 0, 2].into(), 80), 1 << 20)
    });
    let mut w = b.build().unwrap();
    let until = SimTime::from_millis(20);
    assert_eq!(w.run_until(until), EndReason::Until(until));
}

//! Worlds and trace readers the tests share.
#![allow(dead_code)]

use simnet_core::trace::{Trace, TraceEvent};
use simnet_core::{HostId, LinkParams, SimDuration, SimTime, TcpState, WorldBuilder};

/// A builder with a client (10.0.0.1) and a server (10.0.0.2) joined by a
/// 10 ms link.
pub fn two_hosts(seed: u64) -> (WorldBuilder, HostId, HostId) {
    let mut b = WorldBuilder::new(seed);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    (b, client, server)
}

/// Every application event: (time, kind, summary).
pub fn app_events(trace: &Trace) -> Vec<(SimTime, String, String)> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::App { event, .. } => {
                Some((r.time, event.kind.to_string(), event.summary.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The times of the application events of one kind.
pub fn times_of(trace: &Trace, kind: &str) -> Vec<SimTime> {
    app_events(trace)
        .into_iter()
        .filter(|(_, k, _)| k == kind)
        .map(|(t, _, _)| t)
        .collect()
}

/// Every TCP state change on `host`: (time, from, to, reset?).
pub fn tcp_states(trace: &Trace, host: HostId) -> Vec<(SimTime, TcpState, TcpState, bool)> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::TcpState {
                host: h,
                from,
                to,
                reason,
                ..
            } if *h == host => Some((r.time, *from, *to, reason.is_some())),
            _ => None,
        })
        .collect()
}

/// How many SYNs without ACK `host` sent.
pub fn syns_from(trace: &Trace, host: HostId) -> usize {
    trace
        .records
        .iter()
        .filter(|r| match &r.event {
            TraceEvent::PacketSent { from, .. } if *from == host => r
                .event
                .packet_info()
                .and_then(|p| p.tcp().map(|t| t.flags))
                .is_some_and(|f| f.syn() && !f.ack()),
            _ => false,
        })
        .count()
}

/// Milliseconds as a time.
pub fn ms(n: u64) -> SimTime {
    SimTime::from_millis(n)
}

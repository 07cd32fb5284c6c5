//! Integration tests through the Rust API: the behaviours of the concept map
//! that the core must reproduce, each snapshot-tested and asserted.

mod close;
mod conveniences;
mod determinism;
mod guard;
mod handshake;
mod intervals;
mod layer;
mod payloads;
mod ports;
mod raw;
mod routing;
mod series;
mod transfer;

use simnet::{
    HostId, LinkParams, SimDuration, TcpState, TextOptions, Trace, World, WorldBuilder, render_text,
};

// ANCHOR: pair
/// Two hosts, `client` (10.0.0.1) and `server` (10.0.0.2), one link.
pub fn pair(seed: u64, params: LinkParams) -> (WorldBuilder, HostId, HostId) {
    let mut b = WorldBuilder::new(seed);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(client, server, params);
    (b, client, server)
}

/// A 10 ms link.
pub fn ten_ms() -> LinkParams {
    LinkParams::with_latency(SimDuration::from_millis(10))
}
// ANCHOR_END: pair

// ANCHOR: text
/// The text trace.
pub fn text(world: &World) -> String {
    render_text(world.trace(), &TextOptions::default())
}
// ANCHOR_END: text

/// The state transitions of `host`'s connection sockets (listening sockets
/// being armed are left out), in order.
pub fn transitions(trace: &Trace, host: HostId) -> Vec<(TcpState, TcpState)> {
    trace
        .tcp_states(host)
        .filter(|(_, _, from, to)| !(*from == TcpState::Closed && *to == TcpState::Listen))
        .map(|(_, _, from, to)| (from, to))
        .collect()
}

/// The states one socket of `host` went through, starting from its first.
pub fn path(trace: &Trace, host: HostId) -> Vec<TcpState> {
    let t = transitions(trace, host);
    let mut out = Vec::new();
    if let Some((first, _)) = t.first() {
        out.push(*first);
    }
    out.extend(t.iter().map(|(_, to)| *to));
    out
}

//! What a router hop costs (issue 21's target): forwarding a packet through
//! a router must cost at most 2× a host-to-host hop.
//!
//! The same bulk transfer (100 MiB over 1 ms links, 256 KiB buffers, every
//! packet traced with its headers, as `simnet run` does for every format
//! but pcap and Mermaid) runs three ways, side by side in one run:
//!
//! - `direct`: client and server joined by one link, the engine's bulk
//!   world. Its wall time per packet is the cost of one host-to-host hop,
//!   everything included: the sender's smoltcp, the link, the event queue,
//!   the receiver's smoltcp, the trace.
//! - `one_router`: the same two hosts, each on a link to one router.
//! - `three_routers`: three routers in a row between them.
//!
//! A router's cost per packet per hop is the difference to `direct`,
//! divided by the packets and the routers: `(t_routed - t_direct) /
//! (packets × routers)`. The target compares it with the direct per-packet
//! cost. Prints the median of alternating runs of each, the packets and
//! the ratios. `SIMNET_BENCH_QUICK=1` (or `--test`, as `cargo test
//! --benches` runs it) moves 4 MiB, once each.

#![allow(missing_docs, reason = "a bench binary exports nothing")]
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a bench may read the wall clock; the simulation never does"
)]

mod common;

use common::quick_mode;
use simnet::apps::{BulkSender, Sink};
use simnet::{
    Capture, EndReason, HostConfig, LinkParams, SimDuration, TcpConfig, TraceEvent, World,
    WorldBuilder,
};
use std::time::Instant;

/// A bulk transfer of `bytes` from client to server through `routers`
/// routers in a row (none: one direct link).
fn world(bytes: u64, routers: usize) -> World {
    let config = HostConfig {
        tcp: TcpConfig::with_buffers(256 * 1024),
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let client = b.host_with("client", [10, 1, 0, 1].into(), config.clone());
    let server = b.host_with("server", [10, 2, 0, 1].into(), config);
    let link = LinkParams::with_latency(SimDuration::from_millis(1));
    let path: Vec<_> = (0..routers)
        .map(|i| b.router(&format!("r{i}"), [10, 0, 0, i as u8 + 1].into()))
        .collect();
    let mut prev = client;
    for &r in &path {
        b.link(prev, r, link.clone());
        prev = r;
    }
    b.link(prev, server, link);
    if let (Some(&first), Some(&last)) = (path.first(), path.last()) {
        b.gateway(client, first).gateway(server, last);
        for (i, &r) in path.iter().enumerate() {
            let towards_server = path.get(i + 1).copied().unwrap_or(server);
            let towards_client = if i == 0 { client } else { path[i - 1] };
            b.route(r, "10.2.0.0/16".parse().unwrap(), towards_server);
            b.route(r, "10.1.0.0/16".parse().unwrap(), towards_client);
        }
    }
    let to = b.addr(server, 9000);
    b.app(server, "sink", || Sink::new(9000));
    b.app(client, "bulk", move || BulkSender::new(to, bytes));
    let mut world = b.build().expect("a valid world");
    world.set_capture(Capture::Headers);
    world
}

/// Runs a world to the end; returns the wall time in seconds and the
/// packets sent.
fn run(bytes: u64, routers: usize) -> (f64, u64) {
    let mut w = world(bytes, routers);
    let start = Instant::now();
    let end = w.run();
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(end, EndReason::Idle, "the transfer must finish");
    let packets = w
        .trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .count() as u64;
    let forwarded = w
        .trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::FrameForwarded { .. }))
        .count() as u64;
    assert_eq!(
        forwarded,
        packets * routers as u64,
        "every packet crosses every router"
    );
    (wall, packets)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (bytes, runs) = if quick_mode() {
        (4 << 20, 1)
    } else {
        (100 << 20, 5)
    };
    println!(
        "routing: {} MiB bulk, 1 ms links, headers traced; median of {runs} alternating run(s) \
         after a warm-up",
        bytes >> 20
    );
    let variants = [("direct", 0), ("one_router", 1), ("three_routers", 3)];
    for (_, routers) in variants {
        run(bytes, routers);
    }
    let mut walls = vec![Vec::new(); variants.len()];
    let mut packets = vec![0; variants.len()];
    for _ in 0..runs {
        for (i, (_, routers)) in variants.iter().enumerate() {
            let (wall, n) = run(bytes, *routers);
            walls[i].push(wall);
            packets[i] = n;
        }
    }
    let medians: Vec<f64> = walls.into_iter().map(median).collect();
    let direct_per_packet = medians[0] / packets[0] as f64;
    println!(
        "  direct         {:>8.1} ms  {:>8} packets  {:>6.3} µs per packet (a host-to-host hop)",
        medians[0] * 1e3,
        packets[0],
        direct_per_packet * 1e6
    );
    for (i, (name, routers)) in variants.iter().enumerate().skip(1) {
        let per_hop = (medians[i] - medians[0]) / (packets[i] as f64 * *routers as f64);
        println!(
            "  {name:<14} {:>8.1} ms  {:>8} packets  {:>6.3} µs per packet per router: \
             {:.2}× a host-to-host hop (target ≤ 2×)",
            medians[i] * 1e3,
            packets[i],
            per_hop * 1e6,
            per_hop / direct_per_packet
        );
    }
}

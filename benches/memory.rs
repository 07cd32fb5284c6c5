//! Memory per idle established connection, counted by a global allocator.
//!
//! A world whose client opens N connections to a server and then leaves
//! them idle is run to 1 s of simulated time (every handshake done), both
//! with N connections and with none (same listen backlog, so the same
//! listening sockets). The difference in live heap bytes, divided by N, is
//! what one established connection costs: a socket on each end, with its
//! smoltcp buffers, and the host's and the applications' bookkeeping. The
//! trace is counted separately (it grows with what happens, not with what
//! is held). Live bytes are sampled after every event for the peak.
//!
//! These heap figures are taken with socket recycling off
//! (`HostConfig::recycle_sockets`), so that every socket owns its buffers
//! and the allocator sees them: with it on (the default), buffers are
//! pieces of lazily-zeroed chunks kept by a process-wide pool for the
//! process's life, which a per-world heap count cannot attribute. What an
//! idle connection costs in resident memory with the defaults is the first
//! table: each size runs in a process of its own, which reads its VmRSS
//! (Linux) before building the world and once every connection is
//! established, with the trace streamed away.
//!
//! This is its own bench binary because the counting allocator would slow
//! every timed bench. `cargo bench --bench memory` prints a table;
//! `cargo test --benches` runs it with small sizes.

#![allow(missing_docs, reason = "a bench binary exports nothing")]

mod common;

use simnet::apps::{IdleConnections, Reply, ServerClose, Sink, TcpServer};
use simnet::{
    Capture, HostConfig, LinkParams, SimDuration, SimTime, TcpConfig, TcpState, WorldBuilder,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;
use std::net::SocketAddrV4;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes allocated and not yet freed, process-wide.
fn live_bytes() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64 + s.bytes_reallocated as i64
}

/// Live bytes of one world, measured from before it is built.
struct Measured {
    /// With the trace dropped.
    held: i64,
    /// The trace alone.
    trace: i64,
    /// Highest live bytes at any event (trace included).
    peak: i64,
}

fn measure(connections: usize, backlog: usize, buffer_bytes: usize) -> Measured {
    let base = live_bytes();
    let config = HostConfig {
        tcp: TcpConfig::with_buffers(buffer_bytes),
        backlog,
        recycle_sockets: false,
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let c = b.host_with("client", [10, 0, 0, 1].into(), config.clone());
    let s = b.host_with("server", [10, 0, 0, 2].into(), config);
    b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(1)));
    b.app(s, "server", || {
        TcpServer::new(80, Reply::Nothing, ServerClose::Never)
    });
    b.app(c, "idle", move || {
        IdleConnections::new(SocketAddrV4::new([10, 0, 0, 2].into(), 80), connections)
    });
    let mut world = b.build().expect("a valid world");
    let mut peak = 0;
    while world.next_event_in().is_some() && world.now() < SimTime::from_secs(1) {
        world.step();
        peak = peak.max(live_bytes() - base);
    }
    assert_eq!(world.count_sockets(c, TcpState::Established), connections);
    assert_eq!(world.count_sockets(s, TcpState::Established), connections);
    let with_trace = live_bytes() - base;
    drop(world.take_trace());
    let held = live_bytes() - base;
    drop(world);
    Measured {
        held,
        trace: with_trace - held,
        peak,
    }
}

/// Set in a child process of this bench: measure resident memory with this
/// many idle connections and print it (see [`resident_per_end`]).
const RSS_CHILD: &str = "SIMNET_MEMORY_RSS_CHILD";

fn main() {
    if let Ok(n) = std::env::var(RSS_CHILD) {
        let n: usize = n.parse().expect("a connection count");
        println!("{}", resident_world(n));
        return;
    }
    let quick = common::quick_mode();
    resident_table(quick);
    let n: usize = if quick { 100 } else { 1_000 };
    println!(
        "heap per idle established connection ({n} connections, both ends, socket recycling off)"
    );
    println!(
        "| rx+tx buffer per socket | per connection | per socket | trace per connection | peak per connection |"
    );
    println!("|---|---|---|---|---|");
    for buffer in [64 * 1024, 4 * 1024] {
        let empty = measure(0, n, buffer);
        let full = measure(n, n, buffer);
        let per_conn = (full.held - empty.held) as f64 / n as f64;
        let trace = (full.trace - empty.trace) as f64 / n as f64;
        let peak = (full.peak - empty.peak) as f64 / n as f64;
        println!(
            "| {} + {} KiB | {:.0} B ({:.1} KiB) | {:.0} B ({:.1} KiB) | {:.0} B | {:.0} B ({:.1} KiB) |",
            buffer / 1024,
            buffer / 1024,
            per_conn,
            per_conn / 1024.0,
            per_conn / 2.0,
            per_conn / 2048.0,
            trace,
            peak,
            peak / 1024.0,
        );
        // The buffers dominate: anything else is a small fraction of them.
        let buffers = (4 * buffer) as f64;
        assert!(
            per_conn >= buffers,
            "{per_conn} B < the buffers' {buffers} B"
        );
    }

    let mib: u64 = if quick { 1 } else { 100 };
    println!();
    println!("trace of a {mib} MiB bulk transfer, by capture");
    println!("| capture | trace | per MiB sent |");
    println!("|---|---|---|");
    let mut sizes = Vec::new();
    for capture in [Capture::Full, Capture::Headers] {
        let bytes = bulk_trace_bytes(mib << 20, capture);
        sizes.push(bytes);
        println!(
            "| {capture:?} | {:.1} MiB | {:.0} KiB |",
            bytes as f64 / (1 << 20) as f64,
            bytes as f64 / 1024.0 / mib as f64
        );
    }
    // Leaving the payloads out must leave out at least every byte sent.
    assert!(
        sizes[0] - sizes[1] >= (mib << 20) as i64,
        "headers {} B, full {} B",
        sizes[1],
        sizes[0]
    );
}

/// Live heap bytes of the trace of a `bytes`-long transfer (the world of
/// `benches/engine.rs`'s bulk group).
fn bulk_trace_bytes(bytes: u64, capture: Capture) -> i64 {
    let (mut world, sink) = common::engine_bulk_world(bytes, capture);
    world.run();
    assert_eq!(
        world.app::<Sink>(sink).map(|s| s.bytes_received),
        Some(bytes)
    );
    let before = live_bytes();
    drop(world.take_trace());
    before - live_bytes()
}

/// Resident memory (VmRSS) of this process, in bytes, if the system says.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Discards every record: the resident figures leave the trace out.
struct Discard;

impl simnet::TraceSink for Discard {
    fn record(&mut self, _: &simnet::Topology, _: &simnet::TraceRecord) {}
}

/// In a fresh process: how much resident memory a world with `connections`
/// idle established connections (default buffers, default host
/// configuration, the trace streamed away) added, in bytes, or -1 if the
/// system does not say.
fn resident_world(connections: usize) -> i64 {
    let Some(before) = resident_bytes() else {
        return -1;
    };
    let config = HostConfig {
        backlog: connections.max(1),
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let c = b.host_with("client", [10, 0, 0, 1].into(), config.clone());
    let s = b.host_with("server", [10, 0, 0, 2].into(), config);
    b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(1)));
    b.app(s, "server", || {
        TcpServer::new(80, Reply::Nothing, ServerClose::Never)
    });
    b.app(c, "idle", move || {
        IdleConnections::new(SocketAddrV4::new([10, 0, 0, 2].into(), 80), connections)
    });
    let mut world = b.build().expect("a valid world");
    world.stream_to(Box::new(Discard));
    while world.next_event_in().is_some() && world.now() < SimTime::from_secs(1) {
        world.step();
    }
    assert_eq!(world.count_sockets(c, TcpState::Established), connections);
    assert_eq!(world.count_sockets(s, TcpState::Established), connections);
    let after = resident_bytes().unwrap_or(before);
    drop(world);
    after - before
}

/// Resident memory per idle established connection end, each size measured
/// in a process of its own (memory a world frees stays resident in the
/// allocator, so worlds measured one after another would hide each other).
fn resident_table(quick: bool) {
    let sizes: &[usize] = if quick { &[100] } else { &[1_000, 10_000] };
    let exe = std::env::current_exe().expect("this bench's path");
    let run = |n: usize| -> i64 {
        let out = std::process::Command::new(&exe)
            .env(RSS_CHILD, n.to_string())
            .output()
            .expect("the bench runs itself");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a byte count")
    };
    let empty = run(0);
    if empty < 0 {
        println!("resident memory: /proc/self/status has no VmRSS here, skipped");
        println!();
        return;
    }
    println!(
        "resident memory per idle established connection end (default 64 + 64 KiB buffers, trace streamed away)"
    );
    println!("| connections | world's resident memory | per connection end |");
    println!("|---|---|---|");
    for &n in sizes {
        let full = run(n);
        let per_end = (full - empty) as f64 / (2 * n) as f64;
        println!(
            "| {n} | {:.1} MiB | {:.0} B ({:.1} KiB) |",
            full as f64 / (1 << 20) as f64,
            per_end,
            per_end / 1024.0
        );
        // Issue 17's target: buffers carved from lazily-zeroed chunks cost
        // nothing until written, so an idle end is its bookkeeping only.
        assert!(per_end <= 16.0 * 1024.0, "{per_end} B per idle end");
    }
    println!();
}

//! What the benches share: the workload constants, the engine's
//! short-connection world, the raw two-interface smoltcp loop every engine
//! figure is compared with, and criterion helpers (the filter check and the
//! untimed check run printed before each bench).
//!
//! Each bench binary includes this module with `mod common;` and uses only
//! part of it.

#![allow(dead_code, reason = "each bench binary uses only part of this module")]

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use simnet::apps::{BulkSender, Reply, ServerClose, Sink, TcpClient, TcpServer};
use simnet::{
    AppId, Capture, EndReason, HostConfig, LinkParams, SimDuration, TcpConfig, TraceEvent, World,
    WorldBuilder,
};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Whether to run the small sizes: criterion only tests that the benches
/// run (it does so when given `--test`, or when started without `--bench`,
/// as `cargo test --benches` does), or `SIMNET_BENCH_QUICK` is set.
pub fn quick_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let test_mode = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    let quick_env = std::env::var("SIMNET_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    test_mode || quick_env
}

/// One-way latency of the link in every bench.
pub const LATENCY_MS: u64 = 1;
/// Receive and send buffer of each bulk socket, in both variants. The link
/// has no bandwidth limit, so this window (a common socket buffer size) is
/// all that bounds how much is in flight per round trip.
pub const BULK_BUFFER_BYTES: usize = 256 * 1024;
/// Bytes each short connection sends up, and the reply it gets back.
pub const SHORT_MESSAGE_BYTES: usize = 100;
/// The server's port.
pub const PORT: u16 = 80;
pub const CLIENT_ADDR: [u8; 4] = [10, 0, 0, 1];
pub const SERVER_ADDR: [u8; 4] = [10, 0, 0, 2];

pub fn server_socket_addr() -> std::net::SocketAddrV4 {
    std::net::SocketAddrV4::new(SERVER_ADDR.into(), PORT)
}

pub fn link() -> LinkParams {
    LinkParams::with_latency(SimDuration::from_millis(LATENCY_MS))
}

/// Packets the engine sent, counted from its trace.
pub fn engine_packets(world: &World) -> u64 {
    world
        .trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .count() as u64
}

/// What one run did, for the summary line printed before each bench.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    pub packets: u64,
    /// Simulated time at the end of the run, in microseconds.
    pub simulated_us: u64,
    /// Most sockets one side held at once (raw loops only).
    pub peak_sockets: usize,
}

pub fn engine_short_world(connections: u64) -> (World, AppId, AppId) {
    engine_short_world_with(connections, TcpConfig::default().rx_buffer_bytes)
}

/// The bulk world: `BulkSender` sends `bytes` to a `Sink` over the bench
/// link, both hosts with the engine's TCP defaults (CUBIC, Nagle on, 10 ms
/// delayed ACK) and the bulk buffers (`raw::socket` mirrors these settings),
/// the trace keeping `capture` of each packet. Returns the sink's id.
pub fn engine_bulk_world(bytes: u64, capture: Capture) -> (World, AppId) {
    let config = HostConfig {
        tcp: TcpConfig::with_buffers(BULK_BUFFER_BYTES),
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let client = b.host_with("client", CLIENT_ADDR.into(), config.clone());
    let server = b.host_with("server", SERVER_ADDR.into(), config);
    b.link(client, server, link());
    let sink = b.app(server, "sink", || Sink::new(PORT));
    b.app(client, "bulk", move || {
        BulkSender::new(server_socket_addr(), bytes)
    });
    let mut world = b.build().expect("a valid world");
    world.set_capture(capture);
    (world, sink)
}

/// The short-connection world with `buffer_bytes` receive and send buffers
/// on every socket of both hosts.
pub fn engine_short_world_with(connections: u64, buffer_bytes: usize) -> (World, AppId, AppId) {
    let mut b = WorldBuilder::new(1);
    let tcp = TcpConfig::with_buffers(buffer_bytes);
    // Every client socket holds its port through TIME-WAIT (10 s), so the
    // range must outlast all the connections opened within 10 s.
    let client_config = HostConfig {
        ephemeral_ports: (1024, 65535),
        tcp: tcp.clone(),
        ..HostConfig::default()
    };
    let server_config = HostConfig {
        tcp,
        ..HostConfig::default()
    };
    let client = b.host_with("client", CLIENT_ADDR.into(), client_config);
    let server = b.host_with("server", SERVER_ADDR.into(), server_config);
    b.link(client, server, link());
    let server_app = b.app(server, "tcp-server", || {
        TcpServer::new(
            PORT,
            Reply::Fixed {
                after_bytes: SHORT_MESSAGE_BYTES,
                bytes: SHORT_MESSAGE_BYTES,
            },
            ServerClose::OnEof,
        )
    });
    let client_app = b.app(client, "tcp-client", move || {
        TcpClient::new(
            server_socket_addr(),
            &[b'x'; SHORT_MESSAGE_BYTES],
            SHORT_MESSAGE_BYTES,
        )
        .connections(connections)
    });
    (b.build().expect("a valid world"), client_app, server_app)
}

/// Runs until the client has completed its last connection.
pub fn engine_short_run(
    (mut world, client, server): (World, AppId, AppId),
    connections: u64,
) -> (World, RunStats) {
    let end = world.run_while_not(|w| {
        w.app::<TcpClient>(client)
            .is_some_and(|c| c.completed >= connections)
    });
    assert_eq!(end, EndReason::Condition, "every connection must complete");
    let c = world.app::<TcpClient>(client).expect("the client runs");
    assert_eq!(c.completed, connections);
    assert_eq!(c.failures, 0, "no connection failed");
    assert_eq!(
        c.bytes_received,
        connections * SHORT_MESSAGE_BYTES as u64,
        "every reply arrived"
    );
    let s = world.app::<TcpServer>(server).expect("the server runs");
    assert_eq!(s.accepted, connections);
    let stats = RunStats {
        packets: engine_packets(&world),
        simulated_us: world.now().as_micros(),
        peak_sockets: 0,
    };
    (world, stats)
}

// ----- the raw smoltcp loop ---------------------------------------------------

pub mod raw;

// ----- criterion ----------------------------------------------------------------

/// A group of ten flat samples (each sample one run: the runs are long),
/// warmed up and measured for `(warm_up, measurement)`.
pub fn flat_group<'a>(
    c: &'a mut Criterion,
    name: &str,
    (warm_up, measurement): (std::time::Duration, std::time::Duration),
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(warm_up)
        .measurement_time(measurement);
    group
}

/// Whether criterion will run the bench `id` (`group/function`), judged from
/// the command line the way criterion judges it, erring towards "yes". Used
/// only to skip the untimed check run of benches a filter leaves out (the
/// slowest takes seconds, far more under valgrind).
pub fn selected(id: &str) -> bool {
    // Criterion options that take a value (`--opt value`; `--opt=value` is one word).
    const TAKES_VALUE: &[&str] = &[
        "-c",
        "--color",
        "-s",
        "--save-baseline",
        "-b",
        "--baseline",
        "--baseline-lenient",
        "--format",
        "--profile-time",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--ignored" || a == "--list") {
        return false;
    }
    let mut filter = None;
    let mut words = args.iter();
    while let Some(a) = words.next() {
        if TAKES_VALUE.contains(&a.as_str()) {
            words.next();
        } else if !a.starts_with('-') {
            filter = Some(a.as_str());
            break;
        }
    }
    match filter {
        None => true,
        Some(f) if args.iter().any(|a| a == "--exact") => id == f,
        // A regular expression: too clever to judge here, so run the check.
        Some(f) if f.contains(|c: char| "\\.^$*+?()[]{}|".contains(c)) => true,
        Some(f) => id.contains(f),
    }
}

/// Runs one untimed check of a bench, prints what it did, and returns its
/// packet count for the throughput (runs are deterministic, so every timed
/// run does the same). Benches a filter leaves out are not run.
#[allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a bench may read the wall clock; the simulation never does"
)]
pub fn check_run(id: &str, run: impl FnOnce() -> RunStats) -> Option<Throughput> {
    if !selected(id) {
        return None;
    }
    let start = std::time::Instant::now();
    let stats = run();
    let wall = start.elapsed().as_secs_f64();
    let mut line = format!(
        "{id}: {} packets, {:.3} s simulated; check run {:.3} s wall, {:.0} packets/s",
        stats.packets,
        stats.simulated_us as f64 / 1e6,
        wall,
        stats.packets as f64 / wall
    );
    if stats.peak_sockets > 1 {
        line.push_str(&format!(
            "; peak client sockets in one set: {}",
            stats.peak_sockets
        ));
    }
    println!("{line}");
    Some(Throughput::Elements(stats.packets))
}

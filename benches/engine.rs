//! How fast the simnet engine runs, measured against a bare smoltcp loop.
//!
//! Each group runs the same TCP work two (or three) ways, side by side:
//!
//! - `engine`: a world built with [`WorldBuilder`] and the built-in
//!   applications, run with full tracing (every trace event is recorded, as a
//!   user gets it);
//! - `raw…`: two smoltcp `Interface`s (`common::raw`), each with one `SocketSet`,
//!   joined by a time-ordered queue of in-flight frames, driven by a loop that
//!   always jumps to the next event. Like the engine it hands each arriving
//!   frame to its interface on its own and polls right after, so both send
//!   the same segments and ACKs (the packet counts printed before each bench
//!   agree, to within a packet). It has no tracing, no demultiplexing, no socket API and no
//!   checking of the bytes received: it is the floor of what smoltcp costs.
//!
//! The groups:
//!
//! - `bulk`: one connection carries 100 MiB one way over a 1 ms link. The
//!   raw loop runs twice: `raw` drops every frame once delivered, and
//!   `raw_keeping_frames` keeps them all to the end, as a capture does (and
//!   as the engine's trace, which holds every frame's bytes for pcap
//!   output, must). The difference is what keeping ~106 MiB of frames costs
//!   by itself: fresh memory, page faults, allocator time.
//! - `short_connections`: 10,000 connections one after another, each
//!   `connect`, 100 bytes up, 100 bytes down, client closes first. The raw
//!   loop runs twice: `raw_timewait_kept` keeps every client socket in the
//!   client's `SocketSet` until smoltcp's 10 s TIME-WAIT ends (smoltcp walks
//!   the whole set on every poll, so this is slow), and
//!   `raw_timewait_dropped` removes each socket once it reaches TIME-WAIT.
//!
//! Every variant reports its throughput as simulated IP packets per
//! wall-clock second. When criterion runs in test mode (`cargo bench --bench
//! engine -- --test`, or `cargo test --benches`) or `SIMNET_BENCH_QUICK=1` is
//! set, the sizes shrink (1 MiB, 200 connections) so the run takes seconds.
//! `benches/README.md` says how to run and read the results.
//!
//! What this file deliberately does not do: measure renderers (text, pcap),
//! or links with faults; those belong in their own benches.

// A bench binary has no public API to document; its items are private.
#![allow(missing_docs, reason = "a bench binary exports nothing")]

mod common;

// As in `src/main.rs`: the engine and the raw loop run on the allocator `simnet run` ships with.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use common::*;
use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use simnet::apps::Sink;
use simnet::{AppId, Capture, EndReason, Topology, TraceEvent, TraceRecord, TraceSink, World};
use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// How big the workloads are.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    bulk_bytes: u64,
    connections: u64,
    /// Appended to group names so quick results never mix with full ones
    /// in criterion's saved baselines.
    suffix: &'static str,
    /// Whether these are the small sizes (which also get short timings).
    quick: bool,
}

impl Sizes {
    /// Criterion's warm-up and measurement times for a bench, given the
    /// ones meant for the full sizes; the small sizes need only a moment.
    fn timing(&self, warm_up: Duration, measurement: Duration) -> (Duration, Duration) {
        if self.quick {
            (Duration::from_millis(100), Duration::from_secs(1))
        } else {
            (warm_up, measurement)
        }
    }
}

/// The full sizes, or small ones when criterion only tests that the benches
/// run (it does so when given `--test`, or when started without `--bench`,
/// as `cargo test --benches` does) or when `SIMNET_BENCH_QUICK` is set.
fn sizes() -> Sizes {
    if quick_mode() {
        Sizes {
            bulk_bytes: MIB,
            connections: 200,
            suffix: "_quick",
            quick: true,
        }
    } else {
        Sizes {
            bulk_bytes: 100 * MIB,
            connections: 10_000,
            suffix: "",
            quick: false,
        }
    }
}

// ----- the engine -------------------------------------------------------------

/// Runs the bulk world until it is idle (the transfer done, the close
/// handshake finished, TIME-WAIT expired) and checks every byte arrived.
fn engine_bulk_run((mut world, sink): (World, AppId), bytes: u64) -> (World, RunStats) {
    let end = world.run();
    assert_eq!(end, EndReason::Idle, "the transfer must finish");
    let sink = world.app::<Sink>(sink).expect("the sink runs");
    assert_eq!(sink.bytes_received, bytes, "the sink got every byte");
    assert_eq!(sink.first_mismatch, None, "the bytes are intact");
    let stats = RunStats {
        packets: engine_packets(&world),
        simulated_us: world.now().as_micros(),
        peak_sockets: 0,
    };
    (world, stats)
}

/// Counts the packets a streamed run sends (its records are not kept).
#[derive(Default)]
struct PacketCount(u64);

impl TraceSink for PacketCount {
    fn record(&mut self, _: &Topology, record: &TraceRecord) {
        if matches!(record.event, TraceEvent::PacketSent { .. }) {
            self.0 += 1;
        }
    }
}

/// The bulk world streamed as `simnet run --format pcap` does it: every
/// byte of every packet captured and written as a pcap record as it is
/// sent (here to `io::sink()`), nothing kept, on the run's own thread (a
/// pcap's sinks are not worth a thread of their own: `src/stream.rs`).
fn engine_streamed_world(bytes: u64) -> (World, AppId, Rc<RefCell<PacketCount>>) {
    let (mut world, sink) = engine_bulk_world(bytes, Capture::Full);
    let count = Rc::new(RefCell::new(PacketCount::default()));
    let sinks: Vec<Box<dyn TraceSink>> = vec![
        Box::new(simnet_trace::PcapWriter::new(std::io::sink())),
        Box::new(count.clone()),
    ];
    world.stream_to(Box::new(sinks));
    (world, sink, count)
}

fn engine_streamed_run(
    (world, sink, count): (World, AppId, Rc<RefCell<PacketCount>>),
    bytes: u64,
) -> (World, RunStats) {
    let (world, mut stats) = engine_bulk_run((world, sink), bytes);
    stats.packets = count.borrow().0;
    (world, stats)
}

// ----- criterion ----------------------------------------------------------------

fn bulk(c: &mut Criterion) {
    let sizes = sizes();
    let bytes = sizes.bulk_bytes;
    let name = format!("bulk{}", sizes.suffix);
    // A full-size run takes a tenth of a second or so; ten flat samples
    // keep the group to about twenty seconds.
    let mut group = flat_group(
        c,
        &name,
        sizes.timing(Duration::from_millis(500), Duration::from_secs(8)),
    );

    // The engine keeping every byte (what pcap output needs), then keeping
    // only headers (what every other output needs).
    for (variant, capture) in [
        ("engine", Capture::Full),
        ("engine_headers", Capture::Headers),
    ] {
        if let Some(t) = check_run(&format!("{name}/{variant}"), || {
            engine_bulk_run(engine_bulk_world(bytes, capture), bytes).1
        }) {
            group.throughput(t);
        }
        group.bench_function(variant, |b| {
            b.iter_batched(
                || engine_bulk_world(bytes, capture),
                |w| engine_bulk_run(w, bytes),
                BatchSize::PerIteration,
            )
        });
    }

    // The engine writing a pcap as the run goes: the streamed path.
    if let Some(t) = check_run(&format!("{name}/engine_streamed"), || {
        engine_streamed_run(engine_streamed_world(bytes), bytes).1
    }) {
        group.throughput(t);
    }
    group.bench_function("engine_streamed", |b| {
        b.iter_batched(
            || engine_streamed_world(bytes),
            |w| engine_streamed_run(w, bytes),
            BatchSize::PerIteration,
        )
    });

    if let Some(t) = check_run(&format!("{name}/raw"), || raw::bulk(bytes)) {
        group.throughput(t);
    }
    group.bench_function("raw", |b| b.iter(|| raw::bulk(black_box(bytes))));

    if let Some(t) = check_run(&format!("{name}/raw_keeping_frames"), || {
        raw::bulk_with(bytes, true).0
    }) {
        group.throughput(t);
    }
    group.bench_function("raw_keeping_frames", |b| {
        b.iter_batched(
            || (),
            |()| raw::bulk_with(black_box(bytes), true),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn short_connections(c: &mut Criterion) {
    let sizes = sizes();
    let n = sizes.connections;
    let name = format!("short_connections{}", sizes.suffix);
    let mut group = c.benchmark_group(&name);
    group.sample_size(10).sampling_mode(SamplingMode::Flat);

    if let Some(t) = check_run(&format!("{name}/engine"), || {
        engine_short_run(engine_short_world(n), n).1
    }) {
        group.throughput(t);
    }
    let (warm_up, measurement) = sizes.timing(Duration::from_millis(500), Duration::from_secs(5));
    group.warm_up_time(warm_up).measurement_time(measurement);
    group.bench_function("engine", |b| {
        b.iter_batched(
            || engine_short_world(n),
            |w| engine_short_run(w, n),
            BatchSize::PerIteration,
        )
    });

    // The slow case (seconds per run): one warm-up run, ten single-run samples.
    if let Some(t) = check_run(&format!("{name}/raw_timewait_kept"), || {
        raw::short(n, raw::Reap::AfterTimeWait)
    }) {
        group.throughput(t);
    }
    let (warm_up, measurement) = sizes.timing(Duration::from_millis(1), Duration::from_secs(30));
    group.warm_up_time(warm_up).measurement_time(measurement);
    group.bench_function("raw_timewait_kept", |b| {
        b.iter(|| raw::short(black_box(n), raw::Reap::AfterTimeWait))
    });

    if let Some(t) = check_run(&format!("{name}/raw_timewait_dropped"), || {
        raw::short(n, raw::Reap::AtTimeWait)
    }) {
        group.throughput(t);
    }
    let (warm_up, measurement) = sizes.timing(Duration::from_millis(500), Duration::from_secs(3));
    group.warm_up_time(warm_up).measurement_time(measurement);
    group.bench_function("raw_timewait_dropped", |b| {
        b.iter(|| raw::short(black_box(n), raw::Reap::AtTimeWait))
    });
    group.finish();
}

criterion_group!(benches, bulk, short_connections);
criterion_main!(benches);

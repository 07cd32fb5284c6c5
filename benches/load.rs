//! Load tests against their targets, printed as tables: the engine's own
//! cost per packet (the `bulk/engine_headers` transfer of `engine.rs`);
//! wall time, peak resident memory (`VmHWM`) and cost per packet of every
//! `scenarios/load/*.toml`, run as `simnet run FILE --format summary` runs
//! it (streamed to a `Summarizer` and the expectations' `Judge`, on a
//! thread of their own); and the
//! same for 1,000 to 100,000 WebSocket clients pinging for two simulated
//! minutes, to see whether cost per packet stays flat. Beside them, the
//! bare smoltcp loop of `common::raw` on the load scenarios' shape (100 to
//! 10,000 connections pinging every 30 s, `raw::ping_pong`): the floor of
//! what holding that many live sockets costs per packet, which the
//! one-connection bulk floor does not pay. Each scenario and each raw run
//! runs in a child process (this binary again, told what to run by
//! environment variables) so that its peak memory is its own.
//!
//! `SIMNET_BENCH_QUICK=1` runs small sizes, and the load scenarios cut to two
//! simulated minutes (whose expectations are then not judged). A run that
//! sends nothing, stops early or fails expectations it judged fails the
//! bench. `SIMNET_LOAD_SINKS=none` (or `summary`, or `judge`) leaves the
//! summary and the judge (or one of them) out of every run, to tell their
//! cost from the engine's. `SIMNET_LOAD_ONLY=raw` (or `scenarios`, or
//! `scaling`) runs only that part, after the engine floor. See
//! `benches/README.md`, "Load".

#![allow(missing_docs, reason = "a bench binary exports nothing")]
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a bench may read the wall clock; the simulation never does"
)]

mod common;

// As in `src/main.rs`: the load scenarios run as `simnet run` runs them, with its allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use simnet::apps::Sink;
use simnet::render::summary::Summarizer;
use simnet::scenario::{Judge, Scenario};
use simnet::trace::SinkThread;
use simnet::{Capture, EndReason, SimDuration, SimTime, Topology, TraceEvent, TraceRecord};
use smoltcp::time::Duration as SmolDuration;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Set in a child process: what to run (`file`, `ws` or `raw`).
const CHILD: &str = "SIMNET_LOAD_CHILD";
/// The scenario file of a `file` child.
const CHILD_FILE: &str = "SIMNET_LOAD_FILE";
/// Simulated seconds to stop a `file` child at, instead of its time limit;
/// the simulated span of a `raw` child.
const CHILD_UNTIL: &str = "SIMNET_LOAD_UNTIL_SECS";
/// The number of WebSocket clients of a `ws` child, or connections of a
/// `raw` child.
const CHILD_CLIENTS: &str = "SIMNET_LOAD_CLIENTS";
/// The event queue of a `raw` child: `lanes` or `heap`.
const CHILD_QUEUE: &str = "SIMNET_LOAD_RAW_QUEUE";
/// Which sinks besides the packet counter every run streams to (children
/// inherit it): `none`, `summary` or `judge`; unset, both.
const SINKS: &str = "SIMNET_LOAD_SINKS";
/// Runs only one part besides the engine floor: `raw`, `scenarios` or
/// `scaling`.
const ONLY: &str = "SIMNET_LOAD_ONLY";
/// What a child prints before its figures, on one line.
const RESULT: &str = "load-result";

/// Simulated span of each scaling point, and of a load scenario in quick mode.
const SHORT_SPAN_SECS: u64 = 120;
/// Most WebSocket clients on one client host in the scaling points (a host
/// has at most 64k ports).
const CLIENTS_PER_HOST: usize = 10_000;
/// Per-packet cost a load scenario should stay within, as a multiple of
/// the engine floor.
const FLOOR_RATIO_TARGET: f64 = 2.0;
/// The ping period of every WebSocket client in the load scenarios, and of
/// the raw ping-pong runs.
const PING_PERIOD_SECS: u64 = 30;
/// Simulated span of each raw ping-pong run: `ws-10k-1h`'s hour.
const RAW_SPAN_SECS: u64 = 3600;
/// Each load scenario whose shape a raw ping-pong run has, with its
/// connections: one client host, a Ping every 30 s, 5 ms, spread over 10 s.
const RAW_SHAPES: &[(&str, usize)] = &[("ws-10k-1h", 10_000)];

fn main() {
    if let Ok(kind) = std::env::var(CHILD) {
        child(&kind);
        return;
    }
    let quick = common::quick_mode();
    let only = std::env::var(ONLY).ok();
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if let Some(o) = only.as_deref() {
        assert!(
            ["raw", "scenarios", "scaling"].contains(&o),
            "{ONLY}={o}: raw, scenarios or scaling"
        );
        println!("{ONLY}={o}: the engine floor and this part only\n");
    }
    let floor = engine_floor(quick);
    if let Ok(sinks) = std::env::var(SINKS) {
        println!("{SINKS}={sinks}: the sinks besides the packet counter\n");
    }
    let mut failures = Vec::new();
    let raw = if part("raw") {
        raw_ping_pong(quick, floor, &mut failures)
    } else {
        BTreeMap::new()
    };
    if part("scenarios") {
        load_scenarios(quick, floor, &raw, &mut failures);
    }
    if part("scaling") {
        scaling(quick, floor, &mut failures);
    }
    assert!(failures.is_empty(), "failed:\n{}", failures.join("\n"));
}

/// Prints a title and a Markdown table's header (`columns` as `"a | b"`).
fn table(title: &str, columns: &str) {
    println!("{title}\n| {columns} |");
    println!("|{}", "---|".repeat(columns.matches('|').count() + 1));
}

fn row(cells: &[String]) {
    println!("| {} |", cells.join(" | "));
}

// ----- the engine floor ---------------------------------------------------------

/// Wall microseconds per packet of the engine alone: the bulk transfer of
/// `benches/engine.rs` keeping headers only, median of five runs after one
/// warm-up run (the world is built and dropped outside the timing). Prints
/// it beside the same transfer through the raw smoltcp loop (`bulk/raw` of
/// `engine.rs`), measured the same way.
fn engine_floor(quick: bool) -> f64 {
    let mib: u64 = if quick { 2 } else { 20 };
    let bytes = mib << 20;
    let (mut samples, mut packets, mut events) = (Vec::new(), 0, 0);
    for i in 0..6 {
        let (mut world, sink) = common::engine_bulk_world(bytes, Capture::Headers);
        let start = Instant::now();
        let end = world.run();
        let wall = start.elapsed().as_secs_f64();
        assert_eq!(end, EndReason::Idle, "the transfer must finish");
        let got = world.app::<Sink>(sink).map(|s| s.bytes_received);
        assert_eq!(got, Some(bytes), "the sink got every byte");
        packets = common::engine_packets(&world);
        events = world.events_processed();
        if i > 0 {
            samples.push(wall);
        }
    }
    let wall = median(samples);
    let floor = wall * 1e6 / packets as f64;
    let (mut raw_samples, mut raw_packets) = (Vec::new(), 0);
    for i in 0..6 {
        let start = Instant::now();
        let stats = common::raw::bulk(bytes);
        let wall = start.elapsed().as_secs_f64();
        raw_packets = stats.packets;
        if i > 0 {
            raw_samples.push(wall);
        }
    }
    let raw_wall = median(raw_samples);
    let raw_floor = raw_wall * 1e6 / raw_packets as f64;
    table(
        "engine floor: bulk transfer, Capture::Headers (bulk/engine_headers of engine.rs), and the raw smoltcp loop's (bulk/raw)",
        "run | transfer | packets | events per packet | wall (median of 5) | per packet | × floor",
    );
    row(&[
        "engine (the floor)".to_string(),
        format!("{mib} MiB"),
        packets.to_string(),
        format!("{:.2}", events as f64 / packets as f64),
        format!("{:.1} ms", wall * 1e3),
        format!("{floor:.3} µs"),
        "1.00×".to_string(),
    ]);
    row(&[
        "raw smoltcp".to_string(),
        format!("{mib} MiB"),
        raw_packets.to_string(),
        "—".to_string(),
        format!("{:.1} ms", raw_wall * 1e3),
        format!("{raw_floor:.3} µs"),
        format!("{:.2}×", raw_floor / floor),
    ]);
    println!();
    floor
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

// ----- one run, in a child process ------------------------------------------------

/// What a child measured, as it printed it.
struct Figures {
    wall_s: f64,
    /// Peak resident memory (`VmHWM`), or -1 if the system does not say.
    rss: i64,
    packets: u64,
    events: u64,
    simulated_us: u64,
    passed: usize,
    expectations: usize,
    /// Whether the expectations were judged (not in a shortened run).
    judged: bool,
    /// Why the run ended, `Debug`-formatted without spaces.
    end: String,
}

impl Figures {
    /// The line a child prints, which [`Figures::parse`] reads.
    fn line(&self) -> String {
        let f = self;
        format!(
            "{RESULT} {} {} {} {} {} {} {} {} {}",
            f.wall_s,
            f.rss,
            f.packets,
            f.events,
            f.simulated_us,
            f.passed,
            f.expectations,
            f.judged,
            f.end
        )
    }

    fn parse(line: &str) -> Figures {
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(w.len(), 10, "a child's figures: {line}");
        let n = |i: usize| w[i].parse::<u64>().expect("a count");
        Figures {
            wall_s: w[1].parse().expect("seconds"),
            rss: w[2].parse().expect("bytes"),
            packets: n(3),
            events: n(4),
            simulated_us: n(5),
            passed: n(6) as usize,
            expectations: n(7) as usize,
            judged: w[8] == "true",
            end: w[9].to_string(),
        }
    }

    fn per_packet_us(&self) -> f64 {
        self.wall_s * 1e6 / self.packets.max(1) as f64
    }

    /// The cells both tables have ([`COMMON_COLUMNS`]).
    fn cells(&self, floor: f64) -> Vec<String> {
        vec![
            self.packets.to_string(),
            format!("{:.2}", self.events as f64 / self.packets.max(1) as f64),
            format!("{:.2} s", self.wall_s),
            mib(self.rss),
            format!("{:.3} µs", self.per_packet_us()),
            format!("{:.2}×", self.per_packet_us() / floor),
        ]
    }

    fn ok(&self) -> bool {
        self.passed == self.expectations
    }

    fn verdict(&self) -> String {
        match (self.judged, self.ok()) {
            (false, _) => "not judged".to_string(),
            (true, true) => format!("ok ({})", self.expectations),
            (true, false) => format!("FAILED ({}/{})", self.passed, self.expectations),
        }
    }
}

/// The columns of [`Figures::cells`].
const COMMON_COLUMNS: &str = "packets | events per packet | wall | peak RSS | per packet | × floor";

/// Counts the packets sent, as `common::engine_packets` does for a stored
/// trace.
#[derive(Default)]
struct PacketCounter(u64);

/// What a load run streams to: the packet counter, and the summary and the
/// judge unless told otherwise.
struct LoadSinks {
    counter: PacketCounter,
    summarizer: Option<Summarizer>,
    judge: Option<Judge>,
}

impl simnet::TraceSink for LoadSinks {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        self.counter.record(topology, record);
        if let Some(s) = &mut self.summarizer {
            s.record(topology, record);
        }
        if let Some(j) = &mut self.judge {
            j.record(topology, record);
        }
    }
}

impl simnet::TraceSink for PacketCounter {
    fn record(&mut self, _: &Topology, record: &TraceRecord) {
        if matches!(record.event, TraceEvent::PacketSent { .. }) {
            self.0 += 1;
        }
    }
}

/// In a child: runs what the environment names, prints its figures on one
/// line, and its failed expectations on standard error.
fn child(kind: &str) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
    let start = Instant::now();
    if kind == "raw" {
        let connections = var(CHILD_CLIENTS).parse().expect("a connection count");
        let span = var(CHILD_UNTIL).parse().expect("seconds");
        let queue = match var(CHILD_QUEUE).as_str() {
            "lanes" => common::raw::Queue::Lanes,
            "heap" => common::raw::Queue::Heap,
            other => panic!("{CHILD_QUEUE}={other}: lanes or heap"),
        };
        println!("{}", raw_run(connections, span, queue, start).line());
        return;
    }
    let registry = simnet::registry();
    let (scenario, until) = match kind {
        "file" => {
            let path = var(CHILD_FILE);
            let source = std::fs::read_to_string(&path).expect("a readable scenario");
            let scenario = simnet::scenario::parse(&path, &source, &registry)
                .unwrap_or_else(|e| panic!("{path} parses: {e:?}"));
            let until = std::env::var(CHILD_UNTIL)
                .ok()
                .map(|s| SimTime::ZERO + SimDuration::from_secs(s.parse().expect("seconds")));
            (scenario, until)
        }
        "ws" => {
            let text = ws_scenario(var(CHILD_CLIENTS).parse().expect("a client count"));
            let scenario = simnet::scenario::parse("ws-scaling", &text, &registry)
                .unwrap_or_else(|e| panic!("the generated scenario parses: {e:?}\n{text}"));
            (scenario, None)
        }
        _ => panic!("unknown {CHILD} {kind}"),
    };
    let figures = run(&scenario, until, start);
    println!("{}", figures.line());
}

/// Runs `scenario` as `simnet run --format summary` does (stopping at
/// `until` if given, and then judging nothing), with a packet counter as
/// one more sink; the wall time is counted from `start`. Prints the failed
/// expectations on standard error.
fn run(scenario: &Scenario, until: Option<SimTime>, start: Instant) -> Figures {
    let mut world = scenario.world(None, until);
    world.set_capture(simnet::Format::Summary.capture());
    let (summarize, judging) = match std::env::var(SINKS).as_deref() {
        Ok("none") => (false, false),
        Ok("summary") => (true, false),
        Ok("judge") => (false, true),
        Ok(other) => panic!("{SINKS}={other}: none, summary or judge"),
        Err(_) => (true, true),
    };
    // As `simnet run --format summary`: beside a summary, the judge reads
    // the summary's per-connection analysis instead of making its own; and
    // the sinks read the records on a thread of their own.
    let sinks = LoadSinks {
        counter: PacketCounter::default(),
        summarizer: summarize.then(Summarizer::new),
        judge: judging.then(|| {
            if summarize {
                Judge::sharing_connections(&scenario.expectations)
            } else {
                Judge::new(&scenario.expectations)
            }
        }),
    };
    let topology = world.trace().topology.clone();
    let sinks = SinkThread::spawn(topology.clone(), sinks).expect("a thread for the sinks");
    world.stream_to(Box::new(sinks.feeder()));
    let end = world.run();
    let (simulated_us, events) = (world.now().as_micros(), world.events_processed());
    drop(world);
    let sinks = sinks.finish();
    let mut connections = None;
    if let Some(summarizer) = sinks.summarizer {
        let summarized = summarizer.finish();
        connections = Some(summarized.summary.connections.clone());
        std::hint::black_box(summarized.render(&topology));
    }
    let outcomes = match sinks.judge {
        Some(judge) => judge.finish_with(&topology, &scenario.app_names(), connections.as_deref()),
        None => Vec::new(),
    };
    let wall_s = start.elapsed().as_secs_f64();
    let judged = until.is_none() && judging;
    let mut passed = outcomes.len();
    if judged {
        for o in outcomes.iter().filter(|o| !o.passed) {
            eprintln!("{o}");
            passed -= 1;
        }
    }
    Figures {
        wall_s,
        rss: peak_resident_bytes().unwrap_or(-1),
        packets: sinks.counter.0,
        events,
        simulated_us,
        passed,
        expectations: outcomes.len(),
        judged,
        end: format!("{end:?}").replace(' ', ""),
    }
}

/// Peak resident memory (VmHWM) of this process, in bytes, if the system says.
fn peak_resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs this binary again with `env`, and reads the figures it prints.
/// A child that fails, sends no packet, ends before its time, or fails
/// expectations it judged is added to `failures`.
fn in_child(what: &str, env: &[(&str, String)], failures: &mut Vec<String>) -> Option<Figures> {
    let exe = std::env::current_exe().expect("this bench's path");
    let out = std::process::Command::new(exe)
        .env_remove(CHILD_UNTIL)
        .envs(env.iter().cloned())
        .output()
        .expect("the bench runs itself");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().find(|l| l.starts_with(RESULT));
    let (true, Some(line)) = (out.status.success(), line) else {
        failures.push(format!(
            "{what}: the child failed ({}):\n{stderr}",
            out.status
        ));
        return None;
    };
    let f = Figures::parse(line);
    if f.judged && !f.ok() {
        failures.push(format!("{what}: expectations failed:\n{stderr}"));
    }
    if f.packets == 0 {
        failures.push(format!("{what}: no packet was sent"));
    }
    if !f.end.starts_with("TimeLimit") {
        failures.push(format!("{what}: the run ended early: {}", f.end));
    }
    Some(f)
}

fn mib(bytes: i64) -> String {
    if bytes < 0 {
        "n/a".to_string()
    } else {
        format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

fn simulated(us: u64) -> String {
    match us / 1_000_000 {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        _ => format!("{:.1} s", us as f64 / 1e6),
    }
}

fn yes_no(met: bool) -> &'static str {
    if met { "yes" } else { "no" }
}

// ----- the raw floor on the load scenarios' shape ---------------------------------

/// In a child: `connections` raw ping-pong connections for `span_secs`
/// simulated seconds (`common::raw::ping_pong_with`, 64 KiB buffers as the
/// engine's default, events ordered by `queue`), timed from `start`.
fn raw_run(
    connections: usize,
    span_secs: u64,
    queue: common::raw::Queue,
    start: Instant,
) -> Figures {
    let (stats, events) = common::raw::ping_pong_with(
        connections,
        SmolDuration::from_secs(PING_PERIOD_SECS),
        SmolDuration::from_secs(span_secs),
        simnet::TcpConfig::default().rx_buffer_bytes,
        queue,
    );
    Figures {
        wall_s: start.elapsed().as_secs_f64(),
        rss: peak_resident_bytes().unwrap_or(-1),
        packets: stats.packets,
        events,
        simulated_us: stats.simulated_us,
        passed: 0,
        expectations: 0,
        judged: false,
        // It ran its span (and asserted that every ping got its pong).
        end: "TimeLimit".to_string(),
    }
}

/// Runs the raw ping-pong series, each size with each event queue in its
/// own process, prints its table, and returns each size's wall
/// microseconds per packet with the lanes (the floor).
fn raw_ping_pong(quick: bool, floor: f64, failures: &mut Vec<String>) -> BTreeMap<usize, f64> {
    let (sizes, span): (&[usize], u64) = if quick {
        (&[100, 1_000], SHORT_SPAN_SECS)
    } else {
        (&[100, 1_000, 10_000], RAW_SPAN_SECS)
    };
    table(
        &format!(
            "raw smoltcp floor on the load scenarios' shape (raw::ping_pong): connections from one client address opened over the first 10 s, a 6-byte Ping every {PING_PERIOD_SECS} s answered with 2 bytes, 5 ms, 64 KiB buffers, {} simulated, no WebSocket upgrade, no trace; each socket in a set of its own, each in its own process",
            simulated(span * 1_000_000)
        ),
        &format!("connections | event queue | {COMMON_COLUMNS} | packets per connection"),
    );
    let (mut figures, mut lines) = (BTreeMap::new(), Vec::new());
    for &n in sizes {
        for (queue, name) in [("lanes", "raw_ping_pong"), ("heap", "raw_ping_pong_heap")] {
            let env = [
                (CHILD, "raw".to_string()),
                (CHILD_CLIENTS, n.to_string()),
                (CHILD_UNTIL, span.to_string()),
                (CHILD_QUEUE, queue.to_string()),
            ];
            let id = format!("{name}/{n}");
            let Some(f) = in_child(&id, &env, failures) else {
                row(&[n.to_string(), queue.to_string(), "failed".to_string()]);
                continue;
            };
            let mut cells = vec![n.to_string(), queue.to_string()];
            cells.extend(f.cells(floor));
            cells.push(format!("{:.1}", f.packets as f64 / n as f64));
            row(&cells);
            if queue == "lanes" {
                figures.insert(n, f.per_packet_us());
            }
            lines.push(format!(
                "{id}: {} packets, {:.3} s wall, {:.3} µs per packet",
                f.packets,
                f.wall_s,
                f.per_packet_us()
            ));
        }
    }
    println!();
    for line in lines {
        println!("{line}");
    }
    println!();
    figures
}

/// The "× raw" cell: `per_packet` against the raw ping-pong run of
/// `connections`, if it ran.
fn versus_raw(per_packet: f64, raw: &BTreeMap<usize, f64>, connections: Option<usize>) -> String {
    match connections.and_then(|n| Some((n, raw.get(&n)?))) {
        Some((n, r)) => format!("{:.2}× (raw {n}: {r:.3} µs)", per_packet / r),
        None => "—".to_string(),
    }
}

// ----- the load scenarios ---------------------------------------------------------

/// The issue's targets for a load scenario, by name: wall seconds and peak
/// resident bytes (1 GB = 10^9 bytes).
fn targets(name: &str) -> Option<(f64, i64)> {
    match name {
        "ws-10k-1h" => Some((10.0, 1_000_000_000)),
        "ws-100k-10m" | "ws-100k-10min" => Some((60.0, 6_000_000_000)),
        _ => None,
    }
}

fn load_scenarios(quick: bool, floor: f64, raw: &BTreeMap<usize, f64>, failures: &mut Vec<String>) {
    if cfg!(debug_assertions) {
        // `cargo test --benches` builds this without optimisation: the
        // figures would mean nothing, and the 100k run would take minutes.
        println!("load scenarios: skipped in an unoptimised build (use cargo bench)");
        println!();
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/load");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/load exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario in {}", dir.display());
    let span = if quick {
        "shortened to 2 min simulated (quick mode)"
    } else {
        "to their time limits"
    };
    table(
        &format!("load scenarios, {span}, --format summary, each in its own process"),
        &format!(
            "scenario | simulated | {COMMON_COLUMNS} | × raw same shape | expectations | targets: wall, RSS, × floor"
        ),
    );
    for path in files {
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        let mut env = vec![
            (CHILD, "file".to_string()),
            (CHILD_FILE, path.to_string_lossy().to_string()),
        ];
        if quick {
            env.push((CHILD_UNTIL, SHORT_SPAN_SECS.to_string()));
        }
        let Some(f) = in_child(&name, &env, failures) else {
            row(&[name.to_string(), "failed".to_string()]);
            continue;
        };
        let ratio = f.per_packet_us() / floor;
        let per_packet = format!(
            "≤ {FLOOR_RATIO_TARGET}×: {}",
            yes_no(ratio <= FLOOR_RATIO_TARGET)
        );
        let target = match targets(&name) {
            _ if quick => "— (shortened)".to_string(),
            None => format!("—, —, {per_packet}"),
            Some((wall, rss)) => format!(
                "≤ {wall} s: {}, ≤ {} GB: {}, {per_packet}",
                yes_no(f.wall_s <= wall),
                rss / 1_000_000_000,
                yes_no(f.rss >= 0 && f.rss <= rss),
            ),
        };
        let shape = RAW_SHAPES.iter().find(|(s, _)| *s == name).map(|s| s.1);
        let mut cells = vec![name.to_string(), simulated(f.simulated_us)];
        cells.extend(f.cells(floor));
        cells.extend([
            versus_raw(f.per_packet_us(), raw, shape),
            f.verdict(),
            target,
        ]);
        row(&cells);
    }
    println!();
}

// ----- scaling ---------------------------------------------------------------------

/// A scenario of `clients` WebSocket clients (at most
/// [`CLIENTS_PER_HOST`] per client host) connecting over the first 20 s
/// and each sending a Ping every 30 s, for [`SHORT_SPAN_SECS`].
fn ws_scenario(clients: usize) -> String {
    let hosts = clients.div_ceil(CLIENTS_PER_HOST);
    assert_eq!(
        clients % hosts,
        0,
        "the clients split evenly over the hosts"
    );
    let per_host = clients / hosts;
    // Pings at 30, 60 and 90 s after each connection, all before the end.
    let pongs = 3 * clients;
    format!(
        r#"name = "ws-scaling-{clients}"
description = "{clients} WebSocket clients, a Ping every 30 s"
seed = 1
time_limit = "{SHORT_SPAN_SECS}s"
max_events = 100_000_000
[[host]]
name = "server"
address = "10.0.0.1"
backlog = 65535
[[host]]
name = "client-{{i}}"
address = "10.1.0.1"
replicas = {hosts}
[[link]]
between = ["client-*", "server"]
latency = "5ms"
[[app]]
host = "server"
kind = "ws-server"
[[app]]
host = "client-*"
name = "listener"
kind = "ws-client"
connect = "server:80"
ping_every = "30s"
close_after = "never"
replicas = {per_host}
start_spread = "20s"
[[expect]]
host = "server"
state = "ESTABLISHED"
count = {clients}
label = "every connection is open at the end"
[[expect]]
event = "ws.frame-sent"
host = "server"
fields = {{ opcode = "pong" }}
count = ">= {pongs}"
label = "the server answered every Ping"
[[expect]]
host = "*"
retransmissions = 0
"#
    )
}

fn scaling(quick: bool, floor: f64, failures: &mut Vec<String>) {
    let sizes: &[usize] = if quick {
        &[100, 1_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    table(
        &format!(
            "scaling: WebSocket clients, a Ping every 30 s, {} simulated, at most {CLIENTS_PER_HOST} clients per host, each in its own process",
            simulated(SHORT_SPAN_SECS * 1_000_000)
        ),
        &format!("clients | {COMMON_COLUMNS} | packets per client | × first point | expectations"),
    );
    let mut first = None;
    for &n in sizes {
        let env = [(CHILD, "ws".to_string()), (CHILD_CLIENTS, n.to_string())];
        let Some(f) = in_child(&format!("{n} clients"), &env, failures) else {
            row(&[n.to_string(), "failed".to_string()]);
            continue;
        };
        let per_packet = f.per_packet_us();
        let base = *first.get_or_insert(per_packet);
        let mut cells = vec![n.to_string()];
        cells.extend(f.cells(floor));
        cells.extend([
            format!("{:.1}", f.packets as f64 / n as f64),
            format!("{:.2}×", per_packet / base),
            f.verdict(),
        ]);
        row(&cells);
    }
    println!();
}

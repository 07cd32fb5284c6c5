//! Scale: how simnet's cost grows with connections and sockets, measured
//! side by side with its peers (issue 8).
//!
//! The groups, each run in one `cargo bench --bench scale`:
//!
//! - `short_connections`: 10,000 connections one after another (connect,
//!   100 bytes up, 100 bytes down, client closes first, 1 ms latency), every
//!   TIME-WAIT kept. `simnet` (the engine with full tracing),
//!   `raw_timewait_dropped` (the bare smoltcp loop of `common::raw`, removing
//!   each client socket as soon as it reaches TIME-WAIT: the floor) and
//!   `turmoil` (turmoil 0.7.2 running the same workload; it has no TIME-WAIT).
//! - `concurrent`: 1,000 connections open at once, each doing 10
//!   request/response exchanges of 100 bytes with an echo server, then
//!   closing. `simnet` against `turmoil`.
//! - `idle_sockets/N`: the cost of one packet on a ping-pong connection while
//!   the server also holds N idle sockets, half of them listening and half
//!   established, for N = 10, 100, 1,000, 10,000. The world is built once
//!   per N; each timed iteration runs 100 more exchanges (200 packets).
//! - `idle_hour`: an hour of simulated time with 1,000 idle connections
//!   sending TCP keepalive probes every 75 s (handshakes included).
//!
//! Memory per connection is measured by `benches/memory.rs`, which needs a
//! counting allocator that would slow down every bench here.
//!
//! In test mode (`cargo bench --bench scale -- --test`, `cargo test
//! --benches`) or with `SIMNET_BENCH_QUICK=1`, the sizes shrink so the whole
//! run takes seconds. `benches/README.md` lists the figures.

#![allow(missing_docs, reason = "a bench binary exports nothing")]

mod common;

// As in `src/main.rs`: simnet and its peers run on the allocator `simnet run` ships with.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use common::*;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use simnet::apps::{IdleConnections, Reply, ServerClose, TcpServer};
use simnet::{
    App, AppContext, AppId, EndReason, HostConfig, Recv, SimDuration, SimTime, SocketEvent,
    SocketId, TcpConfig, TcpState, World, WorldBuilder,
};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::SocketAddrV4;
use std::time::Duration;

/// How big the workloads are.
#[derive(Clone, Debug)]
struct Sizes {
    short_connections: u64,
    concurrent_connections: usize,
    exchanges: u64,
    idle_sockets: Vec<usize>,
    idle_hour_connections: usize,
    /// Appended to group names so quick results never mix with full ones.
    suffix: &'static str,
    quick: bool,
}

impl Sizes {
    fn timing(&self, warm_up: Duration, measurement: Duration) -> (Duration, Duration) {
        if self.quick {
            (Duration::from_millis(50), Duration::from_millis(300))
        } else {
            (warm_up, measurement)
        }
    }
}

fn sizes() -> Sizes {
    if quick_mode() {
        Sizes {
            short_connections: 200,
            concurrent_connections: 50,
            exchanges: 10,
            idle_sockets: vec![10, 100],
            idle_hour_connections: 50,
            suffix: "_quick",
            quick: true,
        }
    } else {
        Sizes {
            short_connections: 10_000,
            concurrent_connections: 1_000,
            exchanges: 10,
            idle_sockets: vec![10, 100, 1_000, 10_000],
            idle_hour_connections: 1_000,
            suffix: "",
            quick: false,
        }
    }
}

// ----- simnet applications --------------------------------------------------------

/// Opens `connections` connections at once; on each, sends 100 bytes, waits
/// for 100 bytes back, `exchanges` times, then closes.
struct Exchanger {
    remote: SocketAddrV4,
    connections: usize,
    exchanges: u64,
    /// Per connection: exchanges done, reply bytes of the current one.
    conns: BTreeMap<SocketId, (u64, usize)>,
    /// Exchanges completed over all connections.
    pub completed_exchanges: u64,
    /// Connections that did all their exchanges.
    pub finished: usize,
    pub failures: usize,
}

impl Exchanger {
    fn new(remote: SocketAddrV4, connections: usize, exchanges: u64) -> Exchanger {
        Exchanger {
            remote,
            connections,
            exchanges,
            conns: BTreeMap::new(),
            completed_exchanges: 0,
            finished: 0,
            failures: 0,
        }
    }

    fn request(cx: &mut AppContext<'_>, sid: SocketId) {
        let sent = cx.send(sid, &[b'q'; SHORT_MESSAGE_BYTES]);
        assert_eq!(sent, Ok(SHORT_MESSAGE_BYTES), "the request fits");
    }
}

impl App for Exchanger {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        for _ in 0..self.connections {
            let sid = cx.connect(self.remote).expect("a free port");
            self.conns.insert(sid, (0, 0));
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Connected(sid) => Self::request(cx, sid),
            SocketEvent::Readable(sid) => {
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return;
                };
                while let Ok(Recv::Data(data)) = cx.recv(sid, 64 * 1024) {
                    conn.1 += data.len();
                }
                if conn.1 >= SHORT_MESSAGE_BYTES {
                    conn.0 += 1;
                    conn.1 -= SHORT_MESSAGE_BYTES;
                    self.completed_exchanges += 1;
                    if conn.0 < self.exchanges {
                        Self::request(cx, sid);
                    } else {
                        self.finished += 1;
                        self.conns.remove(&sid);
                        let _ = cx.close(sid);
                    }
                }
            }
            SocketEvent::ConnectFailed(..) | SocketEvent::Closed(..) => self.failures += 1,
            SocketEvent::Incoming { .. } | SocketEvent::Writable(_) => {}
        }
    }
}

fn addr(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(SERVER_ADDR.into(), port)
}

// ----- concurrent -------------------------------------------------------------------

fn simnet_concurrent_world(
    connections: usize,
    exchanges: u64,
    buffer_bytes: usize,
) -> (World, AppId) {
    let config = HostConfig {
        tcp: TcpConfig::with_buffers(buffer_bytes),
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let client = b.host_with("client", CLIENT_ADDR.into(), config.clone());
    let server = b.host_with("server", SERVER_ADDR.into(), config);
    b.link(client, server, link());
    b.app(server, "echo", move || {
        TcpServer::new(PORT, Reply::Echo, ServerClose::OnEof).with_backlog(connections)
    });
    let app = b.app(client, "exchanger", move || {
        Exchanger::new(addr(PORT), connections, exchanges)
    });
    (b.build().expect("a valid world"), app)
}

fn simnet_concurrent_run(
    (mut world, app): (World, AppId),
    connections: usize,
    exchanges: u64,
) -> RunStats {
    let end = world.run_while_not(|w| {
        w.app::<Exchanger>(app)
            .is_some_and(|a| a.finished == connections)
    });
    assert_eq!(end, EndReason::Condition, "every connection must finish");
    let a = world.app::<Exchanger>(app).expect("the client runs");
    assert_eq!(a.failures, 0);
    assert_eq!(a.completed_exchanges, connections as u64 * exchanges);
    RunStats {
        packets: engine_packets(&world),
        simulated_us: world.now().as_micros(),
        peak_sockets: 0,
    }
}

// ----- idle sockets ---------------------------------------------------------------

/// Socket buffers of the `_4k_buffers` variants.
const SMALL_BUFFER_BYTES: usize = 4 * 1024;

/// Exchanges per timed iteration of `idle_sockets`.
const EXCHANGES_PER_ITER: u64 = 100;
/// Ports of the idle sockets and of the ping-pong connection.
const IDLE_PORT: u16 = 82;

/// A world whose server holds `extra` idle sockets — `extra / 2` established
/// connections on port 82 and, through the backlog re-armed by their
/// accepts, `extra / 2` listening sockets — beside a ping-pong connection
/// on port 80 that never stops. Runs until the idle connections are up.
fn idle_sockets_world(extra: usize) -> (World, AppId) {
    let half = (extra / 2).max(1);
    let mut b = WorldBuilder::new(1);
    let client = b.host("client", CLIENT_ADDR.into());
    let server = b.host("server", SERVER_ADDR.into());
    b.link(client, server, link());
    b.app(server, "echo", || {
        TcpServer::new(PORT, Reply::Echo, ServerClose::OnEof)
    });
    b.app(server, "idle-server", move || {
        TcpServer::new(IDLE_PORT, Reply::Nothing, ServerClose::Never).with_backlog(half)
    });
    b.app(client, "idle-client", move || {
        IdleConnections::new(addr(IDLE_PORT), half)
    });
    let pinger = b.app_at(client, "pinger", SimTime::from_millis(100), || {
        Exchanger::new(addr(PORT), 1, u64::MAX)
    });
    let mut world = b.build().expect("a valid world");
    while world
        .app::<Exchanger>(pinger)
        .is_none_or(|a| a.completed_exchanges == 0)
    {
        assert!(world.step(), "the world went idle");
    }
    let established = world.count_sockets(server, TcpState::Established);
    let listening = world.count_sockets(server, TcpState::Listen);
    // The ping-pong connection and the echo server's 16 listening sockets
    // are the same for every N.
    assert_eq!(established, half + 1, "idle connections established");
    assert_eq!(listening, half + 16, "idle listening sockets armed");
    drop(world.take_trace());
    (world, pinger)
}

/// Runs `exchanges` more ping-pong exchanges and returns the packets sent,
/// dropping the trace afterwards so memory stays flat however long
/// criterion samples.
fn idle_sockets_step(world: &mut World, pinger: AppId, exchanges: u64) -> Duration {
    #[allow(
        clippy::disallowed_types,
        clippy::disallowed_methods,
        reason = "a bench may read the wall clock; the simulation never does"
    )]
    let start = std::time::Instant::now();
    let target = world
        .app::<Exchanger>(pinger)
        .expect("runs")
        .completed_exchanges
        + exchanges;
    while world
        .app::<Exchanger>(pinger)
        .is_some_and(|a| a.completed_exchanges < target)
    {
        world.step();
    }
    let elapsed = start.elapsed();
    drop(world.take_trace());
    elapsed
}

// ----- idle hour -------------------------------------------------------------------

const KEEPALIVE_S: u64 = 75;
const HOUR_S: u64 = 3600;

fn idle_hour_world(connections: usize) -> World {
    let config = HostConfig {
        tcp: TcpConfig {
            keep_alive: Some(SimDuration::from_secs(KEEPALIVE_S)),
            ..TcpConfig::default()
        },
        backlog: connections,
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let c = b.host_with("client", CLIENT_ADDR.into(), config.clone());
    let s = b.host_with("server", SERVER_ADDR.into(), config);
    b.link(c, s, link());
    b.app(s, "server", || {
        TcpServer::new(PORT, Reply::Nothing, ServerClose::Never)
    });
    b.app(c, "idle", move || {
        IdleConnections::new(addr(PORT), connections)
    });
    b.build().expect("a valid world")
}

fn idle_hour_run(mut world: World) -> World {
    let until = SimTime::from_secs(HOUR_S);
    assert_eq!(world.run_until(until), EndReason::Until(until));
    world
}

// ----- turmoil ----------------------------------------------------------------------

/// The same workloads on turmoil 0.7.2: one client host, one server host,
/// 1 ms latency each way, turmoil's default 1 ms tick.
mod peer {
    use super::{PORT, SHORT_MESSAGE_BYTES};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use turmoil::net::{TcpListener, TcpStream};

    fn sim<'a>() -> turmoil::Sim<'a> {
        turmoil::Builder::new()
            .min_message_latency(Duration::from_millis(1))
            .max_message_latency(Duration::from_millis(1))
            .simulation_duration(Duration::from_secs(3600))
            // Turmoil 0.7.2 drops a FIN that arrives while a socket's
            // receive queue (this many segments) is full, and the reader
            // then never sees EOF. No socket here holds more than a few
            // segments at once; the margin keeps every run finishing.
            .tcp_capacity(4096)
            .build()
    }

    /// `connections` sequential short connections; returns simulated time.
    pub fn short(connections: u64) -> Duration {
        let mut sim = sim();
        sim.host("server", || async {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            loop {
                let (mut s, _) = listener.accept().await?;
                tokio::task::spawn_local(async move {
                    let mut buf = [0u8; SHORT_MESSAGE_BYTES];
                    s.read_exact(&mut buf).await?;
                    s.write_all(&[b'y'; SHORT_MESSAGE_BYTES]).await?;
                    // Close when the client has (the client closes first).
                    while s.read(&mut buf).await? > 0 {}
                    Ok::<(), std::io::Error>(())
                });
            }
        });
        sim.client("client", async move {
            let mut buf = [0u8; SHORT_MESSAGE_BYTES];
            for _ in 0..connections {
                let mut s = TcpStream::connect(("server", PORT)).await?;
                s.write_all(&[b'x'; SHORT_MESSAGE_BYTES]).await?;
                s.read_exact(&mut buf).await?;
                drop(s);
            }
            Ok(())
        });
        sim.run().expect("the turmoil run finishes");
        sim.elapsed()
    }

    /// `connections` concurrent connections × `exchanges` echo exchanges.
    pub fn concurrent(connections: usize, exchanges: u64) -> Duration {
        let mut sim = sim();
        sim.host("server", || async {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            loop {
                let (mut s, _) = listener.accept().await?;
                tokio::task::spawn_local(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = s.read(&mut buf).await?;
                        if n == 0 {
                            return Ok::<(), std::io::Error>(());
                        }
                        s.write_all(&buf[..n]).await?;
                    }
                });
            }
        });
        sim.client("client", async move {
            let tasks: Vec<_> = (0..connections)
                .map(|_| {
                    tokio::task::spawn_local(async move {
                        let mut s = TcpStream::connect(("server", PORT)).await?;
                        let mut buf = [0u8; SHORT_MESSAGE_BYTES];
                        for _ in 0..exchanges {
                            s.write_all(&[b'q'; SHORT_MESSAGE_BYTES]).await?;
                            s.read_exact(&mut buf).await?;
                        }
                        Ok::<(), std::io::Error>(())
                    })
                })
                .collect();
            for t in tasks {
                t.await??;
            }
            Ok(())
        });
        sim.run().expect("the turmoil run finishes");
        sim.elapsed()
    }
}

/// Runs and times one untimed turmoil check and prints it.
#[allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a bench may read the wall clock; the simulation never does"
)]
fn turmoil_check(id: &str, run: impl FnOnce() -> Duration) {
    if !selected(id) {
        return;
    }
    let start = std::time::Instant::now();
    let simulated = run();
    println!(
        "{id}: {:.3} s simulated; check run {:.3} s wall",
        simulated.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
}

// ----- criterion --------------------------------------------------------------------

fn short_connections(c: &mut Criterion) {
    let sizes = sizes();
    let n = sizes.short_connections;
    let name = format!("short_connections{}", sizes.suffix);
    let mut group = flat_group(
        c,
        &name,
        sizes.timing(Duration::from_millis(500), Duration::from_secs(4)),
    );

    if let Some(t) = check_run(&format!("{name}/simnet"), || {
        engine_short_run(engine_short_world(n), n).1
    }) {
        group.throughput(t);
    }
    group.bench_function("simnet", |b| {
        b.iter_batched(
            || engine_short_world(n),
            |w| engine_short_run(w, n),
            BatchSize::PerIteration,
        )
    });
    if let Some(t) = check_run(&format!("{name}/raw_timewait_dropped"), || {
        raw::short(n, raw::Reap::AtTimeWait)
    }) {
        group.throughput(t);
    }
    group.bench_function("raw_timewait_dropped", |b| {
        b.iter(|| raw::short(black_box(n), raw::Reap::AtTimeWait))
    });
    turmoil_check(&format!("{name}/turmoil"), || peer::short(n));
    group.bench_function("turmoil", |b| b.iter(|| peer::short(black_box(n))));

    // The same with 4 KiB socket buffers instead of 64 KiB: allocating and
    // zeroing buffers for 20,000 sockets is a large share of both simnet's
    // and the raw loop's time, and turmoil has no such buffers.
    let small = SMALL_BUFFER_BYTES;
    check_run(&format!("{name}/simnet_4k_buffers"), || {
        engine_short_run(engine_short_world_with(n, small), n).1
    });
    group.bench_function("simnet_4k_buffers", |b| {
        b.iter_batched(
            || engine_short_world_with(n, small),
            |w| engine_short_run(w, n),
            BatchSize::PerIteration,
        )
    });
    check_run(&format!("{name}/raw_timewait_dropped_4k_buffers"), || {
        raw::short_with(n, raw::Reap::AtTimeWait, small)
    });
    group.bench_function("raw_timewait_dropped_4k_buffers", |b| {
        b.iter(|| raw::short_with(black_box(n), raw::Reap::AtTimeWait, small))
    });
    group.finish();
}

fn concurrent(c: &mut Criterion) {
    let sizes = sizes();
    let (n, k) = (sizes.concurrent_connections, sizes.exchanges);
    let name = format!("concurrent{}", sizes.suffix);
    let mut group = flat_group(
        c,
        &name,
        sizes.timing(Duration::from_millis(500), Duration::from_secs(4)),
    );
    let default = TcpConfig::default().rx_buffer_bytes;
    if let Some(t) = check_run(&format!("{name}/simnet"), || {
        simnet_concurrent_run(simnet_concurrent_world(n, k, default), n, k)
    }) {
        group.throughput(t);
    }
    group.bench_function("simnet", |b| {
        b.iter_batched(
            || simnet_concurrent_world(n, k, default),
            |w| simnet_concurrent_run(w, n, k),
            BatchSize::PerIteration,
        )
    });
    turmoil_check(&format!("{name}/turmoil"), || peer::concurrent(n, k));
    group.bench_function("turmoil", |b| b.iter(|| peer::concurrent(black_box(n), k)));
    let small = SMALL_BUFFER_BYTES;
    check_run(&format!("{name}/simnet_4k_buffers"), || {
        simnet_concurrent_run(simnet_concurrent_world(n, k, small), n, k)
    });
    group.bench_function("simnet_4k_buffers", |b| {
        b.iter_batched(
            || simnet_concurrent_world(n, k, small),
            |w| simnet_concurrent_run(w, n, k),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn idle_sockets(c: &mut Criterion) {
    let sizes = sizes();
    let name = format!("idle_sockets{}", sizes.suffix);
    let mut group = c.benchmark_group(&name);
    let (warm_up, measurement) = sizes.timing(Duration::from_millis(300), Duration::from_secs(2));
    group
        .sample_size(20)
        .warm_up_time(warm_up)
        .measurement_time(measurement);
    // Each exchange is two packets: the request, and the echo that also
    // acknowledges it (the next request acknowledges the echo).
    group.throughput(Throughput::Elements(2 * EXCHANGES_PER_ITER));
    for &extra in &sizes.idle_sockets {
        let id = BenchmarkId::from_parameter(extra);
        if !selected(&format!("{name}/{extra}")) {
            continue;
        }
        let (mut world, pinger) = idle_sockets_world(extra);
        // Check the packet count the throughput assumes.
        idle_sockets_step(&mut world, pinger, 1);
        let before = world.trace().records.len();
        assert_eq!(before, 0);
        let start = world.now();
        let target = world
            .app::<Exchanger>(pinger)
            .expect("runs")
            .completed_exchanges
            + EXCHANGES_PER_ITER;
        while world
            .app::<Exchanger>(pinger)
            .is_some_and(|a| a.completed_exchanges < target)
        {
            world.step();
        }
        let packets = engine_packets(&world);
        println!(
            "{name}/{extra}: {packets} packets for {EXCHANGES_PER_ITER} exchanges in {:.3} s simulated",
            (world.now() - start).as_secs_f64()
        );
        assert_eq!(packets, 2 * EXCHANGES_PER_ITER, "two packets per exchange");
        drop(world.take_trace());
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| idle_sockets_step(&mut world, pinger, EXCHANGES_PER_ITER))
                    .sum()
            })
        });
    }
    group.finish();
}

fn idle_hour(c: &mut Criterion) {
    let sizes = sizes();
    let n = sizes.idle_hour_connections;
    let name = format!("idle_hour{}", sizes.suffix);
    let mut group = flat_group(
        c,
        &name,
        sizes.timing(Duration::from_millis(300), Duration::from_secs(4)),
    );
    if let Some(t) = check_run(&format!("{name}/simnet"), || {
        let world = idle_hour_run(idle_hour_world(n));
        for host in ["client", "server"] {
            let id = world.host_id(host).expect("host");
            assert_eq!(world.count_sockets(id, TcpState::Established), n);
        }
        println!("{name}/simnet: {} events", world.events_processed());
        RunStats {
            packets: engine_packets(&world),
            simulated_us: world.now().as_micros(),
            peak_sockets: 0,
        }
    }) {
        group.throughput(t);
    }
    group.bench_function("simnet", |b| {
        b.iter_batched(
            || idle_hour_world(n),
            idle_hour_run,
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    short_connections,
    concurrent,
    idle_sockets,
    idle_hour
);
criterion_main!(benches);

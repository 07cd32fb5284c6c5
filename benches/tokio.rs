//! Bring your own code at scale (issue 20's target): 1,000 concurrent hyper
//! keep-alive clients, each doing 10 GETs one after another on its one
//! connection, against one hyper HTTP/1.1 server, on simnet (through
//! `simnet-tokio`, over smoltcp TCP) and on turmoil 0.7.2, side by side in
//! one run. Target: simnet within 2× of turmoil's wall time.
//!
//! The program is the same on both: `serve_connection` and `fetch` below
//! are generic over the stream, and only the listener, the connect call and
//! the way a host runs differ. One server host, one client host, 1 ms
//! latency each way. On simnet the client host's one `AsyncApp` task
//! spawns the 1,000 client tasks with `tokio::spawn`; on turmoil the
//! client's one task does the same. Each run ends when every client task
//! has finished (the FINs still in flight are not waited for, on either).
//!
//! Prints, for each simulator, the median wall time of the timed runs and
//! requests per second, then the ratio, and for simnet the packets sent,
//! the events the world processed (`World::events_processed`) and the wall
//! time per packet and per event, with the time spent inside the client's
//! and the server's tokio runtimes (measured by wrapping each `AsyncApp`),
//! to say where the difference goes.
//!
//! `SIMNET_BENCH_PROFILE=simnet` (or `turmoil`) runs one of them 20 times
//! and prints nothing, for a profiler (`perf record`, see
//! `benches/README.md`).
//!
//! `SIMNET_BENCH_QUICK=1` (or `--test`, as `cargo test --benches` runs it)
//! runs 100 clients × 2 requests, once each. Run with
//! `cargo bench --bench tokio`.

#![allow(missing_docs, reason = "a bench binary exports nothing")]
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a bench may read the wall clock; the simulation never does"
)]

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use simnet::{
    App, AppContext, HostConfig, LinkParams, SimDuration, SimTime, SocketEvent, TimerId,
    TraceEvent, WorldBuilder,
};
use simnet_tokio::{AsyncApp, Outcome, TaskReport};
use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const PORT: u16 = 80;

/// How big the workload is and how often it is timed.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    clients: usize,
    requests: usize,
    /// Timed runs of each simulator (after one untimed warm-up each).
    runs: usize,
}

fn sizes() -> Sizes {
    let quick = std::env::var("SIMNET_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
        || std::env::args().any(|a| a == "--test")
        || !std::env::args().any(|a| a == "--bench");
    if quick {
        Sizes {
            clients: 100,
            requests: 2,
            runs: 1,
        }
    } else {
        Sizes {
            clients: 1_000,
            requests: 10,
            runs: 5,
        }
    }
}

// ----- the program, the same on both ------------------------------------------------

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello from {}",
        req.uri().path()
    )))))
}

/// The server's side of one connection: hyper's HTTP/1.1 server.
async fn serve_connection<S>(stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(hello))
        .await;
}

/// One client: `requests` GETs one after another on one keep-alive
/// connection; returns how many came back 200 with the expected body.
async fn fetch<S>(stream: S, requests: usize) -> Result<usize, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let mut ok = 0;
    for i in 0..requests {
        let path = format!("/{i}");
        let req = Request::get(path.as_str())
            .header("host", "server")
            .body(Empty::<Bytes>::new())?;
        let res = sender.send_request(req).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        if status == 200 && body == format!("hello from {path}").as_bytes() {
            ok += 1;
        }
    }
    drop(sender);
    conn.await??;
    Ok(ok)
}

// ----- simnet -----------------------------------------------------------------------

/// An `AsyncApp` whose callbacks are timed, to tell the tokio runtime's
/// share (tasks, hyper, the adapter) from the engine's.
struct Timed {
    app: AsyncApp,
    spent: Rc<Cell<Duration>>,
}

impl Timed {
    fn time(&mut self, f: impl FnOnce(&mut AsyncApp)) {
        let start = Instant::now();
        f(&mut self.app);
        self.spent.set(self.spent.get() + start.elapsed());
    }
}

impl App for Timed {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.time(|a| a.start(cx));
    }
    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        self.time(|a| a.on_socket(cx, event));
    }
    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        self.time(|a| a.on_timer(cx, timer));
    }
}

/// What one simnet run did.
struct SimnetRun {
    wall: Duration,
    simulated: SimTime,
    packets: u64,
    events: u64,
    /// Wall time inside the client's and the server's `AsyncApp` callbacks.
    client_app: Duration,
    server_app: Duration,
}

/// The server's main task on simnet.
async fn simnet_server() -> Result<(), BoxError> {
    let listener = simnet_tokio::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve_connection(stream));
    }
}

fn simnet_run(sizes: Sizes) -> SimnetRun {
    let Sizes {
        clients, requests, ..
    } = sizes;
    let start = Instant::now();
    let mut b = WorldBuilder::new(1);
    let client = b.host("client", [10, 0, 0, 1].into());
    // Every client connects at once: room for all of them in the accept
    // queue, as turmoil has no limit.
    let server_config = HostConfig {
        backlog: clients,
        ..HostConfig::default()
    };
    let server = b.host_with("server", [10, 0, 0, 2].into(), server_config);
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(1)),
    );
    let server_spent = Rc::new(Cell::new(Duration::ZERO));
    let client_spent = Rc::new(Cell::new(Duration::ZERO));
    let spent = server_spent.clone();
    b.app(server, "hyper-server", move || Timed {
        app: AsyncApp::new(simnet_server),
        spent: spent.clone(),
    });
    let report = TaskReport::new();
    let (spent, task_report) = (client_spent.clone(), report.clone());
    b.app(client, "hyper-clients", move || Timed {
        app: AsyncApp::new(move || async move {
            let tasks: Vec<_> = (0..clients)
                .map(|_| {
                    tokio::spawn(async move {
                        let stream =
                            simnet_tokio::net::TcpStream::connect(("server", PORT)).await?;
                        fetch(stream, requests).await
                    })
                })
                .collect();
            let mut ok = 0;
            for t in tasks {
                ok += t.await??;
            }
            if ok == clients * requests {
                Ok::<(), BoxError>(())
            } else {
                Err(format!("{ok} good responses of {}", clients * requests).into())
            }
        })
        .report_to(task_report.clone()),
        spent: spent.clone(),
    });
    let mut world = b.build().expect("a valid world");
    world.run_while_not(|_| !report.outcomes().is_empty());
    assert_eq!(
        report
            .outcomes()
            .into_iter()
            .map(|(_, o)| o)
            .collect::<Vec<_>>(),
        vec![Outcome::Finished],
        "every client got every response"
    );
    let packets = world
        .trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .count() as u64;
    let (simulated, events) = (world.now(), world.events_processed());
    // Dropped inside the timing, as turmoil's simulation is.
    drop(world);
    SimnetRun {
        wall: start.elapsed(),
        simulated,
        packets,
        events,
        client_app: client_spent.get(),
        server_app: server_spent.get(),
    }
}

// ----- turmoil ----------------------------------------------------------------------

/// The same program on turmoil 0.7.2 (1 ms latency, its default 1 ms
/// tick); returns the simulated time.
fn turmoil_run(sizes: Sizes) -> Duration {
    let Sizes {
        clients, requests, ..
    } = sizes;
    let mut sim = turmoil::Builder::new()
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(3600))
        // As in benches/scale.rs: turmoil 0.7.2 drops a FIN that arrives
        // while a socket's receive queue (this many segments) is full.
        .tcp_capacity(4096)
        .build();
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve_connection(stream));
        }
    });
    sim.client("client", async move {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                tokio::spawn(async move {
                    let stream = turmoil::net::TcpStream::connect(("server", PORT)).await?;
                    fetch(stream, requests).await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += t.await?.map_err(|e| e.to_string())?;
        }
        assert_eq!(ok, clients * requests, "every client got every response");
        Ok(())
    });
    sim.run().expect("the turmoil run finishes");
    sim.elapsed()
}

// ----- the report -------------------------------------------------------------------

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let sizes = sizes();
    if let Ok(only) = std::env::var("SIMNET_BENCH_PROFILE") {
        // For a profiler: one simulator, run over and over, nothing printed.
        for _ in 0..sizes.runs * 4 {
            match only.as_str() {
                "simnet" => drop(simnet_run(sizes)),
                _ => drop(turmoil_run(sizes)),
            }
        }
        return;
    }
    let Sizes {
        clients,
        requests,
        runs,
    } = sizes;
    let total = (clients * requests) as f64;
    println!(
        "tokio: {clients} concurrent hyper keep-alive clients × {requests} GETs, \
         1 ms latency; median of {runs} timed run(s) each, alternating, after one warm-up each"
    );

    // Warm-ups (first-run effects: the allocator, page faults, turmoil's
    // and simnet's pools), then alternate so load on the shared machine
    // falls on both alike.
    let check = simnet_run(sizes);
    let turmoil_simulated = turmoil_run(sizes);
    let mut simnet_runs = Vec::new();
    let mut turmoil_walls = Vec::new();
    for _ in 0..runs {
        simnet_runs.push(simnet_run(sizes));
        let start = Instant::now();
        turmoil_run(sizes);
        turmoil_walls.push(start.elapsed());
    }
    simnet_runs.sort_by_key(|r| r.wall);
    let s = &simnet_runs[simnet_runs.len() / 2];
    assert_eq!(
        (s.packets, s.events),
        (check.packets, check.events),
        "runs are deterministic"
    );
    let t = median(turmoil_walls);

    println!(
        "tokio/simnet: {:.1} ms wall, {:.0} requests/s; {:.3} s simulated; \
         {} packets, {} events ({:.2} per packet); {:.3} µs per packet, {:.3} µs per event",
        ms(s.wall),
        total / s.wall.as_secs_f64(),
        s.simulated.as_micros() as f64 / 1e6,
        s.packets,
        s.events,
        s.events as f64 / s.packets as f64,
        s.wall.as_secs_f64() * 1e6 / s.packets as f64,
        s.wall.as_secs_f64() * 1e6 / s.events as f64,
    );
    let apps = s.client_app + s.server_app;
    println!(
        "tokio/simnet, where the time goes: tokio runtimes (tasks, hyper, the adapter, and the \
         socket calls they make) {:.1} ms = {:.0} % (client {:.1} ms, server {:.1} ms); \
         the rest (world, hosts, smoltcp, trace, building and dropping the world) {:.1} ms",
        ms(apps),
        100.0 * apps.as_secs_f64() / s.wall.as_secs_f64(),
        ms(s.client_app),
        ms(s.server_app),
        ms(s.wall.saturating_sub(apps)),
    );
    println!(
        "tokio/turmoil: {:.1} ms wall, {:.0} requests/s; {:.3} s simulated",
        ms(t),
        total / t.as_secs_f64(),
        turmoil_simulated.as_secs_f64(),
    );
    let ratio = s.wall.as_secs_f64() / t.as_secs_f64();
    println!(
        "tokio: simnet / turmoil = {ratio:.2}× (target: within 2×: {})",
        if ratio <= 2.0 { "met" } else { "not met" }
    );
}

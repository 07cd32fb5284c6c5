//! The chaos property: whatever the network does, every byte arrives intact,
//! in order and exactly once, or the application is told why not; nothing
//! panics; every run ends within its limits.
//!
//! Each case is a small world (a client and a server on one link) with a
//! random mix of loss, duplication, reordering, corruption, jitter, a
//! bandwidth limit, and at most one disruption (a partition, a link going
//! down, or a crash and restart), over one workload: a bulk TCP transfer,
//! HTTP requests, or WebSocket messages echoed back. Both hosts use TCP
//! keepalive (2 s) and a user timeout (30 s), so a dead peer is always
//! found out. Cases are kept small
//! (KiBs, seconds of simulated time) so that many of them run in minutes.
//!
//! The number of cases is `SIMNET_PROPERTY_CASES`, by default 10,000 in a
//! release build (about 3 s; CI runs it) and 2,000 in the debug build of the
//! normal `cargo test`:
//!
//! ```text
//! cargo test --release --test properties
//! SIMNET_PROPERTY_CASES=100000 cargo test --release --test properties
//! ```
//!
//! With `SIMNET_PROPERTY_TRACE=1`, a failing case prints its text trace.

#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the test reads the wall clock only to bound and report how long cases take; the simulation never does"
)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use simnet::apps::{BulkSender, Sink};
use simnet::host::HostConfig;
use simnet::{
    Action, EndReason, LinkParams, Probability, RunLimits, SimDuration, SimTime, Trace, TraceEvent,
    WorldBuilder,
};
use simnet::{SocketId, TcpState};
use simnet_http::apps::{HttpClient, HttpServer, Route, RouteKind};
use simnet_http::proto::ServerConfig;
use simnet_ws::apps::{CloseAfter, ServerMode, WsClient, WsServer};
use simnet_ws::proto::conn::Message;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Totals over the cases run, for the closing line.
static EVENTS: AtomicU64 = AtomicU64::new(0);
static CASES_RUN: AtomicU64 = AtomicU64::new(0);
static SLOWEST_US: AtomicU64 = AtomicU64::new(0);

/// Where a run stops at the latest, in simulated time. Faults end within
/// the first few seconds, so a run that gets here has stalled.
const MAX_TIME: SimTime = SimTime::from_secs(600);

/// The most events a case may take; far above what any case needs, so
/// reaching it means a runaway.
const MAX_EVENTS: u64 = 2_000_000;

/// The most wall-clock time one case may take in a release build (a
/// generous bound on a shared machine: cases take milliseconds).
const MAX_WALL: Duration = Duration::from_secs(20);

/// What the link does to every frame.
#[derive(Clone, Debug)]
struct Faults {
    loss_ppm: u32,
    duplicate_ppm: u32,
    reorder_ppm: u32,
    corrupt_ppm: u32,
    jitter_ms: u64,
    latency_ms: u64,
    bandwidth_bps: Option<u64>,
    /// What is between client and server: nothing (one link), or a router
    /// whose link to the server has these faults, with a drop-tail, CoDel
    /// or fq_codel queue, or doing NAT.
    path: Path,
}

#[derive(Clone, Debug)]
enum Path {
    Direct,
    Router(simnet::Qdisc),
    Nat,
}

/// At most one disruption, at a time in the first seconds, undone later.
#[derive(Clone, Debug)]
enum Disruption {
    None,
    /// Client and server cut apart, then healed.
    Partition {
        at_ms: u64,
        for_ms: u64,
    },
    /// The link down, then up.
    LinkDown {
        at_ms: u64,
        for_ms: u64,
    },
    /// The server crashed, then restarted (the client must hear).
    CrashRestart {
        at_ms: u64,
        for_ms: u64,
    },
    /// The client crashed, then restarted: its applications start again
    /// from scratch, on a port the server may still hold a connection for.
    ClientCrashRestart {
        at_ms: u64,
        for_ms: u64,
    },
}

/// What the applications do.
#[derive(Clone, Debug)]
enum Workload {
    /// `bytes` of the pattern stream, checked by the sink.
    Bulk { bytes: u64 },
    /// `requests` GETs of a `body`-byte response, `pipeline` deep.
    Http {
        requests: u64,
        body: usize,
        pipeline: usize,
    },
    /// Text messages of these sizes, echoed back.
    Ws { sizes: Vec<usize> },
}

fn faults() -> impl Strategy<Value = Faults> {
    (
        0u32..=200_000,
        0u32..=100_000,
        0u32..=100_000,
        0u32..=50_000,
        0u64..=20,
        1u64..=30,
        prop_oneof![Just(None), (64_000u64..=100_000_000).prop_map(Some),],
        prop_oneof![
            4 => Just(Path::Direct),
            1 => Just(Path::Router(simnet::Qdisc::DropTail)),
            1 => Just(Path::Router(simnet::Qdisc::Codel(Default::default()))),
            1 => Just(Path::Router(simnet::Qdisc::FqCodel(Default::default()))),
            1 => Just(Path::Nat),
        ],
    )
        .prop_map(
            |(loss, dup, reorder, corrupt, jitter, latency, bw, path)| Faults {
                loss_ppm: loss,
                duplicate_ppm: dup,
                reorder_ppm: reorder,
                corrupt_ppm: corrupt,
                jitter_ms: jitter,
                latency_ms: latency,
                bandwidth_bps: bw,
                path,
            },
        )
}

fn disruption() -> impl Strategy<Value = Disruption> {
    let window = (0u64..3_000, 1u64..4_000);
    prop_oneof![
        2 => Just(Disruption::None),
        1 => window.clone().prop_map(|(at_ms, for_ms)| Disruption::Partition { at_ms, for_ms }),
        1 => window.clone().prop_map(|(at_ms, for_ms)| Disruption::LinkDown { at_ms, for_ms }),
        1 => window.clone().prop_map(|(at_ms, for_ms)| Disruption::CrashRestart { at_ms, for_ms }),
        1 => window.prop_map(|(at_ms, for_ms)| Disruption::ClientCrashRestart { at_ms, for_ms }),
    ]
}

fn workload() -> impl Strategy<Value = Workload> {
    prop_oneof![
        (1u64..=256 * 1024).prop_map(|bytes| Workload::Bulk { bytes }),
        (1u64..=10, 0usize..=32 * 1024, 1usize..=4).prop_map(|(requests, body, pipeline)| {
            Workload::Http {
                requests,
                body,
                pipeline,
            }
        }),
        proptest::collection::vec(0usize..=8 * 1024, 1..=10)
            .prop_map(|sizes| Workload::Ws { sizes }),
    ]
}

/// The `kind` app events of a trace, with their fields.
fn app_events<'a>(
    trace: &'a Trace,
    kinds: &'a [&str],
) -> impl Iterator<Item = &'a simnet::AppEvent> + 'a {
    trace.records.iter().filter_map(move |r| match &r.event {
        TraceEvent::App { event, .. } if kinds.contains(&event.kind.as_ref()) => Some(&**event),
        _ => None,
    })
}

fn int_field(e: &simnet::AppEvent, name: &str) -> Option<i64> {
    match e.field(name) {
        Some(simnet::FieldValue::Int(n)) => Some(*n),
        _ => None,
    }
}

/// The text of WebSocket message `i` of `size` bytes: its number first, so
/// that a message delivered twice or out of order cannot pass for another.
fn ws_text(i: usize, size: usize) -> String {
    let mut t = format!("m{i}:");
    while t.len() < size {
        t.push(char::from(b'a' + (t.len() % 26) as u8));
    }
    t
}

/// Runs one case and checks it; with `SIMNET_PROPERTY_TRACE` set, a
/// failing case prints its text trace (the last one printed is the minimal
/// case proptest shrank to).
fn run_case(seed: u64, f: &Faults, d: &Disruption, w: &Workload) -> Result<(), TestCaseError> {
    let mut trace_text = String::new();
    let result = check_case(seed, f, d, w, &mut trace_text);
    if result.is_err() && std::env::var_os("SIMNET_PROPERTY_TRACE").is_some() {
        eprintln!("{trace_text}");
    }
    result
}

fn check_case(
    seed: u64,
    f: &Faults,
    d: &Disruption,
    w: &Workload,
    trace_text: &mut String,
) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let params = LinkParams {
        latency: SimDuration::from_millis(f.latency_ms),
        jitter: SimDuration::from_millis(f.jitter_ms),
        jitter_reorders: true,
        loss: Probability::from_ppm(f.loss_ppm),
        duplicate: Probability::from_ppm(f.duplicate_ppm),
        reorder: Probability::from_ppm(f.reorder_ppm),
        reorder_delay: SimDuration::from_millis(7),
        corrupt: Probability::from_ppm(f.corrupt_ppm),
        bandwidth_bps: f.bandwidth_bps,
        ..LinkParams::default()
    };
    let mut b = WorldBuilder::new(seed);
    // Both hosts probe idle connections and give up on unacknowledged data,
    // as a careful deployment would: without keepalive, a client reading
    // from a server that crashed waits forever, silently (that is TCP, not
    // a bug), and without a user timeout so does a SYN that is never
    // answered.
    let mut host = HostConfig::default();
    host.tcp.keep_alive = Some(SimDuration::from_secs(2));
    host.tcp.user_timeout = Some(SimDuration::from_secs(30));
    let client = b.host_with("client", [10, 0, 0, 1].into(), host.clone());
    let server = b.host_with("server", [10, 0, 0, 2].into(), host);
    // With a router, the faults are on its link to the server, and the
    // disruptions cut the client off from it.
    let (link, near) = match f.path.clone() {
        Path::Direct => (b.link(client, server, params), server),
        Path::Router(qdisc) => {
            let r = b.router("r", [10, 0, 1, 254].into());
            b.link(client, r, LinkParams::default());
            let qdisc = if params.bandwidth_bps.is_some() {
                qdisc
            } else {
                simnet::Qdisc::DropTail
            };
            let link = b.link(r, server, LinkParams { qdisc, ..params });
            b.gateway(client, r).gateway(server, r);
            (link, r)
        }
        Path::Nat => {
            let r = b.router("nat", [10, 0, 1, 254].into());
            b.link(client, r, LinkParams::default());
            let link = b.link(r, server, params);
            b.gateway(client, r);
            b.nat(
                r,
                simnet::NatConfig {
                    outside: server,
                    idle_timeout: SimDuration::from_secs(20),
                    on_expired: simnet::NatExpiredAction::Reset,
                    first_port: 1024,
                },
            );
            (link, r)
        }
    };
    let remote = "10.0.0.2:80".parse().unwrap();
    let (client_app, server_app) = match w.clone() {
        Workload::Bulk { bytes } => (
            b.app(client, "bulk", move || BulkSender::new(remote, bytes)),
            b.app(server, "sink", || Sink::new(80)),
        ),
        Workload::Http {
            requests,
            body,
            pipeline,
        } => {
            let s = b.app(server, "http-server", move || {
                let route = Route {
                    path: "/".to_string(),
                    kind: RouteKind::Static {
                        status: 200,
                        body_bytes: body as u64,
                        delay: SimDuration::ZERO,
                    },
                };
                HttpServer::new(80, ServerConfig::default(), vec![route])
            });
            let c = b.app(client, "http-client", move || {
                HttpClient::new(remote, "server", "/", requests).pipeline(pipeline)
            });
            (c, s)
        }
        Workload::Ws { sizes } => {
            let s = b.app(server, "ws-server", || WsServer::new(80, ServerMode::Echo));
            let c = b.app(client, "ws-client", move || {
                let texts = sizes
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| ws_text(i, n))
                    .collect();
                WsClient::new(remote, "server", "/")
                    .send(texts)
                    .close_after(CloseAfter::WhenDone)
            });
            (c, s)
        }
    };
    let ms = SimTime::from_millis;
    match *d {
        Disruption::None => {}
        Disruption::Partition { at_ms, for_ms } => {
            b.at(ms(at_ms), Action::Partition(vec![client], vec![near]));
            b.at(ms(at_ms + for_ms), Action::Heal);
        }
        Disruption::LinkDown { at_ms, for_ms } => {
            b.at(ms(at_ms), Action::LinkDown(link));
            b.at(ms(at_ms + for_ms), Action::LinkUp(link));
        }
        Disruption::CrashRestart { at_ms, for_ms } => {
            // The server crashes: the client must hear of it (a reset from
            // the restarted server). A crashed and restarted *client* can
            // wait forever: see `a_restarted_client_reusing_its_port_is_told`.
            b.at(ms(at_ms), Action::Crash(server));
            b.at(ms(at_ms + for_ms), Action::Restart(server));
        }
        Disruption::ClientCrashRestart { at_ms, for_ms } => {
            b.at(ms(at_ms), Action::Crash(client));
            b.at(ms(at_ms + for_ms), Action::Restart(client));
        }
    }
    b.limits(RunLimits {
        max_time: MAX_TIME,
        max_events: MAX_EVENTS,
        ..RunLimits::default()
    });
    let mut world = b.build().expect("the world builds");
    let end = world.run();
    EVENTS.fetch_add(world.events_processed(), Ordering::Relaxed);
    CASES_RUN.fetch_add(1, Ordering::Relaxed);
    SLOWEST_US.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    prop_assert!(
        matches!(end, EndReason::Idle | EndReason::TimeLimit(_)),
        "the run ended with {end:?}, not idle or at its time limit"
    );
    let trace = world.trace();
    if std::env::var_os("SIMNET_PROPERTY_TRACE").is_some() {
        *trace_text = simnet::render_text(trace, &simnet::TextOptions::default());
    }

    match w {
        Workload::Bulk { bytes } => {
            let sink = world.app::<Sink>(server_app).expect("the sink");
            prop_assert_eq!(
                sink.first_mismatch,
                None,
                "a byte arrived changed or out of order"
            );
            let eofs: Vec<i64> = app_events(trace, &["sink.eof"])
                .filter_map(|e| int_field(e, "bytes"))
                .collect();
            for &got in &eofs {
                prop_assert_eq!(
                    got as u64,
                    *bytes,
                    "a stream ended cleanly with the wrong length"
                );
            }
            // The sender closes its socket once everything is written, and
            // a closed socket has no one left to tell (as with POSIX
            // close()): then the trace's data-lost record is what says why.
            // A sender whose connection ended without such a record had
            // every byte acknowledged, so every byte reached the sink (the
            // sink may still miss its end of stream, if the server crashes
            // before the FIN gets through: that loses no data).
            let mut last: BTreeMap<SocketId, TcpState> = BTreeMap::new();
            for (_, sid, _, to) in trace.tcp_states(client) {
                last.insert(sid, to);
            }
            let open: Vec<_> = last
                .iter()
                .filter(|(_, s)| {
                    !matches!(
                        s,
                        TcpState::Closed | TcpState::TimeWait | TcpState::FinWait2
                    )
                })
                .collect();
            prop_assert!(
                open.is_empty(),
                "the sender's connection never ended: {open:?} (run ended {end:?})"
            );
            let told = app_events(trace, &["tcp.failed", "tcp.connect-failed"]).count()
                + trace
                    .records
                    .iter()
                    .filter(
                        |r| matches!(r.event, TraceEvent::DataLost { host, .. } if host == client),
                    )
                    .count();
            let sender = world.app::<BulkSender>(client_app).expect("the sender");
            prop_assert!(
                !eofs.is_empty() || told > 0 || sender.finished_writing_at.is_some(),
                "the transfer neither completed nor failed visibly (run ended {end:?})"
            );
        }
        Workload::Http { requests, body, .. } => {
            let c = world.app::<HttpClient>(client_app).expect("the client");
            let mut seen: Vec<u64> = c.responses.iter().map(|r| r.index).collect();
            seen.sort_unstable();
            let before = seen.len();
            seen.dedup();
            prop_assert_eq!(seen.len(), before, "a request was answered twice");
            prop_assert!(
                c.responses.iter().all(|r| r.status == 200),
                "{:?}",
                c.responses
            );
            for e in app_events(trace, &["http.response"]) {
                prop_assert_eq!(
                    int_field(e, "bytes"),
                    Some(*body as i64),
                    "a body arrived cut or padded"
                );
            }
            prop_assert_eq!(
                c.responses.len() as u64 + c.failures,
                *requests,
                "every request is answered or reported failed, exactly once (run ended {:?})",
                end
            );
            let errors = app_events(trace, &["http.error"]).count() as u64;
            prop_assert_eq!(
                errors,
                c.failures,
                "every failed request has its http.error event"
            );
        }
        Workload::Ws { sizes } => {
            let c = world.app::<WsClient>(client_app).expect("the client");
            let sent: Vec<String> = sizes
                .iter()
                .enumerate()
                .map(|(i, &n)| ws_text(i, n))
                .collect();
            let got: Vec<&str> = c
                .received
                .iter()
                .map(|m| match m {
                    Message::Text(t) => t.as_str(),
                    Message::Binary(_) => "<binary>",
                })
                .collect();
            prop_assert!(
                got.len() <= sent.len(),
                "more messages came back than were sent"
            );
            for (g, s) in got.iter().zip(&sent) {
                prop_assert_eq!(
                    *g,
                    s.as_str(),
                    "a message came back changed, twice or out of order"
                );
            }
            if got.len() < sent.len() {
                let told = app_events(
                    trace,
                    &[
                        "ws.error",
                        "ws.lost",
                        "ws.close-timeout",
                        "ws.connect-failed",
                        "tcp.failed",
                    ],
                )
                .count()
                    + app_events(trace, &["ws.upgrade"])
                        .filter(|e| matches!(e.field("ok"), Some(simnet::FieldValue::Bool(false))))
                        .count();
                if told == 0 && std::env::var_os("SIMNET_PROPERTY_TRACE").is_some() {
                    *trace_text = simnet::render_text(trace, &simnet::TextOptions::default());
                }
                prop_assert!(
                    told > 0,
                    "{} of {} messages came back and the client was not told why (run ended {end:?})",
                    got.len(),
                    sent.len()
                );
            }
        }
    }
    if !cfg!(debug_assertions) {
        prop_assert!(
            started.elapsed() < MAX_WALL,
            "the case took {:?}",
            started.elapsed()
        );
    }
    Ok(())
}

/// `SIMNET_PROPERTY_CASES`, or 10,000 in a release build and 2,000 in a
/// debug build (the normal `cargo test`).
fn cases() -> u32 {
    let default = if cfg!(debug_assertions) {
        2_000
    } else {
        10_000
    };
    std::env::var("SIMNET_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_byte_arrives_once_in_order_or_the_application_is_told() {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let result = runner.run(
        &(any::<u64>(), faults(), disruption(), workload()),
        |(seed, f, d, w)| run_case(seed, &f, &d, &w),
    );
    eprintln!(
        "{} cases run ({} asked for) in {:.1} s, {} events in all, slowest case {:.1} ms",
        CASES_RUN.load(Ordering::Relaxed),
        cases(),
        started.elapsed().as_secs_f64(),
        EVENTS.load(Ordering::Relaxed),
        SLOWEST_US.load(Ordering::Relaxed) as f64 / 1000.0
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Found by the chaos property: a client host that crashes and restarts
/// reuses its first ephemeral port, so its new SYN carries the 4-tuple of
/// the connection the server still holds (half-open). The server answers
/// nothing (no challenge ACK, RFC 5961 §4), and smoltcp retries the SYN
/// forever with no connect timeout, so the restarted sender is never told:
/// the run reaches its time limit with the transfer neither done nor failed.
/// Ignored until the host answers a SYN on an established connection (or
/// connects time out, or ports are not reused after a restart).
#[test]
#[ignore = "known gap found by the property test: a restarted client reusing its port waits forever"]
fn a_restarted_client_reusing_its_port_is_told() {
    let mut b = WorldBuilder::new(1);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(5)),
    );
    let remote = "10.0.0.2:80".parse().unwrap();
    b.app(client, "bulk", move || BulkSender::new(remote, 100_000));
    b.app(server, "sink", || Sink::new(80));
    // The crash comes mid-transfer, while the server's connection is open.
    b.at(SimTime::from_millis(30), Action::Crash(client));
    b.at(SimTime::from_millis(60), Action::Restart(client));
    b.limits(RunLimits {
        max_time: MAX_TIME,
        max_events: MAX_EVENTS,
        ..RunLimits::default()
    });
    let mut world = b.build().unwrap();
    world.run();
    let trace = world.trace();
    let done = app_events(trace, &["sink.eof"]).count();
    let told = app_events(trace, &["tcp.failed", "tcp.connect-failed"]).count();
    if std::env::var_os("SIMNET_PROPERTY_TRACE").is_some() {
        eprintln!("{}", simnet::render_text(trace, &Default::default()));
    }
    assert!(done > 0 || told > 0, "the restarted client was never told");
}

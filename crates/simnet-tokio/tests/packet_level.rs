//! What the packet level finds that the message level cannot: the same
//! tokio code run on turmoil (messages between hosts) and on simnet
//! (smoltcp's TCP, segment by segment), and what each one shows.
//!
//! The application code is written once, in `packet_level/app.rs`, and
//! included twice: in a module that imports `turmoil::net`'s sockets and
//! in one that imports `simnet_tokio::net`'s. The only difference between
//! the two copies is that `use` line.
//!
//! `PACKET_LEVEL_TRACE=1 cargo test -p simnet-tokio --test packet_level --
//! --nocapture` prints simnet's text traces (the excerpts in the book's
//! chapter "Testing your own async code" come from them).

mod common;

use common::{app_events, ms, times_of, two_hosts};
use simnet_core::analysis::{SegmentKind, analyze};
use simnet_core::trace::{Trace, TraceEvent};
use simnet_core::{HostConfig, LinkParams, SimDuration, SimTime, TcpState, WorldBuilder};
use simnet_tokio::{AsyncApp, Event, emit};
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a writer that nobody reads ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// Bytes its writes took.
    pub written: u64,
    /// Writes that returned.
    pub writes: u32,
    /// When the last write returned, since the connection was up.
    pub last_write: Duration,
    /// When it gave up (the timeout fired), since the connection was up.
    pub gave_up: Duration,
}

/// How a loop of one connection per request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requests {
    /// Requests answered.
    pub answered: u32,
    /// The request that failed, how, and when (since the loop started).
    pub failed: Option<(u32, ErrorKind, Duration)>,
}

type BoxError = Box<dyn std::error::Error>;

// ANCHOR: modules
mod on_turmoil {
    use turmoil::net::{TcpListener, TcpStream};
    include!("packet_level/app.rs");
}

mod on_simnet {
    use simnet_tokio::net::{TcpListener, TcpStream};
    include!("packet_level/app.rs");
}
// ANCHOR_END: modules

/// A turmoil simulation like `two_hosts`: messages take 10 ms.
fn turmoil_sim<'a>(ephemeral: Option<std::ops::RangeInclusive<u16>>) -> turmoil::Sim<'a> {
    let mut b = turmoil::Builder::new();
    b.simulation_duration(Duration::from_secs(60))
        .min_message_latency(Duration::from_millis(10))
        .max_message_latency(Duration::from_millis(10));
    if let Some(range) = ephemeral {
        b.ephemeral_ports(range);
    }
    b.build()
}

/// Prints simnet's text trace when `PACKET_LEVEL_TRACE` is set.
fn show(name: &str, trace: &Trace) {
    if std::env::var_os("PACKET_LEVEL_TRACE").is_some() {
        println!("===== {name}");
        print!(
            "{}",
            simnet_trace::render_text(trace, &simnet_trace::TextOptions::default())
        );
    }
}

// ANCHOR: turmoil-test
#[test]
fn upper_on_turmoil() {
    let mut sim = turmoil::Builder::new().build();
    sim.host("server", on_turmoil::upper_server);
    sim.client("client", async {
        assert_eq!(on_turmoil::upper_client().await?, "HELLO\n");
        Ok(())
    });
    sim.run().unwrap();
}
// ANCHOR_END: turmoil-test

// ANCHOR: simnet-test
#[test]
fn upper_on_simnet() {
    let mut b = WorldBuilder::new(1);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    b.app(server, "upper", || AsyncApp::new(on_simnet::upper_server));
    b.app(client, "client", || {
        AsyncApp::new(|| async {
            assert_eq!(on_simnet::upper_client().await?, "HELLO\n");
            emit(Event::new("client.answered", "HELLO"));
            Ok::<(), BoxError>(())
        })
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(1));
    let trace = world.take_trace();
    // SYN at 0, connected at 20 ms, the line there and back by 40 ms.
    assert_eq!(times_of(&trace, "client.answered"), vec![ms(40)]);
}
// ANCHOR_END: simnet-test

// ---------------------------------------------------------------------
// a. A writer nobody reads: a zero window and window probes.
// ---------------------------------------------------------------------

#[test]
fn a_writer_nobody_reads_stalls_on_a_zero_window_with_probes() {
    let (mut b, client, server) = two_hosts(1);
    b.app(server, "deaf", || AsyncApp::new(on_simnet::deaf_server));
    b.app(client, "eager", || {
        AsyncApp::new(|| async {
            let stuck = on_simnet::eager_writer().await?;
            emit(Event::new("client.gave_up", format!("{stuck:?}")));
            Ok::<(), BoxError>(())
        })
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(40));
    let trace = world.take_trace();
    show("zero window", &trace);
    let _ = (client, server);

    // The client's writes take 256 KiB: 64 KiB in simnet-tokio's write
    // buffer, 64 KiB in its TCP send buffer, 64 KiB in the server's TCP
    // receive buffer, 64 KiB in simnet-tokio's read buffer for the task
    // that never reads. The last write returns at 260 ms (240 ms after the
    // connection came up at 20 ms) and the next one never does: the 30 s
    // timeout fires at exactly 30.02 s.
    let gave_up = app_events(&trace)
        .into_iter()
        .find(|(_, k, _)| k == "client.gave_up")
        .expect("the client gave up");
    assert_eq!(gave_up.0, ms(30_020));
    assert_eq!(
        gave_up.2,
        format!(
            "{:?}",
            Stuck {
                written: 262_144,
                writes: 56,
                last_write: Duration::from_millis(240),
                gave_up: Duration::from_secs(30),
            }
        )
    );

    // The trace: the server's ACK at 250 ms closes the window (win=0) and
    // it stays closed; the client probes it with one byte at 1.26 s, then
    // after 2, 4, 8 and 16 s, and each probe gets win=0 back.
    let analysis = analyze(&trace);
    assert_eq!(analysis.connections.len(), 1);
    let flow = &analysis.connections[0].to_server;
    assert_eq!(flow.zero_windows, vec![(ms(250), None)]);
    assert_eq!(flow.zero_window_periods(), 1);
    assert_eq!(flow.window_probes(), 5);
    let probes: Vec<_> = flow
        .segments
        .iter()
        .filter(|s| s.kind == SegmentKind::WindowProbe)
        .map(|s| (s.time, s.len))
        .collect();
    assert_eq!(
        probes,
        vec![
            (ms(1_260), 1),
            (ms(3_260), 1),
            (ms(7_260), 1),
            (ms(15_260), 1),
            (ms(31_260), 1)
        ]
    );
    let zero_acks: Vec<_> = flow
        .acks
        .iter()
        .filter(|a| a.window == 0)
        .map(|a| a.time)
        .collect();
    assert_eq!(
        zero_acks,
        vec![
            ms(250),
            ms(1_270),
            ms(3_270),
            ms(7_270),
            ms(15_270),
            ms(31_270)
        ]
    );
    // 128 KiB (the server's two buffers) and the probes' byte crossed the
    // wire, and no more.
    assert_eq!(flow.bytes, 131_072 + 1);
}

#[test]
fn on_turmoil_the_writer_stalls_after_64_writes_whatever_their_size() {
    let result = Arc::new(Mutex::new(None));
    let mut sim = turmoil_sim(None);
    sim.host("server", on_turmoil::deaf_server);
    let out = result.clone();
    sim.client("client", async move {
        *out.lock().unwrap() = Some(on_turmoil::eager_writer().await?);
        Ok(())
    });
    sim.run().unwrap();
    // turmoil has back-pressure, counted in messages: each write is one
    // message, and a connection holds 64 (`Builder::tcp_capacity`)
    // unread. So 64 writes of 16 KiB return at once (1 MiB; 64 writes of
    // 1 MiB would take 64 MiB), the 65th waits until the 30 s timeout, and
    // nothing on the way shows why: no window, no probe.
    let stuck = result.lock().unwrap().clone().expect("the client gave up");
    assert_eq!(
        stuck,
        Stuck {
            written: 1_048_576,
            writes: 64,
            last_write: Duration::ZERO,
            gave_up: Duration::from_secs(30),
        }
    );
}

// ---------------------------------------------------------------------
// b. One connection per request: TIME-WAIT uses up the ports.
// ---------------------------------------------------------------------

/// The client's first and last ephemeral port: 50 ports.
const PORTS: (u16, u16) = (49152, 49201);

#[test]
fn a_connection_per_request_runs_out_of_ports_in_time_wait() {
    let mut b = WorldBuilder::new(1);
    let client = b.host_with(
        "client",
        [10, 0, 0, 1].into(),
        HostConfig {
            ephemeral_ports: PORTS,
            ..HostConfig::default()
        },
    );
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    b.app(server, "pong", || AsyncApp::new(on_simnet::pong_server));
    b.app(client, "per-request", || {
        AsyncApp::new(|| async {
            let r = on_simnet::connection_per_request(200).await;
            emit(Event::new("client.done", format!("{r:?}")));
            Ok::<(), BoxError>(())
        })
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(5));
    let trace = world.take_trace();
    show("time-wait", &trace);

    let done = app_events(&trace)
        .into_iter()
        .find(|(_, k, _)| k == "client.done")
        .expect("the loop ended");
    assert_eq!(
        done.2,
        format!(
            "{:?}",
            Requests {
                answered: 50,
                failed: Some((51, ErrorKind::AddrNotAvailable, Duration::from_secs(2))),
            }
        )
    );
    assert_eq!(done.0, ms(2000));
    let time_waits = trace
        .records
        .iter()
        .filter(|r| {
            matches!(&r.event, TraceEvent::TcpState { host, to: TcpState::TimeWait, .. } if *host == client)
        })
        .count();
    // Request 51 finds its 50 ports held: 49 in TIME-WAIT (10 s, until
    // 10.06 s for the first) and the one request 50 just closed.
    assert_eq!(time_waits, 50);
    assert!(
        simnet_trace::render_text(&trace, &simnet_trace::TextOptions::default()).contains(
            "2000.000ms client  app  connect() failed: no ephemeral port available (all 50 in use)"
        )
    );
}

#[test]
fn on_turmoil_a_connection_per_request_never_runs_out() {
    let result = Arc::new(Mutex::new(None));
    let mut sim = turmoil_sim(Some(PORTS.0..=PORTS.1));
    sim.host("server", on_turmoil::pong_server);
    let out = result.clone();
    sim.client("client", async move {
        *out.lock().unwrap() = Some(on_turmoil::connection_per_request(200).await);
        Ok(())
    });
    sim.run().unwrap();
    // A turmoil connection frees its port when it is dropped: no TIME-WAIT,
    // so 50 ports serve 200 connections (and would serve any number).
    assert_eq!(
        result.lock().unwrap().clone(),
        Some(Requests {
            answered: 200,
            failed: None,
        })
    );
}

//! One point of a sweep: a scenario run with one seed, judged, and folded
//! into a few numbers as it goes (no trace is kept).

use simnet_core::analysis::Analyzer;
use simnet_core::trace::{FieldValue, Topology, TraceEvent, TraceRecord, TraceSink};
use simnet_core::{Capture, EndReason, SimTime, TcpState};
use simnet_scenario::{Judge, Outcome, Scenario};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// The numbers a sweep keeps of each run (see [`METRICS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// When the last event happened, in nanoseconds of simulated time.
    pub end_ns: u64,
    /// TCP connections seen.
    pub connections: u64,
    /// Of those, the ones that never completed their handshake (refused,
    /// or their SYNs lost or dropped by a full backlog until the end).
    pub unestablished: u64,
    /// The mean and the longest TCP handshake (SYN to the client's
    /// ESTABLISHED), in nanoseconds, over connections that completed one.
    pub handshake_mean_ns: u64,
    /// See [`Metrics::handshake_mean_ns`].
    pub handshake_max_ns: u64,
    /// The longest connection, from its first packet to its last.
    pub connection_max_ns: u64,
    /// TCP segments sent again.
    pub retransmissions: u64,
    /// Frames lost on links (loss, queues, faults, partitions).
    pub drops: u64,
    /// Application bytes delivered, both directions of every connection.
    pub bytes: u64,
    /// Bytes delivered per second of the span in which data moved, in
    /// bits per second.
    pub goodput_bps: u64,
    /// The most sockets in TIME-WAIT at once, over every host.
    pub peak_time_wait: u64,
    /// The most sockets in CLOSE-WAIT at once.
    pub peak_close_wait: u64,
    /// Messages that reached an application: HTTP responses, WebSocket
    /// messages, Socket.IO-style events.
    pub messages: u64,
    /// The mean and the longest delay with which a published event
    /// reached a subscriber (the `latency` of `*.event` events: long
    /// polling, streaming, WebSocket, Socket.IO-style), in nanoseconds.
    pub delivery_mean_ns: u64,
    /// See [`Metrics::delivery_mean_ns`].
    pub delivery_max_ns: u64,
}

/// The metrics' names, in the order of [`Metrics::values`].
pub use simnet_scenario::overrides::SWEEP_METRICS as METRICS;

impl Metrics {
    /// The values, in the order of [`METRICS`].
    pub fn values(&self) -> [u64; METRICS.len()] {
        [
            self.end_ns,
            self.connections,
            self.unestablished,
            self.handshake_mean_ns,
            self.handshake_max_ns,
            self.connection_max_ns,
            self.retransmissions,
            self.drops,
            self.bytes,
            self.goodput_bps,
            self.peak_time_wait,
            self.peak_close_wait,
            self.messages,
            self.delivery_mean_ns,
            self.delivery_max_ns,
        ]
    }
}

/// What one run of a sweep gives.
#[derive(Clone, Debug)]
pub struct PointResult {
    /// Why the run ended.
    pub end: Option<EndReason>,
    /// One verdict per expectation.
    pub outcomes: Vec<Outcome>,
    /// Its numbers.
    pub metrics: Metrics,
}

/// The counts that the connection analysis does not keep: drops, sockets
/// per state, messages. A few integers per state, whatever the run's size.
#[derive(Default)]
struct Counter {
    last: SimTime,
    drops: u64,
    messages: u64,
    /// Event deliveries: how many, their total and longest delay.
    deliveries: (u64, u128, u64),
    /// Sockets currently in each state, and the most seen at once.
    states: BTreeMap<TcpState, (u64, u64)>,
}

impl TraceSink for Counter {
    fn record(&mut self, _: &Topology, r: &TraceRecord) {
        self.last = r.time;
        match &r.event {
            TraceEvent::FrameDropped { .. } => self.drops += 1,
            TraceEvent::TcpState { from, to, .. } => {
                if let Some((now, _)) = self.states.get_mut(from) {
                    *now = now.saturating_sub(1);
                }
                let (now, peak) = self.states.entry(*to).or_default();
                *now += 1;
                *peak = (*peak).max(*now);
            }
            TraceEvent::App { event, .. } => {
                let kind = event.kind.as_ref();
                if matches!(kind, "http.response" | "ws.message" | "sio.event") {
                    self.messages += 1;
                }
                if kind.ends_with(".event")
                    && let Some(FieldValue::Duration(d)) = event.field("latency")
                {
                    let (n, total, max) = &mut self.deliveries;
                    *n += 1;
                    *total += u128::from(d.as_nanos());
                    *max = (*max).max(d.as_nanos());
                }
            }
            _ => {}
        }
    }
}

/// A sink's state, once the world that shared it is gone.
fn take<T>(rc: Rc<RefCell<T>>) -> T {
    match Rc::try_unwrap(rc) {
        Ok(cell) => cell.into_inner(),
        Err(_) => unreachable!("the world that shared the sinks is gone"),
    }
}

/// Runs `scenario` with `seed` to its time limit, judging its expectations
/// and counting as it goes.
pub fn run_point(scenario: &Scenario, seed: u64) -> PointResult {
    let mut world = scenario.world(Some(seed), None);
    world.set_capture(Capture::Headers);
    let judge = Rc::new(RefCell::new(Judge::sharing_connections(
        &scenario.expectations,
    )));
    let analyzer = Rc::new(RefCell::new(Analyzer::counts_only()));
    let counter = Rc::new(RefCell::new(Counter::default()));
    let sinks: Vec<Box<dyn TraceSink>> = vec![
        Box::new(analyzer.clone()),
        Box::new(judge.clone()),
        Box::new(counter.clone()),
    ];
    world.stream_to(Box::new(sinks));
    let end = world.run_while_not(|_| false);
    let topology = world.trace().topology.clone();
    drop(world);
    let analysis = take(analyzer).finish();
    let judge: Judge = take(judge);
    let counter: Counter = take(counter);
    let outcomes = judge.finish_with(
        &topology,
        &scenario.app_names(),
        Some(&analysis.connections),
    );
    let conns = &analysis.connections;
    let handshakes: Vec<u64> = conns
        .iter()
        .filter_map(|c| c.handshake.map(|d| d.as_nanos()))
        .collect();
    let mut span: Option<(SimTime, SimTime)> = None;
    for c in conns {
        for flow in [&c.to_server, &c.to_client] {
            if let Some((a, b)) = flow.data_span() {
                span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
    }
    let bytes: u64 = conns
        .iter()
        .map(|c| c.to_server.bytes + c.to_client.bytes)
        .sum();
    let goodput_bps = match span {
        Some((a, b)) if b > a => {
            let ns = u128::from((b - a).as_nanos());
            u64::try_from(u128::from(bytes) * 8 * 1_000_000_000 / ns).unwrap_or(u64::MAX)
        }
        _ => 0,
    };
    let peak = |s: TcpState| counter.states.get(&s).map_or(0, |(_, p)| *p);
    let (delivered, delay_total, delay_max) = counter.deliveries;
    let metrics = Metrics {
        end_ns: counter.last.as_nanos(),
        connections: conns.len() as u64,
        unestablished: conns.iter().filter(|c| c.handshake.is_none()).count() as u64,
        handshake_mean_ns: match handshakes.len() {
            0 => 0,
            n => handshakes.iter().sum::<u64>() / n as u64,
        },
        handshake_max_ns: handshakes.iter().copied().max().unwrap_or(0),
        connection_max_ns: conns
            .iter()
            .map(|c| (c.end - c.start).as_nanos())
            .max()
            .unwrap_or(0),
        retransmissions: conns
            .iter()
            .map(|c| (c.to_server.retransmissions() + c.to_client.retransmissions()) as u64)
            .sum(),
        drops: counter.drops,
        bytes,
        goodput_bps,
        peak_time_wait: peak(TcpState::TimeWait),
        peak_close_wait: peak(TcpState::CloseWait),
        messages: counter.messages,
        delivery_mean_ns: match delivered {
            0 => 0,
            n => u64::try_from(delay_total / u128::from(n)).unwrap_or(u64::MAX),
        },
        delivery_max_ns: delay_max,
    };
    PointResult {
        end: Some(end),
        outcomes,
        metrics,
    }
}

//! Summary tables: what a run amounted to.
//!
//! Per TCP connection: endpoints, handshake time, bytes each way,
//! retransmissions, who closed first, the final states, the duration (or
//! `open` if it had not ended); data lost on abortive closes; goodput of bulk
//! transfers against their link. Per host: how many sockets were in each
//! state, at the peak and at the end, and TIME-WAIT and CLOSE-WAIT over time.
//! Per built-in TCP client: reply latencies. Per connection a sink read to
//! its end: its bytes and whether they were intact. Per link direction: frames sent, delivered, dropped
//! (by reason), duplicated, corrupted. In a topology with routers or active
//! queues, per link direction where frames waited in a queue: the queueing
//! delay, drops, and the goodput and fairness of the flows that shared it
//! (`bottleneck`). [`summarize`] computes the numbers;
//! [`render_summary`] lays them out as plain-text tables. When applications
//! report HTTP requests or delivered events, tables for those follow; per
//! event subscriber ([`event_delivery`]): its mode, the events' delays, and
//! the packets, bytes and overhead per event on its connections, then each
//! event side by side ([`per_event`]); per
//! WebSocket application, the frames it sent.
//!
//! Everything is derived from the trace: connections from the packets on the
//! wire (a new SYN on a 4-tuple starts a new connection, and so does a
//! SYN-ACK answering a SYN that arrived after its connection ended; two SYNs
//! crossing are one), states from the state changes. Nothing is guessed.

//!
//! The module is split by what the tables are about: this file computes the
//! per-host and per-link numbers and assembles the summary; `table` is the
//! one table builder; `tcp` holds data lost, throughput and the TCP
//! clients' latencies; `delivery` the event-delivery comparison; `apps` the
//! HTTP and WebSocket applications' tables; `bottleneck` the bottlenecks.

mod apps;
mod bottleneck;
mod delivery;
mod firstbyte;
mod table;
mod tcp;

#[cfg(test)]
pub(crate) use bottleneck::fixture as bottleneck_fixture;
pub use delivery::{Delivery, EventRow, event_delivery, per_event};
pub use table::{MAX_ROWS, Table};
pub use tcp::{THROUGHPUT_MIN_BYTES, TcpClientStats, goodput, tcp_clients};

use simnet_core::analysis::{Analyzer, Bottleneck, Connection, Side};
use simnet_core::trace::{Topology, Trace, TraceEvent, TraceRecord, TraceSink};
use simnet_core::{DropReason, EndReason, FrameId, HostId, SimTime, SocketId, TcpState};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddrV4;

/// Everything the summary shows.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// TCP connections in the order they started (see [`simnet_core::analysis`]).
    pub connections: Vec<Connection>,
    /// Socket-state statistics per host (hosts that had TCP sockets).
    pub hosts: Vec<HostStates>,
    /// Frame statistics per link direction that carried anything.
    pub links: Vec<LinkStats>,
    /// The link directions where frames waited in a queue (see
    /// [`simnet_core::analysis::Bottleneck`]), without their series.
    pub bottlenecks: Vec<Bottleneck>,
    /// Whether the "Bottlenecks" table is shown: the topology has a router
    /// or an active queue, or the trace an active queue's event
    /// ([`simnet_core::analysis::Analysis::show_bottlenecks`]).
    pub show_bottlenecks: bool,
    /// When the run ended.
    pub end: SimTime,
    /// Why, when a bound cut it short (the event or memory limit, an
    /// application stuck in a loop); `None` when it ran to its time limit,
    /// to `--until` or out of events.
    pub stopped: Option<EndReason>,
}

/// Socket states seen on one host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostStates {
    /// The host.
    pub host: HostId,
    /// Per state (CLOSED and LISTEN left out): the peak count, when it was
    /// first reached, and the count at the end.
    pub states: Vec<StateStats>,
    /// For the states that pile up (TIME-WAIT, CLOSE-WAIT), when they did
    /// (a peak of two or more, or one socket held for a tenth of the run):
    /// how the count changed, as `(time, count from then on)` steps, from
    /// time 0 to [`Summary::end`]. At most [`MAX_STEPS`] steps: with more
    /// changes than that, the first and last, the first step to the peak and
    /// evenly spaced changes in between are kept (so the series is dense
    /// where the changes are).
    pub over_time: Vec<(TcpState, Vec<(SimTime, usize)>)>,
}

/// How many sockets were in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateStats {
    /// The state.
    pub state: TcpState,
    /// The most at any one time.
    pub peak: usize,
    /// When the peak was first reached.
    pub peak_at: SimTime,
    /// How many were left at the end.
    pub end: usize,
}

/// Frames on one direction of a link: the frames its sender sent on it, and
/// those a router forwarded onto it (a forwarded frame counts once per
/// hop, and as delivered on the hop that brought it to the router).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStats {
    /// Sender.
    pub from: HostId,
    /// Receiver (`None`: no link led to the destination).
    pub to: Option<HostId>,
    /// Frames handed to the link.
    pub sent: u64,
    /// IP bytes handed to the link.
    pub bytes: u64,
    /// Frames (and duplicates) that arrived.
    pub delivered: u64,
    /// Frames lost, by reason.
    pub dropped: BTreeMap<DropReason, u64>,
    /// Frames delivered twice.
    pub duplicated: u64,
    /// Frames with a flipped bit.
    pub corrupted: u64,
    /// Frames the receiver threw away (bad checksum, host down...).
    pub discarded: u64,
}

/// Computes the summary of a trace: a [`Summarizer`] fed every record.
pub fn summarize(trace: &Trace) -> Summary {
    let mut s = Summarizer::new();
    trace.replay(&mut s);
    s.finish().summary
}

/// The per-host and per-link numbers of the summary, folded record by
/// record. Frames are remembered from their sending until they arrive (and
/// the receiver has had its chance to discard them) or are dropped; sockets
/// until they are CLOSED.
#[derive(Default)]
struct Counters {
    links: BTreeMap<(HostId, Option<HostId>), LinkStats>,
    frame_link: BTreeMap<FrameId, (HostId, Option<HostId>)>,
    /// The frame delivered last: a receiver discards a frame right after
    /// its delivery, so it is forgotten at the next delivery.
    last_delivered: Option<FrameId>,
    states: BTreeMap<HostId, StateTrack>,
    end: SimTime,
    stopped: Option<EndReason>,
}

impl Counters {
    fn record(&mut self, r: &TraceRecord) {
        self.end = r.time;
        if let TraceEvent::RunEnded { reason } = &r.event
            && !matches!(
                reason,
                EndReason::Idle
                    | EndReason::Until(_)
                    | EndReason::TimeLimit(_)
                    | EndReason::Condition
            )
        {
            self.stopped = Some(*reason);
        }
        let links = &mut self.links;
        let frame_link = &mut self.frame_link;
        match &r.event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                len,
                ..
            } => sent(links, frame_link, *frame, (*from, *to), *len),
            TraceEvent::FrameForwarded {
                frame,
                router,
                to,
                len,
                ..
            } => {
                // The hop that brought it to the router delivered it there;
                // the next one starts.
                if let Some(l) = frame_link.get(frame).and_then(|k| links.get_mut(k)) {
                    l.delivered += 1;
                }
                sent(links, frame_link, *frame, (*router, Some(*to)), *len);
            }
            TraceEvent::TcpState {
                host, socket, to, ..
            } => {
                self.states
                    .entry(*host)
                    .or_default()
                    .change(*socket, *to, r.time);
            }
            TraceEvent::FrameDelivered { frame, .. } => {
                if let Some(done) = self.last_delivered.replace(*frame) {
                    frame_link.remove(&done);
                }
                if let Some(k) = frame_link.get(frame)
                    && let Some(l) = links.get_mut(k)
                {
                    l.delivered += 1;
                }
            }
            TraceEvent::FrameDropped {
                frame,
                from,
                to,
                reason,
            } => {
                let k = frame_link.remove(frame).unwrap_or((*from, *to));
                if let Some(l) = links.get_mut(&k) {
                    *l.dropped.entry(*reason).or_insert(0) += 1;
                }
            }
            TraceEvent::FrameDuplicated { frame, copy } => {
                if let Some(k) = frame_link.get(frame).copied() {
                    frame_link.insert(*copy, k);
                    if let Some(l) = links.get_mut(&k) {
                        l.duplicated += 1;
                    }
                }
            }
            TraceEvent::FrameCorrupted { frame, .. } => {
                if let Some(l) = frame_link.get(frame).and_then(|k| links.get_mut(k)) {
                    l.corrupted += 1;
                }
            }
            TraceEvent::FrameDiscarded { frame, .. } => {
                if let Some(l) = frame_link.get(frame).and_then(|k| links.get_mut(k)) {
                    l.discarded += 1;
                }
            }
            _ => {}
        }
    }

    fn finish(self, connections: Vec<Connection>) -> Summary {
        let end = self.end;
        Summary {
            connections,
            hosts: self
                .states
                .into_iter()
                .map(|(host, s)| s.finish(host, end))
                .filter(|h| !h.states.is_empty())
                .collect(),
            links: self.links.into_values().collect(),
            bottlenecks: Vec::new(),
            show_bottlenecks: false,
            end,
            stopped: self.stopped,
        }
    }
}

/// A frame of `len` bytes handed to the link direction `key` (by its
/// sender, or by a router forwarding it).
fn sent(
    links: &mut BTreeMap<(HostId, Option<HostId>), LinkStats>,
    frame_link: &mut BTreeMap<FrameId, (HostId, Option<HostId>)>,
    frame: FrameId,
    key: (HostId, Option<HostId>),
    len: u32,
) {
    let link = links.entry(key).or_insert_with(|| LinkStats {
        from: key.0,
        to: key.1,
        sent: 0,
        bytes: 0,
        delivered: 0,
        dropped: BTreeMap::new(),
        duplicated: 0,
        corrupted: 0,
        discarded: 0,
    });
    link.sent += 1;
    link.bytes += u64::from(len);
    frame_link.insert(frame, key);
}

#[derive(Default)]
struct StateTrack {
    /// Sockets not CLOSED, and their state.
    current: BTreeMap<SocketId, TcpState>,
    counts: BTreeMap<TcpState, usize>,
    peaks: BTreeMap<TcpState, (usize, SimTime)>,
    /// (time, count) after every change, for the states that pile up: at
    /// most two entries per socket that entered the state (it entered, it
    /// left), so this grows with connections, not with time. All of them
    /// are needed: which steps [`compact_series`] keeps depends on how many
    /// there are in the end.
    history: BTreeMap<TcpState, Vec<(SimTime, usize)>>,
}

/// States whose counts over time the summary shows.
const PILING_STATES: [TcpState; 2] = [TcpState::TimeWait, TcpState::CloseWait];

impl StateTrack {
    fn change(&mut self, socket: SocketId, to: TcpState, at: SimTime) {
        // A CLOSED socket is forgotten: the count of CLOSED sockets is never
        // shown (nor is its peak), and no other count depends on it.
        let old = if to == TcpState::Closed {
            self.current.remove(&socket)
        } else {
            self.current.insert(socket, to)
        };
        if let Some(old) = old
            && let Some(n) = self.counts.get_mut(&old)
        {
            *n -= 1;
        }
        let n = self.counts.entry(to).or_insert(0);
        *n += 1;
        let n = *n;
        let peak = self.peaks.entry(to).or_insert((0, at));
        if n > peak.0 {
            *peak = (n, at);
        }
        for state in PILING_STATES {
            let n = self.counts.get(&state).copied().unwrap_or(0);
            let h = self.history.entry(state).or_default();
            if h.last().is_none_or(|(_, c)| *c != n) {
                h.push((at, n));
            }
        }
    }

    fn finish(self, host: HostId, end: SimTime) -> HostStates {
        let states = self
            .peaks
            .iter()
            .filter(|(s, _)| !matches!(s, TcpState::Closed | TcpState::Listen))
            .map(|(s, (peak, at))| StateStats {
                state: *s,
                peak: *peak,
                peak_at: *at,
                end: self.counts.get(s).copied().unwrap_or(0),
            })
            .collect();
        let over_time = PILING_STATES
            .iter()
            .filter_map(|state| {
                let steps = step_series(self.history.get(state)?, end);
                piles_up(&steps, end).then(|| (*state, compact_series(&steps)))
            })
            .collect();
        HostStates {
            host,
            states,
            over_time,
        }
    }
}

/// Steps an "over time" series shows at most (see [`HostStates::over_time`]).
pub const MAX_STEPS: usize = 10;

/// `(time, count from then on)` after every change: changes at the same
/// instant collapsed into one, a step at 0 first, and the end last.
fn step_series(history: &[(SimTime, usize)], end: SimTime) -> Vec<(SimTime, usize)> {
    let mut steps: Vec<(SimTime, usize)> = vec![(SimTime::ZERO, 0)];
    for &(t, n) in history {
        match steps.last_mut() {
            Some(last) if last.0 == t => last.1 = n,
            _ => steps.push((t, n)),
        }
    }
    // Drop steps that change nothing (an instant's change undone).
    steps.dedup_by(|b, a| a.1 == b.1);
    let at_end = steps.last().map_or(0, |s| s.1);
    if steps.last().is_some_and(|s| s.0 < end) {
        steps.push((end, at_end));
    }
    steps
}

/// Whether a step series shows a state piling up: a peak of two or more,
/// or one socket held for at least a tenth of the run.
fn piles_up(steps: &[(SimTime, usize)], end: SimTime) -> bool {
    let peak = steps.iter().map(|s| s.1).max().unwrap_or(0);
    let held: u64 = steps
        .windows(2)
        .filter(|w| w[0].1 > 0)
        .map(|w| (w[1].0 - w[0].0).as_nanos())
        .sum();
    peak >= 2 || (peak == 1 && held.saturating_mul(10) >= end.as_nanos().max(1))
}

/// At most [`MAX_STEPS`] of `steps`: all of them if they fit; otherwise the
/// first, the last, the first to reach the peak, and evenly spaced ones
/// (by position, so denser where the changes are) in between.
fn compact_series(steps: &[(SimTime, usize)]) -> Vec<(SimTime, usize)> {
    if steps.len() <= MAX_STEPS {
        return steps.to_vec();
    }
    let last = steps.len() - 1;
    let peak = steps.iter().map(|s| s.1).max().unwrap_or(0);
    let peak_at = steps.iter().position(|s| s.1 == peak).unwrap_or(0);
    let mut keep: Vec<usize> = vec![0, peak_at, last];
    let spare = MAX_STEPS - 3;
    keep.extend((1..=spare).map(|i| i * last / (spare + 1)));
    keep.sort_unstable();
    keep.dedup();
    keep.into_iter().map(|i| steps[i]).collect()
}

/// The summary, built record by record: a [`TraceSink`] that folds a run's
/// events into per-connection, per-host, per-link and per-application
/// aggregates as they come. [`summarize`] and [`render_summary`] replay a
/// stored trace into one; a run streamed to one
/// ([`simnet_core::World::stream_to`]) renders the same bytes.
///
/// What it holds: the connections ([`Analyzer::counts_only`]: a few hundred
/// bytes each); per host, each socket not yet CLOSED and two steps per
/// socket that entered TIME-WAIT or CLOSE-WAIT (the over-time series is
/// chosen among all of its steps at the end); per link direction, its
/// counters, and the frames in flight (and, for the bottlenecks, a
/// histogram of queueing delays; per flow, its goodput buckets); per
/// socket and 4-tuple, the owner and traffic the event-delivery tables
/// need; per `DataLost` event, its
/// row; per TCP client reply, its latency; per HTTP request, its number;
/// per published event, its row in the per-event table. Nothing is kept
/// per packet, so for a fixed set of connections its memory does not grow
/// with the run's duration.
pub struct Summarizer {
    analyzer: Analyzer,
    counters: Counters,
    data_lost: tcp::DataLost,
    tcp_clients: tcp::TcpClients,
    sinks: tcp::Sinks,
    http: apps::Http,
    first_byte: firstbyte::FirstByte,
    deliveries: delivery::Deliveries,
    websocket: apps::WebSocket,
}

/// What a [`Summarizer`] gathered: the [`Summary`] and the application
/// tables, ready to render.
pub struct Summarized {
    /// The numbers [`summarize`] returns.
    pub summary: Summary,
    data_lost: tcp::DataLost,
    tcp_clients: Vec<TcpClientStats>,
    sinks: tcp::Sinks,
    http: apps::Http,
    first_byte: firstbyte::FirstByte,
    deliveries: Vec<Delivery>,
    subscribers: Vec<simnet_core::AppId>,
    per_event: Vec<EventRow>,
    websocket: apps::WebSocket,
}

impl Summarizer {
    /// An empty summarizer.
    pub fn new() -> Summarizer {
        Summarizer {
            analyzer: Analyzer::counts_only(),
            counters: Counters::default(),
            data_lost: tcp::DataLost::default(),
            tcp_clients: tcp::TcpClients::default(),
            sinks: tcp::Sinks::default(),
            http: apps::Http::default(),
            first_byte: firstbyte::FirstByte::default(),
            deliveries: delivery::Deliveries::default(),
            websocket: apps::WebSocket::default(),
        }
    }

    /// Everything gathered so far.
    pub fn finish(self) -> Summarized {
        let analysis = self.analyzer.finish();
        let mut summary = self.counters.finish(analysis.connections);
        summary.bottlenecks = analysis.bottlenecks;
        summary.show_bottlenecks = analysis.show_bottlenecks;
        let (deliveries, subscribers, per_event) = self.deliveries.finish();
        Summarized {
            summary,
            data_lost: self.data_lost,
            tcp_clients: self.tcp_clients.finish(),
            sinks: self.sinks,
            http: self.http,
            first_byte: self.first_byte,
            deliveries,
            subscribers,
            per_event,
            websocket: self.websocket,
        }
    }
}

impl Default for Summarizer {
    fn default() -> Summarizer {
        Summarizer::new()
    }
}

impl TraceSink for Summarizer {
    fn record(&mut self, topology: &Topology, r: &TraceRecord) {
        // Decoded once for the analysis and the event deliveries.
        let info = r.event.packet_info();
        self.analyzer.record_decoded(topology, r, info.as_ref());
        self.counters.record(r);
        self.data_lost.record(r);
        self.tcp_clients.record(topology, r);
        self.sinks.record(r);
        self.http.record(topology, r);
        self.first_byte.record(topology, r);
        self.deliveries.record(r, info.as_ref());
        self.websocket.record(r);
    }
}

/// Renders the summary as plain-text tables.
pub fn render_summary(trace: &Trace) -> String {
    let mut s = Summarizer::new();
    trace.replay(&mut s);
    s.finish().render(&trace.topology)
}

impl Summarized {
    /// The summary as plain-text tables ([`render_summary`]'s bytes).
    pub fn render(self, topo: &Topology) -> String {
        let s = &self.summary;
        // Each section is a title and a table; a blank line separates them.
        let mut sections: Vec<Option<String>> = Vec::new();

        let connections = Table::new(
            "TCP connections",
            [
                "#",
                "client",
                "server",
                "start",
                "handshake",
                "bytes c->s",
                "bytes s->c",
                "retrans",
                "closed first",
                "final (client/server)",
                "duration",
            ],
        )
        .or_none()
        .rows(&s.connections, |c| {
            let who = |side: Side| match side {
                Side::Client => host_or_addr(topo, c.client_host, c.client),
                Side::Server => host_or_addr(topo, c.server_host, c.server),
            };
            let closed = match (c.first_fin, c.first_rst) {
                (Some(side), _) => who(side),
                (None, Some(side)) => format!("{} (RST)", who(side)),
                (None, None) => "-".to_string(),
            };
            let st = |s: Option<TcpState>| s.map_or("-".to_string(), |s| s.to_string());
            let retrans = c.to_server.retransmissions() + c.to_client.retransmissions();
            vec![
                c.number.to_string(),
                format!(
                    "{}:{}",
                    host_or_addr(topo, c.client_host, c.client),
                    c.client.port()
                ),
                format!(
                    "{}:{}",
                    host_or_addr(topo, c.server_host, c.server),
                    c.server.port()
                ),
                c.start.to_string(),
                c.handshake.map_or("-".to_string(), |d| d.to_string()),
                c.to_server.bytes.to_string(),
                c.to_client.bytes.to_string(),
                retrans.to_string(),
                closed,
                format!("{}/{}", st(c.client_state), st(c.server_state)),
                if still_open(c) {
                    format!("open, ≥{}", s.end - c.start)
                } else {
                    (c.end - c.start).to_string()
                },
            ]
        });
        sections.push(connections.render());

        let states = Table::new(
            "Socket states per host (peak, when first reached, left at the end)",
            ["host", "state", "peak", "at", "at end"],
        )
        .or_none()
        .rows(
            s.hosts
                .iter()
                .flat_map(|h| h.states.iter().map(move |st| (h.host, st))),
            |(host, st)| {
                vec![
                    topo.host_name(host).to_string(),
                    st.state.to_string(),
                    st.peak.to_string(),
                    st.peak_at.to_string(),
                    st.end.to_string(),
                ]
            },
        );
        let mut states = states.render().unwrap_or_default();
        for h in &s.hosts {
            for (state, series) in &h.over_time {
                let points: Vec<String> = series
                    .iter()
                    .map(|(t, c)| format!("{}={c}", t.since_start()))
                    .collect();
                let _ = writeln!(
                    states,
                    "  {state} on {} over time: {}",
                    topo.host_name(h.host),
                    points.join(" ")
                );
            }
        }
        sections.push(Some(states));

        sections.push(self.data_lost.table(topo, s).render());
        sections.push(tcp::throughput_table(topo, s).render());
        sections.extend(
            tcp::tcp_client_tables(topo, &self.tcp_clients)
                .iter()
                .map(Table::render),
        );
        sections.push(self.sinks.table(topo).render());
        sections.extend(self.http.tables(topo).iter().map(Table::render));
        sections.push(self.first_byte.table().and_then(|t| t.render()));
        sections.push(delivery::delivery_table(topo, &self.deliveries).render());
        sections.push(delivery::per_event_table(topo, &self.subscribers, &self.per_event).render());
        sections.push(self.websocket.table(topo).render());
        sections.push(bottleneck::bottleneck_table(topo, s).render());

        let links = Table::new(
            "Links (per direction)",
            [
                "from",
                "to",
                "frames",
                "bytes",
                "delivered",
                "dropped",
                "duplicated",
                "corrupted",
                "discarded",
            ],
        )
        .always()
        .rows(&s.links, |l| {
            let dropped = if l.dropped.is_empty() {
                "0".to_string()
            } else {
                l.dropped
                    .iter()
                    .map(|(r, n)| format!("{n} {r}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            vec![
                topo.host_name(l.from).to_string(),
                l.to.map_or("(no route)".to_string(), |h| topo.host_name(h).to_string()),
                l.sent.to_string(),
                l.bytes.to_string(),
                l.delivered.to_string(),
                dropped,
                l.duplicated.to_string(),
                l.corrupted.to_string(),
                l.discarded.to_string(),
            ]
        });
        sections.push(links.render());
        sections.push(Some(match &s.stopped {
            Some(reason) => format!(
                "Run ended at {}: stopped, {}\n",
                s.end,
                reason.describe(topo)
            ),
            None => format!("Run ended at {}\n", s.end),
        }));
        let sections: Vec<String> = sections.into_iter().flatten().collect();
        sections.join("\n")
    }
}

/// Whether a connection had not ended when the run did: one of its sockets
/// was last seen in a state other than CLOSED, TIME-WAIT or LISTEN
/// (ESTABLISHED, FIN-WAIT-2, CLOSE-WAIT...; a listener back in LISTEN after
/// a RST ended its half-open connection holds none). Its duration is then
/// at least the time from its start to the end of the run, not the time to
/// its last packet.
pub fn still_open(c: &Connection) -> bool {
    [c.client_state, c.server_state]
        .into_iter()
        .flatten()
        .any(|s| !matches!(s, TcpState::Closed | TcpState::TimeWait | TcpState::Listen))
}

fn host_or_addr(topo: &Topology, host: Option<HostId>, addr: SocketAddrV4) -> String {
    host.map_or(addr.ip().to_string(), |h| topo.host_name(h).to_string())
}

/// `host (kind)` for an application, or `host name (kind)` when the
/// scenario gave it a name of its own (neither its kind nor its host's), so
/// two applications of one kind on one host are told apart.
fn app_name(topo: &Topology, app: simnet_core::AppId) -> String {
    topo.apps.get(app.0 as usize).map_or("?".to_string(), |i| {
        let host = topo.host_name(i.host);
        if i.name == i.kind || i.name == host {
            format!("{host} ({})", i.kind)
        } else {
            format!("{host} {} ({})", i.name, i.kind)
        }
    })
}

/// The name of an application's host (`?` if unknown).
fn app_host_name(topo: &Topology, app: simnet_core::AppId) -> String {
    topo.apps
        .get(app.0 as usize)
        .map_or("?".to_string(), |i| topo.host_name(i.host).to_string())
}

type Tuple = (SocketAddrV4, SocketAddrV4);

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimTime {
        SimTime::from_nanos(n * 1_000_000)
    }

    #[test]
    fn a_step_series_collapses_instants_and_ends_at_the_end() {
        // 1 then 2 at 10ms, back to 1 and to 0 within 20ms, 0 again.
        let h = [
            (ms(10), 1),
            (ms(10), 2),
            (ms(20), 1),
            (ms(20), 0),
            (ms(30), 0),
        ];
        assert_eq!(
            step_series(&h, ms(100)),
            [(ms(0), 0), (ms(10), 2), (ms(20), 0), (ms(100), 0)]
        );
        // A socket passing through in an instant is not piling up; two are,
        // and so is one held for a tenth of the run.
        assert!(!piles_up(
            &step_series(&[(ms(5), 1), (ms(5), 0)], ms(100)),
            ms(100)
        ));
        assert!(piles_up(&step_series(&h, ms(100)), ms(100)));
        assert!(piles_up(&step_series(&[(ms(90), 1)], ms(100)), ms(100)));
        assert!(!piles_up(&step_series(&[(ms(95), 1)], ms(100)), ms(100)));
    }

    #[test]
    fn a_long_series_keeps_the_start_the_peak_and_the_end() {
        // 20 sockets arrive 10ms apart, then leave 10ms apart after 10s.
        let mut h: Vec<(SimTime, usize)> = (1..=20).map(|i| (ms(10 * i as u64), i)).collect();
        h.extend((1..=20).map(|i| (ms(10_000 + 10 * i as u64), 20 - i)));
        let steps = step_series(&h, ms(11_000));
        assert_eq!(steps.len(), 42);
        let c = compact_series(&steps);
        assert!(c.len() <= MAX_STEPS, "{c:?}");
        assert_eq!(c.first(), Some(&(ms(0), 0)));
        assert_eq!(c.last(), Some(&(ms(11_000), 0)));
        assert!(c.contains(&(ms(200), 20)), "{c:?}");
        // Rise and fall both show.
        assert!(c.iter().filter(|(t, _)| *t < ms(1000)).count() >= 3);
        assert!(c.iter().filter(|(t, _)| *t > ms(1000)).count() >= 3);
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0));
        // Short ones are kept whole.
        assert_eq!(compact_series(&steps[..5]), steps[..5]);
    }

    #[test]
    fn spans_and_rates_read_well() {
        use super::delivery::millis;
        use super::tcp::rate;
        use simnet_core::SimDuration;
        assert_eq!(millis(SimDuration::from_millis(20)), "20");
        assert_eq!(millis(SimDuration::from_micros(1500)), "1.5");
        assert_eq!(millis(SimDuration::from_micros(41)), "0.041");
        assert_eq!(millis(SimDuration::ZERO), "0");
        assert_eq!(rate(9_520_000.0), "9.52 Mbit/s");
        assert_eq!(rate(640_000.0), "640.0 kbit/s");
        assert_eq!(rate(12.0), "12 bit/s");
        assert_eq!(rate(2.5e9), "2.50 Gbit/s");
    }
}

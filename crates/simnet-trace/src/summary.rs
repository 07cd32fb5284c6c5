//! Summary tables: what a run amounted to.
//!
//! Per TCP connection: endpoints, handshake time, bytes each way,
//! retransmissions, who closed first, the final states, the duration (or
//! `open` if it had not ended); data lost on abortive closes; goodput of bulk
//! transfers against their link. Per host: how many sockets were in each
//! state, at the peak and at the end, and TIME-WAIT and CLOSE-WAIT over time.
//! Per built-in TCP client: reply latencies. Per link direction: frames sent, delivered, dropped
//! (by reason), duplicated, corrupted. [`summarize`] computes the numbers;
//! [`render_summary`] lays them out as plain-text tables. When applications
//! report HTTP requests or delivered events, tables for those follow; per
//! event subscriber ([`event_delivery`]): its mode, the events' delays, and
//! the packets, bytes and overhead per event on its connections, then each
//! event side by side ([`per_event`]); per
//! WebSocket application, the frames it sent.
//!
//! Everything is derived from the trace: connections from the packets on the
//! wire (a new SYN on a 4-tuple starts a new connection), states from the
//! state changes. Nothing is guessed.

use simnet_core::analysis::{Connection, Side, analyze};
use simnet_core::trace::{Topology, Trace, TraceEvent};
use simnet_core::{DropReason, FrameId, HostId, SimDuration, SimTime, SocketId, TcpState};
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
    /// When the run ended.
    pub end: SimTime,
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

/// Frames on one direction of a link.
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

/// Computes the summary of a trace.
pub fn summarize(trace: &Trace) -> Summary {
    let mut links: BTreeMap<(HostId, Option<HostId>), LinkStats> = BTreeMap::new();
    let mut frame_link: BTreeMap<FrameId, (HostId, Option<HostId>)> = BTreeMap::new();
    let mut states: BTreeMap<HostId, StateTrack> = BTreeMap::new();
    let end = trace.records.last().map_or(SimTime::ZERO, |r| r.time);

    for r in trace.records.iter() {
        match &r.event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                len,
                ..
            } => {
                let link = links.entry((*from, *to)).or_insert_with(|| LinkStats {
                    from: *from,
                    to: *to,
                    sent: 0,
                    bytes: 0,
                    delivered: 0,
                    dropped: BTreeMap::new(),
                    duplicated: 0,
                    corrupted: 0,
                    discarded: 0,
                });
                link.sent += 1;
                link.bytes += u64::from(*len);
                frame_link.insert(*frame, (*from, *to));
            }
            TraceEvent::TcpState {
                host, socket, to, ..
            } => {
                states
                    .entry(*host)
                    .or_default()
                    .change(*socket, *to, r.time);
            }
            TraceEvent::FrameDelivered { frame, .. } => {
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
                let k = frame_link.get(frame).copied().unwrap_or((*from, *to));
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
    Summary {
        connections: analyze(trace).connections,
        hosts: states
            .into_iter()
            .map(|(host, s)| s.finish(host, end))
            .filter(|h| !h.states.is_empty())
            .collect(),
        links: links.into_values().collect(),
        end,
    }
}

#[derive(Default)]
struct StateTrack {
    current: BTreeMap<SocketId, TcpState>,
    counts: BTreeMap<TcpState, usize>,
    peaks: BTreeMap<TcpState, (usize, SimTime)>,
    /// (time, count) after every change, for the states that pile up.
    history: BTreeMap<TcpState, Vec<(SimTime, usize)>>,
}

/// States whose counts over time the summary shows.
const PILING_STATES: [TcpState; 2] = [TcpState::TimeWait, TcpState::CloseWait];

impl StateTrack {
    fn change(&mut self, socket: SocketId, to: TcpState, at: SimTime) {
        if let Some(old) = self.current.insert(socket, to)
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

/// Renders the summary as plain-text tables.
pub fn render_summary(trace: &Trace) -> String {
    let s = summarize(trace);
    let topo = &trace.topology;
    let mut out = String::new();

    let _ = writeln!(out, "TCP connections");
    if s.connections.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
        let mut t = Table::new(&[
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
        ]);
        for c in &s.connections {
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
            t.row(vec![
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
            ]);
        }
        out.push_str(&t.render());
    }

    let _ = writeln!(
        out,
        "\nSocket states per host (peak, when first reached, left at the end)"
    );
    if s.hosts.is_empty() {
        let _ = writeln!(out, "  (none)");
    } else {
        let mut t = Table::new(&["host", "state", "peak", "at", "at end"]);
        for h in &s.hosts {
            for st in &h.states {
                t.row(vec![
                    topo.host_name(h.host).to_string(),
                    st.state.to_string(),
                    st.peak.to_string(),
                    st.peak_at.to_string(),
                    st.end.to_string(),
                ]);
            }
        }
        out.push_str(&t.render());
        for h in &s.hosts {
            for (state, series) in &h.over_time {
                let points: Vec<String> = series
                    .iter()
                    .map(|(t, c)| format!("{}={c}", t.since_start()))
                    .collect();
                let _ = writeln!(
                    out,
                    "  {state} on {} over time: {}",
                    topo.host_name(h.host),
                    points.join(" ")
                );
            }
        }
    }

    out.push_str(&data_lost_table(trace, &s));
    out.push_str(&throughput_table(trace, &s));
    out.push_str(&tcp_client_tables(trace));
    out.push_str(&http_tables(trace));
    let deliveries = event_delivery(trace);
    out.push_str(&delivery_table(trace, &deliveries));
    out.push_str(&per_event_table(trace, &deliveries));
    out.push_str(&websocket_table(trace));

    let _ = writeln!(out, "\nLinks (per direction)");
    let mut t = Table::new(&[
        "from",
        "to",
        "frames",
        "bytes",
        "delivered",
        "dropped",
        "duplicated",
        "corrupted",
        "discarded",
    ]);
    for l in &s.links {
        let dropped = if l.dropped.is_empty() {
            "0".to_string()
        } else {
            l.dropped
                .iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.row(vec![
            topo.host_name(l.from).to_string(),
            l.to.map_or("(no route)".to_string(), |h| topo.host_name(h).to_string()),
            l.sent.to_string(),
            l.bytes.to_string(),
            l.delivered.to_string(),
            dropped,
            l.duplicated.to_string(),
            l.corrupted.to_string(),
            l.discarded.to_string(),
        ]);
    }
    out.push_str(&t.render());
    let _ = writeln!(out, "\nRun ended at {}", s.end);
    out
}

/// Whether a connection had not ended when the run did: one of its sockets
/// was last seen in a state other than CLOSED or TIME-WAIT (ESTABLISHED,
/// FIN-WAIT-2, CLOSE-WAIT...). Its duration is then at least the time from
/// its start to the end of the run, not the time to its last packet.
pub fn still_open(c: &Connection) -> bool {
    [c.client_state, c.server_state]
        .into_iter()
        .flatten()
        .any(|s| !matches!(s, TcpState::Closed | TcpState::TimeWait))
}

/// Data no application will see: one row per `DataLost` event, with the
/// connection it happened on (the one with the socket's 4-tuple that had
/// started by then) and the stream bytes lost each way. Empty when no data
/// was lost.
fn data_lost_table(trace: &Trace, s: &Summary) -> String {
    let topo = &trace.topology;
    let mut tuples: BTreeMap<(HostId, SocketId), Tuple> = BTreeMap::new();
    let mut t = Table::new(&[
        "at",
        "host",
        "conn",
        "peer",
        "unread bytes",
        "unacked bytes",
        "cause",
    ]);
    let mut any = false;
    for r in trace.records.iter() {
        match &r.event {
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote: Some(remote),
                ..
            } => {
                tuples.insert((*host, *socket), (*local, *remote));
            }
            TraceEvent::DataLost {
                host,
                socket,
                cause,
                unread,
                unacked,
            } => {
                any = true;
                let tuple = tuples.get(&(*host, *socket)).copied();
                let conn = tuple.and_then(|(l, rm)| {
                    s.connections.iter().rfind(|c| {
                        c.start <= r.time
                            && ((c.client, c.server) == (l, rm) || (c.client, c.server) == (rm, l))
                    })
                });
                let peer = tuple.map_or("-".to_string(), |(_, rm)| {
                    let name = host_or_addr(topo, topo.host_by_addr(*rm.ip()), rm);
                    format!("{name}:{}", rm.port())
                });
                let range = |r: &Option<(u64, u64)>| {
                    r.map_or("-".to_string(), |(offset, n)| {
                        format!("{n} ({offset}..{})", offset + n)
                    })
                };
                t.row(vec![
                    r.time.to_string(),
                    topo.host_name(*host).to_string(),
                    conn.map_or("-".to_string(), |c| format!("#{}", c.number)),
                    peer,
                    range(unread),
                    range(unacked),
                    cause.to_string(),
                ]);
            }
            _ => {}
        }
    }
    if !any {
        return String::new();
    }
    format!(
        "\nData lost (unread: received, never read; unacked: written, never acknowledged; \
         stream offsets in parentheses)\n{}",
        t.render()
    )
}

/// Connections whose main direction carried at least this many payload
/// bytes get a row in the "Throughput" table: below it, a transfer's time
/// is its latency, not its rate.
pub const THROUGHPUT_MIN_BYTES: u64 = 64 * 1024;

/// A connection's goodput in its main direction ([`Connection::main_flow`]):
/// its distinct payload bytes, and the time from its first data segment to
/// the first acknowledgement that covered all of them (or the last
/// acknowledgement, if none did). `None` without data or without time.
pub fn goodput(c: &Connection) -> Option<(u64, SimDuration)> {
    let flow = c.main_flow();
    let data = flow.segments.iter().filter(|s| s.len > 0);
    let first = data.clone().map(|s| s.time).min()?;
    let top = data.map(|s| s.end).max()?;
    let acked = flow
        .acks
        .iter()
        .find(|a| a.ack.wrapping_sub(top) as i32 >= 0)
        .or(flow.acks.last())?;
    let span = acked.time.saturating_since(first);
    (flow.bytes > 0 && !span.is_zero()).then_some((flow.bytes, span))
}

/// A rate in bits per second, with a unit: `9.52 Mbit/s`, `640 kbit/s`.
fn rate(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2} Gbit/s", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.2} Mbit/s", bps / 1e6)
    } else if bps >= 1e3 {
        format!("{:.1} kbit/s", bps / 1e3)
    } else {
        format!("{bps:.0} bit/s")
    }
}

/// The "Throughput" table: per connection whose main direction carried at
/// least [`THROUGHPUT_MIN_BYTES`], its [`goodput`]; and, when the two hosts
/// share a link, that direction's bandwidth, the goodput as a share of it,
/// and the bandwidth-delay product (bandwidth × the link's round trip, its
/// latency both ways) that a window must cover to fill it. Empty when no
/// connection qualifies.
fn throughput_table(trace: &Trace, s: &Summary) -> String {
    let topo = &trace.topology;
    let mut t = Table::new(&[
        "#",
        "direction",
        "payload bytes",
        "first data to last ACK",
        "goodput",
        "link rate",
        "of link",
        "link BDP",
    ]);
    let mut any = false;
    for c in &s.connections {
        if c.main_flow().bytes < THROUGHPUT_MIN_BYTES {
            continue;
        }
        let Some((bytes, span)) = goodput(c) else {
            continue;
        };
        any = true;
        let to_client = c.to_client.bytes > c.to_server.bytes;
        let (from, to) = if to_client {
            (c.server_host, c.client_host)
        } else {
            (c.client_host, c.server_host)
        };
        let name = |h: Option<HostId>| h.map_or("?".to_string(), |h| topo.host_name(h).to_string());
        let bps = bytes as f64 * 8.0 / (span.as_nanos() as f64 / 1e9);
        let link = from.zip(to).and_then(|(a, b)| {
            topo.links.iter().find_map(|l| {
                if (l.a, l.b) == (a, b) {
                    Some((&l.a_to_b, &l.b_to_a))
                } else if (l.a, l.b) == (b, a) {
                    Some((&l.b_to_a, &l.a_to_b))
                } else {
                    None
                }
            })
        });
        let bw =
            link.and_then(|(fwd, back)| Some((fwd.bandwidth_bps?, fwd.latency + back.latency)));
        t.row(vec![
            c.number.to_string(),
            format!("{} -> {}", name(from), name(to)),
            bytes.to_string(),
            span.to_string(),
            rate(bps),
            bw.map_or("-".to_string(), |(b, _)| rate(b as f64)),
            bw.map_or("-".to_string(), |(b, _)| {
                format!("{:.0}%", bps * 100.0 / b as f64)
            }),
            bw.map_or("-".to_string(), |(b, rtt)| {
                format!(
                    "{} B",
                    (b as f64 / 8.0 * rtt.as_nanos() as f64 / 1e9).round() as u64
                )
            }),
        ]);
    }
    if !any {
        return String::new();
    }
    format!(
        "\nThroughput (goodput: payload bytes / first data to the ACK of the last)\n{}",
        t.render()
    )
}

fn host_or_addr(topo: &Topology, host: Option<HostId>, addr: SocketAddrV4) -> String {
    host.map_or(addr.ip().to_string(), |h| topo.host_name(h).to_string())
}

/// A plain-text table with left-aligned columns.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table, each line indented by two spaces.
    pub fn render(&self) -> String {
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from(" ");
            for (i, w) in widths.iter().enumerate() {
                let c = cells.get(i).map_or("", |c| c.as_str());
                let _ = write!(s, " {c:<w$}");
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(&self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// What one built-in TCP client's requests took (see [`tcp_clients`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpClientStats {
    /// The client application.
    pub app: simnet_core::AppId,
    /// Replies received in full (`tcp.reply`).
    pub replies: u64,
    /// Connections that failed (`tcp.failed`, `tcp.connect-failed`).
    pub failures: u64,
    /// Each reply's latency (from the request's write to its last byte
    /// read), with the client's connection number, in order.
    pub latencies: Vec<(i64, SimDuration)>,
}

impl TcpClientStats {
    /// The shortest reply latency (zero with no reply).
    pub fn min(&self) -> SimDuration {
        self.latencies
            .iter()
            .map(|(_, l)| *l)
            .min()
            .unwrap_or(SimDuration::ZERO)
    }

    /// The longest reply latency (zero with no reply).
    pub fn max(&self) -> SimDuration {
        self.latencies
            .iter()
            .map(|(_, l)| *l)
            .max()
            .unwrap_or(SimDuration::ZERO)
    }

    /// The mean reply latency, rounded down (zero with no reply).
    pub fn mean(&self) -> SimDuration {
        let sum: u64 = self.latencies.iter().map(|(_, l)| l.as_nanos()).sum();
        SimDuration::from_nanos(sum.checked_div(self.latencies.len() as u64).unwrap_or(0))
    }
}

/// The built-in TCP clients' request/reply exchanges, in application order:
/// one [`TcpClientStats`] per application that reported a `tcp.reply`, or
/// whose kind is `tcp-client` and that reported a failure.
pub fn tcp_clients(trace: &Trace) -> Vec<TcpClientStats> {
    use simnet_core::trace::FieldValue;
    let topo = &trace.topology;
    let mut apps: BTreeMap<simnet_core::AppId, TcpClientStats> = BTreeMap::new();
    for r in trace.records.iter() {
        let TraceEvent::App { app, event, .. } = &r.event else {
            continue;
        };
        let new = || TcpClientStats {
            app: *app,
            replies: 0,
            failures: 0,
            latencies: Vec::new(),
        };
        match event.kind.as_str() {
            "tcp.reply" => {
                let s = apps.entry(*app).or_insert_with(new);
                s.replies += 1;
                let latency = match event.field("latency") {
                    Some(FieldValue::Duration(d)) => *d,
                    _ => SimDuration::ZERO,
                };
                let conn = match event.field("connection") {
                    Some(FieldValue::Int(n)) => *n,
                    _ => s.replies as i64,
                };
                s.latencies.push((conn, latency));
            }
            "tcp.failed" | "tcp.connect-failed"
                if topo
                    .apps
                    .get(app.0 as usize)
                    .is_some_and(|i| i.kind == "tcp-client") =>
            {
                apps.entry(*app).or_insert_with(new).failures += 1;
            }
            _ => {}
        }
    }
    apps.into_values().collect()
}

/// The "TCP clients (request/reply)" tables: per built-in TCP client (see
/// [`tcp_clients`]) its replies, failures and reply latencies (min, mean,
/// max; a reply's latency runs from the moment the client wrote its request
/// to the moment it had read the whole expected reply); then, side by side,
/// every reply's latency, one row per connection number and one column per
/// client. Empty when no TCP client reported a reply or a failure.
fn tcp_client_tables(trace: &Trace) -> String {
    let clients = tcp_clients(trace);
    if clients.is_empty() {
        return String::new();
    }
    let topo = &trace.topology;
    let mut out = String::new();
    let _ = writeln!(out, "\nTCP clients (request/reply)");
    let mut t = Table::new(&[
        "client",
        "replies",
        "failures",
        "min latency",
        "mean latency",
        "max latency",
    ]);
    for c in &clients {
        let none = c.latencies.is_empty();
        let d = |d: SimDuration| if none { "-".to_string() } else { d.to_string() };
        t.row(vec![
            app_name(topo, c.app),
            c.replies.to_string(),
            c.failures.to_string(),
            d(c.min()),
            d(c.mean()),
            d(c.max()),
        ]);
    }
    out.push_str(&t.render());
    // Side by side, by connection number.
    let numbers: std::collections::BTreeSet<i64> = clients
        .iter()
        .flat_map(|c| c.latencies.iter().map(|(n, _)| *n))
        .collect();
    // Side by side only when there is something to compare: two clients,
    // or one whose latencies differ.
    let with_replies = clients.iter().filter(|c| !c.latencies.is_empty()).count();
    if numbers.is_empty() || (with_replies < 2 && clients.iter().all(|c| c.min() == c.max())) {
        return out;
    }
    let _ = writeln!(out, "\nTCP replies (latency per connection, side by side)");
    let mut headers = vec!["connection".to_string()];
    headers.extend(clients.iter().map(|c| app_host_name(topo, c.app)));
    let headers: Vec<&str> = headers.iter().map(|h| h.as_str()).collect();
    let mut t = Table::new(&headers);
    for (i, n) in numbers.iter().enumerate() {
        if i == MAX_REQUEST_ROWS {
            t.row(vec!["...".into()]);
            break;
        }
        let mut row = vec![n.to_string()];
        for c in &clients {
            let cells: Vec<String> = c
                .latencies
                .iter()
                .filter(|(m, _)| m == n)
                .map(|(_, l)| l.to_string())
                .collect();
            row.push(if cells.is_empty() {
                "-".to_string()
            } else {
                cells.join(", ")
            });
        }
        t.row(row);
    }
    out.push_str(&t.render());
    out
}

/// `host (kind)` for an application.
fn app_name(topo: &Topology, app: simnet_core::AppId) -> String {
    topo.apps.get(app.0 as usize).map_or("?".to_string(), |i| {
        format!("{} ({})", topo.host_name(i.host), i.kind)
    })
}

/// The name of an application's host (`?` if unknown).
fn app_host_name(topo: &Topology, app: simnet_core::AppId) -> String {
    topo.apps
        .get(app.0 as usize)
        .map_or("?".to_string(), |i| topo.host_name(i.host).to_string())
}

/// Rows the HTTP tables show at most; longer runs are cut with a note.
const MAX_REQUEST_ROWS: usize = 40;

/// The HTTP part of the summary, from the events the HTTP applications report:
/// per client (requests, connections, total time, latency) and per request.
/// A request retried is still one request (counted by its number); its row
/// shows its `latency` (from its first send), its `total` (from its first
/// attempt, handshakes and failed attempts included), its `attempts` and
/// how many of them sent it (`sends`). Empty when no HTTP client ran.
fn http_tables(trace: &Trace) -> String {
    use simnet_core::trace::FieldValue;
    let topo = &trace.topology;
    let int = |e: &simnet_core::AppEvent, k: &str| match e.field(k) {
        Some(FieldValue::Int(i)) => *i,
        _ => 0,
    };
    let dur = |e: &simnet_core::AppEvent, k: &str| match e.field(k) {
        Some(FieldValue::Duration(d)) => *d,
        _ => SimDuration::ZERO,
    };
    let yes =
        |e: &simnet_core::AppEvent, k: &str| matches!(e.field(k), Some(FieldValue::Bool(true)));

    #[derive(Default)]
    struct ClientStats {
        /// The requests' numbers: a request sent twice is one request.
        requests: std::collections::BTreeSet<i64>,
        new_conns: u64,
        responses: u64,
        errors: u64,
        retries: u64,
        first: Option<SimTime>,
        last: SimTime,
        latency_sum: SimDuration,
        latency_max: SimDuration,
    }
    let mut clients: BTreeMap<simnet_core::AppId, ClientStats> = BTreeMap::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in trace.records.iter() {
        let TraceEvent::App { host, app, event } = &r.event else {
            continue;
        };
        let c = || ClientStats::default();
        let kind = event.kind.as_str();
        if matches!(
            kind,
            "http.request-sent" | "http.response" | "http.error" | "http.retry"
        ) && let Some(FieldValue::Int(index)) = event.field("index")
        {
            clients
                .entry(*app)
                .or_insert_with(c)
                .requests
                .insert(*index);
        }
        match kind {
            "http.request-sent" => {
                let s = clients.entry(*app).or_insert_with(c);
                s.new_conns += u64::from(!yes(event, "reused"));
                s.first.get_or_insert(r.time);
            }
            "http.response" => {
                let s = clients.entry(*app).or_insert_with(c);
                let latency = dur(event, "latency");
                s.responses += 1;
                s.last = r.time;
                s.latency_sum = s.latency_sum + latency;
                s.latency_max = s.latency_max.max(latency);
                if rows.len() < MAX_REQUEST_ROWS {
                    rows.push(vec![
                        topo.host_name(*host).to_string(),
                        int(event, "index").to_string(),
                        int(event, "status").to_string(),
                        latency.to_string(),
                        dur(event, "total").to_string(),
                        if yes(event, "reused") {
                            "reused"
                        } else {
                            "new"
                        }
                        .to_string(),
                        int(event, "bytes").to_string(),
                        int(event, "attempts").to_string(),
                        int(event, "sends").to_string(),
                    ]);
                } else if rows.len() == MAX_REQUEST_ROWS {
                    rows.push(vec!["...".into()]);
                }
            }
            "http.error" => clients.entry(*app).or_insert_with(c).errors += 1,
            "http.retry" => clients.entry(*app).or_insert_with(c).retries += 1,
            _ => {}
        }
    }
    let mut out = String::new();
    if !clients.is_empty() {
        let _ = writeln!(out, "\nHTTP clients");
        let mut t = Table::new(&[
            "client",
            "requests",
            "responses",
            "errors",
            "retries",
            "new connections",
            "total time",
            "mean latency",
            "max latency",
        ]);
        for (app, s) in &clients {
            let mean = SimDuration::from_nanos(
                s.latency_sum
                    .as_nanos()
                    .checked_div(s.responses)
                    .unwrap_or(0),
            );
            let total = s.first.map_or(SimDuration::ZERO, |f| s.last - f);
            t.row(vec![
                app_name(topo, *app),
                s.requests.len().to_string(),
                s.responses.to_string(),
                s.errors.to_string(),
                s.retries.to_string(),
                s.new_conns.to_string(),
                total.to_string(),
                mean.to_string(),
                s.latency_max.to_string(),
            ]);
        }
        out.push_str(&t.render());
        let _ = writeln!(out, "\nHTTP requests");
        let mut t = Table::new(&[
            "client",
            "#",
            "status",
            "latency",
            "total",
            "connection",
            "body bytes",
            "attempts",
            "sends",
        ]);
        for r in rows {
            t.row(r);
        }
        out.push_str(&t.render());
    }
    out
}

/// The application events that report a published event reaching a
/// subscriber: `http.event` (polling, long polling, streaming), `ws.event`
/// (WebSocket) and `sio.event` (the Socket.IO-style client, on either
/// transport). Each carries `latency` (publication to delivery), `mode` and
/// `bytes` (the length of the event's own text, `id=3 t=1500000000`).
const DELIVERY_EVENTS: [&str; 3] = ["http.event", "ws.event", "sio.event"];

/// What one subscriber's events cost (see [`event_delivery`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The subscribing application.
    pub app: simnet_core::AppId,
    /// Modes in the order they were first seen (`long polling`, then
    /// `websocket` for a client that upgraded).
    pub modes: Vec<String>,
    /// Events delivered.
    pub events: u64,
    /// The sum of their delays (publication to delivery).
    pub delay_sum: SimDuration,
    /// The longest delay.
    pub delay_max: SimDuration,
    /// The events' own bytes (the sum of their `bytes` fields).
    pub event_bytes: u64,
    /// IP packets sent on the subscriber's connections, both ways.
    pub packets: u64,
    /// Their IP bytes (IP and TCP headers included).
    pub wire_bytes: u64,
}

impl Delivery {
    /// The mean delay.
    pub fn mean_delay(&self) -> SimDuration {
        SimDuration::from_nanos(
            self.delay_sum
                .as_nanos()
                .checked_div(self.events)
                .unwrap_or(0),
        )
    }

    /// Bytes on the wire beyond the events themselves, per event:
    /// `(wire_bytes - event_bytes) / events`, rounded down (0 with no events).
    pub fn overhead_per_event(&self) -> u64 {
        self.wire_bytes
            .saturating_sub(self.event_bytes)
            .checked_div(self.events)
            .unwrap_or(0)
    }
}

/// What each subscriber's events cost, in application order: one
/// [`Delivery`] per application that reported [`DELIVERY_EVENTS`].
///
/// A connection belongs to the application whose socket was at one end of
/// it (its `SocketCall`s name the socket, the socket's `TcpState` changes
/// give the 4-tuple); every IP packet sent with that 4-tuple, either way, is
/// counted once when sent (as the Links table counts frames): handshakes,
/// requests, empty answers, ACKs, retransmissions and the close included.
pub fn event_delivery(trace: &Trace) -> Vec<Delivery> {
    use simnet_core::AppId;
    use simnet_core::trace::FieldValue;

    let mut subs: BTreeMap<AppId, Delivery> = BTreeMap::new();
    for r in trace.records.iter() {
        let TraceEvent::App { app, event, .. } = &r.event else {
            continue;
        };
        if !DELIVERY_EVENTS.contains(&event.kind.as_str()) {
            continue;
        }
        let d = subs.entry(*app).or_insert_with(|| Delivery {
            app: *app,
            modes: Vec::new(),
            events: 0,
            delay_sum: SimDuration::ZERO,
            delay_max: SimDuration::ZERO,
            event_bytes: 0,
            packets: 0,
            wire_bytes: 0,
        });
        if let Some(FieldValue::Text(m)) = event.field("mode")
            && !d.modes.contains(m)
        {
            d.modes.push(m.clone());
        }
        let delay = match event.field("latency") {
            Some(FieldValue::Duration(l)) => *l,
            _ => SimDuration::ZERO,
        };
        d.events += 1;
        d.delay_sum = d.delay_sum + delay;
        d.delay_max = d.delay_max.max(delay);
        if let Some(FieldValue::Int(b)) = event.field("bytes") {
            d.event_bytes += u64::try_from(*b).unwrap_or(0);
        }
    }
    if subs.is_empty() {
        return Vec::new();
    }

    let conns = app_connections(trace, |app| subs.contains_key(&app));
    for (_, _, p) in trace.packets() {
        if let Some(d) = packet_tuple(&p)
            .and_then(|k| conns.get(&k))
            .and_then(|app| subs.get_mut(app))
        {
            d.packets += 1;
            d.wire_bytes += u64::from(p.ip_len);
        }
    }
    subs.into_values().collect()
}

type Tuple = (SocketAddrV4, SocketAddrV4);

/// A TCP packet's 4-tuple, lower endpoint first (`None` for other packets).
fn packet_tuple(p: &simnet_core::packet::PacketInfo) -> Option<Tuple> {
    let simnet_core::packet::Transport::Tcp(tcp) = &p.transport else {
        return None;
    };
    let a = SocketAddrV4::new(p.src, tcp.src_port);
    let b = SocketAddrV4::new(p.dst, tcp.dst_port);
    Some(if a <= b { (a, b) } else { (b, a) })
}

/// The TCP connections of the applications `wanted` accepts, by 4-tuple
/// (lower endpoint first): a connection belongs to the application whose
/// socket was at one end of it (its `SocketCall`s name the socket, the
/// socket's `TcpState` changes give the 4-tuple; the first owner wins).
fn app_connections(
    trace: &Trace,
    wanted: impl Fn(simnet_core::AppId) -> bool,
) -> BTreeMap<Tuple, simnet_core::AppId> {
    let key = |a: SocketAddrV4, b: SocketAddrV4| if a <= b { (a, b) } else { (b, a) };
    let mut owner: BTreeMap<(HostId, SocketId), simnet_core::AppId> = BTreeMap::new();
    let mut conns: BTreeMap<Tuple, simnet_core::AppId> = BTreeMap::new();
    for r in trace.records.iter() {
        match &r.event {
            TraceEvent::SocketCall {
                host,
                app,
                socket: Some(socket),
                ..
            } if wanted(*app) => {
                owner.insert((*host, *socket), *app);
            }
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote: Some(remote),
                ..
            } => {
                if let Some(app) = owner.get(&(*host, *socket)) {
                    conns.entry(key(*local, *remote)).or_insert(*app);
                }
            }
            _ => {}
        }
    }
    conns
}

/// One event as each subscriber got it (see [`per_event`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// The event's `id` (`None`: the row after every subscriber's last
    /// delivery, holding the bytes sent after it).
    pub id: Option<i64>,
    /// Per subscriber, in [`event_delivery`] order: the delay (`None` if it
    /// did not get this event) and the wire bytes charged to this event.
    pub cells: Vec<(Option<SimDuration>, u64)>,
}

/// Per event, side by side for every subscriber (the columns, in
/// [`event_delivery`] order): its delay, and the IP bytes (headers
/// included) of every packet sent, either way, on that subscriber's
/// connections after its previous delivery (or from the start of the run)
/// up to this delivery, in trace order. A packet belongs to the first
/// delivery reported after it was sent, so the ACK a subscriber sends for
/// an event counts towards its next one; when one answer carries several
/// events, the first is charged with all of its bytes and the others with
/// none. The last row (`id: None`) holds what was sent after each
/// subscriber's last delivery (the close, ACKs, further polls), so every
/// column adds up to that subscriber's `wire bytes` in [`Delivery`].
/// Rows are ordered by event id.
pub fn per_event(trace: &Trace) -> (Vec<simnet_core::AppId>, Vec<EventRow>) {
    per_event_of(trace, &event_delivery(trace))
}

/// [`per_event`] for the subscribers [`event_delivery`] already found.
fn per_event_of(
    trace: &Trace,
    deliveries: &[Delivery],
) -> (Vec<simnet_core::AppId>, Vec<EventRow>) {
    use simnet_core::trace::FieldValue;
    let subs: Vec<simnet_core::AppId> = deliveries.iter().map(|d| d.app).collect();
    if subs.is_empty() {
        return (subs, Vec::new());
    }
    let column = |app: simnet_core::AppId| subs.iter().position(|a| *a == app);
    let conns = app_connections(trace, |app| subs.contains(&app));
    let mut pending = vec![0u64; subs.len()];
    let mut rows: BTreeMap<i64, Vec<(Option<SimDuration>, u64)>> = BTreeMap::new();
    for r in trace.records.iter() {
        match &r.event {
            TraceEvent::PacketSent { .. } => {
                if let Some(p) = r.event.packet_info()
                    && let Some(col) = packet_tuple(&p)
                        .and_then(|k| conns.get(&k))
                        .and_then(|app| column(*app))
                {
                    pending[col] += u64::from(p.ip_len);
                }
            }
            TraceEvent::App { app, event, .. }
                if DELIVERY_EVENTS.contains(&event.kind.as_str()) =>
            {
                let Some(col) = column(*app) else { continue };
                let id = match event.field("id") {
                    Some(FieldValue::Int(i)) => *i,
                    _ => continue,
                };
                let delay = match event.field("latency") {
                    Some(FieldValue::Duration(l)) => *l,
                    _ => SimDuration::ZERO,
                };
                let row = rows
                    .entry(id)
                    .or_insert_with(|| vec![(None, 0); subs.len()]);
                let bytes = std::mem::take(&mut pending[col]);
                // The same event twice: keep the first delay, add the bytes.
                row[col].0.get_or_insert(delay);
                row[col].1 += bytes;
            }
            _ => {}
        }
    }
    let mut out: Vec<EventRow> = rows
        .into_iter()
        .map(|(id, cells)| EventRow {
            id: Some(id),
            cells,
        })
        .collect();
    out.push(EventRow {
        id: None,
        cells: pending.into_iter().map(|b| (None, b)).collect(),
    });
    (subs, out)
}

/// A span in milliseconds, without the unit: `20`, `1.5`, `0.041`.
fn millis(d: SimDuration) -> String {
    let ns = d.as_nanos();
    if ns.is_multiple_of(1_000_000) {
        (ns / 1_000_000).to_string()
    } else {
        let s = format!("{:.3}", ns as f64 / 1e6);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The "Per event" table: [`per_event`] laid out with two columns per
/// subscriber, named after its host: `<host> ms` (the delay, in
/// milliseconds; `-` if it never got the event) and `<host> B` (the wire
/// bytes charged to the event). The last row, `after`, holds the bytes sent
/// after each subscriber's last delivery. Empty when no application
/// reported a delivered event.
fn per_event_table(trace: &Trace, deliveries: &[Delivery]) -> String {
    let (subs, rows) = per_event_of(trace, deliveries);
    if subs.is_empty() {
        return String::new();
    }
    let topo = &trace.topology;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nPer event (ms: delay; B: IP bytes on the subscriber's connections since its previous delivery)"
    );
    let mut headers = vec!["event".to_string()];
    for app in &subs {
        let host = app_host_name(topo, *app);
        headers.push(format!("{host} ms"));
        headers.push(format!("{host} B"));
    }
    let headers: Vec<&str> = headers.iter().map(|h| h.as_str()).collect();
    let mut t = Table::new(&headers);
    let last = rows.len().saturating_sub(1);
    for (i, row) in rows.iter().enumerate() {
        if i >= MAX_REQUEST_ROWS && i != last {
            if i == MAX_REQUEST_ROWS {
                t.row(vec!["...".into()]);
            }
            continue;
        }
        let mut cells = vec![row.id.map_or("after".to_string(), |id| id.to_string())];
        for (delay, bytes) in &row.cells {
            cells.push(delay.map_or("-".to_string(), millis));
            cells.push(bytes.to_string());
        }
        t.row(cells);
    }
    out.push_str(&t.render());
    out
}

/// The "Event delivery" table: one row per [`Delivery`], comparing how
/// each subscriber learned of the same events.
///
/// - `mean delay`, `max delay`: over the `latency` of its events.
/// - `packets`, `wire bytes`: every IP packet on the subscriber's TCP
///   connections, both ways, for their whole life; `wire bytes` are IP
///   bytes, headers included (see [`event_delivery`]).
/// - `event bytes`: the sum of the events' own text lengths (`bytes`).
/// - `overhead/event`: `(wire bytes - event bytes) / events`, rounded down:
///   everything the subscriber's connections carried beyond the events
///   themselves (IP, TCP, HTTP and WebSocket headers, chunk and SSE framing,
///   requests and empty answers, handshakes and ACKs), per event delivered.
///
/// Empty when no application reported a delivered event.
fn delivery_table(trace: &Trace, deliveries: &[Delivery]) -> String {
    if deliveries.is_empty() {
        return String::new();
    }
    let topo = &trace.topology;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nEvent delivery (packets and bytes: the subscriber's connections, both ways)"
    );
    let mut t = Table::new(&[
        "subscriber",
        "mode",
        "events",
        "mean delay",
        "max delay",
        "packets",
        "wire bytes",
        "event bytes",
        "overhead/event",
    ]);
    for d in deliveries {
        t.row(vec![
            app_name(topo, d.app),
            d.modes.join(" then "),
            d.events.to_string(),
            d.mean_delay().to_string(),
            d.delay_max.to_string(),
            d.packets.to_string(),
            d.wire_bytes.to_string(),
            d.event_bytes.to_string(),
            d.overhead_per_event().to_string(),
        ]);
    }
    out.push_str(&t.render());
    out
}

/// The "WebSocket frames" table: per application that reported
/// `ws.frame-sent`, how many frames it sent, of which opcodes, how many
/// masked, and their header and payload bytes (the `header` and `len`
/// fields). Empty when no WebSocket frame was sent.
fn websocket_table(trace: &Trace) -> String {
    use simnet_core::AppId;
    use simnet_core::trace::FieldValue;
    #[derive(Default)]
    struct Sent {
        frames: u64,
        opcodes: BTreeMap<String, u64>,
        masked: u64,
        header: u64,
        payload: u64,
    }
    let mut apps: BTreeMap<AppId, Sent> = BTreeMap::new();
    for r in trace.records.iter() {
        let TraceEvent::App { app, event, .. } = &r.event else {
            continue;
        };
        if event.kind != "ws.frame-sent" {
            continue;
        }
        let int = |k: &str| match event.field(k) {
            Some(FieldValue::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        let s = apps.entry(*app).or_default();
        s.frames += 1;
        if let Some(FieldValue::Text(op)) = event.field("opcode") {
            *s.opcodes.entry(op.clone()).or_insert(0) += 1;
        }
        s.masked += u64::from(matches!(
            event.field("masked"),
            Some(FieldValue::Bool(true))
        ));
        s.header += int("header");
        s.payload += int("len");
    }
    if apps.is_empty() {
        return String::new();
    }
    let topo = &trace.topology;
    let mut out = String::new();
    let _ = writeln!(out, "\nWebSocket frames sent");
    let mut t = Table::new(&[
        "sender",
        "frames",
        "opcodes",
        "masked",
        "header bytes",
        "payload bytes",
    ]);
    for (app, s) in &apps {
        let opcodes: Vec<String> = s.opcodes.iter().map(|(o, n)| format!("{o} {n}")).collect();
        t.row(vec![
            app_name(topo, *app),
            s.frames.to_string(),
            opcodes.join(", "),
            s.masked.to_string(),
            s.header.to_string(),
            s.payload.to_string(),
        ]);
    }
    out.push_str(&t.render());
    out
}

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

//! Summary tables: what a run amounted to.
//!
//! Per TCP connection: endpoints, handshake time, bytes each way,
//! retransmissions, who closed first, the final states, the duration. Per
//! host: how many sockets were in each state, at the peak and at the end, and
//! TIME-WAIT over time. Per link direction: frames sent, delivered, dropped
//! (by reason), duplicated, corrupted. [`summarize`] computes the numbers;
//! [`render_summary`] lays them out as plain-text tables. When applications
//! report HTTP requests or delivered events, tables for those follow; per
//! event subscriber ([`event_delivery`]): its mode, the events' delays, and
//! the packets, bytes and overhead per event on its connections; per
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
    /// For the states that pile up (TIME-WAIT, CLOSE-WAIT), when they did:
    /// the count at eleven evenly spaced times from 0 to [`Summary::end`].
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
                bytes,
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
                link.bytes += bytes.len() as u64;
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
        let samples = 10u64;
        let over_time = PILING_STATES
            .iter()
            .filter_map(|state| {
                let h = self.history.get(state)?;
                if !h.iter().any(|(_, c)| *c > 0) {
                    return None;
                }
                let points: Vec<(SimTime, usize)> = (0..=samples)
                    .map(|i| {
                        let t = SimTime::from_nanos(end.as_nanos() / samples * i);
                        let c = h
                            .iter()
                            .take_while(|(at, _)| *at <= t)
                            .last()
                            .map_or(0, |(_, c)| *c);
                        (t, c)
                    })
                    .collect();
                // A state passed through in an instant is not piling up.
                points
                    .iter()
                    .any(|(_, c)| *c > 0)
                    .then_some((*state, points))
            })
            .collect();
        HostStates {
            host,
            states,
            over_time,
        }
    }
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
                (c.end - c.start).to_string(),
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

    out.push_str(&http_tables(trace));
    out.push_str(&delivery_table(trace));
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
    let app_host = |a: &simnet_core::AppId| {
        topo.apps.get(a.0 as usize).map_or("?".to_string(), |i| {
            format!("{} ({})", topo.host_name(i.host), i.kind)
        })
    };
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
                app_host(app),
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
    use simnet_core::packet::Transport;
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

    // The subscribers' connections, by their 4-tuple (lower endpoint first).
    let key = |a: SocketAddrV4, b: SocketAddrV4| if a <= b { (a, b) } else { (b, a) };
    let mut owner: BTreeMap<(HostId, SocketId), AppId> = BTreeMap::new();
    let mut conns: BTreeMap<(SocketAddrV4, SocketAddrV4), AppId> = BTreeMap::new();
    for r in trace.records.iter() {
        match &r.event {
            TraceEvent::SocketCall {
                host,
                app,
                socket: Some(socket),
                ..
            } if subs.contains_key(app) => {
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
    for (_, _, p) in trace.packets() {
        let Transport::Tcp(tcp) = &p.transport else {
            continue;
        };
        let k = key(
            SocketAddrV4::new(p.src, tcp.src_port),
            SocketAddrV4::new(p.dst, tcp.dst_port),
        );
        if let Some(d) = conns.get(&k).and_then(|app| subs.get_mut(app)) {
            d.packets += 1;
            d.wire_bytes += u64::from(p.ip_len);
        }
    }
    subs.into_values().collect()
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
fn delivery_table(trace: &Trace) -> String {
    let deliveries = event_delivery(trace);
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
    for d in &deliveries {
        let name = topo
            .apps
            .get(d.app.0 as usize)
            .map_or("?".to_string(), |i| {
                format!("{} ({})", topo.host_name(i.host), i.kind)
            });
        t.row(vec![
            name,
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
        let name = topo.apps.get(app.0 as usize).map_or("?".to_string(), |i| {
            format!("{} ({})", topo.host_name(i.host), i.kind)
        });
        let opcodes: Vec<String> = s.opcodes.iter().map(|(o, n)| format!("{o} {n}")).collect();
        t.row(vec![
            name,
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

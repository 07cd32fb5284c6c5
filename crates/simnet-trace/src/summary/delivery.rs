//! The summary's comparison of how subscribers learned of published
//! events: per subscriber its delays and the traffic its connections cost,
//! then each event side by side.

use super::table::Table;
use super::{app_host_name, app_name};
use simnet_core::packet::TupleKey;
use simnet_core::trace::{Topology, Trace, TraceEvent};
use simnet_core::{HostId, SimDuration, SocketId};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

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
    Deliveries::of(trace).finish().0
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
    let (_, subs, rows) = Deliveries::of(trace).finish();
    (subs, rows)
}

/// The event-delivery numbers, folded record by record.
///
/// Per TCP 4-tuple: the applications whose sockets were at its ends (in
/// the order they were seen), its packets and bytes, and the bytes sent
/// since its owner's last delivery; per socket, its application; per
/// subscriber, its counts and, per event id, its delay and bytes (the
/// per-event table lists every event). A tuple belongs to the first of its
/// applications that is a subscriber; its bytes since the last delivery
/// are charged to its owner's next delivery. (The stored path decided
/// ownership over the whole trace before charging; the two agree as long
/// as a subscriber's socket is bound to a tuple before the tuple carries
/// packets and no non-subscriber's socket was bound to it first, which is
/// how clients connect; `tests/scenarios` compares both on every scenario.)
#[derive(Default)]
pub(super) struct Deliveries {
    subs: BTreeMap<simnet_core::AppId, Delivery>,
    owner: BTreeMap<(HostId, SocketId), simnet_core::AppId>,
    tuples: BTreeMap<TupleKey, Traffic>,
    app_tuples: BTreeMap<simnet_core::AppId, Vec<TupleKey>>,
    rows: BTreeMap<i64, BTreeMap<simnet_core::AppId, (Option<SimDuration>, u64)>>,
}

#[derive(Default)]
struct Traffic {
    apps: Vec<simnet_core::AppId>,
    packets: u64,
    wire: u64,
    pending: u64,
}

impl Deliveries {
    fn of(trace: &Trace) -> Deliveries {
        let mut d = Deliveries::default();
        for r in trace.records.iter() {
            d.record(r, r.event.packet_info().as_ref());
        }
        d
    }

    /// Folds `r`; `info` is the packet a `PacketSent` carries, decoded.
    pub(super) fn record(
        &mut self,
        r: &simnet_core::TraceRecord,
        info: Option<&simnet_core::packet::PacketInfo>,
    ) {
        use simnet_core::trace::FieldValue;
        match &r.event {
            TraceEvent::SocketCall {
                host,
                app,
                socket: Some(socket),
                ..
            } => {
                self.owner.insert((*host, *socket), *app);
            }
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote: Some(remote),
                ..
            } => {
                if let Some(app) = self.owner.get(&(*host, *socket)) {
                    let key = TupleKey::of(*local, *remote);
                    let t = self.tuples.entry(key).or_default();
                    if !t.apps.contains(app) {
                        t.apps.push(*app);
                        self.app_tuples.entry(*app).or_default().push(key);
                    }
                }
            }
            TraceEvent::PacketSent { .. } => {
                if let Some(p) = info
                    && let Some(k) = packet_tuple(p)
                {
                    let t = self.tuples.entry(k).or_default();
                    t.packets += 1;
                    t.wire += u64::from(p.ip_len);
                    t.pending += u64::from(p.ip_len);
                }
            }
            TraceEvent::App { app, event, .. }
                if DELIVERY_EVENTS.contains(&event.kind.as_ref()) =>
            {
                let d = self.subs.entry(*app).or_insert_with(|| Delivery {
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
                    && !d.modes.iter().any(|known| known == m)
                {
                    d.modes.push(m.to_string());
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
                let id = match event.field("id") {
                    Some(FieldValue::Int(i)) => *i,
                    _ => return,
                };
                let subs = &self.subs;
                let mut bytes = 0;
                for k in self.app_tuples.get(app).into_iter().flatten() {
                    if let Some(t) = self.tuples.get_mut(k)
                        && t.apps.iter().find(|a| subs.contains_key(a)) == Some(app)
                    {
                        bytes += std::mem::take(&mut t.pending);
                    }
                }
                let cell = self.rows.entry(id).or_default().entry(*app).or_default();
                // The same event twice: keep the first delay, add the bytes.
                cell.0.get_or_insert(delay);
                cell.1 += bytes;
            }
            _ => {}
        }
    }

    /// The subscribers' [`Delivery`] rows, the subscribers in column order
    /// and the per-event rows ([`per_event`]).
    pub(super) fn finish(mut self) -> (Vec<Delivery>, Vec<simnet_core::AppId>, Vec<EventRow>) {
        if self.subs.is_empty() {
            return (Vec::new(), Vec::new(), Vec::new());
        }
        let subs: Vec<simnet_core::AppId> = self.subs.keys().copied().collect();
        let column = |app: &simnet_core::AppId| subs.iter().position(|a| a == app);
        let mut after = vec![0u64; subs.len()];
        for t in self.tuples.values() {
            let Some(app) = t.apps.iter().find(|a| self.subs.contains_key(a)) else {
                continue;
            };
            if let Some(d) = self.subs.get_mut(app) {
                d.packets += t.packets;
                d.wire_bytes += t.wire;
            }
            if let Some(col) = column(app) {
                after[col] += t.pending;
            }
        }
        let mut rows: Vec<EventRow> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(|(id, cells)| {
                let mut row = vec![(None, 0); subs.len()];
                for (app, cell) in cells {
                    if let Some(col) = column(&app) {
                        row[col] = cell;
                    }
                }
                EventRow {
                    id: Some(id),
                    cells: row,
                }
            })
            .collect();
        rows.push(EventRow {
            id: None,
            cells: after.into_iter().map(|b| (None, b)).collect(),
        });
        (self.subs.into_values().collect(), subs, rows)
    }
}

/// A TCP packet's 4-tuple (`None` for other packets).
fn packet_tuple(p: &simnet_core::packet::PacketInfo) -> Option<TupleKey> {
    let simnet_core::packet::Transport::Tcp(tcp) = &p.transport else {
        return None;
    };
    let a = SocketAddrV4::new(p.src, tcp.src_port);
    let b = SocketAddrV4::new(p.dst, tcp.dst_port);
    Some(TupleKey::of(a, b))
}

/// A span in milliseconds, without the unit: `20`, `1.5`, `0.041`.
pub(super) fn millis(d: SimDuration) -> String {
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
pub(super) fn per_event_table(
    topo: &Topology,
    subs: &[simnet_core::AppId],
    rows: &[EventRow],
) -> Table {
    let mut headers = vec!["event".to_string()];
    for app in subs {
        let host = app_host_name(topo, *app);
        headers.push(format!("{host} ms"));
        headers.push(format!("{host} B"));
    }
    let t = Table::new(
        "Per event (ms: delay; B: IP bytes on the subscriber's connections since its previous delivery)",
        headers,
    );
    if subs.is_empty() {
        return t;
    }
    // With subscribers the table shows, rows or not, as it always has.
    let mut t = t.always();
    let last = rows.len().saturating_sub(1);
    for (i, row) in rows.iter().enumerate() {
        let mut cells = vec![row.id.map_or("after".to_string(), |id| id.to_string())];
        for (delay, bytes) in &row.cells {
            cells.push(delay.map_or("-".to_string(), millis));
            cells.push(bytes.to_string());
        }
        // The last row (bytes after the last delivery) shows even when the
        // events before it were cut.
        if i == last {
            t.row(cells);
        } else {
            t.row_capped(cells);
        }
    }
    t
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
pub(super) fn delivery_table(topo: &Topology, deliveries: &[Delivery]) -> Table {
    Table::new(
        "Event delivery (packets and bytes: the subscriber's connections, both ways)",
        [
            "subscriber",
            "mode",
            "events",
            "mean delay",
            "max delay",
            "packets",
            "wire bytes",
            "event bytes",
            "overhead/event",
        ],
    )
    .rows(deliveries, |d| {
        vec![
            app_name(topo, d.app),
            d.modes.join(" then "),
            d.events.to_string(),
            d.mean_delay().to_string(),
            d.delay_max.to_string(),
            d.packets.to_string(),
            d.wire_bytes.to_string(),
            d.event_bytes.to_string(),
            d.overhead_per_event().to_string(),
        ]
    })
}

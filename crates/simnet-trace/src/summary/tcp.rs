//! The summary's TCP tables beyond the connection list: data lost at
//! abortive closes, the throughput of bulk transfers against their link,
//! the built-in TCP clients' reply latencies, and what each sink received.

use super::table::Table;
use super::{Summary, Tuple, app_host_name, app_name, host_or_addr};
use simnet_core::analysis::Connection;
use simnet_core::trace::{Topology, Trace, TraceEvent, TraceRecord};
use simnet_core::{HostId, SimDuration, SimTime, SocketId};
use std::collections::BTreeMap;

/// What the "Data lost" table needs, folded record by record: each
/// socket's 4-tuple (per socket) and one entry per `DataLost` event (at most
/// one or two per connection).
#[derive(Default)]
pub(super) struct DataLost {
    tuples: BTreeMap<(HostId, SocketId), Tuple>,
    rows: Vec<LostRow>,
}

struct LostRow {
    at: SimTime,
    host: HostId,
    tuple: Option<Tuple>,
    unread: Option<(u64, u64)>,
    unacked: Option<(u64, u64)>,
    cause: String,
}

impl DataLost {
    pub(super) fn record(&mut self, r: &TraceRecord) {
        match &r.event {
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote: Some(remote),
                ..
            } => {
                self.tuples.insert((*host, *socket), (*local, *remote));
            }
            TraceEvent::DataLost {
                host,
                socket,
                cause,
                unread,
                unacked,
            } => self.rows.push(LostRow {
                at: r.time,
                host: *host,
                tuple: self.tuples.get(&(*host, *socket)).copied(),
                unread: *unread,
                unacked: *unacked,
                cause: cause.to_string(),
            }),
            _ => {}
        }
    }

    /// Data no application will see: one row per `DataLost` event, with the
    /// connection it happened on (the one with the socket's 4-tuple that had
    /// started by then) and the stream bytes lost each way. Empty when no
    /// data was lost.
    pub(super) fn table(&self, topo: &Topology, s: &Summary) -> Table {
        let mut t = Table::new(
            "Data lost (unread: received, never read; unacked: written, never acknowledged; \
             stream offsets in parentheses)",
            [
                "at",
                "host",
                "conn",
                "peer",
                "unread bytes",
                "unacked bytes",
                "cause",
            ],
        );
        for row in &self.rows {
            let conn = row.tuple.and_then(|(l, rm)| {
                s.connections.iter().rfind(|c| {
                    c.start <= row.at
                        && ((c.client, c.server) == (l, rm) || (c.client, c.server) == (rm, l))
                })
            });
            let peer = row.tuple.map_or("-".to_string(), |(_, rm)| {
                let name = host_or_addr(topo, topo.host_by_addr(*rm.ip()), rm);
                format!("{name}:{}", rm.port())
            });
            let range = |r: &Option<(u64, u64)>| {
                r.map_or("-".to_string(), |(offset, n)| {
                    format!("{n} ({offset}..{})", offset + n)
                })
            };
            t.row(vec![
                row.at.to_string(),
                topo.host_name(row.host).to_string(),
                conn.map_or("-".to_string(), |c| format!("#{}", c.number)),
                peer,
                range(&row.unread),
                range(&row.unacked),
                row.cause.clone(),
            ]);
        }
        t
    }
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
    let (first, acked) = flow.data_span()?;
    let span = acked.saturating_since(first);
    (flow.bytes > 0 && !span.is_zero()).then_some((flow.bytes, span))
}

/// A rate in bits per second, with a unit: `9.52 Mbit/s`, `640 kbit/s`.
pub(super) fn rate(bps: f64) -> String {
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
pub(super) fn throughput_table(topo: &Topology, s: &Summary) -> Table {
    let mut t = Table::new(
        "Throughput (goodput: payload bytes / first data to the ACK of the last)",
        [
            "#",
            "direction",
            "payload bytes",
            "first data to last ACK",
            "goodput",
            "link rate",
            "of link",
            "link BDP",
        ],
    );
    for c in &s.connections {
        if c.main_flow().bytes < THROUGHPUT_MIN_BYTES {
            continue;
        }
        let Some((bytes, span)) = goodput(c) else {
            continue;
        };
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
    t
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
    let mut fold = TcpClients::default();
    for r in trace.records.iter() {
        fold.record(&trace.topology, r);
    }
    fold.finish()
}

/// [`tcp_clients`], folded record by record. It keeps every reply's
/// latency: the side-by-side table lists them per connection number.
#[derive(Default)]
pub(super) struct TcpClients {
    apps: BTreeMap<simnet_core::AppId, TcpClientStats>,
}

impl TcpClients {
    pub(super) fn record(&mut self, topo: &Topology, r: &TraceRecord) {
        use simnet_core::trace::FieldValue;
        let TraceEvent::App { app, event, .. } = &r.event else {
            return;
        };
        let new = || TcpClientStats {
            app: *app,
            replies: 0,
            failures: 0,
            latencies: Vec::new(),
        };
        match event.kind.as_ref() {
            "tcp.reply" => {
                let s = self.apps.entry(*app).or_insert_with(new);
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
                self.apps.entry(*app).or_insert_with(new).failures += 1;
            }
            _ => {}
        }
    }

    pub(super) fn finish(self) -> Vec<TcpClientStats> {
        self.apps.into_values().collect()
    }
}

/// The "TCP clients (request/reply)" tables: per built-in TCP client (see
/// [`tcp_clients`]) its replies, failures and reply latencies (min, mean,
/// max; a reply's latency runs from the moment the client wrote its request
/// to the moment it had read the whole expected reply); then, side by side,
/// every reply's latency, one row per connection number and one column per
/// client. Empty when no TCP client reported a reply or a failure.
pub(super) fn tcp_client_tables(topo: &Topology, clients: &[TcpClientStats]) -> Vec<Table> {
    if clients.is_empty() {
        return Vec::new();
    }
    let summary = Table::new(
        "TCP clients (request/reply)",
        [
            "client",
            "replies",
            "failures",
            "min latency",
            "mean latency",
            "max latency",
        ],
    )
    .rows(clients, |c| {
        let none = c.latencies.is_empty();
        let d = |d: SimDuration| if none { "-".to_string() } else { d.to_string() };
        vec![
            app_name(topo, c.app),
            c.replies.to_string(),
            c.failures.to_string(),
            d(c.min()),
            d(c.mean()),
            d(c.max()),
        ]
    });
    // Side by side, by connection number.
    let numbers: std::collections::BTreeSet<i64> = clients
        .iter()
        .flat_map(|c| c.latencies.iter().map(|(n, _)| *n))
        .collect();
    // Side by side only when there is something to compare: two clients,
    // or one whose latencies differ.
    let with_replies = clients.iter().filter(|c| !c.latencies.is_empty()).count();
    if numbers.is_empty() || (with_replies < 2 && clients.iter().all(|c| c.min() == c.max())) {
        return vec![summary];
    }
    let mut headers = vec!["connection".to_string()];
    headers.extend(clients.iter().map(|c| app_host_name(topo, c.app)));
    let mut t = Table::new(
        "TCP replies (latency per connection, side by side)",
        headers,
    );
    for n in &numbers {
        let mut row = vec![n.to_string()];
        for c in clients {
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
        t.row_capped(row);
    }
    vec![summary, t]
}

/// What the "Sinks" table needs: one row per `sink.eof` event (one per
/// connection a sink read to its end).
#[derive(Default)]
pub(super) struct Sinks {
    rows: Vec<SinkRow>,
}

struct SinkRow {
    at: SimTime,
    app: simnet_core::AppId,
    bytes: Option<i64>,
    duration: Option<SimDuration>,
    /// `None`: intact; `Some(position)`: the first wrong byte; `Some(-1)`:
    /// the event did not say.
    first_mismatch: Option<i64>,
}

impl Sinks {
    pub(super) fn record(&mut self, r: &TraceRecord) {
        use simnet_core::trace::FieldValue;
        let TraceEvent::App { app, event, .. } = &r.event else {
            return;
        };
        if event.kind != "sink.eof" {
            return;
        }
        let int = |name| match event.field(name) {
            Some(FieldValue::Int(n)) => Some(*n),
            _ => None,
        };
        let first_mismatch = match event.field("intact") {
            Some(FieldValue::Bool(true)) => None,
            Some(FieldValue::Bool(false)) => Some(int("first_mismatch").unwrap_or(-1)),
            _ => Some(-1),
        };
        self.rows.push(SinkRow {
            at: r.time,
            app: *app,
            bytes: int("bytes"),
            duration: match event.field("duration") {
                Some(FieldValue::Duration(d)) => Some(*d),
                _ => None,
            },
            first_mismatch,
        });
    }

    /// The "Sinks" table: per connection a `sink` read to its end, when,
    /// how many bytes in how long, and whether they were the bytes
    /// `bulk-send` sends (`intact`) or where they first differed. Empty
    /// when no sink saw an end of stream.
    pub(super) fn table(&self, topo: &Topology) -> Table {
        let mut t = Table::new(
            "Sinks (per connection read to its end; content checked against bulk-send's bytes)",
            ["app", "host", "at", "bytes", "in", "content"],
        );
        for row in &self.rows {
            let name = topo
                .apps
                .get(row.app.0 as usize)
                .map_or("?".to_string(), |a| a.name.clone());
            let dash = || "-".to_string();
            t.row_capped(vec![
                name,
                app_host_name(topo, row.app),
                row.at.to_string(),
                row.bytes.map_or_else(dash, |b| b.to_string()),
                row.duration.map_or_else(dash, |d| d.to_string()),
                match row.first_mismatch {
                    None => "intact".to_string(),
                    Some(at) if at >= 0 => format!("differs from byte {at}"),
                    Some(_) => "not checked".to_string(),
                },
            ]);
        }
        t
    }
}

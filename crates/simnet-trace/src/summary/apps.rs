//! The summary's tables from what the HTTP and WebSocket applications
//! report: HTTP clients and their requests, WebSocket frames sent.

use super::app_name;
use super::table::Table;
use simnet_core::trace::{Topology, TraceEvent, TraceRecord};
use simnet_core::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// What the HTTP tables need, folded record by record: per client its
/// counts and the numbers of its requests, and the first rows of the
/// requests table.
pub(super) struct Http {
    clients: BTreeMap<simnet_core::AppId, ClientStats>,
    /// The first [`super::MAX_ROWS`] rows (and the `...` row): longer runs
    /// keep no more.
    requests: Table,
}

#[derive(Default)]
struct ClientStats {
    /// The requests' numbers: a request sent twice is one request. One
    /// entry per request, the only part of the HTTP tables that grows with
    /// the number of requests.
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

impl Default for Http {
    fn default() -> Http {
        Http {
            clients: BTreeMap::new(),
            requests: Table::new(
                "HTTP requests",
                [
                    "client",
                    "#",
                    "status",
                    "latency",
                    "total",
                    "connection",
                    "body bytes",
                    "attempts",
                    "sends",
                ],
            )
            .always(),
        }
    }
}

impl Http {
    pub(super) fn record(&mut self, topo: &Topology, r: &TraceRecord) {
        use simnet_core::trace::FieldValue;
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

        let clients = &mut self.clients;
        let requests = &mut self.requests;
        {
            let TraceEvent::App { host, app, event } = &r.event else {
                return;
            };
            let c = || ClientStats::default();
            let kind = event.kind.as_ref();
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
                    requests.row_capped(vec![
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
                }
                // A request's failure; a subscriber's failed poll has no
                // request index and no row in this table of request makers.
                "http.error" if event.field("index").is_some() || clients.contains_key(app) => {
                    clients.entry(*app).or_insert_with(c).errors += 1
                }
                "http.retry" => clients.entry(*app).or_insert_with(c).retries += 1,
                _ => {}
            }
        }
    }

    /// The HTTP part of the summary, from the events the HTTP applications
    /// report: per client (requests, connections, total time, latency) and
    /// per request. A request retried is still one request (counted by its
    /// number); its row shows its `latency` (from its first send), its
    /// `total` (from its first attempt, handshakes and failed attempts
    /// included), its `attempts` and how many of them sent it (`sends`).
    /// Empty when no HTTP client ran.
    pub(super) fn tables(self, topo: &Topology) -> Vec<Table> {
        let clients = self.clients;
        let requests = self.requests;
        if clients.is_empty() {
            return Vec::new();
        }
        let summary = Table::new(
            "HTTP clients",
            [
                "client",
                "requests",
                "responses",
                "errors",
                "retries",
                "new connections",
                "total time",
                "mean latency",
                "max latency",
            ],
        )
        .rows(&clients, |(app, s)| {
            let mean = SimDuration::from_nanos(
                s.latency_sum
                    .as_nanos()
                    .checked_div(s.responses)
                    .unwrap_or(0),
            );
            let total = s.first.map_or(SimDuration::ZERO, |f| s.last - f);
            vec![
                app_name(topo, *app),
                s.requests.len().to_string(),
                s.responses.to_string(),
                s.errors.to_string(),
                s.retries.to_string(),
                s.new_conns.to_string(),
                total.to_string(),
                mean.to_string(),
                s.latency_max.to_string(),
            ]
        });
        vec![summary, requests]
    }
}

/// What the "WebSocket frames" table needs: per application that reported
/// `ws.frame-sent`, how many frames it sent, of which opcodes, how many
/// masked, and their header and payload bytes (the `header` and `len`
/// fields). Empty when no WebSocket frame was sent.
#[derive(Default)]
pub(super) struct WebSocket {
    apps: BTreeMap<simnet_core::AppId, Sent>,
}

#[derive(Default)]
struct Sent {
    frames: u64,
    opcodes: BTreeMap<String, u64>,
    masked: u64,
    header: u64,
    payload: u64,
}

impl WebSocket {
    pub(super) fn record(&mut self, r: &TraceRecord) {
        use simnet_core::trace::FieldValue;
        let apps = &mut self.apps;
        {
            let TraceEvent::App { app, event, .. } = &r.event else {
                return;
            };
            if event.kind != "ws.frame-sent" {
                return;
            }
            let int = |k: &str| match event.field(k) {
                Some(FieldValue::Int(n)) => u64::try_from(*n).unwrap_or(0),
                _ => 0,
            };
            let s = apps.entry(*app).or_default();
            s.frames += 1;
            if let Some(FieldValue::Text(op)) = event.field("opcode") {
                // Counted in place: an opcode seen before costs no copy.
                match s.opcodes.get_mut(op.as_ref()) {
                    Some(n) => *n += 1,
                    None => {
                        s.opcodes.insert(op.to_string(), 1);
                    }
                }
            }
            s.masked += u64::from(matches!(
                event.field("masked"),
                Some(FieldValue::Bool(true))
            ));
            s.header += int("header");
            s.payload += int("len");
        }
    }

    pub(super) fn table(&self, topo: &Topology) -> Table {
        let apps = &self.apps;
        Table::new(
            "WebSocket frames sent",
            [
                "sender",
                "frames",
                "opcodes",
                "masked",
                "header bytes",
                "payload bytes",
            ],
        )
        .rows(apps, |(app, s)| {
            let opcodes: Vec<String> = s.opcodes.iter().map(|(o, n)| format!("{o} {n}")).collect();
            vec![
                app_name(topo, *app),
                s.frames.to_string(),
                opcodes.join(", "),
                s.masked.to_string(),
                s.header.to_string(),
                s.payload.to_string(),
            ]
        })
    }
}

//! The "Before the first byte" table: where each HTTP request's (and
//! each WebSocket upgrade's) wait went, split into DNS, TCP, TLS and HTTP.
//!
//! For a request on a new connection the phases are read from the events
//! of the connection's socket and of its application:
//!
//! - **DNS**: the `latency` of the application's last `dns.answer` before
//!   it called `connect()` (zero when answered from the cache; none when
//!   the application connected by address);
//! - **TCP**: from `connect()` to the socket's ESTABLISHED;
//! - **TLS**: from ESTABLISHED to the client's `tls.handshake` (none for
//!   plain HTTP);
//! - **HTTP**: from the moment the request could leave (the handshakes
//!   done, or later if the application wrote it later) to the
//!   `http.response` (for a WebSocket client, from its upgrade request to
//!   `ws.upgrade`, the 101; for a Socket.IO-style client, from its
//!   polling connection to `sio.transport`, the answer that opened the
//!   session). For a response that fits one flight this is the time
//!   to its first byte; a long body adds its transfer.
//!
//! A request on a reused connection pays only HTTP (its `latency`). The
//! table is shown when some connection resolved a name or spoke TLS: for
//! plain HTTP by address, the HTTP requests table says it all.
//!
//! Kept per open client connection: its marks (a few instants), dropped
//! when the socket closes; per application: its last DNS answer's latency.

use super::app_name;
use super::table::Table;
use simnet_core::trace::{FieldValue, Topology, TraceEvent, TraceRecord};
use simnet_core::{AppId, HostId, SimDuration, SimTime, SocketCall, SocketId, TcpState};
use std::collections::BTreeMap;

/// What one client connection went through before its first response.
struct Marks {
    app: AppId,
    dns: Option<SimDuration>,
    connect: SimTime,
    established: Option<SimTime>,
    tls: Option<SimTime>,
    request: Option<SimTime>,
    /// Its first response has been tabled: later ones reused it.
    answered: bool,
}

/// The table, folded record by record.
pub(super) struct FirstByte {
    /// Per application: the latency of its last DNS answer, not yet
    /// claimed by a connect().
    dns: BTreeMap<AppId, SimDuration>,
    open: BTreeMap<(HostId, SocketId), Marks>,
    table: Table,
    /// Whether any connection resolved a name or spoke TLS.
    shown: bool,
}

impl Default for FirstByte {
    fn default() -> FirstByte {
        FirstByte {
            dns: BTreeMap::new(),
            open: BTreeMap::new(),
            table: Table::new(
                "Before the first byte (HTTP requests and WebSocket upgrades: where the wait went)",
                [
                    "client",
                    "#",
                    "connection",
                    "DNS",
                    "TCP",
                    "TLS",
                    "HTTP",
                    "total",
                ],
            ),
            shown: false,
        }
    }
}

fn dur(d: Option<SimDuration>) -> String {
    d.map_or("-".to_string(), |d| d.to_string())
}

impl FirstByte {
    pub(super) fn record(&mut self, topo: &Topology, r: &TraceRecord) {
        match &r.event {
            TraceEvent::SocketCall {
                host,
                app,
                socket: Some(socket),
                call: SocketCall::Connect { .. },
            } => {
                let dns = self.dns.remove(app);
                self.open.insert(
                    (*host, *socket),
                    Marks {
                        app: *app,
                        dns,
                        connect: r.time,
                        established: None,
                        tls: None,
                        request: None,
                        answered: false,
                    },
                );
            }
            TraceEvent::TcpState {
                host, socket, to, ..
            } => match to {
                TcpState::Established => {
                    if let Some(m) = self.open.get_mut(&(*host, *socket)) {
                        m.established.get_or_insert(r.time);
                    }
                }
                TcpState::Closed | TcpState::TimeWait => {
                    self.open.remove(&(*host, *socket));
                }
                _ => {}
            },
            TraceEvent::App { host, app, event } => {
                let socket = event.socket;
                match event.kind.as_ref() {
                    "dns.answer" => {
                        let latency = match event.field("latency") {
                            Some(FieldValue::Duration(d)) => *d,
                            _ => SimDuration::ZERO,
                        };
                        self.dns.insert(*app, latency);
                    }
                    "tls.handshake" => {
                        if let Some(m) = socket.and_then(|s| self.open.get_mut(&(*host, s))) {
                            m.tls.get_or_insert(r.time);
                        }
                    }
                    "http.request-sent" | "ws.upgrade-request" => {
                        if let Some(m) = socket.and_then(|s| self.open.get_mut(&(*host, s))) {
                            m.request.get_or_insert(r.time);
                        }
                    }
                    kind @ ("http.response" | "ws.upgrade" | "sio.transport") => {
                        let polling = matches!(event.field("transport"), Some(FieldValue::Text(t)) if t == "polling");
                        if kind == "sio.transport" && !polling {
                            return;
                        }
                        let Some(m) = socket.and_then(|s| self.open.get_mut(&(*host, s))) else {
                            return;
                        };
                        let index = match event.field("index") {
                            Some(FieldValue::Int(i)) => i.to_string(),
                            _ if kind == "ws.upgrade" => "upgrade".to_string(),
                            _ if kind == "sio.transport" => "session".to_string(),
                            _ => "-".to_string(),
                        };
                        if m.answered {
                            let latency = match event.field("latency") {
                                Some(FieldValue::Duration(d)) => Some(*d),
                                _ => None,
                            };
                            self.table.row_capped(vec![
                                app_name(topo, m.app),
                                index,
                                "reused".to_string(),
                                "-".to_string(),
                                "-".to_string(),
                                "-".to_string(),
                                dur(latency),
                                dur(latency),
                            ]);
                            return;
                        }
                        m.answered = true;
                        self.shown |= m.dns.is_some() || m.tls.is_some();
                        let tcp = m.established.map(|e| e - m.connect);
                        let tls = m.tls.zip(m.established).map(|(t, e)| t - e);
                        let ready = m.tls.or(m.established).unwrap_or(m.connect);
                        let start = m.request.map_or(ready, |q| q.max(ready));
                        let http = r.time - start;
                        let total = (r.time - m.connect) + m.dns.unwrap_or(SimDuration::ZERO);
                        self.table.row_capped(vec![
                            app_name(topo, m.app),
                            index,
                            "new".to_string(),
                            dur(m.dns),
                            dur(tcp),
                            dur(tls),
                            http.to_string(),
                            total.to_string(),
                        ]);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    pub(super) fn table(self) -> Option<Table> {
        self.shown.then_some(self.table)
    }
}

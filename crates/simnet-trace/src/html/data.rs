//! The page's data: the run compacted into one JSON document.
//!
//! ```text
//! {"version":1, "name", "description", "seed", "payload_bytes",
//!  "hosts":[{"name","address"}], "links":[{"a","b","latency_ns",...}],
//!  "apps":[{"name","kind","host"}],
//!  "connections":[{"number","client","server","client_host","server_host"}],
//!  "expectations":[{"label","passed","observed","at_ns"}],
//!  "events":[[t_ns, code, line, ...fields], ...], "end_ns"}
//! ```
//!
//! Each event is an array: its time, a one-letter code, the text timeline's
//! line for it (`null` only for a key log line, a secret for tools; an
//! event the timeline leaves out gets a line of its own), then the fields
//! of its kind, listed at [`event`]. Hosts, apps and connections are
//! indexes into their lists; `-1` stands for none. Objects are written
//! with serde_json's sorted keys, so the same trace gives the same bytes.

use super::{HtmlMeta, PAYLOAD_BYTES};
use crate::text::{TextOptions, TextRenderer};
use base64::Engine as _;
use serde_json::{Value, json};
use simnet_core::analysis::{SegmentKind, analyze};
use simnet_core::packet::{PacketInfo, Transport};
use simnet_core::socket::{HostId, SocketCall};
use simnet_core::trace::{DelayCause, Trace, TraceEvent};
use simnet_core::{FrameId, SimTime};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

/// The JSON document the page embeds.
pub(super) fn page_data(trace: &Trace, meta: &HtmlMeta) -> String {
    let topo = &trace.topology;
    let analysis = analyze(trace);
    let conns = Connections::new(&analysis);
    // What the analysis says each segment was, by frame.
    let mut tags: BTreeMap<FrameId, &'static str> = BTreeMap::new();
    for c in &analysis.connections {
        for flow in [&c.to_server, &c.to_client] {
            for s in &flow.segments {
                let tag = match s.kind {
                    SegmentKind::New => continue,
                    SegmentKind::Retransmission => "retransmission",
                    SegmentKind::KeepAlive => "keep-alive",
                    SegmentKind::WindowProbe => "window-probe",
                };
                tags.insert(s.frame, tag);
            }
        }
    }
    let ws_labels = crate::websocket::frame_labels(trace);
    let tls_labels = crate::tls::record_labels(trace);
    let mut text = TextRenderer::new(
        topo,
        TextOptions {
            show_deliveries: true,
            show_listen_arming: true,
            absolute_seq: false,
        },
    );
    let mut seqs = crate::relative::SeqTracker::new();

    let mut out = String::with_capacity(256 * trace.records.len().max(16));
    out.push_str("{\"version\":1");
    let _ = write!(out, ",\"name\":{}", json!(meta.name));
    let _ = write!(out, ",\"description\":{}", json!(meta.description));
    let _ = write!(out, ",\"seed\":{}", meta.seed);
    let _ = write!(out, ",\"payload_bytes\":{PAYLOAD_BYTES}");
    let hosts: Vec<Value> = topo
        .hosts
        .iter()
        .map(|h| json!({"name": h.name, "address": h.addr.to_string()}))
        .collect();
    let _ = write!(out, ",\"hosts\":{}", Value::Array(hosts));
    let links: Vec<Value> = topo
        .links
        .iter()
        .map(|l| {
            json!({
                "a": l.a.0, "b": l.b.0,
                "latency_ns": l.a_to_b.latency.as_nanos(),
                "loss_ppm": l.a_to_b.loss.ppm(),
                "bandwidth_bps": l.a_to_b.bandwidth_bps,
            })
        })
        .collect();
    let _ = write!(out, ",\"links\":{}", Value::Array(links));
    let apps: Vec<Value> = topo
        .apps
        .iter()
        .map(|a| json!({"name": a.name, "kind": a.kind, "host": a.host.0}))
        .collect();
    let _ = write!(out, ",\"apps\":{}", Value::Array(apps));
    let connections: Vec<Value> = analysis
        .connections
        .iter()
        .map(|c| {
            json!({
                "number": c.number,
                "client": c.client.to_string(),
                "server": c.server.to_string(),
                "client_host": host_index(c.client_host),
                "server_host": host_index(c.server_host),
            })
        })
        .collect();
    let _ = write!(out, ",\"connections\":{}", Value::Array(connections));
    let expectations: Vec<Value> = meta
        .expectations
        .iter()
        .map(|e| {
            json!({
                "label": e.label,
                "passed": e.passed,
                "observed": e.observed,
                "at_ns": e.at.map(SimTime::as_nanos),
            })
        })
        .collect();
    let _ = write!(out, ",\"expectations\":{}", Value::Array(expectations));
    out.push_str(",\"events\":[");
    let mut end = SimTime::ZERO;
    for (i, record) in trace.records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        end = record.time;
        let line = text.line(&record.event);
        let line = match &record.event {
            // A key log line is for tools: the page shows that it is there.
            TraceEvent::App { event, .. } if event.is_secret() => None,
            // What the timeline leaves out (a frame that met an empty queue)
            // still gets a row, so every event can be the cursor's.
            TraceEvent::FrameQueued { frame, departs, .. } if line.is_none() => Some(format!(
                "*       link frame {} onto the link at once (queue empty), gone from the sender by {departs}",
                frame.0
            )),
            _ => line.map(|l| l.trim_start().to_string()),
        };
        let fields = event(
            &record.event,
            record.time,
            &conns,
            &mut seqs,
            &tags,
            (&ws_labels, &tls_labels),
        );
        let mut row = vec![json!(record.time.as_nanos())];
        row.extend(fields);
        row.insert(2, json!(line));
        out.push_str(&Value::Array(row).to_string());
    }
    out.push(']');
    let _ = write!(out, ",\"end_ns\":{}", end.as_nanos());
    out.push('}');
    out
}

fn host_index(h: Option<HostId>) -> i64 {
    h.map_or(-1, |h| h.0 as i64)
}

/// The analysis's connections by their two endpoints, to number packets and
/// sockets: the latest connection on a pair of endpoints that started at or
/// before a time (a pair is used again after TIME-WAIT).
struct Connections {
    by_pair: BTreeMap<(SocketAddrV4, SocketAddrV4), Vec<(SimTime, usize)>>,
}

impl Connections {
    fn new(analysis: &simnet_core::analysis::Analysis) -> Connections {
        let mut by_pair: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for c in &analysis.connections {
            by_pair
                .entry(pair(c.client, c.server))
                .or_default()
                .push((c.start, c.number));
        }
        Connections { by_pair }
    }

    /// The connection number (from 1) of a pair of endpoints at a time, or 0.
    fn number(&self, a: SocketAddrV4, b: SocketAddrV4, time: SimTime) -> usize {
        let Some(list) = self.by_pair.get(&pair(a, b)) else {
            return 0;
        };
        list.iter()
            .rev()
            .find(|(start, _)| *start <= time)
            .or(list.first())
            .map_or(0, |&(_, n)| n)
    }
}

fn pair(a: SocketAddrV4, b: SocketAddrV4) -> (SocketAddrV4, SocketAddrV4) {
    (a.min(b), a.max(b))
}

type Labels = BTreeMap<FrameId, Vec<String>>;

/// An event's code and fields (without its time and line, which
/// [`page_data`] puts first):
///
/// - `p` packet sent: frame, from, to, socket, connection, bytes (base64:
///   the headers and up to [`PAYLOAD_BYTES`] of payload), wire length,
///   relative seq, relative ack (or null), window in bytes, what the
///   analysis calls it (`retransmission`, `window-probe`, `keep-alive` or
///   ""), the decoded payload (HTTP start line, WebSocket frames, TLS
///   records: a list of strings)
/// - `d` delivered: frame, to
/// - `x` dropped: frame, from, to, reason
/// - `q` queued: frame, link, bytes ahead, departs (ns)
/// - `y` delayed: frame, by (ns), cause
/// - `u` duplicated: frame, copy
/// - `c` corrupted: frame, bit
/// - `z` discarded by the receiver: frame, host, reason
/// - `s` TCP state: host, socket, local, remote (or null), from, to,
///   reason (or null), connection
/// - `l` data lost: host, socket, cause, unread bytes, unacknowledged bytes
/// - `k` socket call: host, app, socket, call, bytes (the count of a
///   send's accepted or a receive's bytes, else 0), remote (or null)
/// - `a` application event: host, app, socket, kind, summary
/// - `t` timeline action: description
/// - `f` fault matched: frame, fault, description
/// - `w` forwarded by a router: frame, router, from, to, link, bytes
///   (base64, headers and up to [`PAYLOAD_BYTES`] of payload), wire length
/// - `n` entered an active queue: frame, link, bytes ahead
/// - `m` left an active queue: frame, link, waited (ns), departs (ns)
/// - `g` NAT mapping made or forgotten: router
/// - `e` run ended: reason
fn event(
    event: &TraceEvent,
    time: SimTime,
    conns: &Connections,
    seqs: &mut crate::relative::SeqTracker,
    tags: &BTreeMap<FrameId, &'static str>,
    (ws, tls): (&Labels, &Labels),
) -> Vec<Value> {
    let sock = |s: Option<simnet_core::socket::SocketId>| s.map_or(-1, |s| s.0 as i64);
    match event {
        TraceEvent::PacketSent {
            frame,
            from,
            to,
            socket,
            bytes,
            len,
        } => {
            let info = PacketInfo::parse_captured(bytes, *len as usize);
            let mut keep = bytes.len();
            let (mut seq, mut ack, mut window, mut conn) =
                (Value::Null, Value::Null, Value::Null, 0);
            let mut decoded: Vec<String> = Vec::new();
            if let Some(info) = &info {
                let header_end = match &info.transport {
                    Transport::Tcp(t) => usize::from(t.payload_offset),
                    Transport::Udp(u) => usize::from(u.payload_offset),
                    _ => usize::from(info.ip_len),
                };
                keep = keep.min(header_end + PAYLOAD_BYTES);
                if let (Some(a), Some(b)) = (info.src_endpoint(), info.dst_endpoint()) {
                    conn = conns.number(a, b, time);
                }
                if let Some(tcp) = info.tcp() {
                    let rel = seqs.observe(info.src, info.dst, tcp);
                    seq = json!(rel.seq);
                    ack = json!(rel.ack);
                    window = json!(rel.window);
                }
                if let Some(line) = crate::mermaid::http_first_line(info.payload(bytes)) {
                    decoded.push(line);
                } else if let Some(frames) = ws.get(frame) {
                    decoded.extend(frames.iter().cloned());
                } else if let Some(records) = tls.get(frame) {
                    decoded.extend(records.iter().cloned());
                }
            }
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes[..keep]);
            vec![
                json!("p"),
                json!(frame.0),
                json!(from.0),
                json!(host_index(*to)),
                json!(sock(*socket)),
                json!(conn),
                json!(b64),
                json!(len),
                seq,
                ack,
                window,
                json!(tags.get(frame).copied().unwrap_or("")),
                json!(decoded),
            ]
        }
        TraceEvent::FrameForwarded {
            frame,
            router,
            from,
            to,
            link,
            bytes,
            len,
        } => {
            let keep =
                PacketInfo::parse_captured(bytes, *len as usize).map_or(bytes.len(), |info| {
                    let header_end = match &info.transport {
                        Transport::Tcp(t) => usize::from(t.payload_offset),
                        Transport::Udp(u) => usize::from(u.payload_offset),
                        _ => usize::from(info.ip_len),
                    };
                    bytes.len().min(header_end + PAYLOAD_BYTES)
                });
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes[..keep]);
            vec![
                json!("w"),
                json!(frame.0),
                json!(router.0),
                json!(from.0),
                json!(to.0),
                json!(link.0),
                json!(b64),
                json!(len),
            ]
        }
        TraceEvent::FrameEnqueued {
            frame,
            link,
            queue_bytes,
        } => vec![
            json!("n"),
            json!(frame.0),
            json!(link.0),
            json!(queue_bytes),
        ],
        TraceEvent::FrameDequeued {
            frame,
            link,
            waited,
            departs,
        } => vec![
            json!("m"),
            json!(frame.0),
            json!(link.0),
            json!(waited.as_nanos()),
            json!(departs.as_nanos()),
        ],
        TraceEvent::NatMapped { router, .. } | TraceEvent::NatExpired { router, .. } => {
            vec![json!("g"), json!(router.0)]
        }
        TraceEvent::FrameDelivered { frame, to } => vec![json!("d"), json!(frame.0), json!(to.0)],
        TraceEvent::FrameDropped {
            frame,
            from,
            to,
            reason,
        } => vec![
            json!("x"),
            json!(frame.0),
            json!(from.0),
            json!(host_index(*to)),
            json!(reason.as_str()),
        ],
        TraceEvent::FrameQueued {
            frame,
            link,
            queue_bytes,
            departs,
        } => vec![
            json!("q"),
            json!(frame.0),
            json!(link.0),
            json!(queue_bytes),
            json!(departs.as_nanos()),
        ],
        TraceEvent::FrameDelayed { frame, by, cause } => vec![
            json!("y"),
            json!(frame.0),
            json!(by.as_nanos()),
            json!(match cause {
                DelayCause::Reorder => "reorder",
                DelayCause::Fault => "fault",
            }),
        ],
        TraceEvent::FrameDuplicated { frame, copy } => {
            vec![json!("u"), json!(frame.0), json!(copy.0)]
        }
        TraceEvent::FrameCorrupted { frame, bit } => {
            vec![json!("c"), json!(frame.0), json!(bit)]
        }
        TraceEvent::FrameDiscarded {
            frame,
            host,
            reason,
        } => vec![
            json!("z"),
            json!(frame.0),
            json!(host.0),
            json!(reason.to_string()),
        ],
        TraceEvent::TcpState {
            host,
            socket,
            local,
            remote,
            from,
            to,
            reason,
        } => vec![
            json!("s"),
            json!(host.0),
            json!(socket.0),
            json!(local.to_string()),
            json!(remote.map(|r| r.to_string())),
            json!(from.to_string()),
            json!(to.to_string()),
            json!(reason.map(|r| r.to_string())),
            json!(remote.map_or(0, |r| conns.number(*local, r, time))),
        ],
        TraceEvent::DataLost {
            host,
            socket,
            cause,
            unread,
            unacked,
        } => vec![
            json!("l"),
            json!(host.0),
            json!(socket.0),
            json!(cause.to_string()),
            json!(unread.map_or(0, |(_, n)| n)),
            json!(unacked.map_or(0, |(_, n)| n)),
        ],
        TraceEvent::SocketCall {
            host,
            app,
            socket,
            call,
        } => {
            let (name, bytes, remote) = call_fields(call);
            vec![
                json!("k"),
                json!(host.0),
                json!(app.0),
                json!(sock(*socket)),
                json!(name),
                json!(bytes),
                json!(remote.map(|r| r.to_string())),
            ]
        }
        TraceEvent::App { host, app, event } => {
            let summary = if event.is_secret() {
                String::new()
            } else {
                event.summary.to_string()
            };
            vec![
                json!("a"),
                json!(host.0),
                json!(app.0),
                json!(sock(event.socket)),
                json!(event.kind),
                json!(summary),
            ]
        }
        TraceEvent::Action { description } => vec![json!("t"), json!(description)],
        TraceEvent::FaultMatched {
            frame,
            fault,
            description,
        } => vec![json!("f"), json!(frame.0), json!(fault), json!(description)],
        TraceEvent::RunEnded { reason } => vec![json!("e"), json!(reason.to_string())],
    }
}

/// A socket call's name, its byte count (a send's accepted bytes, a
/// receive's bytes, else 0) and the remote address it names, if any.
fn call_fields(call: &SocketCall) -> (&'static str, usize, Option<SocketAddrV4>) {
    match call {
        SocketCall::Listen { .. } => ("listen", 0, None),
        SocketCall::Accept { remote } => ("accept", 0, Some(*remote)),
        SocketCall::Connect { remote, .. } => ("connect", 0, Some(*remote)),
        SocketCall::Send { accepted, .. } => ("send", *accepted, None),
        SocketCall::Recv { bytes, .. } => ("recv", *bytes, None),
        SocketCall::RecvEof => ("recv_eof", 0, None),
        SocketCall::Shutdown => ("shutdown", 0, None),
        SocketCall::Close { .. } => ("close", 0, None),
        SocketCall::Abort => ("abort", 0, None),
        SocketCall::Bind { .. } => ("bind", 0, None),
        SocketCall::SendTo { dst, bytes, .. } => ("sendto", *bytes, Some(*dst)),
        SocketCall::RecvFrom { src, bytes, .. } => ("recvfrom", *bytes, Some(*src)),
        SocketCall::Failed { call, .. } => (call, 0, None),
    }
}

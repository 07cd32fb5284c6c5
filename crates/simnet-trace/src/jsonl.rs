//! JSON Lines: every trace event as one JSON object on one line, for `jq`,
//! scripts and notebooks.
//!
//! The first line is a `run_start` header describing the world (seed, hosts,
//! links, applications); then comes one line per trace event, in trace
//! order. Every line starts with the same four keys:
//!
//! ```text
//! {"version":1,"t_ns":20000000,"t":"20.000ms","event":"packet",...}
//! ```
//!
//! `version` is the schema version ([`SCHEMA_VERSION`]), `t_ns` the simulated time
//! in integer nanoseconds, `t` the same time as the text trace prints it, and
//! `event` a stable snake_case name. The keys that follow depend on the event
//! and are listed, with their meaning, in the book's "JSON Lines keys" page;
//! a unit test here pins the exact key list of every event to that page.
//!
//! Choices that keep the format easy to consume and stable:
//!
//! - Hosts and applications are named (`"client"`, `"tcp-echo"`), never
//!   numbered only; addresses are strings (`"10.0.0.1"`, `"10.0.0.1:49152"`).
//! - Units are in key names: `_ns` for simulated time and spans, `_ppm` for
//!   probabilities (parts per million), `_bps`, `_bytes`.
//! - A key an event defines is always present; a value that does not exist
//!   is `null` (e.g. `ack` on a segment without the ACK flag).
//! - TCP sequence numbers come both relative (`seq`, `ack`, counted the way
//!   the text trace counts them, see [`crate::relative`]) and absolute
//!   (`seq_abs`, `ack_abs`).
//!
//! Key order: the top-level keys of a line are written in the documented
//! order, by this module's own small writer (`Line`). serde_json (which
//! encodes every value) keeps object keys sorted unless its `preserve_order`
//! feature is on, and that feature would change serde_json for every crate in
//! the workspace; so objects nested inside a line (`options`, `fields`, link
//! parameters) have their keys in alphabetical order. Both orders are fixed:
//! the same trace always gives the same bytes.
//!
//! What this module does not do: it never re-reads JSON (there is no parser
//! back into a trace), and it carries no payload bytes beyond the 24-byte
//! previews socket calls already keep (the pcap renderer has every byte).

use crate::relative::SeqTracker;
use serde_json::{Map, Value, json};
use simnet_core::link::LinkParams;
use simnet_core::packet::{PacketInfo, Transport};
use simnet_core::socket::{AppId, CloseReason, HostId, SocketCall, SocketError};
use simnet_core::trace::{
    DelayCause, DiscardReason, EndReason, FieldValue, LossCause, Topology, Trace, TraceEvent,
    TraceRecord,
};
use simnet_core::{FrameId, SimTime};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// The schema version every line carries as `"version"`. It changes when a key is
/// removed or changes meaning; adding a key does not change it.
pub const SCHEMA_VERSION: u64 = 1;

/// Renders the whole trace as JSON Lines: a `run_start` header line, then one
/// line per event. Every line ends with `\n`.
pub fn render_jsonl(trace: &Trace) -> String {
    let mut renderer = JsonlRenderer::new(&trace.topology);
    let mut out = renderer.header().finish();
    out.push('\n');
    for record in &trace.records {
        out.push_str(&renderer.line(record).finish());
        out.push('\n');
    }
    out
}

/// One output line: a JSON object whose keys are written in the order they
/// were added (see the module docs for why this is not a `serde_json::Map`).
struct Line(Vec<(&'static str, Value)>);

impl Line {
    /// A line with the four keys every line starts with.
    fn new(time: SimTime, event: &'static str) -> Line {
        let mut line = Line(Vec::with_capacity(24));
        line.put("version", SCHEMA_VERSION)
            .put("t_ns", time.as_nanos())
            .put("t", time.to_string())
            .put("event", event);
        line
    }

    /// Appends a key. Keys are static and never repeated within a line.
    fn put(&mut self, key: &'static str, value: impl Into<Value>) -> &mut Line {
        debug_assert!(
            self.0.iter().all(|(k, _)| *k != key),
            "key {key} written twice"
        );
        self.0.push((key, value.into()));
        self
    }

    /// The line as compact JSON, without the newline.
    fn finish(&self) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Keys are plain ASCII identifiers, but encoding them with
            // serde_json keeps the output valid whatever a key contains.
            out.push_str(&Value::from(*key).to_string());
            out.push(':');
            out.push_str(&value.to_string());
        }
        out.push('}');
        out
    }
}

/// Turns records into lines, remembering what later events refer back to:
/// initial sequence numbers, and each frame's sender and receiver.
struct JsonlRenderer<'a> {
    topo: &'a Topology,
    seqs: SeqTracker,
    /// Frame id -> (sender, intended receiver), for link events, which name
    /// only the frame. A link's duplicate inherits its original's entry.
    frames: BTreeMap<FrameId, (HostId, Option<HostId>)>,
}

impl<'a> JsonlRenderer<'a> {
    fn new(topo: &'a Topology) -> JsonlRenderer<'a> {
        JsonlRenderer {
            topo,
            seqs: SeqTracker::new(),
            frames: BTreeMap::new(),
        }
    }

    fn host(&self, id: HostId) -> Value {
        Value::from(self.topo.host_name(id))
    }

    fn app_kind(&self, id: AppId) -> Value {
        let kind = self.topo.apps.get(id.0 as usize).map(|a| a.kind.as_str());
        Value::from(kind.unwrap_or("?"))
    }

    /// The `run_start` line: the world the events refer to.
    fn header(&self) -> Line {
        let topo = self.topo;
        let hosts: Vec<Value> = topo
            .hosts
            .iter()
            .map(|h| json!({"name": h.name, "address": h.addr.to_string()}))
            .collect();
        let links: Vec<Value> = topo
            .links
            .iter()
            .map(|l| {
                json!({
                    "a": self.host(l.a),
                    "b": self.host(l.b),
                    "a_to_b": link_params(&l.a_to_b),
                    "b_to_a": link_params(&l.b_to_a),
                })
            })
            .collect();
        let apps: Vec<Value> = topo
            .apps
            .iter()
            .map(|a| json!({"host": self.host(a.host), "kind": a.kind}))
            .collect();
        let mut line = Line::new(SimTime::ZERO, "run_start");
        line.put("seed", topo.seed)
            .put("hosts", hosts)
            .put("links", links)
            .put("apps", apps);
        line
    }

    /// The line for one record.
    fn line(&mut self, record: &TraceRecord) -> Line {
        let time = record.time;
        match &record.event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                socket,
                len,
                ..
            } => {
                self.frames.insert(*frame, (*from, *to));
                let mut line = Line::new(time, "packet");
                line.put("frame", frame.0)
                    .put("from", self.host(*from))
                    .put("to", to.map(|h| self.host(h)))
                    .put("socket", socket.map(|s| s.0));
                match record.event.packet_info() {
                    Some(info) => self.packet(&mut line, &info),
                    // simnet's hosts only send IPv4, but a trace built by
                    // hand may hold anything: say so instead of failing.
                    None => {
                        line.put("protocol", "invalid").put("bytes", *len);
                    }
                }
                line
            }
            TraceEvent::FrameQueued {
                frame,
                link,
                queue_bytes,
                departs,
            } => {
                let mut line = self.frame_line(time, "frame_queued", *frame);
                line.put("link", link.0)
                    .put("queue_bytes", *queue_bytes)
                    .put("departs_ns", departs.as_nanos());
                line
            }
            TraceEvent::FrameDropped {
                frame,
                from,
                to,
                reason,
            } => {
                // The event names both ends itself; prefer them.
                let mut line = Line::new(time, "frame_dropped");
                line.put("frame", frame.0)
                    .put("from", self.host(*from))
                    .put("to", to.map(|h| self.host(h)))
                    .put("reason", reason.as_str());
                line
            }
            TraceEvent::FrameDelayed { frame, by, cause } => {
                let mut line = self.frame_line(time, "frame_delayed", *frame);
                let cause = match cause {
                    DelayCause::Reorder => "reorder",
                    DelayCause::Fault => "fault",
                };
                line.put("by_ns", by.as_nanos()).put("cause", cause);
                line
            }
            TraceEvent::FrameDuplicated { frame, copy } => {
                if let Some(ends) = self.frames.get(frame).copied() {
                    self.frames.insert(*copy, ends);
                }
                let mut line = self.frame_line(time, "frame_duplicated", *frame);
                line.put("copy", copy.0);
                line
            }
            TraceEvent::FrameCorrupted { frame, bit } => {
                let mut line = self.frame_line(time, "frame_corrupted", *frame);
                line.put("bit", *bit);
                line
            }
            TraceEvent::FrameDelivered { frame, to } => {
                let from = self.frames.get(frame).map(|(from, _)| self.host(*from));
                let mut line = Line::new(time, "frame_delivered");
                line.put("frame", frame.0)
                    .put("from", from)
                    .put("to", self.host(*to));
                line
            }
            TraceEvent::FrameDiscarded {
                frame,
                host,
                reason,
            } => {
                let from = self.frames.get(frame).map(|(from, _)| self.host(*from));
                let mut line = Line::new(time, "frame_discarded");
                line.put("frame", frame.0)
                    .put("from", from)
                    .put("to", self.host(*host))
                    .put("reason", discard_reason(*reason));
                line
            }
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote,
                from,
                to,
                reason,
            } => {
                let mut line = Line::new(time, "tcp_state");
                line.put("host", self.host(*host))
                    .put("socket", socket.0)
                    .put("local", local.to_string())
                    .put("remote", remote.map(|r| r.to_string()))
                    .put("from", from.as_str())
                    .put("to", to.as_str())
                    .put("reason", reason.map(close_reason));
                line
            }
            TraceEvent::DataLost {
                host,
                socket,
                cause,
                unread,
                unacked,
            } => {
                let mut line = Line::new(time, "data_lost");
                line.put("host", self.host(*host))
                    .put("socket", socket.0)
                    .put("cause", loss_cause(*cause))
                    .put("unread_offset", unread.map(|(offset, _)| offset))
                    .put("unread_bytes", unread.map(|(_, bytes)| bytes))
                    .put("unacked_offset", unacked.map(|(offset, _)| offset))
                    .put("unacked_bytes", unacked.map(|(_, bytes)| bytes));
                line
            }
            TraceEvent::SocketCall {
                host,
                app,
                socket,
                call,
            } => {
                let mut line = Line::new(time, "socket_call");
                line.put("host", self.host(*host))
                    .put("app", self.app_kind(*app))
                    .put("app_id", app.0)
                    .put("socket", socket.map(|s| s.0));
                socket_call(&mut line, call);
                line
            }
            TraceEvent::App { host, app, event } => {
                let fields: Map<String, Value> = event
                    .fields
                    .iter()
                    .map(|(name, value)| field(name, value))
                    .collect();
                let mut line = Line::new(time, "app");
                line.put("host", self.host(*host))
                    .put("app", self.app_kind(*app))
                    .put("app_id", app.0)
                    .put("socket", event.socket.map(|s| s.0))
                    .put("kind", event.kind.as_str())
                    .put("summary", event.summary.as_str())
                    .put("fields", fields);
                line
            }
            TraceEvent::Action { description } => {
                let mut line = Line::new(time, "action");
                line.put("description", description.as_str());
                line
            }
            TraceEvent::FaultMatched {
                frame,
                fault,
                description,
            } => {
                let mut line = self.frame_line(time, "fault", *frame);
                line.put("fault_index", *fault)
                    .put("description", description.as_str());
                line
            }
            TraceEvent::RunEnded { reason } => {
                let mut line = Line::new(time, "run_end");
                line.put("reason", end_reason(*reason))
                    .put("message", reason.describe(self.topo));
                line
            }
        }
    }

    /// A line about a frame that names only the frame: `frame`, then the
    /// `from` and `to` of the packet it is (or copies), `null` if unknown.
    fn frame_line(&self, time: SimTime, event: &'static str, frame: FrameId) -> Line {
        let ends = self.frames.get(&frame);
        let mut line = Line::new(time, event);
        line.put("frame", frame.0)
            .put("from", ends.map(|(from, _)| self.host(*from)))
            .put("to", ends.and_then(|(_, to)| *to).map(|h| self.host(h)));
        line
    }

    /// The keys of a decoded IPv4 packet.
    fn packet(&mut self, line: &mut Line, info: &PacketInfo) {
        let protocol = match &info.transport {
            Transport::Tcp(_) => ("tcp", 6),
            Transport::Udp(_) => ("udp", 17),
            Transport::Icmp { .. } => ("icmp", 1),
            Transport::Other { protocol } => ("other", *protocol),
        };
        line.put("protocol", protocol.0)
            .put("ip_protocol", protocol.1)
            .put("src", info.src.to_string())
            .put("dst", info.dst.to_string())
            .put("ip_len", info.ip_len)
            .put("ip_id", info.ip_id)
            .put("ttl", info.ttl);
        match &info.transport {
            Transport::Tcp(tcp) => {
                let rel = self.seqs.observe(info.src, info.dst, tcp);
                // SACK blocks acknowledge the other direction's bytes, so
                // they are relative to the other direction's first number.
                let reverse = (
                    SocketAddrV4::new(info.dst, tcp.dst_port),
                    SocketAddrV4::new(info.src, tcp.src_port),
                );
                let o = &tcp.options;
                let sack: Vec<[u32; 2]> = o
                    .sack
                    .iter()
                    .map(|(l, r)| {
                        [
                            self.seqs.relative(reverse, *l),
                            self.seqs.relative(reverse, *r),
                        ]
                    })
                    .collect();
                let sack_abs: Vec<[u32; 2]> = o.sack.iter().map(|(l, r)| [*l, *r]).collect();
                let options = json!({
                    "mss": o.mss,
                    "window_scale": o.window_scale,
                    "sack_permitted": o.sack_permitted,
                    "sack": sack,
                    "sack_abs": sack_abs,
                    "timestamp": o.timestamp.map(|(value, echo)| [value, echo]),
                });
                let words = tcp.flags.words();
                let names: Vec<&str> = words.split(", ").filter(|n| !n.is_empty()).collect();
                let has_ack = tcp.flags.ack();
                line.put("src_port", tcp.src_port)
                    .put("dst_port", tcp.dst_port)
                    .put("flags", tcp.flags.to_string())
                    .put("flag_names", names)
                    .put("seq", rel.seq)
                    .put("ack", rel.ack)
                    .put("seq_abs", tcp.seq)
                    .put("ack_abs", has_ack.then_some(tcp.ack))
                    .put("window", rel.window)
                    .put("window_raw", tcp.window)
                    .put("payload_len", tcp.payload_len)
                    .put("options", options);
            }
            Transport::Udp(udp) => {
                line.put("src_port", udp.src_port)
                    .put("dst_port", udp.dst_port)
                    .put("payload_len", udp.payload_len);
            }
            Transport::Icmp { icmp_type, code } => {
                line.put("icmp_type", *icmp_type).put("icmp_code", *code);
            }
            Transport::Other { .. } => {}
        }
    }
}

/// The call-specific keys of a `socket_call` line, after `call`.
fn socket_call(line: &mut Line, call: &SocketCall) {
    match call {
        SocketCall::Listen { port, backlog } => {
            line.put("call", "listen")
                .put("port", *port)
                .put("backlog", *backlog);
        }
        SocketCall::Accept { remote } => {
            line.put("call", "accept").put("remote", remote.to_string());
        }
        SocketCall::Connect { remote, local_port } => {
            line.put("call", "connect")
                .put("remote", remote.to_string())
                .put("local_port", *local_port);
        }
        SocketCall::Send {
            requested,
            accepted,
            preview,
        } => {
            line.put("call", "send")
                .put("requested", *requested)
                .put("accepted", *accepted)
                .put("preview", preview.to_string());
        }
        SocketCall::Recv { bytes, preview } => {
            line.put("call", "recv")
                .put("bytes", *bytes)
                .put("preview", preview.to_string());
        }
        SocketCall::RecvEof => {
            line.put("call", "recv_eof");
        }
        SocketCall::Shutdown => {
            line.put("call", "shutdown");
        }
        SocketCall::Close { unread } => {
            line.put("call", "close").put("unread", *unread);
        }
        SocketCall::Abort => {
            line.put("call", "abort");
        }
        SocketCall::Bind { port } => {
            line.put("call", "bind").put("port", *port);
        }
        SocketCall::SendTo {
            dst,
            bytes,
            preview,
        } => {
            line.put("call", "sendto")
                .put("dst", dst.to_string())
                .put("bytes", *bytes)
                .put("preview", preview.to_string());
        }
        SocketCall::RecvFrom {
            src,
            bytes,
            preview,
        } => {
            line.put("call", "recvfrom")
                .put("src", src.to_string())
                .put("bytes", *bytes)
                .put("preview", preview.to_string());
        }
        SocketCall::Failed { call, error } => {
            line.put("call", "failed")
                .put("failed_call", *call)
                .put("error", socket_error(error))
                .put("message", error.to_string());
        }
    }
}

/// An application field as a JSON (key, value): durations become integer
/// nanoseconds under the key with `_ns` appended.
fn field(name: &str, value: &FieldValue) -> (String, Value) {
    match value {
        FieldValue::Text(s) => (name.to_string(), Value::from(s.as_str())),
        FieldValue::Int(i) => (name.to_string(), Value::from(*i)),
        FieldValue::Duration(d) => (format!("{name}_ns"), Value::from(d.as_nanos())),
        FieldValue::Bool(b) => (name.to_string(), Value::from(*b)),
    }
}

/// A link direction's parameters, units in the key names.
fn link_params(p: &LinkParams) -> Value {
    let burst_loss = p.burst_loss.map(|ge| {
        json!({
            "p_enter_bad_ppm": ge.p_enter_bad.ppm(),
            "p_exit_bad_ppm": ge.p_exit_bad.ppm(),
            "loss_good_ppm": ge.loss_good.ppm(),
            "loss_bad_ppm": ge.loss_bad.ppm(),
        })
    });
    json!({
        "latency_ns": p.latency.as_nanos(),
        "jitter_ns": p.jitter.as_nanos(),
        "jitter_reorders": p.jitter_reorders,
        "loss_ppm": p.loss.ppm(),
        "burst_loss": burst_loss,
        "duplicate_ppm": p.duplicate.ppm(),
        "reorder_ppm": p.reorder.ppm(),
        "reorder_delay_ns": p.reorder_delay.as_nanos(),
        "corrupt_ppm": p.corrupt.ppm(),
        "bandwidth_bps": p.bandwidth_bps,
        "queue_bytes_max": p.queue_bytes_max,
        "mtu": p.mtu,
    })
}

// Stable tokens for the enums. The `Display` texts of these types are for
// humans and may be reworded; these names are part of the schema.

fn discard_reason(reason: DiscardReason) -> &'static str {
    match reason {
        DiscardReason::BadChecksum => "bad-checksum",
        DiscardReason::Malformed => "malformed",
        DiscardReason::NotForHost => "not-for-host",
        DiscardReason::HostDown => "host-down",
    }
}

fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Reset => "reset",
        CloseReason::TimedOut => "timed-out",
        CloseReason::HostCrashed => "host-crashed",
        // The enum is `#[non_exhaustive]`; a reason added to the engine
        // without a name here still writes a valid line.
        _ => "other",
    }
}

fn loss_cause(cause: LossCause) -> &'static str {
    match cause {
        LossCause::CloseWithUnread => "close-with-unread",
        LossCause::Abort => "abort",
        LossCause::ResetByPeer => "reset-by-peer",
        LossCause::DataAfterClose => "data-after-close",
    }
}

fn end_reason(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Idle => "idle",
        EndReason::Until(_) => "until",
        EndReason::TimeLimit(_) => "time-limit",
        EndReason::EventLimit(_) => "event-limit",
        EndReason::Condition => "condition",
        EndReason::AppRunaway { .. } => "app-runaway",
        EndReason::MemoryLimit(_) => "memory-limit",
        // The enum is `#[non_exhaustive]`; see `close_reason`.
        _ => "other",
    }
}

fn socket_error(error: &SocketError) -> &'static str {
    match error {
        SocketError::PortsExhausted(_) => "ports-exhausted",
        SocketError::PortInUse(_) => "port-in-use",
        SocketError::BadSocket => "bad-socket",
        SocketError::NotConnected => "not-connected",
        SocketError::Reset => "reset",
        SocketError::HostDown => "host-down",
        SocketError::InvalidAddress => "invalid-address",
        SocketError::MessageTooLarge => "message-too-large",
        SocketError::UnknownHost => "unknown-host",
        // The enum is `#[non_exhaustive]`; see `close_reason`.
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simnet_core::apps::{TcpClient, TcpEcho};
    use simnet_core::link::DropReason;
    use simnet_core::socket::{LinkId, Preview, SocketId};
    use simnet_core::trace::{AppEvent, AppInfo, HostInfo, LinkInfo};
    use simnet_core::{
        FaultAction, LinkParams, PacketFilter, SimDuration, TargetedFault, TcpState, WorldBuilder,
    };
    use std::rc::Rc;

    /// A client sends "hello" to an echo server over a 10 ms link; `drops`
    /// of the client's data segments are lost (so they are retransmitted).
    fn echo_run(drops: u32) -> Trace {
        let mut b = WorldBuilder::new(7);
        let client = b.host("client", [10, 0, 0, 1].into());
        let server = b.host("server", [10, 0, 0, 2].into());
        b.link(
            client,
            server,
            LinkParams::with_latency(SimDuration::from_millis(10)),
        );
        b.app(server, "tcp-echo", || TcpEcho::new(80));
        b.app(client, "tcp-client", || {
            TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5)
        });
        if drops > 0 {
            b.fault(TargetedFault {
                filter: PacketFilter {
                    from: Some(client),
                    payload: Some(true),
                    ..PacketFilter::default()
                },
                nth: 1,
                count: drops,
                action: FaultAction::Drop,
            });
        }
        let mut world = b.build().unwrap();
        world.run();
        world.take_trace()
    }

    /// Every line parsed, with the line number in the panic message.
    fn parse(jsonl: &str) -> Vec<Value> {
        jsonl
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", i + 1))
            })
            .collect()
    }

    /// The keys of a line's top-level object, in the order written. (Parsing
    /// into a `Value` would sort them, so this scans the text: a key is a
    /// string at depth 1 followed by `:`.)
    fn top_level_keys(line: &str) -> Vec<String> {
        let bytes = line.as_bytes();
        let mut keys = Vec::new();
        let mut depth = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                b'"' => {
                    let start = i;
                    i += 1;
                    while bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    if depth == 1 && bytes.get(i + 1) == Some(&b':') {
                        keys.push(serde_json::from_str(&line[start..=i]).unwrap());
                    }
                }
                _ => {}
            }
            i += 1;
        }
        keys
    }

    fn events<'a>(lines: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> {
        lines.iter().filter(move |l| l["event"] == name)
    }

    #[test]
    fn every_line_is_json_starting_with_version_time_and_event() {
        let trace = echo_run(0);
        let jsonl = render_jsonl(&trace);
        assert!(jsonl.ends_with('\n'));
        let lines = parse(&jsonl);
        assert_eq!(
            lines.len(),
            trace.records.len() + 1,
            "header + one per event"
        );
        assert_eq!(lines[0]["event"], "run_start");
        let mut last_ns = 0;
        for (text, line) in jsonl.lines().zip(&lines) {
            assert_eq!(top_level_keys(text)[..4], ["version", "t_ns", "t", "event"]);
            assert_eq!(line["version"], SCHEMA_VERSION);
            let ns = line["t_ns"].as_u64().unwrap();
            assert!(ns >= last_ns, "time never goes back");
            last_ns = ns;
            assert_eq!(line["t"], SimTime::from_nanos(ns).to_string());
        }
    }

    #[test]
    fn the_same_run_renders_to_the_same_bytes() {
        assert_eq!(render_jsonl(&echo_run(1)), render_jsonl(&echo_run(1)));
    }

    #[test]
    fn the_header_names_hosts_links_and_apps() {
        let lines = parse(&render_jsonl(&echo_run(0)));
        let header = &lines[0];
        assert_eq!(header["seed"], 7);
        assert_eq!(header["hosts"][1]["name"], "server");
        assert_eq!(header["hosts"][1]["address"], "10.0.0.2");
        assert_eq!(header["links"][0]["a"], "client");
        assert_eq!(header["links"][0]["a_to_b"]["latency_ns"], 10_000_000);
        assert_eq!(header["links"][0]["b_to_a"]["loss_ppm"], 0);
        assert_eq!(header["apps"][0]["kind"], "tcp-echo");
        assert_eq!(header["apps"][1]["host"], "client");
    }

    #[test]
    fn packets_carry_relative_and_absolute_sequence_numbers() {
        let lines = parse(&render_jsonl(&echo_run(0)));
        let packets: Vec<&Value> = events(&lines, "packet").collect();
        let syn = packets[0];
        assert_eq!(syn["from"], "client");
        assert_eq!(syn["to"], "server");
        assert_eq!(syn["protocol"], "tcp");
        assert_eq!(syn["flags"], "S");
        assert_eq!(syn["flag_names"], json!(["SYN"]));
        assert_eq!(syn["seq"], 0);
        assert_eq!(syn["ack"], Value::Null);
        assert_eq!(syn["ack_abs"], Value::Null);
        assert_eq!(syn["options"]["mss"], 1460);
        assert_eq!(syn["options"]["sack_permitted"], true);
        let isn = syn["seq_abs"].as_u64().unwrap();

        let syn_ack = packets[1];
        assert_eq!(syn_ack["flag_names"], json!(["SYN", "ACK"]));
        assert_eq!(syn_ack["ack"], 1);
        assert_eq!(syn_ack["ack_abs"], (isn + 1) % (1 << 32));

        let data = packets
            .iter()
            .find(|p| p["from"] == "client" && p["payload_len"] == 5)
            .unwrap();
        assert_eq!(data["flags"], "P.");
        assert_eq!(data["seq"], 1);
        assert_eq!(data["ack"], 1);
        assert_eq!(data["ip_len"], 45, "20 (IP) + 20 (TCP) + 5");
        // Window scaling is on (both SYNs announced it): the field is halved.
        let raw = data["window_raw"].as_u64().unwrap();
        assert_eq!(data["window"].as_u64().unwrap(), raw << 1);
    }

    #[test]
    fn frame_events_name_the_packets_ends() {
        let lines = parse(&render_jsonl(&echo_run(1)));
        let dropped = events(&lines, "frame_dropped").next().unwrap();
        assert_eq!(dropped["from"], "client");
        assert_eq!(dropped["to"], "server");
        assert_eq!(dropped["reason"], "fault");
        let fault = events(&lines, "fault").next().unwrap();
        assert_eq!(fault["frame"], dropped["frame"]);
        assert_eq!(fault["fault_index"], 0);
        let delivered = events(&lines, "frame_delivered").next().unwrap();
        assert_eq!(delivered["from"], "client");
        assert_eq!(delivered["to"], "server");
    }

    // The jq one-liners of the book, done in Rust on the parsed lines.

    /// `select(.event == "packet" and .protocol == "tcp") | .flags`, counted.
    #[test]
    fn jq_packets_by_flags() {
        let trace = echo_run(0);
        let lines = parse(&render_jsonl(&trace));
        let mut by_flags: BTreeMap<String, usize> = BTreeMap::new();
        for p in events(&lines, "packet").filter(|p| p["protocol"] == "tcp") {
            *by_flags
                .entry(p["flags"].as_str().unwrap().into())
                .or_default() += 1;
        }
        let mut expected: BTreeMap<String, usize> = BTreeMap::new();
        for (_, _, info) in trace.packets() {
            *expected
                .entry(info.tcp().unwrap().flags.to_string())
                .or_default() += 1;
        }
        assert_eq!(by_flags, expected);
        assert_eq!(by_flags["S"], 1);
        assert_eq!(by_flags["S."], 1);
        assert_eq!(by_flags["F."], 2, "one FIN each way");
    }

    /// `select(.event == "tcp_state" and .host == "client") | "\(.from) -> \(.to)"`.
    #[test]
    fn jq_state_changes_of_one_host() {
        let lines = parse(&render_jsonl(&echo_run(0)));
        let client: Vec<String> = events(&lines, "tcp_state")
            .filter(|l| l["host"] == "client")
            .map(|l| {
                format!(
                    "{} -> {}",
                    l["from"].as_str().unwrap(),
                    l["to"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            client,
            [
                "CLOSED -> SYN-SENT",
                "SYN-SENT -> ESTABLISHED",
                "ESTABLISHED -> FIN-WAIT-1",
                "FIN-WAIT-1 -> FIN-WAIT-2",
                "FIN-WAIT-2 -> TIME-WAIT",
                "TIME-WAIT -> CLOSED",
            ]
        );
    }

    /// Sum of `.bytes` over `recv`/`recvfrom` calls, grouped by host.
    #[test]
    fn jq_bytes_read_per_host() {
        let lines = parse(&render_jsonl(&echo_run(2)));
        let mut read: BTreeMap<String, u64> = BTreeMap::new();
        for l in
            events(&lines, "socket_call").filter(|l| l["call"] == "recv" || l["call"] == "recvfrom")
        {
            *read.entry(l["host"].as_str().unwrap().into()).or_default() +=
                l["bytes"].as_u64().unwrap();
        }
        // "hello" there and back, once each despite the retransmissions.
        assert_eq!(
            read,
            BTreeMap::from([("client".into(), 5), ("server".into(), 5)])
        );
    }

    /// `frame_dropped` lines grouped by `.reason`.
    #[test]
    fn jq_drops_by_reason() {
        let trace = echo_run(2);
        let lines = parse(&render_jsonl(&trace));
        let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
        for l in events(&lines, "frame_dropped") {
            *by_reason
                .entry(l["reason"].as_str().unwrap().into())
                .or_default() += 1;
        }
        assert_eq!(by_reason, BTreeMap::from([("fault".into(), 2)]));
    }

    /// Data segments grouped by `[.src, .src_port, .seq_abs]`; groups of
    /// more than one are retransmissions.
    #[test]
    fn jq_retransmitted_segments() {
        let lines = parse(&render_jsonl(&echo_run(2)));
        let mut copies: BTreeMap<(String, u64, u64), usize> = BTreeMap::new();
        for p in events(&lines, "packet").filter(|p| p["payload_len"].as_u64() > Some(0)) {
            let key = (
                p["src"].as_str().unwrap().to_string(),
                p["src_port"].as_u64().unwrap(),
                p["seq_abs"].as_u64().unwrap(),
            );
            *copies.entry(key).or_default() += 1;
        }
        let retransmitted: Vec<usize> = copies.into_values().filter(|n| *n > 1).collect();
        assert_eq!(retransmitted, [3], "the request, sent three times");
    }

    /// One event of every kind, with ids and bytes a real run never makes,
    /// and the exact key list the book documents for each.
    #[test]
    fn every_event_has_exactly_its_documented_keys() {
        let host = |name: &str, last: u8| HostInfo {
            name: name.into(),
            addr: [10, 0, 0, last].into(),
        };
        let mut trace = Trace {
            topology: Topology {
                seed: 3,
                hosts: vec![host("a", 1), host("b", 2)],
                links: vec![LinkInfo {
                    a: HostId(0),
                    b: HostId(1),
                    a_to_b: LinkParams::default(),
                    b_to_a: LinkParams::default(),
                }],
                apps: vec![AppInfo {
                    host: HostId(0),
                    kind: "tcp-client".into(),
                    name: "tcp-client".into(),
                }],
            },
            ..Trace::default()
        };
        let t = SimTime::from_millis(1);
        let addr: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
        let call = |call| TraceEvent::SocketCall {
            host: HostId(0),
            app: AppId(0),
            socket: Some(SocketId(1)),
            call,
        };
        let events = [
            // Not IPv4 at all, from a host the topology does not know.
            TraceEvent::PacketSent {
                frame: FrameId(0),
                from: HostId(9),
                to: None,
                socket: None,
                bytes: Rc::from(&[1u8, 2, 3][..]),
                len: 3,
            },
            TraceEvent::FrameQueued {
                frame: FrameId(0),
                link: LinkId(0),
                queue_bytes: 1500,
                departs: t,
            },
            TraceEvent::FrameDropped {
                frame: FrameId(0),
                from: HostId(0),
                to: Some(HostId(1)),
                reason: DropReason::QueueFull,
            },
            TraceEvent::FrameDelayed {
                frame: FrameId(0),
                by: SimDuration::from_millis(3),
                cause: DelayCause::Reorder,
            },
            TraceEvent::FrameDuplicated {
                frame: FrameId(0),
                copy: FrameId(1),
            },
            TraceEvent::FrameCorrupted {
                frame: FrameId(1),
                bit: 7,
            },
            TraceEvent::FrameDelivered {
                frame: FrameId(1),
                to: HostId(1),
            },
            // A frame never sent: its sender is unknown.
            TraceEvent::FrameDiscarded {
                frame: FrameId(42),
                host: HostId(1),
                reason: DiscardReason::BadChecksum,
            },
            TraceEvent::TcpState {
                host: HostId(0),
                socket: SocketId(1),
                local: "10.0.0.1:49152".parse().unwrap(),
                remote: Some(addr),
                from: TcpState::SynSent,
                to: TcpState::Closed,
                reason: Some(CloseReason::Reset),
            },
            TraceEvent::DataLost {
                host: HostId(0),
                socket: SocketId(1),
                cause: LossCause::Abort,
                unread: None,
                unacked: Some((10, 5)),
            },
            call(SocketCall::Listen {
                port: 80,
                backlog: 4,
            }),
            call(SocketCall::Accept { remote: addr }),
            call(SocketCall::Connect {
                remote: addr,
                local_port: 49152,
            }),
            call(SocketCall::Send {
                requested: 6,
                accepted: 3,
                preview: Preview::of(b"a\"\r\n\xff"),
            }),
            call(SocketCall::Recv {
                bytes: 2,
                preview: Preview::of(b"ok"),
            }),
            call(SocketCall::RecvEof),
            call(SocketCall::Shutdown),
            call(SocketCall::Close { unread: 0 }),
            call(SocketCall::Abort),
            call(SocketCall::Bind { port: 7 }),
            call(SocketCall::SendTo {
                dst: addr,
                bytes: 1,
                preview: Preview::of(b"x"),
            }),
            call(SocketCall::RecvFrom {
                src: addr,
                bytes: 1,
                preview: Preview::of(b"x"),
            }),
            call(SocketCall::Failed {
                call: "connect",
                error: SocketError::PortsExhausted(2),
            }),
            // An application that does not exist in the topology.
            TraceEvent::App {
                host: HostId(0),
                app: AppId(5),
                event: Box::new(
                    AppEvent::new("http.response", "HTTP/1.1 200 OK")
                        .with("status", 200u16)
                        .with("latency", SimDuration::from_millis(20))
                        .with("keep_alive", true)
                        .with("reason", "OK"),
                ),
            },
            TraceEvent::Action {
                description: "link a-b down".into(),
            },
            TraceEvent::FaultMatched {
                frame: FrameId(0),
                fault: 0,
                description: "drop (match #1 of fault 1)".into(),
            },
            TraceEvent::RunEnded {
                reason: EndReason::TimeLimit(t),
            },
        ];
        for event in events {
            trace.push(t, event);
        }
        let jsonl = render_jsonl(&trace);
        let lines = parse(&jsonl);

        const COMMON: [&str; 4] = ["version", "t_ns", "t", "event"];
        let frame = ["frame", "from", "to"];
        let call = ["host", "app", "app_id", "socket", "call"];
        #[rustfmt::skip]
        let expected: Vec<(&str, Vec<&str>)> = vec![
            ("run_start", vec!["seed", "hosts", "links", "apps"]),
            ("packet", vec!["frame", "from", "to", "socket", "protocol", "bytes"]),
            ("frame_queued", [&frame[..], &["link", "queue_bytes", "departs_ns"]].concat()),
            ("frame_dropped", [&frame[..], &["reason"]].concat()),
            ("frame_delayed", [&frame[..], &["by_ns", "cause"]].concat()),
            ("frame_duplicated", [&frame[..], &["copy"]].concat()),
            ("frame_corrupted", [&frame[..], &["bit"]].concat()),
            ("frame_delivered", frame.to_vec()),
            ("frame_discarded", [&frame[..], &["reason"]].concat()),
            ("tcp_state", vec!["host", "socket", "local", "remote", "from", "to", "reason"]),
            ("data_lost", vec!["host", "socket", "cause", "unread_offset", "unread_bytes",
                               "unacked_offset", "unacked_bytes"]),
            ("socket_call", [&call[..], &["port", "backlog"]].concat()),
            ("socket_call", [&call[..], &["remote"]].concat()),
            ("socket_call", [&call[..], &["remote", "local_port"]].concat()),
            ("socket_call", [&call[..], &["requested", "accepted", "preview"]].concat()),
            ("socket_call", [&call[..], &["bytes", "preview"]].concat()),
            ("socket_call", call.to_vec()),
            ("socket_call", call.to_vec()),
            ("socket_call", [&call[..], &["unread"]].concat()),
            ("socket_call", call.to_vec()),
            ("socket_call", [&call[..], &["port"]].concat()),
            ("socket_call", [&call[..], &["dst", "bytes", "preview"]].concat()),
            ("socket_call", [&call[..], &["src", "bytes", "preview"]].concat()),
            ("socket_call", [&call[..], &["failed_call", "error", "message"]].concat()),
            ("app", vec!["host", "app", "app_id", "socket", "kind", "summary", "fields"]),
            ("action", vec!["description"]),
            ("fault", [&frame[..], &["fault_index", "description"]].concat()),
            ("run_end", vec!["reason", "message"]),
        ];
        assert_eq!(lines.len(), expected.len());
        for (text, (event, keys)) in jsonl.lines().zip(&expected) {
            let want: Vec<&str> = COMMON.iter().chain(keys).copied().collect();
            assert_eq!(top_level_keys(text), want, "{text}");
            assert!(text.contains(&format!("\"event\":\"{event}\"")), "{text}");
        }

        // Values a reader relies on, for the unusual cases above.
        assert_eq!(lines[1]["from"], "?", "unknown host");
        assert_eq!(lines[1]["protocol"], "invalid");
        assert_eq!(lines[1]["bytes"], 3);
        assert_eq!(
            lines[6]["from"], "?",
            "the copy inherits its original's ends"
        );
        assert_eq!(lines[8]["from"], Value::Null, "a frame never sent");
        assert_eq!(lines[8]["reason"], "bad-checksum");
        assert_eq!(lines[9]["reason"], "reset");
        assert_eq!(lines[10]["unread_bytes"], Value::Null);
        assert_eq!(lines[10]["unacked_offset"], 10);
        assert_eq!(lines[14]["preview"], r#"a\"\r\n\xff"#);
        assert_eq!(lines[23]["error"], "ports-exhausted");
        let app = &lines[24];
        assert_eq!(app["app"], "?", "unknown app");
        assert_eq!(
            app["fields"],
            json!({"status": 200, "latency_ns": 20_000_000, "keep_alive": true, "reason": "OK"})
        );
        assert_eq!(lines[27]["reason"], "time-limit");
    }

    #[test]
    fn udp_and_icmp_packets_have_their_own_keys() {
        // IPv4 header (20 bytes) + 8-byte UDP header + 2 bytes of payload,
        // then the same with ICMP port unreachable.
        let ip = |protocol: u8, total: u8| {
            vec![
                0x45, 0, 0, total, 0, 0, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ]
        };
        let mut udp = ip(17, 30);
        udp.extend_from_slice(&[0x1f, 0x90, 0, 53, 0, 10, 0, 0, b'h', b'i']);
        let mut icmp = ip(1, 28);
        icmp.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
        let mut trace = Trace::default();
        for (i, bytes) in [udp, icmp].into_iter().enumerate() {
            trace.push(
                SimTime::ZERO,
                TraceEvent::PacketSent {
                    frame: FrameId(i as u64),
                    from: HostId(0),
                    to: Some(HostId(1)),
                    socket: None,
                    len: bytes.len() as u32,
                    bytes: Rc::from(bytes),
                },
            );
        }
        let jsonl = render_jsonl(&trace);
        let lines = parse(&jsonl);
        let ip_keys = [
            "frame",
            "from",
            "to",
            "socket",
            "protocol",
            "ip_protocol",
            "src",
            "dst",
            "ip_len",
            "ip_id",
            "ttl",
        ];
        let texts: Vec<&str> = jsonl.lines().collect();
        assert_eq!(
            top_level_keys(texts[1])[4..],
            [&ip_keys[..], &["src_port", "dst_port", "payload_len"]].concat()
        );
        assert_eq!(lines[1]["src_port"], 8080);
        assert_eq!(lines[1]["payload_len"], 2);
        assert_eq!(
            top_level_keys(texts[2])[4..],
            [&ip_keys[..], &["icmp_type", "icmp_code"]].concat()
        );
        assert_eq!(lines[2]["protocol"], "icmp");
        assert_eq!(lines[2]["icmp_code"], 3);
    }

    #[test]
    fn tcp_packets_have_their_documented_keys() {
        let jsonl = render_jsonl(&echo_run(0));
        let syn = jsonl
            .lines()
            .find(|l| l.contains("\"event\":\"packet\""))
            .unwrap();
        let keys: Vec<String> = top_level_keys(syn);
        assert_eq!(
            keys[4..],
            [
                "frame",
                "from",
                "to",
                "socket",
                "protocol",
                "ip_protocol",
                "src",
                "dst",
                "ip_len",
                "ip_id",
                "ttl",
                "src_port",
                "dst_port",
                "flags",
                "flag_names",
                "seq",
                "ack",
                "seq_abs",
                "ack_abs",
                "window",
                "window_raw",
                "payload_len",
                "options",
            ]
        );
        let line: Value = serde_json::from_str(syn).unwrap();
        let option_keys: Vec<&String> = line["options"].as_object().unwrap().keys().collect();
        assert_eq!(
            option_keys,
            [
                "mss",
                "sack",
                "sack_abs",
                "sack_permitted",
                "timestamp",
                "window_scale"
            ]
        );
    }
}

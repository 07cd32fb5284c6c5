//! JSON Lines: every trace event as one JSON object on one line, for `jq`,
//! scripts and notebooks.
//!
//! The first line is a `run_start` header describing the world (seed, hosts,
//! links, applications); then comes one line per trace event, in trace
//! order. Every line starts with the same four keys:
//!
//! ```text
//! {"version":2,"t_ns":20000000,"t":"20.000ms","event":"packet",...}
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
//! - Hosts and applications are named (`"client"`, `"web#2"`: an
//!   application by its name in the scenario, with its kind beside it as
//!   `app_kind`), never numbered only; addresses are strings (`"10.0.0.1"`,
//!   `"10.0.0.1:49152"`).
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

use crate::inflight::InFlight;
use crate::relative::SeqTracker;
use serde_json::{Map, Value, json};
use simnet_core::link::LinkParams;
use simnet_core::packet::{PacketInfo, Transport};
use simnet_core::qdisc::Qdisc;
use simnet_core::socket::{AppId, CloseReason, HostId, SocketCall, SocketError};
use simnet_core::trace::{
    DelayCause, DiscardReason, EndReason, FieldValue, LossCause, Topology, Trace, TraceEvent,
    TraceRecord, TraceSink,
};
use simnet_core::{FrameId, SimTime};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddrV4;

/// The schema version every line carries as `"version"`. It changes when a key is
/// removed or changes meaning; adding a key does not change it.
///
/// Version 2: `app` is the application's name (it was its kind, now
/// `app_kind`), and `run_start`'s `apps` give each one's `name`.
pub const SCHEMA_VERSION: u64 = 2;

/// Renders the whole trace as JSON Lines: a `run_start` header line, then one
/// line per event. Every line ends with `\n`. This is the stored trace
/// replayed into a [`JsonlWriter`]: one implementation, the same bytes.
pub fn render_jsonl(trace: &Trace) -> String {
    let mut writer = JsonlWriter::new(Vec::new(), &trace.topology);
    trace.replay(&mut writer);
    crate::written_text(writer.finish())
}

/// JSON Lines written as the records arrive: a [`TraceSink`] for
/// [`World::stream_to`](simnet_core::World::stream_to).
///
/// [`JsonlWriter::new`] writes the `run_start` header line at once (it
/// describes the topology); every record then writes its line. What it keeps
/// between records is bounded: the relative-sequence tracker (per
/// connection) and the two ends of the frames still in flight, forgotten
/// once their fate is known (see `inflight`), so a run's memory does not
/// grow with its duration.
///
/// Writes go straight to `out`, one per line: give it a
/// [`BufWriter`](std::io::BufWriter) around a file or stdout. The first
/// write error is kept, nothing more is written, and [`JsonlWriter::finish`]
/// returns it.
pub struct JsonlWriter<W: io::Write> {
    out: W,
    state: JsonlState,
    inflight: InFlight,
    error: Option<io::Error>,
}

impl<W: io::Write> JsonlWriter<W> {
    /// Whether a write to `out` failed: nothing more is written, and the
    /// run producing the records can stop ([`JsonlWriter::finish`] returns
    /// the error).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// A writer of a run of `topology` (the topology the records will be
    /// handed with); writes the `run_start` line to `out` now.
    pub fn new(out: W, topology: &Topology) -> JsonlWriter<W> {
        let mut state = JsonlState::default();
        let header = JsonlRenderer::new(topology, &mut state).header().finish();
        let mut writer = JsonlWriter {
            out,
            state,
            inflight: InFlight::default(),
            error: None,
        };
        writer.write_line(&header);
        writer
    }

    fn write_line(&mut self, line: &str) {
        if self.error.is_none()
            && let Err(e) = writeln!(self.out, "{line}")
        {
            self.error = Some(e);
        }
    }

    /// How many frames the writer remembers (for the tests of the bound).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.state.frames.len().max(self.inflight.tracked())
    }

    /// Flushes `out` and gives it back, or the first error writing to it.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: io::Write> TraceSink for JsonlWriter<W> {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        let frames = &mut self.state.frames;
        self.inflight.retire_before(record.time, |_, ids| {
            for id in ids {
                frames.remove(id);
            }
        });
        let line = JsonlRenderer::new(topology, &mut self.state)
            .line(record)
            .finish();
        self.inflight.observe(record.time, &record.event);
        self.write_line(&line);
    }
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

/// What later events refer back to: initial sequence numbers, and each
/// frame's sender and receiver.
#[derive(Default)]
struct JsonlState {
    seqs: SeqTracker,
    /// Frame id -> (sender, intended receiver), for link events, which name
    /// only the frame. A link's duplicate inherits its original's entry.
    frames: BTreeMap<FrameId, (HostId, Option<HostId>)>,
}

/// Turns records into lines, with the state they update.
struct JsonlRenderer<'a> {
    topo: &'a Topology,
    seqs: &'a mut SeqTracker,
    frames: &'a mut BTreeMap<FrameId, (HostId, Option<HostId>)>,
}

impl<'a> JsonlRenderer<'a> {
    fn new(topo: &'a Topology, state: &'a mut JsonlState) -> JsonlRenderer<'a> {
        JsonlRenderer {
            topo,
            seqs: &mut state.seqs,
            frames: &mut state.frames,
        }
    }

    fn host(&self, id: HostId) -> Value {
        Value::from(self.topo.host_name(id))
    }

    /// An application's name and kind (`"?"` for an unknown id).
    fn app(&self, id: AppId) -> (Value, Value) {
        match self.topo.apps.get(id.0 as usize) {
            Some(a) => (Value::from(a.name.as_str()), Value::from(a.kind.as_str())),
            None => (Value::from("?"), Value::from("?")),
        }
    }

    /// The `run_start` line: the world the events refer to.
    fn header(&self) -> Line {
        let topo = self.topo;
        let hosts: Vec<Value> = topo
            .hosts
            .iter()
            .map(|h| {
                let mut host = json!({"name": h.name, "address": h.addr.to_string()});
                if h.router {
                    host["router"] = Value::Bool(true);
                }
                host
            })
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
            .map(|a| json!({"host": self.host(a.host), "kind": a.kind, "name": a.name}))
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
            TraceEvent::FrameForwarded {
                frame,
                router,
                from,
                to,
                link,
                bytes,
                len,
            } => {
                self.frames.insert(*frame, (*router, Some(*to)));
                let mut line = Line::new(time, "frame_forwarded");
                line.put("frame", frame.0)
                    .put("router", self.host(*router))
                    .put("from", self.host(*from))
                    .put("to", self.host(*to))
                    .put("link", link.0);
                match PacketInfo::parse_captured(bytes, *len as usize) {
                    Some(info) => self.packet(&mut line, &info),
                    None => {
                        line.put("protocol", "invalid").put("bytes", *len);
                    }
                }
                line
            }
            TraceEvent::FrameEnqueued {
                frame,
                link,
                queue_bytes,
            } => {
                let mut line = self.frame_line(time, "frame_enqueued", *frame);
                line.put("link", link.0).put("queue_bytes", *queue_bytes);
                line
            }
            TraceEvent::FrameDequeued {
                frame,
                link,
                waited,
                departs,
            } => {
                let mut line = self.frame_line(time, "frame_dequeued", *frame);
                line.put("link", link.0)
                    .put("waited_ns", waited.as_nanos())
                    .put("departs_ns", departs.as_nanos());
                line
            }
            TraceEvent::NatMapped {
                router,
                proto,
                inside,
                outside,
                remote,
            } => {
                let mut line = Line::new(time, "nat_mapped");
                line.put("router", self.host(*router))
                    .put("ip_protocol", *proto)
                    .put("inside", inside.to_string())
                    .put("outside", outside.to_string())
                    .put("remote", remote.to_string());
                line
            }
            TraceEvent::NatExpired {
                router,
                proto,
                inside,
                outside,
                remote,
                last_used,
            } => {
                let mut line = Line::new(time, "nat_expired");
                line.put("router", self.host(*router))
                    .put("ip_protocol", *proto)
                    .put("inside", inside.to_string())
                    .put("outside", outside.to_string())
                    .put("remote", remote.to_string())
                    .put("last_used_ns", last_used.as_nanos());
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
                let (name, kind) = self.app(*app);
                line.put("host", self.host(*host))
                    .put("app", name)
                    .put("app_kind", kind)
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
                let (name, app_kind) = self.app(*app);
                line.put("host", self.host(*host))
                    .put("app", name)
                    .put("app_kind", app_kind)
                    .put("app_id", app.0)
                    .put("socket", event.socket.map(|s| s.0))
                    .put("kind", event.kind.as_ref())
                    .put("summary", event.summary.text().as_ref())
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
        FieldValue::Text(s) => (name.to_string(), Value::from(s.as_ref())),
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
    let mut v = json!({
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
    });
    match &p.qdisc {
        Qdisc::DropTail => {}
        Qdisc::Codel(c) => {
            v["qdisc"] = json!({"kind": "codel", "target_ns": c.target.as_nanos(),
                "interval_ns": c.interval.as_nanos()});
        }
        Qdisc::FqCodel(f) => {
            v["qdisc"] = json!({"kind": "fq_codel", "target_ns": f.codel.target.as_nanos(),
                "interval_ns": f.codel.interval.as_nanos(), "flows": f.flows,
                "quantum": f.quantum});
        }
    }
    v
}

// Stable tokens for the enums. The `Display` texts of these types are for
// humans and may be reworded; these names are part of the schema.

fn discard_reason(reason: DiscardReason) -> &'static str {
    match reason {
        DiscardReason::BadChecksum => "bad-checksum",
        DiscardReason::Malformed => "malformed",
        DiscardReason::NotForHost => "not-for-host",
        DiscardReason::HostDown => "host-down",
        DiscardReason::BacklogFull => "backlog-full",
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
mod tests;

//! The step-by-step text timeline.
//!
//! One line per event: simulated time (milliseconds with microsecond
//! precision, right-aligned), the host, a layer tag, and the details. TCP
//! segments show tcpdump-style flags, relative sequence numbers, the window in
//! bytes, the payload length and the options. The format is stable and
//! diff-friendly: it is what snapshot tests compare.
//!
//! Layer tags: `app` (socket calls and application events), `tcp` (state
//! changes), `→` (a packet leaves the host), `link` (what a link did to a
//! frame), `ip` (a host discarded a frame), `act` (a timeline action), `run`.

use crate::inflight::InFlight;
use crate::relative::SeqTracker;
use simnet_core::packet::{PacketInfo, Transport};
use simnet_core::socket::{CloseReason, HostId, Preview, SocketCall};
use simnet_core::trace::{DelayCause, Topology, Trace, TraceEvent, TraceRecord, TraceSink};
use simnet_core::{FrameId, TcpState};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;

/// What the timeline says when a RST closes a socket in TIME-WAIT: the
/// wait was cut short, it did not run its course (RFC 1337 calls this
/// TIME-WAIT assassination; smoltcp honours the RST, as Linux does unless
/// `net.ipv4.tcp_rfc1337` is set).
const TIME_WAIT_RESET: &str = "  (TIME-WAIT cut short by an RST: RFC 1337's TIME-WAIT \
     assassination; smoltcp honours the RST, as Linux does by default)";

/// What the timeline says when the user timeout aborts a socket in
/// TIME-WAIT: smoltcp counts it from the peer's last segment in every state,
/// so a TIME-WAIT longer than the user timeout ends early, with an RST.
const TIME_WAIT_USER_TIMEOUT: &str = "  (TIME-WAIT cut short by the user timeout: smoltcp \
     aborts it with an RST; Linux's TCP_USER_TIMEOUT leaves TIME-WAIT alone)";

/// What the text timeline includes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// Show every frame's arrival (`link ... delivered`), not just losses.
    pub show_deliveries: bool,
    /// Show every listening socket being armed or closed (`CLOSED -> LISTEN`,
    /// `LISTEN -> CLOSED`), not just the `listen()` call.
    pub show_listen_arming: bool,
    /// Absolute sequence numbers instead of relative ones.
    pub absolute_seq: bool,
}

/// Renders the whole trace as text: the stored trace replayed into a
/// [`TextWriter`], so the stored and the streamed timelines are one
/// implementation and the same bytes.
pub fn render_text(trace: &Trace, options: &TextOptions) -> String {
    let mut writer = TextWriter::new(Vec::new(), &trace.topology, options.clone());
    trace.replay(&mut writer);
    crate::written_text(writer.finish())
}

/// The text timeline written as the records arrive: a [`TraceSink`] for
/// [`World::stream_to`](simnet_core::World::stream_to), writing one line per
/// shown event to `out`.
///
/// The timeline has no header of its own; a caller that wants one (the CLI
/// writes the scenario's name and description) writes it to `out` before
/// handing `out` over. What it keeps between records is bounded: the
/// relative-sequence tracker (per connection) and the one-line summaries of
/// the frames still in flight (forgotten once their fate is known, see
/// `inflight`), so a run's memory does not grow with its duration.
///
/// Writes go straight to `out`, one per line: give it a
/// [`BufWriter`](std::io::BufWriter) around a file or stdout. The first
/// write error is kept, nothing more is written, and [`TextWriter::finish`]
/// returns it.
pub struct TextWriter<W: io::Write> {
    out: W,
    state: TextState,
    inflight: InFlight,
    error: Option<io::Error>,
}

impl<W: io::Write> TextWriter<W> {
    /// Whether a write to `out` failed: nothing more is written, and the
    /// run producing the records can stop ([`TextWriter::finish`] returns
    /// the error).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// A writer of the timeline of a run of `topology` (the topology the
    /// records will be handed with; it sets the host column's width).
    pub fn new(out: W, topology: &Topology, options: TextOptions) -> TextWriter<W> {
        TextWriter {
            out,
            state: TextState::new(topology, options),
            inflight: InFlight::default(),
            error: None,
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

impl<W: io::Write> TraceSink for TextWriter<W> {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        let frames = &mut self.state.frames;
        self.inflight.retire_before(record.time, |_, ids| {
            for id in ids {
                frames.remove(id);
            }
        });
        let line = self.state.line(topology, &record.event);
        self.inflight.observe(record.time, &record.event);
        if let (Some(line), None) = (line, &self.error)
            && let Err(e) = writeln!(self.out, "{:>12} {line}", record.time)
        {
            self.error = Some(e);
        }
    }
}

/// A renderer that can be fed events one at a time (it keeps sequence-number
/// state), for callers that interleave their own lines.
pub struct TextRenderer<'a> {
    topo: &'a Topology,
    state: TextState,
}

impl<'a> TextRenderer<'a> {
    /// A renderer for traces of `topo`.
    pub fn new(topo: &'a Topology, options: TextOptions) -> TextRenderer<'a> {
        TextRenderer {
            topo,
            state: TextState::new(topo, options),
        }
    }

    /// The line for one event, or `None` if this event is not shown.
    pub fn line(&mut self, event: &TraceEvent) -> Option<String> {
        self.state.line(self.topo, event)
    }

    /// A packet in one line: `S.    seq=0 ack=1 win=65535 len=0 mss=1460 ws=1 sackOK`.
    pub fn packet(&mut self, info: &PacketInfo) -> String {
        self.state.packet(info)
    }
}

/// What the timeline remembers between events, without the topology (which
/// a [`TraceSink`] is handed with every record).
struct TextState {
    options: TextOptions,
    seqs: SeqTracker,
    /// One-line packet summaries by frame id, for link events about them.
    frames: BTreeMap<FrameId, String>,
    width: usize,
}

impl TextState {
    fn new(topo: &Topology, options: TextOptions) -> TextState {
        let width = topo
            .hosts
            .iter()
            .map(|h| h.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        TextState {
            options,
            seqs: SeqTracker::new(),
            frames: BTreeMap::new(),
            width,
        }
    }

    fn host(&self, topo: &Topology, h: HostId) -> String {
        format!("{:<w$}", topo.host_name(h), w = self.width)
    }

    /// The line for one event, or `None` if this event is not shown.
    fn line(&mut self, topo: &Topology, event: &TraceEvent) -> Option<String> {
        Some(match event {
            TraceEvent::PacketSent {
                frame, from, to, ..
            } => {
                let info = event.packet_info()?;
                let summary = self.packet(&info);
                self.frames.insert(*frame, summary.clone());
                let dest = match to {
                    Some(h) => topo.host_name(*h).to_string(),
                    None => info.dst.to_string(),
                };
                format!(
                    "{}  →    {dest:<w$} {summary}",
                    self.host(topo, *from),
                    w = self.width
                )
            }
            TraceEvent::FrameForwarded {
                frame,
                router,
                to,
                bytes,
                len,
                ..
            } => {
                let info = PacketInfo::parse_captured(bytes, *len as usize)?;
                let summary = self.packet(&info);
                self.frames.insert(*frame, summary.clone());
                format!(
                    "{}  fwd  {:<w$} ttl={} {summary}",
                    self.host(topo, *router),
                    topo.host_name(*to),
                    info.ttl,
                    w = self.width
                )
            }
            TraceEvent::FrameEnqueued {
                frame, queue_bytes, ..
            } => {
                if *queue_bytes == 0 {
                    return None;
                }
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!(
                    "{}  link queued behind {queue_bytes} bytes (active queue): {what}",
                    self.pad_link()
                )
            }
            TraceEvent::FrameDequeued { frame, waited, .. } => {
                if waited.is_zero() {
                    return None;
                }
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!(
                    "{}  link left the queue after {waited}: {what}",
                    self.pad_link()
                )
            }
            TraceEvent::NatMapped {
                router,
                proto,
                inside,
                outside,
                remote,
            } => format!(
                "{}  nat  {} {inside} is {outside} to {remote}",
                self.host(topo, *router),
                proto_name(*proto)
            ),
            TraceEvent::NatExpired {
                router,
                proto,
                inside,
                outside,
                remote,
                last_used,
            } => format!(
                "{}  nat  forgot {} {inside} ({outside} to {remote}): idle since {last_used}",
                self.host(topo, *router),
                proto_name(*proto)
            ),
            TraceEvent::FrameQueued {
                frame, queue_bytes, ..
            } => {
                if *queue_bytes == 0 {
                    return None; // it went straight onto the wire
                }
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!(
                    "{}  link queued behind {queue_bytes} bytes: {what}",
                    self.pad_link()
                )
            }
            TraceEvent::FrameDropped {
                frame,
                from,
                to,
                reason,
            } => {
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                let dest = to
                    .map(|h| topo.host_name(h).to_string())
                    .unwrap_or_else(|| "?".into());
                format!(
                    "{}  ✗    {dest:<w$} dropped ({reason}): {what}",
                    self.host(topo, *from),
                    w = self.width
                )
            }
            TraceEvent::FrameDelayed { frame, by, cause } => {
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                let why = match cause {
                    DelayCause::Reorder => "reordered",
                    DelayCause::Fault => "delayed by fault",
                };
                format!("{}  link {why} (+{by}): {what}", self.pad_link())
            }
            TraceEvent::FrameDuplicated { frame, .. } => {
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!("{}  link duplicated: {what}", self.pad_link())
            }
            TraceEvent::FrameCorrupted { frame, bit } => {
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!(
                    "{}  link corrupted (bit {bit} flipped): {what}",
                    self.pad_link()
                )
            }
            TraceEvent::FrameDelivered { frame, to } => {
                if !self.options.show_deliveries {
                    return None;
                }
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!("{}  ←    delivered: {what}", self.host(topo, *to))
            }
            TraceEvent::FrameDiscarded {
                frame,
                host,
                reason,
            } => {
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!(
                    "{}  ip   discarded ({reason}): {what}",
                    self.host(topo, *host)
                )
            }
            TraceEvent::TcpState {
                host,
                local,
                from,
                to,
                reason,
                ..
            } => {
                let listener_only = matches!(
                    (*from, *to),
                    (TcpState::Closed, TcpState::Listen) | (TcpState::Listen, TcpState::Closed)
                );
                if listener_only && !self.options.show_listen_arming {
                    return None;
                }
                let mut s = format!(
                    "{}  tcp  :{:<5} {from} -> {to}",
                    self.host(topo, *host),
                    local.port()
                );
                let time_wait_ended = *from == TcpState::TimeWait && *to == TcpState::Closed;
                match reason {
                    // A RST ends TIME-WAIT early: the timer did not run out.
                    Some(CloseReason::Reset) if time_wait_ended => s.push_str(TIME_WAIT_RESET),
                    Some(CloseReason::TimedOut) if time_wait_ended => {
                        s.push_str(TIME_WAIT_USER_TIMEOUT)
                    }
                    Some(reason) => {
                        let _ = write!(s, "  ({reason})");
                    }
                    None if time_wait_ended => {
                        s.push_str("  (TIME-WAIT over: smoltcp holds it 10 s; Linux 60 s)");
                    }
                    None => {}
                }
                s
            }
            TraceEvent::DataLost {
                host,
                cause,
                unread,
                unacked,
                ..
            } => {
                let mut parts = Vec::new();
                if let Some((offset, bytes)) = unread {
                    parts.push(format!(
                        "{bytes} received bytes never read (stream bytes {offset}..{})",
                        offset + bytes
                    ));
                }
                if let Some((offset, bytes)) = unacked {
                    parts.push(format!(
                        "{bytes} written bytes never acknowledged (stream bytes {offset}..{})",
                        offset + bytes
                    ));
                }
                format!(
                    "{}  tcp  data lost ({cause}): {}",
                    self.host(topo, *host),
                    parts.join("; ")
                )
            }
            TraceEvent::SocketCall { host, call, .. } => {
                format!("{}  app  {}", self.host(topo, *host), socket_call(call))
            }
            TraceEvent::App { event, .. } if event.is_secret() => return None,
            TraceEvent::App { host, event, .. } => {
                format!("{}  app  {}", self.host(topo, *host), event.summary)
            }
            TraceEvent::Action { description } => {
                format!("{:<w$}  act  {description}", "*", w = self.width)
            }
            TraceEvent::FaultMatched {
                description, frame, ..
            } => {
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!("{}  link fault: {description}: {what}", self.pad_link())
            }
            TraceEvent::RunEnded { reason } => {
                format!(
                    "{:<w$}  run  ended: {}",
                    "*",
                    reason.describe(topo),
                    w = self.width
                )
            }
        })
    }

    fn pad_link(&self) -> String {
        format!("{:<w$}", "*", w = self.width)
    }

    /// A packet in one line: `S.    seq=0 ack=1 win=65535 len=0 mss=1460 ws=1 sackOK`.
    fn packet(&mut self, info: &PacketInfo) -> String {
        match &info.transport {
            Transport::Tcp(tcp) => {
                let rel = self.seqs.observe(info.src, info.dst, tcp);
                let (seq, ack) = if self.options.absolute_seq {
                    (tcp.seq, tcp.flags.ack().then_some(tcp.ack))
                } else {
                    (rel.seq, rel.ack)
                };
                let mut s = format!(
                    ":{}>:{} {:<3} seq={seq}",
                    tcp.src_port, tcp.dst_port, tcp.flags
                );
                if let Some(ack) = ack {
                    let _ = write!(s, " ack={ack}");
                }
                let _ = write!(s, " win={} len={}", rel.window, tcp.payload_len);
                let reverse = (
                    std::net::SocketAddrV4::new(info.dst, tcp.dst_port),
                    std::net::SocketAddrV4::new(info.src, tcp.src_port),
                );
                self.seqs.write_options(&mut s, &tcp.options, reverse);
                s
            }
            Transport::Udp(udp) => format!(
                ":{}>:{} UDP len={}",
                udp.src_port, udp.dst_port, udp.payload_len
            ),
            Transport::Icmp { icmp_type, code } => icmp_message(*icmp_type, *code),
            Transport::Other { protocol } => format!("IP protocol {protocol} len={}", info.ip_len),
        }
    }
}

/// An IP protocol number by name (`tcp`, `udp`, `icmp`).
pub fn proto_name(proto: u8) -> String {
    match proto {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        p => format!("protocol {p}"),
    }
}

/// An ICMP message in words (`ICMP port unreachable`): the one wording the
/// text timeline and Mermaid's arrows share.
pub fn icmp_message(icmp_type: u8, code: u8) -> String {
    match (icmp_type, code) {
        (3, 3) => "ICMP port unreachable".to_string(),
        (3, 0) => "ICMP network unreachable".to_string(),
        (3, 1) => "ICMP host unreachable".to_string(),
        (11, 0) => "ICMP time exceeded (TTL)".to_string(),
        (3, _) => format!("ICMP destination unreachable (code {code})"),
        (0, _) => "ICMP echo reply".to_string(),
        (8, _) => "ICMP echo request".to_string(),
        _ => format!("ICMP type {icmp_type} code {code}"),
    }
}

/// A socket call in the form a programmer would write it, with previews
/// in straight quotes: `send 5 bytes "hello"`.
pub fn socket_call(call: &SocketCall) -> String {
    describe_socket_call(call, |preview, _| format!(" \"{preview}\""))
}

/// A socket call in the form a programmer would write it: the one wording
/// every renderer uses (the text timeline here, Mermaid's notes).
///
/// Renderers differ only in how they quote a payload, so `quote` turns a
/// call's preview and the byte count it stands for into the text that
/// follows the call, leading space included (or nothing, to leave the
/// preview out).
pub fn describe_socket_call(
    call: &SocketCall,
    quote: impl Fn(&Preview, usize) -> String,
) -> String {
    match call {
        SocketCall::Listen { port, backlog } => format!("listen(:{port}, backlog={backlog})"),
        SocketCall::Accept { remote } => format!("accept() -> connection from {remote}"),
        SocketCall::Connect { remote, local_port } => {
            format!("connect({remote}) from :{local_port}")
        }
        SocketCall::Send {
            requested,
            accepted,
            preview,
        } => {
            let quoted = quote(preview, *accepted);
            if requested == accepted {
                format!("send {accepted} bytes{quoted}")
            } else {
                format!("send {accepted} of {requested} bytes (send buffer full){quoted}")
            }
        }
        SocketCall::Recv { bytes, preview } => {
            format!("recv {bytes} bytes{}", quote(preview, *bytes))
        }
        SocketCall::RecvEof => "recv: end of stream".to_string(),
        SocketCall::Shutdown => "shutdown(SHUT_WR)".to_string(),
        SocketCall::Close { unread: 0 } => "close()".to_string(),
        SocketCall::Close { unread } => format!("close() with {unread} unread bytes -> RST"),
        SocketCall::Abort => "close() with SO_LINGER 0 -> RST".to_string(),
        SocketCall::Bind { port } => format!("bind(udp :{port})"),
        SocketCall::SendTo {
            dst,
            bytes,
            preview,
        } => format!("sendto({dst}) {bytes} bytes{}", quote(preview, *bytes)),
        SocketCall::RecvFrom {
            src,
            bytes,
            preview,
        } => format!(
            "recvfrom() {bytes} bytes from {src}{}",
            quote(preview, *bytes)
        ),
        SocketCall::Failed { call, error } => format!("{call}() failed: {error}"),
    }
}

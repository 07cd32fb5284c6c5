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

use crate::relative::SeqTracker;
use simnet_core::packet::{PacketInfo, Transport};
use simnet_core::socket::{HostId, Preview, SocketCall};
use simnet_core::trace::{DelayCause, Topology, Trace, TraceEvent};
use simnet_core::{FrameId, TcpState};
use std::collections::BTreeMap;
use std::fmt::Write;

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

/// Renders the whole trace as text.
pub fn render_text(trace: &Trace, options: &TextOptions) -> String {
    let mut r = TextRenderer::new(&trace.topology, options.clone());
    let mut out = String::new();
    for record in &trace.records {
        if let Some(line) = r.line(&record.event) {
            let _ = writeln!(out, "{:>12} {line}", record.time);
        }
    }
    out
}

/// A renderer that can be fed events one at a time (it keeps sequence-number
/// state), for callers that interleave their own lines.
pub struct TextRenderer<'a> {
    topo: &'a Topology,
    options: TextOptions,
    seqs: SeqTracker,
    /// One-line packet summaries by frame id, for link events about them.
    frames: BTreeMap<FrameId, String>,
    width: usize,
}

impl<'a> TextRenderer<'a> {
    /// A renderer for traces of `topo`.
    pub fn new(topo: &'a Topology, options: TextOptions) -> TextRenderer<'a> {
        let width = topo
            .hosts
            .iter()
            .map(|h| h.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        TextRenderer {
            topo,
            options,
            seqs: SeqTracker::new(),
            frames: BTreeMap::new(),
            width,
        }
    }

    fn host(&self, h: HostId) -> String {
        format!("{:<w$}", self.topo.host_name(h), w = self.width)
    }

    fn name(&self, h: HostId) -> &str {
        self.topo.host_name(h)
    }

    /// The line for one event, or `None` if this event is not shown.
    pub fn line(&mut self, event: &TraceEvent) -> Option<String> {
        Some(match event {
            TraceEvent::PacketSent {
                frame, from, to, ..
            } => {
                let info = event.packet_info()?;
                let summary = self.packet(&info);
                self.frames.insert(*frame, summary.clone());
                let dest = match to {
                    Some(h) => self.name(*h).to_string(),
                    None => info.dst.to_string(),
                };
                format!(
                    "{}  →    {dest:<w$} {summary}",
                    self.host(*from),
                    w = self.width
                )
            }
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
                    .map(|h| self.name(h).to_string())
                    .unwrap_or_else(|| "?".into());
                format!(
                    "{}  ✗    {dest:<w$} dropped ({reason}): {what}",
                    self.host(*from),
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
                format!("{}  ←    delivered: {what}", self.host(*to))
            }
            TraceEvent::FrameDiscarded {
                frame,
                host,
                reason,
            } => {
                let what = self.frames.get(frame).cloned().unwrap_or_default();
                format!("{}  ip   discarded ({reason}): {what}", self.host(*host))
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
                    self.host(*host),
                    local.port()
                );
                if let Some(reason) = reason {
                    let _ = write!(s, "  ({reason})");
                }
                if *from == TcpState::TimeWait && *to == TcpState::Closed {
                    s.push_str("  (TIME-WAIT over: smoltcp holds it 10 s; Linux 60 s)");
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
                    self.host(*host),
                    parts.join("; ")
                )
            }
            TraceEvent::SocketCall { host, call, .. } => {
                format!("{}  app  {}", self.host(*host), socket_call(call))
            }
            TraceEvent::App { host, event, .. } => {
                format!("{}  app  {}", self.host(*host), event.summary)
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
                    reason.describe(self.topo),
                    w = self.width
                )
            }
        })
    }

    fn pad_link(&self) -> String {
        format!("{:<w$}", "*", w = self.width)
    }

    /// A packet in one line: `S.    seq=0 ack=1 win=65535 len=0 mss=1460 ws=1 sackOK`.
    pub fn packet(&mut self, info: &PacketInfo) -> String {
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

/// An ICMP message in words (`ICMP port unreachable`): the one wording the
/// text timeline and Mermaid's arrows share.
pub fn icmp_message(icmp_type: u8, code: u8) -> String {
    match (icmp_type, code) {
        (3, 3) => "ICMP port unreachable".to_string(),
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

//! The diagram's layout: [`Renderer`] walks the trace once, decides which
//! events are shown (window, connection, event limit), groups them into
//! arrows and notes at their instants, and writes the sequence diagram.

use super::MermaidOptions;
use super::labels::{
    describe_call, describe_options, escape_text, http_first_line, participant_id, preview_text,
    truncate_chars,
};
use super::select::Selector;
use crate::relative::{Flow, SeqTracker};
use simnet_core::link::DropReason;
use simnet_core::packet::{FrameId, PacketInfo, TcpHeader, Transport};
use simnet_core::socket::{HostId, SocketCall, SocketId, TcpState};
use simnet_core::time::SimTime;
use simnet_core::trace::{DelayCause, DiscardReason, Topology, Trace, TraceEvent};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Renders the trace (or the part `options` selects) as a Mermaid sequence
/// diagram. Never fails: a trace that shows nothing gives a diagram that
/// says so.
pub fn render_mermaid(trace: &Trace, options: &MermaidOptions) -> String {
    let mut r = Renderer::new(&trace.topology, options);
    r.ws_labels = crate::websocket::frame_labels(trace);
    r.tls_labels = crate::tls::record_labels(trace);
    for record in &trace.records {
        r.event(record.time, &record.event);
    }
    r.finish(trace.records.last().map(|r| r.time))
}

/// What became of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// No fate recorded (the trace ended first).
    InFlight,
    Delivered,
    Dropped(DropReason),
    Discarded(HostId, DiscardReason),
}

/// One packet arrow.
#[derive(Clone, Debug)]
pub(super) struct Arrow {
    from: HostId,
    /// `None` when no link leads to the destination.
    to: Option<HostId>,
    dst_addr: Option<Ipv4Addr>,
    /// The two endpoints, sorted, for counting connections.
    conversation: Option<(SocketAddrV4, SocketAddrV4)>,
    ports: Option<(u16, u16)>,
    /// Escaped label.
    label: String,
    /// What the link did to it (`reordered +3ms`), unescaped.
    remarks: Vec<String>,
    fate: Fate,
    /// A copy made by a duplicating link.
    copy: bool,
}

/// One line of an application note.
#[derive(Clone, Debug)]
pub(super) enum AppLine {
    /// Escaped text.
    Text(String),
    /// Reads of one socket, summed.
    Recv {
        socket: SocketId,
        bytes: usize,
        reads: usize,
        /// Escaped preview of the first read.
        preview: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub(super) enum Span {
    Host(HostId),
    Pair(HostId, HostId),
    All,
}

#[derive(Clone, Debug)]
pub(super) enum ItemKind {
    Arrow(Arrow),
    State {
        host: HostId,
        socket: SocketId,
        port: u16,
        chain: Vec<TcpState>,
        /// Escaped remark (`(reset by peer)`).
        remark: Option<String>,
    },
    App {
        host: HostId,
        lines: Vec<AppLine>,
    },
    /// A note with escaped text.
    Note {
        span: Span,
        text: String,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Item {
    time: SimTime,
    kind: ItemKind,
}

pub(super) struct Renderer<'a> {
    topo: &'a Topology,
    options: &'a MermaidOptions,
    selector: Option<Selector>,
    seqs: SeqTracker,
    /// The last window announced in each direction.
    windows: BTreeMap<Flow, u32>,
    /// Whether each socket belongs to a selected connection (only kept when
    /// a connection is selected).
    selected_sockets: BTreeMap<(HostId, SocketId), bool>,
    /// When each socket entered TIME-WAIT.
    time_wait_since: BTreeMap<(HostId, SocketId), SimTime>,
    /// The arrow of every frame drawn, by frame id.
    frames: BTreeMap<FrameId, usize>,
    /// The WebSocket frames that start in each packet
    /// ([`crate::websocket::frame_labels`]).
    ws_labels: BTreeMap<FrameId, Vec<String>>,
    /// TLS records each packet completes ([`crate::tls::record_labels`]).
    tls_labels: BTreeMap<FrameId, Vec<String>>,
    /// Some packets were traced without their payload
    /// (`Capture::Headers`), so HTTP and WebSocket labels may be missing.
    payloads_missing: bool,
    items: Vec<Item>,
    events_shown: usize,
    /// The first event left out because of `max_events`.
    cut_at: Option<SimTime>,
}

impl<'a> Renderer<'a> {
    fn new(topo: &'a Topology, options: &'a MermaidOptions) -> Renderer<'a> {
        Renderer {
            topo,
            options,
            selector: options.connection.as_ref().map(|c| c.resolve(topo)),
            seqs: SeqTracker::new(),
            windows: BTreeMap::new(),
            selected_sockets: BTreeMap::new(),
            time_wait_since: BTreeMap::new(),
            frames: BTreeMap::new(),
            ws_labels: BTreeMap::new(),
            tls_labels: BTreeMap::new(),
            payloads_missing: false,
            items: Vec::new(),
            events_shown: 0,
            cut_at: None,
        }
    }

    fn in_window(&self, time: SimTime) -> bool {
        self.options.from.is_none_or(|f| time >= f) && self.options.until.is_none_or(|u| time <= u)
    }

    /// Admits one event that passed the filters, unless the limit is reached.
    fn admit(&mut self, time: SimTime) -> bool {
        if self
            .options
            .max_events
            .is_some_and(|m| self.events_shown >= m)
        {
            self.cut_at.get_or_insert(time);
            return false;
        }
        self.events_shown += 1;
        true
    }

    fn host_addr(&self, host: HostId) -> Option<Ipv4Addr> {
        self.topo.hosts.get(host.0 as usize).map(|h| h.addr)
    }

    fn push(&mut self, time: SimTime, kind: ItemKind) -> usize {
        self.items.push(Item { time, kind });
        self.items.len() - 1
    }

    /// A note over a NAT router (whole diagrams only: a NAT event belongs
    /// to no one connection).
    fn nat_note(&mut self, time: SimTime, router: HostId, text: String) {
        if self.selector.is_none() && self.in_window(time) && self.admit(time) {
            let text = escape_text(&text);
            self.push(
                time,
                ItemKind::Note {
                    span: Span::Host(router),
                    text,
                },
            );
        }
    }

    fn arrow_mut(&mut self, frame: FrameId) -> Option<&mut Arrow> {
        let index = *self.frames.get(&frame)?;
        match &mut self.items.get_mut(index)?.kind {
            ItemKind::Arrow(a) => Some(a),
            _ => None,
        }
    }

    fn event(&mut self, time: SimTime, event: &TraceEvent) {
        match event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                bytes,
                len,
                ..
            } => self.packet(time, *frame, *from, *to, bytes, *len as usize),
            TraceEvent::FrameForwarded {
                frame,
                router,
                to,
                bytes,
                len,
                ..
            } => {
                // The hop into the router ends there; the next hop is an
                // arrow of its own that the frame's later events annotate.
                if let Some(a) = self.arrow_mut(*frame)
                    && a.fate == Fate::InFlight
                {
                    a.fate = Fate::Delivered;
                }
                self.packet(time, *frame, *router, Some(*to), bytes, *len as usize);
            }
            TraceEvent::FrameEnqueued {
                frame, queue_bytes, ..
            } => {
                if *queue_bytes > 0
                    && let Some(a) = self.arrow_mut(*frame)
                {
                    a.remarks.push(format!("queued behind {queue_bytes} bytes"));
                }
            }
            TraceEvent::FrameDequeued { frame, waited, .. } => {
                if !waited.is_zero()
                    && let Some(a) = self.arrow_mut(*frame)
                {
                    a.remarks.push(format!("waited {waited} in the queue"));
                }
            }
            TraceEvent::NatMapped {
                router,
                proto,
                inside,
                outside,
                ..
            } => {
                let proto = crate::text::proto_name(*proto);
                self.nat_note(time, *router, format!("NAT: {proto} {inside} is {outside}"));
            }
            TraceEvent::NatExpired {
                router,
                proto,
                inside,
                outside,
                ..
            } => {
                let proto = crate::text::proto_name(*proto);
                let text = format!("NAT forgot {proto} {inside} ({outside}): idle too long");
                self.nat_note(time, *router, text);
            }
            TraceEvent::FrameQueued {
                frame, queue_bytes, ..
            } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.remarks.push(format!("queued behind {queue_bytes} bytes"));
                }
            }
            TraceEvent::FrameDelayed { frame, by, cause } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.remarks.push(match cause {
                        DelayCause::Reorder => format!("reordered +{by}"),
                        DelayCause::Fault => format!("delayed +{by} by a fault"),
                    });
                }
            }
            TraceEvent::FrameCorrupted { frame, bit } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.remarks.push(format!("bit {bit} flipped"));
                }
            }
            TraceEvent::FrameDuplicated { frame, copy } => {
                if let Some(original) = self.arrow_mut(*frame) {
                    let mut arrow = original.clone();
                    arrow.label = format!("duplicate: {}", arrow.label);
                    arrow.remarks.clear();
                    arrow.fate = Fate::InFlight;
                    arrow.copy = true;
                    let index = self.push(time, ItemKind::Arrow(arrow));
                    self.frames.insert(*copy, index);
                }
            }
            TraceEvent::FrameDropped { frame, reason, .. } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.fate = Fate::Dropped(*reason);
                }
            }
            TraceEvent::FrameDelivered { frame, .. } => {
                if let Some(a) = self.arrow_mut(*frame)
                    && a.fate == Fate::InFlight
                {
                    a.fate = Fate::Delivered;
                }
            }
            TraceEvent::FrameDiscarded {
                frame,
                host,
                reason,
            } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.fate = Fate::Discarded(*host, *reason);
                }
            }
            TraceEvent::FaultMatched {
                frame, description, ..
            } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    let span = match a.to {
                        Some(to) if to != a.from => Span::Pair(a.from, to),
                        _ => Span::Host(a.from),
                    };
                    let text = escape_text(&format!("fault: {}", truncate_chars(description, 100)));
                    self.push(time, ItemKind::Note { span, text });
                }
            }
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote,
                from,
                to,
                reason,
            } => self.tcp_state(time, *host, *socket, *local, *remote, (*from, *to), *reason),
            TraceEvent::DataLost {
                host,
                socket,
                cause,
                unread,
                unacked,
            } => {
                let selected = self.selector.is_none() || self.socket_selected(*host, *socket);
                if selected && self.in_window(time) && self.admit(time) {
                    let mut parts = Vec::new();
                    if let Some((_, bytes)) = unread {
                        parts.push(format!("{bytes} received bytes never read"));
                    }
                    if let Some((_, bytes)) = unacked {
                        parts.push(format!("{bytes} written bytes never acknowledged"));
                    }
                    let text = escape_text(&format!("data lost ({cause}): {}", parts.join(", ")));
                    self.push(
                        time,
                        ItemKind::Note {
                            span: Span::Host(*host),
                            text,
                        },
                    );
                }
            }
            TraceEvent::SocketCall {
                host, socket, call, ..
            } => self.socket_call(time, *host, *socket, call),
            TraceEvent::App { event, .. } if event.is_secret() => {}
            TraceEvent::App { host, event, .. } => {
                let selected = match (self.selector, event.socket) {
                    (None, _) => true,
                    (Some(_), Some(s)) => self.socket_selected(*host, s),
                    (Some(_), None) => false,
                };
                if selected && self.in_window(time) && self.admit(time) {
                    let line =
                        AppLine::Text(escape_text(&truncate_chars(&event.summary.text(), 100)));
                    self.app_line(time, *host, line);
                }
            }
            TraceEvent::Action { description } => {
                if self.in_window(time) && self.admit(time) {
                    let text =
                        escape_text(&format!("timeline: {}", truncate_chars(description, 100)));
                    self.push(
                        time,
                        ItemKind::Note {
                            span: Span::All,
                            text,
                        },
                    );
                }
            }
            TraceEvent::RunEnded { reason } => {
                if self.in_window(time) && self.admit(time) {
                    let text = escape_text(&format!("run ended: {}", reason.describe(self.topo)));
                    self.push(
                        time,
                        ItemKind::Note {
                            span: Span::All,
                            text,
                        },
                    );
                }
            }
        }
    }

    fn packet(
        &mut self,
        time: SimTime,
        frame: FrameId,
        from: HostId,
        to: Option<HostId>,
        bytes: &[u8],
        len: usize,
    ) {
        // Sequence numbers and windows are tracked for every packet, shown or
        // not, so a filtered diagram numbers segments as the full one does;
        // so is whether payloads were kept.
        self.payloads_missing |= bytes.len() < len;
        let info = PacketInfo::parse_captured(bytes, len);
        let tcp_view = info.as_ref().and_then(|info| {
            let tcp = info.tcp()?;
            let rel = self.seqs.observe(info.src, info.dst, tcp);
            let flow = (
                SocketAddrV4::new(info.src, tcp.src_port),
                SocketAddrV4::new(info.dst, tcp.dst_port),
            );
            // A shut window is worth repeating: it is why the sender waits.
            let window_changed =
                self.windows.insert(flow, rel.window) != Some(rel.window) || rel.window == 0;
            Some((rel, window_changed, flow))
        });
        if !self.in_window(time) {
            return;
        }
        let endpoints = info.as_ref().map(|i| [i.src_endpoint(), i.dst_endpoint()]);
        if let Some(sel) = self.selector
            && !endpoints.is_some_and(|e| sel.matches_any(&e))
        {
            return;
        }
        if !self.admit(time) {
            return;
        }
        let (label, conversation, ports) = match &info {
            None => (format!("undecodable frame ({len} bytes)"), None, None),
            Some(info) => {
                let mut label = match &info.transport {
                    Transport::Tcp(tcp) => match tcp_view {
                        Some((rel, window_changed, flow)) => {
                            self.tcp_label(tcp, rel, window_changed, flow)
                        }
                        None => format!("TCP len={}", tcp.payload_len),
                    },
                    Transport::Udp(udp) => format!("UDP len={}", udp.payload_len),
                    Transport::Icmp { icmp_type, code } => {
                        crate::text::icmp_message(*icmp_type, *code)
                    }
                    Transport::Other { protocol } => {
                        format!("IP protocol {protocol} len={}", info.ip_len)
                    }
                };
                label = escape_text(&label);
                if let Some(line) = http_first_line(info.payload(bytes)) {
                    let _ = write!(label, "<br/>{}", escape_text(&line));
                } else if let Some(frames) = self.ws_labels.get(&frame) {
                    for f in frames {
                        let _ = write!(label, "<br/>{}", escape_text(f));
                    }
                } else if let Some(records) = self.tls_labels.get(&frame) {
                    for r in records {
                        let _ = write!(label, "<br/>{}", escape_text(r));
                    }
                }
                let (src, dst) = (info.src_endpoint(), info.dst_endpoint());
                let conversation = src.zip(dst).map(|(a, b)| (a.min(b), a.max(b)));
                let ports = src.zip(dst).map(|(a, b)| (a.port(), b.port()));
                (label, conversation, ports)
            }
        };
        let arrow = Arrow {
            from,
            to,
            dst_addr: info.as_ref().map(|i| i.dst),
            conversation,
            ports,
            label,
            remarks: Vec::new(),
            fate: Fate::InFlight,
            copy: false,
        };
        let index = self.push(time, ItemKind::Arrow(arrow));
        self.frames.insert(frame, index);
    }

    fn tcp_label(
        &self,
        tcp: &TcpHeader,
        rel: crate::relative::RelativeHeader,
        window_changed: bool,
        flow: Flow,
    ) -> String {
        let mut s = tcp.flags.words();
        if s.is_empty() {
            s.push_str("no flags");
        }
        let _ = write!(s, " seq={}", rel.seq);
        if let Some(ack) = rel.ack {
            let _ = write!(s, " ack={ack}");
        }
        if tcp.payload_len > 0 {
            let _ = write!(s, " len={}", tcp.payload_len);
        }
        if window_changed {
            let _ = write!(s, " win={}", rel.window);
        }
        self.seqs
            .write_options(&mut s, &tcp.options, (flow.1, flow.0));
        s
    }

    fn socket_selected(&self, host: HostId, socket: SocketId) -> bool {
        self.selected_sockets
            .get(&(host, socket))
            .copied()
            .unwrap_or(false)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_state(
        &mut self,
        time: SimTime,
        host: HostId,
        socket: SocketId,
        local: SocketAddrV4,
        remote: Option<SocketAddrV4>,
        (from, to): (TcpState, TcpState),
        reason: Option<simnet_core::socket::CloseReason>,
    ) {
        let key = (host, socket);
        let entered_time_wait = self.time_wait_since.get(&key).copied();
        if to == TcpState::TimeWait {
            self.time_wait_since.insert(key, time);
        } else {
            self.time_wait_since.remove(&key);
        }
        if let Some(sel) = self.selector {
            let selected = sel.matches_any(&[Some(local), remote]);
            self.selected_sockets.insert(key, selected);
            if !selected {
                return;
            }
        }
        // Arming a listening socket is bookkeeping: the listen() call says it.
        if from == TcpState::Closed && to == TcpState::Listen {
            return;
        }
        if !self.in_window(time) || !self.admit(time) {
            return;
        }
        let mut remark = reason.map(|r| escape_text(&format!("({r})")));
        if from == TcpState::TimeWait
            && to == TcpState::Closed
            && let Some(since) = entered_time_wait
        {
            let held = time - since;
            remark = Some(escape_text(&match reason {
                // A RST ended the wait early (RFC 1337's TIME-WAIT assassination).
                Some(simnet_core::socket::CloseReason::Reset) => {
                    format!("(TIME-WAIT cut short by an RST after {held})")
                }
                Some(simnet_core::socket::CloseReason::TimedOut) => {
                    format!("(TIME-WAIT cut short by the user timeout after {held})")
                }
                Some(r) => format!("({r} after {held} in TIME-WAIT)"),
                None => format!("(after {held} in TIME-WAIT)"),
            }));
        }
        if let Some(Item {
            time: t,
            kind:
                ItemKind::State {
                    host: h,
                    socket: s,
                    chain,
                    remark: r,
                    ..
                },
        }) = self.items.last_mut()
            && *t == time
            && *h == host
            && *s == socket
            && r.is_none()
            && chain.last() == Some(&from)
        {
            chain.push(to);
            *r = remark;
            return;
        }
        self.push(
            time,
            ItemKind::State {
                host,
                socket,
                port: local.port(),
                chain: vec![from, to],
                remark,
            },
        );
    }

    fn socket_call(
        &mut self,
        time: SimTime,
        host: HostId,
        socket: Option<SocketId>,
        call: &SocketCall,
    ) {
        if let Some(sel) = self.selector {
            let local = |port: u16| self.host_addr(host).map(|a| SocketAddrV4::new(a, port));
            let known = socket.is_some_and(|s| self.socket_selected(host, s));
            let selected = match call {
                SocketCall::Connect { remote, local_port } => {
                    sel.matches_any(&[Some(*remote), local(*local_port)])
                }
                SocketCall::Listen { port, .. } | SocketCall::Bind { port } => {
                    sel.matches_any(&[local(*port)])
                }
                SocketCall::Accept { remote } => known || sel.matches(*remote),
                SocketCall::SendTo { dst, .. } => known || sel.matches(*dst),
                SocketCall::RecvFrom { src, .. } => known || sel.matches(*src),
                _ => known,
            };
            if let Some(s) = socket
                && matches!(
                    call,
                    SocketCall::Connect { .. }
                        | SocketCall::Bind { .. }
                        | SocketCall::Listen { .. }
                )
            {
                self.selected_sockets.insert((host, s), selected);
            }
            if !selected {
                return;
            }
        }
        // A send the full buffer refused entirely changes nothing on the wire;
        // the partial send before it already says the buffer is full.
        if matches!(call, SocketCall::Send { accepted: 0, .. }) {
            return;
        }
        if !self.in_window(time) || !self.admit(time) {
            return;
        }
        let line = match (call, socket) {
            (SocketCall::Recv { bytes, preview }, Some(socket)) => AppLine::Recv {
                socket,
                bytes: *bytes,
                reads: 1,
                preview: preview_text(preview, *bytes).map(|p| escape_text(&p)),
            },
            _ => AppLine::Text(escape_text(&describe_call(call))),
        };
        self.app_line(time, host, line);
    }

    /// Adds a line to the application note of `host` at `time`, or starts one.
    fn app_line(&mut self, time: SimTime, host: HostId, line: AppLine) {
        if let Some(Item {
            time: t,
            kind: ItemKind::App { host: h, lines },
        }) = self.items.last_mut()
            && *t == time
            && *h == host
        {
            if let (
                AppLine::Recv { socket, bytes, .. },
                Some(AppLine::Recv {
                    socket: last_socket,
                    bytes: total,
                    reads,
                    ..
                }),
            ) = (&line, lines.last_mut())
                && socket == last_socket
            {
                *total += bytes;
                *reads += 1;
                return;
            }
            lines.push(line);
            return;
        }
        self.push(
            time,
            ItemKind::App {
                host,
                lines: vec![line],
            },
        );
    }

    fn finish(mut self, last_time: Option<SimTime>) -> String {
        if let Some(cut) = self.cut_at {
            let max = self.options.max_events.unwrap_or(0);
            let end = last_time.unwrap_or(cut);
            let text = escape_text(&format!(
                "diagram cut after {max} events (max_events), the trace goes on from t = {} to t = {}",
                cut.since_start(),
                end.since_start()
            ));
            // Drawn under the last event shown, without a time of its own.
            let time = self.items.last().map_or(cut, |i| i.time);
            self.push(
                time,
                ItemKind::Note {
                    span: Span::All,
                    text,
                },
            );
        }
        // Timeline actions and the end of the run are always drawn; when they
        // are all there is, say why the diagram is otherwise empty.
        let only_global = self.items.iter().all(|i| {
            matches!(
                i.kind,
                ItemKind::Note {
                    span: Span::All,
                    ..
                }
            )
        });
        if only_global {
            let text = if self.options == &MermaidOptions::default() {
                "no packets, states or socket calls in this trace".to_string()
            } else {
                escape_text(&format!(
                    "nothing to show ({})",
                    describe_options(self.options)
                ))
            };
            let time = self.items.first().map_or(SimTime::ZERO, |i| i.time);
            let note = Item {
                time,
                kind: ItemKind::Note {
                    span: Span::All,
                    text,
                },
            };
            self.items.insert(0, note);
        }
        if self.payloads_missing {
            let note = Item {
                time: self.items.first().map_or(SimTime::ZERO, |i| i.time),
                kind: ItemKind::Note {
                    span: Span::All,
                    text: "packets traced without payloads (Capture::Headers): \
                           no HTTP or WebSocket labels"
                        .to_string(),
                },
            };
            self.items.insert(0, note);
        }
        let participants = self.participants();
        let multi = self
            .items
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Arrow(a) => a.conversation,
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .len()
            > 1;

        let mut out = String::from("sequenceDiagram\n");
        if *self.options != MermaidOptions::default() {
            let _ = writeln!(
                out,
                "    %% simnet diagram limited to {}",
                escape_text(&describe_options(self.options))
            );
        }
        for (id, label) in participants.values() {
            let _ = writeln!(out, "    participant {id} as {label}");
        }
        let Some(first) = participants.values().next().map(|(id, _)| id.clone()) else {
            // No hosts at all: nothing can be drawn on a lifeline.
            return out;
        };
        let last = participants
            .values()
            .last()
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| first.clone());
        let id = |h: HostId| -> &str {
            participants
                .get(&h)
                .map(|(id, _)| id.as_str())
                .unwrap_or(first.as_str())
        };
        let all = if first == last {
            first.clone()
        } else {
            format!("{first},{last}")
        };

        let mut shown_time = None;
        for item in &self.items {
            if shown_time != Some(item.time) {
                shown_time = Some(item.time);
                let _ = writeln!(
                    out,
                    "    Note left of {first}: t = {}",
                    item.time.since_start()
                );
            }
            match &item.kind {
                ItemKind::Arrow(a) => {
                    let mut text = String::new();
                    if multi && let Some((sp, dp)) = a.ports {
                        let _ = write!(text, ":{sp} → :{dp} ");
                    }
                    text.push_str(&a.label);
                    for r in &a.remarks {
                        let _ = write!(text, " ({})", escape_text(r));
                    }
                    match a.fate {
                        Fate::Delivered => {}
                        Fate::InFlight => text.push_str(" (still in flight when the trace ends)"),
                        Fate::Dropped(reason) => {
                            let _ = write!(text, " (dropped: {reason})");
                        }
                        Fate::Discarded(host, reason) => {
                            let _ = write!(
                                text,
                                " (discarded by {}: {reason})",
                                escape_text(self.topo.host_name(host))
                            );
                        }
                    }
                    let arrow = match (a.fate, a.copy) {
                        (Fate::Delivered, false) => "->>",
                        (Fate::Delivered, true) => "-->>",
                        (Fate::Dropped(_) | Fate::Discarded(..), false) => "-x",
                        (Fate::Dropped(_) | Fate::Discarded(..), true) => "--x",
                        (Fate::InFlight, false) => "-)",
                        (Fate::InFlight, true) => "--)",
                    };
                    match a.to {
                        Some(to) => {
                            let _ = writeln!(out, "    {}{arrow}{}: {text}", id(a.from), id(to));
                        }
                        None => {
                            let dst = a.dst_addr.map(|d| d.to_string()).unwrap_or_default();
                            let _ = writeln!(out, "    Note over {}: to {dst}, {text}", id(a.from));
                        }
                    }
                }
                ItemKind::State {
                    host,
                    port,
                    chain,
                    remark,
                    ..
                } => {
                    let mut text = String::new();
                    if multi {
                        let _ = write!(text, ":{port} ");
                    }
                    let names: Vec<&str> = chain.iter().map(|s| s.as_str()).collect();
                    text.push_str(&names.join(" → "));
                    if let Some(r) = remark {
                        let _ = write!(text, " {r}");
                    }
                    let _ = writeln!(out, "    Note over {}: {text}", id(*host));
                }
                ItemKind::App { host, lines } => {
                    let lines: Vec<String> = lines
                        .iter()
                        .map(|l| match l {
                            AppLine::Text(t) => t.clone(),
                            AppLine::Recv {
                                bytes,
                                reads,
                                preview,
                                ..
                            } => {
                                let mut s = format!("recv {bytes} bytes");
                                if *reads > 1 {
                                    let _ = write!(s, " ({reads} reads)");
                                } else if let Some(p) = preview {
                                    let _ = write!(s, " {p}");
                                }
                                s
                            }
                        })
                        .collect();
                    let _ = writeln!(out, "    Note over {}: {}", id(*host), lines.join("<br/>"));
                }
                ItemKind::Note { span, text } => {
                    let over = match span {
                        Span::Host(h) => id(*h).to_string(),
                        Span::Pair(a, b) => format!("{},{}", id(*a), id(*b)),
                        Span::All => all.clone(),
                    };
                    let _ = writeln!(out, "    Note over {over}: {text}");
                }
            }
        }
        out
    }

    /// The participants to declare, by host: (id, escaped label).
    fn participants(&self) -> BTreeMap<HostId, (String, String)> {
        let mut used = BTreeSet::new();
        for item in &self.items {
            match &item.kind {
                ItemKind::Arrow(a) => {
                    used.insert(a.from);
                    used.extend(a.to);
                }
                ItemKind::State { host, .. } | ItemKind::App { host, .. } => {
                    used.insert(*host);
                }
                ItemKind::Note { span, .. } => match span {
                    Span::Host(h) => {
                        used.insert(*h);
                    }
                    Span::Pair(a, b) => {
                        used.insert(*a);
                        used.insert(*b);
                    }
                    Span::All => {}
                },
            }
        }
        if used.is_empty() {
            used = (0..self.topo.hosts.len())
                .map(|i| HostId(i as u32))
                .collect();
        }
        let mut taken = BTreeSet::new();
        let mut out = BTreeMap::new();
        for host in used {
            let (name, label) = match self.topo.hosts.get(host.0 as usize) {
                Some(info) => (
                    info.name.clone(),
                    format!("{}<br/>{}", escape_text(&info.name), info.addr),
                ),
                None => (String::new(), escape_text(&format!("host #{}", host.0))),
            };
            let id = participant_id(&name, host.0, &taken);
            taken.insert(id.clone());
            out.insert(host, (id, label));
        }
        out
    }
}

//! What a trace means, connection by connection: derived facts, not pictures.
//!
//! From the packets on the wire (and when they were delivered) this module
//! works out, for every TCP connection: its two directions, every data
//! segment with its relative sequence range, which segments were
//! retransmissions, keepalive or window probes, every acknowledgement with
//! the window it advertised, duplicate ACKs, zero-window periods, bytes in
//! flight and goodput over time ([`goodput`]); for every bandwidth-limited
//! link direction, its queue occupancy and drops over time; and for every
//! link direction where frames waited in a queue (a bottleneck, see
//! [`Bottleneck`]), each frame's queueing delay, its drops by reason, the
//! flows that crossed it and Jain's fairness index of their goodputs.
//!
//! A packet that routers forward is one packet: its
//! [`TraceEvent::PacketSent`] at the host that sent it makes it a segment
//! of its connection, and each [`TraceEvent::FrameForwarded`] only moves it
//! onto its next link (its queue, its drops, the flows that cross it).
//! Behind a NAT, the two ends see different addresses: the packets the
//! outside sends to the NAT's address and port are read as sent to the
//! inside endpoint the NAT mapped them to ([`TraceEvent::NatMapped`]), so a
//! connection is one connection, between the inside host and the remote
//! one, on both sides of the NAT.
//!
//! The summary, the plots, the CSV export and the expectations all read these
//! series, so they agree on what a retransmission is. The rules are the ones
//! Wireshark uses: a connection starts with a SYN (a new SYN on a 4-tuple
//! starts a new one, except the other end's SYN crossing the first: a
//! simultaneous open is one connection, and a SYN-ACK with another ISN than
//! its sender's, answering a SYN that arrived late, starts one too);
//! sequence numbers are relative to each direction's first;
//! a segment that carries nothing beyond what was already sent is a
//! retransmission, unless it is a keepalive probe (one old byte) or a window
//! probe (one new byte into a zero window).
//!
//! [`Analyzer`] does the work as the events come ([`TraceSink`]), so a run
//! streamed to it ([`World::stream_to`](crate::World::stream_to)) gives the
//! same [`Analysis`] as [`analyze`] on its stored trace (which replays the
//! trace into one). [`Analyzer::counts_only`] keeps every per-connection
//! number (packets, bytes, retransmissions, duplicate ACKs, window probes,
//! zero-window periods, handshake, who closed, the last states, start and
//! end, goodput's first data and covering ACK, goodput per bucket) and the
//! bottlenecks' statistics but none of the per-packet series, so its memory
//! grows with the number of connections (and the goodput buckets, at most
//! [`goodput::MAX_BUCKETS`] a flow, kept only where goodput over time can
//! be shown: with a router, an active queue or a bandwidth limit), not
//! with the number of packets.

use crate::link::DropReason;
use crate::packet::{FrameId, PacketInfo, TcpHeader, Transport, TupleKey};
use crate::socket::HostId;
use crate::time::{SimDuration, SimTime};
use crate::trace::{Topology, Trace, TraceEvent, TraceRecord, TraceSink};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

mod bottleneck;
pub mod goodput;

pub use bottleneck::{Bottleneck, DelayStats, SharedFlow, drop_tail_delay, jain_index};
use bottleneck::{DirKey, Queues};
use goodput::{Buckets, Clock};

/// Everything derived from one trace.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// TCP connections in the order they started.
    pub connections: Vec<Connection>,
    /// Bandwidth-limited link directions that carried frames.
    pub links: Vec<LinkSeries>,
    /// The link directions where frames waited in a queue, in the order
    /// of their sender and receiver ([`bottleneck`](Bottleneck)'s rules),
    /// in both modes (their delay and drop series in the full mode only).
    pub bottlenecks: Vec<Bottleneck>,
    /// The width of the buckets of every [`Flow::goodput`]
    /// ([`goodput`]: 100 ms, doubled as often as needed to keep a run
    /// within [`goodput::MAX_BUCKETS`] buckets).
    pub goodput_bucket: SimDuration,
    /// Whether the topology has a router or an active queue (a link
    /// direction whose queue discipline is not drop-tail), or the trace an
    /// active queue's event: the outputs show goodput over time and the
    /// bottlenecks only then, so that a run of hosts joined by drop-tail
    /// links reads as it always did.
    pub show_bottlenecks: bool,
}

/// One TCP connection.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Position in [`Analysis::connections`], from 1.
    pub number: usize,
    /// The side that sent the SYN (the first of the two, when both ends
    /// opened at once and their SYNs crossed).
    pub client: SocketAddrV4,
    /// The other side.
    pub server: SocketAddrV4,
    /// The client's host, if the address belongs to one.
    pub client_host: Option<HostId>,
    /// The server's host.
    pub server_host: Option<HostId>,
    /// When its first packet was sent.
    pub start: SimTime,
    /// When its last packet was sent.
    pub end: SimTime,
    /// From the first SYN to the client's ACK of the SYN-ACK (the connect latency).
    pub handshake: Option<crate::time::SimDuration>,
    /// Which side sent the first FIN.
    pub first_fin: Option<Side>,
    /// Which side sent the first RST.
    pub first_rst: Option<Side>,
    /// The client socket's last state.
    pub client_state: Option<crate::socket::TcpState>,
    /// The server socket's last state.
    pub server_state: Option<crate::socket::TcpState>,
    /// Data from client to server, and the server's acknowledgements of it.
    pub to_server: Flow,
    /// Data from server to client, and the client's acknowledgements of it.
    pub to_client: Flow,
}

/// One side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The side that sent the SYN.
    Client,
    /// The other side.
    Server,
}

impl Connection {
    /// The direction that carried more data.
    pub fn main_flow(&self) -> &Flow {
        if self.to_client.bytes > self.to_server.bytes {
            &self.to_client
        } else {
            &self.to_server
        }
    }
}

/// One direction of a connection: the sender's segments and the receiver's ACKs.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    /// Segments that occupy sequence space, in sending order.
    pub segments: Vec<Segment>,
    /// The receiver's acknowledgements of this direction, in sending order.
    pub acks: Vec<AckPoint>,
    /// Bytes sent and not yet acknowledged, as the sender saw it: updated
    /// when it sends and when an ACK reaches it.
    pub in_flight: Vec<(SimTime, u64)>,
    /// Periods during which the receiver advertised a zero window
    /// (`None` end: still closed when the trace ended).
    pub zero_windows: Vec<(SimTime, Option<SimTime>)>,
    /// Distinct payload bytes (highest data sequence number reached).
    pub bytes: u64,
    /// Payload bytes including retransmissions.
    pub bytes_sent: u64,
    /// Segments sent (data, control or pure ACKs) by this direction's sender.
    pub packets: u64,
    /// Goodput over time ([`goodput`]): `(bucket start, bytes of data first
    /// acknowledged in that bucket)` for the buckets of
    /// [`Analysis::goodput_bucket`] that count any, in time order; filled
    /// by [`Analyzer::finish`], in both modes.
    pub goodput: Vec<(SimTime, u64)>,
    /// The counters behind the methods below, kept in both modes.
    counts: FlowCounts,
}

/// What a [`Flow`] counts as it goes, so that its numbers do not need its
/// series ([`Analyzer::counts_only`] keeps none).
#[derive(Clone, Debug, Default)]
struct FlowCounts {
    retransmissions: usize,
    window_probes: usize,
    duplicate_acks: usize,
    zero_windows: usize,
    /// When the first segment with payload was sent.
    first_data: Option<SimTime>,
    /// One past the highest relative sequence number a segment with payload
    /// covered.
    data_top: Option<u32>,
    /// ACKs that cover `data_top`, in sending order, each acknowledging more
    /// than the one before (a later ACK acknowledging no more than an earlier
    /// one never becomes the first to cover a higher top): in practice one or
    /// two.
    covering: Vec<(SimTime, u32)>,
    /// When the latest ACK was sent.
    last_ack: Option<SimTime>,
    /// When the latest segment with payload (a keepalive probe aside) was sent.
    last_data: Option<SimTime>,
    /// Bytes of data acknowledged ([`goodput`]), in total and per bucket.
    acked_data: u64,
    goodput: Buckets,
    /// When the latest ACK that acknowledged new data was sent.
    last_advance: Option<SimTime>,
    /// The link directions its segments with payload were put on (by the
    /// sender or by routers): a few.
    hops: Vec<DirKey>,
}

/// Whether a relative acknowledgement number covers sequence number `top`.
fn covers(ack: u32, top: u32) -> bool {
    ack.wrapping_sub(top) as i32 >= 0
}

impl Flow {
    /// Retransmitted segments.
    pub fn retransmissions(&self) -> usize {
        self.counts.retransmissions
    }

    /// Duplicate ACKs the receiver sent.
    pub fn duplicate_acks(&self) -> usize {
        self.counts.duplicate_acks
    }

    /// Window probes the sender sent.
    pub fn window_probes(&self) -> usize {
        self.counts.window_probes
    }

    /// Zero-window periods (the length of [`Flow::zero_windows`] in the full
    /// mode, counted in both).
    pub fn zero_window_periods(&self) -> usize {
        self.counts.zero_windows
    }

    /// When the first segment with payload was sent, and when the receiver
    /// sent the first ACK that covered every payload byte (or its last ACK,
    /// if none did): the span goodput is measured over. `None` without
    /// payload or without an ACK.
    pub fn data_span(&self) -> Option<(SimTime, SimTime)> {
        let first = self.counts.first_data?;
        let acked = self
            .counts
            .covering
            .first()
            .map(|&(t, _)| t)
            .or(self.counts.last_ack)?;
        Some((first, acked))
    }

    /// Bytes of its data acknowledged: each payload byte once, when the
    /// receiver first acknowledged it ([`goodput`]).
    pub fn acked_bytes(&self) -> u64 {
        self.counts.acked_data
    }

    /// When it was transferring data: from its first segment with payload
    /// to the later of its last one (keepalive probes aside) and the last
    /// ACK that acknowledged new data. `None` without payload.
    pub fn active_span(&self) -> Option<(SimTime, SimTime)> {
        let first = self.counts.first_data?;
        let last = self.counts.last_data.max(self.counts.last_advance)?;
        Some((first, last))
    }
}

/// A segment that occupies sequence space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// When it was sent.
    pub time: SimTime,
    /// The frame.
    pub frame: FrameId,
    /// First relative sequence number it covers.
    pub start: u32,
    /// One past the last.
    pub end: u32,
    /// Payload bytes.
    pub len: u32,
    /// What it is.
    pub kind: SegmentKind,
}

/// What a segment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// New data (or a SYN or FIN sent for the first time).
    New,
    /// Nothing beyond what was already sent.
    Retransmission,
    /// One already-acknowledged byte, sent to make an idle peer answer.
    KeepAlive,
    /// One new byte sent into a zero window.
    WindowProbe,
}

/// An acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckPoint {
    /// When the receiver sent it.
    pub time: SimTime,
    /// Relative acknowledgement number.
    pub ack: u32,
    /// Advertised window, in bytes.
    pub window: u32,
    /// A duplicate ACK as RFC 5681 section 2 defines it: no payload, no SYN
    /// or FIN, the same ACK number and window as the previous one, while data
    /// was outstanding.
    ///
    /// An ACK answering a window probe while the window stays shut is one:
    /// the probe's byte was sent and not acknowledged (it is outstanding,
    /// and the sender sends it again when the window opens), the ACK number
    /// does not move and the window is still 0, so all five conditions hold.
    /// Stacks that probe with a zero-length segment below SND.UNA (Linux)
    /// have nothing outstanding and get no duplicate ACKs from probing.
    pub duplicate: bool,
}

/// Queue occupancy and drops on one direction of a bandwidth-limited link.
#[derive(Clone, Debug)]
pub struct LinkSeries {
    /// Sender.
    pub from: HostId,
    /// Receiver.
    pub to: Option<HostId>,
    /// Bytes queued or being serialised, after every change.
    pub queue: Vec<(SimTime, u64)>,
    /// Drops with their reasons.
    pub drops: Vec<(SimTime, DropReason)>,
}

type Tuple = (SocketAddrV4, SocketAddrV4);

/// A link direction: sender and receiver.
type LinkKey = (HostId, Option<HostId>);

fn canonical(a: SocketAddrV4, b: SocketAddrV4) -> Tuple {
    if (a.ip(), a.port()) <= (b.ip(), b.port()) {
        (a, b)
    } else {
        (b, a)
    }
}

#[derive(Default)]
struct FlowState {
    isn: Option<u32>,
    data_base: u32,
    max_end: u32,
    max_data_end: u32,
    /// Highest ACK the sender has received (delivered to it).
    acked: Option<u32>,
    last_ack: Option<(u32, u32)>,
    window_zero_since: Option<SimTime>,
    /// Window the receiver advertised most recently.
    window: Option<u32>,
    /// Window scale the sender announced in its SYN.
    announced_scale: Option<u8>,
    /// The sender has sent a SYN-ACK.
    synack_sent: bool,
    /// The relative sequence number up to which acknowledged data was
    /// counted as goodput.
    counted: Option<u32>,
}

struct ConnState {
    conn: Connection,
    fwd: FlowState,
    rev: FlowState,
    synack_seen: bool,
    /// Nothing but the client's SYN (without ACK) has been sent: a SYN
    /// from the server's side now crosses it (a simultaneous open).
    opening: bool,
    /// The socket of each side (client, server), once a state change named it.
    sockets: [Option<(HostId, crate::socket::SocketId)>; 2],
}

/// Analyses a trace: [`Analyzer::new`] fed every record ([`Trace::replay`]).
pub fn analyze(trace: &Trace) -> Analysis {
    let mut analyzer = Analyzer::new();
    trace.replay(&mut analyzer);
    analyzer.finish()
}

/// The analysis, built record by record: a [`TraceSink`] that folds the
/// events into per-connection state as they come. [`analyze`] is this fed a
/// stored trace; a run streamed to one gives the same [`Analysis`].
///
/// What it holds while running: per connection, its [`Connection`] and a few
/// dozen bytes of sequence state; per socket and 4-tuple, an index; per
/// frame still in flight, its ACK (removed when it arrives or is dropped);
/// per bandwidth-limited link direction, the frames in its queue; per flow,
/// its goodput buckets (at most [`goodput::MAX_BUCKETS`]) and the link
/// directions its data crossed; per link direction, a histogram of
/// queueing delays and its drop counts; per frame in an active queue, its
/// direction, and in a topology with routers, per data frame in flight,
/// its flow. In the full mode ([`Analyzer::new`]) the series (segments,
/// ACKs, bytes in flight, zero-window periods, queue occupancy, drops,
/// queueing delays) grow with the packets; [`Analyzer::counts_only`] keeps
/// none of them.
pub struct Analyzer {
    /// Whether the per-packet series are kept.
    series: bool,
    conns: Vec<ConnState>,
    /// The latest connection on each 4-tuple.
    current: BTreeMap<TupleKey, usize>,
    /// ACK frames still in flight: frame → (connection, true if it
    /// acknowledges to_server data, ack).
    pending_acks: BTreeMap<FrameId, (usize, bool, u32)>,
    links: BTreeMap<LinkKey, LinkSeries>,
    /// Frames queued on a link: (departure, size), removed at departure.
    queued: BTreeMap<LinkKey, Vec<(SimTime, u64)>>,
    /// Frames sent and not yet queued, delivered or dropped (only the full
    /// mode needs them: for the queue series).
    frame_link: BTreeMap<FrameId, (HostId, Option<HostId>, u64)>,
    socket_conn: BTreeMap<(HostId, crate::socket::SocketId), usize>,
    /// State changes seen before their connection's first packet.
    early_states: Vec<EarlyState>,
    /// When the latest record happened.
    last: Option<SimTime>,
    /// The goodput buckets' width so far.
    clock: Clock,
    /// Queueing delays and drops per link direction.
    queues: Queues,
    /// Whether the topology has routers, whether it has an active queue,
    /// and whether any link has a bandwidth limit, read at the first
    /// record (a topology does not change).
    network: Option<(bool, bool, bool)>,
    /// Frames with payload still in flight in a topology with routers:
    /// frame → (connection, true if to_server data), to follow them hop by
    /// hop (removed when they arrive or are dropped).
    data_frames: BTreeMap<FrameId, (usize, bool)>,
    /// TCP mappings made by NATs: (outside, remote) → inside. Kept after
    /// they expire, so a late packet still belongs to its connection (one
    /// per connection through a NAT).
    nat: BTreeMap<(SocketAddrV4, SocketAddrV4), SocketAddrV4>,
}

type EarlyState = (
    HostId,
    crate::socket::SocketId,
    SocketAddrV4,
    SocketAddrV4,
    crate::socket::TcpState,
);

impl Default for Analyzer {
    fn default() -> Analyzer {
        Analyzer::new()
    }
}

impl Analyzer {
    /// An analyzer that keeps every series ([`analyze`]'s).
    pub fn new() -> Analyzer {
        Analyzer {
            series: true,
            conns: Vec::new(),
            current: BTreeMap::new(),
            pending_acks: BTreeMap::new(),
            links: BTreeMap::new(),
            queued: BTreeMap::new(),
            frame_link: BTreeMap::new(),
            socket_conn: BTreeMap::new(),
            early_states: Vec::new(),
            last: None,
            clock: Clock::default(),
            queues: Queues::default(),
            network: None,
            data_frames: BTreeMap::new(),
            nat: BTreeMap::new(),
        }
    }

    /// An analyzer that keeps the per-connection numbers only: every field
    /// of [`Connection`] and [`Flow`] and every [`Flow`] method answer as in
    /// the full mode, but [`Flow::segments`], [`Flow::acks`],
    /// [`Flow::in_flight`] and [`Flow::zero_windows`] stay empty and
    /// [`Analysis::links`] is empty. Its memory grows with the connections,
    /// not with the packets.
    pub fn counts_only() -> Analyzer {
        Analyzer {
            series: false,
            ..Analyzer::new()
        }
    }

    /// The connections so far, in the order they started (zero-window
    /// periods still open are counted only by [`Analyzer::finish`]).
    pub fn connections(&self) -> impl Iterator<Item = &Connection> + '_ {
        self.conns.iter().map(|c| &c.conn)
    }

    /// The analysis of everything recorded so far.
    pub fn finish(mut self) -> Analysis {
        let end = self.last.unwrap_or(SimTime::ZERO);
        let series = self.series;
        for c in &mut self.conns {
            for (flow, st) in [
                (&mut c.conn.to_server, &c.fwd),
                (&mut c.conn.to_client, &c.rev),
            ] {
                if let Some(since) = st.window_zero_since {
                    flow.counts.zero_windows += 1;
                    if series {
                        flow.zero_windows.push((since, None));
                    }
                }
            }
        }
        for (key, series) in self.links.iter_mut() {
            if let Some(q) = self.queued.get_mut(key) {
                drain_departed(q, series, end);
            }
        }
        let (routers, active_queues, _) = self.network.unwrap_or_default();
        let show_bottlenecks = routers || active_queues || self.queues.active;
        let bottlenecks = self.queues.finish(&self.conns, self.clock, end);
        let clock = self.clock;
        Analysis {
            connections: self
                .conns
                .into_iter()
                .map(|mut c| {
                    for flow in [&mut c.conn.to_server, &mut c.conn.to_client] {
                        flow.goodput = flow.counts.goodput.series(clock);
                    }
                    c.conn
                })
                .collect(),
            links: self.links.into_values().collect(),
            bottlenecks,
            goodput_bucket: clock.width(),
            show_bottlenecks,
        }
    }

    fn packet_sent(
        &mut self,
        topo: &Topology,
        r: &TraceRecord,
        info: Option<&PacketInfo>,
        frame: FrameId,
        hop: Option<DirKey>,
    ) {
        let Some(info) = info else {
            return;
        };
        let Transport::Tcp(tcp) = &info.transport else {
            return;
        };
        let goodput_clock = self.goodput_clock();
        let conns = &mut self.conns;
        let src = SocketAddrV4::new(info.src, tcp.src_port);
        let mut dst = SocketAddrV4::new(info.dst, tcp.dst_port);
        // Sent to a NAT's outside address: to the inside endpoint behind it
        // (through every NAT on the way, a few at most).
        for _ in 0..8 {
            match self.nat.get(&(dst, src)) {
                Some(inside) => dst = *inside,
                None => break,
            }
        }
        let key = canonical(src, dst);
        let tuple_key = TupleKey::of(src, dst);
        let existing = self.current.get(&tuple_key).copied();
        let bare_syn = tcp.flags.syn() && !tcp.flags.ack();
        // Two SYNs crossing: the other end's SYN while the client's is all
        // this connection has sent. One connection, opened from both ends
        // (RFC 9293 section 3.5), whose client is the side that sent first.
        let crossing =
            bare_syn && existing.is_some_and(|i| conns[i].opening && conns[i].conn.client != src);
        // A SYN-ACK whose sender already used another ISN on this 4-tuple
        // answers a SYN that came too late (a duplicate, or one held back
        // past the end of the connection): a new incarnation of the tuple.
        let reincarnation = tcp.flags.syn()
            && tcp.flags.ack()
            && existing.is_some_and(|i| {
                let c = &conns[i];
                let isn = if c.conn.client == src {
                    c.fwd.isn
                } else {
                    c.rev.isn
                };
                isn.is_some_and(|isn| isn != tcp.seq)
            });
        let new_syn = reincarnation
            || (bare_syn
                && !crossing
                && existing.is_none_or(|i| {
                    conns[i].fwd.isn != Some(tcp.seq) || conns[i].conn.client != src
                }));
        if crossing && let Some(i) = existing {
            attach_early_states(&mut self.early_states, &mut self.socket_conn, conns, key, i);
        }
        let index = match existing {
            Some(i) if !new_syn => i,
            _ => {
                let (client, server) = if tcp.flags.syn() && tcp.flags.ack() {
                    (dst, src)
                } else {
                    (src, dst)
                };
                conns.push(ConnState {
                    conn: Connection {
                        number: conns.len() + 1,
                        client,
                        server,
                        client_host: topo.host_by_addr(*client.ip()),
                        server_host: topo.host_by_addr(*server.ip()),
                        start: r.time,
                        end: r.time,
                        handshake: None,
                        first_fin: None,
                        first_rst: None,
                        client_state: None,
                        server_state: None,
                        to_server: Flow::default(),
                        to_client: Flow::default(),
                    },
                    fwd: FlowState::default(),
                    rev: FlowState::default(),
                    synack_seen: false,
                    opening: bare_syn,
                    sockets: [None, None],
                });
                self.current.insert(tuple_key, conns.len() - 1);
                let i = conns.len() - 1;
                attach_early_states(&mut self.early_states, &mut self.socket_conn, conns, key, i);
                i
            }
        };
        let c = &mut conns[index];
        c.conn.end = r.time;
        let from_client = src == c.conn.client;
        c.opening &= from_client && bare_syn;
        let side = if from_client {
            Side::Client
        } else {
            Side::Server
        };
        if tcp.flags.syn() && tcp.flags.ack() && !from_client {
            c.synack_seen = true;
        }
        // The client's first ACK after the server's SYN-ACK (not its own
        // SYN-ACK of a simultaneous open, which answers the server's SYN).
        if from_client
            && c.synack_seen
            && tcp.flags.ack()
            && !tcp.flags.syn()
            && c.conn.handshake.is_none()
        {
            c.conn.handshake = Some(r.time - c.conn.start);
        }
        if tcp.flags.fin() {
            c.conn.first_fin.get_or_insert(side);
        }
        if tcp.flags.rst() {
            c.conn.first_rst.get_or_insert(side);
        }
        let (sent_flow, sent_state, other_flow, other_state) = if from_client {
            (
                &mut c.conn.to_server,
                &mut c.fwd,
                &mut c.conn.to_client,
                &mut c.rev,
            )
        } else {
            (
                &mut c.conn.to_client,
                &mut c.rev,
                &mut c.conn.to_server,
                &mut c.fwd,
            )
        };
        send_segment(r.time, frame, tcp, sent_flow, sent_state, self.series);
        if tcp.payload_len > 0 {
            if let Some(hop) = hop
                && !sent_flow.counts.hops.contains(&hop)
            {
                sent_flow.counts.hops.push(hop);
            }
            if self.network.is_some_and(|(routers, _, _)| routers) {
                self.data_frames.insert(frame, (index, from_client));
            }
        }
        if tcp.flags.ack()
            && let Some(ack) = acknowledge(
                r.time,
                tcp,
                other_flow,
                other_state,
                sent_state.announced_scale,
                (self.series, goodput_clock),
            )
        {
            self.pending_acks.insert(frame, (index, !from_client, ack));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_state(
        &mut self,
        host: HostId,
        socket: crate::socket::SocketId,
        local: SocketAddrV4,
        remote: Option<SocketAddrV4>,
        from: crate::socket::TcpState,
        to: crate::socket::TcpState,
    ) {
        // An active open always starts a new connection, even on a
        // 4-tuple an older connection used.
        let opening = from == crate::socket::TcpState::Closed;
        // A socket's first state change (CLOSED -> SYN-SENT) comes just
        // before its SYN, so an unknown socket is matched to its
        // connection the first time both exist.
        let current = &self.current;
        let conns = &mut self.conns;
        let socket_conn = &mut self.socket_conn;
        let index = socket_conn.get(&(host, socket)).copied().or_else(|| {
            if opening {
                return None;
            }
            let i = current.get(&TupleKey::of(local, remote?)).copied()?;
            // A connection whose side here already has a socket (another
            // one, or this one back from LISTEN) is an older incarnation of
            // the 4-tuple: this socket (a listener taking a late SYN) waits
            // for its own first packet.
            let side = usize::from(local != conns[i].conn.client);
            let passive = from == crate::socket::TcpState::Listen;
            if conns[i].sockets[side].is_some_and(|s| passive || s != (host, socket)) {
                return None;
            }
            conns[i].sockets[side] = Some((host, socket));
            socket_conn.insert((host, socket), i);
            Some(i)
        });
        match index {
            Some(i) => {
                let c = &mut self.conns[i].conn;
                if local == c.client {
                    c.client_state = Some(to);
                } else {
                    c.server_state = Some(to);
                }
                if to == crate::socket::TcpState::Listen {
                    // A listener back from SYN-RECEIVED (its half-open
                    // connection reset) is done with this connection: the
                    // next SYN it takes starts another.
                    self.socket_conn.remove(&(host, socket));
                }
            }
            None => {
                if let Some(rem) = remote {
                    self.early_states.push((host, socket, local, rem, to));
                }
            }
        }
    }

    fn delivered(&mut self, time: SimTime, frame: FrameId) {
        self.frame_link.remove(&frame);
        if let Some((index, to_server_data, ack)) = self.pending_acks.remove(&frame) {
            let c = &mut self.conns[index];
            let (flow, state) = if to_server_data {
                (&mut c.conn.to_server, &mut c.fwd)
            } else {
                (&mut c.conn.to_client, &mut c.rev)
            };
            if state.acked.is_none_or(|a| ack > a) {
                state.acked = Some(ack);
                if self.series {
                    let outstanding = u64::from(state.max_end.saturating_sub(ack));
                    flow.in_flight.push((time, outstanding));
                }
            }
        }
    }

    /// A router put a frame on its next link.
    fn forwarded(&mut self, frame: FrameId, router: HostId, to: HostId, len: u32) {
        self.queues.hop(frame, router, len);
        if self.series {
            self.frame_link
                .insert(frame, (router, Some(to), u64::from(len)));
        }
        if let Some(&(index, to_server)) = self.data_frames.get(&frame) {
            let c = &mut self.conns[index].conn;
            let flow = if to_server {
                &mut c.to_server
            } else {
                &mut c.to_client
            };
            if !flow.counts.hops.contains(&(router, to)) {
                flow.counts.hops.push((router, to));
            }
        }
    }

    /// A frame's journey ended: it arrived, or was dropped or discarded.
    fn frame_ended(&mut self, frame: FrameId) {
        self.data_frames.remove(&frame);
    }

    /// The goodput buckets' clock, when goodput over time can be shown:
    /// with a router, an active queue, or a bandwidth-limited link (where a
    /// drop-tail queue can form) in the topology, or once an active queue
    /// has been seen. Otherwise no bucket is kept: a run of hosts on links
    /// without bandwidth limits never shows goodput over time (see
    /// [`Analysis::show_bottlenecks`]), and ten thousand connections'
    /// buckets would cost a hundred megabytes for nothing.
    fn goodput_clock(&self) -> Option<Clock> {
        let (routers, active, limited) = self.network.unwrap_or_default();
        (routers || active || limited || self.queues.active).then_some(self.clock)
    }

    /// Doubles the goodput buckets until `time` fits in them (rarely
    /// anything to do: a few times in a long run).
    #[inline]
    fn coarsen_until(&mut self, time: SimTime) {
        while time >= self.clock.limit() {
            self.clock.double();
            for c in &mut self.conns {
                c.conn.to_server.counts.goodput.coarsen();
                c.conn.to_client.counts.goodput.coarsen();
            }
        }
    }

    fn queued(&mut self, time: SimTime, frame: FrameId, departs: SimTime) {
        if let Some((from, to, len)) = self.frame_link.remove(&frame) {
            let q = self.queued.entry((from, to)).or_default();
            let series = self.links.entry((from, to)).or_insert_with(|| LinkSeries {
                from,
                to,
                queue: Vec::new(),
                drops: Vec::new(),
            });
            // Frames that left before now are gone from the queue.
            drain_departed(q, series, time);
            q.push((departs, len));
            let occupancy: u64 = q.iter().map(|(_, l)| l).sum();
            series.queue.push((time, occupancy));
        }
    }
}

impl TraceSink for Analyzer {
    fn record(&mut self, topology: &Topology, r: &TraceRecord) {
        self.record_decoded(topology, r, r.event.packet_info().as_ref());
    }
}

impl Analyzer {
    /// [`TraceSink::record`], given the packet a `PacketSent` record
    /// carries already decoded ([`TraceEvent::packet_info`]): a sink that
    /// feeds the analyzer and reads the packet too decodes it once.
    pub fn record_decoded(
        &mut self,
        topology: &Topology,
        r: &TraceRecord,
        info: Option<&PacketInfo>,
    ) {
        self.last = Some(r.time);
        self.coarsen_until(r.time);
        self.network.get_or_insert_with(|| {
            (
                topology.hosts.iter().any(|h| h.router),
                topology.links.iter().any(|l| {
                    [&l.a_to_b, &l.b_to_a]
                        .iter()
                        .any(|p| p.qdisc != crate::qdisc::Qdisc::DropTail)
                }),
                topology.links.iter().any(|l| {
                    [&l.a_to_b, &l.b_to_a]
                        .iter()
                        .any(|p| p.bandwidth_bps.is_some())
                }),
            )
        });
        match &r.event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                len,
                ..
            } => {
                if self.series {
                    self.frame_link
                        .insert(*frame, (*from, *to, u64::from(*len)));
                }
                self.queues.hop(*frame, *from, *len);
                self.packet_sent(topology, r, info, *frame, to.map(|to| (*from, to)));
            }
            TraceEvent::FrameForwarded {
                frame,
                router,
                to,
                len,
                ..
            } => self.forwarded(*frame, *router, *to, *len),
            TraceEvent::FrameEnqueued { frame, link, .. } => {
                self.queues.enqueued(topology, *frame, *link)
            }
            TraceEvent::FrameDequeued { frame, waited, .. } => {
                self.queues.dequeued(r.time, *frame, *waited, self.series)
            }
            TraceEvent::NatMapped {
                proto: 6,
                inside,
                outside,
                remote,
                ..
            } => {
                self.nat.insert((*outside, *remote), *inside);
            }
            TraceEvent::FrameDiscarded { frame, .. } => {
                self.frame_ended(*frame);
                self.queues.ended(r.time, *frame, None, self.series);
            }
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote,
                from,
                to,
                ..
            } => self.tcp_state(*host, *socket, *local, *remote, *from, *to),
            TraceEvent::FrameDelivered { frame, .. } => {
                self.delivered(r.time, *frame);
                self.frame_ended(*frame);
                self.queues.ended(r.time, *frame, None, self.series);
            }
            TraceEvent::FrameQueued {
                frame,
                link,
                queue_bytes,
                departs,
            } => {
                self.queued(r.time, *frame, *departs);
                self.queues.queued(
                    topology,
                    r.time,
                    *frame,
                    *link,
                    *queue_bytes,
                    *departs,
                    self.series,
                );
            }
            TraceEvent::FrameDropped {
                frame,
                from,
                to,
                reason,
            } => {
                // A dropped frame never arrives: its ACK is never seen.
                self.pending_acks.remove(frame);
                self.frame_link.remove(frame);
                self.frame_ended(*frame);
                let dropped = to.map(|to| (*from, to, *reason));
                self.queues.ended(r.time, *frame, dropped, self.series);
                if let Some(series) = self.links.get_mut(&(*from, *to)) {
                    series.drops.push((r.time, *reason));
                }
            }
            _ => {}
        }
    }
}

/// Attaches the state changes seen before connection `i`'s first packet
/// (a socket's CLOSED -> SYN-SENT comes just before its SYN) to it: those
/// of sockets on its 4-tuple `key`.
fn attach_early_states(
    early_states: &mut Vec<EarlyState>,
    socket_conn: &mut BTreeMap<(HostId, crate::socket::SocketId), usize>,
    conns: &mut [ConnState],
    key: Tuple,
    i: usize,
) {
    early_states.retain(|&(host, socket, local, remote, to)| {
        if canonical(local, remote) != key {
            return true;
        }
        socket_conn.insert((host, socket), i);
        let side = usize::from(local != conns[i].conn.client);
        conns[i].sockets[side] = Some((host, socket));
        let c = &mut conns[i].conn;
        if local == c.client {
            c.client_state = Some(to);
        } else {
            c.server_state = Some(to);
        }
        false
    });
}

/// Removes frames that departed by `now`, recording the occupancy after each.
fn drain_departed(q: &mut Vec<(SimTime, u64)>, series: &mut LinkSeries, now: SimTime) {
    q.sort_by_key(|(departs, _)| *departs);
    while let Some(&(departs, _)) = q.first() {
        if departs > now {
            break;
        }
        q.remove(0);
        let occupancy: u64 = q.iter().map(|(_, l)| l).sum();
        series.queue.push((departs, occupancy));
    }
}

/// Records a segment sent by this flow's sender (its series only if `series`).
fn send_segment(
    time: SimTime,
    frame: FrameId,
    tcp: &TcpHeader,
    flow: &mut Flow,
    st: &mut FlowState,
    series: bool,
) {
    flow.packets += 1;
    flow.bytes_sent += u64::from(tcp.payload_len);
    if tcp.flags.syn() {
        st.isn = Some(tcp.seq);
        st.data_base = 1;
        st.announced_scale = tcp.options.window_scale;
    }
    let isn = *st.isn.get_or_insert(tcp.seq);
    let start = tcp.seq.wrapping_sub(isn);
    let len = tcp.seq_len();
    if len == 0 {
        return;
    }
    let end = start.wrapping_add(len);
    let one_byte = tcp.payload_len == 1 && !tcp.flags.syn() && !tcp.flags.fin();
    // In a simultaneous open each side sends its SYN, then a SYN-ACK that
    // carries the same SYN again with the ACK of the other's: a step of the
    // handshake, not a retransmission (nothing was lost).
    let first_synack = tcp.flags.syn() && tcp.flags.ack() && !st.synack_sent;
    if first_synack {
        st.synack_sent = true;
    }
    let kind = if end > st.max_end || (first_synack && start == 0) {
        if one_byte && st.window == Some(0) {
            SegmentKind::WindowProbe
        } else {
            SegmentKind::New
        }
    } else if one_byte && end == st.max_end && st.window == Some(0) {
        // The same probe byte again, while the window stays shut.
        SegmentKind::WindowProbe
    } else if one_byte && end == st.max_end && st.acked.is_some_and(|a| a >= end) {
        // An already-acknowledged byte: a keepalive probe.
        SegmentKind::KeepAlive
    } else {
        SegmentKind::Retransmission
    };
    match kind {
        SegmentKind::Retransmission => flow.counts.retransmissions += 1,
        SegmentKind::WindowProbe => flow.counts.window_probes += 1,
        _ => {}
    }
    if tcp.payload_len > 0 {
        let counts = &mut flow.counts;
        counts.first_data.get_or_insert(time);
        if kind != SegmentKind::KeepAlive {
            counts.last_data = Some(time);
        }
        if counts.data_top.is_none_or(|top| end > top) {
            counts.data_top = Some(end);
            counts.covering.retain(|&(_, ack)| covers(ack, end));
        }
    }
    if series {
        flow.segments.push(Segment {
            time,
            frame,
            start,
            end,
            len: tcp.payload_len,
            kind,
        });
    }
    st.max_end = st.max_end.max(end);
    if tcp.payload_len > 0 {
        let data_end = start + u32::from(tcp.flags.syn()) + tcp.payload_len;
        st.max_data_end = st.max_data_end.max(data_end);
        flow.bytes = u64::from(st.max_data_end.saturating_sub(st.data_base));
    }
    if series {
        let outstanding = u64::from(st.max_end.saturating_sub(st.acked.unwrap_or(0)));
        flow.in_flight.push((time, outstanding));
    }
}

/// Records an ACK the receiver of `flow` sent; returns the relative ACK number.
fn acknowledge(
    time: SimTime,
    tcp: &TcpHeader,
    flow: &mut Flow,
    st: &mut FlowState,
    receiver_scale: Option<u8>,
    (series, clock): (bool, Option<Clock>),
) -> Option<u32> {
    let isn = st.isn?;
    let ack = tcp.ack.wrapping_sub(isn);
    // RFC 7323: the window of a non-SYN segment is scaled when both sides announced scaling.
    let scale = match (receiver_scale, st.announced_scale) {
        (Some(s), Some(_)) if !tcp.flags.syn() => s,
        _ => 0,
    };
    let window = u32::from(tcp.window) << scale;
    // RFC 5681 section 2, conditions (b) to (e), and (a): data outstanding
    // (a window probe's byte counts: it is sent and not acknowledged).
    let duplicate = tcp.payload_len == 0
        && !tcp.flags.syn()
        && !tcp.flags.fin()
        && !tcp.flags.rst()
        && st.last_ack == Some((ack, window))
        && st.max_end > ack;
    let counts = &mut flow.counts;
    counts.duplicate_acks += usize::from(duplicate);
    counts.last_ack = Some(time);
    if counts.data_top.is_none_or(|top| covers(ack, top))
        && counts.covering.last().is_none_or(|&(_, last)| ack > last)
    {
        counts.covering.push((time, ack));
    }
    // Goodput: the data bytes this ACK is the first to cover (never beyond
    // the data sent: not a FIN's sequence number, nor bytes never sent).
    let top = ack.min(st.max_data_end);
    let counted = st.counted.unwrap_or(st.data_base);
    if top > counted {
        let bytes = u64::from(top - counted);
        counts.acked_data += bytes;
        if let Some(clock) = clock {
            counts.goodput.add(clock.index(time), bytes);
        }
        counts.last_advance = Some(time);
        st.counted = Some(top);
    }
    if series {
        flow.acks.push(AckPoint {
            time,
            ack,
            window,
            duplicate,
        });
    }
    st.last_ack = Some((ack, window));
    st.window = Some(window);
    match (window == 0 && !tcp.flags.rst(), st.window_zero_since) {
        (true, None) => st.window_zero_since = Some(time),
        (false, Some(since)) => {
            flow.counts.zero_windows += 1;
            if series {
                flow.zero_windows.push((since, Some(time)));
            }
            st.window_zero_since = None;
        }
        _ => {}
    }
    Some(ack)
}

#[cfg(test)]
mod tests;

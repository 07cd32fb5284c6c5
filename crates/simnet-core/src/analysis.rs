//! What a trace means, connection by connection: derived facts, not pictures.
//!
//! From the packets on the wire (and when they were delivered) this module
//! works out, for every TCP connection: its two directions, every data
//! segment with its relative sequence range, which segments were
//! retransmissions, keepalive or window probes, every acknowledgement with
//! the window it advertised, duplicate ACKs, zero-window periods and bytes in
//! flight over time; and for every bandwidth-limited link direction, its
//! queue occupancy and drops over time.
//!
//! The summary, the plots, the CSV export and the expectations all read these
//! series, so they agree on what a retransmission is. The rules are the ones
//! Wireshark uses: a connection starts with a SYN (a new SYN on a 4-tuple
//! starts a new one); sequence numbers are relative to each direction's first;
//! a segment that carries nothing beyond what was already sent is a
//! retransmission, unless it is a keepalive probe (one old byte) or a window
//! probe (one new byte into a zero window).

use crate::link::DropReason;
use crate::packet::{FrameId, TcpHeader, Transport};
use crate::socket::HostId;
use crate::time::SimTime;
use crate::trace::{Trace, TraceEvent};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// Everything derived from one trace.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// TCP connections in the order they started.
    pub connections: Vec<Connection>,
    /// Bandwidth-limited link directions that carried frames.
    pub links: Vec<LinkSeries>,
}

/// One TCP connection.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Position in [`Analysis::connections`], from 1.
    pub number: usize,
    /// The side that sent the SYN.
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
}

impl Flow {
    /// Retransmitted segments.
    pub fn retransmissions(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| s.kind == SegmentKind::Retransmission)
            .count()
    }

    /// Duplicate ACKs the receiver sent.
    pub fn duplicate_acks(&self) -> usize {
        self.acks.iter().filter(|a| a.duplicate).count()
    }

    /// Window probes the sender sent.
    pub fn window_probes(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| s.kind == SegmentKind::WindowProbe)
            .count()
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
}

struct ConnState {
    conn: Connection,
    fwd: FlowState,
    rev: FlowState,
    synack_seen: bool,
}

/// Analyses a trace.
pub fn analyze(trace: &Trace) -> Analysis {
    let topo = &trace.topology;
    let mut conns: Vec<ConnState> = Vec::new();
    let mut current: BTreeMap<Tuple, usize> = BTreeMap::new();
    // ACK frames still in flight: frame → (connection, true if it acknowledges to_server data, ack).
    let mut pending_acks: BTreeMap<FrameId, (usize, bool, u32)> = BTreeMap::new();
    let mut links: BTreeMap<LinkKey, LinkSeries> = BTreeMap::new();
    // Frames queued on a link: (link key, departure, size), removed at departure.
    let mut queued: BTreeMap<LinkKey, Vec<(SimTime, u64)>> = BTreeMap::new();
    let mut frame_link: BTreeMap<FrameId, (HostId, Option<HostId>, u64)> = BTreeMap::new();
    let mut socket_conn: BTreeMap<(HostId, crate::socket::SocketId), usize> = BTreeMap::new();
    // State changes seen before their connection's first packet.
    let mut early_states = Vec::new();

    for r in trace.records.iter() {
        match &r.event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                len,
                ..
            } => {
                frame_link.insert(*frame, (*from, *to, u64::from(*len)));
                let Some(info) = r.event.packet_info() else {
                    continue;
                };
                let Transport::Tcp(tcp) = &info.transport else {
                    continue;
                };
                let src = SocketAddrV4::new(info.src, tcp.src_port);
                let dst = SocketAddrV4::new(info.dst, tcp.dst_port);
                let key = canonical(src, dst);
                let existing = current.get(&key).copied();
                let new_syn = tcp.flags.syn()
                    && !tcp.flags.ack()
                    && existing.is_none_or(|i| {
                        conns[i].fwd.isn != Some(tcp.seq) || conns[i].conn.client != src
                    });
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
                        });
                        current.insert(key, conns.len() - 1);
                        let i = conns.len() - 1;
                        // Attach the state changes that preceded this SYN.
                        early_states.retain(|&(host, socket, local, remote, to)| {
                            if canonical(local, remote) != key {
                                return true;
                            }
                            socket_conn.insert((host, socket), i);
                            let c = &mut conns[i].conn;
                            if local == c.client {
                                c.client_state = Some(to);
                            } else {
                                c.server_state = Some(to);
                            }
                            false
                        });
                        i
                    }
                };
                let c = &mut conns[index];
                c.conn.end = r.time;
                let from_client = src == c.conn.client;
                let side = if from_client {
                    Side::Client
                } else {
                    Side::Server
                };
                if tcp.flags.syn() && tcp.flags.ack() && !from_client {
                    c.synack_seen = true;
                }
                if from_client && c.synack_seen && tcp.flags.ack() && c.conn.handshake.is_none() {
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
                send_segment(r.time, *frame, tcp, sent_flow, sent_state);
                if tcp.flags.ack()
                    && let Some(ack) = acknowledge(
                        r.time,
                        tcp,
                        other_flow,
                        other_state,
                        sent_state.announced_scale,
                    )
                {
                    pending_acks.insert(*frame, (index, !from_client, ack));
                }
            }
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote,
                from,
                to,
                ..
            } => {
                // An active open always starts a new connection, even on a
                // 4-tuple an older connection used.
                let opening = *from == crate::socket::TcpState::Closed;
                // A socket's first state change (CLOSED -> SYN-SENT) comes just
                // before its SYN, so an unknown socket is matched to its
                // connection the first time both exist.
                let index = socket_conn.get(&(*host, *socket)).copied().or_else(|| {
                    if opening {
                        return None;
                    }
                    let i = current.get(&canonical(*local, (*remote)?)).copied()?;
                    socket_conn.insert((*host, *socket), i);
                    Some(i)
                });
                match index {
                    Some(i) => {
                        let c = &mut conns[i].conn;
                        if *local == c.client {
                            c.client_state = Some(*to);
                        } else {
                            c.server_state = Some(*to);
                        }
                    }
                    None => {
                        if let Some(rem) = remote {
                            early_states.push((*host, *socket, *local, *rem, *to));
                        }
                    }
                }
            }
            TraceEvent::FrameDelivered { frame, .. } => {
                if let Some((index, to_server_data, ack)) = pending_acks.remove(frame) {
                    let c = &mut conns[index];
                    let (flow, state) = if to_server_data {
                        (&mut c.conn.to_server, &mut c.fwd)
                    } else {
                        (&mut c.conn.to_client, &mut c.rev)
                    };
                    if state.acked.is_none_or(|a| ack > a) {
                        state.acked = Some(ack);
                        let outstanding = u64::from(state.max_end.saturating_sub(ack));
                        flow.in_flight.push((r.time, outstanding));
                    }
                }
            }
            TraceEvent::FrameQueued { frame, departs, .. } => {
                if let Some(&(from, to, len)) = frame_link.get(frame) {
                    let q = queued.entry((from, to)).or_default();
                    let series = links.entry((from, to)).or_insert_with(|| LinkSeries {
                        from,
                        to,
                        queue: Vec::new(),
                        drops: Vec::new(),
                    });
                    // Frames that left before now are gone from the queue.
                    drain_departed(q, series, r.time);
                    q.push((*departs, len));
                    let occupancy: u64 = q.iter().map(|(_, l)| l).sum();
                    series.queue.push((r.time, occupancy));
                }
            }
            TraceEvent::FrameDropped {
                from, to, reason, ..
            } => {
                if let Some(series) = links.get_mut(&(*from, *to)) {
                    series.drops.push((r.time, *reason));
                }
            }
            _ => {}
        }
    }
    let end = trace.records.last().map_or(SimTime::ZERO, |r| r.time);
    for c in &mut conns {
        for (flow, st) in [
            (&mut c.conn.to_server, &c.fwd),
            (&mut c.conn.to_client, &c.rev),
        ] {
            if let Some(since) = st.window_zero_since {
                flow.zero_windows.push((since, None));
            }
        }
    }
    for (key, series) in links.iter_mut() {
        if let Some(q) = queued.get_mut(key) {
            drain_departed(q, series, end);
        }
    }
    Analysis {
        connections: conns.into_iter().map(|c| c.conn).collect(),
        links: links.into_values().collect(),
    }
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

/// Records a segment sent by this flow's sender.
fn send_segment(
    time: SimTime,
    frame: FrameId,
    tcp: &TcpHeader,
    flow: &mut Flow,
    st: &mut FlowState,
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
    let kind = if end > st.max_end {
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
    flow.segments.push(Segment {
        time,
        frame,
        start,
        end,
        len: tcp.payload_len,
        kind,
    });
    st.max_end = st.max_end.max(end);
    if tcp.payload_len > 0 {
        let data_end = start + u32::from(tcp.flags.syn()) + tcp.payload_len;
        st.max_data_end = st.max_data_end.max(data_end);
        flow.bytes = u64::from(st.max_data_end.saturating_sub(st.data_base));
    }
    let outstanding = u64::from(st.max_end.saturating_sub(st.acked.unwrap_or(0)));
    flow.in_flight.push((time, outstanding));
}

/// Records an ACK the receiver of `flow` sent; returns the relative ACK number.
fn acknowledge(
    time: SimTime,
    tcp: &TcpHeader,
    flow: &mut Flow,
    st: &mut FlowState,
    receiver_scale: Option<u8>,
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
    flow.acks.push(AckPoint {
        time,
        ack,
        window,
        duplicate,
    });
    st.last_ack = Some((ack, window));
    st.window = Some(window);
    match (window == 0 && !tcp.flags.rst(), st.window_zero_since) {
        (true, None) => st.window_zero_since = Some(time),
        (false, Some(since)) => {
            flow.zero_windows.push((since, Some(time)));
            st.window_zero_since = None;
        }
        _ => {}
    }
    Some(ack)
}

#[cfg(test)]
mod tests;

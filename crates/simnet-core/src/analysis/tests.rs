//! The analysis, checked fact by fact on traces written by hand.
//!
//! Each trace is a few packets whose meaning is known (a handshake, a
//! retransmission, a window probe, a keepalive...), written event by event
//! so that the expected segments, acknowledgements and series can be stated
//! exactly. `cargo mutants` on this module (tools/mutants/run.sh) measures
//! how much of the analysis these tests pin down.

use super::*;
use crate::link::LinkParams;
use crate::packet::TcpFlags;
use crate::socket::{LinkId, SocketId, TcpState};
use crate::time::SimDuration;
use crate::trace::{HostInfo, LinkInfo, Topology};
use std::net::Ipv4Addr;
use std::rc::Rc;

/// Every test's trace is analysed in both modes: [`Analyzer::counts_only`]
/// must give the full analysis minus its series (this shadows the glob
/// import of `super::analyze`, so every test below checks it).
fn analyze(trace: &Trace) -> Analysis {
    let full = super::analyze(trace);
    let mut compact = Analyzer::counts_only();
    trace.replay(&mut compact);
    let compact = compact.finish();
    assert!(compact.links.is_empty());
    assert_eq!(full.goodput_bucket, compact.goodput_bucket);
    assert_eq!(full.show_bottlenecks, compact.show_bottlenecks);
    // The bottlenecks are the same, without their series.
    assert_eq!(full.bottlenecks.len(), compact.bottlenecks.len());
    for (f, c) in full.bottlenecks.iter().zip(&compact.bottlenecks) {
        assert_eq!(f.delays.len() as u64, f.delay.frames);
        assert_eq!(f.drop_times.len() as u64, f.drops.values().sum::<u64>());
        assert!(c.delays.is_empty() && c.drop_times.is_empty());
        let bare = Bottleneck {
            delays: Vec::new(),
            drop_times: Vec::new(),
            ..f.clone()
        };
        assert_eq!(&bare, c);
    }
    assert_eq!(full.connections.len(), compact.connections.len());
    for (f, c) in full.connections.iter().zip(&compact.connections) {
        let scalars = |x: &Connection| {
            (
                x.number,
                x.client,
                x.server,
                x.start,
                x.end,
                x.handshake,
                (x.first_fin, x.first_rst, x.client_state, x.server_state),
            )
        };
        assert_eq!(scalars(f), scalars(c));
        for (ff, cf) in [(&f.to_server, &c.to_server), (&f.to_client, &c.to_client)] {
            let kinds = |k| ff.segments.iter().filter(|s| s.kind == k).count();
            assert_eq!(ff.retransmissions(), kinds(SegmentKind::Retransmission));
            assert_eq!(ff.window_probes(), kinds(SegmentKind::WindowProbe));
            let dups = ff.acks.iter().filter(|a| a.duplicate).count();
            assert_eq!(ff.duplicate_acks(), dups);
            assert_eq!(ff.zero_window_periods(), ff.zero_windows.len());
            assert_eq!(ff.data_span(), span_from_series(ff));
            let numbers = |x: &Flow| {
                (
                    x.bytes,
                    x.bytes_sent,
                    x.packets,
                    x.retransmissions(),
                    x.window_probes(),
                    x.duplicate_acks(),
                    x.zero_window_periods(),
                    x.data_span(),
                    (x.goodput.clone(), x.acked_bytes(), x.active_span()),
                )
            };
            // Goodput counts every byte acknowledged, once.
            assert_eq!(
                ff.goodput.iter().map(|(_, n)| n).sum::<u64>(),
                ff.acked_bytes()
            );
            assert!(ff.acked_bytes() <= ff.bytes);
            assert_eq!(numbers(ff), numbers(cf));
            assert!(cf.segments.is_empty() && cf.acks.is_empty());
            assert!(cf.in_flight.is_empty() && cf.zero_windows.is_empty());
        }
    }
    full
}

/// [`Flow::data_span`] recomputed from the series, as goodput was before
/// the counters: the first data segment, and the first ACK covering the
/// highest data byte (or the last ACK).
fn span_from_series(flow: &Flow) -> Option<(SimTime, SimTime)> {
    let data = flow.segments.iter().filter(|s| s.len > 0);
    let first = data.clone().map(|s| s.time).min()?;
    let top = data.map(|s| s.end).max()?;
    let acked = flow
        .acks
        .iter()
        .find(|a| a.ack.wrapping_sub(top) as i32 >= 0)
        .or(flow.acks.last())?;
    Some((first, acked.time))
}

const C: HostId = HostId(0);
const S: HostId = HostId(1);

fn ms(n: u64) -> SimTime {
    SimTime::from_millis(n)
}

fn ep(host: HostId, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, host.0 as u8 + 1), port)
}

/// A trace under construction between a client (10.0.0.1) and a server (10.0.0.2).
struct Build {
    trace: Trace,
    frames: u64,
    /// The first hop of every packet, when not the other host (a router).
    via: Option<HostId>,
}

impl Build {
    fn new() -> Build {
        let hosts = ["client", "server"]
            .iter()
            .enumerate()
            .map(|(i, n)| HostInfo {
                name: n.to_string(),
                addr: *ep(HostId(i as u32), 0).ip(),
                router: false,
            })
            .collect();
        let link = LinkInfo {
            a: C,
            b: S,
            a_to_b: LinkParams::default(),
            b_to_a: LinkParams::default(),
        };
        Build {
            trace: Trace {
                topology: Topology {
                    seed: 1,
                    hosts,
                    links: vec![link],
                    apps: Vec::new(),
                },
                records: Default::default(),
            },
            frames: 0,
            via: None,
        }
    }

    /// A segment from `from` to `to` (host and port each); `wscale` adds a
    /// window scale option.
    #[allow(clippy::too_many_arguments)]
    fn seg(
        &mut self,
        t: SimTime,
        from: (HostId, u16),
        to: (HostId, u16),
        seq: u32,
        ack: u32,
        flags: &str,
        window: u16,
        payload: u32,
        wscale: Option<u8>,
    ) -> FrameId {
        let (bytes, len) = segment(
            ep(from.0, from.1),
            ep(to.0, to.1),
            seq,
            ack,
            flags,
            window,
            payload,
            wscale,
        );
        let frame = FrameId(self.frames);
        self.frames += 1;
        self.trace.push(
            t,
            TraceEvent::PacketSent {
                frame,
                from: from.0,
                to: Some(self.via.unwrap_or(to.0)),
                socket: None,
                bytes,
                len,
            },
        );
        frame
    }

    fn deliver(&mut self, t: SimTime, frame: FrameId, to: HostId) {
        self.trace.push(t, TraceEvent::FrameDelivered { frame, to });
    }

    #[allow(clippy::too_many_arguments)]
    fn state(
        &mut self,
        t: SimTime,
        host: HostId,
        socket: u64,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        from: TcpState,
        to: TcpState,
    ) {
        self.trace.push(
            t,
            TraceEvent::TcpState {
                host,
                socket: SocketId(socket),
                local,
                remote: Some(remote),
                from,
                to,
                reason: None,
            },
        );
    }
}

/// IPv4 and TCP headers for a segment of `payload` bytes, and its length on the wire.
#[allow(clippy::too_many_arguments)]
fn segment(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: &str,
    window: u16,
    payload: u32,
    wscale: Option<u8>,
) -> (Rc<[u8]>, u32) {
    let options: Vec<u8> = wscale.map_or(Vec::new(), |s| vec![3, 3, s, 1]);
    let header = 40 + options.len();
    let total = header + payload as usize;
    let mut b = vec![0u8; header];
    b[0] = 0x45;
    b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    b[8] = 64;
    b[9] = 6;
    b[12..16].copy_from_slice(&src.ip().octets());
    b[16..20].copy_from_slice(&dst.ip().octets());
    b[20..22].copy_from_slice(&src.port().to_be_bytes());
    b[22..24].copy_from_slice(&dst.port().to_be_bytes());
    b[24..28].copy_from_slice(&seq.to_be_bytes());
    b[28..32].copy_from_slice(&ack.to_be_bytes());
    b[32] = (((20 + options.len()) / 4) as u8) << 4;
    b[33] = TcpFlags::parse(flags).expect("flags").0;
    b[34..36].copy_from_slice(&window.to_be_bytes());
    b[40..].copy_from_slice(&options);
    (b.into(), total as u32)
}

fn seg(
    time: SimTime,
    frame: FrameId,
    start: u32,
    end: u32,
    len: u32,
    kind: SegmentKind,
) -> Segment {
    Segment {
        time,
        frame,
        start,
        end,
        len,
        kind,
    }
}

fn ack(time: SimTime, ack: u32, window: u32, duplicate: bool) -> AckPoint {
    AckPoint {
        time,
        ack,
        window,
        duplicate,
    }
}

const CP: (HostId, u16) = (C, 40000);
const SP: (HostId, u16) = (S, 80);

#[test]
fn one_connection_from_handshake_to_close_with_scaled_windows() {
    use SegmentKind::New;
    let mut b = Build::new();
    let (client, server) = (ep(C, 40000), ep(S, 80));
    b.state(
        ms(1),
        C,
        1,
        client,
        server,
        TcpState::Closed,
        TcpState::SynSent,
    );
    let f0 = b.seg(ms(1), CP, SP, 1000, 0, "S", 1000, 0, Some(2));
    let f1 = b.seg(ms(2), SP, CP, 5000, 1001, "S.", 2000, 0, Some(3));
    b.state(
        ms(2),
        S,
        7,
        server,
        client,
        TcpState::Listen,
        TcpState::SynReceived,
    );
    b.deliver(ms(3), f1, C);
    b.seg(ms(3), CP, SP, 1001, 5001, ".", 1000, 0, None);
    b.state(
        ms(3),
        C,
        1,
        client,
        server,
        TcpState::SynSent,
        TcpState::Established,
    );
    b.state(
        ms(3),
        S,
        7,
        server,
        client,
        TcpState::SynReceived,
        TcpState::Established,
    );
    let f3 = b.seg(ms(4), CP, SP, 1001, 5001, "P.", 1000, 100, None);
    let f4 = b.seg(ms(4), CP, SP, 1101, 5001, "P.", 1000, 100, None);
    let f5 = b.seg(ms(5), SP, CP, 5001, 1101, ".", 100, 0, None);
    b.deliver(ms(6), f5, C);
    // The same ACK again: a duplicate, and its delivery moves nothing.
    let f6 = b.seg(ms(7), SP, CP, 5001, 1101, ".", 100, 0, None);
    b.deliver(ms(8), f6, C);
    let f7 = b.seg(ms(9), SP, CP, 5001, 1201, ".", 100, 0, None);
    b.deliver(ms(10), f7, C);
    let f8 = b.seg(ms(11), SP, CP, 5001, 1201, "F.", 100, 0, None);
    b.state(
        ms(11),
        S,
        7,
        server,
        client,
        TcpState::CloseWait,
        TcpState::LastAck,
    );
    let f9 = b.seg(ms(12), CP, SP, 1201, 5002, "F.", 1000, 0, None);
    b.state(
        ms(12),
        C,
        1,
        client,
        server,
        TcpState::FinWait2,
        TcpState::TimeWait,
    );
    let f10 = b.seg(ms(13), SP, CP, 5002, 1202, ".", 100, 0, None);
    b.deliver(ms(14), f10, C);
    b.state(
        ms(14),
        S,
        7,
        server,
        client,
        TcpState::LastAck,
        TcpState::Closed,
    );

    let a = analyze(&b.trace);
    assert_eq!(a.connections.len(), 1);
    let c = &a.connections[0];
    assert_eq!((c.number, c.client, c.server), (1, client, server));
    assert_eq!((c.client_host, c.server_host), (Some(C), Some(S)));
    assert_eq!((c.start, c.end), (ms(1), ms(13)));
    assert_eq!(c.handshake, Some(SimDuration::from_millis(2)));
    assert_eq!((c.first_fin, c.first_rst), (Some(Side::Server), None));
    assert_eq!(
        (c.client_state, c.server_state),
        (Some(TcpState::TimeWait), Some(TcpState::Closed))
    );

    let up = &c.to_server;
    assert_eq!(
        up.segments,
        [
            seg(ms(1), f0, 0, 1, 0, New),
            seg(ms(4), f3, 1, 101, 100, New),
            seg(ms(4), f4, 101, 201, 100, New),
            seg(ms(12), f9, 201, 202, 0, New),
        ]
    );
    // The server announced a shift of 3 and the client one of 2: the
    // server's windows after its SYN-ACK count eight bytes a unit, and the
    // SYN-ACK's own window is never scaled (RFC 7323).
    assert_eq!(
        up.acks,
        [
            ack(ms(2), 1, 2000, false),
            ack(ms(5), 101, 800, false),
            ack(ms(7), 101, 800, true),
            ack(ms(9), 201, 800, false),
            ack(ms(11), 201, 800, false),
            ack(ms(13), 202, 800, false),
        ]
    );
    assert_eq!(
        up.in_flight,
        [
            (ms(1), 1),
            (ms(3), 0),
            (ms(4), 100),
            (ms(4), 200),
            (ms(6), 100),
            (ms(10), 0),
            (ms(12), 1),
            (ms(14), 0),
        ]
    );
    assert_eq!((up.bytes, up.bytes_sent, up.packets), (200, 200, 5));
    assert_eq!(
        (
            up.retransmissions(),
            up.duplicate_acks(),
            up.window_probes()
        ),
        (0, 1, 0)
    );
    assert!(up.zero_windows.is_empty());

    let down = &c.to_client;
    assert_eq!(
        down.segments,
        [seg(ms(2), f1, 0, 1, 0, New), seg(ms(11), f8, 1, 2, 0, New)]
    );
    assert_eq!(
        down.acks,
        [
            ack(ms(3), 1, 4000, false),
            ack(ms(4), 1, 4000, false),
            ack(ms(4), 1, 4000, false),
            ack(ms(12), 2, 4000, false),
        ]
    );
    assert_eq!(down.in_flight, [(ms(2), 1), (ms(11), 2)]);
    assert_eq!((down.bytes, down.bytes_sent, down.packets), (0, 0, 6));
    assert!(std::ptr::eq(c.main_flow(), &c.to_server));
}

#[test]
fn a_window_is_scaled_only_when_both_sides_announced_a_shift() {
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, Some(4));
    b.seg(ms(2), SP, CP, 0, 1, "S.", 1000, 0, None);
    b.seg(ms(3), CP, SP, 1, 1, ".", 1000, 0, None);
    b.seg(ms(4), SP, CP, 1, 1, ".", 1000, 0, None);
    let c = &analyze(&b.trace).connections[0];
    let windows: Vec<u32> = c.to_server.acks.iter().map(|a| a.window).collect();
    assert_eq!(windows, [1000, 1000]);
    let windows: Vec<u32> = c.to_client.acks.iter().map(|a| a.window).collect();
    assert_eq!(windows, [1000]);
}

#[test]
fn connections_are_told_apart_by_tuple_and_by_a_new_syn() {
    use SegmentKind::{New, Retransmission};
    let mut b = Build::new();
    let (a_client, b_client, server) = (ep(C, 40000), ep(C, 40001), ep(S, 80));
    // Two sockets open before either SYN is sent: each state change must
    // find its own connection.
    b.state(
        ms(1),
        C,
        1,
        a_client,
        server,
        TcpState::Closed,
        TcpState::SynSent,
    );
    b.state(
        ms(1),
        C,
        2,
        b_client,
        server,
        TcpState::Closed,
        TcpState::SynSent,
    );
    let a0 = b.seg(ms(1), CP, SP, 100, 0, "S", 1000, 0, None);
    // The same SYN again is a retransmission of the same connection.
    let a1 = b.seg(ms(2), CP, SP, 100, 0, "S", 1000, 0, None);
    let bp = (C, 40001);
    b.seg(ms(3), bp, SP, 300, 0, "S", 1000, 0, None);
    let b1 = b.seg(ms(4), SP, bp, 700, 301, "S.", 1000, 0, None);
    b.seg(ms(5), SP, CP, 500, 101, "S.", 1000, 0, None);
    b.seg(ms(6), CP, SP, 101, 501, ".", 1000, 0, None);
    b.state(
        ms(6),
        C,
        1,
        a_client,
        server,
        TcpState::SynSent,
        TcpState::Established,
    );
    // B's SYN-ACK again: still B.
    let b2 = b.seg(ms(7), SP, bp, 700, 301, "S.", 1000, 0, None);
    // The first port used again, with a new ISN: a third connection, and the
    // new socket's state belongs to it, not to the first.
    b.state(
        ms(10),
        C,
        3,
        a_client,
        server,
        TcpState::Closed,
        TcpState::SynSent,
    );
    b.seg(ms(10), CP, SP, 9000, 0, "S", 1000, 0, None);

    let a = analyze(&b.trace);
    let summary: Vec<_> = a
        .connections
        .iter()
        .map(|c| (c.number, c.client.port(), c.start, c.end, c.handshake))
        .collect();
    assert_eq!(
        summary,
        [
            (1, 40000, ms(1), ms(6), Some(SimDuration::from_millis(5))),
            (2, 40001, ms(3), ms(7), None),
            (3, 40000, ms(10), ms(10), None),
        ]
    );
    let states: Vec<_> = a
        .connections
        .iter()
        .map(|c| (c.client_state, c.server_state))
        .collect();
    assert_eq!(
        states,
        [
            (Some(TcpState::Established), None),
            (Some(TcpState::SynSent), None),
            (Some(TcpState::SynSent), None),
        ]
    );
    let first = &a.connections[0].to_server.segments;
    assert_eq!(
        *first,
        [
            seg(ms(1), a0, 0, 1, 0, New),
            seg(ms(2), a1, 0, 1, 0, Retransmission)
        ]
    );
    assert_eq!(
        a.connections[1].to_client.segments,
        [
            seg(ms(4), b1, 0, 1, 0, New),
            seg(ms(7), b2, 0, 1, 0, Retransmission)
        ]
    );
}

#[test]
fn a_trace_that_starts_mid_connection_has_no_handshake() {
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 7000, 100, "P.", 1000, 100, None);
    b.seg(ms(2), SP, CP, 100, 7100, ".", 1000, 0, None);
    b.seg(ms(3), CP, SP, 7100, 100, ".", 1000, 0, None);
    let a = analyze(&b.trace);
    let c = &a.connections[0];
    assert_eq!((c.client, c.handshake), (ep(C, 40000), None));
    // No SYN: sequence numbers count from the first byte seen.
    assert_eq!(c.to_server.bytes, 100);
    assert_eq!(c.to_server.segments[0].start, 0);

    // A trace whose first packet is a SYN-ACK still knows who is the client.
    let mut b = Build::new();
    b.seg(ms(1), SP, CP, 500, 101, "S.", 1000, 0, None);
    b.seg(ms(2), CP, SP, 101, 501, ".", 1000, 0, None);
    let c = &analyze(&b.trace).connections[0];
    assert_eq!((c.client, c.server), (ep(C, 40000), ep(S, 80)));
    assert_eq!(c.handshake, Some(SimDuration::from_millis(1)));
}

#[test]
fn a_syn_carrying_data_counts_its_bytes() {
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 10, None);
    let c = &analyze(&b.trace).connections[0];
    assert_eq!(c.to_server.segments[0].end, 11);
    assert_eq!((c.to_server.bytes, c.to_server.bytes_sent), (10, 10));
}

/// Segments of every kind on one flow, and acknowledgements of every kind.
#[test]
fn retransmissions_probes_keepalives_and_duplicate_acks() {
    use SegmentKind::*;
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 1000, 0, "S", 1000, 0, None);
    b.seg(ms(2), SP, CP, 5000, 1001, "S.", 1000, 0, None);
    b.seg(ms(3), CP, SP, 1001, 5001, ".", 1000, 0, None);
    let mut t = 3;
    let mut next = || {
        t += 1;
        ms(t)
    };
    // Client data, as (seq, payload).
    let data =
        |b: &mut Build, t, seq: u32, len: u32| b.seg(t, CP, SP, seq, 5001, "P.", 1000, len, None);
    // Server acknowledgements, as (ack, window, flags, payload).
    let reply = |b: &mut Build, t, ack: u32, win: u16, flags: &str, len: u32| {
        b.seg(t, SP, CP, 5001, ack, flags, win, len, None)
    };
    let one = data(&mut b, next(), 1001, 1); // 1..2: one new byte, window open
    let d1 = data(&mut b, next(), 1002, 100); // 2..102
    let d2 = data(&mut b, next(), 1102, 100); // 102..202
    reply(&mut b, next(), 1102, 1000, ".", 0);
    // Same ACK number and window, but carrying data: not a duplicate.
    reply(&mut b, next(), 1102, 1000, "P.", 10);
    reply(&mut b, next(), 1102, 1000, ".", 0); // duplicate
    let z = next();
    reply(&mut b, z, 1102, 0, ".", 0); // the window shuts (not a duplicate: it changed)
    // A whole segment sent again into the shut window is a retransmission,
    // not a probe.
    let r1 = data(&mut b, next(), 1102, 100);
    let a202 = reply(&mut b, next(), 1202, 0, ".", 0);
    let t202 = next();
    b.deliver(t202, a202, C);
    let p1 = data(&mut b, next(), 1202, 1); // 202..203 into a zero window
    let p2 = data(&mut b, next(), 1202, 1); // the same probe byte
    reply(&mut b, next(), 1202, 0, ".", 0); // duplicate: the probe byte is outstanding
    let a203 = reply(&mut b, next(), 1203, 0, ".", 0);
    let open = next();
    let a203w = reply(&mut b, open, 1203, 1000, ".", 0);
    let t203 = next();
    b.deliver(t203, a203, C);
    b.deliver(t203, a203w, C);
    // One already-acknowledged byte: a keepalive.
    let k = data(&mut b, next(), 1202, 1);
    let d3 = data(&mut b, next(), 1203, 100); // 203..303
    let a303 = reply(&mut b, next(), 1303, 1000, ".", 0);
    // The same ACK with nothing outstanding is not a duplicate.
    reply(&mut b, next(), 1303, 1000, ".", 0);
    let t303 = next();
    b.deliver(t303, a303, C);
    // A whole acknowledged segment again: a (spurious) retransmission, not a keepalive.
    let r2 = data(&mut b, next(), 1203, 100);
    let d4 = data(&mut b, next(), 1303, 100); // 303..403, outstanding
    // A FIN and a RST with the same ACK and window are not duplicates.
    reply(&mut b, next(), 1303, 1000, "F.", 0);
    reply(&mut b, next(), 1303, 1000, "R.", 0);
    // A bare RST acknowledges nothing.
    reply(&mut b, next(), 0, 0, "R", 0);

    let a = analyze(&b.trace);
    assert_eq!(a.connections.len(), 1);
    let up = &a.connections[0].to_server;
    let kinds: Vec<_> = up
        .segments
        .iter()
        .skip(1)
        .map(|s| (s.frame, s.start, s.end, s.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (one, 1, 2, New),
            (d1, 2, 102, New),
            (d2, 102, 202, New),
            (r1, 102, 202, Retransmission),
            (p1, 202, 203, WindowProbe),
            (p2, 202, 203, WindowProbe),
            (k, 202, 203, KeepAlive),
            (d3, 203, 303, New),
            (r2, 203, 303, Retransmission),
            (d4, 303, 403, New),
        ]
    );
    assert_eq!((up.retransmissions(), up.window_probes()), (2, 2));
    let acks: Vec<_> = up
        .acks
        .iter()
        .map(|a| (a.ack, a.window, a.duplicate))
        .collect();
    assert_eq!(
        acks,
        [
            (1, 1000, false),
            (102, 1000, false),
            (102, 1000, false),
            (102, 1000, true),
            (102, 0, false),
            (202, 0, false),
            (202, 0, true),
            (203, 0, false),
            (203, 1000, false),
            (303, 1000, false),
            (303, 1000, false),
            (303, 1000, false),
            (303, 1000, false),
        ]
    );
    assert_eq!(up.duplicate_acks(), 2);
    // One zero-window period, closed when the window opened; the RSTs open none.
    assert_eq!(up.zero_windows, [(z, Some(open))]);
    assert_eq!(a.connections[0].first_rst, Some(Side::Server));
    assert_eq!(up.bytes, 402);
    assert_eq!(up.bytes_sent, 604);
    // Acknowledged: up to 303 (the probe byte too), once each, although
    // 102..202 and 203..303 were sent twice.
    assert_eq!(up.acked_bytes(), 302);
    // Its transfer ends with its last data (303..403, never acknowledged),
    // not with the keepalive before it nor with the last ACK.
    let sent = |f| up.segments.iter().find(|s| s.frame == f).map(|s| s.time);
    assert_eq!(up.active_span(), sent(one).zip(sent(d4)));
    // The server sent ten bytes: the client's flow is still the main one.
    let c = &a.connections[0];
    assert_eq!(c.to_client.bytes, 10);
    assert!(std::ptr::eq(c.main_flow(), &c.to_server));
}

#[test]
fn a_window_still_shut_at_the_end_has_no_end() {
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    b.seg(ms(2), SP, CP, 0, 1, "S.", 0, 0, None);
    b.seg(ms(3), CP, SP, 1, 1, ".", 1000, 0, None);
    b.seg(ms(4), SP, CP, 1, 1, ".", 0, 0, None);
    let c = &analyze(&b.trace).connections[0];
    assert_eq!(c.to_server.zero_windows, [(ms(2), None)]);
    assert!(c.to_client.zero_windows.is_empty());
}

#[test]
fn the_main_flow_is_the_one_that_carried_more() {
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    b.seg(ms(2), SP, CP, 0, 1, "S.", 1000, 0, None);
    let a = analyze(&b.trace);
    let c = &a.connections[0];
    // A tie goes to the client's direction.
    assert!(std::ptr::eq(c.main_flow(), &c.to_server));
    b.seg(ms(3), SP, CP, 1, 1, "P.", 1000, 5, None);
    let a = analyze(&b.trace);
    let c = &a.connections[0];
    assert!(std::ptr::eq(c.main_flow(), &c.to_client));
}

#[test]
fn a_link_queue_grows_and_drains_and_records_its_drops() {
    let mut b = Build::new();
    let queued = |b: &mut Build, t, payload: u32, departs| {
        let f = b.seg(t, CP, SP, 0, 0, ".", 1000, payload, None);
        b.trace.push(
            t,
            TraceEvent::FrameQueued {
                frame: f,
                link: LinkId(0),
                queue_bytes: 0,
                departs,
            },
        );
    };
    queued(&mut b, ms(0), 60, ms(10)); // 100 bytes on the wire
    queued(&mut b, ms(1), 160, ms(20)); // 200
    // The first frame leaves at exactly 10 ms, as the third arrives.
    queued(&mut b, ms(10), 10, ms(25)); // 50
    b.trace.push(
        ms(12),
        TraceEvent::FrameDropped {
            frame: FrameId(99),
            from: C,
            to: Some(S),
            reason: DropReason::QueueFull,
        },
    );
    // A drop on a direction with no queue has no series to go in.
    b.trace.push(
        ms(13),
        TraceEvent::FrameDropped {
            frame: FrameId(98),
            from: S,
            to: Some(C),
            reason: DropReason::Loss,
        },
    );
    b.trace.push(
        ms(30),
        TraceEvent::Action {
            description: "end".into(),
        },
    );
    let a = analyze(&b.trace);
    assert_eq!(a.links.len(), 1);
    let l = &a.links[0];
    assert_eq!((l.from, l.to), (C, Some(S)));
    assert_eq!(
        l.queue,
        [
            (ms(0), 100),
            (ms(1), 300),
            (ms(10), 200),
            (ms(10), 250),
            (ms(20), 50),
            (ms(25), 0),
        ]
    );
    assert_eq!(l.drops, [(ms(12), DropReason::QueueFull)]);
}

#[test]
fn the_canonical_tuple_is_the_same_both_ways() {
    let (a, b) = (ep(C, 40000), ep(S, 80));
    assert_eq!(canonical(a, b), canonical(b, a));
    assert_ne!(canonical(a, b), canonical(a, ep(S, 81)));
}

#[test]
fn the_first_ack_covering_the_data_ends_the_data_span() {
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    b.seg(ms(2), SP, CP, 0, 1, "S.", 1000, 0, None);
    b.seg(ms(3), CP, SP, 1, 1, ".", 1000, 0, None);
    b.seg(ms(4), CP, SP, 1, 1, "P.", 1000, 100, None); // 1..101
    b.seg(ms(5), SP, CP, 1, 101, ".", 1000, 0, None); // covers 101
    b.seg(ms(6), SP, CP, 1, 101, ".", 1000, 0, None);
    b.seg(ms(7), CP, SP, 101, 1, "P.", 1000, 100, None); // 101..201
    b.seg(ms(8), SP, CP, 1, 151, ".", 1000, 0, None); // not yet
    b.seg(ms(9), SP, CP, 1, 201, ".", 1000, 0, None); // covers 201
    b.seg(ms(10), SP, CP, 1, 202, ".", 1000, 0, None);
    let c = &analyze(&b.trace).connections[0];
    assert_eq!(c.to_server.data_span(), Some((ms(4), ms(9))));
    // No data the other way: no span.
    assert_eq!(c.to_client.data_span(), None);

    // Never fully acknowledged: the last ACK ends it.
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    b.seg(ms(2), SP, CP, 0, 1, "S.", 1000, 0, None);
    b.seg(ms(4), CP, SP, 1, 1, "P.", 1000, 100, None);
    b.seg(ms(5), SP, CP, 1, 51, ".", 1000, 0, None);
    b.seg(ms(6), SP, CP, 1, 61, ".", 1000, 0, None);
    let c = &analyze(&b.trace).connections[0];
    assert_eq!(c.to_server.data_span(), Some((ms(4), ms(6))));
}

#[test]
fn a_streamed_analyzer_frees_the_acks_of_frames_that_arrived_or_were_dropped() {
    let mut b = Build::new();
    let syn = b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    let synack = b.seg(ms(2), SP, CP, 0, 1, "S.", 1000, 0, None);
    let ack = b.seg(ms(3), CP, SP, 1, 1, ".", 1000, 0, None);
    b.deliver(ms(3), synack, C);
    b.trace.push(
        ms(4),
        TraceEvent::FrameDropped {
            frame: ack,
            from: C,
            to: Some(S),
            reason: DropReason::Loss,
        },
    );
    b.deliver(ms(4), syn, S);
    for mut a in [Analyzer::new(), Analyzer::counts_only()] {
        b.trace.replay(&mut a);
        assert!(a.pending_acks.is_empty(), "{:?}", a.pending_acks);
        assert!(a.frame_link.is_empty());
        assert_eq!(a.connections().count(), 1);
    }
}

#[test]
fn crossing_syns_are_one_connection_with_both_isns() {
    use SegmentKind::New;
    let mut b = Build::new();
    let (a, z) = (ep(C, 40000), ep(S, 80));
    // Both ends connect at once: each socket goes CLOSED -> SYN-SENT just
    // before its SYN, and the SYNs cross on the wire.
    b.state(ms(1), C, 1, a, z, TcpState::Closed, TcpState::SynSent);
    let s1 = b.seg(ms(1), CP, SP, 1000, 0, "S", 1000, 0, None);
    b.state(ms(2), S, 7, z, a, TcpState::Closed, TcpState::SynSent);
    let s2 = b.seg(ms(2), SP, CP, 5000, 0, "S", 1000, 0, None);
    // Each gets the other's SYN and answers with a SYN-ACK.
    b.state(ms(6), S, 7, z, a, TcpState::SynSent, TcpState::SynReceived);
    let sa2 = b.seg(ms(6), SP, CP, 5000, 1001, "S.", 1000, 0, None);
    b.state(ms(7), C, 1, a, z, TcpState::SynSent, TcpState::SynReceived);
    let sa1 = b.seg(ms(7), CP, SP, 1000, 5001, "S.", 1000, 0, None);
    // Each SYN-ACK establishes its receiver, which acknowledges it.
    b.deliver(ms(11), sa2, C);
    b.state(
        ms(11),
        C,
        1,
        a,
        z,
        TcpState::SynReceived,
        TcpState::Established,
    );
    b.seg(ms(11), CP, SP, 1001, 5001, ".", 1000, 0, None);
    b.deliver(ms(12), sa1, S);
    b.state(
        ms(12),
        S,
        7,
        z,
        a,
        TcpState::SynReceived,
        TcpState::Established,
    );
    b.seg(ms(12), SP, CP, 5001, 1001, ".", 1000, 0, None);
    let d = b.seg(ms(13), CP, SP, 1001, 5001, "P.", 1000, 10, None);

    let an = analyze(&b.trace);
    assert_eq!(an.connections.len(), 1, "{:#?}", an.connections);
    let c = &an.connections[0];
    assert_eq!((c.client, c.server, c.start, c.end), (a, z, ms(1), ms(13)));
    assert_eq!(
        (c.client_state, c.server_state),
        (Some(TcpState::Established), Some(TcpState::Established))
    );
    // From the first SYN to the client's ACK of the server's SYN-ACK.
    assert_eq!(c.handshake, Some(SimDuration::from_millis(10)));
    // Each direction counts from its own SYN; the SYN-ACKs are steps of
    // the handshake, not retransmissions.
    assert_eq!(
        c.to_server.segments,
        [
            seg(ms(1), s1, 0, 1, 0, New),
            seg(ms(7), sa1, 0, 1, 0, New),
            seg(ms(13), d, 1, 11, 10, New),
        ]
    );
    assert_eq!(
        c.to_client.segments,
        [seg(ms(2), s2, 0, 1, 0, New), seg(ms(6), sa2, 0, 1, 0, New)]
    );
    assert_eq!(
        c.to_server.retransmissions() + c.to_client.retransmissions(),
        0
    );
    // Each SYN-ACK acknowledges the other's SYN: ack 1, relative.
    assert_eq!(c.to_server.acks[0].ack, 1);
    assert_eq!(c.to_client.acks[0].ack, 1);
    assert_eq!(c.to_server.bytes, 10);

    // A later SYN from the server's side, once the connection is under
    // way, still starts a new connection.
    b.seg(ms(20), SP, CP, 9000, 0, "S", 1000, 0, None);
    assert_eq!(analyze(&b.trace).connections.len(), 2);
}

#[test]
fn a_late_syn_after_the_close_is_a_new_incarnation_not_the_old_row() {
    let mut b = Build::new();
    let (client, server) = (ep(C, 40000), ep(S, 80));
    // A whole connection: handshake (the SYN sent twice: the first copy is
    // held back by the network), close, the server's socket CLOSED, the
    // client's in TIME-WAIT.
    b.state(
        ms(0),
        C,
        1,
        client,
        server,
        TcpState::Closed,
        TcpState::SynSent,
    );
    b.seg(ms(0), CP, SP, 100, 0, "S", 1000, 0, None);
    b.seg(ms(1000), CP, SP, 100, 0, "S", 1000, 0, None);
    b.state(
        ms(1010),
        S,
        7,
        server,
        client,
        TcpState::Listen,
        TcpState::SynReceived,
    );
    b.seg(ms(1010), SP, CP, 500, 101, "S.", 1000, 0, None);
    b.state(
        ms(1020),
        C,
        1,
        client,
        server,
        TcpState::SynSent,
        TcpState::Established,
    );
    b.seg(ms(1020), CP, SP, 101, 501, "F.", 1000, 0, None);
    b.state(
        ms(1020),
        C,
        1,
        client,
        server,
        TcpState::Established,
        TcpState::FinWait1,
    );
    b.state(
        ms(1030),
        S,
        7,
        server,
        client,
        TcpState::SynReceived,
        TcpState::CloseWait,
    );
    b.seg(ms(1030), SP, CP, 501, 102, "F.", 1000, 0, None);
    b.state(
        ms(1030),
        S,
        7,
        server,
        client,
        TcpState::CloseWait,
        TcpState::LastAck,
    );
    b.state(
        ms(1040),
        C,
        1,
        client,
        server,
        TcpState::FinWait1,
        TcpState::TimeWait,
    );
    b.seg(ms(1040), CP, SP, 102, 502, ".", 1000, 0, None);
    b.state(
        ms(1050),
        S,
        7,
        server,
        client,
        TcpState::LastAck,
        TcpState::Closed,
    );
    // The held-back SYN arrives at 3 s: a listener (another socket) takes
    // it and answers with a SYN-ACK of a new ISN, again and again, until
    // the client, its TIME-WAIT over, resets it.
    b.state(
        ms(3010),
        S,
        8,
        server,
        client,
        TcpState::Listen,
        TcpState::SynReceived,
    );
    b.seg(ms(3010), SP, CP, 9000, 101, "S.", 1000, 0, None);
    b.seg(ms(4010), SP, CP, 9000, 101, "S.", 1000, 0, None);
    b.state(
        ms(11040),
        C,
        1,
        client,
        server,
        TcpState::TimeWait,
        TcpState::Closed,
    );
    b.seg(ms(18010), SP, CP, 9000, 101, "S.", 1000, 0, None);
    b.seg(ms(18020), CP, SP, 101, 0, "R", 0, 0, None);
    b.state(
        ms(18030),
        S,
        8,
        server,
        client,
        TcpState::SynReceived,
        TcpState::Listen,
    );

    let a = analyze(&b.trace);
    let rows: Vec<_> = a
        .connections
        .iter()
        .map(|c| {
            (
                c.number,
                c.client,
                c.start,
                c.end,
                c.client_state,
                c.server_state,
                c.to_client.retransmissions(),
            )
        })
        .collect();
    use TcpState::*;
    assert_eq!(
        rows,
        [
            // The connection that closed, closed on both sides.
            (1, client, ms(0), ms(1040), Some(Closed), Some(Closed), 0),
            // The late SYN's half-open connection, back to LISTEN.
            (2, client, ms(3010), ms(18020), None, Some(Listen), 2),
        ]
    );
    assert_eq!(a.connections[0].first_fin, Some(Side::Client));
    assert_eq!(a.connections[1].first_rst, Some(Side::Client));
    assert_eq!(a.connections[1].handshake, None);

    // The same socket back in LISTEN taking another late SYN starts yet
    // another connection.
    b.state(
        ms(20000),
        S,
        8,
        server,
        client,
        TcpState::Listen,
        TcpState::SynReceived,
    );
    b.seg(ms(20000), SP, CP, 12000, 101, "S.", 1000, 0, None);
    let a = analyze(&b.trace);
    assert_eq!(a.connections.len(), 3);
    assert_eq!(a.connections[1].server_state, Some(TcpState::Listen));
    assert_eq!(a.connections[2].server_state, Some(TcpState::SynReceived));
}

const R: HostId = HostId(2);

/// The client (10.0.0.1) and the server (10.0.0.2) on either side of a
/// router (10.0.0.3): link 0 from the client to the router, without a
/// bandwidth; link 1 from the router to the server at 8 Mbit/s (1000 bytes
/// take 1 ms) with `qdisc` (and without a bandwidth back). Every packet's
/// first hop is the router.
fn routed(qdisc: crate::qdisc::Qdisc) -> Build {
    let mut b = Build::new();
    b.trace.topology.hosts.push(HostInfo {
        name: "router".to_string(),
        addr: Ipv4Addr::new(10, 0, 0, 3),
        router: true,
    });
    let fast = LinkParams::default();
    let slow = LinkParams {
        bandwidth_bps: Some(8_000_000),
        qdisc,
        ..LinkParams::default()
    };
    b.trace.topology.links = vec![
        LinkInfo {
            a: C,
            b: R,
            a_to_b: fast.clone(),
            b_to_a: fast.clone(),
        },
        LinkInfo {
            a: R,
            b: S,
            a_to_b: slow,
            b_to_a: fast,
        },
    ];
    b.via = Some(R);
    b
}

impl Build {
    /// The router puts `frame` (`len` bytes on the wire) on link 1 towards
    /// the server.
    fn forward(&mut self, t: SimTime, frame: FrameId, len: u32) {
        self.trace.push(
            t,
            TraceEvent::FrameForwarded {
                frame,
                router: R,
                from: C,
                to: S,
                link: LinkId(1),
                bytes: Rc::from(&[][..]),
                len,
            },
        );
    }

    /// ... and its drop-tail queue takes it behind `queue_bytes`, to leave
    /// at `departs`.
    fn forward_queued(
        &mut self,
        t: SimTime,
        frame: FrameId,
        len: u32,
        queue_bytes: u64,
        departs: SimTime,
    ) {
        self.forward(t, frame, len);
        self.trace.push(
            t,
            TraceEvent::FrameQueued {
                frame,
                link: LinkId(1),
                queue_bytes,
                departs,
            },
        );
    }

    fn drop(&mut self, t: SimTime, frame: FrameId, from: HostId, to: HostId, reason: DropReason) {
        self.trace.push(
            t,
            TraceEvent::FrameDropped {
                frame,
                from,
                to: Some(to),
                reason,
            },
        );
    }

    fn end(&mut self, t: SimTime) {
        self.trace.push(
            t,
            TraceEvent::Action {
                description: "end".into(),
            },
        );
    }
}

fn us(n: u64) -> SimTime {
    SimTime::from_micros(n)
}

fn dur_us(n: u64) -> SimDuration {
    SimDuration::from_micros(n)
}

#[test]
fn a_router_queue_delays_each_frame_by_the_frames_ahead_of_it() {
    use crate::qdisc::Qdisc;
    let mut b = routed(Qdisc::DropTail);
    // Four segments of 1000 bytes (1040 on the wire: 1.04 ms at 8 Mbit/s)
    // reach the router.
    let data = |b: &mut Build, seq: u32| b.seg(ms(10), CP, SP, seq, 1, "P.", 1000, 1000, None);
    let f1 = data(&mut b, 1);
    let f2 = data(&mut b, 1001);
    let f3 = data(&mut b, 2001);
    let f4 = data(&mut b, 3001);
    // A frame on an idle link waits for nothing: it departs when it is serialised.
    b.forward_queued(ms(11), f1, 1040, 0, us(12_040));
    // Behind the one on the wire, with nothing waiting: 1.04 ms.
    b.forward_queued(ms(11), f2, 1040, 0, us(13_080));
    // Behind 1040 bytes: it departs at 14.12 ms, 1.04 ms of which are its
    // own serialisation: 14.12 - 11.5 - 1.04 = 1.58 ms of waiting.
    b.forward_queued(us(11_500), f3, 1040, 1040, us(14_120));
    b.forward(ms(12), f4, 1040);
    b.drop(ms(12), f4, R, S, DropReason::QueueFull);
    for f in [f1, f2, f3] {
        b.deliver(ms(15), f, S);
    }
    // A loss on the first hop is not the bottleneck's.
    let f5 = b.seg(ms(15), CP, SP, 4001, 1, "P.", 1000, 0, None);
    b.drop(ms(15), f5, C, R, DropReason::Loss);
    // A frame the router throws away is forgotten too.
    let f6 = b.seg(ms(15), CP, SP, 4001, 1, "P.", 1000, 10, None);
    b.trace.push(
        ms(15),
        TraceEvent::FrameDiscarded {
            frame: f6,
            host: R,
            reason: crate::trace::DiscardReason::HostDown,
        },
    );
    // The server acknowledges the first three (the ACK crosses the router
    // the other way, unqueued).
    b.seg(ms(16), SP, CP, 1, 3001, ".", 1000, 0, None);
    b.end(ms(20));
    let a = analyze(&b.trace);
    assert!(a.show_bottlenecks);
    assert_eq!(a.bottlenecks.len(), 1);
    let q = &a.bottlenecks[0];
    assert_eq!(
        (q.from, q.to, q.link, q.qdisc),
        (R, S, LinkId(1), "drop-tail")
    );
    assert_eq!(
        q.delays,
        [
            (ms(11), SimDuration::ZERO),
            (ms(11), dur_us(1040)),
            (us(11_500), dur_us(1580)),
        ]
    );
    assert_eq!(
        q.delay,
        DelayStats {
            frames: 3,
            mean: SimDuration::from_nanos(873_333),
            p50: dur_us(1040),
            p99: dur_us(1580),
            max: dur_us(1580),
        }
    );
    assert_eq!(q.drops, BTreeMap::from([(DropReason::QueueFull, 1)]));
    assert_eq!(q.drop_times, [(ms(12), DropReason::QueueFull)]);
    // One flow crossed it: no window, no index; its goodput is over its
    // own active span, from its first data (10 ms) to the ACK (16 ms).
    assert_eq!(
        q.flows,
        [SharedFlow {
            connection: 1,
            to_server: true,
            bytes: 3000,
            over: SimDuration::from_millis(6),
        }]
    );
    assert_eq!((q.window, q.jain), (None, None));
    assert_eq!(q.flows[0].bits_per_second(), Some(4_000_000.0));
    let up = &a.connections[0].to_server;
    assert_eq!(up.goodput, [(ms(0), 3000)]);
    assert_eq!(up.active_span(), Some((ms(10), ms(16))));
    // The router's queue has an occupancy series of its own.
    let l = a.links.iter().find(|l| l.from == R).expect("router queue");
    assert_eq!(l.to, Some(S));
    assert_eq!(
        l.queue,
        [
            (ms(11), 1040),
            (ms(11), 2080),
            (us(11_500), 3120),
            (us(12_040), 2080),
            (us(13_080), 1040),
            (us(14_120), 0),
        ]
    );
    assert_eq!(l.drops, [(ms(12), DropReason::QueueFull)]);
    // Nothing is held for frames that arrived or were dropped.
    for mut s in [Analyzer::new(), Analyzer::counts_only()] {
        b.trace.replay(&mut s);
        assert!(s.data_frames.is_empty(), "{:?}", s.data_frames);
        assert_eq!(s.queues.frames_held(), 0);
    }
}

/// Two flows from the client (ports 40000 and 40001) to the server through
/// the router's queue, both sending at 100 ms: `a` and `b` segments of
/// 1000 bytes, acknowledged at `acked.0` and `acked.1` ms.
fn two_flows(a: u32, b: u32, sent: (u64, u64), acked: (u64, u64)) -> Analysis {
    let mut t = routed(crate::qdisc::Qdisc::DropTail);
    let flow = |t: &mut Build, port: u16, segments: u32, sent: u64, acked: u64| {
        for i in 0..segments {
            let f = t.seg(
                ms(sent),
                (C, port),
                SP,
                1 + i * 1000,
                1,
                "P.",
                1000,
                1000,
                None,
            );
            t.forward_queued(ms(sent), f, 1040, 1040, ms(sent + 10));
        }
        (acked, port, segments)
    };
    let ack_a = flow(&mut t, 40000, a, sent.0, acked.0);
    let ack_b = flow(&mut t, 40001, b, sent.1, acked.1);
    let mut acks = [ack_a, ack_b];
    acks.sort();
    for (at, port, segments) in acks {
        t.seg(
            ms(at),
            SP,
            (C, port),
            1,
            1 + segments * 1000,
            ".",
            1000,
            0,
            None,
        );
    }
    t.end(ms(1000));
    analyze(&t.trace)
}

#[test]
fn jains_index_compares_the_flows_while_all_of_them_sent() {
    // 3:1 while both sent: (3 + 1)² / (2 × (9 + 1)) = 0.8.
    let a = two_flows(3, 1, (100, 100), (150, 150));
    let q = &a.bottlenecks[0];
    assert_eq!(q.jain, Some(0.8));
    // The window is from the later start (100 ms) to the earlier end
    // (150 ms), widened to the 100 ms bucket both fall in.
    assert_eq!(q.window, Some((ms(100), ms(200))));
    let window = SimDuration::from_millis(100);
    let shared = |connection, bytes| SharedFlow {
        connection,
        to_server: true,
        bytes,
        over: window,
    };
    assert_eq!(q.flows, [shared(1, 3000), shared(2, 1000)]);
    assert_eq!(q.share(&q.flows[0]), Some(0.75));
    assert_eq!(q.flows[1].bits_per_second(), Some(80_000.0));

    // Equal shares: 1.
    let a = two_flows(2, 2, (100, 100), (150, 150));
    assert_eq!(a.bottlenecks[0].jain, Some(1.0));

    // Flows that never sent at the same time have no window and no index:
    // each one's goodput is over its own span.
    let a = two_flows(3, 1, (100, 300), (150, 350));
    let q = &a.bottlenecks[0];
    assert_eq!((q.window, q.jain), (None, None));
    let own = SimDuration::from_millis(50);
    assert_eq!(q.flows[0].over, own);
    assert_eq!((q.flows[0].bytes, q.flows[1].bytes), (3000, 1000));
    assert_eq!(q.share(&q.flows[0]), None);

    // One ending as the other starts: never both at once.
    let a = two_flows(1, 1, (100, 150), (150, 200));
    assert_eq!(a.bottlenecks[0].window, None);

    // The window ends with the flow that ended first, in the bucket of its
    // end: 100..300 ms, where both got their data acknowledged.
    let a = two_flows(1, 1, (100, 150), (250, 210));
    let q = &a.bottlenecks[0];
    assert_eq!(q.window, Some((ms(100), ms(300))));
    assert_eq!(q.jain, Some(1.0));
}

#[test]
fn an_active_queue_reports_each_frames_sojourn() {
    use crate::qdisc::{CodelParams, Qdisc};
    let mut b = routed(Qdisc::Codel(CodelParams::default()));
    let f1 = b.seg(ms(10), CP, SP, 1, 1, "P.", 1000, 1000, None);
    let f2 = b.seg(ms(10), CP, SP, 1001, 1, "P.", 1000, 1000, None);
    let f3 = b.seg(ms(10), CP, SP, 2001, 1, "P.", 1000, 1000, None);
    let enqueue = |b: &mut Build, t, frame, queue_bytes| {
        b.forward(t, frame, 1040);
        b.trace.push(
            t,
            TraceEvent::FrameEnqueued {
                frame,
                link: LinkId(1),
                queue_bytes,
            },
        );
    };
    let dequeue = |b: &mut Build, t, frame, waited| {
        b.trace.push(
            t,
            TraceEvent::FrameDequeued {
                frame,
                link: LinkId(1),
                waited,
                departs: t + dur_us(1040),
            },
        );
    };
    enqueue(&mut b, us(10_500), f1, 0);
    enqueue(&mut b, ms(11), f2, 1040);
    enqueue(&mut b, ms(11), f3, 2080);
    // The second leaves first (another flow's turn, say).
    dequeue(&mut b, us(11_500), f2, dur_us(500));
    dequeue(&mut b, ms(13), f1, dur_us(2500));
    b.drop(ms(14), f3, R, S, DropReason::Aqm);
    b.end(ms(20));
    let a = analyze(&b.trace);
    assert!(a.show_bottlenecks);
    let q = &a.bottlenecks[0];
    assert_eq!((q.from, q.to, q.qdisc), (R, S, "codel"));
    // In the order they entered the queue.
    assert_eq!(
        q.delays,
        [(us(10_500), dur_us(2500)), (ms(11), dur_us(500))]
    );
    assert_eq!(
        q.delay,
        DelayStats {
            frames: 2,
            mean: dur_us(1500),
            p50: dur_us(500),
            p99: dur_us(2500),
            max: dur_us(2500),
        }
    );
    assert_eq!(q.drops, BTreeMap::from([(DropReason::Aqm, 1)]));
    for mut s in [Analyzer::new(), Analyzer::counts_only()] {
        b.trace.replay(&mut s);
        assert_eq!(s.queues.frames_held(), 0);
    }
}

#[test]
fn without_a_router_or_an_active_queue_bottlenecks_are_found_not_shown() {
    let mut b = Build::new();
    b.trace.topology.links[0].a_to_b.bandwidth_bps = Some(8_000_000);
    let f1 = b.seg(ms(1), CP, SP, 1, 1, "P.", 1000, 1000, None);
    b.trace.push(
        ms(1),
        TraceEvent::FrameQueued {
            frame: f1,
            link: LinkId(0),
            queue_bytes: 0,
            departs: us(2_040),
        },
    );
    let f2 = b.seg(ms(1), CP, SP, 1001, 1, "P.", 1000, 1000, None);
    b.trace.push(
        ms(1),
        TraceEvent::FrameQueued {
            frame: f2,
            link: LinkId(0),
            queue_bytes: 1040,
            departs: us(3_080),
        },
    );
    let a = analyze(&b.trace);
    assert!(!a.show_bottlenecks);
    let q = &a.bottlenecks[0];
    // The first hop's sender is the packet's.
    assert_eq!((q.from, q.to, q.link), (C, S, LinkId(0)));
    assert_eq!(
        q.delays,
        [(ms(1), SimDuration::ZERO), (ms(1), dur_us(1040))]
    );

    // Frames that never waited behind others make no bottleneck.
    let mut b = Build::new();
    let f = b.seg(ms(1), CP, SP, 1, 1, "P.", 1000, 1000, None);
    b.trace.push(
        ms(1),
        TraceEvent::FrameQueued {
            frame: f,
            link: LinkId(0),
            queue_bytes: 0,
            departs: ms(1),
        },
    );
    assert!(analyze(&b.trace).bottlenecks.is_empty());
}

#[test]
fn goodput_counts_new_data_once_per_bucket_and_buckets_widen_with_the_run() {
    let mut b = Build::new();
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    b.seg(ms(2), SP, CP, 0, 1, "S.", 1000, 0, None);
    b.seg(ms(3), CP, SP, 1, 1, ".", 1000, 0, None);
    b.seg(ms(10), CP, SP, 1, 1, "P.", 1000, 1000, None); // 1..1001
    b.seg(ms(20), CP, SP, 1001, 1, "P.", 1000, 1000, None); // 1001..2001
    b.seg(ms(50), SP, CP, 1, 1001, ".", 1000, 0, None); // 1000 bytes
    b.seg(ms(60), CP, SP, 1001, 1, "P.", 1000, 1000, None); // again
    b.seg(ms(150), SP, CP, 1, 2001, ".", 1000, 0, None); // 1000 more
    b.seg(ms(160), SP, CP, 1, 2001, ".", 1000, 0, None); // nothing new
    b.seg(ms(250), CP, SP, 2001, 1, "FP.", 1000, 500, None); // 2001..2501, FIN
    // The ACK of the FIN counts the 500 bytes, not the FIN.
    b.seg(ms(260), SP, CP, 1, 2502, ".", 1000, 0, None);
    // The same ACK again, in another bucket: nothing new.
    b.seg(ms(370), SP, CP, 1, 2502, ".", 1000, 0, None);
    let a = analyze(&b.trace);
    assert_eq!(a.goodput_bucket, SimDuration::from_millis(100));
    let up = &a.connections[0].to_server;
    assert_eq!(up.goodput, [(ms(0), 1000), (ms(100), 1000), (ms(200), 500)]);
    assert_eq!(up.acked_bytes(), 2500);
    assert_eq!(up.active_span(), Some((ms(10), ms(260))));
    assert!(a.connections[0].to_client.goodput.is_empty());

    // A run of 40 s or more no longer fits in 400 buckets of 100 ms: they
    // double, and neighbours merge.
    b.end(SimTime::from_secs(40));
    let a = analyze(&b.trace);
    assert_eq!(a.goodput_bucket, SimDuration::from_millis(200));
    assert_eq!(
        a.connections[0].to_server.goodput,
        [(ms(0), 2000), (ms(200), 500)]
    );
    b.end(SimTime::from_secs(1000));
    let a = analyze(&b.trace);
    assert_eq!(a.goodput_bucket, SimDuration::from_millis(3200));
    assert_eq!(a.connections[0].to_server.goodput, [(ms(0), 2500)]);
}

#[test]
fn behind_a_nat_both_ends_are_one_connection() {
    let mut b = routed(crate::qdisc::Qdisc::DropTail);
    let public = |port| SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 1), port);
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    // The router maps the client's port to its own address and port 1024
    // (and a NAT further on maps that again).
    for (inside, outside) in [(ep(C, 40000), public(1024)), (public(1024), public(2048))] {
        b.trace.push(
            ms(2),
            TraceEvent::NatMapped {
                router: R,
                proto: 6,
                inside,
                outside,
                remote: ep(S, 80),
            },
        );
    }
    // A UDP mapping on the same addresses is not TCP's.
    b.trace.push(
        ms(2),
        TraceEvent::NatMapped {
            router: R,
            proto: 17,
            inside: ep(C, 40001),
            outside: public(2048),
            remote: ep(S, 80),
        },
    );
    // The server answers the address it sees.
    let syn_ack = |b: &mut Build, t, to: SocketAddrV4, ack| {
        let (bytes, len) = segment(ep(S, 80), to, 0, ack, "S.", 1000, 0, None);
        b.trace.push(
            t,
            TraceEvent::PacketSent {
                frame: FrameId(100 + ack as u64),
                from: S,
                to: Some(R),
                socket: None,
                bytes,
                len,
            },
        );
    };
    syn_ack(&mut b, ms(3), public(2048), 1);
    b.seg(ms(4), CP, SP, 1, 1, ".", 1000, 0, None);
    let a = analyze(&b.trace);
    assert_eq!(a.connections.len(), 1);
    let c = &a.connections[0];
    assert_eq!((c.client, c.server), (ep(C, 40000), ep(S, 80)));
    assert_eq!(c.handshake, Some(SimDuration::from_millis(3)));
    assert_eq!(c.to_client.packets, 1);
}

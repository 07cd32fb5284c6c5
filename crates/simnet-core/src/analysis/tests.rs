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
use std::sync::Arc;

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
        // A bandwidth limit (far above what any test sends), so that the
        // analysis keeps goodput buckets (`Analyzer::goodput_clock`).
        let limited = LinkParams {
            bandwidth_bps: Some(10_000_000_000),
            ..LinkParams::default()
        };
        let link = LinkInfo {
            a: C,
            b: S,
            a_to_b: limited.clone(),
            b_to_a: limited,
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
) -> (Arc<[u8]>, u32) {
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

mod sharing;

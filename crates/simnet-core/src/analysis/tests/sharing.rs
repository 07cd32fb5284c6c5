//! Routers, queues and sharing: queueing delay per frame at a bottleneck,
//! goodput over time, Jain's index, active queues' sojourn times, and a
//! NAT's two sides seen as one connection.

use super::*;

/// The router of [`routed`].
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
                bytes: Arc::from(&[][..]),
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

/// Hosts joined by links without a bandwidth limit never show goodput over
/// time (no queue can form, nothing is shared): no bucket is kept, which is
/// what lets ten thousand connections run for an hour without a hundred
/// megabytes of them. The bytes acknowledged are counted all the same.
#[test]
fn without_a_bandwidth_limit_no_goodput_buckets_are_kept() {
    let mut b = Build::new();
    for link in &mut b.trace.topology.links {
        link.a_to_b = LinkParams::default();
        link.b_to_a = LinkParams::default();
    }
    b.seg(ms(1), CP, SP, 0, 0, "S", 1000, 0, None);
    b.seg(ms(2), SP, CP, 0, 1, "S.", 1000, 0, None);
    b.seg(ms(10), CP, SP, 1, 1, "P.", 1000, 1000, None);
    b.seg(ms(150), SP, CP, 1, 1001, ".", 1000, 0, None);
    let a = super::super::analyze(&b.trace);
    let up = &a.connections[0].to_server;
    assert!(up.goodput.is_empty());
    assert_eq!(up.acked_bytes(), 1000);
    assert!(!a.show_bottlenecks);
    // The same trace with a limit keeps them.
    b.trace.topology.links[0].a_to_b.bandwidth_bps = Some(1_000_000);
    let a = super::super::analyze(&b.trace);
    assert_eq!(a.connections[0].to_server.goodput, [(ms(100), 1000)]);
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

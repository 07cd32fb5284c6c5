//! The active queues against schedules computed by hand: CoDel's drop
//! times from RFC 8289's control law, fq_codel's limit, new-flow priority
//! and deficit round robin, and inputs that must not panic.

use super::*;

fn t_ms(ms: u64) -> SimTime {
    SimTime::from_millis(ms)
}

fn d_ms(ms: u64) -> SimDuration {
    SimDuration::from_millis(ms)
}

/// A test frame: its id, flow hash and length travel with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pkt {
    id: u64,
    flow: u64,
    len: u32,
}

fn pkt(id: u64, flow: u64, len: u32) -> Pkt {
    Pkt { id, flow, len }
}

/// What happened to a frame, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    /// Left the queue for the wire after waiting `waited`.
    Sent {
        at: SimTime,
        id: u64,
        waited: SimDuration,
    },
    /// Dropped at the head by CoDel.
    HeadDrop { at: SimTime, id: u64 },
    /// Dropped on arrival because the queue was full (the arriving frame
    /// itself, or for fq_codel the fattest flow's head).
    Full { at: SimTime, id: u64 },
}

fn codel(limit: u64) -> AqmQueue<Pkt> {
    AqmQueue::new(&Qdisc::Codel(CodelParams::default()), limit).expect("CoDel is an active queue")
}

fn fq(params: FqCodelParams, limit: u64) -> AqmQueue<Pkt> {
    AqmQueue::new(&Qdisc::FqCodel(params), limit).expect("fq_codel is an active queue")
}

fn put(q: &mut AqmQueue<Pkt>, out: &mut Vec<Out>, at: SimTime, p: Pkt) {
    let mut dropped = Vec::new();
    q.enqueue(at, p, p.len, p.flow, &mut dropped);
    out.extend(dropped.into_iter().map(|d| Out::Full { at, id: d.id }));
}

fn take(q: &mut AqmQueue<Pkt>, out: &mut Vec<Out>, at: SimTime) -> Option<Pkt> {
    let mut dropped = Vec::new();
    let got = q.dequeue(at, &mut dropped);
    out.extend(dropped.into_iter().map(|d| Out::HeadDrop { at, id: d.id }));
    let (p, waited) = got?;
    out.push(Out::Sent {
        at,
        id: p.id,
        waited,
    });
    Some(p)
}

fn head_drops(out: &[Out]) -> Vec<(SimTime, u64)> {
    out.iter()
        .filter_map(|o| match *o {
            Out::HeadDrop { at, id } => Some((at, id)),
            _ => None,
        })
        .collect()
}

fn vars(q: &AqmQueue<Pkt>) -> CodelVars {
    match &q.discipline {
        Discipline::Codel { queue, .. } => queue.vars,
        Discipline::FqCodel(_) => panic!("not a CoDel queue"),
    }
}

/// Feeds `arrivals` (sorted by time) to `q` and drains it through a link
/// that takes `ns_per_byte` per byte: whenever the link is free and the
/// queue holds something, the queue is asked for a frame. Arrivals at the
/// same instant as a dequeue come first.
fn through_link(q: &mut AqmQueue<Pkt>, arrivals: &[(SimTime, Pkt)], ns_per_byte: u64) -> Vec<Out> {
    let mut out = Vec::new();
    let mut now = SimTime::ZERO;
    let mut free_at = SimTime::ZERO;
    let mut next = 0;
    loop {
        let arrival = arrivals.get(next).map(|&(at, _)| at);
        let send = (!q.is_empty()).then(|| free_at.max(now));
        match (arrival, send) {
            (None, None) => return out,
            (_, Some(at)) if arrival.is_none_or(|a| at < a) => {
                now = at;
                if let Some(p) = take(q, &mut out, at) {
                    free_at = at + SimDuration::from_nanos(u64::from(p.len) * ns_per_byte);
                }
            }
            (_, _) => {
                let (at, p) = arrivals[next];
                now = at;
                put(q, &mut out, at, p);
                next += 1;
            }
        }
    }
}

#[test]
fn drop_tail_is_not_an_active_queue() {
    assert!(AqmQueue::<Pkt>::new(&Qdisc::DropTail, 1_000_000).is_none());
    assert!(AqmQueue::<Pkt>::new(&Qdisc::Codel(CodelParams::default()), 0).is_some());
    assert!(AqmQueue::<Pkt>::new(&Qdisc::FqCodel(FqCodelParams::default()), 0).is_some());
}

#[test]
fn the_control_law_divides_by_the_square_root_exactly_rounded_down() {
    let interval = d_ms(100);
    // 100 ms / sqrt(n) in nanoseconds, rounded down (by hand: 1e8 / 1.41421356237 = 70710678.118...).
    let expected = [
        (1, 100_000_000),
        (2, 70_710_678),
        (3, 57_735_026),
        (4, 50_000_000),
        (5, 44_721_359),
        (6, 40_824_829),
        (7, 37_796_447),
        (8, 35_355_339),
        (9, 33_333_333),
        (100, 10_000_000),
    ];
    for (count, nanos) in expected {
        assert_eq!(
            interval_over_sqrt(interval, count).as_nanos(),
            nanos,
            "count {count}"
        );
    }
    // A count of 0 counts as 1; the extremes neither overflow nor panic.
    assert_eq!(interval_over_sqrt(interval, 0), interval);
    assert_eq!(interval_over_sqrt(SimDuration::MAX, 1), SimDuration::MAX);
    assert_eq!(
        interval_over_sqrt(SimDuration::ZERO, u32::MAX),
        SimDuration::ZERO
    );
    assert_eq!(
        control_law(SimTime::MAX, interval, 1),
        SimTime::MAX,
        "saturates"
    );
    // q = floor(i / sqrt(c)) exactly when q² c <= i² < (q + 1)² c.
    for i in [
        1u64,
        7,
        999,
        5_000_000,
        100_000_000,
        123_456_789_012,
        u64::MAX,
    ] {
        for c in [1u32, 2, 3, 10, 17, 1000, 65_537, u32::MAX] {
            let q = u128::from(interval_over_sqrt(SimDuration::from_nanos(i), c).as_nanos());
            let (i, c) = (u128::from(i), u128::from(c));
            assert!(q * q * c <= i * i, "{i} / sqrt({c}) >= {q}");
            let above = (q + 1)
                .checked_mul(q + 1)
                .and_then(|s| s.checked_mul(c))
                .is_none_or(|s| s > i * i);
            assert!(above, "{i} / sqrt({c}) < {q} + 1");
        }
    }
}

#[test]
fn codel_never_drops_while_the_delay_stays_under_target() {
    // One 1000-byte item a millisecond, each sent 4 ms after it arrived,
    // for 10 s. Four items (4000 bytes, more than maxpacket) wait behind
    // the head, so only the 4 ms sojourn (under the 5 ms target) keeps
    // CoDel from dropping.
    let mut q = codel(u64::MAX);
    let mut out = Vec::new();
    for ms in 0..10_004 {
        if ms < 10_000 {
            put(&mut q, &mut out, t_ms(ms), pkt(ms, 7, 1000));
        }
        if ms >= 4 {
            take(&mut q, &mut out, t_ms(ms));
        }
    }
    assert_eq!(out.len(), 10_000);
    for (id, o) in (0..).zip(&out) {
        let at = t_ms(id + 4);
        let waited = d_ms(4);
        assert_eq!(*o, Out::Sent { at, id, waited });
    }
    assert!(q.is_empty() && q.bytes() == 0);
}

#[test]
fn codel_does_not_count_one_frame_behind_the_head_as_a_standing_queue() {
    // A slow link: an item arrives every 10 ms and is sent 15 ms later
    // (far above target), for 2 s, so exactly one item waits behind the
    // head at every send. With 1514-byte items (one maxpacket: RFC 8289's
    // "bytes() <= maxpacket" case) CoDel never drops; with 1515-byte items
    // it drops from 100 ms after the first send (at 15 ms).
    for (len, drops) in [(1514, false), (1515, true)] {
        let mut q = codel(u64::MAX);
        let mut out = Vec::new();
        for k in 0..200 {
            put(&mut q, &mut out, t_ms(10 * k), pkt(k, 0, len));
            if k >= 1 {
                take(&mut q, &mut out, t_ms(10 * (k - 1) + 15));
            }
        }
        let first = head_drops(&out).first().copied();
        if drops {
            assert_eq!(first, Some((t_ms(115), 10)));
        } else {
            assert_eq!(first, None);
            assert_eq!(out.len(), 199);
        }
    }
}

#[test]
fn codel_tolerates_a_delay_above_target_for_less_than_an_interval() {
    // One 1000-byte item a millisecond. In each cycle of 101 items, 99 are
    // sent 6 ms after they arrived (above the 5 ms target), then one after
    // 5.5 ms (still above) and one after 4.9 ms (below). The first 6 ms
    // send of a cycle starting with item a is at a + 6 ms and sets
    // first_above_time to a + 106 ms; the last send above target is at
    // a + 99 + 5.5 = a + 104.5 ms, before it; the 4.9 ms send at
    // a + 104.9 ms resets it. At least four items stay queued behind every
    // head (more than maxpacket), so only the delay decides. A CoDel that
    // forgot first_above_time on a send below target, or that dropped on
    // delay alone, would drop here.
    let mut q = codel(u64::MAX);
    let mut out = Vec::new();
    let mut ops: Vec<(SimTime, Option<Pkt>)> = Vec::new();
    let mut expected = Vec::new();
    for id in 0..30 * 101 {
        let sojourn_us = match id % 101 {
            99 => 5_500,
            100 => 4_900,
            _ => 6_000,
        };
        let arrives = SimTime::from_millis(id);
        let sent = arrives + SimDuration::from_micros(sojourn_us);
        ops.push((arrives, Some(pkt(id, 1, 1000))));
        ops.push((sent, None));
        expected.push(Out::Sent {
            at: sent,
            id,
            waited: SimDuration::from_micros(sojourn_us),
        });
    }
    // Arrivals before sends at the same instant.
    ops.sort_by_key(|&(at, p)| (at, p.is_none()));
    for (at, p) in ops {
        match p {
            Some(p) => put(&mut q, &mut out, at, p),
            None => {
                take(&mut q, &mut out, at);
            }
        }
    }
    assert_eq!(out, expected);
}

/// A constant overload from `start` to `end` (whole milliseconds): a
/// 1000-byte item arrives every millisecond (ids `first_id` + the
/// millisecond since `start`), and a dequeue happens every 2 ms from
/// `start + 10 ms` (half the arrival rate). Returns, for every dequeue
/// that dropped, its time in milliseconds and CoDel's `drop_next` after
/// it in nanoseconds.
fn overload(
    q: &mut AqmQueue<Pkt>,
    out: &mut Vec<Out>,
    start: u64,
    end: u64,
    first_id: u64,
) -> Vec<(u64, u64)> {
    let mut drops = Vec::new();
    let mut arrived = start;
    for tick in (start + 10..=end).step_by(2) {
        while arrived <= tick {
            put(
                q,
                out,
                t_ms(arrived),
                pkt(first_id + arrived - start, 1, 1000),
            );
            arrived += 1;
        }
        let before = head_drops(out).len();
        take(q, out, t_ms(tick));
        if head_drops(out).len() > before {
            drops.push((tick, vars(q).drop_next.as_nanos()));
        }
    }
    drops
}

#[test]
fn codel_drops_a_standing_queue_on_the_control_law_schedule() {
    // Overload from 0 ms: arrivals 1/ms, dequeues every 2 ms from 10 ms.
    // The delay only grows, so it stays above target: the dequeue at
    // 10 ms sets first_above_time = 110 ms, and the first drop is at
    // exactly 110 ms (RFC 8289: now >= first_above_time). Then count = 1
    // and drop_next = 110 + 100 = 210 ms; each later drop happens at the
    // first dequeue at or after drop_next, increments count and moves
    // drop_next by 100 ms / sqrt(count), from drop_next (not from now):
    //   count 2: 210 + 70.710678 = 280.710678 -> next drop at 282
    //   count 3: + 57.735026 = 338.445704     -> 340
    //   count 4: + 50        = 388.445704     -> 390
    //   count 5: + 44.721359 = 433.167063     -> 434
    //   count 6: + 40.824829 = 473.991892     -> 474
    //   count 7: + 37.796447 = 511.788339     -> 512
    //   count 8: + 35.355339 = 547.143678
    // Which item is dropped: the dequeue at 10 + 2k sends item k until the
    // first drop; at 110 (k = 50) item 50 is dropped and 51 sent, so the
    // dequeue at t sends item 51 + (t - 110) / 2, and so on after each drop:
    // 101 at 210, 138 at 282, 168 at 340, 194 at 390, 217 at 434, 238 at
    // 474, 258 at 512.
    let mut q = codel(u64::MAX);
    let mut out = Vec::new();
    let drops = overload(&mut q, &mut out, 0, 512, 0);
    assert_eq!(
        drops,
        [
            (110, 210_000_000),
            (210, 280_710_678),
            (282, 338_445_704),
            (340, 388_445_704),
            (390, 433_167_063),
            (434, 473_991_892),
            (474, 511_788_339),
            (512, 547_143_678),
        ]
    );
    let dropped_ids: Vec<u64> = head_drops(&out).iter().map(|&(_, id)| id).collect();
    assert_eq!(dropped_ids, [50, 101, 138, 168, 194, 217, 238, 258]);
    // One drop per dequeue at most, and in FIFO order: sent and dropped
    // items together are 0, 1, 2, ... with nothing skipped; every wait is
    // exact (item i arrived at i ms).
    let mut next_id = 0;
    for o in &out {
        match *o {
            Out::Sent { at, id, waited } => {
                assert_eq!(id, next_id);
                assert_eq!(waited, at - t_ms(id));
                next_id += 1;
            }
            Out::HeadDrop { id, .. } => {
                assert_eq!(id, next_id);
                next_id += 1;
            }
            Out::Full { .. } => panic!("no limit here"),
        }
    }
    assert_eq!(next_id, 260);
    let v = vars(&q);
    assert!(v.dropping);
    assert_eq!((v.count, v.lastcount), (8, 1));

    // The delay falls below target: at 513 ms everything is dequeued, the
    // 253 old items (260..=512) and a burst of five fresh ones arriving
    // then. No drop is due before 547.14 ms, so the old items are sent;
    // CoDel stays in its dropping state while the head has waited at least
    // 5 ms (up to item 508) and leaves it at item 509, which waited 4 ms
    // with 8000 bytes behind it (more than maxpacket): the delay alone
    // ends the dropping state.
    for id in 10_000..10_005 {
        put(&mut q, &mut out, t_ms(513), pkt(id, 1, 1000));
    }
    for id in 260..=508 {
        assert_eq!(take(&mut q, &mut out, t_ms(513)).map(|p| p.id), Some(id));
        assert!(vars(&q).dropping);
    }
    assert_eq!(take(&mut q, &mut out, t_ms(513)).map(|p| p.id), Some(509));
    assert_eq!(q.bytes(), 8000);
    let v = vars(&q);
    assert!(!v.dropping);
    assert_eq!(v.first_above_time, None);
    for id in [510, 511, 512, 10_000] {
        assert_eq!(take(&mut q, &mut out, t_ms(513)).map(|p| p.id), Some(id));
    }
    assert_eq!(head_drops(&out).len(), 8);

    // Overload again right away: 10_001 (1 ms), 10_002 (3 ms) are below
    // target, 10_003 at 518 ms has waited exactly 5 ms (not below) with
    // six items behind: first_above_time = 618 ms. The drop at 618 re-enters
    // the dropping state 70.86 ms after the last drop_next (547.14, less
    // than 16 intervals), and count - lastcount = 7 > 1, so count starts
    // at 7 (RFC 8289's reuse rule) instead of 1: drop_next = 618 +
    // 37.796447 = 655.796447 -> 656; count 8: + 35.355339 = 691.151786 ->
    // 692; count 9: + 33.333333 = 724.485119. Without the rule the second
    // drop would be at 718 ms.
    let mut drops = Vec::new();
    let mut arrived = 514;
    for tick in (514..=700).step_by(2) {
        while arrived <= tick {
            put(&mut q, &mut out, t_ms(arrived), pkt(arrived, 1, 1000));
            arrived += 1;
        }
        let before = head_drops(&out).len();
        take(&mut q, &mut out, t_ms(tick));
        if head_drops(&out).len() > before {
            drops.push((tick, vars(&q).drop_next.as_nanos()));
        }
        if tick == 518 {
            assert_eq!(vars(&q).first_above_time, Some(t_ms(618)));
        }
    }
    assert_eq!(
        drops,
        [(618, 655_796_447), (656, 691_151_786), (692, 724_485_119)]
    );
    assert_eq!(
        head_drops(&out)[8..],
        [(t_ms(618), 562), (t_ms(656), 582), (t_ms(692), 601)]
    );
}

#[test]
fn codel_starts_again_from_count_one_after_sixteen_intervals() {
    // The same overload as above up to 512 ms (count 8, drop_next
    // 547.143678 ms), then the queue is emptied at 512 ms: the empty queue
    // takes CoDel out of the dropping state.
    for (pause, second_drop) in [(1_400, 38), (1_700, 100)] {
        let mut q = codel(u64::MAX);
        let mut out = Vec::new();
        overload(&mut q, &mut out, 0, 512, 0);
        while take(&mut q, &mut out, t_ms(512)).is_some() {}
        assert!(take(&mut q, &mut out, t_ms(512)).is_none());
        let v = vars(&q);
        assert!(!v.dropping && v.first_above_time.is_none());
        assert_eq!((v.count, v.lastcount), (8, 1));
        // A second overload starting `pause` ms later drops first at
        // start + 110 ms. After a 1400 ms pause that is 2022 ms, 1474.86
        // ms after drop_next (< 16 intervals): count = 7, next drop due
        // 37.796 ms later, at the 2060 ms dequeue. After 1700 ms it is
        // 2322 ms, 1774.86 ms after (>= 16 intervals): count = 1, next drop
        // 100 ms later.
        let start = 512 + pause;
        let drops = overload(&mut q, &mut out, start, start + 250, 1_000_000);
        let times: Vec<u64> = drops.iter().map(|&(at, _)| at - start).collect();
        assert_eq!(times[..2], [110, 110 + second_drop], "pause {pause}");
    }
}

#[test]
fn codel_drops_an_arriving_item_that_does_not_fit() {
    let mut q = codel(3000);
    let mut out = Vec::new();
    for id in 0..3 {
        put(&mut q, &mut out, t_ms(0), pkt(id, id, 1000));
    }
    put(&mut q, &mut out, t_ms(1), pkt(3, 0, 1));
    assert_eq!(out, [Out::Full { at: t_ms(1), id: 3 }]);
    // A zero-length item always fits.
    put(&mut q, &mut out, t_ms(1), pkt(4, 0, 0));
    assert_eq!((q.len(), q.bytes(), out.len()), (4, 3000, 1));
    out.clear();
    while take(&mut q, &mut out, t_ms(2)).is_some() {}
    let sent: Vec<u64> = out
        .iter()
        .map(|o| match *o {
            Out::Sent { id, .. } => id,
            _ => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(sent, [0, 1, 2, 4]);
    // A limit of 0 takes only empty items.
    let mut q = codel(0);
    put(&mut q, &mut out, t_ms(3), pkt(5, 0, 1));
    put(&mut q, &mut out, t_ms(3), pkt(6, 0, 0));
    assert_eq!(out.last(), Some(&Out::Full { at: t_ms(3), id: 5 }));
    assert_eq!((q.len(), q.bytes()), (1, 0));
}

#[test]
fn fq_codel_overflow_drops_the_head_of_the_fattest_flow() {
    let mut q = fq(FqCodelParams::default(), 5000);
    let mut out = Vec::new();
    let at = t_ms(0);
    // Flow 1 (A): 3000 bytes; flow 2 (B): 1500 bytes.
    for id in 0..3 {
        put(&mut q, &mut out, at, pkt(id, 1, 1000));
    }
    put(&mut q, &mut out, at, pkt(10, 2, 1000));
    put(&mut q, &mut out, at, pkt(11, 2, 500));
    assert!(out.is_empty());
    // B's 12 brings 5500 bytes: A (3000) is fattest, its head 0 goes.
    put(&mut q, &mut out, at, pkt(12, 2, 1000));
    assert_eq!(out, [Out::Full { at, id: 0 }]);
    // B's 13: B (3500) is now the fattest, so B's own head 10 goes, not 13.
    put(&mut q, &mut out, at, pkt(13, 2, 1000));
    assert_eq!(out[1..], [Out::Full { at, id: 10 }]);
    // A 6000-byte item larger than the whole limit: B stays the fattest
    // (500 + 1000 + 1000 + 6000 against 2000) until its last item, the new
    // one, goes too.
    put(&mut q, &mut out, at, pkt(14, 2, 6000));
    assert_eq!(
        out[2..],
        [
            Out::Full { at, id: 11 },
            Out::Full { at, id: 12 },
            Out::Full { at, id: 13 },
            Out::Full { at, id: 14 },
        ]
    );
    assert_eq!((q.len(), q.bytes()), (2, 2000));
    // Each overflow drop counted in its flow's CoDel count, as Linux's
    // fq_codel_drop does: one in A's (0), five in B's (10 to 14).
    let counts = |q: &AqmQueue<Pkt>| match &q.discipline {
        Discipline::FqCodel(f) => f.flows.iter().map(|(&i, fl)| (i, fl.vars.count)).collect(),
        Discipline::Codel { .. } => Vec::new(),
    };
    assert_eq!(counts(&q), [(1, 1), (2, 5)]);
    // Fattest in bytes, not in items: five 100-byte items against one of
    // 1000 bytes.
    let mut small = fq(FqCodelParams::default(), 1500);
    let mut small_out = Vec::new();
    for id in 30..35 {
        put(&mut small, &mut small_out, at, pkt(id, 5, 100));
    }
    put(&mut small, &mut small_out, at, pkt(35, 6, 1000));
    put(&mut small, &mut small_out, at, pkt(36, 7, 1));
    assert_eq!(small_out, [Out::Full { at, id: 35 }]);
    // On a tie the lowest flow index loses (Linux's strict `>` scan):
    // flow 0 holds 3000 bytes, and flow 1025 is flow queue 1 of 1024,
    // like A, which it brings to 3000 too.
    for id in 20..23 {
        put(&mut q, &mut out, at, pkt(id, 0, 1000));
    }
    assert_eq!(out.len(), 6);
    put(&mut q, &mut out, at, pkt(3, 1025, 1000));
    assert_eq!(out[6..], [Out::Full { at, id: 20 }]);
    // The rest comes out, A's in order (flow 1025 shares A's queue): A, B
    // and flow 0 are new flows in that order, A and flow 0 send 2000 bytes
    // each on their first quantum, B is empty.
    out.clear();
    let mut sent = Vec::new();
    while let Some(p) = take(&mut q, &mut out, t_ms(1)) {
        sent.push(p.id);
    }
    assert_eq!(sent, [1, 2, 21, 22, 3]);
}

#[test]
fn fq_codel_sends_a_sparse_flow_ahead_of_a_bulk_one() {
    // A 10 Mbit/s link (800 ns a byte: a 1514-byte frame takes 1.2112
    // ms). A bulk flow sends a 1514-byte frame every 0.6 ms for 300 ms
    // (twice the link's rate); a sparse flow sends 100 bytes every 20 ms.
    // With fq_codel each sparse frame arrives to find its flow queue
    // empty, so it is a new flow, served before the bulk flow: it waits at
    // most for the bulk frame on the wire. Through one CoDel FIFO it waits
    // behind the bulk backlog.
    let mut arrivals = Vec::new();
    for k in 0..500 {
        arrivals.push((SimTime::from_micros(600 * k), pkt(k, 1, 1514)));
    }
    for k in 0..15 {
        let at = SimTime::from_micros(5_300 + 20_000 * k);
        arrivals.push((at, pkt(100_000 + k, 2, 100)));
    }
    arrivals.sort_by_key(|&(at, _)| at);
    let sparse = |o: &Out| matches!(*o, Out::Sent { id, .. } | Out::HeadDrop { id, .. } | Out::Full { id, .. } if id >= 100_000);
    let waits = |out: &[Out], want_sparse: bool| -> Vec<SimDuration> {
        out.iter()
            .filter(|o| sparse(o) == want_sparse)
            .filter_map(|o| match *o {
                Out::Sent { waited, .. } => Some(waited),
                _ => None,
            })
            .collect()
    };
    let mean = |w: &[SimDuration]| w.iter().map(|d| d.as_nanos()).sum::<u64>() / w.len() as u64;

    let mut q = fq(FqCodelParams::default(), 10_000_000);
    let out = through_link(&mut q, &arrivals, 800);
    let sparse_waits = waits(&out, true);
    let bulk_waits = waits(&out, false);
    assert_eq!(sparse_waits.len(), 15, "every sparse frame is sent");
    let worst = sparse_waits.iter().max().copied().unwrap_or_default();
    assert!(worst <= SimDuration::from_nanos(1514 * 800), "{worst}");
    assert!(mean(&bulk_waits) > 50 * 1_000_000, "{}", mean(&bulk_waits));
    // CoDel did act on the bulk flow's standing queue, and only on it.
    assert!(out.iter().any(|o| matches!(o, Out::HeadDrop { .. })));
    assert!(
        !out.iter()
            .any(|o| sparse(o) && !matches!(o, Out::Sent { .. }))
    );

    let mut q = codel(10_000_000);
    let out = through_link(&mut q, &arrivals, 800);
    let sparse_waits = waits(&out, true);
    assert!(
        mean(&sparse_waits) > 50 * 1_000_000,
        "{}",
        mean(&sparse_waits)
    );
}

/// Dequeues at time zero (so CoDel never drops) while every flow in
/// `flows` still has items; after every dequeue, the bytes sent per flow
/// differ by less than `quantum` + the largest item (deficit round
/// robin's bound). Returns the bytes sent per flow.
fn drr_shares(quantum: u32, flows: &[(u64, u32)], items_each: u64) -> Vec<u64> {
    let params = FqCodelParams {
        quantum,
        ..FqCodelParams::default()
    };
    let mut q = fq(params, u64::MAX);
    let mut out = Vec::new();
    let mut id = 0;
    for _ in 0..items_each {
        for &(flow, len) in flows {
            put(&mut q, &mut out, SimTime::ZERO, pkt(id, flow, len));
            id += 1;
        }
    }
    let largest = flows
        .iter()
        .map(|&(_, len)| u64::from(len))
        .max()
        .unwrap_or(0);
    let mut sent = vec![0u64; flows.len()];
    let mut sent_items = vec![0u64; flows.len()];
    while sent_items.iter().all(|&n| n < items_each) {
        let p = take(&mut q, &mut out, SimTime::ZERO).expect("still backlogged");
        let i = flows
            .iter()
            .position(|&(f, _)| f == p.flow)
            .expect("known flow");
        sent[i] += u64::from(p.len);
        sent_items[i] += 1;
        let (lo, hi) = (sent.iter().min(), sent.iter().max());
        let spread = hi.unwrap_or(&0) - lo.unwrap_or(&0);
        assert!(
            spread < u64::from(quantum.max(1)) + largest,
            "quantum {quantum}: {sent:?}"
        );
    }
    assert!(head_drops(&out).is_empty());
    sent
}

#[test]
fn fq_codel_shares_the_link_equally_between_two_bulk_flows() {
    for quantum in [1514, 300, 1] {
        let sent = drr_shares(quantum, &[(1, 1000), (2, 1000)], 2000);
        // Over the long run, the two shares are within a quantum.
        assert!(sent[0].abs_diff(sent[1]) <= 1514, "{quantum}: {sent:?}");
        assert!(sent[0] + sent[1] > 1_900_000);
    }
}

#[test]
fn fq_codel_shares_bytes_not_items_between_flows_of_different_sizes() {
    // Items of 100, 600 and 1500 bytes: round robin by items would send
    // them 100 : 600 : 1500; deficit round robin sends equal bytes.
    for quantum in [1514, 300, 1] {
        let sent = drr_shares(quantum, &[(1, 100), (2, 600), (3, 1500)], 3000);
        let total: u64 = sent.iter().sum();
        assert!(total > 290_000, "{sent:?}");
        for &s in &sent {
            // Each within 1514 + 1500 bytes of a third of the total.
            assert!(
                (s * 3).abs_diff(total) < 3 * (1514 + 1500),
                "{quantum}: {sent:?}"
            );
        }
    }
}

#[test]
fn fq_codel_a_new_flow_that_empties_goes_to_the_old_flows() {
    // Quantum 3000. Bulk flow B (1000-byte items) is an old flow with
    // credit left when sparse flow A's item a0 arrives: A is new and goes
    // first. At the next dequeue A is empty: as RFC 8290 says it moves to
    // the end of the old flows (behind B) instead of leaving the lists, so
    // when a1 arrives A is still listed and is not a new flow again: B
    // keeps its turn. (Removing A there would let a1 jump ahead of b5.)
    let params = FqCodelParams {
        quantum: 3000,
        ..FqCodelParams::default()
    };
    let mut q = fq(params, u64::MAX);
    let mut out = Vec::new();
    let at = SimTime::ZERO;
    for id in 0..20 {
        put(&mut q, &mut out, at, pkt(id, 2, 1000));
    }
    let mut order = Vec::new();
    for _ in 0..4 {
        // b0, b1, b2 as a new flow (3000 of credit), then B becomes old
        // with a new quantum and sends b3 (2000 left).
        order.extend(take(&mut q, &mut out, at).map(|p| p.id));
    }
    put(&mut q, &mut out, at, pkt(100, 1, 100));
    order.extend(take(&mut q, &mut out, at).map(|p| p.id)); // a0
    order.extend(take(&mut q, &mut out, at).map(|p| p.id)); // A empty -> old; b4
    put(&mut q, &mut out, at, pkt(101, 1, 100));
    order.extend(take(&mut q, &mut out, at).map(|p| p.id)); // b5 (B has 1000 left)
    order.extend(take(&mut q, &mut out, at).map(|p| p.id)); // B out of credit; a1
    assert_eq!(order, [0, 1, 2, 3, 100, 4, 5, 101]);
    match &q.discipline {
        Discipline::FqCodel(f) => {
            assert!(f.new_flows.is_empty());
            // B ran out of credit before a1: it got a quantum and went
            // behind A.
            assert_eq!(f.old_flows, [1, 2]);
        }
        Discipline::Codel { .. } => unreachable!(),
    }
    // A sends its only item and empties while there are no other old
    // flows: it still goes through the old list, then leaves it.
    let mut q = fq(FqCodelParams::default(), u64::MAX);
    put(&mut q, &mut out, at, pkt(200, 5, 100));
    assert_eq!(take(&mut q, &mut out, at).map(|p| p.id), Some(200));
    assert!(take(&mut q, &mut out, at).is_none());
    match &q.discipline {
        Discipline::FqCodel(f) => {
            assert!(f.new_flows.is_empty() && f.old_flows.is_empty());
            assert!(!f.flows[&5].listed);
        }
        Discipline::Codel { .. } => unreachable!(),
    }
}

#[test]
fn fq_codel_keeps_each_flow_in_order_and_waits_are_exact() {
    // Three flows interleaved at odd nanosecond times, dequeued at other
    // odd times; some dequeues are late enough for CoDel to drop. Within a
    // flow, items come out (sent or dropped) in arrival order, each
    // exactly once, and every wait is the dequeue time minus the enqueue
    // time to the nanosecond.
    let mut q = fq(FqCodelParams::default(), u64::MAX);
    let mut out = Vec::new();
    let mut enqueued_at = Vec::new();
    let mut now = 0u64;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for id in 0..3000u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        now += 1 + state % 700_001;
        let flow = state % 3;
        let len = 60 + (state >> 20) as u32 % 1455;
        put(
            &mut q,
            &mut out,
            SimTime::from_nanos(now),
            pkt(id, flow, len),
        );
        enqueued_at.push(now);
        if state % 5 < 3 {
            now += 1 + (state >> 40) % 333_333;
            take(&mut q, &mut out, SimTime::from_nanos(now));
        }
    }
    while take(&mut q, &mut out, SimTime::from_nanos(now)).is_some() {}
    assert!(q.is_empty() && q.bytes() == 0);
    let mut last = [None::<u64>; 3];
    let mut seen = vec![false; 3000];
    for o in &out {
        let id = match *o {
            Out::Sent { at, id, waited } => {
                assert_eq!(waited.as_nanos(), at.as_nanos() - enqueued_at[id as usize]);
                id
            }
            Out::HeadDrop { id, .. } => id,
            Out::Full { .. } => panic!("no limit"),
        };
        let flow = (enqueued_flow(id)) as usize;
        assert!(
            last[flow].is_none_or(|l| l < id),
            "flow {flow}: {id} after {last:?}"
        );
        last[flow] = Some(id);
        assert!(!seen[id as usize]);
        seen[id as usize] = true;
    }
    assert!(seen.iter().all(|&s| s));
    assert!(!head_drops(&out).is_empty(), "the schedule made CoDel drop");

    // Replays the generator to find an id's flow.
    fn enqueued_flow(id: u64) -> u64 {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..=id {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
        }
        state % 3
    }
}

#[test]
fn fq_codel_with_a_tiny_quantum_and_huge_items_does_not_spin() {
    // A quantum of 0 counts as 1 byte; two flows of 4 GB items need about
    // four billion quanta per item. Whole rounds that send nothing are
    // skipped at once, so this finishes at once, and the flows alternate.
    let params = FqCodelParams {
        quantum: 0,
        ..FqCodelParams::default()
    };
    let mut q = fq(params, u64::MAX);
    let mut out = Vec::new();
    for id in 0..6 {
        put(&mut q, &mut out, SimTime::ZERO, pkt(id, id % 2, u32::MAX));
    }
    let mut order = Vec::new();
    while let Some(p) = take(&mut q, &mut out, SimTime::ZERO) {
        order.push(p.id);
    }
    assert_eq!(order, [0, 1, 2, 3, 4, 5]);
    // Unequal sizes: one byte against 4 GB, quantum 1: the small flow
    // sends all its items before the big one has earned its next turn.
    let params = FqCodelParams {
        quantum: 1,
        ..FqCodelParams::default()
    };
    let mut q = fq(params, u64::MAX);
    for id in 0..3 {
        put(&mut q, &mut out, SimTime::ZERO, pkt(id, 1, u32::MAX));
    }
    for id in 10..20 {
        put(&mut q, &mut out, SimTime::ZERO, pkt(id, 2, 1));
    }
    let mut order = Vec::new();
    while let Some(p) = take(&mut q, &mut out, SimTime::ZERO) {
        order.push(p.id);
    }
    assert_eq!(order, [0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 1, 2]);
}

/// A naive flow queue: its (id, len) items, deficit, and whether listed.
type NaiveFlow = (VecDeque<(u64, u32)>, i64, bool);

/// Linux's fq_codel scheduling without CoDel, written naively: one
/// quantum per turn, nothing skipped.
struct NaiveDrr {
    quantum: i64,
    flows: BTreeMap<u32, NaiveFlow>,
    new_flows: VecDeque<u32>,
    old_flows: VecDeque<u32>,
}

impl NaiveDrr {
    fn enqueue(&mut self, id: u64, flow: u64, len: u32) {
        let index = (flow % 1024) as u32;
        let (items, deficit, listed) = self.flows.entry(index).or_default();
        items.push_back((id, len));
        if !*listed {
            *listed = true;
            *deficit = self.quantum;
            self.new_flows.push_back(index);
        }
    }

    fn dequeue(&mut self) -> Option<u64> {
        loop {
            let from_new = !self.new_flows.is_empty();
            let index = if from_new {
                self.new_flows.pop_front()?
            } else {
                self.old_flows.pop_front()?
            };
            let (items, deficit, listed) = self.flows.get_mut(&index)?;
            if *deficit <= 0 {
                *deficit += self.quantum;
                self.old_flows.push_back(index);
                continue;
            }
            match items.pop_front() {
                Some((id, len)) => {
                    *deficit -= i64::from(len);
                    if from_new {
                        self.new_flows.push_front(index);
                    } else {
                        self.old_flows.push_front(index);
                    }
                    return Some(id);
                }
                None if from_new => self.old_flows.push_back(index),
                None => *listed = false,
            }
        }
    }
}

#[test]
fn fq_codel_serves_exactly_as_naive_deficit_round_robin() {
    // Random flows, sizes and interleavings of arrivals and dequeues, all
    // at time zero (so CoDel never drops), against the naive scheduler:
    // the same items in the same order, whatever the quantum, including
    // quanta far smaller than the items (where whole rounds are skipped).
    let mut state = 0x51_7cc1_b727_220a_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for quantum in [1u32, 7, 300, 1514] {
        for _ in 0..20 {
            let params = FqCodelParams {
                quantum,
                ..FqCodelParams::default()
            };
            let mut q = fq(params, u64::MAX);
            let mut naive = NaiveDrr {
                quantum: i64::from(quantum),
                flows: BTreeMap::new(),
                new_flows: VecDeque::new(),
                old_flows: VecDeque::new(),
            };
            let mut out = Vec::new();
            let flows = 1 + next() % 6;
            for id in 0..400 {
                let r = next();
                if r % 5 < 2 {
                    let got = take(&mut q, &mut out, SimTime::ZERO).map(|p| p.id);
                    assert_eq!(got, naive.dequeue(), "quantum {quantum}");
                } else {
                    let flow = (r >> 8) % flows;
                    let len = 1 + ((r >> 16) % 3000) as u32;
                    put(&mut q, &mut out, SimTime::ZERO, pkt(id, flow, len));
                    naive.enqueue(id, flow, len);
                }
            }
            loop {
                let got = take(&mut q, &mut out, SimTime::ZERO).map(|p| p.id);
                assert_eq!(got, naive.dequeue(), "quantum {quantum}");
                if got.is_none() {
                    break;
                }
            }
            assert!(out.iter().all(|o| matches!(o, Out::Sent { .. })));
        }
    }
}

#[test]
fn set_params_keeps_the_items_and_applies_from_now_on() {
    let mut q = codel(u64::MAX);
    let mut out = Vec::new();
    for id in 0..6 {
        put(&mut q, &mut out, t_ms(id), pkt(id, id % 2, 1000));
    }
    // A lower limit: the items stay, the next arrival does not fit.
    q.set_params(&Qdisc::Codel(CodelParams::default()), 2000);
    assert_eq!(q.len(), 6);
    put(&mut q, &mut out, t_ms(6), pkt(6, 0, 10));
    assert_eq!(out, [Out::Full { at: t_ms(6), id: 6 }]);
    // Drop-tail is not an active queue: only the limit changes.
    q.set_params(&Qdisc::DropTail, u64::MAX);
    assert!(matches!(q.discipline, Discipline::Codel { .. }));
    // To fq_codel: the items are regrouped by flow in arrival order, with
    // their enqueue times; flows 0 and 1 are new flows in the order of
    // their first items, and take turns by quantum (1514: two items each).
    q.set_params(&Qdisc::FqCodel(FqCodelParams::default()), u64::MAX);
    assert_eq!((q.len(), q.bytes()), (6, 6000));
    out.clear();
    let mut order = Vec::new();
    while let Some(p) = take(&mut q, &mut out, t_ms(7)) {
        order.push(p.id);
    }
    assert_eq!(order, [0, 2, 1, 3, 4, 5]);
    for o in &out {
        if let Out::Sent { id, waited, .. } = *o {
            assert_eq!(waited, d_ms(7 - id));
        }
    }
    // And back to CoDel, in arrival order across flows.
    for id in 0..4 {
        put(&mut q, &mut out, t_ms(8), pkt(id, 3 - id, 100));
    }
    q.set_params(&Qdisc::Codel(CodelParams::default()), u64::MAX);
    let mut order = Vec::new();
    while let Some(p) = take(&mut q, &mut out, t_ms(8)) {
        order.push(p.id);
    }
    assert_eq!(order, [0, 1, 2, 3]);
    // A new target keeps the state and applies to the next dequeue: a
    // 6 ms wait is above the default target, not above 10 ms.
    let mut q = codel(u64::MAX);
    for id in 0..5 {
        put(&mut q, &mut out, t_ms(0), pkt(id, 0, 1000));
    }
    take(&mut q, &mut out, t_ms(6));
    assert_eq!(vars(&q).first_above_time, Some(t_ms(106)));
    let slow = CodelParams {
        target: d_ms(10),
        interval: d_ms(100),
    };
    q.set_params(&Qdisc::Codel(slow), u64::MAX);
    take(&mut q, &mut out, t_ms(7));
    assert_eq!(vars(&q).first_above_time, None);
}

#[test]
fn odd_inputs_neither_panic_nor_lose_items() {
    // Extreme parameters, lengths, limits and times, in a fixed
    // pseudo-random order; times may even go backwards. Every item comes
    // out exactly once (sent, dropped at the head, or dropped as over the
    // limit), and bytes() and len() always match what is inside.
    let durations = [
        SimDuration::ZERO,
        SimDuration::from_nanos(1),
        d_ms(5),
        SimDuration::MAX,
    ];
    let mut qdiscs = Vec::new();
    for &target in &durations {
        for &interval in &durations {
            let codel = CodelParams { target, interval };
            qdiscs.push(Qdisc::Codel(codel));
            for (flows, quantum) in [(0, 0), (1, 1), (3, 1514), (u32::MAX, u32::MAX)] {
                qdiscs.push(Qdisc::FqCodel(FqCodelParams {
                    codel,
                    flows,
                    quantum,
                }));
            }
        }
    }
    let lens = [0, 1, 1514, u32::MAX];
    let limits = [0, 1, 5000, u64::MAX];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (n, qdisc) in qdiscs.iter().enumerate() {
        let limit = limits[n % limits.len()];
        let mut q: AqmQueue<Pkt> = AqmQueue::new(qdisc, limit).expect("active");
        let mut inside: BTreeMap<u64, u32> = BTreeMap::new();
        let mut out = Vec::new();
        let mut now = SimTime::ZERO;
        for id in 0..300 {
            let r = next();
            now = match r % 7 {
                0 => SimTime::MAX,
                1 => SimTime::ZERO,
                2 => now,
                _ => now + SimDuration::from_nanos(r % 20_000_000),
            };
            if r % 3 == 0 {
                take(&mut q, &mut out, now);
            } else {
                let len = lens[(r >> 8) as usize % lens.len()];
                inside.insert(id, len);
                put(&mut q, &mut out, now, pkt(id, r >> 16, len));
            }
            if r % 50 == 0 {
                let other = &qdiscs[(r >> 24) as usize % qdiscs.len()];
                q.set_params(other, limits[(r >> 32) as usize % limits.len()]);
            }
            for o in out.drain(..) {
                let (Out::Sent { id, .. } | Out::HeadDrop { id, .. } | Out::Full { id, .. }) = o;
                assert!(inside.remove(&id).is_some(), "{qdisc:?}: {id} twice");
            }
            assert_eq!(q.len(), inside.len(), "{qdisc:?}");
            assert_eq!(
                q.bytes(),
                inside.values().map(|&l| u64::from(l)).sum::<u64>()
            );
            assert_eq!(q.is_empty(), inside.is_empty());
        }
        while take(&mut q, &mut out, SimTime::MAX).is_some() {}
        for o in out.drain(..) {
            let (Out::Sent { id, .. } | Out::HeadDrop { id, .. } | Out::Full { id, .. }) = o;
            assert!(inside.remove(&id).is_some());
        }
        assert!(
            inside.is_empty() && q.is_empty() && q.bytes() == 0,
            "{qdisc:?}"
        );
    }
}

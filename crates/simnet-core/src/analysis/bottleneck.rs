//! Bottlenecks: the link directions where frames waited in a queue, how long
//! each frame waited, what was dropped there, and how fairly the TCP flows
//! crossing them shared them.
//!
//! **Which directions.** A link direction is a bottleneck when a frame
//! waited in its queue: a drop-tail
//! [`TraceEvent::FrameQueued`](crate::trace::TraceEvent::FrameQueued) with
//! bytes already waiting ahead of it (`queue_bytes > 0`), or an active
//! queue's
//! [`TraceEvent::FrameDequeued`](crate::trace::TraceEvent::FrameDequeued)
//! with a sojourn time above zero.
//!
//! **Queueing delay.** Every frame that went through the direction's queue
//! discipline has one (zero when the link was idle): for an active queue
//! (CoDel, fq_codel) its `waited`; for drop-tail, the time from its
//! [`TraceEvent::FrameQueued`](crate::trace::TraceEvent::FrameQueued) to its
//! `departs`, minus its own serialisation time at the direction's bandwidth
//! (its wire length × 8 / bandwidth, rounded up to the nanosecond as the
//! link rounds it), i.e. the time it waited for the frames ahead of it. The
//! bandwidth is the one the topology declares (a timeline change of
//! bandwidth makes the delays of the frames queued after it approximate;
//! they never go below zero). The sender of the hop is the `from` of the
//! [`TraceEvent::PacketSent`](crate::trace::TraceEvent::PacketSent) (first
//! hop) or the `router` of the
//! [`TraceEvent::FrameForwarded`](crate::trace::TraceEvent::FrameForwarded)
//! (later hops) that the engine records, at the same instant, just before
//! the frame's `FrameQueued` or `FrameEnqueued`; the direction is the one
//! leaving it on the event's link. Each frame's delay is kept as a series
//! (the full mode only) at the time it entered the queue (an active queue's:
//! its dequeue time minus `waited`); the statistics come from a histogram
//! kept in both modes: the mean and the maximum are exact, the percentiles
//! (nearest rank) are the mean of the frames in the histogram bucket that
//! holds that rank: exact below 512 ns and for delays that are alone in
//! their bucket, within 0.4% otherwise (256 buckets per octave).
//!
//! **Drops** are counted per reason on the direction they happened on (the
//! `from` and `to` of
//! [`TraceEvent::FrameDropped`](crate::trace::TraceEvent::FrameDropped)):
//! queue-full, aqm, and any other (loss on the wire...).
//!
//! **Flows sharing it** are the TCP flows (directions of connections, see
//! [`super::Flow`]) whose segments with payload were put on the direction,
//! by their sender or by a router.
//!
//! **Jain's fairness index** over those flows, `J = (Σx)² / (n·Σx²)`, with
//! `x` each flow's goodput ([`super::goodput`]: bytes of data acknowledged)
//! during the **window** when every one of them was transferring data. A
//! flow transfers from its first segment with payload to the later of its
//! last segment with payload (keepalive probes aside) and the last
//! acknowledgement of new data ([`super::Flow::active_span`]); the window
//! runs from the latest of their starts to the earliest of their ends,
//! widened to whole goodput buckets (and cut at the end of the run): so four
//! flows that run together over one link get J ≈ 1, and two flows of which
//! one takes three quarters of the link while both send get 16 / 20 = 0.8,
//! whatever each did alone before or after. With fewer than two flows, or
//! flows that never all sent at once, there is no window and no index: each
//! flow's goodput is then over its own active span. (The window is the
//! same for every flow, so the bytes each got through in it and their rates
//! give the same index.)

use super::goodput::Clock;
use super::{ConnState, Flow};
use crate::link::{DropReason, LinkParams};
use crate::packet::FrameId;
use crate::socket::{HostId, LinkId};
use crate::time::{SimDuration, SimTime};
use crate::trace::Topology;
use std::collections::BTreeMap;

/// A link direction: its sender and its receiver.
pub(super) type DirKey = (HostId, HostId);

/// A link direction where frames waited in a queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Bottleneck {
    /// Sender.
    pub from: HostId,
    /// Receiver.
    pub to: HostId,
    /// The link.
    pub link: LinkId,
    /// Its queue discipline's name as the topology declares it
    /// (`drop-tail`, `codel`, `fq_codel`).
    pub qdisc: &'static str,
    /// The queueing delay of the frames that went through its queue.
    pub delay: DelayStats,
    /// Each frame's queueing delay, at the time it entered the queue, in
    /// that order (the full mode only).
    pub delays: Vec<(SimTime, SimDuration)>,
    /// Frames dropped on this direction, by reason.
    pub drops: BTreeMap<DropReason, u64>,
    /// Each drop (the full mode only).
    pub drop_times: Vec<(SimTime, DropReason)>,
    /// The TCP flows whose data crossed it, in the order of their
    /// connections (client to server first).
    pub flows: Vec<SharedFlow>,
    /// When every flow was transferring, widened to whole goodput buckets:
    /// what [`SharedFlow::bytes`] and [`Bottleneck::jain`] are measured
    /// over. `None` with fewer than two flows or no time when all sent.
    pub window: Option<(SimTime, SimTime)>,
    /// Jain's fairness index of the flows' goodputs over the window
    /// (`None` without a window, or if none of them got data through).
    pub jain: Option<f64>,
}

/// Queueing delay statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DelayStats {
    /// Frames that went through the queue (dropped ones aside).
    pub frames: u64,
    /// Their mean delay (rounded down to the nanosecond).
    pub mean: SimDuration,
    /// The median (nearest rank).
    pub p50: SimDuration,
    /// The 99th percentile (nearest rank).
    pub p99: SimDuration,
    /// The longest.
    pub max: SimDuration,
}

/// A flow that crossed a bottleneck, and its goodput there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedFlow {
    /// Its connection's [`super::Connection::number`].
    pub connection: usize,
    /// Which direction of it: client to server (`true`) or back.
    pub to_server: bool,
    /// Bytes of its data acknowledged over [`SharedFlow::over`].
    pub bytes: u64,
    /// The bottleneck's window, or without one the flow's own active span.
    pub over: SimDuration,
}

impl SharedFlow {
    /// Its goodput, `bytes × 8 / over` (`None` over no time).
    pub fn bits_per_second(&self) -> Option<f64> {
        (!self.over.is_zero()).then(|| self.bytes as f64 * 8.0 / self.over.as_secs_f64())
    }
}

impl Bottleneck {
    /// A flow's share of the bytes all the bottleneck's flows got through
    /// in its window (`None` without a window or without bytes).
    pub fn share(&self, flow: &SharedFlow) -> Option<f64> {
        self.window?;
        let total: u64 = self.flows.iter().map(|f| f.bytes).sum();
        (total > 0).then(|| flow.bytes as f64 / total as f64)
    }
}

/// Jain's fairness index of `x`: `(Σx)² / (n·Σx²)`, from `1/n` (one takes
/// all) to 1 (equal shares). `None` for no values or all zero.
pub fn jain_index(x: &[u64]) -> Option<f64> {
    let sum: u128 = x.iter().map(|&v| u128::from(v)).sum();
    let squares: u128 = x.iter().map(|&v| u128::from(v) * u128::from(v)).sum();
    (squares > 0).then(|| (sum * sum) as f64 / (x.len() as u128 * squares) as f64)
}

/// A frame's queueing delay on a drop-tail link: from when it was queued
/// to when it departs, less its own serialisation at `bandwidth_bps`
/// (`len × 8 / bandwidth`, rounded up to the nanosecond as
/// [`crate::link::LinkDirection::transmit`] does); never below zero.
pub fn drop_tail_delay(
    queued: SimTime,
    departs: SimTime,
    len: u32,
    bandwidth_bps: Option<u64>,
) -> SimDuration {
    let serialisation = match bandwidth_bps {
        Some(bps) if bps > 0 => {
            let nanos = (u128::from(len) * 8 * 1_000_000_000).div_ceil(u128::from(bps));
            SimDuration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        }
        _ => SimDuration::ZERO,
    };
    departs.saturating_since(queued) - serialisation
}

/// Delays below this many nanoseconds have a histogram bucket each.
const EXACT_BELOW: u64 = 512;

/// A histogram of delays with 256 buckets per octave: the percentiles
/// without keeping every delay.
#[derive(Clone, Debug, Default)]
struct DelayHistogram {
    /// Bucket key → (frames, sum of their delays in ns).
    buckets: BTreeMap<u64, (u64, u128)>,
    frames: u64,
    sum: u128,
    max: u64,
}

/// The bucket of a delay of `v` ns: `v` itself below [`EXACT_BELOW`];
/// above, its top 9 bits and its magnitude, so the buckets' order is the
/// delays' order.
fn bucket_key(v: u64) -> u64 {
    if v < EXACT_BELOW {
        return v;
    }
    let magnitude = 63 - u64::from(v.leading_zeros());
    let shift = magnitude - 8;
    (shift << 9) | (v >> shift)
}

impl DelayHistogram {
    fn add(&mut self, d: SimDuration) {
        let v = d.as_nanos();
        let b = self.buckets.entry(bucket_key(v)).or_insert((0, 0));
        b.0 += 1;
        b.1 += u128::from(v);
        self.frames += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    /// The delay of rank `ceil(percent × frames / 100)` (at least 1 for a
    /// percent above 0 and some frames): the mean of its bucket.
    fn percentile(&self, percent: u64) -> SimDuration {
        let rank = (self.frames * percent).div_ceil(100);
        let mut seen = 0;
        for &(n, sum) in self.buckets.values() {
            seen += n;
            if seen >= rank {
                return nanos(sum / u128::from(n));
            }
        }
        SimDuration::ZERO
    }

    fn stats(&self) -> DelayStats {
        if self.frames == 0 {
            return DelayStats::default();
        }
        DelayStats {
            frames: self.frames,
            mean: nanos(self.sum / u128::from(self.frames)),
            p50: self.percentile(50),
            p99: self.percentile(99),
            max: SimDuration::from_nanos(self.max),
        }
    }
}

fn nanos(v: u128) -> SimDuration {
    SimDuration::from_nanos(u64::try_from(v).unwrap_or(u64::MAX))
}

/// What one link direction gathered.
#[derive(Clone, Debug, Default)]
struct DirState {
    link: Option<LinkId>,
    qdisc: &'static str,
    /// A frame waited in its queue.
    queued: bool,
    histogram: DelayHistogram,
    delays: Vec<(SimTime, SimDuration)>,
    drops: BTreeMap<DropReason, u64>,
    drop_times: Vec<(SimTime, DropReason)>,
}

/// The queues of every link direction, folded as frames cross them: per
/// direction a histogram (its memory grows with the spread of the delays,
/// at most 256 entries an octave, not with the frames) and drop counts;
/// per frame in an active queue, its direction (until it leaves); and the
/// latest hop a frame started. The delay and drop series grow with the
/// frames, in the full mode only.
#[derive(Default)]
pub(super) struct Queues {
    dirs: BTreeMap<DirKey, DirState>,
    /// The frame most recently put on a link, its sender and length: the
    /// `FrameQueued` or `FrameEnqueued` that follows at once concerns it.
    last_hop: Option<(FrameId, HostId, u32)>,
    /// Frames in an active queue, and the direction.
    in_active_queue: BTreeMap<FrameId, DirKey>,
    /// An active queue's event was seen.
    pub(super) active: bool,
}

/// The receiver and the parameters of the direction of `link` leaving `sender`.
fn direction(topo: &Topology, link: LinkId, sender: HostId) -> Option<(HostId, &LinkParams)> {
    let l = topo.links.get(link.0 as usize)?;
    if l.a == sender {
        Some((l.b, &l.a_to_b))
    } else if l.b == sender {
        Some((l.a, &l.b_to_a))
    } else {
        None
    }
}

impl Queues {
    /// A frame was put on a link by `sender` (sent or forwarded).
    pub(super) fn hop(&mut self, frame: FrameId, sender: HostId, len: u32) {
        self.last_hop = Some((frame, sender, len));
    }

    /// Frames held because they are in an active queue.
    #[cfg(test)]
    pub(super) fn frames_held(&self) -> usize {
        self.in_active_queue.len()
    }

    /// The sender and length of `frame`'s hop, if it is the latest one.
    fn sender(&self, frame: FrameId) -> Option<(HostId, u32)> {
        self.last_hop
            .filter(|(f, _, _)| *f == frame)
            .map(|(_, s, len)| (s, len))
    }

    fn dir(&mut self, key: DirKey, link: LinkId, params: &LinkParams) -> &mut DirState {
        let d = self.dirs.entry(key).or_default();
        d.link = Some(link);
        d.qdisc = params.qdisc.name();
        d
    }

    /// A drop-tail [`TraceEvent::FrameQueued`](crate::trace::TraceEvent::FrameQueued).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn queued(
        &mut self,
        topo: &Topology,
        time: SimTime,
        frame: FrameId,
        link: LinkId,
        queue_bytes: u64,
        departs: SimTime,
        series: bool,
    ) {
        let Some((sender, len)) = self.sender(frame) else {
            return;
        };
        let Some((to, params)) = direction(topo, link, sender) else {
            return;
        };
        let delay = drop_tail_delay(time, departs, len, params.bandwidth_bps);
        let d = self.dir((sender, to), link, params);
        d.queued |= queue_bytes > 0;
        d.histogram.add(delay);
        if series {
            d.delays.push((time, delay));
        }
    }

    /// An active queue's [`TraceEvent::FrameEnqueued`](crate::trace::TraceEvent::FrameEnqueued).
    pub(super) fn enqueued(&mut self, topo: &Topology, frame: FrameId, link: LinkId) {
        self.active = true;
        let Some((sender, _)) = self.sender(frame) else {
            return;
        };
        if let Some((to, params)) = direction(topo, link, sender) {
            self.dir((sender, to), link, params);
            self.in_active_queue.insert(frame, (sender, to));
        }
    }

    /// An active queue's [`TraceEvent::FrameDequeued`](crate::trace::TraceEvent::FrameDequeued).
    pub(super) fn dequeued(
        &mut self,
        time: SimTime,
        frame: FrameId,
        waited: SimDuration,
        series: bool,
    ) {
        self.active = true;
        let Some(key) = self.in_active_queue.remove(&frame) else {
            return;
        };
        let d = self.dirs.entry(key).or_default();
        d.queued |= !waited.is_zero();
        d.histogram.add(waited);
        if series {
            let entered = SimTime::from_nanos(time.as_nanos().saturating_sub(waited.as_nanos()));
            d.delays.push((entered, waited));
        }
    }

    /// A frame's hop ended: dropped (on the direction `from` → `to`, for
    /// `reason`) or delivered (`dropped` is `None`).
    pub(super) fn ended(
        &mut self,
        time: SimTime,
        frame: FrameId,
        dropped: Option<(HostId, HostId, DropReason)>,
        series: bool,
    ) {
        self.in_active_queue.remove(&frame);
        if let Some((from, to, reason)) = dropped {
            let d = self.dirs.entry((from, to)).or_default();
            *d.drops.entry(reason).or_insert(0) += 1;
            if series {
                d.drop_times.push((time, reason));
            }
        }
    }

    /// The bottlenecks, with the flows of `conns` that crossed each.
    pub(super) fn finish(self, conns: &[ConnState], clock: Clock, end: SimTime) -> Vec<Bottleneck> {
        let mut out = Vec::new();
        for ((from, to), mut d) in self.dirs {
            let Some(link) = d.link.filter(|_| d.queued) else {
                continue;
            };
            // An active queue's frames leave in another order than they came.
            d.delays.sort_by_key(|(t, _)| *t);
            let crossing: Vec<(usize, bool, &Flow)> = conns
                .iter()
                .flat_map(|c| {
                    [(true, &c.conn.to_server), (false, &c.conn.to_client)]
                        .map(|(to_server, f)| (c.conn.number, to_server, f))
                })
                .filter(|(_, _, f)| f.counts.hops.contains(&(from, to)))
                .collect();
            let (flows, window) = shares(&crossing, clock, end);
            let jain =
                window.and_then(|_| jain_index(&flows.iter().map(|f| f.bytes).collect::<Vec<_>>()));
            out.push(Bottleneck {
                from,
                to,
                link,
                qdisc: d.qdisc,
                delay: d.histogram.stats(),
                delays: d.delays,
                drops: d.drops,
                drop_times: d.drop_times,
                flows,
                window,
                jain,
            });
        }
        out
    }
}

/// Each crossing flow's bytes over the window when all were transferring
/// (see the module's documentation), and the window.
fn shares(
    crossing: &[(usize, bool, &Flow)],
    clock: Clock,
    end: SimTime,
) -> (Vec<SharedFlow>, Option<(SimTime, SimTime)>) {
    // Every crossing flow has a span: it sent payload.
    let spans: Vec<Option<(SimTime, SimTime)>> =
        crossing.iter().map(|(_, _, f)| f.active_span()).collect();
    let start = spans.iter().flatten().map(|s| s.0).max();
    let stop = spans.iter().flatten().map(|s| s.1).min();
    let window = match (start, stop) {
        (Some(s), Some(e)) if crossing.len() >= 2 && s < e => {
            let (first, last) = (clock.index(s), clock.index(e));
            let until = clock.start(last.saturating_add(1)).min(end);
            Some((first, last, clock.start(first), until))
        }
        _ => None,
    };
    let flows = crossing
        .iter()
        .zip(&spans)
        .map(|(&(connection, to_server, f), span)| {
            let (bytes, over) = match window {
                Some((first, last, from, until)) => {
                    (f.counts.goodput.sum(first, last), until - from)
                }
                None => (
                    f.counts.acked_data,
                    span.map_or(SimDuration::ZERO, |(a, b)| b - a),
                ),
            };
            SharedFlow {
                connection,
                to_server,
                bytes,
                over,
            }
        })
        .collect();
    (flows, window.map(|(_, _, from, until)| (from, until)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jains_index_goes_from_one_over_n_to_one() {
        assert_eq!(jain_index(&[5, 5]), Some(1.0));
        assert_eq!(jain_index(&[3, 1]), Some(0.8));
        assert_eq!(jain_index(&[7]), Some(1.0));
        assert_eq!(jain_index(&[1, 0, 0, 0]), Some(0.25));
        assert_eq!(jain_index(&[0, 0]), None);
        assert_eq!(jain_index(&[]), None);
    }

    #[test]
    fn a_window_where_nothing_got_through_gives_no_shares() {
        let flow = |connection| SharedFlow {
            connection,
            to_server: true,
            bytes: 0,
            over: SimDuration::from_millis(100),
        };
        let b = Bottleneck {
            from: HostId(0),
            to: HostId(1),
            link: LinkId(0),
            qdisc: "drop-tail",
            delay: DelayStats::default(),
            delays: Vec::new(),
            drops: BTreeMap::new(),
            drop_times: Vec::new(),
            flows: vec![flow(1), flow(2)],
            window: Some((SimTime::ZERO, SimTime::from_millis(100))),
            jain: None,
        };
        assert_eq!(b.share(&b.flows[0]), None);
        assert_eq!(b.flows[0].bits_per_second(), Some(0.0));
    }

    #[test]
    fn a_drop_tail_delay_leaves_out_the_frames_own_serialisation() {
        let t = SimTime::from_millis;
        // 1500 bytes at 10 Mbit/s: 1.2 ms on the wire.
        let d = drop_tail_delay(t(10), t(15), 1500, Some(10_000_000));
        assert_eq!(d, SimDuration::from_micros(3800));
        // Rounded up as the link rounds it: 1 byte at 3 bit/s is 8/3 s.
        let d = drop_tail_delay(t(0), t(3000), 1, Some(3));
        assert_eq!(d, SimDuration::from_nanos(3_000_000_000 - 2_666_666_667));
        // Never below zero (a bandwidth changed by the timeline), and
        // without a bandwidth, all of it.
        assert_eq!(
            drop_tail_delay(t(10), t(10), 1500, Some(1)),
            SimDuration::ZERO
        );
        assert_eq!(
            drop_tail_delay(t(10), t(12), 1500, None),
            SimDuration::from_millis(2)
        );
        assert_eq!(
            drop_tail_delay(t(10), t(12), 1500, Some(0)),
            SimDuration::from_millis(2)
        );
    }

    #[test]
    fn histogram_buckets_keep_the_order_and_a_quarter_percent() {
        let mut last = 0;
        for v in (0..5000).chain([1 << 20, (1 << 20) + 4095, 1 << 40, u64::MAX]) {
            let k = bucket_key(v);
            assert!(k >= last, "{v}");
            last = k;
        }
        // Exact below 512 ns; above, each bucket is under 1/256 of its values wide.
        assert_ne!(bucket_key(510), bucket_key(511));
        assert_eq!(bucket_key(512), bucket_key(513));
        assert_ne!(bucket_key(512), bucket_key(514));
        assert_eq!(bucket_key(1 << 20), bucket_key((1 << 20) + 4095));
        assert_ne!(bucket_key(1 << 20), bucket_key((1 << 20) + 4096));
    }

    #[test]
    fn percentiles_are_nearest_rank_and_exact_for_separate_delays() {
        let mut h = DelayHistogram::default();
        assert_eq!(h.stats(), DelayStats::default());
        // 1..=100 ms: p50 is the 50th, p99 the 99th.
        for ms in (1..=100).rev() {
            h.add(SimDuration::from_millis(ms));
        }
        let s = h.stats();
        assert_eq!(s.frames, 100);
        assert_eq!(s.p50, SimDuration::from_millis(50));
        assert_eq!(s.p99, SimDuration::from_millis(99));
        assert_eq!(s.max, SimDuration::from_millis(100));
        assert_eq!(s.mean, SimDuration::from_micros(50_500));
        // Delays sharing a bucket are reported as their mean, within it.
        let mut h = DelayHistogram::default();
        for ns in [1_000_000, 1_000_001, 1_000_002] {
            h.add(SimDuration::from_nanos(ns));
        }
        assert_eq!(h.stats().p50, SimDuration::from_nanos(1_000_001));
        assert_eq!(h.stats().max, SimDuration::from_nanos(1_000_002));
    }
}

//! Virtual links.
//!
//! A link joins two hosts. Each direction has its own [`LinkParams`] and its
//! own random stream, and decides the fate of every frame handed to it:
//! dropped (and why), or delivered at a computed time — possibly corrupted,
//! duplicated, delayed past its successors. The decision is made when the
//! frame is sent; the world then schedules the arrival.
//!
//! The order of the checks mirrors a real path: the link must be up, the
//! frame must fit the MTU, the sender's queue must have room (drop-tail, in
//! bytes), the frame is serialised at the link's bandwidth, and only on the
//! wire can it be lost, corrupted or duplicated; propagation delay, jitter and
//! reordering decide when it arrives.
//!
//! What links deliberately do not do: routing (a frame goes to the host at
//! the other end or nowhere), fragmentation, or anything above IP.

use crate::qdisc::Qdisc;
use crate::rng::{Probability, SimRng};
use crate::time::{SimDuration, SimTime};
use rand::Rng;
use std::collections::VecDeque;
use std::fmt;

/// Per-direction behaviour of a link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way propagation delay.
    pub latency: SimDuration,
    /// Extra delay drawn uniformly from `0..=jitter` for every frame.
    pub jitter: SimDuration,
    /// Whether jitter may reorder frames. When false, a frame never arrives
    /// before one sent earlier in the same direction (jitter only bunches).
    pub jitter_reorders: bool,
    /// Independent loss probability per frame.
    pub loss: Probability,
    /// Bursty loss (Gilbert-Elliott); applied in addition to `loss`.
    pub burst_loss: Option<GilbertElliott>,
    /// Probability that a frame is delivered twice.
    pub duplicate: Probability,
    /// Probability that a frame is held back by `reorder_delay`, so later
    /// frames overtake it.
    pub reorder: Probability,
    /// How long a reordered frame is held back.
    pub reorder_delay: SimDuration,
    /// Probability that one random bit of the frame is flipped.
    pub corrupt: Probability,
    /// Bandwidth in bits per second; `None` means frames take no time to serialise.
    pub bandwidth_bps: Option<u64>,
    /// Bytes that may wait behind the frame being serialised before new
    /// frames are dropped (drop-tail). Only meaningful with a bandwidth.
    pub queue_bytes_max: u64,
    /// Largest IP packet the link carries; bigger ones are dropped.
    pub mtu: usize,
    /// What the sending end does with frames that wait (drop-tail unless
    /// set; an active queue needs a bandwidth to have a queue at all).
    pub qdisc: Qdisc,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            latency: SimDuration::ZERO,
            jitter: SimDuration::ZERO,
            jitter_reorders: false,
            loss: Probability::ZERO,
            burst_loss: None,
            duplicate: Probability::ZERO,
            reorder: Probability::ZERO,
            reorder_delay: SimDuration::ZERO,
            corrupt: Probability::ZERO,
            bandwidth_bps: None,
            queue_bytes_max: 64 * 1024,
            mtu: 1500,
            qdisc: Qdisc::DropTail,
        }
    }
}

impl LinkParams {
    /// A perfect link with the given one-way latency.
    pub fn with_latency(latency: SimDuration) -> LinkParams {
        LinkParams {
            latency,
            ..LinkParams::default()
        }
    }
}

/// A change to some of a link direction's parameters, applied at a point in
/// simulated time. Fields left `None` keep their current value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkPatch {
    /// New latency.
    pub latency: Option<SimDuration>,
    /// New jitter.
    pub jitter: Option<SimDuration>,
    /// New jitter reordering switch.
    pub jitter_reorders: Option<bool>,
    /// New independent loss.
    pub loss: Option<Probability>,
    /// New bursty loss (`Some(None)` switches it off).
    pub burst_loss: Option<Option<GilbertElliott>>,
    /// New duplication probability.
    pub duplicate: Option<Probability>,
    /// New reordering probability.
    pub reorder: Option<Probability>,
    /// New reordering delay.
    pub reorder_delay: Option<SimDuration>,
    /// New corruption probability.
    pub corrupt: Option<Probability>,
    /// New bandwidth (`Some(None)` removes the limit).
    pub bandwidth_bps: Option<Option<u64>>,
    /// New queue limit.
    pub queue_bytes_max: Option<u64>,
    /// New MTU.
    pub mtu: Option<usize>,
    /// New queue discipline.
    pub qdisc: Option<Qdisc>,
}

impl LinkPatch {
    /// Applies the patch.
    pub fn apply(&self, p: &mut LinkParams) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { p.$f = v.clone(); } )* };
        }
        set!(
            latency,
            jitter,
            jitter_reorders,
            loss,
            burst_loss,
            duplicate,
            reorder,
            reorder_delay,
            corrupt,
            bandwidth_bps,
            queue_bytes_max,
            mtu,
            qdisc
        );
    }

    /// A short description of what changes, e.g. `loss=10% latency=50ms`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.latency {
            parts.push(format!("latency={v}"));
        }
        if let Some(v) = self.jitter {
            parts.push(format!("jitter={v}"));
        }
        if let Some(v) = self.jitter_reorders {
            parts.push(format!("jitter_reorders={v}"));
        }
        if let Some(v) = self.loss {
            parts.push(format!("loss={v}"));
        }
        if let Some(v) = &self.burst_loss {
            match v {
                Some(ge) => parts.push(format!("burst_loss=({ge})")),
                None => parts.push("burst_loss=off".into()),
            }
        }
        if let Some(v) = self.duplicate {
            parts.push(format!("duplicate={v}"));
        }
        if let Some(v) = self.reorder {
            parts.push(format!("reorder={v}"));
        }
        if let Some(v) = self.reorder_delay {
            parts.push(format!("reorder_delay={v}"));
        }
        if let Some(v) = self.corrupt {
            parts.push(format!("corrupt={v}"));
        }
        if let Some(v) = self.bandwidth_bps {
            match v {
                Some(bps) => parts.push(format!("bandwidth={}", format_bps(bps))),
                None => parts.push("bandwidth=unlimited".into()),
            }
        }
        if let Some(v) = self.queue_bytes_max {
            parts.push(format!("queue={v}B"));
        }
        if let Some(v) = self.mtu {
            parts.push(format!("mtu={v}"));
        }
        if let Some(v) = &self.qdisc {
            parts.push(format!("qdisc={}", v.name()));
        }
        parts.join(" ")
    }
}

/// Formats a bit rate with the largest exact unit: `10Mbps`, `1.5Gbps`, `64kbps`.
pub fn format_bps(bps: u64) -> String {
    for (unit, scale) in [
        ("Gbps", 1_000_000_000u64),
        ("Mbps", 1_000_000),
        ("kbps", 1_000),
    ] {
        if bps >= scale {
            if bps.is_multiple_of(scale) {
                return format!("{}{unit}", bps / scale);
            }
            return format!("{:.3}", bps as f64 / scale as f64)
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
                + unit;
        }
    }
    format!("{bps}bps")
}

/// The Gilbert-Elliott bursty-loss model: a two-state Markov chain.
///
/// In the good state frames are lost with `loss_good`, in the bad state with
/// `loss_bad`. Before each frame the chain moves good→bad with `p_enter_bad`
/// and bad→good with `p_exit_bad`; the mean burst lasts `1/p_exit_bad` frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from the good to the bad state, per frame.
    pub p_enter_bad: Probability,
    /// Probability of moving from the bad back to the good state, per frame.
    pub p_exit_bad: Probability,
    /// Loss probability in the good state.
    pub loss_good: Probability,
    /// Loss probability in the bad state.
    pub loss_bad: Probability,
}

impl fmt::Display for GilbertElliott {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "enter={} exit={} loss_good={} loss_bad={}",
            self.p_enter_bad, self.p_exit_bad, self.loss_good, self.loss_bad
        )
    }
}

/// Why a frame never arrived.
///
/// New kinds of fault may add reasons: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// Random loss on the wire.
    Loss,
    /// Bursty (Gilbert-Elliott) loss on the wire.
    BurstLoss,
    /// The sender's link queue was full (drop-tail).
    QueueFull,
    /// The frame was larger than the link's MTU.
    Mtu,
    /// The link was down when the frame was sent or while it was in flight.
    LinkDown,
    /// The two hosts were partitioned.
    Partition,
    /// No link leads to the destination address.
    NoRoute,
    /// The destination host was crashed.
    HostDown,
    /// A targeted fault dropped it.
    Fault,
    /// A router got it with a TTL of 1 (or 0): it answers with ICMP time
    /// exceeded.
    TtlExceeded,
    /// An active queue (CoDel, fq_codel) dropped it at the head because the
    /// queue had stood above its target delay for too long.
    Aqm,
    /// A NAT had no mapping for it (never made, or forgotten after its idle
    /// timeout).
    NatNoMapping,
}

impl DropReason {
    /// Short, stable name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::BurstLoss => "burst-loss",
            DropReason::QueueFull => "queue-full",
            DropReason::Mtu => "mtu",
            DropReason::LinkDown => "link-down",
            DropReason::Partition => "partition",
            DropReason::NoRoute => "no-route",
            DropReason::HostDown => "host-down",
            DropReason::Fault => "fault",
            DropReason::TtlExceeded => "ttl-exceeded",
            DropReason::Aqm => "aqm",
            DropReason::NatNoMapping => "nat-no-mapping",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a link direction decided for one frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// The frame is gone.
    Dropped(DropReason),
    /// The frame will arrive.
    Deliver(Delivery),
}

/// The arrival plan for a frame that survives the link.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Bytes waiting in the queue ahead of this frame when it was enqueued
    /// (`None` when the link has no bandwidth limit and so no queue).
    pub queued_behind_bytes: Option<u64>,
    /// When the last bit leaves the sender.
    pub departs: SimTime,
    /// When the frame arrives at the other end.
    pub arrives: SimTime,
    /// Held back by the reordering fault, by this much.
    pub reordered_by: Option<SimDuration>,
    /// The bit flipped by the corruption fault.
    pub corrupt_bit: Option<u32>,
    /// A second copy arrives at this time.
    pub duplicate_arrives: Option<SimTime>,
}

/// One direction of a link: its parameters, its queue, its random stream.
#[derive(Debug)]
pub struct LinkDirection {
    params: LinkParams,
    rng: SimRng,
    /// When the transmitter finishes serialising the frames already accepted.
    busy_until: SimTime,
    /// (serialisation start, size) of frames accepted but not yet departed.
    in_queue: VecDeque<(SimTime, SimTime, u64)>,
    /// Arrival time of the latest frame, for order-preserving jitter.
    last_arrival: SimTime,
    /// Gilbert-Elliott state: true while in the bad state.
    burst_bad: bool,
}

impl LinkDirection {
    /// A direction with `params`, drawing from `rng`.
    pub fn new(params: LinkParams, rng: SimRng) -> LinkDirection {
        LinkDirection {
            params,
            rng,
            busy_until: SimTime::ZERO,
            in_queue: VecDeque::new(),
            last_arrival: SimTime::ZERO,
            burst_bad: false,
        }
    }

    /// The current parameters.
    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    /// Changes the parameters from now on. Frames already accepted keep
    /// their computed fate.
    pub fn apply(&mut self, patch: &LinkPatch) {
        patch.apply(&mut self.params);
    }

    /// Bytes waiting to be serialised at `now` (not counting the frame on the wire).
    pub fn queue_bytes(&mut self, now: SimTime) -> u64 {
        while let Some(&(_, end, _)) = self.in_queue.front() {
            if end <= now {
                self.in_queue.pop_front();
            } else {
                break;
            }
        }
        self.in_queue
            .iter()
            .filter(|(start, _, _)| *start > now)
            .map(|(_, _, len)| *len)
            .sum()
    }

    /// How long `len` bytes take to serialise at the link's bandwidth
    /// (zero without one), rounded up to the nanosecond.
    pub fn serialization(&self, len: usize) -> SimDuration {
        match self.params.bandwidth_bps {
            Some(bps) if bps > 0 => {
                let nanos = (len as u128 * 8 * 1_000_000_000).div_ceil(u128::from(bps));
                SimDuration::from_nanos(nanos as u64)
            }
            _ => SimDuration::ZERO,
        }
    }

    /// Decides the fate of a frame of `len` bytes sent at `now`.
    pub fn transmit(&mut self, now: SimTime, len: usize) -> Fate {
        let p = &self.params;
        if len > p.mtu {
            return Fate::Dropped(DropReason::Mtu);
        }

        // Serialisation and the drop-tail queue.
        let (departs, queued_behind_bytes) = match p.bandwidth_bps {
            Some(bps) if bps > 0 => {
                let waiting = self.queue_bytes(now);
                let p = &self.params;
                if self.busy_until > now && waiting + len as u64 > p.queue_bytes_max {
                    return Fate::Dropped(DropReason::QueueFull);
                }
                let start = self.busy_until.max(now);
                let bits = len as u128 * 8;
                let nanos = (bits * 1_000_000_000).div_ceil(u128::from(bps));
                let end = start + SimDuration::from_nanos(nanos as u64);
                self.busy_until = end;
                self.in_queue.push_back((start, end, len as u64));
                (end, Some(waiting))
            }
            _ => (now, None),
        };

        self.wire(departs, queued_behind_bytes, len)
    }

    /// What happens to a frame whose last bit leaves at `departs`: loss on
    /// the wire, corruption, propagation, jitter, reordering, duplication
    /// (the part of [`transmit`](Self::transmit) after the queue; an active
    /// queue calls it when the frame leaves its head).
    pub fn wire(&mut self, departs: SimTime, queued_behind_bytes: Option<u64>, len: usize) -> Fate {
        // Loss on the wire: bursty first (it has state), then independent.
        let p = self.params.clone();
        if let Some(ge) = p.burst_loss {
            if self.burst_bad {
                if ge.p_exit_bad.sample(&mut self.rng) {
                    self.burst_bad = false;
                }
            } else if ge.p_enter_bad.sample(&mut self.rng) {
                self.burst_bad = true;
            }
            let loss = if self.burst_bad {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            if loss.sample(&mut self.rng) {
                return Fate::Dropped(DropReason::BurstLoss);
            }
        }
        if p.loss.sample(&mut self.rng) {
            return Fate::Dropped(DropReason::Loss);
        }

        let corrupt_bit = if p.corrupt.sample(&mut self.rng) {
            Some(self.rng.random_range(0..(len as u32 * 8).max(1)))
        } else {
            None
        };

        let mut arrives = departs + p.latency;
        if !p.jitter.is_zero() {
            let extra = self.rng.random_range(0..=p.jitter.as_nanos());
            arrives += SimDuration::from_nanos(extra);
        }
        let reordered_by = if p.reorder.sample(&mut self.rng) {
            arrives += p.reorder_delay;
            Some(p.reorder_delay)
        } else {
            if !p.jitter_reorders {
                // Keep FIFO order among frames that are not deliberately reordered.
                arrives = arrives.max(self.last_arrival);
            }
            self.last_arrival = self.last_arrival.max(arrives);
            None
        };

        let duplicate_arrives = if p.duplicate.sample(&mut self.rng) {
            Some(arrives)
        } else {
            None
        };

        Fate::Deliver(Delivery {
            queued_behind_bytes,
            departs,
            arrives,
            reordered_by,
            corrupt_bit,
            duplicate_arrives,
        })
    }
}

/// Which way a frame crosses a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From the first host named in the link to the second.
    AtoB,
    /// From the second host to the first.
    BtoA,
}

impl Direction {
    /// Index into a two-element array.
    pub fn index(self) -> usize {
        match self {
            Direction::AtoB => 0,
            Direction::BtoA => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    fn dir(params: LinkParams) -> LinkDirection {
        LinkDirection::new(params, Seed(1).stream("test"))
    }

    fn deliver(f: Fate) -> Delivery {
        match f {
            Fate::Deliver(d) => d,
            Fate::Dropped(r) => panic!("dropped: {r}"),
        }
    }

    #[test]
    fn latency_only_delivers_after_latency() {
        let mut d = dir(LinkParams::with_latency(SimDuration::from_millis(10)));
        let got = deliver(d.transmit(SimTime::from_millis(5), 100));
        assert_eq!(got.arrives, SimTime::from_millis(15));
        assert_eq!(got.queued_behind_bytes, None);
    }

    #[test]
    fn bandwidth_serialises_and_queues_drop_tail() {
        // 1000 bytes at 8 Mbit/s take exactly 1 ms to serialise.
        let mut d = dir(LinkParams {
            bandwidth_bps: Some(8_000_000),
            queue_bytes_max: 2000,
            latency: SimDuration::from_millis(1),
            ..LinkParams::default()
        });
        let t0 = SimTime::ZERO;
        let a = deliver(d.transmit(t0, 1000));
        assert_eq!(a.departs, SimTime::from_millis(1));
        assert_eq!(a.arrives, SimTime::from_millis(2));
        let b = deliver(d.transmit(t0, 1000));
        assert_eq!(b.departs, SimTime::from_millis(2));
        assert_eq!(b.queued_behind_bytes, Some(0));
        let c = deliver(d.transmit(t0, 1000));
        assert_eq!(c.queued_behind_bytes, Some(1000));
        // Two frames wait behind the one on the wire: the queue is full.
        assert_eq!(d.transmit(t0, 1000), Fate::Dropped(DropReason::QueueFull));
        // Once the first has left, there is room again.
        assert!(matches!(
            d.transmit(SimTime::from_millis(2), 1000),
            Fate::Deliver(_)
        ));
    }

    #[test]
    fn mtu_is_enforced() {
        let mut d = dir(LinkParams {
            mtu: 576,
            ..LinkParams::default()
        });
        assert_eq!(
            d.transmit(SimTime::ZERO, 577),
            Fate::Dropped(DropReason::Mtu)
        );
        assert!(matches!(d.transmit(SimTime::ZERO, 576), Fate::Deliver(_)));
    }

    #[test]
    fn jitter_without_reordering_keeps_fifo() {
        let mut d = dir(LinkParams {
            latency: SimDuration::from_millis(10),
            jitter: SimDuration::from_millis(50),
            ..LinkParams::default()
        });
        let mut last = SimTime::ZERO;
        for i in 0..1000 {
            let got = deliver(d.transmit(SimTime::from_micros(i * 100), 100));
            assert!(got.arrives >= last);
            last = got.arrives;
        }
    }

    #[test]
    fn jitter_with_reordering_reorders() {
        let mut d = dir(LinkParams {
            latency: SimDuration::from_millis(10),
            jitter: SimDuration::from_millis(50),
            jitter_reorders: true,
            ..LinkParams::default()
        });
        let arrivals: Vec<SimTime> = (0..1000)
            .map(|i| deliver(d.transmit(SimTime::from_micros(i * 100), 100)).arrives)
            .collect();
        assert!(arrivals.windows(2).any(|w| w[1] < w[0]));
    }

    #[test]
    fn loss_rate_is_close_to_its_probability() {
        let mut d = dir(LinkParams {
            loss: Probability::from_percent(10.0),
            ..LinkParams::default()
        });
        let lost = (0..20_000)
            .filter(|_| matches!(d.transmit(SimTime::ZERO, 100), Fate::Dropped(_)))
            .count();
        assert!((1_800..2_200).contains(&lost), "{lost}");
    }

    #[test]
    fn burst_loss_comes_in_runs() {
        let mut d = dir(LinkParams {
            burst_loss: Some(GilbertElliott {
                p_enter_bad: Probability::from_percent(1.0),
                p_exit_bad: Probability::from_percent(20.0),
                loss_good: Probability::ZERO,
                loss_bad: Probability::ONE,
            }),
            ..LinkParams::default()
        });
        let lost: Vec<bool> = (0..50_000)
            .map(|_| matches!(d.transmit(SimTime::ZERO, 100), Fate::Dropped(_)))
            .collect();
        let losses = lost.iter().filter(|&&l| l).count();
        let runs = lost.windows(2).filter(|w| w[1] && !w[0]).count();
        // Mean burst length is 1/p_exit = 5 frames; independent loss would give ~1.
        let mean_run = losses as f64 / runs as f64;
        assert!(mean_run > 3.0, "mean run {mean_run}");
    }

    #[test]
    fn duplication_corruption_and_reordering_are_reported() {
        let mut d = dir(LinkParams {
            duplicate: Probability::ONE,
            corrupt: Probability::ONE,
            reorder: Probability::ONE,
            reorder_delay: SimDuration::from_millis(5),
            ..LinkParams::default()
        });
        let got = deliver(d.transmit(SimTime::ZERO, 100));
        assert!(got.duplicate_arrives.is_some());
        assert!(got.corrupt_bit.unwrap() < 800);
        assert_eq!(got.reordered_by, Some(SimDuration::from_millis(5)));
        assert_eq!(got.arrives, SimTime::from_millis(5));
    }

    #[test]
    fn patch_changes_only_named_fields() {
        let mut p = LinkParams::with_latency(SimDuration::from_millis(10));
        let patch = LinkPatch {
            loss: Some(Probability::from_percent(5.0)),
            ..LinkPatch::default()
        };
        patch.apply(&mut p);
        assert_eq!(p.latency, SimDuration::from_millis(10));
        assert_eq!(p.loss, Probability::from_percent(5.0));
        assert_eq!(patch.describe(), "loss=5%");
    }

    #[test]
    fn bit_rates_format_readably() {
        assert_eq!(format_bps(10_000_000), "10Mbps");
        assert_eq!(format_bps(1_500_000_000), "1.5Gbps");
        assert_eq!(format_bps(64_000), "64kbps");
        assert_eq!(format_bps(300), "300bps");
    }
}

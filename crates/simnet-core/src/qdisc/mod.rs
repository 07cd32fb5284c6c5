//! Queue disciplines: what a link's sending end does with frames that wait
//! for the wire.
//!
//! Drop-tail (the default) is decided when a frame is handed to the link
//! ([`crate::link::LinkDirection::transmit`]): the queue is first in, first
//! out, so a frame's departure is known at once. An active queue decides at
//! the head: CoDel drops a frame that waited too long, fq_codel keeps a
//! queue per flow and serves them in turn. Their queues live here, as data
//! the world feeds and drains ([`AqmQueue`]), and know nothing of links,
//! hosts or the trace: the world passes the time of every call.

use std::collections::{BTreeMap, VecDeque};

use crate::time::{SimDuration, SimTime};

/// A link direction's queue discipline.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Qdisc {
    /// First in, first out; a frame that does not fit in the queue's bytes
    /// is dropped on arrival.
    #[default]
    DropTail,
    /// CoDel (RFC 8289): one FIFO whose head is dropped while frames have
    /// been waiting longer than `target` for at least `interval`.
    Codel(CodelParams),
    /// fq_codel (RFC 8290): frames hashed by flow into separate CoDel
    /// queues, served by deficit round robin with new flows first.
    FqCodel(FqCodelParams),
}

/// CoDel's two parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodelParams {
    /// The standing queue delay CoDel tolerates (5 ms by default).
    pub target: SimDuration,
    /// How long the delay must stay above `target` before CoDel drops
    /// (100 ms by default; about a worst-case round trip).
    pub interval: SimDuration,
}

impl Default for CodelParams {
    fn default() -> Self {
        CodelParams {
            target: SimDuration::from_millis(5),
            interval: SimDuration::from_millis(100),
        }
    }
}

/// fq_codel's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FqCodelParams {
    /// Each flow queue's CoDel.
    pub codel: CodelParams,
    /// Number of flow queues (1024 by default).
    pub flows: u32,
    /// Bytes a flow may send per round (1514 by default).
    pub quantum: u32,
}

impl Default for FqCodelParams {
    fn default() -> Self {
        FqCodelParams {
            codel: CodelParams::default(),
            flows: 1024,
            quantum: 1514,
        }
    }
}

impl Qdisc {
    /// Short name: `drop-tail`, `codel`, `fq_codel`.
    pub fn name(&self) -> &'static str {
        match self {
            Qdisc::DropTail => "drop-tail",
            Qdisc::Codel(_) => "codel",
            Qdisc::FqCodel(_) => "fq_codel",
        }
    }
}

/// RFC 8289's `maxpacket`: while the queue holds at most this many bytes
/// (one full Ethernet frame, 1500 bytes of IP and a 14-byte header, as
/// Linux's `psched_mtu`), CoDel does not count its delay as standing,
/// whatever the head waited: on a link so slow that one frame takes longer
/// than `target` to send, the delay is the link's, not a queue's.
const MAX_PACKET: u64 = 1514;

/// An active queue (CoDel or fq_codel) holding items of type `T` (the
/// world's frames).
///
/// It is pure data: the world gives it the time of every call and gets back
/// the item to send with how long it waited, and the items it dropped on the
/// way. Items dropped by [`AqmQueue::enqueue`] found the queue full (its
/// byte limit); items dropped by [`AqmQueue::dequeue`] were dropped at the
/// head by CoDel. Everything is integer arithmetic on nanoseconds, in an
/// order fixed by the calls: the same calls give the same answers.
#[derive(Clone, Debug)]
pub struct AqmQueue<T> {
    /// The byte capacity, all flows together.
    limit: u64,
    /// Bytes and items queued, all flows together.
    totals: Totals,
    /// The arrival number of the next item (keeps arrival order when
    /// [`AqmQueue::set_params`] regroups the items).
    next_seq: u64,
    discipline: Discipline<T>,
}

/// Bytes and items queued, all flows together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    bytes: u64,
    len: usize,
}

#[derive(Clone, Debug)]
enum Discipline<T> {
    /// One FIFO with one CoDel state.
    Codel {
        params: CodelParams,
        queue: FlowQueue<T>,
    },
    FqCodel(FqCodel<T>),
}

/// One queued item.
#[derive(Clone, Debug)]
struct Entry<T> {
    item: T,
    /// When it was enqueued (its sojourn starts here).
    enqueued: SimTime,
    len: u32,
    /// The flow hash the world gave (kept to regroup items when the
    /// number of flow queues changes).
    flow: u64,
    /// Arrival number.
    seq: u64,
}

/// RFC 8289's per-queue state, named as in its pseudocode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CodelVars {
    /// When the head's sojourn time will have been above target for a whole
    /// interval; `None` is the RFC's 0 ("not above target"), so that a run
    /// starting at time zero cannot confuse the two.
    first_above_time: Option<SimTime>,
    /// When the next drop is due while dropping.
    drop_next: SimTime,
    /// Drops in the current dropping state (the control law's count).
    count: u32,
    /// `count` when the last dropping state was entered.
    lastcount: u32,
    /// Whether CoDel is in its dropping state.
    dropping: bool,
}

/// A FIFO of items with its own CoDel state: CoDel's only queue, or one of
/// fq_codel's flow queues.
#[derive(Clone, Debug)]
struct FlowQueue<T> {
    items: VecDeque<Entry<T>>,
    /// Bytes queued in this queue (Linux's `backlogs[idx]`).
    bytes: u64,
    vars: CodelVars,
    /// fq_codel: bytes this flow may still send in this round (signed, as
    /// Linux's `deficit`); unused by CoDel.
    deficit: i64,
    /// fq_codel: whether the flow is on the new-flows or the old-flows
    /// list (Linux's non-empty `flowchain`); unused by CoDel.
    listed: bool,
}

/// fq_codel's state: the flow queues that have been used, by index, and
/// the two lists of RFC 8290 holding the indices of active flows.
#[derive(Clone, Debug)]
struct FqCodel<T> {
    params: FqCodelParams,
    /// Only flows that have been used exist (at most `params.flows`).
    flows: BTreeMap<u32, FlowQueue<T>>,
    new_flows: VecDeque<u32>,
    old_flows: VecDeque<u32>,
}

impl<T> AqmQueue<T> {
    /// An empty active queue for `qdisc`, which is [`Qdisc::Codel`] or
    /// [`Qdisc::FqCodel`]; `None` for [`Qdisc::DropTail`], which is not an
    /// active queue (the link keeps drop-tail queues itself).
    ///
    /// `limit_bytes` is the queue's capacity in bytes, all flows together.
    /// fq_codel's `flows` of 0 counts as 1 (one flow queue for all) and its
    /// `quantum` of 0 as 1 byte.
    pub fn new(qdisc: &Qdisc, limit_bytes: u64) -> Option<AqmQueue<T>> {
        Some(AqmQueue {
            limit: limit_bytes,
            totals: Totals::default(),
            next_seq: 0,
            discipline: Discipline::new(qdisc)?,
        })
    }

    /// Changes the parameters from now on (a timeline patch); the items
    /// stay queued, even beyond a lower limit (the next arrivals find the
    /// queue full).
    ///
    /// A new `target`, `interval` or `quantum` keeps every CoDel state and
    /// deficit and applies from the next call. A change of discipline
    /// (CoDel to fq_codel or back) or of fq_codel's number of flows
    /// regroups the queued items, in their arrival order and with their
    /// enqueue times, into fresh queues with fresh CoDel states (as if they
    /// had arrived in the new queue, without any limit check). For
    /// [`Qdisc::DropTail`] only the limit changes: the world replaces an
    /// active queue by drop-tail by draining it, not here.
    pub fn set_params(&mut self, qdisc: &Qdisc, limit_bytes: u64) {
        self.limit = limit_bytes;
        match (qdisc, &mut self.discipline) {
            (Qdisc::DropTail, _) => {}
            (Qdisc::Codel(new), Discipline::Codel { params, .. }) => *params = *new,
            (Qdisc::FqCodel(new), Discipline::FqCodel(fq)) if new.flows == fq.params.flows => {
                fq.params = *new;
            }
            (Qdisc::Codel(_) | Qdisc::FqCodel(_), _) => {
                let Some(fresh) = Discipline::new(qdisc) else {
                    return;
                };
                let old = std::mem::replace(&mut self.discipline, fresh);
                self.totals = Totals::default();
                for entry in old.into_entries() {
                    self.discipline.push(entry, &mut self.totals);
                }
            }
        }
    }

    /// Adds `item`, of `len` bytes and belonging to flow `flow` (a hash of
    /// its 5-tuple), at time `now`. Items dropped to make room are appended
    /// to `dropped`.
    ///
    /// CoDel drops the arriving item itself when it does not fit in the
    /// limit (drop-tail on overflow). fq_codel puts the item in flow queue
    /// `flow % flows`, then, as Linux's `fq_codel_drop`, drops the head of
    /// the flow queue with the most bytes (the lowest index on a tie) until
    /// the queue is within its limit again; that may be the new item's own
    /// flow, and the new item itself when it is alone in it (an item larger
    /// than the limit never stays). Each such drop adds one to that flow's
    /// CoDel count, as in Linux. Unlike Linux, which drops half of the
    /// fattest flow's backlog at once (at most 64 items) and bounds packets
    /// as well as memory, this drops one head at a time and looks for the
    /// fattest flow again each time. Finding it scans the flow queues that
    /// have been used (at most `flows`), only when the queue overflows.
    pub fn enqueue(&mut self, now: SimTime, item: T, len: u32, flow: u64, dropped: &mut Vec<T>) {
        let entry = Entry {
            item,
            enqueued: now,
            len,
            flow,
            seq: self.next_seq,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        match &mut self.discipline {
            Discipline::Codel { queue, .. } => {
                if self.totals.bytes.saturating_add(u64::from(len)) > self.limit {
                    dropped.push(entry.item);
                } else {
                    queue.push_back(entry, &mut self.totals);
                }
            }
            Discipline::FqCodel(fq) => {
                fq.push(entry, &mut self.totals);
                while self.totals.bytes > self.limit {
                    if !fq.drop_fattest_head(&mut self.totals, dropped) {
                        break;
                    }
                }
            }
        }
    }

    /// The item to send at `now` and how long it waited (`now` minus its
    /// enqueue time, zero if `now` is earlier). Items CoDel drops at the
    /// head on the way are appended to `dropped`, in the order dropped.
    ///
    /// `None` when the queue is empty (or CoDel dropped everything); CoDel's
    /// state is then updated as RFC 8289 says for an empty queue: no longer
    /// above target, no longer dropping.
    pub fn dequeue(&mut self, now: SimTime, dropped: &mut Vec<T>) -> Option<(T, SimDuration)> {
        let entry = match &mut self.discipline {
            Discipline::Codel { params, queue } => {
                codel_dequeue(queue, &mut self.totals, params, now, dropped)
            }
            Discipline::FqCodel(fq) => fq.dequeue(&mut self.totals, now, dropped),
        }?;
        Some((entry.item, now.saturating_since(entry.enqueued)))
    }

    /// Bytes queued, all flows together.
    pub fn bytes(&self) -> u64 {
        self.totals.bytes
    }

    /// Items queued, all flows together.
    pub fn len(&self) -> usize {
        self.totals.len
    }

    /// Whether no item is queued.
    pub fn is_empty(&self) -> bool {
        self.totals.len == 0
    }
}

impl<T> Discipline<T> {
    fn new(qdisc: &Qdisc) -> Option<Discipline<T>> {
        match qdisc {
            Qdisc::DropTail => None,
            Qdisc::Codel(params) => Some(Discipline::Codel {
                params: *params,
                queue: FlowQueue::new(),
            }),
            Qdisc::FqCodel(params) => Some(Discipline::FqCodel(FqCodel {
                params: *params,
                flows: BTreeMap::new(),
                new_flows: VecDeque::new(),
                old_flows: VecDeque::new(),
            })),
        }
    }

    /// Adds an entry without any limit check (regrouping).
    fn push(&mut self, entry: Entry<T>, totals: &mut Totals) {
        match self {
            Discipline::Codel { queue, .. } => queue.push_back(entry, totals),
            Discipline::FqCodel(fq) => fq.push(entry, totals),
        }
    }

    /// Every queued entry, in arrival order.
    fn into_entries(self) -> Vec<Entry<T>> {
        match self {
            Discipline::Codel { queue, .. } => queue.items.into(),
            Discipline::FqCodel(fq) => {
                let mut all: Vec<Entry<T>> = fq
                    .flows
                    .into_values()
                    .flat_map(|q| q.items.into_iter())
                    .collect();
                all.sort_by_key(|e| e.seq);
                all
            }
        }
    }
}

impl<T> FlowQueue<T> {
    fn new() -> FlowQueue<T> {
        FlowQueue {
            items: VecDeque::new(),
            bytes: 0,
            vars: CodelVars::default(),
            deficit: 0,
            listed: false,
        }
    }

    fn push_back(&mut self, entry: Entry<T>, totals: &mut Totals) {
        let len = u64::from(entry.len);
        self.bytes = self.bytes.saturating_add(len);
        totals.bytes = totals.bytes.saturating_add(len);
        totals.len = totals.len.saturating_add(1);
        self.items.push_back(entry);
    }

    fn pop_front(&mut self, totals: &mut Totals) -> Option<Entry<T>> {
        let entry = self.items.pop_front()?;
        let len = u64::from(entry.len);
        self.bytes = self.bytes.saturating_sub(len);
        totals.bytes = totals.bytes.saturating_sub(len);
        totals.len = totals.len.saturating_sub(1);
        Some(entry)
    }
}

/// `interval / sqrt(count)` in whole nanoseconds, rounded down, exactly:
/// for a real `x >= 0`, `floor(sqrt(x)) == isqrt(floor(x))`, so with
/// `x = interval² / count` (which fits in a u128) this is the true quotient
/// rounded down, with no floating point. A count of 0 counts as 1.
fn interval_over_sqrt(interval: SimDuration, count: u32) -> SimDuration {
    let interval = u128::from(interval.as_nanos());
    let count = u128::from(count.max(1));
    let nanos = (interval * interval / count).isqrt();
    SimDuration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// RFC 8289's control law: `t + interval / sqrt(count)` (see
/// [`interval_over_sqrt`] for the rounding), saturating at
/// [`SimTime::MAX`].
fn control_law(t: SimTime, interval: SimDuration, count: u32) -> SimTime {
    t.saturating_add(interval_over_sqrt(interval, count))
}

/// RFC 8289's `dodequeue`: takes the head and says whether it is ok to
/// drop it, i.e. whether the sojourn time has been at or above target for
/// at least an interval while more than `maxpacket` bytes stayed queued.
/// `totals.bytes` (after taking the head) is the whole queue's backlog, all
/// flows together for fq_codel, as Linux passes `sch->qstats.backlog`.
/// The interval is up at `now >= first_above_time`, as the RFC writes it
/// (Linux's `codel_time_after` is strict).
fn dodequeue<T>(
    queue: &mut FlowQueue<T>,
    totals: &mut Totals,
    params: &CodelParams,
    now: SimTime,
) -> (Option<Entry<T>>, bool) {
    let Some(entry) = queue.pop_front(totals) else {
        // Queue is empty: we cannot be above target.
        queue.vars.first_above_time = None;
        return (None, false);
    };
    let sojourn = now.saturating_since(entry.enqueued);
    let mut ok_to_drop = false;
    if sojourn < params.target || totals.bytes <= MAX_PACKET {
        // Went below: stay below for at least an interval.
        queue.vars.first_above_time = None;
    } else {
        match queue.vars.first_above_time {
            // Just went above from below: if still above at
            // first_above_time, it will be ok to drop.
            None => queue.vars.first_above_time = Some(now.saturating_add(params.interval)),
            Some(first_above_time) if now >= first_above_time => ok_to_drop = true,
            Some(_) => {}
        }
    }
    (Some(entry), ok_to_drop)
}

/// RFC 8289's `dequeue`, line for line: the entry to send, after dropping
/// (into `dropped`) the heads the control law says to drop.
fn codel_dequeue<T>(
    queue: &mut FlowQueue<T>,
    totals: &mut Totals,
    params: &CodelParams,
    now: SimTime,
    dropped: &mut Vec<T>,
) -> Option<Entry<T>> {
    let (mut head, mut ok_to_drop) = dodequeue(queue, totals, params, now);
    if head.is_none() {
        // An empty queue takes us out of dropping state.
        queue.vars.dropping = false;
        return None;
    }
    if queue.vars.dropping {
        if !ok_to_drop {
            // Sojourn time below target: leave dropping state.
            queue.vars.dropping = false;
        }
        // Time for the next drop(s): a large backlog may call for several
        // now, hence the loop.
        while now >= queue.vars.drop_next && queue.vars.dropping {
            if let Some(entry) = head.take() {
                dropped.push(entry.item);
            }
            queue.vars.count = queue.vars.count.saturating_add(1);
            (head, ok_to_drop) = dodequeue(queue, totals, params, now);
            if ok_to_drop {
                queue.vars.drop_next =
                    control_law(queue.vars.drop_next, params.interval, queue.vars.count);
            } else {
                queue.vars.dropping = false;
            }
        }
    } else if ok_to_drop {
        // Above target for an interval: enter dropping state.
        if let Some(entry) = head.take() {
            dropped.push(entry.item);
        }
        (head, _) = dodequeue(queue, totals, params, now);
        queue.vars.dropping = true;
        // If the last dropping state ended recently, start from the drop
        // rate that controlled the queue then (the Linux rule RFC 8289
        // gives). `now - drop_next` is signed in the RFC: a drop_next
        // still in the future counts as recent.
        let delta = queue.vars.count.saturating_sub(queue.vars.lastcount);
        let recent = now < queue.vars.drop_next
            || now.saturating_since(queue.vars.drop_next) < params.interval.saturating_mul(16);
        queue.vars.count = if delta > 1 && recent { delta } else { 1 };
        queue.vars.drop_next = control_law(now, params.interval, queue.vars.count);
        queue.vars.lastcount = queue.vars.count;
    }
    head
}

impl<T> FqCodel<T> {
    /// The byte credit a flow gets per round (at least 1).
    fn quantum(&self) -> i64 {
        i64::from(self.params.quantum.max(1))
    }

    /// The flow queue of a flow hash (`flow % flows`, `flows` at least 1).
    fn index(&self, flow: u64) -> u32 {
        let index = flow % u64::from(self.params.flows.max(1));
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    /// Adds an entry to its flow queue; a flow that is on neither list
    /// becomes a new flow with a quantum of credit (RFC 8290 section 4.1).
    fn push(&mut self, entry: Entry<T>, totals: &mut Totals) {
        let index = self.index(entry.flow);
        let quantum = self.quantum();
        let queue = self.flows.entry(index).or_insert_with(FlowQueue::new);
        queue.push_back(entry, totals);
        if !queue.listed {
            queue.listed = true;
            queue.deficit = quantum;
            self.new_flows.push_back(index);
        }
    }

    /// Drops the head of the flow queue with the most bytes (the lowest
    /// index on a tie, as Linux's strict `>` scan); false if no queue holds
    /// a byte. As in Linux, the drop also counts in that flow's CoDel
    /// `count` ("tell codel to increase its signal strength"), and the flow
    /// stays on its list even if emptied: dequeue will find it empty.
    fn drop_fattest_head(&mut self, totals: &mut Totals, dropped: &mut Vec<T>) -> bool {
        let mut fattest: Option<(u32, u64)> = None;
        for (&index, queue) in &self.flows {
            if queue.bytes > fattest.map_or(0, |(_, bytes)| bytes) {
                fattest = Some((index, queue.bytes));
            }
        }
        let Some(queue) = fattest.and_then(|(index, _)| self.flows.get_mut(&index)) else {
            return false;
        };
        let Some(entry) = queue.pop_front(totals) else {
            return false;
        };
        queue.vars.count = queue.vars.count.saturating_add(1);
        dropped.push(entry.item);
        true
    }

    /// RFC 8290 section 4.2 (Linux's `fq_codel_dequeue`): new flows first,
    /// then old ones, by deficit round robin.
    ///
    /// The flow at the head of its list with no credit left (deficit <= 0,
    /// as Linux; the RFC says "negative", then "has already dequeued at
    /// least a quantum") gets a quantum and goes to the end of the old
    /// flows. A flow with credit runs CoDel; if that yields nothing the
    /// flow is empty: a new flow moves to the end of the old flows (so that
    /// a flow cannot regain priority by emptying, as the RFC says), an old
    /// flow leaves the lists. Linux removes an emptied new flow at once
    /// when there are no old flows; that differs from this only while
    /// other new flows are waiting (otherwise the flow is next at the head
    /// of the old flows and leaves them in the same dequeue).
    fn dequeue(
        &mut self,
        totals: &mut Totals,
        now: SimTime,
        dropped: &mut Vec<T>,
    ) -> Option<Entry<T>> {
        let quantum = self.quantum();
        let mut grants = 0usize;
        loop {
            let (from_new, index) = if let Some(&index) = self.new_flows.front() {
                (true, index)
            } else {
                (false, *self.old_flows.front()?)
            };
            let Some(queue) = self.flows.get_mut(&index) else {
                // Cannot happen (a listed flow exists); forget it.
                if from_new {
                    self.new_flows.pop_front();
                } else {
                    self.old_flows.pop_front();
                }
                continue;
            };
            if queue.deficit <= 0 {
                if grants >= self.new_flows.len() + self.old_flows.len() {
                    grants = 0;
                    if self.skip_rounds(quantum) {
                        continue;
                    }
                }
                grants += 1;
                if let Some(queue) = self.flows.get_mut(&index) {
                    queue.deficit = queue.deficit.saturating_add(quantum);
                }
                if from_new {
                    self.new_flows.pop_front();
                } else {
                    self.old_flows.pop_front();
                }
                self.old_flows.push_back(index);
                continue;
            }
            match codel_dequeue(queue, totals, &self.params.codel, now, dropped) {
                Some(entry) => {
                    queue.deficit = queue.deficit.saturating_sub(i64::from(entry.len));
                    return Some(entry);
                }
                None if from_new => {
                    self.new_flows.pop_front();
                    self.old_flows.push_back(index);
                }
                None => {
                    queue.listed = false;
                    self.old_flows.pop_front();
                }
            }
        }
    }

    /// Skips whole rounds that would serve nothing, so that a dequeue takes
    /// at most a few passes over the active flows however small the
    /// quantum is against the items (a quantum of 1 byte and 4-GB items
    /// would otherwise take billions of turns).
    ///
    /// When there are no new flows and every old flow is out of credit
    /// (deficit <= 0), a round of deficit round robin sends nothing: each
    /// flow in turn is found at the head without credit, gets a quantum
    /// and goes to the end of the list (even if that gave it credit: it
    /// sends on its next turn), which leaves the order as it was with one
    /// more quantum for every flow. Such rounds go on while every flow
    /// starts one without credit: `min(-deficit / quantum) + 1` rounds
    /// (the division rounded down), which this hands out at once, and says
    /// whether it did. It scans the old flows, and only runs once a dequeue
    /// has handed out as many quanta as there are active flows without
    /// sending anything. (A test checks the order against a naive
    /// scheduler that hands out one quantum at a time.)
    fn skip_rounds(&mut self, quantum: i64) -> bool {
        if !self.new_flows.is_empty() || self.old_flows.is_empty() {
            return false;
        }
        let mut rounds = i64::MAX;
        for index in &self.old_flows {
            let deficit = self.flows.get(index).map_or(0, |queue| queue.deficit);
            if deficit > 0 {
                return false;
            }
            rounds = rounds.min(deficit.saturating_neg() / quantum);
        }
        let credit = rounds.saturating_add(1).saturating_mul(quantum);
        for index in &self.old_flows {
            if let Some(queue) = self.flows.get_mut(index) {
                queue.deficit = queue.deficit.saturating_add(credit);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;

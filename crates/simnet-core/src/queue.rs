//! The event queue.
//!
//! A priority queue ordered by `(time, sequence number)`: events at the same
//! simulated time come out in the order they were scheduled, so the run never
//! depends on how a heap happens to break ties.
//!
//! Most events are scheduled in time order *within their kind*: every frame
//! on a link with a fixed latency arrives after the one sent before it,
//! every 30 s ping timer of a thousand clients fires after the one set
//! before it, every delayed ACK after the previous one. A run interleaves a
//! few such streams, and a single heap pays `log n` cache-missing steps per
//! event for order that was already there. So the queue keeps up to
//! [`LANES`] *lanes*, each a FIFO in increasing `(time, seq)` order, and a
//! heap for the rest. A push goes to the lane whose last event is the
//! latest one not after it (the tightest fit, so each stream keeps to its
//! own lane), or to an empty lane, or, when every lane's last event is
//! later, to the heap. `pop` takes the earliest of the lanes' fronts and
//! the heap's top by `(time, sequence)`, so the order is exactly that of a
//! single heap: which store an event waited in never shows. The queue
//! remembers where its earliest event waits, so the world's look at the
//! next event's time before each step scans nothing.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// How many FIFO lanes the queue keeps besides its heap: enough for the
/// streams a run interleaves (frames on each latency, timers of each
/// period, smoltcp's deadlines), few enough that scanning their ends per
/// push and pop costs less than a heap step.
const LANES: usize = 8;

/// A time-ordered queue of events with FIFO tie-breaking.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Each in increasing `(time, seq)` order; empty ones are free.
    lanes: Vec<VecDeque<Entry<E>>>,
    /// Events that fitted no lane when they were pushed.
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    /// Where the earliest event waits (`None` when the queue is empty),
    /// kept up to date by every push and pop.
    front: Option<Front>,
    /// Each lane's front key ([`EMPTY`] for an empty lane) and back time,
    /// kept beside the lanes: a push or a pop compares a few integers in
    /// one place instead of reading the ends of every deque.
    fronts: [(SimTime, u64); LANES],
    backs: [SimTime; LANES],
}

/// The front key of an empty lane: after every real key (no event has the
/// last sequence number).
const EMPTY: (SimTime, u64) = (SimTime::MAX, u64::MAX);

#[derive(Debug)]
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed: `BinaryHeap` is a max-heap and the queue wants the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl<E> Entry<E> {
    fn key(&self) -> (SimTime, u64) {
        (self.time, self.seq)
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            lanes: (0..LANES).map(|_| VecDeque::new()).collect(),
            heap: BinaryHeap::new(),
            next_seq: 0,
            front: None,
            fronts: [EMPTY; LANES],
            backs: [SimTime::ZERO; LANES],
        }
    }
}

/// Where the earliest event waits.
#[derive(Clone, Copy, Debug)]
enum Front {
    Lane(usize),
    Heap,
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `time`, after every event already scheduled
    /// at that same time.
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry { time, seq, event };
        // The lane whose last event is the latest one not after `time`;
        // failing that, the first empty lane. A later sequence number
        // keeps a lane sorted among equal times.
        let mut fit: Option<(usize, SimTime)> = None;
        let mut empty = None;
        for i in 0..LANES {
            if self.fronts[i] == EMPTY {
                empty.get_or_insert(i);
            } else {
                let back = self.backs[i];
                if back <= time && fit.is_none_or(|(_, t)| back > t) {
                    fit = Some((i, back));
                }
            }
        }
        // An event earlier than every other can only have gone to an empty
        // lane or to the heap's top: a lane's back is never before its
        // front, which is never before the earliest event.
        let earliest = self.front_key().is_none_or(|k| (time, seq) < k);
        let store = match fit.map(|(i, _)| i).or(empty) {
            Some(i) => {
                if self.fronts[i] == EMPTY {
                    self.fronts[i] = (time, seq);
                }
                self.backs[i] = time;
                self.lanes[i].push_back(entry);
                Front::Lane(i)
            }
            None => {
                self.heap.push(entry);
                Front::Heap
            }
        };
        if earliest {
            self.front = Some(store);
        }
    }

    /// The key of the earliest event.
    fn front_key(&self) -> Option<(SimTime, u64)> {
        match self.front? {
            Front::Lane(i) => Some(self.fronts[i]),
            Front::Heap => self.heap.peek().map(Entry::key),
        }
    }

    /// The store holding the earliest event, if any, found by looking at
    /// every store's front.
    fn find_front(&self) -> Option<Front> {
        let (mut key, mut best) = (EMPTY, None);
        for (i, &front) in self.fronts.iter().enumerate() {
            if front < key {
                (key, best) = (front, Some(Front::Lane(i)));
            }
        }
        match self.heap.peek() {
            Some(top) if top.key() < key => Some(Front::Heap),
            _ => best,
        }
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.front_key().map(|(time, _)| time)
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let e = match self.front? {
            Front::Lane(i) => {
                let e = self.lanes[i].pop_front();
                self.fronts[i] = self.lanes[i].front().map_or(EMPTY, Entry::key);
                e
            }
            Front::Heap => self.heap.pop(),
        }?;
        self.front = self.find_front();
        Some((e.time, e.event))
    }

    /// Number of scheduled events (stale ones included).
    pub fn len(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum::<usize>() + self.heap.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lanes.iter().all(VecDeque::is_empty)
    }

    /// Drops every scheduled event.
    pub fn clear(&mut self) {
        self.lanes.iter_mut().for_each(VecDeque::clear);
        self.heap.clear();
        self.front = None;
        self.fronts = [EMPTY; LANES];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_fifo_among_equals() {
        let mut q = EventQueue::new();
        q.push(SimTime::from_millis(5), "c");
        q.push(SimTime::from_millis(1), "a");
        q.push(SimTime::from_millis(5), "d");
        q.push(SimTime::from_millis(1), "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    fn same_order_as_a_plain_heap() {
        // A fixed pseudo-random mix of in-order and out-of-order pushes,
        // interleaved with pops, against a reference sort by (time, seq).
        let mut q = EventQueue::new();
        let mut reference: Vec<(u64, u64)> = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut now = 0u64;
        let mut seq = 0u64;
        let mut got = Vec::new();
        let mut want = Vec::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(3) {
                let next = q.peek_time();
                if let Some((t, s)) = q.pop() {
                    assert_eq!(next, Some(t), "peek_time names the next event's time");
                    now = t.as_nanos();
                    got.push((t.as_nanos(), s));
                    reference.sort();
                    want.push(reference.remove(0));
                }
            } else {
                let at = now + (x >> 8) % if x.is_multiple_of(5) { 50 } else { 7 };
                q.push(SimTime::from_nanos(at), seq);
                reference.push((at, seq));
                seq += 1;
            }
        }
        while let Some(next) = q.peek_time() {
            let (t, s) = q.pop().expect("peek_time saw an event");
            assert_eq!(next, t);
            got.push((t.as_nanos(), s));
        }
        assert_eq!(q.pop(), None);
        reference.sort();
        want.extend(reference);
        assert_eq!(got, want);
        assert!(q.is_empty());
    }
}

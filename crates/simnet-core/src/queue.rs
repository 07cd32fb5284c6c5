//! The event queue.
//!
//! A priority queue ordered by `(time, sequence number)`: events at the same
//! simulated time come out in the order they were scheduled, so the run never
//! depends on how a heap happens to break ties.
//!
//! Most events are scheduled in time order (every frame on a link with a
//! fixed latency arrives after the one sent before it), so the queue keeps
//! two stores: a FIFO of events scheduled no earlier than the last one in
//! it, which costs O(1) per event, and a heap for the rest (including the
//! odd far-off timer that a push moves out of the FIFO's way). `pop` takes
//! the earlier of the two fronts by `(time, sequence)`, so the order is
//! exactly that of a single heap.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// A time-ordered queue of events with FIFO tie-breaking.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Events in increasing `(time, seq)` order.
    fifo: VecDeque<Entry<E>>,
    /// Events scheduled earlier than the back of `fifo` when they were
    /// pushed, and events a push moved out of `fifo`'s way.
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
}

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
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap; reverse so the earliest (time, seq) is on top.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl<E> Entry<E> {
    fn before(&self, other: &Self) -> bool {
        (self.time, self.seq) < (other.time, other.seq)
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            fifo: VecDeque::new(),
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// How many events at the FIFO's back a push may move to the heap.
    const EVICT_MAX: usize = 2;

    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `time`, after every event already scheduled at that time.
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry { time, seq, event };
        // `seq` only grows, so an event no earlier than the FIFO's back
        // keeps the FIFO sorted. A few later events at the back (a
        // retransmission timer far ahead of the frames in flight) move to
        // the heap to make way; an event earlier than more of them than that
        // goes to the heap itself.
        if self.fifo.back().is_none_or(|back| back.time <= time) {
            self.fifo.push_back(entry);
            return;
        }
        let later = self
            .fifo
            .iter()
            .rev()
            .take(Self::EVICT_MAX + 1)
            .take_while(|back| back.time > time)
            .count();
        if later <= Self::EVICT_MAX {
            for _ in 0..later {
                let back = self.fifo.pop_back().expect("counted above");
                self.heap.push(back);
            }
            self.fifo.push_back(entry);
        } else {
            self.heap.push(entry);
        }
    }

    /// Whether the earliest event is the FIFO's front (rather than the heap's top).
    fn fifo_first(&self) -> Option<bool> {
        match (self.fifo.front(), self.heap.peek()) {
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(f), Some(h)) => Some(f.before(h)),
        }
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        match self.fifo_first()? {
            true => self.fifo.front().map(|e| e.time),
            false => self.heap.peek().map(|e| e.time),
        }
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let e = match self.fifo_first()? {
            true => self.fifo.pop_front(),
            false => self.heap.pop(),
        }?;
        Some((e.time, e.event))
    }

    /// Number of scheduled events (stale ones included).
    pub fn len(&self) -> usize {
        self.fifo.len() + self.heap.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.fifo.is_empty() && self.heap.is_empty()
    }

    /// Drops every scheduled event.
    pub fn clear(&mut self) {
        self.fifo.clear();
        self.heap.clear();
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
                if let Some((t, s)) = q.pop() {
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
        while let Some((t, s)) = q.pop() {
            got.push((t.as_nanos(), s));
        }
        reference.sort();
        want.extend(reference);
        assert_eq!(got, want);
        assert!(q.is_empty());
    }
}

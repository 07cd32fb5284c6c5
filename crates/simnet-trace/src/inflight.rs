//! Which frames a later record may still name: what lets the streaming
//! renderers forget a frame instead of remembering every frame of the run.
//!
//! Link events ([`TraceEvent::FrameQueued`], `FrameDelivered`, ...) name only
//! a frame id, so a renderer keeps something per frame sent (a one-line
//! summary, its two ends, a pcapng comment). Kept for the whole run, that
//! grows with the run's duration. But a frame's life in a simnet trace is
//! short and always has the same shape:
//!
//! 1. `PacketSent`, then, in the same instant, what the link decided:
//!    `FaultMatched`, `FrameQueued`, `FrameDelayed`, `FrameCorrupted`,
//!    `FrameDuplicated` (which names the copy's id), or `FrameDropped`;
//! 2. for the frame and each copy, one final event when it reaches the far
//!    end: `FrameDelivered` (possibly followed, in that same instant, by the
//!    receiver's `FrameDiscarded`) or `FrameDropped` (the link went down);
//! 3. nothing after that: no record names the frame again.
//!
//! So a frame and its copies form a *group*; once every id of the group had
//! its final event, the group is *settled*, and once a record of a later
//! simulated time arrives it is *retired*: the renderer forgets it. What a
//! renderer holds is then bounded by the frames in flight on the links (the
//! bandwidth-delay product), not by the run's length.
//!
//! A frame that never gets a final event (still in flight when the run ends)
//! is held to the end, which is the bounded number in flight. A hand-built
//! trace that names a frame again after it was retired sees that frame as
//! unknown (an empty summary, `null` ends) where a renderer that remembered
//! everything would have named it; simnet never writes such a trace.

use simnet_core::trace::TraceEvent;
use simnet_core::{FrameId, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// A frame and its link copies.
struct Group {
    /// Every id of the group (the original first), and whether it had its
    /// final event.
    ids: Vec<(FrameId, bool)>,
    /// How many ids still wait for their final event.
    open: usize,
    /// When the last id had its final event, once `open` is zero.
    settled_at: Option<SimTime>,
}

/// The frame groups of the records seen so far that a later record may
/// still name. See the module docs.
#[derive(Default)]
pub(crate) struct InFlight {
    /// Group by its original frame's id.
    groups: BTreeMap<FrameId, Group>,
    /// Every tracked id (original or copy) -> its group's original.
    root: BTreeMap<FrameId, FrameId>,
    /// Originals of settled groups, in the order they settled.
    settled: VecDeque<FrameId>,
}

impl InFlight {
    /// Retires every group settled before `now` (the time of the record about
    /// to be rendered): calls `forget(original, ids)` with all its ids, the
    /// original first, in the order the groups settled.
    pub(crate) fn retire_before(
        &mut self,
        now: SimTime,
        mut forget: impl FnMut(FrameId, &[FrameId]),
    ) {
        while let Some(&original) = self.settled.front() {
            let Some(group) = self.groups.get(&original) else {
                self.settled.pop_front(); // retired through a later entry
                continue;
            };
            match group.settled_at {
                Some(at) if group.open == 0 => {
                    if at >= now {
                        // Records are in time order, so the groups behind
                        // settled no earlier. (A hand-built trace whose time
                        // goes back only makes this wait longer.)
                        break;
                    }
                }
                // A copy announced after the group settled reopened it; it
                // is queued again when it settles again.
                _ => {
                    self.settled.pop_front();
                    continue;
                }
            }
            self.settled.pop_front();
            let Some(group) = self.groups.remove(&original) else {
                continue;
            };
            let ids: Vec<FrameId> = group.ids.iter().map(|(id, _)| *id).collect();
            for id in &ids {
                self.root.remove(id);
            }
            forget(original, &ids);
        }
    }

    /// Takes note of a record's event, after it was rendered.
    pub(crate) fn observe(&mut self, time: SimTime, event: &TraceEvent) {
        match event {
            // A hand-built trace may send an id twice: the first group
            // keeps it.
            TraceEvent::PacketSent { frame, .. } if !self.root.contains_key(frame) => {
                self.root.insert(*frame, *frame);
                let group = Group {
                    ids: vec![(*frame, false)],
                    open: 1,
                    settled_at: None,
                };
                self.groups.insert(*frame, group);
            }
            TraceEvent::FrameDuplicated { frame, copy } => {
                let Some(&original) = self.root.get(frame) else {
                    return;
                };
                if self.root.contains_key(copy) {
                    return;
                }
                if let Some(group) = self.groups.get_mut(&original) {
                    self.root.insert(*copy, original);
                    group.ids.push((*copy, false));
                    group.open += 1;
                    group.settled_at = None;
                }
            }
            TraceEvent::FrameDelivered { frame, .. } | TraceEvent::FrameDropped { frame, .. } => {
                let Some(&original) = self.root.get(frame) else {
                    return;
                };
                let Some(group) = self.groups.get_mut(&original) else {
                    return;
                };
                let Some(entry) = group.ids.iter_mut().find(|(id, _)| id == frame) else {
                    return;
                };
                if entry.1 {
                    return;
                }
                entry.1 = true;
                group.open -= 1;
                if group.open == 0 {
                    group.settled_at = Some(time);
                    self.settled.push_back(original);
                }
            }
            _ => {}
        }
    }

    /// How many frame ids are tracked (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.root.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simnet_core::link::DropReason;
    use simnet_core::socket::HostId;

    fn sent(frame: u64) -> TraceEvent {
        TraceEvent::PacketSent {
            frame: FrameId(frame),
            from: HostId(0),
            to: Some(HostId(1)),
            socket: None,
            bytes: std::sync::Arc::from(&b""[..]),
            len: 0,
        }
    }

    fn delivered(frame: u64) -> TraceEvent {
        TraceEvent::FrameDelivered {
            frame: FrameId(frame),
            to: HostId(1),
        }
    }

    fn retire(f: &mut InFlight, now: u64) -> Vec<Vec<u64>> {
        let mut out = Vec::new();
        f.retire_before(SimTime::from_millis(now), |original, ids| {
            assert_eq!(ids[0], original);
            out.push(ids.iter().map(|id| id.0).collect());
        });
        out
    }

    #[test]
    fn a_group_is_retired_after_its_last_final_event_once_time_moves_on() {
        let mut f = InFlight::default();
        let ms = SimTime::from_millis;
        f.observe(ms(0), &sent(1));
        f.observe(
            ms(0),
            &TraceEvent::FrameDuplicated {
                frame: FrameId(1),
                copy: FrameId(2),
            },
        );
        f.observe(ms(0), &sent(3));
        f.observe(
            ms(0),
            &TraceEvent::FrameDropped {
                frame: FrameId(3),
                from: HostId(0),
                to: Some(HostId(1)),
                reason: DropReason::Loss,
            },
        );
        assert_eq!(retire(&mut f, 0), Vec::<Vec<u64>>::new(), "same instant");
        assert_eq!(retire(&mut f, 1), [vec![3]]);
        f.observe(ms(5), &delivered(1));
        assert_eq!(retire(&mut f, 6), Vec::<Vec<u64>>::new(), "the copy is out");
        f.observe(ms(6), &delivered(2));
        f.observe(ms(6), &delivered(2)); // a second final event changes nothing
        assert_eq!(retire(&mut f, 6), Vec::<Vec<u64>>::new());
        assert_eq!(retire(&mut f, 7), [vec![1, 2]]);
        assert_eq!(f.tracked(), 0);
    }

    #[test]
    fn a_copy_announced_late_reopens_its_group() {
        let mut f = InFlight::default();
        let ms = SimTime::from_millis;
        f.observe(ms(0), &sent(1));
        f.observe(ms(1), &delivered(1));
        f.observe(
            ms(1),
            &TraceEvent::FrameDuplicated {
                frame: FrameId(1),
                copy: FrameId(9),
            },
        );
        assert_eq!(retire(&mut f, 2), Vec::<Vec<u64>>::new());
        f.observe(ms(3), &delivered(9));
        assert_eq!(retire(&mut f, 4), [vec![1, 9]]);
        assert_eq!(f.tracked(), 0);
    }
}

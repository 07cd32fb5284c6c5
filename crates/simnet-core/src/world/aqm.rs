//! Active queues on links: frames wait in a CoDel or fq_codel queue and
//! leave when the transmitter is free.
//!
//! Drop-tail decides a frame's departure the moment it is sent (the queue
//! is first in, first out, so nothing that comes later can change it). An
//! active queue decides at its head, so a direction with one keeps its
//! frames in an [`AqmQueue`] and has one `Dequeue` event pending while it
//! holds any: when it comes, the queue hands over its next frame (dropping
//! at the head as its discipline says), the frame is serialised, and its
//! fate on the wire is decided as any other frame's
//! ([`LinkDirection::wire`]).

use super::*;
use crate::qdisc::{AqmQueue, Qdisc};

/// A frame waiting in an active queue, with what its hop needs later.
pub(super) struct Queued {
    frame: Frame,
    from: HostId,
    hop: Hop,
    action: Option<FaultAction>,
    corrupted: bool,
}

/// One direction's active queue and its transmitter.
pub(super) struct Aqm {
    queue: AqmQueue<Queued>,
    /// Whether a `Dequeue` event is pending.
    scheduled: bool,
    /// When the frame on the wire has left.
    busy_until: SimTime,
}

impl Aqm {
    /// The active queue a direction with these parameters needs, if any:
    /// an active discipline on a link with a bandwidth (without one, frames
    /// never wait, and the discipline has nothing to do).
    pub(super) fn for_params(params: &LinkParams) -> Option<Aqm> {
        if params.qdisc == Qdisc::DropTail || params.bandwidth_bps.is_none_or(|b| b == 0) {
            return None;
        }
        Some(Aqm {
            queue: AqmQueue::new(&params.qdisc, params.queue_bytes_max)?,
            scheduled: false,
            busy_until: SimTime::ZERO,
        })
    }
}

/// After a timeline patch: an active queue gets its new parameters, or is
/// made; one switched back to drop-tail keeps its frames until they have
/// left (new frames take the drop-tail path).
pub(super) fn patched(aqm: &mut Option<Aqm>, params: &LinkParams) {
    match aqm {
        Some(a) if params.qdisc != Qdisc::DropTail => {
            a.queue.set_params(&params.qdisc, params.queue_bytes_max)
        }
        Some(a) if a.queue.is_empty() && !a.scheduled => *aqm = None,
        Some(_) => {}
        None => *aqm = Aqm::for_params(params),
    }
}

/// A stable hash of a packet's flow (protocol, addresses, ports): FNV-1a
/// over the bytes that name it, so fq_codel's choice of queue is the same
/// in every run (Linux perturbs its hash with a random key; a simulation
/// must not).
fn flow_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    if bytes.len() >= 20 {
        eat(bytes[9]);
        bytes[12..20].iter().for_each(|b| eat(*b));
        let ihl = usize::from(bytes[0] & 0x0f) * 4;
        if matches!(bytes[9], 6 | 17) && bytes.len() >= ihl + 4 {
            bytes[ihl..ihl + 4].iter().for_each(|b| eat(*b));
        }
    }
    h
}

impl World {
    /// Puts a frame into its link direction's active queue.
    pub(super) fn enqueue(
        &mut self,
        id: FrameId,
        from: HostId,
        bytes: Arc<[u8]>,
        hop: Hop,
        action: Option<FaultAction>,
        corrupted: bool,
    ) {
        let now = self.now;
        let d = hop.dir.index();
        let slot = &mut self.links[hop.link.0 as usize];
        let len = bytes.len();
        if len > slot.dirs[d].params().mtu {
            return self.drop_frame(id, from, Some(hop.next), DropReason::Mtu);
        }
        let Some(aqm) = slot.aqm[d].as_mut() else {
            return;
        };
        let queue_bytes = aqm.queue.bytes();
        let flow = flow_hash(&bytes);
        let mut dropped = Vec::new();
        aqm.queue.enqueue(
            now,
            Queued {
                frame: Frame { id, bytes },
                from,
                hop,
                action,
                corrupted,
            },
            len as u32,
            flow,
            &mut dropped,
        );
        let start = (!aqm.scheduled).then(|| aqm.busy_until.max(now));
        aqm.scheduled = true;
        self.trace.push(
            now,
            TraceEvent::FrameEnqueued {
                frame: id,
                link: hop.link,
                queue_bytes,
            },
        );
        for q in dropped {
            self.drop_frame(q.frame.id, q.from, Some(q.hop.next), DropReason::QueueFull);
        }
        if let Some(at) = start {
            self.queue.push(
                at,
                Event::Dequeue {
                    link: hop.link,
                    dir: hop.dir,
                },
            );
        }
    }

    /// The transmitter of an active queue is free: the next frame leaves.
    pub(super) fn dequeue(&mut self, link: LinkId, dir: Direction) {
        let now = self.now;
        let d = dir.index();
        let slot = &mut self.links[link.0 as usize];
        let Some(aqm) = slot.aqm[d].as_mut() else {
            return;
        };
        aqm.scheduled = false;
        let mut dropped = Vec::new();
        let next = aqm.queue.dequeue(now, &mut dropped);
        let mut departs = now;
        if let Some((q, _)) = &next {
            departs = now + slot.dirs[d].serialization(q.frame.bytes.len());
            aqm.busy_until = departs;
            if !aqm.queue.is_empty() {
                aqm.scheduled = true;
                self.queue.push(departs, Event::Dequeue { link, dir });
            }
        }
        for q in dropped {
            self.drop_frame(q.frame.id, q.from, Some(q.hop.next), DropReason::Aqm);
        }
        let Some((q, waited)) = next else {
            return;
        };
        let Queued {
            frame,
            from,
            hop,
            action,
            corrupted,
        } = q;
        self.trace.push(
            now,
            TraceEvent::FrameDequeued {
                frame: frame.id,
                link,
                waited,
                departs,
            },
        );
        let slot = &mut self.links[link.0 as usize];
        if !slot.up {
            return self.drop_frame(frame.id, from, Some(hop.next), DropReason::LinkDown);
        }
        if self.cut.contains(&ordered(from, hop.next)) {
            return self.drop_frame(frame.id, from, Some(hop.next), DropReason::Partition);
        }
        let epoch = slot.epoch;
        let len = frame.bytes.len();
        match slot.dirs[d].wire(departs, None, len) {
            Fate::Dropped(reason) => self.drop_frame(frame.id, from, Some(hop.next), reason),
            Fate::Deliver(delivery) => self.deliver_later(
                frame.id,
                frame.bytes,
                hop,
                delivery,
                action,
                epoch,
                corrupted,
            ),
        }
    }
}

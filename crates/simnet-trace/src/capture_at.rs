//! A capture at one node (`--capture-at NAME`): the packets a host or
//! router sent and received, as `tcpdump -i any` on it would see them.
//!
//! The default capture records every packet where it was sent. Behind a
//! router that is not what the router sees: it receives the packet with
//! one TTL and sends it on with the next, a NAT rewrites addresses and
//! ports, a frame may be lost before it gets there. This sink follows each
//! frame on its way to the node, with the bytes it has on that hop
//! (including a bit a link flipped), and writes it when it arrives, and
//! again as the node sends it on. What it holds is the frames in flight
//! towards the node: bounded by the links, not by the run.

use crate::pcap::PcapWriter;
use simnet_core::socket::HostId;
use simnet_core::trace::{Topology, Trace, TraceEvent, TraceRecord, TraceSink};
use simnet_core::{FrameId, SimTime};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

/// Writes a classic pcap of what one node sent and received.
pub struct NodeCapture<W: io::Write> {
    node: HostId,
    out: PcapWriter<W>,
    /// Frames on their way to the node: their bytes on this hop and their
    /// length on the wire.
    coming: BTreeMap<FrameId, (Arc<[u8]>, u32)>,
    /// Every frame's bytes on its current hop, until it arrives or is lost
    /// (to know what a copy or a corrupted frame carries).
    hops: BTreeMap<FrameId, (Arc<[u8]>, u32)>,
}

impl<W: io::Write> NodeCapture<W> {
    /// A capture at `node`, written to `out` (the pcap header at once).
    pub fn new(out: W, node: HostId) -> NodeCapture<W> {
        NodeCapture {
            node,
            out: PcapWriter::new(out),
            coming: BTreeMap::new(),
            hops: BTreeMap::new(),
        }
    }

    /// Whether writing failed (the run can stop).
    pub fn failed(&self) -> bool {
        self.out.failed()
    }

    /// Flushes and gives the output back, or the first error.
    pub fn finish(self) -> io::Result<W> {
        self.out.finish()
    }

    fn write(&mut self, time: SimTime, bytes: Arc<[u8]>, len: u32) {
        let record = TraceRecord {
            time,
            event: TraceEvent::PacketSent {
                frame: FrameId(0),
                from: self.node,
                to: None,
                socket: None,
                bytes,
                len,
            },
        };
        self.out.record(&Topology::default(), &record);
    }

    /// A frame starts a hop towards `to` with these bytes.
    fn hop(&mut self, frame: FrameId, to: Option<HostId>, bytes: &Arc<[u8]>, len: u32) {
        self.hops.insert(frame, (bytes.clone(), len));
        if to == Some(self.node) {
            self.coming.insert(frame, (bytes.clone(), len));
        }
    }

    /// The frame's hop ended at the node: write what arrived.
    fn arrived(&mut self, time: SimTime, frame: FrameId) {
        self.hops.remove(&frame);
        if let Some((bytes, len)) = self.coming.remove(&frame) {
            self.write(time, bytes, len);
        }
    }

    /// The frame's hop ended elsewhere, or it was lost on the way.
    fn gone(&mut self, frame: FrameId) {
        self.hops.remove(&frame);
        self.coming.remove(&frame);
    }
}

impl<W: io::Write> TraceSink for NodeCapture<W> {
    fn record(&mut self, _: &Topology, record: &TraceRecord) {
        let time = record.time;
        match &record.event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                bytes,
                len,
                ..
            } => {
                if *from == self.node {
                    self.write(time, bytes.clone(), *len);
                }
                self.hop(*frame, *to, bytes, *len);
            }
            TraceEvent::FrameForwarded {
                frame,
                router,
                to,
                bytes,
                len,
                ..
            } => {
                if *router == self.node {
                    self.arrived(time, *frame);
                    self.write(time, bytes.clone(), *len);
                } else {
                    self.gone(*frame);
                }
                self.hop(*frame, Some(*to), bytes, *len);
            }
            TraceEvent::FrameDuplicated { frame, copy } => {
                if let Some(v) = self.hops.get(frame).cloned() {
                    self.hops.insert(*copy, v.clone());
                }
                if let Some(v) = self.coming.get(frame).cloned() {
                    self.coming.insert(*copy, v);
                }
            }
            TraceEvent::FrameCorrupted { frame, bit } => {
                let flip = |(bytes, len): &(Arc<[u8]>, u32)| {
                    let mut copy = bytes.to_vec();
                    if let Some(b) = copy.get_mut((*bit / 8) as usize) {
                        *b ^= 1 << (bit % 8);
                    }
                    (Arc::from(copy), *len)
                };
                if let Some(v) = self.hops.get(frame) {
                    let v = flip(v);
                    self.hops.insert(*frame, v);
                }
                if let Some(v) = self.coming.get(frame) {
                    let v = flip(v);
                    self.coming.insert(*frame, v);
                }
            }
            TraceEvent::FrameDelivered { frame, to } if *to == self.node => {
                self.arrived(time, *frame)
            }
            TraceEvent::FrameDiscarded { frame, host, .. } if *host == self.node => {
                self.arrived(time, *frame)
            }
            // A router drops what it received (TTL, no route, no NAT
            // mapping) after it arrived; a sender's own link drops it
            // before it leaves (written already as sent, and not coming).
            TraceEvent::FrameDropped { frame, from, .. } if *from == self.node => {
                self.arrived(time, *frame)
            }
            TraceEvent::FrameDelivered { frame, .. }
            | TraceEvent::FrameDiscarded { frame, .. }
            | TraceEvent::FrameDropped { frame, .. } => self.gone(*frame),
            _ => {}
        }
    }
}

/// The classic pcap of what `node` sent and received in a stored trace.
pub fn render_pcap_at(trace: &Trace, node: HostId) -> Vec<u8> {
    let mut capture = NodeCapture::new(Vec::new(), node);
    trace.replay(&mut capture);
    capture.finish().unwrap_or_default()
}

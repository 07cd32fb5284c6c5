//! The TCP segments of a stored trace, as the labellers that read streams
//! from packets (`websocket`, `tls`) need them: who sent each to whom, its
//! sequence number, SYN and ACK, and its payload.

use simnet_core::packet::{FrameId, Transport};
use simnet_core::trace::{Trace, TraceEvent};
use std::net::SocketAddrV4;

/// One direction of a TCP connection: (sender, receiver).
pub(crate) type Direction = (SocketAddrV4, SocketAddrV4);

/// One TCP segment sent.
pub(crate) struct Segment<'a> {
    pub frame: FrameId,
    pub dir: Direction,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    /// Empty when the segment carries none, or the trace kept only headers.
    pub payload: &'a [u8],
}

/// Every TCP segment sent, in trace order.
pub(crate) fn tcp_segments(trace: &Trace) -> impl Iterator<Item = Segment<'_>> {
    trace.records.iter().filter_map(|r| {
        let TraceEvent::PacketSent { frame, bytes, .. } = &r.event else {
            return None;
        };
        let info = r.event.packet_info()?;
        let Transport::Tcp(tcp) = &info.transport else {
            return None;
        };
        Some(Segment {
            frame: *frame,
            dir: (
                SocketAddrV4::new(info.src, tcp.src_port),
                SocketAddrV4::new(info.dst, tcp.dst_port),
            ),
            seq: tcp.seq,
            syn: tcp.flags.syn(),
            ack: tcp.flags.ack(),
            payload: info.payload(bytes),
        })
    })
}

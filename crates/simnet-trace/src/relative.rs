//! Relative sequence numbers, the way Wireshark shows them.
//!
//! Absolute TCP sequence numbers start at a random ISN; readers want `seq=1`.
//! The tracker remembers, per direction of every connection, the first
//! sequence number seen (the SYN's, when there is one) and the window scale
//! each side announced, and rewrites headers relative to them. A new SYN on a
//! 4-tuple starts a new conversation (a port reused after TIME-WAIT), except
//! when the other direction has itself sent only a SYN so far: two SYNs
//! crossing are a simultaneous open (RFC 9293 section 3.5), one conversation
//! whose two initial sequence numbers are the two SYNs'.

use simnet_core::packet::{TcpHeader, TcpOptions};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

/// One direction of a connection: (source, destination).
pub type Flow = (SocketAddrV4, SocketAddrV4);

#[derive(Clone, Copy, Debug, Default)]
struct FlowState {
    base: Option<u32>,
    /// Window scale this side announced in its SYN.
    announced_scale: Option<u8>,
    /// This side has sent a SYN without ACK and nothing else since: a SYN
    /// from the other side now crosses it (a simultaneous open).
    opening: bool,
}

/// A TCP header with sequence numbers made relative and the window scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelativeHeader {
    /// Sequence number relative to this direction's first.
    pub seq: u32,
    /// Acknowledgement relative to the other direction's first (if ACK set and known).
    pub ack: Option<u32>,
    /// Window in bytes (scaled once both SYNs announced scaling).
    pub window: u32,
}

/// Remembers every connection's initial sequence numbers.
#[derive(Clone, Debug, Default)]
pub struct SeqTracker {
    flows: BTreeMap<Flow, FlowState>,
}

impl SeqTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> SeqTracker {
        SeqTracker::default()
    }

    /// Feeds one segment (in trace order) and returns its relative view.
    pub fn observe(&mut self, src: Ipv4Addr, dst: Ipv4Addr, tcp: &TcpHeader) -> RelativeHeader {
        let fwd = (
            SocketAddrV4::new(src, tcp.src_port),
            SocketAddrV4::new(dst, tcp.dst_port),
        );
        let rev = (fwd.1, fwd.0);
        if tcp.flags.syn() && !tcp.flags.ack() {
            // A new connection attempt on this 4-tuple: forget the old one,
            // unless the other side's SYN is the only thing it sent (the
            // SYNs crossed: one connection, opened from both ends).
            if !self.flows.get(&rev).is_some_and(|r| r.opening) {
                self.flows.remove(&rev);
            }
            self.flows.insert(
                fwd,
                FlowState {
                    base: Some(tcp.seq),
                    announced_scale: tcp.options.window_scale,
                    opening: true,
                },
            );
        } else if tcp.flags.syn() {
            let st = self.flows.entry(fwd).or_default();
            st.base = Some(tcp.seq);
            st.announced_scale = tcp.options.window_scale;
        }
        let st = self.flows.entry(fwd).or_default();
        if st.base.is_none() {
            st.base = Some(tcp.seq);
        }
        if tcp.flags.ack() || tcp.flags.rst() {
            st.opening = false;
        }
        let fwd_state = *st;
        if tcp.flags.rst()
            && let Some(r) = self.flows.get_mut(&rev)
        {
            // A refused SYN opens nothing for a later SYN to cross.
            r.opening = false;
        }
        let rev_state = self.flows.get(&rev).copied().unwrap_or_default();
        let seq = tcp.seq.wrapping_sub(fwd_state.base.unwrap_or(tcp.seq));
        let ack = if tcp.flags.ack() {
            Some(match rev_state.base {
                Some(b) => tcp.ack.wrapping_sub(b),
                None => tcp.ack,
            })
        } else {
            None
        };
        // RFC 7323: scaling applies to segments without SYN, and only when
        // both sides announced it.
        let scale = match (fwd_state.announced_scale, rev_state.announced_scale) {
            (Some(mine), Some(_)) if !tcp.flags.syn() => mine,
            _ => 0,
        };
        RelativeHeader {
            seq,
            ack,
            window: u32::from(tcp.window) << scale,
        }
    }

    /// Converts an absolute sequence number of `flow` (e.g. a SACK edge) to relative.
    pub fn relative(&self, flow: Flow, absolute: u32) -> u32 {
        match self.flows.get(&flow).and_then(|s| s.base) {
            Some(b) => absolute.wrapping_sub(b),
            None => absolute,
        }
    }

    /// Appends a segment's options the way the text timeline and the
    /// diagrams show them, ` mss=1460 ws=7 sackOK sack=1-2,5-9`, with the
    /// SACK edges relative to `reverse` (the direction they acknowledge: the
    /// segment's own, reversed).
    pub fn write_options(&self, out: &mut String, o: &TcpOptions, reverse: Flow) {
        if let Some(mss) = o.mss {
            let _ = write!(out, " mss={mss}");
        }
        if let Some(ws) = o.window_scale {
            let _ = write!(out, " ws={ws}");
        }
        if o.sack_permitted {
            out.push_str(" sackOK");
        }
        if !o.sack.is_empty() {
            let blocks: Vec<String> = o
                .sack
                .iter()
                .map(|(l, r)| {
                    format!(
                        "{}-{}",
                        self.relative(reverse, *l),
                        self.relative(reverse, *r)
                    )
                })
                .collect();
            let _ = write!(out, " sack={}", blocks.join(","));
        }
    }
}

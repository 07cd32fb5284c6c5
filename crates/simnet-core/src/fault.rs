//! Targeted faults: rules that match packets rather than times.
//!
//! A fault says "the Nth packet that matches this filter is dropped (or
//! delayed, or duplicated)". That is how a scenario shows, deterministically,
//! what a single lost final ACK or a late FIN does to a connection — things
//! random loss only shows by luck.

use crate::packet::{PacketInfo, TcpFlags, Transport};
use crate::socket::{HostId, Protocol, TcpState};
use crate::time::SimDuration;
use std::fmt;

/// Which packets a fault looks at. Every field left `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketFilter {
    /// Sent by this host.
    pub from: Option<HostId>,
    /// Sent to this host.
    pub to: Option<HostId>,
    /// TCP or UDP.
    pub protocol: Option<Protocol>,
    /// TCP flags that must all be set (tcpdump letters: `F`, `S`, `R`, `P`, `.`).
    pub flags: Option<TcpFlags>,
    /// TCP flags that must match exactly.
    pub flags_exact: Option<TcpFlags>,
    /// `Some(true)`: only segments carrying payload; `Some(false)`: only empty ones.
    pub payload: Option<bool>,
    /// Exactly this many bytes of payload.
    pub len: Option<u32>,
    /// `Some(true)`: only TCP segments advertising a zero window (and not SYNs).
    pub zero_window: Option<bool>,
    /// Source or destination port.
    pub port: Option<u16>,
    /// The sending socket's TCP state right after it produced the packet
    /// (e.g. `TIME-WAIT` for the final ACK of a close).
    pub sender_state: Option<TcpState>,
}

impl PacketFilter {
    /// Whether `info`, sent from `from` to `to` by a socket in `state`, matches.
    pub fn matches(
        &self,
        from: HostId,
        to: Option<HostId>,
        info: &PacketInfo,
        state: Option<TcpState>,
    ) -> bool {
        if self.from.is_some_and(|h| h != from) || self.to.is_some_and(|h| Some(h) != to) {
            return false;
        }
        if self.sender_state.is_some() && self.sender_state != state {
            return false;
        }
        let (protocol, ports, flags, payload_len, window) = match &info.transport {
            Transport::Tcp(t) => (
                Protocol::Tcp,
                (t.src_port, t.dst_port),
                Some(t.flags),
                t.payload_len,
                Some(t.window),
            ),
            Transport::Udp(u) => (
                Protocol::Udp,
                (u.src_port, u.dst_port),
                None,
                u.payload_len,
                None,
            ),
            _ => return false,
        };
        if self.len.is_some_and(|l| l != payload_len) {
            return false;
        }
        if let Some(zero) = self.zero_window {
            let is_zero = window == Some(0) && !flags.is_some_and(|f| f.syn() || f.rst());
            if zero != is_zero {
                return false;
            }
        }
        if self.protocol.is_some_and(|p| p != protocol) {
            return false;
        }
        if self.port.is_some_and(|p| p != ports.0 && p != ports.1) {
            return false;
        }
        if let Some(want) = self.flags
            && !flags.is_some_and(|f| f.contains(want.0))
        {
            return false;
        }
        if let Some(want) = self.flags_exact
            && flags != Some(want)
        {
            return false;
        }
        if self.payload.is_some_and(|p| p != (payload_len > 0)) {
            return false;
        }
        true
    }

    /// Whether a TCP-only condition is combined with UDP (so it can never match).
    pub fn is_contradictory(&self) -> Option<&'static str> {
        let tcp_only = self.flags.is_some()
            || self.flags_exact.is_some()
            || self.sender_state.is_some()
            || self.zero_window.is_some();
        if tcp_only && self.protocol == Some(Protocol::Udp) {
            return Some("TCP flags or a TCP state cannot match a UDP datagram");
        }
        if let (Some(all), Some(exact)) = (self.flags, self.flags_exact)
            && !exact.contains(all.0)
        {
            return Some("`flags` requires flags that `flags_exact` excludes");
        }
        if self.payload == Some(false) && self.len.is_some_and(|l| l > 0) {
            return Some("`payload = false` contradicts a non-zero `len`");
        }
        if self.from.is_some() && self.from == self.to {
            return Some("a host never sends a packet over a link to itself");
        }
        None
    }
}

/// What a fault does to the packets it selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// The packet is lost.
    Drop,
    /// The packet arrives this much later than the link would deliver it.
    Delay(SimDuration),
    /// The packet is delivered twice.
    Duplicate,
}

/// "Do `action` to matching packets number `nth` .. `nth + count - 1`."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetedFault {
    /// Which packets count.
    pub filter: PacketFilter,
    /// The first matching packet affected, counting from 1.
    pub nth: u32,
    /// How many consecutive matching packets are affected.
    pub count: u32,
    /// What happens to them.
    pub action: FaultAction,
}

impl TargetedFault {
    /// Whether the `seen`-th match (counting from 1) is affected.
    pub fn selects(&self, seen: u32) -> bool {
        seen >= self.nth && seen - self.nth < self.count
    }
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Drop => f.write_str("drop"),
            FaultAction::Delay(d) => write!(f, "delay by {d}"),
            FaultAction::Duplicate => f.write_str("duplicate"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{TcpHeader, TcpOptions};
    use std::net::Ipv4Addr;

    fn segment(flags: &str, payload_len: u32) -> PacketInfo {
        PacketInfo {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            ip_id: 0,
            ttl: 64,
            ip_len: 40,
            transport: Transport::Tcp(TcpHeader {
                src_port: 49152,
                dst_port: 80,
                seq: 0,
                ack: 0,
                flags: TcpFlags::parse(flags).unwrap(),
                window: 0,
                options: TcpOptions::default(),
                payload_len,
                payload_offset: 40,
            }),
        }
    }

    #[test]
    fn flags_payload_and_state_narrow_the_match() {
        let fin = PacketFilter {
            flags: TcpFlags::parse("F"),
            ..PacketFilter::default()
        };
        assert!(fin.matches(HostId(0), Some(HostId(1)), &segment("F.", 0), None));
        assert!(!fin.matches(HostId(0), Some(HostId(1)), &segment(".", 0), None));

        let pure_ack = PacketFilter {
            flags_exact: TcpFlags::parse("."),
            payload: Some(false),
            sender_state: Some(TcpState::TimeWait),
            from: Some(HostId(0)),
            ..PacketFilter::default()
        };
        let ack = segment(".", 0);
        assert!(pure_ack.matches(HostId(0), Some(HostId(1)), &ack, Some(TcpState::TimeWait)));
        assert!(!pure_ack.matches(
            HostId(0),
            Some(HostId(1)),
            &ack,
            Some(TcpState::Established)
        ));
        assert!(!pure_ack.matches(HostId(1), Some(HostId(0)), &ack, Some(TcpState::TimeWait)));
        assert!(!pure_ack.matches(
            HostId(0),
            Some(HostId(1)),
            &segment(".", 5),
            Some(TcpState::TimeWait)
        ));
    }

    #[test]
    fn nth_and_count_select_a_window_of_matches() {
        let f = TargetedFault {
            filter: PacketFilter::default(),
            nth: 2,
            count: 2,
            action: FaultAction::Drop,
        };
        let picked: Vec<u32> = (1..=5).filter(|&n| f.selects(n)).collect();
        assert_eq!(picked, [2, 3]);
    }

    #[test]
    fn contradictions_are_found() {
        let f = PacketFilter {
            protocol: Some(Protocol::Udp),
            flags: TcpFlags::parse("S"),
            ..PacketFilter::default()
        };
        assert!(f.is_contradictory().is_some());
        assert!(PacketFilter::default().is_contradictory().is_none());
    }
}

//! Routers: forwarding a frame from one link to the next.
//!
//! A frame that reaches a router and is not for the router itself is
//! forwarded: its IPv4 header is checked, its TTL decremented (at 1 it is
//! dropped and the sender gets ICMP time exceeded), a NAT may rewrite it,
//! and the router's routing table picks the next link (no route: ICMP
//! destination unreachable). It keeps its frame id, so the trace follows
//! one packet from the host that sent it to the host that receives it.

use super::*;
use crate::route::NatConfig;

/// What a router keeps besides its routing table.
#[derive(Debug, Default)]
pub(super) struct Router {
    /// Its source NAT, if it does NAT.
    pub(super) nat: Option<Nat>,
}

/// A router's NAT table.
#[derive(Debug)]
pub(super) struct Nat {
    pub(super) config: NatConfig,
    pub(super) public: Ipv4Addr,
}

impl Nat {
    pub(super) fn new(config: NatConfig, public: Ipv4Addr) -> Nat {
        Nat { config, public }
    }
}

//! Routing: which link a packet leaves by.
//!
//! Every node (host or router) has a [`RoutingTable`]. Its first entries are
//! its neighbours, one per link (a host reaches the node at the other end of
//! each of its links directly, as it always has); then static routes to
//! prefixes, looked up by longest prefix match, and a default route (a
//! host's gateway). A router forwards what it receives and is not for
//! itself by the same lookup. This module is data and lookups only: the
//! world applies it (`world/forward.rs`).

use crate::link::Direction;
use crate::socket::{HostId, LinkId};
use crate::time::SimDuration;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 prefix, e.g. `10.1.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    /// The network address (host bits zero).
    pub addr: Ipv4Addr,
    /// Prefix length, 0 to 32.
    pub len: u8,
}

impl Ipv4Net {
    /// The prefix of `len` bits holding `addr` (host bits are cleared).
    /// `None` when `len` is above 32.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Ipv4Net> {
        (len <= 32).then(|| Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask(len)),
            len,
        })
    }

    /// `0.0.0.0/0`, which every address matches.
    pub const DEFAULT: Ipv4Net = Ipv4Net {
        addr: Ipv4Addr::UNSPECIFIED,
        len: 0,
    };

    /// Whether `addr` is in this prefix.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.len) == u32::from(self.addr)
    }
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a prefix did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an IPv4 prefix: write an address and a length, e.g. \"10.1.0.0/16\", or \"default\""
)]
pub struct Ipv4NetError(pub String);

impl FromStr for Ipv4Net {
    type Err = Ipv4NetError;
    /// `10.1.0.0/16`, `10.1.2.3` (a /32) or `default` (`0.0.0.0/0`). Host
    /// bits set under the mask are refused (`10.1.0.1/16`), as `ip route`
    /// refuses them: they are usually a typo.
    fn from_str(s: &str) -> Result<Ipv4Net, Ipv4NetError> {
        let err = || Ipv4NetError(s.to_string());
        if s == "default" {
            return Ok(Ipv4Net::DEFAULT);
        }
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().map_err(|_| err())?),
            None => (s, 32),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| err())?;
        let net = Ipv4Net::new(addr, len).ok_or_else(err)?;
        if net.addr != addr {
            return Err(err());
        }
        Ok(net)
    }
}

/// Where a route leads: out of a link, to the node at its other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    /// The link.
    pub link: LinkId,
    /// Which way the frame crosses it.
    pub dir: Direction,
    /// The node at the other end (the next hop).
    pub next: HostId,
}

/// A node's routes.
#[derive(Clone, Debug, Default)]
pub struct RoutingTable {
    /// Neighbours by address: the node at the other end of each link.
    neighbours: BTreeMap<Ipv4Addr, Hop>,
    /// Static routes by (prefix length, network), looked up from the
    /// longest length down.
    prefixes: BTreeMap<(u8, u32), Hop>,
    /// The prefix lengths present, longest first (at most 33).
    lengths: Vec<u8>,
}

impl RoutingTable {
    /// Adds a neighbour at the other end of a link. `false` when one with
    /// that address is already there.
    pub fn add_neighbour(&mut self, addr: Ipv4Addr, hop: Hop) -> bool {
        if self.neighbours.contains_key(&addr) {
            return false;
        }
        self.neighbours.insert(addr, hop);
        true
    }

    /// The neighbour with this address, if there is one.
    pub fn neighbour(&self, addr: Ipv4Addr) -> Option<Hop> {
        self.neighbours.get(&addr).copied()
    }

    /// The hop towards a neighbouring node, by its id.
    pub fn hop_to(&self, node: HostId) -> Option<Hop> {
        self.neighbours.values().find(|h| h.next == node).copied()
    }

    /// Adds a static route (a later route to the same prefix replaces the
    /// earlier one).
    pub fn add_route(&mut self, net: Ipv4Net, hop: Hop) {
        self.prefixes.insert((net.len, u32::from(net.addr)), hop);
        if !self.lengths.contains(&net.len) {
            self.lengths.push(net.len);
            self.lengths.sort_unstable_by(|a, b| b.cmp(a));
        }
    }

    /// Whether the table has any static route (a node without one reaches
    /// only its neighbours, as every host did before routers existed).
    pub fn has_routes(&self) -> bool {
        !self.prefixes.is_empty()
    }

    /// Where a packet to `dst` goes: a neighbour with that address, else
    /// the longest matching prefix, else nowhere.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<Hop> {
        if let Some(hop) = self.neighbours.get(&dst) {
            return Some(*hop);
        }
        let d = u32::from(dst);
        self.lengths
            .iter()
            .find_map(|&len| self.prefixes.get(&(len, d & mask(len))).copied())
    }
}

/// A router's source NAT: connections from its inside leave with the
/// router's address and a port of its choosing, and answers find their way
/// back through a table of mappings that forgets a mapping idle for
/// `idle_timeout` (as home routers, carrier-grade NATs and cloud load
/// balancers do).
#[derive(Clone, Debug, PartialEq)]
pub struct NatConfig {
    /// The neighbour on the outside: packets routed out to it are
    /// translated, and only packets from it are translated back.
    pub outside: HostId,
    /// How long a mapping lives without a packet.
    pub idle_timeout: SimDuration,
    /// What a packet that finds no mapping gets.
    pub on_expired: NatExpiredAction,
    /// The first public port handed out (ports are taken in turn from here
    /// to 65535, then from here again, skipping ports in use).
    pub first_port: u16,
}

/// What a NAT does with a packet that matches no mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NatExpiredAction {
    /// Drop it silently (most NATs): the sender finds out by timing out.
    #[default]
    Drop,
    /// Answer a TCP segment with RST (some load balancers), so the sender
    /// finds out at once. Other packets are dropped.
    Reset,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(n: u32) -> Hop {
        Hop {
            link: LinkId(n),
            dir: Direction::AtoB,
            next: HostId(n),
        }
    }

    #[test]
    fn longest_prefix_wins_and_neighbours_come_first() {
        let mut t = RoutingTable::default();
        t.add_route(Ipv4Net::DEFAULT, hop(0));
        t.add_route("10.0.0.0/8".parse().unwrap(), hop(1));
        t.add_route("10.1.0.0/16".parse().unwrap(), hop(2));
        t.add_route("10.1.2.3".parse().unwrap(), hop(3));
        assert!(t.add_neighbour([10, 1, 2, 4].into(), hop(4)));
        assert!(!t.add_neighbour([10, 1, 2, 4].into(), hop(5)));
        let at = |a: [u8; 4]| t.lookup(a.into()).unwrap().next.0;
        assert_eq!(at([192, 168, 0, 1]), 0);
        assert_eq!(at([10, 9, 9, 9]), 1);
        assert_eq!(at([10, 1, 9, 9]), 2);
        assert_eq!(at([10, 1, 2, 3]), 3);
        assert_eq!(at([10, 1, 2, 4]), 4);
        let mut none = RoutingTable::default();
        none.add_route("10.0.0.0/8".parse().unwrap(), hop(1));
        assert_eq!(none.lookup([11, 0, 0, 1].into()), None);
    }

    #[test]
    fn prefixes_parse_strictly() {
        assert_eq!(
            "default".parse::<Ipv4Net>().unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            "10.1.0.0/16".parse::<Ipv4Net>().unwrap().to_string(),
            "10.1.0.0/16"
        );
        assert_eq!("10.1.2.3".parse::<Ipv4Net>().unwrap().len, 32);
        for bad in [
            "10.1.0.1/16",
            "10.1.0.0/33",
            "10.1/16",
            "x",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
        }
        let net: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains([10, 1, 255, 1].into()));
        assert!(!net.contains([10, 2, 0, 1].into()));
        assert!(Ipv4Net::DEFAULT.contains([1, 2, 3, 4].into()));
    }
}

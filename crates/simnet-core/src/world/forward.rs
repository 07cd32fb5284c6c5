//! Routers: forwarding a frame from one link to the next.
//!
//! A frame that reaches a router and is not for the router itself is
//! forwarded: its IPv4 header is checked, its TTL decremented (at 1 it is
//! dropped and the sender gets ICMP time exceeded), a NAT may rewrite it,
//! and the router's routing table picks the next link (no route: ICMP
//! network unreachable). It keeps its frame id, so the trace follows one
//! packet from the host that sent it to the host that receives it.

use super::*;
use crate::rewrite;

/// What a router keeps besides its routing table.
#[derive(Debug, Default)]
pub(super) struct Router {
    /// Its source NAT, if it does NAT.
    pub(super) nat: Option<Nat>,
}

/// A mapping's key on the outside: (protocol, public port, remote).
type OutsideKey = (u8, u16, SocketAddrV4);

/// One translated flow.
#[derive(Debug)]
struct Mapping {
    inside: SocketAddrV4,
    last_used: SimTime,
}

/// A router's NAT table.
#[derive(Debug)]
pub(super) struct Nat {
    config: NatConfig,
    public: Ipv4Addr,
    /// (protocol, inside, remote) → public port.
    by_inside: BTreeMap<(u8, SocketAddrV4, SocketAddrV4), u16>,
    by_outside: BTreeMap<OutsideKey, Mapping>,
    /// Public ports in use, per protocol.
    ports: BTreeSet<(u8, u16)>,
    next_port: u16,
}

impl Nat {
    pub(super) fn new(config: NatConfig, public: Ipv4Addr) -> Nat {
        let first = config.first_port.max(1);
        Nat {
            config,
            public,
            by_inside: BTreeMap::new(),
            by_outside: BTreeMap::new(),
            ports: BTreeSet::new(),
            next_port: first,
        }
    }

    /// Forgets every mapping (the router crashed); their pending expiry
    /// checks find nothing.
    pub(super) fn forget_all(&mut self) {
        self.by_inside.clear();
        self.by_outside.clear();
        self.ports.clear();
    }

    /// The next free public port for `proto`, taken in turn from
    /// `first_port` to 65535 and round again (at most one pass).
    fn allocate(&mut self, proto: u8) -> Option<u16> {
        let first = self.config.first_port.max(1);
        for _ in first..=u16::MAX {
            let port = self.next_port;
            self.next_port = if port == u16::MAX { first } else { port + 1 };
            if self.ports.insert((proto, port)) {
                return Some(port);
            }
        }
        None
    }
}

/// What the NAT decided for one packet.
enum Translation {
    /// Not the NAT's business (neither leaving by the outside nor coming
    /// from it to the public address).
    Untouched,
    /// Rewritten; a new mapping may need its expiry scheduled.
    Done(Option<OutsideKey>),
    /// No mapping: dropped, maybe answered with RST.
    NoMapping,
}

impl World {
    /// Whether a frame that reached router `router` from `prev` is forwarded
    /// (rather than handed to the router's own stack): it is addressed to
    /// someone else, or it comes from a NAT's outside to its public address.
    pub(super) fn forwards(&self, router: HostId, prev: HostId, bytes: &[u8]) -> bool {
        let dst = PacketInfo::parse_dst(bytes);
        if dst != self.hosts[router.0 as usize].addr {
            return true;
        }
        matches!(&self.routers[router.0 as usize], Some(Router { nat: Some(nat) }) if nat.config.outside == prev)
    }

    /// Forwards a frame that reached `router` from `prev`.
    pub(super) fn forward(&mut self, frame: Frame, router: HostId, prev: HostId, corrupted: bool) {
        let id = frame.id;
        if !self.hosts[router.0 as usize].is_up() {
            return self.drop_frame(id, router, None, DropReason::HostDown);
        }
        // A router checks the IP header, not what it carries.
        if !rewrite::header_ok(&frame.bytes) {
            let reason = if corrupted {
                DiscardReason::BadChecksum
            } else {
                DiscardReason::Malformed
            };
            self.trace.push(
                self.now,
                TraceEvent::FrameDiscarded {
                    frame: id,
                    host: router,
                    reason,
                },
            );
            return;
        }
        if rewrite::ttl(&frame.bytes) <= 1 {
            self.drop_frame(id, router, None, DropReason::TtlExceeded);
            return self.icmp_error(router, &frame.bytes, 11, 0);
        }
        let mut out = frame.bytes.to_vec();
        rewrite::decrement_ttl(&mut out);
        let new_mapping = match self.translate(router, prev, &mut out) {
            Translation::Untouched => None,
            Translation::Done(key) => key,
            Translation::NoMapping => {
                self.drop_frame(id, router, None, DropReason::NatNoMapping);
                let reset = matches!(
                    &self.routers[router.0 as usize],
                    Some(Router { nat: Some(n) }) if n.config.on_expired == NatExpiredAction::Reset
                );
                if reset && let Some(rst) = rewrite::tcp_reset(&frame.bytes) {
                    self.transmit(router, Arc::from(rst), None, None);
                }
                return;
            }
        };
        if let Some(key) = new_mapping {
            self.schedule_nat_expiry(router, key, self.now);
        }
        let dst = PacketInfo::parse_dst(&out);
        let Some(hop) = self.routes[router.0 as usize].lookup(dst) else {
            self.drop_frame(id, router, None, DropReason::NoRoute);
            return self.icmp_error(router, &frame.bytes, 3, 0);
        };
        let bytes: Arc<[u8]> = Arc::from(out);
        self.trace.push(
            self.now,
            TraceEvent::FrameForwarded {
                frame: id,
                router,
                from: prev,
                to: hop.next,
                link: hop.link,
                bytes: self.capture.keep(&bytes),
                len: bytes.len() as u32,
            },
        );
        let action = self.match_faults(router, Some(hop.next), &bytes, None);
        self.send_on_link(id, router, bytes, hop, action, corrupted);
    }

    /// Sends the ICMP error a router owes the sender of `original`.
    fn icmp_error(&mut self, router: HostId, original: &[u8], icmp_type: u8, code: u8) {
        let from = self.hosts[router.0 as usize].addr;
        if let Some(packet) = rewrite::icmp_error(from, original, icmp_type, code) {
            self.transmit(router, Arc::from(packet), None, None);
        }
    }

    /// Applies `router`'s NAT, if it has one, to a packet from `prev`.
    fn translate(&mut self, router: HostId, prev: HostId, out: &mut [u8]) -> Translation {
        let now = self.now;
        let Some(Router { nat: Some(nat) }) = &self.routers[router.0 as usize] else {
            return Translation::Untouched;
        };
        let dst = PacketInfo::parse_dst(out);
        let inbound = prev == nat.config.outside && dst == nat.public;
        let outbound = prev != nat.config.outside
            && self.routes[router.0 as usize]
                .lookup(dst)
                .is_some_and(|h| h.next == nat.config.outside);
        if !inbound && !outbound {
            return Translation::Untouched;
        }
        let Some((proto, src, dst, opens)) = rewrite::flow(out) else {
            return Translation::NoMapping; // only TCP and UDP are translated
        };
        let Some(Router { nat: Some(nat) }) = &mut self.routers[router.0 as usize] else {
            return Translation::Untouched;
        };
        if inbound {
            let Some(m) = nat.by_outside.get_mut(&(proto, dst.port(), src)) else {
                return Translation::NoMapping;
            };
            m.last_used = now;
            rewrite::rewrite_endpoint(out, true, m.inside);
            return Translation::Done(None);
        }
        let mut made = None;
        let port = match nat.by_inside.get(&(proto, src, dst)) {
            Some(&port) => port,
            // Only a SYN opens a TCP mapping: a segment of a connection
            // whose mapping was forgotten has nowhere to go.
            None if proto == 6 && !opens => return Translation::NoMapping,
            None => {
                let Some(port) = nat.allocate(proto) else {
                    return Translation::NoMapping;
                };
                nat.by_inside.insert((proto, src, dst), port);
                made = Some((proto, port, dst));
                port
            }
        };
        let key = (proto, port, dst);
        nat.by_outside
            .entry(key)
            .or_insert(Mapping {
                inside: src,
                last_used: now,
            })
            .last_used = now;
        let outside = SocketAddrV4::new(nat.public, port);
        rewrite::rewrite_endpoint(out, false, outside);
        if made.is_some() {
            self.trace.push(
                now,
                TraceEvent::NatMapped {
                    router,
                    proto,
                    inside: src,
                    outside,
                    remote: dst,
                },
            );
        }
        Translation::Done(made)
    }

    /// Schedules the check of a mapping's idle timeout, counted from `since`.
    fn schedule_nat_expiry(&mut self, router: HostId, key: OutsideKey, since: SimTime) {
        let Some(Router { nat: Some(nat) }) = &self.routers[router.0 as usize] else {
            return;
        };
        let at = since + nat.config.idle_timeout;
        self.queue.push(at, Event::NatExpiry { router, key });
    }

    /// A mapping's idle timeout may have run out: forget it if it has,
    /// else check again when it would.
    pub(super) fn nat_expiry(&mut self, router: HostId, key: OutsideKey) {
        let now = self.now;
        let Some(Router { nat: Some(nat) }) = &mut self.routers[router.0 as usize] else {
            return;
        };
        let Some(m) = nat.by_outside.get(&key) else {
            return;
        };
        let last_used = m.last_used;
        if last_used + nat.config.idle_timeout > now {
            return self.schedule_nat_expiry(router, key, last_used);
        }
        let inside = m.inside;
        let (proto, port, remote) = key;
        nat.by_outside.remove(&key);
        nat.by_inside.remove(&(proto, inside, remote));
        nat.ports.remove(&(proto, port));
        let outside = SocketAddrV4::new(nat.public, port);
        self.trace.push(
            now,
            TraceEvent::NatExpired {
                router,
                proto,
                inside,
                outside,
                remote,
                last_used,
            },
        );
    }
}

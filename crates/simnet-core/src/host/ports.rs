//! Which local TCP ports an outgoing connection may take, decided the way
//! Linux decides it.
//!
//! A socket that `connect()` gave an ephemeral port holds a 4-tuple, not the
//! port: Linux's `__inet_hash_connect` accepts a port for a new connection
//! when no socket was bound to it explicitly (a listener, or a connection
//! accepted on one) and no existing connection, TIME-WAIT included, already
//! uses the same local port towards the same remote address and port. So one
//! local port can carry one connection to each of several destinations at
//! once, and a proxy that spreads its upstream connections over several
//! addresses gets the whole port range once per address; towards a single
//! destination the range is used up as before, and ports stay taken through
//! TIME-WAIT.
//!
//! A connected socket holds its 4-tuple from `connect()` until the socket is
//! gone (its TIME-WAIT over, or its application closed it after a failure),
//! as the port was held before; Linux lets go of a failed connection's port
//! a little earlier, when the socket enters CLOSED, but no packet depends on
//! the difference.
//!
//! The search is indexed (runs of ports held towards each destination, and
//! of ports pinned by listeners), so it costs a few lookups even when the
//! range is full, and a failed `connect()` after exhaustion does not scan
//! the range.

use crate::socket::SocketId;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// (local port, remote address, remote port).
pub(super) type Tuple = (u16, Ipv4Addr, u16);

/// Disjoint, non-adjacent runs of ports (first → last, inclusive): finding
/// the first port at or after another that is not in the set takes one
/// lookup however long the run it falls in.
#[derive(Default)]
struct Runs(BTreeMap<u16, u16>);

impl Runs {
    /// The run holding `port`, if any.
    fn run_of(&self, port: u16) -> Option<(u16, u16)> {
        let (&first, &last) = self.0.range(..=port).next_back()?;
        (port <= last).then_some((first, last))
    }

    fn insert(&mut self, port: u16) {
        if self.run_of(port).is_some() {
            return;
        }
        let mut first = port;
        let mut last = port;
        if let Some(before) = port.checked_sub(1)
            && let Some((f, _)) = self.run_of(before)
        {
            first = f;
        }
        if let Some(after) = port.checked_add(1)
            && let Some(l) = self.0.remove(&after)
        {
            last = l;
        }
        self.0.insert(first, last);
    }

    fn remove(&mut self, port: u16) {
        let Some((first, last)) = self.run_of(port) else {
            return;
        };
        self.0.remove(&first);
        if first < port {
            self.0.insert(first, port - 1);
        }
        if port < last {
            self.0.insert(port + 1, last);
        }
    }

    /// The first port at or after `port` that is not in the set (65536 if
    /// none is).
    fn skip(&self, port: u32) -> u32 {
        match u16::try_from(port).ok().and_then(|p| self.run_of(p)) {
            Some((_, last)) => u32::from(last) + 1,
            None => port,
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The host's local TCP ports: how many sockets use each, and the 4-tuples
/// held by sockets whose local port `connect()` chose, indexed so that
/// [`Ports::first_allowed`] costs a few lookups however full the range is.
#[derive(Default)]
pub(super) struct Ports {
    /// How many sockets of any kind use each port.
    users: BTreeMap<u16, u32>,
    /// Every tuple held, for the uniqueness check.
    tuples: BTreeSet<Tuple>,
    /// How many connected sockets use each local port.
    per_port: BTreeMap<u16, u32>,
    /// The tuple each connected socket holds, to release it by socket.
    by_socket: BTreeMap<SocketId, Tuple>,
    /// Ports used by a socket that is not a connected one (a listener, or
    /// a connection accepted on one): never shared with outgoing
    /// connections.
    pinned: Runs,
    /// The local ports held towards each destination.
    by_remote: BTreeMap<(Ipv4Addr, u16), Runs>,
}

impl Ports {
    /// Whether any socket uses `port`.
    pub fn in_use(&self, port: u16) -> bool {
        self.users.contains_key(&port)
    }

    /// One more socket uses `port` (a connected socket also calls
    /// [`Ports::hold`]).
    pub fn take(&mut self, port: u16) {
        *self.users.entry(port).or_insert(0) += 1;
        self.refresh(port);
    }

    /// One socket fewer uses `port`.
    pub fn release(&mut self, port: u16) {
        if let Some(n) = self.users.get_mut(&port) {
            *n -= 1;
            if *n == 0 {
                self.users.remove(&port);
            }
        }
        self.refresh(port);
    }

    /// Keeps [`Ports::pinned`] in step with the counts of `port`.
    fn refresh(&mut self, port: u16) {
        let users = self.users.get(&port).copied().unwrap_or(0);
        let connected = self.per_port.get(&port).copied().unwrap_or(0);
        if users > connected {
            self.pinned.insert(port);
        } else {
            self.pinned.remove(port);
        }
    }

    /// Records that `sid` now holds `tuple`.
    pub fn hold(&mut self, sid: SocketId, tuple: Tuple) {
        self.tuples.insert(tuple);
        *self.per_port.entry(tuple.0).or_insert(0) += 1;
        self.by_socket.insert(sid, tuple);
        self.by_remote
            .entry((tuple.1, tuple.2))
            .or_default()
            .insert(tuple.0);
        self.refresh(tuple.0);
    }

    /// Lets go of whatever `sid` held (nothing if it was not a connected
    /// socket).
    pub fn unhold(&mut self, sid: SocketId) {
        let Some(tuple) = self.by_socket.remove(&sid) else {
            return;
        };
        self.tuples.remove(&tuple);
        if let Some(n) = self.per_port.get_mut(&tuple.0) {
            *n -= 1;
            if *n == 0 {
                self.per_port.remove(&tuple.0);
            }
        }
        let remote = (tuple.1, tuple.2);
        if let Some(runs) = self.by_remote.get_mut(&remote) {
            runs.remove(tuple.0);
            if runs.is_empty() {
                self.by_remote.remove(&remote);
            }
        }
        self.refresh(tuple.0);
    }

    /// Whether a new connection to `remote` may use `port`: every socket
    /// using it must be a connected socket (a port bound by a listener is
    /// never shared with outgoing connections), and none may already go to
    /// `remote`.
    pub fn allows(&self, port: u16, remote: (Ipv4Addr, u16)) -> bool {
        let users = self.users.get(&port).copied().unwrap_or(0);
        let connected = self.per_port.get(&port).copied().unwrap_or(0);
        users == connected && !self.tuples.contains(&(port, remote.0, remote.1))
    }

    /// The first port from `from` to `last` (inclusive) that a new
    /// connection to `remote` may use ([`Ports::allows`]). Each step jumps
    /// over a whole run of held or pinned ports, so it costs a few lookups
    /// per run of pinned ports (listeners) in the way, not one per port.
    pub fn first_allowed(&self, from: u16, last: u16, remote: (Ipv4Addr, u16)) -> Option<u16> {
        let held = self.by_remote.get(&remote);
        let mut port = u32::from(from);
        loop {
            if port > u32::from(last) {
                return None;
            }
            let free_here = held.map_or(port, |h| h.skip(port));
            let unpinned = self.pinned.skip(free_here);
            if unpinned == free_here {
                if free_here > u32::from(last) {
                    return None;
                }
                let found = u16::try_from(free_here).ok()?;
                debug_assert!(self.allows(found, remote));
                return Some(found);
            }
            port = unpinned;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 0, 0, 2), 80);
    const B: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 0, 0, 3), 80);

    /// A connected socket as the host records one.
    fn connect(c: &mut Ports, sid: u64, port: u16, to: (Ipv4Addr, u16)) {
        c.take(port);
        c.hold(SocketId(sid), (port, to.0, to.1));
    }

    fn close(c: &mut Ports, sid: u64, port: u16) {
        c.release(port);
        c.unhold(SocketId(sid));
    }

    #[test]
    fn a_port_is_shared_between_destinations_but_not_within_one() {
        let mut c = Ports::default();
        assert!(c.allows(40000, A));
        connect(&mut c, 1, 40000, A);
        assert!(!c.allows(40000, A));
        assert!(c.allows(40000, B));
        // The same address on another port is another destination.
        assert!(c.allows(40000, (A.0, 81)));
        connect(&mut c, 2, 40000, B);
        assert!(!c.allows(40000, B));
        close(&mut c, 1, 40000);
        assert!(c.allows(40000, A));
        close(&mut c, 2, 40000);
        // Releasing a socket that held nothing changes nothing.
        c.unhold(SocketId(2));
        c.unhold(SocketId(9));
        assert!(c.allows(40000, B));
        assert!(!c.in_use(40000));
    }

    #[test]
    fn a_port_with_a_listener_or_accepted_connection_is_never_shared() {
        let mut c = Ports::default();
        // One user that is not a connected socket: a listener.
        c.take(8080);
        assert!(!c.allows(8080, A));
        assert_eq!(c.first_allowed(8080, 8081, A), Some(8081));
        c.hold(SocketId(1), (8080, B.0, B.1));
        c.take(8080);
        assert!(!c.allows(8080, A));
        c.release(8080);
        assert!(c.allows(8080, A));
        assert_eq!(c.first_allowed(8080, 8081, A), Some(8080));
    }

    /// The reference: [`Ports::first_allowed`] as a scan of every port.
    fn scan(c: &Ports, from: u16, last: u16, to: (Ipv4Addr, u16)) -> Option<u16> {
        (from..=last).find(|p| c.allows(*p, to))
    }

    #[test]
    fn first_allowed_finds_what_a_scan_finds() {
        let mut c = Ports::default();
        let mut rng = 12345u64;
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) as u32
        };
        type Open = (u64, u16, Option<(Ipv4Addr, u16)>);
        let mut open: Vec<Open> = Vec::new();
        for sid in 0..4000u64 {
            let port = 65500 + (next() % 36) as u16;
            let to = [A, B][(next() % 2) as usize];
            let from = 65500 + (next() % 36) as u16;
            for last in [65535, from.saturating_add(5)] {
                assert_eq!(c.first_allowed(from, last, to), scan(&c, from, last, to));
            }
            match next() % 4 {
                0 if !open.is_empty() => {
                    let (sid, port, to) = open.swap_remove((next() as usize) % open.len());
                    c.release(port);
                    if to.is_some() {
                        c.unhold(SocketId(sid));
                    }
                }
                1 => {
                    c.take(port);
                    open.push((sid, port, None));
                }
                _ => {
                    if c.allows(port, to) {
                        connect(&mut c, sid, port, to);
                        open.push((sid, port, Some(to)));
                    }
                }
            }
        }
    }

    #[test]
    fn runs_merge_and_split() {
        let mut r = Runs::default();
        for p in [5, 7, 6, 65535, 0] {
            r.insert(p);
        }
        assert_eq!(
            r.0.iter().map(|(a, b)| (*a, *b)).collect::<Vec<_>>(),
            [(0, 0), (5, 7), (65535, 65535)]
        );
        assert_eq!(r.skip(5), 8);
        assert_eq!(r.skip(65535), 65536);
        assert_eq!(r.skip(4), 4);
        r.remove(6);
        assert_eq!(r.skip(5), 6);
        assert_eq!(r.skip(7), 8);
        r.remove(5);
        r.remove(7);
        r.remove(0);
        r.remove(65535);
        assert!(r.is_empty());
    }
}

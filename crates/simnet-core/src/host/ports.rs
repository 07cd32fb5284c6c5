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

use crate::socket::SocketId;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// (local port, remote address, remote port).
pub(super) type Tuple = (u16, Ipv4Addr, u16);

/// The 4-tuples held by sockets whose local port `connect()` chose.
#[derive(Default)]
pub(super) struct Connected {
    /// Every tuple held, for the uniqueness check.
    tuples: BTreeSet<Tuple>,
    /// How many connected sockets use each local port.
    per_port: BTreeMap<u16, u32>,
    /// The tuple each connected socket holds, to release it by socket.
    by_socket: BTreeMap<SocketId, Tuple>,
}

impl Connected {
    /// Records that `sid` now holds `tuple`.
    pub fn hold(&mut self, sid: SocketId, tuple: Tuple) {
        self.tuples.insert(tuple);
        *self.per_port.entry(tuple.0).or_insert(0) += 1;
        self.by_socket.insert(sid, tuple);
    }

    /// Lets go of whatever `sid` held (nothing if it was not a connected
    /// socket).
    pub fn release(&mut self, sid: SocketId) {
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
    }

    /// Whether a new connection to `remote` may use `port`, given how many
    /// sockets of any kind use it (`users`, from the host's port table).
    /// Every one of them must be a connected socket (a port bound by a
    /// listener is never shared with outgoing connections), and none may
    /// already go to `remote`.
    pub fn allows(&self, port: u16, users: u32, remote: (Ipv4Addr, u16)) -> bool {
        let connected = self.per_port.get(&port).copied().unwrap_or(0);
        users == connected && !self.tuples.contains(&(port, remote.0, remote.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 0, 0, 2), 80);
    const B: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 0, 0, 3), 80);

    #[test]
    fn a_port_is_shared_between_destinations_but_not_within_one() {
        let mut c = Connected::default();
        assert!(c.allows(40000, 0, A));
        c.hold(SocketId(1), (40000, A.0, A.1));
        assert!(!c.allows(40000, 1, A));
        assert!(c.allows(40000, 1, B));
        // The same address on another port is another destination.
        assert!(c.allows(40000, 1, (A.0, 81)));
        c.hold(SocketId(2), (40000, B.0, B.1));
        assert!(!c.allows(40000, 2, B));
        c.release(SocketId(1));
        assert!(c.allows(40000, 1, A));
        c.release(SocketId(2));
        // Releasing twice, or a socket that held nothing, changes nothing.
        c.release(SocketId(2));
        c.release(SocketId(9));
        assert!(c.allows(40000, 0, B));
    }

    #[test]
    fn a_port_with_a_listener_or_accepted_connection_is_never_shared() {
        let mut c = Connected::default();
        // One user that is not a connected socket: a listener.
        assert!(!c.allows(8080, 1, A));
        c.hold(SocketId(1), (8080, B.0, B.1));
        assert!(!c.allows(8080, 2, A));
        assert!(c.allows(8080, 1, A));
    }
}

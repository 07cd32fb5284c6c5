//! A server's open WebSocket connections, with the bookkeeping that keeps
//! its cost per event independent of how many it holds.
//!
//! After every event a server used to flush every connection it held, in
//! socket id order. Flushing a connection that has nothing to do makes no
//! socket call and records nothing (see [`WsSocket::is_settled`]), so
//! flushing only the connections that may have something to do, still in
//! socket id order, makes exactly the same calls. [`WsSockets`] keeps that
//! set: a connection becomes *dirty* whenever the server reaches it
//! mutably, and stays dirty after a flush only while bytes wait for room
//! in its send buffer (then every later flush offers them again, as
//! before). It also finds the connection a close timer belongs to without
//! a scan.

use super::WsSocket;
use simnet_core::{AppContext, SocketId, TimerId};
use std::collections::{BTreeMap, BTreeSet};

/// What a server keeps per WebSocket connection: the [`WsSocket`], and
/// possibly more (the Socket.IO-style server keeps the session).
pub(super) trait HoldsWs {
    /// The connection.
    fn ws(&mut self) -> &mut WsSocket;
    /// The connection, to look at.
    fn ws_ref(&self) -> &WsSocket;
}

impl HoldsWs for WsSocket {
    fn ws(&mut self) -> &mut WsSocket {
        self
    }
    fn ws_ref(&self) -> &WsSocket {
        self
    }
}

impl<T> HoldsWs for (WsSocket, T) {
    fn ws(&mut self) -> &mut WsSocket {
        &mut self.0
    }
    fn ws_ref(&self) -> &WsSocket {
        &self.0
    }
}

/// A server's WebSocket connections by socket, the ones that may have
/// something to write, and the close timers armed for them.
#[derive(Debug)]
pub(super) struct WsSockets<T> {
    map: BTreeMap<SocketId, T>,
    /// Connections whose flush may make a call or record something.
    dirty: BTreeSet<SocketId>,
    /// The close timer armed for each connection, and back.
    close_timers: BTreeMap<TimerId, SocketId>,
    armed: BTreeMap<SocketId, TimerId>,
    /// How many times a connection was flushed (for tests).
    #[cfg(test)]
    flushes: u64,
}

impl<T> Default for WsSockets<T> {
    fn default() -> Self {
        WsSockets {
            map: BTreeMap::new(),
            dirty: BTreeSet::new(),
            close_timers: BTreeMap::new(),
            armed: BTreeMap::new(),
            #[cfg(test)]
            flushes: 0,
        }
    }
}

impl<T: HoldsWs> WsSockets<T> {
    /// Forgets every connection.
    pub fn clear(&mut self) {
        *self = WsSockets::default();
    }

    /// Adds a connection; it is flushed with the next [`flush`](Self::flush).
    pub fn insert(&mut self, sid: SocketId, state: T) {
        self.map.insert(sid, state);
        self.dirty.insert(sid);
    }

    /// A connection, to act on: it is flushed with the next
    /// [`flush`](Self::flush).
    pub fn get_mut(&mut self, sid: SocketId) -> Option<&mut T> {
        let state = self.map.get_mut(&sid)?;
        self.dirty.insert(sid);
        Some(state)
    }

    /// Every connection, in socket id order, to act on (a broadcast): all
    /// are flushed with the next [`flush`](Self::flush).
    pub fn all_mut(&mut self) -> impl Iterator<Item = (SocketId, &mut T)> {
        self.dirty.extend(self.map.keys().copied());
        self.map.iter_mut().map(|(s, t)| (*s, t))
    }

    /// The socket ids of the connections that still take messages, in
    /// order.
    pub fn open_ids(&self) -> Vec<SocketId> {
        self.map
            .iter()
            .filter(|(_, t)| t.ws_ref().is_open())
            .map(|(s, _)| *s)
            .collect()
    }

    /// The connection whose close timer `timer` is, if any (it is flushed
    /// with the next [`flush`](Self::flush)).
    pub fn by_close_timer(&mut self, timer: TimerId) -> Option<&mut T> {
        let sid = self.close_timers.remove(&timer)?;
        self.armed.remove(&sid);
        let state = self.map.get_mut(&sid)?;
        if state.ws().close_timer != Some(timer) {
            return None;
        }
        self.dirty.insert(sid);
        Some(state)
    }

    /// Flushes every connection that may have something to do, in socket
    /// id order ([`WsSocket::flush`]), and forgets those whose TCP
    /// connection is now closed; returns them, in the same order.
    pub fn flush(&mut self, cx: &mut AppContext<'_>) -> Vec<(SocketId, T)> {
        let mut gone = Vec::new();
        for sid in std::mem::take(&mut self.dirty) {
            let Some(state) = self.map.get_mut(&sid) else {
                continue;
            };
            let ws = state.ws();
            #[cfg(test)]
            {
                self.flushes += 1;
            }
            let open = ws.flush(cx);
            let timer = ws.close_timer;
            let settled = ws.is_settled();
            if let Some(old) = self.armed.remove(&sid) {
                self.close_timers.remove(&old);
            }
            if !open {
                if let Some(state) = self.map.remove(&sid) {
                    gone.push((sid, state));
                }
                continue;
            }
            if let Some(t) = timer {
                self.close_timers.insert(t, sid);
                self.armed.insert(sid, t);
            }
            if !settled {
                self.dirty.insert(sid);
            }
        }
        gone
    }

    /// How many times a connection was flushed, and how many may have
    /// something to do now (for tests).
    #[cfg(test)]
    pub fn flush_counts(&self) -> (u64, usize) {
        (self.flushes, self.dirty.len())
    }
}

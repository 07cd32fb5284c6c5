//! The polls a Socket.IO-style server holds until there is news, kept in
//! the order they were held and indexed by connection, session and timer,
//! so that a poll's timeout, a connection's end or a session's upgrade
//! costs as much as the polls it concerns, however many others are held.

use simnet_core::{SocketId, TimerId};
use simnet_http::proto::RequestId;
use std::collections::{BTreeMap, BTreeSet};

/// A poll the server holds until there is news.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    pub socket: SocketId,
    pub request: RequestId,
    pub session: u64,
    pub since: u64,
    pub timer: TimerId,
}

/// The held polls, in the order they were held.
#[derive(Debug, Default)]
pub(super) struct HeldPolls {
    polls: BTreeMap<u64, Held>,
    next: u64,
    by_socket: BTreeMap<SocketId, BTreeSet<u64>>,
    by_session: BTreeMap<u64, BTreeSet<u64>>,
    by_timer: BTreeMap<TimerId, u64>,
}

impl HeldPolls {
    /// Holds a poll, after every other.
    pub fn push(&mut self, held: Held) {
        let n = self.next;
        self.next += 1;
        self.polls.insert(n, held);
        self.by_socket.entry(held.socket).or_default().insert(n);
        self.by_session.entry(held.session).or_default().insert(n);
        self.by_timer.insert(held.timer, n);
    }

    /// How many polls are held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.polls.len()
    }

    /// Releases every poll, in the order they were held.
    pub fn take_all(&mut self) -> Vec<Held> {
        let polls = std::mem::take(self).polls;
        polls.into_values().collect()
    }

    /// Releases the polls held on connection `socket`, in order.
    pub fn take_socket(&mut self, socket: SocketId) -> Vec<Held> {
        let numbers = self.by_socket.get(&socket).cloned().unwrap_or_default();
        numbers.into_iter().filter_map(|n| self.remove(n)).collect()
    }

    /// Releases the polls of session `session`, in order.
    pub fn take_session(&mut self, session: u64) -> Vec<Held> {
        let numbers = self.by_session.get(&session).cloned().unwrap_or_default();
        numbers.into_iter().filter_map(|n| self.remove(n)).collect()
    }

    /// Releases the poll whose timeout timer is `timer`, if one is held.
    pub fn take_timer(&mut self, timer: TimerId) -> Option<Held> {
        let n = *self.by_timer.get(&timer)?;
        self.remove(n)
    }

    fn remove(&mut self, n: u64) -> Option<Held> {
        let held = self.polls.remove(&n)?;
        fn unindex<K: Ord>(index: &mut BTreeMap<K, BTreeSet<u64>>, key: &K, n: u64) {
            if let Some(set) = index.get_mut(key) {
                set.remove(&n);
                if set.is_empty() {
                    index.remove(key);
                }
            }
        }
        unindex(&mut self.by_socket, &held.socket, n);
        unindex(&mut self.by_session, &held.session, n);
        if self.by_timer.get(&held.timer) == Some(&n) {
            self.by_timer.remove(&held.timer);
        }
        Some(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(socket: u64, session: u64, timer: u64) -> Held {
        Held {
            socket: SocketId(socket),
            request: RequestId::new(0),
            session,
            since: 0,
            timer: TimerId(timer),
        }
    }

    #[test]
    fn polls_leave_in_the_order_they_were_held_and_every_index_forgets_them() {
        let mut polls = HeldPolls::default();
        polls.push(held(5, 1, 10));
        polls.push(held(3, 2, 11));
        polls.push(held(5, 2, 12));
        polls.push(held(4, 3, 13));
        assert_eq!(polls.len(), 4);
        let by_session: Vec<u64> = polls.take_session(2).iter().map(|h| h.timer.0).collect();
        assert_eq!(by_session, vec![11, 12]);
        assert!(polls.take_timer(TimerId(12)).is_none());
        let by_socket: Vec<u64> = polls
            .take_socket(SocketId(5))
            .iter()
            .map(|h| h.timer.0)
            .collect();
        assert_eq!(by_socket, vec![10]);
        assert_eq!(polls.take_timer(TimerId(13)).map(|h| h.session), Some(3));
        assert_eq!(polls.len(), 0);
        assert!(polls.by_socket.is_empty() && polls.by_session.is_empty());
        assert!(polls.by_timer.is_empty());
        polls.push(held(1, 1, 20));
        polls.push(held(2, 1, 21));
        let all: Vec<u64> = polls.take_all().iter().map(|h| h.timer.0).collect();
        assert_eq!(all, vec![20, 21]);
        assert_eq!(polls.len(), 0);
    }
}

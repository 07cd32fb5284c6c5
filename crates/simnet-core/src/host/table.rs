//! The host's live sockets, by id.
//!
//! Socket ids are handed out in increasing order and never reused, and
//! connections mostly end in roughly the order they began. So the table is
//! a run of slots, one per id from the oldest live socket's onwards: finding
//! a socket is an index, not a search (a host holding thousands of
//! connections looks sockets up several times per packet), and iterating
//! goes in id order, as the socket table and crash reports need. Slots of
//! ended sockets in the middle stay empty (one pointer each) until the
//! sockets before them end too.

use crate::socket::SocketId;
use std::collections::VecDeque;

pub(crate) struct SocketTable<T> {
    /// The id of the first slot.
    base: u64,
    /// Boxed so that an empty slot costs a pointer, not a whole entry.
    slots: VecDeque<Option<Box<T>>>,
}

impl<T> SocketTable<T> {
    pub fn new() -> SocketTable<T> {
        SocketTable {
            base: 0,
            slots: VecDeque::new(),
        }
    }

    fn index(&self, id: &SocketId) -> Option<usize> {
        id.0.checked_sub(self.base).map(|i| i as usize)
    }

    pub fn get(&self, id: &SocketId) -> Option<&T> {
        self.slots.get(self.index(id)?)?.as_deref()
    }

    pub fn get_mut(&mut self, id: &SocketId) -> Option<&mut T> {
        let i = self.index(id)?;
        self.slots.get_mut(i)?.as_deref_mut()
    }

    /// Adds a socket. Ids must be new, but need not be in order.
    pub fn insert(&mut self, id: SocketId, value: T) {
        if self.slots.is_empty() {
            self.base = id.0;
        }
        while id.0 < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let i = (id.0 - self.base) as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        debug_assert!(self.slots[i].is_none(), "socket id {id} reused");
        self.slots[i] = Some(Box::new(value));
    }

    pub fn remove(&mut self, id: &SocketId) -> Option<T> {
        let i = self.index(id)?;
        let value = self.slots.get_mut(i)?.take()?;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
        while let Some(None) = self.slots.back() {
            self.slots.pop_back();
        }
        Some(*value)
    }

    /// The sockets in id order.
    pub fn iter(&self) -> impl Iterator<Item = (SocketId, &T)> {
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, slot)| Some((SocketId(base + i as u64), slot.as_deref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_removes_and_iterates_in_id_order() {
        let mut t = SocketTable::new();
        for id in [3, 4, 5, 6] {
            t.insert(SocketId(id), id * 10);
        }
        assert_eq!(t.get(&SocketId(5)), Some(&50));
        assert_eq!(t.get(&SocketId(2)), None);
        assert_eq!(t.get(&SocketId(7)), None);
        assert_eq!(t.remove(&SocketId(4)), Some(40));
        assert_eq!(t.remove(&SocketId(4)), None);
        assert_eq!(t.get(&SocketId(4)), None);
        // Removing the oldest drops the empty slots behind it.
        assert_eq!(t.remove(&SocketId(3)), Some(30));
        assert_eq!((t.base, t.slots.len()), (5, 2));
        t.insert(SocketId(9), 90);
        t.insert(SocketId(1), 10);
        *t.get_mut(&SocketId(9)).unwrap() += 1;
        let all: Vec<(u64, u64)> = t.iter().map(|(id, v)| (id.0, *v)).collect();
        assert_eq!(all, [(1, 10), (5, 50), (6, 60), (9, 91)]);
        for id in [1, 5, 6, 9] {
            t.remove(&SocketId(id));
        }
        assert!(t.slots.is_empty());
        assert_eq!(t.iter().count(), 0);
    }
}

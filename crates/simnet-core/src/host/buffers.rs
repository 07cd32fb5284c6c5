//! Where TCP sockets' buffers come from: large lazily-zeroed chunks, and a
//! process-wide pool of sockets no world holds any more.
//!
//! A socket's receive and send buffers (64 KiB each by default) are most of
//! what it costs. Allocated one by one (`vec![0; 64 KiB]`), each is zeroed
//! by hand by the allocator, so every socket costs 128 KiB of resident
//! memory from the start, even one that never carries a byte. Here they are
//! carved instead from chunks of [`CHUNK_BYTES`] that are allocated zeroed
//! (`vec![0u8; 64 MiB]`): an allocation that large is mapped fresh from the
//! operating system (glibc, musl and macOS all do so well above 32 MiB), and
//! its pages become resident only when first written. An idle connection
//! writes nothing to its buffers, so it costs only its bookkeeping; a page
//! of a buffer costs memory once data has passed through it.
//!
//! smoltcp takes a borrowed buffer for the socket's whole life and has no
//! way to give it back, and without `unsafe` a piece of a chunk cannot be
//! freed on its own. So a chunk lives as long as the process (it is
//! leaked), and a socket built on pieces of one is never dropped: when its
//! host lets go of it (the connection is over and the host keeps enough
//! spares, the host crashes, or the world is dropped), [`PooledSet`]'s
//! `Drop` puts the whole socket into a process-wide pool, keyed by its
//! buffer sizes, and the next host that needs a socket of those sizes, in
//! any world of the process, takes it from there before carving new pieces.
//! The trade-off: memory is held for the process's peak. Buffers that once
//! carried data stay resident in the pool after their world is gone, and a
//! process whose peak was 10,000 sockets keeps 10,000 sockets (virtually
//! 128 KiB each with default buffers, resident only for the pages they
//! wrote) until it exits; a process running thousands of small worlds one
//! after another, as the tests do, reuses the same few sockets instead of
//! leaking new ones per world.
//!
//! A pooled socket is a recycled one (see `Host::new_tcp_socket`): its
//! connection state is reset by `listen` or `connect`, and what smoltcp's
//! reset leaves behind cannot change what it sends, so which pooled socket
//! a host gets (which depends on other threads' worlds) changes nothing in
//! a trace. Hosts that do not recycle sockets
//! ([`HostConfig::recycle_sockets`](super::HostConfig::recycle_sockets) off,
//! the comparison mode of the tests) build every socket fresh on buffers of
//! their own, freed with the socket, as before.

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};

/// Bytes of each chunk buffers are carved from (a buffer larger than this
/// gets a chunk of its own size). Well above glibc's largest dynamic
/// `mmap` threshold (32 MiB), so a chunk is always freshly mapped, zero
/// pages that cost nothing until written.
pub(super) const CHUNK_BYTES: usize = 64 << 20;

/// Receive and send buffer sizes of a pooled socket.
type Sizes = (usize, usize);

/// The process-wide state: the unused end of the last chunk, and the
/// sockets no host holds, by buffer sizes.
struct Pool {
    rest: &'static mut [u8],
    idle: BTreeMap<Sizes, Vec<SocketSet<'static>>>,
    /// Bytes of every chunk allocated so far.
    chunk_bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    rest: &mut [],
    idle: BTreeMap::new(),
    chunk_bytes: 0,
});

/// The pool, even if a thread panicked while holding it (its state is
/// consistent between any two statements that touch it).
fn pool() -> MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pool {
    /// A zeroed piece of `bytes` bytes from the current chunk, or from a
    /// new one when the rest is too short (the old rest is never touched,
    /// so it costs address space only).
    fn carve(&mut self, bytes: usize) -> &'static mut [u8] {
        if self.rest.len() < bytes {
            let size = bytes.max(CHUNK_BYTES);
            self.rest = Box::leak(vec![0u8; size].into_boxed_slice());
            self.chunk_bytes += size;
        }
        let (piece, rest) = std::mem::take(&mut self.rest).split_at_mut(bytes);
        self.rest = rest;
        piece
    }
}

/// A one-socket set, either a pooled TCP socket (which goes back to the
/// process-wide pool when dropped) or one that owns its buffers.
pub(super) struct PooledSet {
    set: SocketSet<'static>,
    /// The pool's key, for a socket built on pieces of a chunk.
    sizes: Option<Sizes>,
}

impl PooledSet {
    /// A set that owns whatever it holds (freed with it).
    pub fn owned(set: SocketSet<'static>) -> PooledSet {
        PooledSet { set, sizes: None }
    }

    /// A closed TCP socket with buffers of `rx` and `tx` bytes: one from
    /// the pool (a recycled socket) if there is one of these sizes, else a
    /// new one on pieces of a lazily-zeroed chunk.
    pub fn tcp(rx: usize, tx: usize) -> (PooledSet, SocketHandle) {
        let mut pool = pool();
        let set = match pool.idle.get_mut(&(rx, tx)).and_then(Vec::pop) {
            Some(set) => set,
            None => {
                let rx_piece = pool.carve(rx);
                let tx_piece = pool.carve(tx);
                drop(pool);
                let mut set = SocketSet::new(Vec::with_capacity(1));
                set.add(tcp::Socket::new(
                    tcp::SocketBuffer::new(rx_piece),
                    tcp::SocketBuffer::new(tx_piece),
                ));
                set
            }
        };
        let handle = only_handle(&set);
        (
            PooledSet {
                set,
                sizes: Some((rx, tx)),
            },
            handle,
        )
    }
}

/// The handle of the only socket in `set`.
fn only_handle(set: &SocketSet<'static>) -> SocketHandle {
    set.iter()
        .next()
        .map(|(handle, _)| handle)
        .expect("a pooled set holds one socket")
}

impl Deref for PooledSet {
    type Target = SocketSet<'static>;
    fn deref(&self) -> &SocketSet<'static> {
        &self.set
    }
}

impl DerefMut for PooledSet {
    fn deref_mut(&mut self) -> &mut SocketSet<'static> {
        &mut self.set
    }
}

impl Drop for PooledSet {
    fn drop(&mut self) {
        if let Some(sizes) = self.sizes {
            let set = std::mem::replace(&mut self.set, SocketSet::new(Vec::new()));
            pool().idle.entry(sizes).or_default().push(set);
        }
    }
}

/// What the pool holds: bytes of chunks allocated so far (address space,
/// resident only where written) and sockets waiting for a host.
#[cfg(test)]
pub(super) fn stats() -> (usize, usize) {
    let pool = pool();
    (pool.chunk_bytes, pool.idle.values().map(Vec::len).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes no other test uses, so that tests running in parallel do not
    /// take each other's sockets.
    const RX: usize = 12_345;
    const TX: usize = 6_789;

    fn idle(sizes: Sizes) -> usize {
        pool().idle.get(&sizes).map_or(0, Vec::len)
    }

    #[test]
    fn a_dropped_socket_goes_back_to_the_pool_and_is_reused() {
        let (set, handle) = PooledSet::tcp(RX, TX);
        let socket = set.get::<tcp::Socket>(handle);
        assert_eq!(socket.recv_capacity(), RX);
        assert_eq!(socket.send_capacity(), TX);
        assert_eq!(idle((RX, TX)), 0);
        drop(set);
        assert_eq!(idle((RX, TX)), 1);
        let (again, handle) = PooledSet::tcp(RX, TX);
        assert_eq!(idle((RX, TX)), 0);
        assert_eq!(again.get::<tcp::Socket>(handle).recv_capacity(), RX);
        drop(again);
        assert_eq!(idle((RX, TX)), 1);
    }

    #[test]
    fn an_owned_set_is_not_pooled() {
        let before = idle((RX + 1, TX));
        let rx = tcp::SocketBuffer::new(vec![0u8; RX + 1]);
        let tx = tcp::SocketBuffer::new(vec![0u8; TX]);
        let mut set = SocketSet::new(Vec::new());
        set.add(tcp::Socket::new(rx, tx));
        drop(PooledSet::owned(set));
        assert_eq!(idle((RX + 1, TX)), before);
    }

    #[test]
    fn buffers_larger_than_a_chunk_get_their_own() {
        let big = CHUNK_BYTES + 1;
        let (set, handle) = PooledSet::tcp(big, 1);
        assert_eq!(set.get::<tcp::Socket>(handle).recv_capacity(), big);
        assert!(stats().0 >= big);
    }

    #[test]
    fn pieces_are_carved_one_after_another() {
        let mut pool = Pool {
            rest: &mut [],
            idle: BTreeMap::new(),
            chunk_bytes: 0,
        };
        let a = pool.carve(1000);
        let b = pool.carve(1000);
        assert_eq!(pool.chunk_bytes, CHUNK_BYTES);
        assert_eq!(pool.rest.len(), CHUNK_BYTES - 2000);
        assert!(a.iter().chain(b.iter()).all(|&byte| byte == 0));
        pool.carve(CHUNK_BYTES);
        assert_eq!(pool.chunk_bytes, 2 * CHUNK_BYTES);
    }
}

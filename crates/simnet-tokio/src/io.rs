//! The state one host's sockets share with the adapter.
//!
//! Futures never touch the [`AppContext`](simnet_core::AppContext): it only
//! exists while a callback of the adapter runs. Each socket handle holds an
//! [`Io`] (the host's shared state) and its own id in it; a socket
//! operation changes that state, queues an [`Op`] when the host must act,
//! and registers a waker. The adapter applies the queued operations through
//! the `AppContext` between runs of the runtime, fills receive buffers on
//! `Readable` events, and wakes the wakers.
//!
//! The state sits behind an `Arc<Mutex<..>>` rather than an
//! `Rc<RefCell<..>>` so that sockets are `Send`: code written for tokio
//! moves its connections into `tokio::spawn`, which needs `Send` futures.
//! The runtime is single-threaded, so the mutex is never contended; it is
//! never held across a call into user code.

use simnet_core::SocketId;
use simnet_core::trace::AppEvent;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// How many received bytes a stream buffers for its task before it stops
/// reading from TCP (so that a task that does not read closes the window,
/// as a full socket buffer does).
pub(crate) const READ_BUFFER: usize = 64 * 1024;

/// How many written bytes a stream accepts before TCP has taken them
/// (after that, `poll_write` waits for room, as a full socket buffer makes
/// `write` wait).
pub(crate) const WRITE_BUFFER: usize = 64 * 1024;

/// One host's sockets, shared by its socket handles and its adapter.
#[derive(Clone)]
pub(crate) struct Io(Arc<Mutex<HostIo>>);

impl Io {
    pub(crate) fn new(addr: Ipv4Addr) -> Io {
        Io(Arc::new(Mutex::new(HostIo {
            addr,
            ops: VecDeque::new(),
            next_id: 0,
            streams: BTreeMap::new(),
            listeners: BTreeMap::new(),
            udps: BTreeMap::new(),
            by_sid: BTreeMap::new(),
            wakes: Vec::new(),
        })))
    }

    /// Locks the state. A panic elsewhere never leaves it half-changed (no
    /// user code runs under the lock), so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, HostIo> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

thread_local! {
    /// The host whose runtime is running on this thread, set by the adapter
    /// only while it runs the runtime.
    static CURRENT: RefCell<Option<Io>> = const { RefCell::new(None) };
}

/// Makes `io` the current host until the guard is dropped.
pub(crate) struct Enter(Option<Io>);

impl Enter {
    pub(crate) fn new(io: &Io) -> Enter {
        Enter(CURRENT.with(|c| c.replace(Some(io.clone()))))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The current host, or an error saying that simnet-tokio sockets only
/// work inside a task an [`AsyncApp`](crate::AsyncApp) runs.
pub(crate) fn current() -> io::Result<Io> {
    CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| {
        io::Error::other("simnet-tokio sockets work only inside an AsyncApp's tasks")
    })
}

/// Where a connection goes (public only so that [`crate::net::ToSimAddr`]
/// can name it; it is not reachable from outside the crate).
#[derive(Clone, Debug)]
pub enum Target {
    /// An address.
    Addr(SocketAddrV4),
    /// A scenario host by name, and a port.
    Name(String, u16),
}

/// Something the host must do, applied by the adapter in queue order.
#[derive(Debug)]
pub(crate) enum Op {
    Listen {
        id: u64,
        port: u16,
    },
    Unlisten {
        id: u64,
    },
    Connect {
        id: u64,
        target: Target,
    },
    /// Hand a stream's written bytes to TCP.
    Flush {
        id: u64,
    },
    /// Read more from TCP into a stream's buffer (it had stopped at the limit).
    Fill {
        id: u64,
    },
    Shutdown {
        id: u64,
    },
    Nodelay {
        id: u64,
        nodelay: bool,
    },
    /// The stream's last handle was dropped.
    Close {
        id: u64,
    },
    UdpBind {
        id: u64,
        port: u16,
    },
    UdpSend {
        id: u64,
        dst: Target,
        data: Vec<u8>,
    },
    UdpClose {
        id: u64,
    },
    Emit(Box<AppEvent>),
}

/// Which handle a simnet socket belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Stream(u64),
    Udp(u64),
}

/// Where a stream is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Connecting,
    Open,
    Failed(io::ErrorKind, String),
}

/// One TCP connection.
#[derive(Debug)]
pub(crate) struct Stream {
    pub sid: Option<SocketId>,
    pub local: Option<SocketAddrV4>,
    pub peer: Option<SocketAddrV4>,
    pub phase: Phase,
    /// Received and not yet read by the task.
    pub rbuf: VecDeque<u8>,
    /// The peer's FIN has been read from TCP.
    pub eof: bool,
    /// Reading stopped at [`READ_BUFFER`]; TCP may hold more.
    pub more: bool,
    /// Written by the task, not yet taken by TCP.
    pub wbuf: VecDeque<u8>,
    /// The task shut down its writing side.
    pub write_shut: bool,
    /// Every handle is gone: close once `wbuf` is empty.
    pub dropped: bool,
    pub flush_queued: bool,
    pub fill_queued: bool,
    pub read_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
}

impl Stream {
    pub(crate) fn new(phase: Phase) -> Stream {
        Stream {
            sid: None,
            local: None,
            peer: None,
            phase,
            rbuf: VecDeque::new(),
            eof: false,
            more: false,
            wbuf: VecDeque::new(),
            write_shut: false,
            dropped: false,
            flush_queued: false,
            fill_queued: false,
            read_waker: None,
            write_waker: None,
        }
    }

    /// The error of a failed stream.
    pub(crate) fn error(&self) -> Option<io::Error> {
        match &self.phase {
            Phase::Failed(kind, msg) => Some(io::Error::new(*kind, msg.clone())),
            _ => None,
        }
    }
}

/// How a listener's `listen` went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    Pending,
    Ok,
    Failed(io::ErrorKind, String),
}

/// A listening port.
#[derive(Debug)]
pub(crate) struct Listener {
    pub port: u16,
    pub bound: Bound,
    /// Accepted connections (stream ids) not yet taken by `accept`.
    pub ready: VecDeque<u64>,
    pub waker: Option<Waker>,
}

/// A UDP socket.
#[derive(Debug)]
pub(crate) struct Udp {
    pub sid: Option<SocketId>,
    pub local: Option<SocketAddrV4>,
    pub bound: Bound,
    pub queue: VecDeque<(SocketAddrV4, Vec<u8>)>,
    pub waker: Option<Waker>,
}

/// Everything one host's sockets share.
pub(crate) struct HostIo {
    pub addr: Ipv4Addr,
    pub ops: VecDeque<Op>,
    pub next_id: u64,
    pub streams: BTreeMap<u64, Stream>,
    pub listeners: BTreeMap<u64, Listener>,
    pub udps: BTreeMap<u64, Udp>,
    pub by_sid: BTreeMap<SocketId, Owner>,
    /// Wakers to wake once the lock is released.
    pub wakes: Vec<Waker>,
}

impl HostIo {
    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Queues a flush of stream `id` unless one is queued.
    pub(crate) fn queue_flush(&mut self, id: u64) {
        if let Some(s) = self.streams.get_mut(&id)
            && !s.flush_queued
        {
            s.flush_queued = true;
            self.ops.push_back(Op::Flush { id });
        }
    }

    /// Queues a refill of stream `id` when reading stopped at the limit.
    pub(crate) fn queue_fill(&mut self, id: u64) {
        if let Some(s) = self.streams.get_mut(&id)
            && s.more
            && !s.fill_queued
            && s.rbuf.len() < READ_BUFFER / 2
        {
            s.fill_queued = true;
            self.ops.push_back(Op::Fill { id });
        }
    }

    /// Schedules a stream's wakers.
    pub(crate) fn wake_stream(&mut self, id: u64, read: bool, write: bool) {
        if let Some(s) = self.streams.get_mut(&id) {
            if read && let Some(w) = s.read_waker.take() {
                self.wakes.push(w);
            }
            if write && let Some(w) = s.write_waker.take() {
                self.wakes.push(w);
            }
        }
    }
}

/// Stores `waker` in `slot` unless it would wake the same task already.
pub(crate) fn register(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

//! The adapter's half of the sockets: queued operations applied through
//! the [`AppContext`], and socket events turned into buffer changes and
//! wake-ups.

use crate::io::{Bound, HostIo, Op, Owner, Phase, READ_BUFFER, Stream, Target};
use simnet_core::{AppContext, CloseReason, Recv, SocketError, SocketEvent, SocketId};
use std::io::ErrorKind;
use std::net::SocketAddrV4;

/// The most one `recv` asks for.
const CHUNK: usize = 64 * 1024;

/// The `std::io` kind of a socket call's error.
pub(crate) fn kind_of(e: SocketError) -> ErrorKind {
    match e {
        SocketError::PortInUse(_) => ErrorKind::AddrInUse,
        SocketError::PortsExhausted(_) | SocketError::InvalidAddress => ErrorKind::AddrNotAvailable,
        SocketError::BadSocket | SocketError::NotConnected => ErrorKind::NotConnected,
        SocketError::Reset => ErrorKind::ConnectionReset,
        SocketError::HostDown => ErrorKind::NetworkDown,
        SocketError::MessageTooLarge => ErrorKind::InvalidInput,
        SocketError::UnknownHost => ErrorKind::NotFound,
        SocketError::LayerFailed => ErrorKind::InvalidData,
        _ => ErrorKind::Other,
    }
}

/// The `std::io` kind of a connection that ended abnormally.
fn kind_of_close(reason: CloseReason, connecting: bool) -> ErrorKind {
    match reason {
        CloseReason::Reset if connecting => ErrorKind::ConnectionRefused,
        CloseReason::Reset => ErrorKind::ConnectionReset,
        CloseReason::TimedOut => ErrorKind::TimedOut,
        CloseReason::HostCrashed => ErrorKind::ConnectionAborted,
        _ => ErrorKind::Other,
    }
}

fn fail(h: &mut HostIo, id: u64, kind: ErrorKind, msg: String) {
    if let Some(s) = h.streams.get_mut(&id) {
        if !matches!(s.phase, Phase::Failed(..)) {
            s.phase = Phase::Failed(kind, msg);
        }
        s.wbuf.clear();
    }
    h.wake_stream(id, true, true);
}

/// Applies every queued operation; returns how many there were.
pub(crate) fn apply_ops(h: &mut HostIo, cx: &mut AppContext<'_>) -> usize {
    let mut applied = 0;
    while let Some(op) = h.ops.pop_front() {
        applied += 1;
        apply(h, cx, op);
    }
    applied
}

fn apply(h: &mut HostIo, cx: &mut AppContext<'_>, op: Op) {
    match op {
        Op::Listen { id, port } => {
            let bound = match cx.listen(port) {
                Ok(()) => Bound::Ok,
                Err(e) => Bound::Failed(kind_of(e), format!("listen(:{port}): {e}")),
            };
            if let Some(l) = h.listeners.get_mut(&id) {
                l.bound = bound;
                if let Some(w) = l.waker.take() {
                    h.wakes.push(w);
                }
            }
        }
        Op::Unlisten { id } => {
            if let Some(l) = h.listeners.remove(&id) {
                if l.bound == Bound::Ok {
                    cx.unlisten(l.port);
                }
                for sid in l.ready {
                    close_stream(h, cx, sid);
                }
            }
        }
        Op::Connect { id, target } => {
            let result = match &target {
                Target::Addr(a) => cx.connect(*a),
                Target::Name(name, port) => cx.connect_to(name, *port),
            };
            match result {
                Ok(sid) => {
                    h.by_sid.insert(sid, Owner::Stream(id));
                    let addrs = cx.socket_addrs(sid);
                    if let Some(s) = h.streams.get_mut(&id) {
                        s.sid = Some(sid);
                        s.local = addrs.map(|a| a.0);
                    }
                }
                Err(e) => fail(h, id, kind_of(e), format!("connect: {e}")),
            }
        }
        Op::Flush { id } => flush(h, cx, id),
        Op::Fill { id } => fill(h, cx, id),
        Op::Shutdown { id } => {
            if let Some(sid) = h.streams.get(&id).and_then(|s| s.sid) {
                let _ = cx.shutdown(sid);
            }
        }
        Op::Nodelay { id, nodelay } => {
            if let Some(sid) = h.streams.get(&id).and_then(|s| s.sid) {
                let _ = cx.set_nagle(sid, !nodelay);
            }
        }
        Op::Close { id } => {
            let Some(s) = h.streams.get_mut(&id) else {
                return;
            };
            s.dropped = true;
            if s.wbuf.is_empty() || s.phase != Phase::Open {
                close_stream(h, cx, id);
            } else {
                flush(h, cx, id);
            }
        }
        Op::UdpBind { id, port } => {
            let result = cx.udp_bind(port);
            let Some(u) = h.udps.get_mut(&id) else {
                if let Ok(sid) = result {
                    let _ = cx.close(sid);
                }
                return;
            };
            match result {
                Ok(sid) => {
                    u.sid = Some(sid);
                    u.local = cx.socket_addrs(sid).map(|a| a.0);
                    u.bound = Bound::Ok;
                    h.by_sid.insert(sid, Owner::Udp(id));
                }
                Err(e) => u.bound = Bound::Failed(kind_of(e), format!("bind(:{port}): {e}")),
            }
            if let Some(w) = h.udps.get_mut(&id).and_then(|u| u.waker.take()) {
                h.wakes.push(w);
            }
        }
        Op::UdpSend { id, dst, data } => {
            let Some(sid) = h.udps.get(&id).and_then(|u| u.sid) else {
                return;
            };
            let dst = match dst {
                Target::Addr(a) => Some(a),
                Target::Name(name, port) => cx.resolve(&name).map(|a| SocketAddrV4::new(a, port)),
            };
            if let Some(dst) = dst {
                let _ = cx.send_to(sid, dst, &data);
            }
        }
        Op::UdpClose { id } => {
            if let Some(sid) = h.udps.remove(&id).and_then(|u| u.sid) {
                h.by_sid.remove(&sid);
                let _ = cx.close(sid);
            }
        }
        Op::Emit(event) => cx.emit(*event),
    }
}

/// Forgets a stream and closes its socket.
fn close_stream(h: &mut HostIo, cx: &mut AppContext<'_>, id: u64) {
    if let Some(sid) = h.streams.remove(&id).and_then(|s| s.sid) {
        h.by_sid.remove(&sid);
        let _ = cx.close(sid);
    }
}

/// Hands a stream's written bytes to TCP, as far as there is room.
fn flush(h: &mut HostIo, cx: &mut AppContext<'_>, id: u64) {
    let Some(s) = h.streams.get_mut(&id) else {
        return;
    };
    s.flush_queued = false;
    let Some(sid) = s.sid else {
        return;
    };
    if s.phase != Phase::Open {
        return;
    }
    let mut taken = false;
    while !s.wbuf.is_empty() {
        let (front, _) = s.wbuf.as_slices();
        match cx.send(sid, front) {
            Ok(0) => break,
            Ok(n) => {
                s.wbuf.drain(..n);
                taken = true;
            }
            Err(e) => {
                let kind = match e {
                    SocketError::NotConnected => ErrorKind::BrokenPipe,
                    e => kind_of(e),
                };
                fail(h, id, kind, format!("send: {e}"));
                return;
            }
        }
    }
    let done = s.wbuf.is_empty();
    let dropped = s.dropped;
    if taken {
        h.wake_stream(id, false, true);
    }
    if done && dropped {
        close_stream(h, cx, id);
    }
}

/// Reads from TCP into a stream's buffer, up to its limit.
fn fill(h: &mut HostIo, cx: &mut AppContext<'_>, id: u64) {
    let Some(s) = h.streams.get_mut(&id) else {
        return;
    };
    s.fill_queued = false;
    let Some(sid) = s.sid else {
        return;
    };
    if s.eof {
        return;
    }
    let mut changed = false;
    loop {
        let room = READ_BUFFER.saturating_sub(s.rbuf.len());
        if room == 0 {
            s.more = true;
            break;
        }
        match cx.recv(sid, room.min(CHUNK)) {
            Ok(Recv::Data(d)) => {
                s.rbuf.extend(d);
                changed = true;
            }
            Ok(Recv::Eof) => {
                s.eof = true;
                s.more = false;
                changed = true;
                break;
            }
            Ok(Recv::WouldBlock) => {
                s.more = false;
                break;
            }
            Err(e) => {
                fail(h, id, kind_of(e), format!("recv: {e}"));
                return;
            }
        }
    }
    if changed {
        h.wake_stream(id, true, false);
    }
}

/// Turns a socket event into buffer changes and wake-ups.
pub(crate) fn on_event(h: &mut HostIo, cx: &mut AppContext<'_>, event: SocketEvent) {
    let owner = |h: &HostIo, sid: SocketId| h.by_sid.get(&sid).copied();
    match event {
        SocketEvent::Connected(sid) => {
            if let Some(Owner::Stream(id)) = owner(h, sid) {
                let addrs = cx.socket_addrs(sid);
                if let Some(s) = h.streams.get_mut(&id) {
                    s.phase = Phase::Open;
                    if let Some((local, peer)) = addrs {
                        s.local = Some(local);
                        s.peer = peer;
                    }
                }
                h.wake_stream(id, true, true);
            }
        }
        SocketEvent::ConnectFailed(sid, reason) => {
            if let Some(Owner::Stream(id)) = owner(h, sid) {
                let kind = kind_of_close(reason, true);
                fail(h, id, kind, format!("connect: {reason}"));
            }
        }
        SocketEvent::Closed(sid, reason) => match owner(h, sid) {
            Some(Owner::Stream(id)) => {
                let connecting = h
                    .streams
                    .get(&id)
                    .is_some_and(|s| s.phase == Phase::Connecting);
                fail(h, id, kind_of_close(reason, connecting), reason.to_string());
            }
            _ => {
                let _ = cx.close(sid);
            }
        },
        SocketEvent::Incoming { port } => incoming(h, cx, port),
        SocketEvent::Readable(sid) => match owner(h, sid) {
            Some(Owner::Stream(id)) => fill(h, cx, id),
            Some(Owner::Udp(id)) => {
                let mut got = false;
                while let Ok(Some(datagram)) = cx.recv_from(sid) {
                    if let Some(u) = h.udps.get_mut(&id) {
                        u.queue.push_back(datagram);
                        got = true;
                    }
                }
                if got && let Some(w) = h.udps.get_mut(&id).and_then(|u| u.waker.take()) {
                    h.wakes.push(w);
                }
            }
            None => {}
        },
        SocketEvent::Writable(sid) => {
            if let Some(Owner::Stream(id)) = owner(h, sid) {
                flush(h, cx, id);
            }
        }
    }
}

/// Accepts every waiting connection on `port` for its listener.
fn incoming(h: &mut HostIo, cx: &mut AppContext<'_>, port: u16) {
    let listener = h
        .listeners
        .iter()
        .find(|(_, l)| l.port == port && l.bound == Bound::Ok)
        .map(|(id, _)| *id);
    while let Some(sid) = cx.accept(port) {
        let Some(lid) = listener else {
            let _ = cx.close(sid);
            continue;
        };
        let id = h.id();
        let mut s = Stream::new(Phase::Open);
        s.sid = Some(sid);
        if let Some((local, peer)) = cx.socket_addrs(sid) {
            s.local = Some(local);
            s.peer = peer;
        }
        h.streams.insert(id, s);
        h.by_sid.insert(sid, Owner::Stream(id));
        if let Some(l) = h.listeners.get_mut(&lid) {
            l.ready.push_back(id);
        }
        // Data may have come with the connection.
        fill(h, cx, id);
    }
    if let Some(w) = listener.and_then(|l| h.listeners.get_mut(&l)?.waker.take()) {
        h.wakes.push(w);
    }
}

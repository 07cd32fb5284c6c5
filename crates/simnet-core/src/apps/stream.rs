//! Helpers for applications that speak a protocol over a TCP byte stream
//! (the HTTP and WebSocket crates): read everything a socket holds, and
//! write as much of an output buffer as the socket takes (the TCP programs
//! here write with it too). [`Outbox`] is that output buffer when it may
//! hold long generated payloads.

use super::Filler;
use crate::app::AppContext;
use crate::socket::{Recv, SocketEvent, SocketId};
use std::collections::{BTreeMap, VecDeque};

/// How much one `recv` call asks for.
const READ_CHUNK: usize = 64 * 1024;

/// What one read of a socket produced.
#[derive(Debug, Default)]
pub struct Input {
    /// Bytes read.
    pub data: Vec<u8>,
    /// The peer closed its sending side.
    pub eof: bool,
    /// The connection is gone (reset, timed out).
    pub broken: bool,
    /// Why, when `recv` said (a reset, or a failed stream layer).
    pub error: Option<crate::socket::SocketError>,
}

/// Reads everything available on a socket.
pub fn read_all(cx: &mut AppContext<'_>, sid: SocketId) -> Input {
    read_at_most(cx, sid, usize::MAX)
}

/// Reads at most `budget` bytes of a socket (a slow reader's share): the
/// rest stays in its receive buffer. The end of the stream or a broken
/// connection is reported once every byte before it has been read.
pub fn read_at_most(cx: &mut AppContext<'_>, sid: SocketId, budget: usize) -> Input {
    let mut input = Input::default();
    while input.data.len() < budget {
        match cx.recv(sid, (budget - input.data.len()).min(READ_CHUNK)) {
            // The first chunk is the input (most reads take one): no copy.
            Ok(Recv::Data(d)) if input.data.is_empty() => input.data = d,
            Ok(Recv::Data(d)) => input.data.extend_from_slice(&d),
            Ok(Recv::Eof) => {
                input.eof = true;
                break;
            }
            Ok(Recv::WouldBlock) => break,
            Err(e) => {
                input.broken = true;
                input.error = Some(e);
                break;
            }
        }
    }
    input
}

/// A server's connections and the state it keeps for each, by socket,
/// doing the bookkeeping every server repeats: it accepts every waiting
/// connection (an `Incoming` event may stand for several), and releases a
/// socket whose connection was reset or timed out (`close` after
/// `Closed`).
///
/// ```ignore
/// fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
///     let Some((s, state)) = self.conns.on_event(cx, event) else { return };
///     // `Readable` or `Writable` on connection `s`: read, write, maybe close
///     // (then `self.conns.remove(s)`).
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Connections<T> {
    map: BTreeMap<SocketId, T>,
}

impl<T> Default for Connections<T> {
    fn default() -> Self {
        Connections {
            map: BTreeMap::new(),
        }
    }
}

impl<T: Default> Connections<T> {
    /// No connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles the bookkeeping part of `event`: on `Incoming`, accepts
    /// every waiting connection with `T::default()` as its state; on
    /// `Closed` of a connection it holds, closes the socket and forgets
    /// it. For `Readable` and `Writable` on a connection it holds, returns
    /// the socket and its state; for everything else (including events on
    /// sockets it does not hold, such as the application's own outgoing
    /// connections), `None`.
    pub fn on_event(
        &mut self,
        cx: &mut AppContext<'_>,
        event: SocketEvent,
    ) -> Option<(SocketId, &mut T)> {
        match event {
            SocketEvent::Incoming { port } => {
                while let Some(s) = cx.accept(port) {
                    self.map.insert(s, T::default());
                }
                None
            }
            SocketEvent::Closed(s, _) => {
                if self.map.remove(&s).is_some() {
                    let _ = cx.close(s);
                }
                None
            }
            SocketEvent::Readable(s) | SocketEvent::Writable(s) => {
                self.map.get_mut(&s).map(|state| (s, state))
            }
            _ => None,
        }
    }
}

impl<T> Connections<T> {
    /// Forgets a connection (after closing it); returns its state.
    pub fn remove(&mut self, socket: SocketId) -> Option<T> {
        self.map.remove(&socket)
    }

    /// A connection's state.
    pub fn get_mut(&mut self, socket: SocketId) -> Option<&mut T> {
        self.map.get_mut(&socket)
    }

    /// Every connection and its state, by socket id (a stable order).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SocketId, &mut T)> {
        self.map.iter_mut().map(|(s, t)| (*s, t))
    }

    /// How many connections are held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no connection is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Removes the first complete line, up to and including its `\n`, from the
/// front of `buf` and returns it; `None` while no line is complete. For a
/// line-based protocol: append what [`read_all`] returns to a buffer kept
/// per connection, then take lines until `None` (a line may arrive in
/// several reads, and one read may bring several lines).
pub fn take_line(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    Some(buf.drain(..=end).collect())
}

/// Sends as much of `out` as the socket takes; the rest waits for
/// [`SocketEvent::Writable`]. Returns
/// false if the socket is unusable (and drops what was waiting).
pub fn flush(cx: &mut AppContext<'_>, sid: SocketId, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return true;
    }
    match cx.send(sid, out) {
        Ok(n) => {
            out.drain(..n);
            true
        }
        Err(_) => {
            out.clear();
            false
        }
    }
}

/// What an application has written and the socket has not taken yet: bytes
/// and lazily generated [`Filler`] payloads, in order. A payload of
/// gigabytes waits here as two numbers; only what the socket accepts is
/// ever produced.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    pieces: VecDeque<Piece>,
    len: u64,
}

#[derive(Clone, Debug)]
enum Piece {
    /// Bytes, and how many of them were already sent.
    Bytes(Vec<u8>, usize),
    Filler(Filler),
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Bytes waiting.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops everything waiting.
    pub fn clear(&mut self) {
        self.pieces.clear();
        self.len = 0;
    }

    /// Queues bytes after what waits.
    pub fn push(&mut self, bytes: impl Into<Vec<u8>>) {
        let bytes = bytes.into();
        if !bytes.is_empty() {
            self.len = self.len.saturating_add(bytes.len() as u64);
            self.pieces.push_back(Piece::Bytes(bytes, 0));
        }
    }

    /// Queues `len` bytes of [`filler`](super::filler), generated only as
    /// the socket takes them.
    pub fn push_filler(&mut self, len: u64) {
        if len > 0 {
            // Saturating: timeline commands may queue any number of bytes,
            // and more than 2^64 of them will never all be sent anyway.
            self.len = self.len.saturating_add(len);
            self.pieces.push_back(Piece::Filler(Filler::new(len)));
        }
    }

    /// Sends as much as the socket takes, in one `send` call offering
    /// everything that waits (so the trace and the segments are those of
    /// writing all of it at once, as [`flush`] does with a vector); the
    /// rest waits for [`SocketEvent::Writable`].
    /// Only as many bytes as the send buffer has room for are produced.
    /// Returns false if the socket is unusable (and drops what was waiting).
    pub fn flush(&mut self, cx: &mut AppContext<'_>, sid: SocketId) -> bool {
        if self.is_empty() {
            return true;
        }
        // An unusable socket has no room; the send below then fails and
        // is traced exactly as a plain `send` would be.
        let room = cx.send_room(sid).unwrap_or(0);
        let n = self.len.min(room as u64) as usize;
        let offered = usize::try_from(self.len).unwrap_or(usize::MAX);
        let result = match self.pieces.front() {
            Some(Piece::Bytes(bytes, done)) if bytes.len() - done >= n => {
                cx.send_offered(sid, &bytes[*done..*done + n], offered)
            }
            _ => {
                let chunk = self.peek(n);
                cx.send_offered(sid, &chunk, offered)
            }
        };
        match result {
            Ok(k) => {
                self.consume(k as u64);
                true
            }
            Err(_) => {
                self.clear();
                false
            }
        }
    }

    /// The first `n` bytes waiting (at most what waits), copied.
    fn peek(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        for piece in &self.pieces {
            let left = n - out.len();
            if left == 0 {
                break;
            }
            match piece {
                Piece::Bytes(bytes, done) => {
                    let rest = &bytes[*done..];
                    out.extend_from_slice(&rest[..rest.len().min(left)]);
                }
                Piece::Filler(f) => f.clone().take_into(&mut out, left),
            }
        }
        out
    }

    /// Removes the first `n` bytes.
    fn consume(&mut self, mut n: u64) {
        self.len -= n.min(self.len);
        while n > 0 {
            let Some(front) = self.pieces.front_mut() else {
                return;
            };
            let finished = match front {
                Piece::Bytes(bytes, done) => {
                    let k = ((bytes.len() - *done) as u64).min(n);
                    *done += k as usize;
                    n -= k;
                    *done == bytes.len()
                }
                Piece::Filler(f) => {
                    let k = f.remaining().min(n);
                    f.advance(k);
                    n -= k;
                    f.is_empty()
                }
            };
            if finished {
                self.pieces.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::take_line;

    #[test]
    fn take_line_returns_complete_lines_only_and_keeps_the_rest() {
        let mut buf = b"one\ntwo\nthr".to_vec();
        assert_eq!(take_line(&mut buf).as_deref(), Some(&b"one\n"[..]));
        assert_eq!(take_line(&mut buf).as_deref(), Some(&b"two\n"[..]));
        assert_eq!(take_line(&mut buf), None);
        assert_eq!(buf, b"thr");
        buf.extend_from_slice(b"ee\n");
        assert_eq!(take_line(&mut buf).as_deref(), Some(&b"three\n"[..]));
        assert!(buf.is_empty());
        assert_eq!(take_line(&mut buf), None);
    }
}

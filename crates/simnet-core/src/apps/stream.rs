//! Helpers for applications that speak a protocol over a TCP byte stream
//! (the HTTP and WebSocket crates): read everything a socket holds, and
//! write as much of an output buffer as the socket takes (the TCP programs
//! here write with it too).

use crate::app::AppContext;
use crate::socket::{Recv, SocketId};

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
}

/// Reads everything available on a socket.
pub fn read_all(cx: &mut AppContext<'_>, sid: SocketId) -> Input {
    let mut input = Input::default();
    loop {
        match cx.recv(sid, READ_CHUNK) {
            Ok(Recv::Data(d)) => input.data.extend_from_slice(&d),
            Ok(Recv::Eof) => {
                input.eof = true;
                break;
            }
            Ok(Recv::WouldBlock) => break,
            Err(_) => {
                input.broken = true;
                break;
            }
        }
    }
    input
}

/// Sends as much of `out` as the socket takes; the rest waits for
/// [`SocketEvent::Writable`](crate::socket::SocketEvent::Writable). Returns
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

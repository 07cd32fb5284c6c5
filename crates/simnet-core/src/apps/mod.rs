//! Built-in applications for raw TCP and UDP.
//!
//! These are the programs the TCP and UDP scenarios need: an echo/response
//! server whose closing behaviour is a parameter, a client that connects,
//! sends, waits for a reply and closes in one of several ways, a bulk sender
//! and a (possibly slow) sink, and a UDP sender and echo. HTTP and WebSocket
//! applications live in their own crates.

mod tcp;
mod udp;

pub use tcp::{BulkSender, ClientClose, Reply, ServerClose, Sink, TcpClient, TcpEcho, TcpServer};
pub use udp::{UdpEcho, UdpSender};

/// `len` bytes of readable filler: `abcdefghijklmnopqrstuvwxyz` repeated.
pub fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

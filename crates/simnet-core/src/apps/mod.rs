//! Built-in applications for raw TCP and UDP.
//!
//! These are the programs the TCP and UDP scenarios need: an echo/response
//! server whose closing behaviour is a parameter, a client that connects,
//! sends, waits for a reply and closes in one of several ways, a bulk sender
//! and a (possibly slow) sink, a UDP sender and echo, and a raw client and
//! server that send exact bytes to test how other programs answer broken
//! input. HTTP and WebSocket applications live in their own crates.

pub mod raw;
pub mod stream;
mod tcp;
mod udp;

pub use raw::{Piece, RawClient, RawClose, RawServer};
pub use tcp::{
    BulkSender, ClientClose, IdleConnections, Reply, ServerClose, Sink, TcpClient, TcpEcho,
    TcpServer,
};
pub use udp::{UdpEcho, UdpSender};

/// The byte stream bulk transfers carry, so a receiver can check that every
/// byte arrived intact and in order.
///
/// Byte `i` of the stream is `TABLE[i % 65521]`, a fixed pseudo-random table
/// whose length is prime: no whole number of segments is a multiple of it, so
/// a misplaced segment never lines up with the right bytes by accident.
pub mod pattern {
    use std::sync::OnceLock;

    /// The period of the pattern (a prime).
    pub const PERIOD: usize = 65521;

    fn table() -> &'static [u8] {
        static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            (0..PERIOD)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect()
        })
    }

    /// The longest run of the stream starting at `offset` that is one slice
    /// of the table (at most `max` bytes).
    pub fn slice(offset: u64, max: usize) -> &'static [u8] {
        let start = (offset % PERIOD as u64) as usize;
        let end = (start + max).min(PERIOD);
        &table()[start..end]
    }

    /// Checks `data`, found at stream position `offset`; returns the
    /// position of the first wrong byte.
    pub fn first_mismatch(offset: u64, data: &[u8]) -> Option<u64> {
        let mut done = 0usize;
        while done < data.len() {
            let expected = slice(offset + done as u64, data.len() - done);
            let got = &data[done..done + expected.len()];
            if got != expected {
                let i = got
                    .iter()
                    .zip(expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Some(offset + (done + i) as u64);
            }
            done += expected.len();
        }
        None
    }
}

/// `len` bytes of readable filler: `abcdefghijklmnopqrstuvwxyz` repeated.
pub fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

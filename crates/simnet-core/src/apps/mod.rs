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
pub use stream::Outbox;
pub use tcp::{
    BulkSender, ClientClose, IdleConnections, Payload, Reply, ServerClose, Sink, TcpClient,
    TcpEcho, TcpServer,
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
/// Long payloads use [`Filler`], which makes the same bytes on demand.
pub fn filler(len: usize) -> Vec<u8> {
    Filler::new(len as u64).take_vec(len)
}

/// The alphabet repeated to a little under 64 KiB (a whole number of
/// alphabets, so a slice at any offset continues the pattern).
static ALPHABETS: [u8; 26 * 2520] = {
    let mut table = [0u8; 26 * 2520];
    let mut i = 0;
    while i < table.len() {
        table[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    table
};

/// A payload of `len` bytes of [`filler`] (`abc...z` repeated) that is
/// generated as it is sent, so that a payload of gigabytes costs no memory:
/// a scenario's `send_bytes`, `reply_bytes` or `body_bytes`. Its bytes are
/// exactly those of `filler(len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filler {
    len: u64,
    done: u64,
}

impl Filler {
    /// `len` bytes of filler, none sent yet.
    pub const fn new(len: u64) -> Filler {
        Filler { len, done: 0 }
    }

    /// Bytes not yet taken.
    pub const fn remaining(&self) -> u64 {
        self.len - self.done
    }

    /// Whether every byte has been taken.
    pub const fn is_empty(&self) -> bool {
        self.done == self.len
    }

    /// The next bytes, at most `max` (fewer only at the end of the payload
    /// or of the internal table, about 64 KiB), without taking them.
    pub fn peek(&self, max: usize) -> &'static [u8] {
        let start = (self.done % 26) as usize;
        let n = (self.remaining().min(max as u64) as usize).min(ALPHABETS.len() - start);
        &ALPHABETS[start..start + n]
    }

    /// Marks `n` more bytes as taken (at most what remains).
    pub fn advance(&mut self, n: u64) {
        self.done = (self.done + n).min(self.len);
    }

    /// Appends the next `max` bytes (or what remains) to `out` and takes them.
    pub fn take_into(&mut self, out: &mut Vec<u8>, max: usize) {
        let mut left = self.remaining().min(max as u64) as usize;
        out.reserve(left);
        while left > 0 {
            let chunk = self.peek(left);
            out.extend_from_slice(chunk);
            left -= chunk.len();
            self.advance(chunk.len() as u64);
        }
    }

    /// The next `max` bytes (or what remains), taken, as a vector.
    pub fn take_vec(&mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        self.take_into(&mut out, max);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_is_the_alphabet_repeated_in_any_pieces() {
        let reference: Vec<u8> = (0..200_000).map(|i| b'a' + (i % 26) as u8).collect();
        assert_eq!(filler(200_000), reference);
        let mut f = Filler::new(200_000);
        let mut pieces = Vec::new();
        for max in [1, 7, 25, 26, 27, 70_000, 100_000, 3, usize::MAX] {
            f.take_into(&mut pieces, max);
        }
        assert!(f.is_empty());
        assert_eq!(pieces, reference);
    }

    #[test]
    fn a_huge_filler_costs_nothing_until_taken() {
        let mut f = Filler::new(10 << 30);
        assert_eq!(f.peek(usize::MAX).len(), ALPHABETS.len());
        f.advance(5);
        assert_eq!(f.peek(3), b"fgh");
        assert_eq!(f.remaining(), (10 << 30) - 5);
    }
}

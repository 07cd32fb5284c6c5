//! DNS without I/O, read from the bottom up:
//!
//! 1. [`name`]: host names, checked and compared without case.
//! 2. [`message`]: queries and responses on the wire (hickory-proto
//!    encodes and parses; this module picks what goes in and what matters
//!    coming out).
//! 3. [`zone`]: an authoritative zone answering queries.
//! 4. [`resolver`]: a stub resolver with a cache in simulated time,
//!    retransmission and negative caching.
//!
//! Nothing here opens a socket, reads a clock or draws a number: time is
//! an argument and query ids come from the caller's seeded stream.

pub mod message;
pub mod name;
pub mod resolver;
pub mod zone;

pub use message::{MAX_MESSAGE_BYTES, ParseError, Rcode};
pub use name::{DnsName, NameError};
pub use resolver::{
    Answer, Failure, Ignored, Lookup, Outcome, Resolver, ResolverConfig, ResolverEvent, Transmit,
};
pub use zone::{Reply, Served, Zone, ZoneRecord};

#[cfg(test)]
mod hostile {
    //! Arbitrary bytes, and a real query or answer with bytes flipped,
    //! fed to every reader: nothing panics, and the resolver's state stays
    //! within its bounds.
    use super::*;
    use proptest::prelude::*;
    use simnet_core::SimTime;
    use std::net::Ipv4Addr;

    fn feed(bytes: &[u8]) {
        let _ = message::parse(bytes);
        let mut zone = Zone::new(DnsName::parse("example").ok(), 5);
        zone.insert(
            DnsName::parse("api.example").unwrap(),
            ZoneRecord {
                address: Ipv4Addr::new(10, 0, 0, 2),
                ttl_secs: 30,
            },
        );
        if let Reply::Answer(served) = zone.answer(bytes) {
            // Whatever the server says parses.
            assert!(message::parse(&served.bytes).is_ok(), "{served:?}");
        }
        let mut r = Resolver::new(ResolverConfig::default());
        let name = DnsName::parse("api.example").unwrap();
        let id = bytes.first().map_or(0, |b| {
            u16::from(*b) << 8 | u16::from(bytes.get(1).copied().unwrap_or(0))
        });
        let _ = r.lookup(&name, SimTime::ZERO, || id);
        r.handle_input(SimTime::from_millis(1), bytes);
        while r.poll_event().is_some() {}
        assert!(r.cache_len() <= 1 && r.in_flight() <= 1);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            feed(&bytes);
        }

        #[test]
        fn damaged_messages_never_panic(
            flips in proptest::collection::vec((0usize..64, any::<u8>()), 1..8),
            cut in 0usize..64,
        ) {
            let name = DnsName::parse("api.example").unwrap();
            let query = message::encode_query(0x0102, &name);
            let mut zone = Zone::new(DnsName::parse("example").ok(), 5);
            zone.insert(name, ZoneRecord { address: Ipv4Addr::new(10, 0, 0, 2), ttl_secs: 30 });
            let Reply::Answer(answer) = zone.answer(&query) else { panic!("no answer") };
            for mut bytes in [query, answer.bytes] {
                for (at, value) in &flips {
                    let len = bytes.len();
                    bytes[at % len] = *value;
                }
                bytes.truncate(bytes.len().saturating_sub(cut % 8));
                feed(&bytes);
            }
        }
    }
}

//! simnet-dns: DNS over simulated UDP.
//!
//! The crate is read from the bottom up:
//!
//! 1. [`proto`]: names, messages (encoded and parsed by hickory-proto), an
//!    authoritative [`proto::Zone`] and a stub [`proto::Resolver`] with a
//!    cache, as sans-IO state machines in simulated time.
//! 2. [`apps`]: the applications that speak them over a host's UDP
//!    sockets (`dns-server`, `dns-client`), the resolver piece other
//!    applications embed to connect by name ([`apps::DnsClientSide`]),
//!    and, with the `scenario` cargo feature, the scenario kinds.
//!
//! What [`proto`] deliberately does not do: open sockets, read clocks,
//! draw random numbers, or know that smoltcp exists. Query ids come from
//! the caller, which draws them from its application's seeded stream.

pub mod apps;
pub mod proto;

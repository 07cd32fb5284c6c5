//! DNS applications: the programs that speak [`crate::proto`] over the UDP
//! sockets of a simulated host.
//!
//! - [`DnsServer`] (`dns-server`): authoritative for the names a scenario
//!   declares, on UDP port 53 by default.
//! - [`DnsClient`] (`dns-client`): looks names up at given times.
//! - [`DnsClientSide`]: the resolver piece itself, which any application
//!   that connects by name embeds (it owns one UDP socket and one timer).
//!
//! Every step is an application event:
//!
//! | kind | when | fields |
//! |---|---|---|
//! | `dns.query` | a query goes out (its first send) | `name`, `id` |
//! | `dns.retry` | no answer in time: the same query is sent again | `name`, `id`, `attempt`, `waited` |
//! | `dns.answer` | an address, fresh or from the cache | `name`, `address`, `ttl`, `cached`, `latency`, `id` (fresh only) |
//! | `dns.nxdomain` | the name does not exist (fresh or cached) | `name`, `ttl`, `cached`, `latency`, `id` |
//! | `dns.nodata` | the name exists with no address | `name`, `ttl`, `cached`, `latency`, `id` |
//! | `dns.timeout` | no answer to any send: the lookup failed | `name`, `id`, `attempts`, `latency` |
//! | `dns.failed` | the server answered with an error (SERVFAIL, REFUSED) or a truncated answer | `name`, `id`, `reason`, `latency` |
//! | `dns.ignored` | a datagram was not used (wrong id or question, malformed, not from the server) | `reason`, `id` |
//! | `dns.busy` | too many queries in flight to start one more | `name` |
//! | `dns.served` | a server answered a query | `name`, `id`, `rcode`, `address`, `ttl` |
//! | `dns.bind-failed` | the UDP socket could not be bound | |
//!
//! `ttl`, `latency` and `waited` are durations; `ttl` of a cached answer
//! is what is left of it.

mod client;
mod server;
mod side;

#[cfg(feature = "scenario")]
mod kinds;

pub use client::DnsClient;
pub use server::DnsServer;
pub use side::{DnsClientSide, Resolved};

#[cfg(feature = "scenario")]
pub use kinds::register;

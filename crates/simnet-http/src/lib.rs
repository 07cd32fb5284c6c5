//! simnet-http: HTTP/1.1 for simnet.
//!
//! The crate is split the same way the rest of simnet is layered:
//!
//! - [`proto`] is the protocol itself, as sans-IO state machines: a
//!   [`proto::server::ServerConn`] and a [`proto::client::ClientConn`] take
//!   bytes and an explicit simulated time, and hand back bytes to send,
//!   events for the application and the next deadline.
//!
//! The protocol layer does not know that smoltcp, sockets or the scheduler
//! exist. Applications that drive it over simulated sockets are a layer
//! above it and never the other way round: nothing in `proto` may import
//! them.
//!
//! The application kinds that scenario files can name (`apps::register`)
//! are behind the `scenario` cargo feature, which brings in the scenario
//! crate (and toml); the `simnet` crate turns it on. A user of `proto` or
//! of the applications alone leaves it off.
//! Because nothing in it reads a clock, draws a random number or iterates a
//! hash map, the same input always produces the same bytes.

pub mod apps;
pub mod proto;

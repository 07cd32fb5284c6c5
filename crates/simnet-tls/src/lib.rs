//! simnet-tls: TLS 1.2 and 1.3 for simnet's applications, on rustls,
//! sans-IO and deterministic.
//!
//! The crate is read from the bottom up, one module per layer:
//!
//! 1. [`clock`]: [`Epoch`], the calendar time simulated time zero stands
//!    for (certificates and tickets speak of calendar time).
//! 2. [`provider`]: a rustls `CryptoProvider` in which every random byte and
//!    every reading of the time comes from the session that is calling.
//! 3. [`certs`]: a test CA and server certificates (Ed25519) made from a
//!    seed, valid for a window of simulated time.
//! 4. [`config`]: per-application client and server configurations: TLS
//!    version, ALPN, the client's session cache, the server's resumption
//!    (seeded tickets or server-side state), 0-RTT, the key log.
//! 5. [`session`]: [`session::TlsClient`] and [`session::TlsServer`], what an
//!    application drives around its TCP socket: `feed(now, bytes)`,
//!    `take_outgoing()`, `write`, `read`, `close_notify`. They wrap rustls's
//!    connections; no TLS is implemented here.
//! 6. [`keylog`]: SSLKEYLOGFILE lines collected in memory.
//! 7. [`layer`]: [`TlsLayer`], a session installed on a simulated socket
//!    (`AppContext::set_layer`), so an application reads and writes
//!    plaintext while the packets carry records; each record is reported.
//! 8. [`wire`]: a decoder of records and handshake messages from the raw
//!    bytes of each direction, for the trace; with the key log it opens TLS
//!    1.3 records too.
//!
//! # Why a run is byte-identical
//!
//! A TLS handshake is full of randomness, and rustls's stock providers take
//! it from the OS. Here every random byte has one source: the ChaCha8
//! stream ([`simnet_core::rng::SimRng`]) the application hands each session
//! when it creates it. The session lends that stream, and the simulated
//! time of the call, to the provider for exactly the length of each call
//! into rustls (`provider::scope`); outside such a call a draw or a
//! reading of the time fails rather than fall back to the OS. Where each
//! random byte goes (the test `every_random_byte_is_accounted_for` counts
//! them):
//!
//! | bytes | drawn by | for |
//! |---|---|---|
//! | 32 | client, server | the hello randoms |
//! | 32 | client (1.3; 1.2 when offering a ticket) | the legacy session id |
//! | 2 | client | the seed of rustls's ClientHello extension order |
//! | 32 | both | the X25519 ephemeral secret ([`provider::X25519`], x25519-dalek) |
//! | 32 | server (1.2 stateful) | the session id |
//! | 32 + 4 | server (1.3, per ticket) | ticket nonce and `ticket_age_add` |
//! | 32 | server (1.3 stateful, per ticket) | the ticket's identifier |
//! | 12 | server (per sealed ticket) | the seal nonce ([`provider::SeededTicketer`]) |
//!
//! The ticket sealing key is drawn once from the server application's
//! stream when its configuration is made. Signatures are Ed25519, which is
//! deterministic (RFC 8032); the key provider refuses ECDSA and RSA keys,
//! whose signatures would draw from the OS inside ring. Certificates are
//! generated from a seed. The time rustls reads (certificate validity,
//! ticket ages and lifetimes) is the simulated time passed to `new` and
//! `feed`, through [`provider::SimClock`]. rustls's in-memory session
//! stores use std's `HashMap`, whose hash keys come from the OS, but only
//! for lookups: no iteration order reaches a byte on the wire.
//!
//! What this crate deliberately does not do: open sockets, read a clock,
//! know that smoltcp or the scheduler exist, or decrypt TLS 1.2 records.

pub mod certs;
pub mod clock;
pub mod config;
pub mod keylog;
pub mod layer;
pub mod provider;
pub mod session;
pub mod wire;

pub use clock::Epoch;
pub use config::{
    ClientOptions, ServerOptions, ServerResumption, TlsClientConfig, TlsServerConfig, TlsVersion,
};
pub use keylog::KeyLogLines;
pub use layer::TlsLayer;
pub use session::{HandshakeSummary, TlsClient, TlsError, TlsServer};

/// The rustls this crate wraps, for its error and alert types.
pub use rustls;

//! simnet-tls's integration tests: whole handshakes between a client and a
//! server session, driven by hand like a TCP connection with a fixed delay.

mod harness;

mod determinism;
mod handshakes;
mod layer_events;
mod observe;
mod sockets;

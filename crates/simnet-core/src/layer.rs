//! Stream layers: a transformation of a TCP connection's bytes that lives
//! on the socket, as Linux's kernel TLS (kTLS) does.
//!
//! An application that speaks TLS installs a session on its socket once the
//! connection exists ([`crate::AppContext::set_layer`]), and from then on
//! reads and writes plaintext with the same calls as before; the socket
//! carries what the layer makes of it. The HTTP and WebSocket applications
//! therefore become HTTPS and WSS without a second code path, and their
//! `recv`/`send` lines in the trace show what the application saw, while
//! the packets show what went over the wire.
//!
//! The host drives the layer ([`crate::host`]):
//!
//! - `recv` reads the bytes TCP holds, hands them to
//!   [`StreamLayer::receive`], sends whatever the layer has to answer (a
//!   handshake message, a key update, an alert), and returns the plaintext
//!   the layer opened: nothing (`WouldBlock`) while a handshake is still
//!   going on. The layer only reads from TCP when the application reads,
//!   so TCP's flow control still reaches the peer: an application that
//!   stops reading closes the window.
//! - `send` gives the plaintext to [`StreamLayer::write`] and the bytes it
//!   produces to TCP; what TCP has no room for waits on the socket and goes
//!   out as room appears, before anything written later.
//! - `close` and `shutdown` first let the layer end its stream
//!   ([`StreamLayer::close`], TLS's `close_notify`); TCP's FIN follows once
//!   everything the layer produced is in TCP's send buffer.
//! - What the layer has to report ([`StreamLayer::take_events`]) becomes
//!   application events of the socket's owner, in order, at the instant of
//!   the call that caused them.
//!
//! A layer is sans-IO and deterministic: it draws randomness only from a
//! stream its application gave it, and reads time only from the `now` it is
//! handed.

use crate::time::SimTime;
use crate::trace::AppEvent;
use std::fmt;

/// A protocol between an application and TCP on one connection (TLS).
pub trait StreamLayer {
    /// Bytes that arrived from the peer, in order. An error means the
    /// layer cannot go on (a bad record, a failed handshake): the host
    /// sends what the layer still has for the peer (its alert), resets the
    /// connection and reports the error.
    fn receive(&mut self, now: SimTime, wire: &[u8]) -> Result<(), LayerError>;

    /// Application bytes to carry; returns how many it took (fewer when its
    /// own buffer is full: the rest is offered again later).
    fn write(&mut self, now: SimTime, plain: &[u8]) -> Result<usize, LayerError>;

    /// Moves the bytes the layer has for the peer to the end of `out`.
    fn take_wire(&mut self, out: &mut Vec<u8>);

    /// The plaintext opened so far, for the application (taken).
    fn read(&mut self) -> Vec<u8>;

    /// The peer ended its stream inside the layer (`close_notify`).
    fn peer_closed(&self) -> bool;

    /// Ends this side's stream inside the layer (`close_notify`).
    fn close(&mut self, now: SimTime);

    /// What happened inside the layer since the last call, for the trace.
    fn take_events(&mut self) -> Vec<AppEvent>;
}

/// Why a layer cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerError(pub String);

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LayerError {}

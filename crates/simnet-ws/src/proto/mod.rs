//! The WebSocket protocol (RFC 6455) as sans-IO building blocks.
//!
//! [`handshake`] turns the HTTP upgrade headers into a decision,
//! [`frame`] turns frames into bytes and back, [`close`] knows the close
//! status codes, [`conn`] ties the frames into a connection with a
//! closing handshake, and [`uri`] reads `ws://` and `wss://` URIs. None
//! of these modules performs I/O or keeps time: the
//! caller moves bytes between a [`conn::WsConn`] and a socket, and decides
//! when to send pings. That keeps every step observable and deterministic.

pub mod close;
pub mod conn;
pub mod frame;
pub mod handshake;
pub mod uri;

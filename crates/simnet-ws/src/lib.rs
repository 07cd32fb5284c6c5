//! simnet-ws: the WebSocket protocol (RFC 6455) and a minimal STOMP 1.2 codec,
//! as plain data transformations with no I/O, and the simulated applications
//! that speak them.
//!
//! The crate is read from the bottom up, one module per layer:
//!
//! 1. [`proto::handshake`]: the opening handshake's header rules
//!    (`Sec-WebSocket-Key` → `Sec-WebSocket-Accept`, version and subprotocol
//!    negotiation). It checks headers that an HTTP parser has already split
//!    out; it does not parse HTTP itself (that is `simnet-http`'s job).
//! 2. [`proto::frame`]: the wire format of one frame, encoded and decoded
//!    byte for byte, with masking.
//! 3. [`proto::close`]: close status codes and the body of a Close frame.
//! 4. [`proto::conn`]: [`proto::conn::WsConn`], the connection state machine
//!    after the handshake: bytes in, events and bytes out, in the sans-IO
//!    style of quinn-proto (`handle_input`, `poll_transmit`, `poll_event`).
//! 5. [`stomp`]: a STOMP 1.2 frame codec, the subprotocol simnet carries over
//!    WebSocket to show `Sec-WebSocket-Protocol` negotiation.
//! 6. [`apps`]: the applications that drive all of the above over simulated
//!    sockets (WebSocket server and client, STOMP broker and client, and a
//!    Socket.IO-style long-polling fallback), and, with the `scenario`
//!    cargo feature (the `simnet` crate turns it on), the scenario kinds
//!    that name them.
//!
//! What the protocol layers (1-5) deliberately do not do: open sockets, read
//! clocks, draw random numbers, or know that smoltcp exists. Everything that
//! would make a run non-deterministic comes from the caller: the client's
//! masking keys through a mask source, and the `Sec-WebSocket-Key` nonce as
//! an argument. Only [`apps`] touches sockets, through `simnet-core`'s
//! application API, and it draws both from the application's seeded stream;
//! it does not know smoltcp exists either.
//! Extensions (such as permessage-deflate) are not supported, so frames with
//! reserved bits set are a protocol error.

pub mod apps;
pub mod proto;
pub mod stomp;

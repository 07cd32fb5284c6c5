//! A Socket.IO/Engine.IO-style transport fallback: [`SioServer`]
//! (`sio-server`) and [`SioClient`] (`sio-client`).
//!
//! A session starts on HTTP long polling, which works through anything
//! that forwards HTTP, and then tries to move to WebSocket on a second
//! connection. If the path does not let `Upgrade` through (a proxy without
//! WebSocket support), the attempt fails and the session simply stays on
//! long polling. Every exchange is plain text on one path (default `/sio`):
//!
//! | request | answer |
//! |---|---|
//! | `GET /sio?transport=polling` | `200`, body `open sid=<n>`: a new session |
//! | `GET /sio?transport=polling&sid=<n>&since=<k>` | `200` with one line per event after `k` (`id=<i> t=<ns>`), at once if there are some, else when the next is published; `204` after `poll_timeout` with none; `200 noop` once the session has moved to WebSocket |
//! | `GET /sio?transport=websocket&sid=<n>&since=<k>` with `Upgrade: websocket` | `101`; the events after `k` at once, then every new event, one text message each (`id=<i> t=<ns>`) |
//! | the same without `Upgrade` (a proxy stripped it) | `400` with the reason |
//!
//! When the upgrade succeeds, the server answers the session's held poll
//! with `noop` so that the client can close its polling connection, as
//! Engine.IO does. Unlike Engine.IO, the client does not probe the new
//! transport with a ping before switching, and there is no packet
//! framing: the point is the transports and their cost, not the wire
//! format.
//!
//! With TLS ([`SioServer::tls`], [`SioClient::tls`]) both transports are
//! encrypted: HTTPS long polling and `wss`, each connection with its own
//! session, installed as soon as it connects or is accepted.

mod client;
mod server;

pub use client::SioClient;
pub use server::SioServer;

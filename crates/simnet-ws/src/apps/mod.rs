//! WebSocket applications: the programs that speak [`crate::proto`] over the
//! sockets of a simulated host.
//!
//! - [`WsServer`] (`ws-server`): answers the HTTP upgrade, then echoes
//!   messages, relays them to every client (a chat), or pushes its own
//!   messages with no request; it can also be a STOMP broker
//!   (`stomp-broker`).
//! - [`WsClient`] (`ws-client`): upgrades, sends messages (whole or in
//!   fragments with a Ping between them), pings to keep the connection
//!   alive, and starts or answers the closing handshake.
//! - [`StompClient`] (`stomp-client`): STOMP 1.2 over WebSocket (CONNECT,
//!   SUBSCRIBE, SEND, DISCONNECT with a receipt).
//! - [`SioServer`] and [`SioClient`] (`sio-server`, `sio-client`): a
//!   Socket.IO-style session that starts on HTTP long polling and upgrades
//!   to WebSocket when the path allows it, and stays on long polling when a
//!   middlebox strips `Upgrade`.
//!
//! Once a connection speaks WebSocket, both ends switch Nagle's algorithm
//! off (`TCP_NODELAY`), as browsers and common WebSocket libraries do, so
//! that a small message is not held back behind an unacknowledged one.
//! After the closing handshake the server closes TCP first (RFC 6455
//! section 7.1.1) and holds TIME-WAIT; a side left waiting for the end of
//! the handshake gives up after [`CLOSE_TIMEOUT`].
//!
//! Each application parses HTTP with `simnet_http::proto` until the `101
//! Switching Protocols`, then hands the connection's bytes to a [`WsConn`].
//! Every step is reported as an application event so that it appears in the
//! trace between the packets that carry it:
//!
//! | kind | when | fields |
//! |---|---|---|
//! | `ws.upgrade-request` | a client sends its upgrade request | `path`, `key` |
//! | `ws.upgrade` | a server answers an upgrade (or a plain request on a WebSocket endpoint), or a client checks the answer | `path`, `status`, `protocol`, `ok` |
//! | `ws.frame-sent`, `ws.frame-received` | every frame, control frames included | `opcode`, `fin`, `masked`, `len`, `header` (header bytes) |
//! | `ws.message` | a whole message arrived | `type`, `len`, `latency` (echo round trip, or delay since publication) |
//! | `ws.event` | a message carried a published event | `id`, `latency`, `mode` (`websocket`), `bytes` (the event's text) |
//! | `ws.push` | a server pushed a message nobody asked for | `id`, `clients` |
//! | `ws.pong` | a Pong answered one of this side's Pings | `rtt` |
//! | `ws.close` | a Close frame arrived | `code`, `reason` |
//! | `ws.closed` | the closing handshake completed | `closes_tcp` |
//! | `ws.error` | the peer broke the protocol; this side failed the connection | `code`, `reason` |
//! | `ws.lost` | TCP ended before the closing handshake | `code` (1006) |
//! | `ws.close-timeout` | the peer never finished the close; this side closes TCP | |
//! | `ws.closing` | this side starts the closing handshake (timer, command, done) | |
//! | `ws.relay` | a broadcast server relays a message | `clients` |
//! | `ws.fragmenting` | a client splits a message into frames | `frames` |
//! | `stomp.frame` | a STOMP frame sent or received | `command`, `direction`, `destination` |
//! | `sio.session` | a server opens a session, or moves it to WebSocket | `session` |
//! | `sio.hold`, `sio.hold-timeout`, `sio.release` | a poll is held, times out (204), or is released with `noop` after an upgrade | |
//! | `sio.publish` | a Socket.IO-style server publishes an event | `id` |
//! | `sio.transport` | a Socket.IO-style client's transport changed | `transport` (`polling`, `websocket`, `upgrade-failed`), `status` |
//! | `sio.event` | a Socket.IO-style client learned of an event | `id`, `latency`, `mode` (`long polling`, `websocket`), `bytes` (the event's text) |
//! | `sio.done` | a Socket.IO-style client has all its events and closes | |
//!
//! Failures that are not protocol steps are reported as `ws.connect-failed`,
//! `ws.listen-failed`, `ws.bad-request`, `stomp.error`, `sio.error`,
//! `sio.bad-request`, `sio.listen-failed` and `sio.reconnect`.
//!
//! Published events travel as text, `id=<n> t=<publication time in
//! simulated ns>`, optionally followed by a space and free text: one per
//! WebSocket message, one per line in a long-poll body. The receiver
//! measures how late it learned of each event from the `t=` it carries.
//!
//! Everything random comes from the application's seeded stream
//! ([`AppContext::rng`]): each client draws its `Sec-WebSocket-Key` nonce
//! from it and seeds a `ChaCha8Rng` from it for its masking keys, so a run
//! is reproducible to the byte.
//!
//! Every application speaks `wss` (WebSocket over TLS 1.3 or 1.2) when
//! given a [`ClientTls`] or [`ServerTls`] (`simnet_http::apps::tls`): the
//! session is installed on the socket as its stream layer, by a client
//! right after TCP connects and by a server right after it accepts, so the
//! code here reads and writes plaintext as over plain TCP and the packets
//! carry TLS records. A client writes its upgrade request at once; it waits
//! inside TLS until the handshake is done and leaves with the client's
//! Finished (TLS 1.3) or after the server's (TLS 1.2).
//!
//! A client connects to an address, or by name ([`Remote::named`]): its
//! own resolver asks a DNS server (the `dns.*` events), through a cache,
//! each time it opens a connection (see `remote`).
//!
//! What these applications deliberately do not do: extensions
//! (permessage-deflate), Engine.IO's probe ping before switching
//! transports, or STOMP transactions, acknowledgements and heart-beats.

mod client;
mod held;
#[cfg(feature = "scenario")]
mod kinds;
mod remote;
#[cfg(test)]
mod remote_tests;
mod server;
mod sio;
mod sockets;
mod stomp;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wss_tests;

pub use client::{CloseAfter, MAX_BINARY_MESSAGE_BYTES, WsClient};
#[cfg(feature = "scenario")]
pub use kinds::register;
pub use remote::Remote;
pub use server::{ServerMode, WsServer};
/// The TLS of `wss`: the same client and server sides as HTTPS.
pub use simnet_http::apps::{ClientTls, ServerTls};
pub use sio::{SioClient, SioServer};
pub use stomp::StompClient;

use crate::proto::conn::{FrameInfo, MaskSource, Message, WsConfig, WsConn, WsEvent, WsState};
use crate::proto::handshake;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use remote::Address;
use simnet_core::apps::stream::{flush, read_all};
use simnet_core::{
    AppContext, AppEvent, FieldValue, SimDuration, SimTime, SocketError, SocketEvent, SocketId,
    Summary, TimerId,
};
use simnet_http::proto::sse;
use simnet_http::proto::{ClientConfig, ClientConn, ClientEvent, Request, SendRequestError};
use std::fmt::Write as _;
use std::net::SocketAddrV4;

/// How long a side that is waiting for the end of a closing handshake (the
/// peer's Close, or, for a client, the server's FIN) waits before it closes
/// TCP itself. RFC 6455 leaves the value to the application.
pub const CLOSE_TIMEOUT: SimDuration = SimDuration::from_secs(5);

/// A client's masking keys: a `ChaCha8Rng` seeded from the application's
/// own stream, so every run draws the same keys.
fn mask_source(cx: &mut AppContext<'_>) -> MaskSource {
    let mut rng = ChaCha8Rng::seed_from_u64(cx.rng().next_u64());
    Box::new(move || {
        let mut key = [0; 4];
        rng.fill_bytes(&mut key);
        key
    })
}

/// The text of published event `id`: `id=3 t=1500000000`, then ` data` if
/// `data` is not empty ([`simnet_http::proto::sse::event_text`]).
fn event_text(id: u64, published: SimTime, data: &str) -> String {
    sse::event_text(id, published.as_nanos(), data)
}

/// The `(id, publication time)` of an event line, if it is one
/// ([`simnet_http::proto::sse::parse_event`]).
fn parse_event(line: &str) -> Option<(u64, SimTime)> {
    sse::parse_event(line).map(|(id, t)| (id, SimTime::from_nanos(t)))
}

/// The value of `key=` in a request target's query string.
fn query_param<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// `target` without its query string.
fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(p, _)| p)
}

/// `, subprotocol chat` for a negotiated subprotocol, nothing without one:
/// how both ends' `ws.upgrade` lines name it.
fn subprotocol_note(protocol: Option<&str>) -> String {
    protocol.map_or(String::new(), |p| format!(", subprotocol {p}"))
}

/// The first characters of a message, for trace lines.
fn preview(message: &Message) -> String {
    match message {
        Message::Text(t) => {
            let mut p: String = t.chars().take(40).collect();
            if t.chars().count() > 40 {
                p.push_str("...");
            }
            format!("{:?}", p)
        }
        Message::Binary(b) => format!("{} bytes of binary", b.len()),
    }
}

/// A message's type and length: (`text`, 5).
fn message_shape(message: &Message) -> (&'static str, usize) {
    match message {
        Message::Text(t) => ("text", t.len()),
        Message::Binary(b) => ("binary", b.len()),
    }
}

/// The `ws.message` event for a received message, with the round trip of
/// an echo of ours (`echo`); callers add fields.
fn message_event(message: &Message, sid: SocketId, echo: Option<SimDuration>) -> AppEvent {
    let (kind, len) = message_shape(message);
    let mut summary = format!(
        "message received: {kind}, {len} bytes, {}",
        preview(message)
    );
    if let Some(rtt) = echo {
        let _ = write!(summary, " (came back {rtt} after it was sent)");
    }
    AppEvent::new("ws.message", summary)
        .on(sid)
        .with("type", kind)
        .with("len", len)
}

/// The trace event for one frame sent or received. Its summary (`frame
/// sent: ping fin masked len=11 "keepalive 1"`) is written only if
/// something reads it: a load test makes millions of these.
fn frame_event(kind: &'static str, verb: &'static str, info: FrameInfo, sid: SocketId) -> AppEvent {
    let header = {
        let length_bytes = match info.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + length_bytes + if info.masked { 4 } else { 0 }
    };
    let (opcode, fin, masked, len) = (info.opcode, info.fin, info.masked, info.payload_len);
    // The five fields in one allocation (pushed one by one, or into the
    // room `AppEvent::deferred` makes, they would take two): millions of
    // these in a load test.
    AppEvent {
        kind: kind.into(),
        socket: Some(sid),
        summary: Summary::deferred(move |f| write!(f, "frame {verb}: {info}")),
        fields: vec![
            ("opcode".into(), FieldValue::name(opcode.name())),
            ("fin".into(), fin.into()),
            ("masked".into(), masked.into()),
            ("len".into(), len.into()),
            ("header".into(), (header as u64).into()),
        ],
    }
}

/// One thing the WebSocket peer did, with the trace event that reports it.
///
/// Applications call [`Incoming::report`] before acting on the event, so
/// that the trace keeps the order in which things happened (a message's
/// own report comes before the Close that followed it in the same bytes).
struct Incoming {
    /// `None` for a frame received: only the trace reports it, and the
    /// frame's description moves there rather than being copied.
    event: Option<WsEvent>,
    trace: Option<AppEvent>,
}

impl Incoming {
    /// Records the trace event, if any, and hands over the event.
    fn report(self, cx: &mut AppContext<'_>) -> Option<WsEvent> {
        if let Some(trace) = self.trace {
            cx.emit(trace);
        }
        self.event
    }
}

/// One WebSocket connection on a socket, after the handshake: the protocol
/// object, the bytes waiting for room in the send buffer, and the trace
/// events for every frame and every step of the closing handshake.
///
/// Drive it like [`WsConn`]: after every input and every send, call
/// [`WsSocket::flush`]; drop it when that returns false.
struct WsSocket {
    sid: SocketId,
    conn: WsConn,
    out: Vec<u8>,
    /// The peer closed its sending side (or the connection broke).
    peer_eof: bool,
    tcp_closed: bool,
    /// The closing handshake completed and the trace has not said so yet.
    closed_unreported: bool,
    /// Armed while this side waits for the peer to finish the closing
    /// handshake.
    close_timer: Option<TimerId>,
}

impl WsSocket {
    /// A connection on `sid` whose first bytes to send are `out` (for a
    /// server, the `101` response).
    ///
    /// Nagle's algorithm is switched off (`TCP_NODELAY`), as browsers and
    /// common WebSocket libraries do: a message is sent when it is written,
    /// not held back until the previous segment is acknowledged.
    fn new(cx: &mut AppContext<'_>, sid: SocketId, conn: WsConn, out: Vec<u8>) -> WsSocket {
        let _ = cx.set_nagle(sid, false);
        WsSocket {
            sid,
            conn,
            out,
            peer_eof: false,
            tcp_closed: false,
            closed_unreported: false,
            close_timer: None,
        }
    }

    /// Whether messages may still be sent.
    fn is_open(&self) -> bool {
        self.conn.state() == WsState::Open
    }

    /// Feeds bytes read from the socket (and the end of the stream, if it
    /// came) and returns what the peer did, after reporting each frame.
    fn receive(&mut self, data: &[u8], eof: bool) -> Vec<Incoming> {
        // A Close that arrives while this side has not sent one is answered
        // by the connection itself; one that arrives after ours completes
        // the handshake we started.
        let was_open = self.is_open();
        if !data.is_empty() {
            self.conn.handle_input(data);
        }
        if eof {
            self.peer_eof = true;
            self.conn.handle_eof();
        }
        let mut incoming = Vec::new();
        while let Some(event) = self.conn.poll_event() {
            let sid = self.sid;
            let event = match event {
                WsEvent::FrameReceived(info) => {
                    let trace = frame_event("ws.frame-received", "received", info, sid);
                    incoming.push(Incoming {
                        event: None,
                        trace: Some(trace),
                    });
                    continue;
                }
                event => event,
            };
            let trace = match &event {
                WsEvent::CloseReceived { code, reason } => {
                    let mut shown = code.map_or("no status code".to_string(), |c| c.to_string());
                    if !reason.is_empty() {
                        shown.push_str(&format!(" {reason:?}"));
                    }
                    let answer = if was_open {
                        "the peer starts the closing handshake; the connection answers with a Close"
                    } else {
                        "the peer answers ours"
                    };
                    Some(
                        AppEvent::new("ws.close", format!("Close received ({shown}): {answer}"))
                            .on(sid)
                            .with("code", u64::from(code.unwrap_or(1005)))
                            .with("reason", reason.as_str()),
                    )
                }
                WsEvent::Closed => {
                    // Reported by `flush`, once the Close that answers the
                    // peer's (if any) has been reported as sent.
                    self.closed_unreported = true;
                    None
                }
                WsEvent::ProtocolError { code, reason } => Some(
                    AppEvent::new(
                        "ws.error",
                        format!(
                            "protocol error: {reason}: failing the connection with close code {code}"
                        ),
                    )
                    .on(sid)
                    .with("code", u64::from(*code))
                    .with("reason", reason.as_str()),
                ),
                WsEvent::ConnectionLost => Some(
                    AppEvent::new(
                        "ws.lost",
                        "TCP ended before the closing handshake (1006 abnormal closure)",
                    )
                    .on(sid)
                    .with("code", 1006u64),
                ),
                WsEvent::FrameReceived(_)
                | WsEvent::Message(_)
                | WsEvent::Ping(_)
                | WsEvent::Pong(_) => None,
            };
            incoming.push(Incoming {
                event: Some(event),
                trace,
            });
        }
        incoming
    }

    /// Writes what the connection has to send, one trace event per frame,
    /// and closes TCP when the protocol says so (or the peer already
    /// closed). Arms the close timer while waiting on the peer. Returns
    /// false once the socket is closed: drop this object then.
    fn flush(&mut self, cx: &mut AppContext<'_>) -> bool {
        if self.tcp_closed {
            return false;
        }
        self.conn.poll_transmit(&mut self.out);
        while let Some(info) = self.conn.poll_sent_frame() {
            cx.emit(frame_event("ws.frame-sent", "sent", info, self.sid));
        }
        if std::mem::take(&mut self.closed_unreported) {
            let closes = self.conn.should_close_tcp();
            let how = if closes {
                "the server closes TCP first, so it will hold TIME-WAIT"
            } else {
                "now waiting for the server to close TCP"
            };
            cx.emit(
                AppEvent::new("ws.closed", format!("closing handshake complete: {how}"))
                    .on(self.sid)
                    .with("closes_tcp", closes),
            );
        }
        if !flush(cx, self.sid, &mut self.out) {
            self.close_tcp(cx);
            return false;
        }
        if (self.conn.should_close_tcp() || self.peer_eof) && self.out.is_empty() {
            self.close_tcp(cx);
            return false;
        }
        if self.close_timer.is_none() && self.conn.state() != WsState::Open {
            self.close_timer = Some(cx.set_timer(CLOSE_TIMEOUT));
        }
        true
    }

    /// Whether a [`flush`](Self::flush) now, with nothing done to the
    /// connection since the last one, would make no socket call, record
    /// nothing and change nothing: no bytes wait for room, no frame or
    /// closing step waits to be reported, nothing asks for TCP to close,
    /// and the close timer is armed if the handshake needs it. Servers
    /// flush only the connections that are not settled
    /// ([`sockets::WsSockets`]).
    fn is_settled(&self) -> bool {
        !self.tcp_closed
            && self.out.is_empty()
            && !self.closed_unreported
            && !self.conn.has_output()
            && !self.conn.should_close_tcp()
            && !self.peer_eof
            && (self.close_timer.is_some() || self.conn.state() == WsState::Open)
    }

    /// The close timer fired: stop waiting for the peer.
    fn give_up(&mut self, cx: &mut AppContext<'_>) {
        self.close_timer = None;
        cx.emit(
            AppEvent::new(
                "ws.close-timeout",
                format!("the peer did not finish the closing handshake within {CLOSE_TIMEOUT}: closing TCP"),
            )
            .on(self.sid),
        );
        self.close_tcp(cx);
    }

    fn close_tcp(&mut self, cx: &mut AppContext<'_>) {
        if !self.tcp_closed {
            self.tcp_closed = true;
            if let Some(t) = self.close_timer.take() {
                cx.cancel_timer(t);
            }
            let _ = cx.close(self.sid);
        }
    }
}

/// How a client's upgrade request was answered.
enum HandshakeOutcome {
    /// No complete answer yet.
    Pending,
    /// `101` with the right `Sec-WebSocket-Accept`: the connection speaks
    /// WebSocket now. `leftover` is what followed the `101` in the same
    /// bytes (frames the server sent at once).
    Open {
        protocol: Option<String>,
        leftover: Vec<u8>,
    },
    /// Any other answer (its status), a `101` that fails the checks, or no
    /// answer (0). Already reported as `ws.upgrade`.
    Refused { status: u16 },
}

/// The client side of the opening handshake, over the HTTP client protocol.
struct ClientHandshake {
    proto: ClientConn,
    key: String,
    protocols: Vec<String>,
    target: String,
}

impl ClientHandshake {
    /// Builds the upgrade request for `target` (nonce drawn from the
    /// application's stream), reports it, and returns the handshake with
    /// the bytes to send; or why the request cannot be written (a target
    /// or subprotocol that breaks the HTTP grammar, possible only through
    /// the Rust API: the scenario loader refuses them).
    fn start(
        cx: &mut AppContext<'_>,
        sid: SocketId,
        host: &str,
        target: &str,
        protocols: &[String],
    ) -> Result<(ClientHandshake, Vec<u8>), SendRequestError> {
        let mut nonce = [0u8; 16];
        cx.rng().fill_bytes(&mut nonce);
        let key = handshake::client_key(nonce);
        let offered: Vec<&str> = protocols.iter().map(String::as_str).collect();
        let mut request = Request::new("GET", target);
        request.headers = handshake::client_request_headers(host, &key, &offered);
        let mut proto = ClientConn::new(ClientConfig::default());
        let mut bytes = Vec::new();
        proto.send_request(cx.now(), request)?;
        proto.poll_transmit(&mut bytes);
        let offer = if protocols.is_empty() {
            String::new()
        } else {
            format!(", Sec-WebSocket-Protocol: {}", protocols.join(", "))
        };
        cx.emit(
            AppEvent::new(
                "ws.upgrade-request",
                format!("GET {target} with Upgrade: websocket, Sec-WebSocket-Key: {key}{offer}"),
            )
            .on(sid)
            .with("path", path_of(target))
            .with("key", key.as_str()),
        );
        let handshake = ClientHandshake {
            proto,
            key,
            protocols: protocols.to_vec(),
            target: target.to_string(),
        };
        Ok((handshake, bytes))
    }

    /// Feeds the server's bytes; reports and returns the outcome once the
    /// answer is complete.
    fn receive(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        data: &[u8],
        eof: bool,
    ) -> HandshakeOutcome {
        if !data.is_empty() {
            self.proto.handle_input(cx.now(), data);
        }
        if eof {
            self.proto.handle_eof(cx.now());
        }
        while let Some(event) = self.proto.poll_event() {
            match event {
                ClientEvent::Upgraded { response, .. } => {
                    let offered: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
                    return match handshake::validate_response(
                        response.status,
                        &response.headers,
                        &self.key,
                        &offered,
                    ) {
                        Ok(protocol) => {
                            let shown = subprotocol_note(protocol.as_deref());
                            cx.emit(
                                AppEvent::new(
                                    "ws.upgrade",
                                    format!(
                                        "GET {} -> 101 Switching Protocols, Sec-WebSocket-Accept ok{shown}: the connection speaks WebSocket now",
                                        self.target
                                    ),
                                )
                                .on(sid)
                                .with("path", path_of(&self.target))
                                .with("status", 101u64)
                                .with("protocol", protocol.as_deref().unwrap_or(""))
                                .with("ok", true),
                            );
                            HandshakeOutcome::Open {
                                protocol,
                                leftover: self.proto.take_upgraded_bytes(),
                            }
                        }
                        Err(e) => self.refused(cx, sid, 101, e.to_string()),
                    };
                }
                ClientEvent::Response { response, .. } => {
                    let body = String::from_utf8_lossy(&response.body).trim().to_string();
                    let reason = format!("{}: {body}", response.summary());
                    return self.refused(cx, sid, response.status, reason);
                }
                ClientEvent::Error { reason } => {
                    return self.refused(cx, sid, 0, format!("malformed answer: {reason}"));
                }
                ClientEvent::ConnectionClosed { .. } => {
                    return self.refused(cx, sid, 0, "connection closed before an answer".into());
                }
                ClientEvent::ResponseHead { .. } | ClientEvent::BodyChunk { .. } => {}
            }
        }
        HandshakeOutcome::Pending
    }

    fn refused(
        &self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        status: u16,
        reason: String,
    ) -> HandshakeOutcome {
        cx.emit(
            AppEvent::new(
                "ws.upgrade",
                format!("GET {} was not upgraded: {reason}", self.target),
            )
            .on(sid)
            .with("path", path_of(&self.target))
            .with("status", u64::from(status))
            .with("ok", false)
            .with("reason", reason),
        );
        HandshakeOutcome::Refused { status }
    }
}

/// What happened on a client's WebSocket connection.
enum ClientLinkEvent {
    /// The server answered `101` and the handshake checked out.
    Opened { protocol: Option<String> },
    /// The connection failed before it became a WebSocket (the server
    /// refused with this status, or 0: the connection could not be made,
    /// or it broke). Already reported as `ws.upgrade`.
    Refused { status: u16 },
    /// Something the WebSocket peer did; report it before acting on it.
    Ws(Incoming),
}

/// Where a client's connection is.
enum Dial {
    /// The TCP handshake is under way.
    Connecting,
    /// The upgrade request is out; the answer is awaited.
    Handshaking(Box<ClientHandshake>),
    /// The connection speaks WebSocket.
    Open(Box<WsSocket>),
    /// The TCP connection is closed.
    Closed,
}

/// A client's WebSocket connection from `connect()` to the end: the TCP
/// connection, TLS if asked for, the opening handshake, then a
/// [`WsSocket`]. Shared by every client application here.
struct ClientLink {
    sid: SocketId,
    host: String,
    target: String,
    protocols: Vec<String>,
    config: WsConfig,
    /// TLS to install once TCP connects (`wss`), if any.
    tls: Option<ClientTls>,
    out: Vec<u8>,
    dial: Dial,
}

impl ClientLink {
    /// Opens a TCP connection to `remote`, to ask for `target` on `host`
    /// with `protocols` offered once it is established (over `tls`, if
    /// given: the session starts as soon as TCP connects).
    fn connect(
        cx: &mut AppContext<'_>,
        remote: SocketAddrV4,
        host: &str,
        target: &str,
        protocols: &[String],
        config: WsConfig,
        tls: Option<ClientTls>,
    ) -> Result<ClientLink, SocketError> {
        let sid = cx.connect(remote)?;
        Ok(ClientLink {
            sid,
            host: host.to_string(),
            target: target.to_string(),
            protocols: protocols.to_vec(),
            config,
            tls,
            out: Vec::new(),
            dial: Dial::Connecting,
        })
    }

    /// [`connect`](Self::connect), reporting a failure to start as
    /// `ws.connect-failed` (no port free, no route) instead of returning it.
    fn open(
        cx: &mut AppContext<'_>,
        remote: SocketAddrV4,
        host: &str,
        target: &str,
        protocols: &[String],
        tls: Option<ClientTls>,
    ) -> Option<ClientLink> {
        let config = WsConfig::default();
        match ClientLink::connect(cx, remote, host, target, protocols, config, tls) {
            Ok(link) => Some(link),
            Err(e) => {
                cx.emit(AppEvent::new(
                    "ws.connect-failed",
                    format!("connect to {remote} failed: {e}"),
                ));
                None
            }
        }
    }

    /// A client application's connection at `address`, as [`Remote`] gave
    /// it: opened now ([`open`](Self::open)); not yet, while the name is
    /// being looked up; or never, when the name gave no address (reported
    /// as `ws.connect-failed`).
    fn dial(
        cx: &mut AppContext<'_>,
        remote: &Remote,
        address: Address,
        host: &str,
        target: &str,
        protocols: &[String],
        tls: Option<ClientTls>,
    ) -> Option<ClientLink> {
        match address {
            Address::Now(a) => ClientLink::open(cx, a, host, target, protocols, tls),
            Address::Later => None,
            Address::Never(e) => {
                cx.emit(remote::lookup_failed("ws.connect-failed", remote, &e));
                None
            }
        }
    }

    /// Handles a socket event of this link's socket and returns what
    /// happened; `None` if the event is about another socket.
    fn on_socket(
        &mut self,
        cx: &mut AppContext<'_>,
        event: SocketEvent,
    ) -> Option<Vec<ClientLinkEvent>> {
        Some(match event {
            SocketEvent::Connected(sid) if sid == self.sid => self.on_connected(cx),
            SocketEvent::Readable(sid) if sid == self.sid => self.on_readable(cx),
            SocketEvent::Writable(sid) if sid == self.sid => Vec::new(),
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason)
                if sid == self.sid =>
            {
                self.on_broken(cx, format!("connection {reason}"))
            }
            _ => return None,
        })
    }

    /// Hands `event` to a client application's link, if it has one and the
    /// event is about its socket; returns what happened. Every client
    /// application's `on_socket` starts here.
    fn route(
        link: &mut Option<ClientLink>,
        cx: &mut AppContext<'_>,
        event: SocketEvent,
    ) -> Option<Vec<ClientLinkEvent>> {
        link.as_mut()?.on_socket(cx, event)
    }

    /// Whether `timer` was a client application's link's close timer (then
    /// handled). Every client application's `on_timer` starts here.
    fn route_timer(link: &mut Option<ClientLink>, cx: &mut AppContext<'_>, timer: TimerId) -> bool {
        link.as_mut().is_some_and(|l| l.on_timer(cx, timer))
    }

    /// The open WebSocket, if the handshake is done and TCP is not closed.
    fn ws(&mut self) -> Option<&mut WsSocket> {
        match &mut self.dial {
            Dial::Open(ws) => Some(ws),
            _ => None,
        }
    }

    /// Whether TCP is closed: the link is over.
    fn is_closed(&self) -> bool {
        matches!(self.dial, Dial::Closed)
    }

    /// TCP is established: starts TLS (for `wss`) and sends the upgrade
    /// request, or gives up at once if it cannot be written (rather than
    /// wait forever for an answer to a request never sent). Over TLS the
    /// request waits inside the session until the handshake is done.
    fn on_connected(&mut self, cx: &mut AppContext<'_>) -> Vec<ClientLinkEvent> {
        if !matches!(self.dial, Dial::Connecting) {
            return Vec::new();
        }
        if let Some(tls) = &mut self.tls {
            tls.install(cx, self.sid);
        }
        match ClientHandshake::start(cx, self.sid, &self.host, &self.target, &self.protocols) {
            Ok((handshake, bytes)) => {
                self.out = bytes;
                self.dial = Dial::Handshaking(Box::new(handshake));
                self.flush(cx);
                Vec::new()
            }
            Err(e) => self.on_broken(cx, format!("the upgrade request cannot be sent: {e}")),
        }
    }

    /// Reads the socket and returns what happened. A link whose TCP
    /// connection this side already closed reads nothing: the socket may
    /// be gone (a TLS session's `close_notify` and the FIN it precedes can
    /// each make the socket readable, the second after the close).
    fn on_readable(&mut self, cx: &mut AppContext<'_>) -> Vec<ClientLinkEvent> {
        if self.is_closed() {
            return Vec::new();
        }
        let input = read_all(cx, self.sid);
        self.on_input(cx, &input.data, input.eof || input.broken)
    }

    /// The connection failed or broke (`ConnectFailed`, `Closed`).
    fn on_broken(&mut self, cx: &mut AppContext<'_>, why: String) -> Vec<ClientLinkEvent> {
        match &self.dial {
            Dial::Open(_) => self.on_input(cx, &[], true),
            Dial::Closed => Vec::new(),
            Dial::Connecting | Dial::Handshaking(_) => {
                cx.emit(
                    AppEvent::new(
                        "ws.upgrade",
                        format!("GET {} was not upgraded: {why}", self.target),
                    )
                    .on(self.sid)
                    .with("path", path_of(&self.target))
                    .with("status", 0u64)
                    .with("ok", false)
                    .with("reason", why),
                );
                self.close_tcp(cx);
                vec![ClientLinkEvent::Refused { status: 0 }]
            }
        }
    }

    fn on_input(
        &mut self,
        cx: &mut AppContext<'_>,
        data: &[u8],
        eof: bool,
    ) -> Vec<ClientLinkEvent> {
        let sid = self.sid;
        match &mut self.dial {
            Dial::Connecting | Dial::Closed => Vec::new(),
            Dial::Open(ws) => ws
                .receive(data, eof)
                .into_iter()
                .map(ClientLinkEvent::Ws)
                .collect(),
            Dial::Handshaking(handshake) => match handshake.receive(cx, sid, data, eof) {
                HandshakeOutcome::Pending => Vec::new(),
                HandshakeOutcome::Refused { status } => {
                    self.close_tcp(cx);
                    vec![ClientLinkEvent::Refused { status }]
                }
                HandshakeOutcome::Open { protocol, leftover } => {
                    let conn = WsConn::client(self.config, mask_source(cx));
                    let mut ws = WsSocket::new(cx, sid, conn, std::mem::take(&mut self.out));
                    let mut events = vec![ClientLinkEvent::Opened { protocol }];
                    events.extend(
                        ws.receive(&leftover, eof)
                            .into_iter()
                            .map(ClientLinkEvent::Ws),
                    );
                    self.dial = Dial::Open(Box::new(ws));
                    events
                }
            },
        }
    }

    /// Writes what is waiting; returns false once the link is over.
    fn flush(&mut self, cx: &mut AppContext<'_>) -> bool {
        match &mut self.dial {
            Dial::Open(ws) => {
                if !ws.flush(cx) {
                    self.dial = Dial::Closed;
                }
            }
            Dial::Handshaking(_) => {
                if !flush(cx, self.sid, &mut self.out) {
                    self.close_tcp(cx);
                }
            }
            Dial::Connecting | Dial::Closed => {}
        }
        !self.is_closed()
    }

    /// Handles the close timer if `timer` is it; returns whether it was.
    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) -> bool {
        match &mut self.dial {
            Dial::Open(ws) if ws.close_timer == Some(timer) => {
                ws.give_up(cx);
                self.dial = Dial::Closed;
                true
            }
            _ => false,
        }
    }

    /// Closes TCP at once, whatever the WebSocket state.
    fn close_tcp(&mut self, cx: &mut AppContext<'_>) {
        match &mut self.dial {
            Dial::Open(ws) => ws.close_tcp(cx),
            Dial::Closed => return,
            Dial::Connecting | Dial::Handshaking(_) => {
                let _ = cx.close(self.sid);
            }
        }
        self.dial = Dial::Closed;
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_text() {
        let t = SimTime::from_nanos(1_500_000_000);
        assert_eq!(event_text(3, t, ""), "id=3 t=1500000000");
        assert_eq!(event_text(3, t, "price=42"), "id=3 t=1500000000 price=42");
        assert_eq!(parse_event("id=3 t=1500000000 price=42"), Some((3, t)));
        assert_eq!(parse_event("hello"), None);
        assert_eq!(parse_event("id=3"), None);
    }

    #[test]
    fn query_parameters_are_found_by_name() {
        let target = "/sio?transport=polling&sid=2&since=7";
        assert_eq!(query_param(target, "transport"), Some("polling"));
        assert_eq!(query_param(target, "sid"), Some("2"));
        assert_eq!(query_param(target, "since"), Some("7"));
        assert_eq!(query_param(target, "s"), None);
        assert_eq!(query_param("/sio", "sid"), None);
        assert_eq!(path_of(target), "/sio");
    }
}

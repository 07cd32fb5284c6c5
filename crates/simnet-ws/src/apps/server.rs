//! The WebSocket server application (`ws-server`, and `stomp-broker`).
//!
//! Every connection starts as HTTP/1.1 ([`ServerConn`]). A request with
//! `Upgrade: websocket` is checked with
//! [`validate_request`](crate::proto::handshake::validate_request): a valid
//! one is answered `101 Switching Protocols` with `Sec-WebSocket-Accept`
//! (and the chosen subprotocol), an invalid one `400` or `426` with the
//! reason; a plain request is answered `426 Upgrade Required`. After the
//! `101` the connection is a [`WsConn`] in the server role.
//!
//! What the server does with messages depends on its [`ServerMode`]: echo
//! each one back, relay each one to every connected client (a chat room),
//! or act as a minimal STOMP broker. In every mode it can push messages of
//! its own with no request, on a schedule or on a timeline command, and
//! start the closing handshake some time after a connection opened.
//!
//! After the closing handshake the server closes TCP first, as RFC 6455
//! asks, so the server (not the client) holds TIME-WAIT.
//!
//! With [`WsServer::tls`] it speaks `wss`: each connection gets its TLS
//! session as soon as it is accepted.

use super::sockets::WsSockets;
use super::stomp::Broker;
use super::{
    Incoming, ServerTls, WsSocket, event_text, message_event, path_of, read_all, subprotocol_note,
};
use crate::proto::conn::{Message, WsConfig, WsConn, WsEvent};
use crate::proto::handshake::{self, validate_request};
use crate::stomp::{self as codec, STOMP_SUBPROTOCOL};
use simnet_core::{
    App, AppContext, AppEvent, Command, SimDuration, SocketEvent, SocketId, TimerId,
};
use simnet_http::apps::{HttpServerSide, Written, next_server_event};
use simnet_http::proto::{Request, RequestId, Response, ServerConfig, ServerConn, ServerEvent};
use std::collections::BTreeMap;

/// What a server does with the messages it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMode {
    /// Sends every message back to its sender.
    Echo,
    /// Relays every message to every connected client, the sender included.
    Broadcast,
    /// Reads every message as a STOMP frame and acts as a broker.
    Stomp,
}

impl ServerMode {
    fn name(self) -> &'static str {
        match self {
            ServerMode::Echo => "ws-server",
            ServerMode::Broadcast => "ws-server",
            ServerMode::Stomp => "stomp-broker",
        }
    }
}

/// A WebSocket server.
#[derive(Debug)]
pub struct WsServer {
    port: u16,
    mode: ServerMode,
    subprotocols: Vec<String>,
    config: WsConfig,
    close_after: Option<SimDuration>,
    push_every: Option<SimDuration>,
    push_count: u64,
    tls: Option<ServerTls>,
    http: BTreeMap<SocketId, HttpServerSide>,
    ws: WsSockets<WsSocket>,
    timers: BTreeMap<TimerId, Wake>,
    broker: Broker,
    /// Messages pushed so far (scheduled or commanded).
    pub pushed: u64,
    /// Messages received, over all connections.
    pub messages_received: u64,
}

#[derive(Clone, Copy, Debug)]
enum Wake {
    Http(SocketId),
    Push,
    CloseAfter(SocketId),
}

impl std::fmt::Debug for WsSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSocket")
            .field("sid", &self.sid)
            .field("conn", &self.conn)
            .finish()
    }
}

impl WsServer {
    /// A server on `port` in `mode`, accepting the default limits and no
    /// subprotocol.
    pub fn new(port: u16, mode: ServerMode) -> WsServer {
        let subprotocols = if mode == ServerMode::Stomp {
            vec![STOMP_SUBPROTOCOL.to_string()]
        } else {
            Vec::new()
        };
        WsServer {
            port,
            mode,
            subprotocols,
            config: WsConfig::default(),
            close_after: None,
            push_every: None,
            push_count: 0,
            tls: None,
            http: BTreeMap::new(),
            ws: WsSockets::default(),
            timers: BTreeMap::new(),
            broker: Broker::default(),
            pushed: 0,
            messages_received: 0,
        }
    }

    /// The subprotocols the server accepts, in no particular order (the
    /// client's preference decides among them).
    pub fn subprotocols(mut self, protocols: Vec<String>) -> WsServer {
        self.subprotocols = protocols;
        self
    }

    /// Refuses messages (and frames) larger than `bytes` with close code 1009.
    pub fn max_message_bytes(mut self, bytes: usize) -> WsServer {
        self.config = WsConfig {
            max_message_bytes: bytes,
            max_frame_bytes: bytes,
        };
        self
    }

    /// Starts the closing handshake `after` each connection opened.
    pub fn close_after(mut self, after: SimDuration) -> WsServer {
        self.close_after = Some(after);
        self
    }

    /// Pushes `count` messages to every client, one every `every`, the first
    /// `every` after the server starts.
    /// An interval shorter than [`SimDuration::MIN_INTERVAL`] is raised to it.
    pub fn push_schedule(mut self, every: SimDuration, count: u64) -> WsServer {
        self.push_every = Some(every.as_interval());
        self.push_count = count;
        self
    }

    /// Speaks `wss`: TLS starts on every connection as soon as it is
    /// accepted, before the upgrade request can arrive.
    pub fn tls(mut self, tls: ServerTls) -> WsServer {
        self.tls = Some(tls);
        self
    }

    /// How many times a WebSocket connection was flushed, and how many may
    /// have something to write now (for tests).
    #[cfg(test)]
    pub(super) fn flush_counts(&self) -> (u64, usize) {
        self.ws.flush_counts()
    }

    // ----- HTTP, until the upgrade -----

    fn accept_waiting(&mut self, cx: &mut AppContext<'_>) {
        while let Some(sid) = accept_http(cx, self.port, &mut self.http, self.tls.as_mut()) {
            self.read(cx, sid);
        }
    }

    fn read(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let input = read_all(cx, sid);
        if let Some(side) = self.http.get_mut(&sid) {
            if input.broken {
                self.http.remove(&sid);
                let _ = cx.close(sid);
                return;
            }
            side.feed(cx.now(), &input);
            self.drive_http(cx, sid);
        } else if let Some(ws) = self.ws.get_mut(sid) {
            let events = ws.receive(&input.data, input.eof || input.broken);
            self.on_ws_events(cx, sid, events);
            self.flush_all(cx);
        }
    }

    fn drive_http(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        while let Some(event) = next_server_event(&mut self.http, sid, |side| side) {
            match event {
                ServerEvent::UpgradeRequested { id, request } => {
                    if self.upgrade(cx, sid, id, &request) {
                        return;
                    }
                }
                ServerEvent::Request { id, request } => {
                    let path = path_of(&request.target).to_string();
                    cx.emit(
                        AppEvent::new(
                            "ws.upgrade",
                            format!(
                                "{} without Upgrade -> 426 Upgrade Required: this endpoint speaks WebSocket only",
                                request.summary()
                            ),
                        )
                        .on(sid)
                        .with("path", path)
                        .with("status", 426u64)
                        .with("ok", false),
                    );
                    let response = Response::new(426)
                        .with_header("Upgrade", "websocket")
                        .with_header("Sec-WebSocket-Version", handshake::WEBSOCKET_VERSION)
                        .with_header("Content-Type", "text/plain")
                        .with_body(
                            b"this endpoint speaks WebSocket only: send Upgrade: websocket\n"
                                .to_vec(),
                        );
                    if let Some(side) = self.http.get_mut(&sid) {
                        let _ = side.proto.send_response(cx.now(), id, response);
                    }
                }
                ServerEvent::BadRequest { status, reason } => {
                    cx.emit(
                        AppEvent::new(
                            "ws.bad-request",
                            format!("malformed HTTP: {status} ({reason}); closing"),
                        )
                        .on(sid)
                        .with("status", u64::from(status)),
                    );
                }
                ServerEvent::IdleTimeout | ServerEvent::PeerClosed => {}
            }
        }
        drive_http_output(cx, sid, &mut self.http, &mut self.timers);
    }

    /// Answers an upgrade request; returns true if the connection switched
    /// to WebSocket.
    fn upgrade(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        request: &Request,
    ) -> bool {
        let Some(side) = self.http.get_mut(&sid) else {
            return false;
        };
        let supported: Vec<&str> = self.subprotocols.iter().map(String::as_str).collect();
        match accept_or_refuse(cx, sid, &mut side.proto, id, request, &supported) {
            Some(_protocol) => {
                let mut side = self.http.remove(&sid).expect("present above");
                side.proto.poll_transmit(&mut side.out);
                let leftover = side.proto.take_upgraded_bytes();
                let mut ws = WsSocket::new(cx, sid, WsConn::server(self.config), side.out);
                if !ws.flush(cx) {
                    return true;
                }
                if let Some(after) = self.close_after {
                    let t = cx.set_timer(after);
                    self.timers.insert(t, Wake::CloseAfter(sid));
                }
                let events = ws.receive(&leftover, false);
                self.ws.insert(sid, ws);
                self.on_ws_events(cx, sid, events);
                self.flush_all(cx);
                true
            }
            None => false,
        }
    }

    // ----- WebSocket -----

    fn on_ws_events(&mut self, cx: &mut AppContext<'_>, sid: SocketId, events: Vec<Incoming>) {
        for incoming in events {
            if let Some(WsEvent::Message(message)) = incoming.report(cx) {
                self.messages_received += 1;
                if self.mode != ServerMode::Stomp {
                    cx.emit(message_event(&message, sid, None));
                }
                self.on_message(cx, sid, message);
            }
        }
    }

    fn on_message(&mut self, cx: &mut AppContext<'_>, sid: SocketId, message: Message) {
        match self.mode {
            ServerMode::Echo => {
                if let Some(ws) = self.ws.get_mut(sid)
                    && ws.is_open()
                {
                    let _ = match &message {
                        Message::Text(t) => ws.conn.send_text(t),
                        Message::Binary(b) => ws.conn.send_binary(b),
                    };
                }
            }
            ServerMode::Broadcast => {
                let open = self.ws.open_ids();
                cx.emit(
                    AppEvent::new(
                        "ws.relay",
                        format!("relaying the message to {} client(s)", open.len()),
                    )
                    .on(sid)
                    .with("clients", open.len()),
                );
                for s in open {
                    if let Some(ws) = self.ws.get_mut(s) {
                        let _ = match &message {
                            Message::Text(t) => ws.conn.send_text(t),
                            Message::Binary(b) => ws.conn.send_binary(b),
                        };
                    }
                }
            }
            ServerMode::Stomp => {
                let bytes = match &message {
                    Message::Text(t) => t.as_bytes().to_vec(),
                    Message::Binary(b) => b.clone(),
                };
                let result = self.broker.on_message(sid, &bytes);
                if let Some(frame) = &result.received {
                    let from = self.broker.name(sid);
                    cx.emit(stomp_event(frame, "received", Some(&from), sid));
                }
                for (to, frame) in result.replies {
                    let name = self.broker.name(to);
                    cx.emit(stomp_event(&frame, "sent", Some(&name), to));
                    let mut out = Vec::new();
                    codec::encode(&frame, &mut out);
                    if let Some(ws) = self.ws.get_mut(to)
                        && ws.is_open()
                    {
                        let _ = match String::from_utf8(out) {
                            Ok(text) => ws.conn.send_text(&text),
                            Err(e) => ws.conn.send_binary(e.as_bytes()),
                        };
                        // Each delivery goes out before the next is reported;
                        // a reply followed by a Close leaves with it.
                        if result.close.is_none() || to != sid {
                            ws.flush(cx);
                        }
                    }
                }
                if let Some((code, reason)) = result.close
                    && let Some(ws) = self.ws.get_mut(sid)
                {
                    let _ = ws.conn.close(code, &reason);
                }
            }
        }
    }

    /// Flushes every WebSocket connection that may have something to do
    /// (in socket id order, as if all were flushed: the others would make
    /// no call) and forgets those whose TCP connection is closed.
    fn flush_all(&mut self, cx: &mut AppContext<'_>) {
        for (sid, _) in self.ws.flush(cx) {
            self.broker.forget(sid);
        }
    }

    fn push(&mut self, cx: &mut AppContext<'_>, data: &str) {
        self.pushed += 1;
        let id = self.pushed;
        let text = event_text(id, cx.now(), data);
        let mut clients = 0u64;
        for (_, ws) in self.ws.all_mut() {
            if ws.is_open() && ws.conn.send_text(&text).is_ok() {
                clients += 1;
            }
        }
        cx.emit(
            AppEvent::new(
                "ws.push",
                format!("server push #{id} to {clients} client(s), with no request: {text:?}"),
            )
            .with("id", id)
            .with("clients", clients),
        );
        self.flush_all(cx);
    }
}

/// Checks an upgrade request, answers it (`101`, or `400`/`426` with the
/// reason), and reports the answer as `ws.upgrade`. Returns the chosen
/// subprotocol (`Some(None)` for none) if the connection switched.
pub(super) fn accept_or_refuse(
    cx: &mut AppContext<'_>,
    sid: SocketId,
    proto: &mut ServerConn,
    id: RequestId,
    request: &Request,
    supported: &[&str],
) -> Option<Option<String>> {
    let path = path_of(&request.target).to_string();
    match validate_request(&request.method, &request.headers, supported) {
        Ok(accepted) => {
            if let Err(e) = proto.accept_upgrade(cx.now(), id, &accepted.response_headers) {
                // Only an upgrade request the HTTP layer recognised can be
                // accepted (e.g. not one sent as HTTP/1.0).
                let response = Response::new(400)
                    .with_header("Content-Type", "text/plain")
                    .with_body(format!("cannot switch protocols: {e}\n").into_bytes());
                let _ = proto.send_response(cx.now(), id, response);
                return None;
            }
            let shown = subprotocol_note(accepted.protocol.as_deref());
            cx.emit(
                AppEvent::new(
                    "ws.upgrade",
                    format!(
                        "GET {} -> 101 Switching Protocols, Sec-WebSocket-Accept {}{shown}",
                        request.target, accepted.accept_key
                    ),
                )
                .on(sid)
                .with("path", path)
                .with("status", 101u64)
                .with("protocol", accepted.protocol.as_deref().unwrap_or(""))
                .with("ok", true),
            );
            Some(accepted.protocol)
        }
        Err(rejected) => {
            cx.emit(
                AppEvent::new(
                    "ws.upgrade",
                    format!(
                        "{} -> {} {}: {}",
                        request.summary(),
                        rejected.status,
                        simnet_http::proto::reason_phrase(rejected.status),
                        rejected.reason
                    ),
                )
                .on(sid)
                .with("path", path)
                .with("status", u64::from(rejected.status))
                .with("ok", false),
            );
            let mut response = Response::new(rejected.status)
                .with_header("Content-Type", "text/plain")
                .with_body(format!("{}\n", rejected.reason).into_bytes());
            response.headers.extend(rejected.response_headers);
            let _ = proto.send_response(cx.now(), id, response);
            None
        }
    }
}

/// Writes what an HTTP connection has to send, closes it when the protocol
/// wants to, and keeps its idle timer armed; returns false if `sid` is not
/// (or no longer) an HTTP connection, so that the caller can try its
/// WebSocket connections instead.
pub(super) fn drive_http_output<W: From<SocketId>>(
    cx: &mut AppContext<'_>,
    sid: SocketId,
    http: &mut BTreeMap<SocketId, HttpServerSide>,
    timers: &mut BTreeMap<TimerId, W>,
) -> bool {
    let Some(side) = http.get_mut(&sid) else {
        return false;
    };
    match side.write(cx, sid, |t| {
        timers.insert(t, W::from(sid));
    }) {
        Written::Open => {}
        Written::Broken | Written::Finished => {
            http.remove(&sid);
            let _ = cx.close(sid);
        }
    }
    true
}

/// What both servers here (`ws-server`, `sio-server`) do on `start`:
/// listen on `port`, reporting a failure as `failed_kind`, and arm the
/// first message of a push schedule (`every`, `count`) with `wake`.
pub(super) fn listen_and_schedule<W>(
    cx: &mut AppContext<'_>,
    port: u16,
    failed_kind: &'static str,
    (every, count): (Option<SimDuration>, u64),
    timers: &mut BTreeMap<TimerId, W>,
    wake: W,
) {
    cx.listen_or_report(port, None, failed_kind);
    if let Some(every) = every
        && count > 0
    {
        let t = cx.set_timer(every);
        timers.insert(t, wake);
    }
}

/// Accepts the next connection waiting on `port`, as one that speaks HTTP
/// until it upgrades, with a TLS session on it if `tls` is given; the
/// caller reads it at once, since its request may already be waiting.
pub(super) fn accept_http(
    cx: &mut AppContext<'_>,
    port: u16,
    http: &mut BTreeMap<SocketId, HttpServerSide>,
    tls: Option<&mut ServerTls>,
) -> Option<SocketId> {
    let sid = cx.accept(port)?;
    if let Some(tls) = tls {
        tls.install(cx, sid);
    }
    http.insert(sid, HttpServerSide::new(ServerConfig::default(), cx.now()));
    Some(sid)
}

impl From<SocketId> for Wake {
    fn from(sid: SocketId) -> Wake {
        Wake::Http(sid)
    }
}

/// The `stomp.frame` event for a frame sent or received.
pub(super) fn stomp_event(
    frame: &codec::StompFrame,
    direction: &str,
    peer: Option<&str>,
    sid: SocketId,
) -> AppEvent {
    let mut shown = frame.command.clone();
    for name in [
        "destination",
        "subscription",
        "receipt",
        "receipt-id",
        "message",
    ] {
        if let Some(v) = frame.header(name) {
            shown.push_str(&format!(" {name}:{v}"));
        }
    }
    if !frame.body.is_empty() {
        shown.push_str(&format!(" {:?}", String::from_utf8_lossy(&frame.body)));
    }
    let peer = match (peer, direction) {
        (Some(p), "received") => format!(" from {p}"),
        (Some(p), _) => format!(" to {p}"),
        (None, _) => String::new(),
    };
    AppEvent::new("stomp.frame", format!("STOMP {direction}{peer}: {shown}"))
        .on(sid)
        .with("command", frame.command.as_str())
        .with("direction", direction)
        .with("destination", frame.header("destination").unwrap_or(""))
}

impl App for WsServer {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.http.clear();
        self.ws.clear();
        self.timers.clear();
        let schedule = (self.push_every, self.push_count);
        listen_and_schedule(
            cx,
            self.port,
            "ws.listen-failed",
            schedule,
            &mut self.timers,
            Wake::Push,
        );
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Incoming { .. } => self.accept_waiting(cx),
            SocketEvent::Readable(sid) => self.read(cx, sid),
            SocketEvent::Writable(sid) => {
                if !drive_http_output(cx, sid, &mut self.http, &mut self.timers) {
                    self.flush_all(cx);
                }
            }
            SocketEvent::Closed(sid, _) => {
                if self.http.remove(&sid).is_some() {
                    let _ = cx.close(sid);
                } else if let Some(ws) = self.ws.get_mut(sid) {
                    let events = ws.receive(&[], true);
                    self.on_ws_events(cx, sid, events);
                    self.flush_all(cx);
                }
            }
            SocketEvent::Connected(_) | SocketEvent::ConnectFailed(..) => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if let Some(ws) = self.ws.by_close_timer(timer) {
            ws.give_up(cx);
            self.flush_all(cx);
            return;
        }
        let Some(wake) = self.timers.remove(&timer) else {
            return;
        };
        match wake {
            Wake::Http(sid) => {
                if let Some(side) = self.http.get_mut(&sid) {
                    side.on_timeout(cx.now());
                    self.drive_http(cx, sid);
                }
            }
            Wake::Push => {
                self.push(cx, "");
                if self.pushed < self.push_count
                    && let Some(every) = self.push_every
                {
                    let t = cx.set_timer(every);
                    self.timers.insert(t, Wake::Push);
                }
            }
            Wake::CloseAfter(sid) => {
                if let Some(ws) = self.ws.get_mut(sid)
                    && ws.is_open()
                {
                    let after = self.close_after.unwrap_or(SimDuration::ZERO);
                    cx.emit(
                        AppEvent::new(
                            "ws.closing",
                            format!("the server starts the closing handshake ({after} after the upgrade)"),
                        )
                        .on(sid),
                    );
                    let _ = ws.conn.close(1000, "server closing");
                    self.flush_all(cx);
                }
            }
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        match command.verb.as_str() {
            "broadcast" | "push" | "publish" => {
                for _ in 0..command.count.unwrap_or(1) {
                    self.push(cx, command.data.as_deref().unwrap_or(""));
                }
            }
            "close" => {
                for (_, ws) in self.ws.all_mut() {
                    if ws.is_open() {
                        let _ = ws.conn.close(1001, "server going away");
                    }
                }
                self.flush_all(cx);
            }
            "stop" => cx.unlisten(self.port),
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!(
                    "{} does not understand `{other}` (it knows broadcast, close, stop)",
                    self.mode.name()
                ),
            )),
        }
    }
}

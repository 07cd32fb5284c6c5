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

use super::held::{Held, HeldPolls};
use super::remote::{self, Address};
use super::server::{accept_http, accept_or_refuse, drive_http_output, listen_and_schedule};
use super::sockets::WsSockets;
use super::{
    ClientLink, ClientLinkEvent, ClientTls, Remote, ServerTls, WsSocket, event_text, parse_event,
    path_of, query_param, read_all,
};
use crate::proto::close;
use crate::proto::conn::{Message, WsConfig, WsConn, WsEvent};
use simnet_core::{
    App, AppContext, AppEvent, Command, SimDuration, SimTime, SocketEvent, SocketId, TimerId,
};
use simnet_http::apps::{HttpClientSide, HttpServerSide, event_learned, next_server_event};
use simnet_http::proto::{ClientConfig, ClientEvent, Request, RequestId, Response, ServerEvent};
use std::collections::{BTreeMap, BTreeSet};

/// The transport a session uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Polling,
    WebSocket(SocketId),
}

#[derive(Clone, Copy, Debug)]
enum Wake {
    Http(SocketId),
    Publish,
    PollTimeout(TimerId),
}

impl From<SocketId> for Wake {
    fn from(sid: SocketId) -> Wake {
        Wake::Http(sid)
    }
}

/// The server side of the fallback: long polling and WebSocket on one path.
pub struct SioServer {
    port: u16,
    path: String,
    poll_timeout: SimDuration,
    push_every: Option<SimDuration>,
    push_count: u64,
    tls: Option<ServerTls>,
    http: BTreeMap<SocketId, HttpServerSide>,
    ws: WsSockets<(WsSocket, u64)>,
    sessions: BTreeMap<u64, Transport>,
    held: HeldPolls,
    /// Publication time and text of event `i + 1`.
    events: Vec<(SimTime, String)>,
    timers: BTreeMap<TimerId, Wake>,
}

impl std::fmt::Debug for SioServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SioServer")
            .field("port", &self.port)
            .field("sessions", &self.sessions)
            .field("events", &self.events.len())
            .finish()
    }
}

impl SioServer {
    /// A server on `port`, serving the fallback on `path`.
    pub fn new(port: u16, path: &str) -> SioServer {
        SioServer {
            port,
            path: path.to_string(),
            poll_timeout: SimDuration::from_secs(20),
            push_every: None,
            push_count: 0,
            tls: None,
            http: BTreeMap::new(),
            ws: WsSockets::default(),
            sessions: BTreeMap::new(),
            held: HeldPolls::default(),
            events: Vec::new(),
            timers: BTreeMap::new(),
        }
    }

    /// How long a poll is held with no event before it is answered `204`.
    /// An interval shorter than [`SimDuration::MIN_INTERVAL`] is raised to it.
    pub fn poll_timeout(mut self, timeout: SimDuration) -> SioServer {
        self.poll_timeout = timeout.as_interval();
        self
    }

    /// Publishes `count` events, one every `every`, the first `every` after
    /// the start.
    /// An interval shorter than [`SimDuration::MIN_INTERVAL`] is raised to it.
    pub fn push_schedule(mut self, every: SimDuration, count: u64) -> SioServer {
        self.push_every = Some(every.as_interval());
        self.push_count = count;
        self
    }

    /// Speaks HTTPS and `wss`: every connection, polling or WebSocket,
    /// gets its TLS session as soon as it is accepted.
    pub fn tls(mut self, tls: ServerTls) -> SioServer {
        self.tls = Some(tls);
        self
    }

    fn events_after(&self, since: u64) -> Vec<u8> {
        let mut body = String::new();
        for (n, (t, data)) in self.events.iter().enumerate().skip(since as usize) {
            body.push_str(&event_text(n as u64 + 1, *t, data));
            body.push('\n');
        }
        body.into_bytes()
    }

    fn respond(&mut self, cx: &mut AppContext<'_>, sid: SocketId, id: RequestId, r: Response) {
        if let Some(side) = self.http.get_mut(&sid) {
            let _ = side.proto.send_response(cx.now(), id, r);
        }
    }

    fn read(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let input = read_all(cx, sid);
        if let Some(side) = self.http.get_mut(&sid) {
            if !input.data.is_empty() {
                side.proto.handle_input(cx.now(), &input.data);
            }
            if input.eof || input.broken {
                // The client left: polls held for it are dropped, and its
                // connection is closed (the client closed first).
                self.drop_http(cx, sid);
                return;
            }
            self.drive_http(cx, sid);
        } else if let Some((ws, session)) = self.ws.get_mut(sid) {
            let session = *session;
            let events = ws.receive(&input.data, input.eof || input.broken);
            for incoming in events {
                if let WsEvent::Message(m) = incoming.report(cx) {
                    let text = match &m {
                        Message::Text(t) => t.clone(),
                        Message::Binary(b) => format!("{} bytes", b.len()),
                    };
                    cx.emit(
                        AppEvent::new("sio.message", format!("session {session} says {text:?}"))
                            .on(sid),
                    );
                }
            }
            self.flush_ws(cx);
        }
    }

    fn drop_http(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        for h in self.held.take_socket(sid) {
            cx.cancel_timer(h.timer);
            self.timers.remove(&h.timer);
        }
        if self.http.remove(&sid).is_some() {
            let _ = cx.close(sid);
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
                ServerEvent::Request { id, request } => self.on_request(cx, sid, id, &request),
                ServerEvent::BadRequest { status, reason } => cx.emit(
                    AppEvent::new(
                        "sio.bad-request",
                        format!("malformed HTTP: {status} ({reason}); closing"),
                    )
                    .on(sid),
                ),
                ServerEvent::IdleTimeout | ServerEvent::PeerClosed => {}
            }
        }
        drive_http_output(cx, sid, &mut self.http, &mut self.timers);
    }

    fn on_request(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        request: &Request,
    ) {
        let target = request.target.as_str();
        if path_of(target) != self.path {
            let r = Response::text(
                404,
                format!("no such path; the session lives at {}\n", self.path),
            );
            return self.respond(cx, sid, id, r);
        }
        // A `sid` that names no open session is refused, as Engine.IO does
        // ("Session ID unknown"), rather than read as no `sid` at all: a
        // client that lost its session must learn so, not be handed a
        // fresh one that silently misses every event it was waiting for.
        let session = match query_param(target, "sid") {
            None => None,
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if self.sessions.contains_key(&n) => Some(n),
                _ => return self.unknown_session(cx, sid, id, raw),
            },
        };
        match (query_param(target, "transport"), session) {
            (Some("polling"), None) => {
                let n = self.sessions.len() as u64 + 1;
                self.sessions.insert(n, Transport::Polling);
                cx.emit(
                    AppEvent::new(
                        "sio.session",
                        format!("new session {n}, on long polling (it may upgrade to websocket)"),
                    )
                    .on(sid)
                    .with("session", n),
                );
                self.respond(cx, sid, id, Response::text(200, format!("open sid={n}\n")));
            }
            (Some("polling"), Some(n)) => {
                let since = query_param(target, "since")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                match self.sessions.get(&n) {
                    None => self.unknown_session(cx, sid, id, &n.to_string()),
                    Some(Transport::WebSocket(_)) => {
                        self.respond(cx, sid, id, Response::text(200, "noop\n"))
                    }
                    Some(Transport::Polling) if self.events.len() as u64 > since => {
                        let body = self.events_after(since);
                        self.respond(cx, sid, id, Response::text(200, body));
                    }
                    Some(Transport::Polling) => {
                        let timer = cx.set_timer(self.poll_timeout);
                        self.timers.insert(timer, Wake::PollTimeout(timer));
                        self.held.push(Held {
                            socket: sid,
                            request: id,
                            session: n,
                            since,
                            timer,
                        });
                        cx.emit(
                            AppEvent::new(
                                "sio.hold",
                                format!(
                                    "session {n}: no event after #{since}: holding the poll (up to {})",
                                    self.poll_timeout
                                ),
                            )
                            .on(sid),
                        );
                    }
                }
            }
            (Some("websocket"), _) => {
                // An upgrade request that reached us without `Upgrade`
                // (stripped on the way): refused with the reason.
                if let Some(side) = self.http.get_mut(&sid) {
                    accept_or_refuse(cx, sid, &mut side.proto, id, request, &[]);
                }
            }
            _ => self.respond(cx, sid, id, Response::text(400, "unknown transport\n")),
        }
    }

    /// Refuses a request whose `sid` names no open session: `400` with a
    /// body that says so, and an `sio.unknown-session` event.
    fn unknown_session(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        raw: &str,
    ) {
        cx.emit(
            AppEvent::new(
                "sio.unknown-session",
                format!("sid={raw} names no open session: 400"),
            )
            .on(sid)
            .with("sid", raw.to_string())
            .with("status", 400u64),
        );
        let body = format!("unknown session id {raw:?}: open one with ?transport=polling\n");
        self.respond(cx, sid, id, Response::text(400, body));
    }

    /// Answers a WebSocket upgrade; returns true if the connection switched.
    fn upgrade(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        request: &Request,
    ) -> bool {
        let target = request.target.as_str();
        let raw_session = query_param(target, "sid");
        let session = raw_session.and_then(|s| s.parse::<u64>().ok());
        let known = session.is_some_and(|n| self.sessions.contains_key(&n));
        let wanted =
            path_of(target) == self.path && query_param(target, "transport") == Some("websocket");
        if wanted
            && !known
            && let Some(raw) = raw_session
        {
            self.unknown_session(cx, sid, id, raw);
            return false;
        }
        let Some(side) = self.http.get_mut(&sid) else {
            return false;
        };
        if !wanted || !known {
            let why = if wanted {
                "a websocket upgrade needs the sid of an open session"
            } else {
                "upgrades are served at ?transport=websocket"
            };
            let _ = side
                .proto
                .send_response(cx.now(), id, Response::text(400, format!("{why}\n")));
            return false;
        }
        let session = session.unwrap_or(0);
        if accept_or_refuse(cx, sid, &mut side.proto, id, request, &[]).is_none() {
            return false;
        }
        let mut side = self.http.remove(&sid).expect("present above");
        side.proto.poll_transmit(&mut side.out);
        let leftover = side.proto.take_upgraded_bytes();
        let mut ws = WsSocket::new(cx, sid, WsConn::server(WsConfig::default()), side.out);
        self.sessions.insert(session, Transport::WebSocket(sid));
        // Whatever the client has not seen yet goes out at once.
        let since: u64 = query_param(target, "since")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for (n, (t, data)) in self.events.iter().enumerate().skip(since as usize) {
            let _ = ws.conn.send_text(&event_text(n as u64 + 1, *t, data));
        }
        cx.emit(
            AppEvent::new(
                "sio.session",
                format!("session {session} moves to websocket"),
            )
            .on(sid)
            .with("session", session),
        );
        for incoming in ws.receive(&leftover, false) {
            incoming.report(cx);
        }
        self.ws.insert(sid, (ws, session));
        self.flush_ws(cx);
        // Release the poll the session left waiting, as Engine.IO does.
        for h in self.held.take_session(session) {
            cx.cancel_timer(h.timer);
            self.timers.remove(&h.timer);
            cx.emit(
                AppEvent::new(
                    "sio.release",
                    format!("session {session} upgraded: its held poll is answered with noop"),
                )
                .on(h.socket),
            );
            self.respond(cx, h.socket, h.request, Response::text(200, "noop\n"));
            drive_http_output(cx, h.socket, &mut self.http, &mut self.timers);
        }
        true
    }

    /// Flushes the WebSocket connections that may have something to do
    /// (in socket id order) and forgets those whose TCP connection closed.
    fn flush_ws(&mut self, cx: &mut AppContext<'_>) {
        for (_, (_, session)) in self.ws.flush(cx) {
            // The session survives its WebSocket: the client may come back
            // on long polling.
            self.sessions.insert(session, Transport::Polling);
        }
    }

    fn publish(&mut self, cx: &mut AppContext<'_>, data: &str) {
        let now = cx.now();
        self.events.push((now, data.to_string()));
        let id = self.events.len() as u64;
        let line = event_text(id, now, data);
        let mut websocket = 0u64;
        for (_, (ws, _)) in self.ws.all_mut() {
            if ws.is_open() && ws.conn.send_text(&line).is_ok() {
                websocket += 1;
            }
        }
        let held = self.held.take_all();
        cx.emit(
            AppEvent::new(
                "sio.publish",
                format!(
                    "event #{id} published: {websocket} session(s) on websocket, {} held poll(s)",
                    held.len()
                ),
            )
            .with("id", id),
        );
        for h in held {
            cx.cancel_timer(h.timer);
            self.timers.remove(&h.timer);
            let body = self.events_after(h.since);
            self.respond(cx, h.socket, h.request, Response::text(200, body));
            drive_http_output(cx, h.socket, &mut self.http, &mut self.timers);
        }
        self.flush_ws(cx);
    }
}

impl App for SioServer {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        let schedule = (self.push_every, self.push_count);
        listen_and_schedule(
            cx,
            self.port,
            "sio.listen-failed",
            schedule,
            &mut self.timers,
            Wake::Publish,
        );
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Incoming { port } => {
                while let Some(sid) = accept_http(cx, port, &mut self.http, self.tls.as_mut()) {
                    self.read(cx, sid);
                }
            }
            SocketEvent::Readable(sid) => self.read(cx, sid),
            SocketEvent::Writable(sid) => {
                if !drive_http_output(cx, sid, &mut self.http, &mut self.timers) {
                    self.flush_ws(cx);
                }
            }
            SocketEvent::Closed(sid, _) => {
                if self.http.contains_key(&sid) {
                    self.drop_http(cx, sid);
                } else if let Some((ws, _)) = self.ws.get_mut(sid) {
                    for incoming in ws.receive(&[], true) {
                        incoming.report(cx);
                    }
                    self.flush_ws(cx);
                }
            }
            SocketEvent::Connected(_) | SocketEvent::ConnectFailed(..) => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if let Some((ws, _)) = self.ws.by_close_timer(timer) {
            ws.give_up(cx);
            self.flush_ws(cx);
            return;
        }
        match self.timers.remove(&timer) {
            Some(Wake::Http(sid)) => {
                if let Some(side) = self.http.get_mut(&sid) {
                    side.on_timeout(cx.now());
                    self.drive_http(cx, sid);
                }
            }
            Some(Wake::Publish) => {
                self.publish(cx, "");
                if (self.events.len() as u64) < self.push_count
                    && let Some(every) = self.push_every
                {
                    let t = cx.set_timer(every);
                    self.timers.insert(t, Wake::Publish);
                }
            }
            Some(Wake::PollTimeout(t)) => {
                if let Some(h) = self.held.take_timer(t) {
                    cx.emit(
                        AppEvent::new(
                            "sio.hold-timeout",
                            format!(
                                "session {}: no event for {}: 204",
                                h.session, self.poll_timeout
                            ),
                        )
                        .on(h.socket),
                    );
                    self.respond(cx, h.socket, h.request, Response::new(204));
                    drive_http_output(cx, h.socket, &mut self.http, &mut self.timers);
                }
            }
            None => {}
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        match command.verb.as_str() {
            "publish" | "broadcast" | "push" => {
                for _ in 0..command.count.unwrap_or(1) {
                    self.publish(cx, command.data.as_deref().unwrap_or(""));
                }
            }
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("sio-server does not understand `{other}` (it knows publish)"),
            )),
        }
    }
}

/// Polling connections in a row that may close before any answer before a
/// [`SioClient`] gives up.
pub const MAX_FAILED_POLLS: u32 = 3;

/// A connection a [`SioClient`] opens.
#[derive(Clone, Debug)]
enum Want {
    /// The long-polling connection.
    Poll,
    /// The WebSocket upgrade, asking for this target.
    Upgrade(String),
}

/// The client side of the fallback: long polling first, then an attempt to
/// upgrade to WebSocket.
pub struct SioClient {
    remote: Remote,
    /// Connections waiting for the server's name to be looked up.
    waiting: Vec<Want>,
    host: String,
    path: String,
    stop_after: u64,
    try_upgrade: bool,
    /// TLS for both connections (HTTPS polling, then `wss`), if any. One
    /// configuration serves both, so the second connection may resume the
    /// first one's session.
    tls: Option<ClientTls>,
    /// The long-polling connection.
    poll: Option<HttpClientSide>,
    link: Option<ClientLink>,
    session: Option<u64>,
    since: u64,
    seen: BTreeSet<u64>,
    on_websocket: bool,
    upgrade_tried: bool,
    done: bool,
    /// Events learned of: id, delay, and the transport that brought it.
    pub learned: Vec<(u64, SimDuration, &'static str)>,
    /// Whether the session moved to WebSocket.
    pub upgraded: bool,
    /// Whether the current polling connection has answered a poll.
    poll_answered: bool,
    /// Polling connections in a row that closed before any answer.
    failed_polls: u32,
    /// When the next polling connection opens, after one that failed.
    retry: Option<TimerId>,
}

impl std::fmt::Debug for SioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SioClient")
            .field("remote", &self.remote.to_string())
            .field("session", &self.session)
            .field("upgraded", &self.upgraded)
            .field("learned", &self.learned.len())
            .finish()
    }
}

impl SioClient {
    /// A client of `remote` (an address, or a [`Remote::named`] name,
    /// looked up for each connection; `host` for the `Host` header) on
    /// `path` that stops after learning of `stop_after` events.
    pub fn new(remote: impl Into<Remote>, host: &str, path: &str, stop_after: u64) -> SioClient {
        SioClient {
            remote: remote.into(),
            waiting: Vec::new(),
            host: host.to_string(),
            path: path.to_string(),
            stop_after,
            try_upgrade: true,
            tls: None,
            poll: None,
            link: None,
            session: None,
            since: 0,
            seen: BTreeSet::new(),
            on_websocket: false,
            upgrade_tried: false,
            done: false,
            learned: Vec::new(),
            upgraded: false,
            poll_answered: false,
            failed_polls: 0,
            retry: None,
        }
    }

    /// Whether to try WebSocket at all (default true).
    pub fn upgrade(mut self, upgrade: bool) -> SioClient {
        self.try_upgrade = upgrade;
        self
    }

    /// Speaks HTTPS for polling and `wss` for the upgrade: TLS starts on
    /// each connection as soon as TCP connects.
    pub fn tls(mut self, tls: ClientTls) -> SioClient {
        self.tls = Some(tls);
        self
    }

    /// Opens the connection `want` asks for once the server's address is
    /// known: now, after the lookup, or never (reported as `sio.error`).
    fn open(&mut self, cx: &mut AppContext<'_>, want: Want, address: Address) {
        let remote = match address {
            Address::Now(a) => a,
            Address::Later => return self.waiting.push(want),
            Address::Never(e) => {
                return cx.emit(remote::lookup_failed("sio.error", &self.remote, &e));
            }
        };
        match want {
            Want::Poll => match HttpClientSide::connect(cx, remote, ClientConfig::default()) {
                Ok(poll) => {
                    self.poll = Some(poll);
                    self.poll_answered = false;
                }
                Err(e) => cx.emit(AppEvent::new(
                    "sio.error",
                    format!("cannot connect to {remote}: {e}"),
                )),
            },
            Want::Upgrade(target) => match ClientLink::connect(
                cx,
                remote,
                &self.host,
                &target,
                &[],
                WsConfig::default(),
                self.tls.clone(),
            ) {
                Ok(link) => self.link = Some(link),
                Err(e) => cx.emit(AppEvent::new(
                    "sio.error",
                    format!("cannot open the upgrade connection: {e}"),
                )),
            },
        }
    }

    fn open_poll(&mut self, cx: &mut AppContext<'_>) {
        let address = self.remote.address(cx);
        self.open(cx, Want::Poll, address);
    }

    /// Lookups that finished: the connections waiting for them open.
    fn looked_up(&mut self, cx: &mut AppContext<'_>, done: Vec<Address>) {
        for address in done {
            for want in std::mem::take(&mut self.waiting) {
                self.open(cx, want, address.clone());
            }
        }
    }

    /// Sends the next long poll (the first one is the handshake).
    fn poll_now(&mut self, cx: &mut AppContext<'_>) {
        if self.done || self.on_websocket {
            return;
        }
        let Some(poll) = self.poll.as_mut() else {
            return self.open_poll(cx);
        };
        if !poll.is_ready() {
            return;
        }
        let target = match self.session {
            None => format!("{}?transport=polling", self.path),
            Some(n) => format!(
                "{}?transport=polling&sid={n}&since={}",
                self.path, self.since
            ),
        };
        if poll.send(cx, Request::get(&self.host, &target)).is_err() {
            // The server said it will close this connection: use a new one.
            let sid = poll.sid;
            self.poll = None;
            let _ = cx.close(sid);
            self.open_poll(cx);
        }
    }

    fn read_poll(&mut self, cx: &mut AppContext<'_>) {
        let Some(poll) = self.poll.as_mut() else {
            return;
        };
        let sid = poll.sid;
        let eof = poll.read(cx);
        let mut answered = false;
        let mut released = false;
        while let Some(event) = self.poll.as_mut().and_then(HttpClientSide::poll_event) {
            match event {
                ClientEvent::Response { response, .. } => {
                    answered = true;
                    self.poll_answered = true;
                    self.failed_polls = 0;
                    match response.status {
                        200 => {
                            let body = String::from_utf8_lossy(&response.body).into_owned();
                            for line in body.lines() {
                                if let Some(n) = line
                                    .strip_prefix("open sid=")
                                    .and_then(|n| n.trim().parse().ok())
                                {
                                    self.on_open(cx, sid, n);
                                } else if line.trim() == "noop" {
                                    released = true;
                                } else if let Some((id, t)) = parse_event(line) {
                                    let len = line.trim().len() as u64;
                                    self.learn(cx, sid, (id, t, len), "long polling");
                                }
                            }
                        }
                        204 => {}
                        status => cx.emit(
                            AppEvent::new(
                                "sio.error",
                                format!("poll answered {}", response.summary()),
                            )
                            .on(sid)
                            .with("status", u64::from(status)),
                        ),
                    }
                }
                ClientEvent::Error { reason } => {
                    cx.emit(AppEvent::new("sio.error", reason).on(sid))
                }
                _ => {}
            }
        }
        if released || self.on_websocket || self.done || eof {
            if released {
                cx.emit(
                    AppEvent::new(
                        "sio.release",
                        "the held poll came back with noop: the polling connection is no longer needed",
                    )
                    .on(sid),
                );
            }
            if let Some(p) = self.poll.take() {
                let _ = cx.close(p.sid);
            }
            if eof && !released && !self.on_websocket && !self.done {
                self.reconnect(cx, sid);
            }
            return;
        }
        if answered {
            self.poll_now(cx);
        }
    }

    /// The polling connection closed under the session. One that had
    /// answered is replaced at once (a server may close a kept-alive
    /// connection); one that closed before any answer (refused, or its TLS
    /// failed) is retried after 1 s, then 2 s, and the client gives up
    /// after [`MAX_FAILED_POLLS`] such connections in a row, rather than
    /// reconnect forever.
    fn reconnect(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        if self.poll_answered {
            cx.emit(
                AppEvent::new(
                    "sio.reconnect",
                    "the polling connection closed: reconnecting",
                )
                .on(sid),
            );
            return self.open_poll(cx);
        }
        self.failed_polls += 1;
        if self.failed_polls >= MAX_FAILED_POLLS {
            self.done = true;
            return cx.emit(
                AppEvent::new(
                    "sio.error",
                    format!(
                        "giving up: {} polling connections in a row closed before any answer",
                        self.failed_polls
                    ),
                )
                .on(sid)
                .with("attempts", u64::from(self.failed_polls)),
            );
        }
        let delay = SimDuration::from_secs(1 << (self.failed_polls - 1));
        cx.emit(
            AppEvent::new(
                "sio.reconnect",
                format!("the polling connection closed before any answer: reconnecting in {delay}"),
            )
            .on(sid)
            .with("attempts", u64::from(self.failed_polls)),
        );
        self.retry = Some(cx.set_timer(delay));
    }

    /// The handshake poll came back: the session exists; try WebSocket.
    fn on_open(&mut self, cx: &mut AppContext<'_>, sid: SocketId, session: u64) {
        self.session = Some(session);
        cx.emit(
            AppEvent::new(
                "sio.transport",
                format!("session {session} open on long polling"),
            )
            .on(sid)
            .with("transport", "polling"),
        );
        if self.try_upgrade && !self.upgrade_tried {
            self.upgrade_tried = true;
            let target = format!(
                "{}?transport=websocket&sid={session}&since={}",
                self.path, self.since
            );
            let address = self.remote.address(cx);
            self.open(cx, Want::Upgrade(target), address);
        }
    }

    fn learn(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        (id, published, len): (u64, SimTime, u64),
        mode: &'static str,
    ) {
        if !self.seen.insert(id) {
            return;
        }
        self.since = self.since.max(id);
        let delay = cx.now() - published;
        self.learned.push((id, delay, mode));
        cx.emit(event_learned("sio.event", sid, id, delay, mode, len));
        if self.learned.len() as u64 >= self.stop_after && !self.done {
            self.done = true;
            cx.emit(AppEvent::new(
                "sio.done",
                format!("all {} events received: closing", self.stop_after),
            ));
            if let Some(ws) = self.link.as_mut().and_then(ClientLink::ws)
                && ws.is_open()
            {
                let _ = ws.conn.close(close::NORMAL, "done");
            }
            if let Some(p) = self.poll.as_ref()
                && !p.is_busy()
            {
                let sid = p.sid;
                self.poll = None;
                let _ = cx.close(sid);
            }
        }
    }

    fn handle_link(&mut self, cx: &mut AppContext<'_>, events: Vec<ClientLinkEvent>) {
        let sid = self.link.as_ref().map(|l| l.sid);
        for event in events {
            let Some(sid) = sid else { break };
            let event = match event {
                ClientLinkEvent::Opened { .. } => {
                    self.on_websocket = true;
                    self.upgraded = true;
                    cx.emit(
                        AppEvent::new(
                            "sio.transport",
                            "upgraded to websocket: events now arrive as frames; the held poll will be released",
                        )
                        .on(sid)
                        .with("transport", "websocket")
                        .with("status", 101u64),
                    );
                    continue;
                }
                ClientLinkEvent::Refused { status, .. } => {
                    let how = if status == 0 {
                        "without an answer".to_string()
                    } else {
                        format!(
                            "with {status} {}",
                            simnet_http::proto::reason_phrase(status)
                        )
                    };
                    cx.emit(
                        AppEvent::new(
                            "sio.transport",
                            format!("the upgrade failed {how}: staying on long polling"),
                        )
                        .on(sid)
                        .with("transport", "upgrade-failed")
                        .with("status", u64::from(status)),
                    );
                    continue;
                }
                ClientLinkEvent::Ws(incoming) => incoming.report(cx),
            };
            match event {
                WsEvent::Message(Message::Text(t)) => {
                    if let Some((id, published)) = parse_event(&t) {
                        self.learn(cx, sid, (id, published, t.len() as u64), "websocket");
                    }
                }
                WsEvent::ConnectionLost | WsEvent::ProtocolError { .. } if !self.done => {
                    // The WebSocket is gone: fall back to polling.
                    self.on_websocket = false;
                    cx.emit(
                        AppEvent::new("sio.transport", "the websocket broke: back to long polling")
                            .on(sid)
                            .with("transport", "polling"),
                    );
                    self.poll_now(cx);
                }
                _ => {}
            }
        }
        if let Some(link) = self.link.as_mut()
            && !link.flush(cx)
        {
            self.link = None;
        }
    }
}

impl App for SioClient {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.remote.start(cx);
        self.open_poll(cx);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        if let Some(done) = self.remote.on_socket(cx, &event) {
            return self.looked_up(cx, done);
        }
        let poll_sid = self.poll.as_ref().map(|p| p.sid);
        let link_sid = self.link.as_ref().map(|l| l.sid);
        match event {
            SocketEvent::Connected(sid) if Some(sid) == poll_sid => {
                if let Some(tls) = &mut self.tls {
                    tls.install(cx, sid);
                }
                if let Some(p) = self.poll.as_mut() {
                    p.on_connected();
                }
                self.poll_now(cx);
            }
            SocketEvent::Readable(sid) if Some(sid) == poll_sid => self.read_poll(cx),
            SocketEvent::Writable(sid) if Some(sid) == poll_sid => {
                if let Some(p) = self.poll.as_mut() {
                    p.flush(cx);
                }
            }
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason)
                if Some(sid) == poll_sid =>
            {
                self.poll = None;
                let _ = cx.close(sid);
                cx.emit(AppEvent::new("sio.error", format!("polling connection {reason}")).on(sid));
                if !self.done && !self.on_websocket {
                    self.reconnect(cx, sid);
                }
            }
            SocketEvent::Connected(sid) if Some(sid) == link_sid => {
                if let Some(link) = self.link.as_mut() {
                    link.on_connected(cx);
                }
            }
            SocketEvent::Readable(sid) if Some(sid) == link_sid => {
                let events = self
                    .link
                    .as_mut()
                    .map(|l| l.on_readable(cx))
                    .unwrap_or_default();
                self.handle_link(cx, events);
            }
            SocketEvent::Writable(sid) if Some(sid) == link_sid => self.handle_link(cx, Vec::new()),
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason)
                if Some(sid) == link_sid =>
            {
                let events = self
                    .link
                    .as_mut()
                    .map(|l| l.on_broken(cx, format!("connection {reason}")))
                    .unwrap_or_default();
                self.handle_link(cx, events);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if let Some(done) = self.remote.on_timer(cx, timer) {
            return self.looked_up(cx, done);
        }
        if self.retry == Some(timer) {
            self.retry = None;
            return self.open_poll(cx);
        }
        if ClientLink::route_timer(&mut self.link, cx, timer) {
            self.link = None;
        }
    }
}

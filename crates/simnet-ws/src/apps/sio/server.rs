//! The server side: [`SioServer`] (`sio-server`).

use crate::apps::held::{Held, HeldPolls};
use crate::apps::server::{accept_http, accept_or_refuse, drive_http_output, listen_and_schedule};
use crate::apps::sockets::WsSockets;
use crate::apps::{ServerTls, WsSocket, event_text, path_of, query_param, read_all};
use crate::proto::conn::{Message, WsConfig, WsConn, WsEvent};
use simnet_core::{
    App, AppContext, AppEvent, Command, SimDuration, SimTime, SocketEvent, SocketId, TimerId,
};
use simnet_http::apps::{HttpServerSide, next_server_event};
use simnet_http::proto::{Request, RequestId, Response, ServerEvent};
use std::collections::BTreeMap;

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
                if let Some(WsEvent::Message(m)) = incoming.report(cx) {
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

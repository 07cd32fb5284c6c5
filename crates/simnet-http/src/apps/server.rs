//! The HTTP server application.
//!
//! Routes: a static response of N bytes (optionally delayed), a polling
//! endpoint, a long-poll endpoint that holds the request until an event is
//! published or a timeout passes (then `204 No Content`), and a streaming
//! endpoint that keeps a chunked `text/event-stream` response open and
//! writes one chunk per event. Events are published by the timeline
//! (`command = "publish"`) or on a schedule.
//!
//! Connection handling is the protocol's ([`crate::proto::ServerConn`]): keep-alive, the
//! idle timeout and the request limit. On top of it the server can cap how
//! many connections it serves at once; beyond the cap, new connections wait
//! unaccepted in the listen backlog, or are answered `503` and closed.
//!
//! It can also be a slow reader, like the `sink` of raw TCP: it then reads
//! at most `read_bytes` of each connection every `read_interval`, and what
//! it has not read stays in the socket's receive buffer, so a client
//! sending a large body sees the window shrink to zero and must probe it.

use super::{
    HttpServerSide, Written, next_server_event, notable_headers, read_all, read_at_most,
    split_target,
};
use crate::proto::sse::{event_line, sse_message};
use crate::proto::{Request, RequestId, Response, ServerConfig, ServerEvent};
use simnet_core::apps::stream::Input;
use simnet_core::apps::{Filler, filler};
use simnet_core::{
    App, AppContext, AppEvent, Command, SimDuration, SocketEvent, SocketId, TimerId,
};
use std::collections::{BTreeMap, BTreeSet};

/// Static bodies up to this size are built whole and sent with the
/// response; longer ones are generated as the socket takes them, so a
/// route with `body_bytes = "10GiB"` runs in constant memory. The bytes on
/// the wire are the same either way.
pub const WHOLE_BODY_MAX: u64 = 1024 * 1024;

/// How much of a long body is generated at a time.
const BODY_PIECE: usize = 64 * 1024;

/// What a route answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// A fixed response of `body_bytes` bytes, sent `delay` after the request.
    Static {
        /// Status code.
        status: u16,
        /// Body size.
        body_bytes: u64,
        /// How long the server "works" before answering.
        delay: SimDuration,
    },
    /// Every event published after `?since=N`, at once (possibly none).
    Poll,
    /// Events after `?since=N`; if there are none yet, the request is held
    /// until one is published or `timeout` passes (then `204 No Content`).
    LongPoll {
        /// How long a request is held.
        timeout: SimDuration,
    },
    /// A chunked `text/event-stream` response that stays open; each event is
    /// one chunk.
    Stream,
}

/// A path and what it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The path, matched exactly (the query string is ignored).
    pub path: String,
    /// The answer.
    pub kind: RouteKind,
}

impl Route {
    /// `path` answered at once with `200 OK` and a body of `body_bytes`.
    pub fn ok(path: &str, body_bytes: u64) -> Route {
        Route {
            path: path.to_string(),
            kind: RouteKind::Static {
                status: 200,
                body_bytes,
                delay: SimDuration::ZERO,
            },
        }
    }
}

/// What happens to connections beyond `max_connections`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// They wait in the listen backlog until a slot frees.
    Wait,
    /// They are accepted, answered `503 Service Unavailable` and closed.
    Refuse,
}

/// An HTTP/1.1 server.
#[derive(Clone, Debug)]
pub struct HttpServer {
    port: u16,
    config: ServerConfig,
    routes: Vec<Route>,
    max_connections: Option<usize>,
    when_full: WhenFull,
    backlog: Option<usize>,
    /// HTTPS: TLS on every connection.
    tls: Option<super::ServerTls>,
    /// Redirecting plain HTTP to HTTPS; `Strict-Transport-Security`.
    https: super::HttpsPolicy,
    publish_every: Option<SimDuration>,
    publish_count: u64,
    whole_body_max: u64,
    /// A slow reader: at most this many bytes of each connection per
    /// `read_interval`.
    read_bytes: Option<usize>,
    read_interval: SimDuration,
    /// With a slow reader: the connections that may have bytes waiting in
    /// their socket, read on the next tick of `read_timer`.
    unread: BTreeSet<SocketId>,
    read_timer: Option<TimerId>,
    conns: BTreeMap<SocketId, Conn>,
    /// How many of `conns` are refused (answered 503), so that the active
    /// count costs nothing per accept.
    refused_open: usize,
    /// The connections a publication can change: those holding a long
    /// poll or a stream, or with bytes or a body still to write. Kept
    /// exact at the end of every [`drive`](Self::drive), so that a
    /// publication visits these, in socket order, and not every
    /// connection (driving any other one makes no call and emits nothing).
    watched: BTreeSet<SocketId>,
    /// Publication time (ns) of event `i + 1`.
    events: Vec<u64>,
    timers: BTreeMap<TimerId, Wake>,
    /// Requests answered.
    pub requests_served: u64,
    /// Connections refused with 503 because the server was full.
    pub refused: u64,
    /// Connections visited by publications, for the tests.
    #[cfg(test)]
    publish_visits: u64,
    /// Every request body received, for the tests.
    #[cfg(test)]
    bodies_received: Vec<Vec<u8>>,
}

#[derive(Clone, Debug)]
struct Conn {
    /// The HTTP connection on the socket.
    http: HttpServerSide,
    /// Held long polls: request, `since`, timeout timer.
    held: Vec<(RequestId, u64, TimerId)>,
    streams: Vec<RequestId>,
    /// Long static bodies still to be written.
    bodies: BTreeMap<RequestId, Filler>,
    refused: bool,
}

impl Conn {
    /// Whether a publication or a later drive can make this connection
    /// write: it holds a long poll or a stream, or has bytes or a body
    /// waiting for room. A connection that is not has had every protocol
    /// event handled, every byte written and its deadline armed, so driving
    /// it makes no socket call and emits nothing.
    fn is_watched(&self) -> bool {
        !self.held.is_empty()
            || !self.streams.is_empty()
            || !self.bodies.is_empty()
            || !self.http.out.is_empty()
    }
}

#[derive(Clone, Copy, Debug)]
enum Wake {
    Protocol(SocketId),
    Delayed(SocketId, RequestId, u16, u64),
    LongPollTimeout(SocketId, RequestId),
    Publish,
    /// A slow reader's tick.
    Read,
}

impl HttpServer {
    /// A server on `port` with the protocol `config` and these routes.
    pub fn new(port: u16, config: ServerConfig, routes: Vec<Route>) -> HttpServer {
        HttpServer {
            port,
            config,
            routes,
            max_connections: None,
            when_full: WhenFull::Wait,
            backlog: None,
            tls: None,
            https: super::HttpsPolicy::default(),
            publish_every: None,
            publish_count: 0,
            whole_body_max: WHOLE_BODY_MAX,
            read_bytes: None,
            read_interval: SimDuration::from_millis(100),
            unread: BTreeSet::new(),
            read_timer: None,
            conns: BTreeMap::new(),
            refused_open: 0,
            watched: BTreeSet::new(),
            events: Vec::new(),
            timers: BTreeMap::new(),
            requests_served: 0,
            refused: 0,
            #[cfg(test)]
            publish_visits: 0,
            #[cfg(test)]
            bodies_received: Vec::new(),
        }
    }

    /// A slow reader: reads at most `bytes` (at least 1) of each
    /// connection every `interval` (at least
    /// [`SimDuration::MIN_INTERVAL`]), as the `sink` does, and leaves the
    /// rest in the socket's receive buffer.
    pub fn slow_reader(mut self, bytes: usize, interval: SimDuration) -> HttpServer {
        self.read_bytes = Some(bytes.max(1));
        self.read_interval = interval.as_interval();
        self
    }

    /// Serves at most `max` connections at once.
    pub fn max_connections(mut self, max: usize, when_full: WhenFull) -> HttpServer {
        self.max_connections = Some(max.max(1));
        self.when_full = when_full;
        self
    }

    /// Speaks HTTPS: each accepted connection starts with a TLS handshake.
    pub fn tls(mut self, tls: super::ServerTls) -> HttpServer {
        self.tls = Some(tls);
        self
    }

    /// Redirects plain HTTP to HTTPS and/or sends
    /// `Strict-Transport-Security` on every response.
    pub fn https_policy(mut self, policy: super::HttpsPolicy) -> HttpServer {
        self.https = policy;
        self
    }

    /// Overrides the host's listen backlog.
    pub fn backlog(mut self, backlog: usize) -> HttpServer {
        self.backlog = Some(backlog);
        self
    }

    /// Publishes `count` events, one every `every`, starting `every` after start.
    /// An interval shorter than [`SimDuration::MIN_INTERVAL`] is raised to it.
    pub fn publish_schedule(mut self, every: SimDuration, count: u64) -> HttpServer {
        self.publish_every = Some(every.as_interval());
        self.publish_count = count;
        self
    }

    /// Builds static bodies of up to `bytes` whole, and generates longer
    /// ones as the socket takes them (default [`WHOLE_BODY_MAX`]). The
    /// bytes on the wire do not depend on it; only the memory a long body
    /// takes does.
    pub fn whole_body_max(mut self, bytes: u64) -> HttpServer {
        self.whole_body_max = bytes;
        self
    }

    fn active(&self) -> usize {
        self.conns.len() - self.refused_open
    }

    fn accept_waiting(&mut self, cx: &mut AppContext<'_>) {
        loop {
            let full = self.max_connections.is_some_and(|m| self.active() >= m);
            if full && self.when_full == WhenFull::Wait {
                return;
            }
            let Some(sid) = cx.accept(self.port) else {
                return;
            };
            if let Some(tls) = &mut self.tls {
                tls.install(cx, sid);
            }
            let mut conn = Conn {
                http: HttpServerSide::new(self.config, cx.now()),
                held: Vec::new(),
                streams: Vec::new(),
                bodies: BTreeMap::new(),
                refused: full,
            };
            if full {
                self.refused += 1;
                cx.emit(
                    AppEvent::new(
                        "http.refused",
                        format!(
                            "server full ({} connections): this one gets 503",
                            self.active()
                        ),
                    )
                    .on(sid),
                );
                conn.refused = true;
            }
            if conn.refused {
                self.refused_open += 1;
            }
            self.conns.insert(sid, conn);
            // The request may already be waiting in the socket.
            self.read(cx, sid);
        }
    }

    fn read(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        if !self.conns.contains_key(&sid) {
            return;
        }
        if self.read_bytes.is_some() {
            // A slow reader leaves the bytes in the socket until its next
            // tick, so the receive window closes as they pile up.
            self.unread.insert(sid);
            self.arm_read(cx);
            return;
        }
        let input = read_all(cx, sid);
        self.take_input(cx, sid, input);
    }

    /// Arms the slow reader's tick if a connection may have bytes waiting.
    fn arm_read(&mut self, cx: &mut AppContext<'_>) {
        if self.read_timer.is_none() && !self.unread.is_empty() {
            let t = cx.set_timer(self.read_interval);
            self.read_timer = Some(t);
            self.timers.insert(t, Wake::Read);
        }
    }

    /// The slow reader's tick: up to `read_bytes` from each connection
    /// that may have bytes waiting, in socket order. A connection stays on
    /// the list while a read may have left bytes behind.
    fn read_slowly(&mut self, cx: &mut AppContext<'_>) {
        self.read_timer = None;
        let budget = self.read_bytes.unwrap_or(usize::MAX);
        let sids: Vec<SocketId> = self.unread.iter().copied().collect();
        for sid in sids {
            let input = read_at_most(cx, sid, budget);
            if input.data.len() < budget || input.eof || input.broken {
                self.unread.remove(&sid);
            }
            if self.conns.contains_key(&sid) {
                self.take_input(cx, sid, input);
            } else {
                self.unread.remove(&sid);
            }
        }
        self.arm_read(cx);
    }

    /// Hands what was read from a connection to its protocol and acts on it.
    fn take_input(&mut self, cx: &mut AppContext<'_>, sid: SocketId, input: Input) {
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        if input.broken {
            self.drop_conn(cx, sid);
            return;
        }
        conn.http.feed(cx.now(), &input);
        self.drive(cx, sid);
    }

    /// Handles the protocol's events, writes what it has to send, closes when
    /// it wants to, and keeps its deadline armed.
    fn drive(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        while let Some(event) = next_server_event(&mut self.conns, sid, |c| &mut c.http) {
            match event {
                ServerEvent::Request { id, request } => self.handle_request(cx, sid, id, request),
                ServerEvent::UpgradeRequested { id, request } => {
                    cx.emit(AppEvent::new("http.request", request_summary(&request)).on(sid));
                    let response = Response::new(501)
                        .with_body(b"this server does not switch protocols\n".to_vec());
                    self.respond(cx, sid, id, response);
                }
                ServerEvent::BadRequest { status, reason } => {
                    cx.emit(
                        AppEvent::new(
                            "http.bad-request",
                            format!("bad request: {status} ({reason}); closing"),
                        )
                        .on(sid)
                        .with("status", u64::from(status)),
                    );
                }
                ServerEvent::IdleTimeout => {
                    let idle = self.config.idle_timeout.unwrap_or(SimDuration::ZERO);
                    cx.emit(
                        AppEvent::new(
                            "http.idle-timeout",
                            format!("keep-alive connection idle for {idle}: the server closes it"),
                        )
                        .on(sid),
                    );
                }
                ServerEvent::PeerClosed => {
                    // A stream has no end of its own, and a client that has
                    // closed will read no more of it: like a real server
                    // noticing the disconnect, drop the stream and close,
                    // rather than sit in CLOSE-WAIT for ever (or send a last
                    // chunk that would only draw an RST).
                    if self.conns.get(&sid).is_some_and(|c| !c.streams.is_empty()) {
                        cx.emit(
                            AppEvent::new(
                                "http.stream-end",
                                "the client closed: the server drops the stream and closes",
                            )
                            .on(sid),
                        );
                        self.drop_conn(cx, sid);
                        return;
                    }
                }
            }
        }
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        // Long bodies are fed behind what the protocol already has to send,
        // as far as the send buffer has room.
        conn.http.proto.poll_transmit(&mut conn.http.out);
        feed_bodies(cx, sid, conn);
        let timers = &mut self.timers;
        let written = conn.http.write(cx, sid, |t| {
            timers.insert(t, Wake::Protocol(sid));
        });
        match written {
            Written::Open => {
                if conn.is_watched() {
                    self.watched.insert(sid);
                } else {
                    self.watched.remove(&sid);
                }
            }
            Written::Broken | Written::Finished => self.drop_conn(cx, sid),
        }
    }

    fn drop_conn(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        if let Some(conn) = self.conns.remove(&sid) {
            if conn.refused {
                self.refused_open -= 1;
            }
            self.watched.remove(&sid);
            self.unread.remove(&sid);
            let _ = cx.close(sid);
        }
        self.accept_waiting(cx);
    }

    fn handle_request(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        request: Request,
    ) {
        cx.emit(
            AppEvent::new("http.request", request_summary(&request))
                .on(sid)
                .with("method", request.method.as_str())
                .with("target", request.target.as_str())
                .with("bytes", request.body.len() as u64),
        );
        #[cfg(test)]
        self.bodies_received.push(request.body.clone());
        if self.conns.get(&sid).is_some_and(|c| c.refused) {
            let response = Response::new(503)
                .with_header("Connection", "close")
                .with_body(b"server is at its connection limit\n".to_vec());
            self.respond(cx, sid, id, response);
            return;
        }
        if let Some(response) = self.https.redirect(&request) {
            self.respond(cx, sid, id, response);
            return;
        }
        let (path, since) = split_target(&request.target);
        let since = since.unwrap_or(0);
        let route = self
            .routes
            .iter()
            .find(|r| r.path == path)
            .map(|r| r.kind.clone());
        match route {
            None => {
                let response =
                    Response::new(404).with_body(format!("no route for {path}\n").into_bytes());
                self.respond(cx, sid, id, response);
            }
            Some(RouteKind::Static {
                status,
                body_bytes,
                delay,
            }) => {
                if delay.is_zero() {
                    self.respond_static(cx, sid, id, status, body_bytes);
                } else {
                    let t = cx.set_timer(delay);
                    self.timers
                        .insert(t, Wake::Delayed(sid, id, status, body_bytes));
                }
            }
            Some(RouteKind::Poll) => {
                let body = self.events_after(since);
                self.respond(cx, sid, id, Response::text(200, body));
            }
            Some(RouteKind::LongPoll { timeout }) => {
                if (self.events.len() as u64) > since {
                    let body = self.events_after(since);
                    self.respond(cx, sid, id, Response::text(200, body));
                } else {
                    let t = cx.set_timer(timeout);
                    self.timers.insert(t, Wake::LongPollTimeout(sid, id));
                    if let Some(conn) = self.conns.get_mut(&sid) {
                        conn.held.push((id, since, t));
                    }
                    cx.emit(
                        AppEvent::new(
                            "http.hold",
                            format!(
                                "no event after #{since} yet: holding the request (up to {timeout})"
                            ),
                        )
                        .on(sid),
                    );
                }
            }
            Some(RouteKind::Stream) => {
                let mut headers = vec![
                    ("Content-Type".to_string(), "text/event-stream".to_string()),
                    ("Cache-Control".to_string(), "no-cache".to_string()),
                ];
                headers.extend(self.https.headers());
                let now = cx.now();
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return;
                };
                if conn.http.proto.start_stream(now, id, 200, &headers).is_ok() {
                    conn.streams.push(id);
                    self.requests_served += 1;
                    cx.emit(
                        AppEvent::new(
                            "http.stream-open",
                            "HTTP/1.1 200 OK, text/event-stream: the response stays open",
                        )
                        .on(sid),
                    );
                    for (n, t) in self.events.iter().enumerate().skip(since as usize) {
                        let chunk = sse_message(n as u64 + 1, *t);
                        let _ = conn.http.proto.send_chunk(now, id, chunk.as_bytes());
                    }
                }
            }
        }
    }

    fn events_after(&self, since: u64) -> Vec<u8> {
        let mut body = String::new();
        for (n, t) in self.events.iter().enumerate().skip(since as usize) {
            body.push_str(&event_line(n as u64 + 1, *t));
        }
        body.into_bytes()
    }

    fn respond(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        mut response: Response,
    ) {
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        response.headers.extend(self.https.headers());
        let summary = response.summary();
        let status = u64::from(response.status);
        if conn
            .http
            .proto
            .send_response(cx.now(), id, response)
            .is_ok()
        {
            self.requests_served += 1;
            cx.emit(
                AppEvent::new("http.reply", summary)
                    .on(sid)
                    .with("status", status),
            );
        }
    }

    /// Answers with `body_bytes` bytes of filler: whole when short, else
    /// generated as the socket takes it (see [`WHOLE_BODY_MAX`]).
    fn respond_static(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        status: u16,
        body_bytes: u64,
    ) {
        if body_bytes <= self.whole_body_max {
            let response = Response::new(status).with_body(filler(body_bytes as usize));
            self.respond(cx, sid, id, response);
            return;
        }
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        let now = cx.now();
        if conn
            .http
            .proto
            .start_sized_response(now, id, status, &self.https.headers(), body_bytes)
            .is_ok()
        {
            conn.bodies.insert(id, Filler::new(body_bytes));
            self.requests_served += 1;
            let summary = Response::summary_of(status, body_bytes);
            cx.emit(
                AppEvent::new("http.reply", summary)
                    .on(sid)
                    .with("status", u64::from(status)),
            );
        }
    }

    fn publish(&mut self, cx: &mut AppContext<'_>) {
        let now = cx.now();
        self.events.push(now.as_nanos());
        let id = self.events.len() as u64;
        cx.emit(AppEvent::new("http.publish", format!("event #{id} published")).with("id", id));
        // Only the watched connections: driving any other one would find
        // nothing to answer, write or arm (see `Conn::is_watched`).
        debug_assert!(
            self.conns
                .iter()
                .all(|(sid, c)| self.watched.contains(sid) == c.is_watched()),
            "the watched set is exact"
        );
        let sids: Vec<SocketId> = self.watched.iter().copied().collect();
        for sid in sids {
            let Some(conn) = self.conns.get_mut(&sid) else {
                continue;
            };
            #[cfg(test)]
            {
                self.publish_visits += 1;
            }
            let held = std::mem::take(&mut conn.held);
            let streams = conn.streams.clone();
            for (rid, since, timer) in held {
                cx.cancel_timer(timer);
                self.timers.remove(&timer);
                let body = self.events_after(since);
                self.respond(cx, sid, rid, Response::text(200, body));
            }
            if let Some(conn) = self.conns.get_mut(&sid) {
                for rid in streams {
                    let _ = conn.http.proto.send_chunk(
                        now,
                        rid,
                        sse_message(id, now.as_nanos()).as_bytes(),
                    );
                }
            }
            self.drive(cx, sid);
        }
    }
}

/// Moves long bodies into the connection's output until it holds more than
/// the socket can take now: the socket is filled as it would be with the
/// whole body waiting, and, with bytes left over, it reports `Writable`
/// when there is room again. Only the body of the response being written
/// is fed (responses go out in request order, and bodies may be started in
/// another), so nothing piles up behind a response not yet ready.
fn feed_bodies(cx: &mut AppContext<'_>, sid: SocketId, conn: &mut Conn) {
    if conn.bodies.is_empty() {
        return;
    }
    let now = cx.now();
    let room = cx.send_room(sid).unwrap_or(0);
    // Bodies of responses that need none (`HEAD`) or were dropped (the
    // connection is closing) are forgotten.
    let proto = &conn.http.proto;
    conn.bodies
        .retain(|id, body| !body.is_empty() && proto.stream_is_open(*id));
    while conn.http.out.len() <= room {
        let Some((&id, body)) = conn
            .bodies
            .iter_mut()
            .find(|(id, _)| conn.http.proto.is_sending(**id))
        else {
            return;
        };
        let piece = body.peek(BODY_PIECE);
        let sent = conn.http.proto.send_chunk(now, id, piece).is_ok();
        body.advance(piece.len() as u64);
        if !sent || body.is_empty() {
            conn.bodies.remove(&id);
        }
        conn.http.proto.poll_transmit(&mut conn.http.out);
    }
}

fn request_summary(request: &Request) -> String {
    let headers = notable_headers(&request.headers);
    if headers.is_empty() {
        request.summary()
    } else {
        format!("{} ({headers})", request.summary())
    }
}

impl App for HttpServer {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen_or_report(self.port, self.backlog, "http.listen-failed");
        if let Some(every) = self.publish_every
            && self.publish_count > 0
        {
            let t = cx.set_timer(every);
            self.timers.insert(t, Wake::Publish);
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Incoming { .. } => self.accept_waiting(cx),
            SocketEvent::Readable(sid) => self.read(cx, sid),
            SocketEvent::Writable(sid) => self.drive(cx, sid),
            SocketEvent::Closed(sid, _) => self.drop_conn(cx, sid),
            SocketEvent::Connected(_) | SocketEvent::ConnectFailed(..) => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        let Some(wake) = self.timers.remove(&timer) else {
            return;
        };
        match wake {
            Wake::Protocol(sid) => {
                if let Some(conn) = self.conns.get_mut(&sid) {
                    conn.http.on_timeout(cx.now());
                    self.drive(cx, sid);
                }
            }
            Wake::Delayed(sid, id, status, body_bytes) => {
                self.respond_static(cx, sid, id, status, body_bytes);
                self.drive(cx, sid);
            }
            Wake::LongPollTimeout(sid, id) => {
                if let Some(conn) = self.conns.get_mut(&sid) {
                    conn.held.retain(|(rid, _, _)| *rid != id);
                }
                cx.emit(
                    AppEvent::new(
                        "http.hold-timeout",
                        "long poll timed out with no event: 204",
                    )
                    .on(sid),
                );
                self.respond(cx, sid, id, Response::new(204));
                self.drive(cx, sid);
            }
            Wake::Publish => {
                self.publish(cx);
                if (self.events.len() as u64) < self.publish_count
                    && let Some(every) = self.publish_every
                {
                    let t = cx.set_timer(every);
                    self.timers.insert(t, Wake::Publish);
                }
            }
            Wake::Read => self.read_slowly(cx),
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        match command.verb.as_str() {
            "publish" => {
                for _ in 0..command.count.unwrap_or(1) {
                    self.publish(cx);
                }
            }
            "stop" => cx.unlisten(self.port),
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("http-server does not understand `{other}` (it knows publish, stop)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    //! What a publication costs.

    use super::*;
    use crate::apps::{HttpClient, HttpSubscriber, SubscribeMode};
    use simnet_core::{LinkParams, SimTime, WorldBuilder};
    use std::net::{Ipv4Addr, SocketAddrV4};

    /// Keep-alive clients that do not subscribe cost a publication
    /// nothing: it visits the one connection holding a long poll, not
    /// every connection.
    #[test]
    fn a_publication_visits_only_the_connections_it_can_change() {
        let mut b = WorldBuilder::new(1);
        let c = b.host("client", [10, 0, 0, 1].into());
        let s = b.host("server", [10, 0, 0, 2].into());
        b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(5)));
        let server = b.app(s, "http-server", || {
            let routes = vec![
                Route::ok("/", 10),
                Route {
                    path: "/events".into(),
                    kind: RouteKind::LongPoll {
                        timeout: SimDuration::from_secs(60),
                    },
                },
            ];
            let config = ServerConfig {
                idle_timeout: None,
                ..ServerConfig::default()
            };
            HttpServer::new(80, config, routes).publish_schedule(SimDuration::from_millis(500), 4)
        });
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        for _ in 0..5 {
            b.app(c, "keep-alive", move || {
                HttpClient::new(remote, "server", "/", 1).close_when_done(false)
            });
        }
        let sub = b.app(c, "subscriber", move || {
            HttpSubscriber::new(remote, "server", "/events", SubscribeMode::LongPoll, 10)
        });
        let mut world = b.build().expect("a valid world");
        world.run_until(SimTime::from_secs(3));
        assert_eq!(
            world.app::<HttpSubscriber>(sub).expect("sub").learned.len(),
            4
        );
        let server = world.app::<HttpServer>(server).expect("the server");
        assert_eq!(server.conns.len(), 6, "every connection is still open");
        // Four publications, each to the subscriber's connection alone
        // (a scan of every connection would make it 24).
        assert_eq!(server.publish_visits, 4);
    }

    /// What a 64 KiB POST to a server on an 8 KiB receive buffer did:
    /// (zero-window periods and window probes of the client's data, the
    /// statuses the client got, the bodies the server received).
    fn post_to(slow: bool) -> (usize, usize, Vec<u16>, Vec<Vec<u8>>) {
        use simnet_core::{HostConfig, analysis};
        let mut b = WorldBuilder::new(1);
        let c = b.host("client", [10, 0, 0, 1].into());
        let mut config = HostConfig::default();
        config.tcp.rx_buffer_bytes = 8 * 1024;
        let s = b.host_with("server", [10, 0, 0, 2].into(), config);
        b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(10)));
        let server = b.app(s, "http-server", move || {
            let server = HttpServer::new(80, ServerConfig::default(), vec![Route::ok("/up", 2)]);
            if slow {
                server.slow_reader(4 * 1024, SimDuration::from_secs(3))
            } else {
                server
            }
        });
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let client = b.app(c, "client", move || {
            HttpClient::new(remote, "server", "/up", 1).method("POST", 64 * 1024)
        });
        let mut world = b.build().expect("a valid world");
        world.run_until(SimTime::from_secs(60));
        let flows = analysis::analyze(world.trace());
        let conn = flows.connections.first().expect("one connection");
        let statuses = world
            .app::<HttpClient>(client)
            .expect("the client")
            .responses
            .iter()
            .map(|r| r.status)
            .collect();
        let bodies = world
            .app::<HttpServer>(server)
            .expect("the server")
            .bodies_received
            .clone();
        (
            conn.to_server.zero_window_periods(),
            conn.to_server.window_probes(),
            statuses,
            bodies,
        )
    }

    /// A slow-reading server leaves a large body in its receive buffer:
    /// the window closes, the client probes it, and the body still
    /// arrives whole and in order. Reading at once, the same POST never
    /// sees a closed window.
    #[test]
    fn a_slow_reader_closes_the_window_on_a_large_post_and_gets_it_whole() {
        let (zero_windows, probes, statuses, bodies) = post_to(true);
        assert!(zero_windows >= 3, "zero-window periods: {zero_windows}");
        assert!(probes >= 1, "window probes: {probes}");
        assert_eq!(statuses, vec![200]);
        assert_eq!(bodies, vec![filler(64 * 1024)]);

        let (zero_windows, probes, statuses, bodies) = post_to(false);
        assert_eq!((zero_windows, probes), (0, 0));
        assert_eq!(statuses, vec![200]);
        assert_eq!(bodies, vec![filler(64 * 1024)]);
    }
}

//! The HTTP client application.
//!
//! Sends `count` requests, either one after another (the next as soon as the
//! previous response arrives) or at a fixed interval, over persistent
//! connections (`keep-alive`) or one connection per request
//! (`Connection: close`). It can keep several connections at once, pipeline
//! requests on one connection, and retry an idempotent request on a new
//! connection when the server closes the old one under it. Every response is
//! reported with its latency and whether its connection was new or reused.
//!
//! An *attempt* is one connection a request was put on: written on it, or
//! waiting for it to open. A connection that is refused or reset before the
//! request was written costs an attempt (`connection reset by peer before
//! request 5 was sent: trying again on a new connection`) without a send; a
//! request lost after it was written is retried only if its method is
//! idempotent (`request 2 lost after it was sent (...): retrying on a new
//! connection`). Each retry says where the next attempt goes, and the
//! response reports `attempts`, `sends`, the `latency` from the first send
//! and the `total` time from the first attempt.

use super::{flush, notable_headers, read_all};
use crate::proto::{
    ClientConfig, ClientConn, ClientEvent, Request, RequestId, Response, SendRequestError, Version,
};
use simnet_core::apps::filler;
use simnet_core::{
    App, AppContext, AppEvent, Command, SimDuration, SimTime, SocketError, SocketEvent, SocketId,
    TimerId,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddrV4;

/// How requests use connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientMode {
    /// Persistent connections, reused while the server allows.
    KeepAlive,
    /// `Connection: close` on every request: one connection per request.
    Close,
}

/// One finished request, for tests and summaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseRecord {
    /// The request's number, from 1.
    pub index: u64,
    /// The status received.
    pub status: u16,
    /// From the first time the request was written to the complete response
    /// (the request's own round trip, retries after a send included).
    pub latency: SimDuration,
    /// From the request's first attempt (the `connect()` opened for it, or
    /// its write on an open connection) to the complete response: handshakes
    /// and attempts whose connection failed before the write included.
    pub total: SimDuration,
    /// Whether the connection had carried a request before.
    pub reused: bool,
    /// Connections the request was put on, the one that answered included.
    pub attempts: u32,
    /// How many of those attempts wrote the request.
    pub sends: u32,
}

/// A request gets at most this many attempts when `retry` is on.
pub const MAX_ATTEMPTS: u32 = 3;

/// An HTTP/1.1 client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    remote: SocketAddrV4,
    host: String,
    method: String,
    /// Request `i` (from 1) asks for `paths[(i - 1) % len]`.
    paths: Vec<String>,
    version: Version,
    body_bytes: usize,
    count: u64,
    interval: Option<SimDuration>,
    mode: ClientMode,
    connections: usize,
    pipeline: usize,
    retry: bool,
    close_when_done: bool,
    /// HTTPS: TLS on every connection.
    tls: Option<super::ClientTls>,
    issued: u64,
    queue: VecDeque<Pending>,
    conns: BTreeMap<SocketId, Conn>,
    /// What `slot` and `finished` need to know about `conns`, kept up to
    /// date connection by connection (see [`HttpClient::sync`]) so that
    /// neither scans every connection on every event.
    tally: Tally,
    tick: Option<TimerId>,
    /// Finished requests in completion order.
    pub responses: Vec<ResponseRecord>,
    /// Requests that failed for good.
    pub failures: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    index: u64,
    /// Connections it was put on so far (see [`ResponseRecord::attempts`]).
    attempts: u32,
    /// Times it was written.
    sends: u32,
    first_attempt: Option<SimTime>,
    first_sent: Option<SimTime>,
}

/// Where the next request goes.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// An open (or opening) connection with room for it.
    Open(SocketId),
    /// A connection opened for it.
    New,
}

#[derive(Clone, Debug)]
struct Conn {
    proto: ClientConn,
    out: Vec<u8>,
    connected: bool,
    /// Requests waiting for this connection to be established.
    waiting: Vec<Pending>,
    in_flight: VecDeque<(RequestId, Pending, bool)>,
    served: u64,
    /// The connection is over (end of stream, reset, or a malformed
    /// response): it takes no more requests and is closed.
    eof: bool,
    /// The protocol refused a request on it (it will close, or switched
    /// protocols): it takes no more requests, but may still be answering
    /// earlier ones.
    refused: bool,
    /// What this connection adds to the client's [`Tally`] now.
    counted: Counted,
    /// Its stream layer (TLS) failed: the requests it loses say so.
    layer_failed: bool,
}

/// What one connection adds to the [`Tally`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counted {
    /// Requests in flight on it or waiting for it to open.
    load: usize,
    /// It is not over (`!eof`).
    live: bool,
    /// A request could go on it now (see [`HttpClient::slot`]).
    open: bool,
}

/// Totals over all connections.
#[derive(Clone, Debug, Default)]
struct Tally {
    /// Requests in flight or waiting, on every connection.
    load: usize,
    /// Connections that are not over.
    live: usize,
    /// Connections a request could go on now, by socket id.
    open: BTreeSet<SocketId>,
}

impl HttpClient {
    /// A client that sends `count` GET requests for `path` to `remote`, one
    /// after another, over one persistent connection.
    pub fn new(remote: SocketAddrV4, host: &str, path: &str, count: u64) -> HttpClient {
        HttpClient {
            remote,
            host: host.to_string(),
            method: "GET".to_string(),
            paths: vec![path.to_string()],
            version: Version::Http11,
            body_bytes: 0,
            count,
            interval: None,
            mode: ClientMode::KeepAlive,
            connections: 1,
            pipeline: 1,
            retry: false,
            close_when_done: true,
            tls: None,
            issued: 0,
            queue: VecDeque::new(),
            conns: BTreeMap::new(),
            tally: Tally::default(),
            tick: None,
            responses: Vec::new(),
            failures: 0,
        }
    }

    /// Keep-alive or one connection per request.
    pub fn mode(mut self, mode: ClientMode) -> HttpClient {
        self.mode = mode;
        self
    }

    /// Sends a request every `interval` instead of after each response.
    pub fn interval(mut self, interval: SimDuration) -> HttpClient {
        self.interval = Some(interval).filter(|d| !d.is_zero());
        self
    }

    /// Asks for these paths in turn (request 1 the first, and so on, cycling).
    pub fn paths(mut self, paths: Vec<String>) -> HttpClient {
        if !paths.is_empty() {
            self.paths = paths;
        }
        self
    }

    /// Uses up to `n` connections at once.
    pub fn connections(mut self, n: usize) -> HttpClient {
        self.connections = n.max(1);
        self
    }

    /// Allows `depth` requests in flight on one connection (pipelining),
    /// at most [`ClientConfig::max_in_flight`] (16 by default), the most
    /// the protocol layer accepts.
    pub fn pipeline(mut self, depth: usize) -> HttpClient {
        self.pipeline = depth.clamp(1, ClientConfig::default().max_in_flight);
        self
    }

    /// Retries a request whose connection fails under it, up to
    /// [`MAX_ATTEMPTS`] attempts in all: always if the request was not yet
    /// written on that connection, and if it was, only when its method is
    /// idempotent (the server may have processed it).
    pub fn retry(mut self, retry: bool) -> HttpClient {
        self.retry = retry;
        self
    }

    /// Speaks HTTP/1.0 (connections close after each response by default).
    pub fn version(mut self, version: Version) -> HttpClient {
        self.version = version;
        self
    }

    /// The method and the size of the request body.
    pub fn method(mut self, method: &str, body_bytes: usize) -> HttpClient {
        self.method = method.to_string();
        self.body_bytes = body_bytes;
        self
    }

    /// Whether idle connections are closed once every request is answered
    /// (the client then holds TIME-WAIT); otherwise they stay open.
    pub fn close_when_done(mut self, close: bool) -> HttpClient {
        self.close_when_done = close;
        self
    }

    /// Speaks HTTPS: each connection starts TLS as soon as it is
    /// connected, and requests go through it.
    pub fn tls(mut self, tls: super::ClientTls) -> HttpClient {
        self.tls = Some(tls);
        self
    }

    fn issue(&mut self) {
        if self.issued < self.count {
            self.issued += 1;
            self.queue.push_back(Pending {
                index: self.issued,
                attempts: 0,
                sends: 0,
                first_attempt: None,
                first_sent: None,
            });
        }
    }

    fn finished(&self) -> bool {
        debug_assert_eq!(
            self.tally.load,
            self.conns
                .values()
                .map(|c| c.in_flight.len() + c.waiting.len())
                .sum::<usize>(),
            "the tally counts every request on a connection"
        );
        self.issued >= self.count && self.queue.is_empty() && self.tally.load == 0
    }

    /// What connection `c` adds to the tally as it is now.
    fn counted(&self, c: &Conn) -> Counted {
        let load = c.in_flight.len() + c.waiting.len();
        Counted {
            load,
            live: !c.eof,
            open: !c.eof && !c.refused && c.proto.keep_alive().reusable && load < self.pipeline,
        }
    }

    /// Brings the tally up to date with connection `sid` after a change to
    /// it: O(log n), whatever the number of connections.
    fn sync(&mut self, sid: SocketId) {
        let Some(c) = self.conns.get(&sid) else {
            return;
        };
        let now = self.counted(c);
        let before = c.counted;
        if now == before {
            return;
        }
        self.uncount(sid, before);
        self.tally.load += now.load;
        self.tally.live += usize::from(now.live);
        if now.open {
            self.tally.open.insert(sid);
        }
        if let Some(c) = self.conns.get_mut(&sid) {
            c.counted = now;
        }
    }

    fn uncount(&mut self, sid: SocketId, counted: Counted) {
        self.tally.load -= counted.load;
        self.tally.live -= usize::from(counted.live);
        if counted.open {
            self.tally.open.remove(&sid);
        }
    }

    /// Inserts a new connection and counts it.
    fn add(&mut self, sid: SocketId, conn: Conn) {
        self.conns.insert(sid, conn);
        self.sync(sid);
    }

    /// Removes a connection and its part of the tally.
    fn forget(&mut self, sid: SocketId) -> Option<Conn> {
        let conn = self.conns.remove(&sid)?;
        self.uncount(sid, conn.counted);
        Some(conn)
    }

    /// Where a request would go now, if anywhere: an open connection with
    /// room (keep-alive only), else a new one if under the limit. Connections
    /// that are over count for neither.
    fn slot(&self) -> Option<Slot> {
        debug_assert!(
            self.conns
                .iter()
                .all(|(sid, c)| self.counted(c) == c.counted
                    && self.tally.open.contains(sid) == c.counted.open),
            "the tally is up to date with every connection"
        );
        if self.mode == ClientMode::KeepAlive
            && let Some(&sid) = self.tally.open.first()
        {
            // The first open connection in socket order, as a scan would find.
            return Some(Slot::Open(sid));
        }
        (self.tally.live < self.connections).then_some(Slot::New)
    }

    /// How a retry message names a slot.
    fn describe(&self, slot: Option<Slot>) -> &'static str {
        match slot {
            None => "once a connection is free",
            Some(Slot::New) => "on a new connection",
            Some(Slot::Open(sid)) => match self.conns.get(&sid) {
                Some(c) if !c.connected => "on a connection being opened",
                Some(c) if c.served > 0 || !c.in_flight.is_empty() => "on a reused connection",
                _ => "on an open connection",
            },
        }
    }

    /// Puts queued requests on connections.
    fn dispatch(&mut self, cx: &mut AppContext<'_>) {
        while let Some(p) = self.queue.front().copied() {
            let Some(slot) = self.slot() else {
                return;
            };
            self.queue.pop_front();
            self.put(cx, p, slot);
        }
    }

    /// Starts an attempt: the request goes on `slot`.
    fn put(&mut self, cx: &mut AppContext<'_>, mut p: Pending, slot: Slot) {
        let now = cx.now();
        match slot {
            Slot::Open(sid) => {
                p.first_attempt.get_or_insert(now);
                let conn = self
                    .conns
                    .get_mut(&sid)
                    .expect("slot is a known connection");
                if conn.connected {
                    self.send(cx, sid, p, true);
                } else {
                    p.attempts += 1;
                    conn.waiting.push(p);
                    self.sync(sid);
                }
            }
            Slot::New => match cx.connect(self.remote) {
                Ok(sid) => {
                    p.first_attempt.get_or_insert(now);
                    p.attempts += 1;
                    self.add(
                        sid,
                        Conn {
                            proto: ClientConn::new(ClientConfig::default()),
                            out: Vec::new(),
                            connected: false,
                            waiting: vec![p],
                            in_flight: VecDeque::new(),
                            served: 0,
                            eof: false,
                            refused: false,
                            counted: Counted::default(),
                            layer_failed: false,
                        },
                    );
                }
                Err(e) => {
                    self.failures += 1;
                    cx.emit(
                        AppEvent::new(
                            "http.error",
                            format!("request {} failed: connect: {e}", p.index),
                        )
                        .with("index", p.index),
                    );
                    self.after_completion(cx);
                }
            },
        }
    }

    /// Writes `p` on the connected `sid`. A request that was waiting for
    /// `sid` to open already counted this attempt (`new_attempt` false); one
    /// put straight on an open connection counts it here.
    fn send(&mut self, cx: &mut AppContext<'_>, sid: SocketId, mut p: Pending, new_attempt: bool) {
        let now = cx.now();
        let path = &self.paths[((p.index - 1) % self.paths.len() as u64) as usize];
        let mut request = Request::get(&self.host, path).with_version(self.version);
        request.method = self.method.clone();
        if self.body_bytes > 0 {
            request = request.with_body(filler(self.body_bytes));
        }
        if self.mode == ClientMode::Close {
            request = request.with_header("Connection", "close");
        }
        let summary = request.summary();
        let conn = self
            .conns
            .get_mut(&sid)
            .expect("sending on a known connection");
        match conn.proto.send_request(now, request) {
            Ok(id) => {
                if new_attempt {
                    p.attempts += 1;
                }
                p.sends += 1;
                p.first_sent.get_or_insert(now);
                let reused = conn.served > 0 || !conn.in_flight.is_empty();
                conn.in_flight.push_back((id, p, reused));
                let how = if reused {
                    format!(
                        "on a reused connection ({} earlier on it)",
                        conn.served + conn.in_flight.len() as u64 - 1
                    )
                } else {
                    "on a new connection".to_string()
                };
                let retry = if p.attempts > 1 {
                    format!(", attempt {}", p.attempts)
                } else {
                    String::new()
                };
                cx.emit(
                    AppEvent::new(
                        "http.request-sent",
                        format!("request {}: {summary} {how}{retry}", p.index),
                    )
                    .on(sid)
                    .with("index", p.index)
                    .with("reused", reused)
                    .with("attempt", u64::from(p.attempts)),
                );
                conn.proto.poll_transmit(&mut conn.out);
                flush(cx, sid, &mut conn.out);
                self.sync(sid);
            }
            Err(
                e @ (SendRequestError::InvalidRequestLine | SendRequestError::InvalidHeader(_)),
            ) => {
                // The request itself cannot be written, on this connection
                // or any other: it fails now. Requeueing it would hand it
                // straight back to the same connection, at the same instant,
                // forever.
                self.failures += 1;
                let target = format!(
                    "{} {}",
                    self.method.escape_debug(),
                    self.paths[((p.index - 1) % self.paths.len() as u64) as usize].escape_debug()
                );
                cx.emit(
                    AppEvent::new(
                        "http.error",
                        format!(
                            "request {} failed: it cannot be sent: {e} (`{target}`)",
                            p.index
                        ),
                    )
                    .on(sid)
                    .with("index", p.index)
                    .with("attempts", u64::from(p.attempts))
                    .with("sent", false),
                );
                // A connection opened for this request alone has nothing
                // left to carry.
                if self.mode == ClientMode::Close
                    && conn.in_flight.is_empty()
                    && conn.waiting.is_empty()
                {
                    self.forget(sid);
                    let _ = cx.close(sid);
                }
                self.after_completion(cx);
            }
            Err(e) => {
                // The connection cannot take it (the server said close): try
                // another. That was no attempt. The connection is marked so
                // that `slot` never offers it again: each refusal removes a
                // candidate, so `dispatch` always ends.
                if !new_attempt {
                    p.attempts -= 1;
                }
                conn.refused = true;
                cx.emit(
                    AppEvent::new(
                        "http.requeue",
                        format!("request {} cannot use this connection: {e}", p.index),
                    )
                    .on(sid),
                );
                self.sync(sid);
                self.queue.push_front(p);
            }
        }
    }

    fn read(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        let input = read_all(cx, sid);
        if !input.data.is_empty() {
            conn.proto.handle_input(cx.now(), &input.data);
        }
        if input.eof || input.broken {
            conn.eof = true;
            conn.layer_failed |= input.error == Some(SocketError::LayerFailed);
            conn.proto.handle_eof(cx.now());
        }
        self.sync(sid);
        self.handle_events(cx, sid);
    }

    fn handle_events(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        // A malformed response ends the connection (`Error`, then
        // `ConnectionClosed`): the requests it loses are reported with what
        // was malformed, not as if the server had simply closed.
        let mut malformed: Option<String> = None;
        // Until the events run out or the connection is gone (closed by
        // `ConnectionClosed`).
        while let Some(event) = self
            .conns
            .get_mut(&sid)
            .and_then(|conn| conn.proto.poll_event())
        {
            match event {
                ClientEvent::Response { id, response } => self.on_response(cx, sid, id, response),
                ClientEvent::ConnectionClosed { unanswered } => {
                    // The connection is over: close our side, then retry
                    // what it left unanswered.
                    let conn = self.forget(sid).expect("checked above");
                    let _ = cx.close(sid);
                    let sent = conn
                        .in_flight
                        .iter()
                        .filter(|(id, _, _)| unanswered.contains(id))
                        .map(|(_, p, _)| (*p, true));
                    let unsent = conn.waiting.iter().map(|p| (*p, false));
                    let lost: Vec<(Pending, bool)> = sent.chain(unsent).collect();
                    let why = match &malformed {
                        Some(reason) => format!("malformed response: {reason}"),
                        // `tls.failed` in the trace says why.
                        None if conn.layer_failed => "TLS failed".to_string(),
                        None => "the server closed the connection".to_string(),
                    };
                    self.lose(cx, sid, lost, &why);
                }
                ClientEvent::Error { reason } => {
                    cx.emit(
                        AppEvent::new("http.error", format!("malformed response: {reason}"))
                            .on(sid)
                            .with("malformed", reason.clone()),
                    );
                    malformed = Some(reason);
                }
                ClientEvent::ResponseHead { .. }
                | ClientEvent::BodyChunk { .. }
                | ClientEvent::Upgraded { .. } => {}
            }
        }
        if self.conns.get(&sid).is_some_and(|c| c.eof) {
            // The server closed (or reset) the connection: close our side too.
            let _ = cx.close(sid);
            self.forget(sid);
        }
        self.sync(sid);
        self.dispatch(cx);
        self.maybe_finish(cx);
    }

    fn on_response(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        id: RequestId,
        response: Response,
    ) {
        let now = cx.now();
        let conn = self
            .conns
            .get_mut(&sid)
            .expect("a response on a known connection");
        let Some(pos) = conn.in_flight.iter().position(|(rid, _, _)| *rid == id) else {
            return;
        };
        let (_, p, reused) = conn.in_flight.remove(pos).expect("position is valid");
        conn.served += 1;
        self.sync(sid);
        let latency = now - p.first_sent.unwrap_or(now);
        let total = now - p.first_attempt.unwrap_or(now);
        let headers = notable_headers(&response.headers);
        let mut summary = format!("response {}: {} in {latency}", p.index, response.summary());
        if p.attempts > 1 {
            summary.push_str(&format!(
                ", {total} after its first attempt ({} attempts, {} of them sent)",
                p.attempts, p.sends
            ));
        }
        if !headers.is_empty() {
            summary.push_str(&format!(" [{headers}]"));
        }
        cx.emit(
            AppEvent::new("http.response", summary)
                .on(sid)
                .with("index", p.index)
                .with("status", u64::from(response.status))
                .with("latency", latency)
                .with("reused", reused)
                .with("bytes", response.body.len())
                .with("attempts", u64::from(p.attempts))
                .with("sends", u64::from(p.sends))
                .with("total", total),
        );
        self.responses.push(ResponseRecord {
            index: p.index,
            status: response.status,
            latency,
            total,
            reused,
            attempts: p.attempts,
            sends: p.sends,
        });
        self.after_completion(cx);
    }

    /// Requests whose connection `sid` failed: each `(request, written)`
    /// (whether it had been written on `sid`) is retried or fails. `sid` must
    /// already be gone, so that it is not chosen again.
    fn lose(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        lost: Vec<(Pending, bool)>,
        why: &str,
    ) {
        let idempotent = matches!(
            self.method.as_str(),
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS"
        );
        // Retried requests go first, in their order, ahead of any queued.
        let mut later: Vec<Pending> = Vec::new();
        for (p, written) in lost {
            let what = if written {
                format!("request {} lost after it was sent ({why})", p.index)
            } else {
                format!("{why} before request {} was sent", p.index)
            };
            let retry = self.retry && (idempotent || !written) && p.attempts < MAX_ATTEMPTS;
            if !retry {
                self.failures += 1;
                let why = if written {
                    why.to_string()
                } else {
                    format!("{why} before it was sent")
                };
                cx.emit(
                    AppEvent::new("http.error", format!("request {} failed: {why}", p.index))
                        .on(sid)
                        .with("index", p.index)
                        .with("attempts", u64::from(p.attempts))
                        .with("sent", written)
                        .with("reason", why.clone()),
                );
                self.after_completion(cx);
                continue;
            }
            let slot = if later.is_empty() { self.slot() } else { None };
            let verb = if written { "retrying" } else { "trying again" };
            cx.emit(
                AppEvent::new(
                    "http.retry",
                    format!("{what}: {verb} {}", self.describe(slot)),
                )
                .on(sid)
                .with("index", p.index)
                .with("sent", written)
                .with("attempt", u64::from(p.attempts + 1)),
            );
            match slot {
                Some(slot) => self.put(cx, p, slot),
                None => later.push(p),
            }
        }
        for p in later.into_iter().rev() {
            self.queue.push_front(p);
        }
    }

    fn after_completion(&mut self, _cx: &mut AppContext<'_>) {
        if self.interval.is_none() {
            self.issue();
        }
    }

    fn maybe_finish(&mut self, cx: &mut AppContext<'_>) {
        if !self.finished() || !self.close_when_done {
            return;
        }
        let idle: Vec<SocketId> = self.conns.keys().copied().collect();
        for sid in idle {
            self.forget(sid);
            let _ = cx.close(sid);
        }
    }
}

impl App for HttpClient {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        match self.interval {
            None => {
                for _ in 0..self.connections.max(self.pipeline) {
                    self.issue();
                }
            }
            Some(every) => {
                self.issue();
                self.tick = Some(cx.set_timer(every));
            }
        }
        self.dispatch(cx);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Connected(sid) => {
                if !self.conns.contains_key(&sid) {
                    return;
                }
                if let Some(tls) = &mut self.tls {
                    tls.install(cx, sid);
                }
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return;
                };
                conn.connected = true;
                let waiting = std::mem::take(&mut conn.waiting);
                self.sync(sid);
                for p in waiting {
                    self.send(cx, sid, p, false);
                }
                self.dispatch(cx);
                // Every request may have failed without being sent.
                self.maybe_finish(cx);
            }
            SocketEvent::Readable(sid) => self.read(cx, sid),
            SocketEvent::Writable(sid) => {
                if let Some(conn) = self.conns.get_mut(&sid) {
                    flush(cx, sid, &mut conn.out);
                }
            }
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason) => {
                let lost: Vec<(Pending, bool)> = match self.forget(sid) {
                    Some(conn) => {
                        let sent = conn.in_flight.iter().map(|(_, p, _)| (*p, true));
                        let unsent = conn.waiting.iter().map(|p| (*p, false));
                        sent.chain(unsent).collect()
                    }
                    None => Vec::new(),
                };
                let _ = cx.close(sid);
                self.lose(cx, sid, lost, &format!("connection {reason}"));
                self.dispatch(cx);
                self.maybe_finish(cx);
            }
            SocketEvent::Incoming { .. } => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if self.tick == Some(timer) {
            self.issue();
            self.tick = None;
            if self.issued < self.count
                && let Some(every) = self.interval
            {
                self.tick = Some(cx.set_timer(every));
            }
            self.dispatch(cx);
            self.maybe_finish(cx);
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        match command.verb.as_str() {
            // One more request now.
            "request" => {
                self.count += command.count.unwrap_or(1);
                for _ in 0..command.count.unwrap_or(1) {
                    self.issue();
                }
                self.dispatch(cx);
            }
            "close" => {
                let all: Vec<SocketId> = self.conns.keys().copied().collect();
                for sid in all {
                    self.forget(sid);
                    let _ = cx.close(sid);
                }
            }
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("http-client does not understand `{other}` (it knows request, close)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The tally that spares `slot` and `finished` a scan.

    use super::*;
    use crate::apps::{HttpServer, Route};
    use crate::proto::ServerConfig;
    use simnet_core::{LinkParams, WorldBuilder};
    use std::net::Ipv4Addr;

    /// Several pipelined connections that the server closes every three
    /// requests: connections open, fill, refuse and end all the time. The
    /// debug assertions in `slot` and `finished` compare the tally with a
    /// scan on every call; every request is answered, and the tally ends
    /// empty.
    #[test]
    fn the_tally_follows_connections_that_fill_refuse_and_close() {
        let mut b = WorldBuilder::new(1);
        let c = b.host("client", [10, 0, 0, 1].into());
        let s = b.host("server", [10, 0, 0, 2].into());
        b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(5)));
        b.app(s, "http-server", || {
            let route = Route::ok("/", 100);
            let config = ServerConfig {
                max_requests: Some(3),
                ..ServerConfig::default()
            };
            HttpServer::new(80, config, vec![route])
        });
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let id = b.app(c, "client", move || {
            HttpClient::new(remote, "server", "/", 60)
                .connections(5)
                .pipeline(2)
                .retry(true)
        });
        let mut world = b.build().expect("a valid world");
        world.run_until(SimTime::from_secs(10));
        let client = world.app::<HttpClient>(id).expect("the client");
        assert_eq!(client.responses.len(), 60);
        assert_eq!(client.failures, 0);
        assert_eq!(client.tally.load, 0);
        assert!(client.conns.is_empty(), "closed when done");
        assert_eq!(client.tally.live, 0);
        assert!(client.tally.open.is_empty());
    }
}

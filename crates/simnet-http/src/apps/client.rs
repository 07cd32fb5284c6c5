//! The HTTP client application.
//!
//! Sends `count` requests, either one after another (the next as soon as the
//! previous response arrives) or at a fixed interval, over persistent
//! connections (`keep-alive`) or one connection per request
//! (`Connection: close`). It can keep several connections at once, pipeline
//! requests on one connection, and retry an idempotent request on a new
//! connection when the server closes the old one under it. Every response is
//! reported with its latency and whether its connection was new or reused.

use super::{flush, notable_headers, read_all};
use crate::proto::{ClientConfig, ClientConn, ClientEvent, Request, RequestId, Response, Version};
use simnet_core::apps::filler;
use simnet_core::{
    App, AppContext, AppEvent, Command, SimDuration, SimTime, SocketEvent, SocketId, TimerId,
};
use std::collections::{BTreeMap, VecDeque};
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
    /// From sending the first attempt to the complete response.
    pub latency: SimDuration,
    /// Whether the connection had carried a request before.
    pub reused: bool,
    /// Attempts it took.
    pub attempts: u32,
}

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
    issued: u64,
    queue: VecDeque<Pending>,
    conns: BTreeMap<SocketId, Conn>,
    tick: Option<TimerId>,
    /// Finished requests in completion order.
    pub responses: Vec<ResponseRecord>,
    /// Requests that failed for good.
    pub failures: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    index: u64,
    attempts: u32,
    first_sent: Option<SimTime>,
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
    eof: bool,
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
            issued: 0,
            queue: VecDeque::new(),
            conns: BTreeMap::new(),
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

    /// Allows `depth` requests in flight on one connection (pipelining).
    pub fn pipeline(mut self, depth: usize) -> HttpClient {
        self.pipeline = depth.max(1);
        self
    }

    /// Retries idempotent requests once their connection closes under them.
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

    fn issue(&mut self) {
        if self.issued < self.count {
            self.issued += 1;
            self.queue.push_back(Pending {
                index: self.issued,
                attempts: 0,
                first_sent: None,
            });
        }
    }

    fn finished(&self) -> bool {
        self.issued >= self.count
            && self.queue.is_empty()
            && self
                .conns
                .values()
                .all(|c| c.in_flight.is_empty() && c.waiting.is_empty())
    }

    /// Puts queued requests on connections.
    fn dispatch(&mut self, cx: &mut AppContext<'_>) {
        while let Some(p) = self.queue.front().copied() {
            let reuse = self.mode == ClientMode::KeepAlive;
            let open = self.conns.iter().find(|(_, c)| {
                reuse
                    && !c.eof
                    && c.proto.keep_alive().reusable
                    && (c.in_flight.len() + c.waiting.len()) < self.pipeline
            });
            if let Some((&sid, _)) = open {
                self.queue.pop_front();
                let conn = self.conns.get_mut(&sid).expect("found above");
                if conn.connected {
                    self.send(cx, sid, p);
                } else {
                    conn.waiting.push(p);
                }
                continue;
            }
            if self.conns.len() >= self.connections {
                return;
            }
            match cx.connect(self.remote) {
                Ok(sid) => {
                    self.queue.pop_front();
                    self.conns.insert(
                        sid,
                        Conn {
                            proto: ClientConn::new(ClientConfig::default()),
                            out: Vec::new(),
                            connected: false,
                            waiting: vec![p],
                            in_flight: VecDeque::new(),
                            served: 0,
                            eof: false,
                        },
                    );
                }
                Err(e) => {
                    self.queue.pop_front();
                    self.failures += 1;
                    cx.emit(AppEvent::new(
                        "http.error",
                        format!("request {} failed: connect: {e}", p.index),
                    ));
                    self.after_completion(cx);
                }
            }
        }
    }

    fn send(&mut self, cx: &mut AppContext<'_>, sid: SocketId, mut p: Pending) {
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
                p.attempts += 1;
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
                    .with("reused", reused),
                );
                conn.proto.poll_transmit(&mut conn.out);
                flush(cx, sid, &mut conn.out);
            }
            Err(e) => {
                // The connection cannot take it (the server said close): try another.
                cx.emit(
                    AppEvent::new(
                        "http.requeue",
                        format!("request {} cannot use this connection: {e}", p.index),
                    )
                    .on(sid),
                );
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
            conn.proto.handle_eof(cx.now());
        }
        self.handle_events(cx, sid);
    }

    fn handle_events(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        loop {
            let Some(conn) = self.conns.get_mut(&sid) else {
                return;
            };
            let Some(event) = conn.proto.poll_event() else {
                break;
            };
            match event {
                ClientEvent::Response { id, response } => self.on_response(cx, sid, id, response),
                ClientEvent::ConnectionClosed { unanswered } => {
                    let lost: Vec<Pending> = {
                        let conn = self.conns.get_mut(&sid).expect("checked above");
                        conn.in_flight
                            .iter()
                            .filter(|(id, _, _)| unanswered.contains(id))
                            .map(|(_, p, _)| *p)
                            .collect()
                    };
                    self.lose(cx, sid, lost, "the server closed the connection");
                }
                ClientEvent::Error { reason } => {
                    cx.emit(
                        AppEvent::new("http.error", format!("malformed response: {reason}"))
                            .on(sid),
                    );
                }
                ClientEvent::ResponseHead { .. }
                | ClientEvent::BodyChunk { .. }
                | ClientEvent::Upgraded { .. } => {}
            }
        }
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        if conn.eof {
            // The server closed (or reset) the connection: close our side too.
            let _ = cx.close(sid);
            self.conns.remove(&sid);
        }
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
        let latency = now - p.first_sent.unwrap_or(now);
        let headers = notable_headers(&response.headers);
        let mut summary = format!("response {}: {} in {latency}", p.index, response.summary());
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
                .with("attempts", u64::from(p.attempts)),
        );
        self.responses.push(ResponseRecord {
            index: p.index,
            status: response.status,
            latency,
            reused,
            attempts: p.attempts,
        });
        self.after_completion(cx);
    }

    /// Requests that lost their connection: retried or failed.
    fn lose(&mut self, cx: &mut AppContext<'_>, sid: SocketId, lost: Vec<Pending>, why: &str) {
        if let Some(conn) = self.conns.get_mut(&sid) {
            conn.in_flight.clear();
            let waiting = std::mem::take(&mut conn.waiting);
            for p in waiting.into_iter().rev() {
                self.queue.push_front(p);
            }
        }
        let idempotent = matches!(
            self.method.as_str(),
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS"
        );
        for p in lost.into_iter().rev() {
            if self.retry && idempotent && p.attempts < 3 {
                cx.emit(
                    AppEvent::new(
                        "http.retry",
                        format!(
                            "request {} lost ({why}): retrying on a new connection",
                            p.index
                        ),
                    )
                    .on(sid)
                    .with("index", p.index),
                );
                self.queue.push_front(p);
            } else {
                self.failures += 1;
                cx.emit(
                    AppEvent::new("http.error", format!("request {} failed: {why}", p.index))
                        .on(sid)
                        .with("index", p.index),
                );
                self.after_completion(cx);
            }
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
            self.conns.remove(&sid);
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
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return;
                };
                conn.connected = true;
                let waiting = std::mem::take(&mut conn.waiting);
                for p in waiting {
                    self.send(cx, sid, p);
                }
                self.dispatch(cx);
            }
            SocketEvent::Readable(sid) => self.read(cx, sid),
            SocketEvent::Writable(sid) => {
                if let Some(conn) = self.conns.get_mut(&sid) {
                    flush(cx, sid, &mut conn.out);
                }
            }
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason) => {
                let lost: Vec<Pending> = match self.conns.get_mut(&sid) {
                    Some(conn) => {
                        let mut l: Vec<Pending> =
                            conn.in_flight.iter().map(|(_, p, _)| *p).collect();
                        l.append(&mut conn.waiting);
                        l
                    }
                    None => Vec::new(),
                };
                self.lose(cx, sid, lost, &format!("connection {reason}"));
                self.conns.remove(&sid);
                let _ = cx.close(sid);
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
                    self.conns.remove(&sid);
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

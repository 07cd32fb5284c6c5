//! Real time over HTTP: a client that learns about server-side events by
//! polling, long polling or reading a stream.
//!
//! Each event the server publishes carries its publication time, so the
//! subscriber reports, per event, how long after publication it learned
//! about it (`http.event`, fields `latency` and `bytes`, the length of the
//! event's own text). Together with the bytes each link carried, that is
//! the cost of each technique.

use super::{HttpClientSide, event_learned};
use crate::proto::sse::parse_events;
use crate::proto::{ClientConfig, ClientEvent, Request, SendRequestError};
use simnet_core::{
    App, AppContext, AppEvent, SimDuration, SimTime, SocketEvent, SocketId, TimerId,
};
use std::collections::BTreeSet;
use std::net::SocketAddrV4;

/// How the subscriber asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeMode {
    /// A GET every `interval`, answered at once with whatever is new.
    Poll {
        /// Time between requests.
        interval: SimDuration,
    },
    /// A GET that the server holds until there is news; a new one at once
    /// after each answer.
    LongPoll,
    /// One GET whose response never ends; every event is one chunk.
    Stream,
}

impl SubscribeMode {
    fn name(self) -> &'static str {
        match self {
            SubscribeMode::Poll { .. } => "polling",
            SubscribeMode::LongPoll => "long polling",
            SubscribeMode::Stream => "streaming",
        }
    }
}

/// Subscribes to a server's events.
#[derive(Clone, Debug)]
pub struct HttpSubscriber {
    remote: SocketAddrV4,
    host: String,
    path: String,
    mode: SubscribeMode,
    stop_after: u64,
    conn: Option<HttpClientSide>,
    /// Highest event id seen.
    since: u64,
    seen: BTreeSet<u64>,
    next_poll: Option<(TimerId, SimTime)>,
    last_sent: Option<SimTime>,
    done: bool,
    /// Requests sent.
    pub requests: u64,
    /// (event id, delivery latency) in the order learned.
    pub learned: Vec<(u64, SimDuration)>,
}

impl HttpSubscriber {
    /// Subscribes to `path` on `remote` and stops after `stop_after` events.
    pub fn new(
        remote: SocketAddrV4,
        host: &str,
        path: &str,
        mode: SubscribeMode,
        stop_after: u64,
    ) -> HttpSubscriber {
        HttpSubscriber {
            remote,
            host: host.to_string(),
            path: path.to_string(),
            mode,
            stop_after,
            conn: None,
            since: 0,
            seen: BTreeSet::new(),
            next_poll: None,
            last_sent: None,
            done: false,
            requests: 0,
            learned: Vec::new(),
        }
    }

    /// Sends the next request, opening a connection first if needed.
    fn request(&mut self, cx: &mut AppContext<'_>) {
        if self.done {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            match HttpClientSide::connect(cx, self.remote, ClientConfig::default()) {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => cx.emit(AppEvent::new(
                    "http.error",
                    format!("subscriber cannot connect: {e}"),
                )),
            }
            return;
        };
        if !conn.is_ready() {
            return;
        }
        let target = format!("{}?since={}", self.path, self.since);
        match conn.send(cx, Request::get(&self.host, &target)) {
            Ok(_) => {
                self.requests += 1;
                self.last_sent = Some(cx.now());
            }
            Err(
                e @ (SendRequestError::InvalidRequestLine | SendRequestError::InvalidHeader(_)),
            ) => {
                // No connection could carry this request: stop, rather than
                // open one connection after another to be refused each time.
                let sid = conn.sid;
                self.conn = None;
                self.done = true;
                let _ = cx.close(sid);
                cx.emit(AppEvent::new(
                    "http.error",
                    format!(
                        "subscriber stops: its request `GET {}` cannot be sent: {e}",
                        target.escape_debug()
                    ),
                ));
            }
            Err(_) => {
                // The server announced it will close this connection: use a new one.
                let sid = conn.sid;
                self.conn = None;
                let _ = cx.close(sid);
                self.request(cx);
            }
        }
    }

    fn learn(&mut self, cx: &mut AppContext<'_>, sid: SocketId, body: &[u8]) {
        for (id, published, len) in parse_events(body) {
            if !self.seen.insert(id) {
                continue;
            }
            self.since = self.since.max(id);
            let latency = cx.now() - SimTime::from_nanos(published);
            self.learned.push((id, latency));
            let mode = self.mode.name();
            cx.emit(event_learned("http.event", sid, id, latency, mode, len));
        }
        if self.learned.len() as u64 >= self.stop_after && !self.done {
            self.done = true;
            cx.emit(AppEvent::new(
                "http.subscriber-done",
                format!("all {} events received: closing", self.stop_after),
            ));
            if let Some(conn) = self.conn.take() {
                let _ = cx.close(conn.sid);
            }
            if let Some((t, _)) = self.next_poll.take() {
                cx.cancel_timer(t);
            }
        }
    }

    fn schedule_next(&mut self, cx: &mut AppContext<'_>) {
        match self.mode {
            SubscribeMode::Poll { interval } => {
                if self.next_poll.is_none() && !self.done {
                    let at = self
                        .last_sent
                        .map_or(cx.now(), |t| t + interval)
                        .max(cx.now());
                    let t = cx.set_timer_at(at);
                    self.next_poll = Some((t, at));
                }
            }
            SubscribeMode::LongPoll => self.request(cx),
            SubscribeMode::Stream => {}
        }
    }

    fn read(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let Some(conn) = self.conn.as_mut().filter(|c| c.sid == sid) else {
            return;
        };
        let eof = conn.read(cx);
        let mut answered = false;
        while let Some(event) = self.conn.as_mut().and_then(HttpClientSide::poll_event) {
            match event {
                ClientEvent::BodyChunk { data, .. } if self.mode == SubscribeMode::Stream => {
                    self.learn(cx, sid, &data)
                }
                ClientEvent::Response { response, .. } => {
                    if self.mode != SubscribeMode::Stream {
                        self.learn(cx, sid, &response.body);
                    }
                    answered = true;
                }
                ClientEvent::Error { reason } => {
                    cx.emit(AppEvent::new("http.error", reason).on(sid))
                }
                _ => {}
            }
        }
        if eof && let Some(conn) = self.conn.take() {
            let _ = cx.close(conn.sid);
            if !self.done {
                cx.emit(
                    AppEvent::new(
                        "http.reconnect",
                        "the server closed the connection: reconnecting",
                    )
                    .on(sid),
                );
                answered = true;
            }
        }
        if answered && !self.done {
            if self.mode == SubscribeMode::Stream && self.conn.is_none() {
                self.request(cx);
            } else {
                self.schedule_next(cx);
            }
        }
    }
}

impl App for HttpSubscriber {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.request(cx);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Connected(sid) => {
                if let Some(conn) = self.conn.as_mut().filter(|c| c.sid == sid) {
                    conn.on_connected();
                    self.request(cx);
                }
            }
            SocketEvent::Readable(sid) => self.read(cx, sid),
            SocketEvent::Writable(sid) => {
                if let Some(conn) = self.conn.as_mut().filter(|c| c.sid == sid) {
                    conn.flush(cx);
                }
            }
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason) => {
                if self.conn.as_ref().is_some_and(|c| c.sid == sid) {
                    self.conn = None;
                    let _ = cx.close(sid);
                    cx.emit(
                        AppEvent::new("http.error", format!("subscription connection {reason}"))
                            .on(sid),
                    );
                }
            }
            SocketEvent::Incoming { .. } => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if self.next_poll.is_some_and(|(t, _)| t == timer) {
            self.next_poll = None;
            self.request(cx);
        }
    }
}

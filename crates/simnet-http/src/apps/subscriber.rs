//! Real time over HTTP: a client that learns about server-side events by
//! polling, long polling or reading a stream.
//!
//! Each event the server publishes carries its publication time, so the
//! subscriber reports, per event, how long after publication it learned
//! about it (`http.event`, fields `latency` and `bytes`, the length of the
//! event's own text). Together with the bytes each link carried, that is
//! the cost of each technique.
//!
//! Like a real long-polling client, it does not give up when a connection
//! fails (refused, reset, timed out, closed before any answer, or answered
//! with an error status): it reports the failure (`http.error`), waits, and
//! subscribes again from the last event it learned of
//! (`http.resubscribe`, fields `attempt` and `delay`). The waits double
//! from `retry_after` up to `retry_max` ([`Backoff`]), with no randomness,
//! and the first good answer resets them; so a dead server costs one
//! connection attempt per `retry_max` at most, and the subscriber holds
//! one connection and one timer, never a queue of attempts.

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

/// How long a subscriber waits before it tries again after a failure:
/// `first` after the first failure in a row, then twice as long after each
/// further one, never longer than `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: SimDuration,
    /// The longest wait.
    pub max: SimDuration,
}

impl Backoff {
    /// 1 s, doubling up to 30 s.
    pub const DEFAULT: Backoff = Backoff {
        first: SimDuration::from_secs(1),
        max: SimDuration::from_secs(30),
    };

    /// The wait after `failures` failures in a row (from 1).
    pub fn delay(self, failures: u32) -> SimDuration {
        let mut d = self.first.min(self.max);
        for _ in 1..failures {
            if d >= self.max {
                break;
            }
            d = (d + d).min(self.max);
        }
        d
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::DEFAULT
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
    backoff: Backoff,
    /// Failures since the last good answer.
    failures: u32,
    /// The wait before the next attempt, after a failure.
    retry: Option<TimerId>,
    /// The current connection has brought a good answer (or opened a stream).
    conn_ok: bool,
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
            backoff: Backoff::DEFAULT,
            failures: 0,
            retry: None,
            conn_ok: false,
            requests: 0,
            learned: Vec::new(),
        }
    }

    /// Waits `backoff` after a failure before trying again (see
    /// [`Backoff`]).
    pub fn backoff(mut self, backoff: Backoff) -> HttpSubscriber {
        self.backoff = backoff;
        self
    }

    /// Failures since the last good answer.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Sends the next request, opening a connection first if needed.
    fn request(&mut self, cx: &mut AppContext<'_>) {
        if self.done || self.retry.is_some() {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            match HttpClientSide::connect(cx, self.remote, ClientConfig::default()) {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.conn_ok = false;
                }
                Err(e) => self.fail(cx, None, format!("subscriber cannot connect: {e}")),
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

    /// The connection (if any) failed: reports it, drops it, and tries
    /// again after the back-off.
    fn fail(&mut self, cx: &mut AppContext<'_>, sid: Option<SocketId>, reason: String) {
        if let Some(conn) = self.conn.take() {
            let _ = cx.close(conn.sid);
        }
        self.conn_ok = false;
        let mut error = AppEvent::new("http.error", reason.clone()).with("reason", reason);
        if let Some(sid) = sid {
            error = error.on(sid);
        }
        cx.emit(error);
        if self.done || self.retry.is_some() {
            return;
        }
        if let Some((t, _)) = self.next_poll.take() {
            cx.cancel_timer(t);
        }
        self.failures = self.failures.saturating_add(1);
        let delay = self.backoff.delay(self.failures);
        let mut event = AppEvent::new(
            "http.resubscribe",
            format!(
                "subscribing again in {delay} (attempt {}), from event #{}",
                self.failures + 1,
                self.since
            ),
        )
        .with("attempt", u64::from(self.failures) + 1)
        .with("delay", delay);
        if let Some(sid) = sid {
            event = event.on(sid);
        }
        cx.emit(event);
        self.retry = Some(cx.set_timer(delay));
    }

    /// A good answer came on the current connection: the back-off starts
    /// again from `retry_after`.
    fn succeeded(&mut self) {
        self.conn_ok = true;
        self.failures = 0;
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
                ClientEvent::ResponseHead { status, .. }
                    if self.mode == SubscribeMode::Stream && is_good(status) =>
                {
                    self.succeeded()
                }
                ClientEvent::BodyChunk { data, .. } if self.mode == SubscribeMode::Stream => {
                    self.learn(cx, sid, &data)
                }
                ClientEvent::Response { response, .. } if !is_good(response.status) => {
                    // An error status teaches nothing, and asking again at
                    // once would ask as fast as the round trip allows.
                    let reason = format!("subscription answered {}", response.summary());
                    self.fail(cx, Some(sid), reason);
                    return;
                }
                ClientEvent::Response { response, .. } => {
                    self.succeeded();
                    if self.mode != SubscribeMode::Stream {
                        self.learn(cx, sid, &response.body);
                    }
                    answered = true;
                }
                ClientEvent::Error { reason } => {
                    self.fail(cx, Some(sid), reason);
                    return;
                }
                _ => {}
            }
        }
        if eof && !self.done && !self.conn_ok {
            // Closed before it brought any answer: a failure, not the
            // end of a keep-alive connection.
            let reason = "the server closed the connection before answering".to_string();
            self.fail(cx, Some(sid), reason);
            return;
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

/// Whether an answer is one to go on with: `200` with events, `204` with
/// none (a long poll that timed out).
fn is_good(status: u16) -> bool {
    (200..300).contains(&status)
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
                    self.fail(cx, Some(sid), format!("subscription connection {reason}"));
                }
            }
            SocketEvent::Incoming { .. } => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if self.retry == Some(timer) {
            self.retry = None;
            self.request(cx);
        } else if self.next_poll.is_some_and(|(t, _)| t == timer) {
            self.next_poll = None;
            self.request(cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::{HttpServer, Route};
    use crate::proto::ServerConfig;
    use simnet_core::{LinkParams, WorldBuilder};
    use std::net::Ipv4Addr;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            first: SimDuration::from_secs(1),
            max: SimDuration::from_secs(5),
        };
        let waits: Vec<u64> = (1..=6).map(|n| b.delay(n).as_nanos() / 1_000_000).collect();
        assert_eq!(waits, vec![1000, 2000, 4000, 5000, 5000, 5000]);
        // However many failures, no overflow and no wait beyond the cap.
        assert_eq!(b.delay(u32::MAX), SimDuration::from_secs(5));
    }

    /// A long poll answered with an error status is asked again after the
    /// back-off, not at once: a minute of `404`s costs a handful of
    /// requests, not one per round trip.
    #[test]
    fn an_error_status_is_retried_after_the_backoff() {
        let mut b = WorldBuilder::new(1);
        let c = b.host("client", [10, 0, 0, 1].into());
        let s = b.host("server", [10, 0, 0, 2].into());
        b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(5)));
        b.app(s, "http-server", || {
            HttpServer::new(80, ServerConfig::default(), vec![Route::ok("/", 1)])
        });
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let sub = b.app(c, "subscriber", move || {
            HttpSubscriber::new(remote, "server", "/events", SubscribeMode::LongPoll, 1).backoff(
                Backoff {
                    first: SimDuration::from_secs(1),
                    max: SimDuration::from_secs(4),
                },
            )
        });
        let mut world = b.build().expect("a valid world");
        world.run_until(SimTime::from_secs(60));
        let sub = world.app::<HttpSubscriber>(sub).expect("the subscriber");
        // Attempts at 0, 1, 3, 7 s, then every 4 s: 17 in a minute.
        assert_eq!(sub.requests, 17);
        assert_eq!(sub.failures(), 17);
        assert!(sub.learned.is_empty());
    }
}

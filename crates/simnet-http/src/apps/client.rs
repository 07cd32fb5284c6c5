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
//!
//! Where requests go is [`origins`]: a client may connect by name, looking
//! the name up through DNS before each new connection (`http.lookup`, then
//! the resolver's own `dns.*` events; the first attempt then starts with
//! the lookup, so `total` includes it), follow a redirect to another origin
//! (`http.redirect`; the request keeps its number, and the final
//! response's `total` runs from the first attempt of the first URL), and
//! remember `Strict-Transport-Security` to send a later `http://` request
//! straight to `https://` (`hsts.remembered`, `hsts.upgrade`).

#[cfg(test)]
mod origin_tests;
mod origins;
mod redirect;
mod resolving;
#[cfg(test)]
mod tally_tests;

pub use origins::MAX_ORIGINS;

use super::{NameResolver, flush, notable_headers, read_all};
use crate::proto::{
    ClientConfig, ClientConn, ClientEvent, Origin, Request, RequestId, Response, Scheme,
    SendRequestError, Url, Version,
};
use origins::{Address, Origins, Reach};
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

/// A request follows at most this many redirects; the next one fails it.
pub const MAX_REDIRECTS: u32 = 5;

/// An HTTP/1.1 client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    /// Where requests go: origin 0 is the one configured; HSTS and
    /// redirects add others.
    origins: Origins,
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
    /// Follow `3xx` responses that carry a `Location` (GET and HEAD).
    follow_redirects: bool,
    issued: u64,
    queue: VecDeque<Pending>,
    /// Requests whose new connection waits for its name to be looked up
    /// (each stands for one connection being opened).
    resolving: Vec<Pending>,
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
    /// Redirects followed.
    pub redirects: u64,
}

#[derive(Clone, Debug)]
struct Pending {
    index: u64,
    /// The origin it goes to (an index into [`Origins`]).
    site: usize,
    /// Its target after a redirect (else the configured path).
    target: Option<String>,
    /// Redirects followed to get here.
    redirects: u32,
    /// When the name lookup for its current connection began.
    lookup_started: Option<SimTime>,
    /// Time spent on name lookups so far.
    dns: Option<SimDuration>,
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
    /// The origin it is connected to.
    site: usize,
    /// What this connection adds to the client's [`Tally`] now.
    counted: Counted,
    /// Its stream layer (TLS) failed: the requests it loses say so.
    layer_failed: bool,
}

/// What one connection adds to the [`Tally`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counted {
    /// Its origin.
    site: usize,
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
    /// Connections that are not over, per origin; and new connections
    /// waiting for a name lookup.
    live: BTreeMap<usize, usize>,
    /// Connections a request could go on now, by origin and socket id.
    open: BTreeSet<(usize, SocketId)>,
}

impl Tally {
    fn live(&self, site: usize) -> usize {
        self.live.get(&site).copied().unwrap_or(0)
    }

    fn add_live(&mut self, site: usize, n: usize) {
        *self.live.entry(site).or_insert(0) += n;
    }

    fn remove_live(&mut self, site: usize, n: usize) {
        if let Some(l) = self.live.get_mut(&site) {
            *l -= n;
            if *l == 0 {
                self.live.remove(&site);
            }
        }
    }
}

impl HttpClient {
    /// A client that sends `count` GET requests for `path` to `remote`, one
    /// after another, over one persistent connection.
    pub fn new(remote: SocketAddrV4, host: &str, path: &str, count: u64) -> HttpClient {
        let origin = Origin {
            scheme: Scheme::Http,
            host: host.to_string(),
            port: remote.port(),
        };
        HttpClient::with_origins(
            Origins::new(origin, Address::Fixed(*remote.ip())),
            path,
            count,
        )
    }

    /// A client that sends `count` GET requests for `url`, reaching its
    /// host at `address` (a scenario host's address). With a resolver
    /// ([`HttpClient::resolver`]) and no address, the host is a name
    /// looked up through DNS before each new connection. An `https` URL
    /// speaks TLS 1.3 unless [`HttpClient::tls_version`] says otherwise.
    pub fn to_url(url: &Url, address: Option<std::net::Ipv4Addr>, count: u64) -> HttpClient {
        let fixed = address.or_else(|| url.origin.host.parse().ok());
        let address = match fixed {
            Some(a) => Address::Fixed(a),
            None => match simnet_dns::proto::DnsName::parse(&url.origin.host) {
                Ok(name) => Address::Name(name),
                // Not a name a resolver could look up: every connection
                // fails, saying why (Url::parse checks hosts, so only a
                // hand-built Url gets here).
                Err(_) => Address::Fixed(std::net::Ipv4Addr::UNSPECIFIED),
            },
        };
        HttpClient::with_origins(
            Origins::new(url.origin.clone(), address),
            &url.target,
            count,
        )
    }

    fn with_origins(origins: Origins, path: &str, count: u64) -> HttpClient {
        HttpClient {
            origins,
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
            follow_redirects: true,
            issued: 0,
            queue: VecDeque::new(),
            resolving: Vec::new(),
            conns: BTreeMap::new(),
            tally: Tally::default(),
            tick: None,
            responses: Vec::new(),
            failures: 0,
            redirects: 0,
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
        self.origins.set_tls(tls);
        self
    }

    /// Whether `https` origins keep a session cache and resume (default
    /// true), and send requests as 0-RTT early data when resuming a TLS
    /// 1.3 session that allows it (default false).
    pub fn tls_options(mut self, resume: bool, early_data: bool) -> HttpClient {
        self.origins.set_tls_options(resume, early_data);
        self
    }

    /// The TLS version of `https` origins (a URL's, or one reached by HSTS
    /// or a redirect): TLS 1.3 by default.
    pub fn tls_version(mut self, version: simnet_tls::TlsVersion) -> HttpClient {
        self.origins.set_tls_version(version);
        self
    }

    /// Looks host names up through `resolver` before each new connection
    /// (its cache answers a second connection within the TTL).
    pub fn resolver(mut self, resolver: NameResolver) -> HttpClient {
        self.origins.set_resolver(resolver);
        self
    }

    /// Hosts always reached over HTTPS, as a browser's HSTS preload list.
    pub fn hsts_preload(mut self, hosts: Vec<String>) -> HttpClient {
        self.origins.set_preload(hosts);
        self
    }

    /// Whether a `3xx` response with a `Location` to a GET or HEAD request
    /// is followed (default true; at most [`MAX_REDIRECTS`] per request).
    pub fn follow_redirects(mut self, follow: bool) -> HttpClient {
        self.follow_redirects = follow;
        self
    }

    /// The resolver, if the client connects by name (for tests).
    pub fn name_resolver(&self) -> Option<&NameResolver> {
        self.origins.resolver()
    }

    /// The HSTS store (for tests).
    pub fn hsts(&self) -> &crate::proto::hsts::HstsStore {
        self.origins.hsts()
    }

    fn issue(&mut self, cx: &mut AppContext<'_>) {
        if self.issued < self.count {
            self.issued += 1;
            let site = self.origins.upgrade(cx, self.issued, 0);
            self.queue.push_back(Pending {
                index: self.issued,
                site,
                target: None,
                redirects: 0,
                lookup_started: None,
                dns: None,
                attempts: 0,
                sends: 0,
                first_attempt: None,
                first_sent: None,
            });
        }
    }

    /// The target request `p` asks for.
    fn target_of<'a>(&'a self, p: &'a Pending) -> &'a str {
        match &p.target {
            Some(t) => t,
            None => &self.paths[((p.index - 1) % self.paths.len() as u64) as usize],
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
        self.issued >= self.count
            && self.queue.is_empty()
            && self.resolving.is_empty()
            && self.tally.load == 0
    }

    /// What connection `c` adds to the tally as it is now.
    fn counted(&self, c: &Conn) -> Counted {
        let load = c.in_flight.len() + c.waiting.len();
        Counted {
            site: c.site,
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
        self.tally.add_live(now.site, usize::from(now.live));
        if now.open {
            self.tally.open.insert((now.site, sid));
        }
        if let Some(c) = self.conns.get_mut(&sid) {
            c.counted = now;
        }
    }

    fn uncount(&mut self, sid: SocketId, counted: Counted) {
        self.tally.load -= counted.load;
        self.tally
            .remove_live(counted.site, usize::from(counted.live));
        if counted.open {
            self.tally.open.remove(&(counted.site, sid));
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

    /// Where a request to origin `site` would go now, if anywhere: an open
    /// connection to it with room (keep-alive only), else a new one if
    /// under the limit (per origin, as browsers count). Connections that
    /// are over count for neither; one waiting for its name counts.
    fn slot(&self, site: usize) -> Option<Slot> {
        debug_assert!(
            self.conns
                .iter()
                .all(|(sid, c)| self.counted(c) == c.counted
                    && self.tally.open.contains(&(c.site, *sid)) == c.counted.open),
            "the tally is up to date with every connection"
        );
        if self.mode == ClientMode::KeepAlive
            && let Some(&(s, sid)) = self.tally.open.range((site, SocketId(0))..).next()
            && s == site
        {
            // The first open connection in socket order, as a scan would find.
            return Some(Slot::Open(sid));
        }
        (self.tally.live(site) < self.connections).then_some(Slot::New)
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
        while let Some(site) = self.queue.front().map(|p| p.site) {
            let Some(slot) = self.slot(site) else {
                return;
            };
            let p = self.queue.pop_front().expect("the queue has a front");
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
            Slot::New => {
                p.first_attempt.get_or_insert(now);
                let site = self.origins.get(p.site);
                if let Address::Name(name) = &site.address {
                    cx.emit(
                        AppEvent::new(
                            "http.lookup",
                            format!(
                                "request {}: looking up {name} for a new connection to {}",
                                p.index, site.origin
                            ),
                        )
                        .with("index", p.index)
                        .with("name", name.as_str()),
                    );
                    p.lookup_started = Some(now);
                }
                match self.origins.reach(cx, p.site) {
                    Reach::Connect(addr) => self.connect_new(cx, p, addr),
                    Reach::Waiting => {
                        // It stands for a connection being opened.
                        self.tally.add_live(p.site, 1);
                        self.resolving.push(p);
                    }
                    Reach::Failed(e) => self.lookup_failed(cx, p, &e),
                }
            }
        }
    }

    /// Writes `p` on the connected `sid`. A request that was waiting for
    /// `sid` to open already counted this attempt (`new_attempt` false); one
    /// put straight on an open connection counts it here.
    fn send(&mut self, cx: &mut AppContext<'_>, sid: SocketId, mut p: Pending, new_attempt: bool) {
        let now = cx.now();
        let target = self.target_of(&p).to_string();
        let host = &self.origins.get(p.site).origin.host;
        let mut request = Request::get(host, &target).with_version(self.version);
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
                let (index, attempts) = (p.index, p.attempts);
                conn.in_flight.push_back((id, p, reused));
                let how = if reused {
                    format!(
                        "on a reused connection ({} earlier on it)",
                        conn.served + conn.in_flight.len() as u64 - 1
                    )
                } else {
                    "on a new connection".to_string()
                };
                let retry = if attempts > 1 {
                    format!(", attempt {attempts}")
                } else {
                    String::new()
                };
                cx.emit(
                    AppEvent::new(
                        "http.request-sent",
                        format!("request {index}: {summary} {how}{retry}"),
                    )
                    .on(sid)
                    .with("index", index)
                    .with("reused", reused)
                    .with("attempt", u64::from(attempts)),
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
                let target = format!("{} {}", self.method.escape_debug(), target.escape_debug());
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
                        .map(|(_, p, _)| (p.clone(), true));
                    let unsent = conn.waiting.iter().map(|p| (p.clone(), false));
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
        } else if p.dns.is_some() || p.redirects > 0 {
            summary.push_str(&format!(", {total} from its start ({})", redirect::how(&p)));
        }
        if !headers.is_empty() {
            summary.push_str(&format!(" [{headers}]"));
        }
        let mut event = AppEvent::new("http.response", summary)
            .on(sid)
            .with("index", p.index)
            .with("status", u64::from(response.status))
            .with("latency", latency)
            .with("reused", reused)
            .with("bytes", response.body.len())
            .with("attempts", u64::from(p.attempts))
            .with("sends", u64::from(p.sends))
            .with("total", total);
        if let Some(dns) = p.dns {
            event = event.with("dns", dns);
        }
        if p.redirects > 0 {
            event = event.with("redirects", u64::from(p.redirects));
        }
        cx.emit(event);
        self.origins.observe(cx, sid, p.site, &response);
        if self.follow(cx, &p, &response) {
            return;
        }
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
            let slot = if later.is_empty() {
                self.slot(p.site)
            } else {
                None
            };
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

    fn after_completion(&mut self, cx: &mut AppContext<'_>) {
        if self.interval.is_none() {
            self.issue(cx);
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
        if let Some(names) = self.origins.resolver_mut() {
            names.start(cx);
        }
        match self.interval {
            None => {
                for _ in 0..self.connections.max(self.pipeline) {
                    self.issue(cx);
                }
            }
            Some(every) => {
                self.issue(cx);
                self.tick = Some(cx.set_timer(every));
            }
        }
        self.dispatch(cx);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        if let Some(names) = self.origins.resolver_mut()
            && names.on_socket(cx, &event)
        {
            self.on_lookups(cx);
            return;
        }
        match event {
            SocketEvent::Connected(sid) => {
                if !self.conns.contains_key(&sid) {
                    return;
                }
                let site = self.conns[&sid].site;
                if let Some(tls) = &mut self.origins.get_mut(site).tls {
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
                        let sent = conn.in_flight.iter().map(|(_, p, _)| (p.clone(), true));
                        let unsent = conn.waiting.iter().map(|p| (p.clone(), false));
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
        if let Some(names) = self.origins.resolver_mut()
            && names.on_timer(cx, timer)
        {
            self.on_lookups(cx);
            return;
        }
        if self.tick == Some(timer) {
            self.issue(cx);
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
                    self.issue(cx);
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

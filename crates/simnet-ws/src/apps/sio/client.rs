//! The client side: [`SioClient`] (`sio-client`).

use crate::apps::remote::{self, Address};
use crate::apps::{ClientLink, ClientLinkEvent, ClientTls, Remote, parse_event};
use crate::proto::close;
use crate::proto::conn::{Message, WsConfig, WsEvent};
use simnet_core::{
    App, AppContext, AppEvent, SimDuration, SimTime, SocketEvent, SocketId, TimerId,
};
use simnet_http::apps::{HttpClientSide, event_learned};
use simnet_http::proto::{ClientConfig, ClientEvent, Request};
use std::collections::BTreeSet;

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
                ClientLinkEvent::Ws(incoming) => {
                    let Some(event) = incoming.report(cx) else {
                        continue;
                    };
                    event
                }
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

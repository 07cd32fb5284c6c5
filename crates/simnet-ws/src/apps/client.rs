//! The WebSocket client application (`ws-client`).
//!
//! It connects, sends the upgrade request (with the subprotocols it offers),
//! checks the `101` answer, and then:
//!
//! - sends its messages, either one every `send_every` or each as soon as
//!   the previous one came back (an echo or a chat relay); a message can be
//!   split into fragments of a fixed size, with a Ping sent between the
//!   first fragment and the rest to show that control frames may interleave
//!   with a fragmented message;
//! - pings the server at an interval and reports each Pong's round trip;
//! - reports every message it receives, with its round trip if it is the
//!   echo of one it sent, or with its delay if it is a published event
//!   (`id=<n> t=<ns>`);
//! - starts the closing handshake at a set time, or once everything it sent
//!   came back (or after a number of events), or never; then waits for the
//!   server to close TCP first.
//!
//! With [`WsClient::tls`] it speaks `wss`: TLS starts right after TCP
//! connects and everything above travels inside it.

use super::remote::Address;
use super::{ClientLink, ClientLinkEvent, ClientTls, Remote, message_event, parse_event};
use crate::proto::close;
use crate::proto::conn::{Message, WsEvent};
use crate::proto::frame::Opcode;
use simnet_core::apps::filler;
use simnet_core::{App, AppContext, AppEvent, Command, SimDuration, SimTime, SocketEvent, TimerId};
use simnet_http::apps::event_learned;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// When a client starts the closing handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseAfter {
    /// Once every message it sent has come back (or, with an event limit,
    /// once it learned of that many events). A client with nothing to send
    /// and no event limit stays open.
    WhenDone,
    /// This long after the connection opened.
    After(SimDuration),
    /// Never: the server has to close.
    Never,
}

/// The largest binary message the client builds (`message_bytes`, or the
/// `count` of a `send` command): a message is framed whole, so it is
/// allocated whole.
pub const MAX_BINARY_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A message the client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outgoing {
    Text(String),
    /// A binary message of this many filler bytes.
    Binary(usize),
}

impl Outgoing {
    fn bytes(&self) -> (Opcode, Vec<u8>) {
        match self {
            Outgoing::Text(t) => (Opcode::Text, t.as_bytes().to_vec()),
            Outgoing::Binary(n) => (Opcode::Binary, filler(*n)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    Send,
    Ping,
    Close,
}

/// A WebSocket client.
pub struct WsClient {
    remote: Remote,
    host: String,
    path: String,
    protocols: Vec<String>,
    messages: Vec<Outgoing>,
    send_every: Option<SimDuration>,
    fragment: Option<usize>,
    ping_every: Option<SimDuration>,
    close_after: CloseAfter,
    stop_after_events: Option<u64>,
    tls: Option<ClientTls>,
    link: Option<ClientLink>,
    next: usize,
    /// Messages sent and not yet seen coming back, with when they were sent.
    awaiting: VecDeque<(Vec<u8>, SimTime)>,
    /// Pings sent and not yet answered: payload and when.
    pings: VecDeque<(Vec<u8>, SimTime)>,
    pings_sent: u64,
    seen_events: BTreeSet<u64>,
    timers: BTreeMap<TimerId, Wake>,
    /// Messages received.
    pub received: Vec<Message>,
    /// Published events learned of: id and delay.
    pub events: Vec<(u64, SimDuration)>,
    /// The subprotocol the server chose, once open.
    pub protocol: Option<String>,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("remote", &self.remote.to_string())
            .field("path", &self.path)
            .field("received", &self.received.len())
            .finish()
    }
}

impl WsClient {
    /// A client of `remote` (an address, or a [`Remote::named`] name; the
    /// `Host` header says `host`) asking for `path`.
    pub fn new(remote: impl Into<Remote>, host: &str, path: &str) -> WsClient {
        WsClient {
            remote: remote.into(),
            host: host.to_string(),
            path: path.to_string(),
            protocols: Vec::new(),
            messages: Vec::new(),
            send_every: None,
            fragment: None,
            ping_every: None,
            close_after: CloseAfter::WhenDone,
            stop_after_events: None,
            tls: None,
            link: None,
            next: 0,
            awaiting: VecDeque::new(),
            pings: VecDeque::new(),
            pings_sent: 0,
            seen_events: BTreeSet::new(),
            timers: BTreeMap::new(),
            received: Vec::new(),
            events: Vec::new(),
            protocol: None,
        }
    }

    /// Offers these subprotocols, most preferred first.
    pub fn subprotocols(mut self, protocols: Vec<String>) -> WsClient {
        self.protocols = protocols;
        self
    }

    /// Text messages to send, in order.
    pub fn send(mut self, messages: Vec<String>) -> WsClient {
        self.messages
            .extend(messages.into_iter().map(Outgoing::Text));
        self
    }

    /// After the text messages, one binary message of `bytes` bytes.
    pub fn binary_message(mut self, bytes: usize) -> WsClient {
        self.messages.push(Outgoing::Binary(bytes));
        self
    }

    /// Sends one message every `every` (the first at once) instead of each
    /// after the previous one came back.
    pub fn send_every(mut self, every: SimDuration) -> WsClient {
        self.send_every = Some(every).filter(|d| !d.is_zero());
        self
    }

    /// Splits messages longer than `bytes` into fragments of that size.
    pub fn fragment(mut self, bytes: usize) -> WsClient {
        self.fragment = Some(bytes).filter(|b| *b > 0);
        self
    }

    /// Sends a Ping every `every`.
    pub fn ping_every(mut self, every: SimDuration) -> WsClient {
        self.ping_every = Some(every).filter(|d| !d.is_zero());
        self
    }

    /// When to start the closing handshake.
    pub fn close_after(mut self, close_after: CloseAfter) -> WsClient {
        self.close_after = close_after;
        self
    }

    /// Closes after learning of `count` published events.
    pub fn stop_after_events(mut self, count: u64) -> WsClient {
        self.stop_after_events = Some(count);
        self
    }

    /// Speaks `wss`: TLS starts as soon as TCP connects, and the upgrade
    /// request goes over it.
    pub fn tls(mut self, tls: ClientTls) -> WsClient {
        self.tls = Some(tls);
        self
    }

    /// Opens the connection once the server's address is known.
    fn dial(&mut self, cx: &mut AppContext<'_>, address: Address) {
        let tls = self.tls.clone();
        let (host, path, protocols) = (&self.host, &self.path, &self.protocols);
        self.link = ClientLink::dial(cx, &self.remote, address, host, path, protocols, tls);
    }

    fn timer(&mut self, cx: &mut AppContext<'_>, after: SimDuration, wake: Wake) {
        let t = cx.set_timer(after);
        self.timers.insert(t, wake);
    }

    fn on_opened(&mut self, cx: &mut AppContext<'_>, protocol: Option<String>) {
        self.protocol = protocol;
        if !self.messages.is_empty() {
            self.send_next(cx);
            if let Some(every) = self.send_every
                && self.next < self.messages.len()
            {
                self.timer(cx, every, Wake::Send);
            }
        }
        if let Some(every) = self.ping_every {
            self.timer(cx, every, Wake::Ping);
        }
        if let CloseAfter::After(after) = self.close_after {
            self.timer(cx, after, Wake::Close);
        }
    }

    /// Sends the next message of the list, if any.
    fn send_next(&mut self, cx: &mut AppContext<'_>) {
        let Some(message) = self.messages.get(self.next).cloned() else {
            return;
        };
        if self.send_message(cx, &message) {
            self.next += 1;
        }
    }

    fn send_message(&mut self, cx: &mut AppContext<'_>, message: &Outgoing) -> bool {
        let now = cx.now();
        let fragment = self.fragment;
        let (opcode, bytes) = message.bytes();
        let Some(ws) = self.link.as_mut().and_then(ClientLink::ws) else {
            return false;
        };
        if !ws.is_open() {
            return false;
        }
        let sent = match fragment {
            Some(size) if bytes.len() > size => {
                let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
                cx.emit(
                    AppEvent::new(
                        "ws.fragmenting",
                        format!(
                            "sending a {}-byte message as {} frames of at most {size} bytes, with a Ping after the first",
                            bytes.len(),
                            pieces.len()
                        ),
                    )
                    .with("frames", pieces.len()),
                );
                let ping = b"between fragments".to_vec();
                let mut ok = ws.conn.send_frame(opcode, false, pieces[0]).is_ok();
                ok &= ws.conn.ping(&ping).is_ok();
                self.pings.push_back((ping, now));
                for (i, piece) in pieces.iter().enumerate().skip(1) {
                    let fin = i + 1 == pieces.len();
                    ok &= ws.conn.send_frame(Opcode::Continuation, fin, piece).is_ok();
                }
                ok
            }
            _ => ws.conn.send_message(opcode, &bytes),
        };
        if sent {
            self.awaiting.push_back((bytes, now));
        }
        sent
    }

    fn on_message(&mut self, cx: &mut AppContext<'_>, message: Message) {
        let now = cx.now();
        let sid = self.link.as_ref().map(|l| l.sid);
        let bytes = match &message {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b.as_slice(),
        };
        let echo = self
            .awaiting
            .iter()
            .position(|(sent, _)| sent.as_slice() == bytes)
            .and_then(|pos| self.awaiting.remove(pos))
            .map(|(_, at)| now - at);
        let event = match &message {
            Message::Text(t) => parse_event(t),
            Message::Binary(_) => None,
        };
        let Some(sid) = sid else {
            return;
        };
        let mut e = message_event(&message, sid, echo);
        if let Some(rtt) = echo {
            e = e.with("latency", rtt);
        } else if let Some((_, published)) = event {
            e = e.with("latency", now - published);
        }
        cx.emit(e);
        if let Some((id, published)) = event
            && self.seen_events.insert(id)
        {
            let delay = now - published;
            self.events.push((id, delay));
            let len = bytes.len() as u64;
            cx.emit(event_learned("ws.event", sid, id, delay, "websocket", len));
        }
        self.received.push(message);
        if echo.is_some() && self.send_every.is_none() {
            self.send_next(cx);
        }
        self.close_if_done(cx);
    }

    fn close_if_done(&mut self, cx: &mut AppContext<'_>) {
        if self.close_after != CloseAfter::WhenDone {
            return;
        }
        let all_back = !self.messages.is_empty()
            && self.next == self.messages.len()
            && self.awaiting.is_empty();
        let enough_events = self
            .stop_after_events
            .is_some_and(|n| self.events.len() as u64 >= n);
        if all_back || enough_events {
            let why = if all_back {
                "everything sent came back"
            } else {
                "all expected events arrived"
            };
            self.start_close(cx, why);
        }
    }

    fn start_close(&mut self, cx: &mut AppContext<'_>, why: &str) {
        if let Some(ws) = self.link.as_mut().and_then(ClientLink::ws)
            && ws.is_open()
        {
            cx.emit(
                AppEvent::new(
                    "ws.closing",
                    format!("the client starts the closing handshake: {why}"),
                )
                .on(ws.sid),
            );
            let _ = ws.conn.close(close::NORMAL, "done");
        }
    }

    fn handle(&mut self, cx: &mut AppContext<'_>, events: Vec<ClientLinkEvent>) {
        for event in events {
            let event = match event {
                ClientLinkEvent::Opened { protocol } => {
                    self.on_opened(cx, protocol);
                    continue;
                }
                ClientLinkEvent::Refused { .. } => continue,
                ClientLinkEvent::Ws(incoming) => {
                    let Some(event) = incoming.report(cx) else {
                        continue;
                    };
                    event
                }
            };
            match event {
                WsEvent::Message(m) => self.on_message(cx, m),
                WsEvent::Pong(payload) => {
                    let now = cx.now();
                    if let Some(pos) = self.pings.iter().position(|(p, _)| *p == payload)
                        && let Some((_, at)) = self.pings.remove(pos)
                        && let Some(sid) = self.link.as_ref().map(|l| l.sid)
                    {
                        let rtt = now - at;
                        // Written only if read: one per Ping of a load test.
                        let summary = move |f: &mut std::fmt::Formatter<'_>| {
                            let payload = String::from_utf8_lossy(&payload);
                            write!(f, "Pong {payload:?} answered our Ping after {rtt}")
                        };
                        cx.emit(
                            AppEvent::deferred("ws.pong", summary)
                                .on(sid)
                                .with("rtt", rtt),
                        );
                    }
                }
                _ => {}
            }
        }
        if let Some(link) = self.link.as_mut() {
            link.flush(cx);
        }
    }
}

/// Sending a whole message of either type in one frame.
trait SendMessage {
    fn send_message(&mut self, opcode: Opcode, bytes: &[u8]) -> bool;
}

impl SendMessage for crate::proto::conn::WsConn {
    fn send_message(&mut self, opcode: Opcode, bytes: &[u8]) -> bool {
        match opcode {
            Opcode::Text => match std::str::from_utf8(bytes) {
                Ok(t) => self.send_text(t).is_ok(),
                Err(_) => false,
            },
            _ => self.send_binary(bytes).is_ok(),
        }
    }
}

impl App for WsClient {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.remote.start(cx);
        let address = self.remote.address(cx);
        self.dial(cx, address);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        if let Some(done) = self.remote.on_socket(cx, &event) {
            return done.into_iter().for_each(|a| self.dial(cx, a));
        }
        if let Some(events) = ClientLink::route(&mut self.link, cx, event) {
            self.handle(cx, events);
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if let Some(done) = self.remote.on_timer(cx, timer) {
            return done.into_iter().for_each(|a| self.dial(cx, a));
        }
        if ClientLink::route_timer(&mut self.link, cx, timer) {
            return;
        }
        let Some(wake) = self.timers.remove(&timer) else {
            return;
        };
        match wake {
            Wake::Send => {
                self.send_next(cx);
                if self.next < self.messages.len()
                    && let Some(every) = self.send_every
                {
                    self.timer(cx, every, Wake::Send);
                }
            }
            Wake::Ping => {
                let now = cx.now();
                if let Some(ws) = self.link.as_mut().and_then(ClientLink::ws)
                    && ws.is_open()
                {
                    self.pings_sent += 1;
                    let payload = format!("keepalive {}", self.pings_sent).into_bytes();
                    if ws.conn.ping(&payload).is_ok() {
                        self.pings.push_back((payload, now));
                    }
                    if let Some(every) = self.ping_every {
                        self.timer(cx, every, Wake::Ping);
                    }
                }
            }
            Wake::Close => {
                let after = match self.close_after {
                    CloseAfter::After(d) => d,
                    _ => SimDuration::ZERO,
                };
                self.start_close(cx, &format!("{after} after the upgrade"));
            }
        }
        if let Some(link) = self.link.as_mut() {
            link.flush(cx);
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        match command.verb.as_str() {
            "send" => {
                let message = match (&command.data, command.count) {
                    (Some(text), _) => Outgoing::Text(text.clone()),
                    (None, Some(n)) if n > MAX_BINARY_MESSAGE_BYTES as u64 => {
                        cx.emit(AppEvent::new(
                            "app.command-ignored",
                            format!("`send` of a {n}-byte message: a message is at most 64MiB"),
                        ));
                        return;
                    }
                    (None, Some(n)) => Outgoing::Binary(n as usize),
                    (None, None) => Outgoing::Text(String::new()),
                };
                self.send_message(cx, &message);
            }
            "ping" => {
                let now = cx.now();
                let payload = command.data.clone().unwrap_or_default().into_bytes();
                if let Some(ws) = self.link.as_mut().and_then(ClientLink::ws)
                    && ws.conn.ping(&payload).is_ok()
                {
                    self.pings.push_back((payload, now));
                }
            }
            "close" => self.start_close(cx, "told to by the timeline"),
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("ws-client does not understand `{other}` (it knows send, ping, close)"),
            )),
        }
        if let Some(link) = self.link.as_mut() {
            link.flush(cx);
        }
    }
}

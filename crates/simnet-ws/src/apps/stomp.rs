//! STOMP 1.2 over WebSocket: the broker's session logic (used by
//! [`WsServer`](super::WsServer) in [`ServerMode::Stomp`](super::ServerMode))
//! and the [`StompClient`] application (`stomp-client`).
//!
//! Each STOMP frame travels as one WebSocket text message, on a connection
//! that negotiated `Sec-WebSocket-Protocol: v12.stomp`. The broker answers
//! CONNECT with CONNECTED, remembers SUBSCRIBE, turns every SEND into a
//! MESSAGE for each subscriber of its destination (the sender too, if it
//! subscribed), and answers DISCONNECT with the RECEIPT it asked for before
//! it starts the WebSocket closing handshake. Anything else gets an ERROR
//! frame and a close.
//!
//! Deliberately missing: transactions, acknowledgements, heart-beats,
//! authentication, and queues (every destination is a topic).

use super::remote::Address;
use super::server::stomp_event;
use super::{ClientLink, ClientLinkEvent, ClientTls, Remote};
use crate::proto::close;
use crate::proto::conn::{Message, WsEvent};
use crate::stomp::{self as codec, STOMP_SUBPROTOCOL, StompError, StompFrame};
use simnet_core::{
    App, AppContext, AppEvent, Command, SimDuration, SocketEvent, SocketId, TimerId,
};
use std::collections::{BTreeMap, BTreeSet};

/// What the broker does in answer to one message.
#[derive(Debug, Default)]
pub(super) struct BrokerAnswer {
    /// The frame received, if the message was one.
    pub received: Option<StompFrame>,
    /// Frames to send, and to which connection.
    pub replies: Vec<(SocketId, StompFrame)>,
    /// Close the sender's connection with this code and reason, after the
    /// replies.
    pub close: Option<(u16, String)>,
}

/// The broker's state: who subscribed to what.
///
/// Subscriptions are numbered in the order they were made and indexed by
/// connection and by destination, so that a SEND costs as much as its
/// deliveries and a connection's end as much as its own subscriptions,
/// however many other connections the broker holds.
#[derive(Debug, Default)]
pub(super) struct Broker {
    /// (connection, subscription id, destination), by subscription number.
    subscriptions: BTreeMap<u64, (SocketId, String, String)>,
    /// The number the next subscription gets.
    next_subscription: u64,
    /// Each connection's subscriptions.
    by_connection: BTreeMap<SocketId, BTreeSet<u64>>,
    /// Each destination's subscriptions, in subscription order.
    by_destination: BTreeMap<String, BTreeSet<u64>>,
    /// The `login` each connection gave in CONNECT, to name it in traces.
    logins: BTreeMap<SocketId, String>,
    messages: u64,
}

impl Broker {
    /// Handles one message from connection `from`.
    pub fn on_message(&mut self, from: SocketId, bytes: &[u8]) -> BrokerAnswer {
        let frame = match codec::decode(bytes) {
            Ok(frame) => frame,
            Err(StompError::HeartBeatOnly) => return BrokerAnswer::default(),
            Err(e) => return error(from, None, &format!("malformed frame: {e}")),
        };
        let mut answer = BrokerAnswer {
            received: Some(frame.clone()),
            ..BrokerAnswer::default()
        };
        match frame.command.as_str() {
            "CONNECT" | "STOMP" => {
                if let Some(login) = frame.header("login") {
                    self.logins.insert(from, login.to_string());
                }
                answer.replies.push((from, StompFrame::connected()));
            }
            "SUBSCRIBE" => match (frame.header("id"), frame.header("destination")) {
                (Some(id), Some(destination)) => {
                    self.subscribe(from, id, destination);
                }
                _ => return error(from, Some(frame), "SUBSCRIBE needs id and destination"),
            },
            "UNSUBSCRIBE" => {
                let id = frame.header("id").unwrap_or("");
                let ended: Vec<u64> = self
                    .by_connection
                    .get(&from)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|n| {
                        self.subscriptions
                            .get(n)
                            .is_some_and(|(_, sub, _)| sub == id)
                    })
                    .collect();
                for n in ended {
                    self.unsubscribe(n);
                }
            }
            "SEND" => {
                let Some(destination) = frame.header("destination") else {
                    return error(from, Some(frame), "SEND needs a destination");
                };
                let subscribers = self.by_destination.get(destination).into_iter().flatten();
                for (to, sub, _) in subscribers.filter_map(|n| self.subscriptions.get(n)) {
                    self.messages += 1;
                    let id = format!("m{}", self.messages);
                    answer
                        .replies
                        .push((*to, StompFrame::message(sub, &id, destination, &frame.body)));
                }
            }
            "DISCONNECT" => {
                if let Some(receipt) = frame.header("receipt") {
                    answer.replies.push((from, StompFrame::receipt(receipt)));
                }
                answer.close = Some((close::NORMAL, "disconnected".to_string()));
            }
            other => {
                let message = format!("unsupported command {other}");
                return error(from, Some(frame), &message);
            }
        }
        // A RECEIPT for any frame that asks for one (DISCONNECT's is above).
        if frame.command != "DISCONNECT"
            && let Some(receipt) = frame.header("receipt")
        {
            answer.replies.push((from, StompFrame::receipt(receipt)));
        }
        answer
    }

    /// A connection is gone: its subscriptions end.
    pub fn forget(&mut self, sid: SocketId) {
        for n in self.by_connection.remove(&sid).unwrap_or_default() {
            self.unsubscribe(n);
        }
        self.logins.remove(&sid);
    }

    /// Records a subscription, after every earlier one.
    fn subscribe(&mut self, from: SocketId, id: &str, destination: &str) {
        let n = self.next_subscription;
        self.next_subscription += 1;
        self.subscriptions
            .insert(n, (from, id.to_string(), destination.to_string()));
        self.by_connection.entry(from).or_default().insert(n);
        self.by_destination
            .entry(destination.to_string())
            .or_default()
            .insert(n);
    }

    /// Ends subscription number `n`.
    fn unsubscribe(&mut self, n: u64) {
        let Some((sid, _, destination)) = self.subscriptions.remove(&n) else {
            return;
        };
        if let Some(set) = self.by_connection.get_mut(&sid) {
            set.remove(&n);
            if set.is_empty() {
                self.by_connection.remove(&sid);
            }
        }
        if let Some(set) = self.by_destination.get_mut(&destination) {
            set.remove(&n);
            if set.is_empty() {
                self.by_destination.remove(&destination);
            }
        }
    }

    /// How traces name a connection: its login, or its socket.
    pub fn name(&self, sid: SocketId) -> String {
        self.logins
            .get(&sid)
            .cloned()
            .unwrap_or_else(|| format!("connection {}", sid.0))
    }
}

/// An ERROR frame for `to`, then a close (STOMP: the server closes after
/// an ERROR).
fn error(to: SocketId, received: Option<StompFrame>, message: &str) -> BrokerAnswer {
    BrokerAnswer {
        received,
        replies: vec![(to, StompFrame::error(message, message.as_bytes()))],
        close: Some((close::PROTOCOL_ERROR, "STOMP error".to_string())),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    Send,
    Disconnect,
}

/// A STOMP client over WebSocket: CONNECT, SUBSCRIBE to one destination,
/// SEND its messages at an interval, then DISCONNECT with a receipt and let
/// the broker close.
pub struct StompClient {
    remote: Remote,
    host: String,
    path: String,
    destination: String,
    messages: Vec<String>,
    send_every: SimDuration,
    disconnect_after: Option<SimDuration>,
    tls: Option<ClientTls>,
    link: Option<ClientLink>,
    sent: usize,
    timers: BTreeMap<TimerId, Wake>,
    /// Bodies of the MESSAGE frames received, in order.
    pub received: Vec<String>,
    /// Whether the broker confirmed the DISCONNECT.
    pub receipt: bool,
}

impl std::fmt::Debug for StompClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StompClient")
            .field("remote", &self.remote.to_string())
            .field("destination", &self.destination)
            .field("received", &self.received)
            .finish()
    }
}

impl StompClient {
    /// A client of the broker at `remote` (an address, or a
    /// [`Remote::named`] name; `host` for `Host` and CONNECT) on WebSocket
    /// path `path`, chatting on `destination`.
    pub fn new(
        remote: impl Into<Remote>,
        host: &str,
        path: &str,
        destination: &str,
    ) -> StompClient {
        StompClient {
            remote: remote.into(),
            host: host.to_string(),
            path: path.to_string(),
            destination: destination.to_string(),
            messages: Vec::new(),
            send_every: SimDuration::from_secs(1),
            disconnect_after: None,
            tls: None,
            link: None,
            sent: 0,
            timers: BTreeMap::new(),
            received: Vec::new(),
            receipt: false,
        }
    }

    /// Message bodies to SEND, one every `every`, the first `every` after
    /// the subscription.
    /// An interval shorter than [`SimDuration::MIN_INTERVAL`] is raised to it.
    pub fn send(mut self, messages: Vec<String>, every: SimDuration) -> StompClient {
        self.messages = messages;
        self.send_every = every.as_interval();
        self
    }

    /// Sends DISCONNECT this long after CONNECTED (default: one interval
    /// after the last SEND).
    pub fn disconnect_after(mut self, after: SimDuration) -> StompClient {
        self.disconnect_after = Some(after);
        self
    }

    /// Speaks STOMP over `wss`: TLS starts as soon as TCP connects.
    pub fn tls(mut self, tls: ClientTls) -> StompClient {
        self.tls = Some(tls);
        self
    }

    /// Opens the connection once the broker's address is known.
    fn dial(&mut self, cx: &mut AppContext<'_>, address: Address) {
        let protocols = [STOMP_SUBPROTOCOL.to_string()];
        let tls = self.tls.clone();
        let (host, path) = (&self.host, &self.path);
        self.link = ClientLink::dial(cx, &self.remote, address, host, path, &protocols, tls);
    }

    fn timer(&mut self, cx: &mut AppContext<'_>, after: SimDuration, wake: Wake) {
        let t = cx.set_timer(after);
        self.timers.insert(t, wake);
    }

    fn send_frame(&mut self, cx: &mut AppContext<'_>, frame: StompFrame) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let sid = link.sid;
        let Some(ws) = link.ws() else {
            return;
        };
        if !ws.is_open() {
            return;
        }
        let mut bytes = Vec::new();
        codec::encode(&frame, &mut bytes);
        let sent = match String::from_utf8(bytes) {
            Ok(text) => ws.conn.send_text(&text).is_ok(),
            Err(e) => ws.conn.send_binary(e.as_bytes()).is_ok(),
        };
        if sent {
            cx.emit(stomp_event(&frame, "sent", None, sid));
        }
    }

    fn on_message(&mut self, cx: &mut AppContext<'_>, message: Message) {
        let Some(sid) = self.link.as_ref().map(|l| l.sid) else {
            return;
        };
        let bytes = match &message {
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Binary(b) => b.clone(),
        };
        let frame = match codec::decode(&bytes) {
            Ok(frame) => frame,
            Err(StompError::HeartBeatOnly) => return,
            Err(e) => {
                cx.emit(
                    AppEvent::new("stomp.error", format!("malformed STOMP frame: {e}")).on(sid),
                );
                return;
            }
        };
        cx.emit(stomp_event(&frame, "received", None, sid));
        match frame.command.as_str() {
            "CONNECTED" => {
                let subscribe = StompFrame::subscribe("sub-0", &self.destination);
                self.send_frame(cx, subscribe);
                if !self.messages.is_empty() {
                    self.timer(cx, self.send_every, Wake::Send);
                }
                let disconnect = self.disconnect_after.unwrap_or(
                    self.send_every
                        .saturating_mul(self.messages.len() as u64 + 1),
                );
                self.timer(cx, disconnect, Wake::Disconnect);
            }
            "MESSAGE" => self
                .received
                .push(String::from_utf8_lossy(&frame.body).into_owned()),
            "RECEIPT" => self.receipt = true,
            "ERROR" => {
                if let Some(ws) = self.link.as_mut().and_then(ClientLink::ws) {
                    let _ = ws.conn.close(close::NORMAL, "broker error");
                }
            }
            _ => {}
        }
    }

    fn handle(&mut self, cx: &mut AppContext<'_>, events: Vec<ClientLinkEvent>) {
        for event in events {
            match event {
                ClientLinkEvent::Opened { protocol } => {
                    if protocol.as_deref() != Some(STOMP_SUBPROTOCOL) {
                        cx.emit(AppEvent::new(
                            "stomp.error",
                            "the server did not agree to v12.stomp: speaking STOMP anyway",
                        ));
                    }
                    let mut connect = StompFrame::connect(&self.host);
                    connect
                        .headers
                        .push(("login".to_string(), cx.host_name().to_string()));
                    self.send_frame(cx, connect);
                }
                ClientLinkEvent::Ws(incoming) => {
                    if let Some(WsEvent::Message(m)) = incoming.report(cx) {
                        self.on_message(cx, m);
                    }
                }
                ClientLinkEvent::Refused { .. } => {}
            }
        }
        if let Some(link) = self.link.as_mut() {
            link.flush(cx);
        }
    }
}

impl App for StompClient {
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
        match self.timers.remove(&timer) {
            Some(Wake::Send) => {
                if let Some(body) = self.messages.get(self.sent).cloned() {
                    self.sent += 1;
                    let frame = StompFrame::send(&self.destination, body.as_bytes());
                    self.send_frame(cx, frame);
                }
                if self.sent < self.messages.len() {
                    self.timer(cx, self.send_every, Wake::Send);
                }
            }
            Some(Wake::Disconnect) => self.send_frame(cx, StompFrame::disconnect("bye")),
            None => return,
        }
        if let Some(link) = self.link.as_mut() {
            link.flush(cx);
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        match command.verb.as_str() {
            "send" => {
                let body = command.data.clone().unwrap_or_default();
                let frame = StompFrame::send(&self.destination, body.as_bytes());
                self.send_frame(cx, frame);
            }
            "disconnect" => self.send_frame(cx, StompFrame::disconnect("bye")),
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("stomp-client does not understand `{other}` (it knows send, disconnect)"),
            )),
        }
        if let Some(link) = self.link.as_mut() {
            link.flush(cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(f: StompFrame) -> Vec<u8> {
        let mut out = Vec::new();
        codec::encode(&f, &mut out);
        out
    }

    #[test]
    fn the_broker_delivers_a_send_to_every_subscriber_of_its_destination() {
        let (a, b) = (SocketId(1), SocketId(2));
        let mut broker = Broker::default();
        let connected = broker.on_message(a, &frame(StompFrame::connect("h")));
        assert_eq!(connected.replies, vec![(a, StompFrame::connected())]);
        broker.on_message(a, &frame(StompFrame::subscribe("s-a", "/topic/chat")));
        broker.on_message(b, &frame(StompFrame::subscribe("s-b", "/topic/chat")));
        broker.on_message(b, &frame(StompFrame::subscribe("s-x", "/topic/other")));
        let sent = broker.on_message(a, &frame(StompFrame::send("/topic/chat", b"hi")));
        assert_eq!(
            sent.replies,
            vec![
                (a, StompFrame::message("s-a", "m1", "/topic/chat", b"hi")),
                (b, StompFrame::message("s-b", "m2", "/topic/chat", b"hi")),
            ]
        );
        assert_eq!(sent.close, None);
    }

    #[test]
    fn unsubscribing_and_leaving_end_only_their_own_subscriptions() {
        let (a, b) = (SocketId(1), SocketId(2));
        let mut broker = Broker::default();
        broker.on_message(b, &frame(StompFrame::subscribe("s-b", "/topic/chat")));
        broker.on_message(a, &frame(StompFrame::subscribe("s-a", "/topic/chat")));
        broker.on_message(a, &frame(StompFrame::subscribe("s-a2", "/topic/chat")));
        let mut unsubscribe = StompFrame::subscribe("s-a", "/topic/chat");
        unsubscribe.command = "UNSUBSCRIBE".into();
        broker.on_message(a, &frame(unsubscribe));
        let sent = broker.on_message(a, &frame(StompFrame::send("/topic/chat", b"hi")));
        // Deliveries go in subscription order: b subscribed first.
        assert_eq!(
            sent.replies,
            vec![
                (b, StompFrame::message("s-b", "m1", "/topic/chat", b"hi")),
                (a, StompFrame::message("s-a2", "m2", "/topic/chat", b"hi")),
            ]
        );
        broker.forget(b);
        let sent = broker.on_message(a, &frame(StompFrame::send("/topic/chat", b"again")));
        assert_eq!(
            sent.replies,
            vec![(
                a,
                StompFrame::message("s-a2", "m3", "/topic/chat", b"again")
            )]
        );
        broker.forget(a);
        assert!(broker.subscriptions.is_empty());
        assert!(broker.by_connection.is_empty() && broker.by_destination.is_empty());
    }

    #[test]
    fn disconnect_gets_its_receipt_and_a_close() {
        let a = SocketId(1);
        let mut broker = Broker::default();
        let answer = broker.on_message(a, &frame(StompFrame::disconnect("bye")));
        assert_eq!(answer.replies, vec![(a, StompFrame::receipt("bye"))]);
        assert_eq!(answer.close.map(|(c, _)| c), Some(close::NORMAL));
    }

    #[test]
    fn garbage_gets_an_error_frame_and_a_protocol_error_close() {
        let a = SocketId(1);
        let mut broker = Broker::default();
        let answer = broker.on_message(a, b"not stomp at all");
        assert_eq!(answer.replies.len(), 1);
        assert_eq!(answer.replies[0].1.command, "ERROR");
        assert_eq!(answer.close.map(|(c, _)| c), Some(close::PROTOCOL_ERROR));
        // Heart-beats are not errors.
        let beat = broker.on_message(a, b"\n");
        assert!(beat.replies.is_empty() && beat.close.is_none());
    }
}

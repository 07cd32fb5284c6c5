//! TCP applications: server, client, bulk sender, sink.

use super::pattern;
use super::stream::Outbox;
use crate::app::{App, AppContext, Command};
use crate::socket::{Recv, SocketEvent, SocketId, TimerId};
use crate::time::{SimDuration, SimTime};
use crate::trace::AppEvent;
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// How much a server reads per `recv` call.
const READ_CHUNK: usize = 64 * 1024;

/// What a [`TcpServer`] sends back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Every byte received is sent back.
    Echo,
    /// Once `after_bytes` have been read, send `bytes` bytes (once per connection).
    Fixed {
        /// Bytes to read first.
        after_bytes: usize,
        /// Bytes to send.
        bytes: usize,
    },
    /// Read until the client's FIN, then send `bytes` bytes — the server
    /// keeps sending on a half-closed connection.
    AfterEof {
        /// Bytes to send.
        bytes: usize,
    },
    /// Never send anything.
    Nothing,
}

/// When a [`TcpServer`] closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerClose {
    /// When the client has closed (the server is the passive closer).
    OnEof,
    /// As soon as its reply is written (the server closes first and holds TIME-WAIT).
    AfterReply,
    /// Never: reads the client's FIN and leaves the socket in CLOSE-WAIT (a leak).
    Never,
    /// Resets the connection once its reply is written (SO_LINGER 0).
    AbortAfterReply,
}

/// A TCP server: accepts connections on a port, answers, closes.
#[derive(Clone, Debug)]
pub struct TcpServer {
    port: u16,
    backlog: Option<usize>,
    reply: Reply,
    close: ServerClose,
    conns: BTreeMap<SocketId, ServerConn>,
    /// Bytes received over all connections.
    pub bytes_received: u64,
    /// Connections accepted.
    pub accepted: u64,
}

#[derive(Clone, Debug, Default)]
struct ServerConn {
    received: usize,
    replied: bool,
    eof: bool,
    /// Bytes waiting for room in the send buffer.
    unsent: Outbox,
    closed: bool,
}

/// A server that echoes everything and closes when the client does.
pub struct TcpEcho;

impl TcpEcho {
    /// An echo server on `port`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(port: u16) -> TcpServer {
        TcpServer::new(port, Reply::Echo, ServerClose::OnEof)
    }
}

impl TcpServer {
    /// A server on `port` with the given reply and closing behaviour.
    pub fn new(port: u16, reply: Reply, close: ServerClose) -> TcpServer {
        TcpServer {
            port,
            backlog: None,
            reply,
            close,
            conns: BTreeMap::new(),
            bytes_received: 0,
            accepted: 0,
        }
    }

    /// Overrides the host's listen backlog.
    pub fn with_backlog(mut self, backlog: usize) -> TcpServer {
        self.backlog = Some(backlog);
        self
    }

    fn write(&mut self, cx: &mut AppContext<'_>, sid: SocketId, data: Payload) {
        let conn = self.conns.entry(sid).or_default();
        data.push_to(&mut conn.unsent);
        conn.unsent.flush(cx, sid);
    }

    fn read(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        loop {
            match cx.recv(sid, READ_CHUNK) {
                Ok(Recv::Data(data)) => {
                    self.bytes_received += data.len() as u64;
                    let conn = self.conns.entry(sid).or_default();
                    conn.received += data.len();
                    let received = conn.received;
                    match self.reply {
                        Reply::Echo => self.write(cx, sid, Payload::Bytes(data)),
                        Reply::Fixed { after_bytes, bytes } => {
                            let conn = self.conns.entry(sid).or_default();
                            if !conn.replied && received >= after_bytes {
                                conn.replied = true;
                                self.write(cx, sid, Payload::Filler(bytes as u64));
                            }
                        }
                        Reply::AfterEof { .. } | Reply::Nothing => {}
                    }
                }
                Ok(Recv::Eof) => {
                    let conn = self.conns.entry(sid).or_default();
                    conn.eof = true;
                    if let Reply::AfterEof { bytes } = self.reply
                        && !conn.replied
                    {
                        conn.replied = true;
                        self.write(cx, sid, Payload::Filler(bytes as u64));
                    }
                    break;
                }
                Ok(Recv::WouldBlock) | Err(_) => break,
            }
        }
        self.maybe_close(cx, sid);
    }

    fn maybe_close(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        if conn.closed || !conn.unsent.is_empty() {
            return;
        }
        let replied = match self.reply {
            Reply::Echo => conn.received > 0,
            Reply::Nothing => false,
            _ => conn.replied,
        };
        let close = match self.close {
            ServerClose::OnEof => conn.eof,
            ServerClose::AfterReply | ServerClose::AbortAfterReply => replied || conn.eof,
            ServerClose::Never => false,
        };
        if close {
            conn.closed = true;
            if self.close == ServerClose::AbortAfterReply {
                let _ = cx.abort(sid);
            } else {
                let _ = cx.close(sid);
            }
            self.conns.remove(&sid);
        }
    }
}

impl App for TcpServer {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen_or_report(self.port, self.backlog, "tcp.listen-failed");
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Incoming { port } => {
                while let Some(sid) = cx.accept(port) {
                    self.accepted += 1;
                    self.conns.insert(sid, ServerConn::default());
                }
            }
            SocketEvent::Readable(sid) if self.conns.contains_key(&sid) => self.read(cx, sid),
            SocketEvent::Readable(_) => {}
            SocketEvent::Writable(sid) => {
                if let Some(conn) = self.conns.get_mut(&sid) {
                    conn.unsent.flush(cx, sid);
                }
                self.maybe_close(cx, sid);
            }
            SocketEvent::Closed(sid, reason) => {
                let received = self.conns.remove(&sid).map_or(0, |c| c.received);
                cx.emit(
                    AppEvent::new(
                        "tcp.failed",
                        format!(
                            "connection ended: {reason} (the application had read {received} bytes)"
                        ),
                    )
                    .on(sid)
                    .with("reason", reason.to_string())
                    .with("bytes_read", received),
                );
                let _ = cx.close(sid);
            }
            SocketEvent::Connected(_) | SocketEvent::ConnectFailed(..) => {}
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        match command.verb.as_str() {
            // Close every open connection now (the server closes first).
            "close" => {
                let open: Vec<SocketId> = self.conns.keys().copied().collect();
                for sid in open {
                    self.conns.remove(&sid);
                    let _ = cx.close(sid);
                }
            }
            "send" => {
                let data = command_bytes(command);
                let open: Vec<SocketId> = self.conns.keys().copied().collect();
                for sid in open {
                    self.write(cx, sid, data.clone());
                }
            }
            "stop" => cx.unlisten(self.port),
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("tcp-server does not understand `{other}`"),
            )),
        }
    }
}

/// The bytes a `send` command carries: its text, or `count` filler bytes
/// (generated as the socket takes them).
fn command_bytes(command: &Command) -> Payload {
    match (&command.data, command.count) {
        (Some(d), _) => Payload::Bytes(d.as_bytes().to_vec()),
        (None, Some(n)) => Payload::Filler(n),
        (None, None) => Payload::Filler(100),
    }
}

/// One write of an application: bytes, or a number of
/// [`filler`](super::filler) bytes produced only as the socket takes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// These bytes.
    Bytes(Vec<u8>),
    /// This many bytes of `abc...z` repeated.
    Filler(u64),
}

impl Payload {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::Filler(n) => *n,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push_to(self, out: &mut Outbox) {
        match self {
            Payload::Bytes(b) => out.push(b),
            Payload::Filler(n) => out.push_filler(n),
        }
    }
}

/// How a [`TcpClient`] ends its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClose {
    /// Close once the expected reply has arrived (the client closes first).
    AfterReply,
    /// Half-close right after sending (`shutdown`), keep reading until the
    /// server closes, then close.
    ShutdownAfterSend,
    /// Wait for the server to close first, then close.
    OnEof,
    /// Reset the connection once the reply has arrived (SO_LINGER 0).
    AbortAfterReply,
    /// Never close (until told to by a `close` command).
    Never,
}

/// A TCP client: connects, sends, waits for a reply, closes; optionally
/// several times in a row.
#[derive(Clone, Debug)]
pub struct TcpClient {
    remote: SocketAddrV4,
    pieces: Vec<Payload>,
    expect_bytes: usize,
    close: ClientClose,
    connections: u64,
    nodelay: bool,
    local_port: Option<u16>,
    /// Pause between one connection's end and the next one's start.
    pub pause: SimDuration,
    current: Option<ClientConn>,
    pause_timer: Option<TimerId>,
    /// Connections completed (reply received or closed).
    pub completed: u64,
    /// Connections opened.
    pub opened: u64,
    /// Bytes received over all connections.
    pub bytes_received: u64,
    /// Connections that failed (refused, reset, timed out).
    pub failures: u64,
    /// When the first connection was established.
    pub first_connected_at: Option<SimTime>,
}

#[derive(Clone, Debug)]
struct ClientConn {
    sid: SocketId,
    received: usize,
    unsent: Outbox,
    done: bool,
    /// When the request was handed to TCP.
    sent_at: Option<SimTime>,
}

impl TcpClient {
    /// A client that connects to `remote`, sends `data`, waits for
    /// `expect_bytes` bytes back, and closes first.
    pub fn new(remote: SocketAddrV4, data: &[u8], expect_bytes: usize) -> TcpClient {
        TcpClient {
            remote,
            pieces: vec![Payload::Bytes(data.to_vec())],
            expect_bytes,
            close: ClientClose::AfterReply,
            connections: 1,
            nodelay: false,
            local_port: None,
            pause: SimDuration::ZERO,
            current: None,
            pause_timer: None,
            completed: 0,
            opened: 0,
            bytes_received: 0,
            failures: 0,
            first_connected_at: None,
        }
    }

    /// Chooses how the connection ends.
    pub fn close(mut self, close: ClientClose) -> TcpClient {
        self.close = close;
        self
    }

    /// Sends the request as separate writes (e.g. a header, then a body).
    pub fn pieces(mut self, pieces: Vec<Vec<u8>>) -> TcpClient {
        self.pieces = pieces.into_iter().map(Payload::Bytes).collect();
        self
    }

    /// Sends the request as separate writes, some of which may be filler
    /// generated as the socket takes it (`send_bytes = "10GiB"` costs no
    /// memory).
    pub fn payloads(mut self, pieces: Vec<Payload>) -> TcpClient {
        self.pieces = pieces;
        self
    }

    /// Opens `n` connections, one after another.
    pub fn connections(mut self, n: u64) -> TcpClient {
        self.connections = n;
        self
    }

    /// Disables Nagle's algorithm (`TCP_NODELAY`).
    pub fn nodelay(mut self, nodelay: bool) -> TcpClient {
        self.nodelay = nodelay;
        self
    }

    /// Connects from this local port, as `bind()` before `connect()` does,
    /// instead of an ephemeral one. Two clients bound to each other's
    /// remote ports that start together open one connection with crossing
    /// SYNs (a simultaneous open). A second connection from the same port
    /// fails while the first is in TIME-WAIT, as `bind()` does.
    pub fn local_port(mut self, port: u16) -> TcpClient {
        self.local_port = Some(port);
        self
    }

    fn open(&mut self, cx: &mut AppContext<'_>) {
        if self.opened >= self.connections {
            return;
        }
        self.opened += 1;
        let connected = match self.local_port {
            Some(port) => cx.connect_from(port, self.remote),
            None => cx.connect(self.remote),
        };
        match connected {
            Ok(sid) => {
                if self.nodelay {
                    let _ = cx.set_nagle(sid, false);
                }
                self.current = Some(ClientConn {
                    sid,
                    received: 0,
                    unsent: Outbox::new(),
                    done: false,
                    sent_at: None,
                });
            }
            Err(e) => {
                self.failures += 1;
                cx.emit(AppEvent::new(
                    "tcp.connect-failed",
                    format!("connect({}) failed: {e}", self.remote),
                ));
                self.next(cx);
            }
        }
    }

    /// Moves on to the next connection, if any.
    fn next(&mut self, cx: &mut AppContext<'_>) {
        self.current = None;
        if self.opened < self.connections {
            if self.pause.is_zero() {
                self.open(cx);
            } else {
                self.pause_timer = Some(cx.set_timer(self.pause));
            }
        }
    }

    fn finish(&mut self, cx: &mut AppContext<'_>, abort: bool) {
        if let Some(conn) = self.current.take() {
            if abort {
                let _ = cx.abort(conn.sid);
            } else {
                let _ = cx.close(conn.sid);
            }
            self.completed += 1;
        }
        self.next(cx);
    }

    fn read(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let mut eof = false;
        loop {
            // A client that closes after its reply reads exactly the reply it
            // expects; anything more stays unread in the socket (and makes
            // its close() a reset, as on Linux).
            let received = self.current.as_ref().map_or(0, |c| c.received);
            let closes_after_reply = matches!(
                self.close,
                ClientClose::AfterReply | ClientClose::AbortAfterReply
            );
            let max = if closes_after_reply && self.expect_bytes > 0 {
                self.expect_bytes.saturating_sub(received)
            } else {
                READ_CHUNK
            };
            if max == 0 {
                break;
            }
            match cx.recv(sid, max.min(READ_CHUNK)) {
                Ok(Recv::Data(d)) => {
                    self.bytes_received += d.len() as u64;
                    if let Some(c) = self.current.as_mut() {
                        c.received += d.len();
                    }
                }
                Ok(Recv::Eof) => {
                    eof = true;
                    break;
                }
                Ok(Recv::WouldBlock) | Err(_) => break,
            }
        }
        let Some(conn) = self.current.as_mut() else {
            return;
        };
        let got_reply = conn.received >= self.expect_bytes;
        if got_reply && !conn.done && self.expect_bytes > 0 {
            conn.done = true;
            let latency = cx.now() - conn.sent_at.unwrap_or(cx.now());
            cx.emit(
                AppEvent::new(
                    "tcp.reply",
                    format!(
                        "reply complete ({} bytes), {latency} after the request was written",
                        conn.received
                    ),
                )
                .on(sid)
                .with("bytes", conn.received)
                .with("latency", latency)
                .with("connection", self.opened),
            );
        }
        match self.close {
            ClientClose::AfterReply if got_reply => self.finish(cx, false),
            ClientClose::AbortAfterReply if got_reply => self.finish(cx, true),
            ClientClose::ShutdownAfterSend | ClientClose::OnEof if eof => self.finish(cx, false),
            ClientClose::AfterReply | ClientClose::AbortAfterReply if eof => self.finish(cx, false),
            _ => {
                if got_reply && !conn.done {
                    conn.done = true;
                }
            }
        }
    }
}

impl App for TcpClient {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.open(cx);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let current = self.current.as_ref().map(|c| c.sid);
        match event {
            SocketEvent::Connected(sid) if Some(sid) == current => {
                self.first_connected_at.get_or_insert(cx.now());
                if let Some(conn) = self.current.as_mut() {
                    conn.sent_at = Some(cx.now());
                }
                for piece in self.pieces.clone() {
                    let conn = self.current.as_mut().expect("checked above");
                    piece.push_to(&mut conn.unsent);
                    conn.unsent.flush(cx, sid);
                }
                if self.close == ClientClose::ShutdownAfterSend
                    && self.current.as_ref().is_some_and(|c| c.unsent.is_empty())
                {
                    let _ = cx.shutdown(sid);
                }
                if self.expect_bytes == 0 && self.close == ClientClose::AfterReply {
                    self.finish(cx, false);
                }
            }
            SocketEvent::Writable(sid) if Some(sid) == current => {
                let conn = self.current.as_mut().expect("checked above");
                conn.unsent.flush(cx, sid);
                if conn.unsent.is_empty() && self.close == ClientClose::ShutdownAfterSend {
                    let _ = cx.shutdown(sid);
                }
            }
            SocketEvent::Readable(sid) if Some(sid) == current => self.read(cx, sid),
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason) => {
                self.failures += 1;
                cx.emit(
                    AppEvent::new(
                        "tcp.failed",
                        format!("connection to {} failed: {reason}", self.remote),
                    )
                    .on(sid),
                );
                let _ = cx.close(sid);
                if Some(sid) == current {
                    self.next(cx);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if self.pause_timer == Some(timer) {
            self.pause_timer = None;
            self.open(cx);
        }
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        let Some(sid) = self.current.as_ref().map(|c| c.sid) else {
            cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("`{}`: no open connection", command.verb),
            ));
            return;
        };
        match command.verb.as_str() {
            "send" => {
                let conn = self.current.as_mut().expect("checked above");
                command_bytes(command).push_to(&mut conn.unsent);
                conn.unsent.flush(cx, sid);
            }
            "close" => self.finish(cx, false),
            "abort" => self.finish(cx, true),
            "shutdown" => {
                let _ = cx.shutdown(sid);
            }
            other => cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("tcp-client does not understand `{other}`"),
            )),
        }
    }
}

/// Sends `bytes` bytes of [`pattern`] as fast as the connection allows, then closes.
#[derive(Clone, Debug)]
pub struct BulkSender {
    remote: SocketAddrV4,
    total: u64,
    sent: u64,
    sid: Option<SocketId>,
    /// When the last byte was handed to TCP.
    pub finished_writing_at: Option<SimTime>,
}

impl BulkSender {
    /// A sender of `bytes` bytes to `remote`.
    pub fn new(remote: SocketAddrV4, bytes: u64) -> BulkSender {
        BulkSender {
            remote,
            total: bytes,
            sent: 0,
            sid: None,
            finished_writing_at: None,
        }
    }

    fn pump(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        while self.sent < self.total {
            let want = (self.total - self.sent).min(READ_CHUNK as u64) as usize;
            match cx.send(sid, pattern::slice(self.sent, want)) {
                Ok(0) | Err(_) => return,
                Ok(k) => self.sent += k as u64,
            }
        }
        if self.finished_writing_at.is_none() {
            self.finished_writing_at = Some(cx.now());
            let _ = cx.close(sid);
        }
    }
}

impl App for BulkSender {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        match cx.connect(self.remote) {
            Ok(sid) => self.sid = Some(sid),
            Err(e) => cx.emit(AppEvent::new(
                "tcp.connect-failed",
                format!("connect failed: {e}"),
            )),
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Connected(sid) | SocketEvent::Writable(sid) => self.pump(cx, sid),
            SocketEvent::Readable(sid) => while let Ok(Recv::Data(_)) = cx.recv(sid, READ_CHUNK) {},
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason) => {
                cx.emit(
                    AppEvent::new("tcp.failed", format!("bulk transfer failed: {reason}")).on(sid),
                );
                let _ = cx.close(sid);
            }
            SocketEvent::Incoming { .. } => {}
        }
    }
}

/// Accepts connections and reads everything, optionally slowly, checking
/// that the bytes are the [`pattern`] stream a [`BulkSender`] sends: each
/// connection's `sink.eof` event says `intact = true`, or `intact = false`
/// with `first_mismatch`, the stream position of the first wrong byte.
#[derive(Clone, Debug)]
pub struct Sink {
    port: u16,
    /// Read at most this many bytes per `read_interval` (a slow reader).
    read_bytes: Option<usize>,
    read_interval: SimDuration,
    conns: BTreeMap<SocketId, SinkConn>,
    timer: Option<TimerId>,
    /// Bytes read over all connections.
    pub bytes_received: u64,
    /// When the last connection's EOF was read.
    pub last_eof_at: Option<SimTime>,
    /// Stream position of the first byte that was not what a [`BulkSender`]
    /// sends there, on the first connection that had one, if any.
    pub first_mismatch: Option<u64>,
}

#[derive(Clone, Debug, Default)]
struct SinkConn {
    received: u64,
    accepted_at: SimTime,
    /// Stream position of this connection's first byte that differs from
    /// the [`pattern`].
    first_mismatch: Option<u64>,
}

impl Sink {
    /// A sink that reads as fast as data arrives.
    pub fn new(port: u16) -> Sink {
        Sink {
            port,
            read_bytes: None,
            read_interval: SimDuration::from_millis(100),
            conns: BTreeMap::new(),
            timer: None,
            bytes_received: 0,
            last_eof_at: None,
            first_mismatch: None,
        }
    }

    /// A slow reader: `bytes` every `interval` (at least
    /// [`SimDuration::MIN_INTERVAL`]).
    pub fn slow(port: u16, bytes: usize, interval: SimDuration) -> Sink {
        Sink {
            read_bytes: Some(bytes.max(1)),
            read_interval: interval.as_interval(),
            ..Sink::new(port)
        }
    }

    /// Reads from one connection up to `budget` bytes; returns bytes read.
    fn drain(&mut self, cx: &mut AppContext<'_>, sid: SocketId, mut budget: usize) -> usize {
        let mut total = 0;
        while budget > 0 {
            match cx.recv(sid, budget.min(READ_CHUNK)) {
                Ok(Recv::Data(d)) => {
                    total += d.len();
                    budget -= d.len();
                    self.bytes_received += d.len() as u64;
                    if let Some(c) = self.conns.get_mut(&sid) {
                        if c.first_mismatch.is_none() {
                            c.first_mismatch = pattern::first_mismatch(c.received, &d);
                            if self.first_mismatch.is_none() {
                                self.first_mismatch = c.first_mismatch;
                            }
                        }
                        c.received += d.len() as u64;
                    }
                }
                Ok(Recv::Eof) => {
                    let conn = self.conns.remove(&sid).unwrap_or_default();
                    let took = cx.now() - conn.accepted_at;
                    let content = match conn.first_mismatch {
                        None => "intact".to_string(),
                        Some(at) => format!("differs from bulk-send's bytes from byte {at} on"),
                    };
                    let mut event = AppEvent::new(
                        "sink.eof",
                        format!("received {} bytes in {took}, {content}", conn.received),
                    )
                    .on(sid)
                    .with("bytes", conn.received)
                    .with("duration", took)
                    .with("intact", conn.first_mismatch.is_none());
                    if let Some(at) = conn.first_mismatch {
                        event = event.with("first_mismatch", at);
                    }
                    cx.emit(event);
                    self.last_eof_at = Some(cx.now());
                    let _ = cx.close(sid);
                    break;
                }
                Ok(Recv::WouldBlock) | Err(_) => break,
            }
        }
        total
    }

    fn arm(&mut self, cx: &mut AppContext<'_>) {
        if self.timer.is_none() && !self.conns.is_empty() {
            self.timer = Some(cx.set_timer(self.read_interval));
        }
    }
}

impl App for Sink {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen_or_report(self.port, None, "tcp.listen-failed");
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Incoming { port } => {
                while let Some(sid) = cx.accept(port) {
                    self.conns.insert(
                        sid,
                        SinkConn {
                            received: 0,
                            accepted_at: cx.now(),
                            first_mismatch: None,
                        },
                    );
                }
                self.arm(cx);
            }
            // A socket this sink already closed (its end of stream came
            // with the data) has nothing more to say.
            SocketEvent::Readable(sid) if !self.conns.contains_key(&sid) => {}
            SocketEvent::Readable(sid) => {
                if self.read_bytes.is_none() {
                    self.drain(cx, sid, usize::MAX);
                } else {
                    // A slow reader leaves data in the buffer until its next
                    // tick, so the window closes.
                    self.arm(cx);
                }
            }
            SocketEvent::Closed(sid, reason) => {
                let read = self.conns.remove(&sid).map_or(0, |c| c.received);
                cx.emit(
                    AppEvent::new(
                        "tcp.failed",
                        format!(
                            "connection ended: {reason}, after the application read {read} bytes"
                        ),
                    )
                    .on(sid)
                    .with("reason", reason.to_string())
                    .with("bytes_read", read),
                );
                let _ = cx.close(sid);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if self.timer != Some(timer) {
            return;
        }
        self.timer = None;
        let budget = self.read_bytes.unwrap_or(usize::MAX);
        let ids: Vec<SocketId> = self.conns.keys().copied().collect();
        for sid in ids {
            self.drain(cx, sid, budget);
        }
        self.arm(cx);
    }
}

/// Opens `n` connections at once and then holds them, doing nothing: the
/// idle keep-alive connections a busy server carries, for scale tests and
/// memory measurements.
#[derive(Clone, Debug)]
pub struct IdleConnections {
    remote: SocketAddrV4,
    n: usize,
}

impl IdleConnections {
    /// `n` connections to `remote`.
    pub fn new(remote: SocketAddrV4, n: usize) -> Self {
        Self { remote, n }
    }
}

impl App for IdleConnections {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        for _ in 0..self.n {
            if let Err(e) = cx.connect(self.remote) {
                cx.emit(AppEvent::new(
                    "tcp.connect-failed",
                    format!("connect({}) failed: {e}", self.remote),
                ));
                return;
            }
        }
    }

    fn on_socket(&mut self, _cx: &mut AppContext<'_>, _event: SocketEvent) {}
}

//! The server side of one HTTP/1.1 connection, as a sans-IO state machine.
//!
//! [`ServerConn`] reads requests out of the bytes a client sent, reports them
//! as [`ServerEvent`]s, and turns the application's answers into bytes. It
//! owns every decision HTTP/1.1 makes about the connection itself:
//!
//! - **framing**: request bodies delimited by `Content-Length` or chunked;
//!   responses delimited by `Content-Length`, chunked (streaming), or the
//!   end of the connection (streaming to an HTTP/1.0 client);
//! - **order**: pipelined requests are answered in the order they arrived,
//!   whatever order the application answers them in;
//! - **persistence**: HTTP/1.1 keeps the connection open unless the client
//!   (or the application) says `Connection: close`; HTTP/1.0 closes unless
//!   the client says `Connection: keep-alive`; the connection closes after
//!   [`ServerConfig::max_requests`] responses, or after
//!   [`ServerConfig::idle_timeout`] with nothing to do;
//! - **refusal**: malformed input and broken [`Limits`] are answered with an
//!   error status and a close;
//! - **upgrade**: after `101 Switching Protocols` the connection's bytes
//!   belong to another protocol, and this object only hands them over.
//!
//! It deliberately does not read a clock, touch a socket, route requests,
//! write a `Date` header (output must depend on input only), send
//! `100 Continue` (a client that waits for it proceeds after its own
//! timeout, as curl does), answer a timeout with `408` (an idle or stalled
//! connection is simply closed, as servers do with idle keep-alive
//! connections), decode content codings, or speak HTTP/2.
//!
//! # Driving a connection
//!
//! After every input ([`handle_input`](ServerConn::handle_input),
//! [`handle_eof`](ServerConn::handle_eof),
//! [`handle_timeout`](ServerConn::handle_timeout)) and every answer
//! ([`send_response`](ServerConn::send_response) and friends), in this
//! order:
//!
//! 1. drain [`poll_event`](ServerConn::poll_event) and act on each event (an
//!    answer may be given at once or much later, e.g. for long polling);
//! 2. drain [`poll_transmit`](ServerConn::poll_transmit) into the socket;
//! 3. if [`wants_close`](ServerConn::wants_close), close the socket;
//!    otherwise arm a timer for [`poll_timeout`](ServerConn::poll_timeout),
//!    and keep reading the socket while
//!    [`wants_input`](ServerConn::wants_input) is true.

use std::collections::VecDeque;

use simnet_core::time::{SimDuration, SimTime};

use super::body::{BodyDecoder, Framing, Piece};
use super::error::ProtocolError;
use super::head::{self, RequestHead, RequestHeadLimits};
use super::headers::{self, ContentLengthError, TransferEncoding};
use super::message::{Request, RequestId, Response, Version, reason_phrase, status_has_no_body};

/// Limits on what a client may send. Breaking one is answered with an error
/// status and a close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest request line, without its CRLF. Default 8192 bytes.
    /// Longer: `414 URI Too Long`.
    pub max_request_line_bytes: usize,
    /// The most header fields in a request. Default 100.
    /// More: `431 Request Header Fields Too Large`.
    pub max_headers: usize,
    /// The longest request head: request line, header fields and the blank
    /// line that ends them. Default 16384 bytes. Longer: `431`. The same
    /// limit applies to the trailer section of a chunked body.
    pub max_header_bytes: usize,
    /// The longest decoded request body. Default 1 MiB (1048576 bytes).
    /// Longer: `413 Content Too Large`, sent as soon as `Content-Length` or a
    /// chunk-size line announces it, before the body arrives.
    pub max_body_bytes: usize,
    /// The most requests held waiting for their responses. Default 16.
    ///
    /// While that many are waiting, the connection stops parsing and
    /// [`ServerConn::wants_input`] turns false, so that the application can
    /// stop reading and let TCP flow control push back on the client. If
    /// more than `max_header_bytes + max_body_bytes` (one maximal request)
    /// arrive anyway, the connection refuses with `503 Service Unavailable`
    /// after the responses it owes, and closes.
    pub max_pipelined_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line_bytes: 8192,
            max_headers: 100,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
            max_pipelined_requests: 16,
        }
    }
}

/// How a server connection behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long a connection with no request in progress may stay open with
    /// nothing arriving. Announced to clients as `Keep-Alive: timeout=N` in
    /// whole seconds, rounded down so that a client never waits longer than
    /// the server. `None`: never. Default 5 s (Apache's default).
    pub idle_timeout: Option<SimDuration>,
    /// How many requests one connection serves; the response to the last one
    /// carries `Connection: close`. Announced as `Keep-Alive: max=M`, the
    /// number of requests still allowed after the current one. `Some(0)`
    /// behaves like `Some(1)`. `None`: no limit. Default 100 (Apache's
    /// default).
    pub max_requests: Option<u32>,
    /// Limits on what a client may send.
    pub limits: Limits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            idle_timeout: Some(SimDuration::from_secs(5)),
            max_requests: Some(100),
            limits: Limits::default(),
        }
    }
}

/// Something the application needs to know or act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A complete request, body included. Answer it with
    /// [`ServerConn::send_response`] or [`ServerConn::start_stream`].
    Request {
        /// The request's position on this connection.
        id: RequestId,
        /// The request.
        request: Request,
    },
    /// A complete request that asks to switch protocols (`Connection:
    /// upgrade` and an `Upgrade` field, HTTP/1.1 only). Reading stops until
    /// the application decides: [`ServerConn::accept_upgrade`] switches, and
    /// any normal response refuses and carries on with HTTP.
    UpgradeRequested {
        /// The request's position on this connection.
        id: RequestId,
        /// The request.
        request: Request,
    },
    /// The client sent something malformed or too large. The error response
    /// is already queued (after the responses still owed to earlier
    /// requests), and the connection closes after it. Statuses: 400
    /// malformed, 413 body too large, 414 request line too long, 431 head,
    /// header count or trailers too large, 501 unsupported transfer coding,
    /// 503 input overflow while stalled (see
    /// [`Limits::max_pipelined_requests`]), 505 unsupported version.
    BadRequest {
        /// The status code of the error response.
        status: u16,
        /// What was wrong, in words; also the error response's body.
        reason: String,
    },
    /// Nothing arrived for [`ServerConfig::idle_timeout`] while no request
    /// awaited a response: the connection wants to close. A request that was
    /// only partly received is dropped without an answer.
    IdleTimeout,
    /// The client closed its sending side. Requests already received are
    /// still answered; the connection wants to close once they are.
    PeerClosed,
}

/// Why the application's answer could not be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No request with this id is waiting for a response: it was never
    /// received, is already fully answered, or was dropped because an earlier
    /// response closed the connection.
    #[error("request {0} is not awaiting a response on this connection")]
    UnknownRequest(RequestId),
    /// The request already has a response (or a stream) queued.
    #[error("request {0} has already been answered")]
    AlreadyAnswered(RequestId),
    /// `send_chunk` or `finish_stream` for a request without an open stream.
    #[error("request {0} has no open response stream")]
    NoOpenStream(RequestId),
    /// `accept_upgrade` for a request that did not ask to switch protocols,
    /// or after the connection stopped reading (peer input overflowed).
    #[error("request {0} cannot be upgraded")]
    UpgradeUnavailable(RequestId),
    /// `accept_upgrade` while earlier requests still await their responses:
    /// the `101` must be the last HTTP bytes on the connection.
    #[error("responses to requests before {0} have not been written yet")]
    EarlierResponsesPending(RequestId),
    /// A status outside 200..=999 (interim `1xx` responses other than the
    /// `101` of [`ServerConn::accept_upgrade`] are not supported).
    #[error("status {0} cannot be sent as a response")]
    InvalidStatus(u16),
    /// A header name that is not a token, or a value with control
    /// characters (a CR or LF would let it forge other headers).
    #[error("header field {0:?} cannot be written safely")]
    InvalidHeader(String),
}

/// The server side of one HTTP/1.1 connection. See the [module
/// docs](self) for how to drive it.
#[derive(Clone, Debug)]
pub struct ServerConn {
    config: ServerConfig,
    /// Received bytes not parsed yet.
    input: Vec<u8>,
    reading: Reading,
    /// Responses owed, oldest first: one per request read and not yet fully
    /// written, plus error responses the connection generated itself.
    pending: VecDeque<Exchange>,
    next_id: u64,
    events: VecDeque<ServerEvent>,
    /// Bytes ready for `poll_transmit`.
    output: Vec<u8>,
    /// Bytes of the new protocol, after an accepted upgrade.
    upgraded: Vec<u8>,
    /// When something last happened; the idle timer counts from here.
    last_activity: SimTime,
    peer_closed: bool,
    requests_served: u64,
}

/// What the connection does with incoming bytes.
#[derive(Clone, Debug)]
enum Reading {
    /// Waiting for the next request head.
    Head,
    /// A request head has been read; its body is arriving.
    Body(Box<IncomingRequest>),
    /// An upgrade request awaits the application's decision. Input is held
    /// unparsed: it may already belong to the new protocol.
    UpgradeDecision,
    /// The `101` has been written; input belongs to the new protocol.
    Upgraded,
    /// No more requests will be read; input is discarded.
    Done,
}

/// A request whose head has been read and whose body is arriving.
#[derive(Clone, Debug)]
struct IncomingRequest {
    id: RequestId,
    request: Request,
    exchange: Exchange,
    decoder: BodyDecoder,
}

/// One response owed, and what is known about how to write it.
#[derive(Clone, Debug)]
struct Exchange {
    /// `None` for an error response the connection generated itself.
    id: Option<RequestId>,
    version: Version,
    /// A `HEAD` request: its response has headers but no body.
    head_method: bool,
    /// Whether the connection closes once this response is written.
    close_after: bool,
    /// The protocol named in `Upgrade`, if the request asked to switch.
    upgrade: Option<String>,
    response: Outgoing,
}

/// The state of one response.
#[derive(Clone, Debug)]
enum Outgoing {
    /// The application has not answered yet.
    Waiting,
    /// The whole response, waiting only for earlier responses.
    Complete(Vec<u8>),
    /// A streamed response: bytes written by the application but not moved
    /// to the output yet, and whether the stream has ended.
    Streaming {
        unsent: Vec<u8>,
        framing: StreamFraming,
        finished: bool,
    },
}

/// How a streamed response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamFraming {
    /// `Transfer-Encoding: chunked`, for HTTP/1.1 clients.
    Chunked,
    /// No framing: the body ends when the connection closes. HTTP/1.0
    /// clients do not understand chunks.
    UntilClose,
    /// The response has no body (`HEAD`, `204`, `304`); chunks are dropped.
    NoBody,
    /// `Content-Length` was announced in the head: this many body bytes are
    /// still to come, and the response is complete when none are.
    Sized(u64),
}

/// Header fields the connection writes itself; the application's own
/// values for them are not sent (only its `Connection: close` is honoured).
const FRAMING_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

impl ServerConn {
    /// A connection that was accepted at `now`; the idle timer starts here.
    pub fn new(config: ServerConfig, now: SimTime) -> ServerConn {
        ServerConn {
            config,
            input: Vec::new(),
            reading: Reading::Head,
            pending: VecDeque::new(),
            next_id: 0,
            events: VecDeque::new(),
            output: Vec::new(),
            upgraded: Vec::new(),
            last_activity: now,
            peer_closed: false,
            requests_served: 0,
        }
    }

    // ----- Getters -----

    /// The configuration the connection was created with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// How many requests have been answered completely (their last byte
    /// handed to the output), the `101` of an upgrade included.
    pub fn requests_served(&self) -> u64 {
        self.requests_served
    }

    /// How many responses are still owed, including error responses the
    /// connection queued itself.
    pub fn responses_owed(&self) -> usize {
        self.pending.len()
    }

    /// Whether the connection is waiting for a new request with nothing
    /// buffered and nothing owed: the state an idle keep-alive connection
    /// sits in.
    pub fn is_idle(&self) -> bool {
        matches!(self.reading, Reading::Head) && self.pending.is_empty() && self.input.is_empty()
    }

    /// Whether an upgrade was accepted: from then on the connection belongs
    /// to another protocol.
    pub fn is_upgraded(&self) -> bool {
        matches!(self.reading, Reading::Upgraded)
    }

    /// Whether the application should keep reading from the socket. False
    /// while the connection cannot parse further (the pipeline is full, or an
    /// upgrade decision is pending): not reading then lets TCP flow control
    /// slow the client down.
    pub fn wants_input(&self) -> bool {
        match self.reading {
            Reading::Head => self.pending.len() < self.config.limits.max_pipelined_requests,
            Reading::UpgradeDecision => false,
            Reading::Body(_) | Reading::Upgraded | Reading::Done => true,
        }
    }

    /// Whether the application should close the socket now: no more requests
    /// will be read and every response has been handed out by
    /// [`poll_transmit`](Self::poll_transmit). Never true once upgraded.
    pub fn wants_close(&self) -> bool {
        matches!(self.reading, Reading::Done) && self.pending.is_empty() && self.output.is_empty()
    }

    // ----- Input -----

    /// Bytes arrived from the client.
    ///
    /// They are parsed as far as possible. After an accepted upgrade they
    /// are buffered for [`take_upgraded_bytes`](Self::take_upgraded_bytes);
    /// once the connection has decided to close, they are discarded.
    pub fn handle_input(&mut self, now: SimTime, data: &[u8]) {
        match self.reading {
            Reading::Upgraded => return self.upgraded.extend_from_slice(data),
            Reading::Done => return,
            Reading::Head | Reading::Body(_) | Reading::UpgradeDecision => {}
        }
        if data.is_empty() || self.peer_closed {
            return;
        }
        self.last_activity = now;
        self.input.extend_from_slice(data);
        self.read_requests(now);
        self.refuse_overflowing_input(now);
    }

    /// The client closed its sending side (a FIN arrived).
    ///
    /// A request cut short is dropped without an answer; complete requests
    /// are still answered, then the connection wants to close.
    pub fn handle_eof(&mut self, now: SimTime) {
        if self.peer_closed {
            return;
        }
        self.peer_closed = true;
        self.events.push_back(ServerEvent::PeerClosed);
        self.read_requests(now);
    }

    /// Time has reached `now`. If that is at or past
    /// [`poll_timeout`](Self::poll_timeout), the idle timer fires.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            self.stop_reading();
            self.events.push_back(ServerEvent::IdleTimeout);
        }
    }

    // ----- Answers from the application -----

    /// Answers request `id` with a complete response.
    ///
    /// The connection writes the status line (`HTTP/1.1`, standard reason
    /// phrase) and the application's headers, then adds `Content-Length`
    /// (except for `204` and `304`), `Connection: keep-alive` or
    /// `Connection: close`, and `Keep-Alive: timeout=N, max=M` when the
    /// connection stays open and either is configured. The application's own
    /// `Content-Length`, `Transfer-Encoding`, `Connection` and `Keep-Alive`
    /// fields are not sent, but its `Connection: close` closes the
    /// connection after this response. For a `HEAD` request the body is not
    /// sent; its length is still announced.
    ///
    /// The response goes out once every earlier response has; answering an
    /// upgrade request this way refuses the upgrade.
    pub fn send_response(
        &mut self,
        now: SimTime,
        id: RequestId,
        response: Response,
    ) -> Result<(), SendError> {
        check_response_head(response.status, &response.headers)?;
        let keep_alive = self.keep_alive_value(id);
        let exchange = self.waiting_exchange(id)?;
        if headers::has_token(&response.headers, "connection", "close") {
            exchange.close_after = true;
        }
        let has_body = !status_has_no_body(response.status);
        let mut bytes = Vec::new();
        write_head(&mut bytes, response.status, &response.headers);
        if has_body {
            write_field(
                &mut bytes,
                "Content-Length",
                &response.body.len().to_string(),
            );
        }
        write_persistence(&mut bytes, exchange.close_after, keep_alive.as_deref());
        bytes.extend_from_slice(b"\r\n");
        if has_body && !exchange.head_method {
            bytes.extend_from_slice(&response.body);
        }
        exchange.response = Outgoing::Complete(bytes);
        let (close_after, was_upgrade) = (exchange.close_after, exchange.upgrade.is_some());
        self.after_answer(now, close_after, was_upgrade);
        Ok(())
    }

    /// Starts a streamed response to request `id`: writes the head now, and
    /// the body later with [`send_chunk`](Self::send_chunk) and
    /// [`finish_stream`](Self::finish_stream).
    ///
    /// For an HTTP/1.1 client the head says `Transfer-Encoding: chunked`.
    /// An HTTP/1.0 client does not understand chunks, so its body is sent
    /// bare and ends when the connection closes (after `finish_stream`).
    /// Headers are handled as in [`send_response`](Self::send_response).
    pub fn start_stream(
        &mut self,
        now: SimTime,
        id: RequestId,
        status: u16,
        headers: &[(String, String)],
    ) -> Result<(), SendError> {
        check_response_head(status, headers)?;
        let keep_alive = self.keep_alive_value(id);
        let exchange = self.waiting_exchange(id)?;
        if headers::has_token(headers, "connection", "close") {
            exchange.close_after = true;
        }
        let framing = if exchange.head_method || status_has_no_body(status) {
            StreamFraming::NoBody
        } else if exchange.version == Version::Http10 {
            exchange.close_after = true;
            StreamFraming::UntilClose
        } else {
            StreamFraming::Chunked
        };
        let mut bytes = Vec::new();
        write_head(&mut bytes, status, headers);
        if framing == StreamFraming::Chunked {
            write_field(&mut bytes, "Transfer-Encoding", "chunked");
        }
        write_persistence(&mut bytes, exchange.close_after, keep_alive.as_deref());
        bytes.extend_from_slice(b"\r\n");
        exchange.response = Outgoing::Streaming {
            unsent: bytes,
            framing,
            finished: false,
        };
        let (close_after, was_upgrade) = (exchange.close_after, exchange.upgrade.is_some());
        self.after_answer(now, close_after, was_upgrade);
        Ok(())
    }

    /// Answers request `id` with a body of `body_len` bytes that the
    /// application writes later, piece by piece, with
    /// [`send_chunk`](Self::send_chunk): a long body never has to be in
    /// memory at once. The head is the one
    /// [`send_response`](Self::send_response) would write for a body of
    /// that length (`Content-Length: body_len`), and so are the bytes on
    /// the wire. The response is complete when `body_len` bytes have been
    /// written; bytes beyond that are dropped. For a `HEAD` request, or a
    /// status without a body, the length is announced as `send_response`
    /// does and the response is complete at once.
    pub fn start_sized_response(
        &mut self,
        now: SimTime,
        id: RequestId,
        status: u16,
        headers: &[(String, String)],
        body_len: u64,
    ) -> Result<(), SendError> {
        check_response_head(status, headers)?;
        let keep_alive = self.keep_alive_value(id);
        let exchange = self.waiting_exchange(id)?;
        if headers::has_token(headers, "connection", "close") {
            exchange.close_after = true;
        }
        let has_body = !status_has_no_body(status);
        let mut bytes = Vec::new();
        write_head(&mut bytes, status, headers);
        if has_body {
            write_field(&mut bytes, "Content-Length", &body_len.to_string());
        }
        write_persistence(&mut bytes, exchange.close_after, keep_alive.as_deref());
        bytes.extend_from_slice(b"\r\n");
        let framing = if has_body && !exchange.head_method {
            StreamFraming::Sized(body_len)
        } else {
            StreamFraming::NoBody
        };
        exchange.response = Outgoing::Streaming {
            unsent: bytes,
            framing,
            finished: matches!(framing, StreamFraming::NoBody | StreamFraming::Sized(0)),
        };
        let (close_after, was_upgrade) = (exchange.close_after, exchange.upgrade.is_some());
        self.after_answer(now, close_after, was_upgrade);
        Ok(())
    }

    /// Writes one chunk of a streamed response. An empty `data` writes
    /// nothing (an empty chunk would end the body). For a response started
    /// with [`start_sized_response`](Self::start_sized_response), the bytes
    /// are the body itself, and the one that completes it ends the response.
    pub fn send_chunk(
        &mut self,
        now: SimTime,
        id: RequestId,
        data: &[u8],
    ) -> Result<(), SendError> {
        let (unsent, framing, finished, _) = self.open_stream(id)?;
        let mut completed = false;
        match framing {
            StreamFraming::Chunked if !data.is_empty() => {
                unsent.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                unsent.extend_from_slice(data);
                unsent.extend_from_slice(b"\r\n");
            }
            StreamFraming::UntilClose => unsent.extend_from_slice(data),
            StreamFraming::Sized(remaining) => {
                let n = (data.len() as u64).min(*remaining) as usize;
                unsent.extend_from_slice(&data[..n]);
                *remaining -= n as u64;
                if *remaining == 0 {
                    *finished = true;
                    completed = true;
                }
            }
            StreamFraming::Chunked | StreamFraming::NoBody => {}
        }
        self.flush(now);
        if completed {
            self.read_requests(now);
        }
        Ok(())
    }

    /// Whether the response to request `id` is the one being written now
    /// (every earlier response is out): what it is given next goes
    /// straight to [`poll_transmit`](Self::poll_transmit). An application
    /// writing a long body piece by piece feeds it only then, so that the
    /// body never piles up behind a response that is not ready.
    pub fn is_sending(&self, id: RequestId) -> bool {
        self.pending.front().is_some_and(|e| e.id == Some(id))
    }

    /// Whether request `id` has a streamed response that is still open
    /// (not finished, not dropped because the connection is closing).
    pub fn stream_is_open(&self, id: RequestId) -> bool {
        self.pending.iter().any(|e| {
            e.id == Some(id)
                && matches!(
                    e.response,
                    Outgoing::Streaming {
                        finished: false,
                        ..
                    }
                )
        })
    }

    /// Ends a streamed response: writes the last (empty) chunk. A sized
    /// response ended before all of its announced body was written cannot
    /// be delimited any more: the connection closes after it.
    pub fn finish_stream(&mut self, now: SimTime, id: RequestId) -> Result<(), SendError> {
        let (unsent, framing, finished, close_after) = self.open_stream(id)?;
        match framing {
            StreamFraming::Chunked => unsent.extend_from_slice(b"0\r\n\r\n"),
            StreamFraming::Sized(remaining) if *remaining > 0 => *close_after = true,
            _ => {}
        }
        *finished = true;
        self.flush(now);
        self.read_requests(now);
        Ok(())
    }

    /// Accepts the upgrade asked for by request `id`: writes
    /// `101 Switching Protocols` with `Upgrade` (the application's value if
    /// `headers` has one, else the request's), `Connection: Upgrade` and the
    /// application's `headers` (e.g. `Sec-WebSocket-Accept`).
    ///
    /// From then on the connection is upgraded: bytes that arrived after the
    /// request, and all later input, are available from
    /// [`take_upgraded_bytes`](Self::take_upgraded_bytes). Drain
    /// [`poll_transmit`](Self::poll_transmit) before sending bytes of the
    /// new protocol, so the `101` goes first.
    pub fn accept_upgrade(
        &mut self,
        now: SimTime,
        id: RequestId,
        headers: &[(String, String)],
    ) -> Result<(), SendError> {
        if let Some(name) = headers::first_invalid(headers) {
            return Err(SendError::InvalidHeader(name.to_string()));
        }
        let position = self
            .pending
            .iter()
            .position(|exchange| exchange.id == Some(id))
            .ok_or(SendError::UnknownRequest(id))?;
        let exchange = &self.pending[position];
        if !matches!(exchange.response, Outgoing::Waiting) {
            return Err(SendError::AlreadyAnswered(id));
        }
        let Some(requested) = &exchange.upgrade else {
            return Err(SendError::UpgradeUnavailable(id));
        };
        if !matches!(self.reading, Reading::UpgradeDecision) {
            return Err(SendError::UpgradeUnavailable(id));
        }
        if position != 0 {
            return Err(SendError::EarlierResponsesPending(id));
        }

        let protocol = headers::get(headers, "upgrade").unwrap_or(requested);
        write_status_line(&mut self.output, 101);
        write_field(&mut self.output, "Upgrade", protocol);
        write_field(&mut self.output, "Connection", "Upgrade");
        for (name, value) in headers {
            if !is_framing_header(name) && !name.eq_ignore_ascii_case("upgrade") {
                write_field(&mut self.output, name, value);
            }
        }
        self.output.extend_from_slice(b"\r\n");

        self.pending.pop_front();
        self.requests_served += 1;
        self.reading = Reading::Upgraded;
        self.upgraded.append(&mut self.input);
        self.last_activity = now;
        Ok(())
    }

    /// Takes the bytes of the new protocol received so far (after an
    /// accepted upgrade): first whatever followed the upgrade request, then
    /// everything passed to [`handle_input`](Self::handle_input) since.
    pub fn take_upgraded_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.upgraded)
    }

    // ----- Output -----

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Appends the bytes ready to send to `buf` and returns how many there
    /// were.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let count = self.output.len();
        buf.append(&mut self.output);
        count
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called:
    /// the idle deadline, while no request awaits a response. `None` when
    /// no timer runs.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let timeout = self.config.idle_timeout?;
        let reading = matches!(self.reading, Reading::Head | Reading::Body(_));
        (reading && self.pending.is_empty()).then(|| self.last_activity + timeout)
    }

    // ----- Reading requests -----

    /// Parses as many requests out of the input as the state allows.
    fn read_requests(&mut self, now: SimTime) {
        let needs_input = loop {
            match &mut self.reading {
                Reading::Head => {
                    if self.pending.len() >= self.config.limits.max_pipelined_requests {
                        break false;
                    }
                    head::skip_empty_lines(&mut self.input);
                    match head::parse_request(&self.input, self.head_limits()) {
                        Ok(Some(head)) => {
                            self.input.drain(..head.len);
                            self.start_request(now, head);
                        }
                        Ok(None) => break true,
                        Err(error) => {
                            self.refuse(now, error);
                            break false;
                        }
                    }
                }
                Reading::Body(incoming) => match incoming.decoder.decode(&mut self.input) {
                    Ok(Piece::Data(data)) => incoming.request.body.extend_from_slice(&data),
                    Ok(Piece::End) => self.finish_request(),
                    Ok(Piece::NeedMore) => break true,
                    Err(error) => {
                        self.refuse(now, error);
                        break false;
                    }
                },
                Reading::UpgradeDecision | Reading::Upgraded | Reading::Done => break false,
            }
        };
        if needs_input && self.peer_closed {
            // The rest of this request can never arrive.
            self.stop_reading();
        }
    }

    /// A request head has been read: decides how its body is framed and
    /// what its response will have to say about the connection.
    fn start_request(&mut self, now: SimTime, head: RequestHead) {
        let limits = self.config.limits;
        if let Err(error) = check_host(head.version, &head.headers) {
            return self.refuse(now, error);
        }
        let framing = match request_framing(&head.headers, limits.max_body_bytes) {
            Ok(framing) => framing,
            Err(error) => return self.refuse(now, error),
        };
        let id = RequestId::new(self.next_id);
        self.next_id += 1;
        let exchange = Exchange {
            id: Some(id),
            version: head.version,
            head_method: head.method == "HEAD",
            close_after: !self.may_continue_after(id, head.version, &head.headers),
            upgrade: requested_upgrade(head.version, &head.headers),
            response: Outgoing::Waiting,
        };
        let request = Request {
            method: head.method,
            target: head.target,
            version: head.version,
            headers: head.headers,
            body: Vec::new(),
        };
        let decoder = BodyDecoder::new(framing, limits.max_body_bytes, limits.max_header_bytes);
        self.reading = Reading::Body(Box::new(IncomingRequest {
            id,
            request,
            exchange,
            decoder,
        }));
    }

    /// The body of the request being read is complete: reports the request
    /// and queues its exchange.
    fn finish_request(&mut self) {
        let Reading::Body(incoming) = std::mem::replace(&mut self.reading, Reading::Head) else {
            return;
        };
        let IncomingRequest {
            id,
            request,
            exchange,
            ..
        } = *incoming;
        let event = if exchange.upgrade.is_some() {
            self.reading = Reading::UpgradeDecision;
            ServerEvent::UpgradeRequested { id, request }
        } else {
            if exchange.close_after {
                // RFC 9112 section 9.6: no request after the one that closes
                // the connection is processed.
                self.stop_reading();
            }
            ServerEvent::Request { id, request }
        };
        self.pending.push_back(exchange);
        self.events.push_back(event);
    }

    /// Whether the connection may carry another request after request `id`.
    fn may_continue_after(
        &self,
        id: RequestId,
        version: Version,
        fields: &[(String, String)],
    ) -> bool {
        let asked_to_close = headers::has_token(fields, "connection", "close");
        let persistent = match version {
            Version::Http11 => !asked_to_close,
            Version::Http10 => {
                !asked_to_close && headers::has_token(fields, "connection", "keep-alive")
            }
        };
        let below_max = self
            .config
            .max_requests
            .is_none_or(|max| id.index() + 1 < u64::from(max.max(1)));
        persistent && below_max
    }

    /// Queues the error response for `error` behind the responses still
    /// owed, reports it, and stops reading.
    fn refuse(&mut self, now: SimTime, error: ProtocolError) {
        let status = error.status();
        let reason = error.to_string();
        let body = format!("{reason}\n");
        let mut bytes = Vec::new();
        write_status_line(&mut bytes, status);
        write_field(&mut bytes, "Content-Type", "text/plain; charset=utf-8");
        write_field(&mut bytes, "Content-Length", &body.len().to_string());
        write_field(&mut bytes, "Connection", "close");
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body.as_bytes());

        self.stop_reading();
        self.pending.push_back(Exchange {
            id: None,
            version: Version::Http11,
            head_method: false,
            close_after: true,
            upgrade: None,
            response: Outgoing::Complete(bytes),
        });
        self.events
            .push_back(ServerEvent::BadRequest { status, reason });
        self.flush(now);
    }

    /// Refuses a client that keeps sending while the connection cannot read
    /// (see [`Limits::max_pipelined_requests`]).
    fn refuse_overflowing_input(&mut self, now: SimTime) {
        let limits = self.config.limits;
        let stalled = match self.reading {
            Reading::Head => self.pending.len() >= limits.max_pipelined_requests,
            Reading::UpgradeDecision => true,
            Reading::Body(_) | Reading::Upgraded | Reading::Done => false,
        };
        let limit = limits
            .max_header_bytes
            .saturating_add(limits.max_body_bytes);
        if stalled && self.input.len() > limit {
            self.refuse(now, ProtocolError::StalledInputOverflow { limit });
        }
    }

    /// No more requests will be read; whatever is buffered is dropped.
    fn stop_reading(&mut self) {
        if !matches!(self.reading, Reading::Upgraded) {
            self.reading = Reading::Done;
            self.input.clear();
        }
    }

    fn head_limits(&self) -> RequestHeadLimits {
        RequestHeadLimits {
            max_request_line_bytes: self.config.limits.max_request_line_bytes,
            max_header_bytes: self.config.limits.max_header_bytes,
            max_headers: self.config.limits.max_headers,
        }
    }

    // ----- Writing responses -----

    /// The exchange for request `id`, if it still awaits its answer.
    fn waiting_exchange(&mut self, id: RequestId) -> Result<&mut Exchange, SendError> {
        let exchange = self
            .pending
            .iter_mut()
            .find(|exchange| exchange.id == Some(id))
            .ok_or(SendError::UnknownRequest(id))?;
        match exchange.response {
            Outgoing::Waiting => Ok(exchange),
            Outgoing::Complete(_) | Outgoing::Streaming { .. } => {
                Err(SendError::AlreadyAnswered(id))
            }
        }
    }

    /// The open stream answering request `id`: its unsent bytes, framing,
    /// finished flag and whether the connection closes after it.
    #[allow(clippy::type_complexity)]
    fn open_stream(
        &mut self,
        id: RequestId,
    ) -> Result<(&mut Vec<u8>, &mut StreamFraming, &mut bool, &mut bool), SendError> {
        let exchange = self
            .pending
            .iter_mut()
            .find(|exchange| exchange.id == Some(id));
        match exchange {
            Some(Exchange {
                response:
                    Outgoing::Streaming {
                        unsent,
                        framing,
                        finished,
                    },
                close_after,
                ..
            }) if !*finished => Ok((unsent, framing, finished, close_after)),
            _ => Err(SendError::NoOpenStream(id)),
        }
    }

    /// The `Keep-Alive` value for the response to request `id`, if the
    /// connection has anything to announce.
    fn keep_alive_value(&self, id: RequestId) -> Option<String> {
        let mut parameters = Vec::new();
        if let Some(timeout) = self.config.idle_timeout {
            parameters.push(format!("timeout={}", timeout.as_millis() / 1000));
        }
        if let Some(max) = self.config.max_requests {
            let remaining = u64::from(max.max(1)).saturating_sub(id.index() + 1);
            parameters.push(format!("max={remaining}"));
        }
        (!parameters.is_empty()).then(|| parameters.join(", "))
    }

    /// After an answer was queued: stops reading if it closes the
    /// connection, resumes HTTP if it refused an upgrade, then writes what
    /// can be written and reads what can be read.
    fn after_answer(&mut self, now: SimTime, close_after: bool, was_upgrade: bool) {
        if close_after {
            self.stop_reading();
        } else if was_upgrade && matches!(self.reading, Reading::UpgradeDecision) {
            self.reading = Reading::Head;
        }
        self.flush(now);
        self.read_requests(now);
    }

    /// Moves responses to the output in request order, stopping at the first
    /// one that is not ready.
    fn flush(&mut self, now: SimTime) {
        while let Some(front) = self.pending.front_mut() {
            let complete = match &mut front.response {
                Outgoing::Waiting => false,
                Outgoing::Complete(bytes) => {
                    self.output.append(bytes);
                    true
                }
                Outgoing::Streaming {
                    unsent, finished, ..
                } => {
                    self.output.append(unsent);
                    *finished
                }
            };
            if !complete {
                break;
            }
            let done = self.pending.pop_front();
            self.last_activity = now;
            if done.as_ref().is_some_and(|done| done.id.is_some()) {
                self.requests_served += 1;
            }
            if done.is_some_and(|done| done.close_after) {
                // Nothing may follow a response that closes the connection:
                // answers to later pipelined requests are dropped.
                self.pending.clear();
                self.stop_reading();
            }
        }
    }
}

/// How the body of a request with these headers is delimited (RFC 9112
/// section 6.3). Requests never run until the end of the connection: with
/// neither `Content-Length` nor `Transfer-Encoding` there is no body.
fn request_framing(
    fields: &[(String, String)],
    max_body_bytes: usize,
) -> Result<Framing, ProtocolError> {
    let length = headers::content_length(fields).map_err(|error| match error {
        ContentLengthError::Invalid => ProtocolError::Malformed("invalid Content-Length"),
        ContentLengthError::Conflicting => {
            ProtocolError::Malformed("conflicting Content-Length values")
        }
    })?;
    match (headers::transfer_encoding(fields), length) {
        (TransferEncoding::Absent, None) => Ok(Framing::Empty),
        (TransferEncoding::Absent, Some(length)) if length > max_body_bytes as u64 => {
            Err(ProtocolError::BodyTooLarge {
                limit: max_body_bytes,
            })
        }
        (TransferEncoding::Absent, Some(length)) => Ok(Framing::Length(length)),
        // Both at once is how request smuggling starts; refuse it outright
        // rather than guess which one a proxy in front of us believed.
        (_, Some(_)) => Err(ProtocolError::Malformed(
            "both Transfer-Encoding and Content-Length",
        )),
        (TransferEncoding::Chunked, None) => Ok(Framing::Chunked),
        (TransferEncoding::ChunkedAfterOthers, None) => {
            Err(ProtocolError::UnsupportedTransferCoding)
        }
        (TransferEncoding::NotChunked, None) => Err(ProtocolError::Malformed(
            "Transfer-Encoding does not end with chunked",
        )),
    }
}

/// Checks the `Host` field as RFC 9112 section 3.2 requires: a server must
/// answer 400 to an HTTP/1.1 request without one, and to any request with
/// more than one or with an invalid value. A request without a host could
/// only be routed by guessing, and two hosts are how a request is made to
/// mean different things to a proxy and to the server behind it.
fn check_host(version: Version, fields: &[(String, String)]) -> Result<(), ProtocolError> {
    let mut hosts = fields
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("host"));
    match (hosts.next(), hosts.next()) {
        (None, _) if version == Version::Http11 => Err(ProtocolError::Malformed(
            "missing Host header (HTTP/1.1 requires one, RFC 9112 section 3.2)",
        )),
        (Some(_), Some(_)) => Err(ProtocolError::Malformed("more than one Host header")),
        (Some((_, value)), None) if !is_valid_host(value) => {
            Err(ProtocolError::Malformed("invalid Host value"))
        }
        _ => Ok(()),
    }
}

/// Whether `value` can be `uri-host [ ":" port ]` (RFC 3986): a registered
/// name (unreserved characters, sub-delimiters, percent escapes), an IP
/// literal in brackets, an optional port. An empty value is allowed: it is
/// what a request for a URI without an authority sends.
fn is_valid_host(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:%[]".contains(&b))
}

/// The protocol a request asks to switch to, if it asks. Only HTTP/1.1 can
/// upgrade (RFC 9110 section 7.8).
fn requested_upgrade(version: Version, fields: &[(String, String)]) -> Option<String> {
    if version != Version::Http11 || !headers::has_token(fields, "connection", "upgrade") {
        return None;
    }
    headers::get(fields, "upgrade")
        .filter(|protocol| !protocol.is_empty())
        .map(str::to_string)
}

/// Checks what the application asked to write before anything is queued.
fn check_response_head(status: u16, fields: &[(String, String)]) -> Result<(), SendError> {
    if !(200..=999).contains(&status) {
        return Err(SendError::InvalidStatus(status));
    }
    match headers::first_invalid(fields) {
        Some(name) => Err(SendError::InvalidHeader(name.to_string())),
        None => Ok(()),
    }
}

fn is_framing_header(name: &str) -> bool {
    FRAMING_HEADERS
        .iter()
        .any(|framing| name.eq_ignore_ascii_case(framing))
}

fn write_status_line(out: &mut Vec<u8>, status: u16) {
    let line = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    out.extend_from_slice(line.as_bytes());
}

fn write_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
}

/// The status line and the application's fields, without framing fields.
fn write_head(out: &mut Vec<u8>, status: u16, fields: &[(String, String)]) {
    write_status_line(out, status);
    for (name, value) in fields {
        if !is_framing_header(name) {
            write_field(out, name, value);
        }
    }
}

/// `Connection` and, for a connection that stays open, `Keep-Alive`.
fn write_persistence(out: &mut Vec<u8>, close_after: bool, keep_alive: Option<&str>) {
    if close_after {
        write_field(out, "Connection", "close");
    } else {
        write_field(out, "Connection", "keep-alive");
        if let Some(keep_alive) = keep_alive {
            write_field(out, "Keep-Alive", keep_alive);
        }
    }
}

#[cfg(test)]
mod tests;

//! The client side of one HTTP/1.1 connection, as a sans-IO state machine.
//!
//! [`ClientConn`] serialises requests and parses the responses that come
//! back, matching them to requests in order (HTTP/1.1 has no other way to
//! tell them apart). It reports a response in three steps, so that an
//! application can follow a streaming response live: the head as soon as it
//! is parsed ([`ClientEvent::ResponseHead`]), each piece of body as it
//! arrives ([`ClientEvent::BodyChunk`]: one per chunk of a chunked body,
//! whatever way TCP cut it), and the whole response at the end
//! ([`ClientEvent::Response`]). It also tracks whether the server lets the
//! connection be reused ([`KeepAlive`]).
//!
//! It deliberately does not: read a clock, open or reuse connections (a
//! pool belongs to the application), add a `Host` header on its own (use
//! [`Request::get`]), follow redirects, retry, decode content codings, or
//! time out (an application that wants a deadline keeps its own timer).
//!
//! # Driving a connection
//!
//! After [`send_request`](ClientConn::send_request), drain
//! [`poll_transmit`](ClientConn::poll_transmit) into the socket. After every
//! [`handle_input`](ClientConn::handle_input) or
//! [`handle_eof`](ClientConn::handle_eof), drain
//! [`poll_event`](ClientConn::poll_event). Once
//! [`is_closed`](ClientConn::is_closed), close the socket.

use std::collections::VecDeque;

use simnet_core::time::{SimDuration, SimTime};

use super::body::{BodyDecoder, Framing, Piece};
use super::error::ProtocolError;
use super::head::{self, ResponseHead};
use super::headers::{self, TransferEncoding};
use super::message::{Request, RequestId, Response, Version, status_has_no_body};

/// Limits on what a server may send. Breaking one ends the connection with
/// a [`ClientEvent::Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseLimits {
    /// The longest response head: status line, header fields and the blank
    /// line. Default 16384 bytes. Also limits the trailer section of a
    /// chunked body.
    pub max_header_bytes: usize,
    /// The most header fields in a response. Default 100.
    pub max_headers: usize,
    /// The longest decoded response body. Default 16 MiB (16777216 bytes):
    /// larger than the server's request limit, because clients are the
    /// ones that download, but still a bound, since a streamed response is
    /// also collected whole for [`ClientEvent::Response`].
    pub max_body_bytes: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// How a client connection behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Limits on what the server may send.
    pub limits: ResponseLimits,
    /// The most requests sent and not yet answered (pipelining depth).
    /// Default 16, matching the server's default.
    pub max_in_flight: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            limits: ResponseLimits::default(),
            max_in_flight: 16,
        }
    }
}

/// Something the application needs to know about the responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The head of the response to request `id` has been parsed; its body
    /// (if any) follows as [`ClientEvent::BodyChunk`]s.
    ResponseHead {
        /// The request this answers.
        id: RequestId,
        /// The version the server spoke.
        version: Version,
        /// The status code.
        status: u16,
        /// The reason phrase, as sent.
        reason: String,
        /// The header fields, in order.
        headers: Vec<(String, String)>,
    },
    /// More of the body of the response to request `id`: one whole chunk of
    /// a chunked body, or whatever arrived of any other body.
    BodyChunk {
        /// The request this answers.
        id: RequestId,
        /// The decoded bytes (never empty).
        data: Vec<u8>,
    },
    /// The response to request `id` is complete.
    Response {
        /// The request this answers.
        id: RequestId,
        /// The whole response, body included.
        response: Response,
    },
    /// The server switched protocols (`101`). The connection no longer
    /// speaks HTTP: the bytes after the head are in
    /// [`ClientConn::take_upgraded_bytes`].
    Upgraded {
        /// The request that asked to switch.
        id: RequestId,
        /// The `101` response (no body).
        response: Response,
    },
    /// The connection is over: the server closed it, or the response was
    /// malformed (after an [`ClientEvent::Error`]). Reported on every end of
    /// stream, with the requests that got no complete response (possibly
    /// none).
    ConnectionClosed {
        /// Requests that were sent but not answered completely, in order.
        unanswered: Vec<RequestId>,
    },
    /// The server sent something that is not valid HTTP/1.1, or broke a
    /// limit. A `ConnectionClosed` follows.
    Error {
        /// What was wrong, in words.
        reason: String,
    },
}

/// Whether the connection may carry more requests, as far as the server
/// has said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// False once the server said `Connection: close` (or spoke HTTP/1.0
    /// without `keep-alive`), sent a body delimited by closing, closed, or
    /// switched protocols; also once this client sent a request that asks
    /// to close.
    pub reusable: bool,
    /// `Keep-Alive: timeout=N` from the latest response, if announced: how
    /// long the server keeps an idle connection open.
    pub timeout: Option<SimDuration>,
    /// `Keep-Alive: max=M` from the latest response, if announced: how many
    /// more requests the server will accept on this connection.
    pub max: Option<u32>,
}

/// Why a request could not be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendRequestError {
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
    /// The connection has switched to another protocol.
    #[error("the connection has switched protocols")]
    Upgraded,
    /// The server (or an earlier request) said the connection closes after
    /// the requests already sent; see [`ClientConn::keep_alive`].
    #[error("the connection will close and cannot carry another request")]
    NotReusable,
    /// [`ClientConfig::max_in_flight`] requests already await responses.
    #[error("{limit} requests already await responses")]
    TooManyInFlight {
        /// The configured limit.
        limit: usize,
    },
    /// The method is not a token, or the target is empty or contains
    /// spaces or control characters.
    #[error("invalid request line")]
    InvalidRequestLine,
    /// A header name that is not a token, or a value with control
    /// characters.
    #[error("header field {0:?} cannot be written safely")]
    InvalidHeader(String),
}

/// The client side of one HTTP/1.1 connection. See the [module
/// docs](self) for how to drive it.
#[derive(Clone, Debug)]
pub struct ClientConn {
    config: ClientConfig,
    /// Received bytes not parsed yet.
    input: Vec<u8>,
    reading: Reading,
    /// Requests sent and not yet answered completely, oldest first.
    in_flight: VecDeque<InFlight>,
    next_id: u64,
    events: VecDeque<ClientEvent>,
    /// Bytes ready for `poll_transmit`.
    output: Vec<u8>,
    /// Bytes of the new protocol, after a `101`.
    upgraded: Vec<u8>,
    keep_alive: KeepAlive,
    last_activity: SimTime,
    peer_closed: bool,
}

/// A request waiting for its response.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    id: RequestId,
    /// A `HEAD` request: its response has no body, whatever it says.
    head_method: bool,
}

/// What the connection does with incoming bytes.
#[derive(Clone, Debug)]
enum Reading {
    /// Waiting for the next response head.
    Head,
    /// A response head has been read; its body is arriving.
    Body(Box<IncomingResponse>),
    /// A `101` arrived; input belongs to the new protocol.
    Upgraded,
    /// The connection is over; input is discarded.
    Closed,
}

/// A response whose head has been read and whose body is arriving.
#[derive(Clone, Debug)]
struct IncomingResponse {
    id: RequestId,
    response: Response,
    decoder: BodyDecoder,
}

impl ClientConn {
    /// A connection that has just been established.
    pub fn new(config: ClientConfig) -> ClientConn {
        ClientConn {
            config,
            input: Vec::new(),
            reading: Reading::Head,
            in_flight: VecDeque::new(),
            next_id: 0,
            events: VecDeque::new(),
            output: Vec::new(),
            upgraded: Vec::new(),
            keep_alive: KeepAlive {
                reusable: true,
                timeout: None,
                max: None,
            },
            last_activity: SimTime::ZERO,
            peer_closed: false,
        }
    }

    // ----- Getters -----

    /// The configuration the connection was created with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether the connection may carry more requests, and what the server
    /// announced about keeping it open.
    pub fn keep_alive(&self) -> KeepAlive {
        self.keep_alive
    }

    /// How many requests await their responses.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether no request awaits a response and the connection can still be
    /// used: the state of an idle keep-alive connection in a pool.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
            && matches!(self.reading, Reading::Head)
            && self.keep_alive.reusable
    }

    /// Whether the connection is over (closed by the server or after an
    /// error): the application should close the socket.
    pub fn is_closed(&self) -> bool {
        matches!(self.reading, Reading::Closed)
    }

    /// Whether a `101` switched the connection to another protocol.
    pub fn is_upgraded(&self) -> bool {
        matches!(self.reading, Reading::Upgraded)
    }

    /// When a request was last sent or bytes last arrived. Comparing it
    /// with the server's announced [`KeepAlive::timeout`] tells whether
    /// reusing the connection races the server's idle close.
    pub fn last_activity(&self) -> SimTime {
        self.last_activity
    }

    // ----- Requests from the application -----

    /// Queues `request` for sending and returns its id.
    ///
    /// Written as: request line, the request's headers in order (except
    /// `Content-Length` and `Transfer-Encoding`, which the connection
    /// writes itself), `Content-Length` when there is a body or the method
    /// is `POST`, `PUT` or `PATCH`, a blank line and the body. Nothing else
    /// is added: no `Host` (see [`Request::get`]), no `Connection`.
    ///
    /// Several requests may be in flight at once (pipelining); responses
    /// are matched to them in order.
    pub fn send_request(
        &mut self,
        now: SimTime,
        request: Request,
    ) -> Result<RequestId, SendRequestError> {
        match self.reading {
            Reading::Upgraded => return Err(SendRequestError::Upgraded),
            Reading::Closed => return Err(SendRequestError::Closed),
            Reading::Head | Reading::Body(_) => {}
        }
        if !self.keep_alive.reusable {
            return Err(SendRequestError::NotReusable);
        }
        if self.in_flight.len() >= self.config.max_in_flight {
            return Err(SendRequestError::TooManyInFlight {
                limit: self.config.max_in_flight,
            });
        }
        let target_is_valid =
            !request.target.is_empty() && request.target.bytes().all(|b| b.is_ascii_graphic());
        if !headers::is_token(&request.method) || !target_is_valid {
            return Err(SendRequestError::InvalidRequestLine);
        }
        if let Some(name) = headers::first_invalid(&request.headers) {
            return Err(SendRequestError::InvalidHeader(name.to_string()));
        }

        let line = format!(
            "{} {} {}\r\n",
            request.method, request.target, request.version
        );
        self.output.extend_from_slice(line.as_bytes());
        for (name, value) in &request.headers {
            let is_framing = name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding");
            if !is_framing {
                self.output
                    .extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        let expects_body = matches!(request.method.as_str(), "POST" | "PUT" | "PATCH");
        if !request.body.is_empty() || expects_body {
            let field = format!("Content-Length: {}\r\n", request.body.len());
            self.output.extend_from_slice(field.as_bytes());
        }
        self.output.extend_from_slice(b"\r\n");
        self.output.extend_from_slice(&request.body);

        if !is_persistent(request.version, &request.headers) {
            // The server will close after answering this one.
            self.keep_alive.reusable = false;
        }
        let id = RequestId::new(self.next_id);
        self.next_id += 1;
        self.in_flight.push_back(InFlight {
            id,
            head_method: request.method == "HEAD",
        });
        self.last_activity = now;
        Ok(id)
    }

    // ----- Input -----

    /// Bytes arrived from the server. After a `101` they are buffered for
    /// [`take_upgraded_bytes`](Self::take_upgraded_bytes); once closed, they
    /// are discarded.
    pub fn handle_input(&mut self, now: SimTime, data: &[u8]) {
        match self.reading {
            Reading::Upgraded => return self.upgraded.extend_from_slice(data),
            Reading::Closed => return,
            Reading::Head | Reading::Body(_) => {}
        }
        if data.is_empty() || self.peer_closed {
            return;
        }
        self.last_activity = now;
        self.input.extend_from_slice(data);
        self.read_responses();
    }

    /// The server closed its sending side (a FIN arrived).
    ///
    /// A body delimited by the close is complete now; a response cut short
    /// is an error. Either way a [`ClientEvent::ConnectionClosed`] lists
    /// the requests left unanswered.
    pub fn handle_eof(&mut self, now: SimTime) {
        if self.peer_closed {
            return;
        }
        self.peer_closed = true;
        self.last_activity = now;
        match &mut self.reading {
            Reading::Closed => return,
            Reading::Upgraded => {
                self.events.push_back(ClientEvent::ConnectionClosed {
                    unanswered: Vec::new(),
                });
                return;
            }
            Reading::Body(incoming) => {
                if let Err(error) = incoming.decoder.finish() {
                    return self.fail(error);
                }
                self.read_responses();
            }
            Reading::Head => {}
        }
        if !self.input.is_empty() {
            return self.fail(ProtocolError::Malformed(
                "connection closed in the middle of a response head",
            ));
        }
        self.close();
    }

    /// Takes the bytes of the new protocol received so far (after a `101`):
    /// first whatever followed its head, then everything passed to
    /// [`handle_input`](Self::handle_input) since.
    pub fn take_upgraded_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.upgraded)
    }

    // ----- Output -----

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Appends the bytes ready to send to `buf` and returns how many there
    /// were.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let count = self.output.len();
        buf.append(&mut self.output);
        count
    }

    // ----- Reading responses -----

    /// Parses as much of the responses as the input allows.
    fn read_responses(&mut self) {
        let limits = self.config.limits;
        loop {
            match &mut self.reading {
                Reading::Head => {
                    head::skip_empty_lines(&mut self.input);
                    if self.input.is_empty() {
                        return;
                    }
                    let Some(&InFlight { id, head_method }) = self.in_flight.front() else {
                        // A lone CR may still become an (ignored) empty line.
                        if self.input != b"\r" {
                            self.fail(ProtocolError::Malformed("response without a request"));
                        }
                        return;
                    };
                    match head::parse_response(
                        &self.input,
                        limits.max_header_bytes,
                        limits.max_headers,
                    ) {
                        Ok(Some(head)) => {
                            self.input.drain(..head.len);
                            self.start_response(id, head_method, head);
                        }
                        Ok(None) => return,
                        Err(error) => return self.fail(error),
                    }
                }
                Reading::Body(incoming) => match incoming.decoder.decode(&mut self.input) {
                    Ok(Piece::Data(data)) => {
                        incoming.response.body.extend_from_slice(&data);
                        let id = incoming.id;
                        self.events.push_back(ClientEvent::BodyChunk { id, data });
                    }
                    Ok(Piece::End) => self.finish_response(),
                    Ok(Piece::NeedMore) => return,
                    Err(error) => return self.fail(error),
                },
                Reading::Upgraded | Reading::Closed => return,
            }
        }
    }

    /// A response head has been read for request `id`.
    fn start_response(&mut self, id: RequestId, head_method: bool, head: ResponseHead) {
        if head.status == 101 {
            self.in_flight.pop_front();
            self.keep_alive.reusable = false;
            self.reading = Reading::Upgraded;
            self.upgraded.append(&mut self.input);
            let response = Response {
                status: head.status,
                headers: head.headers,
                body: Vec::new(),
            };
            self.events
                .push_back(ClientEvent::Upgraded { id, response });
            return;
        }
        if (100..200).contains(&head.status) {
            // An interim response such as `100 Continue`: the final one
            // follows.
            return;
        }

        if !is_persistent(head.version, &head.headers) {
            self.keep_alive.reusable = false;
        }
        let (timeout, max) = keep_alive_parameters(&head.headers);
        self.keep_alive.timeout = timeout;
        self.keep_alive.max = max;

        let max_body_bytes = self.config.limits.max_body_bytes;
        let framing = match response_framing(head_method, &head, max_body_bytes) {
            Ok(framing) => framing,
            Err(error) => return self.fail(error),
        };
        let decoder =
            BodyDecoder::new(framing, max_body_bytes, self.config.limits.max_header_bytes);
        if decoder.is_until_eof() {
            // Only closing the connection can end this body.
            self.keep_alive.reusable = false;
        }
        self.events.push_back(ClientEvent::ResponseHead {
            id,
            version: head.version,
            status: head.status,
            reason: head.reason,
            headers: head.headers.clone(),
        });
        let response = Response {
            status: head.status,
            headers: head.headers,
            body: Vec::new(),
        };
        self.reading = Reading::Body(Box::new(IncomingResponse {
            id,
            response,
            decoder,
        }));
    }

    /// The body of the response being read is complete.
    fn finish_response(&mut self) {
        let Reading::Body(incoming) = std::mem::replace(&mut self.reading, Reading::Head) else {
            return;
        };
        self.in_flight.pop_front();
        self.events.push_back(ClientEvent::Response {
            id: incoming.id,
            response: incoming.response,
        });
    }

    /// Reports a protocol error and ends the connection.
    fn fail(&mut self, error: ProtocolError) {
        self.events.push_back(ClientEvent::Error {
            reason: error.to_string(),
        });
        self.close();
    }

    /// Ends the connection, reporting the requests left unanswered.
    fn close(&mut self) {
        self.reading = Reading::Closed;
        self.input.clear();
        self.keep_alive.reusable = false;
        let unanswered = self.in_flight.drain(..).map(|request| request.id).collect();
        self.events
            .push_back(ClientEvent::ConnectionClosed { unanswered });
    }
}

/// Whether a message with this version and these fields keeps the
/// connection open afterwards (RFC 9112 section 9.3).
fn is_persistent(version: Version, fields: &[(String, String)]) -> bool {
    let close = headers::has_token(fields, "connection", "close");
    match version {
        Version::Http11 => !close,
        Version::Http10 => !close && headers::has_token(fields, "connection", "keep-alive"),
    }
}

/// How the body of a response is delimited (RFC 9112 section 6.3).
fn response_framing(
    head_method: bool,
    head: &ResponseHead,
    max_body_bytes: usize,
) -> Result<Framing, ProtocolError> {
    if head_method || status_has_no_body(head.status) {
        return Ok(Framing::Empty);
    }
    match headers::transfer_encoding(&head.headers) {
        // Any coding before `chunked` (e.g. gzip) stays in the body bytes.
        TransferEncoding::Chunked | TransferEncoding::ChunkedAfterOthers => {
            return Ok(Framing::Chunked);
        }
        TransferEncoding::NotChunked => return Ok(Framing::UntilEof),
        TransferEncoding::Absent => {}
    }
    match headers::content_length(&head.headers) {
        Ok(Some(length)) if length > max_body_bytes as u64 => Err(ProtocolError::BodyTooLarge {
            limit: max_body_bytes,
        }),
        Ok(Some(length)) => Ok(Framing::Length(length)),
        Ok(None) => Ok(Framing::UntilEof),
        Err(_) => Err(ProtocolError::Malformed("invalid Content-Length")),
    }
}

/// Reads `Keep-Alive: timeout=N, max=M`; unknown or unreadable parameters
/// are ignored.
fn keep_alive_parameters(fields: &[(String, String)]) -> (Option<SimDuration>, Option<u32>) {
    let mut timeout = None;
    let mut max = None;
    let parameters = headers::get_all(fields, "keep-alive").flat_map(|value| value.split(','));
    for parameter in parameters {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("timeout") {
            timeout = value.parse().ok().map(SimDuration::from_secs);
        } else if name.eq_ignore_ascii_case("max") {
            max = value.parse().ok();
        }
    }
    (timeout, max)
}

#[cfg(test)]
mod tests;

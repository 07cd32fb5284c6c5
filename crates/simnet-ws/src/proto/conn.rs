//! [`WsConn`]: one WebSocket connection after the opening handshake, as a
//! sans-IO state machine (RFC 6455 sections 5 to 7).
//!
//! Bytes from the peer go in through [`WsConn::handle_input`]; what the
//! application asks for goes in through the mutators ([`WsConn::send_text`],
//! [`WsConn::ping`], [`WsConn::close`], ...). Everything that comes out is
//! polled, in the manner of quinn-proto:
//!
//! 1. [`WsConn::poll_transmit`]: bytes to write to the TCP socket, including
//!    the replies the connection makes by itself (a Pong for every Ping, the
//!    Close that answers the peer's Close, the Close that reports an error);
//! 2. [`WsConn::poll_sent_frame`]: a [`FrameInfo`] per frame in those bytes,
//!    for traces;
//! 3. [`WsConn::poll_event`]: what the peer did, as [`WsEvent`]s;
//! 4. [`WsConn::should_close_tcp`]: once the transmit bytes are written,
//!    whether this side should now close the TCP connection.
//!
//! The connection reassembles fragmented messages, answers Pings, runs the
//! closing handshake, and fails the connection with close code 1002, 1007 or
//! 1009 when the peer breaks the protocol. A failure is an event
//! ([`WsEvent::ProtocolError`]), never a panic or an `Err`.
//!
//! It deliberately has no timers: WebSocket itself defines none. When to send
//! a Ping, how long to wait for a Close reply and when to give up on the peer
//! are the application's decisions. It also draws no randomness: a client's
//! masking keys come from a [`MaskSource`] the caller supplies, drawn from
//! its seeded stream.
//!
//! Limits (see [`WsConfig`]): a frame's payload is refused (1009) as soon as
//! its header announces more than `max_frame_bytes`, so at most one frame of
//! that size is ever buffered; a message is refused (1009) once its
//! fragments add up to more than `max_message_bytes`. Text is checked for
//! valid UTF-8 fragment by fragment, as it arrives (a character may be
//! split across fragments): invalid text fails the connection with 1007 at
//! the first fragment that cannot be the start of valid UTF-8.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};

use super::close;
use super::frame::{self, Frame, MAX_CONTROL_PAYLOAD_BYTES, Opcode, Status};

/// Which end of the connection this is. It decides the masking rules:
/// a client masks every frame it sends and a server never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The side that sent the upgrade request.
    Client,
    /// The side that answered `101 Switching Protocols`.
    Server,
}

/// Where a client's masking keys come from: called once for every frame the
/// client sends. In simnet it draws from the host's seeded ChaCha stream;
/// tests may return fixed keys.
pub type MaskSource = Box<dyn FnMut() -> [u8; 4] + Send>;

/// The default limit on one message, fragments included: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The default limit on one frame's payload: 1 MiB, the same as a message,
/// so by default only the message limit matters.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1 << 20;

/// How many characters of text a [`FrameInfo::preview`] shows.
pub const PREVIEW_CHARS: usize = 32;

/// How many bytes of binary data a [`FrameInfo::preview`] shows, in hex.
pub const PREVIEW_BINARY_BYTES: usize = 16;

/// Limits on what a peer may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsConfig {
    /// The largest message accepted, in bytes, after joining its fragments.
    /// A larger one fails the connection with close code 1009.
    /// Default: [`DEFAULT_MAX_MESSAGE_BYTES`] (1 MiB).
    pub max_message_bytes: usize,
    /// The largest frame payload accepted, in bytes, checked as soon as the
    /// frame header arrives. A larger one fails the connection with close
    /// code 1009. Default: [`DEFAULT_MAX_FRAME_BYTES`] (1 MiB).
    pub max_frame_bytes: usize,
}

impl Default for WsConfig {
    fn default() -> WsConfig {
        WsConfig {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

/// Where the connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsState {
    /// Messages flow both ways.
    Open,
    /// This side sent a Close and waits for the peer's; it may still
    /// receive data, but sends nothing more.
    Closing,
    /// The closing handshake is complete, or the connection failed or was
    /// lost. Input is ignored and nothing more is sent.
    Closed,
}

/// A one-line description of a frame, sent or received, for traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// The frame's opcode.
    pub opcode: Opcode,
    /// Whether the frame is the last of its message.
    pub fin: bool,
    /// Whether the frame was masked on the wire.
    pub masked: bool,
    /// The payload length in bytes.
    pub payload_len: u64,
    /// The start of the payload: for text, Ping and Pong, the first
    /// [`PREVIEW_CHARS`] characters (invalid UTF-8 shown as U+FFFD, control
    /// characters escaped as in Rust, e.g. `\n`); for binary, the first
    /// [`PREVIEW_BINARY_BYTES`] bytes in lowercase hex; for a Close, the
    /// code and reason (`1000 bye`). `...` marks a cut.
    pub preview: String,
}

impl FrameInfo {
    /// Describes `frame`. `message` is the opcode (Text or Binary) of the
    /// message a Continuation frame belongs to, if known; it decides whether
    /// the preview shows text or hex.
    pub fn describe(frame: &Frame, message: Option<Opcode>) -> FrameInfo {
        let shown_as = match frame.opcode {
            Opcode::Continuation => message.unwrap_or(Opcode::Binary),
            opcode => opcode,
        };
        let preview = match shown_as {
            Opcode::Close => match close::decode_body(&frame.payload) {
                Ok((Some(code), reason)) if reason.is_empty() => code.to_string(),
                Ok((Some(code), reason)) => format!("{code} {}", preview_text(reason.as_bytes())),
                Ok((None, _)) => String::new(),
                Err(_) => preview_hex(&frame.payload),
            },
            Opcode::Binary | Opcode::Continuation => preview_hex(&frame.payload),
            Opcode::Text | Opcode::Ping | Opcode::Pong => preview_text(&frame.payload),
        };
        FrameInfo {
            opcode: frame.opcode,
            fin: frame.fin,
            masked: frame.mask.is_some(),
            payload_len: frame.payload.len() as u64,
            preview,
        }
    }
}

impl fmt::Display for FrameInfo {
    /// `text fin masked len=5 "Hello"`: the form simnet's traces use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.opcode)?;
        if self.fin {
            f.write_str(" fin")?;
        }
        if self.masked {
            f.write_str(" masked")?;
        }
        write!(f, " len={}", self.payload_len)?;
        if !self.preview.is_empty() {
            write!(f, " \"{}\"", self.preview)?;
        }
        Ok(())
    }
}

/// The first [`PREVIEW_CHARS`] characters of `bytes`, read as UTF-8.
fn preview_text(bytes: &[u8]) -> String {
    // A character takes at most 4 bytes, so this window holds the first
    // PREVIEW_CHARS whole characters without converting a huge payload.
    let window = &bytes[..bytes.len().min(4 * PREVIEW_CHARS)];
    let text = String::from_utf8_lossy(window);
    let mut chars = text.chars();
    let mut preview = String::new();
    for c in chars.by_ref().take(PREVIEW_CHARS) {
        if c.is_control() {
            preview.extend(c.escape_debug());
        } else {
            preview.push(c);
        }
    }
    if chars.next().is_some() || window.len() < bytes.len() {
        preview.push_str("...");
    }
    preview
}

/// The first [`PREVIEW_BINARY_BYTES`] bytes of `bytes` in hex.
fn preview_hex(bytes: &[u8]) -> String {
    let mut preview = String::new();
    for byte in bytes.iter().take(PREVIEW_BINARY_BYTES) {
        // Writing to a String cannot fail.
        let _ = write!(preview, "{byte:02x}");
    }
    if bytes.len() > PREVIEW_BINARY_BYTES {
        preview.push_str("...");
    }
    preview
}

/// A complete message, reassembled from its fragments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8, checked).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// Something the peer did, reported by [`WsConn::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// A whole frame arrived. Reported for every frame, before what it
    /// means (a message, a Ping, a Close, an error).
    FrameReceived(FrameInfo),
    /// The last fragment of a message arrived.
    Message(Message),
    /// A Ping arrived. Unless this side already sent a Close, the connection
    /// has queued the Pong reply with the same payload.
    Ping(Vec<u8>),
    /// A Pong arrived.
    Pong(Vec<u8>),
    /// The peer sent a Close: `code` is `None` if its body was empty.
    /// If this side had not sent a Close yet, the connection has queued one
    /// echoing `code`.
    CloseReceived {
        /// The peer's status code.
        code: Option<u16>,
        /// The peer's reason, possibly empty.
        reason: String,
    },
    /// The closing handshake is complete: Close frames went both ways.
    /// See [`WsConn::should_close_tcp`] for which side closes TCP.
    Closed,
    /// The peer broke the protocol. The connection has queued a Close with
    /// `code` (1002 protocol error, 1007 invalid UTF-8, 1009 too big) unless
    /// it had already sent one, is now [`WsState::Closed`], and ignores
    /// further input. Flush [`WsConn::poll_transmit`], then close TCP.
    ProtocolError {
        /// The close code sent to the peer.
        code: u16,
        /// What went wrong, also sent as the close reason.
        reason: String,
    },
    /// The TCP connection ended before the closing handshake completed
    /// (reported to applications as close code 1006, abnormal closure).
    ConnectionLost,
}

/// Why a send was refused. Nothing is queued when a send fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// This side already sent a Close, or the connection is closed.
    #[error("the connection is closing or closed; nothing more may be sent")]
    NotOpen,
    /// A Close frame is sent with [`WsConn::close`], not as a raw frame.
    #[error("use close() to send a Close frame")]
    CloseFrame,
    /// `send_fragmented` takes Text or Binary only.
    #[error("{0} is not a data opcode (Text or Binary)")]
    NotADataOpcode(Opcode),
    /// A control frame must have FIN set.
    #[error("control frames cannot be fragmented")]
    FragmentedControlFrame,
    /// A control frame payload is longer than 125 bytes.
    #[error("control frame payload of {len} bytes (at most 125)")]
    ControlPayloadTooLong {
        /// The payload length asked for.
        len: usize,
    },
    /// A new message was started before the fragmented one was finished.
    #[error("a fragmented message is still being sent")]
    MessageInProgress,
    /// A Continuation frame was sent with no fragmented message to continue.
    #[error("no fragmented message to continue")]
    NoMessageInProgress,
    /// The text given as fragments does not join into valid UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// The close code may not be sent (see [`close::is_valid_code`]).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// The close reason is longer than 123 bytes.
    #[error("close reason of {len} bytes (at most 123)")]
    CloseReasonTooLong {
        /// The reason's length in bytes.
        len: usize,
    },
}

/// How a closed connection ended; it decides who closes TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Both Close frames were exchanged.
    Handshake,
    /// This side failed the connection after a protocol error.
    Failed,
    /// TCP ended under the connection.
    Lost,
}

/// A message whose first fragments have arrived.
#[derive(Debug)]
struct PartialMessage {
    /// Text or Binary: the opcode of the first fragment.
    opcode: Opcode,
    /// The payloads so far, joined.
    data: Vec<u8>,
    /// For text: how many bytes of `data` are known to be whole, valid
    /// UTF-8 characters. What follows is at most the start of one
    /// character split across fragments.
    valid_utf8: usize,
}

/// One WebSocket connection, from after the handshake until it is closed.
/// See the [module documentation](self) for the order of calls.
pub struct WsConn {
    role: Role,
    config: WsConfig,
    /// The client's masking keys; `None` for a server, which never masks.
    mask_source: Option<MaskSource>,
    /// Set once this side has sent (queued) its Close frame.
    close_sent: bool,
    /// Set once the connection is over.
    ending: Option<Ending>,

    /// Received bytes not yet decoded: at most one partial frame.
    recv_buf: Vec<u8>,
    /// The message being reassembled, if its first fragment has arrived.
    receiving: Option<PartialMessage>,
    events: VecDeque<WsEvent>,

    /// The opcode (Text or Binary) of the message being sent in fragments.
    sending: Option<Opcode>,
    transmit: Vec<u8>,
    sent_frames: VecDeque<FrameInfo>,
}

impl WsConn {
    /// A client connection: every frame it sends is masked with a fresh key
    /// from `mask_source`.
    pub fn client(config: WsConfig, mask_source: MaskSource) -> WsConn {
        WsConn::new(Role::Client, config, Some(mask_source))
    }

    /// A server connection: it never masks, and requires every frame it
    /// receives to be masked.
    pub fn server(config: WsConfig) -> WsConn {
        WsConn::new(Role::Server, config, None)
    }

    fn new(role: Role, config: WsConfig, mask_source: Option<MaskSource>) -> WsConn {
        WsConn {
            role,
            config,
            mask_source,
            close_sent: false,
            ending: None,
            recv_buf: Vec::new(),
            receiving: None,
            events: VecDeque::new(),
            sending: None,
            transmit: Vec::new(),
            sent_frames: VecDeque::new(),
        }
    }

    // ----- getters -------------------------------------------------------

    /// Whether this is the client or the server end.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits this connection enforces.
    pub fn config(&self) -> WsConfig {
        self.config
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> WsState {
        match (self.ending, self.close_sent) {
            (Some(_), _) => WsState::Closed,
            (None, true) => WsState::Closing,
            (None, false) => WsState::Open,
        }
    }

    /// Whether this side should close the TCP connection once it has written
    /// everything [`WsConn::poll_transmit`] gave it.
    ///
    /// After a clean closing handshake the server closes TCP first
    /// (RFC 6455 section 7.1.1), so the server, not the client, holds
    /// TIME-WAIT; the client waits for the server's FIN (giving up after a
    /// timeout of the application's choosing). After a protocol error or a
    /// lost connection, either side closes at once.
    pub fn should_close_tcp(&self) -> bool {
        match self.ending {
            Some(Ending::Handshake) => self.role == Role::Server,
            Some(Ending::Failed | Ending::Lost) => true,
            None => false,
        }
    }

    // ----- input ---------------------------------------------------------

    /// Takes bytes received from the peer, in any split: a frame may arrive
    /// in many pieces and one call may hold many frames. Each whole frame is
    /// handled at once; its events wait in [`WsConn::poll_event`]. Input
    /// after the connection is closed is ignored.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.ending.is_some() {
            return;
        }
        self.recv_buf.extend_from_slice(data);
        let mut used = 0;
        while self.ending.is_none() {
            match frame::decode(&self.recv_buf[used..], self.config.max_frame_bytes) {
                Ok(Status::Complete((frame, len))) => {
                    used += len;
                    self.on_frame(frame);
                }
                Ok(Status::Partial) => break,
                Err(error) => self.fail(error.close_code(), error.to_string()),
            }
        }
        if self.ending.is_some() {
            self.recv_buf = Vec::new();
        } else {
            self.recv_buf.drain(..used);
        }
    }

    /// Tells the connection that TCP ended (the peer's FIN or a reset).
    /// Before the closing handshake completed, that is an abnormal closure:
    /// [`WsEvent::ConnectionLost`]. Afterwards it is the expected end and
    /// nothing happens.
    pub fn handle_eof(&mut self) {
        if self.ending.is_none() {
            self.ending = Some(Ending::Lost);
            self.receiving = None;
            self.recv_buf = Vec::new();
            self.events.push_back(WsEvent::ConnectionLost);
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        let message = self.receiving.as_ref().map(|m| m.opcode);
        self.events
            .push_back(WsEvent::FrameReceived(FrameInfo::describe(&frame, message)));

        if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            self.fail(
                close::PROTOCOL_ERROR,
                "reserved bits set, but no extension was negotiated",
            );
            return;
        }
        // Clients mask so that a hostile page cannot make a browser send
        // bytes that a confused proxy would read as its own protocol
        // (RFC 6455 section 10.3); a server has no such need.
        match (self.role, frame.mask.is_some()) {
            (Role::Server, false) => {
                self.fail(close::PROTOCOL_ERROR, "unmasked frame from the client");
                return;
            }
            (Role::Client, true) => {
                self.fail(close::PROTOCOL_ERROR, "masked frame from the server");
                return;
            }
            _ => {}
        }

        match frame.opcode {
            Opcode::Text | Opcode::Binary | Opcode::Continuation => self.on_data_frame(frame),
            Opcode::Ping => {
                // Nothing may follow our own Close, not even a Pong.
                if !self.close_sent {
                    self.queue_frame(Opcode::Pong, true, frame.payload.clone());
                }
                self.events.push_back(WsEvent::Ping(frame.payload));
            }
            Opcode::Pong => self.events.push_back(WsEvent::Pong(frame.payload)),
            Opcode::Close => self.on_close(&frame.payload),
        }
    }

    fn on_data_frame(&mut self, frame: Frame) {
        let mut message = match (self.receiving.take(), frame.opcode) {
            (None, Opcode::Continuation) => {
                self.fail(
                    close::PROTOCOL_ERROR,
                    "continuation frame with no message to continue",
                );
                return;
            }
            (Some(_), Opcode::Text | Opcode::Binary) => {
                self.fail(
                    close::PROTOCOL_ERROR,
                    "new message started inside a fragmented message",
                );
                return;
            }
            (None, opcode) => PartialMessage {
                opcode,
                data: Vec::new(),
                valid_utf8: 0,
            },
            (Some(message), _) => message,
        };
        if message.data.len() + frame.payload.len() > self.config.max_message_bytes {
            let limit = self.config.max_message_bytes;
            self.fail(
                close::MESSAGE_TOO_BIG,
                format!("message exceeds the {limit}-byte limit"),
            );
            return;
        }
        message.data.extend_from_slice(&frame.payload);
        // Text is checked fragment by fragment, so that a peer cannot make
        // us buffer a whole message of garbage before it is refused (RFC
        // 6455 section 8.1: fail "as soon as" the bytes are not UTF-8). A
        // character split across fragments is fine until the last one.
        if message.opcode == Opcode::Text {
            let unchecked = &message.data[message.valid_utf8..];
            match std::str::from_utf8(unchecked) {
                Ok(_) => message.valid_utf8 = message.data.len(),
                Err(e) if e.error_len().is_none() && !frame.fin => {
                    message.valid_utf8 += e.valid_up_to();
                }
                Err(_) => {
                    self.fail(close::INVALID_PAYLOAD, "text message is not valid UTF-8");
                    return;
                }
            }
        }
        if !frame.fin {
            self.receiving = Some(message);
            return;
        }
        let message = match message.opcode {
            Opcode::Text => match String::from_utf8(message.data) {
                Ok(text) => Message::Text(text),
                Err(_) => {
                    self.fail(close::INVALID_PAYLOAD, "text message is not valid UTF-8");
                    return;
                }
            },
            _ => Message::Binary(message.data),
        };
        self.events.push_back(WsEvent::Message(message));
    }

    fn on_close(&mut self, payload: &[u8]) {
        let (code, reason) = match close::decode_body(payload) {
            Ok(body) => body,
            Err(error) => {
                self.fail(error.close_code(), error.to_string());
                return;
            }
        };
        self.events
            .push_back(WsEvent::CloseReceived { code, reason });
        if !self.close_sent {
            // The peer started the closing handshake: answer with a Close
            // that echoes its status code (RFC 6455 section 5.5.1).
            let body = code
                .map(|code| close::encode_body(code, ""))
                .unwrap_or_default();
            self.queue_close(body);
        }
        self.receiving = None;
        self.ending = Some(Ending::Handshake);
        self.events.push_back(WsEvent::Closed);
    }

    /// Fails the connection (RFC 6455 section 7.1.7): sends a Close with
    /// `code` unless one was already sent, and stops reading.
    fn fail(&mut self, code: u16, reason: impl Into<String>) {
        let mut reason = reason.into();
        truncate_at_char_boundary(&mut reason, close::MAX_REASON_BYTES);
        if !self.close_sent {
            self.queue_close(close::encode_body(code, &reason));
        }
        self.receiving = None;
        self.ending = Some(Ending::Failed);
        self.events
            .push_back(WsEvent::ProtocolError { code, reason });
    }

    // ----- mutators (sending) --------------------------------------------

    /// Sends `text` as one Text frame.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_frame(Opcode::Text, true, text.as_bytes())
    }

    /// Sends `data` as one Binary frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_frame(Opcode::Binary, true, data)
    }

    /// Sends one message split into frames, one per part: the first with
    /// `opcode` (Text or Binary), the rest as Continuation, the last with
    /// FIN. For Text, the parts must join into valid UTF-8 (a character may
    /// be split between parts). No parts sends one empty frame.
    ///
    /// To interleave control frames between the fragments, send them with
    /// [`WsConn::send_frame`] and [`WsConn::ping`] instead.
    pub fn send_fragmented(&mut self, opcode: Opcode, parts: &[&[u8]]) -> Result<(), SendError> {
        if !matches!(opcode, Opcode::Text | Opcode::Binary) {
            return Err(SendError::NotADataOpcode(opcode));
        }
        // Check everything before queueing the first fragment, so that a
        // refused message leaves nothing half-sent.
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if opcode == Opcode::Text && std::str::from_utf8(&parts.concat()).is_err() {
            return Err(SendError::InvalidUtf8);
        }
        let Some((last, first_parts)) = parts.split_last() else {
            return self.send_frame(opcode, true, &[]);
        };
        let mut frame_opcode = opcode;
        for part in first_parts {
            self.send_frame(frame_opcode, false, part)?;
            frame_opcode = Opcode::Continuation;
        }
        self.send_frame(frame_opcode, true, last)
    }

    /// Sends one frame: a fragment of a message (Text or Binary to start
    /// one, Continuation to go on, `fin` to end it) or a Ping or Pong.
    ///
    /// The connection checks the sequence: no new message inside an
    /// unfinished one, no Continuation outside one, control frames whole and
    /// at most 125 bytes, nothing after a Close. It does not check that a
    /// text message's fragments are UTF-8; [`WsConn::send_fragmented`] does.
    pub fn send_frame(
        &mut self,
        opcode: Opcode,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.check_open()?;
        let message = match opcode {
            Opcode::Close => return Err(SendError::CloseFrame),
            Opcode::Ping | Opcode::Pong => {
                check_control_frame(fin, payload)?;
                self.queue_frame(opcode, fin, payload.to_vec());
                return Ok(());
            }
            Opcode::Text | Opcode::Binary if self.sending.is_some() => {
                return Err(SendError::MessageInProgress);
            }
            Opcode::Text | Opcode::Binary => opcode,
            Opcode::Continuation => self.sending.ok_or(SendError::NoMessageInProgress)?,
        };
        self.queue_frame(opcode, fin, payload.to_vec());
        self.sending = if fin { None } else { Some(message) };
        Ok(())
    }

    /// Sends a Ping; the peer answers with a Pong carrying the same payload
    /// (at most 125 bytes).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_frame(Opcode::Ping, true, payload)
    }

    /// Sends an unsolicited Pong (a one-way heartbeat); at most 125 bytes.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_frame(Opcode::Pong, true, payload)
    }

    /// Starts the closing handshake: sends a Close with `code` and `reason`
    /// (at most 123 bytes) and moves to [`WsState::Closing`]. From now on
    /// nothing more is sent; data from the peer is still delivered until its
    /// Close arrives, which completes the handshake ([`WsEvent::Closed`]).
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), SendError> {
        self.check_open()?;
        if !close::is_valid_code(code) {
            return Err(SendError::InvalidCloseCode(code));
        }
        if reason.len() > close::MAX_REASON_BYTES {
            return Err(SendError::CloseReasonTooLong { len: reason.len() });
        }
        self.queue_close(close::encode_body(code, reason));
        Ok(())
    }

    /// Writes `frame` exactly as given, bypassing every check and the state
    /// machine: for showing how a peer reacts to a broken frame (an unmasked
    /// client frame, a reserved opcode, ...). The frame is masked only if it
    /// carries a key, and a Close sent this way does not start the closing
    /// handshake.
    pub fn send_raw_frame(&mut self, frame: &Frame) {
        self.sent_frames
            .push_back(FrameInfo::describe(frame, self.sending));
        frame::encode(frame, &mut self.transmit);
    }

    fn check_open(&self) -> Result<(), SendError> {
        if self.close_sent || self.ending.is_some() {
            Err(SendError::NotOpen)
        } else {
            Ok(())
        }
    }

    fn queue_close(&mut self, body: Vec<u8>) {
        self.queue_frame(Opcode::Close, true, body);
        self.close_sent = true;
    }

    /// Encodes one frame into the transmit buffer, masked if this is a
    /// client, and records it for [`WsConn::poll_sent_frame`].
    fn queue_frame(&mut self, opcode: Opcode, fin: bool, payload: Vec<u8>) {
        let mut frame = Frame::new(fin, opcode, payload);
        if let Some(next_mask) = &mut self.mask_source {
            frame.mask = Some(next_mask());
        }
        self.sent_frames
            .push_back(FrameInfo::describe(&frame, self.sending));
        frame::encode(&frame, &mut self.transmit);
    }

    // ----- output --------------------------------------------------------

    /// Appends every byte waiting to be sent to `buf` and returns how many.
    /// Call it after every input and every send; write the bytes to TCP in
    /// order.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let len = self.transmit.len();
        buf.append(&mut self.transmit);
        len
    }

    /// Whether bytes or frame reports wait to be taken with
    /// [`poll_transmit`](Self::poll_transmit) or
    /// [`poll_sent_frame`](Self::poll_sent_frame).
    pub fn has_output(&self) -> bool {
        !self.transmit.is_empty() || !self.sent_frames.is_empty()
    }

    /// The next frame queued for sending, described for traces, in the
    /// order the frames appear in the transmit bytes.
    pub fn poll_sent_frame(&mut self) -> Option<FrameInfo> {
        self.sent_frames.pop_front()
    }

    /// The next thing the peer did, in the order it happened.
    pub fn poll_event(&mut self) -> Option<WsEvent> {
        self.events.pop_front()
    }
}

impl fmt::Debug for WsConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The mask source is a closure and has nothing to show.
        f.debug_struct("WsConn")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("config", &self.config)
            .field("buffered_input_bytes", &self.recv_buf.len())
            .field("pending_transmit_bytes", &self.transmit.len())
            .field("pending_events", &self.events.len())
            .finish()
    }
}

fn check_control_frame(fin: bool, payload: &[u8]) -> Result<(), SendError> {
    if !fin {
        return Err(SendError::FragmentedControlFrame);
    }
    if payload.len() > MAX_CONTROL_PAYLOAD_BYTES {
        return Err(SendError::ControlPayloadTooLong { len: payload.len() });
    }
    Ok(())
}

fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::apply_mask;

    /// The masking key of RFC 6455 section 5.7's examples.
    const RFC_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn fixed_mask(key: [u8; 4]) -> MaskSource {
        Box::new(move || key)
    }

    /// A new key for every frame: `01 01 01 01`, then `02 02 02 02`, ...
    fn counting_masks() -> MaskSource {
        let mut n = 0u8;
        Box::new(move || {
            n = n.wrapping_add(1);
            [n; 4]
        })
    }

    fn client() -> WsConn {
        WsConn::client(WsConfig::default(), fixed_mask(RFC_MASK))
    }

    fn server() -> WsConn {
        WsConn::server(WsConfig::default())
    }

    /// A frame as a client sends it: masked.
    fn masked(fin: bool, opcode: Opcode, payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(fin, opcode, payload).with_mask(RFC_MASK)
    }

    /// A frame as a server sends it: unmasked.
    fn unmasked(fin: bool, opcode: Opcode, payload: impl Into<Vec<u8>>) -> Frame {
        Frame::new(fin, opcode, payload)
    }

    fn wire(frames: &[Frame]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for frame in frames {
            frame::encode(frame, &mut bytes);
        }
        bytes
    }

    fn info(opcode: Opcode, fin: bool, masked: bool, len: u64, preview: &str) -> FrameInfo {
        FrameInfo {
            opcode,
            fin,
            masked,
            payload_len: len,
            preview: preview.to_owned(),
        }
    }

    fn received(opcode: Opcode, fin: bool, masked: bool, len: u64, preview: &str) -> WsEvent {
        WsEvent::FrameReceived(info(opcode, fin, masked, len, preview))
    }

    fn text(text: &str) -> WsEvent {
        WsEvent::Message(Message::Text(text.to_owned()))
    }

    /// Everything a connection did in reaction to some input.
    #[derive(Debug, PartialEq)]
    struct Reaction {
        events: Vec<WsEvent>,
        transmit: Vec<u8>,
        sent: Vec<FrameInfo>,
        state: WsState,
        should_close_tcp: bool,
    }

    /// Drains everything `conn` has to report.
    fn drain(conn: &mut WsConn) -> Reaction {
        let mut transmit = Vec::new();
        conn.poll_transmit(&mut transmit);
        Reaction {
            events: std::iter::from_fn(|| conn.poll_event()).collect(),
            transmit,
            sent: std::iter::from_fn(|| conn.poll_sent_frame()).collect(),
            state: conn.state(),
            should_close_tcp: conn.should_close_tcp(),
        }
    }

    fn feed<'a>(conn: &mut WsConn, chunks: impl IntoIterator<Item = &'a [u8]>) -> Reaction {
        for chunk in chunks {
            conn.handle_input(chunk);
        }
        drain(conn)
    }

    /// Feeds `input` to fresh connections made by `new`: whole, split in two
    /// at every byte boundary, and one byte at a time. Every way must give
    /// the same reaction, which is returned.
    fn react(new: impl Fn() -> WsConn, input: &[u8]) -> Reaction {
        let whole = feed(&mut new(), [input]);
        for at in 0..=input.len() {
            let (head, tail) = input.split_at(at);
            assert_eq!(feed(&mut new(), [head, tail]), whole, "split at byte {at}");
        }
        assert_eq!(
            feed(&mut new(), input.chunks(1)),
            whole,
            "one byte at a time"
        );
        whole
    }

    /// Moves everything `from` has to send into `to`.
    fn pump(from: &mut WsConn, to: &mut WsConn) {
        let mut bytes = Vec::new();
        from.poll_transmit(&mut bytes);
        to.handle_input(&bytes);
    }

    #[test]
    fn server_receives_the_rfc_masked_hello() {
        let input = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let reaction = react(server, &input);
        assert_eq!(
            reaction.events,
            [
                received(Opcode::Text, true, true, 5, "Hello"),
                text("Hello")
            ]
        );
        assert!(reaction.transmit.is_empty());
        assert_eq!(reaction.state, WsState::Open);
    }

    #[test]
    fn client_reassembles_fragments_around_a_ping_and_answers_it() {
        // RFC 6455 section 5.7: "Hel" and "lo" as two fragments, with the
        // unmasked Ping "Hello" between them.
        let input = [
            &[0x01, 0x03, 0x48, 0x65, 0x6c][..],
            &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            &[0x80, 0x02, 0x6c, 0x6f],
        ]
        .concat();
        let reaction = react(client, &input);
        assert_eq!(
            reaction.events,
            [
                received(Opcode::Text, false, false, 3, "Hel"),
                received(Opcode::Ping, true, false, 5, "Hello"),
                WsEvent::Ping(b"Hello".to_vec()),
                received(Opcode::Continuation, true, false, 2, "lo"),
                text("Hello"),
            ]
        );
        // The automatic reply is the RFC's masked Pong, byte for byte.
        assert_eq!(
            reaction.transmit,
            [
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        assert_eq!(reaction.sent, [info(Opcode::Pong, true, true, 5, "Hello")]);
    }

    #[test]
    fn a_character_split_across_fragments_is_valid_text() {
        // U+20AC (€, e2 82 ac) and U+1F600 (f0 9f 98 80) cut at every
        // fragment boundary there is.
        let input = wire(&[
            masked(false, Opcode::Text, [b'a', 0xe2]),
            masked(false, Opcode::Continuation, [0x82]),
            masked(false, Opcode::Continuation, [0xac, 0xf0, 0x9f]),
            masked(false, Opcode::Continuation, []),
            masked(true, Opcode::Continuation, [0x98, 0x80]),
        ]);
        let reaction = react(server, &input);
        assert_eq!(reaction.events.last(), Some(&text("a€😀")));
        assert_eq!(reaction.state, WsState::Open);
    }

    #[test]
    fn server_sends_the_rfc_fragments_with_a_ping_between() {
        let mut server = server();
        server.send_frame(Opcode::Text, false, b"Hel").unwrap();
        server.ping(b"Hello").unwrap();
        server
            .send_frame(Opcode::Continuation, true, b"lo")
            .unwrap();
        let sent = drain(&mut server);
        assert_eq!(
            sent.transmit,
            [
                &[0x01, 0x03, 0x48, 0x65, 0x6c][..],
                &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
                &[0x80, 0x02, 0x6c, 0x6f],
            ]
            .concat()
        );
        assert_eq!(
            sent.sent,
            [
                info(Opcode::Text, false, false, 3, "Hel"),
                info(Opcode::Ping, true, false, 5, "Hello"),
                info(Opcode::Continuation, true, false, 2, "lo"),
            ]
        );
        let mut client = client();
        client.handle_input(&sent.transmit);
        assert_eq!(drain(&mut client).events.last(), Some(&text("Hello")));
    }

    #[test]
    fn send_fragmented_splits_a_message_into_continuation_frames() {
        let mut client = client();
        let mut server = server();
        client
            .send_fragmented(Opcode::Binary, &[&[1, 2], &[3], &[4, 5]])
            .unwrap();
        // "é" is two bytes; a fragment boundary may fall between them.
        client
            .send_fragmented(
                Opcode::Text,
                &["caf\u{e9}".as_bytes()[..4].as_ref(), &[0xa9]],
            )
            .unwrap();
        pump(&mut client, &mut server);
        assert_eq!(
            drain(&mut server).events,
            [
                received(Opcode::Binary, false, true, 2, "0102"),
                received(Opcode::Continuation, false, true, 1, "03"),
                received(Opcode::Continuation, true, true, 2, "0405"),
                WsEvent::Message(Message::Binary(vec![1, 2, 3, 4, 5])),
                received(Opcode::Text, false, true, 4, "caf\u{fffd}"),
                received(Opcode::Continuation, true, true, 1, "\u{fffd}"),
                text("caf\u{e9}"),
            ]
        );
    }

    #[test]
    fn client_frames_are_masked_with_fresh_keys_and_server_frames_are_not() {
        let mut client = WsConn::client(WsConfig::default(), counting_masks());
        let mut server = server();
        client.send_text("one").unwrap();
        client.send_binary(b"two").unwrap();
        let mut bytes = Vec::new();
        client.poll_transmit(&mut bytes);
        // Each frame: 2 header bytes, 4 key bytes, 3 masked payload bytes.
        assert_eq!(bytes[..6], [0x81, 0x83, 1, 1, 1, 1]);
        assert_eq!(bytes[6..9], [b'o' ^ 1, b'n' ^ 1, b'e' ^ 1]);
        assert_eq!(bytes[9..15], [0x82, 0x83, 2, 2, 2, 2]);
        assert_eq!(bytes[15..], [b't' ^ 2, b'w' ^ 2, b'o' ^ 2]);
        server.handle_input(&bytes);
        let events = drain(&mut server).events;
        assert_eq!(events[1], text("one"));
        assert_eq!(
            events[3],
            WsEvent::Message(Message::Binary(b"two".to_vec()))
        );

        server.send_text("hi").unwrap();
        let reply = drain(&mut server);
        assert_eq!(reply.transmit, [0x81, 0x02, b'h', b'i']);
        client.handle_input(&reply.transmit);
        assert_eq!(drain(&mut client).events[1], text("hi"));
    }

    #[test]
    fn a_64_kib_message_arrives_byte_by_byte() {
        let payload: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
        let bytes = wire(&[unmasked(true, Opcode::Binary, payload.clone())]);
        let reaction = feed(&mut client(), bytes.chunks(1));
        assert_eq!(
            reaction.events[1],
            WsEvent::Message(Message::Binary(payload))
        );
    }

    /// The bytes of the Close frame a connection sends to report `code`:
    /// unmasked from a server, masked with a zero key from a client (so
    /// the payload reads plainly).
    fn close_frame(role: Role, code: u16, reason: &str) -> Vec<u8> {
        let payload = [&code.to_be_bytes()[..], reason.as_bytes()].concat();
        let len = payload.len() as u8;
        match role {
            Role::Server => [&[0x88, len][..], &payload].concat(),
            Role::Client => [&[0x88, 0x80 | len, 0, 0, 0, 0][..], &payload].concat(),
        }
    }

    /// Makes a fresh connection for each way of feeding the input.
    type NewConn = fn() -> WsConn;

    #[test]
    fn protocol_errors_fail_the_connection_with_the_right_close_frame() {
        let zero_mask_client: NewConn = || WsConn::client(WsConfig::default(), fixed_mask([0; 4]));
        let small_server: NewConn = || {
            WsConn::server(WsConfig {
                max_message_bytes: 8,
                max_frame_bytes: 8,
            })
        };
        let big_frame_server: NewConn = || {
            WsConn::server(WsConfig {
                max_message_bytes: 100,
                max_frame_bytes: 8,
            })
        };
        let rsv1_text = Frame {
            rsv1: true,
            ..masked(true, Opcode::Text, "x")
        };
        // (what the peer did, connection, input, close code, close reason)
        let cases: Vec<(&str, NewConn, Vec<u8>, u16, &str)> = vec![
            (
                "unmasked client frame",
                server,
                wire(&[unmasked(true, Opcode::Text, "Hello")]),
                1002,
                "unmasked frame from the client",
            ),
            (
                "masked server frame",
                zero_mask_client,
                wire(&[masked(true, Opcode::Text, "Hello")]),
                1002,
                "masked frame from the server",
            ),
            (
                "reserved opcode",
                server,
                vec![0x83, 0x80, 1, 2, 3, 4],
                1002,
                "reserved opcode 0x3",
            ),
            (
                "RSV1 without an extension",
                server,
                wire(&[rsv1_text]),
                1002,
                "reserved bits set, but no extension was negotiated",
            ),
            (
                "control frame over 125 bytes",
                server,
                wire(&[masked(true, Opcode::Ping, vec![0; 126])]),
                1002,
                "ping frame with 126 bytes (control frames carry at most 125)",
            ),
            (
                "fragmented control frame",
                server,
                wire(&[masked(false, Opcode::Ping, "p")]),
                1002,
                "fragmented ping frame (control frames must have FIN set)",
            ),
            (
                "continuation without a start",
                server,
                wire(&[masked(true, Opcode::Continuation, "lo")]),
                1002,
                "continuation frame with no message to continue",
            ),
            (
                "new message inside a fragmented one",
                server,
                wire(&[
                    masked(false, Opcode::Text, "Hel"),
                    masked(true, Opcode::Text, "lo"),
                ]),
                1002,
                "new message started inside a fragmented message",
            ),
            (
                "invalid close code",
                server,
                wire(&[masked(true, Opcode::Close, [0x03, 0xED])]),
                1002,
                "invalid close code 1005",
            ),
            (
                "one-byte close body",
                server,
                wire(&[masked(true, Opcode::Close, [0x03])]),
                1002,
                "a one-byte close payload (a status code takes two)",
            ),
            (
                "invalid UTF-8 text",
                server,
                wire(&[masked(true, Opcode::Text, [b'a', 0xff])]),
                1007,
                "text message is not valid UTF-8",
            ),
            (
                "invalid UTF-8 across fragments",
                zero_mask_client,
                wire(&[
                    unmasked(false, Opcode::Text, [0xc3]),
                    unmasked(true, Opcode::Continuation, [0x28]),
                ]),
                1007,
                "text message is not valid UTF-8",
            ),
            (
                // The rest of the message never comes: the first fragment
                // is enough to know.
                "invalid UTF-8 in the first fragment",
                server,
                wire(&[masked(false, Opcode::Text, [b'o', b'k', 0xff])]),
                1007,
                "text message is not valid UTF-8",
            ),
            (
                "a character broken in a middle fragment",
                server,
                wire(&[
                    masked(false, Opcode::Text, [0xe2]),
                    masked(false, Opcode::Continuation, [0x82, 0x28]),
                ]),
                1007,
                "text message is not valid UTF-8",
            ),
            (
                "a character cut short by the last fragment",
                server,
                wire(&[
                    masked(false, Opcode::Text, "a"),
                    masked(true, Opcode::Continuation, [0xf0, 0x9f, 0x98]),
                ]),
                1007,
                "text message is not valid UTF-8",
            ),
            (
                "invalid UTF-8 close reason",
                server,
                wire(&[masked(true, Opcode::Close, [0x03, 0xE8, 0xff])]),
                1007,
                "close reason is not valid UTF-8",
            ),
            (
                "fragments adding up to too much",
                small_server,
                wire(&[
                    masked(false, Opcode::Binary, [0; 5]),
                    masked(true, Opcode::Continuation, [0; 4]),
                ]),
                1009,
                "message exceeds the 8-byte limit",
            ),
            (
                // Only the header arrives: the frame is refused before its
                // payload would be buffered.
                "frame over the frame limit",
                big_frame_server,
                vec![0x82, 0x89, 1, 2, 3, 4],
                1009,
                "9-byte frame payload exceeds the 8-byte limit",
            ),
        ];
        for (name, new, input, code, reason) in cases {
            let reaction = react(new, &input);
            let expected = WsEvent::ProtocolError {
                code,
                reason: reason.to_owned(),
            };
            assert_eq!(reaction.events.last(), Some(&expected), "{name}");
            let role = new().role();
            assert_eq!(reaction.transmit, close_frame(role, code, reason), "{name}");
            assert_eq!(reaction.state, WsState::Closed, "{name}");
            assert!(reaction.should_close_tcp, "{name}");
        }
    }

    #[test]
    fn a_failed_connection_ignores_input_and_refuses_to_send() {
        let mut server = server();
        server.handle_input(&wire(&[unmasked(true, Opcode::Text, "x")]));
        drain(&mut server);
        server.handle_input(&wire(&[masked(true, Opcode::Text, "y")]));
        assert_eq!(drain(&mut server).events, []);
        assert_eq!(server.send_text("z"), Err(SendError::NotOpen));
        assert_eq!(server.close(1000, ""), Err(SendError::NotOpen));
    }

    #[test]
    fn client_initiated_close_leaves_the_server_to_close_tcp() {
        let mut client = client();
        let mut server = server();
        client.close(1000, "bye").unwrap();
        assert_eq!(client.state(), WsState::Closing);
        assert_eq!(client.send_text("too late"), Err(SendError::NotOpen));

        pump(&mut client, &mut server);
        let at_server = drain(&mut server);
        assert_eq!(
            at_server.events,
            [
                received(Opcode::Close, true, true, 5, "1000 bye"),
                WsEvent::CloseReceived {
                    code: Some(1000),
                    reason: "bye".to_owned()
                },
                WsEvent::Closed,
            ]
        );
        // The reply echoes the code, without a reason.
        assert_eq!(at_server.transmit, [0x88, 0x02, 0x03, 0xE8]);
        assert_eq!(at_server.state, WsState::Closed);
        assert!(at_server.should_close_tcp);

        client.handle_input(&at_server.transmit);
        let at_client = drain(&mut client);
        assert_eq!(
            at_client.events,
            [
                received(Opcode::Close, true, false, 2, "1000"),
                WsEvent::CloseReceived {
                    code: Some(1000),
                    reason: String::new()
                },
                WsEvent::Closed,
            ]
        );
        assert_eq!(at_client.state, WsState::Closed);
        // The client waits for the server's FIN, which is then no surprise.
        assert!(!at_client.should_close_tcp);
        client.handle_eof();
        assert_eq!(client.poll_event(), None);
    }

    #[test]
    fn server_initiated_close_is_echoed_by_the_client() {
        let mut client = client();
        let mut server = server();
        server.close(1001, "going away").unwrap();
        pump(&mut server, &mut client);
        let at_client = drain(&mut client);
        assert_eq!(
            at_client.events[1..],
            [
                WsEvent::CloseReceived {
                    code: Some(1001),
                    reason: "going away".to_owned()
                },
                WsEvent::Closed,
            ]
        );
        let mut echo = vec![0x03, 0xE9];
        apply_mask(&mut echo, RFC_MASK);
        assert_eq!(
            at_client.transmit,
            [&[0x88, 0x82][..], &RFC_MASK, &echo].concat()
        );
        assert!(!at_client.should_close_tcp);

        server.handle_input(&at_client.transmit);
        let at_server = drain(&mut server);
        assert_eq!(at_server.events.last(), Some(&WsEvent::Closed));
        assert!(at_server.transmit.is_empty());
        assert!(at_server.should_close_tcp);
    }

    #[test]
    fn a_close_without_a_code_is_answered_without_one() {
        let reaction = react(client, &[0x88, 0x00]);
        assert_eq!(
            reaction.events[1..],
            [
                WsEvent::CloseReceived {
                    code: None,
                    reason: String::new()
                },
                WsEvent::Closed,
            ]
        );
        assert_eq!(reaction.transmit, [&[0x88, 0x80][..], &RFC_MASK].concat());
    }

    #[test]
    fn while_closing_data_still_arrives_but_pings_go_unanswered() {
        let mut server = server();
        server.close(1000, "").unwrap();
        drain(&mut server);
        server.handle_input(&wire(&[
            masked(true, Opcode::Text, "late"),
            masked(true, Opcode::Ping, "p"),
        ]));
        let reaction = drain(&mut server);
        assert_eq!(
            reaction.events,
            [
                received(Opcode::Text, true, true, 4, "late"),
                text("late"),
                received(Opcode::Ping, true, true, 1, "p"),
                WsEvent::Ping(b"p".to_vec()),
            ]
        );
        assert!(reaction.transmit.is_empty());
        assert_eq!(reaction.state, WsState::Closing);
    }

    #[test]
    fn tcp_ending_before_the_close_handshake_is_a_lost_connection() {
        let mut client = client();
        client.handle_input(&[0x81, 0x05, b'H']);
        client.handle_eof();
        let reaction = drain(&mut client);
        assert_eq!(reaction.events, [WsEvent::ConnectionLost]);
        assert_eq!(reaction.state, WsState::Closed);
        assert!(reaction.should_close_tcp);
        client.handle_input(b"llo");
        assert_eq!(client.poll_event(), None);
    }

    #[test]
    fn refused_sends_queue_nothing() {
        let mut client = client();
        let cases = [
            (
                client.ping(&[0; 126]),
                SendError::ControlPayloadTooLong { len: 126 },
            ),
            (
                client.send_frame(Opcode::Pong, false, b""),
                SendError::FragmentedControlFrame,
            ),
            (
                client.send_frame(Opcode::Close, true, b""),
                SendError::CloseFrame,
            ),
            (
                client.send_frame(Opcode::Continuation, true, b"x"),
                SendError::NoMessageInProgress,
            ),
            (
                client.send_fragmented(Opcode::Ping, &[]),
                SendError::NotADataOpcode(Opcode::Ping),
            ),
            (
                client.send_fragmented(Opcode::Text, &[&[0xc3], &[0x28]]),
                SendError::InvalidUtf8,
            ),
            (client.close(1005, ""), SendError::InvalidCloseCode(1005)),
            (
                client.close(1000, &"x".repeat(124)),
                SendError::CloseReasonTooLong { len: 124 },
            ),
        ];
        for (result, error) in cases {
            assert_eq!(result, Err(error));
        }
        assert_eq!(drain(&mut client).transmit, []);

        client.send_frame(Opcode::Text, false, b"a").unwrap();
        assert_eq!(client.send_text("b"), Err(SendError::MessageInProgress));
        assert_eq!(
            client.send_fragmented(Opcode::Binary, &[b"c"]),
            Err(SendError::MessageInProgress)
        );
        assert_eq!(drain(&mut client).sent.len(), 1);
    }

    #[test]
    fn send_raw_frame_bypasses_the_rules_for_fault_injection() {
        let mut client = client();
        let mut server = server();
        // A broken client that forgets to mask.
        client.send_raw_frame(&unmasked(true, Opcode::Text, "oops"));
        pump(&mut client, &mut server);
        assert_eq!(
            drain(&mut server).events.last(),
            Some(&WsEvent::ProtocolError {
                code: 1002,
                reason: "unmasked frame from the client".to_owned()
            })
        );
    }

    #[test]
    fn previews_are_short_and_printable() {
        let describe = |opcode, payload: &[u8]| {
            FrameInfo::describe(&Frame::new(true, opcode, payload), None).preview
        };
        assert_eq!(describe(Opcode::Text, b"line\none\t"), "line\\none\\t");
        let long = "0123456789".repeat(4);
        assert_eq!(
            describe(Opcode::Text, long.as_bytes()),
            format!("{}...", &long[..32])
        );
        // Multi-byte characters count as one each.
        let accents = "\u{e9}".repeat(40);
        assert_eq!(
            describe(Opcode::Text, accents.as_bytes()),
            format!("{}...", "\u{e9}".repeat(32))
        );
        assert_eq!(describe(Opcode::Binary, &[0xde, 0xad]), "dead");
        assert_eq!(
            describe(Opcode::Binary, &[0xab; 17]),
            format!("{}...", "ab".repeat(16))
        );
        assert_eq!(
            describe(Opcode::Close, &[0x03, 0xE8, b'o', b'k']),
            "1000 ok"
        );
        assert_eq!(describe(Opcode::Close, &[]), "");
        assert_eq!(describe(Opcode::Continuation, b"?"), "3f");

        let frame = Frame::new(true, Opcode::Text, "Hello").with_mask(RFC_MASK);
        let line = FrameInfo::describe(&frame, None).to_string();
        assert_eq!(line, "text fin masked len=5 \"Hello\"");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_opcode() -> impl Strategy<Value = Opcode> {
            prop_oneof![
                Just(Opcode::Continuation),
                Just(Opcode::Text),
                Just(Opcode::Binary),
                Just(Opcode::Close),
                Just(Opcode::Ping),
                Just(Opcode::Pong),
            ]
        }

        /// Frames a client might send, valid or not in sequence.
        fn client_frames() -> impl Strategy<Value = Vec<u8>> {
            let frame = (
                any::<bool>(),
                any_opcode(),
                proptest::collection::vec(any::<u8>(), 0..20),
            );
            proptest::collection::vec(frame, 0..8).prop_map(|frames| {
                let frames: Vec<Frame> = frames
                    .into_iter()
                    .map(|(fin, opcode, payload)| masked(fin, opcode, payload))
                    .collect();
                wire(&frames)
            })
        }

        fn small_server() -> WsConn {
            WsConn::server(WsConfig {
                max_message_bytes: 32,
                max_frame_bytes: 16,
            })
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic_and_splitting_changes_nothing(
                bytes in proptest::collection::vec(any::<u8>(), 0..200),
                split in any::<proptest::sample::Index>(),
            ) {
                for new in [server as NewConn, client] {
                    let whole = feed(&mut new(), [bytes.as_slice()]);
                    let (head, tail) = bytes.split_at(split.index(bytes.len() + 1));
                    prop_assert_eq!(feed(&mut new(), [head, tail]), whole);
                }
            }

            #[test]
            fn frame_sequences_give_the_same_events_however_split(
                bytes in client_frames(),
                splits in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
            ) {
                let whole = feed(&mut small_server(), [bytes.as_slice()]);
                let mut cuts: Vec<usize> = splits.iter().map(|s| s.index(bytes.len() + 1)).collect();
                cuts.sort_unstable();
                let mut chunks = Vec::new();
                let mut start = 0;
                for cut in cuts {
                    chunks.push(&bytes[start..cut]);
                    start = cut;
                }
                chunks.push(&bytes[start..]);
                prop_assert_eq!(feed(&mut small_server(), chunks), whole);
            }
        }
    }
}

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
    // Printable ASCII (the usual Ping, chat line or JSON) is its own
    // preview: each byte one character, nothing to escape.
    let head = &bytes[..bytes.len().min(PREVIEW_CHARS)];
    if let Ok(text) = std::str::from_utf8(head)
        && text.bytes().all(|b| (b' '..=b'~').contains(&b))
    {
        let cut = if bytes.len() > PREVIEW_CHARS {
            "..."
        } else {
            ""
        };
        let mut preview = String::with_capacity(head.len() + cut.len());
        preview.push_str(text);
        preview.push_str(cut);
        return preview;
    }
    preview_chars(bytes)
}

/// [`preview_text`] character by character, for any bytes.
fn preview_chars(bytes: &[u8]) -> String {
    // A character takes at most 4 bytes, so this window holds the first
    // PREVIEW_CHARS whole characters without converting a huge payload.
    let window = &bytes[..bytes.len().min(4 * PREVIEW_CHARS)];
    let text = String::from_utf8_lossy(window);
    let mut chars = text.chars();
    // Room for a short payload and the cut mark: one allocation, usually.
    let mut preview = String::with_capacity(window.len() + 3);
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
    let mut preview = String::with_capacity(2 * PREVIEW_BINARY_BYTES + 3);
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
mod tests;

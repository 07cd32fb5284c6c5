//! Raw TCP peers: a client and a server that send exactly the bytes they are
//! given, in pieces at chosen times, and record exactly what they receive.
//!
//! They exist to misbehave on purpose. The HTTP and WebSocket applications
//! always speak their protocol correctly, so their answers to broken input
//! (a request without `Host`, an unmasked frame, invalid UTF-8 in a text
//! message, a truncated response) can only be tested from a peer that does
//! not. A [`RawClient`] connects and plays its script of [`Piece`]s; a
//! [`RawServer`] plays the same kind of script on every connection it
//! accepts. Both report what they receive as application events whose
//! `data` field shows the bytes [`escape`]d (`\r\n`, `\x88`), so an
//! expectation can check them, and close as their [`RawClose`] says.
//!
//! Scripts are written in scenario files as text with escapes ([`unescape`])
//! or as hex ([`parse_hex`]); both parsers live here so that the scenario
//! loader and timeline commands read bytes the same way.

use super::stream::{flush, read_all};
use crate::app::{App, AppContext, Command};
use crate::socket::{SocketEvent, SocketId, TimerId};
use crate::time::SimDuration;
use crate::trace::AppEvent;
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// How many received bytes a connection keeps for its `raw.eof` event; the
/// rest is only counted, so a peer that sends gigabytes costs no memory.
pub const KEEP_RECEIVED_BYTES: usize = 64 * 1024;

/// How many bytes of a piece or a read are shown in one event's summary
/// line.
const SHOWN_BYTES: usize = 200;

/// How many bytes of one piece or one read the `data` field of a
/// `raw.sent` or `raw.received` event shows (then `…` and the count left
/// out): enough for any message a test checks, and a 16 MiB piece or a
/// bulk stream does not copy itself into the trace. `raw.eof` and
/// `raw.failed` show everything kept, up to [`KEEP_RECEIVED_BYTES`].
const EVENT_DATA_BYTES: usize = 1024;

/// One write of a raw peer's script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// How long after the previous piece (or, for the first, after the
    /// connection was established) this one is written.
    pub after: SimDuration,
    /// The bytes to write.
    pub bytes: Vec<u8>,
}

impl Piece {
    /// A piece written right after the previous one.
    pub fn now(bytes: impl Into<Vec<u8>>) -> Piece {
        Piece {
            after: SimDuration::ZERO,
            bytes: bytes.into(),
        }
    }

    /// A piece written `after` the previous one.
    pub fn after(after: SimDuration, bytes: impl Into<Vec<u8>>) -> Piece {
        Piece {
            after,
            bytes: bytes.into(),
        }
    }
}

/// When a raw peer ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawClose {
    /// Once the peer has closed its side (EOF), close too.
    OnEof,
    /// Close as soon as every piece is written. Bytes received and not read
    /// by then make the close a reset, as on Linux.
    AfterSend,
    /// Half-close (`shutdown`) once every piece is written, keep reading,
    /// and close when the peer closes.
    ShutdownAfterSend,
    /// Reset the connection (SO_LINGER 0) once every piece is written.
    AbortAfterSend,
    /// Never close (until a timeline `close` command).
    Never,
}

/// The state of one connection of a raw peer.
#[derive(Clone, Debug, Default)]
struct RawConn {
    /// The next piece of the script to write.
    next_piece: usize,
    /// The timer that writes the next piece, while one is armed.
    timer: Option<TimerId>,
    /// Bytes waiting for room in the send buffer.
    unsent: Vec<u8>,
    /// The first [`KEEP_RECEIVED_BYTES`] bytes received.
    received: Vec<u8>,
    /// Every byte received, counted.
    received_total: u64,
    /// The script ended and its closing step was taken.
    finished_script: bool,
    /// The peer closed its side.
    eof: bool,
}

/// The script and the closing rule a raw client or server plays on each
/// connection, with the code both share.
#[derive(Clone, Debug)]
struct Script {
    pieces: Vec<Piece>,
    close: RawClose,
    /// Nagle's algorithm stays on (off by default, so that each piece
    /// leaves when it is written rather than waiting for an ACK).
    nagle: bool,
}

/// What the caller must do with a connection after a script step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Keep the connection.
    Keep,
    /// The connection is closed (or reset): forget it.
    Gone,
}

impl Script {
    /// Writes every piece that is due now and arms a timer for the next one;
    /// once the script has run out and everything is written, takes the
    /// closing step.
    fn advance(&self, cx: &mut AppContext<'_>, sid: SocketId, conn: &mut RawConn) -> Step {
        while conn.timer.is_none() && conn.next_piece < self.pieces.len() {
            let piece = &self.pieces[conn.next_piece];
            conn.next_piece += 1;
            cx.emit(
                AppEvent::new(
                    "raw.sent",
                    format!(
                        "writes {} bytes: {}",
                        piece.bytes.len(),
                        escape_shortened(&piece.bytes, SHOWN_BYTES)
                    ),
                )
                .on(sid)
                .with("piece", conn.next_piece as u64)
                .with("bytes", piece.bytes.len() as u64)
                .with("data", escape_shortened(&piece.bytes, EVENT_DATA_BYTES)),
            );
            conn.unsent.extend_from_slice(&piece.bytes);
            flush(cx, sid, &mut conn.unsent);
            if let Some(next) = self.pieces.get(conn.next_piece)
                && !next.after.is_zero()
            {
                conn.timer = Some(cx.set_timer(next.after));
            }
        }
        self.maybe_finish(cx, sid, conn)
    }

    /// Takes the closing step once every piece is written.
    fn maybe_finish(&self, cx: &mut AppContext<'_>, sid: SocketId, conn: &mut RawConn) -> Step {
        let written = conn.next_piece >= self.pieces.len() && conn.unsent.is_empty();
        if !written || conn.finished_script {
            return Step::Keep;
        }
        conn.finished_script = true;
        match self.close {
            RawClose::AfterSend => {
                let _ = cx.close(sid);
                Step::Gone
            }
            RawClose::AbortAfterSend => {
                let _ = cx.abort(sid);
                Step::Gone
            }
            RawClose::ShutdownAfterSend if conn.eof => {
                let _ = cx.close(sid);
                Step::Gone
            }
            RawClose::ShutdownAfterSend => {
                let _ = cx.shutdown(sid);
                Step::Keep
            }
            RawClose::OnEof | RawClose::Never => Step::Keep,
        }
    }

    /// Reads what arrived, reports it, and closes if the peer's end of
    /// stream calls for it.
    fn read(&self, cx: &mut AppContext<'_>, sid: SocketId, conn: &mut RawConn) -> Step {
        let input = read_all(cx, sid);
        if !input.data.is_empty() {
            conn.received_total += input.data.len() as u64;
            let room = KEEP_RECEIVED_BYTES.saturating_sub(conn.received.len());
            conn.received
                .extend_from_slice(&input.data[..input.data.len().min(room)]);
            cx.emit(
                AppEvent::new(
                    "raw.received",
                    format!(
                        "reads {} bytes: {}",
                        input.data.len(),
                        escape_shortened(&input.data, SHOWN_BYTES)
                    ),
                )
                .on(sid)
                .with("bytes", input.data.len() as u64)
                .with("data", escape_shortened(&input.data, EVENT_DATA_BYTES)),
            );
        }
        if input.eof && !conn.eof {
            conn.eof = true;
            cx.emit(
                received_event(
                    "raw.eof",
                    format!(
                        "the peer closed after sending {} bytes",
                        conn.received_total
                    ),
                    conn,
                )
                .on(sid),
            );
            let close = match self.close {
                RawClose::OnEof => true,
                // A peer that half-closed first waits for its last piece.
                RawClose::ShutdownAfterSend => conn.finished_script,
                RawClose::AfterSend | RawClose::AbortAfterSend | RawClose::Never => false,
            };
            if close {
                if let Some(timer) = conn.timer.take() {
                    cx.cancel_timer(timer);
                }
                let _ = cx.close(sid);
                return Step::Gone;
            }
        }
        Step::Keep
    }

    /// The timer of `conn` fired: writes the next piece.
    fn on_timer(&self, cx: &mut AppContext<'_>, sid: SocketId, conn: &mut RawConn) -> Step {
        conn.timer = None;
        self.advance(cx, sid, conn)
    }

    /// Runs a timeline command against one connection.
    fn command(
        &self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        conn: &mut RawConn,
        command: &Command,
        kind: &str,
    ) -> Step {
        match command.verb.as_str() {
            "send" => {
                let bytes = match command.data.as_deref().map(unescape) {
                    Some(Ok(bytes)) => bytes,
                    Some(Err(e)) => {
                        cx.emit(AppEvent::new(
                            "app.command-ignored",
                            format!("{kind}: `send` data: {e}"),
                        ));
                        return Step::Keep;
                    }
                    None => super::filler(command.count.unwrap_or(100).min(1 << 20) as usize),
                };
                cx.emit(
                    AppEvent::new(
                        "raw.sent",
                        format!(
                            "writes {} bytes: {}",
                            bytes.len(),
                            escape_shortened(&bytes, SHOWN_BYTES)
                        ),
                    )
                    .on(sid)
                    .with("bytes", bytes.len() as u64)
                    .with("data", escape_shortened(&bytes, EVENT_DATA_BYTES)),
                );
                conn.unsent.extend_from_slice(&bytes);
                flush(cx, sid, &mut conn.unsent);
                Step::Keep
            }
            "close" => {
                let _ = cx.close(sid);
                Step::Gone
            }
            "abort" => {
                let _ = cx.abort(sid);
                Step::Gone
            }
            "shutdown" => {
                let _ = cx.shutdown(sid);
                Step::Keep
            }
            other => {
                cx.emit(AppEvent::new(
                    "app.command-ignored",
                    format!("{kind} does not understand `{other}`"),
                ));
                Step::Keep
            }
        }
    }
}

/// An event carrying everything a connection received: `bytes` (the
/// count), `data` (the bytes kept, escaped) and `first_line` (up to the
/// first line feed, without the line ending: an HTTP status line).
fn received_event(kind: &'static str, summary: String, conn: &RawConn) -> AppEvent {
    let first_line = conn
        .received
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    let first_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    let shown = escape_shortened(&conn.received, SHOWN_BYTES);
    AppEvent::new(kind, format!("{summary}: {shown}"))
        .with("bytes", conn.received_total)
        .with("data", escape(&conn.received))
        .with("first_line", escape(first_line))
}

/// A TCP client that connects, writes its script of pieces at their
/// times, reports every byte it receives, and closes as told.
#[derive(Clone, Debug)]
pub struct RawClient {
    remote: SocketAddrV4,
    script: Script,
    conn: Option<(SocketId, RawConn)>,
    /// What the last connection received, once it is over.
    last_received: Vec<u8>,
}

impl RawClient {
    /// A client of `remote` that writes `pieces` and then closes as `close` says.
    pub fn new(remote: SocketAddrV4, pieces: Vec<Piece>, close: RawClose) -> RawClient {
        RawClient {
            remote,
            script: Script {
                pieces,
                close,
                nagle: false,
            },
            conn: None,
            last_received: Vec::new(),
        }
    }

    /// Keeps Nagle's algorithm on (it is off by default, so that every
    /// piece leaves at its own time instead of waiting for an ACK).
    pub fn nagle(mut self, enabled: bool) -> RawClient {
        self.script.nagle = enabled;
        self
    }

    /// The bytes received on the current (or else the last) connection, up
    /// to [`KEEP_RECEIVED_BYTES`].
    pub fn received(&self) -> &[u8] {
        match &self.conn {
            Some((_, conn)) => &conn.received,
            None => &self.last_received,
        }
    }

    /// Forgets the connection once it is closed, keeping what it received.
    fn step(&mut self, step: Step) {
        if step == Step::Gone
            && let Some((_, conn)) = self.conn.take()
        {
            self.last_received = conn.received;
        }
    }
}

impl App for RawClient {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.conn = None;
        match cx.connect(self.remote) {
            Ok(sid) => {
                if !self.script.nagle {
                    let _ = cx.set_nagle(sid, false);
                }
                self.conn = Some((sid, RawConn::default()));
            }
            Err(e) => cx.emit(AppEvent::new(
                "raw.connect-failed",
                format!("connect({}) failed: {e}", self.remote),
            )),
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let Some((sid, conn)) = self.conn.as_mut() else {
            return;
        };
        let sid = *sid;
        let step = match event {
            SocketEvent::Connected(s) if s == sid => {
                cx.emit(
                    AppEvent::new("raw.connected", format!("connected to {}", self.remote)).on(sid),
                );
                match self.script.pieces.first() {
                    Some(first) if !first.after.is_zero() => {
                        conn.timer = Some(cx.set_timer(first.after));
                        Step::Keep
                    }
                    _ => self.script.advance(cx, sid, conn),
                }
            }
            SocketEvent::Readable(s) if s == sid => self.script.read(cx, sid, conn),
            SocketEvent::Writable(s) if s == sid => {
                flush(cx, sid, &mut conn.unsent);
                self.script.maybe_finish(cx, sid, conn)
            }
            SocketEvent::ConnectFailed(s, reason) | SocketEvent::Closed(s, reason) if s == sid => {
                cx.emit(
                    received_event(
                        "raw.failed",
                        format!("connection to {} ended: {reason}", self.remote),
                        conn,
                    )
                    .on(sid)
                    .with("reason", reason.to_string()),
                );
                let _ = cx.close(sid);
                Step::Gone
            }
            _ => Step::Keep,
        };
        self.step(step);
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        let Some((sid, conn)) = self.conn.as_mut() else {
            return;
        };
        if conn.timer != Some(timer) {
            return;
        }
        let step = self.script.on_timer(cx, *sid, conn);
        self.step(step);
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        let Some((sid, conn)) = self.conn.as_mut() else {
            cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("raw-client: `{}`: no open connection", command.verb),
            ));
            return;
        };
        let step = self.script.command(cx, *sid, conn, command, "raw-client");
        self.step(step);
    }
}

/// A TCP server that accepts connections on a port and plays the same
/// script on each: writes its pieces at their times, reports every byte it
/// receives, and closes as told.
#[derive(Clone, Debug)]
pub struct RawServer {
    port: u16,
    script: Script,
    conns: BTreeMap<SocketId, RawConn>,
    timers: BTreeMap<TimerId, SocketId>,
    /// Connections accepted.
    pub accepted: u64,
}

impl RawServer {
    /// A server on `port` that writes `pieces` on every connection.
    pub fn new(port: u16, pieces: Vec<Piece>, close: RawClose) -> RawServer {
        RawServer {
            port,
            script: Script {
                pieces,
                close,
                nagle: false,
            },
            conns: BTreeMap::new(),
            timers: BTreeMap::new(),
            accepted: 0,
        }
    }

    /// Keeps Nagle's algorithm on (it is off by default, so that every
    /// piece leaves at its own time instead of waiting for an ACK).
    pub fn nagle(mut self, enabled: bool) -> RawServer {
        self.script.nagle = enabled;
        self
    }

    /// Applies a step's outcome to connection `sid` and remembers its timer.
    fn step(&mut self, sid: SocketId, step: Step) {
        match step {
            Step::Gone => {
                if let Some(conn) = self.conns.remove(&sid)
                    && let Some(timer) = conn.timer
                {
                    self.timers.remove(&timer);
                }
            }
            Step::Keep => {
                if let Some(timer) = self.conns.get(&sid).and_then(|c| c.timer) {
                    self.timers.insert(timer, sid);
                }
            }
        }
    }
}

impl App for RawServer {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.conns.clear();
        self.timers.clear();
        cx.listen_or_report(self.port, None, "raw.listen-failed");
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Incoming { port } => {
                while let Some(sid) = cx.accept(port) {
                    self.accepted += 1;
                    if !self.script.nagle {
                        let _ = cx.set_nagle(sid, false);
                    }
                    cx.emit(
                        AppEvent::new("raw.accepted", format!("accepted connection on :{port}"))
                            .on(sid),
                    );
                    let mut conn = RawConn::default();
                    let step = match self.script.pieces.first() {
                        Some(first) if !first.after.is_zero() => {
                            conn.timer = Some(cx.set_timer(first.after));
                            Step::Keep
                        }
                        _ => self.script.advance(cx, sid, &mut conn),
                    };
                    self.conns.insert(sid, conn);
                    self.step(sid, step);
                }
            }
            SocketEvent::Readable(sid) => {
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return;
                };
                let step = self.script.read(cx, sid, conn);
                self.step(sid, step);
            }
            SocketEvent::Writable(sid) => {
                let Some(conn) = self.conns.get_mut(&sid) else {
                    return;
                };
                flush(cx, sid, &mut conn.unsent);
                let step = self.script.maybe_finish(cx, sid, conn);
                self.step(sid, step);
            }
            SocketEvent::Closed(sid, reason) => {
                if let Some(conn) = self.conns.get(&sid) {
                    cx.emit(
                        received_event("raw.failed", format!("connection ended: {reason}"), conn)
                            .on(sid)
                            .with("reason", reason.to_string()),
                    );
                }
                let _ = cx.close(sid);
                self.step(sid, Step::Gone);
            }
            SocketEvent::Connected(_) | SocketEvent::ConnectFailed(..) => {}
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        let Some(sid) = self.timers.remove(&timer) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&sid) else {
            return;
        };
        let step = self.script.on_timer(cx, sid, conn);
        self.step(sid, step);
    }

    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        if command.verb == "stop" {
            cx.unlisten(self.port);
            return;
        }
        // Every open connection gets the command, in socket order.
        let open: Vec<SocketId> = self.conns.keys().copied().collect();
        if open.is_empty() {
            cx.emit(AppEvent::new(
                "app.command-ignored",
                format!("raw-server: `{}`: no open connection", command.verb),
            ));
        }
        for sid in open {
            if let Some(conn) = self.conns.get_mut(&sid) {
                let step = self.script.command(cx, sid, conn, command, "raw-server");
                self.step(sid, step);
            }
        }
    }
}

/// Shows bytes as text: printable ASCII as itself, a backslash as `\\`,
/// CR, LF, tab and NUL as `\r`, `\n`, `\t`, `\0`, anything else as `\xHH`.
/// [`unescape`] reads it back, so a received answer can be pasted into a
/// script or an expectation.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// [`escape`]s at most `max` bytes, with `…` and the count left out after.
pub fn escape_shortened(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return escape(bytes);
    }
    format!(
        "{}… ({} more bytes)",
        escape(&bytes[..max]),
        bytes.len() - max
    )
}

/// Reads text with escapes into bytes: `\r`, `\n`, `\t`, `\0`, `\\`, `\"`,
/// `\'` and `\xHH` (any byte, e.g. `\xff`); every other ASCII character
/// stands for itself. Characters outside ASCII are refused (see the error
/// for why); the error says which character is wrong and what would be
/// valid.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().enumerate();
    while let Some((n, c)) = chars.next() {
        let position = n + 1;
        if !c.is_ascii() {
            // TOML reads "\xff" in a double-quoted string as the character
            // U+00FF (two bytes, c3 bf), not the byte ff: refusing every
            // character outside ASCII makes that mistake impossible to miss.
            return Err(format!(
                "`{c}` (U+{:04X}) at character {position} is not ASCII: write bytes above 0x7f as escapes in a single-quoted string, e.g. 'ab\\xff' (in double quotes TOML turns \"\\xff\" into the character ÿ)",
                c as u32
            ));
        }
        if c != '\\' {
            out.push(c as u8);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err(format!(
                "a lone `\\` ends the text (character {position}); write `\\\\` for a backslash"
            ));
        };
        match e {
            'r' => out.push(b'\r'),
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            '0' => out.push(0),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            '\'' => out.push(b'\''),
            'x' => {
                let digits: String = (0..2)
                    .filter_map(|_| chars.next().map(|(_, d)| d))
                    .collect();
                match u8::from_str_radix(&digits, 16) {
                    Ok(b) if digits.len() == 2 && digits.chars().all(|d| d.is_ascii_hexdigit()) => {
                        out.push(b)
                    }
                    _ => {
                        return Err(format!(
                            "`\\x{digits}` at character {position} is not a byte: `\\x` takes two hex digits, e.g. `\\xff` or `\\x00`"
                        ));
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown escape `\\{other}` at character {position}; valid escapes: \\r \\n \\t \\0 \\\\ \\\" \\' \\xHH (e.g. \\xff)"
                ));
            }
        }
    }
    Ok(out)
}

/// Reads bytes written as hex: pairs of hex digits, optionally separated by
/// spaces, tabs or newlines (`"81 85 37fa"`). The error says which
/// character is wrong.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<(usize, u8)> = None;
    for (n, c) in text.chars().enumerate() {
        if c.is_ascii_whitespace() {
            if let Some((at, _)) = high {
                return Err(format!(
                    "a byte is cut in half at character {}: write every byte as two hex digits, e.g. \"0f\" rather than \"f\"",
                    at + 1
                ));
            }
            continue;
        }
        let Some(digit) = c.to_digit(16) else {
            return Err(format!(
                "`{c}` at character {} is not a hex digit; write bytes as pairs of hex digits, e.g. \"81 85 0d 0a\"",
                n + 1
            ));
        };
        match high.take() {
            None => high = Some((n, digit as u8)),
            Some((_, h)) => out.push(h << 4 | digit as u8),
        }
    }
    if let Some((at, _)) = high {
        return Err(format!(
            "the last byte has only one hex digit (character {}): write every byte as two hex digits, e.g. \"0f\"",
            at + 1
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_unescape_round_trip_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = escape(&all);
        assert!(text.is_ascii());
        assert_eq!(unescape(&text).unwrap(), all);
        assert_eq!(escape(b"GET /\r\n\x00\xff\\"), "GET /\\r\\n\\0\\xff\\\\");
    }

    #[test]
    fn unescape_reads_the_documented_escapes() {
        assert_eq!(
            unescape(r#"a\r\n\t\0\\\"\'\x81\xFF"#).unwrap(),
            b"a\r\n\t\0\\\"'\x81\xff".to_vec()
        );
        // Control characters already decoded by TOML pass through.
        assert_eq!(unescape("a\r\n").unwrap(), b"a\r\n".to_vec());
    }

    #[test]
    fn unescape_names_the_bad_escape_and_its_position() {
        let e = unescape(r"ab\q").unwrap_err();
        assert!(e.contains("`\\q` at character 3"), "{e}");
        let e = unescape(r"\x4").unwrap_err();
        assert!(e.contains("`\\x4` at character 1"), "{e}");
        assert!(e.contains("two hex digits"), "{e}");
        let e = unescape(r"\xzz").unwrap_err();
        assert!(e.contains("`\\xzz`"), "{e}");
        let e = unescape("ab\\").unwrap_err();
        assert!(e.contains("lone"), "{e}");
        // What TOML makes of "\xff" in double quotes is refused, not sent
        // as two UTF-8 bytes.
        let e = unescape("ab\u{ff}").unwrap_err();
        assert!(e.contains("U+00FF) at character 3 is not ASCII"), "{e}");
        assert!(e.contains("single-quoted"), "{e}");
    }

    #[test]
    fn hex_reads_pairs_with_or_without_spaces() {
        assert_eq!(
            parse_hex("81 85\n37fa21 3d").unwrap(),
            vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]
        );
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
        let e = parse_hex("81 8g").unwrap_err();
        assert!(e.contains("`g` at character 5"), "{e}");
        let e = parse_hex("81 8 5").unwrap_err();
        assert!(e.contains("cut in half at character 4"), "{e}");
        let e = parse_hex("818").unwrap_err();
        assert!(e.contains("only one hex digit (character 3)"), "{e}");
    }

    #[test]
    fn shortened_escape_says_how_much_is_left_out() {
        assert_eq!(escape_shortened(b"abcdef", 3), "abc… (3 more bytes)");
        assert_eq!(escape_shortened(b"abc", 3), "abc");
    }
}

//! A minimal STOMP 1.2 frame codec: the subprotocol simnet negotiates with
//! `Sec-WebSocket-Protocol: v12.stomp` to show a protocol riding on
//! WebSocket messages.
//!
//! A STOMP frame is text-like: a command line, header lines `name:value`, a
//! blank line, the body, and a NUL byte.
//!
//! ```text
//! SEND
//! destination:/topic/prices
//! content-length:5
//!
//! hello^@
//! ```
//!
//! Over WebSocket each STOMP frame travels as one message, so [`decode`]
//! reads exactly one frame from one message. It honours `content-length`
//! (the body may then contain NUL bytes), tolerates the end-of-line
//! heart-beats STOMP allows before and after a frame, and undoes the STOMP
//! 1.2 header escapes (`\r`, `\n`, `\c` for `:`, `\\`), which [`encode`]
//! applies. CONNECT and CONNECTED frames are not escaped, for compatibility
//! with STOMP 1.0, as the specification requires.
//!
//! This module deliberately stops at the frame: it keeps no session state
//! (subscriptions, receipts, transactions, acknowledgements) and does not
//! negotiate heart-beat intervals. A broker or client built on it lives with
//! the applications.

/// The WebSocket subprotocol name for STOMP 1.2.
pub const STOMP_SUBPROTOCOL: &str = "v12.stomp";

/// The most header lines [`decode`] accepts in one frame.
pub const MAX_HEADERS: usize = 64;

/// One STOMP frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StompFrame {
    /// The command, e.g. `SEND` or `MESSAGE`.
    pub command: String,
    /// Headers in order. If a name repeats, the first occurrence counts.
    pub headers: Vec<(String, String)>,
    /// The body; empty for most commands.
    pub body: Vec<u8>,
}

impl StompFrame {
    /// A frame with the given command and headers and no body.
    pub fn new(command: &str, headers: &[(&str, &str)]) -> StompFrame {
        StompFrame {
            command: command.to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    /// The same frame with `body` and a matching `content-length` header.
    pub fn with_body(mut self, body: &[u8]) -> StompFrame {
        self.headers
            .push(("content-length".to_owned(), body.len().to_string()));
        self.body = body.to_vec();
        self
    }

    /// The value of the first header called `name` (names are
    /// case-sensitive in STOMP).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// CONNECT: the client's first frame, asking for STOMP 1.2 on the
    /// virtual host `host`.
    pub fn connect(host: &str) -> StompFrame {
        StompFrame::new("CONNECT", &[("accept-version", "1.2"), ("host", host)])
    }

    /// CONNECTED: the server's answer to CONNECT.
    pub fn connected() -> StompFrame {
        StompFrame::new("CONNECTED", &[("version", "1.2")])
    }

    /// SUBSCRIBE: receive the messages sent to `destination`, tagged with
    /// the subscription `id`.
    pub fn subscribe(id: &str, destination: &str) -> StompFrame {
        StompFrame::new("SUBSCRIBE", &[("id", id), ("destination", destination)])
    }

    /// SEND: a message for `destination`.
    pub fn send(destination: &str, body: &[u8]) -> StompFrame {
        StompFrame::new("SEND", &[("destination", destination)]).with_body(body)
    }

    /// MESSAGE: the server delivering a message to subscription
    /// `subscription`.
    pub fn message(
        subscription: &str,
        message_id: &str,
        destination: &str,
        body: &[u8],
    ) -> StompFrame {
        StompFrame::new(
            "MESSAGE",
            &[
                ("subscription", subscription),
                ("message-id", message_id),
                ("destination", destination),
            ],
        )
        .with_body(body)
    }

    /// DISCONNECT: the client leaving, asking for a RECEIPT tagged `receipt`.
    pub fn disconnect(receipt: &str) -> StompFrame {
        StompFrame::new("DISCONNECT", &[("receipt", receipt)])
    }

    /// RECEIPT: the server confirming the frame that asked for `receipt_id`.
    pub fn receipt(receipt_id: &str) -> StompFrame {
        StompFrame::new("RECEIPT", &[("receipt-id", receipt_id)])
    }

    /// ERROR: the server reporting a problem in `message`, with details in
    /// `body`; the server closes the connection afterwards.
    pub fn error(message: &str, body: &[u8]) -> StompFrame {
        StompFrame::new("ERROR", &[("message", message)]).with_body(body)
    }

    /// Whether this frame's headers use STOMP 1.2 escapes: all frames except
    /// CONNECT and CONNECTED.
    fn escapes_headers(&self) -> bool {
        !matches!(self.command.as_str(), "CONNECT" | "CONNECTED")
    }
}

/// Appends `frame` to `out`: the command, the header lines (escaped unless
/// the frame is CONNECT or CONNECTED), a blank line, the body and a NUL.
/// Lines end with LF alone.
///
/// The body is written as it is; give frames whose body may contain a NUL
/// byte a `content-length` header (see [`StompFrame::with_body`]).
pub fn encode(frame: &StompFrame, out: &mut Vec<u8>) {
    out.extend_from_slice(frame.command.as_bytes());
    out.push(b'\n');
    let escape = frame.escapes_headers();
    for (name, value) in &frame.headers {
        write_header_text(name, escape, out);
        out.push(b':');
        write_header_text(value, escape, out);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(&frame.body);
    out.push(0);
}

fn write_header_text(text: &str, escape: bool, out: &mut Vec<u8>) {
    if !escape {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for byte in text.bytes() {
        match byte {
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            other => out.push(other),
        }
    }
}

/// Why bytes are not one STOMP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StompError {
    /// The input holds only end-of-line heart-beats. Not a fault: a peer
    /// keeping the connection alive. Callers usually ignore it.
    #[error("only heart-beat end-of-lines, no frame")]
    HeartBeatOnly,
    /// The input ends inside the command line, the headers or the body.
    #[error("the frame is cut short")]
    Truncated,
    /// The command line is empty or not made of capital letters.
    #[error("missing or invalid command")]
    InvalidCommand,
    /// A header line has no `:`.
    #[error("header line without ':'")]
    MalformedHeader,
    /// A header line holds a carriage return that does not end it. STOMP
    /// 1.2's grammar allows no CR in a header name or value (escaped frames
    /// write one as `\r`; `CONNECT` and `CONNECTED` cannot carry one at
    /// all).
    #[error("raw carriage return inside a header line")]
    CarriageReturnInHeader,
    /// More header lines than [`MAX_HEADERS`].
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    /// A backslash not followed by `r`, `n`, `c` or `\`, which STOMP 1.2
    /// makes a fatal error.
    #[error("undefined escape sequence in a header")]
    InvalidEscape,
    /// A header is not UTF-8.
    #[error("header is not UTF-8")]
    InvalidUtf8,
    /// `content-length` is not a decimal number.
    #[error("content-length is not a number")]
    InvalidContentLength,
    /// The body is not followed by the NUL that ends a frame.
    #[error("the frame does not end with NUL")]
    MissingNul,
    /// Something other than end-of-lines follows the frame.
    #[error("data after the end of the frame")]
    TrailingData,
}

/// Decodes exactly one frame from `data`, with optional end-of-line
/// heart-beats before and after it.
pub fn decode(data: &[u8]) -> Result<StompFrame, StompError> {
    let mut rest = skip_eols(data);
    if rest.is_empty() {
        return Err(StompError::HeartBeatOnly);
    }

    let (command, after) = take_line(rest)?;
    rest = after;
    // Every STOMP command (SEND, MESSAGE, ...) is made of capital letters.
    if command.is_empty() || !command.iter().all(u8::is_ascii_uppercase) {
        return Err(StompError::InvalidCommand);
    }
    // ASCII, so the conversion loses nothing.
    let command = String::from_utf8_lossy(command).into_owned();
    let escaped = !matches!(command.as_str(), "CONNECT" | "CONNECTED");

    let mut headers = Vec::new();
    loop {
        let (line, after) = take_line(rest)?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(StompError::TooManyHeaders);
        }
        if line.contains(&b'\r') {
            return Err(StompError::CarriageReturnInHeader);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(StompError::MalformedHeader)?;
        let name = read_header_text(&line[..colon], escaped)?;
        let value = read_header_text(&line[colon + 1..], escaped)?;
        headers.push((name, value));
    }

    let content_length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map(|(_, value)| value.parse::<usize>())
        .transpose()
        .map_err(|_| StompError::InvalidContentLength)?;
    let body_len = match content_length {
        // With a content-length, the body may itself contain NUL bytes.
        Some(len) => match rest.get(len) {
            Some(0) => len,
            Some(_) => return Err(StompError::MissingNul),
            None => return Err(StompError::Truncated),
        },
        None => rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(StompError::MissingNul)?,
    };
    let body = rest[..body_len].to_vec();
    if !skip_eols(&rest[body_len + 1..]).is_empty() {
        return Err(StompError::TrailingData);
    }

    Ok(StompFrame {
        command,
        headers,
        body,
    })
}

/// `data` without its leading end-of-lines (LF or CR LF).
fn skip_eols(mut data: &[u8]) -> &[u8] {
    loop {
        data = match data {
            [b'\n', rest @ ..] | [b'\r', b'\n', rest @ ..] => rest,
            _ => return data,
        }
    }
}

/// Splits off one line ending in LF or CR LF, returning it without the end.
fn take_line(data: &[u8]) -> Result<(&[u8], &[u8]), StompError> {
    let lf = data
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(StompError::Truncated)?;
    let line = &data[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok((line, &data[lf + 1..]))
}

fn read_header_text(bytes: &[u8], escaped: bool) -> Result<String, StompError> {
    let text = std::str::from_utf8(bytes).map_err(|_| StompError::InvalidUtf8)?;
    if !escaped {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('r') => '\r',
            Some('n') => '\n',
            Some('c') => ':',
            Some('\\') => '\\',
            _ => return Err(StompError::InvalidEscape),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(frame: &StompFrame) -> Vec<u8> {
        let mut out = Vec::new();
        encode(frame, &mut out);
        out
    }

    /// Found by the fuzz harness: a CONNECT header value ending in a raw CR
    /// (`host:serve\r\r\n`) used to decode to `serve\r`, which the encoder
    /// cannot write back. STOMP 1.2 allows no CR inside a header line.
    #[test]
    fn a_raw_carriage_return_inside_a_header_line_is_refused() {
        for input in [
            &b"CONNECT\naccept-version:1.2\nhost:serve\r\r\n\n\0"[..],
            b"SEND\ndesti\rnation:/q\n\n\0",
            b"SEND\ndestination:/q\rx\r\n\r\n\0",
        ] {
            assert_eq!(decode(input), Err(StompError::CarriageReturnInHeader));
        }
        // A CR LF line ending is still fine, and an escaped CR round-trips.
        let frame = decode(b"SEND\r\ndestination:/q\\r\r\n\r\n\0").unwrap();
        assert_eq!(frame.headers, vec![("destination".into(), "/q\r".into())]);
        assert_eq!(decode(&encoded(&frame)), Ok(frame));
    }

    #[test]
    fn constructors_encode_to_the_expected_bytes() {
        let cases: Vec<(StompFrame, &[u8])> = vec![
            (
                StompFrame::connect("broker"),
                b"CONNECT\naccept-version:1.2\nhost:broker\n\n\0",
            ),
            (StompFrame::connected(), b"CONNECTED\nversion:1.2\n\n\0"),
            (
                StompFrame::subscribe("sub-0", "/topic/prices"),
                b"SUBSCRIBE\nid:sub-0\ndestination:/topic/prices\n\n\0",
            ),
            (
                StompFrame::send("/topic/prices", b"42"),
                b"SEND\ndestination:/topic/prices\ncontent-length:2\n\n42\0",
            ),
            (
                StompFrame::message("sub-0", "m-1", "/topic/prices", b"42"),
                b"MESSAGE\nsubscription:sub-0\nmessage-id:m-1\ndestination:/topic/prices\ncontent-length:2\n\n42\0",
            ),
            (StompFrame::disconnect("r-9"), b"DISCONNECT\nreceipt:r-9\n\n\0"),
            (StompFrame::receipt("r-9"), b"RECEIPT\nreceipt-id:r-9\n\n\0"),
            (
                StompFrame::error("bad frame", b"details"),
                b"ERROR\nmessage:bad frame\ncontent-length:7\n\ndetails\0",
            ),
        ];
        for (frame, bytes) in cases {
            assert_eq!(encoded(&frame), bytes, "{}", String::from_utf8_lossy(bytes));
            assert_eq!(decode(bytes), Ok(frame));
        }
    }

    #[test]
    fn headers_are_escaped_and_unescaped() {
        let frame = StompFrame::new("SEND", &[("weird:name", "a\r\nb:c\\d")]);
        let bytes = encoded(&frame);
        assert_eq!(bytes, b"SEND\nweird\\cname:a\\r\\nb\\cc\\\\d\n\n\0");
        assert_eq!(decode(&bytes), Ok(frame));
    }

    #[test]
    fn connect_frames_are_not_escaped() {
        let frame = StompFrame::new("CONNECT", &[("login", "a\\b")]);
        let bytes = encoded(&frame);
        assert_eq!(bytes, b"CONNECT\nlogin:a\\b\n\n\0");
        assert_eq!(decode(&bytes), Ok(frame));
        // The first colon splits name from value; later ones are kept.
        let connected = decode(b"CONNECTED\nserver:simnet:1.0\n\n\0").unwrap();
        assert_eq!(connected.header("server"), Some("simnet:1.0"));
    }

    #[test]
    fn content_length_lets_the_body_hold_nul_bytes() {
        let frame = StompFrame::send("/q", b"a\0b\0");
        let bytes = encoded(&frame);
        assert_eq!(decode(&bytes).unwrap().body, b"a\0b\0");
        // Without content-length, the first NUL ends the body.
        assert_eq!(
            decode(b"SEND\n\nab\0"),
            Ok(StompFrame {
                command: "SEND".to_owned(),
                headers: vec![],
                body: b"ab".to_vec()
            })
        );
    }

    #[test]
    fn heart_beats_and_crlf_line_ends_are_tolerated() {
        let decoded = decode(b"\n\r\nRECEIPT\r\nreceipt-id:7\r\n\r\n\0\n\r\n\n").unwrap();
        assert_eq!(decoded, StompFrame::receipt("7"));
        assert_eq!(decode(b"\n\r\n\n"), Err(StompError::HeartBeatOnly));
        assert_eq!(decode(b""), Err(StompError::HeartBeatOnly));
    }

    #[test]
    fn the_first_of_repeated_headers_counts() {
        let frame = decode(b"MESSAGE\nfoo:first\nfoo:second\n\n\0").unwrap();
        assert_eq!(frame.header("foo"), Some("first"));
        assert_eq!(frame.headers.len(), 2);
    }

    #[test]
    fn malformed_frames_are_errors() {
        let too_many_headers = format!("SEND\n{}\n\0", "a:b\n".repeat(MAX_HEADERS + 1));
        let cases: Vec<(&[u8], StompError)> = vec![
            (b"SEND", StompError::Truncated),
            (b"SEND\ndestination:/q\n", StompError::Truncated),
            (b"\r\r\n\n\0", StompError::InvalidCommand),
            (b"se nd\n\n\0", StompError::InvalidCommand),
            (b"SEND\nno colon\n\n\0", StompError::MalformedHeader),
            (b"SEND\na:\\t\n\n\0", StompError::InvalidEscape),
            (b"SEND\na:b\\\n\n\0", StompError::InvalidEscape),
            (b"SEND\na:\xff\n\n\0", StompError::InvalidUtf8),
            (
                b"SEND\ncontent-length:x\n\n\0",
                StompError::InvalidContentLength,
            ),
            (b"SEND\ncontent-length:5\n\nab\0", StompError::Truncated),
            (b"SEND\ncontent-length:1\n\nab\0", StompError::MissingNul),
            (b"SEND\n\nab", StompError::MissingNul),
            (b"SEND\n\nab\0SEND", StompError::TrailingData),
            (too_many_headers.as_bytes(), StompError::TooManyHeaders),
        ];
        for (bytes, error) in cases {
            assert_eq!(
                decode(bytes),
                Err(error),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn frames_round_trip_whatever_their_headers_and_body(
                command in "[A-Z]{1,12}",
                headers in proptest::collection::vec((".{0,8}", ".{0,8}"), 0..8),
                body in proptest::collection::vec(any::<u8>(), 0..64),
            ) {
                prop_assume!(command != "CONNECT" && command != "CONNECTED");
                let mut frame = StompFrame { command, headers, body: Vec::new() };
                // content-length goes first so that it is the one that counts.
                frame.headers.insert(0, ("content-length".to_owned(), body.len().to_string()));
                frame.body = body;
                prop_assert_eq!(decode(&encoded(&frame)), Ok(frame));
            }

            #[test]
            fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
                let _ = decode(&bytes);
            }
        }
    }
}

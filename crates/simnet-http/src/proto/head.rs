//! Reading message heads (start line and header fields) under limits.
//!
//! httparse does the tokenising. This module adds what httparse leaves to
//! its caller: limits that hold while the head is still incomplete (so a
//! peer cannot make the buffer grow without bound by never finishing a
//! line), the choice between "wait for more bytes" (`Ok(None)`, like
//! httparse's `Partial`) and "refuse", and conversion to owned values.
//!
//! Every answer depends only on the bytes received, never on how they were
//! split into deliveries: each check looks at a prefix of fixed length (the
//! limit plus one byte), so once that prefix has arrived the outcome is
//! decided, and before that it is "wait".
//!
//! It deliberately does not interpret header fields: framing and
//! keep-alive decisions belong to the connections.

use super::error::ProtocolError;
use super::message::Version;

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Vec<(String, String)>,
    /// How many input bytes the head took, blank line included.
    pub len: usize,
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// How many input bytes the head took, blank line included.
    pub len: usize,
}

/// Where the first line of some input ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// No line ending yet, and the line is still within its limit.
    NeedMore,
    /// The line is longer than its limit, whether or not it has ended.
    TooLong,
    /// The line is complete: `content` bytes, then a CRLF or bare LF, `total`
    /// bytes in all.
    Found { content: usize, total: usize },
}

/// Finds the end of the first line of `input`, allowing at most
/// `max_content` bytes before the line ending.
///
/// Only the first `max_content + 2` bytes are examined: that is enough to
/// hold the longest acceptable line and its CRLF.
pub(crate) fn find_line(input: &[u8], max_content: usize) -> LineEnd {
    let window = &input[..input.len().min(max_content.saturating_add(2))];
    match window.iter().position(|&b| b == b'\n') {
        Some(newline) => {
            let content = if newline > 0 && window[newline - 1] == b'\r' {
                newline - 1
            } else {
                newline
            };
            if content > max_content {
                LineEnd::TooLong
            } else {
                LineEnd::Found {
                    content,
                    total: newline + 1,
                }
            }
        }
        None if window.len() >= max_content.saturating_add(2) => LineEnd::TooLong,
        None => LineEnd::NeedMore,
    }
}

/// Drops empty lines in front of a message.
///
/// RFC 9112 section 2.2 asks a receiver to ignore at least one empty line
/// before a request line (some clients send a stray CRLF after a body).
/// Removing them here, before any limit is checked, means they count against
/// no limit and cannot accumulate either. A lone `\r` is kept: its `\n` may
/// still be on its way.
pub(crate) fn skip_empty_lines(input: &mut Vec<u8>) {
    let mut skip = 0;
    loop {
        match input[skip..] {
            [b'\n', ..] => skip += 1,
            [b'\r', b'\n', ..] => skip += 2,
            _ => break,
        }
    }
    input.drain(..skip);
}

/// Limits on a request head.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestHeadLimits {
    pub max_request_line_bytes: usize,
    pub max_header_bytes: usize,
    pub max_headers: usize,
}

/// Parses the request head at the start of `input`: `Ok(None)` until it is
/// complete.
pub(crate) fn parse_request(
    input: &[u8],
    limits: RequestHeadLimits,
) -> Result<Option<RequestHead>, ProtocolError> {
    // The request line is checked on its own first, so that an overlong
    // target is answered with 414 rather than with whatever httparse would
    // say about the part it has seen.
    let request_line = match find_line(input, limits.max_request_line_bytes) {
        LineEnd::NeedMore => return Ok(None),
        LineEnd::TooLong => {
            return Err(ProtocolError::RequestLineTooLong {
                limit: limits.max_request_line_bytes,
            });
        }
        LineEnd::Found { content, .. } => &input[..content],
    };

    let window = head_window(input, limits.max_header_bytes);
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut request = httparse::Request::new(&mut slots);
    let len = match request.parse(window) {
        Ok(httparse::Status::Complete(len)) if len <= limits.max_header_bytes => len,
        // Partial, or complete only in the byte past the limit.
        Ok(_) if window.len() > limits.max_header_bytes => {
            return Err(ProtocolError::HeadTooLarge {
                limit: limits.max_header_bytes,
            });
        }
        Ok(_) => return Ok(None),
        Err(error) => return Err(request_head_error(window, request_line, error, limits)),
    };

    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Err(ProtocolError::Malformed("incomplete request line"));
    };
    let version = Version::from_minor(minor).ok_or(ProtocolError::UnsupportedVersion)?;
    Ok(Some(RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        version,
        headers: owned_headers(request.headers),
        len,
    }))
}

/// Parses the response head at the start of `input`: `Ok(None)` until it is
/// complete.
pub(crate) fn parse_response(
    input: &[u8],
    max_header_bytes: usize,
    max_headers: usize,
) -> Result<Option<ResponseHead>, ProtocolError> {
    let window = head_window(input, max_header_bytes);
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(window) {
        Ok(httparse::Status::Complete(len)) if len <= max_header_bytes => len,
        // Partial, or complete only in the byte past the limit.
        Ok(_) if window.len() > max_header_bytes => {
            return Err(ProtocolError::HeadTooLarge {
                limit: max_header_bytes,
            });
        }
        Ok(_) => return Ok(None),
        Err(error) => return response_head_error(window, error, max_headers),
    };

    let (Some(minor), Some(status)) = (response.version, response.code) else {
        return Err(ProtocolError::Malformed("incomplete status line"));
    };
    let version = Version::from_minor(minor).ok_or(ProtocolError::UnsupportedVersion)?;
    if status < 100 {
        return Err(ProtocolError::Malformed("invalid status code"));
    }
    Ok(Some(ResponseHead {
        version,
        status,
        reason: response.reason.unwrap_or_default().to_string(),
        headers: owned_headers(response.headers),
        len,
    }))
}

/// The part of `input` a head of at most `max_header_bytes` can occupy, plus
/// one byte: if the head has not ended within it, it is too long.
fn head_window(input: &[u8], max_header_bytes: usize) -> &[u8] {
    &input[..input.len().min(max_header_bytes.saturating_add(1))]
}

/// Translates an httparse error.
fn head_error(error: httparse::Error, max_headers: usize) -> ProtocolError {
    match error {
        httparse::Error::TooManyHeaders => ProtocolError::TooManyHeaders { limit: max_headers },
        httparse::Error::HeaderName => ProtocolError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => ProtocolError::Malformed("invalid header value"),
        httparse::Error::NewLine => ProtocolError::Malformed("invalid line ending"),
        httparse::Error::Status => ProtocolError::Malformed("invalid status code"),
        httparse::Error::Token => ProtocolError::Malformed("invalid token in start line"),
        httparse::Error::Version => ProtocolError::Malformed("invalid HTTP version"),
    }
}

/// Explains why httparse refused a response head where its error kinds
/// would mislead: bytes that do not start like `HTTP/` are not an HTTP
/// response at all (an SSH banner, TLS, garbage), and a well-formed
/// version other than 1.x is unsupported rather than invalid.
///
/// As for requests, the answer must not depend on how the input was split:
/// the prefix check looks only at bytes up to the one httparse stopped at,
/// and a version is judged once its status line is complete (until then,
/// `Ok(None)`: wait, within the head's size limit).
fn response_head_error(
    window: &[u8],
    error: httparse::Error,
    max_headers: usize,
) -> Result<Option<ResponseHead>, ProtocolError> {
    let start = &window[..window.len().min(5)];
    if !b"HTTP/".starts_with(start) {
        return Err(ProtocolError::Malformed(
            "not an HTTP response: it does not start with `HTTP/`",
        ));
    }
    if error == httparse::Error::Version {
        let Some(end) = window.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let version = window[..end]
            .split(|&b| b == b' ')
            .next()
            .unwrap_or_default();
        if names_an_http_version(version) {
            return Err(ProtocolError::UnsupportedVersion);
        }
    }
    Err(head_error(error, max_headers))
}

/// Explains why httparse refused a request head, more precisely than its
/// error kinds do where RFC 9112 names the fault: a version that is well
/// formed but not 1.x (505), a request line that is not three words, a NUL
/// byte, obsolete line folding.
///
/// The explanation must not depend on how the input was split into
/// deliveries: the request line is complete here (it was found before
/// httparse ran), and in the header section only the first byte that breaks
/// the field grammar is looked at, the byte httparse stopped at.
fn request_head_error(
    window: &[u8],
    request_line: &[u8],
    error: httparse::Error,
    limits: RequestHeadLimits,
) -> ProtocolError {
    let words = request_line.split(|&b| b == b' ').count();
    if matches!(
        error,
        httparse::Error::Token | httparse::Error::Version | httparse::Error::NewLine
    ) {
        if request_line.contains(&0) {
            return ProtocolError::Malformed("NUL byte in the request line");
        }
        // httparse read a method and a target and then met something that
        // is not a version (or a version followed by more words): there
        // is a space too many, usually in the target.
        if words > 3 {
            return ProtocolError::Malformed(
                "request line is not `method target version` (e.g. `GET /index.html HTTP/1.1`); a space in the target?",
            );
        }
    }
    if error == httparse::Error::Version && names_an_http_version(request_line) {
        return ProtocolError::UnsupportedVersion;
    }
    if matches!(
        error,
        httparse::Error::HeaderName | httparse::Error::HeaderValue
    ) {
        let fields = window
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&[][..], |end| &window[end + 1..]);
        match first_field_fault(fields) {
            Some(FieldFault::Nul) => {
                return ProtocolError::Malformed("NUL byte in a header field");
            }
            Some(FieldFault::ObsFold) => {
                return ProtocolError::Malformed(
                    "obsolete line folding: a header line starts with a space or tab (RFC 9112 section 5.2)",
                );
            }
            Some(FieldFault::Other) | None => {}
        }
    }
    head_error(error, limits.max_headers)
}

/// The first fault in a header section that RFC 9112 names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldFault {
    /// A NUL byte.
    Nul,
    /// A line that starts with a space or tab: the continuation of the
    /// previous field's value (`obs-fold`), which a server must refuse.
    ObsFold,
    /// Any other byte the field grammar does not allow.
    Other,
}

/// Walks header field lines (`token ":" value CRLF`) to the first byte
/// that breaks the grammar and says what it is. It allows exactly what
/// httparse allows (names of `tchar`, values of HTAB, SP, visible ASCII
/// and obs-text), so it stops where httparse stopped.
fn first_field_fault(fields: &[u8]) -> Option<FieldFault> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let is_value = |b: u8| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80;
    let classify = |b: u8| {
        if b == 0 {
            FieldFault::Nul
        } else {
            FieldFault::Other
        }
    };
    let mut i = 0;
    while i < fields.len() {
        // One field line: the end of the section, or a name.
        match fields[i] {
            b'\r' | b'\n' => return None,
            b' ' | b'\t' => return Some(FieldFault::ObsFold),
            _ => {}
        }
        while i < fields.len() && fields[i] != b':' {
            if !is_tchar(fields[i]) {
                return Some(classify(fields[i]));
            }
            i += 1;
        }
        i += 1;
        while i < fields.len() && fields[i] != b'\r' && fields[i] != b'\n' {
            if !is_value(fields[i]) {
                return Some(classify(fields[i]));
            }
            i += 1;
        }
        if fields.get(i) == Some(&b'\r') {
            i += 1;
            match fields.get(i) {
                Some(b'\n') => {}
                Some(_) => return Some(FieldFault::Other),
                None => return None,
            }
        }
        i += 1;
    }
    None
}

/// Whether the last word of a request line has the shape of an HTTP version
/// (`HTTP/` digit `.` digit), so that a version httparse rejects is answered
/// with 505 rather than 400.
fn names_an_http_version(request_line: &[u8]) -> bool {
    let version = request_line
        .rsplit(|&b| b == b' ')
        .next()
        .unwrap_or_default();
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// Copies httparse's borrowed fields into owned pairs.
///
/// Values that are not UTF-8 (obsolete but legal Latin-1 text) are kept
/// with replacement characters: they are only ever displayed.
fn owned_headers(fields: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|field| {
            let value = String::from_utf8_lossy(field.value);
            (field.name.to_string(), value.trim().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RequestHeadLimits = RequestHeadLimits {
        max_request_line_bytes: 20,
        max_header_bytes: 60,
        max_headers: 3,
    };

    #[test]
    fn lines_end_with_crlf_or_bare_lf() {
        assert_eq!(
            find_line(b"abc\r\nx", 3),
            LineEnd::Found {
                content: 3,
                total: 5
            }
        );
        assert_eq!(
            find_line(b"abc\nx", 3),
            LineEnd::Found {
                content: 3,
                total: 4
            }
        );
        assert_eq!(find_line(b"abc\r", 3), LineEnd::NeedMore);
        assert_eq!(find_line(b"abcd", 3), LineEnd::NeedMore);
        assert_eq!(find_line(b"abcde", 3), LineEnd::TooLong);
        assert_eq!(find_line(b"abcd\r\n", 3), LineEnd::TooLong);
    }

    #[test]
    fn leading_empty_lines_are_dropped() {
        let mut input = b"\r\n\n\r\nGET".to_vec();
        skip_empty_lines(&mut input);
        assert_eq!(input, b"GET");
        let mut input = b"\r".to_vec();
        skip_empty_lines(&mut input);
        assert_eq!(input, b"\r");
    }

    #[test]
    fn a_complete_request_head_is_parsed() {
        let head = parse_request(b"GET /a HTTP/1.0\r\nHost: x \r\n\r\nbody", LIMITS)
            .unwrap()
            .unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/a");
        assert_eq!(head.version, Version::Http10);
        assert_eq!(head.headers, [("Host".to_string(), "x".to_string())]);
        assert_eq!(head.len, 29);
    }

    #[test]
    fn an_incomplete_head_waits_until_it_breaks_a_limit() {
        assert_eq!(
            parse_request(b"GET /a HTTP/1.1\r\nHost: x\r\n", LIMITS),
            Ok(None)
        );
        assert_eq!(
            parse_request(b"GET /aaaaaaaaaaaaaaaaaaaa", LIMITS),
            Err(ProtocolError::RequestLineTooLong { limit: 20 })
        );
        let long_header = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'v'; 60]].concat();
        assert_eq!(
            parse_request(&long_header, LIMITS),
            Err(ProtocolError::HeadTooLarge { limit: 60 })
        );
    }

    #[test]
    fn versions_are_told_apart_from_garbage() {
        assert_eq!(
            parse_request(b"GET / HTTP/2.0\r\n\r\n", LIMITS),
            Err(ProtocolError::UnsupportedVersion)
        );
        assert_eq!(
            parse_request(b"GET / HTXP/1.1\r\n\r\n", LIMITS),
            Err(ProtocolError::Malformed("invalid HTTP version"))
        );
    }

    #[test]
    fn a_response_that_is_not_http_or_not_1_x_says_so() {
        let not_http = Err(ProtocolError::Malformed(
            "not an HTTP response: it does not start with `HTTP/`",
        ));
        for input in [
            &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
            b"\x16\x03\x01",
            b"HTX",
            b"\0",
        ] {
            assert_eq!(parse_response(input, 100, 4), not_http, "{input:?}");
        }
        // Every prefix of a version line that is not 1.x waits for the line.
        let http2 = b"HTTP/2.0 200 OK\r\n\r\n";
        for end in 1..=8 {
            assert_eq!(parse_response(&http2[..end], 100, 4), Ok(None), "{end}");
        }
        assert_eq!(
            parse_response(http2, 100, 4),
            Err(ProtocolError::UnsupportedVersion)
        );
        assert_eq!(
            parse_response(b"HTTP/x.y 200 OK\r\n\r\n", 100, 4),
            Err(ProtocolError::Malformed("invalid HTTP version"))
        );
    }

    #[test]
    fn a_response_head_is_parsed() {
        let head = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n", 100, 4)
            .unwrap()
            .unwrap();
        assert_eq!((head.status, head.reason.as_str()), (404, "Not Found"));
        assert_eq!(head.len, 32);
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n", 100, 4), Ok(None));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n", 10, 4),
            Err(ProtocolError::HeadTooLarge { limit: 10 })
        );
    }
}

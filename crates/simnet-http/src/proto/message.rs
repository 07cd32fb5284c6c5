//! The values HTTP/1.1 exchanges: requests, responses, versions and ids.
//!
//! These are plain data with a few conveniences: builders, case-insensitive
//! header lookup and a one-line `summary()` for traces. They deliberately
//! know nothing about the wire: framing headers (`Content-Length`,
//! `Transfer-Encoding`, `Connection`, `Keep-Alive`) are added and removed by
//! the connection that sends them, because only the connection knows how the
//! message is delimited and whether it will stay open.

use std::fmt;

use super::headers;

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `HTTP/1.0`: connections close after each response unless the client
    /// asks for `Connection: keep-alive`.
    Http10,
    /// `HTTP/1.1`: connections are persistent unless either side says
    /// `Connection: close`.
    Http11,
}

impl Version {
    /// The version as written on the wire, e.g. `HTTP/1.1`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }

    /// The version whose minor number httparse reports (`0` or `1`).
    pub(crate) fn from_minor(minor: u8) -> Option<Version> {
        match minor {
            0 => Some(Version::Http10),
            1 => Some(Version::Http11),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names one request on one connection.
///
/// The server numbers requests in the order they arrive, the client in the
/// order they are sent, both starting from 0. Responses on an HTTP/1.1
/// connection come back in the same order, so the two numberings agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(u64);

impl RequestId {
    /// The id of the `index`-th request on a connection (0-based).
    pub const fn new(index: u64) -> RequestId {
        RequestId(index)
    }

    /// The position of the request on its connection, from 0.
    pub const fn index(self) -> u64 {
        self.0
    }
}

/// Writes `#0`, `#1`, ...
impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// An HTTP request, as the application sees it.
///
/// Headers keep the order and spelling they had on the wire; look them up
/// with [`Request::header`], which ignores case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/index.html`.
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// The header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked framing already removed).
    pub body: Vec<u8>,
}

impl Request {
    /// An HTTP/1.1 request with no headers and no body.
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            version: Version::Http11,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET path HTTP/1.1` with a `Host: host` header: the smallest request
    /// an HTTP/1.1 server must accept.
    pub fn get(host: &str, path: &str) -> Request {
        Request::new("GET", path).with_header("Host", host)
    }

    /// Appends a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Replaces the protocol version.
    pub fn with_version(mut self, version: Version) -> Request {
        self.version = version;
        self
    }

    /// The value of the first header called `name`, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        headers::get(&self.headers, name)
    }

    /// The request line, for traces: `GET /index.html HTTP/1.1`.
    pub fn summary(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.version)
    }
}

/// An HTTP response, as the application sees it.
///
/// When the application sends one, the connection writes the status line
/// (always `HTTP/1.1`, with the standard reason phrase) and adds the framing
/// headers itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// The header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked framing already removed).
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status, no headers and no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response with this status and a plain-text body
    /// (`Content-Type: text/plain`), the way the simulated servers answer.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status)
            .with_header("Content-Type", "text/plain")
            .with_body(body)
    }

    /// Appends a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// The value of the first header called `name`, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        headers::get(&self.headers, name)
    }

    /// The status line and body size, for traces:
    /// `HTTP/1.1 200 OK (1024 bytes)`.
    pub fn summary(&self) -> String {
        Response::summary_of(self.status, self.body.len() as u64)
    }

    /// The summary of a response with this status and a body of `size`
    /// bytes (for a body written later, piece by piece).
    pub fn summary_of(status: u16, size: u64) -> String {
        let reason = reason_phrase(status);
        if reason.is_empty() {
            format!("HTTP/1.1 {status} ({size} bytes)")
        } else {
            format!("HTTP/1.1 {status} {reason} ({size} bytes)")
        }
    }
}

/// The standard reason phrase of a status code (RFC 9110), or `""` for a
/// code this table does not know. The phrase is informative only; clients
/// must not depend on it.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Whether a response with this status never has a body, whatever its
/// headers say (RFC 9112 section 6.3): informational responses, `204` and
/// `304`.
pub(crate) fn status_has_no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_builds_a_request_with_a_host_header() {
        let request = Request::get("example.test", "/index.html");
        assert_eq!(request.summary(), "GET /index.html HTTP/1.1");
        assert_eq!(request.header("host"), Some("example.test"));
        assert!(request.body.is_empty());
    }

    #[test]
    fn response_summary_names_status_and_size() {
        let response = Response::new(200).with_body(vec![b'x'; 1024]);
        assert_eq!(response.summary(), "HTTP/1.1 200 OK (1024 bytes)");
        assert_eq!(Response::new(299).summary(), "HTTP/1.1 299 (0 bytes)");
    }

    #[test]
    fn request_ids_count_from_zero() {
        assert_eq!(RequestId::new(3).index(), 3);
        assert_eq!(RequestId::new(3).to_string(), "#3");
    }
}

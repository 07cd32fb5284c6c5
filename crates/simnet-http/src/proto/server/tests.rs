//! Tests for the server connection.
//!
//! Each test reads like an exchange on the wire: `recv` is what the client
//! sent, the events are what the application sees (one line each), and
//! `sent` is exactly what the server wrote back. Every `recv` is checked
//! against every way of splitting its bytes (see `proto::testing`).

use proptest::prelude::*;
use simnet_core::time::{SimDuration, SimTime};

use super::*;
use crate::proto::testing::deliver_every_way;

/// A server connection with the test's clock and everything it sent.
struct Harness {
    conn: ServerConn,
    now: SimTime,
    sent: Vec<u8>,
}

/// Everything observable after an input, compared across deliveries.
#[derive(Clone, Debug, PartialEq)]
struct Observation {
    events: Vec<ServerEvent>,
    sent: Vec<u8>,
    upgraded: Vec<u8>,
    wants_close: bool,
    wants_input: bool,
    timeout: Option<SimTime>,
}

fn observe(conn: &mut ServerConn) -> Observation {
    let events = std::iter::from_fn(|| conn.poll_event()).collect();
    let mut sent = Vec::new();
    conn.poll_transmit(&mut sent);
    Observation {
        events,
        sent,
        upgraded: conn.clone().take_upgraded_bytes(),
        wants_close: conn.wants_close(),
        wants_input: conn.wants_input(),
        timeout: conn.poll_timeout(),
    }
}

/// One line per event, e.g. `request #0: GET / HTTP/1.1 | Host: a`.
fn describe(event: &ServerEvent) -> String {
    let request_line = |request: &Request| {
        let mut line = request.summary();
        for (name, value) in &request.headers {
            line.push_str(&format!(" | {name}: {value}"));
        }
        if !request.body.is_empty() {
            line.push_str(&format!(" | body \"{}\"", request.body.escape_ascii()));
        }
        line
    };
    match event {
        ServerEvent::Request { id, request } => format!("request {id}: {}", request_line(request)),
        ServerEvent::UpgradeRequested { id, request } => {
            format!("upgrade {id}: {}", request_line(request))
        }
        ServerEvent::BadRequest { status, reason } => format!("bad request {status}: {reason}"),
        ServerEvent::IdleTimeout => "idle timeout".to_string(),
        ServerEvent::PeerClosed => "peer closed".to_string(),
    }
}

impl Harness {
    fn new(config: ServerConfig) -> Harness {
        Harness {
            conn: ServerConn::new(config, SimTime::ZERO),
            now: SimTime::ZERO,
            sent: Vec::new(),
        }
    }

    /// The client's bytes arrive, delivered every possible way; returns the
    /// events.
    #[track_caller]
    fn recv(&mut self, data: impl AsRef<[u8]>) -> Vec<String> {
        let now = self.now;
        let feed = |conn: &mut ServerConn, piece: &[u8]| conn.handle_input(now, piece);
        let (conn, seen) = deliver_every_way(&self.conn, data.as_ref(), feed, observe);
        self.conn = conn;
        self.sent.extend(seen.sent);
        seen.events.iter().map(describe).collect()
    }

    /// The client half-closes.
    fn eof(&mut self) -> Vec<String> {
        self.conn.handle_eof(self.now);
        self.drain()
    }

    /// Time passes and any timer due fires.
    fn wait(&mut self, duration: SimDuration) -> Vec<String> {
        self.now += duration;
        self.conn.handle_timeout(self.now);
        self.drain()
    }

    /// The application answers request `index`; returns the events that
    /// follow (answering may let buffered requests be read).
    #[track_caller]
    fn respond(&mut self, index: u64, response: Response) -> Vec<String> {
        self.try_respond(index, response).unwrap();
        self.drain()
    }

    fn try_respond(&mut self, index: u64, response: Response) -> Result<(), SendError> {
        self.conn
            .send_response(self.now, RequestId::new(index), response)
    }

    /// The application starts streaming the response to request `index`.
    fn stream(
        &mut self,
        index: u64,
        status: u16,
        fields: &[(&str, &str)],
    ) -> Result<(), SendError> {
        let id = RequestId::new(index);
        self.conn.start_stream(self.now, id, status, &owned(fields))
    }

    /// The application writes one chunk of its stream to request `index`.
    fn chunk(&mut self, index: u64, data: &str) -> Result<(), SendError> {
        let id = RequestId::new(index);
        self.conn.send_chunk(self.now, id, data.as_bytes())
    }

    /// The application ends its stream to request `index`.
    fn finish(&mut self, index: u64) -> Result<(), SendError> {
        self.conn.finish_stream(self.now, RequestId::new(index))
    }

    /// The application accepts the upgrade asked for by request `index`.
    fn accept(&mut self, index: u64, fields: &[(&str, &str)]) -> Result<(), SendError> {
        let id = RequestId::new(index);
        self.conn.accept_upgrade(self.now, id, &owned(fields))
    }

    /// Everything the server wrote since the last call.
    fn sent(&mut self) -> String {
        self.drain();
        String::from_utf8_lossy(&std::mem::take(&mut self.sent)).into_owned()
    }

    fn drain(&mut self) -> Vec<String> {
        let seen = observe(&mut self.conn);
        self.sent.extend(seen.sent);
        seen.events.iter().map(describe).collect()
    }
}

fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// No idle timeout and no request limit, so responses carry no
/// `Keep-Alive` field unless the test is about it.
fn unlimited() -> ServerConfig {
    ServerConfig {
        idle_timeout: None,
        max_requests: None,
        ..ServerConfig::default()
    }
}

fn with_limits(limits: Limits) -> ServerConfig {
    ServerConfig {
        limits,
        ..unlimited()
    }
}

fn text(status: u16, body: &str) -> Response {
    Response::new(status).with_body(body)
}

const OK_HI: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi";

// ----- Requests and keep-alive -----

#[test]
fn a_get_is_answered_and_the_connection_stays_open() {
    let mut server = Harness::new(ServerConfig::default());
    assert_eq!(
        server.recv("GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n"),
        ["request #0: GET /index.html HTTP/1.1 | Host: example.test"]
    );
    assert_eq!(
        server.conn.poll_timeout(),
        None,
        "no idle timer while a request waits"
    );
    server.respond(
        0,
        text(200, "hello").with_header("Content-Type", "text/plain"),
    );
    assert_eq!(
        server.sent(),
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: 5\r\n\
         Connection: keep-alive\r\n\
         Keep-Alive: timeout=5, max=99\r\n\
         \r\n\
         hello"
    );
    assert!(server.conn.is_idle());
    assert!(!server.conn.wants_close());
    assert_eq!(server.conn.requests_served(), 1);
}

#[test]
fn a_content_length_body_is_read_and_the_next_request_follows() {
    let mut server = Harness::new(unlimited());
    assert_eq!(
        server.recv(
            "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello worldGET /next HTTP/1.1\r\nHost: a\r\n\r\n"
        ),
        [
            "request #0: POST /form HTTP/1.1 | Host: a | Content-Length: 11 | body \"hello world\"",
            "request #1: GET /next HTTP/1.1 | Host: a",
        ]
    );
}

#[test]
fn a_chunked_body_is_decoded_with_extensions_and_trailers_ignored() {
    let mut server = Harness::new(unlimited());
    assert_eq!(
        server.recv(
            "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
             5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n"
        ),
        [
            "request #0: POST /up HTTP/1.1 | Host: a | Transfer-Encoding: chunked | body \"hello world\""
        ]
    );
    assert!(server.conn.wants_input());
}

#[test]
fn leading_empty_lines_are_ignored() {
    let mut server = Harness::new(unlimited());
    assert_eq!(
        server.recv("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ["request #0: GET / HTTP/1.1 | Host: a"]
    );
}

#[test]
fn connection_close_from_the_client_closes_after_the_response() {
    let mut server = Harness::new(ServerConfig::default());
    // The second request comes after the one that closes: it is never read.
    assert_eq!(
        server.recv("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /late HTTP/1.1\r\nHost: a\r\n\r\n"),
        ["request #0: GET / HTTP/1.1 | Host: a | Connection: close"]
    );
    assert!(!server.conn.wants_close(), "the response is still owed");
    server.respond(0, text(200, "hi"));
    assert_eq!(
        server.sent(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    assert!(server.conn.wants_close());
    assert_eq!(server.conn.poll_timeout(), None);
}

#[test]
fn http_1_0_closes_by_default() {
    let mut server = Harness::new(unlimited());
    assert_eq!(
        server.recv("GET / HTTP/1.0\r\n\r\n"),
        ["request #0: GET / HTTP/1.0"]
    );
    server.respond(0, text(200, "hi"));
    assert_eq!(
        server.sent(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    assert!(server.conn.wants_close());
}

#[test]
fn http_1_0_stays_open_when_the_client_asks_for_keep_alive() {
    let mut server = Harness::new(unlimited());
    server.recv("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    server.respond(0, text(200, "hi"));
    assert_eq!(server.sent(), OK_HI);
    assert!(!server.conn.wants_close());
    assert!(server.conn.is_idle());
}

#[test]
fn the_application_can_close_and_cannot_forge_framing() {
    let mut server = Harness::new(unlimited());
    server.recv("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let response = text(200, "hi")
        .with_header("Content-Length", "999")
        .with_header("Connection", "close")
        .with_header("X-Kept", "yes");
    server.respond(0, response);
    assert_eq!(
        server.sent(),
        "HTTP/1.1 200 OK\r\nX-Kept: yes\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    assert!(server.conn.wants_close());
}

#[test]
fn head_responses_announce_the_length_but_send_no_body() {
    let mut server = Harness::new(unlimited());
    server.recv("HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n");
    server.respond(0, text(200, "hi"));
    assert_eq!(
        server.sent(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn no_content_and_not_modified_have_no_length_and_no_body() {
    let mut server = Harness::new(unlimited());
    server.recv("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n");
    server.respond(0, Response::new(204));
    server.respond(1, text(304, "dropped"));
    assert_eq!(
        server.sent(),
        "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n\
         HTTP/1.1 304 Not Modified\r\nConnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn the_peer_closing_lets_owed_responses_finish_then_closes() {
    let mut server = Harness::new(ServerConfig::default());
    server.recv("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /partial HTTP/1.1\r\nHost: a\r\nHo");
    assert_eq!(server.eof(), ["peer closed"]);
    assert!(!server.conn.wants_close());
    server.respond(0, text(200, "hi"));
    assert!(server.sent().ends_with("\r\n\r\nhi"));
    assert!(server.conn.wants_close(), "the partial request is dropped");
    assert_eq!(server.conn.requests_served(), 1);
}

#[test]
fn an_idle_peer_closing_closes_at_once() {
    let mut server = Harness::new(ServerConfig::default());
    assert_eq!(server.eof(), ["peer closed"]);
    assert!(server.conn.wants_close());
    assert_eq!(server.sent(), "");
}

// ----- Timers and request limits -----

#[test]
fn an_idle_connection_times_out() {
    let mut server = Harness::new(ServerConfig::default());
    assert_eq!(server.conn.poll_timeout(), Some(SimTime::from_secs(5)));

    // Input restarts the timer; a request in progress stops it.
    server.wait(SimDuration::from_secs(1));
    server.recv("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(server.conn.poll_timeout(), None);
    server.wait(SimDuration::from_secs(30));
    server.respond(0, text(200, "hi"));
    assert_eq!(server.conn.poll_timeout(), Some(SimTime::from_secs(36)));

    assert_eq!(
        server.wait(SimDuration::from_millis(4999)),
        Vec::<String>::new()
    );
    assert!(!server.conn.wants_close());
    assert_eq!(server.wait(SimDuration::from_millis(1)), ["idle timeout"]);
    assert!(server.conn.wants_close());
    assert_eq!(server.conn.poll_timeout(), None);
    server.sent();
    assert_eq!(server.sent(), "", "an idle close sends nothing");
}

#[test]
fn a_stalled_partial_request_is_dropped_by_the_idle_timer() {
    let mut server = Harness::new(ServerConfig::default());
    server.recv("GET / HTTP/1.1\r\nHost:");
    assert_eq!(server.conn.poll_timeout(), Some(SimTime::from_secs(5)));
    assert_eq!(server.wait(SimDuration::from_secs(5)), ["idle timeout"]);
    assert!(server.conn.wants_close());
    assert_eq!(server.sent(), "");
}

#[test]
fn the_keep_alive_max_counts_down_and_the_last_response_closes() {
    let config = ServerConfig {
        max_requests: Some(3),
        ..ServerConfig::default()
    };
    let mut server = Harness::new(config);
    // Four pipelined requests: the fourth is past the limit and never read.
    assert_eq!(
        server
            .recv("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n".repeat(4))
            .len(),
        3
    );
    let mut announced = Vec::new();
    for index in 0..3 {
        server.respond(index, text(200, "hi"));
        let sent = server.sent();
        let persistence: Vec<&str> = sent
            .lines()
            .filter(|line| line.starts_with("Connection") || line.starts_with("Keep-Alive"))
            .collect();
        announced.push(persistence.join(" | "));
    }
    assert_eq!(
        announced,
        [
            "Connection: keep-alive | Keep-Alive: timeout=5, max=2",
            "Connection: keep-alive | Keep-Alive: timeout=5, max=1",
            "Connection: close",
        ]
    );
    assert!(server.conn.wants_close());
    assert_eq!(server.conn.requests_served(), 3);
}

// ----- Malformed input and limits -----

/// Sends `input` to a fresh server with `limits` and returns the one event
/// and what was sent; the connection must then want to close.
#[track_caller]
fn refused(limits: Limits, input: &str) -> (String, String) {
    let mut server = Harness::new(with_limits(limits));
    let events = server.recv(input);
    assert_eq!(events.len(), 1, "{events:?}");
    let sent = server.sent();
    assert!(server.conn.wants_close());
    (events[0].clone(), sent)
}

#[test]
fn an_overlong_request_line_is_refused_with_414_before_it_ends() {
    let limits = Limits {
        max_request_line_bytes: 32,
        ..Limits::default()
    };
    let (event, sent) = refused(limits, &format!("GET /{}", "a".repeat(40)));
    assert_eq!(event, "bad request 414: request line longer than 32 bytes");
    assert_eq!(
        sent,
        "HTTP/1.1 414 URI Too Long\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 34\r\n\
         Connection: close\r\n\
         \r\n\
         request line longer than 32 bytes\n"
    );
}

#[test]
fn too_many_headers_are_refused_with_431() {
    let limits = Limits {
        max_headers: 2,
        ..Limits::default()
    };
    let (event, sent) = refused(
        limits,
        "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
    );
    assert_eq!(event, "bad request 431: more than 2 header fields");
    assert!(sent.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

#[test]
fn an_oversized_head_is_refused_with_431_before_it_ends() {
    let limits = Limits {
        max_header_bytes: 64,
        ..Limits::default()
    };
    let input = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}", "v".repeat(60));
    let (event, _) = refused(limits, &input);
    assert_eq!(
        event,
        "bad request 431: header section longer than 64 bytes"
    );
}

#[test]
fn an_oversized_body_is_refused_with_413_before_it_arrives() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let (event, sent) = refused(
        limits,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n",
    );
    assert_eq!(event, "bad request 413: body longer than 10 bytes");
    assert!(sent.starts_with("HTTP/1.1 413 Content Too Large\r\n"));

    let chunked =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello!\r\n5\r\n";
    let (event, _) = refused(limits, chunked);
    assert_eq!(event, "bad request 413: body longer than 10 bytes");
}

#[test]
fn oversized_trailers_are_refused_with_431() {
    let limits = Limits {
        max_header_bytes: 64,
        ..Limits::default()
    };
    let input = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: {}\r\n\r\n",
        "t".repeat(64)
    );
    let (event, _) = refused(limits, &input);
    assert_eq!(
        event,
        "bad request 431: trailer section longer than 64 bytes"
    );
}

#[test]
fn an_unsupported_version_is_refused_with_505() {
    let (event, sent) = refused(Limits::default(), "GET / HTTP/2.0\r\n\r\n");
    assert_eq!(event, "bad request 505: unsupported HTTP version");
    assert!(sent.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"));
}

#[test]
fn versions_that_are_not_1_x_are_refused_with_505() {
    for input in [
        "GET / HTTP/3.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
    ] {
        let (event, _) = refused(Limits::default(), input);
        assert_eq!(
            event, "bad request 505: unsupported HTTP version",
            "{input}"
        );
    }
}

#[test]
fn the_host_field_is_checked_as_rfc_9112_asks() {
    // HTTP/1.0 did not have Host: a request without one is served.
    let mut server = Harness::new(unlimited());
    assert_eq!(
        server.recv("GET / HTTP/1.0\r\n\r\n"),
        ["request #0: GET / HTTP/1.0"]
    );
    // Empty (a target without an authority), a port, an IP literal.
    for host in ["", "example.test:8080", "[::1]:80", "10.0.0.2"] {
        let mut server = Harness::new(unlimited());
        let events = server.recv(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        assert!(
            events[0].starts_with("request #0"),
            "Host: {host}: {events:?}"
        );
    }
}

#[test]
fn an_unsupported_transfer_coding_is_refused_with_501() {
    let input = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    let (event, _) = refused(Limits::default(), input);
    assert_eq!(event, "bad request 501: unsupported transfer coding");
}

#[test]
fn malformed_requests_are_refused_with_400() {
    let cases = [
        (
            "GET / HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n",
            "invalid header name",
        ),
        (
            "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            "invalid token in start line",
        ),
        ("GET / HTXP/1.1\r\n\r\n", "invalid HTTP version"),
        ("GET /\r\n\r\n", "invalid token in start line"),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: five\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "conflicting Content-Length values",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Transfer-Encoding and Content-Length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "Transfer-Encoding does not end with chunked",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "invalid chunk size",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            "chunk data not followed by CRLF",
        ),
        (
            "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
            "request line is not `method target version` (e.g. `GET /index.html HTTP/1.1`); a space in the target?",
        ),
        (
            "GET /a HTTP/1.1 x\r\nHost: a\r\n\r\n",
            "request line is not `method target version` (e.g. `GET /index.html HTTP/1.1`); a space in the target?",
        ),
        (
            "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n",
            "NUL byte in the request line",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n",
            "NUL byte in a header field",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX-\0: b\r\n\r\n",
            "NUL byte in a header field",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
            "obsolete line folding: a header line starts with a space or tab (RFC 9112 section 5.2)",
        ),
        (
            "GET / HTTP/1.1\r\nX-A: b\r\n\tc\r\nHost: a\r\n\r\n",
            "obsolete line folding: a header line starts with a space or tab (RFC 9112 section 5.2)",
        ),
        // A fault before the NUL is the one reported, however the bytes arrive.
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX A: \0\r\n\r\n",
            "invalid header name",
        ),
        // A TLS ClientHello sent to a plain-text port.
        (
            "\x16\x03\x01\x00\x05\x01\x00\x00\r\n\r\n",
            "NUL byte in the request line",
        ),
        (
            "GET / HTTP/1.1\r\n\r\n",
            "missing Host header (HTTP/1.1 requires one, RFC 9112 section 3.2)",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            "more than one Host header",
        ),
        (
            "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
            "more than one Host header",
        ),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "invalid Host value"),
        ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "invalid Host value"),
    ];
    for (input, reason) in cases {
        let (event, sent) = refused(Limits::default(), input);
        assert_eq!(event, format!("bad request 400: {reason}"), "for {input:?}");
        assert!(
            sent.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "for {input:?}"
        );
        assert!(
            sent.ends_with(&format!("\r\n\r\n{reason}\n")),
            "for {input:?}"
        );
    }
}

#[test]
fn an_error_after_a_pipelined_request_waits_for_its_turn() {
    let mut server = Harness::new(unlimited());
    assert_eq!(
        server.recv("GET /ok HTTP/1.1\r\nHost: a\r\n\r\nBAD REQUEST\r\n\r\n"),
        [
            "request #0: GET /ok HTTP/1.1 | Host: a",
            "bad request 400: invalid token in start line"
        ]
    );
    assert_eq!(
        server.sent(),
        "",
        "the 400 may not overtake the response to #0"
    );
    server.respond(0, text(200, "hi"));
    let sent = server.sent();
    assert!(sent.starts_with(OK_HI), "{sent}");
    assert!(
        sent[OK_HI.len()..].starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{sent}"
    );
    assert!(server.conn.wants_close());
}

// ----- Pipelining -----

#[test]
fn pipelined_requests_are_answered_in_order_whatever_order_the_app_answers_in() {
    let mut server = Harness::new(unlimited());
    assert_eq!(
        server.recv("GET /0 HTTP/1.1\r\nHost: a\r\n\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
        [
            "request #0: GET /0 HTTP/1.1 | Host: a",
            "request #1: GET /1 HTTP/1.1 | Host: a",
            "request #2: GET /2 HTTP/1.1 | Host: a",
        ]
    );
    let response = |n: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n{n}")
    };
    server.respond(2, text(200, "2"));
    assert_eq!(server.sent(), "", "#2 is held until #0 and #1 are written");
    server.respond(0, text(200, "0"));
    assert_eq!(server.sent(), response("0"));
    server.respond(1, text(200, "1"));
    assert_eq!(server.sent(), response("1") + &response("2"));
    assert!(server.conn.is_idle());
    assert_eq!(server.conn.requests_served(), 3);
}

#[test]
fn a_stream_behind_an_unanswered_request_is_held_then_flows() {
    let mut server = Harness::new(unlimited());
    server.recv("GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    server
        .stream(1, 200, &[("Content-Type", "text/event-stream")])
        .unwrap();
    server.chunk(1, "data: 1\n\n").unwrap();
    assert_eq!(server.sent(), "");
    server.respond(0, text(200, "hi"));
    assert_eq!(
        server.sent(),
        format!(
            "{OK_HI}HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
             Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n9\r\ndata: 1\n\n\r\n"
        )
    );
    server.chunk(1, "data: 2\n\n").unwrap();
    assert_eq!(
        server.sent(),
        "9\r\ndata: 2\n\n\r\n",
        "once in front, chunks flow at once"
    );
}

#[test]
fn the_pipeline_holds_at_most_its_limit() {
    let limits = Limits {
        max_pipelined_requests: 2,
        ..Limits::default()
    };
    let mut server = Harness::new(with_limits(limits));
    let events =
        server.recv("GET /0 HTTP/1.1\r\nHost: a\r\n\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(events.len(), 2);
    assert!(!server.conn.wants_input());
    assert_eq!(
        server.respond(0, text(200, "hi")),
        ["request #2: GET /2 HTTP/1.1 | Host: a"]
    );
    assert!(!server.conn.wants_input());
    server.respond(1, text(200, "hi"));
    assert!(server.conn.wants_input());
}

#[test]
fn a_client_that_floods_a_full_pipeline_is_refused_with_503() {
    let limits = Limits {
        max_pipelined_requests: 1,
        max_header_bytes: 32,
        max_body_bytes: 8,
        ..Limits::default()
    };
    let mut server = Harness::new(with_limits(limits));
    assert_eq!(
        server.recv("GET /0 HTTP/1.1\r\nHost: a\r\n\r\n"),
        ["request #0: GET /0 HTTP/1.1 | Host: a"]
    );
    // 40 bytes is one maximal request (32 + 8): still tolerated.
    assert_eq!(server.recv("x".repeat(40)), Vec::<String>::new());
    assert_eq!(
        server.recv("x"),
        ["bad request 503: more than 40 bytes arrived while requests awaited responses"]
    );
    server.respond(0, text(200, "hi"));
    let sent = server.sent();
    assert!(sent.starts_with(OK_HI));
    assert!(sent[OK_HI.len()..].starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
    assert!(server.conn.wants_close());
}

// ----- Streaming -----

#[test]
fn a_stream_is_chunked_and_ends_with_the_last_chunk() {
    let mut server = Harness::new(unlimited());
    server.recv("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    server.stream(0, 200, &[]).unwrap();
    assert_eq!(
        server.sent(),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    );
    server.chunk(0, "hello, world").unwrap();
    server.chunk(0, "").unwrap();
    assert_eq!(server.sent(), "c\r\nhello, world\r\n");
    assert_eq!(
        server.conn.poll_timeout(),
        None,
        "an open stream is not idle"
    );
    server.finish(0).unwrap();
    assert_eq!(server.sent(), "0\r\n\r\n");
    assert!(server.conn.is_idle());
    assert_eq!(
        server.chunk(0, "late"),
        Err(SendError::NoOpenStream(RequestId::new(0)))
    );
}

#[test]
fn a_stream_to_an_http_1_0_client_is_delimited_by_the_close() {
    let mut server = Harness::new(unlimited());
    server.recv("GET /events HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    server.stream(0, 200, &[]).unwrap();
    server.chunk(0, "one ").unwrap();
    server.chunk(0, "two").unwrap();
    assert!(!server.conn.wants_close());
    server.finish(0).unwrap();
    assert_eq!(
        server.sent(),
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\none two"
    );
    assert!(server.conn.wants_close());
}

// ----- Upgrade -----

const UPGRADE_REQUEST: &str =
    "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

#[test]
fn an_accepted_upgrade_hands_over_the_bytes_that_follow() {
    let mut server = Harness::new(ServerConfig::default());
    let events = server.recv(format!("{UPGRADE_REQUEST}\u{1}frame-one"));
    assert_eq!(
        events,
        ["upgrade #0: GET /chat HTTP/1.1 | Host: a | Connection: Upgrade | Upgrade: websocket"]
    );
    assert!(!server.conn.wants_input(), "the decision is pending");
    server
        .accept(
            0,
            &[("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")],
        )
        .unwrap();
    assert_eq!(
        server.sent(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         \r\n"
    );
    assert!(server.conn.is_upgraded());
    assert_eq!(server.conn.take_upgraded_bytes(), b"\x01frame-one");

    // Later bytes are not HTTP any more: no events, no errors, no timers.
    assert_eq!(
        server.recv("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        server.conn.take_upgraded_bytes(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    );
    assert_eq!(server.conn.poll_timeout(), None);
    assert_eq!(server.eof(), ["peer closed"]);
    assert!(
        !server.conn.wants_close(),
        "the new protocol decides when to close"
    );
}

#[test]
fn a_refused_upgrade_carries_on_as_http() {
    let mut server = Harness::new(unlimited());
    let events = server.recv(format!(
        "{UPGRADE_REQUEST}GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    ));
    assert_eq!(events.len(), 1, "reading waits for the decision");
    assert_eq!(
        server.respond(0, text(200, "hi")),
        ["request #1: GET /next HTTP/1.1 | Host: a"]
    );
    assert_eq!(server.sent(), OK_HI);
    assert!(!server.conn.is_upgraded());
}

#[test]
fn http_1_0_cannot_upgrade() {
    let mut server = Harness::new(unlimited());
    let events =
        server.recv("GET /chat HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!(
        events,
        ["request #0: GET /chat HTTP/1.0 | Connection: Upgrade | Upgrade: websocket"]
    );
    assert_eq!(
        server.accept(0, &[]),
        Err(SendError::UpgradeUnavailable(RequestId::new(0)))
    );
}

#[test]
fn an_upgrade_must_wait_for_earlier_responses() {
    let mut server = Harness::new(unlimited());
    server.recv(format!(
        "GET /first HTTP/1.1\r\nHost: a\r\n\r\n{UPGRADE_REQUEST}"
    ));
    assert_eq!(
        server.accept(1, &[]),
        Err(SendError::EarlierResponsesPending(RequestId::new(1)))
    );
    server.respond(0, text(200, "hi"));
    server.accept(1, &[]).unwrap();
    assert_eq!(
        server.sent(),
        format!(
            "{OK_HI}HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        )
    );
}

// ----- Misuse by the application -----

#[test]
fn misuse_is_an_error_and_changes_nothing() {
    let mut server = Harness::new(unlimited());
    server.recv("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let (first, unknown) = (RequestId::new(0), RequestId::new(7));
    let forged = text(200, "hi").with_header("X-Evil", "a\r\nSet-Cookie: x");
    assert_eq!(
        server.try_respond(0, forged),
        Err(SendError::InvalidHeader("X-Evil".to_string()))
    );
    assert_eq!(
        server.try_respond(0, Response::new(100)),
        Err(SendError::InvalidStatus(100))
    );
    assert_eq!(
        server.try_respond(7, text(200, "hi")),
        Err(SendError::UnknownRequest(unknown))
    );
    assert_eq!(server.finish(0), Err(SendError::NoOpenStream(first)));
    assert_eq!(server.sent(), "");

    server.stream(0, 200, &[]).unwrap();
    assert_eq!(
        server.try_respond(0, text(200, "hi")),
        Err(SendError::AlreadyAnswered(first))
    );
    server.finish(0).unwrap();
    assert_eq!(
        server.try_respond(0, text(200, "hi")),
        Err(SendError::UnknownRequest(first))
    );
}

// ----- Properties -----

/// Pieces of realistic and broken HTTP, so that random inputs reach deep
/// states rather than failing on the first byte.
fn fragments() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec()),
        Just(b"POST /p HTTP/1.1\r\nHost: a\r\n".to_vec()),
        Just(b"GET / HTTP/1.0\r\n".to_vec()),
        Just(b"Content-Length: 3\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Connection: close\r\n".to_vec()),
        Just(b"Connection: Upgrade\r\nUpgrade: websocket\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"3\r\nabc\r\n".to_vec()),
        Just(b"0\r\n\r\n".to_vec()),
        Just(b"abc".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(fragment, 0..12).prop_map(|pieces| pieces.concat())
}

/// Plays an application that answers everything, then lets time run out.
/// Whatever the input, nothing panics and the connection ends up either
/// upgraded or wanting to close.
fn answer_everything(conn: &mut ServerConn, now: SimTime) {
    for _ in 0..64 {
        let Some(event) = conn.poll_event() else {
            break;
        };
        match event {
            ServerEvent::Request { id, .. } => {
                conn.send_response(now, id, text(200, "ok")).unwrap();
            }
            ServerEvent::UpgradeRequested { id, .. } => {
                // Accepting can legitimately fail (earlier responses owed).
                if conn.accept_upgrade(now, id, &[]).is_err() {
                    conn.send_response(now, id, Response::new(400)).unwrap();
                }
            }
            ServerEvent::BadRequest { .. } | ServerEvent::IdleTimeout | ServerEvent::PeerClosed => {
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics_and_the_connection_ends(
        input in prop_oneof![fragments(), prop::collection::vec(any::<u8>(), 0..256)],
    ) {
        let limits = Limits { max_header_bytes: 128, max_body_bytes: 64, ..Limits::default() };
        let mut conn = ServerConn::new(with_limits(limits), SimTime::ZERO);
        conn.handle_input(SimTime::ZERO, &input);
        answer_everything(&mut conn, SimTime::ZERO);
        conn.handle_eof(SimTime::ZERO);
        answer_everything(&mut conn, SimTime::ZERO);
        conn.handle_timeout(SimTime::MAX);
        let mut sent = Vec::new();
        conn.poll_transmit(&mut sent);
        prop_assert!(conn.wants_close() || conn.is_upgraded());
    }

    #[test]
    fn how_input_is_split_never_matters(input in fragments(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(input.len() + 1);
        let mut whole = ServerConn::new(ServerConfig::default(), SimTime::ZERO);
        whole.handle_input(SimTime::ZERO, &input);
        let mut split = ServerConn::new(ServerConfig::default(), SimTime::ZERO);
        split.handle_input(SimTime::ZERO, &input[..cut]);
        split.handle_input(SimTime::ZERO, &input[cut..]);
        let mut bytewise = ServerConn::new(ServerConfig::default(), SimTime::ZERO);
        for byte in input.chunks(1) {
            bytewise.handle_input(SimTime::ZERO, byte);
        }
        let expected = observe(&mut whole);
        prop_assert_eq!(observe(&mut split), expected.clone());
        prop_assert_eq!(observe(&mut bytewise), expected);
    }
}

/// Three pipelined requests (one `HEAD`), each answered with a body of
/// `len` bytes: whole with `send_response`, or sized and written in
/// `piece`-byte pieces with `start_sized_response` and `send_chunk`.
fn answer_three(len: usize, sized: Option<usize>) -> (Vec<u8>, bool) {
    let now = SimTime::ZERO;
    let mut conn = ServerConn::new(ServerConfig::default(), now);
    conn.handle_input(
        now,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let ids: Vec<RequestId> = std::iter::from_fn(|| conn.poll_event())
        .filter_map(|e| match e {
            ServerEvent::Request { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 3);
    let body: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    let headers = vec![("X-Test".to_string(), "1".to_string())];
    for id in ids {
        match sized {
            None => {
                let mut response = Response::new(200).with_body(body.clone());
                response.headers = headers.clone();
                conn.send_response(now, id, response).unwrap();
            }
            Some(piece) => {
                conn.start_sized_response(now, id, 200, &headers, len as u64)
                    .unwrap();
                for chunk in body.chunks(piece) {
                    // The HEAD response is complete at once: its stream is
                    // no longer open.
                    let _ = conn.send_chunk(now, id, chunk);
                }
            }
        }
    }
    let mut sent = Vec::new();
    conn.poll_transmit(&mut sent);
    (sent, conn.is_idle())
}

#[test]
fn a_sized_response_written_in_pieces_is_the_same_bytes_as_a_whole_one() {
    for len in [0, 1, 100, 5000] {
        let whole = answer_three(len, None);
        for piece in [1, 7, 4096, 10_000] {
            assert_eq!(
                answer_three(len, Some(piece)),
                whole,
                "len {len}, piece {piece}"
            );
        }
    }
}

#[test]
fn a_sized_response_ended_early_closes_the_connection() {
    let now = SimTime::ZERO;
    let mut conn = ServerConn::new(ServerConfig::default(), now);
    conn.handle_input(now, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let Some(ServerEvent::Request { id, .. }) = conn.poll_event() else {
        panic!("no request");
    };
    conn.start_sized_response(now, id, 200, &[], 10).unwrap();
    conn.send_chunk(now, id, b"abc").unwrap();
    assert!(!conn.wants_close());
    conn.finish_stream(now, id).unwrap();
    let mut sent = Vec::new();
    conn.poll_transmit(&mut sent);
    assert!(sent.ends_with(b"\r\n\r\nabc"));
    assert!(conn.wants_close());
    // Bytes beyond the announced length are refused: the stream is over.
    assert_eq!(
        conn.send_chunk(now, id, b"x"),
        Err(SendError::NoOpenStream(id))
    );
}

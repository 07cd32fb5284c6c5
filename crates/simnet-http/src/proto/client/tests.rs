//! Tests for the client connection.
//!
//! Each test reads like an exchange on the wire: `send` is a request the
//! application makes (and `sent` what went out), `recv` is what the server
//! sent back and returns the events, one line each. Every `recv` is checked
//! against every way of splitting its bytes (see `proto::testing`); since a
//! non-chunked body is reported as it arrives, adjacent body pieces are
//! merged before deliveries are compared.

use proptest::prelude::*;
use simnet_core::time::SimTime;

use super::*;
use crate::proto::testing::deliver_every_way;

struct Harness {
    conn: ClientConn,
    sent: Vec<u8>,
}

/// Everything observable after an input.
#[derive(Clone, Debug)]
struct Observation {
    events: Vec<ClientEvent>,
    upgraded: Vec<u8>,
    keep_alive: KeepAlive,
    closed: bool,
}

/// Deliveries may cut a non-chunked body differently, so body pieces are
/// compared merged; everything else must match exactly.
impl PartialEq for Observation {
    fn eq(&self, other: &Observation) -> bool {
        merge_body_chunks(&self.events) == merge_body_chunks(&other.events)
            && self.upgraded == other.upgraded
            && self.keep_alive == other.keep_alive
            && self.closed == other.closed
    }
}

fn merge_body_chunks(events: &[ClientEvent]) -> Vec<ClientEvent> {
    let mut merged: Vec<ClientEvent> = Vec::new();
    for event in events {
        if let (
            Some(ClientEvent::BodyChunk {
                id: last,
                data: joined,
            }),
            ClientEvent::BodyChunk { id, data },
        ) = (merged.last_mut(), event)
            && last == id
        {
            joined.extend_from_slice(data);
            continue;
        }
        merged.push(event.clone());
    }
    merged
}

fn observe(conn: &mut ClientConn) -> Observation {
    Observation {
        events: std::iter::from_fn(|| conn.poll_event()).collect(),
        upgraded: conn.clone().take_upgraded_bytes(),
        keep_alive: conn.keep_alive(),
        closed: conn.is_closed(),
    }
}

/// One line per event, e.g. `head #0: HTTP/1.1 200 OK | Content-Length: 5`.
fn describe(event: &ClientEvent) -> String {
    match event {
        ClientEvent::ResponseHead {
            id,
            version,
            status,
            reason,
            headers,
        } => {
            let mut line = format!("head {id}: {version} {status} {reason}");
            for (name, value) in headers {
                line.push_str(&format!(" | {name}: {value}"));
            }
            line
        }
        ClientEvent::BodyChunk { id, data } => format!("chunk {id}: \"{}\"", data.escape_ascii()),
        ClientEvent::Response { id, response } => {
            format!(
                "response {id}: {} \"{}\"",
                response.summary(),
                response.body.escape_ascii()
            )
        }
        ClientEvent::Upgraded { id, response } => format!("upgraded {id}: {}", response.summary()),
        ClientEvent::ConnectionClosed { unanswered } => {
            let ids: Vec<String> = unanswered.iter().map(RequestId::to_string).collect();
            format!("closed, unanswered [{}]", ids.join(", "))
        }
        ClientEvent::Error { reason } => format!("error: {reason}"),
    }
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(ClientConfig::default())
    }

    fn with_config(config: ClientConfig) -> Harness {
        Harness {
            conn: ClientConn::new(config),
            sent: Vec::new(),
        }
    }

    /// The application sends a request.
    #[track_caller]
    fn send(&mut self, request: Request) -> RequestId {
        let id = self.conn.send_request(SimTime::ZERO, request).unwrap();
        self.conn.poll_transmit(&mut self.sent);
        id
    }

    /// Everything the client wrote since the last call.
    fn sent(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.sent)).into_owned()
    }

    /// The server's bytes arrive, delivered every possible way; returns the
    /// events of the whole delivery.
    #[track_caller]
    fn recv(&mut self, data: impl AsRef<[u8]>) -> Vec<String> {
        let feed = |conn: &mut ClientConn, piece: &[u8]| conn.handle_input(SimTime::ZERO, piece);
        let (conn, seen) = deliver_every_way(&self.conn, data.as_ref(), feed, observe);
        self.conn = conn;
        seen.events.iter().map(describe).collect()
    }

    /// The server closes.
    fn eof(&mut self) -> Vec<String> {
        self.conn.handle_eof(SimTime::ZERO);
        observe(&mut self.conn)
            .events
            .iter()
            .map(describe)
            .collect()
    }
}

fn get(path: &str) -> Request {
    Request::get("example.test", path)
}

// ----- Writing requests -----

#[test]
fn a_get_is_written_exactly_as_built() {
    let mut client = Harness::new();
    let id = client.send(get("/index.html"));
    assert_eq!(id, RequestId::new(0));
    assert_eq!(
        client.sent(),
        "GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n"
    );
}

#[test]
fn bodies_get_a_content_length_and_forged_framing_is_dropped() {
    let mut client = Harness::new();
    let upload = Request::new("POST", "/up")
        .with_header("Content-Length", "999")
        .with_header("Transfer-Encoding", "chunked")
        .with_body("hello");
    client.send(upload);
    assert_eq!(
        client.sent(),
        "POST /up HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    );
    client.send(Request::new("PUT", "/empty"));
    assert_eq!(
        client.sent(),
        "PUT /empty HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn requests_that_cannot_be_written_safely_are_refused() {
    let mut conn = ClientConn::new(ClientConfig::default());
    let now = SimTime::ZERO;
    assert_eq!(
        conn.send_request(now, Request::new("GET", "/a b")),
        Err(SendRequestError::InvalidRequestLine)
    );
    assert_eq!(
        conn.send_request(now, Request::new("G(T", "/")),
        Err(SendRequestError::InvalidRequestLine)
    );
    assert_eq!(
        conn.send_request(now, get("/").with_header("X", "1\r\nEvil: 1")),
        Err(SendRequestError::InvalidHeader("X".to_string()))
    );
    assert_eq!(conn.poll_transmit(&mut Vec::new()), 0);
}

#[test]
fn the_pipeline_depth_is_limited() {
    let config = ClientConfig {
        max_in_flight: 2,
        ..ClientConfig::default()
    };
    let mut client = Harness::with_config(config);
    client.send(get("/0"));
    client.send(get("/1"));
    assert_eq!(
        client.conn.send_request(SimTime::ZERO, get("/2")),
        Err(SendRequestError::TooManyInFlight { limit: 2 })
    );
}

// ----- Reading responses -----

#[test]
fn a_content_length_response_is_reported_head_body_and_whole() {
    let mut client = Harness::new();
    client.send(get("/"));
    assert_eq!(
        client.recv(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\
             Keep-Alive: timeout=5, max=99\r\n\r\nhello"
        ),
        [
            "head #0: HTTP/1.1 200 OK | Content-Length: 5 | Connection: keep-alive | Keep-Alive: timeout=5, max=99",
            "chunk #0: \"hello\"",
            "response #0: HTTP/1.1 200 OK (5 bytes) \"hello\"",
        ]
    );
    assert_eq!(
        client.conn.keep_alive(),
        KeepAlive {
            reusable: true,
            timeout: Some(SimDuration::from_secs(5)),
            max: Some(99),
        }
    );
    assert!(client.conn.is_idle());
}

#[test]
fn a_body_is_reported_as_it_arrives() {
    let mut client = Harness::new();
    client.send(get("/big"));
    client.recv("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc");
    assert_eq!(
        client.recv("def"),
        [
            "chunk #0: \"def\"",
            "response #0: HTTP/1.1 200 OK (6 bytes) \"abcdef\""
        ]
    );
}

#[test]
fn a_chunked_stream_gives_one_event_per_chunk_however_it_arrives() {
    let mut client = Harness::new();
    client.send(get("/events"));
    let wire = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                Transfer-Encoding: chunked\r\n\r\n\
                9;ext=1\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\nTrailer: x\r\n\r\n";
    let expected = [
        "head #0: HTTP/1.1 200 OK | Content-Type: text/event-stream | Transfer-Encoding: chunked",
        "chunk #0: \"data: 1\\n\\n\"",
        "chunk #0: \"data: 2\\n\\n\"",
        "response #0: HTTP/1.1 200 OK (18 bytes) \"data: 1\\n\\ndata: 2\\n\\n\"",
    ];
    let mut bytewise = client.conn.clone();
    assert_eq!(client.recv(wire), expected);

    // The harness merges body pieces when comparing deliveries; chunk
    // boundaries are checked here without merging.
    for byte in wire.as_bytes().chunks(1) {
        bytewise.handle_input(SimTime::ZERO, byte);
    }
    let events: Vec<String> = observe(&mut bytewise).events.iter().map(describe).collect();
    assert_eq!(events, expected);
}

#[test]
fn a_stream_is_observed_live_before_it_ends() {
    let mut client = Harness::new();
    client.send(get("/events"));
    client.recv("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(client.recv("5\r\nfirst\r\n"), ["chunk #0: \"first\""]);
    assert_eq!(client.recv("6\r\nsecond\r\n"), ["chunk #0: \"second\""]);
    assert_eq!(client.conn.in_flight(), 1);
    assert_eq!(
        client.recv("0\r\n\r\n"),
        ["response #0: HTTP/1.1 200 OK (11 bytes) \"firstsecond\""]
    );
}

#[test]
fn a_body_without_length_ends_when_the_server_closes() {
    let mut client = Harness::new();
    client.send(get("/").with_version(Version::Http10));
    assert_eq!(
        client.recv("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"),
        [
            "head #0: HTTP/1.0 200 OK | Content-Type: text/plain",
            "chunk #0: \"hello\""
        ]
    );
    assert!(!client.conn.keep_alive().reusable);
    assert_eq!(
        client.eof(),
        [
            "response #0: HTTP/1.1 200 OK (5 bytes) \"hello\"",
            "closed, unanswered []"
        ]
    );
    assert!(client.conn.is_closed());
}

#[test]
fn head_no_content_and_not_modified_have_no_body() {
    let mut client = Harness::new();
    client.send(Request::new("HEAD", "/big"));
    client.send(get("/gone"));
    client.send(get("/cached"));
    assert_eq!(
        client.recv(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
             HTTP/1.1 204 No Content\r\n\r\n\
             HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
        ),
        [
            "head #0: HTTP/1.1 200 OK | Content-Length: 1000",
            "response #0: HTTP/1.1 200 OK (0 bytes) \"\"",
            "head #1: HTTP/1.1 204 No Content",
            "response #1: HTTP/1.1 204 No Content (0 bytes) \"\"",
            "head #2: HTTP/1.1 304 Not Modified | Content-Length: 7",
            "response #2: HTTP/1.1 304 Not Modified (0 bytes) \"\"",
        ]
    );
    assert!(client.conn.is_idle());
}

#[test]
fn interim_responses_are_skipped() {
    let mut client = Harness::new();
    client.send(Request::new("POST", "/").with_body("x"));
    assert_eq!(
        client
            .recv("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
        [
            "head #0: HTTP/1.1 201 Created | Content-Length: 0",
            "response #0: HTTP/1.1 201 Created (0 bytes) \"\""
        ]
    );
}

#[test]
fn pipelined_responses_are_matched_in_order() {
    let mut client = Harness::new();
    let first = client.send(get("/a"));
    let second = client.send(get("/b"));
    assert_eq!((first.index(), second.index()), (0, 1));
    let events = client.recv(
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA\
         HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB",
    );
    assert_eq!(
        events,
        [
            "head #0: HTTP/1.1 200 OK | Content-Length: 1",
            "chunk #0: \"A\"",
            "response #0: HTTP/1.1 200 OK (1 bytes) \"A\"",
            "head #1: HTTP/1.1 404 Not Found | Content-Length: 1",
            "chunk #1: \"B\"",
            "response #1: HTTP/1.1 404 Not Found (1 bytes) \"B\"",
        ]
    );
}

// ----- Keep-alive -----

#[test]
fn connection_close_from_the_server_ends_reuse() {
    let mut client = Harness::new();
    client.send(get("/"));
    client.recv("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert!(!client.conn.keep_alive().reusable);
    assert!(!client.conn.is_idle());
    assert_eq!(
        client.conn.send_request(SimTime::ZERO, get("/again")),
        Err(SendRequestError::NotReusable)
    );
    assert_eq!(client.eof(), ["closed, unanswered []"]);
    assert_eq!(
        client.conn.send_request(SimTime::ZERO, get("/again")),
        Err(SendRequestError::Closed)
    );
}

#[test]
fn asking_to_close_ends_reuse_at_once() {
    let mut client = Harness::new();
    client.send(get("/").with_header("Connection", "close"));
    assert!(!client.conn.keep_alive().reusable);
    let mut old = Harness::new();
    old.send(get("/").with_version(Version::Http10));
    assert!(!old.conn.keep_alive().reusable);
    let mut old_keep_alive = Harness::new();
    old_keep_alive.send(
        get("/")
            .with_version(Version::Http10)
            .with_header("Connection", "keep-alive"),
    );
    assert!(old_keep_alive.conn.keep_alive().reusable);
}

#[test]
fn an_http_1_0_server_without_keep_alive_ends_reuse() {
    let mut client = Harness::new();
    client.send(get("/"));
    client.recv("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(!client.conn.keep_alive().reusable);
}

// ----- Upgrade -----

#[test]
fn a_switch_hands_over_the_bytes_that_follow() {
    let mut client = Harness::new();
    client.send(
        get("/chat")
            .with_header("Connection", "Upgrade")
            .with_header("Upgrade", "websocket"),
    );
    let events = client.recv(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\
         \u{81}\u{2}hi",
    );
    assert_eq!(
        events,
        ["upgraded #0: HTTP/1.1 101 Switching Protocols (0 bytes)"]
    );
    assert!(client.conn.is_upgraded());
    assert_eq!(
        client.conn.take_upgraded_bytes(),
        "\u{81}\u{2}hi".as_bytes()
    );
    assert_eq!(client.recv("HTTP/1.1 200 OK\r\n\r\n"), Vec::<String>::new());
    assert_eq!(
        client.conn.take_upgraded_bytes(),
        b"HTTP/1.1 200 OK\r\n\r\n"
    );
    assert_eq!(
        client.conn.send_request(SimTime::ZERO, get("/")),
        Err(SendRequestError::Upgraded)
    );
    assert_eq!(client.eof(), ["closed, unanswered []"]);
}

// ----- Ends and errors -----

#[test]
fn the_server_closing_reports_what_was_left_unanswered() {
    let mut client = Harness::new();
    client.send(get("/a"));
    client.send(get("/b"));
    assert_eq!(client.eof(), ["closed, unanswered [#0, #1]"]);
    assert!(client.conn.is_closed());
    assert_eq!(client.recv("HTTP/1.1 200 OK\r\n\r\n"), Vec::<String>::new());
}

#[test]
fn a_response_cut_short_is_an_error() {
    let mut client = Harness::new();
    client.send(get("/a"));
    client.recv("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel");
    assert_eq!(
        client.eof(),
        [
            "error: connection closed before the end of the body",
            "closed, unanswered [#0]"
        ]
    );
    let mut client = Harness::new();
    client.send(get("/a"));
    client.recv("HTTP/1.1 200 OK\r\nContent-Len");
    assert_eq!(
        client.eof(),
        [
            "error: connection closed in the middle of a response head",
            "closed, unanswered [#0]"
        ]
    );
}

#[test]
fn malformed_responses_end_the_connection() {
    let cases = [
        ("HTTP/1.1 2OO OK\r\n\r\n", "invalid status code"),
        (
            "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
            "invalid header name",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "invalid Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n",
            "invalid chunk size",
        ),
        (
            "SSH-2.0-OpenSSH_9.6\r\n",
            "not an HTTP response: it does not start with `HTTP/`",
        ),
        ("HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version"),
        (
            "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n",
            "invalid header value",
        ),
    ];
    for (wire, reason) in cases {
        let mut client = Harness::new();
        client.send(get("/a"));
        client.send(get("/b"));
        let events = client.recv(wire);
        assert_eq!(
            events.last().map(String::as_str),
            Some("closed, unanswered [#0, #1]")
        );
        assert_eq!(
            events[events.len() - 2],
            format!("error: {reason}"),
            "for {wire:?}"
        );
        assert!(client.conn.is_closed());
    }
}

#[test]
fn a_response_nobody_asked_for_is_an_error() {
    let mut client = Harness::new();
    assert_eq!(
        client.recv("HTTP/1.1 408 Request Timeout\r\n\r\n"),
        ["error: response without a request", "closed, unanswered []"]
    );
}

#[test]
fn response_limits_are_enforced() {
    let config = ClientConfig {
        limits: ResponseLimits {
            max_header_bytes: 64,
            max_headers: 2,
            max_body_bytes: 8,
        },
        ..ClientConfig::default()
    };
    let cases = [
        (
            format!("HTTP/1.1 200 OK\r\nX: {}", "v".repeat(60)),
            "header section longer than 64 bytes",
        ),
        (
            "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".to_string(),
            "more than 2 header fields",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n".to_string(),
            "body longer than 8 bytes",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n".to_string(),
            "body longer than 8 bytes",
        ),
    ];
    for (wire, reason) in cases {
        let mut client = Harness::with_config(config);
        client.send(get("/"));
        let events = client.recv(&wire);
        assert!(
            events.contains(&format!("error: {reason}")),
            "{wire:?} gave {events:?}"
        );
        assert!(client.conn.is_closed());
    }
}

#[test]
fn an_eof_delimited_body_is_cut_at_the_limit() {
    let config = ClientConfig {
        limits: ResponseLimits {
            max_body_bytes: 4,
            ..ResponseLimits::default()
        },
        ..ClientConfig::default()
    };
    let mut client = Harness::with_config(config);
    client.send(get("/"));
    assert_eq!(
        client.recv("HTTP/1.0 200 OK\r\n\r\nabcdef"),
        [
            "head #0: HTTP/1.0 200 OK",
            "chunk #0: \"abcd\"",
            "error: body longer than 4 bytes",
            "closed, unanswered [#0]",
        ]
    );
}

// ----- Properties -----

fn fragments() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.0 204 No Content\r\n".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 101 Switching Protocols\r\n".to_vec()),
        Just(b"Content-Length: 3\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Connection: close\r\n".to_vec()),
        Just(b"Keep-Alive: timeout=5, max=7\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"3\r\nabc\r\n".to_vec()),
        Just(b"0\r\n\r\n".to_vec()),
        Just(b"abc".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(fragment, 0..12).prop_map(|pieces| pieces.concat())
}

fn client_with_requests(count: u64) -> ClientConn {
    let mut conn = ClientConn::new(ClientConfig::default());
    for index in 0..count {
        let request = if index % 3 == 2 {
            Request::new("HEAD", "/")
        } else {
            get("/")
        };
        conn.send_request(SimTime::ZERO, request).unwrap();
    }
    conn
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics_and_eof_always_ends(
        input in prop_oneof![fragments(), prop::collection::vec(any::<u8>(), 0..256)],
        requests in 0u64..4,
    ) {
        let mut conn = client_with_requests(requests);
        conn.handle_input(SimTime::ZERO, &input);
        conn.handle_eof(SimTime::ZERO);
        let events: Vec<ClientEvent> = std::iter::from_fn(|| conn.poll_event()).collect();
        prop_assert!(conn.is_closed() || conn.is_upgraded());
        let closes = events
            .iter()
            .filter(|event| matches!(event, ClientEvent::ConnectionClosed { .. }))
            .count();
        prop_assert_eq!(closes, 1);
    }

    #[test]
    fn how_input_is_split_never_matters(
        input in fragments(),
        cut in any::<prop::sample::Index>(),
        requests in 0u64..4,
    ) {
        let cut = cut.index(input.len() + 1);
        let mut whole = client_with_requests(requests);
        whole.handle_input(SimTime::ZERO, &input);
        let mut split = client_with_requests(requests);
        split.handle_input(SimTime::ZERO, &input[..cut]);
        split.handle_input(SimTime::ZERO, &input[cut..]);
        let mut bytewise = client_with_requests(requests);
        for byte in input.chunks(1) {
            bytewise.handle_input(SimTime::ZERO, byte);
        }
        let expected = observe(&mut whole);
        prop_assert_eq!(observe(&mut split), expected.clone());
        prop_assert_eq!(observe(&mut bytewise), expected);
    }
}

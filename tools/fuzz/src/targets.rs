//! The fuzz targets: what one input is fed to, and the seed corpus of each.
//!
//! Every target takes raw bytes. A target returns normally when the code
//! under test coped (refusing the input with an error is coping); it panics
//! when it did not, either inside the code under test or on one of the
//! invariants checked here (a decoded frame that does not survive being
//! encoded and decoded again). Hangs and memory growth are caught by the
//! supervisor, not here.

use crate::mutate::Flavour;
use simnet::{Capture, Format, ScenarioRun, SimDuration, SimTime};
use simnet_http::proto::{
    ClientConfig, ClientConn, ClientEvent, Request, Response, ServerConfig, ServerConn, ServerEvent,
};
use simnet_scenario::AppRegistry;
use simnet_ws::proto::conn::{WsConfig, WsConn, WsEvent};
use simnet_ws::proto::frame;
use simnet_ws::stomp;
use std::path::Path;

/// The most events one whole run of a mutated scenario may take.
pub const RUN_MAX_EVENTS: u64 = 200_000;

/// The most trace records one whole run of a mutated scenario may make.
/// Events alone do not bound a run's output: a WebSocket client pinging
/// every microsecond makes 900,000 records, 250 MB of JSON Lines, in
/// 200,000 events, and rendering those in every format took more than the
/// CPU budget (found by seed 966658491; `tests/fuzz-crashes/run/bf3ede10dd9ab412`).
pub const RUN_MAX_RECORDS: u64 = 400_000;

/// The most simulated time one whole run of a mutated scenario may take.
pub const RUN_MAX_TIME: SimDuration = SimDuration::from_secs(60);

/// A fuzz target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A scenario file through the parser and the compiler, with the full
    /// application registry, and its error rendered.
    Scenario,
    /// A scenario file parsed, compiled, run (capped at [`RUN_MAX_EVENTS`], [`RUN_MAX_RECORDS`]
    /// and [`RUN_MAX_TIME`]), judged and rendered in every format.
    Run,
    /// Bytes from a client into the HTTP/1.1 server connection, which
    /// answers every request and handles upgrades.
    HttpRequest,
    /// Bytes from a server into the HTTP/1.1 client connection, after two
    /// pipelined requests (one `HEAD`).
    HttpResponse,
    /// Bytes into the WebSocket frame decoder and into a server and a
    /// client connection.
    WsFrame,
    /// Bytes into the STOMP frame decoder.
    Stomp,
    /// The harness's own test target: an input containing `panic` panics,
    /// `hang` spins forever, `sleep` sleeps forever, `memory` allocates
    /// until stopped, `abort` aborts. Not part of `all`; the harness's tests use it to prove that
    /// each symptom is caught.
    SelfTest,
}

impl Target {
    /// Every target, in the order `--target all` runs them.
    pub const ALL: [Target; 6] = [
        Target::Scenario,
        Target::Run,
        Target::HttpRequest,
        Target::HttpResponse,
        Target::WsFrame,
        Target::Stomp,
    ];

    /// The name on the command line and under `tests/fuzz-crashes/`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Scenario => "scenario",
            Target::Run => "run",
            Target::HttpRequest => "http-request",
            Target::HttpResponse => "http-response",
            Target::WsFrame => "ws-frame",
            Target::Stomp => "stomp",
            Target::SelfTest => "self-test",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL
            .into_iter()
            .chain([Target::SelfTest])
            .find(|t| t.name() == name)
    }

    /// The kind of text the target reads.
    pub fn flavour(self) -> Flavour {
        match self {
            Target::Scenario => Flavour::Toml,
            Target::Run => Flavour::TomlRun,
            Target::HttpRequest | Target::HttpResponse => Flavour::Http,
            Target::WsFrame | Target::Stomp | Target::SelfTest => Flavour::Frames,
        }
    }

    /// The longest input the mutator makes for this target.
    pub fn max_len(self) -> usize {
        match self {
            Target::Scenario | Target::Run => 64 * 1024,
            _ => 16 * 1024,
        }
    }

    /// How much CPU time one input may take before the supervisor calls it
    /// a hang (the wall clock allows six times as much). Generous: a parser
    /// that needs two seconds for 64 KiB is already broken, and a whole run
    /// capped at 200,000 events, rendered in every format, takes about 3 s
    /// at worst in release mode.
    pub fn cpu_budget(self) -> std::time::Duration {
        // Unoptimised builds (the replay test under `cargo test`) are about
        // ten times slower; the self-test hangs for real and need not wait.
        let scale = if cfg!(debug_assertions) { 10 } else { 1 };
        match self {
            Target::Run => scale * std::time::Duration::from_secs(10),
            Target::SelfTest => std::time::Duration::from_secs(1),
            _ => scale * std::time::Duration::from_secs(2),
        }
    }

    /// The seed corpus: for scenario targets every `*.toml` under
    /// `scenarios/` and `tests/broken/` of the workspace at `root`; for the
    /// protocol targets, messages written here.
    pub fn corpus(self, root: &Path) -> Vec<Vec<u8>> {
        match self {
            Target::Scenario | Target::Run => {
                let mut out = Vec::new();
                for dir in ["scenarios", "tests/broken"] {
                    let files = simnet::quick_scenario_files(&root.join(dir)).unwrap_or_default();
                    for f in files {
                        if let Ok(bytes) = std::fs::read(&f) {
                            out.push(bytes);
                        }
                    }
                }
                assert!(
                    !out.is_empty(),
                    "no scenario files under {}: pass --root",
                    root.display()
                );
                out
            }
            Target::HttpRequest => HTTP_REQUESTS.iter().map(|s| s.to_vec()).collect(),
            Target::HttpResponse => HTTP_RESPONSES.iter().map(|s| s.to_vec()).collect(),
            Target::WsFrame => ws_seeds(),
            Target::Stomp => STOMP_FRAMES.iter().map(|s| s.to_vec()).collect(),
            Target::SelfTest => [&b"fine"[..], b"fine too", b"panic", b"fine again"]
                .iter()
                .map(|s| s.to_vec())
                .collect(),
        }
    }
}

/// What every input of a worker shares.
pub struct Context {
    registry: AppRegistry,
}

impl Context {
    /// The context for a worker: the full application registry, as the
    /// `simnet` command builds it.
    pub fn new() -> Context {
        Context {
            registry: simnet::registry(),
        }
    }

    /// Feeds `input` to `target`. Panics when the code under test does, or
    /// when an invariant checked here does not hold.
    pub fn run(&self, target: Target, input: &[u8]) {
        match target {
            Target::Scenario => self.scenario(input),
            Target::Run => self.whole_run(input),
            Target::HttpRequest => http_request(input),
            Target::HttpResponse => http_response(input),
            Target::WsFrame => ws_frame(input),
            Target::Stomp => stomp_frame(input),
            Target::SelfTest => self_test(input),
        }
    }

    fn scenario(&self, input: &[u8]) {
        let text = String::from_utf8_lossy(input);
        if let Err(e) = simnet_scenario::parse("fuzz.toml", &text, &self.registry) {
            // Rendering the diagnostic (spans, carets, shortening) is part
            // of what is under test.
            let _ = e.to_string();
        }
    }

    fn whole_run(&self, input: &[u8]) {
        let text = String::from_utf8_lossy(input);
        let scenario = match simnet_scenario::parse("fuzz.toml", &text, &self.registry) {
            Ok(s) => s,
            Err(e) => {
                let _ = e.to_string();
                return;
            }
        };
        let until = scenario.time_limit.min(SimTime::ZERO + RUN_MAX_TIME);
        let mut world = scenario.world(None, Some(until));
        world.set_capture(Capture::Full);
        world.run_while_not(|w| {
            w.events_processed() >= RUN_MAX_EVENTS || w.records_produced() >= RUN_MAX_RECORDS
        });
        let trace = world.take_trace();
        let outcomes =
            simnet_scenario::evaluate(&scenario.expectations, &trace, &scenario.app_names());
        let run = ScenarioRun {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            seed: scenario.seed,
            trace,
            outcomes,
        };
        for format in Format::ALL {
            let _ = simnet::render(&run, format);
        }
        let _ = simnet::verdicts(&run);
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

/// Splits `input` into pieces whose sizes follow from the input's own
/// hash, so that parsers see messages cut at every kind of place while the
/// same input is always cut the same way.
fn pieces(input: &[u8]) -> Vec<&[u8]> {
    let mut h = fnv(input);
    let mut out = Vec::new();
    let mut rest = input;
    // One input in four arrives whole.
    if h.is_multiple_of(4) {
        return vec![input];
    }
    while !rest.is_empty() {
        h = h
            .wrapping_mul(0x5851_f42d_4c95_7f2d)
            .wrapping_add(1442695040888963407);
        let n = match (h >> 33) % 4 {
            0 => 1,
            1 => 1 + (h >> 40) as usize % 8,
            _ => 1 + (h >> 40) as usize % 256,
        };
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

/// FNV-1a over bytes: the name of a crash file and the seed of [`pieces`].
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The HTTP server connection answers whatever the client sends: a 200
/// with a body for a request, a `101` for a valid upgrade, a refusal for an
/// invalid one. After the input come the end of stream and a timeout.
fn http_request(input: &[u8]) {
    let mut now = SimTime::ZERO;
    let mut server = ServerConn::new(ServerConfig::default(), now);
    let mut out = Vec::new();
    for piece in pieces(input) {
        server.handle_input(now, piece);
        drive_server(&mut server, now, &mut out);
        now += SimDuration::from_millis(1);
    }
    server.handle_eof(now);
    drive_server(&mut server, now, &mut out);
    now += SimDuration::from_secs(10);
    server.handle_timeout(now);
    drive_server(&mut server, now, &mut out);
    let _ = server.take_upgraded_bytes();
}

fn drive_server(server: &mut ServerConn, now: SimTime, out: &mut Vec<u8>) {
    while let Some(event) = server.poll_event() {
        match event {
            ServerEvent::Request { id, request } => {
                let body = request.summary().into_bytes();
                let _ = server.send_response(now, id, Response::new(200).with_body(body));
            }
            ServerEvent::UpgradeRequested { id, request } => {
                match simnet_ws::proto::handshake::validate_request(
                    &request.method,
                    &request.headers,
                    &[stomp::STOMP_SUBPROTOCOL],
                ) {
                    Ok(accepted) => {
                        let _ = server.accept_upgrade(now, id, &accepted.response_headers);
                    }
                    Err(_) => {
                        let _ = server.send_response(now, id, Response::new(400));
                    }
                }
            }
            ServerEvent::BadRequest { .. } | ServerEvent::IdleTimeout | ServerEvent::PeerClosed => {
            }
        }
    }
    out.clear();
    server.poll_transmit(out);
    let _ = server.poll_timeout();
}

/// The HTTP client connection reads whatever the server sends, after a
/// `GET`, a `HEAD` and a WebSocket upgrade request were sent; an upgrade
/// response is validated as the WebSocket client would.
fn http_response(input: &[u8]) {
    let mut now = SimTime::ZERO;
    let mut client = ClientConn::new(ClientConfig::default());
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let _ = client.send_request(now, Request::get("server", "/"));
    let _ = client.send_request(
        now,
        Request::new("HEAD", "/x").with_header("Host", "server"),
    );
    let mut upgrade = Request::get("server", "/ws");
    upgrade
        .headers
        .extend(simnet_ws::proto::handshake::client_request_headers(
            "server",
            key,
            &[stomp::STOMP_SUBPROTOCOL],
        ));
    let _ = client.send_request(now, upgrade);
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    for piece in pieces(input) {
        client.handle_input(now, piece);
        drive_client(&mut client, key);
        now += SimDuration::from_millis(1);
    }
    client.handle_eof(now);
    drive_client(&mut client, key);
    let _ = client.take_upgraded_bytes();
    let _ = client.keep_alive();
}

fn drive_client(client: &mut ClientConn, key: &str) {
    while let Some(event) = client.poll_event() {
        if let ClientEvent::Upgraded { response, .. } = event {
            let _ = simnet_ws::proto::handshake::validate_response(
                response.status,
                &response.headers,
                key,
                &[stomp::STOMP_SUBPROTOCOL],
            );
        }
    }
}

/// The frame decoder on its own (every frame it decodes must survive being
/// encoded and decoded again), then a server and a client connection fed
/// the same bytes in pieces, echoing messages and pings.
fn ws_frame(input: &[u8]) {
    let mut rest = input;
    while let Ok(frame::Status::Complete((f, used))) = frame::decode(rest, 1 << 20) {
        assert!(
            used > 0 && used <= rest.len(),
            "decode used {used} of {} bytes",
            rest.len()
        );
        let mut again = Vec::new();
        frame::encode(&f, &mut again);
        match frame::decode(&again, 1 << 20) {
            Ok(frame::Status::Complete((g, n))) => {
                assert_eq!(
                    n,
                    again.len(),
                    "a re-encoded frame decodes to its full length"
                );
                assert_eq!(f, g, "a decoded frame survives encoding and decoding");
            }
            other => panic!("a re-encoded frame does not decode: {other:?}"),
        }
        rest = &rest[used..];
    }
    let _ = frame::FrameHeader::decode(input);

    let small = WsConfig {
        max_message_bytes: 4096,
        max_frame_bytes: 2048,
    };
    let mut n = 0u8;
    let conns = [
        WsConn::server(WsConfig::default()),
        WsConn::server(small),
        WsConn::client(
            WsConfig::default(),
            Box::new(move || {
                n = n.wrapping_add(1);
                [n, 1, 2, 3]
            }),
        ),
    ];
    for mut conn in conns {
        let mut out = Vec::new();
        for piece in pieces(input) {
            conn.handle_input(piece);
            drive_ws(&mut conn, &mut out);
        }
        conn.handle_eof();
        drive_ws(&mut conn, &mut out);
        let _ = conn.should_close_tcp();
    }
}

fn drive_ws(conn: &mut WsConn, out: &mut Vec<u8>) {
    while let Some(event) = conn.poll_event() {
        match event {
            WsEvent::Message(simnet_ws::proto::conn::Message::Text(t)) => {
                let _ = conn.send_text(&t);
            }
            WsEvent::Message(simnet_ws::proto::conn::Message::Binary(b)) => {
                let _ = conn.send_binary(&b);
            }
            WsEvent::FrameReceived(info) => {
                let _ = info.to_string();
            }
            _ => {}
        }
    }
    while conn.poll_sent_frame().is_some() {}
    out.clear();
    conn.poll_transmit(out);
}

/// The STOMP decoder: a frame it decodes must decode the same after being
/// encoded again.
fn stomp_frame(input: &[u8]) {
    if let Ok(f) = stomp::decode(input) {
        let mut again = Vec::new();
        stomp::encode(&f, &mut again);
        assert_eq!(
            stomp::decode(&again),
            Ok(f),
            "a decoded STOMP frame survives encoding and decoding"
        );
    }
}

/// Misbehaves on purpose, as [`Target::SelfTest`] says.
fn self_test(input: &[u8]) {
    let has = |w: &[u8]| input.windows(w.len()).any(|x| x == w);
    if has(b"panic") {
        panic!("the self-test input asked for a panic");
    }
    if has(b"abort") {
        std::process::abort();
    }
    if has(b"memory") {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 16 << 20]);
            std::hint::black_box(&hoard);
        }
    }
    if has(b"sleep") {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    if has(b"hang") {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

const HTTP_REQUESTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: server\r\n\r\n",
    b"GET /a?b=c HTTP/1.0\r\n\r\n",
    b"HEAD /x HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
    b"POST /submit HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    b"GET /1 HTTP/1.1\r\nHost: s\r\n\r\nGET /2 HTTP/1.1\r\nHost: s\r\n\r\nGET /3 HTTP/1.1\r\nHost: s\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v12.stomp\r\n\r\n\x81\x85\x01\x02\x03\x04ignored",
    b"PUT /k HTTP/1.1\r\nHost: s\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: s\r\nX-Folded: a\r\n b\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: s\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
];

const HTTP_RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: v12.stomp\r\n\r\n\x81\x02hi",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nthe body ends when the connection closes",
    b"HTTP/1.1 304 Not Modified\r\nKeep-Alive: timeout=5, max=99\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nX-A: b\r\n c\r\n\r\noops",
];

const STOMP_FRAMES: &[&[u8]] = &[
    b"CONNECT\naccept-version:1.2\nhost:server\n\n\0",
    b"CONNECTED\nversion:1.2\n\n\0",
    b"SUBSCRIBE\nid:0\ndestination:/topic/prices\n\n\0",
    b"SEND\ndestination:/topic/prices\ncontent-length:5\n\nhello\0\n\n",
    b"MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/topic/a\\cb\nx:\\n\\r\\\\\n\nbody\0",
    b"\n\r\n",
    b"ERROR\nmessage:bad\ncontent-length:3\n\na\0b\0",
    b"DISCONNECT\nreceipt:77\n\n\0",
];

/// WebSocket seeds: masked and unmasked frames of every opcode, fragmented
/// messages, a close with a code, an oversized length, a control frame in
/// the middle of a fragmented message.
fn ws_seeds() -> Vec<Vec<u8>> {
    use frame::{Frame, Opcode};
    let key = [0x11, 0x22, 0x33, 0x44];
    let frames: Vec<Vec<Frame>> = vec![
        vec![Frame::new(true, Opcode::Text, "hello")],
        vec![Frame::new(true, Opcode::Text, "hello").with_mask(key)],
        vec![Frame::new(true, Opcode::Binary, vec![0u8, 1, 2, 255]).with_mask(key)],
        vec![
            Frame::new(false, Opcode::Text, "hel").with_mask(key),
            Frame::new(true, Opcode::Ping, "p").with_mask(key),
            Frame::new(true, Opcode::Continuation, "lo").with_mask(key),
        ],
        vec![
            Frame::new(
                true,
                Opcode::Close,
                simnet_ws::proto::close::encode_body(1000, "bye"),
            )
            .with_mask(key),
        ],
        vec![Frame::new(true, Opcode::Pong, "").with_mask(key)],
        vec![Frame::new(true, Opcode::Binary, vec![7u8; 300]).with_mask(key)],
        vec![Frame::new(true, Opcode::Binary, vec![9u8; 70_000])],
        vec![
            Frame::new(true, Opcode::Text, "é€😀").with_mask(key),
            Frame::new(true, Opcode::Close, Vec::new()).with_mask(key),
        ],
    ];
    frames
        .into_iter()
        .map(|fs| {
            let mut out = Vec::new();
            for f in &fs {
                frame::encode(f, &mut out);
            }
            out
        })
        .collect()
}

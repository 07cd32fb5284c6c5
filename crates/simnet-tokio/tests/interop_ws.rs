//! WebSocket interoperability: simnet's own `ws-client` against a
//! tokio-tungstenite 0.26 server (`accept_async` over a simnet_tokio
//! `TcpStream`), and tokio-tungstenite's client (`client_async`) against
//! simnet's `ws-server`, on two hosts joined by a 10 ms link.
//!
//! Each test checks both sides: simnet's application events (`ws.message`,
//! `ws.close`, `ws.error`, `ws.lost`, ...) and what the tungstenite side
//! saw, which it reports as `tk.*` events through [`simnet_tokio::emit`].
//! Every line is compared exactly, with its simulated time.
//!
//! Where the two disagree, or the other library behaves differently from
//! simnet without either breaking RFC 6455:
//!
//! | case | result | reason |
//! |---|---|---|
//! | payload bytes on the wire | not reproducible | tungstenite draws its `Sec-WebSocket-Key` and its masking keys from the OS's random numbers (`rand::rng()`), so a client frame's bytes differ from run to run; nothing checked here depends on them (`masked` is checked, the key is not) |
//! | message over the limit (tungstenite side) | the application sends the 1009 | tungstenite's `max_message_size` makes `next()` return `Error::Capacity` and sends nothing: the Close with 1009 (RFC 6455 section 7.4.1) is the application's to send, as it is here |
//! | Close echo | different reason text, both valid | simnet answers a Close with the peer's status code and no reason; tungstenite echoes code and reason; RFC 6455 section 5.5.1 asks only for the code ("typically echoes the status code it received") |
//! | client-initiated close with a custom code (simnet client) | not covered | `ws-client` always closes with 1000 (`done`); the other direction (tungstenite client, 1000/1001/4000) is covered |
//! | server-initiated close with a custom code (simnet server) | not covered | `ws-server` closes with 1000 (`close_after`) or 1001 (the `close` command) only; tungstenite's server covers 1000/1001/4000 |
//! | message over the limit: the answering Close | never read; RSTs | tokio-tungstenite's stream ends after any error (`next()` returns `None` once it returned an `Err`), so the side that hit the limit sends its 1009 and drops the connection without reading the peer's answering Close; that Close, the ACK and the FIN reach a closed socket and are answered with 3 RSTs. simnet's server, failing the connection itself (RFC 6455 section 7.1.7), also closes TCP at once, with the same 3 RSTs |
//! | Nagle | tungstenite frames can wait 30 ms | simnet's applications switch Nagle off once they speak WebSocket; tungstenite leaves the socket as it gets it (simnet_tokio streams, like tokio's, start with Nagle on), so a small frame written while an earlier one is unacknowledged waits for the peer's (delayed) ACK: the fragments after the first, and a Close right after an echo, arrive 30 ms later than the first frame |
//! | abrupt close | FIN, not RST | a simnet_tokio stream dropped without a Close frame ends TCP with a FIN; both sides report it as 1006 (simnet `ws.lost`, tungstenite `ResetWithoutClosingHandshake`) |

mod common;

use common::{tcp_states, two_hosts};
use futures_util::{SinkExt, StreamExt};
use simnet_core::trace::{Trace, TraceEvent};
use simnet_core::{Action, Command, HostId, SimDuration, SimTime, TcpState};
use simnet_tokio::net::{TcpListener, TcpStream};
use simnet_tokio::{AsyncApp, Event, emit};
use simnet_ws::apps::{CloseAfter, ServerMode, WsClient, WsServer};
use std::net::{Ipv4Addr, SocketAddrV4};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::{Bytes, Message};

type BoxError = Box<dyn std::error::Error>;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Reports what the tungstenite side saw.
fn note(kind: &'static str, summary: String) {
    emit(Event::new(kind, summary));
}

/// A tungstenite message in a few words: `text 5 "hello"`, `binary 300`,
/// `close 1000 "done"`.
fn describe(m: &Message) -> String {
    match m {
        Message::Text(t) => {
            let preview: String = t.as_str().chars().take(12).collect();
            format!("text {} {preview:?}", t.len())
        }
        Message::Binary(b) => format!("binary {}", b.len()),
        Message::Ping(p) => format!("ping {:?}", String::from_utf8_lossy(p)),
        Message::Pong(p) => format!("pong {:?}", String::from_utf8_lossy(p)),
        Message::Close(Some(f)) => format!("close {} {:?}", u16::from(f.code), f.reason.as_str()),
        Message::Close(None) => "close (no code)".to_string(),
        Message::Frame(_) => "frame".to_string(),
    }
}

fn close_frame(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_string().into(),
    })
}

/// A tungstenite error in a few words (the kinds a test expects).
fn describe_error(e: &WsError) -> String {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            format!("message too long {size} > {max_size}")
        }
        other => other.to_string(),
    }
}

/// The application events of the given kinds, as `time host kind summary
/// [fields]` lines, in trace order (host `c` or `s`).
fn lines(trace: &Trace, client: HostId, kinds: &[&str]) -> Vec<String> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::App { host, event, .. } if kinds.contains(&&*event.kind) => {
                let who = if *host == client { "c" } else { "s" };
                let mut line = format!("{} {who} {}", r.time, event.kind);
                if event.kind.starts_with("tk.") || event.kind.starts_with("task.") {
                    line.push_str(&format!(" {}", event.summary));
                }
                for (name, value) in &event.fields {
                    line.push_str(&format!(" {name}={value}"));
                }
                Some(line)
            }
            // A reset is never expected silently: each one is listed.
            TraceEvent::PacketSent { from, .. }
                if r.event
                    .packet_info()
                    .and_then(|p| p.tcp().map(|t| t.flags.rst()))
                    .unwrap_or(false) =>
            {
                let who = if *from == client { "c" } else { "s" };
                Some(format!("{} {who} sends RST", r.time))
            }
            _ => None,
        })
        .collect()
}

/// What the server side of the tungstenite server does with the first data
/// message it receives (every message is echoed unless it drops).
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Echo, and keep echoing until the client closes.
    Echo,
    /// Echo it, then start the closing handshake with this code.
    Close(u16),
    /// Drop the connection without a Close frame (and without an echo).
    Drop,
}

/// A tungstenite server on port 80: accepts one connection, with
/// `max_message_size` if given, and runs `then`. A message over the limit
/// is answered with a Close 1009, as RFC 6455 section 7.4.1 suggests.
async fn tung_server(limit: Option<usize>, then: Then) -> Result<(), BoxError> {
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    let (stream, _) = listener.accept().await?;
    let config = limit.map(|n| WebSocketConfig::default().max_message_size(Some(n)));
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, config).await?;
    note("tk.accepted", "upgrade answered".into());
    let mut first = true;
    while let Some(msg) = ws.next().await {
        let msg = match msg {
            Ok(m) => m,
            Err(e @ WsError::Capacity(_)) => {
                note("tk.error", describe_error(&e));
                ws.close(close_frame(1009, "message too big")).await?;
                continue;
            }
            Err(e) => {
                note("tk.error", describe_error(&e));
                return Ok(());
            }
        };
        note("tk.received", describe(&msg));
        if !matches!(msg, Message::Text(_) | Message::Binary(_)) {
            continue;
        }
        match (then, first) {
            (Then::Drop, _) => {
                note("tk.drop", "dropping TCP without a Close".into());
                return Ok(());
            }
            (Then::Close(code), true) => {
                ws.send(msg).await?;
                ws.close(close_frame(code, "bye")).await?;
            }
            _ => ws.send(msg).await?,
        }
        first = false;
    }
    note("tk.end", "stream ended".into());
    Ok(())
}

/// One step of a tungstenite client.
#[derive(Clone, Debug)]
enum Step {
    /// Send a message (or a raw frame).
    Send(Message),
    /// Read this many messages (reporting each).
    Read(usize),
    /// Start the closing handshake with this code.
    Close(u16),
    /// Drop the connection without a Close frame.
    Drop,
}

/// A tungstenite client of `ws://server/chat` that runs `steps`, then reads
/// until the stream ends. A message over `limit` is answered with a Close
/// 1009.
async fn tung_client(limit: Option<usize>, steps: Vec<Step>) -> Result<(), BoxError> {
    let stream = TcpStream::connect("server:80").await?;
    let config = limit.map(|n| WebSocketConfig::default().max_message_size(Some(n)));
    let (mut ws, response) =
        tokio_tungstenite::client_async_with_config("ws://server/chat", stream, config).await?;
    note("tk.upgraded", response.status().as_u16().to_string());
    for step in steps {
        match step {
            Step::Send(m) => ws.send(m).await?,
            Step::Read(n) => {
                for _ in 0..n {
                    match ws.next().await {
                        Some(Ok(m)) => note("tk.received", describe(&m)),
                        Some(Err(e @ WsError::Capacity(_))) => {
                            note("tk.error", describe_error(&e));
                            ws.close(close_frame(1009, "message too big")).await?;
                        }
                        Some(Err(e)) => {
                            note("tk.error", describe_error(&e));
                            return Ok(());
                        }
                        None => break,
                    }
                }
            }
            Step::Close(code) => ws.close(close_frame(code, "client done")).await?,
            Step::Drop => {
                note("tk.drop", "dropping TCP without a Close".into());
                return Ok(());
            }
        }
    }
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(m) => note("tk.received", describe(&m)),
            Err(e) => {
                note("tk.error", describe_error(&e));
                return Ok(());
            }
        }
    }
    note("tk.end", "stream ended".into());
    Ok(())
}

/// Compares trace lines exactly; on a mismatch prints the actual lines
/// one per line (as Rust string literals) before failing.
#[track_caller]
fn check(actual: Vec<String>, expected: &[&str]) {
    if actual != expected {
        for line in &actual {
            eprintln!("            {line:?},");
        }
    }
    assert_eq!(actual, expected);
}

fn at80() -> SocketAddrV4 {
    SocketAddrV4::new(SERVER, 80)
}

/// simnet's `ws-client` (built by `client`) against a tungstenite server;
/// returns the trace and the client's host.
fn simnet_client_world(
    limit: Option<usize>,
    then: Then,
    client: impl Fn() -> WsClient + 'static,
    until: SimTime,
) -> (Trace, HostId, HostId) {
    let (mut b, c, s) = two_hosts(11);
    b.app(s, "tung-server", move || {
        AsyncApp::new(move || tung_server(limit, then))
    });
    b.app(c, "ws-client", client);
    let mut world = b.build().unwrap();
    world.run_until(until);
    (world.take_trace(), c, s)
}

/// tungstenite's client running `steps` against simnet's `ws-server`
/// (built by `server`); `actions` are timeline actions for the server
/// (commands to app 0).
fn tung_client_world(
    limit: Option<usize>,
    steps: Vec<Step>,
    server: impl Fn() -> WsServer + 'static,
    actions: Vec<(SimTime, Command)>,
) -> (Trace, HostId, HostId) {
    let (mut b, c, s) = two_hosts(12);
    let server_app = b.app(s, "ws-server", server);
    b.app(c, "tung-client", move || {
        let steps = steps.clone();
        AsyncApp::new(move || tung_client(limit, steps.clone()))
    });
    for (t, command) in actions {
        b.at(t, Action::Command(server_app, command));
    }
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(20));
    (world.take_trace(), c, s)
}

/// Which side sent the first FIN, and who ended in TIME-WAIT.
fn time_wait(trace: &Trace, host: HostId) -> bool {
    tcp_states(trace, host)
        .iter()
        .any(|(_, _, to, _)| *to == TcpState::TimeWait)
}

const SIMNET_CLIENT_KINDS: &[&str] = &[
    "ws.message",
    "ws.pong",
    "ws.close",
    "ws.closed",
    "ws.error",
    "ws.lost",
    "ws.close-timeout",
    "ws.fragmenting",
    "tk.accepted",
    "tk.received",
    "tk.error",
    "tk.drop",
    "tk.end",
    "task.finished",
    "task.error",
];

const SIMNET_SERVER_KINDS: &[&str] = &[
    "ws.upgrade",
    "ws.message",
    "ws.close",
    "ws.closed",
    "ws.closing",
    "ws.error",
    "ws.lost",
    "ws.close-timeout",
    "tk.upgraded",
    "tk.received",
    "tk.error",
    "tk.drop",
    "tk.end",
    "task.finished",
    "task.error",
];

// ----- simnet ws-client -> tungstenite server -----

#[test]
fn simnet_client_text_and_binary_echoed_by_tungstenite_then_client_closes_1000() {
    let (trace, c, s) = simnet_client_world(
        None,
        Then::Echo,
        || {
            WsClient::new(at80(), "server", "/chat")
                .send(vec!["hello".into(), "world".into()])
                .binary_message(300)
        },
        SimTime::from_secs(10),
    );
    check(
        lines(&trace, c, SIMNET_CLIENT_KINDS),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "50.000ms s tk.received text 5 \"hello\"",
            "60.000ms c ws.message type=text len=5 latency=20ms",
            "70.000ms s tk.received text 5 \"world\"",
            "80.000ms c ws.message type=text len=5 latency=20ms",
            "90.000ms s tk.received binary 300",
            "100.000ms c ws.message type=binary len=300 latency=20ms",
            "110.000ms s tk.received close 1000 \"done\"",
            "110.000ms s tk.end stream ended",
            "110.000ms s task.finished the task returned Ok",
            "120.000ms c ws.close code=1000 reason=done",
            "120.000ms c ws.closed closes_tcp=false",
        ],
    );
    // tungstenite, as the server, closes TCP first (RFC 6455 section 7.1.1).
    assert!(time_wait(&trace, s), "the server holds TIME-WAIT");
    assert!(!time_wait(&trace, c));
}

#[test]
fn simnet_client_fragments_with_a_ping_between_reassembled_by_tungstenite() {
    let (trace, c, _) = simnet_client_world(
        None,
        Then::Echo,
        || {
            WsClient::new(at80(), "server", "/chat")
                .send(vec!["0123456789".repeat(10)])
                .fragment(40)
        },
        SimTime::from_secs(10),
    );
    let mut kinds = SIMNET_CLIENT_KINDS.to_vec();
    kinds.push("ws.frame-sent");
    check(
        lines(&trace, c, &kinds),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "40.000ms c ws.fragmenting frames=3",
            "40.000ms c ws.frame-sent opcode=text fin=false masked=true len=40 header=6",
            "40.000ms c ws.frame-sent opcode=ping fin=true masked=true len=17 header=6",
            "40.000ms c ws.frame-sent opcode=continuation fin=false masked=true len=40 header=6",
            "40.000ms c ws.frame-sent opcode=continuation fin=true masked=true len=20 header=6",
            "50.000ms s tk.received ping \"between fragments\"",
            "50.000ms s tk.received text 100 \"012345678901\"",
            "60.000ms c ws.pong rtt=20ms",
            "60.000ms c ws.message type=text len=100 latency=20ms",
            "60.000ms c ws.frame-sent opcode=close fin=true masked=true len=6 header=6",
            "70.000ms s tk.received close 1000 \"done\"",
            "70.000ms s tk.end stream ended",
            "70.000ms s task.finished the task returned Ok",
            "80.000ms c ws.close code=1000 reason=done",
            "80.000ms c ws.closed closes_tcp=false",
        ],
    );
}

#[test]
fn simnet_client_pings_answered_by_tungstenite() {
    let (trace, c, _) = simnet_client_world(
        None,
        Then::Echo,
        || {
            WsClient::new(at80(), "server", "/chat")
                .ping_every(SimDuration::from_millis(100))
                .close_after(CloseAfter::After(SimDuration::from_millis(350)))
        },
        SimTime::from_secs(10),
    );
    check(
        lines(&trace, c, SIMNET_CLIENT_KINDS),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "150.000ms s tk.received ping \"keepalive 1\"",
            "160.000ms c ws.pong rtt=20ms",
            "250.000ms s tk.received ping \"keepalive 2\"",
            "260.000ms c ws.pong rtt=20ms",
            "350.000ms s tk.received ping \"keepalive 3\"",
            "360.000ms c ws.pong rtt=20ms",
            "400.000ms s tk.received close 1000 \"done\"",
            "400.000ms s tk.end stream ended",
            "400.000ms s task.finished the task returned Ok",
            "410.000ms c ws.close code=1000 reason=done",
            "410.000ms c ws.closed closes_tcp=false",
        ],
    );
}

fn tungstenite_server_closes_with(code: u16) -> Vec<String> {
    let (trace, c, s) = simnet_client_world(
        None,
        Then::Close(code),
        || {
            WsClient::new(at80(), "server", "/chat")
                .send(vec!["hi".into()])
                .close_after(CloseAfter::Never)
        },
        SimTime::from_secs(10),
    );
    assert!(time_wait(&trace, s), "the server holds TIME-WAIT");
    assert!(!time_wait(&trace, c));
    lines(&trace, c, SIMNET_CLIENT_KINDS)
}

#[test]
fn tungstenite_server_closes_1000_simnet_client_answers() {
    check(
        tungstenite_server_closes_with(1000),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "50.000ms s tk.received text 2 \"hi\"",
            "60.000ms c ws.message type=text len=2 latency=20ms",
            "90.000ms c ws.close code=1000 reason=bye",
            "90.000ms c ws.closed closes_tcp=false",
            "100.000ms s tk.received close 1000 \"\"",
            "100.000ms s tk.end stream ended",
            "100.000ms s task.finished the task returned Ok",
        ],
    );
}

#[test]
fn tungstenite_server_closes_1001_simnet_client_answers() {
    check(
        tungstenite_server_closes_with(1001),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "50.000ms s tk.received text 2 \"hi\"",
            "60.000ms c ws.message type=text len=2 latency=20ms",
            "90.000ms c ws.close code=1001 reason=bye",
            "90.000ms c ws.closed closes_tcp=false",
            "100.000ms s tk.received close 1001 \"\"",
            "100.000ms s tk.end stream ended",
            "100.000ms s task.finished the task returned Ok",
        ],
    );
}

#[test]
fn tungstenite_server_closes_4000_simnet_client_answers() {
    check(
        tungstenite_server_closes_with(4000),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "50.000ms s tk.received text 2 \"hi\"",
            "60.000ms c ws.message type=text len=2 latency=20ms",
            "90.000ms c ws.close code=4000 reason=bye",
            "90.000ms c ws.closed closes_tcp=false",
            "100.000ms s tk.received close 4000 \"\"",
            "100.000ms s tk.end stream ended",
            "100.000ms s task.finished the task returned Ok",
        ],
    );
}

#[test]
fn tungstenite_server_drops_tcp_simnet_client_reports_1006() {
    let (trace, c, _) = simnet_client_world(
        None,
        Then::Drop,
        || {
            WsClient::new(at80(), "server", "/chat")
                .send(vec!["hi".into()])
                .close_after(CloseAfter::Never)
        },
        SimTime::from_secs(10),
    );
    check(
        lines(&trace, c, SIMNET_CLIENT_KINDS),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "50.000ms s tk.received text 2 \"hi\"",
            "50.000ms s tk.drop dropping TCP without a Close",
            "50.000ms s task.finished the task returned Ok",
            "60.000ms c ws.lost code=1006",
        ],
    );
}

#[test]
fn simnet_client_message_over_tungstenite_limit_gets_1009() {
    let (trace, c, _) = simnet_client_world(
        Some(100),
        Then::Echo,
        || {
            WsClient::new(at80(), "server", "/chat")
                .binary_message(100)
                .binary_message(101)
        },
        SimTime::from_secs(10),
    );
    check(
        lines(&trace, c, SIMNET_CLIENT_KINDS),
        &[
            "30.000ms s tk.accepted upgrade answered",
            "50.000ms s tk.received binary 100",
            "60.000ms c ws.message type=binary len=100 latency=20ms",
            "70.000ms s tk.error message too long 101 > 100",
            "70.000ms s tk.end stream ended",
            "70.000ms s task.finished the task returned Ok",
            "80.000ms c ws.close code=1009 reason=message too big",
            "80.000ms c ws.closed closes_tcp=false",
            "90.000ms s sends RST",
            "90.000ms s sends RST",
            "90.000ms s sends RST",
        ],
    );
}

// ----- tungstenite client -> simnet ws-server -----

fn echo_server() -> WsServer {
    WsServer::new(80, ServerMode::Echo)
}

#[test]
fn tungstenite_client_text_and_binary_echoed_by_simnet_then_closes_1000() {
    let (trace, c, s) = tung_client_world(
        None,
        vec![
            Step::Send(Message::text("hello")),
            Step::Read(1),
            Step::Send(Message::binary(vec![7u8; 300])),
            Step::Read(1),
            Step::Close(1000),
        ],
        echo_server,
        vec![],
    );
    check(
        lines(&trace, c, SIMNET_SERVER_KINDS),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.message type=text len=5",
            "60.000ms c tk.received text 5 \"hello\"",
            "70.000ms s ws.message type=binary len=300",
            "80.000ms c tk.received binary 300",
            "90.000ms s ws.close code=1000 reason=client done",
            "90.000ms s ws.closed closes_tcp=true",
            "100.000ms c tk.received close 1000 \"\"",
            "100.000ms c tk.end stream ended",
            "100.000ms c task.finished the task returned Ok",
        ],
    );
    assert!(time_wait(&trace, s), "the server holds TIME-WAIT");
    assert!(!time_wait(&trace, c));
}

#[test]
fn tungstenite_client_fragments_with_a_ping_between_reassembled_by_simnet() {
    let frame = |data: &'static str, opcode: Data, fin: bool| {
        Message::Frame(Frame::message(
            Bytes::from_static(data.as_bytes()),
            OpCode::Data(opcode),
            fin,
        ))
    };
    let (trace, c, _) = tung_client_world(
        None,
        vec![
            Step::Send(frame("hel", Data::Text, false)),
            Step::Send(Message::Ping(Bytes::from_static(b"between"))),
            Step::Send(frame("lo, ", Data::Continue, false)),
            Step::Send(frame("world", Data::Continue, true)),
            Step::Read(2),
            Step::Close(1000),
        ],
        echo_server,
        vec![],
    );
    let mut kinds = SIMNET_SERVER_KINDS.to_vec();
    kinds.push("ws.frame-received");
    check(
        lines(&trace, c, &kinds),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.frame-received opcode=text fin=false masked=true len=3 header=6",
            "80.000ms s ws.frame-received opcode=ping fin=true masked=true len=7 header=6",
            "80.000ms s ws.frame-received opcode=continuation fin=false masked=true len=4 header=6",
            "80.000ms s ws.frame-received opcode=continuation fin=true masked=true len=5 header=6",
            "80.000ms s ws.message type=text len=12",
            "90.000ms c tk.received pong \"between\"",
            "90.000ms c tk.received text 12 \"hello, world\"",
            "100.000ms s ws.frame-received opcode=close fin=true masked=true len=13 header=6",
            "100.000ms s ws.close code=1000 reason=client done",
            "100.000ms s ws.closed closes_tcp=true",
            "110.000ms c tk.received close 1000 \"\"",
            "110.000ms c tk.end stream ended",
            "110.000ms c task.finished the task returned Ok",
        ],
    );
}

fn tungstenite_client_closes_with(code: u16) -> Vec<String> {
    let (trace, c, s) = tung_client_world(
        None,
        vec![
            Step::Send(Message::text("hi")),
            Step::Read(1),
            Step::Close(code),
        ],
        echo_server,
        vec![],
    );
    assert!(time_wait(&trace, s), "the server holds TIME-WAIT");
    assert!(!time_wait(&trace, c));
    lines(&trace, c, SIMNET_SERVER_KINDS)
}

#[test]
fn tungstenite_client_closes_1000_simnet_server_answers() {
    check(
        tungstenite_client_closes_with(1000),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.message type=text len=2",
            "60.000ms c tk.received text 2 \"hi\"",
            "70.000ms s ws.close code=1000 reason=client done",
            "70.000ms s ws.closed closes_tcp=true",
            "80.000ms c tk.received close 1000 \"\"",
            "80.000ms c tk.end stream ended",
            "80.000ms c task.finished the task returned Ok",
        ],
    );
}

#[test]
fn tungstenite_client_closes_1001_simnet_server_answers() {
    check(
        tungstenite_client_closes_with(1001),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.message type=text len=2",
            "60.000ms c tk.received text 2 \"hi\"",
            "70.000ms s ws.close code=1001 reason=client done",
            "70.000ms s ws.closed closes_tcp=true",
            "80.000ms c tk.received close 1001 \"\"",
            "80.000ms c tk.end stream ended",
            "80.000ms c task.finished the task returned Ok",
        ],
    );
}

#[test]
fn tungstenite_client_closes_4000_simnet_server_answers() {
    check(
        tungstenite_client_closes_with(4000),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.message type=text len=2",
            "60.000ms c tk.received text 2 \"hi\"",
            "70.000ms s ws.close code=4000 reason=client done",
            "70.000ms s ws.closed closes_tcp=true",
            "80.000ms c tk.received close 4000 \"\"",
            "80.000ms c tk.end stream ended",
            "80.000ms c task.finished the task returned Ok",
        ],
    );
}

#[test]
fn simnet_server_closes_1000_after_a_delay_tungstenite_client_answers() {
    let (trace, c, _) = tung_client_world(
        None,
        vec![],
        || echo_server().close_after(SimDuration::from_millis(100)),
        vec![],
    );
    check(
        lines(&trace, c, SIMNET_SERVER_KINDS),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "130.000ms s ws.closing",
            "140.000ms c tk.received close 1000 \"server closing\"",
            "150.000ms s ws.close code=1000 reason=server closing",
            "150.000ms s ws.closed closes_tcp=true",
            "160.000ms c tk.end stream ended",
            "160.000ms c task.finished the task returned Ok",
        ],
    );
}

#[test]
fn simnet_server_going_away_1001_tungstenite_client_answers() {
    let (trace, c, _) = tung_client_world(
        None,
        vec![],
        echo_server,
        vec![(SimTime::from_millis(200), Command::new("close"))],
    );
    check(
        lines(&trace, c, SIMNET_SERVER_KINDS),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "210.000ms c tk.received close 1001 \"server going away\"",
            "220.000ms s ws.close code=1001 reason=server going away",
            "220.000ms s ws.closed closes_tcp=true",
            "230.000ms c tk.end stream ended",
            "230.000ms c task.finished the task returned Ok",
        ],
    );
}

#[test]
fn tungstenite_client_pings_answered_by_simnet() {
    let (trace, c, _) = tung_client_world(
        None,
        vec![
            Step::Send(Message::Ping(Bytes::from_static(b"p1"))),
            Step::Read(1),
            Step::Send(Message::Ping(Bytes::from_static(b"p2"))),
            Step::Read(1),
            Step::Close(1000),
        ],
        echo_server,
        vec![],
    );
    check(
        lines(&trace, c, SIMNET_SERVER_KINDS),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "60.000ms c tk.received pong \"p1\"",
            "80.000ms c tk.received pong \"p2\"",
            "90.000ms s ws.close code=1000 reason=client done",
            "90.000ms s ws.closed closes_tcp=true",
            "100.000ms c tk.received close 1000 \"\"",
            "100.000ms c tk.end stream ended",
            "100.000ms c task.finished the task returned Ok",
        ],
    );
}

#[test]
fn tungstenite_client_drops_tcp_simnet_server_reports_1006() {
    let (trace, c, _) = tung_client_world(
        None,
        vec![Step::Send(Message::text("hi")), Step::Read(1), Step::Drop],
        echo_server,
        vec![],
    );
    check(
        lines(&trace, c, SIMNET_SERVER_KINDS),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.message type=text len=2",
            "60.000ms c tk.received text 2 \"hi\"",
            "60.000ms c tk.drop dropping TCP without a Close",
            "60.000ms c task.finished the task returned Ok",
            "70.000ms s ws.lost code=1006",
        ],
    );
}

#[test]
fn tungstenite_client_message_over_simnet_limit_gets_1009() {
    let (trace, c, _) = tung_client_world(
        None,
        vec![
            Step::Send(Message::binary(vec![1u8; 100])),
            Step::Read(1),
            Step::Send(Message::binary(vec![1u8; 101])),
        ],
        || echo_server().max_message_bytes(100),
        vec![],
    );
    check(
        lines(&trace, c, SIMNET_SERVER_KINDS),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.message type=binary len=100",
            "60.000ms c tk.received binary 100",
            "70.000ms s ws.error code=1009 reason=101-byte frame payload exceeds the 100-byte limit",
            "80.000ms c tk.received close 1009 \"101-byte frame payload exceeds the 100-byte limit\"",
            "80.000ms c tk.end stream ended",
            "80.000ms c task.finished the task returned Ok",
            "90.000ms s sends RST",
            "90.000ms s sends RST",
            "90.000ms s sends RST",
        ],
    );
}

#[test]
fn simnet_server_echo_over_tungstenite_client_limit_gets_1009() {
    let (trace, c, _) = tung_client_world(
        Some(100),
        vec![
            Step::Send(Message::binary(vec![1u8; 100])),
            Step::Read(1),
            Step::Send(Message::binary(vec![1u8; 101])),
            Step::Read(1),
        ],
        echo_server,
        vec![],
    );
    check(
        lines(&trace, c, SIMNET_SERVER_KINDS),
        &[
            "30.000ms s ws.upgrade path=/chat status=101 protocol= ok=true",
            "40.000ms c tk.upgraded 101",
            "50.000ms s ws.message type=binary len=100",
            "60.000ms c tk.received binary 100",
            "70.000ms s ws.message type=binary len=101",
            "80.000ms c tk.error message too long 101 > 100",
            "80.000ms c tk.end stream ended",
            "80.000ms c task.finished the task returned Ok",
            "90.000ms s ws.close code=1009 reason=message too big",
            "90.000ms s ws.closed closes_tcp=true",
            "100.000ms c sends RST",
            "100.000ms c sends RST",
            "100.000ms c sends RST",
        ],
    );
}

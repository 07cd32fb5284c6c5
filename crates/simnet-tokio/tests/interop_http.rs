//! HTTP/1.1 interoperability: simnet's own `http-client` against a hyper 1.x
//! server (`hyper::server::conn::http1` over simnet_tokio streams), hyper's
//! client (`hyper::client::conn::http1`) against simnet's `http-server`,
//! and hyper's client through simnet's `http-proxy` to a hyper server, on
//! hosts joined by 10 ms links.
//!
//! The cases: keep-alive reuse, a chunked response body, `Connection:
//! close`, `204 No Content` followed by another request on the same
//! connection, and (hyper to simnet) a chunked request body. Each test
//! compares, line by line and with its simulated time, simnet's
//! application events (`http.request-sent`, `http.response`,
//! `http.request`, `http.reply`, ...), what the hyper side saw (`tk.*` events sent with [`simnet_tokio::emit`]), every SYN, every
//! RST and every socket that reaches TIME-WAIT (which tells who closed
//! first).
//!
//! Where the two sides behave differently without either breaking RFC
//! 9110/9112:
//!
//! | case | result | reason |
//! |---|---|---|
//! | chunked body through `http-proxy` | re-framed with `Content-Length` | the proxy reads the upstream's whole response before it answers (it forwards responses, not bytes), so hyper's chunked body reaches the client as one body with a `Content-Length`; an endless stream (`text/event-stream`) would never be forwarded |
//! | chunked body from `http-server` | an open `text/event-stream` | simnet's server sends chunked bodies only on its streaming route, which never ends; hyper reads the chunks as they come, and the test stops after three |
//! | `Connection: close`, the last response | both ends hold TIME-WAIT | the server (hyper's or simnet's) writes the response and then closes, and the two leave as two segments (data, then a bare FIN) that arrive at the same simulated instant on a latency-only link; the client (hyper's, or simnet's after its last request) closes as soon as it has read the response, before the FIN that came with it is processed: a simultaneous close (RFC 9293 section 3.6), legal, and so both ends end in TIME-WAIT (simnet's client on an earlier response is not done yet, and closes passively) |
//! | the connection-level API | no pool | `hyper::client::conn::http1` is one connection; a second request after `Connection: close` fails (`ready()` errs) rather than opening a new connection (that is `hyper_util`'s pooled client's job) |

mod common;

use common::two_hosts;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use simnet_core::trace::{Trace, TraceEvent};
use simnet_core::{HostId, LinkParams, SimDuration, SimTime, TcpState, WorldBuilder};
use simnet_http::apps::{ClientMode, HttpClient, HttpProxy, HttpServer, Route, RouteKind};
use simnet_http::proto::ServerConfig;
use simnet_tokio::net::{TcpListener, TcpStream};
use simnet_tokio::{AsyncApp, Event, emit};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddrV4};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Reports what the hyper side saw.
fn note(kind: &'static str, summary: String) {
    emit(Event::new(kind, summary));
}

/// The framing and connection headers of a message, `name: value` joined
/// by `, ` (`-` if none).
fn framing(headers: &HeaderMap) -> String {
    let shown: Vec<String> = ["content-length", "transfer-encoding", "connection"]
        .iter()
        .filter_map(|n| {
            headers
                .get(*n)
                .map(|v| format!("{n}: {}", v.to_str().unwrap_or("?")))
        })
        .collect();
    if shown.is_empty() {
        "-".to_string()
    } else {
        shown.join(", ")
    }
}

/// Three chunks, 18 bytes, of a body of unknown length (sent chunked).
fn chunked_body() -> Body {
    let chunks = ["first ", "second ", "third"]
        .map(|c| Ok::<_, Infallible>(Frame::data(Bytes::from_static(c.as_bytes()))));
    StreamBody::new(futures_util::stream::iter(chunks)).boxed()
}

/// hyper's server: `/chunked` answers three chunks of a body of unknown
/// length (so chunked), `/empty` `204 No Content`, anything else `hello`
/// with a `Content-Length`.
async fn route(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    note(
        "tk.request",
        format!(
            "{} {path} {:?} [{}]",
            req.method(),
            req.version(),
            framing(req.headers())
        ),
    );
    let response = match path.as_str() {
        "/chunked" => Response::new(chunked_body()),
        "/empty" => {
            let mut r = Response::new(Empty::new().boxed());
            *r.status_mut() = hyper::StatusCode::NO_CONTENT;
            r
        }
        _ => Response::new(Full::new(Bytes::from_static(b"hello")).boxed()),
    };
    Ok(response)
}

/// A hyper HTTP/1.1 server on port `port`, each connection served by its
/// own task.
async fn hyper_server(port: u16) -> Result<(), BoxError> {
    let listener = TcpListener::bind(format!("0.0.0.0:{port}")).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let r = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(route))
                .await;
            note(
                "tk.server-conn-ended",
                format!("{:?}", r.map_err(|e| e.to_string())),
            );
        });
    }
}

/// One request of hyper's client.
#[derive(Clone, Copy, Debug)]
enum Get {
    /// `GET path`, reading the whole body.
    Whole(&'static str),
    /// `GET path` with `Connection: close`.
    Close(&'static str),
    /// `GET path`, reading this many body chunks, then dropping the
    /// connection.
    Chunks(&'static str, usize),
    /// `POST path` with a body of unknown length (so chunked): 3 chunks,
    /// 18 bytes.
    PostChunked(&'static str),
}

/// hyper's client: one connection to `target`, the requests in turn; stops
/// at the first request the connection cannot take.
async fn hyper_client(target: &'static str, gets: Vec<Get>) -> Result<(), BoxError> {
    let stream = TcpStream::connect(target).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(async move {
        let r = conn.await;
        note(
            "tk.conn-ended",
            format!("{:?}", r.map_err(|e| e.to_string())),
        );
    });
    for get in gets {
        if let Err(e) = sender.ready().await {
            note("tk.not-ready", e.to_string());
            break;
        }
        let (path, close) = match get {
            Get::Whole(p) | Get::Chunks(p, _) | Get::PostChunked(p) => (p, false),
            Get::Close(p) => (p, true),
        };
        let mut req = Request::get(path).header("host", "server");
        if close {
            req = req.header("connection", "close");
        }
        let body = match get {
            Get::PostChunked(_) => {
                req = req.method("POST");
                chunked_body()
            }
            _ => Empty::new().boxed(),
        };
        let res = sender.send_request(req.body(body)?).await?;
        let head = format!("{} [{}]", res.status(), framing(res.headers()));
        match get {
            Get::Chunks(_, n) => {
                note("tk.response", head);
                let mut body = res.into_body();
                for _ in 0..n {
                    match body.frame().await {
                        Some(Ok(f)) => {
                            let len = f.data_ref().map_or(0, Bytes::len);
                            note("tk.chunk", format!("{len} bytes"));
                        }
                        Some(Err(e)) => {
                            note("tk.error", e.to_string());
                            break;
                        }
                        None => break,
                    }
                }
                note("tk.drop", "dropping the connection".into());
                drop(body);
                drop(sender);
                conn.abort();
                return Ok(());
            }
            _ => {
                let body = res.into_body().collect().await?.to_bytes();
                note("tk.response", format!("{head} {} bytes", body.len()));
            }
        }
    }
    drop(sender);
    let _ = conn.await;
    Ok(())
}

/// The application events of the given kinds (summary and fields), every
/// SYN and RST sent, and every socket reaching TIME-WAIT, as `time host
/// what` lines in trace order; `names` maps host ids to short names.
fn lines(trace: &Trace, names: &[(HostId, &str)], kinds: &[&str]) -> Vec<String> {
    let name = |h: HostId| {
        names
            .iter()
            .find(|(id, _)| *id == h)
            .map_or("?", |(_, n)| n)
    };
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::App { host, event, .. } if kinds.contains(&&*event.kind) => {
                let mut line = format!(
                    "{} {} {} {}",
                    r.time,
                    name(*host),
                    event.kind,
                    event.summary
                );
                for (n, v) in &event.fields {
                    line.push_str(&format!(" {n}={v}"));
                }
                Some(line)
            }
            TraceEvent::PacketSent { from, .. } => {
                let flags = r.event.packet_info()?.tcp()?.flags;
                if flags.rst() {
                    Some(format!("{} {} sends RST", r.time, name(*from)))
                } else if flags.syn() && !flags.ack() {
                    Some(format!("{} {} sends SYN", r.time, name(*from)))
                } else {
                    None
                }
            }
            TraceEvent::TcpState { host, to, .. } if *to == TcpState::TimeWait => {
                Some(format!("{} {} TIME-WAIT", r.time, name(*host)))
            }
            _ => None,
        })
        .collect()
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

const KINDS: &[&str] = &[
    "http.request-sent",
    "http.response",
    "http.error",
    "http.retry",
    "http.request",
    "http.reply",
    "http.stream-open",
    "http.idle-timeout",
    "http.bad-request",
    "http.proxy-forward",
    "http.proxy-error",
    "tk.request",
    "tk.response",
    "tk.chunk",
    "tk.drop",
    "tk.not-ready",
    "tk.conn-ended",
    "tk.server-conn-ended",
    "tk.error",
    "task.error",
];

// ----- simnet http-client -> hyper server -----

/// simnet's `http-client` (built by `client`) against hyper's server.
fn simnet_client(client: impl Fn() -> HttpClient + 'static) -> Vec<String> {
    let (mut b, c, s) = two_hosts(21);
    b.app(s, "hyper-server", || AsyncApp::new(|| hyper_server(80)));
    b.app(c, "http-client", client);
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(10));
    lines(&world.take_trace(), &[(c, "c"), (s, "s")], KINDS)
}

fn to_hyper(paths: &[&str], count: u64) -> HttpClient {
    HttpClient::new(SocketAddrV4::new(SERVER, 80), "server", paths[0], count)
        .paths(paths.iter().map(|p| p.to_string()).collect())
}

#[test]
fn simnet_client_keep_alive_reuses_one_hyper_connection() {
    check(
        simnet_client(|| to_hyper(&["/a"], 3)),
        &[
            "0.000ms c sends SYN",
            "20.000ms c http.request-sent request 1: GET /a HTTP/1.1 on a new connection index=1 reused=false attempt=1",
            "30.000ms s tk.request GET /a HTTP/1.1 [-]",
            "40.000ms c http.response response 1: HTTP/1.1 200 OK (5 bytes) in 20ms index=1 status=200 latency=20ms reused=false bytes=5 attempts=1 sends=1 total=40ms",
            "40.000ms c http.request-sent request 2: GET /a HTTP/1.1 on a reused connection (1 earlier on it) index=2 reused=true attempt=1",
            "50.000ms s tk.request GET /a HTTP/1.1 [-]",
            "60.000ms c http.response response 2: HTTP/1.1 200 OK (5 bytes) in 20ms index=2 status=200 latency=20ms reused=true bytes=5 attempts=1 sends=1 total=20ms",
            "60.000ms c http.request-sent request 3: GET /a HTTP/1.1 on a reused connection (2 earlier on it) index=3 reused=true attempt=1",
            "70.000ms s tk.request GET /a HTTP/1.1 [-]",
            "80.000ms c http.response response 3: HTTP/1.1 200 OK (5 bytes) in 20ms index=3 status=200 latency=20ms reused=true bytes=5 attempts=1 sends=1 total=20ms",
            "90.000ms s tk.server-conn-ended Ok(())",
            "100.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn simnet_client_reads_a_chunked_hyper_body_then_reuses_the_connection() {
    check(
        simnet_client(|| to_hyper(&["/chunked", "/a"], 2)),
        &[
            "0.000ms c sends SYN",
            "20.000ms c http.request-sent request 1: GET /chunked HTTP/1.1 on a new connection index=1 reused=false attempt=1",
            "30.000ms s tk.request GET /chunked HTTP/1.1 [-]",
            "40.000ms c http.response response 1: HTTP/1.1 200 OK (18 bytes) in 20ms [transfer-encoding: chunked] index=1 status=200 latency=20ms reused=false bytes=18 attempts=1 sends=1 total=40ms",
            "40.000ms c http.request-sent request 2: GET /a HTTP/1.1 on a reused connection (1 earlier on it) index=2 reused=true attempt=1",
            "50.000ms s tk.request GET /a HTTP/1.1 [-]",
            "60.000ms c http.response response 2: HTTP/1.1 200 OK (5 bytes) in 20ms index=2 status=200 latency=20ms reused=true bytes=5 attempts=1 sends=1 total=20ms",
            "70.000ms s tk.server-conn-ended Ok(())",
            "80.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn simnet_client_connection_close_one_hyper_connection_per_request() {
    check(
        simnet_client(|| to_hyper(&["/a"], 2).mode(ClientMode::Close)),
        &[
            "0.000ms c sends SYN",
            "20.000ms c http.request-sent request 1: GET /a HTTP/1.1 on a new connection index=1 reused=false attempt=1",
            "30.000ms s tk.request GET /a HTTP/1.1 [connection: close]",
            "30.000ms s tk.server-conn-ended Ok(())",
            "40.000ms c http.response response 1: HTTP/1.1 200 OK (5 bytes) in 20ms [connection: close] index=1 status=200 latency=20ms reused=false bytes=5 attempts=1 sends=1 total=40ms",
            "40.000ms c sends SYN",
            "50.000ms s TIME-WAIT",
            "60.000ms c http.request-sent request 2: GET /a HTTP/1.1 on a new connection index=2 reused=false attempt=1",
            "70.000ms s tk.request GET /a HTTP/1.1 [connection: close]",
            "70.000ms s tk.server-conn-ended Ok(())",
            "80.000ms c http.response response 2: HTTP/1.1 200 OK (5 bytes) in 20ms [connection: close] index=2 status=200 latency=20ms reused=false bytes=5 attempts=1 sends=1 total=40ms",
            "90.000ms s TIME-WAIT",
            "100.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn simnet_client_gets_204_from_hyper_then_reuses_the_connection() {
    check(
        simnet_client(|| to_hyper(&["/empty", "/a"], 2)),
        &[
            "0.000ms c sends SYN",
            "20.000ms c http.request-sent request 1: GET /empty HTTP/1.1 on a new connection index=1 reused=false attempt=1",
            "30.000ms s tk.request GET /empty HTTP/1.1 [-]",
            "40.000ms c http.response response 1: HTTP/1.1 204 No Content (0 bytes) in 20ms index=1 status=204 latency=20ms reused=false bytes=0 attempts=1 sends=1 total=40ms",
            "40.000ms c http.request-sent request 2: GET /a HTTP/1.1 on a reused connection (1 earlier on it) index=2 reused=true attempt=1",
            "50.000ms s tk.request GET /a HTTP/1.1 [-]",
            "60.000ms c http.response response 2: HTTP/1.1 200 OK (5 bytes) in 20ms index=2 status=200 latency=20ms reused=true bytes=5 attempts=1 sends=1 total=20ms",
            "70.000ms s tk.server-conn-ended Ok(())",
            "80.000ms c TIME-WAIT",
        ],
    );
}

// ----- hyper client -> simnet http-server -----

fn simnet_routes() -> Vec<Route> {
    vec![
        Route::ok("/a", 5),
        Route {
            path: "/empty".into(),
            kind: RouteKind::Static {
                status: 204,
                body_bytes: 0,
                delay: SimDuration::ZERO,
            },
        },
        Route {
            path: "/stream".into(),
            kind: RouteKind::Stream,
        },
    ]
}

/// hyper's client running `gets` against simnet's `http-server`, which
/// publishes an event every 100 ms (three in all).
fn hyper_client_world(gets: Vec<Get>) -> Vec<String> {
    let (mut b, c, s) = two_hosts(22);
    b.app(s, "http-server", || {
        HttpServer::new(80, ServerConfig::default(), simnet_routes())
            .publish_schedule(SimDuration::from_millis(100), 3)
    });
    b.app(c, "hyper-client", move || {
        let gets = gets.clone();
        AsyncApp::new(move || hyper_client("server:80", gets.clone()))
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(10));
    lines(&world.take_trace(), &[(c, "c"), (s, "s")], KINDS)
}

#[test]
fn hyper_client_keep_alive_reuses_one_simnet_connection() {
    check(
        hyper_client_world(vec![Get::Whole("/a"), Get::Whole("/a"), Get::Whole("/a")]),
        &[
            "0.000ms c sends SYN",
            "30.000ms s http.request GET /a HTTP/1.1 method=GET target=/a bytes=0",
            "30.000ms s http.reply HTTP/1.1 200 OK (5 bytes) status=200",
            "40.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "50.000ms s http.request GET /a HTTP/1.1 method=GET target=/a bytes=0",
            "50.000ms s http.reply HTTP/1.1 200 OK (5 bytes) status=200",
            "60.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "70.000ms s http.request GET /a HTTP/1.1 method=GET target=/a bytes=0",
            "70.000ms s http.reply HTTP/1.1 200 OK (5 bytes) status=200",
            "80.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "80.000ms c tk.conn-ended Ok(())",
            "100.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_client_reads_simnet_chunked_stream() {
    check(
        hyper_client_world(vec![Get::Chunks("/stream", 3)]),
        &[
            "0.000ms c sends SYN",
            "30.000ms s http.request GET /stream HTTP/1.1 method=GET target=/stream bytes=0",
            "30.000ms s http.stream-open HTTP/1.1 200 OK, text/event-stream: the response stays open",
            "40.000ms c tk.response 200 OK [transfer-encoding: chunked, connection: keep-alive]",
            "110.000ms c tk.chunk 30 bytes",
            "210.000ms c tk.chunk 30 bytes",
            "310.000ms c tk.chunk 30 bytes",
            "310.000ms c tk.drop dropping the connection",
            "330.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_client_connection_close_with_simnet_server() {
    check(
        hyper_client_world(vec![Get::Close("/a"), Get::Whole("/a")]),
        &[
            "0.000ms c sends SYN",
            "30.000ms s http.request GET /a HTTP/1.1 (connection: close) method=GET target=/a bytes=0",
            "30.000ms s http.reply HTTP/1.1 200 OK (5 bytes) status=200",
            "40.000ms c tk.conn-ended Ok(())",
            "40.000ms c tk.response 200 OK [content-length: 5, connection: close] 5 bytes",
            "40.000ms c tk.not-ready channel closed",
            "50.000ms s TIME-WAIT",
            "60.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_client_gets_204_from_simnet_then_reuses_the_connection() {
    check(
        hyper_client_world(vec![Get::Whole("/empty"), Get::Whole("/a")]),
        &[
            "0.000ms c sends SYN",
            "30.000ms s http.request GET /empty HTTP/1.1 method=GET target=/empty bytes=0",
            "30.000ms s http.reply HTTP/1.1 204 No Content (0 bytes) status=204",
            "40.000ms c tk.response 204 No Content [connection: keep-alive] 0 bytes",
            "50.000ms s http.request GET /a HTTP/1.1 method=GET target=/a bytes=0",
            "50.000ms s http.reply HTTP/1.1 200 OK (5 bytes) status=200",
            "60.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "60.000ms c tk.conn-ended Ok(())",
            "80.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_client_posts_a_chunked_body_to_simnet() {
    check(
        hyper_client_world(vec![Get::PostChunked("/a"), Get::Whole("/a")]),
        &[
            "0.000ms c sends SYN",
            "30.000ms s http.request POST /a HTTP/1.1 (transfer-encoding: chunked) method=POST target=/a bytes=18",
            "30.000ms s http.reply HTTP/1.1 200 OK (5 bytes) status=200",
            "40.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "50.000ms s http.request GET /a HTTP/1.1 method=GET target=/a bytes=0",
            "50.000ms s http.reply HTTP/1.1 200 OK (5 bytes) status=200",
            "60.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "60.000ms c tk.conn-ended Ok(())",
            "80.000ms c TIME-WAIT",
        ],
    );
}

// ----- hyper client -> simnet http-proxy -> hyper server -----

/// hyper's client (on `client`, 10.0.0.1) through simnet's `http-proxy` (on
/// `proxy`, 10.0.0.3, port 80, keeping upstream connections alive if
/// `pool`) to hyper's server (on `server`, 10.0.0.2, port 8080).
fn through_proxy(gets: Vec<Get>, pool: bool) -> Vec<String> {
    let mut b = WorldBuilder::new(23);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", SERVER);
    let p = b.host("proxy", [10, 0, 0, 3].into());
    let link = LinkParams::with_latency(SimDuration::from_millis(10));
    b.link(c, p, link.clone());
    b.link(p, s, link);
    b.app(s, "hyper-server", || AsyncApp::new(|| hyper_server(8080)));
    b.app(p, "http-proxy", move || {
        let proxy = HttpProxy::new(80, SocketAddrV4::new(SERVER, 8080), ServerConfig::default());
        if pool {
            proxy.upstream_keep_alive(4)
        } else {
            proxy
        }
    });
    b.app(c, "hyper-client", move || {
        let gets = gets.clone();
        AsyncApp::new(move || hyper_client("proxy:80", gets.clone()))
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(10));
    lines(&world.take_trace(), &[(c, "c"), (s, "s"), (p, "p")], KINDS)
}

#[test]
fn hyper_through_simnet_proxy_keep_alive_both_hops() {
    check(
        through_proxy(
            vec![Get::Whole("/a"), Get::Whole("/a"), Get::Whole("/a")],
            true,
        ),
        &[
            "0.000ms c sends SYN",
            "30.000ms p sends SYN",
            "30.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a new connection pooled=false",
            "60.000ms s tk.request GET /a HTTP/1.1 [-]",
            "80.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "90.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a pooled connection pooled=true",
            "100.000ms s tk.request GET /a HTTP/1.1 [-]",
            "120.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "130.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a pooled connection pooled=true",
            "140.000ms s tk.request GET /a HTTP/1.1 [-]",
            "160.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "160.000ms c tk.conn-ended Ok(())",
            "180.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_through_simnet_proxy_new_upstream_per_request() {
    check(
        through_proxy(vec![Get::Whole("/a"), Get::Whole("/a")], false),
        &[
            "0.000ms c sends SYN",
            "30.000ms p sends SYN",
            "30.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a new connection pooled=false",
            "60.000ms s tk.request GET /a HTTP/1.1 [-]",
            "80.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "80.000ms s tk.server-conn-ended Ok(())",
            "90.000ms p sends SYN",
            "90.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a new connection pooled=false",
            "90.000ms p TIME-WAIT",
            "120.000ms s tk.request GET /a HTTP/1.1 [-]",
            "140.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "140.000ms c tk.conn-ended Ok(())",
            "140.000ms s tk.server-conn-ended Ok(())",
            "150.000ms p TIME-WAIT",
            "160.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_through_simnet_proxy_chunked_body() {
    check(
        through_proxy(vec![Get::Whole("/chunked"), Get::Whole("/a")], true),
        &[
            "0.000ms c sends SYN",
            "30.000ms p sends SYN",
            "30.000ms p http.proxy-forward GET /chunked HTTP/1.1 -> upstream on a new connection pooled=false",
            "60.000ms s tk.request GET /chunked HTTP/1.1 [-]",
            "80.000ms c tk.response 200 OK [content-length: 18, connection: keep-alive] 18 bytes",
            "90.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a pooled connection pooled=true",
            "100.000ms s tk.request GET /a HTTP/1.1 [-]",
            "120.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "120.000ms c tk.conn-ended Ok(())",
            "140.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_through_simnet_proxy_connection_close() {
    check(
        through_proxy(vec![Get::Close("/a"), Get::Whole("/a")], true),
        &[
            "0.000ms c sends SYN",
            "30.000ms p sends SYN",
            "30.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a new connection pooled=false",
            "60.000ms s tk.request GET /a HTTP/1.1 [-]",
            "80.000ms c tk.conn-ended Ok(())",
            "80.000ms c tk.response 200 OK [content-length: 5, connection: close] 5 bytes",
            "80.000ms c tk.not-ready channel closed",
            "90.000ms p TIME-WAIT",
            "100.000ms c TIME-WAIT",
        ],
    );
}

#[test]
fn hyper_through_simnet_proxy_204() {
    check(
        through_proxy(vec![Get::Whole("/empty"), Get::Whole("/a")], true),
        &[
            "0.000ms c sends SYN",
            "30.000ms p sends SYN",
            "30.000ms p http.proxy-forward GET /empty HTTP/1.1 -> upstream on a new connection pooled=false",
            "60.000ms s tk.request GET /empty HTTP/1.1 [-]",
            "80.000ms c tk.response 204 No Content [connection: keep-alive] 0 bytes",
            "90.000ms p http.proxy-forward GET /a HTTP/1.1 -> upstream on a pooled connection pooled=true",
            "100.000ms s tk.request GET /a HTTP/1.1 [-]",
            "120.000ms c tk.response 200 OK [content-length: 5, connection: keep-alive] 5 bytes",
            "120.000ms c tk.conn-ended Ok(())",
            "140.000ms c TIME-WAIT",
        ],
    );
}

//! The run-level guards: an application stuck in a loop inside one
//! callback ends the run naming it, a trace that outgrows its memory budget
//! ends the run, and an HTTP client given a request it can never write
//! fails that request instead of spinning.

use crate::{pair, ten_ms};
use simnet::{
    App, AppContext, AppEvent, EndReason, RunLimits, SimDuration, SimTime, SocketEvent, TimerId,
    TraceEvent,
};
use simnet_http::apps::{HttpClient, HttpServer, Route, RouteKind};
use simnet_http::proto::ServerConfig;
use std::net::SocketAddrV4;

/// Connects, and once connected closes the socket and then sends on it in
/// a loop: every send fails, and nothing ever ends the loop.
struct SendsForever {
    remote: SocketAddrV4,
}

impl App for SendsForever {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.connect(self.remote).unwrap();
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        if let SocketEvent::Connected(sid) = event {
            let _ = cx.close(sid);
            loop {
                let _ = cx.send(sid, b"x");
            }
        }
    }
}

/// Requeues work to itself at the same instant forever, through events
/// only (the shape of the HTTP client bug): no socket call at all.
struct EmitsForever;

impl App for EmitsForever {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.set_timer(SimDuration::from_millis(1));
    }

    fn on_socket(&mut self, _cx: &mut AppContext<'_>, _event: SocketEvent) {}

    fn on_timer(&mut self, cx: &mut AppContext<'_>, _timer: TimerId) {
        let mut queue = std::collections::VecDeque::from([1u64]);
        while let Some(item) = queue.pop_front() {
            cx.emit(AppEvent::new("test.requeue", format!("item {item} again")));
            queue.push_front(item);
        }
    }
}

fn server() -> HttpServer {
    HttpServer::new(
        80,
        ServerConfig::default(),
        vec![Route {
            path: "/".into(),
            kind: RouteKind::Static {
                status: 200,
                body_bytes: 10,
                delay: SimDuration::ZERO,
            },
        }],
    )
}

#[test]
fn a_callback_stuck_sending_on_a_closed_socket_ends_the_run_naming_it() {
    let (mut b, client, server_host) = pair(1, ten_ms());
    b.app(server_host, "tcp-echo", || simnet::apps::TcpEcho::new(80));
    let app = b.app(client, "sends-forever", || SendsForever {
        remote: "10.0.0.2:80".parse().unwrap(),
    });
    b.limits(RunLimits {
        max_calls_per_callback: 10_000,
        ..RunLimits::default()
    });
    let mut world = b.build().unwrap();
    let end = world.run();
    assert_eq!(
        end,
        EndReason::AppRunaway {
            app,
            host: client,
            calls: 10_001
        }
    );
    // It stopped at the handshake's end, one round trip in, not later.
    assert_eq!(world.now(), SimTime::from_millis(20));
    let trace = world.trace();
    assert_eq!(trace.end_reason(), Some(end));
    assert_eq!(
        end.describe(&trace.topology),
        "application `sends-forever` on host `client` made 10001 calls (socket calls, \
         events, timers) in one callback without time moving: it is stuck in a loop, \
         and was stopped"
    );
    assert!(end.is_failure());
    // The application is gone: nothing can call it again.
    assert!(world.app::<SendsForever>(app).is_none());
    // Running again does not resume it.
    assert_eq!(world.run(), end);
    // The text trace says so on its last line.
    let text = crate::text(&world);
    let last = text.lines().last().unwrap();
    assert!(
        last.contains("run  ended: application `sends-forever` on host `client` made 10001"),
        "{last}"
    );
}

#[test]
fn a_callback_that_only_emits_events_in_a_loop_is_stopped_too() {
    let (mut b, client, _) = pair(1, ten_ms());
    let app = b.app(client, "emits-forever", || EmitsForever);
    b.name_app(app, "spinner");
    // A tenth of the default bound keeps the test light: the events it
    // emitted before it was stopped stay in the trace.
    b.limits(RunLimits {
        max_calls_per_callback: 100_000,
        ..RunLimits::default()
    });
    let mut world = b.build().unwrap();
    let end = world.run();
    assert_eq!(
        end,
        EndReason::AppRunaway {
            app,
            host: client,
            calls: 100_001
        }
    );
    assert_eq!(world.trace().app_events("test.requeue").count(), 100_000);
    assert_eq!(world.now(), SimTime::from_millis(1));
    assert!(
        end.describe(&world.trace().topology).starts_with(
            "application `spinner` (emits-forever) on host `client` made 100001 calls"
        )
    );
}

#[test]
fn a_run_whose_trace_outgrows_its_budget_ends_with_memory_limit() {
    // An echo exchange every 10 ms, for a simulated century: the trace
    // would grow without end.
    let (mut b, client, server_host) = pair(1, ten_ms());
    b.app(server_host, "udp-echo", || simnet::apps::UdpEcho::new(7));
    b.app(client, "pinger", || {
        simnet::apps::UdpSender::new(
            "10.0.0.2:7".parse().unwrap(),
            u32::MAX,
            64,
            SimDuration::from_millis(10),
        )
    });
    let budget = 1 << 20;
    b.limits(RunLimits {
        max_time: SimTime::from_secs(100 * 365 * 24 * 3600),
        max_trace_bytes: budget,
        ..RunLimits::default()
    });
    let mut world = b.build().unwrap();
    let end = world.run();
    assert_eq!(end, EndReason::MemoryLimit(budget));
    let held = world.trace().records.bytes();
    // It stopped as soon as the budget was passed, by one step's records
    // at most.
    assert!(held > budget && held < budget + 16 * 1024, "{held}");
    assert!(world.now() < SimTime::from_secs(60), "{}", world.now());
    assert_eq!(
        end.to_string(),
        "memory limit of 1.0 MiB for the trace reached: narrow the run with --until or a \
         smaller time_limit (only mermaid and svg keep the whole run; the other formats are \
         written as it goes: e.g. --format summary)"
    );
    // The count is what the records say they hold, summed as they came
    // (the final `RunEnded` included).
    let summed: u64 = world.trace().records.iter().map(|r| r.bytes() as u64).sum();
    assert_eq!(summed, held);
}

#[test]
fn an_http_client_with_an_unsendable_path_fails_each_request_and_finishes() {
    let (mut b, client, server_host) = pair(1, ten_ms());
    b.app(server_host, "http-server", server);
    let id = b.app(client, "http-client", || {
        HttpClient::new("10.0.0.2:80".parse().unwrap(), "server", "/a b", 3)
    });
    let mut world = b.build().unwrap();
    let end = world.run();
    assert_eq!(end, EndReason::Idle);
    let trace = world.trace();
    let errors: Vec<String> = trace
        .app_events("http.error")
        .map(|(_, _, e)| e.summary.to_string())
        .collect();
    assert_eq!(
        errors,
        (1..=3)
            .map(|i| format!(
                "request {i} failed: it cannot be sent: invalid request line (`GET /a b`)"
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(trace.app_events("http.request-sent").count(), 0);
    assert_eq!(trace.app_events("http.requeue").count(), 0);
    assert_eq!(world.app::<HttpClient>(id).unwrap().failures, 3);
    // The one connection it opened was closed once nothing was left to do.
    let closes = trace
        .records
        .iter()
        .filter(|r| {
            matches!(
                &r.event,
                TraceEvent::SocketCall { host, call: simnet::SocketCall::Close { .. }, .. }
                    if *host == client
            )
        })
        .count();
    assert_eq!(closes, 1);
}

#[test]
fn an_http_client_with_an_empty_method_fails_cleanly_in_close_mode() {
    let (mut b, client, server_host) = pair(1, ten_ms());
    b.app(server_host, "http-server", server);
    let id = b.app(client, "http-client", || {
        HttpClient::new("10.0.0.2:80".parse().unwrap(), "server", "/", 2)
            .method("", 0)
            .mode(simnet_http::apps::ClientMode::Close)
    });
    let mut world = b.build().unwrap();
    assert_eq!(world.run(), EndReason::Idle);
    assert_eq!(world.app::<HttpClient>(id).unwrap().failures, 2);
    assert_eq!(world.trace().app_events("http.error").count(), 2);
    // Each connection opened for a request that failed was closed at once.
    assert!(world.socket_table(client).iter().all(|row| {
        row.state.is_none_or(|s| {
            matches!(
                s,
                simnet::TcpState::TimeWait | simnet::TcpState::Closed | simnet::TcpState::FinWait2
            )
        })
    }));
}

#[test]
fn a_ws_client_whose_upgrade_cannot_be_written_says_so_and_gives_up() {
    use simnet_ws::apps::{ServerMode, WsClient, WsServer};
    let (mut b, client, server_host) = pair(1, ten_ms());
    b.app(server_host, "ws-server", || {
        WsServer::new(80, ServerMode::Echo).subprotocols(vec!["chat".into()])
    });
    b.app(client, "ws-client", || {
        WsClient::new(
            "10.0.0.2:80".parse::<SocketAddrV4>().unwrap(),
            "server",
            "/",
        )
        .subprotocols(vec!["chat\r\nX-Evil: 1".into()])
    });
    let mut world = b.build().unwrap();
    assert_eq!(world.run(), EndReason::Idle);
    let upgrades: Vec<String> = world
        .trace()
        .app_events("ws.upgrade")
        .map(|(_, _, e)| e.summary.to_string())
        .collect();
    assert_eq!(
        upgrades,
        [
            "GET / was not upgraded: the upgrade request cannot be sent: header field \
          \"Sec-WebSocket-Protocol\" cannot be written safely"
        ]
    );
    // Not one byte of a request was written on the connection.
    assert!(
        world
            .trace()
            .packets()
            .all(|(_, _, info)| info.tcp().is_none_or(|t| t.payload_len == 0)),
        "no request bytes were sent"
    );
}

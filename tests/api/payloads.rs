//! Long payloads are generated as the socket takes them, and the bytes on
//! the wire are exactly those of the same payload held whole.

use crate::pair;
use simnet::apps::{Payload, Reply, ServerClose, TcpClient, TcpEcho, TcpServer, filler};
use simnet::{EndReason, FieldValue, LinkParams, Probability, SimDuration, TraceEvent, World};
use simnet_http::apps::{HttpClient, HttpServer, Route, RouteKind};
use simnet_http::proto::ServerConfig;

const MIB: u64 = 1024 * 1024;

/// A link that loses, duplicates and reorders, so that retransmissions and
/// window changes exercise every path of the writers.
fn rough() -> LinkParams {
    LinkParams {
        latency: SimDuration::from_millis(2),
        loss: Probability::from_percent(2.0),
        duplicate: Probability::from_percent(1.0),
        reorder: Probability::from_percent(1.0),
        reorder_delay: SimDuration::from_millis(3),
        ..LinkParams::default()
    }
}

fn run(mut w: World) -> World {
    let end = w.run();
    assert_eq!(end, EndReason::Idle, "the run must finish");
    w
}

/// Every event of the run, for comparison.
fn events(w: &World) -> Vec<String> {
    w.trace()
        .records
        .iter()
        .map(|r| format!("{:?} {:?}", r.time, r.event))
        .collect()
}

/// The frames sent, for comparison: what is on the wire.
fn wire(w: &World) -> Vec<String> {
    w.trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .map(|r| format!("{:?} {:?}", r.time, r.event))
        .collect()
}

/// A TCP client sending 3 MiB (and a short piece after it) to an echo
/// server, the payload held whole or generated as sent.
fn echo_3mib(lazy: bool) -> World {
    let params = LinkParams {
        loss: Probability::from_percent(1.0),
        ..LinkParams::with_latency(SimDuration::from_millis(2))
    };
    let (mut b, client, server) = pair(7, params);
    b.app(server, "echo", || TcpEcho::new(80));
    b.app(client, "client", move || {
        let body = if lazy {
            Payload::Filler(3 * MIB)
        } else {
            Payload::Bytes(filler(3 * MIB as usize))
        };
        TcpClient::new("10.0.0.2:80".parse().unwrap(), b"", 3 * MIB as usize + 3)
            .payloads(vec![body, Payload::Bytes(b"end".to_vec())])
    });
    run(b.build().unwrap())
}

#[test]
fn a_generated_tcp_payload_gives_the_same_trace_as_a_whole_one() {
    let whole = echo_3mib(false);
    let lazy = echo_3mib(true);
    assert!(wire(&lazy).len() > 2000, "the transfer happened");
    // The same segments, and the same socket calls (a generated payload
    // offers the whole write to `send`, as a vector of it would).
    assert!(events(&lazy) == events(&whole), "the traces differ");
}

#[test]
fn a_fixed_reply_of_many_mebibytes_arrives_whole() {
    let (mut b, client, server) = pair(3, rough());
    b.app(server, "server", || {
        TcpServer::new(
            80,
            Reply::Fixed {
                after_bytes: 5,
                bytes: 5 * MIB as usize,
            },
            ServerClose::AfterReply,
        )
    });
    let c = b.app(client, "client", || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5 * MIB as usize)
    });
    let w = run(b.build().unwrap());
    let client = w.app::<TcpClient>(c).unwrap();
    assert_eq!(client.bytes_received, 5 * MIB);
    assert_eq!(client.completed, 1);
}

/// An HTTP server whose `/big` answers 3 MiB and `/slow` 100 bytes after
/// 20 ms; a client pipelines `/slow`, `/big`, `/big`, `/slow` on one
/// connection, so a long body has to wait behind a response not yet ready.
fn http_3mib(whole_body_max: u64) -> (World, Vec<u64>) {
    let (mut b, client, server) = pair(11, rough());
    let routes = vec![
        Route {
            path: "/big".into(),
            kind: RouteKind::Static {
                status: 200,
                body_bytes: 3 * MIB,
                delay: SimDuration::ZERO,
            },
        },
        Route {
            path: "/slow".into(),
            kind: RouteKind::Static {
                status: 200,
                body_bytes: 100,
                delay: SimDuration::from_millis(20),
            },
        },
    ];
    b.app(server, "server", move || {
        // No idle timeout: a server holding a whole body has handed all of
        // it to its protocol layer, which then counts the connection as
        // idle during a long transfer, while a streaming one does not; the
        // two would close at different times.
        let config = ServerConfig {
            idle_timeout: None,
            ..ServerConfig::default()
        };
        HttpServer::new(80, config, routes.clone()).whole_body_max(whole_body_max)
    });
    let c = b.app(client, "client", || {
        HttpClient::new("10.0.0.2:80".parse().unwrap(), "server", "/slow", 4)
            .paths(vec![
                "/slow".into(),
                "/big".into(),
                "/big".into(),
                "/slow".into(),
            ])
            .pipeline(4)
    });
    let w = run(b.build().unwrap());
    let client = w.app::<HttpClient>(c).unwrap();
    assert_eq!(client.failures, 0);
    assert_eq!(
        client
            .responses
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [200, 200, 200, 200]
    );
    let sizes = w
        .trace()
        .app_events("http.response")
        .filter_map(|(_, _, event)| {
            event
                .fields
                .iter()
                .find_map(|(k, v)| match (k.as_ref(), v) {
                    ("bytes", FieldValue::Int(n)) => Some(*n as u64),
                    _ => None,
                })
        })
        .collect();
    (w, sizes)
}

#[test]
fn a_generated_http_body_puts_the_same_bytes_on_the_wire_as_a_whole_one() {
    let (streamed, sizes) = http_3mib(0);
    let (whole, whole_sizes) = http_3mib(u64::MAX);
    assert_eq!(sizes, [100, 3 * MIB, 3 * MIB, 100]);
    assert_eq!(whole_sizes, sizes);
    assert!(wire(&streamed) == wire(&whole), "the segments differ");
}

//! The 3-way handshake, and what happens when nobody listens.

use crate::{pair, path, ten_ms, text};
use simnet::apps::{TcpClient, TcpEcho};
use simnet::{SimTime, TcpState::*, TraceEvent};

// ANCHOR: three_way_handshake
#[test]
fn three_way_handshake() {
    let (mut b, client, server) = pair(7, ten_ms());
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    b.app(client, "tcp-client", || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), b"", 0)
            .close(simnet::apps::ClientClose::Never)
    });
    let mut w = b.build().unwrap();
    w.run_until(SimTime::from_millis(40));

    assert_eq!(path(w.trace(), client), [Closed, SynSent, Established]);
    assert_eq!(path(w.trace(), server), [Listen, SynReceived, Established]);
    // SYN, SYN-ACK, ACK — and nothing else.
    let flags: Vec<String> = w
        .trace()
        .packets()
        .map(|(_, _, p)| p.tcp().unwrap().flags.to_string())
        .collect();
    assert_eq!(flags, ["S", "S.", "."]);
    let syn = w.trace().packets().next().unwrap().2.tcp().unwrap().clone();
    assert_eq!(syn.options.mss, Some(1460));
    assert!(syn.options.sack_permitted);
    insta::assert_snapshot!(text(&w));
}
// ANCHOR_END: three_way_handshake

#[test]
fn connect_to_a_closed_port_is_refused_with_rst() {
    let (mut b, client, _server) = pair(7, ten_ms());
    b.app(client, "tcp-client", || {
        TcpClient::new("10.0.0.2:81".parse().unwrap(), b"hello", 5)
    });
    let mut w = b.build().unwrap();
    w.run();

    assert_eq!(path(w.trace(), client), [Closed, SynSent, Closed]);
    let flags: Vec<String> = w
        .trace()
        .packets()
        .map(|(_, _, p)| p.tcp().unwrap().flags.to_string())
        .collect();
    assert_eq!(flags, ["S", "R."]);
    let refused = w.trace().app_events("tcp.failed").count();
    assert_eq!(refused, 1, "the application is told the connection failed");
    assert!(w.trace().records.iter().any(|r| matches!(
        &r.event,
        TraceEvent::TcpState {
            reason: Some(simnet::CloseReason::Reset),
            ..
        }
    )));
    insta::assert_snapshot!(text(&w));
}

/// `unlisten` is the listening application's call: another application on
/// the same host cannot close its port, and a later connect still succeeds.
#[test]
fn only_the_listening_application_can_stop_listening() {
    use simnet::{App, AppContext, SocketEvent};
    struct Meddler;
    impl App for Meddler {
        fn start(&mut self, cx: &mut AppContext<'_>) {
            cx.unlisten(80);
        }
        fn on_socket(&mut self, _cx: &mut AppContext<'_>, _event: SocketEvent) {}
    }
    let (mut b, client, server) = pair(7, ten_ms());
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    b.app_at(server, "meddler", SimTime::from_millis(1), || Meddler);
    b.app_at(client, "tcp-client", SimTime::from_millis(5), || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5)
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_millis(100));
    assert_eq!(world.count_sockets(server, Listen), 16);
    assert_eq!(world.count_sockets(client, TimeWait), 1);
}

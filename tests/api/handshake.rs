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

/// Listening sockets are listed, crash and close like any socket, but only
/// the one a SYN comes for gets a smoltcp socket (and its buffers).
#[test]
fn listening_sockets_cost_nothing_until_a_syn_comes() {
    use simnet::{Action, App, AppContext, CloseReason, SocketEvent, TcpState};
    /// Listens on 81 with a backlog of 2, and stops at 30 ms.
    struct Briefly;
    impl App for Briefly {
        fn start(&mut self, cx: &mut AppContext<'_>) {
            cx.listen_with_backlog(81, 2).unwrap();
            cx.set_timer(simnet::SimDuration::from_millis(30));
        }
        fn on_timer(&mut self, cx: &mut AppContext<'_>, _timer: simnet::TimerId) {
            cx.unlisten(81);
        }
        fn on_socket(&mut self, _cx: &mut AppContext<'_>, _event: SocketEvent) {}
    }
    let (mut b, client, server) = pair(7, ten_ms());
    b.app(server, "tcp-echo", || TcpEcho::new(80).with_backlog(3));
    b.app(server, "briefly", || Briefly);
    b.app_at(client, "tcp-client", SimTime::from_millis(5), || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5)
            .close(simnet::apps::ClientClose::Never)
    });
    b.at(SimTime::from_millis(200), Action::Crash(server));
    let mut w = b.build().unwrap();
    w.run_until(SimTime::from_millis(100));

    // s0..s2 listened on 80, s3 and s4 on 81; the SYN took s0 and its
    // accept armed s5.
    let table = w.socket_table(server);
    let listening: Vec<(u64, u16, SimTime)> = table
        .iter()
        .filter(|r| r.state == Some(Listen))
        .map(|r| (r.id.0, r.local.port(), r.since))
        .collect();
    let accepted_at = SimTime::from_millis(35);
    assert_eq!(
        listening,
        [
            (1, 80, SimTime::ZERO),
            (2, 80, SimTime::ZERO),
            (5, 80, accepted_at)
        ]
    );
    assert!(
        table
            .iter()
            .all(|r| r.owner.is_some() && r.remote.is_some() == (r.id.0 == 0))
    );
    assert_eq!(w.count_sockets(server, Established), 1);
    assert_eq!(
        w.smoltcp_sockets(server),
        1,
        "only the connection has buffers"
    );

    w.run();
    let closes = |host, reason: Option<CloseReason>| -> Vec<u64> {
        w.trace()
            .records
            .iter()
            .filter_map(|r| match &r.event {
                TraceEvent::TcpState {
                    host: h,
                    socket,
                    from: TcpState::Listen,
                    to: TcpState::Closed,
                    reason: why,
                    ..
                } if *h == host && *why == reason => Some(socket.0),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        closes(server, None),
        [3, 4],
        "unlisten closes both, in order"
    );
    assert_eq!(closes(server, Some(CloseReason::HostCrashed)), [1, 2, 5]);
    assert_eq!(w.socket_table(server), []);
}

/// Switching Nagle off releases a segment it was holding back at the next
/// call on the socket, even a send of nothing: the host polls a socket
/// after any call that may have changed what it can send.
#[test]
fn turning_nagle_off_releases_the_held_segment_at_the_next_call() {
    use simnet::{App, AppContext, SocketEvent};
    struct Small;
    impl App for Small {
        fn start(&mut self, cx: &mut AppContext<'_>) {
            cx.connect("10.0.0.2:80".parse().unwrap()).unwrap();
        }
        fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
            if let SocketEvent::Connected(sid) = event {
                cx.send(sid, b"first").unwrap();
                // Nagle holds this one back: "first" is not acknowledged.
                cx.send(sid, b"second").unwrap();
                cx.set_nagle(sid, false).unwrap();
                assert_eq!(cx.send(sid, b""), Ok(0));
            }
        }
    }
    let (mut b, client, server) = pair(7, ten_ms());
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    b.app(client, "small", || Small);
    let mut w = b.build().unwrap();
    w.run_until(SimTime::from_millis(100));
    let data: Vec<(SimTime, u32)> = w
        .trace()
        .packets()
        .filter(|(_, from, p)| *from == client && p.tcp().unwrap().payload_len > 0)
        .map(|(t, _, p)| (t, p.tcp().unwrap().payload_len))
        .collect();
    let connected = SimTime::from_millis(20);
    assert_eq!(data, [(connected, 5), (connected, 6)]);
}

/// Two hosts connect to each other's bound ports at the same moment: the
/// SYNs cross, each side answers with SYN-ACK from SYN-RECEIVED (RFC 793's
/// simultaneous open), and one connection results. Each application is
/// told it is connected only once its socket is ESTABLISHED, so its first
/// `send()` works and the data flows both ways.
#[test]
fn simultaneous_open_makes_one_connection_and_data_flows() {
    let (mut b, a, z) = pair(7, ten_ms());
    b.app(a, "tcp-client", || {
        TcpClient::new("10.0.0.2:6000".parse().unwrap(), b"from a", 6).local_port(5000)
    });
    b.app(z, "tcp-client", || {
        TcpClient::new("10.0.0.1:5000".parse().unwrap(), b"from z", 6).local_port(6000)
    });
    let mut w = b.build().unwrap();
    w.run();

    for host in [a, z] {
        let p = path(w.trace(), host);
        assert_eq!(
            &p[..4],
            [Closed, SynSent, SynReceived, Established],
            "{p:?}"
        );
    }
    // SYN and SYN cross, then SYN-ACK and SYN-ACK: no third SYN, no RST.
    let flags: Vec<String> = w
        .trace()
        .packets()
        .map(|(_, _, p)| p.tcp().unwrap().flags.to_string())
        .collect();
    assert_eq!(&flags[..4], ["S", "S", "S.", "S."]);
    assert!(!flags.iter().any(|f| f.contains('R')), "{flags:?}");
    // Each side's request reached the other, and each got its 6 bytes back.
    let failed = w.trace().app_events("tcp.failed").count()
        + w.trace().app_events("tcp.connect-failed").count();
    assert_eq!(failed, 0);
    let replies: Vec<String> = w
        .trace()
        .app_events("tcp.reply")
        .map(|e| e.2.summary.to_string())
        .collect();
    assert_eq!(replies.len(), 2, "{replies:?}");
    // One connection, not one per side, both ends seen in it.
    let analysis = simnet::analysis::analyze(w.trace());
    let rows = &analysis.connections;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].client_host, rows[0].server_host),
        (Some(a), Some(z))
    );
    assert_eq!((rows[0].to_server.bytes, rows[0].to_client.bytes), (6, 6));
    insta::assert_snapshot!(text(&w));
}

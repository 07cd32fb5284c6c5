//! Ephemeral ports are allocated as Linux allocates them: only the 4-tuple
//! must be unique, so one local port carries a connection to each of several
//! destinations at once, while towards a single destination the range runs
//! out (ports stay taken through TIME-WAIT).

use simnet::apps::{TcpClient, TcpEcho};
use simnet::{
    HostConfig, HostId, LinkParams, SimDuration, SimTime, SocketCall, SocketError, TcpState,
    TraceEvent, World, WorldBuilder,
};
use std::collections::BTreeSet;
use std::net::SocketAddrV4;

/// A client with only `ports` ephemeral ports (from 50000), and `servers`
/// echo servers (10.0.0.2, 10.0.0.3, ...) on port 80. The client opens
/// `per_server` connections to each server, one after another; it closes
/// each first, so each port it used stays in TIME-WAIT for 10 s.
fn world(ports: u16, servers: u8, per_server: u64) -> (World, HostId) {
    let mut b = WorldBuilder::new(3);
    let few_ports = HostConfig {
        ephemeral_ports: (50000, 50000 + ports - 1),
        ..HostConfig::default()
    };
    let client = b.host_with("client", [10, 0, 0, 1].into(), few_ports);
    for i in 0..servers {
        let addr = [10, 0, 0, 2 + i];
        let server = b.host(&format!("server{i}"), addr.into());
        b.link(
            client,
            server,
            LinkParams::with_latency(SimDuration::from_millis(1)),
        );
        b.app(server, "tcp-echo", || TcpEcho::new(80));
        let remote = SocketAddrV4::new(addr.into(), 80);
        b.app(client, &format!("client{i}"), move || {
            TcpClient::new(remote, b"hello", 5).connections(per_server)
        });
    }
    let mut w = b.build().unwrap();
    // Every connection is over well within a second; TIME-WAIT lasts 10 s.
    w.run_until(SimTime::from_secs(1));
    (w, client)
}

/// The client's `connect()` calls: the 4-tuples it got and the errors.
fn connects(w: &World, client: HostId) -> (Vec<(u16, SocketAddrV4)>, Vec<SocketError>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for record in w.trace().records.iter() {
        match record.event {
            TraceEvent::SocketCall { host, ref call, .. } if host == client => match *call {
                SocketCall::Connect { remote, local_port } => ok.push((local_port, remote)),
                SocketCall::Failed {
                    call: "connect",
                    error,
                } => failed.push(error),
                _ => {}
            },
            _ => {}
        }
    }
    (ok, failed)
}

#[test]
fn a_local_port_is_shared_by_connections_to_different_destinations() {
    // Three ports, three servers, three connections to each: nine
    // connections, all in TIME-WAIT at once, on three local ports.
    let (w, client) = world(3, 3, 3);
    let (ok, failed) = connects(&w, client);
    assert_eq!(failed, [], "no connect may fail");
    assert_eq!(ok.len(), 9);
    let ports: BTreeSet<u16> = ok.iter().map(|(p, _)| *p).collect();
    assert_eq!(ports, BTreeSet::from([50000, 50001, 50002]));
    let tuples: BTreeSet<(u16, SocketAddrV4)> = ok.iter().copied().collect();
    assert_eq!(tuples.len(), 9, "every 4-tuple is unique: {ok:?}");
    assert_eq!(w.count_sockets(client, TcpState::TimeWait), 9);
}

#[test]
fn the_range_still_runs_out_towards_one_destination() {
    // Three ports, one server, four connections: the fourth finds every
    // port in TIME-WAIT towards that server.
    let (w, client) = world(3, 1, 4);
    let (ok, failed) = connects(&w, client);
    assert_eq!(ok.len(), 3);
    assert_eq!(failed, [SocketError::PortsExhausted(3)]);
    assert_eq!(w.count_sockets(client, TcpState::TimeWait), 3);
}

#[test]
fn a_listening_port_is_not_lent_to_outgoing_connections() {
    // The client also listens on 50000, inside its own ephemeral range:
    // outgoing connections skip that port whatever their destination.
    let mut b = WorldBuilder::new(3);
    let few_ports = HostConfig {
        ephemeral_ports: (50000, 50001),
        ..HostConfig::default()
    };
    let client = b.host_with("client", [10, 0, 0, 1].into(), few_ports);
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(1)),
    );
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    b.app(client, "listener", || TcpEcho::new(50000));
    b.app(client, "tcp-client", || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5).connections(2)
    });
    let mut w = b.build().unwrap();
    w.run_until(SimTime::from_secs(1));
    let (ok, failed) = connects(&w, client);
    assert_eq!(ok, [(50001, "10.0.0.2:80".parse().unwrap())]);
    assert_eq!(failed, [SocketError::PortsExhausted(2)]);
}

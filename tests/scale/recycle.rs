//! Recycled smoltcp sockets against new ones.
//!
//! A host reuses the sockets of finished connections for new ones
//! (`HostConfig::recycle_sockets`); smoltcp's reset leaves some of a
//! socket's bookkeeping behind (see `Host::new_tcp_socket`). Each world here
//! runs with recycling off and on and the runs must agree (`compare.rs` says
//! on what): every scenario, and connections that end in every way a
//! connection can end, each followed by more connections on the sockets it
//! left.

use crate::compare::{self, Switch};
use simnet::apps::{ClientClose, Reply, ServerClose, TcpClient, TcpServer};
use simnet::{HostConfig, LinkParams, Probability, SimDuration, TcpConfig, World, WorldBuilder};
use std::net::SocketAddrV4;

fn both_ways(name: &str, make: impl Fn() -> World) -> compare::Run {
    compare::both_ways(Switch::SocketRecycling, name, make)
}

#[test]
fn every_scenario_is_identical_with_and_without_recycled_sockets() {
    compare::every_scenario_both_ways(
        Switch::SocketRecycling,
        &[
            "scenarios/http/proxy-time-wait.toml",
            "scenarios/http/keep-alive-vs-close.toml",
        ],
    );
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

fn server(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(SERVER.into(), port)
}

/// Small buffers make zero windows, and a short user timeout makes
/// connections die mid-transfer, so sockets are recycled from every state.
fn host_config() -> HostConfig {
    HostConfig {
        tcp: TcpConfig {
            user_timeout: Some(SimDuration::from_secs(3)),
            ..TcpConfig::with_buffers(4096)
        },
        ..HostConfig::default()
    }
}

/// Clients ending their connections in each of their ways, against servers
/// ending theirs in each of theirs, over a link that loses, duplicates,
/// reorders and delays: retransmissions, fast retransmits, resets,
/// timeouts and TIME-WAIT all happen on sockets that go on to be reused.
fn hostile_world(seed: u64) -> World {
    let mut b = WorldBuilder::new(seed);
    let c = b.host_with("client", CLIENT.into(), host_config());
    let s = b.host_with("server", SERVER.into(), host_config());
    b.link(
        c,
        s,
        LinkParams {
            latency: SimDuration::from_millis(5),
            jitter: SimDuration::from_millis(3),
            loss: Probability::from_percent(8.0),
            duplicate: Probability::from_percent(5.0),
            reorder: Probability::from_percent(10.0),
            reorder_delay: SimDuration::from_millis(20),
            ..LinkParams::default()
        },
    );
    let servers = [
        (80, Reply::Echo, ServerClose::OnEof),
        (
            81,
            Reply::Fixed {
                after_bytes: 3000,
                bytes: 20_000,
            },
            ServerClose::AfterReply,
        ),
        (
            82,
            Reply::AfterEof { bytes: 6000 },
            ServerClose::AbortAfterReply,
        ),
    ];
    for (port, reply, close) in servers {
        b.app(s, &format!("server-{port}"), move || {
            TcpServer::new(port, reply.clone(), close)
        });
    }
    let clients = [
        (80, 9000, 9000, ClientClose::AfterReply),
        (80, 500, 500, ClientClose::AbortAfterReply),
        (81, 3000, 20_000, ClientClose::OnEof),
        (82, 2000, 6000, ClientClose::ShutdownAfterSend),
        // Nobody listens on 83: every connection is refused.
        (83, 10, 10, ClientClose::AfterReply),
    ];
    for (i, (port, send, expect, close)) in clients.into_iter().enumerate() {
        b.app(c, &format!("client-{i}"), move || {
            TcpClient::new(server(port), &vec![b'a' + i as u8; send], expect)
                .close(close)
                .connections(12)
        });
    }
    b.build().unwrap()
}

#[test]
fn connections_ending_every_way_over_a_hostile_link() {
    let mut recycled = 0;
    for seed in 1..=6 {
        recycled += both_ways(&format!("hostile link, seed {seed}"), || {
            hostile_world(seed)
        })
        .used;
    }
    assert!(recycled > 100, "only {recycled} sockets were recycled");
}

//! The tally that spares `slot` and `finished` a scan.

use super::*;
use crate::apps::{HttpServer, Route};
use crate::proto::ServerConfig;
use simnet_core::{LinkParams, WorldBuilder};
use std::net::Ipv4Addr;

/// Several pipelined connections that the server closes every three
/// requests: connections open, fill, refuse and end all the time. The
/// debug assertions in `slot` and `finished` compare the tally with a
/// scan on every call; every request is answered, and the tally ends
/// empty.
#[test]
fn the_tally_follows_connections_that_fill_refuse_and_close() {
    let mut b = WorldBuilder::new(1);
    let c = b.host("client", [10, 0, 0, 1].into());
    let s = b.host("server", [10, 0, 0, 2].into());
    b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(5)));
    b.app(s, "http-server", || {
        let route = Route::ok("/", 100);
        let config = ServerConfig {
            max_requests: Some(3),
            ..ServerConfig::default()
        };
        HttpServer::new(80, config, vec![route])
    });
    let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
    let id = b.app(c, "client", move || {
        HttpClient::new(remote, "server", "/", 60)
            .connections(5)
            .pipeline(2)
            .retry(true)
    });
    let mut world = b.build().expect("a valid world");
    world.run_until(SimTime::from_secs(10));
    let client = world.app::<HttpClient>(id).expect("the client");
    assert_eq!(client.responses.len(), 60);
    assert_eq!(client.failures, 0);
    assert_eq!(client.tally.load, 0);
    assert!(client.conns.is_empty(), "closed when done");
    assert!(client.tally.live.is_empty());
    assert!(client.tally.open.is_empty());
}

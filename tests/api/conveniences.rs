//! The conveniences for writing applications: connecting by host name,
//! `WorldBuilder::addr`, and the application random stream without `rand`.

use super::{pair, ten_ms};
use simnet::apps::TcpEcho;
use simnet::apps::stream::{Connections, read_all};
use simnet::{App, AppContext, SimDuration, SocketError, SocketEvent, SocketId, TcpState, TimerId};
use std::net::SocketAddrV4;

/// Connects to a host by name and records what happened.
struct ByName {
    host: &'static str,
    result: Option<Result<(), SocketError>>,
    connected: bool,
    draws: Vec<u64>,
}

impl ByName {
    fn new(host: &'static str) -> ByName {
        ByName {
            host,
            result: None,
            connected: false,
            draws: Vec::new(),
        }
    }
}

impl App for ByName {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.result = Some(cx.connect_to(self.host, 80).map(|_| ()));
        // The application's stream needs no `rand` import.
        self.draws = vec![
            cx.rng().gen_range(10..20u64),
            cx.rng().next_u64(),
            u64::from(cx.rng().gen_bool(0.5)),
        ];
        let mut buf = [0u8; 4];
        cx.rng().fill(&mut buf);
        self.draws.push(u64::from(u32::from_le_bytes(buf)));
    }

    fn on_socket(&mut self, _cx: &mut AppContext<'_>, event: SocketEvent) {
        self.connected |= matches!(event, SocketEvent::Connected(_));
    }
}

#[test]
fn connect_to_reaches_a_host_by_its_name() {
    let (mut b, client, server) = pair(1, ten_ms());
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    let app = b.app(client, "by-name", || ByName::new("server"));
    let mut world = b.build().unwrap();
    world.run_until(simnet::SimTime::from_millis(30));
    let by_name = world.app::<ByName>(app).unwrap();
    assert_eq!(by_name.result, Some(Ok(())));
    assert!(by_name.connected);
    assert_eq!(
        world.count_sockets(server, TcpState::Established),
        1,
        "the connection reached the host called `server`"
    );
}

#[test]
fn connect_to_an_unknown_name_fails_without_opening_a_socket() {
    let (mut b, client, server) = pair(1, ten_ms());
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    let app = b.app(client, "by-name", || ByName::new("sever"));
    let mut world = b.build().unwrap();
    world.run();
    let by_name = world.app::<ByName>(app).unwrap();
    assert_eq!(by_name.result, Some(Err(SocketError::UnknownHost)));
    assert!(!by_name.connected);
    assert!(world.socket_table(client).is_empty());
}

#[test]
fn builder_addr_is_the_declared_address_and_port() {
    let (b, client, server) = pair(1, ten_ms());
    assert_eq!(
        b.addr(server, 80),
        "10.0.0.2:80".parse::<SocketAddrV4>().unwrap()
    );
    assert_eq!(
        b.addr(client, 49152),
        "10.0.0.1:49152".parse::<SocketAddrV4>().unwrap()
    );
}

#[test]
fn the_app_stream_depends_on_the_seed_only() {
    let draws = |seed| {
        let (mut b, client, _) = pair(seed, ten_ms());
        let app = b.app(client, "by-name", || ByName::new("server"));
        let mut world = b.build().unwrap();
        world.run_until(simnet::SimTime::from_millis(1));
        world.app::<ByName>(app).unwrap().draws.clone()
    };
    assert_eq!(draws(3), draws(3));
    assert_ne!(draws(3), draws(4));
    assert!((10..20).contains(&draws(3)[0]));
}

#[test]
fn the_facade_reaches_the_http_and_websocket_applications() {
    // One dependency on `simnet` is enough: no path dependency on the
    // internal crates is needed to name their applications.
    use simnet::http::apps::{HttpClient, HttpServer};
    use simnet::ws::apps::{WsClient, WsServer};
    let names = [
        std::any::type_name::<HttpServer>(),
        std::any::type_name::<HttpClient>(),
        std::any::type_name::<WsServer>(),
        std::any::type_name::<WsClient>(),
    ];
    assert!(names.iter().all(|n| n.starts_with("simnet_")), "{names:?}");
    let registry = simnet::registry();
    for kind in [
        "http-server",
        "http-client",
        "ws-server",
        "ws-client",
        "tcp-echo",
    ] {
        assert!(registry.get(kind).is_some(), "{kind}");
    }
}

/// Sends five bytes, then closes (or resets, with `abort`).
struct Hello {
    to: SocketAddrV4,
    abort: bool,
    socket: Option<SocketId>,
}

impl App for Hello {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        let _ = cx.connect(self.to);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        if let SocketEvent::Connected(s) = event {
            let _ = cx.send(s, b"hello");
            self.socket = Some(s);
            // Held open a while, so that the four connections overlap.
            cx.set_timer(SimDuration::from_millis(50));
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, _timer: TimerId) {
        if let Some(s) = self.socket.take() {
            let _ = if self.abort { cx.abort(s) } else { cx.close(s) };
        }
    }
}

/// Counts the bytes of each connection with `Connections`.
#[derive(Default)]
struct Counting {
    conns: Connections<usize>,
    finished: Vec<usize>,
    most_open: usize,
}

impl App for Counting {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen(80).unwrap();
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        self.most_open = self.most_open.max(self.conns.len());
        let Some((s, bytes)) = self.conns.on_event(cx, event) else {
            self.most_open = self.most_open.max(self.conns.len());
            return;
        };
        let input = read_all(cx, s);
        *bytes += input.data.len();
        if input.eof {
            let total = *bytes;
            let _ = cx.close(s);
            self.conns.remove(s);
            self.finished.push(total);
        }
    }
}

#[test]
fn connections_accepts_every_waiting_connection_and_releases_reset_ones() {
    let (mut b, client, server) = pair(1, ten_ms());
    let counting = b.app(server, "counting", Counting::default);
    let to = b.addr(server, 80);
    for abort in [false, false, false, true] {
        b.app(client, "hello", move || Hello {
            to,
            abort,
            socket: None,
        });
    }
    let mut world = b.build().unwrap();
    world.run();
    let server_app = world.app::<Counting>(counting).unwrap();
    // All four were accepted and held at once.
    assert_eq!(server_app.most_open, 4);
    assert_eq!(server_app.finished, [5, 5, 5]);
    // The reset connection was closed and forgotten, not leaked.
    assert!(server_app.conns.is_empty());
    let owned = world
        .socket_table(server)
        .iter()
        .filter(|r| r.owner.is_some() && r.state != Some(TcpState::Listen))
        .count();
    assert_eq!(owned, 0, "{:?}", world.socket_table(server));
}

//! The reverse proxy: the nginx-in-front-of-an-application-server setup.
//!
//! It accepts client connections and forwards each request to one upstream
//! server, or to several in turn (round robin, as nginx does by default). Without upstream keep-alive it opens a new upstream connection
//! per request and closes it itself as soon as the response is complete —
//! so the proxy, being the client towards upstream and the active closer,
//! accumulates TIME-WAIT sockets (and can run out of ephemeral ports). With
//! upstream keep-alive, idle upstream connections wait in a pool of bounded
//! size and are reused.
//!
//! Hop-by-hop headers (`Connection`, `Keep-Alive`) are not forwarded, in
//! either direction; with `strip_upgrade`, neither is `Upgrade`, the way a
//! proxy configured without WebSocket support behaves.
//!
//! With [`HttpProxy::tls`] the proxy terminates TLS, as nginx in front of
//! an application server does: clients speak HTTPS to it (a TLS session
//! on each accepted socket, with a certificate for the proxy's name), and
//! it forwards the requests upstream in plain HTTP.

use super::{HttpServerSide, ServerTls, Written, flush, next_server_event, read_all};
use crate::proto::{
    ClientConfig, ClientConn, ClientEvent, Request, RequestId, Response, ServerConfig, ServerEvent,
};
use simnet_core::{App, AppContext, AppEvent, SocketEvent, SocketId, TimerId};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;

/// A reverse proxy.
#[derive(Clone, Debug)]
pub struct HttpProxy {
    port: u16,
    /// The upstream servers, never empty; new connections go to each in turn.
    servers: Vec<SocketAddrV4>,
    /// Index of the upstream server the next new connection goes to.
    next_upstream: usize,
    keep_alive: bool,
    pool_size: usize,
    strip_upgrade: bool,
    config: ServerConfig,
    /// TLS on the clients' side (terminated here), if any.
    tls: Option<ServerTls>,
    clients: BTreeMap<SocketId, HttpServerSide>,
    upstreams: BTreeMap<SocketId, Upstream>,
    /// Idle pooled upstream connections, most recently used last. A
    /// connection closed while idle is not searched for and removed: its
    /// entry goes stale (its socket is no longer in `upstreams`, and socket
    /// ids are never reused) and is skipped when popped, or dropped when
    /// stale entries outnumber live ones, so that a close costs O(1)
    /// however large the pool.
    idle: Vec<SocketId>,
    /// How many entries of `idle` are stale.
    idle_stale: usize,
    /// Requests waiting for an upstream connection.
    waiting: VecDeque<(SocketId, RequestId, Request)>,
    timers: BTreeMap<TimerId, SocketId>,
    /// Requests forwarded.
    pub forwarded: u64,
    /// Upstream connections opened.
    pub upstream_connections: u64,
}

#[derive(Clone, Debug)]
struct Upstream {
    proto: ClientConn,
    out: Vec<u8>,
    connected: bool,
    /// The client request it is carrying.
    carrying: Option<(SocketId, RequestId)>,
    /// A request to send once connected.
    queued: Option<Request>,
    eof: bool,
    /// How many times it is in the idle pool (see `HttpProxy::idle`).
    idle_entries: usize,
}

const HOP_BY_HOP: [&str; 2] = ["connection", "keep-alive"];

impl HttpProxy {
    /// A proxy listening on `port` that forwards to `upstream`.
    pub fn new(port: u16, upstream: SocketAddrV4, config: ServerConfig) -> HttpProxy {
        HttpProxy {
            port,
            servers: vec![upstream],
            next_upstream: 0,
            keep_alive: false,
            pool_size: usize::MAX,
            strip_upgrade: false,
            config,
            tls: None,
            clients: BTreeMap::new(),
            upstreams: BTreeMap::new(),
            idle: Vec::new(),
            idle_stale: 0,
            waiting: VecDeque::new(),
            timers: BTreeMap::new(),
            forwarded: 0,
            upstream_connections: 0,
        }
    }

    /// Spreads new upstream connections over `upstreams` in turn (round
    /// robin), instead of the one upstream given to [`HttpProxy::new`]. An
    /// empty list keeps that one.
    pub fn upstreams(mut self, upstreams: Vec<SocketAddrV4>) -> HttpProxy {
        if !upstreams.is_empty() {
            self.servers = upstreams;
            self.next_upstream = 0;
        }
        self
    }

    /// Keeps up to `pool_size` upstream connections open and reuses them.
    pub fn upstream_keep_alive(mut self, pool_size: usize) -> HttpProxy {
        self.keep_alive = true;
        self.pool_size = pool_size.max(1);
        self
    }

    /// Terminates TLS: every accepted connection speaks `tls` (HTTPS);
    /// upstream connections stay plain HTTP.
    pub fn tls(mut self, tls: ServerTls) -> HttpProxy {
        self.tls = Some(tls);
        self
    }

    /// Removes `Upgrade` from forwarded requests (no WebSocket through this proxy).
    pub fn strip_upgrade(mut self, strip: bool) -> HttpProxy {
        self.strip_upgrade = strip;
        self
    }

    fn drive_client(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        while let Some(event) = next_server_event(&mut self.clients, sid, |c| c) {
            match event {
                ServerEvent::Request { id, request } => self.forward(cx, sid, id, request),
                ServerEvent::UpgradeRequested { id, mut request } => {
                    if self.strip_upgrade {
                        request
                            .headers
                            .retain(|(n, _)| !n.eq_ignore_ascii_case("upgrade"));
                        cx.emit(
                            AppEvent::new(
                                "http.proxy-strip",
                                "Upgrade header removed: forwarding as a plain request",
                            )
                            .on(sid),
                        );
                        self.forward(cx, sid, id, request);
                    } else {
                        let r = Response::new(501)
                            .with_body(b"this proxy does not tunnel upgrades\n".to_vec());
                        if let Some(c) = self.clients.get_mut(&sid) {
                            let _ = c.proto.send_response(cx.now(), id, r);
                        }
                    }
                }
                ServerEvent::BadRequest { status, reason } => {
                    cx.emit(
                        AppEvent::new(
                            "http.bad-request",
                            format!("bad request: {status} ({reason})"),
                        )
                        .on(sid),
                    );
                }
                ServerEvent::IdleTimeout => {
                    cx.emit(
                        AppEvent::new(
                            "http.idle-timeout",
                            "idle client connection: the proxy closes it",
                        )
                        .on(sid),
                    );
                }
                ServerEvent::PeerClosed => {}
            }
        }
        let Some(c) = self.clients.get_mut(&sid) else {
            return;
        };
        // A socket that cannot take the bytes is dropped when its `Closed`
        // arrives, not here.
        c.send_pending(cx, sid);
        let timers = &mut self.timers;
        if c.finish_or_arm(cx, |t| {
            timers.insert(t, sid);
        }) == Written::Finished
        {
            self.clients.remove(&sid);
            let _ = cx.close(sid);
        }
    }

    fn forward(
        &mut self,
        cx: &mut AppContext<'_>,
        client: SocketId,
        id: RequestId,
        mut request: Request,
    ) {
        request
            .headers
            .retain(|(n, _)| !HOP_BY_HOP.contains(&n.to_ascii_lowercase().as_str()));
        if self.keep_alive
            && let Some(up) = self.pop_idle()
        {
            cx.emit(
                AppEvent::new(
                    "http.proxy-forward",
                    format!("{} -> upstream on a pooled connection", request.summary()),
                )
                .on(up)
                .with("pooled", true),
            );
            self.send_upstream(cx, up, client, id, request);
            return;
        }
        let busy = self.upstreams.len();
        if self.keep_alive && busy >= self.pool_size {
            self.waiting.push_back((client, id, request));
            return;
        }
        let upstream = self.servers[self.next_upstream % self.servers.len()];
        self.next_upstream = (self.next_upstream + 1) % self.servers.len();
        match cx.connect(upstream) {
            Ok(up) => {
                self.upstream_connections += 1;
                cx.emit(
                    AppEvent::new(
                        "http.proxy-forward",
                        format!("{} -> upstream on a new connection", request.summary()),
                    )
                    .on(up)
                    .with("pooled", false),
                );
                self.upstreams.insert(
                    up,
                    Upstream {
                        proto: ClientConn::new(ClientConfig::default()),
                        out: Vec::new(),
                        connected: false,
                        carrying: Some((client, id)),
                        queued: Some(request),
                        eof: false,
                        idle_entries: 0,
                    },
                );
            }
            Err(e) => {
                cx.emit(
                    AppEvent::new(
                        "http.proxy-error",
                        format!("cannot reach upstream: {e}; answering 502"),
                    )
                    .on(client)
                    .with("status", 502u64)
                    // Why connect() failed, e.g. that no ephemeral port was
                    // free, so a scenario can tell exhaustion from an
                    // unreachable upstream.
                    .with("reason", e.to_string()),
                );
                self.answer(
                    cx,
                    client,
                    id,
                    Response::new(502).with_body(format!("bad gateway: {e}\n").into_bytes()),
                );
            }
        }
    }

    fn send_upstream(
        &mut self,
        cx: &mut AppContext<'_>,
        up: SocketId,
        client: SocketId,
        id: RequestId,
        request: Request,
    ) {
        let Some(u) = self.upstreams.get_mut(&up) else {
            return;
        };
        u.carrying = Some((client, id));
        match u.proto.send_request(cx.now(), request) {
            Ok(_) => {
                self.forwarded += 1;
                u.proto.poll_transmit(&mut u.out);
                flush(cx, up, &mut u.out);
            }
            Err(e) => {
                u.carrying = None;
                self.answer(
                    cx,
                    client,
                    id,
                    Response::new(502).with_body(format!("bad gateway: {e}\n").into_bytes()),
                );
            }
        }
    }

    fn answer(
        &mut self,
        cx: &mut AppContext<'_>,
        client: SocketId,
        id: RequestId,
        mut response: Response,
    ) {
        response
            .headers
            .retain(|(n, _)| !HOP_BY_HOP.contains(&n.to_ascii_lowercase().as_str()));
        if let Some(c) = self.clients.get_mut(&client)
            && c.proto.send_response(cx.now(), id, response).is_ok()
        {
            self.drive_client(cx, client);
        }
    }

    fn read_upstream(&mut self, cx: &mut AppContext<'_>, up: SocketId) {
        let Some(u) = self.upstreams.get_mut(&up) else {
            return;
        };
        let input = read_all(cx, up);
        if !input.data.is_empty() {
            u.proto.handle_input(cx.now(), &input.data);
        }
        if input.eof || input.broken {
            u.eof = true;
            u.proto.handle_eof(cx.now());
        }
        let mut done = false;
        // What was wrong with the upstream's answer, if it was malformed:
        // the 502 says so rather than that the upstream simply closed.
        let mut malformed: Option<String> = None;
        while let Some(event) = self
            .upstreams
            .get_mut(&up)
            .and_then(|u| u.proto.poll_event())
        {
            match event {
                ClientEvent::Response { response, .. } => {
                    if let Some((client, id)) =
                        self.upstreams.get_mut(&up).and_then(|u| u.carrying.take())
                    {
                        self.answer(cx, client, id, response);
                    }
                    done = true;
                }
                ClientEvent::Error { reason } => malformed = Some(reason),
                ClientEvent::ConnectionClosed { unanswered } if !unanswered.is_empty() => {
                    if let Some((client, id)) =
                        self.upstreams.get_mut(&up).and_then(|u| u.carrying.take())
                    {
                        let why = match &malformed {
                            Some(reason) => format!("malformed upstream response: {reason}"),
                            None => "upstream closed before answering".to_string(),
                        };
                        cx.emit(
                            AppEvent::new("http.proxy-error", format!("{why}: 502"))
                                .on(client)
                                .with("reason", why.clone()),
                        );
                        let body = match &malformed {
                            Some(_) => format!("{why}\n").into_bytes(),
                            None => b"upstream closed\n".to_vec(),
                        };
                        self.answer(cx, client, id, Response::new(502).with_body(body));
                    }
                }
                _ => {}
            }
        }
        let Some(u) = self.upstreams.get(&up) else {
            return;
        };
        let reusable = self.keep_alive && !u.eof && u.proto.keep_alive().reusable;
        if u.eof || (done && !reusable) {
            // Without upstream keep-alive the proxy closes first, as nginx
            // does once it has the whole response: the proxy ends in TIME-WAIT.
            self.remove_upstream(up);
            let _ = cx.close(up);
        } else if done {
            if let Some(u) = self.upstreams.get_mut(&up) {
                u.idle_entries += 1;
            }
            self.idle.push(up);
        }
        self.serve_waiting(cx);
    }

    /// The most recently used idle upstream connection, taken out of the
    /// pool; stale entries on the way are dropped.
    fn pop_idle(&mut self) -> Option<SocketId> {
        while let Some(up) = self.idle.pop() {
            match self.upstreams.get_mut(&up) {
                Some(u) => {
                    u.idle_entries -= 1;
                    return Some(up);
                }
                None => self.idle_stale -= 1,
            }
        }
        None
    }

    /// Forgets upstream connection `up`; its idle entries go stale, and are
    /// dropped all at once when they outnumber the live ones.
    fn remove_upstream(&mut self, up: SocketId) -> Option<Upstream> {
        let u = self.upstreams.remove(&up)?;
        self.idle_stale += u.idle_entries;
        if self.idle_stale > 0 && self.idle_stale * 2 > self.idle.len() {
            let upstreams = &self.upstreams;
            self.idle.retain(|s| upstreams.contains_key(s));
            self.idle_stale = 0;
        }
        Some(u)
    }

    fn serve_waiting(&mut self, cx: &mut AppContext<'_>) {
        while let Some((client, id, request)) = self.waiting.pop_front() {
            let before = self.waiting.len();
            self.forward(cx, client, id, request);
            if self.waiting.len() > before {
                return; // still no upstream connection free
            }
        }
    }
}

impl App for HttpProxy {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen_or_report(self.port, None, "http.listen-failed");
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Incoming { port } => {
                while let Some(sid) = cx.accept(port) {
                    if let Some(tls) = &mut self.tls {
                        tls.install(cx, sid);
                    }
                    self.clients
                        .insert(sid, HttpServerSide::new(self.config, cx.now()));
                    self.on_socket(cx, SocketEvent::Readable(sid));
                }
            }
            SocketEvent::Connected(up) => {
                if let Some(u) = self.upstreams.get_mut(&up) {
                    u.connected = true;
                    if let (Some(request), Some((client, id))) = (u.queued.take(), u.carrying) {
                        self.send_upstream(cx, up, client, id, request);
                    }
                }
            }
            SocketEvent::Readable(sid) => {
                if self.upstreams.contains_key(&sid) {
                    self.read_upstream(cx, sid);
                } else if let Some(c) = self.clients.get_mut(&sid) {
                    let input = read_all(cx, sid);
                    if !input.data.is_empty() {
                        c.proto.handle_input(cx.now(), &input.data);
                    }
                    if input.eof || input.broken {
                        c.proto.handle_eof(cx.now());
                    }
                    self.drive_client(cx, sid);
                }
            }
            SocketEvent::Writable(sid) => {
                if let Some(u) = self.upstreams.get_mut(&sid) {
                    flush(cx, sid, &mut u.out);
                } else if self.clients.contains_key(&sid) {
                    self.drive_client(cx, sid);
                }
            }
            SocketEvent::ConnectFailed(sid, reason) | SocketEvent::Closed(sid, reason) => {
                if let Some(mut u) = self.remove_upstream(sid) {
                    if let Some((client, id)) = u.carrying.take() {
                        cx.emit(
                            AppEvent::new(
                                "http.proxy-error",
                                format!("upstream connection {reason}: 502"),
                            )
                            .on(client)
                            .with("reason", reason.to_string()),
                        );
                        self.answer(
                            cx,
                            client,
                            id,
                            Response::new(502)
                                .with_body(format!("upstream {reason}\n").into_bytes()),
                        );
                    }
                } else {
                    self.clients.remove(&sid);
                }
                let _ = cx.close(sid);
                self.serve_waiting(cx);
            }
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if let Some(sid) = self.timers.remove(&timer)
            && let Some(c) = self.clients.get_mut(&sid)
        {
            c.on_timeout(cx.now());
            self.drive_client(cx, sid);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The idle pool when pooled upstream connections close under it.

    use super::*;
    use crate::apps::{HttpClient, HttpServer, Route};
    use simnet_core::{LinkParams, SimDuration, SimTime, WorldBuilder};
    use std::net::Ipv4Addr;

    /// TLS terminated at the proxy: the client's requests cross the first
    /// link only as TLS records and the second in plain HTTP; the server
    /// never sees TLS; both requests share one TLS session.
    #[test]
    fn tls_ends_at_the_proxy_and_upstream_is_plain() {
        use crate::apps::{ClientTls, ServerTls};
        use simnet_core::TraceEvent;
        use simnet_tls::TlsVersion;
        let mut b = WorldBuilder::new(1);
        let c = b.host("client", [10, 0, 0, 1].into());
        let p = b.host("proxy", [10, 0, 0, 2].into());
        let s = b.host("server", [10, 0, 0, 3].into());
        let ms = SimDuration::from_millis;
        b.link(c, p, LinkParams::with_latency(ms(10)));
        b.link(p, s, LinkParams::with_latency(ms(1)));
        b.app(s, "http-server", move || {
            HttpServer::new(8080, ServerConfig::default(), vec![Route::ok("/", 10)])
        });
        let upstream = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 8080);
        let proxy = b.app(p, "http-proxy", move || {
            HttpProxy::new(443, upstream, ServerConfig::default())
                .tls(ServerTls::new(TlsVersion::Tls13, "proxy"))
        });
        let front = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 443);
        let client = b.app(c, "client", move || {
            HttpClient::new(front, "proxy", "/", 2).tls(ClientTls::new(TlsVersion::Tls13, "proxy"))
        });
        let mut world = b.build().expect("a valid world");
        world.run_until(SimTime::from_secs(2));
        let responses = &world
            .app::<HttpClient>(client)
            .expect("the client")
            .responses;
        assert_eq!(responses.len(), 2);
        assert!(responses.iter().all(|r| r.status == 200));
        assert_eq!(
            world.app::<HttpProxy>(proxy).expect("the proxy").forwarded,
            2
        );
        let trace = world.trace();
        let (mut front_plain, mut back_plain, mut front_packets) = (0, 0, 0);
        for r in &trace.records {
            if let TraceEvent::PacketSent {
                from, to, bytes, ..
            } = &r.event
            {
                let plain = bytes.windows(14).any(|w| w == b"GET / HTTP/1.1");
                let hosts = [Some(*from), *to];
                if hosts.contains(&Some(c)) {
                    front_packets += 1;
                    front_plain += usize::from(plain);
                } else if hosts.contains(&Some(s)) {
                    back_plain += usize::from(plain);
                }
            }
        }
        assert!(front_packets > 10);
        assert_eq!(
            front_plain, 0,
            "no request crosses the first link in the clear"
        );
        assert_eq!(back_plain, 2, "both requests cross the second in the clear");
        let tls_on = |host| {
            trace
                .records
                .iter()
                .filter(|r| {
                    matches!(&r.event, TraceEvent::App { host: h, event, .. }
                        if *h == host && event.kind == "tls.handshake")
                })
                .count()
        };
        assert_eq!((tls_on(c), tls_on(p), tls_on(s)), (1, 1, 0));
    }

    /// The upstream server closes idle keep-alive connections after 1 s,
    /// and the clients ask every 2 s: every pooled connection is closed
    /// while idle, leaving a stale pool entry. No request is put on a
    /// closed connection, and the stale entries do not pile up.
    #[test]
    fn upstreams_closed_while_idle_are_never_reused_and_do_not_pile_up() {
        let mut b = WorldBuilder::new(1);
        let c = b.host("client", [10, 0, 0, 1].into());
        let p = b.host("proxy", [10, 0, 0, 2].into());
        let s = b.host("server", [10, 0, 0, 3].into());
        let ms = SimDuration::from_millis;
        b.link(c, p, LinkParams::with_latency(ms(5)));
        b.link(p, s, LinkParams::with_latency(ms(1)));
        b.app(s, "http-server", move || {
            let route = Route::ok("/", 10);
            let config = ServerConfig {
                idle_timeout: Some(SimDuration::from_secs(1)),
                ..ServerConfig::default()
            };
            HttpServer::new(8080, config, vec![route])
        });
        let upstream = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 8080);
        let proxy = b.app(p, "http-proxy", move || {
            HttpProxy::new(80, upstream, ServerConfig::default()).upstream_keep_alive(8)
        });
        let front = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let clients: Vec<_> = (0..4)
            .map(|_| {
                b.app(c, "client", move || {
                    HttpClient::new(front, "proxy", "/", 5).interval(SimDuration::from_secs(2))
                })
            })
            .collect();
        let mut world = b.build().expect("a valid world");
        world.run_until(SimTime::from_secs(12));
        for id in clients {
            let client = world.app::<HttpClient>(id).expect("a client");
            assert_eq!(client.responses.len(), 5);
            assert!(client.responses.iter().all(|r| r.status == 200));
        }
        let proxy = world.app::<HttpProxy>(proxy).expect("the proxy");
        assert_eq!(proxy.forwarded, 20);
        // Stale entries are at most as many as live ones.
        assert!(proxy.idle_stale * 2 <= proxy.idle.len().max(1));
        assert!(proxy.idle.len() <= 8);
    }
}

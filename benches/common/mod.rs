//! What the benches share: the workload constants, the engine's
//! short-connection world, the raw two-interface smoltcp loop every engine
//! figure is compared with, and criterion helpers (the filter check and the
//! untimed check run printed before each bench).
//!
//! Each bench binary includes this module with `mod common;` and uses only
//! part of it.

#![allow(dead_code, reason = "each bench binary uses only part of this module")]

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use simnet::apps::{BulkSender, Reply, ServerClose, Sink, TcpClient, TcpServer};
use simnet::{
    AppId, Capture, EndReason, HostConfig, LinkParams, SimDuration, TcpConfig, TraceEvent, World,
    WorldBuilder,
};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Whether to run the small sizes: criterion only tests that the benches
/// run (it does so when given `--test`, or when started without `--bench`,
/// as `cargo test --benches` does), or `SIMNET_BENCH_QUICK` is set.
pub fn quick_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let test_mode = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    let quick_env = std::env::var("SIMNET_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    test_mode || quick_env
}

/// One-way latency of the link in every bench.
pub const LATENCY_MS: u64 = 1;
/// Receive and send buffer of each bulk socket, in both variants. The link
/// has no bandwidth limit, so this window (a common socket buffer size) is
/// all that bounds how much is in flight per round trip.
pub const BULK_BUFFER_BYTES: usize = 256 * 1024;
/// Bytes each short connection sends up, and the reply it gets back.
pub const SHORT_MESSAGE_BYTES: usize = 100;
/// The server's port.
pub const PORT: u16 = 80;
pub const CLIENT_ADDR: [u8; 4] = [10, 0, 0, 1];
pub const SERVER_ADDR: [u8; 4] = [10, 0, 0, 2];

pub fn server_socket_addr() -> std::net::SocketAddrV4 {
    std::net::SocketAddrV4::new(SERVER_ADDR.into(), PORT)
}

pub fn link() -> LinkParams {
    LinkParams::with_latency(SimDuration::from_millis(LATENCY_MS))
}

/// Packets the engine sent, counted from its trace.
pub fn engine_packets(world: &World) -> u64 {
    world
        .trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .count() as u64
}

/// What one run did, for the summary line printed before each bench.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    pub packets: u64,
    /// Simulated time at the end of the run, in microseconds.
    pub simulated_us: u64,
    /// Most sockets one side held at once (raw loops only).
    pub peak_sockets: usize,
}

pub fn engine_short_world(connections: u64) -> (World, AppId, AppId) {
    engine_short_world_with(connections, TcpConfig::default().rx_buffer_bytes)
}

/// The bulk world: `BulkSender` sends `bytes` to a `Sink` over the bench
/// link, both hosts with the engine's TCP defaults (CUBIC, Nagle on, 10 ms
/// delayed ACK) and the bulk buffers (`raw::socket` mirrors these settings),
/// the trace keeping `capture` of each packet. Returns the sink's id.
pub fn engine_bulk_world(bytes: u64, capture: Capture) -> (World, AppId) {
    let config = HostConfig {
        tcp: TcpConfig::with_buffers(BULK_BUFFER_BYTES),
        ..HostConfig::default()
    };
    let mut b = WorldBuilder::new(1);
    let client = b.host_with("client", CLIENT_ADDR.into(), config.clone());
    let server = b.host_with("server", SERVER_ADDR.into(), config);
    b.link(client, server, link());
    let sink = b.app(server, "sink", || Sink::new(PORT));
    b.app(client, "bulk", move || {
        BulkSender::new(server_socket_addr(), bytes)
    });
    let mut world = b.build().expect("a valid world");
    world.set_capture(capture);
    (world, sink)
}

/// The short-connection world with `buffer_bytes` receive and send buffers
/// on every socket of both hosts.
pub fn engine_short_world_with(connections: u64, buffer_bytes: usize) -> (World, AppId, AppId) {
    let mut b = WorldBuilder::new(1);
    let tcp = TcpConfig::with_buffers(buffer_bytes);
    // Every client socket holds its port through TIME-WAIT (10 s), so the
    // range must outlast all the connections opened within 10 s.
    let client_config = HostConfig {
        ephemeral_ports: (1024, 65535),
        tcp: tcp.clone(),
        ..HostConfig::default()
    };
    let server_config = HostConfig {
        tcp,
        ..HostConfig::default()
    };
    let client = b.host_with("client", CLIENT_ADDR.into(), client_config);
    let server = b.host_with("server", SERVER_ADDR.into(), server_config);
    b.link(client, server, link());
    let server_app = b.app(server, "tcp-server", || {
        TcpServer::new(
            PORT,
            Reply::Fixed {
                after_bytes: SHORT_MESSAGE_BYTES,
                bytes: SHORT_MESSAGE_BYTES,
            },
            ServerClose::OnEof,
        )
    });
    let client_app = b.app(client, "tcp-client", move || {
        TcpClient::new(
            server_socket_addr(),
            &[b'x'; SHORT_MESSAGE_BYTES],
            SHORT_MESSAGE_BYTES,
        )
        .connections(connections)
    });
    (b.build().expect("a valid world"), client_app, server_app)
}

/// Runs until the client has completed its last connection.
pub fn engine_short_run(
    (mut world, client, server): (World, AppId, AppId),
    connections: u64,
) -> (World, RunStats) {
    let end = world.run_while_not(|w| {
        w.app::<TcpClient>(client)
            .is_some_and(|c| c.completed >= connections)
    });
    assert_eq!(end, EndReason::Condition, "every connection must complete");
    let c = world.app::<TcpClient>(client).expect("the client runs");
    assert_eq!(c.completed, connections);
    assert_eq!(c.failures, 0, "no connection failed");
    assert_eq!(
        c.bytes_received,
        connections * SHORT_MESSAGE_BYTES as u64,
        "every reply arrived"
    );
    let s = world.app::<TcpServer>(server).expect("the server runs");
    assert_eq!(s.accepted, connections);
    let stats = RunStats {
        packets: engine_packets(&world),
        simulated_us: world.now().as_micros(),
        peak_sockets: 0,
    };
    (world, stats)
}

// ----- the raw smoltcp loop ---------------------------------------------------

/// A bare two-interface smoltcp network: the reference the engine is
/// measured against.
pub mod raw {
    use super::*;

    /// Bound on loop iterations, so a stuck run fails instead of hanging.
    const MAX_EVENTS: u64 = 200_000_000;

    /// A frame on the wire, ordered for a min-heap by arrival time, then by
    /// the order it was sent.
    struct InFlight {
        at: SmolInstant,
        seq: u64,
        to: usize,
        bytes: Vec<u8>,
    }

    impl PartialEq for InFlight {
        fn eq(&self, other: &Self) -> bool {
            (self.at, self.seq) == (other.at, other.seq)
        }
    }
    impl Eq for InFlight {}
    impl PartialOrd for InFlight {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for InFlight {
        fn cmp(&self, other: &Self) -> Ordering {
            // Reversed: BinaryHeap is a max-heap, the loop wants the earliest.
            (other.at, other.seq).cmp(&(self.at, self.seq))
        }
    }

    /// An in-memory device holding at most one received frame, like the
    /// engine's: every arrival is its own event, followed by egress, so both
    /// do the same per-segment ACK work.
    pub struct Device {
        rx: Option<Vec<u8>>,
        tx: Vec<Vec<u8>>,
        /// Every frame received, kept (moved, not copied) when capturing.
        capture: Option<Vec<Vec<u8>>>,
    }

    pub struct RxToken<'a>(Vec<u8>, &'a mut Option<Vec<Vec<u8>>>);
    pub struct TxToken<'a>(&'a mut Vec<Vec<u8>>);

    impl phy::Device for Device {
        type RxToken<'a> = RxToken<'a>;
        type TxToken<'a> = TxToken<'a>;

        fn receive(&mut self, _now: SmolInstant) -> Option<(RxToken<'_>, TxToken<'_>)> {
            let frame = self.rx.take()?;
            Some((RxToken(frame, &mut self.capture), TxToken(&mut self.tx)))
        }

        fn transmit(&mut self, _now: SmolInstant) -> Option<TxToken<'_>> {
            Some(TxToken(&mut self.tx))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ip;
            caps.max_transmission_unit = 1500;
            caps
        }
    }

    impl phy::RxToken for RxToken<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            let r = f(&self.0);
            if let Some(capture) = self.1 {
                capture.push(self.0);
            }
            r
        }
    }

    impl phy::TxToken for TxToken<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut buf = vec![0; len];
            let r = f(&mut buf);
            self.0.push(buf);
            r
        }
    }

    /// One host: an interface, its device, its one socket set.
    pub struct Side {
        pub iface: Interface,
        device: Device,
        pub sockets: SocketSet<'static>,
        /// The interface's `poll_at`, cached: it only changes when this side
        /// is polled or its application acts.
        next_poll: Option<SmolInstant>,
    }

    /// Two sides and the wire between them. Side 0 is the client
    /// (10.0.0.1), side 1 the server (10.0.0.2).
    pub struct Net {
        pub now: SmolInstant,
        pub sides: [Side; 2],
        wire: BinaryHeap<InFlight>,
        seq: u64,
        latency: SmolDuration,
        /// IP packets sent by both sides.
        pub packets: u64,
        events: u64,
    }

    fn side(addr: [u8; 4], seed: u64) -> Side {
        let mut device = Device {
            rx: None,
            tx: Vec::new(),
            capture: None,
        };
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut device, SmolInstant::ZERO);
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(
                IpAddress::from(std::net::Ipv4Addr::from(addr)),
                24,
            ))
            .expect("room for one address");
        });
        Side {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            next_poll: None,
        }
    }

    /// A TCP socket configured like the engine's host defaults (CUBIC,
    /// Nagle on, 10 ms delayed ACK, no keepalive, no user timeout).
    pub fn socket(buffer_bytes: usize) -> tcp::Socket<'static> {
        configured(tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; buffer_bytes]),
            tcp::SocketBuffer::new(vec![0u8; buffer_bytes]),
        ))
    }

    /// [`socket`] on borrowed receive and send buffers.
    pub fn socket_on<'a>(rx: &'a mut [u8], tx: &'a mut [u8]) -> tcp::Socket<'a> {
        configured(tcp::Socket::new(
            tcp::SocketBuffer::new(rx),
            tcp::SocketBuffer::new(tx),
        ))
    }

    fn configured(mut s: tcp::Socket<'_>) -> tcp::Socket<'_> {
        let defaults = TcpConfig::default();
        s.set_nagle_enabled(defaults.nagle);
        s.set_ack_delay(
            defaults
                .ack_delay
                .map(|d| SmolDuration::from_micros(d.as_micros())),
        );
        s.set_keep_alive(None);
        s.set_timeout(None);
        s.set_congestion_control(tcp::CongestionControl::Cubic);
        s
    }

    impl Net {
        pub fn new() -> Net {
            Net {
                now: SmolInstant::ZERO,
                sides: [side(CLIENT_ADDR, 1), side(SERVER_ADDR, 2)],
                wire: BinaryHeap::new(),
                seq: 0,
                latency: SmolDuration::from_millis(LATENCY_MS),
                packets: 0,
                events: 0,
            }
        }

        /// Polls side `i` at the current time (with the frame just
        /// delivered to it, if any) and puts what it sent on the wire.
        pub fn poll(&mut self, i: usize) {
            let now = self.now;
            let s = &mut self.sides[i];
            s.iface.poll(now, &mut s.device, &mut s.sockets);
            for bytes in s.device.tx.drain(..) {
                self.packets += 1;
                self.seq += 1;
                self.wire.push(InFlight {
                    at: now + self.latency,
                    seq: self.seq,
                    to: 1 - i,
                    bytes,
                });
            }
        }

        /// Re-reads side `i`'s next deadline (after a poll or an
        /// application call changed its sockets).
        pub fn refresh(&mut self, i: usize) {
            let now = self.now;
            let s = &mut self.sides[i];
            s.next_poll = s.iface.poll_at(now, &s.sockets);
        }

        /// Jumps to the next event — the earliest of both interfaces'
        /// deadlines and the next frame arrival — and returns the side it
        /// concerns, with an arriving frame already in that side's device.
        /// `None` when nothing is left to happen.
        pub fn next_event(&mut self) -> Option<usize> {
            self.events += 1;
            assert!(self.events < MAX_EVENTS, "the raw loop ran away");
            let now = self.now;
            // A deadline in the past (smoltcp says "now" as time zero) means now.
            let deadline = |s: &Side| s.next_poll.map(|t| t.max(now));
            let mut best: Option<(SmolInstant, usize)> = None;
            for (i, s) in self.sides.iter().enumerate() {
                if let Some(t) = deadline(s)
                    && best.is_none_or(|(b, _)| t < b)
                {
                    best = Some((t, i));
                }
            }
            // An arrival wins ties: polling with the frame also serves the deadline.
            if let Some(f) = self.wire.peek()
                && best.is_none_or(|(b, _)| f.at <= b)
            {
                let f = self.wire.pop().expect("peeked");
                self.now = self.now.max(f.at);
                self.sides[f.to].device.rx = Some(f.bytes);
                return Some(f.to);
            }
            let (t, i) = best?;
            self.now = t;
            Some(i)
        }
    }

    // ----- bulk ---------------------------------------------------------------

    /// Sends `total` bytes from side 0 to side 1 and runs until idle (the
    /// close handshake done, TIME-WAIT expired).
    pub fn bulk(total: u64) -> RunStats {
        bulk_with(total, false).0
    }

    /// [`bulk`], optionally keeping every frame until the end, as a capture
    /// (and the engine's trace) does: the frames come back with the stats,
    /// so a bench can drop them outside its timing, as it drops a world.
    /// (Frames lost on the way would be missing; this bench loses none.)
    pub fn bulk_with(total: u64, capture: bool) -> (RunStats, Vec<Vec<u8>>) {
        let mut net = Net::new();
        if capture {
            for side in &mut net.sides {
                side.device.capture = Some(Vec::new());
            }
        }
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let mut scratch = vec![0u8; 64 * 1024];

        let mut server = socket(BULK_BUFFER_BYTES);
        server.listen(PORT).expect("listen");
        let receiver = net.sides[1].sockets.add(server);
        let mut client = socket(BULK_BUFFER_BYTES);
        let remote = (IpAddress::from(std::net::Ipv4Addr::from(SERVER_ADDR)), PORT);
        client
            .connect(net.sides[0].iface.context(), remote, 49152)
            .expect("connect");
        let sender = net.sides[0].sockets.add(client);
        net.refresh(0);
        net.refresh(1);

        let (mut sent, mut received) = (0u64, 0u64);
        let (mut sender_closed, mut receiver_closed) = (false, false);
        while let Some(i) = net.next_event() {
            net.poll(i);
            if i == 0 {
                let s = net.sides[0].sockets.get_mut::<tcp::Socket>(sender);
                while sent < total && s.can_send() {
                    let want = (total - sent).min(chunk.len() as u64) as usize;
                    match s.send_slice(&chunk[..want]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sent += n as u64,
                    }
                }
                if sent == total && !sender_closed {
                    s.close();
                    sender_closed = true;
                }
            } else {
                let s = net.sides[1].sockets.get_mut::<tcp::Socket>(receiver);
                while s.can_recv() {
                    received += s.recv_slice(&mut scratch).unwrap_or(0) as u64;
                }
                if s.state() == tcp::State::CloseWait && !receiver_closed {
                    s.close();
                    receiver_closed = true;
                }
            }
            net.refresh(i);
        }
        assert_eq!(received, total, "the receiver got every byte");
        assert!(receiver_closed, "the sender's FIN arrived");
        let stats = RunStats {
            packets: net.packets,
            simulated_us: net.now.total_micros() as u64,
            peak_sockets: 1,
        };
        let frames = net
            .sides
            .iter_mut()
            .flat_map(|s| s.device.capture.take().unwrap_or_default())
            .collect();
        (stats, frames)
    }

    // ----- short connections --------------------------------------------------

    /// What the client does with a socket once it has closed it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Reap {
        /// Keep it in the set until smoltcp's TIME-WAIT (10 s) ends and it
        /// is CLOSED, as the engine does (there, in its own set).
        AfterTimeWait,
        /// Remove it from the set as soon as it reaches TIME-WAIT.
        AtTimeWait,
    }

    struct ClientConn {
        handle: SocketHandle,
        sent: bool,
        received: usize,
    }

    struct ServerConn {
        handle: SocketHandle,
        received: usize,
        replied: bool,
        closed: bool,
    }

    /// `connections` short connections one after another: connect, send
    /// 100 bytes, read the 100-byte reply, close first; the server replies
    /// once it has the request and closes when the client has. Runs until
    /// the last connection's reply has arrived and the client has closed it.
    pub fn short(connections: u64, reap: Reap) -> RunStats {
        short_with(connections, reap, TcpConfig::default().rx_buffer_bytes)
    }

    /// [`short`] with `buffer_bytes` receive and send buffers per socket.
    pub fn short_with(connections: u64, reap: Reap, buffer_bytes: usize) -> RunStats {
        let mut net = Net::new();
        let request = [b'x'; SHORT_MESSAGE_BYTES];
        let reply = [b'y'; SHORT_MESSAGE_BYTES];
        let mut scratch = vec![0u8; 64 * 1024];
        let remote = (IpAddress::from(std::net::Ipv4Addr::from(SERVER_ADDR)), PORT);

        // The server: one listening socket, re-armed whenever it turns into
        // a connection (connections come one at a time).
        let listen = |net: &mut Net| {
            let mut s = socket(buffer_bytes);
            s.listen(PORT).expect("listen");
            net.sides[1].sockets.add(s)
        };
        let mut listener = listen(&mut net);
        let mut server_conns: Vec<ServerConn> = Vec::new();

        // The client: the current connection, and closed sockets lingering
        // in the set, oldest first (they reach TIME-WAIT and CLOSED in order).
        let mut next_port: u16 = 1024;
        let mut opened = 0u64;
        let mut completed = 0u64;
        let mut lingering: VecDeque<SocketHandle> = VecDeque::new();
        let mut peak_sockets = 0usize;
        let mut open = |net: &mut Net, opened: &mut u64| -> ClientConn {
            let mut s = socket(buffer_bytes);
            s.connect(net.sides[0].iface.context(), remote, next_port)
                .expect("connect");
            next_port = next_port.checked_add(1).expect("ports left");
            *opened += 1;
            ClientConn {
                handle: net.sides[0].sockets.add(s),
                sent: false,
                received: 0,
            }
        };
        let mut current = Some(open(&mut net, &mut opened));
        net.refresh(0);
        net.refresh(1);

        while completed < connections {
            let Some(i) = net.next_event() else {
                panic!("the raw loop went idle after {completed} connections");
            };
            net.poll(i);
            if i == 0 {
                if let Some(c) = current.as_mut() {
                    let s = net.sides[0].sockets.get_mut::<tcp::Socket>(c.handle);
                    assert!(
                        s.state() != tcp::State::Closed,
                        "connection {opened} failed"
                    );
                    if !c.sent && s.may_send() {
                        let n = s.send_slice(&request).expect("send");
                        assert_eq!(n, request.len(), "the request fits the buffer");
                        c.sent = true;
                    }
                    while s.can_recv() {
                        c.received += s.recv_slice(&mut scratch).unwrap_or(0);
                    }
                    if c.received >= SHORT_MESSAGE_BYTES {
                        s.close();
                        completed += 1;
                        lingering.push_back(c.handle);
                        current = None;
                        if opened < connections {
                            current = Some(open(&mut net, &mut opened));
                        }
                    }
                }
                let sockets = &mut net.sides[0].sockets;
                while let Some(&h) = lingering.front() {
                    let state = sockets.get::<tcp::Socket>(h).state();
                    let gone = match reap {
                        Reap::AfterTimeWait => state == tcp::State::Closed,
                        Reap::AtTimeWait => {
                            matches!(state, tcp::State::TimeWait | tcp::State::Closed)
                        }
                    };
                    if !gone {
                        break;
                    }
                    lingering.pop_front();
                    sockets.remove(h);
                }
                peak_sockets = peak_sockets.max(lingering.len() + 1);
            } else {
                let sockets = &mut net.sides[1].sockets;
                if sockets.get::<tcp::Socket>(listener).state() != tcp::State::Listen {
                    server_conns.push(ServerConn {
                        handle: listener,
                        received: 0,
                        replied: false,
                        closed: false,
                    });
                    listener = listen(&mut net);
                }
                let sockets = &mut net.sides[1].sockets;
                server_conns.retain_mut(|c| {
                    let s = sockets.get_mut::<tcp::Socket>(c.handle);
                    while s.can_recv() {
                        c.received += s.recv_slice(&mut scratch).unwrap_or(0);
                    }
                    if !c.replied && c.received >= SHORT_MESSAGE_BYTES {
                        let n = s.send_slice(&reply).expect("send");
                        assert_eq!(n, reply.len(), "the reply fits the buffer");
                        c.replied = true;
                    }
                    if !c.closed && s.state() == tcp::State::CloseWait {
                        s.close();
                        c.closed = true;
                    }
                    if s.state() == tcp::State::Closed {
                        sockets.remove(c.handle);
                        return false;
                    }
                    true
                });
            }
            net.refresh(i);
        }
        // The last close() has not been polled yet; the engine polls on
        // close(), so send the FIN here too before stopping.
        net.poll(0);
        RunStats {
            packets: net.packets,
            simulated_us: net.now.total_micros() as u64,
            peak_sockets,
        }
    }

    // ----- ping-pong: many long-lived connections -------------------------------

    /// One-way latency of the ping-pong link: the load scenarios' 5 ms.
    pub const PING_PONG_LATENCY_MS: u64 = 5;
    /// A client's message: a masked WebSocket Ping with an empty payload.
    pub const PING_BYTES: usize = 6;
    /// The server's answer: an unmasked WebSocket Pong with an empty payload.
    pub const PONG_BYTES: usize = 2;
    /// Connections start spread evenly over this span, as `start_spread`
    /// spreads `ws-10k-1h`'s clients.
    pub const START_SPREAD: SmolDuration = SmolDuration::from_secs(10);
    /// Connection `i` is the client's port `FIRST_CLIENT_PORT + i`: both
    /// sides find a frame's connection from the client's port alone.
    const FIRST_CLIENT_PORT: u16 = 1024;

    /// What happens at an instant of the ping-pong loop.
    enum What {
        /// A frame arrives at a side.
        Arrival { to: usize, bytes: Vec<u8> },
        /// A socket's deadline (`poll_at`): side, connection.
        Deadline(usize, usize),
        /// A client connection opens.
        Start(usize),
        /// A client sends its next ping.
        Ping(usize),
    }

    /// An event, ordered for a min-heap by time, then by the order it was
    /// scheduled.
    struct Event {
        at: SmolInstant,
        seq: u64,
        what: What,
    }

    impl PartialEq for Event {
        fn eq(&self, other: &Self) -> bool {
            (self.at, self.seq) == (other.at, other.seq)
        }
    }
    impl Eq for Event {}
    impl PartialOrd for Event {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Event {
        fn cmp(&self, other: &Self) -> Ordering {
            (other.at, other.seq).cmp(&(self.at, self.seq))
        }
    }

    /// How the ping-pong loop orders its events.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Queue {
        /// A FIFO lane for each kind of event scheduled at a fixed delay
        /// (frames at the link's latency, pings at the period, the starts
        /// in order), which therefore comes in time order, and a heap for
        /// the sockets' deadlines: most events cost O(1).
        Lanes,
        /// One binary heap for every event: O(log n) per event, n growing
        /// with the connections (each holds its next ping).
        Heap,
    }

    /// The loop's events, in `(time, sequence)` order whatever the [`Queue`].
    struct Events {
        kind: Queue,
        /// Arrivals, pings, starts; used with [`Queue::Lanes`].
        lanes: [VecDeque<Event>; 3],
        heap: BinaryHeap<Event>,
        seq: u64,
    }

    impl Events {
        fn push(&mut self, at: SmolInstant, what: What) {
            self.seq += 1;
            let event = Event {
                at,
                seq: self.seq,
                what,
            };
            let lane = match event.what {
                _ if self.kind == Queue::Heap => None,
                What::Arrival { .. } => Some(0),
                What::Ping(_) => Some(1),
                What::Start(_) => Some(2),
                What::Deadline(..) => None,
            };
            match lane.map(|l| &mut self.lanes[l]) {
                // `seq` only grows, so the lane stays sorted.
                Some(lane) if lane.back().is_none_or(|b| b.at <= at) => lane.push_back(event),
                _ => self.heap.push(event),
            }
        }

        fn pop(&mut self) -> Option<Event> {
            let key = |e: &Event| (e.at, e.seq);
            let mut best = self.heap.peek().map(key);
            let mut from = None;
            for (i, lane) in self.lanes.iter().enumerate() {
                if let Some(k) = lane.front().map(key)
                    && best.is_none_or(|b| k < b)
                {
                    best = Some(k);
                    from = Some(i);
                }
            }
            match from {
                Some(i) => self.lanes[i].pop_front(),
                None => self.heap.pop(),
            }
        }
    }

    /// One end of a connection: its socket alone in a set of its own, as
    /// the engine holds every socket, so that a poll touches this socket
    /// only, and the deadline the loop has scheduled for it.
    struct End<'a> {
        set: SocketSet<'a>,
        handle: SocketHandle,
        scheduled: Option<SmolInstant>,
    }

    /// What the applications of one connection know.
    #[derive(Default)]
    struct Talk {
        established: bool,
        pings: u64,
        /// Bytes the server has read, and pongs it has written.
        server_read: usize,
        answered: u64,
        /// Bytes the client has read, and the pongs they make.
        client_read: usize,
        pongs: u64,
    }

    /// The ping-pong network: two interfaces, each end of each connection
    /// in its own socket set, one queue of events.
    struct PingPong<'a> {
        now: SmolInstant,
        sides: [Side; 2],
        /// `ends[side][connection]`; a server end exists once its SYN came.
        ends: [Vec<Option<End<'a>>>; 2],
        /// Unused pieces of the buffer arena, one buffer each.
        buffers: std::slice::ChunksExactMut<'a, u8>,
        queue: Events,
        latency: SmolDuration,
        packets: u64,
        events: u64,
    }

    impl<'a> PingPong<'a> {
        /// A new socket on the next two pieces of the arena, alone in a set.
        fn end(&mut self) -> End<'a> {
            let rx = self.buffers.next().expect("a buffer left");
            let tx = self.buffers.next().expect("a buffer left");
            let mut set = SocketSet::new(Vec::with_capacity(1));
            let handle = set.add(socket_on(rx, tx));
            End {
                set,
                handle,
                scheduled: None,
            }
        }

        fn schedule(&mut self, at: SmolInstant, what: What) {
            self.queue.push(at, what);
        }

        /// Polls one socket (with the frame just delivered to its side, if
        /// any), puts what it sent on the wire, and schedules its next
        /// deadline if that is earlier than the one already scheduled (a
        /// later event finds a superseded deadline stale and skips it).
        fn poll(&mut self, side: usize, conn: usize) {
            let now = self.now;
            let s = &mut self.sides[side];
            let end = self.ends[side][conn].as_mut().expect("a socket to poll");
            s.iface.poll(now, &mut s.device, &mut end.set);
            s.device.rx = None;
            let next = s.iface.poll_at(now, &end.set).map(|t| {
                // "Now" (or the past) after a poll means the next instant,
                // as the engine's hosts do.
                if t <= now {
                    now + SmolDuration::from_micros(1)
                } else {
                    t
                }
            });
            let deadline = next.filter(|&t| end.scheduled.is_none_or(|s| t < s));
            if let Some(t) = deadline {
                end.scheduled = Some(t);
            }
            // Taken out and put back, to keep its capacity.
            let mut frames = std::mem::take(&mut s.device.tx);
            for bytes in frames.drain(..) {
                self.packets += 1;
                self.schedule(
                    now + self.latency,
                    What::Arrival {
                        to: 1 - side,
                        bytes,
                    },
                );
            }
            self.sides[side].device.tx = frames;
            if let Some(t) = deadline {
                self.schedule(t, What::Deadline(side, conn));
            }
        }

        fn socket(&mut self, side: usize, conn: usize) -> &mut tcp::Socket<'a> {
            let end = self.ends[side][conn].as_mut().expect("a socket");
            end.set.get_mut::<tcp::Socket>(end.handle)
        }
    }

    /// The client's port of a frame (TCP over IPv4): the source port of a
    /// frame to the server (side 1), the destination port of one to the
    /// client.
    fn client_port(bytes: &[u8], to: usize) -> u16 {
        assert_eq!(bytes[9], 6, "a TCP segment");
        let tcp = &bytes[usize::from(bytes[0] & 0x0f) * 4..];
        let at = if to == 1 { 0 } else { 2 };
        u16::from_be_bytes([tcp[at], tcp[at + 1]])
    }

    /// `connections` long-lived connections from one client address to one
    /// server port, the shape of the `ws-10k-1h` load scenario without its
    /// WebSocket upgrade: the connections open spread evenly over the first
    /// [`START_SPREAD`]; from one `period` after a connection is
    /// established, its client sends a [`PING_BYTES`] message every
    /// `period`, which the server answers with [`PONG_BYTES`]; the link's
    /// one-way latency is [`PING_PONG_LATENCY_MS`]; every socket is
    /// [`socket`]`(buffer_bytes)` (Nagle, 10 ms delayed ACK). No ping is
    /// sent at or after `duration`; the run ends when every ping has its
    /// pong (asserted), at `duration` or just after.
    ///
    /// Every socket has a set of its own and the loop polls only the socket
    /// an event is for, as the engine does: one `SocketSet` with 20,000
    /// sockets would make every poll walk all of them. A server socket is
    /// made, listening, when its connection's SYN arrives. Events are
    /// ordered by [`Queue::Lanes`]. The returned `peak_sockets` is the
    /// connections; the events the loop handled are the second value.
    pub fn ping_pong(
        connections: usize,
        period: SmolDuration,
        duration: SmolDuration,
        buffer_bytes: usize,
    ) -> (RunStats, u64) {
        ping_pong_with(connections, period, duration, buffer_bytes, Queue::Lanes)
    }

    /// [`ping_pong`] with its events ordered by `queue`.
    pub fn ping_pong_with(
        connections: usize,
        period: SmolDuration,
        duration: SmolDuration,
        buffer_bytes: usize,
        queue: Queue,
    ) -> (RunStats, u64) {
        assert!(
            connections <= usize::from(u16::MAX - FIRST_CLIENT_PORT),
            "one client port per connection"
        );
        // Every buffer is a piece of one zeroed allocation, which is large
        // enough to be freshly mapped: its pages cost nothing until written,
        // as the engine's buffers (`simnet-core`'s `host/buffers.rs`). Made
        // one by one, each 64 KiB buffer would be zeroed by hand.
        let mut arena = vec![0u8; 4 * connections * buffer_bytes];
        let mut net = PingPong {
            now: SmolInstant::ZERO,
            buffers: arena.chunks_exact_mut(buffer_bytes),
            sides: [side(CLIENT_ADDR, 1), side(SERVER_ADDR, 2)],
            ends: [
                (0..connections).map(|_| None).collect(),
                (0..connections).map(|_| None).collect(),
            ],
            queue: Events {
                kind: queue,
                lanes: Default::default(),
                heap: BinaryHeap::new(),
                seq: 0,
            },
            latency: SmolDuration::from_millis(PING_PONG_LATENCY_MS),
            packets: 0,
            events: 0,
        };
        let mut talks: Vec<Talk> = (0..connections).map(|_| Talk::default()).collect();
        let end_at = SmolInstant::ZERO + duration;
        let remote = (IpAddress::from(std::net::Ipv4Addr::from(SERVER_ADDR)), PORT);
        let ping = [0x89u8, 0x80, 1, 2, 3, 4];
        let pong = [0x8au8, 0x00];
        let mut scratch = vec![0u8; 64 * 1024];
        let (mut pings, mut pongs) = (0u64, 0u64);
        for i in 0..connections {
            let at = START_SPREAD.total_micros() * i as u64 / connections as u64;
            net.schedule(SmolInstant::from_micros(at as i64), What::Start(i));
        }

        while let Some(event) = net.queue.pop() {
            if event.at >= end_at && pongs == pings {
                break;
            }
            net.events += 1;
            assert!(net.events < MAX_EVENTS, "the ping-pong loop ran away");
            net.now = event.at;
            let (side, conn) = match event.what {
                What::Start(conn) => {
                    let end = net.end();
                    net.ends[0][conn] = Some(end);
                    let port = FIRST_CLIENT_PORT + conn as u16;
                    let cx = net.sides[0].iface.context();
                    let end = net.ends[0][conn].as_mut().expect("just made");
                    end.set
                        .get_mut::<tcp::Socket>(end.handle)
                        .connect(cx, remote, port)
                        .expect("connect");
                    net.poll(0, conn);
                    continue;
                }
                What::Ping(conn) => {
                    let n = net.socket(0, conn).send_slice(&ping).expect("send");
                    assert_eq!(n, PING_BYTES, "the ping fits the buffer");
                    talks[conn].pings += 1;
                    pings += 1;
                    // As the engine does after every application call.
                    net.poll(0, conn);
                    let next = net.now + period;
                    if next < end_at {
                        net.schedule(next, What::Ping(conn));
                    }
                    continue;
                }
                What::Deadline(side, conn) => {
                    let end = net.ends[side][conn].as_mut().expect("a scheduled socket");
                    if end.scheduled != Some(event.at) {
                        continue; // superseded by an earlier deadline
                    }
                    end.scheduled = None;
                    net.poll(side, conn);
                    (side, conn)
                }
                What::Arrival { to, bytes } => {
                    let port = client_port(&bytes, to);
                    let conn = usize::from(port - FIRST_CLIENT_PORT);
                    if net.ends[to][conn].is_none() {
                        assert_eq!(to, 1, "a frame for a client socket that is gone");
                        let end = net.end();
                        net.ends[1][conn] = Some(end);
                        net.socket(1, conn).listen(PORT).expect("listen");
                    }
                    net.sides[to].device.rx = Some(bytes);
                    net.poll(to, conn);
                    (to, conn)
                }
            };
            // The applications act on what the poll changed.
            let talk = &mut talks[conn];
            let s = net.socket(side, conn);
            assert!(
                !matches!(s.state(), tcp::State::Closed | tcp::State::CloseWait),
                "connection {conn} failed ({side}: {})",
                s.state()
            );
            if side == 0 {
                while s.can_recv() {
                    talk.client_read += s.recv_slice(&mut scratch).unwrap_or(0);
                }
                let answered = (talk.client_read / PONG_BYTES) as u64;
                pongs += answered - talk.pongs;
                talk.pongs = answered;
                if !talk.established && s.state() == tcp::State::Established {
                    talk.established = true;
                    let first = net.now + period;
                    if first < end_at {
                        net.schedule(first, What::Ping(conn));
                    }
                }
            } else {
                while s.can_recv() {
                    talk.server_read += s.recv_slice(&mut scratch).unwrap_or(0);
                }
                let mut wrote = false;
                while talk.answered < (talk.server_read / PING_BYTES) as u64 {
                    let n = s.send_slice(&pong).expect("send");
                    assert_eq!(n, PONG_BYTES, "the pong fits the buffer");
                    talk.answered += 1;
                    wrote = true;
                }
                if wrote {
                    net.poll(1, conn);
                }
            }
        }
        assert_eq!(pongs, pings, "every ping got its pong");
        for (i, t) in talks.iter().enumerate() {
            assert!(t.established, "connection {i} opened");
            assert_eq!(
                t.server_read,
                t.pings as usize * PING_BYTES,
                "connection {i}"
            );
            assert_eq!(
                t.client_read,
                t.pings as usize * PONG_BYTES,
                "connection {i}"
            );
        }
        let stats = RunStats {
            packets: net.packets,
            // Idle connections have no timers: the last event may come
            // well before `duration`, which the run still covered.
            simulated_us: net.now.max(end_at).total_micros() as u64,
            peak_sockets: connections,
        };
        (stats, net.events)
    }
}

// ----- criterion ----------------------------------------------------------------

/// A group of ten flat samples (each sample one run: the runs are long),
/// warmed up and measured for `(warm_up, measurement)`.
pub fn flat_group<'a>(
    c: &'a mut Criterion,
    name: &str,
    (warm_up, measurement): (std::time::Duration, std::time::Duration),
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(warm_up)
        .measurement_time(measurement);
    group
}

/// Whether criterion will run the bench `id` (`group/function`), judged from
/// the command line the way criterion judges it, erring towards "yes". Used
/// only to skip the untimed check run of benches a filter leaves out (the
/// slowest takes seconds, far more under valgrind).
pub fn selected(id: &str) -> bool {
    // Criterion options that take a value (`--opt value`; `--opt=value` is one word).
    const TAKES_VALUE: &[&str] = &[
        "-c",
        "--color",
        "-s",
        "--save-baseline",
        "-b",
        "--baseline",
        "--baseline-lenient",
        "--format",
        "--profile-time",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--ignored" || a == "--list") {
        return false;
    }
    let mut filter = None;
    let mut words = args.iter();
    while let Some(a) = words.next() {
        if TAKES_VALUE.contains(&a.as_str()) {
            words.next();
        } else if !a.starts_with('-') {
            filter = Some(a.as_str());
            break;
        }
    }
    match filter {
        None => true,
        Some(f) if args.iter().any(|a| a == "--exact") => id == f,
        // A regular expression: too clever to judge here, so run the check.
        Some(f) if f.contains(|c: char| "\\.^$*+?()[]{}|".contains(c)) => true,
        Some(f) => id.contains(f),
    }
}

/// Runs one untimed check of a bench, prints what it did, and returns its
/// packet count for the throughput (runs are deterministic, so every timed
/// run does the same). Benches a filter leaves out are not run.
#[allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a bench may read the wall clock; the simulation never does"
)]
pub fn check_run(id: &str, run: impl FnOnce() -> RunStats) -> Option<Throughput> {
    if !selected(id) {
        return None;
    }
    let start = std::time::Instant::now();
    let stats = run();
    let wall = start.elapsed().as_secs_f64();
    let mut line = format!(
        "{id}: {} packets, {:.3} s simulated; check run {:.3} s wall, {:.0} packets/s",
        stats.packets,
        stats.simulated_us as f64 / 1e6,
        wall,
        stats.packets as f64 / wall
    );
    if stats.peak_sockets > 1 {
        line.push_str(&format!(
            "; peak client sockets in one set: {}",
            stats.peak_sockets
        ));
    }
    println!("{line}");
    Some(Throughput::Elements(stats.packets))
}

//! A bare two-interface smoltcp network: the reference the engine is
//! measured against.

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

mod ping_pong;
#[allow(
    unused_imports,
    reason = "only the load bench runs the ping-pong workload"
)]
pub use ping_pong::*;

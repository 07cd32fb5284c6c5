//! Ping-pong: many long-lived connections, each pinging every period, the
//! load scenarios' shape without simnet around smoltcp.

use super::*;

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

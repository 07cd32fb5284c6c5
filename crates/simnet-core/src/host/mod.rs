//! Hosts: a smoltcp TCP/IP stack with the socket API applications expect.
//!
//! This is the only module that knows smoltcp. A host owns one smoltcp
//! `Interface` (seeded from the host's random stream, so ISNs are
//! reproducible), an in-memory device, and its sockets. It adds what smoltcp
//! leaves to its user:
//!
//! - **Demultiplexing.** Each socket lives in its own one-socket `SocketSet`.
//!   An incoming frame is matched to its socket by 4-tuple (or, for a SYN, to
//!   a free listening socket) and only that socket is polled; frames nobody
//!   claims are handed to smoltcp with an empty set, so smoltcp itself
//!   answers with RST or ICMP port unreachable. A host's cost per packet
//!   therefore does not grow with the number of sockets it holds, while every
//!   socket keeps smoltcp's real behaviour (TIME-WAIT included). Each socket
//!   reports its own next deadline to the scheduler.
//! - **A listen backlog.** smoltcp has none: a listening socket *becomes* the
//!   connection when a SYN arrives. `listen(port)` arms `backlog` listening
//!   sockets; each one that receives a SYN waits, half-open and then
//!   established, until the application accepts it, and only then is a fresh
//!   listening socket armed. So the backlog bounds connections that are not
//!   yet accepted, as in Linux; beyond it smoltcp answers SYNs with RST
//!   (Linux would drop them and let the client retry).
//! - **Ephemeral ports** from a configurable range, held until a socket is
//!   gone (TIME-WAIT included), so exhaustion is real and visible.
//! - **Observation.** Every poll of a socket is followed by a comparison of
//!   its state, so each transition is reported with the packet that caused
//!   it, and applications are told about new data, EOF, resets and room to
//!   write.
//!
//! What it deliberately does not do: IP routing (the world sends each frame
//! down the link to the host that owns the destination address), IPv6, or
//! any socket option smoltcp does not implement.

mod buffers;
#[cfg(test)]
mod connect_tests;
mod device;
mod ports;
mod table;
mod time_wait;
pub mod wire;

use crate::rng::SimRng;
use crate::socket::{
    AppId, CloseReason, HostId, Preview, Protocol, Recv, SocketCall, SocketError, SocketEvent,
    SocketId, SocketRow, TcpState, TimerId,
};
use crate::time::{SimDuration, SimTime};
use crate::trace::{DiscardReason, TraceEvent};
use buffers::PooledSet;
use device::SimDevice;
use rand::RngCore;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;
use table::SocketTable;
use time_wait::TimeWait;

/// Converts simnet time to smoltcp time. This and [`from_smol`] are the only
/// places where the two clocks meet; smoltcp counts whole microseconds, so
/// sub-microsecond parts are dropped.
fn smol_instant(t: SimTime) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(t.as_micros() as i64)
}

fn from_smol(t: smoltcp::time::Instant) -> SimTime {
    SimTime::from_micros(t.total_micros().max(0) as u64)
}

fn smol_duration(d: SimDuration) -> smoltcp::time::Duration {
    smoltcp::time::Duration::from_micros(d.as_micros())
}

/// Congestion control algorithms smoltcp offers.
///
/// More may come with smoltcp: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CongestionControl {
    /// No congestion control: send as much as the receive window allows.
    None,
    /// TCP Reno.
    Reno,
    /// CUBIC (the default, as on Linux).
    Cubic,
}

/// TCP options for every socket a host creates.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpConfig {
    /// Receive buffer size; it bounds the advertised window (and decides the
    /// window-scale option smoltcp sends).
    pub rx_buffer_bytes: usize,
    /// Send buffer size.
    pub tx_buffer_bytes: usize,
    /// Nagle's algorithm (off is `TCP_NODELAY`).
    pub nagle: bool,
    /// Delayed ACK timeout (`None` acknowledges at once). smoltcp's default is 10 ms.
    pub ack_delay: Option<SimDuration>,
    /// Send keepalive probes after this much idle time (at least
    /// [`SimDuration::MIN_INTERVAL`]; shorter values are raised to it).
    pub keep_alive: Option<SimDuration>,
    /// Give up on a connection when nothing is acknowledged for this long
    /// (`TCP_USER_TIMEOUT`); also bounds SYN retries. Raised to
    /// [`SimDuration::MIN_INTERVAL`] if shorter.
    pub user_timeout: Option<SimDuration>,
    /// Congestion control algorithm.
    pub congestion: CongestionControl,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            rx_buffer_bytes: 64 * 1024,
            tx_buffer_bytes: 64 * 1024,
            nagle: true,
            ack_delay: Some(SimDuration::from_millis(10)),
            keep_alive: None,
            user_timeout: None,
            congestion: CongestionControl::Cubic,
        }
    }
}

impl TcpConfig {
    /// The defaults with receive and send buffers of `bytes` each (buffers
    /// are most of what a socket costs in memory: see `benches/memory.rs`).
    pub fn with_buffers(bytes: usize) -> TcpConfig {
        TcpConfig {
            rx_buffer_bytes: bytes,
            tx_buffer_bytes: bytes,
            ..TcpConfig::default()
        }
    }
}

/// UDP options for every socket a host creates.
#[derive(Clone, Debug, PartialEq)]
pub struct UdpConfig {
    /// Datagrams a socket can hold in each direction.
    pub queue_datagrams: usize,
    /// Payload bytes a socket can hold in each direction.
    pub buffer_bytes: usize,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            queue_datagrams: 64,
            buffer_bytes: 64 * 1024,
        }
    }
}

/// A host's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct HostConfig {
    /// TCP socket options.
    pub tcp: TcpConfig,
    /// UDP socket options.
    pub udp: UdpConfig,
    /// First and last ephemeral port (inclusive), like Linux's
    /// `ip_local_port_range` (whose default is 32768–60999; simnet uses the
    /// IANA range 49152–65535). As on Linux, a port in this range may carry
    /// one connection to each destination (remote address and port) at once;
    /// towards a single destination the range is all there is.
    pub ephemeral_ports: (u16, u16),
    /// Connections that may wait to be accepted on a listening port.
    pub backlog: usize,
    /// Largest IP packet the host sends.
    pub mtu: usize,
    /// Keep closed connections in TIME-WAIT as small records instead of
    /// whole smoltcp sockets (see `host/time_wait.rs`). The packets and the
    /// trace are the same either way; only memory and speed differ. On by
    /// default; tests turn it off to compare.
    pub time_wait_minisockets: bool,
    /// Reuse the smoltcp sockets of finished connections (and their
    /// buffers) for new ones, from this host or from a process-wide pool,
    /// and build new ones on buffers carved from lazily-zeroed chunks, so
    /// an idle connection's buffers cost no resident memory; the pool keeps
    /// sockets for the process's peak (see `host/buffers.rs`). Off, every
    /// socket is new, with buffers of its own allocated zeroed (resident
    /// from the start) and freed with it. The packets and the trace are the
    /// same either way; only speed and memory differ. On by default; tests
    /// turn it off to compare.
    pub recycle_sockets: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            tcp: TcpConfig::default(),
            udp: UdpConfig::default(),
            ephemeral_ports: (49152, 65535),
            backlog: 16,
            mtu: 1500,
            time_wait_minisockets: true,
            recycle_sockets: true,
        }
    }
}

/// Something a host did that the world must act on, in the order it happened.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Record an event.
    Trace(TraceEvent),
    /// Send a frame (produced by `socket`, which was in `state` afterwards).
    Frame {
        bytes: Rc<[u8]>,
        socket: Option<SocketId>,
        state: Option<TcpState>,
    },
    /// Tell an application about one of its sockets.
    Notify(AppId, SocketEvent),
    /// Poll `socket` again at this time.
    Deadline(SocketId, SimTime),
    /// Wake an application at this time.
    Timer(AppId, TimerId, SimTime),
}

/// One simulated machine.
pub(crate) struct Host {
    pub id: HostId,
    pub name: String,
    pub addr: Ipv4Addr,
    pub config: HostConfig,
    /// Bumped by every crash, so timers of a previous life are ignored.
    pub incarnation: u32,
    stack: Option<Stack>,
    rng: SimRng,
    next_socket: u64,
    /// Sockets recycled so far (see [`Host::new_tcp_socket`]).
    recycled: u64,
    /// What happened since the world last looked.
    pub effects: Vec<Effect>,
    /// Socket events found while settling a socket, before they become
    /// effects (kept to reuse its allocation).
    notes: Vec<(AppId, SocketEvent)>,
}

struct Stack {
    iface: Interface,
    device: SimDevice,
    sockets: SocketTable<Entry>,
    /// (local port, remote address, remote port) → connection socket.
    tcp_conns: BTreeMap<(u16, Ipv4Addr, u16), SocketId>,
    listeners: BTreeMap<u16, Listener>,
    udp_ports: BTreeMap<u16, SocketId>,
    /// Local TCP ports in use (how many sockets use each), and the
    /// 4-tuples of sockets whose port `connect()` chose: a port is shared
    /// between destinations, as on Linux (see `host/ports.rs`).
    ports: ports::Ports,
    next_ephemeral: u16,
    /// Always empty: polled with frames no socket claims, so smoltcp answers them.
    unclaimed: SocketSet<'static>,
    /// Connections in TIME-WAIT kept as records, without a smoltcp socket.
    /// They keep their entry in `tcp_conns` and their port in `ports`.
    time_wait: BTreeMap<SocketId, TimeWait>,
    /// TCP sockets whose connections are over, kept for the next ones
    /// (see [`Host::new_tcp_socket`]).
    spare: Vec<OwnSet>,
}

/// A smoltcp socket on its own, in the one-socket set it is polled with.
type OwnSet = (PooledSet, SocketHandle);

impl Stack {
    /// At most this many spare sockets are kept per host: enough for a
    /// stream of short connections (which needs two or three at a time).
    /// The others go back to the process-wide pool when dropped
    /// (`host/buffers.rs`), for any host of any world.
    const SPARE_MAX: usize = 16;

    /// Keeps a dead entry's TCP socket for the next connection.
    fn recycle(&mut self, entry: Entry) {
        if entry.protocol == Protocol::Tcp && self.spare.len() < Self::SPARE_MAX {
            self.spare.push((entry.set, entry.handle));
        }
    }
}

struct Listener {
    owner: AppId,
    /// Listening sockets still in LISTEN.
    free: BTreeSet<SocketId>,
    /// Listening sockets that are only an id and the time they were armed:
    /// a socket in LISTEN holds no connection state, so its smoltcp socket
    /// (and its buffers) is made only when a SYN comes for it
    /// ([`Host::back_listener`]). Everything else (the trace, the socket
    /// table, crashes, `unlisten`) treats them as the sockets they stand for.
    unbacked: BTreeMap<SocketId, SimTime>,
    /// Established connections not yet accepted, oldest first.
    accept_queue: VecDeque<SocketId>,
}

struct Entry {
    set: PooledSet,
    handle: SocketHandle,
    protocol: Protocol,
    owner: Option<AppId>,
    /// The application closed (or aborted) it; it lingers only for TCP's sake.
    app_closed: bool,
    /// Set while the socket belongs to a listener and has not been accepted.
    listener_port: Option<u16>,
    queued_for_accept: bool,
    state: TcpState,
    since: SimTime,
    tuple: Option<(u16, Ipv4Addr, u16)>,
    local_port: u16,
    /// The poll deadline already handed to the scheduler.
    scheduled: Option<SimTime>,
    /// When the socket was last polled: from then until its state changes,
    /// it has nothing to send at that instant.
    polled_at: Option<SimTime>,
    /// Receive-queue length the owner has been told about.
    rx_notified: usize,
    eof_notified: bool,
    want_write: bool,
    reset: bool,
    udp_notified: bool,
    /// An outgoing connection whose outcome the owner has not heard yet.
    connect_pending: bool,
    /// Why the connection ended abnormally, once it has.
    close_reason: Option<CloseReason>,
    closed_notified: bool,
    /// Bytes the application has read (the stream offset of the next byte).
    read_total: u64,
    /// Bytes the application has written.
    written_total: u64,
    /// When the socket last answered an incoming segment directly (any such
    /// answer may have been a rate-limited challenge ACK).
    last_ingress_reply: Option<SimTime>,
    /// Whether the last ACK it sent in answer to a segment carried SACK
    /// blocks (it holds out-of-order data).
    sack_pending: bool,
    /// The last segment it sent in TIME-WAIT.
    time_wait_ack: Option<Rc<[u8]>>,
}

impl Entry {
    fn tcp(&self) -> &tcp::Socket<'static> {
        self.set.get::<tcp::Socket>(self.handle)
    }
    fn tcp_mut(&mut self) -> &mut tcp::Socket<'static> {
        self.set.get_mut::<tcp::Socket>(self.handle)
    }
    fn udp_mut(&mut self) -> &mut udp::Socket<'static> {
        self.set.get_mut::<udp::Socket>(self.handle)
    }
    fn current_state(&self) -> TcpState {
        match self.protocol {
            Protocol::Tcp => map_state(self.tcp().state()),
            Protocol::Udp => TcpState::Closed,
        }
    }
}

fn map_state(s: tcp::State) -> TcpState {
    match s {
        tcp::State::Closed => TcpState::Closed,
        tcp::State::Listen => TcpState::Listen,
        tcp::State::SynSent => TcpState::SynSent,
        tcp::State::SynReceived => TcpState::SynReceived,
        tcp::State::Established => TcpState::Established,
        tcp::State::FinWait1 => TcpState::FinWait1,
        tcp::State::FinWait2 => TcpState::FinWait2,
        tcp::State::CloseWait => TcpState::CloseWait,
        tcp::State::Closing => TcpState::Closing,
        tcp::State::LastAck => TcpState::LastAck,
        tcp::State::TimeWait => TcpState::TimeWait,
    }
}

fn endpoint_v4(e: IpEndpoint) -> SocketAddrV4 {
    match e.addr {
        IpAddress::Ipv4(a) => SocketAddrV4::new(a, e.port),
    }
}

/// Why a poll happens; decides how a transition to CLOSED is explained.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// An incoming segment (with or without RST).
    Ingress { rst: bool },
    /// A timer or an application call.
    Local,
}

impl Host {
    pub fn new(id: HostId, name: String, addr: Ipv4Addr, config: HostConfig, rng: SimRng) -> Host {
        let mut host = Host {
            id,
            name,
            addr,
            config,
            incarnation: 0,
            stack: None,
            rng,
            next_socket: 0,
            recycled: 0,
            effects: Vec::new(),
            notes: Vec::new(),
        };
        host.boot(SimTime::ZERO);
        host
    }

    /// Whether the host is running (not crashed).
    pub fn is_up(&self) -> bool {
        self.stack.is_some()
    }

    /// TCP sockets that belong to a connection (any state but LISTEN and
    /// CLOSED). O(1).
    pub(crate) fn connected_sockets(&self) -> usize {
        self.stack.as_ref().map_or(0, |s| s.tcp_conns.len())
    }

    fn boot(&mut self, now: SimTime) {
        let mut device = SimDevice::new(self.config.mtu);
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = self.rng.next_u64();
        let mut iface = Interface::new(config, &mut device, smol_instant(now));
        let addr = self.addr;
        iface.update_ip_addrs(|addrs| {
            // A /0 prefix makes every address on-link: the world, not an IP
            // routing table, decides which link a frame takes.
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(addr), 0));
        });
        self.stack = Some(Stack {
            iface,
            device,
            sockets: SocketTable::new(),
            tcp_conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            udp_ports: BTreeMap::new(),
            ports: ports::Ports::default(),
            next_ephemeral: self.config.ephemeral_ports.0,
            unclaimed: SocketSet::new(Vec::new()),
            time_wait: BTreeMap::new(),
            spare: Vec::new(),
        });
    }

    /// Loses every socket at once, without a packet: a power cut.
    pub fn crash(&mut self) {
        let Some(stack) = self.stack.take() else {
            return;
        };
        // Every connection, TIME-WAIT records included, in socket order.
        type Open = (TcpState, u16, Option<(u16, Ipv4Addr, u16)>);
        let mut open: BTreeMap<SocketId, Open> = stack
            .sockets
            .iter()
            .filter(|(_, e)| e.protocol == Protocol::Tcp && e.state != TcpState::Closed)
            .map(|(sid, e)| (sid, (e.state, e.local_port, e.tuple)))
            .collect();
        for (port, listener) in &stack.listeners {
            for sid in listener.unbacked.keys() {
                open.insert(*sid, (TcpState::Listen, *port, None));
            }
        }
        for (sid, tw) in &stack.time_wait {
            open.insert(*sid, (TcpState::TimeWait, tw.tuple.0, Some(tw.tuple)));
        }
        for (sid, (state, local_port, tuple)) in open {
            self.effects.push(Effect::Trace(TraceEvent::TcpState {
                host: self.id,
                socket: sid,
                local: SocketAddrV4::new(self.addr, local_port),
                remote: tuple.map(|(_, a, p)| SocketAddrV4::new(a, p)),
                from: state,
                to: TcpState::Closed,
                reason: Some(CloseReason::HostCrashed),
            }));
        }
        self.incarnation += 1;
    }

    /// Boots again with empty socket tables and a fresh ISN generator.
    pub fn restart(&mut self, now: SimTime) {
        if self.stack.is_none() {
            self.boot(now);
        }
    }

    fn trace(&mut self, event: TraceEvent) {
        self.effects.push(Effect::Trace(event));
    }

    fn trace_call(&mut self, app: AppId, socket: Option<SocketId>, call: SocketCall) {
        let host = self.id;
        self.trace(TraceEvent::SocketCall {
            host,
            app,
            socket,
            call,
        });
    }

    fn fail(
        &mut self,
        app: AppId,
        socket: Option<SocketId>,
        call: &'static str,
        error: SocketError,
    ) -> SocketError {
        self.trace_call(app, socket, SocketCall::Failed { call, error });
        error
    }

    // ----- frames and timers -------------------------------------------------

    /// Takes in a frame that arrived over a link.
    pub fn receive(
        &mut self,
        now: SimTime,
        frame: crate::packet::FrameId,
        bytes: &Rc<[u8]>,
        corrupted: bool,
    ) {
        let Some(stack) = self.stack.as_mut() else {
            self.trace(TraceEvent::FrameDiscarded {
                frame,
                host: self.id,
                reason: DiscardReason::HostDown,
            });
            return;
        };
        // smoltcp verifies checksums too; checking here first makes the
        // discard visible in the trace instead of a silent drop. Only a
        // corrupted frame can fail, so intact frames skip the extra work.
        if corrupted && let Err(reason) = wire::verify(bytes) {
            self.trace(TraceEvent::FrameDiscarded {
                frame,
                host: self.id,
                reason,
            });
            return;
        }
        let mut back = None;
        let target = match wire::demux(bytes) {
            wire::Demux::Tcp(key) => {
                let tuple = (key.local_port, key.remote, key.remote_port);
                match stack.tcp_conns.get(&tuple) {
                    Some(sid) => Some((*sid, key.rst)),
                    None if key.bare_syn => {
                        // The oldest listening socket takes the SYN.
                        let port = key.local_port;
                        let listener = stack.listeners.get(&port);
                        let free = listener.and_then(|l| l.free.first().copied());
                        let unbacked = listener.and_then(|l| l.unbacked.keys().next().copied());
                        let oldest = free.into_iter().chain(unbacked).min();
                        if oldest.is_some() && oldest == unbacked {
                            back = oldest.map(|sid| (port, sid));
                        }
                        oldest.map(|sid| (sid, false))
                    }
                    None => None,
                }
            }
            wire::Demux::Udp { local_port } => {
                stack.udp_ports.get(&local_port).map(|s| (*s, false))
            }
            wire::Demux::Other => None,
        };
        if let Some((port, sid)) = back {
            self.back_listener(port, sid);
        }
        let stack = self.stack.as_mut().expect("checked above");
        if let Some((sid, _)) = target
            && stack.time_wait.contains_key(&sid)
        {
            self.poll_time_wait(now, sid, Some(bytes));
            return;
        }
        stack.device.rx = Some(bytes.clone());
        match target {
            Some((sid, rst)) => self.poll(now, sid, Cause::Ingress { rst }),
            None => {
                let smol_now = smol_instant(now);
                stack
                    .iface
                    .poll(smol_now, &mut stack.device, &mut stack.unclaimed);
                stack.device.rx = None;
                for bytes in stack.device.tx.drain(..) {
                    self.effects.push(Effect::Frame {
                        bytes,
                        socket: None,
                        state: None,
                    });
                }
            }
        }
    }

    /// A socket's deadline came: poll it if the deadline is still current.
    pub fn on_deadline(&mut self, now: SimTime, sid: SocketId) {
        let Some(stack) = self.stack.as_mut() else {
            return;
        };
        if let Some(entry) = stack.sockets.get_mut(&sid) {
            if entry.scheduled != Some(now) {
                return; // superseded by an earlier deadline that already ran
            }
            entry.scheduled = None;
            self.poll(now, sid, Cause::Local);
        } else if let Some(record) = stack.time_wait.get_mut(&sid) {
            if record.scheduled != Some(now) {
                return;
            }
            record.scheduled = None;
            self.poll_time_wait(now, sid, None);
        }
    }

    /// Polls a TIME-WAIT record as [`Host::poll`] polls a socket: first the
    /// incoming frame (if any), then the timer, then the next deadline.
    /// Every step mirrors what the smoltcp socket would have done, so the
    /// trace and the event queue are the same as with the socket.
    fn poll_time_wait(&mut self, now: SimTime, sid: SocketId, frame: Option<&[u8]>) {
        let smol_now = smol_instant(now);
        let stack = self.stack.as_mut().expect("polled a crashed host");
        let Some(record) = stack.time_wait.get_mut(&sid) else {
            return;
        };
        // `Some(reason)` once the connection is gone.
        let mut closed = None;
        if let Some(frame) = frame {
            match record.segment(smol_now, frame) {
                time_wait::Verdict::Ignore => {}
                time_wait::Verdict::Reply(bytes) => self.effects.push(Effect::Frame {
                    bytes,
                    socket: Some(sid),
                    state: Some(TcpState::TimeWait),
                }),
                time_wait::Verdict::Reset => closed = Some(Some(CloseReason::Reset)),
            }
        }
        if closed.is_none() && record.expired(smol_now) {
            closed = Some(None);
        }
        let Some(reason) = closed else {
            let at = deadline_after(now, from_smol(record.expires_at));
            if record.scheduled.is_none_or(|s| at < s) {
                record.scheduled = Some(at);
                self.effects.push(Effect::Deadline(sid, at));
            }
            return;
        };
        let record = stack.time_wait.remove(&sid).expect("found above");
        let (local_port, remote_addr, remote_port) = record.tuple;
        self.effects.push(Effect::Trace(TraceEvent::TcpState {
            host: self.id,
            socket: sid,
            local: SocketAddrV4::new(self.addr, local_port),
            remote: Some(SocketAddrV4::new(remote_addr, remote_port)),
            from: TcpState::TimeWait,
            to: TcpState::Closed,
            reason,
        }));
        if stack.tcp_conns.get(&record.tuple) == Some(&sid) {
            stack.tcp_conns.remove(&record.tuple);
        }
        stack.ports.release(local_port);
        stack.ports.unhold(sid);
    }

    /// Polls one socket: feeds it the pending frame (if any), lets it send,
    /// then reports what changed.
    fn poll(&mut self, now: SimTime, sid: SocketId, cause: Cause) {
        let smol_now = smol_instant(now);
        if let Cause::Ingress { .. } = cause {
            let stack = self.stack.as_mut().expect("polled a crashed host");
            let entry = stack
                .sockets
                .get_mut(&sid)
                .expect("polled an unknown socket");
            stack
                .iface
                .poll_ingress_single(smol_now, &mut stack.device, &mut entry.set);
            stack.device.rx = None;
            self.observe(now, sid, cause);
        }
        {
            let stack = self.stack.as_mut().expect("polled a crashed host");
            let Some(entry) = stack.sockets.get_mut(&sid) else {
                return;
            };
            // Egress is bounded by smoltcp (one segment per socket per call);
            // loop until it has nothing more to send.
            for _ in 0..100_000 {
                if stack
                    .iface
                    .poll_egress(smol_now, &mut stack.device, &mut entry.set)
                    == smoltcp::iface::PollResult::None
                {
                    break;
                }
            }
            entry.polled_at = Some(now);
        }
        self.observe(now, sid, Cause::Local);
        self.settle(now, sid);
    }

    /// Reports a state change and the frames of the last poll step.
    fn observe(&mut self, now: SimTime, sid: SocketId, cause: Cause) {
        let host = self.id;
        let addr = self.addr;
        let stack = self.stack.as_mut().expect("observed a crashed host");
        let Some(entry) = stack.sockets.get_mut(&sid) else {
            return;
        };
        let state = entry.current_state();
        if entry.protocol == Protocol::Tcp && state != entry.state {
            let from = entry.state;
            let reason = if state == TcpState::Closed {
                closed_reason(from, cause, entry.app_closed)
            } else {
                None
            };
            if reason == Some(CloseReason::Reset) {
                entry.reset = true;
            }
            if reason.is_some() {
                entry.close_reason = reason;
            }
            if reason == Some(CloseReason::Reset) {
                // Linux discards what the application had not read yet.
                if let Some(lost) =
                    lost_data(entry, host, sid, crate::trace::LossCause::ResetByPeer)
                {
                    self.effects.push(Effect::Trace(lost));
                }
                let socket = entry.tcp_mut();
                while socket.recv(|b| (b.len(), b.len())).unwrap_or(0) > 0 {}
            }
            let socket = entry.tcp();
            let local = socket
                .local_endpoint()
                .map(endpoint_v4)
                .unwrap_or(SocketAddrV4::new(addr, entry.local_port));
            let remote = socket
                .remote_endpoint()
                .map(endpoint_v4)
                .or(entry.tuple.map(|(_, a, p)| SocketAddrV4::new(a, p)));
            entry.state = state;
            entry.since = now;
            self.effects.push(Effect::Trace(TraceEvent::TcpState {
                host,
                socket: sid,
                local,
                remote,
                from,
                to: state,
                reason,
            }));
            Self::track_tuple(stack, sid);
        }
        if stack.device.tx.is_empty() {
            return;
        }
        let Some(entry) = stack.sockets.get_mut(&sid) else {
            return;
        };
        let tcp = entry.protocol == Protocol::Tcp;
        let state = tcp.then_some(entry.state);
        // What a TIME-WAIT record would need to know about these frames.
        let ingress = matches!(cause, Cause::Ingress { .. });
        let time_wait_ack =
            tcp && entry.state == TcpState::TimeWait && entry.tcp().recv_queue() == 0;
        for bytes in stack.device.tx.drain(..) {
            if tcp {
                if ingress {
                    entry.last_ingress_reply = Some(now);
                    if let Some(sack) = time_wait::ack_has_sack(&bytes) {
                        entry.sack_pending = sack;
                    }
                }
                entry.time_wait_ack = time_wait_ack.then(|| bytes.clone());
            }
            self.effects.push(Effect::Frame {
                bytes,
                socket: Some(sid),
                state,
            });
        }
    }

    /// Keeps the demultiplexing tables in step with a socket's 4-tuple, and
    /// a listener's set of free sockets in step with their states.
    fn track_tuple(stack: &mut Stack, sid: SocketId) {
        let entry = stack.sockets.get_mut(&sid).expect("tracked unknown socket");
        if let Some(port) = entry.listener_port
            && let Some(listener) = stack.listeners.get_mut(&port)
        {
            if entry.state == TcpState::Listen {
                listener.free.insert(sid);
            } else {
                listener.free.remove(&sid);
            }
        }
        let now_tuple = if entry.protocol == Protocol::Tcp && entry.state != TcpState::Closed {
            let socket = entry.tcp();
            match (socket.local_endpoint(), socket.remote_endpoint()) {
                (Some(l), Some(r)) => {
                    let r = endpoint_v4(r);
                    Some((l.port, *r.ip(), r.port()))
                }
                _ => None,
            }
        } else {
            None
        };
        if now_tuple == entry.tuple {
            return;
        }
        if let Some(old) = entry.tuple.take()
            && stack.tcp_conns.get(&old) == Some(&sid)
        {
            stack.tcp_conns.remove(&old);
        }
        if let Some(new) = now_tuple {
            stack.tcp_conns.insert(new, sid);
        }
        entry.tuple = now_tuple;
    }

    /// After a poll: tells applications what changed, reaps dead sockets,
    /// and hands the next deadline to the scheduler.
    fn settle(&mut self, now: SimTime, sid: SocketId) {
        let stack = self.stack.as_mut().expect("settled a crashed host");
        let Some(entry) = stack.sockets.get_mut(&sid) else {
            return;
        };
        // A reused list: settling happens after every poll.
        let mut notes = std::mem::take(&mut self.notes);
        let mut rearm: Option<u16> = None;
        match entry.protocol {
            Protocol::Udp => {
                if let Some(owner) = entry.owner.filter(|_| !entry.app_closed) {
                    let can = entry.udp_mut().can_recv();
                    if can && !entry.udp_notified {
                        entry.udp_notified = true;
                        notes.push((owner, SocketEvent::Readable(sid)));
                    }
                }
            }
            Protocol::Tcp => {
                if let Some(port) = entry.listener_port {
                    // Not yet accepted: belongs to the listener.
                    match entry.state {
                        TcpState::Listen | TcpState::SynReceived => {}
                        TcpState::Closed => {
                            // A half-open connection died before accept; its
                            // slot goes back to the listener.
                            entry.app_closed = true;
                            rearm = Some(port);
                        }
                        _ => {
                            if !entry.queued_for_accept
                                && let Some(listener) = stack.listeners.get_mut(&port)
                            {
                                entry.queued_for_accept = true;
                                listener.accept_queue.push_back(sid);
                                notes.push((listener.owner, SocketEvent::Incoming { port }));
                            }
                        }
                    }
                } else if let Some(owner) = entry.owner.filter(|_| !entry.app_closed) {
                    if entry.connect_pending {
                        match entry.state {
                            TcpState::SynSent => {}
                            TcpState::Closed => {
                                entry.connect_pending = false;
                                entry.closed_notified = true;
                                let reason = entry.close_reason.unwrap_or(CloseReason::TimedOut);
                                notes.push((owner, SocketEvent::ConnectFailed(sid, reason)));
                            }
                            _ => {
                                entry.connect_pending = false;
                                notes.push((owner, SocketEvent::Connected(sid)));
                            }
                        }
                    }
                    let socket = entry.tcp();
                    let recv_queue = socket.recv_queue();
                    let room = socket.send_capacity() > socket.send_queue();
                    if recv_queue > entry.rx_notified {
                        entry.rx_notified = recv_queue;
                        notes.push((owner, SocketEvent::Readable(sid)));
                    } else if recv_queue < entry.rx_notified {
                        entry.rx_notified = recv_queue;
                    }
                    if entry.state.peer_finished() && !entry.eof_notified && recv_queue == 0 {
                        entry.eof_notified = true;
                        notes.push((owner, SocketEvent::Readable(sid)));
                    }
                    if entry.want_write && room && entry.state != TcpState::Closed {
                        entry.want_write = false;
                        notes.push((owner, SocketEvent::Writable(sid)));
                    }
                    if entry.state == TcpState::Closed
                        && !entry.closed_notified
                        && let Some(reason) = entry.close_reason
                    {
                        entry.closed_notified = true;
                        notes.push((owner, SocketEvent::Closed(sid, reason)));
                    }
                }
            }
        }
        // Data for a socket its application has closed cannot be delivered:
        // Linux resets the connection (and counts TCPAbortOnData); so does simnet.
        let orphan_data = entry.protocol == Protocol::Tcp
            && entry.app_closed
            && entry.listener_port.is_none()
            && matches!(entry.state, TcpState::FinWait1 | TcpState::FinWait2)
            && entry.tcp().recv_queue() > 0;
        if orphan_data {
            let lost = lost_data(entry, self.id, sid, crate::trace::LossCause::DataAfterClose);
            entry.tcp_mut().abort();
            if let Some(lost) = lost {
                self.effects.push(Effect::Trace(lost));
            }
            self.notify(notes);
            self.poll(now, sid, Cause::Local);
            return;
        }
        let dead = entry.state == TcpState::Closed
            && entry.protocol == Protocol::Tcp
            && (entry.app_closed || entry.owner.is_none());
        if dead {
            Self::remove(stack, sid);
        } else {
            let poll_at = stack.iface.poll_at(smol_instant(now), &entry.set);
            if let Some(at) = poll_at {
                let at = deadline_after(now, from_smol(at));
                if entry.scheduled.is_none_or(|s| at < s) {
                    entry.scheduled = Some(at);
                    self.effects.push(Effect::Deadline(sid, at));
                }
            }
            if let Some(record) = time_wait_record(entry, poll_at, now, &self.config) {
                // The socket and its buffers go; the record takes over its
                // 4-tuple, its port and its pending deadline.
                let entry = stack.sockets.remove(&sid).expect("found above");
                stack.recycle(entry);
                stack.time_wait.insert(sid, record);
            }
        }
        if let Some(port) = rearm {
            self.arm_listener(now, port, 1);
        }
        self.notify(notes);
    }

    /// Hands `notes` to the applications, in order, and keeps the list.
    fn notify(&mut self, mut notes: Vec<(AppId, SocketEvent)>) {
        self.effects
            .extend(notes.drain(..).map(|(app, ev)| Effect::Notify(app, ev)));
        self.notes = notes;
    }

    fn remove(stack: &mut Stack, sid: SocketId) {
        let Some(entry) = stack.sockets.remove(&sid) else {
            return;
        };
        if let Some(t) = entry.tuple
            && stack.tcp_conns.get(&t) == Some(&sid)
        {
            stack.tcp_conns.remove(&t);
        }
        match entry.protocol {
            Protocol::Tcp => {
                if let Some(port) = entry.listener_port
                    && let Some(l) = stack.listeners.get_mut(&port)
                {
                    l.free.remove(&sid);
                    l.accept_queue.retain(|s| *s != sid);
                }
                stack.ports.release(entry.local_port);
                stack.ports.unhold(sid);
                stack.recycle(entry);
            }
            Protocol::Udp => {
                if stack.udp_ports.get(&entry.local_port) == Some(&sid) {
                    stack.udp_ports.remove(&entry.local_port);
                }
            }
        }
    }

    fn new_id(&mut self) -> SocketId {
        let id = SocketId(self.next_socket);
        self.next_socket += 1;
        id
    }

    /// A closed TCP socket configured with the host's options, ready for
    /// `listen` or `connect`.
    ///
    /// When the host recycles sockets ([`HostConfig::recycle_sockets`]), it
    /// is a dead connection's socket, as smoltcp's own examples reuse theirs:
    /// `listen` and `connect` reset its connection state, and everything
    /// else is set again below. It comes from the host's own spares first,
    /// then from the process-wide pool of sockets other hosts (of this or
    /// another world) let go of, and only then is it new, on buffers carved
    /// from lazily-zeroed chunks (`host/buffers.rs`), so that no buffer is
    /// zeroed by hand and an idle connection's buffers cost no resident
    /// memory. What smoltcp's reset leaves behind cannot
    /// change what the socket sends (`tests/scale/recycle.rs` runs every
    /// scenario both ways): the duplicate-ACK bookkeeping, whose stale
    /// acknowledgment number would have to equal the new connection's by
    /// chance, one in 2^32, and a fast-retransmit flag that only re-sends
    /// the first segment, which is what a new connection sends first anyway.
    fn new_tcp_socket(&mut self) -> OwnSet {
        let c = &self.config.tcp;
        let spare = match self.stack.as_mut() {
            Some(stack) if self.config.recycle_sockets => stack.spare.pop(),
            Some(stack) => {
                stack.spare.clear();
                None
            }
            None => None,
        };
        if spare.is_some() {
            self.recycled += 1;
        }
        let (mut set, handle) = match spare {
            Some(spare) => spare,
            // From the process-wide pool, or new on lazily-zeroed pieces:
            // an idle connection's buffers cost no resident memory.
            None if self.config.recycle_sockets => {
                PooledSet::tcp(c.rx_buffer_bytes, c.tx_buffer_bytes)
            }
            // Fresh, on buffers of its own, as a host that does not recycle
            // must have: the tests' reference for recycled sockets.
            None => {
                let rx = tcp::SocketBuffer::new(vec![0u8; c.rx_buffer_bytes]);
                let tx = tcp::SocketBuffer::new(vec![0u8; c.tx_buffer_bytes]);
                let mut set = SocketSet::new(Vec::with_capacity(1));
                let handle = set.add(tcp::Socket::new(rx, tx));
                (PooledSet::owned(set), handle)
            }
        };
        let s = set.get_mut::<tcp::Socket>(handle);
        // A recycled socket may still be in TIME-WAIT (its record took
        // over); closing it sends nothing, as it is polled no more.
        s.abort();
        s.set_nagle_enabled(c.nagle);
        s.set_ack_delay(c.ack_delay.map(smol_duration));
        // A zero keepalive would send probes without end at one instant,
        // so both are raised to the shortest interval.
        s.set_keep_alive(c.keep_alive.map(|d| smol_duration(d.as_interval())));
        s.set_timeout(c.user_timeout.map(|d| smol_duration(d.as_interval())));
        // Also a fresh congestion controller (window, slow-start threshold).
        s.set_congestion_control(match c.congestion {
            CongestionControl::None => tcp::CongestionControl::None,
            CongestionControl::Reno => tcp::CongestionControl::Reno,
            CongestionControl::Cubic => tcp::CongestionControl::Cubic,
        });
        (set, handle)
    }

    fn insert_entry(
        &mut self,
        now: SimTime,
        sid: SocketId,
        (set, handle): OwnSet,
        protocol: Protocol,
        owner: AppId,
        local_port: u16,
    ) {
        let stack = self.stack.as_mut().expect("inserted into a crashed host");
        stack.sockets.insert(
            sid,
            Entry {
                set,
                handle,
                protocol,
                owner: Some(owner),
                app_closed: false,
                listener_port: None,
                queued_for_accept: false,
                state: TcpState::Closed,
                since: now,
                tuple: None,
                local_port,
                scheduled: None,
                polled_at: None,
                rx_notified: 0,
                eof_notified: false,
                want_write: false,
                reset: false,
                udp_notified: false,
                connect_pending: false,
                close_reason: None,
                closed_notified: false,
                read_total: 0,
                written_total: 0,
                last_ingress_reply: None,
                sack_pending: false,
                time_wait_ack: None,
            },
        );
    }

    /// Arms `count` more listening sockets on `port`, unbacked (see
    /// [`Listener::unbacked`]).
    fn arm_listener(&mut self, now: SimTime, port: u16, count: usize) {
        let Some(stack) = self.stack.as_mut() else {
            return;
        };
        if !stack.listeners.contains_key(&port) {
            return;
        }
        for _ in 0..count {
            let sid = self.new_id();
            let stack = self.stack.as_mut().expect("checked above");
            let listener = stack.listeners.get_mut(&port).expect("checked above");
            listener.unbacked.insert(sid, now);
            stack.ports.take(port);
            self.effects
                .push(Effect::Trace(self.listen_transition(sid, port, true)));
        }
    }

    /// The state change of a listening socket that opens (CLOSED -> LISTEN)
    /// or is closed by its application: what [`Host::observe`] reports for a
    /// backed one.
    fn listen_transition(&self, sid: SocketId, port: u16, opens: bool) -> TraceEvent {
        let (from, to) = if opens {
            (TcpState::Closed, TcpState::Listen)
        } else {
            (TcpState::Listen, TcpState::Closed)
        };
        TraceEvent::TcpState {
            host: self.id,
            socket: sid,
            local: SocketAddrV4::new(self.addr, port),
            remote: None,
            from,
            to,
            reason: None,
        }
    }

    /// Gives an unbacked listening socket its smoltcp socket, in LISTEN, as
    /// it would have been had it been made when armed.
    fn back_listener(&mut self, port: u16, sid: SocketId) {
        let stack = self.stack.as_mut().expect("backed a crashed host");
        let listener = stack.listeners.get_mut(&port).expect("a listener");
        let owner = listener.owner;
        let since = listener.unbacked.remove(&sid).expect("an unbacked socket");
        let (mut set, handle) = self.new_tcp_socket();
        set.get_mut::<tcp::Socket>(handle)
            .listen(port)
            .expect("listening on a non-zero port");
        self.insert_entry(since, sid, (set, handle), Protocol::Tcp, owner, port);
        let stack = self.stack.as_mut().expect("backed a crashed host");
        let entry = stack.sockets.get_mut(&sid).expect("just inserted");
        entry.listener_port = Some(port);
        entry.state = TcpState::Listen;
        Self::track_tuple(stack, sid);
    }

    // ----- the socket API ------------------------------------------------------

    /// `listen(port)` with the host's backlog (or `backlog` if given).
    pub fn listen(
        &mut self,
        now: SimTime,
        app: AppId,
        port: u16,
        backlog: Option<usize>,
    ) -> Result<(), SocketError> {
        let backlog = backlog.unwrap_or(self.config.backlog).max(1);
        let Some(stack) = self.stack.as_mut() else {
            return Err(SocketError::HostDown);
        };
        if port == 0 {
            return Err(self.fail(app, None, "listen", SocketError::InvalidAddress));
        }
        if stack.listeners.contains_key(&port) || stack.ports.in_use(port) {
            return Err(self.fail(app, None, "listen", SocketError::PortInUse(port)));
        }
        stack.listeners.insert(
            port,
            Listener {
                owner: app,
                free: BTreeSet::new(),
                unbacked: BTreeMap::new(),
                accept_queue: VecDeque::new(),
            },
        );
        self.trace_call(app, None, SocketCall::Listen { port, backlog });
        self.arm_listener(now, port, backlog);
        Ok(())
    }

    /// Stops listening on `port`: free listening sockets close, and
    /// connections still waiting to be accepted are reset, as Linux does.
    /// Only the application that listens on `port` can stop it.
    pub fn unlisten(&mut self, now: SimTime, app: AppId, port: u16) {
        let Some(stack) = self.stack.as_mut() else {
            return;
        };
        if stack.listeners.get(&port).is_none_or(|l| l.owner != app) {
            return;
        }
        let unbacked = stack
            .listeners
            .remove(&port)
            .expect("checked above")
            .unbacked;
        // In socket order, unbacked or not.
        let mut all: Vec<SocketId> = stack
            .sockets
            .iter()
            .filter(|(_, e)| e.listener_port == Some(port))
            .map(|(s, _)| s)
            .chain(unbacked.keys().copied())
            .collect();
        all.sort();
        for sid in all {
            if unbacked.contains_key(&sid) {
                let closed = self.listen_transition(sid, port, false);
                self.effects.push(Effect::Trace(closed));
                let stack = self.stack.as_mut().expect("checked above");
                stack.ports.release(port);
                continue;
            }
            let stack = self.stack.as_mut().expect("checked above");
            let entry = stack.sockets.get_mut(&sid).expect("listed above");
            entry.app_closed = true;
            entry.listener_port = None;
            if entry.state == TcpState::Listen {
                entry.tcp_mut().close();
            } else {
                entry.tcp_mut().abort();
            }
            self.poll(now, sid, Cause::Local);
        }
    }

    /// Takes the oldest established connection waiting on `port`.
    pub fn accept(&mut self, now: SimTime, app: AppId, port: u16) -> Option<SocketId> {
        let stack = self.stack.as_mut()?;
        let listener = stack.listeners.get_mut(&port)?;
        if listener.owner != app {
            return None;
        }
        let sid = listener.accept_queue.pop_front()?;
        let entry = stack.sockets.get_mut(&sid)?;
        entry.listener_port = None;
        entry.owner = Some(app);
        let remote = entry
            .tuple
            .map(|(_, a, p)| SocketAddrV4::new(a, p))
            .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        self.trace_call(app, Some(sid), SocketCall::Accept { remote });
        // The slot this connection used is free again.
        self.arm_listener(now, port, 1);
        // Data or a FIN may have arrived before the accept.
        self.settle(now, sid);
        Some(sid)
    }

    /// An ephemeral port for a connection to `remote`: the first port, from
    /// where the last search stopped, that no listener holds and that no
    /// connection to `remote` uses (TIME-WAIT included). Only the 4-tuple
    /// must be unique, as on Linux, so connections to different
    /// destinations may share a port; the search order is one counter for
    /// the whole host (Linux starts from a hash of the destination), so a
    /// host that never wraps around its range picks the same ports as before.
    fn allocate_port(&mut self, remote: SocketAddrV4) -> Result<u16, SocketError> {
        let (lo, hi) = self.config.ephemeral_ports;
        let stack = self.stack.as_mut().ok_or(SocketError::HostDown)?;
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        let start = stack.next_ephemeral.clamp(lo, hi);
        let to = (*remote.ip(), remote.port());
        // From the cursor to the end of the range, then from its start: the
        // first port a scan from the cursor would find, without the scan.
        let found = stack
            .ports
            .first_allowed(start, hi, to)
            .or_else(|| stack.ports.first_allowed(lo, hi.min(start), to));
        let Some(port) = found.filter(|_| lo <= hi) else {
            return Err(SocketError::PortsExhausted(span));
        };
        stack.next_ephemeral = if port >= hi { lo } else { port + 1 };
        Ok(port)
    }

    /// `connect(remote)` from a fresh ephemeral port.
    pub fn connect(
        &mut self,
        now: SimTime,
        app: AppId,
        remote: SocketAddrV4,
    ) -> Result<SocketId, SocketError> {
        if self.stack.is_none() {
            return Err(SocketError::HostDown);
        }
        if remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(self.fail(app, None, "connect", SocketError::InvalidAddress));
        }
        let local_port = match self.allocate_port(remote) {
            Ok(p) => p,
            Err(e) => return Err(self.fail(app, None, "connect", e)),
        };
        let sid = self.new_id();
        let (mut set, handle) = self.new_tcp_socket();
        let stack = self.stack.as_mut().expect("checked above");
        let remote_ep = IpEndpoint::new(IpAddress::Ipv4(*remote.ip()), remote.port());
        if set
            .get_mut::<tcp::Socket>(handle)
            .connect(stack.iface.context(), remote_ep, local_port)
            .is_err()
        {
            return Err(self.fail(app, None, "connect", SocketError::InvalidAddress));
        }
        stack.ports.take(local_port);
        stack
            .ports
            .hold(sid, (local_port, *remote.ip(), remote.port()));
        self.trace_call(app, Some(sid), SocketCall::Connect { remote, local_port });
        self.insert_entry(now, sid, (set, handle), Protocol::Tcp, app, local_port);
        if let Some(entry) = self.stack.as_mut().and_then(|s| s.sockets.get_mut(&sid)) {
            entry.connect_pending = true;
        }
        self.poll(now, sid, Cause::Local);
        Ok(sid)
    }

    fn owned(&mut self, app: AppId, sid: SocketId) -> Result<&mut Entry, SocketError> {
        let stack = self.stack.as_mut().ok_or(SocketError::HostDown)?;
        match stack.sockets.get_mut(&sid) {
            Some(e) if e.owner == Some(app) && !e.app_closed && e.listener_port.is_none() => Ok(e),
            _ => Err(SocketError::BadSocket),
        }
    }

    /// `send(data)`: copies what fits into the send buffer and returns how much.
    pub fn send(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        data: &[u8],
    ) -> Result<usize, SocketError> {
        self.send_offered(now, app, sid, data, data.len())
    }

    /// `send` of a write of `offered` bytes of which only the first
    /// `data.len()` are given (an application generating a long payload as
    /// the socket takes it gives at most [`Host::send_room`] bytes). The
    /// socket and the trace see exactly what a `send` of all `offered`
    /// bytes would have shown: the same bytes accepted, the same
    /// `requested`, and a `Writable` event later when not all of it fit.
    pub fn send_offered(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        data: &[u8],
        offered: usize,
    ) -> Result<usize, SocketError> {
        let offered = offered.max(data.len());
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "send", e)),
        };
        if entry.protocol != Protocol::Tcp {
            return Err(self.fail(app, Some(sid), "send", SocketError::BadSocket));
        }
        if !entry.tcp().may_send() {
            let err = if entry.reset {
                SocketError::Reset
            } else {
                SocketError::NotConnected
            };
            return Err(self.fail(app, Some(sid), "send", err));
        }
        let accepted = entry.tcp_mut().send_slice(data).unwrap_or(0);
        entry.written_total += accepted as u64;
        if accepted < offered {
            entry.want_write = true;
        }
        // A send that took nothing changed nothing: if the socket was polled
        // at this very instant, polling it again would send nothing and find
        // the same deadline (a bulk sender's second try after every ACK).
        let unchanged = accepted == 0 && entry.polled_at == Some(now);
        self.trace_call(
            app,
            Some(sid),
            SocketCall::Send {
                requested: offered,
                accepted,
                preview: Preview::of(&data[..accepted]),
            },
        );
        if !unchanged {
            self.poll(now, sid, Cause::Local);
        }
        Ok(accepted)
    }

    /// `recv(max)`: bytes, end of stream, or nothing yet.
    pub fn recv(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        max: usize,
    ) -> Result<Recv, SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "recv", e)),
        };
        if entry.protocol != Protocol::Tcp {
            return Err(self.fail(app, Some(sid), "recv", SocketError::BadSocket));
        }
        if entry.reset {
            return Err(SocketError::Reset);
        }
        let socket = entry.tcp_mut();
        if socket.recv_queue() > 0 {
            // The receive buffer is a ring: read its contiguous parts
            // straight into the result, without zero-filling first.
            let want = max.min(socket.recv_queue());
            let mut data = Vec::with_capacity(want);
            while data.len() < want {
                let missing = want - data.len();
                let got = socket
                    .recv(|buf| {
                        let n = buf.len().min(missing);
                        data.extend_from_slice(&buf[..n]);
                        (n, n)
                    })
                    .unwrap_or(0);
                if got == 0 {
                    break;
                }
            }
            let n = data.len();
            entry.read_total += n as u64;
            entry.rx_notified = entry.tcp().recv_queue();
            self.trace_call(
                app,
                Some(sid),
                SocketCall::Recv {
                    bytes: n,
                    preview: Preview::of(&data),
                },
            );
            // Reading opens the receive window; smoltcp may want to say so.
            self.poll(now, sid, Cause::Local);
            return Ok(Recv::Data(data));
        }
        if entry.state.peer_finished() || (entry.state == TcpState::Closed && entry.eof_notified) {
            self.trace_call(app, Some(sid), SocketCall::RecvEof);
            return Ok(Recv::Eof);
        }
        if entry.state == TcpState::Closed {
            return Err(SocketError::NotConnected);
        }
        Ok(Recv::WouldBlock)
    }

    /// `shutdown(SHUT_WR)`: sends FIN; the socket can still read.
    pub fn shutdown(&mut self, now: SimTime, app: AppId, sid: SocketId) -> Result<(), SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "shutdown", e)),
        };
        if entry.protocol == Protocol::Tcp {
            entry.tcp_mut().close();
        }
        self.trace_call(app, Some(sid), SocketCall::Shutdown);
        self.poll(now, sid, Cause::Local);
        Ok(())
    }

    /// `close()`: the application lets go of the socket. TCP finishes the
    /// close handshake on its own; with unread data it sends RST instead,
    /// as Linux does.
    pub fn close(&mut self, now: SimTime, app: AppId, sid: SocketId) -> Result<(), SocketError> {
        let host = self.id;
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "close", e)),
        };
        entry.app_closed = true;
        match entry.protocol {
            Protocol::Tcp => {
                let unread = entry.tcp().recv_queue();
                if unread > 0 {
                    let lost =
                        lost_data(entry, host, sid, crate::trace::LossCause::CloseWithUnread);
                    entry.tcp_mut().abort();
                    self.trace_call(app, Some(sid), SocketCall::Close { unread });
                    if let Some(lost) = lost {
                        self.trace(lost);
                    }
                    self.poll(now, sid, Cause::Local);
                    return Ok(());
                } else {
                    entry.tcp_mut().close();
                }
                self.trace_call(app, Some(sid), SocketCall::Close { unread });
                self.poll(now, sid, Cause::Local);
            }
            Protocol::Udp => {
                self.trace_call(app, Some(sid), SocketCall::Close { unread: 0 });
                let stack = self.stack.as_mut().expect("owned checked the stack");
                Self::remove(stack, sid);
            }
        }
        Ok(())
    }

    /// `close()` with `SO_LINGER` 0: RST at once, no TIME-WAIT.
    pub fn abort(&mut self, now: SimTime, app: AppId, sid: SocketId) -> Result<(), SocketError> {
        let host = self.id;
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "abort", e)),
        };
        entry.app_closed = true;
        let mut lost = None;
        if entry.protocol == Protocol::Tcp {
            lost = lost_data(entry, host, sid, crate::trace::LossCause::Abort);
            entry.tcp_mut().abort();
        }
        self.trace_call(app, Some(sid), SocketCall::Abort);
        if let Some(lost) = lost {
            self.trace(lost);
        }
        self.poll(now, sid, Cause::Local);
        Ok(())
    }

    /// Switches Nagle's algorithm on one socket (`TCP_NODELAY` is `false`).
    pub fn set_nagle(
        &mut self,
        app: AppId,
        sid: SocketId,
        enabled: bool,
    ) -> Result<(), SocketError> {
        let entry = self.owned(app, sid)?;
        if entry.protocol == Protocol::Tcp {
            entry.tcp_mut().set_nagle_enabled(enabled);
            // Nagle may have been holding back a segment: the next call
            // must poll, even one that changes nothing else.
            entry.polled_at = None;
        }
        Ok(())
    }

    /// Bytes received on a socket and not yet read.
    pub fn recv_queue(&mut self, app: AppId, sid: SocketId) -> Result<usize, SocketError> {
        let entry = self.owned(app, sid)?;
        Ok(match entry.protocol {
            Protocol::Tcp => entry.tcp().recv_queue(),
            Protocol::Udp => 0,
        })
    }

    /// Free space in a TCP socket's send buffer: how much a `send` would
    /// accept now (0 for UDP).
    pub fn send_room(&mut self, app: AppId, sid: SocketId) -> Result<usize, SocketError> {
        let entry = self.owned(app, sid)?;
        Ok(match entry.protocol {
            Protocol::Tcp => {
                let tcp = entry.tcp();
                tcp.send_capacity().saturating_sub(tcp.send_queue())
            }
            Protocol::Udp => 0,
        })
    }

    /// Bytes in a socket's send buffer (unsent or unacknowledged).
    pub fn send_queue(&mut self, app: AppId, sid: SocketId) -> Result<usize, SocketError> {
        let entry = self.owned(app, sid)?;
        Ok(match entry.protocol {
            Protocol::Tcp => entry.tcp().send_queue(),
            Protocol::Udp => 0,
        })
    }

    /// Connections in TIME-WAIT kept as records rather than smoltcp sockets.
    pub fn time_wait_records(&self) -> usize {
        self.stack.as_ref().map_or(0, |s| s.time_wait.len())
    }

    /// Sockets that have a smoltcp socket (and its buffers) right now:
    /// neither TIME-WAIT records nor unbacked listening sockets count.
    pub fn smoltcp_sockets(&self) -> usize {
        self.stack.as_ref().map_or(0, |s| s.sockets.iter().count())
    }

    /// Sockets this host has recycled so far (over every life).
    pub fn sockets_recycled(&self) -> u64 {
        self.recycled
    }

    /// A connection's current TCP state.
    pub fn tcp_state(&self, sid: SocketId) -> Option<TcpState> {
        let stack = self.stack.as_ref()?;
        match stack.sockets.get(&sid) {
            Some(e) => Some(e.state),
            None if stack.time_wait.contains_key(&sid) => Some(TcpState::TimeWait),
            None => stack
                .listeners
                .values()
                .any(|l| l.unbacked.contains_key(&sid))
                .then_some(TcpState::Listen),
        }
    }

    /// Binds a UDP socket to `port` (0 picks an ephemeral port).
    pub fn udp_bind(
        &mut self,
        now: SimTime,
        app: AppId,
        port: u16,
    ) -> Result<SocketId, SocketError> {
        let Some(stack) = self.stack.as_ref() else {
            return Err(SocketError::HostDown);
        };
        let port = if port == 0 {
            let (lo, hi) = self.config.ephemeral_ports;
            match (lo..=hi).find(|p| !stack.udp_ports.contains_key(p)) {
                Some(p) => p,
                None => {
                    let span = u32::from(hi.saturating_sub(lo)) + 1;
                    return Err(self.fail(app, None, "bind", SocketError::PortsExhausted(span)));
                }
            }
        } else if stack.udp_ports.contains_key(&port) {
            return Err(self.fail(app, None, "bind", SocketError::PortInUse(port)));
        } else {
            port
        };
        let c = &self.config.udp;
        let meta = || vec![udp::PacketMetadata::EMPTY; c.queue_datagrams];
        let rx = udp::PacketBuffer::new(meta(), vec![0u8; c.buffer_bytes]);
        let tx = udp::PacketBuffer::new(meta(), vec![0u8; c.buffer_bytes]);
        let mut socket = udp::Socket::new(rx, tx);
        if socket.bind(IpListenEndpoint::from(port)).is_err() {
            return Err(self.fail(app, None, "bind", SocketError::InvalidAddress));
        }
        let sid = self.new_id();
        let mut set = SocketSet::new(Vec::with_capacity(1));
        let handle = set.add(socket);
        self.insert_entry(
            now,
            sid,
            (PooledSet::owned(set), handle),
            Protocol::Udp,
            app,
            port,
        );
        self.stack
            .as_mut()
            .expect("checked above")
            .udp_ports
            .insert(port, sid);
        self.trace_call(app, Some(sid), SocketCall::Bind { port });
        Ok(sid)
    }

    /// `sendto(dst, data)` on a UDP socket.
    pub fn send_to(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<(), SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "sendto", e)),
        };
        if entry.protocol != Protocol::Udp {
            return Err(self.fail(app, Some(sid), "sendto", SocketError::BadSocket));
        }
        let ep = IpEndpoint::new(IpAddress::Ipv4(*dst.ip()), dst.port());
        if entry.udp_mut().send_slice(data, ep).is_err() {
            return Err(self.fail(app, Some(sid), "sendto", SocketError::MessageTooLarge));
        }
        self.trace_call(
            app,
            Some(sid),
            SocketCall::SendTo {
                dst,
                bytes: data.len(),
                preview: Preview::of(data),
            },
        );
        self.poll(now, sid, Cause::Local);
        Ok(())
    }

    /// `recvfrom()` on a UDP socket: one datagram, or `None`.
    pub fn recv_from(
        &mut self,
        app: AppId,
        sid: SocketId,
    ) -> Result<Option<(SocketAddrV4, Vec<u8>)>, SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "recvfrom", e)),
        };
        if entry.protocol != Protocol::Udp {
            return Err(self.fail(app, Some(sid), "recvfrom", SocketError::BadSocket));
        }
        match entry.udp_mut().recv() {
            Ok((data, meta)) => {
                let src = endpoint_v4(meta.endpoint);
                let data = data.to_vec();
                self.trace_call(
                    app,
                    Some(sid),
                    SocketCall::RecvFrom {
                        src,
                        bytes: data.len(),
                        preview: Preview::of(&data),
                    },
                );
                Ok(Some((src, data)))
            }
            Err(_) => {
                entry.udp_notified = false;
                Ok(None)
            }
        }
    }

    /// The socket table, like `ss -tuan`.
    pub fn socket_table(&self) -> Vec<SocketRow> {
        let Some(stack) = self.stack.as_ref() else {
            return Vec::new();
        };
        let mut rows: Vec<SocketRow> = stack
            .sockets
            .iter()
            .map(|(sid, e)| {
                let (state, recv_queue, send_queue, local, remote) = match e.protocol {
                    Protocol::Tcp => {
                        let s = e.tcp();
                        (
                            Some(e.state),
                            s.recv_queue(),
                            s.send_queue(),
                            s.local_endpoint()
                                .map(endpoint_v4)
                                .unwrap_or(SocketAddrV4::new(self.addr, e.local_port)),
                            e.tuple.map(|(_, a, p)| SocketAddrV4::new(a, p)),
                        )
                    }
                    Protocol::Udp => (None, 0, 0, SocketAddrV4::new(self.addr, e.local_port), None),
                };
                SocketRow {
                    id: sid,
                    protocol: e.protocol,
                    state,
                    local,
                    remote,
                    recv_queue,
                    send_queue,
                    owner: if e.app_closed { None } else { e.owner },
                    since: e.since,
                }
            })
            .collect();
        let unbacked = stack.listeners.iter().flat_map(|(port, l)| {
            l.unbacked.iter().map(|(sid, since)| SocketRow {
                id: *sid,
                protocol: Protocol::Tcp,
                state: Some(TcpState::Listen),
                local: SocketAddrV4::new(self.addr, *port),
                remote: None,
                recv_queue: 0,
                send_queue: 0,
                owner: Some(l.owner),
                since: *since,
            })
        });
        rows.extend(unbacked);
        rows.extend(stack.time_wait.iter().map(|(sid, tw)| {
            let (local_port, remote_addr, remote_port) = tw.tuple;
            SocketRow {
                id: *sid,
                protocol: Protocol::Tcp,
                state: Some(TcpState::TimeWait),
                local: SocketAddrV4::new(self.addr, local_port),
                remote: Some(SocketAddrV4::new(remote_addr, remote_port)),
                recv_queue: 0,
                send_queue: 0,
                owner: None,
                since: tw.since,
            }
        }));
        // The live sockets came in id order; the rest join them.
        rows.sort_by_key(|r| r.id);
        rows
    }
}

/// When to poll a socket that asks for `at`: smoltcp counts microseconds and
/// says "now" as time zero; a deadline that is not in the future means "as
/// soon as possible", which is the next microsecond, so time always moves.
fn deadline_after(now: SimTime, at: SimTime) -> SimTime {
    if at <= now {
        SimTime::from_micros(now.as_micros() + 1)
    } else {
        at
    }
}

/// The TIME-WAIT record a socket can become right now, if it can become one
/// without any difference in what it sends or when.
///
/// It must be a TIME-WAIT socket its application has closed, with empty
/// buffers, whose last segment (sent in TIME-WAIT, with its receive buffer
/// empty) was a plain ACK, and whose only timer left is TIME-WAIT's own.
/// Two smoltcp states the record cannot see are ruled out from what the
/// socket sent: a challenge-ACK rate limit still running (the socket
/// answered a segment less than a second ago) and out-of-order data it
/// would report in SACK blocks. A user timeout can end TIME-WAIT early with
/// an RST, which the record does not model, so sockets with one stay real.
fn time_wait_record(
    entry: &Entry,
    poll_at: Option<smoltcp::time::Instant>,
    now: SimTime,
    config: &HostConfig,
) -> Option<TimeWait> {
    let eligible = config.time_wait_minisockets
        && entry.protocol == Protocol::Tcp
        && entry.state == TcpState::TimeWait
        && entry.app_closed
        && entry.listener_port.is_none()
        && config.tcp.user_timeout.is_none()
        && !entry.sack_pending;
    if !eligible {
        return None;
    }
    let smol_now = smol_instant(now);
    if entry
        .last_ingress_reply
        .is_some_and(|t| smol_now < smol_instant(t) + smoltcp::time::Duration::from_secs(1))
    {
        return None;
    }
    let last_ack = entry.time_wait_ack.as_deref()?;
    let poll_at = poll_at.filter(|at| *at > smol_now)?;
    let socket = entry.tcp();
    if socket.recv_queue() > 0 || socket.send_queue() > 0 {
        return None;
    }
    TimeWait::adopt(&time_wait::Observed {
        last_ack,
        rx_capacity: socket.recv_capacity(),
        poll_at,
        since: entry.since,
        scheduled: entry.scheduled,
    })
}

/// The data a connection loses when it ends now: what was received and not
/// read, and what was written and not acknowledged, with stream offsets.
fn lost_data(
    entry: &Entry,
    host: HostId,
    sid: SocketId,
    cause: crate::trace::LossCause,
) -> Option<TraceEvent> {
    let socket = entry.tcp();
    let unread = socket.recv_queue() as u64;
    let unacked = socket.send_queue() as u64;
    if unread == 0 && unacked == 0 {
        return None;
    }
    Some(TraceEvent::DataLost {
        host,
        socket: sid,
        cause,
        unread: (unread > 0).then_some((entry.read_total, unread)),
        unacked: (unacked > 0).then(|| (entry.written_total - unacked, unacked)),
    })
}

/// Explains a transition to CLOSED: `None` for the normal ends of a
/// connection, otherwise why it was cut short.
fn closed_reason(from: TcpState, cause: Cause, app_closed: bool) -> Option<CloseReason> {
    match (from, cause) {
        (_, Cause::Ingress { rst: true }) => Some(CloseReason::Reset),
        (TcpState::TimeWait | TcpState::LastAck | TcpState::Listen, _) => None,
        (_, _) if app_closed => None,
        (TcpState::Closing, Cause::Ingress { .. }) => None,
        _ => Some(CloseReason::TimedOut),
    }
}

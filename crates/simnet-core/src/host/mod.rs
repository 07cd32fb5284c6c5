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
//!   yet accepted, as in Linux. A SYN beyond it is dropped, as Linux drops
//!   it, so the client retransmits ([`BacklogOverflow::Drop`]), or answered
//!   with RST by smoltcp ([`BacklogOverflow::Reset`]).
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

mod api;
mod buffers;
#[cfg(test)]
mod connect_tests;
mod demux;
mod device;
mod layered;
mod observe;
mod ports;
mod sockets;
mod ss;
mod table;
mod time_wait;
mod udp_api;
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
use std::sync::Arc;
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

/// What a host does with a SYN for a listening port whose backlog is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BacklogOverflow {
    /// Discard the SYN, as Linux does by default
    /// (`net.ipv4.tcp_abort_on_overflow = 0`): the client hears nothing and
    /// retransmits its SYN after its retransmission timeout, by which time
    /// the application may have accepted and freed a place. The trace shows
    /// the discard (`listen backlog full`).
    #[default]
    Drop,
    /// Answer with RST, as Linux does with `tcp_abort_on_overflow = 1` (and
    /// as smoltcp does for any SYN no listening socket takes): the client's
    /// `connect()` fails at once with "connection refused".
    Reset,
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
    /// What a SYN finds when every one of a port's `backlog` places is
    /// taken: dropped, as Linux does by default, or answered with RST.
    pub backlog_overflow: BacklogOverflow,
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
            backlog_overflow: BacklogOverflow::Drop,
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
        bytes: Arc<[u8]>,
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

/// A connection's (local port, remote address, remote port) as one integer,
/// ordered as the tuples are (port, then address octets, then port): a
/// lookup compares integers, not addresses octet by octet.
fn conn_key(&(local_port, remote, remote_port): &(u16, Ipv4Addr, u16)) -> u64 {
    (u64::from(local_port) << 48) | (u64::from(u32::from(remote)) << 16) | u64::from(remote_port)
}

struct Stack {
    iface: Interface,
    device: SimDevice,
    sockets: SocketTable<Entry>,
    /// (local port, remote address, remote port) → connection socket, the
    /// tuple packed into one integer ([`conn_key`]): every arriving segment
    /// looks its socket up here, among thousands.
    tcp_conns: BTreeMap<u64, SocketId>,
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
    time_wait_ack: Option<Arc<[u8]>>,
    /// The stream layer (TLS) the application installed, if any.
    layered: Option<Box<Layered>>,
}

/// A socket's stream layer and the bytes waiting on either side of it
/// (see [`crate::layer`]).
struct Layered {
    layer: Box<dyn crate::layer::StreamLayer>,
    /// Bytes the layer produced that TCP's send buffer has not taken yet.
    wire_out: Vec<u8>,
    /// Plaintext the layer opened that the application has not read yet.
    plain_in: Vec<u8>,
    /// The application closed (or shut down) while `wire_out` still held
    /// bytes: TCP's FIN waits for them.
    close_pending: bool,
    /// The layer failed: the connection is closing and carries nothing more.
    failed: bool,
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
}

#[cfg(test)]
mod conn_key_tests {
    use super::*;

    #[test]
    fn connection_keys_order_as_their_tuples() {
        let ports = [0u16, 1, 80, 255, 256, 49152, u16::MAX];
        let addrs: [Ipv4Addr; 5] = [
            [0, 0, 0, 0].into(),
            [10, 0, 0, 1].into(),
            [10, 0, 1, 0].into(),
            [10, 1, 0, 0].into(),
            [255, 255, 255, 255].into(),
        ];
        let mut tuples = Vec::new();
        for &l in &ports {
            for &a in &addrs {
                for &r in &ports {
                    tuples.push((l, a, r));
                }
            }
        }
        for x in &tuples {
            for y in &tuples {
                assert_eq!(conn_key(x).cmp(&conn_key(y)), x.cmp(y), "{x:?} {y:?}");
            }
        }
    }
}

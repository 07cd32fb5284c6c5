//! The trace: one typed stream of everything that happened in a run.
//!
//! Every layer reports here — a host handing a frame to a link, the link's
//! decision about it, its arrival, TCP state changes, socket calls,
//! application events, timeline actions — each stamped with simulated time,
//! in the order it happened. Renderers (text, Mermaid, pcap, JSON Lines,
//! summaries, live in `simnet-trace`) and expectations read only this.
//!
//! This module defines the data and nothing that formats it.

mod app_event;
mod thread;

pub use app_event::{AppEvent, FieldValue, KEYLOG_KIND, Summary};
pub use thread::{BATCH, Feeder, IN_FLIGHT, SinkThread};

use crate::link::{DropReason, LinkParams};
use crate::packet::{FrameId, PacketInfo};
use crate::socket::{AppId, CloseReason, HostId, LinkId, SocketCall, SocketId, TcpState};
use crate::time::{SimDuration, SimTime};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

/// A whole run: who was there, and what happened.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The world the events refer to.
    pub topology: Topology,
    /// Events in the order they happened (time never decreases).
    pub records: Records,
}

/// The trace's events, stored in fixed-size chunks so that recording never
/// moves what was already recorded (a long run records millions of events,
/// and a growing `Vec` would copy them all again at every doubling).
///
/// They also count the memory they hold ([`Records::bytes`]) as they grow,
/// so that a run can stop at a memory budget without ever walking its trace.
#[derive(Clone, Debug, Default)]
pub struct Records {
    chunks: Vec<Vec<TraceRecord>>,
    len: usize,
    bytes: u64,
}

impl Records {
    /// Events per chunk.
    const CHUNK: usize = 16 * 1024;

    /// Appends an event.
    #[inline]
    pub fn push(&mut self, mut record: TraceRecord) {
        // A kept event keeps its text, not what would write it.
        if let TraceEvent::App { event, .. } = &mut record.event {
            event.summary.settle();
        }
        self.bytes += record.bytes() as u64;
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < Self::CHUNK => chunk.push(record),
            _ => self.push_to_new_chunk(record),
        }
        self.len += 1;
    }

    /// About how many bytes of memory the events hold: the sum of
    /// [`TraceRecord::bytes`] over every event pushed, counted as they
    /// arrive (allocator overhead and the unused tail of the last chunk
    /// are not counted).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Starts a new chunk with `record` (the rare path of [`Records::push`]).
    #[cold]
    #[inline(never)]
    fn push_to_new_chunk(&mut self, record: TraceRecord) {
        let mut chunk = Vec::with_capacity(Self::CHUNK);
        chunk.push(record);
        self.chunks.push(chunk);
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &TraceRecord> + Clone + '_ {
        self.chunks.iter().flatten()
    }

    /// The latest event.
    pub fn last(&self) -> Option<&TraceRecord> {
        self.chunks.last().and_then(|c| c.last())
    }
}

impl<'a> IntoIterator for &'a Records {
    type Item = &'a TraceRecord;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<TraceRecord>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

impl FromIterator<TraceRecord> for Records {
    fn from_iter<I: IntoIterator<Item = TraceRecord>>(iter: I) -> Records {
        let mut r = Records::default();
        for record in iter {
            r.push(record);
        }
        r
    }
}

/// Where a run's events go as they happen, instead of into the stored
/// [`Trace`] ([`World::stream_to`](crate::World::stream_to)).
///
/// A sink sees every record once, in order, as the world records it, and
/// owns what it keeps: a renderer writes its output as the run goes, a
/// judge folds the events into the few numbers its claims need, a summary
/// into per-connection aggregates. A run streamed to a sink holds no event
/// after handing it over, so its memory does not grow with its duration.
/// The records are the ones a stored trace would have held, in the same
/// order: a renderer fed by a sink and one fed by the stored trace give the
/// same bytes.
pub trait TraceSink {
    /// Takes one record. The topology is the world's ([`Trace::topology`]);
    /// it does not change during a run.
    fn record(&mut self, topology: &Topology, record: &TraceRecord);

    /// Takes one record to keep: a world streaming to this sink hands each
    /// record over with this once it has made it. A sink that passes
    /// records on (to another thread: [`SinkThread`]) keeps it without a
    /// copy; every other sink reads it ([`record`](Self::record)) and lets
    /// it go, which is what this does unless overridden.
    fn take(&mut self, topology: &Topology, record: TraceRecord) {
        self.record(topology, &record);
    }
}

/// Several sinks fed the same records, in order (a renderer and the
/// expectations' judge, say).
impl TraceSink for Vec<Box<dyn TraceSink>> {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        for sink in self.iter_mut() {
            sink.record(topology, record);
        }
    }
}

/// A sink the caller keeps a handle to, to read it after the run.
impl<S: TraceSink> TraceSink for std::rc::Rc<std::cell::RefCell<S>> {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        self.borrow_mut().record(topology, record);
    }
}

/// A sink the caller keeps a handle to, shared with the thread that feeds
/// it (a streamed run's sinks run on a thread of their own: [`SinkThread`]).
/// A sink that panicked holding the lock is still read: it is a trace
/// reader, and the panic itself reaches the caller.
impl<S: TraceSink> TraceSink for Arc<std::sync::Mutex<S>> {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        self.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record(topology, record);
    }
}

impl Trace {
    /// Feeds every record of this stored trace to `sink`, as a streamed run
    /// would have (the stored path and the streamed path meet here).
    pub fn replay(&self, sink: &mut dyn TraceSink) {
        for record in &self.records {
            sink.record(&self.topology, record);
        }
    }
}

/// How much of each packet the trace keeps (a capture's snap length).
///
/// Every renderer but two reads only headers: the text timeline, JSON Lines,
/// the summary and the charts look at addresses, ports, flags, sequence
/// numbers, windows, options and lengths. A pcap's payloads and Mermaid's
/// HTTP and WebSocket labels (read from the TCP stream) need the payload
/// bytes.
/// Keeping them all costs memory in proportion to the traffic: a 100 MiB
/// transfer's trace takes 135 MiB under [`Capture::Full`] and 35 MiB under
/// [`Capture::Headers`], most of it the event records themselves
/// (`cargo bench --bench memory`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Capture {
    /// Every byte of every packet.
    #[default]
    Full,
    /// The IPv4 header and the TCP, UDP or ICMP header of every packet, with
    /// the packet's length (like `tcpdump -s` with a snap length that ends
    /// where the payload starts). A packet that does not decode is kept whole.
    Headers,
}

impl Capture {
    /// What the trace keeps of a packet about to be sent: the packet itself
    /// (shared, not copied) or a copy of its headers.
    pub(crate) fn keep(self, bytes: &Arc<[u8]>) -> Arc<[u8]> {
        match self {
            Capture::Full => bytes.clone(),
            Capture::Headers => match PacketInfo::header_len(bytes) {
                n if n < bytes.len() => Arc::from(&bytes[..n]),
                _ => bytes.clone(),
            },
        }
    }
}

/// Names and addresses, so renderers can print `client` instead of `HostId(0)`.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// The run's seed.
    pub seed: u64,
    /// Hosts, indexed by [`HostId`].
    pub hosts: Vec<HostInfo>,
    /// Links, indexed by [`LinkId`].
    pub links: Vec<LinkInfo>,
    /// Applications, indexed by [`AppId`].
    pub apps: Vec<AppInfo>,
}

/// A host as declared.
#[derive(Clone, Debug)]
pub struct HostInfo {
    /// Name.
    pub name: String,
    /// IPv4 address.
    pub addr: Ipv4Addr,
    /// Whether it forwards packets between its links (a router; see
    /// [`TraceEvent::FrameForwarded`]).
    pub router: bool,
}

/// A link as declared (parameters at the start of the run).
#[derive(Clone, Debug)]
pub struct LinkInfo {
    /// First host.
    pub a: HostId,
    /// Second host.
    pub b: HostId,
    /// Parameters from `a` to `b`.
    pub a_to_b: LinkParams,
    /// Parameters from `b` to `a`.
    pub b_to_a: LinkParams,
}

/// An application as declared.
#[derive(Clone, Debug)]
pub struct AppInfo {
    /// The host it runs on.
    pub host: HostId,
    /// Its kind, e.g. `tcp-echo`.
    pub kind: String,
    /// Its name: the scenario's name for it, or its kind when it was not
    /// given one (see `WorldBuilder::name_app`).
    pub name: String,
}

impl Topology {
    /// A host's name.
    pub fn host_name(&self, id: HostId) -> &str {
        self.hosts
            .get(id.0 as usize)
            .map(|h| h.name.as_str())
            .unwrap_or("?")
    }

    /// The host that owns an address.
    pub fn host_by_addr(&self, addr: Ipv4Addr) -> Option<HostId> {
        self.hosts
            .iter()
            .position(|h| h.addr == addr)
            .map(|i| HostId(i as u32))
    }

    /// A host by name.
    pub fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .map(|i| HostId(i as u32))
    }
}

/// One event at one time.
#[derive(Clone, Debug)]
pub struct TraceRecord {
    /// When it happened.
    pub time: SimTime,
    /// What happened.
    pub event: TraceEvent,
}

/// The memory an allocation of `n` bytes takes from a typical allocator
/// (glibc's malloc): `n` plus an 8-byte header, rounded up to 16 bytes, at
/// least 32; nothing for `n == 0`, which allocates nothing. Counting this
/// instead of `n` keeps [`Records::bytes`] close to what the process really
/// holds, where a trace of many small application events would otherwise
/// be undercounted by half.
fn alloc(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

impl TraceRecord {
    /// About how many bytes of memory this record holds: its own slot in
    /// the trace plus what it owns on the heap (packet bytes, the text and
    /// fields of an application event, a description). Cheap: it never
    /// walks more than an application event's field list.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<TraceRecord>() + self.event.heap_bytes()
    }
}

/// Everything the trace can say.
#[derive(Clone, Debug)]
pub enum TraceEvent {
    /// A host sent a frame (this is where captures see it).
    PacketSent {
        /// The frame.
        frame: FrameId,
        /// Sender.
        from: HostId,
        /// The host at the other end of the link, if there is one.
        to: Option<HostId>,
        /// The socket whose poll produced it (`None` for a stack-level reply,
        /// e.g. a RST to a closed port).
        socket: Option<SocketId>,
        /// The IPv4 packet as captured ([`TraceEvent::packet_info`] decodes
        /// it): every byte, or only its headers under [`Capture::Headers`].
        bytes: Arc<[u8]>,
        /// The packet's length on the wire; more than `bytes.len()` when the
        /// capture kept only the headers.
        len: u32,
    },
    /// A frame entered a bandwidth-limited link's queue (possibly empty).
    FrameQueued {
        /// The frame.
        frame: FrameId,
        /// The link.
        link: LinkId,
        /// Bytes already waiting ahead of it.
        queue_bytes: u64,
        /// When it will have left the sender entirely.
        departs: SimTime,
    },
    /// A frame was lost.
    FrameDropped {
        /// The frame.
        frame: FrameId,
        /// Sender.
        from: HostId,
        /// Intended receiver.
        to: Option<HostId>,
        /// Why.
        reason: DropReason,
    },
    /// A frame was held back (reordering, or a targeted delay fault).
    FrameDelayed {
        /// The frame.
        frame: FrameId,
        /// Extra delay.
        by: SimDuration,
        /// Why.
        cause: DelayCause,
    },
    /// A link delivered a frame twice.
    FrameDuplicated {
        /// The original.
        frame: FrameId,
        /// The copy's id.
        copy: FrameId,
    },
    /// A link flipped one bit of a frame.
    FrameCorrupted {
        /// The frame.
        frame: FrameId,
        /// Bit index from the start of the IP header.
        bit: u32,
    },
    /// A router took a frame off one link and put it on the next: one hop
    /// (`fwd` in the timeline). The frame keeps its id from the host that
    /// sent it to the host that receives it; what happens on the next link
    /// (queued, dropped, delivered) follows under the same id.
    FrameForwarded {
        /// The frame.
        frame: FrameId,
        /// The router.
        router: HostId,
        /// The node the frame came from (the previous hop).
        from: HostId,
        /// The next hop.
        to: HostId,
        /// The link to the next hop.
        link: LinkId,
        /// The packet as it leaves the router (TTL decremented, addresses
        /// and ports rewritten by a NAT, checksums updated), captured like
        /// [`TraceEvent::PacketSent`]'s.
        bytes: Arc<[u8]>,
        /// Its length on the wire.
        len: u32,
    },
    /// A frame entered an active queue (CoDel, fq_codel) on a link: unlike
    /// drop-tail's [`TraceEvent::FrameQueued`], when it leaves is decided
    /// only when it reaches the head ([`TraceEvent::FrameDequeued`]), and it
    /// may be dropped there.
    FrameEnqueued {
        /// The frame.
        frame: FrameId,
        /// The link.
        link: LinkId,
        /// Bytes already waiting in the queue (all of fq_codel's flows).
        queue_bytes: u64,
    },
    /// A frame left an active queue for the wire.
    FrameDequeued {
        /// The frame.
        frame: FrameId,
        /// The link.
        link: LinkId,
        /// How long it waited in the queue (its sojourn time).
        waited: SimDuration,
        /// When its last bit has left.
        departs: SimTime,
    },
    /// A NAT made a mapping for a new flow from its inside.
    NatMapped {
        /// The router doing the translation.
        router: HostId,
        /// IP protocol number (6 TCP, 17 UDP, 1 ICMP).
        proto: u8,
        /// The inside endpoint.
        inside: SocketAddrV4,
        /// What the outside sees instead.
        outside: SocketAddrV4,
        /// The remote endpoint of the flow.
        remote: SocketAddrV4,
    },
    /// A NAT forgot a mapping that had been idle for its timeout; packets of
    /// that flow find no mapping from now on.
    NatExpired {
        /// The router doing the translation.
        router: HostId,
        /// IP protocol number.
        proto: u8,
        /// The inside endpoint.
        inside: SocketAddrV4,
        /// What the outside saw.
        outside: SocketAddrV4,
        /// The remote endpoint of the flow.
        remote: SocketAddrV4,
        /// When the mapping was last used.
        last_used: SimTime,
    },
    /// A frame reached the host at the other end.
    FrameDelivered {
        /// The frame.
        frame: FrameId,
        /// Receiver.
        to: HostId,
    },
    /// A host threw away a frame it received.
    FrameDiscarded {
        /// The frame.
        frame: FrameId,
        /// Receiver.
        host: HostId,
        /// Why.
        reason: DiscardReason,
    },
    /// A TCP socket changed state.
    TcpState {
        /// Host.
        host: HostId,
        /// Socket.
        socket: SocketId,
        /// Local address.
        local: SocketAddrV4,
        /// Remote address (none while listening).
        remote: Option<SocketAddrV4>,
        /// Old state.
        from: TcpState,
        /// New state.
        to: TcpState,
        /// Set when the connection ended abnormally.
        reason: Option<CloseReason>,
    },
    /// A connection ended with data that will never reach an application:
    /// received bytes nobody read, and sent bytes never acknowledged.
    DataLost {
        /// Host.
        host: HostId,
        /// Socket.
        socket: SocketId,
        /// Why the data is lost.
        cause: LossCause,
        /// Received bytes the application never read: (stream offset, length).
        unread: Option<(u64, u64)>,
        /// Bytes the application wrote that the peer never acknowledged:
        /// (stream offset, length).
        unacked: Option<(u64, u64)>,
    },
    /// An application made a socket call.
    SocketCall {
        /// Host.
        host: HostId,
        /// Application.
        app: AppId,
        /// Socket (if the call concerns one).
        socket: Option<SocketId>,
        /// The call.
        call: SocketCall,
    },
    /// An application reported something of its own (an HTTP request, a WebSocket frame...).
    App {
        /// Host.
        host: HostId,
        /// Application.
        app: AppId,
        /// What.
        event: Box<AppEvent>,
    },
    /// A timeline action took effect.
    Action {
        /// What changed, in words.
        description: String,
    },
    /// A targeted fault matched a frame.
    FaultMatched {
        /// The frame.
        frame: FrameId,
        /// Which fault (index in declaration order).
        fault: usize,
        /// What it did, in words.
        description: String,
    },
    /// The run stopped.
    RunEnded {
        /// Why.
        reason: EndReason,
    },
}

/// Why a connection's data was thrown away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// The application closed the socket with unread data, so the stack reset it.
    CloseWithUnread,
    /// The application aborted the connection (SO_LINGER 0).
    Abort,
    /// The peer reset the connection; like Linux, unread data is discarded.
    ResetByPeer,
    /// Data arrived after the application had closed the socket; like Linux,
    /// the stack answers with RST.
    DataAfterClose,
}

impl fmt::Display for LossCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LossCause::CloseWithUnread => "closed with unread data",
            LossCause::Abort => "aborted",
            LossCause::ResetByPeer => "reset by peer",
            LossCause::DataAfterClose => "data arrived after close()",
        })
    }
}

/// Why a frame was delayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelayCause {
    /// The link's reordering fault.
    Reorder,
    /// A targeted fault.
    Fault,
}

/// Why a host discarded a frame it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscardReason {
    /// The IP or transport checksum did not match (the frame was corrupted).
    BadChecksum,
    /// The frame could not be parsed as IPv4.
    Malformed,
    /// The destination address is not this host's.
    NotForHost,
    /// The host is crashed.
    HostDown,
    /// A SYN for a listening port whose backlog is full, dropped as Linux
    /// drops it ([`crate::BacklogOverflow::Drop`]).
    BacklogFull,
}

impl fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiscardReason::BadChecksum => "bad checksum",
            DiscardReason::Malformed => "malformed",
            DiscardReason::NotForHost => "not for this host",
            DiscardReason::HostDown => "host down",
            DiscardReason::BacklogFull => "listen backlog full",
        })
    }
}

/// Why a run stopped.
///
/// New safety bounds may add reasons: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Nothing was left to do.
    Idle,
    /// The requested end time was reached.
    Until(SimTime),
    /// The scenario's time limit was reached.
    TimeLimit(SimTime),
    /// The bound on processed events was reached (a runaway run).
    EventLimit(u64),
    /// A stop condition given by the caller became true.
    Condition,
    /// One call into an application (its start, a socket event, a timer or
    /// a command) made more than `RunLimits::max_calls_per_callback` calls
    /// on its context (socket calls, events, timers) without returning:
    /// simulated time cannot move while it runs, so it is stuck in a loop.
    /// The application was stopped in the middle of that call.
    AppRunaway {
        /// The application.
        app: AppId,
        /// The host it runs on.
        host: HostId,
        /// The calls it had made in that one callback when it was stopped.
        calls: u64,
    },
    /// The trace grew past this many bytes (`RunLimits::max_trace_bytes`,
    /// the run's memory budget).
    MemoryLimit(u64),
}

impl EndReason {
    /// Whether a safety bound cut the run short because of what happened
    /// in it (an application stuck in a loop, the memory budget), as
    /// opposed to a limit the caller chose or the run simply finishing.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            EndReason::AppRunaway { .. } | EndReason::MemoryLimit(_)
        )
    }

    /// Why the run stopped, in words, naming the application and host of
    /// an [`EndReason::AppRunaway`] from `topology` (its `Display` has only
    /// their ids).
    pub fn describe(&self, topology: &Topology) -> String {
        match *self {
            EndReason::AppRunaway { app, host, calls } => {
                let who = match topology.apps.get(app.0 as usize) {
                    Some(info) if info.name != info.kind => {
                        format!("application `{}` ({})", info.name, info.kind)
                    }
                    Some(info) => format!("application `{}`", info.kind),
                    None => format!("application #{}", app.0),
                };
                runaway_message(&who, &format!("`{}`", topology.host_name(host)), calls)
            }
            other => other.to_string(),
        }
    }
}

/// The words of an [`EndReason::AppRunaway`], with the application and host
/// already named.
fn runaway_message(app: &str, host: &str, calls: u64) -> String {
    format!(
        "{app} on host {host} made {calls} calls (socket calls, events, timers) in one \
         callback without time moving: it is stuck in a loop, and was stopped"
    )
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Idle => f.write_str("idle: no events left"),
            EndReason::Until(t) => write!(f, "reached the requested end time {t}"),
            EndReason::TimeLimit(t) => write!(f, "time limit of {t} reached"),
            EndReason::EventLimit(n) => write!(f, "event limit of {n} events reached"),
            EndReason::Condition => f.write_str("stop condition met"),
            EndReason::AppRunaway { app, host, calls } => f.write_str(&runaway_message(
                &format!("application #{}", app.0),
                &format!("#{}", host.0),
                *calls,
            )),
            EndReason::MemoryLimit(bytes) => write!(
                f,
                "memory limit of {} for the trace reached: narrow the run with --until or \
                 a smaller time_limit (only mermaid and svg keep the whole run; the other \
                 formats are written as it goes: e.g. --format summary)",
                human_bytes(*bytes)
            ),
        }
    }
}

/// A byte count in binary units, e.g. `2.0 GiB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if unit == "bytes" {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {unit}")
    }
}

impl TraceEvent {
    /// The heap bytes this event owns (see [`TraceRecord::bytes`]), each
    /// allocation counted as a typical allocator serves it (see [`alloc`]).
    /// A packet's bytes count in full even when the frame in flight shares
    /// them: once the frame is delivered, the trace alone keeps them alive.
    fn heap_bytes(&self) -> usize {
        // An `Arc<[u8]>` allocation holds two counters before the bytes.
        const RC_HEADER: usize = 2 * std::mem::size_of::<usize>();
        match self {
            TraceEvent::PacketSent { bytes, .. } | TraceEvent::FrameForwarded { bytes, .. } => {
                alloc(RC_HEADER + bytes.len())
            }
            TraceEvent::App { event, .. } => {
                let fields: usize = event
                    .fields
                    .iter()
                    .map(|(name, value)| {
                        alloc(name.len())
                            + match value {
                                FieldValue::Text(t) => alloc(t.len()),
                                _ => 0,
                            }
                    })
                    .sum();
                alloc(std::mem::size_of::<AppEvent>())
                    + alloc(event.kind.len())
                    + alloc(event.summary.len())
                    + alloc(event.fields.capacity() * std::mem::size_of::<(String, FieldValue)>())
                    + fields
            }
            TraceEvent::Action { description } => alloc(description.len()),
            TraceEvent::FaultMatched { description, .. } => alloc(description.len()),
            _ => 0,
        }
    }

    /// The decoded headers of a [`TraceEvent::PacketSent`].
    ///
    /// Packets are stored as bytes only, which keeps the trace small; decoding
    /// costs a few dozen nanoseconds and only renderers do it.
    pub fn packet_info(&self) -> Option<PacketInfo> {
        match self {
            TraceEvent::PacketSent { bytes, len, .. } => {
                PacketInfo::parse_captured(bytes, *len as usize)
            }
            _ => None,
        }
    }
}

impl Trace {
    /// Appends an event.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: TraceEvent) {
        self.records.push(TraceRecord { time, event });
    }

    /// Every packet sent, with its time, sender and decoded headers.
    pub fn packets(&self) -> impl Iterator<Item = (SimTime, HostId, PacketInfo)> + '_ {
        self.records.iter().filter_map(|r| match &r.event {
            TraceEvent::PacketSent { from, .. } => Some((r.time, *from, r.event.packet_info()?)),
            _ => None,
        })
    }

    /// Every TCP state change on `host`, in order.
    pub fn tcp_states(
        &self,
        host: HostId,
    ) -> impl Iterator<Item = (SimTime, SocketId, TcpState, TcpState)> + '_ {
        self.records.iter().filter_map(move |r| match &r.event {
            TraceEvent::TcpState {
                host: h,
                socket,
                from,
                to,
                ..
            } if *h == host => Some((r.time, *socket, *from, *to)),
            _ => None,
        })
    }

    /// How many TCP sockets on `host` were in `state` at `time` (events at
    /// `time` included), reconstructed from the state changes.
    pub fn sockets_in_state(&self, host: HostId, state: TcpState, time: SimTime) -> usize {
        let mut current = std::collections::BTreeMap::new();
        for r in self.records.iter().take_while(|r| r.time <= time) {
            if let TraceEvent::TcpState {
                host: h,
                socket,
                to,
                ..
            } = &r.event
                && *h == host
            {
                current.insert(*socket, *to);
            }
        }
        current.values().filter(|s| **s == state).count()
    }

    /// The app events of a given kind.
    pub fn app_events<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (SimTime, HostId, &'a AppEvent)> + 'a {
        self.records.iter().filter_map(move |r| match &r.event {
            TraceEvent::App { host, event, .. } if event.kind == kind => {
                Some((r.time, *host, &**event))
            }
            _ => None,
        })
    }

    /// Why the run ended, if it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.records.iter().rev().find_map(|r| match r.event {
            TraceEvent::RunEnded { reason } => Some(reason),
            _ => None,
        })
    }
}

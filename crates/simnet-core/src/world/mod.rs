//! The world: hosts, links, applications, and the loop that drives them.
//!
//! [`WorldBuilder`] is the Rust API for declaring a network; [`World`] runs
//! it. The loop pops the earliest event from one queue — a frame arriving, a
//! socket's deadline, an application timer or start, a timeline action — sets
//! the clock to its time and handles it. It never ticks: an idle hour of
//! simulated time costs nothing. Every run is bounded in simulated time and in
//! events, and says which bound ended it.

use crate::app::{App, AppContext, Command, Runaway};
use crate::fault::{FaultAction, TargetedFault};
use crate::host::{Effect, Host, HostConfig};
use crate::link::{Delivery, Direction, DropReason, Fate, LinkDirection, LinkParams, LinkPatch};
use crate::packet::{Frame, FrameId, PacketInfo, Transport};
use crate::queue::EventQueue;
use crate::rng::{AppRng, Seed};
use crate::route::{Hop, Ipv4Net, NatConfig, NatExpiredAction, RoutingTable};
use crate::socket::{AppId, HostId, LinkId, SocketEvent, SocketId, SocketRow, TcpState, TimerId};
use crate::time::{SimDuration, SimTime};
use crate::trace::{
    AppInfo, Capture, DelayCause, DiscardReason, EndReason, HostInfo, LinkInfo, Topology, Trace,
    TraceEvent, TraceRecord, TraceSink,
};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

mod aqm;
mod builder;
mod forward;

use aqm::Aqm;
use forward::{Nat, Router};

pub use builder::{AppFactory, BuildError, WorldBuilder};

/// Bounds on a run. Hitting one ends the run and says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// The run stops at this simulated time.
    pub max_time: SimTime,
    /// The run stops after this many events (a guard against runaway runs).
    /// Default [`RunLimits::DEFAULT_MAX_EVENTS`].
    pub max_events: u64,
    /// The run stops once its trace holds more than this many bytes
    /// ([`Records::bytes`](crate::trace::Records::bytes)), with
    /// [`EndReason::MemoryLimit`]. Default
    /// [`RunLimits::DEFAULT_MAX_TRACE_BYTES`].
    pub max_trace_bytes: u64,
    /// The most calls one application callback may make on its context
    /// before the run ends with [`EndReason::AppRunaway`] (see
    /// [`AppContext`]). Default [`RunLimits::DEFAULT_MAX_CALLS_PER_CALLBACK`].
    pub max_calls_per_callback: u64,
}

impl RunLimits {
    /// The default memory budget of a trace: 1 GiB. Rendering needs
    /// memory of its own on top, so a `simnet run` that reaches the budget
    /// peaks at about 1.2 GB with `--format summary`, 1.5 GB with text and
    /// 1.9 GB with JSON Lines (measured on a WebSocket ping every 10 ms
    /// for a simulated century): well within an 8 GB machine, with room
    /// for the world itself and another run beside it.
    pub const DEFAULT_MAX_TRACE_BYTES: u64 = 1 << 30;

    /// The default event limit: 10 million events. Across the bundled
    /// scenarios an event adds 2.8 trace records on average, of about 125
    /// bytes each (about 350 bytes an event; 200 to 700 by scenario), so
    /// runs that record packets reach the memory budget first (after about
    /// 3 million events); the event limit bounds the time taken by runs
    /// that record little per event.
    pub const DEFAULT_MAX_EVENTS: u64 = 10_000_000;

    /// The default bound on calls in one application callback: one
    /// million. The busiest callback of every scenario and test makes at
    /// most a few thousand (an application opening its connections at
    /// start, a server publishing to every subscriber).
    pub const DEFAULT_MAX_CALLS_PER_CALLBACK: u64 = 1_000_000;
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_time: SimTime::from_secs(24 * 3600),
            max_events: Self::DEFAULT_MAX_EVENTS,
            max_trace_bytes: Self::DEFAULT_MAX_TRACE_BYTES,
            max_calls_per_callback: Self::DEFAULT_MAX_CALLS_PER_CALLBACK,
        }
    }
}

/// Something the timeline does at a given time.
///
/// New kinds of action may be added: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Change some parameters of a link, in one direction or both.
    PatchLink {
        /// The link.
        link: LinkId,
        /// `None` for both directions.
        direction: Option<Direction>,
        /// The change.
        patch: LinkPatch,
    },
    /// Take a link down: frames sent or in flight are lost.
    LinkDown(LinkId),
    /// Bring a link back up.
    LinkUp(LinkId),
    /// Cut every link between a host of one group and a host of the other.
    Partition(Vec<HostId>, Vec<HostId>),
    /// Undo every partition.
    Heal,
    /// Crash a host: all its sockets and applications vanish, silently.
    Crash(HostId),
    /// Restart a crashed host: empty socket tables, applications start again.
    Restart(HostId),
    /// Give an application a command.
    Command(AppId, Command),
}

struct LinkSlot {
    a: HostId,
    b: HostId,
    dirs: [LinkDirection; 2],
    /// Each direction's active queue, if its queue discipline is one.
    aqm: [Option<Aqm>; 2],
    up: bool,
    /// Bumped whenever the link is cut, so frames in flight are lost.
    epoch: u64,
    cut_reason: DropReason,
}

struct AppSlot {
    host: HostId,
    factory: AppFactory,
    instance: Option<Box<dyn App>>,
    incarnation: u32,
    rng: AppRng,
}

enum Event {
    Arrival {
        frame: Frame,
        to: HostId,
        link: LinkId,
        epoch: u64,
        corrupted: bool,
    },
    Deadline {
        host: HostId,
        socket: SocketId,
        incarnation: u32,
    },
    Timer {
        app: AppId,
        timer: TimerId,
        incarnation: u32,
    },
    Start {
        app: AppId,
        incarnation: u32,
    },
    Action(usize),
    /// An active queue's transmitter is free: the head may leave.
    Dequeue {
        link: LinkId,
        dir: Direction,
    },
    /// A NAT mapping's idle timeout may have run out.
    NatExpiry {
        router: HostId,
        key: (u8, u16, SocketAddrV4),
    },
}

/// A running simulation.
pub struct World {
    now: SimTime,
    queue: EventQueue<Event>,
    hosts: Vec<Host>,
    links: Vec<LinkSlot>,
    /// Per node: where each destination address goes.
    routes: Vec<RoutingTable>,
    /// Per node: its forwarding state if it is a router.
    routers: Vec<Option<Router>>,
    apps: Vec<AppSlot>,
    actions: Vec<Action>,
    /// Each fault with the number of packets it has matched so far.
    faults: Vec<(TargetedFault, u32)>,
    /// Partitioned host pairs (smaller id first).
    cut: BTreeSet<(HostId, HostId)>,
    trace: Recorder,
    /// How much of each packet the trace keeps.
    capture: Capture,
    limits: RunLimits,
    events: u64,
    next_frame: u64,
    next_timer: u64,
    cancelled: BTreeSet<TimerId>,
    pending: VecDeque<(AppId, SocketEvent)>,
    ended: Option<EndReason>,
    /// Set when an application callback was stopped by the runaway guard;
    /// the loop ends the run with it after the current step.
    runaway: Option<EndReason>,
    /// The most counted calls any one callback has made so far.
    busiest_callback: u64,
}

impl World {
    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// The trace so far.
    ///
    /// While the world streams to a sink ([`World::stream_to`]) its records
    /// are not stored: the trace holds the topology and what was recorded
    /// before streaming began.
    pub fn trace(&self) -> &Trace {
        &self.trace.trace
    }

    /// Takes the trace, leaving the world with an empty one.
    pub fn take_trace(&mut self) -> Trace {
        Trace {
            topology: self.trace.trace.topology.clone(),
            records: std::mem::take(&mut self.trace.trace.records),
        }
    }

    /// From now on, hands every record to `sink` as it happens instead of
    /// storing it in [`World::trace`]. The records are the same, in the same
    /// order, as a stored trace's; the run's memory then no longer grows
    /// with its duration (the trace's budget,
    /// [`RunLimits::max_trace_bytes`], counts only stored records). To read
    /// the sink after the run, pass an `Rc<RefCell<_>>` and keep a clone.
    pub fn stream_to(&mut self, sink: Box<dyn TraceSink>) {
        self.trace.sink = Some(sink);
    }

    /// Stops streaming and gives the sink back; records are stored again
    /// from now on.
    pub fn take_sink(&mut self) -> Option<Box<dyn TraceSink>> {
        self.trace.sink.take()
    }

    /// How many records the run has produced so far, stored or streamed.
    pub fn records_produced(&self) -> u64 {
        self.trace.recorded
    }

    /// A host's id by name.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.trace.trace.topology.host_by_name(name)
    }

    /// TCP sockets on all hosts that belong to a connection, in any state
    /// but LISTEN (a connection between two simulated hosts counts twice).
    /// Costs one step per host, not per socket.
    pub fn connected_sockets(&self) -> usize {
        self.hosts.iter().map(|h| h.connected_sockets()).sum()
    }

    /// A host's socket table, like `ss -tuan`.
    pub fn socket_table(&self, host: HostId) -> Vec<SocketRow> {
        self.hosts
            .get(host.0 as usize)
            .map(|h| h.socket_table())
            .unwrap_or_default()
    }

    /// How many of a host's TCP sockets are in `state` right now.
    pub fn count_sockets(&self, host: HostId, state: TcpState) -> usize {
        self.socket_table(host)
            .iter()
            .filter(|r| r.state == Some(state))
            .count()
    }

    /// An application, if it is running and of type `A`.
    pub fn app<A: App>(&self, id: AppId) -> Option<&A> {
        let instance = self.apps.get(id.0 as usize)?.instance.as_deref()?;
        (instance as &dyn Any).downcast_ref::<A>()
    }

    /// The most calls (socket calls, events, timers) any one application
    /// callback has made so far in this run: how close the run came to
    /// [`RunLimits::max_calls_per_callback`].
    pub fn busiest_callback(&self) -> u64 {
        self.busiest_callback
    }

    /// Why the run ended, once it has ended for good.
    pub fn ended(&self) -> Option<EndReason> {
        self.ended
    }

    /// Runs until nothing is left to do or a limit is hit.
    pub fn run(&mut self) -> EndReason {
        self.run_inner(None, &mut |_| false)
    }

    /// Runs every event up to and including `until`, then stops with the
    /// clock at `until` (unless a limit or idleness ends the run first).
    pub fn run_until(&mut self, until: SimTime) -> EndReason {
        self.run_inner(Some(until), &mut |_| false)
    }

    /// Runs until `stop` returns true (checked after every event), nothing is
    /// left, or a limit is hit.
    pub fn run_while_not(&mut self, mut stop: impl FnMut(&World) -> bool) -> EndReason {
        self.run_inner(None, &mut stop)
    }

    fn run_inner(
        &mut self,
        until: Option<SimTime>,
        stop: &mut dyn FnMut(&World) -> bool,
    ) -> EndReason {
        if let Some(reason) = self.ended {
            return reason;
        }
        loop {
            let next = self.queue.peek_time();
            let Some(next) = next else {
                return self.finish(EndReason::Idle);
            };
            if let Some(until) = until
                && next > until
            {
                self.now = self.now.max(until);
                return EndReason::Until(until);
            }
            if next > self.limits.max_time {
                self.now = self.limits.max_time;
                return self.finish(EndReason::TimeLimit(self.limits.max_time));
            }
            if self.events >= self.limits.max_events {
                return self.finish(EndReason::EventLimit(self.limits.max_events));
            }
            if self.trace.trace.records.bytes() > self.limits.max_trace_bytes {
                return self.finish(EndReason::MemoryLimit(self.limits.max_trace_bytes));
            }
            self.step();
            if let Some(reason) = self.runaway.take() {
                return self.finish(reason);
            }
            if stop(self) {
                return self.finish(EndReason::Condition);
            }
        }
    }

    fn finish(&mut self, reason: EndReason) -> EndReason {
        self.ended = Some(reason);
        // An idle world ends when the last thing happened, not when the last
        // (possibly superseded) timer was looked at.
        let at = match reason {
            EndReason::Idle => self.trace.last.unwrap_or(self.now),
            _ => self.now,
        };
        self.trace.push(at, TraceEvent::RunEnded { reason });
        reason
    }

    /// Handles the earliest event. Returns false when there is none.
    ///
    /// An application stopped by the runaway guard during the step is gone
    /// at once; the run records [`EndReason::AppRunaway`] the next time one
    /// of the `run` methods looks at it.
    pub fn step(&mut self) -> bool {
        let Some((time, event)) = self.queue.pop() else {
            return false;
        };
        self.now = time;
        self.events += 1;
        match event {
            Event::Arrival {
                frame,
                to,
                link,
                epoch,
                corrupted,
            } => self.arrive(frame, to, link, epoch, corrupted),
            Event::Deadline {
                host,
                socket,
                incarnation,
            } => {
                let h = &mut self.hosts[host.0 as usize];
                if h.incarnation == incarnation {
                    h.on_deadline(time, socket);
                    self.drain(host);
                }
            }
            Event::Timer {
                app,
                timer,
                incarnation,
            } => {
                if !self.cancelled.remove(&timer)
                    && self.apps[app.0 as usize].incarnation == incarnation
                {
                    self.call_app(app, |a, cx| a.on_timer(cx, timer));
                }
            }
            Event::Start { app, incarnation } => {
                let slot = &mut self.apps[app.0 as usize];
                if slot.incarnation == incarnation
                    && slot.instance.is_none()
                    && self.hosts[slot.host.0 as usize].is_up()
                {
                    slot.instance = Some((slot.factory)());
                    self.call_app(app, |a, cx| a.start(cx));
                }
            }
            Event::Action(i) => {
                let action = self.actions[i].clone();
                self.apply(action);
            }
            Event::NatExpiry { router, key } => self.nat_expiry(router, key),
            Event::Dequeue { link, dir } => self.dequeue(link, dir),
        }
        self.dispatch();
        true
    }

    /// Handles every effect a host produced, in order.
    fn drain(&mut self, host: HostId) {
        loop {
            let mut effects = std::mem::take(&mut self.hosts[host.0 as usize].effects);
            if effects.is_empty() {
                self.hosts[host.0 as usize].effects = effects;
                return;
            }
            for effect in effects.drain(..) {
                match effect {
                    Effect::Trace(event) => self.trace.push(self.now, event),
                    Effect::Frame {
                        bytes,
                        socket,
                        state,
                    } => self.transmit(host, bytes, socket, state),
                    Effect::Notify(app, event) => self.pending.push_back((app, event)),
                    Effect::Deadline(socket, at) => {
                        let incarnation = self.hosts[host.0 as usize].incarnation;
                        self.queue.push(
                            at,
                            Event::Deadline {
                                host,
                                socket,
                                incarnation,
                            },
                        );
                    }
                    Effect::Timer(app, timer, at) => {
                        let incarnation = self.apps[app.0 as usize].incarnation;
                        self.queue.push(
                            at,
                            Event::Timer {
                                app,
                                timer,
                                incarnation,
                            },
                        );
                    }
                }
            }
            // Nothing above calls into the host, so its list is still empty:
            // hand the allocation back for reuse.
            let slot = &mut self.hosts[host.0 as usize].effects;
            if slot.is_empty() {
                *slot = effects;
            }
        }
    }

    /// Delivers queued socket events to applications, which may cause more.
    fn dispatch(&mut self) {
        while let Some((app, event)) = self.pending.pop_front() {
            self.call_app(app, |a, cx| a.on_socket(cx, event));
        }
    }

    fn call_app(&mut self, app: AppId, f: impl FnOnce(&mut dyn App, &mut AppContext<'_>)) {
        let slot = &mut self.apps[app.0 as usize];
        let host_id = slot.host;
        let Some(mut instance) = slot.instance.take() else {
            return; // stopped (its host crashed)
        };
        let host = &mut self.hosts[host_id.0 as usize];
        let mut stopped = None;
        if host.is_up() {
            let mut cx = AppContext {
                now: self.now,
                app,
                host,
                rng: &mut slot.rng,
                next_timer: &mut self.next_timer,
                cancelled: &mut self.cancelled,
                directory: &self.trace.trace.topology.hosts,
                calls: 0,
                max_calls: self.limits.max_calls_per_callback,
            };
            // The runaway guard unwinds out of the callback (see
            // `AppContext`); only its own payload is caught here, and only
            // between calls into the host, which it never interrupts.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f(instance.as_mut(), &mut cx)
            }));
            self.busiest_callback = self.busiest_callback.max(cx.calls);
            match result {
                Ok(()) => {}
                Err(payload) if payload.is::<Runaway>() => stopped = Some(cx.calls),
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        match stopped {
            None => self.apps[app.0 as usize].instance = Some(instance),
            Some(calls) => {
                // The application is left half-way through a callback, so
                // it is dropped rather than called again; what it did
                // before it was stopped is still traced (drained below).
                self.runaway.get_or_insert(EndReason::AppRunaway {
                    app,
                    host: host_id,
                    calls,
                });
            }
        }
        self.drain(host_id);
    }

    /// Sends a frame a host produced down the link towards its destination.
    fn transmit(
        &mut self,
        from: HostId,
        bytes: Arc<[u8]>,
        socket: Option<SocketId>,
        state: Option<TcpState>,
    ) {
        let id = self.new_frame_id();
        let dst = PacketInfo::parse_dst(&bytes);
        let hop = self.routes[from.0 as usize].lookup(dst);
        let to = hop.map(|h| h.next);
        let action = self.match_faults(from, to, &bytes, state);
        self.trace.push(
            self.now,
            TraceEvent::PacketSent {
                frame: id,
                from,
                to,
                socket,
                bytes: self.capture.keep(&bytes),
                len: bytes.len() as u32,
            },
        );
        let Some(hop) = hop else {
            return self.drop_frame(id, from, None, DropReason::NoRoute);
        };
        self.send_on_link(id, from, bytes, hop, action, false);
    }

    /// Targeted faults see every packet a node puts on a link, in
    /// declaration order (only they need the decoded headers): the action
    /// of the first fault that selects it, with the fault's index and how
    /// many packets it has matched.
    fn match_faults(
        &mut self,
        from: HostId,
        to: Option<HostId>,
        bytes: &[u8],
        state: Option<TcpState>,
    ) -> Option<(usize, FaultAction, u32)> {
        let mut action = None;
        if !self.faults.is_empty() {
            let info = PacketInfo::parse(bytes).unwrap_or_else(|| undecodable(bytes));
            for (index, (fault, seen)) in self.faults.iter_mut().enumerate() {
                if fault.filter.matches(from, to, &info, state) {
                    *seen += 1;
                    if fault.selects(*seen) && action.is_none() {
                        action = Some((index, fault.action, *seen));
                    }
                }
            }
        }
        action
    }

    /// Puts frame `id` from `from` on the link of `hop`: a matched fault
    /// first, then the link's state, its queue and its fate, and the
    /// arrival at the other end. `corrupted` says whether an earlier link
    /// already flipped a bit of it.
    fn send_on_link(
        &mut self,
        id: FrameId,
        from: HostId,
        bytes: Arc<[u8]>,
        hop: Hop,
        action: Option<(usize, FaultAction, u32)>,
        corrupted: bool,
    ) {
        let now = self.now;
        let Hop {
            link: link_id,
            dir,
            next: peer,
        } = hop;
        let len = bytes.len();
        if let Some((index, action, seen)) = action {
            self.trace.push(
                now,
                TraceEvent::FaultMatched {
                    frame: id,
                    fault: index,
                    description: format!("{action} (match #{seen} of fault {})", index + 1),
                },
            );
            if action == FaultAction::Drop {
                return self.drop_frame(id, from, Some(peer), DropReason::Fault);
            }
        }
        let link = &mut self.links[link_id.0 as usize];
        if !link.up {
            return self.drop_frame(id, from, Some(peer), DropReason::LinkDown);
        }
        if self.cut.contains(&ordered(from, peer)) {
            return self.drop_frame(id, from, Some(peer), DropReason::Partition);
        }
        if link.aqm[dir.index()].is_some() {
            return self.enqueue(id, from, bytes, hop, action.map(|(_, a, _)| a), corrupted);
        }
        let epoch = link.epoch;
        let delivery = match link.dirs[dir.index()].transmit(now, len) {
            Fate::Dropped(reason) => return self.drop_frame(id, from, Some(peer), reason),
            Fate::Deliver(d) => d,
        };
        // Every frame of a bandwidth-limited link is recorded with its
        // departure time, so queue occupancy can be plotted exactly.
        if let Some(queue_bytes) = delivery.queued_behind_bytes {
            self.trace.push(
                now,
                TraceEvent::FrameQueued {
                    frame: id,
                    link: link_id,
                    queue_bytes,
                    departs: delivery.departs,
                },
            );
        }
        self.deliver_later(
            id,
            bytes,
            hop,
            delivery,
            action.map(|(_, a, _)| a),
            epoch,
            corrupted,
        );
    }

    /// Schedules the arrival (and any copy) of a frame a link accepted.
    #[allow(clippy::too_many_arguments)]
    fn deliver_later(
        &mut self,
        id: FrameId,
        bytes: Arc<[u8]>,
        hop: Hop,
        delivery: Delivery,
        action: Option<FaultAction>,
        epoch: u64,
        already_corrupted: bool,
    ) {
        let now = self.now;
        let (link_id, peer) = (hop.link, hop.next);
        let mut arrives = delivery.arrives;
        if let Some(by) = delivery.reordered_by {
            self.trace.push(
                now,
                TraceEvent::FrameDelayed {
                    frame: id,
                    by,
                    cause: DelayCause::Reorder,
                },
            );
        }
        let mut duplicate_at = delivery.duplicate_arrives;
        match action {
            Some(FaultAction::Delay(by)) => {
                arrives += by;
                duplicate_at = duplicate_at.map(|t| t + by);
                self.trace.push(
                    now,
                    TraceEvent::FrameDelayed {
                        frame: id,
                        by,
                        cause: DelayCause::Fault,
                    },
                );
            }
            Some(FaultAction::Duplicate) => duplicate_at = duplicate_at.or(Some(arrives)),
            _ => {}
        }
        let (bytes, corrupted) = match delivery.corrupt_bit {
            Some(bit) => {
                let mut copy = bytes.to_vec();
                copy[(bit / 8) as usize] ^= 1 << (bit % 8);
                self.trace
                    .push(now, TraceEvent::FrameCorrupted { frame: id, bit });
                (Arc::from(copy), true)
            }
            None => (bytes, already_corrupted),
        };
        if let Some(at) = duplicate_at {
            let copy = self.new_frame_id();
            self.trace
                .push(now, TraceEvent::FrameDuplicated { frame: id, copy });
            self.queue.push(
                at,
                Event::Arrival {
                    frame: Frame {
                        id: copy,
                        bytes: bytes.clone(),
                    },
                    to: peer,
                    link: link_id,
                    epoch,
                    corrupted,
                },
            );
        }
        self.queue.push(
            arrives,
            Event::Arrival {
                frame: Frame { id, bytes },
                to: peer,
                link: link_id,
                epoch,
                corrupted,
            },
        );
    }

    fn new_frame_id(&mut self) -> FrameId {
        let id = FrameId(self.next_frame);
        self.next_frame += 1;
        id
    }

    fn drop_frame(&mut self, frame: FrameId, from: HostId, to: Option<HostId>, reason: DropReason) {
        self.trace.push(
            self.now,
            TraceEvent::FrameDropped {
                frame,
                from,
                to,
                reason,
            },
        );
    }

    fn arrive(&mut self, frame: Frame, to: HostId, link: LinkId, epoch: u64, corrupted: bool) {
        let slot = &self.links[link.0 as usize];
        if slot.epoch != epoch {
            let from = if slot.a == to { slot.b } else { slot.a };
            let reason = slot.cut_reason;
            return self.drop_frame(frame.id, from, Some(to), reason);
        }
        let prev = if slot.a == to { slot.b } else { slot.a };
        if self.routers[to.0 as usize].is_some() && self.forwards(to, prev, &frame.bytes) {
            return self.forward(frame, to, prev, corrupted);
        }
        self.trace.push(
            self.now,
            TraceEvent::FrameDelivered {
                frame: frame.id,
                to,
            },
        );
        self.hosts[to.0 as usize].receive(self.now, frame.id, &frame.bytes, corrupted);
        self.drain(to);
    }

    fn apply(&mut self, action: Action) {
        let description = self.describe(&action);
        self.trace
            .push(self.now, TraceEvent::Action { description });
        match action {
            Action::PatchLink {
                link,
                direction,
                patch,
            } => {
                let slot = &mut self.links[link.0 as usize];
                for (i, dir) in slot.dirs.iter_mut().enumerate() {
                    if direction.is_none_or(|d| d.index() == i) {
                        dir.apply(&patch);
                        aqm::patched(&mut slot.aqm[i], dir.params());
                    }
                }
            }
            Action::LinkDown(link) => {
                let slot = &mut self.links[link.0 as usize];
                if slot.up {
                    slot.up = false;
                    slot.epoch += 1;
                    slot.cut_reason = DropReason::LinkDown;
                }
            }
            Action::LinkUp(link) => self.links[link.0 as usize].up = true,
            Action::Partition(a, b) => {
                for &x in &a {
                    for &y in &b {
                        if x != y {
                            self.cut.insert(ordered(x, y));
                        }
                    }
                }
                for slot in &mut self.links {
                    if self.cut.contains(&ordered(slot.a, slot.b)) {
                        slot.epoch += 1;
                        slot.cut_reason = DropReason::Partition;
                    }
                }
            }
            Action::Heal => self.cut.clear(),
            Action::Crash(host) => {
                self.hosts[host.0 as usize].crash();
                // A router that reboots has forgotten its NAT mappings.
                if let Some(Router { nat: Some(nat) }) = &mut self.routers[host.0 as usize] {
                    nat.forget_all();
                }
                for slot in self.apps.iter_mut().filter(|s| s.host == host) {
                    slot.instance = None;
                    slot.incarnation += 1;
                }
                self.pending
                    .retain(|(app, _)| self.apps[app.0 as usize].host != host);
                self.drain(host);
            }
            Action::Restart(host) => {
                if !self.hosts[host.0 as usize].is_up() {
                    self.hosts[host.0 as usize].restart(self.now);
                    for (i, slot) in self.apps.iter_mut().enumerate() {
                        if slot.host == host {
                            slot.incarnation += 1;
                            self.queue.push(
                                self.now,
                                Event::Start {
                                    app: AppId(i as u32),
                                    incarnation: slot.incarnation,
                                },
                            );
                        }
                    }
                }
            }
            Action::Command(app, command) => self.call_app(app, |a, cx| a.on_command(cx, &command)),
        }
    }

    fn describe(&self, action: &Action) -> String {
        let t = &self.trace.trace.topology;
        let link_name = |l: &LinkId| {
            let info = &t.links[l.0 as usize];
            format!("{}<->{}", t.host_name(info.a), t.host_name(info.b))
        };
        let names = |hs: &[HostId]| {
            hs.iter()
                .map(|h| t.host_name(*h))
                .collect::<Vec<_>>()
                .join(",")
        };
        match action {
            Action::PatchLink {
                link,
                direction,
                patch,
            } => {
                let info = &t.links[link.0 as usize];
                let which = match direction {
                    None => link_name(link),
                    Some(Direction::AtoB) => {
                        format!("{}->{}", t.host_name(info.a), t.host_name(info.b))
                    }
                    Some(Direction::BtoA) => {
                        format!("{}->{}", t.host_name(info.b), t.host_name(info.a))
                    }
                };
                format!("link {which}: {}", patch.describe())
            }
            Action::LinkDown(l) => format!("link {} down", link_name(l)),
            Action::LinkUp(l) => format!("link {} up", link_name(l)),
            Action::Partition(a, b) => format!("partition [{}] from [{}]", names(a), names(b)),
            Action::Heal => "heal all partitions".to_string(),
            Action::Crash(h) => format!("crash {}", t.host_name(*h)),
            Action::Restart(h) => format!("restart {}", t.host_name(*h)),
            Action::Command(app, c) => {
                let info = &t.apps[app.0 as usize];
                let mut s = format!("{} {}: {}", t.host_name(info.host), info.kind, c.verb);
                if let Some(d) = &c.data {
                    s.push_str(&format!(" {d:?}"));
                }
                if let Some(n) = c.count {
                    s.push_str(&format!(" x{n}"));
                }
                s
            }
        }
    }

    /// Switches [`HostConfig::time_wait_minisockets`] on or off on every
    /// host, from now on. The trace is the same either way; this exists so
    /// that tests can check exactly that on worlds they did not build
    /// themselves (a scenario's).
    pub fn set_time_wait_minisockets(&mut self, enabled: bool) {
        for host in &mut self.hosts {
            host.config.time_wait_minisockets = enabled;
        }
    }

    /// Chooses how much of each packet the trace keeps from now on
    /// ([`Capture::Full`] unless set). [`Capture::Headers`] is for runs whose
    /// payload bytes nobody will look at: every packet is still traced, with
    /// its headers and its length, but a long transfer no longer keeps every
    /// byte it sent alive until the trace is dropped.
    pub fn set_capture(&mut self, capture: Capture) {
        self.capture = capture;
    }

    /// Sets the trace's memory budget ([`RunLimits::max_trace_bytes`]) from
    /// now on: for callers that run a world someone else built (a
    /// scenario's) and want a larger or smaller one than its default.
    pub fn set_max_trace_bytes(&mut self, bytes: u64) {
        self.limits.max_trace_bytes = bytes;
    }

    /// Switches [`HostConfig::recycle_sockets`] on or off on every host,
    /// from now on. The trace is the same either way; this exists so that
    /// tests can check exactly that on worlds they did not build themselves.
    pub fn set_socket_recycling(&mut self, enabled: bool) {
        for host in &mut self.hosts {
            host.config.recycle_sockets = enabled;
        }
    }

    /// How many of a host's sockets have a smoltcp socket (and its buffers)
    /// right now. The socket table lists more: connections in TIME-WAIT kept
    /// as records, and listening sockets no SYN has come for yet, which
    /// need no smoltcp socket.
    pub fn smoltcp_sockets(&self, host: HostId) -> usize {
        self.hosts
            .get(host.0 as usize)
            .map_or(0, |h| h.smoltcp_sockets())
    }

    /// How many smoltcp sockets a host has reused for new connections so
    /// far (see [`HostConfig::recycle_sockets`]).
    pub fn sockets_recycled(&self, host: HostId) -> u64 {
        self.hosts
            .get(host.0 as usize)
            .map_or(0, |h| h.sockets_recycled())
    }

    /// How many of a host's connections in TIME-WAIT are kept as records
    /// rather than smoltcp sockets right now (see
    /// [`HostConfig::time_wait_minisockets`]); the socket table lists both
    /// alike.
    pub fn time_wait_records(&self, host: HostId) -> usize {
        self.hosts
            .get(host.0 as usize)
            .map_or(0, |h| h.time_wait_records())
    }

    /// Shortcut for tests: the time until the next scheduled event.
    pub fn next_event_in(&self) -> Option<SimDuration> {
        self.queue.peek_time().map(|t| t - self.now)
    }
}

fn ordered(a: HostId, b: HostId) -> (HostId, HostId) {
    if a <= b { (a, b) } else { (b, a) }
}

fn undecodable(bytes: &[u8]) -> PacketInfo {
    PacketInfo {
        src: Ipv4Addr::UNSPECIFIED,
        dst: Ipv4Addr::UNSPECIFIED,
        ip_id: 0,
        ttl: 0,
        ip_len: bytes.len() as u16,
        transport: Transport::Other { protocol: 255 },
    }
}

/// The world's trace: stored, or handed to a sink as it happens.
struct Recorder {
    trace: Trace,
    sink: Option<Box<dyn TraceSink>>,
    /// When the latest record happened.
    last: Option<SimTime>,
    /// Records produced, stored or streamed.
    recorded: u64,
}

impl Recorder {
    #[inline]
    fn push(&mut self, time: SimTime, event: TraceEvent) {
        self.last = Some(time);
        self.recorded += 1;
        let record = TraceRecord { time, event };
        match &mut self.sink {
            Some(sink) => sink.take(&self.trace.topology, record),
            None => self.trace.records.push(record),
        }
    }
}

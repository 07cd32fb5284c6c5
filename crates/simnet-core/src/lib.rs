//! simnet-core: the deterministic engine.
//!
//! The layers, lowest first (a layer never imports one above it):
//!
//! 1. [`time`], [`rng`], [`queue`] — virtual time in integer nanoseconds, one
//!    seed forked into labelled ChaCha streams, and an event queue ordered by
//!    `(time, sequence)`.
//! 2. [`link`] and [`fault`] — what happens to a frame between two hosts:
//!    latency, jitter, loss, duplication, reordering, corruption, bandwidth
//!    with a drop-tail queue, MTU, and targeted faults that pick packets by
//!    their headers.
//! 3. [`host`] — a smoltcp stack per host with the socket API applications
//!    expect (backlog, ephemeral ports, per-socket deadlines). The only
//!    module that imports smoltcp.
//! 4. [`app`] and [`apps`] — the application trait and the built-in TCP/UDP
//!    programs.
//! 5. [`world`] — the builder (the Rust API) and the loop that jumps from
//!    event to event.
//!
//! Everything that happens becomes a [`trace::TraceEvent`]; the `simnet-trace`
//! crate renders traces, `simnet-scenario` builds worlds from TOML files.

pub mod analysis;
pub mod app;
pub mod apps;
pub mod fault;
pub mod host;
pub mod layer;
pub mod link;
pub mod packet;
pub mod qdisc;
pub mod queue;
pub mod rewrite;
pub mod rng;
pub mod route;
pub mod socket;
pub mod time;
pub mod trace;
pub mod world;

pub use app::{App, AppContext, Command};
pub use fault::{FaultAction, PacketFilter, TargetedFault};
pub use host::{BacklogOverflow, CongestionControl, HostConfig, TcpConfig, UdpConfig};
pub use layer::{LayerError, StreamLayer};
pub use link::{Direction, DropReason, GilbertElliott, LinkParams, LinkPatch};
pub use packet::{FrameId, PacketInfo, TcpFlags, Transport};
pub use qdisc::{CodelParams, FqCodelParams, Qdisc};
pub use rng::{AppRng, Probability, Seed};
pub use route::{Ipv4Net, NatConfig, NatExpiredAction};
pub use socket::{
    AppId, CloseReason, HostId, LinkId, Protocol, Recv, SocketCall, SocketError, SocketEvent,
    SocketId, SocketRow, TcpState, TimerId,
};
pub use time::{SimDuration, SimTime};
pub use trace::{
    AppEvent, Capture, EndReason, FieldValue, Records, Summary, Topology, Trace, TraceEvent,
    TraceRecord, TraceSink,
};
pub use world::{Action, AppFactory, BuildError, RunLimits, World, WorldBuilder};

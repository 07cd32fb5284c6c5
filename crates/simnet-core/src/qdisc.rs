//! Queue disciplines: what a link's sending end does with frames that wait
//! for the wire.
//!
//! Drop-tail (the default) is decided when a frame is handed to the link
//! ([`crate::link::LinkDirection::transmit`]): the queue is first in, first
//! out, so a frame's departure is known at once. An active queue decides at
//! the head: CoDel drops a frame that waited too long, fq_codel keeps a
//! queue per flow and serves them in turn. Their queues live here, as data
//! the world feeds and drains (`AqmQueue`), and know nothing of links,
//! hosts or the trace.

use crate::time::SimDuration;

/// A link direction's queue discipline.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Qdisc {
    /// First in, first out; a frame that does not fit in the queue's bytes
    /// is dropped on arrival.
    #[default]
    DropTail,
    /// CoDel (RFC 8289): one FIFO whose head is dropped while frames have
    /// been waiting longer than `target` for at least `interval`.
    Codel(CodelParams),
    /// fq_codel (RFC 8290): frames hashed by flow into separate CoDel
    /// queues, served by deficit round robin with new flows first.
    FqCodel(FqCodelParams),
}

/// CoDel's two parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodelParams {
    /// The standing queue delay CoDel tolerates (5 ms by default).
    pub target: SimDuration,
    /// How long the delay must stay above `target` before CoDel drops
    /// (100 ms by default; about a worst-case round trip).
    pub interval: SimDuration,
}

impl Default for CodelParams {
    fn default() -> Self {
        CodelParams {
            target: SimDuration::from_millis(5),
            interval: SimDuration::from_millis(100),
        }
    }
}

/// fq_codel's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FqCodelParams {
    /// Each flow queue's CoDel.
    pub codel: CodelParams,
    /// Number of flow queues (1024 by default).
    pub flows: u32,
    /// Bytes a flow may send per round (1514 by default).
    pub quantum: u32,
}

impl Default for FqCodelParams {
    fn default() -> Self {
        FqCodelParams {
            codel: CodelParams::default(),
            flows: 1024,
            quantum: 1514,
        }
    }
}

impl Qdisc {
    /// Short name: `drop-tail`, `codel`, `fq_codel`.
    pub fn name(&self) -> &'static str {
        match self {
            Qdisc::DropTail => "drop-tail",
            Qdisc::Codel(_) => "codel",
            Qdisc::FqCodel(_) => "fq_codel",
        }
    }
}

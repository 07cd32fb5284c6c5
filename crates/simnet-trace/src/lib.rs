//! simnet-trace: turns a [`Trace`](simnet_core::Trace) into something to read.
//!
//! Every renderer is a pure function of the trace: the same trace gives the
//! same bytes. Renderers never run a simulation and never see smoltcp.
//!
//! - [`text`]: the step-by-step timeline, one line per event.
//! - [`relative`]: Wireshark-style relative sequence numbers, shared by the
//!   renderers.

pub mod jsonl;
pub mod mermaid;
pub mod pcap;
pub mod relative;
pub mod summary;
pub mod text;

pub use text::{TextOptions, render_text};

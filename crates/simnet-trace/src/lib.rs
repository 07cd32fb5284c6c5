//! simnet-trace: turns a [`Trace`](simnet_core::Trace) into something to read.
//!
//! Every renderer is a pure function of the trace: the same trace gives the
//! same bytes. Renderers never run a simulation and never see smoltcp.
//!
//! The text timeline, JSON Lines, pcap and pcapng can also be written as a
//! run goes, without storing its trace: [`TextWriter`], [`JsonlWriter`],
//! [`PcapWriter`] and [`PcapngWriter`] are
//! [`TraceSink`](simnet_core::TraceSink)s for
//! [`World::stream_to`](simnet_core::World::stream_to) that write to any
//! [`std::io::Write`] and keep only bounded state. `render_text` and the
//! others replay a stored trace into them: one implementation, the same
//! bytes.
//!
//! - [`text`]: the step-by-step timeline, one line per event.
//! - [`pcap`]: the packets as a capture file for Wireshark, tshark, tcpdump.
//! - [`jsonl`]: every event as one JSON object per line, for `jq` and scripts.
//! - [`relative`]: Wireshark-style relative sequence numbers, shared by the
//!   renderers.
//! - [`websocket`]: WebSocket frames decoded from the packets, to label the
//!   Mermaid arrows that carry them.

pub mod capture_at;
pub mod csv;
#[cfg(test)]
mod handbuilt_tests;
pub mod html;
mod inflight;
pub mod jsonl;
pub mod mermaid;
pub mod pcap;
pub mod plot;
pub mod relative;
mod segments;
#[cfg(test)]
mod streaming_tests;
pub mod summary;
pub mod text;
pub mod tls;
pub mod websocket;

pub use capture_at::{NodeCapture, render_pcap_at};
pub use html::{HtmlExpectation, HtmlMeta, render_html};
pub use jsonl::{JsonlWriter, render_jsonl};
pub use mermaid::{ConnectionSelector, MermaidOptions, render_mermaid};
pub use pcap::{PcapWriter, PcapngWriter, render_pcap, render_pcapng};
pub use text::{TextOptions, TextWriter, render_text};

/// What a writer wrote to a `Vec`, as text: writing to a `Vec` cannot fail,
/// and every line a writer writes is a `String`, so this only unwraps.
pub(crate) fn written_text(written: std::io::Result<Vec<u8>>) -> String {
    let bytes = written.unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

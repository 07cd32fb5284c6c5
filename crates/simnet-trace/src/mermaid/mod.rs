//! Mermaid sequence diagrams of a trace.
//!
//! [`render_mermaid`] draws a run the way a textbook draws TCP: one lifeline
//! per host, one arrow per packet, notes for what the sockets and the
//! applications did. Paste the output into a Markdown file on GitHub, into
//! mdBook with the mermaid preprocessor, or into <https://mermaid.live>.
//!
//! The conventions, in the order a reader meets them:
//!
//! - One `participant` per host, in topology order, labelled with its name
//!   and address. Only hosts that appear in the diagram are declared.
//! - A note left of the first lifeline, `t = 20ms`, whenever simulated time
//!   moves on; everything below it happened at that time.
//! - Each packet is one arrow, drawn where it was *sent*, labelled with its
//!   flags in words and relative sequence numbers (`SYN, ACK seq=0 ack=1`).
//!   `len=` appears when the segment carries data, `win=` on the first
//!   segment in each direction, whenever the advertised window changes and
//!   whenever it is zero, the options on SYNs. A payload that starts with an HTTP request or status
//!   line adds that line under the label; one that holds the start of
//!   WebSocket frames adds one line per frame (`WS text fin masked len=5
//!   "hello"`, see [`crate::websocket`]).
//! - The arrow's head says what became of the packet: `->>` delivered, `-x`
//!   lost (`(dropped: loss)`) or thrown away by the receiver (`(discarded by
//!   server: bad checksum)`), `-)` still in flight when the trace ends. A copy
//!   made by a duplicating link is a dotted arrow right below the original.
//!   What else the link did is said in brackets: `(reordered +3ms)`,
//!   `(delayed +5ms by a fault)`, `(queued behind 1500 bytes)`,
//!   `(bit 83 flipped)`.
//! - TCP state changes are notes over the host (`LISTEN → SYN-RECEIVED`);
//!   changes of one socket at one instant are chained (`FIN-WAIT-1 →
//!   FIN-WAIT-2 → TIME-WAIT`). Arming a listening socket is not shown: the
//!   `listen()` call is.
//! - Socket calls and application events are notes over the host. Calls of
//!   one host at one instant share a note; back-to-back reads of one socket
//!   are summed (`recv 2920 bytes (2 reads)`); a `send` that was refused
//!   outright because the buffer was full is left out. Sends and reads quote
//!   the first 16 bytes of printable payloads (`send 5 bytes “hello”`), not
//!   binary data and not HTTP, whose first line the arrow already shows.
//!   Data a connection lost for good (unread at a reset, never acknowledged)
//!   is a note of its own.
//! - Timeline actions, the end of the run and a cut made by
//!   [`MermaidOptions::max_events`] are notes across all lifelines; a
//!   targeted fault is a note across the two hosts of the packet it hit.
//! - When the diagram shows more than one connection, arrows and state
//!   notes start with their ports (`:49152 → :80`).
//!
//! Every piece of text from the trace goes through [`escape_text`], so no
//! host name, payload or summary can break the diagram's syntax.
//!
//! The code is split the same way: `select` parses and resolves the
//! connection selector, `labels` holds every piece of wording and escaping,
//! `layout` walks the trace and lays the diagram out.
//!
//! Deliberately left out: link queueing details beyond "queued behind N
//! bytes", retransmission detection (the arrows show repeated sequence
//! numbers; naming them would be a guess), and styling (colours depend on
//! the reader's theme).

use simnet_core::time::SimTime;

/// Mermaid's default `maxTextSize`, in characters: Mermaid draws an error box
/// instead of a longer diagram unless the page raises the limit (GitHub does
/// not). Compare it with `diagram.chars().count()` to suggest narrowing a
/// diagram down with [`MermaidOptions`].
pub const MERMAID_DEFAULT_MAX_TEXT_SIZE: usize = 50_000;

/// What the diagram includes. The default shows the whole trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MermaidOptions {
    /// Only packets, state changes, socket calls and application events of
    /// the connections this selects (timeline actions and the end of the run
    /// are always shown).
    pub connection: Option<ConnectionSelector>,
    /// Only events at or after this time.
    pub from: Option<SimTime>,
    /// Only events at or before this time. A packet sent in the window is
    /// drawn with its fate even when that is decided later.
    pub until: Option<SimTime>,
    /// At most this many trace events become arrows or notes; the diagram
    /// then ends with a note saying where it was cut.
    pub max_events: Option<usize>,
}

mod labels;
mod layout;
mod select;
#[cfg(test)]
mod tests;

pub use labels::escape_text;
pub(crate) use labels::http_first_line;
pub use layout::render_mermaid;
pub use select::{ConnectionSelector, ParseConnectionError, UnknownHostError};

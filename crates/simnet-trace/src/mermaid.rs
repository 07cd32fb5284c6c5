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
//! Deliberately left out: link queueing details beyond "queued behind N
//! bytes", retransmission detection (the arrows show repeated sequence
//! numbers; naming them would be a guess), and styling (colours depend on
//! the reader's theme).

use crate::relative::{Flow, SeqTracker};
use simnet_core::link::DropReason;
use simnet_core::packet::{FrameId, PacketInfo, TcpHeader, Transport};
use simnet_core::socket::{HostId, Preview, SocketCall, SocketId, TcpState};
use simnet_core::time::SimTime;
use simnet_core::trace::{DelayCause, DiscardReason, Topology, Trace, TraceEvent};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::str::FromStr;

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

/// Picks connections by one of their endpoints: a port, optionally on one
/// host (by name or by address).
///
/// `49152` selects every connection with port 49152 at either end;
/// `client:49152` only those where that port is on host `client`;
/// `server:80` every connection to the server's port 80 (one per client).
/// Parse one with [`str::parse`]; it prints back the same way.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionSelector {
    /// A host name or an IPv4 address; `None` means any host.
    pub host: Option<String>,
    /// The port, on either end of the connection.
    pub port: u16,
}

impl ConnectionSelector {
    /// Connections with `port` at either end, on any host.
    pub fn port(port: u16) -> ConnectionSelector {
        ConnectionSelector { host: None, port }
    }

    /// Connections with `port` on `host` (a name or an IPv4 address).
    pub fn on_host(host: impl Into<String>, port: u16) -> ConnectionSelector {
        ConnectionSelector {
            host: Some(host.into()),
            port,
        }
    }

    /// Checks that the host, if one is named, exists in `topology`, so a
    /// command line can refuse a typo instead of drawing an empty diagram.
    pub fn check(&self, topology: &Topology) -> Result<(), UnknownHostError> {
        match self.resolve(topology) {
            Selector::Nothing => Err(UnknownHostError {
                host: self.host.clone().unwrap_or_default(),
                known: topology.hosts.iter().map(|h| h.name.clone()).collect(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether `endpoint` (one end of a connection) is selected: same port,
    /// and the named host's address if a host is named. Other renderers use
    /// this so that one selector means the same thing everywhere.
    pub fn matches(&self, topology: &Topology, endpoint: SocketAddrV4) -> bool {
        self.resolve(topology).matches(endpoint)
    }

    fn resolve(&self, topology: &Topology) -> Selector {
        let Some(host) = &self.host else {
            return Selector::Endpoint(None, self.port);
        };
        if let Some(id) = topology.host_by_name(host)
            && let Some(info) = topology.hosts.get(id.0 as usize)
        {
            return Selector::Endpoint(Some(info.addr), self.port);
        }
        match host.parse::<Ipv4Addr>() {
            Ok(addr) if topology.host_by_addr(addr).is_some() => {
                Selector::Endpoint(Some(addr), self.port)
            }
            _ => Selector::Nothing,
        }
    }
}

impl fmt::Display for ConnectionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(host) => write!(f, "{host}:{}", self.port),
            None => write!(f, "{}", self.port),
        }
    }
}

/// Accepts `PORT`, `HOST:PORT` and `ADDRESS:PORT` (e.g. `49152`,
/// `client:49152`, `10.0.0.1:49152`).
impl FromStr for ConnectionSelector {
    type Err = ParseConnectionError;

    fn from_str(text: &str) -> Result<ConnectionSelector, ParseConnectionError> {
        let err = |problem| ParseConnectionError {
            input: text.to_string(),
            problem,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(err("it is empty"));
        }
        let (host, port) = match trimmed.rsplit_once(':') {
            Some((host, port)) => (Some(host.trim()), port.trim()),
            None => (None, trimmed),
        };
        let port: u16 = match port.parse() {
            Ok(0) => return Err(err("port 0 is not a port a connection can use")),
            Ok(p) => p,
            Err(_) if port.is_empty() => return Err(err("the port is missing")),
            Err(_) if port.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(err("the port is larger than 65535"));
            }
            Err(_) => return Err(err("the port is not a number")),
        };
        match host {
            None | Some("") => Ok(ConnectionSelector::port(port)),
            Some(h) if h.contains(char::is_whitespace) || h.contains(':') => {
                Err(err("the host is not a name or an IPv4 address"))
            }
            Some(h) => Ok(ConnectionSelector::on_host(h, port)),
        }
    }
}

/// A connection selector that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseConnectionError {
    input: String,
    problem: &'static str,
}

impl fmt::Display for ParseConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid connection `{}`: {}; expected PORT, HOST:PORT or ADDRESS:PORT, \
             e.g. `49152` or `client:49152`",
            self.input, self.problem
        )
    }
}

impl std::error::Error for ParseConnectionError {}

/// A connection selector that names a host the trace does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownHostError {
    /// The name or address given.
    pub host: String,
    /// The hosts there are.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownHostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no host `{}` in this run (hosts: {})",
            self.host,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownHostError {}

/// A selector resolved against a topology.
#[derive(Clone, Copy, Debug)]
enum Selector {
    /// A port, on one address or on any.
    Endpoint(Option<Ipv4Addr>, u16),
    /// The selector names a host that does not exist: nothing matches.
    Nothing,
}

impl Selector {
    fn matches(self, endpoint: SocketAddrV4) -> bool {
        match self {
            Selector::Endpoint(addr, port) => {
                endpoint.port() == port && addr.is_none_or(|a| a == *endpoint.ip())
            }
            Selector::Nothing => false,
        }
    }

    fn matches_any(self, endpoints: &[Option<SocketAddrV4>]) -> bool {
        endpoints.iter().flatten().any(|e| self.matches(*e))
    }
}

/// Renders the trace (or the part `options` selects) as a Mermaid sequence
/// diagram. Never fails: a trace that shows nothing gives a diagram that
/// says so.
pub fn render_mermaid(trace: &Trace, options: &MermaidOptions) -> String {
    let mut r = Renderer::new(&trace.topology, options);
    r.ws_labels = crate::websocket::frame_labels(trace);
    for record in &trace.records {
        r.event(record.time, &record.event);
    }
    r.finish(trace.records.last().map(|r| r.time))
}

/// Escapes text for a Mermaid message, note or participant label.
///
/// Mermaid ends a statement at `;` and a line break, starts a comment or an
/// entity code at `#` and `%`, renders `<`, `>` and `&` as HTML, reads
/// `%%{...}%%` anywhere as a directive and `$$...$$` as maths. Each of these
/// characters becomes an entity code (`#59;`, `#lt;`...), which Mermaid turns
/// back into the character when it draws. Control characters (line breaks
/// included) become spaces. A leading `wrap:`/`nowrap:` (a Mermaid option)
/// and a colon in text that mentions `style` or `classDef` (which Mermaid
/// preprocesses) are encoded too. Everything else, Unicode included, is kept.
pub fn escape_text(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let encode_colons = lower.contains("style") || lower.contains("classdef");
    let leading_option = {
        let t = lower.trim_start();
        t.starts_with("wrap:") || t.starts_with("nowrap:")
    };
    let mut out = String::with_capacity(text.len());
    let mut first_colon = true;
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '"' => out.push_str("#quot;"),
            '%' => out.push_str("#37;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '$' => out.push_str("#36;"),
            '`' => out.push_str("#96;"),
            '\\' => out.push_str("#92;"),
            ':' if encode_colons || (leading_option && first_colon) => {
                first_colon = false;
                out.push_str("#58;");
            }
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Mermaid's sequence-diagram keywords (the lexer is case-insensitive), which
/// cannot be participant ids.
const KEYWORDS: &[&str] = &[
    "accdescr",
    "acctitle",
    "activate",
    "actor",
    "alt",
    "and",
    "as",
    "autonumber",
    "box",
    "break",
    "create",
    "critical",
    "deactivate",
    "destroy",
    "details",
    "else",
    "end",
    "left",
    "link",
    "links",
    "loop",
    "note",
    "off",
    "opt",
    "option",
    "over",
    "par",
    "par_over",
    "participant",
    "properties",
    "rect",
    "right",
    "sequencediagram",
    "title",
];

/// A participant id for a host name: letters, digits and `_` only, not a
/// keyword, unique within `taken`; `h<index>` when the name gives nothing
/// usable.
fn participant_id(name: &str, index: u32, taken: &BTreeSet<String>) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let lower = id.to_ascii_lowercase();
    let unusable = !id.chars().any(|c| c.is_ascii_alphanumeric())
        || id.starts_with(|c: char| c.is_ascii_digit())
        || KEYWORDS.contains(&lower.as_str())
        || lower.contains("style")
        || lower.contains("classdef")
        || id.len() > 40;
    if unusable {
        id = format!("h{index}");
    }
    let base = id.clone();
    let mut n = 1;
    while taken.contains(&id) {
        n += 1;
        id = format!("{base}_{n}");
    }
    id
}

/// At most `max` characters of `text`, with `…` when something was cut.
fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The first line of an HTTP request or response, if the payload starts with one.
fn http_first_line(payload: &[u8]) -> Option<String> {
    const STARTS: &[&[u8]] = &[
        b"GET ",
        b"HEAD ",
        b"POST ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
        b"HTTP/1.0 ",
        b"HTTP/1.1 ",
    ];
    if !STARTS.iter().any(|s| payload.starts_with(s)) {
        return None;
    }
    let line = payload
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or(&[]);
    let text: String = line
        .iter()
        .take(200)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    Some(truncate_chars(&text, 60))
}

/// How many bytes of a payload preview a note quotes.
const PREVIEW_CHARS: usize = 16;

/// A payload preview as quoted text (unescaped), when it is printable, up to
/// the first line break and [`PREVIEW_CHARS`] long. `None` for binary data,
/// and for HTTP, whose first line the packet's arrow already shows.
fn preview_text(preview: &Preview, total: usize) -> Option<String> {
    let bytes = preview.as_bytes();
    if http_first_line(bytes).is_some() {
        return None;
    }
    let line = bytes
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or(&[]);
    let line = &line[..line.len().min(PREVIEW_CHARS)];
    if line.is_empty() || !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return None;
    }
    let text: String = line.iter().map(|&b| char::from(b)).collect();
    let more = if line.len() < total { "…" } else { "" };
    Some(format!("“{text}{more}”"))
}

/// What became of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// No fate recorded (the trace ended first).
    InFlight,
    Delivered,
    Dropped(DropReason),
    Discarded(HostId, DiscardReason),
}

/// One packet arrow.
#[derive(Clone, Debug)]
struct Arrow {
    from: HostId,
    /// `None` when no link leads to the destination.
    to: Option<HostId>,
    dst_addr: Option<Ipv4Addr>,
    /// The two endpoints, sorted, for counting connections.
    conversation: Option<(SocketAddrV4, SocketAddrV4)>,
    ports: Option<(u16, u16)>,
    /// Escaped label.
    label: String,
    /// What the link did to it (`reordered +3ms`), unescaped.
    remarks: Vec<String>,
    fate: Fate,
    /// A copy made by a duplicating link.
    copy: bool,
}

/// One line of an application note.
#[derive(Clone, Debug)]
enum AppLine {
    /// Escaped text.
    Text(String),
    /// Reads of one socket, summed.
    Recv {
        socket: SocketId,
        bytes: usize,
        reads: usize,
        /// Escaped preview of the first read.
        preview: Option<String>,
    },
}

#[derive(Clone, Debug)]
enum Span {
    Host(HostId),
    Pair(HostId, HostId),
    All,
}

#[derive(Clone, Debug)]
enum ItemKind {
    Arrow(Arrow),
    State {
        host: HostId,
        socket: SocketId,
        port: u16,
        chain: Vec<TcpState>,
        /// Escaped remark (`(reset by peer)`).
        remark: Option<String>,
    },
    App {
        host: HostId,
        lines: Vec<AppLine>,
    },
    /// A note with escaped text.
    Note {
        span: Span,
        text: String,
    },
}

#[derive(Clone, Debug)]
struct Item {
    time: SimTime,
    kind: ItemKind,
}

struct Renderer<'a> {
    topo: &'a Topology,
    options: &'a MermaidOptions,
    selector: Option<Selector>,
    seqs: SeqTracker,
    /// The last window announced in each direction.
    windows: BTreeMap<Flow, u32>,
    /// Whether each socket belongs to a selected connection (only kept when
    /// a connection is selected).
    selected_sockets: BTreeMap<(HostId, SocketId), bool>,
    /// When each socket entered TIME-WAIT.
    time_wait_since: BTreeMap<(HostId, SocketId), SimTime>,
    /// The arrow of every frame drawn, by frame id.
    frames: BTreeMap<FrameId, usize>,
    /// The WebSocket frames that start in each packet
    /// ([`crate::websocket::frame_labels`]).
    ws_labels: BTreeMap<FrameId, Vec<String>>,
    /// Some packets were traced without their payload
    /// (`Capture::Headers`), so HTTP and WebSocket labels may be missing.
    payloads_missing: bool,
    items: Vec<Item>,
    events_shown: usize,
    /// The first event left out because of `max_events`.
    cut_at: Option<SimTime>,
}

impl<'a> Renderer<'a> {
    fn new(topo: &'a Topology, options: &'a MermaidOptions) -> Renderer<'a> {
        Renderer {
            topo,
            options,
            selector: options.connection.as_ref().map(|c| c.resolve(topo)),
            seqs: SeqTracker::new(),
            windows: BTreeMap::new(),
            selected_sockets: BTreeMap::new(),
            time_wait_since: BTreeMap::new(),
            frames: BTreeMap::new(),
            ws_labels: BTreeMap::new(),
            payloads_missing: false,
            items: Vec::new(),
            events_shown: 0,
            cut_at: None,
        }
    }

    fn in_window(&self, time: SimTime) -> bool {
        self.options.from.is_none_or(|f| time >= f) && self.options.until.is_none_or(|u| time <= u)
    }

    /// Admits one event that passed the filters, unless the limit is reached.
    fn admit(&mut self, time: SimTime) -> bool {
        if self
            .options
            .max_events
            .is_some_and(|m| self.events_shown >= m)
        {
            self.cut_at.get_or_insert(time);
            return false;
        }
        self.events_shown += 1;
        true
    }

    fn host_addr(&self, host: HostId) -> Option<Ipv4Addr> {
        self.topo.hosts.get(host.0 as usize).map(|h| h.addr)
    }

    fn push(&mut self, time: SimTime, kind: ItemKind) -> usize {
        self.items.push(Item { time, kind });
        self.items.len() - 1
    }

    fn arrow_mut(&mut self, frame: FrameId) -> Option<&mut Arrow> {
        let index = *self.frames.get(&frame)?;
        match &mut self.items.get_mut(index)?.kind {
            ItemKind::Arrow(a) => Some(a),
            _ => None,
        }
    }

    fn event(&mut self, time: SimTime, event: &TraceEvent) {
        match event {
            TraceEvent::PacketSent {
                frame,
                from,
                to,
                bytes,
                len,
                ..
            } => self.packet(time, *frame, *from, *to, bytes, *len as usize),
            TraceEvent::FrameQueued {
                frame, queue_bytes, ..
            } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.remarks.push(format!("queued behind {queue_bytes} bytes"));
                }
            }
            TraceEvent::FrameDelayed { frame, by, cause } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.remarks.push(match cause {
                        DelayCause::Reorder => format!("reordered +{by}"),
                        DelayCause::Fault => format!("delayed +{by} by a fault"),
                    });
                }
            }
            TraceEvent::FrameCorrupted { frame, bit } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.remarks.push(format!("bit {bit} flipped"));
                }
            }
            TraceEvent::FrameDuplicated { frame, copy } => {
                if let Some(original) = self.arrow_mut(*frame) {
                    let mut arrow = original.clone();
                    arrow.label = format!("duplicate: {}", arrow.label);
                    arrow.remarks.clear();
                    arrow.fate = Fate::InFlight;
                    arrow.copy = true;
                    let index = self.push(time, ItemKind::Arrow(arrow));
                    self.frames.insert(*copy, index);
                }
            }
            TraceEvent::FrameDropped { frame, reason, .. } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.fate = Fate::Dropped(*reason);
                }
            }
            TraceEvent::FrameDelivered { frame, .. } => {
                if let Some(a) = self.arrow_mut(*frame)
                    && a.fate == Fate::InFlight
                {
                    a.fate = Fate::Delivered;
                }
            }
            TraceEvent::FrameDiscarded {
                frame,
                host,
                reason,
            } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    a.fate = Fate::Discarded(*host, *reason);
                }
            }
            TraceEvent::FaultMatched {
                frame, description, ..
            } => {
                if let Some(a) = self.arrow_mut(*frame) {
                    let span = match a.to {
                        Some(to) if to != a.from => Span::Pair(a.from, to),
                        _ => Span::Host(a.from),
                    };
                    let text = escape_text(&format!("fault: {}", truncate_chars(description, 100)));
                    self.push(time, ItemKind::Note { span, text });
                }
            }
            TraceEvent::TcpState {
                host,
                socket,
                local,
                remote,
                from,
                to,
                reason,
            } => self.tcp_state(time, *host, *socket, *local, *remote, (*from, *to), *reason),
            TraceEvent::DataLost {
                host,
                socket,
                cause,
                unread,
                unacked,
            } => {
                let selected = self.selector.is_none() || self.socket_selected(*host, *socket);
                if selected && self.in_window(time) && self.admit(time) {
                    let mut parts = Vec::new();
                    if let Some((_, bytes)) = unread {
                        parts.push(format!("{bytes} received bytes never read"));
                    }
                    if let Some((_, bytes)) = unacked {
                        parts.push(format!("{bytes} written bytes never acknowledged"));
                    }
                    let text = escape_text(&format!("data lost ({cause}): {}", parts.join(", ")));
                    self.push(
                        time,
                        ItemKind::Note {
                            span: Span::Host(*host),
                            text,
                        },
                    );
                }
            }
            TraceEvent::SocketCall {
                host, socket, call, ..
            } => self.socket_call(time, *host, *socket, call),
            TraceEvent::App { host, event, .. } => {
                let selected = match (self.selector, event.socket) {
                    (None, _) => true,
                    (Some(_), Some(s)) => self.socket_selected(*host, s),
                    (Some(_), None) => false,
                };
                if selected && self.in_window(time) && self.admit(time) {
                    let line = AppLine::Text(escape_text(&truncate_chars(&event.summary, 100)));
                    self.app_line(time, *host, line);
                }
            }
            TraceEvent::Action { description } => {
                if self.in_window(time) && self.admit(time) {
                    let text =
                        escape_text(&format!("timeline: {}", truncate_chars(description, 100)));
                    self.push(
                        time,
                        ItemKind::Note {
                            span: Span::All,
                            text,
                        },
                    );
                }
            }
            TraceEvent::RunEnded { reason } => {
                if self.in_window(time) && self.admit(time) {
                    let text = escape_text(&format!("run ended: {}", reason.describe(self.topo)));
                    self.push(
                        time,
                        ItemKind::Note {
                            span: Span::All,
                            text,
                        },
                    );
                }
            }
        }
    }

    fn packet(
        &mut self,
        time: SimTime,
        frame: FrameId,
        from: HostId,
        to: Option<HostId>,
        bytes: &[u8],
        len: usize,
    ) {
        // Sequence numbers and windows are tracked for every packet, shown or
        // not, so a filtered diagram numbers segments as the full one does;
        // so is whether payloads were kept.
        self.payloads_missing |= bytes.len() < len;
        let info = PacketInfo::parse_captured(bytes, len);
        let tcp_view = info.as_ref().and_then(|info| {
            let tcp = info.tcp()?;
            let rel = self.seqs.observe(info.src, info.dst, tcp);
            let flow = (
                SocketAddrV4::new(info.src, tcp.src_port),
                SocketAddrV4::new(info.dst, tcp.dst_port),
            );
            // A shut window is worth repeating: it is why the sender waits.
            let window_changed =
                self.windows.insert(flow, rel.window) != Some(rel.window) || rel.window == 0;
            Some((rel, window_changed, flow))
        });
        if !self.in_window(time) {
            return;
        }
        let endpoints = info.as_ref().map(|i| [i.src_endpoint(), i.dst_endpoint()]);
        if let Some(sel) = self.selector
            && !endpoints.is_some_and(|e| sel.matches_any(&e))
        {
            return;
        }
        if !self.admit(time) {
            return;
        }
        let (label, conversation, ports) = match &info {
            None => (format!("undecodable frame ({len} bytes)"), None, None),
            Some(info) => {
                let mut label = match &info.transport {
                    Transport::Tcp(tcp) => match tcp_view {
                        Some((rel, window_changed, flow)) => {
                            self.tcp_label(tcp, rel, window_changed, flow)
                        }
                        None => format!("TCP len={}", tcp.payload_len),
                    },
                    Transport::Udp(udp) => format!("UDP len={}", udp.payload_len),
                    Transport::Icmp { icmp_type, code } => match (icmp_type, code) {
                        (3, 3) => "ICMP port unreachable".to_string(),
                        (3, _) => format!("ICMP destination unreachable (code {code})"),
                        (0, _) => "ICMP echo reply".to_string(),
                        (8, _) => "ICMP echo request".to_string(),
                        _ => format!("ICMP type {icmp_type} code {code}"),
                    },
                    Transport::Other { protocol } => {
                        format!("IP protocol {protocol} len={}", info.ip_len)
                    }
                };
                label = escape_text(&label);
                if let Some(line) = http_first_line(info.payload(bytes)) {
                    let _ = write!(label, "<br/>{}", escape_text(&line));
                } else if let Some(frames) = self.ws_labels.get(&frame) {
                    for f in frames {
                        let _ = write!(label, "<br/>{}", escape_text(f));
                    }
                }
                let (src, dst) = (info.src_endpoint(), info.dst_endpoint());
                let conversation = src.zip(dst).map(|(a, b)| (a.min(b), a.max(b)));
                let ports = src.zip(dst).map(|(a, b)| (a.port(), b.port()));
                (label, conversation, ports)
            }
        };
        let arrow = Arrow {
            from,
            to,
            dst_addr: info.as_ref().map(|i| i.dst),
            conversation,
            ports,
            label,
            remarks: Vec::new(),
            fate: Fate::InFlight,
            copy: false,
        };
        let index = self.push(time, ItemKind::Arrow(arrow));
        self.frames.insert(frame, index);
    }

    fn tcp_label(
        &self,
        tcp: &TcpHeader,
        rel: crate::relative::RelativeHeader,
        window_changed: bool,
        flow: Flow,
    ) -> String {
        let mut s = tcp.flags.words();
        if s.is_empty() {
            s.push_str("no flags");
        }
        let _ = write!(s, " seq={}", rel.seq);
        if let Some(ack) = rel.ack {
            let _ = write!(s, " ack={ack}");
        }
        if tcp.payload_len > 0 {
            let _ = write!(s, " len={}", tcp.payload_len);
        }
        if window_changed {
            let _ = write!(s, " win={}", rel.window);
        }
        self.seqs
            .write_options(&mut s, &tcp.options, (flow.1, flow.0));
        s
    }

    fn socket_selected(&self, host: HostId, socket: SocketId) -> bool {
        self.selected_sockets
            .get(&(host, socket))
            .copied()
            .unwrap_or(false)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_state(
        &mut self,
        time: SimTime,
        host: HostId,
        socket: SocketId,
        local: SocketAddrV4,
        remote: Option<SocketAddrV4>,
        (from, to): (TcpState, TcpState),
        reason: Option<simnet_core::socket::CloseReason>,
    ) {
        let key = (host, socket);
        let entered_time_wait = self.time_wait_since.get(&key).copied();
        if to == TcpState::TimeWait {
            self.time_wait_since.insert(key, time);
        } else {
            self.time_wait_since.remove(&key);
        }
        if let Some(sel) = self.selector {
            let selected = sel.matches_any(&[Some(local), remote]);
            self.selected_sockets.insert(key, selected);
            if !selected {
                return;
            }
        }
        // Arming a listening socket is bookkeeping: the listen() call says it.
        if from == TcpState::Closed && to == TcpState::Listen {
            return;
        }
        if !self.in_window(time) || !self.admit(time) {
            return;
        }
        let mut remark = reason.map(|r| escape_text(&format!("({r})")));
        if from == TcpState::TimeWait
            && to == TcpState::Closed
            && let Some(since) = entered_time_wait
        {
            remark = Some(escape_text(&format!(
                "(after {} in TIME-WAIT)",
                time - since
            )));
        }
        if let Some(Item {
            time: t,
            kind:
                ItemKind::State {
                    host: h,
                    socket: s,
                    chain,
                    remark: r,
                    ..
                },
        }) = self.items.last_mut()
            && *t == time
            && *h == host
            && *s == socket
            && r.is_none()
            && chain.last() == Some(&from)
        {
            chain.push(to);
            *r = remark;
            return;
        }
        self.push(
            time,
            ItemKind::State {
                host,
                socket,
                port: local.port(),
                chain: vec![from, to],
                remark,
            },
        );
    }

    fn socket_call(
        &mut self,
        time: SimTime,
        host: HostId,
        socket: Option<SocketId>,
        call: &SocketCall,
    ) {
        if let Some(sel) = self.selector {
            let local = |port: u16| self.host_addr(host).map(|a| SocketAddrV4::new(a, port));
            let known = socket.is_some_and(|s| self.socket_selected(host, s));
            let selected = match call {
                SocketCall::Connect { remote, local_port } => {
                    sel.matches_any(&[Some(*remote), local(*local_port)])
                }
                SocketCall::Listen { port, .. } | SocketCall::Bind { port } => {
                    sel.matches_any(&[local(*port)])
                }
                SocketCall::Accept { remote } => known || sel.matches(*remote),
                SocketCall::SendTo { dst, .. } => known || sel.matches(*dst),
                SocketCall::RecvFrom { src, .. } => known || sel.matches(*src),
                _ => known,
            };
            if let Some(s) = socket
                && matches!(
                    call,
                    SocketCall::Connect { .. }
                        | SocketCall::Bind { .. }
                        | SocketCall::Listen { .. }
                )
            {
                self.selected_sockets.insert((host, s), selected);
            }
            if !selected {
                return;
            }
        }
        // A send the full buffer refused entirely changes nothing on the wire;
        // the partial send before it already says the buffer is full.
        if matches!(call, SocketCall::Send { accepted: 0, .. }) {
            return;
        }
        if !self.in_window(time) || !self.admit(time) {
            return;
        }
        let line = match (call, socket) {
            (SocketCall::Recv { bytes, preview }, Some(socket)) => AppLine::Recv {
                socket,
                bytes: *bytes,
                reads: 1,
                preview: preview_text(preview, *bytes).map(|p| escape_text(&p)),
            },
            _ => AppLine::Text(escape_text(&describe_call(call))),
        };
        self.app_line(time, host, line);
    }

    /// Adds a line to the application note of `host` at `time`, or starts one.
    fn app_line(&mut self, time: SimTime, host: HostId, line: AppLine) {
        if let Some(Item {
            time: t,
            kind: ItemKind::App { host: h, lines },
        }) = self.items.last_mut()
            && *t == time
            && *h == host
        {
            if let (
                AppLine::Recv { socket, bytes, .. },
                Some(AppLine::Recv {
                    socket: last_socket,
                    bytes: total,
                    reads,
                    ..
                }),
            ) = (&line, lines.last_mut())
                && socket == last_socket
            {
                *total += bytes;
                *reads += 1;
                return;
            }
            lines.push(line);
            return;
        }
        self.push(
            time,
            ItemKind::App {
                host,
                lines: vec![line],
            },
        );
    }

    fn finish(mut self, last_time: Option<SimTime>) -> String {
        if let Some(cut) = self.cut_at {
            let max = self.options.max_events.unwrap_or(0);
            let end = last_time.unwrap_or(cut);
            let text = escape_text(&format!(
                "diagram cut after {max} events (max_events), the trace goes on from t = {} to t = {}",
                cut.since_start(),
                end.since_start()
            ));
            // Drawn under the last event shown, without a time of its own.
            let time = self.items.last().map_or(cut, |i| i.time);
            self.push(
                time,
                ItemKind::Note {
                    span: Span::All,
                    text,
                },
            );
        }
        // Timeline actions and the end of the run are always drawn; when they
        // are all there is, say why the diagram is otherwise empty.
        let only_global = self.items.iter().all(|i| {
            matches!(
                i.kind,
                ItemKind::Note {
                    span: Span::All,
                    ..
                }
            )
        });
        if only_global {
            let text = if self.options == &MermaidOptions::default() {
                "no packets, states or socket calls in this trace".to_string()
            } else {
                escape_text(&format!(
                    "nothing to show ({})",
                    describe_options(self.options)
                ))
            };
            let time = self.items.first().map_or(SimTime::ZERO, |i| i.time);
            let note = Item {
                time,
                kind: ItemKind::Note {
                    span: Span::All,
                    text,
                },
            };
            self.items.insert(0, note);
        }
        if self.payloads_missing {
            let note = Item {
                time: self.items.first().map_or(SimTime::ZERO, |i| i.time),
                kind: ItemKind::Note {
                    span: Span::All,
                    text: "packets traced without payloads (Capture::Headers): \
                           no HTTP or WebSocket labels"
                        .to_string(),
                },
            };
            self.items.insert(0, note);
        }
        let participants = self.participants();
        let multi = self
            .items
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Arrow(a) => a.conversation,
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .len()
            > 1;

        let mut out = String::from("sequenceDiagram\n");
        if *self.options != MermaidOptions::default() {
            let _ = writeln!(
                out,
                "    %% simnet diagram limited to {}",
                escape_text(&describe_options(self.options))
            );
        }
        for (id, label) in participants.values() {
            let _ = writeln!(out, "    participant {id} as {label}");
        }
        let Some(first) = participants.values().next().map(|(id, _)| id.clone()) else {
            // No hosts at all: nothing can be drawn on a lifeline.
            return out;
        };
        let last = participants
            .values()
            .last()
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| first.clone());
        let id = |h: HostId| -> &str {
            participants
                .get(&h)
                .map(|(id, _)| id.as_str())
                .unwrap_or(first.as_str())
        };
        let all = if first == last {
            first.clone()
        } else {
            format!("{first},{last}")
        };

        let mut shown_time = None;
        for item in &self.items {
            if shown_time != Some(item.time) {
                shown_time = Some(item.time);
                let _ = writeln!(
                    out,
                    "    Note left of {first}: t = {}",
                    item.time.since_start()
                );
            }
            match &item.kind {
                ItemKind::Arrow(a) => {
                    let mut text = String::new();
                    if multi && let Some((sp, dp)) = a.ports {
                        let _ = write!(text, ":{sp} → :{dp} ");
                    }
                    text.push_str(&a.label);
                    for r in &a.remarks {
                        let _ = write!(text, " ({})", escape_text(r));
                    }
                    match a.fate {
                        Fate::Delivered => {}
                        Fate::InFlight => text.push_str(" (still in flight when the trace ends)"),
                        Fate::Dropped(reason) => {
                            let _ = write!(text, " (dropped: {reason})");
                        }
                        Fate::Discarded(host, reason) => {
                            let _ = write!(
                                text,
                                " (discarded by {}: {reason})",
                                escape_text(self.topo.host_name(host))
                            );
                        }
                    }
                    let arrow = match (a.fate, a.copy) {
                        (Fate::Delivered, false) => "->>",
                        (Fate::Delivered, true) => "-->>",
                        (Fate::Dropped(_) | Fate::Discarded(..), false) => "-x",
                        (Fate::Dropped(_) | Fate::Discarded(..), true) => "--x",
                        (Fate::InFlight, false) => "-)",
                        (Fate::InFlight, true) => "--)",
                    };
                    match a.to {
                        Some(to) => {
                            let _ = writeln!(out, "    {}{arrow}{}: {text}", id(a.from), id(to));
                        }
                        None => {
                            let dst = a.dst_addr.map(|d| d.to_string()).unwrap_or_default();
                            let _ = writeln!(out, "    Note over {}: to {dst}, {text}", id(a.from));
                        }
                    }
                }
                ItemKind::State {
                    host,
                    port,
                    chain,
                    remark,
                    ..
                } => {
                    let mut text = String::new();
                    if multi {
                        let _ = write!(text, ":{port} ");
                    }
                    let names: Vec<&str> = chain.iter().map(|s| s.as_str()).collect();
                    text.push_str(&names.join(" → "));
                    if let Some(r) = remark {
                        let _ = write!(text, " {r}");
                    }
                    let _ = writeln!(out, "    Note over {}: {text}", id(*host));
                }
                ItemKind::App { host, lines } => {
                    let lines: Vec<String> = lines
                        .iter()
                        .map(|l| match l {
                            AppLine::Text(t) => t.clone(),
                            AppLine::Recv {
                                bytes,
                                reads,
                                preview,
                                ..
                            } => {
                                let mut s = format!("recv {bytes} bytes");
                                if *reads > 1 {
                                    let _ = write!(s, " ({reads} reads)");
                                } else if let Some(p) = preview {
                                    let _ = write!(s, " {p}");
                                }
                                s
                            }
                        })
                        .collect();
                    let _ = writeln!(out, "    Note over {}: {}", id(*host), lines.join("<br/>"));
                }
                ItemKind::Note { span, text } => {
                    let over = match span {
                        Span::Host(h) => id(*h).to_string(),
                        Span::Pair(a, b) => format!("{},{}", id(*a), id(*b)),
                        Span::All => all.clone(),
                    };
                    let _ = writeln!(out, "    Note over {over}: {text}");
                }
            }
        }
        out
    }

    /// The participants to declare, by host: (id, escaped label).
    fn participants(&self) -> BTreeMap<HostId, (String, String)> {
        let mut used = BTreeSet::new();
        for item in &self.items {
            match &item.kind {
                ItemKind::Arrow(a) => {
                    used.insert(a.from);
                    used.extend(a.to);
                }
                ItemKind::State { host, .. } | ItemKind::App { host, .. } => {
                    used.insert(*host);
                }
                ItemKind::Note { span, .. } => match span {
                    Span::Host(h) => {
                        used.insert(*h);
                    }
                    Span::Pair(a, b) => {
                        used.insert(*a);
                        used.insert(*b);
                    }
                    Span::All => {}
                },
            }
        }
        if used.is_empty() {
            used = (0..self.topo.hosts.len())
                .map(|i| HostId(i as u32))
                .collect();
        }
        let mut taken = BTreeSet::new();
        let mut out = BTreeMap::new();
        for host in used {
            let (name, label) = match self.topo.hosts.get(host.0 as usize) {
                Some(info) => (
                    info.name.clone(),
                    format!("{}<br/>{}", escape_text(&info.name), info.addr),
                ),
                None => (String::new(), escape_text(&format!("host #{}", host.0))),
            };
            let id = participant_id(&name, host.0, &taken);
            taken.insert(id.clone());
            out.insert(host, (id, label));
        }
        out
    }
}

/// The filters in words, for the diagram's comment and empty-diagram note.
fn describe_options(options: &MermaidOptions) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &options.connection {
        parts.push(format!("connection {c}"));
    }
    if let Some(f) = options.from {
        parts.push(format!("from t = {}", f.since_start()));
    }
    if let Some(u) = options.until {
        parts.push(format!("until t = {}", u.since_start()));
    }
    if let Some(m) = options.max_events {
        parts.push(format!("at most {m} events"));
    }
    if parts.is_empty() {
        "no filter".to_string()
    } else {
        parts.join(", ")
    }
}

/// A socket call in a note (unescaped), in the text timeline's wording
/// ([`crate::text::describe_socket_call`]) with Mermaid's own quoting:
/// curly quotes, and no preview of binary data or HTTP.
fn describe_call(call: &SocketCall) -> String {
    crate::text::describe_socket_call(call, |p, n| {
        preview_text(p, n)
            .map(|t| format!(" {t}"))
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use simnet_core::packet::TcpFlags;
    use simnet_core::socket::AppId;
    use simnet_core::trace::HostInfo;
    use std::rc::Rc;

    // ----- a small trace builder -----------------------------------------

    const FIN: u8 = TcpFlags::FIN;
    const SYN: u8 = TcpFlags::SYN;
    const PSH: u8 = TcpFlags::PSH;
    const ACK: u8 = TcpFlags::ACK;

    /// An IPv4 + TCP packet between 10.0.0.`src` and 10.0.0.`dst`
    /// (checksums are left at zero: nothing here checks them).
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        src: u8,
        dst: u8,
        ports: (u16, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> Rc<[u8]> {
        let total = 40 + payload.len();
        let mut p = vec![0x45, 0];
        p.extend((total as u16).to_be_bytes());
        p.extend([0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, src, 10, 0, 0, dst]);
        p.extend(ports.0.to_be_bytes());
        p.extend(ports.1.to_be_bytes());
        p.extend(seq.to_be_bytes());
        p.extend(ack.to_be_bytes());
        p.extend([5 << 4, flags, 0x10, 0x00, 0, 0, 0, 0]);
        p.extend(payload);
        p.into()
    }

    struct Builder {
        trace: Trace,
        frames: u64,
    }

    impl Builder {
        fn new(names: &[&str]) -> Builder {
            let mut trace = Trace::default();
            trace.topology.hosts = names
                .iter()
                .enumerate()
                .map(|(i, n)| HostInfo {
                    name: n.to_string(),
                    addr: Ipv4Addr::new(10, 0, 0, i as u8 + 1),
                })
                .collect();
            Builder { trace, frames: 0 }
        }

        fn at(&mut self, ms: u64, event: TraceEvent) -> &mut Builder {
            self.trace.push(SimTime::from_millis(ms), event);
            self
        }

        /// Host `from` sends `bytes` to host `to`; returns the frame id.
        fn send(&mut self, ms: u64, from: u32, to: u32, bytes: Rc<[u8]>) -> FrameId {
            let frame = FrameId(self.frames);
            self.frames += 1;
            self.at(
                ms,
                TraceEvent::PacketSent {
                    frame,
                    from: HostId(from),
                    to: Some(HostId(to)),
                    socket: None,
                    len: bytes.len() as u32,
                    bytes,
                },
            );
            frame
        }

        fn deliver(&mut self, ms: u64, frame: FrameId, to: u32) {
            self.at(
                ms,
                TraceEvent::FrameDelivered {
                    frame,
                    to: HostId(to),
                },
            );
        }

        fn state(&mut self, ms: u64, host: u32, ports: (u16, u16), from: TcpState, to: TcpState) {
            let addr = |h: u32| Ipv4Addr::new(10, 0, 0, h as u8 + 1);
            let other = 1 - host.min(1);
            self.at(
                ms,
                TraceEvent::TcpState {
                    host: HostId(host),
                    socket: SocketId(u64::from(host) * 100 + u64::from(ports.0 % 100)),
                    local: SocketAddrV4::new(addr(host), ports.0),
                    remote: (ports.1 != 0).then(|| SocketAddrV4::new(addr(other), ports.1)),
                    from,
                    to,
                    reason: None,
                },
            );
        }

        fn call(&mut self, ms: u64, host: u32, socket: u64, call: SocketCall) {
            self.at(
                ms,
                TraceEvent::SocketCall {
                    host: HostId(host),
                    app: AppId(0),
                    socket: Some(SocketId(socket)),
                    call,
                },
            );
        }
    }

    /// A client (10.0.0.1:49152) and a server (10.0.0.2:80): handshake, a
    /// lost ACK, a duplicated request read in two pieces, an active close
    /// and a FIN still in flight at the end.
    fn exchange() -> Trace {
        use TcpState::*;
        let c = (49152, 80);
        let s = (80, 49152);
        let mut b = Builder::new(&["client", "server"]);
        b.call(
            0,
            1,
            180,
            SocketCall::Listen {
                port: 80,
                backlog: 1,
            },
        );
        b.state(0, 1, (80, 0), Closed, Listen);
        b.call(
            0,
            0,
            52,
            SocketCall::Connect {
                remote: "10.0.0.2:80".parse().unwrap(),
                local_port: 49152,
            },
        );
        b.state(0, 0, c, Closed, SynSent);
        let f = b.send(0, 0, 1, tcp(1, 2, c, 1000, 0, SYN, b""));
        b.deliver(10, f, 1);
        b.state(10, 1, s, Listen, SynReceived);
        let f = b.send(10, 1, 0, tcp(2, 1, s, 5000, 1001, SYN | ACK, b""));
        b.deliver(20, f, 0);
        b.state(20, 0, c, SynSent, Established);
        let f = b.send(20, 0, 1, tcp(1, 2, c, 1001, 5001, ACK, b""));
        b.at(
            20,
            TraceEvent::FrameDropped {
                frame: f,
                from: HostId(0),
                to: Some(HostId(1)),
                reason: DropReason::Loss,
            },
        );
        let send = |n: usize, of: usize| SocketCall::Send {
            requested: of,
            accepted: n,
            preview: Preview::of(&b"hello"[..n]),
        };
        b.call(20, 0, 52, send(5, 5));
        b.call(20, 0, 52, send(0, 3));
        let f = b.send(20, 0, 1, tcp(1, 2, c, 1001, 5001, PSH | ACK, b"hello"));
        b.at(
            20,
            TraceEvent::FrameDuplicated {
                frame: f,
                copy: FrameId(99),
            },
        );
        b.deliver(30, f, 1);
        b.deliver(31, FrameId(99), 1);
        b.state(30, 1, s, SynReceived, Established);
        for n in [3, 2] {
            b.call(
                30,
                1,
                180,
                SocketCall::Recv {
                    bytes: n,
                    preview: Preview::of(&b"hel"[..n]),
                },
            );
        }
        b.call(40, 0, 52, SocketCall::Close { unread: 0 });
        b.state(40, 0, c, Established, FinWait1);
        b.state(40, 0, c, FinWait1, FinWait2);
        b.state(40, 0, c, FinWait2, TimeWait);
        b.send(40, 0, 1, tcp(1, 2, c, 1006, 5001, FIN | ACK, b""));
        b.trace
    }

    // ----- a line grammar ------------------------------------------------

    /// Checks what Mermaid's lexer cares about: the header, participants
    /// first and once, plain ids, arrows and notes between declared
    /// participants, and text whose special characters are all encoded.
    fn check_structure(diagram: &str) -> Result<(), String> {
        let mut lines = diagram.lines();
        if lines.next() != Some("sequenceDiagram") {
            return Err("missing header".into());
        }
        let id_ok = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        let mut declared = BTreeSet::new();
        let mut body = false;
        for line in lines {
            let err = |e: &str| Err(format!("{e}: {line:?}"));
            let Some(stmt) = line.strip_prefix("    ") else {
                return err("not indented");
            };
            if stmt.starts_with("%% ") {
                continue;
            }
            let (head, text) = if let Some(rest) = stmt.strip_prefix("participant ") {
                if body {
                    return err("late participant");
                }
                let Some((id, label)) = rest.split_once(" as ") else {
                    return err("no alias");
                };
                if !id_ok(id) || !declared.insert(id.to_string()) {
                    return err("bad or repeated id");
                }
                (None, label)
            } else {
                body = true;
                match stmt.split_once(": ") {
                    Some((head, text)) => (Some(head), text),
                    None => return err("no text"),
                }
            };
            let plain = text.replace("<br/>", " ");
            let mut rest = plain.as_str();
            while let Some(i) = rest.find('#') {
                let after = &rest[i + 1..];
                match after.find(';') {
                    Some(e) if e > 0 && after[..e].chars().all(|c| c.is_ascii_alphanumeric()) => {
                        if rest[..i].contains(|c| ";<>&\"%{}$`\\".contains(c)) {
                            return err("unencoded character");
                        }
                        rest = &after[e + 1..];
                    }
                    _ => return err("stray #"),
                }
            }
            if rest.contains(|c: char| ";<>&\"%{}$`\\".contains(c) || c.is_control())
                || text.trim().is_empty()
            {
                return err("unencoded character or empty text");
            }
            let Some(head) = head else { continue };
            let ids: Vec<&str> = if let Some(over) = head.strip_prefix("Note over ") {
                over.split(',').collect()
            } else if let Some(id) = head.strip_prefix("Note left of ") {
                vec![id]
            } else {
                match ["-->>", "->>", "--x", "-x", "--)", "-)"]
                    .iter()
                    .find_map(|a| head.split_once(a))
                {
                    Some((a, b)) => vec![a, b],
                    None => return err("unknown statement"),
                }
            };
            if ids.iter().any(|id| !declared.contains(*id)) {
                return err("undeclared participant");
            }
        }
        Ok(())
    }

    fn body(diagram: &str) -> Vec<&str> {
        diagram.lines().skip(1).map(str::trim).collect()
    }

    // ----- escaping --------------------------------------------------------

    /// Mermaid's decoding of the entity codes `escape_text` writes.
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('#') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let end = after.find(';').expect("entity without `;`");
            out.push(match &after[..end] {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                n => char::from_u32(n.parse().expect("numeric entity")).unwrap(),
            });
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn socket_calls_read_as_in_the_text_timeline() {
        // One wording for both renderers: a call without a payload reads
        // exactly as in the text timeline, and one with a payload differs
        // only in its quotes.
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
        for call in [
            SocketCall::Accept { remote },
            SocketCall::Close { unread: 3 },
            SocketCall::Abort,
            SocketCall::Connect {
                remote,
                local_port: 80,
            },
        ] {
            assert_eq!(describe_call(&call), crate::text::socket_call(&call));
        }
        let send = SocketCall::Send {
            requested: 5,
            accepted: 3,
            preview: Preview::of(b"hel"),
        };
        assert_eq!(
            crate::text::socket_call(&send),
            "send 3 of 5 bytes (send buffer full) \"hel\""
        );
        assert_eq!(
            describe_call(&send),
            "send 3 of 5 bytes (send buffer full) “hel”"
        );
    }

    #[test]
    fn escaping_encodes_every_character_mermaid_treats_specially() {
        assert_eq!(escape_text("a;b"), "a#59;b");
        assert_eq!(escape_text("#1"), "#35;1");
        assert_eq!(escape_text("<br/>"), "#lt;br/#gt;");
        assert_eq!(escape_text("a & \"b\""), "a #amp; #quot;b#quot;");
        assert_eq!(
            escape_text("%%{init: {}}%%"),
            "#37;#37;#123;init: #123;#125;#125;#37;#37;"
        );
        assert_eq!(
            escape_text("$$x$$ `y` \\"),
            "#36;#36;x#36;#36; #96;y#96; #92;"
        );
        assert_eq!(escape_text("a\nb\r\tc\u{7}d\u{2028}e"), "a b  c d e");
        assert_eq!(escape_text("→ “ok” 서버"), "→ “ok” 서버");
        assert_eq!(escape_text("GET / HTTP/1.1: x"), "GET / HTTP/1.1: x");
        assert_eq!(escape_text(""), "");
    }

    #[test]
    fn escaping_defuses_mermaid_preprocessing_and_options() {
        // A leading wrap:/nowrap: would be taken as a Mermaid option.
        assert_eq!(escape_text("wrap: x: y"), "wrap#58; x: y");
        assert_eq!(escape_text("  NoWrap:x"), "  NoWrap#58;x");
        assert_eq!(escape_text("unwrap: x"), "unwrap: x");
        // Mermaid rewrites `style...:...#...;` before parsing: no colon may survive.
        assert_eq!(escape_text("style:#f00;"), "style#58;#35;f00#59;");
        assert_eq!(escape_text("GET /Style.css?a:b"), "GET /Style.css?a#58;b");
        assert_eq!(escape_text("classDef x:y"), "classDef x#58;y");
    }

    #[test]
    fn escaped_text_decodes_back_to_the_original() {
        let alphabet: Vec<char> = "ab ;#<>&\"%{}$`\\:'|-→서\u{1F600}wrapstyle"
            .chars()
            .collect();
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..2000 {
            let len = (state % 24) as usize;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let escaped = escape_text(&text);
            assert_eq!(unescape(&escaped), text, "{escaped}");
            assert!(
                !escaped.contains([';', '<', '>', '%', '{', '}', '"', '&', '$', '`', '\\'])
                    || escaped.matches(';').count() == escaped.matches('#').count(),
                "{escaped}"
            );
        }
    }

    #[test]
    fn participant_ids_are_plain_unique_and_never_keywords() {
        let mut taken = BTreeSet::new();
        let mut id = |name: &str, i: u32| {
            let id = participant_id(name, i, &taken);
            taken.insert(id.clone());
            id
        };
        assert_eq!(id("client", 0), "client");
        assert_eq!(id("web-1", 1), "web_1");
        assert_eq!(id("web_1", 2), "web_1_2");
        assert_eq!(id("end", 3), "h3");
        assert_eq!(id("Participant", 4), "h4");
        assert_eq!(id("1st", 5), "h5");
        assert_eq!(id("서버", 6), "h6");
        assert_eq!(id("stylesheet", 7), "h7");
        assert_eq!(id("", 8), "h8");
        assert_eq!(id("h3", 9), "h3_2");
    }

    #[test]
    fn http_lines_are_found_cut_and_cleaned() {
        assert_eq!(
            http_first_line(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").as_deref(),
            Some("GET /x HTTP/1.1")
        );
        assert_eq!(
            http_first_line(b"HTTP/1.1 204 No Content\r\n").as_deref(),
            Some("HTTP/1.1 204 No Content")
        );
        assert_eq!(
            http_first_line(b"POST /\x00\xff HTTP/1.1").as_deref(),
            Some("POST /?? HTTP/1.1")
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(100));
        let line = http_first_line(long.as_bytes()).unwrap();
        assert_eq!(line.chars().count(), 61);
        assert!(line.ends_with('…'));
        assert_eq!(http_first_line(b"hello"), None);
        assert_eq!(http_first_line(b"GETTING"), None);
    }

    // ----- selectors -------------------------------------------------------

    #[test]
    fn connection_selectors_parse_and_print_back() {
        for (text, host, port) in [
            ("49152", None, 49152),
            (" 80 ", None, 80),
            (":80", None, 80),
            ("client:49152", Some("client"), 49152),
            ("10.0.0.1:80", Some("10.0.0.1"), 80),
        ] {
            let s: ConnectionSelector = text.parse().unwrap();
            assert_eq!(s.host.as_deref(), host, "{text}");
            assert_eq!(s.port, port, "{text}");
            assert_eq!(s.to_string().parse::<ConnectionSelector>(), Ok(s));
        }
        for (text, problem) in [
            ("", "empty"),
            ("client:", "port is missing"),
            ("client:0", "port 0"),
            ("client:65536", "larger than 65535"),
            ("client:http", "not a number"),
            ("a b:80", "not a name"),
            ("::1:80", "not a name"),
        ] {
            let e = text.parse::<ConnectionSelector>().unwrap_err().to_string();
            assert!(e.contains(problem), "{text}: {e}");
            assert!(e.contains("expected PORT, HOST:PORT"), "{e}");
        }
    }

    #[test]
    fn a_selector_naming_an_unknown_host_is_reported() {
        let trace = exchange();
        let topo = &trace.topology;
        assert_eq!(ConnectionSelector::on_host("client", 1).check(topo), Ok(()));
        assert_eq!(
            ConnectionSelector::on_host("10.0.0.2", 1).check(topo),
            Ok(())
        );
        assert_eq!(ConnectionSelector::port(1).check(topo), Ok(()));
        let client = "10.0.0.1:49152".parse().unwrap();
        assert!(ConnectionSelector::on_host("client", 49152).matches(topo, client));
        assert!(ConnectionSelector::on_host("10.0.0.1", 49152).matches(topo, client));
        assert!(ConnectionSelector::port(49152).matches(topo, client));
        assert!(!ConnectionSelector::on_host("server", 49152).matches(topo, client));
        assert!(!ConnectionSelector::on_host("client", 80).matches(topo, client));
        assert!(!ConnectionSelector::on_host("nobody", 49152).matches(topo, client));
        let e = ConnectionSelector::on_host("clinet", 1)
            .check(topo)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no host `clinet` in this run (hosts: client, server)"
        );
        assert!(
            ConnectionSelector::on_host("10.9.9.9", 1)
                .check(topo)
                .is_err()
        );
    }

    // ----- the diagram -----------------------------------------------------

    #[test]
    fn an_exchange_is_drawn_with_fates_states_and_calls() {
        let d = render_mermaid(&exchange(), &MermaidOptions::default());
        check_structure(&d).unwrap();
        assert_eq!(
            body(&d),
            [
                "participant client as client<br/>10.0.0.1",
                "participant server as server<br/>10.0.0.2",
                "Note left of client: t = 0s",
                "Note over server: listen(:80, backlog=1)",
                "Note over client: connect(10.0.0.2:80) from :49152",
                "Note over client: CLOSED → SYN-SENT",
                "client->>server: SYN seq=0 win=4096",
                "Note left of client: t = 10ms",
                "Note over server: LISTEN → SYN-RECEIVED",
                "server->>client: SYN, ACK seq=0 ack=1 win=4096",
                "Note left of client: t = 20ms",
                "Note over client: SYN-SENT → ESTABLISHED",
                "client-xserver: ACK seq=1 ack=1 (dropped: loss)",
                "Note over client: send 5 bytes “hello”",
                "client->>server: PSH, ACK seq=1 ack=1 len=5",
                "client-->>server: duplicate: PSH, ACK seq=1 ack=1 len=5",
                "Note left of client: t = 30ms",
                "Note over server: SYN-RECEIVED → ESTABLISHED",
                "Note over server: recv 5 bytes (2 reads)",
                "Note left of client: t = 40ms",
                "Note over client: close()",
                "Note over client: ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT",
                "client-)server: FIN, ACK seq=6 ack=1 (still in flight when the trace ends)",
            ]
        );
    }

    #[test]
    fn windows_show_when_they_change_and_while_they_are_shut() {
        let mut b = Builder::new(&["a", "b"]);
        for (ms, window) in [(0, 4096u16), (1, 4096), (2, 0), (3, 0), (4, 4096)] {
            let mut bytes = tcp(1, 2, (1, 2), 0, 0, ACK, b"").to_vec();
            bytes[34..36].copy_from_slice(&window.to_be_bytes());
            b.send(ms, 0, 1, bytes.into());
        }
        let d = render_mermaid(&b.trace, &MermaidOptions::default());
        let labels: Vec<&str> = d
            .lines()
            .filter_map(|l| l.trim().strip_prefix("a-)b: "))
            .collect();
        let windows: Vec<Option<&str>> = labels
            .iter()
            .map(|l| l.split(' ').find(|w| w.starts_with("win=")))
            .collect();
        assert_eq!(
            windows,
            [
                Some("win=4096"),
                None,
                Some("win=0"),
                Some("win=0"),
                Some("win=4096")
            ]
        );
    }

    #[test]
    fn the_diagram_can_be_limited_to_a_connection() {
        use TcpState::*;
        // Two clients of one server; only the second one's connection.
        let mut b = Builder::new(&["a", "server", "b"]);
        let f = b.send(0, 0, 1, tcp(1, 2, (49152, 80), 0, 0, SYN, b""));
        b.deliver(1, f, 1);
        let f = b.send(0, 2, 1, tcp(3, 2, (49153, 80), 0, 0, SYN, b""));
        b.deliver(1, f, 1);
        b.at(
            0,
            TraceEvent::TcpState {
                host: HostId(2),
                socket: SocketId(1),
                local: "10.0.0.3:49153".parse().unwrap(),
                remote: Some("10.0.0.2:80".parse().unwrap()),
                from: Closed,
                to: SynSent,
                reason: None,
            },
        );
        b.call(0, 2, 1, SocketCall::Close { unread: 0 });
        b.call(0, 0, 1, SocketCall::Close { unread: 0 });
        let trace = b.trace;

        let full = render_mermaid(&trace, &MermaidOptions::default());
        check_structure(&full).unwrap();
        // Two connections: the ports say which arrow is which.
        assert!(
            full.contains("a->>server: :49152 → :80 SYN seq=0"),
            "{full}"
        );
        assert!(
            full.contains("b->>server: :49153 → :80 SYN seq=0"),
            "{full}"
        );

        for selector in ["49153", "b:49153", "10.0.0.3:49153"] {
            let options = MermaidOptions {
                connection: Some(selector.parse().unwrap()),
                ..MermaidOptions::default()
            };
            let d = render_mermaid(&trace, &options);
            check_structure(&d).unwrap();
            assert_eq!(
                body(&d),
                [
                    format!("%% simnet diagram limited to connection {selector}").as_str(),
                    "participant server as server<br/>10.0.0.2",
                    "participant b as b<br/>10.0.0.3",
                    "Note left of server: t = 0s",
                    "b->>server: SYN seq=0 win=4096",
                    "Note over b: CLOSED → SYN-SENT",
                    "Note over b: close()",
                ],
                "{selector}"
            );
        }
        // The port on the other host selects nothing.
        let options = MermaidOptions {
            connection: Some("server:49153".parse().unwrap()),
            ..MermaidOptions::default()
        };
        let d = render_mermaid(&trace, &options);
        check_structure(&d).unwrap();
        assert!(
            d.contains("nothing to show (connection server:49153)"),
            "{d}"
        );
    }

    #[test]
    fn the_diagram_can_be_limited_to_a_time_window() {
        let trace = exchange();
        let options = MermaidOptions {
            from: Some(SimTime::from_millis(20)),
            until: Some(SimTime::from_millis(20)),
            ..MermaidOptions::default()
        };
        let d = render_mermaid(&trace, &options);
        check_structure(&d).unwrap();
        let lines = body(&d);
        assert_eq!(
            lines[0],
            "%% simnet diagram limited to from t = 20ms, until t = 20ms"
        );
        assert_eq!(lines[3], "Note left of client: t = 20ms");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("Note left")).count(),
            1
        );
        // Numbers stay relative to the SYN outside the window; fates decided
        // after the window still show.
        assert!(lines.contains(&"client-xserver: ACK seq=1 ack=1 (dropped: loss)"));
        assert!(lines.contains(&"client-->>server: duplicate: PSH, ACK seq=1 ack=1 len=5"));
    }

    #[test]
    fn the_diagram_can_be_cut_after_a_number_of_events() {
        let options = MermaidOptions {
            max_events: Some(4),
            ..MermaidOptions::default()
        };
        let d = render_mermaid(&exchange(), &options);
        check_structure(&d).unwrap();
        let lines = body(&d);
        assert_eq!(
            lines[lines.len() - 2..],
            [
                "client->>server: SYN seq=0 win=4096",
                "Note over client,server: diagram cut after 4 events (max_events), \
                 the trace goes on from t = 10ms to t = 40ms",
            ]
        );
    }

    #[test]
    fn any_trace_gives_a_well_formed_diagram() {
        // Nothing at all.
        assert_eq!(
            render_mermaid(&Trace::default(), &MermaidOptions::default()),
            "sequenceDiagram\n"
        );
        // Hosts but no events.
        let d = render_mermaid(&Builder::new(&["a", "b"]).trace, &MermaidOptions::default());
        check_structure(&d).unwrap();
        assert!(d.ends_with("Note over a,b: no packets, states or socket calls in this trace\n"));
        // Garbage bytes, a frame with no route, events about unknown hosts
        // and frames, a run that ended.
        let mut b = Builder::new(&["a"]);
        b.send(0, 0, 0, Rc::from(&b"\x45garbage"[..]));
        b.at(
            1,
            TraceEvent::PacketSent {
                frame: FrameId(7),
                from: HostId(0),
                to: None,
                socket: None,
                bytes: tcp(1, 9, (1, 2), 0, 0, SYN, b""),
                len: 40,
            },
        );
        b.at(
            1,
            TraceEvent::FrameDropped {
                frame: FrameId(7),
                from: HostId(0),
                to: None,
                reason: DropReason::NoRoute,
            },
        );
        b.deliver(2, FrameId(1234), 5);
        b.at(
            2,
            TraceEvent::DataLost {
                host: HostId(0),
                socket: SocketId(1),
                cause: simnet_core::trace::LossCause::ResetByPeer,
                unread: Some((100, 5)),
                unacked: Some((7, 3)),
            },
        );
        b.call(3, 42, 1, SocketCall::RecvEof);
        b.at(
            4,
            TraceEvent::RunEnded {
                reason: simnet_core::trace::EndReason::Idle,
            },
        );
        let d = render_mermaid(&b.trace, &MermaidOptions::default());
        check_structure(&d).unwrap();
        assert!(d.contains("a-)a: undecodable frame (8 bytes)"), "{d}");
        assert!(
            d.contains("Note over a: to 10.0.0.9, SYN seq=0 win=4096 (dropped: no-route)"),
            "{d}"
        );
        assert!(
            d.contains(
                "Note over a: data lost (reset by peer): 5 received bytes never read, \
                 3 written bytes never acknowledged"
            ),
            "{d}"
        );
        assert!(d.contains("participant h42 as host #35;42"), "{d}");
        assert!(
            d.contains("Note over a,h42: run ended: idle: no events left"),
            "{d}"
        );
    }
}

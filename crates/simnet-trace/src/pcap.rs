//! Packet captures: the trace's packets as a file Wireshark, tshark and
//! tcpdump can open.
//!
//! Two formats, both written byte by byte here (they are small enough that a
//! library would hide more than it saves):
//!
//! - [`render_pcap`]: classic libpcap, the format every tool reads. Nanosecond
//!   timestamps (magic `0xa1b23c4d`), link type `LINKTYPE_RAW` (101: each
//!   record is a bare IPv4 packet), little-endian, snap length 65535.
//! - [`render_pcapng`]: pcapng with one interface per host (named after it,
//!   so Wireshark's `frame.interface_name` says who sent a packet) and a
//!   comment on every packet saying what simnet did with it: `dropped: loss`,
//!   `delivered to server at 10.000ms`, `corrupted: bit 97 flipped`...
//!   (`frame.comment` in Wireshark).
//!
//! Both are written as the run goes by a [`TraceSink`] ([`PcapWriter`],
//! [`PcapngWriter`]) handed to
//! [`World::stream_to`](simnet_core::World::stream_to); the two functions
//! replay a stored trace into them, so the bytes are the same either way.
//!
//! Where the capture is taken: at the sender, as the packet leaves the host
//! (one record per [`TraceEvent::PacketSent`], with exactly the bytes sent).
//! A trace captured with `Capture::Headers` gives records holding only the
//! headers, with the original length, as `tcpdump -s` with a short snap
//! length does (Wireshark shows "N bytes on wire, M bytes captured").
//! So a packet the link then loses is in the capture like any other; the
//! classic format has no place to say so, which is what the pcapng comments
//! are for. Arrivals are deliberately not captured a second time: every
//! packet would appear twice and Wireshark's TCP analysis would call the
//! second copy a retransmission.
//!
//! Timestamps are simulated time, counted from the Unix epoch: a packet sent
//! 20 ms into the run is stamped 1970-01-01 00:00:00.020 UTC. (Wireshark's
//! default time column counts from the first packet instead; `tshark -t e`,
//! or View → Time Display Format → Seconds Since Epoch, shows simulated time
//! itself.) No host clock is read, so the same trace always gives the same
//! bytes.
//!
//! What this module does not do: it invents no link layer (simnet has no
//! Ethernet and no MAC addresses, hence raw IP), and it never truncates a
//! packet (IPv4 packets are at most 65535 bytes, the snap length).

use crate::inflight::InFlight;
use simnet_core::socket::HostId;
use simnet_core::trace::{DelayCause, Topology, Trace, TraceEvent, TraceRecord, TraceSink};
use simnet_core::{FrameId, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::io;
use std::sync::Arc;

/// `LINKTYPE_RAW`: every packet starts with its IPv4 header.
pub const LINKTYPE_RAW: u16 = 101;

/// The largest packet a record holds whole. IPv4's total-length field is 16
/// bits, so no packet is ever larger.
pub const SNAPLEN: u32 = 65535;

/// The classic pcap magic number for nanosecond timestamps (the microsecond
/// variant is `0xa1b2c3d4`). Written little-endian, so a file starts with the
/// bytes `4d 3c b2 a1`.
pub const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Renders every sent packet as a classic libpcap file with nanosecond
/// timestamps and raw IPv4 records: the stored trace replayed into a
/// [`PcapWriter`], one implementation, the same bytes.
pub fn render_pcap(trace: &Trace) -> Vec<u8> {
    let mut writer = PcapWriter::new(Vec::new());
    trace.replay(&mut writer);
    // Writing to a `Vec` cannot fail.
    writer.finish().unwrap_or_default()
}

/// A classic pcap written as the packets are sent: a [`TraceSink`] for
/// [`World::stream_to`](simnet_core::World::stream_to).
///
/// [`PcapWriter::new`] writes the 24-byte global header at once; every
/// [`TraceEvent::PacketSent`] then writes its record. It keeps nothing
/// between records. Give it a [`BufWriter`](std::io::BufWriter) around a
/// file or stdout (each record is two writes). The first write error is
/// kept, nothing more is written, and [`PcapWriter::finish`] returns it.
pub struct PcapWriter<W: io::Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: io::Write> PcapWriter<W> {
    /// Whether a write to `out` failed: nothing more is written, and the
    /// run producing the records can stop ([`PcapWriter::finish`] returns
    /// the error).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// A writer to `out`; writes the global header now.
    pub fn new(out: W) -> PcapWriter<W> {
        // The 24-byte global header.
        let mut header = Vec::with_capacity(24);
        put_u32(&mut header, PCAP_MAGIC_NANOS);
        put_u16(&mut header, 2); // format version 2.4
        put_u16(&mut header, 4);
        put_u32(&mut header, 0); // time zone offset: timestamps are UTC
        put_u32(&mut header, 0); // timestamp accuracy: unused by every tool
        put_u32(&mut header, SNAPLEN);
        put_u32(&mut header, u32::from(LINKTYPE_RAW));
        let mut writer = PcapWriter { out, error: None };
        writer.write(&[&header]);
        writer
    }

    fn write(&mut self, parts: &[&[u8]]) {
        for part in parts {
            if self.error.is_none()
                && let Err(e) = self.out.write_all(part)
            {
                self.error = Some(e);
            }
        }
    }

    /// Flushes `out` and gives it back, or the first error writing to it.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: io::Write> TraceSink for PcapWriter<W> {
    fn record(&mut self, _: &Topology, record: &TraceRecord) {
        let TraceEvent::PacketSent { bytes, len, .. } = &record.event else {
            return;
        };
        let ns = record.time.as_nanos();
        let captured = captured(bytes);
        // The 16-byte record header: seconds, nanoseconds, captured length,
        // original length.
        let mut header = Vec::with_capacity(16);
        put_u32(&mut header, saturating_u32(ns / 1_000_000_000));
        put_u32(&mut header, (ns % 1_000_000_000) as u32);
        put_u32(&mut header, captured.len() as u32);
        put_u32(&mut header, original_len(*len, captured));
        self.write(&[&header, captured]);
    }
}

/// pcapng block types used here.
const BLOCK_SECTION_HEADER: u32 = 0x0a0d_0d0a;
const BLOCK_INTERFACE: u32 = 0x0000_0001;
const BLOCK_ENHANCED_PACKET: u32 = 0x0000_0006;
/// Written in the section header in the file's byte order; readers use it to
/// detect that order.
const PCAPNG_BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// pcapng option codes used here.
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_DESCRIPTION: u16 = 3;
const OPT_IF_TSRESOL: u16 = 9;

/// Renders every sent packet as a pcapng file: one interface per host, named
/// after it, nanosecond timestamps, and a comment on each packet with its
/// fate. This is the stored trace replayed into a [`PcapngWriter`]: one
/// implementation, the same bytes.
pub fn render_pcapng(trace: &Trace) -> Vec<u8> {
    // A stored trace can be looked through first: if a packet comes from a
    // host the topology lacks, the extra interface goes right after the
    // hosts' (a streamed run writes it before the first such packet; simnet
    // never records one).
    let hosts = trace.topology.hosts.len();
    let unknown_sender = trace.records.iter().any(
        |r| matches!(&r.event, TraceEvent::PacketSent { from, .. } if from.0 as usize >= hosts),
    );
    let mut writer =
        PcapngWriter::with_unknown_interface(Vec::new(), &trace.topology, unknown_sender);
    trace.replay(&mut writer);
    // Writing to a `Vec` cannot fail.
    writer.finish().unwrap_or_default()
}

/// A pcapng file written as the run goes: a [`TraceSink`] for
/// [`World::stream_to`](simnet_core::World::stream_to).
///
/// [`PcapngWriter::new`] writes the section header and one interface block
/// per host at once. Each packet's block carries a comment with its fate
/// (`dropped: loss`, `delivered to server at 10.000ms`), and that fate is
/// only known from records that come after the [`TraceEvent::PacketSent`]:
/// the link's decisions in the same instant, then the `FrameDelivered` or
/// `FrameDropped` of the frame and of each of its copies when they reach the
/// far end. So the writer holds each packet (a reference to its bytes, and
/// its comment so far) until its fate is complete and simulated time has
/// moved past it (see `inflight`), and writes the packets in the order they
/// were sent, exactly as the stored file has them. A packet waits for the
/// packets sent before it, so what is held is what was sent within the
/// longest time a frame spends on a link (latency, queueing, reordering and
/// fault delays): bounded by the links, not by the run's length. Packets
/// still in flight when the run ends are written by
/// [`PcapngWriter::finish`], with the fate they had.
///
/// Give it a [`BufWriter`](std::io::BufWriter) around a file or stdout.
/// The first write error is kept, nothing more is written, and
/// [`PcapngWriter::finish`] returns it.
pub struct PcapngWriter<W: io::Write> {
    out: W,
    error: Option<io::Error>,
    /// Interfaces for the topology's hosts.
    hosts: u32,
    /// Whether the interface of senders missing from the topology (`?`,
    /// numbered `hosts`) is written.
    unknown_interface: bool,
    fates: Fates,
    inflight: InFlight,
    /// Packets not written yet, in the order they were sent.
    held: VecDeque<HeldPacket>,
    /// Frames among the held whose fate is complete, with how many held
    /// packets carry the id (a hand-built trace may send one id twice).
    complete: BTreeMap<FrameId, usize>,
    /// How many held packets carry each frame id.
    held_ids: BTreeMap<FrameId, usize>,
}

/// A packet sent and not yet written.
struct HeldPacket {
    time: SimTime,
    frame: FrameId,
    from: HostId,
    bytes: Arc<[u8]>,
    /// The packet's length on the wire (`bytes` may hold only its headers).
    len: u32,
}

impl<W: io::Write> PcapngWriter<W> {
    /// Whether a write to `out` failed: nothing more is written, and the
    /// run producing the records can stop ([`PcapngWriter::finish`] returns
    /// the error).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// A writer of a run of `topology` (the topology the records will be
    /// handed with); writes the section header and the interfaces now.
    pub fn new(out: W, topology: &Topology) -> PcapngWriter<W> {
        PcapngWriter::with_unknown_interface(out, topology, false)
    }

    /// [`PcapngWriter::new`], writing the interface of unknown senders with
    /// the hosts' when `unknown_sender` (a stored trace knows in advance).
    fn with_unknown_interface(
        out: W,
        topology: &Topology,
        unknown_sender: bool,
    ) -> PcapngWriter<W> {
        let mut writer = PcapngWriter {
            out,
            error: None,
            hosts: saturating_u32(topology.hosts.len() as u64),
            unknown_interface: false,
            fates: Fates::default(),
            inflight: InFlight::default(),
            held: VecDeque::new(),
            complete: BTreeMap::new(),
            held_ids: BTreeMap::new(),
        };
        let mut out = Vec::new();
        // Section header: byte-order magic, version 1.0, section length
        // unknown (-1), and the writing application's name (without a
        // version, so that upgrading simnet does not change the bytes of an
        // unchanged capture).
        let mut body = Vec::new();
        put_u32(&mut body, PCAPNG_BYTE_ORDER_MAGIC);
        put_u16(&mut body, 1);
        put_u16(&mut body, 0);
        body.extend_from_slice(&(-1i64).to_le_bytes());
        put_option(&mut body, OPT_SHB_USERAPPL, b"simnet");
        put_u32(&mut body, u32::from(OPT_END));
        put_block(&mut out, BLOCK_SECTION_HEADER, &body);

        // One interface per host, in host order, so a packet's interface id
        // is its sender's index.
        for h in &topology.hosts {
            let description = format!("simnet host {} ({})", h.name, h.addr);
            put_interface(&mut out, &h.name, &description);
        }
        writer.write(&out);
        if unknown_sender {
            writer.write_unknown_interface();
        }
        writer
    }

    /// Packets from a host the topology lacks (simnet never records one,
    /// but a trace built by hand may) share one extra interface named `?`,
    /// so the file is valid whatever the input.
    fn write_unknown_interface(&mut self) {
        let mut out = Vec::new();
        put_interface(&mut out, "?", "simnet: hosts missing from the topology");
        self.write(&out);
        self.unknown_interface = true;
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(bytes)
        {
            self.error = Some(e);
        }
    }

    /// Writes the packet at the front of the held queue.
    fn write_front(&mut self) {
        let Some(packet) = self.held.pop_front() else {
            return;
        };
        let interface = packet.from.0.min(self.hosts);
        if interface == self.hosts && !self.unknown_interface {
            self.write_unknown_interface();
        }
        let comment = self
            .fates
            .lines
            .get(&packet.frame)
            .map(String::as_str)
            .unwrap_or("");
        let ns = packet.time.as_nanos();
        let captured = captured(&packet.bytes);
        let mut body = Vec::with_capacity(32 + captured.len() + comment.len());
        put_u32(&mut body, interface);
        put_u32(&mut body, (ns >> 32) as u32);
        put_u32(&mut body, ns as u32);
        put_u32(&mut body, captured.len() as u32);
        put_u32(&mut body, original_len(packet.len, captured));
        body.extend_from_slice(captured);
        pad4(&mut body);
        if !comment.is_empty() {
            put_option(&mut body, OPT_COMMENT, comment.as_bytes());
            put_u32(&mut body, u32::from(OPT_END));
        }
        let mut block = Vec::with_capacity(body.len() + 12);
        put_block(&mut block, BLOCK_ENHANCED_PACKET, &body);
        self.write(&block);
        // The last held packet of its id takes the id's state with it.
        let frame = packet.frame;
        if decrement(&mut self.held_ids, frame) {
            self.fates.lines.remove(&frame);
            self.fates.senders.remove(&frame);
            self.complete.remove(&frame);
        } else {
            decrement(&mut self.complete, frame);
        }
    }

    /// Writes the held packets whose fate is complete, up to the first that
    /// is not.
    fn write_complete(&mut self) {
        while let Some(front) = self.held.front() {
            if !self.complete.contains_key(&front.frame) {
                break;
            }
            self.write_front();
        }
    }

    /// How many frames the writer remembers (for the tests of the bound).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        [
            self.held.len(),
            self.fates.lines.len(),
            self.fates.originals.len(),
            self.inflight.tracked(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Writes the packets still held, with the fate they had, flushes `out`
    /// and gives it back, or the first error writing to it.
    pub fn finish(mut self) -> io::Result<W> {
        while !self.held.is_empty() {
            self.write_front();
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: io::Write> TraceSink for PcapngWriter<W> {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        let (fates, complete, held_ids) = (&mut self.fates, &mut self.complete, &self.held_ids);
        self.inflight.retire_before(record.time, |original, ids| {
            for id in ids {
                fates.originals.remove(id);
            }
            if let Some(n) = held_ids.get(&original) {
                complete.insert(original, *n);
            }
        });
        self.write_complete();
        self.fates.observe(topology, record);
        if let TraceEvent::PacketSent {
            frame,
            from,
            bytes,
            len,
            ..
        } = &record.event
        {
            self.held.push_back(HeldPacket {
                time: record.time,
                frame: *frame,
                from: *from,
                bytes: bytes.clone(),
                len: *len,
            });
            *self.held_ids.entry(*frame).or_default() += 1;
        }
        self.inflight.observe(record.time, &record.event);
    }
}

/// Counts one down; true (and the key gone) when it reaches zero.
fn decrement(counts: &mut BTreeMap<FrameId, usize>, key: FrameId) -> bool {
    match counts.get_mut(&key) {
        Some(n) if *n > 1 => {
            *n -= 1;
            false
        }
        Some(_) => {
            counts.remove(&key);
            true
        }
        None => true,
    }
}

/// Appends an interface description block for raw IPv4 with nanosecond
/// timestamps.
fn put_interface(out: &mut Vec<u8>, name: &str, description: &str) {
    let mut body = Vec::new();
    put_u16(&mut body, LINKTYPE_RAW);
    put_u16(&mut body, 0); // reserved
    put_u32(&mut body, SNAPLEN);
    put_option(&mut body, OPT_IF_NAME, name.as_bytes());
    put_option(&mut body, OPT_IF_DESCRIPTION, description.as_bytes());
    // Timestamps count units of 10^-9 seconds.
    put_option(&mut body, OPT_IF_TSRESOL, &[9]);
    put_u32(&mut body, u32::from(OPT_END));
    put_block(out, BLOCK_INTERFACE, &body);
}

/// A record's original length: the packet's wire length, and never less than
/// what the record holds (a hand-built trace may claim less).
fn original_len(len: u32, captured: &[u8]) -> u32 {
    len.max(captured.len() as u32)
}

/// The part of a packet a record holds: all of it, up to the snap length.
fn captured(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(SNAPLEN as usize)]
}

/// What happened to each sent frame, one line per frame, e.g.
/// `client -> server, frame #7; dropped: loss`.
///
/// A frame's fate is recorded after the frame is sent, so it cannot be known
/// when the packet is; [`PcapngWriter`] holds the packet until it is.
#[derive(Default)]
struct Fates {
    lines: BTreeMap<FrameId, String>,
    /// A link's duplicate gets its own frame id but is not in the capture;
    /// its fate is written on the original packet, prefixed `copy #id`.
    /// Maps copy id -> original id.
    originals: BTreeMap<FrameId, FrameId>,
    /// Who sent each frame still awaiting its fate.
    senders: BTreeMap<FrameId, HostId>,
}

impl Fates {
    /// Appends `text` to the line of `frame` (or of the frame it copies).
    fn note(&mut self, frame: FrameId, text: &str) {
        let (original, prefix) = match self.originals.get(&frame) {
            Some(o) => (*o, format!("copy {frame} ")),
            None => (frame, String::new()),
        };
        // Only frames that were sent have a line to append to.
        if let Some(line) = self.lines.get_mut(&original) {
            let _ = write!(line, "; {prefix}{text}");
        }
    }

    /// Takes note of what one record says about a frame.
    fn observe(&mut self, topo: &Topology, r: &TraceRecord) {
        match &r.event {
            TraceEvent::PacketSent {
                frame, from, to, ..
            } => {
                let to = match to {
                    Some(h) => topo.host_name(*h),
                    None => "nowhere",
                };
                let line = format!("{} -> {to}, frame {frame}", topo.host_name(*from));
                self.lines.insert(*frame, line);
                self.senders.insert(*frame, *from);
            }
            TraceEvent::FrameQueued {
                frame,
                queue_bytes,
                departs,
                ..
            } => {
                // With a bandwidth limit every frame takes time to leave;
                // only some wait behind others first.
                let text = match queue_bytes {
                    0 => format!("last bit sent at {departs}"),
                    n => format!("queued behind {n} bytes, last bit sent at {departs}"),
                };
                self.note(*frame, &text);
            }
            TraceEvent::FrameForwarded {
                frame, router, to, ..
            } => {
                let text = format!(
                    "forwarded by {} to {} at {}",
                    topo.host_name(*router),
                    topo.host_name(*to),
                    r.time
                );
                self.note(*frame, &text);
            }
            TraceEvent::FrameEnqueued {
                frame, queue_bytes, ..
            } => {
                if *queue_bytes > 0 {
                    self.note(*frame, &format!("queued behind {queue_bytes} bytes"));
                }
            }
            TraceEvent::FrameDequeued {
                frame,
                waited,
                departs,
                ..
            } => {
                self.note(
                    *frame,
                    &format!("left the queue after {waited}, last bit sent at {departs}"),
                );
            }
            TraceEvent::FrameDropped {
                frame,
                from,
                reason,
                ..
            } => {
                // A drop at the sender's own link says only why; at a
                // router on the way it says where.
                match self.senders.get(frame) {
                    Some(sender) if sender != from => self.note(
                        *frame,
                        &format!("dropped: {reason} at {}", topo.host_name(*from)),
                    ),
                    _ => self.note(*frame, &format!("dropped: {reason}")),
                }
            }
            TraceEvent::FrameDelayed { frame, by, cause } => {
                let why = match cause {
                    DelayCause::Reorder => "reordered",
                    DelayCause::Fault => "delayed by fault",
                };
                self.note(*frame, &format!("{why}: held back {by}"));
            }
            TraceEvent::FrameDuplicated { frame, copy } => {
                self.note(*frame, &format!("duplicated as {copy}"));
                // A copy of a copy still belongs to the packet in the capture.
                let original = self.originals.get(frame).copied().unwrap_or(*frame);
                self.originals.insert(*copy, original);
            }
            TraceEvent::FrameCorrupted { frame, bit } => {
                self.note(*frame, &format!("corrupted: bit {bit} flipped"));
            }
            TraceEvent::FrameDelivered { frame, to } => {
                let text = format!("delivered to {} at {}", topo.host_name(*to), r.time);
                self.note(*frame, &text);
            }
            TraceEvent::FrameDiscarded {
                frame,
                host,
                reason,
            } => {
                let text = format!("discarded by {}: {reason}", topo.host_name(*host));
                self.note(*frame, &text);
            }
            TraceEvent::FaultMatched {
                frame, description, ..
            } => self.note(*frame, &format!("fault: {description}")),
            TraceEvent::TcpState { .. }
            | TraceEvent::NatMapped { .. }
            | TraceEvent::NatExpired { .. }
            | TraceEvent::DataLost { .. }
            | TraceEvent::SocketCall { .. }
            | TraceEvent::App { .. }
            | TraceEvent::Action { .. }
            | TraceEvent::RunEnded { .. } => {}
        }
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn saturating_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Pads with zeros to a multiple of four bytes, as pcapng requires.
fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Appends a pcapng option: code, length, value, padding. A value longer than
/// an option can hold (65535 bytes) is cut at a UTF-8 character boundary, so a
/// comment stays valid text.
fn put_option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    let mut len = value.len().min(usize::from(u16::MAX));
    while len < value.len() && len > 0 && (value[len] & 0xc0) == 0x80 {
        len -= 1;
    }
    put_u16(out, code);
    put_u16(out, len as u16);
    out.extend_from_slice(&value[..len]);
    pad4(out);
}

/// Appends a pcapng block: type, total length, body, total length again.
fn put_block(out: &mut Vec<u8>, block_type: u32, body: &[u8]) {
    // Bodies are built padded; the header and trailer add 12 bytes.
    let total = saturating_u32(body.len() as u64 + 12);
    put_u32(out, block_type);
    put_u32(out, total);
    out.extend_from_slice(body);
    put_u32(out, total);
}

#[cfg(test)]
mod tests {
    use super::*;
    use simnet_core::apps::{TcpClient, TcpEcho};
    use simnet_core::link::DropReason;
    use simnet_core::trace::{HostInfo, Topology};
    use simnet_core::{LinkParams, SimDuration, WorldBuilder};

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn le16(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    /// A trace with two hosts and the given packets (time in ns, sender, bytes).
    fn trace_with(packets: &[(u64, u32, &[u8])]) -> Trace {
        let whole: Vec<_> = packets
            .iter()
            .map(|&(ns, from, bytes)| (ns, from, bytes, bytes.len() as u32))
            .collect();
        trace_with_lengths(&whole)
    }

    /// [`trace_with`], each packet with the wire length its record claims.
    fn trace_with_lengths(packets: &[(u64, u32, &[u8], u32)]) -> Trace {
        let mut trace = Trace {
            topology: Topology {
                seed: 1,
                hosts: vec![
                    HostInfo {
                        name: "client".into(),
                        addr: [10, 0, 0, 1].into(),
                        router: false,
                    },
                    HostInfo {
                        name: "server".into(),
                        addr: [10, 0, 0, 2].into(),
                        router: false,
                    },
                ],
                ..Topology::default()
            },
            ..Trace::default()
        };
        for (i, (ns, from, bytes, len)) in packets.iter().enumerate() {
            trace.push(
                SimTime::from_nanos(*ns),
                TraceEvent::PacketSent {
                    frame: FrameId(i as u64),
                    from: HostId(*from),
                    to: Some(HostId(1 - *from)),
                    socket: None,
                    bytes: Arc::from(*bytes),
                    len: *len,
                },
            );
        }
        trace
    }

    /// A real run: a client sends "hello" to an echo server over a 10 ms link.
    fn echo_run() -> Trace {
        let mut b = WorldBuilder::new(7);
        let client = b.host("client", [10, 0, 0, 1].into());
        let server = b.host("server", [10, 0, 0, 2].into());
        b.link(
            client,
            server,
            LinkParams::with_latency(SimDuration::from_millis(10)),
        );
        b.app(server, "tcp-echo", || TcpEcho::new(80));
        b.app(client, "tcp-client", || {
            TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5)
        });
        let mut world = b.build().unwrap();
        world.run();
        world.take_trace()
    }

    /// Splits a pcapng file into (block type, body) pairs, checking the framing.
    fn pcapng_blocks(file: &[u8]) -> Vec<(u32, &[u8])> {
        let mut blocks = Vec::new();
        let mut at = 0;
        while at < file.len() {
            let block_type = le32(file, at);
            let total = le32(file, at + 4) as usize;
            assert_eq!(total % 4, 0, "block at {at} is not 32-bit aligned");
            assert_eq!(le32(file, at + total - 4) as usize, total, "trailer length");
            blocks.push((block_type, &file[at + 8..at + total - 4]));
            at += total;
        }
        assert_eq!(at, file.len());
        blocks
    }

    /// The options of a block body starting at `at`: (code, value) pairs.
    fn options(body: &[u8], mut at: usize) -> Vec<(u16, &[u8])> {
        let mut out = Vec::new();
        while at + 4 <= body.len() {
            let code = le16(body, at);
            let len = usize::from(le16(body, at + 2));
            if code == OPT_END {
                break;
            }
            out.push((code, &body[at + 4..at + 4 + len]));
            at += 4 + len.next_multiple_of(4);
        }
        out
    }

    #[test]
    fn the_global_header_says_nanoseconds_raw_ip_little_endian() {
        let file = render_pcap(&Trace::default());
        assert_eq!(
            file,
            [
                0x4d, 0x3c, 0xb2, 0xa1, // magic, nanosecond variant
                2, 0, 4, 0, // version 2.4
                0, 0, 0, 0, // thiszone
                0, 0, 0, 0, // sigfigs
                0xff, 0xff, 0, 0, // snaplen 65535
                101, 0, 0, 0, // LINKTYPE_RAW
            ]
        );
    }

    #[test]
    fn each_sent_packet_is_one_record_with_its_simulated_time_and_bytes() {
        let trace = trace_with(&[(1_500_000_000, 0, b"abcde"), (20_000_123, 1, b"xyz")]);
        let file = render_pcap(&trace);
        assert_eq!(file.len(), 24 + (16 + 5) + (16 + 3));
        let first = &file[24..];
        assert_eq!(le32(first, 0), 1, "seconds");
        assert_eq!(le32(first, 4), 500_000_000, "nanoseconds");
        assert_eq!(le32(first, 8), 5, "captured length");
        assert_eq!(le32(first, 12), 5, "original length");
        assert_eq!(&first[16..21], b"abcde");
        let second = &file[24 + 21..];
        assert_eq!((le32(second, 0), le32(second, 4)), (0, 20_000_123));
        assert_eq!(&second[16..], b"xyz");
    }

    /// A record's original length is the packet's wire length when only
    /// its headers were kept, and never less than what the record holds.
    #[test]
    fn the_original_length_is_the_wire_length() {
        let trace = trace_with_lengths(&[(0, 0, b"head", 1500), (0, 0, b"whole", 2)]);
        for file in [render_pcap(&trace), render_pcapng(&trace)] {
            let classic = le32(&file, 0) == 0xa1b2_3c4d;
            let lengths: Vec<(u32, u32)> = if classic {
                vec![(le32(&file, 24 + 8), le32(&file, 24 + 12)), {
                    let second = 24 + 16 + 4;
                    (le32(&file, second + 8), le32(&file, second + 12))
                }]
            } else {
                // Enhanced packet blocks: captured and original length at 20 and 24.
                let mut at = 0;
                let mut found = Vec::new();
                while at < file.len() {
                    let (kind, size) = (le32(&file, at), le32(&file, at + 4) as usize);
                    if kind == 6 {
                        found.push((le32(&file, at + 20), le32(&file, at + 24)));
                    }
                    at += size;
                }
                found
            };
            assert_eq!(lengths, [(4, 1500), (5, 5)], "classic: {classic}");
        }
    }

    #[test]
    fn a_real_run_gives_one_record_per_packet_sent_and_the_same_bytes_twice() {
        let trace = echo_run();
        let sent: Vec<&[u8]> = trace
            .records
            .iter()
            .filter_map(|r| match &r.event {
                TraceEvent::PacketSent { bytes, .. } => Some(&bytes[..]),
                _ => None,
            })
            .collect();
        assert!(sent.len() >= 9, "handshake, data, echo and close");

        let file = render_pcap(&trace);
        let mut at = 24;
        let mut records = Vec::new();
        while at < file.len() {
            let len = le32(&file, at + 8) as usize;
            records.push(&file[at + 16..at + 16 + len]);
            at += 16 + len;
        }
        assert_eq!(records, sent);
        assert_eq!(render_pcap(&echo_run()), file, "deterministic");
    }

    #[test]
    fn pcapng_has_a_section_one_interface_per_host_and_one_block_per_packet() {
        let trace = echo_run();
        let file = render_pcapng(&trace);
        let blocks = pcapng_blocks(&file);
        let (shb_type, shb) = blocks[0];
        assert_eq!(shb_type, BLOCK_SECTION_HEADER);
        assert_eq!(le32(shb, 0), PCAPNG_BYTE_ORDER_MAGIC);

        let interfaces: Vec<&[u8]> = blocks
            .iter()
            .filter(|(t, _)| *t == BLOCK_INTERFACE)
            .map(|(_, b)| *b)
            .collect();
        assert_eq!(interfaces.len(), 2);
        let names: Vec<&[u8]> = interfaces
            .iter()
            .map(|b| {
                assert_eq!(le16(b, 0), LINKTYPE_RAW);
                let opts = options(b, 8);
                assert!(opts.contains(&(OPT_IF_TSRESOL, &[9][..])));
                opts.iter().find(|(c, _)| *c == OPT_IF_NAME).unwrap().1
            })
            .collect();
        assert_eq!(names, [&b"client"[..], &b"server"[..]]);

        let packets: Vec<&[u8]> = blocks
            .iter()
            .filter(|(t, _)| *t == BLOCK_ENHANCED_PACKET)
            .map(|(_, b)| *b)
            .collect();
        let sent: Vec<(SimTime, HostId, Arc<[u8]>)> = trace
            .records
            .iter()
            .filter_map(|r| match &r.event {
                TraceEvent::PacketSent { from, bytes, .. } => Some((r.time, *from, bytes.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(packets.len(), sent.len());
        for (block, (time, from, bytes)) in packets.iter().zip(&sent) {
            assert_eq!(le32(block, 0), from.0, "interface = sender");
            let ns = (u64::from(le32(block, 4)) << 32) | u64::from(le32(block, 8));
            assert_eq!(ns, time.as_nanos());
            let len = le32(block, 12) as usize;
            assert_eq!(&block[20..20 + len], &bytes[..]);
        }
        assert_eq!(render_pcapng(&echo_run()), file, "deterministic");
    }

    /// The comment of the `index`-th packet block.
    fn comment(file: &[u8], index: usize) -> String {
        let blocks = pcapng_blocks(file);
        let (_, body) = blocks
            .iter()
            .filter(|(t, _)| *t == BLOCK_ENHANCED_PACKET)
            .nth(index)
            .unwrap();
        let len = le32(body, 12) as usize;
        let opts = options(body, 20 + len.next_multiple_of(4));
        let (_, text) = opts.iter().find(|(c, _)| *c == OPT_COMMENT).unwrap();
        String::from_utf8(text.to_vec()).unwrap()
    }

    #[test]
    fn pcapng_comments_tell_each_packets_fate() {
        let mut trace = trace_with(&[(0, 0, b"lost"), (1_000, 1, b"kept")]);
        trace.push(
            SimTime::ZERO,
            TraceEvent::FrameDropped {
                frame: FrameId(0),
                from: HostId(0),
                to: Some(HostId(1)),
                reason: DropReason::Loss,
            },
        );
        trace.push(
            SimTime::from_millis(10),
            TraceEvent::FrameDuplicated {
                frame: FrameId(1),
                copy: FrameId(9),
            },
        );
        for frame in [1, 9] {
            trace.push(
                SimTime::from_millis(10),
                TraceEvent::FrameDelivered {
                    frame: FrameId(frame),
                    to: HostId(0),
                },
            );
        }
        let file = render_pcapng(&trace);
        assert_eq!(
            comment(&file, 0),
            "client -> server, frame #0; dropped: loss"
        );
        assert_eq!(
            comment(&file, 1),
            "server -> client, frame #1; duplicated as #9; \
             delivered to client at 10.000ms; copy #9 delivered to client at 10.000ms"
        );
    }

    #[test]
    fn senders_missing_from_the_topology_share_one_extra_interface() {
        let mut trace = trace_with(&[(0, 0, b"a")]);
        for (frame, from) in [(5, 7), (6, u32::MAX)] {
            trace.push(
                SimTime::ZERO,
                TraceEvent::PacketSent {
                    frame: FrameId(frame),
                    from: HostId(from),
                    to: None,
                    socket: None,
                    bytes: Arc::from(&b""[..]),
                    len: 0,
                },
            );
        }
        let file = render_pcapng(&trace);
        let blocks = pcapng_blocks(&file);
        let interfaces = blocks.iter().filter(|(t, _)| *t == BLOCK_INTERFACE);
        assert_eq!(
            interfaces.count(),
            3,
            "client, server, and one for strangers"
        );
        let ids: Vec<u32> = blocks
            .iter()
            .filter(|(t, _)| *t == BLOCK_ENHANCED_PACKET)
            .map(|(_, body)| le32(body, 0))
            .collect();
        assert_eq!(ids, [0, 2, 2]);
    }

    #[test]
    fn long_comments_are_cut_at_a_character_boundary() {
        let mut out = Vec::new();
        let text = "é".repeat(40_000); // 80 000 bytes
        put_option(&mut out, OPT_COMMENT, text.as_bytes());
        let len = usize::from(le16(&out, 2));
        assert_eq!(len, 65_534);
        assert!(std::str::from_utf8(&out[4..4 + len]).is_ok());
        assert_eq!(out.len() % 4, 0);
    }
}

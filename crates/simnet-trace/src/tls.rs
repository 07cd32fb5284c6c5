//! TLS records found in the packets themselves, for labelling arrows.
//!
//! [`record_labels`] reads a trace the way Wireshark reads a capture with
//! a key log: it puts each TCP direction's byte stream back in order from
//! the segments sent (by sequence number; a retransmission's bytes already
//! seen are skipped), keeps the connections whose client began with a TLS
//! handshake record, and decodes their records with `simnet-tls`'s wire
//! decoder ([`TlsObserver`]), the one TLS reader in simnet. The secrets are
//! the run's own `tls.keylog` events, so TLS 1.3's encrypted handshake is
//! named (EncryptedExtensions, Certificate, Finished) rather than shown as
//! opaque data. As in Wireshark, a record is labelled on the packet that
//! completes it, e.g. `TLS ServerHello, ChangeCipherSpec,
//! EncryptedExtensions, Certificate, CertificateVerify, Finished`.
//!
//! Bounded: segments beyond a gap are held up to [`MAX_PENDING_BYTES`] per
//! direction (then that direction is given up), and the decoder holds at
//! most one record per direction.

use crate::segments::{Direction, Segment, tcp_segments};
use simnet_core::packet::FrameId;
use simnet_core::trace::{FieldValue, Trace, TraceEvent};
use simnet_tls::KeyLogLines;
use simnet_tls::wire::{Direction as TlsDirection, TlsObserver};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;

/// Bytes held beyond a gap in one direction before it is given up.
pub const MAX_PENDING_BYTES: usize = 1 << 20;

/// Names shown per packet at most; more are counted.
const MAX_NAMES: usize = 8;

/// One connection: its client and the decoder of both directions.
struct Connection {
    client: SocketAddrV4,
    observer: TlsObserver,
    /// Set once either direction stops being decodable.
    done: bool,
}

/// One direction's reassembly.
struct Stream {
    /// Sequence number of stream offset 0.
    base: u32,
    /// The next offset to feed.
    next: u64,
    /// Segments beyond a gap: offset -> (frame, bytes).
    pending: BTreeMap<u64, (FrameId, Vec<u8>)>,
    pending_bytes: usize,
    /// The connection (by its client-to-server direction).
    key: Direction,
}

/// The TLS records each packet completes, as labels (one per packet, the
/// names joined).
///
/// Decoding needs the payloads: a trace kept with `Capture::Headers` gives
/// no labels at all.
pub fn record_labels(trace: &Trace) -> BTreeMap<FrameId, Vec<String>> {
    let keys = Arc::new(KeyLogLines::new());
    for r in trace.records.iter() {
        if let TraceEvent::App { event, .. } = &r.event
            && event.is_secret()
            && let Some(FieldValue::Text(line)) = event.field("line")
        {
            keys.push_line(line);
        }
    }
    let mut connections: BTreeMap<Direction, Connection> = BTreeMap::new();
    let mut streams: BTreeMap<Direction, Stream> = BTreeMap::new();
    let mut labels: BTreeMap<FrameId, Vec<String>> = BTreeMap::new();
    for segment in tcp_segments(trace) {
        let Segment {
            frame,
            dir,
            seq,
            syn,
            ack,
            payload,
        } = segment;
        if syn {
            // A SYN (or SYN-ACK) starts this direction afresh; the
            // connection is known once the client's first byte is seen.
            let key = if ack { (dir.1, dir.0) } else { dir };
            if !ack {
                connections.remove(&key);
            }
            streams.insert(
                dir,
                Stream {
                    base: seq.wrapping_add(1),
                    next: 0,
                    pending: BTreeMap::new(),
                    pending_bytes: 0,
                    key,
                },
            );
            continue;
        }
        if payload.is_empty() {
            continue;
        }
        let Some(stream) = streams.get_mut(&dir) else {
            continue;
        };
        let offset = u64::from(seq.wrapping_sub(stream.base));
        if offset == 0 && stream.next == 0 && dir == stream.key {
            // The client's first bytes: a TLS handshake record, or this
            // connection is not TLS.
            if looks_like_tls(payload) {
                connections.insert(
                    stream.key,
                    Connection {
                        client: dir.0,
                        observer: TlsObserver::with_key_log(keys.clone()),
                        done: false,
                    },
                );
            }
        }
        let Some(conn) = connections.get_mut(&stream.key) else {
            continue;
        };
        if conn.done {
            continue;
        }
        let way = if dir.0 == conn.client {
            TlsDirection::ClientToServer
        } else {
            TlsDirection::ServerToClient
        };
        // In order: feed this segment (and what it unblocks); beyond a
        // gap: hold it.
        if offset > stream.next {
            stream.pending_bytes += payload.len();
            stream
                .pending
                .entry(offset)
                .or_insert_with(|| (frame, payload.to_vec()));
            if stream.pending_bytes > MAX_PENDING_BYTES {
                conn.done = true;
            }
            continue;
        }
        feed(conn, way, stream, frame, offset, payload, &mut labels);
        while let Some((&at, _)) = stream.pending.first_key_value() {
            if at > stream.next {
                break;
            }
            let Some((at, (f, seg))) = stream.pending.pop_first() else {
                break;
            };
            stream.pending_bytes -= seg.len();
            feed(conn, way, stream, f, at, &seg, &mut labels);
        }
    }
    labels
}

/// Feeds the new part of a segment at `offset` and labels `frame` with the
/// records it completes.
fn feed(
    conn: &mut Connection,
    way: TlsDirection,
    stream: &mut Stream,
    frame: FrameId,
    offset: u64,
    data: &[u8],
    labels: &mut BTreeMap<FrameId, Vec<String>>,
) {
    let skip = usize::try_from(stream.next - offset).unwrap_or(usize::MAX);
    let Some(new) = data.get(skip..).filter(|n| !n.is_empty()) else {
        return;
    };
    stream.next += new.len() as u64;
    let mut names = Vec::new();
    for record in conn.observer.feed(way, new) {
        match record {
            Ok(r) => names.extend(r.names()),
            Err(e) => {
                names.push(format!("undecodable: {e}"));
                conn.done = true;
            }
        }
    }
    if names.is_empty() {
        return;
    }
    let more = names.len().saturating_sub(MAX_NAMES);
    names.truncate(MAX_NAMES);
    let mut label = format!("TLS {}", names.join(", "));
    if more > 0 {
        label.push_str(&format!(" (+{more} more)"));
    }
    labels.entry(frame).or_default().push(label);
}

/// Whether bytes start like a TLS handshake record (type 22, version
/// 3.x).
fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [22, 3, 0..=4, ..])
}

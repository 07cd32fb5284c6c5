//! WebSocket frames found in the packets themselves, for labelling arrows.
//!
//! [`frame_labels`] reads a trace the way Wireshark reads a capture: it
//! reassembles each TCP direction's byte stream from the segments sent
//! (by sequence number, so retransmissions and reordering do not matter),
//! finds connections whose server answered an HTTP request with `101
//! Switching Protocols`, and decodes the WebSocket frames (RFC 6455 §5.2)
//! that follow the handshake in each direction. Every packet whose payload
//! holds the first byte of a frame is labelled with that frame, e.g.
//! `WS text fin masked len=5 "hello"` (masked payloads are unmasked for the
//! preview).
//!
//! It needs nothing but the packets: no application event and no
//! application state. Frame headers are read by `simnet-ws`'s sans-IO
//! decoder ([`FrameHeader::decode_lenient`]), the one RFC 6455 decoder in
//! simnet; this module adds only the stream reassembly and the labels.
//! Only streams that start like HTTP are kept in
//! memory, each up to [`MAX_STREAM_BYTES`]; frames beyond that are not
//! labelled.

use crate::segments::{Direction, Segment, tcp_segments};
use simnet_core::packet::FrameId;
use simnet_core::trace::Trace;
use simnet_ws::proto::frame::{FrameHeader, Opcode, Status, apply_mask};
use std::collections::BTreeMap;

/// Bytes of one direction's stream kept for decoding.
pub const MAX_STREAM_BYTES: usize = 1 << 20;

/// Characters of a text frame (or Close reason) quoted in a label.
const PREVIEW_CHARS: usize = 16;

/// Labels shown per packet at most; more frames are counted.
const MAX_LABELS: usize = 6;

/// One direction's stream, as far as it was kept.
#[derive(Default)]
struct Stream {
    /// Sequence number of stream offset 0 (the SYN's plus one).
    base: u32,
    /// Bytes from offset 0 with no gap.
    bytes: Vec<u8>,
    /// Segments that arrived beyond a gap, by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Whether the stream is no longer kept (not HTTP, or too long).
    dropped: bool,
    /// Data-bearing packets: (frame, stream offset, length).
    packets: Vec<(FrameId, u64, u64)>,
}

impl Stream {
    fn add(&mut self, offset: u64, data: &[u8]) {
        if self.dropped {
            return;
        }
        if offset == 0 && !(data.starts_with(b"GET ") || data.starts_with(b"HTTP/1.")) {
            self.drop_bytes();
            return;
        }
        self.pending.entry(offset).or_insert_with(|| data.to_vec());
        // Move every segment that now touches the contiguous prefix.
        while let Some((&off, _)) = self.pending.first_key_value() {
            let have = self.bytes.len() as u64;
            if off > have {
                break;
            }
            let seg = self.pending.pop_first().map(|(_, s)| s).unwrap_or_default();
            let skip = usize::try_from(have - off).unwrap_or(usize::MAX);
            if let Some(new) = seg.get(skip..) {
                self.bytes.extend_from_slice(new);
            }
        }
        if self.bytes.len() + self.pending.values().map(Vec::len).sum::<usize>() > MAX_STREAM_BYTES
        {
            self.bytes.truncate(MAX_STREAM_BYTES);
            self.pending.clear();
            self.dropped = true;
        }
    }

    fn drop_bytes(&mut self) {
        self.dropped = true;
        self.bytes = Vec::new();
        self.pending.clear();
    }

    /// Where the HTTP head ends (after `\r\n\r\n`), if it does.
    fn head_end(&self) -> Option<usize> {
        self.bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
    }
}

/// The WebSocket frames that start in each packet, as labels.
///
/// Decoding needs the payloads: a trace kept with `Capture::Headers` gives
/// no labels at all.
pub fn frame_labels(trace: &Trace) -> BTreeMap<FrameId, Vec<String>> {
    let mut streams: BTreeMap<Direction, Stream> = BTreeMap::new();
    let mut labels = BTreeMap::new();
    for segment in tcp_segments(trace) {
        let Segment {
            frame,
            dir,
            seq,
            syn,
            payload,
            ..
        } = segment;
        if syn {
            // A new SYN on a 4-tuple starts a new connection: decode the
            // old one first.
            if let Some(old) = streams.remove(&dir) {
                let reverse = streams.remove(&(dir.1, dir.0));
                decode_connection(old, reverse, &mut labels);
            }
            streams.insert(
                dir,
                Stream {
                    base: seq.wrapping_add(1),
                    ..Stream::default()
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
        stream.packets.push((frame, offset, payload.len() as u64));
        stream.add(offset, payload);
    }
    // Decode what is left, each connection once.
    let dirs: Vec<Direction> = streams.keys().copied().collect();
    for dir in dirs {
        if let Some(s) = streams.remove(&dir) {
            let reverse = streams.remove(&(dir.1, dir.0));
            decode_connection(s, reverse, &mut labels);
        }
    }
    labels
}

/// Decodes both directions of one connection if its server switched to
/// WebSocket.
fn decode_connection(a: Stream, b: Option<Stream>, labels: &mut BTreeMap<FrameId, Vec<String>>) {
    let Some(b) = b else {
        return;
    };
    let switched = |s: &Stream| s.bytes.starts_with(b"HTTP/1.1 101") && s.head_end().is_some();
    if !(switched(&a) && b.head_end().is_some() || switched(&b) && a.head_end().is_some()) {
        return;
    }
    for s in [a, b] {
        let Some(start) = s.head_end() else {
            continue;
        };
        let frames = decode_frames(&s.bytes, start);
        for (frame, offset, len) in &s.packets {
            let inside: Vec<&String> = starting_in(&frames, *offset, *len)
                .iter()
                .map(|(_, l)| l)
                .collect();
            if inside.is_empty() {
                continue;
            }
            let mut shown: Vec<String> = inside
                .iter()
                .take(MAX_LABELS)
                .map(|l| l.to_string())
                .collect();
            if inside.len() > MAX_LABELS {
                let more = inside.len() - MAX_LABELS;
                shown.push(format!(
                    "(+{more} more frame{})",
                    if more == 1 { "" } else { "s" }
                ));
            }
            labels.entry(*frame).or_insert(shown);
        }
    }
}

/// The frames (from [`decode_frames`], so in stream order) that start in
/// the `len` bytes from stream offset `offset`.
///
/// Found by binary search: scanning every frame for every packet made a
/// long WebSocket run quadratic (a 10 s run with a ping every 100 us took
/// 37 s to draw as Mermaid; the fuzz harness found it).
fn starting_in(frames: &[(u64, String)], offset: u64, len: u64) -> &[(u64, String)] {
    let lo = frames.partition_point(|(at, _)| *at < offset);
    let hi = frames.partition_point(|(at, _)| *at < offset.saturating_add(len));
    &frames[lo..hi.max(lo)]
}

/// Every whole frame header in `bytes` from `start`: (offset, label). Stops
/// at the first frame whose header is incomplete or invalid.
pub fn decode_frames(bytes: &[u8], start: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut at = start;
    // The header is read by the WebSocket crate's own decoder, leniently:
    // a frame an endpoint would refuse (a fragmented Ping, an oversized
    // Close) is labelled as it was sent. A reserved opcode or a header cut
    // short ends the decoding.
    while let Some(Ok(Status::Complete((header, header_len)))) =
        bytes.get(at..).map(FrameHeader::decode_lenient)
    {
        let opcode = header.opcode;
        let fin = header.fin;
        let masked = header.masked();
        let len = header.payload_len;
        let payload_start = at + header_len;
        let shown_len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(4 * PREVIEW_CHARS + 2);
        let mut payload: Vec<u8> = bytes
            .get(payload_start..)
            .unwrap_or(&[])
            .iter()
            .take(shown_len)
            .copied()
            .collect();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key);
        }
        let mut label = format!("WS {opcode}");
        if fin {
            label.push_str(" fin");
        }
        if masked {
            label.push_str(" masked");
        }
        label.push_str(&format!(" len={len}"));
        match opcode {
            Opcode::Close if payload.len() >= 2 => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                label.push_str(&format!(" code={code}"));
                push_preview(&mut label, &payload[2..]);
            }
            Opcode::Text | Opcode::Ping | Opcode::Pong => push_preview(&mut label, &payload),
            _ => {}
        }
        out.push((at as u64, label));
        let Some(next) = u64::try_from(payload_start)
            .ok()
            .and_then(|p| p.checked_add(len))
            .and_then(|n| usize::try_from(n).ok())
        else {
            break;
        };
        at = next;
    }
    out
}

/// Appends ` "text"` (at most [`PREVIEW_CHARS`] characters, `…` when cut)
/// when the bytes are printable UTF-8.
fn push_preview(label: &mut String, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // Cut in the middle of a character by the preview window.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return,
    };
    if text.chars().any(|c| c.is_control()) {
        return;
    }
    let mut chars = text.chars();
    let preview: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    let more = chars.next().is_some() || text.len() < bytes.len();
    label.push_str(&format!(" \"{preview}{}\"", if more { "…" } else { "" }));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary search finds exactly the frames a scan of every frame
    /// finds, for every packet position and length, retransmissions
    /// (packets that go back in the stream) included.
    #[test]
    fn frames_starting_in_a_packet_match_a_full_scan() {
        let mut bytes = Vec::new();
        for n in 0..40u8 {
            let len = n % 7;
            bytes.push(0x89);
            bytes.push(len);
            bytes.extend(std::iter::repeat_n(b'p', usize::from(len)));
        }
        let frames = decode_frames(&bytes, 0);
        assert_eq!(frames.len(), 40);
        let total = bytes.len() as u64;
        for offset in 0..=total + 2 {
            for len in 0..=12 {
                let scanned: Vec<_> = frames
                    .iter()
                    .filter(|(at, _)| *at >= offset && *at < offset + len)
                    .cloned()
                    .collect();
                assert_eq!(
                    starting_in(&frames, offset, len),
                    &scanned[..],
                    "offset {offset} len {len}"
                );
            }
        }
        assert!(starting_in(&frames, u64::MAX, u64::MAX).is_empty());
    }

    /// The labels of the frames in `bytes`, without their offsets.
    fn labels_of(bytes: &[u8]) -> Vec<String> {
        decode_frames(bytes, 0)
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    }

    #[test]
    fn decodes_rfc_6455_example_frames() {
        // RFC 6455 §5.7: unmasked and masked "Hello", a fragmented "Hel"
        // "lo", an unmasked Ping, a 256-byte binary frame.
        let mut bytes = vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        bytes.extend([
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        bytes.extend([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        bytes.extend([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        bytes.extend([0x82, 0x7e, 0x01, 0x00]);
        bytes.extend([0u8; 256]);
        bytes.extend([0x88, 0x02, 0x03, 0xf1]);
        let labels = labels_of(&bytes);
        assert_eq!(
            labels,
            [
                "WS text fin len=5 \"Hello\"",
                "WS text fin masked len=5 \"Hello\"",
                "WS text len=3 \"Hel\"",
                "WS continuation fin len=2",
                "WS ping fin len=5 \"Hello\"",
                "WS binary fin len=256",
                "WS close fin len=2 code=1009",
            ]
        );
    }

    #[test]
    fn frames_an_endpoint_would_refuse_are_labelled_as_sent() {
        // A fragmented Ping and a 126-byte Close break RFC 6455's rules for
        // control frames; hostile peers send them, so the diagram must
        // show them rather than stop.
        let mut bytes = vec![0x09, 0x00, 0x88, 0x7e, 0x00, 0x7e, 0x03, 0xe8];
        bytes.extend([b'x'; 124]);
        bytes.extend([0x81, 0x02, b'h', b'i']);
        let labels = labels_of(&bytes);
        assert_eq!(
            labels,
            [
                "WS ping len=0",
                "WS close fin len=126 code=1000 \"xxxxxxxxxxxxxxxx…\"",
                "WS text fin len=2 \"hi\"",
            ]
        );
    }

    #[test]
    fn stops_at_an_incomplete_or_invalid_header_without_panicking() {
        assert!(decode_frames(&[0x81], 0).is_empty());
        assert!(decode_frames(&[0x81, 0x7e, 0x01], 0).is_empty());
        assert!(decode_frames(&[0x81, 0xff, 0, 0, 0, 0, 0, 0, 0], 0).is_empty());
        assert!(decode_frames(&[0x83, 0x00], 0).is_empty());
        assert_eq!(
            decode_frames(
                &[0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                0
            )
            .len(),
            1
        );
        assert!(decode_frames(&[0x81, 0x05], 5).is_empty());
        // Every prefix of a valid stream, for good measure.
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        for cut in 0..frame.len() {
            let _ = decode_frames(&frame[..cut], 0);
        }
    }
}

//! The WebSocket frame wire format (RFC 6455 section 5.2), byte for byte.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! [`encode`] writes a [`Frame`], choosing the 7-, 16- or 64-bit length form
//! and masking the payload if the frame carries a masking key. [`decode`]
//! reads one frame from the front of a buffer; like httparse, an incomplete
//! buffer is not an error but [`Status::Partial`], so the caller appends more
//! bytes and tries again. Decoding also enforces the rules that hold for
//! every frame whatever the connection: known opcodes, control frames
//! unfragmented and at most 125 bytes, the 64-bit length's top bit clear, and
//! a caller-chosen payload limit. [`FrameHeader::decode_lenient`] reads a
//! header without those rules: it is the one frame decoder simnet's trace
//! renderers use to label what was on the wire, valid or not.
//!
//! This module deliberately does not know about roles or messages: whether a
//! frame must be masked, whether reserved bits are allowed, and how fragments
//! join into messages are decided by [`super::conn`]. It does not pick
//! masking keys either; a masked frame carries the key it was given. A length
//! written in a longer form than needed is accepted, as most implementations
//! do, although the RFC asks senders for the shortest form (which [`encode`]
//! always uses).

use std::fmt;

/// The largest payload a control frame (Close, Ping, Pong) may carry.
pub const MAX_CONTROL_PAYLOAD_BYTES: usize = 125;

/// The largest frame header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_BYTES: usize = 14;

/// What a frame carries (RFC 6455 section 5.2). The other eight 4-bit values
/// are reserved and rejected by [`decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// A further fragment of the message started by a Text or Binary frame.
    Continuation,
    /// The first (or only) frame of a UTF-8 text message.
    Text,
    /// The first (or only) frame of a binary message.
    Binary,
    /// Starts or answers the closing handshake.
    Close,
    /// Asks the peer for a Pong with the same payload.
    Ping,
    /// Answers a Ping, or serves as an unsolicited heartbeat.
    Pong,
}

impl Opcode {
    /// The opcode for a 4-bit wire value, or `None` if it is reserved.
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        match bits {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Whether this is a control frame (Close, Ping, Pong): control frames
    /// may arrive between the fragments of a message, must not be fragmented
    /// themselves, and carry at most 125 bytes.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }

    /// A lowercase name for traces: `text`, `binary`, `continuation`, ...
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of decoding from a buffer that may hold only part of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole item was decoded.
    Complete(T),
    /// The buffer ends before the item does; append more bytes and retry.
    Partial,
}

/// A frame header as it is on the wire, before the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final fragment of its message.
    pub fin: bool,
    /// Reserved bit 1 (used by extensions such as permessage-deflate).
    pub rsv1: bool,
    /// Reserved bit 2.
    pub rsv2: bool,
    /// Reserved bit 3.
    pub rsv3: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Whether the MASK bit is set (every client-to-server frame).
    pub fn masked(&self) -> bool {
        self.mask.is_some()
    }

    /// How many bytes this header takes on the wire (2 to 14).
    pub fn encoded_len(&self) -> usize {
        let length_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        let mask_bytes = if self.masked() { 4 } else { 0 };
        2 + length_bytes + mask_bytes
    }

    /// Appends this header to `out`, with the length in its shortest form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let bit = |set: bool, value: u8| if set { value } else { 0 };
        out.push(
            bit(self.fin, 0x80)
                | bit(self.rsv1, 0x40)
                | bit(self.rsv2, 0x20)
                | bit(self.rsv3, 0x10)
                | self.opcode.bits(),
        );
        let mask_bit = bit(self.masked(), 0x80);
        match self.payload_len {
            // The range patterns make each cast lossless.
            len @ 0..=125 => out.push(mask_bit | len as u8),
            len @ 126..=0xFFFF => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
    }

    /// Decodes a header from the front of `buf`, returning it with the
    /// number of bytes it took.
    ///
    /// Errors are the rules every frame must follow: a known opcode, a
    /// 64-bit length with its top bit clear, and control frames that are
    /// final and at most 125 bytes long.
    pub fn decode(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        FrameHeader::read(buf, true)
    }

    /// Decodes a header from the front of `buf` as [`FrameHeader::decode`]
    /// does, but checks only what is needed to find where the frame ends:
    /// the opcode must be known, and nothing else is refused.
    ///
    /// This is for observers, not endpoints: a renderer labelling what was
    /// on the wire must show a fragmented Ping or an oversized Close as it
    /// was sent, where a connection would refuse it.
    pub fn decode_lenient(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        FrameHeader::read(buf, false)
    }

    /// The one header reader behind [`FrameHeader::decode`] and
    /// [`FrameHeader::decode_lenient`]. The rules are checked as soon as the
    /// length is known, before the masking key, so an endpoint refuses a bad
    /// frame without waiting for more bytes.
    fn read(buf: &[u8], check_rules: bool) -> Result<Status<(FrameHeader, usize)>, FrameError> {
        let [b0, b1, ..] = *buf else {
            return Ok(Status::Partial);
        };
        let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
        let fin = b0 & 0x80 != 0;

        let (payload_len, mut pos) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
                None => return Ok(Status::Partial),
            },
            127 => match buf.get(2..10) {
                Some(bytes) => {
                    let mut be = [0; 8];
                    be.copy_from_slice(bytes);
                    (u64::from_be_bytes(be), 10)
                }
                None => return Ok(Status::Partial),
            },
            len => (u64::from(len), 2),
        };
        if check_rules && payload_len >> 63 != 0 {
            return Err(FrameError::LengthTopBitSet);
        }
        if check_rules && opcode.is_control() {
            if !fin {
                return Err(FrameError::FragmentedControlFrame(opcode));
            }
            if payload_len > MAX_CONTROL_PAYLOAD_BYTES as u64 {
                return Err(FrameError::ControlFrameTooLong {
                    opcode,
                    payload_len,
                });
            }
        }

        let mask = if b1 & 0x80 != 0 {
            match buf.get(pos..pos + 4) {
                Some(key) => {
                    pos += 4;
                    Some([key[0], key[1], key[2], key[3]])
                }
                None => return Ok(Status::Partial),
            }
        } else {
            None
        };

        let header = FrameHeader {
            fin,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Status::Complete((header, pos)))
    }
}

/// One whole frame, with its payload unmasked (as the application sees it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Whether this is the final fragment of its message.
    pub fin: bool,
    /// Reserved bit 1.
    pub rsv1: bool,
    /// Reserved bit 2.
    pub rsv2: bool,
    /// Reserved bit 3.
    pub rsv3: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key: [`encode`] masks the payload with it on the wire,
    /// [`decode`] reports the key it removed.
    pub mask: Option<[u8; 4]>,
    /// The payload, unmasked. Its length is the frame's payload length.
    pub payload: Vec<u8>,
}

impl Frame {
    /// An unmasked frame with the reserved bits clear.
    pub fn new(fin: bool, opcode: Opcode, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload: payload.into(),
        }
    }

    /// The same frame, masked with `key` on the wire.
    pub fn with_mask(self, key: [u8; 4]) -> Frame {
        Frame {
            mask: Some(key),
            ..self
        }
    }

    /// The header this frame is sent with.
    pub fn header(&self) -> FrameHeader {
        FrameHeader {
            fin: self.fin,
            rsv1: self.rsv1,
            rsv2: self.rsv2,
            rsv3: self.rsv3,
            opcode: self.opcode,
            mask: self.mask,
            payload_len: self.payload.len() as u64,
        }
    }
}

/// Why bytes are not a valid frame. Each maps to a close code through
/// [`FrameError::close_code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The opcode is one of the reserved values 0x3-0x7 or 0xB-0xF.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame has FIN clear; control frames cannot be fragmented.
    #[error("fragmented {0} frame (control frames must have FIN set)")]
    FragmentedControlFrame(Opcode),
    /// A control frame's payload is longer than 125 bytes.
    #[error("{opcode} frame with {payload_len} bytes (control frames carry at most 125)")]
    ControlFrameTooLong {
        /// The control frame's opcode.
        opcode: Opcode,
        /// The length its header announced.
        payload_len: u64,
    },
    /// The most significant bit of a 64-bit payload length is set.
    #[error("64-bit payload length with the most significant bit set")]
    LengthTopBitSet,
    /// The payload is longer than the limit the caller set.
    #[error("{payload_len}-byte frame payload exceeds the {max_bytes}-byte limit")]
    TooLarge {
        /// The length the header announced.
        payload_len: u64,
        /// The limit passed to [`decode`].
        max_bytes: usize,
    },
}

impl FrameError {
    /// The close code that reports this error to the peer: 1009 (message too
    /// big) for [`FrameError::TooLarge`], 1002 (protocol error) otherwise.
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::TooLarge { .. } => super::close::MESSAGE_TOO_BIG,
            _ => super::close::PROTOCOL_ERROR,
        }
    }
}

/// XORs `data` with the 4-byte masking key, repeated (RFC 6455 section 5.3).
/// Masking twice with the same key gives the original bytes back.
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// Appends `frame` to `out`: the header in its shortest form, then the
/// payload, masked if the frame has a masking key.
pub fn encode(frame: &Frame, out: &mut Vec<u8>) {
    frame.header().encode(out);
    let start = out.len();
    out.extend_from_slice(&frame.payload);
    if let Some(key) = frame.mask {
        apply_mask(&mut out[start..], key);
    }
}

/// Decodes one frame from the front of `buf`, returning it (unmasked) with
/// the number of bytes it took.
///
/// A payload longer than `max_payload_bytes` is refused as soon as the
/// header is complete, before any of it is buffered.
pub fn decode(buf: &[u8], max_payload_bytes: usize) -> Result<Status<(Frame, usize)>, FrameError> {
    let (header, header_len) = match FrameHeader::decode(buf)? {
        Status::Complete(decoded) => decoded,
        Status::Partial => return Ok(Status::Partial),
    };
    let payload_len = usize::try_from(header.payload_len)
        .ok()
        .filter(|&len| len <= max_payload_bytes)
        .ok_or(FrameError::TooLarge {
            payload_len: header.payload_len,
            max_bytes: max_payload_bytes,
        })?;
    let Some(payload) = buf[header_len..].get(..payload_len) else {
        return Ok(Status::Partial);
    };
    let mut payload = payload.to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key);
    }
    let frame = Frame {
        fin: header.fin,
        rsv1: header.rsv1,
        rsv2: header.rsv2,
        rsv3: header.rsv3,
        opcode: header.opcode,
        mask: header.mask,
        payload,
    };
    Ok(Status::Complete((frame, header_len + payload_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    const NO_LIMIT: usize = usize::MAX;

    /// The examples of RFC 6455 section 5.7: each frame with its exact bytes.
    fn rfc_examples() -> Vec<(&'static str, Frame, Vec<u8>)> {
        let hello = [0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let masked_hello = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let binary_256: Vec<u8> = (0..=255).collect();
        let binary_64k: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
        vec![
            (
                "single-frame unmasked text",
                Frame::new(true, Opcode::Text, "Hello"),
                [&[0x81, 0x05][..], &hello].concat(),
            ),
            (
                "single-frame masked text",
                Frame::new(true, Opcode::Text, "Hello").with_mask(HELLO_MASK),
                [&[0x81, 0x85][..], &HELLO_MASK, &masked_hello].concat(),
            ),
            (
                "first fragment of an unmasked text",
                Frame::new(false, Opcode::Text, "Hel"),
                vec![0x01, 0x03, 0x48, 0x65, 0x6c],
            ),
            (
                "last fragment of an unmasked text",
                Frame::new(true, Opcode::Continuation, "lo"),
                vec![0x80, 0x02, 0x6c, 0x6f],
            ),
            (
                "unmasked ping",
                Frame::new(true, Opcode::Ping, "Hello"),
                [&[0x89, 0x05][..], &hello].concat(),
            ),
            (
                "masked pong",
                Frame::new(true, Opcode::Pong, "Hello").with_mask(HELLO_MASK),
                [&[0x8a, 0x85][..], &HELLO_MASK, &masked_hello].concat(),
            ),
            (
                "256-byte binary with a 16-bit length",
                Frame::new(true, Opcode::Binary, binary_256.clone()),
                [&[0x82, 0x7E, 0x01, 0x00][..], &binary_256].concat(),
            ),
            (
                "64 KiB binary with a 64-bit length",
                Frame::new(true, Opcode::Binary, binary_64k.clone()),
                [
                    &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00][..],
                    &binary_64k,
                ]
                .concat(),
            ),
        ]
    }

    #[test]
    fn rfc_examples_encode_byte_for_byte() {
        for (name, frame, bytes) in rfc_examples() {
            let mut out = Vec::new();
            encode(&frame, &mut out);
            assert_eq!(out, bytes, "{name}");
            assert_eq!(
                frame.header().encoded_len() + frame.payload.len(),
                bytes.len()
            );
        }
    }

    #[test]
    fn rfc_examples_decode_and_every_prefix_is_partial() {
        for (name, frame, bytes) in rfc_examples() {
            let decoded = decode(&bytes, NO_LIMIT).unwrap();
            assert_eq!(decoded, Status::Complete((frame, bytes.len())), "{name}");
            // Stepping through a 64 KiB frame byte by byte costs nothing:
            // each attempt looks at the header only.
            for end in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..end], NO_LIMIT),
                    Ok(Status::Partial),
                    "{name} {end}"
                );
            }
        }
    }

    #[test]
    fn the_length_form_changes_at_126_and_65536_bytes() {
        for (payload_len, header_len, second_byte) in [
            (125, 2, 125),
            (126, 4, 126),
            (65535, 4, 126),
            (65536, 10, 127),
        ] {
            let frame = Frame::new(true, Opcode::Binary, vec![0; payload_len]);
            let mut bytes = Vec::new();
            encode(&frame, &mut bytes);
            assert_eq!(frame.header().encoded_len(), header_len);
            assert_eq!(bytes.len(), header_len + payload_len);
            assert_eq!(bytes[1], second_byte, "{payload_len}");
            assert_eq!(
                decode(&bytes, NO_LIMIT),
                Ok(Status::Complete((frame, bytes.len())))
            );
        }
    }

    #[test]
    fn decode_takes_one_frame_and_leaves_the_rest() {
        let mut bytes = Vec::new();
        encode(&Frame::new(false, Opcode::Text, "Hel"), &mut bytes);
        encode(&Frame::new(true, Opcode::Continuation, "lo"), &mut bytes);
        let Status::Complete((first, used)) = decode(&bytes, NO_LIMIT).unwrap() else {
            panic!("the first frame is complete");
        };
        assert_eq!((first.payload.as_slice(), used), (&b"Hel"[..], 5));
        let Status::Complete((second, _)) = decode(&bytes[used..], NO_LIMIT).unwrap() else {
            panic!("the second frame is complete");
        };
        assert_eq!(second.payload, b"lo");
    }

    #[test]
    fn masking_twice_restores_the_payload() {
        let mut data = b"masking is an XOR with a repeating 4-byte key".to_vec();
        apply_mask(&mut data, HELLO_MASK);
        assert_ne!(data, b"masking is an XOR with a repeating 4-byte key");
        apply_mask(&mut data, HELLO_MASK);
        assert_eq!(data, b"masking is an XOR with a repeating 4-byte key");
    }

    #[test]
    fn reserved_bits_are_reported_not_rejected() {
        let Status::Complete((frame, _)) = decode(&[0xF1, 0x00], NO_LIMIT).unwrap() else {
            panic!("a two-byte frame is complete");
        };
        assert!(frame.fin && frame.rsv1 && frame.rsv2 && frame.rsv3);
        let mut out = Vec::new();
        encode(&frame, &mut out);
        assert_eq!(out, [0xF1, 0x00]);
    }

    #[test]
    fn a_longer_than_needed_length_is_accepted() {
        let bytes = [0x81, 0x7E, 0x00, 0x02, b'h', b'i'];
        let decoded = decode(&bytes, NO_LIMIT).unwrap();
        assert_eq!(
            decoded,
            Status::Complete((Frame::new(true, Opcode::Text, "hi"), 6))
        );
    }

    #[test]
    fn malformed_headers_are_errors_with_their_close_codes() {
        let cases: Vec<(Vec<u8>, FrameError, u16)> = vec![
            (vec![0x83, 0x00], FrameError::ReservedOpcode(0x3), 1002),
            (vec![0x8F, 0x00], FrameError::ReservedOpcode(0xF), 1002),
            (
                vec![0x09, 0x00],
                FrameError::FragmentedControlFrame(Opcode::Ping),
                1002,
            ),
            (
                vec![0x88, 0x7E, 0x00, 0x7E],
                FrameError::ControlFrameTooLong {
                    opcode: Opcode::Close,
                    payload_len: 126,
                },
                1002,
            ),
            (
                vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                FrameError::LengthTopBitSet,
                1002,
            ),
            (
                vec![0x82, 0x7E, 0x01, 0x00],
                FrameError::TooLarge {
                    payload_len: 256,
                    max_bytes: 255,
                },
                1009,
            ),
        ];
        for (bytes, error, code) in cases {
            // The error shows as soon as the header is complete, before the
            // payload arrives.
            assert_eq!(decode(&bytes, 255), Err(error), "{bytes:02x?}");
            assert_eq!(error.close_code(), code);
        }
    }

    #[test]
    fn the_lenient_decoder_reads_what_the_rules_refuse() {
        // Each of these breaks a rule but not the syntax: the lenient
        // decoder finds the header and its length all the same.
        for (bytes, opcode, payload_len, header_len) in [
            (vec![0x09, 0x00], Opcode::Ping, 0, 2),
            (vec![0x88, 0x7E, 0x00, 0x7E], Opcode::Close, 126, 4),
            (
                vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4],
                Opcode::Binary,
                (1 << 63) + 1,
                14,
            ),
        ] {
            assert!(FrameHeader::decode(&bytes).is_err(), "{bytes:02x?}");
            let Ok(Status::Complete((header, used))) = FrameHeader::decode_lenient(&bytes) else {
                panic!("{bytes:02x?} has a whole header");
            };
            assert_eq!(
                (header.opcode, header.payload_len, used),
                (opcode, payload_len, header_len)
            );
        }
        // A reserved opcode leaves no way to go on, and a short buffer is
        // partial, for both.
        assert_eq!(
            FrameHeader::decode_lenient(&[0x83, 0x00]),
            Err(FrameError::ReservedOpcode(3))
        );
        assert_eq!(
            FrameHeader::decode_lenient(&[0x81, 0x85, 1]),
            Ok(Status::Partial)
        );
    }

    #[test]
    fn opcodes_round_trip_through_their_bits() {
        for bits in 0..16 {
            if let Some(opcode) = Opcode::from_bits(bits) {
                assert_eq!(opcode.bits(), bits);
                assert_eq!(opcode.is_control(), bits >= 8);
            }
        }
        let known = (0..16).filter_map(Opcode::from_bits).count();
        assert_eq!(known, 6);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), limit in 0usize..200) {
                if let Ok(Status::Complete((frame, used))) = decode(&bytes, limit) {
                    prop_assert!(used <= bytes.len());
                    prop_assert!(frame.payload.len() <= limit);
                }
            }

            #[test]
            fn encode_then_decode_is_identity(
                fin in any::<bool>(),
                opcode in prop_oneof![Just(Opcode::Text), Just(Opcode::Binary), Just(Opcode::Continuation)],
                mask in proptest::option::of(any::<[u8; 4]>()),
                payload in proptest::collection::vec(any::<u8>(), 0..70_000),
            ) {
                let frame = Frame { mask, ..Frame::new(fin, opcode, payload) };
                let mut bytes = Vec::new();
                encode(&frame, &mut bytes);
                prop_assert_eq!(decode(&bytes, NO_LIMIT), Ok(Status::Complete((frame, bytes.len()))));
            }
        }
    }
}

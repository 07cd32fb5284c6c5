//! What simnet knows about a packet, in its own plain types.
//!
//! The host layer decodes every frame it sends into a [`PacketInfo`] once;
//! links, targeted faults, the trace and every renderer read that instead of
//! parsing bytes again, and none of them needs to know smoltcp exists. The raw
//! bytes travel alongside (for pcap output and for payload dissection).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

/// A frame's identity for the whole run: the n-th frame any host sent.
/// Duplicates made by a link get their own id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameId(pub u64);

impl fmt::Display for FrameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One IPv4 packet in flight: its id and its bytes (shared, never copied per hop).
#[derive(Clone, Debug)]
pub struct Frame {
    /// The frame's id.
    pub id: FrameId,
    /// The IPv4 packet, header included.
    pub bytes: Arc<[u8]>,
}

/// The decoded headers of an IPv4 packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP identification field.
    pub ip_id: u16,
    /// Time to live.
    pub ttl: u8,
    /// Total length of the IP packet in bytes.
    pub ip_len: u16,
    /// The transport header.
    pub transport: Transport,
}

/// The transport-layer part of a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A TCP segment.
    Tcp(TcpHeader),
    /// A UDP datagram.
    Udp(UdpHeader),
    /// An ICMP message (smoltcp sends "port unreachable" for UDP to a closed port).
    Icmp {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
    /// Any other IP protocol.
    Other {
        /// The IP protocol number.
        protocol: u8,
    },
}

/// A decoded TCP header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgement number (meaningful when the ACK flag is set).
    pub ack: u32,
    /// Control flags.
    pub flags: TcpFlags,
    /// The window field as sent (not scaled).
    pub window: u16,
    /// Options carried by the segment.
    pub options: TcpOptions,
    /// Bytes of payload.
    pub payload_len: u32,
    /// Offset of the payload from the start of the IP packet.
    pub payload_offset: u16,
}

impl TcpHeader {
    /// How much sequence space the segment occupies (payload, plus one for SYN and FIN).
    pub fn seq_len(&self) -> u32 {
        self.payload_len + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}

/// TCP options simnet shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub window_scale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// SACK blocks, absolute sequence numbers.
    pub sack: Vec<(u32, u32)>,
    /// Timestamps (value, echo reply).
    pub timestamp: Option<(u32, u32)>,
}

impl TcpOptions {
    /// Parses the options area of a TCP header; stops at the first malformed option.
    pub fn parse(mut raw: &[u8]) -> TcpOptions {
        let mut o = TcpOptions::default();
        while let Some(&kind) = raw.first() {
            match kind {
                0 => break,
                1 => {
                    raw = &raw[1..];
                    continue;
                }
                _ => {}
            }
            let Some(&len) = raw.get(1) else { break };
            let len = usize::from(len);
            if len < 2 || len > raw.len() {
                break;
            }
            let body = &raw[2..len];
            match (kind, body.len()) {
                (2, 2) => o.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (3, 1) => o.window_scale = Some(body[0]),
                (4, 0) => o.sack_permitted = true,
                (5, n) if n % 8 == 0 => {
                    o.sack = body
                        .chunks_exact(8)
                        .map(|c| {
                            (
                                u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                                u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                            )
                        })
                        .collect();
                }
                (8, 8) => {
                    o.timestamp = Some((
                        u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                        u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                    ))
                }
                _ => {}
            }
            raw = &raw[len..];
        }
        o
    }
}

/// A decoded UDP header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Bytes of payload.
    pub payload_len: u32,
    /// Offset of the payload from the start of the IP packet.
    pub payload_offset: u16,
}

impl PacketInfo {
    /// The header length and total length of a well-formed IPv4 packet
    /// (what [`PacketInfo::parse`] and [`PacketInfo::parse_dst`] accept).
    fn ipv4_lengths(bytes: &[u8]) -> Option<(usize, usize)> {
        Self::captured_ipv4_lengths(bytes, bytes.len())
    }

    /// [`PacketInfo::ipv4_lengths`] of a packet `wire_len` bytes long of
    /// which `bytes` were captured (the IPv4 header must be among them).
    fn captured_ipv4_lengths(bytes: &[u8], wire_len: usize) -> Option<(usize, usize)> {
        if bytes.len() < 20 || bytes[0] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(bytes[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        (ihl >= 20 && ihl <= bytes.len() && total >= ihl && total <= wire_len)
            .then_some((ihl, total))
    }

    /// How many leading bytes of a packet are headers: the IPv4 header and
    /// the TCP, UDP or ICMP header after it (ICMP's first 8 bytes). The whole
    /// packet when it does not decode, so nothing undecodable is cut.
    pub fn header_len(bytes: &[u8]) -> usize {
        let Some((ihl, total)) = Self::ipv4_lengths(bytes) else {
            return bytes.len();
        };
        let seg = &bytes[ihl..total];
        let transport = match (bytes[9], seg.len()) {
            (6, n) if n >= 20 => match usize::from(seg[12] >> 4) * 4 {
                h if (20..=n).contains(&h) => h,
                _ => n,
            },
            (17, n) | (1, n) if n >= 8 => 8,
            (_, n) => n,
        };
        ihl + transport
    }

    /// The destination address [`PacketInfo::parse`] would decode, without
    /// decoding the rest (`0.0.0.0` when it would not decode at all, as for
    /// a frame the world cannot route).
    pub(crate) fn parse_dst(bytes: &[u8]) -> Ipv4Addr {
        match Self::ipv4_lengths(bytes) {
            Some(_) => Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
            None => Ipv4Addr::UNSPECIFIED,
        }
    }

    /// Decodes the headers of an IPv4 packet: IPv4, then TCP, UDP or ICMP.
    /// Returns `None` when the bytes are not a well-formed IPv4 header.
    ///
    /// A transport header that does not parse is reported as
    /// [`Transport::Other`], so a decoded packet always says at least who sent
    /// it to whom. Checksums are not checked here (receiving hosts do that).
    pub fn parse(bytes: &[u8]) -> Option<PacketInfo> {
        Self::parse_captured(bytes, bytes.len())
    }

    /// [`PacketInfo::parse`] for a packet `wire_len` bytes long of which
    /// only the first `bytes` were captured ([`crate::trace::Capture`]).
    /// Payload lengths come from the IPv4 total length; the headers must
    /// have been captured whole.
    pub fn parse_captured(bytes: &[u8], wire_len: usize) -> Option<PacketInfo> {
        let be16 = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let be32 = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let (ihl, total) = Self::captured_ipv4_lengths(bytes, wire_len)?;
        let src = Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
        let dst = Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]);
        let protocol = bytes[9];
        // What was captured of the segment, and how long it really was.
        let seg = &bytes[ihl..total.min(bytes.len())];
        let seg_len = total - ihl;
        let transport = match protocol {
            6 if seg.len() >= 20
                && usize::from(seg[12] >> 4) * 4 >= 20
                && usize::from(seg[12] >> 4) * 4 <= seg.len() =>
            {
                let header_len = usize::from(seg[12] >> 4) * 4;
                Transport::Tcp(TcpHeader {
                    src_port: be16(seg, 0),
                    dst_port: be16(seg, 2),
                    seq: be32(seg, 4),
                    ack: be32(seg, 8),
                    flags: TcpFlags(seg[13] & 0x3f),
                    window: be16(seg, 14),
                    options: TcpOptions::parse(&seg[20..header_len]),
                    payload_len: (seg_len - header_len) as u32,
                    payload_offset: (ihl + header_len) as u16,
                })
            }
            17 if seg.len() >= 8 => Transport::Udp(UdpHeader {
                src_port: be16(seg, 0),
                dst_port: be16(seg, 2),
                payload_len: (seg_len - 8) as u32,
                payload_offset: (ihl + 8) as u16,
            }),
            1 if seg.len() >= 2 => Transport::Icmp {
                icmp_type: seg[0],
                code: seg[1],
            },
            _ => Transport::Other { protocol },
        };
        Some(PacketInfo {
            src,
            dst,
            ip_id: be16(bytes, 4),
            ttl: bytes[8],
            ip_len: total as u16,
            transport,
        })
    }

    /// The TCP header, if this is a TCP segment.
    pub fn tcp(&self) -> Option<&TcpHeader> {
        match &self.transport {
            Transport::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// The UDP header, if this is a UDP datagram.
    pub fn udp(&self) -> Option<&UdpHeader> {
        match &self.transport {
            Transport::Udp(u) => Some(u),
            _ => None,
        }
    }

    /// Source socket address, for TCP and UDP.
    pub fn src_endpoint(&self) -> Option<SocketAddrV4> {
        match &self.transport {
            Transport::Tcp(t) => Some(SocketAddrV4::new(self.src, t.src_port)),
            Transport::Udp(u) => Some(SocketAddrV4::new(self.src, u.src_port)),
            _ => None,
        }
    }

    /// Destination socket address, for TCP and UDP.
    pub fn dst_endpoint(&self) -> Option<SocketAddrV4> {
        match &self.transport {
            Transport::Tcp(t) => Some(SocketAddrV4::new(self.dst, t.dst_port)),
            Transport::Udp(u) => Some(SocketAddrV4::new(self.dst, u.dst_port)),
            _ => None,
        }
    }

    /// Payload bytes of a TCP segment or UDP datagram, given the frame bytes.
    pub fn payload<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        let (offset, len) = match &self.transport {
            Transport::Tcp(t) => (t.payload_offset as usize, t.payload_len as usize),
            Transport::Udp(u) => (u.payload_offset as usize, u.payload_len as usize),
            _ => return &[],
        };
        bytes.get(offset..offset + len).unwrap_or(&[])
    }
}

/// TCP control flags, printed the way tcpdump prints them (`S`, `S.`, `P.`, `F.`, `R`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;

    /// Whether every flag in `mask` is set.
    pub const fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
    /// FIN set.
    pub const fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    /// SYN set.
    pub const fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    /// RST set.
    pub const fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    /// PSH set.
    pub const fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
    /// ACK set.
    pub const fn ack(self) -> bool {
        self.contains(Self::ACK)
    }

    /// Parses tcpdump-style letters: `S`, `F`, `R`, `P`, `U` and `.` or `A` for ACK.
    pub fn parse(text: &str) -> Option<TcpFlags> {
        let mut bits = 0;
        for c in text.chars() {
            bits |= match c.to_ascii_uppercase() {
                'F' => Self::FIN,
                'S' => Self::SYN,
                'R' => Self::RST,
                'P' => Self::PSH,
                'U' => Self::URG,
                '.' | 'A' => Self::ACK,
                _ => return None,
            };
        }
        Some(TcpFlags(bits))
    }

    /// The flags as words, e.g. `SYN, ACK` (for diagrams meant for readers new to TCP).
    pub fn words(self) -> String {
        let names = [
            (Self::SYN, "SYN"),
            (Self::FIN, "FIN"),
            (Self::RST, "RST"),
            (Self::PSH, "PSH"),
            (Self::URG, "URG"),
            (Self::ACK, "ACK"),
        ];
        let parts: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| self.contains(*bit))
            .map(|(_, n)| *n)
            .collect();
        parts.join(", ")
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(6);
        for (bit, c) in [
            (Self::SYN, 'S'),
            (Self::FIN, 'F'),
            (Self::RST, 'R'),
            (Self::PSH, 'P'),
            (Self::URG, 'U'),
            (Self::ACK, '.'),
        ] {
            if self.contains(bit) {
                s.push(c);
            }
        }
        if s.is_empty() {
            s.push_str("none");
        }
        f.pad(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_like_tcpdump_and_parse_back() {
        let syn_ack = TcpFlags(TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(syn_ack.to_string(), "S.");
        assert_eq!(TcpFlags(TcpFlags::FIN | TcpFlags::ACK).to_string(), "F.");
        assert_eq!(TcpFlags(TcpFlags::PSH | TcpFlags::ACK).to_string(), "P.");
        assert_eq!(TcpFlags::parse("S."), Some(syn_ack));
        assert_eq!(TcpFlags::parse("SA"), Some(syn_ack));
        assert_eq!(TcpFlags::parse("SX"), None);
        assert_eq!(syn_ack.words(), "SYN, ACK");
    }

    /// An IPv4 packet (no checksums: parsing does not check them).
    fn ipv4(protocol: u8, transport: &[u8]) -> Vec<u8> {
        let total = (20 + transport.len()) as u16;
        let mut p = vec![
            0x45, 0, 0, 0, 0, 7, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(transport);
        p
    }

    #[test]
    fn a_packet_decodes_the_same_from_its_headers_alone() {
        // TCP with 12 bytes of options (MSS, NOP, NOP, SACK-permitted... ) and 10 of payload.
        let mut tcp = vec![0u8; 32];
        tcp[0..2].copy_from_slice(&49152u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 8 << 4; // data offset: 32 bytes
        tcp[13] = TcpFlags::PSH | TcpFlags::ACK;
        tcp[20..32].copy_from_slice(&[2, 4, 5, 180, 1, 1, 4, 2, 3, 3, 7, 0]);
        tcp.extend_from_slice(b"0123456789");
        let mut udp = vec![0, 53, 0, 53, 0, 13, 0, 0];
        udp.extend_from_slice(b"hello");
        let icmp = [3, 3, 0, 0, 0, 0, 0, 0, 0x45, 0];
        let mut bad_offset = vec![0u8; 24];
        bad_offset[12] = 3 << 4; // a TCP header cannot be 12 bytes long
        let mut past_the_end = tcp.clone();
        past_the_end[12] = 15 << 4; // 60 bytes of header in a 42-byte segment
        // Four bytes of IP options (IHL 6) before a UDP datagram.
        let mut ip_options = ipv4(17, &udp);
        ip_options[0] = 0x46;
        ip_options.splice(20..20, [1, 1, 1, 0]);
        let total = ip_options.len() as u16;
        ip_options[2..4].copy_from_slice(&total.to_be_bytes());
        // Bytes after the IPv4 total length (link padding) are not the packet's.
        let mut padded = ipv4(17, &udp);
        padded.extend_from_slice(&[0; 6]);
        let cases = [
            ("tcp", ipv4(6, &tcp), 52),
            ("udp", ipv4(17, &udp), 28),
            ("icmp", ipv4(1, &icmp), 28),
            ("bad tcp offset", ipv4(6, &bad_offset), 44),
            ("tcp offset past the end", ipv4(6, &past_the_end), 62),
            ("short udp", ipv4(17, &[0, 53, 0, 53, 0, 7, 0]), 27),
            ("short icmp", ipv4(1, &[3, 3, 0, 0]), 24),
            ("ip options", ip_options, 32),
            ("padding", padded, 28),
            ("other protocol", ipv4(47, b"gre"), 23),
            ("not ipv4", vec![0x60, 0, 0], 3),
        ];
        for (name, packet, header_len) in cases {
            assert_eq!(PacketInfo::header_len(&packet), header_len, "{name}");
            let headers = &packet[..header_len];
            let whole = PacketInfo::parse(&packet);
            assert_eq!(
                PacketInfo::parse_captured(headers, packet.len()),
                whole,
                "{name}"
            );
            if let Some(info) = whole {
                assert!(usize::from(info.ip_len) <= packet.len(), "{name}");
                // Payload bytes come only from a capture that has them.
                assert_eq!(info.payload(headers), b"", "{name}");
            }
        }
        let tcp = PacketInfo::parse(&ipv4(6, &tcp)).unwrap();
        assert_eq!(tcp.tcp().unwrap().payload_len, 10);
        assert_eq!(tcp.tcp().unwrap().options.mss, Some(1460));
        // A wire packet may be longer than its IPv4 header says (padding),
        // not shorter; and the capture must hold the whole IPv4 header.
        let packet = ipv4(17, &udp);
        assert_eq!(
            PacketInfo::parse_captured(&packet[..28], 40),
            PacketInfo::parse(&packet)
        );
        assert_eq!(PacketInfo::parse_captured(&packet[..28], 32), None);
        assert_eq!(PacketInfo::parse_captured(&packet[..12], 33), None);
    }
}

/// A TCP or UDP 4-tuple as one integer, for maps of thousands of
/// connections that a run looks up on every packet: each endpoint's address
/// and port packed into 48 bits, the lower endpoint first, so both
/// directions of a connection give the same key. Keys order as the
/// `(SocketAddrV4, SocketAddrV4)` pairs they stand for (address, then
/// port, lower endpoint first), but compare in one instruction where a
/// pair of socket addresses compares octet by octet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TupleKey(u128);

impl TupleKey {
    /// The key of the connection between `a` and `b` (either way round).
    #[inline]
    pub fn of(a: SocketAddrV4, b: SocketAddrV4) -> TupleKey {
        let pack = |e: SocketAddrV4| (u64::from(u32::from(*e.ip())) << 16) | u64::from(e.port());
        let (a, b) = (pack(a), pack(b));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        TupleKey((u128::from(lo) << 64) | u128::from(hi))
    }
}

#[cfg(test)]
mod tuple_key_tests {
    use super::*;

    /// Keys order as the pairs they stand for, lower endpoint first, and
    /// both directions of a connection give one key.
    #[test]
    fn tuple_keys_order_as_socket_address_pairs() {
        let mut ends = Vec::new();
        for ip in [
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            [10, 1, 0, 1],
            [192, 168, 255, 254],
        ] {
            for port in [0, 80, 443, 49152, 65535] {
                ends.push(SocketAddrV4::new(Ipv4Addr::from(ip), port));
            }
        }
        let pair = |a: SocketAddrV4, b: SocketAddrV4| if a <= b { (a, b) } else { (b, a) };
        for &a in &ends {
            for &b in &ends {
                assert_eq!(TupleKey::of(a, b), TupleKey::of(b, a));
                for &c in &ends {
                    for &d in &ends {
                        assert_eq!(
                            TupleKey::of(a, b).cmp(&TupleKey::of(c, d)),
                            pair(a, b).cmp(&pair(c, d)),
                            "{a} {b} / {c} {d}"
                        );
                    }
                }
            }
        }
    }
}

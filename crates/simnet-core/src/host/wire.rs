//! What a receiving host reads from a frame before handing it to smoltcp:
//! its checksums and its demultiplexing key.
//!
//! Uses smoltcp's `wire` module (zero-copy views over bytes) so that simnet
//! checks packets exactly as the stacks that wrote them. The decoder used for
//! the trace, [`PacketInfo::parse`], is simnet's own; the smoltcp-based
//! decoder in the tests exists only to check it against smoltcp's reading.

use crate::trace::DiscardReason;
use smoltcp::wire::{IpAddress, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket};
use std::net::Ipv4Addr;

/// Checks the IPv4 header checksum and the TCP or UDP checksum, the way a
/// receiving stack does before it believes a single byte.
pub fn verify(bytes: &[u8]) -> Result<(), DiscardReason> {
    let ip = Ipv4Packet::new_checked(bytes).map_err(|_| DiscardReason::Malformed)?;
    if !ip.verify_checksum() {
        return Err(DiscardReason::BadChecksum);
    }
    let src = IpAddress::Ipv4(ip.src_addr());
    let dst = IpAddress::Ipv4(ip.dst_addr());
    match ip.next_header() {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(ip.payload()).map_err(|_| DiscardReason::Malformed)?;
            if !tcp.verify_checksum(&src, &dst) {
                return Err(DiscardReason::BadChecksum);
            }
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(ip.payload()).map_err(|_| DiscardReason::Malformed)?;
            if !udp.verify_checksum(&src, &dst) {
                return Err(DiscardReason::BadChecksum);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The 4-tuple key of a TCP segment as the receiver sees it:
/// (local port, remote address, remote port), plus whether it is a bare SYN
/// (a connection attempt) and whether it carries RST.
pub(crate) struct TcpKey {
    pub local_port: u16,
    pub remote: Ipv4Addr,
    pub remote_port: u16,
    pub bare_syn: bool,
    pub rst: bool,
}

/// What the demultiplexer needs from an incoming frame.
pub(crate) enum Demux {
    Tcp(TcpKey),
    Udp { local_port: u16 },
    Other,
}

pub(crate) fn demux(bytes: &[u8]) -> Demux {
    let Ok(ip) = Ipv4Packet::new_checked(bytes) else {
        return Demux::Other;
    };
    match ip.next_header() {
        IpProtocol::Tcp => match TcpPacket::new_checked(ip.payload()) {
            Ok(tcp) => Demux::Tcp(TcpKey {
                local_port: tcp.dst_port(),
                remote: ip.src_addr(),
                remote_port: tcp.src_port(),
                bare_syn: tcp.syn() && !tcp.ack(),
                rst: tcp.rst(),
            }),
            Err(_) => Demux::Other,
        },
        IpProtocol::Udp => match UdpPacket::new_checked(ip.payload()) {
            Ok(udp) => Demux::Udp {
                local_port: udp.dst_port(),
            },
            Err(_) => Demux::Other,
        },
        _ => Demux::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{PacketInfo, TcpFlags, TcpHeader, TcpOptions, Transport, UdpHeader};
    use smoltcp::wire::TcpOption;

    /// Decodes an IPv4 packet with smoltcp (the reference [`PacketInfo::parse`]
    /// is tested against).
    ///
    /// Transport headers that fail to parse are reported as [`Transport::Other`],
    /// so a decoded packet always says at least who sent it to whom.
    pub fn decode(bytes: &[u8]) -> Option<PacketInfo> {
        let ip = Ipv4Packet::new_checked(bytes).ok()?;
        let src: Ipv4Addr = ip.src_addr();
        let dst: Ipv4Addr = ip.dst_addr();
        let header_len = usize::from(ip.header_len());
        let payload = ip.payload();
        let protocol = ip.next_header();
        let transport = match protocol {
            IpProtocol::Tcp => decode_tcp(payload, header_len),
            IpProtocol::Udp => decode_udp(payload, header_len),
            IpProtocol::Icmp if payload.len() >= 2 => Some(Transport::Icmp {
                icmp_type: payload[0],
                code: payload[1],
            }),
            _ => None,
        }
        .unwrap_or(Transport::Other {
            protocol: u8::from(protocol),
        });
        Some(PacketInfo {
            src,
            dst,
            ip_id: ip.ident(),
            ttl: ip.hop_limit(),
            ip_len: ip.total_len(),
            transport,
        })
    }

    fn decode_tcp(segment: &[u8], ip_header_len: usize) -> Option<Transport> {
        let tcp = TcpPacket::new_checked(segment).ok()?;
        let mut flags = 0;
        for (set, bit) in [
            (tcp.fin(), TcpFlags::FIN),
            (tcp.syn(), TcpFlags::SYN),
            (tcp.rst(), TcpFlags::RST),
            (tcp.psh(), TcpFlags::PSH),
            (tcp.ack(), TcpFlags::ACK),
            (tcp.urg(), TcpFlags::URG),
        ] {
            if set {
                flags |= bit;
            }
        }
        let mut options = TcpOptions::default();
        let mut raw = tcp.options();
        while !raw.is_empty() {
            let Ok((rest, option)) = TcpOption::parse(raw) else {
                break;
            };
            match option {
                TcpOption::EndOfList => break,
                TcpOption::MaxSegmentSize(mss) => options.mss = Some(mss),
                TcpOption::WindowScale(ws) => options.window_scale = Some(ws),
                TcpOption::SackPermitted => options.sack_permitted = true,
                TcpOption::SackRange(ranges) => {
                    options.sack = ranges.iter().flatten().copied().collect();
                }
                TcpOption::TimeStamp { tsval, tsecr } => options.timestamp = Some((tsval, tsecr)),
                _ => {}
            }
            raw = rest;
        }
        let header_len = usize::from(tcp.header_len());
        Some(Transport::Tcp(TcpHeader {
            src_port: tcp.src_port(),
            dst_port: tcp.dst_port(),
            seq: tcp.seq_number().0 as u32,
            ack: tcp.ack_number().0 as u32,
            flags: TcpFlags(flags),
            window: tcp.window_len(),
            options,
            payload_len: segment.len().saturating_sub(header_len) as u32,
            payload_offset: (ip_header_len + header_len) as u16,
        }))
    }

    fn decode_udp(datagram: &[u8], ip_header_len: usize) -> Option<Transport> {
        let udp = UdpPacket::new_checked(datagram).ok()?;
        Some(Transport::Udp(UdpHeader {
            src_port: udp.src_port(),
            dst_port: udp.dst_port(),
            payload_len: udp.payload().len() as u32,
            payload_offset: (ip_header_len + 8) as u16,
        }))
    }

    use crate::apps::{BulkSender, Sink, TcpClient, TcpEcho, UdpEcho, UdpSender};
    use crate::trace::TraceEvent;
    use crate::{LinkParams, Probability, SimDuration, WorldBuilder};

    /// simnet's own header decoder reads every packet smoltcp writes exactly
    /// as smoltcp's wire module does: SYNs with options, data, FINs, RSTs,
    /// UDP, ICMP port unreachable, SACK blocks.
    #[test]
    fn own_decoder_agrees_with_smoltcp_on_every_packet() {
        let mut b = WorldBuilder::new(3);
        let c = b.host("client", [10, 0, 0, 1].into());
        let s = b.host("server", [10, 0, 0, 2].into());
        b.link(
            c,
            s,
            LinkParams {
                latency: SimDuration::from_millis(5),
                loss: Probability::from_percent(5.0),
                reorder: Probability::from_percent(5.0),
                reorder_delay: SimDuration::from_millis(3),
                ..LinkParams::default()
            },
        );
        b.app(s, "echo", || TcpEcho::new(80));
        b.app(s, "sink", || Sink::new(9000));
        b.app(s, "udp", || UdpEcho::new(7));
        b.app(c, "client", || {
            TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5)
        });
        b.app(c, "refused", || {
            TcpClient::new("10.0.0.2:81".parse().unwrap(), b"x", 1)
        });
        b.app(c, "bulk", || {
            BulkSender::new("10.0.0.2:9000".parse().unwrap(), 300_000)
        });
        b.app(c, "udp", || {
            UdpSender::new(
                "10.0.0.2:7".parse().unwrap(),
                5,
                16,
                SimDuration::from_millis(1),
            )
        });
        b.app(c, "unreachable", || {
            UdpSender::new(
                "10.0.0.2:9".parse().unwrap(),
                1,
                16,
                SimDuration::from_millis(1),
            )
        });
        let mut w = b.build().unwrap();
        w.run();
        let mut seen = 0;
        let mut sack = 0;
        for r in &w.trace().records {
            if let TraceEvent::PacketSent { bytes, .. } = &r.event {
                let ours = PacketInfo::parse(bytes).expect("parses");
                assert_eq!(Some(&ours), decode(bytes).as_ref());
                sack += usize::from(ours.tcp().is_some_and(|t| !t.options.sack.is_empty()));
                seen += 1;
            }
        }
        assert!(seen > 200, "{seen}");
        assert!(sack > 0, "the lossy transfer should produce SACK blocks");
    }

    #[test]
    fn garbage_is_not_a_packet() {
        assert_eq!(PacketInfo::parse(&[]), None);
        assert_eq!(PacketInfo::parse(&[0x45; 10]), None);
        assert_eq!(PacketInfo::parse(&[0x60; 40]), None);
    }
}

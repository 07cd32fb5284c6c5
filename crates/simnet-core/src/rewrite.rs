//! Editing and making IPv4 packets, as a router does: the TTL, a NAT's
//! rewritten address and port, ICMP errors, and a TCP RST on a
//! middlebox's behalf.
//!
//! Edits update checksums incrementally (RFC 1624) instead of computing
//! them again, so a packet a link corrupted stays exactly as corrupted: the
//! receiver's checksum still fails, as it would behind a real router. This
//! module is bytes in, bytes out; the world decides when to use it.

use crate::packet::{PacketInfo, TcpFlags, Transport};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The TTL of packets a router makes (Linux's default).
pub const ROUTER_TTL: u8 = 64;

/// The Internet checksum of `data` (RFC 1071): the ones' complement of the
/// ones' complement sum of its 16-bit words.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// A checksum after one 16-bit word it covers changed from `old` to `new`
/// (RFC 1624, equation 3: `HC' = ~(~HC + ~m + m')`).
pub fn update(check: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!check) + u32::from(!old) + u32::from(new))
}

fn word(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

fn put(p: &mut [u8], at: usize, v: u16) {
    p[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The length of a well-formed IPv4 header at the start of `p`.
fn ihl(p: &[u8]) -> Option<usize> {
    let first = *p.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    (first >> 4 == 4 && ihl >= 20 && p.len() >= ihl).then_some(ihl)
}

/// Whether `p` starts with an IPv4 header whose checksum is right (what a
/// router checks before forwarding).
pub fn header_ok(p: &[u8]) -> bool {
    ihl(p).is_some_and(|n| fold(sum(&p[..n], 0)) == 0xffff)
}

/// The packet's TTL.
pub fn ttl(p: &[u8]) -> u8 {
    p.get(8).copied().unwrap_or(0)
}

/// Takes one from the TTL (which must be at least 1) and updates the
/// header checksum.
pub fn decrement_ttl(p: &mut [u8]) {
    if ihl(p).is_none() || p[8] == 0 {
        return;
    }
    let old = word(p, 8);
    p[8] -= 1;
    let check = update(word(p, 10), old, word(p, 8));
    put(p, 10, check);
}

/// Which checksum of the transport header covers the addresses and ports
/// (TCP's, or UDP's unless it is zero, "none"), and where the ports are.
fn transport(p: &[u8]) -> Option<(usize, Option<usize>)> {
    let n = ihl(p)?;
    match p[9] {
        6 if p.len() >= n + 20 => Some((n, Some(n + 16))),
        17 if p.len() >= n + 8 => Some((n, (word(p, n + 6) != 0).then_some(n + 6))),
        _ => None,
    }
}

/// Replaces the source (`dst == false`) or destination address and port of
/// a TCP or UDP packet, updating the IP header's checksum and the
/// transport checksum (which covers both through the pseudo-header).
/// Returns false, changing nothing, for other packets.
pub fn rewrite_endpoint(p: &mut [u8], dst: bool, to: SocketAddrV4) -> bool {
    let Some((l4, check_at)) = transport(p) else {
        return false;
    };
    let (addr_at, port_at) = if dst { (16, l4 + 2) } else { (12, l4) };
    let new = to.ip().octets();
    let mut ip_check = word(p, 10);
    let mut l4_check = check_at.map(|at| word(p, at));
    for i in [0, 2] {
        let old = word(p, addr_at + i);
        let new = u16::from_be_bytes([new[i], new[i + 1]]);
        ip_check = update(ip_check, old, new);
        l4_check = l4_check.map(|c| update(c, old, new));
        put(p, addr_at + i, new);
    }
    let old_port = word(p, port_at);
    l4_check = l4_check.map(|c| update(c, old_port, to.port()));
    put(p, port_at, to.port());
    put(p, 10, ip_check);
    if let (Some(at), Some(c)) = (check_at, l4_check) {
        // UDP sends a computed zero as all ones (zero means "no checksum").
        put(p, at, if p[9] == 17 && c == 0 { 0xffff } else { c });
    }
    true
}

/// An IPv4 header of `total` bytes from `src` to `dst`.
fn ip_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, total: usize) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[0] = 0x45;
    put(&mut h, 2, total as u16);
    h[8] = ROUTER_TTL;
    h[9] = protocol;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&h);
    put(&mut h, 10, c);
    h
}

/// The ICMP error (`icmp_type`/`code`: 11/0 time exceeded, 3/0 network
/// unreachable) a router at `from` sends back about `original`: the
/// original's IP header and first eight bytes of payload, as RFC 792 says.
/// `None` when no error may be sent: the original is itself an ICMP error
/// (errors about errors would loop), or not a well-formed IPv4 packet.
pub fn icmp_error(from: Ipv4Addr, original: &[u8], icmp_type: u8, code: u8) -> Option<Vec<u8>> {
    let info = PacketInfo::parse(original)?;
    if let Transport::Icmp { icmp_type: t, .. } = info.transport
        && !matches!(t, 0 | 8)
    {
        return None;
    }
    let n = ihl(original)?;
    let quoted = &original[..original.len().min(n + 8)];
    let mut icmp = vec![icmp_type, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(quoted);
    let c = checksum(&icmp);
    put(&mut icmp, 2, c);
    let mut p = ip_header(from, info.src, 1, 20 + icmp.len());
    p.extend_from_slice(&icmp);
    Some(p)
}

/// The RST a middlebox sends on behalf of the packet's destination to its
/// source, as RFC 793 answers a segment for no connection: with its ACK
/// number as the sequence number if it carries one, else acknowledging
/// everything it occupied. `None` for a RST or anything but TCP.
pub fn tcp_reset(p: &[u8]) -> Option<Vec<u8>> {
    let info = PacketInfo::parse(p)?;
    let tcp = info.tcp()?;
    if tcp.flags.rst() {
        return None;
    }
    let (seq, ack, flags) = if tcp.flags.ack() {
        (tcp.ack, 0, TcpFlags::RST)
    } else {
        (
            0,
            tcp.seq.wrapping_add(tcp.seq_len()),
            TcpFlags::RST | TcpFlags::ACK,
        )
    };
    let mut seg = vec![0u8; 20];
    put(&mut seg, 0, tcp.dst_port);
    put(&mut seg, 2, tcp.src_port);
    seg[4..8].copy_from_slice(&seq.to_be_bytes());
    seg[8..12].copy_from_slice(&ack.to_be_bytes());
    seg[12] = 5 << 4;
    seg[13] = flags;
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&info.dst.octets());
    pseudo.extend_from_slice(&info.src.octets());
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    let c = !fold(sum(&seg, sum(&pseudo, 0)));
    put(&mut seg, 16, c);
    let mut out = ip_header(info.dst, info.src, 6, 40);
    out.extend_from_slice(&seg);
    Some(out)
}

/// A TCP or UDP packet's protocol number and endpoints, and whether it is
/// a TCP SYN without ACK (the only segment that may open a NAT mapping).
pub fn flow(p: &[u8]) -> Option<(u8, SocketAddrV4, SocketAddrV4, bool)> {
    let info = PacketInfo::parse(p)?;
    let (src, dst) = (info.src_endpoint()?, info.dst_endpoint()?);
    Some(match &info.transport {
        Transport::Tcp(t) => (6, src, dst, t.flags.syn() && !t.flags.ack()),
        _ => (17, src, dst, false),
    })
}

#[cfg(test)]
mod tests;

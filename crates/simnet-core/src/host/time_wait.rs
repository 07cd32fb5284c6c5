//! TIME-WAIT minisockets: what is left of a connection once it has closed.
//!
//! A connection in TIME-WAIT has nothing left to send or to deliver; it only
//! waits out smoltcp's ten seconds, answering stray segments for its 4-tuple.
//! A real smoltcp socket does that while holding its two socket buffers
//! (64 KiB each by default). Like Linux's `tcp_timewait_sock`, the host
//! instead keeps a [`TimeWait`] record of a few dozen bytes: the numbers the
//! connection's last ACK carried, when TIME-WAIT ends, and when the next
//! challenge ACK may go out. The smoltcp socket and its buffers are dropped.
//!
//! A record answers every segment exactly as smoltcp 0.14's
//! `tcp::Socket::process` does in TIME-WAIT, and builds its replies with
//! smoltcp's own `wire` emitters, so the packets are byte for byte the ones
//! the socket would have sent:
//!
//! - a segment without ACK (a SYN reusing the 4-tuple, for instance) is
//!   dropped silently;
//! - an ACK below our sequence number (a duplicate) is dropped; one above it
//!   gets a challenge ACK;
//! - a segment outside the receive window restarts the ten seconds and gets
//!   an ACK: a challenge ACK (at most one per second) when it carries no data
//!   — a retransmitted FIN is exactly that: it sits just left of the window —
//!   and a plain ACK when it carries data; an RST outside the window is
//!   dropped;
//! - an RST inside the window ends TIME-WAIT at once (smoltcp, like Linux by
//!   default, does not protect TIME-WAIT against RSTs as RFC 1337 suggests);
//! - anything else inside the window is dropped.
//!
//! What it deliberately does not do: decide *whether* a socket may become a
//! record. That is [`TimeWait::adopt`]'s caller's business (`host/mod.rs`):
//! only a socket whose application has closed it, with empty buffers, no
//! user timeout, no challenge ACK in the last second and a last segment that
//! is a plain ACK qualifies. Anything this module could not reproduce exactly
//! stays a real smoltcp socket.

use crate::time::SimTime;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// How long TIME-WAIT lasts, and how far a stray segment pushes its end:
/// smoltcp's `CLOSE_DELAY` (private in `socket/tcp.rs`).
pub(super) const TIME_WAIT: Duration = Duration::from_secs(10);

/// smoltcp sends at most one challenge ACK per second per connection.
const CHALLENGE_ACK_INTERVAL: Duration = Duration::from_secs(1);

/// The hop limit smoltcp puts on every segment of a socket without one set.
const HOP_LIMIT: u8 = 64;

/// A connection in TIME-WAIT, without its smoltcp socket.
#[derive(Debug)]
pub(super) struct TimeWait {
    /// (local port, remote address, remote port).
    pub tuple: (u16, Ipv4Addr, u16),
    /// Our sequence number: SND.NXT, which is also SND.UNA since our FIN
    /// has been acknowledged. Every ACK we send carries it.
    seq: TcpSeqNumber,
    /// RCV.NXT: the left edge of the receive window, just past the peer's FIN.
    ack: TcpSeqNumber,
    /// The window field of every ACK we send (already scaled).
    window_field: u16,
    /// The receive window in bytes (`window_field` shifted back).
    window_bytes: usize,
    /// When TIME-WAIT ends, on smoltcp's microsecond clock.
    pub expires_at: Instant,
    /// No challenge ACK goes out before this instant.
    challenge_ack_at: Instant,
    /// When the connection entered TIME-WAIT (for the socket table).
    pub since: SimTime,
    /// The deadline already handed to the scheduler, as for a real socket.
    pub scheduled: Option<SimTime>,
}

/// What a [`TimeWait`] record does with a segment.
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    /// Nothing (the segment is dropped).
    Ignore,
    /// Send this ACK.
    Reply(Arc<[u8]>),
    /// An acceptable RST: the connection is gone.
    Reset,
}

/// What a host knows about a TIME-WAIT socket when it considers turning it
/// into a record.
pub(super) struct Observed<'a> {
    /// The last segment the socket sent while in TIME-WAIT.
    pub last_ack: &'a [u8],
    /// The capacity of its receive buffer (which is empty).
    pub rx_capacity: usize,
    /// Its next deadline, which in TIME-WAIT is when TIME-WAIT ends.
    pub poll_at: Instant,
    /// When it entered TIME-WAIT.
    pub since: SimTime,
    /// The deadline already handed to the scheduler.
    pub scheduled: Option<SimTime>,
}

impl TimeWait {
    /// Builds the record for a socket, or `None` if its last segment is not
    /// a plain ACK whose numbers the record can take over exactly.
    ///
    /// Every segment a smoltcp socket sends in TIME-WAIT is an ACK carrying
    /// SND.NXT, RCV.NXT and the window field it remembers as the last one
    /// advertised, so that segment holds all the socket's state that still
    /// matters. The window scale is not in it; it is recovered from the
    /// receive buffer's capacity, and if the window field fits both "scaled"
    /// and "not scaled" the socket stays a real one.
    pub fn adopt(observed: &Observed<'_>) -> Option<TimeWait> {
        let ip = Ipv4Packet::new_checked(observed.last_ack).ok()?;
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        let plain_ack = tcp.ack() && !tcp.syn() && !tcp.fin() && !tcp.rst() && !tcp.psh();
        // No options: in particular no SACK blocks, which would mean the
        // socket still holds out-of-order data it could report again.
        if !plain_ack || usize::from(tcp.header_len()) != 20 || !tcp.payload().is_empty() {
            return None;
        }
        let shift = window_shift(observed.rx_capacity, tcp.window_len())?;
        Some(TimeWait {
            tuple: (tcp.src_port(), ip.dst_addr(), tcp.dst_port()),
            seq: tcp.seq_number(),
            ack: tcp.ack_number(),
            window_field: tcp.window_len(),
            window_bytes: usize::from(tcp.window_len()) << shift,
            expires_at: observed.poll_at,
            challenge_ack_at: Instant::ZERO,
            since: observed.since,
            scheduled: observed.scheduled,
        })
    }

    /// Whether TIME-WAIT is over at `now` (smoltcp checks this whenever the
    /// socket is polled, after any incoming segment has been processed).
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.expires_at
    }

    /// Handles a frame addressed to this connection at `now`, as smoltcp's
    /// `tcp::Socket::process` does in TIME-WAIT (its checks in its order).
    pub fn segment(&mut self, now: Instant, frame: &[u8]) -> Verdict {
        let caps = ChecksumCapabilities::default();
        // The interface parses (and checks) the packet before any socket
        // sees it; anything it would refuse is dropped silently.
        let Ok(ip_packet) = Ipv4Packet::new_checked(frame) else {
            return Verdict::Ignore;
        };
        let Ok(ip) = Ipv4Repr::parse(&ip_packet, &caps) else {
            return Verdict::Ignore;
        };
        let Ok(tcp_packet) = TcpPacket::new_checked(ip_packet.payload()) else {
            return Verdict::Ignore;
        };
        let (src, dst) = (IpAddress::Ipv4(ip.src_addr), IpAddress::Ipv4(ip.dst_addr));
        let Ok(tcp) = TcpRepr::parse(&tcp_packet, &src, &dst, &caps) else {
            return Verdict::Ignore;
        };
        let rst = tcp.control == TcpControl::Rst;

        // Unacceptable acknowledgements. In TIME-WAIT everything we sent is
        // acknowledged, so the only acceptable ACK number is our own.
        if !rst {
            match tcp.ack_number {
                // "expecting an ACK": a SYN reusing the 4-tuple ends here.
                None => return Verdict::Ignore,
                Some(ack) if ack < self.seq => return Verdict::Ignore,
                Some(ack) if ack > self.seq => return self.challenge_ack(now, &ip, &tcp),
                Some(_) => {}
            }
        }

        // Segment acceptability (RFC 9293 3.10.7.4), as smoltcp tests it.
        let window_start = self.ack;
        let window_end = self.ack + self.window_bytes;
        let segment_start = tcp.seq_number;
        let segment_end = tcp.seq_number + tcp.payload.len();
        let in_window = match (segment_start == segment_end, window_start == window_end) {
            // A keep-alive probe, or a retransmitted FIN (it carries no data
            // and its sequence number is the one just before the window).
            (true, _) if segment_end == window_start - 1 => false,
            (true, true) => window_start == segment_start,
            (true, false) => window_start <= segment_start && segment_start < window_end,
            (false, true) => false,
            (false, false) => {
                (window_start <= segment_start && segment_start < window_end)
                    || (window_start < segment_end && segment_end <= window_end)
            }
        };
        if !in_window {
            if rst {
                return Verdict::Ignore;
            }
            // The peer may not have heard our last ACK: wait the full
            // TIME-WAIT again from now.
            self.expires_at = now + TIME_WAIT;
            let data = !tcp.payload.is_empty()
                && matches!(
                    tcp.control,
                    TcpControl::None | TcpControl::Psh | TcpControl::Fin
                );
            if data {
                // Segments with data are exempt from the rate limit.
                return Verdict::Reply(self.ack_segment(&ip, &tcp));
            }
            return self.challenge_ack(now, &ip, &tcp);
        }
        if rst {
            return Verdict::Reset;
        }
        // In the window but meaningless in TIME-WAIT ("unexpected packet").
        Verdict::Ignore
    }

    /// An ACK, at most one per [`CHALLENGE_ACK_INTERVAL`].
    fn challenge_ack(&mut self, now: Instant, ip: &Ipv4Repr, tcp: &TcpRepr<'_>) -> Verdict {
        if now < self.challenge_ack_at {
            return Verdict::Ignore;
        }
        self.challenge_ack_at = now + CHALLENGE_ACK_INTERVAL;
        Verdict::Reply(self.ack_segment(ip, tcp))
    }

    /// The ACK smoltcp's `ack_reply` builds: our sequence number, RCV.NXT,
    /// our window, no options (no timestamps: simnet never enables them; no
    /// SACK blocks: nothing is out of order), and the IPv4 header smoltcp's
    /// interface writes without fragmentation support (identification 0,
    /// don't-fragment set, TTL 64).
    fn ack_segment(&self, ip: &Ipv4Repr, tcp: &TcpRepr<'_>) -> Arc<[u8]> {
        let reply = TcpRepr {
            src_port: tcp.dst_port,
            dst_port: tcp.src_port,
            control: TcpControl::None,
            seq_number: self.seq,
            ack_number: Some(self.ack),
            window_len: self.window_field,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None, None, None],
            timestamp: None,
            payload: &[],
        };
        let ip_reply = Ipv4Repr {
            src_addr: ip.dst_addr,
            dst_addr: ip.src_addr,
            next_header: IpProtocol::Tcp,
            payload_len: reply.buffer_len(),
            hop_limit: HOP_LIMIT,
        };
        let caps = ChecksumCapabilities::default();
        let header_len = ip_reply.buffer_len();
        let mut frame = vec![0u8; header_len + reply.buffer_len()];
        ip_reply.emit(&mut Ipv4Packet::new_unchecked(&mut frame[..]), &caps);
        reply.emit(
            &mut TcpPacket::new_unchecked(&mut frame[header_len..]),
            &IpAddress::Ipv4(ip_reply.src_addr),
            &IpAddress::Ipv4(ip_reply.dst_addr),
            &caps,
        );
        Arc::from(frame)
    }
}

/// Whether an ACK a socket sent carries SACK blocks (`None` if the frame is
/// not an ACK at all, e.g. an RST).
pub(super) fn ack_has_sack(frame: &[u8]) -> Option<bool> {
    let ip = Ipv4Packet::new_checked(frame).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    if !tcp.ack() || tcp.rst() {
        return None;
    }
    let mut options = tcp.options();
    while !options.is_empty() {
        let Ok((rest, option)) = smoltcp::wire::TcpOption::parse(options) else {
            break;
        };
        match option {
            smoltcp::wire::TcpOption::EndOfList => break,
            smoltcp::wire::TcpOption::SackRange(ranges) => {
                return Some(ranges.iter().any(Option::is_some));
            }
            _ => {}
        }
        options = rest;
    }
    Some(false)
}

/// The window scale a socket applies to the window it advertises, recovered
/// from its receive buffer's capacity and a window field it sent with that
/// buffer empty.
///
/// smoltcp scales by `log2(capacity) + 1 - 16` bits when the peer offered
/// window scaling and by nothing otherwise, and caps the field at 65,535.
/// `None` when the field fits neither, or both with different windows.
fn window_shift(rx_capacity: usize, window_field: u16) -> Option<u8> {
    let capacity_log2 = (usize::BITS - rx_capacity.leading_zeros()) as usize;
    let scaled = capacity_log2.saturating_sub(16) as u8;
    let field = |shift: u8| u16::try_from(rx_capacity >> shift).unwrap_or(u16::MAX);
    let fits_unscaled = field(0) == window_field;
    let fits_scaled = field(scaled) == window_field;
    match (fits_unscaled, fits_scaled) {
        (true, _) if scaled == 0 => Some(0),
        (true, false) => Some(0),
        (false, true) => Some(scaled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_shift_is_recovered_or_refused() {
        // 64 KiB: scaled by 1 bit when the peer offered window scaling.
        assert_eq!(window_shift(65536, 32768), Some(1));
        assert_eq!(window_shift(65536, 65535), Some(0));
        // Small buffers are never scaled.
        assert_eq!(window_shift(4096, 4096), Some(0));
        assert_eq!(window_shift(4096, 2048), None);
        // 256 KiB: shift 3.
        assert_eq!(window_shift(256 * 1024, 32768), Some(3));
        // 131,071 bytes: 65,535 either way, but the windows differ.
        assert_eq!(window_shift(131_071, 65535), None);
        // A window that is not the empty buffer's.
        assert_eq!(window_shift(65536, 1000), None);
    }
}

use super::*;

/// Whether the TCP or UDP checksum of `p` verifies (the sum over the
/// pseudo-header and the segment is all ones).
fn l4_ok(p: &[u8]) -> bool {
    let n = ihl(p).unwrap();
    let seg = &p[n..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&p[12..20]);
    pseudo.extend_from_slice(&[0, p[9]]);
    pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    fold(sum(seg, sum(&pseudo, 0))) == 0xffff
}

/// A SYN from 10.0.0.1:40000 to 10.0.1.2:80, made the way the RST is (so
/// its checksums are computed whole), turned into a SYN with a payload.
fn segment(payload: &[u8], flags: u8) -> Vec<u8> {
    let mut p = ip_header(
        [10, 0, 0, 1].into(),
        [10, 0, 1, 2].into(),
        6,
        40 + payload.len(),
    );
    let mut seg = vec![0u8; 20];
    put(&mut seg, 0, 40000);
    put(&mut seg, 2, 80);
    seg[4..8].copy_from_slice(&1000u32.to_be_bytes());
    seg[8..12].copy_from_slice(&7777u32.to_be_bytes());
    seg[12] = 5 << 4;
    seg[13] = flags;
    put(&mut seg, 14, 65535);
    seg.extend_from_slice(payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&p[12..20]);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    let c = !fold(sum(&seg, sum(&pseudo, 0)));
    put(&mut seg, 16, c);
    p.extend_from_slice(&seg);
    p
}

#[test]
fn checksum_matches_rfc_1071s_example() {
    // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(checksum(&data), !0xddf2);
    // An odd length pads with a zero byte.
    assert_eq!(checksum(&[0x01]), !0x0100);
}

#[test]
fn ttl_goes_down_and_the_header_still_verifies() {
    let mut p = segment(b"hi", TcpFlags::ACK);
    assert!(header_ok(&p) && l4_ok(&p));
    assert_eq!(ttl(&p), 64);
    for expected in (0..64).rev() {
        decrement_ttl(&mut p);
        assert_eq!(ttl(&p), expected);
        assert!(header_ok(&p), "ttl {expected}");
        assert!(l4_ok(&p), "the TTL is not in the pseudo-header");
    }
    // At zero it stays zero (the router never forwards it).
    decrement_ttl(&mut p);
    assert_eq!(ttl(&p), 0);
    // A flipped bit in the header is caught.
    let mut bad = segment(b"", TcpFlags::SYN);
    bad[12] ^= 0x10;
    assert!(!header_ok(&bad));
    assert!(!header_ok(&[0x45, 0, 0]));
    assert!(!header_ok(&[]));
}

#[test]
fn nat_rewrites_keep_both_checksums_right() {
    for payload in [&b""[..], b"x", b"hello, world"] {
        let mut p = segment(payload, TcpFlags::SYN);
        assert!(rewrite_endpoint(
            &mut p,
            false,
            "203.0.113.1:1024".parse().unwrap()
        ));
        assert!(header_ok(&p) && l4_ok(&p));
        let info = PacketInfo::parse(&p).unwrap();
        assert_eq!(info.src_endpoint().unwrap().to_string(), "203.0.113.1:1024");
        assert_eq!(info.dst_endpoint().unwrap().to_string(), "10.0.1.2:80");
        assert!(rewrite_endpoint(
            &mut p,
            true,
            "10.9.8.7:8080".parse().unwrap()
        ));
        assert!(header_ok(&p) && l4_ok(&p));
        assert_eq!(
            PacketInfo::parse(&p)
                .unwrap()
                .dst_endpoint()
                .unwrap()
                .to_string(),
            "10.9.8.7:8080"
        );
    }
    // A corrupted payload stays corrupted: the incremental update does not
    // repair it, so the receiver still discards the segment.
    let mut p = segment(b"hello", TcpFlags::ACK);
    p[42] ^= 0x01;
    assert!(!l4_ok(&p));
    rewrite_endpoint(&mut p, false, "203.0.113.1:1024".parse().unwrap());
    assert!(header_ok(&p));
    assert!(!l4_ok(&p));
    // Not TCP or UDP: nothing changes.
    let mut icmp = icmp_error([10, 0, 0, 254].into(), &segment(b"", 0), 11, 0).unwrap();
    let before = icmp.clone();
    assert!(!rewrite_endpoint(
        &mut icmp,
        false,
        "1.2.3.4:5".parse().unwrap()
    ));
    assert_eq!(icmp, before);
}

#[test]
fn icmp_errors_quote_the_header_and_eight_bytes() {
    let original = segment(b"0123456789abcdef", TcpFlags::ACK);
    let p = icmp_error([10, 0, 0, 254].into(), &original, 11, 0).unwrap();
    assert!(header_ok(&p));
    assert_eq!(p.len(), 20 + 8 + 20 + 8);
    assert_eq!(&p[12..16], &[10, 0, 0, 254]);
    assert_eq!(&p[16..20], &[10, 0, 0, 1], "back to the sender");
    assert_eq!(p[9], 1);
    assert_eq!(ttl(&p), ROUTER_TTL);
    assert_eq!((p[20], p[21]), (11, 0));
    assert_eq!(checksum(&p[20..]), 0, "the ICMP checksum verifies");
    assert_eq!(&p[28..], &original[..28]);
    let info = PacketInfo::parse(&p).unwrap();
    assert!(matches!(
        info.transport,
        Transport::Icmp {
            icmp_type: 11,
            code: 0
        }
    ));
    // No error about an error; one about an echo request is fine.
    assert_eq!(icmp_error([10, 0, 0, 9].into(), &p, 3, 0), None);
    let mut echo = p.clone();
    echo[20] = 8;
    assert!(icmp_error([10, 0, 0, 9].into(), &echo, 11, 0).is_some());
    assert_eq!(icmp_error([10, 0, 0, 9].into(), &[1, 2, 3], 11, 0), None);
}

#[test]
fn resets_answer_as_rfc_793_says() {
    // A segment with ACK: the RST takes its ACK number as its sequence number.
    let data = segment(b"abc", TcpFlags::ACK | TcpFlags::PSH);
    let rst = tcp_reset(&data).unwrap();
    assert!(header_ok(&rst) && l4_ok(&rst));
    let info = PacketInfo::parse(&rst).unwrap();
    let tcp = info.tcp().unwrap();
    assert_eq!(info.src_endpoint().unwrap().to_string(), "10.0.1.2:80");
    assert_eq!(info.dst_endpoint().unwrap().to_string(), "10.0.0.1:40000");
    assert_eq!(
        (tcp.seq, tcp.flags.rst(), tcp.flags.ack()),
        (7777, true, false)
    );
    // A SYN: RST+ACK acknowledging the SYN.
    let rst = tcp_reset(&segment(b"", TcpFlags::SYN)).unwrap();
    let tcp = PacketInfo::parse(&rst).unwrap().tcp().unwrap().clone();
    assert_eq!((tcp.seq, tcp.ack, tcp.flags.ack()), (0, 1001, true));
    // Never a RST for a RST.
    assert_eq!(tcp_reset(&segment(b"", TcpFlags::RST)), None);
}

#[test]
fn flows_name_the_endpoints_and_syns() {
    let (proto, src, dst, syn) = flow(&segment(b"", TcpFlags::SYN)).unwrap();
    assert_eq!((proto, syn), (6, true));
    assert_eq!(
        (src.to_string(), dst.to_string()),
        ("10.0.0.1:40000".into(), "10.0.1.2:80".into())
    );
    assert!(
        !flow(&segment(b"", TcpFlags::SYN | TcpFlags::ACK))
            .unwrap()
            .3
    );
    assert_eq!(flow(&[0u8; 4]), None);
}

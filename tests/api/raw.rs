//! The raw peers through the Rust API: pieces leave at their own times, in
//! their own segments, and the other side receives exactly those bytes.

use super::{pair, ten_ms};
use simnet::SimDuration;
use simnet::apps::{Piece, RawClient, RawClose, RawServer};

fn server_addr() -> std::net::SocketAddrV4 {
    "10.0.0.2:80".parse().unwrap()
}

#[test]
fn a_raw_server_sends_each_piece_in_its_own_segment_at_its_time() {
    let (mut b, client, server) = pair(1, ten_ms());
    // A WebSocket text frame "hi", cut after its first byte and inside its
    // payload: the way a server's parser is tested against partial input.
    let frame = [0x81, 0x02, b'h', b'i'];
    b.app(server, "raw-server", move || {
        RawServer::new(
            80,
            vec![
                Piece::now(&frame[..1]),
                Piece::after(SimDuration::from_millis(10), &frame[1..3]),
                Piece::after(SimDuration::from_millis(10), &frame[3..]),
            ],
            RawClose::AfterSend,
        )
    });
    let cli = b.app(client, "raw-client", || {
        RawClient::new(server_addr(), Vec::new(), RawClose::OnEof)
    });
    let mut w = b.build().unwrap();
    w.run();
    assert_eq!(w.app::<RawClient>(cli).unwrap().received(), frame);
    let segments: Vec<(u64, u32)> = w
        .trace()
        .packets()
        .filter(|(_, h, p)| *h == server && p.tcp().unwrap().payload_len > 0)
        .map(|(t, _, p)| (t.as_nanos() / 1_000_000, p.tcp().unwrap().payload_len))
        .collect();
    // Accepted at 10 ms (the SYN-ACK's ACK carries nothing the server waits
    // for); Nagle is off, so no piece waits for the ACK of the one before.
    assert_eq!(segments.iter().map(|s| s.1).collect::<Vec<_>>(), [1, 2, 1]);
    assert_eq!(segments[1].0 - segments[0].0, 10, "{segments:?}");
    assert_eq!(segments[2].0 - segments[1].0, 10, "{segments:?}");
}

#[test]
fn a_raw_client_that_aborts_after_sending_resets_the_connection() {
    let (mut b, client, server) = pair(1, ten_ms());
    b.app(server, "raw-server", || {
        RawServer::new(80, Vec::new(), RawClose::OnEof)
    });
    b.app(client, "raw-client", || {
        RawClient::new(
            server_addr(),
            vec![Piece::now(b"GET / HTTP/1.1\r\n".to_vec())],
            RawClose::AbortAfterSend,
        )
    });
    let mut w = b.build().unwrap();
    w.run();
    assert!(
        w.trace()
            .packets()
            .any(|(_, h, p)| h == client && p.tcp().unwrap().flags.rst()),
        "the client resets"
    );
}

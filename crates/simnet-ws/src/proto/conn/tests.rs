use super::*;
use crate::proto::frame::apply_mask;

/// The masking key of RFC 6455 section 5.7's examples.
const RFC_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn fixed_mask(key: [u8; 4]) -> MaskSource {
    Box::new(move || key)
}

/// A new key for every frame: `01 01 01 01`, then `02 02 02 02`, ...
fn counting_masks() -> MaskSource {
    let mut n = 0u8;
    Box::new(move || {
        n = n.wrapping_add(1);
        [n; 4]
    })
}

fn client() -> WsConn {
    WsConn::client(WsConfig::default(), fixed_mask(RFC_MASK))
}

fn server() -> WsConn {
    WsConn::server(WsConfig::default())
}

/// A frame as a client sends it: masked.
fn masked(fin: bool, opcode: Opcode, payload: impl Into<Vec<u8>>) -> Frame {
    Frame::new(fin, opcode, payload).with_mask(RFC_MASK)
}

/// A frame as a server sends it: unmasked.
fn unmasked(fin: bool, opcode: Opcode, payload: impl Into<Vec<u8>>) -> Frame {
    Frame::new(fin, opcode, payload)
}

fn wire(frames: &[Frame]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for frame in frames {
        frame::encode(frame, &mut bytes);
    }
    bytes
}

fn info(opcode: Opcode, fin: bool, masked: bool, len: u64, preview: &str) -> FrameInfo {
    FrameInfo {
        opcode,
        fin,
        masked,
        payload_len: len,
        preview: preview.to_owned(),
    }
}

fn received(opcode: Opcode, fin: bool, masked: bool, len: u64, preview: &str) -> WsEvent {
    WsEvent::FrameReceived(info(opcode, fin, masked, len, preview))
}

fn text(text: &str) -> WsEvent {
    WsEvent::Message(Message::Text(text.to_owned()))
}

/// Everything a connection did in reaction to some input.
#[derive(Debug, PartialEq)]
struct Reaction {
    events: Vec<WsEvent>,
    transmit: Vec<u8>,
    sent: Vec<FrameInfo>,
    state: WsState,
    should_close_tcp: bool,
}

/// Drains everything `conn` has to report.
fn drain(conn: &mut WsConn) -> Reaction {
    let mut transmit = Vec::new();
    conn.poll_transmit(&mut transmit);
    Reaction {
        events: std::iter::from_fn(|| conn.poll_event()).collect(),
        transmit,
        sent: std::iter::from_fn(|| conn.poll_sent_frame()).collect(),
        state: conn.state(),
        should_close_tcp: conn.should_close_tcp(),
    }
}

fn feed<'a>(conn: &mut WsConn, chunks: impl IntoIterator<Item = &'a [u8]>) -> Reaction {
    for chunk in chunks {
        conn.handle_input(chunk);
    }
    drain(conn)
}

/// Feeds `input` to fresh connections made by `new`: whole, split in two
/// at every byte boundary, and one byte at a time. Every way must give
/// the same reaction, which is returned.
fn react(new: impl Fn() -> WsConn, input: &[u8]) -> Reaction {
    let whole = feed(&mut new(), [input]);
    for at in 0..=input.len() {
        let (head, tail) = input.split_at(at);
        assert_eq!(feed(&mut new(), [head, tail]), whole, "split at byte {at}");
    }
    assert_eq!(
        feed(&mut new(), input.chunks(1)),
        whole,
        "one byte at a time"
    );
    whole
}

/// Moves everything `from` has to send into `to`.
fn pump(from: &mut WsConn, to: &mut WsConn) {
    let mut bytes = Vec::new();
    from.poll_transmit(&mut bytes);
    to.handle_input(&bytes);
}

#[test]
fn server_receives_the_rfc_masked_hello() {
    let input = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let reaction = react(server, &input);
    assert_eq!(
        reaction.events,
        [
            received(Opcode::Text, true, true, 5, "Hello"),
            text("Hello")
        ]
    );
    assert!(reaction.transmit.is_empty());
    assert_eq!(reaction.state, WsState::Open);
}

#[test]
fn client_reassembles_fragments_around_a_ping_and_answers_it() {
    // RFC 6455 section 5.7: "Hel" and "lo" as two fragments, with the
    // unmasked Ping "Hello" between them.
    let input = [
        &[0x01, 0x03, 0x48, 0x65, 0x6c][..],
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        &[0x80, 0x02, 0x6c, 0x6f],
    ]
    .concat();
    let reaction = react(client, &input);
    assert_eq!(
        reaction.events,
        [
            received(Opcode::Text, false, false, 3, "Hel"),
            received(Opcode::Ping, true, false, 5, "Hello"),
            WsEvent::Ping(b"Hello".to_vec()),
            received(Opcode::Continuation, true, false, 2, "lo"),
            text("Hello"),
        ]
    );
    // The automatic reply is the RFC's masked Pong, byte for byte.
    assert_eq!(
        reaction.transmit,
        [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
        ]
    );
    assert_eq!(reaction.sent, [info(Opcode::Pong, true, true, 5, "Hello")]);
}

#[test]
fn a_character_split_across_fragments_is_valid_text() {
    // U+20AC (€, e2 82 ac) and U+1F600 (f0 9f 98 80) cut at every
    // fragment boundary there is.
    let input = wire(&[
        masked(false, Opcode::Text, [b'a', 0xe2]),
        masked(false, Opcode::Continuation, [0x82]),
        masked(false, Opcode::Continuation, [0xac, 0xf0, 0x9f]),
        masked(false, Opcode::Continuation, []),
        masked(true, Opcode::Continuation, [0x98, 0x80]),
    ]);
    let reaction = react(server, &input);
    assert_eq!(reaction.events.last(), Some(&text("a€😀")));
    assert_eq!(reaction.state, WsState::Open);
}

#[test]
fn server_sends_the_rfc_fragments_with_a_ping_between() {
    let mut server = server();
    server.send_frame(Opcode::Text, false, b"Hel").unwrap();
    server.ping(b"Hello").unwrap();
    server
        .send_frame(Opcode::Continuation, true, b"lo")
        .unwrap();
    let sent = drain(&mut server);
    assert_eq!(
        sent.transmit,
        [
            &[0x01, 0x03, 0x48, 0x65, 0x6c][..],
            &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            &[0x80, 0x02, 0x6c, 0x6f],
        ]
        .concat()
    );
    assert_eq!(
        sent.sent,
        [
            info(Opcode::Text, false, false, 3, "Hel"),
            info(Opcode::Ping, true, false, 5, "Hello"),
            info(Opcode::Continuation, true, false, 2, "lo"),
        ]
    );
    let mut client = client();
    client.handle_input(&sent.transmit);
    assert_eq!(drain(&mut client).events.last(), Some(&text("Hello")));
}

#[test]
fn send_fragmented_splits_a_message_into_continuation_frames() {
    let mut client = client();
    let mut server = server();
    client
        .send_fragmented(Opcode::Binary, &[&[1, 2], &[3], &[4, 5]])
        .unwrap();
    // "é" is two bytes; a fragment boundary may fall between them.
    client
        .send_fragmented(
            Opcode::Text,
            &["caf\u{e9}".as_bytes()[..4].as_ref(), &[0xa9]],
        )
        .unwrap();
    pump(&mut client, &mut server);
    assert_eq!(
        drain(&mut server).events,
        [
            received(Opcode::Binary, false, true, 2, "0102"),
            received(Opcode::Continuation, false, true, 1, "03"),
            received(Opcode::Continuation, true, true, 2, "0405"),
            WsEvent::Message(Message::Binary(vec![1, 2, 3, 4, 5])),
            received(Opcode::Text, false, true, 4, "caf\u{fffd}"),
            received(Opcode::Continuation, true, true, 1, "\u{fffd}"),
            text("caf\u{e9}"),
        ]
    );
}

#[test]
fn client_frames_are_masked_with_fresh_keys_and_server_frames_are_not() {
    let mut client = WsConn::client(WsConfig::default(), counting_masks());
    let mut server = server();
    client.send_text("one").unwrap();
    client.send_binary(b"two").unwrap();
    let mut bytes = Vec::new();
    client.poll_transmit(&mut bytes);
    // Each frame: 2 header bytes, 4 key bytes, 3 masked payload bytes.
    assert_eq!(bytes[..6], [0x81, 0x83, 1, 1, 1, 1]);
    assert_eq!(bytes[6..9], [b'o' ^ 1, b'n' ^ 1, b'e' ^ 1]);
    assert_eq!(bytes[9..15], [0x82, 0x83, 2, 2, 2, 2]);
    assert_eq!(bytes[15..], [b't' ^ 2, b'w' ^ 2, b'o' ^ 2]);
    server.handle_input(&bytes);
    let events = drain(&mut server).events;
    assert_eq!(events[1], text("one"));
    assert_eq!(
        events[3],
        WsEvent::Message(Message::Binary(b"two".to_vec()))
    );

    server.send_text("hi").unwrap();
    let reply = drain(&mut server);
    assert_eq!(reply.transmit, [0x81, 0x02, b'h', b'i']);
    client.handle_input(&reply.transmit);
    assert_eq!(drain(&mut client).events[1], text("hi"));
}

#[test]
fn a_64_kib_message_arrives_byte_by_byte() {
    let payload: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let bytes = wire(&[unmasked(true, Opcode::Binary, payload.clone())]);
    let reaction = feed(&mut client(), bytes.chunks(1));
    assert_eq!(
        reaction.events[1],
        WsEvent::Message(Message::Binary(payload))
    );
}

/// The bytes of the Close frame a connection sends to report `code`:
/// unmasked from a server, masked with a zero key from a client (so
/// the payload reads plainly).
fn close_frame(role: Role, code: u16, reason: &str) -> Vec<u8> {
    let payload = [&code.to_be_bytes()[..], reason.as_bytes()].concat();
    let len = payload.len() as u8;
    match role {
        Role::Server => [&[0x88, len][..], &payload].concat(),
        Role::Client => [&[0x88, 0x80 | len, 0, 0, 0, 0][..], &payload].concat(),
    }
}

/// Makes a fresh connection for each way of feeding the input.
type NewConn = fn() -> WsConn;

#[test]
fn protocol_errors_fail_the_connection_with_the_right_close_frame() {
    let zero_mask_client: NewConn = || WsConn::client(WsConfig::default(), fixed_mask([0; 4]));
    let small_server: NewConn = || {
        WsConn::server(WsConfig {
            max_message_bytes: 8,
            max_frame_bytes: 8,
        })
    };
    let big_frame_server: NewConn = || {
        WsConn::server(WsConfig {
            max_message_bytes: 100,
            max_frame_bytes: 8,
        })
    };
    let rsv1_text = Frame {
        rsv1: true,
        ..masked(true, Opcode::Text, "x")
    };
    // (what the peer did, connection, input, close code, close reason)
    let cases: Vec<(&str, NewConn, Vec<u8>, u16, &str)> = vec![
        (
            "unmasked client frame",
            server,
            wire(&[unmasked(true, Opcode::Text, "Hello")]),
            1002,
            "unmasked frame from the client",
        ),
        (
            "masked server frame",
            zero_mask_client,
            wire(&[masked(true, Opcode::Text, "Hello")]),
            1002,
            "masked frame from the server",
        ),
        (
            "reserved opcode",
            server,
            vec![0x83, 0x80, 1, 2, 3, 4],
            1002,
            "reserved opcode 0x3",
        ),
        (
            "RSV1 without an extension",
            server,
            wire(&[rsv1_text]),
            1002,
            "reserved bits set, but no extension was negotiated",
        ),
        (
            "control frame over 125 bytes",
            server,
            wire(&[masked(true, Opcode::Ping, vec![0; 126])]),
            1002,
            "ping frame with 126 bytes (control frames carry at most 125)",
        ),
        (
            "fragmented control frame",
            server,
            wire(&[masked(false, Opcode::Ping, "p")]),
            1002,
            "fragmented ping frame (control frames must have FIN set)",
        ),
        (
            "continuation without a start",
            server,
            wire(&[masked(true, Opcode::Continuation, "lo")]),
            1002,
            "continuation frame with no message to continue",
        ),
        (
            "new message inside a fragmented one",
            server,
            wire(&[
                masked(false, Opcode::Text, "Hel"),
                masked(true, Opcode::Text, "lo"),
            ]),
            1002,
            "new message started inside a fragmented message",
        ),
        (
            "invalid close code",
            server,
            wire(&[masked(true, Opcode::Close, [0x03, 0xED])]),
            1002,
            "invalid close code 1005",
        ),
        (
            "one-byte close body",
            server,
            wire(&[masked(true, Opcode::Close, [0x03])]),
            1002,
            "a one-byte close payload (a status code takes two)",
        ),
        (
            "invalid UTF-8 text",
            server,
            wire(&[masked(true, Opcode::Text, [b'a', 0xff])]),
            1007,
            "text message is not valid UTF-8",
        ),
        (
            "invalid UTF-8 across fragments",
            zero_mask_client,
            wire(&[
                unmasked(false, Opcode::Text, [0xc3]),
                unmasked(true, Opcode::Continuation, [0x28]),
            ]),
            1007,
            "text message is not valid UTF-8",
        ),
        (
            // The rest of the message never comes: the first fragment
            // is enough to know.
            "invalid UTF-8 in the first fragment",
            server,
            wire(&[masked(false, Opcode::Text, [b'o', b'k', 0xff])]),
            1007,
            "text message is not valid UTF-8",
        ),
        (
            "a character broken in a middle fragment",
            server,
            wire(&[
                masked(false, Opcode::Text, [0xe2]),
                masked(false, Opcode::Continuation, [0x82, 0x28]),
            ]),
            1007,
            "text message is not valid UTF-8",
        ),
        (
            "a character cut short by the last fragment",
            server,
            wire(&[
                masked(false, Opcode::Text, "a"),
                masked(true, Opcode::Continuation, [0xf0, 0x9f, 0x98]),
            ]),
            1007,
            "text message is not valid UTF-8",
        ),
        (
            "invalid UTF-8 close reason",
            server,
            wire(&[masked(true, Opcode::Close, [0x03, 0xE8, 0xff])]),
            1007,
            "close reason is not valid UTF-8",
        ),
        (
            "fragments adding up to too much",
            small_server,
            wire(&[
                masked(false, Opcode::Binary, [0; 5]),
                masked(true, Opcode::Continuation, [0; 4]),
            ]),
            1009,
            "message exceeds the 8-byte limit",
        ),
        (
            // Only the header arrives: the frame is refused before its
            // payload would be buffered.
            "frame over the frame limit",
            big_frame_server,
            vec![0x82, 0x89, 1, 2, 3, 4],
            1009,
            "9-byte frame payload exceeds the 8-byte limit",
        ),
    ];
    for (name, new, input, code, reason) in cases {
        let reaction = react(new, &input);
        let expected = WsEvent::ProtocolError {
            code,
            reason: reason.to_owned(),
        };
        assert_eq!(reaction.events.last(), Some(&expected), "{name}");
        let role = new().role();
        assert_eq!(reaction.transmit, close_frame(role, code, reason), "{name}");
        assert_eq!(reaction.state, WsState::Closed, "{name}");
        assert!(reaction.should_close_tcp, "{name}");
    }
}

#[test]
fn a_failed_connection_ignores_input_and_refuses_to_send() {
    let mut server = server();
    server.handle_input(&wire(&[unmasked(true, Opcode::Text, "x")]));
    drain(&mut server);
    server.handle_input(&wire(&[masked(true, Opcode::Text, "y")]));
    assert_eq!(drain(&mut server).events, []);
    assert_eq!(server.send_text("z"), Err(SendError::NotOpen));
    assert_eq!(server.close(1000, ""), Err(SendError::NotOpen));
}

#[test]
fn client_initiated_close_leaves_the_server_to_close_tcp() {
    let mut client = client();
    let mut server = server();
    client.close(1000, "bye").unwrap();
    assert_eq!(client.state(), WsState::Closing);
    assert_eq!(client.send_text("too late"), Err(SendError::NotOpen));

    pump(&mut client, &mut server);
    let at_server = drain(&mut server);
    assert_eq!(
        at_server.events,
        [
            received(Opcode::Close, true, true, 5, "1000 bye"),
            WsEvent::CloseReceived {
                code: Some(1000),
                reason: "bye".to_owned()
            },
            WsEvent::Closed,
        ]
    );
    // The reply echoes the code, without a reason.
    assert_eq!(at_server.transmit, [0x88, 0x02, 0x03, 0xE8]);
    assert_eq!(at_server.state, WsState::Closed);
    assert!(at_server.should_close_tcp);

    client.handle_input(&at_server.transmit);
    let at_client = drain(&mut client);
    assert_eq!(
        at_client.events,
        [
            received(Opcode::Close, true, false, 2, "1000"),
            WsEvent::CloseReceived {
                code: Some(1000),
                reason: String::new()
            },
            WsEvent::Closed,
        ]
    );
    assert_eq!(at_client.state, WsState::Closed);
    // The client waits for the server's FIN, which is then no surprise.
    assert!(!at_client.should_close_tcp);
    client.handle_eof();
    assert_eq!(client.poll_event(), None);
}

#[test]
fn server_initiated_close_is_echoed_by_the_client() {
    let mut client = client();
    let mut server = server();
    server.close(1001, "going away").unwrap();
    pump(&mut server, &mut client);
    let at_client = drain(&mut client);
    assert_eq!(
        at_client.events[1..],
        [
            WsEvent::CloseReceived {
                code: Some(1001),
                reason: "going away".to_owned()
            },
            WsEvent::Closed,
        ]
    );
    let mut echo = vec![0x03, 0xE9];
    apply_mask(&mut echo, RFC_MASK);
    assert_eq!(
        at_client.transmit,
        [&[0x88, 0x82][..], &RFC_MASK, &echo].concat()
    );
    assert!(!at_client.should_close_tcp);

    server.handle_input(&at_client.transmit);
    let at_server = drain(&mut server);
    assert_eq!(at_server.events.last(), Some(&WsEvent::Closed));
    assert!(at_server.transmit.is_empty());
    assert!(at_server.should_close_tcp);
}

#[test]
fn a_close_without_a_code_is_answered_without_one() {
    let reaction = react(client, &[0x88, 0x00]);
    assert_eq!(
        reaction.events[1..],
        [
            WsEvent::CloseReceived {
                code: None,
                reason: String::new()
            },
            WsEvent::Closed,
        ]
    );
    assert_eq!(reaction.transmit, [&[0x88, 0x80][..], &RFC_MASK].concat());
}

#[test]
fn while_closing_data_still_arrives_but_pings_go_unanswered() {
    let mut server = server();
    server.close(1000, "").unwrap();
    drain(&mut server);
    server.handle_input(&wire(&[
        masked(true, Opcode::Text, "late"),
        masked(true, Opcode::Ping, "p"),
    ]));
    let reaction = drain(&mut server);
    assert_eq!(
        reaction.events,
        [
            received(Opcode::Text, true, true, 4, "late"),
            text("late"),
            received(Opcode::Ping, true, true, 1, "p"),
            WsEvent::Ping(b"p".to_vec()),
        ]
    );
    assert!(reaction.transmit.is_empty());
    assert_eq!(reaction.state, WsState::Closing);
}

#[test]
fn tcp_ending_before_the_close_handshake_is_a_lost_connection() {
    let mut client = client();
    client.handle_input(&[0x81, 0x05, b'H']);
    client.handle_eof();
    let reaction = drain(&mut client);
    assert_eq!(reaction.events, [WsEvent::ConnectionLost]);
    assert_eq!(reaction.state, WsState::Closed);
    assert!(reaction.should_close_tcp);
    client.handle_input(b"llo");
    assert_eq!(client.poll_event(), None);
}

#[test]
fn refused_sends_queue_nothing() {
    let mut client = client();
    let cases = [
        (
            client.ping(&[0; 126]),
            SendError::ControlPayloadTooLong { len: 126 },
        ),
        (
            client.send_frame(Opcode::Pong, false, b""),
            SendError::FragmentedControlFrame,
        ),
        (
            client.send_frame(Opcode::Close, true, b""),
            SendError::CloseFrame,
        ),
        (
            client.send_frame(Opcode::Continuation, true, b"x"),
            SendError::NoMessageInProgress,
        ),
        (
            client.send_fragmented(Opcode::Ping, &[]),
            SendError::NotADataOpcode(Opcode::Ping),
        ),
        (
            client.send_fragmented(Opcode::Text, &[&[0xc3], &[0x28]]),
            SendError::InvalidUtf8,
        ),
        (client.close(1005, ""), SendError::InvalidCloseCode(1005)),
        (
            client.close(1000, &"x".repeat(124)),
            SendError::CloseReasonTooLong { len: 124 },
        ),
    ];
    for (result, error) in cases {
        assert_eq!(result, Err(error));
    }
    assert_eq!(drain(&mut client).transmit, []);

    client.send_frame(Opcode::Text, false, b"a").unwrap();
    assert_eq!(client.send_text("b"), Err(SendError::MessageInProgress));
    assert_eq!(
        client.send_fragmented(Opcode::Binary, &[b"c"]),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(drain(&mut client).sent.len(), 1);
}

#[test]
fn send_raw_frame_bypasses_the_rules_for_fault_injection() {
    let mut client = client();
    let mut server = server();
    // A broken client that forgets to mask.
    client.send_raw_frame(&unmasked(true, Opcode::Text, "oops"));
    pump(&mut client, &mut server);
    assert_eq!(
        drain(&mut server).events.last(),
        Some(&WsEvent::ProtocolError {
            code: 1002,
            reason: "unmasked frame from the client".to_owned()
        })
    );
}

#[test]
fn previews_are_short_and_printable() {
    let describe = |opcode, payload: &[u8]| {
        FrameInfo::describe(&Frame::new(true, opcode, payload), None).preview
    };
    assert_eq!(describe(Opcode::Text, b"line\none\t"), "line\\none\\t");
    let long = "0123456789".repeat(4);
    assert_eq!(
        describe(Opcode::Text, long.as_bytes()),
        format!("{}...", &long[..32])
    );
    // Multi-byte characters count as one each.
    let accents = "\u{e9}".repeat(40);
    assert_eq!(
        describe(Opcode::Text, accents.as_bytes()),
        format!("{}...", "\u{e9}".repeat(32))
    );
    assert_eq!(describe(Opcode::Binary, &[0xde, 0xad]), "dead");
    assert_eq!(
        describe(Opcode::Binary, &[0xab; 17]),
        format!("{}...", "ab".repeat(16))
    );
    assert_eq!(
        describe(Opcode::Close, &[0x03, 0xE8, b'o', b'k']),
        "1000 ok"
    );
    assert_eq!(describe(Opcode::Close, &[]), "");
    assert_eq!(describe(Opcode::Continuation, b"?"), "3f");

    let frame = Frame::new(true, Opcode::Text, "Hello").with_mask(RFC_MASK);
    let line = FrameInfo::describe(&frame, None).to_string();
    assert_eq!(line, "text fin masked len=5 \"Hello\"");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_opcode() -> impl Strategy<Value = Opcode> {
        prop_oneof![
            Just(Opcode::Continuation),
            Just(Opcode::Text),
            Just(Opcode::Binary),
            Just(Opcode::Close),
            Just(Opcode::Ping),
            Just(Opcode::Pong),
        ]
    }

    /// Frames a client might send, valid or not in sequence.
    fn client_frames() -> impl Strategy<Value = Vec<u8>> {
        let frame = (
            any::<bool>(),
            any_opcode(),
            proptest::collection::vec(any::<u8>(), 0..20),
        );
        proptest::collection::vec(frame, 0..8).prop_map(|frames| {
            let frames: Vec<Frame> = frames
                .into_iter()
                .map(|(fin, opcode, payload)| masked(fin, opcode, payload))
                .collect();
            wire(&frames)
        })
    }

    fn small_server() -> WsConn {
        WsConn::server(WsConfig {
            max_message_bytes: 32,
            max_frame_bytes: 16,
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_splitting_changes_nothing(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            split in any::<proptest::sample::Index>(),
        ) {
            for new in [server as NewConn, client] {
                let whole = feed(&mut new(), [bytes.as_slice()]);
                let (head, tail) = bytes.split_at(split.index(bytes.len() + 1));
                prop_assert_eq!(feed(&mut new(), [head, tail]), whole);
            }
        }

        #[test]
        fn frame_sequences_give_the_same_events_however_split(
            bytes in client_frames(),
            splits in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
        ) {
            let whole = feed(&mut small_server(), [bytes.as_slice()]);
            let mut cuts: Vec<usize> = splits.iter().map(|s| s.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts {
                chunks.push(&bytes[start..cut]);
                start = cut;
            }
            chunks.push(&bytes[start..]);
            prop_assert_eq!(feed(&mut small_server(), chunks), whole);
        }
    }
}

/// The printable-ASCII shortcut gives what reading character by character
/// gives, on both sides of the cut, and hands anything else over.
#[test]
fn the_ascii_preview_shortcut_agrees_with_the_general_path() {
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for len in [0, 1, 11, 31, 32, 33, 127, 128, 129, 300] {
        inputs.push((0..len).map(|i| b' ' + (i % 95) as u8).collect());
    }
    // A control character, a multi-byte character or invalid UTF-8 inside
    // the first 32 bytes, or just after them.
    for at in [0, 5, 31, 32, 40] {
        for odd in [&b"\n"[..], "\u{e9}".as_bytes(), &[0xff], &[0x7f]] {
            let mut bytes = vec![b'a'; 50];
            bytes.splice(at..at, odd.iter().copied());
            inputs.push(bytes);
        }
    }
    for bytes in &inputs {
        assert_eq!(preview_text(bytes), preview_chars(bytes), "{bytes:?}");
    }
    assert_eq!(preview_text(b"keepalive 1"), "keepalive 1");
}

//! Unit tests of the Mermaid renderer: escaping, selectors, layout rules.

use super::labels::{describe_call, http_first_line, participant_id};
use super::*;
use simnet_core::link::DropReason;
use simnet_core::packet::FrameId;
use simnet_core::packet::TcpFlags;
use simnet_core::socket::AppId;
use simnet_core::socket::{HostId, Preview, SocketCall, SocketId, TcpState};
use simnet_core::trace::HostInfo;
use simnet_core::trace::{Trace, TraceEvent};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

// ----- a small trace builder -----------------------------------------

const FIN: u8 = TcpFlags::FIN;
const SYN: u8 = TcpFlags::SYN;
const PSH: u8 = TcpFlags::PSH;
const ACK: u8 = TcpFlags::ACK;

/// An IPv4 + TCP packet between 10.0.0.`src` and 10.0.0.`dst`
/// (checksums are left at zero: nothing here checks them).
#[allow(clippy::too_many_arguments)]
fn tcp(
    src: u8,
    dst: u8,
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Arc<[u8]> {
    let total = 40 + payload.len();
    let mut p = vec![0x45, 0];
    p.extend((total as u16).to_be_bytes());
    p.extend([0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, src, 10, 0, 0, dst]);
    p.extend(ports.0.to_be_bytes());
    p.extend(ports.1.to_be_bytes());
    p.extend(seq.to_be_bytes());
    p.extend(ack.to_be_bytes());
    p.extend([5 << 4, flags, 0x10, 0x00, 0, 0, 0, 0]);
    p.extend(payload);
    p.into()
}

struct Builder {
    trace: Trace,
    frames: u64,
}

impl Builder {
    fn new(names: &[&str]) -> Builder {
        let mut trace = Trace::default();
        trace.topology.hosts = names
            .iter()
            .enumerate()
            .map(|(i, n)| HostInfo {
                name: n.to_string(),
                addr: Ipv4Addr::new(10, 0, 0, i as u8 + 1),
                router: false,
            })
            .collect();
        Builder { trace, frames: 0 }
    }

    fn at(&mut self, ms: u64, event: TraceEvent) -> &mut Builder {
        self.trace.push(SimTime::from_millis(ms), event);
        self
    }

    /// Host `from` sends `bytes` to host `to`; returns the frame id.
    fn send(&mut self, ms: u64, from: u32, to: u32, bytes: Arc<[u8]>) -> FrameId {
        let frame = FrameId(self.frames);
        self.frames += 1;
        self.at(
            ms,
            TraceEvent::PacketSent {
                frame,
                from: HostId(from),
                to: Some(HostId(to)),
                socket: None,
                len: bytes.len() as u32,
                bytes,
            },
        );
        frame
    }

    fn deliver(&mut self, ms: u64, frame: FrameId, to: u32) {
        self.at(
            ms,
            TraceEvent::FrameDelivered {
                frame,
                to: HostId(to),
            },
        );
    }

    fn state(&mut self, ms: u64, host: u32, ports: (u16, u16), from: TcpState, to: TcpState) {
        let addr = |h: u32| Ipv4Addr::new(10, 0, 0, h as u8 + 1);
        let other = 1 - host.min(1);
        self.at(
            ms,
            TraceEvent::TcpState {
                host: HostId(host),
                socket: SocketId(u64::from(host) * 100 + u64::from(ports.0 % 100)),
                local: SocketAddrV4::new(addr(host), ports.0),
                remote: (ports.1 != 0).then(|| SocketAddrV4::new(addr(other), ports.1)),
                from,
                to,
                reason: None,
            },
        );
    }

    fn call(&mut self, ms: u64, host: u32, socket: u64, call: SocketCall) {
        self.at(
            ms,
            TraceEvent::SocketCall {
                host: HostId(host),
                app: AppId(0),
                socket: Some(SocketId(socket)),
                call,
            },
        );
    }
}

/// A client (10.0.0.1:49152) and a server (10.0.0.2:80): handshake, a
/// lost ACK, a duplicated request read in two pieces, an active close
/// and a FIN still in flight at the end.
fn exchange() -> Trace {
    use TcpState::*;
    let c = (49152, 80);
    let s = (80, 49152);
    let mut b = Builder::new(&["client", "server"]);
    b.call(
        0,
        1,
        180,
        SocketCall::Listen {
            port: 80,
            backlog: 1,
        },
    );
    b.state(0, 1, (80, 0), Closed, Listen);
    b.call(
        0,
        0,
        52,
        SocketCall::Connect {
            remote: "10.0.0.2:80".parse().unwrap(),
            local_port: 49152,
        },
    );
    b.state(0, 0, c, Closed, SynSent);
    let f = b.send(0, 0, 1, tcp(1, 2, c, 1000, 0, SYN, b""));
    b.deliver(10, f, 1);
    b.state(10, 1, s, Listen, SynReceived);
    let f = b.send(10, 1, 0, tcp(2, 1, s, 5000, 1001, SYN | ACK, b""));
    b.deliver(20, f, 0);
    b.state(20, 0, c, SynSent, Established);
    let f = b.send(20, 0, 1, tcp(1, 2, c, 1001, 5001, ACK, b""));
    b.at(
        20,
        TraceEvent::FrameDropped {
            frame: f,
            from: HostId(0),
            to: Some(HostId(1)),
            reason: DropReason::Loss,
        },
    );
    let send = |n: usize, of: usize| SocketCall::Send {
        requested: of,
        accepted: n,
        preview: Preview::of(&b"hello"[..n]),
    };
    b.call(20, 0, 52, send(5, 5));
    b.call(20, 0, 52, send(0, 3));
    let f = b.send(20, 0, 1, tcp(1, 2, c, 1001, 5001, PSH | ACK, b"hello"));
    b.at(
        20,
        TraceEvent::FrameDuplicated {
            frame: f,
            copy: FrameId(99),
        },
    );
    b.deliver(30, f, 1);
    b.deliver(31, FrameId(99), 1);
    b.state(30, 1, s, SynReceived, Established);
    for n in [3, 2] {
        b.call(
            30,
            1,
            180,
            SocketCall::Recv {
                bytes: n,
                preview: Preview::of(&b"hel"[..n]),
            },
        );
    }
    b.call(40, 0, 52, SocketCall::Close { unread: 0 });
    b.state(40, 0, c, Established, FinWait1);
    b.state(40, 0, c, FinWait1, FinWait2);
    b.state(40, 0, c, FinWait2, TimeWait);
    b.send(40, 0, 1, tcp(1, 2, c, 1006, 5001, FIN | ACK, b""));
    b.trace
}

// ----- a line grammar ------------------------------------------------

/// Checks what Mermaid's lexer cares about: the header, participants
/// first and once, plain ids, arrows and notes between declared
/// participants, and text whose special characters are all encoded.
fn check_structure(diagram: &str) -> Result<(), String> {
    let mut lines = diagram.lines();
    if lines.next() != Some("sequenceDiagram") {
        return Err("missing header".into());
    }
    let id_ok = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut declared = BTreeSet::new();
    let mut body = false;
    for line in lines {
        let err = |e: &str| Err(format!("{e}: {line:?}"));
        let Some(stmt) = line.strip_prefix("    ") else {
            return err("not indented");
        };
        if stmt.starts_with("%% ") {
            continue;
        }
        let (head, text) = if let Some(rest) = stmt.strip_prefix("participant ") {
            if body {
                return err("late participant");
            }
            let Some((id, label)) = rest.split_once(" as ") else {
                return err("no alias");
            };
            if !id_ok(id) || !declared.insert(id.to_string()) {
                return err("bad or repeated id");
            }
            (None, label)
        } else {
            body = true;
            match stmt.split_once(": ") {
                Some((head, text)) => (Some(head), text),
                None => return err("no text"),
            }
        };
        let plain = text.replace("<br/>", " ");
        let mut rest = plain.as_str();
        while let Some(i) = rest.find('#') {
            let after = &rest[i + 1..];
            match after.find(';') {
                Some(e) if e > 0 && after[..e].chars().all(|c| c.is_ascii_alphanumeric()) => {
                    if rest[..i].contains(|c| ";<>&\"%{}$`\\".contains(c)) {
                        return err("unencoded character");
                    }
                    rest = &after[e + 1..];
                }
                _ => return err("stray #"),
            }
        }
        if rest.contains(|c: char| ";<>&\"%{}$`\\".contains(c) || c.is_control())
            || text.trim().is_empty()
        {
            return err("unencoded character or empty text");
        }
        let Some(head) = head else { continue };
        let ids: Vec<&str> = if let Some(over) = head.strip_prefix("Note over ") {
            over.split(',').collect()
        } else if let Some(id) = head.strip_prefix("Note left of ") {
            vec![id]
        } else {
            match ["-->>", "->>", "--x", "-x", "--)", "-)"]
                .iter()
                .find_map(|a| head.split_once(a))
            {
                Some((a, b)) => vec![a, b],
                None => return err("unknown statement"),
            }
        };
        if ids.iter().any(|id| !declared.contains(*id)) {
            return err("undeclared participant");
        }
    }
    Ok(())
}

fn body(diagram: &str) -> Vec<&str> {
    diagram.lines().skip(1).map(str::trim).collect()
}

// ----- escaping --------------------------------------------------------

/// Mermaid's decoding of the entity codes `escape_text` writes.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(';').expect("entity without `;`");
        out.push(match &after[..end] {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            n => char::from_u32(n.parse().expect("numeric entity")).unwrap(),
        });
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn socket_calls_read_as_in_the_text_timeline() {
    // One wording for both renderers: a call without a payload reads
    // exactly as in the text timeline, and one with a payload differs
    // only in its quotes.
    let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
    for call in [
        SocketCall::Accept { remote },
        SocketCall::Close { unread: 3 },
        SocketCall::Abort,
        SocketCall::Connect {
            remote,
            local_port: 80,
        },
    ] {
        assert_eq!(describe_call(&call), crate::text::socket_call(&call));
    }
    let send = SocketCall::Send {
        requested: 5,
        accepted: 3,
        preview: Preview::of(b"hel"),
    };
    assert_eq!(
        crate::text::socket_call(&send),
        "send 3 of 5 bytes (send buffer full) \"hel\""
    );
    assert_eq!(
        describe_call(&send),
        "send 3 of 5 bytes (send buffer full) “hel”"
    );
}

#[test]
fn escaping_encodes_every_character_mermaid_treats_specially() {
    assert_eq!(escape_text("a;b"), "a#59;b");
    assert_eq!(escape_text("#1"), "#35;1");
    assert_eq!(escape_text("<br/>"), "#lt;br/#gt;");
    assert_eq!(escape_text("a & \"b\""), "a #amp; #quot;b#quot;");
    assert_eq!(
        escape_text("%%{init: {}}%%"),
        "#37;#37;#123;init: #123;#125;#125;#37;#37;"
    );
    assert_eq!(
        escape_text("$$x$$ `y` \\"),
        "#36;#36;x#36;#36; #96;y#96; #92;"
    );
    assert_eq!(escape_text("a\nb\r\tc\u{7}d\u{2028}e"), "a b  c d e");
    assert_eq!(escape_text("→ “ok” 서버"), "→ “ok” 서버");
    assert_eq!(escape_text("GET / HTTP/1.1: x"), "GET / HTTP/1.1: x");
    assert_eq!(escape_text(""), "");
}

#[test]
fn escaping_defuses_mermaid_preprocessing_and_options() {
    // A leading wrap:/nowrap: would be taken as a Mermaid option.
    assert_eq!(escape_text("wrap: x: y"), "wrap#58; x: y");
    assert_eq!(escape_text("  NoWrap:x"), "  NoWrap#58;x");
    assert_eq!(escape_text("unwrap: x"), "unwrap: x");
    // Mermaid rewrites `style...:...#...;` before parsing: no colon may survive.
    assert_eq!(escape_text("style:#f00;"), "style#58;#35;f00#59;");
    assert_eq!(escape_text("GET /Style.css?a:b"), "GET /Style.css?a#58;b");
    assert_eq!(escape_text("classDef x:y"), "classDef x#58;y");
}

#[test]
fn escaped_text_decodes_back_to_the_original() {
    let alphabet: Vec<char> = "ab ;#<>&\"%{}$`\\:'|-→서\u{1F600}wrapstyle"
        .chars()
        .collect();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..2000 {
        let len = (state % 24) as usize;
        let text: String = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize]
            })
            .collect();
        let escaped = escape_text(&text);
        assert_eq!(unescape(&escaped), text, "{escaped}");
        assert!(
            !escaped.contains([';', '<', '>', '%', '{', '}', '"', '&', '$', '`', '\\'])
                || escaped.matches(';').count() == escaped.matches('#').count(),
            "{escaped}"
        );
    }
}

#[test]
fn participant_ids_are_plain_unique_and_never_keywords() {
    let mut taken = BTreeSet::new();
    let mut id = |name: &str, i: u32| {
        let id = participant_id(name, i, &taken);
        taken.insert(id.clone());
        id
    };
    assert_eq!(id("client", 0), "client");
    assert_eq!(id("web-1", 1), "web_1");
    assert_eq!(id("web_1", 2), "web_1_2");
    assert_eq!(id("end", 3), "h3");
    assert_eq!(id("Participant", 4), "h4");
    assert_eq!(id("1st", 5), "h5");
    assert_eq!(id("서버", 6), "h6");
    assert_eq!(id("stylesheet", 7), "h7");
    assert_eq!(id("", 8), "h8");
    assert_eq!(id("h3", 9), "h3_2");
}

#[test]
fn http_lines_are_found_cut_and_cleaned() {
    assert_eq!(
        http_first_line(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").as_deref(),
        Some("GET /x HTTP/1.1")
    );
    assert_eq!(
        http_first_line(b"HTTP/1.1 204 No Content\r\n").as_deref(),
        Some("HTTP/1.1 204 No Content")
    );
    assert_eq!(
        http_first_line(b"POST /\x00\xff HTTP/1.1").as_deref(),
        Some("POST /?? HTTP/1.1")
    );
    let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(100));
    let line = http_first_line(long.as_bytes()).unwrap();
    assert_eq!(line.chars().count(), 61);
    assert!(line.ends_with('…'));
    assert_eq!(http_first_line(b"hello"), None);
    assert_eq!(http_first_line(b"GETTING"), None);
}

// ----- selectors -------------------------------------------------------

#[test]
fn connection_selectors_parse_and_print_back() {
    for (text, host, port) in [
        ("49152", None, 49152),
        (" 80 ", None, 80),
        (":80", None, 80),
        ("client:49152", Some("client"), 49152),
        ("10.0.0.1:80", Some("10.0.0.1"), 80),
    ] {
        let s: ConnectionSelector = text.parse().unwrap();
        assert_eq!(s.host.as_deref(), host, "{text}");
        assert_eq!(s.port, port, "{text}");
        assert_eq!(s.to_string().parse::<ConnectionSelector>(), Ok(s));
    }
    for (text, problem) in [
        ("", "empty"),
        ("client:", "port is missing"),
        ("client:0", "port 0"),
        ("client:65536", "larger than 65535"),
        ("client:http", "not a number"),
        ("a b:80", "not a name"),
        ("::1:80", "not a name"),
    ] {
        let e = text.parse::<ConnectionSelector>().unwrap_err().to_string();
        assert!(e.contains(problem), "{text}: {e}");
        assert!(e.contains("expected PORT, HOST:PORT"), "{e}");
    }
}

#[test]
fn a_selector_naming_an_unknown_host_is_reported() {
    let trace = exchange();
    let topo = &trace.topology;
    assert_eq!(ConnectionSelector::on_host("client", 1).check(topo), Ok(()));
    assert_eq!(
        ConnectionSelector::on_host("10.0.0.2", 1).check(topo),
        Ok(())
    );
    assert_eq!(ConnectionSelector::port(1).check(topo), Ok(()));
    let client = "10.0.0.1:49152".parse().unwrap();
    assert!(ConnectionSelector::on_host("client", 49152).matches(topo, client));
    assert!(ConnectionSelector::on_host("10.0.0.1", 49152).matches(topo, client));
    assert!(ConnectionSelector::port(49152).matches(topo, client));
    assert!(!ConnectionSelector::on_host("server", 49152).matches(topo, client));
    assert!(!ConnectionSelector::on_host("client", 80).matches(topo, client));
    assert!(!ConnectionSelector::on_host("nobody", 49152).matches(topo, client));
    let e = ConnectionSelector::on_host("clinet", 1)
        .check(topo)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no host `clinet` in this run (hosts: client, server)"
    );
    assert!(
        ConnectionSelector::on_host("10.9.9.9", 1)
            .check(topo)
            .is_err()
    );
}

// ----- the diagram -----------------------------------------------------

#[test]
fn an_exchange_is_drawn_with_fates_states_and_calls() {
    let d = render_mermaid(&exchange(), &MermaidOptions::default());
    check_structure(&d).unwrap();
    assert_eq!(
        body(&d),
        [
            "participant client as client<br/>10.0.0.1",
            "participant server as server<br/>10.0.0.2",
            "Note left of client: t = 0s",
            "Note over server: listen(:80, backlog=1)",
            "Note over client: connect(10.0.0.2:80) from :49152",
            "Note over client: CLOSED → SYN-SENT",
            "client->>server: SYN seq=0 win=4096",
            "Note left of client: t = 10ms",
            "Note over server: LISTEN → SYN-RECEIVED",
            "server->>client: SYN, ACK seq=0 ack=1 win=4096",
            "Note left of client: t = 20ms",
            "Note over client: SYN-SENT → ESTABLISHED",
            "client-xserver: ACK seq=1 ack=1 (dropped: loss)",
            "Note over client: send 5 bytes “hello”",
            "client->>server: PSH, ACK seq=1 ack=1 len=5",
            "client-->>server: duplicate: PSH, ACK seq=1 ack=1 len=5",
            "Note left of client: t = 30ms",
            "Note over server: SYN-RECEIVED → ESTABLISHED",
            "Note over server: recv 5 bytes (2 reads)",
            "Note left of client: t = 40ms",
            "Note over client: close()",
            "Note over client: ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT",
            "client-)server: FIN, ACK seq=6 ack=1 (still in flight when the trace ends)",
        ]
    );
}

#[test]
fn windows_show_when_they_change_and_while_they_are_shut() {
    let mut b = Builder::new(&["a", "b"]);
    for (ms, window) in [(0, 4096u16), (1, 4096), (2, 0), (3, 0), (4, 4096)] {
        let mut bytes = tcp(1, 2, (1, 2), 0, 0, ACK, b"").to_vec();
        bytes[34..36].copy_from_slice(&window.to_be_bytes());
        b.send(ms, 0, 1, bytes.into());
    }
    let d = render_mermaid(&b.trace, &MermaidOptions::default());
    let labels: Vec<&str> = d
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a-)b: "))
        .collect();
    let windows: Vec<Option<&str>> = labels
        .iter()
        .map(|l| l.split(' ').find(|w| w.starts_with("win=")))
        .collect();
    assert_eq!(
        windows,
        [
            Some("win=4096"),
            None,
            Some("win=0"),
            Some("win=0"),
            Some("win=4096")
        ]
    );
}

#[test]
fn the_diagram_can_be_limited_to_a_connection() {
    use TcpState::*;
    // Two clients of one server; only the second one's connection.
    let mut b = Builder::new(&["a", "server", "b"]);
    let f = b.send(0, 0, 1, tcp(1, 2, (49152, 80), 0, 0, SYN, b""));
    b.deliver(1, f, 1);
    let f = b.send(0, 2, 1, tcp(3, 2, (49153, 80), 0, 0, SYN, b""));
    b.deliver(1, f, 1);
    b.at(
        0,
        TraceEvent::TcpState {
            host: HostId(2),
            socket: SocketId(1),
            local: "10.0.0.3:49153".parse().unwrap(),
            remote: Some("10.0.0.2:80".parse().unwrap()),
            from: Closed,
            to: SynSent,
            reason: None,
        },
    );
    b.call(0, 2, 1, SocketCall::Close { unread: 0 });
    b.call(0, 0, 1, SocketCall::Close { unread: 0 });
    let trace = b.trace;

    let full = render_mermaid(&trace, &MermaidOptions::default());
    check_structure(&full).unwrap();
    // Two connections: the ports say which arrow is which.
    assert!(
        full.contains("a->>server: :49152 → :80 SYN seq=0"),
        "{full}"
    );
    assert!(
        full.contains("b->>server: :49153 → :80 SYN seq=0"),
        "{full}"
    );

    for selector in ["49153", "b:49153", "10.0.0.3:49153"] {
        let options = MermaidOptions {
            connection: Some(selector.parse().unwrap()),
            ..MermaidOptions::default()
        };
        let d = render_mermaid(&trace, &options);
        check_structure(&d).unwrap();
        assert_eq!(
            body(&d),
            [
                format!("%% simnet diagram limited to connection {selector}").as_str(),
                "participant server as server<br/>10.0.0.2",
                "participant b as b<br/>10.0.0.3",
                "Note left of server: t = 0s",
                "b->>server: SYN seq=0 win=4096",
                "Note over b: CLOSED → SYN-SENT",
                "Note over b: close()",
            ],
            "{selector}"
        );
    }
    // The port on the other host selects nothing.
    let options = MermaidOptions {
        connection: Some("server:49153".parse().unwrap()),
        ..MermaidOptions::default()
    };
    let d = render_mermaid(&trace, &options);
    check_structure(&d).unwrap();
    assert!(
        d.contains("nothing to show (connection server:49153)"),
        "{d}"
    );
}

#[test]
fn the_diagram_can_be_limited_to_a_time_window() {
    let trace = exchange();
    let options = MermaidOptions {
        from: Some(SimTime::from_millis(20)),
        until: Some(SimTime::from_millis(20)),
        ..MermaidOptions::default()
    };
    let d = render_mermaid(&trace, &options);
    check_structure(&d).unwrap();
    let lines = body(&d);
    assert_eq!(
        lines[0],
        "%% simnet diagram limited to from t = 20ms, until t = 20ms"
    );
    assert_eq!(lines[3], "Note left of client: t = 20ms");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("Note left")).count(),
        1
    );
    // Numbers stay relative to the SYN outside the window; fates decided
    // after the window still show.
    assert!(lines.contains(&"client-xserver: ACK seq=1 ack=1 (dropped: loss)"));
    assert!(lines.contains(&"client-->>server: duplicate: PSH, ACK seq=1 ack=1 len=5"));
}

#[test]
fn the_diagram_can_be_cut_after_a_number_of_events() {
    let options = MermaidOptions {
        max_events: Some(4),
        ..MermaidOptions::default()
    };
    let d = render_mermaid(&exchange(), &options);
    check_structure(&d).unwrap();
    let lines = body(&d);
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "client->>server: SYN seq=0 win=4096",
            "Note over client,server: diagram cut after 4 events (max_events), \
             the trace goes on from t = 10ms to t = 40ms",
        ]
    );
}

#[test]
fn any_trace_gives_a_well_formed_diagram() {
    // Nothing at all.
    assert_eq!(
        render_mermaid(&Trace::default(), &MermaidOptions::default()),
        "sequenceDiagram\n"
    );
    // Hosts but no events.
    let d = render_mermaid(&Builder::new(&["a", "b"]).trace, &MermaidOptions::default());
    check_structure(&d).unwrap();
    assert!(d.ends_with("Note over a,b: no packets, states or socket calls in this trace\n"));
    // Garbage bytes, a frame with no route, events about unknown hosts
    // and frames, a run that ended.
    let mut b = Builder::new(&["a"]);
    b.send(0, 0, 0, Arc::from(&b"\x45garbage"[..]));
    b.at(
        1,
        TraceEvent::PacketSent {
            frame: FrameId(7),
            from: HostId(0),
            to: None,
            socket: None,
            bytes: tcp(1, 9, (1, 2), 0, 0, SYN, b""),
            len: 40,
        },
    );
    b.at(
        1,
        TraceEvent::FrameDropped {
            frame: FrameId(7),
            from: HostId(0),
            to: None,
            reason: DropReason::NoRoute,
        },
    );
    b.deliver(2, FrameId(1234), 5);
    b.at(
        2,
        TraceEvent::DataLost {
            host: HostId(0),
            socket: SocketId(1),
            cause: simnet_core::trace::LossCause::ResetByPeer,
            unread: Some((100, 5)),
            unacked: Some((7, 3)),
        },
    );
    b.call(3, 42, 1, SocketCall::RecvEof);
    b.at(
        4,
        TraceEvent::RunEnded {
            reason: simnet_core::trace::EndReason::Idle,
        },
    );
    let d = render_mermaid(&b.trace, &MermaidOptions::default());
    check_structure(&d).unwrap();
    assert!(d.contains("a-)a: undecodable frame (8 bytes)"), "{d}");
    assert!(
        d.contains("Note over a: to 10.0.0.9, SYN seq=0 win=4096 (dropped: no-route)"),
        "{d}"
    );
    assert!(
        d.contains(
            "Note over a: data lost (reset by peer): 5 received bytes never read, \
             3 written bytes never acknowledged"
        ),
        "{d}"
    );
    assert!(d.contains("participant h42 as host #35;42"), "{d}");
    assert!(
        d.contains("Note over a,h42: run ended: idle: no events left"),
        "{d}"
    );
}

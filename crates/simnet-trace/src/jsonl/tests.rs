//! JSON Lines: every event kind's keys, and the rendering of whole runs.

use super::*;
use simnet_core::apps::{TcpClient, TcpEcho};
use simnet_core::link::DropReason;
use simnet_core::socket::{LinkId, Preview, SocketId};
use simnet_core::trace::{AppEvent, AppInfo, HostInfo, LinkInfo};
use simnet_core::{
    FaultAction, LinkParams, PacketFilter, SimDuration, TargetedFault, TcpState, WorldBuilder,
};
use std::sync::Arc;

/// A client sends "hello" to an echo server over a 10 ms link; `drops`
/// of the client's data segments are lost (so they are retransmitted).
fn echo_run(drops: u32) -> Trace {
    let mut b = WorldBuilder::new(7);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    b.app(client, "tcp-client", || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5)
    });
    if drops > 0 {
        b.fault(TargetedFault {
            filter: PacketFilter {
                from: Some(client),
                payload: Some(true),
                ..PacketFilter::default()
            },
            nth: 1,
            count: drops,
            action: FaultAction::Drop,
        });
    }
    let mut world = b.build().unwrap();
    world.run();
    world.take_trace()
}

/// Every line parsed, with the line number in the panic message.
fn parse(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", i + 1))
        })
        .collect()
}

/// The keys of a line's top-level object, in the order written. (Parsing
/// into a `Value` would sort them, so this scans the text: a key is a
/// string at depth 1 followed by `:`.)
fn top_level_keys(line: &str) -> Vec<String> {
    let bytes = line.as_bytes();
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            b'"' => {
                let start = i;
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && bytes.get(i + 1) == Some(&b':') {
                    keys.push(serde_json::from_str(&line[start..=i]).unwrap());
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

fn events<'a>(lines: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> {
    lines.iter().filter(move |l| l["event"] == name)
}

#[test]
fn every_line_is_json_starting_with_version_time_and_event() {
    let trace = echo_run(0);
    let jsonl = render_jsonl(&trace);
    assert!(jsonl.ends_with('\n'));
    let lines = parse(&jsonl);
    assert_eq!(
        lines.len(),
        trace.records.len() + 1,
        "header + one per event"
    );
    assert_eq!(lines[0]["event"], "run_start");
    let mut last_ns = 0;
    for (text, line) in jsonl.lines().zip(&lines) {
        assert_eq!(top_level_keys(text)[..4], ["version", "t_ns", "t", "event"]);
        assert_eq!(line["version"], SCHEMA_VERSION);
        let ns = line["t_ns"].as_u64().unwrap();
        assert!(ns >= last_ns, "time never goes back");
        last_ns = ns;
        assert_eq!(line["t"], SimTime::from_nanos(ns).to_string());
    }
}

#[test]
fn the_same_run_renders_to_the_same_bytes() {
    assert_eq!(render_jsonl(&echo_run(1)), render_jsonl(&echo_run(1)));
}

#[test]
fn the_header_names_hosts_links_and_apps() {
    let lines = parse(&render_jsonl(&echo_run(0)));
    let header = &lines[0];
    assert_eq!(header["seed"], 7);
    assert_eq!(header["hosts"][1]["name"], "server");
    assert_eq!(header["hosts"][1]["address"], "10.0.0.2");
    assert_eq!(header["links"][0]["a"], "client");
    assert_eq!(header["links"][0]["a_to_b"]["latency_ns"], 10_000_000);
    assert_eq!(header["links"][0]["b_to_a"]["loss_ppm"], 0);
    assert_eq!(header["apps"][0]["kind"], "tcp-echo");
    assert_eq!(header["apps"][0]["name"], "tcp-echo");
    assert_eq!(header["apps"][1]["host"], "client");
}

/// Two applications of one kind on one host are told apart by name: `app`
/// is the name (as given, or made for a replica), `app_kind` the kind.
#[test]
fn apps_are_named_by_their_scenario_name_with_their_kind_beside() {
    let mut b = WorldBuilder::new(7);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(client, server, LinkParams::default());
    let echo = b.app(server, "tcp-echo", || TcpEcho::new(80));
    b.name_app(echo, "echo");
    for k in 1..=2 {
        let id = b.app(client, "tcp-client", || {
            TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5)
        });
        b.name_app(id, &format!("pinger#{k}"));
    }
    let mut world = b.build().unwrap();
    world.run();
    let lines = parse(&render_jsonl(world.trace()));
    let apps: Vec<(&str, &str)> = lines[0]["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        apps,
        [
            ("echo", "tcp-echo"),
            ("pinger#1", "tcp-client"),
            ("pinger#2", "tcp-client")
        ]
    );
    let mut seen = std::collections::BTreeSet::new();
    for l in &lines[1..] {
        if l["event"] == "socket_call" || l["event"] == "app" {
            let id = l["app_id"].as_u64().unwrap() as usize;
            assert_eq!(l["app"], apps[id].0, "{l}");
            assert_eq!(l["app_kind"], apps[id].1, "{l}");
            seen.insert(l["app"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn packets_carry_relative_and_absolute_sequence_numbers() {
    let lines = parse(&render_jsonl(&echo_run(0)));
    let packets: Vec<&Value> = events(&lines, "packet").collect();
    let syn = packets[0];
    assert_eq!(syn["from"], "client");
    assert_eq!(syn["to"], "server");
    assert_eq!(syn["protocol"], "tcp");
    assert_eq!(syn["flags"], "S");
    assert_eq!(syn["flag_names"], json!(["SYN"]));
    assert_eq!(syn["seq"], 0);
    assert_eq!(syn["ack"], Value::Null);
    assert_eq!(syn["ack_abs"], Value::Null);
    assert_eq!(syn["options"]["mss"], 1460);
    assert_eq!(syn["options"]["sack_permitted"], true);
    let isn = syn["seq_abs"].as_u64().unwrap();

    let syn_ack = packets[1];
    assert_eq!(syn_ack["flag_names"], json!(["SYN", "ACK"]));
    assert_eq!(syn_ack["ack"], 1);
    assert_eq!(syn_ack["ack_abs"], (isn + 1) % (1 << 32));

    let data = packets
        .iter()
        .find(|p| p["from"] == "client" && p["payload_len"] == 5)
        .unwrap();
    assert_eq!(data["flags"], "P.");
    assert_eq!(data["seq"], 1);
    assert_eq!(data["ack"], 1);
    assert_eq!(data["ip_len"], 45, "20 (IP) + 20 (TCP) + 5");
    // Window scaling is on (both SYNs announced it): the field is halved.
    let raw = data["window_raw"].as_u64().unwrap();
    assert_eq!(data["window"].as_u64().unwrap(), raw << 1);
}

#[test]
fn frame_events_name_the_packets_ends() {
    let lines = parse(&render_jsonl(&echo_run(1)));
    let dropped = events(&lines, "frame_dropped").next().unwrap();
    assert_eq!(dropped["from"], "client");
    assert_eq!(dropped["to"], "server");
    assert_eq!(dropped["reason"], "fault");
    let fault = events(&lines, "fault").next().unwrap();
    assert_eq!(fault["frame"], dropped["frame"]);
    assert_eq!(fault["fault_index"], 0);
    let delivered = events(&lines, "frame_delivered").next().unwrap();
    assert_eq!(delivered["from"], "client");
    assert_eq!(delivered["to"], "server");
}

// The jq one-liners of the book, done in Rust on the parsed lines.

/// `select(.event == "packet" and .protocol == "tcp") | .flags`, counted.
#[test]
fn jq_packets_by_flags() {
    let trace = echo_run(0);
    let lines = parse(&render_jsonl(&trace));
    let mut by_flags: BTreeMap<String, usize> = BTreeMap::new();
    for p in events(&lines, "packet").filter(|p| p["protocol"] == "tcp") {
        *by_flags
            .entry(p["flags"].as_str().unwrap().into())
            .or_default() += 1;
    }
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, info) in trace.packets() {
        *expected
            .entry(info.tcp().unwrap().flags.to_string())
            .or_default() += 1;
    }
    assert_eq!(by_flags, expected);
    assert_eq!(by_flags["S"], 1);
    assert_eq!(by_flags["S."], 1);
    assert_eq!(by_flags["F."], 2, "one FIN each way");
}

/// `select(.event == "tcp_state" and .host == "client") | "\(.from) -> \(.to)"`.
#[test]
fn jq_state_changes_of_one_host() {
    let lines = parse(&render_jsonl(&echo_run(0)));
    let client: Vec<String> = events(&lines, "tcp_state")
        .filter(|l| l["host"] == "client")
        .map(|l| {
            format!(
                "{} -> {}",
                l["from"].as_str().unwrap(),
                l["to"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        client,
        [
            "CLOSED -> SYN-SENT",
            "SYN-SENT -> ESTABLISHED",
            "ESTABLISHED -> FIN-WAIT-1",
            "FIN-WAIT-1 -> FIN-WAIT-2",
            "FIN-WAIT-2 -> TIME-WAIT",
            "TIME-WAIT -> CLOSED",
        ]
    );
}

/// Sum of `.bytes` over `recv`/`recvfrom` calls, grouped by host.
#[test]
fn jq_bytes_read_per_host() {
    let lines = parse(&render_jsonl(&echo_run(2)));
    let mut read: BTreeMap<String, u64> = BTreeMap::new();
    for l in
        events(&lines, "socket_call").filter(|l| l["call"] == "recv" || l["call"] == "recvfrom")
    {
        *read.entry(l["host"].as_str().unwrap().into()).or_default() +=
            l["bytes"].as_u64().unwrap();
    }
    // "hello" there and back, once each despite the retransmissions.
    assert_eq!(
        read,
        BTreeMap::from([("client".into(), 5), ("server".into(), 5)])
    );
}

/// `frame_dropped` lines grouped by `.reason`.
#[test]
fn jq_drops_by_reason() {
    let trace = echo_run(2);
    let lines = parse(&render_jsonl(&trace));
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for l in events(&lines, "frame_dropped") {
        *by_reason
            .entry(l["reason"].as_str().unwrap().into())
            .or_default() += 1;
    }
    assert_eq!(by_reason, BTreeMap::from([("fault".into(), 2)]));
}

/// Data segments grouped by `[.src, .src_port, .seq_abs]`; groups of
/// more than one are retransmissions.
#[test]
fn jq_retransmitted_segments() {
    let lines = parse(&render_jsonl(&echo_run(2)));
    let mut copies: BTreeMap<(String, u64, u64), usize> = BTreeMap::new();
    for p in events(&lines, "packet").filter(|p| p["payload_len"].as_u64() > Some(0)) {
        let key = (
            p["src"].as_str().unwrap().to_string(),
            p["src_port"].as_u64().unwrap(),
            p["seq_abs"].as_u64().unwrap(),
        );
        *copies.entry(key).or_default() += 1;
    }
    let retransmitted: Vec<usize> = copies.into_values().filter(|n| *n > 1).collect();
    assert_eq!(retransmitted, [3], "the request, sent three times");
}

/// One event of every kind, with ids and bytes a real run never makes,
/// and the exact key list the book documents for each.
#[test]
fn every_event_has_exactly_its_documented_keys() {
    let host = |name: &str, last: u8| HostInfo {
        name: name.into(),
        addr: [10, 0, 0, last].into(),
        router: false,
    };
    let mut trace = Trace {
        topology: Topology {
            seed: 3,
            hosts: vec![host("a", 1), host("b", 2)],
            links: vec![LinkInfo {
                a: HostId(0),
                b: HostId(1),
                a_to_b: LinkParams::default(),
                b_to_a: LinkParams::default(),
            }],
            apps: vec![AppInfo {
                host: HostId(0),
                kind: "tcp-client".into(),
                name: "tcp-client".into(),
            }],
        },
        ..Trace::default()
    };
    let t = SimTime::from_millis(1);
    let addr: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
    let call = |call| TraceEvent::SocketCall {
        host: HostId(0),
        app: AppId(0),
        socket: Some(SocketId(1)),
        call,
    };
    let events = [
        // Not IPv4 at all, from a host the topology does not know.
        TraceEvent::PacketSent {
            frame: FrameId(0),
            from: HostId(9),
            to: None,
            socket: None,
            bytes: Arc::from(&[1u8, 2, 3][..]),
            len: 3,
        },
        TraceEvent::FrameQueued {
            frame: FrameId(0),
            link: LinkId(0),
            queue_bytes: 1500,
            departs: t,
        },
        TraceEvent::FrameDropped {
            frame: FrameId(0),
            from: HostId(0),
            to: Some(HostId(1)),
            reason: DropReason::QueueFull,
        },
        TraceEvent::FrameDelayed {
            frame: FrameId(0),
            by: SimDuration::from_millis(3),
            cause: DelayCause::Reorder,
        },
        TraceEvent::FrameDuplicated {
            frame: FrameId(0),
            copy: FrameId(1),
        },
        TraceEvent::FrameCorrupted {
            frame: FrameId(1),
            bit: 7,
        },
        TraceEvent::FrameDelivered {
            frame: FrameId(1),
            to: HostId(1),
        },
        // A frame never sent: its sender is unknown.
        TraceEvent::FrameDiscarded {
            frame: FrameId(42),
            host: HostId(1),
            reason: DiscardReason::BadChecksum,
        },
        TraceEvent::TcpState {
            host: HostId(0),
            socket: SocketId(1),
            local: "10.0.0.1:49152".parse().unwrap(),
            remote: Some(addr),
            from: TcpState::SynSent,
            to: TcpState::Closed,
            reason: Some(CloseReason::Reset),
        },
        TraceEvent::DataLost {
            host: HostId(0),
            socket: SocketId(1),
            cause: LossCause::Abort,
            unread: None,
            unacked: Some((10, 5)),
        },
        call(SocketCall::Listen {
            port: 80,
            backlog: 4,
        }),
        call(SocketCall::Accept { remote: addr }),
        call(SocketCall::Connect {
            remote: addr,
            local_port: 49152,
        }),
        call(SocketCall::Send {
            requested: 6,
            accepted: 3,
            preview: Preview::of(b"a\"\r\n\xff"),
        }),
        call(SocketCall::Recv {
            bytes: 2,
            preview: Preview::of(b"ok"),
        }),
        call(SocketCall::RecvEof),
        call(SocketCall::Shutdown),
        call(SocketCall::Close { unread: 0 }),
        call(SocketCall::Abort),
        call(SocketCall::Bind { port: 7 }),
        call(SocketCall::SendTo {
            dst: addr,
            bytes: 1,
            preview: Preview::of(b"x"),
        }),
        call(SocketCall::RecvFrom {
            src: addr,
            bytes: 1,
            preview: Preview::of(b"x"),
        }),
        call(SocketCall::Failed {
            call: "connect",
            error: SocketError::PortsExhausted(2),
        }),
        // An application that does not exist in the topology.
        TraceEvent::App {
            host: HostId(0),
            app: AppId(5),
            event: Box::new(
                AppEvent::new("http.response", "HTTP/1.1 200 OK")
                    .with("status", 200u16)
                    .with("latency", SimDuration::from_millis(20))
                    .with("keep_alive", true)
                    .with("reason", "OK"),
            ),
        },
        TraceEvent::Action {
            description: "link a-b down".into(),
        },
        TraceEvent::FaultMatched {
            frame: FrameId(0),
            fault: 0,
            description: "drop (match #1 of fault 1)".into(),
        },
        TraceEvent::RunEnded {
            reason: EndReason::TimeLimit(t),
        },
    ];
    for event in events {
        trace.push(t, event);
    }
    let jsonl = render_jsonl(&trace);
    let lines = parse(&jsonl);

    const COMMON: [&str; 4] = ["version", "t_ns", "t", "event"];
    let frame = ["frame", "from", "to"];
    let call = ["host", "app", "app_kind", "app_id", "socket", "call"];
    #[rustfmt::skip]
    let expected: Vec<(&str, Vec<&str>)> = vec![
        ("run_start", vec!["seed", "hosts", "links", "apps"]),
        ("packet", vec!["frame", "from", "to", "socket", "protocol", "bytes"]),
        ("frame_queued", [&frame[..], &["link", "queue_bytes", "departs_ns"]].concat()),
        ("frame_dropped", [&frame[..], &["reason"]].concat()),
        ("frame_delayed", [&frame[..], &["by_ns", "cause"]].concat()),
        ("frame_duplicated", [&frame[..], &["copy"]].concat()),
        ("frame_corrupted", [&frame[..], &["bit"]].concat()),
        ("frame_delivered", frame.to_vec()),
        ("frame_discarded", [&frame[..], &["reason"]].concat()),
        ("tcp_state", vec!["host", "socket", "local", "remote", "from", "to", "reason"]),
        ("data_lost", vec!["host", "socket", "cause", "unread_offset", "unread_bytes",
                           "unacked_offset", "unacked_bytes"]),
        ("socket_call", [&call[..], &["port", "backlog"]].concat()),
        ("socket_call", [&call[..], &["remote"]].concat()),
        ("socket_call", [&call[..], &["remote", "local_port"]].concat()),
        ("socket_call", [&call[..], &["requested", "accepted", "preview"]].concat()),
        ("socket_call", [&call[..], &["bytes", "preview"]].concat()),
        ("socket_call", call.to_vec()),
        ("socket_call", call.to_vec()),
        ("socket_call", [&call[..], &["unread"]].concat()),
        ("socket_call", call.to_vec()),
        ("socket_call", [&call[..], &["port"]].concat()),
        ("socket_call", [&call[..], &["dst", "bytes", "preview"]].concat()),
        ("socket_call", [&call[..], &["src", "bytes", "preview"]].concat()),
        ("socket_call", [&call[..], &["failed_call", "error", "message"]].concat()),
        ("app", vec!["host", "app", "app_kind", "app_id", "socket", "kind", "summary", "fields"]),
        ("action", vec!["description"]),
        ("fault", [&frame[..], &["fault_index", "description"]].concat()),
        ("run_end", vec!["reason", "message"]),
    ];
    assert_eq!(lines.len(), expected.len());
    for (text, (event, keys)) in jsonl.lines().zip(&expected) {
        let want: Vec<&str> = COMMON.iter().chain(keys).copied().collect();
        assert_eq!(top_level_keys(text), want, "{text}");
        assert!(text.contains(&format!("\"event\":\"{event}\"")), "{text}");
    }

    // Values a reader relies on, for the unusual cases above.
    assert_eq!(lines[1]["from"], "?", "unknown host");
    assert_eq!(lines[1]["protocol"], "invalid");
    assert_eq!(lines[1]["bytes"], 3);
    assert_eq!(
        lines[6]["from"], "?",
        "the copy inherits its original's ends"
    );
    assert_eq!(lines[8]["from"], Value::Null, "a frame never sent");
    assert_eq!(lines[8]["reason"], "bad-checksum");
    assert_eq!(lines[9]["reason"], "reset");
    assert_eq!(lines[10]["unread_bytes"], Value::Null);
    assert_eq!(lines[10]["unacked_offset"], 10);
    assert_eq!(lines[14]["preview"], r#"a\"\r\n\xff"#);
    assert_eq!(lines[23]["error"], "ports-exhausted");
    let app = &lines[24];
    assert_eq!(app["app"], "?", "unknown app");
    assert_eq!(
        app["fields"],
        json!({"status": 200, "latency_ns": 20_000_000, "keep_alive": true, "reason": "OK"})
    );
    assert_eq!(lines[27]["reason"], "time-limit");
}

#[test]
fn udp_and_icmp_packets_have_their_own_keys() {
    // IPv4 header (20 bytes) + 8-byte UDP header + 2 bytes of payload,
    // then the same with ICMP port unreachable.
    let ip = |protocol: u8, total: u8| {
        vec![
            0x45, 0, 0, total, 0, 0, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]
    };
    let mut udp = ip(17, 30);
    udp.extend_from_slice(&[0x1f, 0x90, 0, 53, 0, 10, 0, 0, b'h', b'i']);
    let mut icmp = ip(1, 28);
    icmp.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
    let mut trace = Trace::default();
    for (i, bytes) in [udp, icmp].into_iter().enumerate() {
        trace.push(
            SimTime::ZERO,
            TraceEvent::PacketSent {
                frame: FrameId(i as u64),
                from: HostId(0),
                to: Some(HostId(1)),
                socket: None,
                len: bytes.len() as u32,
                bytes: Arc::from(bytes),
            },
        );
    }
    let jsonl = render_jsonl(&trace);
    let lines = parse(&jsonl);
    let ip_keys = [
        "frame",
        "from",
        "to",
        "socket",
        "protocol",
        "ip_protocol",
        "src",
        "dst",
        "ip_len",
        "ip_id",
        "ttl",
    ];
    let texts: Vec<&str> = jsonl.lines().collect();
    assert_eq!(
        top_level_keys(texts[1])[4..],
        [&ip_keys[..], &["src_port", "dst_port", "payload_len"]].concat()
    );
    assert_eq!(lines[1]["src_port"], 8080);
    assert_eq!(lines[1]["payload_len"], 2);
    assert_eq!(
        top_level_keys(texts[2])[4..],
        [&ip_keys[..], &["icmp_type", "icmp_code"]].concat()
    );
    assert_eq!(lines[2]["protocol"], "icmp");
    assert_eq!(lines[2]["icmp_code"], 3);
}

#[test]
fn tcp_packets_have_their_documented_keys() {
    let jsonl = render_jsonl(&echo_run(0));
    let syn = jsonl
        .lines()
        .find(|l| l.contains("\"event\":\"packet\""))
        .unwrap();
    let keys: Vec<String> = top_level_keys(syn);
    assert_eq!(
        keys[4..],
        [
            "frame",
            "from",
            "to",
            "socket",
            "protocol",
            "ip_protocol",
            "src",
            "dst",
            "ip_len",
            "ip_id",
            "ttl",
            "src_port",
            "dst_port",
            "flags",
            "flag_names",
            "seq",
            "ack",
            "seq_abs",
            "ack_abs",
            "window",
            "window_raw",
            "payload_len",
            "options",
        ]
    );
    let line: Value = serde_json::from_str(syn).unwrap();
    let option_keys: Vec<&String> = line["options"].as_object().unwrap().keys().collect();
    assert_eq!(
        option_keys,
        [
            "mss",
            "sack",
            "sack_abs",
            "sack_permitted",
            "timestamp",
            "window_scale"
        ]
    );
}

//! Wireshark's own reader, tshark, opens the capture of every scenario.
//!
//! For every scenario under `scenarios/`, both capture formats
//! ([`render_pcap`] and [`render_pcapng`]) are written to
//! `target/tmp/tshark/` and read back by tshark, which must find:
//!
//! 1. exactly one packet per `PacketSent` event;
//! 2. the same headers simnet decoded (addresses, ports, absolute and
//!    relative sequence numbers, flags, window, lengths, MSS, window scale):
//!    Wireshark and simnet agree on every packet;
//! 3. no expert info of severity *error* — no malformed packet and, with
//!    checksum validation switched on for IP, TCP and UDP (Wireshark leaves
//!    it off by default), no bad checksum;
//! 4. in pcapng only: each packet on its sender's interface, and the comment
//!    of every dropped packet saying `dropped: <reason>`.
//!
//! Two more tests damage a capture on purpose and check that tshark
//! complains, so a silent tshark is known to mean a clean capture.
//!
//! One checks the DNS capture with tshark's DNS dissector: every query
//! and answer, the NXDOMAIN's SOA and the resend of a lost query.
//!
//! Two check the WebSocket captures with tshark's WebSocket dissector: the
//! upgrade is recognised and the frames are decoded (client frames
//! unmasked) exactly as the trace reports them. One (`tls`) checks the
//! `wss` capture with its TLS dissector: hellos, then only records.
//!
//! tshark is required: without it these tests fail with instructions,
//! unless `SIMNET_SKIP_TSHARK=1` is set.

use simnet::render::relative::SeqTracker;
use simnet::render::{render_pcap, render_pcapng};
use simnet::trace::{HostInfo, Topology};
use simnet::{Capture, FrameId, HostId, PacketInfo, SimTime, Trace, TraceEvent, Transport};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

mod capture_at;
mod tls;

/// Switches on the checksum checks Wireshark leaves off by default, so a
/// wrong checksum becomes an expert error. (ICMP checksums are always checked.)
const CHECKSUM_PREFS: [&str; 6] = [
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
];

/// The fields compared with simnet's own decoding, in tshark's `-e` order.
const FIELDS: [&str; 20] = [
    "frame.number",
    "ip.src",
    "ip.dst",
    "ip.len",
    "ip.proto",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.seq",
    "tcp.ack",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "icmp.type",
];

/// Whether tshark can be run. Panics with instructions when it cannot,
/// unless `SIMNET_SKIP_TSHARK=1`, in which case the caller skips its test.
fn tshark_available() -> bool {
    match Command::new("tshark").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        _ if std::env::var("SIMNET_SKIP_TSHARK").as_deref() == Ok("1") => {
            eprintln!("tshark is not installed: test skipped (SIMNET_SKIP_TSHARK=1)");
            false
        }
        _ => panic!(
            "these tests need tshark (Wireshark's command-line reader) to check simnet's \
             captures.\nInstall it with `apt-get install -y tshark` (Debian/Ubuntu) or \
             `brew install wireshark` (macOS),\nor set SIMNET_SKIP_TSHARK=1 to skip them."
        ),
    }
}

/// Runs `tshark -r file -n ARGS` (`-n`: no name resolution) and returns its
/// standard output. tshark failing (unreadable file, unknown preference) is a
/// test failure, reported with its error message.
fn tshark(file: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .arg("-n")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run tshark: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`tshark -r {} -n {}` failed ({}):\n{}",
            file.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// tshark's error-level expert infos for a file, with checksums checked:
/// `None` when there are none, else tshark's report.
///
/// `-z expert,error -q` prints only the table of expert infos of severity
/// error (a malformed packet is one, a bad checksum another) and nothing at
/// all when there are none.
///
/// Thrift's heuristic dissector is off: it claims any TCP payload whose
/// first bytes look like a Thrift message, and then reports the rest as a
/// bad varint. A bulk transfer's payload is random bytes, and one segment
/// of `topology/shared-bottleneck` (seed 1) starts like that; no scenario
/// speaks Thrift.
fn expert_errors(file: &Path) -> Result<Option<String>, String> {
    let mut args = CHECKSUM_PREFS.to_vec();
    args.extend(["--disable-heuristic", "thrift_tcp"]);
    args.extend(["-q", "-z", "expert,error"]);
    let report = tshark(file, &args)?;
    let clean = !report.contains("Errors") && !report.contains("Malformed");
    Ok((!clean).then_some(report))
}

/// Where captures are written; kept after the run for a human to open.
fn capture_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tshark");
    std::fs::create_dir_all(&dir).expect("the capture directory can be created");
    dir.join(name)
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Loads and runs a scenario with its own seed, keeping every byte.
fn run(path: &Path) -> Trace {
    run_with(path, Capture::Full)
}

/// Loads and runs a scenario with its own seed.
fn run_with(path: &Path, capture: Capture) -> Trace {
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let source = std::fs::read_to_string(path).expect("the scenario file is readable");
    let scenario = simnet::scenario::parse(&name, &source, &simnet::registry())
        .unwrap_or_else(|e| panic!("{name} does not load:\n{e}"));
    simnet::run_scenario_with(&scenario, None, None, capture).trace
}

/// A sent packet as the test needs it.
struct Sent {
    frame: FrameId,
    from: HostId,
    info: Option<PacketInfo>,
}

fn sent_packets(trace: &Trace) -> Vec<Sent> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketSent { frame, from, .. } => Some(Sent {
                frame: *frame,
                from: *from,
                info: r.event.packet_info(),
            }),
            _ => None,
        })
        .collect()
}

/// The connections' directions that have sent a SYN so far, as
/// (source, destination).
type SynSeen = BTreeSet<(SocketAddrV4, SocketAddrV4)>;

/// What tshark should print for each of [`FIELDS`], from simnet's decoding
/// (packets are fed in capture order): `None` where the field is not
/// compared (e.g. tshark prints `0` for the relative ack of a segment without
/// ACK, where simnet has no value).
fn expected_fields(
    number: usize,
    info: &PacketInfo,
    seqs: &mut SeqTracker,
    syn_seen: &mut SynSeen,
) -> Vec<Option<String>> {
    let mut row: BTreeMap<&str, Option<String>> =
        FIELDS.iter().map(|f| (*f, Some(String::new()))).collect();
    let mut set = |field: &'static str, value: Option<String>| {
        row.insert(field, value);
    };
    set("frame.number", Some(number.to_string()));
    set("ip.src", Some(info.src.to_string()));
    set("ip.dst", Some(info.dst.to_string()));
    set("ip.len", Some(info.ip_len.to_string()));
    match &info.transport {
        Transport::Tcp(tcp) => {
            let rel = seqs.observe(info.src, info.dst, tcp);
            // Relative numbers are compared only where both tools count from
            // a SYN. For a direction first seen mid-stream, Wireshark numbers
            // the first byte 1 and simnet 0 (e.g. the RST refusing a
            // connection has raw seq 0: simnet shows seq=0, Wireshark Seq=1);
            // for an ack into a direction never seen, Wireshark shows 1 and
            // simnet the raw number. Both are conventions, not errors.
            let flow = (
                SocketAddrV4::new(info.src, tcp.src_port),
                SocketAddrV4::new(info.dst, tcp.dst_port),
            );
            if tcp.flags.syn() {
                syn_seen.insert(flow);
            }
            let seq_known = syn_seen.contains(&flow);
            let ack_known = syn_seen.contains(&(flow.1, flow.0));
            set("ip.proto", Some("6".into()));
            set("tcp.srcport", Some(tcp.src_port.to_string()));
            set("tcp.dstport", Some(tcp.dst_port.to_string()));
            set("tcp.seq_raw", Some(tcp.seq.to_string()));
            set("tcp.ack_raw", Some(tcp.ack.to_string()));
            set("tcp.seq", seq_known.then(|| rel.seq.to_string()));
            set(
                "tcp.ack",
                rel.ack.filter(|_| ack_known).map(|a| a.to_string()),
            );
            set("tcp.flags", Some(format!("0x{:04x}", tcp.flags.0)));
            set("tcp.window_size_value", Some(tcp.window.to_string()));
            set("tcp.len", Some(tcp.payload_len.to_string()));
            let o = &tcp.options;
            set("tcp.options.mss_val", Some(opt(o.mss)));
            set("tcp.options.wscale.shift", Some(opt(o.window_scale)));
        }
        Transport::Udp(udp) => {
            set("ip.proto", Some("17".into()));
            set("udp.srcport", Some(udp.src_port.to_string()));
            set("udp.dstport", Some(udp.dst_port.to_string()));
            set("udp.length", Some((udp.payload_len + 8).to_string()));
        }
        Transport::Icmp { icmp_type, .. } => {
            set("ip.proto", Some("1".into()));
            set("icmp.type", Some(icmp_type.to_string()));
        }
        Transport::Other { protocol } => set("ip.proto", Some(protocol.to_string())),
    }
    FIELDS.iter().map(|f| row[f].clone()).collect()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Runs every check on one capture file; returns the problems found.
fn check_capture(
    trace: &Trace,
    sent: &[Sent],
    file: &Path,
    pcapng: bool,
) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let shown = file.display();

    // 1 and 2: one line per packet, fields as simnet decoded them. The first
    // occurrence of each field is taken (`-E occurrence=f`), so the headers
    // quoted inside an ICMP error do not count.
    let mut args = vec!["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"];
    for field in FIELDS {
        args.extend(["-e", field]);
    }
    if pcapng {
        args.extend(["-e", "frame.interface_name", "-e", "frame.comment"]);
    }
    let output = tshark(file, &args)?;
    let lines: Vec<&str> = output.lines().collect();
    if lines.len() != sent.len() {
        problems.push(format!(
            "{shown}: tshark read {} packets, the trace sent {}",
            lines.len(),
            sent.len()
        ));
    }
    let mut seqs = SeqTracker::new();
    let mut syn_seen = SynSeen::new();
    let mut comments: BTreeMap<FrameId, String> = BTreeMap::new();
    for (i, (line, packet)) in lines.iter().zip(sent).enumerate() {
        let got: Vec<&str> = line.split('\t').collect();
        let Some(info) = &packet.info else {
            problems.push(format!("{shown}: packet {} is not IPv4", i + 1));
            continue;
        };
        let expected = expected_fields(i + 1, info, &mut seqs, &mut syn_seen);
        for (field, (want, have)) in FIELDS.iter().zip(expected.iter().zip(&got)) {
            if let Some(want) = want
                && want != have
            {
                problems.push(format!(
                    "{shown}: packet {}: {field} is {have:?} for tshark, {want:?} for simnet",
                    i + 1
                ));
            }
        }
        if pcapng {
            let interface = got.get(FIELDS.len()).copied().unwrap_or("");
            let sender = trace.topology.host_name(packet.from);
            if interface != sender {
                problems.push(format!(
                    "{shown}: packet {} is on interface {interface:?}, sent by {sender}",
                    i + 1
                ));
            }
            let comment = got.get(FIELDS.len() + 1).copied().unwrap_or("");
            comments.insert(packet.frame, comment.to_string());
        }
    }

    // 4: every dropped packet says so (drops of a link's duplicates are
    // noted as `copy #n dropped: ...`, which contains the same words).
    if pcapng {
        for r in &trace.records {
            if let TraceEvent::FrameDropped { frame, reason, .. } = &r.event
                && let Some(comment) = comments.get(frame)
                && !comment.contains(&format!("dropped: {reason}"))
            {
                problems.push(format!(
                    "{shown}: frame {frame} was dropped ({reason}) but its comment is {comment:?}"
                ));
            }
        }
    }

    // 3: nothing tshark considers an error.
    if let Some(report) = expert_errors(file)? {
        problems.push(format!("{shown}: tshark reports errors:\n{report}"));
    }
    Ok(problems)
}

/// Runs a scenario, writes both captures, checks them.
fn check_scenario(path: &Path) -> Vec<String> {
    check_scenario_with(path, Capture::Full)
}

/// [`check_scenario`] for a run keeping `capture` of each packet.
fn check_scenario_with(path: &Path, capture: Capture) -> Vec<String> {
    let trace = run_with(path, capture);
    let sent = sent_packets(&trace);
    let mut stem = path
        .strip_prefix(scenarios_dir())
        .unwrap_or(path)
        .with_extension("")
        .display()
        .to_string()
        .replace(['/', '\\'], "-");
    if capture == Capture::Headers {
        stem.push_str("-headers");
    }
    let mut problems = Vec::new();
    for (ext, bytes, pcapng) in [
        ("pcap", render_pcap(&trace), false),
        ("pcapng", render_pcapng(&trace), true),
    ] {
        let file = capture_path(&format!("{stem}.{ext}"));
        std::fs::write(&file, bytes).expect("the capture can be written");
        match check_capture(&trace, &sent, &file, pcapng) {
            Ok(p) => problems.extend(p),
            Err(e) => problems.push(e),
        }
    }
    problems
}

#[test]
fn tshark_reads_every_scenario_capture_cleanly() {
    if !tshark_available() {
        return;
    }
    let files = simnet::quick_scenario_files(&scenarios_dir()).expect("scenarios/ is readable");
    assert!(!files.is_empty(), "no scenarios found");
    // One thread per scenario: each spends most of its time waiting for
    // tshark. Traces hold `Rc`s, so each thread runs its own scenario.
    let problems: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|path| s.spawn(move || check_scenario(path)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a checking thread panicked"))
            .collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A capture of a run that kept only headers (`Capture::Headers`) is as
/// clean for tshark as a full one: the same headers and lengths decoded, no
/// error; and tshark sees each packet cut where its payload starts.
#[test]
fn tshark_reads_a_headers_only_capture_cleanly() {
    if !tshark_available() {
        return;
    }
    let dir = scenarios_dir();
    let picks = [
        "http/keep-alive-vs-close",
        "websocket/close-handshake",
        "udp/datagrams",
    ];
    for pick in picks {
        let path = dir.join(format!("{pick}.toml"));
        let problems = check_scenario_with(&path, Capture::Headers);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        let trace = run_with(&path, Capture::Headers);
        let expected: Vec<String> = trace
            .records
            .iter()
            .filter_map(|r| match &r.event {
                TraceEvent::PacketSent { bytes, len, .. } => {
                    Some(format!("{len}\t{}", bytes.len()))
                }
                _ => None,
            })
            .collect();
        let file = capture_path(&format!("{}-headers.pcap", pick.replace('/', "-")));
        let lengths = tshark(
            &file,
            &["-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"],
        )
        .expect("tshark reads the capture");
        let lengths: Vec<&str> = lengths.lines().collect();
        assert_eq!(lengths, expected, "{pick}: frame and captured lengths");
        assert!(
            expected
                .iter()
                .any(|l| l.split('\t').next() != l.split('\t').nth(1)),
            "{pick}: no packet had a payload to leave out"
        );
    }
}

/// The IPv4 header checksum (RFC 791) of a header whose checksum field is zero.
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A one-packet trace from `10.0.0.1` to `10.0.0.2`.
fn one_packet(bytes: Vec<u8>) -> Trace {
    let host = |name: &str, last: u8| HostInfo {
        name: name.into(),
        addr: [10, 0, 0, last].into(),
        router: false,
    };
    let mut trace = Trace {
        topology: Topology {
            hosts: vec![host("client", 1), host("server", 2)],
            ..Topology::default()
        },
        ..Trace::default()
    };
    trace.push(
        SimTime::ZERO,
        TraceEvent::PacketSent {
            frame: FrameId(0),
            from: HostId(0),
            to: Some(HostId(1)),
            socket: None,
            len: bytes.len() as u32,
            bytes: Arc::from(bytes),
        },
    );
    trace
}

#[test]
fn a_bad_tcp_checksum_is_reported() {
    if !tshark_available() {
        return;
    }
    let trace = run(&scenarios_dir().join("tcp/three-way-handshake.toml"));
    let mut syn = trace
        .records
        .iter()
        .find_map(|r| match &r.event {
            TraceEvent::PacketSent { bytes, .. } => Some(bytes.to_vec()),
            _ => None,
        })
        .expect("the handshake sends a SYN");
    let file = capture_path("self-check-good-checksum.pcap");
    std::fs::write(&file, render_pcap(&one_packet(syn.clone()))).unwrap();
    assert_eq!(expert_errors(&file), Ok(None), "the SYN as sent is clean");

    // Change the window (TCP header bytes 14-15) without fixing the checksum.
    syn[20 + 15] ^= 0x01;
    let file = capture_path("self-check-bad-checksum.pcap");
    std::fs::write(&file, render_pcap(&one_packet(syn))).unwrap();
    let report = expert_errors(&file).unwrap();
    assert!(
        report
            .as_deref()
            .is_some_and(|r| r.contains("Bad checksum")),
        "tshark should report a bad checksum: {report:?}"
    );
}

#[test]
fn a_malformed_packet_is_reported() {
    if !tshark_available() {
        return;
    }
    // A valid IPv4 header announcing TCP, followed by 10 bytes: half a TCP
    // header.
    let mut packet = vec![
        0x45, 0, 0, 30, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let checksum = ipv4_checksum(&packet);
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
    packet.extend_from_slice(&[0; 10]);
    let file = capture_path("self-check-malformed.pcap");
    std::fs::write(&file, render_pcap(&one_packet(packet))).unwrap();
    let report = expert_errors(&file).unwrap();
    assert!(
        report.as_deref().is_some_and(|r| r.contains("Malformed")),
        "tshark should report a malformed packet: {report:?}"
    );
}

/// A WebSocket frame as tshark or the trace sees it: sender address,
/// opcode (as the RFC numbers it), FIN, MASK, payload length.
type WsFrame = (String, u8, bool, bool, u64);

/// RFC 6455's number for an opcode name of simnet's traces.
fn opcode_number(name: &str) -> u8 {
    match name {
        "continuation" => 0,
        "text" => 1,
        "binary" => 2,
        "close" => 8,
        "ping" => 9,
        "pong" => 10,
        other => panic!("unknown opcode name {other:?} in the trace"),
    }
}

/// Every frame the applications reported sending (`ws.frame-sent`), per
/// sender address, in the order each sender sent them.
fn ws_frames_in_trace(trace: &Trace) -> BTreeMap<String, Vec<WsFrame>> {
    use simnet::FieldValue;
    let mut frames: BTreeMap<String, Vec<WsFrame>> = BTreeMap::new();
    for r in &trace.records {
        let TraceEvent::App { host, event, .. } = &r.event else {
            continue;
        };
        if event.kind != "ws.frame-sent" {
            continue;
        }
        let text = |k: &str| match event.field(k) {
            Some(FieldValue::Text(t)) => t.clone(),
            other => panic!("ws.frame-sent field {k} is {other:?}"),
        };
        let flag = |k: &str| matches!(event.field(k), Some(FieldValue::Bool(true)));
        let len = match event.field("len") {
            Some(FieldValue::Int(n)) => u64::try_from(*n).expect("a length is not negative"),
            other => panic!("ws.frame-sent field len is {other:?}"),
        };
        let src = trace.topology.hosts[host.0 as usize].addr.to_string();
        frames.entry(src.clone()).or_default().push((
            src,
            opcode_number(&text("opcode")),
            flag("fin"),
            flag("masked"),
            len,
        ));
    }
    frames
}

/// The fields read from tshark's WebSocket dissector, in `-e` order.
const WS_FIELDS: [&str; 9] = [
    "ip.src",
    "websocket.fin",
    "websocket.opcode",
    "websocket.mask",
    "websocket.payload_length",
    "websocket.payload_length_ext_16",
    "websocket.masking_key",
    "websocket.payload.text",
    "websocket.payload.close.status_code",
];

/// One frame as tshark decoded it: the [`WsFrame`] and, for a client's
/// frame, the masking key; the unmasked text; a Close's status code.
struct DissectedFrame {
    frame: WsFrame,
    masking_key: String,
    text: String,
    close_code: String,
}

/// Every WebSocket frame tshark finds in a capture, in capture order.
/// `decode_as` lists extra ports to dissect as HTTP (tshark looks for the
/// upgrade on port 80 only by default). A packet that carries several
/// frames gives one line with each field's values joined by `;`.
fn ws_frames_in_capture(file: &Path, decode_as: &[u16]) -> Result<Vec<DissectedFrame>, String> {
    let rules: Vec<String> = decode_as
        .iter()
        .map(|p| format!("tcp.port=={p},http"))
        .collect();
    let mut args = vec![
        "-Y",
        "websocket",
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "aggregator=;",
    ];
    for rule in &rules {
        args.extend(["-d", rule.as_str()]);
    }
    for field in WS_FIELDS {
        args.extend(["-e", field]);
    }
    let output = tshark(file, &args)?;
    let mut frames = Vec::new();
    for line in output.lines() {
        let cells: Vec<&str> = line.split('\t').collect();
        let column = |i: usize| -> Vec<&str> {
            cells
                .get(i)
                .copied()
                .unwrap_or("")
                .split(';')
                .filter(|s| !s.is_empty())
                .collect()
        };
        let fins = column(1);
        let opcodes = column(2);
        let masks = column(3);
        let lens = column(4);
        let ext16 = column(5);
        let keys = column(6);
        let texts = column(7);
        let codes = column(8);
        let (mut ext16, mut keys, mut texts, mut codes) =
            (ext16.iter(), keys.iter(), texts.iter(), codes.iter());
        for (i, opcode) in opcodes.iter().enumerate() {
            let flag = |v: Option<&&str>| matches!(v.copied(), Some("1" | "True"));
            let opcode: u8 = opcode
                .parse()
                .map_err(|e| format!("opcode {opcode:?}: {e}"))?;
            let masked = flag(masks.get(i));
            let mut len: u64 = lens
                .get(i)
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| format!("no payload length in {line:?}"))?;
            if len == 126 {
                len = ext16
                    .next()
                    .and_then(|l| l.parse().ok())
                    .ok_or_else(|| format!("no 16-bit length in {line:?}"))?;
            }
            let take = |it: &mut std::slice::Iter<&str>| it.next().map(|s| s.to_string());
            frames.push(DissectedFrame {
                frame: (cells[0].to_string(), opcode, flag(fins.get(i)), masked, len),
                masking_key: if masked { take(&mut keys) } else { None }.unwrap_or_default(),
                text: if opcode == 1 { take(&mut texts) } else { None }.unwrap_or_default(),
                close_code: if opcode == 8 && len >= 2 {
                    take(&mut codes)
                } else {
                    None
                }
                .unwrap_or_default(),
            });
        }
    }
    Ok(frames)
}

/// The tshark frames per sender, in each sender's order.
fn by_sender(frames: &[DissectedFrame]) -> BTreeMap<String, Vec<WsFrame>> {
    let mut out: BTreeMap<String, Vec<WsFrame>> = BTreeMap::new();
    for f in frames {
        out.entry(f.frame.0.clone())
            .or_default()
            .push(f.frame.clone());
    }
    out
}

/// Upgrade and echo, as Wireshark sees it: the `GET` with `Upgrade:
/// websocket` and the `101` are recognised as a WebSocket handshake (with a
/// `Sec-WebSocket-Accept` that really is the key's hash), every frame is
/// decoded as the trace reported it, the client's frames are masked, each
/// with its own key, and tshark's unmasking gives back the very texts the
/// scenario sends, which are not on the wire in clear.
#[test]
fn tshark_dissects_the_websocket_upgrade_and_unmasks_the_frames() {
    if !tshark_available() {
        return;
    }
    let path = scenarios_dir().join("websocket/upgrade-and-echo.toml");
    let trace = run(&path);
    let file = capture_path("websocket-dissection-upgrade-and-echo.pcap");
    std::fs::write(&file, render_pcap(&trace)).expect("the capture can be written");

    // The texts the client sends, from the scenario itself.
    let source = std::fs::read_to_string(&path).unwrap();
    let scenario: toml::Table = toml::from_str(&source).unwrap();
    let sends: Vec<String> = scenario["app"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"].as_str() == Some("ws-client"))
        .flat_map(|a| a["send"].as_array().unwrap().iter())
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(sends, ["hello", "world"]);
    let addr = |name: &str| {
        trace
            .topology
            .hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap()
            .addr
            .to_string()
    };
    let (client, server) = (addr("client"), addr("server"));

    // The handshake: HTTP, recognised as an upgrade to WebSocket.
    let handshake = tshark(
        &file,
        &[
            "-Y",
            "http",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "ip.src",
            "-e",
            "http.request.method",
            "-e",
            "http.response.code",
            "-e",
            "http.upgrade",
            "-e",
            "http.sec_websocket_key",
            "-e",
            "http.sec_websocket_accept",
            "-e",
            "http.sec_websocket_version",
        ],
    )
    .unwrap();
    let lines: Vec<Vec<&str>> = handshake.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "one request and one response:\n{handshake}");
    let (request, response) = (&lines[0], &lines[1]);
    assert_eq!(
        (request[0], request[1], request[3], request[6]),
        (client.as_str(), "GET", "websocket", "13"),
        "{handshake}"
    );
    assert_eq!(
        (response[0], response[2], response[3]),
        (server.as_str(), "101", "websocket"),
        "{handshake}"
    );
    assert_eq!(
        response[5],
        simnet_ws::proto::handshake::accept_key(request[4]),
        "Sec-WebSocket-Accept is the hash of the request's key"
    );

    // The frames: as many as the trace sent, with the same headers.
    let frames = ws_frames_in_capture(&file, &[]).unwrap();
    assert_eq!(by_sender(&frames), ws_frames_in_trace(&trace));
    assert_eq!(frames.len(), 6, "two echoes and the two Close frames");
    for f in &frames {
        let from_client = f.frame.0 == client;
        assert_eq!(
            f.frame.3, from_client,
            "only the client masks: {:?}",
            f.frame
        );
        assert_eq!(f.masking_key.len(), if from_client { 8 } else { 0 });
    }
    let keys: BTreeSet<&str> = frames
        .iter()
        .filter(|f| f.frame.3)
        .map(|f| f.masking_key.as_str())
        .collect();
    assert_eq!(keys.len(), 3, "a fresh masking key for each client frame");

    // Unmasked by tshark: each text the client sent, and its echo.
    let texts = |from: &str| -> Vec<String> {
        frames
            .iter()
            .filter(|f| f.frame.0 == from && f.frame.1 == 1)
            .map(|f| f.text.clone())
            .collect()
    };
    assert_eq!(texts(&client), sends);
    assert_eq!(texts(&server), sends);
    let codes: Vec<&str> = frames
        .iter()
        .filter(|f| f.frame.1 == 8)
        .map(|f| f.close_code.as_str())
        .collect();
    assert_eq!(codes, ["1000", "1000"], "a normal closure each way");

    // On the wire the client's texts are masked: not there in clear.
    let payloads = tshark(
        &file,
        &[
            "-Y",
            &format!("ip.src=={client} && tcp.len > 0"),
            "-T",
            "fields",
            "-e",
            "tcp.payload",
        ],
    )
    .unwrap();
    for text in &sends {
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(
            !payloads.contains(&hex),
            "{text:?} travels in clear from the client"
        );
    }
}

/// Every WebSocket scenario's capture: tshark finds exactly the frames the
/// trace reports sending, with the same opcode, FIN, MASK and length
/// (fragments and interleaved control frames, Close with 1009, STOMP
/// frames, the Socket.IO-style upgrade included).
#[test]
fn tshark_finds_every_websocket_frame_the_trace_sent() {
    if !tshark_available() {
        return;
    }
    let dir = scenarios_dir().join("websocket");
    let files = simnet::quick_scenario_files(&dir).expect("scenarios/websocket is readable");
    assert!(files.len() >= 9, "the nine WebSocket scenarios");
    let mut problems = Vec::new();
    for path in &files {
        let trace = run(path);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let file = capture_path(&format!("websocket-frames-{name}.pcap"));
        std::fs::write(&file, render_pcap(&trace)).expect("the capture can be written");
        // transport-comparison's WebSocket server listens on port 81.
        let frames = match ws_frames_in_capture(&file, &[81]) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let expected = ws_frames_in_trace(&trace);
        if expected.is_empty() {
            problems.push(format!("{name}: the trace sent no WebSocket frame"));
        }
        let got = by_sender(&frames);
        if got != expected {
            problems.push(format!(
                "{name}: tshark found\n{got:?}\nthe trace sent\n{expected:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// tshark's DNS dissector reads the DNS scenario's capture as the trace
/// tells it: each query and answer with its id, name, code, address and
/// TTLs, the NXDOMAIN with its SOA's MINIMUM (the negative TTL), and the
/// lost query's resend with the same id.
#[test]
fn tshark_dissects_the_dns_queries_and_answers() {
    if !tshark_available() {
        return;
    }
    let path = scenarios_dir().join("dns/cache-and-ttl.toml");
    let trace = run(&path);
    let file = capture_path("dns-dissection-cache-and-ttl.pcap");
    std::fs::write(&file, render_pcap(&trace)).expect("the capture can be written");
    let out = tshark(
        &file,
        &[
            "-Y",
            "dns",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "dns.flags.response",
            "-e",
            "dns.flags.rcode",
            "-e",
            "dns.qry.name",
            "-e",
            "dns.a",
            "-e",
            "dns.resp.ttl",
            "-e",
            "dns.soa.minimum_ttl",
        ],
    )
    .unwrap();
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows,
        [
            "0||api.example|||",
            "1|0|api.example|10.0.0.2|5|",
            "0||api.example|||",
            "1|0|api.example|10.0.0.2|5|",
            "0||missing.example|||",
            "1|3|missing.example||5|5",
            // The lost query (captured as sent), then its resend.
            "0||www.example|||",
            "0||www.example|||",
            "1|0|www.example|10.0.0.3|30|",
        ],
        "{out}"
    );
    // The resend carries the id of the query it repeats.
    let ids = tshark(&file, &["-Y", "dns", "-T", "fields", "-e", "dns.id"]).unwrap();
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids[6], ids[7]);
    assert_eq!(ids[7], ids[8]);
    assert_ne!(ids[0], ids[2], "a new query has a new id");
}

/// Writes a run's key log (its `tls.keylog` events, as `--keylog` does)
/// and returns its path and how many lines it holds.
fn write_keylog(trace: &Trace, name: &str) -> (PathBuf, u64) {
    let path = capture_path(name);
    let file = std::fs::File::create(&path).expect("the key log can be written");
    let mut writer = simnet::keylog::KeyLogWriter::new(std::io::BufWriter::new(file));
    trace.replay(&mut writer);
    let lines = writer.finish().expect("the key log can be written");
    (path, lines)
}

/// With the run's key log, tshark decrypts the HTTPS scenario's capture,
/// TLS 1.3 and TLS 1.2 alike, and finds the request line and the status
/// line the applications wrote; without it, it finds no HTTP at all.
#[test]
fn tshark_decrypts_https_with_the_key_log() {
    if !tshark_available() {
        return;
    }
    let trace = run(&scenarios_dir().join("tls/https-request.toml"));
    let file = capture_path("tls-https-request.pcap");
    std::fs::write(&file, render_pcap(&trace)).expect("the capture can be written");
    let (keylog, lines) = write_keylog(&trace, "tls-https-request.keys");
    // TLS 1.3: client and server handshake and traffic secrets (4, or 5
    // with the exporter's); TLS 1.2: one CLIENT_RANDOM line.
    assert!(lines >= 5, "{lines} key log lines");
    let keylog_pref = format!("tls.keylog_file:{}", keylog.display());
    let fields = [
        "-o",
        keylog_pref.as_str(),
        "-Y",
        "http",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "tcp.srcport",
        "-e",
        "tls.record.version",
        "-e",
        "http.request.line",
        "-e",
        "http.request.method",
        "-e",
        "http.request.uri",
        "-e",
        "http.response.code",
    ];
    let out = tshark(&file, &fields).unwrap();
    let rows: Vec<&str> = out.lines().collect();
    let requests = rows.iter().filter(|r| r.contains("|GET|/|")).count();
    let responses = rows.iter().filter(|r| r.ends_with("|200")).count();
    assert_eq!((requests, responses), (2, 2), "{out}");
    assert!(out.contains("Host: server13"), "{out}");
    assert!(out.contains("Host: server12"), "{out}");

    // Without the secrets, the same capture shows TLS and no HTTP.
    let blind = tshark(&file, &["-Y", "http"]).unwrap();
    assert!(blind.trim().is_empty(), "{blind}");
    let tls = tshark(&file, &["-Y", "tls.handshake.type == 1"]).unwrap();
    assert_eq!(tls.lines().count(), 2, "two ClientHellos:\n{tls}");
    assert_eq!(expert_errors(&file), Ok(None));
}

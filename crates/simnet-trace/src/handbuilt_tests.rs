//! Traces written by hand for the cases no shipped scenario produces
//! (crossing SYNs, a stale SYN after a connection closed, a TIME-WAIT cut
//! short by a RST), checked in every renderer that shows them: the text
//! timeline, JSON Lines, the summary and Mermaid.
//!
//! Each test writes the trace event by event, so the numbers each
//! renderer must print can be stated exactly.

use crate::mermaid::{MermaidOptions, render_mermaid};
use crate::summary::render_summary;
use crate::text::{TextOptions, render_text};
use crate::{JsonlWriter, TextWriter, render_jsonl};
use simnet_core::packet::{FrameId, TcpFlags};
use simnet_core::socket::{CloseReason, HostId, SocketId, TcpState};
use simnet_core::trace::{HostInfo, Trace, TraceEvent, TraceSink};
use simnet_core::{SimTime, TcpState::*};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

const A: u32 = 0;
const B: u32 = 1;

fn addr(host: u32, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, host as u8 + 1), port)
}

/// An IPv4 + TCP packet from `host`:`ports.0` to the other host's
/// `ports.1` (checksums left at zero: nothing here checks them).
fn tcp(host: u32, ports: (u16, u16), seq: u32, ack: u32, flags: &str, payload: usize) -> Arc<[u8]> {
    let total = 40 + payload;
    let (src, dst) = (addr(host, 0), addr(1 - host, 0));
    let mut p = vec![0x45, 0];
    p.extend((total as u16).to_be_bytes());
    p.extend([0, 1, 0, 0, 64, 6, 0, 0]);
    p.extend(src.ip().octets());
    p.extend(dst.ip().octets());
    p.extend(ports.0.to_be_bytes());
    p.extend(ports.1.to_be_bytes());
    p.extend(seq.to_be_bytes());
    p.extend(ack.to_be_bytes());
    p.extend([5 << 4, TcpFlags::parse(flags).expect("flags").0, 0x10, 0x00]);
    p.extend([0, 0, 0, 0]);
    p.extend(std::iter::repeat_n(b'x', payload));
    p.into()
}

/// A trace between host `a` (10.0.0.1) and host `b` (10.0.0.2).
struct Build {
    trace: Trace,
    frames: u64,
}

impl Build {
    fn new() -> Build {
        let mut trace = Trace::default();
        trace.topology.hosts = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, n)| HostInfo {
                name: n.to_string(),
                addr: *addr(i as u32, 0).ip(),
                router: false,
            })
            .collect();
        Build { trace, frames: 0 }
    }

    fn at(&mut self, ms: u64, event: TraceEvent) {
        self.trace.push(SimTime::from_millis(ms), event);
    }

    /// `host` sends a segment from its port `ports.0` to the other's `ports.1`.
    #[allow(clippy::too_many_arguments)]
    fn seg(
        &mut self,
        ms: u64,
        host: u32,
        ports: (u16, u16),
        seq: u32,
        ack: u32,
        flags: &str,
        payload: usize,
    ) -> FrameId {
        let bytes = tcp(host, ports, seq, ack, flags, payload);
        let frame = FrameId(self.frames);
        self.frames += 1;
        self.at(
            ms,
            TraceEvent::PacketSent {
                frame,
                from: HostId(host),
                to: Some(HostId(1 - host)),
                socket: None,
                len: bytes.len() as u32,
                bytes,
            },
        );
        frame
    }

    /// Socket `socket` of `host`, on `ports.0` and connected to the other
    /// host's `ports.1`, goes from `from` to `to`.
    #[allow(clippy::too_many_arguments)]
    fn state(
        &mut self,
        ms: u64,
        host: u32,
        socket: u64,
        ports: (u16, u16),
        (from, to): (TcpState, TcpState),
        reason: Option<CloseReason>,
    ) {
        self.at(
            ms,
            TraceEvent::TcpState {
                host: HostId(host),
                socket: SocketId(socket),
                local: addr(host, ports.0),
                remote: Some(addr(1 - host, ports.1)),
                from,
                to,
                reason,
            },
        );
    }
}

/// Every output of a trace, each also streamed record by record into its
/// writer, which must give the same bytes.
struct Outputs {
    text: String,
    jsonl: Vec<serde_json::Value>,
    summary: String,
    mermaid: String,
}

fn outputs(trace: &Trace) -> Outputs {
    let text = render_text(trace, &TextOptions::default());
    let jsonl = render_jsonl(trace);
    let mut tw = TextWriter::new(Vec::new(), &trace.topology, TextOptions::default());
    let mut jw = JsonlWriter::new(Vec::new(), &trace.topology);
    let mut summarizer = crate::summary::Summarizer::new();
    for r in &trace.records {
        tw.record(&trace.topology, r);
        jw.record(&trace.topology, r);
        summarizer.record(&trace.topology, r);
    }
    assert_eq!(crate::written_text(tw.finish()), text);
    assert_eq!(crate::written_text(jw.finish()), jsonl);
    let summary = render_summary(trace);
    assert_eq!(summarizer.finish().render(&trace.topology), summary);
    Outputs {
        text,
        jsonl: jsonl
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect(),
        summary,
        mermaid: render_mermaid(trace, &MermaidOptions::default()),
    }
}

/// The lines of `text` that contain `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

// ----- TIME-WAIT cut short by a RST ---------------------------------

#[test]
fn a_time_wait_ended_by_a_rst_says_it_was_cut_short() {
    let mut b = Build::new();
    let ports = (49152, 80);
    b.state(0, A, 1, ports, (Established, FinWait1), None);
    b.state(10, A, 1, ports, (FinWait1, FinWait2), None);
    b.state(10, A, 1, ports, (FinWait2, TimeWait), None);
    // A stray RST from the peer kills the TIME-WAIT socket 5 ms later.
    b.seg(15, B, (80, 49152), 2000, 0, "R", 0);
    b.state(
        15,
        A,
        1,
        ports,
        (TimeWait, Closed),
        Some(CloseReason::Reset),
    );
    // Another socket's TIME-WAIT runs its course.
    b.state(20, A, 2, (49153, 80), (FinWait2, TimeWait), None);
    b.state(10_020, A, 2, (49153, 80), (TimeWait, Closed), None);
    let out = outputs(&b.trace);

    let ended = lines_with(&out.text, "TIME-WAIT -> CLOSED");
    assert_eq!(ended.len(), 2, "{}", out.text);
    assert!(
        ended[0].ends_with(
            ":49152 TIME-WAIT -> CLOSED  (TIME-WAIT cut short by an RST: RFC 1337's \
             TIME-WAIT assassination; smoltcp honours the RST, as Linux does by default)"
        ),
        "{}",
        ended[0]
    );
    assert!(!ended[0].contains("TIME-WAIT over"), "{}", ended[0]);
    assert!(
        ended[1].ends_with(
            ":49153 TIME-WAIT -> CLOSED  (TIME-WAIT over: smoltcp holds it 10 s; Linux 60 s)"
        ),
        "{}",
        ended[1]
    );

    // JSON Lines keeps the reason, so a consumer can tell the two apart.
    let reasons: Vec<&serde_json::Value> = out
        .jsonl
        .iter()
        .filter(|l| l["event"] == "tcp_state" && l["from"] == "TIME-WAIT")
        .map(|l| &l["reason"])
        .collect();
    assert_eq!(
        reasons,
        [&serde_json::json!("reset"), &serde_json::Value::Null]
    );
    // Neither socket is left in TIME-WAIT.
    assert!(
        out.summary
            .lines()
            .any(|l| l.trim_start().starts_with("a    TIME-WAIT") && l.ends_with(" 0")),
        "{}",
        out.summary
    );

    let notes = lines_with(&out.mermaid, "TIME-WAIT → CLOSED");
    assert_eq!(
        notes,
        [
            "    Note over a: TIME-WAIT → CLOSED (TIME-WAIT cut short by an RST after 5ms)",
            "    Note over a: TIME-WAIT → CLOSED (after 10s in TIME-WAIT)",
        ],
        "{}",
        out.mermaid
    );
}

// ----- simultaneous open: crossing SYNs -------------------------------

/// Both ends connect at once from a chosen port: a's SYN leaves at 1 ms,
/// b's at 2 ms, before a's arrives; each answers the other's SYN with a
/// SYN-ACK, then acknowledges the other's SYN-ACK, then a sends 10 bytes.
fn simultaneous_open() -> Build {
    let mut b = Build::new();
    let (pa, pb) = ((40000, 5000), (5000, 40000));
    b.state(1, A, 1, pa, (Closed, SynSent), None);
    b.seg(1, A, pa, 1000, 0, "S", 0);
    b.state(2, B, 1, pb, (Closed, SynSent), None);
    b.seg(2, B, pb, 7000, 0, "S", 0);
    b.state(6, B, 1, pb, (SynSent, SynReceived), None);
    b.seg(6, B, pb, 7000, 1001, "S.", 0);
    b.state(7, A, 1, pa, (SynSent, SynReceived), None);
    b.seg(7, A, pa, 1000, 7001, "S.", 0);
    b.state(11, A, 1, pa, (SynReceived, Established), None);
    b.seg(11, A, pa, 1001, 7001, ".", 0);
    b.state(12, B, 1, pb, (SynReceived, Established), None);
    b.seg(12, B, pb, 7001, 1001, ".", 0);
    b.seg(13, A, pa, 1001, 7001, "P.", 10);
    b.seg(18, B, pb, 7001, 1011, ".", 0);
    b
}

#[test]
fn crossing_syns_count_from_both_isns_in_every_output() {
    let out = outputs(&simultaneous_open().trace);
    // Every segment relative to its own direction's SYN, every ACK to the
    // other's: the SYN-ACKs acknowledge 1, not a raw number.
    let expected = [
        ("S", 0, None),
        ("S", 0, None),
        ("S.", 0, Some(1)),
        ("S.", 0, Some(1)),
        (".", 1, Some(1)),
        (".", 1, Some(1)),
        ("P.", 1, Some(1)),
        (".", 1, Some(11)),
    ];
    let packets: Vec<(&str, u64, Option<u64>)> = out
        .jsonl
        .iter()
        .filter(|l| l["event"] == "packet")
        .map(|l| {
            (
                l["flags"].as_str().unwrap(),
                l["seq"].as_u64().unwrap(),
                l["ack"].as_u64(),
            )
        })
        .collect();
    assert_eq!(packets, expected);
    let text: Vec<String> = lines_with(&out.text, " →  ")
        .iter()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields[5..fields.len() - 2].join(" ")
        })
        .collect();
    assert_eq!(
        text,
        [
            "S seq=0",
            "S seq=0",
            "S. seq=0 ack=1",
            "S. seq=0 ack=1",
            ". seq=1 ack=1",
            ". seq=1 ack=1",
            "P. seq=1 ack=1",
            ". seq=1 ack=11",
        ],
        "{}",
        out.text
    );
    let arrows: Vec<&str> = out
        .mermaid
        .lines()
        .filter(|l| l.contains(" seq="))
        .map(str::trim)
        .collect();
    assert_eq!(arrows.len(), 8, "{}", out.mermaid);
    assert!(arrows[2].contains("seq=0 ack=1"), "{}", out.mermaid);
    assert!(arrows[3].contains("seq=0 ack=1"), "{}", out.mermaid);
    assert!(arrows[7].contains("ack=11"), "{}", out.mermaid);

    // One connection, one row, handshake done, both ends ESTABLISHED.
    let rows = lines_with(&out.summary, ":40000");
    assert_eq!(rows.len(), 1, "{}", out.summary);
    let cells: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "1",
            "a:40000",
            "b:5000",
            "1.000ms",
            "10ms",
            "10",
            "0",
            "0",
            "-",
            "ESTABLISHED/ESTABLISHED",
            "open,",
            "≥17ms"
        ],
        "{}",
        out.summary
    );
}

// ----- a late SYN after the connection closed -------------------------

#[test]
fn a_late_syn_after_the_close_gets_its_own_row_and_the_closed_one_stays_closed() {
    let mut b = Build::new();
    let (pa, pb) = ((49152, 80), (80, 49152));
    // The client's first SYN is held back; the second opens a connection
    // that closes at once (the client holds TIME-WAIT).
    b.state(0, A, 1, pa, (Closed, SynSent), None);
    b.seg(0, A, pa, 100, 0, "S", 0);
    b.seg(1000, A, pa, 100, 0, "S", 0);
    b.state(1010, B, 7, pb, (Listen, SynReceived), None);
    b.seg(1010, B, pb, 500, 101, "S.", 0);
    b.state(1020, A, 1, pa, (SynSent, Established), None);
    b.state(1020, A, 1, pa, (Established, FinWait1), None);
    b.seg(1020, A, pa, 101, 501, "F.", 0);
    b.state(1030, B, 7, pb, (SynReceived, CloseWait), None);
    b.state(1030, B, 7, pb, (CloseWait, LastAck), None);
    b.seg(1030, B, pb, 501, 102, "F.", 0);
    b.state(1040, A, 1, pa, (FinWait1, TimeWait), None);
    b.seg(1040, A, pa, 102, 502, ".", 0);
    b.state(1050, B, 7, pb, (LastAck, Closed), None);
    // The held-back SYN reaches another listening socket at 3 s.
    b.state(3010, B, 8, pb, (Listen, SynReceived), None);
    b.seg(3010, B, pb, 9000, 101, "S.", 0);
    b.seg(4010, B, pb, 9000, 101, "S.", 0);
    b.state(11_040, A, 1, pa, (TimeWait, Closed), None);
    b.seg(18_010, B, pb, 9000, 101, "S.", 0);
    b.seg(18_020, A, pa, 101, 0, "R", 0);
    b.state(18_030, B, 8, pb, (SynReceived, Listen), None);
    let out = outputs(&b.trace);

    let rows: Vec<Vec<&str>> = lines_with(&out.summary, "a:49152")
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "1",
                "a:49152",
                "b:80",
                "0.000ms",
                "1.02s",
                "0",
                "0",
                "1",
                "a",
                "CLOSED/CLOSED",
                "1.04s"
            ],
            vec![
                "2",
                "a:49152",
                "b:80",
                "3010.000ms",
                "-",
                "0",
                "0",
                "2",
                "a",
                "(RST)",
                "-/LISTEN",
                "15.01s"
            ],
        ],
        "{}",
        out.summary
    );
    // The new SYN-ACK counts from its own ISN and acknowledges the old
    // SYN's, as the client's stack sees it.
    let synacks: Vec<String> = lines_with(&out.text, ":80>:49152 S.")
        .iter()
        .map(|l| {
            l.split_whitespace()
                .skip(5)
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(synacks, ["S. seq=0 ack=1"; 4], "{}", out.text);
}

// ----- what a sink received ---------------------------------------------

#[test]
fn the_summary_says_whether_each_sink_connection_was_intact() {
    use simnet_core::socket::AppId;
    use simnet_core::trace::{AppEvent, AppInfo};
    let mut b = Build::new();
    b.trace.topology.apps = ["checked", "forged"]
        .iter()
        .map(|name| AppInfo {
            host: HostId(B),
            kind: "sink".into(),
            name: name.to_string(),
        })
        .collect();
    let eof = |bytes: u64, mismatch: Option<u64>| {
        let e = AppEvent::new("sink.eof", "received")
            .with("bytes", bytes)
            .with("duration", simnet_core::SimDuration::from_millis(160))
            .with("intact", mismatch.is_none());
        Box::new(match mismatch {
            Some(at) => e.with("first_mismatch", at),
            None => e,
        })
    };
    for (ms, app, event) in [(30, 1, eof(6, Some(4))), (190, 0, eof(100_000, None))] {
        b.at(
            ms,
            TraceEvent::App {
                host: HostId(B),
                app: AppId(app),
                event,
            },
        );
    }
    let out = outputs(&b.trace);
    let rows: Vec<Vec<&str>> = out
        .summary
        .lines()
        .skip_while(|l| !l.starts_with("Sinks"))
        .skip(3)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "forged", "b", "30.000ms", "6", "160ms", "differs", "from", "byte", "4"
            ],
            vec!["checked", "b", "190.000ms", "100000", "160ms", "intact"],
        ],
        "{}",
        out.summary
    );
}

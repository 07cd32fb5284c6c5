//! Mermaid diagrams: every scenario's diagram is well formed and says what
//! happened; three small ones are snapshot-tested; hostile names and payloads
//! cannot break the syntax.
//!
//! As a side effect every diagram is written to `target/mermaid/<name>.mmd`,
//! where `tools/mermaid-check/run.sh` renders them in a real browser.

use simnet::apps::{TcpClient, TcpEcho};
use simnet::render::mermaid::{
    ConnectionSelector, MERMAID_DEFAULT_MAX_TEXT_SIZE, MermaidOptions, escape_text, render_mermaid,
};
use simnet::trace::{AppInfo, HostInfo, LinkInfo, Topology};
use simnet::{
    AppEvent, AppId, FrameId, HostId, LinkParams, ScenarioRun, SimDuration, SimTime, SocketCall,
    SocketId, Trace, TraceEvent, WorldBuilder, run_scenario,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

fn run(path: &Path) -> ScenarioRun {
    let source = std::fs::read_to_string(path).unwrap();
    let scenario = simnet::scenario::parse(&relative(path), &source, &simnet::registry())
        .unwrap_or_else(|e| panic!("{} does not load:\n{e}", relative(path)));
    run_scenario(&scenario, None, None)
}

fn scenario(name: &str) -> ScenarioRun {
    run(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml")))
}

fn all_scenarios() -> Vec<PathBuf> {
    simnet::quick_scenario_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap()
}

/// `target/mermaid/`, where the browser check looks for diagrams.
fn out_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("mermaid");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_diagram(name: &str, diagram: &str) {
    std::fs::write(out_dir().join(format!("{name}.mmd")), diagram).unwrap();
}

/// Lines the browser check must find, verbatim, in the drawing of `name`.
fn write_expected_text(name: &str, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(out_dir().join(format!("{name}.expect.txt")), text).unwrap();
}

// ----- the validator ---------------------------------------------------------

const ARROWS: [&str; 6] = ["-->>", "->>", "--x", "-x", "--)", "-)"];

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Text after `: ` in a message or note, or after `as` in a participant:
/// only entity codes and `<br/>` may carry Mermaid's special characters.
fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("empty text".into());
    }
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("wrap:") || lower.starts_with("nowrap:") {
        return Err(format!("text starts with a Mermaid option: {text:?}"));
    }
    let mut rest = text.replace("<br/>", "\n");
    // Remove well-formed entity codes (#59;, #lt;).
    let mut plain = String::new();
    while let Some(i) = rest.find('#') {
        plain.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .filter(|&e| e > 0 && after[..e].chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or_else(|| format!("`#` outside an entity code in {text:?}"))?;
        rest = after[end + 1..].to_string();
    }
    plain.push_str(&rest);
    for c in plain.chars() {
        if ";#<>&\"%{}$`\\".contains(c) || (c.is_control() && c != '\n') {
            return Err(format!("unescaped {c:?} in {text:?}"));
        }
    }
    Ok(())
}

/// Mermaid rewrites any line matching `style.*:\S*#.*;` (and the same with
/// `classDef`) before parsing; a diagram line must never match.
fn check_preprocessing(line: &str) -> Result<(), String> {
    for word in ["style", "classDef"] {
        let Some(start) = line.find(word) else {
            continue;
        };
        for (i, _) in line[start..].match_indices(':') {
            let run: String = line[start + i + 1..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            if run.contains('#') {
                return Err(format!(
                    "line would be rewritten by Mermaid's `{word}` rule"
                ));
            }
        }
    }
    Ok(())
}

/// A statement-level check of a diagram: every line is the header, a
/// comment, a participant, a message or a note; participants come first and
/// once; every arrow and note names declared participants.
fn validate(diagram: &str) -> Result<(), String> {
    let mut lines = diagram.lines().enumerate();
    match lines.next() {
        Some((_, "sequenceDiagram")) => {}
        other => return Err(format!("first line is {other:?}, not `sequenceDiagram`")),
    }
    if !diagram.ends_with('\n') {
        return Err("no final newline".into());
    }
    let mut declared = BTreeSet::new();
    let mut body_started = false;
    for (n, line) in lines {
        let at = |e: String| format!("line {}: {e}\n  {line}", n + 1);
        let stmt = line
            .strip_prefix("    ")
            .filter(|s| !s.starts_with(' '))
            .ok_or_else(|| at("not indented by four spaces".into()))?;
        check_preprocessing(stmt).map_err(at)?;
        if let Some(comment) = stmt.strip_prefix("%% ") {
            if comment.contains(['{', '}']) {
                return Err(at("a comment with braces could be a directive".into()));
            }
            continue;
        }
        if let Some(rest) = stmt.strip_prefix("participant ") {
            if body_started {
                return Err(at("participant declared after the first message".into()));
            }
            let (id, label) = rest
                .split_once(" as ")
                .ok_or_else(|| at("participant without `as`".into()))?;
            if !is_id(id) {
                return Err(at(format!("bad participant id {id:?}")));
            }
            if !declared.insert(id.to_string()) {
                return Err(at(format!("participant {id} declared twice")));
            }
            check_text(label).map_err(at)?;
            continue;
        }
        body_started = true;
        let (head, text) = stmt
            .split_once(": ")
            .ok_or_else(|| at("statement without `: text`".into()))?;
        check_text(text).map_err(at)?;
        let known = |id: &str| {
            if declared.contains(id) {
                Ok(())
            } else {
                Err(at(format!("undeclared participant {id:?}")))
            }
        };
        if let Some(over) = head.strip_prefix("Note over ") {
            let ids: Vec<&str> = over.split(',').collect();
            if ids.len() > 2 {
                return Err(at("a note spans at most two participants".into()));
            }
            for id in ids {
                known(id)?;
            }
        } else if let Some(id) = head
            .strip_prefix("Note left of ")
            .or_else(|| head.strip_prefix("Note right of "))
        {
            known(id)?;
        } else {
            let (from, to) = ARROWS
                .iter()
                .find_map(|a| head.split_once(a))
                .ok_or_else(|| at("neither a note nor a message".into()))?;
            if !is_id(from) || !is_id(to) {
                return Err(at("message endpoints must be plain ids".into()));
            }
            known(from)?;
            known(to)?;
        }
    }
    Ok(())
}

fn arrows(diagram: &str, arrow: &str) -> usize {
    diagram
        .lines()
        .filter(|l| {
            let head = l.trim().split(": ").next().unwrap_or("");
            !head.starts_with("Note ") && ARROWS.iter().find(|a| head.contains(**a)) == Some(&arrow)
        })
        .count()
}

/// Asserts that `diagram` contains every one of `needles`, in that order.
#[track_caller]
fn assert_in_order(diagram: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        let Some(at) = diagram[from..].find(needle) else {
            panic!("{needle:?} missing or out of order in\n{diagram}");
        };
        from += at + needle.len();
    }
}

// ----- every scenario --------------------------------------------------------

#[test]
fn every_scenario_draws_a_valid_diagram_of_every_packet() {
    let mut names = BTreeSet::new();
    for path in all_scenarios() {
        let run = run(&path);
        let diagram = render_mermaid(&run.trace, &MermaidOptions::default());
        validate(&diagram).unwrap_or_else(|e| panic!("{}: {e}\n{diagram}", relative(&path)));
        assert!(
            names.insert(run.name.clone()),
            "two scenarios named {}",
            run.name
        );
        // The browser draws what a user would: the whole run when it is of
        // a size a person reads (the largest lesson, congestion-control, is
        // 280 KB), else its first 1,000 events, as `--max-events` gives
        // them (the bulk topology runs' whole diagrams are 1.7 to 2.1 MB,
        // and Mermaid's layout time grows quickly with a diagram's size).
        // The check above covered the whole diagram.
        if diagram.len() <= 1_000_000 {
            write_diagram(&run.name, &diagram);
        } else {
            let first = MermaidOptions {
                max_events: Some(1000),
                ..MermaidOptions::default()
            };
            let narrowed = render_mermaid(&run.trace, &first);
            validate(&narrowed).unwrap_or_else(|e| panic!("{}: {e}", relative(&path)));
            write_diagram(&run.name, &narrowed);
        }

        // One arrow per frame sent, per hop a router forwarded it and per
        // copy, and the lost ones drawn lost.
        let count =
            |f: fn(&TraceEvent) -> bool| run.trace.records.iter().filter(|r| f(&r.event)).count();
        let sent = count(|e| {
            matches!(
                e,
                TraceEvent::PacketSent { .. } | TraceEvent::FrameForwarded { .. }
            )
        });
        let copies = count(|e| matches!(e, TraceEvent::FrameDuplicated { .. }));
        let lost = count(|e| {
            matches!(
                e,
                TraceEvent::FrameDropped { .. } | TraceEvent::FrameDiscarded { .. }
            )
        });
        let solid = arrows(&diagram, "->>") + arrows(&diagram, "-x") + arrows(&diagram, "-)");
        let dotted = arrows(&diagram, "-->>") + arrows(&diagram, "--x") + arrows(&diagram, "--)");
        let crossed = arrows(&diagram, "-x") + arrows(&diagram, "--x");
        assert_eq!(solid, sent, "{}: arrows vs packets sent", run.name);
        assert_eq!(dotted, copies, "{}: dotted arrows vs duplicates", run.name);
        assert_eq!(crossed, lost, "{}: crossed arrows vs frames lost", run.name);
        assert_eq!(
            diagram.matches("(dropped: ").count() + diagram.matches("(discarded by ").count(),
            lost,
            "{}",
            run.name
        );

        // Same trace, same bytes.
        assert_eq!(
            diagram,
            render_mermaid(&run.trace, &MermaidOptions::default())
        );

        // However long the run, a few hundred events fit what Mermaid draws
        // by default.
        let cut = MermaidOptions {
            max_events: Some(300),
            ..MermaidOptions::default()
        };
        let short = render_mermaid(&run.trace, &cut);
        validate(&short).unwrap_or_else(|e| panic!("{}: {e}", run.name));
        assert!(
            short.chars().count() < MERMAID_DEFAULT_MAX_TEXT_SIZE,
            "{}: {} characters with max_events = 300",
            run.name,
            short.chars().count()
        );
    }
    assert!(names.len() >= 10, "only {} scenarios found", names.len());
}

#[test]
fn small_scenarios_match_their_snapshots() {
    for name in [
        "three-way-handshake",
        "close-client-first",
        "lost-final-ack",
    ] {
        let run = scenario(&format!("tcp/{name}"));
        let diagram = render_mermaid(&run.trace, &MermaidOptions::default());
        insta::assert_snapshot!(name, diagram);
    }
}

#[test]
fn the_close_diagram_tells_the_four_way_close() {
    let run = scenario("tcp/close-client-first");
    let d = render_mermaid(&run.trace, &MermaidOptions::default());
    let order = [
        "client->>server: SYN seq=0",
        "server->>client: SYN, ACK seq=0 ack=1",
        "client->>server: ACK seq=1 ack=1",
        "Note over client: ESTABLISHED → FIN-WAIT-1",
        "client->>server: FIN, ACK seq=6 ack=6",
        "Note over server: ESTABLISHED → CLOSE-WAIT",
        "Note over server: CLOSE-WAIT → LAST-ACK",
        "Note over client: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT",
        "Note over client: TIME-WAIT → CLOSED (after 10s in TIME-WAIT)",
    ];
    assert_in_order(&d, &order);
}

#[test]
fn websocket_arrows_are_labelled_with_their_frames() {
    let run = scenario("websocket/upgrade-and-echo");
    let d = render_mermaid(&run.trace, &MermaidOptions::default());
    let order = [
        "client->>server: PSH, ACK seq=1 ack=1 len=",
        "<br/>GET /chat HTTP/1.1",
        "<br/>HTTP/1.1 101 Switching Protocols",
        // Masked on the wire; the label shows the unmasked text.
        "client->>server: PSH, ACK seq=",
        "<br/>WS text fin masked len=5 #quot;hello#quot;",
        "server->>client: PSH, ACK seq=",
        "<br/>WS text fin len=5 #quot;hello#quot;",
        "<br/>WS text fin masked len=5 #quot;world#quot;",
        "<br/>WS text fin len=5 #quot;world#quot;",
        "<br/>WS close fin masked len=6 code=1000 #quot;done#quot;",
        "<br/>WS close fin len=2 code=1000",
    ];
    assert_in_order(&d, &order);
    // One label per frame the applications sent, each on an arrow.
    let sent = run
        .trace
        .records
        .iter()
        .filter(
            |r| matches!(&r.event, TraceEvent::App { event, .. } if event.kind == "ws.frame-sent"),
        )
        .count();
    let labels: usize = d
        .lines()
        .filter(|l| l.contains("->>"))
        .map(|l| l.matches("<br/>WS ").count())
        .sum();
    assert_eq!(labels, sent);
}

/// A trace that kept only headers (`Capture::Headers`) has no payloads to
/// label arrows with: the diagram says so instead of silently leaving the
/// HTTP and WebSocket labels out, and is otherwise drawn as usual.
#[test]
fn a_headers_only_trace_says_why_its_arrows_have_no_labels() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/websocket/upgrade-and-echo.toml");
    let scenario = simnet::scenario::load(&path, &simnet::registry()).unwrap();
    let note = "packets traced without payloads (Capture::Headers): no HTTP or WebSocket labels";
    let full = render_mermaid(
        &run_scenario(&scenario, None, None).trace,
        &MermaidOptions::default(),
    );
    let headers = render_mermaid(
        &simnet::run_scenario_with(&scenario, None, None, simnet::Capture::Headers).trace,
        &MermaidOptions::default(),
    );
    validate(&headers).unwrap();
    write_diagram("websocket-upgrade-and-echo-headers-only", &headers);
    // Arrow labels: what a packet carries is quoted after a line break.
    let labelled = |d: &str| {
        d.lines()
            .filter(|l| l.contains("->>") && l.contains("<br/>"))
            .count()
    };
    assert!(!full.contains(note));
    assert!(labelled(&full) >= 8, "the upgrade and six WebSocket frames");
    assert!(headers.contains(&format!("Note over client,server: {note}")));
    assert_eq!(labelled(&headers), 0);
    assert_eq!(arrows(&full, "->>"), arrows(&headers, "->>"));
}

#[test]
fn a_lost_packet_is_a_crossed_arrow_where_it_was_sent() {
    let d = render_mermaid(
        &scenario("tcp/lost-final-ack").trace,
        &MermaidOptions::default(),
    );
    let lost = "client-xserver: ACK seq=7 ack=7 (dropped: fault)";
    let lines: Vec<&str> = d.lines().map(str::trim).collect();
    let i = lines.iter().position(|l| *l == lost).expect(&d);
    assert_eq!(
        lines[i - 1],
        "Note over client: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT"
    );
    assert!(lines[i + 1].starts_with("Note over client,server: fault: drop"));
    // The server's retransmitted FIN comes after, at 1.05 s.
    assert!(lines[i + 2..].contains(&"Note left of client: t = 1.05s"));
}

#[test]
fn a_connection_selector_keeps_only_that_connection() {
    let run = scenario("tcp/close-client-first");
    let full = render_mermaid(&run.trace, &MermaidOptions::default());
    for selector in ["client:49152", "49152", "10.0.0.1:49152", "server:80"] {
        let options = MermaidOptions {
            connection: Some(selector.parse().unwrap()),
            ..MermaidOptions::default()
        };
        let d = render_mermaid(&run.trace, &options);
        validate(&d).unwrap();
        assert_eq!(arrows(&d, "->>"), arrows(&full, "->>"), "{selector}");
        assert!(
            d.contains("FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT"),
            "{selector}"
        );
    }
    // The listen() call belongs to the server's port, not the client's.
    let client_only = MermaidOptions {
        connection: Some(ConnectionSelector::on_host("client", 49152)),
        ..MermaidOptions::default()
    };
    assert!(!render_mermaid(&run.trace, &client_only).contains("listen("));
    // A port nobody used selects nothing, and the diagram says so.
    let nobody = MermaidOptions {
        connection: Some(ConnectionSelector::port(49153)),
        ..MermaidOptions::default()
    };
    let d = render_mermaid(&run.trace, &nobody);
    validate(&d).unwrap();
    assert!(d.contains("nothing to show (connection 49153)"), "{d}");
    assert_eq!(arrows(&d, "->>"), 0);
}

#[test]
fn a_time_window_keeps_only_its_events() {
    let run = scenario("tcp/close-client-first");
    let options = MermaidOptions {
        from: Some(SimTime::from_millis(40)),
        until: Some(SimTime::from_millis(60)),
        ..MermaidOptions::default()
    };
    let d = render_mermaid(&run.trace, &options);
    validate(&d).unwrap();
    let times: Vec<&str> = d
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Note left of client: t = "))
        .collect();
    assert_eq!(times, ["40ms", "50ms", "60ms"]);
    assert!(!d.contains("SYN"));
    // Sequence numbers stay relative to the connection's SYN.
    assert!(d.contains("client->>server: FIN, ACK seq=6 ack=6"), "{d}");
}

#[test]
fn a_long_run_can_be_cut_short() {
    let run = scenario("tcp/duplication-reordering");
    let options = MermaidOptions {
        max_events: Some(25),
        ..MermaidOptions::default()
    };
    let d = render_mermaid(&run.trace, &options);
    validate(&d).unwrap();
    assert!(
        d.contains("diagram cut after 25 events (max_events)"),
        "{d}"
    );
    assert!(d.lines().count() < 80, "{d}");
    write_diagram("zz-cut-duplication-reordering", &d);
}

#[test]
fn filtered_and_empty_diagrams_are_valid_too() {
    let run = scenario("tcp/close-client-first");
    let options = MermaidOptions {
        connection: Some("client:49152".parse().unwrap()),
        from: Some(SimTime::from_millis(40)),
        ..MermaidOptions::default()
    };
    let d = render_mermaid(&run.trace, &options);
    validate(&d).unwrap();
    assert!(d.contains("%% simnet diagram limited to connection client:49152, from t = 40ms"));
    write_diagram("zz-filtered-close-client-first", &d);

    let d = render_mermaid(&Trace::default(), &MermaidOptions::default());
    assert_eq!(d, "sequenceDiagram\n");
    write_diagram("zz-empty", &d);
}

// ----- hostile input ---------------------------------------------------------

const NASTY: &str = "x;y#z <b>bold</b> & \"q\" %%{init: {'theme':'dark'}}%% $$x$$ `c` \\ end";

/// A hand-built trace: names, summaries and actions full of Mermaid syntax,
/// keyword and colliding host names, an undecodable frame, a frame with no
/// route, and an event about a host the topology does not have.
fn hostile_trace() -> Trace {
    let names = ["end", "a-b", "a_b", NASTY, "style:#f00;", "서버", "1st"];
    let topology = Topology {
        seed: 1,
        hosts: names
            .iter()
            .enumerate()
            .map(|(i, n)| HostInfo {
                name: n.to_string(),
                addr: [10, 0, 0, i as u8 + 1].into(),
                router: false,
            })
            .collect(),
        links: vec![LinkInfo {
            a: HostId(0),
            b: HostId(1),
            a_to_b: LinkParams::default(),
            b_to_a: LinkParams::default(),
        }],
        apps: vec![AppInfo {
            host: HostId(0),
            kind: "x".into(),
            name: "x".into(),
        }],
    };
    let mut trace = Trace {
        topology,
        ..Trace::default()
    };
    let t = SimTime::from_millis(1);
    let call = |host: u32, call: SocketCall| TraceEvent::SocketCall {
        host: HostId(host),
        app: AppId(0),
        socket: Some(SocketId(u64::from(host))),
        call,
    };
    for h in 0..7 {
        trace.push(
            t,
            TraceEvent::App {
                host: HostId(h),
                app: AppId(0),
                event: Box::new(AppEvent::new("x", format!("{NASTY} {h}"))),
            },
        );
    }
    trace.push(t, call(0, SocketCall::Close { unread: 3 }));
    trace.push(
        t,
        TraceEvent::Action {
            description: format!("wrap: {NASTY}"),
        },
    );
    trace.push(
        t,
        TraceEvent::PacketSent {
            frame: FrameId(0),
            from: HostId(0),
            to: Some(HostId(1)),
            socket: None,
            bytes: vec![0x45u8, 1, 2].into(),
            len: 3,
        },
    );
    trace.push(
        t,
        TraceEvent::FrameDelivered {
            frame: FrameId(0),
            to: HostId(1),
        },
    );
    trace.push(
        SimTime::from_millis(2),
        TraceEvent::FaultMatched {
            frame: FrameId(0),
            fault: 0,
            description: format!("nowrap: {NASTY}"),
        },
    );
    trace.push(
        SimTime::from_millis(3),
        TraceEvent::App {
            host: HostId(99),
            app: AppId(7),
            event: Box::new(AppEvent::new("x", "a host from nowhere")),
        },
    );
    trace
}

#[test]
fn hostile_names_and_texts_cannot_break_the_syntax() {
    let trace = hostile_trace();
    let d = render_mermaid(&trace, &MermaidOptions::default());
    validate(&d).unwrap_or_else(|e| panic!("{e}\n{d}"));
    write_diagram("zz-hostile-trace", &d);
    // What the browser must draw, character for character.
    let mut expected: Vec<String> = (0..7).map(|h| format!("{NASTY} {h}")).collect();
    expected.push(format!("timeline: wrap: {NASTY}"));
    expected.push(format!("fault: nowrap: {NASTY}"));
    expected.extend(
        [
            "end",
            "a-b",
            "a_b",
            "style:#f00;",
            "서버",
            "1st",
            "host #99",
        ]
        .map(String::from),
    );
    write_expected_text("zz-hostile-trace", &expected);
    // Keyword, colliding, digit-first and non-ASCII names get safe, distinct ids.
    for decl in [
        "participant h0 as end<br/>10.0.0.1",
        "participant a_b as a-b<br/>10.0.0.2",
        "participant a_b_2 as a_b<br/>10.0.0.3",
        "participant h5 as 서버<br/>10.0.0.6",
        "participant h6 as 1st<br/>10.0.0.7",
        "participant h99 as host #35;99",
    ] {
        assert!(d.contains(decl), "{decl:?} missing in\n{d}");
    }
    assert!(d.contains("h0->>a_b: undecodable frame (3 bytes)"), "{d}");
}

#[test]
fn hostile_payloads_in_a_real_run_cannot_break_the_syntax() {
    // Three hosts with hostile names; HTTP-looking payloads full of syntax.
    let mut b = WorldBuilder::new(3);
    let a = b.host("end", [10, 0, 0, 1].into());
    let server = b.host(NASTY, [10, 0, 0, 2].into());
    let c = b.host("x-ray", [10, 0, 0, 3].into());
    let link = LinkParams::with_latency(SimDuration::from_millis(10));
    b.link(a, server, link.clone());
    b.link(c, server, link);
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    let request = b"GET /a;b#c?<script>alert(1)</script>&%%{init}%% HTTP/1.1\r\nHost: x\r\n\r\n";
    let status = b"HTTP/1.1 200 OK; #1 <ok> {done} $$\r\n\r\n";
    b.app(a, "tcp-client", move || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), request, request.len())
    });
    b.app(c, "tcp-client", move || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), status, status.len())
    });
    let mut world = b.build().unwrap();
    world.run();
    let d = render_mermaid(world.trace(), &MermaidOptions::default());
    validate(&d).unwrap_or_else(|e| panic!("{e}\n{d}"));
    write_diagram("zz-hostile-run", &d);
    write_expected_text(
        "zz-hostile-run",
        &[
            "GET /a;b#c?<script>alert(1)</script>&%%{init}%% HTTP/1.1".to_string(),
            "HTTP/1.1 200 OK; #1 <ok> {done} $$".to_string(),
            NASTY.to_string(),
            "x-ray".to_string(),
        ],
    );
    // The HTTP lines are there, escaped, under the TCP label.
    let escaped_request = escape_text("GET /a;b#c?<script>alert(1)</script>&%%{init}%% HTTP/1.1");
    assert!(d.contains(&format!("len=69<br/>{escaped_request}")), "{d}");
    assert!(
        d.contains("<br/>HTTP/1.1 200 OK#59; #35;1 #lt;ok#gt; #123;done#125; #36;#36;"),
        "{d}"
    );
    // Two connections: arrows and states carry their ports.
    assert!(d.contains("x_ray->>h1: :49152 → :80 SYN seq=0"), "{d}");
    assert!(d.contains("participant x_ray as x-ray<br/>10.0.0.3"), "{d}");
}

/// TLS records are named on the arrows that complete them, TLS 1.3's
/// encrypted handshake opened with the run's own key log, as Wireshark
/// shows it with an SSLKEYLOGFILE.
#[test]
fn tls_arrows_are_labelled_with_their_messages() {
    let run = scenario("tls/https-request");
    let d = render_mermaid(&run.trace, &MermaidOptions::default());
    assert_in_order(
        &d,
        &[
            "client->>server13: :49152 → :443 PSH, ACK seq=1 ack=1 len=226<br/>TLS ClientHello",
            "server13->>client: :443 → :49152 PSH, ACK seq=1 ack=227 len=695 win=65536<br/>TLS \
             ServerHello, ChangeCipherSpec, EncryptedExtensions, Certificate, \
             CertificateVerify, Finished",
            "client->>server13: :49152 → :443 PSH, ACK seq=227 ack=696 len=136<br/>TLS \
             ChangeCipherSpec, Finished, application data 34B",
        ],
    );
    assert_in_order(
        &d,
        &[
            "<br/>TLS ServerHello, Certificate, ServerKeyExchange, ServerHelloDone",
            "<br/>TLS ClientKeyExchange, ChangeCipherSpec, encrypted handshake 40B",
        ],
    );
    // The secrets are for tools: no note shows them.
    assert!(!d.contains("SECRET"), "{d}");
    validate(&d).unwrap();
}

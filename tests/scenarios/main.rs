//! Every scenario in `scenarios/`, and every broken one in `tests/broken/`.
//!
//! For each scenario: its text trace is snapshot-tested, all of its
//! expectations pass, and two runs give byte-identical output. For each
//! broken scenario: loading fails, and the error message is snapshot-tested.

use simnet::{
    Capture, Format, PacketInfo, TraceEvent, render, run_scenario, run_scenario_with, verdicts,
};
use std::path::Path;

mod summary_stream;

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A text trace longer than this is snapshot as a focused view (see
/// [`reviewable`]): a diff of thousands of lines is not reviewed, it is
/// accepted.
const SNAPSHOT_LINES: usize = 1000;
/// Lines of a long trace kept from its start, and from its end.
const HEAD_LINES: usize = 200;
const TAIL_LINES: usize = 100;

/// What a scenario's snapshot holds: the whole text trace, or for a trace
/// over [`SNAPSHOT_LINES`] lines a view a person can review: the summary,
/// the first [`HEAD_LINES`] and last [`TAIL_LINES`] lines of the trace,
/// and the whole trace's length and FNV-1a hash, so that a change anywhere
/// in it still changes the snapshot (the summary usually says what).
fn reviewable(shown: &str, text: &str, summary: impl FnOnce() -> String) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= SNAPSHOT_LINES {
        return text.to_string();
    }
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut out = format!(
        "A focused view: the text trace has {} lines (FNV-1a {hash:016x}); \
         `simnet run {shown}` prints it whole.\n\n",
        lines.len()
    );
    out.push_str(&summary());
    out.push_str("\nThe trace's first lines:\n\n");
    out.push_str(&lines[..HEAD_LINES].join("\n"));
    out.push_str(&format!(
        "\n... {} lines not snapshot ...\n",
        lines.len() - HEAD_LINES - TAIL_LINES
    ));
    out.push_str(&lines[lines.len() - TAIL_LINES..].join("\n"));
    out.push('\n');
    out
}

// ANCHOR: every_scenario
fn load(path: &Path) -> simnet::scenario::Scenario {
    let source = std::fs::read_to_string(path).unwrap();
    simnet::scenario::parse(&relative(path), &source, &simnet::registry())
        .unwrap_or_else(|e| panic!("{} does not load:\n{e}", relative(path)))
}

#[test]
fn every_scenario_passes_its_expectations_and_matches_its_snapshot() {
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if simnet::is_load_scenario(path) {
            return;
        }
        let scenario = load(path);
        assert!(
            !scenario.expectations.is_empty(),
            "{}: a scenario must check something",
            relative(path)
        );
        let run = run_scenario(&scenario, None, None);
        let failed = run.failures();
        assert!(
            failed.is_empty(),
            "{}:\n{}",
            relative(path),
            failed.join("\n")
        );
        let full = String::from_utf8(render(&run, Format::Text)).unwrap();
        // Long traces are snapshot as a summary and a window of the trace.
        let mut text = reviewable(&relative(path), &full, || {
            String::from_utf8(render(&run, Format::Summary)).unwrap()
        });
        text.push('\n');
        text.push_str(&verdicts(&run));
        insta::assert_snapshot!(text);
    });
}
// ANCHOR_END: every_scenario

/// The expectations of a streamed run (a judge fed each record as it
/// happens, nothing stored) get the same verdicts, word for word, as those
/// of the stored trace.
#[test]
fn every_scenarios_expectations_are_judged_alike_streamed_and_stored() {
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if simnet::is_load_scenario(path) {
            return;
        }
        let scenario = load(path);
        let stored = run_scenario(&scenario, None, None).outcomes;
        let judge = std::rc::Rc::new(std::cell::RefCell::new(simnet::scenario::Judge::new(
            &scenario.expectations,
        )));
        let mut world = scenario.world(None, None);
        world.stream_to(Box::new(judge.clone()));
        world.run();
        assert!(world.trace().records.is_empty(), "{}", relative(path));
        let topology = world.trace().topology.clone();
        drop(world);
        let judge = std::rc::Rc::try_unwrap(judge).unwrap().into_inner();
        let streamed = judge.finish(&topology, &scenario.app_names());
        assert_eq!(streamed, stored, "{}", relative(path));
        // As `simnet run` judges: its own analysis beside a pcap, the
        // summary's (`Judge::sharing_connections`) beside a summary.
        for format in [Format::Pcap, Format::Summary] {
            let run = simnet::run_scenario_streamed(
                &scenario,
                None,
                None,
                format,
                Box::new(std::io::sink()),
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(
                run.outcomes,
                stored,
                "{} ({})",
                relative(path),
                format.name()
            );
        }
    });
}

#[test]
fn every_scenario_is_deterministic_in_every_format() {
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if simnet::is_load_scenario(path) {
            return;
        }
        let scenario = load(path);
        let a = run_scenario(&scenario, None, None);
        let b = run_scenario(&scenario, None, None);
        for format in Format::ALL {
            assert!(
                render(&a, format) == render(&b, format),
                "{}: two runs differ in {}",
                relative(path),
                format.name()
            );
        }
    });
}

/// A `Write` the test keeps a handle to (the run writes it on its sinks'
/// thread).
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Shared {
    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().expect("no writer panicked")
    }
}

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A destination that takes only so many bytes, then fails as a closed
/// pipe does.
struct Closes(usize);

impl std::io::Write for Closes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.0);
        self.0 -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `simnet run ... | head`: once its output fails, a streamed run stops
/// instead of simulating the rest for nobody, and says why.
#[test]
fn a_streamed_run_stops_when_its_output_fails() {
    let scenario = load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/topology/reno-vs-cubic.toml"
    )));
    for format in [Format::Text, Format::Jsonl, Format::Pcap, Format::Pcapng] {
        let count = |out: simnet::StreamOutput| {
            let mut events = 0u64;
            let result =
                simnet::run_scenario_streamed(&scenario, None, None, format, out, &mut |_| {
                    events += 1
                });
            (result.map(|_| ()).map_err(|e| e.kind()), events)
        };
        let (all, full) = count(Box::new(std::io::sink()));
        assert_eq!(all, Ok(()));
        let (cut, stopped) = count(Box::new(Closes(1000)));
        assert_eq!(
            cut,
            Err(std::io::ErrorKind::BrokenPipe),
            "{}",
            format.name()
        );
        // The writers buffer 64 KiB; the run goes on only until the first
        // flush fails, and the few batches of records already handed to
        // the writer's thread have been written nowhere.
        assert!(
            stopped * 4 < full,
            "{}: {stopped} of {full} events",
            format.name()
        );
    }
}

/// `simnet run` writes every format but Mermaid and SVG as the run goes
/// and judges the expectations as it goes: the streamed path gives the
/// stored path's bytes and verdicts, for every scenario and format.
#[test]
fn every_scenario_streams_the_bytes_the_stored_trace_renders() {
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if simnet::is_load_scenario(path) {
            return;
        }
        let scenario = load(path);
        for format in Format::ALL.into_iter().filter(|f| f.streams()) {
            let stored = run_scenario_with(&scenario, None, None, format.capture());
            let out = Shared::default();
            let streamed = simnet::run_scenario_streamed(
                &scenario,
                None,
                None,
                format,
                Box::new(out.clone()),
                &mut |_| {},
            )
            .unwrap();
            assert!(
                *out.bytes() == render(&stored, format),
                "{}: --format {} streamed differs from stored",
                relative(path),
                format.name()
            );
            assert_eq!(streamed.verdicts(), verdicts(&stored), "{}", relative(path));
            assert_eq!(streamed.end, stored.trace.end_reason());
        }
    });
}

/// A run that keeps only each packet's headers (what `simnet run` does for
/// every format but pcap, pcapng and Mermaid) renders those formats exactly
/// as a run keeping every byte does, and its trace differs only in the
/// packet bytes it kept: the headers of each, with the same wire length.
#[test]
fn every_scenario_renders_the_same_from_headers_alone() {
    let mut payload_bytes_dropped = 0;
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if simnet::is_load_scenario(path) {
            return;
        }
        let scenario = load(path);
        let full = run_scenario_with(&scenario, None, None, Capture::Full);
        let headers = run_scenario_with(&scenario, None, None, Capture::Headers);
        let name = relative(path);
        for format in Format::ALL {
            if format.capture() == Capture::Headers {
                assert!(
                    render(&full, format) == render(&headers, format),
                    "{name}: {} differs when only headers are kept",
                    format.name()
                );
            }
        }
        // `simnet run` judges expectations on the trace it keeps.
        assert_eq!(verdicts(&full), verdicts(&headers), "{name}: verdicts");
        assert_eq!(full.trace.records.len(), headers.trace.records.len());
        for (a, b) in full.trace.records.iter().zip(headers.trace.records.iter()) {
            match (&a.event, &b.event) {
                (
                    TraceEvent::PacketSent {
                        bytes: all,
                        len: wire,
                        ..
                    },
                    TraceEvent::PacketSent {
                        bytes: kept, len, ..
                    },
                )
                | (
                    TraceEvent::FrameForwarded {
                        bytes: all,
                        len: wire,
                        ..
                    },
                    TraceEvent::FrameForwarded {
                        bytes: kept, len, ..
                    },
                ) => {
                    assert_eq!(wire, len, "{name}: wire length at {}", a.time);
                    assert_eq!(all.len(), *wire as usize, "{name}: a full capture is whole");
                    let header_len = PacketInfo::header_len(all);
                    assert_eq!(
                        &all[..header_len],
                        &kept[..],
                        "{name}: headers at {}",
                        a.time
                    );
                    payload_bytes_dropped += all.len() - kept.len();
                }
                _ => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name}"),
            }
        }
    });
    // Not vacuous: the scenarios carry payloads, and they were left out.
    assert!(
        payload_bytes_dropped > 1_000_000,
        "only {payload_bytes_dropped} payload bytes"
    );
}

/// JSON Lines, for every scenario: each line parses on its own as a JSON
/// object, the header and then one line per trace event, as `jq` needs.
#[test]
fn every_scenarios_json_lines_parse_line_by_line() {
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if simnet::is_load_scenario(path) {
            return;
        }
        let run = run_scenario(&load(path), None, None);
        let jsonl = String::from_utf8(render(&run, Format::Jsonl)).unwrap();
        let mut lines = 0;
        for (i, line) in jsonl.lines().enumerate() {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}\n{line}", relative(path), i + 1));
            assert!(value.is_object(), "{} line {}", relative(path), i + 1);
            lines += 1;
        }
        assert_eq!(lines, run.trace.records.len() + 1, "{}", relative(path));
    });
}

#[test]
fn every_broken_scenario_is_refused_with_a_clear_error() {
    insta::glob!("../broken", "*.toml", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let result = simnet::scenario::parse(&relative(path), &source, &simnet::registry());
        let err = match result {
            Ok(_) => panic!("{} should not load", relative(path)),
            Err(e) => e.to_string(),
        };
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(&relative(path)), "{err}");
        insta::assert_snapshot!(err);
    });
}

// ANCHOR: summaries
#[test]
fn summaries_of_a_few_scenarios_match_their_snapshots() {
    for name in [
        "tcp/close-client-first",
        "http/keep-alive-vs-close",
        "http/proxy-time-wait",
        "http/realtime-polling-vs-long-polling-vs-streaming",
        "flow/bottleneck-queue",
        "websocket/transport-comparison",
        "websocket/fallback-long-polling",
        "pitfalls/nagle-delayed-ack",
        "pitfalls/abortive-close",
        "pitfalls/close-wait-leak",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
        let run = run_scenario(&load(&path), None, None);
        let summary = String::from_utf8(render(&run, Format::Summary)).unwrap();
        insta::assert_snapshot!(format!("summary-{}", name.replace('/', "-")), summary);
    }
}
// ANCHOR_END: summaries

/// The transport comparison's table counts, per subscriber, the packets and
/// bytes of its own connections. Each subscriber there has a link of its own
/// to the server, so the Links table (counted independently, per link) must
/// give the same numbers; and every one of them got the same 20 events.
#[test]
fn the_transport_comparison_counts_each_subscribers_own_link() {
    use simnet::render::summary::{event_delivery, summarize};
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/websocket/transport-comparison.toml");
    let run = run_scenario(&load(&path), None, None);
    let topo = &run.trace.topology;
    let deliveries = event_delivery(&run.trace);
    let modes: Vec<String> = deliveries.iter().map(|d| d.modes.join(",")).collect();
    assert_eq!(modes, ["polling", "long polling", "streaming", "websocket"]);
    let links = summarize(&run.trace).links;
    for d in &deliveries {
        let host = topo.apps[d.app.0 as usize].host;
        let (packets, bytes) = links
            .iter()
            .filter(|l| l.from == host || l.to == Some(host))
            .fold((0, 0), |(p, b), l| (p + l.sent, b + l.bytes));
        assert_eq!(
            (d.packets, d.wire_bytes),
            (packets, bytes),
            "{}",
            topo.host_name(host)
        );
        assert_eq!(d.events, 20);
        assert_eq!(d.event_bytes, deliveries[0].event_bytes);
        assert_eq!(
            d.overhead_per_event(),
            (d.wire_bytes - d.event_bytes) / d.events
        );
    }
}

/// The "Per event" table charges every packet of a subscriber's connections
/// to exactly one row: each subscriber's column adds up to its wire bytes
/// in the "Event delivery" table, and every event has a row.
#[test]
fn per_event_bytes_add_up_to_each_subscribers_wire_bytes() {
    use simnet::render::summary::{event_delivery, per_event};
    for name in [
        "websocket/transport-comparison",
        "http/realtime-polling-vs-long-polling-vs-streaming",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
        let run = run_scenario(&load(&path), None, None);
        let deliveries = event_delivery(&run.trace);
        let (subs, rows) = per_event(&run.trace);
        assert_eq!(subs, deliveries.iter().map(|d| d.app).collect::<Vec<_>>());
        assert_eq!(rows.len(), 21, "{name}: 20 events and the rest");
        for (col, d) in deliveries.iter().enumerate() {
            let sum: u64 = rows.iter().map(|r| r.cells[col].1).sum();
            assert_eq!(sum, d.wire_bytes, "{name}");
            let got = rows.iter().filter(|r| r.cells[col].0.is_some()).count();
            assert_eq!(got as u64, d.events, "{name}");
        }
    }
}

/// Nagle × delayed ACK in numbers: every reply of the Nagle client takes the
/// round trip plus the delayed-ACK time; the others one round trip.
#[test]
fn the_tcp_client_table_shows_the_delayed_ack_penalty() {
    use simnet::SimDuration;
    use simnet::render::summary::tcp_clients;
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/pitfalls/nagle-delayed-ack.toml");
    let run = run_scenario(&load(&path), None, None);
    let clients = tcp_clients(&run.trace);
    let topo = &run.trace.topology;
    let got: Vec<(String, u64, u64, SimDuration, SimDuration)> = clients
        .iter()
        .map(|c| {
            let host = topo.apps[c.app.0 as usize].host;
            (
                topo.host_name(host).to_string(),
                c.replies,
                c.failures,
                c.min(),
                c.max(),
            )
        })
        .collect();
    let ms = SimDuration::from_millis;
    assert_eq!(
        got,
        [
            ("nagle".to_string(), 5, 0, ms(60), ms(60)),
            ("nodelay".to_string(), 5, 0, ms(10), ms(10)),
            ("onewrite".to_string(), 5, 0, ms(10), ms(10)),
        ]
    );
}

/// The HTTP client's retries say what happened and go where they say; a
/// response counts every attempt and its time from the first; and the
/// summary counts a retried request once. In `backlog-overflow-reset` the refused
/// connections are reset before their requests are written; in
/// `keep-alive-race` request 2 is lost after it was written.
#[test]
fn http_retries_say_what_happened_and_count_each_request_once() {
    use simnet::{AppEvent, FieldValue, TraceEvent};
    let int = |e: &AppEvent, k: &str| match e.field(k) {
        Some(FieldValue::Int(i)) => *i,
        other => panic!("{}: {k} is {other:?}", e.summary),
    };
    let yes = |e: &AppEvent, k: &str| matches!(e.field(k), Some(FieldValue::Bool(true)));
    for (name, requests, sent_before_loss) in [
        ("pitfalls/backlog-overflow-reset", 10, false),
        ("pitfalls/keep-alive-race", 2, true),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
        let run = run_scenario(&load(&path), None, None);
        let events: Vec<(simnet::SimTime, &AppEvent)> = run
            .trace
            .records
            .iter()
            .filter_map(|r| match &r.event {
                TraceEvent::App { event, .. } if event.kind.starts_with("http.") => {
                    Some((r.time, &**event))
                }
                _ => None,
            })
            .collect();
        let mut retries = std::collections::BTreeMap::<i64, i64>::new();
        let mut first_try = std::collections::BTreeMap::<i64, simnet::SimTime>::new();
        for (i, (time, e)) in events.iter().enumerate() {
            match e.kind.as_ref() {
                "http.retry" => {
                    let index = int(e, "index");
                    *retries.entry(index).or_default() += 1;
                    assert_eq!(yes(e, "sent"), sent_before_loss, "{name}: {}", e.summary);
                    let said = if sent_before_loss {
                        format!("request {index} lost after it was sent (")
                    } else {
                        format!("connection reset by peer before request {index} was sent: ")
                    };
                    assert!(e.summary.text().starts_with(&said), "{name}: {}", e.summary);
                    // The next try of the same request goes where this said.
                    let next = events[i + 1..]
                        .iter()
                        .find(|(_, n)| {
                            matches!(n.kind.as_ref(), "http.request-sent" | "http.retry")
                                && int(n, "index") == index
                        })
                        .expect("the retried request is tried again");
                    if next.1.kind == "http.request-sent" {
                        let reused = yes(next.1, "reused");
                        let place = if reused { "on a reused" } else { "on a new" };
                        assert!(e.summary.text().contains(place), "{name}: {}", e.summary);
                        assert_eq!(int(next.1, "attempt"), int(e, "attempt"));
                    } else {
                        // Reset again before it was sent: it had asked for a
                        // connection of its own.
                        assert!(
                            e.summary.text().ends_with("on a new connection"),
                            "{}",
                            e.summary
                        );
                    }
                }
                "http.request-sent" => {
                    first_try.entry(int(e, "index")).or_insert(*time);
                }
                "http.response" => {
                    let index = int(e, "index");
                    let tries = 1 + retries.get(&index).copied().unwrap_or(0);
                    assert_eq!(int(e, "attempts"), tries, "{name}: {}", e.summary);
                    let sends = if sent_before_loss { tries } else { 1 };
                    assert_eq!(int(e, "sends"), sends, "{name}: {}", e.summary);
                    let Some(FieldValue::Duration(total)) = e.field("total") else {
                        panic!("{name}: no total in {}", e.summary);
                    };
                    // The first attempt: in backlog-overflow every request's
                    // connect() at 0 ms; in keep-alive-race request 1's
                    // connect() and request 2's send on the reused connection.
                    let first_attempt = if sent_before_loss && index > 1 {
                        first_try[&index]
                    } else {
                        simnet::SimTime::ZERO
                    };
                    assert_eq!(*total, *time - first_attempt, "{name}: {}", e.summary);
                }
                _ => {}
            }
        }
        assert!(!retries.is_empty(), "{name} retries something");
        let summary = String::from_utf8(render(&run, Format::Summary)).unwrap();
        let row = summary
            .lines()
            .find(|l| l.trim_start().starts_with("client (http-client)"))
            .expect("an HTTP clients row");
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells[2],
            requests.to_string(),
            "{name}: requests counts requests, not sends: {row}"
        );
    }
}

/// Loss and retransmission: the lost request is sent again after smoltcp's
/// minimum RTO of 1 s, and the timeout doubles each time (1 s, 2 s, 4 s),
/// as the scenario's description says.
#[test]
fn the_retransmission_timeout_starts_at_one_second_and_doubles() {
    use simnet::SimDuration;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tcp/loss-retransmission.toml");
    let run = run_scenario(&load(&path), None, None);
    let client = run.trace.topology.host_by_name("client").unwrap();
    let sends: Vec<simnet::SimTime> = run
        .trace
        .packets()
        .filter(|(_, from, p)| *from == client && p.tcp().is_some_and(|t| t.payload_len > 0))
        .map(|(time, _, _)| time)
        .collect();
    let gaps: Vec<SimDuration> = sends.windows(2).map(|w| w[1] - w[0]).collect();
    let s = SimDuration::from_secs;
    assert_eq!(gaps, [s(1), s(2), s(4)], "request sent at {sends:?}");
}

/// The loader refuses an expectation on an event kind or field no
/// application registered (`event = "tcp.faild"`), so the registry must name
/// every kind and field the applications really emit. Every scenario, the
/// shipped ones and the hostile ones, is run and each application event in
/// its trace is looked up: a kind an application emits but never registered
/// would make a correct expectation on it fail to load.
#[test]
fn every_emitted_event_kind_and_field_is_registered() {
    let registry = simnet::registry();
    let kinds: std::collections::BTreeSet<&str> = registry.event_kinds().collect();
    let fields: std::collections::BTreeSet<&str> = registry.event_fields().collect();
    let mut unregistered = std::collections::BTreeSet::new();
    let mut seen = 0;
    for dir in ["scenarios", "tests/hostile"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for path in simnet::quick_scenario_files(&dir).unwrap() {
            let run = run_scenario(&load(&path), None, None);
            for record in run.trace.records.iter() {
                if let TraceEvent::App { event, .. } = &record.event {
                    seen += 1;
                    if !kinds.contains(event.kind.as_ref()) {
                        unregistered.insert(format!("kind `{}` ({})", event.kind, relative(&path)));
                    }
                    for (name, _) in &event.fields {
                        if !fields.contains(name.as_ref()) {
                            unregistered.insert(format!(
                                "field `{name}` of `{}` ({})",
                                event.kind,
                                relative(&path)
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(seen > 1000, "only {seen} application events seen");
    assert!(
        unregistered.is_empty(),
        "emitted but not registered:\n{}",
        unregistered.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn a_long_trace_is_snapshot_as_a_focused_view_that_still_sees_every_change() {
    let short = "a\nb\n";
    assert_eq!(reviewable("x.toml", short, || unreachable!()), short);
    let long: String = (0..SNAPSHOT_LINES + 1)
        .map(|i| format!("line {i}\n"))
        .collect();
    let view = reviewable("x.toml", &long, || "SUMMARY\n".into());
    assert!(view.contains("SUMMARY\n"));
    assert!(view.contains("line 0\nline 1\n"));
    assert!(view.contains(&format!("line {}\n", SNAPSHOT_LINES)));
    assert!(!view.contains(&format!("line {}\n", HEAD_LINES)));
    assert!(view.lines().count() < HEAD_LINES + TAIL_LINES + 10);
    // A change in the lines left out still changes the view.
    let changed = long.replace(&format!("line {}\n", HEAD_LINES + 1), "changed\n");
    assert_ne!(reviewable("x.toml", &changed, || "SUMMARY\n".into()), view);
}

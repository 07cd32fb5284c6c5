//! Every scenario in `scenarios/`, and every broken one in `tests/broken/`.
//!
//! For each scenario: its text trace is snapshot-tested, all of its
//! expectations pass, and two runs give byte-identical output. For each
//! broken scenario: loading fails, and the error message is snapshot-tested.

use simnet::{Format, render, run_scenario, verdicts};
use std::path::Path;

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
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
        let scenario = load(path);
        assert!(
            !scenario.expectations.is_empty(),
            "{}: a scenario must check something",
            relative(path)
        );
        let run = run_scenario(&scenario, None, None);
        let failed: Vec<String> = run
            .outcomes
            .iter()
            .filter(|o| !o.passed)
            .map(|o| o.to_string())
            .collect();
        assert!(
            failed.is_empty(),
            "{}:\n{}",
            relative(path),
            failed.join("\n")
        );
        let mut text = String::from_utf8(render(&run, Format::Text)).unwrap();
        text.push('\n');
        text.push_str(&verdicts(&run));
        insta::assert_snapshot!(text);
    });
}
// ANCHOR_END: every_scenario

#[test]
fn every_scenario_is_deterministic_in_every_format() {
    insta::glob!("../../scenarios", "**/*.toml", |path| {
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

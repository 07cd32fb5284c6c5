//! Conditions on event fields, verdicts of runs that stopped early or went
//! idle, and the labels generated for claims.

use super::*;

// ---------------------------------------------------------------- conditions

#[test]
fn conditions_read_from_toml() {
    use toml::Value;
    let read = |v: Value| FieldMatch::from_toml(&v);
    let ms = SimDuration::from_millis;
    assert_eq!(
        read(Value::Integer(200)),
        Ok(FieldMatch::Int(Quantity::Exactly(200)))
    );
    assert_eq!(
        read(Value::Integer(0)),
        Ok(FieldMatch::Int(Quantity::Exactly(0)))
    );
    assert_eq!(read(Value::Boolean(false)), Ok(FieldMatch::Bool(false)));
    assert_eq!(
        read(Value::Integer(-1)),
        Err("cannot compare with a integer".into())
    );
    assert_eq!(
        read(Value::Float(1.5)),
        Err("cannot compare with a float".into())
    );
    for (text, cmp) in [
        ("<= 5ms", Compare::LessEq),
        (">= 5ms", Compare::GreaterEq),
        ("< 5ms", Compare::Less),
        ("> 5ms", Compare::Greater),
        ("= 5ms", Compare::Equal),
        ("  <5ms", Compare::Less),
    ] {
        assert_eq!(
            read(Value::String(text.into())),
            Ok(FieldMatch::Duration(cmp, ms(5))),
            "{text}"
        );
    }
    for (text, q) in [
        (">= 3", Quantity::AtLeast(3)),
        ("> 3", Quantity::AtLeast(4)),
        ("<= 3", Quantity::AtMost(3)),
        ("< 3", Quantity::AtMost(2)),
        ("= 3", Quantity::Exactly(3)),
    ] {
        assert_eq!(
            read(Value::String(text.into())),
            Ok(FieldMatch::Int(q)),
            "{text}"
        );
    }
    // Anything else is text, kept as written.
    assert_eq!(
        read(Value::String("GET".into())),
        Ok(FieldMatch::Text("GET".into()))
    );
    // A range of numbers is a count (it used to be compared as text, and
    // so matched nothing); anything else with dots stays text.
    assert_eq!(
        read(Value::String("200..299".into())),
        Ok(FieldMatch::Int(Quantity::Between(200, 299)))
    );
    assert_eq!(
        read(Value::String("2..=5".into())),
        Ok(FieldMatch::Int(Quantity::Between(2, 5)))
    );
    assert!(read(Value::String("5..2".into())).is_err());
    assert_eq!(
        read(Value::String("1.2..beta".into())),
        Ok(FieldMatch::Text("1.2..beta".into()))
    );
    assert_eq!(
        read(Value::String("a..1".into())),
        Ok(FieldMatch::Text("a..1".into()))
    );
    assert!(read(Value::String(">= lots".into())).is_err());
}

#[test]
fn conditions_hold_only_for_values_of_their_type() {
    let d = |ms| FieldValue::Duration(SimDuration::from_millis(ms));
    let five = FieldMatch::Int(Quantity::Exactly(5));
    assert!(five.holds(&FieldValue::Int(5)));
    assert!(!five.holds(&FieldValue::Int(6)));
    assert!(!five.holds(&FieldValue::Text("5".into())));
    assert!(!five.holds(&d(5)));
    // A negative number satisfies no count, not even `<= 0`.
    assert!(!FieldMatch::Int(Quantity::AtMost(0)).holds(&FieldValue::Int(-1)));
    assert!(FieldMatch::Int(Quantity::AtMost(0)).holds(&FieldValue::Int(0)));
    assert!(FieldMatch::Bool(true).holds(&FieldValue::Bool(true)));
    assert!(!FieldMatch::Bool(true).holds(&FieldValue::Bool(false)));
    assert!(!FieldMatch::Bool(true).holds(&FieldValue::Text("true".into())));
    assert!(!FieldMatch::Bool(true).holds(&FieldValue::Int(1)));
    assert!(FieldMatch::Text("20ms".into()).holds(&d(20)));
    assert!(!FieldMatch::Text("20ms".into()).holds(&d(21)));
    let under = FieldMatch::Duration(Compare::Less, SimDuration::from_millis(5));
    assert!(under.holds(&d(4)));
    assert!(!under.holds(&d(5)));
    assert!(!under.holds(&FieldValue::Int(1)));
}

#[test]
fn conditions_print_as_written() {
    let d = SimDuration::from_millis(5);
    let shown: Vec<String> = [
        FieldMatch::Text("GET".into()),
        FieldMatch::Int(Quantity::AtLeast(3)),
        FieldMatch::Bool(true),
        FieldMatch::Duration(Compare::Less, d),
        FieldMatch::Duration(Compare::LessEq, d),
        FieldMatch::Duration(Compare::Greater, d),
        FieldMatch::Duration(Compare::GreaterEq, d),
        FieldMatch::Duration(Compare::Equal, d),
    ]
    .iter()
    .map(|m| m.to_string())
    .collect();
    assert_eq!(
        shown,
        [
            "GET", ">= 3", "true", "< 5ms", "<= 5ms", "> 5ms", ">= 5ms", "= 5ms"
        ]
    );
}

// ---------------------------------------------------------------- verdicts

#[test]
fn a_claim_after_a_run_stopped_early_is_not_reached() {
    let mut b = sockets();
    b.trace = Trace {
        topology: b.trace.topology.clone(),
        records: b
            .trace
            .records
            .iter()
            .filter(|r| !matches!(r.event, TraceEvent::RunEnded { .. }))
            .cloned()
            .collect(),
    };
    b.end(ms(10), EndReason::TimeLimit(ms(10)));
    let listen = |at| state(SERVER, TcpState::Listen, Some(at), None, 1);
    check(&b.judge(listen(ms(10))), true, "1");
    check(
        &b.judge(listen(SimTime::from_nanos(ms(10).as_nanos() + 1))),
        false,
        "not reached: the run ended at 10.000ms",
    );
    // Every claim kind with a time is refused the same way.
    let late = ms(11);
    for claim in [
        bytes(None, None, Some(late), Quantity::AtLeast(0)),
        packets(PacketFilter::default(), Some(late), 0),
        events(None, None, &[], Some(late), Quantity::AtLeast(0)),
    ] {
        let o = b.judge(claim);
        assert!(!o.passed, "{o}");
        assert!(o.observed.starts_with("not reached"), "{o}");
    }
    // Claims without a time are judged on what there is.
    check(&b.judge(drops(None, None, 0)), true, "0");
    check(
        &b.judge(flow(FlowMetric::Retransmissions, None, 0)),
        true,
        "0",
    );
    check(
        &b.judge(Claim::TimeWaitOn { host: CLIENT }),
        false,
        "nobody",
    );

    // A trace that never says how it ended was not shown to go idle either.
    let mut unfinished = Build::new();
    unfinished.state(ms(1), SERVER, 1, addr(1, 80), None, TcpState::Listen);
    let o = unfinished.judge(listen(ms(2)));
    check(&o, false, "not reached: the run ended at 1.000ms");
}

#[test]
fn a_claim_after_a_run_went_idle_sees_the_final_state() {
    let b = sockets();
    let claim = state(SERVER, TcpState::Listen, Some(ms(60_000)), None, 1);
    check(&b.judge(claim), true, "1");
    // An empty trace ended at time zero.
    let empty = Build::new();
    let o = empty.judge(state(SERVER, TcpState::Listen, Some(ms(1)), None, 0));
    check(&o, false, "not reached: the run ended at 0.000ms");
}

#[test]
fn labels_are_given_or_generated_and_verdicts_print() {
    let b = sockets();
    let claims = [
        Expectation {
            label: Some("the server still listens".into()),
            claim: state(SERVER, TcpState::Listen, None, None, 1),
        },
        Expectation {
            label: None,
            claim: state(SERVER, TcpState::Listen, None, None, 2),
        },
    ];
    let outcomes = evaluate(&claims, &b.trace, APP_NAMES);
    assert_eq!(
        outcomes.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        [
            "expect the server still listens ... ok (observed 1)",
            "expect server: sockets in LISTEN = 2 ... FAILED (observed 1)",
        ]
    );
}

// ---------------------------------------------------------------- labels

fn label(claim: Claim) -> String {
    describe(&claim, &Build::new().trace.topology, APP_NAMES)
}

#[test]
fn generated_labels_name_every_part_of_the_claim() {
    assert_eq!(
        label(Claim::State {
            host: SERVER,
            state: TcpState::TimeWait,
            at: Some(ms(1500)),
            port: Some(80),
            count: Quantity::AtLeast(2),
        }),
        "server: sockets in TIME-WAIT on port 80 at 1.5s = >= 2"
    );
    assert_eq!(
        label(state(CLIENT, TcpState::Established, None, None, 1)),
        "client: sockets in ESTABLISHED = 1"
    );
    assert_eq!(
        label(Claim::TimeWaitOn { host: CLIENT }),
        "TIME-WAIT held by client only"
    );
    let q = Quantity::Between(1, 3);
    assert_eq!(
        label(bytes(Some(SERVER), Some(METRICS), Some(ms(2)), q)),
        "metrics: bytes received at 2ms = 1..3"
    );
    assert_eq!(
        label(bytes(Some(SERVER), None, None, q)),
        "server: bytes received = 1..3"
    );
    assert_eq!(
        label(bytes(None, None, None, q)),
        "everyone: bytes received = 1..3"
    );
    assert_eq!(
        label(bytes(None, Some(AppId(9)), None, q)),
        "?: bytes received = 1..3"
    );
    assert_eq!(
        label(drops(Some(DropReason::QueueFull), Some(CLIENT), 0)),
        "frames dropped (queue-full) from client = 0"
    );
    assert_eq!(label(drops(None, None, 0)), "frames dropped = 0");
    // `host` names the data sender: it sends retransmissions and probes,
    // and is sent the duplicate ACKs and zero windows of its receiver.
    for (metric, name) in [
        (
            FlowMetric::Retransmissions,
            "retransmissions sent by server = 0",
        ),
        (
            FlowMetric::DuplicateAcks,
            "duplicate ACKs received by server = 0",
        ),
        (FlowMetric::WindowProbes, "window probes sent by server = 0"),
        (
            FlowMetric::ZeroWindows,
            "zero-window periods advertised to server = 0",
        ),
    ] {
        assert_eq!(label(flow(metric, Some(SERVER), 0)), name);
    }
    for (metric, name) in [
        (FlowMetric::Retransmissions, "retransmissions = 1"),
        (FlowMetric::DuplicateAcks, "duplicate ACKs = 1"),
        (FlowMetric::WindowProbes, "window probes = 1"),
        (FlowMetric::ZeroWindows, "zero-window periods = 1"),
    ] {
        assert_eq!(label(flow(metric, None, 1)), name);
    }
}

#[test]
fn generated_labels_of_packet_and_event_claims() {
    assert_eq!(
        label(packets(PacketFilter::default(), None, 3)),
        "packets = 3"
    );
    let all = PacketFilter {
        flags: TcpFlags::parse("S"),
        flags_exact: TcpFlags::parse("S."),
        payload: Some(true),
        from: Some(CLIENT),
        to: Some(SERVER),
        len: Some(10),
        zero_window: Some(true),
        port: Some(80),
        ..Default::default()
    };
    assert_eq!(
        label(packets(all, Some(ms(3)), 1)),
        "packets with S exactly S. with payload from client to server of 10 bytes \
         advertising a zero window on port 80 at 3ms = 1"
    );
    let empty = PacketFilter {
        payload: Some(false),
        zero_window: Some(false),
        ..Default::default()
    };
    assert_eq!(
        label(packets(empty, None, 0)),
        "packets without payload = 0"
    );

    let n = Quantity::Exactly;
    assert_eq!(
        label(events(None, None, &[], None, n(1))),
        "events http.response = 1"
    );
    assert_eq!(
        label(events(Some(CLIENT), None, &[], Some(ms(2)), n(1))),
        "events http.response on client at 2ms = 1"
    );
    // The application names the source better than its host.
    assert_eq!(
        label(events(
            Some(CLIENT),
            Some(FETCH),
            &[
                ("status", FieldMatch::Int(n(200))),
                ("latency", field("< 5ms"))
            ],
            None,
            Quantity::AtLeast(2),
        )),
        "events http.response from fetch where status 200, latency < 5ms = >= 2"
    );
    assert_eq!(
        label(events(None, Some(AppId(7)), &[], None, n(1))),
        "events http.response from ? = 1"
    );
}

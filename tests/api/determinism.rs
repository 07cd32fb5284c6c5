//! Same seed, same bytes; different seed, different luck.

use crate::{pair, text};
use simnet::apps::{BulkSender, Sink};
use simnet::{LinkParams, Probability, SimDuration};

fn lossy_run(seed: u64) -> String {
    let params = LinkParams {
        latency: SimDuration::from_millis(5),
        jitter: SimDuration::from_millis(2),
        loss: Probability::from_percent(5.0),
        ..LinkParams::default()
    };
    let (mut b, client, server) = pair(seed, params);
    b.app(server, "sink", || Sink::new(80));
    b.app(client, "bulk", || {
        BulkSender::new("10.0.0.2:80".parse().unwrap(), 200_000)
    });
    let mut w = b.build().unwrap();
    w.run();
    text(&w)
}

#[test]
fn same_seed_gives_identical_trace_bytes() {
    let a = lossy_run(42);
    let b = lossy_run(42);
    assert!(a.len() > 10_000);
    assert_eq!(a, b);
}

#[test]
fn different_seed_on_a_lossy_link_gives_a_different_trace() {
    assert_ne!(lossy_run(42), lossy_run(43));
}

/// A sink that keeps every record it is handed.
#[derive(Default)]
struct Collect(Vec<simnet::TraceRecord>);

impl simnet::TraceSink for Collect {
    fn record(&mut self, _: &simnet::Topology, record: &simnet::TraceRecord) {
        self.0.push(record.clone());
    }
}

#[test]
fn a_streamed_run_hands_over_the_records_a_stored_run_keeps() {
    let run = |stream: bool| {
        let params = LinkParams {
            latency: SimDuration::from_millis(5),
            loss: Probability::from_percent(5.0),
            ..LinkParams::default()
        };
        let (mut b, client, server) = pair(7, params);
        b.app(server, "sink", || Sink::new(80));
        b.app(client, "bulk", || {
            BulkSender::new("10.0.0.2:80".parse().unwrap(), 100_000)
        });
        let mut w = b.build().unwrap();
        let sink = std::rc::Rc::new(std::cell::RefCell::new(Collect::default()));
        if stream {
            w.stream_to(Box::new(sink.clone()));
        }
        w.run();
        let produced = w.records_produced();
        let mut trace = w.take_trace();
        if stream {
            assert!(trace.records.is_empty(), "a streamed run stores nothing");
            trace.records = std::mem::take(&mut sink.borrow_mut().0)
                .into_iter()
                .collect();
        }
        assert_eq!(produced, trace.records.len() as u64);
        simnet::render_text(&trace, &simnet::TextOptions::default())
    };
    let stored = run(false);
    assert!(stored.len() > 10_000);
    assert_eq!(stored, run(true));
}

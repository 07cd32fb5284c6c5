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

//! Reliability: whatever the link does, the stream arrives whole.

use crate::pair;
use proptest::prelude::*;
use simnet::apps::{BulkSender, Sink};
use simnet::{EndReason, LinkParams, Probability, SimDuration, TraceEvent};

const MIB: u64 = 1024 * 1024;

fn transfer(seed: u64, params: LinkParams) -> (Sink, Vec<TraceEvent>) {
    let (mut b, client, server) = pair(seed, params);
    let sink = b.app(server, "sink", || Sink::new(80));
    b.app(client, "bulk", || {
        BulkSender::new("10.0.0.2:80".parse().unwrap(), MIB)
    });
    let mut w = b.build().unwrap();
    let end = w.run();
    assert_eq!(
        end,
        EndReason::Idle,
        "the transfer must finish, not hit a limit"
    );
    let events = w.trace().records.iter().map(|r| r.event.clone()).collect();
    (w.app::<Sink>(sink).unwrap().clone(), events)
}

/// The most each fault goes to in [`a_mebibyte_survives_any_fault_mix`], in
/// parts per million (loss 30%, duplication and reordering 10%, corruption
/// 5%) and milliseconds of jitter.
const MAX_LOSS: u32 = 300_000;
const MAX_DUPLICATE: u32 = 100_000;
const MAX_REORDER: u32 = 100_000;
const MAX_CORRUPT: u32 = 50_000;
const MAX_JITTER_MS: u64 = 20;

/// A 1 MiB transfer over a 5 ms link with these faults; checks that it
/// arrives complete, in order and intact. Returns the events, for more checks.
fn survives(
    seed: u64,
    loss: u32,
    duplicate: u32,
    reorder: u32,
    corrupt: u32,
    jitter_ms: u64,
) -> Result<Vec<TraceEvent>, TestCaseError> {
    let params = LinkParams {
        latency: SimDuration::from_millis(5),
        jitter: SimDuration::from_millis(jitter_ms),
        jitter_reorders: true,
        loss: Probability::from_ppm(loss),
        duplicate: Probability::from_ppm(duplicate),
        reorder: Probability::from_ppm(reorder),
        reorder_delay: SimDuration::from_millis(7),
        corrupt: Probability::from_ppm(corrupt),
        ..LinkParams::default()
    };
    let (sink, events) = transfer(seed, params);
    prop_assert_eq!(sink.bytes_received, MIB);
    prop_assert_eq!(sink.first_mismatch, None);
    // Every corrupted frame (and its duplicate, if any) is thrown away by the receiver.
    let corrupted = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::FrameCorrupted { .. }))
        .count();
    let discarded = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::FrameDiscarded { .. }))
        .count();
    prop_assert!(discarded >= corrupted);
    Ok(events)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    /// Under any mix of loss (up to 30%), duplication, reordering, jitter and
    /// corruption, 1 MiB arrives complete, in order and intact.
    #[test]
    fn a_mebibyte_survives_any_fault_mix(
        seed in any::<u64>(),
        loss in 0u32..=MAX_LOSS,
        duplicate in 0u32..=MAX_DUPLICATE,
        reorder in 0u32..=MAX_REORDER,
        corrupt in 0u32..=MAX_CORRUPT,
        jitter_ms in 0u64..=MAX_JITTER_MS,
    ) {
        survives(seed, loss, duplicate, reorder, corrupt, jitter_ms)?;
    }
}

/// The proptest's far corner, tried on every run rather than left to
/// chance: 30% loss with every other fault at its maximum, and the link
/// really loses close to 30% of the frames.
#[test]
fn a_mebibyte_survives_the_worst_fault_mix() {
    let events = survives(
        1,
        MAX_LOSS,
        MAX_DUPLICATE,
        MAX_REORDER,
        MAX_CORRUPT,
        MAX_JITTER_MS,
    )
    .unwrap();
    let count = |f: fn(&TraceEvent) -> bool| events.iter().filter(|e| f(e)).count();
    let sent = count(|e| matches!(e, TraceEvent::PacketSent { .. }));
    let lost = count(|e| {
        matches!(
            e,
            TraceEvent::FrameDropped {
                reason: simnet::DropReason::Loss,
                ..
            }
        )
    });
    assert!(
        (sent * 25..=sent * 35).contains(&(lost * 100)),
        "{lost} of {sent} frames lost"
    );
}

#[test]
fn corruption_is_caught_by_checksums() {
    let params = LinkParams {
        latency: SimDuration::from_millis(5),
        corrupt: Probability::from_percent(10.0),
        ..LinkParams::default()
    };
    let (sink, events) = transfer(3, params);
    let corrupted = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::FrameCorrupted { .. }))
        .count();
    use simnet::trace::DiscardReason::{BadChecksum, Malformed};
    let discarded = |reason| {
        events
            .iter()
            .filter(|e| matches!(e, TraceEvent::FrameDiscarded { reason: r, .. } if *r == reason))
            .count()
    };
    assert!(corrupted > 10);
    // A single flipped bit always breaks the Internet checksum, unless it
    // breaks the IP header's structure (version, length) first.
    assert!(discarded(BadChecksum) > corrupted * 9 / 10);
    assert_eq!(discarded(BadChecksum) + discarded(Malformed), corrupted);
    assert_eq!(sink.bytes_received, MIB);
    assert_eq!(sink.first_mismatch, None);
}

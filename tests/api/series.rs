//! The analysis behind plots and summaries, checked against the raw packets,
//! and the SVG it draws.

use crate::pair;
use simnet::analysis::{SegmentKind, analyze};
use simnet::apps::{BulkSender, Sink};
use simnet::{LinkParams, Probability, SimDuration, World};

fn lossy_transfer() -> World {
    let params = LinkParams {
        latency: SimDuration::from_millis(5),
        loss: Probability::from_percent(3.0),
        bandwidth_bps: Some(20_000_000),
        queue_bytes_max: 8 * 1024,
        ..LinkParams::default()
    };
    let (mut b, client, server) = pair(5, params);
    b.app(server, "sink", || Sink::new(80));
    b.app(client, "bulk", || {
        BulkSender::new("10.0.0.2:80".parse().unwrap(), 300_000)
    });
    let mut w = b.build().unwrap();
    w.run();
    w
}

/// Recomputes, from the packets alone, which data segments resend bytes
/// already sent, and compares with the analysis's retransmissions.
#[test]
fn every_retransmission_in_the_series_resends_bytes_already_sent() {
    let w = lossy_transfer();
    let analysis = analyze(w.trace());
    let c = &analysis.connections[0];
    let flow = &c.to_server;
    assert!(
        flow.retransmissions() > 5,
        "a lossy link must cause retransmissions"
    );

    // Independent recomputation from the client's data packets.
    let client = w.host_id("client").unwrap();
    let mut isn = None;
    let mut highest = 0u32;
    let mut resent = Vec::new();
    for (_, from, info) in w.trace().packets() {
        let Some(tcp) = info.tcp() else { continue };
        if from != client {
            continue;
        }
        let isn = *isn.get_or_insert(tcp.seq);
        let start = tcp.seq.wrapping_sub(isn);
        let end = start + tcp.seq_len();
        if tcp.payload_len > 0 && end <= highest {
            resent.push(start);
        }
        highest = highest.max(end);
    }
    let retrans: Vec<u32> = flow
        .segments
        .iter()
        .filter(|s| s.kind == SegmentKind::Retransmission && s.len > 0)
        .map(|s| s.start)
        .collect();
    assert_eq!(retrans, resent);
    // Bytes counted once however often they were sent.
    assert_eq!(flow.bytes, 300_000);
    assert!(flow.bytes_sent > flow.bytes);
}

#[test]
fn zero_window_periods_match_the_windows_on_the_wire() {
    let (mut b, client, server) = pair(1, LinkParams::with_latency(SimDuration::from_millis(5)));
    b.app(server, "slow", || {
        Sink::slow(80, 2048, SimDuration::from_millis(400))
    });
    b.app(client, "bulk", || {
        BulkSender::new("10.0.0.2:80".parse().unwrap(), 100_000)
    });
    let mut w = b.build().unwrap();
    w.run();
    let analysis = analyze(w.trace());
    let flow = &analysis.connections[0].to_server;
    // Each period starts at a packet from the server advertising window 0
    // after one that did not.
    let server_id = w.host_id("server").unwrap();
    let mut closings = 0;
    let mut shut = false;
    for (_, from, info) in w.trace().packets() {
        let Some(tcp) = info.tcp() else { continue };
        if from != server_id || tcp.flags.syn() || tcp.flags.rst() {
            continue;
        }
        if tcp.window == 0 && !shut {
            closings += 1;
        }
        shut = tcp.window == 0;
    }
    assert!(closings > 3);
    assert_eq!(flow.zero_windows.len(), closings);
    assert!(
        flow.window_probes() > 0
            || flow
                .zero_windows
                .iter()
                .all(|(a, b)| b.is_some_and(|b| b - *a < SimDuration::from_secs(1)))
    );
}

#[test]
fn svg_is_well_formed_and_labelled() {
    let w = lossy_transfer();
    let svg = simnet::render::plot::render_svg(w.trace(), &Default::default());
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    for label in [
        "time (ms)",
        "sequence number (bytes, relative)",
        "retransmission",
        "bytes queued",
        "dropped frame",
    ] {
        assert!(svg.contains(label), "missing {label}");
    }
}

#[test]
fn svg_of_a_small_transfer_matches_its_snapshot() {
    let (mut b, client, server) = pair(1, LinkParams::with_latency(SimDuration::from_millis(10)));
    b.app(server, "sink", || Sink::new(80));
    b.app(client, "bulk", || {
        BulkSender::new("10.0.0.2:80".parse().unwrap(), 6000)
    });
    let mut w = b.build().unwrap();
    w.run();
    let svg = simnet::render::plot::render_svg(w.trace(), &Default::default());
    roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    insta::assert_snapshot!(svg);
}

/// RFC 5681's duplicate ACK, checked in the zero-window scenario: the ACKs
/// answering window probes while the window stays shut are duplicates (the
/// probe's byte is outstanding, the ACK number and the zero window do not
/// change), and nothing else in that transfer is.
#[test]
fn window_probe_answers_are_duplicate_acks_as_rfc_5681_defines_them() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tcp/zero-window.toml");
    let scenario = simnet::scenario::load(&path, &simnet::registry()).unwrap();
    let trace = simnet::run_scenario(&scenario, None, None).trace;
    let analysis = analyze(&trace);
    let flow = &analysis.connections[0].to_server;
    let probes: Vec<_> = flow
        .segments
        .iter()
        .filter(|s| s.kind == SegmentKind::WindowProbe)
        .collect();
    assert_eq!(probes.len(), 8);
    let dups: Vec<_> = flow.acks.iter().filter(|a| a.duplicate).collect();
    assert_eq!(dups.len(), probes.len());
    for (probe, ack) in probes.iter().zip(&dups) {
        // (a) the probe's byte is outstanding: sent, not acknowledged.
        assert_eq!(ack.ack, probe.start);
        assert!(probe.end > ack.ack);
        assert!(ack.time > probe.time);
        // (e) the window is unchanged: still shut.
        assert_eq!(ack.window, 0);
    }
}

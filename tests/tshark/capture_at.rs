//! `--capture-at`: the capture at one node of a topology scenario.

use super::*;
use simnet::render::render_pcap_at;

/// What a node saw, counted from the trace: what it sent (as a host, or
/// forwarded as a router) and what reached it.
fn expected_at(trace: &Trace, node: HostId) -> (usize, usize) {
    let (mut sent, mut arrived) = (0, 0);
    // Frames on their way to the node.
    let mut coming = BTreeSet::new();
    for r in trace.records.iter() {
        match &r.event {
            TraceEvent::PacketSent {
                frame, from, to, ..
            } => {
                if *from == node {
                    sent += 1;
                }
                if *to == Some(node) {
                    coming.insert(*frame);
                }
            }
            TraceEvent::FrameForwarded {
                frame, router, to, ..
            } => {
                if coming.remove(frame) && *router == node {
                    arrived += 1;
                }
                if *router == node {
                    sent += 1;
                }
                if *to == node {
                    coming.insert(*frame);
                }
            }
            TraceEvent::FrameDuplicated { frame, copy } if coming.contains(frame) => {
                coming.insert(*copy);
            }
            // The frame's hop ended: at the node, or elsewhere.
            TraceEvent::FrameDelivered { frame, to: at }
            | TraceEvent::FrameDiscarded {
                frame, host: at, ..
            }
            | TraceEvent::FrameDropped {
                frame, from: at, ..
            } => arrived += usize::from(coming.remove(frame) && *at == node),
            _ => {}
        }
    }
    (sent, arrived)
}

#[test]
fn a_capture_at_any_node_of_a_topology_is_clean_in_tshark() {
    if !tshark_available() {
        return;
    }
    let dir = scenarios_dir().join("topology");
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in simnet::scenario_files(&dir).expect("scenarios/topology") {
        // The first 3 s hold every kind of hop (the bulk scenarios run
        // for half a minute, and their captures would only grow).
        let name = path.display().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        let scenario = simnet::scenario::parse(&name, &source, &simnet::registry()).unwrap();
        let until = Some(SimTime::from_secs(3));
        let trace = simnet::run_scenario_with(&scenario, None, until, Capture::Full).trace;
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        for (i, host) in trace.topology.hosts.iter().enumerate() {
            let node = HostId(i as u32);
            let (sent, arrived) = expected_at(&trace, node);
            let file = capture_path(&format!("at-{stem}-{}.pcap", host.name));
            std::fs::write(&file, render_pcap_at(&trace, node)).unwrap();
            match expert_errors(&file) {
                Ok(None) => {}
                Ok(Some(report)) => problems.push(format!("{}: {report}", file.display())),
                Err(e) => problems.push(e),
            }
            let lines = tshark(&file, &["-T", "fields", "-e", "ip.ttl"]).unwrap_or_default();
            let packets = lines.lines().count();
            if packets != sent + arrived {
                problems.push(format!(
                    "{}: tshark reads {packets} packets, the trace says {sent} sent and {arrived} arrived",
                    file.display()
                ));
            }
            // A router sends on each packet with one TTL less than it came with.
            if host.router && sent > 0 {
                let ttls: Vec<u8> = lines
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect();
                if !ttls.iter().any(|t| *t < 64) {
                    problems.push(format!("{}: no decremented TTL", file.display()));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} captures");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

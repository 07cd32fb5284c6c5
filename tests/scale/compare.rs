//! Runs a world twice, with one of the host's speed-ups switched off and on,
//! and checks that the two runs agree on everything a user can see.
//!
//! The runs must agree on every trace record (compared through their
//! `Debug` form, which includes every packet's bytes), on the rendered text
//! trace, on the packet bytes that go into a pcap, and on every host's
//! socket table at the end. Each run also reports how much the speed-up was
//! used, so a test can check that agreement is not vacuous.

use simnet::{HostId, TextOptions, Trace, TraceEvent, World, render_text};

/// A host speed-up that must not change what a host does.
#[derive(Clone, Copy, Debug)]
pub enum Switch {
    /// Connections in TIME-WAIT kept as records instead of smoltcp sockets
    /// (`HostConfig::time_wait_minisockets`).
    TimeWaitRecords,
    /// Finished connections' smoltcp sockets reused for new ones
    /// (`HostConfig::recycle_sockets`).
    SocketRecycling,
}

impl Switch {
    fn set(self, world: &mut World, on: bool) {
        match self {
            Switch::TimeWaitRecords => world.set_time_wait_minisockets(on),
            Switch::SocketRecycling => world.set_socket_recycling(on),
        }
    }
}

/// What a run produced that must not depend on the switch.
pub struct Run {
    /// Every trace record, `Debug`-formatted.
    records: Vec<String>,
    /// The text timeline.
    pub text: String,
    /// The IPv4 packets sent, in order (what a pcap holds).
    packets: Vec<Vec<u8>>,
    /// Every host's socket table at the end.
    tables: String,
    /// How much the speed-up was used: for TIME-WAIT records the most any
    /// host held at once, for recycling the sockets all hosts reused.
    pub used: u64,
    pub trace: Trace,
}

fn run(mut world: World, switch: Switch, on: bool) -> Run {
    switch.set(&mut world, on);
    let hosts: Vec<HostId> = (0..world.trace().topology.hosts.len() as u32)
        .map(HostId)
        .collect();
    let mut peak_records = 0;
    // Exactly `World::run`, with a look at the hosts after every event.
    world.run_while_not(|w| {
        for h in &hosts {
            peak_records = peak_records.max(w.time_wait_records(*h) as u64);
        }
        false
    });
    let used = match switch {
        Switch::TimeWaitRecords => peak_records,
        Switch::SocketRecycling => hosts.iter().map(|h| world.sockets_recycled(*h)).sum(),
    };
    let tables = hosts
        .iter()
        .map(|h| format!("{:?}\n", world.socket_table(*h)))
        .collect();
    let trace = world.take_trace();
    let records = trace.records.iter().map(|r| format!("{r:?}")).collect();
    let packets = trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketSent { bytes, .. } => Some(bytes.to_vec()),
            _ => None,
        })
        .collect();
    Run {
        records,
        text: render_text(&trace, &TextOptions::default()),
        packets,
        tables,
        used,
        trace,
    }
}

/// Runs `make()` with `switch` off and on, asserts the runs agree, and
/// returns the run with it on.
pub fn both_ways(switch: Switch, name: &str, make: impl Fn() -> World) -> Run {
    let off = run(make(), switch, false);
    let on = run(make(), switch, true);
    assert_eq!(off.used, 0, "{name}: {switch:?} was used while off");
    if let Some((i, a, b)) = first_difference(&off.records, &on.records) {
        panic!("{name}: trace record {i} differs\n  off: {a}\n  on:  {b}");
    }
    let (off_lines, on_lines): (Vec<_>, Vec<_>) = (
        off.text.lines().map(str::to_string).collect(),
        on.text.lines().map(str::to_string).collect(),
    );
    if let Some((i, a, b)) = first_difference(&off_lines, &on_lines) {
        panic!("{name}: text line {i} differs\n  off: {a}\n  on:  {b}");
    }
    assert!(
        off.packets == on.packets,
        "{name}: packet bytes differ ({} vs {} packets)",
        off.packets.len(),
        on.packets.len()
    );
    assert_eq!(off.tables, on.tables, "{name}: socket tables differ");
    on
}

fn first_difference(a: &[String], b: &[String]) -> Option<(usize, String, String)> {
    let n = a.len().max(b.len());
    (0..n).find_map(|i| {
        let (x, y) = (a.get(i), b.get(i));
        (x != y).then(|| {
            let show = |s: Option<&String>| s.cloned().unwrap_or_else(|| "(none)".into());
            (i, show(x), show(y))
        })
    })
}

/// Runs every scenario under `scenarios/` both ways ([`both_ways`]), and
/// asserts that each scenario of `must_use` used the speed-up when on, so
/// the agreement is not vacuous.
pub fn every_scenario_both_ways(switch: Switch, must_use: &[&str]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let files =
        simnet::quick_scenario_files(&root.join("scenarios")).expect("scenarios/ is readable");
    assert!(files.len() > 10, "found only {} scenarios", files.len());
    let registry = simnet::registry();
    let mut used = Vec::new();
    for path in files {
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        let scenario = simnet::scenario::parse(&name, &source, &registry)
            .unwrap_or_else(|e| panic!("{name} does not load:\n{e}"));
        if both_ways(switch, &name, || scenario.world(None, None)).used > 0 {
            used.push(name);
        }
    }
    for must in must_use {
        assert!(
            used.iter().any(|u| u == must),
            "{must} did not use {switch:?} (used in: {used:?})"
        );
    }
}

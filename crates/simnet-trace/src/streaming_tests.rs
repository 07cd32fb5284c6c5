//! The streamed and the stored paths give the same bytes, and the streaming
//! writers hold state bounded by what is in flight, not by the run.
//!
//! Each world is run twice from the same seed: once storing its trace (then
//! rendered by `render_text`, `render_jsonl`, `render_pcap`,
//! `render_pcapng`), once streaming every record through
//! [`World::stream_to`] into the writers, all four at once.

use crate::jsonl::JsonlWriter;
use crate::pcap::{PcapWriter, PcapngWriter};
use crate::text::{TextOptions, TextWriter};
use crate::{render_jsonl, render_pcap, render_pcapng, render_text};
use simnet_core::apps::{
    BulkSender, Piece, RawClient, RawClose, RawServer, Sink, TcpClient, TcpEcho, UdpEcho, UdpSender,
};
use simnet_core::trace::{Topology, TraceRecord, TraceSink};
use simnet_core::{
    Action, FaultAction, LinkParams, PacketFilter, Probability, SimDuration, SimTime,
    TargetedFault, World, WorldBuilder,
};
use std::cell::RefCell;
use std::rc::Rc;

/// A bulk transfer over a link that loses 5 % of frames.
fn lossy() -> World {
    let mut b = WorldBuilder::new(7);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    let params = LinkParams {
        latency: SimDuration::from_millis(5),
        loss: Probability::from_percent(5.0),
        ..LinkParams::default()
    };
    b.link(client, server, params);
    b.app(server, "sink", || Sink::new(80));
    b.app(client, "bulk", || {
        BulkSender::new("10.0.0.2:80".parse().unwrap(), 1_000_000)
    });
    b.build().unwrap()
}

/// Echo and bulk traffic over a link that duplicates, reorders, corrupts
/// and jitters, with a bandwidth limit (frames queue), a targeted fault
/// that delays and one that duplicates, and UDP alongside.
fn mangled() -> World {
    let mut b = WorldBuilder::new(11);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server-with-a-long-name", [10, 0, 0, 2].into());
    let params = LinkParams {
        latency: SimDuration::from_millis(10),
        jitter: SimDuration::from_millis(3),
        loss: Probability::from_percent(2.0),
        duplicate: Probability::from_percent(10.0),
        reorder: Probability::from_percent(10.0),
        reorder_delay: SimDuration::from_millis(7),
        corrupt: Probability::from_percent(3.0),
        bandwidth_bps: Some(2_000_000),
        ..LinkParams::default()
    };
    b.link(client, server, params);
    b.app(server, "tcp-echo", || TcpEcho::new(7));
    b.app(server, "sink", || Sink::new(80));
    b.app(server, "udp-echo", || UdpEcho::new(9));
    b.app(client, "tcp-client", || {
        TcpClient::new("10.0.0.2:7".parse().unwrap(), b"hello, world", 12)
    });
    b.app(client, "bulk", || {
        BulkSender::new("10.0.0.2:80".parse().unwrap(), 150_000)
    });
    b.app(client, "udp", || {
        UdpSender::new(
            "10.0.0.2:9".parse().unwrap(),
            40,
            300,
            SimDuration::from_millis(5),
        )
    });
    for (nth, action) in [
        (3, FaultAction::Delay(SimDuration::from_millis(40))),
        (9, FaultAction::Duplicate),
        (14, FaultAction::Drop),
    ] {
        b.fault(TargetedFault {
            filter: PacketFilter {
                from: Some(client),
                payload: Some(true),
                ..PacketFilter::default()
            },
            nth,
            count: 1,
            action,
        });
    }
    b.build().unwrap()
}

/// Raw peers that write a script (application events), and a link that
/// goes down with frames in flight (frames dropped at arrival) and comes
/// back up.
fn scripted() -> World {
    let mut b = WorldBuilder::new(3);
    let client = b.host("alice", [10, 0, 0, 1].into());
    let server = b.host("bob", [10, 0, 0, 2].into());
    let link = b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(20)),
    );
    let ms = SimDuration::from_millis;
    b.app(server, "raw-server", move || {
        RawServer::new(
            80,
            vec![Piece::now("welcome\n"), Piece::after(ms(30), "bye\n")],
            RawClose::OnEof,
        )
    });
    b.app(client, "raw-client", move || {
        RawClient::new(
            "10.0.0.2:80".parse().unwrap(),
            vec![
                Piece::now("hello\n"),
                Piece::after(ms(50), "more\n"),
                Piece::after(ms(400), "last\n"),
            ],
            RawClose::AfterSend,
        )
    });
    b.at(SimTime::from_millis(75), Action::LinkDown(link));
    b.at(SimTime::from_millis(160), Action::LinkUp(link));
    b.build().unwrap()
}

/// A world to run, by name.
type Make = (&'static str, fn() -> World);

fn worlds() -> [Make; 3] {
    [
        ("lossy", lossy),
        ("mangled", mangled),
        ("scripted", scripted),
    ]
}

/// The four writers, fed together.
struct All {
    text: TextWriter<Vec<u8>>,
    deliveries: TextWriter<Vec<u8>>,
    jsonl: JsonlWriter<Vec<u8>>,
    pcap: PcapWriter<Vec<u8>>,
    pcapng: PcapngWriter<Vec<u8>>,
    /// The most frames any writer held at once, and the records seen.
    most_held: usize,
    records: usize,
}

impl TraceSink for All {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        self.text.record(topology, record);
        self.deliveries.record(topology, record);
        self.jsonl.record(topology, record);
        self.pcap.record(topology, record);
        self.pcapng.record(topology, record);
        self.records += 1;
        let held = [
            self.text.held(),
            self.deliveries.held(),
            self.jsonl.held(),
            self.pcapng.held(),
        ];
        self.most_held = self.most_held.max(held.into_iter().max().unwrap_or(0));
    }
}

fn deliveries() -> TextOptions {
    TextOptions {
        show_deliveries: true,
        show_listen_arming: true,
        absolute_seq: false,
    }
}

/// Runs `make`'s world streaming into all the writers.
fn streamed(make: fn() -> World) -> All {
    let mut world = make();
    let topo = world.trace().topology.clone();
    let all = Rc::new(RefCell::new(All {
        text: TextWriter::new(Vec::new(), &topo, TextOptions::default()),
        deliveries: TextWriter::new(Vec::new(), &topo, deliveries()),
        jsonl: JsonlWriter::new(Vec::new(), &topo),
        pcap: PcapWriter::new(Vec::new()),
        pcapng: PcapngWriter::new(Vec::new(), &topo),
        most_held: 0,
        records: 0,
    }));
    world.stream_to(Box::new(all.clone()));
    world.run();
    assert!(world.trace().records.is_empty(), "nothing stored");
    drop(world);
    Rc::try_unwrap(all)
        .ok()
        .expect("the world let go")
        .into_inner()
}

#[test]
fn every_format_streamed_is_the_stored_bytes() {
    for (name, make) in worlds() {
        let mut world = make();
        world.run();
        let trace = world.take_trace();
        let all = streamed(make);
        assert_eq!(all.records, trace.records.len(), "{name}");
        let text = String::from_utf8(all.text.finish().unwrap()).unwrap();
        assert_eq!(text, render_text(&trace, &TextOptions::default()), "{name}");
        let text = String::from_utf8(all.deliveries.finish().unwrap()).unwrap();
        assert_eq!(text, render_text(&trace, &deliveries()), "{name}");
        let jsonl = String::from_utf8(all.jsonl.finish().unwrap()).unwrap();
        assert_eq!(jsonl, render_jsonl(&trace), "{name}");
        assert!(all.pcap.finish().unwrap() == render_pcap(&trace), "{name}");
        assert!(
            all.pcapng.finish().unwrap() == render_pcapng(&trace),
            "{name}"
        );
    }
}

/// The worlds exercise what makes streaming hard: duplicates, reordering,
/// corruption, queueing, faults, frames dropped in flight, app events.
#[test]
fn the_worlds_have_the_hard_cases() {
    let mut seen = std::collections::BTreeSet::new();
    for (_, make) in worlds() {
        let mut world = make();
        world.run();
        for line in render_jsonl(&world.take_trace()).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let event = v["event"].as_str().unwrap().to_string();
            match v.get("reason").and_then(|r| r.as_str()) {
                Some(reason) if event == "frame_dropped" => {
                    seen.insert(format!("{event}:{reason}"));
                }
                _ => {
                    seen.insert(event);
                }
            }
        }
    }
    for event in [
        "frame_duplicated",
        "frame_delayed",
        "frame_corrupted",
        "frame_queued",
        "frame_discarded",
        "fault",
        "app",
        "frame_dropped:loss",
        "frame_dropped:link-down",
    ] {
        assert!(seen.contains(event), "{event} missing from {seen:?}");
    }
}

/// A long run: what the writers hold stays at what is in flight, far
/// below the frames sent.
#[test]
fn the_writers_hold_only_frames_in_flight() {
    for (name, make) in worlds() {
        let all = streamed(make);
        eprintln!(
            "{name}: {} records, at most {} frames held",
            all.records, all.most_held
        );
        assert!(
            all.records > 1_000 || name == "scripted",
            "{name}: {}",
            all.records
        );
        assert!(all.most_held <= 100, "{name}: held {}", all.most_held);
    }
}

/// A write error is kept and returned by `finish`, not a panic.
#[test]
fn the_first_write_error_is_returned_by_finish() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut world = lossy();
    world.run();
    let trace = world.take_trace();
    let topo = &trace.topology;
    let mut text = TextWriter::new(Broken, topo, TextOptions::default());
    let mut jsonl = JsonlWriter::new(Broken, topo);
    let mut pcap = PcapWriter::new(Broken);
    let mut pcapng = PcapngWriter::new(Broken, topo);
    for sink in [
        &mut text as &mut dyn TraceSink,
        &mut jsonl,
        &mut pcap,
        &mut pcapng,
    ] {
        trace.replay(sink);
    }
    for result in [
        text.finish().map(drop),
        jsonl.finish().map(drop),
        pcap.finish().map(drop),
        pcapng.finish().map(drop),
    ] {
        assert_eq!(result.unwrap_err().to_string(), "disk full");
    }
}

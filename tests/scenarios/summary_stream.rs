//! The summary and the CSV export, streamed: every scenario run once with its
//! records handed to a `Summarizer` and a `SeriesCsv` as they happen
//! (`World::stream_to`, nothing stored) renders the same bytes as the stored
//! trace does through `render_summary` and `render_series_csv`. The
//! scenarios cover lossy links, zero windows, HTTP requests and retries,
//! event delivery over polling, streaming and WebSocket, and WebSocket frames.

use super::{load, relative};
use simnet::TraceSink;
use simnet::render::csv::{SeriesCsv, render_series_csv};
use simnet::render::summary::{Summarizer, render_summary};
use std::cell::RefCell;
use std::rc::Rc;

#[test]
fn every_scenario_streams_the_summary_and_csv_the_stored_trace_renders() {
    let mut summaries = 0;
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if simnet::is_load_scenario(path) {
            return;
        }
        let scenario = load(path);
        let stored = simnet::run_scenario(&scenario, None, None).trace;

        let mut world = scenario.world(None, None);
        let summary = Rc::new(RefCell::new(Summarizer::new()));
        let csv = Rc::new(RefCell::new(SeriesCsv::new()));
        let sinks: Vec<Box<dyn TraceSink>> = vec![Box::new(summary.clone()), Box::new(csv.clone())];
        world.stream_to(Box::new(sinks));
        world.run();
        drop(world.take_sink());
        let streamed = world.take_trace();
        assert!(streamed.records.is_empty(), "{}", relative(path));
        let topology = &streamed.topology;

        let summary = Rc::try_unwrap(summary).ok().unwrap().into_inner();
        let csv = Rc::try_unwrap(csv).ok().unwrap().into_inner();
        assert!(
            summary.finish().render(topology) == render_summary(&stored),
            "{}: the streamed summary differs",
            relative(path)
        );
        assert!(
            csv.finish(topology) == render_series_csv(&stored),
            "{}: the streamed CSV differs",
            relative(path)
        );
        summaries += 1;
    });
    assert!(summaries > 20);
}

/// A sink that keeps nothing.
struct Nothing;

impl TraceSink for Nothing {
    fn record(&mut self, _: &simnet::Topology, _: &simnet::TraceRecord) {}
}

/// The summary's own memory on a big scenario, measured, not asserted:
/// `SIMNET_MEASURE=load.toml SIMNET_SINK=summary|nothing cargo test --test
/// scenarios -- --ignored --nocapture measure_summary` prints the peak
/// resident memory of the streamed run (the difference between the two
/// sinks is what the summary holds).
#[test]
#[ignore]
fn measure_summary_memory() {
    let Ok(path) = std::env::var("SIMNET_MEASURE") else {
        return;
    };
    let source = std::fs::read_to_string(&path).unwrap();
    let scenario = simnet::scenario::parse(&path, &source, &simnet::registry()).unwrap();
    let mut world = scenario.world(None, None);
    world.set_capture(simnet::Capture::Headers);
    let summary = Rc::new(RefCell::new(Summarizer::new()));
    if std::env::var("SIMNET_SINK").as_deref() == Ok("nothing") {
        world.stream_to(Box::new(Nothing));
    } else {
        world.stream_to(Box::new(summary.clone()));
    }
    world.run();
    let records = world.records_produced();
    drop(world.take_sink());
    let topology = world.take_trace().topology;
    let text = Rc::try_unwrap(summary)
        .ok()
        .unwrap()
        .into_inner()
        .finish()
        .render(&topology);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    println!("records {records}, summary {} bytes, {hwm}", text.len());
}

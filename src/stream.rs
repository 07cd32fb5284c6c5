//! Running a scenario with its output written as the run goes.
//!
//! The text timeline, the summary, the CSV series, JSON Lines, pcap and
//! pcapng do not need the whole trace at once: each has a writer that takes
//! the run's records one by one ([`TraceSink`]) and writes its bytes to its
//! destination, or folds them into per-connection aggregates, and the
//! expectations are judged the same way. A streamed run keeps no record
//! after handing it over, so its memory does not grow with its simulated
//! duration. The bytes are the ones [`render`](crate::render()) gives for
//! the stored trace of the same run (the scenario tests compare both paths
//! for every scenario and format).
//!
//! The writer, the judge and any other sink read the records on a thread of
//! their own ([`SinkThread`]): the run goes on making the next records on
//! one core while they read the last ones on another, in the same order.
//! (Not for pcap and pcapng, whose writers do too little per record to be
//! worth the hand-over: [`reads_on_a_thread`].)

use crate::{Format, TextOptions, Topology, TraceRecord, TraceSink, World};
use simnet_core::EndReason;
use simnet_core::analysis::Connection;
use simnet_core::trace::SinkThread;
use simnet_scenario::{Judge, Outcome, Scenario};
use simnet_trace::csv::SeriesCsv;
use simnet_trace::summary::Summarizer;
use simnet_trace::{JsonlWriter, PcapWriter, PcapngWriter, TextWriter};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a streamed run's bytes go: anything written to, that the sinks'
/// thread can own.
pub type StreamOutput = Box<dyn Write + Send>;

/// A scenario run whose output was written as it went: what is left of it
/// once the writer is done (no trace).
pub struct StreamedRun {
    /// The scenario's name.
    pub name: String,
    /// The seed used.
    pub seed: u64,
    /// Who was there (to name hosts in messages).
    pub topology: Topology,
    /// Why the run ended.
    pub end: Option<EndReason>,
    /// One verdict per expectation.
    pub outcomes: Vec<Outcome>,
}

impl StreamedRun {
    /// The expectations that failed, as [`ScenarioRun::failures`](crate::ScenarioRun::failures) gives them.
    pub fn failures(&self) -> Vec<String> {
        crate::failures(&self.outcomes)
    }

    /// The verdicts, one per line, as [`verdicts`](crate::verdicts) gives them.
    pub fn verdicts(&self) -> String {
        crate::verdict_lines(&self.outcomes)
    }
}

/// Runs a scenario to its time limit (or `until`), writing `format` to `out`
/// as the run goes, and judges its expectations as it goes too. `watch` is
/// called after every event (a progress bar's tick: keep it cheap).
///
/// Mermaid and SVG lay out the whole run before drawing anything; they are
/// refused here (`ErrorKind::InvalidInput`): run them with
/// [`run_scenario_with`](crate::run_scenario_with) and
/// [`render_with`](crate::render_with).
pub fn run_scenario_streamed(
    scenario: &Scenario,
    seed: Option<u64>,
    until: Option<crate::SimTime>,
    format: Format,
    out: StreamOutput,
    watch: &mut dyn FnMut(&World),
) -> io::Result<StreamedRun> {
    run_scenario_streamed_with(scenario, seed, until, format, out, Vec::new(), watch)
}

/// [`run_scenario_streamed`], with more sinks fed the same records after the
/// writer and the judge (the command line's `--keylog` writer, say). They
/// run on the sinks' thread; to read one after the run, pass an
/// `Arc<Mutex<_>>` and keep a clone.
pub fn run_scenario_streamed_with(
    scenario: &Scenario,
    seed: Option<u64>,
    until: Option<crate::SimTime>,
    format: Format,
    out: StreamOutput,
    extra: Vec<Box<dyn TraceSink + Send>>,
    watch: &mut dyn FnMut(&World),
) -> io::Result<StreamedRun> {
    let seed = seed.unwrap_or(scenario.seed);
    let mut world = scenario.world(Some(seed), until);
    // Every record is handed to the sinks and dropped: keeping the whole
    // packet costs nothing (it is shared with the frame in flight), where
    // cutting its headers would copy them once per packet.
    // ([`Format::capture`] is for stored traces, which keep every record;
    // the formats that stream render a headers-only trace alike.)
    world.set_capture(crate::Capture::Full);
    let topology = world.trace().topology.clone();
    let writer = Writer::new(
        format,
        &scenario.name,
        &scenario.description,
        seed,
        &topology,
        out,
    )?;
    // The summary analyses every connection anyway: the judge's flow
    // claims read its analysis instead of making a second one.
    let judge = if format == Format::Summary {
        Judge::sharing_connections(&scenario.expectations)
    } else {
        Judge::new(&scenario.expectations)
    };
    let failed = Arc::new(AtomicBool::new(false));
    let sinks = Sinks {
        writer,
        judge,
        extra,
        failed: failed.clone(),
    };
    let sinks = if reads_on_a_thread(format) {
        let thread = SinkThread::spawn(topology.clone(), sinks)?;
        world.stream_to(Box::new(thread.feeder()));
        Running::Thread(thread)
    } else {
        let sinks = Rc::new(RefCell::new(sinks));
        world.stream_to(Box::new(sinks.clone()));
        Running::Inline(sinks)
    };
    // A destination that stopped taking bytes (`| head`, a full disk)
    // ends the run: the rest would be written nowhere. (The run hears of
    // it a few batches of records late; they are written nowhere either.)
    let end = world.run_while_not(|w| {
        watch(w);
        failed.load(Ordering::Relaxed)
    });
    drop(world);
    let Sinks { writer, judge, .. } = match sinks {
        Running::Thread(thread) => thread.finish(),
        Running::Inline(sinks) => Rc::try_unwrap(sinks)
            .map_err(|_| io::Error::other("the sinks outlived their run"))?
            .into_inner(),
    };
    let connections = writer.finish(&topology)?;
    let outcomes = judge.finish_with(&topology, &scenario.app_names(), connections.as_deref());
    Ok(StreamedRun {
        name: scenario.name.clone(),
        seed,
        topology,
        end: Some(end),
        outcomes,
    })
}

/// Whether a format's sinks read the records on a thread of their own.
/// The summary, the CSV series, text and JSON Lines do a few thousand
/// instructions of work per record: on the other core, the run goes on
/// meanwhile (`ws-10k-1h` under `--format summary`: 15 s inline, about
/// 10 s threaded). A pcap or pcapng writer only copies each packet's
/// bytes, and handing the records to another core costs more than that
/// (`bulk/engine_streamed`, 100 MiB: 92 to 106 ms inline, 117 to 135 ms
/// threaded, alternating runs): they stay inline.
fn reads_on_a_thread(format: Format) -> bool {
    !matches!(format, Format::Pcap | Format::Pcapng)
}

/// Where a streamed run's sinks run.
enum Running {
    Thread(SinkThread<Sinks>),
    Inline(Rc<RefCell<Sinks>>),
}

/// Everything a streamed run's records go to: the format's writer, the
/// judge, the caller's sinks, in that order.
struct Sinks {
    writer: Writer,
    judge: Judge,
    extra: Vec<Box<dyn TraceSink + Send>>,
    /// Set once the writer could not write: the run stops.
    failed: Arc<AtomicBool>,
}

impl TraceSink for Sinks {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        self.writer.record(topology, record);
        self.judge.record(topology, record);
        for sink in &mut self.extra {
            sink.record(topology, record);
        }
        if self.writer.failed() {
            self.failed.store(true, Ordering::Relaxed);
        }
    }
}

/// The text format's preamble: the scenario's name, seed and description.
pub(crate) fn text_preamble(name: &str, description: &str, seed: u64) -> String {
    let mut out = format!("# {name} (seed {seed})\n");
    for line in crate::wrap(description, 76) {
        let _ = writeln!(out, "# {line}");
    }
    out.push('\n');
    out
}

/// The summary format's preamble.
pub(crate) fn summary_preamble(name: &str, seed: u64) -> String {
    format!("# {name} (seed {seed})\n\n")
}

/// A format's writer: the bytes go to `out` as the records come, or, for
/// the summary and the CSV series, into aggregates written at the end.
enum Writer {
    Text(TextWriter<StreamOutput>),
    Jsonl(JsonlWriter<StreamOutput>),
    Pcap(PcapWriter<StreamOutput>),
    Pcapng(PcapngWriter<StreamOutput>),
    Summary(Box<Summarizer>, StreamOutput),
    Csv(SeriesCsv, StreamOutput),
}

impl Writer {
    /// The writer of `format` for a run named `name`; the text and summary
    /// preambles are written to `out` at once.
    fn new(
        format: Format,
        name: &str,
        description: &str,
        seed: u64,
        topology: &Topology,
        mut out: StreamOutput,
    ) -> io::Result<Writer> {
        Ok(match format {
            Format::Text => {
                out.write_all(text_preamble(name, description, seed).as_bytes())?;
                Writer::Text(TextWriter::new(out, topology, TextOptions::default()))
            }
            Format::Summary => {
                out.write_all(summary_preamble(name, seed).as_bytes())?;
                Writer::Summary(Box::new(Summarizer::new()), out)
            }
            Format::Csv => Writer::Csv(SeriesCsv::new(), out),
            Format::Jsonl => Writer::Jsonl(JsonlWriter::new(out, topology)),
            Format::Pcap => Writer::Pcap(PcapWriter::new(out)),
            Format::Pcapng => Writer::Pcapng(PcapngWriter::new(out, topology)),
            Format::Mermaid | Format::Svg | Format::Html => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "--format {} cannot be written as the run goes",
                        format.name()
                    ),
                ));
            }
        })
    }

    /// Writes what is left and flushes, or returns the first write error.
    /// The summary gives back the connections it analysed.
    fn finish(self, topology: &Topology) -> io::Result<Option<Vec<Connection>>> {
        let mut connections = None;
        let mut out = match self {
            Writer::Text(w) => w.finish()?,
            Writer::Jsonl(w) => w.finish()?,
            Writer::Pcap(w) => w.finish()?,
            Writer::Pcapng(w) => w.finish()?,
            Writer::Summary(summarizer, mut out) => {
                let summarized = summarizer.finish();
                // Once per run: a few hundred bytes per connection.
                connections = Some(summarized.summary.connections.clone());
                out.write_all(summarized.render(topology).as_bytes())?;
                out
            }
            Writer::Csv(csv, mut out) => {
                out.write_all(csv.finish(topology).as_bytes())?;
                out
            }
        };
        out.flush()?;
        Ok(connections)
    }
}

impl Writer {
    fn failed(&self) -> bool {
        match self {
            Writer::Text(w) => w.failed(),
            Writer::Jsonl(w) => w.failed(),
            Writer::Pcap(w) => w.failed(),
            Writer::Pcapng(w) => w.failed(),
            Writer::Summary(..) | Writer::Csv(..) => false,
        }
    }
}

impl TraceSink for Writer {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        match self {
            Writer::Text(w) => w.record(topology, record),
            Writer::Jsonl(w) => w.record(topology, record),
            Writer::Pcap(w) => w.record(topology, record),
            Writer::Pcapng(w) => w.record(topology, record),
            Writer::Summary(s, _) => s.record(topology, record),
            Writer::Csv(c, _) => c.record(topology, record),
        }
    }
}

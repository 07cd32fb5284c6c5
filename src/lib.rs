//! simnet: a deterministic, userspace network simulator for seeing how TCP,
//! HTTP and WebSocket really behave.
//!
//! This crate is the facade the `simnet` binary and user tests build on. It
//! re-exports the engine ([`simnet_core`]), the renderers ([`render`](mod@render)), the
//! scenario loader ([`scenario`]), the HTTP and WebSocket protocols and
//! applications ([`http`], [`ws`]) and the command line ([`cli`]), and
//! composes the application registry every scenario file can use
//! ([`registry`]). One dependency on `simnet` is all a user needs.
//!
//! ```
//! use simnet::{apps::{TcpClient, TcpEcho}, render_text, LinkParams, SimDuration, TextOptions, WorldBuilder};
//!
//! let mut b = WorldBuilder::new(7);
//! let client = b.host("client", [10, 0, 0, 1].into());
//! let server = b.host("server", [10, 0, 0, 2].into());
//! b.link(client, server, LinkParams::with_latency(SimDuration::from_millis(10)));
//! b.app(server, "tcp-echo", || TcpEcho::new(80));
//! let server_addr = b.addr(server, 80);
//! b.app(client, "tcp-client", move || TcpClient::new(server_addr, b"hello", 5));
//! let mut world = b.build().unwrap();
//! world.run();
//! let text = render_text(world.trace(), &TextOptions::default());
//! assert!(text.contains("FIN-WAIT-2 -> TIME-WAIT"));
//! ```

pub use simnet_core::*;
pub use simnet_trace::{TextOptions, render_text};

pub mod book;
pub mod cli;
pub mod keylog;
mod stream;
pub mod sweep;

pub use stream::{StreamOutput, StreamedRun, run_scenario_streamed, run_scenario_streamed_with};

/// HTTP/1.1: the sans-IO protocol ([`http::proto`]) and the applications
/// that drive it over simulated sockets ([`http::apps`]: `HttpServer`,
/// `HttpClient`, `HttpProxy`, `HttpSubscriber`).
pub mod http {
    pub use simnet_http::*;
}

/// WebSocket: the sans-IO protocol ([`ws::proto`]), the applications
/// ([`ws::apps`]: `WsServer`, `WsClient`, the Socket.IO-style and STOMP
/// clients) and the STOMP codec.
pub mod ws {
    pub use simnet_ws::*;
}

/// DNS: the sans-IO protocol ([`dns::proto`]: names, messages, an
/// authoritative zone, a stub resolver with a cache) and the applications
/// ([`dns::apps`]: `DnsServer`, `DnsClient`, and `DnsClientSide`, the
/// resolver an application that connects by name embeds).
pub mod dns {
    pub use simnet_dns::*;
}

/// The renderers.
pub mod render {
    pub use simnet_trace::*;
}

/// The scenario loader.
pub mod scenario {
    pub use simnet_scenario::*;
}

use simnet_scenario::{AppRegistry, Outcome, Scenario};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Every application kind scenario files can name.
pub fn registry() -> AppRegistry {
    let mut r = AppRegistry::with_builtin();
    simnet_http::apps::register(&mut r);
    simnet_ws::apps::register(&mut r);
    simnet_dns::apps::register(&mut r);
    r
}

/// The `*.toml` files under `dir`, recursively, in sorted order.
pub fn scenario_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    scenario_files_with(dir, |p| p.extension().is_some_and(|e| e == "toml"))
}

/// Whether a scenario is a load test: one under a `load` folder
/// (`scenarios/load/`), with thousands of hosts' worth of connections for a
/// simulated hour. Those take seconds in a release build, not milliseconds:
/// the tests, the book and the fuzzer leave them out
/// ([`quick_scenario_files`]); the load bench and CI run them.
pub fn is_load_scenario(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "load")
}

/// The `*.toml` files under `dir`, recursively, in sorted order, without
/// the load tests ([`is_load_scenario`]).
pub fn quick_scenario_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    scenario_files_with(dir, |p| {
        p.extension().is_some_and(|e| e == "toml") && !is_load_scenario(p)
    })
}

/// The files under `dir` that `keep` accepts, recursively, in sorted order.
pub fn scenario_files_with(
    dir: &Path,
    keep: impl Fn(&Path) -> bool,
) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if keep(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// An output format of `simnet run`.
///
/// More formats may be added: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The step-by-step text timeline.
    Text,
    /// Tables: connections, socket states over time, data lost, throughput, request latencies, HTTP requests, event delivery, WebSocket frames, links.
    Summary,
    /// A Mermaid sequence diagram.
    Mermaid,
    /// Charts: time-sequence graphs, windows and bytes in flight, link queues.
    Svg,
    /// The time series behind the charts, as CSV.
    Csv,
    /// Every event as a JSON object per line.
    Jsonl,
    /// The packets as a classic pcap capture (nanosecond timestamps, raw IPv4).
    Pcap,
    /// The packets as pcapng, one interface per host, each packet commented with its fate.
    Pcapng,
    /// One self-contained HTML page to step through the run in a browser: a cursor in time, the sequence diagram, every host's sockets at that instant, the packet's bytes decoded.
    Html,
}

impl Format {
    /// Every format, for determinism checks.
    pub const ALL: [Format; 9] = [
        Format::Text,
        Format::Summary,
        Format::Mermaid,
        Format::Svg,
        Format::Csv,
        Format::Jsonl,
        Format::Pcap,
        Format::Pcapng,
        Format::Html,
    ];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Summary => "summary",
            Format::Mermaid => "mermaid",
            Format::Svg => "svg",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
            Format::Html => "html",
        }
    }

    /// Whether the output is binary (and so needs `--out`).
    pub fn is_binary(self) -> bool {
        matches!(self, Format::Pcap | Format::Pcapng)
    }

    /// Whether `simnet run` writes this format as the run goes
    /// ([`run_scenario_streamed`]): every format but Mermaid and SVG,
    /// which lay out the whole run before drawing it.
    pub fn streams(self) -> bool {
        !matches!(self, Format::Mermaid | Format::Svg | Format::Html)
    }

    /// How much of each packet a stored run must keep for this format:
    /// captures need the payloads, and so does Mermaid (it labels packets
    /// with the HTTP request lines and WebSocket frames they carry); every
    /// other format reads only headers. (A streamed run keeps no record, so
    /// it keeps whole packets, which are shared rather than copied.)
    pub fn capture(self) -> Capture {
        match self {
            Format::Pcap | Format::Pcapng | Format::Mermaid | Format::Html => Capture::Full,
            Format::Text | Format::Summary | Format::Svg | Format::Csv | Format::Jsonl => {
                Capture::Headers
            }
        }
    }
}

/// A finished scenario run: its trace and its verdicts.
pub struct ScenarioRun {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The seed used.
    pub seed: u64,
    /// What happened.
    pub trace: Trace,
    /// One verdict per expectation.
    pub outcomes: Vec<Outcome>,
}

impl ScenarioRun {
    /// The expectations that failed, each as `simnet run` prints it
    /// (`expect ... FAILED (observed ...)`); empty when all passed.
    pub fn failures(&self) -> Vec<String> {
        failures(&self.outcomes)
    }
}

fn failures(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.to_string())
        .collect()
}

/// Runs a scenario to its time limit (or `until`) and judges it, keeping
/// every byte of every packet.
pub fn run_scenario(scenario: &Scenario, seed: Option<u64>, until: Option<SimTime>) -> ScenarioRun {
    run_scenario_with(scenario, seed, until, Capture::Full)
}

/// [`run_scenario`], keeping as much of each packet as `capture` says
/// ([`Format::capture`] says what a format needs).
pub fn run_scenario_with(
    scenario: &Scenario,
    seed: Option<u64>,
    until: Option<SimTime>,
    capture: Capture,
) -> ScenarioRun {
    run_scenario_within(
        scenario,
        seed,
        until,
        capture,
        RunLimits::DEFAULT_MAX_TRACE_BYTES,
    )
}

/// [`run_scenario_with`], stopping the run with [`EndReason::MemoryLimit`]
/// once its trace holds more than `max_trace_bytes` (see
/// [`RunLimits::max_trace_bytes`]).
pub fn run_scenario_within(
    scenario: &Scenario,
    seed: Option<u64>,
    until: Option<SimTime>,
    capture: Capture,
    max_trace_bytes: u64,
) -> ScenarioRun {
    run_scenario_watched(scenario, seed, until, capture, max_trace_bytes, &mut |_| {})
}

/// [`run_scenario_within`], calling `watch` after every event (the CLI's
/// progress bar).
pub(crate) fn run_scenario_watched(
    scenario: &Scenario,
    seed: Option<u64>,
    until: Option<SimTime>,
    capture: Capture,
    max_trace_bytes: u64,
    watch: &mut dyn FnMut(&World),
) -> ScenarioRun {
    let mut world = scenario.world(seed, until);
    world.set_capture(capture);
    world.set_max_trace_bytes(max_trace_bytes);
    world.run_while_not(|w| {
        watch(w);
        false
    });
    let trace = world.take_trace();
    let outcomes = simnet_scenario::evaluate(&scenario.expectations, &trace, &scenario.app_names());
    ScenarioRun {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        seed: seed.unwrap_or(scenario.seed),
        trace,
        outcomes,
    }
}

/// What to include in the formats that can be narrowed (Mermaid, SVG).
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Only the connections with this endpoint (`49152`, `client:49152`).
    pub connection: Option<render::ConnectionSelector>,
    /// Only events from this time on (Mermaid).
    pub from: Option<SimTime>,
    /// Only events up to this time (Mermaid).
    pub to: Option<SimTime>,
    /// At most this many events (Mermaid).
    pub max_events: Option<usize>,
}

/// Renders a run in a format, with everything in it.
pub fn render(run: &ScenarioRun, format: Format) -> Vec<u8> {
    render_with(run, format, &RenderOptions::default())
}

/// Renders a run in a format, narrowed by `options` where the format allows.
pub fn render_with(run: &ScenarioRun, format: Format, options: &RenderOptions) -> Vec<u8> {
    let mut out = match format {
        Format::Text => stream::text_preamble(&run.name, &run.description, run.seed).into_bytes(),
        Format::Summary => stream::summary_preamble(&run.name, run.seed).into_bytes(),
        _ => Vec::new(),
    };
    out.extend_from_slice(&render_trace(run, format, options));
    out
}

/// The run as one self-contained page (`--format html`): its trace, and the
/// scenario's name, description, seed and verdicts.
pub fn render_html(run: &ScenarioRun) -> String {
    let meta = simnet_trace::HtmlMeta {
        name: run.name.clone(),
        description: run.description.clone(),
        seed: run.seed,
        expectations: run
            .outcomes
            .iter()
            .map(|o| simnet_trace::HtmlExpectation {
                label: o.label.clone(),
                passed: o.passed,
                observed: o.observed.clone(),
                at: o.at,
            })
            .collect(),
    };
    simnet_trace::render_html(&run.trace, &meta)
}

/// Renders a run in a format, without the scenario's preamble.
fn render_trace(run: &ScenarioRun, format: Format, options: &RenderOptions) -> Vec<u8> {
    let trace = &run.trace;
    match format {
        Format::Mermaid => {
            let o = render::MermaidOptions {
                connection: options.connection.clone(),
                from: options.from,
                until: options.to,
                max_events: options.max_events,
            };
            render::render_mermaid(trace, &o).into_bytes()
        }
        Format::Text => render_text(trace, &TextOptions::default()).into_bytes(),
        Format::Summary => simnet_trace::summary::render_summary(trace).into_bytes(),
        Format::Svg => {
            let o = render::plot::PlotOptions {
                connection: options.connection.clone(),
                ..Default::default()
            };
            render::plot::render_svg(trace, &o).into_bytes()
        }
        Format::Csv => simnet_trace::csv::render_series_csv(trace).into_bytes(),
        Format::Jsonl => simnet_trace::render_jsonl(trace).into_bytes(),
        Format::Pcap => simnet_trace::render_pcap(trace),
        Format::Pcapng => simnet_trace::render_pcapng(trace),
        Format::Html => render_html(run).into_bytes(),
    }
}

/// The expectation verdicts, one per line.
pub fn verdicts(run: &ScenarioRun) -> String {
    verdict_lines(&run.outcomes)
}

fn verdict_lines(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let _ = writeln!(out, "{o}");
    }
    if !outcomes.is_empty() {
        let failed = failures(outcomes).len();
        let _ = writeln!(
            out,
            "{} of {} expectations passed",
            outcomes.len() - failed,
            outcomes.len()
        );
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

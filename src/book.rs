//! The book's generated material: every trace, excerpt, diagram, summary and
//! plot the chapters show, produced from `scenarios/` by one function.
//!
//! `simnet book` writes them to `book/src/generated/`; a test regenerates
//! them and fails if the committed files differ, so the book never shows a
//! trace the code no longer produces.
//!
//! For each scenario `<dir>/<name>.toml` it writes, under `<dir>/<name>/`:
//! `trace.txt` (the text timeline and the verdicts, cut after
//! [`TRACE_LINES`] lines for long runs), `summary.txt`, `diagram.mmd` (a
//! Mermaid diagram of the first [`DIAGRAM_EVENTS`] events) and, for runs that
//! moved data, `plot.svg`. Excerpts named in `book/excerpts.toml` (a time
//! window of one scenario's trace) go next to them as `<excerpt>.txt`.
//! The files of [`OTHER_GENERATORS`] live there too and are left alone.

use crate::{Format, RenderOptions, render_with, run_scenario, verdicts};
use serde::Deserialize;
use simnet_core::SimTime;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files in the generated folder that another generator owns, relative to
/// it: `simnet book` neither deletes them nor reports them as no longer
/// generated. `linux-reference.md` is the Linux reference harness's table
/// (`tests/linux/run.sh`, which needs root, so it cannot be regenerated
/// here; `tests/linux/run.sh --check` keeps it current).
pub const OTHER_GENERATORS: &[&str] = &["linux-reference.md"];

/// Longest trace shown whole; longer ones are cut with a note.
pub const TRACE_LINES: usize = 300;
/// Events drawn in a diagram.
pub const DIAGRAM_EVENTS: usize = 80;
/// A run whose busiest connection moved at least this many bytes gets a plot.
pub const PLOT_MIN_BYTES: u64 = 16 * 1024;

/// `book/excerpts.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Excerpts {
    /// The excerpts.
    #[serde(default)]
    pub excerpt: Vec<Excerpt>,
}

/// A time window of one scenario's text trace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Excerpt {
    /// The scenario, relative to `scenarios/` and without `.toml`.
    pub scenario: String,
    /// The file name, without `.txt`.
    pub name: String,
    /// First time shown (inclusive), e.g. `"40ms"`.
    pub from: String,
    /// Last time shown (inclusive).
    pub to: String,
}

/// Every generated file, by path relative to the output folder.
pub fn generate(
    scenarios: &Path,
    excerpts: &Excerpts,
) -> Result<BTreeMap<PathBuf, Vec<u8>>, String> {
    let registry = crate::registry();
    let mut out = BTreeMap::new();
    let files = crate::quick_scenario_files(scenarios)
        .map_err(|e| format!("cannot read {}: {e}", scenarios.display()))?;
    // Each scenario's text timeline, for the excerpts.
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(scenarios)
            .unwrap_or(&file)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        let shown = format!("scenarios/{rel}.toml");
        let source = std::fs::read_to_string(&file).map_err(|e| format!("{shown}: {e}"))?;
        let scenario =
            simnet_scenario::parse(&shown, &source, &registry).map_err(|e| e.to_string())?;
        let run = run_scenario(&scenario, None, None);
        let dir = PathBuf::from(&rel);

        let text = String::from_utf8(crate::render(&run, Format::Text)).unwrap_or_default();
        out.insert(
            dir.join("trace.txt"),
            cut_trace(&text, &shown, &verdicts(&run)).into_bytes(),
        );
        out.insert(
            dir.join("summary.txt"),
            crate::render(&run, Format::Summary),
        );
        let diagram = RenderOptions {
            max_events: Some(DIAGRAM_EVENTS),
            ..RenderOptions::default()
        };
        out.insert(
            dir.join("diagram.mmd"),
            render_with(&run, Format::Mermaid, &diagram),
        );
        let analysis = simnet_core::analysis::analyze(&run.trace);
        if analysis
            .connections
            .iter()
            .any(|c| c.main_flow().bytes >= PLOT_MIN_BYTES)
        {
            out.insert(dir.join("plot.svg"), crate::render(&run, Format::Svg));
        }
        if scenario.sweep.is_some() {
            let (report, svg) = sweep_report(&shown, &source, &scenario, &registry)?;
            out.insert(dir.join("sweep.txt"), report.into_bytes());
            out.insert(dir.join("sweep.svg"), svg.into_bytes());
        }
        texts.insert(rel, text);
    }
    for e in &excerpts.excerpt {
        let text = texts
            .get(&e.scenario)
            .ok_or_else(|| format!("excerpt `{}`: no scenario `{}`", e.name, e.scenario))?;
        let parse = |t: &str| {
            simnet_scenario::units::parse_duration(t)
                .map(|d| SimTime::ZERO + d)
                .map_err(|m| format!("excerpt `{}`: {m}", e.name))
        };
        let (from, to) = (parse(&e.from)?, parse(&e.to)?);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| line_time(l).is_some_and(|t| t >= from && t <= to))
            .collect();
        if lines.is_empty() {
            return Err(format!("excerpt `{}` of `{}` is empty", e.name, e.scenario));
        }
        out.insert(
            PathBuf::from(&e.scenario).join(format!("{}.txt", e.name)),
            (lines.join("\n") + "\n").into_bytes(),
        );
    }
    Ok(out)
}

/// A scenario's `[sweep]` run as `simnet sweep FILE` runs it, then its
/// report and its plot, as `simnet sweep report` gives them.
fn sweep_report(
    shown: &str,
    source: &str,
    scenario: &simnet_scenario::Scenario,
    registry: &simnet_scenario::AppRegistry,
) -> Result<(String, String), String> {
    let spec = scenario
        .sweep
        .clone()
        .unwrap_or_else(|| unreachable!("checked by the caller"));
    let plan = crate::sweep::Plan {
        file: shown.to_string(),
        source: source.to_string(),
        seeds: spec.seeds,
        sets: spec.set,
        shard: None,
    };
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut lines: Vec<u8> = Vec::new();
    crate::sweep::run_sweep(&plan, registry, jobs, 0, &mut lines, &|| {})?;
    let mut report = crate::sweep::Report::default();
    for line in String::from_utf8_lossy(&lines).lines() {
        report.add_line(line).map_err(|e| format!("{shown}: {e}"))?;
    }
    let svg = crate::sweep::svg(&report, &spec.metric)?;
    Ok((report.text(), svg))
}

/// The simulated time a text-trace line starts with (`   40.000ms ...`).
fn line_time(line: &str) -> Option<SimTime> {
    let first = line.split_whitespace().next()?;
    let ms = first.strip_suffix("ms")?;
    let (whole, frac) = ms.split_once('.')?;
    let micros = whole.parse::<u64>().ok()? * 1000 + frac.parse::<u64>().ok()?;
    Some(SimTime::from_micros(micros))
}

fn cut_trace(text: &str, shown: &str, verdicts: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = if lines.len() <= TRACE_LINES {
        text.to_string()
    } else {
        let mut s = lines[..TRACE_LINES].join("\n");
        s.push_str(&format!(
            "\n... {} more lines: `simnet run {shown}` shows them all\n",
            lines.len() - TRACE_LINES
        ));
        s
    };
    if !verdicts.is_empty() {
        out.push('\n');
        out.push_str(verdicts);
    }
    out
}

/// Reads `book/excerpts.toml` (a missing file means no excerpts).
pub fn read_excerpts(path: &Path) -> Result<Excerpts, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(Excerpts::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_dated_by_their_first_column() {
        assert_eq!(
            line_time("    40.000ms client  tcp  x"),
            Some(SimTime::from_millis(40))
        );
        assert_eq!(
            line_time(" 10060.250ms *  run"),
            Some(SimTime::from_micros(10_060_250))
        );
        assert_eq!(line_time("# comment"), None);
        assert_eq!(line_time(""), None);
    }
}

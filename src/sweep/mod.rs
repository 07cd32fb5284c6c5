//! Sweeps: one scenario run at many points (seeds × parameter values), a
//! JSON line per run, and a report that merges the lines.
//!
//! The points of a sweep are numbered: the parameter combinations in order
//! (the first `--set` varying slowest), and for each, every seed. A shard
//! `K/N` takes the points whose number is `K-1` modulo `N`. Lines are
//! written in point order whatever the number of worker threads: a worker
//! that finishes early waits (at most a few points ahead) for the ones
//! before it, so memory does not grow with the number of points. A rerun
//! with the same output file checks the lines already there and carries
//! on after them; the report merges any number of files (shards) and gives
//! the same bytes as one unsharded run.

mod plot;
mod report;
mod run;

pub use plot::svg;
pub use report::{Report, ReportError};
pub use run::{METRICS, Metrics, PointResult, run_point};

use serde_json::{Map, Value, json};
use simnet_scenario::overrides::{Setting, parse_sweep};
use simnet_scenario::{AppRegistry, Scenario};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// The most points one sweep may have.
pub const MAX_POINTS: u64 = 100_000_000;

/// What to run: a scenario, its seeds, and the values each setting takes.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario file as the user named it (for the reproduce command).
    pub file: String,
    /// Its text.
    pub source: String,
    /// The first and last seed (inclusive).
    pub seeds: (u64, u64),
    /// Each swept key with its values, in the order given.
    pub sets: Vec<(String, Vec<String>)>,
    /// `(K, N)`: run only the K-th (from 1) of N slices.
    pub shard: Option<(u64, u64)>,
}

pub use simnet_scenario::overrides::parse_seeds;

/// Parses `K/N` (1 ≤ K ≤ N).
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("`{text}` is not a shard: write K/N, e.g. 3/8 (K from 1 to N)");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Parses one `--set KEY=V1,V2`.
pub fn parse_set(text: &str) -> Result<(String, Vec<String>), String> {
    parse_sweep(text).map_err(|e| e.message)
}

impl Plan {
    /// How many seeds.
    pub fn seed_count(&self) -> u64 {
        // Every u64 is u64::MAX + 1 seeds: saturated, and refused by
        // `points` as too many.
        (self.seeds.1 - self.seeds.0).saturating_add(1)
    }

    /// How many parameter combinations.
    pub fn combinations(&self) -> u64 {
        self.sets
            .iter()
            .map(|(_, v)| v.len() as u64)
            .try_fold(1u64, u64::checked_mul)
            .unwrap_or(u64::MAX)
    }

    /// How many points in all (every shard).
    pub fn points(&self) -> Result<u64, String> {
        self.combinations()
            .checked_mul(self.seed_count())
            .filter(|n| *n <= MAX_POINTS)
            .ok_or_else(|| format!("more than {MAX_POINTS} points: sweep fewer seeds or values"))
    }

    /// The points this shard runs, in order.
    pub fn my_points(&self) -> Result<impl Iterator<Item = u64> + use<>, String> {
        let total = self.points()?;
        let (k, n) = self.shard.unwrap_or((1, 1));
        Ok((k - 1..total).step_by(n as usize))
    }

    /// Point `i`: its combination's number and its seed.
    pub fn point(&self, i: u64) -> (u64, u64) {
        let seeds = self.seed_count();
        (i / seeds, self.seeds.0 + i % seeds)
    }

    /// Combination `c`'s settings.
    pub fn settings(&self, mut c: u64) -> Vec<Setting> {
        let mut out = Vec::with_capacity(self.sets.len());
        for (key, values) in self.sets.iter().rev() {
            let n = values.len() as u64;
            out.push(Setting {
                key: key.clone(),
                value: values[(c % n) as usize].clone(),
            });
            c /= n;
        }
        out.reverse();
        out
    }

    /// Loads combination `c` (its settings made to the text).
    pub fn scenario(&self, c: u64, registry: &AppRegistry) -> Result<Scenario, String> {
        simnet_scenario::parse_with(&self.file, &self.source, &self.settings(c), registry)
            .map_err(|e| e.to_string())
    }

    /// Point `i`'s JSON line (without its newline).
    pub fn line(&self, i: u64, result: &PointResult) -> String {
        let (c, seed) = self.point(i);
        let mut set = Map::new();
        for s in self.settings(c) {
            set.insert(s.key, Value::String(s.value));
        }
        let expectations: Vec<Value> = result
            .outcomes
            .iter()
            .map(|o| json!({"label": o.label, "passed": o.passed, "observed": o.observed}))
            .collect();
        let mut metrics = Map::new();
        for (name, v) in METRICS.iter().zip(result.metrics.values()) {
            metrics.insert((*name).to_string(), Value::from(v));
        }
        let end = result.end.as_ref().map(|e| e.to_string());
        let value = json!({
            "point": i,
            "file": self.file,
            "seed": seed,
            "set": set,
            "passed": result.outcomes.iter().all(|o| o.passed),
            "end": end,
            "expectations": expectations,
            "metrics": metrics,
        });
        value.to_string()
    }
}

/// The longest result line read back (a run's line is a few KiB; one with
/// a thousand expectations perhaps 200 KiB).
pub const MAX_LINE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads one line into `line` (cleared first), at most [`MAX_LINE_BYTES`]:
/// a file that is not a sweep's results (one endless line) is refused
/// rather than read into memory. Returns the bytes read, 0 at the end.
pub(crate) fn read_line_capped(
    reader: &mut impl BufRead,
    line: &mut String,
) -> std::io::Result<usize> {
    use std::io::Read;
    line.clear();
    let n = reader.by_ref().take(MAX_LINE_BYTES + 1).read_line(line)?;
    if n as u64 > MAX_LINE_BYTES {
        return Err(std::io::Error::other(format!(
            "a line longer than {MAX_LINE_BYTES} bytes: not a sweep's results"
        )));
    }
    Ok(n)
}

/// How a sweep went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Points already in the output file, skipped.
    pub skipped: u64,
    /// Points run now.
    pub ran: u64,
    /// Of those, the ones with a failed expectation.
    pub failed: u64,
}

/// The lines already in `existing` that this plan would have written
/// first: how many there are (a partial last line is not counted, and is
/// cut off by the caller). A line for another point is an error: the file
/// belongs to another sweep.
pub fn resume_point(plan: &Plan, existing: &Path) -> Result<(u64, u64), String> {
    let file = match std::fs::File::open(existing) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(format!("{}: {e}", existing.display())),
    };
    let mut expected = plan.my_points()?;
    let (mut done, mut good_bytes) = (0u64, 0u64);
    let mut reader = std::io::BufReader::new(file);
    let mut line = String::new();
    loop {
        let n = read_line_capped(&mut reader, &mut line)
            .map_err(|e| format!("{}:{}: {e}", existing.display(), done + 1))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        let value = serde_json::from_str::<Value>(&line).ok();
        let point = value
            .as_ref()
            .and_then(|v| v.get("point").and_then(Value::as_u64));
        let want = expected.next();
        // The same point of the same sweep: its number, and the file, seed
        // and settings that number stands for in this plan (a file written
        // with other seeds or values numbers its points otherwise).
        let same = match (&value, want) {
            (Some(v), Some(i)) if point == Some(i) => {
                let (c, seed) = plan.point(i);
                let set: Map<String, Value> = plan
                    .settings(c)
                    .into_iter()
                    .map(|s| (s.key, Value::String(s.value)))
                    .collect();
                v.get("seed").and_then(Value::as_u64) == Some(seed)
                    && v.get("file").and_then(Value::as_str) == Some(plan.file.as_str())
                    && v.get("set").and_then(Value::as_object) == Some(&set)
            }
            _ => false,
        };
        if !same {
            return Err(format!(
                "{}: line {} is not point {} of this sweep: it holds another sweep's results (give another --out, or remove the file)",
                existing.display(),
                done + 1,
                want.map_or("(none: the sweep is complete)".to_string(), |w| w
                    .to_string())
            ));
        }
        done += 1;
        good_bytes += n as u64;
    }
    Ok((done, good_bytes))
}

/// Runs the plan's points after the first `skip` of this shard on `jobs`
/// threads, writing one line per point to `out` in point order, and
/// calling `on_line` after each line (a progress bar's tick).
pub fn run_sweep(
    plan: &Plan,
    registry: &AppRegistry,
    jobs: usize,
    skip: u64,
    out: &mut (dyn Write + Send),
    on_line: &(dyn Fn() + Sync),
) -> Result<SweepOutcome, String> {
    let points: Vec<u64> = plan.my_points()?.skip(skip as usize).collect();
    let jobs = jobs.max(1);
    // A worker runs at most this many points ahead of the next line due.
    let window = 4 * jobs;
    struct Shared<'a> {
        next: usize,
        pending: std::collections::BTreeMap<usize, String>,
        out: &'a mut (dyn Write + Send),
        failed: u64,
        error: Option<String>,
    }
    let shared = Mutex::new(Shared {
        next: 0,
        pending: std::collections::BTreeMap::new(),
        out,
        failed: 0,
        error: None,
    });
    let wake = Condvar::new();
    let taken = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                let mut loaded: Option<(u64, Scenario)> = None;
                loop {
                    let k = taken.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = points.get(k) else { break };
                    {
                        let mut st = shared.lock().expect("no worker panicked");
                        while k >= st.next + window && st.error.is_none() {
                            st = wake.wait(st).expect("no worker panicked");
                        }
                        if st.error.is_some() {
                            break;
                        }
                    }
                    let (c, seed) = plan.point(i);
                    if loaded.as_ref().is_none_or(|(lc, _)| *lc != c) {
                        match plan.scenario(c, registry) {
                            Ok(sc) => loaded = Some((c, sc)),
                            Err(e) => {
                                let mut st = shared.lock().expect("no worker panicked");
                                st.error.get_or_insert(e);
                                wake.notify_all();
                                break;
                            }
                        }
                    }
                    let scenario = &loaded.as_ref().expect("loaded above").1;
                    let result = run_point(scenario, seed);
                    let failed = result.outcomes.iter().any(|o| !o.passed);
                    let line = plan.line(i, &result);
                    let mut st = shared.lock().expect("no worker panicked");
                    st.failed += u64::from(failed);
                    st.pending.insert(k, line);
                    loop {
                        let next = st.next;
                        let Some(line) = st.pending.remove(&next) else {
                            break;
                        };
                        if let Err(e) = writeln!(st.out, "{line}") {
                            st.error.get_or_insert(format!("writing the results: {e}"));
                            break;
                        }
                        st.next += 1;
                        on_line();
                    }
                    wake.notify_all();
                }
            });
        }
    });
    let st = shared.into_inner().expect("no worker panicked");
    if let Some(e) = st.error {
        return Err(e);
    }
    st.out
        .flush()
        .map_err(|e| format!("writing the results: {e}"))?;
    Ok(SweepOutcome {
        skipped: skip,
        ran: st.next as u64,
        failed: st.failed,
    })
}

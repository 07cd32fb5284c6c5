//! `simnet sweep report`: the lines of one sweep (from any number of
//! files, shards in any order) merged into a table per parameter
//! combination: how many runs passed, percentiles of each metric, and the
//! failing seeds with the command that reproduces each.

use super::METRICS;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Why the lines could not be merged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

/// One combination's runs.
#[derive(Clone, Debug, Default)]
struct Group {
    /// Its settings as `KEY=VALUE`, in key order.
    settings: Vec<(String, String)>,
    file: String,
    runs: u64,
    passed: u64,
    /// Failing seeds with the first failed expectation's label.
    failing: Vec<(u64, String)>,
    /// Each metric's values.
    metrics: Vec<Vec<u64>>,
}

/// The merged lines of a sweep.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Groups by the smallest point number seen in them.
    groups: BTreeMap<u64, Group>,
    /// Group key (its settings) → the smallest point number.
    index: BTreeMap<String, u64>,
    /// Points seen (a point in two files is counted once, if identical).
    seen: BTreeMap<u64, u64>,
}

/// The most failing seeds a report lists per combination.
const MAX_FAILING_SHOWN: usize = 10;

fn hash(line: &str) -> u64 {
    // FNV-1a: only to tell two copies of a point apart, deterministically.
    line.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Report {
    /// Adds every line of `path`.
    pub fn add_file(&mut self, path: &Path) -> Result<(), ReportError> {
        let f = std::fs::File::open(path)
            .map_err(|e| ReportError(format!("{}: {e}", path.display())))?;
        let mut reader = std::io::BufReader::new(f);
        let mut line = String::new();
        for n in 1.. {
            match super::read_line_capped(&mut reader, &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(ReportError(format!("{}:{n}: {e}", path.display()))),
            }
            if line.trim().is_empty() {
                continue;
            }
            self.add_line(line.trim_end_matches('\n'))
                .map_err(|e| ReportError(format!("{}:{n}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Adds one result line.
    pub fn add_line(&mut self, line: &str) -> Result<(), String> {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("not a result line: {e}"))?;
        let field = |k: &str| v.get(k).ok_or_else(|| format!("no `{k}` in the line"));
        let point = field("point")?.as_u64().ok_or("`point` is not a number")?;
        let h = hash(line);
        match self.seen.get(&point) {
            Some(prev) if *prev == h => return Ok(()),
            Some(_) => {
                return Err(format!(
                    "point {point} appears twice with different results: are these two different sweeps?"
                ));
            }
            None => {
                self.seen.insert(point, h);
            }
        }
        let seed = field("seed")?.as_u64().ok_or("`seed` is not a number")?;
        let file = field("file")?.as_str().unwrap_or_default().to_string();
        let settings: Vec<(String, String)> = field("set")?
            .as_object()
            .ok_or("`set` is not an object")?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let passed = field("passed")?
            .as_bool()
            .ok_or("`passed` is not true or false")?;
        let metrics = field("metrics")?
            .as_object()
            .ok_or("`metrics` is not an object")?;
        let key = format!("{file}\u{0}{settings:?}");
        let first = *self.index.entry(key.clone()).or_insert(point);
        let first = if point < first {
            // A smaller point of a group seen before: renumber the group.
            let g = self.groups.remove(&first).unwrap_or_default();
            self.groups.insert(point, g);
            self.index.insert(key, point);
            point
        } else {
            first
        };
        let g = self.groups.entry(first).or_insert_with(|| Group {
            settings: settings.clone(),
            file: file.clone(),
            metrics: vec![Vec::new(); METRICS.len()],
            ..Group::default()
        });
        g.runs += 1;
        if passed {
            g.passed += 1;
        } else {
            let label = v
                .get("expectations")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .find(|e| e.get("passed") == Some(&Value::Bool(false)))
                })
                .and_then(|e| e.get("label"))
                .and_then(Value::as_str)
                .unwrap_or("an expectation failed")
                .to_string();
            g.failing.push((seed, label));
        }
        for (i, name) in METRICS.iter().enumerate() {
            g.metrics[i].push(metrics.get(*name).and_then(Value::as_u64).unwrap_or(0));
        }
        Ok(())
    }

    /// `metric`'s values per combination, in point order: each
    /// combination's label and its values, sorted; `None` for an unknown
    /// metric.
    pub fn series(&self, metric: &str) -> Option<Vec<(String, Vec<u64>)>> {
        let i = METRICS.iter().position(|m| *m == metric)?;
        Some(
            self.groups
                .values()
                .map(|g| {
                    let mut values = g.metrics[i].clone();
                    values.sort_unstable();
                    (label(g), values)
                })
                .collect(),
        )
    }

    /// How many runs in all.
    pub fn runs(&self) -> u64 {
        self.groups.values().map(|g| g.runs).sum()
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let runs = self.runs();
        let passed: u64 = self.groups.values().map(|g| g.passed).sum();
        let file = self.groups.values().next().map_or("", |g| g.file.as_str());
        let _ = writeln!(
            out,
            "# sweep of {file}: {runs} runs in {} combinations, {passed} passed ({})\n",
            self.groups.len(),
            percent(passed, runs)
        );
        let width = self
            .groups
            .values()
            .map(|g| label(g).len())
            .max()
            .unwrap_or(0)
            .max(11);
        let _ = writeln!(out, "Expectations");
        let _ = writeln!(
            out,
            "  {:width$}  {:>7}  {:>7}  {:>9}",
            "combination", "runs", "passed", "pass rate"
        );
        for g in self.groups.values() {
            let _ = writeln!(
                out,
                "  {:width$}  {:>7}  {:>7}  {:>9}",
                label(g),
                g.runs,
                g.passed,
                percent(g.passed, g.runs)
            );
        }
        // With several swept keys, each key on its own too: its values'
        // pass rates over every combination of the others.
        let keys: Vec<String> = self
            .groups
            .values()
            .next()
            .map(|g| g.settings.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        if keys.len() > 1 {
            for key in &keys {
                let mut rows: Vec<(String, u64, u64)> = Vec::new();
                for g in self.groups.values() {
                    let Some((_, v)) = g.settings.iter().find(|(k, _)| k == key) else {
                        continue;
                    };
                    match rows.iter_mut().find(|(value, _, _)| value == v) {
                        Some(row) => {
                            row.1 += g.runs;
                            row.2 += g.passed;
                        }
                        None => rows.push((v.clone(), g.runs, g.passed)),
                    }
                }
                let _ = writeln!(out, "\n{key} alone (over every value of the other keys)");
                for (value, runs, passed) in rows {
                    let _ = writeln!(
                        out,
                        "  {:width$}  {:>7}  {:>7}  {:>9}",
                        format!("{key}={value}"),
                        runs,
                        passed,
                        percent(passed, runs)
                    );
                }
            }
        }
        for (i, name) in METRICS.iter().enumerate() {
            if self
                .groups
                .values()
                .all(|g| g.metrics[i].iter().all(|v| *v == 0))
            {
                continue;
            }
            let _ = writeln!(out, "\n{} (p50 / p90 / p99 / max)", metric_title(name));
            for g in self.groups.values() {
                let mut values = g.metrics[i].clone();
                values.sort_unstable();
                let cells: Vec<String> = [50, 90, 99, 100]
                    .iter()
                    .map(|p| show(name, percentile(&values, *p)))
                    .collect();
                let _ = writeln!(out, "  {:width$}  {}", label(g), cells.join(" / "));
            }
        }
        let failing: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| !g.failing.is_empty())
            .collect();
        if !failing.is_empty() {
            let _ = writeln!(out, "\nFailing seeds (each line reproduces one)");
            for g in failing {
                let mut seeds = g.failing.clone();
                seeds.sort();
                for (seed, why) in seeds.iter().take(MAX_FAILING_SHOWN) {
                    let mut cmd = format!("simnet run {} --seed {seed}", quote(&g.file));
                    for (k, v) in &g.settings {
                        let _ = write!(cmd, " --set {}", quote(&format!("{k}={v}")));
                    }
                    let _ = writeln!(out, "  {cmd}    # {why}");
                }
                if seeds.len() > MAX_FAILING_SHOWN {
                    let _ = writeln!(
                        out,
                        "  ... and {} more for {}",
                        seeds.len() - MAX_FAILING_SHOWN,
                        label(g)
                    );
                }
            }
        }
        out
    }
}

/// A combination's name: its settings, or "(as written)".
fn label(g: &Group) -> String {
    if g.settings.is_empty() {
        return "(as written)".to_string();
    }
    g.settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn percent(n: u64, of: u64) -> String {
    if of == 0 {
        return "-".to_string();
    }
    format!("{:.1}%", n as f64 * 100.0 / of as f64)
}

/// The nearest-rank percentile of sorted values.
pub(super) fn percentile(sorted: &[u64], p: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn metric_title(name: &str) -> String {
    name.strip_suffix("_ns").unwrap_or(name).replace('_', " ")
}

fn show(name: &str, v: u64) -> String {
    if name.ends_with("_ns") {
        simnet_core::SimDuration::from_nanos(v).to_string()
    } else {
        v.to_string()
    }
}

/// `text`, quoted for a POSIX shell when it needs it.
fn quote(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._/%=:,+-@".contains(c));
    if plain && !text.is_empty() {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&v, 100), 100);
        assert_eq!(percentile(&[7], 50), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(quote("link.latency=10ms"), "link.latency=10ms");
        assert_eq!(
            quote("app[client].paths=[\"/a\"]"),
            "'app[client].paths=[\"/a\"]'"
        );
        assert_eq!(quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn a_point_twice_is_counted_once_and_a_conflict_is_refused() {
        let line = r#"{"point":0,"file":"x.toml","seed":1,"set":{},"passed":true,"metrics":{}}"#;
        let mut r = Report::default();
        r.add_line(line).unwrap();
        r.add_line(line).unwrap();
        assert_eq!(r.runs(), 1);
        let other = line.replace("true", "false");
        assert!(r.add_line(&other).unwrap_err().contains("twice"));
    }
}

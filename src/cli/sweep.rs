//! `simnet sweep`: one scenario at many seeds and parameter values, a JSON
//! line per run; `simnet sweep report`: the lines merged into tables.

use super::CmdResult;
use super::progress::SweepProgress;
use crate::sweep::{self, Plan, Report};
use simnet_scenario::AppRegistry;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `simnet sweep`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    report: Option<Sub>,
    /// The scenario file.
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// The seeds, inclusive: `1..10000`, or one seed (default: the scenario's `[sweep]` table's, or 1..100).
    #[arg(long, value_parser = sweep::parse_seeds)]
    seeds: Option<(u64, u64)>,
    /// A value to sweep (repeatable): `link.latency=10ms,50ms,100ms`; every combination of every --set is run with every seed. The keys are those of `simnet run --set`. Given, they replace the scenario's `[sweep]` table's.
    #[arg(long = "set", value_name = "KEY=V1,V2,...", value_parser = sweep::parse_set)]
    set: Vec<(String, Vec<String>)>,
    /// Worker threads, 1 to 1024 (default: the machine's cores). The output is the same whatever the number.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
    /// Run only the K-th of N disjoint slices of the points (for a batch system's array job); `simnet sweep report` merges the slices.
    #[arg(long, value_parser = sweep::parse_shard, value_name = "K/N")]
    shard: Option<(u64, u64)>,
    /// Write the JSON lines here (a rerun carries on after the lines already in it) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Merge the JSON lines of a sweep (one file, or its shards) into tables: the pass rate and percentiles of each metric per parameter combination, and the command that reproduces each failing seed.
    Report {
        /// The result files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `text` (tables), or `svg`: one metric against the combinations, median in a 10th-90th percentile band, maximum marked.
        #[arg(long, value_parser = ["text", "svg"], default_value = "text")]
        format: String,
        /// With `--format svg`: the metric to plot (e.g. connection_max_ns, retransmissions, goodput_bps).
        #[arg(long, default_value = "connection_max_ns")]
        metric: String,
    },
}

/// Runs the sweep, or the report.
pub fn execute(args: Args, registry: &AppRegistry) -> CmdResult {
    if let Some(Sub::Report {
        files,
        format,
        metric,
    }) = args.report
    {
        let mut report = Report::default();
        for f in &files {
            report.add_file(f).map_err(|e| format!("error: {e}"))?;
        }
        if report.runs() == 0 {
            return Err("error: no result lines in the files given".into());
        }
        if format == "svg" {
            out!("{}", sweep::svg(&report, &metric)?);
        } else {
            out!("{}", report.text());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(file) = args.file else {
        return Err("error: give the scenario file".into());
    };
    // Loaded once as written: a mistake in the file is reported as
    // `simnet run` reports it, before any point runs.
    let written = simnet_scenario::load(&file, registry).map_err(|e| e.to_string())?;
    let defaults = written.sweep.clone();
    let seeds = args
        .seeds
        .or(defaults.as_ref().map(|d| d.seeds))
        .unwrap_or((1, 100));
    let sets = if args.set.is_empty() {
        defaults.map(|d| d.set).unwrap_or_default()
    } else {
        args.set
    };
    let source =
        std::fs::read_to_string(&file).map_err(|e| format!("error: {}: {e}", file.display()))?;
    let mut keys = std::collections::BTreeSet::new();
    for (key, _) in &sets {
        if !keys.insert(key.clone()) {
            return Err(format!(
                "error: --set {key} is given twice\nhelp: give its values once, separated by commas"
            ));
        }
    }
    let plan = Plan {
        file: file.display().to_string(),
        source,
        seeds,
        sets,
        shard: args.shard,
    };
    let total = plan.points()?;
    // Every combination must load: a bad value is an error now, not a
    // thousand failed lines later.
    for c in 0..plan.combinations() {
        plan.scenario(c, registry)?;
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let mine = plan.my_points()?.count() as u64;
    let (skip, mut sink): (u64, Box<dyn Write + Send>) = match &args.out {
        Some(path) => {
            let (done, bytes) =
                sweep::resume_point(&plan, path).map_err(|e| format!("error: {e}"))?;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("error: {}: {e}", path.display()))?;
            // A line cut short by an interrupted run is dropped.
            f.set_len(bytes)
                .map_err(|e| format!("error: {}: {e}", path.display()))?;
            if done > 0 {
                errln!(
                    "{}: {done} of {mine} points already there; running the rest",
                    path.display()
                );
            }
            (done, Box::new(std::io::BufWriter::new(f)))
        }
        None => (0, Box::new(std::io::BufWriter::new(std::io::stdout()))),
    };
    let bar = SweepProgress::new(mine - skip);
    let outcome = sweep::run_sweep(&plan, registry, jobs, skip, &mut sink, &|| bar.tick());
    bar.finish();
    let outcome = outcome?;
    drop(sink);
    let shard = match plan.shard {
        Some((k, n)) => format!("shard {k}/{n}: {mine} of the sweep's {total} points"),
        None => format!("{total} points"),
    };
    errln!(
        "{shard}; {} were already done, {} run now, {} with a failed expectation",
        outcome.skipped,
        outcome.ran,
        outcome.failed
    );
    Ok(ExitCode::SUCCESS)
}

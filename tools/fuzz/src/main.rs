//! The `simnet-fuzz` command: fuzz for a while, fuzz forever, or replay
//! every crash ever found. See the crate docs and `simnet-fuzz --help`.

use clap::{Parser, Subcommand};
use simnet_fuzz::Target;
use simnet_fuzz::supervise::{
    DEFAULT_MEMORY_MB, Inputs, Options, Source, Supervisor, default_root, describe, worker,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// Fuzz simnet's parsers and whole runs on stable Rust.
///
/// Examples:
///   simnet-fuzz --target all --seconds 60          (what CI runs)
///   simnet-fuzz --target run --seconds 600 --seed 7
///   simnet-fuzz --target all --forever --seed 42   (for hours; Ctrl-C to stop)
///   simnet-fuzz replay                              (every saved crash, once)
#[derive(Parser)]
#[command(verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// The target: scenario, run, http-request, http-response, ws-frame,
    /// stomp, or all.
    #[arg(long, default_value = "all")]
    target: String,
    /// Wall-clock seconds in all (divided evenly between targets with `all`);
    /// with --forever, seconds per target per round.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// The session's seed: the same seed gives the same inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep going, round after round over the targets, until stopped.
    #[arg(long)]
    forever: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// The workspace root (the corpus is read from scenarios/ and tests/broken/).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Where crash files go (default: <root>/tests/fuzz-crashes).
    #[arg(long)]
    crash_dir: Option<PathBuf>,
    /// A worker's resident-memory cap, in MiB.
    #[arg(long, default_value_t = DEFAULT_MEMORY_MB)]
    memory_mb: u64,
    /// Also run inputs of the known crash classes (see known.rs), which are
    /// skipped by default.
    #[arg(long)]
    run_known: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every file under the crash directory once; fail if any still
    /// crashes (known classes are skipped unless --run-known).
    Replay {
        /// Only this target's files.
        #[arg(long, default_value = "all")]
        target: String,
        #[command(flatten)]
        common: Common,
    },
    /// Write inputs `from..from+count` of a session to a directory, one file
    /// each, to see what the mutator makes (nothing is run).
    Sample {
        #[arg(long)]
        target: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 100)]
        count: u64,
        /// The directory to write to.
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Internal: run inputs and report to the supervisor on stdout.
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        target: String,
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long)]
        seconds: f64,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, num_args = 1..)]
        files: Vec<PathBuf>,
        #[arg(long)]
        report_all: bool,
        #[arg(long)]
        run_known: bool,
    },
}

fn targets(name: &str) -> Result<Vec<Target>, String> {
    if name == "all" {
        return Ok(Target::ALL.to_vec());
    }
    Target::from_name(name).map(|t| vec![t]).ok_or_else(|| {
        let names: Vec<_> = Target::ALL.iter().map(|t| t.name()).collect();
        format!(
            "unknown target `{name}`: use all or one of {}",
            names.join(", ")
        )
    })
}

fn options(c: &Common) -> Options {
    let root = c.root.clone().unwrap_or_else(default_root);
    Options {
        crash_dir: c
            .crash_dir
            .clone()
            .unwrap_or_else(|| root.join("tests/fuzz-crashes")),
        root,
        memory_mb: c.memory_mb,
        run_known: c.run_known,
        verbose: true,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Worker {
            target,
            root,
            from,
            to,
            seconds,
            seed,
            files,
            report_all,
            run_known,
        }) => {
            let Some(target) = Target::from_name(&target) else {
                return ExitCode::FAILURE;
            };
            let source = match seed {
                Some(seed) => Source::Generated { seed, root },
                None => Source::Files(files),
            };
            worker(
                &Inputs::new(target, source),
                from,
                to,
                seconds,
                report_all,
                run_known,
            );
            ExitCode::SUCCESS
        }
        Some(Cmd::Replay { target, common }) => {
            let ts = match targets(&target) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = options(&common);
            println!("replaying {}", opts.crash_dir.display());
            let mut sup = Supervisor::new(opts);
            let mut failed = 0;
            for t in ts {
                let (ran, skipped, failures) = sup.replay(t);
                println!(
                    "{:>13}: {ran} files ran, {skipped} skipped (known class), {} failed",
                    t.name(),
                    failures.len()
                );
                for f in &failures {
                    println!("    {}", describe(f));
                }
                failed += failures.len();
            }
            if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Some(Cmd::Sample {
            target,
            seed,
            from,
            count,
            out,
            root,
        }) => {
            let Some(target) = Target::from_name(&target) else {
                eprintln!("error: unknown target `{target}`");
                return ExitCode::from(2);
            };
            let root = root.unwrap_or_else(default_root);
            let inputs = Inputs::new(target, Source::Generated { seed, root });
            if let Err(e) = std::fs::create_dir_all(&out) {
                eprintln!("error: cannot create {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            for i in from..from.saturating_add(count) {
                let data = inputs.get(i).unwrap_or_default();
                if let Err(e) = std::fs::write(out.join(format!("{i:08}")), data) {
                    eprintln!("error: cannot write to {}: {e}", out.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        None => fuzz(&cli),
    }
}

fn fuzz(cli: &Cli) -> ExitCode {
    let ts = match targets(&cli.target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = options(&cli.common);
    let per_target = if cli.forever {
        cli.seconds
    } else {
        cli.seconds / ts.len() as f64
    };
    println!(
        "fuzzing {} with seed {} for {per_target:.1} s per target{}; crashes go to {}",
        ts.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
        cli.seed,
        if cli.forever {
            " per round, forever"
        } else {
            ""
        },
        opts.crash_dir.display()
    );
    let mut sup = Supervisor::new(opts);
    let mut next = vec![0u64; ts.len()];
    let (mut new, mut known) = (0, 0);
    let mut round = 0u64;
    loop {
        round += 1;
        for (t, next) in ts.iter().zip(next.iter_mut()) {
            let r = sup.fuzz(*t, cli.seed, *next, per_target);
            *next = r.next_index;
            let secs = r.elapsed.as_secs_f64();
            println!(
                "{:>13}: {} inputs in {secs:.1} s ({:.0}/s), {} skipped (known class), {} crashes ({} new); peak memory {} MiB, slowest input {:.0} ms",
                t.name(),
                r.executions,
                r.executions as f64 / secs.max(1e-9),
                r.skipped_known,
                r.all_crashes(),
                r.new_crashes(),
                r.peak_rss >> 20,
                r.slowest.as_secs_f64() * 1000.0,
            );
            for c in &r.crashes {
                println!("    {}", describe(c));
            }
            new += r.new_crashes();
            known += r.all_crashes() - r.new_crashes();
        }
        if !cli.forever {
            break;
        }
        println!("round {round} done: {new} new crashes, {known} known so far");
    }
    println!("{new} new crashes, {known} in known classes");
    if new > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

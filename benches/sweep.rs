//! `simnet sweep` at the size issue 23 names: 10,000 seeds of a
//! handshake-sized scenario (`tcp/three-way-handshake`) on the machine's
//! cores (target: under 10 s on 2 cores), beside the same points on one
//! thread; and its resident memory after 10,000 and after 100,000 points,
//! which must not grow with the number of points (the lines go to a sink,
//! as to a file).
//!
//! Prints its figures; `SIMNET_BENCH_QUICK=1` runs 1,000 and 10,000 points.
//! Run with `cargo bench --bench sweep`.

#![allow(missing_docs, reason = "a bench binary exports nothing")]
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "a bench may read the wall clock; the simulation never does"
)]

use simnet::sweep::{Plan, run_sweep};
use std::time::Instant;

/// Peak resident memory (VmHWM) of this process, in KiB, if the system says.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn plan(seeds: u64) -> Plan {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/tcp/three-way-handshake.toml"
    );
    Plan {
        file: "scenarios/tcp/three-way-handshake.toml".into(),
        source: std::fs::read_to_string(file).expect("the scenario is readable"),
        seeds: (1, seeds),
        sets: Vec::new(),
        shard: None,
    }
}

/// Runs `seeds` points on `jobs` threads; returns the seconds taken and the
/// bytes of output.
fn sweep(seeds: u64, jobs: usize) -> (f64, u64) {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let registry = simnet::registry();
    let mut out = Count(0);
    let started = Instant::now();
    let outcome =
        run_sweep(&plan(seeds), &registry, jobs, 0, &mut out, &|| {}).expect("the sweep runs");
    assert_eq!(outcome.ran, seeds);
    assert_eq!(outcome.failed, 0);
    (started.elapsed().as_secs_f64(), out.0)
}

fn main() {
    let quick = std::env::var("SIMNET_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
        || std::env::args().any(|a| a == "--test");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (small, large) = if quick {
        (1_000, 10_000)
    } else {
        (10_000, 100_000)
    };

    let (parallel, bytes) = sweep(small, cores);
    let (serial, _) = sweep(small, 1);
    println!(
        "sweep of {small} seeds of tcp/three-way-handshake: {parallel:.2} s on {cores} threads, \
         {serial:.2} s on 1 (ratio {:.2}); {:.0} points/s; {} bytes of lines; target: under 10 s on 2 cores",
        serial / parallel,
        small as f64 / parallel,
        bytes
    );
    let after_small = peak_kib();
    let (t, _) = sweep(large, cores);
    let after_large = peak_kib();
    match (after_small, after_large) {
        (Some(a), Some(b)) => println!(
            "peak resident memory: {a} KiB after {small} points, {b} KiB after {large} more \
             ({:.2}x the points, {:.2}x the memory); {large} points in {t:.2} s",
            (large + small) as f64 / small as f64,
            b as f64 / a as f64
        ),
        _ => println!("{large} points in {t:.2} s (this system does not report peak memory)"),
    }
}

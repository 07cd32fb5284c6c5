//! `simnet sweep` and `simnet run --set` as a user runs them: the lines do
//! not depend on the number of threads, shards merged report exactly what
//! one run reports, an interrupted sweep carries on, and bad settings are
//! refused before anything runs.

use super::{simnet, stderr, stdout, temp_file};

const SCENARIO: &str = "scenarios/http/keep-alive-vs-close.toml";

fn sweep(extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        SCENARIO,
        "--seeds",
        "1..40",
        "--set",
        "link.loss=0%,2%,10%",
    ];
    args.extend_from_slice(extra);
    simnet(&args)
}

fn out_path(name: &str) -> String {
    let path = temp_file(name, "");
    std::fs::remove_file(&path).unwrap();
    path.display().to_string()
}

#[test]
fn the_lines_are_the_same_whatever_the_number_of_threads() {
    let one = sweep(&["--jobs", "1"]);
    let three = sweep(&["--jobs", "3"]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert_eq!(stdout(&one).lines().count(), 120);
    assert_eq!(one.stdout, three.stdout);
    // Loss makes some runs fail their expectations, and not all.
    let failed = stdout(&one).matches("\"passed\":false,\"point\"").count();
    assert!(failed > 0 && failed < 120, "{failed}");
}

#[test]
fn shards_merged_report_exactly_what_one_sweep_reports() {
    let whole = out_path("whole.jsonl");
    assert!(sweep(&["--out", &whole]).status.success());
    let mut shards = Vec::new();
    for k in 1..=4 {
        let path = out_path(&format!("shard{k}.jsonl"));
        let o = sweep(&["--shard", &format!("{k}/4"), "--out", &path]);
        assert!(o.status.success(), "{}", stderr(&o));
        shards.push(path);
    }
    let one = simnet(&["sweep", "report", &whole]);
    // Merged in any order, one shard given twice: the same bytes.
    let mut args = vec!["sweep", "report"];
    args.extend(shards.iter().rev().map(String::as_str));
    args.push(&shards[0]);
    let merged = simnet(&args);
    assert!(one.status.success(), "{}", stderr(&one));
    assert_eq!(stdout(&one), stdout(&merged));
    // The plot too.
    let svg = |files: &[&str]| {
        let mut args = vec![
            "sweep",
            "report",
            "--format",
            "svg",
            "--metric",
            "retransmissions",
        ];
        args.extend_from_slice(files);
        stdout(&simnet(&args))
    };
    let plot = svg(&[&whole]);
    assert!(plot.starts_with("<svg"), "{plot}");
    assert!(plot.contains("link.loss=10%") && plot.contains("(120 runs)"));
    let parts: Vec<&str> = shards.iter().map(String::as_str).collect();
    assert_eq!(plot, svg(&parts));
    let report = stdout(&one);
    assert!(report.contains("120 runs in 3 combinations"), "{report}");
    assert!(report.contains("link.loss=10%"), "{report}");
    // Each failing seed comes with the command that reproduces it, and
    // that command does fail.
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with("simnet run "))
        .expect("a failing seed");
    let cmd: Vec<&str> = line
        .split("    #")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let rerun = simnet(&cmd[1..]);
    assert_eq!(rerun.status.code(), Some(1), "{line}\n{}", stdout(&rerun));
}

#[test]
fn an_interrupted_sweep_carries_on_after_its_last_whole_line() {
    let whole = out_path("full.jsonl");
    assert!(sweep(&["--out", &whole]).status.success());
    let full = std::fs::read_to_string(&whole).unwrap();
    // Seven whole lines and half of the eighth, as a killed run leaves them.
    let mut cut: String = full.lines().take(7).map(|l| format!("{l}\n")).collect();
    let eighth = full.lines().nth(7).unwrap();
    cut.push_str(&eighth[..eighth.len() / 2]);
    let partial = out_path("partial.jsonl");
    std::fs::write(&partial, cut).unwrap();
    let o = sweep(&["--out", &partial]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("7 of 120 points already there"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&partial).unwrap(), full);
    // Another sweep's file is not appended to: other seeds, even where
    // the first points' numbers agree, or other values.
    for other in [
        vec!["--seeds", "5..9"],
        vec!["--seeds", "1..80", "--set", "link.loss=0%,2%,10%"],
        vec!["--seeds", "1..40", "--set", "link.loss=0%,3%,10%"],
    ] {
        let mut args = vec!["sweep", SCENARIO, "--out", &partial];
        args.extend(other);
        let o = simnet(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("another sweep's results"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn a_bad_setting_is_refused_before_any_point_runs() {
    let o = sweep(&["--set", "link.latency=10ms,fast"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("(--set link.loss=0% --set link.latency=fast)"),
        "{e}"
    );
    assert!(e.contains("`fast` does not start with a number"), "{e}");
    assert!(stdout(&o).is_empty());
    let o = sweep(&["--set", "links.latency=1ms"]);
    assert!(
        stderr(&o).contains("the scenario has no `links`"),
        "{}",
        stderr(&o)
    );
    let o = simnet(&["sweep", SCENARIO, "--seeds", "9..1"]);
    assert!(
        stderr(&o).contains("the first seed is after the last"),
        "{}",
        stderr(&o)
    );
    let o = simnet(&["sweep", SCENARIO, "--seeds", "0..18446744073709551615"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("more than 100000000 points"),
        "{}",
        stderr(&o)
    );
    let o = simnet(&["sweep", SCENARIO, "--shard", "5/4"]);
    assert!(stderr(&o).contains("is not a shard"), "{}", stderr(&o));
}

#[test]
fn run_set_changes_the_run_as_the_file_would() {
    let o = simnet(&[
        "run",
        "scenarios/tcp/three-way-handshake.toml",
        "--format",
        "summary",
        "--set",
        "link.latency=50ms",
    ]);
    assert!(
        stdout(&o).contains("server:80 0.000ms 100ms"),
        "{}",
        stdout(&o)
    );
    let o = simnet(&[
        "run",
        "scenarios/tcp/three-way-handshake.toml",
        "--set",
        "link.latency=abc",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("three-way-handshake.toml (--set link.latency=abc):"),
        "{}",
        stderr(&o)
    );
}

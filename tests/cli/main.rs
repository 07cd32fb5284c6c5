//! The `simnet` binary as a user runs it: output, exit codes, errors.

mod payloads;
mod sweep;

use std::path::PathBuf;
use std::process::{Command, Output};

fn simnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simnet"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the simnet binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simnet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn run_prints_the_trace_then_the_verdicts_and_exits_0() {
    let o = simnet(&["run", "scenarios/tcp/close-client-first.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("FIN-WAIT-2 -> TIME-WAIT"));
    assert!(out.contains("4 of 4 expectations passed"));
    let trace_end = out.find("run  ended").unwrap();
    let verdicts = out.find("expect ").unwrap();
    assert!(trace_end < verdicts);
}

#[test]
fn every_textual_format_ends_its_last_line_before_the_verdicts() {
    // The summary is read like the timeline: its verdicts follow on
    // standard output after a blank line, never glued to the last line.
    let o = simnet(&[
        "run",
        "scenarios/websocket/upgrade-and-echo.toml",
        "--format",
        "summary",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let end = out.find("Run ended at ").unwrap();
    let line = &out[end..out[end..].find('\n').unwrap() + end];
    assert!(!line.contains("expect"), "{line:?}");
    assert!(out.contains("ms\n\nexpect the server switches protocols with 101"));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // Machine-readable formats keep standard output clean: the verdicts go
    // to standard error, and standard output ends with a newline.
    for format in ["mermaid", "jsonl", "csv", "svg"] {
        let o = simnet(&[
            "run",
            "scenarios/websocket/upgrade-and-echo.toml",
            "--format",
            format,
        ]);
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        assert!(stdout(&o).ends_with('\n'), "{format}");
        assert!(!stdout(&o).contains("expect "), "{format}");
        assert!(stderr(&o).starts_with("expect "), "{format}");
    }
}

#[test]
fn a_failed_expectation_exits_1_and_shows_the_observed_value() {
    let scenario = std::fs::read_to_string("scenarios/tcp/close-client-first.toml")
        .unwrap()
        .replace("time_wait_on = \"client\"", "time_wait_on = \"server\"");
    let path = temp_file("wrong-expectation.toml", &scenario);
    let o = simnet(&["run", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("expect TIME-WAIT held by server only ... FAILED (observed client)")
    );
}

#[test]
fn invalid_input_exits_2_with_file_line_and_column() {
    let o = simnet(&["run", "tests/broken/unknown-host.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--> tests/broken/unknown-host.toml:13:22"),
        "{}",
        stderr(&o)
    );

    let o = simnet(&[
        "check",
        "tests/broken/unknown-host.toml",
        "scenarios/tcp/half-close.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("ok: scenarios/tcp/half-close.toml"));

    let o = simnet(&["run", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read the file"));

    let o = simnet(&[
        "run",
        "scenarios/tcp/half-close.toml",
        "--until",
        "ten seconds",
    ]);
    assert_eq!(o.status.code(), Some(2));

    let o = simnet(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn until_and_seed_override_the_scenario() {
    let o = simnet(&[
        "run",
        "scenarios/tcp/close-client-first.toml",
        "--until",
        "30ms",
    ]);
    let out = stdout(&o);
    assert!(out.contains("time limit of 30.000ms reached"), "{out}");
    assert!(!out.contains("ESTABLISHED -> FIN-WAIT-1"));
    assert!(
        out.contains("not reached: the run ended at 30.000ms"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1));

    let a = stdout(&simnet(&[
        "run",
        "scenarios/udp/datagrams.toml",
        "--seed",
        "1",
    ]));
    let b = stdout(&simnet(&[
        "run",
        "scenarios/udp/datagrams.toml",
        "--seed",
        "2",
    ]));
    assert!(a.contains("(seed 1)") && b.contains("(seed 2)"));
    assert_ne!(a, b);
}

#[test]
fn check_determinism_runs_twice_and_compares_every_format() {
    let o = simnet(&[
        "run",
        "--check-determinism",
        "scenarios/tcp/duplication-reordering.toml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("deterministic: two runs gave byte-identical output in every format")
    );
}

#[test]
fn out_writes_the_trace_to_a_file() {
    let path = std::env::temp_dir().join(format!("simnet-cli-out-{}.txt", std::process::id()));
    let o = simnet(&[
        "run",
        "scenarios/tcp/three-way-handshake.toml",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("LISTEN -> SYN-RECEIVED"));
    assert!(stdout(&o).contains("5 of 5 expectations passed"));
    assert!(!stdout(&o).contains("LISTEN"));
}

/// `simnet run` keeps only headers for formats that read only headers, and
/// every byte for those that read payloads: pcap, pcapng and Mermaid (whose
/// arrows quote HTTP request lines) come out exactly as from a run that kept
/// everything.
#[test]
fn payload_formats_get_every_byte_from_the_command_line() {
    let file = "scenarios/http/keep-alive-vs-close.toml";
    let source = std::fs::read_to_string(file).unwrap();
    let scenario = simnet::scenario::parse(file, &source, &simnet::registry()).unwrap();
    let full = simnet::run_scenario(&scenario, None, None);
    for format in [
        simnet::Format::Pcap,
        simnet::Format::Pcapng,
        simnet::Format::Mermaid,
    ] {
        assert_eq!(format.capture(), simnet::Capture::Full);
        let path = std::env::temp_dir().join(format!(
            "simnet-cli-payload-{}.{}",
            std::process::id(),
            format.name()
        ));
        let o = simnet(&[
            "run",
            file,
            "--format",
            format.name(),
            "--out",
            path.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let written = std::fs::read(&path).unwrap();
        assert!(
            written == simnet::render(&full, format),
            "{}",
            format.name()
        );
    }
    let mermaid = simnet::render(&full, simnet::Format::Mermaid);
    assert!(String::from_utf8(mermaid).unwrap().contains("GET /"));
}

#[test]
fn list_shows_every_scenario_with_its_description() {
    let o = simnet(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("tcp/lost-final-ack.toml"));
    assert!(out.contains("Why TIME-WAIT exists"));
    let o = simnet(&["list", "--apps"]);
    assert!(stdout(&o).contains("tcp-client"));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["check", "--help"],
        &["list", "--help"],
    ] {
        let o = simnet(cmd);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("Usage"));
    }
}

#[test]
fn the_books_generated_files_are_what_the_scenarios_produce_now() {
    // The book only includes files under book/src/generated/; if the code
    // changes what a scenario prints, this fails until `simnet book` runs.
    let o = simnet(&["book", "--check"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}\nrun `cargo run --release -- book` and commit book/src/generated/",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains("generated files are up to date"));
}

#[test]
fn book_check_reports_a_stale_file_by_name() {
    let out = std::env::temp_dir().join(format!("simnet-book-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_str().unwrap();
    let o = simnet(&["book", "--out", out_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let trace = out.join("tcp/three-way-handshake/trace.txt");
    let text = std::fs::read_to_string(&trace).unwrap();
    std::fs::write(&trace, text.replace("SYN-SENT", "SYN-SEND")).unwrap();
    std::fs::write(out.join("left-over.txt"), "x").unwrap();
    // The Linux reference table is another generator's file: not stale.
    std::fs::write(out.join("linux-reference.md"), "table").unwrap();
    let o = simnet(&["book", "--check", "--out", out_s]);
    assert_eq!(o.status.code(), Some(1));
    let report = stdout(&o);
    assert!(
        report.contains("tcp/three-way-handshake/trace.txt"),
        "{report}"
    );
    assert!(
        report.contains("left-over.txt (no longer generated)"),
        "{report}"
    );
    assert!(!report.contains("linux-reference.md"), "{report}");
    // Regenerating removes what is no longer generated, not that table.
    let o = simnet(&["book", "--out", out_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!out.join("left-over.txt").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("linux-reference.md")).unwrap(),
        "table"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_closed_pipe_ends_output_quietly_instead_of_panicking() {
    // `simnet list | head -1`: the reader goes away after the first line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_simnet"))
        .args(["list"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_ne!(o.status.code(), Some(101), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn a_diagram_too_long_for_mermaid_is_cut_to_fit_unless_asked_for_more() {
    let file = "scenarios/flow/congestion-control.toml";
    let o = simnet(&["run", file, "--format", "mermaid"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let diagram = stdout(&o);
    assert!(diagram.len() <= 50_000, "{} characters", diagram.len());
    assert!(
        diagram.contains("diagram cut after"),
        "no note saying where it stops"
    );
    assert!(stderr(&o).contains("more than Mermaid's default limit"));
    // Asking for a number of events is respected, even past the limit.
    let o = simnet(&[
        "run",
        file,
        "--format",
        "mermaid",
        "--max-events",
        "1000000",
    ]);
    assert!(stdout(&o).len() > 50_000);
    assert!(!stdout(&o).contains("diagram cut after"));
    assert!(stderr(&o).contains("Mermaid refuses more than"));
}

#[test]
fn run_refuses_contradictory_or_ignored_flags_naming_the_flag() {
    let file = "scenarios/tcp/close-client-first.toml";
    let cases: &[(&[&str], &str)] = &[
        (
            &["--format", "mermaid", "--from", "2s", "--to", "1s"],
            "error: --from 2s is after --to 1s",
        ),
        (
            &["--format", "mermaid", "--max-events", "0"],
            "error: --max-events 0",
        ),
        (
            &["--from", "1s"],
            "error: --from narrows only --format mermaid",
        ),
        (
            &["--format", "csv", "--to", "1s"],
            "error: --to narrows only --format mermaid",
        ),
        (
            &["--format", "jsonl", "--connection", "49152"],
            "error: --connection narrows only --format mermaid and --format svg",
        ),
        (&["--out", file], "is the scenario file itself"),
        (
            &["--out", "scenarios/tcp/../tcp/close-client-first.toml"],
            "is the scenario file itself",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["run", file];
        args.extend_from_slice(flags);
        let o = simnet(&args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{flags:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("help: "), "{flags:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{flags:?}: nothing ran");
    }
    // The scenario file is untouched.
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.starts_with("# ") || text.contains("name = \"close-client-first\""));
    // A window in the right order is fine.
    let o = simnet(&[
        "run", file, "--format", "mermaid", "--from", "0s", "--to", "1s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn an_unwritable_out_is_refused_before_the_run() {
    let o = simnet(&[
        "run",
        "scenarios/tcp/close-client-first.toml",
        "--out",
        "/nonexistent-folder/trace.txt",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: --out: cannot write /nonexistent-folder/trace.txt"),
        "{err}"
    );
    // The run never happened: no verdicts were printed.
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[cfg(unix)]
#[test]
fn an_endless_or_binary_input_is_refused_with_its_name() {
    let o = simnet(&["run", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("larger than 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--> /dev/zero"), "{}", stderr(&o));
    let dir = std::env::temp_dir().join(format!("simnet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("binary.toml");
    std::fs::write(&path, b"name = \"x\"\n\x00\x01\xff\xfe").unwrap();
    let o = simnet(&["check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("not UTF-8 text: byte 0xFF"), "{err}");
    assert!(err.contains(&format!("{}:2:3", path.display())), "{err}");
    // The NUL and the other control byte before it are shown escaped.
    assert!(err.contains("\\0\\x01"), "{err}");
    assert!(!err.contains('\0'), "{err:?}");
}

#[test]
fn check_and_run_print_warnings_on_stderr_and_still_succeed() {
    let scenario = std::fs::read_to_string("scenarios/tcp/close-client-first.toml").unwrap();
    let late = format!("{scenario}\n[[timeline]]\nat = \"999s\"\ncrash = \"server\"\n");
    let path = temp_file("late-entry.toml", &late);
    for cmd in ["check", "run"] {
        let o = simnet(&[cmd, path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("warning: this timeline entry at 999s comes after the time limit"),
            "{cmd}: {err}"
        );
        assert!(err.contains("late-entry.toml:"), "{cmd}: {err}");
        assert!(!stdout(&o).contains("warning"), "{cmd}");
    }
}

#[test]
fn list_apps_shows_the_timeline_commands_of_each_kind() {
    let o = simnet(&["list", "--apps"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let http_server = &out[out.find("http-server ").unwrap()..];
    let section = &http_server[..http_server
        .find("\nhttp-subscriber")
        .unwrap_or(http_server.len())];
    assert!(section.contains("timeline commands:"), "{section}");
    assert!(section.contains("    publish "), "{section}");
    assert!(section.contains("    stop "), "{section}");
}

/// Two hosts, `c` (10.0.0.1) and `s` (10.0.0.2), joined by a 1 ms link:
/// the start of the scenario files these tests write. A macro, so that
/// `concat!` keeps each file one literal.
macro_rules! two_hosts {
    () => {
        r#"
[[host]]
name = "c"
address = "10.0.0.1"

[[host]]
name = "s"
address = "10.0.0.2"

[[link]]
between = ["c", "s"]
latency = "1ms"
"#
    };
}

/// A WebSocket ping every 10 ms for a simulated century: its trace would
/// grow until the machine ran out of memory.
const CENTURY: &str = concat!(
    r#"
name = "century"
description = "A ping every 10 ms for a hundred years."
time_limit = "876000h"
"#,
    two_hosts!(),
    r#"
[[app]]
host = "s"
kind = "ws-server"

[[app]]
host = "c"
kind = "ws-client"
connect = "s:80"
ping_every = "10ms"
close_after = "never"
"#
);

#[test]
fn a_run_past_its_memory_budget_exits_3_and_says_how_to_narrow_it() {
    let file = temp_file("century.toml", CENTURY);
    let file = file.to_str().unwrap();
    let o = simnet(&[
        "run",
        file,
        "--format",
        "svg",
        "--max-trace-memory",
        "256KiB",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // The plot of what was kept is still drawn.
    assert!(stdout(&o).starts_with("<svg"), "{}", stdout(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "error: the run was stopped: memory limit of 256.0 KiB for the trace reached: \
         narrow the run with --until or a smaller time_limit (only mermaid and svg keep \
         the whole run; the other formats are written as it goes: e.g. --format summary); \
         or allow more with --max-trace-memory"
    );

    // Narrowed with --until, the same file runs to the end and exits 0.
    let o = simnet(&[
        "run",
        file,
        "--format",
        "svg",
        "--max-trace-memory",
        "256KiB",
        "--until",
        "100ms",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = simnet(&["run", file, "--max-trace-memory", "lots"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_run_cut_by_its_event_limit_says_so_and_how_to_raise_it() {
    let file = temp_file(
        "few-events.toml",
        &CENTURY.replace(
            "time_limit = \"876000h\"",
            "time_limit = \"876000h\"\nmax_events = 2000",
        ),
    );
    let file = file.to_str().unwrap();
    let o = simnet(&["run", file, "--format", "summary"]);
    // Like the time limit, the event limit is not a failure...
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // ...but what the run shows ends there, and both outputs say so.
    assert!(
        stdout(&o).contains("stopped, event limit of 2000 events reached"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        stderr(&o).trim_end(),
        "warning: the run stopped at its event limit (2000 events) before its time limit: \
         what it shows ends there\nhelp: raise `max_events` at the top of the scenario file"
    );
    // The stored path (Mermaid) warns alike.
    let o = simnet(&["run", file, "--format", "mermaid"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("raise `max_events`"), "{}", stderr(&o));
}

#[test]
fn an_http_client_path_with_a_space_is_refused_at_load_time() {
    // It used to loop forever at t = 0, even under --until, and `check`
    // called the file ok.
    let file = temp_file(
        "bad-path.toml",
        concat!(
            r#"
name = "bad-path"
description = "A request target with a space."
"#,
            two_hosts!(),
            r#"
[[app]]
host = "s"
kind = "http-server"

[[app]]
host = "c"
kind = "http-client"
connect = "s:80"
path = "/a b"
"#
        ),
    );
    let file = file.to_str().unwrap();
    for command in [&["check", file][..], &["run", file, "--until", "2ms"][..]] {
        let o = simnet(command);
        assert_eq!(o.status.code(), Some(2), "{command:?}");
        let err = stderr(&o);
        assert!(
            err.contains("error: \"/a b\" is not a valid request target: the space (character 3) is not allowed"),
            "{err}"
        );
        assert!(err.contains(&format!("--> {file}:25:8")), "{err}");
    }
}

/// `simnet check BAD 2>&1 | head -1` used to end in a panic (exit 101):
/// `eprintln!` panics when standard error is a closed pipe. Every message
/// now goes through a writer that drops what cannot be written, so the
/// exit code stays the command's own.
#[test]
fn closed_output_pipes_never_make_a_panic() {
    use std::process::Stdio;
    for args in [
        &["check", "tests/broken/unknown-host.toml"][..],
        &["run", "tests/broken/unknown-host.toml"][..],
        &[
            "run",
            "scenarios/tcp/close-client-first.toml",
            "--format",
            "jsonl",
        ][..],
        &["list", "--apps"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_simnet"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the simnet binary runs");
        // Both read ends are closed before simnet writes anything.
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_ne!(status.code(), Some(101), "{args:?} panicked");
        assert!(status.code().is_some(), "{args:?} died of a signal");
    }
}

/// `--keylog PATH` writes the run's TLS secrets, the same with a streamed
/// format and a stored one; it warns when the run had no TLS, and refuses
/// a path that would overwrite the scenario or the `--out` file.
#[test]
fn keylog_writes_the_secrets_of_the_run() {
    let dir = std::env::temp_dir();
    let keys = |n: &str| dir.join(format!("simnet-cli-keys-{n}-{}.log", std::process::id()));
    let (streamed, stored) = (keys("text"), keys("mermaid"));
    for (format, path) in [("text", &streamed), ("mermaid", &stored)] {
        let o = simnet(&[
            "run",
            "scenarios/tls/https-request.toml",
            "--format",
            format,
            "--keylog",
            path.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(
            !stdout(&o).contains("SECRET"),
            "secrets stay out of the output"
        );
    }
    let written = std::fs::read_to_string(&streamed).unwrap();
    assert_eq!(written, std::fs::read_to_string(&stored).unwrap());
    let labels: Vec<&str> = written
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert!(
        labels.contains(&"CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
        "{written}"
    );
    assert!(labels.contains(&"SERVER_TRAFFIC_SECRET_0"), "{written}");
    assert!(
        labels.contains(&"CLIENT_RANDOM"),
        "TLS 1.2's master secret: {written}"
    );
    for line in written.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert_eq!(parts[1].len(), 64, "a client random is 32 bytes: {line}");
    }

    let plain = keys("plain");
    let o = simnet(&[
        "run",
        "scenarios/tcp/three-way-handshake.toml",
        "--keylog",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("derived no TLS secrets"),
        "{}",
        stderr(&o)
    );

    let o = simnet(&[
        "run",
        "scenarios/tls/https-request.toml",
        "--keylog",
        "scenarios/tls/https-request.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is the scenario file itself"),
        "{}",
        stderr(&o)
    );
    let o = simnet(&[
        "run",
        "scenarios/tls/https-request.toml",
        "--format",
        "pcap",
        "--out",
        plain.to_str().unwrap(),
        "--keylog",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("also the --out file"), "{}", stderr(&o));
}

/// `--capture-at NODE` writes the pcap one node saw; a wrong node or format
/// is refused with the names that would do.
#[test]
fn capture_at_writes_what_one_node_saw() {
    let dir = std::env::temp_dir().join(format!("simnet-cli-at-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (at_r2, everything) = (file("r2.pcap"), file("all.pcap"));
    let scenario = "scenarios/topology/three-hop-loss.toml";
    let o = simnet(&[
        "run",
        scenario,
        "--format",
        "pcap",
        "--out",
        &at_r2,
        "--capture-at",
        "r2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("3 of 3 expectations passed"),
        "{}",
        stdout(&o)
    );
    let o = simnet(&["run", scenario, "--format", "pcap", "--out", &everything]);
    assert_eq!(o.status.code(), Some(0));
    let (r2, all) = (
        std::fs::read(&at_r2).unwrap(),
        std::fs::read(&everything).unwrap(),
    );
    // Records: 16-byte header, then the packet; the TTL is its ninth byte.
    let ttls = |pcap: &[u8]| {
        let (mut at, mut out) = (24, Vec::new());
        while at < pcap.len() {
            let n = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
            out.push(pcap[at + 16 + 8]);
            at += 16 + n;
        }
        out
    };
    let (seen, sent) = (ttls(&r2), ttls(&all));
    // Hosts send with TTL 64; r2 sees packets after one router (63) and
    // sends them on after two (62); everything else is sent by a host.
    assert!(sent.iter().all(|t| *t == 64), "{sent:?}");
    assert!(seen.iter().all(|t| matches!(t, 63 | 62)), "{seen:?}");
    assert_eq!(seen.iter().filter(|t| **t == 63).count(), seen.len() / 2);

    let o = simnet(&[
        "run",
        scenario,
        "--format",
        "pcap",
        "--out",
        &at_r2,
        "--capture-at",
        "r9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no host or router named `r9`"), "{err}");
    assert!(
        err.contains("client, r1, r2, r3, server") || err.contains("r2"),
        "{err}"
    );
    let o = simnet(&["run", scenario, "--format", "text", "--capture-at", "r2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--capture-at writes a classic pcap"),
        "{}",
        stderr(&o)
    );
}

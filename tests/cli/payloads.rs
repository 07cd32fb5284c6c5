//! Huge payloads cost nothing to load and little to run: sizes are numbers
//! until a socket takes the bytes.
//!
//! Each command runs under an address-space limit of 1 GiB (`ulimit -v`),
//! far below the 100 GiB the scenario names: before payloads were
//! generated lazily, `simnet check` and `simnet list` aborted on this file
//! while building a 100 GiB buffer.

use super::{stderr, stdout, temp_file};
use std::process::{Command, Output};

/// A scenario whose every payload is 100 GiB: a TCP client's `send_bytes`,
/// a TCP server's `reply_bytes`, an HTTP route's `body_bytes` and a
/// timeline `send` with a `count`.
const HUGE: &str = r#"
name = "huge-payloads"
description = "Every payload is 100GiB."
time_limit = "10s"

[[host]]
name = "client"
address = "10.0.0.1"

[[host]]
name = "server"
address = "10.0.0.2"

[[link]]
between = ["client", "server"]
latency = "1ms"
bandwidth = "1Gbps"

[[app]]
host = "server"
kind = "tcp-server"
port = 80
reply = "fixed"
request_bytes = 1
reply_bytes = "100GiB"

[[app]]
host = "client"
name = "tcp"
kind = "tcp-client"
connect = "server:80"
send_bytes = "100GiB"

[[app]]
host = "server"
name = "web"
kind = "http-server"
port = 8080
routes = [{ path = "/big", body_bytes = "100GiB" }]

[[app]]
host = "client"
name = "browser"
kind = "http-client"
connect = "server:8080"
path = "/big"

[[timeline]]
at = "20ms"
app = "tcp"
command = "send"
count = 107374182400
"#;

/// Runs the binary with at most 1 GiB of address space.
fn simnet_in_1gib(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_simnet"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the simnet binary runs")
}

#[test]
fn check_and_list_of_a_100gib_scenario_need_no_memory_for_it() {
    // A folder of its own, for `list`.
    let dir = std::env::temp_dir().join(format!("simnet-cli-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge-payloads.toml");
    std::fs::write(&path, HUGE).unwrap();
    let o = simnet_in_1gib(&["check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let dir = dir.to_str().unwrap().to_string();
    let o = simnet_in_1gib(&["list", &dir]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("huge-payloads"), "{}", stdout(&o));
}

#[test]
fn a_run_with_100gib_payloads_stays_small() {
    let path = temp_file("huge-payloads-run.toml", HUGE);
    let o = simnet_in_1gib(&[
        "run",
        path.to_str().unwrap(),
        "--until",
        "100ms",
        "--format",
        "summary",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // Data did flow: the run is not small because nothing happened.
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.contains("client -> server"))
        .unwrap_or_else(|| panic!("no throughput line:\n{out}"));
    let bytes: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(bytes > 1_000_000, "{line}");
}

#[test]
fn a_size_beyond_the_maximum_is_a_clear_error_not_a_crash() {
    let path = temp_file(
        "too-large.toml",
        &HUGE.replace("send_bytes = \"100GiB\"", "send_bytes = \"99999999999GiB\""),
    );
    let o = simnet_in_1gib(&["check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`99999999999GiB` is too large: a size is at most 1TiB"),
        "{err}"
    );
    assert!(err.contains("too-large.toml:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

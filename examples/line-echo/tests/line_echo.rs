//! The example's two promises: its own `simnet` binary runs a scenario file
//! that names its kinds (and the stock binary does not know them), and the
//! applications work from the Rust API, read back with `world.app`.

use std::path::Path;
use std::process::Command;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/line-echo.toml");

#[test]
fn the_custom_binary_runs_a_scenario_using_its_own_kinds() {
    let out = Command::new(env!("CARGO_BIN_EXE_line-echo"))
        .args(["run", SCENARIO, "--format", "summary"])
        .output()
        .expect("the line-echo binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The summary format prints the verdicts on standard output.
    assert!(stdout.contains("3 of 3 expectations passed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn the_custom_binary_lists_and_checks_its_kinds() {
    let list = Command::new(env!("CARGO_BIN_EXE_line-echo"))
        .args(["list", "--apps"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("line-echo") && text.contains("line-client"),
        "{text}"
    );
    // The built-in kinds are still there.
    assert!(text.contains("http-server"), "{text}");

    let check = Command::new(env!("CARGO_BIN_EXE_line-echo"))
        .args(["check", SCENARIO])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0));
}

#[test]
fn a_scenario_with_a_bad_parameter_is_refused_at_load() {
    let dir = std::env::temp_dir().join(format!("line-echo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(SCENARIO)
        .unwrap()
        .replace("connect = \"server:7\"", "connect = \"sever:7\"");
    std::fs::write(&bad, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_line-echo"))
        .args(["run", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown host `sever`"), "{stderr}");
}

#[test]
fn a_slower_link_fails_the_latency_expectation_with_exit_1() {
    // The verdicts are real: the same file with a 20 ms link fails the
    // one-round-trip expectation, and the binary says so.
    let dir = std::env::temp_dir().join(format!("line-echo-slow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let slow = dir.join("slow.toml");
    let text = std::fs::read_to_string(SCENARIO)
        .unwrap()
        .replace("latency = \"10ms\"", "latency = \"20ms\"");
    std::fs::write(&slow, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_line-echo"))
        .args(["run", slow.to_str().unwrap(), "--format", "summary"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("2 of 3 expectations passed"), "{stdout}");
}

// ANCHOR: rust-api
use line_echo::{LineClient, LineEchoServer};
use simnet::{LinkParams, SimDuration, WorldBuilder};

#[test]
fn the_apps_work_from_the_rust_api() {
    let mut b = WorldBuilder::new(1);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    b.app(server, "line-echo", || LineEchoServer::new(7));
    let to = b.addr(server, 7);
    let app = b.app(client, "line-client", move || {
        LineClient::new(to, &["one", "two"])
    });
    let mut world = b.build().unwrap();
    world.run();

    let echoes = &world.app::<LineClient>(app).unwrap().echoes;
    let rtt = SimDuration::from_millis(20);
    assert_eq!(echoes, &[("one".into(), rtt), ("two".into(), rtt)]);
}
// ANCHOR_END: rust-api

#[test]
fn the_stock_binary_does_not_know_the_kinds() {
    // What the example exists for: without registering, the kinds are unknown.
    let registry = simnet::registry();
    assert!(registry.get("line-echo").is_none());
    let Err(err) = simnet::scenario::load(Path::new(SCENARIO), &registry) else {
        panic!("the stock registry loaded a scenario naming unknown kinds");
    };
    assert!(err.to_string().contains("line-echo"), "{err}");
}

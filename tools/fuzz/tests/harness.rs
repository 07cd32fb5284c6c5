//! The harness catches what it claims to: each symptom of the self-test
//! target (a panic, a spinning hang, a sleeping hang, memory growth, an
//! abort) is reported, written down and fails the command; a clean input
//! passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fuzz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simnet-fuzz"))
        .args(args)
        .output()
        .expect("running simnet-fuzz")
}

/// A fresh directory under the target directory, named for the test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("self-test")).unwrap();
    dir
}

fn replay_one(name: &str, input: &str) -> (bool, String) {
    let dir = scratch(name);
    std::fs::write(dir.join("self-test").join("input"), input).unwrap();
    let out = fuzz(&[
        "replay",
        "--target",
        "self-test",
        "--crash-dir",
        dir.to_str().unwrap(),
        "--memory-mb",
        "256",
    ]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_clean_input_passes() {
    let (ok, out) = replay_one("clean", "fine");
    assert!(ok, "{out}");
    assert!(
        out.contains("1 files ran, 0 skipped (known class), 0 failed"),
        "{out}"
    );
}

#[test]
fn a_panic_is_caught_with_its_message() {
    let (ok, out) = replay_one("panic", "please panic");
    assert!(!ok, "{out}");
    assert!(
        out.contains("panic: the self-test input asked for a panic"),
        "{out}"
    );
}

#[test]
fn a_spinning_hang_is_stopped_by_the_cpu_budget() {
    let (ok, out) = replay_one("hang", "hang");
    assert!(!ok, "{out}");
    assert!(out.contains("hang: no progress after"), "{out}");
}

#[test]
fn a_sleeping_hang_is_stopped_by_the_wall_clock() {
    let (ok, out) = replay_one("sleep", "sleep");
    assert!(!ok, "{out}");
    assert!(
        out.contains("hang: no progress after 0.0 s of CPU"),
        "{out}"
    );
}

#[test]
fn memory_growth_is_stopped_at_the_cap() {
    let (ok, out) = replay_one("memory", "memory");
    assert!(!ok, "{out}");
    // Either the resident-memory cap or the address-space cap stops it.
    assert!(
        out.contains("memory: resident set reached") || out.contains("SIGABRT"),
        "{out}"
    );
}

#[test]
fn an_abort_is_reported() {
    let (ok, out) = replay_one("abort", "abort");
    assert!(!ok, "{out}");
    assert!(out.contains("died: killed by SIGABRT"), "{out}");
}

/// A fuzzing session finds the seed that panics (input 2 of the corpus),
/// writes it with a note, exits non-zero, and says so; the second session
/// does not write the same symptom again.
#[test]
fn a_session_writes_each_new_crash_once_and_fails() {
    let dir = scratch("session");
    let run = || {
        fuzz(&[
            "--target",
            "self-test",
            "--seconds",
            "1",
            "--crash-dir",
            dir.to_str().unwrap(),
        ])
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("[NEW]"), "{stdout}");
    let files = |ext: bool| {
        std::fs::read_dir(dir.join("self-test"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some() == ext)
            .count()
    };
    assert!(files(false) >= 1 && files(false) == files(true));
    let saved = std::fs::read(
        dir.join("self-test")
            .join(format!("{:016x}", simnet_fuzz::targets::fnv(b"panic"))),
    )
    .unwrap();
    assert_eq!(saved, b"panic");
    let before = files(false);
    let _ = run();
    assert_eq!(
        files(false),
        before,
        "the same symptoms are not written twice"
    );
}

//! Every crash the fuzz harness ever found, replayed forever.
//!
//! `simnet-fuzz replay` runs each file under `tests/fuzz-crashes/<target>/`
//! in a supervised worker, exactly as the fuzzer ran it: a panic, a hang
//! (past the target's CPU budget), memory past the cap or a dead worker
//! fails this test. Inputs of a class listed in `src/known.rs` (bugs being
//! fixed elsewhere) are skipped until their entry is removed.

use std::path::Path;
use std::process::Command;

#[test]
fn every_saved_crash_now_runs_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_simnet-fuzz"))
        .arg("replay")
        .arg("--root")
        .arg(&root)
        .output()
        .expect("running simnet-fuzz replay");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a saved fuzz crash still crashes:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Something was replayed: the directory is where the harness writes.
    assert!(stdout.contains("files ran"), "{stdout}");
}

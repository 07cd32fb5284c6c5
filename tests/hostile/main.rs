//! Misbehaving peers: every scenario in `tests/hostile/` drives a server or
//! client with a `raw-client` or `raw-server` that sends broken bytes on
//! purpose (a request without `Host`, an unmasked WebSocket frame, invalid
//! UTF-8, a truncated response) and checks the answer with `[[expect]]`.
//!
//! For each: every expectation passes, the verdicts are snapshot-tested,
//! and two runs give byte-identical text traces. They live here rather than
//! in `scenarios/` because they test answers to broken input, not teach a
//! behaviour, and so stay out of the book.

use simnet::{Format, render, run_scenario, verdicts};
use std::path::Path;

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_hostile_scenario_gets_the_right_answer() {
    insta::glob!(".", "*.toml", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let scenario = simnet::scenario::parse(&relative(path), &source, &simnet::registry())
            .unwrap_or_else(|e| panic!("{} does not load:\n{e}", relative(path)));
        assert!(
            !scenario.expectations.is_empty(),
            "{}: a hostile scenario must check the answer",
            relative(path)
        );
        let run = run_scenario(&scenario, None, None);
        let failed = run.failures();
        let text = String::from_utf8(render(&run, Format::Text)).unwrap();
        assert!(
            failed.is_empty(),
            "{}:\n{}\n\n{text}",
            relative(path),
            failed.join("\n")
        );
        let again = run_scenario(&scenario, None, None);
        assert!(
            render(&again, Format::Text) == text.as_bytes(),
            "{}: two runs differ",
            relative(path)
        );
        insta::assert_snapshot!(verdicts(&run));
    });
}

#!/usr/bin/env bash
# Mutation testing of the two modules that decide what a run means: the
# expectation judge (crates/simnet-scenario/src/expect.rs) and the trace
# analysis (crates/simnet-core/src/analysis.rs).
#
# cargo-mutants changes one operator, condition or return value at a time
# (a "mutant") and runs the tests; a mutant the tests still pass with is a
# behaviour nobody checks. Each file's mutants run only that crate's unit
# tests (`--lib`), which are where the judge's and the analysis's tests live
# (expect/tests.rs, analysis/tests.rs), so each mutant costs one incremental
# build of one crate. Mutants that cannot change behaviour are excluded, each
# with its reason, in .cargo/mutants.toml.
#
# Usage: tools/mutants/run.sh [extra cargo-mutants options]
# Results: target/mutants/{expect,analysis}/mutants.out/ (caught.txt,
# missed.txt, unviable.txt, timeout.txt). Exits non-zero if a mutant was
# missed or timed out, or if the unmutated tests fail.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The version the figures in the notes were measured with.
VERSION=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $VERSION"; then
    cargo install --locked cargo-mutants --version "$VERSION"
fi

out=target/mutants
mkdir -p "$out/expect" "$out/analysis"
rc=0
cargo mutants --profile mutants -p simnet-scenario --test-package simnet-scenario \
    -f crates/simnet-scenario/src/expect.rs -o "$out/expect" "$@" -- --lib || rc=$?
cargo mutants --profile mutants -p simnet-core --test-package simnet-core \
    -f crates/simnet-core/src/analysis.rs -o "$out/analysis" "$@" -- --lib || rc=$?
exit "$rc"

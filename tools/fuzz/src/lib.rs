//! simnet-fuzz: a mutation-based fuzz harness that runs on stable Rust.
//!
//! Nightly (and so cargo-fuzz and libFuzzer) is not available on the
//! project's machines, so this harness needs no compiler support: a small
//! deterministic mutator ([`mutate`]) seeded by ChaCha streams turns seed
//! inputs (the scenario files, hand-written protocol messages) into
//! mutants, and a supervisor ([`supervise`]) runs them in a child process
//! that it watches for panics, hangs, memory growth and deaths. Every crash
//! becomes a file under `tests/fuzz-crashes/<target>/` that the replay test
//! (`tools/fuzz/tests/replay.rs`) runs forever after.
//!
//! The targets ([`targets`]) are the scenario parser and compiler, whole
//! runs of mutated scenarios, the HTTP/1.1 request and response parsers,
//! the WebSocket frame decoder and connection, and the STOMP decoder.
//! [`known`] lists the crash classes that are known and being fixed
//! elsewhere, which do not fail CI for now.

pub mod known;
pub mod mutate;
pub mod supervise;
pub mod targets;

pub use targets::Target;

//! The `simnet` command line: `run`, `check`, `list`, `book`.
//!
//! Everything lives in [`simnet::cli`], so that a project with application
//! kinds of its own can build the same binary with them registered.

fn main() -> std::process::ExitCode {
    simnet::cli::main(simnet::registry())
}

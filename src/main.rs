//! The `simnet` command line: `run`, `check`, `list`.
//!
//! Exit codes: 0 success, 1 an expectation failed (or a run was not
//! deterministic), 2 invalid input or usage, 3 a run was stopped by a
//! safety bound (an application stuck in a loop, the trace's memory
//! budget).

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// simnet: watch TCP, HTTP and WebSocket behave, step by step, reproducibly.
#[derive(Parser)]
#[command(name = "simnet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print what happened, then its expectations' results.
    Run(cmd::run::Args),
    /// Check scenario files without running them.
    Check(cmd::check::Args),
    /// List the scenarios in a folder with their descriptions.
    List(cmd::list::Args),
    /// Regenerate the book's traces, diagrams, summaries and plots from the scenarios.
    Book(cmd::book::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cmd::run::execute(args),
        Command::Check(args) => cmd::check::execute(args),
        Command::List(args) => cmd::list::execute(args),
        Command::Book(args) => cmd::book::execute(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{}", message.trim_end());
            ExitCode::from(2)
        }
    }
}

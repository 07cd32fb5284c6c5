//! The `simnet` command line as a library: `run`, `check`, `list`, `book`,
//! `sweep`.
//!
//! The `simnet` binary is one line, `simnet::cli::main(simnet::registry())`.
//! A project with application kinds of its own builds its own binary the
//! same way, with those kinds added to the registry, and its scenario files
//! can then name them:
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! fn main() -> ExitCode {
//!     let mut registry = simnet::registry();
//!     // my_app::register(&mut registry);
//!     simnet::cli::main(registry)
//! }
//! ```
//!
//! Exit codes: 0 success, 1 an expectation failed (or a run was not
//! deterministic), 2 invalid input or usage, 3 a run was stopped by a
//! safety bound (an application stuck in a loop, the trace's memory
//! budget).
//!
//! One module per subcommand, each with an `execute` function returning the
//! exit code, or an error message (exit code 2).

/// `println!` that stops quietly when standard output is closed (`simnet
/// list | head`) instead of panicking on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` with the same behaviour as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` that never panics: a closed standard error (`simnet check
/// ... 2>&1 | head`) loses the message instead of ending in a panic.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `eprint!` with the same behaviour as [`errln!`].
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod book;
mod check;
mod list;
mod progress;
mod run;
mod sweep;

use clap::{Parser, Subcommand};
use simnet_scenario::AppRegistry;
use std::ffi::OsString;
use std::process::ExitCode;

/// Everything a command can fail with before producing a result.
type CmdResult = Result<ExitCode, String>;

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
    Run(run::Args),
    /// Check scenario files without running them.
    Check(check::Args),
    /// List the scenarios in a folder with their descriptions.
    List(list::Args),
    /// Regenerate the book's traces, diagrams, summaries and plots from the scenarios.
    Book(book::Args),
    /// Run a scenario at many seeds and parameter values, a JSON line per run (`simnet sweep report` merges them).
    Sweep(sweep::Args),
}

/// Runs the command line given to this process, with `registry` as the
/// application kinds scenario files may name; returns the exit code.
pub fn main(registry: AppRegistry) -> ExitCode {
    main_with_args(registry, std::env::args_os())
}

/// [`main`] with explicit arguments, the first being the program's name
/// (`["simnet", "run", "file.toml"]`). Help, version and usage errors are
/// printed as clap prints them.
pub fn main_with_args<I, T>(registry: AppRegistry, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are "errors" that exit 0.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::execute(args, &registry),
        Command::Check(args) => check::execute(args, &registry),
        Command::List(args) => list::execute(args, &registry),
        Command::Book(args) => book::execute(args),
        Command::Sweep(args) => sweep::execute(args, &registry),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            errln!("{}", message.trim_end());
            ExitCode::from(2)
        }
    }
}

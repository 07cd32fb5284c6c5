//! One module per subcommand, each with an `execute` function returning the
//! exit code, or an error message (exit code 2).

pub mod book;
pub mod check;
pub mod list;
pub mod run;

/// Everything a command can fail with before producing a result.
pub type CmdResult = Result<std::process::ExitCode, String>;

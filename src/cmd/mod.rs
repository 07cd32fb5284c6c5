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

pub mod book;
pub mod check;
pub mod list;
pub mod run;

/// Everything a command can fail with before producing a result.
pub type CmdResult = Result<std::process::ExitCode, String>;

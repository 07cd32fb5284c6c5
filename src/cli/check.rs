//! `simnet check`: load scenarios without running them.

use super::CmdResult;
use simnet_scenario::AppRegistry;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `simnet check`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Loads every file; prints each error and warning (on standard error);
/// exit 2 if any is invalid. Warnings alone do not change the exit code.
pub fn execute(args: Args, registry: &AppRegistry) -> CmdResult {
    let mut bad = 0;
    for file in &args.files {
        match simnet_scenario::load(file, registry) {
            Ok(s) => {
                for w in &s.warnings {
                    err!("{w}");
                }
                outln!("ok: {} ({})", file.display(), s.name);
            }
            Err(e) => {
                bad += 1;
                errln!("{e}");
            }
        }
    }
    if bad > 0 {
        errln!("{bad} of {} scenario files are invalid", args.files.len());
        Ok(ExitCode::from(2))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

//! `simnet list`: the scenarios in a folder, with their descriptions.

use super::CmdResult;
use simnet_scenario::AppRegistry;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `simnet list`.
#[derive(clap::Args)]
pub struct Args {
    /// The folder to search (recursively).
    #[arg(default_value = "scenarios")]
    dir: PathBuf,
    /// List the application kinds scenario files can use instead.
    #[arg(long)]
    apps: bool,
}

/// Prints one line per scenario: its path, name and description.
pub fn execute(args: Args, registry: &AppRegistry) -> CmdResult {
    if args.apps {
        for kind in registry.kinds() {
            outln!("{:<16} {}", kind.name, kind.summary);
            for p in kind.params {
                outln!("    {:<16} {}", p.key, p.doc);
            }
            if !kind.commands.is_empty() {
                outln!("  timeline commands:");
                for c in kind.commands {
                    outln!("    {:<16} {}", c.verb, c.doc);
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let files = crate::scenario_files(&args.dir)
        .map_err(|e| format!("error: cannot read {}: {e}", args.dir.display()))?;
    if files.is_empty() {
        return Err(format!(
            "error: no scenario files (*.toml) under {}",
            args.dir.display()
        ));
    }
    let mut bad = false;
    for file in files {
        let shown = file
            .strip_prefix(&args.dir)
            .unwrap_or(Path::new(&file))
            .display()
            .to_string();
        match simnet_scenario::load(&file, registry) {
            Ok(s) => outln!("{shown:<44} {}", first_sentence(&s.description)),
            Err(_) => {
                bad = true;
                outln!(
                    "{shown:<44} (invalid: run `simnet check {}`)",
                    file.display()
                );
            }
        }
    }
    Ok(if bad {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn first_sentence(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.find(". ") {
        Some(i) => one_line[..=i].to_string(),
        None => one_line,
    }
}

//! `simnet book`: regenerate (or check) the book's generated material.

use super::CmdResult;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `simnet book`.
#[derive(clap::Args)]
pub struct Args {
    /// The scenarios folder.
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// The excerpt list.
    #[arg(long, default_value = "book/excerpts.toml")]
    excerpts: PathBuf,
    /// Where the generated files go (replaced entirely, except the files
    /// other generators own there: `simnet::book::OTHER_GENERATORS`).
    #[arg(long, default_value = "book/src/generated")]
    out: PathBuf,
    /// Only check that the files there are up to date (exit 1 if not).
    #[arg(long)]
    check: bool,
}

/// Generates every file; writes them, or compares them with what is there.
pub fn execute(args: Args) -> CmdResult {
    let excerpts = crate::book::read_excerpts(&args.excerpts).map_err(|e| format!("error: {e}"))?;
    let files =
        crate::book::generate(&args.scenarios, &excerpts).map_err(|e| format!("error: {e}"))?;
    let theirs = |path: &std::path::Path| {
        let rel = path.strip_prefix(&args.out).unwrap_or(path);
        crate::book::OTHER_GENERATORS
            .iter()
            .any(|other| rel == std::path::Path::new(other))
    };
    let existing = crate::scenario_files_with(&args.out, |p| !theirs(p)).unwrap_or_default();
    if args.check {
        let mut stale = Vec::new();
        for (rel, bytes) in &files {
            if std::fs::read(args.out.join(rel)).ok().as_deref() != Some(bytes.as_slice()) {
                stale.push(rel.display().to_string());
            }
        }
        for path in &existing {
            let rel = path.strip_prefix(&args.out).unwrap_or(path);
            if !files.contains_key(rel) {
                stale.push(format!("{} (no longer generated)", rel.display()));
            }
        }
        if stale.is_empty() {
            outln!("the book's {} generated files are up to date", files.len());
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "stale: {}\nrun `cargo run -- book` to regenerate",
            stale.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    for path in existing {
        let _ = std::fs::remove_file(path);
    }
    for (rel, bytes) in &files {
        let path = args.out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("error: {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("error: {}: {e}", path.display()))?;
    }
    outln!("wrote {} files to {}", files.len(), args.out.display());
    Ok(ExitCode::SUCCESS)
}

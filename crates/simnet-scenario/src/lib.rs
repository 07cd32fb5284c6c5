//! simnet-scenario: scenario files in, worlds and verdicts out.
//!
//! A scenario is a TOML file: hosts, routers (with static routes and NAT),
//! links (with their queue disciplines), applications, a timeline of
//! actions, targeted faults and expectations. [`load`] reads one, checks it
//! (every error names the file, line and column and says what would be
//! valid), and returns a [`Scenario`] that builds its [`World`] on demand;
//! [`evaluate`] judges a run's trace against the expectations, and a
//! [`Judge`] does the same as the run goes (it is a
//! [`TraceSink`](simnet_core::TraceSink): a streamed run keeps no event for
//! its verdicts).
//!
//! Load scenarios declare many identical hosts or applications with one
//! entry: `replicas = N` on a `[[host]]` (named by a pattern such as
//! `client-{i}`, `i` from 1, addresses counting up from the given one) or
//! on an `[[app]]` (named `NAME#1` .. `NAME#N`), and a name with `*`
//! (`client-*`) names every replica at once in links, applications, the
//! timeline and expectations, which then judge the whole group
//! ([`Claim::Group`]). At most [`MAX_REPLICAS`] hosts and applications;
//! checking them costs O(n log n).
//!
//! Application kinds come from an [`AppRegistry`]: this crate registers
//! simnet-core's TCP and UDP programs; the HTTP and WebSocket crates add
//! theirs.
//!
//! This crate never runs a simulation itself and never renders a trace.
//!
//! [`World`]: simnet_core::World

mod builtin;
mod compile;
pub mod diagnostic;
pub mod expect;
pub mod format;
pub mod overrides;
pub mod registry;
pub mod units;

pub use compile::{MAX_ENTRIES, MAX_REPLICAS, Scenario, parse};
pub use diagnostic::{Diagnostic, ScenarioError};
pub use expect::{Claim, Expectation, Judge, Members, Outcome, evaluate};
pub use registry::{
    AppKind, AppRegistry, CommandDoc, ListenPort, ParamDoc, ParamError, Params, SharedFactory,
    factory,
};

use std::path::Path;

/// The largest scenario file simnet reads: 1 MiB. The largest shipped
/// scenario is about 4 KiB, so this leaves room for generated files while
/// bounding what loading costs (a few tens of megabytes of memory at most),
/// and `simnet run /dev/zero` stops after reading one byte more than this.
pub const MAX_SCENARIO_BYTES: usize = 1 << 20;

/// Reads and checks a scenario file: at most [`MAX_SCENARIO_BYTES`], in UTF-8.
pub fn load(path: &Path, registry: &AppRegistry) -> Result<Scenario, ScenarioError> {
    let (file, source) = read(path)?;
    parse(&file, &source, registry)
}

/// [`load`], with `settings` made to the file's text first (`--set`; see
/// [`overrides`]). An error in the changed text names the file and the
/// settings, and points at the changed line.
pub fn load_with(
    path: &Path,
    settings: &[overrides::Setting],
    registry: &AppRegistry,
) -> Result<Scenario, ScenarioError> {
    let (file, source) = read(path)?;
    parse_with(&file, &source, settings, registry)
}

/// [`parse`], with `settings` made to `source` first (see [`load_with`]).
pub fn parse_with(
    file: &str,
    source: &str,
    settings: &[overrides::Setting],
    registry: &AppRegistry,
) -> Result<Scenario, ScenarioError> {
    if settings.is_empty() {
        return parse(file, source, registry);
    }
    let changed = overrides::apply(source, settings).map_err(|e| ScenarioError {
        file: file.to_string(),
        source: String::new(),
        diagnostics: vec![Diagnostic::new(e.to_string(), None)],
    })?;
    let list: Vec<String> = settings.iter().map(|s| format!("--set {s}")).collect();
    parse(&format!("{file} ({})", list.join(" ")), &changed, registry)
}

/// A scenario file's name and text: at most [`MAX_SCENARIO_BYTES`], in UTF-8.
fn read(path: &Path) -> Result<(String, String), ScenarioError> {
    let file = path.display().to_string();
    let bytes = read_capped(path).map_err(|message| ScenarioError {
        file: file.clone(),
        source: String::new(),
        diagnostics: vec![Diagnostic::new(message, None)],
    })?;
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[offset];
            // The text up to the bad byte is kept as it is, so the snippet
            // and the line and column point at the byte itself.
            let source = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let d = Diagnostic::new(
                format!("the file is not UTF-8 text: byte 0x{byte:02X} cannot appear here"),
                Some(offset..offset + 1),
            )
            .help("a scenario is a TOML text file in UTF-8, e.g. name = \"my-scenario\"");
            return Err(ScenarioError {
                file,
                source,
                diagnostics: vec![d],
            });
        }
    };
    Ok((file, source))
}

/// Reads at most one byte more than [`MAX_SCENARIO_BYTES`], so that neither
/// a huge file nor an endless one (`/dev/zero`) is read into memory.
fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    f.take(MAX_SCENARIO_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() > MAX_SCENARIO_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The message for a file over [`MAX_SCENARIO_BYTES`].
pub(crate) fn too_large() -> String {
    format!(
        "the file is larger than {} bytes (1 MiB), the most a scenario file may hold",
        MAX_SCENARIO_BYTES
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file written for one test, removed when dropped (each test uses
    /// its own names, so tests running at once never share a file).
    struct TempFile(std::path::PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    impl std::ops::Deref for TempFile {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    fn temp(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("simnet-load-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    #[test]
    fn a_file_over_the_limit_is_refused_by_name_without_reading_it_all() {
        let path = temp("big.toml", &vec![b'#'; MAX_SCENARIO_BYTES + 1]);
        let err = load(&path, &AppRegistry::with_builtin()).err().unwrap();
        let text = err.to_string();
        assert!(text.contains("larger than 1048576 bytes"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(err.source.is_empty(), "the text is not kept");
        // One byte under the limit is read (and refused for what it says).
        let path = temp("ok.toml", &vec![b'#'; MAX_SCENARIO_BYTES]);
        let text = load(&path, &AppRegistry::with_builtin())
            .err()
            .unwrap()
            .to_string();
        assert!(!text.contains("larger than"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_file_is_cut_off() {
        let err = load(Path::new("/dev/zero"), &AppRegistry::with_builtin())
            .err()
            .unwrap();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn parse_refuses_text_over_the_limit_too() {
        let text = "#".repeat(MAX_SCENARIO_BYTES + 1);
        let err = parse("big.toml", &text, &AppRegistry::with_builtin())
            .err()
            .unwrap();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn a_binary_file_gets_its_name_and_the_bad_bytes_line_and_column() {
        let path = temp("bin.toml", b"name = \"ok\"\ndescription = \"\xff\xfe\"\n");
        let text = load(&path, &AppRegistry::with_builtin())
            .err()
            .unwrap()
            .to_string();
        assert!(text.contains("not UTF-8 text: byte 0xFF"), "{text}");
        assert!(text.contains(&format!("{}:2:16", path.display())), "{text}");
    }

    #[test]
    fn more_entries_of_one_kind_than_the_cap_are_refused() {
        let mut text = String::from(
            "name = \"x\"\ndescription = \"x\"\n[[host]]\nname = \"a\"\naddress = \"10.0.0.1\"\n",
        );
        for _ in 0..=MAX_ENTRIES {
            text.push_str("[[expect]]\ndrops = 0\n");
        }
        let err = parse("many.toml", &text, &AppRegistry::with_builtin())
            .err()
            .unwrap();
        assert_eq!(err.diagnostics.len(), 1, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("10001 `[[expect]]` entries, more than the 10000"),
            "{text}"
        );
        // It points at the first entry past the cap.
        assert!(
            text.contains(&format!("many.toml:{}:1", 6 + 2 * MAX_ENTRIES)),
            "{text}"
        );
    }
}

//! simnet-scenario: scenario files in, worlds and verdicts out.
//!
//! A scenario is a TOML file: hosts, links, applications, a timeline of
//! actions, targeted faults and expectations. [`load`] reads one, checks it
//! (every error names the file, line and column and says what would be
//! valid), and returns a [`Scenario`] that builds its [`World`] on demand;
//! [`evaluate`] judges a run's trace against the expectations.
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
pub mod registry;
pub mod units;

pub use compile::{Scenario, parse};
pub use diagnostic::{Diagnostic, ScenarioError};
pub use expect::{Claim, Expectation, Outcome, evaluate};
pub use registry::{AppKind, AppRegistry, ParamDoc, ParamError, Params, SharedFactory, factory};

use std::path::Path;

/// Reads and checks a scenario file.
pub fn load(path: &Path, registry: &AppRegistry) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        source: String::new(),
        diagnostics: vec![Diagnostic::new(format!("cannot read the file: {e}"), None)],
    })?;
    parse(&file, &source, registry)
}

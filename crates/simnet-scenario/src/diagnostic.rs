//! Errors that point at the scenario file, Cargo-style.
//!
//! ```text
//! error: unknown host `sever`
//!   --> scenarios/tcp/close.toml:14:22
//!    |
//! 14 | between = ["client", "sever"]
//!    |                      ^^^^^^^
//!    = help: hosts in this scenario: client, server
//! ```

use std::fmt;
use std::ops::Range;

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong.
    pub message: String,
    /// Where, as a byte range of the file.
    pub span: Option<Range<usize>>,
    /// What would be valid.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem at `span`.
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            help: None,
        }
    }

    /// Adds what would be valid.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// A scenario that could not be loaded: the file, its text, and every problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file as the user named it.
    pub file: String,
    /// Its contents (for the snippets).
    pub source: String,
    /// The problems, in file order where known.
    pub diagnostics: Vec<Diagnostic>,
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            render(f, &self.file, &self.source, d)?;
        }
        Ok(())
    }
}

fn render(f: &mut fmt::Formatter<'_>, file: &str, source: &str, d: &Diagnostic) -> fmt::Result {
    writeln!(f, "error: {}", d.message)?;
    match &d.span {
        Some(span) => {
            let start = span.start.min(source.len());
            let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = source[start..]
                .find('\n')
                .map_or(source.len(), |i| start + i);
            let line_no = source[..start].matches('\n').count() + 1;
            let col = source[line_start..start].chars().count() + 1;
            let text = &source[line_start..line_end];
            let end = span.end.clamp(start, line_end.max(start));
            let width = source[start..end].chars().count().max(1);
            let gutter = line_no.to_string().len();
            writeln!(f, "{:>g$}--> {file}:{line_no}:{col}", "", g = gutter)?;
            writeln!(f, "{:>g$} |", "", g = gutter)?;
            writeln!(f, "{line_no} | {text}")?;
            writeln!(
                f,
                "{:>g$} | {:>c$}{}",
                "",
                "",
                "^".repeat(width),
                g = gutter,
                c = col - 1
            )?;
            if let Some(help) = &d.help {
                writeln!(f, "{:>g$} = help: {help}", "", g = gutter)?;
            }
        }
        None => {
            writeln!(f, "  --> {file}")?;
            if let Some(help) = &d.help {
                writeln!(f, "  = help: {help}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_caret_under_the_span() {
        let source = "name = \"x\"\nbetween = [\"client\", \"sever\"]\n";
        let start = source.find("\"sever\"").unwrap();
        let err = ScenarioError {
            file: "s.toml".into(),
            source: source.into(),
            diagnostics: vec![
                Diagnostic::new("unknown host `sever`", Some(start..start + 7))
                    .help("hosts: client, server"),
            ],
        };
        let text = err.to_string();
        assert!(text.contains("--> s.toml:2:22"), "{text}");
        assert!(
            text.contains("2 | between = [\"client\", \"sever\"]"),
            "{text}"
        );
        assert!(text.contains("|                      ^^^^^^^"), "{text}");
        assert!(text.contains("= help: hosts: client, server"), "{text}");
    }
}

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

/// The most problems one error shows: a generated file with thousands of
/// faulty entries gets the first of them and a count, not pages of output.
pub const MAX_SHOWN: usize = 100;

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line numbers come from one index of the file, built once: counting
        // newlines again for each of thousands of problems was quadratic.
        let starts = line_starts(&self.source);
        for (i, d) in self.diagnostics.iter().take(MAX_SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            render_as(f, "error", &self.file, &self.source, &starts, d)?;
        }
        if self.diagnostics.len() > MAX_SHOWN {
            writeln!(
                f,
                "\nerror: {} more problems in {} not shown; fix these first",
                self.diagnostics.len() - MAX_SHOWN,
                escape_control(&self.file, false)
            )?;
        }
        Ok(())
    }
}

/// The byte offset where each line of `source` starts.
fn line_starts(source: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(source.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// How many columns of a source line a snippet shows at most: a 50 MB line
/// is quoted as a window around the column, not echoed whole.
pub const SNIPPET_WIDTH: usize = 80;

/// `text` with every control character (NUL, escape, carriage return, ...)
/// written as a visible escape such as `\x1b`, so user text quoted in a
/// message cannot move the cursor, clear the screen or hide itself.
/// Newlines are escaped too unless `keep_newlines` is set (help texts use
/// them between lines of their own).
pub fn escape_control(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' && keep_newlines {
            out.push(c);
        } else if c.is_control() {
            out.push_str(&control_escape(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn control_escape(c: char) -> String {
    match c {
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\0' => "\\0".to_string(),
        c if (c as u32) < 0x100 => format!("\\x{:02x}", c as u32),
        c => format!("\\u{{{:x}}}", c as u32),
    }
}

/// How one character of a quoted line is shown: tabs become one space (so
/// the caret line stays aligned), control characters become escapes.
fn shown(c: char) -> String {
    match c {
        '\t' => " ".to_string(),
        c if c.is_control() => control_escape(c),
        c => c.to_string(),
    }
}

/// The quoted line and the caret line for the characters `line[from..to]`
/// (byte offsets within `line`), at most [`SNIPPET_WIDTH`] columns wide
/// around the span, with `...` where the line was cut.
fn snippet(line: &str, from: usize, to: usize) -> (String, String) {
    let cells: Vec<(usize, String)> = line.char_indices().map(|(i, c)| (i, shown(c))).collect();
    let first = cells
        .iter()
        .position(|(i, _)| *i >= from)
        .unwrap_or(cells.len());
    let last = cells
        .iter()
        .position(|(i, _)| *i >= to)
        .unwrap_or(cells.len())
        .max(first + 1);
    // Show the window that starts a little before the span, so the reader
    // sees what leads up to it, and cut the span itself if it is too long.
    let lead = SNIPPET_WIDTH / 4;
    let total: usize = cells.iter().map(|(_, s)| s.chars().count()).sum();
    let (mut start, mut end) = (0, cells.len());
    if total > SNIPPET_WIDTH {
        start = first.saturating_sub(lead);
        let mut width = 0;
        end = start;
        while end < cells.len() && width + cells[end].1.chars().count() <= SNIPPET_WIDTH {
            width += cells[end].1.chars().count();
            end += 1;
        }
    }
    let mut quoted = String::new();
    let mut carets = String::new();
    if start > 0 {
        quoted.push_str("...");
        carets.push_str("   ");
    }
    for (k, (_, s)) in cells.iter().enumerate().take(end).skip(start) {
        quoted.push_str(s);
        let mark = if (first..last).contains(&k) { '^' } else { ' ' };
        for _ in 0..s.chars().count() {
            carets.push(mark);
        }
    }
    if first >= cells.len() || first >= end {
        // The span starts at the end of the line (a missing value): put
        // one caret just after the last character shown.
        carets.push('^');
    }
    if end < cells.len() {
        quoted.push_str("...");
    }
    (quoted, carets.trim_end().to_string())
}

/// A warning about a scenario that loads: rendered like an error, with
/// `warning:` in front, for the command line to print on standard error.
pub fn render_warning(file: &str, source: &str, d: &Diagnostic) -> String {
    struct W<'a>(&'a str, &'a str, &'a Diagnostic);
    impl fmt::Display for W<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            render_as(f, "warning", self.0, self.1, &line_starts(self.1), self.2)
        }
    }
    W(file, source, d).to_string()
}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a likely typo (at most a third of the word's length, and at least 1).
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance in characters, with two rows of memory.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn render_as(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    file: &str,
    source: &str,
    starts: &[usize],
    d: &Diagnostic,
) -> fmt::Result {
    let file = escape_control(file, false);
    writeln!(f, "{label}: {}", escape_control(&d.message, false))?;
    let help = d.help.as_deref().map(|h| escape_control(h, true));
    match &d.span {
        Some(span) => {
            let start = floor_char_boundary(source, span.start.min(source.len()));
            let line_no = starts.partition_point(|s| *s <= start).max(1);
            let line_start = starts[line_no - 1];
            let line_end = starts.get(line_no).map_or(source.len(), |next| next - 1);
            let col = source[line_start..start].chars().count() + 1;
            let text = &source[line_start..line_end];
            let end = floor_char_boundary(source, span.end.clamp(start, line_end.max(start)));
            let (quoted, carets) = snippet(text, start - line_start, end - line_start);
            let gutter = line_no.to_string().len();
            writeln!(f, "{:>g$}--> {file}:{line_no}:{col}", "", g = gutter)?;
            writeln!(f, "{:>g$} |", "", g = gutter)?;
            writeln!(f, "{line_no} | {quoted}")?;
            writeln!(f, "{:>g$} | {carets}", "", g = gutter)?;
            if let Some(help) = &help {
                writeln!(f, "{:>g$} = help: {help}", "", g = gutter)?;
            }
        }
        None => {
            writeln!(f, "  --> {file}")?;
            if let Some(help) = &help {
                writeln!(f, "  = help: {help}")?;
            }
        }
    }
    Ok(())
}

/// The largest char boundary at or before `i` (a span from a lossy
/// conversion may point inside a character).
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Line and column (both from 1, the column in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    (
        source[..offset].matches('\n').count() + 1,
        source[line_start..offset].chars().count() + 1,
    )
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

    fn render_one(source: &str, span: Range<usize>, message: &str) -> String {
        ScenarioError {
            file: "s.toml".into(),
            source: source.into(),
            diagnostics: vec![Diagnostic::new(message, Some(span))],
        }
        .to_string()
    }

    #[test]
    fn a_huge_line_is_quoted_as_a_window_around_the_column() {
        let value = "x".repeat(1_000_000);
        let source = format!("name = \"{value}\" oops\n");
        let at = source.find("oops").unwrap();
        let text = render_one(&source, at..at + 4, "unexpected text");
        assert!(text.len() < 400, "{} bytes:\n{}", text.len(), &text[..400]);
        assert!(text.contains("--> s.toml:1:1000011"), "{text}");
        let quoted = text.lines().find(|l| l.starts_with("1 | ")).unwrap();
        assert!(quoted.starts_with("1 | ...xxx"), "{quoted}");
        assert!(quoted.ends_with("\" oops"), "{quoted}");
        assert!(quoted.chars().count() <= "1 | ...".len() + SNIPPET_WIDTH + 3);
        let carets = text.lines().find(|l| l.contains('^')).unwrap();
        // The carets sit under `oops`, whatever was cut before it.
        let col = quoted.find("oops").unwrap();
        assert_eq!(carets.find('^'), Some(col), "{quoted}\n{carets}");
        assert_eq!(carets.matches('^').count(), 4);
    }

    #[test]
    fn a_huge_span_gets_at_most_a_line_of_carets() {
        let source = format!("name = \"{}\"\n", "y".repeat(100_000));
        let text = render_one(&source, 7..source.len() - 1, "bad name");
        let carets = text.lines().find(|l| l.contains('^')).unwrap();
        assert!(carets.matches('^').count() <= SNIPPET_WIDTH, "{carets}");
        assert!(text.contains("y...\n"), "{text}");
    }

    #[test]
    fn control_characters_are_escaped_in_snippets_and_messages() {
        let source = "name = \"a\u{1b}[2Jb\0c\"\n";
        let text = render_one(source, 7..source.len() - 1, "bad name `a\u{1b}[2Jb\0c`");
        assert!(!text.contains('\u{1b}') && !text.contains('\0'), "{text:?}");
        assert!(text.contains("error: bad name `a\\x1b[2Jb\\0c`"), "{text}");
        assert!(text.contains("1 | name = \"a\\x1b[2Jb\\0c\""), "{text}");
        // The carets cover the escapes as they are shown.
        let carets = text.lines().find(|l| l.contains('^')).unwrap();
        assert_eq!(carets.matches('^').count(), "\"a\\x1b[2Jb\\0c\"".len());
    }

    #[test]
    fn suggestions_are_close_typos_only() {
        let kinds = ["tcp.failed", "tcp.reply", "http.response"];
        assert_eq!(suggest("tcp.faild", kinds), Some("tcp.failed"));
        assert_eq!(suggest("http.respones", kinds), Some("http.response"));
        assert_eq!(suggest("dns.query", kinds), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn thousands_of_problems_show_the_first_hundred_quickly() {
        let source = "x = 1\n".repeat(200_000);
        let diagnostics = (0..20_000)
            .map(|i| Diagnostic::new("bad", Some(i * 60..i * 60 + 1)))
            .collect();
        let err = ScenarioError {
            file: "s.toml".into(),
            source,
            diagnostics,
        };
        let text = err.to_string();
        assert_eq!(text.matches("error: bad").count(), MAX_SHOWN);
        // The hundredth problem, at byte 99 * 60, is on line 991.
        assert!(text.contains("--> s.toml:991:1"), "{text}");
        assert!(
            text.ends_with("error: 19900 more problems in s.toml not shown; fix these first\n")
        );
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé\nd", 0), (1, 1));
        assert_eq!(line_col("ab\ncé\nd", 3), (2, 1));
        assert_eq!(line_col("ab\ncé\nd", 7), (3, 1));
        assert_eq!(line_col("ab\ncé\nd", 6), (2, 3));
    }
}

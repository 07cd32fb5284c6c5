//! The one table builder every part of the summary uses.
//!
//! A summary section is a title line and a plain-text table under it. What
//! differs between sections is only their columns, their rows, and what a
//! section with no rows shows, so those are the builder's three choices:
//! [`Table::new`] (a section that is left out when it has no rows),
//! [`Table::or_none`] (one that says `(none)`), [`Table::always`] (one that
//! shows its headers anyway). [`Table::row_capped`] cuts long listings at
//! [`MAX_ROWS`] with a `...` row.

use std::fmt::Write;

/// Rows a long listing (HTTP requests, per-event delays, latencies side by
/// side) shows at most; longer runs are cut with a `...` row.
pub const MAX_ROWS: usize = 40;

/// What a table without rows renders as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IfEmpty {
    /// Nothing: the section is left out.
    Omit,
    /// The title over `  (none)`.
    SayNone,
    /// The title and the headers, with no row.
    Headers,
}

/// A titled plain-text table with left-aligned columns.
#[derive(Clone, Debug)]
pub struct Table {
    title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    if_empty: IfEmpty,
}

impl Table {
    /// A table under `title` with these column headers; it renders as
    /// nothing while it has no rows.
    pub fn new<H: AsRef<str>>(title: &str, headers: impl IntoIterator<Item = H>) -> Table {
        Table {
            title: title.to_string(),
            headers: headers
                .into_iter()
                .map(|h| h.as_ref().to_string())
                .collect(),
            rows: Vec::new(),
            if_empty: IfEmpty::Omit,
        }
    }

    /// The same table, rendered as its title over `  (none)` while it has no
    /// rows.
    pub fn or_none(self) -> Table {
        Table {
            if_empty: IfEmpty::SayNone,
            ..self
        }
    }

    /// The same table, rendered with its headers even while it has no rows.
    pub fn always(self) -> Table {
        Table {
            if_empty: IfEmpty::Headers,
            ..self
        }
    }

    /// Adds a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Adds a row while the table holds fewer than [`MAX_ROWS`]; the first
    /// row beyond them becomes `...` and later ones are left out.
    pub fn row_capped(&mut self, cells: Vec<String>) {
        match self.rows.len() {
            n if n < MAX_ROWS => self.rows.push(cells),
            MAX_ROWS => self.rows.push(vec!["...".to_string()]),
            _ => {}
        }
    }

    /// Adds one row per item.
    pub fn rows<T>(
        mut self,
        items: impl IntoIterator<Item = T>,
        cells: impl FnMut(T) -> Vec<String>,
    ) -> Table {
        self.rows.extend(items.into_iter().map(cells));
        self
    }

    /// The title line, then the table with each line indented by two
    /// spaces; `None` for a table without rows that is left out.
    pub fn render(&self) -> Option<String> {
        let mut out = format!("{}\n", self.title);
        match self.if_empty {
            IfEmpty::Omit if self.rows.is_empty() => return None,
            IfEmpty::SayNone if self.rows.is_empty() => {
                out.push_str("  (none)\n");
                return Some(out);
            }
            _ => {}
        }
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from(" ");
            for (i, w) in widths.iter().enumerate() {
                let c = cells.get(i).map_or("", |c| c.as_str());
                let _ = write!(s, " {c:<w$}");
            }
            s.trim_end().to_string() + "\n"
        };
        out.push_str(&line(&self.headers));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let t = Table::new("Title", ["a", "long header"])
            .rows([("wide cell", "1"), ("x", "2")], |(a, b)| {
                vec![a.to_string(), b.to_string()]
            });
        assert_eq!(
            t.render().as_deref(),
            Some(
                "Title\n  a         long header\n  --------- -----------\n  \
                 wide cell 1\n  x         2\n"
            )
        );
    }

    #[test]
    fn an_empty_table_is_left_out_says_none_or_shows_its_headers() {
        assert_eq!(Table::new("T", ["a"]).render(), None);
        assert_eq!(
            Table::new("T", ["a"]).or_none().render().as_deref(),
            Some("T\n  (none)\n")
        );
        assert_eq!(
            Table::new("T", ["a"]).always().render().as_deref(),
            Some("T\n  a\n  -\n")
        );
    }

    #[test]
    fn capped_rows_stop_after_the_maximum_with_an_ellipsis() {
        let mut t = Table::new("T", ["n"]);
        for n in 0..MAX_ROWS + 5 {
            t.row_capped(vec![n.to_string()]);
        }
        // A row added without the cap still shows (the "after" row of the
        // per-event table).
        t.row(vec!["last".to_string()]);
        let text = t.render().unwrap_or_default();
        let cells: Vec<&str> = text.lines().skip(3).map(str::trim).collect();
        assert_eq!(cells.len(), MAX_ROWS + 2);
        assert_eq!(cells[MAX_ROWS - 1], (MAX_ROWS - 1).to_string());
        assert_eq!(&cells[MAX_ROWS..], ["...", "last"]);
    }
}

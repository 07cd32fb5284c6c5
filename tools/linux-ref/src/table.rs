//! The results table: one row per (case, fact), with Linux's and simnet's
//! fact, the verdict, and whether it is the one the case file expects.
//! Rows travel between `linux-ref compare` and `linux-ref table` as
//! tab-separated lines, so `tests/linux/run.sh` can collect them in a file.

use crate::case::Expected;

/// One compared fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The case's title.
    pub case: String,
    /// The fact's name.
    pub fact: String,
    /// What Linux did.
    pub linux: String,
    /// What simnet did.
    pub simnet: String,
    /// The case file's expectation: `None` for "agree", or the reason
    /// they differ.
    pub expected_differs: Option<String>,
}

impl Row {
    /// Builds a row from the two facts and the expectation.
    pub fn new(case: &str, fact: &str, linux: String, simnet: String, exp: &Expected) -> Row {
        Row {
            case: case.to_string(),
            fact: fact.to_string(),
            linux,
            simnet,
            expected_differs: match exp {
                Expected::Agree(_) => None,
                Expected::Differs { differs } => Some(differs.clone()),
            },
        }
    }

    /// Whether Linux and simnet agree on this fact.
    pub fn agrees(&self) -> bool {
        self.linux == self.simnet
    }

    /// Whether the verdict is the one the case expects.
    pub fn as_expected(&self) -> bool {
        self.agrees() == self.expected_differs.is_none()
    }

    fn verdict(&self) -> &'static str {
        match (self.agrees(), self.as_expected()) {
            (true, true) => "agree",
            (false, true) => "differs",
            (true, false) => "agree (UNEXPECTED: the case says differs)",
            (false, false) => "differs (UNEXPECTED: the case says agree)",
        }
    }

    /// The row as one tab-separated line.
    pub fn to_line(&self) -> String {
        let clean = |s: &str| s.replace(['\t', '\n'], " ");
        format!(
            "{}\t{}\t{}\t{}\t{}\n",
            clean(&self.case),
            clean(&self.fact),
            clean(&self.linux),
            clean(&self.simnet),
            clean(self.expected_differs.as_deref().unwrap_or("")),
        )
    }

    /// Reads a line written by [`Row::to_line`].
    pub fn from_line(line: &str) -> Result<Row, String> {
        let f: Vec<&str> = line.split('\t').collect();
        let [case, fact, linux, simnet, why] = f[..] else {
            return Err(format!(
                "not a result row (5 tab-separated fields): {line:?}"
            ));
        };
        Ok(Row {
            case: case.to_string(),
            fact: fact.to_string(),
            linux: linux.to_string(),
            simnet: simnet.to_string(),
            expected_differs: (!why.is_empty()).then(|| why.to_string()),
        })
    }
}

/// What each fact's name means, for the table's readers.
fn fact_label(fact: &str) -> &str {
    match fact {
        "sequence" => "segments with SYN, FIN, RST or data",
        "time_wait" => "who ends in TIME-WAIT",
        "rst" => "where RSTs appear",
        "half_close" => "data after a half-close",
        "syn" => "SYNs sent",
        "handshakes" => "handshakes completed",
        "probes" => "keepalive probes",
        "nagle" => "Nagle × delayed ACK",
        other => other,
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The table as the Markdown page the book includes.
pub fn markdown(rows: &[Row], header: &str) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push_str("| case | fact | Linux | simnet | verdict | why |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    let mut last_case = "";
    for r in rows {
        let case = if r.case == last_case {
            ""
        } else {
            r.case.as_str()
        };
        last_case = &r.case;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(case),
            cell(fact_label(&r.fact)),
            cell(&r.linux),
            cell(&r.simnet),
            r.verdict(),
            cell(r.expected_differs.as_deref().unwrap_or("")),
        ));
    }
    out
}

/// The table for a terminal: one block per case.
pub fn plain(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut last_case = "";
    for r in rows {
        if r.case != last_case {
            out.push_str(&format!("\n{}\n", r.case));
            last_case = &r.case;
        }
        out.push_str(&format!("  {:<10} {}\n", r.fact, r.verdict()));
        out.push_str(&format!("    Linux:  {}\n", r.linux));
        if !r.agrees() {
            out.push_str(&format!("    simnet: {}\n", r.simnet));
        }
        if let Some(why) = &r.expected_differs {
            out.push_str(&format!("    why:    {why}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(linux: &str, simnet: &str, why: Option<&str>) -> Row {
        Row {
            case: "c".into(),
            fact: "rst".into(),
            linux: linux.into(),
            simnet: simnet.into(),
            expected_differs: why.map(str::to_string),
        }
    }

    #[test]
    fn verdicts_against_expectations() {
        assert!(row("a", "a", None).as_expected());
        assert!(row("a", "b", Some("because")).as_expected());
        assert!(!row("a", "b", None).as_expected());
        assert!(!row("a", "a", Some("because")).as_expected());
        assert_eq!(
            row("a", "b", None).verdict(),
            "differs (UNEXPECTED: the case says agree)"
        );
    }

    #[test]
    fn rows_round_trip_through_lines() {
        let r = row("x|y", "z", Some("why not"));
        let line = r.to_line();
        assert_eq!(Row::from_line(line.trim_end_matches('\n')).unwrap(), r);
        assert!(Row::from_line("too\tfew").is_err());
    }

    #[test]
    fn markdown_names_each_case_once_and_escapes_pipes() {
        let rows = [row("x|y", "x|y", None), row("a", "b", Some("why"))];
        let md = markdown(&rows, "");
        assert_eq!(md.matches("| c |").count(), 1);
        assert!(md.contains("x\\|y"));
        assert!(md.contains("| differs | why |"));
    }
}

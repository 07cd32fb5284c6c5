//! `--set KEY=VALUE`: one scenario, changed from the command line, as if
//! the file had said so.
//!
//! A setting names a scalar by its path in the file: `seed`,
//! `time_limit`; `link.latency` (every `[[link]]`); `link[2].latency` (the
//! second one, counting from 1 in file order); `link[client-server].loss`
//! (the link between those hosts, in either order); `app[client].requests`
//! and `host[server].backlog` (by `name`; an app without a name is found
//! by its host). The value is TOML when it reads as TOML (`5`, `true`,
//! `"text"`, `[1, 2]`) and text otherwise (`10ms`, `5%`, `1Mbit/s`).
//!
//! The change is made to the file's text ([`toml_edit`] keeps everything
//! else as written), and the result is loaded like any file: the same
//! validation, the same errors, pointing at the changed line. A key the
//! table lacks is added to it, so `--set app[client].interval=1s` works
//! whether or not the file gave one.
//!
//! A sweep gives a key several values (`link.latency=10ms,50ms`):
//! [`parse_sweep`] splits them (commas inside `[...]` or quotes do not).

use std::fmt;
use toml_edit::{DocumentMut, Item, Table, Value};

/// One `KEY=VALUE`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Setting {
    /// The path, as written (`link[2].latency`).
    pub key: String,
    /// The value, as written (`10ms`).
    pub value: String,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Why a setting could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--set {setting}: {message}")]
pub struct SetError {
    /// The setting as written (`KEY=VALUE`, or the whole argument).
    pub setting: String,
    /// What is wrong.
    pub message: String,
}

fn err(setting: impl Into<String>, message: impl Into<String>) -> SetError {
    SetError {
        setting: setting.into(),
        message: message.into(),
    }
}

/// The most values one `--set` may sweep, and the most settings at once.
pub const MAX_VALUES: usize = 10_000;

/// Parses `KEY=VALUE` (one value: `simnet run --set`).
pub fn parse_setting(text: &str) -> Result<Setting, SetError> {
    let (key, values) = parse_sweep(text)?;
    match <[String; 1]>::try_from(values) {
        Ok([value]) => Ok(Setting { key, value }),
        Err(values) => Err(err(
            text,
            format!(
                "{} values, and a run takes one (a sweep takes several)",
                values.len()
            ),
        )),
    }
}

/// Parses `KEY=V1,V2,...` into the key and its values.
pub fn parse_sweep(text: &str) -> Result<(String, Vec<String>), SetError> {
    let Some((key, values)) = text.split_once('=') else {
        return Err(err(text, "write KEY=VALUE, e.g. link.latency=10ms"));
    };
    let key = key.trim();
    path(key).map_err(|m| err(text, m))?;
    let values = split_values(values);
    if values.iter().any(|v| v.trim().is_empty()) {
        return Err(err(text, "an empty value"));
    }
    if values.len() > MAX_VALUES {
        return Err(err(text, format!("more than {MAX_VALUES} values")));
    }
    Ok((
        key.to_string(),
        values.into_iter().map(|v| v.trim().to_string()).collect(),
    ))
}

/// Splits on commas outside brackets and quotes.
fn split_values(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut depth, mut quoted) = (0i32, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// One step of a path: a key, and which elements of an array of tables.
#[derive(Debug, PartialEq, Eq)]
struct Step<'a> {
    key: &'a str,
    select: Option<&'a str>,
}

fn path(key: &str) -> Result<Vec<Step<'_>>, String> {
    if key.is_empty() {
        return Err("an empty key".into());
    }
    let mut steps = Vec::new();
    let mut rest = key;
    while !rest.is_empty() {
        let (step, tail) = match rest.find(['.', '[']) {
            Some(i) if rest.as_bytes()[i] == b'[' => {
                let close = rest[i..]
                    .find(']')
                    .map(|j| i + j)
                    .ok_or_else(|| format!("`{key}`: a `[` without its `]`"))?;
                let select = &rest[i + 1..close];
                if select.is_empty() {
                    return Err(format!("`{key}`: empty brackets"));
                }
                let after = &rest[close + 1..];
                let after = match after.strip_prefix('.') {
                    Some(a) => a,
                    None if after.is_empty() => after,
                    None => return Err(format!("`{key}`: write `.` after `]`")),
                };
                (
                    Step {
                        key: &rest[..i],
                        select: Some(select),
                    },
                    after,
                )
            }
            Some(i) => (
                Step {
                    key: &rest[..i],
                    select: None,
                },
                &rest[i + 1..],
            ),
            None => (
                Step {
                    key: rest,
                    select: None,
                },
                "",
            ),
        };
        if step.key.is_empty()
            || !step
                .key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "`{key}` is not a path: write e.g. link.latency, link[2].loss or app[client].requests"
            ));
        }
        steps.push(step);
        rest = tail;
    }
    if steps.last().is_some_and(|s| s.select.is_some()) {
        return Err(format!(
            "`{key}` names tables, not a value: add the key, e.g. `{key}.latency`"
        ));
    }
    Ok(steps)
}

/// The value as TOML when it reads as TOML, else as text.
fn value(text: &str) -> Value {
    match text.parse::<Value>() {
        Ok(v) => v,
        Err(_) => Value::from(text),
    }
}

/// Whether the `index`-th (from 0) table of `key` is the one `select`
/// names: its position from 1, its `name`, a link's two hosts
/// (`a-b` either way), or an unnamed app's host.
fn selected(key: &str, index: usize, table: &Table, select: &str) -> bool {
    if let Ok(n) = select.parse::<usize>() {
        return n == index + 1;
    }
    let text = |k: &str| table.get(k).and_then(Item::as_str);
    if text("name") == Some(select) {
        return true;
    }
    if key == "link"
        && let Some(between) = table.get("between").and_then(Item::as_array)
    {
        let names: Vec<&str> = between.iter().filter_map(Value::as_str).collect();
        if let [a, b] = names[..] {
            return select == format!("{a}-{b}") || select == format!("{b}-{a}");
        }
    }
    key == "app" && text("name").is_none() && text("host") == Some(select)
}

/// Applies `settings` to the scenario text `source`, in order.
pub fn apply(source: &str, settings: &[Setting]) -> Result<String, SetError> {
    if settings.is_empty() {
        return Ok(source.to_string());
    }
    let mut doc: DocumentMut = source
        .parse()
        .map_err(|e: toml_edit::TomlError| err("", format!("the file is not TOML: {e}")))?;
    for s in settings {
        let steps = path(&s.key).map_err(|m| err(s.to_string(), m))?;
        let mut tables: Vec<&mut Table> = vec![doc.as_table_mut()];
        let (last, walk) = steps.split_last().expect("a path has a step");
        for step in walk {
            let mut next = Vec::new();
            for table in tables {
                match table.get_mut(step.key) {
                    Some(Item::ArrayOfTables(array)) => {
                        let all = array.len();
                        let before = next.len();
                        for (i, t) in array.iter_mut().enumerate() {
                            if step.select.is_none_or(|sel| selected(step.key, i, t, sel)) {
                                next.push(t);
                            }
                        }
                        if next.len() == before {
                            let sel = step.select.unwrap_or_default();
                            return Err(err(
                                s.to_string(),
                                format!(
                                    "no [[{}]] is `{sel}` (there are {all}; select one by its position from 1, its name{})",
                                    step.key,
                                    if step.key == "link" {
                                        ", or its hosts as a-b"
                                    } else {
                                        ""
                                    }
                                ),
                            ));
                        }
                    }
                    Some(Item::Table(t)) if step.select.is_none() => next.push(t),
                    Some(_) => {
                        return Err(err(
                            s.to_string(),
                            format!("`{}` is a value, not a table", step.key),
                        ));
                    }
                    None => {
                        return Err(err(
                            s.to_string(),
                            format!("the scenario has no `{}` here", step.key),
                        ));
                    }
                }
            }
            tables = next;
        }
        for table in tables {
            if let Some(item) = table.get(last.key)
                && (item.is_table_like() || item.is_array_of_tables())
            {
                return Err(err(
                    s.to_string(),
                    format!("`{}` is a table; name one of its values", last.key),
                ));
            }
            let mut v = value(&s.value);
            // Keep the line as the file wrote it: one space each side.
            v.decor_mut().set_prefix(" ");
            table.insert(last.key, Item::Value(v));
        }
    }
    Ok(doc.to_string())
}

/// The numbers `simnet sweep` keeps of each run, by name (a `[sweep]`
/// table's `metric` is one of them).
pub const SWEEP_METRICS: [&str; 15] = [
    "end_ns",
    "connections",
    "unestablished",
    "handshake_mean_ns",
    "handshake_max_ns",
    "connection_max_ns",
    "retransmissions",
    "drops",
    "bytes",
    "goodput_bps",
    "peak_time_wait",
    "peak_close_wait",
    "messages",
    "delivery_mean_ns",
    "delivery_max_ns",
];

/// A scenario's `[sweep]` table, checked: what `simnet sweep FILE` runs
/// when the command line does not say, and what the book plots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepSpec {
    /// The first and last seed (inclusive).
    pub seeds: (u64, u64),
    /// Each swept key with its values.
    pub set: Vec<(String, Vec<String>)>,
    /// The metric to plot.
    pub metric: String,
}

/// Parses a seed range: `A..B` (inclusive), `A..=B` or `N`.
pub fn parse_seeds(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("`{text}` is not a seed range: write e.g. 1..10000 (inclusive) or 42");
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (num(a)?, num(b.strip_prefix('=').unwrap_or(b))?),
        None => {
            let n = num(text)?;
            (n, n)
        }
    };
    if a > b {
        return Err(format!("`{text}`: the first seed is after the last"));
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"name = "x"
seed = 1

[[host]]
name = "client"
address = "10.0.0.1"

[[host]]
name = "server"
address = "10.0.0.2"

[[link]]
between = ["client", "server"]
latency = "10ms"

[[link]]
between = ["client", "dead-dns"]
latency = "5ms"

[[app]]
host = "client"
kind = "http-client"
connect = "server:80"
"#;

    fn set(text: &str) -> Result<String, SetError> {
        apply(SOURCE, &[parse_setting(text)?])
    }

    #[test]
    fn a_key_on_every_table_of_an_array() {
        let out = set("link.latency=50ms").unwrap();
        assert_eq!(out.matches("latency = \"50ms\"").count(), 2, "{out}");
        assert!(!out.contains("10ms"));
    }

    #[test]
    fn one_table_by_position_name_hosts_or_app_host() {
        let out = set("link[2].loss=5%").unwrap();
        assert!(out.contains("latency = \"5ms\"\nloss = \"5%\""), "{out}");
        let out = set("link[server-client].latency=1ms").unwrap();
        assert!(
            out.contains("latency = \"1ms\"") && out.contains("5ms"),
            "{out}"
        );
        let out = set("link[client-dead-dns].latency=7ms").unwrap();
        assert!(out.contains("7ms") && out.contains("10ms"), "{out}");
        let out = set("host[server].address=10.0.0.9").unwrap();
        assert!(out.contains("address = \"10.0.0.9\"") && out.contains("10.0.0.1"));
        let out = set("app[client].requests=5").unwrap();
        assert!(out.contains("requests = 5\n"), "{out}");
    }

    #[test]
    fn values_read_as_toml_when_they_can() {
        assert!(set("seed=7").unwrap().contains("seed = 7\n"));
        assert!(
            set("app.keep_alive=true")
                .unwrap()
                .contains("keep_alive = true")
        );
        assert!(
            set("app.paths=[\"/a\", \"/b\"]")
                .unwrap()
                .contains("paths = [\"/a\", \"/b\"]")
        );
        assert!(
            set("app.method=\"PUT\"")
                .unwrap()
                .contains("method = \"PUT\"")
        );
    }

    #[test]
    fn everything_else_is_kept_as_written() {
        let out = set("seed=1").unwrap();
        assert_eq!(out, SOURCE);
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let e = |t: &str| set(t).unwrap_err().to_string();
        assert_eq!(
            e("link[3].latency=1ms"),
            "--set link[3].latency=1ms: no [[link]] is `3` (there are 2; select one by its position from 1, its name, or its hosts as a-b)"
        );
        assert!(e("links.latency=1ms").contains("the scenario has no `links`"));
        assert!(e("latency").contains("write KEY=VALUE"));
        assert!(e("link=1").contains("`link` is a table"));
        assert!(e("link[1]=1").contains("names tables"));
        assert!(e("seed.x=1").contains("`seed` is a value"));
        assert!(e("link[1.latency=1").contains("without its `]`"));
        assert!(e("a b=1").contains("is not a path"));
        assert!(e("seed=").contains("empty value"));
        assert!(e("seed=1,2").contains("2 values"));
    }

    #[test]
    fn a_sweep_splits_values_outside_brackets_and_quotes() {
        let (key, values) = parse_sweep("app.paths=[\"/a\",\"/b\"],[\"/c\"]").unwrap();
        assert_eq!(key, "app.paths");
        assert_eq!(values, ["[\"/a\",\"/b\"]", "[\"/c\"]"]);
        let (_, values) = parse_sweep("link.latency=10ms, 50ms,100ms").unwrap();
        assert_eq!(values, ["10ms", "50ms", "100ms"]);
        let (_, values) = parse_sweep("app.body=\"a,b\",c").unwrap();
        assert_eq!(values, ["\"a,b\"", "c"]);
    }
}

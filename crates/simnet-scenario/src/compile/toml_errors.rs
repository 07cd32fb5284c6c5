//! Errors from the TOML parser and serde, said in simnet's words: no Rust
//! type names, the key named where the parser only said "duplicate key", a
//! position where it gave none.

use super::*;

/// The deepest nesting the TOML parser accepts (`toml`'s own limit):
/// dotted keys, table headers, arrays and inline tables all count.
const MAX_NESTING: usize = 80;

/// Turns an error from the TOML parser or serde into a diagnostic in
/// simnet's words: no Rust type names, a key named where the parser only
/// said "duplicate key", a position where it gave none.
pub(super) fn toml_diagnostic(
    source: &str,
    message: &str,
    span: Option<Range<usize>>,
) -> Diagnostic {
    let message = message.trim();
    if message == "recursion limit" || message.starts_with("cannot recurse further") {
        let span = span.or_else(|| deepest_line(source));
        return Diagnostic::new("the tables or lists here nest too deeply", span).help(format!(
            "a scenario nests at most {MAX_NESTING} levels deep; \
             `[link.a_to_b]` is two levels, `partition = [[\"a\"], [\"b\"]]` is three"
        ));
    }
    if message == "duplicate key" {
        if let Some(sp) = &span {
            let key = source.get(sp.clone()).unwrap_or("").trim();
            let first = first_definition(source, key, sp.start);
            let mut d = Diagnostic::new(format!("the key `{key}` is defined twice"), span.clone());
            // A table written both inline and as a `[header]` is the
            // usual way to get here; say how to write it once.
            let line_start = source[..sp.start].rfind('\n').map_or(0, |i| i + 1);
            let after = source[sp.end..].trim_start();
            let table = source[line_start..].trim_start().starts_with('[')
                || after
                    .strip_prefix('=')
                    .is_some_and(|v| v.trim_start().starts_with('{'));
            let how = if table {
                format!(
                    "write the table once, either inline (`{key} = {{ ... }}`) \
                     or under a header (`[... .{key}]`), not both"
                )
            } else {
                format!("keep one `{key} = ...` in each table")
            };
            d = match first {
                Some(line) => d.help(format!("`{key}` was already defined on line {line}; {how}")),
                None => d.help(how),
            };
            return d;
        }
        return Diagnostic::new("a key is defined twice", span);
    }
    let (message, help) = split_expected(message);
    let message = plain_found(&message);
    let mut d = Diagnostic::new(message, span);
    if let Some(h) = help {
        d = d.help(plain_expected(&h));
    }
    d
}

/// serde says "unknown field `x`, expected one of `a`, `b`": keep the first
/// part as the message and turn the second into help.
pub(super) fn split_expected(message: &str) -> (String, Option<String>) {
    match message.split_once(", expected ") {
        Some((m, rest)) => (m.to_string(), Some(format!("expected {rest}"))),
        None => (message.to_string(), None),
    }
}

/// serde's description of what it found, in words: "integer `9...` as i128"
/// is a number too large for any field, "sequence" is a list, "map" a table.
pub(super) fn plain_found(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: integer ")
        && let Some(number) = rest.strip_suffix(" as i128")
    {
        return format!("invalid value: the number {number} is too large");
    }
    message
        .replace("invalid type: sequence", "invalid type: a list")
        .replace("invalid type: map", "invalid type: a table")
        .replace("floating point `", "number `")
}

/// serde's "expected u32" or "expected struct LinkDoc" in words, with an
/// example of a valid value.
pub(super) fn plain_expected(help: &str) -> String {
    let Some(what) = help.strip_prefix("expected ") else {
        return help.to_string();
    };
    // TOML integers are 64-bit signed, so no file can hold more than i64::MAX.
    let whole = |max: u64| format!("expected a whole number between 0 and {max}, e.g. 1");
    match what {
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" | "u128" => whole(i64::MAX as u64),
        "i64" | "i128" => "expected a whole number, e.g. 1".to_string(),
        "f32" | "f64" => "expected a number, e.g. 1.5".to_string(),
        "a sequence" => "expected a list in square brackets, e.g. [\"client\", \"server\"]".to_string(),
        "a map" => "expected a table in braces, e.g. { status = 200 }".to_string(),
        "a boolean" => "expected true or false".to_string(),
        "a string" => "expected a string in double quotes, e.g. \"client\"".to_string(),
        "struct LinkDoc" => {
            "expected a table of link settings, e.g. { latency = \"10ms\", loss = \"1%\" }".to_string()
        }
        "struct TcpDoc" => "expected a table of TCP settings, e.g. { nagle = false }".to_string(),
        "struct BurstLossDoc" => {
            "expected a table such as { enter = \"1%\", exit = \"30%\" }".to_string()
        }
        "struct RouteDoc" => {
            "expected a table such as { to = \"10.2.0.0/16\", via = \"r2\" }".to_string()
        }
        "struct NatDoc" => {
            "expected a table such as { outside = \"isp\", idle_timeout = \"60s\" }".to_string()
        }
        "newline, `#`" => {
            "expected the end of the line: one `key = value` per line, then a newline or a `# comment`"
                .to_string()
        }
        w if w.starts_with("struct ") => "expected a table, e.g. { key = \"value\" }".to_string(),
        _ => help.to_string(),
    }
}

/// The line holding the most deeply nested key or value, for the parser's
/// "recursion limit", which comes without a position.
pub(super) fn deepest_line(source: &str) -> Option<Range<usize>> {
    let mut best: Option<(usize, Range<usize>)> = None;
    let mut start = 0;
    for line in source.split_inclusive('\n') {
        let depth = line
            .chars()
            .filter(|c| matches!(c, '.' | '[' | '{'))
            .count();
        if best.as_ref().is_none_or(|(d, _)| depth > *d) {
            best = Some((depth, start..start + line.trim_end().len()));
        }
        start += line.len();
    }
    best.map(|(_, sp)| sp)
}

/// The line (from 1) where `key` was first defined before `before`, looking
/// back through the table that holds it: as `key =`, `key.x =`, inside an
/// inline table, or as the last part of a table header.
pub(super) fn first_definition(source: &str, key: &str, before: usize) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let head = source.get(..before)?;
    // Only whole lines before the one the duplicate is on.
    let head = &head[..head.rfind('\n')? + 1];
    let lines: Vec<&str> = head.lines().collect();
    for (i, line) in lines.iter().enumerate().rev() {
        let t = line.trim_start();
        let header = t.starts_with('[');
        let as_key = t
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with('=') || r.starts_with('.'));
        let in_header = header
            && t.trim_end_matches(|c: char| c == ']' || c.is_whitespace())
                .rsplit(['.', '['])
                .next()
                .is_some_and(|last| last.trim() == key);
        let inline = t.contains(&format!(" {key} =")) || t.contains(&format!("{{{key} ="));
        if as_key || in_header || inline {
            return Some(i + 1);
        }
        if header {
            return None;
        }
    }
    None
}

//! The words in a diagram: Mermaid escaping, participant ids, the HTTP
//! line and payload previews under arrows, socket calls in notes and the
//! options line. Pure functions of their inputs; nothing here knows the
//! diagram's layout.

use super::MermaidOptions;
use simnet_core::socket::{Preview, SocketCall};
use std::collections::BTreeSet;

/// Escapes text for a Mermaid message, note or participant label.
///
/// Mermaid ends a statement at `;` and a line break, starts a comment or an
/// entity code at `#` and `%`, renders `<`, `>` and `&` as HTML, reads
/// `%%{...}%%` anywhere as a directive and `$$...$$` as maths. Each of these
/// characters becomes an entity code (`#59;`, `#lt;`...), which Mermaid turns
/// back into the character when it draws. Control characters (line breaks
/// included) become spaces. A leading `wrap:`/`nowrap:` (a Mermaid option)
/// and a colon in text that mentions `style` or `classDef` (which Mermaid
/// preprocesses) are encoded too. Everything else, Unicode included, is kept.
pub fn escape_text(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let encode_colons = lower.contains("style") || lower.contains("classdef");
    let leading_option = {
        let t = lower.trim_start();
        t.starts_with("wrap:") || t.starts_with("nowrap:")
    };
    let mut out = String::with_capacity(text.len());
    let mut first_colon = true;
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '"' => out.push_str("#quot;"),
            '%' => out.push_str("#37;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '$' => out.push_str("#36;"),
            '`' => out.push_str("#96;"),
            '\\' => out.push_str("#92;"),
            ':' if encode_colons || (leading_option && first_colon) => {
                first_colon = false;
                out.push_str("#58;");
            }
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Mermaid's sequence-diagram keywords (the lexer is case-insensitive), which
/// cannot be participant ids.
pub(super) const KEYWORDS: &[&str] = &[
    "accdescr",
    "acctitle",
    "activate",
    "actor",
    "alt",
    "and",
    "as",
    "autonumber",
    "box",
    "break",
    "create",
    "critical",
    "deactivate",
    "destroy",
    "details",
    "else",
    "end",
    "left",
    "link",
    "links",
    "loop",
    "note",
    "off",
    "opt",
    "option",
    "over",
    "par",
    "par_over",
    "participant",
    "properties",
    "rect",
    "right",
    "sequencediagram",
    "title",
];

/// A participant id for a host name: letters, digits and `_` only, not a
/// keyword, unique within `taken`; `h<index>` when the name gives nothing
/// usable.
pub(super) fn participant_id(name: &str, index: u32, taken: &BTreeSet<String>) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let lower = id.to_ascii_lowercase();
    let unusable = !id.chars().any(|c| c.is_ascii_alphanumeric())
        || id.starts_with(|c: char| c.is_ascii_digit())
        || KEYWORDS.contains(&lower.as_str())
        || lower.contains("style")
        || lower.contains("classdef")
        || id.len() > 40;
    if unusable {
        id = format!("h{index}");
    }
    let base = id.clone();
    let mut n = 1;
    while taken.contains(&id) {
        n += 1;
        id = format!("{base}_{n}");
    }
    id
}

/// At most `max` characters of `text`, with `…` when something was cut.
pub(super) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The first line of an HTTP request or response, if the payload starts with one.
pub(crate) fn http_first_line(payload: &[u8]) -> Option<String> {
    const STARTS: &[&[u8]] = &[
        b"GET ",
        b"HEAD ",
        b"POST ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
        b"HTTP/1.0 ",
        b"HTTP/1.1 ",
    ];
    if !STARTS.iter().any(|s| payload.starts_with(s)) {
        return None;
    }
    let line = payload
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or(&[]);
    let text: String = line
        .iter()
        .take(200)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    Some(truncate_chars(&text, 60))
}

/// How many bytes of a payload preview a note quotes.
pub(super) const PREVIEW_CHARS: usize = 16;

/// A payload preview as quoted text (unescaped), when it is printable, up to
/// the first line break and [`PREVIEW_CHARS`] long. `None` for binary data,
/// and for HTTP, whose first line the packet's arrow already shows.
pub(super) fn preview_text(preview: &Preview, total: usize) -> Option<String> {
    let bytes = preview.as_bytes();
    if http_first_line(bytes).is_some() {
        return None;
    }
    let line = bytes
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or(&[]);
    let line = &line[..line.len().min(PREVIEW_CHARS)];
    if line.is_empty() || !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return None;
    }
    let text: String = line.iter().map(|&b| char::from(b)).collect();
    let more = if line.len() < total { "…" } else { "" };
    Some(format!("“{text}{more}”"))
}

/// The filters in words, for the diagram's comment and empty-diagram note.
pub(super) fn describe_options(options: &MermaidOptions) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &options.connection {
        parts.push(format!("connection {c}"));
    }
    if let Some(f) = options.from {
        parts.push(format!("from t = {}", f.since_start()));
    }
    if let Some(u) = options.until {
        parts.push(format!("until t = {}", u.since_start()));
    }
    if let Some(m) = options.max_events {
        parts.push(format!("at most {m} events"));
    }
    if parts.is_empty() {
        "no filter".to_string()
    } else {
        parts.join(", ")
    }
}

/// A socket call in a note (unescaped), in the text timeline's wording
/// ([`crate::text::describe_socket_call`]) with Mermaid's own quoting:
/// curly quotes, and no preview of binary data or HTTP.
pub(super) fn describe_call(call: &SocketCall) -> String {
    crate::text::describe_socket_call(call, |p, n| {
        preview_text(p, n)
            .map(|t| format!(" {t}"))
            .unwrap_or_default()
    })
}

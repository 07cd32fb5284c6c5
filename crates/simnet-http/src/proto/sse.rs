//! The text of published events, as the HTTP and WebSocket applications
//! carry them: one line per event in a polled body, one Server-Sent Events
//! message per event in a `text/event-stream`, one message per event over
//! WebSocket.
//!
//! An event's own text is `id=<n> t=<publication time in simulated ns>`,
//! optionally followed by a space and free text, so that whoever receives it
//! can measure how late it learned of it. This module only turns those
//! values into bytes and back: it is sans-IO like the rest of [`crate::proto`],
//! and the applications that publish and subscribe live a layer above it.

/// One published event as it travels in a polled body: `id=3 t=1500000000`
/// and a line end.
pub fn event_line(id: u64, published_ns: u64) -> String {
    format!("id={id} t={published_ns}\n")
}

/// One Server-Sent Events message for event `id`: an `id:` field, the
/// event's text in a `data:` field, and the blank line that ends a message.
pub fn sse_message(id: u64, published_ns: u64) -> String {
    format!("id: {id}\ndata: id={id} t={published_ns}\n\n")
}

/// The text of published event `id` with optional free text: `id=3
/// t=1500000000`, then a space and `data` if `data` is not empty.
pub fn event_text(id: u64, published_ns: u64, data: &str) -> String {
    let mut text = format!("id={id} t={published_ns}");
    if !data.is_empty() {
        text.push(' ');
        text.push_str(data);
    }
    text
}

/// The `(id, published_ns)` of one published event's text
/// (`id=3 t=1500000000`; other words are ignored), if it is one.
pub fn parse_event(text: &str) -> Option<(u64, u64)> {
    let mut id = None;
    let mut t = None;
    for part in text.split_whitespace() {
        if let Some(v) = part.strip_prefix("id=") {
            id = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("t=") {
            t = v.parse().ok();
        }
    }
    Some((id?, t?))
}

/// Every `(id, published_ns, len)` in a body or chunk, where `len` is the
/// length in bytes of the event's own text (`id=3 t=1500000000`), without
/// the line end and the `data:` field name of a Server-Sent Event around it.
pub fn parse_events(body: &[u8]) -> Vec<(u64, u64, u64)> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("data:").trim();
            let (id, t) = parse_event(line)?;
            Some((id, t, line.len() as u64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_in_every_framing() {
        let body = format!("{}{}", event_line(1, 500), event_line(2, 900));
        assert_eq!(
            parse_events(body.as_bytes()),
            vec![(1, 500, 10), (2, 900, 10)]
        );
        assert_eq!(
            parse_events(sse_message(7, 42).as_bytes()),
            vec![(7, 42, 9)]
        );
        assert_eq!(parse_events(b"nothing here"), vec![]);
        assert_eq!(event_text(3, 10, ""), "id=3 t=10");
        assert_eq!(event_text(3, 10, "hi there"), "id=3 t=10 hi there");
        assert_eq!(parse_event(&event_text(3, 10, "hi there")), Some((3, 10)));
        assert_eq!(parse_event("id=3"), None);
    }
}

//! HTTP applications: server, client, event subscriber, reverse proxy.
//!
//! Each drives [`crate::proto`] state machines over the sockets of a
//! simulated host: bytes read from a socket go into `handle_input`, bytes
//! from `poll_transmit` go out with `send`, protocol deadlines become
//! application timers. Every request and response is reported as an
//! application event (`http.request`, `http.response`, ...) so it appears in
//! the trace between the packets that carry it.
//!
//! What these applications deliberately do not do: TLS, compression,
//! caching, authentication, or anything a reverse proxy does beyond
//! forwarding and connection pooling.

mod client;
mod kinds;
mod proxy;
mod server;
mod subscriber;

pub use client::{ClientMode, HttpClient, ResponseRecord};
pub use kinds::{MAX_REQUEST_BODY_BYTES, register};
pub use proxy::HttpProxy;
pub use server::{HttpServer, Route, RouteKind, WHOLE_BODY_MAX, WhenFull};
pub use subscriber::{HttpSubscriber, SubscribeMode};

pub(crate) use simnet_core::apps::stream::{flush, read_all};

/// The headers worth showing in a trace line: how the connection is kept or
/// closed, and how the body is framed.
pub(crate) fn notable_headers(headers: &[(String, String)]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .filter(|(n, _)| {
            [
                "connection",
                "keep-alive",
                "transfer-encoding",
                "upgrade",
                "content-type",
            ]
            .contains(&n.to_ascii_lowercase().as_str())
        })
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    shown.join(", ")
}

/// `path` without its query string, and the value of `since=` if present.
pub(crate) fn split_target(target: &str) -> (&str, Option<u64>) {
    match target.split_once('?') {
        Some((path, query)) => {
            let since = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("since="))
                .and_then(|v| v.parse().ok());
            (path, since)
        }
        None => (target, None),
    }
}

/// One published event as it travels in bodies and stream chunks:
/// `id=3 t=1500000000` (the publication time in simulated nanoseconds, so a
/// subscriber can measure how late it learned about it).
pub(crate) fn event_line(id: u64, published_ns: u64) -> String {
    format!("id={id} t={published_ns}\n")
}

/// The `(id, published_ns)` of one published event's text
/// (`id=3 t=1500000000`; other words are ignored), if it is one. The
/// WebSocket applications read the events they carry with it too.
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
pub(crate) fn parse_events(body: &[u8]) -> Vec<(u64, u64, u64)> {
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
    fn targets_and_events_round_trip() {
        assert_eq!(split_target("/events?since=3"), ("/events", Some(3)));
        assert_eq!(split_target("/"), ("/", None));
        let body = format!("{}{}", event_line(1, 500), event_line(2, 900));
        assert_eq!(
            parse_events(body.as_bytes()),
            vec![(1, 500, 10), (2, 900, 10)]
        );
        assert_eq!(parse_events(b"data: id=7 t=42\n\n"), vec![(7, 42, 9)]);
        assert_eq!(parse_events(b"nothing here"), vec![]);
    }
}

//! HTTP applications: server, client, event subscriber, reverse proxy.
//!
//! Each drives [`crate::proto`] state machines over the sockets of a
//! simulated host: bytes read from a socket go into `handle_input`, bytes
//! from `poll_transmit` go out with `send`, protocol deadlines become
//! application timers. Every request and response is reported as an
//! application event (`http.request`, `http.response`, ...) so it appears in
//! the trace between the packets that carry it.
//!
//! An `http-client` can connect by name ([`NameResolver`], a DNS stub
//! resolver with a cache), follow redirects and keep an HSTS store; an
//! `http-server` can redirect plain HTTP to HTTPS and send
//! `Strict-Transport-Security` ([`HttpsPolicy`]).
//!
//! What these applications deliberately do not do: compression, caching,
//! cookies, authentication, or anything a reverse proxy does beyond
//! forwarding and connection pooling.

mod client;
mod conn;
mod hsts;
#[cfg(feature = "scenario")]
mod kinds;
mod proxy;
mod resolve;
mod server;
mod subscriber;
mod tls;

pub use client::{ClientMode, HttpClient, MAX_ORIGINS, MAX_REDIRECTS, ResponseRecord};
pub use conn::{HttpClientSide, HttpServerSide, Written, next_server_event};
pub use hsts::HttpsPolicy;
#[cfg(feature = "scenario")]
pub use kinds::{
    CLIENT_TLS_PARAMS, MAX_EARLY_DATA_BYTES, MAX_REQUEST_BODY_BYTES, SERVER_TLS_PARAMS,
    TLS_NAME_PARAM, client_tls, name_needs_dns, register, register_tls_events, server_tls,
    server_tls_named, tls_version,
};
pub use proxy::HttpProxy;
pub use resolve::{LookupError, NameResolver, Resolution};
pub use server::{HttpServer, Route, RouteKind, WHOLE_BODY_MAX, WhenFull};
pub use subscriber::{Backoff, HttpSubscriber, SubscribeMode};
pub use tls::{ClientTls, ServerCertificate, ServerTls};

pub(crate) use simnet_core::apps::stream::{flush, read_all, read_at_most};
use simnet_core::{AppEvent, SimDuration, SocketId};

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
                "location",
                "strict-transport-security",
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

/// The trace event for a subscriber learning of published event `id`
/// `latency` after its publication, by `mode` (`long polling`,
/// `websocket`, ...), from an event text of `bytes` bytes. `kind` names the
/// application family (`http.event`, `ws.event`, `sio.event`); the
/// wording and the fields are the same for all, so that runs compare.
pub fn event_learned(
    kind: &'static str,
    sid: SocketId,
    id: u64,
    latency: SimDuration,
    mode: &str,
    bytes: u64,
) -> AppEvent {
    AppEvent::new(
        kind,
        format!("learned of event #{id} {latency} after it was published ({mode})"),
    )
    .on(sid)
    .with("id", id)
    .with("latency", latency)
    .with("mode", mode)
    .with("bytes", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_at_the_query() {
        assert_eq!(split_target("/events?since=3"), ("/events", Some(3)));
        assert_eq!(split_target("/"), ("/", None));
    }
}

//! The HTTP application kinds scenario files can use: `http-server`,
//! `http-client`, `http-subscriber`, `http-proxy`.

use super::{
    Backoff, ClientMode, ClientTls, HttpClient, HttpProxy, HttpServer, HttpSubscriber, HttpsPolicy,
    NameResolver, Route, RouteKind, ServerCertificate, ServerTls, SubscribeMode, WhenFull,
};
use crate::proto::grammar::{self, GrammarError};
use crate::proto::hsts::StsPolicy;
use crate::proto::{ServerConfig, Url, Version};
use serde::Deserialize;
use simnet_core::{Protocol, SimDuration};
use simnet_scenario::units::{Dur, Size};
use simnet_scenario::{
    AppKind, AppRegistry, CommandDoc, ListenPort, ParamDoc, ParamError, Params, SharedFactory,
    factory,
};
use simnet_tls::TlsVersion;
use simnet_tls::config::ServerResumption;

/// What `http-server` does with timeline commands (`HttpServer::on_command`).
const HTTP_SERVER_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "publish",
        doc: "publish `count` events (default 1) to the waiting subscribers now",
    },
    CommandDoc {
        verb: "stop",
        doc: "stop listening; open connections carry on",
    },
];

/// What `http-client` does with timeline commands (`HttpClient::on_command`).
const HTTP_CLIENT_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "request",
        doc: "send `count` more requests (default 1) now",
    },
    CommandDoc {
        verb: "close",
        doc: "close every open connection now",
    },
];

/// The application events the HTTP applications emit.
const EVENT_KINDS: &[&str] = &[
    "app.command-ignored",
    "http.bad-request",
    "http.error",
    "http.event",
    "http.hold",
    "http.hold-timeout",
    "http.idle-timeout",
    "http.listen-failed",
    "http.proxy-error",
    "http.proxy-forward",
    "http.proxy-strip",
    "http.lookup",
    "http.publish",
    "http.redirect",
    "http.reconnect",
    "http.refused",
    "http.reply",
    "http.request",
    "http.request-sent",
    "http.requeue",
    "http.resubscribe",
    "http.response",
    "http.retry",
    "http.stream-end",
    "http.stream-open",
    "http.subscriber-done",
    "hsts.forgotten",
    "hsts.ignored",
    "hsts.remembered",
    "hsts.upgrade",
];

/// The fields of [`EVENT_KINDS`].
const EVENT_FIELDS: &[&str] = &[
    "attempt",
    "attempts",
    "bytes",
    "delay",
    "direction",
    "dns",
    "host",
    "id",
    "include_subdomains",
    "index",
    "latency",
    "left",
    "location",
    "lookup",
    "malformed",
    "max_age",
    "method",
    "mode",
    "name",
    "pooled",
    "preloaded",
    "reason",
    "redirects",
    "reused",
    "sends",
    "sent",
    "status",
    "target",
    "total",
];

/// The largest `body_bytes` of an `http-client`: each request's body is
/// built whole, so it is bounded like a buffer (response bodies of an
/// `http-server` route are generated as they are sent and may be as large
/// as any size).
pub const MAX_REQUEST_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Adds the HTTP kinds to a registry.
pub fn register(r: &mut AppRegistry) {
    r.register_events(
        EVENT_KINDS,
        EVENT_FIELDS,
        &["delay", "latency", "total", "left", "max_age", "dns"],
    );
    register_tls_events(r);
    r.register(AppKind {
        name: "http-server",
        summary: "An HTTP/1.1 server: static, delayed, polling, long-polling and streaming routes; keep-alive limits.",
        params: &[
            ParamDoc { key: "port", doc: "port to listen on (default 80)" },
            ParamDoc { key: "routes", doc: "list of { path, kind = static|poll|long-poll|stream, status, body_bytes, delay, timeout } (default: / answers 1KiB)" },
            ParamDoc { key: "idle_timeout", doc: "close keep-alive connections idle this long, or \"off\" (default 5s)" },
            ParamDoc { key: "max_requests", doc: "requests per connection, 0 for no limit (default 100)" },
            ParamDoc { key: "max_connections", doc: "connections served at once (default: no limit)" },
            ParamDoc { key: "when_full", doc: "wait (in the listen backlog) | refuse (503 and close) (default wait)" },
            ParamDoc { key: "backlog", doc: "listen backlog (default: the host's)" },
            ParamDoc { key: "publish_every", doc: "publish an event this often" },
            ParamDoc { key: "publish_count", doc: "how many events to publish on that schedule" },
            ParamDoc { key: "read_bytes", doc: "a slow reader reads at most this much of each connection per read_interval, leaving the rest in the receive buffer (default: read everything at once)" },
            ParamDoc { key: "read_interval", doc: "with read_bytes: how often a slow reader reads (default 100ms)" },
            SERVER_TLS_PARAMS[0],
            SERVER_TLS_PARAMS[1],
            SERVER_TLS_PARAMS[2],
            SERVER_TLS_PARAMS[3],
            TLS_NAME_PARAM,
            ParamDoc { key: "redirect_to_https", doc: "answer every request with 301 Moved Permanently and Location: https://<Host><target> (a plain-HTTP server only; no routes) (default false)" },
            ParamDoc { key: "hsts_max_age", doc: "with tls: send Strict-Transport-Security: max-age=<seconds> on every response, e.g. \"8760h\" (a year); whole seconds, \"0s\" tells clients to forget (default: no header)" },
            ParamDoc { key: "hsts_include_subdomains", doc: "with hsts_max_age: add includeSubDomains (default false)" },
        ],
        commands: HTTP_SERVER_COMMANDS,
        listens: Some(ListenPort { key: "port", default: Some(80), protocol: Protocol::Tcp }),
        build: build_server,
    });
    r.register(AppKind {
        name: "http-client",
        summary: "Sends HTTP requests one after another or at a rate, over keep-alive or one connection per request.",
        params: &[
            ParamDoc { key: "connect", doc: "host:port of the server or proxy; with `dns`, a name to look up, e.g. \"api.example:443\" (this or `url` is required)" },
            ParamDoc { key: "url", doc: "instead of connect and path: \"http://name/path\" or \"https://name:port/path\" (port 80 or 443 by default); https speaks TLS (version from `tls`, default 1.3)" },
            ParamDoc { key: "dns", doc: "host:port of a DNS server (e.g. \"dns:53\"): the name in connect or url is looked up before each new connection, through a cache (default: the name is a scenario host)" },
            ParamDoc { key: "hsts_preload", doc: "host names always reached over https, as a browser's preload list (default none)" },
            ParamDoc { key: "follow_redirects", doc: "follow 301/302/303/307/308 with a Location for GET and HEAD, at most 5 per request (default true)" },
            ParamDoc { key: "path", doc: "request target (default /)" },
            ParamDoc { key: "paths", doc: "list of targets requested in turn, instead of `path`" },
            ParamDoc { key: "method", doc: "request method (default GET)" },
            ParamDoc { key: "body_bytes", doc: "request body size, at most 64MiB (default 0)" },
            ParamDoc { key: "requests", doc: "how many requests (default 1)" },
            ParamDoc { key: "interval", doc: "send one every interval instead of after each response" },
            ParamDoc { key: "mode", doc: "keep-alive | close (Connection: close, one connection per request) (default keep-alive)" },
            ParamDoc { key: "connections", doc: "connections used at once (default 1)" },
            ParamDoc { key: "pipeline", doc: "requests in flight per connection (default 1: no pipelining)" },
            ParamDoc { key: "retry", doc: "retry a request whose connection failed before it was sent, or an idempotent one lost after; at most 3 attempts (default false)" },
            ParamDoc { key: "version", doc: "\"1.1\" or \"1.0\" (default 1.1)" },
            ParamDoc { key: "close_when_done", doc: "close idle connections after the last response (default true)" },
            CLIENT_TLS_PARAMS[0],
            CLIENT_TLS_PARAMS[1],
            CLIENT_TLS_PARAMS[2],
        ],
        commands: HTTP_CLIENT_COMMANDS,
        listens: None,
        build: build_client,
    });
    r.register(AppKind {
        name: "http-subscriber",
        summary: "Learns about server events by polling, long polling or streaming, and reports each event's delay.",
        params: &[
            ParamDoc { key: "connect", doc: "host:port of the server (required)" },
            ParamDoc { key: "path", doc: "the route to use (required)" },
            ParamDoc { key: "mode", doc: "poll | long-poll | stream (required)" },
            ParamDoc { key: "interval", doc: "with mode = poll: time between requests (default 1s)" },
            ParamDoc { key: "events", doc: "stop after learning of this many events (default 10)" },
            ParamDoc { key: "retry_after", doc: "after a failed connection (refused, reset, timed out, closed unanswered) or an error status, subscribe again after this long, doubling after each further failure in a row (default 1s)" },
            ParamDoc { key: "retry_max", doc: "the longest wait between attempts, at least retry_after (default 30s)" },
        ],
        commands: &[],
        listens: None,
        build: build_subscriber,
    });
    r.register(AppKind {
        name: "http-proxy",
        summary: "A reverse proxy forwarding every request to one upstream (or several in turn), with or without upstream keep-alive.",
        params: &[
            ParamDoc { key: "port", doc: "port to listen on (default 80)" },
            ParamDoc { key: "upstream", doc: "host:port of the server (this or `upstreams` is required)" },
            ParamDoc { key: "upstreams", doc: "list of host:port servers; each new upstream connection goes to the next (round robin), instead of `upstream`" },
            ParamDoc { key: "upstream_keep_alive", doc: "reuse upstream connections (default false: one per request, closed by the proxy)" },
            ParamDoc { key: "pool_size", doc: "with upstream keep-alive: most upstream connections (default 8)" },
            ParamDoc { key: "strip_upgrade", doc: "remove Upgrade from forwarded requests (default false)" },
            ParamDoc { key: "idle_timeout", doc: "close idle client connections after this, or \"off\" (default 5s)" },
            ParamDoc { key: "max_requests", doc: "requests per client connection, 0 for no limit (default 100)" },
            ParamDoc { key: "tls", doc: "terminate TLS: clients speak HTTPS (\"1.3\" or \"1.2\") to the proxy, with a certificate for the proxy's host name; upstream stays plain HTTP (default: plain HTTP)" },
            SERVER_TLS_PARAMS[1],
            SERVER_TLS_PARAMS[2],
            SERVER_TLS_PARAMS[3],
            TLS_NAME_PARAM,
        ],
        commands: &[],
        listens: Some(ListenPort { key: "port", default: Some(80), protocol: Protocol::Tcp }),
        build: build_proxy,
    });
}

/// A value of `key` that breaks the HTTP grammar, as a parameter error that
/// quotes it (escaped) and shows a valid one.
fn grammar_error(key: &str, e: GrammarError) -> ParamError {
    let help = format!("write e.g. {}", e.example);
    ParamError::at(key, e.to_string()).help(help)
}

/// `idle_timeout` and `max_requests`, shared by the server and the proxy.
fn server_config(p: &mut Params<'_>) -> Result<ServerConfig, ParamError> {
    let mut config = ServerConfig::default();
    if let Some(timeout) = p.interval_or("idle_timeout", "off")? {
        config.idle_timeout = timeout;
    }
    if let Some(n) = p.int("max_requests", u64::from(u32::MAX))? {
        config.max_requests = if n == 0 { None } else { Some(n as u32) };
    }
    Ok(config)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDoc {
    path: String,
    kind: Option<String>,
    status: Option<u16>,
    body_bytes: Option<Size>,
    delay: Option<Dur>,
    timeout: Option<Dur>,
}

fn build_server(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?.unwrap_or(80);
    let config = server_config(p)?;
    let docs: Option<Vec<RouteDoc>> = p.deserialize("routes")?;
    let routes_given = docs.is_some();
    let docs = docs.unwrap_or_default();
    let mut routes = Vec::new();
    for r in docs {
        // A route path no request target can equal would never be served.
        grammar::check_origin_form(&r.path).map_err(|e| grammar_error("routes", e))?;
        let kind = match r.kind.as_deref().unwrap_or("static") {
            "static" => RouteKind::Static {
                status: r.status.unwrap_or(200),
                body_bytes: r.body_bytes.map_or(1024, |s| s.0),
                delay: r.delay.map_or(SimDuration::ZERO, |d| d.0),
            },
            "poll" => RouteKind::Poll,
            "long-poll" => RouteKind::LongPoll {
                timeout: match r.timeout {
                    Some(d) => simnet_scenario::units::check_interval("a route's `timeout`", d.0)
                        .map_err(|e| ParamError::at("routes", e))?,
                    None => SimDuration::from_secs(30),
                },
            },
            "stream" => RouteKind::Stream,
            other => {
                return Err(
                    ParamError::at("routes", format!("unknown route kind `{other}`"))
                        .help("one of: static, poll, long-poll, stream"),
                );
            }
        };
        if let RouteKind::Static { status, .. } = kind
            && !(200..=599).contains(&status)
        {
            return Err(ParamError::at(
                "routes",
                format!("status {status} is not a final status (200..599)"),
            ));
        }
        routes.push(Route { path: r.path, kind });
    }
    if routes.is_empty() {
        routes.push(Route::ok("/", 1024));
    }
    let max_connections = p.int("max_connections", 1_000_000)?;
    let when_full = match p.choice("when_full", &["wait", "refuse"])? {
        Some("refuse") => WhenFull::Refuse,
        _ => WhenFull::Wait,
    };
    let backlog = p.int("backlog", 65535)?;
    let publish_every = p.interval("publish_every")?;
    let publish_count = p.int("publish_count", 1_000_000)?;
    if publish_every.is_some() != publish_count.is_some() {
        return Err(ParamError::at(
            "publish_every",
            "give both `publish_every` and `publish_count`",
        ));
    }
    let read_bytes = p.size("read_bytes")?;
    let read_interval = p.interval("read_interval")?;
    if read_bytes == Some(0) {
        return Err(ParamError::at(
            "read_bytes",
            "a slow reader reads at least 1 byte at a time",
        )
        .help("write e.g. read_bytes = \"4KiB\""));
    }
    if read_interval.is_some() && read_bytes.is_none() {
        return Err(ParamError::at(
            "read_interval",
            "`read_interval` only goes with `read_bytes`",
        )
        .help("add e.g. read_bytes = \"4KiB\" to make the server a slow reader"));
    }
    let read_interval = read_interval.unwrap_or(SimDuration::from_millis(100));
    let (tls, name) = server_tls_named(p)?;
    let https = https_policy(p, tls.is_some(), routes_given, &name)?;
    Ok(factory(move || {
        let mut s = HttpServer::new(port, config, routes.clone()).https_policy(https.clone());
        if let Some(tls) = &tls {
            s = s.tls(tls.clone());
        }
        if let Some(n) = read_bytes {
            s = s.slow_reader(usize::try_from(n).unwrap_or(usize::MAX), read_interval);
        }
        if let Some(m) = max_connections {
            s = s.max_connections(m as usize, when_full);
        }
        if let Some(b) = backlog {
            s = s.backlog(b.max(1) as usize);
        }
        if let (Some(every), Some(count)) = (publish_every, publish_count) {
            s = s.publish_schedule(every, count);
        }
        s
    }))
}

/// The TLS parameters of a server (`http-server`, `http-proxy`, and any
/// server that speaks TLS through [`server_tls`]), for its `params` list.
pub const SERVER_TLS_PARAMS: [ParamDoc; 4] = [
    ParamDoc {
        key: "tls",
        doc: "speak TLS: \"1.3\" or \"1.2\", with a certificate for the server's host name from simnet's test CA (default: plain)",
    },
    ParamDoc {
        key: "tls_resumption",
        doc: "with tls: how clients may resume a session: \"tickets\" (stateless session tickets), \"stateful\" (state kept by the server: 1.2 session ids, 1.3 tickets that are only identifiers) or \"off\" (default tickets)",
    },
    ParamDoc {
        key: "early_data",
        doc: "with tls = \"1.3\" and tls_resumption = \"stateful\": accept up to this much 0-RTT early data from a resuming client (e.g. \"16KiB\", at most 1MiB), and answer it in the server's first flight (default: refused)",
    },
    ParamDoc {
        key: "certificate",
        doc: "with tls: \"valid\", or a certificate a client must refuse: \"expired\" (the year before simulated time zero), \"not-yet-valid\" (from the day after) or \"wrong-name\" (for other.<host>) (default valid)",
    },
];

/// `tls_name`, which goes with [`SERVER_TLS_PARAMS`] (see
/// [`server_tls_named`]).
pub const TLS_NAME_PARAM: ParamDoc = ParamDoc {
    key: "tls_name",
    doc: "with tls: the name on the certificate, e.g. \"www.example\" for clients that connect by that name (default: the server's host name)",
};

/// The TLS parameters of a client (`http-client`, and any client that
/// speaks TLS through [`client_tls`]), for its `params` list.
pub const CLIENT_TLS_PARAMS: [ParamDoc; 3] = [
    ParamDoc {
        key: "tls",
        doc: "speak TLS: \"1.3\" or \"1.2\"; the server's certificate is checked against the host name in `connect` and simulated time (default: plain)",
    },
    ParamDoc {
        key: "tls_resume",
        doc: "with tls: keep a session cache, so later connections resume earlier sessions (default true)",
    },
    ParamDoc {
        key: "early_data",
        doc: "with tls = \"1.3\": send the request as 0-RTT early data when resuming a session whose server allows it (default false)",
    },
];

/// The largest `early_data` a server accepts: rustls holds early data in
/// memory until the application reads it.
pub const MAX_EARLY_DATA_BYTES: u64 = 1024 * 1024;

/// Registers the events the TLS layer reports (`tls.record`,
/// `tls.handshake`, `tls.failed`, `layer.failed`) and their fields.
pub fn register_tls_events(r: &mut AppRegistry) {
    r.register_events(
        simnet_tls::layer::EVENT_KINDS,
        simnet_tls::layer::EVENT_FIELDS,
        simnet_tls::layer::DURATION_FIELDS,
    );
}

/// `redirect_to_https`, `hsts_max_age` and `hsts_include_subdomains`.
fn https_policy(
    p: &mut Params<'_>,
    tls: bool,
    routes: bool,
    name: &str,
) -> Result<HttpsPolicy, ParamError> {
    let redirect = p.bool("redirect_to_https")?.unwrap_or(false);
    if redirect && tls {
        return Err(ParamError::at(
            "redirect_to_https",
            "this server speaks HTTPS (`tls`): it would redirect every request to itself",
        )
        .help("redirect from a plain-HTTP server on port 80 to a `tls` server on 443"));
    }
    if redirect && routes {
        return Err(ParamError::at(
            "redirect_to_https",
            "a redirecting server answers every request with 301, so its `routes` would never be used",
        )
        .help("remove `routes`, or put them on the HTTPS server"));
    }
    let max_age = p.duration("hsts_max_age")?;
    let include = p.bool("hsts_include_subdomains")?;
    let sts = match max_age {
        None => {
            if include.is_some() {
                return Err(ParamError::at(
                    "hsts_include_subdomains",
                    "`hsts_include_subdomains` goes with `hsts_max_age`",
                )
                .help("add e.g. hsts_max_age = \"8760h\""));
            }
            None
        }
        Some(_) if !tls => {
            return Err(ParamError::at(
                "hsts_max_age",
                "Strict-Transport-Security is only honoured over HTTPS, and this server speaks plain HTTP",
            )
            .help("add tls = \"1.3\" (and redirect plain HTTP to it from another server)"));
        }
        Some(d) => {
            if !d.as_nanos().is_multiple_of(1_000_000_000) {
                return Err(ParamError::at(
                    "hsts_max_age",
                    format!("max-age is a whole number of seconds, and `hsts_max_age` is {d}"),
                )
                .help("write e.g. hsts_max_age = \"30s\" or \"8760h\""));
            }
            Some(StsPolicy {
                max_age_secs: d.as_nanos() / 1_000_000_000,
                include_subdomains: include.unwrap_or(false),
            })
        }
    };
    Ok(HttpsPolicy {
        redirect_to_https: redirect.then_some(443),
        sts,
        host_name: name.to_string(),
    })
}

/// `tls = "1.3"` or `"1.2"`, if given.
pub fn tls_version(p: &mut Params<'_>) -> Result<Option<TlsVersion>, ParamError> {
    Ok(match p.choice("tls", &["1.3", "1.2"])? {
        Some("1.3") => Some(TlsVersion::Tls13),
        Some(_) => Some(TlsVersion::Tls12),
        None => None,
    })
}

/// The error for a TLS option given without `tls`.
fn needs_tls(key: &str) -> ParamError {
    ParamError::at(
        key,
        format!("`{key}` is a TLS option, and `tls` is not set"),
    )
    .help("add tls = \"1.3\" (or \"1.2\"), or remove it")
}

/// The error for 0-RTT asked of TLS 1.2.
fn early_data_needs_tls13() -> ParamError {
    ParamError::at(
        "early_data",
        "0-RTT early data is a TLS 1.3 feature, and `tls` is \"1.2\"",
    )
    .help("write tls = \"1.3\", or remove `early_data`")
}

/// A server's TLS parameters (see [`SERVER_TLS_PARAMS`]): `None` without
/// `tls`. `name` is the name its certificate is for (the host it runs on).
pub fn server_tls(p: &mut Params<'_>, name: &str) -> Result<Option<ServerTls>, ParamError> {
    let version = tls_version(p)?;
    let resumption = match p.choice("tls_resumption", &["tickets", "stateful", "off"])? {
        Some("stateful") => Some(ServerResumption::Stateful),
        Some("off") => Some(ServerResumption::Off),
        Some(_) => Some(ServerResumption::Tickets),
        None => None,
    };
    let early = p.size_at_most("early_data", MAX_EARLY_DATA_BYTES, "1MiB")?;
    let certificate = match p.choice(
        "certificate",
        &["valid", "expired", "not-yet-valid", "wrong-name"],
    )? {
        Some("expired") => Some(ServerCertificate::Expired),
        Some("not-yet-valid") => Some(ServerCertificate::NotYetValid),
        Some("wrong-name") => Some(ServerCertificate::WrongName),
        Some(_) => Some(ServerCertificate::Valid),
        None => None,
    };
    let Some(version) = version else {
        for (key, given) in [
            ("tls_resumption", resumption.is_some()),
            ("early_data", early.is_some()),
            ("certificate", certificate.is_some()),
        ] {
            if given {
                return Err(needs_tls(key));
            }
        }
        return Ok(None);
    };
    let resumption = resumption.unwrap_or(ServerResumption::Tickets);
    let mut tls = ServerTls::new(version, name).resumption(resumption);
    if let Some(bytes) = early {
        if bytes == 0 {
            return Err(
                ParamError::at("early_data", "`early_data` = 0 accepts nothing")
                    .help("write a size such as early_data = \"16KiB\", or remove it"),
            );
        }
        if version != TlsVersion::Tls13 {
            return Err(early_data_needs_tls13());
        }
        if resumption != ServerResumption::Stateful {
            return Err(ParamError::at(
                "early_data",
                "rustls accepts 0-RTT early data only with server-side session state (a ticket is then used once, so it cannot be replayed)",
            )
            .help("add tls_resumption = \"stateful\""));
        }
        // At most MAX_EARLY_DATA_BYTES, which fits in a u32.
        tls = tls.early_data(u32::try_from(bytes).unwrap_or(u32::MAX));
    }
    if let Some(certificate) = certificate {
        tls = tls.certificate(certificate);
    }
    Ok(Some(tls))
}

/// A server's TLS parameters with `tls_name` ([`TLS_NAME_PARAM`]): the
/// session, if any, and the name its certificate is for (`tls_name`, or
/// the host the server runs on).
pub fn server_tls_named(p: &mut Params<'_>) -> Result<(Option<ServerTls>, String), ParamError> {
    let tls_name = p.string("tls_name")?;
    let name = tls_name.clone().unwrap_or_else(|| p.host.to_string());
    let tls = server_tls(p, &name)?;
    if let Some(n) = &tls_name {
        if tls.is_none() {
            return Err(ParamError::at(
                "tls_name",
                format!("`tls_name` (`{n}`) names a certificate, and this server speaks no TLS"),
            )
            .help("add tls = \"1.3\", or remove tls_name"));
        }
        Url::parse(&format!("https://{n}/")).map_err(|_| {
            ParamError::at("tls_name", format!("`{n}` is not a host name"))
                .help("write e.g. tls_name = \"www.example\"")
        })?;
    }
    Ok((tls, name))
}

/// A client's TLS parameters (see [`CLIENT_TLS_PARAMS`]): `None` without
/// `tls`. `server_name` is the host part of what it connects to, which the
/// server's certificate must carry: an address is refused.
pub fn client_tls(p: &mut Params<'_>, server_name: &str) -> Result<Option<ClientTls>, ParamError> {
    let version = tls_version(p)?;
    let (resume, early) = client_tls_options(p, version)?;
    let Some(version) = version else {
        return Ok(None);
    };
    if server_name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(ParamError::at(
            "tls",
            "TLS checks the server's certificate against a host name, and `connect` gives an address",
        )
        .help("connect by the server's host name, e.g. \"server:443\""));
    }
    Ok(Some(
        ClientTls::new(version, server_name)
            .resume(resume)
            .early_data(early),
    ))
}

/// A client's `tls_resume` and `early_data` for TLS `version` (`None`: the
/// client speaks no TLS, and neither may be given).
pub fn client_tls_options(
    p: &mut Params<'_>,
    version: Option<TlsVersion>,
) -> Result<(bool, bool), ParamError> {
    let resume = p.bool("tls_resume")?;
    let early = p.bool("early_data")?;
    let Some(version) = version else {
        for (key, given) in [
            ("tls_resume", resume.is_some()),
            ("early_data", early.is_some()),
        ] {
            if given {
                return Err(needs_tls(key));
            }
        }
        return Ok((true, false));
    };
    let resume = resume.unwrap_or(true);
    let early = early.unwrap_or(false);
    if early && version != TlsVersion::Tls13 {
        return Err(early_data_needs_tls13());
    }
    if early && !resume {
        return Err(ParamError::at(
            "early_data",
            "0-RTT early data is sent only when resuming, and `tls_resume = false` turns resumption off",
        )
        .help("remove `tls_resume = false` or `early_data`"));
    }
    Ok((resume, early))
}

/// The host part of `host:port`, for the `Host` header.
fn host_of(connect: &str) -> String {
    connect
        .rsplit_once(':')
        .map_or(connect, |(h, _)| h)
        .to_string()
}

/// Where an `http-client` sends its requests.
#[derive(Clone)]
enum Destination {
    /// `connect` naming a scenario host or an address, as it always did.
    Host { remote: std::net::SocketAddrV4 },
    /// A URL (`url`, or `connect` with `dns`), its host's address when it
    /// is a scenario host, `None` when it is a name to look up.
    Url {
        url: Url,
        address: Option<std::net::Ipv4Addr>,
    },
}

/// `connect = "name:port"` with `dns`: the name is looked up at run time,
/// so it need not be a scenario host.
fn by_name(text: &str, tls: bool) -> Result<Url, ParamError> {
    let scheme = if tls { "https" } else { "http" };
    let bad = |why: String| {
        ParamError::at("connect", why).help("write e.g. connect = \"api.example:443\"")
    };
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(bad(format!("`{text}` is not name:port")));
    };
    if port.parse::<u16>().ok().filter(|p| *p != 0).is_none() {
        return Err(bad(format!("`{port}` is not a port (1..65535)")));
    }
    let url = Url::parse(&format!("{scheme}://{host}:{port}/"))
        .map_err(|_| bad(format!("`{host}` is not a host name")))?;
    simnet_dns::proto::DnsName::parse(host).map_err(|e| bad(format!("`{host}`: {e}")))?;
    Ok(url)
}

/// An unknown host that looks like a DNS name: say that `dns` would look
/// it up, besides listing the scenario's hosts.
pub fn name_needs_dns(e: ParamError, host: &str) -> ParamError {
    if !e.message.starts_with("unknown host") || !host.contains('.') {
        return e;
    }
    let hosts = e.help.clone().unwrap_or_default();
    ParamError {
        help: Some(format!(
            "{hosts}; to look `{host}` up by name, add e.g. dns = \"dns:53\" (a dns-server's host)"
        )),
        ..e
    }
}

fn build_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let connect = p.string("connect")?;
    let url_text = p.string("url")?;
    let dns = p.endpoint("dns")?;
    let tls_v = tls_version(p)?;
    let path_text = p.string("path")?;
    let paths = p.strings("paths")?.unwrap_or_default();
    let (destination, host, path) = match (connect, url_text) {
        (Some(_), Some(_)) => {
            return Err(
                ParamError::at("url", "`url` and `connect` cannot both be given")
                    .help("keep one: `url` names the scheme, host, port and path at once"),
            );
        }
        (None, None) => return Err(p.missing("connect").help("or give `url`")),
        (None, Some(text)) => {
            let url = Url::parse(&text).map_err(|e| {
                ParamError::at("url", format!("`url`: {e}"))
                    .help("write e.g. url = \"http://www.example/\"")
            })?;
            if path_text.is_some() || !paths.is_empty() {
                let key = if path_text.is_some() { "path" } else { "paths" };
                return Err(ParamError::at(
                    key,
                    format!("`{key}` goes with `connect`; the path of `url` is its own"),
                )
                .help("put the path in the URL"));
            }
            let address = match dns {
                Some(_) => None,
                None => {
                    let hostport = format!("{}:{}", url.origin.host, url.origin.port);
                    let remote = p
                        .endpoint_text("url", &hostport)
                        .map_err(|e| name_needs_dns(e, &url.origin.host))?;
                    Some(*remote.ip())
                }
            };
            let host = url.origin.host.clone();
            let path = url.target.clone();
            (Destination::Url { url, address }, host, path)
        }
        (Some(text), None) => {
            let path = path_text.unwrap_or_else(|| "/".into());
            let host = host_of(&text);
            let destination = match dns {
                Some(_) => Destination::Url {
                    url: by_name(&text, tls_v.is_some())?,
                    address: None,
                },
                None => Destination::Host {
                    remote: p
                        .endpoint_text("connect", &text)
                        .map_err(|e| name_needs_dns(e, &host))?,
                },
            };
            (destination, host, path)
        }
    };
    let preload = p
        .strings("hsts_preload")?
        .unwrap_or_default()
        .into_iter()
        .map(|n| {
            Url::parse(&format!("https://{n}/"))
                .map(|u| u.origin.host)
                .map_err(|_| {
                    ParamError::at("hsts_preload", format!("`{n}` is not a host name"))
                        .help("write e.g. hsts_preload = [\"www.example\"]")
                })
        })
        .collect::<Result<Vec<String>, ParamError>>()?;
    let follow_redirects = p.bool("follow_redirects")?.unwrap_or(true);
    let resolver =
        dns.map(|server| NameResolver::new(server, simnet_dns::proto::ResolverConfig::default()));
    let method = p.string("method")?.unwrap_or_else(|| "GET".into());
    // Checked here so that a value the client could never send is a load
    // error with its position, not a request refused at run time.
    grammar::check_method(&method).map_err(|e| grammar_error("method", e))?;
    grammar::check_request_target(&method, &path).map_err(|e| grammar_error("path", e))?;
    for target in &paths {
        grammar::check_request_target(&method, target).map_err(|e| grammar_error("paths", e))?;
    }
    // A request body is built whole for each request (a server accepts
    // 1MiB by default), so it is bounded like other buffers.
    let body = p
        .size_at_most("body_bytes", MAX_REQUEST_BODY_BYTES, "64MiB")?
        .unwrap_or(0) as usize;
    let requests = p.int("requests", 10_000_000)?.unwrap_or(1);
    let interval = p.interval("interval")?;
    let mode = match p.choice("mode", &["keep-alive", "close"])? {
        Some("close") => ClientMode::Close,
        _ => ClientMode::KeepAlive,
    };
    let connections = p.int("connections", 100_000)?.unwrap_or(1).max(1) as usize;
    let pipeline = p.int("pipeline", 16)?.unwrap_or(1).max(1) as usize;
    let retry = p.bool("retry")?.unwrap_or(false);
    let version = match p.choice("version", &["1.1", "1.0"])? {
        Some("1.0") => Version::Http10,
        _ => Version::Http11,
    };
    let close_when_done = p.bool("close_when_done")?.unwrap_or(true);
    let https = match &destination {
        Destination::Url { url, .. } => url.origin.scheme == crate::proto::Scheme::Https,
        Destination::Host { .. } => tls_v.is_some(),
    };
    if https && host.parse::<std::net::Ipv4Addr>().is_ok() {
        let key = if tls_v.is_some() { "tls" } else { "url" };
        return Err(ParamError::at(
            key,
            "TLS checks the server's certificate against a host name, and the client is given an address",
        )
        .help("connect by the server's host name, e.g. \"server:443\""));
    }
    let (resume, early) = client_tls_options(p, tls_v.or(https.then_some(TlsVersion::Tls13)))?;
    let tls = match (&destination, tls_v) {
        (Destination::Host { .. }, Some(v)) => {
            Some(ClientTls::new(v, &host).resume(resume).early_data(early))
        }
        _ => None,
    };
    Ok(factory(move || {
        let base = match &destination {
            Destination::Host { remote } => HttpClient::new(*remote, &host, &path, requests),
            Destination::Url { url, address } => {
                let c = HttpClient::to_url(url, *address, requests);
                let c = c.tls_options(resume, early);
                match tls_v {
                    Some(v) => c.tls_version(v),
                    None => c,
                }
            }
        };
        let mut c = base
            .paths(paths.clone())
            .follow_redirects(follow_redirects)
            .mode(mode)
            .connections(connections)
            .pipeline(pipeline)
            .retry(retry)
            .version(version)
            .method(&method, body)
            .close_when_done(close_when_done);
        if let Some(i) = interval {
            c = c.interval(i);
        }
        if let Some(tls) = &tls {
            c = c.tls(tls.clone());
        }
        if !preload.is_empty() {
            c = c.hsts_preload(preload.clone());
        }
        if let Some(r) = &resolver {
            c = c.resolver(r.clone());
        }
        c
    }))
}

fn build_subscriber(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let text = p.string("connect")?;
    let Some(text) = text else {
        return Err(p.missing("connect"));
    };
    let remote = p.endpoint_text("connect", &text)?;
    let host = host_of(&text);
    let path = p.string("path")?;
    let path = p.require("path", path)?;
    grammar::check_origin_form(&path).map_err(|e| grammar_error("path", e))?;
    let interval = p.interval("interval")?.unwrap_or(SimDuration::from_secs(1));
    let mode = match p.choice("mode", &["poll", "long-poll", "stream"])? {
        Some("poll") => SubscribeMode::Poll { interval },
        Some("long-poll") => SubscribeMode::LongPoll,
        Some(_) => SubscribeMode::Stream,
        None => return Err(p.missing("mode")),
    };
    let events = p.int("events", 1_000_000)?.unwrap_or(10);
    let first = p.interval("retry_after")?;
    let max = p.interval("retry_max")?;
    let backoff = Backoff {
        first: first.unwrap_or(Backoff::DEFAULT.first),
        max: max.unwrap_or(Backoff::DEFAULT.max.max(first.unwrap_or(SimDuration::ZERO))),
    };
    if backoff.max < backoff.first {
        return Err(ParamError::at(
            "retry_max",
            format!(
                "`retry_max` ({}) is shorter than `retry_after` ({})",
                backoff.max, backoff.first
            ),
        )
        .help("the waits grow from `retry_after` up to `retry_max`: make it at least as long"));
    }
    Ok(factory(move || {
        HttpSubscriber::new(remote, &host, &path, mode, events).backoff(backoff)
    }))
}

fn build_proxy(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?.unwrap_or(80);
    let upstream = p.endpoint("upstream")?;
    let list = p.strings("upstreams")?;
    let upstreams = match &list {
        Some(items) if items.is_empty() => {
            return Err(ParamError::at("upstreams", "`upstreams` is empty")
                .help("write e.g. upstreams = [\"server-a:8080\", \"server-b:8080\"]"));
        }
        Some(items) => items
            .iter()
            .map(|t| p.endpoint_text("upstreams", t))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let upstream = match (upstream, upstreams.first()) {
        (Some(_), Some(_)) => {
            return Err(ParamError::at(
                "upstreams",
                "`upstream` and `upstreams` cannot both be given",
            )
            .help("keep one: `upstreams` with a single entry is the same as `upstream`"));
        }
        (Some(one), None) => one,
        (None, Some(first)) => *first,
        (None, None) => return Err(p.missing("upstream")),
    };
    let keep_alive = p.bool("upstream_keep_alive")?.unwrap_or(false);
    let pool = p.int("pool_size", 100_000)?.unwrap_or(8).max(1) as usize;
    let strip = p.bool("strip_upgrade")?.unwrap_or(false);
    let config = server_config(p)?;
    let (tls, _) = server_tls_named(p)?;
    Ok(factory(move || {
        let mut proxy = HttpProxy::new(port, upstream, config)
            .upstreams(upstreams.clone())
            .strip_upgrade(strip);
        if keep_alive {
            proxy = proxy.upstream_keep_alive(pool);
        }
        if let Some(tls) = &tls {
            proxy = proxy.tls(tls.clone());
        }
        proxy
    }))
}

#[cfg(test)]
mod tests {
    //! The TLS parameters: what they build, and the error each mistake
    //! gives (naming the key).

    use super::*;
    use std::collections::BTreeMap;

    fn table(text: &str) -> BTreeMap<String, toml::Value> {
        toml::from_str(text).expect("valid TOML")
    }

    fn server(text: &str) -> Result<Option<ServerTls>, ParamError> {
        let t = table(text);
        let mut p = Params::new(&t, &[], "http-server", "server");
        server_tls(&mut p, "server")
    }

    fn client(text: &str, name: &str) -> Result<Option<ClientTls>, ParamError> {
        let t = table(text);
        let mut p = Params::new(&t, &[], "http-client", "client");
        client_tls(&mut p, name)
    }

    /// The key an error names and its message.
    fn refused(r: Result<Option<impl std::fmt::Debug>, ParamError>) -> (String, String) {
        let e = r.expect_err("refused");
        (e.key.unwrap_or_default(), e.message)
    }

    #[test]
    fn without_tls_there_is_no_tls_and_no_tls_option() {
        assert!(server("").unwrap().is_none());
        assert!(client("", "server").unwrap().is_none());
        for (text, key) in [
            ("certificate = \"expired\"", "certificate"),
            ("tls_resumption = \"off\"", "tls_resumption"),
            ("early_data = \"16KiB\"", "early_data"),
        ] {
            let (k, m) = refused(server(text));
            assert_eq!(k, key);
            assert!(m.contains("`tls` is not set"), "{m}");
        }
        for (text, key) in [
            ("tls_resume = false", "tls_resume"),
            ("early_data = true", "early_data"),
        ] {
            assert_eq!(refused(client(text, "server")).0, key);
        }
    }

    #[test]
    fn the_server_options_are_checked_together() {
        assert!(
            server("tls = \"1.3\"\ntls_resumption = \"stateful\"\nearly_data = \"16KiB\"")
                .unwrap()
                .is_some()
        );
        assert!(
            server("tls = \"1.2\"\ncertificate = \"wrong-name\"")
                .unwrap()
                .is_some()
        );
        let (k, m) = refused(server(
            "tls = \"1.2\"\ntls_resumption = \"stateful\"\nearly_data = \"1KiB\"",
        ));
        assert_eq!(k, "early_data");
        assert!(m.contains("TLS 1.3"), "{m}");
        let (k, m) = refused(server("tls = \"1.3\"\nearly_data = \"1KiB\""));
        assert_eq!(k, "early_data");
        assert!(m.contains("server-side session state"), "{m}");
        let (k, _) = refused(server(
            "tls = \"1.3\"\ntls_resumption = \"stateful\"\nearly_data = 0",
        ));
        assert_eq!(k, "early_data");
        let (k, m) = refused(server(
            "tls = \"1.3\"\ntls_resumption = \"stateful\"\nearly_data = \"2MiB\"",
        ));
        assert_eq!(k, "early_data");
        assert!(m.contains("1MiB"), "{m}");
        assert_eq!(
            refused(server("tls = \"1.3\"\ncertificate = \"revoked\"")).0,
            "certificate"
        );
        assert_eq!(
            refused(server("tls = \"1.3\"\ntls_resumption = \"psk\"")).0,
            "tls_resumption"
        );
        assert_eq!(refused(server("tls = \"1.1\"")).0, "tls");
    }

    #[test]
    fn the_client_options_are_checked_together() {
        assert!(
            client("tls = \"1.3\"\nearly_data = true", "server")
                .unwrap()
                .is_some()
        );
        assert!(
            client("tls = \"1.2\"\ntls_resume = false", "server")
                .unwrap()
                .is_some()
        );
        let (k, m) = refused(client("tls = \"1.2\"\nearly_data = true", "server"));
        assert_eq!(k, "early_data");
        assert!(m.contains("TLS 1.3"), "{m}");
        let (k, m) = refused(client(
            "tls = \"1.3\"\nearly_data = true\ntls_resume = false",
            "server",
        ));
        assert_eq!(k, "early_data");
        assert!(m.contains("tls_resume"), "{m}");
        assert_eq!(refused(client("tls = \"1.3\"", "10.0.0.2")).0, "tls");
        assert_eq!(
            refused(client("tls = \"1.3\"\nearly_data = \"yes\"", "server")).0,
            "early_data"
        );
    }
}

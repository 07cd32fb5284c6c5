//! The WebSocket application kinds scenario files can use: `ws-server`,
//! `ws-client`, `stomp-broker`, `stomp-client`, `sio-server`, `sio-client`.
//!
//! Every one speaks TLS with `tls = "1.3"` or `"1.2"` (`wss`, and HTTPS for
//! the Socket.IO-style long polling). A client's `connect` is `host:port`
//! or a WebSocket URI: `wss://server/chat` means TLS (1.3 unless `tls`
//! says 1.2) on port 443, `ws://server:8080/chat` plain WebSocket; a path
//! in the URI stands for `path`. A `ws://` URI with `tls`, or a path given
//! both ways, is refused at load rather than guessed at.

use super::{
    ClientTls, CloseAfter, Remote, ServerMode, ServerTls, SioClient, SioServer, StompClient,
    WsClient, WsServer,
};
use crate::proto::conn::DEFAULT_MAX_MESSAGE_BYTES;
use crate::proto::uri;
use simnet_core::{Protocol, SimDuration};
use simnet_dns::proto::DnsName;
use simnet_http::apps::{SERVER_TLS_PARAMS, TLS_NAME_PARAM, name_needs_dns, server_tls_named};
use simnet_http::proto::grammar::{self, GrammarError};
use simnet_scenario::{
    AppKind, AppRegistry, CommandDoc, ListenPort, ParamDoc, ParamError, Params, SharedFactory,
    factory,
};
use simnet_tls::TlsVersion;
use std::net::{Ipv4Addr, SocketAddrV4};

/// What `ws-server` and `stomp-broker` do with timeline commands (`WsServer::on_command`).
const WS_SERVER_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "broadcast",
        doc: "push `data` to every client, `count` times (default 1)",
    },
    CommandDoc {
        verb: "push",
        doc: "the same as broadcast",
    },
    CommandDoc {
        verb: "publish",
        doc: "the same as broadcast",
    },
    CommandDoc {
        verb: "close",
        doc: "start the closing handshake (1001) on every connection",
    },
    CommandDoc {
        verb: "stop",
        doc: "stop listening; open connections carry on",
    },
];

/// What `ws-client` does with timeline commands (`WsClient::on_command`).
const WS_CLIENT_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "send",
        doc: "send `data` as a text message, or a binary message of `count` bytes",
    },
    CommandDoc {
        verb: "ping",
        doc: "send a Ping carrying `data` and report the Pong's round trip",
    },
    CommandDoc {
        verb: "close",
        doc: "start the closing handshake",
    },
];

/// What `stomp-client` does with timeline commands (`StompClient::on_command`).
const STOMP_CLIENT_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "send",
        doc: "SEND `data` to the destination",
    },
    CommandDoc {
        verb: "disconnect",
        doc: "send DISCONNECT with a receipt",
    },
];

/// What `sio-server` does with timeline commands (`SioServer::on_command`).
const SIO_SERVER_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "publish",
        doc: "publish `data` to every client, `count` times (default 1)",
    },
    CommandDoc {
        verb: "broadcast",
        doc: "the same as publish",
    },
    CommandDoc {
        verb: "push",
        doc: "the same as publish",
    },
];

/// The application events the WebSocket, STOMP and Socket.IO-style applications emit.
const EVENT_KINDS: &[&str] = &[
    "app.command-ignored",
    "http.response",
    "layer.failed",
    "sio.bad-request",
    "sio.done",
    "sio.error",
    "sio.event",
    "sio.hold",
    "sio.hold-timeout",
    "sio.listen-failed",
    "sio.message",
    "sio.publish",
    "sio.reconnect",
    "sio.release",
    "sio.session",
    "sio.transport",
    "sio.unknown-session",
    "stomp.error",
    "stomp.frame",
    "tls.failed",
    "tls.record",
    "ws.bad-request",
    "ws.close",
    "ws.close-timeout",
    "ws.closed",
    "ws.closing",
    "ws.connect-failed",
    "ws.error",
    "ws.event",
    "ws.fragmenting",
    "ws.frame-received",
    "ws.frame-sent",
    "ws.listen-failed",
    "ws.lost",
    "ws.message",
    "ws.pong",
    "ws.push",
    "ws.relay",
    "ws.upgrade",
    "ws.upgrade-request",
];

/// The fields of [`EVENT_KINDS`].
const EVENT_FIELDS: &[&str] = &[
    "attempts",
    "bytes",
    "clients",
    "closes_tcp",
    "code",
    "command",
    "destination",
    "direction",
    "fin",
    "frames",
    "header",
    "id",
    "key",
    "latency",
    "len",
    "lookup",
    "masked",
    "mode",
    "ok",
    "opcode",
    "path",
    "protocol",
    "reason",
    "rtt",
    "session",
    "sid",
    "status",
    "transport",
    "type",
];

/// Adds the WebSocket kinds to a registry.
pub fn register(r: &mut AppRegistry) {
    r.register_events(EVENT_KINDS, EVENT_FIELDS, &["latency", "rtt"]);
    r.register(AppKind {
        name: "ws-server",
        summary: "A WebSocket server: answers the HTTP upgrade, then echoes, relays (chat) or pushes messages; closes TCP first after the close handshake.",
        params: &[
            ParamDoc { key: "port", doc: "port to listen on (default 80)" },
            ParamDoc { key: "mode", doc: "echo (send each message back) | broadcast (relay each message to every client, sender included) (default echo)" },
            ParamDoc { key: "subprotocols", doc: "subprotocols accepted, e.g. [\"v12.stomp\"]; the client's first offered one that is listed wins (default none)" },
            ParamDoc { key: "max_message_bytes", doc: "largest message (and frame) accepted; larger ones fail the connection with close code 1009 (default 1MiB)" },
            ParamDoc { key: "close_after", doc: "start the closing handshake this long after each connection's upgrade (default: never)" },
            ParamDoc { key: "push_every", doc: "push a message (`id=N t=NANOS`) to every client this often, with no request" },
            ParamDoc { key: "push_count", doc: "how many messages to push on that schedule" },
            ParamDoc { key: "tls", doc: "speak wss: \"1.3\" or \"1.2\", with a certificate for the server's host name from simnet's test CA (default: plain ws; the port stays 80 unless given)" },
            SERVER_TLS_PARAMS[1],
            SERVER_TLS_PARAMS[2],
            SERVER_TLS_PARAMS[3],
            TLS_NAME_PARAM,
        ],
        commands: WS_SERVER_COMMANDS,
        listens: Some(ListenPort { key: "port", default: Some(80), protocol: Protocol::Tcp }),
        build: build_server,
    });
    r.register(AppKind {
        name: "ws-client",
        summary: "A WebSocket client: upgrades, sends messages (optionally fragmented), pings, reports what it receives, and starts the close handshake.",
        params: &[
            ParamDoc { key: "connect", doc: "host:port of the server, or a ws:// or wss:// URI (wss://server/chat: TLS to port 443, path /chat) (required)" },
            ParamDoc { key: "path", doc: "request target of the upgrade (default /)" },
            ParamDoc { key: "subprotocols", doc: "subprotocols offered, most preferred first (default none)" },
            ParamDoc { key: "send", doc: "text messages to send, in order (default none)" },
            ParamDoc { key: "send_every", doc: "send one message this often, the first right after the upgrade (default: each one once the previous came back)" },
            ParamDoc { key: "fragment", doc: "split messages longer than this many bytes into frames of this size, with a Ping after the first (default: no fragmentation)" },
            ParamDoc { key: "message_bytes", doc: "after the text messages, send one binary message of this size" },
            ParamDoc { key: "ping_every", doc: "send a Ping this often and report each Pong's round trip" },
            ParamDoc { key: "events", doc: "close after learning of this many pushed events (`id=N t=NANOS` messages)" },
            ParamDoc { key: "close_after", doc: "start the closing handshake this long after the upgrade, or \"never\" (default: once every message sent came back, or after `events`)" },
            ParamDoc { key: "tls", doc: "speak wss: \"1.3\" or \"1.2\"; the server is checked against the host name in `connect` (default: plain ws, or 1.3 with a wss:// URI)" },
            ParamDoc { key: "dns", doc: "host:port of a DNS server (e.g. \"dns:53\"): the host in `connect` is a name looked up before each new connection, through a cache (default: the host is a scenario host)" },
        ],
        commands: WS_CLIENT_COMMANDS,
        listens: None,
        build: build_client,
    });
    r.register(AppKind {
        name: "stomp-broker",
        summary: "A STOMP 1.2 broker over WebSocket (subprotocol v12.stomp): CONNECTED, SUBSCRIBE, SEND -> MESSAGE to every subscriber, DISCONNECT -> RECEIPT and close.",
        params: &[
            ParamDoc { key: "port", doc: "port to listen on (default 80)" },
            ParamDoc { key: "tls", doc: "speak wss: \"1.3\" or \"1.2\", with a certificate for the server's host name from simnet's test CA (default: plain ws; the port stays 80 unless given)" },
            SERVER_TLS_PARAMS[1],
            SERVER_TLS_PARAMS[2],
            SERVER_TLS_PARAMS[3],
            TLS_NAME_PARAM,
        ],
        commands: WS_SERVER_COMMANDS,
        listens: Some(ListenPort { key: "port", default: Some(80), protocol: Protocol::Tcp }),
        build: build_broker,
    });
    r.register(AppKind {
        name: "stomp-client",
        summary: "A STOMP 1.2 client over WebSocket: CONNECT, SUBSCRIBE to a destination, SEND messages at an interval, DISCONNECT with a receipt.",
        params: &[
            ParamDoc { key: "connect", doc: "host:port of the broker, or a ws:// or wss:// URI (required)" },
            ParamDoc { key: "path", doc: "request target of the upgrade (default /stomp)" },
            ParamDoc { key: "destination", doc: "where to SUBSCRIBE and SEND (default /topic/chat)" },
            ParamDoc { key: "send", doc: "message bodies to SEND (default none)" },
            ParamDoc { key: "send_every", doc: "time between SENDs, the first one interval after CONNECTED (default 1s)" },
            ParamDoc { key: "disconnect_after", doc: "send DISCONNECT this long after CONNECTED (default: one interval after the last SEND)" },
            ParamDoc { key: "tls", doc: "speak wss: \"1.3\" or \"1.2\"; the server is checked against the host name in `connect` (default: plain ws, or 1.3 with a wss:// URI)" },
            ParamDoc { key: "dns", doc: "host:port of a DNS server (e.g. \"dns:53\"): the host in `connect` is a name looked up before each new connection, through a cache (default: the host is a scenario host)" },
        ],
        commands: STOMP_CLIENT_COMMANDS,
        listens: None,
        build: build_stomp_client,
    });
    r.register(AppKind {
        name: "sio-server",
        summary: "A Socket.IO-style server: HTTP long polling and WebSocket on one path, pushing events over whichever transport each session uses.",
        params: &[
            ParamDoc { key: "port", doc: "port to listen on (default 80)" },
            ParamDoc { key: "path", doc: "the path of the session endpoint (default /sio)" },
            ParamDoc { key: "poll_timeout", doc: "answer a held poll 204 after this long with no event (default 20s)" },
            ParamDoc { key: "push_every", doc: "publish an event this often" },
            ParamDoc { key: "push_count", doc: "how many events to publish on that schedule" },
            ParamDoc { key: "tls", doc: "speak HTTPS and wss: \"1.3\" or \"1.2\", with a certificate for the server's host name from simnet's test CA (default: plain ws; the port stays 80 unless given)" },
            SERVER_TLS_PARAMS[1],
            SERVER_TLS_PARAMS[2],
            SERVER_TLS_PARAMS[3],
            TLS_NAME_PARAM,
        ],
        commands: SIO_SERVER_COMMANDS,
        listens: Some(ListenPort { key: "port", default: Some(80), protocol: Protocol::Tcp }),
        build: build_sio_server,
    });
    r.register(AppKind {
        name: "sio-client",
        summary: "A Socket.IO-style client: starts on long polling, tries to upgrade to WebSocket, stays on long polling if the upgrade fails.",
        params: &[
            ParamDoc { key: "connect", doc: "host:port of the server or proxy, or a ws:// or wss:// URI (required)" },
            ParamDoc { key: "path", doc: "the path of the session endpoint (default /sio)" },
            ParamDoc { key: "events", doc: "close after learning of this many events (default 10)" },
            ParamDoc { key: "upgrade", doc: "try to upgrade to WebSocket (default true)" },
            ParamDoc { key: "tls", doc: "speak HTTPS and wss: \"1.3\" or \"1.2\"; the server is checked against the host name in `connect` (default: plain ws, or 1.3 with a wss:// URI)" },
            ParamDoc { key: "dns", doc: "host:port of a DNS server (e.g. \"dns:53\"): the host in `connect` is a name looked up before each new connection, through a cache (default: the host is a scenario host)" },
            ParamDoc { key: "tls_resume", doc: "keep a TLS session cache, so that the upgrade connection resumes the polling connection's session (default true)" },
        ],
        commands: &[],
        listens: None,
        build: build_sio_client,
    });
}

/// Where a client connects, from `connect`, `path` and `tls`.
struct Endpoint {
    /// The server's address, or its name and the DNS server to ask.
    remote: Remote,
    /// The `Host` header: the host as written, with the port unless it is
    /// the default (the TLS server name is the host alone).
    host: String,
    /// The request target of the upgrade.
    path: String,
    /// TLS, if `tls` asks for it or the URI is `wss://`.
    tls: Option<ClientTls>,
}

/// `connect` (required: `host:port`, or a `ws://`/`wss://` URI), resolved;
/// `path` (or the URI's path, or `default_path`); and `tls`, which a
/// `wss://` URI implies (TLS 1.3 unless `tls` says 1.2).
fn endpoint(p: &mut Params<'_>, default_path: &str) -> Result<Endpoint, ParamError> {
    let Some(text) = p.string("connect")? else {
        return Err(p.missing("connect"));
    };
    let dns = p.endpoint("dns")?;
    let version = tls_version(p)?;
    // Where an error about TLS points: at `tls` if it was given, else at
    // the `wss://` that implied it.
    let tls_key = if version.is_some() { "tls" } else { "connect" };
    let path_param = p.string("path")?;
    let (remote, host, uri_path, version) = if uri::is_uri(&text) {
        let u = uri::parse(&text).map_err(|e| {
            ParamError::at("connect", e.to_string())
                .help("write e.g. \"wss://server/chat\", \"ws://server:8080/\" or \"server:80\"")
        })?;
        let remote = remote(p, &u.host, &format!("{}:{}", u.host, u.port), dns)?;
        let version = match (u.secure, version) {
            (false, Some(_)) => {
                return Err(ParamError::at(
                    "tls",
                    format!("`connect` = \"{text}\" is a ws:// URI, plain WebSocket, and `tls` asks for TLS"),
                )
                .help("write wss:// to speak TLS, or leave `tls` out"));
            }
            (true, None) => Some(TlsVersion::Tls13),
            (_, v) => v,
        };
        (remote, u.host, u.resource, version)
    } else {
        let host = text.rsplit_once(':').map_or(text.as_str(), |(h, _)| h);
        let remote = remote(p, host, &text, dns)?;
        (remote, host.to_string(), None, version)
    };
    let path = match (uri_path, path_param) {
        (Some(_), Some(_)) => {
            return Err(ParamError::at(
                "path",
                format!("`connect` = \"{text}\" already gives the path"),
            )
            .help("give the path in the URI or in `path`, not both"));
        }
        (Some(path), None) => {
            grammar::check_origin_form(&path).map_err(|e| grammar_error("connect", e))?;
            path
        }
        (None, Some(path)) => {
            grammar::check_origin_form(&path).map_err(|e| grammar_error("path", e))?;
            path
        }
        (None, None) => default_path.to_string(),
    };
    let tls = match version {
        Some(_) if host.parse::<Ipv4Addr>().is_ok() => {
            return Err(ParamError::at(
                tls_key,
                "TLS checks the server's certificate against a host name, and `connect` gives an address",
            )
            .help("connect by the server's host name, e.g. \"wss://server/\" or \"server:443\""));
        }
        Some(v) => Some(ClientTls::new(v, &host)),
        None => None,
    };
    // The Host header names the port when it is not the scheme's default
    // (RFC 7230 section 5.4): `chat.example:8443` for wss on 8443.
    let default_port = if tls.is_some() { 443 } else { 80 };
    let host = match remote.port() {
        port if port == default_port => host,
        port => format!("{host}:{port}"),
    };
    Ok(Endpoint {
        remote,
        host,
        path,
        tls,
    })
}

/// The server `connect` names as `host` (`hostport` is `host:port`): a
/// scenario host or an address; or, with `dns`, a name looked up at run
/// time through that DNS server.
fn remote(
    p: &Params<'_>,
    host: &str,
    hostport: &str,
    dns: Option<SocketAddrV4>,
) -> Result<Remote, ParamError> {
    let Some(server) = dns else {
        return p
            .endpoint_text("connect", hostport)
            .map(Remote::At)
            .map_err(|e| name_needs_dns(e, host));
    };
    let bad = |why: String| {
        ParamError::at("connect", why).help("write e.g. connect = \"wss://chat.example/\"")
    };
    let port = hostport
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .filter(|port| *port != 0)
        .ok_or_else(|| bad(format!("`{hostport}` is not name:port")))?;
    let name = DnsName::parse(host).map_err(|e| bad(format!("`{host}`: {e}")))?;
    Ok(Remote::named(name, port, server))
}

/// `tls = "1.3"` or `"1.2"`, if given.
fn tls_version(p: &mut Params<'_>) -> Result<Option<TlsVersion>, ParamError> {
    Ok(match p.choice("tls", &["1.3", "1.2"])? {
        Some("1.3") => Some(TlsVersion::Tls13),
        Some(_) => Some(TlsVersion::Tls12),
        None => None,
    })
}

/// A server's `tls` and the other TLS options a server takes (as
/// `http-server`'s): a certificate for the host the server runs on, or for
/// `tls_name`.
fn server_tls(p: &mut Params<'_>) -> Result<Option<ServerTls>, ParamError> {
    Ok(server_tls_named(p)?.0)
}

/// A value of `key` that breaks the HTTP grammar, as a parameter error that
/// quotes it (escaped) and shows a valid one.
fn grammar_error(key: &str, e: GrammarError) -> ParamError {
    let help = format!("write e.g. {}", e.example);
    ParamError::at(key, e.to_string()).help(help)
}

/// A path parameter: an origin-form request target such as `/chat`.
fn path(p: &mut Params<'_>, key: &str, default: &str) -> Result<String, ParamError> {
    let path = p.string(key)?.unwrap_or_else(|| default.to_string());
    grammar::check_origin_form(&path).map_err(|e| grammar_error(key, e))?;
    Ok(path)
}

/// `subprotocols`: names that must be RFC 6455 tokens, since they travel in
/// a `Sec-WebSocket-Protocol` header (a CR or LF in one would keep the
/// client from ever sending its upgrade request).
fn subprotocols(p: &mut Params<'_>) -> Result<Vec<String>, ParamError> {
    let names = p.strings("subprotocols")?.unwrap_or_default();
    for name in &names {
        grammar::check_subprotocol(name).map_err(|e| grammar_error("subprotocols", e))?;
    }
    Ok(names)
}

/// `push_every` and `push_count`, given both or neither.
fn push_schedule(p: &mut Params<'_>) -> Result<Option<(SimDuration, u64)>, ParamError> {
    let every = p.interval("push_every")?;
    let count = p.int("push_count", 1_000_000)?;
    match (every, count) {
        (Some(every), Some(count)) => Ok(Some((every, count))),
        (None, None) => Ok(None),
        _ => Err(ParamError::at(
            "push_every",
            "give both `push_every` and `push_count`",
        )),
    }
}

fn build_server(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?.unwrap_or(80);
    let mode = match p.choice("mode", &["echo", "broadcast"])? {
        Some("broadcast") => ServerMode::Broadcast,
        _ => ServerMode::Echo,
    };
    let subprotocols = subprotocols(p)?;
    let max = p
        .size("max_message_bytes")?
        .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES as u64);
    if max == 0 || max > 64 * 1024 * 1024 {
        return Err(ParamError::at(
            "max_message_bytes",
            format!("`max_message_bytes` = {max} is outside 1..=64MiB"),
        ));
    }
    let close_after = p.duration("close_after")?;
    let push = push_schedule(p)?;
    let tls = server_tls(p)?;
    Ok(factory(move || {
        let mut s = WsServer::new(port, mode)
            .subprotocols(subprotocols.clone())
            .max_message_bytes(max as usize);
        if let Some(tls) = &tls {
            s = s.tls(tls.clone());
        }
        if let Some(after) = close_after {
            s = s.close_after(after);
        }
        if let Some((every, count)) = push {
            s = s.push_schedule(every, count);
        }
        s
    }))
}

fn build_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let Endpoint {
        remote,
        host,
        path,
        tls,
    } = endpoint(p, "/")?;
    let subprotocols = subprotocols(p)?;
    let send = p.strings("send")?.unwrap_or_default();
    let send_every = p.interval("send_every")?;
    let fragment = p.size("fragment")?;
    if fragment == Some(0) {
        return Err(ParamError::at(
            "fragment",
            "`fragment` must be at least 1 byte",
        ));
    }
    let message_bytes = p.size("message_bytes")?;
    if message_bytes.is_some_and(|n| n > super::client::MAX_BINARY_MESSAGE_BYTES as u64) {
        return Err(ParamError::at(
            "message_bytes",
            "`message_bytes` is limited to 64MiB",
        ));
    }
    let ping_every = p.interval("ping_every")?;
    let events = p.int("events", 1_000_000)?;
    let close_after = match p.string("close_after")? {
        None => CloseAfter::WhenDone,
        Some(s) if s == "never" => CloseAfter::Never,
        Some(s) => CloseAfter::After(
            simnet_scenario::units::parse_duration(&s)
                .map_err(|e| ParamError::at("close_after", e).help("a duration, or \"never\""))?,
        ),
    };
    Ok(factory(move || {
        let mut c = WsClient::new(remote.clone(), &host, &path)
            .subprotocols(subprotocols.clone())
            .send(send.clone())
            .close_after(close_after);
        if let Some(n) = message_bytes {
            c = c.binary_message(n as usize);
        }
        if let Some(every) = send_every {
            c = c.send_every(every);
        }
        if let Some(n) = fragment {
            c = c.fragment(n as usize);
        }
        if let Some(every) = ping_every {
            c = c.ping_every(every);
        }
        if let Some(n) = events {
            c = c.stop_after_events(n);
        }
        if let Some(tls) = &tls {
            c = c.tls(tls.clone());
        }
        c
    }))
}

fn build_broker(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?.unwrap_or(80);
    let tls = server_tls(p)?;
    Ok(factory(move || {
        let s = WsServer::new(port, ServerMode::Stomp);
        match &tls {
            Some(tls) => s.tls(tls.clone()),
            None => s,
        }
    }))
}

fn build_stomp_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let Endpoint {
        remote,
        host,
        path,
        tls,
    } = endpoint(p, "/stomp")?;
    let destination = p
        .string("destination")?
        .unwrap_or_else(|| "/topic/chat".to_string());
    let send = p.strings("send")?.unwrap_or_default();
    let every = p
        .interval("send_every")?
        .unwrap_or(SimDuration::from_secs(1));
    let disconnect_after = p.duration("disconnect_after")?;
    Ok(factory(move || {
        let mut c =
            StompClient::new(remote.clone(), &host, &path, &destination).send(send.clone(), every);
        if let Some(after) = disconnect_after {
            c = c.disconnect_after(after);
        }
        if let Some(tls) = &tls {
            c = c.tls(tls.clone());
        }
        c
    }))
}

fn build_sio_server(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?.unwrap_or(80);
    let path = path(p, "path", "/sio")?;
    let poll_timeout = p
        .interval("poll_timeout")?
        .unwrap_or(SimDuration::from_secs(20));
    let push = push_schedule(p)?;
    let tls = server_tls(p)?;
    Ok(factory(move || {
        let mut s = SioServer::new(port, &path).poll_timeout(poll_timeout);
        if let Some((every, count)) = push {
            s = s.push_schedule(every, count);
        }
        if let Some(tls) = &tls {
            s = s.tls(tls.clone());
        }
        s
    }))
}

fn build_sio_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let Endpoint {
        remote,
        host,
        path,
        tls,
    } = endpoint(p, "/sio")?;
    let events = p.int("events", 1_000_000)?.unwrap_or(10);
    let upgrade = p.bool("upgrade")?.unwrap_or(true);
    let resume = p.bool("tls_resume")?;
    let tls = match (tls, resume) {
        (None, Some(_)) => {
            return Err(ParamError::at("tls_resume", "`tls_resume` needs TLS")
                .help("add tls = \"1.3\" or connect to a wss:// URI"));
        }
        (Some(tls), Some(resume)) => Some(tls.resume(resume)),
        (tls, None) => tls,
    };
    Ok(factory(move || {
        let c = SioClient::new(remote.clone(), &host, &path, events).upgrade(upgrade);
        match &tls {
            Some(tls) => c.tls(tls.clone()),
            None => c,
        }
    }))
}

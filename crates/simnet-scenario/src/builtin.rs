//! The kinds for simnet-core's own applications: raw TCP and UDP.

use crate::registry::{AppKind, AppRegistry, ParamDoc, ParamError, Params, SharedFactory, factory};
use simnet_core::SimDuration;
use simnet_core::apps::{
    BulkSender, ClientClose, Payload, Reply, ServerClose, Sink, TcpClient, TcpServer, UdpEcho,
    UdpSender,
};

/// Registers `tcp-echo`, `tcp-server`, `tcp-client`, `bulk-send`, `sink`,
/// `udp-send` and `udp-echo`.
pub fn register(r: &mut AppRegistry) {
    r.register(AppKind {
        name: "tcp-echo",
        summary: "Accepts TCP connections and sends back every byte; closes when the client does.",
        params: &[
            ParamDoc {
                key: "port",
                doc: "port to listen on (required)",
            },
            ParamDoc {
                key: "backlog",
                doc: "connections that may wait to be accepted (default: the host's)",
            },
        ],
        build: build_echo,
    });
    r.register(AppKind {
        name: "tcp-server",
        summary: "A TCP server whose reply and closing behaviour are parameters.",
        params: &[
            ParamDoc {
                key: "port",
                doc: "port to listen on (required)",
            },
            ParamDoc {
                key: "reply",
                doc: "echo | fixed | after-eof | nothing (default echo)",
            },
            ParamDoc {
                key: "request_bytes",
                doc: "with reply = fixed: bytes to read before replying (default 1)",
            },
            ParamDoc {
                key: "reply_bytes",
                doc: "with reply = fixed or after-eof: bytes to send (default 100)",
            },
            ParamDoc {
                key: "close",
                doc: "on-eof | after-reply | never | abort-after-reply (default on-eof)",
            },
            ParamDoc {
                key: "backlog",
                doc: "connections that may wait to be accepted (default: the host's)",
            },
        ],
        build: build_server,
    });
    r.register(AppKind {
        name: "tcp-client",
        summary: "Connects, sends, waits for a reply and closes; optionally many times in a row.",
        params: &[
            ParamDoc { key: "connect", doc: "host:port to connect to (required)" },
            ParamDoc { key: "send", doc: "text to send (default \"hello\")" },
            ParamDoc { key: "send_bytes", doc: "send this many filler bytes instead of `send`" },
            ParamDoc { key: "pieces", doc: "list of texts written one after another (e.g. a header, then a body)" },
            ParamDoc { key: "expect_bytes", doc: "bytes to wait for before closing (default: as many as sent)" },
            ParamDoc { key: "close", doc: "after-reply | shutdown-after-send | on-eof | abort-after-reply | never (default after-reply)" },
            ParamDoc { key: "connections", doc: "connections opened one after another (default 1)" },
            ParamDoc { key: "pause", doc: "time between one connection's end and the next (default 0s)" },
            ParamDoc { key: "nodelay", doc: "disable Nagle's algorithm, TCP_NODELAY (default false)" },
        ],
        build: build_client,
    });
    r.register(AppKind {
        name: "bulk-send",
        summary: "Sends a number of bytes as fast as TCP allows, then closes.",
        params: &[
            ParamDoc {
                key: "connect",
                doc: "host:port of a sink (required)",
            },
            ParamDoc {
                key: "bytes",
                doc: "how much to send, e.g. \"1MiB\" (required)",
            },
        ],
        build: build_bulk,
    });
    r.register(AppKind {
        name: "sink",
        summary: "Accepts connections and reads everything, optionally slowly; checks the bytes of a bulk-send.",
        params: &[
            ParamDoc { key: "port", doc: "port to listen on (required)" },
            ParamDoc { key: "read_bytes", doc: "a slow reader reads at most this much per read_interval" },
            ParamDoc { key: "read_interval", doc: "how often a slow reader reads (default 100ms)" },
        ],
        build: build_sink,
    });
    r.register(AppKind {
        name: "udp-send",
        summary: "Sends numbered datagrams at an interval and reports every echo, in arrival order.",
        params: &[
            ParamDoc { key: "connect", doc: "host:port of a udp-echo (required)" },
            ParamDoc { key: "count", doc: "datagrams to send (default 10)" },
            ParamDoc { key: "size", doc: "bytes per datagram, at least 4 (default 64)" },
            ParamDoc { key: "interval", doc: "time between datagrams (default 10ms)" },
        ],
        build: build_udp_send,
    });
    r.register(AppKind {
        name: "udp-echo",
        summary: "Sends every UDP datagram back to its sender.",
        params: &[ParamDoc {
            key: "port",
            doc: "port to bind (required)",
        }],
        build: build_udp_echo,
    });
}

fn backlog(p: &mut Params<'_>) -> Result<Option<usize>, ParamError> {
    match p.int("backlog", 65535)? {
        Some(0) => Err(ParamError::at("backlog", "`backlog` must be at least 1")),
        other => Ok(other.map(|b| b as usize)),
    }
}

fn with_backlog(server: TcpServer, backlog: Option<usize>) -> TcpServer {
    match backlog {
        Some(b) => server.with_backlog(b),
        None => server,
    }
}

fn build_echo(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?;
    let port = p.require("port", port)?;
    let backlog = backlog(p)?;
    Ok(factory(move || {
        with_backlog(simnet_core::apps::TcpEcho::new(port), backlog)
    }))
}

fn server_close(p: &mut Params<'_>) -> Result<ServerClose, ParamError> {
    Ok(
        match p.choice(
            "close",
            &["on-eof", "after-reply", "never", "abort-after-reply"],
        )? {
            None | Some("on-eof") => ServerClose::OnEof,
            Some("after-reply") => ServerClose::AfterReply,
            Some("never") => ServerClose::Never,
            Some(_) => ServerClose::AbortAfterReply,
        },
    )
}

fn build_server(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?;
    let port = p.require("port", port)?;
    let reply_kind = p.choice("reply", &["echo", "fixed", "after-eof", "nothing"])?;
    let request_bytes = p.size("request_bytes")?.unwrap_or(1) as usize;
    let reply_bytes = p.size("reply_bytes")?.unwrap_or(100) as usize;
    let reply = match reply_kind {
        None | Some("echo") => Reply::Echo,
        Some("fixed") => Reply::Fixed {
            after_bytes: request_bytes,
            bytes: reply_bytes,
        },
        Some("after-eof") => Reply::AfterEof { bytes: reply_bytes },
        Some(_) => Reply::Nothing,
    };
    let close = server_close(p)?;
    let backlog = backlog(p)?;
    Ok(factory(move || {
        with_backlog(TcpServer::new(port, reply.clone(), close), backlog)
    }))
}

fn build_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let remote = p.endpoint("connect")?;
    let remote = p.require("connect", remote)?;
    let text = p.string("send")?;
    let send_bytes = p.size("send_bytes")?;
    let pieces = p.strings("pieces")?;
    let given = [text.is_some(), send_bytes.is_some(), pieces.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(ParamError::at(
            "pieces",
            "give only one of `send`, `send_bytes` and `pieces`",
        ));
    }
    // `send_bytes` stays a number until the socket takes the bytes: a
    // payload of gigabytes costs nothing to load and little to run.
    let pieces: Vec<Payload> = match (text, send_bytes, pieces) {
        (_, Some(n), _) => vec![Payload::Filler(n)],
        (_, _, Some(list)) => list
            .into_iter()
            .map(|s| Payload::Bytes(s.into_bytes()))
            .collect(),
        (Some(t), _, _) => vec![Payload::Bytes(t.into_bytes())],
        (None, None, None) => vec![Payload::Bytes(b"hello".to_vec())],
    };
    let sent: u64 = pieces.iter().map(Payload::len).sum();
    let expect = p.size("expect_bytes")?.unwrap_or(sent) as usize;
    let close = match p.choice(
        "close",
        &[
            "after-reply",
            "shutdown-after-send",
            "on-eof",
            "abort-after-reply",
            "never",
        ],
    )? {
        None | Some("after-reply") => ClientClose::AfterReply,
        Some("shutdown-after-send") => ClientClose::ShutdownAfterSend,
        Some("on-eof") => ClientClose::OnEof,
        Some("abort-after-reply") => ClientClose::AbortAfterReply,
        Some(_) => ClientClose::Never,
    };
    let connections = p.int("connections", 10_000_000)?.unwrap_or(1);
    if connections == 0 {
        return Err(ParamError::at(
            "connections",
            "`connections` must be at least 1",
        ));
    }
    let pause = p.duration("pause")?.unwrap_or(SimDuration::ZERO);
    let nodelay = p.bool("nodelay")?.unwrap_or(false);
    Ok(factory(move || {
        let mut c = TcpClient::new(remote, b"", expect)
            .payloads(pieces.clone())
            .close(close)
            .connections(connections)
            .nodelay(nodelay);
        c.pause = pause;
        c
    }))
}

fn build_bulk(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let remote = p.endpoint("connect")?;
    let remote = p.require("connect", remote)?;
    let bytes = p.size("bytes")?;
    let bytes = p.require("bytes", bytes)?;
    Ok(factory(move || BulkSender::new(remote, bytes)))
}

fn build_sink(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?;
    let port = p.require("port", port)?;
    let read_bytes = p.size("read_bytes")?;
    let interval = p
        .interval("read_interval")?
        .unwrap_or(SimDuration::from_millis(100));
    Ok(factory(move || match read_bytes {
        Some(n) => Sink::slow(port, n as usize, interval),
        None => Sink::new(port),
    }))
}

fn build_udp_send(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let remote = p.endpoint("connect")?;
    let remote = p.require("connect", remote)?;
    let count = p.int("count", 1_000_000)?.unwrap_or(10) as u32;
    let size = p.size("size")?.unwrap_or(64);
    if !(4..=65_000).contains(&size) {
        return Err(ParamError::at(
            "size",
            "`size` must be between 4 and 65000 bytes",
        ));
    }
    let interval = p
        .interval("interval")?
        .unwrap_or(SimDuration::from_millis(10));
    Ok(factory(move || {
        UdpSender::new(remote, count, size as usize, interval)
    }))
}

fn build_udp_echo(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?;
    let port = p.require("port", port)?;
    Ok(factory(move || UdpEcho::new(port)))
}

//! The kinds for simnet-core's own applications: raw TCP and UDP.

use crate::registry::{
    AppKind, AppRegistry, CommandDoc, ListenPort, ParamDoc, ParamError, Params, SharedFactory,
    factory,
};
use simnet_core::apps::{
    BulkSender, ClientClose, Payload, Reply, ServerClose, Sink, TcpClient, TcpServer, UdpEcho,
    UdpSender,
};
use simnet_core::apps::{Piece, RawClient, RawClose, RawServer, raw};
use simnet_core::{Protocol, SimDuration};

/// What `tcp-echo` and `tcp-server` do with timeline commands (`TcpServer::on_command`).
const TCP_SERVER_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "send",
        doc: "send `data` (or `count` filler bytes, default 100) on every open connection",
    },
    CommandDoc {
        verb: "close",
        doc: "close every open connection now (the server closes first)",
    },
    CommandDoc {
        verb: "stop",
        doc: "stop listening; open connections carry on",
    },
];

/// What `tcp-client` does with timeline commands (`TcpClient::on_command`).
const TCP_CLIENT_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "send",
        doc: "send `data` (or `count` filler bytes, default 100) on the open connection",
    },
    CommandDoc {
        verb: "close",
        doc: "close the connection now",
    },
    CommandDoc {
        verb: "abort",
        doc: "abort the connection with a RST",
    },
    CommandDoc {
        verb: "shutdown",
        doc: "half-close: send FIN, keep reading",
    },
];

/// The application events simnet-core's programs emit, and their fields.
pub(crate) const EVENT_KINDS: &[&str] = &[
    "app.command-ignored",
    "sink.eof",
    "tcp.connect-failed",
    "tcp.failed",
    "tcp.listen-failed",
    "tcp.reply",
    "udp.bind-failed",
    "udp.echo",
    "raw.accepted",
    "raw.connect-failed",
    "raw.connected",
    "raw.eof",
    "raw.failed",
    "raw.listen-failed",
    "raw.received",
    "raw.sent",
];

/// The fields of [`EVENT_KINDS`].
pub(crate) const EVENT_FIELDS: &[&str] = &[
    "bytes",
    "bytes_read",
    "connection",
    "data",
    "first_line",
    "piece",
    "duplicate",
    "duration",
    "first_mismatch",
    "intact",
    "latency",
    "out_of_order",
    "reason",
    "seq",
];

/// Registers `tcp-echo`, `tcp-server`, `tcp-client`, `bulk-send`, `sink`,
/// `udp-send`, `udp-echo`, `raw-client` and `raw-server`.
pub fn register(r: &mut AppRegistry) {
    r.register_events(EVENT_KINDS, EVENT_FIELDS, &["latency", "duration"]);
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
        commands: TCP_SERVER_COMMANDS,
        listens: Some(ListenPort {
            key: "port",
            default: None,
            protocol: Protocol::Tcp,
        }),
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
        commands: TCP_SERVER_COMMANDS,
        listens: Some(ListenPort {
            key: "port",
            default: None,
            protocol: Protocol::Tcp,
        }),
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
            ParamDoc { key: "local_port", doc: "connect from this port, as bind() then connect() (default: an ephemeral port); two clients bound to each other's ports open one connection with crossing SYNs" },
        ],
        commands: TCP_CLIENT_COMMANDS,
        listens: None,
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
        commands: &[],
        listens: None,
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
        commands: &[],
        listens: Some(ListenPort { key: "port", default: None, protocol: Protocol::Tcp }),
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
        commands: &[],
        listens: None,
        build: build_udp_send,
    });
    r.register(AppKind {
        name: "udp-echo",
        summary: "Sends every UDP datagram back to its sender.",
        params: &[ParamDoc {
            key: "port",
            doc: "port to bind (required)",
        }],
        commands: &[],
        listens: Some(ListenPort {
            key: "port",
            default: None,
            protocol: Protocol::Udp,
        }),
        build: build_udp_echo,
    });
    r.register(AppKind {
        name: "raw-client",
        summary: "Connects and writes exact bytes (text with escapes or hex) in timed pieces; reports every byte it receives.",
        params: RAW_CLIENT_PARAMS,
        commands: RAW_COMMANDS,
        listens: None,
        build: build_raw_client,
    });
    r.register(AppKind {
        name: "raw-server",
        summary: "Accepts connections and writes exact bytes in timed pieces on each; reports every byte it receives.",
        params: RAW_SERVER_PARAMS,
        commands: RAW_SERVER_COMMANDS,
        listens: Some(ListenPort { key: "port", default: None, protocol: Protocol::Tcp }),
        build: build_raw_server,
    });
}

/// What `raw-client` does with timeline commands (`RawClient::on_command`).
const RAW_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "send",
        doc: "write `data` (text with the same escapes as `text`) on the open connection",
    },
    CommandDoc {
        verb: "close",
        doc: "close the connection now",
    },
    CommandDoc {
        verb: "abort",
        doc: "abort the connection with a RST",
    },
    CommandDoc {
        verb: "shutdown",
        doc: "half-close: send FIN, keep reading",
    },
];

/// What `raw-server` does with timeline commands (`RawServer::on_command`):
/// the client's commands on every open connection, and `stop`.
const RAW_SERVER_COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        verb: "send",
        doc: "write `data` (text with the same escapes as `text`) on every open connection",
    },
    CommandDoc {
        verb: "close",
        doc: "close every open connection now",
    },
    CommandDoc {
        verb: "abort",
        doc: "abort every open connection with a RST",
    },
    CommandDoc {
        verb: "shutdown",
        doc: "half-close every open connection: send FIN, keep reading",
    },
    CommandDoc {
        verb: "stop",
        doc: "stop listening; open connections carry on",
    },
];

/// The parameters that say what a raw peer writes and when it closes.
const RAW_SCRIPT_PARAMS: [ParamDoc; 5] = [
    ParamDoc {
        key: "text",
        doc: "one piece written at once, as text with escapes: \\r \\n \\t \\0 \\\\ \\xHH (any byte, e.g. \\xff); write it in single quotes, 'GET / HTTP/1.1\\r\\n\\r\\n', so TOML leaves the escapes alone",
    },
    ParamDoc {
        key: "hex",
        doc: "one piece written at once, as hex byte pairs, spaces allowed: \"81 85 37 fa 21 3d\"",
    },
    ParamDoc {
        key: "send",
        doc: "pieces written one after another: a list of { after = \"20ms\", text = '...' } or { after = \"20ms\", hex = \"...\" }; `after` is the delay since the previous piece (the first: since the connection opened), default \"0s\"; `repeat = 9000` writes the piece's bytes that many times in one go (at most 16 MiB in all); use at most one of `text`, `hex`, `send`",
    },
    ParamDoc {
        key: "close",
        doc: "on-eof (close when the peer does) | after-send (close once every piece is written) | shutdown-after-send (half-close, keep reading) | abort-after-send (RST) | never (default on-eof)",
    },
    ParamDoc {
        key: "nagle",
        doc: "keep Nagle's algorithm on, so small pieces may wait for an ACK and leave together (default false: every piece leaves when it is written)",
    },
];

const RAW_CLIENT_PARAMS: &[ParamDoc] = &{
    let script = RAW_SCRIPT_PARAMS;
    [
        ParamDoc {
            key: "connect",
            doc: "host:port to connect to (required)",
        },
        script[0],
        script[1],
        script[2],
        script[3],
        script[4],
    ]
};

const RAW_SERVER_PARAMS: &[ParamDoc] = &{
    let script = RAW_SCRIPT_PARAMS;
    [
        ParamDoc {
            key: "port",
            doc: "port to listen on (required)",
        },
        script[0],
        script[1],
        script[2],
        script[3],
        script[4],
    ]
};

/// One entry of a raw peer's `send` list.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PieceDoc {
    after: Option<String>,
    text: Option<String>,
    hex: Option<String>,
    repeat: Option<u64>,
}

/// The most bytes a raw peer's script may hold: far more than any
/// malformed message needs, and little enough that a typo in `repeat`
/// cannot exhaust memory while the scenario loads.
const MAX_SCRIPT_BYTES: u64 = 16 * 1024 * 1024;

/// The bytes of a piece written as `text` (with escapes) or `hex`, or an
/// error naming `key` and what is wrong. `what` names the piece in a
/// `send` list (`"`send` piece 2"`), and is empty for a lone `text` or `hex`.
fn piece_bytes(
    key: &str,
    what: &str,
    text: Option<&str>,
    hex: Option<&str>,
) -> Result<Vec<u8>, ParamError> {
    let prefix = if what.is_empty() {
        String::new()
    } else {
        format!("{what}: ")
    };
    match (text, hex) {
        (Some(_), Some(_)) => Err(ParamError::at(
            key,
            format!("{what} has both `text` and `hex`; give one"),
        )),
        (Some(t), None) => {
            raw::unescape(t).map_err(|e| ParamError::at(key, format!("{prefix}`text`: {e}")))
        }
        (None, Some(h)) => {
            raw::parse_hex(h).map_err(|e| ParamError::at(key, format!("{prefix}`hex`: {e}")))
        }
        (None, None) => Err(ParamError::at(key, format!("{what} needs `text` or `hex`"))
            .help("e.g. { after = \"10ms\", text = 'ping\\r\\n' } or { hex = \"81 85\" }")),
    }
}

/// Reads what a raw peer writes (`text`, `hex` or `send`), how it closes,
/// and whether Nagle's algorithm stays on.
fn raw_script(p: &mut Params<'_>) -> Result<(Vec<Piece>, RawClose, bool), ParamError> {
    let text = p.string("text")?;
    let hex = p.string("hex")?;
    let send: Option<Vec<PieceDoc>> = p.deserialize("send")?;
    let given = [text.is_some(), hex.is_some(), send.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        let key = if send.is_some() { "send" } else { "hex" };
        return Err(ParamError::at(key, "give only one of `text`, `hex` and `send`")
            .help("several pieces go in `send = [{ text = '...' }, { after = \"10ms\", hex = \"...\" }]`"));
    }
    let mut written = 0u64;
    let pieces = match send {
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, doc)| {
                let what = format!("`send` piece {}", i + 1);
                let after = match &doc.after {
                    None => SimDuration::ZERO,
                    Some(a) => crate::units::parse_duration(a)
                        .map_err(|e| ParamError::at("send", format!("{what}: `after`: {e}")))?,
                };
                let bytes = piece_bytes("send", &what, doc.text.as_deref(), doc.hex.as_deref())?;
                let repeat = doc.repeat.unwrap_or(1);
                let total = (bytes.len() as u64).saturating_mul(repeat);
                if repeat == 0 {
                    return Err(ParamError::at(
                        "send",
                        format!("{what}: `repeat` must be at least 1"),
                    )
                    .help("e.g. { text = 'a', repeat = 9000 } for a 9000-byte run"));
                }
                if total > MAX_SCRIPT_BYTES {
                    return Err(ParamError::at(
                        "send",
                        format!(
                            "{what}: `repeat` = {repeat} makes {total} bytes, more than the {MAX_SCRIPT_BYTES} bytes (16 MiB) a script may hold"
                        ),
                    )
                    .help("e.g. { text = 'a', repeat = 9000 } for a 9000-byte run"));
                }
                written += total;
                if written > MAX_SCRIPT_BYTES {
                    return Err(ParamError::at(
                        "send",
                        format!("the pieces up to {what} hold {written} bytes, more than the {MAX_SCRIPT_BYTES} bytes (16 MiB) a script may hold"),
                    ));
                }
                Ok(Piece::after(after, bytes.repeat(repeat as usize)))
            })
            .collect::<Result<Vec<_>, ParamError>>()?,
        None if text.is_some() || hex.is_some() => {
            let key = if text.is_some() { "text" } else { "hex" };
            vec![Piece::now(piece_bytes(
                key,
                "",
                text.as_deref(),
                hex.as_deref(),
            )?)]
        }
        None => Vec::new(),
    };
    let close = match p.choice(
        "close",
        &[
            "on-eof",
            "after-send",
            "shutdown-after-send",
            "abort-after-send",
            "never",
        ],
    )? {
        None | Some("on-eof") => RawClose::OnEof,
        Some("after-send") => RawClose::AfterSend,
        Some("shutdown-after-send") => RawClose::ShutdownAfterSend,
        Some("abort-after-send") => RawClose::AbortAfterSend,
        Some(_) => RawClose::Never,
    };
    let nagle = p.bool("nagle")?.unwrap_or(false);
    Ok((pieces, close, nagle))
}

fn build_raw_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let remote = p.endpoint("connect")?;
    let remote = p.require("connect", remote)?;
    let (pieces, close, nagle) = raw_script(p)?;
    Ok(factory(move || {
        RawClient::new(remote, pieces.clone(), close).nagle(nagle)
    }))
}

fn build_raw_server(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?;
    let port = p.require("port", port)?;
    let (pieces, close, nagle) = raw_script(p)?;
    Ok(factory(move || {
        RawServer::new(port, pieces.clone(), close).nagle(nagle)
    }))
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
    let local_port = p.port("local_port")?;
    if local_port.is_some() && connections > 1 {
        return Err(ParamError::at(
            "local_port",
            "`local_port` with `connections` > 1: the next connection's bind() would find the port still in TIME-WAIT",
        ));
    }
    Ok(factory(move || {
        let mut c = TcpClient::new(remote, b"", expect)
            .payloads(pieces.clone())
            .close(close)
            .connections(connections)
            .nodelay(nodelay);
        if let Some(port) = local_port {
            c = c.local_port(port);
        }
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

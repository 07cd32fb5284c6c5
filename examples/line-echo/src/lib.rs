//! A line-echo server and client written against simnet's [`App`] trait,
//! registered as the kinds `line-echo` and `line-client` so scenario files
//! can use them. The book's chapter "Writing your own application" walks
//! through this file.

use simnet::apps::stream::{Connections, flush, read_all, take_line};
use simnet::scenario::{
    AppKind, AppRegistry, ParamDoc, ParamError, Params, SharedFactory, factory,
};
use simnet::{App, AppContext, AppEvent, SimDuration, SimTime, SocketEvent};
use std::net::SocketAddrV4;

// ANCHOR: server
/// Sends every complete line it receives back to its sender.
pub struct LineEchoServer {
    port: u16,
    /// Per connection: bytes of a line not yet ended, replies not yet sent,
    /// and whether the client has finished sending.
    conns: Connections<(Vec<u8>, Vec<u8>, bool)>,
}

impl LineEchoServer {
    /// A server listening on `port`.
    pub fn new(port: u16) -> Self {
        let conns = Connections::new();
        LineEchoServer { port, conns }
    }
}

impl App for LineEchoServer {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        let _ = cx.listen(self.port); // a failure shows in the trace
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        // Accepts every waiting connection, releases reset ones, and
        // gives us the connection a `Readable` or `Writable` is about.
        let Some((s, (partial, out, eof))) = self.conns.on_event(cx, event) else {
            return;
        };
        let input = read_all(cx, s); // reads until WouldBlock
        partial.extend(input.data);
        while let Some(line) = take_line(partial) {
            out.extend(line);
        }
        *eof |= input.eof;
        // `flush` sends what fits; the rest waits for `Writable`.
        if !flush(cx, s, out) || input.broken || (*eof && out.is_empty()) {
            let _ = cx.close(s);
            self.conns.remove(s);
        }
    }
}
// ANCHOR_END: server

// ANCHOR: client
/// Connects to a server, sends its lines, and records each echo.
pub struct LineClient {
    server: SocketAddrV4,
    lines: Vec<String>,
    sent_at: SimTime,
    received: Vec<u8>,
    /// The lines echoed back, in order, with the time each took.
    pub echoes: Vec<(String, SimDuration)>,
}

impl LineClient {
    /// A client for the server at `server`.
    pub fn new(server: SocketAddrV4, lines: &[&str]) -> Self {
        LineClient {
            server,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            sent_at: SimTime::ZERO,
            received: Vec::new(),
            echoes: Vec::new(),
        }
    }
}

impl App for LineClient {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        let _ = cx.connect(self.server); // a failure shows in the trace
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        match event {
            SocketEvent::Connected(s) => {
                // A few short lines always fit the send buffer; see the
                // server for sending more than fits.
                let text: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
                let _ = cx.send(s, text.as_bytes());
                self.sent_at = cx.now();
            }
            SocketEvent::Readable(s) => {
                self.received.extend(read_all(cx, s).data);
                while let Some(line) = take_line(&mut self.received) {
                    let line = String::from_utf8_lossy(&line).trim_end().to_string();
                    let took = cx.now() - self.sent_at;
                    cx.emit(AppEvent::new("line.echo", &line).with("latency", took));
                    self.echoes.push((line, took));
                }
                if self.echoes.len() == self.lines.len() {
                    let _ = cx.close(s); // everything read: a clean FIN
                }
            }
            SocketEvent::ConnectFailed(s, why) | SocketEvent::Closed(s, why) => {
                cx.emit(AppEvent::new("line.error", format!("connection: {why}")));
                let _ = cx.close(s);
            }
            _ => {}
        }
    }
}
// ANCHOR_END: client

// ANCHOR: register
/// Registers `line-echo` and `line-client`, and the events they emit.
pub fn register(registry: &mut AppRegistry) {
    registry.register_events(&["line.echo", "line.error"], &["latency"], &["latency"]);
    registry.register(AppKind {
        name: "line-echo",
        summary: "Sends every complete line back to its sender.",
        params: &[ParamDoc {
            key: "port",
            doc: "port to listen on (required)",
        }],
        commands: &[],
        listens: None,
        build: build_server,
    });
    registry.register(AppKind {
        name: "line-client",
        summary: "Sends lines to a line-echo server and records each echo.",
        params: &[
            ParamDoc {
                key: "connect",
                doc: "the server, as host:port (required)",
            },
            ParamDoc {
                key: "lines",
                doc: "the lines to send (required)",
            },
        ],
        commands: &[],
        listens: None,
        build: build_client,
    });
}

fn build_server(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?;
    let port = p.require("port", port)?;
    Ok(factory(move || LineEchoServer::new(port)))
}

fn build_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    // `server:7` becomes the server's address; an unknown host name is
    // reported at load, with the file, line and column.
    let server = p.endpoint("connect")?;
    let server = p.require("connect", server)?;
    let lines = p.strings("lines")?;
    let lines = p.require("lines", lines)?;
    Ok(factory(move || {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        LineClient::new(server, &lines)
    }))
}
// ANCHOR_END: register

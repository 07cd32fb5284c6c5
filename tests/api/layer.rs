//! Stream layers on sockets (`AppContext::set_layer`, the seam TLS uses):
//! the application reads and writes plaintext, the wire carries what the
//! layer makes of it, flow control still reaches the peer, and a close
//! waits for the layer's last bytes.
//!
//! The layer here is a test double with TLS's shape, not a cipher: the
//! client speaks first (a hello the server must answer before any data
//! flows), data travels in length-prefixed records with every byte
//! inverted, and a zero-length record ends the stream (`close_notify`).

use crate::{pair, ten_ms, text};
use simnet::layer::{LayerError, StreamLayer};
use simnet::{App, AppContext, AppEvent, Recv, SimTime, SocketEvent, SocketId};
use std::net::SocketAddrV4;

const HELLO: &[u8] = b"\x03HI!";
const READY: &[u8] = b"\x03OK!";

#[derive(Default)]
struct Framed {
    client: bool,
    /// The handshake is over: data may flow.
    ready: bool,
    /// Received bytes not yet a whole record.
    pending: Vec<u8>,
    /// Plaintext written before the handshake ended.
    held: Vec<u8>,
    wire: Vec<u8>,
    plain: Vec<u8>,
    peer_closed: bool,
    events: Vec<AppEvent>,
}

impl Framed {
    fn client() -> Framed {
        Framed {
            client: true,
            wire: HELLO.to_vec(),
            ..Framed::default()
        }
    }

    fn seal(&mut self, data: &[u8]) {
        for chunk in data.chunks(255) {
            self.wire.push(chunk.len() as u8);
            self.wire.extend(chunk.iter().map(|b| !b));
        }
    }
}

impl StreamLayer for Framed {
    fn receive(&mut self, _now: SimTime, wire: &[u8]) -> Result<(), LayerError> {
        self.pending.extend_from_slice(wire);
        loop {
            if !self.ready {
                let (expect, answer) = if self.client {
                    (READY, None)
                } else {
                    (HELLO, Some(READY))
                };
                if self.pending.len() < expect.len() {
                    return Ok(());
                }
                if &self.pending[..expect.len()] != expect {
                    return Err(LayerError("bad handshake".into()));
                }
                self.pending.drain(..expect.len());
                if let Some(answer) = answer {
                    self.wire.extend_from_slice(answer);
                }
                self.ready = true;
                self.events
                    .push(AppEvent::new("layer.ready", "handshake done"));
                let held = std::mem::take(&mut self.held);
                self.seal(&held);
                continue;
            }
            let Some(&len) = self.pending.first() else {
                return Ok(());
            };
            let len = len as usize;
            if len == 0 {
                self.pending.drain(..1);
                self.peer_closed = true;
                self.events
                    .push(AppEvent::new("layer.closed", "peer closed"));
                continue;
            }
            if self.pending.len() < 1 + len {
                return Ok(());
            }
            let record: Vec<u8> = self.pending.drain(..1 + len).skip(1).map(|b| !b).collect();
            self.plain.extend(record);
        }
    }

    fn write(&mut self, _now: SimTime, plain: &[u8]) -> Result<usize, LayerError> {
        if self.ready {
            self.seal(plain);
        } else {
            self.held.extend_from_slice(plain);
        }
        Ok(plain.len())
    }

    fn take_wire(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.wire);
    }

    fn read(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.plain)
    }

    fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    fn close(&mut self, _now: SimTime) {
        self.wire.push(0);
    }

    fn take_events(&mut self) -> Vec<AppEvent> {
        std::mem::take(&mut self.events)
    }
}

/// Connects, installs the layer, writes `payload` at once (before the
/// handshake is over), reads the echo and closes when it has it all.
struct Client {
    payload: Vec<u8>,
    got: Vec<u8>,
    sid: Option<SocketId>,
    sent: usize,
}

impl App for Client {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        let to: SocketAddrV4 = "10.0.0.2:443".parse().unwrap();
        self.sid = cx.connect(to).ok();
    }
    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let sid = self.sid.unwrap();
        match event {
            SocketEvent::Connected(_) => {
                cx.set_layer(sid, Box::new(Framed::client())).unwrap();
                self.write(cx);
            }
            SocketEvent::Writable(_) => self.write(cx),
            SocketEvent::Readable(_) => {
                while let Ok(Recv::Data(d)) = cx.recv(sid, 4096) {
                    self.got.extend(d);
                }
            }
            _ => {}
        }
        if self.got.len() == self.payload.len() && self.sent == self.payload.len() {
            let whole = if self.got == self.payload {
                "intact"
            } else {
                "corrupt"
            };
            cx.emit(AppEvent::new("echo.done", whole));
            let _ = cx.close(sid);
            self.sent += 1; // close once
        }
    }
}

impl Client {
    fn write(&mut self, cx: &mut AppContext<'_>) {
        let sid = self.sid.unwrap();
        while self.sent < self.payload.len() {
            match cx.send(sid, &self.payload[self.sent..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.sent += n,
            }
        }
    }
}

/// Accepts, installs the layer, echoes what it reads (slowly when `slow`:
/// one read of 1 KiB per 20 ms), and closes when the client has.
#[derive(Default)]
struct Echo {
    sid: Option<SocketId>,
    out: Vec<u8>,
    eof: bool,
    slow: bool,
}

impl App for Echo {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        cx.listen(443).unwrap();
        if self.slow {
            cx.set_timer(simnet::SimDuration::from_millis(20));
        }
    }
    fn on_timer(&mut self, cx: &mut AppContext<'_>, _timer: simnet::TimerId) {
        self.pump(cx);
        if !self.eof {
            cx.set_timer(simnet::SimDuration::from_millis(20));
        }
    }
    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        if let SocketEvent::Incoming { .. } = event {
            let sid = cx.accept(443).unwrap();
            cx.set_layer(sid, Box::new(Framed::default())).unwrap();
            self.sid = Some(sid);
        }
        if !self.slow {
            self.pump(cx);
        }
    }
}

impl Echo {
    fn pump(&mut self, cx: &mut AppContext<'_>) {
        let Some(sid) = self.sid else { return };
        loop {
            match cx.recv(sid, if self.slow { 1024 } else { 65536 }) {
                Ok(Recv::Data(d)) => {
                    self.out.extend(d);
                    if self.slow {
                        break;
                    }
                }
                Ok(Recv::Eof) if !self.eof => {
                    self.eof = true;
                    break;
                }
                _ => break,
            }
        }
        while !self.out.is_empty() {
            match cx.send(sid, &self.out) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.out.drain(..n);
                }
            }
        }
        if self.eof && self.out.is_empty() {
            let _ = cx.close(sid);
            self.sid = None;
        }
    }
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn run(n: usize, slow: bool) -> (simnet::World, Vec<u8>) {
    let (mut b, client, server) = pair(7, ten_ms());
    b.app(server, "echo", move || Echo {
        slow,
        ..Echo::default()
    });
    let data = payload(n);
    let sent = data.clone();
    b.app(client, "client", move || Client {
        payload: sent.clone(),
        got: Vec::new(),
        sid: None,
        sent: 0,
    });
    let mut w = b.build().unwrap();
    w.run_until(SimTime::from_secs(60));
    (w, data)
}

/// A small exchange, snapshot: the hello and its answer cross before any
/// record, the request written before the handshake waits for it, `recv`
/// shows plaintext while the packets carry records, and each side's close
/// sends its closing record before its FIN.
#[test]
fn a_layered_exchange_carries_plaintext_through_records() {
    let (w, _) = run(5, false);
    let text = text(&w);
    let ready = w.trace().app_events("layer.ready").count();
    assert_eq!(ready, 2, "{text}");
    // The server reads the client's closing record; the client, which
    // closed first, reads nothing more (its peer's record stays unread).
    let closed: Vec<_> = w.trace().app_events("layer.closed").map(|e| e.1).collect();
    assert_eq!(closed, [simnet::HostId(1)], "{text}");
    assert_eq!(w.trace().app_events("layer.failed").count(), 0);
    insta::assert_snapshot!(text);
}

/// 200 KiB through a server that reads 1 KiB every 20 ms: the echo comes
/// back whole and in order, the server's window closes on the client (the
/// layer reads from TCP only when the application reads), and memory is
/// bounded by the windows, not the payload.
#[test]
fn a_slow_reader_behind_a_layer_still_closes_the_window() {
    let (w, data) = run(200 * 1024, true);
    let client = simnet::HostId(0);
    let server = simnet::HostId(1);
    let zero_windows = w
        .trace()
        .packets()
        .filter(|(_, from, p)| *from == server && p.tcp().is_some_and(|t| t.window == 0))
        .count();
    assert!(zero_windows > 0, "the slow server's window closes");
    // Every byte came back, in order.
    let done: Vec<_> = w
        .trace()
        .app_events("echo.done")
        .map(|e| (e.1, e.2.summary.to_string()))
        .collect();
    assert_eq!(
        done,
        [(client, "intact".to_string())],
        "{} bytes",
        data.len()
    );
}

/// A peer that does not speak the layer's protocol: the server's layer
/// fails on the first bytes, the failure is reported, and the connection
/// is closed with a FIN rather than left hanging.
#[test]
fn a_layer_that_fails_reports_it_and_closes() {
    struct Raw;
    impl App for Raw {
        fn start(&mut self, cx: &mut AppContext<'_>) {
            let _ = cx.connect("10.0.0.2:443".parse().unwrap());
        }
        fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
            if let SocketEvent::Connected(sid) = event {
                let _ = cx.send(sid, b"GET / HTTP/1.1\r\n\r\n");
            }
        }
    }
    let (mut b, client, server) = pair(7, ten_ms());
    b.app(server, "echo", Echo::default);
    b.app(client, "raw", || Raw);
    let mut w = b.build().unwrap();
    w.run_until(SimTime::from_secs(1));
    let failed: Vec<String> = w
        .trace()
        .app_events("layer.failed")
        .map(|e| e.2.summary.to_string())
        .collect();
    assert_eq!(failed, ["stream layer failed: bad handshake"]);
    let fin_from_server = w.trace().packets().any(|(_, from, p)| {
        from == server && p.tcp().is_some_and(|t| t.flags.to_string().contains('F'))
    });
    assert!(fin_from_server);
}

//! The adapters between an HTTP protocol connection and a simulated socket,
//! one per side, shared by every application that speaks HTTP: the HTTP
//! server, subscriber and proxy and the WebSocket and Socket.IO-style applications
//! (before their upgrade, or on long polling).
//!
//! Each adapter owns the sans-IO connection from [`crate::proto`] and the
//! bytes that are waiting for room in the socket's send buffer, and does the
//! socket work that is the same for every application: reading the socket
//! into the protocol, writing what the protocol has to send, and (on the
//! server) closing when the protocol is done and keeping its deadline armed
//! as an application timer. What to do with requests and responses stays
//! with each application.

use crate::proto::{
    ClientConfig, ClientConn, ClientEvent, Request, RequestId, SendRequestError, ServerConfig,
    ServerConn, ServerEvent,
};
use simnet_core::apps::stream::{Input, flush, read_all};
use simnet_core::{AppContext, SimTime, SocketError, SocketId, TimerId};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// The server side of one HTTP connection on an accepted socket.
#[derive(Clone, Debug)]
pub struct HttpServerSide {
    /// The protocol state machine.
    pub proto: ServerConn,
    /// Bytes the protocol produced that the socket has not taken yet.
    pub out: Vec<u8>,
    /// The protocol deadline a timer is armed for, so that each one is
    /// armed once.
    deadline: Option<SimTime>,
}

/// What [`HttpServerSide::write`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The connection goes on.
    Open,
    /// The socket refused the bytes: the connection is broken and should be
    /// dropped and closed.
    Broken,
    /// The protocol wants the connection closed and everything it had to
    /// send is out: close it.
    Finished,
}

impl HttpServerSide {
    /// A connection accepted at `now`, speaking HTTP with `config`.
    pub fn new(config: ServerConfig, now: SimTime) -> HttpServerSide {
        HttpServerSide {
            proto: ServerConn::new(config, now),
            out: Vec::new(),
            deadline: None,
        }
    }

    /// Feeds what was read from the socket, and the end of the stream if it
    /// came, to the protocol. A broken connection is the caller's to
    /// handle (applications differ in what they report).
    pub fn feed(&mut self, now: SimTime, input: &Input) {
        if !input.data.is_empty() {
            self.proto.handle_input(now, &input.data);
        }
        if input.eof {
            self.proto.handle_eof(now);
        }
    }

    /// The timer armed by [`write`](Self::write) fired: lets the protocol
    /// act on its deadline (an idle keep-alive connection ends).
    pub fn on_timeout(&mut self, now: SimTime) {
        self.deadline = None;
        self.proto.handle_timeout(now);
    }

    /// Writes what the protocol has to send, says whether the connection
    /// should now be closed, and otherwise keeps the protocol's deadline
    /// armed: `arm` is given the timer of a new deadline, to be passed back
    /// to [`on_timeout`](Self::on_timeout) when it fires.
    pub fn write(
        &mut self,
        cx: &mut AppContext<'_>,
        sid: SocketId,
        arm: impl FnOnce(TimerId),
    ) -> Written {
        if !self.send_pending(cx, sid) {
            return Written::Broken;
        }
        self.finish_or_arm(cx, arm)
    }

    /// The first half of [`write`](Self::write): writes what the protocol
    /// has to send; false if the socket is unusable (what was waiting is
    /// dropped). For an application that waits for the socket's `Closed`
    /// rather than drop the connection at once.
    pub fn send_pending(&mut self, cx: &mut AppContext<'_>, sid: SocketId) -> bool {
        self.proto.poll_transmit(&mut self.out);
        flush(cx, sid, &mut self.out)
    }

    /// The second half of [`write`](Self::write): [`Written::Finished`] if
    /// the protocol wants the connection closed and nothing waits to be
    /// sent; otherwise arms the protocol's deadline if it moved.
    pub fn finish_or_arm(&mut self, cx: &mut AppContext<'_>, arm: impl FnOnce(TimerId)) -> Written {
        if self.proto.wants_close() && self.out.is_empty() {
            return Written::Finished;
        }
        let deadline = self.proto.poll_timeout();
        if deadline != self.deadline {
            self.deadline = deadline;
            if let Some(at) = deadline {
                arm(cx.set_timer_at(at));
            }
        }
        Written::Open
    }
}

/// The next protocol event of the connection on `sid` among `conns`
/// (`side` finds its [`HttpServerSide`]); `None` once it has none, or once
/// the connection is gone (a handler of the previous event may have
/// dropped it). Every server's event loop reads its events this way, then
/// writes with [`HttpServerSide::write`] if the connection is still there.
pub fn next_server_event<C>(
    conns: &mut BTreeMap<SocketId, C>,
    sid: SocketId,
    side: impl FnOnce(&mut C) -> &mut HttpServerSide,
) -> Option<ServerEvent> {
    side(conns.get_mut(&sid)?).proto.poll_event()
}

/// The client side of one HTTP connection that sends one request at a time
/// (a subscriber's polls, a Socket.IO-style long poll).
#[derive(Clone, Debug)]
pub struct HttpClientSide {
    /// The socket.
    pub sid: SocketId,
    /// The protocol state machine.
    pub proto: ClientConn,
    out: Vec<u8>,
    connected: bool,
    /// A request is outstanding (or a stream is open).
    busy: bool,
}

impl HttpClientSide {
    /// Opens a TCP connection to `remote`; requests can be sent once it is
    /// [connected](Self::on_connected).
    pub fn connect(
        cx: &mut AppContext<'_>,
        remote: SocketAddrV4,
        config: ClientConfig,
    ) -> Result<HttpClientSide, SocketError> {
        Ok(HttpClientSide {
            sid: cx.connect(remote)?,
            proto: ClientConn::new(config),
            out: Vec::new(),
            connected: false,
            busy: false,
        })
    }

    /// The TCP handshake completed.
    pub fn on_connected(&mut self) {
        self.connected = true;
    }

    /// Whether a request can be sent now: connected, and no answer awaited.
    pub fn is_ready(&self) -> bool {
        self.connected && !self.busy
    }

    /// Whether a request is outstanding.
    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// Sends `request` and writes what fits; the connection is busy until
    /// its response comes back through [`poll_event`](Self::poll_event).
    pub fn send(
        &mut self,
        cx: &mut AppContext<'_>,
        request: Request,
    ) -> Result<RequestId, SendRequestError> {
        let id = self.proto.send_request(cx.now(), request)?;
        self.busy = true;
        self.proto.poll_transmit(&mut self.out);
        flush(cx, self.sid, &mut self.out);
        Ok(id)
    }

    /// Reads the socket into the protocol; returns whether the stream
    /// ended (the peer closed, or the connection broke).
    pub fn read(&mut self, cx: &mut AppContext<'_>) -> bool {
        let input = read_all(cx, self.sid);
        if !input.data.is_empty() {
            self.proto.handle_input(cx.now(), &input.data);
        }
        let eof = input.eof || input.broken;
        if eof {
            self.proto.handle_eof(cx.now());
        }
        eof
    }

    /// The protocol's next event; a whole response makes the connection
    /// ready for the next request.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        let event = self.proto.poll_event()?;
        if matches!(event, ClientEvent::Response { .. }) {
            self.busy = false;
        }
        Some(event)
    }

    /// Writes what is waiting for room (on `Writable`).
    pub fn flush(&mut self, cx: &mut AppContext<'_>) {
        flush(cx, self.sid, &mut self.out);
    }
}

#[cfg(test)]
mod tests {
    //! The client adapter against the HTTP server over a simulated link.

    use super::*;
    use crate::apps::{HttpServer, Route};
    use simnet_core::{App, LinkParams, SimDuration, SocketEvent, WorldBuilder};
    use std::net::Ipv4Addr;

    /// Sends `wanted` GETs one after another on one connection with
    /// [`HttpClientSide`], and records what the adapter said after each
    /// answer.
    #[derive(Debug, Default)]
    struct Sequential {
        conn: Option<HttpClientSide>,
        wanted: u32,
        sent: u32,
        /// (status, is_ready, is_busy) after each response.
        answers: Vec<(u16, bool, bool)>,
        sockets: Vec<SocketId>,
    }

    impl Sequential {
        fn next(&mut self, cx: &mut AppContext<'_>) {
            let Some(conn) = self.conn.as_mut().filter(|c| c.is_ready()) else {
                return;
            };
            if self.sent < self.wanted {
                self.sent += 1;
                conn.send(cx, Request::get("server", "/"))
                    .expect("a valid request");
                self.sockets.push(conn.sid);
            }
        }
    }

    impl App for Sequential {
        fn start(&mut self, cx: &mut AppContext<'_>) {
            let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
            self.conn = HttpClientSide::connect(cx, remote, ClientConfig::default()).ok();
        }

        fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
            let Some(conn) = self.conn.as_mut() else {
                return;
            };
            match event {
                SocketEvent::Connected(_) => conn.on_connected(),
                SocketEvent::Readable(_) => {
                    conn.read(cx);
                    while let Some(event) = self.conn.as_mut().and_then(HttpClientSide::poll_event)
                    {
                        if let ClientEvent::Response { response, .. } = event {
                            let conn = self.conn.as_ref().expect("still here");
                            self.answers
                                .push((response.status, conn.is_ready(), conn.is_busy()));
                        }
                    }
                }
                SocketEvent::Writable(_) => conn.flush(cx),
                _ => {}
            }
            self.next(cx);
        }
    }

    #[test]
    fn a_client_side_is_busy_until_its_answer_and_reused_after() {
        let mut b = WorldBuilder::new(1);
        let c = b.host("client", [10, 0, 0, 1].into());
        let s = b.host("server", [10, 0, 0, 2].into());
        b.link(c, s, LinkParams::with_latency(SimDuration::from_millis(5)));
        b.app(s, "http-server", || {
            let route = Route::ok("/", 10);
            HttpServer::new(80, ServerConfig::default(), vec![route])
        });
        let id = b.app(c, "sequential", || Sequential {
            wanted: 3,
            ..Sequential::default()
        });
        let mut world = b.build().expect("a valid world");
        world.run_until(SimTime::from_millis(500));
        let app = world.app::<Sequential>(id).expect("the client");
        // Each answer frees the connection, and the next request goes out
        // on the same socket: three answers, one connection.
        assert_eq!(app.answers, vec![(200, true, false); 3]);
        assert_eq!(app.sockets.len(), 3);
        assert!(app.sockets.iter().all(|s| *s == app.sockets[0]));
    }
}

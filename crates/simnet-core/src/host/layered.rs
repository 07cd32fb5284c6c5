//! Sockets with a stream layer (TLS) between the application and TCP: the
//! host side of [`crate::layer`].

use super::*;
use crate::layer::StreamLayer;
use crate::trace::AppEvent;

/// How many bytes a layer may have produced that TCP has not taken yet
/// before `send` stops giving it plaintext: an application writing faster
/// than the network carries waits, as it would on a plain socket.
const WIRE_OUT_MAX: usize = 64 * 1024;

impl Host {
    /// Installs `layer` on a connected TCP socket: from now on `recv` and
    /// `send` carry plaintext through it.
    pub fn set_layer(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        layer: Box<dyn StreamLayer>,
    ) -> Result<(), SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "set_layer", e)),
        };
        if entry.protocol != Protocol::Tcp || entry.layered.is_some() {
            return Err(self.fail(app, Some(sid), "set_layer", SocketError::BadSocket));
        }
        entry.layered = Some(Box::new(Layered {
            layer,
            wire_out: Vec::new(),
            plain_in: Vec::new(),
            close_pending: false,
            failed: false,
        }));
        // A client's layer speaks first (its hello): let it.
        self.pump(app, sid, None);
        self.poll(now, sid, Cause::Local);
        Ok(())
    }

    /// Moves what the layer produced into TCP's send buffer (as much as
    /// fits), sends the FIN a close was waiting for once everything is in,
    /// and reports the layer's events and `error`. Returns whether the
    /// layer has failed.
    fn pump(&mut self, app: AppId, sid: SocketId, error: Option<crate::layer::LayerError>) -> bool {
        let host = self.id;
        let stack = self.stack.as_mut().expect("pumped a crashed host");
        let Some(entry) = stack.sockets.get_mut(&sid) else {
            return true;
        };
        let Some(mut l) = entry.layered.take() else {
            return false;
        };
        l.layer.take_wire(&mut l.wire_out);
        let mut events = l.layer.take_events();
        if let Some(e) = &error {
            // The layer's last words (an alert) go out, then a FIN.
            l.failed = true;
            l.close_pending = true;
            events.push(AppEvent::new("layer.failed", format!("stream layer failed: {e}")).on(sid));
        }
        push_wire(entry, &mut l);
        let failed = l.failed;
        entry.layered = Some(l);
        for mut event in events {
            // A layer's events concern its socket.
            event.socket.get_or_insert(sid);
            self.trace(TraceEvent::App {
                host,
                app,
                event: Box::new(event),
            });
        }
        failed
    }

    /// The entry of a layered socket the application owns, unless its
    /// layer has failed (then `call` fails, and says so in the trace).
    fn unfailed(
        &mut self,
        app: AppId,
        sid: SocketId,
        call: &'static str,
    ) -> Result<&mut Entry, SocketError> {
        let stack = self.stack.as_ref().expect("owned checked the stack");
        let failed = stack
            .sockets
            .get(&sid)
            .and_then(|e| e.layered.as_ref())
            .is_some_and(|l| l.failed);
        if failed {
            return Err(self.fail(app, Some(sid), call, SocketError::LayerFailed));
        }
        let stack = self.stack.as_mut().expect("checked above");
        Ok(stack
            .sockets
            .get_mut(&sid)
            .expect("owned checked the socket"))
    }

    /// `recv` on a layered socket: reads what TCP holds into the layer and
    /// returns the plaintext it opened.
    pub(super) fn layered_recv(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        max: usize,
    ) -> Result<Recv, SocketError> {
        let entry = self.unfailed(app, sid, "recv")?;
        let mut l = entry.layered.take().expect("a layered socket");
        let mut error = None;
        if l.plain_in.is_empty() {
            let socket = entry.tcp_mut();
            let mut wire = Vec::with_capacity(socket.recv_queue());
            while socket.recv_queue() > 0 {
                let got = socket
                    .recv(|buf| {
                        wire.extend_from_slice(buf);
                        (buf.len(), buf.len())
                    })
                    .unwrap_or(0);
                if got == 0 {
                    break;
                }
            }
            entry.read_total += wire.len() as u64;
            entry.rx_notified = entry.tcp().recv_queue();
            if !wire.is_empty() {
                if let Err(e) = l.layer.receive(now, &wire) {
                    error = Some(e);
                }
                l.plain_in.extend(l.layer.read());
            }
        }
        let result = if !l.plain_in.is_empty() {
            let n = max.min(l.plain_in.len());
            Ok(Recv::Data(l.plain_in.drain(..n).collect()))
        } else if l.layer.peer_closed()
            || entry.state.peer_finished()
            || (entry.state == TcpState::Closed && entry.eof_notified)
        {
            Ok(Recv::Eof)
        } else if entry.state == TcpState::Closed {
            Err(SocketError::NotConnected)
        } else {
            Ok(Recv::WouldBlock)
        };
        entry.layered = Some(l);
        let failed = self.pump(app, sid, error);
        match &result {
            Ok(Recv::Data(data)) => self.trace_call(
                app,
                Some(sid),
                SocketCall::Recv {
                    bytes: data.len(),
                    preview: Preview::of(data),
                },
            ),
            Ok(Recv::Eof) => self.trace_call(app, Some(sid), SocketCall::RecvEof),
            _ => {}
        }
        // Reading opened the window, and the layer may have answered.
        self.poll(now, sid, Cause::Local);
        if failed && !matches!(result, Ok(Recv::Data(_))) {
            return Err(self.fail(app, Some(sid), "recv", SocketError::LayerFailed));
        }
        result
    }

    /// `send` on a layered socket whose TCP side may send: gives the layer
    /// as much plaintext as it takes, and TCP what the layer made of it.
    /// Returns the plaintext taken, and whether the application should
    /// hear `Writable` later.
    pub(super) fn layered_send(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        data: &[u8],
    ) -> Result<(usize, bool), SocketError> {
        let entry = self.unfailed(app, sid, "send")?;
        let mut l = entry.layered.take().expect("a layered socket");
        let (accepted, error) = if l.wire_out.len() >= WIRE_OUT_MAX {
            (0, None)
        } else {
            match l.layer.write(now, data) {
                Ok(n) => (n, None),
                Err(e) => (0, Some(e)),
            }
        };
        entry.layered = Some(l);
        let failed = self.pump(app, sid, error);
        if failed {
            return Err(self.fail(app, Some(sid), "send", SocketError::LayerFailed));
        }
        let stack = self.stack.as_ref().expect("checked above");
        let waiting = stack.sockets.get(&sid).and_then(|e| e.layered.as_ref());
        let behind = waiting.is_some_and(|l| !l.wire_out.is_empty());
        Ok((accepted, accepted < data.len() || behind))
    }

    /// `close` or `shutdown` of a layered socket: the layer ends its stream
    /// first; TCP's FIN follows what it produced, at once or, when TCP's
    /// send buffer is full, from [`push_wire`] as room appears.
    pub(super) fn layered_close(&mut self, now: SimTime, app: AppId, sid: SocketId) {
        let stack = self.stack.as_mut().expect("owned checked the stack");
        let entry = stack
            .sockets
            .get_mut(&sid)
            .expect("owned checked the socket");
        let mut l = entry.layered.take().expect("a layered socket");
        if !l.failed {
            l.layer.close(now);
        }
        l.close_pending = true;
        entry.layered = Some(l);
        self.pump(app, sid, None);
    }
}

/// Moves the layer's bytes into TCP's send buffer, as much as fits, and
/// closes TCP once a pending close has nothing left to wait for. Called
/// after every layer call and after every poll of the socket (room may
/// have appeared).
pub(super) fn push_wire(entry: &mut Entry, l: &mut Layered) {
    if !l.wire_out.is_empty() && entry.tcp().may_send() {
        let n = entry.tcp_mut().send_slice(&l.wire_out).unwrap_or(0);
        l.wire_out.drain(..n);
        entry.written_total += n as u64;
    }
    if l.close_pending && (l.wire_out.is_empty() || !entry.tcp().may_send()) {
        l.close_pending = false;
        entry.tcp_mut().close();
    }
}

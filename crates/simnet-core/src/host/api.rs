//! The TCP socket API applications call: listen, accept, connect, send, recv, shutdown, close, abort, options and queues.

use super::observe::lost_data;
use super::*;

impl Host {
    /// `listen(port)` with the host's backlog (or `backlog` if given).
    pub fn listen(
        &mut self,
        now: SimTime,
        app: AppId,
        port: u16,
        backlog: Option<usize>,
    ) -> Result<(), SocketError> {
        let backlog = backlog.unwrap_or(self.config.backlog).max(1);
        let Some(stack) = self.stack.as_mut() else {
            return Err(SocketError::HostDown);
        };
        if port == 0 {
            return Err(self.fail(app, None, "listen", SocketError::InvalidAddress));
        }
        if stack.listeners.contains_key(&port) || stack.ports.in_use(port) {
            return Err(self.fail(app, None, "listen", SocketError::PortInUse(port)));
        }
        stack.listeners.insert(
            port,
            Listener {
                owner: app,
                free: BTreeSet::new(),
                unbacked: BTreeMap::new(),
                accept_queue: VecDeque::new(),
            },
        );
        self.trace_call(app, None, SocketCall::Listen { port, backlog });
        self.arm_listener(now, port, backlog);
        Ok(())
    }

    /// Stops listening on `port`: free listening sockets close, and
    /// connections still waiting to be accepted are reset, as Linux does.
    /// Only the application that listens on `port` can stop it.
    pub fn unlisten(&mut self, now: SimTime, app: AppId, port: u16) {
        let Some(stack) = self.stack.as_mut() else {
            return;
        };
        if stack.listeners.get(&port).is_none_or(|l| l.owner != app) {
            return;
        }
        let unbacked = stack
            .listeners
            .remove(&port)
            .expect("checked above")
            .unbacked;
        // In socket order, unbacked or not.
        let mut all: Vec<SocketId> = stack
            .sockets
            .iter()
            .filter(|(_, e)| e.listener_port == Some(port))
            .map(|(s, _)| s)
            .chain(unbacked.keys().copied())
            .collect();
        all.sort();
        for sid in all {
            if unbacked.contains_key(&sid) {
                let closed = self.listen_transition(sid, port, false);
                self.effects.push(Effect::Trace(closed));
                let stack = self.stack.as_mut().expect("checked above");
                stack.ports.release(port);
                continue;
            }
            let stack = self.stack.as_mut().expect("checked above");
            let entry = stack.sockets.get_mut(&sid).expect("listed above");
            entry.app_closed = true;
            entry.listener_port = None;
            if entry.state == TcpState::Listen {
                entry.tcp_mut().close();
            } else {
                entry.tcp_mut().abort();
            }
            self.poll(now, sid, Cause::Local);
        }
    }

    /// Takes the oldest established connection waiting on `port`.
    pub fn accept(&mut self, now: SimTime, app: AppId, port: u16) -> Option<SocketId> {
        let stack = self.stack.as_mut()?;
        let listener = stack.listeners.get_mut(&port)?;
        if listener.owner != app {
            return None;
        }
        let sid = listener.accept_queue.pop_front()?;
        let entry = stack.sockets.get_mut(&sid)?;
        entry.listener_port = None;
        entry.owner = Some(app);
        let remote = entry
            .tuple
            .map(|(_, a, p)| SocketAddrV4::new(a, p))
            .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        self.trace_call(app, Some(sid), SocketCall::Accept { remote });
        // The slot this connection used is free again.
        self.arm_listener(now, port, 1);
        // Data or a FIN may have arrived before the accept.
        self.settle(now, sid);
        Some(sid)
    }

    /// An ephemeral port for a connection to `remote`: the first port, from
    /// where the last search stopped, that no listener holds and that no
    /// connection to `remote` uses (TIME-WAIT included). Only the 4-tuple
    /// must be unique, as on Linux, so connections to different
    /// destinations may share a port; the search order is one counter for
    /// the whole host (Linux starts from a hash of the destination), so a
    /// host that never wraps around its range picks the same ports as before.
    pub(super) fn allocate_port(&mut self, remote: SocketAddrV4) -> Result<u16, SocketError> {
        let (lo, hi) = self.config.ephemeral_ports;
        let stack = self.stack.as_mut().ok_or(SocketError::HostDown)?;
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        let start = stack.next_ephemeral.clamp(lo, hi);
        let to = (*remote.ip(), remote.port());
        // From the cursor to the end of the range, then from its start: the
        // first port a scan from the cursor would find, without the scan.
        let found = stack
            .ports
            .first_allowed(start, hi, to)
            .or_else(|| stack.ports.first_allowed(lo, hi.min(start), to));
        let Some(port) = found.filter(|_| lo <= hi) else {
            return Err(SocketError::PortsExhausted(span));
        };
        stack.next_ephemeral = if port >= hi { lo } else { port + 1 };
        Ok(port)
    }

    /// `connect(remote)` from a fresh ephemeral port.
    pub fn connect(
        &mut self,
        now: SimTime,
        app: AppId,
        remote: SocketAddrV4,
    ) -> Result<SocketId, SocketError> {
        self.connect_from(now, app, None, remote)
    }

    /// `connect(remote)` from `bound` (as after `bind(bound)`), or from a
    /// fresh ephemeral port.
    ///
    /// A bound port must be free of every socket, TIME-WAIT included, as
    /// `bind()` without `SO_REUSEADDR` requires; it is then pinned like a
    /// listener's, so no ephemeral `connect()` shares it.
    pub fn connect_from(
        &mut self,
        now: SimTime,
        app: AppId,
        bound: Option<u16>,
        remote: SocketAddrV4,
    ) -> Result<SocketId, SocketError> {
        let Some(stack) = self.stack.as_ref() else {
            return Err(SocketError::HostDown);
        };
        if remote.port() == 0 || remote.ip().is_unspecified() || bound == Some(0) {
            return Err(self.fail(app, None, "connect", SocketError::InvalidAddress));
        }
        let local_port = match bound {
            Some(port) if stack.ports.in_use(port) => {
                return Err(self.fail(app, None, "connect", SocketError::PortInUse(port)));
            }
            Some(port) => port,
            None => match self.allocate_port(remote) {
                Ok(p) => p,
                Err(e) => return Err(self.fail(app, None, "connect", e)),
            },
        };
        let sid = self.new_id();
        let (mut set, handle) = self.new_tcp_socket();
        let stack = self.stack.as_mut().expect("checked above");
        let remote_ep = IpEndpoint::new(IpAddress::Ipv4(*remote.ip()), remote.port());
        if set
            .get_mut::<tcp::Socket>(handle)
            .connect(stack.iface.context(), remote_ep, local_port)
            .is_err()
        {
            return Err(self.fail(app, None, "connect", SocketError::InvalidAddress));
        }
        stack.ports.take(local_port);
        if bound.is_none() {
            stack
                .ports
                .hold(sid, (local_port, *remote.ip(), remote.port()));
        }
        self.trace_call(app, Some(sid), SocketCall::Connect { remote, local_port });
        self.insert_entry(now, sid, (set, handle), Protocol::Tcp, app, local_port);
        if let Some(entry) = self.stack.as_mut().and_then(|s| s.sockets.get_mut(&sid)) {
            entry.connect_pending = true;
        }
        self.poll(now, sid, Cause::Local);
        Ok(sid)
    }

    pub(super) fn owned(&mut self, app: AppId, sid: SocketId) -> Result<&mut Entry, SocketError> {
        let stack = self.stack.as_mut().ok_or(SocketError::HostDown)?;
        match stack.sockets.get_mut(&sid) {
            Some(e) if e.owner == Some(app) && !e.app_closed && e.listener_port.is_none() => Ok(e),
            _ => Err(SocketError::BadSocket),
        }
    }

    /// `send(data)`: copies what fits into the send buffer and returns how much.
    pub fn send(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        data: &[u8],
    ) -> Result<usize, SocketError> {
        self.send_offered(now, app, sid, data, data.len())
    }

    /// `send` of a write of `offered` bytes of which only the first
    /// `data.len()` are given (an application generating a long payload as
    /// the socket takes it gives at most [`Host::send_room`] bytes). The
    /// socket and the trace see exactly what a `send` of all `offered`
    /// bytes would have shown: the same bytes accepted, the same
    /// `requested`, and a `Writable` event later when not all of it fit.
    pub fn send_offered(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        data: &[u8],
        offered: usize,
    ) -> Result<usize, SocketError> {
        let offered = offered.max(data.len());
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "send", e)),
        };
        if entry.protocol != Protocol::Tcp {
            return Err(self.fail(app, Some(sid), "send", SocketError::BadSocket));
        }
        if !entry.tcp().may_send() {
            let err = if entry.reset {
                SocketError::Reset
            } else {
                SocketError::NotConnected
            };
            return Err(self.fail(app, Some(sid), "send", err));
        }
        let accepted = if entry.layered.is_some() {
            let (accepted, later) = self.layered_send(now, app, sid, data)?;
            let entry = self.owned(app, sid)?;
            entry.want_write |= later || accepted < offered;
            accepted
        } else {
            let accepted = entry.tcp_mut().send_slice(data).unwrap_or(0);
            entry.written_total += accepted as u64;
            if accepted < offered {
                entry.want_write = true;
            }
            accepted
        };
        let entry = self.owned(app, sid)?;
        // A send that took nothing changed nothing: if the socket was polled
        // at this very instant, polling it again would send nothing and find
        // the same deadline (a bulk sender's second try after every ACK).
        let unchanged = accepted == 0 && entry.polled_at == Some(now);
        self.trace_call(
            app,
            Some(sid),
            SocketCall::Send {
                requested: offered,
                accepted,
                preview: Preview::of(&data[..accepted]),
            },
        );
        if !unchanged {
            self.poll(now, sid, Cause::Local);
        }
        Ok(accepted)
    }

    /// `recv(max)`: bytes, end of stream, or nothing yet.
    pub fn recv(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        max: usize,
    ) -> Result<Recv, SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "recv", e)),
        };
        if entry.protocol != Protocol::Tcp {
            return Err(self.fail(app, Some(sid), "recv", SocketError::BadSocket));
        }
        if entry.reset {
            return Err(SocketError::Reset);
        }
        if entry.layered.is_some() {
            return self.layered_recv(now, app, sid, max);
        }
        let socket = entry.tcp_mut();
        if socket.recv_queue() > 0 {
            // The receive buffer is a ring: read its contiguous parts
            // straight into the result, without zero-filling first.
            let want = max.min(socket.recv_queue());
            let mut data = Vec::with_capacity(want);
            while data.len() < want {
                let missing = want - data.len();
                let got = socket
                    .recv(|buf| {
                        let n = buf.len().min(missing);
                        data.extend_from_slice(&buf[..n]);
                        (n, n)
                    })
                    .unwrap_or(0);
                if got == 0 {
                    break;
                }
            }
            let n = data.len();
            entry.read_total += n as u64;
            entry.rx_notified = entry.tcp().recv_queue();
            self.trace_call(
                app,
                Some(sid),
                SocketCall::Recv {
                    bytes: n,
                    preview: Preview::of(&data),
                },
            );
            self.poll_after_read(now, sid);
            return Ok(Recv::Data(data));
        }
        if entry.state.peer_finished() || (entry.state == TcpState::Closed && entry.eof_notified) {
            self.trace_call(app, Some(sid), SocketCall::RecvEof);
            return Ok(Recv::Eof);
        }
        if entry.state == TcpState::Closed {
            return Err(SocketError::NotConnected);
        }
        Ok(Recv::WouldBlock)
    }

    /// `shutdown(SHUT_WR)`: sends FIN; the socket can still read.
    pub fn shutdown(&mut self, now: SimTime, app: AppId, sid: SocketId) -> Result<(), SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "shutdown", e)),
        };
        if entry.layered.is_some() {
            self.layered_close(now, app, sid);
        } else if entry.protocol == Protocol::Tcp {
            entry.tcp_mut().close();
        }
        self.trace_call(app, Some(sid), SocketCall::Shutdown);
        self.poll(now, sid, Cause::Local);
        Ok(())
    }

    /// `close()`: the application lets go of the socket. TCP finishes the
    /// close handshake on its own; with unread data it sends RST instead,
    /// as Linux does.
    pub fn close(&mut self, now: SimTime, app: AppId, sid: SocketId) -> Result<(), SocketError> {
        let host = self.id;
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "close", e)),
        };
        entry.app_closed = true;
        match entry.protocol {
            Protocol::Tcp => {
                let unread = entry.tcp().recv_queue()
                    + entry.layered.as_ref().map_or(0, |l| l.plain_in.len());
                if unread > 0 {
                    let lost =
                        lost_data(entry, host, sid, crate::trace::LossCause::CloseWithUnread);
                    entry.tcp_mut().abort();
                    self.trace_call(app, Some(sid), SocketCall::Close { unread });
                    if let Some(lost) = lost {
                        self.trace(lost);
                    }
                    self.poll(now, sid, Cause::Local);
                    return Ok(());
                } else if entry.layered.is_some() {
                    self.layered_close(now, app, sid);
                } else {
                    entry.tcp_mut().close();
                }
                self.trace_call(app, Some(sid), SocketCall::Close { unread });
                self.poll(now, sid, Cause::Local);
            }
            Protocol::Udp => {
                self.trace_call(app, Some(sid), SocketCall::Close { unread: 0 });
                let stack = self.stack.as_mut().expect("owned checked the stack");
                Self::remove(stack, sid);
            }
        }
        Ok(())
    }

    /// `close()` with `SO_LINGER` 0: RST at once, no TIME-WAIT.
    pub fn abort(&mut self, now: SimTime, app: AppId, sid: SocketId) -> Result<(), SocketError> {
        let host = self.id;
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "abort", e)),
        };
        entry.app_closed = true;
        let mut lost = None;
        if entry.protocol == Protocol::Tcp {
            lost = lost_data(entry, host, sid, crate::trace::LossCause::Abort);
            entry.tcp_mut().abort();
        }
        self.trace_call(app, Some(sid), SocketCall::Abort);
        if let Some(lost) = lost {
            self.trace(lost);
        }
        self.poll(now, sid, Cause::Local);
        Ok(())
    }

    /// Switches Nagle's algorithm on one socket (`TCP_NODELAY` is `false`).
    pub fn set_nagle(
        &mut self,
        app: AppId,
        sid: SocketId,
        enabled: bool,
    ) -> Result<(), SocketError> {
        let entry = self.owned(app, sid)?;
        if entry.protocol == Protocol::Tcp {
            entry.tcp_mut().set_nagle_enabled(enabled);
            // Nagle may have been holding back a segment: the next call
            // must poll, even one that changes nothing else.
            entry.polled_at = None;
        }
        Ok(())
    }

    /// Bytes received on a socket and not yet read.
    pub fn recv_queue(&mut self, app: AppId, sid: SocketId) -> Result<usize, SocketError> {
        let entry = self.owned(app, sid)?;
        Ok(match entry.protocol {
            Protocol::Tcp => entry.tcp().recv_queue(),
            Protocol::Udp => 0,
        })
    }

    /// Free space in a TCP socket's send buffer: how much a `send` would
    /// accept now (0 for UDP).
    pub fn send_room(&mut self, app: AppId, sid: SocketId) -> Result<usize, SocketError> {
        let entry = self.owned(app, sid)?;
        Ok(match entry.protocol {
            Protocol::Tcp => {
                let tcp = entry.tcp();
                tcp.send_capacity().saturating_sub(tcp.send_queue())
            }
            Protocol::Udp => 0,
        })
    }

    /// Bytes in a socket's send buffer (unsent or unacknowledged).
    pub fn send_queue(&mut self, app: AppId, sid: SocketId) -> Result<usize, SocketError> {
        let entry = self.owned(app, sid)?;
        Ok(match entry.protocol {
            Protocol::Tcp => entry.tcp().send_queue(),
            Protocol::Udp => 0,
        })
    }

    /// Connections in TIME-WAIT kept as records rather than smoltcp sockets.
    pub fn time_wait_records(&self) -> usize {
        self.stack.as_ref().map_or(0, |s| s.time_wait.len())
    }

    /// Sockets that have a smoltcp socket (and its buffers) right now:
    /// neither TIME-WAIT records nor unbacked listening sockets count.
    pub fn smoltcp_sockets(&self) -> usize {
        self.stack.as_ref().map_or(0, |s| s.sockets.iter().count())
    }

    /// Sockets this host has recycled so far (over every life).
    pub fn sockets_recycled(&self) -> u64 {
        self.recycled
    }

    /// The local address of one of the host's sockets and, once it is
    /// connected, the remote one, as `getsockname` and `getpeername` give
    /// them (`None` for a socket that no longer exists).
    pub fn socket_addrs(&self, sid: SocketId) -> Option<(SocketAddrV4, Option<SocketAddrV4>)> {
        let stack = self.stack.as_ref()?;
        let e = stack.sockets.get(&sid)?;
        let remote = e.tuple.map(|(_, a, p)| SocketAddrV4::new(a, p));
        Some((SocketAddrV4::new(self.addr, e.local_port), remote))
    }

    /// A connection's current TCP state.
    pub fn tcp_state(&self, sid: SocketId) -> Option<TcpState> {
        let stack = self.stack.as_ref()?;
        match stack.sockets.get(&sid) {
            Some(e) => Some(e.state),
            None if stack.time_wait.contains_key(&sid) => Some(TcpState::TimeWait),
            None => stack
                .listeners
                .values()
                .any(|l| l.unbacked.contains_key(&sid))
                .then_some(TcpState::Listen),
        }
    }
}

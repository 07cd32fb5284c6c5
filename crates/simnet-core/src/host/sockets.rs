//! Making sockets: ids, smoltcp sockets (recycled or new), entries, and the listening sockets behind a backlog.

use super::*;

impl Host {
    pub(super) fn new_id(&mut self) -> SocketId {
        let id = SocketId(self.next_socket);
        self.next_socket += 1;
        id
    }

    /// A closed TCP socket configured with the host's options, ready for
    /// `listen` or `connect`.
    ///
    /// When the host recycles sockets ([`HostConfig::recycle_sockets`]), it
    /// is a dead connection's socket, as smoltcp's own examples reuse theirs:
    /// `listen` and `connect` reset its connection state, and everything
    /// else is set again below. It comes from the host's own spares first,
    /// then from the process-wide pool of sockets other hosts (of this or
    /// another world) let go of, and only then is it new, on buffers carved
    /// from lazily-zeroed chunks (`host/buffers.rs`), so that no buffer is
    /// zeroed by hand and an idle connection's buffers cost no resident
    /// memory. What smoltcp's reset leaves behind cannot
    /// change what the socket sends (`tests/scale/recycle.rs` runs every
    /// scenario both ways): the duplicate-ACK bookkeeping, whose stale
    /// acknowledgment number would have to equal the new connection's by
    /// chance, one in 2^32, and a fast-retransmit flag that only re-sends
    /// the first segment, which is what a new connection sends first anyway.
    pub(super) fn new_tcp_socket(&mut self) -> OwnSet {
        let c = &self.config.tcp;
        let spare = match self.stack.as_mut() {
            Some(stack) if self.config.recycle_sockets => stack.spare.pop(),
            Some(stack) => {
                stack.spare.clear();
                None
            }
            None => None,
        };
        if spare.is_some() {
            self.recycled += 1;
        }
        let (mut set, handle) = match spare {
            Some(spare) => spare,
            // From the process-wide pool, or new on lazily-zeroed pieces:
            // an idle connection's buffers cost no resident memory.
            None if self.config.recycle_sockets => {
                PooledSet::tcp(c.rx_buffer_bytes, c.tx_buffer_bytes)
            }
            // Fresh, on buffers of its own, as a host that does not recycle
            // must have: the tests' reference for recycled sockets.
            None => {
                let rx = tcp::SocketBuffer::new(vec![0u8; c.rx_buffer_bytes]);
                let tx = tcp::SocketBuffer::new(vec![0u8; c.tx_buffer_bytes]);
                let mut set = SocketSet::new(Vec::with_capacity(1));
                let handle = set.add(tcp::Socket::new(rx, tx));
                (PooledSet::owned(set), handle)
            }
        };
        let s = set.get_mut::<tcp::Socket>(handle);
        // A recycled socket may still be in TIME-WAIT (its record took
        // over); closing it sends nothing, as it is polled no more.
        s.abort();
        s.set_nagle_enabled(c.nagle);
        s.set_ack_delay(c.ack_delay.map(smol_duration));
        // A zero keepalive would send probes without end at one instant,
        // so both are raised to the shortest interval.
        s.set_keep_alive(c.keep_alive.map(|d| smol_duration(d.as_interval())));
        s.set_timeout(c.user_timeout.map(|d| smol_duration(d.as_interval())));
        // Also a fresh congestion controller (window, slow-start threshold).
        s.set_congestion_control(match c.congestion {
            CongestionControl::None => tcp::CongestionControl::None,
            CongestionControl::Reno => tcp::CongestionControl::Reno,
            CongestionControl::Cubic => tcp::CongestionControl::Cubic,
        });
        (set, handle)
    }

    pub(super) fn insert_entry(
        &mut self,
        now: SimTime,
        sid: SocketId,
        (set, handle): OwnSet,
        protocol: Protocol,
        owner: AppId,
        local_port: u16,
    ) {
        let stack = self.stack.as_mut().expect("inserted into a crashed host");
        stack.sockets.insert(
            sid,
            Entry {
                set,
                handle,
                protocol,
                owner: Some(owner),
                app_closed: false,
                listener_port: None,
                queued_for_accept: false,
                state: TcpState::Closed,
                since: now,
                tuple: None,
                local_port,
                scheduled: None,
                polled_at: None,
                rx_notified: 0,
                eof_notified: false,
                want_write: false,
                reset: false,
                udp_notified: false,
                connect_pending: false,
                close_reason: None,
                closed_notified: false,
                read_total: 0,
                written_total: 0,
                last_ingress_reply: None,
                sack_pending: false,
                time_wait_ack: None,
                layered: None,
            },
        );
    }

    /// Arms `count` more listening sockets on `port`, unbacked (see
    /// [`Listener::unbacked`]).
    pub(super) fn arm_listener(&mut self, now: SimTime, port: u16, count: usize) {
        let Some(stack) = self.stack.as_mut() else {
            return;
        };
        if !stack.listeners.contains_key(&port) {
            return;
        }
        for _ in 0..count {
            let sid = self.new_id();
            let stack = self.stack.as_mut().expect("checked above");
            let listener = stack.listeners.get_mut(&port).expect("checked above");
            listener.unbacked.insert(sid, now);
            stack.ports.take(port);
            self.effects
                .push(Effect::Trace(self.listen_transition(sid, port, true)));
        }
    }

    /// The state change of a listening socket that opens (CLOSED -> LISTEN)
    /// or is closed by its application: what [`Host::observe`] reports for a
    /// backed one.
    pub(super) fn listen_transition(&self, sid: SocketId, port: u16, opens: bool) -> TraceEvent {
        let (from, to) = if opens {
            (TcpState::Closed, TcpState::Listen)
        } else {
            (TcpState::Listen, TcpState::Closed)
        };
        TraceEvent::TcpState {
            host: self.id,
            socket: sid,
            local: SocketAddrV4::new(self.addr, port),
            remote: None,
            from,
            to,
            reason: None,
        }
    }

    /// Gives an unbacked listening socket its smoltcp socket, in LISTEN, as
    /// it would have been had it been made when armed.
    pub(super) fn back_listener(&mut self, port: u16, sid: SocketId) {
        let stack = self.stack.as_mut().expect("backed a crashed host");
        let listener = stack.listeners.get_mut(&port).expect("a listener");
        let owner = listener.owner;
        let since = listener.unbacked.remove(&sid).expect("an unbacked socket");
        let (mut set, handle) = self.new_tcp_socket();
        set.get_mut::<tcp::Socket>(handle)
            .listen(port)
            .expect("listening on a non-zero port");
        self.insert_entry(since, sid, (set, handle), Protocol::Tcp, owner, port);
        let stack = self.stack.as_mut().expect("backed a crashed host");
        let entry = stack.sockets.get_mut(&sid).expect("just inserted");
        entry.listener_port = Some(port);
        entry.state = TcpState::Listen;
        Self::track_tuple(stack, sid);
    }
}

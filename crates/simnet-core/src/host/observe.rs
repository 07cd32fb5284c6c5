//! Watching a socket after each poll: state transitions, frames, notes to its application, TIME-WAIT records, removal.

use super::*;

impl Host {
    /// Reports a state change and the frames of the last poll step.
    pub(super) fn observe(&mut self, now: SimTime, sid: SocketId, cause: Cause) {
        let host = self.id;
        let addr = self.addr;
        let stack = self.stack.as_mut().expect("observed a crashed host");
        let Some(entry) = stack.sockets.get_mut(&sid) else {
            return;
        };
        let state = entry.current_state();
        if entry.protocol == Protocol::Tcp && state != entry.state {
            let from = entry.state;
            let reason = if state == TcpState::Closed {
                // TIME-WAIT ends by itself after smoltcp's fixed delay; a
                // socket with a user timeout can be aborted sooner (with
                // an RST), and that is a time-out, not the wait's end.
                let cut_short = from == TcpState::TimeWait
                    && cause == Cause::Local
                    && now.as_micros()
                        < entry.since.as_micros() + time_wait::TIME_WAIT.total_micros();
                if cut_short {
                    Some(CloseReason::TimedOut)
                } else {
                    closed_reason(from, cause, entry.app_closed)
                }
            } else {
                None
            };
            if reason == Some(CloseReason::Reset) {
                entry.reset = true;
            }
            if reason.is_some() {
                entry.close_reason = reason;
            }
            if reason == Some(CloseReason::Reset) {
                // Linux discards what the application had not read yet.
                if let Some(lost) =
                    lost_data(entry, host, sid, crate::trace::LossCause::ResetByPeer)
                {
                    self.effects.push(Effect::Trace(lost));
                }
                let socket = entry.tcp_mut();
                while socket.recv(|b| (b.len(), b.len())).unwrap_or(0) > 0 {}
            }
            let socket = entry.tcp();
            let local = socket
                .local_endpoint()
                .map(endpoint_v4)
                .unwrap_or(SocketAddrV4::new(addr, entry.local_port));
            let remote = socket
                .remote_endpoint()
                .map(endpoint_v4)
                .or(entry.tuple.map(|(_, a, p)| SocketAddrV4::new(a, p)));
            entry.state = state;
            entry.since = now;
            self.effects.push(Effect::Trace(TraceEvent::TcpState {
                host,
                socket: sid,
                local,
                remote,
                from,
                to: state,
                reason,
            }));
            Self::track_tuple(stack, sid);
        }
        if stack.device.tx.is_empty() {
            return;
        }
        let Some(entry) = stack.sockets.get_mut(&sid) else {
            return;
        };
        let tcp = entry.protocol == Protocol::Tcp;
        let state = tcp.then_some(entry.state);
        // What a TIME-WAIT record would need to know about these frames.
        let ingress = matches!(cause, Cause::Ingress { .. });
        let time_wait_ack =
            tcp && entry.state == TcpState::TimeWait && entry.tcp().recv_queue() == 0;
        for bytes in stack.device.tx.drain(..) {
            if tcp {
                if ingress {
                    entry.last_ingress_reply = Some(now);
                    if let Some(sack) = time_wait::ack_has_sack(&bytes) {
                        entry.sack_pending = sack;
                    }
                }
                entry.time_wait_ack = time_wait_ack.then(|| bytes.clone());
            }
            self.effects.push(Effect::Frame {
                bytes,
                socket: Some(sid),
                state,
            });
        }
    }

    /// Keeps the demultiplexing tables in step with a socket's 4-tuple, and
    /// a listener's set of free sockets in step with their states.
    pub(super) fn track_tuple(stack: &mut Stack, sid: SocketId) {
        let entry = stack.sockets.get_mut(&sid).expect("tracked unknown socket");
        if let Some(port) = entry.listener_port
            && let Some(listener) = stack.listeners.get_mut(&port)
        {
            if entry.state == TcpState::Listen {
                listener.free.insert(sid);
            } else {
                listener.free.remove(&sid);
            }
        }
        let now_tuple = if entry.protocol == Protocol::Tcp && entry.state != TcpState::Closed {
            let socket = entry.tcp();
            match (socket.local_endpoint(), socket.remote_endpoint()) {
                (Some(l), Some(r)) => {
                    let r = endpoint_v4(r);
                    Some((l.port, *r.ip(), r.port()))
                }
                _ => None,
            }
        } else {
            None
        };
        if now_tuple == entry.tuple {
            return;
        }
        if let Some(old) = entry.tuple.take().as_ref().map(conn_key)
            && stack.tcp_conns.get(&old) == Some(&sid)
        {
            stack.tcp_conns.remove(&old);
        }
        if let Some(new) = &now_tuple {
            stack.tcp_conns.insert(conn_key(new), sid);
        }
        entry.tuple = now_tuple;
    }

    /// After a poll: tells applications what changed, reaps dead sockets,
    /// and hands the next deadline to the scheduler.
    pub(super) fn settle(&mut self, now: SimTime, sid: SocketId) {
        self.settle_knowing(now, sid, None);
    }

    /// [`Host::settle`], given smoltcp's `poll_at` for the socket when the
    /// poll just learned it (`Some`) and nothing has touched the socket since.
    pub(super) fn settle_knowing(
        &mut self,
        now: SimTime,
        sid: SocketId,
        known: Option<Option<smoltcp::time::Instant>>,
    ) {
        let stack = self.stack.as_mut().expect("settled a crashed host");
        let Some(entry) = stack.sockets.get_mut(&sid) else {
            return;
        };
        // A reused list: settling happens after every poll.
        let mut notes = std::mem::take(&mut self.notes);
        let mut rearm: Option<u16> = None;
        match entry.protocol {
            Protocol::Udp => {
                if let Some(owner) = entry.owner.filter(|_| !entry.app_closed) {
                    let can = entry.udp_mut().can_recv();
                    if can && !entry.udp_notified {
                        entry.udp_notified = true;
                        notes.push((owner, SocketEvent::Readable(sid)));
                    }
                }
            }
            Protocol::Tcp => {
                // A layer's bytes wait for room in TCP's send buffer, and a
                // close for them (see `host/layered.rs`).
                if let Some(mut l) = entry.layered.take() {
                    super::layered::push_wire(entry, &mut l);
                    entry.layered = Some(l);
                }
                if let Some(port) = entry.listener_port {
                    // Not yet accepted: belongs to the listener.
                    match entry.state {
                        TcpState::Listen | TcpState::SynReceived => {}
                        TcpState::Closed => {
                            // A half-open connection died before accept; its
                            // slot goes back to the listener.
                            entry.app_closed = true;
                            rearm = Some(port);
                        }
                        _ => {
                            if !entry.queued_for_accept
                                && let Some(listener) = stack.listeners.get_mut(&port)
                            {
                                entry.queued_for_accept = true;
                                listener.accept_queue.push_back(sid);
                                notes.push((listener.owner, SocketEvent::Incoming { port }));
                            }
                        }
                    }
                } else if let Some(owner) = entry.owner.filter(|_| !entry.app_closed) {
                    if entry.connect_pending {
                        match entry.state {
                            // Still in the handshake. A simultaneous open
                            // passes through SYN-RECEIVED (crossing SYNs):
                            // `send()` there would fail, so the application
                            // hears of the connection only once it is
                            // established.
                            TcpState::SynSent | TcpState::SynReceived => {}
                            TcpState::Closed => {
                                entry.connect_pending = false;
                                entry.closed_notified = true;
                                let reason = entry.close_reason.unwrap_or(CloseReason::TimedOut);
                                notes.push((owner, SocketEvent::ConnectFailed(sid, reason)));
                            }
                            _ => {
                                entry.connect_pending = false;
                                notes.push((owner, SocketEvent::Connected(sid)));
                            }
                        }
                    }
                    let socket = entry.tcp();
                    let recv_queue = socket.recv_queue();
                    let room = socket.send_capacity() > socket.send_queue();
                    if recv_queue > entry.rx_notified {
                        entry.rx_notified = recv_queue;
                        notes.push((owner, SocketEvent::Readable(sid)));
                    } else if recv_queue < entry.rx_notified {
                        entry.rx_notified = recv_queue;
                    }
                    if entry.state.peer_finished() && !entry.eof_notified && recv_queue == 0 {
                        entry.eof_notified = true;
                        notes.push((owner, SocketEvent::Readable(sid)));
                    }
                    if entry.want_write && room && entry.state != TcpState::Closed {
                        entry.want_write = false;
                        notes.push((owner, SocketEvent::Writable(sid)));
                    }
                    if entry.state == TcpState::Closed
                        && !entry.closed_notified
                        && let Some(reason) = entry.close_reason
                    {
                        entry.closed_notified = true;
                        notes.push((owner, SocketEvent::Closed(sid, reason)));
                    }
                }
            }
        }
        // Data for a socket its application has closed cannot be delivered:
        // Linux resets the connection (and counts TCPAbortOnData); so does simnet.
        let orphan_data = entry.protocol == Protocol::Tcp
            && entry.app_closed
            && entry.listener_port.is_none()
            && matches!(entry.state, TcpState::FinWait1 | TcpState::FinWait2)
            && entry.tcp().recv_queue() > 0;
        if orphan_data {
            let lost = lost_data(entry, self.id, sid, crate::trace::LossCause::DataAfterClose);
            entry.tcp_mut().abort();
            if let Some(lost) = lost {
                self.effects.push(Effect::Trace(lost));
            }
            self.notify(notes);
            self.poll(now, sid, Cause::Local);
            return;
        }
        let dead = entry.state == TcpState::Closed
            && entry.protocol == Protocol::Tcp
            && (entry.app_closed || entry.owner.is_none());
        if dead {
            Self::remove(stack, sid);
        } else {
            let poll_at =
                known.unwrap_or_else(|| stack.iface.poll_at(smol_instant(now), &entry.set));
            if let Some(at) = poll_at {
                let at = deadline_after(now, from_smol(at));
                if entry.scheduled.is_none_or(|s| at < s) {
                    entry.scheduled = Some(at);
                    self.effects.push(Effect::Deadline(sid, at));
                }
            }
            if let Some(record) = time_wait_record(entry, poll_at, now, &self.config) {
                // The socket and its buffers go; the record takes over its
                // 4-tuple, its port and its pending deadline.
                let entry = stack.sockets.remove(&sid).expect("found above");
                stack.recycle(entry);
                stack.time_wait.insert(sid, record);
            }
        }
        if let Some(port) = rearm {
            self.arm_listener(now, port, 1);
        }
        self.notify(notes);
    }

    /// Hands `notes` to the applications, in order, and keeps the list.
    pub(super) fn notify(&mut self, mut notes: Vec<(AppId, SocketEvent)>) {
        self.effects
            .extend(notes.drain(..).map(|(app, ev)| Effect::Notify(app, ev)));
        self.notes = notes;
    }

    pub(super) fn remove(stack: &mut Stack, sid: SocketId) {
        let Some(entry) = stack.sockets.remove(&sid) else {
            return;
        };
        if let Some(t) = entry.tuple.as_ref().map(conn_key)
            && stack.tcp_conns.get(&t) == Some(&sid)
        {
            stack.tcp_conns.remove(&t);
        }
        match entry.protocol {
            Protocol::Tcp => {
                if let Some(port) = entry.listener_port
                    && let Some(l) = stack.listeners.get_mut(&port)
                {
                    l.free.remove(&sid);
                    l.accept_queue.retain(|s| *s != sid);
                }
                stack.ports.release(entry.local_port);
                stack.ports.unhold(sid);
                stack.recycle(entry);
            }
            Protocol::Udp => {
                if stack.udp_ports.get(&entry.local_port) == Some(&sid) {
                    stack.udp_ports.remove(&entry.local_port);
                }
            }
        }
    }
}

/// When to poll a socket that asks for `at`: smoltcp counts microseconds and
/// says "now" as time zero; a deadline that is not in the future means "as
/// soon as possible", which is the next microsecond, so time always moves.
pub(super) fn deadline_after(now: SimTime, at: SimTime) -> SimTime {
    if at <= now {
        SimTime::from_micros(now.as_micros() + 1)
    } else {
        at
    }
}

/// The TIME-WAIT record a socket can become right now, if it can become one
/// without any difference in what it sends or when.
///
/// It must be a TIME-WAIT socket its application has closed, with empty
/// buffers, whose last segment (sent in TIME-WAIT, with its receive buffer
/// empty) was a plain ACK, and whose only timer left is TIME-WAIT's own.
/// Two smoltcp states the record cannot see are ruled out from what the
/// socket sent: a challenge-ACK rate limit still running (the socket
/// answered a segment less than a second ago) and out-of-order data it
/// would report in SACK blocks. A user timeout can end TIME-WAIT early with
/// an RST, which the record does not model, so sockets with one stay real.
fn time_wait_record(
    entry: &Entry,
    poll_at: Option<smoltcp::time::Instant>,
    now: SimTime,
    config: &HostConfig,
) -> Option<TimeWait> {
    let eligible = config.time_wait_minisockets
        && entry.protocol == Protocol::Tcp
        && entry.state == TcpState::TimeWait
        && entry.app_closed
        && entry.listener_port.is_none()
        && config.tcp.user_timeout.is_none()
        && !entry.sack_pending
        && entry.layered.as_ref().is_none_or(|l| l.wire_out.is_empty());
    if !eligible {
        return None;
    }
    let smol_now = smol_instant(now);
    if entry
        .last_ingress_reply
        .is_some_and(|t| smol_now < smol_instant(t) + smoltcp::time::Duration::from_secs(1))
    {
        return None;
    }
    let last_ack = entry.time_wait_ack.as_deref()?;
    let poll_at = poll_at.filter(|at| *at > smol_now)?;
    let socket = entry.tcp();
    if socket.recv_queue() > 0 || socket.send_queue() > 0 {
        return None;
    }
    TimeWait::adopt(&time_wait::Observed {
        last_ack,
        rx_capacity: socket.recv_capacity(),
        poll_at,
        since: entry.since,
        scheduled: entry.scheduled,
    })
}

/// The data a connection loses when it ends now: what was received and not
/// read, and what was written and not acknowledged, with stream offsets.
pub(super) fn lost_data(
    entry: &Entry,
    host: HostId,
    sid: SocketId,
    cause: crate::trace::LossCause,
) -> Option<TraceEvent> {
    let socket = entry.tcp();
    let unread = socket.recv_queue() as u64;
    let unacked = socket.send_queue() as u64;
    if unread == 0 && unacked == 0 {
        return None;
    }
    Some(TraceEvent::DataLost {
        host,
        socket: sid,
        cause,
        unread: (unread > 0).then_some((entry.read_total, unread)),
        unacked: (unacked > 0).then(|| (entry.written_total - unacked, unacked)),
    })
}

/// Explains a transition to CLOSED: `None` for the normal ends of a
/// connection, otherwise why it was cut short.
fn closed_reason(from: TcpState, cause: Cause, app_closed: bool) -> Option<CloseReason> {
    match (from, cause) {
        (_, Cause::Ingress { rst: true }) => Some(CloseReason::Reset),
        (TcpState::TimeWait | TcpState::LastAck | TcpState::Listen, _) => None,
        (_, _) if app_closed => None,
        (TcpState::Closing, Cause::Ingress { .. }) => None,
        _ => Some(CloseReason::TimedOut),
    }
}

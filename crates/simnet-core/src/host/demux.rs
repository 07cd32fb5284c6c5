//! Frames in, timers, and polling one socket: the host's demultiplexer.

use super::observe::deadline_after;
use super::*;

impl Host {
    /// Takes in a frame that arrived over a link.
    pub fn receive(
        &mut self,
        now: SimTime,
        frame: crate::packet::FrameId,
        bytes: &Arc<[u8]>,
        corrupted: bool,
    ) {
        let Some(stack) = self.stack.as_mut() else {
            self.trace(TraceEvent::FrameDiscarded {
                frame,
                host: self.id,
                reason: DiscardReason::HostDown,
            });
            return;
        };
        // smoltcp verifies checksums too; checking here first makes the
        // discard visible in the trace instead of a silent drop. Only a
        // corrupted frame can fail, so intact frames skip the extra work.
        if corrupted && let Err(reason) = wire::verify(bytes) {
            self.trace(TraceEvent::FrameDiscarded {
                frame,
                host: self.id,
                reason,
            });
            return;
        }
        let mut back = None;
        let mut overflow = false;
        let target = match wire::demux(bytes) {
            wire::Demux::Tcp(key) => {
                let tuple = (key.local_port, key.remote, key.remote_port);
                match stack.tcp_conns.get(&conn_key(&tuple)) {
                    Some(sid) => Some((*sid, key.rst)),
                    None if key.bare_syn => {
                        // The oldest listening socket takes the SYN.
                        let port = key.local_port;
                        let listener = stack.listeners.get(&port);
                        let free = listener.and_then(|l| l.free.first().copied());
                        let unbacked = listener.and_then(|l| l.unbacked.keys().next().copied());
                        let oldest = free.into_iter().chain(unbacked).min();
                        if oldest.is_some() && oldest == unbacked {
                            back = oldest.map(|sid| (port, sid));
                        }
                        // A listening port with every place taken: the
                        // backlog overflows.
                        overflow = oldest.is_none() && listener.is_some();
                        oldest.map(|sid| (sid, false))
                    }
                    None => None,
                }
            }
            wire::Demux::Udp { local_port } => {
                stack.udp_ports.get(&local_port).map(|s| (*s, false))
            }
            wire::Demux::Other => None,
        };
        if overflow && self.config.backlog_overflow == BacklogOverflow::Drop {
            self.trace(TraceEvent::FrameDiscarded {
                frame,
                host: self.id,
                reason: DiscardReason::BacklogFull,
            });
            return;
        }
        if let Some((port, sid)) = back {
            self.back_listener(port, sid);
        }
        let stack = self.stack.as_mut().expect("checked above");
        if let Some((sid, _)) = target
            && stack.time_wait.contains_key(&sid)
        {
            self.poll_time_wait(now, sid, Some(bytes));
            return;
        }
        stack.device.rx = Some(bytes.clone());
        match target {
            Some((sid, rst)) => self.poll(now, sid, Cause::Ingress { rst }),
            None => {
                let smol_now = smol_instant(now);
                stack
                    .iface
                    .poll(smol_now, &mut stack.device, &mut stack.unclaimed);
                stack.device.rx = None;
                for bytes in stack.device.tx.drain(..) {
                    self.effects.push(Effect::Frame {
                        bytes,
                        socket: None,
                        state: None,
                    });
                }
            }
        }
    }

    /// A socket's deadline came: poll it if the deadline is still current.
    pub fn on_deadline(&mut self, now: SimTime, sid: SocketId) {
        let Some(stack) = self.stack.as_mut() else {
            return;
        };
        if let Some(entry) = stack.sockets.get_mut(&sid) {
            if entry.scheduled != Some(now) {
                return; // superseded by an earlier deadline that already ran
            }
            entry.scheduled = None;
            // A deadline smoltcp has since moved (a retransmission timer
            // stopped by the ACK, a delayed ACK that rode on data): the
            // queue cannot take it back, so it comes. If smoltcp now wants
            // nothing before a later time, polling would send nothing and
            // change nothing; only the next deadline is handed over.
            if quiet(entry)
                && let Some(at) = next_poll(&mut stack.iface, entry, now)
            {
                entry.polled_at = Some(now);
                if let Some(at) = at {
                    entry.scheduled = Some(at);
                    self.effects.push(Effect::Deadline(sid, at));
                }
                return;
            }
            self.poll(now, sid, Cause::Local);
        } else if let Some(record) = stack.time_wait.get_mut(&sid) {
            if record.scheduled != Some(now) {
                return;
            }
            record.scheduled = None;
            self.poll_time_wait(now, sid, None);
        }
    }

    /// Polls a TIME-WAIT record as [`Host::poll`] polls a socket: first the
    /// incoming frame (if any), then the timer, then the next deadline.
    /// Every step mirrors what the smoltcp socket would have done, so the
    /// trace and the event queue are the same as with the socket.
    pub(super) fn poll_time_wait(&mut self, now: SimTime, sid: SocketId, frame: Option<&[u8]>) {
        let smol_now = smol_instant(now);
        let stack = self.stack.as_mut().expect("polled a crashed host");
        let Some(record) = stack.time_wait.get_mut(&sid) else {
            return;
        };
        // `Some(reason)` once the connection is gone.
        let mut closed = None;
        if let Some(frame) = frame {
            match record.segment(smol_now, frame) {
                time_wait::Verdict::Ignore => {}
                time_wait::Verdict::Reply(bytes) => self.effects.push(Effect::Frame {
                    bytes,
                    socket: Some(sid),
                    state: Some(TcpState::TimeWait),
                }),
                time_wait::Verdict::Reset => closed = Some(Some(CloseReason::Reset)),
            }
        }
        if closed.is_none() && record.expired(smol_now) {
            closed = Some(None);
        }
        let Some(reason) = closed else {
            let at = deadline_after(now, from_smol(record.expires_at));
            if record.scheduled.is_none_or(|s| at < s) {
                record.scheduled = Some(at);
                self.effects.push(Effect::Deadline(sid, at));
            }
            return;
        };
        let record = stack.time_wait.remove(&sid).expect("found above");
        let (local_port, remote_addr, remote_port) = record.tuple;
        self.effects.push(Effect::Trace(TraceEvent::TcpState {
            host: self.id,
            socket: sid,
            local: SocketAddrV4::new(self.addr, local_port),
            remote: Some(SocketAddrV4::new(remote_addr, remote_port)),
            from: TcpState::TimeWait,
            to: TcpState::Closed,
            reason,
        }));
        let key = conn_key(&record.tuple);
        if stack.tcp_conns.get(&key) == Some(&sid) {
            stack.tcp_conns.remove(&key);
        }
        stack.ports.release(local_port);
        stack.ports.unhold(sid);
    }

    /// Polls one socket: feeds it the pending frame (if any), lets it send,
    /// then reports what changed.
    pub(super) fn poll(&mut self, now: SimTime, sid: SocketId, cause: Cause) {
        self.poll_as(now, sid, cause, matches!(cause, Cause::Ingress { .. }));
    }

    /// The poll after an application read: reading opens the receive
    /// window, and smoltcp may want to say so.
    pub(super) fn poll_after_read(&mut self, now: SimTime, sid: SocketId) {
        self.poll_as(now, sid, Cause::Local, true);
    }

    /// [`Host::poll`]. With `look_first` (after a frame came in or the
    /// application read, when smoltcp usually has nothing to send), a
    /// socket in a steady state asks smoltcp's `poll_at` before egress:
    /// a later time means egress would send nothing and change nothing
    /// (`poll_at` mirrors the start of `dispatch`), so it is skipped and
    /// `settle` takes the deadline from here.
    fn poll_as(&mut self, now: SimTime, sid: SocketId, cause: Cause, look_first: bool) {
        let smol_now = smol_instant(now);
        if let Cause::Ingress { .. } = cause {
            let stack = self.stack.as_mut().expect("polled a crashed host");
            let entry = stack
                .sockets
                .get_mut(&sid)
                .expect("polled an unknown socket");
            stack
                .iface
                .poll_ingress_single(smol_now, &mut stack.device, &mut entry.set);
            stack.device.rx = None;
            self.observe(now, sid, cause);
        }
        let known = {
            let stack = self.stack.as_mut().expect("polled a crashed host");
            let Some(entry) = stack.sockets.get_mut(&sid) else {
                return;
            };
            let mut known = None;
            if look_first && steady(entry) {
                known = nothing_to_send(&mut stack.iface, &mut stack.device, entry, smol_now);
            }
            // Egress is bounded by smoltcp (one segment per socket per call);
            // loop until it has nothing more to send.
            if known.is_none() {
                for _ in 0..100_000 {
                    if stack
                        .iface
                        .poll_egress(smol_now, &mut stack.device, &mut entry.set)
                        == smoltcp::iface::PollResult::None
                    {
                        break;
                    }
                    // A segment went out: ask `poll_at` rather than call egress
                    // once more to find nothing (when it is a steady socket).
                    if steady(entry) {
                        known =
                            nothing_to_send(&mut stack.iface, &mut stack.device, entry, smol_now);
                        if known.is_some() {
                            break;
                        }
                    }
                }
            }
            entry.polled_at = Some(now);
            known
        };
        self.observe(now, sid, Cause::Local);
        self.settle_knowing(now, sid, known);
    }
}

/// `Some(poll_at)` if smoltcp's `poll_at` for a [`steady`] socket names a
/// time after `now` (or none): then an egress call would send nothing and
/// change nothing, since `poll_at` mirrors the start of `dispatch` (smoltcp
/// 0.14, where `pre_transmit` is a no-op for every congestion controller).
/// `None` if something is due now. Every debug build (the test suite)
/// checks the claim: it calls egress anyway and asserts nothing went out.
fn nothing_to_send(
    iface: &mut Interface,
    device: &mut super::device::SimDevice,
    entry: &mut Entry,
    now: smoltcp::time::Instant,
) -> Option<Option<smoltcp::time::Instant>> {
    let at = iface.poll_at(now, &entry.set);
    if at.is_some_and(|at| at <= now) {
        return None;
    }
    debug_assert_eq!(
        iface.poll_egress(now, device, &mut entry.set),
        smoltcp::iface::PollResult::None,
        "smoltcp's poll_at said {at:?}, after {now}, yet egress sent"
    );
    Some(at)
}

/// A socket in a state whose deadline poll can be skipped when smoltcp has
/// nothing due: a plain TCP connection in a steady state. (TIME-WAIT may
/// become a record and CLOSED may be reaped at a poll; the handshake and
/// closing states, listeners and layered sockets always poll.)
fn quiet(entry: &Entry) -> bool {
    entry.protocol == Protocol::Tcp
        && matches!(
            entry.state,
            TcpState::Established | TcpState::CloseWait | TcpState::FinWait2
        )
        && entry.listener_port.is_none()
        && entry.layered.is_none()
}

/// A plain TCP connection in a steady state whose state the host has seen
/// already: nothing [`Host::observe`] or [`Host::settle`] does to it touches
/// the smoltcp socket, so smoltcp's `poll_at` right after an egress is the
/// one `settle` would ask for.
fn steady(entry: &Entry) -> bool {
    quiet(entry) && entry.current_state() == entry.state
}

/// `Some(next)` if smoltcp wants nothing from the socket at `now`: `next` is
/// when it next wants a poll (`None`: not until a frame comes). `None` if
/// it has something due now.
fn next_poll(iface: &mut Interface, entry: &Entry, now: SimTime) -> Option<Option<SimTime>> {
    match iface.poll_at(smol_instant(now), &entry.set) {
        None => Some(None),
        Some(at) => {
            let at = from_smol(at);
            (at > now).then_some(Some(at))
        }
    }
}

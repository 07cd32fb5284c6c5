//! The UDP socket API: bind, send_to, recv_from.

use super::*;

impl Host {
    /// Binds a UDP socket to `port` (0 picks an ephemeral port).
    pub fn udp_bind(
        &mut self,
        now: SimTime,
        app: AppId,
        port: u16,
    ) -> Result<SocketId, SocketError> {
        let Some(stack) = self.stack.as_ref() else {
            return Err(SocketError::HostDown);
        };
        let port = if port == 0 {
            let (lo, hi) = self.config.ephemeral_ports;
            match (lo..=hi).find(|p| !stack.udp_ports.contains_key(p)) {
                Some(p) => p,
                None => {
                    let span = u32::from(hi.saturating_sub(lo)) + 1;
                    return Err(self.fail(app, None, "bind", SocketError::PortsExhausted(span)));
                }
            }
        } else if stack.udp_ports.contains_key(&port) {
            return Err(self.fail(app, None, "bind", SocketError::PortInUse(port)));
        } else {
            port
        };
        let c = &self.config.udp;
        let meta = || vec![udp::PacketMetadata::EMPTY; c.queue_datagrams];
        let rx = udp::PacketBuffer::new(meta(), vec![0u8; c.buffer_bytes]);
        let tx = udp::PacketBuffer::new(meta(), vec![0u8; c.buffer_bytes]);
        let mut socket = udp::Socket::new(rx, tx);
        if socket.bind(IpListenEndpoint::from(port)).is_err() {
            return Err(self.fail(app, None, "bind", SocketError::InvalidAddress));
        }
        let sid = self.new_id();
        let mut set = SocketSet::new(Vec::with_capacity(1));
        let handle = set.add(socket);
        self.insert_entry(
            now,
            sid,
            (PooledSet::owned(set), handle),
            Protocol::Udp,
            app,
            port,
        );
        self.stack
            .as_mut()
            .expect("checked above")
            .udp_ports
            .insert(port, sid);
        self.trace_call(app, Some(sid), SocketCall::Bind { port });
        Ok(sid)
    }

    /// `sendto(dst, data)` on a UDP socket.
    pub fn send_to(
        &mut self,
        now: SimTime,
        app: AppId,
        sid: SocketId,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<(), SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "sendto", e)),
        };
        if entry.protocol != Protocol::Udp {
            return Err(self.fail(app, Some(sid), "sendto", SocketError::BadSocket));
        }
        let ep = IpEndpoint::new(IpAddress::Ipv4(*dst.ip()), dst.port());
        if entry.udp_mut().send_slice(data, ep).is_err() {
            return Err(self.fail(app, Some(sid), "sendto", SocketError::MessageTooLarge));
        }
        self.trace_call(
            app,
            Some(sid),
            SocketCall::SendTo {
                dst,
                bytes: data.len(),
                preview: Preview::of(data),
            },
        );
        self.poll(now, sid, Cause::Local);
        Ok(())
    }

    /// `recvfrom()` on a UDP socket: one datagram, or `None`.
    pub fn recv_from(
        &mut self,
        app: AppId,
        sid: SocketId,
    ) -> Result<Option<(SocketAddrV4, Vec<u8>)>, SocketError> {
        let entry = match self.owned(app, sid) {
            Ok(e) => e,
            Err(e) => return Err(self.fail(app, Some(sid), "recvfrom", e)),
        };
        if entry.protocol != Protocol::Udp {
            return Err(self.fail(app, Some(sid), "recvfrom", SocketError::BadSocket));
        }
        match entry.udp_mut().recv() {
            Ok((data, meta)) => {
                let src = endpoint_v4(meta.endpoint);
                let data = data.to_vec();
                self.trace_call(
                    app,
                    Some(sid),
                    SocketCall::RecvFrom {
                        src,
                        bytes: data.len(),
                        preview: Preview::of(&data),
                    },
                );
                Ok(Some((src, data)))
            }
            Err(_) => {
                entry.udp_notified = false;
                Ok(None)
            }
        }
    }
}

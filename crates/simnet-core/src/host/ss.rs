//! The socket table, like `ss -tuan`.

use super::*;

impl Host {
    /// The socket table, like `ss -tuan`.
    pub fn socket_table(&self) -> Vec<SocketRow> {
        let Some(stack) = self.stack.as_ref() else {
            return Vec::new();
        };
        let mut rows: Vec<SocketRow> = stack
            .sockets
            .iter()
            .map(|(sid, e)| {
                let (state, recv_queue, send_queue, local, remote) = match e.protocol {
                    Protocol::Tcp => {
                        let s = e.tcp();
                        (
                            Some(e.state),
                            s.recv_queue(),
                            s.send_queue(),
                            s.local_endpoint()
                                .map(endpoint_v4)
                                .unwrap_or(SocketAddrV4::new(self.addr, e.local_port)),
                            e.tuple.map(|(_, a, p)| SocketAddrV4::new(a, p)),
                        )
                    }
                    Protocol::Udp => (None, 0, 0, SocketAddrV4::new(self.addr, e.local_port), None),
                };
                SocketRow {
                    id: sid,
                    protocol: e.protocol,
                    state,
                    local,
                    remote,
                    recv_queue,
                    send_queue,
                    owner: if e.app_closed { None } else { e.owner },
                    since: e.since,
                }
            })
            .collect();
        let unbacked = stack.listeners.iter().flat_map(|(port, l)| {
            l.unbacked.iter().map(|(sid, since)| SocketRow {
                id: *sid,
                protocol: Protocol::Tcp,
                state: Some(TcpState::Listen),
                local: SocketAddrV4::new(self.addr, *port),
                remote: None,
                recv_queue: 0,
                send_queue: 0,
                owner: Some(l.owner),
                since: *since,
            })
        });
        rows.extend(unbacked);
        rows.extend(stack.time_wait.iter().map(|(sid, tw)| {
            let (local_port, remote_addr, remote_port) = tw.tuple;
            SocketRow {
                id: *sid,
                protocol: Protocol::Tcp,
                state: Some(TcpState::TimeWait),
                local: SocketAddrV4::new(self.addr, local_port),
                remote: Some(SocketAddrV4::new(remote_addr, remote_port)),
                recv_queue: 0,
                send_queue: 0,
                owner: None,
                since: tw.since,
            }
        }));
        // The live sockets came in id order; the rest join them.
        rows.sort_by_key(|r| r.id);
        rows
    }
}

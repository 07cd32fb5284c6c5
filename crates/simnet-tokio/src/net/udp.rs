//! UDP: [`UdpSocket`], shaped like tokio's.

use super::addr::{ToSimAddr, bind_port};
use crate::io::{self, Bound, Io, Op, Udp, register};
use std::future::poll_fn;
use std::io::{Error, ErrorKind, Result};
use std::net::SocketAddr;
use std::task::Poll;

/// A UDP socket on the simulated host, like [`tokio::net::UdpSocket`].
/// Dropping it closes the socket.
pub struct UdpSocket {
    io: Io,
    id: u64,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Binds the port of `addr` (`"0.0.0.0:53"`; port 0 picks an
    /// ephemeral one).
    pub async fn bind<A: ToSimAddr>(addr: A) -> Result<UdpSocket> {
        let io = io::current()?;
        let port = bind_port(&addr.to_target()?);
        let id = {
            let mut h = io.lock();
            let id = h.id();
            h.udps.insert(
                id,
                Udp {
                    sid: None,
                    local: None,
                    bound: Bound::Pending,
                    queue: Default::default(),
                    waker: None,
                },
            );
            h.ops.push_back(Op::UdpBind { id, port });
            id
        };
        let socket = UdpSocket { io, id };
        poll_fn(|cx| {
            let mut h = socket.io.lock();
            let Some(u) = h.udps.get_mut(&id) else {
                return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
            };
            match &u.bound {
                Bound::Pending => {
                    register(&mut u.waker, cx.waker());
                    Poll::Pending
                }
                Bound::Ok => Poll::Ready(Ok(())),
                Bound::Failed(kind, msg) => Poll::Ready(Err(Error::new(*kind, msg.clone()))),
            }
        })
        .await?;
        Ok(socket)
    }

    /// Sends one datagram to `target` (an address, or `"host:port"` by
    /// scenario host name; a datagram to an unknown name is lost, as one to
    /// an unreachable address is). Returns the bytes sent.
    pub async fn send_to<A: ToSimAddr>(&self, buf: &[u8], target: A) -> Result<usize> {
        let dst = target.to_target()?;
        let mut h = self.io.lock();
        h.ops.push_back(Op::UdpSend {
            id: self.id,
            dst,
            data: buf.to_vec(),
        });
        Ok(buf.len())
    }

    /// Waits for a datagram; copies what fits of it into `buf` (the rest is
    /// discarded, as UDP does) and returns its length and sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            let mut h = self.io.lock();
            let Some(u) = h.udps.get_mut(&self.id) else {
                return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
            };
            match u.queue.pop_front() {
                Some((src, data)) => {
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    Poll::Ready(Ok((n, SocketAddr::V4(src))))
                }
                None => {
                    register(&mut u.waker, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        let h = self.io.lock();
        h.udps
            .get(&self.id)
            .and_then(|u| u.local)
            .map(SocketAddr::V4)
            .ok_or_else(|| Error::from(ErrorKind::NotConnected))
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.io.lock().ops.push_back(Op::UdpClose { id: self.id });
    }
}

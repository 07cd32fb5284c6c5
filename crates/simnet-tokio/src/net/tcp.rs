//! TCP: [`TcpListener`] and [`TcpStream`], shaped like tokio's.

use super::addr::{ToSimAddr, bind_port};
use crate::io::{self, Bound, Io, Listener, Op, Phase, Stream, WRITE_BUFFER, register};
use std::future::poll_fn;
use std::io::{Error, ErrorKind, Result};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A listening TCP port on the simulated host, like
/// [`tokio::net::TcpListener`]. Dropping it stops listening.
pub struct TcpListener {
    io: Io,
    id: u64,
    port: u16,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("port", &self.port)
            .finish()
    }
}

impl TcpListener {
    /// Listens on the port of `addr` (`"0.0.0.0:80"`, the host's own
    /// address, or `("server", 80)`): the host listens on all its addresses,
    /// since it has one. Port 0 is refused: simnet listens on named ports.
    pub async fn bind<A: ToSimAddr>(addr: A) -> Result<TcpListener> {
        let io = io::current()?;
        let port = bind_port(&addr.to_target()?);
        if port == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "simnet-tokio listens on a named port, not port 0",
            ));
        }
        let id = {
            let mut h = io.lock();
            let id = h.id();
            h.listeners.insert(
                id,
                Listener {
                    port,
                    bound: Bound::Pending,
                    ready: Default::default(),
                    waker: None,
                },
            );
            h.ops.push_back(Op::Listen { id, port });
            id
        };
        let listener = TcpListener { io, id, port };
        poll_fn(|cx| {
            let mut h = listener.io.lock();
            let Some(l) = h.listeners.get_mut(&listener.id) else {
                return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
            };
            match &l.bound {
                Bound::Pending => {
                    register(&mut l.waker, cx.waker());
                    Poll::Pending
                }
                Bound::Ok => Poll::Ready(Ok(())),
                Bound::Failed(kind, msg) => Poll::Ready(Err(Error::new(*kind, msg.clone()))),
            }
        })
        .await?;
        Ok(listener)
    }

    /// Waits for the next connection.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<(TcpStream, SocketAddr)>> {
        let mut h = self.io.lock();
        let Some(l) = h.listeners.get_mut(&self.id) else {
            return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
        };
        let Some(id) = l.ready.pop_front() else {
            register(&mut l.waker, cx.waker());
            return Poll::Pending;
        };
        let peer = h
            .streams
            .get(&id)
            .and_then(|s| s.peer)
            .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), SocketAddr::V4);
        drop(h);
        Poll::Ready(Ok((TcpStream::from_id(self.io.clone(), id), peer)))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        let addr = self.io.lock().addr;
        Ok(SocketAddr::from((addr, self.port)))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.io.lock().ops.push_back(Op::Unlisten { id: self.id });
    }
}

/// The stream's place in the host's state; the last handle dropped
/// closes the connection.
struct Handle {
    io: Io,
    id: u64,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut h = self.io.lock();
        if let Some(s) = h.streams.get_mut(&self.id) {
            s.dropped = true;
            h.ops.push_back(Op::Close { id: self.id });
        }
    }
}

impl Handle {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<Result<()>> {
        let mut h = self.io.lock();
        let Some(s) = h.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
        };
        if !s.rbuf.is_empty() {
            let n = buf.remaining().min(s.rbuf.len());
            let (a, b) = s.rbuf.as_slices();
            let from_a = n.min(a.len());
            buf.put_slice(&a[..from_a]);
            buf.put_slice(&b[..n - from_a]);
            s.rbuf.drain(..n);
            h.queue_fill(self.id);
            return Poll::Ready(Ok(()));
        }
        if s.eof {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        register(&mut s.read_waker, cx.waker());
        Poll::Pending
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize>> {
        let mut h = self.io.lock();
        let Some(s) = h.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
        };
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        if s.write_shut {
            return Poll::Ready(Err(Error::new(
                ErrorKind::BrokenPipe,
                "the writing side was shut down",
            )));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = WRITE_BUFFER.saturating_sub(s.wbuf.len());
        if s.phase == Phase::Connecting || room == 0 {
            register(&mut s.write_waker, cx.waker());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        s.wbuf.extend(&data[..n]);
        h.queue_flush(self.id);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut h = self.io.lock();
        let Some(s) = h.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
        };
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        if s.wbuf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        register(&mut s.write_waker, cx.waker());
        h.queue_flush(self.id);
        Poll::Pending
    }

    fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut h = self.io.lock();
        let Some(s) = h.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
        };
        if s.write_shut {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        if !s.wbuf.is_empty() || s.phase == Phase::Connecting {
            register(&mut s.write_waker, cx.waker());
            h.queue_flush(self.id);
            return Poll::Pending;
        }
        s.write_shut = true;
        h.ops.push_back(Op::Shutdown { id: self.id });
        Poll::Ready(Ok(()))
    }

    fn addr(&self, peer: bool) -> Result<SocketAddr> {
        let h = self.io.lock();
        let s = h.streams.get(&self.id);
        let addr = s.and_then(|s| if peer { s.peer } else { s.local });
        addr.map(SocketAddr::V4)
            .ok_or_else(|| Error::from(ErrorKind::NotConnected))
    }
}

/// A TCP connection over simnet's TCP, like [`tokio::net::TcpStream`]:
/// it implements tokio's [`AsyncRead`] and [`AsyncWrite`], so
/// `hyper_util::rt::TokioIo`, `tokio_tungstenite` and `tokio::io`'s
/// helpers take it unchanged. `poll_shutdown` half-closes (sends FIN and
/// keeps reading); dropping the stream closes it, after the bytes already
/// written have been handed to TCP.
pub struct TcpStream {
    inner: Arc<Handle>,
    nodelay: bool,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    fn from_id(io: Io, id: u64) -> TcpStream {
        TcpStream {
            inner: Arc::new(Handle { io, id }),
            nodelay: false,
        }
    }

    /// Opens a connection to `addr`: `"10.0.0.2:80"`, a [`SocketAddr`], or
    /// a scenario host by name, `"server:80"`. A refused connection (the
    /// peer answered RST) is [`ConnectionRefused`](ErrorKind::ConnectionRefused);
    /// one whose SYNs went unanswered is [`TimedOut`](ErrorKind::TimedOut);
    /// an unknown host name is [`NotFound`](ErrorKind::NotFound).
    pub async fn connect<A: ToSimAddr>(addr: A) -> Result<TcpStream> {
        let io = io::current()?;
        let target = addr.to_target()?;
        let id = {
            let mut h = io.lock();
            let id = h.id();
            h.streams.insert(id, Stream::new(Phase::Connecting));
            h.ops.push_back(Op::Connect { id, target });
            id
        };
        let stream = TcpStream::from_id(io, id);
        poll_fn(|cx| {
            let mut h = stream.inner.io.lock();
            let Some(s) = h.streams.get_mut(&id) else {
                return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
            };
            match &s.phase {
                Phase::Connecting => {
                    register(&mut s.write_waker, cx.waker());
                    Poll::Pending
                }
                Phase::Open => Poll::Ready(Ok(())),
                Phase::Failed(kind, msg) => Poll::Ready(Err(Error::new(*kind, msg.clone()))),
            }
        })
        .await?;
        Ok(stream)
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.inner.addr(false)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.inner.addr(true)
    }

    /// Switches Nagle's algorithm off (`true`) or on, as `TCP_NODELAY` does.
    pub fn set_nodelay(&mut self, nodelay: bool) -> Result<()> {
        self.nodelay = nodelay;
        let id = self.inner.id;
        self.inner
            .io
            .lock()
            .ops
            .push_back(Op::Nodelay { id, nodelay });
        Ok(())
    }

    /// Whether `TCP_NODELAY` was set.
    pub fn nodelay(&self) -> Result<bool> {
        Ok(self.nodelay)
    }

    /// Splits the stream into a reading and a writing half that can move
    /// to different tasks; the connection closes when both are dropped.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                inner: self.inner.clone(),
            },
            OwnedWriteHalf { inner: self.inner },
        )
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<Result<()>> {
        self.inner.poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_shutdown(cx)
    }
}

/// The reading half of [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    inner: Arc<Handle>,
}

/// The writing half of [`TcpStream::into_split`]; `poll_shutdown` sends FIN.
pub struct OwnedWriteHalf {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnedReadHalf")
    }
}

impl std::fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnedWriteHalf")
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<Result<()>> {
        self.inner.poll_read(cx, buf)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_shutdown(cx)
    }
}

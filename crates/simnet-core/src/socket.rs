//! The socket vocabulary shared by hosts, applications and the trace.
//!
//! These are simnet's own types: an application sees [`SocketId`]s,
//! [`TcpState`]s and [`SocketEvent`]s, never smoltcp handles. The host layer
//! translates.

use crate::time::SimTime;
use std::fmt;
use std::net::SocketAddrV4;

/// A host in the world, by position in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub u32);

/// A link in the world, by position in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// An application in the world, by position in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppId(pub u32);

/// A socket on one host. Ids are never reused within a run, so a trace line
/// that names `s7` always means the same socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// A timer an application set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

/// The TCP states of RFC 793, named as RFC 793 and `ss` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN received and SYN-ACK sent, waiting for the ACK.
    SynReceived,
    /// Open in both directions.
    Established,
    /// We sent FIN, waiting for its ACK.
    FinWait1,
    /// Our FIN was acknowledged, waiting for the peer's FIN.
    FinWait2,
    /// The peer sent FIN; waiting for our application to close.
    CloseWait,
    /// Both sides sent FIN at the same time; waiting for the ACK of ours.
    Closing,
    /// We sent FIN after the peer's, waiting for its ACK.
    LastAck,
    /// The active closer waits before forgetting the connection.
    TimeWait,
}

impl TcpState {
    /// Every state, in RFC order.
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The state's conventional name, e.g. `TIME-WAIT`.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// Parses a state name; accepts `TIME-WAIT`, `time_wait` and `TimeWait`.
    pub fn parse(text: &str) -> Option<TcpState> {
        let norm: String = text
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        TcpState::ALL.into_iter().find(|s| {
            s.as_str()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .eq(norm.chars())
        })
    }

    /// Whether the peer has sent its FIN (reading further gives end of stream).
    pub fn peer_finished(self) -> bool {
        matches!(
            self,
            TcpState::CloseWait | TcpState::LastAck | TcpState::Closing | TcpState::TimeWait
        )
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Transport protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// What an application is told about its sockets.
///
/// Events are edge-triggered: `Readable` comes once per arrival of new data
/// (or of the end of the stream), so an application should read until
/// [`Recv::WouldBlock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketEvent {
    /// An outgoing connection completed its handshake.
    Connected(SocketId),
    /// An outgoing connection failed before it was established.
    ConnectFailed(SocketId, CloseReason),
    /// A connection on a listening port is ready to be accepted.
    Incoming {
        /// The listening port.
        port: u16,
    },
    /// Data (or the end of the stream) can be read.
    Readable(SocketId),
    /// Send buffer space freed up after a send that did not fit.
    Writable(SocketId),
    /// The connection ended abnormally; the socket is now CLOSED.
    Closed(SocketId, CloseReason),
}

/// Why a connection ended without the normal close handshake.
///
/// More causes may be added: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloseReason {
    /// The peer sent a RST (connection refused, or reset).
    Reset,
    /// Retransmissions or keepalive probes went unanswered for the user timeout.
    TimedOut,
    /// This host crashed.
    HostCrashed,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::Reset => "reset by peer",
            CloseReason::TimedOut => "timed out",
            CloseReason::HostCrashed => "host crashed",
        })
    }
}

/// The result of a non-blocking read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recv {
    /// Some bytes.
    Data(Vec<u8>),
    /// The peer closed its sending side and everything it sent has been read.
    Eof,
    /// Nothing to read right now.
    WouldBlock,
}

/// Errors from the socket API, in the spirit of errno.
///
/// More errors may be added: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    /// No ephemeral port is free for this destination (EADDRNOTAVAIL):
    /// every port of the range is listened on or already used by a
    /// connection to the same remote address and port. The number is the
    /// size of the range.
    #[error("no ephemeral port available (all {0} in use)")]
    PortsExhausted(u32),
    /// The port is already bound (EADDRINUSE).
    #[error("port {0} already in use")]
    PortInUse(u16),
    /// The socket id is unknown or was closed by the application (EBADF).
    #[error("no such socket")]
    BadSocket,
    /// The socket is not connected or can no longer send (ENOTCONN / EPIPE).
    #[error("socket not connected")]
    NotConnected,
    /// The connection was reset (ECONNRESET).
    #[error("connection reset by peer")]
    Reset,
    /// The host is down.
    #[error("host is down")]
    HostDown,
    /// The address is not usable (e.g. port 0, or the host's own address as a peer).
    #[error("invalid address")]
    InvalidAddress,
    /// The datagram does not fit the socket's buffer.
    #[error("datagram too large for the send buffer")]
    MessageTooLarge,
    /// No host has the name given to [`AppContext::connect_to`]
    /// (EAI_NONAME).
    ///
    /// [`AppContext::connect_to`]: crate::AppContext::connect_to
    #[error("no host has that name")]
    UnknownHost,
    /// The socket's stream layer (TLS) failed and the connection is being
    /// closed (EPROTO); the trace's `layer.failed` event says why.
    #[error("protocol error in the socket's stream layer")]
    LayerFailed,
}

/// A socket call an application made, as it appears in the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketCall {
    /// `listen(port, backlog)`.
    Listen {
        /// Port.
        port: u16,
        /// Listening sockets armed.
        backlog: usize,
    },
    /// `accept()` returned a connection.
    Accept {
        /// The remote end.
        remote: SocketAddrV4,
    },
    /// `connect(remote)` from an ephemeral port.
    Connect {
        /// The remote end.
        remote: SocketAddrV4,
        /// The local port chosen.
        local_port: u16,
    },
    /// `send(n)` accepted `accepted` of `requested` bytes.
    Send {
        /// Bytes offered.
        requested: usize,
        /// Bytes copied into the send buffer.
        accepted: usize,
        /// The first bytes, for the trace.
        preview: Preview,
    },
    /// `recv()` returned bytes.
    Recv {
        /// Bytes read.
        bytes: usize,
        /// The first bytes, for the trace.
        preview: Preview,
    },
    /// `recv()` returned end of stream.
    RecvEof,
    /// `shutdown(SHUT_WR)`: send FIN, keep reading.
    Shutdown,
    /// `close()`. With unread data this aborts the connection, as Linux does.
    Close {
        /// Bytes received but never read; non-zero means a RST was sent.
        unread: usize,
    },
    /// `close()` with SO_LINGER 0: RST, no TIME-WAIT.
    Abort,
    /// A UDP socket was bound.
    Bind {
        /// Port.
        port: u16,
    },
    /// `sendto()`.
    SendTo {
        /// Destination.
        dst: SocketAddrV4,
        /// Bytes.
        bytes: usize,
        /// The first bytes, for the trace.
        preview: Preview,
    },
    /// `recvfrom()`.
    RecvFrom {
        /// Source.
        src: SocketAddrV4,
        /// Bytes.
        bytes: usize,
        /// The first bytes, for the trace.
        preview: Preview,
    },
    /// A call failed.
    Failed {
        /// The call's name (`connect`, `listen`, ...).
        call: &'static str,
        /// Why.
        error: SocketError,
    },
}

/// The first bytes of a payload, kept for traces (at most [`Preview::MAX`]).
/// Stored inline: recording a `send` or `recv` never allocates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    len: u8,
    bytes: [u8; Preview::MAX],
}

impl Preview {
    /// How many bytes a preview keeps.
    pub const MAX: usize = 24;

    /// The first [`Preview::MAX`] bytes of `data`.
    pub fn of(data: &[u8]) -> Preview {
        let len = data.len().min(Self::MAX);
        let mut bytes = [0; Self::MAX];
        bytes[..len].copy_from_slice(&data[..len]);
        Preview {
            len: len as u8,
            bytes,
        }
    }

    /// The bytes kept.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Escapes like Rust's `escape_ascii`, so previews stay on one line.
impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_bytes().escape_ascii())
    }
}

/// One row of a host's socket table, like a line of `ss -tan`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketRow {
    /// The socket.
    pub id: SocketId,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// TCP state (UDP sockets report `None`).
    pub state: Option<TcpState>,
    /// Local address.
    pub local: SocketAddrV4,
    /// Remote address, once connected.
    pub remote: Option<SocketAddrV4>,
    /// Bytes received but not yet read by the application.
    pub recv_queue: usize,
    /// Bytes not yet acknowledged by the peer (or not yet sent).
    pub send_queue: usize,
    /// The application holding it, if any (`None` once closed by the app).
    pub owner: Option<AppId>,
    /// When the socket entered its current state.
    pub since: SimTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_parse_in_several_spellings() {
        assert_eq!(TcpState::parse("TIME-WAIT"), Some(TcpState::TimeWait));
        assert_eq!(TcpState::parse("time_wait"), Some(TcpState::TimeWait));
        assert_eq!(TcpState::parse("FinWait2"), Some(TcpState::FinWait2));
        assert_eq!(TcpState::parse("bogus"), None);
    }

    #[test]
    fn previews_are_short_and_escaped() {
        let p = Preview::of(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
        assert_eq!(p.as_bytes().len(), Preview::MAX);
        assert_eq!(p.to_string(), "GET / HTTP/1.1\\r\\nHost: ex");
    }
}

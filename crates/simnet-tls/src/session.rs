//! The sans-IO sessions an application drives: [`TlsClient`] and
//! [`TlsServer`].
//!
//! An application owns a TCP socket and a session. Bytes read from the
//! socket go into [`TlsClient::feed`] (with the simulated time), bytes from
//! [`TlsClient::take_outgoing`] go to the socket, plaintext goes in with
//! [`TlsClient::write`] and comes out of [`TlsClient::read`]. After every
//! `feed` and `write`, call `take_outgoing` (a handshake reply, an alert, a
//! ticket, encrypted data). The sessions wrap rustls's connections; they do
//! not implement any TLS themselves.
//!
//! Each session owns its seeded stream and lends it, with the simulated
//! time, to the provider for exactly the length of each call into rustls
//! (see [`crate::provider`]). The calls that take no `now` (`write`,
//! `take_outgoing`, `close_notify`) lend the time of the last `new` or
//! `feed`; rustls reads no time in them today. A fatal error is returned once from `feed`;
//! the alert that tells the peer is then in `take_outgoing`.

use crate::clock::Epoch;
use crate::config::{TlsClientConfig, TlsServerConfig, TlsVersion};
use crate::provider::scope;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{ClientConnection, HandshakeKind, ProtocolVersion, ServerConnection};
use simnet_core::SimTime;
use simnet_core::rng::SimRng;
use std::io::{Read, Write};

/// What went wrong in a session or its configuration.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the handshake or a record (bad certificate, alert
    /// from the peer, decryption failure, ...).
    #[error("{0}")]
    Tls(rustls::Error),
    /// The server name is not a valid DNS name or IP address.
    #[error("invalid server name {0:?}")]
    InvalidServerName(String),
    /// A configuration that cannot work.
    #[error("bad TLS configuration: {0}")]
    Config(String),
    /// rustls would not take the bytes (its buffers have limits).
    #[error("rustls refused the bytes: {0}")]
    Buffer(String),
    /// The session already failed; it accepts no more input.
    #[error("the TLS session has already failed")]
    Failed,
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> TlsError {
        TlsError::Tls(e)
    }
}

/// How a handshake went, once it is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeSummary {
    /// The version spoken.
    pub version: TlsVersion,
    /// The cipher suite's IANA name (`TLS13_AES_256_GCM_SHA384`).
    pub cipher_suite: String,
    /// The ALPN protocol agreed, if any.
    pub alpn: Option<Vec<u8>>,
    /// Whether a previous session was resumed (no certificate was sent).
    pub resumed: bool,
}

/// The state shared by both ends: the seeded stream, the time, the
/// plaintext already decrypted.
#[derive(Debug)]
struct Common {
    rng: SimRng,
    epoch: Epoch,
    /// When the session was made (the client's ClientHello, the server's
    /// accept).
    started: SimTime,
    now: UnixTime,
    plaintext: Vec<u8>,
    random_bytes_drawn: u64,
    failed: bool,
    peer_closed: bool,
}

impl Common {
    fn new(rng: SimRng, epoch: Epoch, now: SimTime) -> Common {
        Common {
            rng,
            epoch,
            started: now,
            now: epoch.unix_time(now),
            plaintext: Vec::new(),
            random_bytes_drawn: 0,
            failed: false,
            peer_closed: false,
        }
    }

    /// Runs `f` with this session's stream and time lent to the provider.
    fn lend<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let (result, drawn) = scope::enter(&mut self.rng, self.now, f);
        self.random_bytes_drawn += drawn;
        result
    }
}

macro_rules! impl_common {
    ($ty:ident) => {
        impl $ty {
            /// Hands the session bytes received from TCP at simulated time
            /// `now`. Decrypted plaintext waits for [`Self::read`]; replies
            /// wait for [`Self::take_outgoing`]. An error is fatal: the
            /// alert for the peer is in `take_outgoing`, and later calls
            /// return [`TlsError::Failed`].
            pub fn feed(&mut self, now: SimTime, bytes: &[u8]) -> Result<(), TlsError> {
                if self.common.failed {
                    return Err(TlsError::Failed);
                }
                self.common.now = self.common.epoch.unix_time(now);
                let conn = &mut self.conn;
                let common = &mut self.common;
                let mut rest = bytes;
                let result = common.lend(|| -> Result<(Vec<u8>, bool), TlsError> {
                    let mut plain = Vec::new();
                    let mut closed = false;
                    while !rest.is_empty() {
                        // rustls takes what fits in its buffer; decrypting
                        // and draining the plaintext each time makes room.
                        let n = conn
                            .read_tls(&mut rest)
                            .map_err(|e| TlsError::Buffer(e.to_string()))?;
                        let state = conn.process_new_packets()?;
                        closed |= state.peer_has_closed();
                        if state.plaintext_bytes_to_read() > 0 {
                            // Ends with WouldBlock once drained; what was
                            // read is in `plain` all the same.
                            let _ = conn.reader().read_to_end(&mut plain);
                        }
                        if n == 0 {
                            break;
                        }
                    }
                    Ok((plain, closed))
                });
                match result {
                    Ok((plain, closed)) => {
                        self.after_feed();
                        self.common.plaintext.extend_from_slice(&plain);
                        self.common.peer_closed |= closed;
                        Ok(())
                    }
                    Err(e) => {
                        self.common.failed = true;
                        Err(e)
                    }
                }
            }

            /// The bytes to send on the TCP connection now (handshake
            /// messages, alerts, tickets, encrypted data); empty if none.
            pub fn take_outgoing(&mut self) -> Vec<u8> {
                let conn = &mut self.conn;
                self.common.lend(|| {
                    let mut out = Vec::new();
                    while conn.wants_write() {
                        // Writing into a Vec cannot fail.
                        if conn.write_tls(&mut out).unwrap_or(0) == 0 {
                            break;
                        }
                    }
                    out
                })
            }

            /// Queues plaintext to send and returns how much was taken:
            /// all of it unless rustls's buffer (64 KiB by default) is full,
            /// in which case the application writes the rest after the next
            /// `take_outgoing`, as with a socket. Before the handshake ends
            /// the plaintext is held and sent encrypted as soon as keys
            /// exist.
            pub fn write(&mut self, plaintext: &[u8]) -> Result<usize, TlsError> {
                if self.common.failed {
                    return Err(TlsError::Failed);
                }
                let conn = &mut self.conn;
                self.common
                    .lend(|| conn.writer().write(plaintext))
                    .map_err(|e| TlsError::Buffer(e.to_string()))
            }

            /// The plaintext decrypted so far (and not yet read).
            pub fn read(&mut self) -> Vec<u8> {
                std::mem::take(&mut self.common.plaintext)
            }

            /// Whether the handshake is still in progress.
            pub fn is_handshaking(&self) -> bool {
                self.conn.is_handshaking()
            }

            /// The simulated time the session was made at (`new`): for a
            /// client, when its ClientHello left.
            pub fn started_at(&self) -> SimTime {
                self.common.started
            }

            /// Sends a close_notify alert (in the next `take_outgoing`).
            pub fn close_notify(&mut self) {
                let conn = &mut self.conn;
                self.common.lend(|| conn.send_close_notify());
            }

            /// Whether the peer has sent close_notify.
            pub fn is_peer_closed(&self) -> bool {
                self.common.peer_closed
            }

            /// How the handshake went; `None` until it is over.
            pub fn summary(&self) -> Option<HandshakeSummary> {
                if self.conn.is_handshaking() {
                    return None;
                }
                let version = match self.conn.protocol_version()? {
                    ProtocolVersion::TLSv1_2 => TlsVersion::Tls12,
                    _ => TlsVersion::Tls13,
                };
                let suite = self.conn.negotiated_cipher_suite()?;
                Some(HandshakeSummary {
                    version,
                    cipher_suite: format!("{:?}", suite.suite()),
                    alpn: self.conn.alpn_protocol().map(|p| p.to_vec()),
                    resumed: self.conn.handshake_kind() == Some(HandshakeKind::Resumed),
                })
            }

            /// Random bytes this session has drawn from its stream (all of
            /// its randomness: client or server random, session id, key
            /// share, ticket nonces, extension order).
            pub fn random_bytes_drawn(&self) -> u64 {
                self.common.random_bytes_drawn
            }
        }
    };
}

/// A TLS client session.
#[derive(Debug)]
pub struct TlsClient {
    conn: ClientConnection,
    common: Common,
}

impl TlsClient {
    /// Starts a handshake with `server_name` (SNI and the name checked in
    /// the certificate) at simulated time `now`; the ClientHello is in
    /// [`Self::take_outgoing`]. `rng` is the connection's own stream (fork
    /// it from the application's stream).
    pub fn new(
        config: &TlsClientConfig,
        server_name: &str,
        rng: SimRng,
        now: SimTime,
    ) -> Result<TlsClient, TlsError> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| TlsError::InvalidServerName(server_name.to_string()))?;
        let mut common = Common::new(rng, config.epoch, now);
        let inner = config.inner.clone();
        let conn = common.lend(|| ClientConnection::new(inner, name))?;
        Ok(TlsClient { conn, common })
    }

    /// Writes 0-RTT early data, sent with the ClientHello. Returns how many
    /// bytes were taken: 0 when this handshake cannot carry early data (no
    /// resumable session allowing it, or early data is off), possibly fewer
    /// than given when the server's limit is reached.
    pub fn write_early(&mut self, plaintext: &[u8]) -> usize {
        let conn = &mut self.conn;
        self.common.lend(|| match conn.early_data() {
            Some(mut early) => early.write(plaintext).unwrap_or(0),
            None => 0,
        })
    }

    /// Whether the server accepted the early data (known once the handshake
    /// is over; rejected early data is lost, and the application sends it
    /// again with [`Self::write`]).
    pub fn is_early_data_accepted(&self) -> bool {
        self.conn.is_early_data_accepted()
    }
}

impl_common!(TlsClient);

impl TlsClient {
    fn after_feed(&mut self) {}
}

/// A TLS server session.
#[derive(Debug)]
pub struct TlsServer {
    conn: ServerConnection,
    common: Common,
    early: Vec<u8>,
    early_accepted: bool,
}

impl TlsServer {
    /// A session for a connection accepted at simulated time `now`; it
    /// waits for the ClientHello in [`Self::feed`]. `rng` is the
    /// connection's own stream.
    pub fn new(config: &TlsServerConfig, rng: SimRng, now: SimTime) -> Result<TlsServer, TlsError> {
        let mut common = Common::new(rng, config.epoch, now);
        let inner = config.inner.clone();
        let conn = common.lend(|| ServerConnection::new(inner))?;
        Ok(TlsServer {
            conn,
            common,
            early: Vec::new(),
            early_accepted: false,
        })
    }

    /// The server name the client asked for (SNI), once the ClientHello
    /// has arrived.
    pub fn server_name(&self) -> Option<&str> {
        self.conn.server_name()
    }

    /// The 0-RTT early data received and not yet read. Read it before
    /// [`Self::read`]: it came first.
    pub fn read_early(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.early)
    }

    /// Whether this server accepted the client's 0-RTT early data (known
    /// once the ClientHello has been read).
    pub fn is_early_data_accepted(&self) -> bool {
        self.early_accepted
    }
}

impl_common!(TlsServer);

impl TlsServer {
    /// Moves 0-RTT data rustls has accepted out of its buffer.
    fn after_feed(&mut self) {
        if let Some(mut early) = self.conn.early_data() {
            self.early_accepted = true;
            let _ = early.read_to_end(&mut self.early);
        }
    }
}

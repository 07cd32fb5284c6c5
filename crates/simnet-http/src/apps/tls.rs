//! HTTPS: the HTTP applications with a TLS session on each connection
//! (`simnet_tls::TlsLayer`, installed on the socket as a stream layer), so
//! the protocol code reads and writes plaintext as over plain TCP.
//!
//! Certificates come from one test CA that every scenario shares (made from
//! a fixed seed; see `simnet_tls::certs`): a client trusts it, a server
//! presents a certificate it issued for the server's host name, valid for a
//! year of simulated time. Each application keeps the secrets of its
//! sessions (a key log in memory), so that the trace shows TLS 1.3's
//! encrypted handshake opened, as Wireshark does with an SSLKEYLOGFILE. Each application builds its TLS configuration
//! the first time it needs one, with randomness from its own seeded stream
//! (the server's session-ticket key), and gives each connection a stream
//! drawn from it. A client's session cache lives in that configuration, so
//! an application's later connections resume its earlier sessions.
//!
//! Beyond the version, a client may turn its session cache off
//! ([`ClientTls::resume`]) or send 0-RTT early data
//! ([`ClientTls::early_data`]); a server chooses how clients resume
//! ([`ServerTls::resumption`]), accepts early data
//! ([`ServerTls::early_data`]) and may present a faulty certificate
//! ([`ServerTls::certificate`]: expired or not yet valid at simulated
//! time, or for another name), to show how a client refuses it.

use rand::SeedableRng;
use simnet_core::rng::{Seed, SimRng};
use simnet_core::{AppContext, AppEvent, SocketId};
use simnet_tls::certs::{TestCa, Validity};
use simnet_tls::config::{
    ClientOptions, ServerOptions, ServerResumption, TlsClientConfig, TlsServerConfig,
};
use simnet_tls::session::{TlsClient, TlsServer};
use simnet_tls::{KeyLogLines, TlsLayer, TlsVersion};
use std::sync::Arc;

/// The application protocol every TLS connection here offers and accepts
/// by ALPN: HTTPS and wss both speak HTTP/1.1 (a WebSocket starts as an
/// HTTP/1.1 upgrade), as a browser's `wss://` does.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The test CA every scenario shares.
fn test_ca() -> TestCa {
    let mut rng = Seed(0).stream("simnet test CA");
    TestCa::generate(&mut rng, "simnet test CA", Validity::days_from_start(3650))
        .expect("the test CA is generated from a fixed seed")
}

/// A connection's own stream, drawn from its application's.
fn connection_stream(cx: &mut AppContext<'_>) -> SimRng {
    SimRng::seed_from_u64(cx.rng().next_u64())
}

/// The client side: TLS to a server known by `server_name`.
#[derive(Clone, Debug)]
pub struct ClientTls {
    version: TlsVersion,
    server_name: String,
    resume: bool,
    early_data: bool,
    config: Option<TlsClientConfig>,
    /// The secrets of this application's sessions, so that the trace shows
    /// TLS 1.3's encrypted handshake opened.
    keys: Arc<KeyLogLines>,
}

impl ClientTls {
    /// TLS `version` to the server named `server_name` (its SNI and the name
    /// its certificate must carry).
    pub fn new(version: TlsVersion, server_name: &str) -> ClientTls {
        ClientTls {
            version,
            server_name: server_name.to_string(),
            resume: true,
            early_data: false,
            config: None,
            keys: Arc::new(KeyLogLines::new()),
        }
    }

    /// Keeps a session cache (the default), so that later connections
    /// resume earlier sessions; `false` makes every handshake full.
    pub fn resume(mut self, resume: bool) -> ClientTls {
        self.resume = resume;
        self
    }

    /// Sends what the application writes during a resumed TLS 1.3
    /// handshake as 0-RTT early data, when the server's ticket allows it.
    pub fn early_data(mut self, early_data: bool) -> ClientTls {
        self.early_data = early_data;
        self
    }

    /// The TLS version it speaks.
    pub fn version(&self) -> TlsVersion {
        self.version
    }

    /// Starts TLS on a connection that has just connected: the ClientHello
    /// leaves at once. On failure the connection is reported and left to
    /// fail as plain TCP would not.
    pub fn install(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let config = match &self.config {
            Some(c) => c.clone(),
            None => {
                let defaults = ClientOptions::default();
                let options = ClientOptions {
                    version: self.version,
                    alpn: vec![ALPN_HTTP_1_1.to_vec()],
                    key_log: Some(self.keys.clone()),
                    session_cache_entries: if self.resume {
                        defaults.session_cache_entries
                    } else {
                        0
                    },
                    early_data: self.early_data,
                    ..defaults
                };
                match TlsClientConfig::new(&[test_ca().cert()], &options) {
                    Ok(c) => self.config.insert(c).clone(),
                    Err(e) => return failed(cx, sid, &e.to_string()),
                }
            }
        };
        let rng = connection_stream(cx);
        match TlsClient::new(&config, &self.server_name, rng, cx.now()) {
            Ok(session) => {
                let layer = TlsLayer::client(session).with_key_log(self.keys.clone());
                if self.early_data {
                    // The early data must not wait behind the ClientHello
                    // for its ACK (Nagle): browsers set TCP_NODELAY.
                    let _ = cx.set_nagle(sid, false);
                }
                let _ = cx.set_layer(sid, Box::new(layer));
            }
            Err(e) => failed(cx, sid, &e.to_string()),
        }
    }
}

/// The certificate a server presents: a good one, or one a client must
/// refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerCertificate {
    /// For the server's name, valid for a year from simulated time zero.
    Valid,
    /// For the server's name, but it expired the day before simulated
    /// time zero (valid for the year before).
    Expired,
    /// For the server's name, but valid only from the day after simulated
    /// time zero.
    NotYetValid,
    /// Valid, but for another name (`other.<name>`).
    WrongName,
}

/// The server side: TLS with a certificate for `name`.
#[derive(Clone, Debug)]
pub struct ServerTls {
    version: TlsVersion,
    name: String,
    resumption: ServerResumption,
    max_early_data_bytes: u32,
    certificate: ServerCertificate,
    config: Option<TlsServerConfig>,
    keys: Arc<KeyLogLines>,
}

impl ServerTls {
    /// TLS `version`, presenting a certificate for `name` (the server's
    /// host name).
    pub fn new(version: TlsVersion, name: &str) -> ServerTls {
        ServerTls {
            version,
            name: name.to_string(),
            resumption: ServerResumption::Tickets,
            max_early_data_bytes: 0,
            certificate: ServerCertificate::Valid,
            config: None,
            keys: Arc::new(KeyLogLines::new()),
        }
    }

    /// How clients may resume (default: stateless tickets).
    pub fn resumption(mut self, resumption: ServerResumption) -> ServerTls {
        self.resumption = resumption;
        self
    }

    /// Accepts up to `max_bytes` of 0-RTT early data, and answers it in
    /// the server's first flight (0.5-RTT data). rustls accepts early data
    /// only with TLS 1.3 and [`ServerResumption::Stateful`]; any other
    /// combination makes every connection fail with `tls.failed`.
    pub fn early_data(mut self, max_bytes: u32) -> ServerTls {
        self.max_early_data_bytes = max_bytes;
        self
    }

    /// Presents `certificate` instead of a valid one.
    pub fn certificate(mut self, certificate: ServerCertificate) -> ServerTls {
        self.certificate = certificate;
        self
    }

    /// The certificate's names, validity and the label of the stream its
    /// key comes from (the good certificate keeps the label it always had).
    fn certificate_plan(&self) -> (String, Validity, String) {
        let label = format!("certificate for {}", self.name);
        match self.certificate {
            ServerCertificate::Valid => (self.name.clone(), Validity::days_from_start(365), label),
            ServerCertificate::Expired => (
                self.name.clone(),
                Validity::days(-366, -1),
                format!("{label} (expired)"),
            ),
            ServerCertificate::NotYetValid => (
                self.name.clone(),
                Validity::days(1, 366),
                format!("{label} (not yet valid)"),
            ),
            ServerCertificate::WrongName => (
                format!("other.{}", self.name),
                Validity::days_from_start(365),
                format!("{label} (wrong name)"),
            ),
        }
    }

    /// Starts TLS on a connection just accepted.
    pub fn install(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let config = match &self.config {
            Some(c) => c.clone(),
            None => {
                let ca = test_ca();
                let (name, validity, label) = self.certificate_plan();
                let mut rng = Seed(0).stream(&label);
                let cert = match ca.issue(&mut rng, &[name.as_str()], validity) {
                    Ok(c) => c,
                    Err(e) => return failed(cx, sid, &e.to_string()),
                };
                let options = ServerOptions {
                    version: self.version,
                    alpn: vec![ALPN_HTTP_1_1.to_vec()],
                    key_log: Some(self.keys.clone()),
                    resumption: self.resumption,
                    max_early_data_bytes: self.max_early_data_bytes,
                    half_rtt_data: self.max_early_data_bytes > 0,
                    ..ServerOptions::default()
                };
                match TlsServerConfig::new(&cert, &options, cx.rng().inner()) {
                    Ok(c) => self.config.insert(c).clone(),
                    Err(e) => return failed(cx, sid, &e.to_string()),
                }
            }
        };
        let rng = connection_stream(cx);
        match TlsServer::new(&config, rng, cx.now()) {
            Ok(session) => {
                let layer = TlsLayer::server(session).with_key_log(self.keys.clone());
                let _ = cx.set_layer(sid, Box::new(layer));
                // As nginx does by default (`tcp_nodelay on`): otherwise a
                // response written right after TLS 1.3's session tickets
                // waits for their ACK (Nagle meeting a delayed ACK).
                let _ = cx.set_nagle(sid, false);
            }
            Err(e) => failed(cx, sid, &e.to_string()),
        }
    }
}

/// TLS could not start: say so and reset the connection.
fn failed(cx: &mut AppContext<'_>, sid: SocketId, why: &str) {
    cx.emit(AppEvent::new("tls.failed", format!("TLS could not start: {why}")).on(sid));
    let _ = cx.abort(sid);
}

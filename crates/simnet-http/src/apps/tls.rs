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
//! drawn from it.

use rand::SeedableRng;
use simnet_core::rng::{Seed, SimRng};
use simnet_core::{AppContext, AppEvent, SocketId};
use simnet_tls::certs::{TestCa, Validity};
use simnet_tls::config::{ClientOptions, ServerOptions, TlsClientConfig, TlsServerConfig};
use simnet_tls::session::{TlsClient, TlsServer};
use simnet_tls::{KeyLogLines, TlsLayer, TlsVersion};
use std::sync::Arc;

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
            config: None,
            keys: Arc::new(KeyLogLines::new()),
        }
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
                let options = ClientOptions {
                    version: self.version,
                    key_log: Some(self.keys.clone()),
                    ..ClientOptions::default()
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
                let _ = cx.set_layer(sid, Box::new(layer));
            }
            Err(e) => failed(cx, sid, &e.to_string()),
        }
    }
}

/// The server side: TLS with a certificate for `name`.
#[derive(Clone, Debug)]
pub struct ServerTls {
    version: TlsVersion,
    name: String,
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
            config: None,
            keys: Arc::new(KeyLogLines::new()),
        }
    }

    /// Starts TLS on a connection just accepted.
    pub fn install(&mut self, cx: &mut AppContext<'_>, sid: SocketId) {
        let config = match &self.config {
            Some(c) => c.clone(),
            None => {
                let ca = test_ca();
                let mut rng = Seed(0).stream(&format!("certificate for {}", self.name));
                let cert = match ca.issue(
                    &mut rng,
                    &[self.name.as_str()],
                    Validity::days_from_start(365),
                ) {
                    Ok(c) => c,
                    Err(e) => return failed(cx, sid, &e.to_string()),
                };
                let options = ServerOptions {
                    version: self.version,
                    key_log: Some(self.keys.clone()),
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

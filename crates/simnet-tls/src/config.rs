//! Client and server configurations: which TLS version, ALPN, resumption,
//! 0-RTT, key logging, and the calendar time simulated time zero stands for.
//!
//! A configuration is made once per application and shared by all of its
//! connections, like rustls's own `ClientConfig` and `ServerConfig`, which
//! it wraps. The client's session cache lives in its configuration, so one
//! application's connections resume each other's sessions and no other
//! application's. Every configuration uses [`crate::provider::provider`]
//! and [`crate::provider::SimClock`]; there is no way to get the OS's
//! randomness or clock through this module.

use crate::certs::ServerCert;
use crate::clock::Epoch;
use crate::keylog::KeyLogLines;
use crate::provider::{SeededTicketer, SimClock, provider};
use crate::session::TlsError;
use rand::RngCore;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use simnet_core::rng::SimRng;
use std::sync::Arc;

/// A TLS protocol version, chosen per application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246) with ECDHE key exchange.
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl TlsVersion {
    /// The provider with only this version's cipher suites, so that a
    /// ClientHello offers no suite it could not use.
    fn provider(self) -> Arc<CryptoProvider> {
        let mut provider = provider();
        provider
            .cipher_suites
            .retain(|suite| suite.version() == self.rustls());
        Arc::new(provider)
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        }
    }

    /// "TLS 1.2" or "TLS 1.3".
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }
}

/// What a client offers.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The one version the client offers.
    pub version: TlsVersion,
    /// ALPN protocol names, most preferred first (`b"http/1.1"`).
    pub alpn: Vec<Vec<u8>>,
    /// How many sessions the client's cache keeps (per server name, rustls
    /// keeps a few 1.3 tickets); 0 turns resumption off.
    pub session_cache_entries: usize,
    /// Send 0-RTT early data when resuming a TLS 1.3 session that allows it.
    pub early_data: bool,
    /// Where traffic secrets are logged, if anywhere.
    pub key_log: Option<Arc<KeyLogLines>>,
    /// The calendar time of simulated time zero (certificate validity,
    /// ticket ages).
    pub epoch: Epoch,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            version: TlsVersion::Tls13,
            alpn: Vec::new(),
            session_cache_entries: 32,
            early_data: false,
            key_log: None,
            epoch: Epoch::DEFAULT,
        }
    }
}

/// How a server lets clients resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerResumption {
    /// No resumption: every handshake is full.
    Off,
    /// Stateless tickets (TLS 1.2 RFC 5077 tickets, TLS 1.3 PSK tickets)
    /// sealed by a [`SeededTicketer`].
    Tickets,
    /// Server-side session state (TLS 1.2 session ids, TLS 1.3 tickets that
    /// are only identifiers). rustls accepts 0-RTT only in this mode, since
    /// a used identifier can be forgotten, which stops a replay.
    Stateful,
}

/// What a server accepts.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The one version the server speaks.
    pub version: TlsVersion,
    /// ALPN protocol names the server accepts, in its order of preference.
    pub alpn: Vec<Vec<u8>>,
    /// How clients may resume.
    pub resumption: ServerResumption,
    /// Seconds of simulated time a ticket stays valid.
    pub ticket_lifetime_secs: u32,
    /// Accept up to this many bytes of 0-RTT early data (TLS 1.3 with
    /// [`ServerResumption::Stateful`] only); 0 refuses early data.
    pub max_early_data_bytes: u32,
    /// TLS 1.3: send application data right after the server's Finished,
    /// before the client's Finished has arrived ("0.5-RTT data"), so that
    /// the answer to a 0-RTT request leaves with the server's first
    /// flight. Off, rustls holds it one round trip longer, until the
    /// client's Finished, which takes back what 0-RTT gained.
    pub half_rtt_data: bool,
    /// Where traffic secrets are logged, if anywhere.
    pub key_log: Option<Arc<KeyLogLines>>,
    /// The calendar time of simulated time zero.
    pub epoch: Epoch,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            version: TlsVersion::Tls13,
            alpn: Vec::new(),
            resumption: ServerResumption::Tickets,
            ticket_lifetime_secs: 7_200,
            max_early_data_bytes: 0,
            half_rtt_data: false,
            key_log: None,
            epoch: Epoch::DEFAULT,
        }
    }
}

/// A client configuration (with its session cache), shared by the
/// connections of one application.
#[derive(Clone, Debug)]
pub struct TlsClientConfig {
    pub(crate) inner: Arc<ClientConfig>,
    pub(crate) epoch: Epoch,
}

impl TlsClientConfig {
    /// A client that trusts `roots` (the test CA's certificate).
    pub fn new(
        roots: &[CertificateDer<'static>],
        options: &ClientOptions,
    ) -> Result<TlsClientConfig, TlsError> {
        let mut store = RootCertStore::empty();
        for root in roots {
            store
                .add(root.clone())
                .map_err(|e| TlsError::Config(format!("bad root certificate: {e}")))?;
        }
        let mut config =
            ClientConfig::builder_with_details(options.version.provider(), Arc::new(SimClock))
                .with_protocol_versions(&[options.version.rustls()])
                .map_err(|e| TlsError::Config(e.to_string()))?
                .with_root_certificates(store)
                .with_no_client_auth();
        config.alpn_protocols = options.alpn.clone();
        config.resumption = if options.session_cache_entries == 0 {
            Resumption::disabled()
        } else {
            Resumption::in_memory_sessions(options.session_cache_entries)
        };
        config.enable_early_data = options.early_data;
        if let Some(log) = &options.key_log {
            config.key_log = log.clone();
        }
        Ok(TlsClientConfig {
            inner: Arc::new(config),
            epoch: options.epoch,
        })
    }
}

/// A server configuration (with its ticket key or session store), shared
/// by the connections of one application.
#[derive(Clone, Debug)]
pub struct TlsServerConfig {
    pub(crate) inner: Arc<ServerConfig>,
    pub(crate) epoch: Epoch,
}

impl TlsServerConfig {
    /// A server presenting `cert`. The ticket key (if tickets are on) is
    /// drawn from `rng`, the server application's stream.
    pub fn new(
        cert: &ServerCert,
        options: &ServerOptions,
        rng: &mut SimRng,
    ) -> Result<TlsServerConfig, TlsError> {
        if options.max_early_data_bytes > 0
            && (options.version != TlsVersion::Tls13
                || options.resumption != ServerResumption::Stateful)
        {
            return Err(TlsError::Config(
                "0-RTT early data needs TLS 1.3 and stateful resumption".into(),
            ));
        }
        let mut config =
            ServerConfig::builder_with_details(options.version.provider(), Arc::new(SimClock))
                .with_protocol_versions(&[options.version.rustls()])
                .map_err(|e| TlsError::Config(e.to_string()))?
                .with_no_client_auth()
                .with_single_cert(cert.chain.clone(), cert.private_key())
                .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = options.alpn.clone();
        match options.resumption {
            ServerResumption::Off => {
                config.session_storage = Arc::new(NoServerSessionStorage {});
                config.send_tls13_tickets = 0;
            }
            ServerResumption::Tickets => {
                let mut key = [0u8; 32];
                rng.fill_bytes(&mut key);
                config.ticketer = Arc::new(SeededTicketer::new(key, options.ticket_lifetime_secs));
                // Tickets carry the state; nothing is stored server-side.
                config.session_storage = Arc::new(NoServerSessionStorage {});
            }
            ServerResumption::Stateful => {
                config.session_storage = ServerSessionMemoryCache::new(256);
            }
        }
        config.max_early_data_size = options.max_early_data_bytes;
        config.send_half_rtt_data = options.half_rtt_data;
        if let Some(log) = &options.key_log {
            config.key_log = log.clone();
        }
        Ok(TlsServerConfig {
            inner: Arc::new(config),
            epoch: options.epoch,
        })
    }
}

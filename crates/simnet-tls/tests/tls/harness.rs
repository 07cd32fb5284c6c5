//! A client and a server session joined by a perfect pipe: each flight is
//! delivered whole, 10 ms after it was sent.

use rand::SeedableRng;
use simnet_core::SimTime;
use simnet_core::rng::{Seed, SimRng};
use simnet_tls::certs::{ServerCert, TestCa, Validity};
use simnet_tls::config::{ClientOptions, ServerOptions, TlsClientConfig, TlsServerConfig};
use simnet_tls::session::{TlsClient, TlsError, TlsServer};

pub const HOP_MS: u64 = 10;

/// A CA and one server certificate for `server.test`, from `seed`.
pub fn pki(seed: u64) -> (TestCa, ServerCert) {
    let mut rng = Seed(seed).stream("pki");
    let ca = TestCa::generate(&mut rng, "simnet test CA", Validity::days_from_start(365)).unwrap();
    let cert = ca
        .issue(&mut rng, &["server.test"], Validity::days_from_start(90))
        .unwrap();
    (ca, cert)
}

/// Both configurations, from one seed.
pub struct Setup {
    pub client: TlsClientConfig,
    pub server: TlsServerConfig,
    pub seed: u64,
    connections: u64,
}

impl Setup {
    pub fn new(seed: u64, client: &ClientOptions, server: &ServerOptions) -> Setup {
        let (ca, cert) = pki(seed);
        let client = TlsClientConfig::new(&[ca.cert()], client).unwrap();
        let server =
            TlsServerConfig::new(&cert, server, &mut Seed(seed).stream("server-config")).unwrap();
        Setup {
            client,
            server,
            seed,
            connections: 0,
        }
    }

    /// A fresh pair of sessions, each with its own stream, at `now`.
    pub fn pair(&mut self, now: SimTime) -> (TlsClient, TlsServer) {
        self.connections += 1;
        let n = self.connections;
        let seed = Seed(self.seed);
        let client = TlsClient::new(
            &self.client,
            "server.test",
            seed.stream(&format!("client:{n}")),
            now,
        )
        .unwrap();
        let server =
            TlsServer::new(&self.server, seed.stream(&format!("server:{n}")), now).unwrap();
        (client, server)
    }
}

/// Everything that crossed the pipe, and when the server first saw
/// application data.
#[derive(Debug, Default, PartialEq)]
pub struct Exchange {
    /// Flights in order: (true if client to server, bytes).
    pub flights: Vec<(bool, Vec<u8>)>,
    /// Round trips the client waited before the server had its first
    /// application byte (0 = it arrived with the first flight).
    pub first_byte_rtt: Option<u32>,
    /// Early data the server received, then ordinary data.
    pub server_got_early: Vec<u8>,
    pub server_got: Vec<u8>,
    pub client_got: Vec<u8>,
    pub client_error: Option<TlsError>,
    pub server_error: Option<TlsError>,
    pub end: SimTime,
}

impl Exchange {
    pub fn client_bytes(&self) -> Vec<u8> {
        self.flights
            .iter()
            .filter(|f| f.0)
            .flat_map(|f| f.1.clone())
            .collect()
    }
    pub fn server_bytes(&self) -> Vec<u8> {
        self.flights
            .iter()
            .filter(|f| !f.0)
            .flat_map(|f| f.1.clone())
            .collect()
    }
}

/// Runs the pipe from `start` until neither side has anything to send
/// (at most 10 round trips). The server answers each request by echoing
/// `response` once.
pub fn run(
    client: &mut TlsClient,
    server: &mut TlsServer,
    start: SimTime,
    response: &[u8],
) -> Exchange {
    let mut ex = Exchange::default();
    let mut t = start.as_nanos() / 1_000_000;
    let mut answered = false;
    for round in 0..10u32 {
        let c_out = client.take_outgoing();
        let c_sent = !c_out.is_empty();
        if c_sent {
            ex.flights.push((true, c_out.clone()));
            t += HOP_MS;
            if let Err(e) = server.feed(SimTime::from_millis(t), &c_out) {
                ex.server_error = Some(e);
            }
            let early = server.read_early();
            let plain = server.read();
            if (!early.is_empty() || !plain.is_empty()) && ex.first_byte_rtt.is_none() {
                ex.first_byte_rtt = Some(round);
            }
            ex.server_got_early.extend(early);
            ex.server_got.extend(plain);
            // Answer once, when there is a request and keys to answer
            // with (0-RTT data is answered in the server's first flight).
            let got_request = !ex.server_got.is_empty() || !ex.server_got_early.is_empty();
            let can_answer = !server.is_handshaking() || !ex.server_got_early.is_empty();
            if !answered && got_request && can_answer {
                server.write(response).unwrap();
                answered = true;
            }
        }
        let s_out = server.take_outgoing();
        let s_sent = !s_out.is_empty();
        if s_sent {
            ex.flights.push((false, s_out.clone()));
            t += HOP_MS;
            if let Err(e) = client.feed(SimTime::from_millis(t), &s_out) {
                ex.client_error = Some(e);
            }
            ex.client_got.extend(client.read());
        }
        if !c_sent && !s_sent {
            break;
        }
    }
    ex.end = SimTime::from_millis(t);
    ex
}

/// A stream not used by anything else, for tests that need one.
#[allow(dead_code)]
pub fn rng(seed: u64) -> SimRng {
    SimRng::seed_from_u64(seed)
}

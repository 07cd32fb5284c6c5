//! Which connection a diagram is limited to: the `--connection` selector
//! ([`ConnectionSelector`]), its parsing and errors, and its resolution
//! against a topology.

use simnet_core::trace::Topology;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::str::FromStr;

/// Picks connections by one of their endpoints: a port, optionally on one
/// host (by name or by address).
///
/// `49152` selects every connection with port 49152 at either end;
/// `client:49152` only those where that port is on host `client`;
/// `server:80` every connection to the server's port 80 (one per client).
/// Parse one with [`str::parse`]; it prints back the same way.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionSelector {
    /// A host name or an IPv4 address; `None` means any host.
    pub host: Option<String>,
    /// The port, on either end of the connection.
    pub port: u16,
}

impl ConnectionSelector {
    /// Connections with `port` at either end, on any host.
    pub fn port(port: u16) -> ConnectionSelector {
        ConnectionSelector { host: None, port }
    }

    /// Connections with `port` on `host` (a name or an IPv4 address).
    pub fn on_host(host: impl Into<String>, port: u16) -> ConnectionSelector {
        ConnectionSelector {
            host: Some(host.into()),
            port,
        }
    }

    /// Checks that the host, if one is named, exists in `topology`, so a
    /// command line can refuse a typo instead of drawing an empty diagram.
    pub fn check(&self, topology: &Topology) -> Result<(), UnknownHostError> {
        match self.resolve(topology) {
            Selector::Nothing => Err(UnknownHostError {
                host: self.host.clone().unwrap_or_default(),
                known: topology.hosts.iter().map(|h| h.name.clone()).collect(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether `endpoint` (one end of a connection) is selected: same port,
    /// and the named host's address if a host is named. Other renderers use
    /// this so that one selector means the same thing everywhere.
    pub fn matches(&self, topology: &Topology, endpoint: SocketAddrV4) -> bool {
        self.resolve(topology).matches(endpoint)
    }

    pub(super) fn resolve(&self, topology: &Topology) -> Selector {
        let Some(host) = &self.host else {
            return Selector::Endpoint(None, self.port);
        };
        if let Some(id) = topology.host_by_name(host)
            && let Some(info) = topology.hosts.get(id.0 as usize)
        {
            return Selector::Endpoint(Some(info.addr), self.port);
        }
        match host.parse::<Ipv4Addr>() {
            Ok(addr) if topology.host_by_addr(addr).is_some() => {
                Selector::Endpoint(Some(addr), self.port)
            }
            _ => Selector::Nothing,
        }
    }
}

impl fmt::Display for ConnectionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(host) => write!(f, "{host}:{}", self.port),
            None => write!(f, "{}", self.port),
        }
    }
}

/// Accepts `PORT`, `HOST:PORT` and `ADDRESS:PORT` (e.g. `49152`,
/// `client:49152`, `10.0.0.1:49152`).
impl FromStr for ConnectionSelector {
    type Err = ParseConnectionError;

    fn from_str(text: &str) -> Result<ConnectionSelector, ParseConnectionError> {
        let err = |problem| ParseConnectionError {
            input: text.to_string(),
            problem,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(err("it is empty"));
        }
        let (host, port) = match trimmed.rsplit_once(':') {
            Some((host, port)) => (Some(host.trim()), port.trim()),
            None => (None, trimmed),
        };
        let port: u16 = match port.parse() {
            Ok(0) => return Err(err("port 0 is not a port a connection can use")),
            Ok(p) => p,
            Err(_) if port.is_empty() => return Err(err("the port is missing")),
            Err(_) if port.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(err("the port is larger than 65535"));
            }
            Err(_) => return Err(err("the port is not a number")),
        };
        match host {
            None | Some("") => Ok(ConnectionSelector::port(port)),
            Some(h) if h.contains(char::is_whitespace) || h.contains(':') => {
                Err(err("the host is not a name or an IPv4 address"))
            }
            Some(h) => Ok(ConnectionSelector::on_host(h, port)),
        }
    }
}

/// A connection selector that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseConnectionError {
    input: String,
    problem: &'static str,
}

impl fmt::Display for ParseConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid connection `{}`: {}; expected PORT, HOST:PORT or ADDRESS:PORT, \
             e.g. `49152` or `client:49152`",
            self.input, self.problem
        )
    }
}

impl std::error::Error for ParseConnectionError {}

/// A connection selector that names a host the trace does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownHostError {
    /// The name or address given.
    pub host: String,
    /// The hosts there are.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownHostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no host `{}` in this run (hosts: {})",
            self.host,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownHostError {}

/// A selector resolved against a topology.
#[derive(Clone, Copy, Debug)]
pub(super) enum Selector {
    /// A port, on one address or on any.
    Endpoint(Option<Ipv4Addr>, u16),
    /// The selector names a host that does not exist: nothing matches.
    Nothing,
}

impl Selector {
    pub(super) fn matches(self, endpoint: SocketAddrV4) -> bool {
        match self {
            Selector::Endpoint(addr, port) => {
                endpoint.port() == port && addr.is_none_or(|a| a == *endpoint.ip())
            }
            Selector::Nothing => false,
        }
    }

    pub(super) fn matches_any(self, endpoints: &[Option<SocketAddrV4>]) -> bool {
        endpoints.iter().flatten().any(|e| self.matches(*e))
    }
}

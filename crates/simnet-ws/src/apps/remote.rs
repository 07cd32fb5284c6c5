//! [`Remote`]: where a WebSocket client application connects. Either an
//! address known when the scenario loads (`connect = "server:80"`), or a
//! name its own resolver looks up through a DNS server at run time
//! (`connect = "wss://chat.example/"` with `dns = "dns:53"`), with a cache,
//! so that a second connection to the same name (Socket.IO's upgrade, a
//! reconnect) asks the DNS server again only once the answer's TTL ran out.
//!
//! An application asks for an address each time it opens a connection;
//! when the answer is not cached it parks what it wanted to open and opens
//! it when the lookup finishes, with the address the lookup gave (not a
//! second lookup: an answer with TTL 0 is never cached).

use simnet_core::AppEvent;
use simnet_core::{AppContext, SocketEvent, TimerId};
use simnet_dns::proto::{DnsName, ResolverConfig};
use simnet_http::apps::{LookupError, NameResolver, Resolution};
use std::fmt;
use std::net::SocketAddrV4;

/// Where a client connects (see the module documentation).
#[derive(Clone, Debug)]
pub enum Remote {
    /// An address known when the scenario loads.
    At(SocketAddrV4),
    /// A name looked up at run time.
    Named {
        /// The name.
        name: DnsName,
        /// The port to connect to.
        port: u16,
        /// The application's resolver, with its cache.
        resolver: Box<NameResolver>,
    },
}

impl From<SocketAddrV4> for Remote {
    fn from(a: SocketAddrV4) -> Remote {
        Remote::At(a)
    }
}

/// The answer to [`Remote::address`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// Connect to this now.
    Now(SocketAddrV4),
    /// A lookup is out: [`Remote::on_socket`] or [`Remote::on_timer`]
    /// will give the address.
    Later,
    /// The name gives no address (a cached NXDOMAIN, say).
    Never(LookupError),
}

impl Remote {
    /// `name`, port `port`, looked up through the DNS server at `server`
    /// (with [`ResolverConfig::default`]: a query is sent again after a
    /// timeout, and answers are cached for their TTL).
    pub fn named(name: DnsName, port: u16, server: SocketAddrV4) -> Remote {
        Remote::Named {
            name,
            port,
            resolver: Box::new(NameResolver::new(server, ResolverConfig::default())),
        }
    }

    /// The port connections go to.
    pub fn port(&self) -> u16 {
        match self {
            Remote::At(a) => a.port(),
            Remote::Named { port, .. } => *port,
        }
    }

    /// Binds the resolver's socket, if there is one; call from
    /// `App::start`.
    pub(crate) fn start(&mut self, cx: &mut AppContext<'_>) {
        if let Remote::Named { resolver, .. } = self {
            resolver.start(cx);
        }
    }

    /// The address to open a new connection to.
    pub(crate) fn address(&mut self, cx: &mut AppContext<'_>) -> Address {
        match self {
            Remote::At(a) => Address::Now(*a),
            Remote::Named {
                name,
                port,
                resolver,
            } => match resolver.resolve(cx, name) {
                Resolution::Ready(ip) => Address::Now(SocketAddrV4::new(ip, *port)),
                Resolution::Waiting => Address::Later,
                Resolution::Failed(e) => Address::Never(e),
            },
        }
    }

    /// Takes a socket event: `None` when it was not the resolver's; else
    /// the outcomes of the lookups that finished (usually none or one),
    /// each [`Address::Now`] or [`Address::Never`].
    pub(crate) fn on_socket(
        &mut self,
        cx: &mut AppContext<'_>,
        event: &SocketEvent,
    ) -> Option<Vec<Address>> {
        let Remote::Named { resolver, .. } = self else {
            return None;
        };
        if !resolver.on_socket(cx, event) {
            return None;
        }
        Some(self.finished())
    }

    /// Takes a timer: `None` when it was not the resolver's (a query's
    /// retransmission); else the outcomes of the lookups that finished.
    pub(crate) fn on_timer(
        &mut self,
        cx: &mut AppContext<'_>,
        timer: TimerId,
    ) -> Option<Vec<Address>> {
        let Remote::Named { resolver, .. } = self else {
            return None;
        };
        if !resolver.on_timer(cx, timer) {
            return None;
        }
        Some(self.finished())
    }

    /// The outcomes of the lookups that finished: [`Address::Now`] or
    /// [`Address::Never`].
    fn finished(&mut self) -> Vec<Address> {
        let Remote::Named { port, resolver, .. } = self else {
            return Vec::new();
        };
        let mut done = Vec::new();
        while let Some((_, result)) = resolver.poll() {
            done.push(match result {
                Ok(ip) => Address::Now(SocketAddrV4::new(ip, *port)),
                Err(e) => Address::Never(e),
            });
        }
        done
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::At(a) => write!(f, "{a}"),
            Remote::Named { name, port, .. } => write!(f, "{name}:{port}"),
        }
    }
}

/// The event a client application reports when its server's name gave no
/// address: `kind` (`ws.connect-failed`, `sio.error`) with the `reason`
/// and the `lookup` outcome (`nxdomain`, `timeout`, ...).
pub(crate) fn lookup_failed(kind: &'static str, remote: &Remote, e: &LookupError) -> AppEvent {
    AppEvent::new(kind, format!("cannot connect to {remote}: {e}"))
        .with("reason", e.to_string())
        .with("lookup", e.kind())
}

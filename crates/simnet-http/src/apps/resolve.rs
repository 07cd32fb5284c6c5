//! [`NameResolver`]: what a client that connects by name needs from DNS,
//! reduced to "this name is this address, or why not".
//!
//! It wraps `simnet_dns`'s [`DnsClientSide`] (a stub resolver with a cache
//! on its own UDP socket and timer) and turns its answers into
//! `Result<Ipv4Addr, LookupError>`. Every DNS step is still reported by
//! the resolver itself (`dns.query`, `dns.answer` with `cached`, ...), so
//! an application using this adds only its own events.
//!
//! Any application can embed it the same way `http-client` does:
//!
//! ```ignore
//! // start():       self.names.start(cx);
//! // on a new connection to `name`:
//! match self.names.resolve(cx, &name) {
//!     Resolution::Ready(addr) => connect(addr),      // cached: no packet
//!     Resolution::Waiting => park the connection under `name`,
//!     Resolution::Failed(e) => report e,
//! }
//! // on_socket / on_timer, first:
//! if self.names.on_socket(cx, &event) {
//!     while let Some((name, result)) = self.names.poll() { ... }
//!     return;
//! }
//! ```

use simnet_core::{AppContext, SocketEvent, TimerId};
use simnet_dns::apps::{DnsClientSide, Resolved};
use simnet_dns::proto::{DnsName, Failure, Outcome, ResolverConfig};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Why a name did not give an address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// NXDOMAIN: the name does not exist.
    #[error("{0} does not exist (NXDOMAIN)")]
    NxDomain(DnsName),
    /// The name exists but has no A record.
    #[error("{0} has no address (NODATA)")]
    NoData(DnsName),
    /// No answer after every send.
    #[error("no answer from the resolver for {name} after {attempts} sends")]
    Timeout {
        /// The name.
        name: DnsName,
        /// Sends made.
        attempts: u32,
    },
    /// The server answered with an error, or a truncated answer.
    #[error("the lookup of {name} failed: {reason}")]
    Failed {
        /// The name.
        name: DnsName,
        /// What the resolver said.
        reason: String,
    },
    /// The lookup could not start (no socket, too many in flight).
    #[error("the lookup of {0} could not start")]
    NotStarted(DnsName),
}

impl LookupError {
    /// A short word for the `reason` field of an event.
    pub fn kind(&self) -> &'static str {
        match self {
            LookupError::NxDomain(_) => "nxdomain",
            LookupError::NoData(_) => "nodata",
            LookupError::Timeout { .. } => "timeout",
            LookupError::Failed { .. } => "failed",
            LookupError::NotStarted(_) => "not-started",
        }
    }
}

/// What [`NameResolver::resolve`] says at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The address, from the cache: connect now.
    Ready(Ipv4Addr),
    /// A query is out: the outcome comes from [`NameResolver::poll`].
    Waiting,
    /// The name cannot be used (a cached NXDOMAIN, say).
    Failed(LookupError),
}

/// A resolver for an application that connects by name (see the module
/// documentation).
#[derive(Clone, Debug)]
pub struct NameResolver {
    side: DnsClientSide,
    done: VecDeque<(DnsName, Result<Ipv4Addr, LookupError>)>,
}

impl NameResolver {
    /// Asks the DNS server at `server`.
    pub fn new(server: SocketAddrV4, config: ResolverConfig) -> NameResolver {
        NameResolver {
            side: DnsClientSide::new(server, config),
            done: VecDeque::new(),
        }
    }

    /// The resolver underneath (its cache, for tests).
    pub fn side(&self) -> &DnsClientSide {
        &self.side
    }

    /// Binds the resolver's UDP socket; call from `App::start`. A failure
    /// is reported (`dns.bind-failed`), and every later lookup fails with
    /// [`LookupError::NotStarted`].
    pub fn start(&mut self, cx: &mut AppContext<'_>) {
        self.side.start(cx);
    }

    /// Looks `name` up for one new connection.
    pub fn resolve(&mut self, cx: &mut AppContext<'_>, name: &DnsName) -> Resolution {
        let answer = self.side.lookup(cx, name);
        self.drain();
        if let Some(answer) = answer {
            return match outcome(&answer.name, answer.outcome) {
                Ok(addr) => Resolution::Ready(addr),
                Err(e) => Resolution::Failed(e),
            };
        }
        // A lookup that could not start has already finished: say so now.
        if let Some(i) = self.done.iter().position(|(n, r)| n == name && r.is_err()) {
            let (_, result) = self.done.remove(i).expect("position is valid");
            if let Err(e) = result {
                return Resolution::Failed(e);
            }
        }
        Resolution::Waiting
    }

    /// Takes a socket event; `false` when it was not the resolver's.
    pub fn on_socket(&mut self, cx: &mut AppContext<'_>, event: &SocketEvent) -> bool {
        let mine = self.side.on_socket(cx, event);
        self.drain();
        mine
    }

    /// Takes a timer; `false` when it was not the resolver's.
    pub fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) -> bool {
        let mine = self.side.on_timer(cx, timer);
        self.drain();
        mine
    }

    /// The next name whose lookup finished, with its address or why not.
    pub fn poll(&mut self) -> Option<(DnsName, Result<Ipv4Addr, LookupError>)> {
        self.done.pop_front()
    }

    fn drain(&mut self) {
        while let Some(r) = self.side.poll_resolved() {
            let item = match r {
                Resolved::Answer(a) => {
                    let result = outcome(&a.name, a.outcome);
                    (a.name, result)
                }
                Resolved::Failed { name, failure } => {
                    let e = match failure {
                        None => LookupError::NotStarted(name.clone()),
                        Some(Failure::Timeout { attempts }) => LookupError::Timeout {
                            name: name.clone(),
                            attempts,
                        },
                        Some(other) => LookupError::Failed {
                            name: name.clone(),
                            reason: other.to_string(),
                        },
                    };
                    (name, Err(e))
                }
            };
            self.done.push_back(item);
        }
    }
}

fn outcome(name: &DnsName, outcome: Outcome) -> Result<Ipv4Addr, LookupError> {
    match outcome {
        Outcome::Address(a) => Ok(a),
        Outcome::NxDomain => Err(LookupError::NxDomain(name.clone())),
        Outcome::NoData => Err(LookupError::NoData(name.clone())),
    }
}

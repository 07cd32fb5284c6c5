//! [`DnsClientSide`]: a resolver on a UDP socket, for any application
//! that needs a name resolved.
//!
//! It owns one ephemeral UDP socket and one timer of the application that
//! embeds it, and fits the [`App`](simnet_core::App) callbacks: call
//! [`start`](DnsClientSide::start) from `start`, hand every socket event
//! and timer to [`on_socket`](DnsClientSide::on_socket) and
//! [`on_timer`](DnsClientSide::on_timer) first (they say whether the event
//! was theirs), call [`lookup`](DnsClientSide::lookup) for a name, and
//! after any of these drain [`poll_resolved`](DnsClientSide::poll_resolved).
//! An application that connects by name does:
//!
//! ```ignore
//! match self.dns.lookup(cx, &name) {
//!     Some(answer) => self.connect_to(cx, answer),   // from the cache
//!     None => {}                                     // wait for poll_resolved
//! }
//! // in on_socket / on_timer, after `if self.dns.on_socket(cx, &event) { ... }`:
//! while let Some(resolved) = self.dns.poll_resolved() { ... }
//! ```
//!
//! Every step is an application event, the same whichever application
//! embeds it, so a trace shows the DNS part of a connection's start:
//! `dns.query`, `dns.retry`, `dns.answer`, `dns.nxdomain`, `dns.nodata`,
//! `dns.timeout`, `dns.failed`, `dns.ignored`, `dns.busy`,
//! `dns.bind-failed`.

use crate::proto::{
    Answer, DnsName, Failure, Lookup, Outcome, Resolver, ResolverConfig, ResolverEvent, Transmit,
};
use simnet_core::trace::AppEvent;
use simnet_core::{AppContext, SimTime, SocketEvent, SocketId, TimerId};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// The end of one lookup, for the application that asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// An answer, positive or negative (see [`Answer::outcome`]).
    Answer(Answer),
    /// No answer: the lookup failed (or could not start).
    Failed {
        /// The name.
        name: DnsName,
        /// Why; `None` when the lookup could not start (no socket, too
        /// many queries in flight).
        failure: Option<Failure>,
    },
}

/// A stub resolver on its own UDP socket (see the module documentation).
#[derive(Clone, Debug)]
pub struct DnsClientSide {
    resolver: Resolver,
    server: SocketAddrV4,
    socket: Option<SocketId>,
    timer: Option<(TimerId, SimTime)>,
    resolved: VecDeque<Resolved>,
}

impl DnsClientSide {
    /// A resolver asking `server` (usually port 53).
    pub fn new(server: SocketAddrV4, config: ResolverConfig) -> DnsClientSide {
        DnsClientSide {
            resolver: Resolver::new(config),
            server,
            socket: None,
            timer: None,
            resolved: VecDeque::new(),
        }
    }

    /// The state machine underneath (its cache, its configuration).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The UDP socket, once bound.
    pub fn socket(&self) -> Option<SocketId> {
        self.socket
    }

    /// Binds the socket (again, after a restart: the cache survives only
    /// as long as the application value does). Reports `dns.bind-failed`.
    pub fn start(&mut self, cx: &mut AppContext<'_>) -> bool {
        self.timer = None;
        match cx.udp_bind(0) {
            Ok(sid) => {
                self.socket = Some(sid);
                true
            }
            Err(e) => {
                self.socket = None;
                cx.emit(AppEvent::new(
                    "dns.bind-failed",
                    format!("bind failed: {e}"),
                ));
                false
            }
        }
    }

    /// Looks `name` up: the answer at once when the cache has it, else
    /// `None` and the outcome later from [`poll_resolved`](Self::poll_resolved).
    pub fn lookup(&mut self, cx: &mut AppContext<'_>, name: &DnsName) -> Option<Answer> {
        let Some(sid) = self.socket else {
            self.resolved.push_back(Resolved::Failed {
                name: name.clone(),
                failure: None,
            });
            return None;
        };
        let now = cx.now();
        let lookup = self
            .resolver
            .lookup(name, now, || cx.rng().next_u32() as u16);
        let answer = match lookup {
            Lookup::Cached(answer) => {
                report_answer(cx, &answer);
                Some(answer)
            }
            Lookup::Query(t) => {
                self.send(cx, sid, &t);
                None
            }
            Lookup::InFlight => None,
            Lookup::Busy => {
                cx.emit(
                    AppEvent::new(
                        "dns.busy",
                        format!(
                            "lookup of {name} refused: {} queries in flight already",
                            self.resolver.in_flight()
                        ),
                    )
                    .with("name", name.as_str()),
                );
                self.resolved.push_back(Resolved::Failed {
                    name: name.clone(),
                    failure: None,
                });
                None
            }
        };
        self.flush(cx);
        answer
    }

    /// Takes a socket event; `false` when it was not about this socket.
    pub fn on_socket(&mut self, cx: &mut AppContext<'_>, event: &SocketEvent) -> bool {
        let Some(sid) = self.socket else { return false };
        if *event != SocketEvent::Readable(sid) {
            return false;
        }
        while let Ok(Some((from, data))) = cx.recv_from(sid) {
            if from != self.server {
                cx.emit(
                    AppEvent::new(
                        "dns.ignored",
                        format!(
                            "ignored a datagram from {from}: not the server {}",
                            self.server
                        ),
                    )
                    .on(sid)
                    .with("reason", "not from the server"),
                );
                continue;
            }
            self.resolver.handle_input(cx.now(), &data);
        }
        self.flush(cx);
        true
    }

    /// Takes a timer; `false` when it was not this resolver's.
    pub fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) -> bool {
        if self.timer.map(|(t, _)| t) != Some(timer) {
            return false;
        }
        self.timer = None;
        self.resolver.handle_timeout(cx.now());
        self.flush(cx);
        true
    }

    /// The next finished lookup.
    pub fn poll_resolved(&mut self) -> Option<Resolved> {
        self.resolved.pop_front()
    }

    fn send(&mut self, cx: &mut AppContext<'_>, sid: SocketId, t: &Transmit) {
        if t.attempt == 1 {
            cx.emit(
                AppEvent::new(
                    "dns.query",
                    format!("query {} A (id {:#06x})", t.name, t.id),
                )
                .on(sid)
                .with("name", t.name.as_str())
                .with("id", t.id),
            );
        }
        let _ = cx.send_to(sid, self.server, &t.bytes);
    }

    /// Sends what the resolver has to send, reports what it says, and keeps
    /// one timer armed for its next deadline.
    fn flush(&mut self, cx: &mut AppContext<'_>) {
        let Some(sid) = self.socket else { return };
        while let Some(event) = self.resolver.poll_event() {
            match event {
                ResolverEvent::Answer(answer) => {
                    report_answer(cx, &answer);
                    self.resolved.push_back(Resolved::Answer(answer));
                }
                ResolverEvent::Retry {
                    name,
                    id,
                    attempt,
                    waited,
                } => cx.emit(
                    AppEvent::new(
                        "dns.retry",
                        format!(
                            "no answer for {name} after {waited}: send {attempt} of {} (id {id:#06x})",
                            self.resolver.config().attempts
                        ),
                    )
                    .on(sid)
                    .with("name", name.as_str())
                    .with("id", id)
                    .with("attempt", attempt)
                    .with("waited", waited),
                ),
                ResolverEvent::Failed {
                    name,
                    id,
                    failure,
                    latency,
                } => {
                    let event = match failure {
                        Failure::Timeout { attempts } => AppEvent::new(
                            "dns.timeout",
                            format!("{name}: no answer after {attempts} sends, gave up"),
                        )
                        .with("attempts", attempts),
                        other => AppEvent::new("dns.failed", format!("{name}: {other}"))
                            .with("reason", other.to_string()),
                    };
                    cx.emit(
                        event
                            .on(sid)
                            .with("name", name.as_str())
                            .with("id", id)
                            .with("latency", latency),
                    );
                    self.resolved.push_back(Resolved::Failed {
                        name,
                        failure: Some(failure),
                    });
                }
                ResolverEvent::Ignored { id, reason } => {
                    let mut event = AppEvent::new(
                        "dns.ignored",
                        format!("ignored a datagram from the server: {reason}"),
                    )
                    .on(sid)
                    .with("reason", reason.to_string());
                    if let Some(id) = id {
                        event = event.with("id", id);
                    }
                    cx.emit(event);
                }
            }
        }
        while let Some(t) = self.resolver.poll_transmit() {
            self.send(cx, sid, &t);
        }
        let want = self.resolver.poll_timeout();
        if self.timer.map(|(_, at)| at) != want {
            if let Some((old, _)) = self.timer.take() {
                cx.cancel_timer(old);
            }
            if let Some(at) = want {
                self.timer = Some((cx.set_timer_at(at), at));
            }
        }
    }
}

fn report_answer(cx: &mut AppContext<'_>, answer: &Answer) {
    let name = answer.name.as_str();
    let source = if answer.cached {
        "from the cache".to_string()
    } else {
        format!("after {}", answer.latency)
    };
    let event = match answer.outcome {
        Outcome::Address(address) => AppEvent::new(
            "dns.answer",
            format!("{name} is {address}, ttl {} ({source})", answer.ttl),
        )
        .with("address", address.to_string()),
        Outcome::NxDomain => AppEvent::new(
            "dns.nxdomain",
            format!("{name} does not exist, ttl {} ({source})", answer.ttl),
        ),
        Outcome::NoData => AppEvent::new(
            "dns.nodata",
            format!("{name} has no address, ttl {} ({source})", answer.ttl),
        ),
    };
    let mut event = event
        .with("name", name)
        .with("ttl", answer.ttl)
        .with("cached", answer.cached)
        .with("latency", answer.latency);
    if let Some(id) = answer.id {
        event = event.with("id", id);
    }
    cx.emit(event);
}

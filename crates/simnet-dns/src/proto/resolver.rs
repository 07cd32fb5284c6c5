//! A stub resolver as a sans-IO state machine: names in, queries out,
//! answers and failures as events, a cache in simulated time.
//!
//! The caller owns the socket and the clock. [`Resolver::lookup`] answers
//! from the cache or returns the bytes of a query to send;
//! [`Resolver::handle_input`] takes each datagram from the server;
//! [`Resolver::handle_timeout`] retransmits or gives up; and the caller
//! drains [`Resolver::poll_transmit`] (retransmissions) and
//! [`Resolver::poll_event`] (answers, failures, retries, ignored
//! datagrams) after each call, then arms a timer for
//! [`Resolver::poll_timeout`]. Query ids are drawn by the caller, from its
//! seeded stream; nothing here reads a clock or draws a number.
//!
//! The rules, and where they come from:
//!
//! - **Matching** (RFC 5452 section 9.1): a response counts only when its
//!   id is one in flight and its question is exactly the one asked (name
//!   without case, type A, class IN). Anything else is reported as
//!   [`ResolverEvent::Ignored`] and the query keeps waiting, so a forged or
//!   stray answer cannot end it. (The caller checks the source address.)
//! - **Retransmission**: an unanswered query is sent again, with the same
//!   id and bytes as glibc's stub resolver does, after
//!   [`ResolverConfig::timeout`], then twice that, and so on, for
//!   [`ResolverConfig::attempts`] sends in all; then it fails with
//!   [`Failure::Timeout`]. An answer to any of the sends ends it.
//! - **Positive caching**: an address is cached under its name until
//!   `now + ttl` (the smallest TTL of the A records for the name, capped
//!   at [`ResolverConfig::ttl_max_secs`]); a TTL of zero is used once and
//!   not cached (RFC 1035 section 3.2.1).
//! - **Negative caching** (RFC 2308): NXDOMAIN and NODATA are cached for
//!   the SOA's negative TTL, `min(SOA TTL, SOA MINIMUM)`, capped at
//!   [`ResolverConfig::negative_ttl_max_secs`] (3 hours by default, the
//!   RFC's recommended maximum). A negative answer without an SOA is not
//!   cached (section 5).
//! - **Failures are not cached**: SERVFAIL, REFUSED, other codes and a
//!   truncated answer (there is no TCP fallback) end the lookup with
//!   [`ResolverEvent::Failed`], and the next lookup asks again.
//! - **Bounded memory**: at most [`ResolverConfig::cache_entries_max`]
//!   names are cached; a full cache first forgets expired entries, then the
//!   entry that would expire soonest (ties: the smaller name), an order
//!   that depends only on simulated time and names. At most
//!   [`ResolverConfig::in_flight_max`] queries are in flight; a lookup
//!   beyond that is [`Lookup::Busy`].

use super::message::{self, ParseError, Parsed, Rcode};
use super::name::DnsName;
use simnet_core::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::Ipv4Addr;

/// How a resolver retries and how much it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// How long the first send waits for an answer; each retransmission
    /// waits twice as long as the one before.
    pub timeout: SimDuration,
    /// Sends in all, the first included (at least 1).
    pub attempts: u32,
    /// Names the cache holds at most.
    pub cache_entries_max: usize,
    /// The longest a positive answer is cached, in seconds.
    pub ttl_max_secs: u32,
    /// The longest a negative answer is cached, in seconds.
    pub negative_ttl_max_secs: u32,
    /// Queries in flight at most.
    pub in_flight_max: usize,
}

impl Default for ResolverConfig {
    /// One second, doubling, three sends (1 s + 2 s + 4 s: a lookup gives
    /// up 7 s after it started); 256 names; a day; three hours; 64 queries.
    fn default() -> Self {
        ResolverConfig {
            timeout: SimDuration::from_secs(1),
            attempts: 3,
            cache_entries_max: 256,
            ttl_max_secs: 86_400,
            negative_ttl_max_secs: 10_800,
            in_flight_max: 64,
        }
    }
}

/// What a name resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its (first) address.
    Address(Ipv4Addr),
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no A record.
    NoData,
}

/// A lookup's answer, fresh or from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The name looked up.
    pub name: DnsName,
    /// What it resolved to.
    pub outcome: Outcome,
    /// How much longer it may be used: the TTL for a fresh answer, what is
    /// left of it for a cached one (zero: not cached).
    pub ttl: SimDuration,
    /// Whether it came from the cache (no packet was sent).
    pub cached: bool,
    /// From the first send of the query to the answer (zero when cached).
    pub latency: SimDuration,
    /// The id of the query that was answered (`None` when cached).
    pub id: Option<u16>,
}

/// A query to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Its id.
    pub id: u16,
    /// The name it asks about.
    pub name: DnsName,
    /// Which send this is, from 1.
    pub attempt: u32,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// What [`Resolver::lookup`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Answered from the cache.
    Cached(Answer),
    /// Send this query; the outcome comes as an event.
    Query(Transmit),
    /// A query for this name is already in flight; its outcome comes as an
    /// event and answers this lookup too.
    InFlight,
    /// [`ResolverConfig::in_flight_max`] queries are in flight already.
    Busy,
}

/// Why a lookup failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No answer to any of the sends.
    Timeout {
        /// Sends made.
        attempts: u32,
    },
    /// The server answered with an error code (SERVFAIL, REFUSED, ...).
    Rcode(Rcode),
    /// The answer was truncated (TC), and there is no TCP fallback.
    Truncated,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout { attempts } => write!(f, "no answer after {attempts} sends"),
            Failure::Rcode(rcode) => write!(f, "{rcode}"),
            Failure::Truncated => f.write_str("truncated answer (no TCP fallback)"),
        }
    }
}

/// Why a datagram was ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// It did not parse.
    Malformed(ParseError),
    /// It was a query, not a response.
    NotAResponse,
    /// Its id is not one in flight (a stray, a forgery, or a late copy of
    /// an answer already taken).
    UnknownId,
    /// Its id is in flight but its question is not the one asked.
    WrongQuestion {
        /// The name that was asked about.
        asked: DnsName,
    },
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignored::Malformed(e) => write!(f, "{e}"),
            Ignored::NotAResponse => f.write_str("a query, not a response"),
            Ignored::UnknownId => f.write_str("no query in flight has this id"),
            Ignored::WrongQuestion { asked } => {
                write!(f, "the question is not the one asked ({asked} A IN)")
            }
        }
    }
}

/// What happened, for the caller to act on and report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolverEvent {
    /// A query was answered (positively or negatively).
    Answer(Answer),
    /// A lookup failed; the next lookup of the name asks again.
    Failed {
        /// The name.
        name: DnsName,
        /// The query's id.
        id: u16,
        /// Why.
        failure: Failure,
        /// From the first send to the failure.
        latency: SimDuration,
    },
    /// A query was not answered in time and is sent again (its bytes come
    /// from [`Resolver::poll_transmit`]).
    Retry {
        /// The name.
        name: DnsName,
        /// The query's id (the same on every send).
        id: u16,
        /// Which send this is, from 2.
        attempt: u32,
        /// How long the previous send waited.
        waited: SimDuration,
    },
    /// A datagram was not used.
    Ignored {
        /// Its id, if it had a header.
        id: Option<u16>,
        /// Why.
        reason: Ignored,
    },
}

#[derive(Clone, Debug)]
struct InFlight {
    name: DnsName,
    bytes: Vec<u8>,
    first_sent: SimTime,
    attempts: u32,
    wait: SimDuration,
    deadline: SimTime,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    outcome: Outcome,
    expires: SimTime,
}

/// A stub resolver with a cache (see the module documentation).
#[derive(Clone, Debug)]
pub struct Resolver {
    config: ResolverConfig,
    cache: BTreeMap<DnsName, Entry>,
    /// The cache's entries by expiry, for eviction.
    expiry: BTreeSet<(SimTime, DnsName)>,
    in_flight: BTreeMap<u16, InFlight>,
    by_name: BTreeMap<DnsName, u16>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ResolverEvent>,
}

impl Resolver {
    /// An empty resolver.
    pub fn new(mut config: ResolverConfig) -> Resolver {
        config.attempts = config.attempts.max(1);
        config.in_flight_max = config.in_flight_max.clamp(1, 4096);
        Resolver {
            config,
            cache: BTreeMap::new(),
            expiry: BTreeSet::new(),
            in_flight: BTreeMap::new(),
            by_name: BTreeMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// Names in the cache (expired ones included until they are looked up
    /// or evicted).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Queries in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// What the cache holds for `name` at `now`, without changing it.
    pub fn cached(&self, name: &DnsName, now: SimTime) -> Option<(Outcome, SimDuration)> {
        self.cache
            .get(name)
            .filter(|e| e.expires > now)
            .map(|e| (e.outcome, e.expires - now))
    }

    /// Looks `name` up at `now`; `draw_id` is called at most once, only
    /// when a query is needed, for its id.
    pub fn lookup(
        &mut self,
        name: &DnsName,
        now: SimTime,
        draw_id: impl FnOnce() -> u16,
    ) -> Lookup {
        if let Some(entry) = self.cache.get(name).copied() {
            if entry.expires > now {
                return Lookup::Cached(Answer {
                    name: name.clone(),
                    outcome: entry.outcome,
                    ttl: entry.expires - now,
                    cached: true,
                    latency: SimDuration::ZERO,
                    id: None,
                });
            }
            self.forget(name);
        }
        if self.by_name.contains_key(name) {
            return Lookup::InFlight;
        }
        if self.in_flight.len() >= self.config.in_flight_max {
            return Lookup::Busy;
        }
        // A drawn id already in flight moves to the next free one: at most
        // `in_flight_max` steps, and the same draw always gives the same id.
        let mut id = draw_id();
        while self.in_flight.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        let bytes = message::encode_query(id, name);
        let wait = self.config.timeout;
        self.in_flight.insert(
            id,
            InFlight {
                name: name.clone(),
                bytes: bytes.clone(),
                first_sent: now,
                attempts: 1,
                wait,
                deadline: now.saturating_add(wait),
            },
        );
        self.by_name.insert(name.clone(), id);
        Lookup::Query(Transmit {
            id,
            name: name.clone(),
            attempt: 1,
            bytes,
        })
    }

    /// The earliest moment [`handle_timeout`](Self::handle_timeout) has
    /// something to do.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.in_flight.values().map(|q| q.deadline).min()
    }

    /// Retransmits or gives up every query whose wait is over at `now`.
    pub fn handle_timeout(&mut self, now: SimTime) {
        let due: Vec<u16> = self
            .in_flight
            .iter()
            .filter(|(_, q)| q.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(q) = self.in_flight.get_mut(&id) else {
                continue;
            };
            if q.attempts < self.config.attempts {
                let waited = q.wait;
                q.attempts += 1;
                q.wait = q.wait.saturating_mul(2);
                q.deadline = now.saturating_add(q.wait);
                self.events.push_back(ResolverEvent::Retry {
                    name: q.name.clone(),
                    id,
                    attempt: q.attempts,
                    waited,
                });
                self.transmits.push_back(Transmit {
                    id,
                    name: q.name.clone(),
                    attempt: q.attempts,
                    bytes: q.bytes.clone(),
                });
            } else if let Some(q) = self.finish(id) {
                self.events.push_back(ResolverEvent::Failed {
                    name: q.name,
                    id,
                    failure: Failure::Timeout {
                        attempts: q.attempts,
                    },
                    latency: now.saturating_since(q.first_sent),
                });
            }
        }
    }

    /// Takes one datagram from the server.
    pub fn handle_input(&mut self, now: SimTime, bytes: &[u8]) {
        let header_id = (bytes.len() >= 2).then(|| u16::from_be_bytes([bytes[0], bytes[1]]));
        let ignore = |reason| ResolverEvent::Ignored {
            id: header_id,
            reason,
        };
        let response = match message::parse(bytes) {
            Ok(Parsed::Response(r)) => r,
            Ok(Parsed::Query(_)) => {
                self.events.push_back(ignore(Ignored::NotAResponse));
                return;
            }
            Err(e) => {
                self.events.push_back(ignore(Ignored::Malformed(e)));
                return;
            }
        };
        let Some(q) = self.in_flight.get(&response.id) else {
            self.events.push_back(ignore(Ignored::UnknownId));
            return;
        };
        if !matches!(response.questions.as_slice(), [one] if one.is_a_for(&q.name)) {
            let asked = q.name.clone();
            self.events
                .push_back(ignore(Ignored::WrongQuestion { asked }));
            return;
        }
        let id = response.id;
        let Some(q) = self.finish(id) else { return };
        let latency = now.saturating_since(q.first_sent);
        let fail = |failure| ResolverEvent::Failed {
            name: q.name.clone(),
            id,
            failure,
            latency,
        };
        if response.truncated {
            self.events.push_back(fail(Failure::Truncated));
            return;
        }
        let (outcome, ttl_secs) = match response.rcode {
            Rcode::NoError => {
                let mine = response
                    .addresses
                    .iter()
                    .filter(|(owner, _, _)| owner.as_ref() == Some(&q.name));
                let ttl = mine.clone().map(|(_, _, ttl)| *ttl).min();
                match (mine.map(|(_, a, _)| *a).next(), ttl) {
                    (Some(address), Some(ttl)) => (
                        Outcome::Address(address),
                        Some(ttl.min(self.config.ttl_max_secs)),
                    ),
                    _ => (Outcome::NoData, self.negative(response.negative_ttl)),
                }
            }
            Rcode::NxDomain => (Outcome::NxDomain, self.negative(response.negative_ttl)),
            other => {
                self.events.push_back(fail(Failure::Rcode(other)));
                return;
            }
        };
        let ttl = SimDuration::from_secs(u64::from(ttl_secs.unwrap_or(0)));
        if !ttl.is_zero() {
            self.remember(q.name.clone(), outcome, now.saturating_add(ttl));
        }
        self.events.push_back(ResolverEvent::Answer(Answer {
            name: q.name,
            outcome,
            ttl,
            cached: false,
            latency,
            id: Some(id),
        }));
    }

    /// The next query to (re)send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ResolverEvent> {
        self.events.pop_front()
    }

    fn negative(&self, ttl: Option<u32>) -> Option<u32> {
        ttl.map(|t| t.min(self.config.negative_ttl_max_secs))
    }

    fn finish(&mut self, id: u16) -> Option<InFlight> {
        let q = self.in_flight.remove(&id)?;
        self.by_name.remove(&q.name);
        self.transmits.retain(|t| t.id != id);
        Some(q)
    }

    fn forget(&mut self, name: &DnsName) {
        if let Some(entry) = self.cache.remove(name) {
            self.expiry.remove(&(entry.expires, name.clone()));
        }
    }

    fn remember(&mut self, name: DnsName, outcome: Outcome, expires: SimTime) {
        self.forget(&name);
        if self.config.cache_entries_max == 0 {
            return;
        }
        while self.cache.len() >= self.config.cache_entries_max {
            // The soonest to expire goes first; expired entries are the
            // soonest of all, so they go before any live one.
            let Some((_, victim)) = self.expiry.pop_first() else {
                break;
            };
            self.cache.remove(&victim);
        }
        self.expiry.insert((expires, name.clone()));
        self.cache.insert(name, Entry { outcome, expires });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::zone::{Reply, Zone, ZoneRecord};

    fn name(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    fn at(ms: u64) -> SimTime {
        SimTime::from_millis(ms)
    }

    fn secs(s: u64) -> SimDuration {
        SimDuration::from_secs(s)
    }

    fn zone() -> Zone {
        let mut z = Zone::new(Some(name("example")), 5);
        z.insert(
            name("api.example"),
            ZoneRecord {
                address: Ipv4Addr::new(10, 0, 0, 2),
                ttl_secs: 30,
            },
        );
        z.insert(
            name("zero.example"),
            ZoneRecord {
                address: Ipv4Addr::new(10, 0, 0, 3),
                ttl_secs: 0,
            },
        );
        z.fail(name("broken.example"));
        z
    }

    /// The server's answer to a query.
    fn serve(query: &Transmit) -> Vec<u8> {
        match zone().answer(&query.bytes) {
            Reply::Answer(s) => s.bytes,
            Reply::Ignore(why) => panic!("server ignored the query: {why}"),
        }
    }

    fn query(r: &mut Resolver, n: &str, now: SimTime, id: u16) -> Transmit {
        match r.lookup(&name(n), now, || id) {
            Lookup::Query(t) => t,
            other => panic!("expected a query, got {other:?}"),
        }
    }

    fn events(r: &mut Resolver) -> Vec<ResolverEvent> {
        std::iter::from_fn(|| r.poll_event()).collect()
    }

    fn answer(r: &mut Resolver) -> Answer {
        match events(r).as_slice() {
            [ResolverEvent::Answer(a)] => a.clone(),
            other => panic!("expected one answer, got {other:?}"),
        }
    }

    #[test]
    fn an_answer_is_cached_until_its_ttl_expires() {
        let mut r = Resolver::new(ResolverConfig::default());
        let q = query(&mut r, "api.example", at(0), 0x1111);
        assert_eq!((q.id, q.attempt), (0x1111, 1));
        assert_eq!(r.poll_timeout(), Some(at(1000)));
        r.handle_input(at(20), &serve(&q));
        let a = answer(&mut r);
        assert_eq!(a.outcome, Outcome::Address(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(
            (a.ttl, a.cached, a.latency, a.id),
            (secs(30), false, SimDuration::from_millis(20), Some(0x1111))
        );
        assert_eq!(r.poll_timeout(), None);
        // Within the TTL: from the cache, no query, no id drawn.
        let Lookup::Cached(c) = r.lookup(&name("API.example"), at(10_020), || unreachable!())
        else {
            panic!("not cached")
        };
        assert_eq!(
            (c.cached, c.ttl, c.latency),
            (true, secs(20), SimDuration::ZERO)
        );
        // At the moment of expiry: asked again.
        let q = query(&mut r, "api.example", at(30_020), 0x2222);
        assert_eq!(q.id, 0x2222);
        assert_eq!(r.cache_len(), 0);
    }

    #[test]
    fn nxdomain_is_cached_for_the_soa_negative_ttl() {
        let mut r = Resolver::new(ResolverConfig::default());
        let q = query(&mut r, "missing.example", at(0), 7);
        r.handle_input(at(10), &serve(&q));
        let a = answer(&mut r);
        assert_eq!((a.outcome, a.ttl), (Outcome::NxDomain, secs(5)));
        let Lookup::Cached(c) = r.lookup(&name("missing.example"), at(4_000), || 0) else {
            panic!("not cached")
        };
        assert_eq!(
            (c.outcome, c.ttl),
            (Outcome::NxDomain, SimDuration::from_millis(1_010))
        );
        query(&mut r, "missing.example", at(5_010), 8);
        // The cap applies to negative TTLs.
        let mut r = Resolver::new(ResolverConfig {
            negative_ttl_max_secs: 2,
            ..ResolverConfig::default()
        });
        let q = query(&mut r, "missing.example", at(0), 7);
        r.handle_input(at(10), &serve(&q));
        assert_eq!(answer(&mut r).ttl, secs(2));
    }

    #[test]
    fn a_zero_ttl_is_used_once_and_failures_are_not_cached() {
        let mut r = Resolver::new(ResolverConfig::default());
        let q = query(&mut r, "zero.example", at(0), 1);
        r.handle_input(at(10), &serve(&q));
        assert_eq!(answer(&mut r).ttl, SimDuration::ZERO);
        query(&mut r, "zero.example", at(20), 2);
        let q = query(&mut r, "broken.example", at(0), 3);
        r.handle_input(at(10), &serve(&q));
        assert!(matches!(
            events(&mut r).as_slice(),
            [ResolverEvent::Failed {
                failure: Failure::Rcode(Rcode::ServFail),
                ..
            }]
        ));
        query(&mut r, "broken.example", at(20), 4);
    }

    #[test]
    fn a_lost_query_is_sent_again_after_one_then_two_seconds_then_given_up() {
        let mut r = Resolver::new(ResolverConfig::default());
        let q = query(&mut r, "api.example", at(0), 9);
        r.handle_timeout(at(999));
        assert_eq!(r.poll_transmit(), None);
        r.handle_timeout(at(1_000));
        let again = r.poll_transmit().unwrap();
        assert_eq!((again.id, again.attempt, &again.bytes), (9, 2, &q.bytes));
        assert_eq!(
            events(&mut r),
            [ResolverEvent::Retry {
                name: name("api.example"),
                id: 9,
                attempt: 2,
                waited: secs(1)
            }]
        );
        assert_eq!(r.poll_timeout(), Some(at(3_000)));
        r.handle_timeout(at(3_000));
        assert_eq!(r.poll_transmit().unwrap().attempt, 3);
        assert_eq!(r.poll_timeout(), Some(at(7_000)));
        r.handle_timeout(at(7_000));
        assert_eq!(r.poll_transmit(), None);
        assert_eq!(
            events(&mut r)[1..],
            [ResolverEvent::Failed {
                name: name("api.example"),
                id: 9,
                failure: Failure::Timeout { attempts: 3 },
                latency: secs(7),
            }]
        );
        assert_eq!(r.in_flight(), 0);
        // An answer to the retransmission ends it, with the latency from
        // the first send.
        let q = query(&mut r, "api.example", at(10_000), 10);
        r.handle_timeout(at(11_000));
        r.poll_transmit();
        events(&mut r);
        r.handle_input(at(11_020), &serve(&q));
        assert_eq!(answer(&mut r).latency, SimDuration::from_millis(1_020));
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn answers_that_do_not_match_are_reported_and_ignored() {
        let mut r = Resolver::new(ResolverConfig::default());
        let q = query(&mut r, "api.example", at(0), 0x0a0a);
        // Another id.
        let mut wrong = serve(&q);
        wrong[1] ^= 1;
        r.handle_input(at(1), &wrong);
        assert_eq!(
            events(&mut r),
            [ResolverEvent::Ignored {
                id: Some(0x0a0b),
                reason: Ignored::UnknownId
            }]
        );
        // The right id, another question.
        let other = query(&mut r, "www.example", at(0), 0x5555);
        let mut swapped = serve(&other);
        swapped[..2].copy_from_slice(&0x0a0au16.to_be_bytes());
        r.handle_input(at(2), &swapped);
        assert!(matches!(
            events(&mut r).as_slice(),
            [ResolverEvent::Ignored {
                reason: Ignored::WrongQuestion { .. },
                ..
            }]
        ));
        // A query, and garbage.
        r.handle_input(at(3), &q.bytes);
        r.handle_input(at(3), &[0xff]);
        assert!(matches!(
            events(&mut r).as_slice(),
            [
                ResolverEvent::Ignored {
                    reason: Ignored::NotAResponse,
                    ..
                },
                ResolverEvent::Ignored {
                    id: None,
                    reason: Ignored::Malformed(_)
                },
            ]
        ));
        // The real answer still counts; a late copy of it does not.
        r.handle_input(at(20), &serve(&q));
        assert!(answer(&mut r).outcome == Outcome::Address(Ipv4Addr::new(10, 0, 0, 2)));
        r.handle_input(at(21), &serve(&q));
        assert!(matches!(
            events(&mut r).as_slice(),
            [ResolverEvent::Ignored {
                reason: Ignored::UnknownId,
                ..
            }]
        ));
    }

    #[test]
    fn one_query_per_name_and_ids_never_collide() {
        let mut r = Resolver::new(ResolverConfig {
            in_flight_max: 2,
            ..ResolverConfig::default()
        });
        query(&mut r, "a.example", at(0), 5);
        assert_eq!(r.lookup(&name("a.example"), at(1), || 6), Lookup::InFlight);
        // The same draw again moves to the next free id.
        assert_eq!(query(&mut r, "b.example", at(0), 5).id, 6);
        assert_eq!(r.lookup(&name("c.example"), at(1), || 7), Lookup::Busy);
    }

    #[test]
    fn a_full_cache_forgets_the_entry_that_expires_first() {
        let mut r = Resolver::new(ResolverConfig {
            cache_entries_max: 2,
            ..ResolverConfig::default()
        });
        // api.example (30 s) at 0, missing.example (5 s) at 0, then a
        // third name: the NXDOMAIN, expiring first, is forgotten.
        for (n, id) in [
            ("api.example", 1),
            ("missing.example", 2),
            ("other.example", 3),
        ] {
            let q = query(&mut r, n, at(0), id);
            r.handle_input(at(0), &serve(&q));
            events(&mut r);
        }
        assert_eq!(r.cache_len(), 2);
        assert!(r.cached(&name("missing.example"), at(1)).is_none());
        assert!(r.cached(&name("api.example"), at(1)).is_some());
        assert!(r.cached(&name("other.example"), at(1)).is_some());
    }
}

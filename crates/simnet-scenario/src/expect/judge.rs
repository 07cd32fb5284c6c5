//! The judge: expectations checked as the run goes.
//!
//! A [`Judge`] is a [`TraceSink`]: it sees each record once and folds it
//! into a few numbers per claim (a counter, the last non-matching event's
//! summary, each socket's latest state for a `state` claim), so a run
//! streamed to it keeps no event. [`Judge::finish`] turns that state into
//! the verdicts. [`super::evaluate`] replays a stored trace into a judge:
//! both paths share this one implementation.

use super::{Claim, Expectation, FlowMetric, Members, Outcome, describe};
use simnet_core::analysis::{Analyzer, Connection};
use simnet_core::fault::PacketFilter;
use simnet_core::trace::{Topology, TraceEvent, TraceRecord, TraceSink};
use simnet_core::{AppId, EndReason, HostId, SimTime, SocketCall, SocketId, TcpState};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Judges expectations from records fed one at a time.
///
/// Feed it a run's records in order ([`TraceSink::record`], e.g. through
/// `World::stream_to` or [`Trace::replay`]), then call [`Judge::finish`].
/// Its memory is a few words per claim, plus one entry per socket for
/// `state` claims and, when a flow claim (`retransmissions`, ...) is made,
/// the per-connection counts of [`Analyzer::counts_only`] (a few hundred
/// bytes per connection, nothing per packet).
pub struct Judge {
    expectations: Vec<Expectation>,
    tallies: Vec<Tally>,
    /// The kinds of record any tally counts ([`Tally::interest`]): the
    /// others (a frame delivered, a send, most records of a run) skip the
    /// walk over every expectation.
    interest: u8,
    /// The time of the latest record.
    end: SimTime,
    /// Why the run ended, if it said so.
    end_reason: Option<EndReason>,
    /// What flow claims are judged from: every record, folded into
    /// per-connection counts as it comes.
    flow: Option<Analyzer>,
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge")
            .field("expectations", &self.expectations)
            .field("end", &self.end)
            .field("end_reason", &self.end_reason)
            .finish_non_exhaustive()
    }
}

/// Which hosts (or applications) a claim is about.
#[derive(Debug)]
enum Sel<T> {
    Any,
    One(T),
    /// Every id from the first to the last: what replicas get (`count =
    /// 10000` makes ten thousand consecutive application ids), held
    /// without a search on every record.
    Range(T, T),
    Set(BTreeSet<T>),
}

/// An id that counts up: hosts and applications are numbered in
/// declaration order.
trait Numbered: Ord + Copy {
    fn number(self) -> u64;
}

impl Numbered for HostId {
    fn number(self) -> u64 {
        u64::from(self.0)
    }
}

impl Numbered for AppId {
    fn number(self) -> u64 {
        u64::from(self.0)
    }
}

impl<T: Numbered> Sel<T> {
    fn of(one: Option<T>, group: &Option<Members<T>>) -> Sel<T> {
        match (group, one) {
            (Some(g), _) => match (g.ids.first(), g.ids.last()) {
                (Some(&first), Some(&last))
                    if last.number() - first.number() + 1 == g.ids.len() as u64 =>
                {
                    Sel::Range(first, last)
                }
                _ => Sel::Set(g.ids.clone()),
            },
            (None, Some(x)) => Sel::One(x),
            (None, None) => Sel::Any,
        }
    }

    fn holds(&self, x: T) -> bool {
        match self {
            Sel::Any => true,
            Sel::One(y) => *y == x,
            Sel::Range(first, last) => *first <= x && x <= *last,
            Sel::Set(s) => s.contains(&x),
        }
    }
}

/// What one claim has seen so far.
#[derive(Debug)]
enum Tally {
    /// Each socket's latest (state, local port, remote port).
    State {
        hosts: Sel<HostId>,
        sockets: BTreeMap<(HostId, SocketId), (TcpState, u16, Option<u16>)>,
    },
    /// The hosts that entered TIME-WAIT, in the order they first did.
    TimeWait {
        holders: Vec<HostId>,
        seen: BTreeSet<HostId>,
    },
    /// Bytes read by the chosen applications.
    Bytes {
        hosts: Sel<HostId>,
        apps: Sel<AppId>,
        n: u64,
    },
    /// Packets sent that match (`from`/`to` checked here when grouped).
    Packets {
        filter: PacketFilter,
        from: Sel<HostId>,
        to: Sel<HostId>,
        n: u64,
    },
    /// Frames dropped.
    Drops { from: Sel<HostId>, n: u64 },
    /// Judged from the flow records at the end.
    Flow { sender: Sel<HostId> },
    /// Matching application events, and the last one that did not match.
    Event {
        hosts: Sel<HostId>,
        apps: Sel<AppId>,
        n: u64,
        last_seen: Option<String>,
    },
}

/// Record kinds, as bits of [`Judge::interest`].
const TCP_STATE: u8 = 1;
const SOCKET_CALL: u8 = 2;
const PACKET_SENT: u8 = 4;
const FRAME_DROPPED: u8 = 8;
const APP: u8 = 16;

/// The bit of the kind of `event` that some tally may count, or 0.
fn record_kind(event: &TraceEvent) -> u8 {
    match event {
        TraceEvent::TcpState { .. } => TCP_STATE,
        TraceEvent::SocketCall { .. } => SOCKET_CALL,
        TraceEvent::PacketSent { .. } => PACKET_SENT,
        TraceEvent::FrameDropped { .. } => FRAME_DROPPED,
        TraceEvent::App { .. } => APP,
        _ => 0,
    }
}

impl Tally {
    /// The kinds of record this tally counts (the arms of `Judge::fold`).
    fn interest(&self) -> u8 {
        match self {
            Tally::State { .. } | Tally::TimeWait { .. } => TCP_STATE,
            Tally::Bytes { .. } => SOCKET_CALL,
            Tally::Packets { .. } => PACKET_SENT,
            Tally::Drops { .. } => FRAME_DROPPED,
            Tally::Flow { .. } => 0,
            Tally::Event { .. } => APP,
        }
    }
}

/// A claim and the groups standing for its host, its packets' `to` and
/// its application.
type Parts<'a> = (
    &'a Claim,
    &'a Option<Members<HostId>>,
    &'a Option<Members<HostId>>,
    &'a Option<Members<AppId>>,
);

/// A claim's [`Parts`]: a grouped claim's, or a plain claim with no group.
fn parts(claim: &Claim) -> Parts<'_> {
    const NONE_H: &Option<Members<HostId>> = &None;
    const NONE_A: &Option<Members<AppId>> = &None;
    match claim {
        Claim::Group {
            claim,
            hosts,
            to,
            apps,
        } => (claim, hosts, to, apps),
        c => (c, NONE_H, NONE_H, NONE_A),
    }
}

fn tally(claim: &Claim) -> Tally {
    let (claim, hosts, to, apps) = parts(claim);
    match claim {
        Claim::State { host, .. } => Tally::State {
            hosts: Sel::of(Some(*host), hosts),
            sockets: BTreeMap::new(),
        },
        Claim::TimeWaitOn { .. } => Tally::TimeWait {
            holders: Vec::new(),
            seen: BTreeSet::new(),
        },
        Claim::BytesReceived { host, app, .. } => Tally::Bytes {
            hosts: Sel::of(*host, hosts),
            apps: Sel::of(*app, apps),
            n: 0,
        },
        Claim::Packets { filter, .. } => {
            let mut filter = filter.clone();
            let from = Sel::of(filter.from, hosts);
            let to_sel = Sel::of(filter.to, to);
            // Grouped ends are checked against their sets, not the filter.
            if hosts.is_some() {
                filter.from = None;
            }
            if to.is_some() {
                filter.to = None;
            }
            Tally::Packets {
                filter,
                from,
                to: to_sel,
                n: 0,
            }
        }
        Claim::Drops { from, .. } => Tally::Drops {
            from: Sel::of(*from, hosts),
            n: 0,
        },
        Claim::Flow { sender, .. } => Tally::Flow {
            sender: Sel::of(*sender, hosts),
        },
        Claim::Event { host, app, .. } => Tally::Event {
            hosts: Sel::of(*host, hosts),
            apps: Sel::of(*app, apps),
            n: 0,
            last_seen: None,
        },
        // A group inside a group is never built; judge its inner claim.
        Claim::Group { claim, .. } => tally(claim),
    }
}

/// The time a claim is about (`None`: the end of the run).
pub(super) fn claim_time(claim: &Claim) -> Option<SimTime> {
    match claim {
        Claim::State { at, .. }
        | Claim::BytesReceived { at, .. }
        | Claim::Packets { at, .. }
        | Claim::Event { at, .. } => *at,
        Claim::TimeWaitOn { .. } | Claim::Drops { .. } | Claim::Flow { .. } => None,
        Claim::Group { claim, .. } => claim_time(claim),
    }
}

fn within(at: Option<SimTime>, t: SimTime) -> bool {
    at.is_none_or(|at| t <= at)
}

impl Judge {
    /// A judge for these expectations, before any record.
    pub fn new(expectations: &[Expectation]) -> Judge {
        let flow = Judge::needs_connections(expectations).then(Analyzer::counts_only);
        let tallies: Vec<Tally> = expectations.iter().map(|e| tally(&e.claim)).collect();
        Judge {
            interest: tallies.iter().fold(0, |all, t| all | t.interest()),
            tallies,
            expectations: expectations.to_vec(),
            end: SimTime::ZERO,
            end_reason: None,
            flow,
        }
    }

    /// Whether these expectations make flow claims (`retransmissions`,
    /// ...), judged from per-connection counts.
    pub fn needs_connections(expectations: &[Expectation]) -> bool {
        expectations
            .iter()
            .any(|e| matches!(parts(&e.claim).0, Claim::Flow { .. }))
    }

    /// A judge that leaves the per-connection counts to someone else who
    /// sees the same records (the summary keeps the same
    /// [`Analyzer::counts_only`]): one analysis instead of two. Its flow
    /// claims are judged from the connections given to
    /// [`Judge::finish_with`].
    pub fn sharing_connections(expectations: &[Expectation]) -> Judge {
        Judge {
            flow: None,
            ..Judge::new(expectations)
        }
    }

    /// The verdicts, one per expectation in order: the same as
    /// [`super::evaluate`] gives for a stored trace of the same records.
    /// `topology` and `app_names` name hosts and applications in the
    /// generated labels.
    pub fn finish(self, topology: &Topology, app_names: &[&str]) -> Vec<Outcome> {
        self.finish_with(topology, app_names, None)
    }

    /// [`Judge::finish`] for a judge made with
    /// [`Judge::sharing_connections`]: `connections` are the
    /// [`Analyzer::counts_only`] connections of the same records.
    pub fn finish_with(
        self,
        topology: &Topology,
        app_names: &[&str],
        connections: Option<&[Connection]>,
    ) -> Vec<Outcome> {
        // A run that went idle stays as it ended, so later times can be
        // judged; a run stopped by a limit says nothing about them.
        let end = self.end;
        let stopped_early = !matches!(self.end_reason, Some(EndReason::Idle));
        let analysis = self.flow.map(Analyzer::finish);
        let connections = analysis
            .as_ref()
            .map(|a| &a.connections[..])
            .or(connections);
        self.expectations
            .iter()
            .zip(self.tallies)
            .map(|(e, t)| {
                let (passed, observed) = match claim_time(&e.claim) {
                    Some(at) if at > end && stopped_early => {
                        (false, format!("not reached: the run ended at {end}"))
                    }
                    _ => verdict(&e.claim, t, topology, connections),
                };
                Outcome {
                    label: e
                        .label
                        .clone()
                        .unwrap_or_else(|| describe(&e.claim, topology, app_names)),
                    passed,
                    observed,
                    at: claim_time(&e.claim),
                }
            })
            .collect()
    }

    fn fold(&mut self, topology: &Topology, r: &TraceRecord) {
        if self.interest & record_kind(&r.event) != 0 {
            // (`count` looks at each tally's own interest in turn.)
            self.count(r);
        }
        if let Some(analyzer) = &mut self.flow {
            analyzer.record(topology, r);
        }
        self.end = r.time;
        if let TraceEvent::RunEnded { reason } = &r.event {
            self.end_reason = Some(*reason);
        }
    }

    /// Counts `r` in every tally that counts its kind.
    fn count(&mut self, r: &TraceRecord) {
        let kind = record_kind(&r.event);
        for (e, t) in self.expectations.iter().zip(self.tallies.iter_mut()) {
            if t.interest() & kind == 0 {
                continue;
            }
            let claim = parts(&e.claim).0;
            if !within(claim_time(claim), r.time) {
                continue;
            }
            match (t, &r.event) {
                (
                    Tally::State { hosts, sockets },
                    TraceEvent::TcpState {
                        host,
                        socket,
                        local,
                        remote,
                        to,
                        ..
                    },
                ) if hosts.holds(*host) => {
                    sockets.insert(
                        (*host, *socket),
                        (*to, local.port(), remote.map(|r| r.port())),
                    );
                }
                (
                    Tally::TimeWait { holders, seen },
                    TraceEvent::TcpState {
                        host,
                        to: TcpState::TimeWait,
                        ..
                    },
                ) => holders.extend(seen.insert(*host).then_some(*host)),
                (
                    Tally::Bytes { hosts, apps, n },
                    TraceEvent::SocketCall {
                        host, app, call, ..
                    },
                ) if hosts.holds(*host) && apps.holds(*app) => {
                    *n += match call {
                        SocketCall::Recv { bytes, .. } | SocketCall::RecvFrom { bytes, .. } => {
                            *bytes as u64
                        }
                        _ => 0,
                    };
                }
                (
                    Tally::Packets {
                        filter,
                        from: f,
                        to: t,
                        n,
                    },
                    TraceEvent::PacketSent { from, to, .. },
                    // An ungrouped `to` is in the filter; a grouped one needs a
                    // receiving host.
                ) if f.holds(*from)
                    && to.is_none_or(|x| t.holds(x))
                    && (matches!(t, Sel::Any | Sel::One(_)) || to.is_some())
                    && r.event
                        .packet_info()
                        .is_some_and(|info| filter.matches(*from, *to, &info, None)) =>
                {
                    *n += 1;
                }
                (Tally::Drops { from: f, n }, TraceEvent::FrameDropped { from, reason, .. }) => {
                    let wanted = match parts(&e.claim).0 {
                        Claim::Drops { reason: r, .. } => r.is_none_or(|x| x == *reason),
                        _ => false,
                    };
                    if wanted && f.holds(*from) {
                        *n += 1;
                    }
                }
                (
                    Tally::Event {
                        hosts,
                        apps,
                        n,
                        last_seen,
                    },
                    TraceEvent::App { host, app, event },
                ) if hosts.holds(*host) && apps.holds(*app) => {
                    let Claim::Event { kind, fields, .. } = claim else {
                        continue;
                    };
                    if event.kind != *kind {
                        continue;
                    }
                    let ok = fields
                        .iter()
                        .all(|(name, m)| event.field(name).is_some_and(|v| m.holds(v)));
                    if ok {
                        *n += 1;
                    } else {
                        *last_seen = Some(event.summary.to_string());
                    }
                }
                _ => {}
            }
        }
    }
}

impl TraceSink for Judge {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        self.fold(topology, record);
    }
}

/// The verdict and the observed value of one claim.
fn verdict(
    claim: &Claim,
    tally: Tally,
    topo: &Topology,
    connections: Option<&[Connection]>,
) -> (bool, String) {
    let (claim, hosts, _, _) = parts(claim);
    match (claim, tally) {
        (
            Claim::State {
                state, port, count, ..
            },
            Tally::State { sockets, .. },
        ) => {
            let n = sockets
                .values()
                .filter(|(s, l, r)| s == state && port.is_none_or(|p| p == *l || Some(p) == *r))
                .count() as u64;
            (count.holds(n), n.to_string())
        }
        (Claim::TimeWaitOn { host }, Tally::TimeWait { holders, .. }) => match hosts {
            None => {
                let names: Vec<&str> = holders.iter().map(|h| topo.host_name(*h)).collect();
                let observed = if names.is_empty() {
                    "nobody".to_string()
                } else {
                    names.join(", ")
                };
                (holders == [*host], observed)
            }
            Some(group) => {
                let inside = holders.iter().filter(|h| group.ids.contains(h)).count();
                let outside: Vec<&str> = holders
                    .iter()
                    .filter(|h| !group.ids.contains(h))
                    .map(|h| topo.host_name(*h))
                    .collect();
                let mut observed = if holders.is_empty() {
                    "nobody".to_string()
                } else {
                    format!(
                        "{inside} of the {} hosts {}",
                        group.ids.len(),
                        group.pattern
                    )
                };
                if !outside.is_empty() {
                    let _ = write!(observed, ", and {}", outside.join(", "));
                }
                (inside == group.ids.len() && outside.is_empty(), observed)
            }
        },
        (Claim::BytesReceived { quantity, .. }, Tally::Bytes { n, .. })
        | (Claim::Packets { quantity, .. }, Tally::Packets { n, .. })
        | (Claim::Drops { quantity, .. }, Tally::Drops { n, .. }) => {
            (quantity.holds(n), n.to_string())
        }
        (
            Claim::Flow {
                metric, quantity, ..
            },
            Tally::Flow { sender },
        ) => {
            let mut n = 0u64;
            for c in connections.unwrap_or_default() {
                for (flow, from) in [(&c.to_server, c.client_host), (&c.to_client, c.server_host)] {
                    let chosen = match &sender {
                        Sel::Any => true,
                        _ => from.is_some_and(|h| sender.holds(h)),
                    };
                    if !chosen {
                        continue;
                    }
                    n += match metric {
                        FlowMetric::Retransmissions => flow.retransmissions(),
                        FlowMetric::DuplicateAcks => flow.duplicate_acks(),
                        FlowMetric::WindowProbes => flow.window_probes(),
                        FlowMetric::ZeroWindows => flow.zero_window_periods(),
                    } as u64;
                }
            }
            (quantity.holds(n), n.to_string())
        }
        (Claim::Event { count, .. }, Tally::Event { n, last_seen, .. }) => {
            let mut observed = n.to_string();
            if !count.holds(n)
                && let Some(s) = last_seen
            {
                let _ = write!(observed, "; a non-matching one: {s}");
            }
            (count.holds(n), observed)
        }
        // Every tally is made from its own claim.
        _ => (false, "?".to_string()),
    }
}

#[cfg(test)]
mod sel_tests {
    use super::*;

    fn group(ids: &[u32]) -> Option<Members<AppId>> {
        Some(Members {
            pattern: "chat-*".into(),
            ids: ids.iter().map(|&i| AppId(i)).collect(),
        })
    }

    /// Replicas' consecutive ids are held as a range, anything else as a
    /// set, and both hold exactly their members.
    #[test]
    fn a_group_of_consecutive_ids_is_a_range_and_holds_what_its_set_would() {
        for ids in [&[3, 4, 5, 6][..], &[3, 5, 6], &[7], &[0, 1, 2, 9]] {
            let sel = Sel::of(None, &group(ids));
            let consecutive = ids.windows(2).all(|w| w[1] == w[0] + 1);
            assert_eq!(matches!(sel, Sel::Range(..)), consecutive, "{ids:?}");
            for x in 0..12 {
                assert_eq!(sel.holds(AppId(x)), ids.contains(&x), "{ids:?} {x}");
            }
        }
        assert!(Sel::of(Some(AppId(2)), &None).holds(AppId(2)));
        assert!(!Sel::of(Some(AppId(2)), &None).holds(AppId(3)));
    }
}

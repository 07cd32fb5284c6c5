//! Expectations: claims about a run, checked against its trace.
//!
//! Every claim is evaluated from the trace alone (states are reconstructed
//! from state changes, bytes from `recv` calls, packets from what was sent),
//! so a claim means the same thing whichever renderer shows the run. Each
//! result carries the observed value, pass or fail.

use crate::format::Quantity;
use simnet_core::fault::PacketFilter;
use simnet_core::trace::{FieldValue, Topology, Trace, TraceEvent};
use simnet_core::{
    AppId, DropReason, HostId, SimDuration, SimTime, SocketCall, SocketId, TcpState,
};
use std::collections::BTreeMap;
use std::fmt::Write;

/// A claim with an optional label.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// What the report calls it (generated when absent).
    pub label: Option<String>,
    /// The claim.
    pub claim: Claim,
}

/// What can be claimed.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// `count` TCP sockets of `host` are in `state` at `at` (end of run if `None`).
    State {
        /// Host.
        host: HostId,
        /// State.
        state: TcpState,
        /// When.
        at: Option<SimTime>,
        /// Only sockets with this local or remote port.
        port: Option<u16>,
        /// How many.
        count: Quantity,
    },
    /// `host` entered TIME-WAIT, and no other host did.
    TimeWaitOn {
        /// Host.
        host: HostId,
    },
    /// Bytes read by applications.
    BytesReceived {
        /// Of this host.
        host: Option<HostId>,
        /// Of this application.
        app: Option<AppId>,
        /// Up to this time.
        at: Option<SimTime>,
        /// How many.
        quantity: Quantity,
    },
    /// Packets sent that match a filter.
    Packets {
        /// Which packets.
        filter: PacketFilter,
        /// Up to this time.
        at: Option<SimTime>,
        /// How many.
        quantity: Quantity,
    },
    /// Frames dropped.
    Drops {
        /// For this reason only.
        reason: Option<DropReason>,
        /// Sent by this host only.
        from: Option<HostId>,
        /// How many.
        quantity: Quantity,
    },
    /// A per-connection TCP count from [`simnet_core::analysis`], summed
    /// over the directions whose data `sender` sent (all, if `None`).
    Flow {
        /// What to count.
        metric: FlowMetric,
        /// The data sender.
        sender: Option<HostId>,
        /// How many.
        quantity: Quantity,
    },
    /// Application events of a kind.
    Event {
        /// Kind, e.g. `http.response`.
        kind: String,
        /// On this host.
        host: Option<HostId>,
        /// From this application.
        app: Option<AppId>,
        /// Field conditions.
        fields: Vec<(String, FieldMatch)>,
        /// Up to this time.
        at: Option<SimTime>,
        /// How many.
        count: Quantity,
    },
}

/// What a [`Claim::Flow`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMetric {
    /// Retransmitted segments.
    Retransmissions,
    /// Duplicate ACKs (sent by the receiver back to the data sender).
    DuplicateAcks,
    /// Window probes.
    WindowProbes,
    /// Periods during which the receiver advertised a zero window.
    ZeroWindows,
}

impl FlowMetric {
    fn name(self) -> &'static str {
        match self {
            FlowMetric::Retransmissions => "retransmissions",
            FlowMetric::DuplicateAcks => "duplicate ACKs",
            FlowMetric::WindowProbes => "window probes",
            FlowMetric::ZeroWindows => "zero-window periods",
        }
    }
}

/// A condition on one field of an application event.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldMatch {
    /// Equal to this text (compared with the field's printed form).
    Text(String),
    /// An integer field satisfying a count condition.
    Int(Quantity),
    /// A duration field compared with a bound.
    Duration(Compare, SimDuration),
    /// A boolean field.
    Bool(bool),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// `<`
    Less,
    /// `<=`
    LessEq,
    /// `>`
    Greater,
    /// `>=`
    GreaterEq,
    /// `=`
    Equal,
}

impl FieldMatch {
    /// Reads a condition from TOML: `200`, `true`, `"GET"`, `">= 3"`,
    /// `"200..299"`, `"< 50ms"`.
    pub fn from_toml(v: &toml::Value) -> Result<FieldMatch, String> {
        match v {
            toml::Value::Integer(i) if *i >= 0 => Ok(FieldMatch::Int(Quantity::Exactly(*i as u64))),
            toml::Value::Boolean(b) => Ok(FieldMatch::Bool(*b)),
            toml::Value::String(s) => {
                let t = s.trim();
                for (prefix, cmp) in [
                    ("<=", Compare::LessEq),
                    (">=", Compare::GreaterEq),
                    ("<", Compare::Less),
                    (">", Compare::Greater),
                    ("=", Compare::Equal),
                ] {
                    if let Some(rest) = t.strip_prefix(prefix) {
                        if let Ok(d) = crate::units::parse_duration(rest) {
                            return Ok(FieldMatch::Duration(cmp, d));
                        }
                        // Counts have no `=` operator of their own: `= 3` is 3.
                        let count = if cmp == Compare::Equal { rest } else { t };
                        return Quantity::parse(count).map(FieldMatch::Int);
                    }
                }
                // A range of numbers (`"200..299"`) is a count condition
                // too; compared as text it would never match anything.
                if let Some((a, b)) = t.split_once("..")
                    && a.trim().parse::<u64>().is_ok()
                    && b.trim_start_matches('=').trim().parse::<u64>().is_ok()
                {
                    return Quantity::parse(t).map(FieldMatch::Int);
                }
                Ok(FieldMatch::Text(s.clone()))
            }
            other => Err(format!("cannot compare with a {}", other.type_str())),
        }
    }

    fn holds(&self, value: &FieldValue) -> bool {
        match (self, value) {
            (FieldMatch::Text(t), v) => v.to_string() == *t,
            (FieldMatch::Int(q), FieldValue::Int(i)) => *i >= 0 && q.holds(*i as u64),
            (FieldMatch::Bool(b), FieldValue::Bool(v)) => b == v,
            (FieldMatch::Duration(cmp, bound), FieldValue::Duration(d)) => match cmp {
                Compare::Less => d < bound,
                Compare::LessEq => d <= bound,
                Compare::Greater => d > bound,
                Compare::GreaterEq => d >= bound,
                Compare::Equal => d == bound,
            },
            _ => false,
        }
    }
}

impl std::fmt::Display for FieldMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldMatch::Text(t) => write!(f, "{t}"),
            FieldMatch::Int(q) => write!(f, "{q}"),
            FieldMatch::Bool(b) => write!(f, "{b}"),
            FieldMatch::Duration(c, d) => {
                let op = match c {
                    Compare::Less => "<",
                    Compare::LessEq => "<=",
                    Compare::Greater => ">",
                    Compare::GreaterEq => ">=",
                    Compare::Equal => "=",
                };
                write!(f, "{op} {d}")
            }
        }
    }
}

/// The verdict on one expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// What was claimed.
    pub label: String,
    /// Whether it held.
    pub passed: bool,
    /// What the run showed.
    pub observed: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passed { "ok" } else { "FAILED" };
        write!(
            f,
            "expect {} ... {verdict} (observed {})",
            self.label, self.observed
        )
    }
}

/// Judges every expectation against a trace.
pub fn evaluate(expectations: &[Expectation], trace: &Trace, app_names: &[&str]) -> Vec<Outcome> {
    expectations
        .iter()
        .map(|e| {
            // A run that went idle stays as it ended, so later times can be
            // judged; a run stopped by a limit says nothing about them.
            let end = trace.records.last().map_or(SimTime::ZERO, |r| r.time);
            let stopped_early = !matches!(trace.end_reason(), Some(simnet_core::EndReason::Idle));
            let (passed, observed) = match claim_time(&e.claim) {
                Some(at) if at > end && stopped_early => {
                    (false, format!("not reached: the run ended at {end}"))
                }
                _ => check(&e.claim, trace),
            };
            Outcome {
                label: e
                    .label
                    .clone()
                    .unwrap_or_else(|| describe(&e.claim, &trace.topology, app_names)),
                passed,
                observed,
            }
        })
        .collect()
}

fn claim_time(claim: &Claim) -> Option<SimTime> {
    match claim {
        Claim::State { at, .. }
        | Claim::BytesReceived { at, .. }
        | Claim::Packets { at, .. }
        | Claim::Event { at, .. } => *at,
        Claim::TimeWaitOn { .. } | Claim::Drops { .. } | Claim::Flow { .. } => None,
    }
}

fn within(at: Option<SimTime>, t: SimTime) -> bool {
    at.is_none_or(|at| t <= at)
}

fn check(claim: &Claim, trace: &Trace) -> (bool, String) {
    match claim {
        Claim::State {
            host,
            state,
            at,
            port,
            count,
        } => {
            let mut sockets: BTreeMap<SocketId, (TcpState, u16, Option<u16>)> = BTreeMap::new();
            for r in trace.records.iter().take_while(|r| within(*at, r.time)) {
                if let TraceEvent::TcpState {
                    host: h,
                    socket,
                    local,
                    remote,
                    to,
                    ..
                } = &r.event
                    && h == host
                {
                    sockets.insert(*socket, (*to, local.port(), remote.map(|r| r.port())));
                }
            }
            let n = sockets
                .values()
                .filter(|(s, l, r)| s == state && port.is_none_or(|p| p == *l || Some(p) == *r))
                .count() as u64;
            (count.holds(n), n.to_string())
        }
        Claim::TimeWaitOn { host } => {
            let mut holders: Vec<HostId> = Vec::new();
            for r in &trace.records {
                if let TraceEvent::TcpState {
                    host: h,
                    to: TcpState::TimeWait,
                    ..
                } = &r.event
                    && !holders.contains(h)
                {
                    holders.push(*h);
                }
            }
            let names: Vec<&str> = holders
                .iter()
                .map(|h| trace.topology.host_name(*h))
                .collect();
            let observed = if names.is_empty() {
                "nobody".to_string()
            } else {
                names.join(", ")
            };
            (holders == [*host], observed)
        }
        Claim::BytesReceived {
            host,
            app,
            at,
            quantity,
        } => {
            let mut n = 0u64;
            for r in trace.records.iter().take_while(|r| within(*at, r.time)) {
                if let TraceEvent::SocketCall {
                    host: h,
                    app: a,
                    call,
                    ..
                } = &r.event
                    && host.is_none_or(|x| x == *h)
                    && app.is_none_or(|x| x == *a)
                {
                    n += match call {
                        SocketCall::Recv { bytes, .. } | SocketCall::RecvFrom { bytes, .. } => {
                            *bytes as u64
                        }
                        _ => 0,
                    };
                }
            }
            (quantity.holds(n), n.to_string())
        }
        Claim::Packets {
            filter,
            at,
            quantity,
        } => {
            let n = trace
                .records
                .iter()
                .take_while(|r| within(*at, r.time))
                .filter(|r| match &r.event {
                    TraceEvent::PacketSent { from, to, .. } => r
                        .event
                        .packet_info()
                        .is_some_and(|info| filter.matches(*from, *to, &info, None)),
                    _ => false,
                })
                .count() as u64;
            (quantity.holds(n), n.to_string())
        }
        Claim::Flow {
            metric,
            sender,
            quantity,
        } => {
            let analysis = simnet_core::analysis::analyze(trace);
            let mut n = 0u64;
            for c in &analysis.connections {
                for (flow, from) in [(&c.to_server, c.client_host), (&c.to_client, c.server_host)] {
                    if sender.is_some() && from != *sender {
                        continue;
                    }
                    n += match metric {
                        FlowMetric::Retransmissions => flow.retransmissions(),
                        FlowMetric::DuplicateAcks => flow.duplicate_acks(),
                        FlowMetric::WindowProbes => flow.window_probes(),
                        FlowMetric::ZeroWindows => flow.zero_windows.len(),
                    } as u64;
                }
            }
            (quantity.holds(n), n.to_string())
        }
        Claim::Drops {
            reason,
            from,
            quantity,
        } => {
            let n = trace
                .records
                .iter()
                .filter(|r| match &r.event {
                    TraceEvent::FrameDropped {
                        from: f,
                        reason: why,
                        ..
                    } => reason.is_none_or(|x| x == *why) && from.is_none_or(|x| x == *f),
                    _ => false,
                })
                .count() as u64;
            (quantity.holds(n), n.to_string())
        }
        Claim::Event {
            kind,
            host,
            app,
            fields,
            at,
            count,
        } => {
            let mut n = 0u64;
            let mut last_seen: Option<String> = None;
            for r in trace.records.iter().take_while(|r| within(*at, r.time)) {
                if let TraceEvent::App {
                    host: h,
                    app: a,
                    event,
                } = &r.event
                    && event.kind == *kind
                    && host.is_none_or(|x| x == *h)
                    && app.is_none_or(|x| x == *a)
                {
                    let ok = fields
                        .iter()
                        .all(|(name, m)| event.field(name).is_some_and(|v| m.holds(v)));
                    if ok {
                        n += 1;
                    } else {
                        last_seen = Some(event.summary.clone());
                    }
                }
            }
            let mut observed = n.to_string();
            if !count.holds(n)
                && let Some(s) = last_seen
            {
                let _ = write!(observed, "; a non-matching one: {s}");
            }
            (count.holds(n), observed)
        }
    }
}

/// A generated label for a claim.
pub fn describe(claim: &Claim, topo: &Topology, app_names: &[&str]) -> String {
    let host = |h: &HostId| topo.host_name(*h).to_string();
    let at = |t: &Option<SimTime>| {
        t.map(|t| format!(" at {}", t.since_start()))
            .unwrap_or_default()
    };
    match claim {
        Claim::State {
            host: h,
            state,
            at: t,
            port,
            count,
        } => {
            let port = port.map(|p| format!(" on port {p}")).unwrap_or_default();
            format!("{}: sockets in {state}{port}{} = {count}", host(h), at(t))
        }
        Claim::TimeWaitOn { host: h } => format!("TIME-WAIT held by {} only", host(h)),
        Claim::BytesReceived {
            host: h,
            app,
            at: t,
            quantity,
        } => {
            let who = match (app, h) {
                (Some(a), _) => app_names
                    .get(a.0 as usize)
                    .copied()
                    .unwrap_or("?")
                    .to_string(),
                (None, Some(h)) => host(h),
                (None, None) => "everyone".into(),
            };
            format!("{who}: bytes received{} = {quantity}", at(t))
        }
        Claim::Packets {
            filter,
            at: t,
            quantity,
        } => {
            let mut s = "packets".to_string();
            if let Some(f) = filter.flags {
                let _ = write!(s, " with {f}");
            }
            if let Some(f) = filter.flags_exact {
                let _ = write!(s, " exactly {f}");
            }
            match filter.payload {
                Some(true) => s.push_str(" with payload"),
                Some(false) => s.push_str(" without payload"),
                None => {}
            }
            if let Some(h) = &filter.from {
                let _ = write!(s, " from {}", host(h));
            }
            if let Some(h) = &filter.to {
                let _ = write!(s, " to {}", host(h));
            }
            if let Some(l) = filter.len {
                let _ = write!(s, " of {l} bytes");
            }
            if filter.zero_window == Some(true) {
                s.push_str(" advertising a zero window");
            }
            if let Some(p) = filter.port {
                let _ = write!(s, " on port {p}");
            }
            format!("{s}{} = {quantity}", at(t))
        }
        Claim::Flow {
            metric,
            sender,
            quantity,
        } => match sender {
            Some(h) => format!("{} sent by {} = {quantity}", metric.name(), host(h)),
            None => format!("{} = {quantity}", metric.name()),
        },
        Claim::Drops {
            reason,
            from,
            quantity,
        } => {
            let mut s = "frames dropped".to_string();
            if let Some(r) = reason {
                let _ = write!(s, " ({r})");
            }
            if let Some(h) = from {
                let _ = write!(s, " from {}", host(h));
            }
            format!("{s} = {quantity}")
        }
        Claim::Event {
            kind,
            host: h,
            app,
            fields,
            at: t,
            count,
        } => {
            let mut s = format!("events {kind}");
            if let Some(a) = app {
                let _ = write!(
                    s,
                    " from {}",
                    app_names.get(a.0 as usize).copied().unwrap_or("?")
                );
            } else if let Some(h) = h {
                let _ = write!(s, " on {}", host(h));
            }
            if !fields.is_empty() {
                let conds: Vec<String> = fields.iter().map(|(k, m)| format!("{k} {m}")).collect();
                let _ = write!(s, " where {}", conds.join(", "));
            }
            format!("{s}{} = {count}", at(t))
        }
    }
}

#[cfg(test)]
mod tests;

//! Expectations: claims about a run, checked against its trace.
//!
//! Every claim is evaluated from the trace alone (states are reconstructed
//! from state changes, bytes from `recv` calls, packets from what was sent),
//! so a claim means the same thing whichever renderer shows the run. Each
//! result carries the observed value, pass or fail.

use crate::format::Quantity;
use simnet_core::fault::PacketFilter;
use simnet_core::trace::{FieldValue, Topology, Trace};
use simnet_core::{AppId, DropReason, HostId, SimDuration, SimTime, TcpState};
use std::collections::BTreeSet;
use std::fmt::Write;

mod judge;

// The judge's tests build traces by hand from these.
#[cfg(test)]
use simnet_core::{SocketCall, SocketId, trace::TraceEvent};

pub use judge::Judge;

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
    /// A claim about replicas: `claim` judged with its host (and its
    /// packets' `to`, and its application) standing for every member of a
    /// group at once, as `host = "client-*"` asks. Counts are summed over
    /// the members; `time_wait_on` holds when every member entered
    /// TIME-WAIT and no other host did.
    Group {
        /// The claim; the fields a group stands for hold its first member.
        claim: Box<Claim>,
        /// The hosts standing for the claim's host (`host`, `from`,
        /// `time_wait_on`, a flow's sender).
        hosts: Option<Members<HostId>>,
        /// The hosts standing for a packets claim's `to`.
        to: Option<Members<HostId>>,
        /// The applications standing for the claim's application.
        apps: Option<Members<AppId>>,
    },
}

/// The hosts or applications a pattern such as `client-*` named.
#[derive(Clone, Debug, PartialEq)]
pub struct Members<T> {
    /// The pattern as written, for the report.
    pub pattern: String,
    /// Who it named.
    pub ids: BTreeSet<T>,
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

    /// How the count relates to the data sender a claim names: it sends
    /// retransmissions and probes, and receives the duplicate ACKs and
    /// the zero windows its receiver advertises.
    fn towards_sender(self) -> &'static str {
        match self {
            FlowMetric::Retransmissions | FlowMetric::WindowProbes => "sent by",
            FlowMetric::DuplicateAcks => "received by",
            FlowMetric::ZeroWindows => "advertised to",
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
            // Text as it is shown; compared without building a string in
            // the common case (the judge sees every event of a run).
            (FieldMatch::Text(t), FieldValue::Text(s)) => s == t,
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
    /// When the claim was decided: the time it names (`at`), or `None` for
    /// a claim judged over the whole run (decided when the run ended).
    pub at: Option<SimTime>,
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

/// Judges every expectation against a trace: the trace replayed into a
/// [`Judge`], so a stored run and a streamed one are judged alike.
pub fn evaluate(expectations: &[Expectation], trace: &Trace, app_names: &[&str]) -> Vec<Outcome> {
    let mut judge = Judge::new(expectations);
    trace.replay(&mut judge);
    judge.finish(&trace.topology, app_names)
}

/// A generated label for a claim.
pub fn describe(claim: &Claim, topo: &Topology, app_names: &[&str]) -> String {
    match claim {
        Claim::Group {
            claim,
            hosts,
            to,
            apps,
        } => {
            let names = Names {
                host: hosts.as_ref().map(|g| g.pattern.as_str()),
                to: to.as_ref().map(|g| g.pattern.as_str()),
                app: apps.as_ref().map(|g| g.pattern.as_str()),
            };
            describe_as(claim, topo, app_names, names)
        }
        claim => describe_as(claim, topo, app_names, Names::default()),
    }
}

/// The patterns that name a grouped claim's host, `to` and application.
#[derive(Clone, Copy, Default)]
struct Names<'a> {
    host: Option<&'a str>,
    to: Option<&'a str>,
    app: Option<&'a str>,
}

fn describe_as(claim: &Claim, topo: &Topology, app_names: &[&str], names: Names) -> String {
    let host = |h: &HostId| {
        names
            .host
            .map_or_else(|| topo.host_name(*h).to_string(), str::to_string)
    };
    let to_host = |h: &HostId| {
        names
            .to
            .map_or_else(|| topo.host_name(*h).to_string(), str::to_string)
    };
    let app_name = |a: &AppId| {
        names
            .app
            .unwrap_or_else(|| app_names.get(a.0 as usize).copied().unwrap_or("?"))
            .to_string()
    };
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
                (Some(a), _) => app_name(a),
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
                let _ = write!(s, " to {}", to_host(h));
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
            Some(h) => format!(
                "{} {} {} = {quantity}",
                metric.name(),
                metric.towards_sender(),
                host(h)
            ),
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
                let _ = write!(s, " from {}", app_name(a));
            } else if let Some(h) = h {
                let _ = write!(s, " on {}", host(h));
            }
            if !fields.is_empty() {
                let conds: Vec<String> = fields.iter().map(|(k, m)| format!("{k} {m}")).collect();
                let _ = write!(s, " where {}", conds.join(", "));
            }
            format!("{s}{} = {count}", at(t))
        }
        Claim::Group { claim, .. } => describe_as(claim, topo, app_names, names),
    }
}

#[cfg(test)]
mod tests;

//! The scenario file format, as plain serde data.
//!
//! These structs mirror the TOML one to one; they are deserialized with
//! unknown keys refused, then checked and turned into a world by
//! [`crate::compile`]. Fields that other parts of the file refer to (host
//! names, times) keep their position ([`Spanned`]) so errors can point at them.
//! The format is documented in the book's "Writing your own scenario" page.

use crate::units::{Dur, Prob, Size};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Short name, e.g. `close-client-first`.
    pub name: Spanned<String>,
    /// One or two sentences: what the scenario shows.
    pub description: Spanned<String>,
    /// The seed every random choice derives from (default 1).
    pub seed: Option<u64>,
    /// The run stops at this simulated time (default 60s).
    pub time_limit: Option<Spanned<Dur>>,
    /// The run stops after this many events (default 10,000,000): a load
    /// scenario raises it.
    pub max_events: Option<Spanned<i64>>,
    /// Hosts.
    #[serde(default)]
    pub host: Vec<HostDoc>,
    /// Routers.
    #[serde(default)]
    pub router: Vec<RouterDoc>,
    /// Links.
    #[serde(default)]
    pub link: Vec<Spanned<LinkDoc>>,
    /// Applications.
    #[serde(default)]
    pub app: Vec<Spanned<AppDoc>>,
    /// Timeline actions.
    #[serde(default)]
    pub timeline: Vec<Spanned<TimelineDoc>>,
    /// Targeted faults.
    #[serde(default)]
    pub fault: Vec<Spanned<FaultDoc>>,
    /// Expectations.
    #[serde(default)]
    pub expect: Vec<Spanned<ExpectDoc>>,
    /// What `simnet sweep` runs by default.
    pub sweep: Option<SweepDoc>,
}

/// `[sweep]`: the seeds and values `simnet sweep FILE` runs when the
/// command line does not give them, and the metric the book plots.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepDoc {
    /// `"1..200"` (inclusive), as `--seeds` takes it (default 1..100).
    pub seeds: Option<Spanned<String>>,
    /// `["link.loss=0%,1%,5%"]`, each as `--set` takes it.
    #[serde(default)]
    pub set: Vec<Spanned<String>>,
    /// The metric to plot (default `connection_max_ns`).
    pub metric: Option<Spanned<String>>,
}

/// `[[host]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostDoc {
    /// Name other entries refer to; with `replicas`, a pattern holding
    /// `{i}` (the replica's number, from 1), e.g. `client-{i}`.
    pub name: Spanned<String>,
    /// IPv4 address; with `replicas`, the first replica's, the others
    /// counting up from it.
    pub address: Spanned<String>,
    /// How many identical hosts this entry declares (default 1).
    pub replicas: Option<Spanned<i64>>,
    /// TCP options.
    pub tcp: Option<TcpDoc>,
    /// Ephemeral port range, `[first, last]`.
    pub port_range: Option<Spanned<[u16; 2]>>,
    /// Listen backlog (read as any whole number so that the range check
    /// can say "between 1 and 65535" for every wrong value alike).
    pub backlog: Option<Spanned<i64>>,
    /// What a SYN beyond the backlog gets: `drop` (Linux) or `reset`.
    pub backlog_overflow: Option<Spanned<String>>,
    /// MTU of the host's interface.
    pub mtu: Option<Spanned<i64>>,
    /// Default route: the neighbour packets to anywhere else go to.
    pub gateway: Option<Spanned<String>>,
    /// Static routes.
    #[serde(default)]
    pub routes: Vec<Spanned<RouteDoc>>,
}

/// `[[router]]`: a node that forwards packets between its links.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterDoc {
    /// Name other entries refer to; with `replicas`, a pattern holding `{i}`.
    pub name: Spanned<String>,
    /// Its own IPv4 address (ICMP errors come from it; a NAT's public
    /// address); with `replicas`, the first replica's.
    pub address: Spanned<String>,
    /// How many identical routers this entry declares (default 1).
    pub replicas: Option<Spanned<i64>>,
    /// Static routes.
    #[serde(default)]
    pub routes: Vec<Spanned<RouteDoc>>,
    /// Source NAT towards one neighbour.
    pub nat: Option<Spanned<NatDoc>>,
}

/// `{ to = "10.2.0.0/16", via = "r2" }`: one static route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    /// The prefix: `"10.2.0.0/16"`, `"10.2.0.7"` (one address) or `"default"`.
    pub to: Spanned<String>,
    /// The neighbour (joined by a link) packets to it go to.
    pub via: Spanned<String>,
}

/// `nat = { outside = "isp", idle_timeout = "60s" }`: a router's source NAT.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatDoc {
    /// The neighbour on the outside.
    pub outside: Spanned<String>,
    /// How long a mapping lives without a packet.
    pub idle_timeout: Spanned<Dur>,
    /// What a packet from outside with no mapping gets: `drop` (default) or `reset`.
    pub expired: Option<Spanned<String>>,
    /// The first public port handed out (default 1024).
    pub first_port: Option<Spanned<i64>>,
}

/// `[host.tcp]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpDoc {
    /// Receive buffer (bounds the window).
    pub rx_buffer: Option<Spanned<Size>>,
    /// Send buffer.
    pub tx_buffer: Option<Spanned<Size>>,
    /// Nagle's algorithm.
    pub nagle: Option<bool>,
    /// Delayed ACK timeout, or `"off"`.
    pub delayed_ack: Option<Spanned<String>>,
    /// Keepalive idle time.
    pub keepalive: Option<Spanned<Dur>>,
    /// User timeout.
    pub user_timeout: Option<Spanned<Dur>>,
    /// `none`, `reno` or `cubic`.
    pub congestion: Option<Spanned<String>>,
}

/// `[[link]]`, a `[link.a_to_b]` override, or a timeline `set_link`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDoc {
    /// The two hosts (only at the top level of a link or `set_link`).
    pub between: Option<Spanned<Vec<Spanned<String>>>>,
    /// In `set_link`: change only the direction leaving this host.
    pub from: Option<Spanned<String>>,
    /// One-way latency.
    pub latency: Option<Dur>,
    /// Jitter.
    pub jitter: Option<Dur>,
    /// Whether jitter may reorder.
    pub jitter_reorders: Option<bool>,
    /// Independent loss.
    pub loss: Option<Prob>,
    /// Bursty loss.
    pub burst_loss: Option<BurstLossDoc>,
    /// Duplication.
    pub duplicate: Option<Prob>,
    /// Reordering probability.
    pub reorder: Option<Prob>,
    /// Reordering delay.
    pub reorder_delay: Option<Dur>,
    /// Single-bit corruption.
    pub corrupt: Option<Prob>,
    /// Bandwidth (`"unlimited"` in `set_link` removes it).
    pub bandwidth: Option<Spanned<RateOrUnlimited>>,
    /// Queue size in bytes (drop-tail's limit; an active queue's too).
    pub queue: Option<Size>,
    /// Queue discipline: a name, or a table with its parameters.
    pub qdisc: Option<Spanned<QdiscDoc>>,
    /// MTU.
    pub mtu: Option<Spanned<i64>>,
    /// Overrides for the direction from `between[0]` to `between[1]`.
    pub a_to_b: Option<Spanned<Box<LinkDoc>>>,
    /// Overrides for the direction from `between[1]` to `between[0]`.
    pub b_to_a: Option<Spanned<Box<LinkDoc>>>,
}

/// A bit rate, or the word `unlimited`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateOrUnlimited {
    /// Bits per second.
    Rate(u64),
    /// No limit.
    Unlimited,
}

impl<'de> Deserialize<'de> for RateOrUnlimited {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RateOrUnlimited;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a bit rate such as \"10Mbps\", or \"unlimited\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RateOrUnlimited, E> {
                if text == "unlimited" {
                    return Ok(RateOrUnlimited::Unlimited);
                }
                crate::units::parse_bandwidth(text)
                    .map(RateOrUnlimited::Rate)
                    .map_err(E::custom)
            }
            // A bare number (`bandwidth = 0`) gets the same message as a
            // string without a unit, with a valid example.
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RateOrUnlimited, E> {
                Err(E::custom(crate::units::bandwidth_number_error(
                    &v.to_string(),
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RateOrUnlimited, E> {
                Err(E::custom(crate::units::bandwidth_float_error(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `qdisc = "codel"`, or `qdisc = { kind = "codel", target = "5ms" }`.
#[derive(Clone, Debug, PartialEq)]
pub enum QdiscDoc {
    /// Just the kind, with its default parameters.
    Name(String),
    /// The kind and some of its parameters.
    Table(QdiscTable),
}

/// The table form of [`QdiscDoc`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QdiscTable {
    /// `drop-tail`, `codel` or `fq_codel`.
    pub kind: Spanned<String>,
    /// CoDel's target queue delay.
    pub target: Option<Spanned<Dur>>,
    /// CoDel's interval.
    pub interval: Option<Spanned<Dur>>,
    /// fq_codel's number of flow queues.
    pub flows: Option<Spanned<i64>>,
    /// fq_codel's bytes per flow per round.
    pub quantum: Option<Spanned<i64>>,
}

impl<'de> Deserialize<'de> for QdiscDoc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = QdiscDoc;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a queue discipline: \"drop-tail\", \"codel\", \"fq_codel\", \
                     or a table such as { kind = \"codel\", target = \"5ms\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<QdiscDoc, E> {
                Ok(QdiscDoc::Name(text.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<QdiscDoc, A::Error> {
                QdiscTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(QdiscDoc::Table)
            }
        }
        d.deserialize_any(V)
    }
}

/// `burst_loss = { enter = "1%", exit = "30%", loss_bad = "100%", loss_good = "0%" }`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstLossDoc {
    /// Good → bad probability per frame.
    pub enter: Prob,
    /// Bad → good probability per frame.
    pub exit: Prob,
    /// Loss in the bad state (default 100%).
    pub loss_bad: Option<Prob>,
    /// Loss in the good state (default 0%).
    pub loss_good: Option<Prob>,
}

/// `[[app]]`: the common keys; everything else belongs to the app kind.
#[derive(Debug, Deserialize)]
pub struct AppDoc {
    /// The host it runs on.
    pub host: Spanned<String>,
    /// Its kind, from the registry.
    pub kind: Spanned<String>,
    /// A name for the timeline and expectations (default: the host's name,
    /// when the host runs only one application).
    pub name: Option<Spanned<String>>,
    /// When it starts (default 0s).
    pub start: Option<Spanned<Dur>>,
    /// With replicas: the entry's applications start evenly spread over
    /// this long from `start` (default 0s: all at once).
    pub start_spread: Option<Spanned<Dur>>,
    /// How many identical applications this entry runs on each of its
    /// hosts (default 1); they are named `NAME#1`, `NAME#2`, ...
    pub replicas: Option<Spanned<i64>>,
    /// The kind's own parameters.
    #[serde(flatten)]
    pub params: BTreeMap<String, toml::Value>,
}

/// `[[timeline]]`: one action at one time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineDoc {
    /// When.
    pub at: Spanned<Dur>,
    /// Change link parameters.
    pub set_link: Option<Spanned<LinkDoc>>,
    /// Take a link down: `link_down = ["client", "server"]`.
    pub link_down: Option<Spanned<Vec<Spanned<String>>>>,
    /// Bring a link up.
    pub link_up: Option<Spanned<Vec<Spanned<String>>>>,
    /// Partition hosts: `partition = [["client"], ["server"]]`.
    pub partition: Option<Spanned<Vec<Vec<Spanned<String>>>>>,
    /// Heal every partition: `heal = true`.
    pub heal: Option<Spanned<bool>>,
    /// Crash a host.
    pub crash: Option<Spanned<String>>,
    /// Restart a crashed host.
    pub restart: Option<Spanned<String>>,
    /// Give an application a command: `app = "client", command = "send", data = "hi"`.
    pub app: Option<Spanned<String>>,
    /// The command's verb.
    pub command: Option<Spanned<String>>,
    /// The command's text.
    pub data: Option<String>,
    /// The command's count.
    pub count: Option<u64>,
}

/// `[[fault]]`: do something to the Nth packet that matches.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultDoc {
    /// `drop`, `delay` or `duplicate`.
    pub action: Spanned<String>,
    /// With `action = "delay"`: how long.
    pub delay: Option<Spanned<Dur>>,
    /// Sent by this host.
    pub from: Option<Spanned<String>>,
    /// Sent to this host.
    pub to: Option<Spanned<String>>,
    /// `tcp` or `udp`.
    pub protocol: Option<Spanned<String>>,
    /// TCP flags that must be set, tcpdump letters (`F`, `S`, `R`, `P`, `.`).
    pub flags: Option<Spanned<String>>,
    /// TCP flags that must match exactly.
    pub flags_exact: Option<Spanned<String>>,
    /// Only segments with (true) or without (false) payload.
    pub payload: Option<bool>,
    /// Exactly this many payload bytes.
    pub len: Option<u32>,
    /// Only segments advertising a zero window.
    pub zero_window: Option<bool>,
    /// Source or destination port.
    pub port: Option<Port>,
    /// The sender's TCP state after sending, e.g. `TIME-WAIT`.
    pub state: Option<Spanned<String>>,
    /// Which match (from 1; default 1).
    pub nth: Option<Spanned<i64>>,
    /// How many consecutive matches (default 1).
    pub count: Option<Spanned<i64>>,
}

/// `[[expect]]`: one checkable claim about the run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDoc {
    /// A label for the report (default: generated from the claim).
    pub label: Option<Spanned<String>>,
    /// The host the claim is about.
    pub host: Option<Spanned<String>>,
    /// The application the claim is about.
    pub app: Option<Spanned<String>>,
    /// The time the claim is about (default: the end of the run).
    pub at: Option<Spanned<Dur>>,
    /// Only sockets or packets with this local/remote (or source/destination) port.
    pub port: Option<Spanned<Port>>,

    /// Claim: sockets of `host` in this TCP state at `at` (`count`, default `>= 1`).
    pub state: Option<Spanned<String>>,
    /// Claim: this host (and no other) entered TIME-WAIT.
    pub time_wait_on: Option<Spanned<String>>,
    /// Claim: bytes read by the applications of `host` (or `app`).
    pub bytes_received: Option<Spanned<Quantity>>,
    /// Claim: packets matching `flags`/`flags_exact`/`from`/`to`/`payload`.
    pub packets: Option<Spanned<Quantity>>,
    /// Claim: frames dropped (optionally for one `reason`).
    pub drops: Option<Spanned<Quantity>>,
    /// Claim: application events of this kind (with `fields`), `count` of them.
    pub event: Option<Spanned<String>>,
    /// Claim: retransmitted segments. Like the other three flow claims
    /// below, it counts over the data `host` sent (every flow, if absent):
    /// the segments `host` retransmitted.
    pub retransmissions: Option<Spanned<Quantity>>,
    /// Claim: duplicate ACKs, over the data `host` sent: those `host`
    /// received from its receiver.
    pub duplicate_acks: Option<Spanned<Quantity>>,
    /// Claim: window probes, over the data `host` sent: those `host` sent.
    pub window_probes: Option<Spanned<Quantity>>,
    /// Claim: zero-window periods, over the data `host` sent: the times
    /// its receiver advertised a zero window to `host`.
    pub zero_windows: Option<Spanned<Quantity>>,

    /// How many (for `state` and `event`).
    pub count: Option<Spanned<Quantity>>,
    /// Packet filter: flags that must be set.
    pub flags: Option<Spanned<String>>,
    /// Packet filter: exact flags.
    pub flags_exact: Option<Spanned<String>>,
    /// Packet filter: sender.
    pub from: Option<Spanned<String>>,
    /// Packet filter: receiver.
    pub to: Option<Spanned<String>>,
    /// Packet filter: with or without payload.
    pub payload: Option<Spanned<bool>>,
    /// Packet filter: exactly this many payload bytes.
    pub len: Option<Spanned<u32>>,
    /// Packet filter: advertising a zero window.
    pub zero_window: Option<Spanned<bool>>,
    /// Drop filter: the reason (`loss`, `queue-full`, ...).
    pub reason: Option<Spanned<String>>,
    /// Event filter: field values that must match (numbers and durations
    /// may be comparisons such as `"< 50ms"`).
    pub fields: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

/// A TCP or UDP port, 1 to 65535 (port 0 never appears on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(pub u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port between 1 and 65535, e.g. 80")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Port, E> {
                u16::try_from(v)
                    .ok()
                    .filter(|p| *p != 0)
                    .map(Port)
                    .ok_or_else(|| {
                        // The same words as an application's `port`.
                        E::custom(format!(
                            "`port` must be a port between 1 and 65535, not {v}"
                        ))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

/// A number, or a comparison: `3`, `">= 3"`, `"< 10"`, `"2..5"` (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Exactly.
    Exactly(u64),
    /// At least.
    AtLeast(u64),
    /// At most.
    AtMost(u64),
    /// Within (inclusive).
    Between(u64, u64),
}

impl Quantity {
    /// Whether `n` satisfies it.
    pub fn holds(self, n: u64) -> bool {
        match self {
            Quantity::Exactly(x) => n == x,
            Quantity::AtLeast(x) => n >= x,
            Quantity::AtMost(x) => n <= x,
            Quantity::Between(a, b) => (a..=b).contains(&n),
        }
    }

    /// Parses `3`, `>= 3`, `> 2`, `<= 4`, `< 5`, `2..5`.
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let t = text.trim();
        let num = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| {
                format!("`{t}` is not a count: write e.g. 3, \">= 3\", \"< 10\" or \"2..5\"")
            })
        };
        if let Some(r) = t.strip_prefix(">=") {
            Ok(Quantity::AtLeast(num(r)?))
        } else if let Some(r) = t.strip_prefix("<=") {
            Ok(Quantity::AtMost(num(r)?))
        } else if let Some(r) = t.strip_prefix('>') {
            let n = num(r)?;
            // `> u64::MAX` can never hold, like `< 0` below.
            n.checked_add(1)
                .map(Quantity::AtLeast)
                .ok_or_else(|| format!("`{t}` can never hold"))
        } else if let Some(r) = t.strip_prefix('<') {
            let n = num(r)?;
            if n == 0 {
                return Err(format!("`{t}` can never hold"));
            }
            Ok(Quantity::AtMost(n - 1))
        } else if let Some((a, b)) = t.split_once("..") {
            let (a, b) = (num(a)?, num(b.trim_start_matches('='))?);
            if a > b {
                return Err(format!("`{t}` is an empty range"));
            }
            Ok(Quantity::Between(a, b))
        } else {
            Ok(Quantity::Exactly(num(t)?))
        }
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quantity::Exactly(n) => write!(f, "{n}"),
            Quantity::AtLeast(n) => write!(f, ">= {n}"),
            Quantity::AtMost(n) => write!(f, "<= {n}"),
            Quantity::Between(a, b) => write!(f, "{a}..{b}"),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a count such as 3, \">= 3\" or \"2..5\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                u64::try_from(v)
                    .map(Quantity::Exactly)
                    .map_err(|_| E::custom(format!("`{v}`: a count cannot be negative")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(Quantity::parse("3"), Ok(Quantity::Exactly(3)));
        assert_eq!(Quantity::parse(">= 3"), Ok(Quantity::AtLeast(3)));
        assert_eq!(Quantity::parse("> 3"), Ok(Quantity::AtLeast(4)));
        assert_eq!(Quantity::parse("< 3"), Ok(Quantity::AtMost(2)));
        assert_eq!(Quantity::parse("2..5"), Ok(Quantity::Between(2, 5)));
        assert!(Quantity::parse("5..2").is_err());
        assert!(Quantity::parse("< 0").is_err());
        assert!(Quantity::parse("lots").is_err());
        assert!(Quantity::Between(2, 5).holds(5));
        // Used to overflow (a panic in debug builds, `>= 0` in release).
        assert!(Quantity::parse("> 18446744073709551615").is_err());
    }
}

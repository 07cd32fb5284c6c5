//! `[[fault]]` and `[[expect]]`: targeted faults that can match, and claims
//! about event kinds, fields, states and flows that some application or the
//! stack can really produce.

use super::*;
use crate::expect::Members;

impl Compiler<'_> {
    /// Refuses an event kind no registered application emits: the claim
    /// could only ever count zero.
    fn event_kind(&mut self, kind: &Spanned<String>) {
        let k = kind.get_ref();
        let known: Vec<&'static str> = self.registry.event_kinds().collect();
        if known.is_empty() || known.contains(&k.as_str()) {
            return;
        }
        let help = match suggest(k, known.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => {
                let family = k.split('.').next().unwrap_or("");
                let same: Vec<&str> = known
                    .iter()
                    .copied()
                    .filter(|n| n.split('.').next() == Some(family))
                    .collect();
                if same.is_empty() {
                    let mut families: Vec<String> = known
                        .iter()
                        .filter_map(|n| n.split('.').next())
                        .map(|f| format!("{f}."))
                        .collect();
                    families.dedup();
                    format!(
                        "event kinds start with {} (e.g. \"http.response\"); \
                         `simnet run --format jsonl` shows every event of a run",
                        families.join(", ")
                    )
                } else {
                    format!("`{family}` events: {}", same.join(", "))
                }
            }
        };
        self.error_help(format!("unknown event kind `{k}`"), span(kind), help);
    }

    /// Refuses a field name no application event carries, and a comparison
    /// without a unit on a field that holds a duration.
    fn event_field(
        &mut self,
        key: &str,
        value: &toml::Value,
        m: &FieldMatch,
        sp: Option<Range<usize>>,
    ) {
        let known: Vec<&'static str> = self.registry.event_fields().collect();
        if !known.is_empty() && !known.contains(&key) {
            let help = match suggest(key, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("fields events carry: {}", known.join(", ")),
            };
            self.error_help(
                format!("no application event has a field `{key}`"),
                sp,
                help,
            );
            return;
        }
        let bare_number = match (m, value) {
            (FieldMatch::Int(_), _) => true,
            (FieldMatch::Text(t), _) => t.trim().parse::<f64>().is_ok(),
            _ => false,
        };
        if self.registry.is_duration_field(key) && bare_number {
            let shown = match value {
                toml::Value::String(t) => format!("\"{t}\""),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                _ => "this value".to_string(),
            };
            self.error_help(
                format!("`{key}` is a duration, so {shown} needs a unit"),
                sp,
                format!("write e.g. {key} = \"< 20ms\" (units: ns, us, ms, s)"),
            );
        }
    }
    pub(super) fn faults(&mut self, doc: &Document) -> Vec<TargetedFault> {
        let mut out = Vec::new();
        for f in &doc.fault {
            if let Some(fault) = self.fault(f) {
                out.push(fault);
            }
        }
        out
    }

    fn flags(&mut self, s: &Option<Spanned<String>>) -> Option<TcpFlags> {
        let s = s.as_ref()?;
        match TcpFlags::parse(s.get_ref()) {
            Some(f) if f.0 != 0 => Some(f),
            _ => {
                self.error_help(
                    format!("`{}` is not a set of TCP flags", s.get_ref()),
                    span(s),
                    "tcpdump letters: S (SYN), F (FIN), R (RST), P (PSH), U (URG), . or A (ACK), e.g. \"F.\"",
                );
                None
            }
        }
    }

    fn state(&mut self, s: &Spanned<String>) -> Option<TcpState> {
        let st = TcpState::parse(s.get_ref());
        if st.is_none() {
            let names: Vec<&str> = TcpState::ALL.iter().map(|s| s.as_str()).collect();
            self.error_help(
                format!("unknown TCP state `{}`", s.get_ref()),
                span(s),
                format!("one of: {}", names.join(", ")),
            );
        }
        st
    }

    fn fault(&mut self, f: &Spanned<FaultDoc>) -> Option<TargetedFault> {
        let fd = f.get_ref();
        let action = match (fd.action.get_ref().as_str(), &fd.delay) {
            ("drop", None) => FaultAction::Drop,
            ("duplicate", None) => FaultAction::Duplicate,
            ("delay", Some(d)) => FaultAction::Delay(d.get_ref().0),
            ("delay", None) => {
                self.error_help(
                    "`action = \"delay\"` needs `delay`",
                    span(&fd.action),
                    "add e.g. delay = \"2s\"",
                );
                return None;
            }
            ("drop" | "duplicate", Some(d)) => {
                self.error("`delay` only goes with `action = \"delay\"`", span(d));
                return None;
            }
            (other, _) => {
                self.error_help(
                    format!("unknown fault action `{other}`"),
                    span(&fd.action),
                    "one of: drop, delay, duplicate",
                );
                return None;
            }
        };
        let from = fd.from.as_ref().map(|h| self.host(h));
        let to = fd.to.as_ref().map(|h| self.host(h));
        let protocol = match &fd.protocol {
            None => None,
            Some(p) => match p.get_ref().as_str() {
                "tcp" => Some(Protocol::Tcp),
                "udp" => Some(Protocol::Udp),
                other => {
                    self.error_help(format!("unknown protocol `{other}`"), span(p), "tcp or udp");
                    return None;
                }
            },
        };
        let flags = self.flags(&fd.flags);
        let flags_exact = self.flags(&fd.flags_exact);
        let sender_state = fd.state.as_ref().and_then(|s| self.state(s));
        let max = i64::from(u32::MAX);
        let nth = self.whole(&fd.nth, "nth", (1, max), 1).unwrap_or(1) as u32;
        let count = self.whole(&fd.count, "count", (1, max), 1).unwrap_or(1) as u32;
        let (Some(from), Some(to)) = (
            from.unwrap_or(Some(HostId(u32::MAX))),
            to.unwrap_or(Some(HostId(u32::MAX))),
        ) else {
            return None;
        };
        let from = (from.0 != u32::MAX).then_some(from);
        let to = (to.0 != u32::MAX).then_some(to);
        let filter = PacketFilter {
            from,
            to,
            protocol,
            flags,
            flags_exact,
            payload: fd.payload,
            len: fd.len,
            zero_window: fd.zero_window,
            port: fd.port.map(|p| p.0),
            sender_state,
        };
        if let Some(why) = filter.is_contradictory() {
            self.error_help("this fault can never match a packet", span(f), why);
            return None;
        }
        if let (Some(a), Some(b)) = (from, to)
            && !self.link_pairs.contains_key(&ordered(a, b))
        {
            self.error_help(
                "this fault can never match a packet",
                span(f),
                "no link joins its `from` and `to` hosts, so no packet goes that way",
            );
            return None;
        }
        if flags_exact.is_some_and(|f| f.syn() && f.fin())
            || flags.is_some_and(|f| f.syn() && f.fin())
        {
            self.error_help(
                "this fault can never match a packet",
                span(f),
                "smoltcp never sends SYN and FIN together",
            );
            return None;
        }
        Some(TargetedFault {
            filter,
            nth: nth.max(1),
            count: count.max(1),
            action,
        })
    }

    pub(super) fn expectations(&mut self, doc: &Document) -> Vec<Expectation> {
        let mut out = Vec::new();
        for e in &doc.expect {
            if let Some(x) = self.expectation(e) {
                out.push(x);
            }
        }
        out
    }

    fn expectation(&mut self, e: &Spanned<ExpectDoc>) -> Option<Expectation> {
        let ed = e.get_ref();
        let claims: Vec<&str> = [
            ("state", ed.state.is_some()),
            ("time_wait_on", ed.time_wait_on.is_some()),
            ("bytes_received", ed.bytes_received.is_some()),
            ("packets", ed.packets.is_some()),
            ("drops", ed.drops.is_some()),
            ("event", ed.event.is_some()),
            ("retransmissions", ed.retransmissions.is_some()),
            ("duplicate_acks", ed.duplicate_acks.is_some()),
            ("window_probes", ed.window_probes.is_some()),
            ("zero_windows", ed.zero_windows.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| k)
        .collect();
        if claims.len() != 1 {
            self.error_help(
                format!(
                    "an expectation makes exactly one claim, this one makes {}",
                    claims.len()
                ),
                span(e),
                format!("one of: {}", CLAIMS.join(", ")),
            );
            return None;
        }
        if !self.claim_keys(ed, claims[0]) {
            return None;
        }
        // A pattern (`client-*`) or a replicated application's name stands
        // for a group: the claim is judged over all of it.
        let mut groups = Groups::default();
        let host = match &ed.host {
            Some(h) => Some(self.host_ref(h, &mut groups.hosts)?),
            None => None,
        };
        let app = match &ed.app {
            Some(a) => {
                let ids = self.apps_matching(a)?;
                if ids.len() > 1 || !self.app_index.contains_key(a.get_ref()) {
                    groups.apps = Some(Members {
                        pattern: a.get_ref().clone(),
                        ids: ids.iter().copied().collect(),
                    });
                }
                Some(ids[0])
            }
            None => None,
        };
        let at = ed.at.as_ref().map(|t| SimTime::ZERO + t.get_ref().0);
        let claim = match claims[0] {
            "state" => {
                let st = self.state(ed.state.as_ref().expect("chosen"))?;
                let Some(host) = host else {
                    self.error("a `state` expectation needs `host`", span(e));
                    return None;
                };
                Claim::State {
                    host,
                    state: st,
                    at,
                    port: ed.port.as_ref().map(|p| p.get_ref().0),
                    count: ed
                        .count
                        .as_ref()
                        .map_or(Quantity::AtLeast(1), |c| *c.get_ref()),
                }
            }
            "time_wait_on" => Claim::TimeWaitOn {
                host: self
                    .host_ref(ed.time_wait_on.as_ref().expect("chosen"), &mut groups.hosts)?,
            },
            "bytes_received" => {
                if host.is_none() && app.is_none() {
                    self.error(
                        "a `bytes_received` expectation needs `host` or `app`",
                        span(e),
                    );
                    return None;
                }
                Claim::BytesReceived {
                    host,
                    app,
                    at,
                    quantity: *ed.bytes_received.as_ref().expect("chosen").get_ref(),
                }
            }
            "packets" => {
                let from = match &ed.from {
                    Some(h) => Some(self.host_ref(h, &mut groups.hosts)?),
                    None => None,
                };
                let to = match &ed.to {
                    Some(h) => Some(self.host_ref(h, &mut groups.to)?),
                    None => None,
                };
                Claim::Packets {
                    filter: PacketFilter {
                        from: from.or(host),
                        to,
                        flags: self.flags(&ed.flags),
                        flags_exact: self.flags(&ed.flags_exact),
                        payload: ed.payload.as_ref().map(|v| *v.get_ref()),
                        len: ed.len.as_ref().map(|v| *v.get_ref()),
                        zero_window: ed.zero_window.as_ref().map(|v| *v.get_ref()),
                        port: ed.port.as_ref().map(|p| p.get_ref().0),
                        ..PacketFilter::default()
                    },
                    at,
                    quantity: *ed.packets.as_ref().expect("chosen").get_ref(),
                }
            }
            metric @ ("retransmissions" | "duplicate_acks" | "window_probes" | "zero_windows") => {
                let (metric, quantity) = match metric {
                    "retransmissions" => (FlowMetric::Retransmissions, &ed.retransmissions),
                    "duplicate_acks" => (FlowMetric::DuplicateAcks, &ed.duplicate_acks),
                    "window_probes" => (FlowMetric::WindowProbes, &ed.window_probes),
                    _ => (FlowMetric::ZeroWindows, &ed.zero_windows),
                };
                Claim::Flow {
                    metric,
                    sender: host,
                    quantity: *quantity.as_ref().expect("chosen").get_ref(),
                }
            }
            "drops" => {
                let reason = match &ed.reason {
                    None => None,
                    Some(r) => match drop_reason(r.get_ref()) {
                        Some(r) => Some(r),
                        None => {
                            self.error_help(
                                format!("unknown drop reason `{}`", r.get_ref()),
                                span(r),
                                "one of: loss, burst-loss, queue-full, mtu, link-down, partition, no-route, host-down, fault, ttl-exceeded, aqm, nat-no-mapping",
                            );
                            return None;
                        }
                    },
                };
                Claim::Drops {
                    reason,
                    from: host,
                    quantity: *ed.drops.as_ref().expect("chosen").get_ref(),
                }
            }
            _ => {
                let kind = ed.event.as_ref().expect("chosen");
                self.event_kind(kind);
                let mut fields = Vec::new();
                if let Some(f) = &ed.fields {
                    for (k, v) in f.get_ref() {
                        let sp = field_key_span(self.source, f.span(), k).or(span(f));
                        match FieldMatch::from_toml(v) {
                            Ok(m) => {
                                self.event_field(k, v, &m, sp);
                                fields.push((k.clone(), m));
                            }
                            Err(msg) => self.error(format!("field `{k}`: {msg}"), sp),
                        }
                    }
                }
                Claim::Event {
                    kind: ed.event.as_ref().expect("chosen").get_ref().clone(),
                    host,
                    app,
                    fields,
                    at,
                    count: ed
                        .count
                        .as_ref()
                        .map_or(Quantity::AtLeast(1), |c| *c.get_ref()),
                }
            }
        };
        let claim = if groups.hosts.is_none() && groups.to.is_none() && groups.apps.is_none() {
            claim
        } else {
            Claim::Group {
                claim: Box::new(claim),
                hosts: groups.hosts,
                to: groups.to,
                apps: groups.apps,
            }
        };
        Some(Expectation {
            label: ed.label.as_ref().map(|l| l.get_ref().clone()),
            claim,
        })
    }

    /// Refuses a key the claim would ignore (`at` on a `zero_windows`
    /// claim, `count` on `packets`, ...), pointing at it and listing the
    /// keys the claim takes: a key that silently changes nothing would
    /// make the reader believe the claim says more than it does.
    fn claim_keys(&mut self, ed: &ExpectDoc, claim: &str) -> bool {
        let given: [(&str, Option<Range<usize>>); 15] = [
            ("host", ed.host.as_ref().map(Spanned::span)),
            ("app", ed.app.as_ref().map(Spanned::span)),
            ("at", ed.at.as_ref().map(Spanned::span)),
            ("port", ed.port.as_ref().map(Spanned::span)),
            ("count", ed.count.as_ref().map(Spanned::span)),
            ("flags", ed.flags.as_ref().map(Spanned::span)),
            ("flags_exact", ed.flags_exact.as_ref().map(Spanned::span)),
            ("from", ed.from.as_ref().map(Spanned::span)),
            ("to", ed.to.as_ref().map(Spanned::span)),
            ("payload", ed.payload.as_ref().map(Spanned::span)),
            ("len", ed.len.as_ref().map(Spanned::span)),
            ("zero_window", ed.zero_window.as_ref().map(Spanned::span)),
            ("reason", ed.reason.as_ref().map(Spanned::span)),
            ("fields", ed.fields.as_ref().map(Spanned::span)),
            ("label", ed.label.as_ref().map(Spanned::span)),
        ];
        let takes = claim_takes(claim);
        let mut ok = true;
        for (key, sp) in given {
            if let Some(sp) = sp
                && key != "label"
                && !takes.contains(&key)
            {
                ok = false;
                let help = if takes.is_empty() {
                    format!("a `{claim}` claim takes no other key but `label`")
                } else if takes == ["host"] {
                    format!(
                        "a `{claim}` claim takes: host (the data sender: it counts over the data that host sent), label"
                    )
                } else {
                    format!("a `{claim}` claim takes: {}, label", takes.join(", "))
                };
                self.error_help(
                    format!("`{key}` does not go with a `{claim}` claim"),
                    Some(sp),
                    help,
                );
            }
        }
        ok
    }

    /// Resolves an expectation's host: one host, or (for a pattern such as
    /// `client-*`) the first of a group, the group kept in `group`.
    fn host_ref(
        &mut self,
        name: &Spanned<String>,
        group: &mut Option<Members<HostId>>,
    ) -> Option<HostId> {
        let ids = self.hosts_matching(name)?;
        if name.get_ref().contains('*') {
            *group = Some(Members {
                pattern: name.get_ref().clone(),
                ids: ids.iter().copied().collect(),
            });
        }
        Some(ids[0])
    }
}

/// Every claim an `[[expect]]` can make.
pub(super) const CLAIMS: [&str; 10] = [
    "state",
    "time_wait_on",
    "bytes_received",
    "packets",
    "drops",
    "event",
    "retransmissions",
    "duplicate_acks",
    "window_probes",
    "zero_windows",
];

/// The keys each claim of an `[[expect]]` reads besides the claim itself
/// and `label` (the book's scenario-format page lists the same).
pub(super) fn claim_takes(claim: &str) -> &'static [&'static str] {
    match claim {
        "state" => &["host", "at", "port", "count"],
        "time_wait_on" => &[],
        "bytes_received" => &["host", "app", "at"],
        "packets" => &[
            "host",
            "from",
            "to",
            "flags",
            "flags_exact",
            "payload",
            "len",
            "zero_window",
            "port",
            "at",
        ],
        "drops" => &["host", "reason"],
        "event" => &["host", "app", "fields", "at", "count"],
        // The four flow claims: `host` is the data sender.
        _ => &["host"],
    }
}

/// The groups an expectation names.
#[derive(Default)]
struct Groups {
    hosts: Option<Members<HostId>>,
    to: Option<Members<HostId>>,
    apps: Option<Members<AppId>>,
}

/// The span of `key = ` inside an inline `fields = { ... }` table, found
/// in the text (serde's maps keep no positions for their keys).
pub(super) fn field_key_span(source: &str, table: Range<usize>, key: &str) -> Option<Range<usize>> {
    let text = source.get(table.clone())?;
    let mut from = 0;
    while let Some(i) = text[from..].find(key) {
        let start = from + i;
        let before = text[..start].chars().next_back();
        let after = text[start + key.len()..].trim_start();
        if before.is_some_and(|c| c == '{' || c == ',' || c.is_whitespace() || c == '"')
            && (after.starts_with('=') || after.starts_with('"'))
        {
            let start = table.start + start;
            return Some(start..start + key.len());
        }
        from = start + key.len();
    }
    None
}

pub(super) fn drop_reason(text: &str) -> Option<DropReason> {
    [
        DropReason::Loss,
        DropReason::BurstLoss,
        DropReason::QueueFull,
        DropReason::Mtu,
        DropReason::LinkDown,
        DropReason::Partition,
        DropReason::NoRoute,
        DropReason::HostDown,
        DropReason::Fault,
        DropReason::TtlExceeded,
        DropReason::Aqm,
        DropReason::NatNoMapping,
    ]
    .into_iter()
    .find(|r| r.as_str() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scenario-format page documents every claim the loader accepts,
    /// with every key the claim takes.
    #[test]
    fn the_book_documents_every_claim_and_its_keys() {
        let page = include_str!("../../../../book/src/reference/scenario-format.md");
        let section = &page[page.find("## `[[expect]]`").expect("the section")..];
        for claim in CLAIMS {
            let row = section
                .lines()
                .find(|l| l.starts_with(&format!("| `{claim} = ")))
                .unwrap_or_else(|| panic!("no row for `{claim}`"));
            for key in claim_takes(claim) {
                // `packets` takes `host` as `from`, said below the table.
                if claim == "packets" && *key == "host" {
                    continue;
                }
                assert!(
                    row.contains(&format!("`{key}`")),
                    "the row of `{claim}` does not name `{key}`"
                );
            }
        }
    }
}

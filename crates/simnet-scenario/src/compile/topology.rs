//! Topologies: `[[router]]` entries, the `routes` and `gateway` of hosts
//! and routers, a router's `nat`, and a link's `qdisc`.
//!
//! Routers are hosts to the rest of the compiler (they share names,
//! addresses, replicas and patterns), remembered in `router_ids`. Routes
//! are checked once per entry and then given to each of its replicas: a
//! next hop must be joined to the node by a link, as
//! [`WorldBuilder::route`] requires, and is reported at the route's `via`
//! when it is not.

use super::*;
use crate::diagnostic::suggest;
use crate::format::{HostDoc, NatDoc, QdiscDoc, RouteDoc};
use simnet_core::qdisc::{CodelParams, FqCodelParams, Qdisc};
use simnet_core::{BuildError, NatExpiredAction};

/// The most routes a scenario may expand to (every replica gets its
/// entry's routes): a gateway and a route of its own on each of a million
/// hosts.
pub const MAX_ROUTES: usize = 2 * MAX_REPLICAS;

/// Static routes: node, prefix, next hop.
pub(super) type Routes = Vec<(HostId, Ipv4Net, HostId)>;

/// The queue disciplines, as `qdisc` names them.
const QDISCS: [&str; 3] = ["drop-tail", "codel", "fq_codel"];

/// The most neighbours an error lists.
const SHOWN_NEIGHBOURS: usize = 8;

impl Compiler<'_> {
    /// "router" or "host", for messages.
    pub(super) fn node_word(&self, id: HostId) -> &'static str {
        if self.router_ids.contains(&id) {
            "router"
        } else {
            "host"
        }
    }

    /// Declares the `[[router]]` entries, after the hosts: hosts whose
    /// world node forwards packets, with names and addresses checked
    /// against every host's.
    pub(super) fn routers(
        &mut self,
        doc: &Document,
        out: &mut Vec<(String, Ipv4Addr, HostConfig)>,
    ) {
        for r in &doc.router {
            let replicas = self.replicas(&r.replicas).unwrap_or(1);
            // A router is declared as a host (its replicas and names work
            // alike); it has no host options of its own.
            let as_host = HostDoc {
                name: r.name.clone(),
                address: r.address.clone(),
                replicas: r.replicas.clone(),
                tcp: None,
                port_range: None,
                backlog: None,
                backlog_overflow: None,
                mtu: None,
                gateway: None,
                routes: Vec::new(),
            };
            let replicas = self.host_template(&as_host, replicas, "router");
            let addr = self.address(&r.address, "a router's");
            let first = self.host_names.len() as u32;
            self.add_hosts(
                &as_host,
                r.name.get_ref(),
                (replicas, "router"),
                addr,
                HostConfig::default(),
                out,
            );
            let ids = first..self.host_names.len() as u32;
            self.router_ids.extend(ids.clone().map(HostId));
            self.router_entry_ids.push(ids);
        }
    }

    /// The routes of every host and router (a `gateway` is a route to
    /// `default`) and the routers' NATs, once the links are known.
    pub(super) fn routes(&mut self, doc: &Document) -> (Routes, Vec<(HostId, NatConfig)>) {
        let mut routes = Vec::new();
        let mut nats = Vec::new();
        let host_ids = std::mem::take(&mut self.host_entry_ids);
        let router_ids = std::mem::take(&mut self.router_entry_ids);
        for (h, ids) in doc.host.iter().zip(&host_ids) {
            self.node_routes(ids.clone(), &h.routes, h.gateway.as_ref(), &mut routes);
        }
        for (r, ids) in doc.router.iter().zip(&router_ids) {
            self.node_routes(ids.clone(), &r.routes, None, &mut routes);
            if let Some(nat) = &r.nat {
                self.nat(ids.clone(), nat, &mut nats);
            }
        }
        (routes, nats)
    }

    /// One entry's routes, given to each of its nodes `ids`.
    fn node_routes(
        &mut self,
        ids: Range<u32>,
        routes: &[Spanned<RouteDoc>],
        gateway: Option<&Spanned<String>>,
        out: &mut Vec<(HostId, Ipv4Net, HostId)>,
    ) {
        // Checked once for the entry: (prefix, next hop, where `via` is).
        let mut planned: Vec<(Ipv4Net, HostId, &Spanned<String>)> = Vec::new();
        // Each prefix's first route, by the position of its `to`.
        let mut seen: BTreeMap<Ipv4Net, usize> = BTreeMap::new();
        if let Some(g) = gateway
            && let Some(via) = self.next_hop(g, "gateway")
        {
            planned.push((Ipv4Net::DEFAULT, via, g));
        }
        for r in routes {
            let rd = r.get_ref();
            let prefix = self.prefix(&rd.to);
            let via = self.next_hop(&rd.via, "via");
            let Some(prefix) = prefix else {
                continue;
            };
            if prefix == Ipv4Net::DEFAULT
                && let Some(g) = gateway
            {
                self.error_help(
                    "both `gateway` and this route give the default route",
                    span(&rd.to),
                    format!(
                        "keep one: gateway = \"{}\" is short for {{ to = \"default\", via = \"{}\" }}",
                        g.get_ref(),
                        g.get_ref()
                    ),
                );
                continue;
            }
            if let Some(&first) = seen.get(&prefix) {
                let line = self.source[..first].matches('\n').count() + 1;
                self.error_help(
                    format!("two routes to {prefix}"),
                    span(&rd.to),
                    format!(
                        "the first is on line {line}; keep one (different prefixes may overlap: the longest match wins)"
                    ),
                );
                continue;
            }
            seen.insert(prefix, rd.to.span().start);
            if let Some(via) = via {
                planned.push((prefix, via, &rd.via));
            }
        }
        let total = out.len() + planned.len() * ids.len();
        if total > MAX_ROUTES {
            let at = planned.first().map(|(_, _, v)| v.span());
            self.error_help(
                format!(
                    "this would make {total} routes, more than the {MAX_ROUTES} a scenario may have"
                ),
                at,
                "every replica gets its entry's routes: use fewer replicas or fewer routes",
            );
            return;
        }
        for (prefix, via, via_name) in planned {
            // One error per route, not one per replica.
            for node in ids.clone().map(HostId) {
                if !self.joined(node, via, via_name) {
                    break;
                }
                out.push((node, prefix, via));
            }
        }
    }

    /// Whether a link joins `node` to its next hop `via` (reported at
    /// `at` when not, as the world would refuse it).
    fn joined(&mut self, node: HostId, via: HostId, at: &Spanned<String>) -> bool {
        let name = self.host_names[node.0 as usize].0.clone();
        if node == via {
            self.error_help(
                format!("`{name}` cannot route via itself"),
                span(at),
                "name the neighbour the packets go to next",
            );
            return false;
        }
        if self.link_pairs.contains_key(&ordered(node, via)) {
            return true;
        }
        let via_name = self.host_names[via.0 as usize].0.clone();
        let help = format!(
            "add a [[link]] between = [\"{name}\", \"{via_name}\"]; {}",
            self.neighbours(node)
        );
        self.error_help(
            BuildError::NotANeighbour(name, via_name).to_string(),
            span(at),
            help,
        );
        false
    }

    /// `node`'s neighbours in words, for help texts.
    fn neighbours(&self, node: HostId) -> String {
        let mut names: Vec<&str> = Vec::new();
        let mut more = 0;
        for &(a, b) in &self.link_ends {
            let other = match (a == node, b == node) {
                (true, _) => b,
                (_, true) => a,
                _ => continue,
            };
            if names.len() < SHOWN_NEIGHBOURS {
                names.push(&self.host_names[other.0 as usize].0);
            } else {
                more += 1;
            }
        }
        let name = &self.host_names[node.0 as usize].0;
        match (names.is_empty(), more) {
            (true, _) => format!("`{name}` has no links yet"),
            (false, 0) => format!("`{name}`'s neighbours: {}", names.join(", ")),
            (false, n) => format!("`{name}`'s neighbours: {}, and {n} more", names.join(", ")),
        }
    }

    /// Resolves the node a `via`, `gateway` or `outside` names (`key`).
    /// A host that is not a router is allowed, with a warning: it does not
    /// forward what it receives.
    fn next_hop(&mut self, name: &Spanned<String>, key: &str) -> Option<HostId> {
        let Some(&id) = self.host_index.get(name.get_ref()) else {
            let list = self.host_list();
            let help = match suggest(name.get_ref(), self.host_entries.iter().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`? {list}"),
                None => list,
            };
            self.error_help(
                format!("`{key}` names no host or router: `{}`", name.get_ref()),
                span(name),
                help,
            );
            return None;
        };
        if key != "outside" && !self.router_ids.contains(&id) {
            self.warnings.push(
                Diagnostic::new(
                    format!(
                        "`{}` is a host, not a router: what is routed via it goes no further",
                        name.get_ref()
                    ),
                    span(name),
                )
                .help("declare it as a [[router]] to have it forward packets"),
            );
        }
        Some(id)
    }

    /// A route's `to`: `"10.2.0.0/16"`, `"10.2.0.7"` or `"default"`.
    fn prefix(&mut self, to: &Spanned<String>) -> Option<Ipv4Net> {
        let text = to.get_ref();
        let e = match text.parse::<Ipv4Net>() {
            Ok(net) => return Some(net),
            Err(e) => e,
        };
        // The one way a well-formed prefix fails: bits set after the mask.
        let masked = text.split_once('/').and_then(|(a, l)| {
            let a = a.parse::<Ipv4Addr>().ok()?;
            let l = l
                .parse::<u8>()
                .ok()
                .filter(|_| l.bytes().all(|b| b.is_ascii_digit()))?;
            Some((a, Ipv4Net::new(a, l)?))
        });
        match masked {
            Some((addr, net)) => self.error_help(
                format!("`{text}` has host bits set: its network is {net}"),
                span(to),
                format!(
                    "write to = \"{net}\" for the network, or to = \"{addr}\" for that one address"
                ),
            ),
            None => self.error(e.to_string(), span(to)),
        }
        None
    }

    /// A router entry's `nat`, on each of its routers `ids`.
    fn nat(&mut self, ids: Range<u32>, nat: &Spanned<NatDoc>, out: &mut Vec<(HostId, NatConfig)>) {
        let nd = nat.get_ref();
        let outside = self.next_hop(&nd.outside, "outside");
        let idle = nd.idle_timeout.get_ref().0;
        if idle == SimDuration::ZERO {
            self.error_help(
                "`idle_timeout` must be longer than 0s: every mapping would be forgotten at once",
                span(&nd.idle_timeout),
                "e.g. idle_timeout = \"60s\" (a home router forgets an idle TCP mapping after minutes to hours, a cloud NAT after 350s)",
            );
        }
        let on_expired = match nd.expired.as_ref().map(|e| (e, e.get_ref().as_str())) {
            None | Some((_, "drop")) => NatExpiredAction::Drop,
            Some((_, "reset")) => NatExpiredAction::Reset,
            Some((e, other)) => {
                self.error_help(
                    format!("unknown `expired` action `{other}`"),
                    span(e),
                    "one of: drop (the default: the packet vanishes and the sender times out), reset (a TCP segment is answered with RST)",
                );
                NatExpiredAction::Drop
            }
        };
        let first_port = match &nd.first_port {
            None => Some(1024),
            Some(_) => self
                .whole(&nd.first_port, "first_port", (1, 65535), 1024)
                .map(|p| p as u16),
        };
        let (Some(outside), Some(first_port)) = (outside, first_port) else {
            return;
        };
        if idle == SimDuration::ZERO {
            return;
        }
        for node in ids.map(HostId) {
            let name = self.host_names[node.0 as usize].0.clone();
            let out_name = nd.outside.get_ref();
            if node == outside {
                self.error_help(
                    format!("`{name}`'s NAT cannot face `{name}` itself"),
                    span(&nd.outside),
                    "`outside` names the neighbour on the public side",
                );
                return;
            }
            if !self.link_pairs.contains_key(&ordered(node, outside)) {
                let help = format!(
                    "`outside` names the neighbour on the public side: add a [[link]] between = [\"{name}\", \"{out_name}\"]; {}",
                    self.neighbours(node)
                );
                self.error_help(
                    format!("`{name}`'s NAT faces `{out_name}`, but no link joins them"),
                    span(&nd.outside),
                    help,
                );
                return;
            }
            out.push((
                node,
                NatConfig {
                    outside,
                    idle_timeout: idle,
                    on_expired,
                    first_port,
                },
            ));
        }
    }

    /// A link's `qdisc` (`None` if wrong, which is reported).
    pub(super) fn qdisc(&mut self, q: &Spanned<QdiscDoc>) -> Option<Qdisc> {
        let (kind, at, table) = match q.get_ref() {
            QdiscDoc::Name(n) => (n.as_str(), q.span(), None),
            QdiscDoc::Table(t) => (t.kind.get_ref().as_str(), t.kind.span(), Some(t)),
        };
        // Keys present that `kind` does not take.
        let present = |t: &crate::format::QdiscTable| {
            [
                ("target", t.target.as_ref().map(Spanned::span)),
                ("interval", t.interval.as_ref().map(Spanned::span)),
                ("flows", t.flows.as_ref().map(Spanned::span)),
                ("quantum", t.quantum.as_ref().map(Spanned::span)),
            ]
            .into_iter()
            .filter_map(|(k, sp)| Some((k, sp?)))
            .collect::<Vec<_>>()
        };
        let takes: &[&str] = match kind {
            "drop-tail" => &[],
            "codel" => &["target", "interval"],
            "fq_codel" => &["target", "interval", "flows", "quantum"],
            other => {
                let help = match suggest(other, QDISCS) {
                    Some(near) => format!("did you mean `{near}`? one of: {}", QDISCS.join(", ")),
                    None => "one of: drop-tail (the default), codel, fq_codel".to_string(),
                };
                self.error_help(
                    format!("unknown queue discipline `{other}`"),
                    Some(at),
                    help,
                );
                return None;
            }
        };
        let mut ok = true;
        if let Some(t) = table {
            for (key, sp) in present(t) {
                if !takes.contains(&key) {
                    ok = false;
                    let help = if takes.is_empty() {
                        "drop-tail takes no parameters".to_string()
                    } else {
                        format!("{kind} takes: {}", takes.join(", "))
                    };
                    self.error_help(
                        format!("`{key}` is not a parameter of {kind}"),
                        Some(sp),
                        help,
                    );
                }
            }
        }
        let mut codel = CodelParams::default();
        if let Some(t) = table {
            for (key, value, slot, example) in [
                ("target", &t.target, &mut codel.target, "5ms"),
                ("interval", &t.interval, &mut codel.interval, "100ms"),
            ] {
                let Some(v) = value else {
                    continue;
                };
                if v.get_ref().0 == SimDuration::ZERO {
                    ok = false;
                    self.error_help(
                        format!("CoDel's `{key}` must be longer than 0s"),
                        span(v),
                        format!("e.g. {key} = \"{example}\" (the default)"),
                    );
                } else {
                    *slot = v.get_ref().0;
                }
            }
        }
        let mut fq = FqCodelParams {
            codel,
            ..FqCodelParams::default()
        };
        if let Some(t) = table
            && kind == "fq_codel"
        {
            match (&t.flows, self.whole(&t.flows, "flows", (1, 65536), 1024)) {
                (Some(_), None) => ok = false,
                (_, Some(n)) => fq.flows = n as u32,
                (None, None) => {}
            }
            match (
                &t.quantum,
                self.whole(&t.quantum, "quantum", (64, 1 << 20), 1514),
            ) {
                (Some(_), None) => ok = false,
                (_, Some(n)) => fq.quantum = n as u32,
                (None, None) => {}
            }
        }
        if !ok {
            return None;
        }
        Some(match kind {
            "codel" => Qdisc::Codel(codel),
            "fq_codel" => Qdisc::FqCodel(fq),
            _ => Qdisc::DropTail,
        })
    }

    /// Refuses an active queue on a link direction without a bandwidth:
    /// frames leave as soon as they are sent, so no queue ever forms.
    pub(super) fn queues_need_bandwidth(&mut self, ld: &LinkDoc, ab: &LinkParams, ba: &LinkParams) {
        let mut reported: Vec<Range<usize>> = Vec::new();
        for (p, over) in [(ab, &ld.a_to_b), (ba, &ld.b_to_a)] {
            if p.qdisc == Qdisc::DropTail || p.bandwidth_bps.is_some() {
                continue;
            }
            let Some(at) = over
                .as_ref()
                .and_then(|o| o.get_ref().qdisc.as_ref())
                .or(ld.qdisc.as_ref())
                .map(Spanned::span)
            else {
                continue;
            };
            if reported.contains(&at) {
                continue;
            }
            reported.push(at.clone());
            self.error_help(
                "an active queue needs a bandwidth: without one frames never wait",
                Some(at),
                "give the link a bandwidth, e.g. bandwidth = \"10Mbps\" (in a_to_b or b_to_a for one direction only)",
            );
        }
    }
}

#[cfg(test)]
mod tests;

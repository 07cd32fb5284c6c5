//! From a parsed document to a plan a world can be built from, checking
//! everything a TOML schema cannot: that names refer to something, that
//! addresses are unique, that a fault can ever match, that a timeline entry
//! does exactly one thing.
//!
//! Every problem found becomes a [`Diagnostic`] pointing at the file; all of
//! them are reported at once.

use crate::diagnostic::{Diagnostic, ScenarioError};
use crate::expect::{Claim, Expectation, FieldMatch, FlowMetric};
use crate::format::{Document, ExpectDoc, FaultDoc, LinkDoc, Quantity, TimelineDoc};
use crate::registry::{AppRegistry, Params, SharedFactory, boxed};
use simnet_core::fault::{FaultAction, PacketFilter, TargetedFault};
use simnet_core::host::{CongestionControl, HostConfig};
use simnet_core::link::{GilbertElliott, LinkParams, LinkPatch};
use simnet_core::{
    Action, AppId, Command, Direction, DropReason, HostId, LinkId, Probability, Protocol,
    RunLimits, SimDuration, SimTime, TcpFlags, TcpState, World, WorldBuilder,
};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ops::Range;
use toml::Spanned;

/// A loaded, checked scenario: everything needed to build its world (as
/// many times as wanted) and judge its run.
pub struct Scenario {
    /// The file it came from.
    pub file: String,
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Its seed.
    pub seed: u64,
    /// When its run stops.
    pub time_limit: SimTime,
    /// Its expectations.
    pub expectations: Vec<Expectation>,
    hosts: Vec<(String, Ipv4Addr, HostConfig)>,
    links: Vec<(HostId, HostId, LinkParams, LinkParams)>,
    apps: Vec<PlannedApp>,
    actions: Vec<(SimTime, Action)>,
    faults: Vec<TargetedFault>,
}

struct PlannedApp {
    host: HostId,
    kind: String,
    name: String,
    start: SimTime,
    factory: SharedFactory,
}

impl Scenario {
    /// Builds a fresh world: with the scenario's seed unless `seed` is
    /// given, stopping at `until` instead of the time limit if given.
    pub fn world(&self, seed: Option<u64>, until: Option<SimTime>) -> World {
        let mut b = WorldBuilder::new(seed.unwrap_or(self.seed));
        for (name, addr, config) in &self.hosts {
            b.host_with(name, *addr, config.clone());
        }
        for (a, bb, ab, ba) in &self.links {
            b.link_asymmetric(*a, *bb, ab.clone(), ba.clone());
        }
        for app in &self.apps {
            let id = b.app_boxed(app.host, &app.kind, app.start, boxed(&app.factory));
            b.name_app(id, &app.name);
        }
        for (t, action) in &self.actions {
            b.at(*t, action.clone());
        }
        for f in &self.faults {
            b.fault(f.clone());
        }
        b.limits(RunLimits {
            max_time: until.unwrap_or(self.time_limit),
            ..RunLimits::default()
        });
        // Every check build() makes has been made while compiling.
        b.build().expect("a compiled scenario always builds")
    }

    /// The applications' names, by id.
    pub fn app_names(&self) -> Vec<&str> {
        self.apps.iter().map(|a| a.name.as_str()).collect()
    }
}

/// Parses and checks a scenario from its text.
pub fn parse(file: &str, source: &str, registry: &AppRegistry) -> Result<Scenario, ScenarioError> {
    let fail = |diagnostics| ScenarioError {
        file: file.to_string(),
        source: source.to_string(),
        diagnostics,
    };
    let doc: Document = match toml::from_str(source) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.message().trim().to_string();
            let (message, help) = split_expected(&message);
            let mut d = Diagnostic::new(message, e.span());
            if let Some(h) = help {
                d = d.help(h);
            }
            return Err(fail(vec![d]));
        }
    };
    let mut c = Compiler {
        source,
        registry,
        diags: Vec::new(),
        host_names: Vec::new(),
        link_pairs: BTreeMap::new(),
        link_ends: Vec::new(),
        app_names: Vec::new(),
    };
    let scenario = c.compile(file, doc);
    if c.diags.is_empty() {
        Ok(scenario.expect("no diagnostics means a scenario"))
    } else {
        Err(fail(c.diags))
    }
}

/// serde says "unknown field `x`, expected one of `a`, `b`": keep the first
/// part as the message and turn the second into help.
fn split_expected(message: &str) -> (String, Option<String>) {
    match message.split_once(", expected ") {
        Some((m, rest)) => (m.to_string(), Some(format!("expected {rest}"))),
        None => (message.to_string(), None),
    }
}

struct Compiler<'a> {
    source: &'a str,
    registry: &'a AppRegistry,
    diags: Vec<Diagnostic>,
    host_names: Vec<(String, Ipv4Addr)>,
    /// (smaller host, larger host) → link.
    link_pairs: BTreeMap<(HostId, HostId), LinkId>,
    /// Each link's hosts in declaration order.
    link_ends: Vec<(HostId, HostId)>,
    app_names: Vec<String>,
}

fn span<T>(s: &Spanned<T>) -> Option<Range<usize>> {
    Some(s.span())
}

impl Compiler<'_> {
    fn error(&mut self, message: impl Into<String>, span: Option<Range<usize>>) {
        self.diags.push(Diagnostic::new(message, span));
    }

    fn error_help(
        &mut self,
        message: impl Into<String>,
        span: Option<Range<usize>>,
        help: impl Into<String>,
    ) {
        self.diags.push(Diagnostic::new(message, span).help(help));
    }

    fn host_list(&self) -> String {
        let names: Vec<&str> = self.host_names.iter().map(|(n, _)| n.as_str()).collect();
        format!("hosts in this scenario: {}", names.join(", "))
    }

    /// Resolves a host name, reporting it if unknown.
    fn host(&mut self, name: &Spanned<String>) -> Option<HostId> {
        match self
            .host_names
            .iter()
            .position(|(n, _)| n == name.get_ref())
        {
            Some(i) => Some(HostId(i as u32)),
            None => {
                let help = self.host_list();
                self.error_help(
                    format!("unknown host `{}`", name.get_ref()),
                    span(name),
                    help,
                );
                None
            }
        }
    }

    fn app(&mut self, name: &Spanned<String>) -> Option<AppId> {
        match self.app_names.iter().position(|n| n == name.get_ref()) {
            Some(i) => Some(AppId(i as u32)),
            None => {
                let help = format!(
                    "applications in this scenario: {}",
                    self.app_names.join(", ")
                );
                self.error_help(
                    format!("unknown application `{}`", name.get_ref()),
                    span(name),
                    help,
                );
                None
            }
        }
    }

    fn link_between(
        &mut self,
        pair: &Spanned<Vec<Spanned<String>>>,
    ) -> Option<(LinkId, HostId, HostId)> {
        let names = pair.get_ref();
        if names.len() != 2 {
            self.error("a link is between exactly two hosts", span(pair));
            return None;
        }
        let (a, b) = (self.host(&names[0])?, self.host(&names[1])?);
        match self.link_pairs.get(&ordered(a, b)) {
            Some(l) => Some((*l, a, b)),
            None => {
                self.error(
                    format!(
                        "no link between `{}` and `{}`",
                        names[0].get_ref(),
                        names[1].get_ref()
                    ),
                    span(pair),
                );
                None
            }
        }
    }

    fn compile(&mut self, file: &str, doc: Document) -> Option<Scenario> {
        let hosts = self.hosts(&doc);
        let links = self.links(&doc);
        let apps = self.apps(&doc);
        let actions = self.timeline(&doc);
        let faults = self.faults(&doc);
        let expectations = self.expectations(&doc);
        let time_limit = doc
            .time_limit
            .as_ref()
            .map_or(SimTime::from_secs(60), |t| SimTime::ZERO + t.get_ref().0);
        if doc.host.is_empty() {
            self.error("a scenario needs at least one `[[host]]`", Some(0..0));
        }
        Some(Scenario {
            file: file.to_string(),
            name: doc.name,
            description: doc.description,
            seed: doc.seed.unwrap_or(1),
            time_limit,
            expectations,
            hosts,
            links,
            apps,
            actions,
            faults,
        })
    }

    fn hosts(&mut self, doc: &Document) -> Vec<(String, Ipv4Addr, HostConfig)> {
        let mut out = Vec::new();
        for h in &doc.host {
            let name = h.name.get_ref().clone();
            if name.is_empty() || name.contains(char::is_whitespace) {
                self.error("a host name must be a non-empty word", span(&h.name));
            }
            if self.host_names.iter().any(|(n, _)| *n == name) {
                self.error(format!("two hosts are named `{name}`"), span(&h.name));
            }
            let addr = match h.address.get_ref().parse::<Ipv4Addr>() {
                Ok(a) if a.is_unspecified() || a.is_broadcast() || a.is_multicast() => {
                    self.error_help(
                        format!("`{a}` cannot be a host's address"),
                        span(&h.address),
                        "use a unicast address such as \"10.0.0.1\"",
                    );
                    Ipv4Addr::UNSPECIFIED
                }
                Ok(a) => a,
                Err(_) => {
                    self.error_help(
                        format!("`{}` is not an IPv4 address", h.address.get_ref()),
                        span(&h.address),
                        "write e.g. \"10.0.0.1\"",
                    );
                    Ipv4Addr::UNSPECIFIED
                }
            };
            if !addr.is_unspecified()
                && let Some((other, _)) = self.host_names.iter().find(|(_, a)| *a == addr)
            {
                let other = other.clone();
                self.error(
                    format!("address {addr} is already used by host `{other}`"),
                    span(&h.address),
                );
            }
            let mut config = HostConfig::default();
            if let Some(range) = &h.port_range {
                let [lo, hi] = *range.get_ref();
                if lo == 0 || lo > hi {
                    self.error_help(
                        format!("port range [{lo}, {hi}] is empty or starts at 0"),
                        span(range),
                        "write [first, last] with 1 <= first <= last <= 65535",
                    );
                } else {
                    config.ephemeral_ports = (lo, hi);
                }
            }
            if let Some(b) = &h.backlog {
                if *b.get_ref() == 0 || *b.get_ref() > 65535 {
                    self.error("a backlog must be between 1 and 65535", span(b));
                } else {
                    config.backlog = *b.get_ref();
                }
            }
            if let Some(m) = &h.mtu {
                if !(68..=65535).contains(m.get_ref()) {
                    self.error("an MTU must be between 68 and 65535", span(m));
                } else {
                    config.mtu = *m.get_ref();
                }
            }
            if let Some(t) = &h.tcp {
                for (field, value) in [("rx_buffer", &t.rx_buffer), ("tx_buffer", &t.tx_buffer)] {
                    if let Some(v) = value {
                        let bytes = v.get_ref().0;
                        if !(64..=(1 << 30)).contains(&bytes) {
                            self.error(
                                format!("`{field}` must be between 64 bytes and 1GiB"),
                                span(v),
                            );
                        } else if field == "rx_buffer" {
                            config.tcp.rx_buffer_bytes = bytes as usize;
                        } else {
                            config.tcp.tx_buffer_bytes = bytes as usize;
                        }
                    }
                }
                if let Some(n) = t.nagle {
                    config.tcp.nagle = n;
                }
                if let Some(d) = &t.delayed_ack {
                    match d.get_ref().as_str() {
                        "off" | "none" => config.tcp.ack_delay = None,
                        text => match crate::units::parse_duration(text) {
                            Ok(d) => config.tcp.ack_delay = Some(d),
                            Err(e) => self.error_help(
                                e,
                                span(d),
                                "a duration such as \"10ms\", or \"off\"",
                            ),
                        },
                    }
                }
                if let Some(k) = &t.keepalive {
                    config.tcp.keep_alive = Some(k.get_ref().0);
                }
                if let Some(u) = &t.user_timeout {
                    config.tcp.user_timeout = Some(u.get_ref().0);
                }
                if let Some(cc) = &t.congestion {
                    config.tcp.congestion = match cc.get_ref().as_str() {
                        "none" => CongestionControl::None,
                        "reno" => CongestionControl::Reno,
                        "cubic" => CongestionControl::Cubic,
                        other => {
                            self.error_help(
                                format!("unknown congestion control `{other}`"),
                                span(cc),
                                "one of: none, reno, cubic",
                            );
                            CongestionControl::Cubic
                        }
                    }
                }
            }
            self.host_names.push((name.clone(), addr));
            out.push((name, addr, config));
        }
        out
    }

    fn link_params(&mut self, base: &LinkParams, doc: &LinkDoc, nested: bool) -> LinkParams {
        let mut p = base.clone();
        self.patch(doc, nested).apply(&mut p);
        p
    }

    /// Reads the parameter fields of a link table into a patch.
    fn patch(&mut self, doc: &LinkDoc, nested: bool) -> LinkPatch {
        if nested {
            for (present, key, sp) in [
                (
                    doc.between.is_some(),
                    "between",
                    doc.between.as_ref().map(|s| s.span()),
                ),
                (
                    doc.from.is_some(),
                    "from",
                    doc.from.as_ref().map(|s| s.span()),
                ),
                (
                    doc.a_to_b.is_some(),
                    "a_to_b",
                    doc.a_to_b.as_ref().map(|s| s.span()),
                ),
                (
                    doc.b_to_a.is_some(),
                    "b_to_a",
                    doc.b_to_a.as_ref().map(|s| s.span()),
                ),
            ] {
                if present {
                    self.error(
                        format!("`{key}` is not allowed inside a direction override"),
                        sp,
                    );
                }
            }
        }
        if let Some(m) = &doc.mtu
            && !(68..=65535).contains(m.get_ref())
        {
            self.error("an MTU must be between 68 and 65535", span(m));
        }
        LinkPatch {
            latency: doc.latency.map(|d| d.0),
            jitter: doc.jitter.map(|d| d.0),
            jitter_reorders: doc.jitter_reorders,
            loss: doc.loss.map(|p| p.0),
            burst_loss: doc.burst_loss.as_ref().map(|b| {
                Some(GilbertElliott {
                    p_enter_bad: b.enter.0,
                    p_exit_bad: b.exit.0,
                    loss_good: b.loss_good.map_or(Probability::ZERO, |p| p.0),
                    loss_bad: b.loss_bad.map_or(Probability::ONE, |p| p.0),
                })
            }),
            duplicate: doc.duplicate.map(|p| p.0),
            reorder: doc.reorder.map(|p| p.0),
            reorder_delay: doc.reorder_delay.map(|d| d.0),
            corrupt: doc.corrupt.map(|p| p.0),
            bandwidth_bps: doc.bandwidth.as_ref().map(|b| match b.get_ref() {
                crate::format::RateOrUnlimited::Rate(r) => Some(*r),
                crate::format::RateOrUnlimited::Unlimited => None,
            }),
            queue_bytes_max: doc.queue.map(|s| s.0),
            mtu: doc.mtu.as_ref().map(|m| *m.get_ref()),
        }
    }

    fn links(&mut self, doc: &Document) -> Vec<(HostId, HostId, LinkParams, LinkParams)> {
        let mut out = Vec::new();
        for l in &doc.link {
            let ld = l.get_ref();
            let Some(between) = &ld.between else {
                self.error_help(
                    "a link needs `between`",
                    span(l),
                    "write between = [\"client\", \"server\"]",
                );
                continue;
            };
            if let Some(from) = &ld.from {
                self.error(
                    "`from` belongs in a timeline `set_link`, not in a link",
                    span(from),
                );
            }
            let names = between.get_ref();
            if names.len() != 2 {
                self.error("a link is between exactly two hosts", span(between));
                continue;
            }
            let (Some(a), Some(b)) = (self.host(&names[0]), self.host(&names[1])) else {
                continue;
            };
            if a == b {
                self.error("a link cannot join a host to itself", span(between));
                continue;
            }
            if self.link_pairs.contains_key(&ordered(a, b)) {
                self.error(
                    format!(
                        "`{}` and `{}` are already linked",
                        names[0].get_ref(),
                        names[1].get_ref()
                    ),
                    span(between),
                );
                continue;
            }
            let base = self.link_params(&LinkParams::default(), ld, false);
            let ab = match &ld.a_to_b {
                Some(o) => self.link_params(&base, o.get_ref(), true),
                None => base.clone(),
            };
            let ba = match &ld.b_to_a {
                Some(o) => self.link_params(&base, o.get_ref(), true),
                None => base.clone(),
            };
            self.link_pairs
                .insert(ordered(a, b), LinkId(out.len() as u32));
            self.link_ends.push((a, b));
            out.push((a, b, ab, ba));
        }
        out
    }

    fn apps(&mut self, doc: &Document) -> Vec<PlannedApp> {
        // Default names: the host's name when it runs one application,
        // otherwise `host.kind` (with a number when that repeats).
        let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &doc.app {
            *per_host
                .entry(a.get_ref().host.get_ref().as_str())
                .or_default() += 1;
        }
        let mut out = Vec::new();
        for (index, a) in doc.app.iter().enumerate() {
            let ad = a.get_ref();
            let host = self.host(&ad.host);
            let name = match &ad.name {
                Some(n) => n.get_ref().clone(),
                None if per_host[ad.host.get_ref().as_str()] == 1 => ad.host.get_ref().clone(),
                None => {
                    let base = format!("{}.{}", ad.host.get_ref(), ad.kind.get_ref());
                    if self.app_names.contains(&base) {
                        format!("{base}.{index}")
                    } else {
                        base
                    }
                }
            };
            if self.app_names.contains(&name) {
                let sp = ad.name.as_ref().map_or(span(a), span);
                self.error_help(
                    format!("two applications are named `{name}`"),
                    sp,
                    "give each a unique `name`",
                );
            }
            self.app_names.push(name.clone());
            let Some(kind) = self.registry.get(ad.kind.get_ref()).copied() else {
                let help = format!("known kinds: {}", self.registry.names());
                self.error_help(
                    format!("unknown application kind `{}`", ad.kind.get_ref()),
                    span(&ad.kind),
                    help,
                );
                continue;
            };
            let Some(host) = host else { continue };
            let hosts = self.host_names.clone();
            let mut params = Params::new(&ad.params, &hosts, kind.name, ad.host.get_ref());
            let built = (kind.build)(&mut params).and_then(|f| params.finish(&kind).map(|()| f));
            match built {
                Ok(factory) => out.push(PlannedApp {
                    host,
                    kind: kind.name.to_string(),
                    name,
                    start: SimTime::ZERO
                        + ad.start
                            .as_ref()
                            .map_or(SimDuration::ZERO, |s| s.get_ref().0),
                    factory,
                }),
                Err(e) => {
                    let sp = e
                        .key
                        .as_deref()
                        .and_then(|k| key_span(self.source, "app", index, k))
                        .or(span(a));
                    let mut d = Diagnostic::new(e.message, sp);
                    if let Some(h) = e.help {
                        d = d.help(h);
                    }
                    self.diags.push(d);
                }
            }
        }
        out
    }

    fn timeline(&mut self, doc: &Document) -> Vec<(SimTime, Action)> {
        let mut out = Vec::new();
        for entry in &doc.timeline {
            let t = entry.get_ref();
            let at = SimTime::ZERO + t.at.get_ref().0;
            let chosen = timeline_keys(t);
            if chosen.len() != 1 {
                let which = if chosen.is_empty() {
                    "no action".to_string()
                } else {
                    format!("{} actions ({})", chosen.len(), chosen.join(", "))
                };
                self.error_help(
                    format!("a timeline entry does exactly one thing, this one has {which}"),
                    span(entry),
                    "one of: set_link, link_down, link_up, partition, heal, crash, restart, or app + command",
                );
                continue;
            }
            if (t.data.is_some() || t.count.is_some()) && t.command.is_none() {
                self.error("`data` and `count` go with `command`", span(entry));
            }
            let action = match chosen[0] {
                "set_link" => {
                    let s = t.set_link.as_ref().expect("chosen");
                    let sd = s.get_ref();
                    let Some(between) = &sd.between else {
                        self.error("`set_link` needs `between`", span(s));
                        continue;
                    };
                    let Some((link, a, b)) = self.link_between(between) else {
                        continue;
                    };
                    let direction = match &sd.from {
                        None => None,
                        Some(from) => match self.host(from) {
                            Some(h) if h == a => Some(self.link_direction(link, a)),
                            Some(h) if h == b => Some(self.link_direction(link, b)),
                            Some(_) => {
                                self.error(
                                    "`from` must be one of the two hosts in `between`",
                                    span(from),
                                );
                                continue;
                            }
                            None => continue,
                        },
                    };
                    if sd.a_to_b.is_some() || sd.b_to_a.is_some() {
                        self.error(
                            "in `set_link`, pick a direction with `from` instead of a_to_b/b_to_a",
                            span(s),
                        );
                    }
                    let patch = self.patch(sd, false);
                    if patch == LinkPatch::default() {
                        self.error("this `set_link` changes nothing", span(s));
                    }
                    Action::PatchLink {
                        link,
                        direction,
                        patch,
                    }
                }
                "link_down" | "link_up" => {
                    let pair = t.link_down.as_ref().or(t.link_up.as_ref()).expect("chosen");
                    let Some((link, _, _)) = self.link_between(pair) else {
                        continue;
                    };
                    if chosen[0] == "link_down" {
                        Action::LinkDown(link)
                    } else {
                        Action::LinkUp(link)
                    }
                }
                "partition" => {
                    let p = t.partition.as_ref().expect("chosen");
                    if p.get_ref().len() != 2 || p.get_ref().iter().any(Vec::is_empty) {
                        self.error_help(
                            "a partition has two non-empty groups",
                            span(p),
                            "write partition = [[\"client\"], [\"server\"]]",
                        );
                        continue;
                    }
                    let groups: Vec<Vec<HostId>> = p
                        .get_ref()
                        .iter()
                        .map(|g| g.iter().filter_map(|h| self.host(h)).collect())
                        .collect();
                    Action::Partition(groups[0].clone(), groups[1].clone())
                }
                "heal" => Action::Heal,
                "crash" | "restart" => {
                    let h = t.crash.as_ref().or(t.restart.as_ref()).expect("chosen");
                    let Some(host) = self.host(h) else { continue };
                    if chosen[0] == "crash" {
                        Action::Crash(host)
                    } else {
                        Action::Restart(host)
                    }
                }
                _ => {
                    let (Some(app), Some(verb)) = (&t.app, &t.command) else {
                        self.error_help(
                            "a command needs both `app` and `command`",
                            span(entry),
                            "write app = \"client\", command = \"send\"",
                        );
                        continue;
                    };
                    let Some(app) = self.app(app) else { continue };
                    Action::Command(
                        app,
                        Command {
                            verb: verb.get_ref().clone(),
                            data: t.data.clone(),
                            count: t.count,
                        },
                    )
                }
            };
            out.push((at, action));
        }
        out
    }

    /// The direction of `link` that leaves `from`.
    fn link_direction(&self, link: LinkId, from: HostId) -> Direction {
        if self.link_ends[link.0 as usize].0 == from {
            Direction::AtoB
        } else {
            Direction::BtoA
        }
    }

    fn faults(&mut self, doc: &Document) -> Vec<TargetedFault> {
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
        let nth = fd.nth.as_ref().map_or(1, |n| *n.get_ref());
        let count = fd.count.as_ref().map_or(1, |n| *n.get_ref());
        if nth == 0 {
            self.error("`nth` counts from 1", fd.nth.as_ref().and_then(span));
        }
        if count == 0 {
            self.error(
                "`count` must be at least 1",
                fd.count.as_ref().and_then(span),
            );
        }
        if fd.port == Some(0) {
            self.error("port 0 never appears on the wire", span(f));
        }
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
            port: fd.port,
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

    fn expectations(&mut self, doc: &Document) -> Vec<Expectation> {
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
                "one of: state, time_wait_on, bytes_received, packets, drops, event, retransmissions, duplicate_acks, window_probes, zero_windows",
            );
            return None;
        }
        let host = ed.host.as_ref().map(|h| self.host(h));
        if host == Some(None) {
            return None;
        }
        let host = host.flatten();
        let app = match &ed.app {
            Some(a) => Some(self.app(a)?),
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
                    port: ed.port,
                    count: ed
                        .count
                        .as_ref()
                        .map_or(Quantity::AtLeast(1), |c| *c.get_ref()),
                }
            }
            "time_wait_on" => Claim::TimeWaitOn {
                host: self.host(ed.time_wait_on.as_ref().expect("chosen"))?,
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
                    Some(h) => Some(self.host(h)?),
                    None => None,
                };
                let to = match &ed.to {
                    Some(h) => Some(self.host(h)?),
                    None => None,
                };
                Claim::Packets {
                    filter: PacketFilter {
                        from: from.or(host),
                        to,
                        flags: self.flags(&ed.flags),
                        flags_exact: self.flags(&ed.flags_exact),
                        payload: ed.payload,
                        len: ed.len,
                        zero_window: ed.zero_window,
                        port: ed.port,
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
                                "one of: loss, burst-loss, queue-full, mtu, link-down, partition, no-route, host-down, fault",
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
                let mut fields = Vec::new();
                if let Some(f) = &ed.fields {
                    for (k, v) in f.get_ref() {
                        match FieldMatch::from_toml(v) {
                            Ok(m) => fields.push((k.clone(), m)),
                            Err(msg) => self.error(format!("field `{k}`: {msg}"), span(f)),
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
        Some(Expectation {
            label: ed.label.clone(),
            claim,
        })
    }
}

fn timeline_keys(t: &TimelineDoc) -> Vec<&'static str> {
    [
        ("set_link", t.set_link.is_some()),
        ("link_down", t.link_down.is_some()),
        ("link_up", t.link_up.is_some()),
        ("partition", t.partition.is_some()),
        ("heal", t.heal.is_some()),
        ("crash", t.crash.is_some()),
        ("restart", t.restart.is_some()),
        ("command", t.command.is_some() || t.app.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| k)
    .collect()
}

fn drop_reason(text: &str) -> Option<DropReason> {
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
    ]
    .into_iter()
    .find(|r| r.as_str() == text)
}

fn ordered(a: HostId, b: HostId) -> (HostId, HostId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The span of `key` inside the `index`-th `[[table]]`, found by parsing the
/// file again with positions (serde's flattened maps lose them).
fn key_span(source: &str, table: &str, index: usize, key: &str) -> Option<Range<usize>> {
    let doc = toml::de::DeTable::parse(source).ok()?;
    let list = doc.get_ref().get(table)?;
    let toml::de::DeValue::Array(items) = list.get_ref() else {
        return None;
    };
    let toml::de::DeValue::Table(t) = items.get(index)?.get_ref() else {
        return None;
    };
    t.iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v.span())
}

//! From a parsed document to a plan a world can be built from, checking
//! everything a TOML schema cannot: that names refer to something, that
//! addresses are unique, that a fault can ever match, that a timeline entry
//! does exactly one thing.
//!
//! Every problem found becomes a [`Diagnostic`] pointing at the file; all of
//! them are reported at once.

use crate::diagnostic::{Diagnostic, ScenarioError, render_warning, suggest};
use crate::expect::{Claim, Expectation, FieldMatch, FlowMetric};
use crate::format::{Document, ExpectDoc, FaultDoc, LinkDoc, Quantity, TimelineDoc};
use crate::registry::{AppKind, AppRegistry, Params, SharedFactory, boxed};
use crate::units::MAX_TCP_BUFFER;
use simnet_core::fault::{FaultAction, PacketFilter, TargetedFault};
use simnet_core::host::{BacklogOverflow, CongestionControl, HostConfig};
use simnet_core::link::{GilbertElliott, LinkParams, LinkPatch};
use simnet_core::{
    Action, AppId, Command, Direction, DropReason, HostId, Ipv4Net, LinkId, NatConfig, Probability,
    Protocol, RunLimits, SimDuration, SimTime, TcpFlags, TcpState, World, WorldBuilder,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::ops::Range;
use toml::Spanned;

mod apps;
mod expectations;
mod replicas;
mod timeline;
mod toml_errors;
mod topology;

pub use replicas::MAX_REPLICAS;
use toml_errors::toml_diagnostic;

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
    /// How many events its run may take ([`RunLimits::max_events`]).
    pub max_events: u64,
    /// Its expectations.
    pub expectations: Vec<Expectation>,
    /// Its `[sweep]` table, if it has one.
    pub sweep: Option<crate::overrides::SweepSpec>,
    /// What looks wrong but does not stop the scenario from running (a
    /// timeline entry after the time limit), each rendered like an error
    /// with `warning:` in front; `simnet check` and `simnet run` print them.
    pub warnings: Vec<String>,
    hosts: Vec<(String, Ipv4Addr, HostConfig)>,
    /// Which of `hosts` are routers, in order.
    routers: Vec<HostId>,
    /// Static routes (a gateway is a route to `default`): node, prefix, next hop.
    routes: Vec<(HostId, Ipv4Net, HostId)>,
    nats: Vec<(HostId, NatConfig)>,
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
        for (i, (name, addr, config)) in self.hosts.iter().enumerate() {
            if self.routers.binary_search(&HostId(i as u32)).is_ok() {
                b.router(name, *addr);
            } else {
                b.host_with(name, *addr, config.clone());
            }
        }
        for (a, bb, ab, ba) in &self.links {
            b.link_asymmetric(*a, *bb, ab.clone(), ba.clone());
        }
        for &(node, prefix, via) in &self.routes {
            b.route(node, prefix, via);
        }
        for (router, nat) in &self.nats {
            b.nat(*router, nat.clone());
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
            max_events: self.max_events,
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
    if source.len() > crate::MAX_SCENARIO_BYTES {
        // Neither parsed nor kept: a huge text is refused before it costs
        // memory in proportion to its size.
        return Err(ScenarioError {
            file: file.to_string(),
            source: String::new(),
            diagnostics: vec![Diagnostic::new(crate::too_large(), None).help(
                "the largest shipped scenario is about 4 KiB; split the file or trim its lists",
            )],
        });
    }
    let doc: Document = match toml::from_str(source) {
        Ok(doc) => doc,
        Err(e) => return Err(fail(vec![toml_diagnostic(source, e.message(), e.span())])),
    };
    let mut c = Compiler {
        source,
        registry,
        diags: Vec::new(),
        host_names: Vec::new(),
        host_index: BTreeMap::new(),
        addr_index: BTreeMap::new(),
        host_entries: Vec::new(),
        router_ids: BTreeSet::new(),
        host_entry_ids: Vec::new(),
        router_entry_ids: Vec::new(),
        host_matches: BTreeMap::new(),
        app_index: BTreeMap::new(),
        app_groups: BTreeMap::new(),
        app_entries: Vec::new(),
        link_pairs: BTreeMap::new(),
        link_ends: Vec::new(),
        app_names: Vec::new(),
        app_kinds: Vec::new(),
        warnings: Vec::new(),
        positions: std::cell::OnceCell::new(),
    };
    let scenario = c.compile(file, doc);
    if c.diags.is_empty() {
        let mut scenario = scenario.expect("no diagnostics means a scenario");
        scenario.warnings = c
            .warnings
            .iter()
            .map(|w| render_warning(file, source, w))
            .collect();
        Ok(scenario)
    } else {
        Err(fail(c.diags))
    }
}

/// The most entries of one kind (`[[host]]`, `[[expect]]`, ...) a scenario
/// may have: far above what a scenario written by hand needs (the largest
/// shipped one has a few dozen), low enough that checking and judging them
/// stays fast.
pub const MAX_ENTRIES: usize = 10_000;

/// The most events a scenario's `max_events` may allow: at about a
/// microsecond each, some ten days of computing.
pub const MAX_EVENTS: i64 = 1_000_000_000_000;

struct Compiler<'a> {
    source: &'a str,
    registry: &'a AppRegistry,
    diags: Vec<Diagnostic>,
    host_names: Vec<(String, Ipv4Addr)>,
    /// Host name → host (replicas make thousands: no linear search).
    host_index: BTreeMap<String, HostId>,
    /// Address → host.
    addr_index: BTreeMap<Ipv4Addr, HostId>,
    /// The hosts as the file declares them, for help texts: a name, or a
    /// replica pattern such as `client-*` (not its thousands of members).
    host_entries: Vec<String>,
    /// The hosts that are routers.
    router_ids: BTreeSet<HostId>,
    /// The hosts each `[[host]]` entry declared (several with replicas,
    /// none if it was refused), in file order.
    host_entry_ids: Vec<Range<u32>>,
    /// The same for each `[[router]]` entry.
    router_entry_ids: Vec<Range<u32>>,
    /// Host patterns already resolved (`client-*` → its hosts).
    host_matches: BTreeMap<String, Vec<HostId>>,
    /// Application name → application.
    app_index: BTreeMap<String, AppId>,
    /// A replicated `[[app]]` entry's name (or host pattern) → its applications.
    app_groups: BTreeMap<String, Vec<AppId>>,
    /// The applications as the file declares them, for help texts.
    app_entries: Vec<String>,
    /// (smaller host, larger host) → link.
    link_pairs: BTreeMap<(HostId, HostId), LinkId>,
    /// Each link's hosts in declaration order.
    link_ends: Vec<(HostId, HostId)>,
    app_names: Vec<String>,
    /// Each application's kind, by id (`None`: an unknown kind, reported).
    app_kinds: Vec<Option<AppKind>>,
    /// Problems that do not stop the scenario from loading.
    warnings: Vec<Diagnostic>,
    /// The file parsed with positions, once an error needs one.
    positions: std::cell::OnceCell<Option<Spanned<toml::de::DeTable<'a>>>>,
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

    /// A whole number that must lie in `lo..=hi`, with one wording for
    /// every such key (`None` if absent or out of range, which is reported).
    fn whole(
        &mut self,
        v: &Option<Spanned<i64>>,
        key: &str,
        (lo, hi): (i64, i64),
        example: i64,
    ) -> Option<i64> {
        let v = v.as_ref()?;
        let n = *v.get_ref();
        if (lo..=hi).contains(&n) {
            Some(n)
        } else {
            self.error_help(
                format!("`{key}` must be a whole number between {lo} and {hi}, not {n}"),
                span(v),
                format!("e.g. {key} = {example}"),
            );
            None
        }
    }

    /// Checks a name that the terminal, the trace and other entries will
    /// show: letters, digits, `-`, `_` and `.` only, so that no control
    /// character (or space, or `:` that would split `host:port`) gets in.
    fn name(&mut self, name: &Spanned<String>, what: &str) -> bool {
        let text = name.get_ref();
        let bad = text
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')));
        let message = match bad {
            _ if text.is_empty() => format!("{what} name cannot be empty"),
            None => return true,
            Some(c) if c.is_control() || c.is_whitespace() => {
                format!("{what} name cannot contain {}", describe_char(c))
            }
            Some(c) => format!("{what} name cannot contain `{c}`"),
        };
        self.error_help(
            message,
            span(name),
            "use letters, digits, `-`, `_` and `.`, e.g. name = \"web-1\"",
        );
        false
    }

    fn host_list(&self) -> String {
        let what = if self.router_ids.is_empty() {
            "hosts"
        } else {
            "hosts and routers"
        };
        format!("{what} in this scenario: {}", self.host_entries.join(", "))
    }

    /// Resolves a host name, reporting it if unknown.
    fn host(&mut self, name: &Spanned<String>) -> Option<HostId> {
        match self.host_index.get(name.get_ref()) {
            Some(h) => Some(*h),
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
        match self.app_index.get(name.get_ref()) {
            Some(a) => Some(*a),
            None => {
                let help = format!(
                    "applications in this scenario: {}",
                    self.app_entries.join(", ")
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

    /// The links a timeline `between` names: one pair of hosts, or a
    /// pattern on one side (`["client-*", "server"]`: the link of every
    /// matching host to the other side), in declaration order.
    fn links_between(
        &mut self,
        pair: &Spanned<Vec<Spanned<String>>>,
    ) -> Option<Vec<(LinkId, HostId, HostId)>> {
        let names = pair.get_ref();
        if names.len() != 2 || !names.iter().any(|n| n.get_ref().contains('*')) {
            return self.link_between(pair).map(|l| vec![l]);
        }
        if names.iter().all(|n| n.get_ref().contains('*')) {
            self.error_help(
                "a pattern may stand on one side of `between` only",
                span(pair),
                "name one host on the other side, e.g. between = [\"client-*\", \"server\"]",
            );
            return None;
        }
        let (a, b) = (
            self.hosts_matching(&names[0])?,
            self.hosts_matching(&names[1])?,
        );
        let mut links = Vec::new();
        for &ha in &a {
            for &hb in &b {
                let Some(l) = self.link_pairs.get(&ordered(ha, hb)) else {
                    let name = |h: HostId| self.host_names[h.0 as usize].0.clone();
                    let message = format!("no link between `{}` and `{}`", name(ha), name(hb));
                    self.error(message, span(pair));
                    return None;
                };
                links.push((*l, ha, hb));
            }
        }
        Some(links)
    }

    fn compile(&mut self, file: &str, doc: Document) -> Option<Scenario> {
        // Some checks compare every entry with every other (unique names
        // and addresses, listeners), and every expectation reads the whole
        // trace: keep each list to a size those costs stay small at.
        let counts = [
            (
                "host",
                doc.host.len(),
                doc.host.get(MAX_ENTRIES).map(|h| h.name.span()),
            ),
            (
                "router",
                doc.router.len(),
                doc.router.get(MAX_ENTRIES).map(|r| r.name.span()),
            ),
            (
                "link",
                doc.link.len(),
                doc.link.get(MAX_ENTRIES).map(Spanned::span),
            ),
            (
                "app",
                doc.app.len(),
                doc.app.get(MAX_ENTRIES).map(Spanned::span),
            ),
            (
                "timeline",
                doc.timeline.len(),
                doc.timeline.get(MAX_ENTRIES).map(Spanned::span),
            ),
            (
                "fault",
                doc.fault.len(),
                doc.fault.get(MAX_ENTRIES).map(Spanned::span),
            ),
            (
                "expect",
                doc.expect.len(),
                doc.expect.get(MAX_ENTRIES).map(Spanned::span),
            ),
        ];
        let mut too_many = false;
        for (table, n, first_extra) in counts {
            if n > MAX_ENTRIES {
                too_many = true;
                self.error_help(
                    format!(
                        "{n} `[[{table}]]` entries, more than the {MAX_ENTRIES} a scenario may have"
                    ),
                    first_extra.map(|sp| sp.start..sp.start),
                    "split the scenario into several files",
                );
            }
        }
        if too_many {
            return None;
        }
        self.name(&doc.name, "a scenario");
        if let Some(i) = doc
            .description
            .get_ref()
            .find(|c: char| c.is_control() && c != '\n' && c != '\t')
        {
            let at = doc.description.span().start + 1 + i;
            self.error_help(
                "the description contains a control character",
                Some(at..at + 1),
                "write plain text; newlines and tabs are fine",
            );
        }
        let time_limit = doc
            .time_limit
            .as_ref()
            .map_or(SimTime::from_secs(60), |t| SimTime::ZERO + t.get_ref().0);
        let max_events = match &doc.max_events {
            None => RunLimits::DEFAULT_MAX_EVENTS,
            Some(n) if (1..=MAX_EVENTS).contains(n.get_ref()) => *n.get_ref() as u64,
            Some(n) => {
                self.error_help(
                    format!(
                        "`max_events` is {}: it must be between 1 and {MAX_EVENTS}",
                        n.get_ref()
                    ),
                    span(n),
                    "a simulated hour of 10,000 WebSocket clients takes about 25,000,000",
                );
                RunLimits::DEFAULT_MAX_EVENTS
            }
        };
        let hosts = self.hosts(&doc);
        let links = self.links(&doc);
        let (routes, nats) = self.routes(&doc);
        let apps = self.apps(&doc);
        let actions = self.timeline(&doc, time_limit);
        let faults = self.faults(&doc);
        let expectations = self.expectations(&doc);
        let sweep = doc.sweep.as_ref().map(|s| self.sweep(s));
        if doc.host.is_empty() {
            self.error("a scenario needs at least one `[[host]]`", Some(0..0));
        }
        Some(Scenario {
            file: file.to_string(),
            name: doc.name.into_inner(),
            description: doc.description.into_inner(),
            seed: doc.seed.unwrap_or(1),
            time_limit,
            max_events,
            expectations,
            sweep,
            warnings: Vec::new(),
            hosts,
            routers: self.router_ids.iter().copied().collect(),
            routes,
            nats,
            links,
            apps,
            actions,
            faults,
        })
    }

    /// The `[sweep]` table, checked as the command line's flags are.
    fn sweep(&mut self, doc: &crate::format::SweepDoc) -> crate::overrides::SweepSpec {
        use crate::overrides::{SWEEP_METRICS, SweepSpec, parse_seeds, parse_sweep};
        let seeds = match &doc.seeds {
            None => (1, 100),
            Some(text) => parse_seeds(text.get_ref()).unwrap_or_else(|e| {
                self.error(e, span(text));
                (1, 1)
            }),
        };
        let mut set: Vec<(String, Vec<String>)> = Vec::new();
        for item in &doc.set {
            match parse_sweep(item.get_ref()) {
                Ok((key, _)) if set.iter().any(|(k, _)| *k == key) => self.error_help(
                    format!("`{key}` is swept twice"),
                    span(item),
                    "give its values once, separated by commas",
                ),
                Ok(pair) => set.push(pair),
                Err(e) => {
                    self.error_help(e.message, span(item), "write e.g. \"link.loss=0%,1%,5%\"")
                }
            }
        }
        let metric = match &doc.metric {
            None => "connection_max_ns".to_string(),
            Some(m) if SWEEP_METRICS.contains(&m.get_ref().as_str()) => m.get_ref().clone(),
            Some(m) => {
                self.error_help(
                    format!("unknown metric `{}`", m.get_ref()),
                    span(m),
                    format!("one of {}", SWEEP_METRICS.join(", ")),
                );
                String::new()
            }
        };
        SweepSpec { seeds, set, metric }
    }

    fn hosts(&mut self, doc: &Document) -> Vec<(String, Ipv4Addr, HostConfig)> {
        let mut out = Vec::new();
        for h in &doc.host {
            let replicas = self.replicas(&h.replicas).unwrap_or(1);
            let replicas = self.host_template(h, replicas, "host");
            let template = h.name.get_ref().clone();
            let addr = self.address(&h.address, "a host's");
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
            if let Some(b) = self.whole(&h.backlog, "backlog", (1, 65535), 128) {
                config.backlog = b as usize;
            }
            if let Some(o) = &h.backlog_overflow {
                config.backlog_overflow = match o.get_ref().as_str() {
                    "drop" => BacklogOverflow::Drop,
                    "reset" => BacklogOverflow::Reset,
                    other => {
                        self.error_help(
                            format!("unknown backlog overflow `{other}`"),
                            span(o),
                            "one of: drop (Linux's default: the client retransmits its SYN), reset (answer with RST)",
                        );
                        BacklogOverflow::Drop
                    }
                };
            }
            if let Some(m) = self.whole(&h.mtu, "mtu", (68, 65535), 1500) {
                config.mtu = m as usize;
            }
            if let Some(t) = &h.tcp {
                for (field, value) in [("rx_buffer", &t.rx_buffer), ("tx_buffer", &t.tx_buffer)] {
                    if let Some(v) = value {
                        let bytes = v.get_ref().0;
                        if !(64..=MAX_TCP_BUFFER).contains(&bytes) {
                            self.error_help(
                                format!("`{field}` = {bytes} bytes is outside 64 bytes..16MiB"),
                                span(v),
                                "a TCP buffer is allocated for every socket up front: write e.g. \"64KiB\"",
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
                        text => match crate::units::parse_duration(text)
                            .and_then(|d| crate::units::check_interval("`delayed_ack`", d))
                        {
                            Ok(d) => config.tcp.ack_delay = Some(d),
                            Err(e) => self.error_help(
                                e,
                                span(d),
                                "a duration such as \"10ms\", or \"off\"",
                            ),
                        },
                    }
                }
                // Intervals and timeouts share one rule (at least 1us):
                // smoltcp would round anything shorter to zero.
                for (field, value, slot) in [
                    ("keepalive", &t.keepalive, &mut config.tcp.keep_alive),
                    (
                        "user_timeout",
                        &t.user_timeout,
                        &mut config.tcp.user_timeout,
                    ),
                ] {
                    if let Some(v) = value {
                        match crate::units::check_interval(&format!("`{field}`"), v.get_ref().0) {
                            Ok(d) => *slot = Some(d),
                            Err(e) => self.error(e, span(v)),
                        }
                    }
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
            let first = self.host_names.len() as u32;
            self.add_hosts(h, &template, (replicas, "host"), addr, config, &mut out);
            self.host_entry_ids
                .push(first..self.host_names.len() as u32);
        }
        self.routers(doc, &mut out);
        out
    }

    /// A node's address: unicast IPv4 (`UNSPECIFIED` if not, which is
    /// reported). `whose` is e.g. "a host's".
    fn address(&mut self, text: &Spanned<String>, whose: &str) -> Ipv4Addr {
        match text.get_ref().parse::<Ipv4Addr>() {
            Ok(a) if a.is_unspecified() || a.is_broadcast() || a.is_multicast() => {
                self.error_help(
                    format!("`{a}` cannot be {whose} address"),
                    span(text),
                    "use a unicast address such as \"10.0.0.1\"",
                );
                Ipv4Addr::UNSPECIFIED
            }
            Ok(a) => a,
            Err(_) => {
                self.error_help(
                    format!("`{}` is not an IPv4 address", text.get_ref()),
                    span(text),
                    "write e.g. \"10.0.0.1\"",
                );
                Ipv4Addr::UNSPECIFIED
            }
        }
    }

    fn link_params(&mut self, base: &LinkParams, doc: &LinkDoc, nested: bool) -> LinkParams {
        let mut p = base.clone();
        self.patch(doc, nested).apply(&mut p);
        if let Some(q) = &doc.qdisc
            && let Some(q) = self.qdisc(q)
        {
            p.qdisc = q;
        }
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
        let mtu = self
            .whole(&doc.mtu, "mtu", (68, 65535), 1500)
            .map(|m| m as usize);
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
            mtu,
            qdisc: None,
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
            let (Some(side_a), Some(side_b)) = (
                self.hosts_matching(&names[0]),
                self.hosts_matching(&names[1]),
            ) else {
                continue;
            };
            if side_a.len() > 1 && side_b.len() > 1 {
                self.error_help(
                    format!(
                        "both `{}` and `{}` name several hosts",
                        names[0].get_ref(),
                        names[1].get_ref()
                    ),
                    span(between),
                    "a link joins one host to one or more: name the replicas on one side only, e.g. between = [\"client-*\", \"server\"]",
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
            self.queues_need_bandwidth(ld, &ab, &ba);
            // One link per replica (side_a or side_b holds one host); one
            // error per entry, not one per replica.
            'pairs: for &a in &side_a {
                for &b in &side_b {
                    if !self.link(names, between, (a, b), (&ab, &ba), &mut out) {
                        break 'pairs;
                    }
                }
            }
        }
        out
    }

    /// Adds one link of a `[[link]]` entry, unless it joins a host to
    /// itself or two hosts already linked (reported: `false`).
    fn link(
        &mut self,
        names: &[Spanned<String>],
        between: &Spanned<Vec<Spanned<String>>>,
        (a, b): (HostId, HostId),
        (ab, ba): (&LinkParams, &LinkParams),
        out: &mut Vec<(HostId, HostId, LinkParams, LinkParams)>,
    ) -> bool {
        {
            if a == b {
                self.error("a link cannot join a host to itself", span(between));
                return false;
            }
            if self.link_pairs.contains_key(&ordered(a, b)) {
                let shown = |h: HostId, n: &Spanned<String>| {
                    if n.get_ref().contains('*') {
                        format!(
                            "{} (from `{}`)",
                            self.host_names[h.0 as usize].0,
                            n.get_ref()
                        )
                    } else {
                        n.get_ref().clone()
                    }
                };
                self.error(
                    format!(
                        "`{}` and `{}` are already linked",
                        shown(a, &names[0]),
                        shown(b, &names[1])
                    ),
                    span(between),
                );
                return false;
            }
            let (ab, ba) = (ab.clone(), ba.clone());
            self.link_pairs
                .insert(ordered(a, b), LinkId(out.len() as u32));
            self.link_ends.push((a, b));
            out.push((a, b, ab, ba));
        }
        true
    }

    /// The direction of `link` that leaves `from`.
    fn link_direction(&self, link: LinkId, from: HostId) -> Direction {
        if self.link_ends[link.0 as usize].0 == from {
            Direction::AtoB
        } else {
            Direction::BtoA
        }
    }
}

/// A character that cannot be shown as itself, in words.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        '\0' => "a NUL character (\\0)".to_string(),
        c if c.is_control() => format!(
            "the control character {}",
            crate::diagnostic::escape_control(&c.to_string(), false)
        ),
        c => format!("whitespace (U+{:04X})", c as u32),
    }
}

fn ordered(a: HostId, b: HostId) -> (HostId, HostId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The span of `key` inside the `index`-th `[[table]]`, read from the file
/// parsed again with positions (serde's flattened maps lose them). The
/// parse is made once per file and kept: done once per error, a file with
/// thousands of faulty applications took minutes.
fn key_span<'s>(
    positions: &std::cell::OnceCell<Option<toml::Spanned<toml::de::DeTable<'s>>>>,
    source: &'s str,
    table: &str,
    index: usize,
    key: &str,
) -> Option<Range<usize>> {
    let doc = positions
        .get_or_init(|| toml::de::DeTable::parse(source).ok())
        .as_ref()?;
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

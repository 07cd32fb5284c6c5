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
    /// What looks wrong but does not stop the scenario from running (a
    /// timeline entry after the time limit), each rendered like an error
    /// with `warning:` in front; `simnet check` and `simnet run` print them.
    pub warnings: Vec<String>,
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

/// The deepest nesting the TOML parser accepts (`toml`'s own limit):
/// dotted keys, table headers, arrays and inline tables all count.
const MAX_NESTING: usize = 80;

/// Turns an error from the TOML parser or serde into a diagnostic in
/// simnet's words: no Rust type names, a key named where the parser only
/// said "duplicate key", a position where it gave none.
fn toml_diagnostic(source: &str, message: &str, span: Option<Range<usize>>) -> Diagnostic {
    let message = message.trim();
    if message == "recursion limit" || message.starts_with("cannot recurse further") {
        let span = span.or_else(|| deepest_line(source));
        return Diagnostic::new("the tables or lists here nest too deeply", span).help(format!(
            "a scenario nests at most {MAX_NESTING} levels deep; \
             `[link.a_to_b]` is two levels, `partition = [[\"a\"], [\"b\"]]` is three"
        ));
    }
    if message == "duplicate key" {
        if let Some(sp) = &span {
            let key = source.get(sp.clone()).unwrap_or("").trim();
            let first = first_definition(source, key, sp.start);
            let mut d = Diagnostic::new(format!("the key `{key}` is defined twice"), span.clone());
            // A table written both inline and as a `[header]` is the
            // usual way to get here; say how to write it once.
            let line_start = source[..sp.start].rfind('\n').map_or(0, |i| i + 1);
            let after = source[sp.end..].trim_start();
            let table = source[line_start..].trim_start().starts_with('[')
                || after
                    .strip_prefix('=')
                    .is_some_and(|v| v.trim_start().starts_with('{'));
            let how = if table {
                format!(
                    "write the table once, either inline (`{key} = {{ ... }}`) \
                     or under a header (`[... .{key}]`), not both"
                )
            } else {
                format!("keep one `{key} = ...` in each table")
            };
            d = match first {
                Some(line) => d.help(format!("`{key}` was already defined on line {line}; {how}")),
                None => d.help(how),
            };
            return d;
        }
        return Diagnostic::new("a key is defined twice", span);
    }
    let (message, help) = split_expected(message);
    let message = plain_found(&message);
    let mut d = Diagnostic::new(message, span);
    if let Some(h) = help {
        d = d.help(plain_expected(&h));
    }
    d
}

/// serde says "unknown field `x`, expected one of `a`, `b`": keep the first
/// part as the message and turn the second into help.
fn split_expected(message: &str) -> (String, Option<String>) {
    match message.split_once(", expected ") {
        Some((m, rest)) => (m.to_string(), Some(format!("expected {rest}"))),
        None => (message.to_string(), None),
    }
}

/// serde's description of what it found, in words: "integer `9...` as i128"
/// is a number too large for any field, "sequence" is a list, "map" a table.
fn plain_found(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: integer ")
        && let Some(number) = rest.strip_suffix(" as i128")
    {
        return format!("invalid value: the number {number} is too large");
    }
    message
        .replace("invalid type: sequence", "invalid type: a list")
        .replace("invalid type: map", "invalid type: a table")
        .replace("floating point `", "number `")
}

/// serde's "expected u32" or "expected struct LinkDoc" in words, with an
/// example of a valid value.
fn plain_expected(help: &str) -> String {
    let Some(what) = help.strip_prefix("expected ") else {
        return help.to_string();
    };
    // TOML integers are 64-bit signed, so no file can hold more than i64::MAX.
    let whole = |max: u64| format!("expected a whole number between 0 and {max}, e.g. 1");
    match what {
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" | "u128" => whole(i64::MAX as u64),
        "i64" | "i128" => "expected a whole number, e.g. 1".to_string(),
        "f32" | "f64" => "expected a number, e.g. 1.5".to_string(),
        "a sequence" => "expected a list in square brackets, e.g. [\"client\", \"server\"]".to_string(),
        "a map" => "expected a table in braces, e.g. { status = 200 }".to_string(),
        "a boolean" => "expected true or false".to_string(),
        "a string" => "expected a string in double quotes, e.g. \"client\"".to_string(),
        "struct LinkDoc" => {
            "expected a table of link settings, e.g. { latency = \"10ms\", loss = \"1%\" }".to_string()
        }
        "struct TcpDoc" => "expected a table of TCP settings, e.g. { nagle = false }".to_string(),
        "struct BurstLossDoc" => {
            "expected a table such as { enter = \"1%\", exit = \"30%\" }".to_string()
        }
        "newline, `#`" => {
            "expected the end of the line: one `key = value` per line, then a newline or a `# comment`"
                .to_string()
        }
        w if w.starts_with("struct ") => "expected a table, e.g. { key = \"value\" }".to_string(),
        _ => help.to_string(),
    }
}

/// The line holding the most deeply nested key or value, for the parser's
/// "recursion limit", which comes without a position.
fn deepest_line(source: &str) -> Option<Range<usize>> {
    let mut best: Option<(usize, Range<usize>)> = None;
    let mut start = 0;
    for line in source.split_inclusive('\n') {
        let depth = line
            .chars()
            .filter(|c| matches!(c, '.' | '[' | '{'))
            .count();
        if best.as_ref().is_none_or(|(d, _)| depth > *d) {
            best = Some((depth, start..start + line.trim_end().len()));
        }
        start += line.len();
    }
    best.map(|(_, sp)| sp)
}

/// The line (from 1) where `key` was first defined before `before`, looking
/// back through the table that holds it: as `key =`, `key.x =`, inside an
/// inline table, or as the last part of a table header.
fn first_definition(source: &str, key: &str, before: usize) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let head = source.get(..before)?;
    // Only whole lines before the one the duplicate is on.
    let head = &head[..head.rfind('\n')? + 1];
    let lines: Vec<&str> = head.lines().collect();
    for (i, line) in lines.iter().enumerate().rev() {
        let t = line.trim_start();
        let header = t.starts_with('[');
        let as_key = t
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with('=') || r.starts_with('.'));
        let in_header = header
            && t.trim_end_matches(|c: char| c == ']' || c.is_whitespace())
                .rsplit(['.', '['])
                .next()
                .is_some_and(|last| last.trim() == key);
        let inline = t.contains(&format!(" {key} =")) || t.contains(&format!("{{{key} ="));
        if as_key || in_header || inline {
            return Some(i + 1);
        }
        if header {
            return None;
        }
    }
    None
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
        let hosts = self.hosts(&doc);
        let links = self.links(&doc);
        let apps = self.apps(&doc);
        let actions = self.timeline(&doc, time_limit);
        let faults = self.faults(&doc);
        let expectations = self.expectations(&doc);
        if doc.host.is_empty() {
            self.error("a scenario needs at least one `[[host]]`", Some(0..0));
        }
        Some(Scenario {
            file: file.to_string(),
            name: doc.name.into_inner(),
            description: doc.description.into_inner(),
            seed: doc.seed.unwrap_or(1),
            time_limit,
            expectations,
            warnings: Vec::new(),
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
            self.name(&h.name, "a host");
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
            if let Some(b) = self.whole(&h.backlog, "backlog", (1, 65535), 128) {
                config.backlog = b as usize;
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
        // (host, UDP?, port) → the application listening there.
        let mut listeners: BTreeMap<(HostId, bool, u16), String> = BTreeMap::new();
        for (index, a) in doc.app.iter().enumerate() {
            let ad = a.get_ref();
            let host = self.host(&ad.host);
            if let Some(n) = &ad.name {
                self.name(n, "an application");
            }
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
            self.app_kinds
                .push(self.registry.get(ad.kind.get_ref()).copied());
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
            if let Some(l) = kind.listens {
                let port = match ad.params.get(l.key) {
                    None => l.default,
                    Some(toml::Value::Integer(p)) => u16::try_from(*p).ok().filter(|p| *p != 0),
                    // A wrong value is reported when the parameters are read.
                    Some(_) => None,
                };
                let udp = l.protocol == Protocol::Udp;
                if let Some(port) = port {
                    match listeners.get(&(host, udp, port)) {
                        Some(first) => {
                            let sp = key_span(&self.positions, self.source, "app", index, l.key)
                                .or(span(a));
                            self.error_help(
                                format!(
                                    "`{name}` and `{first}` both {} {} port {port} on host `{}`",
                                    if udp { "bind" } else { "listen on" },
                                    if udp { "UDP" } else { "TCP" },
                                    ad.host.get_ref()
                                ),
                                sp,
                                format!(
                                    "one port of one host has one {}; give one of them another `{}`",
                                    if udp { "socket" } else { "listener" },
                                    l.key
                                ),
                            );
                        }
                        None => {
                            listeners.insert((host, udp, port), name.clone());
                        }
                    }
                }
            }
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
                        .and_then(|k| key_span(&self.positions, self.source, "app", index, k))
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

    fn timeline(&mut self, doc: &Document, time_limit: SimTime) -> Vec<(SimTime, Action)> {
        let mut out = Vec::new();
        // Crashes and restarts, in file order: (time, crash?, host, where).
        let mut up_down: Vec<(SimTime, bool, HostId, Range<usize>)> = Vec::new();
        for entry in &doc.timeline {
            let t = entry.get_ref();
            let at = SimTime::ZERO + t.at.get_ref().0;
            if at > time_limit {
                self.warnings.push(
                    Diagnostic::new(
                        format!(
                            "this timeline entry at {} comes after the time limit ({}), so it never happens",
                            t.at.get_ref().0,
                            time_limit - SimTime::ZERO
                        ),
                        span(&t.at),
                    )
                    .help("raise `time_limit`, or move the entry earlier"),
                );
            }
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
                    let mut overlap = false;
                    for h in &p.get_ref()[1] {
                        if p.get_ref()[0].iter().any(|o| o.get_ref() == h.get_ref()) {
                            overlap = true;
                            self.error_help(
                                format!("host `{}` is in both groups of this partition", h.get_ref()),
                                span(h),
                                "a partition cuts the hosts of one group off from the other's; put each host in one group",
                            );
                        }
                    }
                    if overlap {
                        continue;
                    }
                    Action::Partition(groups[0].clone(), groups[1].clone())
                }
                "heal" => Action::Heal,
                "crash" | "restart" => {
                    let h = t.crash.as_ref().or(t.restart.as_ref()).expect("chosen");
                    let Some(host) = self.host(h) else { continue };
                    up_down.push((at, chosen[0] == "crash", host, h.span()));
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
                    if let Some(kind) = self.app_kinds[app.0 as usize] {
                        self.command(&kind, verb);
                    }
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
        self.up_down(up_down);
        out
    }

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

    /// Refuses a command the application's kind does not understand (it
    /// would only be reported as ignored, in the middle of the run).
    fn command(&mut self, kind: &AppKind, verb: &Spanned<String>) {
        let v = verb.get_ref();
        if kind.commands.iter().any(|c| c.verb == v) {
            return;
        }
        let verbs: Vec<&str> = kind.commands.iter().map(|c| c.verb).collect();
        let help = match (verbs.is_empty(), suggest(v, verbs.iter().copied())) {
            (true, _) => format!("`{}` takes no timeline commands", kind.name),
            (false, Some(near)) => format!(
                "did you mean `{near}`? `{}` understands: {}",
                kind.name,
                verbs.join(", ")
            ),
            (false, None) => format!("`{}` understands: {}", kind.name, verbs.join(", ")),
        };
        self.error_help(
            format!(
                "an application of kind `{}` does not understand the command `{v}`",
                kind.name
            ),
            span(verb),
            help,
        );
    }

    /// Walks crashes and restarts in time order (file order within one
    /// instant, as the run does) and refuses crashing a host that is down
    /// or restarting one that is up.
    fn up_down(&mut self, mut entries: Vec<(SimTime, bool, HostId, Range<usize>)>) {
        entries.sort_by_key(|(at, ..)| *at);
        // Host → when it went down, if it is down.
        let mut down: BTreeMap<HostId, SimTime> = BTreeMap::new();
        for (at, crash, host, sp) in entries {
            let name = self.host_names[host.0 as usize].0.clone();
            match (crash, down.get(&host).copied()) {
                (true, None) => {
                    down.insert(host, at);
                }
                (false, Some(_)) => {
                    down.remove(&host);
                }
                (true, Some(since)) => self.error_help(
                    format!(
                        "host `{name}` is already down at {}: it crashed at {}",
                        at - SimTime::ZERO,
                        since - SimTime::ZERO
                    ),
                    Some(sp),
                    "restart it first (`restart = \"...\"`), or remove one of the crashes",
                ),
                (false, None) => self.error_help(
                    format!(
                        "host `{name}` is running at {}, so there is nothing to restart",
                        at - SimTime::ZERO
                    ),
                    Some(sp),
                    "`restart` brings back a host that an earlier `crash` took down",
                ),
            }
        }
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
                    port: ed.port.map(|p| p.0),
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
                        port: ed.port.map(|p| p.0),
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
        Some(Expectation {
            label: ed.label.clone(),
            claim,
        })
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

/// The span of `key = ` inside an inline `fields = { ... }` table, found
/// in the text (serde's maps keep no positions for their keys).
fn field_key_span(source: &str, table: Range<usize>, key: &str) -> Option<Range<usize>> {
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

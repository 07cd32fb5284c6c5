//! The `[[app]]` entries: their hosts (one, or every replica a pattern such
//! as `client-*` names), their names, their replicas, the ports they listen
//! on, and their kind's parameters.

use super::*;

impl Compiler<'_> {
    pub(super) fn apps(&mut self, doc: &Document) -> Vec<PlannedApp> {
        // Default names: the host's name when it runs one application,
        // otherwise `host.kind` (with a number when that repeats). Hosts
        // are resolved quietly here and reported in file order below.
        let mut per_host: BTreeMap<String, usize> = BTreeMap::new();
        for a in &doc.app {
            let h = a.get_ref().host.get_ref();
            if h.contains('*') {
                for id in self.glob_hosts(h) {
                    let name = self.host_names[id.0 as usize].0.clone();
                    *per_host.entry(name).or_default() += 1;
                }
            } else {
                *per_host.entry(h.clone()).or_default() += 1;
            }
        }
        let mut out = Vec::new();
        // (host, UDP?, port) → the application listening there.
        let mut listeners: BTreeMap<(HostId, bool, u16), String> = BTreeMap::new();
        for (index, a) in doc.app.iter().enumerate() {
            let ad = a.get_ref();
            let pattern = ad.host.get_ref().contains('*');
            // (host name, host) for each host the entry runs on.
            let targets: Vec<(String, Option<HostId>)> = match self.hosts_matching(&ad.host) {
                Some(ids) => ids
                    .into_iter()
                    .map(|h| (self.host_names[h.0 as usize].0.clone(), Some(h)))
                    .collect(),
                None => vec![(ad.host.get_ref().clone(), None)],
            };
            let n = self.replicas(&ad.replicas).unwrap_or(1);
            if let Some(name) = &ad.name {
                self.name(name, "an application");
            }
            let total = self.app_names.len() + targets.len() * n;
            if total > MAX_REPLICAS {
                self.error_help(
                    format!("this would make {total} applications, more than the {MAX_REPLICAS} a scenario may have"),
                    ad.replicas.as_ref().map_or(span(&ad.host), span),
                    "use fewer replicas or fewer hosts",
                );
                continue;
            }
            let kind = self.registry.get(ad.kind.get_ref()).copied();
            // Each target's applications: (base name, names).
            let mut names_of: Vec<(String, Vec<String>)> = Vec::with_capacity(targets.len());
            let mut group: Vec<AppId> = Vec::new();
            let mut reported = false;
            for (host_name, _) in &targets {
                let mut base = match &ad.name {
                    Some(name) if pattern => format!("{}@{host_name}", name.get_ref()),
                    Some(name) => name.get_ref().clone(),
                    None if per_host.get(host_name) == Some(&1) => host_name.clone(),
                    None => format!("{host_name}.{}", ad.kind.get_ref()),
                };
                if ad.name.is_none()
                    && per_host.get(host_name) != Some(&1)
                    && self.app_index.contains_key(&replica_name(&base, 1, n))
                {
                    base = format!("{base}.{index}");
                }
                let mut names = Vec::with_capacity(n);
                for r in 1..=n {
                    let name = replica_name(&base, r, n);
                    let id = AppId(self.app_names.len() as u32);
                    if self.app_index.contains_key(&name) {
                        if !reported {
                            let sp = ad.name.as_ref().map_or(span(a), span);
                            self.error_help(
                                format!("two applications are named `{name}`"),
                                sp,
                                "give each a unique `name`",
                            );
                            reported = true;
                        }
                    } else {
                        self.app_index.insert(name.clone(), id);
                    }
                    self.app_names.push(name.clone());
                    self.app_kinds.push(kind);
                    group.push(id);
                    names.push(name);
                }
                names_of.push((base, names));
            }
            // What the file calls this entry: its one application's name,
            // or the name standing for all its replicas.
            let entry = if pattern {
                ad.name
                    .as_ref()
                    .map_or_else(|| ad.host.get_ref().clone(), |n| n.get_ref().clone())
            } else if n > 1 {
                names_of[0].0.clone()
            } else {
                names_of[0].1[0].clone()
            };
            if pattern || n > 1 {
                if !self.app_index.contains_key(&entry) {
                    self.app_groups.entry(entry.clone()).or_insert(group);
                }
                self.app_entries
                    .push(format!("{entry} ({} replicas)", targets.len() * n));
            } else {
                self.app_entries.push(entry);
            }
            let Some(kind) = kind else {
                let help = format!("known kinds: {}", self.registry.names());
                self.error_help(
                    format!("unknown application kind `{}`", ad.kind.get_ref()),
                    span(&ad.kind),
                    help,
                );
                continue;
            };
            // Replica k of `total` starts k/total of the spread after `start`.
            let total = (targets.len() * n) as u64;
            let first = SimTime::ZERO
                + ad.start
                    .as_ref()
                    .map_or(SimDuration::ZERO, |s| s.get_ref().0);
            let spread = ad
                .start_spread
                .as_ref()
                .map_or(0, |s| s.get_ref().0.as_nanos());
            let start = |k: u64| {
                first
                    + SimDuration::from_nanos(
                        (u128::from(spread) * u128::from(k) / u128::from(total.max(1))) as u64,
                    )
            };
            let mut started = 0u64;
            let mut failed = false;
            let mut listening = true;
            for ((host_name, host), (_, names)) in targets.iter().zip(&names_of) {
                let Some(host) = *host else { continue };
                // One listener error per entry, not one per host.
                if listening {
                    listening =
                        self.listen(&mut listeners, (index, a), &kind, (host_name, host), names);
                }
                let mut params = Params::new(&ad.params, &self.host_names, kind.name, host_name)
                    .indexed(&self.host_index, &self.host_entries);
                let built =
                    (kind.build)(&mut params).and_then(|f| params.finish(&kind).map(|()| f));
                match built {
                    Ok(factory) => {
                        for name in names {
                            out.push(PlannedApp {
                                host,
                                kind: kind.name.to_string(),
                                name: name.clone(),
                                start: start(started),
                                factory: factory.clone(),
                            });
                            started += 1;
                        }
                    }
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
                        // The same parameters fail the same way on every host.
                        failed = true;
                    }
                }
                if failed {
                    break;
                }
            }
        }
        out
    }

    /// Claims the port an application of a listening kind takes on its
    /// host, refusing a second listener there (and replicas of a listener
    /// on one host, which would all take the same port). `false` once a
    /// problem is reported.
    fn listen(
        &mut self,
        listeners: &mut BTreeMap<(HostId, bool, u16), String>,
        (index, a): (usize, &Spanned<crate::format::AppDoc>),
        kind: &AppKind,
        (host_name, host): (&str, HostId),
        names: &[String],
    ) -> bool {
        let Some(l) = kind.listens else { return true };
        let ad = a.get_ref();
        let port = match ad.params.get(l.key) {
            None => l.default,
            Some(toml::Value::Integer(p)) => u16::try_from(*p).ok().filter(|p| *p != 0),
            // A wrong value is reported when the parameters are read.
            Some(_) => None,
        };
        let Some(port) = port else { return true };
        let udp = l.protocol == Protocol::Udp;
        let (verb, proto) = if udp {
            ("bind", "UDP")
        } else {
            ("listen on", "TCP")
        };
        if names.len() > 1 {
            self.error_help(
                format!(
                    "{} replicas of `{}` would all {verb} {proto} port {port} on host `{host_name}`",
                    names.len(),
                    ad.kind.get_ref()
                ),
                ad.replicas.as_ref().map_or(span(a), span),
                "one port of one host has one listener: replicate the host instead (`replicas` on a `[[host]]`, then host = \"server-*\")",
            );
            return false;
        }
        match listeners.get(&(host, udp, port)) {
            Some(first) => {
                let sp = key_span(&self.positions, self.source, "app", index, l.key).or(span(a));
                self.error_help(
                    format!(
                        "`{}` and `{first}` both {verb} {proto} port {port} on host `{host_name}`",
                        names[0]
                    ),
                    sp,
                    format!(
                        "one port of one host has one {}; give one of them another `{}`",
                        if udp { "socket" } else { "listener" },
                        l.key
                    ),
                );
                false
            }
            None => {
                listeners.insert((host, udp, port), names[0].clone());
                true
            }
        }
    }
}

/// The name of replica `r` (from 1) of `n`: `base#r`, or `base` alone.
fn replica_name(base: &str, r: usize, n: usize) -> String {
    if n > 1 {
        format!("{base}#{r}")
    } else {
        base.to_string()
    }
}

//! The `[[timeline]]`: each entry does one thing, names what exists, sends
//! an application only commands its kind understands, and crashes and
//! restarts hosts in an order that makes sense.

use super::*;
use std::collections::BTreeSet;

impl Compiler<'_> {
    pub(super) fn timeline(
        &mut self,
        doc: &Document,
        time_limit: SimTime,
    ) -> Vec<(SimTime, Action)> {
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
                    let Some(links) = self.links_between(between) else {
                        continue;
                    };
                    // `from` names a side of `between`: as written (a
                    // pattern names its side), or as the host it is.
                    let side = match &sd.from {
                        None => None,
                        Some(from) => {
                            let written = between
                                .get_ref()
                                .iter()
                                .position(|n| n.get_ref() == from.get_ref());
                            let (_, a, b) = links[0];
                            match written {
                                Some(i) => Some(i),
                                None => match self.host(from) {
                                    Some(h) if links.len() == 1 && h == a => Some(0),
                                    Some(h) if links.len() == 1 && h == b => Some(1),
                                    Some(_) => {
                                        self.error(
                                            "`from` must be one of the two hosts in `between`",
                                            span(from),
                                        );
                                        continue;
                                    }
                                    None => continue,
                                },
                            }
                        }
                    };
                    if sd.a_to_b.is_some() || sd.b_to_a.is_some() {
                        self.error(
                            "in `set_link`, pick a direction with `from` instead of a_to_b/b_to_a",
                            span(s),
                        );
                    }
                    if let Some(q) = &sd.qdisc {
                        self.error_help(
                            "`qdisc` cannot change during a run",
                            span(q),
                            "set it on the `[[link]]` (or its a_to_b / b_to_a)",
                        );
                        continue;
                    }
                    let patch = self.patch(sd, false);
                    if patch == LinkPatch::default() {
                        self.error("this `set_link` changes nothing", span(s));
                    }
                    let mut actions: Vec<Action> = links
                        .iter()
                        .map(|&(link, a, b)| Action::PatchLink {
                            link,
                            direction: side.map(|i| self.link_direction(link, [a, b][i])),
                            patch: patch.clone(),
                        })
                        .collect();
                    let last = actions.pop().expect("at least one link");
                    out.extend(actions.into_iter().map(|a| (at, a)));
                    last
                }
                "link_down" | "link_up" => {
                    let pair = t.link_down.as_ref().or(t.link_up.as_ref()).expect("chosen");
                    let Some(links) = self.links_between(pair) else {
                        continue;
                    };
                    let down = chosen[0] == "link_down";
                    let action = |(link, _, _): (LinkId, HostId, HostId)| {
                        if down {
                            Action::LinkDown(link)
                        } else {
                            Action::LinkUp(link)
                        }
                    };
                    let (last, rest) = links.split_last().expect("at least one link");
                    for &l in rest {
                        out.push((at, action(l)));
                    }
                    action(*last)
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
                    // A name may be a pattern (`client-*`): every host it
                    // matches is in the group.
                    let groups: Vec<Vec<(HostId, &Spanned<String>)>> = p
                        .get_ref()
                        .iter()
                        .map(|g| {
                            g.iter()
                                .filter_map(|h| Some((self.hosts_matching(h)?, h)))
                                .flat_map(|(ids, h)| ids.into_iter().map(move |id| (id, h)))
                                .collect()
                        })
                        .collect();
                    let first: BTreeSet<HostId> = groups[0].iter().map(|(id, _)| *id).collect();
                    let mut overlap = false;
                    // One error per name written, even for a pattern.
                    let mut reported = BTreeSet::new();
                    for (id, h) in &groups[1] {
                        if first.contains(id) && reported.insert(h.span().start) {
                            overlap = true;
                            self.error_help(
                                format!(
                                    "host `{}` is in both groups of this partition",
                                    self.host_names[id.0 as usize].0
                                ),
                                span(h),
                                "a partition cuts the hosts of one group off from the other's; put each host in one group",
                            );
                        }
                    }
                    if overlap {
                        continue;
                    }
                    let [a, b] = [0, 1].map(|i| groups[i].iter().map(|(id, _)| *id).collect());
                    Action::Partition(a, b)
                }
                "heal" => Action::Heal,
                "crash" | "restart" => {
                    // A pattern (`client-*`) crashes or restarts every
                    // host it matches, in declaration order.
                    let h = t.crash.as_ref().or(t.restart.as_ref()).expect("chosen");
                    let Some(hosts) = self.hosts_matching(h) else {
                        continue;
                    };
                    let crash = chosen[0] == "crash";
                    let action = |host| {
                        if crash {
                            Action::Crash(host)
                        } else {
                            Action::Restart(host)
                        }
                    };
                    for &host in &hosts {
                        up_down.push((at, crash, host, h.span()));
                    }
                    let (last, rest) = hosts.split_last().expect("at least one host");
                    for &host in rest {
                        out.push((at, action(host)));
                    }
                    action(*last)
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
                    // A replicated application's name sends the command
                    // to every replica.
                    let Some(apps) = self.apps_matching(app) else {
                        continue;
                    };
                    let mut kinds: Vec<AppKind> = Vec::new();
                    for a in &apps {
                        if let Some(kind) = self.app_kinds[a.0 as usize]
                            && !kinds.iter().any(|k| k.name == kind.name)
                        {
                            kinds.push(kind);
                        }
                    }
                    for kind in &kinds {
                        self.command(kind, verb);
                    }
                    let command = Command {
                        verb: verb.get_ref().clone(),
                        data: t.data.clone(),
                        count: t.count,
                    };
                    let (last, rest) = apps.split_last().expect("at least one application");
                    for a in rest {
                        out.push((at, Action::Command(*a, command.clone())));
                    }
                    Action::Command(*last, command)
                }
            };
            out.push((at, action));
        }
        self.up_down(up_down);
        out
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
}

pub(super) fn timeline_keys(t: &TimelineDoc) -> Vec<&'static str> {
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

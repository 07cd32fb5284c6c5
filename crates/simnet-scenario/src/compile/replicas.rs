//! Replicas: `[[host]]` and `[[app]]` entries that declare many identical
//! hosts or applications at once (`replicas = N`), and the patterns with `*`
//! (`client-*`) that name all of them at once in links, applications and
//! expectations.
//!
//! A scenario with a hundred thousand replicas compiles in well under a
//! second: names and addresses are looked up in ordered maps, never by
//! walking every host declared so far.

use super::*;

/// The most replicas one entry may declare, and the most hosts and the most
/// applications a scenario may have in all (a world of a million hosts is
/// already far beyond what a run can simulate in useful time).
pub const MAX_REPLICAS: usize = 1_000_000;

/// What `{i}` in a replicated host's name stands for.
const INDEX: &str = "{i}";

impl Compiler<'_> {
    /// Reads `replicas` (1 when absent; `None` if invalid, which is reported).
    pub(super) fn replicas(&mut self, v: &Option<Spanned<i64>>) -> Option<usize> {
        match v {
            None => Some(1),
            Some(_) => self
                .whole(v, "replicas", (1, MAX_REPLICAS as i64), 100)
                .map(|n| n as usize),
        }
    }

    /// Checks a host entry's name (a pattern holding `{i}` when it has
    /// several replicas) and returns how many hosts to declare from it: a
    /// wrong entry still declares one host, so that what refers to it is
    /// not reported as well. `what` is "host" or "router".
    pub(super) fn host_template(
        &mut self,
        h: &crate::format::HostDoc,
        n: usize,
        what: &str,
    ) -> usize {
        let text = h.name.get_ref();
        let has_index = text.contains(INDEX);
        if has_index && h.replicas.is_none() {
            self.error_help(
                format!(
                    "`{INDEX}` in a {what} name numbers replicas, but this {what} has no `replicas`"
                ),
                span(&h.name),
                "add e.g. replicas = 100 to declare client-1 .. client-100, or remove `{i}`",
            );
            return 1;
        }
        if !has_index && n > 1 {
            self.error_help(
                format!("{n} replicas cannot all be named `{text}`"),
                span(&h.name),
                "put `{i}` in the name where each replica's number goes (from 1), e.g. name = \"client-{i}\"",
            );
            return 1;
        }
        let example = Spanned::new(h.name.span(), text.replace(INDEX, "1"));
        self.name(&example, &format!("a {what}"));
        n
    }

    /// Declares the `n` replicas of a host (or router: `what`) entry:
    /// names from `template`, addresses counting up from `first`, each
    /// with `config`.
    pub(super) fn add_hosts(
        &mut self,
        h: &crate::format::HostDoc,
        template: &str,
        (n, what): (usize, &str),
        first: Ipv4Addr,
        config: HostConfig,
        out: &mut Vec<(String, Ipv4Addr, HostConfig)>,
    ) {
        let total = self.host_names.len() + n;
        if total > MAX_REPLICAS {
            self.error_help(
                format!("this would make {total} hosts, more than the {MAX_REPLICAS} a scenario may have"),
                h.replicas.as_ref().map_or(span(&h.name), span),
                "use fewer replicas",
            );
            return;
        }
        // The addresses: `first` and the n - 1 after it, all unicast.
        let valid = !first.is_unspecified();
        let start = u32::from(first);
        let last = u64::from(start) + n as u64 - 1;
        if valid && n > 1 {
            let bad = match u32::try_from(last) {
                Ok(l) if l == u32::MAX => {
                    Some("would reach 255.255.255.255, the broadcast address".to_string())
                }
                Err(_) => Some("would run past 255.255.255.255".to_string()),
                Ok(l)
                    if Ipv4Addr::from(l).is_multicast()
                        || (start < 0xE000_0000 && l >= 0xE000_0000) =>
                {
                    Some(format!(
                        "would run into the multicast range 224.0.0.0 - 239.255.255.255 (the last is {})",
                        Ipv4Addr::from(l)
                    ))
                }
                Ok(_) => None,
            };
            if let Some(why) = bad {
                self.error_help(
                    format!("the addresses of {n} replicas counting up from {first} {why}"),
                    span(&h.address),
                    "start lower, e.g. address = \"10.1.0.1\" leaves room for 16 million replicas",
                );
                return;
            }
        }
        if valid {
            let range = first..=Ipv4Addr::from(last as u32);
            if let Some((addr, other)) = self.addr_index.range(range).next() {
                let word = self.node_word(*other);
                let other = self.host_names[other.0 as usize].0.clone();
                let message = if n == 1 {
                    format!("address {addr} is already used by {word} `{other}`")
                } else {
                    format!(
                        "the replicas' addresses {first} .. {} include {addr}, already used by {word} `{other}`",
                        Ipv4Addr::from(last as u32)
                    )
                };
                self.error(message, span(&h.address));
            }
        }
        let mut reported = false;
        for i in 0..n {
            let name = if template.contains(INDEX) && h.replicas.is_some() {
                template.replace(INDEX, &(i + 1).to_string())
            } else {
                template.to_string()
            };
            let addr = if valid {
                Ipv4Addr::from(start + i as u32)
            } else {
                first
            };
            let id = HostId(self.host_names.len() as u32);
            if let Some(&other) = self.host_index.get(&name) {
                // One error per entry, not one per replica.
                if !reported {
                    let both = match (self.node_word(other), what) {
                        ("host", "host") => "two hosts are",
                        ("router", "router") => "two routers are",
                        _ => "a host and a router are both",
                    };
                    self.error(format!("{both} named `{name}`"), span(&h.name));
                    reported = true;
                }
            } else {
                self.host_index.insert(name.clone(), id);
            }
            if valid {
                self.addr_index.entry(addr).or_insert(id);
            }
            self.host_names.push((name.clone(), addr));
            out.push((name, addr, config.clone()));
        }
        self.host_entries.push(if h.replicas.is_some() {
            template.replace(INDEX, "*")
        } else {
            template.to_string()
        });
    }

    /// The hosts a reference names: one host by its name, or every host a
    /// pattern with `*` matches (`client-*`: every replica of `client-{i}`),
    /// in declaration order. `None` (reported) if there is none.
    pub(super) fn hosts_matching(&mut self, name: &Spanned<String>) -> Option<Vec<HostId>> {
        let text = name.get_ref();
        if !text.contains('*') {
            return self.host(name).map(|h| vec![h]);
        }
        let ids = self.glob_hosts(text);
        if ids.is_empty() {
            let help = self.host_list();
            self.error_help(format!("no host matches `{text}`"), span(name), help);
            return None;
        }
        Some(ids)
    }

    /// The hosts a pattern with `*` matches, in declaration order (each
    /// pattern is matched against every host once, then remembered).
    pub(super) fn glob_hosts(&mut self, pattern: &str) -> Vec<HostId> {
        if let Some(ids) = self.host_matches.get(pattern) {
            return ids.clone();
        }
        let ids: Vec<HostId> = self
            .host_names
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| glob(pattern, n))
            .map(|(i, _)| HostId(i as u32))
            .collect();
        self.host_matches.insert(pattern.to_string(), ids.clone());
        ids
    }

    /// The applications a reference names: one by its name, every replica
    /// of a replicated entry by the entry's name (or host pattern), or
    /// every application a pattern with `*` matches. `None` (reported) if
    /// there is none.
    pub(super) fn apps_matching(&mut self, name: &Spanned<String>) -> Option<Vec<AppId>> {
        let text = name.get_ref();
        if let Some(a) = self.app_index.get(text) {
            return Some(vec![*a]);
        }
        if let Some(ids) = self.app_groups.get(text) {
            return Some(ids.clone());
        }
        if !text.contains('*') {
            return self.app(name).map(|a| vec![a]);
        }
        let ids: Vec<AppId> = self
            .app_names
            .iter()
            .enumerate()
            .filter(|(_, n)| glob(text, n))
            .map(|(i, _)| AppId(i as u32))
            .collect();
        if ids.is_empty() {
            let help = format!(
                "applications in this scenario: {}",
                self.app_entries.join(", ")
            );
            self.error_help(format!("no application matches `{text}`"), span(name), help);
            return None;
        }
        Some(ids)
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of
/// characters (possibly none) and everything else for itself.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests;

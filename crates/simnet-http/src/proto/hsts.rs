//! HTTP Strict Transport Security (RFC 6797), without I/O: the
//! `Strict-Transport-Security` header read and written, and a client's
//! store of the hosts it must reach over HTTPS only, in simulated time.
//!
//! The store is what a browser keeps: a host that answered over HTTPS
//! with `max-age=N` is "known" for N seconds from the moment the header
//! arrived (`includeSubDomains` extends it to the names under it);
//! `max-age=0` forgets it; a preloaded host is known from the start and
//! forever. It knows nothing of sockets: the caller says when a header
//! arrived over a secure connection, and asks before each request.
//!
//! Deliberately not done: the rule that a header on an `http://` response
//! is ignored is the caller's (it knows the scheme), IP-literal hosts are
//! refused by the caller too (RFC 6797 §8.1.1), and the store does not
//! persist beyond the application.

use simnet_core::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// The most hosts a store remembers; a full store forgets the host whose
/// entry expires first, as the DNS cache does. Preloaded names do not
/// count.
pub const MAX_HSTS_HOSTS: usize = 1024;

/// A parsed `Strict-Transport-Security` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StsPolicy {
    /// `max-age`, in seconds.
    pub max_age_secs: u64,
    /// `includeSubDomains` was present.
    pub include_subdomains: bool,
}

impl StsPolicy {
    /// The header value a server sends.
    pub fn header_value(&self) -> String {
        let mut v = format!("max-age={}", self.max_age_secs);
        if self.include_subdomains {
            v.push_str("; includeSubDomains");
        }
        v
    }

    /// `max-age` as a duration (saturating at [`SimDuration::MAX`]).
    pub fn max_age(&self) -> SimDuration {
        SimDuration::from_secs(self.max_age_secs)
    }

    /// Reads a header value (RFC 6797 §6.1): directives separated by `;`,
    /// names without case, `max-age` required exactly once, its value
    /// digits (optionally quoted). Unknown directives are ignored, as the
    /// RFC asks; a malformed value is refused whole.
    pub fn parse(value: &str) -> Result<StsPolicy, StsError> {
        let mut max_age: Option<u64> = None;
        let mut include_subdomains = false;
        for directive in value.split(';') {
            let directive = directive.trim();
            if directive.is_empty() {
                continue;
            }
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim())),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("max-age") {
                if max_age.is_some() {
                    return Err(StsError::Repeated("max-age"));
                }
                let arg = arg.ok_or(StsError::BadMaxAge(String::new()))?;
                let digits = arg
                    .strip_prefix('"')
                    .and_then(|a| a.strip_suffix('"'))
                    .unwrap_or(arg);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(StsError::BadMaxAge(arg.to_string()));
                }
                // A longer number than u64 holds is "forever" for any run.
                max_age = Some(digits.parse().unwrap_or(u64::MAX));
            } else if name.eq_ignore_ascii_case("includeSubDomains") {
                if include_subdomains {
                    return Err(StsError::Repeated("includeSubDomains"));
                }
                if arg.is_some() {
                    return Err(StsError::Valued("includeSubDomains"));
                }
                include_subdomains = true;
            }
        }
        let max_age_secs = max_age.ok_or(StsError::NoMaxAge)?;
        Ok(StsPolicy {
            max_age_secs,
            include_subdomains,
        })
    }
}

/// Why a `Strict-Transport-Security` value was ignored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// No `max-age` directive.
    #[error("no max-age directive")]
    NoMaxAge,
    /// `max-age` without a number.
    #[error("max-age `{0}` is not a number of seconds")]
    BadMaxAge(String),
    /// A directive given twice.
    #[error("{0} appears twice")]
    Repeated(&'static str),
    /// A directive that takes no value was given one.
    #[error("{0} takes no value")]
    Valued(&'static str),
}

/// Why a request to a host goes over HTTPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// The host is on the preload list.
    Preloaded,
    /// The host (or, with `includeSubDomains`, a parent: `via`) said so,
    /// and `left` of its max-age remains.
    Remembered {
        /// What is left of the max-age.
        left: SimDuration,
        /// Whether the entry is a parent domain's.
        via_parent: bool,
    },
}

/// What [`HstsStore::observe`] did with a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The host is known until `until`.
    Remembered {
        /// When the entry expires.
        until: SimTime,
    },
    /// `max-age=0`: the host was forgotten (it may not have been known).
    Forgotten,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    expires: SimTime,
    include_subdomains: bool,
}

/// A client's HSTS hosts (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct HstsStore {
    preload: BTreeSet<String>,
    entries: BTreeMap<String, Entry>,
}

impl HstsStore {
    /// An empty store with these hosts preloaded (lower case).
    pub fn with_preload<I: IntoIterator<Item = String>>(hosts: I) -> HstsStore {
        HstsStore {
            preload: hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            entries: BTreeMap::new(),
        }
    }

    /// Hosts remembered (not preloaded), expired entries included until
    /// they are next looked at.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes a policy `host` sent over a secure connection at `now`.
    pub fn observe(&mut self, host: &str, policy: StsPolicy, now: SimTime) -> Observed {
        let host = host.to_ascii_lowercase();
        if policy.max_age_secs == 0 {
            self.entries.remove(&host);
            return Observed::Forgotten;
        }
        let until = now.saturating_add(policy.max_age());
        if !self.entries.contains_key(&host) && self.entries.len() >= MAX_HSTS_HOSTS {
            self.evict(now);
        }
        self.entries.insert(
            host,
            Entry {
                expires: until,
                include_subdomains: policy.include_subdomains,
            },
        );
        Observed::Remembered { until }
    }

    /// Whether a request to `host` at `now` must go over HTTPS, and why.
    /// An entry is valid while `now` is before its expiry.
    pub fn lookup(&mut self, host: &str, now: SimTime) -> Option<Known> {
        let host = host.to_ascii_lowercase();
        if self.preload.contains(&host) {
            return Some(Known::Preloaded);
        }
        self.entries.retain(|_, e| e.expires > now);
        if let Some(e) = self.entries.get(&host) {
            return Some(Known::Remembered {
                left: e.expires.saturating_since(now),
                via_parent: false,
            });
        }
        // A parent that said includeSubDomains (RFC 6797 §8.2).
        let mut rest = host.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(e) = self.entries.get(parent)
                && e.include_subdomains
            {
                return Some(Known::Remembered {
                    left: e.expires.saturating_since(now),
                    via_parent: true,
                });
            }
            rest = parent;
        }
        None
    }

    /// Makes room: the expired entries, or else the one expiring first
    /// (the lowest host name among equals, so the choice is stable).
    fn evict(&mut self, now: SimTime) {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.expires > now);
        if self.entries.len() < before {
            return;
        }
        let first = self
            .entries
            .iter()
            .min_by_key(|(h, e)| (e.expires, (*h).clone()))
            .map(|(h, _)| h.clone());
        if let Some(h) = first {
            self.entries.remove(&h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SimTime {
        SimTime::from_secs(secs)
    }

    #[test]
    fn headers_parse_and_print() {
        let p = StsPolicy::parse("max-age=31536000; includeSubDomains").unwrap();
        assert_eq!(p.max_age_secs, 31_536_000);
        assert!(p.include_subdomains);
        assert_eq!(p.header_value(), "max-age=31536000; includeSubDomains");
        let p = StsPolicy::parse("MAX-AGE=\"30\";preload").unwrap();
        assert_eq!(p.max_age_secs, 30);
        assert!(!p.include_subdomains);
        assert_eq!(
            StsPolicy::parse("includeSubDomains"),
            Err(StsError::NoMaxAge)
        );
        assert_eq!(
            StsPolicy::parse("max-age=1y"),
            Err(StsError::BadMaxAge("1y".into()))
        );
        assert_eq!(
            StsPolicy::parse("max-age=1; max-age=2"),
            Err(StsError::Repeated("max-age"))
        );
        assert_eq!(
            StsPolicy::parse("max-age=-1"),
            Err(StsError::BadMaxAge("-1".into()))
        );
        assert_eq!(
            StsPolicy::parse("max-age=5; includeSubDomains=yes"),
            Err(StsError::Valued("includeSubDomains"))
        );
        let huge = StsPolicy::parse("max-age=99999999999999999999999").unwrap();
        assert_eq!(huge.max_age_secs, u64::MAX);
    }

    #[test]
    fn an_entry_lasts_max_age_of_simulated_time() {
        let mut s = HstsStore::default();
        let p = StsPolicy::parse("max-age=30").unwrap();
        assert_eq!(s.lookup("www.example", at(0)), None);
        assert_eq!(
            s.observe("WWW.example", p, at(1)),
            Observed::Remembered { until: at(31) }
        );
        assert_eq!(
            s.lookup("www.example", at(11)),
            Some(Known::Remembered {
                left: SimDuration::from_secs(20),
                via_parent: false
            })
        );
        // Valid up to, not at, its expiry.
        assert!(
            s.lookup("www.example", SimTime::from_nanos(31_000_000_000 - 1))
                .is_some()
        );
        assert_eq!(s.lookup("www.example", at(31)), None);
        assert!(s.is_empty(), "an expired entry is dropped when looked at");
    }

    #[test]
    fn a_new_header_renews_and_max_age_zero_forgets() {
        let mut s = HstsStore::default();
        s.observe("a.example", StsPolicy::parse("max-age=10").unwrap(), at(0));
        s.observe("a.example", StsPolicy::parse("max-age=10").unwrap(), at(8));
        assert!(s.lookup("a.example", at(15)).is_some());
        assert_eq!(
            s.observe("a.example", StsPolicy::parse("max-age=0").unwrap(), at(16)),
            Observed::Forgotten
        );
        assert_eq!(s.lookup("a.example", at(16)), None);
    }

    #[test]
    fn subdomains_only_with_include_subdomains() {
        let mut s = HstsStore::default();
        s.observe("example", StsPolicy::parse("max-age=10").unwrap(), at(0));
        assert_eq!(s.lookup("www.example", at(1)), None);
        s.observe(
            "example",
            StsPolicy::parse("max-age=10; includeSubDomains").unwrap(),
            at(0),
        );
        assert_eq!(
            s.lookup("a.b.example", at(1)),
            Some(Known::Remembered {
                left: SimDuration::from_secs(9),
                via_parent: true
            })
        );
        assert_eq!(s.lookup("notexample", at(1)), None);
    }

    #[test]
    fn preloaded_hosts_are_known_forever() {
        let mut s = HstsStore::with_preload(["Bank.Example".to_string()]);
        assert_eq!(
            s.lookup("bank.example", at(1_000_000)),
            Some(Known::Preloaded)
        );
        assert_eq!(s.lookup("www.bank.example", at(0)), None);
    }

    #[test]
    fn a_full_store_forgets_the_entry_expiring_first() {
        let mut s = HstsStore::default();
        for i in 0..MAX_HSTS_HOSTS as u64 {
            let p = StsPolicy::parse(&format!("max-age={}", 100 + i)).unwrap();
            s.observe(&format!("h{i}.example"), p, at(0));
        }
        assert_eq!(s.len(), MAX_HSTS_HOSTS);
        s.observe("new.example", StsPolicy::parse("max-age=5").unwrap(), at(1));
        assert_eq!(s.len(), MAX_HSTS_HOSTS);
        assert_eq!(s.lookup("h0.example", at(1)), None, "h0 expired first");
        assert!(s.lookup("h1.example", at(1)).is_some());
        assert!(s.lookup("new.example", at(1)).is_some());
    }
}

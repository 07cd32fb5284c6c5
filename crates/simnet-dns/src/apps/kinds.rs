//! The DNS application kinds scenario files can use: `dns-server` and
//! `dns-client`.

use super::{DnsClient, DnsServer};
use crate::proto::zone::MAX_TTL_SECS;
use crate::proto::{DnsName, ResolverConfig, Zone, ZoneRecord};
use serde::Deserialize;
use simnet_core::{Protocol, SimDuration};
use simnet_scenario::units::Dur;
use simnet_scenario::{
    AppKind, AppRegistry, ListenPort, ParamDoc, ParamError, Params, SharedFactory, factory,
};
use std::net::Ipv4Addr;

/// The most records one server declares, and lookups one client makes:
/// both are held in memory for the whole run.
const MAX_ENTRIES: usize = 10_000;

/// The application events the DNS applications emit.
const EVENT_KINDS: &[&str] = &[
    "dns.answer",
    "dns.bind-failed",
    "dns.busy",
    "dns.failed",
    "dns.ignored",
    "dns.nodata",
    "dns.nxdomain",
    "dns.query",
    "dns.retry",
    "dns.served",
    "dns.timeout",
];

/// The fields of [`EVENT_KINDS`].
const EVENT_FIELDS: &[&str] = &[
    "address", "attempt", "attempts", "cached", "id", "latency", "name", "rcode", "reason", "ttl",
    "waited",
];

/// Registers `dns-server` and `dns-client`.
pub fn register(r: &mut AppRegistry) {
    r.register_events(EVENT_KINDS, EVENT_FIELDS, &["latency", "ttl", "waited"]);
    r.register(AppKind {
        name: "dns-server",
        summary: "An authoritative DNS server over UDP for the names the scenario declares; NXDOMAIN for the others.",
        params: &[
            ParamDoc { key: "records", doc: "list of { name, address, ttl }: the A records, e.g. { name = \"api.example\", address = \"10.0.0.2\", ttl = \"30s\" } (ttl: whole seconds, 1s to 68 years) (required)" },
            ParamDoc { key: "port", doc: "UDP port (default 53)" },
            ParamDoc { key: "zone", doc: "the zone's origin; names outside it are REFUSED (default: the common parent of the records' names, e.g. \"example\")" },
            ParamDoc { key: "negative_ttl", doc: "how long a resolver may cache NXDOMAIN, the SOA's MINIMUM (RFC 2308), whole seconds (default 5s)" },
            ParamDoc { key: "servfail", doc: "names answered with SERVFAIL, to show that failure (default none)" },
            ParamDoc { key: "delay", doc: "answer each query this much later (default 0s)" },
        ],
        commands: &[],
        listens: Some(ListenPort { key: "port", default: Some(53), protocol: Protocol::Udp }),
        build: build_server,
    });
    r.register(AppKind {
        name: "dns-client",
        summary: "Looks names up at given times through a stub resolver with a cache; reports answers, cache hits, NXDOMAIN, retries and timeouts.",
        params: &[
            ParamDoc { key: "server", doc: "host:port of the DNS server, e.g. \"dns:53\" (required)" },
            ParamDoc { key: "lookups", doc: "list of { name, at }: look `name` up `at` after the start (required)" },
            ParamDoc { key: "timeout", doc: "how long the first send waits for an answer; each resend waits twice as long (default 1s)" },
            ParamDoc { key: "attempts", doc: "sends per lookup, the first included, 1 to 10 (default 3)" },
            ParamDoc { key: "cache_entries", doc: "names the cache holds; a full cache forgets the one expiring first; 0 for no cache (default 256)" },
        ],
        commands: &[],
        listens: None,
        build: build_client,
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordDoc {
    name: String,
    address: String,
    ttl: Dur,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupDoc {
    name: String,
    at: Option<Dur>,
}

fn name(key: &str, text: &str) -> Result<DnsName, ParamError> {
    DnsName::parse(text).map_err(|e| {
        ParamError::at(key, format!("`{key}`: {e}"))
            .help("a host name such as \"api.example\": letters, digits and hyphens, labels joined by dots")
    })
}

/// A TTL: whole seconds, at least one, at most 2³¹ − 1 (RFC 2181).
fn ttl_secs(key: &str, what: &str, d: SimDuration) -> Result<u32, ParamError> {
    let nanos = d.as_nanos();
    let secs = nanos / 1_000_000_000;
    if nanos == 0 || !nanos.is_multiple_of(1_000_000_000) || secs > u64::from(MAX_TTL_SECS) {
        return Err(ParamError::at(
            key,
            format!("`{key}`: the TTL of {what} is {d}, and a DNS TTL is a whole number of seconds from 1s to {MAX_TTL_SECS}s"),
        )
        .help("write e.g. ttl = \"30s\""));
    }
    Ok(secs as u32)
}

fn build_server(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let port = p.port("port")?.unwrap_or(53);
    let docs: Option<Vec<RecordDoc>> = p.deserialize("records")?;
    let docs = p.require("records", docs)?;
    if docs.is_empty() || docs.len() > MAX_ENTRIES {
        return Err(ParamError::at(
            "records",
            format!(
                "`records` must declare between 1 and {MAX_ENTRIES} names, not {}",
                docs.len()
            ),
        ));
    }
    let mut records = Vec::new();
    for doc in docs {
        let n = name("records", &doc.name)?;
        let address: Ipv4Addr = doc.address.parse().map_err(|_| {
            ParamError::at(
                "records",
                format!(
                    "`records`: the address of {n}, `{}`, is not an IPv4 address",
                    doc.address
                ),
            )
            .help("write e.g. address = \"10.0.0.2\"")
        })?;
        let ttl_secs = ttl_secs("records", &n.to_string(), doc.ttl.0)?;
        if records.iter().any(|(m, _)| *m == n) {
            return Err(ParamError::at(
                "records",
                format!("`records` declares {n} twice"),
            ));
        }
        records.push((n, ZoneRecord { address, ttl_secs }));
    }
    let origin = match p.string("zone")? {
        Some(z) => Some(name("zone", &z)?),
        None => Zone::default_origin(records.iter().map(|(n, _)| n)),
    };
    if let Some(origin) = &origin
        && let Some((n, _)) = records.iter().find(|(n, _)| !n.is_within(origin))
    {
        return Err(ParamError::at(
            "zone",
            format!("{n} is not in the zone `{origin}`"),
        ));
    }
    let negative = p
        .duration("negative_ttl")?
        .unwrap_or(SimDuration::from_secs(5));
    let negative_ttl_secs = ttl_secs("negative_ttl", "negative answers", negative)?;
    let servfail = p
        .strings("servfail")?
        .unwrap_or_default()
        .iter()
        .map(|s| name("servfail", s))
        .collect::<Result<Vec<_>, _>>()?;
    let delay = p.duration("delay")?.unwrap_or(SimDuration::ZERO);
    let mut zone = Zone::new(origin, negative_ttl_secs);
    for (n, r) in records {
        zone.insert(n, r);
    }
    for n in servfail {
        zone.fail(n);
    }
    Ok(factory(move || DnsServer::new(zone.clone(), port, delay)))
}

fn build_client(p: &mut Params<'_>) -> Result<SharedFactory, ParamError> {
    let server = p.endpoint("server")?;
    let server = p.require("server", server)?;
    let docs: Option<Vec<LookupDoc>> = p.deserialize("lookups")?;
    let docs = p.require("lookups", docs)?;
    if docs.is_empty() || docs.len() > MAX_ENTRIES {
        return Err(ParamError::at(
            "lookups",
            format!(
                "`lookups` must list between 1 and {MAX_ENTRIES} lookups, not {}",
                docs.len()
            ),
        ));
    }
    let lookups = docs
        .iter()
        .map(|d| {
            Ok((
                d.at.map_or(SimDuration::ZERO, |a| a.0),
                name("lookups", &d.name)?,
            ))
        })
        .collect::<Result<Vec<_>, ParamError>>()?;
    let mut config = ResolverConfig::default();
    if let Some(t) = p.interval("timeout")? {
        config.timeout = t;
    }
    if let Some(a) = p.int("attempts", 10)? {
        if a == 0 {
            return Err(ParamError::at(
                "attempts",
                "`attempts` must be between 1 and 10, not 0",
            ));
        }
        config.attempts = a as u32;
    }
    if let Some(c) = p.int("cache_entries", 1_000_000)? {
        config.cache_entries_max = c as usize;
    }
    Ok(factory(move || {
        DnsClient::new(server, config.clone(), lookups.clone())
    }))
}

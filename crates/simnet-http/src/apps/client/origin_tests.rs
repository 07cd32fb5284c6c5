//! The client's origins at work in small worlds: connecting by name
//! (the cache, NXDOMAIN, a resolver that never answers), redirects (to
//! https, loops, to a host it cannot reach) and HSTS (remembered over
//! https only, then used).

use super::*;
use crate::apps::{HttpServer, HttpsPolicy, Route, ServerTls};
use crate::proto::ServerConfig;
use crate::proto::hsts::StsPolicy;
use simnet_core::trace::{FieldValue, Trace, TraceEvent};
use simnet_core::{LinkParams, World, WorldBuilder};
use simnet_dns::apps::DnsServer;
use simnet_dns::proto::{DnsName, ResolverConfig, Zone, ZoneRecord};
use simnet_tls::TlsVersion;
use std::net::Ipv4Addr;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 53);

/// Server applications by name, each a factory.
type Servers = Vec<(&'static str, Box<dyn Fn() -> HttpServer>)>;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

/// The application events of `kind`, with their times.
fn events<'a>(trace: &'a Trace, kind: &'a str) -> Vec<(SimTime, &'a AppEvent)> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::App { event, .. } if event.kind == kind => Some((r.time, &**event)),
            _ => None,
        })
        .collect()
}

fn text<'a>(e: &'a AppEvent, field: &str) -> Option<&'a str> {
    match e.field(field) {
        Some(FieldValue::Text(t)) => Some(t),
        _ => None,
    }
}

/// The SYNs the client sent to `port` (the connections it opened), with
/// their times.
fn tcp_to(trace: &Trace, port: u16) -> Vec<SimTime> {
    use simnet_core::packet::{TcpFlags, Transport};
    trace
        .records
        .iter()
        .filter_map(|r| {
            let info = r.event.packet_info()?;
            let dst = info.dst_endpoint()?;
            let syn =
                matches!(&info.transport, Transport::Tcp(t) if t.flags.0 & TcpFlags::SYN != 0);
            (syn && info.src == CLIENT && dst.port() == port).then_some(r.time)
        })
        .collect()
}

/// A client, a web server (`servers` apps on it) and a DNS server
/// declaring api.example with a 5 s TTL; 10 ms links.
fn world(
    servers: Servers,
    client: impl Fn() -> HttpClient + 'static,
) -> (World, simnet_core::AppId) {
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", CLIENT);
    let s = b.host("server", SERVER);
    let d = b.host("dns", DNS);
    b.link(c, s, LinkParams::with_latency(ms(10)));
    b.link(c, d, LinkParams::with_latency(ms(5)));
    for (name, f) in servers {
        b.app(s, name, f);
    }
    b.app(d, "dns-server", || {
        let mut zone = Zone::new(DnsName::parse("example").ok(), 5);
        zone.insert(
            DnsName::parse("api.example").unwrap(),
            ZoneRecord {
                address: SERVER,
                ttl_secs: 5,
            },
        );
        DnsServer::new(zone, 53, SimDuration::ZERO)
    });
    let id = b.app(c, "client", client);
    (b.build().expect("a valid world"), id)
}

fn plain_server() -> Box<dyn Fn() -> HttpServer> {
    Box::new(|| HttpServer::new(80, ServerConfig::default(), vec![Route::ok("/", 100)]))
}

fn resolver(config: ResolverConfig) -> NameResolver {
    NameResolver::new(SocketAddrV4::new(DNS, 53), config)
}

fn by_name(url: &str, count: u64) -> HttpClient {
    HttpClient::to_url(&Url::parse(url).unwrap(), None, count)
        .resolver(resolver(ResolverConfig::default()))
}

#[test]
fn a_name_is_looked_up_before_each_new_connection_and_cached_for_its_ttl() {
    // One connection per request, one request every 2 s: at 0 s a query,
    // at 2 s and 4 s the cache (TTL 5 s from 10 ms), at 6 s a query again.
    let (mut w, id) = world(vec![("http-server", plain_server())], || {
        by_name("http://api.example/", 4)
            .mode(ClientMode::Close)
            .interval(SimDuration::from_secs(2))
    });
    w.run_until(SimTime::from_secs(10));
    let client = w.app::<HttpClient>(id).unwrap();
    assert_eq!(client.responses.len(), 4);
    assert_eq!(client.failures, 0);
    let queries = events(w.trace(), "dns.query");
    let at: Vec<SimTime> = queries.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, vec![SimTime::ZERO, SimTime::from_secs(6)]);
    let lookups = events(w.trace(), "http.lookup");
    assert_eq!(lookups.len(), 4, "one lookup per new connection");
    // The uncached request pays a round trip to the resolver first.
    let totals: Vec<SimDuration> = client.responses.iter().map(|r| r.total).collect();
    assert_eq!(totals, vec![ms(50), ms(40), ms(40), ms(50)]);
    // Each connection opened once its name was known.
    let syns = tcp_to(w.trace(), 80);
    assert_eq!(syns.len(), 4);
    assert_eq!(syns[0], SimTime::from_millis(10));
    assert_eq!(syns[1], SimTime::from_secs(2));
}

#[test]
fn nxdomain_fails_the_request_without_a_connection() {
    let (mut w, id) = world(vec![("http-server", plain_server())], || {
        by_name("http://nope.example/", 2)
    });
    w.run_until(SimTime::from_secs(10));
    let client = w.app::<HttpClient>(id).unwrap();
    assert_eq!(client.responses.len(), 0);
    assert_eq!(
        client.failures, 2,
        "both requests fail, the second from the cache"
    );
    assert!(tcp_to(w.trace(), 80).is_empty(), "no connection was opened");
    let errors = events(w.trace(), "http.error");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].0, SimTime::from_millis(10));
    assert_eq!(text(errors[0].1, "lookup"), Some("nxdomain"));
    assert!(
        errors[0]
            .1
            .summary
            .text()
            .contains("nope.example does not exist")
    );
    // The second failed at once, from the negative cache.
    assert_eq!(errors[1].0, SimTime::from_millis(10));
    assert_eq!(events(w.trace(), "dns.query").len(), 1);
}

#[test]
fn a_resolver_that_never_answers_fails_the_request_after_its_attempts() {
    let (mut w, id) = world(vec![("http-server", plain_server())], || {
        let config = ResolverConfig {
            timeout: ms(100),
            attempts: 2,
            ..ResolverConfig::default()
        };
        // Port 5353: no server there, so no answer.
        HttpClient::to_url(&Url::parse("http://api.example/").unwrap(), None, 1)
            .resolver(NameResolver::new(SocketAddrV4::new(DNS, 5353), config))
    });
    w.run_until(SimTime::from_secs(10));
    let client = w.app::<HttpClient>(id).unwrap();
    assert_eq!(client.failures, 1);
    let errors = events(w.trace(), "http.error");
    assert_eq!(errors.len(), 1);
    // 100 ms, then 200 ms: given up at 300 ms.
    assert_eq!(errors[0].0, SimTime::from_millis(300));
    assert_eq!(text(errors[0].1, "lookup"), Some("timeout"));
    assert!(client.finished(), "nothing is left waiting");
}

#[test]
fn a_scenario_host_address_needs_no_lookup() {
    let (mut w, id) = world(vec![("http-server", plain_server())], || {
        HttpClient::to_url(&Url::parse("http://server/").unwrap(), Some(SERVER), 1)
    });
    w.run_until(SimTime::from_secs(5));
    let client = w.app::<HttpClient>(id).unwrap();
    assert_eq!(client.responses.len(), 1);
    assert!(client.name_resolver().is_none());
    assert!(events(w.trace(), "http.lookup").is_empty());
    assert_eq!(client.responses[0].total, ms(40));
}

/// Port 80 redirects; port 443 speaks TLS 1.3 for api.example and sends
/// `max-age` when given.
fn https_servers(max_age: Option<u64>) -> Servers {
    vec![
        (
            "plain",
            Box::new(|| {
                HttpServer::new(80, ServerConfig::default(), vec![]).https_policy(HttpsPolicy {
                    redirect_to_https: Some(443),
                    sts: None,
                    host_name: "api.example".into(),
                })
            }),
        ),
        (
            "site",
            Box::new(move || {
                HttpServer::new(443, ServerConfig::default(), vec![Route::ok("/", 100)])
                    .tls(ServerTls::new(TlsVersion::Tls13, "api.example"))
                    .https_policy(HttpsPolicy {
                        redirect_to_https: None,
                        sts: max_age.map(|s| StsPolicy {
                            max_age_secs: s,
                            include_subdomains: false,
                        }),
                        host_name: "api.example".into(),
                    })
            }),
        ),
    ]
}

#[test]
fn a_redirect_to_https_is_followed_and_hsts_sends_the_next_request_straight_there() {
    let (mut w, id) = world(https_servers(Some(60)), || {
        by_name("http://api.example/", 2).interval(SimDuration::from_secs(2))
    });
    w.run_until(SimTime::from_secs(10));
    let client = w.app::<HttpClient>(id).unwrap();
    let statuses: Vec<u16> = client.responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 200], "a 301 is not a finished request");
    assert_eq!(client.redirects, 1);
    let redirect = events(w.trace(), "http.redirect");
    assert_eq!(redirect.len(), 1);
    assert_eq!(
        text(redirect[0].1, "location"),
        Some("https://api.example/")
    );
    assert_eq!(events(w.trace(), "hsts.remembered").len(), 2);
    let upgrades = events(w.trace(), "hsts.upgrade");
    assert_eq!(upgrades.len(), 1);
    assert_eq!(upgrades[0].0, SimTime::from_secs(2));
    // Only the first request touched port 80.
    assert!(
        tcp_to(w.trace(), 80)
            .iter()
            .all(|t| *t < SimTime::from_secs(1))
    );
    assert!(!tcp_to(w.trace(), 80).is_empty());
    // The redirected request's total spans both URLs: DNS 10 ms, the
    // 301 (two round trips), then TCP and TLS 1.3 and HTTP (three).
    assert_eq!(client.responses[0].total, ms(110));
    assert!(client.responses[1].reused);
    assert_eq!(client.responses[1].total, ms(20));
}

#[test]
fn strict_transport_security_over_plain_http_is_ignored() {
    let servers: Servers = vec![(
        "plain",
        Box::new(|| {
            HttpServer::new(80, ServerConfig::default(), vec![Route::ok("/", 10)]).https_policy(
                HttpsPolicy {
                    sts: Some(StsPolicy::parse("max-age=600").unwrap()),
                    ..HttpsPolicy::default()
                },
            )
        }),
    )];
    let (mut w, id) = world(servers, || {
        by_name("http://api.example/", 2).interval(SimDuration::from_secs(1))
    });
    w.run_until(SimTime::from_secs(5));
    let client = w.app::<HttpClient>(id).unwrap();
    assert_eq!(client.responses.len(), 2);
    assert!(client.hsts().is_empty());
    assert_eq!(events(w.trace(), "hsts.ignored").len(), 2);
    assert!(events(w.trace(), "hsts.upgrade").is_empty());
}

#[test]
fn a_preloaded_host_never_sees_plain_http() {
    let (mut w, id) = world(https_servers(None), || {
        by_name("http://api.example/", 1).hsts_preload(vec!["api.example".into()])
    });
    w.run_until(SimTime::from_secs(5));
    let client = w.app::<HttpClient>(id).unwrap();
    assert_eq!(client.responses.len(), 1);
    assert_eq!(client.redirects, 0);
    assert!(tcp_to(w.trace(), 80).is_empty());
    assert!(
        client.hsts().is_empty(),
        "no header was sent: nothing remembered"
    );
}

#[test]
fn a_redirect_loop_ends_after_the_limit() {
    // The https server redirects to itself.
    let servers: Servers = vec![(
        "site",
        Box::new(|| {
            HttpServer::new(443, ServerConfig::default(), vec![])
                .tls(ServerTls::new(TlsVersion::Tls13, "api.example"))
                .https_policy(HttpsPolicy {
                    redirect_to_https: Some(443),
                    sts: None,
                    host_name: "api.example".into(),
                })
        }),
    )];
    let (mut w, id) = world(servers, || by_name("https://api.example/loop", 1));
    w.run_until(SimTime::from_secs(10));
    let client = w.app::<HttpClient>(id).unwrap();
    assert_eq!(client.responses.len(), 0);
    assert_eq!(client.failures, 1);
    assert_eq!(client.redirects, u64::from(MAX_REDIRECTS));
    let errors = events(w.trace(), "http.error");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].1.summary.text().contains("at most 5"),
        "{}",
        errors[0].1.summary
    );
    // Every redirect reused the one keep-alive connection.
    assert_eq!(events(w.trace(), "http.response").len(), 6);
}

#[test]
fn a_redirect_to_another_host_needs_a_resolver_and_origins_are_bounded() {
    let first = Url::parse("http://server/").unwrap().origin;
    let mut o = Origins::new(first.clone(), Address::Fixed(SERVER));
    // The same host over https: the same address, and TLS for it.
    let https = o.find_or_add(first.to_https(), 0).unwrap();
    assert_eq!(o.get(https).address, Address::Fixed(SERVER));
    assert!(o.get(https).tls.is_some());
    assert!(o.get(0).tls.is_none());
    assert_eq!(o.find_or_add(first.to_https(), 0).unwrap(), https);
    // Another host: no address without a resolver.
    let other = Url::parse("https://other.example/").unwrap().origin;
    let e = o.find_or_add(other.clone(), 0).unwrap_err();
    assert!(e.contains("without a resolver"), "{e}");
    // With one, a name to look up.
    o.set_resolver(resolver(ResolverConfig::default()));
    let i = o.find_or_add(other, 0).unwrap();
    assert_eq!(
        o.get(i).address,
        Address::Name(DnsName::parse("other.example").unwrap())
    );
    // At most MAX_ORIGINS.
    for n in 0..MAX_ORIGINS {
        let origin = Url::parse(&format!("https://h{n}.example/"))
            .unwrap()
            .origin;
        let r = o.find_or_add(origin, 0);
        assert_eq!(r.is_ok(), n + 3 < MAX_ORIGINS, "origin {n}: {r:?}");
    }
}

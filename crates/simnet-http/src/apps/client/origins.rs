//! Where an [`HttpClient`](super::HttpClient)'s requests go: its origins
//! (scheme, host, port), how each is reached (a fixed address, or a name
//! looked up through DNS before each new connection), TLS for the HTTPS
//! ones, and the HSTS store that sends an `http://` request straight to
//! `https://`.
//!
//! A client starts with one origin, the one its `connect` or `url` names.
//! Others are added when HSTS upgrades it (the same host over HTTPS) or a
//! redirect points elsewhere, up to [`MAX_ORIGINS`]. Connections are kept
//! per origin; a request names its origin by index.

use super::super::{ClientTls, LookupError, NameResolver, Resolution};
use crate::proto::hsts::{HstsStore, Known, Observed, StsPolicy};
use crate::proto::{Origin, Response, Scheme, Url};
use simnet_core::{AppContext, AppEvent, SimDuration, SocketId};
use simnet_dns::proto::DnsName;
use simnet_tls::TlsVersion;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The most origins one client talks to: each holds a TLS configuration
/// and its connections, and a chain of redirects to ever new hosts must
/// end.
pub const MAX_ORIGINS: usize = 16;

/// How an origin's host is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Address {
    /// A scenario host's address, or an address in the URL.
    Fixed(Ipv4Addr),
    /// A name the resolver looks up before each new connection.
    Name(DnsName),
}

/// One origin and how to reach it.
#[derive(Clone, Debug)]
pub(super) struct Site {
    pub origin: Origin,
    pub address: Address,
    /// TLS for an `https` origin.
    pub tls: Option<ClientTls>,
}

/// What a new connection to a site can do now.
pub(super) enum Reach {
    /// Connect to this address.
    Connect(SocketAddrV4),
    /// The name is being looked up: wait for [`Origins::poll_lookup`].
    Waiting,
    /// The name gives no address.
    Failed(LookupError),
}

/// Every origin of a client, its resolver and its HSTS store.
#[derive(Clone, Debug)]
pub(super) struct Origins {
    sites: Vec<Site>,
    tls_version: TlsVersion,
    /// `tls_resume` and `early_data` of the sessions made for `https` origins.
    tls_options: (bool, bool),
    names: Option<NameResolver>,
    hsts: HstsStore,
}

impl Origins {
    /// A client's first origin, reached at `address`.
    pub fn new(origin: Origin, address: Address) -> Origins {
        let mut o = Origins {
            sites: Vec::new(),
            tls_version: TlsVersion::Tls13,
            tls_options: (true, false),
            names: None,
            hsts: HstsStore::default(),
        };
        o.sites.push(Site {
            tls: None,
            origin,
            address,
        });
        o.refresh_tls(0);
        o
    }

    pub fn get(&self, site: usize) -> &Site {
        &self.sites[site]
    }

    pub fn get_mut(&mut self, site: usize) -> &mut Site {
        &mut self.sites[site]
    }

    pub fn resolver(&self) -> Option<&NameResolver> {
        self.names.as_ref()
    }

    pub fn resolver_mut(&mut self) -> Option<&mut NameResolver> {
        self.names.as_mut()
    }

    pub fn set_resolver(&mut self, names: NameResolver) {
        self.names = Some(names);
    }

    pub fn set_preload(&mut self, hosts: Vec<String>) {
        self.hsts = HstsStore::with_preload(hosts);
    }

    pub fn hsts(&self) -> &HstsStore {
        &self.hsts
    }

    /// The first origin speaks HTTPS with `tls`; later HTTPS origins use
    /// its version.
    pub fn set_tls(&mut self, tls: ClientTls) {
        self.tls_version = tls.version();
        let first = &mut self.sites[0];
        first.origin.scheme = Scheme::Https;
        first.tls = Some(tls);
    }

    /// Whether the sessions of HTTPS origins resume, and send 0-RTT data.
    pub fn set_tls_options(&mut self, resume: bool, early_data: bool) {
        self.tls_options = (resume, early_data);
        for i in 0..self.sites.len() {
            if self.sites[i].origin.scheme == Scheme::Https {
                self.sites[i].tls = None;
            }
            self.refresh_tls(i);
        }
    }

    /// The TLS version of HTTPS origins that `set_tls` did not configure.
    pub fn set_tls_version(&mut self, version: TlsVersion) {
        self.tls_version = version;
        for i in 0..self.sites.len() {
            if self.sites[i]
                .tls
                .as_ref()
                .is_some_and(|t| t.version() != version)
            {
                self.sites[i].tls = None;
            }
            self.refresh_tls(i);
        }
    }

    /// Gives an HTTPS site without TLS its session configuration.
    fn refresh_tls(&mut self, i: usize) {
        let s = &mut self.sites[i];
        if s.origin.scheme == Scheme::Https && s.tls.is_none() {
            let (resume, early) = self.tls_options;
            s.tls = Some(
                ClientTls::new(self.tls_version, &s.origin.host)
                    .resume(resume)
                    .early_data(early),
            );
        }
    }

    /// The index of `origin`, added if new. Its address: the same as
    /// `like`'s when the host is the same, else its name through the
    /// resolver, else (an address in the URL) that address.
    pub fn find_or_add(&mut self, origin: Origin, like: usize) -> Result<usize, String> {
        if let Some(i) = self.sites.iter().position(|s| s.origin == origin) {
            return Ok(i);
        }
        if self.sites.len() >= MAX_ORIGINS {
            return Err(format!(
                "{origin} would be origin {} of this client, and it talks to at most {MAX_ORIGINS}",
                MAX_ORIGINS + 1
            ));
        }
        let address = if self.sites[like].origin.host == origin.host {
            self.sites[like].address.clone()
        } else if let Ok(a) = origin.host.parse::<Ipv4Addr>() {
            Address::Fixed(a)
        } else if self.names.is_some() {
            let name = DnsName::parse(&origin.host).map_err(|e| e.to_string())?;
            Address::Name(name)
        } else {
            return Err(format!(
                "{} is another host, and without a resolver (`dns`) this client knows no address for it",
                origin.host
            ));
        };
        self.sites.push(Site {
            origin,
            address,
            tls: None,
        });
        let i = self.sites.len() - 1;
        self.refresh_tls(i);
        Ok(i)
    }

    /// Where a new connection to `site` goes, looking its name up if it has
    /// one (a cached answer costs no packet).
    pub fn reach(&mut self, cx: &mut AppContext<'_>, site: usize) -> Reach {
        let port = self.sites[site].origin.port;
        match &self.sites[site].address {
            Address::Fixed(a) => Reach::Connect(SocketAddrV4::new(*a, port)),
            Address::Name(name) => {
                let name = name.clone();
                let Some(names) = self.names.as_mut() else {
                    return Reach::Failed(LookupError::NotStarted(name));
                };
                match names.resolve(cx, &name) {
                    Resolution::Ready(a) => Reach::Connect(SocketAddrV4::new(a, port)),
                    Resolution::Waiting => Reach::Waiting,
                    Resolution::Failed(e) => Reach::Failed(e),
                }
            }
        }
    }

    /// The next finished lookup: its name and the address or why not.
    pub fn poll_lookup(&mut self) -> Option<(DnsName, Result<Ipv4Addr, LookupError>)> {
        self.names.as_mut()?.poll()
    }

    /// Whether `site` is reached through `name`.
    pub fn uses_name(&self, site: usize, name: &DnsName) -> bool {
        matches!(&self.sites[site].address, Address::Name(n) if n == name)
    }

    /// The site a request to `site` really goes to: the same host over
    /// HTTPS when HSTS knows it (reported as `hsts.upgrade`), else `site`.
    pub fn upgrade(&mut self, cx: &mut AppContext<'_>, index: u64, site: usize) -> usize {
        let origin = self.sites[site].origin.clone();
        if origin.scheme != Scheme::Http {
            return site;
        }
        let Some(known) = self.hsts.lookup(&origin.host, cx.now()) else {
            return site;
        };
        let https = origin.to_https();
        let to = match self.find_or_add(https.clone(), site) {
            Ok(i) => i,
            Err(why) => {
                cx.emit(
                    AppEvent::new(
                        "hsts.ignored",
                        format!("request {index}: cannot go to {https}: {why}"),
                    )
                    .with("index", index)
                    .with("host", origin.host.as_str()),
                );
                return site;
            }
        };
        let (why, left) = match known {
            Known::Preloaded => ("preloaded".to_string(), None),
            Known::Remembered { left, via_parent } => {
                let whose = if via_parent {
                    "a parent domain's max-age"
                } else {
                    "max-age"
                };
                (format!("{left} of {whose} left"), Some(left))
            }
        };
        let mut event = AppEvent::new(
            "hsts.upgrade",
            format!("request {index}: {origin}/ upgraded to {https}/ by HSTS ({why})"),
        )
        .with("index", index)
        .with("host", origin.host.as_str())
        .with("preloaded", left.is_none());
        if let Some(left) = left {
            event = event.with("left", left);
        }
        cx.emit(event);
        to
    }

    /// Takes the `Strict-Transport-Security` header of a response from
    /// `site`, if any: remembered over HTTPS, ignored over plain HTTP or
    /// for an address (RFC 6797 §8.1).
    pub fn observe(&mut self, cx: &mut AppContext<'_>, sid: SocketId, site: usize, r: &Response) {
        let Some(value) = r.header("strict-transport-security") else {
            return;
        };
        let origin = &self.sites[site].origin;
        let host = origin.host.clone();
        let ignored = |why: String| {
            AppEvent::new(
                "hsts.ignored",
                format!("Strict-Transport-Security from {host} ignored: {why}"),
            )
            .on(sid)
            .with("host", host.as_str())
            .with("reason", why.clone())
        };
        if origin.scheme != Scheme::Https {
            cx.emit(ignored(
                "it came over plain HTTP, where anyone could have added it".into(),
            ));
            return;
        }
        if host.parse::<Ipv4Addr>().is_ok() {
            cx.emit(ignored("the host is an address, not a name".into()));
            return;
        }
        let policy = match StsPolicy::parse(value) {
            Ok(p) => p,
            Err(e) => {
                cx.emit(ignored(e.to_string()));
                return;
            }
        };
        let now = cx.now();
        match self.hsts.observe(&host, policy, now) {
            Observed::Remembered { until } => {
                let subdomains = if policy.include_subdomains {
                    " and the names under it"
                } else {
                    ""
                };
                cx.emit(
                    AppEvent::new(
                        "hsts.remembered",
                        format!(
                            "{host}{subdomains}: HTTPS only for {} (max-age={}), until {}",
                            policy.max_age(),
                            policy.max_age_secs,
                            until.saturating_since(simnet_core::SimTime::ZERO)
                        ),
                    )
                    .on(sid)
                    .with("host", host.as_str())
                    .with("max_age", policy.max_age())
                    .with("include_subdomains", policy.include_subdomains),
                );
            }
            Observed::Forgotten => cx.emit(
                AppEvent::new(
                    "hsts.forgotten",
                    format!("{host}: max-age=0, HTTPS no longer required"),
                )
                .on(sid)
                .with("host", host.as_str())
                .with("max_age", SimDuration::ZERO),
            ),
        }
    }

    /// The URL a request to `site` for `target` stands for.
    pub fn url(&self, site: usize, target: &str) -> Url {
        Url {
            origin: self.sites[site].origin.clone(),
            target: target.to_string(),
        }
    }
}

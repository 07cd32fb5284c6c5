//! `http://` and `https://` URLs, as far as a client needs them: a scheme,
//! a host, a port, and the request target; and a `Location` header resolved
//! against the URL it answered.
//!
//! Deliberately small: no user info, no IPv6 literals, no percent-decoding
//! of the host, no fragment handling beyond dropping it (a fragment is never
//! sent). A URL that uses any of these is refused with a reason rather than
//! read differently from what a browser would do.

use crate::proto::grammar;
use std::fmt;

/// Which protocol an origin speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Plain HTTP, port 80 by default.
    Http,
    /// HTTP over TLS, port 443 by default.
    Https,
}

impl Scheme {
    /// The port a URL of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Where requests go: scheme, host and port (RFC 6454's origin).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// The host: a name in lower case, or an IPv4 address.
    pub host: String,
    /// The port (the scheme's default when the URL names none).
    pub port: u16,
}

impl Origin {
    /// The same host over HTTPS, as HSTS rewrites it (RFC 6797 §8.3): port
    /// 80 becomes 443, any other port is kept.
    pub fn to_https(&self) -> Origin {
        let port = if self.scheme == Scheme::Http && self.port == 80 {
            443
        } else {
            self.port
        };
        Origin {
            scheme: Scheme::Https,
            host: self.host.clone(),
            port,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// An absolute `http` or `https` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// Scheme, host and port.
    pub origin: Origin,
    /// The request target: the path and query, at least `/`.
    pub target: String,
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.target)
    }
}

/// Why a URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// No `scheme://`, or a scheme other than http and https.
    #[error("`{0}` does not start with http:// or https://")]
    Scheme(String),
    /// Nothing between `://` and the path.
    #[error("`{0}` has no host")]
    NoHost(String),
    /// User information (`user@host`) is not supported.
    #[error("`{0}` has user information (`@`), which simnet does not send")]
    UserInfo(String),
    /// The host has characters a host name cannot have.
    #[error("`{url}`: `{host}` is not a host name (letters, digits, hyphens and dots)")]
    Host {
        /// The URL.
        url: String,
        /// The host part.
        host: String,
    },
    /// The port is not a number from 1 to 65535.
    #[error("`{url}`: `{port}` is not a port (1..65535)")]
    Port {
        /// The URL.
        url: String,
        /// The port part.
        port: String,
    },
    /// The path cannot be a request target.
    #[error("`{url}`: its path {reason}")]
    Target {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A relative reference other than an absolute path (`/x`).
    #[error("`{0}` is neither an http(s) URL nor a path starting with /")]
    Relative(String),
}

impl Url {
    /// Reads an absolute `http://` or `https://` URL. The host is kept in
    /// lower case; a fragment (`#...`) is dropped.
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
            (Scheme::Http, rest)
        } else {
            return Err(UrlError::Scheme(text.to_string()));
        };
        let rest = rest.split('#').next().unwrap_or("");
        let (authority, target) = split_authority(rest);
        let target = target.unwrap_or_else(|| "/".to_string());
        if authority.contains('@') {
            return Err(UrlError::UserInfo(text.to_string()));
        }
        let (host, port) =
            host_port(authority, scheme.default_port()).map_err(|port| UrlError::Port {
                url: text.to_string(),
                port: port.to_string(),
            })?;
        if host.is_empty() {
            return Err(UrlError::NoHost(text.to_string()));
        }
        let valid_host = host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !valid_host {
            return Err(UrlError::Host {
                url: text.to_string(),
                host: host.to_string(),
            });
        }
        grammar::check_origin_form(&target).map_err(|e| UrlError::Target {
            url: text.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Url {
            origin: Origin {
                scheme,
                host: host.to_ascii_lowercase(),
                port,
            },
            target,
        })
    }

    /// A `Location` value resolved against this URL: an absolute URL, or
    /// an absolute path on the same origin (RFC 9110 §10.2.2 allows any
    /// relative reference; these two are what servers send).
    pub fn join(&self, location: &str) -> Result<Url, UrlError> {
        let location = location.trim();
        if location.starts_with('/') && !location.starts_with("//") {
            let target = location.split('#').next().unwrap_or("/").to_string();
            grammar::check_origin_form(&target).map_err(|e| UrlError::Target {
                url: location.to_string(),
                reason: e.to_string(),
            })?;
            return Ok(Url {
                origin: self.origin.clone(),
                target,
            });
        }
        if location.contains("://") {
            return Url::parse(location);
        }
        Err(UrlError::Relative(location.to_string()))
    }
}

/// What follows `scheme://` in an absolute URI (its fragment already
/// removed), split into the authority and the request target: the path
/// and query as written, `/` put in front of a bare query (`host?x=1` asks
/// for `/?x=1`), `None` when there is neither. Shared with `ws://` URIs.
pub fn split_authority(rest: &str) -> (&str, Option<String>) {
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], Some(format!("/{}", &rest[i..]))),
        Some(i) => (&rest[..i], Some(rest[i..].to_string())),
        None => (rest, None),
    }
}

/// An authority's host and port, `default` when it gives none; the port's
/// text when it is not a number from 1 to 65535.
pub fn host_port(authority: &str, default: u16) -> Result<(&str, u16), &str> {
    match authority.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(p) if p != 0 => Ok((host, p)),
            _ => Err(port),
        },
        None => Ok((authority, default)),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_give_their_default_ports() {
        let u = Url::parse("http://WWW.Example/").unwrap();
        assert_eq!(u.origin.scheme, Scheme::Http);
        assert_eq!(u.origin.host, "www.example");
        assert_eq!(u.origin.port, 80);
        assert_eq!(u.target, "/");
        let u = Url::parse("https://api.example").unwrap();
        assert_eq!(u.origin.port, 443);
        assert_eq!(u.target, "/");
        assert_eq!(u.to_string(), "https://api.example/");
    }

    #[test]
    fn explicit_ports_paths_and_queries_are_kept() {
        let u = Url::parse("https://api.example:8443/v1/items?since=3#top").unwrap();
        assert_eq!(u.origin.port, 8443);
        assert_eq!(u.target, "/v1/items?since=3");
        assert_eq!(u.to_string(), "https://api.example:8443/v1/items?since=3");
        let u = Url::parse("http://10.0.0.2?x=1").unwrap();
        assert_eq!(u.origin.host, "10.0.0.2");
        assert_eq!(u.target, "/?x=1");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert_eq!(
            Url::parse("ftp://x/"),
            Err(UrlError::Scheme("ftp://x/".into()))
        );
        assert_eq!(
            Url::parse("www.example/"),
            Err(UrlError::Scheme("www.example/".into()))
        );
        assert!(matches!(Url::parse("http:///x"), Err(UrlError::NoHost(_))));
        assert!(matches!(
            Url::parse("http://a.example:0/"),
            Err(UrlError::Port { .. })
        ));
        assert!(matches!(
            Url::parse("http://a.example:http/"),
            Err(UrlError::Port { .. })
        ));
        assert!(matches!(
            Url::parse("http://user@a.example/"),
            Err(UrlError::UserInfo(_))
        ));
        assert!(matches!(
            Url::parse("http://a_b.example/"),
            Err(UrlError::Host { .. })
        ));
        assert!(matches!(
            Url::parse("http://a..example/"),
            Err(UrlError::Host { .. })
        ));
        assert!(matches!(
            Url::parse("http://a.example/a b"),
            Err(UrlError::Target { .. })
        ));
        let e = Url::parse("http://a.example:99999/").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`http://a.example:99999/`: `99999` is not a port (1..65535)"
        );
    }

    #[test]
    fn hsts_rewrites_port_80_only() {
        let o = Url::parse("http://www.example/").unwrap().origin;
        assert_eq!(o.to_https().to_string(), "https://www.example");
        assert_eq!(o.to_https().port, 443);
        let o = Url::parse("http://www.example:8080/").unwrap().origin;
        assert_eq!(o.to_https().to_string(), "https://www.example:8080");
    }

    #[test]
    fn locations_resolve_against_the_url_they_answer() {
        let base = Url::parse("http://www.example/a").unwrap();
        let abs = base.join("https://www.example/b").unwrap();
        assert_eq!(abs.origin.scheme, Scheme::Https);
        assert_eq!(abs.target, "/b");
        let path = base.join("/c?d=1").unwrap();
        assert_eq!(path.origin, base.origin);
        assert_eq!(path.target, "/c?d=1");
        assert!(matches!(base.join("c"), Err(UrlError::Relative(_))));
        assert!(matches!(
            base.join("//other.example/"),
            Err(UrlError::Relative(_))
        ));
        assert!(matches!(base.join("gopher://x/"), Err(UrlError::Scheme(_))));
    }
}

//! WebSocket URIs (RFC 6455 section 3): `ws://host[:port][/path][?query]`
//! and `wss://...`, where the scheme alone says whether the connection runs
//! over TLS, and the port defaults to 80 for `ws` and 443 for `wss`.
//!
//! This module only splits the text. It does not resolve the host (the
//! caller knows which names exist), does not check the resource name
//! against HTTP's grammar (the caller does, as for any request target),
//! and refuses what RFC 6455 or simnet has no use for: a fragment (RFC
//! 6455 forbids it), user information, and IPv6 literals (simnet is
//! IPv4 only).

use simnet_http::proto::url;
use thiserror::Error;

/// A parsed `ws://` or `wss://` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUri {
    /// `wss`: the connection runs over TLS.
    pub secure: bool,
    /// The host as written (a name or an IPv4 address), for the `Host`
    /// header, TLS's server name, and the caller to resolve.
    pub host: String,
    /// The port given, or the scheme's default (80 or 443).
    pub port: u16,
    /// The resource name (path and query) if the URI has one; `None` for
    /// `wss://server` (RFC 6455 would send `/`; a caller may use its own
    /// default).
    pub resource: Option<String>,
}

/// Why a text is not a WebSocket URI simnet can use.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum UriError {
    /// The text does not start with `ws://` or `wss://`.
    #[error("`{0}` is not a WebSocket URI: it must start with ws:// or wss://")]
    Scheme(String),
    /// Nothing between `//` and the port, path or query.
    #[error("`{0}` names no host")]
    NoHost(String),
    /// The port is not a number from 1 to 65535.
    #[error("`{port}` in `{uri}` is not a port (1..65535)")]
    Port {
        /// The URI.
        uri: String,
        /// The port as written.
        port: String,
    },
    /// A `#fragment`, which RFC 6455 section 3 forbids.
    #[error("`{0}` has a fragment (#...), which a WebSocket URI must not have")]
    Fragment(String),
    /// `user@host` or an IPv6 literal: not supported.
    #[error("`{0}` has user information or an IPv6 address, which simnet does not support")]
    Unsupported(String),
}

/// The default port of `ws://`.
pub const WS_PORT: u16 = 80;
/// The default port of `wss://`.
pub const WSS_PORT: u16 = 443;

/// Whether `text` looks like a URI (has a scheme), as opposed to
/// `host:port`.
pub fn is_uri(text: &str) -> bool {
    text.contains("://")
}

/// Parses a `ws://` or `wss://` URI. The scheme is compared without case,
/// as RFC 3986 asks.
pub fn parse(text: &str) -> Result<WsUri, UriError> {
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| UriError::Scheme(text.to_string()))?;
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "ws" => false,
        "wss" => true,
        _ => return Err(UriError::Scheme(text.to_string())),
    };
    if rest.contains('#') {
        return Err(UriError::Fragment(text.to_string()));
    }
    // `wss://server?x=1`: the path is empty, so the resource is `/?x=1`.
    let (authority, resource) = url::split_authority(rest);
    if authority.contains('@') || authority.contains('[') {
        return Err(UriError::Unsupported(text.to_string()));
    }
    // A host has no colon: in `ws://a:b:80` the port is `b:80`.
    if let Some((_, port)) = authority.split_once(':').filter(|(_, p)| p.contains(':')) {
        return Err(UriError::Port {
            uri: text.to_string(),
            port: port.to_string(),
        });
    }
    let default = if secure { WSS_PORT } else { WS_PORT };
    let (host, port) = url::host_port(authority, default).map_err(|port| UriError::Port {
        uri: text.to_string(),
        port: port.to_string(),
    })?;
    if host.is_empty() {
        return Err(UriError::NoHost(text.to_string()));
    }

    Ok(WsUri {
        secure,
        host: host.to_string(),
        port,
        resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(secure: bool, host: &str, port: u16, resource: Option<&str>) -> WsUri {
        WsUri {
            secure,
            host: host.into(),
            port,
            resource: resource.map(String::from),
        }
    }

    #[test]
    fn the_scheme_decides_tls_and_the_default_port() {
        assert_eq!(parse("ws://server"), Ok(uri(false, "server", 80, None)));
        assert_eq!(parse("wss://server"), Ok(uri(true, "server", 443, None)));
        assert_eq!(
            parse("WSS://server:8443/chat"),
            Ok(uri(true, "server", 8443, Some("/chat")))
        );
        assert_eq!(
            parse("ws://10.0.0.2:8080/a/b?x=1&y=2"),
            Ok(uri(false, "10.0.0.2", 8080, Some("/a/b?x=1&y=2")))
        );
        assert_eq!(
            parse("wss://server?room=1"),
            Ok(uri(true, "server", 443, Some("/?room=1")))
        );
        assert_eq!(
            parse("wss://server/"),
            Ok(uri(true, "server", 443, Some("/")))
        );
    }

    #[test]
    fn what_is_not_a_usable_uri_says_why() {
        assert!(is_uri("wss://server") && !is_uri("server:443"));
        assert_eq!(
            parse("https://server/"),
            Err(UriError::Scheme("https://server/".into()))
        );
        assert_eq!(
            parse("server:80"),
            Err(UriError::Scheme("server:80".into()))
        );
        assert_eq!(
            parse("wss:///chat"),
            Err(UriError::NoHost("wss:///chat".into()))
        );
        assert_eq!(
            parse("wss://:443"),
            Err(UriError::NoHost("wss://:443".into()))
        );
        for port in ["0", "65536", "", "https", "b:80"] {
            let text = format!("wss://server:{port}/");
            assert_eq!(
                parse(&text),
                Err(UriError::Port {
                    uri: text.clone(),
                    port: port.into()
                })
            );
        }
        assert_eq!(
            parse("wss://server/chat#top"),
            Err(UriError::Fragment("wss://server/chat#top".into()))
        );
        assert!(matches!(
            parse("wss://me@server/"),
            Err(UriError::Unsupported(_))
        ));
        assert!(matches!(
            parse("ws://[::1]:80/"),
            Err(UriError::Unsupported(_))
        ));
        let shown = parse("ws://server:99999").unwrap_err().to_string();
        assert_eq!(
            shown,
            "`99999` in `ws://server:99999` is not a port (1..65535)"
        );
    }
}

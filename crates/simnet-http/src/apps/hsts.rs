//! The server's half of "HTTPS only": a plain-HTTP server that answers
//! every request with `301 Moved Permanently` to the same URL over
//! `https://`, and an HTTPS server that tells clients, with
//! `Strict-Transport-Security`, to come straight to `https://` for
//! `max-age` (RFC 6797). The client's half is `HttpClient`'s HSTS store
//! ([`crate::proto::hsts::HstsStore`]).

use crate::proto::hsts::StsPolicy;
use crate::proto::{Request, Response};

/// What an [`HttpServer`](super::HttpServer) does about HTTPS beyond
/// speaking it: redirect plain HTTP, send `Strict-Transport-Security`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpsPolicy {
    /// Answer every request with `301` to `https://` on this port.
    pub redirect_to_https: Option<u16>,
    /// Send this policy on every response.
    pub sts: Option<StsPolicy>,
    /// The name a `Location` uses when the request has no usable `Host`.
    pub host_name: String,
}

impl HttpsPolicy {
    /// The `301` a redirecting server answers `request` with: the same
    /// host (from `Host`, its port dropped) and target, over `https://`.
    pub fn redirect(&self, request: &Request) -> Option<Response> {
        let port = self.redirect_to_https?;
        let host = request
            .header("host")
            .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name).trim())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            })
            .unwrap_or(&self.host_name);
        let port = if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        };
        let location = format!("https://{host}{port}{}", request.target);
        Some(Response::new(301).with_header("Location", location))
    }

    /// Headers every response carries: `Strict-Transport-Security`.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.sts
            .iter()
            .map(|p| ("Strict-Transport-Security".to_string(), p.header_value()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HttpsPolicy {
        HttpsPolicy {
            redirect_to_https: Some(443),
            sts: None,
            host_name: "server".into(),
        }
    }

    #[test]
    fn the_redirect_keeps_host_and_target() {
        let r = policy()
            .redirect(&Request::get("www.example:80", "/a?b=1"))
            .unwrap();
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("https://www.example/a?b=1"));
        let other_port = HttpsPolicy {
            redirect_to_https: Some(8443),
            ..policy()
        };
        let r = other_port
            .redirect(&Request::get("www.example", "/"))
            .unwrap();
        assert_eq!(r.header("location"), Some("https://www.example:8443/"));
    }

    #[test]
    fn a_missing_or_odd_host_falls_back_to_the_server_name() {
        let r = policy().redirect(&Request::new("GET", "/")).unwrap();
        assert_eq!(r.header("location"), Some("https://server/"));
        let r = policy().redirect(&Request::get("evil\"x", "/")).unwrap();
        assert_eq!(r.header("location"), Some("https://server/"));
    }

    #[test]
    fn no_redirect_and_no_header_by_default() {
        let p = HttpsPolicy::default();
        assert!(p.redirect(&Request::get("a", "/")).is_none());
        assert!(p.headers().is_empty());
        let p = HttpsPolicy {
            sts: Some(StsPolicy::parse("max-age=30").unwrap()),
            ..p
        };
        assert_eq!(
            p.headers(),
            vec![(
                "Strict-Transport-Security".to_string(),
                "max-age=30".to_string()
            )]
        );
    }
}

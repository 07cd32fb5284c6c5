//! Following a redirect: a `301`, `302`, `303`, `307` or `308` with a
//! `Location` to a GET or HEAD request sends the same request (same
//! number) to the new URL, on a connection to its origin: a new one, with
//! TLS, when the redirect goes from `http://` to `https://`.
//!
//! Other methods are not followed (a browser would turn a POST into a GET
//! after 301/302/303, a change of meaning a test should see happen on
//! purpose); their redirect is the final response.

use super::{HttpClient, MAX_REDIRECTS, Pending};
use crate::proto::{Response, reason_phrase};
use simnet_core::{AppContext, AppEvent};

/// How a response's summary says where its time went.
pub(super) fn how(p: &Pending) -> String {
    let mut parts = Vec::new();
    if let Some(dns) = p.dns {
        parts.push(format!("name lookup {dns}"));
    }
    match p.redirects {
        0 => {}
        1 => parts.push("after 1 redirect".to_string()),
        n => parts.push(format!("after {n} redirects")),
    }
    parts.join(", ")
}

impl HttpClient {
    /// Follows `response` to `p` if it is a redirect to follow; `true`
    /// when it was handled (followed, or failed for good), so the request
    /// is not finished yet.
    pub(super) fn follow(&mut self, cx: &mut AppContext<'_>, p: &Pending, r: &Response) -> bool {
        if !self.follow_redirects
            || !matches!(r.status, 301 | 302 | 303 | 307 | 308)
            || !matches!(self.method.as_str(), "GET" | "HEAD")
        {
            return false;
        }
        let Some(location) = r.header("location") else {
            return false;
        };
        let here = self.origins.url(p.site, self.target_of(p));
        if p.redirects >= MAX_REDIRECTS {
            self.redirect_failed(
                cx,
                p,
                location,
                &format!(
                    "it would be redirect {} (at most {MAX_REDIRECTS})",
                    p.redirects + 1
                ),
            );
            return true;
        }
        let url = match here.join(location) {
            Ok(url) => url,
            Err(e) => {
                self.redirect_failed(cx, p, location, &e.to_string());
                return true;
            }
        };
        let site = match self.origins.find_or_add(url.origin.clone(), p.site) {
            Ok(site) => site,
            Err(why) => {
                self.redirect_failed(cx, p, location, &why);
                return true;
            }
        };
        // HSTS applies to where a redirect leads, too.
        let site = self.origins.upgrade(cx, p.index, site);
        let next = Pending {
            index: p.index,
            site,
            target: Some(url.target.clone()),
            redirects: p.redirects + 1,
            lookup_started: None,
            dns: p.dns,
            attempts: 0,
            sends: 0,
            first_attempt: p.first_attempt,
            first_sent: None,
        };
        self.redirects += 1;
        let to = self.origins.url(site, &url.target);
        let slot = self.slot(site);
        cx.emit(
            AppEvent::new(
                "http.redirect",
                format!(
                    "request {}: {} {} from {here} to {to}: following {}",
                    p.index,
                    r.status,
                    reason_phrase(r.status),
                    self.describe(slot)
                ),
            )
            .with("index", p.index)
            .with("status", u64::from(r.status))
            .with("location", to.to_string())
            .with("redirects", u64::from(next.redirects)),
        );
        self.queue.push_front(next);
        true
    }

    fn redirect_failed(&mut self, cx: &mut AppContext<'_>, p: &Pending, location: &str, why: &str) {
        self.failures += 1;
        let reason = format!(
            "cannot follow the redirect to `{}`: {why}",
            location.escape_debug()
        );
        cx.emit(
            AppEvent::new(
                "http.error",
                format!("request {} failed: {reason}", p.index),
            )
            .with("index", p.index)
            .with("reason", reason.clone()),
        );
        self.after_completion(cx);
    }
}

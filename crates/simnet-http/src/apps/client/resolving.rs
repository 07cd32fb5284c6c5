//! A new connection's first step when the client connects by name: the
//! lookup's outcome opens the connection, or fails the request (with no
//! connection to retry on).

use super::{Conn, Counted, HttpClient, Pending};
use crate::apps::LookupError;
use crate::proto::{ClientConfig, ClientConn};
use simnet_core::{AppContext, AppEvent, SimDuration};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

impl HttpClient {
    /// Opens a new connection to `addr` for `p`.
    pub(super) fn connect_new(
        &mut self,
        cx: &mut AppContext<'_>,
        mut p: Pending,
        addr: SocketAddrV4,
    ) {
        if let Some(started) = p.lookup_started.take() {
            let took = cx.now() - started;
            p.dns = Some(p.dns.unwrap_or(SimDuration::ZERO) + took);
        }
        match cx.connect(addr) {
            Ok(sid) => {
                p.attempts += 1;
                let site = p.site;
                self.add(
                    sid,
                    Conn {
                        proto: ClientConn::new(ClientConfig::default()),
                        out: Vec::new(),
                        connected: false,
                        waiting: vec![p],
                        in_flight: VecDeque::new(),
                        served: 0,
                        eof: false,
                        refused: false,
                        site,
                        counted: Counted::default(),
                        layer_failed: false,
                    },
                );
            }
            Err(e) => {
                self.failures += 1;
                cx.emit(
                    AppEvent::new(
                        "http.error",
                        format!("request {} failed: connect: {e}", p.index),
                    )
                    .with("index", p.index),
                );
                self.after_completion(cx);
            }
        }
    }

    /// `p`'s host name gave no address: the request fails (no connection
    /// was opened, so there is nothing to retry on).
    pub(super) fn lookup_failed(&mut self, cx: &mut AppContext<'_>, p: Pending, e: &LookupError) {
        self.failures += 1;
        let reason = e.to_string();
        cx.emit(
            AppEvent::new(
                "http.error",
                format!("request {} failed: {reason}", p.index),
            )
            .with("index", p.index)
            .with("attempts", u64::from(p.attempts))
            .with("sent", false)
            .with("reason", reason.clone())
            .with("lookup", e.kind()),
        );
        self.after_completion(cx);
    }

    /// Finished name lookups: the connections waiting for them open, or
    /// their requests fail.
    pub(super) fn on_lookups(&mut self, cx: &mut AppContext<'_>) {
        while let Some((name, result)) = self.origins.poll_lookup() {
            let waiting = std::mem::take(&mut self.resolving);
            let (ready, rest): (Vec<Pending>, Vec<Pending>) = waiting
                .into_iter()
                .partition(|p| self.origins.uses_name(p.site, &name));
            self.resolving = rest;
            for p in ready {
                self.tally.remove_live(p.site, 1);
                match &result {
                    Ok(a) => {
                        let port = self.origins.get(p.site).origin.port;
                        self.connect_new(cx, p, SocketAddrV4::new(*a, port));
                    }
                    Err(e) => self.lookup_failed(cx, p, e),
                }
            }
        }
        self.dispatch(cx);
        self.maybe_finish(cx);
    }
}

//! `dns-client`: looks names up at given times and reports each answer.

use super::side::DnsClientSide;
use crate::proto::{DnsName, ResolverConfig};
use simnet_core::{App, AppContext, SimDuration, SocketEvent, TimerId};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// Looks each name of its list up at its time, through a
/// [`DnsClientSide`], so a trace shows the cache at work: the first lookup
/// goes to the server, a second within the TTL is answered from the cache
/// with no packet, a lookup after the TTL asks again. Everything it
/// reports comes from the [`DnsClientSide`]'s events.
#[derive(Clone, Debug)]
pub struct DnsClient {
    side: DnsClientSide,
    /// The lookups, in the order given, each with its time from the start.
    lookups: Vec<(SimDuration, DnsName)>,
    /// Timers for the lookups not yet made, and which lookup each starts.
    timers: BTreeMap<TimerId, usize>,
    /// Answers (cached or fresh) and failures seen.
    pub finished: u64,
}

impl DnsClient {
    /// A client asking `server`, looking up each `(at, name)`.
    pub fn new(
        server: SocketAddrV4,
        config: ResolverConfig,
        lookups: Vec<(SimDuration, DnsName)>,
    ) -> DnsClient {
        DnsClient {
            side: DnsClientSide::new(server, config),
            lookups,
            timers: BTreeMap::new(),
            finished: 0,
        }
    }

    /// The resolver piece, for tests that read its cache.
    pub fn side(&self) -> &DnsClientSide {
        &self.side
    }

    fn drain(&mut self) {
        while self.side.poll_resolved().is_some() {
            self.finished += 1;
        }
    }
}

impl App for DnsClient {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.timers.clear();
        if !self.side.start(cx) {
            return;
        }
        for (i, (at, _)) in self.lookups.iter().enumerate() {
            let timer = cx.set_timer(*at);
            self.timers.insert(timer, i);
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        self.side.on_socket(cx, &event);
        self.drain();
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if !self.side.on_timer(cx, timer)
            && let Some(i) = self.timers.remove(&timer)
        {
            let name = self.lookups[i].1.clone();
            if self.side.lookup(cx, &name).is_some() {
                self.finished += 1;
            }
        }
        self.drain();
    }
}

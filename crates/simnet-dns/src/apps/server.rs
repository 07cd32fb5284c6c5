//! `dns-server`: an authoritative server for one [`Zone`] on a UDP port.

use crate::proto::{Reply, Zone};
use simnet_core::trace::AppEvent;
use simnet_core::{App, AppContext, SimDuration, SimTime, SocketEvent, SocketId, TimerId};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// Answers every query on its port from its zone, after an optional delay
/// (a slow or far-away server). Each query is reported as `dns.served`
/// (`name`, `id`, `rcode`, and for an answer `address` and `ttl`); a
/// datagram it does not answer as `dns.ignored`.
#[derive(Clone, Debug)]
pub struct DnsServer {
    zone: Zone,
    port: u16,
    delay: SimDuration,
    sid: Option<SocketId>,
    /// Answers waiting for their delay, in the order they are due.
    delayed: VecDeque<(SimTime, SocketAddrV4, Vec<u8>)>,
    /// Queries answered.
    pub served: u64,
}

impl DnsServer {
    /// A server for `zone` on `port`, answering after `delay`.
    pub fn new(zone: Zone, port: u16, delay: SimDuration) -> DnsServer {
        DnsServer {
            zone,
            port,
            delay,
            sid: None,
            delayed: VecDeque::new(),
            served: 0,
        }
    }
}

impl App for DnsServer {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        self.delayed.clear();
        match cx.udp_bind(self.port) {
            Ok(sid) => self.sid = Some(sid),
            Err(e) => cx.emit(AppEvent::new(
                "dns.bind-failed",
                format!("bind(:{}) failed: {e}", self.port),
            )),
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let Some(sid) = self.sid else { return };
        if event != SocketEvent::Readable(sid) {
            return;
        }
        while let Ok(Some((from, data))) = cx.recv_from(sid) {
            match self.zone.answer(&data) {
                Reply::Ignore(why) => cx.emit(
                    AppEvent::new(
                        "dns.ignored",
                        format!("ignored a datagram from {from}: {why}"),
                    )
                    .on(sid)
                    .with("reason", why),
                ),
                Reply::Answer(served) => {
                    self.served += 1;
                    let mut event = AppEvent::new(
                        "dns.served",
                        match served.record {
                            Some(r) => format!(
                                "{} A -> {} ttl {}s (id {:#06x})",
                                served.name, r.address, r.ttl_secs, served.id
                            ),
                            None => format!(
                                "{} -> {} (id {:#06x})",
                                served.name, served.rcode, served.id
                            ),
                        },
                    )
                    .on(sid)
                    .with("name", served.name.as_str())
                    .with("id", served.id)
                    .with("rcode", served.rcode.to_string());
                    if let Some(r) = served.record {
                        event = event
                            .with("address", r.address.to_string())
                            .with("ttl", SimDuration::from_secs(u64::from(r.ttl_secs)));
                    }
                    cx.emit(event);
                    if self.delay.is_zero() {
                        let _ = cx.send_to(sid, from, &served.bytes);
                    } else {
                        let due = cx.now() + self.delay;
                        self.delayed.push_back((due, from, served.bytes));
                        cx.set_timer_at(due);
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, _timer: TimerId) {
        let Some(sid) = self.sid else { return };
        while let Some((due, _, _)) = self.delayed.front() {
            if *due > cx.now() {
                break;
            }
            if let Some((_, to, bytes)) = self.delayed.pop_front() {
                let _ = cx.send_to(sid, to, &bytes);
            }
        }
    }
}

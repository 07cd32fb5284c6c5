//! UDP applications: a numbered-datagram sender and an echo.

use crate::app::{App, AppContext};
use crate::socket::{SocketEvent, SocketId, TimerId};
use crate::time::SimDuration;
use crate::trace::AppEvent;
use std::net::SocketAddrV4;

/// Sends `count` numbered datagrams at a fixed interval and records every
/// echo that comes back, in arrival order — so loss, duplication and
/// reordering reach the application exactly as the network made them.
#[derive(Clone, Debug)]
pub struct UdpSender {
    remote: SocketAddrV4,
    count: u32,
    size: usize,
    interval: SimDuration,
    sid: Option<SocketId>,
    sent: u32,
    /// Sequence numbers of the echoes received, in arrival order.
    pub received: Vec<u32>,
}

impl UdpSender {
    /// `count` datagrams of `size` bytes (at least 4, for the sequence
    /// number), one every `interval`.
    pub fn new(remote: SocketAddrV4, count: u32, size: usize, interval: SimDuration) -> UdpSender {
        UdpSender {
            remote,
            count,
            size: size.max(4),
            interval,
            sid: None,
            sent: 0,
            received: Vec::new(),
        }
    }

    fn send_one(&mut self, cx: &mut AppContext<'_>) {
        let Some(sid) = self.sid else { return };
        if self.sent >= self.count {
            return;
        }
        let mut data = format!("{:04}", self.sent).into_bytes();
        data.resize(self.size, b'.');
        let _ = cx.send_to(sid, self.remote, &data);
        self.sent += 1;
        if self.sent < self.count {
            cx.set_timer(self.interval);
        }
    }
}

impl App for UdpSender {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        match cx.udp_bind(0) {
            Ok(sid) => {
                self.sid = Some(sid);
                self.send_one(cx);
            }
            Err(e) => cx.emit(AppEvent::new(
                "udp.bind-failed",
                format!("bind failed: {e}"),
            )),
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let SocketEvent::Readable(sid) = event else {
            return;
        };
        while let Ok(Some((_, data))) = cx.recv_from(sid) {
            let seq = std::str::from_utf8(&data[..4.min(data.len())])
                .ok()
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(seq) = seq {
                let duplicate = self.received.contains(&seq);
                let out_of_order = self.received.last().is_some_and(|&last| seq < last);
                self.received.push(seq);
                let note = match (duplicate, out_of_order) {
                    (true, _) => " (duplicate)",
                    (false, true) => " (out of order)",
                    _ => "",
                };
                cx.emit(
                    AppEvent::new("udp.echo", format!("echo of datagram {seq}{note}"))
                        .on(sid)
                        .with("seq", seq)
                        .with("duplicate", duplicate)
                        .with("out_of_order", out_of_order),
                );
            }
        }
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, _timer: TimerId) {
        self.send_one(cx);
    }
}

/// Sends every datagram back to where it came from.
#[derive(Clone, Debug)]
pub struct UdpEcho {
    port: u16,
    /// Datagrams echoed.
    pub echoed: u64,
}

impl UdpEcho {
    /// An echo on `port`.
    pub fn new(port: u16) -> UdpEcho {
        UdpEcho { port, echoed: 0 }
    }
}

impl App for UdpEcho {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        if let Err(e) = cx.udp_bind(self.port) {
            cx.emit(AppEvent::new(
                "udp.bind-failed",
                format!("bind(:{}) failed: {e}", self.port),
            ));
        }
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        let SocketEvent::Readable(sid) = event else {
            return;
        };
        while let Ok(Some((src, data))) = cx.recv_from(sid) {
            self.echoed += 1;
            let _ = cx.send_to(sid, src, &data);
        }
    }
}

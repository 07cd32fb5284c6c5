//! The "Bottlenecks" table: per link direction where frames waited in a
//! queue, its queue discipline, the frames that went through it and their
//! queueing delay, its drops by reason, and the TCP flows that shared it
//! with their goodput, their shares and Jain's fairness index (the
//! definitions are [`simnet_core::analysis::Bottleneck`]'s).
//!
//! The table is shown only when the topology has a router or an active
//! queue, or the trace an active queue's event
//! ([`simnet_core::analysis::Analysis::show_bottlenecks`]): two hosts
//! joined by a drop-tail link queue frames too, and their summary reads
//! as it always did (the "Links" table and the throughput table tell their
//! story).

use super::Summary;
use super::delivery::millis;
use super::table::Table;
use super::tcp::rate;
use simnet_core::HostId;
use simnet_core::analysis::{Bottleneck, Connection};
use simnet_core::trace::Topology;

/// Flows a bottleneck lists at most; the rest are counted on one more row.
pub const MAX_FLOWS: usize = 10;

/// The table: one row per flow that crossed a bottleneck, the bottleneck's
/// own columns on its first row (a bottleneck crossed by no TCP data has
/// one row, with `-` for its flow). Empty (so left out) when there is no
/// bottleneck or they are not to be shown.
pub(super) fn bottleneck_table(topo: &Topology, s: &Summary) -> Table {
    let mut t = Table::new(
        "Bottlenecks (link directions where frames waited; queueing delay per frame in ms; \
         goodput in the window when all of a link's flows sent, without one over each \
         flow's own transfer; Jain's fairness index)",
        [
            "link",
            "qdisc",
            "frames",
            "delay mean",
            "p50",
            "p99",
            "max",
            "drops",
            "window",
            "Jain",
            "flow",
            "goodput",
            "share",
        ],
    );
    if !s.show_bottlenecks {
        return t;
    }
    for b in &s.bottlenecks {
        let mut first = bottleneck_cells(topo, b);
        if b.flows.is_empty() {
            first.extend(["-".to_string(), "-".to_string(), "-".to_string()]);
            t.row(first);
            continue;
        }
        for (i, f) in b.flows.iter().take(MAX_FLOWS).enumerate() {
            let mut row = if i == 0 {
                std::mem::take(&mut first)
            } else {
                vec![String::new(); 10]
            };
            let conn = s.connections.get(f.connection - 1);
            row.push(format!(
                "#{} {}",
                f.connection,
                conn.map_or("?".to_string(), |c| direction(topo, c, f.to_server))
            ));
            row.push(f.bits_per_second().map_or("-".to_string(), rate));
            row.push(
                b.share(f)
                    .map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0)),
            );
            t.row(row);
        }
        if b.flows.len() > MAX_FLOWS {
            let mut row = vec![String::new(); 10];
            row.push(format!("... {} more", b.flows.len() - MAX_FLOWS));
            t.row(row);
        }
    }
    t
}

/// The bottleneck's own columns, from the link to Jain's index.
fn bottleneck_cells(topo: &Topology, b: &Bottleneck) -> Vec<String> {
    let d = &b.delay;
    let drops = if b.drops.is_empty() {
        "0".to_string()
    } else {
        b.drops
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        format!("{} -> {}", topo.host_name(b.from), topo.host_name(b.to)),
        b.qdisc.to_string(),
        d.frames.to_string(),
        millis(d.mean),
        millis(d.p50),
        millis(d.p99),
        millis(d.max),
        drops,
        b.window.map_or("-".to_string(), |(from, to)| {
            format!("{}..{}", from.since_start(), to.since_start())
        }),
        b.jain.map_or("-".to_string(), |j| format!("{j:.3}")),
    ]
}

/// `sender -> receiver` of one direction of a connection, by host name.
fn direction(topo: &Topology, c: &Connection, to_server: bool) -> String {
    let name = |h: Option<HostId>, a: std::net::SocketAddrV4| {
        format!(
            "{}:{}",
            h.map_or(a.ip().to_string(), |h| topo.host_name(h).to_string()),
            a.port()
        )
    };
    let (client, server) = (name(c.client_host, c.client), name(c.server_host, c.server));
    if to_server {
        format!("{client} -> {server}")
    } else {
        format!("{server} -> {client}")
    }
}

/// A hand-built trace through a router, for the summary's, the CSV's and
/// the plots' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use simnet_core::link::LinkParams;
    use simnet_core::packet::{FrameId, TcpFlags};
    use simnet_core::socket::{HostId, LinkId};
    use simnet_core::trace::{HostInfo, LinkInfo, Trace, TraceEvent};
    use simnet_core::{DropReason, SimTime};
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    pub const A1: HostId = HostId(0);
    pub const A2: HostId = HostId(1);
    pub const B: HostId = HostId(2);
    pub const R: HostId = HostId(3);

    fn addr(h: HostId) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, h.0 as u8 + 1)
    }

    /// IPv4 and TCP headers from `from`:`ports.0` to `to`:`ports.1`, for
    /// `payload` bytes (not captured), and the length on the wire.
    fn tcp(
        from: HostId,
        to: HostId,
        ports: (u16, u16),
        seq: u32,
        ack: u32,
        flags: &str,
        payload: u32,
    ) -> (Arc<[u8]>, u32) {
        let total = 40 + payload;
        let mut p = vec![0x45, 0];
        p.extend((total as u16).to_be_bytes());
        p.extend([0, 1, 0, 0, 64, 6, 0, 0]);
        p.extend(addr(from).octets());
        p.extend(addr(to).octets());
        p.extend(ports.0.to_be_bytes());
        p.extend(ports.1.to_be_bytes());
        p.extend(seq.to_be_bytes());
        p.extend(ack.to_be_bytes());
        p.extend([5 << 4, TcpFlags::parse(flags).expect("flags").0, 0xff, 0xff]);
        p.extend([0, 0, 0, 0]);
        (p.into(), total)
    }

    /// Two senders, `a1` and `a2`, each on its own link to router `r`,
    /// which forwards to `b` over an 8 Mbit/s link (1040 bytes take 1.04
    /// ms). At 100 ms, a1 sends four segments of 1000 bytes and a2 one; at
    /// 101 ms the router queues them (0, 1.04, 2.08 and 3.12 ms of
    /// waiting; a1's fourth is dropped, queue-full); at 150 ms b
    /// acknowledges what it got (3000 bytes from a1, 1000 from a2). `router`
    /// false makes `r` a plain host (the trace a topology without routers
    /// would give, as far as the analysis goes).
    pub fn two_flows(router: bool) -> Trace {
        let mut t = Trace::default();
        let topo = &mut t.topology;
        topo.hosts = ["a1", "a2", "b", "r"]
            .iter()
            .enumerate()
            .map(|(i, n)| HostInfo {
                name: n.to_string(),
                addr: addr(HostId(i as u32)),
                router: router && i == 3,
            })
            .collect();
        let fast = LinkParams::default();
        let slow = LinkParams {
            bandwidth_bps: Some(8_000_000),
            ..LinkParams::default()
        };
        let link = |a, b, a_to_b: &LinkParams| LinkInfo {
            a,
            b,
            a_to_b: a_to_b.clone(),
            b_to_a: fast.clone(),
        };
        topo.links = vec![link(A1, R, &fast), link(A2, R, &fast), link(R, B, &slow)];
        let ms = |n| SimTime::from_millis(n);
        let us = |n| SimTime::from_micros(n);
        let mut next = 0;
        let mut frame = || {
            next += 1;
            FrameId(next)
        };
        // Data: (sender, seq, wire time at r, bytes queued ahead, departs).
        let data = [
            (A1, 1, us(101_000), Some((0, us(102_040)))),
            (A1, 1001, us(101_000), Some((0, us(103_080)))),
            (A1, 2001, us(101_000), Some((1040, us(104_120)))),
            (A2, 1, us(101_000), Some((2080, us(105_160)))),
            (A1, 3001, us(101_000), None),
        ];
        let mut sent = Vec::new();
        for (from, seq, _, _) in data {
            let (bytes, len) = tcp(from, B, (40000, 9000), seq, 1, "P.", 1000);
            let f = frame();
            sent.push((f, len));
            t.push(
                ms(100),
                TraceEvent::PacketSent {
                    frame: f,
                    from,
                    to: Some(R),
                    socket: None,
                    bytes,
                    len,
                },
            );
        }
        for ((from, _, at, queue), (f, len)) in data.into_iter().zip(sent) {
            t.push(
                at,
                TraceEvent::FrameForwarded {
                    frame: f,
                    router: R,
                    from,
                    to: B,
                    link: LinkId(2),
                    bytes: Arc::from(&[][..]),
                    len,
                },
            );
            match queue {
                Some((queue_bytes, departs)) => {
                    t.push(
                        at,
                        TraceEvent::FrameQueued {
                            frame: f,
                            link: LinkId(2),
                            queue_bytes,
                            departs,
                        },
                    );
                    t.push(departs, TraceEvent::FrameDelivered { frame: f, to: B });
                }
                None => t.push(
                    at,
                    TraceEvent::FrameDropped {
                        frame: f,
                        from: R,
                        to: Some(B),
                        reason: DropReason::QueueFull,
                    },
                ),
            }
        }
        for (to, ack) in [(A1, 3001), (A2, 1001)] {
            let (bytes, len) = tcp(B, to, (9000, 40000), 1, ack, ".", 0);
            t.push(
                ms(150),
                TraceEvent::PacketSent {
                    frame: frame(),
                    from: B,
                    to: Some(R),
                    socket: None,
                    bytes,
                    len,
                },
            );
        }
        t.push(
            ms(200),
            TraceEvent::Action {
                description: "end".into(),
            },
        );
        t
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::two_flows;
    use crate::summary::render_summary;

    /// The section of a summary under `title`, up to the blank line.
    fn section<'a>(summary: &'a str, title: &str) -> Option<&'a str> {
        let start = summary.find(title)?;
        let rest = &summary[start..];
        Some(&rest[..rest.find("\n\n").map_or(rest.len(), |i| i + 1)])
    }

    #[test]
    fn a_router_queue_is_a_bottleneck_with_its_delays_drops_and_flows() {
        let text = render_summary(&two_flows(true));
        let table = section(&text, "Bottlenecks").expect(&text);
        let expected = [
            "Bottlenecks (link directions where frames waited; queueing delay per frame in ms; \
             goodput in the window when all of a link's flows sent, without one over each \
             flow's own transfer; Jain's fairness index)",
            "  link   qdisc     frames delay mean p50  p99  max  drops        window       Jain  \
             flow                  goodput      share",
            "  ------ --------- ------ ---------- ---- ---- ---- ------------ ------------ ----- \
             --------------------- ------------ -----",
            "  r -> b drop-tail 4      1.56       1.04 3.12 3.12 1 queue-full 100ms..200ms 0.800 \
             #1 a1:40000 -> b:9000 240.0 kbit/s 75.0%",
            "                                                                                    \
             #2 a2:40000 -> b:9000 80.0 kbit/s  25.0%",
        ];
        assert_eq!(table, expected.join("\n") + "\n");
    }

    #[test]
    fn without_routers_or_active_queues_there_is_no_bottleneck_table() {
        let with = render_summary(&two_flows(true));
        let without = render_summary(&two_flows(false));
        assert!(!without.contains("Bottlenecks"), "{without}");
        // Everything else reads the same.
        let table = section(&with, "Bottlenecks").unwrap_or_default();
        assert_eq!(with.replace(table, "").replace("\n\n\n", "\n\n"), without);
    }
}

#[cfg(test)]
mod cap_tests {
    use super::*;
    use simnet_core::analysis::{DelayStats, SharedFlow};
    use simnet_core::socket::LinkId;
    use simnet_core::trace::HostInfo;
    use simnet_core::{SimDuration, SimTime};
    use std::collections::BTreeMap;

    fn bottleneck(flows: usize) -> Bottleneck {
        Bottleneck {
            from: HostId(0),
            to: HostId(1),
            link: LinkId(0),
            qdisc: "fq_codel",
            delay: DelayStats::default(),
            delays: Vec::new(),
            drops: BTreeMap::new(),
            drop_times: Vec::new(),
            flows: (1..=flows)
                .map(|connection| SharedFlow {
                    connection,
                    to_server: false,
                    bytes: 1000,
                    over: SimDuration::from_secs(1),
                })
                .collect(),
            window: Some((SimTime::ZERO, SimTime::from_secs(1))),
            jain: Some(1.0),
        }
    }

    #[test]
    fn a_long_list_of_flows_is_cut_and_no_flow_is_a_dash() {
        let mut topo = Topology::default();
        for name in ["x", "y"] {
            topo.hosts.push(HostInfo {
                name: name.to_string(),
                addr: std::net::Ipv4Addr::UNSPECIFIED,
                router: true,
            });
        }
        let s = Summary {
            bottlenecks: vec![bottleneck(MAX_FLOWS + 2), bottleneck(0)],
            show_bottlenecks: true,
            ..Summary::default()
        };
        let text = bottleneck_table(&topo, &s).render().unwrap_or_default();
        // Ten flows, the rest counted, and the bottleneck without flows.
        assert_eq!(text.lines().count(), 3 + MAX_FLOWS + 2, "{text}");
        assert!(text.contains("  x -> y fq_codel 0"), "{text}");
        assert!(text.contains("#10 ?"), "{text}");
        assert!(!text.contains("#11"), "{text}");
        assert!(text.contains("... 2 more"), "{text}");
        let last: Vec<&str> = text
            .lines()
            .last()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(last[last.len() - 3..], ["-", "-", "-"], "{text}");
        // Not shown: no table.
        let hidden = Summary {
            show_bottlenecks: false,
            ..s
        };
        assert_eq!(bottleneck_table(&topo, &hidden).render(), None);
    }
}

#[cfg(test)]
mod link_tests {
    use super::fixture::two_flows;
    use crate::summary::render_summary;

    #[test]
    fn a_forwarded_frame_counts_on_every_hop() {
        let text = render_summary(&two_flows(true));
        let links = &text[text.find("Links (per direction)").unwrap_or(0)..];
        let rows: Vec<Vec<&str>> = links
            .lines()
            .skip(3)
            .take_while(|l| !l.is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        // a1 sent four frames, all forwarded (so delivered to the router);
        // the router put five on its link to b, four arrived and one was
        // dropped; b's ACKs were sent, and never forwarded in this trace.
        assert_eq!(
            rows,
            [
                vec!["a1", "r", "4", "4160", "4", "0", "0", "0", "0"],
                vec!["a2", "r", "1", "1040", "1", "0", "0", "0", "0"],
                vec!["b", "r", "2", "80", "0", "0", "0", "0", "0"],
                vec!["r", "b", "5", "5200", "4", "1", "queue-full", "0", "0", "0"],
            ],
            "{text}"
        );
    }
}

//! TIME-WAIT records against real smoltcp TIME-WAIT sockets.
//!
//! Each world runs twice, with the records switched off (every TIME-WAIT
//! connection stays a smoltcp socket) and on, and the runs must agree
//! (`compare.rs` says on what). Each test also checks that records were
//! really used when switched on, so agreement is not vacuous, and the
//! torture cases check the TIME-WAIT behaviour itself.

use crate::compare::{self, Run, Switch};
use simnet::apps::{Reply, ServerClose, TcpClient, TcpEcho, TcpServer};
use simnet::{
    Action, CloseReason, FaultAction, HostConfig, HostId, LinkParams, PacketFilter, Probability,
    SimDuration, SimTime, TargetedFault, TcpFlags, TcpState, Trace, TraceEvent, World,
    WorldBuilder,
};
use std::net::SocketAddrV4;

fn both_ways(name: &str, make: impl Fn() -> World) -> Run {
    compare::both_ways(Switch::TimeWaitRecords, name, make)
}

// ----- every scenario ------------------------------------------------------------

#[test]
fn every_scenario_is_identical_with_and_without_time_wait_records() {
    // The close scenarios end in TIME-WAIT; the lost final ACK makes the
    // server's retransmitted FIN meet a record.
    compare::every_scenario_both_ways(
        Switch::TimeWaitRecords,
        &[
            "scenarios/tcp/close-client-first.toml",
            "scenarios/tcp/close-server-first.toml",
            "scenarios/tcp/lost-final-ack.toml",
            "scenarios/http/proxy-time-wait.toml",
        ],
    );
}

// ----- torture cases ---------------------------------------------------------------

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const LATENCY_MS: u64 = 10;

fn server_addr() -> SocketAddrV4 {
    SocketAddrV4::new(SERVER.into(), 80)
}

/// A client that closes first (so it holds TIME-WAIT) talking to an echo
/// server, with the given faults.
fn client_closes_first(faults: Vec<TargetedFault>) -> World {
    let mut b = WorldBuilder::new(7);
    let c = b.host("client", CLIENT.into());
    let s = b.host("server", SERVER.into());
    b.link(
        c,
        s,
        LinkParams::with_latency(SimDuration::from_millis(LATENCY_MS)),
    );
    b.app(s, "tcp-echo", || TcpEcho::new(80));
    b.app(c, "tcp-client", || {
        TcpClient::new(server_addr(), b"hello", 5)
    });
    for f in faults {
        b.fault(f);
    }
    b.build().unwrap()
}

fn fault(filter: PacketFilter, nth: u32, count: u32, action: FaultAction) -> TargetedFault {
    TargetedFault {
        filter,
        nth,
        count,
        action,
    }
}

/// The client's ACKs sent in TIME-WAIT (the final ACK and its repeats).
fn client_time_wait_acks() -> PacketFilter {
    PacketFilter {
        from: Some(HostId(0)),
        flags_exact: Some(TcpFlags(TcpFlags::ACK)),
        payload: Some(false),
        sender_state: Some(TcpState::TimeWait),
        ..PacketFilter::default()
    }
}

/// The server's FINs (the first is the original, the rest retransmissions).
fn server_fins() -> PacketFilter {
    PacketFilter {
        from: Some(HostId(1)),
        flags: Some(TcpFlags(TcpFlags::FIN)),
        ..PacketFilter::default()
    }
}

/// When a host's connections left TIME-WAIT, and why.
fn time_wait_ends(trace: &Trace, host: HostId) -> Vec<(SimTime, Option<CloseReason>)> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::TcpState {
                host: h,
                from: TcpState::TimeWait,
                to: TcpState::Closed,
                reason,
                ..
            } if *h == host => Some((r.time, *reason)),
            _ => None,
        })
        .collect()
}

/// When each packet from `host` matching `pick` (on its decoded flags and
/// payload length) was sent.
fn sent(trace: &Trace, host: HostId, pick: impl Fn(TcpFlags, u32) -> bool) -> Vec<SimTime> {
    trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::PacketSent { from, bytes, .. } if *from == host => {
                let info = simnet::PacketInfo::parse(bytes)?;
                let tcp = info.tcp()?;
                pick(tcp.flags, tcp.payload_len).then_some(r.time)
            }
            _ => None,
        })
        .collect()
}

fn is_fin(f: TcpFlags, _: u32) -> bool {
    f.fin()
}
fn is_rst(f: TcpFlags, _: u32) -> bool {
    f.rst()
}
fn is_pure_ack(f: TcpFlags, len: u32) -> bool {
    f == TcpFlags(TcpFlags::ACK) && len == 0
}

const LATENCY: SimDuration = SimDuration::from_millis(LATENCY_MS);
const TIME_WAIT: SimDuration = SimDuration::from_secs(10);

/// The final ACK is lost three times: the server retransmits its FIN into
/// the client's TIME-WAIT again and again (1 s, 2 s, 4 s apart), the first
/// retransmission arriving twice at once. Each FIN restarts TIME-WAIT and
/// gets a challenge ACK, except the duplicate, which comes within the
/// second the rate limit allows.
#[test]
fn retransmitted_fins_into_time_wait() {
    let on = both_ways("retransmitted FINs", || {
        client_closes_first(vec![
            fault(client_time_wait_acks(), 1, 3, FaultAction::Drop),
            fault(server_fins(), 2, 1, FaultAction::Duplicate),
        ])
    });
    assert!(on.used >= 1);
    let (client, server) = (HostId(0), HostId(1));
    let fins = sent(&on.trace, server, is_fin);
    assert_eq!(fins.len(), 4, "the original FIN and three retransmissions");
    let gaps: Vec<SimDuration> = fins.windows(2).map(|w| w[1] - w[0]).collect();
    let s = SimDuration::from_secs;
    assert_eq!(gaps, [s(1), s(2), s(4)], "the FIN's RTO backs off");
    // One ACK per FIN arrival, but only one for the duplicated pair.
    let acks_in_time_wait = sent(&on.trace, client, is_pure_ack)
        .into_iter()
        .filter(|t| *t > fins[0])
        .count();
    assert_eq!(acks_in_time_wait, 4);
    let last_fin_arrival = *fins.last().unwrap() + LATENCY;
    assert_eq!(
        time_wait_ends(&on.trace, client),
        vec![(last_fin_arrival + TIME_WAIT, None)],
        "TIME-WAIT lasts 10 s from the last FIN"
    );
    assert!(sent(&on.trace, client, is_rst).is_empty());
}

/// The server's first retransmitted FIN is held back 4 s: by then the
/// connection is gone on the server, so the client's ACK to that stray FIN
/// draws an RST, which lands inside the client's window and ends TIME-WAIT
/// early.
#[test]
fn rst_ends_time_wait() {
    let on = both_ways("RST in TIME-WAIT", || {
        client_closes_first(vec![
            fault(client_time_wait_acks(), 1, 1, FaultAction::Drop),
            fault(
                server_fins(),
                2,
                1,
                FaultAction::Delay(SimDuration::from_secs(4)),
            ),
        ])
    });
    assert!(on.used >= 1);
    let (client, server) = (HostId(0), HostId(1));
    let rsts = sent(&on.trace, server, is_rst);
    assert_eq!(rsts.len(), 1, "the server resets the stray ACK");
    assert_eq!(
        time_wait_ends(&on.trace, client),
        vec![(rsts[0] + LATENCY, Some(CloseReason::Reset))]
    );
}

/// As above, but the stray FIN arrives 2.5 s late, within a second of the
/// client's previous challenge ACK: the rate limit withholds the ACK, yet
/// the FIN still restarts TIME-WAIT.
#[test]
fn challenge_ack_rate_limit_in_time_wait() {
    let on = both_ways("rate-limited challenge ACK", || {
        client_closes_first(vec![
            fault(client_time_wait_acks(), 1, 1, FaultAction::Drop),
            fault(
                server_fins(),
                2,
                1,
                FaultAction::Delay(SimDuration::from_millis(2500)),
            ),
        ])
    });
    let (client, server) = (HostId(0), HostId(1));
    let fins = sent(&on.trace, server, is_fin);
    assert_eq!(fins.len(), 3);
    // FIN #2 (sent at +1 s) arrives 2.5 s late, after FIN #3 (sent at +3 s).
    let late_arrival = fins[1] + SimDuration::from_millis(2500) + LATENCY;
    assert!(late_arrival > fins[2] + LATENCY);
    let client_acks_after_first_fin: Vec<SimTime> = sent(&on.trace, client, is_pure_ack)
        .into_iter()
        .filter(|t| *t > fins[0])
        .collect();
    assert_eq!(
        client_acks_after_first_fin,
        vec![fins[0] + LATENCY, fins[2] + LATENCY],
        "no ACK for the late FIN"
    );
    assert!(sent(&on.trace, server, is_rst).is_empty());
    assert_eq!(
        time_wait_ends(&on.trace, client),
        vec![(late_arrival + TIME_WAIT, None)]
    );
}

/// Data into TIME-WAIT. The client half-closes after its request; the
/// server answers after the client's FIN (so its segments acknowledge that
/// FIN), and its answer is held back 1.5 s. The retransmission gets through,
/// the client closes and enters TIME-WAIT, and then the late original
/// arrives: old data carrying an acceptable ACK is acknowledged at once (no
/// rate limit for data). The server has forgotten the connection by then,
/// so that ACK draws an RST, which ends TIME-WAIT.
///
/// (Old data whose ACK number is older than our FIN, such as a stale copy
/// of a reply sent before the close, is dropped silently instead: smoltcp
/// checks the ACK number before the sequence number.)
#[test]
fn old_data_into_time_wait() {
    let data_from_server = PacketFilter {
        from: Some(HostId(1)),
        payload: Some(true),
        ..PacketFilter::default()
    };
    let make = |delay_ms: u64| {
        let data_from_server = data_from_server.clone();
        move || {
            let mut b = WorldBuilder::new(7);
            let c = b.host("client", CLIENT.into());
            let s = b.host("server", SERVER.into());
            b.link(c, s, LinkParams::with_latency(LATENCY));
            b.app(s, "tcp-server", || {
                TcpServer::new(80, Reply::AfterEof { bytes: 5 }, ServerClose::OnEof)
            });
            b.app(c, "tcp-client", || {
                TcpClient::new(server_addr(), b"hello", 5)
                    .close(simnet::apps::ClientClose::ShutdownAfterSend)
            });
            b.fault(fault(
                data_from_server.clone(),
                1,
                1,
                FaultAction::Delay(SimDuration::from_millis(delay_ms)),
            ));
            b.build().unwrap()
        }
    };
    let on = both_ways("data in TIME-WAIT", make(1500));
    if std::env::var_os("SHOW_TRACE").is_some() {
        println!("{}", on.text);
    }
    assert!(on.used >= 1);
    let (client, server) = (HostId(0), HostId(1));
    let data = sent(&on.trace, server, |_, len| len > 0);
    assert_eq!(data.len(), 2, "the answer and its retransmission");
    let late_arrival = data[0] + SimDuration::from_millis(1500) + LATENCY;
    assert!(
        sent(&on.trace, client, is_pure_ack).contains(&late_arrival),
        "the old data is acknowledged"
    );
    assert_eq!(
        time_wait_ends(&on.trace, client),
        vec![(late_arrival + LATENCY + LATENCY, Some(CloseReason::Reset))]
    );
    // Other delays put the stray segment at other points of the close.
    for delay_ms in [300, 1020, 1040, 5000, 11_000] {
        both_ways(&format!("data {delay_ms} ms late"), make(delay_ms));
    }
}

/// The server closes first and holds TIME-WAIT; the client, with a single
/// ephemeral port, connects again from the same port 100 ms later. Its SYNs
/// meet the TIME-WAIT connection, which drops them without a word (smoltcp
/// expects an ACK), until TIME-WAIT ends and the listener takes the next one.
#[test]
fn syn_reusing_the_four_tuple() {
    let make = || {
        let mut b = WorldBuilder::new(7);
        let one_port = HostConfig {
            ephemeral_ports: (50000, 50000),
            ..HostConfig::default()
        };
        let c = b.host_with("client", CLIENT.into(), one_port);
        let s = b.host("server", SERVER.into());
        b.link(c, s, LinkParams::with_latency(LATENCY));
        b.app(s, "tcp-server", || {
            TcpServer::new(
                80,
                Reply::Fixed {
                    after_bytes: 5,
                    bytes: 5,
                },
                ServerClose::AfterReply,
            )
        });
        b.app(c, "tcp-client", || {
            let mut client = TcpClient::new(server_addr(), b"hello", 5)
                .close(simnet::apps::ClientClose::OnEof)
                .connections(2);
            client.pause = SimDuration::from_millis(100);
            client
        });
        b.build().unwrap()
    };
    let on = both_ways("SYN reusing the 4-tuple", make);
    assert!(on.used >= 1);
    let (client, server) = (HostId(0), HostId(1));
    let syns = sent(&on.trace, client, |f, _| f.syn());
    let syn_acks = sent(&on.trace, server, |f, _| f.syn() && f.ack());
    let ends = time_wait_ends(&on.trace, server);
    assert_eq!(
        ends.len(),
        2,
        "both connections end in the server's TIME-WAIT"
    );
    let first_end = ends[0].0;
    assert!(
        syns.iter().filter(|t| **t < first_end).count() >= 4,
        "the second connection's SYNs are retransmitted through TIME-WAIT: {syns:?}"
    );
    assert_eq!(syn_acks.len(), 2);
    assert!(syn_acks[1] > first_end, "answered only after TIME-WAIT");
    assert!(sent(&on.trace, server, is_rst).is_empty());
}

/// The client crashes while holding TIME-WAIT and restarts: the record
/// vanishes with the host, reported like a socket.
#[test]
fn crash_during_time_wait() {
    let on = both_ways("crash in TIME-WAIT", || {
        let mut b = WorldBuilder::new(7);
        let c = b.host("client", CLIENT.into());
        let s = b.host("server", SERVER.into());
        b.link(c, s, LinkParams::with_latency(LATENCY));
        b.app(s, "tcp-echo", || TcpEcho::new(80));
        b.app(c, "tcp-client", || {
            TcpClient::new(server_addr(), b"hello", 5).connections(3)
        });
        b.at(SimTime::from_secs(2), Action::Crash(c));
        b.at(SimTime::from_secs(3), Action::Restart(c));
        b.build().unwrap()
    });
    assert!(on.used >= 3);
    let crashed = on.trace.records.iter().any(|r| {
        matches!(
            r.event,
            TraceEvent::TcpState {
                from: TcpState::TimeWait,
                reason: Some(CloseReason::HostCrashed),
                ..
            }
        )
    });
    assert!(crashed);
}

/// Many connections both ways over a link that loses, duplicates, reorders
/// and delays: FINs, ACKs and data turn up in TIME-WAIT in every order.
#[test]
fn many_connections_over_a_hostile_link() {
    let mut records = 0;
    for seed in 1..=8 {
        let make = || {
            let mut b = WorldBuilder::new(seed);
            let c = b.host("client", CLIENT.into());
            let s = b.host("server", SERVER.into());
            b.link(
                c,
                s,
                LinkParams {
                    latency: LATENCY,
                    jitter: SimDuration::from_millis(5),
                    loss: Probability::from_percent(5.0),
                    duplicate: Probability::from_percent(10.0),
                    reorder: Probability::from_percent(10.0),
                    reorder_delay: SimDuration::from_millis(40),
                    ..LinkParams::default()
                },
            );
            b.app(s, "echo", || TcpEcho::new(80));
            b.app(s, "closes-first", || {
                TcpServer::new(
                    81,
                    Reply::Fixed {
                        after_bytes: 300,
                        bytes: 2000,
                    },
                    ServerClose::AfterReply,
                )
            });
            b.app(c, "client", || {
                TcpClient::new(server_addr(), &[b'x'; 300], 300).connections(20)
            });
            b.app(c, "client-server-closes", || {
                TcpClient::new(SocketAddrV4::new(SERVER.into(), 81), &[b'y'; 300], 2000)
                    .close(simnet::apps::ClientClose::OnEof)
                    .connections(20)
            });
            b.build().unwrap()
        };
        records += both_ways(&format!("hostile link, seed {seed}"), make).used;
    }
    assert!(records > 0);
}

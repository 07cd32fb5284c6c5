//! Routers: forwarding by longest prefix match, TTL and ICMP, NAT.

use super::*;
use simnet::apps::{TcpClient, TcpEcho};
use simnet::{NatConfig, NatExpiredAction, TraceEvent};

/// client (10.1.0.2) — r1 — r2 — server (10.2.0.2), 5 ms a hop.
fn three_hops(seed: u64) -> (WorldBuilder, [HostId; 4]) {
    let mut b = WorldBuilder::new(seed);
    let client = b.host("client", [10, 1, 0, 2].into());
    let r1 = b.router("r1", [10, 1, 0, 1].into());
    let r2 = b.router("r2", [10, 2, 0, 1].into());
    let server = b.host("server", [10, 2, 0, 2].into());
    let hop = LinkParams::with_latency(SimDuration::from_millis(5));
    b.link(client, r1, hop.clone());
    b.link(r1, r2, hop.clone());
    b.link(r2, server, hop);
    b.gateway(client, r1).gateway(server, r2);
    b.route(r1, "10.2.0.0/16".parse().unwrap(), r2);
    b.route(r2, "10.1.0.0/16".parse().unwrap(), r1);
    (b, [client, r1, r2, server])
}

/// The three-hop world with an echo server behind r2 and a client that
/// sends `hello` to it, run for two seconds (long enough to finish).
fn three_hop_echo() -> (World, [HostId; 4]) {
    let (mut b, hosts) = three_hops(1);
    let [client, _, _, server] = hosts;
    let addr = b.addr(server, 7);
    b.app(server, "tcp-echo", || TcpEcho::new(7));
    b.app(client, "tcp-client", move || {
        TcpClient::new(addr, b"hello", 5)
    });
    let mut world = b.build().unwrap();
    world.run_until(simnet::SimTime::from_secs(2));
    (world, hosts)
}

#[test]
fn a_connection_crosses_two_routers() {
    let (world, [client, ..]) = three_hop_echo();
    let t = text(&world);
    println!("{t}");
    assert!(t.contains("r1      fwd  r2"), "{t}");
    assert_eq!(path(world.trace(), client).first(), Some(&TcpState::Closed));
    // The SYN takes three hops of 5 ms: the SYN-ACK is back after 30 ms.
    let established = world
        .trace()
        .tcp_states(client)
        .find(|(_, _, _, to)| *to == TcpState::Established)
        .unwrap()
        .0;
    assert_eq!(established, simnet::SimTime::from_millis(30));
}

#[test]
fn a_routing_loop_ends_in_icmp_time_exceeded() {
    let (mut b, [client, r1, r2, _]) = three_hops(1);
    // Both routers send 10.9.0.0/16 to each other.
    b.route(r1, "10.9.0.0/16".parse().unwrap(), r2);
    b.route(r2, "10.9.0.0/16".parse().unwrap(), r1);
    b.app(client, "tcp-client", || {
        TcpClient::new("10.9.0.1:80".parse().unwrap(), b"x", 1)
    });
    let mut world = b.build().unwrap();
    world.run_until(simnet::SimTime::from_millis(900));
    let t = text(&world);
    // smoltcp sends with TTL 64: the SYN is forwarded 63 times, and the
    // router that gets it with TTL 1 drops it and tells the client.
    let forwarded = t.lines().filter(|l| l.contains(" fwd ")).count();
    assert!(t.contains("dropped (ttl-exceeded)"), "{t}");
    assert!(t.contains("ICMP time exceeded (TTL)"), "{t}");
    let first_syn_hops = t
        .lines()
        .take_while(|l| !l.contains("ttl-exceeded"))
        .filter(|l| l.contains(" fwd "))
        .count();
    assert_eq!(first_syn_hops, 63, "{t}");
    assert!(forwarded >= 63);
}

#[test]
fn no_route_is_answered_with_network_unreachable() {
    let (mut b, [client, ..]) = three_hops(1);
    b.app(client, "tcp-client", || {
        TcpClient::new("10.9.0.1:80".parse().unwrap(), b"x", 1)
    });
    let mut world = b.build().unwrap();
    world.run_until(simnet::SimTime::from_millis(100));
    let t = text(&world);
    assert!(t.contains("r1      ✗    ?      dropped (no-route)"), "{t}");
    assert!(
        t.contains("r1      →    client ICMP network unreachable"),
        "{t}"
    );
}

/// client (10.1.0.2) — nat (203.0.113.1) — server (198.51.100.2), 5 ms a
/// hop, with this idle timeout: the client writes at once and again after
/// `second` seconds of silence; the timeline does `actions`.
fn nat_world(
    on_expired: NatExpiredAction,
    idle_timeout_s: u64,
    second: u64,
    actions: impl FnOnce(HostId) -> Vec<(simnet::SimTime, simnet::Action)>,
) -> World {
    use simnet::apps::{Piece, RawClient, RawClose};
    let mut b = WorldBuilder::new(1);
    let client = b.host("client", [10, 1, 0, 2].into());
    let nat = b.router("nat", [203, 0, 113, 1].into());
    let server = b.host("server", [198, 51, 100, 2].into());
    let hop = LinkParams::with_latency(SimDuration::from_millis(5));
    b.link(client, nat, hop.clone());
    b.link(nat, server, hop);
    b.gateway(client, nat);
    b.nat(
        nat,
        NatConfig {
            outside: server,
            idle_timeout: SimDuration::from_secs(idle_timeout_s),
            on_expired,
            first_port: 20000,
        },
    );
    let addr = b.addr(server, 7);
    b.app(server, "tcp-echo", || TcpEcho::new(7));
    b.app(client, "raw-client", move || {
        RawClient::new(
            addr,
            vec![
                Piece::now(&b"a"[..]),
                Piece::after(SimDuration::from_secs(second), &b"b"[..]),
            ],
            RawClose::Never,
        )
    });
    for (at, action) in actions(nat) {
        b.at(at, action);
    }
    let mut world = b.build().unwrap();
    world.run_until(simnet::SimTime::from_secs(200));
    world
}

/// [`nat_world`] with a 60 s idle timeout and nothing on the timeline.
fn behind_nat(on_expired: NatExpiredAction, second: u64) -> World {
    nat_world(on_expired, 60, second, |_| Vec::new())
}

#[test]
fn a_nat_translates_and_forgets_idle_connections() {
    // Within the timeout the connection lives.
    let world = behind_nat(NatExpiredAction::Drop, 50);
    let t = text(&world);
    assert!(
        t.contains("nat     nat  tcp 10.1.0.2:49152 is 203.0.113.1:20000 to 198.51.100.2:7"),
        "{t}"
    );
    assert!(!t.contains("nat-no-mapping"), "{t}");
    assert_eq!(
        world
            .trace()
            .records
            .iter()
            .filter(|r| matches!(r.event, TraceEvent::NatExpired { .. }))
            .count(),
        1,
        "forgotten 60 s after the last packet, once everything went quiet"
    );

    // After 90 s the mapping is gone: the client's segment is dropped, and
    // retransmitted into the void.
    let world = behind_nat(NatExpiredAction::Drop, 90);
    let t = text(&world);
    assert!(t.contains("nat     nat  forgot tcp 10.1.0.2:49152"), "{t}");
    assert!(t.contains("dropped (nat-no-mapping)"), "{t}");
    let server = world.host_id("server").unwrap();
    let server_states = transitions(world.trace(), server);
    assert_eq!(
        server_states.last(),
        Some(&(TcpState::SynReceived, TcpState::Established)),
        "the server never hears of it: {t}"
    );

    // With `reset` the NAT answers for the server, and the client knows at once.
    let world = behind_nat(NatExpiredAction::Reset, 90);
    let t = text(&world);
    assert!(t.contains("nat     →    client :7>:49152 R"), "{t}");
    let client = world.host_id("client").unwrap();
    assert_eq!(
        transitions(world.trace(), client).last(),
        Some(&(TcpState::Established, TcpState::Closed)),
        "{t}"
    );
}

#[test]
fn a_capture_at_a_router_sees_each_packet_come_and_go() {
    let (world, [_, r1, ..]) = three_hop_echo();
    let pcap = simnet::render::render_pcap_at(world.trace(), r1);
    // Records after the 24-byte header: 16-byte record header, then the packet.
    let mut records = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let n = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        records.push(pcap[at + 16..at + 16 + n].to_vec());
        at += 16 + n;
    }
    let forwarded = world
        .trace()
        .records
        .iter()
        .filter(|r| matches!(&r.event, TraceEvent::FrameForwarded { router, .. } if *router == r1))
        .count();
    assert!(forwarded >= 8, "{forwarded}");
    assert_eq!(
        records.len(),
        2 * forwarded,
        "each forwarded packet in and out"
    );
    for pair in records.chunks(2) {
        let (inbound, outbound) = (&pair[0], &pair[1]);
        // The client's packets reach r1 with TTL 64, the server's with 63.
        assert!(matches!(inbound[8], 64 | 63), "{}", inbound[8]);
        assert_eq!(outbound[8], inbound[8] - 1);
        assert_eq!(inbound[12..20], outbound[12..20], "same addresses");
        assert_eq!(inbound[20..], outbound[20..], "same segment");
    }
    // The default capture has each packet once, where it was sent.
    let sent = world
        .trace()
        .records
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::PacketSent { .. }))
        .count();
    let everything = simnet::render::render_pcap(world.trace());
    let mut n = 0;
    let mut at = 24;
    while at < everything.len() {
        at += 16 + u32::from_le_bytes(everything[at + 8..at + 12].try_into().unwrap()) as usize;
        n += 1;
    }
    assert_eq!(n, sent);
}

/// Two senders behind r1, a 10 Mbit/s bottleneck with a 1 MiB queue from
/// r1 to r2, and a receiver behind r2; each sender pushes 4 MiB.
fn dumbbell(qdisc: simnet::Qdisc) -> World {
    use simnet::apps::{BulkSender, Sink};
    let mut b = WorldBuilder::new(1);
    let tcp = simnet::TcpConfig {
        rx_buffer_bytes: 1 << 20,
        tx_buffer_bytes: 1 << 20,
        ..Default::default()
    };
    let config = simnet::HostConfig {
        tcp,
        ..Default::default()
    };
    let s1 = b.host_with("s1", [10, 1, 0, 1].into(), config.clone());
    let s2 = b.host_with("s2", [10, 1, 0, 2].into(), config.clone());
    let r1 = b.router("r1", [10, 1, 0, 254].into());
    let r2 = b.router("r2", [10, 2, 0, 254].into());
    let rx = b.host_with("rx", [10, 2, 0, 1].into(), config);
    let fast = LinkParams::with_latency(SimDuration::from_millis(1));
    b.link(s1, r1, fast.clone());
    b.link(s2, r1, fast.clone());
    b.link(r2, rx, fast);
    let bottleneck = LinkParams {
        latency: SimDuration::from_millis(10),
        bandwidth_bps: Some(10_000_000),
        queue_bytes_max: 1 << 20,
        qdisc,
        ..LinkParams::default()
    };
    b.link(r1, r2, bottleneck);
    b.gateway(s1, r1).gateway(s2, r1).gateway(rx, r2);
    b.route(r1, "10.2.0.0/16".parse().unwrap(), r2);
    b.route(r2, "10.1.0.0/16".parse().unwrap(), r1);
    for (i, s) in [s1, s2].into_iter().enumerate() {
        let port = 9000 + i as u16;
        let to = b.addr(rx, port);
        b.app(rx, "sink", move || Sink::new(port));
        b.app(s, "bulk-send", move || BulkSender::new(to, 4 << 20));
    }
    let mut world = b.build().unwrap();
    world.run_until(simnet::SimTime::from_secs(30));
    world
}

/// The largest time any frame waited in r1's queue towards r2.
fn worst_wait(world: &World) -> SimDuration {
    let mut worst = SimDuration::ZERO;
    for r in world.trace().records.iter() {
        let waited = match &r.event {
            TraceEvent::FrameDequeued { waited, .. } => *waited,
            TraceEvent::FrameQueued {
                departs,
                queue_bytes,
                ..
            } if *queue_bytes > 0 => *departs - r.time,
            _ => continue,
        };
        worst = worst.max(waited);
    }
    worst
}

#[test]
fn codel_keeps_the_bottleneck_queue_short() {
    let tail = dumbbell(simnet::Qdisc::DropTail);
    let codel = dumbbell(simnet::Qdisc::Codel(Default::default()));
    let fq = dumbbell(simnet::Qdisc::FqCodel(Default::default()));
    let (t, c, f) = (worst_wait(&tail), worst_wait(&codel), worst_wait(&fq));
    println!("drop-tail {t}, codel {c}, fq_codel {f}");
    let rx = |w: &World| {
        w.trace()
            .app_events("sink.eof")
            .map(|(t, _, _)| t.to_string())
            .collect::<Vec<_>>()
    };
    println!("{:?} {:?} {:?}", rx(&tail), rx(&codel), rx(&fq));
    assert!(c.as_nanos() * 4 < t.as_nanos(), "drop-tail {t}, codel {c}");
    assert!(
        f.as_nanos() * 4 < t.as_nanos(),
        "drop-tail {t}, fq_codel {f}"
    );
}

#[test]
fn a_nat_that_reboots_forgets_its_mappings() {
    use simnet::{Action, SimTime};
    let world = nat_world(NatExpiredAction::Reset, 600, 5, |nat| {
        vec![
            (SimTime::from_secs(1), Action::Crash(nat)),
            (SimTime::from_secs(2), Action::Restart(nat)),
        ]
    });
    let client = world.host_id("client").unwrap();
    let t = text(&world);
    // Long before the idle timeout, the rebooted router has no mapping.
    assert!(t.contains("dropped (nat-no-mapping)"), "{t}");
    assert!(!t.contains("nat  forgot"), "a reboot forgets silently: {t}");
    assert_eq!(
        transitions(world.trace(), client).last(),
        Some(&(TcpState::Established, TcpState::Closed)),
        "{t}"
    );
}

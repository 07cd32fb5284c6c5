//! The judge's own tests: every claim kind and every comparison form, each
//! shown to pass and to fail on a trace built by hand, with the observed
//! value the report prints.
//!
//! The traces are written event by event (not produced by a world) so that
//! every instant is known exactly: an expectation `at` a time includes the
//! events at that time and excludes those one nanosecond later, and the
//! tests check both sides of that boundary.

use super::*;
use simnet_core::Protocol;
use simnet_core::packet::{FrameId, TcpFlags};
use simnet_core::socket::Preview;
use simnet_core::trace::{AppEvent, AppInfo, EndReason, HostInfo};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

const CLIENT: HostId = HostId(0);
const SERVER: HostId = HostId(1);
const PROXY: HostId = HostId(2);
const FETCH: AppId = AppId(0);
const ECHO: AppId = AppId(1);
const METRICS: AppId = AppId(2);
const APP_NAMES: &[&str] = &["fetch", "echo", "metrics"];

fn ms(n: u64) -> SimTime {
    SimTime::from_millis(n)
}

/// One nanosecond before `t`: the last instant a claim `at` it excludes `t`'s events.
fn just_before(t: SimTime) -> SimTime {
    SimTime::from_nanos(t.as_nanos() - 1)
}

fn addr(host: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, host + 1), port)
}

/// A trace under construction, over three hosts (client, server, proxy)
/// and three applications (fetch on the client, echo and metrics on the server).
struct Build {
    trace: Trace,
    frames: u64,
}

impl Build {
    fn new() -> Build {
        let hosts = ["client", "server", "proxy"]
            .iter()
            .enumerate()
            .map(|(i, n)| HostInfo {
                name: n.to_string(),
                addr: *addr(i as u8, 0).ip(),
                router: false,
            })
            .collect();
        let apps = [(CLIENT, "tcp-client"), (SERVER, "tcp-echo"), (SERVER, "x")]
            .iter()
            .map(|(host, kind)| AppInfo {
                host: *host,
                kind: kind.to_string(),
                name: kind.to_string(),
            })
            .collect();
        Build {
            trace: Trace {
                topology: Topology {
                    seed: 1,
                    hosts,
                    links: Vec::new(),
                    apps,
                },
                records: Default::default(),
            },
            frames: 0,
        }
    }

    fn state(
        &mut self,
        t: SimTime,
        host: HostId,
        socket: u64,
        local: SocketAddrV4,
        remote: Option<SocketAddrV4>,
        to: TcpState,
    ) -> &mut Self {
        self.trace.push(
            t,
            TraceEvent::TcpState {
                host,
                socket: SocketId(socket),
                local,
                remote,
                from: TcpState::Closed,
                to,
                reason: None,
            },
        );
        self
    }

    fn call(&mut self, t: SimTime, host: HostId, app: AppId, call: SocketCall) -> &mut Self {
        self.trace.push(
            t,
            TraceEvent::SocketCall {
                host,
                app,
                socket: Some(SocketId(1)),
                call,
            },
        );
        self
    }

    /// A TCP segment (headers only; `len` carries the payload length).
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        t: SimTime,
        from: HostId,
        to: HostId,
        ports: (u16, u16),
        seq: u32,
        ack: u32,
        flags: &str,
        window: u16,
        payload: u32,
    ) -> FrameId {
        let (bytes, len) = segment(
            addr(from.0 as u8, ports.0),
            addr(to.0 as u8, ports.1),
            seq,
            ack,
            flags,
            window,
            payload,
        );
        let frame = FrameId(self.frames);
        self.frames += 1;
        self.trace.push(
            t,
            TraceEvent::PacketSent {
                frame,
                from,
                to: Some(to),
                socket: None,
                bytes,
                len,
            },
        );
        frame
    }

    fn dropped(&mut self, t: SimTime, from: HostId, reason: DropReason) -> &mut Self {
        let frame = FrameId(self.frames);
        self.frames += 1;
        self.trace.push(
            t,
            TraceEvent::FrameDropped {
                frame,
                from,
                to: None,
                reason,
            },
        );
        self
    }

    fn event(&mut self, t: SimTime, host: HostId, app: AppId, event: AppEvent) -> &mut Self {
        self.trace.push(
            t,
            TraceEvent::App {
                host,
                app,
                event: Box::new(event),
            },
        );
        self
    }

    fn end(&mut self, t: SimTime, reason: EndReason) -> &mut Self {
        self.trace.push(t, TraceEvent::RunEnded { reason });
        self
    }

    fn judge(&self, claim: Claim) -> Outcome {
        let e = Expectation { label: None, claim };
        evaluate(&[e], &self.trace, APP_NAMES).remove(0)
    }
}

/// The IPv4 and TCP headers of a segment carrying `payload` bytes, and the
/// segment's length on the wire (as a headers-only capture stores it).
fn segment(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: &str,
    window: u16,
    payload: u32,
) -> (Arc<[u8]>, u32) {
    let total = 40 + payload as usize;
    let mut b = vec![0u8; 40];
    b[0] = 0x45;
    b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    b[8] = 64;
    b[9] = 6;
    b[12..16].copy_from_slice(&src.ip().octets());
    b[16..20].copy_from_slice(&dst.ip().octets());
    b[20..22].copy_from_slice(&src.port().to_be_bytes());
    b[22..24].copy_from_slice(&dst.port().to_be_bytes());
    b[24..28].copy_from_slice(&seq.to_be_bytes());
    b[28..32].copy_from_slice(&ack.to_be_bytes());
    b[32] = 5 << 4;
    b[33] = TcpFlags::parse(flags).expect("flags").0;
    b[34..36].copy_from_slice(&window.to_be_bytes());
    (b.into(), total as u32)
}

fn check(outcome: &Outcome, passed: bool, observed: &str) {
    assert_eq!(
        (outcome.passed, outcome.observed.as_str()),
        (passed, observed),
        "{outcome}"
    );
}

// ---------------------------------------------------------------- states

/// Sockets on the client and the server, changing state at known instants.
fn sockets() -> Build {
    let mut b = Build::new();
    b.state(ms(1), SERVER, 1, addr(1, 80), None, TcpState::Listen)
        .state(
            ms(2),
            SERVER,
            2,
            addr(1, 80),
            Some(addr(0, 40000)),
            TcpState::Established,
        )
        .state(
            ms(3),
            CLIENT,
            3,
            addr(0, 40000),
            Some(addr(1, 80)),
            TcpState::Established,
        )
        .state(
            ms(5),
            SERVER,
            2,
            addr(1, 80),
            Some(addr(0, 40000)),
            TcpState::CloseWait,
        )
        .state(
            ms(6),
            SERVER,
            4,
            addr(1, 8080),
            Some(addr(0, 40001)),
            TcpState::Established,
        )
        .end(ms(10), EndReason::Idle);
    b
}

fn state(host: HostId, state: TcpState, at: Option<SimTime>, port: Option<u16>, n: u64) -> Claim {
    Claim::State {
        host,
        state,
        at,
        port,
        count: Quantity::Exactly(n),
    }
}

#[test]
fn a_state_claim_counts_each_sockets_latest_state_on_that_host_only() {
    let b = sockets();
    // Socket 2 left ESTABLISHED for CLOSE-WAIT; socket 4 is the only one left
    // on the server, and the client's socket is not the server's.
    check(
        &b.judge(state(SERVER, TcpState::Established, None, None, 1)),
        true,
        "1",
    );
    check(
        &b.judge(state(SERVER, TcpState::Established, None, None, 2)),
        false,
        "1",
    );
    check(
        &b.judge(state(SERVER, TcpState::Established, None, None, 0)),
        false,
        "1",
    );
    check(
        &b.judge(state(CLIENT, TcpState::Established, None, None, 1)),
        true,
        "1",
    );
    check(
        &b.judge(state(SERVER, TcpState::CloseWait, None, None, 1)),
        true,
        "1",
    );
    check(
        &b.judge(state(PROXY, TcpState::Established, None, None, 0)),
        true,
        "0",
    );
    check(
        &b.judge(state(PROXY, TcpState::Established, None, None, 1)),
        false,
        "0",
    );
}

#[test]
fn a_state_claim_at_an_instant_includes_that_instant_and_nothing_later() {
    let b = sockets();
    // Socket 2 became CLOSE-WAIT at exactly 5 ms.
    check(
        &b.judge(state(SERVER, TcpState::CloseWait, Some(ms(5)), None, 1)),
        true,
        "1",
    );
    check(
        &b.judge(state(
            SERVER,
            TcpState::CloseWait,
            Some(just_before(ms(5))),
            None,
            1,
        )),
        false,
        "0",
    );
    check(
        &b.judge(state(
            SERVER,
            TcpState::Established,
            Some(just_before(ms(5))),
            None,
            1,
        )),
        true,
        "1",
    );
    check(
        &b.judge(state(SERVER, TcpState::Established, Some(ms(5)), None, 0)),
        true,
        "0",
    );
    // Before any change, nothing is in any state.
    check(
        &b.judge(state(SERVER, TcpState::Listen, Some(ms(0)), None, 0)),
        true,
        "0",
    );
    check(
        &b.judge(state(SERVER, TcpState::Listen, Some(ms(1)), None, 1)),
        true,
        "1",
    );
}

#[test]
fn a_state_claim_on_a_port_matches_the_local_or_the_remote_port() {
    let b = sockets();
    // Local port 80: the listener and socket 2.
    check(
        &b.judge(state(SERVER, TcpState::Listen, None, Some(80), 1)),
        true,
        "1",
    );
    check(
        &b.judge(state(SERVER, TcpState::CloseWait, None, Some(80), 1)),
        true,
        "1",
    );
    // Remote port 40000: socket 2 again, seen from its peer's side.
    check(
        &b.judge(state(SERVER, TcpState::CloseWait, None, Some(40000), 1)),
        true,
        "1",
    );
    // Local 8080 and remote 40001 belong to socket 4 only.
    check(
        &b.judge(state(SERVER, TcpState::CloseWait, None, Some(8080), 1)),
        false,
        "0",
    );
    check(
        &b.judge(state(SERVER, TcpState::Established, None, Some(40001), 1)),
        true,
        "1",
    );
    check(
        &b.judge(state(SERVER, TcpState::Established, None, Some(80), 1)),
        false,
        "0",
    );
    // A listener has no remote port, so it never matches on one.
    check(
        &b.judge(state(SERVER, TcpState::Listen, None, Some(40000), 0)),
        true,
        "0",
    );
}

// ---------------------------------------------------------------- TIME-WAIT

fn time_wait(b: &mut Build, t: SimTime, host: HostId, socket: u64) {
    b.state(
        t,
        host,
        socket,
        addr(host.0 as u8, 1),
        Some(addr(9, 2)),
        TcpState::TimeWait,
    );
}

#[test]
fn time_wait_on_a_host_fails_when_nobody_or_somebody_else_holds_it() {
    let mut nobody = Build::new();
    nobody.state(ms(1), CLIENT, 1, addr(0, 1), None, TcpState::Closed);
    check(
        &nobody.judge(Claim::TimeWaitOn { host: CLIENT }),
        false,
        "nobody",
    );

    let mut client = Build::new();
    time_wait(&mut client, ms(1), CLIENT, 1);
    time_wait(&mut client, ms(2), CLIENT, 2);
    check(
        &client.judge(Claim::TimeWaitOn { host: CLIENT }),
        true,
        "client",
    );
    check(
        &client.judge(Claim::TimeWaitOn { host: SERVER }),
        false,
        "client",
    );

    // Both ends in TIME-WAIT (a simultaneous close): "only" fails for each,
    // and each holder is named once, in the order they entered it.
    let mut both = Build::new();
    time_wait(&mut both, ms(1), SERVER, 1);
    time_wait(&mut both, ms(2), CLIENT, 2);
    time_wait(&mut both, ms(3), SERVER, 3);
    check(
        &both.judge(Claim::TimeWaitOn { host: CLIENT }),
        false,
        "server, client",
    );
    check(
        &both.judge(Claim::TimeWaitOn { host: SERVER }),
        false,
        "server, client",
    );
}

// ---------------------------------------------------------------- bytes

fn recv(bytes: usize) -> SocketCall {
    SocketCall::Recv {
        bytes,
        preview: Preview::of(b"x"),
    }
}

fn reads() -> Build {
    let mut b = Build::new();
    b.call(ms(1), CLIENT, FETCH, recv(100))
        .call(
            ms(2),
            CLIENT,
            FETCH,
            SocketCall::RecvFrom {
                src: addr(1, 53),
                bytes: 20,
                preview: Preview::of(b"x"),
            },
        )
        .call(ms(3), SERVER, ECHO, recv(7))
        .call(ms(4), SERVER, METRICS, recv(5))
        .call(
            ms(4),
            CLIENT,
            FETCH,
            SocketCall::Send {
                requested: 1000,
                accepted: 1000,
                preview: Preview::of(b"x"),
            },
        )
        .call(ms(4), CLIENT, FETCH, SocketCall::RecvEof)
        .call(
            ms(4),
            CLIENT,
            FETCH,
            SocketCall::SendTo {
                dst: addr(1, 53),
                bytes: 300,
                preview: Preview::of(b"x"),
            },
        );
    b
}

fn bytes(host: Option<HostId>, app: Option<AppId>, at: Option<SimTime>, q: Quantity) -> Claim {
    Claim::BytesReceived {
        host,
        app,
        at,
        quantity: q,
    }
}

#[test]
fn bytes_received_sums_recv_and_recvfrom_and_nothing_sent() {
    let b = reads();
    check(
        &b.judge(bytes(None, None, None, Quantity::Exactly(132))),
        true,
        "132",
    );
    check(
        &b.judge(bytes(None, None, None, Quantity::AtLeast(132))),
        true,
        "132",
    );
    check(
        &b.judge(bytes(None, None, None, Quantity::AtLeast(133))),
        false,
        "132",
    );
    check(
        &b.judge(bytes(None, None, None, Quantity::AtMost(131))),
        false,
        "132",
    );
    check(
        &b.judge(bytes(None, None, None, Quantity::AtMost(132))),
        true,
        "132",
    );
    check(
        &b.judge(bytes(None, None, None, Quantity::Between(100, 132))),
        true,
        "132",
    );
    check(
        &b.judge(bytes(None, None, None, Quantity::Between(133, 200))),
        false,
        "132",
    );
}

#[test]
fn bytes_received_by_host_by_application_and_up_to_an_instant() {
    let b = reads();
    check(
        &b.judge(bytes(Some(SERVER), None, None, Quantity::Exactly(12))),
        true,
        "12",
    );
    check(
        &b.judge(bytes(Some(CLIENT), None, None, Quantity::Exactly(120))),
        true,
        "120",
    );
    check(
        &b.judge(bytes(None, Some(ECHO), None, Quantity::Exactly(7))),
        true,
        "7",
    );
    check(
        &b.judge(bytes(None, Some(METRICS), None, Quantity::Exactly(7))),
        false,
        "5",
    );
    // Both filters must hold: echo runs on the server, not the client.
    check(
        &b.judge(bytes(Some(CLIENT), Some(ECHO), None, Quantity::Exactly(0))),
        true,
        "0",
    );
    check(
        &b.judge(bytes(Some(SERVER), Some(ECHO), None, Quantity::Exactly(7))),
        true,
        "7",
    );
    // The read at 2 ms counts at 2 ms and not a nanosecond before.
    check(
        &b.judge(bytes(None, None, Some(ms(2)), Quantity::Exactly(120))),
        true,
        "120",
    );
    check(
        &b.judge(bytes(
            None,
            None,
            Some(just_before(ms(2))),
            Quantity::Exactly(120),
        )),
        false,
        "100",
    );
}

// ---------------------------------------------------------------- packets

/// A handshake between client port 40000 and server port 80, one lost
/// frame, and a segment to port 8080.
fn handshake() -> Build {
    let mut b = Build::new();
    b.tcp(ms(1), CLIENT, SERVER, (40000, 80), 100, 0, "S", 1000, 0);
    b.tcp(ms(2), SERVER, CLIENT, (80, 40000), 500, 101, "S.", 1000, 0);
    b.dropped(ms(2), SERVER, DropReason::Loss);
    b.tcp(ms(3), CLIENT, SERVER, (40000, 80), 101, 501, ".", 1000, 0);
    b.tcp(ms(4), CLIENT, SERVER, (40000, 80), 101, 501, "P.", 1000, 10);
    b.tcp(ms(5), CLIENT, PROXY, (40001, 8080), 7, 0, "S", 1000, 0);
    b
}

fn packets(filter: PacketFilter, at: Option<SimTime>, n: u64) -> Claim {
    Claim::Packets {
        filter,
        at,
        quantity: Quantity::Exactly(n),
    }
}

#[test]
fn packet_claims_count_packets_sent_that_match_the_filter() {
    let b = handshake();
    let any = PacketFilter::default();
    // Five packets sent; the dropped frame is not a packet sent.
    check(&b.judge(packets(any.clone(), None, 5)), true, "5");
    check(&b.judge(packets(any.clone(), None, 6)), false, "5");
    let from_client = PacketFilter {
        from: Some(CLIENT),
        ..Default::default()
    };
    check(&b.judge(packets(from_client, None, 4)), true, "4");
    // The receiver is passed along: only three went to the server.
    let to_server = PacketFilter {
        to: Some(SERVER),
        ..Default::default()
    };
    check(&b.judge(packets(to_server, None, 3)), true, "3");
    let syns = PacketFilter {
        flags: TcpFlags::parse("S"),
        ..Default::default()
    };
    check(&b.judge(packets(syns.clone(), None, 3)), true, "3");
    let data = PacketFilter {
        payload: Some(true),
        ..Default::default()
    };
    check(&b.judge(packets(data, None, 1)), true, "1");
    let port = PacketFilter {
        port: Some(8080),
        protocol: Some(Protocol::Tcp),
        ..Default::default()
    };
    check(&b.judge(packets(port, None, 1)), true, "1");
    // Up to 2 ms: the SYN and the SYN-ACK, and not a nanosecond earlier.
    check(&b.judge(packets(syns.clone(), Some(ms(2)), 2)), true, "2");
    check(
        &b.judge(packets(syns, Some(just_before(ms(2))), 2)),
        false,
        "1",
    );
}

// ---------------------------------------------------------------- drops

fn drops(reason: Option<DropReason>, from: Option<HostId>, n: u64) -> Claim {
    Claim::Drops {
        reason,
        from,
        quantity: Quantity::Exactly(n),
    }
}

#[test]
fn drop_claims_filter_by_reason_and_sender() {
    let mut b = handshake();
    b.dropped(ms(6), CLIENT, DropReason::Loss)
        .dropped(ms(7), CLIENT, DropReason::QueueFull);
    check(&b.judge(drops(None, None, 3)), true, "3");
    check(&b.judge(drops(None, None, 2)), false, "3");
    check(&b.judge(drops(Some(DropReason::Loss), None, 2)), true, "2");
    check(
        &b.judge(drops(Some(DropReason::QueueFull), None, 1)),
        true,
        "1",
    );
    check(&b.judge(drops(None, Some(CLIENT), 2)), true, "2");
    check(&b.judge(drops(None, Some(SERVER), 1)), true, "1");
    check(
        &b.judge(drops(Some(DropReason::Loss), Some(CLIENT), 1)),
        true,
        "1",
    );
    check(
        &b.judge(drops(Some(DropReason::Fault), None, 1)),
        false,
        "0",
    );
}

// ---------------------------------------------------------------- flows

/// A connection whose client sends two segments, retransmits the second
/// twice, meets a zero window and probes it once; the server acknowledges
/// with two duplicate ACKs, and retransmits its own data once.
fn troubled_connection() -> Build {
    let mut b = Build::new();
    let c = (40000, 80);
    let s = (80, 40000);
    b.tcp(ms(1), CLIENT, SERVER, c, 1000, 0, "S", 1000, 0);
    b.tcp(ms(2), SERVER, CLIENT, s, 5000, 1001, "S.", 1000, 0);
    b.tcp(ms(3), CLIENT, SERVER, c, 1001, 5001, ".", 1000, 0);
    b.tcp(ms(4), CLIENT, SERVER, c, 1001, 5001, "P.", 1000, 100);
    b.tcp(ms(4), CLIENT, SERVER, c, 1101, 5001, "P.", 1000, 100);
    b.tcp(ms(5), SERVER, CLIENT, s, 5001, 1101, ".", 1000, 0);
    b.tcp(ms(5), SERVER, CLIENT, s, 5001, 1101, ".", 1000, 0);
    b.tcp(ms(6), CLIENT, SERVER, c, 1101, 5001, "P.", 1000, 100);
    b.tcp(ms(7), CLIENT, SERVER, c, 1101, 5001, "P.", 1000, 100);
    b.tcp(ms(8), SERVER, CLIENT, s, 5001, 1201, ".", 0, 0);
    b.tcp(ms(9), CLIENT, SERVER, c, 1201, 5001, "P.", 1000, 1);
    b.tcp(ms(10), SERVER, CLIENT, s, 5001, 1201, ".", 0, 0);
    b.tcp(ms(11), SERVER, CLIENT, s, 5001, 1202, "P.", 1000, 50);
    b.tcp(ms(12), SERVER, CLIENT, s, 5001, 1202, "P.", 1000, 50);
    b
}

fn flow(metric: FlowMetric, sender: Option<HostId>, n: u64) -> Claim {
    Claim::Flow {
        metric,
        sender,
        quantity: Quantity::Exactly(n),
    }
}

#[test]
fn flow_claims_count_each_metric_for_the_named_sender_or_everyone() {
    let b = troubled_connection();
    use FlowMetric::*;
    check(&b.judge(flow(Retransmissions, None, 3)), true, "3");
    check(&b.judge(flow(Retransmissions, Some(CLIENT), 2)), true, "2");
    check(&b.judge(flow(Retransmissions, Some(SERVER), 1)), true, "1");
    check(&b.judge(flow(Retransmissions, Some(SERVER), 2)), false, "1");
    check(&b.judge(flow(Retransmissions, Some(PROXY), 0)), true, "0");
    // Duplicate ACKs count towards the data sender they acknowledge.
    check(&b.judge(flow(DuplicateAcks, Some(CLIENT), 2)), true, "2");
    check(&b.judge(flow(DuplicateAcks, Some(SERVER), 0)), true, "0");
    check(&b.judge(flow(DuplicateAcks, None, 1)), false, "2");
    check(&b.judge(flow(WindowProbes, Some(CLIENT), 1)), true, "1");
    check(&b.judge(flow(WindowProbes, None, 0)), false, "1");
    check(&b.judge(flow(ZeroWindows, Some(CLIENT), 1)), true, "1");
    check(&b.judge(flow(ZeroWindows, Some(SERVER), 1)), false, "0");
}

// ---------------------------------------------------------------- events

fn responses() -> Build {
    let mut b = Build::new();
    b.event(
        ms(1),
        SERVER,
        ECHO,
        AppEvent::new("http.request", "GET /").with("method", "GET"),
    )
    .event(
        ms(2),
        CLIENT,
        FETCH,
        AppEvent::new("http.response", "200 after 20ms")
            .with("status", 200u16)
            .with("latency", SimDuration::from_millis(20))
            .with("cached", false),
    )
    .event(
        ms(3),
        CLIENT,
        FETCH,
        AppEvent::new("http.response", "404 after 5ms")
            .with("status", 404u16)
            .with("latency", SimDuration::from_millis(5))
            .with("cached", true),
    )
    .event(
        ms(4),
        SERVER,
        METRICS,
        AppEvent::new("http.response", "200, no latency").with("status", 200u16),
    )
    .event(
        ms(4),
        CLIENT,
        FETCH,
        AppEvent::new("http.error", "reset").with("reason", "reset"),
    )
    .end(ms(4), EndReason::Idle);
    b
}

fn events(
    host: Option<HostId>,
    app: Option<AppId>,
    fields: &[(&str, FieldMatch)],
    at: Option<SimTime>,
    count: Quantity,
) -> Claim {
    Claim::Event {
        kind: "http.response".into(),
        host,
        app,
        fields: fields
            .iter()
            .map(|(k, m)| (k.to_string(), m.clone()))
            .collect(),
        at,
        count,
    }
}

fn field(text: &str) -> FieldMatch {
    FieldMatch::from_toml(&toml::Value::String(text.into())).expect("a condition")
}

#[test]
fn event_claims_match_kind_host_and_application() {
    let b = responses();
    let n = Quantity::Exactly;
    check(&b.judge(events(None, None, &[], None, n(3))), true, "3");
    check(&b.judge(events(None, None, &[], None, n(4))), false, "3");
    check(
        &b.judge(events(Some(CLIENT), None, &[], None, n(2))),
        true,
        "2",
    );
    check(
        &b.judge(events(Some(SERVER), None, &[], None, n(1))),
        true,
        "1",
    );
    check(
        &b.judge(events(None, Some(METRICS), &[], None, n(1))),
        true,
        "1",
    );
    check(
        &b.judge(events(Some(CLIENT), Some(METRICS), &[], None, n(0))),
        true,
        "0",
    );
    check(
        &b.judge(events(Some(SERVER), Some(METRICS), &[], None, n(1))),
        true,
        "1",
    );
    // A kind nobody emitted fails without a non-matching example.
    let other = Claim::Event {
        kind: "http.nope".into(),
        host: None,
        app: None,
        fields: vec![],
        at: None,
        count: Quantity::AtLeast(1),
    };
    check(&b.judge(other), false, "0");
}

#[test]
fn event_claims_up_to_an_instant_include_it() {
    let b = responses();
    let n = Quantity::Exactly;
    check(
        &b.judge(events(None, None, &[], Some(ms(3)), n(2))),
        true,
        "2",
    );
    check(
        &b.judge(events(None, None, &[], Some(just_before(ms(3))), n(1))),
        true,
        "1",
    );
    check(
        &b.judge(events(None, None, &[], Some(just_before(ms(2))), n(0))),
        true,
        "0",
    );
}

#[test]
fn event_field_conditions_all_hold_or_the_event_does_not_count() {
    let b = responses();
    let n = Quantity::Exactly;
    let status = |q| ("status", FieldMatch::Int(q));
    check(
        &b.judge(events(None, None, &[status(n(200))], None, n(2))),
        true,
        "2",
    );
    check(
        &b.judge(events(None, None, &[status(n(404))], None, n(1))),
        true,
        "1",
    );
    check(
        &b.judge(events(
            None,
            None,
            &[status(Quantity::AtLeast(300))],
            None,
            n(1),
        )),
        true,
        "1",
    );
    // Text compares with the printed form, whatever the field's type.
    let text = ("status", FieldMatch::Text("404".into()));
    check(&b.judge(events(None, None, &[text], None, n(1))), true, "1");
    let cached = ("cached", FieldMatch::Bool(true));
    check(
        &b.judge(events(None, None, &[cached], None, n(1))),
        true,
        "1",
    );
    // An event without the field does not match (the third has no latency).
    let fast = ("latency", field("< 20ms"));
    check(
        &b.judge(events(None, None, std::slice::from_ref(&fast), None, n(1))),
        true,
        "1",
    );
    // Two conditions: the 200 is not fast and the fast one is not a 200.
    // The report shows the last event of the kind that did not match.
    check(
        &b.judge(events(None, None, &[status(n(200)), fast], None, n(1))),
        false,
        "0; a non-matching one: 200, no latency",
    );
    // A passing claim shows the count alone, non-matching events or not.
    let ok = ("status", FieldMatch::Int(n(404)));
    check(&b.judge(events(None, None, &[ok], None, n(1))), true, "1");
    // Failing because too many matched: still the count, and the example.
    let ok = ("status", FieldMatch::Int(n(404)));
    check(
        &b.judge(events(None, None, &[ok], None, n(0))),
        false,
        "1; a non-matching one: 200, no latency",
    );
}

#[test]
fn duration_conditions_compare_at_the_boundary_each_way() {
    let b = responses();
    // Latencies are 20 ms and 5 ms.
    for (cond, matching) in [
        ("< 20ms", 1),
        ("<= 20ms", 2),
        ("> 5ms", 1),
        (">= 5ms", 2),
        ("= 20ms", 1),
        ("= 19ms", 0),
        ("< 5ms", 0),
        ("> 20ms", 0),
        ("<= 4.999ms", 0),
        (">= 20.001ms", 0),
    ] {
        let claim = events(
            None,
            None,
            &[("latency", field(cond))],
            None,
            Quantity::Exactly(matching),
        );
        let o = b.judge(claim);
        assert!(o.passed, "latency {cond}: {o}");
        assert_eq!(o.observed, matching.to_string(), "latency {cond}");
    }
}

mod verdicts;

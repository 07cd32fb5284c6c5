//! Replicas: what `replicas = N` and `client-*` declare, what they refuse
//! (each with the place and what would be valid), and what a run of
//! replicated clients is judged on.

use super::glob;
use crate::{AppRegistry, Scenario, parse};
use simnet_core::HostId;

const HEAD: &str = "name = \"r\"\ndescription = \"replicas\"\n";

fn load(body: &str) -> Result<Scenario, String> {
    parse(
        "r.toml",
        &format!("{HEAD}{body}"),
        &AppRegistry::with_builtin(),
    )
    .map_err(|e| e.to_string())
}

fn refused(body: &str) -> String {
    match load(body) {
        Ok(_) => panic!("accepted:\n{body}"),
        Err(e) => e,
    }
}

const CLIENTS: &str = r#"
[[host]]
name = "server"
address = "10.0.0.1"

[[host]]
name = "client-{i}"
address = "10.0.0.254"
replicas = 3

[[link]]
between = ["client-*", "server"]
latency = "5ms"

[[app]]
host = "server"
kind = "tcp-echo"
port = 80

[[app]]
host = "client-*"
kind = "tcp-client"
connect = "server:80"
send = "hello"
replicas = 2
"#;

#[test]
fn a_star_matches_any_run_of_characters() {
    assert!(glob("client-*", "client-1"));
    assert!(glob("client-*", "client-100000"));
    assert!(glob("client-*", "client-"));
    assert!(!glob("client-*", "server"));
    assert!(!glob("client-*", "client"));
    assert!(glob("*", "anything"));
    assert!(glob("*-edge-*", "eu-edge-3"));
    assert!(!glob("*-edge-*", "eu-core-3"));
    assert!(glob("ws#*", "ws#12"));
    assert!(glob("a*b*c", "aXXbYYc"));
    assert!(!glob("a*b*c", "aXXbYY"));
    assert!(!glob("exact", "exactly"));
}

#[test]
fn replicated_hosts_count_their_names_from_1_and_their_addresses_across_octets() {
    let s = load(CLIENTS).unwrap();
    let hosts: Vec<(String, String)> = s
        .hosts
        .iter()
        .map(|(n, a, _)| (n.clone(), a.to_string()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("server", "10.0.0.1"),
            ("client-1", "10.0.0.254"),
            ("client-2", "10.0.0.255"),
            ("client-3", "10.0.1.0"),
        ]
        .map(|(n, a)| (n.to_string(), a.to_string()))
    );
    // One link per replica, each to the server.
    let links: Vec<(HostId, HostId)> = s.links.iter().map(|(a, b, ..)| (*a, *b)).collect();
    assert_eq!(
        links,
        [
            (HostId(1), HostId(0)),
            (HostId(2), HostId(0)),
            (HostId(3), HostId(0))
        ]
    );
}

#[test]
fn replicated_apps_run_on_every_replica_named_apart() {
    let s = load(CLIENTS).unwrap();
    assert_eq!(
        s.app_names(),
        [
            "server",
            "client-1#1",
            "client-1#2",
            "client-2#1",
            "client-2#2",
            "client-3#1",
            "client-3#2",
        ]
    );
    let hosts: Vec<u32> = s.apps.iter().map(|a| a.host.0).collect();
    assert_eq!(hosts, [0, 1, 1, 2, 2, 3, 3]);
    // An explicit name is kept apart per host with `@`.
    let named = load(&CLIENTS.replace("replicas = 2", "replicas = 2\nname = \"ws\"")).unwrap();
    assert_eq!(named.app_names()[1..3], ["ws@client-1#1", "ws@client-1#2"]);
    // Replicas on one host of one name.
    let one = load(
        r#"
[[host]]
name = "server"
address = "10.0.0.1"
[[host]]
name = "client"
address = "10.0.0.2"
[[link]]
between = ["client", "server"]
[[app]]
host = "server"
kind = "tcp-echo"
port = 7
[[app]]
host = "client"
kind = "tcp-client"
connect = "server:7"
replicas = 3
"#,
    )
    .unwrap();
    assert_eq!(
        one.app_names(),
        ["server", "client#1", "client#2", "client#3"]
    );
}

#[test]
fn replicated_clients_are_judged_together() {
    let body = format!(
        "{CLIENTS}{}",
        r#"
[[expect]]
host = "client-*"
state = "TIME-WAIT"
count = 6
at = "30ms"

[[expect]]
host = "client-*"
bytes_received = 30

[[expect]]
app = "client-2*"
bytes_received = 10

[[expect]]
app = "client-*"
event = "tcp.connect-failed"
count = 0

[[expect]]
from = "client-*"
to = "server"
flags = "S"
packets = 6

[[expect]]
time_wait_on = "client-*"

[[expect]]
host = "client-*"
retransmissions = 0
"#
    );
    let s = load(&body).unwrap();
    let mut world = s.world(None, None);
    world.run();
    let trace = world.take_trace();
    let outcomes = crate::evaluate(&s.expectations, &trace, &s.app_names());
    let shown: Vec<String> = outcomes.iter().map(|o| o.to_string()).collect();
    assert_eq!(
        shown,
        [
            "expect client-*: sockets in TIME-WAIT at 30ms = 6 ... ok (observed 6)",
            "expect client-*: bytes received = 30 ... ok (observed 30)",
            "expect client-2*: bytes received = 10 ... ok (observed 10)",
            "expect events tcp.connect-failed from client-* = 0 ... ok (observed 0)",
            "expect packets with S from client-* to server = 6 ... ok (observed 6)",
            "expect TIME-WAIT held by client-* only ... ok (observed 3 of the 3 hosts client-*)",
            "expect retransmissions sent by client-* = 0 ... ok (observed 0)",
        ],
    );
}

#[test]
fn a_timeline_command_to_a_replicated_app_goes_to_every_replica() {
    let s = load(&format!(
        "{CLIENTS}{}",
        "[[timeline]]\nat = \"1s\"\napp = \"client-*\"\ncommand = \"close\"\n"
    ));
    assert_eq!(s.unwrap().actions.len(), 6);
}

#[test]
fn bad_replicas_are_refused_with_what_would_be_valid() {
    let host = |extra: &str| {
        format!("[[host]]\nname = \"client-{{i}}\"\naddress = \"10.0.0.1\"\n{extra}\n")
    };
    let e = refused(&host("replicas = 0"));
    assert!(
        e.contains("`replicas` must be a whole number between 1 and 1000000, not 0"),
        "{e}"
    );
    assert!(e.contains("r.toml:6:12"), "{e}");
    let e = refused(&host("replicas = 1000001"));
    assert!(e.contains("between 1 and 1000000, not 1000001"), "{e}");
    let e = refused(&host(""));
    assert!(e.contains("`{i}` in a host name numbers replicas"), "{e}");
    assert!(e.contains("r.toml:4:8"), "{e}");
    let e = refused("[[host]]\nname = \"client\"\naddress = \"10.0.0.1\"\nreplicas = 5\n");
    assert!(e.contains("5 replicas cannot all be named `client`"), "{e}");
    assert!(e.contains("name = \"client-{i}\""), "{e}");
    let e =
        refused("[[host]]\nname = \"client-{i}\"\naddress = \"255.255.255.250\"\nreplicas = 10\n");
    assert!(e.contains("would run past 255.255.255.255"), "{e}");
    assert!(e.contains("r.toml:5:11"), "{e}");
    let e =
        refused("[[host]]\nname = \"client-{i}\"\naddress = \"223.255.255.250\"\nreplicas = 10\n");
    assert!(e.contains("multicast"), "{e}");
}

#[test]
fn overlapping_replicas_are_refused_once() {
    let e = refused(
        r#"
[[host]]
name = "server"
address = "10.0.0.50"
[[host]]
name = "client-{i}"
address = "10.0.0.1"
replicas = 100
[[host]]
name = "client-{i}"
address = "10.1.0.1"
replicas = 100
"#,
    );
    assert!(
        e.contains("the replicas' addresses 10.0.0.1 .. 10.0.0.100 include 10.0.0.50, already used by host `server`"),
        "{e}"
    );
    assert_eq!(
        e.matches("two hosts are named `client-1`").count(),
        1,
        "{e}"
    );
    assert_eq!(e.matches("error:").count(), 2, "{e}");
}

#[test]
fn patterns_that_name_nothing_or_too_much_are_refused() {
    let e = refused(&CLIENTS.replace(
        "between = [\"client-*\", \"server\"]",
        "between = [\"cleint-*\", \"server\"]",
    ));
    assert!(e.contains("no host matches `cleint-*`"), "{e}");
    assert!(
        e.contains("hosts in this scenario: server, client-*"),
        "{e}"
    );
    let e = refused(&CLIENTS.replace(
        "between = [\"client-*\", \"server\"]",
        "between = [\"client-*\", \"*\"]",
    ));
    assert!(
        e.contains("both `client-*` and `*` name several hosts"),
        "{e}"
    );
    // A listener replicated on one host would take one port many times.
    let e = refused(&CLIENTS.replace("port = 80", "port = 80\nreplicas = 2"));
    assert!(
        e.contains("2 replicas of `tcp-echo` would all listen on TCP port 80 on host `server`"),
        "{e}"
    );
    let e = refused(&format!(
        "{CLIENTS}[[expect]]\napp = \"nope-*\"\nbytes_received = 1\n"
    ));
    assert!(e.contains("no application matches `nope-*`"), "{e}");
}

/// A hundred thousand replicas load with every name and address checked.
/// Linear work: well under a second in release; a quadratic check would take
/// minutes (which CI's time would show). The cost itself is measured by
/// `benches/load.rs`, not here.
#[test]
fn a_hundred_thousand_replicas_compile() {
    let body = r#"
[[host]]
name = "server"
address = "10.0.0.1"
[[host]]
name = "client-{i}"
address = "10.1.0.1"
replicas = 100000
[[link]]
between = ["client-*", "server"]
[[app]]
host = "server"
kind = "tcp-echo"
port = 7
[[app]]
host = "client-*"
kind = "tcp-client"
connect = "server:7"
[[expect]]
host = "client-*"
state = "TIME-WAIT"
count = 100000
"#;
    let s = load(body).unwrap();
    assert_eq!(s.hosts.len(), 100_001);
    assert_eq!(s.links.len(), 100_000);
    assert_eq!(s.apps.len(), 100_001);
    assert_eq!(s.hosts[100_000].1.to_string(), "10.2.134.160");
}

#[test]
fn start_spread_ramps_replicas_across_hosts_in_order() {
    let s = load(&CLIENTS.replace(
        "replicas = 2",
        "replicas = 2\nstart = \"1s\"\nstart_spread = \"3s\"",
    ))
    .unwrap();
    let starts: Vec<u64> = s
        .apps
        .iter()
        .map(|a| a.start.as_nanos() / 1_000_000)
        .collect();
    // Six replicas over 3 s from 1 s: one every 500 ms, host by host.
    assert_eq!(starts, [0, 1000, 1500, 2000, 2500, 3000, 3500]);
    // Without a spread they all start at `start`.
    let s = load(&CLIENTS.replace("replicas = 2", "replicas = 2\nstart = \"1s\"")).unwrap();
    let starts: Vec<u64> = s
        .apps
        .iter()
        .map(|a| a.start.as_nanos() / 1_000_000)
        .collect();
    assert_eq!(starts, [0, 1000, 1000, 1000, 1000, 1000, 1000]);
}

#[test]
fn max_events_is_a_positive_count() {
    let s = load(&format!("max_events = 25_000_000\n{CLIENTS}")).unwrap();
    assert_eq!(s.max_events, 25_000_000);
    assert_eq!(load(CLIENTS).unwrap().max_events, 10_000_000);
    for bad in ["0", "-5", "2_000_000_000_000"] {
        let e = refused(&format!("max_events = {bad}\n{CLIENTS}"));
        assert!(e.contains("it must be between 1 and 1000000000000"), "{e}");
        assert!(e.contains("r.toml:3:14"), "{e}");
    }
}

#[test]
fn crash_restart_and_partition_take_patterns() {
    use simnet_core::Action;
    let s = load(&format!(
        "{CLIENTS}{}",
        r#"
[[timeline]]
at = "1s"
crash = "client-*"

[[timeline]]
at = "2s"
restart = "client-*"

[[timeline]]
at = "3s"
partition = [["client-*"], ["server"]]
"#
    ))
    .unwrap();
    let hosts = |a: &Action| match a {
        Action::Crash(h) | Action::Restart(h) => vec![h.0],
        Action::Partition(a, b) => a.iter().chain(b).map(|h| h.0).collect(),
        _ => vec![],
    };
    let got: Vec<(u64, Vec<u32>)> = s
        .actions
        .iter()
        .map(|(t, a)| (t.as_nanos() / 1_000_000_000, hosts(a)))
        .collect();
    assert_eq!(
        got,
        [
            (1, vec![1]),
            (1, vec![2]),
            (1, vec![3]),
            (2, vec![1]),
            (2, vec![2]),
            (2, vec![3]),
            (3, vec![1, 2, 3, 0]),
        ]
    );
    // A pattern is checked like a name: crashing replicas twice is
    // refused once per host, and a pattern in both groups once.
    let e = refused(&format!(
        "{CLIENTS}{}",
        "[[timeline]]\nat = \"1s\"\ncrash = \"client-*\"\n[[timeline]]\nat = \"2s\"\ncrash = \"client-2\"\n"
    ));
    assert!(e.contains("host `client-2` is already down at 2s"), "{e}");
    let e = refused(&format!(
        "{CLIENTS}{}",
        "[[timeline]]\nat = \"1s\"\npartition = [[\"client-*\"], [\"client-*\", \"server\"]]\n"
    ));
    assert_eq!(e.matches("is in both groups").count(), 1, "{e}");
    let e = refused(&format!(
        "{CLIENTS}{}",
        "[[timeline]]\nat = \"1s\"\ncrash = \"nope-*\"\n"
    ));
    assert!(e.contains("no host matches `nope-*`"), "{e}");
}

#[test]
fn link_actions_take_a_pattern_on_one_side() {
    use simnet_core::Action;
    use simnet_core::link::Direction;
    let s = load(&format!(
        "{CLIENTS}{}",
        r#"
[[timeline]]
at = "1s"
link_down = ["client-*", "server"]

[[timeline]]
at = "2s"
link_up = ["server", "client-*"]

[[timeline]]
at = "3s"
set_link = { between = ["client-*", "server"], from = "server", loss = "10%" }
"#
    ))
    .unwrap();
    let got: Vec<String> = s
        .actions
        .iter()
        .map(|(t, a)| {
            let at = t.as_nanos() / 1_000_000_000;
            match a {
                Action::LinkDown(l) => format!("{at} down {}", l.0),
                Action::LinkUp(l) => format!("{at} up {}", l.0),
                Action::PatchLink {
                    link, direction, ..
                } => {
                    // Each link was declared client first: from the
                    // server is B to A.
                    assert_eq!(*direction, Some(Direction::BtoA));
                    format!("{at} set {}", link.0)
                }
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(
        got,
        [
            "1 down 0", "1 down 1", "1 down 2", "2 up 0", "2 up 1", "2 up 2", "3 set 0", "3 set 1",
            "3 set 2"
        ]
    );
    let e = refused(&format!(
        "{CLIENTS}{}",
        "[[timeline]]\nat = \"1s\"\nlink_down = [\"client-*\", \"client-*\"]\n"
    ));
    assert!(
        e.contains("a pattern may stand on one side of `between` only"),
        "{e}"
    );
}

//! Routers, routes, NAT and queue disciplines: what the loader gives the
//! world, and what it refuses (each with the place and what would be
//! valid).

use crate::{AppRegistry, Scenario, parse, parse_with};
use simnet_core::qdisc::{CodelParams, FqCodelParams, Qdisc};
use simnet_core::{HostId, Ipv4Net, NatExpiredAction, SimDuration};

const HEAD: &str = "name = \"t\"\ndescription = \"topology\"\n";

fn load(body: &str) -> Result<Scenario, String> {
    parse(
        "t.toml",
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

fn net(text: &str) -> Ipv4Net {
    text.parse().unwrap()
}

/// client - r1 - r2 - r3 - server, r1 a NAT towards r2.
const THREE_ROUTERS: &str = r#"
[[host]]
name = "client"
address = "10.1.0.2"
gateway = "r1"

[[host]]
name = "server"
address = "10.3.0.2"
gateway = "r3"

[[router]]
name = "r1"
address = "10.1.0.1"
routes = [ { to = "default", via = "r2" } ]
nat = { outside = "r2", idle_timeout = "30s", expired = "reset", first_port = 2000 }

[[router]]
name = "r2"
address = "10.2.0.1"
routes = [ { to = "10.1.0.0/16", via = "r1" }, { to = "10.3.0.0/16", via = "r3" } ]

[[router]]
name = "r3"
address = "10.3.0.1"
routes = [ { to = "default", via = "r2" } ]

[[link]]
between = ["client", "r1"]
latency = "1ms"

[[link]]
between = ["r1", "r2"]
latency = "5ms"
bandwidth = "10Mbps"
queue = "200KiB"
qdisc = "codel"

[[link]]
between = ["r2", "r3"]
latency = "5ms"
bandwidth = "10Mbps"
qdisc = { kind = "fq_codel", target = "10ms", flows = 64 }
b_to_a = { qdisc = "drop-tail" }

[[link]]
between = ["r3", "server"]
latency = "1ms"

[[app]]
host = "server"
kind = "tcp-echo"
port = 80

[[app]]
host = "client"
kind = "tcp-client"
connect = "server:80"
send = "hi"

[[expect]]
drops = 0
reason = "ttl-exceeded"
"#;

#[test]
fn three_routers_compile_to_routes_a_nat_and_queues() {
    let s = load(THREE_ROUTERS).unwrap();
    let (client, server, r1, r2, r3) = (0, 1, 2, 3, 4);
    let h = HostId;
    assert_eq!(s.routers, [h(r1), h(r2), h(r3)]);
    assert_eq!(
        s.routes,
        [
            (h(client), Ipv4Net::DEFAULT, h(r1)),
            (h(server), Ipv4Net::DEFAULT, h(r3)),
            (h(r1), Ipv4Net::DEFAULT, h(r2)),
            (h(r2), net("10.1.0.0/16"), h(r1)),
            (h(r2), net("10.3.0.0/16"), h(r3)),
            (h(r3), Ipv4Net::DEFAULT, h(r2)),
        ]
    );
    assert_eq!(s.nats.len(), 1);
    let (router, nat) = &s.nats[0];
    assert_eq!(*router, h(r1));
    assert_eq!(nat.outside, h(r2));
    assert_eq!(nat.idle_timeout, SimDuration::from_secs(30));
    assert_eq!(nat.on_expired, NatExpiredAction::Reset);
    assert_eq!(nat.first_port, 2000);
    // r1 - r2: CoDel with its defaults both ways, and the queue size.
    let (_, _, ab, ba) = &s.links[1];
    assert_eq!(ab.qdisc, Qdisc::Codel(CodelParams::default()));
    assert_eq!(ba.qdisc, ab.qdisc);
    assert_eq!(ab.queue_bytes_max, 200 * 1024);
    // r2 - r3: fq_codel with two parameters changed, drop-tail back.
    let (_, _, ab, ba) = &s.links[2];
    assert_eq!(
        ab.qdisc,
        Qdisc::FqCodel(FqCodelParams {
            codel: CodelParams {
                target: SimDuration::from_millis(10),
                interval: SimDuration::from_millis(100),
            },
            flows: 64,
            quantum: 1514,
        })
    );
    assert_eq!(ba.qdisc, Qdisc::DropTail);
    assert_eq!(s.links[0].2.qdisc, Qdisc::DropTail);
    // Every host's routes name a router: no warning.
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    // The world builds, with the routers flagged in its topology.
    let world = s.world(None, None);
    let flags: Vec<(&str, bool)> = world
        .trace()
        .topology
        .hosts
        .iter()
        .map(|h| (h.name.as_str(), h.router))
        .collect();
    assert_eq!(
        flags,
        [
            ("client", false),
            ("server", false),
            ("r1", true),
            ("r2", true),
            ("r3", true)
        ]
    );
}

#[test]
fn defaults_of_a_nat() {
    let s = load(
        r#"
[[host]]
name = "isp"
address = "192.0.2.1"

[[router]]
name = "home"
address = "192.0.2.2"
nat = { outside = "isp", idle_timeout = "2m" }

[[link]]
between = ["home", "isp"]
"#,
    )
    .unwrap();
    let (_, nat) = &s.nats[0];
    assert_eq!(nat.on_expired, NatExpiredAction::Drop);
    assert_eq!(nat.first_port, 1024);
    assert_eq!(nat.idle_timeout, SimDuration::from_secs(120));
}

#[test]
fn routers_run_apps_take_faults_crash_and_are_judged() {
    let s = load(
        r#"
[[host]]
name = "client"
address = "10.0.0.1"

[[router]]
name = "r"
address = "10.0.0.254"

[[link]]
between = ["client", "r"]

[[app]]
host = "r"
kind = "tcp-echo"
port = 7

[[fault]]
action = "drop"
from = "r"
to = "client"

[[timeline]]
at = "1s"
crash = "r"

[[timeline]]
at = "2s"
restart = "r"

[[timeline]]
at = "3s"
set_link = { between = ["r", "client"], from = "r", loss = "1%" }

[[timeline]]
at = "4s"
partition = [["r"], ["client"]]

[[expect]]
host = "r"
state = "LISTEN"
"#,
    )
    .unwrap();
    assert_eq!(s.routers, [HostId(1)]);
    assert_eq!(s.apps[0].host, HostId(1));
}

#[test]
fn replicated_routers_and_hosts_get_their_entrys_routes() {
    let s = load(
        r#"
[[router]]
name = "core"
address = "10.0.0.1"
routes = [ { to = "10.8.0.0/16", via = "edge-2" } ]

[[router]]
name = "edge-{i}"
address = "10.0.1.1"
replicas = 2
routes = [ { to = "default", via = "core" } ]

[[host]]
name = "client-{i}"
address = "10.8.0.1"
replicas = 3
gateway = "edge-2"

[[link]]
between = ["edge-*", "core"]

[[link]]
between = ["client-*", "edge-2"]
"#,
    )
    .unwrap();
    // Hosts come first: client-1..3 are 0..2, core 3, edge-1 and edge-2 4 and 5.
    let h = HostId;
    assert_eq!(s.routers, [h(3), h(4), h(5)]);
    assert_eq!(
        s.routes,
        [
            (h(0), Ipv4Net::DEFAULT, h(5)),
            (h(1), Ipv4Net::DEFAULT, h(5)),
            (h(2), Ipv4Net::DEFAULT, h(5)),
            (h(3), net("10.8.0.0/16"), h(5)),
            (h(4), Ipv4Net::DEFAULT, h(3)),
            (h(5), Ipv4Net::DEFAULT, h(3)),
        ]
    );
    let world = s.world(None, None);
    assert_eq!(world.trace().topology.hosts[4].name, "edge-1");
    assert!(world.trace().topology.hosts[4].router);
}

#[test]
fn a_route_via_a_plain_host_is_a_warning() {
    let s = load(
        r#"
[[host]]
name = "a"
address = "10.0.0.1"
gateway = "b"

[[host]]
name = "b"
address = "10.0.0.2"

[[link]]
between = ["a", "b"]
"#,
    )
    .unwrap();
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].contains("`b` is a host, not a router"),
        "{}",
        s.warnings[0]
    );
    assert!(s.warnings[0].contains("t.toml:7:11"), "{}", s.warnings[0]);
}

const PAIR: &str = r#"
[[host]]
name = "client"
address = "10.0.0.1"

[[router]]
name = "r1"
address = "10.0.0.254"

[[router]]
name = "r2"
address = "10.0.1.254"

[[link]]
between = ["client", "r1"]
"#;

#[test]
fn names_and_addresses_are_unique_across_hosts_and_routers() {
    let e = refused(
        r#"
[[host]]
name = "r1"
address = "10.0.0.1"

[[router]]
name = "r1"
address = "10.0.0.1"
"#,
    );
    assert!(e.contains("a host and a router are both named `r1`"), "{e}");
    assert!(
        e.contains("address 10.0.0.1 is already used by host `r1`"),
        "{e}"
    );
    let e = refused(
        r#"
[[router]]
name = "r"
address = "10.0.0.1"

[[router]]
name = "r"
address = "10.0.0.1"
"#,
    );
    assert!(e.contains("two routers are named `r`"), "{e}");
    assert!(e.contains("already used by router `r`"), "{e}");
    // A router has no host options.
    let e = refused("[[router]]\nname = \"r\"\naddress = \"10.0.0.1\"\nmtu = 1400\n");
    assert!(e.contains("unknown field `mtu`"), "{e}");
}

#[test]
fn routes_are_checked_where_they_are_written() {
    let with = |extra: &str| refused(&format!("{PAIR}{extra}"));
    let e = with("[[host]]\nname = \"h\"\naddress = \"10.0.9.1\"\ngateway = \"r9\"\n");
    assert!(e.contains("`gateway` names no host or router: `r9`"), "{e}");
    assert!(e.contains("did you mean `r1`?"), "{e}");
    assert!(e.contains("hosts and routers in this scenario"), "{e}");
    let e = with("[[host]]\nname = \"h\"\naddress = \"10.0.9.1\"\ngateway = \"r2\"\n");
    assert!(
        e.contains("`h` cannot route via `r2`: no link joins them"),
        "{e}"
    );
    assert!(e.contains("`h` has no links yet"), "{e}");
    let e = refused(&PAIR.replace(
        "address = \"10.0.0.1\"\n",
        "address = \"10.0.0.1\"\nroutes = [{ to = \"10.9.0.0/16\", via = \"r2\" }]\n",
    ));
    assert!(
        e.contains("`client` cannot route via `r2`: no link joins them"),
        "{e}"
    );
    assert!(e.contains("`client`'s neighbours: r1"), "{e}");
    assert!(e.contains("t.toml:7:39"), "{e}");
    let e = with(
        "[[router]]\nname = \"r3\"\naddress = \"10.3.0.1\"\nroutes = [{ to = \"10.1.0.1/16\", via = \"r1\" }]\n",
    );
    assert!(
        e.contains("`10.1.0.1/16` has host bits set: its network is 10.1.0.0/16"),
        "{e}"
    );
    let e = with(
        "[[router]]\nname = \"r3\"\naddress = \"10.3.0.1\"\nroutes = [{ to = \"10.1/16\", via = \"r1\" }]\n",
    );
    assert!(e.contains("`10.1/16` is not an IPv4 prefix"), "{e}");
    let e = with(
        "[[router]]\nname = \"r3\"\naddress = \"10.3.0.1\"\nroutes = [{ to = \"default\", via = \"r3\" }]\n",
    );
    assert!(e.contains("`r3` cannot route via itself"), "{e}");
    let e = refused(&PAIR.replace(
        "address = \"10.0.0.1\"\n",
        "address = \"10.0.0.1\"\ngateway = \"r1\"\nroutes = [{ to = \"0.0.0.0/0\", via = \"r1\" }]\n",
    ));
    assert!(
        e.contains("both `gateway` and this route give the default route"),
        "{e}"
    );
    let e = with(
        "[[router]]\nname = \"r3\"\naddress = \"10.3.0.1\"\nroutes = [{ to = \"10.1.0.0/16\", via = \"r1\" }, { to = \"10.1.0.0/16\", via = \"r2\" }]\n",
    );
    assert!(e.contains("two routes to 10.1.0.0/16"), "{e}");
    let e = with(
        "[[router]]\nname = \"r3\"\naddress = \"10.3.0.1\"\nroutes = [{ to = \"10.1.0.0/16\", gw = \"r1\" }]\n",
    );
    assert!(e.contains("unknown field `gw`"), "{e}");
}

#[test]
fn nats_are_checked() {
    let nat = |n: &str| {
        refused(&format!(
            "{PAIR}[[router]]\nname = \"n\"\naddress = \"10.5.0.1\"\nnat = {n}\n[[link]]\nbetween = [\"n\", \"r1\"]\n"
        ))
    };
    let e = nat("{ outside = \"r2\", idle_timeout = \"60s\" }");
    assert!(
        e.contains("`n`'s NAT faces `r2`, but no link joins them"),
        "{e}"
    );
    let e = nat("{ outside = \"nowhere\", idle_timeout = \"60s\" }");
    assert!(
        e.contains("`outside` names no host or router: `nowhere`"),
        "{e}"
    );
    let e = nat("{ outside = \"r1\", idle_timeout = \"0s\" }");
    assert!(e.contains("`idle_timeout` must be longer than 0s"), "{e}");
    let e = nat("{ outside = \"r1\", idle_timeout = \"-5s\" }");
    assert!(e.contains("-5s"), "{e}");
    let e = nat("{ outside = \"r1\", idle_timeout = \"60s\", expired = \"rst\" }");
    assert!(e.contains("unknown `expired` action `rst`"), "{e}");
    let e = nat("{ outside = \"r1\", idle_timeout = \"60s\", first_port = 0 }");
    assert!(
        e.contains("`first_port` must be a whole number between 1 and 65535, not 0"),
        "{e}"
    );
    let e = nat("{ outside = \"r1\" }");
    assert!(e.contains("missing field `idle_timeout`"), "{e}");
}

fn link(extra: &str) -> Result<Scenario, String> {
    load(&format!(
        "{PAIR}[[link]]\nbetween = [\"r1\", \"r2\"]\nbandwidth = \"1Mbps\"\n{extra}\n"
    ))
}

#[test]
fn qdiscs_are_checked() {
    let e = |extra: &str| {
        link(extra)
            .err()
            .unwrap_or_else(|| panic!("accepted {extra}"))
    };
    let text = e("qdisc = \"red\"");
    assert!(text.contains("unknown queue discipline `red`"), "{text}");
    assert!(
        text.contains("one of: drop-tail (the default), codel, fq_codel"),
        "{text}"
    );
    let text = e("qdisc = \"fq-codel\"");
    assert!(text.contains("did you mean `fq_codel`?"), "{text}");
    let text = e("qdisc = { kind = \"codel\", target = \"0s\" }");
    assert!(
        text.contains("CoDel's `target` must be longer than 0s"),
        "{text}"
    );
    let text = e("qdisc = { kind = \"codel\", interval = \"0ms\" }");
    assert!(
        text.contains("CoDel's `interval` must be longer than 0s"),
        "{text}"
    );
    let text = e("qdisc = { kind = \"fq_codel\", flows = 0 }");
    assert!(
        text.contains("`flows` must be a whole number between 1 and 65536, not 0"),
        "{text}"
    );
    let text = e("qdisc = { kind = \"fq_codel\", flows = 65537 }");
    assert!(text.contains("not 65537"), "{text}");
    let text = e("qdisc = { kind = \"fq_codel\", quantum = 63 }");
    assert!(
        text.contains("`quantum` must be a whole number between 64 and"),
        "{text}"
    );
    let text = e("qdisc = { kind = \"codel\", flows = 8 }");
    assert!(
        text.contains("`flows` is not a parameter of codel"),
        "{text}"
    );
    let text = e("qdisc = { kind = \"drop-tail\", target = \"5ms\" }");
    assert!(text.contains("drop-tail takes no parameters"), "{text}");
    let text = e("qdisc = { kind = \"codel\", tagret = \"5ms\" }");
    assert!(text.contains("unknown field `tagret`"), "{text}");
    let text = e("qdisc = 5");
    assert!(text.contains("a queue discipline"), "{text}");
    let text = e(
        "[[timeline]]\nat = \"1s\"\nset_link = { between = [\"r1\", \"r2\"], qdisc = \"codel\" }",
    );
    assert!(
        text.contains("`qdisc` cannot change during a run"),
        "{text}"
    );
    // Every form that is right.
    for ok in [
        "qdisc = \"drop-tail\"",
        "qdisc = \"codel\"",
        "qdisc = \"fq_codel\"",
        "qdisc = { kind = \"fq_codel\", target = \"5ms\", interval = \"100ms\", flows = 1024, quantum = 1514 }",
        "a_to_b = { qdisc = \"codel\" }",
    ] {
        link(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn an_active_queue_needs_a_bandwidth() {
    let e = refused(&format!(
        "{PAIR}[[link]]\nbetween = [\"r1\", \"r2\"]\nqdisc = \"codel\"\n"
    ));
    assert!(
        e.contains("an active queue needs a bandwidth: without one frames never wait"),
        "{e}"
    );
    // Reported once for the two directions.
    assert_eq!(e.matches("an active queue").count(), 1, "{e}");
    // A bandwidth in one direction only: the other is refused, at its qdisc.
    let e = refused(&format!(
        "{PAIR}[[link]]\nbetween = [\"r1\", \"r2\"]\na_to_b = {{ bandwidth = \"1Mbps\" }}\nb_to_a = {{ qdisc = \"codel\" }}\n"
    ));
    assert!(e.contains("t.toml:21:20"), "{e}");
    // Set for one direction, with a bandwidth there: fine.
    load(&format!(
        "{PAIR}[[link]]\nbetween = [\"r1\", \"r2\"]\na_to_b = {{ bandwidth = \"1Mbps\", qdisc = \"codel\" }}\n"
    ))
    .unwrap();
}

#[test]
fn new_drop_reasons_are_accepted() {
    for reason in ["ttl-exceeded", "aqm", "nat-no-mapping"] {
        load(&format!(
            "{PAIR}[[expect]]\ndrops = 0\nreason = \"{reason}\"\n"
        ))
        .unwrap_or_else(|e| panic!("{reason}: {e}"));
    }
    let e = refused(&format!("{PAIR}[[expect]]\ndrops = 0\nreason = \"ttl\"\n"));
    assert!(e.contains("ttl-exceeded, aqm, nat-no-mapping"), "{e}");
}

#[test]
fn set_changes_a_links_qdisc() {
    let text = format!("{HEAD}{PAIR}[[link]]\nbetween = [\"r1\", \"r2\"]\nbandwidth = \"1Mbps\"\n");
    let settings = [crate::overrides::parse_setting("link[r1-r2].qdisc=fq_codel").unwrap()];
    let s = parse_with("t.toml", &text, &settings, &AppRegistry::with_builtin())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.links[1].2.qdisc, Qdisc::FqCodel(FqCodelParams::default()));
    // On the link without a bandwidth it is refused, like in the file.
    let settings = [crate::overrides::parse_setting("link[1].qdisc=codel").unwrap()];
    let e = parse_with("t.toml", &text, &settings, &AppRegistry::with_builtin())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("an active queue needs a bandwidth"), "{e}");
}

/// The book's example of routers, routes and NAT loads as written, without
/// a warning, and so does its `qdisc` table.
#[test]
fn the_books_examples_load() {
    let page = include_str!("../../../../../book/src/reference/scenario-format.md");
    let section = &page[page
        .find("## Routers, routes and NAT")
        .expect("the section")..];
    let start = section.find("```toml\n").expect("an example") + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").expect("its end")];
    let s = load(example).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.nats.len(), 1);
    let line = page
        .lines()
        .find(|l| l.starts_with("qdisc = { kind = \"fq_codel\""))
        .expect("the qdisc example");
    let s = link(line).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.links[1].2.qdisc, Qdisc::FqCodel(FqCodelParams::default()));
}

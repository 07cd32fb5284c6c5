//! Reduces a capture to the qualitative facts the harness compares.
//!
//! Both sides go through the same path: `tshark -T fields` output (the
//! columns of [`TSHARK_FIELDS`]) becomes a list of [`Segment`]s between the
//! case's client and server addresses, and each fact is a plain function
//! of those segments (and, for TIME-WAIT, of who was seen holding it). The
//! facts are deliberately coarse — which segments carry SYN, FIN, RST or
//! data, in which direction, how many SYNs and how far apart — so that a
//! Linux run gives the same text every time; pure ACKs, retransmitted
//! copies and the way data is cut into segments are left out ("modulo ACK
//! merging"). Nothing here runs a program: `main.rs` does that.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The fields asked of tshark, in this order (`-e` each).
pub const TSHARK_FIELDS: [&str; 12] = [
    "frame.time_relative",
    "ip.src",
    "tcp.srcport",
    "ip.dst",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.len",
    "tcp.seq",
    "tcp.ack",
];

/// The facts a case may declare, in the order the table shows them.
pub const FACTS: [&str; 8] = [
    "sequence",
    "time_wait",
    "rst",
    "half_close",
    "syn",
    "handshakes",
    "probes",
    "nagle",
];

/// One TCP segment between the case's client and server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Capture time, microseconds from the first packet.
    pub t_us: u64,
    /// Sent by the client (else by the server).
    pub from_client: bool,
    /// The client's port: which connection the segment belongs to.
    pub client_port: u16,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// Payload bytes.
    pub len: u32,
    /// Relative sequence number (tshark's).
    pub seq: u64,
    /// Relative acknowledgement number (0 without ACK).
    pub ack_no: u64,
}

fn flag(s: &str) -> Result<bool, String> {
    match s {
        "1" | "True" | "true" => Ok(true),
        "0" | "False" | "false" | "" => Ok(false),
        other => Err(format!("not a TCP flag value: {other:?}")),
    }
}

fn seconds_to_us(s: &str) -> Result<u64, String> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let whole: u64 = whole
        .parse()
        .map_err(|_| format!("not a time in seconds: {s:?}"))?;
    let mut digits: String = frac.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    let frac: u64 = digits
        .parse()
        .map_err(|_| format!("not a time in seconds: {s:?}"))?;
    Ok(whole * 1_000_000 + frac)
}

/// Parses tshark's tab-separated [`TSHARK_FIELDS`] lines, keeping the
/// segments between `client` and `server` (in either direction). Lines of
/// other packets (ARP, UDP, other hosts) have empty or foreign fields and
/// are skipped.
pub fn parse_tshark(
    text: &str,
    client: Ipv4Addr,
    server: Ipv4Addr,
) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != TSHARK_FIELDS.len() {
            return Err(format!(
                "tshark line {}: {} fields, expected {}: {line:?}",
                n + 1,
                f.len(),
                TSHARK_FIELDS.len()
            ));
        }
        if f[2].is_empty() {
            continue; // not TCP
        }
        let (Ok(src), Ok(dst)) = (f[1].parse::<Ipv4Addr>(), f[3].parse::<Ipv4Addr>()) else {
            continue;
        };
        let from_client = if (src, dst) == (client, server) {
            true
        } else if (src, dst) == (server, client) {
            false
        } else {
            continue;
        };
        let port = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| format!("tshark line {}: not a port: {s:?}", n + 1))
        };
        let client_port = if from_client {
            port(f[2])?
        } else {
            port(f[4])?
        };
        let num = |s: &str| -> Result<u64, String> {
            if s.is_empty() {
                Ok(0)
            } else {
                s.parse()
                    .map_err(|_| format!("tshark line {}: not a number: {s:?}", n + 1))
            }
        };
        out.push(Segment {
            t_us: seconds_to_us(f[0])?,
            from_client,
            client_port,
            syn: flag(f[5])?,
            ack: flag(f[6])?,
            fin: flag(f[7])?,
            rst: flag(f[8])?,
            len: u32::try_from(num(f[9])?)
                .map_err(|_| format!("tshark line {}: length too large", n + 1))?,
            seq: num(f[10])?,
            ack_no: num(f[11])?,
        });
    }
    Ok(out)
}

/// Which ends of the case's connections were seen in TIME-WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeWait {
    /// The client held TIME-WAIT.
    pub client: bool,
    /// The server held TIME-WAIT.
    pub server: bool,
}

fn ip_of(endpoint: &str) -> Option<Ipv4Addr> {
    endpoint.rsplit_once(':')?.0.parse().ok()
}

/// The client ports of the case's connections (ss in a namespace also
/// lists TIME-WAIT sockets of earlier cases, which must not count).
pub fn client_ports(segs: &[Segment]) -> BTreeSet<u16> {
    connections(segs)
        .iter()
        .filter_map(|c| c.first().map(|s| s.client_port))
        .collect()
}

fn endpoint(s: &str) -> Option<(Ipv4Addr, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    Some((ip.parse().ok()?, port.parse().ok()?))
}

/// Reads `ss -tanH` output taken in one namespace: does it show a
/// TIME-WAIT socket between `client` and `server` on one of `ports` (the
/// client's port), held by the client (`client_side`) or the server?
pub fn ss_has_time_wait(
    text: &str,
    client: Ipv4Addr,
    server: Ipv4Addr,
    ports: &BTreeSet<u16>,
    client_side: bool,
) -> bool {
    text.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[0] != "TIME-WAIT" {
            return false;
        }
        let (Some(local), Some(peer)) = (endpoint(f[3]), endpoint(f[4])) else {
            return false;
        };
        if client_side {
            local.0 == client && peer.0 == server && ports.contains(&local.1)
        } else {
            local.0 == server && peer.0 == client && ports.contains(&peer.1)
        }
    })
}

/// Reads simnet's JSON Lines trace: which of `client` and `server` had a
/// socket of a connection between them enter TIME-WAIT.
pub fn jsonl_time_wait(text: &str, client: Ipv4Addr, server: Ipv4Addr) -> Result<TimeWait, String> {
    let mut tw = TimeWait::default();
    for (n, line) in text.lines().enumerate() {
        if !line.contains("\"tcp_state\"") {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("JSON Lines line {}: {e}", n + 1))?;
        if v["event"] != "tcp_state" || v["to"] != "TIME-WAIT" {
            continue;
        }
        let local = v["local"].as_str().and_then(ip_of);
        let remote = v["remote"].as_str().and_then(ip_of);
        match (local, remote) {
            (Some(l), Some(r)) if (l, r) == (client, server) => tw.client = true,
            (Some(l), Some(r)) if (l, r) == (server, client) => tw.server = true,
            _ => {}
        }
    }
    Ok(tw)
}

/// The segments of each connection the capture saw begin (with the
/// client's SYN), connections in the order their first segment was seen.
/// Segments of older connections are left out: a previous case's server,
/// killed after its capture ended, may still retransmit a FIN.
fn connections(segs: &[Segment]) -> Vec<Vec<&Segment>> {
    let mut order: Vec<u16> = Vec::new();
    let mut by_port: BTreeMap<u16, Vec<&Segment>> = BTreeMap::new();
    for s in segs {
        let e = by_port.entry(s.client_port).or_default();
        if e.is_empty() {
            order.push(s.client_port);
        }
        e.push(s);
    }
    order
        .into_iter()
        .filter_map(|p| by_port.remove(&p))
        .filter(|c| c.first().is_some_and(|s| s.from_client && s.syn && !s.ack))
        .collect()
}

fn side(from_client: bool) -> &'static str {
    if from_client { "C" } else { "S" }
}

/// For each segment of a connection, the highest sequence number its
/// sender had used before it (so a segment below it carries nothing new:
/// a retransmission, or a keepalive probe).
fn sent_before(conn: &[&Segment]) -> Vec<u64> {
    let (mut client, mut server) = (0u64, 0u64);
    conn.iter()
        .map(|s| {
            let high = if s.from_client {
                &mut client
            } else {
                &mut server
            };
            let before = *high;
            let end = s.seq + u64::from(s.len) + u64::from(s.syn) + u64::from(s.fin);
            *high = (*high).max(end);
            before
        })
        .collect()
}

/// Whether each segment carries data not sent before.
fn new_data(conn: &[&Segment]) -> Vec<bool> {
    conn.iter()
        .zip(sent_before(conn))
        .map(|(s, before)| s.len > 0 && s.seq + u64::from(s.len) > before)
        .collect()
}

/// A connection's segments as tokens (`C:SYN`, `S:data`, ...): pure ACKs
/// and segments that carry no new data (retransmissions, keepalive
/// probes) dropped, consecutive equal tokens (data cut into several
/// segments) merged into one.
fn tokens(conn: &[&Segment]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // The sequence number just past each side's FIN, once sent.
    let (mut client_fin, mut server_fin) = (None::<u64>, None::<u64>);
    for (s, new) in conn.iter().zip(new_data(conn)) {
        let side = side(s.from_client);
        let other_fin = if s.from_client {
            server_fin
        } else {
            client_fin
        };
        let push = |out: &mut Vec<String>, t: &str| {
            let tok = format!("{side}:{t}");
            if out.last() != Some(&tok) {
                out.push(tok);
            }
        };
        if s.syn {
            push(&mut out, if s.ack { "SYN-ACK" } else { "SYN" });
        }
        if new {
            push(&mut out, "data");
        }
        if s.fin {
            let other = format!("{}:FIN", if s.from_client { "S" } else { "C" });
            let crossed =
                out.last() == Some(&other) && other_fin.is_some_and(|end| !s.ack || s.ack_no < end);
            if crossed {
                // A FIN sent before the other side's FIN arrived: the
                // order in which two crossing FINs pass a capture point
                // says nothing.
                out.pop();
                out.push("FINs cross".to_string());
            } else if out.last().map(String::as_str) != Some("FINs cross") {
                push(&mut out, "FIN");
            }
            let end = s.seq + u64::from(s.len) + 1;
            if s.from_client {
                client_fin = Some(end);
            } else {
                server_fin = Some(end);
            }
        }
        if s.rst {
            push(&mut out, "RST");
        }
    }
    out
}

fn per_connection(conns: &[Vec<&Segment>], f: impl Fn(&[&Segment]) -> String) -> String {
    match conns {
        [] => "no packets".to_string(),
        [one] => f(one),
        many => many
            .iter()
            .enumerate()
            .map(|(i, c)| format!("#{}: {}", i + 1, f(c)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn seconds(us: u64) -> String {
    // Whole seconds from one second up (Linux's timers jitter by a few
    // milliseconds, and grow with backoff: 4.1 s is a 4 s timer), tenths
    // below.
    if us >= 950_000 {
        format!("{} s", (us + 500_000) / 1_000_000)
    } else {
        let tenths = (us + 50_000) / 100_000;
        format!("0.{tenths} s")
    }
}

fn syn_fact(conn: &[&Segment]) -> String {
    let syns: Vec<u64> = conn
        .iter()
        .filter(|s| s.from_client && s.syn && !s.ack)
        .map(|s| s.t_us)
        .collect();
    match syns.len() {
        0 => "no SYN".to_string(),
        1 => "1 SYN".to_string(),
        n => {
            // Runs of equal intervals: "1 s ×5, 2 s, 4 s".
            let mut runs: Vec<(String, usize)> = Vec::new();
            for gap in syns.windows(2).map(|w| seconds(w[1] - w[0])) {
                match runs.last_mut() {
                    Some((g, count)) if *g == gap => *count += 1,
                    _ => runs.push((gap, 1)),
                }
            }
            let runs: Vec<String> = runs
                .into_iter()
                .map(|(g, count)| {
                    if count == 1 {
                        g
                    } else {
                        format!("{g} ×{count}")
                    }
                })
                .collect();
            format!("{n} SYNs, {} apart", runs.join(", "))
        }
    }
}

fn syn_summary(conns: &[Vec<&Segment>]) -> String {
    if conns.len() > 1 && conns.iter().all(|c| syn_fact(c) == "1 SYN") {
        return "1 SYN per connection".to_string();
    }
    per_connection(conns, syn_fact)
}

fn rst_fact(conn: &[&Segment]) -> String {
    let toks = tokens(conn);
    let mut places: Vec<String> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.ends_with(":RST") {
            let place = match i.checked_sub(1).map(|j| &toks[j]) {
                Some(prev) => format!("{t} after {prev}"),
                None => t.clone(),
            };
            if !places.contains(&place) {
                places.push(place);
            }
        }
    }
    if places.is_empty() {
        "none".to_string()
    } else {
        places.join(", ")
    }
}

fn half_close_fact(conn: &[&Segment]) -> String {
    let Some(pos) = conn.iter().position(|s| s.fin) else {
        return "no FIN".to_string();
    };
    let closer = conn[pos].from_client;
    let after: Vec<&&Segment> = conn[pos + 1..]
        .iter()
        .filter(|s| s.from_client != closer && s.len > 0)
        .collect();
    let (Some(lo), Some(hi)) = (
        after.iter().map(|s| s.seq).min(),
        after.iter().map(|s| s.seq + u64::from(s.len)).max(),
    ) else {
        return format!("no data after {}'s FIN", side(closer));
    };
    format!(
        "{} bytes {}→{} after {}'s FIN",
        hi - lo,
        side(!closer),
        side(closer),
        side(closer)
    )
}

fn probes_fact(conn: &[&Segment]) -> String {
    let Some(last_server) = conn.iter().rposition(|s| !s.from_client) else {
        return "the server never answered".to_string();
    };
    let rest = &conn[last_server + 1..];
    let before = &sent_before(conn)[last_server + 1..];
    // A probe: below what the client had sent (Linux: no data at
    // snd_una - 1; smoltcp: the byte before snd_una again).
    let probes: Vec<&&Segment> = rest
        .iter()
        .zip(before)
        .filter(|(s, before)| s.from_client && !s.syn && !s.fin && !s.rst && s.seq < **before)
        .map(|(s, _)| s)
        .collect();
    if probes.is_empty() {
        return "none".to_string();
    }
    let mut lens: Vec<u32> = probes.iter().map(|s| s.len).collect();
    lens.dedup();
    let lens: Vec<String> = lens.iter().map(u32::to_string).collect();
    let end = if rest.iter().any(|s| s.from_client && s.rst) {
        "then C:RST"
    } else if rest.iter().any(|s| s.from_client && s.fin) {
        "then C:FIN"
    } else {
        "then nothing"
    };
    let unit = if lens == ["1"] { "byte" } else { "bytes" };
    format!(
        "{} unanswered, {} {unit} each, {end}",
        probes.len(),
        lens.join("/")
    )
}

/// How long the handshake took as this capture saw it: a round trip for a
/// capture at the client (Linux), one way for simnet's (each packet at
/// the moment it is sent). An ACK that came back after only this long
/// was not delayed.
fn handshake_us(conn: &[&Segment]) -> u64 {
    let syn_ack = conn.iter().position(|s| !s.from_client && s.syn && s.ack);
    let Some(i) = syn_ack else { return 0 };
    let syn = conn[..i].iter().rev().find(|s| s.from_client && s.syn);
    syn.map_or(0, |syn| conn[i].t_us.saturating_sub(syn.t_us))
}

fn nagle_fact(conns: &[Vec<&Segment>]) -> String {
    // A round: the client's data segments up to the server's next data,
    // on one connection; rounds counted over all connections in order.
    // A round waited when its second segment left at least 20 ms more
    // than the handshake's time after its first: the ACK that released it
    // was delayed, not just travelling.
    let mut rounds: Vec<bool> = Vec::new();
    for conn in conns {
        let path = handshake_us(conn);
        let mut current: Vec<u64> = Vec::new();
        let waited = |r: &[u64]| r.len() >= 2 && (r[1] - r[0]).saturating_sub(path) >= 20_000;
        let new = new_data(conn);
        for (s, _) in conn.iter().zip(new).filter(|(_, new)| *new) {
            if s.from_client {
                current.push(s.t_us);
            } else if !current.is_empty() {
                rounds.push(waited(&current));
                current.clear();
            }
        }
        if !current.is_empty() {
            rounds.push(waited(&current));
        }
    }
    let waited: Vec<usize> = rounds
        .iter()
        .enumerate()
        .filter(|(_, w)| **w)
        .map(|(i, _)| i + 1)
        .collect();
    let n = rounds.len();
    if waited.is_empty() {
        format!("the second write leaves without waiting for a delayed ACK in all {n} rounds")
    } else if waited.len() == n {
        format!("the second write waits for a delayed ACK in all {n} rounds")
    } else {
        let list: Vec<String> = waited.iter().map(usize::to_string).collect();
        format!(
            "the second write waits for a delayed ACK in rounds {} of {n}",
            list.join(", ")
        )
    }
}

/// Computes the named fact from one side's segments and TIME-WAIT holders.
pub fn fact(name: &str, segs: &[Segment], tw: TimeWait) -> Result<String, String> {
    let conns = connections(segs);
    Ok(match name {
        "sequence" => per_connection(&conns, |c| tokens(c).join(" ")),
        "time_wait" => match (tw.client, tw.server) {
            (true, true) => "both".to_string(),
            (true, false) => "client".to_string(),
            (false, true) => "server".to_string(),
            (false, false) => "neither".to_string(),
        },
        "rst" => per_connection(&conns, rst_fact),
        "half_close" => per_connection(&conns, half_close_fact),
        "syn" => syn_summary(&conns),
        "handshakes" => {
            let done = conns
                .iter()
                .filter(|c| c.iter().any(|s| !s.from_client && s.syn && s.ack))
                .count();
            format!("{done} of {} connections get a SYN-ACK", conns.len())
        }
        "probes" => per_connection(&conns, probes_fact),
        "nagle" => nagle_fact(&conns),
        other => {
            return Err(format!(
                "unknown fact {other:?}; known: {}",
                FACTS.join(", ")
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const S: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// tshark 4.0's output for simnet's close-client-first (real output,
    /// fields as in TSHARK_FIELDS).
    const CLOSE_CLIENT_FIRST: &str = "\
0.000000000\t10.0.0.1\t49152\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0
0.010000000\t10.0.0.2\t80\t10.0.0.1\t49152\t1\t1\t0\t0\t0\t0\t1
0.020000000\t10.0.0.1\t49152\t10.0.0.2\t80\t0\t1\t0\t0\t0\t1\t1
0.020000000\t10.0.0.1\t49152\t10.0.0.2\t80\t0\t1\t0\t0\t5\t1\t1
0.030000000\t10.0.0.2\t80\t10.0.0.1\t49152\t0\t1\t0\t0\t5\t1\t6
0.040000000\t10.0.0.1\t49152\t10.0.0.2\t80\t0\t1\t1\t0\t0\t6\t6
0.050000000\t10.0.0.2\t80\t10.0.0.1\t49152\t0\t1\t0\t0\t0\t6\t7
0.050000000\t10.0.0.2\t80\t10.0.0.1\t49152\t0\t1\t1\t0\t0\t6\t7
0.060000000\t10.0.0.1\t49152\t10.0.0.2\t80\t0\t1\t0\t0\t0\t7\t7
";

    fn segs(text: &str) -> Vec<Segment> {
        parse_tshark(text, C, S).unwrap()
    }

    fn f(name: &str, text: &str) -> String {
        fact(name, &segs(text), TimeWait::default()).unwrap()
    }

    #[test]
    fn pure_acks_are_dropped_and_the_close_is_read() {
        assert_eq!(
            f("sequence", CLOSE_CLIENT_FIRST),
            "C:SYN S:SYN-ACK C:data S:data C:FIN S:FIN"
        );
        assert_eq!(f("rst", CLOSE_CLIENT_FIRST), "none");
        assert_eq!(f("syn", CLOSE_CLIENT_FIRST), "1 SYN");
        assert_eq!(f("half_close", CLOSE_CLIENT_FIRST), "no data after C's FIN");
        assert_eq!(
            f("handshakes", CLOSE_CLIENT_FIRST),
            "1 of 1 connections get a SYN-ACK"
        );
    }

    /// Prepends the client's SYN for each connection of `text`, in order
    /// of appearance: canned excerpts that start after the handshake.
    fn opened(text: &str) -> String {
        let mut ports: Vec<u16> = Vec::new();
        for s in segs(text) {
            if !ports.contains(&s.client_port) {
                ports.push(s.client_port);
            }
        }
        let syns: String = ports
            .iter()
            .map(|p| format!("0.0\t10.0.0.1\t{p}\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0\n"))
            .collect();
        syns + text
    }

    fn fo(name: &str, text: &str) -> String {
        f(name, &opened(text))
    }

    #[test]
    fn segments_of_connections_begun_before_the_capture_are_left_out() {
        // A previous case's server retransmitting its FIN, the client
        // resetting it: no SYN seen, not this case's connection.
        let stray = "\
0.0\t10.0.0.2\t80\t10.0.0.1\t4000\t0\t1\t1\t0\t0\t6\t6
0.0\t10.0.0.1\t4000\t10.0.0.2\t80\t0\t0\t0\t1\t0\t6\t0
";
        let text = format!("{stray}{CLOSE_CLIENT_FIRST}");
        assert_eq!(f("sequence", &text), f("sequence", CLOSE_CLIENT_FIRST));
        assert_eq!(f("rst", &text), "none");
        assert_eq!(client_ports(&segs(&text)), BTreeSet::from([49152]));
    }

    #[test]
    fn data_merged_with_a_fin_reads_like_data_then_fin() {
        // Linux's "FP." (data and FIN in one segment) against two segments.
        let merged = "\
0.0\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t1\t0\t5\t1\t0
";
        let split = "\
0.0\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t5\t1\t0
0.0\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t1\t0\t0\t6\t0
";
        assert_eq!(fo("sequence", merged), "C:SYN S:data S:FIN");
        assert_eq!(fo("sequence", merged), fo("sequence", split));
    }

    #[test]
    fn crossing_fins_read_the_same_in_either_order() {
        // Each FIN acknowledges only the other side's SYN: they crossed.
        let c_first = "\
0.5\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t1\t0\t0\t1\t1
0.5\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t1\t0\t0\t1\t1
0.6\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t0\t2\t2
0.6\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t0\t2\t2
";
        let mut lines: Vec<&str> = c_first.lines().collect();
        lines.swap(0, 1);
        let s_first = lines.join("\n");
        assert_eq!(fo("sequence", c_first), "C:SYN FINs cross");
        assert_eq!(fo("sequence", &s_first), "C:SYN FINs cross");
        // A FIN that acknowledges the other's FIN answers it.
        let answered = c_first.replacen("0\t1\t1\n0.6", "0\t1\t2\n0.6", 1);
        assert_eq!(fo("sequence", &answered), "C:SYN C:FIN S:FIN");
    }

    #[test]
    fn linux_style_true_false_flags_and_foreign_packets() {
        // Newer tshark prints True/False; ARP and other hosts are skipped.
        let text = "\
0.000001\t10.0.0.1\t40000\t10.0.0.2\t81\tTrue\tFalse\tFalse\tFalse\t0\t0\t0
0.000002\t\t\t\t\t\t\t\t\t\t\t0
0.000003\t10.0.0.9\t9\t10.0.0.2\t81\tTrue\tFalse\tFalse\tFalse\t0\t0\t0
0.000040\t10.0.0.2\t81\t10.0.0.1\t40000\tFalse\tTrue\tFalse\tTrue\t0\t1\t0
";
        assert_eq!(f("sequence", text), "C:SYN S:RST");
        assert_eq!(f("rst", text), "S:RST after C:SYN");
    }

    #[test]
    fn syn_retries_and_their_intervals() {
        let text = "\
1.000000\t10.0.0.1\t40000\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0
2.003000\t10.0.0.1\t40000\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0
4.011000\t10.0.0.1\t40000\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0
";
        assert_eq!(f("syn", text), "3 SYNs, 1 s, 2 s apart");
        // Linux 6's linear timeouts first, then doubling (times as seen).
        let linux: String = [0.0, 1.004, 2.008, 3.012, 4.016, 5.02, 7.1, 11.2]
            .iter()
            .map(|t| format!("{t}\t10.0.0.1\t40000\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0\n"))
            .collect();
        assert_eq!(f("syn", &linux), "8 SYNs, 1 s ×5, 2 s, 4 s apart");
        let fast = "0.0\t10.0.0.1\t1\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0\n\
                    0.2\t10.0.0.1\t1\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0\n";
        assert_eq!(f("syn", fast), "2 SYNs, 0.2 s apart");
        assert_eq!(f("sequence", text), "C:SYN");
        assert_eq!(f("handshakes", text), "0 of 1 connections get a SYN-ACK");
    }

    #[test]
    fn several_connections_in_order_of_appearance() {
        let text = "\
0.0\t10.0.0.1\t50001\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0
0.0\t10.0.0.2\t80\t10.0.0.1\t50001\t1\t1\t0\t0\t0\t0\t0
0.1\t10.0.0.1\t40000\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0
0.1\t10.0.0.2\t80\t10.0.0.1\t40000\t0\t1\t0\t1\t0\t1\t0
";
        assert_eq!(f("sequence", text), "#1: C:SYN S:SYN-ACK; #2: C:SYN S:RST");
        assert_eq!(f("syn", text), "1 SYN per connection");
        assert_eq!(f("handshakes", text), "1 of 2 connections get a SYN-ACK");
    }

    #[test]
    fn data_after_a_half_close_counts_new_bytes_once() {
        // The server's 3000 bytes after the client's FIN, one segment
        // retransmitted: still 3000 bytes.
        let text = "\
0.00\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t7\t1\t0
0.01\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t1\t0\t0\t8\t0
0.02\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t1460\t1\t0
0.02\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t1540\t1461\t0
0.03\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t1460\t1\t0
0.04\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t1\t0\t0\t3001\t9
";
        assert_eq!(fo("half_close", text), "3000 bytes S→C after C's FIN");
        assert_eq!(fo("sequence", text), "C:SYN C:data C:FIN S:data S:FIN");
    }

    #[test]
    fn keepalive_probes_after_the_peer_went_quiet() {
        let linux = "\
0.00\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t5\t1\t0
0.01\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t5\t1\t0
1.0\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t0\t5\t0
2.0\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t0\t5\t0
3.0\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t0\t5\t0
4.0\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t1\t0\t6\t0
";
        assert_eq!(
            fo("probes", linux),
            "3 unanswered, 0 bytes each, then C:RST"
        );
        let smoltcp = linux.replace("\t0\t5\t0\n", "\t1\t5\t0\n");
        // smoltcp's probes carry the last byte again: not new data.
        assert_eq!(
            fo("probes", &smoltcp),
            "3 unanswered, 1 byte each, then C:RST"
        );
        assert_eq!(fo("sequence", linux), fo("sequence", &smoltcp));
        assert_eq!(fo("sequence", linux), "C:SYN C:data S:data C:RST");
        // The client's pure ACK of the server's data is not a probe.
        let with_ack = linux.replace(
            "1.0\t10.0.0.1",
            "0.1\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t0\t6\t6\n1.0\t10.0.0.1",
        );
        assert_eq!(with_ack.lines().count(), 7);
        assert_eq!(
            fo("probes", &with_ack),
            "3 unanswered, 0 bytes each, then C:RST"
        );
    }

    #[test]
    fn nagle_counts_the_delay_beyond_the_path() {
        // A Linux capture at the client over a 20 ms round trip: the quick
        // ACK releases the second piece one round trip later. simnet's
        // capture over 5 ms one way: the delayed ACK holds it 50 ms.
        let conn = |syn_ack: &str, second: &str| {
            format!(
                "0.0\t10.0.0.1\t5000\t10.0.0.2\t80\t1\t0\t0\t0\t0\t0\t0
{syn_ack}\t10.0.0.2\t80\t10.0.0.1\t5000\t1\t1\t0\t0\t0\t0\t1
0.100\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t20\t1\t1
{second}\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t10\t21\t1
0.200\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t100\t1\t31
"
            )
        };
        assert_eq!(
            f("nagle", &conn("0.020", "0.121")),
            "the second write leaves without waiting for a delayed ACK in all 1 rounds"
        );
        assert_eq!(
            f("nagle", &conn("0.005", "0.150")),
            "the second write waits for a delayed ACK in all 1 rounds"
        );
        // Over the 20 ms path, a delayed ACK shows all the same.
        assert_eq!(
            f("nagle", &conn("0.020", "0.160")),
            "the second write waits for a delayed ACK in all 1 rounds"
        );
    }

    #[test]
    fn nagle_rounds() {
        // Round 1: the second piece leaves 0.1 ms after the first (quick
        // ACK); round 2: 40 ms later (delayed ACK).
        let text = "\
0.0000\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t20\t1\t0
0.0001\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t10\t21\t0
0.0002\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t100\t1\t0
0.1000\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t20\t31\t0
0.1400\t10.0.0.1\t5000\t10.0.0.2\t80\t0\t1\t0\t0\t10\t51\t0
0.1401\t10.0.0.2\t80\t10.0.0.1\t5000\t0\t1\t0\t0\t100\t101\t0
";
        assert_eq!(
            fo("nagle", text),
            "the second write waits for a delayed ACK in rounds 2 of 2"
        );
        let none = text.replace("0.1400", "0.1001");
        assert_eq!(
            fo("nagle", &none),
            "the second write leaves without waiting for a delayed ACK in all 2 rounds"
        );
        // The same two rounds on two connections count the same.
        let two = text
            .lines()
            .enumerate()
            .map(|(i, l)| if i >= 3 { l.replace("5000", "5001") } else { l.to_string() } + "\n")
            .collect::<String>();
        assert_eq!(
            fo("sequence", &two),
            "#1: C:SYN C:data S:data; #2: C:SYN C:data S:data"
        );
        assert_eq!(
            fo("nagle", &two),
            "the second write waits for a delayed ACK in rounds 2 of 2"
        );
    }

    #[test]
    fn time_wait_from_ss_and_from_jsonl() {
        let ss = "ESTAB 0 0 10.0.0.2:80 10.0.0.1:41000\nTIME-WAIT 0 0 10.0.0.1:41000 10.0.0.2:80\n";
        let ports = BTreeSet::from([41000]);
        assert!(ss_has_time_wait(ss, C, S, &ports, true));
        assert!(!ss_has_time_wait(ss, C, S, &ports, false));
        // An earlier case's TIME-WAIT socket (another port) does not count.
        assert!(!ss_has_time_wait(ss, C, S, &BTreeSet::from([41001]), true));
        let server_tw = "TIME-WAIT 0 0 10.0.0.2:80 10.0.0.1:41000\n";
        assert!(ss_has_time_wait(server_tw, C, S, &ports, false));
        let jsonl = r#"{"version":1,"event":"tcp_state","host":"client","local":"10.0.0.1:49152","remote":"10.0.0.2:80","from":"FIN-WAIT-2","to":"TIME-WAIT"}
{"version":1,"event":"tcp_state","host":"server","local":"10.0.0.2:80","remote":null,"from":"CLOSED","to":"LISTEN"}
"#;
        let tw = jsonl_time_wait(jsonl, C, S).unwrap();
        assert_eq!(
            tw,
            TimeWait {
                client: true,
                server: false
            }
        );
        assert_eq!(fact("time_wait", &[], tw).unwrap(), "client");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse_tshark("1\t2\n", C, S).is_err());
        assert!(parse_tshark("x\t10.0.0.1\t1\t10.0.0.2\t2\t0\t0\t0\t0\t0\t0\n", C, S).is_err());
        assert!(parse_tshark("0\t10.0.0.1\tport\t10.0.0.2\t2\t0\t0\t0\t0\t0\t0\n", C, S).is_err());
        assert!(jsonl_time_wait("{\"tcp_state\" nope\n", C, S).is_err());
        assert!(fact("colour", &[], TimeWait::default()).is_err());
    }
}

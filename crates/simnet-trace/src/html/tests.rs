//! The page: whole on its own, its data one-to-one with the trace and the
//! JSON Lines, and safe whatever the packets carry.

use super::*;
use serde_json::Value;
use simnet_core::apps::{TcpClient, TcpEcho};
use simnet_core::{
    FaultAction, LinkParams, PacketFilter, SimDuration, TargetedFault, WorldBuilder,
};

/// A client sends `payload` to an echo server over a 10 ms link; its first
/// data segment is lost once, so it is retransmitted.
fn echo_run(payload: &'static [u8]) -> Trace {
    let mut b = WorldBuilder::new(7);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    b.app(server, "tcp-echo", || TcpEcho::new(80));
    b.app(client, "tcp-client", move || {
        TcpClient::new("10.0.0.2:80".parse().unwrap(), payload, payload.len())
    });
    b.fault(TargetedFault {
        filter: PacketFilter {
            from: Some(client),
            payload: Some(true),
            ..PacketFilter::default()
        },
        nth: 1,
        count: 1,
        action: FaultAction::Drop,
    });
    let mut world = b.build().unwrap();
    world.run();
    world.take_trace()
}

/// The JSON the page embeds, parsed back.
fn data(page: &str) -> Value {
    let open = "<script id=\"simnet-data\" type=\"application/json\">";
    let start = page.find(open).expect("the data element") + open.len();
    let end = start + page[start..].find("</script>").expect("its end");
    serde_json::from_str(&page[start..end]).expect("the data is JSON")
}

fn meta() -> HtmlMeta {
    HtmlMeta {
        name: "echo <test>".into(),
        description: "a client & an echo server".into(),
        seed: 7,
        expectations: vec![HtmlExpectation {
            label: "packets from client >= 1".into(),
            passed: false,
            observed: "0".into(),
            at: Some(SimTime::ZERO + SimDuration::from_millis(15)),
        }],
    }
}

#[test]
fn every_record_is_one_event_in_order_with_the_jsonl_line_after_the_header() {
    let trace = echo_run(b"hello");
    let page = render_html(&trace, &meta());
    let d = data(&page);
    let events = d["events"].as_array().unwrap();
    let jsonl = crate::render_jsonl(&trace);
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), trace.records.len());
    assert_eq!(
        lines.len(),
        events.len() + 1,
        "run_start, then one line each"
    );
    for (i, (e, line)) in events.iter().zip(&lines[1..]).enumerate() {
        assert_eq!(e[0], line["t_ns"], "event {i}'s time");
    }
    // Packets carry what the details pane decodes: the relative numbers as
    // the JSON Lines give them, and what the analysis calls a resent segment.
    let packets: Vec<(&Value, &Value)> = events
        .iter()
        .zip(&lines[1..])
        .filter(|(e, _)| e[1] == "p")
        .collect();
    assert!(packets.len() >= 7, "{} packets", packets.len());
    for (e, line) in &packets {
        assert_eq!(e[10], line["seq"]);
        assert_eq!(e[11], line["ack"]);
        assert_eq!(e[12], line["window"]);
        assert_eq!(e[9], line["ip_len"]);
    }
    let resent: Vec<_> = packets
        .iter()
        .filter(|(e, _)| e[13] == "retransmission")
        .collect();
    assert_eq!(resent.len(), 1, "the lost segment, sent again");
    assert_eq!(resent[0].1["payload_len"], 5);
    // The expectation, with when it was decided; the scenario's words.
    assert_eq!(d["expectations"][0]["at_ns"], 15_000_000);
    assert_eq!(d["expectations"][0]["passed"], false);
    assert_eq!(d["name"], "echo <test>");
    assert!(page.contains("<title>simnet: echo &lt;test&gt;</title>"));
}

#[test]
fn the_page_needs_nothing_from_outside() {
    let page = render_html(&echo_run(b"hello"), &meta());
    assert!(page.starts_with("<!DOCTYPE html>"));
    // (The one `http://` is SVG's namespace name, which nothing fetches.)
    for outside in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "<link",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!page.contains(outside), "the page refers to {outside}");
    }
    assert!(page.contains("default-src 'none'"), "and forbids fetching");
}

#[test]
fn a_payload_that_closes_the_script_element_stays_data() {
    let hostile: &'static [u8] = b"</script><script>alert(1)</script><!--";
    let page = render_html(&echo_run(hostile), &meta());
    // Exactly the page's own two script elements end.
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(!page.contains("<!--"));
    let d = data(&page);
    // The bytes are all there, in base64, and the decoded payload is intact.
    let with_payload = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[1] == "p" && e[9].as_u64() == Some(40 + hostile.len() as u64))
        .expect("a data segment");
    let b64 = with_payload[8].as_str().unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert!(
        bytes.ends_with(hostile),
        "{:?}",
        String::from_utf8_lossy(&bytes)
    );
}

#[test]
fn a_packet_keeps_its_headers_and_the_first_payload_bytes() {
    static BIG: [u8; 1000] = [b'x'; 1000];
    let page = render_html(&echo_run(&BIG), &meta());
    let d = data(&page);
    use base64::Engine as _;
    let data_segment = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[1] == "p" && e[9] == 1040)
        .expect("the 1,000-byte segment");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data_segment[8].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 40 + PAYLOAD_BYTES);
    assert_eq!(d["payload_bytes"], PAYLOAD_BYTES);
}

#[test]
fn the_same_trace_gives_the_same_page() {
    let a = render_html(&echo_run(b"hello"), &meta());
    let b = render_html(&echo_run(b"hello"), &meta());
    assert_eq!(a, b);
}

//! tshark's TLS dissector on the `wss` capture: the handshake is TLS as
//! Wireshark knows it (a ClientHello naming the server, a ServerHello, then
//! only encrypted records), and neither HTTP nor WebSocket is found in the
//! clear. (The general test, `tshark_reads_every_scenario_capture_cleanly`,
//! already requires every capture, this one included, to have no
//! malformed packet or expert error.) Then, for every scenario that speaks
//! TLS, the run's key log opens every HTTP message it wrote.

use super::{capture_path, render_pcap, run, scenarios_dir, tshark, tshark_available};

#[test]
fn tshark_reads_the_wss_handshake_as_tls_with_nothing_in_the_clear() {
    if !tshark_available() {
        return;
    }
    let path = scenarios_dir().join("tls/wss-handshake.toml");
    let trace = run(&path);
    let file = capture_path("tls-dissection-wss-handshake.pcap");
    std::fs::write(&file, render_pcap(&trace)).expect("the capture can be written");

    // The handshake messages tshark can read: TLS 1.3 encrypts everything
    // after the ServerHello.
    let hellos = tshark(
        &file,
        &[
            "-Y",
            "tls.handshake.type",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "ip.src",
            "-e",
            "tls.handshake.type",
            "-e",
            "tls.handshake.extensions_server_name",
            "-e",
            "tls.handshake.extensions.supported_version",
        ],
    )
    .unwrap();
    let rows: Vec<&str> = hellos.lines().collect();
    assert_eq!(
        rows,
        ["10.0.0.1|1|server|0x0304", "10.0.0.2|2||0x0304"],
        "{hellos}"
    );

    // Every segment with a payload is made of TLS records: the hello in
    // the clear (22, handshake), the middlebox-compatibility
    // ChangeCipherSpec (20), and from the server's first flight on, TLS
    // 1.3's encrypted records, whose outer type is always application
    // data (23, `opaque_type`).
    let records = tshark(
        &file,
        &[
            "-Y",
            "tcp.len > 0",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "tls.record.content_type",
            "-e",
            "tls.record.opaque_type",
        ],
    )
    .unwrap();
    let records: Vec<&str> = records.lines().collect();
    let mut expected = vec!["22|", "22,20|23", "20|23,23"];
    expected.extend(["|23"; 12]);
    assert_eq!(records, expected);

    // Nothing tshark would read as HTTP or WebSocket.
    let clear = tshark(&file, &["-Y", "http || websocket"]).unwrap();
    assert_eq!(clear.trim(), "", "plaintext on the wire:\n{clear}");
}

/// With the run's key log (`--keylog`), tshark opens the same `wss`
/// capture: the upgrade request and the 101, then every WebSocket frame
/// the applications sent (client frames unmasked), in order; without it,
/// none of them (the test above).
#[test]
fn tshark_decrypts_the_wss_handshake_with_the_key_log() {
    if !tshark_available() {
        return;
    }
    let trace = run(&scenarios_dir().join("tls/wss-handshake.toml"));
    let file = capture_path("tls-wss-handshake-keylog.pcap");
    std::fs::write(&file, render_pcap(&trace)).expect("the capture can be written");
    let (keylog, lines) = super::write_keylog(&trace, "tls-wss-handshake.keys");
    assert!(lines >= 4, "{lines} key log lines");
    let pref = format!("tls.keylog_file:{}", keylog.display());
    let http = tshark(
        &file,
        &[
            "-o",
            &pref,
            "-Y",
            "http",
            "-T",
            "fields",
            "-e",
            "http.request.method",
            "-e",
            "http.response.code",
        ],
    )
    .unwrap();
    assert_eq!(
        http.lines().collect::<Vec<_>>(),
        ["GET\t", "\t101"],
        "{http}"
    );
    let frames = tshark(
        &file,
        &[
            "-o",
            &pref,
            "-Y",
            "websocket",
            "-T",
            "fields",
            "-e",
            "websocket.opcode",
            "-e",
            "websocket.mask",
            "-e",
            "websocket.payload.text",
        ],
    )
    .unwrap();
    assert_eq!(
        frames.lines().collect::<Vec<_>>(),
        [
            "1\t1\thello",
            "9\t1\t",
            "1\t0\thello",
            "10\t0\t",
            "1\t1\tworld",
            "1\t0\tworld",
            "8\t1\t",
            "8\t0\t",
        ],
        "{frames}"
    );
}

/// The HTTP request and status lines the applications of `trace` wrote on
/// connections whose TLS did not fail: `(requests, responses)`. A request
/// line starts a `send` with its method; a status line with `HTTP/1.1 `.
fn http_messages_written(trace: &simnet::Trace) -> (usize, usize) {
    use simnet::SocketCall;
    use simnet::TraceEvent;
    let failed: std::collections::BTreeSet<_> = trace
        .records
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::App { host, event, .. } if event.kind == "tls.failed" => {
                event.socket.map(|s| (*host, s))
            }
            _ => None,
        })
        .collect();
    let mut counts = (0, 0);
    for r in &trace.records {
        let TraceEvent::SocketCall {
            host,
            socket: Some(socket),
            call: SocketCall::Send { preview, .. },
            ..
        } = &r.event
        else {
            continue;
        };
        if failed.contains(&(*host, *socket)) {
            continue;
        }
        let bytes = preview.as_bytes();
        if ["GET ", "POST ", "HEAD ", "PUT ", "DELETE "]
            .iter()
            .any(|m| bytes.starts_with(m.as_bytes()))
        {
            counts.0 += 1;
        } else if bytes.starts_with(b"HTTP/1.1 ") {
            counts.1 += 1;
        }
    }
    counts
}

/// Every scenario that speaks TLS, whatever the variant (1.3 and 1.2, full
/// and resumed, 0-RTT early data, a proxy terminating TLS, `wss`, HSTS's
/// redirects, names looked up by DNS): with the run's key log, tshark
/// decrypts every HTTP request and response the applications wrote on a
/// connection whose handshake did not fail, and not one more.
#[test]
fn tshark_decrypts_every_http_message_of_every_tls_scenario() {
    if !tshark_available() {
        return;
    }
    let files = simnet::quick_scenario_files(&scenarios_dir()).expect("scenarios/ is readable");
    type Counts = (usize, usize);
    let results: Vec<Option<(String, Counts, Counts)>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|path| {
                s.spawn(move || {
                    let trace = run(path);
                    let speaks_tls = trace.records.iter().any(|r| {
                        matches!(&r.event, simnet::TraceEvent::App { event, .. } if event.kind == "tls.keylog")
                    });
                    if !speaks_tls {
                        return None;
                    }
                    let name = path.file_stem().unwrap().to_string_lossy().to_string();
                    let parent = path.parent().unwrap().file_name().unwrap().to_string_lossy();
                    let stem = format!("tls-decrypt-{parent}-{name}");
                    let file = capture_path(&format!("{stem}.pcap"));
                    std::fs::write(&file, render_pcap(&trace)).expect("the capture can be written");
                    let (keylog, _) = super::write_keylog(&trace, &format!("{stem}.keys"));
                    let pref = format!("tls.keylog_file:{}", keylog.display());
                    let count = |filter: &str, field: &str| -> usize {
                        let out = tshark(
                            &file,
                            &["-o", &pref, "-Y", filter, "-T", "fields", "-e", field],
                        )
                        .unwrap();
                        // One row per frame; a frame with two messages lists both.
                        out.lines().flat_map(|l| l.split(',')).filter(|v| !v.is_empty()).count()
                    };
                    let decrypted = (
                        count("http.request", "http.request.method"),
                        count("http.response", "http.response.code"),
                    );
                    let written = http_messages_written(&trace);
                    Some((format!("{parent}/{name}"), written, decrypted))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a checking thread panicked"))
            .collect()
    });
    let checked: Vec<_> = results.into_iter().flatten().collect();
    assert!(
        checked.len() >= 9,
        "only {} TLS scenarios found",
        checked.len()
    );
    let requests: usize = checked.iter().map(|(_, written, _)| written.0).sum();
    assert!(requests >= 25, "only {requests} requests in all");
    let problems: Vec<String> = checked
        .iter()
        .filter(|(_, written, decrypted)| written != decrypted)
        .map(|(name, written, decrypted)| {
            format!("{name}: written (requests, responses) {written:?}, decrypted by tshark {decrypted:?}")
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

//! The whole text trace of one hyper request over simnet, as a snapshot:
//! the handshake, the request, the response and the close. A hyper client
//! sends one GET with `Connection: close` to a hyper server; the server
//! answers and closes, the client closes its end. The snapshot must be
//! byte-identical from run to run (the test renders two runs and compares
//! them before taking it).

mod common;

use common::two_hosts;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use simnet_core::SimTime;
use simnet_core::trace::AppEvent;
use simnet_tokio::net::{TcpListener, TcpStream};
use simnet_tokio::{AsyncApp, emit};
use std::convert::Infallible;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello from {}\n",
        req.uri().path()
    )))))
}

async fn server() -> Result<(), BoxError> {
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                // hyper's `Date` header reads the wall clock: off, so the
                // response's bytes are the same in every run.
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

async fn client() -> Result<(), BoxError> {
    let stream = TcpStream::connect("server:80").await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let req = Request::get("/index.html")
        .header("host", "server")
        .header("connection", "close")
        .body(Empty::<Bytes>::new())?;
    let res = sender.send_request(req).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    emit(AppEvent::new(
        "client.response",
        format!("{status} {}", String::from_utf8_lossy(&body).trim()),
    ));
    drop(sender);
    // hyper closes the connection once the response is read.
    conn.await??;
    Ok(())
}

/// One run's whole trace.
fn trace() -> simnet_core::trace::Trace {
    let (mut b, client_host, server_host) = two_hosts(7);
    b.app(server_host, "hyper-server", || AsyncApp::new(server));
    b.app(client_host, "hyper-client", || AsyncApp::new(client));
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(1));
    world.take_trace()
}

/// One run's whole trace as text.
fn run() -> String {
    simnet_trace::render_text(&trace(), &simnet_trace::TextOptions::default())
}

#[test]
fn one_hyper_request_handshake_to_close() {
    let text = run();
    assert_eq!(text, run(), "the trace is the same in every run");
    insta::assert_snapshot!(text);
}

/// What the user's code did comes out in every other format too: the
/// Mermaid diagram names the request and the response, the summary has the
/// one connection with its bytes each way, and the pcap holds every packet the trace sent
/// (tshark reads it as HTTP when it is installed, as CI installs it).
#[test]
fn the_other_outputs_show_the_users_code_too() {
    let trace = trace();
    let packets = trace
        .records
        .iter()
        .filter(|r| matches!(r.event, simnet_core::trace::TraceEvent::PacketSent { .. }))
        .count();
    let mermaid = simnet_trace::render_mermaid(&trace, &simnet_trace::MermaidOptions::default());
    assert!(mermaid.contains("GET /index.html HTTP/1.1"), "{mermaid}");
    assert!(mermaid.contains("HTTP/1.1 200 OK"), "{mermaid}");
    let summary = simnet_trace::summary::render_summary(&trace);
    assert!(
        summary.contains("1 client:49152 server:80 0.000ms 20ms      61         81"),
        "{summary}"
    );
    let pcap = simnet_trace::render_pcap(&trace);
    // 24 bytes of file header, then 16 of header per packet plus its bytes.
    let mut at = 24;
    let mut count = 0;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
        count += 1;
    }
    assert_eq!((count, at), (packets, pcap.len()));
    let Ok(tshark) = std::process::Command::new("tshark")
        .arg("--version")
        .output()
    else {
        eprintln!("tshark is not installed: the pcap was checked by its structure only");
        return;
    };
    assert!(tshark.status.success());
    let path = std::env::temp_dir().join(format!("simnet-tokio-{}.pcap", std::process::id()));
    std::fs::write(&path, &pcap).unwrap();
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            path.to_str().unwrap(),
            "-Y",
            "http",
            "-T",
            "fields",
            "-e",
            "http.request.method",
            "-e",
            "http.response.code",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fields = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = fields.lines().map(str::trim).collect();
    assert_eq!(lines, ["GET", "200"], "{fields}");
}

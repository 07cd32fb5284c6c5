//! hyper 1.x, unchanged, over simnet: an HTTP/1.1 server and a client that
//! sends three requests on one keep-alive connection.

mod common;

use common::{syns_from, times_of, two_hosts};
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

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello from {}",
        req.uri().path()
    )))))
}

async fn server() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

async fn client() -> Result<(), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect("server:80").await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    for path in ["/a", "/b", "/c"] {
        let req = Request::get(path)
            .header("host", "server")
            .body(Empty::<Bytes>::new())?;
        let res = sender.send_request(req).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        emit(AppEvent::new(
            "client.response",
            format!("{status} {}", String::from_utf8_lossy(&body)),
        ));
    }
    Ok(())
}

#[test]
fn three_requests_on_one_keep_alive_connection() {
    let (mut b, client_host, server_host) = two_hosts(5);
    b.app(server_host, "hyper-server", || AsyncApp::new(server));
    b.app(client_host, "hyper-client", || AsyncApp::new(client));
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(2));
    let trace = world.take_trace();
    let responses: Vec<String> = common::app_events(&trace)
        .into_iter()
        .filter(|(_, k, _)| k == "client.response")
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!(
        responses,
        [
            "200 OK hello from /a",
            "200 OK hello from /b",
            "200 OK hello from /c"
        ]
    );
    // Handshake 20 ms, then one round trip per request.
    assert_eq!(
        times_of(&trace, "client.response"),
        vec![common::ms(40), common::ms(60), common::ms(80)]
    );
    assert_eq!(syns_from(&trace, client_host), 1, "one connection");
    assert_eq!(times_of(&trace, "task.finished"), vec![common::ms(80)]);
}

//! Bring your own code: a hyper server and client, written for tokio as
//! usual, run on two simnet hosts over a 10 ms link; prints the trace.
//! `cargo run -p tokio-hyper`.
//!
//! The five lines that put your own server on a simnet host:
//!
//! ```ignore
//! let mut b = WorldBuilder::new(1);
//! let server = b.host("server", [10, 0, 0, 2].into());
//! b.app(server, "hyper", || AsyncApp::new(serve));  // your async fn
//! let mut world = b.build()?;
//! world.run_until(SimTime::from_secs(1));
//! ```
//!
//! `serve` binds `simnet_tokio::net::TcpListener` where it would bind
//! `tokio::net::TcpListener`; everything else is unchanged.

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use simnet_core::{LinkParams, SimDuration, SimTime, WorldBuilder};
use simnet_tokio::AsyncApp;
use simnet_tokio::net::{TcpListener, TcpStream};
use std::convert::Infallible;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello from {}\n", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// An ordinary hyper server.
async fn serve() -> Result<(), BoxError> {
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

/// An ordinary hyper client: two requests on one connection.
async fn fetch() -> Result<(), BoxError> {
    let stream = TcpStream::connect("server:80").await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    for path in ["/", "/again"] {
        let req = Request::get(path)
            .header("host", "server")
            .body(Empty::<Bytes>::new())?;
        let res = sender.send_request(req).await?;
        let body = res.into_body().collect().await?.to_bytes();
        simnet_tokio::emit(simnet_tokio::Event::new(
            "client.body",
            String::from_utf8_lossy(&body).trim().to_string(),
        ));
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut b = WorldBuilder::new(1);
    let client = b.host("client", [10, 0, 0, 1].into());
    let server = b.host("server", [10, 0, 0, 2].into());
    b.link(
        client,
        server,
        LinkParams::with_latency(SimDuration::from_millis(10)),
    );
    b.app(server, "hyper-server", || AsyncApp::new(serve));
    b.app(client, "hyper-client", || AsyncApp::new(fetch));
    let mut world = b.build()?;
    world.run_until(SimTime::from_secs(1));
    let trace = world.take_trace();
    print!(
        "{}",
        simnet_trace::render_text(&trace, &simnet_trace::TextOptions::default())
    );
    Ok(())
}

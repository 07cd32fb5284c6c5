//! tokio-tungstenite, unchanged, over simnet: text and binary messages,
//! ping and pong, and the closing handshake.
//!
//! (tungstenite draws its client key and frame masks from the OS's random
//! numbers, so this run is not byte-for-byte reproducible; what is checked
//! here does not depend on them.)

mod common;

use common::{app_events, two_hosts};
use futures_util::{SinkExt, StreamExt};
use simnet_core::SimTime;
use simnet_core::trace::AppEvent;
use simnet_tokio::net::{TcpListener, TcpStream};
use simnet_tokio::{AsyncApp, emit};
use tokio_tungstenite::tungstenite::Message;

async fn server() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    let (stream, _) = listener.accept().await?;
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    while let Some(msg) = ws.next().await {
        match msg? {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
            Message::Close(_) => {
                emit(AppEvent::new("server.close", "client closed"));
            }
            _ => {}
        }
    }
    emit(AppEvent::new("server.done", "stream ended"));
    Ok(())
}

async fn client() -> Result<(), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect("server:80").await?;
    let (mut ws, response) = tokio_tungstenite::client_async("ws://server/", stream).await?;
    emit(AppEvent::new(
        "client.upgraded",
        response.status().as_u16().to_string(),
    ));
    ws.send(Message::text("hello")).await?;
    ws.send(Message::binary(vec![1u8, 2, 3])).await?;
    ws.send(Message::Ping(vec![7u8].into())).await?;
    let mut seen = 0;
    while seen < 3 {
        let Some(msg) = ws.next().await else { break };
        let text = match msg? {
            Message::Text(t) => format!("text {t}"),
            Message::Binary(b) => format!("binary {:?}", b.as_ref()),
            Message::Pong(p) => format!("pong {:?}", p.as_ref()),
            other => format!("other {other:?}"),
        };
        emit(AppEvent::new("client.message", text));
        seen += 1;
    }
    ws.close(None).await?;
    // Read until the server's answering close frame ends the stream.
    while let Some(msg) = ws.next().await {
        if let Message::Close(_) = msg? {
            emit(AppEvent::new("client.closed", "close answered"));
        }
    }
    Ok(())
}

#[test]
fn messages_ping_and_close_over_websocket() {
    let (mut b, client_host, server_host) = two_hosts(6);
    b.app(server_host, "ws-server", || AsyncApp::new(server));
    b.app(client_host, "ws-client", || AsyncApp::new(client));
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(2));
    let trace = world.take_trace();
    let events: Vec<(String, String)> = app_events(&trace)
        .into_iter()
        .map(|(_, k, s)| (k, s))
        .collect();
    let of = |kind: &str| -> Vec<String> {
        events
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, s)| s.clone())
            .collect()
    };
    assert_eq!(of("client.upgraded"), ["101"]);
    assert_eq!(
        of("client.message"),
        ["text hello", "binary [1, 2, 3]", "pong [7]"]
    );
    assert_eq!(of("server.close"), ["client closed"]);
    assert_eq!(of("client.closed").len(), 1, "{events:#?}");
    assert_eq!(of("task.finished").len(), 2, "{events:#?}");
    assert!(of("task.error").is_empty(), "{events:#?}");
}

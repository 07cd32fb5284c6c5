//! UDP: a datagram echo by host name.

mod common;

use common::{ms, times_of, two_hosts};
use simnet_core::SimTime;
use simnet_core::trace::AppEvent;
use simnet_tokio::net::UdpSocket;
use simnet_tokio::{AsyncApp, emit};

#[test]
fn a_datagram_goes_there_and_back() {
    let (mut b, client, server) = two_hosts(7);
    b.app(server, "udp-echo", || {
        AsyncApp::new(|| async {
            let socket = UdpSocket::bind("0.0.0.0:53").await?;
            let mut buf = [0u8; 512];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await?;
                socket.send_to(&buf[..n], from).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        })
    });
    b.app(client, "udp-client", || {
        AsyncApp::new(|| async {
            let socket = UdpSocket::bind("0.0.0.0:0").await?;
            socket.send_to(b"ping", "server:53").await?;
            let mut buf = [0u8; 16];
            let (n, from) = socket.recv_from(&mut buf).await?;
            emit(AppEvent::new(
                "client.datagram",
                format!("{} from {from}", String::from_utf8_lossy(&buf[..n])),
            ));
            Ok::<(), std::io::Error>(())
        })
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(1));
    let trace = world.take_trace();
    assert_eq!(times_of(&trace, "client.datagram"), vec![ms(20)]);
    assert!(
        common::app_events(&trace)
            .iter()
            .any(|(_, _, s)| s == "ping from 10.0.0.2:53")
    );
}

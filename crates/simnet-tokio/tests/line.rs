//! A protocol of one's own: a line server that upper-cases, a client that
//! retries until the server listens, a timeout, errors and panics, crash
//! and restart, and reproducibility.

mod common;

use common::{app_events, ms, tcp_states, times_of, two_hosts};
use simnet_core::trace::AppEvent;
use simnet_core::{Action, SimTime, TcpState, World};
use simnet_tokio::net::{TcpListener, TcpStream};
use simnet_tokio::{AsyncApp, Outcome, TaskReport, emit};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Listens on port 7000 after `delay`, and answers each line upper-cased.
async fn upper_server(delay: Duration) -> std::io::Result<()> {
    tokio::time::sleep(delay).await;
    let listener = TcpListener::bind("0.0.0.0:7000").await?;
    emit(AppEvent::new("server.listening", "listening on :7000"));
    loop {
        let (stream, peer) = listener.accept().await?;
        emit(AppEvent::new("server.accepted", format!("from {peer}")));
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply = format!("{}\n", line.to_uppercase());
                if write.write_all(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Connects (retrying every 200 ms while refused), sends two lines and
/// reports the answers.
async fn retrying_client() -> std::io::Result<()> {
    let mut stream = loop {
        match TcpStream::connect("server:7000").await {
            Ok(s) => break s,
            Err(e) => {
                emit(AppEvent::new("client.refused", format!("{:?}", e.kind())));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    emit(AppEvent::new(
        "client.connected",
        format!("to {}", stream.peer_addr()?),
    ));
    stream.set_nodelay(true)?;
    stream.write_all(b"hello\nworld\n").await?;
    let mut lines = BufReader::new(stream).lines();
    let a = lines.next_line().await?.unwrap_or_default();
    let b = lines.next_line().await?.unwrap_or_default();
    emit(AppEvent::new("client.reply", format!("{a} {b}")));
    Ok(())
}

fn line_world(seed: u64) -> (World, simnet_core::HostId) {
    let (mut b, client, server) = two_hosts(seed);
    b.app(server, "upper", || {
        AsyncApp::new(|| upper_server(Duration::from_secs(1)))
    });
    b.app(client, "retry", || AsyncApp::new(retrying_client));
    (b.build().unwrap(), client)
}

#[test]
fn a_refused_connect_is_retried_until_the_server_listens() {
    let (mut world, client) = line_world(1);
    world.run_until(SimTime::from_secs(3));
    let trace = world.take_trace();
    // SYN at 0, RST back at 20 ms; the retries at 220, 440, 660 and 880 ms
    // are refused 20 ms later; the server listens from 1 s, so the retry at
    // 1.1 s connects at 1.12 s.
    assert_eq!(
        times_of(&trace, "client.refused"),
        vec![ms(20), ms(240), ms(460), ms(680), ms(900)]
    );
    assert!(
        app_events(&trace)
            .iter()
            .filter(|(_, k, _)| k == "client.refused")
            .all(|(_, _, s)| s == "ConnectionRefused")
    );
    assert_eq!(times_of(&trace, "server.listening"), vec![ms(1000)]);
    assert_eq!(times_of(&trace, "client.connected"), vec![ms(1120)]);
    let states = tcp_states(&trace, client);
    let first_close = states
        .iter()
        .find(|(_, _, to, _)| *to == TcpState::Closed)
        .unwrap();
    assert_eq!(
        *first_close,
        (ms(20), TcpState::SynSent, TcpState::Closed, true),
        "the first attempt ends with a RST"
    );
    assert!(
        states
            .iter()
            .any(|s| *s == (ms(1120), TcpState::SynSent, TcpState::Established, false))
    );
    let replies: Vec<_> = app_events(&trace)
        .into_iter()
        .filter(|(_, k, _)| k == "client.reply")
        .collect();
    // The lines leave at 1.12 s and the answer is back one round trip later.
    assert_eq!(
        replies,
        vec![(ms(1140), "client.reply".into(), "HELLO WORLD".into())]
    );
    assert_eq!(times_of(&trace, "task.finished"), vec![ms(1140)]);
}

#[test]
fn the_same_world_twice_gives_the_same_trace() {
    let render = |seed| {
        let (mut world, _) = line_world(seed);
        world.run_until(SimTime::from_secs(2));
        simnet_trace::render_jsonl(&world.take_trace())
    };
    let first = render(9);
    assert!(first.contains("HELLO WORLD"));
    assert_eq!(first, render(9));
}

/// Accepts connections and never answers.
async fn silent_server() -> std::io::Result<()> {
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    let mut held = Vec::new();
    loop {
        held.push(listener.accept().await?.0);
    }
}

#[test]
fn a_thirty_second_timeout_fires_at_thirty_seconds() {
    let (mut b, client, server) = two_hosts(2);
    // A server that accepts and never answers.
    b.app(server, "silent", || AsyncApp::new(silent_server));
    b.app(client, "impatient", || {
        AsyncApp::new(|| async {
            let result = tokio::time::timeout(Duration::from_secs(30), async {
                let mut stream = TcpStream::connect("10.0.0.2:80").await?;
                let mut buf = [0u8; 16];
                tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await
            })
            .await;
            match result {
                Err(_) => emit(AppEvent::new("client.timeout", "gave up after 30 s")),
                Ok(r) => emit(AppEvent::new("client.read", format!("{r:?}"))),
            }
            Ok::<(), std::io::Error>(())
        })
    });
    let _ = (client, server);
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(40));
    let trace = world.take_trace();
    assert_eq!(
        times_of(&trace, "client.timeout"),
        vec![SimTime::from_secs(30)]
    );
    assert!(times_of(&trace, "client.read").is_empty());
}

#[test]
fn errors_and_panics_are_reported_and_the_run_goes_on() {
    let (mut b, client, _server) = two_hosts(3);
    let errors = TaskReport::new();
    let panics = TaskReport::new();
    let e = errors.clone();
    b.app(client, "fails", move || {
        AsyncApp::new(|| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Err::<(), _>("boom")
        })
        .report_to(e.clone())
    });
    let p = panics.clone();
    b.app(client, "panics", move || {
        AsyncApp::new(|| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if SimTime::ZERO == SimTime::ZERO {
                panic!("kaboom");
            }
            Ok::<(), String>(())
        })
        .report_to(p.clone())
    });
    b.app(client, "lives-on", || {
        AsyncApp::new(|| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            emit(AppEvent::new("still.here", "after the others failed"));
            Ok::<(), String>(())
        })
    });
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(1));
    let trace = world.take_trace();
    assert_eq!(times_of(&trace, "task.error"), vec![ms(5)]);
    assert_eq!(times_of(&trace, "task.panic"), vec![ms(10)]);
    assert_eq!(times_of(&trace, "still.here"), vec![ms(100)]);
    assert_eq!(
        errors.outcomes(),
        vec![(ms(5), Outcome::Error("boom".into()))]
    );
    assert_eq!(
        panics.outcomes(),
        vec![(ms(10), Outcome::Panic("kaboom".into()))]
    );
}

#[test]
fn a_restarted_host_runs_its_task_again() {
    let (mut b, client, server) = two_hosts(4);
    b.app(server, "upper", || {
        AsyncApp::new(|| async {
            emit(AppEvent::new("server.started", "task started"));
            upper_server(Duration::ZERO).await
        })
    });
    b.app_at(client, "retry", SimTime::from_millis(2500), || {
        AsyncApp::new(retrying_client)
    });
    b.at(SimTime::from_secs(1), Action::Crash(server));
    b.at(SimTime::from_secs(2), Action::Restart(server));
    let mut world = b.build().unwrap();
    world.run_until(SimTime::from_secs(4));
    let trace = world.take_trace();
    assert_eq!(times_of(&trace, "server.started"), vec![ms(0), ms(2000)]);
    assert_eq!(times_of(&trace, "server.listening"), vec![ms(0), ms(2000)]);
    assert_eq!(times_of(&trace, "client.connected"), vec![ms(2520)]);
    assert_eq!(times_of(&trace, "client.reply"), vec![ms(2540)]);
}

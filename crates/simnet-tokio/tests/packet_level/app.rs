// The application of tests/packet_level.rs: servers and clients written
// for tokio, included twice there, once in a module that imports
// `TcpListener` and `TcpStream` from `turmoil::net` and once from
// `simnet_tokio::net`. The book's chapter "Testing your own async code"
// shows the parts between the ANCHOR lines.

use super::{BoxError, Requests, Stuck};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::time::{Instant, timeout};

// ANCHOR: upper
/// Answers each line upper-cased.
pub async fn upper_server() -> Result<(), BoxError> {
    let listener = TcpListener::bind("0.0.0.0:7000").await?;
    loop {
        let (stream, _) = listener.accept().await?;
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

/// Sends one line and returns the answer.
pub async fn upper_client() -> Result<String, BoxError> {
    let mut stream = TcpStream::connect("server:7000").await?;
    stream.write_all(b"hello\n").await?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).await?;
    Ok(answer)
}
// ANCHOR_END: upper

// ANCHOR: eager
/// Accepts one connection and never reads from it.
pub async fn deaf_server() -> Result<(), BoxError> {
    let listener = TcpListener::bind("0.0.0.0:7000").await?;
    let (_stream, _) = listener.accept().await?;
    std::future::pending::<()>().await;
    Ok(())
}

/// Writes 16 KiB at a time, as fast as the connection takes it,
/// and gives up when 30 s have passed.
pub async fn eager_writer() -> Result<Stuck, BoxError> {
    let mut stream = TcpStream::connect("server:7000").await?;
    let start = Instant::now();
    let chunk = [0u8; 16 * 1024];
    let (mut written, mut writes, mut last) = (0u64, 0u32, start);
    let ended = timeout(Duration::from_secs(30), async {
        loop {
            match stream.write(&chunk).await {
                Ok(n) => (written, writes, last) = (written + n as u64, writes + 1, Instant::now()),
                Err(e) => return e,
            }
        }
    })
    .await;
    if let Ok(e) = ended {
        return Err(e.into());
    }
    Ok(Stuck {
        written,
        writes,
        last_write: last - start,
        gave_up: start.elapsed(),
    })
}
// ANCHOR_END: eager

// ANCHOR: per-request
/// Answers one "ping" per connection with "pong", then waits for
/// the client to close (so the client closes first).
pub async fn pong_server() -> Result<(), BoxError> {
    let listener = TcpListener::bind("0.0.0.0:7000").await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = [0u8; 5];
            if stream.read_exact(&mut buf).await.is_ok()
                && stream.write_all(b"pong\n").await.is_ok()
            {
                let _ = stream.read(&mut buf).await;
            }
        });
    }
}

/// `requests` requests, each on a new connection that the client
/// closes once the answer is in.
pub async fn connection_per_request(requests: u32) -> Requests {
    let start = Instant::now();
    for n in 1..=requests {
        let result: std::io::Result<()> = async {
            let mut stream = TcpStream::connect("server:7000").await?;
            stream.write_all(b"ping\n").await?;
            let mut answer = [0u8; 5];
            stream.read_exact(&mut answer).await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            return Requests {
                answered: n - 1,
                failed: Some((n, e.kind(), start.elapsed())),
            };
        }
    }
    Requests {
        answered: requests,
        failed: None,
    }
}
// ANCHOR_END: per-request

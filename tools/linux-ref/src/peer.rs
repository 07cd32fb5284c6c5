//! The peer: a tiny TCP client or server for the kernel's stack, driven by
//! a list of actions that mirror what simnet's applications do in the
//! matching scenario.
//!
//! Actions (words; arguments after colons):
//!
//! | action | what it does |
//! |---|---|
//! | `listen:PORT[:BACKLOG]` | bind 0.0.0.0:PORT and listen (backlog 16 unless given) |
//! | `accept` | accept one connection; it becomes the current one |
//! | `connect:IP:PORT` | connect (blocking); on success it becomes the current one, on failure the error is printed and the next action runs |
//! | `write:N` | write N bytes |
//! | `read:N` | read N bytes (fewer if the stream ends) |
//! | `read-eof` | read until the end of the stream |
//! | `echo` | send back everything read, until the end of the stream |
//! | `wait-error` | read until the end of the stream or an error (a reset, a keepalive timeout) |
//! | `shutdown-write` | shutdown(SHUT_WR): send FIN, keep reading |
//! | `close` | close the current connection |
//! | `linger0` | SO_LINGER with a zero timeout on the current connection |
//! | `nodelay` | TCP_NODELAY on the current connection |
//! | `keepalive:IDLE:INTERVAL:COUNT` | SO_KEEPALIVE with these seconds and probe count |
//! | `sleep:MS` | sleep |
//! | `at:MS` | sleep until MS after `LINUX_REF_T0_MS` (epoch milliseconds; the script gives both peers the same) |
//! | `fill:IP` | send one 1472-byte UDP datagram to IP:9 (empties the token bucket of a shaped link) |
//!
//! Connections stay open (and unaccepted ones queued) until `close` or the
//! end of the program. Every action and its outcome is printed on one line.
//! The peer talks to a real kernel, so it reads the wall clock (`at:`),
//! which simnet's own code never does.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socket2::{Domain, SockRef, Socket, TcpKeepalive, Type};

/// One action of a peer's script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Listen on a port with a backlog.
    Listen(u16, i32),
    /// Accept one connection.
    Accept,
    /// Connect to an address.
    Connect(SocketAddrV4),
    /// Write this many bytes.
    Write(usize),
    /// Read this many bytes.
    Read(usize),
    /// Read until the end of the stream.
    ReadEof,
    /// Echo until the end of the stream.
    Echo,
    /// Read until the end of the stream or an error.
    WaitError,
    /// Shut down the sending side.
    ShutdownWrite,
    /// Close the current connection.
    Close,
    /// SO_LINGER 0.
    Linger0,
    /// TCP_NODELAY.
    NoDelay,
    /// Keepalive idle seconds, interval seconds, probe count.
    Keepalive(u64, u64, u32),
    /// Sleep this many milliseconds.
    Sleep(u64),
    /// Sleep until this many milliseconds after the shared start.
    At(u64),
    /// Send a filler datagram to this address.
    Fill(Ipv4Addr),
}

fn num<T: std::str::FromStr>(word: &str, s: Option<&str>) -> Result<T, String> {
    let s = s.ok_or_else(|| format!("{word:?}: missing argument"))?;
    s.parse()
        .map_err(|_| format!("{word:?}: {s:?} is not a number"))
}

/// Parses a script: whitespace-separated action words.
pub fn parse(script: &str) -> Result<Vec<Action>, String> {
    script
        .split_whitespace()
        .map(|word| {
            let mut parts = word.split(':');
            let name = parts.next().unwrap_or_default();
            let args: Vec<&str> = parts.collect();
            let arg = |i: usize| args.get(i).copied();
            let want = |n: std::ops::RangeInclusive<usize>| {
                if n.contains(&args.len()) {
                    Ok(())
                } else {
                    Err(format!("{word:?}: wrong number of arguments"))
                }
            };
            let action = match name {
                "listen" => {
                    want(1..=2)?;
                    let backlog = if args.len() == 2 {
                        num(word, arg(1))?
                    } else {
                        16
                    };
                    Action::Listen(num(word, arg(0))?, backlog)
                }
                "accept" => Action::Accept,
                "connect" => {
                    want(2..=2)?;
                    let ip: Ipv4Addr = arg(0)
                        .unwrap_or_default()
                        .parse()
                        .map_err(|_| format!("{word:?}: not an IPv4 address"))?;
                    Action::Connect(SocketAddrV4::new(ip, num(word, arg(1))?))
                }
                "write" => Action::Write(num(word, arg(0))?),
                "read" => Action::Read(num(word, arg(0))?),
                "read-eof" => Action::ReadEof,
                "echo" => Action::Echo,
                "wait-error" => Action::WaitError,
                "shutdown-write" => Action::ShutdownWrite,
                "close" => Action::Close,
                "linger0" => Action::Linger0,
                "nodelay" => Action::NoDelay,
                "keepalive" => {
                    want(3..=3)?;
                    Action::Keepalive(num(word, arg(0))?, num(word, arg(1))?, num(word, arg(2))?)
                }
                "sleep" => Action::Sleep(num(word, arg(0))?),
                "at" => Action::At(num(word, arg(0))?),
                "fill" => Action::Fill(
                    arg(0)
                        .unwrap_or_default()
                        .parse()
                        .map_err(|_| format!("{word:?}: not an IPv4 address"))?,
                ),
                other => {
                    return Err(format!(
                        "unknown action {other:?} (see `linux-ref peer --help`)"
                    ));
                }
            };
            let no_args = matches!(
                action,
                Action::Accept
                    | Action::ReadEof
                    | Action::Echo
                    | Action::WaitError
                    | Action::ShutdownWrite
                    | Action::Close
                    | Action::Linger0
                    | Action::NoDelay
            );
            if no_args && !args.is_empty() {
                return Err(format!("{word:?} takes no argument"));
            }
            if matches!(
                action,
                Action::Write(_)
                    | Action::Read(_)
                    | Action::Sleep(_)
                    | Action::At(_)
                    | Action::Fill(_)
            ) {
                want(1..=1)?;
            }
            Ok(action)
        })
        .collect()
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs a script; `name` prefixes each printed line. Returns an error only
/// for a script that cannot go on (an action needing a connection when
/// there is none, a port that cannot be bound).
pub fn run(name: &str, actions: &[Action]) -> Result<(), String> {
    let t0 = std::env::var("LINUX_REF_T0_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(epoch_ms);
    let mut listener: Option<TcpListener> = None;
    let mut current: Option<TcpStream> = None;
    // Connections kept open (and so, on a server, kept queued) until exit.
    let mut kept: Vec<TcpStream> = Vec::new();
    let say = |what: &str| {
        println!("{name}: {what}");
        let _ = io::stdout().flush();
    };
    for action in actions {
        let conn = |c: &mut Option<TcpStream>| -> Result<TcpStream, String> {
            c.as_ref()
                .ok_or_else(|| format!("{action:?}: no current connection"))?
                .try_clone()
                .map_err(|e| format!("{action:?}: {e}"))
        };
        match action {
            Action::Listen(port, backlog) => {
                let sock = Socket::new(Domain::IPV4, Type::STREAM, None)
                    .and_then(|s| {
                        s.set_reuse_address(true)?;
                        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, *port));
                        s.bind(&addr.into())?;
                        s.listen(*backlog)?;
                        Ok(s)
                    })
                    .map_err(|e| format!("listen on port {port}: {e}"))?;
                listener = Some(sock.into());
                say(&format!("listening on port {port}, backlog {backlog}"));
            }
            Action::Accept => {
                let l = listener
                    .as_ref()
                    .ok_or("accept: nothing is listening (listen first)")?;
                match l.accept() {
                    Ok((s, from)) => {
                        say(&format!("accepted {from}"));
                        if let Some(old) = current.replace(s) {
                            kept.push(old);
                        }
                    }
                    Err(e) => say(&format!("accept failed: {e}")),
                }
            }
            Action::Connect(addr) => match TcpStream::connect(addr) {
                Ok(s) => {
                    say(&format!("connected to {addr}"));
                    if let Some(old) = current.replace(s) {
                        kept.push(old);
                    }
                }
                Err(e) => say(&format!("connect to {addr} failed: {e}")),
            },
            Action::Write(n) => {
                let mut s = conn(&mut current)?;
                let data: Vec<u8> = (0..*n).map(|i| b'a' + (i % 26) as u8).collect();
                match s.write_all(&data) {
                    Ok(()) => say(&format!("wrote {n} bytes")),
                    Err(e) => say(&format!("write failed: {e}")),
                }
            }
            Action::Read(n) => {
                let mut s = conn(&mut current)?;
                let mut buf = vec![0; *n];
                let mut got = 0;
                let outcome = loop {
                    if got == *n {
                        break "".to_string();
                    }
                    match s.read(&mut buf[got..]) {
                        Ok(0) => break ", then end of stream".to_string(),
                        Ok(k) => got += k,
                        Err(e) => break format!(", then error: {e}"),
                    }
                };
                say(&format!("read {got} bytes{outcome}"));
            }
            Action::ReadEof | Action::Echo | Action::WaitError => {
                let mut s = conn(&mut current)?;
                let mut buf = [0; 4096];
                let mut got = 0;
                let outcome = loop {
                    match s.read(&mut buf) {
                        Ok(0) => break "end of stream".to_string(),
                        Ok(k) => {
                            got += k;
                            if *action == Action::Echo
                                && let Err(e) = s.write_all(&buf[..k])
                            {
                                break format!("write error: {e}");
                            }
                        }
                        Err(e) => break format!("error: {e}"),
                    }
                };
                say(&format!("read {got} bytes, then {outcome}"));
            }
            Action::ShutdownWrite => {
                let s = conn(&mut current)?;
                match s.shutdown(std::net::Shutdown::Write) {
                    Ok(()) => say("shut down writing"),
                    Err(e) => say(&format!("shutdown failed: {e}")),
                }
            }
            Action::Close => {
                current.take().ok_or("close: no current connection")?;
                say("closed");
            }
            Action::Linger0 => {
                let s = conn(&mut current)?;
                SockRef::from(&s)
                    .set_linger(Some(Duration::ZERO))
                    .map_err(|e| format!("SO_LINGER: {e}"))?;
                say("SO_LINGER 0");
            }
            Action::NoDelay => {
                conn(&mut current)?
                    .set_nodelay(true)
                    .map_err(|e| format!("TCP_NODELAY: {e}"))?;
                say("TCP_NODELAY");
            }
            Action::Keepalive(idle, interval, count) => {
                let s = conn(&mut current)?;
                let ka = TcpKeepalive::new()
                    .with_time(Duration::from_secs(*idle))
                    .with_interval(Duration::from_secs(*interval))
                    .with_retries(*count);
                let sock = SockRef::from(&s);
                sock.set_tcp_keepalive(&ka)
                    .and_then(|()| sock.set_keepalive(true))
                    .map_err(|e| format!("keepalive: {e}"))?;
                say(&format!(
                    "keepalive idle {idle} s, interval {interval} s, {count} probes"
                ));
            }
            Action::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Action::At(ms) => {
                let now = epoch_ms();
                let until = t0.saturating_add(*ms);
                if until > now {
                    std::thread::sleep(Duration::from_millis(until - now));
                }
            }
            Action::Fill(ip) => {
                let sent = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
                    .and_then(|u| u.send_to(&[0; 1472], (*ip, 9)));
                match sent {
                    Ok(_) => say(&format!("filler datagram to {ip}")),
                    Err(e) => say(&format!("filler datagram failed: {e}")),
                }
            }
        }
    }
    drop(kept);
    say("done");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scripts() {
        let a = parse("listen:80:1 accept read:5 write:5 close sleep:10 keepalive:1:1:3").unwrap();
        assert_eq!(a[0], Action::Listen(80, 1));
        assert_eq!(a[6], Action::Keepalive(1, 1, 3));
        let b = parse("connect:10.0.0.2:80 fill:10.0.0.9 at:100").unwrap();
        assert_eq!(b[0], Action::Connect("10.0.0.2:80".parse().unwrap()));
        assert_eq!(parse("listen:80").unwrap()[0], Action::Listen(80, 16));
    }

    #[test]
    fn refuses_bad_scripts() {
        for bad in [
            "jump",
            "listen",
            "listen:x",
            "connect:10.0.0.2",
            "connect:host:80",
            "write",
            "write:1:2",
            "close:now",
            "keepalive:1:1",
            "fill:nowhere",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn talks_to_itself_over_loopback() {
        // A real run of the action machinery, on loopback (no root needed):
        // a connect to a port nobody listens on fails and the script goes on.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let script = parse(&format!("connect:127.0.0.1:{port} sleep:1")).unwrap();
        assert!(run("test", &script).is_ok());
        assert!(run("test", &parse("write:1").unwrap()).is_err());
    }
}

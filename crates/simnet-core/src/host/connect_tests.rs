//! Many connects from one host: the ephemeral port search stays cheap when
//! the range is full, and picks the ports a scan from the cursor would; and
//! a connect from a bound port.

use super::*;
use crate::rng::Seed;

fn host(ephemeral_ports: (u16, u16)) -> Host {
    let config = HostConfig {
        ephemeral_ports,
        ..HostConfig::default()
    };
    let rng = Seed(1).stream("host");
    Host::new(
        HostId(0),
        "h".into(),
        Ipv4Addr::new(10, 0, 0, 1),
        config,
        rng,
    )
}

fn connect(h: &mut Host, to: SocketAddrV4) -> Result<u16, SocketError> {
    let sid = h.connect(SimTime::ZERO, AppId(0), to)?;
    h.effects.clear();
    let stack = h.stack.as_ref().expect("up");
    Ok(stack.sockets.get(&sid).expect("a socket").local_port)
}

/// 50,000 connects to one destination, 33,616 of them after its ports ran
/// out. A scan of the range per failed connect would be 550 million probes
/// (minutes, which CI's time would show); with the index each is a few
/// lookups. The cost itself is measured by the benches, not here.
#[test]
fn fifty_thousand_connects_after_exhaustion() {
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
    let mut h = host((49152, 65535));
    let mut ok = 0;
    for i in 0..50_000u32 {
        match connect(&mut h, to) {
            Ok(port) => {
                assert_eq!(u32::from(port), 49152 + i);
                ok += 1;
            }
            Err(e) => assert_eq!(e, SocketError::PortsExhausted(16384)),
        }
    }
    assert_eq!(ok, 16384);
}

#[test]
fn the_search_skips_listeners_and_wraps_like_a_scan() {
    let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
    let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 80);
    let mut h = host((50000, 50009));
    h.listen(SimTime::ZERO, AppId(0), 50002, Some(1))
        .expect("listen");
    let ports: Vec<u16> = (0..9)
        .map(|_| connect(&mut h, a).expect("a port"))
        .collect();
    assert_eq!(
        ports,
        [
            50000, 50001, 50003, 50004, 50005, 50006, 50007, 50008, 50009
        ]
    );
    assert_eq!(connect(&mut h, a), Err(SocketError::PortsExhausted(10)));
    // Another destination shares every port but the listener's, from the
    // cursor (which wrapped to the start).
    assert_eq!(connect(&mut h, b), Ok(50000));
    assert_eq!(connect(&mut h, b), Ok(50001));
    assert_eq!(connect(&mut h, b), Ok(50003));
}

/// `connect_from` is `bind()` then `connect()`: a port any socket uses
/// (a listener, a connection) is refused with EADDRINUSE, and a bound
/// port is then pinned, so ephemeral connects skip it.
#[test]
fn a_bound_connect_needs_a_free_port_and_pins_it() {
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
    let mut h = host((50000, 50002));
    h.listen(SimTime::ZERO, AppId(0), 7000, Some(1))
        .expect("listen");
    assert_eq!(
        h.connect_from(SimTime::ZERO, AppId(0), Some(7000), to),
        Err(SocketError::PortInUse(7000))
    );
    assert_eq!(
        h.connect_from(SimTime::ZERO, AppId(0), Some(0), to),
        Err(SocketError::InvalidAddress)
    );
    let sid = h
        .connect_from(SimTime::ZERO, AppId(0), Some(50001), to)
        .expect("a free port binds");
    h.effects.clear();
    let stack = h.stack.as_ref().expect("up");
    assert_eq!(stack.sockets.get(&sid).expect("a socket").local_port, 50001);
    // Another destination may not share the bound port, unlike an
    // ephemeral one: only 50000 and 50002 are left for it.
    let other = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 80);
    assert_eq!(connect(&mut h, other), Ok(50000));
    assert_eq!(connect(&mut h, other), Ok(50002));
    assert_eq!(connect(&mut h, other), Err(SocketError::PortsExhausted(3)));
    // And binding it a second time fails.
    assert_eq!(
        h.connect_from(SimTime::ZERO, AppId(0), Some(50001), other),
        Err(SocketError::PortInUse(50001))
    );
}

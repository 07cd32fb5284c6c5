//! What `bind`, `connect` and `send_to` accept as an address.

use crate::io::Target;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

/// Something that names a simulated endpoint: a socket address
/// (`"10.0.0.2:80"`, a [`SocketAddr`], `(Ipv4Addr, u16)`) or a scenario
/// host's name and a port (`"server:80"`, `("server", 80)`), which the
/// host's directory resolves (simnet's stand-in for DNS).
///
/// Only IPv4 exists in a simulated world: an IPv6 address is an
/// [`InvalidInput`](io::ErrorKind::InvalidInput) error.
pub trait ToSimAddr {
    /// The endpoint, or why this is not one.
    #[doc(hidden)]
    fn to_target(&self) -> io::Result<Target>;
}

fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "simnet hosts have IPv4 addresses only",
        )),
    }
}

impl ToSimAddr for SocketAddr {
    fn to_target(&self) -> io::Result<Target> {
        v4(*self).map(Target::Addr)
    }
}

impl ToSimAddr for SocketAddrV4 {
    fn to_target(&self) -> io::Result<Target> {
        Ok(Target::Addr(*self))
    }
}

impl ToSimAddr for (Ipv4Addr, u16) {
    fn to_target(&self) -> io::Result<Target> {
        Ok(Target::Addr(SocketAddrV4::new(self.0, self.1)))
    }
}

impl ToSimAddr for (IpAddr, u16) {
    fn to_target(&self) -> io::Result<Target> {
        SocketAddr::new(self.0, self.1).to_target()
    }
}

impl ToSimAddr for (&str, u16) {
    fn to_target(&self) -> io::Result<Target> {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => (ip, self.1).to_target(),
            Err(_) => Ok(Target::Name(self.0.to_string(), self.1)),
        }
    }
}

impl ToSimAddr for str {
    fn to_target(&self) -> io::Result<Target> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return addr.to_target();
        }
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{self}` is not an address or a host:port"),
            )
        };
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port: u16 = port.parse().map_err(|_| invalid())?;
        if host.is_empty() {
            return Err(invalid());
        }
        (host, port).to_target()
    }
}

impl ToSimAddr for String {
    fn to_target(&self) -> io::Result<Target> {
        self.as_str().to_target()
    }
}

impl<T: ToSimAddr + ?Sized> ToSimAddr for &T {
    fn to_target(&self) -> io::Result<Target> {
        (**self).to_target()
    }
}

/// The port a `bind` asks for: any address of the host (its own or
/// `0.0.0.0`) or a host name.
pub(crate) fn bind_port(target: &Target) -> u16 {
    match target {
        Target::Addr(a) => a.port(),
        Target::Name(_, port) => *port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_parse() {
        assert!(matches!(
            "10.0.0.2:80".to_target().unwrap(),
            Target::Addr(a) if a == SocketAddrV4::new([10, 0, 0, 2].into(), 80)
        ));
        assert!(matches!(
            "server:8080".to_target().unwrap(),
            Target::Name(h, 8080) if h == "server"
        ));
        assert!(matches!(
            ("server", 1).to_target().unwrap(),
            Target::Name(..)
        ));
        assert!("server".to_target().is_err());
        assert!(":80".to_target().is_err());
        assert!("server:http".to_target().is_err());
        assert!("[::1]:80".to_target().is_err());
    }
}

//! Sockets shaped like `tokio::net`'s, over simnet's TCP and UDP. They work
//! inside the tasks of an [`AsyncApp`](crate::AsyncApp); elsewhere every
//! constructor fails with an error saying so.

mod addr;
mod tcp;
mod udp;

pub use addr::ToSimAddr;
pub use tcp::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;

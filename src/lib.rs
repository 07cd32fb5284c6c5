//! simnet: a deterministic, userspace network simulator for seeing how TCP,
//! HTTP and WebSocket really behave.
//!
//! This crate is the facade the `simnet` binary and user tests build on. It
//! re-exports the engine ([`simnet_core`]) and the renderers
//! ([`simnet_trace`]).
//!
//! ```
//! use simnet::{apps::{TcpClient, TcpEcho}, render_text, LinkParams, SimDuration, TextOptions, WorldBuilder};
//!
//! let mut b = WorldBuilder::new(7);
//! let client = b.host("client", [10, 0, 0, 1].into());
//! let server = b.host("server", [10, 0, 0, 2].into());
//! b.link(client, server, LinkParams::with_latency(SimDuration::from_millis(10)));
//! b.app(server, "tcp-echo", || TcpEcho::new(80));
//! b.app(client, "tcp-client", || TcpClient::new("10.0.0.2:80".parse().unwrap(), b"hello", 5));
//! let mut world = b.build().unwrap();
//! world.run();
//! let text = render_text(world.trace(), &TextOptions::default());
//! assert!(text.contains("FIN-WAIT-2 -> TIME-WAIT"));
//! ```

pub use simnet_core::*;
pub use simnet_trace::{TextOptions, render_text};

/// The renderers.
pub mod render {
    pub use simnet_trace::*;
}

//! simnet-tls (work in progress)

pub mod certs;
pub mod clock;
pub mod config;
pub mod keylog;
pub mod provider;
pub mod session;
pub mod wire;

pub use clock::Epoch;
/// The rustls this crate wraps, for its error and alert types.
pub use rustls;

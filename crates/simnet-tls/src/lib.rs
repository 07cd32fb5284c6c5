//! simnet-tls: TLS for simnet's applications, deterministic (work in
//! progress; the module doc grows with the crate).

pub mod certs;
pub mod clock;
pub mod provider;

pub use clock::Epoch;

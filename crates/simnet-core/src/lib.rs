//! simnet-core: the deterministic engine.
pub mod time;

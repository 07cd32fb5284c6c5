//! Scale: what keeps a host's cost per event flat must not change what it does.
//!
//! - `time_wait`: connections in TIME-WAIT kept as small records instead of
//!   smoltcp sockets (`HostConfig::time_wait_minisockets`) send the same
//!   bytes and leave the same trace as the sockets they replace: every
//!   scenario, and TIME-WAIT torture cases built in code, run both ways.
//! - `recycle`: smoltcp sockets reused for new connections
//!   (`HostConfig::recycle_sockets`) send the same bytes and leave the same
//!   trace as new sockets would: every scenario, and connections ending in
//!   every way over a hostile link.
//! - `idle`: idle connections cost nothing between their timers, and add no
//!   events to a busy connection beside them.
//!
//! How fast any of this runs is measured by `benches/scale.rs`, not here.

mod compare;
mod idle;
mod recycle;
mod time_wait;

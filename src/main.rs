//! simnet
fn main() {}

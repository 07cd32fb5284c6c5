//! Declares the `tokio_unstable` cfg (set by the workspace's
//! `.cargo/config.toml`) so that `cfg(tokio_unstable)` is not reported as
//! unknown.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tokio_unstable)");
}

//! A `simnet` binary that also knows the `line-echo` and `line-client`
//! kinds: `cargo run -p line-echo -- run scenarios/line-echo.toml`.

// ANCHOR: main
fn main() -> std::process::ExitCode {
    let mut registry = simnet::registry();
    line_echo::register(&mut registry);
    simnet::cli::main(registry)
}
// ANCHOR_END: main

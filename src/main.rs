//! The `simnet` command line: `run`, `check`, `list`, `book`.
//!
//! Everything lives in [`simnet::cli`], so that a project with application
//! kinds of its own can build the same binary with them registered.

// jemalloc, not the system's allocator: a streamed run's records are made
// on one thread and come back to it in batches of 1,024 to be freed
// (`trace::SinkThread`), and glibc's per-thread cache, seven chunks per
// size, overflows on every batch. With jemalloc `ws-10k-1h` runs about an
// eighth faster; the output is the same byte for byte.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    simnet::cli::main(simnet::registry())
}

//! Bring your own code: async Rust written for tokio, run on simnet hosts
//! over simnet's packet-level TCP.
//!
//! ```ignore
//! use simnet_tokio::{AsyncApp, net::TcpListener};
//! b.app(server, "my-server", || AsyncApp::new(|| async {
//!     let listener = TcpListener::bind("0.0.0.0:80").await?;
//!     loop { let (stream, _) = listener.accept().await?; tokio::spawn(serve(stream)); }
//! }));
//! ```
//!
//! [`AsyncApp`] is a simnet [`App`](simnet_core::App). Each instance owns a
//! tokio current-thread runtime with a *paused* clock and no I/O driver,
//! plus a [`LocalSet`](tokio::task::LocalSet) in which it spawns the task
//! its factory builds (so that task need not be `Send`; tasks it spawns
//! with `tokio::spawn` run on the same thread). After a crash the world
//! drops the instance, runtime and all; a restart builds a new one and the
//! factory's task runs again.
//!
//! # How time advances
//!
//! tokio does not say when its next timer is due, so the adapter moves
//! tokio's clock along with simnet's: on every callback at simulated time
//! `T` it first runs the runtime until a `sleep_until` of `T` completes. A
//! paused tokio clock advances only when every task is idle, and then
//! straight to the next timer, so every user timer on the way fires at its
//! own deadline. While the main task (or any runtime task) is alive the
//! adapter keeps a simnet timer armed at the next multiple of its tick
//! (1 ms by default, see [`AsyncApp::tick`]) after the time it started,
//! so a `tokio::time::timeout` of 30 s fires at exactly 30 s of simulated
//! time, at no wall-clock cost.
//!
//! tokio rounds every deadline up to a whole millisecond of its clock, and
//! a paused clock advanced from a point between two milliseconds would
//! overshoot by the fraction. The adapter therefore keeps tokio's clock on
//! whole milliseconds since the runtime's creation: at simulated time `T`,
//! `tokio::time::Instant::now()` is the creation instant plus `T - start`
//! truncated to the millisecond. Timers keep their exact (millisecond)
//! deadlines; only readings of the clock in between lag by under 1 ms.
//!
//! After the clock, the adapter runs every task that is ready at `T`
//! without advancing the clock: it runs the runtime until tokio is about
//! to park (its `on_thread_park` hook, which tokio calls only when no task
//! is runnable, nothing is deferred and the `block_on` future was not
//! woken), applies the socket operations the tasks queued, wakes the tasks
//! those completed, and repeats until a round queues nothing and wakes
//! nothing (at most 10,000 rounds; the rest waits for the next tick).
//!
//! A world holding an `AsyncApp` whose task never ends (a server) is never
//! idle: run it with `World::run_until` or a time limit.
//!
//! # How sockets reach the host
//!
//! Futures never touch the [`AppContext`](simnet_core::AppContext), which
//! only exists during a callback. Sockets ([`net::TcpListener`],
//! [`net::TcpStream`], [`net::UdpSocket`]) find their host through a
//! thread-local set only while the adapter runs the runtime, and from then
//! on hold the host's shared state: receive buffers, written bytes waiting
//! for TCP, end-of-stream and error flags, wakers. A socket call changes
//! that state and queues an operation; the adapter applies operations in
//! queue order through the `AppContext` (listen, connect, send as far as
//! the send buffer has room, shutdown, close), reads on `Readable` events
//! until `recv` would block (up to 64 KiB per stream, so a task that does
//! not read lets the TCP window close), resumes writes on `Writable`,
//! and settles connects and accepts from `Connected`, `ConnectFailed` and
//! `Incoming`. Errors are `std::io::Error`s of the usual kinds:
//! `ConnectionRefused`, `ConnectionReset`, `TimedOut`, `BrokenPipe`,
//! `AddrInUse`, `NotFound` for an unknown host name.
//!
//! The design first called for `Rc<RefCell<..>>` socket state. It is an
//! `Arc<Mutex<..>>` instead, so that sockets are `Send`: tokio code moves
//! connections into `tokio::spawn` (hyper's own examples do), which needs
//! `Send` futures. The runtime has one thread, so the mutex is never
//! contended and the order of everything stays deterministic.
//!
//! # `select!` and determinism
//!
//! Tasks run on one thread in FIFO order, and nothing reads the wall clock,
//! so a run is reproducible — except that `tokio::select!` polls its
//! branches in a random order. tokio seeds that order from the runtime's
//! RNG seed, which can be set only under `--cfg tokio_unstable`
//! (`Builder::rng_seed`). The workspace's `.cargo/config.toml` sets that
//! flag, and the adapter seeds each runtime from the application's own
//! simnet random stream, so `select!` is reproducible for a given simnet
//! seed. A build without the flag (for instance with `RUSTFLAGS` set,
//! which replaces the configured flags) still works, but then `select!`
//! needs `biased;` to be reproducible.
//!
//! # Limits
//!
//! - A task that never waits (a loop that is always ready) stops simulated
//!   time, as it would stop a paused tokio runtime; the adapter cannot
//!   interrupt it (it gives up on tasks of its `LocalSet` after a million
//!   polls at one instant, not on tasks of `tokio::spawn`).
//! - No blocking pool: `spawn_blocking`, `tokio::fs` and the like would
//!   use real threads and real time.
//! - Panics of tasks other than the main one go to their `JoinHandle`, as
//!   in tokio; only the main task's outcome is reported.
//! - The library code you bring must not draw on OS randomness if the run
//!   is to be reproducible (tungstenite's WebSocket masks and keys do).

mod apply;
mod io;
pub mod net;
mod runtime;

pub use runtime::{AsyncApp, Outcome, TaskReport};

use simnet_core::trace::AppEvent;

/// Records an application event in the trace from inside a task, at the
/// current simulated time (outside an [`AsyncApp`]'s task it does nothing).
pub fn emit(event: AppEvent) {
    if let Ok(io) = io::current() {
        io.lock().ops.push_back(io::Op::Emit(Box::new(event)));
    }
}

pub use simnet_core::trace::AppEvent as Event;

//! Applications: the programs that run on hosts.
//!
//! An application is a deterministic state machine driven by the world with
//! an explicit `now`: it is started, told about its sockets
//! ([`SocketEvent`]), woken by its own timers, and given commands from the
//! scenario's timeline. Everything it does goes through [`AppContext`]: the
//! socket API of its host, timers, its own random stream, and
//! application-level trace events. It never sees smoltcp or the scheduler.

use crate::host::Host;
use crate::rng::AppRng;
use crate::socket::{AppId, Recv, SocketError, SocketEvent, SocketId, TcpState, TimerId};
use crate::time::{SimDuration, SimTime};
use crate::trace::{AppEvent, HostInfo, TraceEvent};
use std::any::Any;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4};

/// A program running on a host.
///
/// Implementations must be deterministic: no clocks, no OS randomness, no
/// iteration over hash maps. `'static + Any` lets tests downcast an
/// application to read its results.
pub trait App: Any {
    /// Called when the application starts (and again after its host restarts).
    fn start(&mut self, cx: &mut AppContext<'_>);

    /// Called when something happened on one of its sockets.
    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent);

    /// Called when a timer set with [`AppContext::set_timer`] fires.
    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        let _ = (cx, timer);
    }

    /// Called for a command from the timeline (`send`, `close`, `publish`...).
    /// The default reports that the command was not understood.
    fn on_command(&mut self, cx: &mut AppContext<'_>, command: &Command) {
        cx.emit(AppEvent::new(
            "app.command-ignored",
            format!("ignored command `{}`", command.verb),
        ));
    }
}

/// An instruction from the timeline to an application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// What to do, e.g. `send`, `close`, `publish`.
    pub verb: String,
    /// Text that goes with it (bytes to send, an event's payload).
    pub data: Option<String>,
    /// A count that goes with it (bytes to send, messages).
    pub count: Option<u64>,
}

impl Command {
    /// A command with just a verb.
    pub fn new(verb: impl Into<String>) -> Command {
        Command {
            verb: verb.into(),
            data: None,
            count: None,
        }
    }

    /// Adds text.
    pub fn with_data(mut self, data: impl Into<String>) -> Command {
        self.data = Some(data.into());
        self
    }
}

/// Everything an application may touch while it handles one event.
///
/// # The runaway guard
///
/// Simulated time cannot move while an application's callback runs, so a
/// callback that never returns would hang the whole run at one instant.
/// Every method that acts (a socket call, [`emit`](Self::emit), a timer,
/// [`rng`](Self::rng)) is counted; once one callback has made more than
/// `RunLimits::max_calls_per_callback` of them (1,000,000 by default, far
/// above anything a working application does at one instant), the call
/// does not return: the callback is unwound, the application is stopped,
/// and the run ends with [`EndReason::AppRunaway`](crate::EndReason).
///
/// The unwinding uses [`std::panic::resume_unwind`], which runs no panic
/// hook and prints nothing; the world catches it around the callback. Two
/// limits follow from doing this in safe Rust: a build with
/// `panic = "abort"` aborts the process at that point instead, and a
/// callback that loops forever *without* calling its context (pure
/// computation) cannot be interrupted from outside at all.
pub struct AppContext<'a> {
    pub(crate) now: SimTime,
    pub(crate) app: AppId,
    pub(crate) host: &'a mut Host,
    pub(crate) rng: &'a mut AppRng,
    pub(crate) next_timer: &'a mut u64,
    pub(crate) cancelled: &'a mut BTreeSet<TimerId>,
    pub(crate) directory: &'a [HostInfo],
    /// Counted calls made in this callback so far.
    pub(crate) calls: u64,
    /// The most counted calls one callback may make.
    pub(crate) max_calls: u64,
}

/// What unwinds a runaway callback (see [`AppContext`]): the world catches
/// exactly this payload and nothing else.
pub(crate) struct Runaway;

impl AppContext<'_> {
    /// Counts one call, and stops a callback that has made too many.
    #[inline]
    fn count(&mut self) {
        self.calls += 1;
        if self.calls > self.max_calls {
            self.runaway();
        }
    }

    #[cold]
    #[inline(never)]
    fn runaway(&self) -> ! {
        std::panic::resume_unwind(Box::new(Runaway))
    }

    /// How many calls this callback has made so far that count towards
    /// the runaway guard (see [`AppContext`]).
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// This application's id.
    pub fn app_id(&self) -> AppId {
        self.app
    }

    /// The name of the host the application runs on.
    pub fn host_name(&self) -> &str {
        &self.host.name
    }

    /// The host's IPv4 address.
    pub fn local_addr(&self) -> Ipv4Addr {
        self.host.addr
    }

    /// The application's own random stream: `cx.rng().gen_range(10..50)`,
    /// `cx.rng().next_u64()`, `cx.rng().fill(&mut buf)`, no `rand` import
    /// needed (see [`AppRng`]).
    pub fn rng(&mut self) -> &mut AppRng {
        self.count();
        self.rng
    }

    /// The address of the host called `name`.
    pub fn resolve(&self, name: &str) -> Option<Ipv4Addr> {
        self.directory
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.addr)
    }

    /// Records an application-level event in the trace.
    pub fn emit(&mut self, event: AppEvent) {
        self.count();
        let host = self.host.id;
        let app = self.app;
        self.host
            .effects
            .push(crate::host::Effect::Trace(TraceEvent::App {
                host,
                app,
                event: Box::new(event),
            }));
    }

    /// Wakes the application after `delay`.
    pub fn set_timer(&mut self, delay: SimDuration) -> TimerId {
        self.set_timer_at(self.now + delay)
    }

    /// Wakes the application at `at` (or now, if `at` has passed).
    pub fn set_timer_at(&mut self, at: SimTime) -> TimerId {
        self.count();
        let id = TimerId(*self.next_timer);
        *self.next_timer += 1;
        self.host
            .effects
            .push(crate::host::Effect::Timer(self.app, id, at.max(self.now)));
        id
    }

    /// Cancels a timer that has not fired yet.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.count();
        self.cancelled.insert(timer);
    }

    /// Listens on `port` with the host's default backlog.
    pub fn listen(&mut self, port: u16) -> Result<(), SocketError> {
        self.count();
        self.host.listen(self.now, self.app, port, None)
    }

    /// Listens on `port` with an explicit backlog.
    pub fn listen_with_backlog(&mut self, port: u16, backlog: usize) -> Result<(), SocketError> {
        self.count();
        self.host.listen(self.now, self.app, port, Some(backlog))
    }

    /// Listens on `port` (with `backlog`, or the host's default), and when
    /// that fails emits an event of `failed_kind` saying why, as every
    /// built-in server does (`tcp.listen-failed`, `http.listen-failed`, ...).
    /// Returns whether the socket listens.
    pub fn listen_or_report(
        &mut self,
        port: u16,
        backlog: Option<usize>,
        failed_kind: &'static str,
    ) -> bool {
        let result = match backlog {
            Some(b) => self.listen_with_backlog(port, b),
            None => self.listen(port),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                self.emit(AppEvent::new(
                    failed_kind,
                    format!("listen(:{port}) failed: {e}"),
                ));
                false
            }
        }
    }

    /// Stops listening on `port`.
    pub fn unlisten(&mut self, port: u16) {
        self.count();
        self.host.unlisten(self.now, self.app, port)
    }

    /// Accepts the oldest waiting connection on `port`.
    pub fn accept(&mut self, port: u16) -> Option<SocketId> {
        self.count();
        self.host.accept(self.now, self.app, port)
    }

    /// Opens a TCP connection to `remote` from an ephemeral port.
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<SocketId, SocketError> {
        self.count();
        self.host.connect(self.now, self.app, remote)
    }

    /// Opens a TCP connection to `remote` from `local_port`, as `bind()`
    /// then `connect()` do. Fails with [`SocketError::PortInUse`] when any
    /// socket of this host uses the port (a listener, a connection, one in
    /// TIME-WAIT), as `bind()` fails without `SO_REUSEADDR`. Two hosts that
    /// connect to each other's bound ports at the same moment open one
    /// connection between them with crossing SYNs: a simultaneous open.
    pub fn connect_from(
        &mut self,
        local_port: u16,
        remote: SocketAddrV4,
    ) -> Result<SocketId, SocketError> {
        self.count();
        self.host
            .connect_from(self.now, self.app, Some(local_port), remote)
    }

    /// Installs a stream layer (a TLS session) on a connected TCP socket:
    /// from now on [`recv`](Self::recv) and [`send`](Self::send) carry
    /// plaintext through it, and the socket carries what the layer makes of
    /// it (see [`crate::layer`]).
    pub fn set_layer(
        &mut self,
        sid: SocketId,
        layer: Box<dyn crate::layer::StreamLayer>,
    ) -> Result<(), SocketError> {
        self.count();
        self.host.set_layer(self.now, self.app, sid, layer)
    }

    /// Opens a TCP connection to port `port` of the host called `host`, from
    /// an ephemeral port: `cx.connect_to("server", 80)`. Fails with
    /// [`SocketError::UnknownHost`] when no host has that name.
    pub fn connect_to(&mut self, host: &str, port: u16) -> Result<SocketId, SocketError> {
        match self.resolve(host) {
            Some(addr) => self.connect(SocketAddrV4::new(addr, port)),
            None => {
                self.count();
                Err(SocketError::UnknownHost)
            }
        }
    }

    /// Copies as much of `data` as fits into the send buffer; returns how much.
    /// When not everything fit, a [`SocketEvent::Writable`] follows once there is room.
    pub fn send(&mut self, socket: SocketId, data: &[u8]) -> Result<usize, SocketError> {
        self.count();
        self.host.send(self.now, self.app, socket, data)
    }

    /// Like [`send`](Self::send) for a write of `offered` bytes of which
    /// `data` is the start: an application that generates a long payload
    /// as the socket takes it passes [`send_room`](Self::send_room) bytes
    /// of it. Accepts, traces and wakes the application exactly as a
    /// `send` of all `offered` bytes would.
    pub fn send_offered(
        &mut self,
        socket: SocketId,
        data: &[u8],
        offered: usize,
    ) -> Result<usize, SocketError> {
        self.host
            .send_offered(self.now, self.app, socket, data, offered)
    }

    /// Free space in the socket's send buffer: how much a `send` would
    /// accept now.
    pub fn send_room(&mut self, socket: SocketId) -> Result<usize, SocketError> {
        self.host.send_room(self.app, socket)
    }

    /// Reads up to `max` bytes.
    pub fn recv(&mut self, socket: SocketId, max: usize) -> Result<Recv, SocketError> {
        self.count();
        self.host.recv(self.now, self.app, socket, max)
    }

    /// Sends FIN but keeps reading (half-close).
    pub fn shutdown(&mut self, socket: SocketId) -> Result<(), SocketError> {
        self.count();
        self.host.shutdown(self.now, self.app, socket)
    }

    /// Closes the socket. With unread data, the connection is reset (as Linux does).
    pub fn close(&mut self, socket: SocketId) -> Result<(), SocketError> {
        self.count();
        self.host.close(self.now, self.app, socket)
    }

    /// Resets the connection (`SO_LINGER` 0).
    pub fn abort(&mut self, socket: SocketId) -> Result<(), SocketError> {
        self.count();
        self.host.abort(self.now, self.app, socket)
    }

    /// Switches Nagle's algorithm for one socket (`false` is `TCP_NODELAY`).
    pub fn set_nagle(&mut self, socket: SocketId, enabled: bool) -> Result<(), SocketError> {
        self.count();
        self.host.set_nagle(self.app, socket, enabled)
    }

    /// Bytes received and not yet read.
    pub fn recv_queue(&mut self, socket: SocketId) -> Result<usize, SocketError> {
        self.count();
        self.host.recv_queue(self.app, socket)
    }

    /// Bytes written and not yet acknowledged.
    pub fn send_queue(&mut self, socket: SocketId) -> Result<usize, SocketError> {
        self.count();
        self.host.send_queue(self.app, socket)
    }

    /// The local address of one of the application's sockets and, once it
    /// is connected, the remote one (`getsockname`, `getpeername`); `None`
    /// for a socket that no longer exists. Not counted by the runaway guard:
    /// it changes nothing.
    pub fn socket_addrs(&self, socket: SocketId) -> Option<(SocketAddrV4, Option<SocketAddrV4>)> {
        self.host.socket_addrs(socket)
    }

    /// The TCP state of one of the host's sockets.
    pub fn tcp_state(&self, socket: SocketId) -> Option<TcpState> {
        self.host.tcp_state(socket)
    }

    /// Binds a UDP socket (port 0 picks an ephemeral one).
    pub fn udp_bind(&mut self, port: u16) -> Result<SocketId, SocketError> {
        self.count();
        self.host.udp_bind(self.now, self.app, port)
    }

    /// Sends one datagram.
    pub fn send_to(
        &mut self,
        socket: SocketId,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<(), SocketError> {
        self.count();
        self.host.send_to(self.now, self.app, socket, dst, data)
    }

    /// Receives one datagram, if any is waiting.
    pub fn recv_from(
        &mut self,
        socket: SocketId,
    ) -> Result<Option<(SocketAddrV4, Vec<u8>)>, SocketError> {
        self.count();
        self.host.recv_from(self.app, socket)
    }
}

//! [`AsyncApp`]: a paused tokio runtime per host, driven by simulated time.

use crate::apply::{apply_ops, on_event};
use crate::io::{Enter, Io};
use simnet_core::trace::AppEvent;
use simnet_core::{App, AppContext, SimDuration, SimTime, SocketEvent, TimerId};
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::task::{JoinHandle, LocalSet};

/// The most rounds of "run the tasks, apply their socket operations" one
/// callback makes at one instant; what is left runs at the next tick.
const MAX_ROUNDS: usize = 10_000;

/// The most times the idle probe is polled before it gives up waiting for
/// the local tasks to be idle (a task that never waits).
const MAX_PROBE_POLLS: u64 = 1_000_000;

/// tokio's timer resolution: its clock is kept on whole milliseconds.
const MS: u64 = 1_000_000;

type Task = Pin<Box<dyn Future<Output = Result<(), String>>>>;
type Factory = Box<dyn Fn() -> Task>;

/// How a host's main task ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It returned `Ok(())`.
    Finished,
    /// It returned `Err`; the error's text.
    Error(String),
    /// It panicked; the panic's message.
    Panic(String),
}

/// What the main tasks of an [`AsyncApp`] did, shared by every instance the
/// world builds of it (one per start: the first and one after each restart).
///
/// The same outcomes are in the trace as application events of kinds
/// `task.finished`, `task.error` and `task.panic`.
#[derive(Clone, Debug, Default)]
pub struct TaskReport(Arc<Mutex<Vec<(SimTime, Outcome)>>>);

impl TaskReport {
    /// A report with nothing in it.
    pub fn new() -> TaskReport {
        TaskReport::default()
    }

    /// Every outcome so far, with when it happened.
    pub fn outcomes(&self) -> Vec<(SimTime, Outcome)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, at: SimTime, outcome: Outcome) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((at, outcome));
    }
}

/// Runs async Rust written for tokio as a simnet application: the
/// bring-your-own-code adapter. See the crate documentation for how time
/// and sockets reach the tasks.
///
/// ```ignore
/// b.app(server, "my-server", || AsyncApp::new(|| async {
///     let listener = simnet_tokio::net::TcpListener::bind("0.0.0.0:80").await?;
///     loop { let (stream, _) = listener.accept().await?; /* ... */ }
/// }));
/// ```
pub struct AsyncApp {
    factory: Factory,
    tick: SimDuration,
    report: TaskReport,
    running: Option<Running>,
    /// The armed tick timer and when it fires.
    timer: Option<(TimerId, SimTime)>,
}

/// One life of the runtime (from a start to a crash).
struct Running {
    rt: Runtime,
    local: LocalSet,
    io: Io,
    /// Simulated time at the runtime's creation.
    t0: SimTime,
    /// tokio's time at the runtime's creation.
    base: tokio::time::Instant,
    /// tokio's clock, in milliseconds since `base`.
    ms: u64,
    main: Option<JoinHandle<Result<(), String>>>,
    probe: Arc<ProbeState>,
}

/// Shared by the idle probe and the runtime's `on_thread_park` hook.
#[derive(Default)]
struct ProbeState {
    armed: AtomicBool,
    idle: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl ProbeState {
    /// The runtime is about to park: nothing is runnable, no deferred
    /// wake-up waits and the `block_on` future was not woken (tokio calls
    /// the hook only then). While probing, wake the probe instead, which
    /// keeps tokio from advancing its paused clock.
    fn on_park(&self) {
        if self.armed.load(Ordering::SeqCst) {
            self.idle.store(true, Ordering::SeqCst);
            let waker = self
                .waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// Completes once the runtime has run everything it can at the current
/// instant.
struct IdleProbe {
    state: Arc<ProbeState>,
    polls: u64,
}

impl Future for IdleProbe {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls += 1;
        if self.state.idle.swap(false, Ordering::SeqCst) || self.polls > MAX_PROBE_POLLS {
            return Poll::Ready(());
        }
        *self
            .state
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncApp {
    /// An application that runs the task `factory` builds, again after each
    /// restart of its host. An `Err` it returns is reported (event
    /// `task.error`), as is a panic (`task.panic`); neither stops the run.
    pub fn new<F, Fut, E>(factory: F) -> AsyncApp
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Display + 'static,
    {
        AsyncApp {
            factory: Box::new(move || {
                let fut = factory();
                Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
            }),
            tick: SimDuration::from_millis(1),
            report: TaskReport::new(),
            running: None,
            timer: None,
        }
    }

    /// How often the adapter wakes while its task is alive, so that tokio
    /// timers fire (1 ms by default, tokio's own resolution). A coarser tick
    /// makes long idle waits cheaper; a timer then fires at the first tick
    /// at or after its deadline.
    pub fn tick(mut self, tick: SimDuration) -> AsyncApp {
        self.tick = SimDuration::from_nanos(tick.as_nanos().max(MS));
        self
    }

    /// Records the main task's outcomes in `report` (keep a clone to read
    /// them after the run).
    pub fn report_to(mut self, report: TaskReport) -> AsyncApp {
        self.report = report;
        self
    }

    /// The report this application writes to.
    pub fn report(&self) -> TaskReport {
        self.report.clone()
    }

    fn boot(&mut self, cx: &mut AppContext<'_>) -> std::io::Result<()> {
        let probe = Arc::new(ProbeState::default());
        let hook = probe.clone();
        let mut builder = tokio::runtime::Builder::new_current_thread();
        builder
            .enable_time()
            .start_paused(true)
            .on_thread_park(move || hook.on_park());
        let mut seed = [0u8; 32];
        cx.rng().fill(&mut seed);
        #[cfg(tokio_unstable)]
        builder.rng_seed(tokio::runtime::RngSeed::from_bytes(&seed));
        let rt = builder.build()?;
        let base = {
            let _guard = rt.enter();
            tokio::time::Instant::now()
        };
        let local = LocalSet::new();
        let io = Io::new(cx.local_addr());
        let main = {
            let _enter = Enter::new(&io);
            let _guard = rt.enter();
            local.spawn_local((self.factory)())
        };
        self.running = Some(Running {
            rt,
            local,
            io,
            t0: cx.now(),
            base,
            ms: 0,
            main: Some(main),
            probe,
        });
        Ok(())
    }

    /// Brings the runtime to the callback's instant, handles `event`, runs
    /// the tasks and their socket operations until nothing more happens at
    /// this instant, then reports a finished main task and arms the tick.
    fn drive(&mut self, cx: &mut AppContext<'_>, event: Option<SocketEvent>) {
        let Some(run) = self.running.as_mut() else {
            return;
        };
        let _enter = Enter::new(&run.io);
        // 1. tokio's clock to the callback's millisecond: every timer on the
        //    way fires at its own deadline (tokio advances a paused clock
        //    from timer to timer while its tasks are idle).
        let target = cx.now().saturating_since(run.t0).as_nanos() / MS;
        if target > run.ms {
            let until = run.base + Duration::from_millis(target);
            run.rt.block_on(
                run.local
                    .run_until(async move { tokio::time::sleep_until(until).await }),
            );
            run.ms = target;
        }
        // 2. The event, then rounds of tasks and their operations.
        if let Some(event) = event {
            on_event(&mut run.io.lock(), cx, event);
        }
        for _ in 0..MAX_ROUNDS {
            let wakes = std::mem::take(&mut run.io.lock().wakes);
            let woke = wakes.len();
            wakes.into_iter().for_each(Waker::wake);
            run.probe.armed.store(true, Ordering::SeqCst);
            run.probe.idle.store(false, Ordering::SeqCst);
            run.rt.block_on(run.local.run_until(IdleProbe {
                state: run.probe.clone(),
                polls: 0,
            }));
            run.probe.armed.store(false, Ordering::SeqCst);
            let applied = apply_ops(&mut run.io.lock(), cx);
            if applied == 0 && woke == 0 && run.io.lock().wakes.is_empty() {
                break;
            }
        }
        // 3. The main task's end.
        if run.main.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(handle) = run.main.take()
        {
            let outcome = match run.rt.block_on(handle) {
                Ok(Ok(())) => Outcome::Finished,
                Ok(Err(e)) => Outcome::Error(e),
                Err(e) if e.is_panic() => Outcome::Panic(panic_message(e.into_panic())),
                Err(e) => Outcome::Error(e.to_string()),
            };
            let event = match &outcome {
                Outcome::Finished => AppEvent::new("task.finished", "the task returned Ok"),
                Outcome::Error(e) => AppEvent::new("task.error", format!("the task failed: {e}"))
                    .with("error", e.clone()),
                Outcome::Panic(m) => AppEvent::new("task.panic", format!("the task panicked: {m}"))
                    .with("message", m.clone()),
            };
            cx.emit(event);
            self.report.push(cx.now(), outcome);
        }
        // 4. The tick, while anything may still wait for time.
        let alive = run.main.is_some() || run.rt.metrics().num_alive_tasks() > 0;
        if alive {
            let tick = self.tick.as_nanos();
            let since = cx.now().saturating_since(run.t0).as_nanos();
            let next = run.t0 + SimDuration::from_nanos((since / tick + 1) * tick);
            if self.timer.is_none_or(|(_, at)| at != next) {
                if let Some((old, _)) = self.timer.take() {
                    cx.cancel_timer(old);
                }
                self.timer = Some((cx.set_timer_at(next), next));
            }
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

impl App for AsyncApp {
    fn start(&mut self, cx: &mut AppContext<'_>) {
        // A start after a restart begins a new life: a fresh runtime.
        self.running = None;
        self.timer = None;
        if let Err(e) = self.boot(cx) {
            cx.emit(AppEvent::new(
                "task.error",
                format!("the tokio runtime could not start: {e}"),
            ));
            return;
        }
        self.drive(cx, None);
    }

    fn on_socket(&mut self, cx: &mut AppContext<'_>, event: SocketEvent) {
        self.drive(cx, Some(event));
    }

    fn on_timer(&mut self, cx: &mut AppContext<'_>, timer: TimerId) {
        if self.timer.is_some_and(|(t, _)| t == timer) {
            self.timer = None;
        }
        self.drive(cx, None);
    }
}

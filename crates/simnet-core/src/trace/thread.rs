//! A sink on a thread of its own: the run goes on making records while
//! another core writes, folds and drops the ones it already made.
//!
//! A streamed run's sinks (a format's writer, the expectations' judge) read
//! every record the run makes, and the run waits for them on every one. On
//! a machine with a second core they can take their records in batches on a
//! thread of their own instead: the world hands each record over
//! ([`TraceSink::take`]) and goes on, and the sink's thread reads the
//! records in the order they were made and drops them. The order is the
//! same, the sink is the same, so the bytes are the same; only the wall
//! time changes. At most [`IN_FLIGHT`] batches of [`BATCH`] records wait
//! between the two: when the sink falls behind, the run waits for it, so
//! memory stays bounded. Read batches come back to the run's thread, which
//! drops one read record for each record it makes (so one more batch's
//! worth at most).

use super::{Topology, TraceRecord, TraceSink};
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;

/// Records handed over at once.
pub const BATCH: usize = 1024;
/// Batches handed over that the sink has not finished with, at most.
pub const IN_FLIGHT: usize = 4;

/// A sink running on a thread of its own, fed through [`feeder`](Self::feeder)
/// and given back by [`finish`](Self::finish).
///
/// ```
/// use simnet_core::trace::{SinkThread, TraceRecord, TraceSink, Topology};
/// # use simnet_core::{apps::{TcpClient, TcpEcho}, LinkParams, WorldBuilder};
/// #[derive(Default)]
/// struct Count(u64);
/// impl TraceSink for Count {
///     fn record(&mut self, _: &Topology, _: &TraceRecord) {
///         self.0 += 1;
///     }
/// }
/// # let mut b = WorldBuilder::new(1);
/// # let c = b.host("client", [10, 0, 0, 1].into());
/// # let s = b.host("server", [10, 0, 0, 2].into());
/// # b.link(c, s, LinkParams::default());
/// # b.app(s, "echo", || TcpEcho::new(7));
/// # b.app(c, "client", || TcpClient::new("10.0.0.2:7".parse().unwrap(), b"hi", 2));
/// # let mut world = b.build().unwrap();
/// let sink = SinkThread::spawn(world.trace().topology.clone(), Count::default())?;
/// world.stream_to(Box::new(sink.feeder()));
/// world.run();
/// let count = sink.finish();
/// assert_eq!(count.0, world.records_produced());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SinkThread<S> {
    pipe: Rc<RefCell<Pipe>>,
    thread: thread::JoinHandle<S>,
}

/// The run's end of the pipe: the batch being filled, and the channels.
struct Pipe {
    batch: Vec<TraceRecord>,
    /// `None` once finished, or once the sink's thread is gone (it
    /// panicked; [`SinkThread::finish`] says so).
    to_sink: Option<mpsc::SyncSender<Vec<TraceRecord>>>,
    /// Batches the sink has read, coming back to be emptied and reused.
    spares: mpsc::Receiver<Vec<TraceRecord>>,
    /// Records the sink has read, dropped one for each record pushed.
    read: Vec<TraceRecord>,
}

impl Pipe {
    fn push(&mut self, record: TraceRecord) {
        if self.to_sink.is_none() {
            return;
        }
        self.batch.push(record);
        // One record freed for each one made: the allocator then reuses
        // the blocks it was just given back. Freeing a whole batch at once
        // would overflow its per-thread caches, and it would move thousands
        // of blocks to its arenas and back again for every batch.
        drop(self.read.pop());
        if self.batch.len() >= BATCH {
            self.hand_over();
        }
    }

    /// Sends the batch being filled (waiting while [`IN_FLIGHT`] are).
    fn hand_over(&mut self) {
        let Some(to_sink) = &self.to_sink else {
            return;
        };
        // The batches the sink is done with come back whole, and their
        // records are dropped here, by the thread that allocated them: the
        // allocator frees memory fastest where it was allocated, and a
        // sink's thread freeing the run's memory would make both threads
        // contend for it.
        let mut spare = None;
        while let Ok(mut done) = self.spares.try_recv() {
            if self.read.is_empty() {
                // Its records go one by one as new ones come (`push`); the
                // emptied batch before it becomes the spare.
                std::mem::swap(&mut self.read, &mut done);
            } else {
                done.clear();
            }
            spare.get_or_insert(done);
        }
        let spare = spare.unwrap_or_else(|| Vec::with_capacity(BATCH));
        let full = std::mem::replace(&mut self.batch, spare);
        if to_sink.send(full).is_err() {
            // The sink's thread panicked: nothing more reaches it.
            self.to_sink = None;
        }
    }
}

/// The end of a [`SinkThread`] a world streams to
/// ([`World::stream_to`](crate::World::stream_to)).
pub struct Feeder(Rc<RefCell<Pipe>>);

impl TraceSink for Feeder {
    fn record(&mut self, _: &Topology, record: &TraceRecord) {
        self.0.borrow_mut().push(record.clone());
    }

    fn take(&mut self, _: &Topology, record: TraceRecord) {
        self.0.borrow_mut().push(record);
    }
}

impl<S: TraceSink + Send + 'static> SinkThread<S> {
    /// Starts `sink` on a thread of its own; `topology` is the world's.
    /// Fails only if the system has no thread to give.
    pub fn spawn(topology: Topology, mut sink: S) -> io::Result<SinkThread<S>> {
        let (to_sink, from_run) = mpsc::sync_channel::<Vec<TraceRecord>>(IN_FLIGHT);
        let (give_back, spares) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("simnet-sink".into())
            .spawn(move || {
                for batch in from_run {
                    for record in &batch {
                        sink.record(&topology, record);
                    }
                    // The records go back to be dropped where they were
                    // made (see `Pipe::hand_over`). The run may be over and
                    // its end gone: nothing to do then.
                    let _ = give_back.send(batch);
                }
                sink
            })?;
        Ok(SinkThread {
            pipe: Rc::new(RefCell::new(Pipe {
                batch: Vec::with_capacity(BATCH),
                to_sink: Some(to_sink),
                spares,
                read: Vec::new(),
            })),
            thread,
        })
    }

    /// The end to stream to. Every feeder of one `SinkThread` feeds the
    /// same pipe.
    pub fn feeder(&self) -> Feeder {
        Feeder(self.pipe.clone())
    }

    /// Hands over the last records, waits until the sink has read every
    /// record, and gives it back. Records fed after this go nowhere. If
    /// the sink panicked on its thread, the panic goes on here.
    pub fn finish(self) -> S {
        {
            let mut pipe = self.pipe.borrow_mut();
            if !pipe.batch.is_empty() {
                pipe.hand_over();
            }
            pipe.to_sink = None;
        }
        match self.thread.join() {
            Ok(sink) => sink,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimTime;
    use crate::trace::TraceEvent;

    /// Keeps every record's time, and panics on the one at `panic_at`.
    struct Times {
        seen: Vec<u64>,
        panic_at: Option<u64>,
    }

    impl TraceSink for Times {
        fn record(&mut self, _: &Topology, record: &TraceRecord) {
            let t = record.time.as_nanos();
            assert_ne!(Some(t), self.panic_at, "the sink's own failure");
            self.seen.push(t);
        }
    }

    fn record(t: u64) -> TraceRecord {
        TraceRecord {
            time: SimTime::from_nanos(t),
            event: TraceEvent::Action {
                description: String::new(),
            },
        }
    }

    #[test]
    fn every_record_arrives_in_order_and_the_sink_comes_back() {
        let sink = Times {
            seen: Vec::new(),
            panic_at: None,
        };
        let thread = SinkThread::spawn(Topology::default(), sink).unwrap();
        let mut feeder = thread.feeder();
        let topology = Topology::default();
        // Several batches, more than are ever in flight, and a part one.
        let n = (BATCH * (IN_FLIGHT + 3) + 17) as u64;
        for t in 0..n {
            if t % 2 == 0 {
                feeder.take(&topology, record(t));
            } else {
                feeder.record(&topology, &record(t));
            }
        }
        let sink = thread.finish();
        assert_eq!(sink.seen, (0..n).collect::<Vec<_>>());
        // After the end, records go nowhere (and nothing waits).
        feeder.take(&topology, record(n));
    }

    /// Records held anywhere between the world and the sink stay within a
    /// few batches however long the run, and none outlives the end.
    #[test]
    fn records_alive_at_once_stay_bounded() {
        struct Slow;
        impl TraceSink for Slow {
            fn record(&mut self, _: &Topology, _: &TraceRecord) {
                std::hint::black_box((0..50).sum::<u64>());
            }
        }
        let token = std::sync::Arc::new(());
        let counted = |t: u64| {
            let token = token.clone();
            TraceRecord {
                time: SimTime::from_nanos(t),
                event: TraceEvent::App {
                    host: crate::HostId(0),
                    app: crate::AppId(0),
                    event: Box::new(crate::trace::AppEvent::deferred("test", move |_| {
                        let _ = &token;
                        Ok(())
                    })),
                },
            }
        };
        let thread = SinkThread::spawn(Topology::default(), Slow).unwrap();
        let mut feeder = thread.feeder();
        let topology = Topology::default();
        let mut most = 0;
        for t in 0..(BATCH * 40) as u64 {
            feeder.take(&topology, counted(t));
            most = most.max(std::sync::Arc::strong_count(&token) - 1);
        }
        // The batch being filled, those in flight, the one the sink reads,
        // and the read one being dropped as new records come.
        assert!(
            most <= BATCH * (IN_FLIGHT + 3),
            "{most} records alive at once"
        );
        thread.finish();
        drop(feeder);
        assert_eq!(
            std::sync::Arc::strong_count(&token),
            1,
            "every record dropped"
        );
    }

    #[test]
    fn a_panic_on_the_sinks_thread_comes_back_at_the_end() {
        let sink = Times {
            seen: Vec::new(),
            panic_at: Some(5),
        };
        let thread = SinkThread::spawn(Topology::default(), sink).unwrap();
        let mut feeder = thread.feeder();
        // Far more than the pipe holds: the run must not wait forever for
        // a sink that is gone.
        for t in 0..(BATCH * IN_FLIGHT * 4) as u64 {
            feeder.take(&Topology::default(), record(t));
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| thread.finish()));
        let panic = result.err().expect("the sink's panic");
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert!(message.contains("the sink's own failure"), "{message}");
    }
}

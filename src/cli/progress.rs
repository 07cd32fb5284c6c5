//! The progress bar of a long run: simulated time against the run's limit,
//! events per second and connected sockets, on standard error when it is a
//! terminal, from about a second into the run.
//!
//! The bar is drawn by indicatif, which measures its own elapsed time, so
//! nothing here reads a clock and nothing it shows reaches the run's output:
//! a run with the bar and one without produce the same bytes.

use crate::{SimTime, World};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// How many events pass between two looks at the clock.
const EVERY: u64 = 1 << 13;

/// A progress bar that appears once a run has taken about a second.
pub struct Progress {
    bar: Option<ProgressBar>,
    shown: bool,
    next: u64,
}

impl Progress {
    /// A bar for a run that ends at `limit` (simulated), or none when
    /// standard error is not a terminal.
    pub fn new(limit: SimTime) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(limit.as_nanos() / 1_000_000),
                ProgressDrawTarget::hidden(),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} simulated {msg} [{bar:30}] {percent}% ({elapsed} so far)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            shown: false,
            next: EVERY,
        }
    }

    /// Looks at the world after an event; cheap except every few thousand
    /// events.
    #[inline]
    pub fn tick(&mut self, world: &World) {
        if world.events_processed() < self.next {
            return;
        }
        self.next += EVERY;
        let Some(bar) = &self.bar else { return };
        let elapsed = bar.elapsed();
        if !self.shown {
            if elapsed < Duration::from_secs(1) {
                return;
            }
            bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        let now = world.now();
        let per_second = world.events_processed() as f64 / elapsed.as_secs_f64().max(1e-3);
        bar.set_position(now.as_nanos() / 1_000_000);
        bar.set_message(format!(
            "{now}: {} events, {:.0}/s, {} connected sockets",
            world.events_processed(),
            per_second,
            world.connected_sockets(),
        ));
    }

    /// Removes the bar (the run is over).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The progress bar of a sweep: lines written against the points to run,
/// on standard error when it is a terminal, from about a second in. Like
/// [`Progress`], it reads no clock itself and writes nothing to the
/// sweep's output.
pub struct SweepProgress {
    bar: Option<ProgressBar>,
}

impl SweepProgress {
    /// A bar for `points` points, or none when standard error is not a
    /// terminal.
    pub fn new(points: u64) -> SweepProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(points), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} sweep [{bar:30}] {pos}/{len} points, {per_sec}, {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        SweepProgress { bar }
    }

    /// One more line written.
    pub fn tick(&self) {
        let Some(bar) = &self.bar else { return };
        bar.inc(1);
        if bar.is_hidden() && bar.elapsed() >= Duration::from_secs(1) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Removes the bar (the sweep is over).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

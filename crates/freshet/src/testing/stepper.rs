//! Driving batches one at a time on a manual clock.

use crate::clock::Clock;
use crate::clock::ManualClock;
use crate::config::StreamingConfig;
use crate::context::StreamingContext;
use crate::error::{Error, Result};
use crate::time::BatchTime;
use std::sync::Arc;
use std::time::Duration;

/// How long a step waits for its batch by default.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A context on a manual clock, stepped one batch at a time. See the
/// [module documentation](super).
pub struct BatchStepper {
    ctx: StreamingContext,
    clock: ManualClock,
    next: Option<BatchTime>,
    timeout: Duration,
}

impl BatchStepper {
    /// A context with `config` (Ctrl-C handling off) on a manual clock starting at 0: its
    /// batches are at one, two, three, ... intervals.
    pub fn new(config: StreamingConfig) -> Result<Self> {
        let clock = ManualClock::new(0);
        let ctx =
            StreamingContext::with_clock(config.stop_on_ctrl_c(false), Arc::new(clock.clone()))?;
        Ok(BatchStepper {
            ctx,
            clock,
            next: None,
            timeout: STEP_TIMEOUT,
        })
    }

    /// How long a step waits for its batch before it fails with [`Error::Timeout`] (default
    /// 30 s).
    pub fn step_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The context, to build the pipeline on.
    pub fn context(&self) -> &StreamingContext {
        &self.ctx
    }

    /// The manual clock.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Starts the context.
    pub fn start(&mut self) -> Result<()> {
        self.ctx.start()?;
        self.next = self.ctx.first_batch_time();
        Ok(())
    }

    /// Advances the clock to the next batch and waits until that batch has completed; returns
    /// its time.
    pub fn step(&mut self) -> Result<BatchTime> {
        let Some(t) = self.next else {
            return Err(Error::Plan("start the stepper before stepping it".into()));
        };
        let interval = self.ctx.batch_interval();
        let now = self.clock.now().0;
        if now < t.0 {
            self.clock.advance(Duration::from_millis(t.0 - now));
        }
        self.ctx.await_batch(t, self.timeout)?;
        self.next = Some(t.plus(interval));
        Ok(t)
    }

    /// Runs `n` steps.
    pub fn steps(&mut self, n: u64) -> Result<()> {
        for _ in 0..n {
            self.step()?;
        }
        Ok(())
    }

    /// Stops the context gracefully (one last batch for what receivers hold).
    pub fn stop(self) -> Result<()> {
        self.ctx.stop(true)
    }
}

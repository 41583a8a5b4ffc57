//! Helpers shared by the golden tests: a context on a manual clock, and a driver that runs a
//! fixed number of batches deterministically (advance the clock one interval, wait for the
//! batch, repeat), then stops the context gracefully.

#![allow(dead_code)]

use freshet::{BatchTime, CollectedBatches, ManualClock, StreamingConfig, StreamingContext};
use std::sync::Arc;
use std::time::Duration;

/// The batch interval of every test context, in milliseconds.
pub const I: u64 = 100;

/// How long a test waits for one batch before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The worker counts every operator is checked with.
pub const WORKERS: [usize; 2] = [1, 4];

/// The batch interval as a `Duration`.
pub fn interval() -> Duration {
    Duration::from_millis(I)
}

/// The configuration of a test context with `workers` workers.
pub fn config(workers: usize) -> StreamingConfig {
    StreamingConfig::new(interval())
        .workers(workers)
        .stop_on_ctrl_c(false)
}

/// A context with `workers` workers on a manual clock starting at 0, so that batches are at
/// 100, 200, 300, ... ms.
pub fn context(workers: usize) -> (StreamingContext, ManualClock) {
    context_with(config(workers))
}

/// A context on a manual clock starting at 0 with the given configuration.
pub fn context_with(config: StreamingConfig) -> (StreamingContext, ManualClock) {
    let clock = ManualClock::new(0);
    let ctx = StreamingContext::with_clock(config, Arc::new(clock.clone())).unwrap();
    (ctx, clock)
}

/// Advances the clock by one interval and waits for batch `k` (1-based) to complete.
pub fn step(ctx: &StreamingContext, clock: &ManualClock, k: u64) {
    clock.advance(interval());
    ctx.await_batch(BatchTime(I * k), TIMEOUT)
        .unwrap_or_else(|e| panic!("batch {} did not complete: {e}", I * k));
}

/// Starts `ctx`, runs exactly `n` batches (at 100, 200, ... ms) and stops it gracefully.
pub fn run_batches(ctx: &StreamingContext, clock: &ManualClock, n: u64) {
    ctx.start().unwrap();
    for k in 1..=n {
        step(ctx, clock, k);
    }
    ctx.stop(true).unwrap();
}

/// The batch times `c` received, in milliseconds.
pub fn times<T: Clone>(c: &CollectedBatches<T>) -> Vec<u64> {
    c.batches().iter().map(|(t, _)| t.0).collect()
}

/// The expected batch times of `n` batches: 100, 200, ..., 100·n.
pub fn expected_times(n: u64) -> Vec<u64> {
    (1..=n).map(|k| k * I).collect()
}

/// Checks that `c` received exactly `n` batches at the expected times and returns them sorted.
pub fn sorted<T: Clone + Ord>(c: &CollectedBatches<T>, n: u64) -> Vec<Vec<T>> {
    assert_eq!(times(c), expected_times(n), "batch times");
    c.sorted_batches()
}

/// Builds a pipeline with `build` on a fresh context for every worker count in [`WORKERS`],
/// runs `n` batches, and checks the sorted batches against `expected`.
pub fn golden<T, F>(n: u64, expected: Vec<Vec<T>>, build: F)
where
    T: Clone + Ord + std::fmt::Debug,
    F: Fn(&StreamingContext) -> CollectedBatches<T>,
{
    for workers in WORKERS {
        let (ctx, clock) = context(workers);
        let out = build(&ctx);
        run_batches(&ctx, &clock, n);
        assert_eq!(sorted(&out, n), expected, "with {workers} worker(s)");
    }
}

/// Strings from string slices.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Runs `f` on its own thread and returns its result; fails the test if `f` has not returned
/// within [`TIMEOUT`] (a hang is a bug: the watchdog turns it into a failure).
pub fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(r) => {
            handle.join().unwrap();
            r
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung for {TIMEOUT:?}"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // `f` panicked: report its panic.
            match handle.join() {
                Err(p) => std::panic::resume_unwind(p),
                Ok(()) => unreachable!(),
            }
        }
    }
}

/// A receiver that stores each block it is sent with one `store_reliably`, then acknowledges
/// with whether the block was stored.
pub struct Blocks {
    commands: std::sync::Mutex<std::sync::mpsc::Receiver<Vec<u64>>>,
    acks: std::sync::mpsc::Sender<bool>,
}

impl freshet::source::Receiver for Blocks {
    type Item = u64;

    fn name(&self) -> String {
        "blocks".into()
    }

    fn run(
        &mut self,
        ctx: &freshet::source::ReceiverContext<u64>,
    ) -> Result<(), freshet::SourceError> {
        use std::sync::mpsc::RecvTimeoutError;
        while !ctx.is_stopped() {
            let next = self
                .commands
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_millis(10));
            match next {
                Ok(records) => {
                    let stored = ctx.store_reliably(records).is_ok();
                    let _ = self.acks.send(stored);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    }
}

/// Stores one block through a [`Blocks`] receiver; returns whether it was stored.
pub type StoreBlock = Arc<dyn Fn(Vec<u64>) -> bool + Send + Sync>;

/// A [`Blocks`] receiver and the function that stores a block through it (waiting up to a
/// minute for the acknowledgement).
pub fn blocks() -> (Blocks, StoreBlock) {
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel();
    let (ack_tx, ack_rx) = std::sync::mpsc::channel();
    let receiver = Blocks {
        commands: std::sync::Mutex::new(cmd_rx),
        acks: ack_tx,
    };
    let (cmd_tx, ack_rx) = (std::sync::Mutex::new(cmd_tx), std::sync::Mutex::new(ack_rx));
    let store: StoreBlock = Arc::new(move |records| {
        cmd_tx.lock().unwrap().send(records).unwrap();
        ack_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
    });
    (receiver, store)
}

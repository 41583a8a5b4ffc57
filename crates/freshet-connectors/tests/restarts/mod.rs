//! A checkpointed pipeline on a manual clock that reads one direct source, stepped one batch at
//! a time: built again on the same directory, it restarts from the checkpoint.

use freshet::source::DirectSource;
use freshet::{BatchTime, Clock, CollectedBatches, ManualClock, StreamingConfig, StreamingContext};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The batch interval of these pipelines.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// A context on `clock` checkpointing into `dir` every 2 batches (keeping the `keep` newest
/// checkpoints) with 2 workers, that collects the batches of `source` (id `uid`).
pub fn checkpointed<S: DirectSource>(
    clock: &ManualClock,
    dir: &Path,
    keep: usize,
    uid: &str,
    source: S,
) -> (StreamingContext, CollectedBatches<S::Item>) {
    let config = StreamingConfig::new(INTERVAL)
        .workers(2)
        .checkpoint_interval(2)
        .keep_checkpoints(keep)
        .stop_on_ctrl_c(false);
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(config.clone(), Arc::new(clock.clone()))?;
        out = Some(ctx.direct_stream(source).uid(uid).collect_batches());
        Ok(ctx)
    })
    .unwrap();
    (ctx, out.unwrap())
}

/// Advances `clock` one interval and waits until that batch completed.
pub fn step(ctx: &StreamingContext, clock: &ManualClock) -> BatchTime {
    clock.advance(INTERVAL);
    ctx.await_batch(clock.now(), Duration::from_secs(30))
        .unwrap();
    clock.now()
}

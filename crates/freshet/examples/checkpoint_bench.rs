//! Figures for checkpoints: the time and size of a checkpoint of 1 million keys of
//! `update_state_by_key` state, and the time to recover from it.
//!
//! ```sh
//! cargo run --release -p freshet --example checkpoint_bench -- [keys] [workers]
//! ```

use freshet::source::generator::GeneratorOptions;
use freshet::{
    BatchTime, CheckpointInfo, ManualClock, StreamingConfig, StreamingContext, StreamingListener,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fast allocator, as a deployed job would use (see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Default)]
struct Checkpoints(Mutex<Vec<CheckpointInfo>>);

impl StreamingListener for Checkpoints {
    fn on_checkpoint_written(&self, info: &CheckpointInfo) {
        self.0.lock().unwrap().push(info.clone());
    }
}

fn build(
    clock: &ManualClock,
    dir: &Path,
    keys: u64,
    workers: usize,
) -> (StreamingContext, Arc<Checkpoints>) {
    let listener = Arc::new(Checkpoints::default());
    let ctx = StreamingContext::get_or_create(dir, || {
        let config = StreamingConfig::new(Duration::from_millis(100))
            .workers(workers)
            .checkpoint_interval(1);
        let ctx = StreamingContext::with_clock(config, Arc::new(clock.clone()))?;
        // All keys arrive in the first batch (the rate covers them in one interval).
        ctx.generator_stream(GeneratorOptions::rate(keys * 10).limit(keys), |seq| seq)
            .map(|k| (k, 1u64))
            .update_state_by_key(|new: Vec<u64>, n: Option<u64>| {
                Some(n.unwrap_or(0) + new.len() as u64)
            })
            .count()
            .foreach_batch(|_, _| {});
        Ok(ctx)
    })
    .unwrap();
    ctx.add_listener(listener.clone());
    (ctx, listener)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        dir_size(&path)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let keys: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();

    let clock = ManualClock::new(0);
    let (ctx, listener) = build(&clock, dir.path(), keys, workers);
    ctx.start().unwrap();
    clock.advance(Duration::from_millis(100));
    ctx.await_batch(BatchTime(100), Duration::from_secs(120))
        .unwrap();
    clock.advance(Duration::from_millis(100));
    ctx.await_batch(BatchTime(200), Duration::from_secs(120))
        .unwrap();
    ctx.stop(false).unwrap();
    let written = listener.0.lock().unwrap().clone();
    let last = written
        .iter()
        .find(|c| c.time == BatchTime(100))
        .expect("checkpoint of batch 100");
    let checkpoint_dir = dir.path().join("checkpoints");
    let newest = std::fs::read_dir(&checkpoint_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max()
        .unwrap();
    println!(
        "{keys} keys, {workers} worker(s): checkpoint {:.1} ms, {:.1} MiB ({:.1} bytes/key)",
        last.duration.as_secs_f64() * 1000.0,
        dir_size(&newest) as f64 / (1 << 20) as f64,
        dir_size(&newest) as f64 / keys as f64
    );

    // Recovery: from start() to the first batch after the checkpoint completing.
    let clock = ManualClock::new(200);
    let (ctx, _) = build(&clock, dir.path(), keys, workers);
    let started = Instant::now();
    ctx.start().unwrap();
    clock.advance(Duration::from_millis(100));
    ctx.await_batch(BatchTime(300), Duration::from_secs(120))
        .unwrap();
    println!(
        "recovery (load checkpoint, restore state, run one batch over {keys} keys): {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    ctx.stop(true).unwrap();
}

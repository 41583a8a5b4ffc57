//! Recovery on the manual clock: a run stopped abruptly resumes from its checkpoint directory,
//! falls back to an older checkpoint when the newest is damaged, and ends where an
//! uninterrupted run ends.

use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, Clock, CollectedBatches, ManualClock, StreamingConfig, StreamingContext};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const I: u64 = 100;

fn build(
    clock: &ManualClock,
    dir: Option<&Path>,
) -> (StreamingContext, CollectedBatches<(u64, u64)>) {
    let config = StreamingConfig::new(Duration::from_millis(I))
        .workers(2)
        .checkpoint_interval(2)
        .keep_checkpoints(3);
    let make = || -> freshet::Result<(StreamingContext, CollectedBatches<(u64, u64)>)> {
        let ctx = StreamingContext::with_clock(config.clone(), Arc::new(clock.clone()))?;
        let out = ctx
            .generator_stream(GeneratorOptions::rate(1000), |seq| seq)
            .map(|seq| (seq % 7, seq))
            .update_state_by_key(|new: Vec<u64>, sum: Option<u64>| {
                Some(sum.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .collect_batches();
        Ok((ctx, out))
    };
    match dir {
        Some(dir) => {
            let mut out = None;
            let ctx = StreamingContext::get_or_create(dir, || {
                let (ctx, o) = make()?;
                out = Some(o);
                Ok(ctx)
            })
            .unwrap();
            (ctx, out.unwrap())
        }
        None => make().unwrap(),
    }
}

fn run_until(ctx: &StreamingContext, clock: &ManualClock, last: u64) {
    while clock.now().0 < last {
        clock.advance(Duration::from_millis(I));
        ctx.await_batch(clock.now(), Duration::from_secs(20))
            .unwrap();
    }
}

fn sorted(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort();
    v
}

#[test]
fn resumes_after_an_abrupt_stop_even_when_the_newest_checkpoint_is_damaged() {
    // The uninterrupted run.
    let clock = ManualClock::new(0);
    let (ctx, expected) = build(&clock, None);
    ctx.start().unwrap();
    run_until(&ctx, &clock, 1000);
    ctx.stop(true).unwrap();
    let expected_last = sorted(expected.batch(BatchTime(1000)).unwrap());

    // The same pipeline with a checkpoint directory, stopped without a final checkpoint after
    // batch 700 (checkpoints at 200, 400, 600; batch 700 only in the batch log).
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let (ctx, first) = build(&clock, Some(dir.path()));
    ctx.start().unwrap();
    run_until(&ctx, &clock, 700);
    ctx.stop(false).unwrap();
    assert_eq!(
        sorted(first.batch(BatchTime(700)).unwrap()),
        sorted(expected.batch(BatchTime(700)).unwrap())
    );

    // Damage the newest checkpoint: recovery must fall back to the one before and replay more.
    let checkpoints = dir.path().join("checkpoints");
    let mut ids: Vec<_> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    ids.sort();
    let newest = ids.last().unwrap().join("part-00000.bin");
    let mut bytes = std::fs::read(&newest).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x5A;
    std::fs::write(&newest, bytes).unwrap();

    let (ctx, second) = build(&clock, Some(dir.path()));
    ctx.start().unwrap();
    ctx.await_batch(BatchTime(700), Duration::from_secs(20))
        .unwrap();
    run_until(&ctx, &clock, 1000);
    ctx.stop(true).unwrap();
    // Replayed batches give the same results as the first time; later ones continue exactly.
    for t in [700, 800, 900, 1000] {
        assert_eq!(
            sorted(second.batch(BatchTime(t)).unwrap()),
            sorted(expected.batch(BatchTime(t)).unwrap()),
            "batch {t}"
        );
    }
    assert_eq!(
        sorted(second.batch(BatchTime(1000)).unwrap()),
        expected_last
    );
    let replayed: Vec<u64> = second
        .batches()
        .iter()
        .map(|(t, _)| t.0)
        .filter(|t| *t <= 700)
        .collect();
    assert!(
        replayed.contains(&500),
        "the fallback checkpoint (400) needs batches 500.. replayed: {replayed:?}"
    );
}

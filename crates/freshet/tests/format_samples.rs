//! Checkpoint directories written by an earlier build stay readable: `tests/data/format-2/` was
//! written by the build that introduced file format 2 (a running sum by key over a generator,
//! stopped gracefully after 5 batches of 100 ms), and every later build must restore it and go
//! on with the right sums. A format change that breaks this must keep a reader for the old
//! format, or say in its release notes that old directories are refused (and change this test).
//!
//! Regenerate (only when deliberately changing the format):
//! `cargo test -p freshet --test format_samples -- --ignored`.

mod common;

use common::*;
use freshet::source::generator::GeneratorOptions;
use freshet::{BatchTime, ManualClock, StreamingContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/format-2")
}

/// The sample pipeline: `(seq % 7, running sum of seq)`, checkpointed every batch.
fn pipeline(
    dir: &Path,
) -> (
    StreamingContext,
    ManualClock,
    freshet::CollectedBatches<(u64, u64)>,
) {
    let clock = ManualClock::new(0);
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(
            config(2).checkpoint_interval(1),
            Arc::new(clock.clone()),
        )?;
        out = Some(
            ctx.generator_stream(GeneratorOptions::rate(1000), |seq| seq)
                .uid("numbers")
                .map(|seq| (seq % 7, seq))
                .update_state_by_key(|new: Vec<u64>, sum: Option<u64>| {
                    Some(sum.unwrap_or(0) + new.iter().sum::<u64>())
                })
                .collect_batches(),
        );
        Ok(ctx)
    })
    .unwrap();
    (ctx, clock, out.unwrap())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn a_format_2_checkpoint_directory_is_restored_and_continued() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ck");
    copy_dir(&sample_dir(), &dir);
    let (ctx, clock, out) = pipeline(&dir);
    ctx.start().unwrap();
    let first = ctx.first_batch_time().unwrap();
    assert_eq!(
        first,
        BatchTime(600),
        "it resumes after the 5 batches of the sample"
    );
    clock.advance(interval() * 6);
    ctx.await_batch(first, TIMEOUT).unwrap();
    ctx.stop(true).unwrap();
    // Batch 600 holds sequence numbers 0..600 in all: the sums over them, by key.
    let mut got = out.batch(first).unwrap();
    got.sort();
    let expected: Vec<(u64, u64)> = (0..7)
        .map(|k| (k, (0..600u64).filter(|s| s % 7 == k).sum()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
#[ignore = "writes the sample; run only when changing the format on purpose"]
fn regenerate_the_format_2_sample() {
    let dir = sample_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let (ctx, clock, _out) = pipeline(&dir);
    ctx.start().unwrap();
    for k in 1..=5 {
        step(&ctx, &clock, k);
    }
    ctx.stop(true).unwrap();
    let _ = std::fs::remove_file(dir.join("LOCK"));
}

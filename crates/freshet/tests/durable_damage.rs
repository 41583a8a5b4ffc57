//! Damage and operator mistakes on the durable path: a damaged block of a receiver's
//! write-ahead log loses that block only (named in the error, or skipped and counted by
//! policy), never the blocks after it, and the log is not cut; two jobs cannot share one
//! checkpoint directory.

mod common;

use common::*;
use freshet::{BatchTime, DamagePolicy, StreamingContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Job {
    ctx: StreamingContext,
    clock: freshet::ManualClock,
    out: freshet::CollectedBatches<u64>,
    store: StoreBlock,
}

/// The same checkpointed pipeline on `dir`: a receiver of blocks, collected. Checkpoints only
/// at the start, so a restart replays every batch from the batch log and the WAL.
fn job(dir: &Path, policy: DamagePolicy) -> Job {
    let clock = freshet::ManualClock::new(0);
    let (receiver, store) = blocks();
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(
            config(1).checkpoint_interval(1000).on_damage(policy),
            Arc::new(clock.clone()),
        )?;
        out = Some(ctx.receiver_stream(receiver).uid("lines").collect_batches());
        Ok(ctx)
    })
    .unwrap();
    Job {
        ctx,
        clock,
        out: out.unwrap(),
        store,
    }
}

/// Runs three batches of one block each (`[1, 2]`, `[3, 4]`, `[5, 6]`), then stops abruptly
/// (no last checkpoint): a restart replays all three from the logs.
fn three_blocks_then_crash(dir: &Path) {
    let j = job(dir, DamagePolicy::Fail);
    j.ctx.start().unwrap();
    for (k, block) in [vec![1, 2], vec![3, 4], vec![5, 6]].into_iter().enumerate() {
        assert!((j.store)(block));
        step(&j.ctx, &j.clock, k as u64 + 1);
    }
    j.ctx.stop(false).unwrap();
}

fn wal_segment(dir: &Path) -> PathBuf {
    let wal = dir.join("receivers").join("lines");
    std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wal"))
        .unwrap()
}

/// Flips one byte of block `block` (each block's frame is `8 + 8 + payload` bytes; `at_end`:
/// its last byte, else one in its middle).
fn damage_block(dir: &Path, block: usize, at_end: bool) -> Vec<u8> {
    let seg = wal_segment(dir);
    let mut b = std::fs::read(&seg).unwrap();
    // Frames in order: walk their lengths.
    let mut pos = 8;
    for _ in 0..block {
        let len = u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    let len = u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
    let at = if at_end {
        pos + 8 + len - 1
    } else {
        pos + 8 + len / 2
    };
    b[at] ^= 0x20;
    std::fs::write(&seg, &b).unwrap();
    b
}

/// Restarts after the damage: the default policy fails naming the lost block and leaves the log
/// as it is; `SkipLost` replays the other blocks and counts the lost one.
fn restart_after(block: usize, at_end: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ck");
    three_blocks_then_crash(&dir);
    let damaged = damage_block(&dir, block, at_end);

    let j = job(&dir, DamagePolicy::Fail);
    let err = match j.ctx.start() {
        Err(e) => e,
        Ok(()) => j.ctx.await_termination().unwrap_err(),
    };
    let text = err.to_string();
    assert!(
        text.contains(&format!("blocks {block}..{}", block + 1)),
        "{text}"
    );
    assert!(text.contains("SkipLost"), "{text}");
    assert_eq!(
        std::fs::read(wal_segment(&dir)).unwrap(),
        damaged,
        "the log was changed"
    );

    let j = job(&dir, DamagePolicy::SkipLost);
    j.ctx.start().unwrap();
    j.ctx.await_batch(BatchTime(300), TIMEOUT).unwrap();
    let expected: Vec<Vec<u64>> = [vec![1, 2], vec![3, 4], vec![5, 6]]
        .into_iter()
        .enumerate()
        .map(|(k, b)| if k == block { vec![] } else { b })
        .collect();
    let got: Vec<Vec<u64>> = j
        .out
        .batches()
        .into_iter()
        .take(3)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(got, expected);
    assert_eq!(j.ctx.lost_records(), 1);
    j.ctx.stop(true).unwrap();
}

#[test]
fn a_damaged_block_in_the_middle_of_the_wal_loses_that_block_only() {
    restart_after(1, false);
}

#[test]
fn a_damaged_last_block_is_not_taken_for_a_torn_tail() {
    restart_after(2, true);
}

#[test]
fn two_jobs_cannot_share_a_checkpoint_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ck");
    let first = job(&dir, DamagePolicy::Fail);
    first.ctx.start().unwrap();
    let second = job(&dir, DamagePolicy::Fail);
    let err = second.ctx.start().unwrap_err().to_string();
    assert!(err.contains("two jobs cannot share"), "{err}");
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "{err}"
    );
    first.ctx.stop(true).unwrap();
    // Once the first job has stopped, the directory is free again.
    let third = job(&dir, DamagePolicy::Fail);
    third.ctx.start().unwrap();
    third.ctx.stop(true).unwrap();
}

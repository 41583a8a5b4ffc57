//! A full disk under the checkpoint directory: with `DiskFullPolicy::Wait` the job waits,
//! counts the waits, and goes on once space is freed, losing nothing; with the default policy
//! the write fails at once (a reliable receiver does not acknowledge the block). The disk is a small tmpfs mounted for the test (this needs root,
//! as CI has; without it the test fails and says so).

mod common;

use common::*;
use freshet::{BatchTime, DiskFullPolicy, StreamingContext};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted at a fresh directory, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs at {} (this test needs root)",
            path.display()
        );
        SmallDisk { path, _dir: dir }
    }

    /// Fills the disk with a file; returns its path.
    fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.flush();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn job(
    dir: &Path,
    policy: DiskFullPolicy,
) -> (
    StreamingContext,
    freshet::ManualClock,
    freshet::CollectedBatches<u64>,
    StoreBlock,
) {
    let clock = freshet::ManualClock::new(0);
    let (receiver, store) = blocks();
    let mut out = None;
    let ctx = StreamingContext::get_or_create(dir, || {
        let ctx = StreamingContext::with_clock(
            config(1).checkpoint_interval(1000).on_disk_full(policy),
            Arc::new(clock.clone()),
        )?;
        out = Some(ctx.receiver_stream(receiver).collect_batches());
        Ok(ctx)
    })
    .unwrap();
    (ctx, clock, out.unwrap(), store)
}

#[test]
fn with_the_wait_policy_a_full_disk_pauses_the_job_until_space_is_freed() {
    let disk = SmallDisk::mount("512k");
    let policy = DiskFullPolicy::Wait {
        max_wait: Duration::from_secs(120),
    };
    let (ctx, clock, out, store) = job(&disk.path.join("ck"), policy);
    ctx.start().unwrap();
    assert!(store(vec![1]));
    step(&ctx, &clock, 1);

    let filler = disk.fill();
    let pending = {
        let store = Arc::clone(&store);
        // Larger than what is left of the pages the log already holds.
        std::thread::spawn(move || store(vec![2; 8192]))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while ctx.disk_full_waits() == 0 {
        assert!(
            Instant::now() < deadline,
            "the receiver never waited for space"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ctx.is_running(), "the job must wait, not fail");
    std::fs::remove_file(filler).unwrap();
    assert!(
        pending.join().unwrap(),
        "the block is stored once space is back"
    );
    step(&ctx, &clock, 2);
    ctx.stop(true).unwrap();
    assert_eq!(out.batch(BatchTime(100)), Some(vec![1]));
    assert_eq!(out.batch(BatchTime(200)), Some(vec![2; 8192]));
}

#[test]
fn by_default_a_block_that_finds_the_disk_full_is_refused_at_once() {
    let disk = SmallDisk::mount("512k");
    let (ctx, clock, _out, store) = job(&disk.path.join("ck"), DiskFullPolicy::Fail);
    ctx.start().unwrap();
    assert!(store(vec![1]));
    step(&ctx, &clock, 1);
    disk.fill();
    assert!(
        !store(vec![2; 8192]),
        "a block that cannot be written is not acknowledged"
    );
    assert_eq!(ctx.disk_full_waits(), 0, "the default policy does not wait");
    // The last checkpoint of the stop may or may not find room: either outcome is right here.
    let _ = ctx.stop(true);
}

#[test]
fn the_wait_limit_is_checked() {
    let err = StreamingContext::new(config(1).on_disk_full(DiskFullPolicy::Wait {
        max_wait: Duration::from_millis(10),
    }))
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("max_wait must be between 1 s and 7 days"),
        "{err}"
    );
}

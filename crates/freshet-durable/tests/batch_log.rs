//! Batch metadata log behaviour and failure modes.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use freshet_durable::{BatchLog, DurableError};

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "blog"))
        .collect();
    v.sort();
    v
}

fn pending_times(log: &BatchLog) -> Vec<u64> {
    log.pending().iter().map(|e| e.time).collect()
}

#[test]
fn pending_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut log = BatchLog::open(tmp.path()).unwrap();
        for t in [1000, 2000, 3000, 4000] {
            log.log(t, format!("ranges of {t}").as_bytes()).unwrap();
        }
        log.completed(1000).unwrap();
        log.completed(3000).unwrap();
        assert_eq!(pending_times(&log), vec![2000, 4000]);
    }
    let log = BatchLog::open(tmp.path()).unwrap();
    assert_eq!(pending_times(&log), vec![2000, 4000]);
    assert_eq!(log.get(2000).unwrap().payload, b"ranges of 2000");
    assert!(log.get(1000).unwrap().completed);
    assert_eq!(log.last_time(), Some(4000));
    let from: Vec<u64> = log.entries_from(2500).map(|e| e.time).collect();
    assert_eq!(from, vec![3000, 4000]);
}

#[test]
fn relogging_and_unknown_times() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = BatchLog::open(tmp.path()).unwrap();
    log.log(1, b"a").unwrap();
    log.log(1, b"a").unwrap();
    assert!(matches!(
        log.log(1, b"b"),
        Err(DurableError::InvalidArgument(_))
    ));
    assert!(matches!(
        log.completed(2),
        Err(DurableError::InvalidArgument(_))
    ));
    log.completed(1).unwrap();
    log.completed(1).unwrap();
}

#[test]
fn torn_tail_at_every_byte_loses_only_the_last_record() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    {
        let mut log = BatchLog::open(&src).unwrap();
        log.log(1, b"one").unwrap();
        log.log(2, b"two").unwrap();
    }
    let seg = segments(&src)[0].clone();
    let full = fs::read(&seg).unwrap();
    let last_len = 8 + 1 + 8 + 3;
    for cut in full.len() - last_len..full.len() {
        let work = tmp.path().join(format!("w{cut}"));
        fs::create_dir_all(&work).unwrap();
        let wseg = work.join(seg.file_name().unwrap());
        fs::write(&wseg, &full).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&wseg)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let mut log = BatchLog::open(&work).unwrap();
        assert_eq!(pending_times(&log), vec![1]);
        log.log(2, b"two again").unwrap();
        drop(log);
        let log = BatchLog::open(&work).unwrap();
        assert_eq!(log.get(2).unwrap().payload, b"two again");
    }
}

#[test]
fn compaction_drops_old_batches_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = BatchLog::open(tmp.path()).unwrap();
    for t in 1..=10u64 {
        log.log(t, &t.to_le_bytes()).unwrap();
        if t % 3 != 0 {
            log.completed(t).unwrap();
        }
    }
    log.compact_before(6).unwrap();
    assert!(log.get(5).is_none());
    assert_eq!(pending_times(&log), vec![6, 9]);
    assert_eq!(segments(tmp.path()).len(), 1);
    log.log(11, b"eleven").unwrap();
    drop(log);
    let log = BatchLog::open(tmp.path()).unwrap();
    assert!(log.get(3).is_none());
    assert_eq!(pending_times(&log), vec![6, 9, 11]);
    assert!(log.get(7).unwrap().completed);
    assert_eq!(log.get(8).unwrap().payload, 8u64.to_le_bytes());
}

#[test]
fn damage_before_the_tail_is_reported_and_the_entries_around_it_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut log = BatchLog::open_with(
            tmp.path(),
            freshet_durable::WalConfig {
                segment_size: 64,
                fsync: freshet_durable::FsyncPolicy::Never,
            },
        )
        .unwrap();
        for t in 0..20u64 {
            log.log(t, b"payload").unwrap();
        }
    }
    let segs = segments(tmp.path());
    assert!(segs.len() > 2);
    let mut b = fs::read(&segs[0]).unwrap();
    let n = b.len();
    b[n - 2] ^= 0xff;
    fs::write(&segs[0], &b).unwrap();
    // A read-only look changes nothing and sees the damage.
    let seen = BatchLog::read(tmp.path()).unwrap();
    assert_eq!(fs::read(&segs[0]).unwrap(), b);
    assert_eq!(seen.damage.len(), 1, "{:?}", seen.damage);
    assert!(seen.damage[0].is_corruption());
    let log = BatchLog::open(tmp.path()).unwrap();
    assert_eq!(log.damage().len(), 1);
    // One entry lost; the 19 others are read, the ones after the damage included.
    let kept: Vec<u64> = (0..20).filter(|t| log.get(*t).is_some()).collect();
    assert_eq!(kept.len(), 19, "{kept:?}");
    assert!(log.get(19).is_some());
}

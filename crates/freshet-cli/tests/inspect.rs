//! `freshet checkpoint inspect` on damaged directories: it reports every damaged log, changes
//! nothing it reads, and exits with status 1 when anything is damaged (0 otherwise).

use freshet_durable::wal::{FsyncPolicy, LogWriter, WalConfig, WalWriter};
use freshet_durable::BatchLog;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A checkpoint directory with a batch log of 6 batches and a receiver WAL of 5 blocks.
fn job_dir(root: &Path) -> PathBuf {
    let dir = root.join("ck");
    let mut log = BatchLog::open(dir.join("batches")).unwrap();
    for t in 1..=6u64 {
        log.log(t * 100, format!("batch {t}").as_bytes()).unwrap();
        if t < 5 {
            log.completed(t * 100).unwrap();
        }
    }
    drop(log);
    let config = WalConfig {
        fsync: FsyncPolicy::Never,
        ..WalConfig::default()
    };
    let mut wal = WalWriter::open(dir.join("receivers").join("lines"), config).unwrap();
    for i in 0..5u8 {
        wal.append(&[i; 40]).unwrap();
    }
    drop(wal);
    dir
}

fn segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal" || e == "blog"))
        .collect();
    segs.sort();
    segs.remove(0)
}

fn inspect(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_freshet"))
        .args(["checkpoint", "inspect"])
        .arg(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn an_intact_directory_exits_0() {
    let root = tempfile::tempdir().unwrap();
    let dir = job_dir(root.path());
    let (code, text) = inspect(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no damage found"), "{text}");
    assert!(text.contains("5 blocks"), "{text}");
    assert!(
        text.contains("logged but not completed (replayed on recovery): [500, 600]"),
        "{text}"
    );
}

#[test]
fn damage_in_the_wal_and_the_batch_log_is_reported_and_nothing_changes() {
    let root = tempfile::tempdir().unwrap();
    let dir = job_dir(root.path());
    // A byte of the WAL's third block, and the last byte of the batch log's last record.
    let wal = segment(&dir.join("receivers").join("lines"));
    let mut b = std::fs::read(&wal).unwrap();
    let third = 8 + 2 * (8 + 8 + 40) + 20;
    b[third] ^= 0x01;
    std::fs::write(&wal, &b).unwrap();
    let blog = segment(&dir.join("batches"));
    let mut b = std::fs::read(&blog).unwrap();
    let last = b.len() - 1;
    b[last] ^= 0x01;
    std::fs::write(&blog, &b).unwrap();
    let before = snapshot(&dir);
    let (code, text) = inspect(&dir);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("records 2..3 are lost"), "{text}");
    assert_eq!(text.matches("DAMAGED").count(), 2, "{text}");
    assert!(
        text.contains("4 blocks"),
        "the blocks after the damage are counted: {text}"
    );
    assert_eq!(snapshot(&dir), before, "inspect changed the directory");
}

#[test]
fn a_torn_tail_is_reported_but_is_not_damage() {
    let root = tempfile::tempdir().unwrap();
    let dir = job_dir(root.path());
    let wal = segment(&dir.join("receivers").join("lines"));
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let before = snapshot(&dir);
    let (code, text) = inspect(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("torn tail"), "{text}");
    assert!(text.contains("4 blocks"), "{text}");
    assert_eq!(snapshot(&dir), before, "inspect cut the torn tail");
}

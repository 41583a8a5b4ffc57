//! Checkpoint store behaviour and every failure mode of its files.

use std::fs::{self, OpenOptions};
use std::path::Path;

use freshet_durable::checkpoint::{
    describe, CheckpointId, CheckpointStatus, CheckpointStore, FsCheckpointStore, Manifest,
    MANIFEST_FILE, PART_CHUNK,
};
use freshet_durable::DurableError;

fn state(id: u64, worker: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64 ^ id.wrapping_mul(31) ^ worker as u64) as u8)
        .collect()
}

/// Writes checkpoint `id` with `workers` parts and commits it.
fn checkpoint(store: &FsCheckpointStore, id: u64, workers: usize) -> Manifest {
    let mut m = Manifest::new(CheckpointId(id), "fp-1", id * 1000);
    m.config.insert("batch-interval".into(), "1s".into());
    m.source_positions
        .insert("socket".into(), id.to_le_bytes().to_vec());
    m.pending_batches = vec![id * 1000 + 1000];
    for w in 0..workers {
        m.parts.push(
            store
                .put_part(CheckpointId(id), w, &state(id, w, 100 + w))
                .unwrap(),
        );
    }
    store.commit(&m).unwrap();
    m
}

fn latest_id(store: &FsCheckpointStore) -> Option<u64> {
    store.latest().unwrap().map(|c| c.manifest.id.0)
}

fn flip_byte(path: &Path, pos_from_end: usize) {
    let mut b = fs::read(path).unwrap();
    let n = b.len();
    b[n - 1 - pos_from_end] ^= 0x01;
    fs::write(path, b).unwrap();
}

#[test]
fn roundtrip() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    assert!(store.latest().unwrap().is_none());
    let m = checkpoint(&store, 1, 3);
    let loaded = store.latest().unwrap().unwrap();
    assert_eq!(loaded.manifest, m);
    assert!(loaded.skipped.is_empty());
    for w in 0..3 {
        assert_eq!(loaded.part(w).unwrap(), &state(1, w, 100 + w)[..]);
    }
    assert!(loaded.part(3).is_none());
}

#[test]
fn large_part_spans_many_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 1).unwrap();
    let big = state(9, 0, PART_CHUNK * 2 + 17);
    let mut m = Manifest::new(CheckpointId(9), "fp", 9);
    m.parts
        .push(store.put_part(CheckpointId(9), 0, &big).unwrap());
    m.parts
        .push(store.put_part(CheckpointId(9), 1, &[]).unwrap());
    store.commit(&m).unwrap();
    let loaded = store.load(CheckpointId(9)).unwrap();
    assert_eq!(loaded.parts[0], big);
    assert!(loaded.parts[1].is_empty());
}

#[test]
fn keeps_the_last_n() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 2).unwrap();
    for id in 1..=5 {
        checkpoint(&store, id, 2);
    }
    let ids: Vec<u64> = store.list().unwrap().iter().map(|(id, _)| id.0).collect();
    assert_eq!(ids, vec![4, 5]);
    assert!(matches!(
        FsCheckpointStore::open(tmp.path(), 0),
        Err(DurableError::InvalidArgument(_))
    ));
}

#[test]
fn corrupt_newest_manifest_falls_back_to_previous() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    checkpoint(&store, 1, 2);
    checkpoint(&store, 2, 2);
    flip_byte(
        &store.checkpoint_dir(CheckpointId(2)).join(MANIFEST_FILE),
        3,
    );
    let loaded = store.latest().unwrap().unwrap();
    assert_eq!(loaded.manifest.id.0, 1);
    assert_eq!(loaded.skipped.len(), 1);
    assert_eq!(loaded.skipped[0].0, CheckpointId(2));
    assert!(matches!(loaded.skipped[0].1, DurableError::Corrupt { .. }));
}

#[test]
fn truncated_manifest_at_every_length_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    checkpoint(&store, 1, 1);
    checkpoint(&store, 2, 1);
    let mpath = store.checkpoint_dir(CheckpointId(2)).join(MANIFEST_FILE);
    let full = fs::read(&mpath).unwrap();
    for cut in 0..full.len() {
        fs::write(&mpath, &full[..cut]).unwrap();
        assert_eq!(latest_id(&store), Some(1), "cut {cut}");
    }
    fs::write(&mpath, &full).unwrap();
    assert_eq!(latest_id(&store), Some(2));
}

#[test]
fn missing_part_falls_back_and_cannot_be_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    checkpoint(&store, 1, 2);
    let m2 = checkpoint(&store, 2, 2);
    let part = store
        .checkpoint_dir(CheckpointId(2))
        .join(&m2.parts[1].file);
    fs::remove_file(&part).unwrap();
    let loaded = store.latest().unwrap().unwrap();
    assert_eq!(loaded.manifest.id.0, 1);
    assert!(matches!(
        loaded.skipped[0].1,
        DurableError::MissingPart { worker: 1, .. }
    ));

    // Committing a manifest whose part was never written fails and commits nothing.
    let mut m3 = Manifest::new(CheckpointId(3), "fp-1", 3000);
    m3.parts
        .push(store.put_part(CheckpointId(3), 0, b"state").unwrap());
    let mut ghost = m3.parts[0].clone();
    ghost.worker = 1;
    ghost.file = "part-00001.bin".into();
    m3.parts.push(ghost);
    let err = store.commit(&m3).unwrap_err();
    assert!(
        matches!(err, DurableError::MissingPart { worker: 1, .. }),
        "{err}"
    );
    assert_eq!(latest_id(&store), Some(1));
}

#[test]
fn damaged_part_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    checkpoint(&store, 1, 2);
    let m2 = checkpoint(&store, 2, 2);
    let part = store
        .checkpoint_dir(CheckpointId(2))
        .join(&m2.parts[0].file);
    let good = fs::read(&part).unwrap();
    // Every bit flip and every truncation of the part is detected.
    for bit in 0..good.len() * 8 {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        fs::write(&part, &b).unwrap();
        assert_eq!(latest_id(&store), Some(1), "bit {bit}");
    }
    for cut in 0..good.len() {
        OpenOptions::new()
            .write(true)
            .open(&part)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        assert_eq!(latest_id(&store), Some(1), "cut {cut}");
        fs::write(&part, &good).unwrap();
    }
    // A part swapped in from another checkpoint passes its own checksums but not the manifest.
    let other = store
        .checkpoint_dir(CheckpointId(1))
        .join(&m2.parts[0].file);
    fs::copy(&other, &part).unwrap();
    let loaded = store.latest().unwrap().unwrap();
    assert_eq!(loaded.manifest.id.0, 1);
    assert!(matches!(
        loaded.skipped[0].1,
        DurableError::PartMismatch { .. }
    ));
}

#[test]
fn uncommitted_newest_is_ignored_and_all_damaged_gives_none() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    checkpoint(&store, 1, 1);
    store.put_part(CheckpointId(2), 0, b"half").unwrap();
    let loaded = store.latest().unwrap().unwrap();
    assert_eq!(loaded.manifest.id.0, 1);
    assert!(loaded.skipped.is_empty());
    flip_byte(
        &store.checkpoint_dir(CheckpointId(1)).join(MANIFEST_FILE),
        0,
    );
    assert!(store.latest().unwrap().is_none());
}

#[test]
fn manifest_in_the_wrong_directory_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    checkpoint(&store, 1, 1);
    checkpoint(&store, 2, 1);
    fs::copy(
        store.checkpoint_dir(CheckpointId(1)).join(MANIFEST_FILE),
        store.checkpoint_dir(CheckpointId(2)).join(MANIFEST_FILE),
    )
    .unwrap();
    let loaded = store.latest().unwrap().unwrap();
    assert_eq!(loaded.manifest.id.0, 1);
    assert_eq!(loaded.skipped.len(), 1);
}

#[test]
fn stale_temporary_files_are_removed_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 3).unwrap();
    checkpoint(&store, 1, 1);
    let stale = store.checkpoint_dir(CheckpointId(1)).join("MANIFEST.tmp");
    fs::write(&stale, b"partial").unwrap();
    FsCheckpointStore::open(tmp.path(), 3).unwrap();
    assert!(!stale.exists());
}

#[test]
fn describe_reports_every_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsCheckpointStore::open(tmp.path(), 5).unwrap();
    checkpoint(&store, 1, 2);
    let m2 = checkpoint(&store, 2, 2);
    store.put_part(CheckpointId(3), 0, b"x").unwrap();
    fs::remove_file(
        store
            .checkpoint_dir(CheckpointId(2))
            .join(&m2.parts[1].file),
    )
    .unwrap();

    let all = describe(tmp.path()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].status, CheckpointStatus::Complete);
    assert!(matches!(all[1].status, CheckpointStatus::Damaged(_)));
    assert!(all[1].parts[1].problem.is_some());
    assert_eq!(all[2].status, CheckpointStatus::Uncommitted);
    let text: String = all.iter().map(|d| d.to_string()).collect();
    assert!(text.contains("checkpoint 1 at"), "{text}");
    assert!(text.contains("fingerprint: fp-1"), "{text}");
    assert!(text.contains("pending batches: [2000]"), "{text}");
    assert!(text.contains("DAMAGED"), "{text}");
    assert!(text.contains("uncommitted"), "{text}");

    let one = describe(store.checkpoint_dir(CheckpointId(1))).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].manifest.as_ref().unwrap().batch_time, 1000);
    assert!(describe(tmp.path().join("nope")).is_err());
}

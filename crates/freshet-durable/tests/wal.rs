//! WAL behaviour, including every failure mode of its files.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use freshet_durable::framing::{framed_len, HEADER_LEN};
use freshet_durable::wal::{FsyncPolicy, LogOffset, LogWriter, WalConfig, WalReader, WalWriter};
use freshet_durable::DurableError;

fn config(segment_size: u64) -> WalConfig {
    WalConfig {
        segment_size,
        fsync: FsyncPolicy::Never,
    }
}

fn record(i: usize) -> Vec<u8> {
    (0..(i * 7) % 50 + 1).map(|j| (i + j) as u8).collect()
}

fn write(dir: &Path, n: usize, segment_size: u64) -> Vec<Vec<u8>> {
    let mut w = WalWriter::open(dir, config(segment_size)).unwrap();
    let recs: Vec<Vec<u8>> = (0..n).map(record).collect();
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(w.append(r).unwrap(), LogOffset(i as u64));
    }
    w.sync().unwrap();
    recs
}

fn read_ok(dir: &Path, from: u64) -> Vec<(u64, Vec<u8>)> {
    WalReader::open(dir, LogOffset(from))
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.offset.0, r.data)
        })
        .collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(to).unwrap() {
        fs::remove_file(e.unwrap().path()).unwrap();
    }
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn roundtrip_with_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let recs = write(tmp.path(), 100, 200);
    let segs = segments(tmp.path());
    assert!(segs.len() > 10, "{} segments", segs.len());
    assert_eq!(
        segs[0].file_name().unwrap().to_str().unwrap(),
        "00000000000000000000.wal"
    );
    let got = read_ok(tmp.path(), 0);
    assert_eq!(got.len(), 100);
    for (i, (off, data)) in got.iter().enumerate() {
        assert_eq!(*off, i as u64);
        assert_eq!(data, &recs[i]);
    }
    // Reading from the middle.
    let got = read_ok(tmp.path(), 57);
    assert_eq!(got[0].0, 57);
    assert_eq!(got.len(), 43);
    // Segment names are the first offsets.
    for seg in &segs {
        let first: u64 = seg.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let recs = read_ok(tmp.path(), first);
        assert_eq!(recs[0].0, first);
    }
}

#[test]
fn reopen_continues_offsets() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), 10, 1 << 20);
    let mut w = WalWriter::open(tmp.path(), config(1 << 20)).unwrap();
    assert_eq!(w.next_offset(), LogOffset(10));
    assert_eq!(w.append(b"x").unwrap(), LogOffset(10));
    drop(w);
    assert_eq!(read_ok(tmp.path(), 0).len(), 11);
}

#[test]
fn oversized_record_gets_its_own_segment_and_too_large_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = WalWriter::open(tmp.path(), config(64)).unwrap();
    w.append(b"a").unwrap();
    w.append(&[7u8; 500]).unwrap();
    w.append(b"b").unwrap();
    assert_eq!(w.segments().len(), 3);
    let err = w
        .append(&vec![0u8; freshet_durable::framing::MAX_FRAME_LEN + 1])
        .unwrap_err();
    assert!(matches!(err, DurableError::RecordTooLarge { .. }));
    assert_eq!(read_ok(tmp.path(), 0).len(), 3);
}

/// Cuts the last record at every byte offset: the reader returns the earlier records without
/// error, the writer cuts the tail and continues at the cut record's offset.
#[test]
fn torn_tail_at_every_byte_of_the_last_record() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let recs = write(&src, 3, 1 << 20);
    let seg = segments(&src)[0].clone();
    let full = fs::metadata(&seg).unwrap().len() as usize;
    // A frame holds the record's 8-byte offset, then the record.
    let last_start = full - framed_len(8 + recs[2].len());
    let work = tmp.path().join("work");
    for cut in last_start..full {
        copy_dir(&src, &work);
        let wseg = segments(&work)[0].clone();
        OpenOptions::new()
            .write(true)
            .open(&wseg)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let got = read_ok(&work, 0);
        assert_eq!(got.len(), 2, "cut at {cut}");
        let mut w = WalWriter::open(&work, config(1 << 20)).unwrap();
        assert_eq!(fs::metadata(&wseg).unwrap().len() as usize, last_start);
        assert_eq!(w.append(b"new").unwrap(), LogOffset(2));
        drop(w);
        let got = read_ok(&work, 0);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].1, b"new");
    }
}

#[test]
fn torn_header_of_newest_segment() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), 5, 1 << 20);
    // A crash right after creating the next segment, inside its header.
    let next = tmp.path().join("00000000000000000005.wal");
    fs::write(&next, &b"FRSHW"[..]).unwrap();
    assert_eq!(read_ok(tmp.path(), 0).len(), 5);
    let mut w = WalWriter::open(tmp.path(), config(1 << 20)).unwrap();
    assert_eq!(w.append(b"x").unwrap(), LogOffset(5));
    drop(w);
    assert_eq!(read_ok(tmp.path(), 0).len(), 6);
    // And an empty newest segment file.
    fs::write(tmp.path().join("00000000000000000006.wal"), b"").unwrap();
    assert_eq!(read_ok(tmp.path(), 0).len(), 6);
    let w = WalWriter::open(tmp.path(), config(1 << 20)).unwrap();
    assert_eq!(w.next_offset(), LogOffset(6));
}

/// `(offset, record)` pairs read back.
type Records = Vec<(u64, Vec<u8>)>;

/// The records and the lost offsets a reader yields.
fn read_all(dir: &Path) -> (Records, Vec<std::ops::Range<u64>>) {
    let mut ok = Vec::new();
    let mut lost = Vec::new();
    for item in WalReader::open(dir, LogOffset(0)).unwrap() {
        match item {
            Ok(r) => ok.push((r.offset.0, r.data)),
            Err(DurableError::Lost { offsets, .. }) => lost.push(offsets),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    (ok, lost)
}

#[test]
fn a_flipped_bit_in_the_newest_segment_loses_that_record_only_and_nothing_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let recs = write(&src, 4, 1 << 20);
    let seg = segments(&src)[0].clone();
    let bytes = fs::read(&seg).unwrap();
    let work = tmp.path().join("work");
    let mut starts = vec![HEADER_LEN];
    for r in &recs {
        starts.push(starts.last().unwrap() + framed_len(8 + r.len()));
    }
    for bit in (HEADER_LEN * 8)..(bytes.len() * 8) {
        copy_dir(&src, &work);
        let wseg = segments(&work)[0].clone();
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        fs::write(&wseg, &b).unwrap();
        let damaged = starts.iter().rposition(|s| *s <= bit / 8).unwrap() as u64;
        let (ok, lost) = read_all(&work);
        let expected: Vec<(u64, Vec<u8>)> = (0..4u64)
            .filter(|i| *i != damaged)
            .map(|i| (i, recs[i as usize].clone()))
            .collect();
        if ok.len() == 4 {
            // A damaged length field: the record was recovered whole.
            assert!(lost.is_empty(), "bit {bit}");
        } else {
            assert_eq!(
                ok, expected,
                "bit {bit}: the records after the damaged one are kept"
            );
            assert_eq!(lost, vec![damaged..damaged + 1], "bit {bit}");
        }
        // Opening for writing cuts nothing and never reuses the lost record's offset.
        let mut w = WalWriter::open(&work, config(1 << 20)).unwrap();
        assert_eq!(
            fs::read(&wseg).unwrap(),
            b,
            "bit {bit}: the file is unchanged"
        );
        assert_eq!(w.append(b"new").unwrap(), LogOffset(4), "bit {bit}");
        drop(w);
        let (ok, _) = read_all(&work);
        assert_eq!(ok.last().unwrap(), &(4, b"new".to_vec()), "bit {bit}");
    }
}

#[test]
fn damage_in_a_closed_segment_loses_that_record_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let recs = write(tmp.path(), 30, 200);
    let segs = segments(tmp.path());
    let victim = &segs[1];
    let next: u64 = segs[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut b = fs::read(victim).unwrap();
    let n = b.len();
    b[n - 1] ^= 0x10;
    fs::write(victim, &b).unwrap();
    let (ok, lost) = read_all(tmp.path());
    let last = next - 1;
    assert_eq!(lost, vec![last..last + 1]);
    let expected: Vec<(u64, Vec<u8>)> = (0..30u64)
        .filter(|i| *i != last)
        .map(|i| (i, recs[i as usize].clone()))
        .collect();
    assert_eq!(ok, expected);
    let items: Vec<_> = WalReader::open(tmp.path(), LogOffset(0)).unwrap().collect();
    assert!(items.iter().any(|r| matches!(
        r,
        Err(DurableError::Lost { path, .. }) if path == victim
    )));
}

#[test]
fn missing_or_garbled_segments() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), 30, 200);
    let segs = segments(tmp.path());
    let first = |p: &PathBuf| -> u64 { p.file_stem().unwrap().to_str().unwrap().parse().unwrap() };
    // A gap: a closed segment deleted in the middle; its records are reported lost, the
    // later ones are read.
    fs::remove_file(&segs[2]).unwrap();
    let (ok, lost) = read_all(tmp.path());
    assert_eq!(lost, vec![first(&segs[2])..first(&segs[3])]);
    assert_eq!(ok.last().unwrap().0, 29);
    // Garbage in the header of the newest segment: an error, not a panic.
    let last = segments(tmp.path()).last().unwrap().clone();
    fs::write(&last, b"not a wal segment at all").unwrap();
    let err = WalWriter::open(tmp.path(), config(200)).unwrap_err();
    assert!(matches!(err, DurableError::BadHeader { .. }), "{err}");
}

#[test]
fn truncate_before_deletes_whole_old_segments_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = WalWriter::open(tmp.path(), config(200)).unwrap();
    for i in 0..50 {
        w.append(&record(i)).unwrap();
    }
    let before = w.segments();
    let cut = LogOffset(25);
    let deleted = w.truncate_before(cut).unwrap();
    assert!(deleted > 0);
    let after = w.segments();
    assert_eq!(after.len(), before.len() - deleted);
    assert!(after[0].0 <= cut, "the segment holding offset 25 is kept");
    let got = read_ok(tmp.path(), 25);
    assert_eq!(got[0].0, 25);
    assert_eq!(got.len(), 25);
    // Truncating past the end keeps the active segment.
    w.truncate_before(LogOffset(1000)).unwrap();
    assert_eq!(w.segments().len(), 1);
    assert_eq!(w.append(b"z").unwrap(), LogOffset(50));
}

#[test]
fn every_fsync_policy_writes_the_same_log() {
    for fsync in [
        FsyncPolicy::EveryRecord,
        FsyncPolicy::Interval(Duration::from_millis(1)),
        FsyncPolicy::Never,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = WalWriter::open(
            tmp.path(),
            WalConfig {
                segment_size: 300,
                fsync,
            },
        )
        .unwrap();
        for i in 0..40 {
            w.append(&record(i)).unwrap();
        }
        w.sync().unwrap();
        drop(w);
        let got = read_ok(tmp.path(), 0);
        assert_eq!(got.len(), 40, "{fsync:?}");
    }
}

#[test]
fn invalid_config_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        WalWriter::open(tmp.path(), config(0)),
        Err(DurableError::InvalidArgument(_))
    ));
}

//! Property: any truncation or corruption of a WAL yields a prefix of the appended records
//! (and never a panic), for the reader and for a writer reopening it.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use freshet_durable::wal::{FsyncPolicy, LogOffset, LogWriter, WalConfig, WalReader, WalWriter};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Damage {
    /// Truncate segment `seg` (index modulo count) to `frac` of its length.
    Truncate { seg: usize, frac: f64 },
    /// XOR byte `pos` (modulo length) of segment `seg` with `mask`.
    Flip { seg: usize, pos: usize, mask: u8 },
    /// Overwrite bytes from `pos` with `bytes`.
    Overwrite {
        seg: usize,
        pos: usize,
        bytes: Vec<u8>,
    },
    /// Append garbage to the segment.
    Append { seg: usize, bytes: Vec<u8> },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0.0f64..1.0).prop_map(|(seg, frac)| Damage::Truncate { seg, frac }),
        (any::<usize>(), any::<usize>(), 1u8..=255).prop_map(|(seg, pos, mask)| Damage::Flip {
            seg,
            pos,
            mask
        }),
        (
            any::<usize>(),
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..20)
        )
            .prop_map(|(seg, pos, bytes)| Damage::Overwrite { seg, pos, bytes }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..20)
        )
            .prop_map(|(seg, bytes)| Damage::Append { seg, bytes }),
    ]
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn apply(dir: &Path, d: &Damage) {
    let segs = segments(dir);
    let pick = |i: usize| segs[i % segs.len()].clone();
    match d {
        Damage::Truncate { seg, frac } => {
            let p = pick(*seg);
            let len = fs::metadata(&p).unwrap().len();
            let f = OpenOptions::new().write(true).open(&p).unwrap();
            f.set_len((len as f64 * frac) as u64).unwrap();
        }
        Damage::Flip { seg, pos, mask } => {
            let p = pick(*seg);
            let mut b = fs::read(&p).unwrap();
            if !b.is_empty() {
                let n = b.len();
                b[pos % n] ^= mask;
                fs::write(&p, b).unwrap();
            }
        }
        Damage::Overwrite { seg, pos, bytes } => {
            let p = pick(*seg);
            let mut b = fs::read(&p).unwrap();
            if !b.is_empty() {
                let start = pos % b.len();
                for (i, x) in bytes.iter().enumerate() {
                    if start + i < b.len() {
                        b[start + i] = *x;
                    }
                }
                fs::write(&p, b).unwrap();
            }
        }
        Damage::Append { seg, bytes } => {
            let p = pick(*seg);
            let mut b = fs::read(&p).unwrap();
            b.extend_from_slice(bytes);
            fs::write(&p, b).unwrap();
        }
    }
}

fn read_prefix(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(reader) = WalReader::open(dir, LogOffset(0)) else {
        return out;
    };
    for r in reader {
        match r {
            Ok(r) => out.push((r.offset.0, r.data)),
            // Lost records are reported in their place; the reader goes on after them.
            Err(freshet_durable::DurableError::Lost { .. }) => {}
            Err(_) => break,
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_damaged_wal_never_yields_a_wrong_record_and_never_reuses_an_offset(
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 0..25),
        segment_size in 16u64..400,
        damages in proptest::collection::vec(damage(), 1..3),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        {
            let mut w = WalWriter::open(dir, WalConfig { segment_size, fsync: FsyncPolicy::Never }).unwrap();
            for r in &records {
                w.append(r).unwrap();
            }
        }
        for d in &damages {
            apply(dir, d);
        }
        // Every record read is the record written at that offset (never a wrong one), in order.
        let got = read_prefix(dir);
        for (i, (off, data)) in got.iter().enumerate() {
            prop_assert!((*off as usize) < records.len());
            prop_assert_eq!(data, &records[*off as usize]);
            if i > 0 {
                prop_assert!(*off > got[i - 1].0);
            }
        }
        // A writer reopening the damaged log fails cleanly or continues after every record it
        // kept, never reusing an offset.
        if let Ok(mut w) = WalWriter::open(dir, WalConfig { segment_size, fsync: FsyncPolicy::Never }) {
            let next = w.next_offset().0;
            prop_assert!(got.last().is_none_or(|(off, _)| next > *off));
            let _ = w.append(b"after");
            drop(w);
            let again = read_prefix(dir);
            for (off, data) in &again {
                if *off < next {
                    prop_assert_eq!(data, &records[*off as usize]);
                } else {
                    prop_assert_eq!(*off, next);
                    prop_assert_eq!(data, &b"after".to_vec());
                }
            }
        }
    }
}

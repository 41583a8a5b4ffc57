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
            Err(_) => break,
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn damaged_wal_reads_a_prefix(
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
        let got = read_prefix(dir);
        prop_assert!(got.len() <= records.len());
        for (i, (off, data)) in got.iter().enumerate() {
            prop_assert_eq!(*off, i as u64);
            prop_assert_eq!(data, &records[i]);
        }
        // A writer reopening the damaged log either fails cleanly or continues after a prefix.
        if let Ok(mut w) = WalWriter::open(dir, WalConfig { segment_size, fsync: FsyncPolicy::Never }) {
            let next = w.next_offset().0 as usize;
            prop_assert!(next <= records.len());
            let _ = w.append(b"after");
            drop(w);
            let again = read_prefix(dir);
            for (i, (off, data)) in again.iter().enumerate() {
                prop_assert_eq!(*off, i as u64);
                if i < next {
                    prop_assert_eq!(data, &records[i]);
                }
            }
        }
    }
}

//! Entry points for fuzzers: decoders of on-disk data fed arbitrary bytes.
//!
//! Each function decodes `data` as one kind of file and checks the decoder's invariants; it
//! must return normally for every input. The cargo-fuzz targets in `fuzz/` and the
//! `tests/fuzz_like.rs` random-input tests call these.

use std::path::Path;

use crate::batch_log::BatchRecord;
use crate::checkpoint::{decode_part, Manifest};
use crate::framing::FileKind;
use crate::wal::{decode_segment, LogOffset, ScannedRecord};

/// Decodes `data` as a WAL segment file and as a batch-log segment, both as the newest segment
/// and as a closed one, checking that the intact records are in order, inside the buffer and
/// numbered upwards, that lost ranges are in order, and that an undamaged segment re-encodes to
/// as many bytes.
pub fn wal_reader(data: &[u8]) {
    let path = Path::new("fuzz.wal");
    for kind in [FileKind::Wal, FileKind::BatchLog] {
        for next in [None, Some(LogOffset(1 << 40))] {
            let Ok(scan) = decode_segment(data, kind, path, LogOffset(7), next) else {
                continue;
            };
            assert!(scan.valid_len(data.len()) <= data.len());
            let mut last: Option<&ScannedRecord<'_>> = None;
            for r in &scan.records {
                assert!((r.position as usize) < data.len());
                if let Some(l) = last {
                    assert!(r.position > l.position && r.offset > l.offset);
                }
                last = Some(r);
                if kind == FileKind::BatchLog {
                    let _ = BatchRecord::decode(r.data);
                }
            }
            for pair in scan.lost.windows(2) {
                assert!(pair[0].offsets.end <= pair[1].offsets.start);
                assert!(pair[0].bytes.end <= pair[1].bytes.start);
            }
            assert!(scan.end_offset(LogOffset(7)).0 >= 7);
            if scan.lost.is_empty() && scan.torn_tail.is_none() {
                let mut rebuilt = crate::framing::header(kind).to_vec();
                for r in &scan.records {
                    crate::wal::encode_record(&mut rebuilt, r.offset, r.data).expect("fits");
                }
                // Equal up to length fields that were damaged and recovered.
                assert_eq!(rebuilt.len(), data.len());
            }
        }
    }
}

/// Decodes `data` as a manifest file, as a bare manifest payload and as a checkpoint part;
/// a manifest that decodes must re-encode to a manifest that decodes to the same value.
pub fn manifest_reader(data: &[u8]) {
    let path = Path::new("MANIFEST");
    if let Ok(m) = Manifest::decode(data, path) {
        let again = Manifest::decode(&m.encode().expect("encodes"), path).expect("decodes");
        assert_eq!(again, m);
    }
    if let Ok(m) = Manifest::decode_payload(data) {
        let bytes = m.encode().expect("encodes");
        assert_eq!(Manifest::decode(&bytes, path).expect("decodes"), m);
    }
    let _ = decode_part(data, Path::new("part-00000.bin"));
}

/// Decodes `data` as each kind of value the engine keeps in its logs and checkpoints (a batch
/// record, source offsets, a receiver block, worker state parts, keyed state entries); a value
/// that decodes must re-encode to bytes that decode to the same value.
pub fn codec_reader(data: &[u8]) {
    use crate::codec::{decode, encode};
    use std::collections::BTreeMap;
    fn roundtrip<T>(data: &[u8])
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        if let Ok(v) = decode::<T>(data) {
            let again: T = decode(&encode(&v).expect("encodes")).expect("decodes");
            assert_eq!(again, v);
        }
    }
    roundtrip::<Vec<(String, Option<Vec<u8>>)>>(data);
    roundtrip::<(u64, u64)>(data);
    roundtrip::<u64>(data);
    roundtrip::<BTreeMap<String, u64>>(data);
    roundtrip::<(BTreeMap<String, u64>, u64)>(data);
    roundtrip::<Vec<String>>(data);
    roundtrip::<Vec<(u32, Vec<u8>)>>(data);
    roundtrip::<Vec<(String, u64, u64)>>(data);
}

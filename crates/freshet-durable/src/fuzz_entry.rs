//! Entry points for fuzzers: decoders of on-disk data fed arbitrary bytes.
//!
//! Each function decodes `data` as one kind of file and checks the decoder's invariants; it
//! must return normally for every input. The cargo-fuzz targets in `fuzz/` and the
//! `tests/fuzz_like.rs` random-input tests call these.

use std::path::Path;

use crate::batch_log::BatchRecord;
use crate::checkpoint::{decode_part, Manifest};
use crate::framing::{FileKind, FrameEnd};
use crate::wal::decode_segment;

/// Decodes `data` as a WAL segment file (and as a batch-log segment), checking that the intact
/// records are in order and lie inside the buffer, and that re-encoding them gives the intact
/// prefix back.
pub fn wal_reader(data: &[u8]) {
    let path = Path::new("fuzz.wal");
    for kind in [FileKind::Wal, FileKind::BatchLog] {
        let Ok(scan) = decode_segment(data, kind, path) else {
            continue;
        };
        let valid = scan.valid_len(data.len());
        assert!(valid <= data.len());
        let mut rebuilt = crate::framing::header(kind).to_vec();
        let mut last = 0u64;
        for (at, rec) in &scan.records {
            assert!(*at >= last);
            last = *at;
            crate::framing::encode_frame(&mut rebuilt, rec).expect("record fits");
            if kind == FileKind::BatchLog {
                let _ = BatchRecord::decode(rec);
            }
        }
        assert_eq!(&rebuilt[..], &data[..valid]);
        if scan.end == FrameEnd::Clean {
            assert_eq!(valid, data.len());
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

//! The checkpoint manifest and its file encoding.
//!
//! A manifest file is the 8-byte header of kind `MAN` followed by exactly one frame whose
//! payload is the [`Manifest`] encoded with [`crate::codec`] (tagged postcard, at most
//! [`MAX_MANIFEST_LEN`] bytes). Anything else — a second frame, trailing bytes, a bad checksum,
//! a cut — makes the manifest invalid.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::CheckpointId;
use crate::error::{DurableError, Result};
use crate::framing::{self, FileKind, FrameEnd, Frames, HEADER_LEN};

/// Largest encoded manifest accepted (16 MiB); bounds memory when decoding damaged input.
pub const MAX_MANIFEST_LEN: u64 = 16 << 20;

/// Where one worker's state snapshot of a checkpoint is, and how to verify it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Worker index.
    pub worker: usize,
    /// File name inside the checkpoint directory.
    pub file: String,
    /// CRC32C of the snapshot bytes.
    pub crc32c: u32,
    /// Length of the snapshot bytes.
    pub len: u64,
}

/// What a checkpoint holds besides the state snapshots; written last, atomically, so that a
/// checkpoint exists exactly when its manifest does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The checkpoint this manifest commits.
    pub id: CheckpointId,
    /// Fingerprint of the pipeline graph; recovery refuses a different pipeline.
    pub fingerprint: String,
    /// Pipeline configuration at checkpoint time.
    pub config: BTreeMap<String, String>,
    /// The batch time whose state the snapshots hold.
    pub batch_time: u64,
    /// Per source, its encoded position after `batch_time`.
    pub source_positions: BTreeMap<String, Vec<u8>>,
    /// Batch times logged (in the batch metadata log) but not completed at checkpoint time.
    pub pending_batches: Vec<u64>,
    /// The per-worker state snapshots, as returned by
    /// [`CheckpointStore::put_part`](super::CheckpointStore::put_part).
    pub parts: Vec<PartInfo>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
}

impl Manifest {
    /// A manifest with the given identity, empty collections and `created_at_ms` = now.
    pub fn new(id: CheckpointId, fingerprint: impl Into<String>, batch_time: u64) -> Self {
        let created_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Manifest {
            id,
            fingerprint: fingerprint.into(),
            config: BTreeMap::new(),
            batch_time,
            source_positions: BTreeMap::new(),
            pending_batches: Vec::new(),
            parts: Vec::new(),
            created_at_ms,
        }
    }

    /// Encodes the manifest as a complete manifest file (header + one frame).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let payload = crate::codec::encode(self).map_err(|e| DurableError::Encode {
            what: "manifest",
            reason: e.0,
        })?;
        let mut out = framing::header(FileKind::Manifest).to_vec();
        framing::encode_frame(&mut out, &payload)?;
        Ok(out)
    }

    /// Decodes a manifest file's bytes; `path` is only used in errors. Never panics.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Manifest> {
        framing::check_header(bytes, FileKind::Manifest, path)?;
        let body = &bytes[HEADER_LEN..];
        let mut frames = Frames::new(body);
        let first = frames.next();
        let second = frames.next();
        let at = |offset: usize| (offset + HEADER_LEN) as u64;
        match (first, second, frames.end()) {
            (Some((_, payload)), None, Some(FrameEnd::Clean)) => Self::decode_payload(payload)
                .map_err(|reason| DurableError::Decode {
                    path: path.to_path_buf(),
                    reason,
                }),
            (_, _, Some(FrameEnd::Torn { offset })) => Err(DurableError::Truncated {
                path: path.to_path_buf(),
                offset: at(*offset),
            }),
            (_, _, Some(FrameEnd::Corrupt { offset, reason })) => Err(DurableError::Corrupt {
                path: path.to_path_buf(),
                offset: at(*offset),
                reason: (*reason).to_string(),
            }),
            (None, _, _) => Err(DurableError::Truncated {
                path: path.to_path_buf(),
                offset: HEADER_LEN as u64,
            }),
            _ => Err(DurableError::Corrupt {
                path: path.to_path_buf(),
                offset: HEADER_LEN as u64,
                reason: "manifest holds more than one record".into(),
            }),
        }
    }

    /// Decodes the payload alone (no header, no frame). Never panics.
    pub fn decode_payload(payload: &[u8]) -> Result<Manifest, String> {
        if payload.len() as u64 > MAX_MANIFEST_LEN {
            return Err(format!(
                "{} bytes is too large for a manifest",
                payload.len()
            ));
        }
        crate::codec::decode(payload).map_err(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest::new(CheckpointId(3), "fp", 3000);
        m.config.insert("batch-interval".into(), "1s".into());
        m.source_positions.insert("kafka:0".into(), vec![1, 2, 3]);
        m.pending_batches = vec![4000, 5000];
        m.parts.push(PartInfo {
            worker: 0,
            file: "part-00000.bin".into(),
            crc32c: 42,
            len: 10,
        });
        m
    }

    #[test]
    fn roundtrip() {
        let m = sample();
        let bytes = m.encode().unwrap();
        assert_eq!(Manifest::decode(&bytes, Path::new("m")).unwrap(), m);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let bytes = sample().encode().unwrap();
        let p = Path::new("m");
        for cut in 0..bytes.len() {
            let err = Manifest::decode(&bytes[..cut], p).unwrap_err();
            assert!(err.is_corruption(), "cut {cut}: {err}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let err = Manifest::decode(&b, p).unwrap_err();
            assert!(err.is_corruption(), "bit {bit}: {err}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Manifest::decode(&extra, p).is_err());
    }
}

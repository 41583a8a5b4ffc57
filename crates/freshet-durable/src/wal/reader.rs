//! Reading a WAL back, in order.

use std::fs;
use std::path::{Path, PathBuf};

use super::segment::{self, list_segments, SegmentInfo};
use super::{LogOffset, LogRecord};
use crate::error::{DurableError, IoContext, Result};
use crate::framing::{FileKind, FrameEnd};

/// Iterates over the records of a log directory from a given offset; see the
/// [module docs](super) for how damage is reported.
///
/// The set of segments is listed when the reader is created; segments are read whole, one at a
/// time, when the iteration reaches them.
#[derive(Debug)]
pub struct WalReader {
    kind: FileKind,
    segments: Vec<SegmentInfo>,
    next_segment: usize,
    from: LogOffset,
    /// Offset the next record should have (checks for gaps between segments).
    expected: Option<LogOffset>,
    pending: std::vec::IntoIter<LogRecord>,
    /// Error to yield once the pending records are drained.
    pending_error: Option<DurableError>,
    done: bool,
}

impl WalReader {
    /// Reads the receiver WAL in `dir`, starting at the first record with offset `>= from`.
    /// Records older than the oldest remaining segment (deleted by truncation) are skipped
    /// silently; compare the first record's offset with `from` to detect that.
    pub fn open(dir: impl AsRef<Path>, from: LogOffset) -> Result<Self> {
        Self::open_kind(dir.as_ref(), from, FileKind::Wal)
    }

    pub(crate) fn open_kind(dir: &Path, from: LogOffset, kind: FileKind) -> Result<Self> {
        let mut segments = list_segments(dir, kind)?;
        // Skip whole segments that end before `from`.
        let start = segments.iter().rposition(|s| s.first <= from).unwrap_or(0);
        segments.drain(..start);
        Ok(WalReader {
            kind,
            segments,
            next_segment: 0,
            from,
            expected: None,
            pending: Vec::new().into_iter(),
            pending_error: None,
            done: false,
        })
    }

    /// Paths of the segments this reader visits.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }

    fn load_next_segment(&mut self) -> Result<bool> {
        let Some(seg) = self.segments.get(self.next_segment) else {
            return Ok(false);
        };
        let is_last = self.next_segment + 1 == self.segments.len();
        self.next_segment += 1;
        if let Some(expected) = self.expected {
            if seg.first != expected {
                return Err(DurableError::Corrupt {
                    path: seg.path.clone(),
                    offset: 0,
                    reason: format!(
                        "segment starts at offset {} but the previous one ends at {}",
                        seg.first, expected
                    ),
                });
            }
        }
        let bytes = fs::read(&seg.path).at(&seg.path)?;
        let scan = match segment::decode_segment(&bytes, self.kind, &seg.path) {
            Ok(scan) => scan,
            // A newest segment cut inside its header holds no records yet.
            Err(DurableError::Truncated { .. }) if is_last => {
                tracing::warn!(path = %seg.path.display(), "WAL segment has a torn header");
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let mut records = Vec::with_capacity(scan.records.len());
        for (i, (_, data)) in scan.records.iter().enumerate() {
            let offset = LogOffset(seg.first.0 + i as u64);
            if offset >= self.from {
                records.push(LogRecord {
                    offset,
                    data: data.to_vec(),
                });
            }
        }
        self.expected = Some(LogOffset(seg.first.0 + scan.records.len() as u64));
        self.pending = records.into_iter();
        if scan.end != FrameEnd::Clean {
            let err = segment::end_to_error(&scan.end, &seg.path);
            if is_last {
                tracing::warn!(
                    path = %seg.path.display(),
                    error = ?err,
                    "ignoring damaged tail of the newest WAL segment",
                );
            } else {
                self.pending_error = err;
            }
        }
        Ok(true)
    }
}

impl Iterator for WalReader {
    type Item = Result<LogRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(r) = self.pending.next() {
                return Some(Ok(r));
            }
            if let Some(e) = self.pending_error.take() {
                self.done = true;
                return Some(Err(e));
            }
            match self.load_next_segment() {
                Ok(true) => continue,
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

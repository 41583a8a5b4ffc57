//! Reading a WAL back, in order.

use std::fs;
use std::path::{Path, PathBuf};

use super::segment::{self, list_segments, SegmentInfo};
use super::{LogOffset, LogRecord};
use crate::error::{DurableError, IoContext, Result};
use crate::framing::FileKind;

/// Iterates over the records of a log directory from a given offset; see the
/// [module docs](super) for how damage is reported.
///
/// The set of segments is listed when the reader is created; segments are read whole, one at a
/// time, when the iteration reaches them. Records lost to damage come as
/// [`DurableError::Lost`] items in their place, and the iteration goes on with the records
/// after them; any other error ends it.
#[derive(Debug)]
pub struct WalReader {
    kind: FileKind,
    segments: Vec<SegmentInfo>,
    next_segment: usize,
    from: LogOffset,
    /// Offset the next record should have (checks for gaps between segments).
    expected: Option<LogOffset>,
    pending: std::vec::IntoIter<Result<LogRecord>>,
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
            done: false,
        })
    }

    /// Paths of the segments this reader visits.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }

    fn load_next_segment(&mut self) -> Result<bool> {
        let Some(seg) = self.segments.get(self.next_segment).cloned() else {
            return Ok(false);
        };
        self.next_segment += 1;
        let next_first = self.segments.get(self.next_segment).map(|s| s.first);
        let mut items: Vec<Result<LogRecord>> = Vec::new();
        if let Some(expected) = self.expected {
            if seg.first < expected {
                return Err(DurableError::Corrupt {
                    path: seg.path.clone(),
                    offset: 0,
                    reason: format!(
                        "segment starts at offset {} but the previous one ends at {}",
                        seg.first, expected
                    ),
                });
            }
            if seg.first > expected && seg.first > self.from {
                items.push(Err(DurableError::Lost {
                    path: seg.path.clone(),
                    position: 0,
                    offsets: expected.0.max(self.from.0)..seg.first.0,
                    reason: "the segment holding them is missing".into(),
                }));
            }
        }
        let bytes = fs::read(&seg.path).at(&seg.path)?;
        let scan =
            match segment::decode_segment(&bytes, self.kind, &seg.path, seg.first, next_first) {
                Ok(scan) => scan,
                // A newest segment cut inside its header holds no records yet.
                Err(DurableError::Truncated { .. }) if next_first.is_none() => {
                    tracing::warn!(path = %seg.path.display(), "WAL segment has a torn header");
                    self.pending = items.into_iter();
                    return Ok(true);
                }
                Err(e) => return Err(e),
            };
        // Records and losses in offset order.
        let mut lost = scan.lost.iter().peekable();
        for r in &scan.records {
            while let Some(l) = lost.next_if(|l| l.offsets.start <= r.offset.0) {
                if l.offsets.end > self.from.0 && !l.offsets.is_empty() {
                    items.push(Err(segment::lost_error(l, &seg.path)));
                }
            }
            if r.offset >= self.from {
                items.push(Ok(LogRecord {
                    offset: r.offset,
                    data: r.data.to_vec(),
                }));
            }
        }
        for l in lost {
            if l.offsets.end > self.from.0 && !l.offsets.is_empty() {
                items.push(Err(segment::lost_error(l, &seg.path)));
            }
        }
        if let Some(t) = scan.torn_tail {
            tracing::warn!(
                path = %seg.path.display(),
                position = t,
                "ignoring the torn last frame of the newest WAL segment (never acknowledged)",
            );
        }
        self.expected = Some(scan.end_offset(seg.first));
        self.pending = items.into_iter();
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
                return Some(r);
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

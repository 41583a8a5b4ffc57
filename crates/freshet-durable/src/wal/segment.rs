//! Segment files: naming, listing and decoding.

use std::fs;
use std::path::{Path, PathBuf};

use super::LogOffset;
use crate::error::{DurableError, IoContext, Result};
use crate::framing::{self, FileKind, HEADER_LEN};

/// File extension used for segments of `kind`.
pub(crate) fn extension(kind: FileKind) -> &'static str {
    match kind {
        FileKind::BatchLog => "blog",
        _ => "wal",
    }
}

/// Name of the segment of `kind` whose first record has offset `first`
/// (20 zero-padded decimal digits, so names sort like offsets).
pub fn segment_file_name(first: LogOffset, kind: FileKind) -> String {
    format!("{:020}.{}", first.0, extension(kind))
}

/// A segment file found in a log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentInfo {
    /// Offset of its first record.
    pub first: LogOffset,
    /// Its path.
    pub path: PathBuf,
}

/// Lists the segments of `kind` in `dir`, ordered by first offset. Other files are ignored.
pub(crate) fn list_segments(dir: &Path, kind: FileKind) -> Result<Vec<SegmentInfo>> {
    let ext = extension(kind);
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(ext).and_then(|s| s.strip_suffix('.')) else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(first) = stem.parse::<u64>() else {
            continue;
        };
        out.push(SegmentInfo {
            first: LogOffset(first),
            path: entry.path(),
        });
    }
    out.sort_by_key(|s| s.first);
    Ok(out)
}

/// One intact record of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedRecord<'a> {
    /// Byte position of its frame in the file.
    pub position: u64,
    /// Its offset in the log.
    pub offset: LogOffset,
    /// Its bytes.
    pub data: &'a [u8],
}

/// Records of a segment that were written and cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRecords {
    /// Byte range of the damage in the file.
    pub bytes: std::ops::Range<u64>,
    /// The offsets of the records lost, as far as they are known: exact between two intact
    /// records (or before the next segment); at the very end of the newest segment, the number
    /// of frames the damaged bytes most likely held.
    pub offsets: std::ops::Range<u64>,
    /// What was wrong.
    pub reason: &'static str,
}

/// The decoded content of one segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan<'a> {
    /// Intact records in order.
    pub records: Vec<ScannedRecord<'a>>,
    /// Damaged stretches, in order, with the records they held.
    pub lost: Vec<LostRecords>,
    /// Byte position of an incomplete last frame (a torn write: never acknowledged).
    pub torn_tail: Option<u64>,
}

impl SegmentScan<'_> {
    /// The offset after the last record the file held (intact or lost).
    pub fn end_offset(&self, first: LogOffset) -> LogOffset {
        let after_records = self.records.last().map_or(first.0, |r| r.offset.0 + 1);
        let after_lost = self.lost.last().map_or(first.0, |l| l.offsets.end);
        LogOffset(after_records.max(after_lost))
    }

    /// Length of the file without its torn tail.
    pub fn valid_len(&self, file_len: usize) -> usize {
        self.torn_tail.map_or(file_len, |t| t as usize)
    }
}

/// Appends the frame of record `offset` as a segment of the current version holds it.
pub fn encode_record(out: &mut Vec<u8>, offset: LogOffset, record: &[u8]) -> Result<()> {
    let mut payload = Vec::with_capacity(8 + record.len());
    payload.extend_from_slice(&offset.0.to_le_bytes());
    payload.extend_from_slice(record);
    framing::encode_frame(out, &payload)
}

/// Decodes a whole segment file held in `buf` whose first record has offset `first`, and the
/// first offset of the next segment if there is one (`None` for the newest): checks the header
/// of `kind`, then collects the intact records, past damage, and what was lost. Never panics;
/// `path` is only used in errors.
pub fn decode_segment<'a>(
    buf: &'a [u8],
    kind: FileKind,
    path: &Path,
    first: LogOffset,
    next: Option<LogOffset>,
) -> Result<SegmentScan<'a>> {
    framing::check_header(buf, kind, path)?;
    let found = framing::scan(&buf[HEADER_LEN..]);
    let at = |p: usize| (p + HEADER_LEN) as u64;
    let mut records = Vec::with_capacity(found.frames.len());
    let mut lost = Vec::new();
    // Frames and damaged stretches interleaved in file order.
    let mut damaged = found.damaged.iter().peekable();
    let mut expected = first.0;
    let close_damage =
        |d: &framing::DamagedStretch, expected: u64, upto: Option<u64>| LostRecords {
            bytes: at(d.start)..at(d.end),
            offsets: expected..upto.unwrap_or(expected + d.frames).max(expected),
            reason: d.reason,
        };
    for (pos, payload) in found.frames {
        let head = payload
            .split_first_chunk::<8>()
            .map(|(h, _)| u64::from_le_bytes(*h));
        while let Some(d) = damaged.next_if(|d| d.start < pos) {
            lost.push(close_damage(d, expected, head));
            expected = lost.last().map_or(expected, |l| l.offsets.end);
        }
        let Some(offset) = head else {
            lost.push(LostRecords {
                bytes: at(pos)..at(pos + payload.len() + framing::FRAME_HEADER_LEN),
                offsets: expected..expected + 1,
                reason: "frame too short for a record",
            });
            expected += 1;
            continue;
        };
        if offset < expected {
            return Err(DurableError::Corrupt {
                path: path.to_path_buf(),
                offset: at(pos),
                reason: format!(
                    "record offset {offset} does not follow {}",
                    expected.saturating_sub(1)
                ),
            });
        }
        let data = &payload[8..];
        records.push(ScannedRecord {
            position: at(pos),
            offset: LogOffset(offset),
            data,
        });
        expected = offset + 1;
    }
    for d in damaged {
        lost.push(close_damage(d, expected, next.map(|n| n.0)));
        expected = lost.last().map_or(expected, |l| l.offsets.end);
    }
    let mut torn_tail = found.torn_tail.map(at);
    if let (Some(t), Some(n)) = (torn_tail, next) {
        // A closed segment is complete: its incomplete last frame is damage, not a torn write.
        lost.push(LostRecords {
            bytes: t..buf.len() as u64,
            offsets: expected..n.0.max(expected),
            reason: "incomplete frame in a closed segment",
        });
        torn_tail = None;
    }
    Ok(SegmentScan {
        records,
        lost,
        torn_tail,
    })
}

/// The error a reader returns for lost records.
pub(crate) fn lost_error(lost: &LostRecords, path: &Path) -> DurableError {
    DurableError::Lost {
        path: path.to_path_buf(),
        position: lost.bytes.start,
        offsets: lost.offsets.clone(),
        reason: lost.reason.to_string(),
    }
}

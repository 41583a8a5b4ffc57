//! Segment files: naming, listing and decoding.

use std::fs;
use std::path::{Path, PathBuf};

use super::LogOffset;
use crate::error::{DurableError, IoContext, Result};
use crate::framing::{self, FileKind, FrameEnd, Frames, HEADER_LEN};

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

/// The decoded content of one segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan<'a> {
    /// Intact records in order, each with its byte position in the file.
    pub records: Vec<(u64, &'a [u8])>,
    /// Why decoding stopped; positions are relative to the file start.
    pub end: FrameEnd,
}

impl SegmentScan<'_> {
    /// Length of the intact prefix of the file (header plus intact records).
    pub fn valid_len(&self, file_len: usize) -> usize {
        self.end.valid_len(file_len)
    }
}

/// Decodes a whole segment file held in `buf`: checks the header of `kind`, then collects the
/// intact records. Never panics; `path` is only used in errors.
pub fn decode_segment<'a>(buf: &'a [u8], kind: FileKind, path: &Path) -> Result<SegmentScan<'a>> {
    framing::check_header(buf, kind, path)?;
    let mut frames = Frames::new(&buf[HEADER_LEN..]);
    let records = frames
        .by_ref()
        .map(|(at, p)| ((at + HEADER_LEN) as u64, p))
        .collect();
    let end = match frames.end() {
        Some(FrameEnd::Torn { offset }) => FrameEnd::Torn {
            offset: offset + HEADER_LEN,
        },
        Some(FrameEnd::Corrupt { offset, reason }) => FrameEnd::Corrupt {
            offset: offset + HEADER_LEN,
            reason,
        },
        _ => FrameEnd::Clean,
    };
    Ok(SegmentScan { records, end })
}

/// Converts a non-clean segment end into the error a reader returns for it.
pub(crate) fn end_to_error(end: &FrameEnd, path: &Path) -> Option<DurableError> {
    match end {
        FrameEnd::Clean => None,
        FrameEnd::Torn { offset } => Some(DurableError::Truncated {
            path: path.to_path_buf(),
            offset: *offset as u64,
        }),
        FrameEnd::Corrupt { offset, reason } => Some(DurableError::Corrupt {
            path: path.to_path_buf(),
            offset: *offset as u64,
            reason: (*reason).to_string(),
        }),
    }
}

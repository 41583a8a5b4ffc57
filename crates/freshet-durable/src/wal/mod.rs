//! Receiver write-ahead log: an append-only sequence of records in segment files.
//!
//! # Semantics
//!
//! * A record is an opaque byte string (a receiver block). [`LogWriter::append`] returns the
//!   record's [`LogOffset`], a dense sequence number starting at 0. When `append` returns, the
//!   bytes are in the operating system (so they survive a process crash); whether they also
//!   survive a power loss depends on the [`FsyncPolicy`]. A receiver acknowledges a block only
//!   after `append` (and, for `FsyncPolicy::Never`, an explicit [`LogWriter::sync`]) returned.
//! * Records live in segment files named after the offset of their first record
//!   (`00000000000000000042.wal`). A segment is closed and a new one opened when the next record
//!   would push it past [`WalConfig::segment_size`] (a single record larger than that gets a
//!   segment of its own).
//! * [`WalWriter::truncate_before`] deletes whole segments whose records are all older than an
//!   offset: the runtime calls it with the first offset the last complete checkpoint still needs.
//!
//! # Failure
//!
//! Every record is framed with its length and CRC32C ([`crate::framing`]), and carries its own
//! offset, so the records after a damaged one keep their numbers. Two kinds of damage differ:
//!
//! * A **torn tail** is an incomplete last frame of the newest segment: a write the crash
//!   interrupted, so a record never acknowledged. A writer opening the log cuts it off.
//! * **Damage** is anything else: a complete frame that fails its checksum, garbage between
//!   frames, an incomplete frame in a closed segment. Nothing is cut: the intact records after
//!   it are kept and read, and [`WalReader`] yields a [`DurableError::Lost`] item naming the
//!   offsets of the lost records in their place (exact between two intact records; at the very
//!   end of the newest segment, as many as the damaged bytes most likely held, and the writer
//!   continues after them so no offset is reused). What to do about lost records is the
//!   caller's decision. Nothing panics on damaged input.
//!
//! [`DurableError::Lost`]: crate::DurableError::Lost
//!
//! One process writes a log directory at a time; this is not checked.

mod reader;
mod segment;
mod writer;

use std::time::Duration;

pub use reader::WalReader;
pub use segment::{
    decode_segment, encode_record, segment_file_name, LostRecords, ScannedRecord, SegmentScan,
};
pub use writer::WalWriter;

/// Whether the newest segment of the log of `kind` in `dir` ends in a torn (incomplete) last
/// frame: what a crash in the middle of a write leaves, and what the next writer cuts off.
pub(crate) fn torn_tail(dir: &std::path::Path, kind: crate::framing::FileKind) -> Result<bool> {
    use crate::error::IoContext;
    let Some(last) = segment::list_segments(dir, kind)?.pop() else {
        return Ok(false);
    };
    let bytes = std::fs::read(&last.path).at(&last.path)?;
    match decode_segment(&bytes, kind, &last.path, last.first, None) {
        Ok(scan) => Ok(scan.torn_tail.is_some()),
        Err(crate::DurableError::Truncated { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}

/// What a read-only check of a log directory found: its records, those lost, a torn tail.
#[derive(Debug, Default)]
pub struct LogCheck {
    /// Intact records.
    pub records: u64,
    /// The first and one-past-last offsets of the intact records.
    pub offsets: Option<(LogOffset, LogOffset)>,
    /// Records lost to damage ([`crate::DurableError::Lost`]).
    pub lost: Vec<crate::DurableError>,
    /// Whether the newest segment ends in a torn frame (a write a crash interrupted).
    pub torn_tail: bool,
}

/// Reads every segment of the receiver WAL in `dir` without changing anything.
pub fn check(dir: impl AsRef<std::path::Path>) -> Result<LogCheck> {
    let dir = dir.as_ref();
    let mut out = LogCheck::default();
    for item in WalReader::open(dir, LogOffset(0))? {
        match item {
            Ok(r) => {
                out.records += 1;
                let first = out.offsets.map_or(r.offset, |o| o.0);
                out.offsets = Some((first, LogOffset(r.offset.0 + 1)));
            }
            Err(e @ crate::DurableError::Lost { .. }) => out.lost.push(e),
            Err(e) => return Err(e),
        }
    }
    out.torn_tail = torn_tail(dir, crate::framing::FileKind::Wal)?;
    Ok(out)
}

use crate::error::Result;

/// Position of a record in a log: its sequence number, starting at 0.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct LogOffset(pub u64);

impl std::fmt::Display for LogOffset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One record read back from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Offset the record was appended at.
    pub offset: LogOffset,
    /// The record's bytes, exactly as appended.
    pub data: Vec<u8>,
}

/// When the writer calls `fsync` on the active segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every appended record: an acknowledged record survives power loss.
    EveryRecord,
    /// At the first append at least this long after the previous sync, and on
    /// [`LogWriter::sync`]. There is no background timer: an idle writer is synced by its next
    /// append or by an explicit `sync`. At most the records of one interval can be lost on
    /// power loss.
    Interval(Duration),
    /// Only on explicit [`LogWriter::sync`] calls (and never on rotation): records survive a
    /// process crash but not a power loss.
    Never,
}

/// Settings of a [`WalWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalConfig {
    /// Size in bytes after which a segment is closed and a new one started.
    pub segment_size: u64,
    /// When to fsync.
    pub fsync: FsyncPolicy,
}

impl Default for WalConfig {
    /// 64 MiB segments, fsync every record.
    fn default() -> Self {
        WalConfig {
            segment_size: 64 << 20,
            fsync: FsyncPolicy::EveryRecord,
        }
    }
}

/// An append-only log (a fallible analogue of timely's `EventPusher`).
pub trait LogWriter {
    /// Appends one record and returns its offset. On return the record is written to the
    /// operating system and, per the fsync policy, possibly to stable storage. On error the
    /// record may or may not be in the log; the writer should be reopened.
    fn append(&mut self, record: &[u8]) -> Result<LogOffset>;

    /// Forces every appended record to stable storage.
    fn sync(&mut self) -> Result<()>;
}

impl<W: LogWriter + ?Sized> LogWriter for &mut W {
    fn append(&mut self, record: &[u8]) -> Result<LogOffset> {
        (**self).append(record)
    }
    fn sync(&mut self) -> Result<()> {
        (**self).sync()
    }
}

impl<W: LogWriter + ?Sized> LogWriter for Box<W> {
    fn append(&mut self, record: &[u8]) -> Result<LogOffset> {
        (**self).append(record)
    }
    fn sync(&mut self) -> Result<()> {
        (**self).sync()
    }
}

//! The segment-rotating WAL writer.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::segment::{self, list_segments, segment_file_name, SegmentInfo};
use super::{FsyncPolicy, LogOffset, LogWriter, WalConfig};
use crate::error::{DurableError, IoContext, Result};
use crate::framing::{self, FileKind, HEADER_LEN};
use crate::fsutil::sync_dir;

/// Writes a log as a directory of segment files; see the [module docs](super).
#[derive(Debug)]
pub struct WalWriter {
    dir: PathBuf,
    config: WalConfig,
    kind: FileKind,
    /// Every segment, oldest first; the last one is the active segment.
    segments: Vec<SegmentInfo>,
    file: File,
    active_len: u64,
    active_records: u64,
    next: LogOffset,
    buf: Vec<u8>,
    last_sync: Instant,
    unsynced: bool,
}

impl WalWriter {
    /// Opens (creating if needed) the receiver WAL in `dir`. An existing log is continued after
    /// its last intact record; a torn or corrupt tail of the newest segment is cut off with a
    /// warning.
    pub fn open(dir: impl AsRef<Path>, config: WalConfig) -> Result<Self> {
        Self::open_kind(dir.as_ref(), config, FileKind::Wal)
    }

    pub(crate) fn open_kind(dir: &Path, config: WalConfig, kind: FileKind) -> Result<Self> {
        if config.segment_size == 0 {
            return Err(DurableError::InvalidArgument(
                "segment_size must be positive".into(),
            ));
        }
        fs::create_dir_all(dir).at(dir)?;
        let mut segments = list_segments(dir, kind)?;
        let file = match segments.last() {
            None => {
                let info = SegmentInfo {
                    first: LogOffset(0),
                    path: dir.join(segment_file_name(LogOffset(0), kind)),
                };
                let file = create_segment(&info.path, kind)?;
                sync_dir(dir)?;
                segments.push(info);
                Recovered::Empty { file }
            }
            Some(last) => recover_segment(&last.path, kind, last.first)?,
        };
        let first = segments.last().map(|s| s.first).unwrap_or_default();
        let (file, active_len, active_records, next) = match file {
            Recovered::Continue { file, len, next } => (file, len, 1, next),
            Recovered::Empty { file } => (file, HEADER_LEN as u64, 0, first),
        };
        Ok(WalWriter {
            dir: dir.to_path_buf(),
            config,
            kind,
            segments,
            file,
            active_len,
            active_records,
            next,
            buf: Vec::new(),
            last_sync: Instant::now(),
            unsynced: false,
        })
    }

    /// The directory of this log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Offset the next appended record will get.
    pub fn next_offset(&self) -> LogOffset {
        self.next
    }

    /// First offsets and paths of the segments, oldest first (the last one is active).
    pub fn segments(&self) -> Vec<(LogOffset, PathBuf)> {
        self.segments
            .iter()
            .map(|s| (s.first, s.path.clone()))
            .collect()
    }

    /// Closes the active segment and starts a new one, unless the active segment is empty.
    pub fn roll(&mut self) -> Result<()> {
        if self.active_records == 0 {
            return Ok(());
        }
        if self.config.fsync != FsyncPolicy::Never {
            self.sync()?;
        }
        let info = SegmentInfo {
            first: self.next,
            path: self.dir.join(segment_file_name(self.next, self.kind)),
        };
        self.file = create_segment(&info.path, self.kind)?;
        if self.config.fsync != FsyncPolicy::Never {
            sync_dir(&self.dir)?;
        }
        self.segments.push(info);
        self.active_len = HEADER_LEN as u64;
        self.active_records = 0;
        self.unsynced = false;
        Ok(())
    }

    /// Deletes every closed segment all of whose records have offsets below `offset`; returns
    /// how many segments were deleted. The active segment is never deleted.
    pub fn truncate_before(&mut self, offset: LogOffset) -> Result<usize> {
        let mut removable = 0;
        while removable + 1 < self.segments.len() && self.segments[removable + 1].first <= offset {
            removable += 1;
        }
        for seg in self.segments.drain(..removable) {
            fs::remove_file(&seg.path).at(&seg.path)?;
        }
        if removable > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removable)
    }

    fn sync_now(&mut self) -> Result<()> {
        let path = &self.segments.last().expect("active segment").path;
        self.file.sync_data().at(path)?;
        self.last_sync = Instant::now();
        self.unsynced = false;
        Ok(())
    }
}

impl LogWriter for WalWriter {
    fn append(&mut self, record: &[u8]) -> Result<LogOffset> {
        let framed = framing::framed_len(8 + record.len()) as u64;
        if self.active_records > 0 && self.active_len + framed > self.config.segment_size {
            self.roll()?;
        }
        self.buf.clear();
        segment::encode_record(&mut self.buf, self.next, record)?;
        let path = &self.segments.last().expect("active segment").path;
        if let Err(e) = self.file.write_all(&self.buf) {
            // A write cut short (a full disk): take its bytes back, so that the segment ends
            // at a frame boundary and the append can be tried again.
            let _ = self.file.set_len(self.active_len);
            let _ = self.file.seek(SeekFrom::Start(self.active_len));
            return Err(DurableError::io(path, e));
        }
        self.active_len += framed;
        self.active_records += 1;
        self.unsynced = true;
        let offset = self.next;
        self.next.0 += 1;
        match self.config.fsync {
            FsyncPolicy::EveryRecord => self.sync_now()?,
            FsyncPolicy::Interval(d) if self.last_sync.elapsed() >= d => self.sync_now()?,
            _ => {}
        }
        Ok(offset)
    }

    fn sync(&mut self) -> Result<()> {
        if self.unsynced {
            self.sync_now()?;
        }
        Ok(())
    }
}

fn create_segment(path: &Path, kind: FileKind) -> Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .at(path)?;
    file.write_all(&framing::header(kind)).at(path)?;
    Ok(file)
}

/// The newest segment of a log, opened for appending.
enum Recovered {
    /// It holds records (or lost ones): append after them, at offset `next`.
    Continue {
        file: File,
        len: u64,
        next: LogOffset,
    },
    /// It holds nothing yet.
    Empty { file: File },
}

/// Opens the newest segment (whose first offset is `first`) for appending. A torn tail — an
/// incomplete last frame, never acknowledged — is cut off; damage anywhere else is left in
/// place for readers to report, and appending continues after it, with offsets after the lost
/// records so that none is ever reused.
fn recover_segment(path: &Path, kind: FileKind, first: LogOffset) -> Result<Recovered> {
    let bytes = fs::read(path).at(path)?;
    let mut file = OpenOptions::new().write(true).open(path).at(path)?;
    if bytes.len() < HEADER_LEN && framing::header(kind).starts_with(&bytes) {
        // Crashed while writing the header: the segment holds nothing yet.
        tracing::warn!(path = %path.display(), "WAL segment has a torn header; rewriting it");
        file.set_len(0).at(path)?;
        file.write_all(&framing::header(kind)).at(path)?;
        file.sync_all().at(path)?;
        return Ok(Recovered::Empty { file });
    }
    let scan = segment::decode_segment(&bytes, kind, path, first, None)?;
    for lost in &scan.lost {
        tracing::error!(
            path = %path.display(),
            records = ?lost.offsets,
            position = lost.bytes.start,
            "WAL segment holds damaged records; the records after them are kept",
        );
    }
    let valid = scan.valid_len(bytes.len());
    if valid != bytes.len() {
        tracing::warn!(
            path = %path.display(),
            discarded_bytes = bytes.len() - valid,
            "cutting the torn last frame of the WAL segment (a write the crash interrupted)",
        );
        file.set_len(valid as u64).at(path)?;
        file.sync_all().at(path)?;
    }
    let next = scan.end_offset(first);
    if next == first {
        // Nothing written: start the segment again.
        file.set_len(0).at(path)?;
        file.write_all(&framing::header(kind)).at(path)?;
        file.sync_all().at(path)?;
        return Ok(Recovered::Empty { file });
    }
    file.seek(SeekFrom::Start(valid as u64)).at(path)?;
    Ok(Recovered::Continue {
        file,
        len: valid as u64,
        next,
    })
}

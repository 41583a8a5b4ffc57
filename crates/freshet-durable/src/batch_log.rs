//! Batch metadata log: what every batch consists of, written before the batch runs.
//!
//! # Semantics
//!
//! The planner calls [`BatchLog::log`] with the batch time and an opaque payload (the encoded
//! source position ranges or WAL offsets of the batch) *before* the batch is processed, and
//! [`BatchLog::completed`] once every output operation has finished it. After a crash,
//! [`BatchLog::open`] replays the log: [`BatchLog::pending`] lists the batches logged but not
//! completed, in time order, with exactly the payload they were planned with, so a replay
//! rebuilds the same batches. [`BatchLog::entries_from`] also gives completed batches, which a
//! recovery from a checkpoint older than them needs to recompute state.
//!
//! [`BatchLog::compact_before`] drops everything older than a checkpointed batch time: the
//! retained entries are rewritten into a fresh segment and older segments are deleted. A crash
//! in the middle leaves duplicate entries, which replay merges.
//!
//! # Failure
//!
//! The log is a [`crate::wal`] log of kind `BLG` (files `*.blog`), fsynced after every record
//! by default. A torn tail is cut with a warning like the WAL's; damage before the tail makes
//! [`BatchLog::open`] fail with the [`DurableError`] describing it.
//!
//! # Record format
//!
//! Each WAL record is a tag byte (`1` planned, `2` completed), the batch time as `u64`
//! little-endian, then (planned only) the payload.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{DurableError, Result};
use crate::framing::FileKind;
use crate::wal::{LogOffset, LogWriter, WalConfig, WalReader, WalWriter};

const TAG_PLANNED: u8 = 1;
const TAG_COMPLETED: u8 = 2;

/// One logged batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// The batch time.
    pub time: u64,
    /// What the batch consists of, as given to [`BatchLog::log`].
    pub payload: Vec<u8>,
    /// Whether [`BatchLog::completed`] was called for it.
    pub completed: bool,
}

/// A decoded batch-log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchRecord {
    /// A batch was planned with this payload.
    Planned {
        /// Batch time.
        time: u64,
        /// Payload.
        payload: Vec<u8>,
    },
    /// A batch completed.
    Completed {
        /// Batch time.
        time: u64,
    },
}

impl BatchRecord {
    /// Encodes the record (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            BatchRecord::Planned { time, payload } => {
                let mut v = Vec::with_capacity(9 + payload.len());
                v.push(TAG_PLANNED);
                v.extend_from_slice(&time.to_le_bytes());
                v.extend_from_slice(payload);
                v
            }
            BatchRecord::Completed { time } => {
                let mut v = Vec::with_capacity(9);
                v.push(TAG_COMPLETED);
                v.extend_from_slice(&time.to_le_bytes());
                v
            }
        }
    }

    /// Decodes a record; `None` when the bytes are not a valid record.
    pub fn decode(bytes: &[u8]) -> Option<BatchRecord> {
        let (&tag, rest) = bytes.split_first()?;
        let time = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
        let payload = &rest[8..];
        match tag {
            TAG_PLANNED => Some(BatchRecord::Planned {
                time,
                payload: payload.to_vec(),
            }),
            TAG_COMPLETED if payload.is_empty() => Some(BatchRecord::Completed { time }),
            _ => None,
        }
    }
}

/// The batch metadata log of one pipeline; see the [module docs](self).
#[derive(Debug)]
pub struct BatchLog {
    writer: WalWriter,
    entries: BTreeMap<u64, BatchEntry>,
    damage: Vec<DurableError>,
}

/// What a batch log directory holds, read without changing it.
#[derive(Debug, Default)]
pub struct BatchLogContents {
    /// The entries, by batch time.
    pub entries: BTreeMap<u64, BatchEntry>,
    /// Records lost to damage ([`DurableError::Lost`]), in order.
    pub damage: Vec<DurableError>,
    /// Whether the newest segment ends in a torn (never completed) record.
    pub torn_tail: bool,
}

fn read_entries(dir: &Path) -> Result<BatchLogContents> {
    let mut out = BatchLogContents::default();
    for rec in WalReader::open_kind(dir, LogOffset(0), FileKind::BatchLog)? {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e @ DurableError::Lost { .. }) => {
                out.damage.push(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let decoded = BatchRecord::decode(&rec.data).ok_or_else(|| DurableError::Decode {
            path: dir.to_path_buf(),
            reason: format!("invalid batch log record at offset {}", rec.offset),
        })?;
        match decoded {
            BatchRecord::Planned { time, payload } => {
                let e = out.entries.entry(time).or_insert(BatchEntry {
                    time,
                    payload: Vec::new(),
                    completed: false,
                });
                e.payload = payload;
            }
            BatchRecord::Completed { time } => {
                if let Some(e) = out.entries.get_mut(&time) {
                    e.completed = true;
                }
            }
        }
    }
    out.torn_tail = crate::wal::torn_tail(dir, FileKind::BatchLog)?;
    Ok(out)
}

impl BatchLog {
    /// Opens (creating if needed) the batch log in `dir`, fsyncing every record.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, WalConfig::default())
    }

    /// Opens the batch log in `dir` with explicit segment size and fsync policy. Records lost to
    /// damage do not stop it: they are listed by [`damage`](Self::damage), and the entries
    /// around them are read.
    pub fn open_with(dir: impl AsRef<Path>, config: WalConfig) -> Result<Self> {
        let dir = dir.as_ref();
        let writer = WalWriter::open_kind(dir, config, FileKind::BatchLog)?;
        let contents = read_entries(dir)?;
        Ok(BatchLog {
            writer,
            entries: contents.entries,
            damage: contents.damage,
        })
    }

    /// Reads the batch log in `dir` without changing anything (no repair, no torn tail cut):
    /// what `freshet checkpoint inspect` shows.
    pub fn read(dir: impl AsRef<Path>) -> Result<BatchLogContents> {
        read_entries(dir.as_ref())
    }

    /// Records of the log lost to damage, found when it was opened.
    pub fn damage(&self) -> &[DurableError] {
        &self.damage
    }

    /// Takes the list of [`damage`](Self::damage), leaving it empty.
    pub fn take_damage(&mut self) -> Vec<DurableError> {
        std::mem::take(&mut self.damage)
    }

    /// Records that batch `time` consists of `payload`, durably (per the fsync policy) before
    /// returning. Logging a time again with the same payload is a no-op (a replay re-plans the
    /// same batch); with a different payload it is an [`DurableError::InvalidArgument`].
    pub fn log(&mut self, time: u64, payload: &[u8]) -> Result<()> {
        if let Some(e) = self.entries.get(&time) {
            if e.payload == payload {
                return Ok(());
            }
            return Err(DurableError::InvalidArgument(format!(
                "batch {time} is already logged with a different payload"
            )));
        }
        self.writer.append(
            &BatchRecord::Planned {
                time,
                payload: payload.to_vec(),
            }
            .encode(),
        )?;
        self.entries.insert(
            time,
            BatchEntry {
                time,
                payload: payload.to_vec(),
                completed: false,
            },
        );
        Ok(())
    }

    /// Marks batch `time` as completed. Marking an unknown time is an
    /// [`DurableError::InvalidArgument`]; marking twice is a no-op.
    pub fn completed(&mut self, time: u64) -> Result<()> {
        match self.entries.get(&time) {
            None => Err(DurableError::InvalidArgument(format!(
                "batch {time} was never logged"
            ))),
            Some(e) if e.completed => Ok(()),
            Some(_) => {
                self.writer
                    .append(&BatchRecord::Completed { time }.encode())?;
                if let Some(e) = self.entries.get_mut(&time) {
                    e.completed = true;
                }
                Ok(())
            }
        }
    }

    /// The entry of batch `time`, if logged (and not compacted away).
    pub fn get(&self, time: u64) -> Option<&BatchEntry> {
        self.entries.get(&time)
    }

    /// Batches logged but not completed, in time order.
    pub fn pending(&self) -> Vec<&BatchEntry> {
        self.entries.values().filter(|e| !e.completed).collect()
    }

    /// Every retained batch with time `>= time`, in time order, completed or not.
    pub fn entries_from(&self, time: u64) -> impl Iterator<Item = &BatchEntry> {
        self.entries.range(time..).map(|(_, e)| e)
    }

    /// The latest logged batch time.
    pub fn last_time(&self) -> Option<u64> {
        self.entries.keys().next_back().copied()
    }

    /// Forces every record to stable storage (needed only with a lax fsync policy).
    pub fn sync(&mut self) -> Result<()> {
        self.writer.sync()
    }

    /// Drops every batch with time `< time` from memory and disk: rewrites the retained
    /// entries into a new segment, then deletes the older segments.
    pub fn compact_before(&mut self, time: u64) -> Result<()> {
        self.entries = self.entries.split_off(&time);
        self.writer.roll()?;
        let start = self.writer.next_offset();
        let retained: Vec<BatchEntry> = self.entries.values().cloned().collect();
        for e in &retained {
            self.writer.append(
                &BatchRecord::Planned {
                    time: e.time,
                    payload: e.payload.clone(),
                }
                .encode(),
            )?;
            if e.completed {
                self.writer
                    .append(&BatchRecord::Completed { time: e.time }.encode())?;
            }
        }
        self.writer.sync()?;
        self.writer.truncate_before(start)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrip_and_garbage() {
        for r in [
            BatchRecord::Planned {
                time: 7,
                payload: b"abc".to_vec(),
            },
            BatchRecord::Completed { time: u64::MAX },
        ] {
            assert_eq!(BatchRecord::decode(&r.encode()), Some(r));
        }
        assert_eq!(BatchRecord::decode(&[]), None);
        assert_eq!(BatchRecord::decode(&[1, 2, 3]), None);
        assert_eq!(BatchRecord::decode(&[9; 9]), None);
        assert_eq!(BatchRecord::decode(&[2; 10]), None);
    }
}

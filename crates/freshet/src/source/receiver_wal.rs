//! The write-ahead log of one receiver: every block of records a receiver stores is appended
//! (and fsynced, by policy) before `store` returns, so a receiver can acknowledge its sender
//! as soon as `store` returns and nothing acknowledged is lost in a crash.
//!
//! Blocks are numbered (the WAL's record offsets). Each batch takes the blocks
//! `[planned, written)`; the batch metadata log records that range, so a replay reads exactly
//! the same blocks back. After a restart, blocks written but never assigned to a batch (stored
//! and acknowledged just before the crash) go into the first new batch.

use crate::error::{Error, Result};
use freshet_durable::{FsyncPolicy, LogOffset, LogWriter, WalConfig, WalReader, WalWriter};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;

/// A receiver's write-ahead log and how far batches have taken it.
pub(crate) struct ReceiverWal {
    writer: WalWriter,
    dir: PathBuf,
    /// Blocks before this one belong to batches.
    planned: u64,
    /// Blocks written before this run started; those from `planned` on are taken by the first
    /// new batch.
    tail_end: u64,
    tail_taken: bool,
}

impl ReceiverWal {
    /// Opens (creating) the log in `dir`; a torn tail from a crash is cut off.
    pub fn open(dir: PathBuf, fsync: FsyncPolicy) -> Result<Self> {
        let config = WalConfig {
            fsync,
            ..WalConfig::default()
        };
        let writer = WalWriter::open(&dir, config)
            .map_err(|e| Error::durable(format!("write-ahead log {}", dir.display()), e))?;
        let tail_end = writer.next_offset().0;
        Ok(ReceiverWal {
            writer,
            dir,
            planned: 0,
            tail_end,
            tail_taken: false,
        })
    }

    /// Appends one block of records, durably per the fsync policy.
    pub fn append<T: Serialize>(&mut self, records: &[T]) -> Result<()> {
        let bytes = crate::codec::encode("a receiver block", records)?;
        self.writer
            .append(&bytes)
            .map_err(|e| Error::durable(self.describe(), e))?;
        Ok(())
    }

    /// The number of the next block to be written.
    pub fn written(&self) -> u64 {
        self.writer.next_offset().0
    }

    /// The first block not yet assigned to a batch.
    pub fn planned(&self) -> u64 {
        self.planned
    }

    /// Marks the blocks before `offset` as assigned to batches.
    pub fn set_planned(&mut self, offset: u64) {
        self.planned = self.planned.max(offset);
    }

    /// Sets where batches stand after a restore (the checkpoint's position).
    pub fn restore(&mut self, offset: u64) {
        self.planned = offset;
    }

    /// Whether blocks written before this run wait for a batch.
    pub fn has_tail(&self) -> bool {
        !self.tail_taken && self.planned < self.tail_end
    }

    /// The records of blocks written before this run and never assigned to a batch (once).
    pub fn take_tail<T: DeserializeOwned>(&mut self) -> Result<Vec<T>> {
        if self.tail_taken {
            return Ok(Vec::new());
        }
        self.tail_taken = true;
        if self.planned >= self.tail_end {
            return Ok(Vec::new());
        }
        self.read(self.planned, self.tail_end)
    }

    /// The records of blocks `from..to`.
    pub fn read<T: DeserializeOwned>(&self, from: u64, to: u64) -> Result<Vec<T>> {
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        let reader = WalReader::open(&self.dir, LogOffset(from))
            .map_err(|e| Error::durable(self.describe(), e))?;
        let mut next = from;
        for record in reader {
            let record = record.map_err(|e| Error::durable(self.describe(), e))?;
            if record.offset.0 >= to {
                break;
            }
            if record.offset.0 != next {
                return Err(self.missing(next, record.offset.0));
            }
            let mut block: Vec<T> =
                crate::codec::decode(&format!("{} block {next}", self.describe()), &record.data)?;
            out.append(&mut block);
            next += 1;
        }
        if next < to {
            return Err(self.missing(next, to));
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("write-ahead log {}", self.dir.display())
    }

    fn missing(&self, from: u64, to: u64) -> Error {
        Error::durable(
            self.describe(),
            freshet_durable::DurableError::Corrupt {
                path: self.dir.clone(),
                offset: from,
                reason: format!("blocks {from}..{to} are missing"),
            },
        )
    }

    /// Deletes whole segments holding only blocks before `offset` (already in a checkpoint).
    pub fn truncate_before(&mut self, offset: u64) {
        if let Err(e) = self.writer.truncate_before(LogOffset(offset)) {
            tracing::warn!("cannot delete old segments of {}: {e}", self.dir.display());
        }
    }
}

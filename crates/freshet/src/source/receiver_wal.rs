//! The write-ahead log of one receiver: every block of records a receiver stores is appended
//! (and fsynced, by policy) before `store` returns, so a receiver can acknowledge its sender
//! as soon as `store` returns and nothing acknowledged is lost in a crash.
//!
//! Blocks are numbered (the WAL's record offsets). Each batch takes the blocks
//! `[planned, written)`; the batch metadata log records that range, so a replay reads exactly
//! the same blocks back. After a restart, blocks written but never assigned to a batch (stored
//! and acknowledged just before the crash) go into the first new batch.
//!
//! Blocks lost to damage (found by checksum; see `freshet_durable::wal`) fail the read with an
//! error naming them, or are skipped and counted, as the context's `DamagePolicy` says. The
//! intact blocks around them are always read.

use crate::config::{DamagePolicy, DiskFullPolicy};
use crate::disk::retry_when_full;
use crate::error::{Error, Result};
use crate::run::Shared;
use freshet_durable::{
    DurableError, FsyncPolicy, LogOffset, LogWriter, WalConfig, WalReader, WalWriter,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

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
    damage: DamagePolicy,
    disk_full: DiskFullPolicy,
    shared: Arc<Shared>,
    /// The receiver's id, for messages.
    uid: String,
}

impl ReceiverWal {
    /// Opens (creating) the log in `dir`; a torn tail from a crash (a block never
    /// acknowledged) is cut off, damage elsewhere is kept for reads to report.
    pub fn open(
        dir: PathBuf,
        fsync: FsyncPolicy,
        damage: DamagePolicy,
        disk_full: DiskFullPolicy,
        shared: Arc<Shared>,
        uid: String,
    ) -> Result<Self> {
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
            damage,
            disk_full,
            shared,
            uid,
        })
    }

    /// Appends one block of records, durably per the fsync policy.
    pub fn append<T: Serialize>(&mut self, records: &[T]) -> Result<()> {
        let bytes = crate::codec::encode("a receiver block", records)?;
        let what = self.describe();
        let writer = &mut self.writer;
        retry_when_full(self.disk_full, &self.shared, &what, || {
            writer
                .append(&bytes)
                .map(|_| ())
                .map_err(|e| Error::durable(what.clone(), e))
        })
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
        for item in reader {
            let record = match item {
                Ok(record) => record,
                Err(DurableError::Lost {
                    path,
                    position,
                    offsets,
                    reason,
                }) => {
                    let lost = offsets.start.max(next)..offsets.end.min(to);
                    if !lost.is_empty() {
                        self.lost(lost.clone(), &path, position, &reason)?;
                        next = lost.end;
                    }
                    continue;
                }
                Err(e) => return Err(Error::durable(self.describe(), e)),
            };
            if record.offset.0 >= to {
                break;
            }
            if record.offset.0 > next {
                self.lost(next..record.offset.0, &self.dir, 0, "blocks are missing")?;
            }
            let mut block: Vec<T> = crate::codec::decode(
                &format!("{} block {}", self.describe(), record.offset),
                &record.data,
            )?;
            out.append(&mut block);
            next = record.offset.0 + 1;
        }
        if next < to {
            self.lost(next..to, &self.dir, 0, "blocks are missing")?;
        }
        Ok(out)
    }

    /// Blocks `offsets` were written and cannot be read: fails, or counts them, by policy.
    fn lost(
        &self,
        offsets: std::ops::Range<u64>,
        path: &std::path::Path,
        position: u64,
        reason: &str,
    ) -> Result<()> {
        let what = format!(
            "receiver `{}`: blocks {}..{} of its write-ahead log are lost ({}, byte {position}: {reason})",
            self.uid,
            offsets.start,
            offsets.end,
            path.display()
        );
        match self.damage {
            DamagePolicy::Fail => Err(Error::durable(
                format!("{what}; the records stored in them were acknowledged. To go on without them, start the job with StreamingConfig::on_damage(DamagePolicy::SkipLost)"),
                DurableError::Lost {
                    path: path.to_path_buf(),
                    position,
                    offsets,
                    reason: reason.to_string(),
                },
            )),
            DamagePolicy::SkipLost => {
                self.shared.lose(&what, offsets.end - offsets.start);
                Ok(())
            }
        }
    }

    fn describe(&self) -> String {
        format!("write-ahead log {}", self.dir.display())
    }

    /// Deletes whole segments holding only blocks before `offset` (already in a checkpoint).
    pub fn truncate_before(&mut self, offset: u64) {
        if let Err(e) = self.writer.truncate_before(LogOffset(offset)) {
            tracing::warn!("cannot delete old segments of {}: {e}", self.dir.display());
        }
    }
}

//! Storage layer of Freshet: the receiver write-ahead log, the batch metadata log and the
//! checkpoint store. It knows nothing of dataflow; the `freshet` runtime builds on it.
//!
//! * [`wal`]: segment files of length + CRC32C framed records with an fsync policy, rotation
//!   by size and deletion of old segments. A receiver block is appended before it is
//!   acknowledged.
//! * [`batch_log`]: for every batch, before it runs, an opaque description of what it consists
//!   of (source position ranges or WAL offsets), so a replay rebuilds exactly the same batch.
//! * [`checkpoint`]: per-worker state snapshots plus an atomically written [`Manifest`];
//!   the last N are kept, and recovery falls back to an older checkpoint when the newest is
//!   damaged.
//!
//! All files share one framing ([`framing`]) and header; damage is detected by checksum and
//! reported as a [`DurableError`], never a panic. `docs/durability.md` describes the formats
//! and recovery rules.
#![deny(missing_docs)]

pub mod batch_log;
pub mod checkpoint;
pub mod error;
pub mod framing;
pub mod fsutil;
pub mod fuzz_entry;
pub mod wal;

pub use batch_log::{BatchEntry, BatchLog};
pub use checkpoint::{
    describe, CheckpointDescription, CheckpointId, CheckpointStatus, CheckpointStore,
    FsCheckpointStore, LoadedCheckpoint, Manifest, PartInfo,
};
pub use error::{DurableError, Result};
pub use wal::{FsyncPolicy, LogOffset, LogRecord, LogWriter, WalConfig, WalReader, WalWriter};

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
//!
//! # Example
//!
//! ```
//! use freshet_durable::{
//!     CheckpointId, CheckpointStore, FsCheckpointStore, LogOffset, LogWriter, Manifest,
//!     WalConfig, WalReader, WalWriter,
//! };
//!
//! # fn main() -> Result<(), freshet_durable::DurableError> {
//! let dir = tempfile::tempdir().unwrap();
//!
//! // A receiver appends blocks before acknowledging them.
//! let mut wal = WalWriter::open(dir.path().join("wal"), WalConfig::default())?;
//! assert_eq!(wal.append(b"block 0")?, LogOffset(0));
//! assert_eq!(wal.append(b"block 1")?, LogOffset(1));
//! let blocks: Vec<_> = WalReader::open(dir.path().join("wal"), LogOffset(1))?
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(blocks[0].data, b"block 1");
//!
//! // Workers store their state, the coordinator commits the manifest.
//! let store = FsCheckpointStore::open(dir.path().join("checkpoints"), 3)?;
//! let mut manifest = Manifest::new(CheckpointId(1), "pipeline-fingerprint", 1_000);
//! manifest.parts.push(store.put_part(CheckpointId(1), 0, b"state of worker 0")?);
//! store.commit(&manifest)?;
//! let latest = store.latest()?.expect("a checkpoint");
//! assert_eq!(latest.part(0), Some(&b"state of worker 0"[..]));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod batch_log;
pub mod checkpoint;
pub mod codec;
pub mod error;
pub mod framing;
pub mod fsutil;
pub mod fuzz_entry;
pub mod lock;
pub mod wal;

pub use batch_log::{BatchEntry, BatchLog, BatchLogContents};
pub use checkpoint::{
    describe, CheckpointDescription, CheckpointId, CheckpointStatus, CheckpointStore,
    FsCheckpointStore, LoadedCheckpoint, Manifest, PartInfo,
};
pub use error::{DurableError, Result};
pub use lock::DirLock;
pub use wal::{FsyncPolicy, LogOffset, LogRecord, LogWriter, WalConfig, WalReader, WalWriter};

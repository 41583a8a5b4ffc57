//! Checkpoints: per-worker state snapshots committed by a manifest.
//!
//! # Semantics
//!
//! A checkpoint `id` is a directory `chk-<id>` holding one part file per worker and a
//! `MANIFEST`. Parts are written first, each atomically; the manifest is written last,
//! atomically (temporary file, fsync, rename, fsync directory). A checkpoint *exists* exactly
//! when its manifest does; a crash before that leaves an uncommitted directory that recovery
//! ignores and a later commit prunes.
//!
//! After each commit the store keeps the newest N committed checkpoints and deletes older
//! directories.
//!
//! # Failure
//!
//! The manifest and every part carry CRC32C checksums, and the manifest records each part's
//! length and CRC. [`CheckpointStore::latest`] returns the newest checkpoint that verifies
//! completely; a damaged manifest, a missing, truncated or altered part makes it fall back to
//! the previous checkpoint with a warning. [`describe`] reports every checkpoint of a
//! directory with its status, for `freshet checkpoint inspect`.

mod describe;
mod manifest;
mod store;

pub use describe::{describe, CheckpointDescription, CheckpointStatus, PartDescription};
pub use manifest::{Manifest, PartInfo, MAX_MANIFEST_LEN};
pub use store::{
    checkpoint_dir_name, decode_part, encode_part, parse_checkpoint_dir_name, part_file_name,
    CheckpointStore, FsCheckpointStore, LoadedCheckpoint, MANIFEST_FILE, PART_CHUNK,
};

use serde::{Deserialize, Serialize};

/// Identifies a checkpoint; ids increase with time (the runtime uses the batch time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CheckpointId(pub u64);

impl std::fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

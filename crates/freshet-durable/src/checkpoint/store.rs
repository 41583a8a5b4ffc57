//! The file-system checkpoint store.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::manifest::{Manifest, PartInfo};
use super::CheckpointId;
use crate::error::{DurableError, IoContext, Result};
use crate::framing::{self, FileKind, FrameEnd, Frames, HEADER_LEN};
use crate::fsutil::{self, TMP_SUFFIX};

/// Name of the manifest file inside a checkpoint directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Snapshot bytes are split into frames of at most this many bytes (1 MiB).
pub const PART_CHUNK: usize = 1 << 20;
const DIR_PREFIX: &str = "chk-";

/// Stores checkpoints: per-worker state snapshots ("parts") and a manifest that commits them.
///
/// Protocol: every worker calls [`put_part`](Self::put_part) for checkpoint `id`; the
/// coordinator gathers the returned [`PartInfo`]s into a [`Manifest`] and calls
/// [`commit`](Self::commit). A checkpoint whose manifest was not committed does not exist for
/// [`latest`](Self::latest).
pub trait CheckpointStore: Send + Sync {
    /// Durably stores `worker`'s snapshot for checkpoint `id` and returns what the manifest must
    /// list for it. Storing the same part again replaces it.
    fn put_part(&self, id: CheckpointId, worker: usize, bytes: &[u8]) -> Result<PartInfo>;

    /// Atomically commits `manifest` (for checkpoint `manifest.id`), after checking that every
    /// listed part is stored; then drops checkpoints beyond the retention count. Returns
    /// [`DurableError::MissingPart`] / [`DurableError::PartMismatch`] when a part is absent or
    /// differs, and then nothing is committed.
    fn commit(&self, manifest: &Manifest) -> Result<()>;

    /// The newest committed checkpoint that verifies completely (manifest and every part pass
    /// their checksums), with its snapshots. Damaged newer checkpoints are skipped with a
    /// warning and listed in [`LoadedCheckpoint::skipped`]. `Ok(None)` when there is none.
    /// `Err` only for I/O failures other than damage.
    fn latest(&self) -> Result<Option<LoadedCheckpoint>>;
}

/// A verified checkpoint read back from a store.
#[derive(Debug)]
pub struct LoadedCheckpoint {
    /// Its manifest.
    pub manifest: Manifest,
    /// Snapshot bytes, in the order of `manifest.parts`.
    pub parts: Vec<Vec<u8>>,
    /// Its directory.
    pub path: PathBuf,
    /// Newer checkpoints that were skipped because they are damaged, newest first.
    pub skipped: Vec<(CheckpointId, DurableError)>,
}

impl LoadedCheckpoint {
    /// The snapshot of `worker`, if the checkpoint has one.
    pub fn part(&self, worker: usize) -> Option<&[u8]> {
        self.manifest
            .parts
            .iter()
            .position(|p| p.worker == worker)
            .map(|i| self.parts[i].as_slice())
    }
}

/// [`CheckpointStore`] on a local (or mounted) file system.
///
/// Layout: `<root>/chk-<id, 20 digits>/part-<worker, 5 digits>.bin` and `.../MANIFEST`. Every
/// file is written atomically (temporary file, fsync, rename, fsync directory).
#[derive(Debug, Clone)]
pub struct FsCheckpointStore {
    root: PathBuf,
    keep: usize,
}

impl FsCheckpointStore {
    /// Opens (creating if needed) the store in `root`, keeping the newest `keep` committed
    /// checkpoints (at least 1). Leftover temporary files from a crash are removed.
    pub fn open(root: impl AsRef<Path>, keep: usize) -> Result<Self> {
        if keep == 0 {
            return Err(DurableError::InvalidArgument(
                "a checkpoint store must keep at least one checkpoint".into(),
            ));
        }
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).at(&root)?;
        let store = FsCheckpointStore { root, keep };
        for (_, dir) in store.list()? {
            for entry in fs::read_dir(&dir).at(&dir)? {
                let entry = entry.at(&dir)?;
                if entry.file_name().to_string_lossy().ends_with(TMP_SUFFIX) {
                    let p = entry.path();
                    fs::remove_file(&p).at(&p)?;
                }
            }
        }
        Ok(store)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of checkpoint `id`.
    pub fn checkpoint_dir(&self, id: CheckpointId) -> PathBuf {
        self.root.join(checkpoint_dir_name(id))
    }

    /// Every checkpoint directory (committed or not), oldest first.
    pub fn list(&self) -> Result<Vec<(CheckpointId, PathBuf)>> {
        list_checkpoint_dirs(&self.root)
    }

    /// Reads and verifies checkpoint `id`.
    pub fn load(&self, id: CheckpointId) -> Result<LoadedCheckpoint> {
        load_dir(&self.checkpoint_dir(id), Some(id))
    }

    /// Deletes checkpoint directories older than the `keep`-th newest committed one.
    fn prune(&self) -> Result<()> {
        let all = self.list()?;
        let committed: Vec<CheckpointId> = all
            .iter()
            .filter(|(_, d)| d.join(MANIFEST_FILE).exists())
            .map(|(id, _)| *id)
            .collect();
        if committed.len() <= self.keep {
            return Ok(());
        }
        let oldest_kept = committed[committed.len() - self.keep];
        let mut removed = false;
        for (id, dir) in all {
            if id < oldest_kept {
                // Remove the manifest first so a half-deleted checkpoint is never "committed".
                let m = dir.join(MANIFEST_FILE);
                match fs::remove_file(&m) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(DurableError::io(&m, e)),
                }
                fs::remove_dir_all(&dir).at(&dir)?;
                removed = true;
            }
        }
        if removed {
            fsutil::sync_dir(&self.root)?;
        }
        Ok(())
    }
}

impl CheckpointStore for FsCheckpointStore {
    fn put_part(&self, id: CheckpointId, worker: usize, bytes: &[u8]) -> Result<PartInfo> {
        let dir = self.checkpoint_dir(id);
        if !dir.exists() {
            fs::create_dir_all(&dir).at(&dir)?;
            fsutil::sync_dir(&self.root)?;
        }
        let file = part_file_name(worker);
        fsutil::write_atomic(&dir.join(&file), &encode_part(id, worker, bytes)?)?;
        Ok(PartInfo {
            worker,
            file,
            crc32c: crc32c::crc32c(bytes),
            len: bytes.len() as u64,
        })
    }

    fn commit(&self, manifest: &Manifest) -> Result<()> {
        let dir = self.checkpoint_dir(manifest.id);
        if !dir.exists() {
            fs::create_dir_all(&dir).at(&dir)?;
            fsutil::sync_dir(&self.root)?;
        }
        for part in &manifest.parts {
            let path = dir.join(&part.file);
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(DurableError::MissingPart {
                        path,
                        worker: part.worker,
                    })
                }
                Err(e) => return Err(DurableError::io(&path, e)),
            };
            let expected = part_file_len(part.len);
            if meta.len() != expected {
                return Err(DurableError::PartMismatch {
                    path,
                    reason: format!("file has {} bytes, expected {expected}", meta.len()),
                });
            }
        }
        fsutil::write_atomic(&dir.join(MANIFEST_FILE), &manifest.encode()?)?;
        self.prune()
    }

    fn latest(&self) -> Result<Option<LoadedCheckpoint>> {
        let mut skipped = Vec::new();
        for (id, dir) in self.list()?.into_iter().rev() {
            if !dir.join(MANIFEST_FILE).exists() {
                tracing::debug!(checkpoint = id.0, "skipping uncommitted checkpoint");
                continue;
            }
            match load_dir(&dir, Some(id)) {
                Ok(mut loaded) => {
                    loaded.skipped = skipped;
                    return Ok(Some(loaded));
                }
                Err(e) if e.is_corruption() => {
                    tracing::warn!(
                        checkpoint = id.0,
                        error = %e,
                        "checkpoint is damaged; falling back to an older one",
                    );
                    skipped.push((id, e));
                }
                Err(e) => return Err(e),
            }
        }
        if !skipped.is_empty() {
            tracing::warn!(damaged = skipped.len(), "no intact checkpoint found");
        }
        Ok(None)
    }
}

/// Name of the directory of checkpoint `id`.
pub fn checkpoint_dir_name(id: CheckpointId) -> String {
    format!("{DIR_PREFIX}{:020}", id.0)
}

/// Parses a checkpoint directory name.
pub fn parse_checkpoint_dir_name(name: &str) -> Option<CheckpointId> {
    let digits = name.strip_prefix(DIR_PREFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(CheckpointId)
}

/// Name of the part file of `worker`.
pub fn part_file_name(worker: usize) -> String {
    format!("part-{worker:05}.bin")
}

pub(crate) fn list_checkpoint_dirs(root: &Path) -> Result<Vec<(CheckpointId, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root).at(root)? {
        let entry = entry.at(root)?;
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(parse_checkpoint_dir_name)
        {
            if entry.path().is_dir() {
                out.push((id, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Size of a part file holding `len` snapshot bytes.
fn part_file_len(len: u64) -> u64 {
    let chunks = len.div_ceil(PART_CHUNK as u64);
    HEADER_LEN as u64
        + framing::framed_len(16) as u64
        + chunks * framing::FRAME_HEADER_LEN as u64
        + len
}

/// Encodes a part file: header `PRT`, a frame with checkpoint id and worker (two `u64` LE),
/// then the snapshot in frames of at most [`PART_CHUNK`] bytes.
pub fn encode_part(id: CheckpointId, worker: usize, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(part_file_len(bytes.len() as u64) as usize);
    out.extend_from_slice(&framing::header(FileKind::Part));
    let mut ident = [0u8; 16];
    ident[..8].copy_from_slice(&id.0.to_le_bytes());
    ident[8..].copy_from_slice(&(worker as u64).to_le_bytes());
    framing::encode_frame(&mut out, &ident)?;
    for chunk in bytes.chunks(PART_CHUNK) {
        framing::encode_frame(&mut out, chunk)?;
    }
    Ok(out)
}

/// Decodes a part file into `(checkpoint id, worker, snapshot bytes)`. Never panics.
pub fn decode_part(buf: &[u8], path: &Path) -> Result<(CheckpointId, usize, Vec<u8>)> {
    framing::check_header(buf, FileKind::Part, path)?;
    let mut frames = Frames::new(&buf[HEADER_LEN..]);
    let ident = frames.next().map(|(_, p)| p);
    let mut data = Vec::with_capacity(buf.len().saturating_sub(HEADER_LEN + 24));
    for (_, chunk) in frames.by_ref() {
        data.extend_from_slice(chunk);
    }
    let at = |offset: usize| (offset + HEADER_LEN) as u64;
    match frames.end() {
        Some(FrameEnd::Torn { offset }) => {
            return Err(DurableError::Truncated {
                path: path.to_path_buf(),
                offset: at(*offset),
            })
        }
        Some(FrameEnd::Corrupt { offset, reason }) => {
            return Err(DurableError::Corrupt {
                path: path.to_path_buf(),
                offset: at(*offset),
                reason: (*reason).to_string(),
            })
        }
        _ => {}
    }
    let Some(ident) = ident.filter(|i| i.len() == 16) else {
        return Err(DurableError::Corrupt {
            path: path.to_path_buf(),
            offset: HEADER_LEN as u64,
            reason: "missing part identification record".into(),
        });
    };
    let id = u64::from_le_bytes(ident[..8].try_into().unwrap_or_default());
    let worker = u64::from_le_bytes(ident[8..].try_into().unwrap_or_default());
    Ok((CheckpointId(id), worker as usize, data))
}

/// Reads and verifies the checkpoint in `dir`; `expected` is the id its name says.
pub(crate) fn load_dir(dir: &Path, expected: Option<CheckpointId>) -> Result<LoadedCheckpoint> {
    let mpath = dir.join(MANIFEST_FILE);
    let manifest = Manifest::decode(&fs::read(&mpath).at(&mpath)?, &mpath)?;
    if let Some(id) = expected {
        if manifest.id != id {
            return Err(DurableError::Corrupt {
                path: mpath,
                offset: 0,
                reason: format!("manifest is for checkpoint {}, not {}", manifest.id.0, id.0),
            });
        }
    }
    let mut parts = Vec::with_capacity(manifest.parts.len());
    for info in &manifest.parts {
        parts.push(load_part(dir, manifest.id, info)?);
    }
    Ok(LoadedCheckpoint {
        manifest,
        parts,
        path: dir.to_path_buf(),
        skipped: Vec::new(),
    })
}

/// Reads one part and checks it against its manifest entry.
pub(crate) fn load_part(dir: &Path, id: CheckpointId, info: &PartInfo) -> Result<Vec<u8>> {
    if info.file.contains(['/', '\\']) || info.file.starts_with('.') {
        return Err(DurableError::PartMismatch {
            path: dir.to_path_buf(),
            reason: format!("invalid part file name {:?}", info.file),
        });
    }
    let path = dir.join(&info.file);
    let buf = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DurableError::MissingPart {
                path,
                worker: info.worker,
            })
        }
        Err(e) => return Err(DurableError::io(&path, e)),
    };
    let (pid, worker, data) = decode_part(&buf, &path)?;
    let mismatch = |reason: String| DurableError::PartMismatch {
        path: path.clone(),
        reason,
    };
    if pid != id || worker != info.worker {
        return Err(mismatch(format!(
            "part belongs to checkpoint {} worker {}",
            pid.0, worker
        )));
    }
    if data.len() as u64 != info.len {
        return Err(mismatch(format!(
            "{} bytes, manifest says {}",
            data.len(),
            info.len
        )));
    }
    if crc32c::crc32c(&data) != info.crc32c {
        return Err(mismatch("checksum differs from the manifest".into()));
    }
    Ok(data)
}

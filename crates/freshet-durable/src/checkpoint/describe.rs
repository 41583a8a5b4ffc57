//! Human-readable description of checkpoint directories (`freshet checkpoint inspect DIR`).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::store::{list_checkpoint_dirs, load_part, parse_checkpoint_dir_name, MANIFEST_FILE};
use super::CheckpointId;
use crate::error::{DurableError, IoContext, Result};

/// State of one checkpoint directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointStatus {
    /// Manifest and every part verify; recovery may use it.
    Complete,
    /// No manifest: the checkpoint was never committed (or is being written).
    Uncommitted,
    /// Something is damaged; the message says what. Recovery skips it.
    Damaged(String),
}

/// One part as listed by the manifest, with its verification result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartDescription {
    /// Worker index.
    pub worker: usize,
    /// File name.
    pub file: String,
    /// Snapshot length according to the manifest.
    pub len: u64,
    /// CRC32C according to the manifest.
    pub crc32c: u32,
    /// `None` if the part verifies, else what is wrong.
    pub problem: Option<String>,
}

/// What one checkpoint directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointDescription {
    /// Id from the directory name (or the manifest, for a directory with another name).
    pub id: Option<CheckpointId>,
    /// The directory.
    pub path: PathBuf,
    /// Overall status.
    pub status: CheckpointStatus,
    /// The manifest, when it could be decoded.
    pub manifest: Option<Manifest>,
    /// Parts listed by the manifest.
    pub parts: Vec<PartDescription>,
}

/// Describes `dir`: either one checkpoint directory (it holds a `MANIFEST` or is named
/// `chk-<id>`) or a store root, whose checkpoints are described oldest first. Damage is reported
/// in the descriptions, not as an error; `Err` only when `dir` cannot be read.
pub fn describe(dir: impl AsRef<Path>) -> Result<Vec<CheckpointDescription>> {
    let dir = dir.as_ref();
    let name_id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_checkpoint_dir_name);
    if name_id.is_some() || dir.join(MANIFEST_FILE).exists() {
        fs::metadata(dir).at(dir)?;
        return Ok(vec![describe_one(dir, name_id)]);
    }
    Ok(list_checkpoint_dirs(dir)?
        .into_iter()
        .map(|(id, path)| describe_one(&path, Some(id)))
        .collect())
}

fn describe_one(dir: &Path, id: Option<CheckpointId>) -> CheckpointDescription {
    let mut d = CheckpointDescription {
        id,
        path: dir.to_path_buf(),
        status: CheckpointStatus::Complete,
        manifest: None,
        parts: Vec::new(),
    };
    let mpath = dir.join(MANIFEST_FILE);
    let bytes = match fs::read(&mpath) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            d.status = CheckpointStatus::Uncommitted;
            return d;
        }
        Err(e) => {
            d.status = CheckpointStatus::Damaged(DurableError::io(&mpath, e).to_string());
            return d;
        }
    };
    let manifest = match Manifest::decode(&bytes, &mpath) {
        Ok(m) => m,
        Err(e) => {
            d.status = CheckpointStatus::Damaged(e.to_string());
            return d;
        }
    };
    let mut problems = Vec::new();
    if let Some(id) = id {
        if manifest.id != id {
            problems.push(format!("manifest is for checkpoint {}", manifest.id));
        }
    }
    d.id = d.id.or(Some(manifest.id));
    for info in &manifest.parts {
        let problem = load_part(dir, manifest.id, info)
            .err()
            .map(|e| e.to_string());
        if let Some(p) = &problem {
            problems.push(p.clone());
        }
        d.parts.push(PartDescription {
            worker: info.worker,
            file: info.file.clone(),
            len: info.len,
            crc32c: info.crc32c,
            problem,
        });
    }
    if !problems.is_empty() {
        d.status = CheckpointStatus::Damaged(problems.join("; "));
    }
    d.manifest = Some(manifest);
    d
}

impl fmt::Display for CheckpointStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointStatus::Complete => f.write_str("complete"),
            CheckpointStatus::Uncommitted => f.write_str("uncommitted (no manifest)"),
            CheckpointStatus::Damaged(why) => write!(f, "DAMAGED: {why}"),
        }
    }
}

impl fmt::Display for CheckpointDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => writeln!(f, "checkpoint {id} at {}", self.path.display())?,
            None => writeln!(f, "checkpoint at {}", self.path.display())?,
        }
        writeln!(f, "  status: {}", self.status)?;
        if let Some(m) = &self.manifest {
            writeln!(f, "  fingerprint: {}", m.fingerprint)?;
            writeln!(f, "  batch time: {}", m.batch_time)?;
            writeln!(f, "  created at (ms since epoch): {}", m.created_at_ms)?;
            writeln!(f, "  config:")?;
            for (k, v) in &m.config {
                writeln!(f, "    {k} = {v}")?;
            }
            writeln!(f, "  source positions:")?;
            for (k, v) in &m.source_positions {
                writeln!(f, "    {k}: {} bytes {}", v.len(), hex_prefix(v))?;
            }
            writeln!(f, "  pending batches: {:?}", m.pending_batches)?;
        }
        writeln!(f, "  parts: {}", self.parts.len())?;
        for p in &self.parts {
            write!(
                f,
                "    worker {:>4}  {}  {} bytes  crc32c {:08x}",
                p.worker, p.file, p.len, p.crc32c
            )?;
            match &p.problem {
                None => writeln!(f, "  ok")?,
                Some(why) => writeln!(f, "  BAD: {why}")?,
            }
        }
        Ok(())
    }
}

fn hex_prefix(v: &[u8]) -> String {
    let mut s: String = v.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if v.len() > 16 {
        s.push('…');
    }
    s
}

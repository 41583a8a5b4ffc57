//! Checkpoints and recovery: the runtime side of the durable storage in `freshet-durable`.
//!
//! With a checkpoint directory (`StreamingContext::checkpoint` or `get_or_create`):
//!
//! - **Batch metadata log** (`<dir>/batches`): before a batch runs, the driver logs what each
//!   source put in it (file names, sequence ranges), fsynced; when it completes, a completion
//!   mark. A replay after a crash rebuilds exactly the same batch from the log.
//! - **Checkpoints** (`<dir>/checkpoints`): every `checkpoint_interval` batches, once the batch
//!   has completed, each worker writes a snapshot of its operators' state, then the driver
//!   commits a manifest with the pipeline fingerprint, the source positions and the batch time.
//!   Old checkpoints beyond the kept number and log entries before the checkpoint are dropped.
//!   A graceful stop writes a last checkpoint.
//! - **Recovery** (the next `start` on the same directory): the newest intact checkpoint is
//!   loaded (a damaged one falls back to the previous), the pipeline's fingerprint must match,
//!   operator state and source positions are restored, every batch logged after the checkpoint
//!   is replayed in order with its original time, then batches continue one interval apart
//!   (batches for the time the job was down run back to back, as in Spark).
//!
//! Exactly-once output then needs replayable sources (direct sources, receivers with a
//! write-ahead log) and an idempotent
//! or transactional sink keyed by batch time (see [`crate::sink`]). Sources that cannot replay
//! (queues, receivers without a write-ahead log) contribute nothing to a replayed batch, and a
//! warning says so.

use crate::error::{Error, Result};
use freshet_durable::{
    BatchEntry, BatchLog, CheckpointId, CheckpointStore, FsCheckpointStore, LoadedCheckpoint,
    Manifest, PartInfo,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where and how often a context checkpoints.
#[derive(Clone, Debug)]
pub(crate) struct CheckpointSettings {
    pub dir: PathBuf,
    pub interval: u64,
    pub keep: usize,
    /// What to do with batch-log records lost to damage.
    pub damage: crate::config::DamagePolicy,
}

fn durable(what: &str) -> impl FnOnce(freshet_durable::DurableError) -> Error + '_ {
    move |e| Error::durable(what, e)
}

/// Operator state loaded from a checkpoint, by state slot, one part per worker of the run that
/// wrote it.
#[derive(Debug, Default)]
pub(crate) struct RestoredState {
    slots: BTreeMap<u32, Vec<Vec<u8>>>,
}

impl RestoredState {
    /// The parts of slot `slot` (one per old worker; empty if the slot had no state).
    pub fn slot(&self, slot: usize) -> Vec<Vec<u8>> {
        self.slots.get(&(slot as u32)).cloned().unwrap_or_default()
    }

    pub fn from_parts(parts: &[Vec<u8>]) -> Result<Self> {
        let mut slots: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
        for part in parts {
            for (slot, bytes) in decode_part(part)? {
                slots.entry(slot).or_default().push(bytes);
            }
        }
        Ok(RestoredState { slots })
    }
}

/// Encodes one worker's snapshot: `(slot, state bytes)` per stateful operator.
pub(crate) fn encode_part(states: Vec<(u32, Vec<u8>)>) -> Result<Vec<u8>> {
    crate::codec::encode("a worker's state snapshot", &states)
}

fn decode_part(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>> {
    crate::codec::decode("a worker's state snapshot", bytes)
}

/// What a batch consisted of: per source (by key), its replay record.
pub(crate) type BatchRecord = Vec<(String, Option<Vec<u8>>)>;

/// Serializes state entries for a snapshot (a state that cannot be encoded is a bug in the
/// state's `Serialize`, reported and written as nothing).
pub(crate) fn encode_state<T: serde::Serialize>(entries: &T) -> Vec<u8> {
    crate::codec::encode("an operator's state", entries).unwrap_or_else(|e| {
        tracing::error!("{e}");
        Vec::new()
    })
}

/// Deserializes state entries written by [`encode_state`]; a part that does not decode is an
/// error (it passed its checksum, so the pipeline's state types must have changed).
pub(crate) fn decode_state<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    crate::codec::decode("a checkpointed operator state", bytes)
}

/// What recovery found in the checkpoint directory.
pub(crate) struct Recovery {
    /// Batch-log records lost to damage and skipped (by policy), to be counted.
    pub lost: u64,
    pub checkpoint: Option<LoadedCheckpoint>,
    /// Logged batches after the checkpoint, oldest first.
    pub replay: Vec<BatchEntry>,
}

impl Recovery {
    pub fn restored_state(&self) -> Result<Option<Arc<RestoredState>>> {
        match &self.checkpoint {
            Some(c) => Ok(Some(Arc::new(RestoredState::from_parts(&c.parts)?))),
            None => Ok(None),
        }
    }
}

/// The driver's side of checkpointing: the batch log and the checkpoint store.
pub(crate) struct Coordinator {
    /// Held while the run lives: one job per checkpoint directory.
    _lock: freshet_durable::DirLock,
    pub settings: CheckpointSettings,
    pub store: Arc<FsCheckpointStore>,
    log: BatchLog,
    next_id: u64,
    since_last: u64,
    /// The first batch time of the pipeline's first run (window alignment survives restarts).
    pub origin: Option<u64>,
    pub fingerprint: Option<String>,
    /// The directory held no checkpoint.
    pub fresh: bool,
    /// The batch time and source positions of the checkpoints kept, oldest first. Batch log
    /// entries and write-ahead log blocks are deleted only before the oldest, so recovery can
    /// fall back to it if a newer checkpoint is damaged.
    kept: std::collections::VecDeque<(u64, BTreeMap<String, Vec<u8>>)>,
}

impl Coordinator {
    /// Opens the directory and reads what recovery needs.
    pub fn open(settings: CheckpointSettings) -> Result<(Coordinator, Recovery)> {
        std::fs::create_dir_all(&settings.dir).map_err(|e| Error::io(&settings.dir, e))?;
        let lock = freshet_durable::DirLock::acquire(&settings.dir)
            .map_err(durable("the checkpoint directory"))?;
        let store = FsCheckpointStore::open(settings.dir.join("checkpoints"), settings.keep)
            .map_err(durable("the checkpoint store"))?;
        let mut log =
            BatchLog::open(settings.dir.join("batches")).map_err(durable("the batch log"))?;
        let mut lost = 0;
        for damage in log.take_damage() {
            match (settings.damage, &damage) {
                (
                    crate::config::DamagePolicy::SkipLost,
                    freshet_durable::DurableError::Lost { offsets, .. },
                ) => {
                    tracing::error!("the batch log is damaged, continuing without: {damage}");
                    lost += offsets.end - offsets.start;
                }
                _ => {
                    return Err(Error::durable(
                        "the batch log (batches planned before the crash cannot all be replayed; to go on without the lost records, start with StreamingConfig::on_damage(DamagePolicy::SkipLost))",
                        damage,
                    ))
                }
            }
        }
        let checkpoint = store.latest().map_err(durable("the newest checkpoint"))?;
        for (id, e) in checkpoint.iter().flat_map(|c| c.skipped.iter()) {
            tracing::warn!("checkpoint {id:?} is damaged and was skipped: {e}");
        }
        let after = checkpoint.as_ref().map(|c| c.manifest.batch_time);
        let replay: Vec<BatchEntry> = log
            .entries_from(after.map_or(0, |t| t + 1))
            .cloned()
            .collect();
        let next_id = checkpoint.as_ref().map_or(1, |c| c.manifest.id.0 + 1);
        let origin = checkpoint
            .as_ref()
            .and_then(|c| c.manifest.config.get("origin").and_then(|o| o.parse().ok()));
        let fingerprint = checkpoint.as_ref().map(|c| c.manifest.fingerprint.clone());
        let fresh = checkpoint.is_none();
        let kept = checkpoint
            .iter()
            .map(|c| (c.manifest.batch_time, c.manifest.source_positions.clone()))
            .collect();
        Ok((
            Coordinator {
                _lock: lock,
                settings,
                store: Arc::new(store),
                log,
                next_id,
                since_last: 0,
                origin,
                fingerprint,
                fresh,
                kept,
            },
            Recovery {
                lost,
                checkpoint,
                replay,
            },
        ))
    }

    /// Logs what batch `time` consists of, durably, before it runs.
    pub fn log_batch(&mut self, time: u64, record: &BatchRecord) -> Result<()> {
        let bytes = crate::codec::encode("a batch record", record)?;
        self.log.log(time, &bytes).map_err(durable("the batch log"))
    }

    /// Marks batch `time` completed.
    pub fn completed(&mut self, time: u64) -> Result<()> {
        self.since_last += 1;
        self.log.completed(time).map_err(durable("the batch log"))
    }

    /// Whether a checkpoint is due once the `pending` batches not yet marked complete are.
    pub fn due_after(&self, pending: usize) -> bool {
        self.since_last + pending as u64 >= self.settings.interval
    }

    /// A fresh checkpoint id.
    pub fn next_checkpoint(&mut self) -> CheckpointId {
        let id = CheckpointId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Commits checkpoint `id` for batch `time` (every batch up to `time` is complete and no
    /// later batch has been logged).
    pub fn commit(
        &mut self,
        id: CheckpointId,
        time: u64,
        config: BTreeMap<String, String>,
        positions: BTreeMap<String, Vec<u8>>,
        mut parts: Vec<PartInfo>,
    ) -> Result<()> {
        let mut manifest = Manifest::new(id, self.fingerprint.clone().unwrap_or_default(), time);
        manifest.config = config;
        if let Some(origin) = self.origin {
            manifest.config.insert("origin".into(), origin.to_string());
        }
        manifest.source_positions = positions.clone();
        parts.sort_by_key(|p| p.worker);
        manifest.parts = parts;
        self.store
            .commit(&manifest)
            .map_err(durable("a checkpoint manifest"))?;
        self.kept.push_back((time, positions));
        while self.kept.len() > self.settings.keep {
            self.kept.pop_front();
        }
        if let Some((oldest, _)) = self.kept.front() {
            self.log
                .compact_before(oldest + 1)
                .map_err(durable("the batch log"))?;
        }
        self.since_last = 0;
        Ok(())
    }

    /// The source positions of the oldest checkpoint kept.
    pub fn oldest_positions(&self) -> Option<&BTreeMap<String, Vec<u8>>> {
        self.kept.front().map(|(_, p)| p)
    }
}

/// Decodes a logged batch record.
pub(crate) fn decode_batch(entry: &BatchEntry) -> Result<BatchRecord> {
    crate::codec::decode(
        &format!("batch {} in the batch log", entry.time),
        &entry.payload,
    )
}

/// The fingerprint of a pipeline: its operators (in installation order), edges and the stable
/// ids of its sources and outputs. Descriptions (addresses, paths) are not part of it.
pub(crate) fn fingerprint(graph: &crate::metrics::PipelineGraph, ids: &[String]) -> String {
    let mut node_ids: Vec<u64> = graph.nodes.iter().map(|n| n.id).collect();
    node_ids.sort_unstable();
    let rank = |id: u64| node_ids.binary_search(&id).unwrap_or(usize::MAX);
    let mut nodes: Vec<(usize, String)> = graph
        .nodes
        .iter()
        .map(|n| (rank(n.id), format!("{}:{}", n.kind.as_str(), n.name)))
        .collect();
    nodes.sort();
    let mut edges: Vec<(usize, usize)> = graph
        .edges
        .iter()
        .map(|e| (rank(e.from), rank(e.to)))
        .collect();
    edges.sort();
    let nodes: Vec<String> = nodes.into_iter().map(|(i, n)| format!("{i}={n}")).collect();
    let edges: Vec<String> = edges
        .into_iter()
        .map(|(a, b)| format!("{a}->{b}"))
        .collect();
    format!(
        "nodes[{}] edges[{}] ids[{}]",
        nodes.join(","),
        edges.join(","),
        ids.join(",")
    )
}

/// Explains how two fingerprints differ.
pub(crate) fn fingerprint_mismatch(dir: &Path, old: &str, new: &str) -> Error {
    Error::Plan(format!(
        "the pipeline does not match the checkpoint in {}: it was built as\n  {old}\nand is now\n  {new}\nRestore the pipeline's code, or start fresh by removing the checkpoint directory (or using another one).",
        dir.display()
    ))
}

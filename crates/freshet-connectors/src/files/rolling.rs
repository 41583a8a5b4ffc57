//! Rolling: several batches in one file, still exactly-once.
//!
//! A pipeline with 100 ms batches writing one file per batch leaves 864 000 files a day per
//! worker. With a [`RollingPolicy`] a writer *stages* each batch instead, durably, in
//! `<dir>/_staging/part-<n>/batch-<time>/` (written in a hidden temporary directory, fsynced,
//! renamed into place, so a batch is staged whole or not at all) before its commit returns,
//! and *rolls* when the staged batches reach the policy's size, count or time span: their
//! records become one committed file per partition directory,
//! `part-<n>-<first>-<last><ext>`, whose name is the range of batch times it covers.
//!
//! # Why it stays exactly-once
//!
//! Freshet counts a batch as written when the sink's commit returns, and a checkpoint may
//! follow at once, after which the batch is never replayed. So unlike Flink, which makes its
//! in-progress part durable at a checkpoint, a rolling writer makes every batch durable at its
//! commit: in the staging directory. The rule is then:
//!
//! - A batch time `t` of partition `n` is in exactly one place: in the one committed file of
//!   `n` whose range `first..=last` covers it, or staged, or not written yet.
//! - `<dir>/_staging/part-<n>/rolled-<last>` records the last batch time rolled (the
//!   *high-water mark*). A batch at or below it is in a committed file: a replay of it writes
//!   nothing. A staged batch is not staged again. Only a batch neither rolled nor staged is
//!   written.
//! - A roll first writes a marker `roll-<first>-<last>`, then commits each file (temporary
//!   name, fsync, rename; a file already there is left as it is), then deletes the staged
//!   batches, then moves the high-water mark to `last` and deletes the marker. A writer that
//!   opens and finds a marker finishes that roll from the staged batches, which are still
//!   there, and produces the same files.
//! - Roll boundaries are decided from the staged batches, which survive a crash, not from
//!   what a run happened to see: a replay that would have "crossed a roll boundary
//!   differently" cannot, because the batches before the boundary are already rolled (below
//!   the mark) and those after it already staged. A changed policy applies from the next roll.
//!
//! When the writer is dropped (the run stops) the staged batches are rolled, so a stopped job
//! leaves nothing in staging; after a crash they are rolled by the next run's writer. Readers
//! ignore `_staging` (as they ignore every name that starts with `_` or `.`), so they see
//! only committed files.

use super::encode::Encoder;
use super::error::{check_range, FormatError};
use super::layout::{self, commit_file, segment_group, sync_dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// When a rolling sink closes a file: the first condition met rolls. See the
/// [module documentation](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollingPolicy {
    /// Roll when the staged batches hold at least this many bytes (1 KiB ..= 16 GiB; default
    /// 128 MiB, as Flink's part size).
    pub max_bytes: u64,
    /// Roll when the staged batches span at least this much batch time, last minus first
    /// (1 ms ..= 7 days; default 60 s, as Flink's rollover interval).
    pub max_span: Duration,
    /// Roll after this many batches (1 ..= 1 000 000; default: no limit).
    pub max_batches: Option<u64>,
}

impl Default for RollingPolicy {
    fn default() -> Self {
        RollingPolicy {
            max_bytes: 128 << 20,
            max_span: Duration::from_secs(60),
            max_batches: None,
        }
    }
}

impl RollingPolicy {
    /// The defaults: 128 MiB, 60 s of batch time, no batch limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rolls at `bytes` staged bytes (1 KiB ..= 16 GiB).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Rolls when the staged batches span `span` of batch time (1 ms ..= 7 days).
    pub fn max_span(mut self, span: Duration) -> Self {
        self.max_span = span;
        self
    }

    /// Rolls after `n` staged batches (1 ..= 1 000 000).
    pub fn max_batches(mut self, n: u64) -> Self {
        self.max_batches = Some(n);
        self
    }

    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), FormatError> {
        check_range(
            "rolling max_bytes",
            self.max_bytes,
            1 << 10,
            16 << 30,
            "between 1024 and 17179869184 bytes",
        )?;
        let span = self.max_span.as_millis();
        check_range(
            "rolling max_span",
            span,
            1,
            7 * 24 * 3600 * 1000,
            "between 1 ms and 7 days (in ms)",
        )?;
        if let Some(n) = self.max_batches {
            check_range(
                "rolling max_batches",
                n,
                1,
                1_000_000,
                "between 1 and 1000000",
            )?;
        }
        Ok(())
    }
}

/// The rolling state of one partition's writer.
pub(crate) struct Roller {
    policy: RollingPolicy,
    root: PathBuf,
    staging: PathBuf,
    partition: usize,
    ext: String,
    sync: bool,
    /// The last batch time in a committed file.
    high_water: Option<u64>,
    /// Staged batches and their bytes.
    staged: BTreeMap<u64, u64>,
}

fn parse_range(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}

fn remove_dir(dir: &Path) -> Result<(), FormatError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(FormatError::io(dir, e)),
        _ => Ok(()),
    }
}

fn remove_file(path: &Path) -> Result<(), FormatError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(FormatError::io(path, e)),
        _ => Ok(()),
    }
}

impl Roller {
    /// Opens the staging directory of `partition` under `root` and recovers what an earlier
    /// run left: finishes an interrupted roll, drops half-staged batches, reads the mark.
    pub fn open<T: 'static>(
        policy: RollingPolicy,
        root: &Path,
        partition: usize,
        ext: &str,
        sync: bool,
        encoder: &dyn Encoder<T>,
    ) -> Result<Self, FormatError> {
        policy.validate()?;
        let staging = layout::staging_dir(root, partition);
        std::fs::create_dir_all(&staging).map_err(|e| FormatError::io(&staging, e))?;
        let mut roller = Roller {
            policy,
            root: root.to_path_buf(),
            staging,
            partition,
            ext: ext.to_string(),
            sync,
            high_water: None,
            staged: BTreeMap::new(),
        };
        roller.recover(encoder)?;
        Ok(roller)
    }

    fn recover<T: 'static>(&mut self, encoder: &dyn Encoder<T>) -> Result<(), FormatError> {
        let entries =
            std::fs::read_dir(&self.staging).map_err(|e| FormatError::io(&self.staging, e))?;
        let mut pending = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| FormatError::io(&self.staging, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                // A batch staged half-way: the crash came before its rename, so it was never
                // committed; the replay stages it again.
                let path = entry.path();
                if path.is_dir() {
                    remove_dir(&path)?;
                } else {
                    remove_file(&path)?;
                }
            } else if let Some(t) = name.strip_prefix("rolled-") {
                if let Ok(t) = t.parse::<u64>() {
                    self.high_water = self.high_water.max(Some(t));
                }
            } else if let Some(range) = name.strip_prefix("roll-").and_then(parse_range) {
                pending.push(range);
            } else if let Some(t) = name.strip_prefix("batch-") {
                if let Ok(t) = t.parse::<u64>() {
                    self.staged.insert(t, dir_bytes(&entry.path()));
                }
            }
        }
        pending.sort_unstable();
        for (first, last) in pending {
            tracing::info!(
                "finishing the roll of batches {first}..={last} of {}",
                self.staging.display()
            );
            self.roll_range(first, last, encoder)?;
        }
        self.drop_rolled()?;
        Ok(())
    }

    /// Deletes staged batches at or below the high-water mark (left by a roll interrupted
    /// after its files were committed).
    fn drop_rolled(&mut self) -> Result<(), FormatError> {
        let Some(h) = self.high_water else {
            return Ok(());
        };
        let rolled: Vec<u64> = self.staged.range(..=h).map(|(t, _)| *t).collect();
        for t in rolled {
            remove_dir(&self.staging.join(format!("batch-{t}")))?;
            self.staged.remove(&t);
        }
        Ok(())
    }

    /// Whether batch `time` is written already: rolled, or staged.
    pub fn has(&self, time: u64) -> bool {
        self.high_water.is_some_and(|h| time <= h) || self.staged.contains_key(&time)
    }

    /// Stages batch `time`: `fill` writes every segment into the directory it is given.
    pub fn stage(
        &mut self,
        time: u64,
        fill: impl FnOnce(&Path) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        if self.has(time) {
            return Ok(());
        }
        let tmp = self.staging.join(format!(".batch-{time}.tmp"));
        remove_dir(&tmp)?;
        std::fs::create_dir_all(&tmp).map_err(|e| FormatError::io(&tmp, e))?;
        fill(&tmp)?;
        if self.sync {
            sync_dir(&tmp)?;
        }
        let dir = self.staging.join(format!("batch-{time}"));
        std::fs::rename(&tmp, &dir).map_err(|e| FormatError::io(&dir, e))?;
        if self.sync {
            sync_dir(&self.staging)?;
        }
        self.staged.insert(time, dir_bytes(&dir));
        Ok(())
    }

    /// Whether the staged batches meet a roll condition.
    pub fn due(&self) -> bool {
        let (Some((first, _)), Some((last, _))) =
            (self.staged.first_key_value(), self.staged.last_key_value())
        else {
            return false;
        };
        let bytes: u64 = self.staged.values().sum();
        bytes >= self.policy.max_bytes
            || u128::from(last - first) >= self.policy.max_span.as_millis()
            || self
                .policy
                .max_batches
                .is_some_and(|n| self.staged.len() as u64 >= n)
    }

    /// Rolls every staged batch into committed files.
    pub fn roll<T: 'static>(&mut self, encoder: &dyn Encoder<T>) -> Result<(), FormatError> {
        let (Some(first), Some(last)) = (
            self.staged.keys().next().copied(),
            self.staged.keys().next_back().copied(),
        ) else {
            return Ok(());
        };
        let marker = self.staging.join(format!("roll-{first}-{last}"));
        std::fs::write(&marker, b"").map_err(|e| FormatError::io(&marker, e))?;
        if self.sync {
            sync_dir(&self.staging)?;
        }
        self.roll_range(first, last, encoder)
    }

    /// Commits the files of the staged batches in `first..=last`, then deletes them and moves
    /// the high-water mark (the marker `roll-<first>-<last>` exists).
    fn roll_range<T: 'static>(
        &mut self,
        first: u64,
        last: u64,
        encoder: &dyn Encoder<T>,
    ) -> Result<(), FormatError> {
        // The segments of every group, in batch order.
        let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for t in self.staged.range(first..=last).map(|(t, _)| *t) {
            let dir = self.staging.join(format!("batch-{t}"));
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .map_err(|e| FormatError::io(&dir, e))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            for name in names {
                groups.entry(name.clone()).or_default().push(dir.join(name));
            }
        }
        for (name, parts) in &groups {
            let group = segment_group(name, &self.ext);
            let path =
                layout::rolled_file(&self.root, group, self.partition, first, last, &self.ext);
            commit_file(&path, self.sync, |out| encoder.combine(parts, out))?;
        }
        let times: Vec<u64> = self.staged.range(first..=last).map(|(t, _)| *t).collect();
        for t in times {
            remove_dir(&self.staging.join(format!("batch-{t}")))?;
            self.staged.remove(&t);
        }
        let mark = self.staging.join(format!("rolled-{last}"));
        std::fs::write(&mark, b"").map_err(|e| FormatError::io(&mark, e))?;
        if self.sync {
            sync_dir(&self.staging)?;
        }
        // Keep one mark: the highest.
        match self.high_water {
            Some(h) if h < last => remove_file(&self.staging.join(format!("rolled-{h}")))?,
            Some(h) if h > last => remove_file(&mark)?,
            _ => {}
        }
        self.high_water = self.high_water.max(Some(last));
        remove_file(&self.staging.join(format!("roll-{first}-{last}")))?;
        if self.sync {
            sync_dir(&self.staging)?;
        }
        Ok(())
    }

    /// The number of batches staged and not rolled.
    pub fn staged(&self) -> usize {
        self.staged.len()
    }
}

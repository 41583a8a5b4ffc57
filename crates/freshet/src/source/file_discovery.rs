//! Which files of a directory a file stream takes in each batch, replayably.
//!
//! At every batch boundary the directory is listed (recursively, when asked, so that partition
//! and batch directories are seen); files not taken before, oldest modification time first then
//! by name, join the batch, at most `max_files_per_batch` of them. Names starting with `.` or
//! `_` are ignored, files and directories alike, so a writer creates `.name.tmp` and renames it
//! into place when complete: files must not change once visible.
//!
//! The offset, [`FilesTaken`], is the set of names taken *relative to the directory* (with `/`
//! between directories), so a replayed batch takes exactly the same files. It is bounded by age,
//! as Spark's `maxFileAge`: files modified more than `max_age` before the newest file taken are
//! forgotten, and such old files appearing later are ignored.

use crate::error::SourceError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Seven days, Spark's default `maxFileAge`.
pub const DEFAULT_MAX_FILE_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The files a file stream has taken, by name relative to its directory, with their
/// modification times (ms since the Unix epoch); files modified before the horizon are
/// forgotten and ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesTaken {
    names: BTreeMap<String, u64>,
    horizon: u64,
}

impl FilesTaken {
    /// The number of files remembered.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no file is remembered.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Moves the horizon to `age` before the newest file and forgets the files before it,
    /// except those in `keep` (taken by the batch being planned, which must still be read).
    fn forget_old(&mut self, age: u64, keep: &BTreeMap<String, u64>) {
        let newest = self.names.values().copied().max().unwrap_or(0);
        self.horizon = self.horizon.max(newest.saturating_sub(age));
        let horizon = self.horizon;
        self.names
            .retain(|name, modified| *modified >= horizon || keep.contains_key(name));
    }
}

/// Finds the new files of a directory, batch by batch. See the [module documentation](self).
#[derive(Debug)]
pub struct FileDiscovery {
    dir: PathBuf,
    recursive: bool,
    max_files_per_batch: Option<usize>,
    max_age: Duration,
    /// Files found and not yet taken, oldest first, with their modification times (ms).
    waiting: VecDeque<(String, u64)>,
    queued: HashSet<String>,
    /// In an available-now run, the files are those present at the start.
    frozen: bool,
}

impl FileDiscovery {
    /// The files directly in `dir`, no cap per batch, forgotten after 7 days.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileDiscovery {
            dir: dir.into(),
            recursive: false,
            max_files_per_batch: None,
            max_age: DEFAULT_MAX_FILE_AGE,
            waiting: VecDeque::new(),
            queued: HashSet::new(),
            frozen: false,
        }
    }

    /// Whether the files of the directories under `dir` are taken too (default `false`).
    pub fn recursive(mut self, yes: bool) -> Self {
        self.recursive = yes;
        self
    }

    /// At most `n` files per batch (`None`: no cap).
    pub fn max_files_per_batch(mut self, n: Option<usize>) -> Self {
        self.max_files_per_batch = n;
        self
    }

    /// How far behind the newest file taken a file may be to be taken and remembered
    /// (1 s ..= 365 days; checked by [`start`](Self::start)).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn age_ms(&self) -> u64 {
        crate::time::millis(self.max_age)
    }

    /// Checks the directory and the settings and lists the files there now: the offset to start
    /// from. Those files are taken already unless `include_existing` or `available_now` (then
    /// the first batches take them, and in an available-now run only they are ever taken).
    pub fn start(
        &mut self,
        include_existing: bool,
        available_now: bool,
    ) -> Result<FilesTaken, SourceError> {
        if !self.dir.exists() {
            return Err(SourceError::io(
                self.dir.display(),
                std::io::Error::new(ErrorKind::NotFound, "the directory does not exist"),
            ));
        }
        if !self.dir.is_dir() {
            return Err(SourceError::io(
                self.dir.display(),
                std::io::Error::new(ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        let age = self.age_ms();
        if !(1_000..=365 * 24 * 3600 * 1000).contains(&age) {
            return Err(SourceError::user(format!(
                "max_file_age must be between 1 s and 365 days, not {age} ms"
            )));
        }
        if self.max_files_per_batch == Some(0) {
            return Err(SourceError::user(
                "max_files_per_batch must be at least 1, not 0",
            ));
        }
        self.frozen = available_now;
        self.scan(&FilesTaken::default())?;
        if include_existing || available_now {
            return Ok(FilesTaken::default());
        }
        let mut taken = FilesTaken {
            names: self.waiting.drain(..).collect(),
            horizon: 0,
        };
        self.queued.clear();
        taken.forget_old(age, &BTreeMap::new());
        Ok(taken)
    }

    /// The offset after the next batch: `from` and the next files waiting (none, when no new
    /// file is there).
    pub fn latest(&mut self, from: &FilesTaken) -> Result<FilesTaken, SourceError> {
        self.waiting
            .retain(|(n, m)| !from.names.contains_key(n) && *m >= from.horizon);
        self.queued = self.waiting.iter().map(|(n, _)| n.clone()).collect();
        if !self.frozen {
            self.scan(from)?;
        }
        let take = self
            .max_files_per_batch
            .unwrap_or(usize::MAX)
            .min(self.waiting.len());
        if take == 0 {
            return Ok(from.clone());
        }
        let new: BTreeMap<String, u64> = self.waiting.iter().take(take).cloned().collect();
        let mut to = from.clone();
        to.names.extend(new.clone());
        to.forget_old(self.age_ms(), &new);
        Ok(to)
    }

    /// The paths of the files taken between `from` and `to`, by name.
    pub fn new_files<'a>(
        &'a self,
        from: &'a FilesTaken,
        to: &'a FilesTaken,
    ) -> impl Iterator<Item = PathBuf> + 'a {
        to.names
            .keys()
            .filter(|name| !from.names.contains_key(*name))
            .map(|name| self.dir.join(name))
    }

    /// In an available-now run, whether `at` took every file that was there at the start.
    pub fn ended(&self, at: &FilesTaken) -> bool {
        self.frozen && self.waiting.iter().all(|(n, _)| at.names.contains_key(n))
    }

    /// Adds the visible files that are neither taken, nor queued, nor too old to the waiting
    /// list, oldest first.
    fn scan(&mut self, taken: &FilesTaken) -> Result<(), SourceError> {
        let mut found = Vec::new();
        // A directory that cannot be listed now may be back at the next batch: retryable.
        list(&self.dir, "", self.recursive, &mut found).map_err(|e| {
            SourceError::external(format!("cannot list {}: {e}", self.dir.display())).with_cause(e)
        })?;
        let mut fresh: Vec<(u64, String)> = found
            .into_iter()
            .filter(|(name, modified)| {
                !taken.names.contains_key(name)
                    && !self.queued.contains(name)
                    && *modified >= taken.horizon
            })
            .map(|(name, modified)| (modified, name))
            .collect();
        fresh.sort();
        for (modified, name) in fresh {
            self.queued.insert(name.clone());
            self.waiting.push_back((name, modified));
        }
        Ok(())
    }
}

/// Lists the visible files of `dir` (and, `recursive`, of the visible directories under it) as
/// names relative to the top directory, with their modification times (ms).
fn list(
    dir: &Path,
    prefix: &str,
    recursive: bool,
    found: &mut Vec<(String, u64)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let rel = format!("{prefix}{name}");
        if meta.is_dir() && recursive {
            // A directory that vanishes between listing and reading is skipped.
            let _ = list(&entry.path(), &format!("{rel}/"), true, found);
        } else if meta.is_file() {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, crate::time::millis);
            found.push((rel, modified));
        }
    }
    Ok(())
}

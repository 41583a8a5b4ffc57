//! Lines of the text files that appear in a directory.
//!
//! At every batch boundary the directory is listed; files not seen before (oldest modification
//! time first, then by name) are assigned to the batch, at most
//! [`FileStreamOptions::max_files_per_batch`] of them, and each worker reads its share. Files
//! whose name starts with `.` or `_` are ignored, so a writer can create `.name.tmp` and rename
//! it into place when complete: files must not change once they are in the directory.
//!
//! By default only files that appear after the context starts are read (as Spark does);
//! [`FileStreamOptions::include_existing`] also reads the files already there. A file that
//! vanishes or cannot be read before a worker reads it is skipped, counted and logged (or fails
//! the job, by [`BadRecordPolicy`]).

use super::receiver::BadRecordPolicy;
use super::{Availability, Recorded, SourcePlanner};
use crate::context::StreamingContext;
use crate::dataset::read_lines;
use crate::dstream::DStream;
use crate::error::{Error, Result};
use crate::plan::{next_id, Builder, Lineage, Plan, SourceId, Split};
use crate::runtime::Shared;
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Options of a file stream.
#[derive(Clone, Debug, Default)]
pub struct FileStreamOptions {
    /// Also read the files already in the directory when the context starts.
    pub include_existing: bool,
    /// At most this many files per batch (the rest wait for later batches).
    pub max_files_per_batch: Option<usize>,
    /// What to do with a file that cannot be read or a line that is not UTF-8.
    pub bad_records: BadRecordPolicy,
}

impl FileStreamOptions {
    /// New files only, no cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also reads the files already there.
    pub fn include_existing(mut self, yes: bool) -> Self {
        self.include_existing = yes;
        self
    }

    /// At most `n` files per batch.
    pub fn max_files_per_batch(mut self, n: usize) -> Self {
        self.max_files_per_batch = Some(n.max(1));
        self
    }

    /// The policy for unreadable files and malformed lines.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }
}

struct FileStreamSource {
    id: SourceId,
    dir: PathBuf,
    options: FileStreamOptions,
    seen: HashSet<PathBuf>,
    waiting: VecDeque<PathBuf>,
    /// In an available-now run, the files are those present at the start.
    frozen: bool,
    shared: Option<Arc<Shared>>,
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.') || n.starts_with('_'))
}

impl FileStreamSource {
    fn name(&self) -> String {
        format!("text_file_stream {}", self.dir.display())
    }

    /// Adds the directory's unseen files to the waiting list.
    fn scan(&mut self) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if is_hidden(&path) || self.seen.contains(&path) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            found.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), path));
        }
        found.sort();
        for (_, path) in found {
            self.seen.insert(path.clone());
            self.waiting.push_back(path);
        }
        Ok(())
    }
}

impl SourcePlanner for FileStreamSource {
    fn id(&self) -> SourceId {
        self.id
    }

    fn name(&self) -> &str {
        "text_file_stream"
    }

    fn start(&mut self, available_now: bool, shared: &Arc<Shared>) -> Result<()> {
        if !self.dir.is_dir() {
            return Err(Error::io(
                &self.dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            ));
        }
        self.shared = Some(Arc::clone(shared));
        self.scan()?;
        if !self.options.include_existing {
            self.waiting.clear();
        }
        self.frozen = available_now;
        Ok(())
    }

    fn plan(&mut self, _time: u64, workers: usize) -> Result<Vec<Option<Split>>> {
        if !self.frozen {
            if let Err(e) = self.scan() {
                // A directory that cannot be listed now may be back at the next batch.
                if let Some(shared) = &self.shared {
                    shared.skip(&self.name(), &format!("cannot list the directory: {e}"));
                }
            }
        }
        let take = self
            .options
            .max_files_per_batch
            .unwrap_or(usize::MAX)
            .min(self.waiting.len());
        let workers = workers.max(1);
        let mut per_worker: Vec<Vec<PathBuf>> = vec![Vec::new(); workers];
        for (i, path) in self.waiting.drain(..take).enumerate() {
            per_worker[i % workers].push(path);
        }
        Ok(per_worker
            .into_iter()
            .map(|files| (!files.is_empty()).then(|| Box::new(files) as Split))
            .collect())
    }

    fn plan_recorded(&mut self, time: u64, workers: usize) -> Result<Recorded> {
        let splits = self.plan(time, workers)?;
        let mut files: Vec<&PathBuf> = Vec::new();
        for split in splits.iter().flatten() {
            if let Some(list) = split.downcast_ref::<Vec<PathBuf>>() {
                files.extend(list.iter());
            }
        }
        let record = bincode::serialize(&files).map_err(|e| Error::Durable(e.to_string()))?;
        Ok((splits, Some(record)))
    }

    fn replay(&mut self, record: &[u8], workers: usize) -> Result<Vec<Option<Split>>> {
        let files: Vec<PathBuf> = bincode::deserialize(record).map_err(|e| {
            Error::Durable(format!("{}: undecodable batch record: {e}", self.name()))
        })?;
        let workers = workers.max(1);
        let mut per_worker: Vec<Vec<PathBuf>> = vec![Vec::new(); workers];
        for (i, path) in files.into_iter().enumerate() {
            self.waiting.retain(|w| *w != path);
            self.seen.insert(path.clone());
            per_worker[i % workers].push(path);
        }
        Ok(per_worker
            .into_iter()
            .map(|files| (!files.is_empty()).then(|| Box::new(files) as Split))
            .collect())
    }

    fn position(&self) -> Option<Vec<u8>> {
        // The files assigned to batches: seen but not waiting.
        let mut assigned: Vec<&PathBuf> = self
            .seen
            .iter()
            .filter(|p| !self.waiting.contains(p))
            .collect();
        assigned.sort();
        bincode::serialize(&assigned).ok()
    }

    fn restore(&mut self, position: &[u8]) -> Result<()> {
        let assigned: Vec<PathBuf> = bincode::deserialize(position)
            .map_err(|e| Error::Durable(format!("{}: undecodable position: {e}", self.name())))?;
        self.seen = assigned.into_iter().collect();
        self.waiting.clear();
        if !self.frozen {
            return Ok(());
        }
        // An available-now run takes what is there now and was not assigned before.
        self.scan()
    }

    fn availability(&mut self) -> Availability {
        if self.waiting.is_empty() {
            Availability::Exhausted
        } else {
            Availability::Ready
        }
    }
}

impl StreamingContext {
    /// Lines of the new text files in `dir` (see the [module documentation](self)): one record
    /// per line. Fails at `start()` if `dir` is not a directory.
    pub fn text_file_stream(&self, dir: impl Into<PathBuf>) -> DStream<String> {
        self.text_file_stream_with(dir, FileStreamOptions::default())
    }

    /// [`text_file_stream`](Self::text_file_stream) with options.
    pub fn text_file_stream_with(
        &self,
        dir: impl Into<PathBuf>,
        options: FileStreamOptions,
    ) -> DStream<String> {
        let id = next_id();
        let dir = dir.into();
        let source_name = format!("text_file_stream {}", dir.display());
        let policy = options.bad_records;
        self.inner.add_source(Box::new(FileStreamSource {
            id,
            dir,
            options,
            seen: HashSet::new(),
            waiting: VecDeque::new(),
            frozen: false,
            shared: None,
        }));
        let lineage = Lineage {
            streaming: true,
            partitions: 1,
        };
        let plan = Plan::new("text_file_stream", lineage, move |b: &mut Builder<'_>| {
            let source_name = source_name.clone();
            b.source_input::<String>(
                id,
                Arc::new(move |split, buf, env| {
                    let Ok(files) = split.downcast::<Vec<PathBuf>>() else {
                        return;
                    };
                    for file in files.iter() {
                        let mut report = |what: &str| {
                            let what = format!("{}: {what}", file.display());
                            match policy {
                                BadRecordPolicy::Skip => env.shared.skip(&source_name, &what),
                                BadRecordPolicy::Fail => env.shared.fail(Error::Source {
                                    source_name: source_name.clone(),
                                    message: what,
                                }),
                            }
                        };
                        if let Err(e) = read_lines(file, buf, &mut report) {
                            report(&format!("cannot read: {e}"));
                        }
                    }
                }),
            )
        });
        DStream {
            plan,
            ctx: Arc::clone(&self.inner),
        }
    }
}
